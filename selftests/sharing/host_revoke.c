// SPDX-License-Identifier: GPL-2.0
/*
 * host_revoke: a minimal host server that checks revocation from the
 * server's side. It serves one guest connection on PORT: answers ALLOC,
 * CHUNK and the last GPA list, maps the grant through the mapper, checks
 * that a raw offset and another process's socket are refused, replies
 * MAPPED, and when the guest's FREE arrives (the module has revoked the
 * grant by then) touches the mapping again: it must get SIGBUS, never the
 * old data. TAP on stdout.
 *
 * While the grant is live and mapped (before MAPPED is sent, so the guest
 * is still waiting and cannot free it), a hostile host process is played
 * too: a forked child that gives up everything it inherited (the
 * connection, the listening socket, the authorized mapper file) opens the
 * mapper on its own and tries every ioctl and mmap with guessed and forged
 * arguments. Each refusal is a test with the exact errno the mapper (or,
 * where the mapper is never reached, the mm core) returns. The server then
 * forges overflowing offsets and lengths on its own authorized file, and
 * checks that its mapping and its authorization are untouched.
 *
 * The guest is vshm-guest share with its default pattern seed: the server
 * checks the guest's pattern and, like vshm-server, marks each page before
 * MAPPED, so that the guest's own check after MAPPED passes.
 *
 *   host_revoke PORT
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "pattern.h"
#include "proto.h"

#define MAPPER		"/dev/vsock-shm-mapper"
#define GRANTS		"/sys/kernel/debug/vhost_vsock_shm/grants"
#define PG		4096UL
/* The mapper's layout (grant.h): grant id << 31 is the grant's offset. */
#define MAP_SHIFT	31
#define GRANT_ID_MAX	0x7fffffffULL

static int test_nr, failed;
static sigjmp_buf jb;
/* In the intruder: where its verdicts go (the server numbers them). */
static int verdict_fd = -1;

/* One verdict as the intruder sends it to the server. */
struct verdict {
	int ok;
	char name[64];
	char why[96];
};

static void tap(int ok, const char *name, const char *why)
{
	if (verdict_fd >= 0) {
		struct verdict v = { .ok = ok };

		snprintf(v.name, sizeof(v.name), "%s", name);
		snprintf(v.why, sizeof(v.why), "%s", why ? why : "");
		if (write(verdict_fd, &v, sizeof(v)) != sizeof(v))
			_exit(3);
		return;
	}
	printf("%sok %d %s%s%s\n", ok ? "" : "not ", ++test_nr, name,
	       why ? " # " : "", why ? why : "");
	fflush(stdout);
	if (!ok)
		failed++;
}

/* ret must be -1 with errno @want: one test, saying what came instead. */
static void expect_err(long ret, int want, const char *name)
{
	int err = errno;
	char why[96];

	if (ret != -1)
		snprintf(why, sizeof(why), "succeeded (%ld), want %s", ret,
			 strerrorname_np(want));
	else
		snprintf(why, sizeof(why), "%s, want %s", strerrorname_np(err),
			 strerrorname_np(want));
	tap(ret == -1 && err == want, name, ret == -1 && err == want ? NULL : why);
}

static void on_sigbus(int sig)
{
	siglongjmp(jb, sig);
}

/* Reads the first byte of p; returns it, or -1 if that raised SIGBUS. */
static int probe(volatile const unsigned char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int v;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(jb, 1))
		v = -1;
	else
		v = *p;
	sigaction(SIGBUS, &old, NULL);
	return v;
}

static int reply(int c, unsigned char *buf, ssize_t n)
{
	return n > 0 && send(c, buf, (size_t)n, 0) == n ? 0 : -1;
}

/*
 * mmap(2) straight to the kernel, so that glibc's own offset checks never
 * answer for it: returns the address, or -1 with errno set. A mapping that
 * should not have been made is undone at once.
 */
static long raw_mmap(int fd, uint64_t off, uint64_t len, int flags)
{
	long r = syscall(SYS_mmap, NULL, len, PROT_READ, flags, fd, off);

	if (r != -1) {
		int err = errno;

		munmap((void *)r, len);
		errno = err;
	}
	return r;
}

static void expect_mmap_err(int fd, uint64_t off, uint64_t len, int want,
			    const char *name)
{
	expect_err(raw_mmap(fd, off, len, MAP_SHARED), want, name);
}

static long map_grant(int mfd, int sock_fd, uint64_t grant, uint32_t flags,
		      uint32_t pad)
{
	struct vshm_map_req req = {
		.sock_fd = sock_fd, .grant = grant, .flags = flags, .pad = pad,
	};

	return ioctl(mfd, VSHM_IOC_MAP_GRANT, &req);
}

static long unmap_grant(int mfd, uint64_t grant)
{
	struct vshm_unmap_req req = { .grant = grant };

	return ioctl(mfd, VSHM_IOC_UNMAP_GRANT, &req);
}

/*
 * The module's line for grant @id in debugfs: "id cid gport hport region
 * pages state pid". Returns 1 and fills state/pid, or 0 if @id is not live.
 */
static int grant_line(uint64_t id, char *state, size_t cap, long *pid)
{
	unsigned long gid;
	char line[256], st[16];
	long gpid;
	int found = 0;
	FILE *f = fopen(GRANTS, "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lu %*u %*u %*u %*u %*u %15s %ld", &gid, st,
			   &gpid) == 3 && gid == id) {
			snprintf(state, cap, "%s", st);
			*pid = gpid;
			found = 1;
		}
	fclose(f);
	return found;
}

/*
 * What MAP_GRANT answers a process that does not hold the connection for
 * id @id: EINVAL for an id the mapper cannot hold, ENOENT for an id that is
 * not live (the lookup comes before the socket check), EACCES otherwise.
 */
static int guessed_id_errno(uint64_t id)
{
	char st[16];
	long pid;

	if (!id || id > GRANT_ID_MAX)
		return EINVAL;
	return grant_line(id, st, sizeof(st), &pid) ? EACCES : ENOENT;
}

/* A bound, listening AF_VSOCK socket on a port of the kernel's choice. */
static int vsock_listener(void)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = VMADDR_PORT_ANY,
	};
	int s = socket(AF_VSOCK, SOCK_SEQPACKET, 0);

	if (s >= 0 && (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1))) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * The intruder's MAP_GRANT attempts. A grant of another VM is refused by
 * the same check as every case here: vsock_shm_grant_get_for_sock()
 * compares the socket's remote CID and port and local port with the
 * grant's, so a socket of another VM's connection (different CID) is
 * "another socket" exactly as the unconnected and listening ones below are
 * (and as map_refused_for_other_socket in the server); a second guest would
 * add nothing the check does not already see.
 */
static void intruder_map_grant(int mfd, uint64_t grant)
{
	static const uint64_t guesses[] = {
		0, 1, GRANT_ID_MAX, 0xffffffffULL, 1ULL << 32,
	};
	int vs = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
	int ls = vsock_listener();
	int us = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	char name[64];
	size_t i;

	if (vs < 0 || ls < 0 || us < 0) {
		tap(0, "intruder_sockets", strerror(errno));
		return;
	}
	expect_err(map_grant(mfd, vs, grant, 0, 0), EACCES,
		   "intruder_map_with_unconnected_vsock");
	expect_err(map_grant(mfd, ls, grant, 0, 0), EACCES,
		   "intruder_map_with_listening_vsock");
	expect_err(map_grant(mfd, us, grant, 0, 0), ENOTSOCK,
		   "intruder_map_with_unix_socket");
	expect_err(map_grant(mfd, mfd, grant, 0, 0), ENOTSOCK,
		   "intruder_map_with_non_socket_fd");
	expect_err(map_grant(mfd, -1, grant, 0, 0), EBADF,
		   "intruder_map_with_fd_minus_1");
	expect_err(map_grant(mfd, vs, grant, 1, 0), EINVAL,
		   "intruder_map_with_flags");
	expect_err(map_grant(mfd, vs, grant, 0, 1), EINVAL,
		   "intruder_map_with_pad");
	expect_err(ioctl(mfd, VSHM_IOC_MAP_GRANT, (void *)16), EFAULT,
		   "intruder_map_with_bad_pointer");
	expect_err(ioctl(mfd, _IO(VSHM_MAPPER_IOC_MAGIC, 9), 0), ENOTTY,
		   "intruder_unknown_ioctl");

	/* Guessed ids; the real grant with high bits set must not alias it. */
	expect_err(map_grant(mfd, vs, grant + 1, 0, 0),
		   guessed_id_errno(grant + 1), "intruder_map_guess_grant_plus_1");
	if (grant > 1)
		expect_err(map_grant(mfd, vs, grant - 1, 0, 0),
			   guessed_id_errno(grant - 1),
			   "intruder_map_guess_grant_minus_1");
	expect_err(map_grant(mfd, vs, grant | 1ULL << 32, 0, 0), EINVAL,
		   "intruder_map_grant_aliased_past_32_bits");
	for (i = 0; i < sizeof(guesses) / sizeof(guesses[0]); i++) {
		if (guesses[i] == grant)
			continue;
		snprintf(name, sizeof(name), "intruder_map_guess_%#llx",
			 (unsigned long long)guesses[i]);
		expect_err(map_grant(mfd, vs, guesses[i], 0, 0),
			   guessed_id_errno(guesses[i]), name);
	}
	close(us);
	close(ls);
	close(vs);
}

/* mmap and UNMAP_GRANT on the intruder's own, never authorized, file. */
static void intruder_mmap_unmap(int mfd, uint64_t grant, uint64_t hpa)
{
	expect_mmap_err(mfd, grant << MAP_SHIFT, PG, EACCES,
			"intruder_mmap_grant_offset");
	expect_mmap_err(mfd, (grant << MAP_SHIFT) + PG, PG, EACCES,
			"intruder_mmap_inside_grant");
	expect_mmap_err(mfd, 0, PG, EACCES, "intruder_mmap_offset_0");
	if (hpa)
		expect_mmap_err(mfd, hpa, PG, EACCES, "intruder_mmap_raw_hpa");
	else
		tap(0, "intruder_mmap_raw_hpa", "no HPA_LIST with page 0 seen");

	/* Only this file's own authorizations can be dropped: it has none. */
	expect_err(unmap_grant(mfd, grant), ENOENT, "intruder_unmap_grant");
	expect_err(unmap_grant(mfd, grant + 1), ENOENT,
		   "intruder_unmap_grant_plus_1");
	expect_err(unmap_grant(mfd, GRANT_ID_MAX), ENOENT,
		   "intruder_unmap_0x7fffffff");
	expect_err(unmap_grant(mfd, 0), EINVAL, "intruder_unmap_0");
	expect_err(unmap_grant(mfd, 0xffffffffULL), EINVAL,
		   "intruder_unmap_0xffffffff");
	expect_err(unmap_grant(mfd, grant | 1ULL << 32), EINVAL,
		   "intruder_unmap_grant_aliased_past_32_bits");
}

/*
 * The server's mapping seen from the intruder: not inherited (VM_DONTCOPY),
 * and not readable through /proc/PID/mem either (a PFN map has no pages to
 * get and the grant has no ->access), while ordinary memory of the server
 * is: that read is the control that the EIO comes from the grant.
 */
static void intruder_peek(const unsigned char *p, const unsigned char *plain)
{
	char path[64];
	unsigned char b;
	int fd;

	expect_err(msync((void *)p, PG, MS_ASYNC), ENOMEM,
		   "intruder_did_not_inherit_mapping");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)getppid());
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		tap(0, "intruder_proc_mem_control", strerror(errno));
		return;
	}
	tap(pread(fd, &b, 1, (off_t)(uintptr_t)plain) == 1 && b == *plain,
	    "intruder_proc_mem_control", NULL);
	expect_err(pread(fd, &b, 1, (off_t)(uintptr_t)p), EIO,
		   "intruder_proc_mem_of_grant_refused");
	close(fd);
}

/*
 * The intruder, in the child: drops every fd it inherited that has to do
 * with the grant (the mapper file is opened first, so that the connection's
 * fd number is free afterwards), then attacks. It is root like the server,
 * so nothing but the mapper's own checks stands in its way. Exits 0 once
 * done.
 */
static void intruder(int conn, int listener, int server_mfd, int report,
		     uint64_t grant, uint64_t hpa, const unsigned char *p,
		     const unsigned char *plain)
{
	int mfd = open(MAPPER, O_RDWR | O_CLOEXEC);

	verdict_fd = report;
	close(conn);
	close(listener);
	close(server_mfd);
	if (mfd < 0) {
		tap(0, "intruder_opens_mapper", strerror(errno));
		_exit(1);
	}
	/*
	 * The server's connection fd number means nothing here: tried before
	 * anything else is opened, as a new fd would take the free number.
	 */
	expect_err(map_grant(mfd, conn, grant, 0, 0), EBADF,
		   "intruder_map_with_servers_fd_number");
	intruder_peek(p, plain);
	intruder_map_grant(mfd, grant);
	intruder_mmap_unmap(mfd, grant, hpa);
	close(mfd);
	_exit(0);
}

/* Runs the intruder and numbers its verdicts as ours. */
static void run_intruder(int conn, int listener, int mfd, uint64_t grant,
			 uint64_t hpa, const unsigned char *p,
			 const unsigned char *plain)
{
	struct verdict v;
	int fds[2], status = 0, nr = 0;
	pid_t pid;

	if (pipe(fds)) {
		tap(0, "intruder_ran", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		intruder(conn, listener, mfd, fds[1], grant, hpa, p, plain);
	}
	close(fds[1]);
	while (pid > 0 && read(fds[0], &v, sizeof(v)) == sizeof(v)) {
		v.name[sizeof(v.name) - 1] = 0;
		v.why[sizeof(v.why) - 1] = 0;
		tap(v.ok, v.name, v.why[0] ? v.why : NULL);
		nr++;
	}
	close(fds[0]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		tap(0, "intruder_ran", strerror(errno));
		return;
	}
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0 && nr > 0,
	    "intruder_ran", NULL);
}

/*
 * Forged offsets and lengths on the server's own, authorized file: each is
 * refused by the mapper, or where the mm core refuses before calling it,
 * with the core's errno (said per group). size is the grant's, in bytes.
 */
static void forged_mmaps(int mfd, uint64_t grant, uint64_t size)
{
	uint64_t base = grant << MAP_SHIFT, window = 1ULL << MAP_SHIFT;

	/* The mapper: an offset past the grant's pages, or a length past them. */
	expect_mmap_err(mfd, base + size, PG, EINVAL, "mmap_at_end_of_grant");
	expect_mmap_err(mfd, base + window - PG, PG, EINVAL,
			"mmap_last_page_of_window");
	expect_mmap_err(mfd, base + size - PG, 2 * PG, EINVAL,
			"mmap_inside_grant_length_past_end");
	expect_mmap_err(mfd, base, window, EINVAL, "mmap_whole_window");
	expect_mmap_err(mfd, base, 2 * window, EINVAL,
			"mmap_length_into_next_window");
	/*
	 * The mapper: windows of ids this file holds no authorization for.
	 * A character device's offsets may reach 2^64 (file_mmap_size_max()
	 * is ULONG_MAX for it), so offsets near 2^63 get to the mapper, whose
	 * id (offset >> 31, an unsigned long up to 2^33 - 1) is never cut to
	 * 32 or 31 bits: grant + 2^31 and grant + 2^32 must not alias grant.
	 */
	expect_mmap_err(mfd, base + window, PG, EACCES, "mmap_next_window");
	expect_mmap_err(mfd, base | 1ULL << 62, PG, EACCES,
			"mmap_grant_aliased_past_2_62");
	expect_mmap_err(mfd, base | 1ULL << 63, PG, EACCES,
			"mmap_grant_aliased_past_2_63");
	expect_mmap_err(mfd, (1ULL << 63) - PG, PG, EACCES,
			"mmap_offset_2_63_minus_4096");
	expect_mmap_err(mfd, (1ULL << 63) - PG, 2 * PG, EACCES,
			"mmap_offset_plus_length_past_2_63");
	expect_mmap_err(mfd, -2 * PG, PG, EACCES,
			"mmap_offset_2_64_minus_8192");
	/* The mm core: offset + length past 2^64 - 1, its limit for a device. */
	expect_mmap_err(mfd, -PG, PG, EOVERFLOW, "mmap_offset_2_64_minus_4096");
	expect_mmap_err(mfd, -2 * PG, 2 * PG, EOVERFLOW,
			"mmap_offset_plus_length_past_2_64");
	/* The mm core: lengths that wrap or exceed the address space, 0. */
	expect_mmap_err(mfd, base, -PG + 1, ENOMEM, "mmap_length_wraps");
	expect_mmap_err(mfd, base, -PG, ENOMEM, "mmap_length_2_64_minus_4096");
	expect_mmap_err(mfd, base, 0, EINVAL, "mmap_length_0");
	expect_mmap_err(mfd, base + 1, PG, EINVAL, "mmap_offset_unaligned");
}

/*
 * Positive controls after the attacks: the last page alone maps (so the
 * refusals above are about bounds, not everything), MAP_GRANT on the
 * connection still answers the same offset, and a second full mapping
 * shows the same bytes as the first: the authorization is intact.
 */
static void still_authorized(int mfd, int conn, const struct vshm_map_req *req,
			     const unsigned char *p)
{
	struct vshm_map_req again = { .sock_fd = conn, .grant = req->grant };
	unsigned char *q;
	uint64_t last = req->size - PG;

	q = mmap(NULL, PG, PROT_READ, MAP_SHARED, mfd, (off_t)(req->offset + last));
	tap(q != MAP_FAILED && !memcmp(q, p + last, PG),
	    "mmap_last_page_alone", q == MAP_FAILED ? strerror(errno) : NULL);
	if (q != MAP_FAILED)
		munmap(q, PG);
	tap(!ioctl(mfd, VSHM_IOC_MAP_GRANT, &again) &&
	    again.offset == req->offset && again.size == req->size,
	    "map_grant_again_same_offset", NULL);
	q = mmap(NULL, req->size, PROT_READ, MAP_SHARED, mfd, (off_t)req->offset);
	tap(q != MAP_FAILED && !memcmp(q, p, req->size),
	    "authorization_survives_intruder", q == MAP_FAILED ? strerror(errno) : NULL);
	if (q != MAP_FAILED)
		munmap(q, req->size);
}

/* The grant is still complete and still recorded as mapped by us. */
static void grant_still_ours(uint64_t grant)
{
	char st[16] = "", why[64];
	long pid = 0;
	int ok = grant_line(grant, st, sizeof(st), &pid) &&
		 !strcmp(st, "complete") && pid == getpid();

	snprintf(why, sizeof(why), "state %s pid %ld", st[0] ? st : "gone", pid);
	tap(ok, "grant_still_ours", ok ? NULL : why);
}

/* The guest's pattern (vshm-guest's default seed) is all there. */
static int guest_pattern(const unsigned char *p, uint64_t size, uint32_t region)
{
	struct vshm_pattern_bad bad;

	return !vshm_pattern_check(p, size, VSHM_PATTERN_DEFAULT_SEED, region,
				   &bad);
}

/*
 * The hostile host process, then forged mmaps by the server itself; the
 * mapping p must come out readable and unchanged: the same bytes as before,
 * and still the guest's pattern.
 */
static void hostile(int conn, int listener, int mfd,
		    const struct vshm_map_req *req, uint64_t hpa,
		    const unsigned char *p, uint32_t region)
{
	unsigned char *snap = malloc(req->size);

	if (!snap) {
		tap(0, "hostile_setup", "out of memory");
		return;
	}
	memcpy(snap, p, req->size);
	run_intruder(conn, listener, mfd, req->grant, hpa, p, snap);
	tap(probe(p) >= 0 && !memcmp(p, snap, req->size),
	    "mapping_intact_after_intruder", NULL);
	grant_still_ours(req->grant);
	forged_mmaps(mfd, req->grant, req->size);
	still_authorized(mfd, conn, req, p);
	tap(probe(p) >= 0 && !memcmp(p, snap, req->size) &&
	    guest_pattern(p, req->size, region),
	    "mapping_intact_after_forged_mmaps", NULL);
	free(snap);
}

/*
 * The mapper's revocation event for grant: readable (poll), exactly one,
 * with reason, and nothing after it.
 */
static int revoke_event(int mfd, uint64_t grant, uint32_t reason)
{
	struct pollfd pfd = { .fd = mfd, .events = POLLIN };
	struct vshm_revoke_event ev[2];
	ssize_t n;
	int fl;

	if (poll(&pfd, 1, 2000) != 1 || !(pfd.revents & POLLIN))
		return 0;
	n = read(mfd, ev, sizeof(ev));
	if (n != (ssize_t)sizeof(ev[0]) || ev[0].grant != grant ||
	    ev[0].reason != reason || ev[0].pad) {
		printf("# event: %zd bytes, grant %llu reason %u\n", n,
		       (unsigned long long)ev[0].grant, ev[0].reason);
		return 0;
	}
	fl = fcntl(mfd, F_GETFL);
	fcntl(mfd, F_SETFL, fl | O_NONBLOCK);
	n = read(mfd, ev, sizeof(ev));
	fcntl(mfd, F_SETFL, fl);
	return n == -1 && errno == EAGAIN;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	static unsigned char buf[VSHM_MAX_MSG];
	struct vshm_map_req req = { 0 };
	unsigned char *p = MAP_FAILED;
	struct vshm_pattern_bad bad;
	struct vshm_msg m;
	int ls, c, mfd, other;
	uint64_t grant = 0, hpa = 0;
	ssize_t n;
	void *q;

	if (argc != 2) {
		fprintf(stderr, "usage: host_revoke PORT\n");
		return 1;
	}
	sa.svm_port = (unsigned int)strtoul(argv[1], NULL, 0);
	mfd = open(MAPPER, O_RDWR | O_CLOEXEC);
	ls = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
	if (mfd < 0 || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 1)) {
		perror("host_revoke: setup");
		return 1;
	}
	printf("# host_revoke: listening on %u\n", sa.svm_port);
	fflush(stdout);
	c = accept(ls, NULL, NULL);
	if (c < 0) {
		perror("host_revoke: accept");
		return 1;
	}
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		if (vshm_decode(buf, (size_t)n, &m)) {
			tap(0, "messages_decode", "undecodable message");
			break;
		}
		/* The raw HPA of page 0, for the intruder to try as an offset. */
		if (m.type == VSHM_MSG_HPA_LIST && m.list.first_page == 0 &&
		    m.list.nr_ext)
			hpa = vshm_msg_run(&m, 0).addr;
		if (m.type == VSHM_MSG_HELLO) {
			/*
			 * As a host older than the features answers: the
			 * guest then speaks plain version 1 (protocol 12.1).
			 */
			if (reply(c, buf, vshm_encode_error(buf, sizeof(buf), m.region,
							    VSHM_E_TYPE, VSHM_NO_INDEX,
							    VSHM_MSG_HELLO)))
				break;
		} else if (m.type == VSHM_MSG_ALLOC) {
			if (m.alloc.has_cookie) {
				tap(0, "plain_alloc_after_old_host_hello",
				    "the guest sent a cookie anyway");
				break;
			}
			if (reply(c, buf, vshm_encode_alloc_ok(buf, sizeof(buf), m.region)))
				break;
		} else if (m.type == VSHM_MSG_HPA_LIST && !m.list.last) {
			if (reply(c, buf, vshm_encode_chunk_ok(buf, sizeof(buf), m.region,
							       m.list.first_page,
							       m.list.nr_pages)))
				break;
		} else if (m.type == VSHM_MSG_HPA_LIST) {
			grant = m.list.grant;
			/* Another socket is not the grant's connection. */
			other = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
			req.sock_fd = other;
			req.grant = grant;
			tap(ioctl(mfd, VSHM_IOC_MAP_GRANT, &req) == -1 &&
			    errno == EACCES, "map_refused_for_other_socket", NULL);
			close(other);
			/* Offsets of grants this file was not given. */
			q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd,
				 (off_t)(grant + 1) << 31);
			tap(q == MAP_FAILED && errno == EACCES,
			    "mmap_refused_without_authorization", NULL);

			req.sock_fd = c;
			if (ioctl(mfd, VSHM_IOC_MAP_GRANT, &req)) {
				tap(0, "map_grant", strerror(errno));
				break;
			}
			tap(1, "map_grant", NULL);
			q = mmap(NULL, req.size + 4096, PROT_READ, MAP_SHARED, mfd,
				 (off_t)req.offset);
			tap(q == MAP_FAILED && errno == EINVAL,
			    "mmap_past_grant_refused", NULL);
			q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, mfd,
				 (off_t)req.offset);
			tap(q == MAP_FAILED && errno == EINVAL,
			    "private_mapping_refused", NULL);
			p = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 mfd, (off_t)req.offset);
			if (p == MAP_FAILED) {
				tap(0, "mmap_grant", strerror(errno));
				break;
			}
			tap(probe(p) >= 0, "mapping_readable", NULL);
			tap(guest_pattern(p, req.size, m.region),
			    "mapping_holds_guest_pattern", NULL);
			/* Before MAPPED: the guest waits, the grant stays live. */
			hostile(c, ls, mfd, &req, hpa, p, m.region);
			/*
			 * Mark every page as vshm-server does: the guest checks
			 * after MAPPED that the host wrote word 0 of each page
			 * and nothing else, its own witness that the attacks
			 * above changed nothing.
			 */
			vshm_pattern_mark(p, req.size, VSHM_PATTERN_DEFAULT_SEED,
					  m.region);
			tap(!vshm_pattern_check_marked(p, req.size,
						       VSHM_PATTERN_DEFAULT_SEED,
						       m.region, &bad),
			    "mapping_writable", NULL);
			if (reply(c, buf, vshm_encode_mapped(buf, sizeof(buf), m.region,
							     grant, req.nr_pages)))
				break;
		} else if (m.type == VSHM_MSG_FREE) {
			/* The module revoked the grant before we read FREE. */
			tap(p != MAP_FAILED && probe(p) == -1,
			    "access_after_free_is_sigbus", NULL);
			tap(revoke_event(mfd, grant, VSHM_REVOKE_FREED),
			    "mapper_reports_the_revocation_freed", NULL);
			req.sock_fd = c;
			tap(ioctl(mfd, VSHM_IOC_MAP_GRANT, &req) == -1 &&
			    errno == ENOENT, "revoked_grant_not_mappable", NULL);
			if (p != MAP_FAILED)
				munmap(p, req.size);
			reply(c, buf, vshm_encode_freed(buf, sizeof(buf), m.region));
			break;
		} else {
			tap(0, "expected_message", vshm_msg_type_name(m.type));
			break;
		}
	}
	close(c);
	close(ls);
	close(mfd);
	printf("1..%d\n", test_nr);
	return failed || !test_nr ? 1 : 0;
}
