// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * server-map: a minimal vsock-shm host server on the public server library
 * (<vsock-shm/server.h>, pkg-config vsock-shm-server). It listens on a
 * vsock port, prints every region a guest shares once it is mapped (its
 * guest CID, size, first bytes and a checksum of its content) and every
 * region that ends, and exits once N regions were mapped and have ended.
 * See ../README.md.
 *
 *   server-map --port PORT [--count N] [--bytes B] [--verify SEED]
 *              [--timeout SEC] [--quiet]
 *
 * Exit status: 0 N regions mapped and ended; 1 the server could not start
 * or failed; 2 bad arguments; 3 --timeout passed (or SIGINT, SIGTERM)
 * first; 4 a region failed --verify (it was refused with VSHM_E_DENIED) or
 * its mapping was revoked while it was read.
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
#include <time.h>

#include <vsock-shm/server.h>

#define EXIT_USAGE	2
#define EXIT_TIMEOUT	3
#define EXIT_BADDATA	4
#define MAX_BYTES	64

struct app {
	unsigned long count;	/* regions to see mapped and ended */
	unsigned int bytes;	/* first bytes printed */
	bool verify;
	uint64_t seed;
	bool quiet;
	unsigned long mapped;	/* on_mapped calls */
	unsigned long ended;	/* regions that were mapped and have ended */
	unsigned int bad;	/* failed --verify, or revoked while read */
	struct vshm_server *server;
};

static volatile sig_atomic_t stop;

/*
 * The host module may revoke a mapping at any time (the guest frees it or
 * goes away before the server has read that): reading it then raises
 * SIGBUS. The read in progress gives up instead of killing the server.
 */
static sigjmp_buf read_jmp;
static volatile sig_atomic_t reading;

static void on_sigbus(int sig)
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

/*
 * FNV-1a over the region's 64-bit words (native byte order): the checksum
 * guest-share prints for the same content.
 */
static uint64_t checksum(const void *ptr, size_t size)
{
	const volatile uint64_t *w = ptr;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < size / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* guest-share's pattern: the word at byte offset off is seed ^ off. */
static bool pattern_ok(const void *ptr, size_t size, uint64_t seed,
		       uint64_t *bad_off)
{
	const volatile uint64_t *w = ptr;
	size_t i;

	for (i = 0; i < size / 8; i++) {
		if (w[i] != (seed ^ (uint64_t)(i * 8))) {
			*bad_off = (uint64_t)(i * 8);
			return false;
		}
	}
	return true;
}

/* What on_mapped reads of a region. */
struct sample {
	char first[2 * MAX_BYTES + 1];	/* first bytes, in hex */
	uint64_t sum;
	bool ok;			/* --verify passed (or not asked) */
	uint64_t bad_off;		/* else: the first word that differs */
};

static void sample_region(const struct app *a,
			  const struct vshm_session_region *r,
			  struct sample *s)
{
	const volatile unsigned char *p = r->ptr;
	size_t size = (size_t)r->info.size;
	unsigned int i, n = a->bytes;

	if (n > size)
		n = (unsigned int)size;
	for (i = 0; i < n; i++)
		snprintf(s->first + 2 * i, 3, "%02x", p[i]);
	s->first[2 * n] = '\0';
	s->sum = checksum(r->ptr, size);
	s->ok = !a->verify || pattern_ok(r->ptr, size, a->seed, &s->bad_off);
}

/* Reads r into s; false if its mapping was revoked meanwhile (SIGBUS). */
static bool read_region(const struct app *a,
			const struct vshm_session_region *r, struct sample *s)
{
	if (sigsetjmp(read_jmp, 1)) {
		reading = 0;
		return false;
	}
	reading = 1;
	sample_region(a, r, s);
	reading = 0;
	return true;
}

/*
 * Called once a region is mapped, before the guest is answered: r->ptr is
 * valid until this returns (afterwards, only until the region ends).
 */
static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct app *a = arg;
	struct sample s;

	a->mapped++;
	if (!read_region(a, r, &s)) {
		fprintf(stderr, "server-map: region %" PRIu32 " cid=%" PRIu32 ": mapping revoked while read (SIGBUS)\n",
			r->id, r->peer_cid);
		a->bad++;
		return VSHM_E_INTERNAL;	/* the guest gets ERROR */
	}
	printf("server-map: region %" PRIu32 " cid=%" PRIu32 " size=%" PRIu64 " pages=%" PRIu32 " access=%s%s first=%s fnv1a64=%016" PRIx64 "%s\n",
	       r->id, r->peer_cid, r->info.size, r->info.nr_pages,
	       r->info.access & VSHM_ACCESS_READ ? "r" : "",
	       r->info.access & VSHM_ACCESS_WRITE ? "w" : "", s.first, s.sum,
	       !a->verify ? "" : s.ok ? " verify=ok" : " verify=FAILED");
	fflush(stdout);
	if (!s.ok) {
		fprintf(stderr, "server-map: region %" PRIu32 ": word at byte %" PRIu64 " is not seed ^ offset: refused\n",
			r->id, s.bad_off);
		a->bad++;
		return VSHM_E_DENIED;	/* the guest gets ERROR VSHM_E_DENIED */
	}
	return 0;
}

/*
 * Every region that ends, mapped or not. This program keeps no pointer
 * into a region after on_mapped, so it returns 0: the range can go.
 */
static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	struct app *a = arg;

	if (!a->quiet)
		printf("server-map: region %" PRIu32 " cid=%" PRIu32 " ended (%s)\n",
		       r->id, r->peer_cid, vshm_end_reason_name(why));
	fflush(stdout);
	/* A region counts once it was mapped (addr set) and has ended. */
	if (r->addr)
		a->ended++;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: server-map --port PORT [--count N] [--bytes B] [--verify SEED]\n"
		"                  [--timeout SEC] [--quiet]\n"
		"  --port PORT     vsock port to listen on (required)\n"
		"  --count N       exit once N regions were mapped and have ended (default 1)\n"
		"  --bytes B       first bytes of each region to print, 0..%d (default 16)\n"
		"  --verify SEED   check guest-share's pattern (word at offset off == SEED ^ off),\n"
		"                  refuse a region that differs (VSHM_E_DENIED)\n"
		"  --timeout SEC   give up after SEC seconds (exit 3); 0 (default): wait forever\n"
		"  --quiet         do not print the regions that end\n"
		"exit: 0 ok, 1 server error, 2 usage, 3 timeout, 4 bad data\n",
		MAX_BYTES);
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "verify", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct app a = { .count = 1, .bytes = 16 };
	struct vshm_server_cfg cfg = {
		.on_mapped = on_mapped,
		.on_ended = on_ended,
		.arg = &a,
	};
	unsigned long v, timeout = 0;
	struct sigaction sa;
	struct timespec t0, t;
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
		case 'b':
			if (parse_ul(optarg, MAX_BYTES, &v))
				goto bad;
			a.bytes = (unsigned int)v;
			break;
		case 'v':
			if (parse_u64(optarg, &a.seed))
				goto bad;
			a.verify = true;
			break;
		case 't':
			if (parse_ul(optarg, 86400UL * 365, &timeout))
				goto bad;
			break;
		case 'q':
			a.quiet = true;
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
	sa.sa_handler = on_sigbus;
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	a.server = vshm_server_new(&cfg);	/* logs why it failed */
	if (!a.server)
		return 1;
	printf("server-map: listening on vsock port %" PRIu32 "\n", cfg.port);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop && a.ended < a.count) {
		ret = vshm_server_poll(a.server, 200);
		if (ret)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout && (unsigned long)(t.tv_sec - t0.tv_sec) >= timeout)
			break;
	}
	vshm_server_free(a.server);	/* reports the regions left */
	if (ret) {
		fprintf(stderr, "server-map: poll: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(stderr, "server-map: %lu region%s mapped, %lu ended, %u bad\n",
		a.mapped, a.mapped == 1 ? "" : "s", a.ended, a.bad);
	if (a.bad)
		return EXIT_BADDATA;
	return a.ended >= a.count ? 0 : EXIT_TIMEOUT;

bad:
	usage(stderr);
	return EXIT_USAGE;
}
