// SPDX-License-Identifier: GPL-2.0
/*
 * chan-bench: the guest side of the channel figures of "make bench"
 * (chan_bench.h, docs/performance.md). Against chan-bench-server on the
 * host, for each message size: messages sent for --ms through a vshm_chan,
 * then as long through a vsock stream; then doorbell round trips for --ms,
 * then vsock ping-pongs for as long. One line per figure:
 *
 *   chan-bench: size=64 chan_msgs=N chan_bytes=B chan_ms=T doorbells=D vsock_msgs=N vsock_bytes=B vsock_ms=T
 *   chan-bench: rtt doorbell_n=N doorbell_ms=T vsock_n=N vsock_ms=T
 *
 * Times run from the first message to the host's count of them (or to the
 * last pong). Nothing here judges them: scripts/bench-report.sh computes
 * the ratios.
 *
 *   chan-bench --port PORT [--cid CID] [--sizes N,N,...] [--ms MS]
 *
 * Exit status: 0 all measured, 1 a failure, 2 bad arguments.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <vsock-shm/chan.h>
#include <vsock-shm/guest.h>

#include "chan_bench.h"

#define MAX_SIZES	8
#define TIMEOUT_MS	60000

struct bench {
	struct vshm_guest *g;
	struct vshm_region *r;
	struct vshm_chan *chan;
	uint32_t pongs;		/* ping bits seen */
	unsigned int cid, port;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int format(void *ptr, size_t size, uint32_t region, void *arg)
{
	ssize_t n = vshm_chan_format(ptr, size, arg);

	(void)region;
	return n < 0 ? (int)n : 0;
}

static int ring_host(void *arg, unsigned int events)
{
	struct bench *b = arg;

	return vshm_region_notify(b->r, events);
}

static void on_event(struct vshm_guest *g, const struct vshm_guest_event *ev,
		     void *arg)
{
	struct bench *b = arg;

	(void)g;
	if (ev->type == VSHM_GUEST_EV_NOTIFY && (ev->bits & CHAN_BENCH_PING))
		b->pongs++;
}

/* Sleeps until the host's next message on the connection, then hands out. */
static int wait_host(struct bench *b)
{
	struct pollfd pfd = { .fd = vshm_guest_fd(b->g), .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -ETIMEDOUT;
	n = vshm_guest_dispatch(b->g);
	return n < 0 ? n : 0;
}

/* Waits for a channel event: armed and asleep, or already there. */
static int wait_chan(struct bench *b, unsigned int events)
{
	int n = vshm_chan_prepare_wait(b->chan, events);

	if (n < 0)
		return n;
	return n > 0 ? 0 : wait_host(b);
}

static int chan_send(struct bench *b, const void *msg, size_t len)
{
	int err;

	while ((err = vshm_chan_send(b->chan, msg, len)) == -EAGAIN) {
		err = wait_chan(b, VSHM_CHAN_EV_SPACE);
		if (err)
			return err;
	}
	return err;
}

/* Messages of size bytes for ms, through the channel. */
static int chan_phase(struct bench *b, size_t size, unsigned int ms)
{
	static uint8_t msg[CHAN_BENCH_MAX_MSG];
	struct chan_bench_count cnt;
	struct vshm_chan_stats s0, s1;
	uint64_t t0, end, n = 0;
	ssize_t len;
	int err;

	memset(msg, 0x5a, size);
	vshm_chan_get_stats(b->chan, &s0);
	t0 = now_ns();
	end = t0 + ms * 1000000ULL;
	do {
		for (int i = 0; i < 64; i++, n++) {
			err = chan_send(b, msg, size);
			if (err)
				return err;
		}
	} while (now_ns() < end);
	err = chan_send(b, msg, 0);	/* the end of the phase */
	if (err)
		return err;
	while ((len = vshm_chan_recv(b->chan, &cnt, sizeof(cnt))) == -EAGAIN) {
		err = wait_chan(b, VSHM_CHAN_EV_DATA);
		if (err)
			return err;
	}
	if (len != sizeof(cnt))
		return len < 0 ? (int)len : -EBADMSG;
	t0 = now_ns() - t0;
	vshm_chan_get_stats(b->chan, &s1);
	if (cnt.msgs != n || cnt.bytes != n * size) {
		fprintf(stderr, "chan-bench: the host counted %" PRIu64 " messages, %" PRIu64 " bytes of %" PRIu64 " sent\n",
			cnt.msgs, cnt.bytes, n);
		return -EBADMSG;
	}
	printf("chan-bench: size=%zu chan_msgs=%" PRIu64 " chan_bytes=%" PRIu64 " chan_ms=%.3f doorbells=%" PRIu64,
	       size, n, n * size, t0 / 1e6, s1.notify_sent - s0.notify_sent);
	return 0;
}

static int full_io(int fd, void *buf, size_t len, bool wr)
{
	char *p = buf;

	while (len) {
		ssize_t n = wr ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stream_open(struct bench *b, uint32_t mode, uint32_t size)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = b->cid,
		.svm_port = b->port + 1,
	};
	struct chan_bench_hello h = { .mode = mode, .msg_size = size };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	err = full_io(fd, &h, sizeof(h), true);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* The same messages for as long, through a vsock stream. */
static int stream_phase(struct bench *b, size_t size, unsigned int ms)
{
	static uint8_t msg[CHAN_BENCH_MAX_MSG];
	struct chan_bench_count cnt;
	uint64_t t0, end, n = 0;
	int fd, err;

	memset(msg, 0x5a, size);
	fd = stream_open(b, CHAN_BENCH_SINK, (uint32_t)size);
	if (fd < 0)
		return fd;
	t0 = now_ns();
	end = t0 + ms * 1000000ULL;
	do {
		for (int i = 0; i < 64; i++, n++) {
			err = full_io(fd, msg, size, true);
			if (err)
				goto out;
		}
	} while (now_ns() < end);
	shutdown(fd, SHUT_WR);
	err = full_io(fd, &cnt, sizeof(cnt), false);
	if (err)
		goto out;
	t0 = now_ns() - t0;
	if (cnt.bytes != n * size) {
		fprintf(stderr, "chan-bench: the host read %" PRIu64 " bytes of %" PRIu64 "\n",
			cnt.bytes, n * size);
		err = -EBADMSG;
		goto out;
	}
	printf(" vsock_msgs=%" PRIu64 " vsock_bytes=%" PRIu64 " vsock_ms=%.3f\n",
	       n, n * size, t0 / 1e6);
	fflush(stdout);
out:
	close(fd);
	return err;
}

/* Doorbell round trips for ms, then vsock ping-pongs for as long. */
static int rtt(struct bench *b, unsigned int ms)
{
	uint64_t t0, end, n = 0, t1, m = 0;
	char ping[CHAN_BENCH_PING_SIZE] = "ping";
	int fd, err;

	t0 = now_ns();
	end = t0 + ms * 1000000ULL;
	do {
		b->pongs = 0;
		err = vshm_region_notify(b->r, CHAN_BENCH_PING);
		while (!err && !b->pongs)
			err = wait_host(b);
		if (err)
			return err;
		n++;
	} while (now_ns() < end);
	t0 = now_ns() - t0;

	fd = stream_open(b, CHAN_BENCH_ECHO, CHAN_BENCH_PING_SIZE);
	if (fd < 0)
		return fd;
	t1 = now_ns();
	end = t1 + ms * 1000000ULL;
	do {
		err = full_io(fd, ping, sizeof(ping), true);
		if (!err)
			err = full_io(fd, ping, sizeof(ping), false);
		if (err) {
			close(fd);
			return err;
		}
		m++;
	} while (now_ns() < end);
	t1 = now_ns() - t1;
	close(fd);
	printf("chan-bench: rtt doorbell_n=%" PRIu64 " doorbell_ms=%.3f vsock_n=%" PRIu64 " vsock_ms=%.3f\n",
	       n, t0 / 1e6, m, t1 / 1e6);
	fflush(stdout);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: chan-bench --port PORT [--cid CID] [--sizes N,N,...] [--ms MS]\n"
		"  --port PORT    chan-bench-server's port (its stream: PORT + 1)\n"
		"  --sizes LIST   message sizes in bytes, up to %u (default 64,4096,65536)\n"
		"  --ms MS        time per measurement (default 2000)\n",
		CHAN_BENCH_MAX_MSG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cid", required_argument, NULL, 'c' },
		{ "sizes", required_argument, NULL, 's' },
		{ "ms", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vshm_chan_params p = {
		.g2h_size = CHAN_BENCH_RING,
		.h2g_size = CHAN_BENCH_RING_BACK,
	};
	struct bench b = { .cid = 2 };
	struct vshm_guest_opts go = { 0 };
	struct vshm_share_args sa = { 0 };
	size_t sizes[MAX_SIZES] = { 64, 4096, 65536 };
	unsigned int nsizes = 3, ms = 2000, i;
	char *tok, *save, *end;
	unsigned long v;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			b.port = (unsigned int)strtoul(optarg, &end, 0);
			if (*end || !b.port)
				goto bad;
			break;
		case 'c':
			b.cid = (unsigned int)strtoul(optarg, &end, 0);
			if (*end)
				goto bad;
			break;
		case 's':
			nsizes = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				v = strtoul(tok, &end, 0);
				if (*end || !v || v > CHAN_BENCH_MAX_MSG ||
				    nsizes == MAX_SIZES)
					goto bad;
				sizes[nsizes++] = v;
			}
			if (!nsizes)
				goto bad;
			break;
		case 'm':
			ms = (unsigned int)strtoul(optarg, &end, 0);
			if (*end || !ms || ms > 600000)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || !b.port)
		goto bad;

	go.cid = b.cid;
	go.port = b.port;
	go.timeout_ms = TIMEOUT_MS;
	go.connect_wait_ms = 10000;
	b.g = vshm_guest_connect_opts(&go);
	if (!b.g) {
		fprintf(stderr, "chan-bench: connect: %s\n", strerror(errno));
		return 1;
	}
	if (!(vshm_guest_features(b.g) & VSHM_FEAT_NOTIFY)) {
		fprintf(stderr, "chan-bench: the host has no doorbells\n");
		err = -EOPNOTSUPP;
		goto out;
	}
	vshm_guest_set_event_cb(b.g, on_event, &b);
	sa.size = (vshm_chan_layout_size(&p) + 4095) & ~(size_t)4095;
	sa.access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	sa.cookie = CHAN_BENCH_COOKIE;
	sa.fill = format;
	sa.fill_arg = &p;
	b.r = vshm_share_ex(b.g, &sa);
	if (!b.r) {
		fprintf(stderr, "chan-bench: share: %s (%s)\n", strerror(errno),
			vshm_guest_last_failure(b.g));
		err = -errno;
		goto out;
	}
	b.chan = vshm_chan_attach(vshm_region_ptr(b.r), sa.size,
				  VSHM_CHAN_SIDE_GUEST);
	if (!b.chan) {
		err = -errno;
		goto out;
	}
	vshm_chan_set_notify(b.chan, ring_host, &b);
	for (i = 0; i < nsizes && !err; i++) {
		err = chan_phase(&b, sizes[i], ms);
		if (!err)
			err = stream_phase(&b, sizes[i], ms);
	}
	if (!err)
		err = rtt(&b, ms);
	if (err)
		fprintf(stderr, "\nchan-bench: %s\n", strerror(-err));
out:
	vshm_chan_detach(b.chan);
	if (b.r)
		vshm_free(b.r);
	vshm_guest_close(b.g);
	printf("chan-bench: %s\n", err ? "FAILED" : "OK");
	return err ? 1 : 0;

bad:
	usage(stderr);
	return 2;
}
