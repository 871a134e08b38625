// SPDX-License-Identifier: GPL-2.0
/*
 * chan-bench-server: the host side of chan-bench (chan_bench.h). Serves
 * the channel figures on PORT with the server library (each region with
 * the bench cookie holds a channel: it counts the messages of each phase,
 * copying each out as a reader would, and answers the phase's end with the
 * count; it rings every ping straight back) and the stream figures on
 * PORT + 1 (a sink that answers with the bytes read, or an echo), in a
 * thread of its own. Runs until SIGINT or SIGTERM.
 *
 *   chan-bench-server --port PORT
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <vsock-shm/chan.h>
#include <vsock-shm/server.h>

#include "chan_bench.h"

#define MAX_CHANS	4

struct chan {
	bool used;
	uint64_t conn_id;
	uint32_t region;
	struct vshm_chan *c;
	struct chan_bench_count cnt;
	bool reply_pending;
};

static struct vshm_server *server;
static struct chan chans[MAX_CHANS];
static uint8_t rxbuf[CHAN_BENCH_RING];

static struct chan *find(uint64_t conn_id, uint32_t region)
{
	for (int i = 0; i < MAX_CHANS; i++)
		if (chans[i].used && chans[i].conn_id == conn_id &&
		    chans[i].region == region)
			return &chans[i];
	return NULL;
}

static int ring_guest(void *arg, unsigned int events)
{
	struct chan *ch = arg;

	return vshm_server_notify(server, ch->conn_id, ch->region, events);
}

static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	(void)arg;
	if (r->cookie != CHAN_BENCH_COOKIE)
		return VSHM_E_DENIED;
	for (int i = 0; i < MAX_CHANS; i++) {
		struct chan *ch = &chans[i];

		if (ch->used)
			continue;
		memset(ch, 0, sizeof(*ch));
		ch->c = vshm_chan_attach(r->ptr, (size_t)r->info.size,
					 VSHM_CHAN_SIDE_HOST);
		if (!ch->c)
			return VSHM_E_DENIED;
		ch->used = true;
		ch->conn_id = r->conn_id;
		ch->region = r->id;
		vshm_chan_set_notify(ch->c, ring_guest, ch);
		vshm_chan_prepare_wait(ch->c, VSHM_CHAN_EV_DATA);
		return 0;
	}
	return VSHM_E_QUOTA;
}

/* Every message there is; a message of length 0 ends a phase. */
static void drain(struct chan *ch)
{
	ssize_t n;
	int w;

	for (;;) {
		if (ch->reply_pending) {
			w = vshm_chan_send(ch->c, &ch->cnt, sizeof(ch->cnt));
			if (w == -EAGAIN) {
				if (vshm_chan_prepare_wait(ch->c, VSHM_CHAN_EV_SPACE) == 0)
					return;
				continue;
			}
			if (w)
				goto broken;
			ch->reply_pending = false;
			memset(&ch->cnt, 0, sizeof(ch->cnt));
		}
		n = vshm_chan_recv(ch->c, rxbuf, sizeof(rxbuf));
		if (n == -EAGAIN) {
			w = vshm_chan_prepare_wait(ch->c, VSHM_CHAN_EV_DATA);
			if (w == 0)
				return;
			if (w < 0)
				goto broken;
			continue;
		}
		if (n < 0)
			goto broken;
		if (n == 0) {
			ch->reply_pending = true;
			continue;
		}
		ch->cnt.msgs++;
		ch->cnt.bytes += (uint64_t)n;
	}
broken:
	fprintf(stderr, "chan-bench-server: region %" PRIu32 ": channel broken\n",
		ch->region);
	vshm_chan_detach(ch->c);
	ch->c = NULL;
}

static void on_notify(void *arg, const struct vshm_session_region *r,
		      uint32_t bits)
{
	struct chan *ch = find(r->conn_id, r->id);

	(void)arg;
	if (!ch || !ch->c)
		return;
	if (bits & CHAN_BENCH_PING)
		vshm_server_notify(server, r->conn_id, r->id, CHAN_BENCH_PING);
	if (bits & ~CHAN_BENCH_PING)
		drain(ch);
}

static void forget(const struct vshm_session_region *r)
{
	struct chan *ch = find(r->conn_id, r->id);

	if (ch) {
		vshm_chan_detach(ch->c);
		ch->c = NULL;
		ch->used = false;
	}
}

static void on_revoked(void *arg, const struct vshm_session_region *r,
		       enum vshm_revoke_reason reason)
{
	(void)arg;
	(void)reason;
	forget(r);
}

static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	(void)arg;
	(void)why;
	forget(r);
	return 0;
}

static int full_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The stream side: one connection at a time, as chan-bench makes them. */
static void *stream_main(void *arg)
{
	static uint8_t buf[1 << 20];
	unsigned int port = *(unsigned int *)arg;
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int ls = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 4)) {
		fprintf(stderr, "chan-bench-server: stream port %u: %s\n", port,
			strerror(errno));
		exit(1);
	}
	for (;;) {
		struct chan_bench_hello h;
		struct chan_bench_count cnt = { 0 };
		size_t got = 0;
		ssize_t n;
		int c = accept(ls, NULL, NULL);

		if (c < 0)
			continue;
		while (got < sizeof(h) &&
		       (n = read(c, (char *)&h + got, sizeof(h) - got)) > 0)
			got += (size_t)n;
		if (got == sizeof(h) && h.mode == CHAN_BENCH_SINK) {
			while ((n = read(c, buf, sizeof(buf))) > 0)
				cnt.bytes += (uint64_t)n;
			full_write(c, &cnt, sizeof(cnt));
		} else if (got == sizeof(h) && h.mode == CHAN_BENCH_ECHO) {
			while ((n = read(c, buf, sizeof(buf))) > 0)
				if (full_write(c, buf, (size_t)n))
					break;
		}
		close(c);
	}
	return NULL;
}

static void on_stop(int sig)
{
	(void)sig;
	if (server)
		vshm_server_stop(server);
}

int main(int argc, char **argv)
{
	struct vshm_server_cfg cfg = {
		.max_conns = MAX_CHANS,
		.on_mapped = on_mapped,
		.on_notify = on_notify,
		.on_revoked = on_revoked,
		.on_ended = on_ended,
	};
	struct sigaction sa = { .sa_handler = on_stop };
	unsigned int sport;
	pthread_t t;
	char *end;

	if (argc != 3 || strcmp(argv[1], "--port")) {
		fprintf(stderr, "usage: chan-bench-server --port PORT\n");
		return 2;
	}
	cfg.port = (uint32_t)strtoul(argv[2], &end, 0);
	if (*end || !cfg.port) {
		fprintf(stderr, "usage: chan-bench-server --port PORT\n");
		return 2;
	}
	sport = cfg.port + 1;
	signal(SIGPIPE, SIG_IGN);
	server = vshm_server_new(&cfg);
	if (!server)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (pthread_create(&t, NULL, stream_main, &sport)) {
		fprintf(stderr, "chan-bench-server: thread failed\n");
		return 1;
	}
	printf("chan-bench-server: channels on port %" PRIu32 ", stream on %u\n",
	       cfg.port, sport);
	fflush(stdout);
	vshm_server_run(server);
	vshm_server_free(server);
	return 0;
}
