// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * buffer-client: shares a buffer the application already owns with a host
 * service (buffer-service), rewrites it round after round and has the
 * service read it each time, on the public guest library
 * (<vsock-shm/guest.h>, pkg-config vsock-shm-guest). Runs in a VM, as root.
 * See ../README.md.
 *
 *   buffer-client --port PORT [--cid CID] [--size SIZE[K|M]] [--rounds K]
 *                 [--seed S] [--wait-ms MS] [--timeout-ms MS]
 *
 * The buffer is the program's own memory (mmap), shared as it is with
 * vshm_share_ex(VSHM_SHARE_BUF) and a cookie that tells the service what
 * it is (bufsvc.h). For each round k it rewrites the data, rings the
 * region's doorbell with bits k (vshm_region_notify()), waits in poll() on
 * the connection for the service's doorbell with the same bits, and checks
 * the checksum the service wrote into the buffer's reply area against its
 * own. At the end it frees the region (the library only unpins the buffer)
 * and unmaps the buffer itself.
 *
 * Exit status: 0 every answer was right; 1 a failure (cannot connect, no
 * doorbells or cookies on this host, no answer in --timeout-ms, the region
 * revoked, ...); 2 bad arguments; 3 the host refused the region; 4 a wrong
 * answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vsock-shm/guest.h>

#include "bufsvc.h"

#define EXIT_USAGE	2
#define EXIT_REFUSED	3
#define EXIT_WRONG	4

/* The data of round k: word i. */
static void fill(uint64_t *w, size_t words, uint64_t seed, uint64_t k)
{
	size_t i;

	for (i = 0; i < words; i++)
		w[i] = seed ^ (k << 48) ^ (uint64_t)(i * 8);
}

/*
 * Waits for the host's doorbell on r with these bits: poll() on the
 * connection, then its events one by one. 0, -ETIMEDOUT, -ENXIO (the host
 * revoked the region) or the library's error.
 */
static int wait_answer(struct vshm_guest *g, struct vshm_region *r,
		       uint32_t bits, int timeout_ms)
{
	struct pollfd pfd = { .fd = vshm_guest_fd(g), .events = POLLIN };
	struct vshm_guest_event ev;
	int n;

	for (;;) {
		while ((n = vshm_guest_next_event(g, &ev)) == 1) {
			if (ev.r != r)
				continue;
			if (ev.type == VSHM_GUEST_EV_REVOKED) {
				fprintf(stderr, "buffer-client: the host revoked the region (%s)\n",
					vshm_revoke_reason_name(ev.reason));
				return -ENXIO;
			}
			if (ev.type == VSHM_GUEST_EV_NOTIFY && ev.bits == bits)
				return 0;
			fprintf(stderr, "buffer-client: doorbell with bits %#" PRIx32 " while waiting for %#" PRIx32 "\n",
				ev.bits, bits);
		}
		if (n < 0)
			return n;
		do
			n = poll(&pfd, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: buffer-client --port PORT [--cid CID] [--size SIZE[K|M]] [--rounds K]\n"
		"                     [--seed S] [--wait-ms MS] [--timeout-ms MS]\n"
		"  --port PORT       the service's vsock port (required)\n"
		"  --cid CID         the host's CID (default 2)\n"
		"  --size SIZE       the buffer, a multiple of 4K (default 1M)\n"
		"  --rounds K        rewrites, each read by the service (default 8)\n"
		"  --seed S          varies the data (default 0)\n"
		"  --wait-ms MS      keep trying to connect this long (default 10000)\n"
		"  --timeout-ms MS   longest wait for an answer (default 30000)\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 refused, 4 a wrong answer\n");
}

static int parse_ull(const char *s, unsigned long long max, bool suffix,
		     unsigned long long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *s == '-')
		return -1;
	if (suffix && (*end == 'K' || *end == 'k'))
		v <<= 10, end++;
	else if (suffix && (*end == 'M' || *end == 'm'))
		v <<= 20, end++;
	if (*end || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cid", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 'S' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long cid = 2, port = 0, size = 1 << 20, rounds = 8;
	unsigned long long seed = 0, wait_ms = 10000, timeout_ms = 30000;
	struct vshm_guest_opts go = { 0 };
	struct vshm_share_args sa = { 0 };
	struct vshm_guest *g;
	struct vshm_region *r = NULL;
	volatile struct bufsvc_reply *reply;
	uint64_t k, want, wrong = 0;
	size_t data;
	void *buf;
	int c, err, ret = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ull(optarg, 0xffffffffULL, false, &port) || !port)
				goto bad;
			break;
		case 'c':
			if (parse_ull(optarg, 0xffffffffULL, false, &cid))
				goto bad;
			break;
		case 's':
			if (parse_ull(optarg, 1ULL << 30, true, &size) ||
			    !size || size % 4096)
				goto bad;
			break;
		case 'k':
			if (parse_ull(optarg, 0xffffffffULL, false, &rounds) || !rounds)
				goto bad;
			break;
		case 'S':
			if (parse_ull(optarg, ~0ULL, false, &seed))
				goto bad;
			break;
		case 'w':
			if (parse_ull(optarg, 3600000, false, &wait_ms))
				goto bad;
			break;
		case 't':
			if (parse_ull(optarg, 3600000, false, &timeout_ms) || !timeout_ms)
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

	/* The application's own buffer, page-aligned. */
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("buffer-client: mmap");
		return 1;
	}
	data = size - BUFSVC_REPLY_SIZE;
	reply = (volatile struct bufsvc_reply *)((char *)buf + data);

	go.cid = (unsigned int)cid;
	go.port = (unsigned int)port;
	go.timeout_ms = (int)timeout_ms;
	go.connect_wait_ms = (int)wait_ms;
	g = vshm_guest_connect_opts(&go);
	if (!g) {
		fprintf(stderr, "buffer-client: connect to %llu:%llu: %s\n", cid,
			port, strerror(errno));
		goto unmap;
	}
	if ((vshm_guest_features(g) & (VSHM_FEAT_NOTIFY | VSHM_FEAT_COOKIE)) !=
	    (VSHM_FEAT_NOTIFY | VSHM_FEAT_COOKIE)) {
		fprintf(stderr, "buffer-client: the host has no doorbells or cookies\n");
		goto out;
	}

	/* Shared as it is: the library pins it, never unmaps or frees it. */
	fill(buf, data / 8, seed, 0);
	sa.size = size;
	sa.flags = VSHM_SHARE_BUF;
	sa.access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	sa.addr = buf;
	sa.cookie = BUFSVC_COOKIE;
	r = vshm_share_ex(g, &sa);
	if (!r) {
		err = errno;
		fprintf(stderr, "buffer-client: share the buffer: %s (%s)\n",
			strerror(err), vshm_guest_last_failure(g));
		ret = err == EPROTO ? EXIT_REFUSED : 1;
		goto out;
	}
	printf("buffer-client: region %" PRIu32 " size=%llu cookie=%#llx\n",
	       vshm_region_id(r), size, (unsigned long long)BUFSVC_COOKIE);
	fflush(stdout);

	for (k = 1; k <= rounds; k++) {
		fill(buf, data / 8, seed, k);
		want = bufsvc_sum(buf, data);
		reply->round = 0;
		/* The data and the cleared reply before the doorbell. */
		atomic_thread_fence(memory_order_seq_cst);
		err = vshm_region_notify(r, (uint32_t)k);
		if (!err)
			err = wait_answer(g, r, (uint32_t)k, (int)timeout_ms);
		if (err) {
			fprintf(stderr, "buffer-client: round %" PRIu64 ": %s\n", k,
				strerror(-err));
			goto out;
		}
		atomic_thread_fence(memory_order_acquire);
		if (reply->round != k || reply->checksum != want ||
		    reply->bytes != data) {
			printf("buffer-client: round %" PRIu64 " WRONG: reply round=%" PRIu64 " checksum=%016" PRIx64 " bytes=%" PRIu64 ", expected checksum=%016" PRIx64 " bytes=%zu\n",
			       k, reply->round, reply->checksum, reply->bytes,
			       want, data);
			wrong++;
			continue;
		}
		printf("buffer-client: round %" PRIu64 " checksum=%016" PRIx64 " ok\n",
		       k, want);
	}
	fflush(stdout);
	ret = wrong ? EXIT_WRONG : 0;

out:
	if (r && vshm_free(r)) {	/* unpins; the buffer stays ours */
		fprintf(stderr, "buffer-client: free: %s\n", vshm_guest_last_failure(g));
		ret = ret ? ret : 1;
	}
	vshm_guest_close(g);
unmap:
	munmap(buf, size);
	printf("buffer-client: %s\n", ret ? "FAILED" : "OK");
	return ret;

bad:
	usage(stderr);
	return EXIT_USAGE;
}
