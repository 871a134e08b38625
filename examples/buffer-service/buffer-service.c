// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * buffer-service: a host service that reads guest buffers again and again,
 * on the public server library (<vsock-shm/server.h>, pkg-config
 * vsock-shm-server). See ../README.md.
 *
 *   buffer-service --port PORT [--count N] [--timeout SEC]
 *
 * It takes the regions guests share with the buffer cookie (bufsvc.h) and
 * refuses others. Whenever a guest rings a region's doorbell (on_notify),
 * it reads the whole data area, writes its checksum into the buffer's
 * reply area and rings back with the same bits (vshm_server_notify()).
 * Each revocation is logged with its reason (on_revoked), each region's
 * end with the rounds it answered:
 *
 *   buffer-service: region 1 cid=3 cookie=0x6275662d73766331 revoked (freed)
 *   buffer-service: region 1 cid=3 rounds=8 bytes_read=8388096 ended (freed)
 *
 * Reads of a region outside on_mapped may fault (the host module may
 * revoke a mapping at any time): they are guarded against SIGBUS and
 * SIGSEGV, and an interrupted read is not answered.
 *
 * Exit status: 0 N regions (default 1) were answered and have ended;
 * 1 the server could not start or failed; 2 bad arguments; 3 --timeout (or
 * SIGINT, SIGTERM) first; 4 a read was cut short by a revocation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vsock-shm/server.h>

#include "bufsvc.h"

#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3
#define EXIT_CUT	4
#define MAX_BUFS	16

/* A guest's buffer, found by its cookie. */
struct buf {
	bool used;
	uint64_t conn_id;
	uint32_t region;
	uint64_t rounds, bytes;
};

struct app {
	struct vshm_server *server;
	struct buf bufs[MAX_BUFS];
	unsigned long count, ended, cut;
};

static volatile sig_atomic_t stop;
static sigjmp_buf read_jmp;
static volatile sig_atomic_t reading;

static void on_fault(int sig)
{
	if (reading)
		siglongjmp(read_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static struct buf *find(struct app *a, uint64_t conn_id, uint32_t region)
{
	int i;

	for (i = 0; i < MAX_BUFS; i++)
		if (a->bufs[i].used && a->bufs[i].conn_id == conn_id &&
		    a->bufs[i].region == region)
			return &a->bufs[i];
	return NULL;
}

/* A guest shared a region: keep it if its cookie says it is a buffer. */
static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct app *a = arg;
	int i;

	if (r->cookie != BUFSVC_COOKIE || r->info.size <= BUFSVC_REPLY_SIZE ||
	    !(r->info.access & VSHM_ACCESS_WRITE)) {
		fprintf(stderr, "buffer-service: region %" PRIu32 " cid=%" PRIu32 " cookie=%#" PRIx64 ": not a writable buffer of ours: refused\n",
			r->id, r->peer_cid, r->cookie);
		return VSHM_E_DENIED;
	}
	for (i = 0; i < MAX_BUFS; i++) {
		if (!a->bufs[i].used) {
			a->bufs[i] = (struct buf){ .used = true,
				.conn_id = r->conn_id, .region = r->id };
			printf("buffer-service: region %" PRIu32 " cid=%" PRIu32 " port=%" PRIu32 " cookie=%#" PRIx64 " size=%" PRIu64 " found\n",
			       r->id, r->peer_cid, r->peer_port, r->cookie,
			       r->info.size);
			fflush(stdout);
			return 0;
		}
	}
	return VSHM_E_QUOTA;
}

/*
 * Reads the data area and writes the reply: false if the mapping was
 * revoked meanwhile. A noinline frame of its own for sigsetjmp.
 */
static bool answer(const struct vshm_session_region *r, uint64_t round)
{
	size_t data = (size_t)r->info.size - BUFSVC_REPLY_SIZE;
	volatile struct bufsvc_reply *reply;
	uint64_t sum;

	if (sigsetjmp(read_jmp, 1)) {
		reading = 0;
		return false;
	}
	reading = 1;
	sum = bufsvc_sum(r->ptr, data);
	reply = (volatile struct bufsvc_reply *)((char *)r->ptr + data);
	reply->checksum = sum;
	reply->bytes = data;
	/* The checksum before the round that says it is there. */
	atomic_thread_fence(memory_order_release);
	reply->round = round;
	reading = 0;
	return true;
}

/* The guest's doorbell: it rewrote the buffer; read it all and answer. */
static void on_notify(void *arg, const struct vshm_session_region *r,
		      uint32_t bits)
{
	struct app *a = arg;
	struct buf *b = find(a, r->conn_id, r->id);
	int err;

	if (!b)
		return;
	if (!answer(r, bits)) {
		fprintf(stderr, "buffer-service: region %" PRIu32 ": mapping revoked while read: not answered\n",
			r->id);
		a->cut++;
		return;
	}
	b->rounds++;
	b->bytes += r->info.size - BUFSVC_REPLY_SIZE;
	err = vshm_server_notify(a->server, r->conn_id, r->id, bits);
	if (err)
		fprintf(stderr, "buffer-service: region %" PRIu32 ": notify: %s\n",
			r->id, strerror(-err));
}

/* The host module took the mapping away: say why. */
static void on_revoked(void *arg, const struct vshm_session_region *r,
		       enum vshm_revoke_reason reason)
{
	(void)arg;
	printf("buffer-service: region %" PRIu32 " cid=%" PRIu32 " cookie=%#" PRIx64 " revoked (%s)\n",
	       r->id, r->peer_cid, r->cookie, vshm_revoke_reason_name(reason));
	fflush(stdout);
}

static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	struct app *a = arg;
	struct buf *b = find(a, r->conn_id, r->id);

	if (!b)
		return 0;
	printf("buffer-service: region %" PRIu32 " cid=%" PRIu32 " rounds=%" PRIu64 " bytes_read=%" PRIu64 " ended (%s)\n",
	       r->id, r->peer_cid, b->rounds, b->bytes,
	       vshm_end_reason_name(why));
	fflush(stdout);
	b->used = false;
	a->ended++;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: buffer-service --port PORT [--count N] [--timeout SEC]\n"
		"  --port PORT     vsock port to listen on (required)\n"
		"  --count N       exit once N buffers have ended (default 1)\n"
		"  --timeout SEC   give up after SEC seconds (exit 3); 0 (default): never\n"
		"exit: 0 ok, 1 server error, 2 usage, 3 timeout, 4 a read cut short\n");
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *s == '-' || *end || v > max)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct app a = { .count = 1 };
	struct vshm_server_cfg cfg = {
		.max_conns = MAX_BUFS,
		.on_mapped = on_mapped,
		.on_notify = on_notify,
		.on_revoked = on_revoked,
		.on_ended = on_ended,
		.arg = &a,
	};
	unsigned long v, timeout = 0;
	struct sigaction sa;
	time_t t0;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ul(optarg, 0xffffffffUL, &v) || !v)
				goto bad;
			cfg.port = (uint32_t)v;
			break;
		case 'n':
			if (parse_ul(optarg, ~0UL, &a.count) || !a.count)
				goto bad;
			break;
		case 't':
			if (parse_ul(optarg, 86400UL * 365, &timeout))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || !cfg.port)
		goto bad;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	a.server = vshm_server_new(&cfg);	/* logs why it failed */
	if (!a.server)
		return 1;
	printf("buffer-service: listening on vsock port %" PRIu32 "\n", cfg.port);
	fflush(stdout);
	t0 = time(NULL);
	while (!stop && a.ended < a.count) {
		ret = vshm_server_poll(a.server, 500);	/* the blocking API */
		if (ret)
			break;
		if (timeout && (unsigned long)(time(NULL) - t0) >= timeout)
			break;
	}
	vshm_server_free(a.server);
	if (ret) {
		fprintf(stderr, "buffer-service: poll: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(stderr, "buffer-service: %lu buffer%s ended, %lu reads cut short\n",
		a.ended, a.ended == 1 ? "" : "s", a.cut);
	if (a.cut)
		return EXIT_CUT;
	return a.ended >= a.count ? 0 : EXIT_TIMEOUT;

bad:
	usage(stderr);
	return EXIT_USAGE;
}
