// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * guest-share: a minimal vsock-shm guest on the public guest library
 * (<vsock-shm/guest.h>, pkg-config vsock-shm-guest). Runs in a VM, as
 * root. It shares regions of the given size, each filled with a pattern
 * (the 64-bit word at byte offset off is seed ^ off), prints each one once
 * the host mapped it (with the checksum server-map prints for the same
 * content), holds them, then frees them. See ../README.md.
 *
 *   guest-share --port PORT --size SIZE[K|M|G] [--cid CID] [--count N]
 *               [--huge] [--read-only] [--seed S] [--hold-ms MS]
 *               [--timeout-ms MS]
 *
 * Exit status: 0 every region shared and freed; 1 a failure (cannot
 * connect, out of memory, not root, no answer, ...); 2 bad arguments; 3
 * the host refused a region (it answered ERROR: the code is printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vsock-shm/guest.h>

#define EXIT_USAGE	2
#define EXIT_REFUSED	3

struct opts {
	unsigned int cid;
	unsigned int port;
	size_t size;
	unsigned long count;
	bool huge;
	bool read_only;
	uint64_t seed;
	unsigned long hold_ms;
	unsigned long timeout_ms;
};

/* The same FNV-1a over 64-bit words as server-map. */
static uint64_t checksum(const void *ptr, size_t size)
{
	const uint64_t *w = ptr;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < size / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Called on the fresh memory, before its addresses are sent. */
static int fill(void *ptr, size_t size, uint32_t region, void *arg)
{
	const uint64_t *seed = arg;
	uint64_t *w = ptr;
	size_t i;

	(void)region;
	for (i = 0; i < size / 8; i++)
		w[i] = *seed ^ (uint64_t)(i * 8);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: guest-share --port PORT --size SIZE[K|M|G] [--cid CID] [--count N]\n"
		"                   [--huge] [--read-only] [--seed S] [--hold-ms MS]\n"
		"                   [--timeout-ms MS]\n"
		"  --port PORT      the host server's vsock port (required)\n"
		"  --size SIZE      bytes per region: a multiple of 4K (2M with --huge)\n"
		"  --cid CID        the host's CID (default 2)\n"
		"  --count N        regions shared together (default 1)\n"
		"  --huge           back them with 2 MiB pages\n"
		"  --read-only      grant read access only (default: read and write)\n"
		"  --seed S         pattern: the word at byte offset off is S ^ off (default 0)\n"
		"  --hold-ms MS     keep them shared MS ms before freeing them (default 0)\n"
		"  --timeout-ms MS  wait at most MS ms for each answer (default 30000)\n"
		"exit: 0 ok, 1 failure, 2 usage, 3 refused by the host\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || !*s || *s == '-' || *end ? -1 : 0;
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > max)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	char num[32], *u;
	unsigned int shift = 0;
	size_t len = strlen(s);
	uint64_t v;

	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	u = num + len - 1;
	if (*u == 'K' || *u == 'k')
		shift = 10;
	else if (*u == 'M' || *u == 'm')
		shift = 20;
	else if (*u == 'G' || *u == 'g')
		shift = 30;
	if (shift)
		*u = '\0';
	if (parse_u64(num, &v) || !v || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "cid", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "huge", no_argument, NULL, 'H' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' },
		{ "hold-ms", required_argument, NULL, 'w' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ul(optarg, 0xffffffffUL, &v) || !v)
				return -1;
			o->port = (unsigned int)v;
			break;
		case 's':
			if (parse_size(optarg, &o->size))
				return -1;
			break;
		case 'c':
			if (parse_ul(optarg, 0xffffffffUL, &v))
				return -1;
			o->cid = (unsigned int)v;
			break;
		case 'n':
			if (parse_ul(optarg, 1UL << 20, &o->count) || !o->count)
				return -1;
			break;
		case 'H':
			o->huge = true;
			break;
		case 'r':
			o->read_only = true;
			break;
		case 'S':
			if (parse_u64(optarg, &o->seed))
				return -1;
			break;
		case 'w':
			if (parse_ul(optarg, 0x7fffffffUL, &o->hold_ms))
				return -1;
			break;
		case 't':
			if (parse_ul(optarg, 0x7fffffffUL, &o->timeout_ms) ||
			    !o->timeout_ms)
				return -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind == argc && o->port && o->size ? 0 : -1;
}

static void sleep_ms(unsigned long ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Prints why vshm_share() failed; returns the exit status. */
static int share_failed(struct vshm_guest *g, unsigned long i, int err)
{
	uint32_t code, detail;

	if (err == EPROTO && !vshm_guest_last_error(g, &code, &detail)) {
		printf("guest-share: region #%lu refused by the host: %s (%" PRIu32 "): %s\n",
		       i + 1, vshm_err_name((int)code), code,
		       vshm_guest_last_failure(g));
		return EXIT_REFUSED;
	}
	printf("guest-share: region #%lu: share failed: %s (%s)\n", i + 1,
	       strerror(err), vshm_guest_last_failure(g));
	return 1;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.cid = 2,
		.count = 1,
		.timeout_ms = VSHM_GUEST_DEFAULT_TIMEOUT_MS,
	};
	struct vshm_region **regions;
	struct vshm_guest *g;
	unsigned long i, shared = 0;
	unsigned int access;
	int status = 0, ret;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	regions = calloc(o.count, sizeof(*regions));
	if (!regions) {
		printf("guest-share: out of memory\n");
		return 1;
	}
	access = o.read_only ? VSHM_ACCESS_READ
			     : VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;

	g = vshm_guest_connect(o.cid, o.port);
	if (!g) {
		printf("guest-share: connect to %u:%u: %s\n", o.cid, o.port,
		       strerror(errno));
		free(regions);
		return 1;
	}
	vshm_guest_set_timeout(g, (int)o.timeout_ms);

	for (i = 0; i < o.count; i++, shared++) {
		struct vshm_region *r;

		r = vshm_share_fill(g, o.size, o.huge ? VSHM_SHARE_HUGE : 0,
				    access, fill, &o.seed);
		if (!r) {
			status = share_failed(g, i, errno);
			break;
		}
		regions[i] = r;
		printf("guest-share: region %" PRIu32 " size=%zu extents=%u share_ms=%.3f fnv1a64=%016" PRIx64 "\n",
		       vshm_region_id(r), vshm_region_size(r),
		       vshm_region_stats(r)->nr_extents,
		       (double)vshm_region_stats(r)->share_ns / 1e6,
		       checksum(vshm_region_ptr(r), vshm_region_size(r)));
		fflush(stdout);
	}

	if (!status && o.hold_ms) {
		printf("guest-share: holding %lu region%s for %lu ms\n", shared,
		       shared == 1 ? "" : "s", o.hold_ms);
		fflush(stdout);
		sleep_ms(o.hold_ms);
	}

	for (i = shared; i-- > 0;) {
		uint32_t id = vshm_region_id(regions[i]);

		ret = vshm_free(regions[i]);
		if (ret) {
			printf("guest-share: region %" PRIu32 ": free failed: %s (%s)\n",
			       id, strerror(-ret), vshm_guest_last_failure(g));
			if (!status)
				status = 1;
		} else {
			printf("guest-share: region %" PRIu32 " freed\n", id);
		}
	}
	/* Whatever the host did not confirm is released here. */
	vshm_guest_close(g);
	free(regions);
	printf("guest-share: %s\n", status ? "FAILED" : "OK");
	return status;
}
