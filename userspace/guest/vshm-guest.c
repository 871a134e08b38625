// SPDX-License-Identifier: GPL-2.0
/*
 * vshm-guest: shares regions of this guest's memory with a vsock-shm host
 * server and checks the round trip (runs in the L2 guest, as root).
 *
 *   vshm-guest share [--cid 2] --port P --size SIZE[K|M|G] [--huge]
 *                    [--count N] [--seed S] [--hold-ms MS] [--compact-check]
 *                    [--no-free] [--quiet] [--timeout-ms MS] [--max-msg B]
 *                    [--repeat R]
 *
 * Each region is filled with the pattern of pattern.h before sharing; after
 * MAPPED the host must have complemented the first word of every 4 KiB page
 * and left the rest alone. The N regions are shared one after another, all
 * stay live, then are freed in reverse order. --compact-check then asks
 * the kernel to compact memory and fails if any shared page moved.
 *
 * --repeat R does the whole share/check/free cycle R times on one
 * connection, without pause (a request stream for the policy swap test),
 * and prints "vshm-guest: repeat: R cycles, M regions mapped and freed".
 *
 * --hold-ms MS keeps the regions shared for MS ms before freeing them, and
 * says "vshm-guest: holding N mapped regions for MS ms" (flushed) when the
 * hold starts: a test acts on live regions from then on.
 *
 * Output: one line per region, then "vshm-guest: OK" or
 * "vshm-guest: FAILED: <reason>". Exit status 0 or 1 (also for bad
 * arguments).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vsock-shm/guest.h>

#include "pattern.h"

#define COMPACT_PATH	"/proc/sys/vm/compact_memory"

struct options {
	unsigned int cid;
	unsigned int port;
	size_t size;
	bool huge;
	unsigned int count;
	uint64_t seed;
	unsigned int hold_ms;
	bool compact_check;
	bool no_free;
	bool quiet;
	int timeout_ms;
	size_t max_msg;
	unsigned int repeat;
};

/* One shared region and what is printed about it. */
struct item {
	struct vshm_region *r;
	struct vshm_region_stats st;
	bool freed;
	uint64_t free_ns;
	uint64_t fill_ns;	/* writing the pattern: the guest's data in */
};

struct run {
	struct options opt;
	struct vshm_guest *g;
	struct item *items;
	unsigned int nr;		/* regions shared so far */
	unsigned int cycles;		/* --repeat cycles completed */
	char reason[320];
};

__attribute__((format(printf, 2, 3)))
static int fail(struct run *run, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(run->reason, sizeof(run->reason), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Arguments */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vshm-guest share [--cid CID] --port PORT --size SIZE[K|M|G]\n"
		"           [--huge] [--count N] [--seed S] [--hold-ms MS] [--repeat R]\n"
		"           [--compact-check] [--no-free] [--quiet]\n"
		"           [--timeout-ms MS] [--max-msg BYTES]\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *s == '\0' || *s == '-' || *end != '\0' ? -1 : 0;
}

static int parse_uint(const char *s, unsigned int *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > 0xffffffffULL)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	unsigned int shift = 0;
	char num[32], *end;
	size_t len = strlen(s);
	uint64_t v;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	end = num + len - 1;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		*end = '\0';
	if (parse_u64(num, &v) || !v || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

enum {
	OPT_CID = 1, OPT_PORT, OPT_SIZE, OPT_HUGE, OPT_COUNT, OPT_SEED,
	OPT_HOLD, OPT_COMPACT, OPT_NO_FREE, OPT_QUIET, OPT_TIMEOUT, OPT_MAXMSG,
	OPT_REPEAT,
};

static const struct option long_opts[] = {
	{ "cid", required_argument, NULL, OPT_CID },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "huge", no_argument, NULL, OPT_HUGE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "compact-check", no_argument, NULL, OPT_COMPACT },
	{ "no-free", no_argument, NULL, OPT_NO_FREE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "max-msg", required_argument, NULL, OPT_MAXMSG },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(struct options *o, int c, const char *arg)
{
	unsigned int v;
	uint64_t u;

	switch (c) {
	case OPT_CID:
		return parse_uint(arg, &o->cid);
	case OPT_PORT:
		return parse_uint(arg, &o->port) || !o->port ? -1 : 0;
	case OPT_SIZE:
		return parse_size(arg, &o->size);
	case OPT_HUGE:
		o->huge = true;
		return 0;
	case OPT_COUNT:
		return parse_uint(arg, &o->count) || !o->count ? -1 : 0;
	case OPT_SEED:
		return parse_u64(arg, &o->seed);
	case OPT_HOLD:
		return parse_uint(arg, &o->hold_ms);
	case OPT_COMPACT:
		o->compact_check = true;
		return 0;
	case OPT_NO_FREE:
		o->no_free = true;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_TIMEOUT:
		if (parse_uint(arg, &v) || !v || v > 0x7fffffff)
			return -1;
		o->timeout_ms = (int)v;
		return 0;
	case OPT_REPEAT:
		return parse_uint(arg, &o->repeat) || !o->repeat ? -1 : 0;
	case OPT_MAXMSG:
		if (parse_u64(arg, &u))
			return -1;
		o->max_msg = (size_t)u;
		return 0;
	default:
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct options *o)
{
	int c, idx = 0;

	*o = (struct options) {
		.cid = 2,
		.count = 1,
		.repeat = 1,
		.seed = VSHM_PATTERN_DEFAULT_SEED,
		.timeout_ms = VSHM_GUEST_DEFAULT_TIMEOUT_MS,
	};
	if (argc < 2 || strcmp(argv[1], "share")) {
		fprintf(stderr, "vshm-guest: the only command is \"share\"\n");
		return -1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", long_opts, &idx)) != -1) {
		if (c == '?' || parse_one(o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "vshm-guest: bad value for --%s: %s\n",
					long_opts[idx].name, optarg ? optarg : "");
			return -1;
		}
	}
	if (optind != argc || !o->port || !o->size) {
		fprintf(stderr, "vshm-guest: --port and --size are required, and nothing else\n");
		return -1;
	}
	return 0;
}

/* Steps */

struct fill_arg {
	uint64_t seed;
	uint64_t ns;
};

static int fill_region(void *ptr, size_t size, uint32_t region, void *arg)
{
	struct fill_arg *fa = arg;
	uint64_t t = now_ns();

	vshm_pattern_fill(ptr, size, fa->seed, region);
	fa->ns = now_ns() - t;
	return 0;
}

static int check_host_words(struct run *run, struct item *it)
{
	struct vshm_pattern_bad bad;

	if (!vshm_pattern_check_marked(vshm_region_ptr(it->r),
				       vshm_region_size(it->r), run->opt.seed,
				       it->st.region, &bad))
		return 0;
	return fail(run, "region %u: page %llu word %llu after MAPPED is %#llx, want %#llx (%s)",
		    it->st.region, (unsigned long long)(bad.off / 4096),
		    (unsigned long long)(bad.off % 4096 / 8),
		    (unsigned long long)bad.got, (unsigned long long)bad.want,
		    bad.off % 4096 ? "the host changed a guest word" :
		    "the host did not write its word");
}

static int share_one(struct run *run)
{
	struct item *it = &run->items[run->nr];
	unsigned int flags = run->opt.huge ? VSHM_SHARE_HUGE : 0;
	struct fill_arg fa = { .seed = run->opt.seed };

	it->r = vshm_share_fill(run->g, run->opt.size, flags,
				VSHM_ACCESS_READ | VSHM_ACCESS_WRITE,
				fill_region, &fa);
	if (!it->r)
		return fail(run, "region #%u: share: %s: %s", run->nr + 1,
			    strerror(errno), vshm_guest_last_failure(run->g));
	it->st = *vshm_region_stats(it->r);
	it->fill_ns = fa.ns;
	run->nr++;
	return check_host_words(run, it);
}

static int compact_memory(struct run *run)
{
	int fd = open(COMPACT_PATH, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return fail(run, "cannot open %s: %s", COMPACT_PATH,
			    strerror(errno));
	if (write(fd, "1", 1) != 1)
		err = errno ? errno : EIO;
	close(fd);
	if (err)
		return fail(run, "writing 1 to %s: %s", COMPACT_PATH,
			    strerror(err));
	return 0;
}

/* Every page's GPA now must be the one the host was given. */
static int check_not_moved(struct run *run, struct item *it)
{
	size_t nr_ext, i, npages = it->st.nr_pages, page = 0;
	const struct vshm_run *ext = vshm_region_extents(it->r, &nr_ext);
	uint64_t *now = malloc(npages * sizeof(*now));
	int ret;
	uint32_t k;

	if (!now)
		return fail(run, "out of memory");
	ret = vshm_region_gpas(it->r, now, npages);
	if (ret) {
		free(now);
		return fail(run, "region %u: re-reading GPAs: %s",
			    it->st.region, strerror(-ret));
	}
	for (i = 0, ret = 0; i < nr_ext && !ret; i++) {
		for (k = 0; k < ext[i].npages && !ret; k++, page++) {
			uint64_t was = ext[i].addr + (uint64_t)k * 4096;

			if (now[page] != was)
				ret = fail(run, "region %u: page %zu moved from GPA %#llx to %#llx after compaction",
					   it->st.region, page,
					   (unsigned long long)was,
					   (unsigned long long)now[page]);
		}
	}
	free(now);
	return ret;
}

static int compact_check(struct run *run)
{
	unsigned int i;

	if (compact_memory(run))
		return -1;
	for (i = 0; i < run->nr; i++)
		if (check_not_moved(run, &run->items[i]))
			return -1;
	return 0;
}

static void hold(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int free_one(struct run *run, struct item *it)
{
	uint64_t t = now_ns();
	int ret = vshm_free(it->r);

	if (ret)
		return fail(run, "region %u: free: %s: %s", it->st.region,
			    strerror(-ret), vshm_guest_last_failure(run->g));
	it->free_ns = now_ns() - t;
	it->freed = true;
	it->r = NULL;
	return 0;
}

/* Frees in reverse order; stops at the first failure. */
static int free_all(struct run *run)
{
	unsigned int i;

	for (i = run->nr; i-- > 0;)
		if (!run->items[i].freed && free_one(run, &run->items[i]))
			return -1;
	return 0;
}

/* Output */

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void print_item(const struct item *it)
{
	char free_ms[32];

	if (it->freed)
		snprintf(free_ms, sizeof(free_ms), "%.3f", ms(it->free_ns));
	else
		snprintf(free_ms, sizeof(free_ms), "-");
	printf("vshm-guest: region %u size=%zu pages=%u extents=%u chunks=%u fill_ms=%.3f pin_ms=%.3f share_ms=%.3f free_ms=%s grant=%llu\n",
	       it->st.region, it->st.size, it->st.nr_pages, it->st.nr_extents,
	       it->st.nr_chunks, ms(it->fill_ns), ms(it->st.pin_ns),
	       ms(it->st.share_ns), free_ms, (unsigned long long)it->st.grant);
}

static int connect_host(struct run *run)
{
	const struct options *o = &run->opt;
	int ret;

	run->g = vshm_guest_connect(o->cid, o->port);
	if (!run->g)
		return fail(run, "connect to cid %u port %u: %s", o->cid,
			    o->port, strerror(errno));
	ret = vshm_guest_set_timeout(run->g, o->timeout_ms);
	if (!ret && o->max_msg)
		ret = vshm_guest_set_max_msg(run->g, o->max_msg);
	if (ret)
		return fail(run, "--max-msg %zu is outside %d..%d", o->max_msg,
			    VSHM_GPA_LIST_SIZE(1), VSHM_MAX_MSG);
	return 0;
}

static int run_cycle(struct run *run)
{
	unsigned int i;

	for (i = 0; i < run->opt.count; i++)
		if (share_one(run))
			return -1;
	if (run->opt.compact_check && compact_check(run))
		return -1;
	if (run->opt.hold_ms) {
		/* Now, not at the end: a test acts while the regions are live. */
		printf("vshm-guest: holding %u mapped regions for %u ms\n",
		       run->nr, run->opt.hold_ms);
		fflush(stdout);
	}
	hold(run->opt.hold_ms);
	if (!run->opt.no_free && free_all(run))
		return -1;
	return 0;
}

static int run_share(struct run *run)
{
	unsigned int r;

	if (connect_host(run))
		return -1;
	for (r = 0; r < run->opt.repeat; r++) {
		/* Only the last cycle's regions are kept for printing. */
		run->nr = 0;
		memset(run->items, 0, run->opt.count * sizeof(*run->items));
		if (run_cycle(run))
			return -1;
		run->cycles++;
	}
	if (run->opt.repeat > 1)
		printf("vshm-guest: repeat: %u cycles, %u regions mapped and freed\n",
		       run->cycles, run->cycles * run->opt.count);
	return 0;
}

int main(int argc, char **argv)
{
	struct run run;
	unsigned int i;
	int ret;

	memset(&run, 0, sizeof(run));
	if (parse_args(argc, argv, &run.opt)) {
		usage(stderr);
		printf("vshm-guest: FAILED: bad arguments\n");
		return 1;
	}
	run.items = calloc(run.opt.count, sizeof(*run.items));
	if (!run.items) {
		printf("vshm-guest: FAILED: out of memory\n");
		return 1;
	}
	ret = run_share(&run);
	if (ret && !run.opt.no_free) {
		/* Best effort: give the host back what it still maps. */
		char reason[sizeof(run.reason)];

		memcpy(reason, run.reason, sizeof(reason));
		free_all(&run);
		memcpy(run.reason, reason, sizeof(reason));
	}
	for (i = 0; i < run.nr && !run.opt.quiet; i++)
		print_item(&run.items[i]);
	/* Closing ends the connection: the host drops what is left. */
	if (run.g)
		vshm_guest_close(run.g);
	free(run.items);
	if (ret) {
		printf("vshm-guest: FAILED: %s\n", run.reason);
		return 1;
	}
	printf("vshm-guest: OK\n");
	return 0;
}
