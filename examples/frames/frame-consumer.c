// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * frame-consumer: the host side of frame-producer, on the public server
 * library (<vsock-shm/server.h>, pkg-config vsock-shm-server), driven from
 * the application's own epoll loop (vshm_server_fd(), vshm_server_dispatch()).
 * See ../README.md.
 *
 *   frame-consumer --port PORT [--count N] [--timeout SEC]
 *
 * For each region a guest shares with the frames cookie, it attaches to
 * the channel laid out there (on_mapped), then on every doorbell
 * (on_notify) takes the frame headers the guest sent, checks that each
 * names a buffer inside the channel's bulk area, checks the frame's
 * checksum, and answers each frame on the host->guest ring (which rings the
 * guest's doorbell, vshm_server_notify(), when it sleeps). When the region
 * ends it prints one line:
 *
 *   frame-consumer: region 1 cid=3 frames=64 bytes=4194304 checksum_ok=64 bad=0 doorbells_in=12 doorbells_out=12 ended=freed
 *
 * The guest is not trusted: the channel library checks every index and
 * length it wrote, bulk offsets are checked with vshm_chan_bulk_ptr(), and
 * reading the region is guarded against SIGBUS and SIGSEGV (the host
 * module may revoke the mapping at any time).
 *
 * Exit status: 0 N regions (default 1) ended and every frame was good;
 * 1 the server could not start or failed; 2 bad arguments; 3 --timeout
 * (or SIGINT, SIGTERM) first; 4 a frame was bad, out of bounds, or the
 * channel broken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <vsock-shm/chan.h>
#include <vsock-shm/server.h>

#include "frames.h"

#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3
#define EXIT_BADDATA	4
#define MAX_STREAMS	16

struct app;

/* One guest's stream: a region with a channel. */
struct stream {
	struct app *a;
	bool used;
	uint64_t conn_id;
	uint32_t region;
	uint32_t cid;
	struct vshm_chan *chan;		/* NULL once revoked or broken */
	bool ack_pending;		/* ack waits for room in the ring */
	struct frame_ack ack;
	uint64_t frames, bytes, ok, bad, doorbells_in, doorbells_out;
};

struct app {
	struct vshm_server *server;
	struct stream streams[MAX_STREAMS];
	unsigned long count;		/* streams to see end */
	unsigned long ended;
	unsigned long bad;		/* bad frames, broken channels */
};

static volatile sig_atomic_t stop;
static sigjmp_buf read_jmp;
static volatile sig_atomic_t reading;

/* A revoked mapping faults: give up the read in progress, not the server. */
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

/* The channel's doorbell: a NOTIFY whose bits are the channel's events. */
static int ring_guest(void *arg, unsigned int events)
{
	struct stream *s = arg;
	int err = vshm_server_notify(s->a->server, s->conn_id, s->region,
				     events);

	if (err >= 0)
		s->doorbells_out++;
	return err;
}

static struct stream *find(struct app *a, uint64_t conn_id, uint32_t region)
{
	int i;

	for (i = 0; i < MAX_STREAMS; i++)
		if (a->streams[i].used && a->streams[i].conn_id == conn_id &&
		    a->streams[i].region == region)
			return &a->streams[i];
	return NULL;
}

static void drop_chan(struct stream *s)
{
	vshm_chan_detach(s->chan);
	s->chan = NULL;
}

/*
 * Runs fn(s, r), which reads the region: false if the mapping was revoked
 * meanwhile (SIGBUS, or SIGSEGV once replaced by the reservation).
 */
static bool guarded(void (*fn)(struct stream *,
			       const struct vshm_session_region *),
		    struct stream *s, const struct vshm_session_region *r)
{
	if (sigsetjmp(read_jmp, 1)) {
		reading = 0;
		return false;
	}
	reading = 1;
	fn(s, r);
	reading = 0;
	return true;
}

/* Attaches to the channel r holds (the library checks its header). */
static void attach(struct stream *s, const struct vshm_session_region *r)
{
	s->chan = vshm_chan_attach(r->ptr, (size_t)r->info.size,
				   VSHM_CHAN_SIDE_HOST);
}

/*
 * A region is mapped (the guest has no answer yet): attach to its channel
 * and arm the wait for the guest's first frame. Refuses a region without
 * the frames cookie or without a valid channel.
 */
static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct app *a = arg;
	struct stream *s = NULL;
	int i;

	if (r->cookie != FRAMES_COOKIE) {
		fprintf(stderr, "frame-consumer: region %" PRIu32 " cid=%" PRIu32 ": cookie %#" PRIx64 " is not a frames region: refused\n",
			r->id, r->peer_cid, r->cookie);
		return VSHM_E_DENIED;
	}
	for (i = 0; i < MAX_STREAMS && !s; i++)
		if (!a->streams[i].used)
			s = &a->streams[i];
	if (!s)
		return VSHM_E_QUOTA;
	memset(s, 0, sizeof(*s));
	if (!guarded(attach, s, r)) {
		fprintf(stderr, "frame-consumer: region %" PRIu32 ": mapping revoked while read\n",
			r->id);
		return VSHM_E_INTERNAL;
	}
	if (!s->chan) {
		fprintf(stderr, "frame-consumer: region %" PRIu32 " cid=%" PRIu32 ": no channel there (%s): refused\n",
			r->id, r->peer_cid, strerror(errno));
		return VSHM_E_DENIED;
	}
	s->a = a;
	s->used = true;
	s->conn_id = r->conn_id;
	s->region = r->id;
	s->cid = r->peer_cid;
	vshm_chan_set_notify(s->chan, ring_guest, s);
	/* Empty ring: arms the wait, so that the first frame rings us. */
	vshm_chan_prepare_wait(s->chan, VSHM_CHAN_EV_DATA);
	printf("frame-consumer: region %" PRIu32 " cid=%" PRIu32 " port=%" PRIu32 " size=%" PRIu64 " attached\n",
	       r->id, r->peer_cid, r->peer_port, r->info.size);
	fflush(stdout);
	return 0;
}

/*
 * Takes every frame the guest sent, answering each, until the ring is
 * empty and the wait armed again (or the ring back to the guest is full:
 * then the wait for room).
 */
static void drain(struct stream *s, const struct vshm_session_region *r)
{
	struct frame_msg m;
	ssize_t n;
	int w = 0;

	(void)r;

	for (;;) {
		if (s->ack_pending) {
			w = vshm_chan_send(s->chan, &s->ack, sizeof(s->ack));
			if (w == -EAGAIN) {
				w = vshm_chan_prepare_wait(s->chan, VSHM_CHAN_EV_SPACE);
				if (w == 0)
					return;	/* the guest rings when it read */
				if (w > 0)
					continue;
			}
			if (w < 0)
				goto broken;
			s->ack_pending = false;
		}
		n = vshm_chan_recv(s->chan, &m, sizeof(m));	/* a copy */
		if (n == -EAGAIN) {
			w = vshm_chan_prepare_wait(s->chan, VSHM_CHAN_EV_DATA);
			if (w == 0)
				return;	/* armed: the next frame rings us */
			if (w > 0)
				continue;
			goto broken;
		}
		if (n < 0) {
			w = (int)n;
			goto broken;
		}
		s->ack.seq = m.seq;
		s->ack.ok = 0;
		s->ack_pending = true;
		s->frames++;
		if (n == sizeof(m) && m.len % 8 == 0 && m.flags == 0) {
			/* Inside the bulk area, or NULL. */
			const void *px = vshm_chan_bulk_ptr(s->chan, m.offset, m.len);

			if (px && frame_sum(px, m.len) == m.checksum) {
				s->ack.ok = 1;
				s->ok++;
				s->bytes += m.len;
				continue;
			}
		}
		s->bad++;
		s->a->bad++;
	}
broken:
	fprintf(stderr, "frame-consumer: region %" PRIu32 " cid=%" PRIu32 ": channel broken (%s): ignored from now on\n",
		s->region, s->cid, strerror(-w));
	s->a->bad++;
	drop_chan(s);
}

/* The guest's doorbell: frames to take, or room for our acks. */
static void on_notify(void *arg, const struct vshm_session_region *r,
		      uint32_t bits)
{
	struct app *a = arg;
	struct stream *s = find(a, r->conn_id, r->id);

	(void)bits;	/* whatever it says, look at both rings */
	if (!s || !s->chan)
		return;
	s->doorbells_in++;
	if (!guarded(drain, s, r)) {
		fprintf(stderr, "frame-consumer: region %" PRIu32 ": mapping revoked while read\n",
			s->region);
		drop_chan(s);
	}
}

/* The host module revoked the mapping: stop reading it. */
static void on_revoked(void *arg, const struct vshm_session_region *r,
		       enum vshm_revoke_reason reason)
{
	struct stream *s = find(arg, r->conn_id, r->id);

	printf("frame-consumer: region %" PRIu32 " cid=%" PRIu32 " revoked (%s)\n",
	       r->id, r->peer_cid, vshm_revoke_reason_name(reason));
	fflush(stdout);
	if (s)
		drop_chan(s);
}

static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	struct app *a = arg;
	struct stream *s = find(a, r->conn_id, r->id);

	if (!s)
		return 0;	/* refused, or never mapped */
	printf("frame-consumer: region %" PRIu32 " cid=%" PRIu32 " frames=%" PRIu64 " bytes=%" PRIu64 " checksum_ok=%" PRIu64 " bad=%" PRIu64 " doorbells_in=%" PRIu64 " doorbells_out=%" PRIu64 " ended=%s\n",
	       s->region, s->cid, s->frames, s->bytes, s->ok, s->bad,
	       s->doorbells_in, s->doorbells_out, vshm_end_reason_name(why));
	fflush(stdout);
	drop_chan(s);
	s->used = false;
	a->ended++;
	return 0;	/* no pointer into the region is kept */
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: frame-consumer --port PORT [--count N] [--timeout SEC]\n"
		"  --port PORT     vsock port to listen on (required)\n"
		"  --count N       exit once N frame regions have ended (default 1)\n"
		"  --timeout SEC   give up after SEC seconds (exit 3); 0 (default): never\n"
		"exit: 0 ok, 1 server error, 2 usage, 3 timeout, 4 bad frames\n");
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
		.max_conns = MAX_STREAMS,
		.on_mapped = on_mapped,
		.on_notify = on_notify,
		.on_revoked = on_revoked,
		.on_ended = on_ended,
		.arg = &a,
	};
	struct vshm_server_stats st;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned long v, timeout = 0;
	struct sigaction sa;
	time_t t0;
	int c, ep, n, ret = 0;

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
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	a.server = vshm_server_new(&cfg);	/* logs why it failed */
	if (!a.server)
		return 1;
	/* Our own loop: the server is one descriptor among the caller's. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, vshm_server_fd(a.server), &ev)) {
		perror("frame-consumer: epoll");
		vshm_server_free(a.server);
		return 1;
	}
	printf("frame-consumer: listening on vsock port %" PRIu32 "\n", cfg.port);
	fflush(stdout);
	t0 = time(NULL);
	while (!stop && a.ended < a.count) {
		n = epoll_wait(ep, &ev, 1, 500);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (n > 0) {
			ret = vshm_server_dispatch(a.server);	/* never blocks */
			if (ret)
				break;
		}
		if (timeout && (unsigned long)(time(NULL) - t0) >= timeout)
			break;
	}
	vshm_server_get_stats(a.server, &st);
	vshm_server_free(a.server);
	if (ret) {
		fprintf(stderr, "frame-consumer: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(stderr, "frame-consumer: %lu region%s ended, %lu bad, %" PRIu64 " doorbells in, %" PRIu64 " out\n",
		a.ended, a.ended == 1 ? "" : "s", a.bad, st.notifies_in,
		st.notifies_out);
	if (a.bad)
		return EXIT_BADDATA;
	return a.ended >= a.count ? 0 : EXIT_TIMEOUT;

bad:
	usage(stderr);
	return EXIT_USAGE;
}
