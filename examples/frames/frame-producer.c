// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * frame-producer: streams frames to a host consumer through a vshm_chan
 * (<vsock-shm/chan.h>) in one shared region, on the public guest library
 * (<vsock-shm/guest.h>, pkg-config vsock-shm-guest). Runs in a VM, as root.
 * See ../README.md.
 *
 *   frame-producer --port PORT [--cid CID] [--frames N] [--frame-size S]
 *                  [--slots K] [--wait-ms MS] [--timeout-ms MS]
 *
 * The region holds a channel whose bulk area has K slots of S bytes. For
 * each frame the producer writes its pixels in place into the next free
 * slot (no copy through vsock) and sends a small header naming the slot
 * (struct frame_msg, frames.h) on the guest->host ring. The host answers
 * every frame on the host->guest ring (struct frame_ack), which frees its
 * slot: at most K frames are in flight. Doorbells go both ways as protocol
 * NOTIFYs, and only when the library says the other side sleeps; the
 * producer sleeps in poll() on the connection's descriptor.
 *
 * Exit status: 0 every frame was acknowledged as good; 1 a failure
 * (cannot connect, no doorbells on this host, no answer in --timeout-ms,
 * a broken channel, ...); 2 bad arguments; 3 the host refused the region;
 * 4 the host reported a frame with a bad checksum.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vsock-shm/chan.h>
#include <vsock-shm/guest.h>

#include "frames.h"

#define EXIT_USAGE	2
#define EXIT_REFUSED	3
#define EXIT_BADFRAME	4
#define RING_SIZE	4096U

struct producer {
	struct vshm_guest *g;
	struct vshm_region *r;
	struct vshm_chan *chan;
	struct vshm_chan_params params;
	unsigned long doorbells_in;	/* NOTIFYs from the host */
	bool revoked;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Lays out the channel in the fresh memory, before it is shared. */
static int format(void *ptr, size_t size, uint32_t region, void *arg)
{
	const struct vshm_chan_params *p = arg;
	ssize_t n;

	(void)region;
	n = vshm_chan_format(ptr, size, p);
	return n < 0 ? (int)n : 0;
}

/* The channel's doorbell: a NOTIFY whose bits are the channel's events. */
static int ring_host(void *arg, unsigned int events)
{
	struct producer *p = arg;

	return vshm_region_notify(p->r, events);
}

/* Events of the connection (vshm_guest_dispatch()). */
static void on_event(struct vshm_guest *g, const struct vshm_guest_event *ev,
		     void *arg)
{
	struct producer *p = arg;

	(void)g;
	if (ev->r != p->r)
		return;
	if (ev->type == VSHM_GUEST_EV_NOTIFY) {
		p->doorbells_in++;
	} else if (ev->type == VSHM_GUEST_EV_REVOKED) {
		fprintf(stderr, "frame-producer: the host revoked region %" PRIu32 " (%s)\n",
			ev->region, vshm_revoke_reason_name(ev->reason));
		p->revoked = true;
	}
}

/*
 * Sleeps until a doorbell (or any message) arrives on the connection, then
 * hands the events out. 0, or -ETIMEDOUT, or the library's error.
 */
static int wait_doorbell(struct producer *p, int timeout_ms)
{
	struct pollfd pfd = { .fd = vshm_guest_fd(p->g), .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	n = vshm_guest_dispatch(p->g);
	return n < 0 ? n : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: frame-producer --port PORT [--cid CID] [--frames N] [--frame-size S]\n"
		"                      [--slots K] [--wait-ms MS] [--timeout-ms MS]\n"
		"  --port PORT       the host consumer's vsock port (required)\n"
		"  --cid CID         the host's CID (default 2)\n"
		"  --frames N        frames to stream (default 64)\n"
		"  --frame-size S    bytes per frame, a multiple of 64 (default 65536)\n"
		"  --slots K         frames in flight at most (default 8)\n"
		"  --wait-ms MS      keep trying to connect this long (default 10000)\n"
		"  --timeout-ms MS   longest wait for the host (default 30000)\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 refused, 4 a frame reported bad\n");
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
		{ "cid", required_argument, NULL, 'c' },
		{ "frames", required_argument, NULL, 'n' },
		{ "frame-size", required_argument, NULL, 's' },
		{ "slots", required_argument, NULL, 'k' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long cid = 2, port = 0, frames = 64, fsize = 65536, slots = 8;
	unsigned long wait_ms = 10000, timeout_ms = 30000;
	struct producer p = { 0 };
	struct vshm_guest_opts go = { 0 };
	struct vshm_chan_stats st;
	uint64_t sent = 0, acked = 0, bad = 0, t0, ns;
	size_t size, bulk_size;
	bool written = false, want_space = false;
	uint8_t *bulk;
	int c, err, ret = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ul(optarg, 0xffffffffUL, &port) || !port)
				goto bad;
			break;
		case 'c':
			if (parse_ul(optarg, 0xffffffffUL, &cid))
				goto bad;
			break;
		case 'n':
			if (parse_ul(optarg, 1UL << 40, &frames) || !frames)
				goto bad;
			break;
		case 's':
			if (parse_ul(optarg, 1UL << 30, &fsize) || !fsize ||
			    fsize % 64)
				goto bad;
			break;
		case 'k':
			if (parse_ul(optarg, 64, &slots) || !slots)
				goto bad;
			break;
		case 'w':
			if (parse_ul(optarg, 3600000, &wait_ms))
				goto bad;
			break;
		case 't':
			if (parse_ul(optarg, 3600000, &timeout_ms) || !timeout_ms)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || !port)
		goto bad;

	/* The channel: small rings for headers and acks, K frame slots. */
	p.params.g2h_size = RING_SIZE;
	p.params.h2g_size = RING_SIZE;
	p.params.bulk_size = (uint64_t)slots * fsize;
	size = vshm_chan_layout_size(&p.params);
	if (!size) {
		fprintf(stderr, "frame-producer: no channel layout for these sizes\n");
		return EXIT_USAGE;
	}
	size = (size + 4095) & ~(size_t)4095;

	go.cid = (unsigned int)cid;
	go.port = (unsigned int)port;
	go.timeout_ms = (int)timeout_ms;
	go.connect_wait_ms = (int)wait_ms;	/* the host may start later */
	p.g = vshm_guest_connect_opts(&go);
	if (!p.g) {
		fprintf(stderr, "frame-producer: connect to %lu:%lu: %s\n", cid,
			port, strerror(errno));
		return 1;
	}
	if (!(vshm_guest_features(p.g) & VSHM_FEAT_NOTIFY)) {
		fprintf(stderr, "frame-producer: the host has no doorbells (VSHM_FEAT_NOTIFY)\n");
		goto out;
	}
	vshm_guest_set_event_cb(p.g, on_event, &p);

	{
		struct vshm_share_args a = {
			.size = size,
			.access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE,
			.cookie = FRAMES_COOKIE,
			.fill = format,
			.fill_arg = &p.params,
		};

		p.r = vshm_share_ex(p.g, &a);
	}
	if (!p.r) {
		err = errno;
		fprintf(stderr, "frame-producer: share %zu bytes: %s (%s)\n", size,
			strerror(err), vshm_guest_last_failure(p.g));
		ret = err == EPROTO ? EXIT_REFUSED : 1;
		goto out;
	}
	p.chan = vshm_chan_attach(vshm_region_ptr(p.r), size,
				  VSHM_CHAN_SIDE_GUEST);
	if (!p.chan) {
		fprintf(stderr, "frame-producer: attach: %s\n", strerror(errno));
		goto out;
	}
	vshm_chan_set_notify(p.chan, ring_host, &p);
	bulk = vshm_chan_bulk(p.chan, &bulk_size);
	printf("frame-producer: region %" PRIu32 " size=%zu frames=%lu frame_size=%lu slots=%lu\n",
	       vshm_region_id(p.r), size, frames, fsize, slots);
	fflush(stdout);

	t0 = now_ns();
	while (acked < frames) {
		struct frame_ack ack;
		bool progress = false;
		ssize_t n;

		/* Acks first: each one frees a slot. */
		while ((n = vshm_chan_recv(p.chan, &ack, sizeof(ack))) >= 0) {
			if (n != sizeof(ack) || ack.seq != acked) {
				fprintf(stderr, "frame-producer: bad ack (len %zd, seq %" PRIu64 ", expected %" PRIu64 ")\n",
					n, ack.seq, acked);
				goto out;
			}
			if (!ack.ok)
				bad++;
			acked++;
			progress = true;
		}
		if (n != -EAGAIN) {
			fprintf(stderr, "frame-producer: receive: %s\n", strerror((int)-n));
			goto out;
		}
		/* Then as many frames as there are free slots. */
		while (sent < frames && sent - acked < slots) {
			uint64_t off = (sent % slots) * fsize;
			uint64_t *px = (uint64_t *)(bulk + off);
			struct frame_msg m = {
				.seq = sent, .offset = off, .len = (uint32_t)fsize,
			};
			size_t i;

			if (!written) {		/* the pixels, in place */
				for (i = 0; i < fsize / 8; i++)
					px[i] = frame_word(sent, i);
				written = true;
			}
			m.checksum = frame_sum(px, fsize);
			err = vshm_chan_send(p.chan, &m, sizeof(m));
			if (err == -EAGAIN) {
				want_space = true;
				break;
			}
			if (err) {
				fprintf(stderr, "frame-producer: send: %s\n", strerror(-err));
				goto out;
			}
			written = false;
			want_space = false;
			sent++;
			progress = true;
		}
		if (p.revoked)
			goto out;
		if (progress || acked == frames)
			continue;
		/* Nothing to do: arm the wait, then sleep for a doorbell. */
		err = vshm_chan_prepare_wait(p.chan, VSHM_CHAN_EV_DATA |
					     (want_space ? VSHM_CHAN_EV_SPACE : 0));
		if (err > 0)
			continue;
		if (err == 0)
			err = wait_doorbell(&p, (int)timeout_ms);
		if (err) {
			fprintf(stderr, "frame-producer: waiting for the host: %s (%" PRIu64 " of %lu frames acknowledged)\n",
				strerror(-err), acked, frames);
			goto out;
		}
	}
	ns = now_ns() - t0;
	vshm_chan_get_stats(p.chan, &st);
	printf("frame-producer: frames=%" PRIu64 " bytes=%" PRIu64 " acked=%" PRIu64 " bad=%" PRIu64 " doorbells_out=%" PRIu64 " doorbells_in=%lu ms=%.3f\n",
	       sent, sent * fsize, acked, bad, st.notify_sent, p.doorbells_in,
	       ns / 1e6);
	ret = bad ? EXIT_BADFRAME : 0;

out:
	vshm_chan_detach(p.chan);
	if (p.r && vshm_free(p.r)) {
		fprintf(stderr, "frame-producer: free: %s\n", vshm_guest_last_failure(p.g));
		ret = ret ? ret : 1;
	}
	vshm_guest_close(p.g);
	printf("frame-producer: %s\n", ret ? "FAILED" : "OK");
	return ret;

bad:
	usage(stderr);
	return EXIT_USAGE;
}
