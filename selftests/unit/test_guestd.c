// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the guest daemon's parts that need no host: its checks of
 * a client's memfd (guestd_check.c), and the client library (guestd.h)
 * against a fake daemon on a UNIX socket: requests and answers, the memfd
 * passed along, events queued while a request waits, refusals.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guestd_check.h"
#include "guestd_wire.h"
#include "vsock-shm/guestd.h"

static char why[256];
static struct guestd_range rg;

static int sealable_memfd(size_t size)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

Test(guestd_check, good_range_is_sealed_against_shrinking)
{
	int fd = sealable_memfd(4 << 12);

	cr_assert_eq(guestd_check_memfd(fd, 4096, 8192, VSHM_ACCESS_READ |
					VSHM_ACCESS_WRITE, &rg, why,
					sizeof(why)), 0, "%s", why);
	cr_assert_eq(rg.offset, 4096);
	cr_assert_eq(rg.size, 8192);
	cr_assert_eq(rg.page_size, 4096);
	cr_assert(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
	cr_assert_neq(ftruncate(fd, 4096), 0, "the memfd could still shrink");
	/* Growing stays allowed; a second share of it passes again. */
	cr_assert_eq(ftruncate(fd, 8 << 12), 0);
	cr_assert_eq(guestd_check_memfd(fd, 0, 8 << 12, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), 0, "%s", why);
	close(fd);
}

Test(guestd_check, range_rules)
{
	int fd = sealable_memfd(4 << 12);

	cr_assert_eq(guestd_check_memfd(fd, 0, 0, VSHM_ACCESS_READ, &rg, why,
					sizeof(why)), -EINVAL);
	cr_assert_eq(guestd_check_memfd(fd, 100, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), -EINVAL);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4095, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "multiples"), "%s", why);
	cr_assert_eq(guestd_check_memfd(fd, 4096, 4 << 12, VSHM_ACCESS_READ,
					&rg, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "past the memfd"), "%s", why);
	/* An offset near 2^64 must not wrap into the file. */
	cr_assert_eq(guestd_check_memfd(fd, UINT64_MAX - 4095, 8192,
					VSHM_ACCESS_READ, &rg, why,
					sizeof(why)), -EINVAL);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4096, 0, &rg, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4096, 4, &rg, why, sizeof(why)),
		     -EINVAL);
	close(fd);
}

Test(guestd_check, not_a_memfd_or_read_only)
{
	char path[64], proc[64];
	int fd, ro;

	snprintf(path, sizeof(path), "/tmp/guestd-test.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	/* /tmp may be a tmpfs, whose files answer F_GET_SEALS: F_SEAL_SEAL. */
	cr_assert_lt(guestd_check_memfd(fd, 0, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), 0);
	close(fd);

	fd = sealable_memfd(4096);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY);
	cr_assert_geq(ro, 0);
	cr_assert_eq(guestd_check_memfd(ro, 0, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), -EACCES);
	cr_assert(strstr(why, "reading and writing"), "%s", why);
	close(ro);
	close(fd);
}

Test(guestd_check, unsealable_memfd_refused_with_the_way_out)
{
	int fd = memfd_create("t", MFD_CLOEXEC);	/* F_SEAL_SEAL set */

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "MFD_ALLOW_SEALING"), "%s", why);
	close(fd);
	/* Sealed against shrinking already: fine, even with F_SEAL_SEAL. */
	fd = sealable_memfd(4096);
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), 0, "%s", why);
	close(fd);
}

Test(guestd_check, hugetlb_memfd_counts_2m_pages)
{
	int fd = memfd_create("h", MFD_CLOEXEC | MFD_HUGETLB |
			      MFD_ALLOW_SEALING);

	if (fd < 0)
		cr_assert_fail("memfd_create(MFD_HUGETLB): %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, 4 << 20), 0);
	cr_assert_eq(guestd_check_memfd(fd, 0, 4096, VSHM_ACCESS_READ, &rg,
					why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "2097152"), "%s", why);
	cr_assert_eq(guestd_check_memfd(fd, 2 << 20, 2 << 20, VSHM_ACCESS_READ,
					&rg, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(rg.page_size, 2 << 20);
	close(fd);
}

/* The fake daemon: answers by a script, from a thread. */
static char sock_path[108];
static int lfd;
static pthread_t daemon_thread;

static int fake_recv(int fd, struct guestd_msg *m, int *passed)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &mh, 0);

	*passed = -1;
	c = CMSG_FIRSTHDR(&mh);
	if (n > 0 && c && c->cmsg_type == SCM_RIGHTS)
		memcpy(passed, CMSG_DATA(c), sizeof(int));
	return (int)n;
}

static void fake_send(int fd, struct guestd_msg *m, uint16_t op)
{
	m->magic = GUESTD_MAGIC;
	m->version = GUESTD_VERSION;
	m->op = op;
	cr_assert_eq(send(fd, m, sizeof(*m), 0), (ssize_t)sizeof(*m));
}

static ino_t shared_ino;

static void *script_ok(void *arg)
{
	struct guestd_msg m, ev;
	int fd = accept(lfd, NULL, NULL), passed;
	struct stat st;

	(void)arg;
	/* CONNECT */
	if (fake_recv(fd, &m, &passed) != sizeof(m) || m.op != GUESTD_CONNECT ||
	    m.cid != 2 || m.port != 1234 || m.wait_ms != 50)
		goto out;
	m.features = VSHM_FEAT_REVOKED | VSHM_FEAT_NOTIFY;
	fake_send(fd, &m, GUESTD_REPLY);
	/* SHARE: an event first, then the answer. */
	if (fake_recv(fd, &m, &passed) != sizeof(m) || m.op != GUESTD_SHARE ||
	    passed < 0 || fstat(passed, &st))
		goto out;
	shared_ino = st.st_ino;
	close(passed);
	memset(&ev, 0, sizeof(ev));
	ev.event = VSHM_GUESTD_EV_NOTIFY;
	ev.region = 7;
	ev.bits = 3;
	fake_send(fd, &ev, GUESTD_EVENT);
	m.region = 7;
	m.grant = 99;
	fake_send(fd, &m, GUESTD_REPLY);
	/* FREE of another region: refused with the daemon's words. */
	if (fake_recv(fd, &m, &passed) != sizeof(m) || m.op != GUESTD_FREE)
		goto out;
	m.err = -ENOENT;
	m.code = VSHM_E_NOREGION;
	m.detail = VSHM_NO_INDEX;
	snprintf(m.text, sizeof(m.text), "region %u is not yours", m.region);
	fake_send(fd, &m, GUESTD_REPLY);
	/* A revocation, unasked. */
	memset(&ev, 0, sizeof(ev));
	ev.event = VSHM_GUESTD_EV_REVOKED;
	ev.region = 7;
	ev.reason = VSHM_REVOKE_MEMMAP;
	fake_send(fd, &ev, GUESTD_EVENT);
out:
	/* Wait for the client to go away. */
	fake_recv(fd, &m, &passed);
	close(fd);
	return NULL;
}

static void *script_denied(void *arg)
{
	struct guestd_msg m;
	int fd = accept(lfd, NULL, NULL), passed;

	(void)arg;
	if (fake_recv(fd, &m, &passed) == sizeof(m)) {
		m.err = -EACCES;
		fake_send(fd, &m, GUESTD_REPLY);
	}
	close(fd);
	return NULL;
}

static void start_daemon(void *(*script)(void *))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sock_path, sizeof(sock_path), "/tmp/guestd-unit.%d",
		 (int)getpid());
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_geq(lfd, 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(pthread_create(&daemon_thread, NULL, script, NULL), 0);
}

static void stop_daemon(void)
{
	pthread_join(daemon_thread, NULL);
	close(lfd);
	unlink(sock_path);
}

Test(guestd_client, requests_answers_and_events)
{
	struct vshm_guestd_event ev;
	struct vshm_guestd *d;
	uint32_t region = 0, code = 0, detail = 0;
	uint64_t grant = 0;
	struct stat st;
	int fd;

	start_daemon(script_ok);
	d = vshm_guestd_connect(sock_path, 2, 1234, 50);
	cr_assert_not_null(d, "connect: %s", strerror(errno));
	cr_assert_eq(vshm_guestd_features(d),
		     VSHM_FEAT_REVOKED | VSHM_FEAT_NOTIFY);
	cr_assert_geq(vshm_guestd_fd(d), 0);
	/* Nothing yet, and no waiting for it. */
	cr_assert_eq(vshm_guestd_next_event(d, &ev), 0);

	fd = sealable_memfd(8192);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(vshm_guestd_share(d, fd, 0, 8192, VSHM_ACCESS_READ, 0,
				       &region, &grant), 0, "%s",
		     vshm_guestd_last_failure(d));
	cr_assert_eq(region, 7);
	cr_assert_eq(grant, 99);
	cr_assert_eq(shared_ino, st.st_ino, "the daemon got another file");
	/* The doorbell that came before the answer waits in the queue. */
	cr_assert_eq(vshm_guestd_next_event(d, &ev), 1);
	cr_assert_eq(ev.type, VSHM_GUESTD_EV_NOTIFY);
	cr_assert_eq(ev.region, 7);
	cr_assert_eq(ev.bits, 3);

	cr_assert_eq(vshm_guestd_free(d, 8), -ENOENT);
	cr_assert_str_eq(vshm_guestd_last_failure(d), "region 8 is not yours");
	cr_assert_eq(vshm_guestd_last_error(d, &code, &detail), 0);
	cr_assert_eq(code, VSHM_E_NOREGION);

	/* The revocation comes unasked: poll, then take it. */
	while (vshm_guestd_next_event(d, &ev) == 0)
		usleep(1000);
	cr_assert_eq(ev.type, VSHM_GUESTD_EV_REVOKED);
	cr_assert_eq(ev.reason, VSHM_REVOKE_MEMMAP);
	cr_assert_eq(vshm_guestd_close(d), 0);
	close(fd);
	stop_daemon();
}

Test(guestd_client, refusal_and_no_daemon)
{
	struct vshm_guestd *d;

	start_daemon(script_denied);
	d = vshm_guestd_connect(sock_path, 2, 1234, 0);
	cr_assert_null(d);
	cr_assert_eq(errno, EACCES);
	stop_daemon();
	/* Nobody listens there any more. */
	d = vshm_guestd_connect(sock_path, 2, 1234, 0);
	cr_assert_null(d);
	cr_assert(errno == ENOENT || errno == ECONNREFUSED, "errno %d", errno);
	cr_assert_null(vshm_guestd_connect("/tmp/x", 2, 1, -1));
	cr_assert_eq(errno, EINVAL);
}
