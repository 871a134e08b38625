// SPDX-License-Identifier: GPL-2.0
/*
 * The host server library's poll loop (userspace/host/vshm_server.c),
 * served on an AF_UNIX SOCK_SEQPACKET listener, with /dev/null as the
 * "mapper" (no module here: a GPA_LIST arrives untranslated and is
 * answered VSHM_E_NOPOLICY, and the mapper ioctls fail). The guest side is
 * the guest library or raw messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "vshm_guest.h"
#include "vshm_server.h"

static struct vshm_server *srv;
static pthread_t srv_thread;
static struct sockaddr_un addr;
static socklen_t addr_len;
static int freed_calls;
static char last_log[256];

static void on_freed(void *arg, const struct vshm_session_region *r)
{
	(void)arg;
	(void)r;
	freed_calls++;
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
		.log = log_line,
	};

	freed_calls = 0;
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
