// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of vhost_vsock_shm as a drop-in vhost_vsock: it loads, registers
 * /dev/vhost-vsock with BTF and its debugfs counters, serves the vhost-vsock
 * ioctls QEMU uses, refuses to coexist with the stock vhost_vsock (both ways)
 * and unloads cleanly. Runs as root in L1; the tests run in order and share
 * the kernel's module state. VSOCK_SHM_KO names the module file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vhost.h>
#include <linux/virtio_vsock.h>

#include "uapi/vsock_shm.h"
#include "kselftest_harness.h"

#define FORK_NAME	"vhost_vsock_shm"
#define VHOST_VSOCK_MINOR_NR	241

static int load_fork(void)
{
	const char *ko = getenv("VSOCK_SHM_KO");
	int fd, ret;

	if (!ko) {
		fprintf(stderr, "# VSOCK_SHM_KO is not set\n");
		errno = ENOENT;
		return -1;
	}
	/* The fork's dependencies are those of vhost_vsock. */
	if (system("modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common"))
		return -1;
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static int load_mapper(void)
{
	const char *ko = getenv("VSOCK_SHM_MAPPER_KO");
	int fd, ret;

	if (!ko) {
		fprintf(stderr, "# VSOCK_SHM_MAPPER_KO is not set\n");
		errno = ENOENT;
		return -1;
	}
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static int unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

static int module_loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

static long debugfs_stat(const char *key)
{
	FILE *f = fopen("/sys/kernel/debug/vhost_vsock_shm/stats", "r");
	char name[64];
	unsigned long long v;
	long ret = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu", name, &v) == 2)
		if (!strcmp(name, key))
			ret = (long)v;
	fclose(f);
	return ret;
}

static int dmesg_has(const char *needle)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "dmesg | grep -qF '%s'", needle);
	return system(cmd) == 0;
}

TEST(clean_start)
{
	if (module_loaded(FORK_NAME))
		ASSERT_EQ(0, unload(FORK_NAME));
	if (module_loaded("vhost_vsock"))
		ASSERT_EQ(0, unload("vhost_vsock"));
	ASSERT_NE(0, access("/dev/vhost-vsock", F_OK));
}

TEST(fork_loads)
{
	ASSERT_EQ(0, load_fork()) TH_LOG("finit_module: %s", strerror(errno));
	ASSERT_TRUE(module_loaded(FORK_NAME));
}

TEST(device_node_is_vhost_vsock)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/vhost-vsock", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(10U, major(st.st_rdev));
	ASSERT_EQ((unsigned int)VHOST_VSOCK_MINOR_NR, minor(st.st_rdev));
}

TEST(module_has_btf)
{
	ASSERT_EQ(0, access("/sys/kernel/btf/" FORK_NAME, R_OK));
}

TEST(debugfs_counters)
{
	ASSERT_LE(0, debugfs_stat("pkts_seen"));
	ASSERT_LE(0, debugfs_stat("devs_opened"));
}

TEST(vhost_ioctls)
{
	long opened = debugfs_stat("devs_opened");
	__u64 features = 0, cid = 3;
	int fd, fd2;

	fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(opened + 1, debugfs_stat("devs_opened"));
	ASSERT_EQ(0, ioctl(fd, VHOST_SET_OWNER));
	/* A second owner is refused by the vhost core. */
	ASSERT_EQ(-1, ioctl(fd, VHOST_SET_OWNER));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(fd, VHOST_GET_FEATURES, &features));
	ASSERT_NE(0ULL, features & (1ULL << VIRTIO_VSOCK_F_SEQPACKET));
	ASSERT_EQ(0, ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &cid));

	/* CIDs are unique among devices; reserved CIDs are refused. */
	fd2 = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(-1, ioctl(fd2, VHOST_VSOCK_SET_GUEST_CID, &cid));
	ASSERT_EQ(EADDRINUSE, errno);
	cid = 2;
	ASSERT_EQ(-1, ioctl(fd2, VHOST_VSOCK_SET_GUEST_CID, &cid));
	ASSERT_EQ(EINVAL, errno);
	close(fd2);
	close(fd);
	ASSERT_EQ(opened + 2, debugfs_stat("devs_released"));
}

TEST(mapper_loads_with_its_device)
{
	struct stat st;

	ASSERT_EQ(0, load_mapper()) TH_LOG("finit_module: %s", strerror(errno));
	ASSERT_EQ(0, stat("/dev/vsock-shm-mapper", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0600U, st.st_mode & 0777);
}

TEST(fork_pinned_by_mapper)
{
	ASSERT_EQ(-1, unload(FORK_NAME));
	ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
}

TEST(mapper_unknown_ioctl_and_bad_args)
{
	struct vshm_map_req req = { .sock_fd = -1, .grant = 1 };
	int fd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, ioctl(fd, _IO(VSHM_MAPPER_IOC_MAGIC, 99)));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, VSHM_IOC_MAP_GRANT, &req));
	ASSERT_EQ(EBADF, errno);
	req.sock_fd = 0;
	req.grant = 0;
	ASSERT_EQ(-1, ioctl(fd, VSHM_IOC_MAP_GRANT, &req));
	ASSERT_EQ(EINVAL, errno);
	req.grant = 1;
	req.flags = 1;
	ASSERT_EQ(-1, ioctl(fd, VSHM_IOC_MAP_GRANT, &req));
	ASSERT_EQ(EINVAL, errno);
	req.flags = 0;
	/* fd 0 is not a socket. */
	ASSERT_EQ(-1, ioctl(fd, VSHM_IOC_MAP_GRANT, &req));
	ASSERT_EQ(ENOTSOCK, errno);
	ASSERT_EQ(-1, ioctl(fd, VSHM_IOC_MAP_GRANT, NULL));
	ASSERT_EQ(EFAULT, errno);
	close(fd);
}

/*
 * The revocation events of a file with no grant: a read must have room
 * for a whole event (EINVAL), finds none (EAGAIN without blocking), and
 * poll reports nothing until its timeout.
 */
TEST(mapper_read_short_count_einval)
{
	struct vshm_revoke_event ev[2];
	int fd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	ASSERT_LE(0, fd);
	ASSERT_EQ(16U, sizeof(ev[0]));
	EXPECT_EQ(-1, read(fd, ev, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(fd, ev, sizeof(ev[0]) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* Room for one and a half: whole events only, none here. */
	EXPECT_EQ(-1, read(fd, ev, sizeof(ev[0]) + 8));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST(mapper_read_empty_nonblock_eagain)
{
	struct vshm_revoke_event ev;
	int fd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	int flags;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	/* O_NONBLOCK set later, with fcntl, is seen too. */
	close(fd);
	fd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	flags = fcntl(fd, F_GETFL);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, flags | O_NONBLOCK));
	EXPECT_EQ(-1, read(fd, &ev, sizeof(ev)));
	EXPECT_EQ(EAGAIN, errno);
	/* Events are a stream: no offset to read at. */
	EXPECT_EQ(-1, pread(fd, &ev, sizeof(ev), 0));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(mapper_poll_nothing_pending_times_out)
{
	int fd = open("/dev/vsock-shm-mapper", O_RDONLY | O_CLOEXEC);
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDNORM };
	struct timespec t0, t1;
	long ms;

	ASSERT_LE(0, fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, poll(&pfd, 1, 200));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_LE(150, ms);
	EXPECT_EQ(0, pfd.revents);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A blocking read with nothing to read waits, and a signal ends it. */
TEST(mapper_read_blocks_until_signal)
{
	struct sigaction act = { .sa_handler = on_alarm }, old;
	struct itimerval it = { .it_value = { .tv_usec = 300000 } };
	struct vshm_revoke_event ev;
	struct timespec t0, t1;
	ssize_t r;
	int fd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC);
	int err;
	long ms;

	ASSERT_LE(0, fd);
	/* No SA_RESTART: the read returns EINTR. */
	ASSERT_EQ(0, sigaction(SIGALRM, &act, &old));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	r = read(fd, &ev, sizeof(ev));
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sigaction(SIGALRM, &old, NULL);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EINTR, err);
	EXPECT_LE(250, ms);
	close(fd);
}

TEST(mapper_unloads)
{
	ASSERT_EQ(0, unload("vsock_shm_mapper"));
	ASSERT_NE(0, access("/dev/vsock-shm-mapper", F_OK));
}

TEST(stock_refused_while_fork_loaded)
{
	ASSERT_NE(0, system("modprobe vhost_vsock 2>/dev/null"));
	ASSERT_FALSE(module_loaded("vhost_vsock"));
}

TEST(unload_refused_while_device_open)
{
	int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, unload(FORK_NAME));
	ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	close(fd);
}

TEST(unload_is_clean)
{
	ASSERT_EQ(0, unload(FORK_NAME)) TH_LOG("delete_module: %s",
					       strerror(errno));
	ASSERT_FALSE(module_loaded(FORK_NAME));
	ASSERT_NE(0, access("/dev/vhost-vsock", F_OK));
	ASSERT_NE(0, access("/sys/kernel/debug/vhost_vsock_shm", F_OK));
}

TEST(fork_refused_while_stock_loaded)
{
	ASSERT_EQ(0, system("modprobe vhost_vsock"));
	ASSERT_EQ(-1, load_fork());
	ASSERT_EQ(EBUSY, errno);
	ASSERT_TRUE(dmesg_has("vhost_vsock_shm: the host vsock transport is taken"));
	/* The refused load left nothing behind. */
	ASSERT_NE(0, access("/sys/kernel/debug/vhost_vsock_shm", F_OK));
	ASSERT_EQ(0, unload("vhost_vsock"));
}

TEST(reload_after_stock)
{
	ASSERT_EQ(0, load_fork());
	ASSERT_EQ(0, access("/dev/vhost-vsock", F_OK));
	ASSERT_EQ(0, unload(FORK_NAME));
}

TEST_HARNESS_MAIN
