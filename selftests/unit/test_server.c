// SPDX-License-Identifier: GPL-2.0
/*
 * The host server library's poll loop (userspace/host/vshm_server.c),
 * served on an AF_UNIX SOCK_SEQPACKET listener, with /dev/null as the
 * "mapper" (no module here: a GPA_LIST arrives untranslated and is
 * answered VSHM_E_NOPOLICY, and the mapper ioctls fail). The guest side is
 * the guest library or raw messages.
 *
 * The tests of how regions end that need mappings (suite server_end) run
 * the server's real mapper code against a fake mapper device instead: see
 * ioctl() below.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <assert.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"
#include "proto.h"
#include "vsock_shm.h"
#include "vshm_guest.h"
#include "vshm_server.h"

static struct vshm_server *srv;
static pthread_t srv_thread;
static struct sockaddr_un addr;
static socklen_t addr_len;
static int freed_calls;
static char last_log[256];

/* Every callback, in order: what on_ended saw, and what it answers. */
#define MAX_EVENTS	32

static struct {
	int hold;			/* on_ended's answer */
	int calls;			/* on_ended */
	int seq;			/* callbacks so far */
	int freed_seq, ended_seq;	/* of the last on_freed, on_ended */
	uint32_t id[MAX_EVENTS];
	enum vshm_end_reason why[MAX_EVENTS];
	enum vshm_sregion_state state[MAX_EVENTS];
	void *addr[MAX_EVENTS];
	void *ptr[MAX_EVENTS];
	int reserved[MAX_EVENTS];	/* addr reserved during the call */
	void *mapped;			/* ptr of the last on_mapped */
} ev;

static void on_freed(void *arg, const struct vshm_session_region *r)
{
	(void)arg;
	(void)r;
	freed_calls++;
	ev.freed_seq = ++ev.seq;
}

static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	(void)arg;
	ev.mapped = r->ptr;
	memset(r->ptr, 0x5a, (size_t)r->info.size);	/* it is usable */
	ev.seq++;
	return 0;
}

static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	int i = ev.calls++;

	(void)arg;
	cr_assert_lt(i, MAX_EVENTS);
	ev.id[i] = r->id;
	ev.why[i] = why;
	ev.state[i] = r->state;
	ev.addr[i] = r->addr;
	ev.ptr[i] = r->ptr;
	ev.reserved[i] = r->addr &&
			 maps_reserved(r->addr, (size_t)r->info.size);
	ev.ended_seq = ++ev.seq;
	return ev.hold;
}

/* The index of region id in ev, which saw it exactly once. */
static int ended_once(uint32_t id)
{
	int i, at = -1, n = 0;

	for (i = 0; i < ev.calls; i++) {
		if (ev.id[i] == id) {
			at = i;
			n++;
		}
	}
	cr_assert_eq(n, 1, "region %u reported %d times", id, n);
	return at;
}

static void log_line(void *arg, const char *line)
{
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static void *serve(void *arg)
{
	(void)arg;
	vshm_server_run(srv);
	return NULL;
}

/* A listener on a fresh abstract UNIX address. */
static int unix_listener(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	cr_assert_geq(fd, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1,
		 "vshm-test-%d", (int)getpid());
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			       strlen(addr.sun_path + 1));
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, addr_len), 0);
	cr_assert_eq(listen(fd, 8), 0);
	return fd;
}

static void start(unsigned int max_conns)
{
	struct vshm_server_cfg cfg = {
		.max_conns = max_conns,
		.mapper_path = "/dev/null",
		.on_freed = on_freed,
		.on_ended = on_ended,
		.log = log_line,
	};

	freed_calls = 0;
	memset(&ev, 0, sizeof(ev));
	srv = vshm_server_new_on_fd(&cfg, unix_listener());
	cr_assert_not_null(srv, "server: %s", strerror(errno));
	cr_assert_eq(pthread_create(&srv_thread, NULL, serve, NULL), 0);
}

/* Stops the server; its last stats land in st. */
static struct vshm_server_stats st;

static void stop(void)
{
	vshm_server_stop(srv);
	pthread_join(srv_thread, NULL);
	vshm_server_get_stats(srv, &st);
	vshm_server_free(srv);
	srv = NULL;
}

static int dial(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, addr_len), 0);
	return fd;
}

/* Sends msg on a fresh guest connection and decodes the answer. */
static int ask(struct vshm_guest *g, const void *msg, size_t len,
	       struct vshm_msg *m)
{
	uint8_t reply[64];
	int n;

	cr_assert_eq(vshm_guest_send_raw(g, msg, len), 0);
	n = vshm_guest_recv_raw(g, reply, sizeof(reply), 3000);
	if (n < 0)
		return n;
	cr_assert_eq(vshm_decode(reply, (size_t)n, m), 0);
	return 0;
}

Test(server, raw_alloc_and_free)
{
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;

	start(0);
	g = vshm_guest_from_fd(dial());
	n = vshm_encode_alloc(msg, sizeof(msg), 5, 8192, 4096, 3);
	cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	cr_assert_eq(m.region, 5);
	n = vshm_encode_free(msg, sizeof(msg), 5);
	cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_FREED);
	n = vshm_encode_free(msg, sizeof(msg), 5);
	cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ERROR);
	cr_assert_eq(m.error.code, VSHM_E_NOREGION);
	cr_assert_eq(vshm_guest_close(g), 0);
	stop();
	cr_assert_eq(st.conns_accepted, 1);
	cr_assert_eq(st.regions_freed, 1);
	cr_assert_eq(st.errors_sent, 1);
	cr_assert_eq(freed_calls, 1);
	/* on_ended sees the same end, after on_freed. */
	cr_assert_eq(ev.calls, 1);
	cr_assert_eq(ev.id[0], 5);
	cr_assert_eq(ev.why[0], VSHM_END_FREED);
	cr_assert_lt(ev.freed_seq, ev.ended_seq);
}

Test(server, header_error_closes_connection)
{
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;

	start(0);
	g = vshm_guest_from_fd(dial());
	memset(msg, 0, sizeof(msg));
	cr_assert_eq(ask(g, msg, 8, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ERROR);
	cr_assert_eq(m.region, 0);
	cr_assert_eq(m.error.code, VSHM_E_TRUNC);
	/* Then the server hangs up. */
	cr_assert_eq(vshm_guest_recv_raw(g, msg, sizeof(msg), 3000),
		     -ECONNRESET);
	vshm_guest_close(g);
	stop();
	cr_assert_eq(st.conns_open, 0);
}

Test(server, disconnect_drops_regions)
{
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int i;

	start(0);
	g = vshm_guest_from_fd(dial());
	for (i = 1; i <= 3; i++) {
		n = vshm_encode_alloc(msg, sizeof(msg), (uint32_t)i, 4096,
				      4096, 1);
		cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
		cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	}
	vshm_guest_close(g);
	/* Let the server see the end of the connection. */
	for (i = 0; i < 300 && !strstr(last_log, "closed"); i++)
		usleep(10000);
	stop();
	cr_assert(strstr(last_log, "3 live regions dropped"), "log: %s",
		  last_log);
	cr_assert_eq(st.regions_dropped, 3);
	cr_assert_eq(freed_calls, 0);
	/* Each region is reported, once, with why. */
	cr_assert_eq(ev.calls, 3, "%d of 3 dropped regions reported",
		     ev.calls);
	for (i = 1; i <= 3; i++) {
		int at = ended_once((uint32_t)i);

		cr_assert_eq(ev.why[at], VSHM_END_CLOSED, "why: %s",
			     vshm_end_reason_name(ev.why[at]));
		cr_assert_eq(ev.state[at], VSHM_SR_UPLOADING);
		cr_assert_null(ev.addr[at]);
	}
}

Test(server, protocol_error_reports_protocol)
{
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int i;

	start(0);
	g = vshm_guest_from_fd(dial());
	n = vshm_encode_alloc(msg, sizeof(msg), 7, 4096, 4096, 1);
	cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	memset(msg, 0, sizeof(msg));
	cr_assert_eq(ask(g, msg, 8, &m), 0);
	cr_assert_eq(m.error.code, VSHM_E_TRUNC);
	for (i = 0; i < 300 && !strstr(last_log, "closed"); i++)
		usleep(10000);
	vshm_guest_close(g);
	stop();
	cr_assert_eq(ev.calls, 1);
	cr_assert_eq(ev.id[0], 7);
	cr_assert_eq(ev.why[0], VSHM_END_PROTOCOL, "why: %s",
		     vshm_end_reason_name(ev.why[0]));
}

/* A guest that closes with an answer unread resets the connection. */
Test(server, reset_reports_reset)
{
	struct pollfd pfd;
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int fd, i;

	start(0);
	fd = dial();
	g = vshm_guest_from_fd(fd);
	n = vshm_encode_alloc(msg, sizeof(msg), 7, 4096, 4096, 1);
	cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	n = vshm_encode_alloc(msg, sizeof(msg), 8, 4096, 4096, 1);
	cr_assert_eq(vshm_guest_send_raw(g, msg, (size_t)n), 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 3000), 1);
	vshm_guest_close(g);
	for (i = 0; i < 300 && !strstr(last_log, "closed"); i++)
		usleep(10000);
	stop();
	cr_assert_eq(ev.calls, 2);
	ended_once(7);
	ended_once(8);
	cr_assert_eq(ev.why[0], VSHM_END_RESET, "why: %s (log: %s)",
		     vshm_end_reason_name(ev.why[0]), last_log);
	cr_assert_eq(ev.why[1], VSHM_END_RESET);
}

Test(server, shutdown_reports_every_region)
{
	struct vshm_guest *g;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int i;

	start(0);
	g = vshm_guest_from_fd(dial());
	for (i = 1; i <= 2; i++) {
		n = vshm_encode_alloc(msg, sizeof(msg), (uint32_t)i, 4096,
				      4096, 1);
		cr_assert_eq(ask(g, msg, (size_t)n, &m), 0);
	}
	stop();		/* the guest is still connected */
	cr_assert_eq(ev.calls, 2);
	for (i = 1; i <= 2; i++)
		cr_assert_eq(ev.why[ended_once((uint32_t)i)],
			     VSHM_END_SHUTDOWN);
	vshm_guest_close(g);
}

Test(server, too_many_connections)
{
	struct vshm_guest *g1, *g2;
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;

	start(1);
	g1 = vshm_guest_from_fd(dial());
	n = vshm_encode_alloc(msg, sizeof(msg), 1, 4096, 4096, 1);
	cr_assert_eq(ask(g1, msg, (size_t)n, &m), 0);
	g2 = vshm_guest_from_fd(dial());
	cr_assert_eq(vshm_guest_recv_raw(g2, msg, sizeof(msg), 3000),
		     -ECONNRESET);
	vshm_guest_close(g2);
	vshm_guest_close(g1);
	stop();
	cr_assert_eq(st.conns_refused, 1);
	cr_assert_eq(st.conns_accepted, 1);
}

/* The guest library end to end: without a module the list is refused. */
Test(server, share_without_module_is_nopolicy)
{
	struct vshm_guest *g;
	uint32_t code = 0;

	if (geteuid() != 0)
		cr_skip_test("needs root: /proc/self/pagemap hides PFNs");
	start(0);
	g = vshm_guest_from_fd(dial());
	errno = 0;
	cr_assert_null(vshm_share(g, 16 * 4096, 0,
				  VSHM_ACCESS_READ | VSHM_ACCESS_WRITE));
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(vshm_guest_last_error(g, &code, NULL), 0);
	cr_assert_eq(code, VSHM_E_NOPOLICY);
	cr_assert_eq(vshm_guest_close(g), 0);
	stop();
	/* The guest freed the failed region: the server confirmed. */
	cr_assert_eq(st.regions_freed, 1);
	cr_assert_eq(st.errors_sent, 1);
}

Test(server, bad_config)
{
	struct vshm_server_cfg cfg = { .mapper_path = "/nonexistent/mapper" };

	errno = 0;
	cr_assert_null(vshm_server_new(&cfg));
	cr_assert_eq(errno, EINVAL, "port 0");
	cfg.log = log_line;
	cr_assert_null(vshm_server_new_on_fd(&cfg, unix_listener()));
	cr_assert_eq(errno, ENOENT);
	cr_assert(strstr(last_log, "/nonexistent/mapper"));
}

/*
 * How mapped regions end, through the server's real mapper code. The fake
 * mapper device: the server opens /dev/zero as its mapper, and this
 * ioctl(), which the test program's own definition puts in front of libc's
 * for the whole program, answers the mapper's two requests (every other
 * ioctl goes to the kernel). The server's mmap() of /dev/zero at the
 * offset returned is a real shared mapping. The server runs in the test's
 * thread: pump() serves what is ready.
 */
static struct {
	bool on;
	uint32_t pages;		/* of every grant */
	int maps, unmaps;
} dev;

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (dev.on && request == VSHM_IOC_MAP_GRANT) {
		struct vshm_map_req *req = arg;

		req->offset = 0;
		req->nr_pages = dev.pages;
		req->size = (uint64_t)dev.pages * VSHM_PAGE_SIZE;
		req->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
		req->pin_ns = 1000;
		req->nr_runs = 1;
		dev.maps++;
		return 0;
	}
	if (dev.on && request == VSHM_IOC_UNMAP_GRANT) {
		dev.unmaps++;
		return 0;
	}
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

#define DEV_PAGES	4
#define DEV_SIZE	(DEV_PAGES * VSHM_PAGE_SIZE)

static void dev_setup(void)
{
	struct vshm_server_cfg cfg = {
		.mapper_path = "/dev/zero",
		.on_mapped = on_mapped,
		.on_freed = on_freed,
		.on_ended = on_ended,
		.log = log_line,
	};

	memset(&ev, 0, sizeof(ev));
	memset(&dev, 0, sizeof(dev));
	dev.on = true;
	dev.pages = DEV_PAGES;
	freed_calls = 0;
	srv = vshm_server_new_on_fd(&cfg, unix_listener());
	cr_assert_not_null(srv, "server: %s", strerror(errno));
}

static void dev_teardown(void)
{
	vshm_server_free(srv);
	srv = NULL;
}

TestSuite(server_end, .init = dev_setup, .fini = dev_teardown);

static void pump(void)
{
	cr_assert_eq(vshm_server_poll(srv, 10), 0);
}

static struct vshm_server_stats stats(void)
{
	struct vshm_server_stats s;

	vshm_server_get_stats(srv, &s);
	return s;
}

/* Sends len bytes of msg on fd, serves until the answer is in m. */
static void xchg(int fd, const void *msg, size_t len, struct vshm_msg *m)
{
	uint8_t reply[64];
	ssize_t n = -1;
	int i;

	cr_assert_eq(send(fd, msg, len, 0), (ssize_t)len);
	for (i = 0; i < 100 && n < 0; i++) {
		pump();
		n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
	}
	cr_assert_gt(n, 0, "no answer");
	cr_assert_eq(vshm_decode(reply, (size_t)n, m), 0);
}

/*
 * A guest on fd shares region id (DEV_PAGES pages, one chunk): ALLOC, then
 * the HPA_LIST the module would make of its GPA_LIST. Returns the mapping
 * the server's on_mapped saw.
 */
static void *dev_share(int fd, uint32_t id, uint64_t grant)
{
	struct vshm_run runs[DEV_PAGES];
	uint8_t buf[512];
	struct vshm_msg m;
	ssize_t n;
	uint32_t i;

	n = vshm_encode_alloc(buf, sizeof(buf), id, DEV_SIZE, VSHM_PAGE_SIZE,
			      VSHM_ACCESS_READ | VSHM_ACCESS_WRITE);
	xchg(fd, buf, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	for (i = 0; i < DEV_PAGES; i++) {
		runs[i].addr = 0x100000ULL + (uint64_t)i * 0x2000;
		runs[i].npages = 1;
	}
	n = vshm_encode_gpa_list(buf, sizeof(buf), id, 0, DEV_PAGES, runs,
				 DEV_PAGES);
	cr_assert_gt(n, 0);
	vshm_wire_mark_hpa(buf, grant);
	ev.mapped = NULL;
	xchg(fd, buf, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_MAPPED, "got %s (code %s)",
		     vshm_msg_type_name(m.type),
		     vshm_err_name((int)m.error.code));
	cr_assert_not_null(ev.mapped);
	return ev.mapped;
}

/* Closes a guest's end and serves until the server closed its own. */
static void dev_hang_up(int fd, uint32_t open_after)
{
	int i;

	close(fd);
	for (i = 0; i < 100 && stats().conns_open != open_after; i++)
		pump();
	cr_assert_eq(stats().conns_open, open_after);
}

/*
 * The case: guest 3 shares and exits without FREE, guest 4 shares
 * the same size. The application, told with why, holds the old range: no
 * region of guest 4 lands there, and the old pointer faults.
 */
Test(server_end, dropped_region_reported_and_its_range_held)
{
	struct vshm_server_stats st;
	int g3, g4, i, at;
	void *p, *q;

	g3 = dial();
	p = dev_share(g3, 1, 101);
	ev.hold = VSHM_HOLD;
	dev_hang_up(g3, 0);

	g4 = dial();
	for (i = 1; i <= 4; i++) {
		q = dev_share(g4, (uint32_t)i, 200 + (uint64_t)i);
		cr_assert(!ranges_overlap(p, q, DEV_SIZE),
			  "guest 4's region %d landed at guest 3's dropped region %p (new %p)",
			  i, p, q);
	}

	cr_assert_eq(ev.calls, 1, "%d reports of 1 dropped region", ev.calls);
	at = ended_once(1);
	cr_assert_eq(ev.why[at], VSHM_END_CLOSED, "why: %s",
		     vshm_end_reason_name(ev.why[at]));
	cr_assert_eq(ev.addr[at], p);
	cr_assert_null(ev.ptr[at]);
	cr_assert_eq(ev.state[at], VSHM_SR_MAPPED);
	cr_assert(ev.reserved[at], "not reserved when reported");
	cr_assert(maps_reserved(p, DEV_SIZE), "the held range is gone");
	st = stats();
	cr_assert_eq(st.regions_dropped, 1);
	cr_assert_eq(st.regions_held, 1);
	cr_assert_eq(dev.unmaps, 1);

	cr_assert_eq(vshm_server_release(srv, p), 0);
	cr_assert_eq(vshm_server_release(srv, p), -ENOENT);
	cr_assert_eq(stats().regions_held, 0);
	close(g4);
}

Test(server_end, freed_region_reported_then_released)
{
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	void *p;
	int g;

	g = dial();
	p = dev_share(g, 3, 33);
	n = vshm_encode_free(msg, sizeof(msg), 3);
	xchg(g, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_FREED);
	cr_assert_eq(freed_calls, 1);
	cr_assert_eq(ev.calls, 1);
	cr_assert_lt(ev.freed_seq, ev.ended_seq);
	cr_assert_eq(ev.why[0], VSHM_END_FREED);
	cr_assert_eq(ev.addr[0], p);
	cr_assert(ev.reserved[0], "not reserved when reported");
	/* Not held: given back, nothing to release. */
	cr_assert_eq(stats().regions_held, 0);
	cr_assert_eq(vshm_server_release(srv, p), -ENOENT);
	cr_assert_eq(dev.unmaps, 1);
	close(g);
}

Test(server_end, live_region_cannot_be_released)
{
	char perms[5];
	void *p;
	int g;

	g = dial();
	p = dev_share(g, 3, 33);
	cr_assert_eq(vshm_server_release(srv, p), -ENOENT);
	cr_assert_eq(vshm_server_release(srv, NULL), -ENOENT);
	cr_assert_eq(vshm_server_release(srv, (char *)p + 4096), -ENOENT);
	cr_assert_str_eq(maps_perms(p, perms), "rw-s");
	cr_assert_eq(*(volatile uint8_t *)p, 0x5a);
	cr_assert_eq(ev.calls, 0);
	close(g);
}

Test(server_end, shutdown_reports_and_releases_held_ranges)
{
	uint8_t msg[64];
	struct vshm_msg m;
	char perms[5];
	ssize_t n;
	void *p;
	int g;

	g = dial();
	p = dev_share(g, 1, 11);
	n = vshm_encode_alloc(msg, sizeof(msg), 2, 4096, 4096, 1);
	xchg(g, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	ev.hold = VSHM_HOLD;
	vshm_server_free(srv);
	srv = NULL;
	cr_assert_eq(ev.calls, 2);
	cr_assert_eq(ev.why[ended_once(1)], VSHM_END_SHUTDOWN);
	cr_assert_eq(ev.why[ended_once(2)], VSHM_END_SHUTDOWN);
	cr_assert(ev.reserved[ended_once(1)]);
	/* vshm_server_free() gave the held range back. */
	cr_assert_str_neq(maps_perms(p, perms), "---p");
	close(g);
}

/*
 * Issue 12: features, who is who, revocation events, doorbells, the
 * application's own event loop. The same fake mapper device, and a fake
 * revocation source: a pipe whose read end the server watches instead of
 * the mapper (vshm_server_set_events_fd()); the test writes the struct
 * vshm_revoke_event records the mapper would hand out.
 */
#define MAX_CALLS	32

static struct {
	int n;
	char what[MAX_CALLS];	/* c/d connect/disconnect, m r n e */
	uint32_t id[MAX_CALLS];
	uint32_t arg[MAX_CALLS];
	uint64_t conn[MAX_CALLS];
	uint64_t cookie[MAX_CALLS];
	uint64_t features[MAX_CALLS];	/* c, d */
	void *ptr[MAX_CALLS];
	int reserved[MAX_CALLS];	/* r, e: addr reserved during the call */
	int refuse;			/* on_connect's answer */
	int notify_back;		/* on_notify rings back with these bits */
	int notify_back_ret;
} fc;
static int ev_w = -1;		/* the fake revocation source's write end */

static void fc_log(char what, const struct vshm_session_region *r,
		   uint32_t arg)
{
	int i = fc.n++;

	cr_assert_lt(i, MAX_CALLS);
	fc.what[i] = what;
	fc.id[i] = r->id;
	fc.arg[i] = arg;
	fc.conn[i] = r->conn_id;
	fc.cookie[i] = r->cookie;
	fc.ptr[i] = r->ptr;
	fc.reserved[i] = r->addr && maps_reserved(r->addr,
						  (size_t)r->info.size);
}

static int fc_on_mapped(void *arg, const struct vshm_session_region *r)
{
	(void)arg;
	fc_log('m', r, 0);
	return on_mapped(arg, r);
}

static int fc_on_ended(void *arg, const struct vshm_session_region *r,
		       enum vshm_end_reason why)
{
	(void)arg;
	fc_log('e', r, (uint32_t)why);
	return 0;
}

static void fc_on_revoked(void *arg, const struct vshm_session_region *r,
			  enum vshm_revoke_reason reason)
{
	char perms[5];

	(void)arg;
	fc_log('r', r, (uint32_t)reason);
	/* Still the (dead) mapping during the call. */
	cr_assert_str_eq(maps_perms(r->ptr, perms), "rw-s");
}

static void fc_on_notify(void *arg, const struct vshm_session_region *r,
			 uint32_t bits)
{
	(void)arg;
	fc_log('n', r, bits);
	if (fc.notify_back)
		fc.notify_back_ret = vshm_server_notify(srv, r->conn_id, r->id,
							(uint32_t)fc.notify_back);
}

static void fc_conn(char what, const struct vshm_conn_info *c, uint32_t arg)
{
	int i = fc.n++;

	cr_assert_lt(i, MAX_CALLS);
	fc.what[i] = what;
	fc.conn[i] = c->id;
	fc.features[i] = c->features;
	fc.arg[i] = arg;
}

static int fc_on_connect(void *arg, const struct vshm_conn_info *c)
{
	(void)arg;
	fc_conn('c', c, 0);
	return fc.refuse;
}

static void fc_on_disconnect(void *arg, const struct vshm_conn_info *c,
			     enum vshm_end_reason why)
{
	(void)arg;
	fc_conn('d', c, (uint32_t)why);
}

static void feat_setup(void)
{
	struct vshm_server_cfg cfg = {
		.mapper_path = "/dev/zero",
		.on_mapped = fc_on_mapped,
		.on_ended = fc_on_ended,
		.on_revoked = fc_on_revoked,
		.on_notify = fc_on_notify,
		.on_connect = fc_on_connect,
		.on_disconnect = fc_on_disconnect,
		.log = log_line,
	};
	int p[2];

	memset(&ev, 0, sizeof(ev));
	memset(&fc, 0, sizeof(fc));
	memset(&dev, 0, sizeof(dev));
	dev.on = true;
	dev.pages = DEV_PAGES;
	srv = vshm_server_new_on_fd(&cfg, unix_listener());
	cr_assert_not_null(srv, "server: %s", strerror(errno));
	/* /dev/zero cannot be polled: no events, and the log says so. */
	cr_assert(strstr(last_log, "no revocation events"), "log: %s",
		  last_log);
	cr_assert_eq(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	cr_assert_eq(vshm_server_set_events_fd(srv, p[0]), 0);
	ev_w = p[1];
}

static void feat_teardown(void)
{
	vshm_server_free(srv);
	srv = NULL;
	close(ev_w);
	ev_w = -1;
}

TestSuite(server_feat, .init = feat_setup, .fini = feat_teardown);

static void revoke_event(uint64_t grant, uint32_t reason)
{
	struct vshm_revoke_event e = { .grant = grant, .reason = reason };

	cr_assert_eq(write(ev_w, &e, sizeof(e)), (ssize_t)sizeof(e));
}

/* The guest on fd offers features; returns those agreed. */
static uint64_t hello(int fd, uint64_t features)
{
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n = vshm_encode_hello(msg, sizeof(msg), 1, features);

	xchg(fd, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_HELLO_OK);
	return m.hello.features;
}

/*
 * The next message for the guest on fd, within a few pumps; -EAGAIN if
 * none, -EPIPE at the end of the stream, or the negative errno of recv.
 */
static int guest_recv(int fd, struct vshm_msg *m)
{
	uint8_t reply[64];
	ssize_t n = -1;
	int i;

	for (i = 0; i < 20 && n < 0; i++) {
		pump();
		n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
	}
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	cr_assert_eq(vshm_decode(reply, (size_t)n, m), 0);
	return 0;
}

static int find_call(char what, int from)
{
	int i;

	for (i = from; i < fc.n; i++)
		if (fc.what[i] == what)
			return i;
	return -1;
}

static int count_calls(char what)
{
	int i, n = 0;

	for (i = 0; i < fc.n; i++)
		n += fc.what[i] == what;
	return n;
}

Test(server_feat, revocation_reported_once_before_ended_and_sent)
{
	struct vshm_server_stats st;
	uint8_t msg[64];
	struct vshm_msg m;
	char perms[5];
	int g, r, e;
	ssize_t n;
	void *p;

	g = dial();
	cr_assert_eq(hello(g, VSHM_FEAT_MASK), VSHM_FEAT_MASK);
	p = dev_share(g, 1, 101);
	revoke_event(101, VSHM_REVOKE_MEMMAP);
	cr_assert_eq(guest_recv(g, &m), 0, "no REVOKED");
	cr_assert_eq(m.type, VSHM_MSG_REVOKED, "got %s",
		     vshm_msg_type_name(m.type));
	cr_assert_eq(m.region, 1);
	cr_assert_eq(m.revoked.grant, 101);
	cr_assert_eq(m.revoked.reason, VSHM_REVOKE_MEMMAP);
	r = find_call('r', 0);
	cr_assert_geq(r, 0, "on_revoked not called");
	cr_assert_eq(fc.id[r], 1);
	cr_assert_eq(fc.arg[r], VSHM_REVOKE_MEMMAP);
	cr_assert_eq(fc.ptr[r], p);
	/* The dead mapping is now an inaccessible reservation. */
	cr_assert_str_eq(maps_perms(p, perms), "---p");
	cr_assert(maps_reserved(p, DEV_SIZE));
	cr_assert_eq(dev.unmaps, 1);
	/* A second event for the grant (the mapper's FREED) changes nothing. */
	revoke_event(101, VSHM_REVOKE_FREED);
	n = vshm_encode_free(msg, sizeof(msg), 1);
	xchg(g, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_FREED);
	cr_assert_eq(count_calls('r'), 1);
	e = find_call('e', 0);
	cr_assert_gt(e, r, "on_ended before on_revoked");
	cr_assert_eq(fc.arg[e], VSHM_END_FREED);
	cr_assert(fc.reserved[e]);
	cr_assert_eq(dev.unmaps, 1);
	st = stats();
	cr_assert_eq(st.revocations, 1);
	cr_assert_eq(st.revoked_sent, 1);
	close(g);
}

Test(server_feat, revoked_not_sent_to_a_guest_that_did_not_agree)
{
	uint8_t msg[64];
	struct vshm_msg m;
	int g1, g2;
	ssize_t n;

	g1 = dial();				/* no HELLO at all */
	dev_share(g1, 1, 11);
	g2 = dial();
	cr_assert_eq(hello(g2, VSHM_FEAT_NOTIFY | VSHM_FEAT_COOKIE),
		     VSHM_FEAT_NOTIFY | VSHM_FEAT_COOKIE);
	dev_share(g2, 1, 22);
	revoke_event(11, VSHM_REVOKE_MIGRATION);
	revoke_event(22, VSHM_REVOKE_DEVICE);
	cr_assert_eq(guest_recv(g1, &m), -EAGAIN, "got %s",
		     vshm_msg_type_name(m.type));
	cr_assert_eq(guest_recv(g2, &m), -EAGAIN, "got %s",
		     vshm_msg_type_name(m.type));
	cr_assert_eq(count_calls('r'), 2);
	cr_assert_eq(stats().revocations, 2);
	cr_assert_eq(stats().revoked_sent, 0);
	/* The next answer is the answer. */
	n = vshm_encode_free(msg, sizeof(msg), 1);
	xchg(g1, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_FREED);
	close(g1);
	close(g2);
}

/*
 * The module revokes on FREE before the server can read it: the event is
 * there with the FREE, and on_revoked(FREED) comes before on_ended(FREED).
 * The guest knew: no REVOKED.
 */
Test(server_feat, free_revocation_before_ended)
{
	uint8_t msg[64];
	struct vshm_msg m;
	int g, r, e;
	ssize_t n;

	g = dial();
	hello(g, VSHM_FEAT_REVOKED);
	dev_share(g, 2, 22);
	revoke_event(22, VSHM_REVOKE_FREED);
	n = vshm_encode_free(msg, sizeof(msg), 2);
	xchg(g, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_FREED, "got %s",
		     vshm_msg_type_name(m.type));
	r = find_call('r', 0);
	e = find_call('e', 0);
	cr_assert_geq(r, 0);
	cr_assert_eq(fc.arg[r], VSHM_REVOKE_FREED);
	cr_assert_gt(e, r);
	cr_assert_eq(fc.arg[e], VSHM_END_FREED);
	cr_assert_eq(stats().revoked_sent, 0);
	cr_assert_eq(guest_recv(g, &m), -EAGAIN);
	close(g);
}

/* The same when the guest closes: the module revoked on its SHUTDOWN. */
Test(server_feat, close_revocation_before_ended_then_disconnect)
{
	int g, r, e, d;

	g = dial();
	cr_assert_eq(hello(g, VSHM_FEAT_REVOKED), VSHM_FEAT_REVOKED);
	dev_share(g, 3, 33);
	revoke_event(33, VSHM_REVOKE_CLOSED);
	dev_hang_up(g, 0);
	r = find_call('r', 0);
	e = find_call('e', 0);
	d = find_call('d', 0);
	cr_assert_geq(r, 0);
	cr_assert_eq(fc.arg[r], VSHM_REVOKE_CLOSED);
	cr_assert_gt(e, r);
	cr_assert_eq(fc.arg[e], VSHM_END_CLOSED);
	cr_assert_gt(d, e, "on_disconnect before the regions' on_ended");
	cr_assert_eq(fc.arg[d], VSHM_END_CLOSED);
	cr_assert_eq(fc.features[d], VSHM_FEAT_REVOKED);
	cr_assert_eq(fc.conn[d], fc.conn[find_call('c', 0)]);
}

Test(server_feat, who_is_who)
{
	uint8_t msg[64];
	struct vshm_msg m;
	uint64_t id1, id2;
	int g1, g2, c, mp, i;
	ssize_t n;

	g1 = dial();
	pump();
	g2 = dial();
	pump();
	cr_assert_eq(count_calls('c'), 2);
	id1 = fc.conn[find_call('c', 0)];
	id2 = fc.conn[find_call('c', find_call('c', 0) + 1)];
	cr_assert_neq(id1, 0);
	cr_assert_neq(id1, id2);
	cr_assert_eq(fc.features[find_call('c', 0)], 0);
	hello(g2, VSHM_FEAT_COOKIE);
	n = vshm_encode_alloc_cookie(msg, sizeof(msg), 5, DEV_SIZE,
				     VSHM_PAGE_SIZE, VSHM_ACCESS_READ |
				     VSHM_ACCESS_WRITE, 0xc00c1e);
	xchg(g2, msg, (size_t)n, &m);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	dev_share(g1, 5, 55);
	mp = find_call('m', 0);
	cr_assert_eq(fc.conn[mp], id1);
	cr_assert_eq(fc.cookie[mp], 0);
	/* Region 5 of g2, shared after its ALLOC with a cookie. */
	{
		struct vshm_run runs[DEV_PAGES];
		uint8_t b[512];
		uint32_t i;

		for (i = 0; i < DEV_PAGES; i++) {
			runs[i].addr = 0x200000ULL + (uint64_t)i * 0x2000;
			runs[i].npages = 1;
		}
		n = vshm_encode_gpa_list(b, sizeof(b), 5, 0, DEV_PAGES, runs,
					 DEV_PAGES);
		vshm_wire_mark_hpa(b, 56);
		xchg(g2, b, (size_t)n, &m);
		cr_assert_eq(m.type, VSHM_MSG_MAPPED);
	}
	mp = find_call('m', mp + 1);
	cr_assert_eq(fc.conn[mp], id2);
	cr_assert_eq(fc.cookie[mp], 0xc00c1e);
	close(g1);
	close(g2);
	/* A connection on_connect refuses is closed at once. */
	fc.refuse = 1;
	c = dial();
	i = guest_recv(c, &m);
	cr_assert(i == -EPIPE || i == -ECONNRESET, "%s", strerror(-i));
	cr_assert_eq(stats().conns_refused, 1);
	close(c);
}

Test(server_feat, fd_and_dispatch_in_the_applications_epoll)
{
	struct epoll_event e = { .events = EPOLLIN }, got;
	uint8_t msg[64], reply[64];
	struct timespec t0, t1;
	struct vshm_msg m;
	int ep, fd, g, i;
	ssize_t n = -1;

	fd = vshm_server_fd(srv);
	cr_assert_geq(fd, 0);
	cr_assert_eq(vshm_server_fd(srv), fd);
	cr_assert_eq(vshm_server_dispatch(NULL), -EINVAL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	cr_assert_geq(ep, 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e), 0);
	/* Nothing to do: not readable, and dispatch does not wait. */
	cr_assert_eq(epoll_wait(ep, &got, 1, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(vshm_server_dispatch(srv), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 1);
	/* A guest connects and asks: the loop wakes, dispatch answers. */
	g = dial();
	n = vshm_encode_alloc(msg, sizeof(msg), 9, DEV_SIZE, VSHM_PAGE_SIZE,
			      VSHM_ACCESS_READ);
	cr_assert_eq(send(g, msg, (size_t)n, 0), n);
	for (i = 0, n = -1; i < 10 && n < 0; i++) {
		cr_assert_eq(epoll_wait(ep, &got, 1, 1000), 1,
			     "the server's fd never got readable");
		cr_assert_eq(vshm_server_dispatch(srv), 0);
		n = recv(g, reply, sizeof(reply), MSG_DONTWAIT);
	}
	cr_assert_gt(n, 0, "no answer");
	cr_assert_eq(vshm_decode(reply, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC_OK);
	cr_assert_eq(stats().conns_accepted, 1);
	/* A revocation event wakes it too. */
	cr_assert_eq(epoll_wait(ep, &got, 1, 0), 0);
	revoke_event(12345, VSHM_REVOKE_MEMMAP);
	cr_assert_eq(epoll_wait(ep, &got, 1, 1000), 1);
	cr_assert_eq(vshm_server_dispatch(srv), 0);
	cr_assert_eq(epoll_wait(ep, &got, 1, 0), 0, "event not consumed");
	close(g);
	close(ep);
}

/* The doorbell both ways. */
Test(server_feat, notify_from_the_guest_never_answered)
{
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int g, i;

	g = dial();
	hello(g, VSHM_FEAT_NOTIFY);
	dev_share(g, 1, 11);
	n = vshm_encode_notify(msg, sizeof(msg), 1, 0x10);
	cr_assert_eq(send(g, msg, (size_t)n, 0), n);
	for (i = 0; i < 20 && !count_calls('n'); i++)
		pump();
	i = find_call('n', 0);
	cr_assert_geq(i, 0, "on_notify not called");
	cr_assert_eq(fc.id[i], 1);
	cr_assert_eq(fc.arg[i], 0x10);
	/* Unknown region, and malformed: dropped. */
	n = vshm_encode_notify(msg, sizeof(msg), 2, 1);
	cr_assert_eq(send(g, msg, (size_t)n, 0), n);
	n = vshm_encode_notify(msg, sizeof(msg), 1, 1);
	msg[20] = 1;
	cr_assert_eq(send(g, msg, (size_t)n, 0), n);
	cr_assert_eq(guest_recv(g, &m), -EAGAIN, "a NOTIFY was answered: %s",
		     vshm_msg_type_name(m.type));
	cr_assert_eq(stats().notifies_in, 1);
	cr_assert_eq(stats().notifies_dropped, 2);
	/* Ringing back from on_notify works. */
	fc.notify_back = 0x20;
	n = vshm_encode_notify(msg, sizeof(msg), 1, 0x10);
	cr_assert_eq(send(g, msg, (size_t)n, 0), n);
	cr_assert_eq(guest_recv(g, &m), 0);
	cr_assert_eq(fc.notify_back_ret, 0);
	cr_assert_eq(m.type, VSHM_MSG_NOTIFY);
	cr_assert_eq(m.notify.bits, 0x20);
	close(g);
}

struct ringer {
	uint64_t conn;
	uint32_t region;
	int n, ret;
};

static void *ring(void *arg)
{
	struct ringer *r = arg;
	int i;

	for (i = 0; i < r->n && !r->ret; i++)
		r->ret = vshm_server_notify(srv, r->conn, r->region,
					    (uint32_t)i + 1);
	return NULL;
}

Test(server_feat, notify_from_another_thread)
{
	struct ringer rg = { .region = 1, .n = 50 };
	pthread_t t;
	struct vshm_msg m;
	uint64_t id, plain;
	int g, g2, i;

	g = dial();
	hello(g, VSHM_FEAT_NOTIFY);
	id = fc.conn[find_call('c', 0)];
	/* Not mapped yet. */
	cr_assert_eq(vshm_server_notify(srv, id, 1, 1), -ENOENT);
	dev_share(g, 1, 11);
	rg.conn = id;
	/* The server keeps serving while another thread rings. */
	cr_assert_eq(pthread_create(&t, NULL, ring, &rg), 0);
	for (i = 0; i < 20; i++)
		pump();
	pthread_join(t, NULL);
	cr_assert_eq(rg.ret, 0, "notify: %s", strerror(-rg.ret));
	for (i = 1; i <= rg.n; i++) {
		cr_assert_eq(guest_recv(g, &m), 0, "NOTIFY %d missing", i);
		cr_assert_eq(m.type, VSHM_MSG_NOTIFY);
		cr_assert_eq(m.region, 1);
		cr_assert_eq(m.notify.bits, (uint32_t)i);
	}
	cr_assert_eq(stats().notifies_out, (uint64_t)rg.n);
	/* What cannot be rung. */
	cr_assert_eq(vshm_server_notify(srv, id, 1, 0), -EINVAL);
	cr_assert_eq(vshm_server_notify(NULL, id, 1, 1), -EINVAL);
	cr_assert_eq(vshm_server_notify(srv, id, 2, 1), -ENOENT);
	cr_assert_eq(vshm_server_notify(srv, id + 100, 1, 1), -ENOENT);
	g2 = dial();
	dev_share(g2, 1, 21);			/* no HELLO */
	plain = fc.conn[find_call('c', find_call('c', 0) + 1)];
	cr_assert_eq(vshm_server_notify(srv, plain, 1, 1), -EOPNOTSUPP);
	/* Revoked: no longer. */
	revoke_event(11, VSHM_REVOKE_MEMMAP);
	pump();
	cr_assert_eq(vshm_server_notify(srv, id, 1, 1), -ENOENT);
	/* Gone: a closed connection's id is never reused. */
	dev_hang_up(g, 1);
	cr_assert_eq(vshm_server_notify(srv, id, 1, 1), -ENOENT);
	close(g2);
}

/* 0.2's fields took reserved entries: 0.1's layout, offset by offset. */
struct cfg_0_1 {
	uint32_t port;
	uint32_t max_conns;
	uint64_t max_region_size;
	uint32_t max_regions;
	uint64_t sock_buf;
	const char *mapper_path;
	vshm_on_mapped_fn on_mapped;
	vshm_on_ended_fn on_ended;
	void (*on_freed)(void *arg, const struct vshm_session_region *r);
	void (*log)(void *arg, const char *line);
	void *arg;
	uint64_t reserved[8];
};

struct stats_0_1 {
	uint64_t conns_accepted;
	uint64_t conns_refused;
	uint32_t conns_open;
	uint64_t regions_mapped;
	uint64_t regions_freed;
	uint64_t regions_dropped;
	uint64_t errors_sent;
	uint64_t unmap_errors;
	uint32_t regions_held;
	uint64_t reserved[8];
};

#define SAME_OFF(a, b, f) \
	static_assert(offsetof(a, f) == offsetof(b, f), #f " moved")

SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, port);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, max_conns);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, max_region_size);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, max_regions);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, sock_buf);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, mapper_path);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, on_mapped);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, on_ended);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, on_freed);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, log);
SAME_OFF(struct vshm_server_cfg, struct cfg_0_1, arg);
static_assert(sizeof(struct vshm_server_cfg) == sizeof(struct cfg_0_1),
	      "vshm_server_cfg changed size");
static_assert(offsetof(struct vshm_server_cfg, on_revoked) ==
	      offsetof(struct cfg_0_1, reserved), "on_revoked");
static_assert(offsetof(struct vshm_server_cfg, on_disconnect) ==
	      offsetof(struct cfg_0_1, reserved[3]), "on_disconnect");
static_assert(offsetof(struct vshm_server_cfg, reserved) ==
	      offsetof(struct cfg_0_1, reserved[4]), "reserved");
SAME_OFF(struct vshm_server_stats, struct stats_0_1, regions_held);
static_assert(sizeof(struct vshm_server_stats) == sizeof(struct stats_0_1),
	      "vshm_server_stats changed size");
static_assert(offsetof(struct vshm_server_stats, revocations) ==
	      offsetof(struct stats_0_1, reserved), "revocations");

Test(server_feat, reserved_config_entries_still_refused)
{
	struct vshm_server_cfg cfg = {
		.mapper_path = "/dev/zero",
		.on_revoked = fc_on_revoked,
		.log = log_line,
	};
	struct vshm_server *s2;

	cfg.reserved[3] = 1;
	errno = 0;
	cr_assert_null(vshm_server_new_on_fd(&cfg,
					     socket(AF_UNIX, SOCK_SEQPACKET,
						    0)));
	cr_assert_eq(errno, EINVAL);
	cfg.reserved[3] = 0;
	s2 = vshm_server_new_on_fd(&cfg, socket(AF_UNIX, SOCK_SEQPACKET, 0));
	cr_assert_not_null(s2, "%s", strerror(errno));
	vshm_server_free(s2);
}
