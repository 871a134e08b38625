// SPDX-License-Identifier: GPL-2.0
/*
 * vshm-guest: shares regions of this guest's memory with a vsock-shm host
 * server and checks the round trip (runs in the L2 guest, as root).
 *
 *   vshm-guest share [--cid 2] --port P --size SIZE[K|M|G] [--huge]
 *                    [--buf | --memfd | --hugetlb-memfd] [--reserve-huge]
 *                    [--count N] [--seed S] [--hold-ms MS] [--compact-check]
 *                    [--no-free] [--quiet] [--timeout-ms MS] [--max-msg B]
 *                    [--repeat R] [--cookie C] [--notify BITS]
 *                    [--wait-connect MS] [--plain]
 *
 * The memory: the library's (default), a buffer of this program's
 * (--buf: aligned_alloc, or a 2 MiB-page mapping with --huge), or a memfd
 * of the region's size (--memfd; --hugetlb-memfd: MFD_HUGETLB). Huge pages
 * come from the kernel's pool as it is: --reserve-huge first raises
 * vm.nr_hugepages until enough are free for every region ("vshm-guest:
 * reserved N huge pages (nr_hugepages A -> B)"); nothing else changes a
 * system setting.
 *
 * After connecting: "vshm-guest: connected, features 0x.." (the features
 * the host agreed on; --plain offers none). --cookie C goes with every
 * ALLOC; --notify BITS rings each region's doorbell once it is mapped.
 * Events the host sends while regions are held are printed as they are
 * read: "vshm-guest: event REVOKED region R grant G reason NAME" and
 * "vshm-guest: event NOTIFY region R bits 0x..".
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
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vsock-shm/guest.h>

#include "pattern.h"

#define COMPACT_PATH	"/proc/sys/vm/compact_memory"
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HUGE_SYSFS	"/sys/kernel/mm/hugepages/hugepages-2048kB/"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << 26)
#endif

/* Where a region's memory comes from. */
enum source { SRC_LIB, SRC_BUF, SRC_MEMFD, SRC_HUGETLB_MEMFD };

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
	enum source src;
	bool reserve_huge;
	uint64_t cookie;
	unsigned int notify_bits;
	unsigned int wait_connect_ms;
	bool plain;
};

/* One shared region and what is printed about it. */
struct item {
	struct vshm_region *r;
	struct vshm_region_stats st;
	bool freed;
	uint64_t free_ns;
	uint64_t fill_ns;	/* writing the pattern: the guest's data in */
	void *buf;		/* --buf: this program's memory, or NULL */
	bool buf_huge;		/*   mmap()ed 2 MiB pages, else malloc */
	int memfd;		/* --memfd, --hugetlb-memfd: or -1 */
};

struct run {
	struct options opt;
	struct vshm_guest *g;
	struct item *items;
	unsigned int nr;		/* regions shared so far */
	unsigned int cycles;		/* --repeat cycles completed */
	bool conn_ended;		/* dispatch said so (printed once) */
	char reason[640];
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
		"           [--huge] [--buf | --memfd | --hugetlb-memfd] [--reserve-huge]\n"
		"           [--count N] [--seed S] [--hold-ms MS] [--repeat R]\n"
		"           [--compact-check] [--no-free] [--quiet]\n"
		"           [--timeout-ms MS] [--max-msg BYTES] [--cookie C]\n"
		"           [--notify BITS] [--wait-connect MS] [--plain]\n");
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
	OPT_REPEAT, OPT_BUF, OPT_MEMFD, OPT_HUGETLB_MEMFD, OPT_RESERVE_HUGE,
	OPT_COOKIE, OPT_NOTIFY, OPT_WAIT_CONNECT, OPT_PLAIN,
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
	{ "buf", no_argument, NULL, OPT_BUF },
	{ "memfd", no_argument, NULL, OPT_MEMFD },
	{ "hugetlb-memfd", no_argument, NULL, OPT_HUGETLB_MEMFD },
	{ "reserve-huge", no_argument, NULL, OPT_RESERVE_HUGE },
	{ "cookie", required_argument, NULL, OPT_COOKIE },
	{ "notify", required_argument, NULL, OPT_NOTIFY },
	{ "wait-connect", required_argument, NULL, OPT_WAIT_CONNECT },
	{ "plain", no_argument, NULL, OPT_PLAIN },
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
	case OPT_BUF:
	case OPT_MEMFD:
	case OPT_HUGETLB_MEMFD:
		if (o->src != SRC_LIB)
			return -1;
		o->src = c == OPT_BUF ? SRC_BUF : c == OPT_MEMFD ?
			 SRC_MEMFD : SRC_HUGETLB_MEMFD;
		return 0;
	case OPT_RESERVE_HUGE:
		o->reserve_huge = true;
		return 0;
	case OPT_COOKIE:
		return parse_u64(arg, &o->cookie);
	case OPT_NOTIFY:
		return parse_uint(arg, &o->notify_bits) || !o->notify_bits ?
		       -1 : 0;
	case OPT_WAIT_CONNECT:
		if (parse_uint(arg, &v) || v > 0x7fffffff)
			return -1;
		o->wait_connect_ms = v;
		return 0;
	case OPT_PLAIN:
		o->plain = true;
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
	if (o->src > SRC_BUF && o->huge) {
		fprintf(stderr, "vshm-guest: --huge is for the library's memory or --buf; --hugetlb-memfd has 2 MiB pages\n");
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

/* The program's own memory for a region (--buf, --memfd, ...). */
static int own_memory(struct run *run, struct item *it,
		      struct vshm_share_args *a)
{
	size_t size = run->opt.size;

	switch (run->opt.src) {
	case SRC_LIB:
		return 0;
	case SRC_BUF:
		if (run->opt.huge) {
			it->buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS |
				       MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
			if (it->buf == MAP_FAILED) {
				it->buf = NULL;
				return fail(run, "region #%u: mmap of %zu bytes of 2 MiB pages for --buf: %s%s",
					    run->nr + 1, size, strerror(errno),
					    errno == ENOMEM ? " (not enough free huge pages: --reserve-huge)" : "");
			}
			it->buf_huge = true;
		} else {
			it->buf = aligned_alloc(4096, size);
			if (!it->buf)
				return fail(run, "region #%u: out of memory for --buf",
					    run->nr + 1);
		}
		a->flags |= VSHM_SHARE_BUF;
		a->addr = it->buf;
		return 0;
	default:
		it->memfd = memfd_create("vshm-guest", MFD_CLOEXEC |
					 (run->opt.src == SRC_HUGETLB_MEMFD ?
					  MFD_HUGETLB : 0));
		if (it->memfd < 0)
			return fail(run, "region #%u: memfd_create: %s",
				    run->nr + 1, strerror(errno));
		if (ftruncate(it->memfd, (off_t)size))
			return fail(run, "region #%u: ftruncate of the memfd to %zu: %s",
				    run->nr + 1, size, strerror(errno));
		a->flags = VSHM_SHARE_MEMFD;
		a->memfd = it->memfd;
		return 0;
	}
}

/* After the region ended (or was never shared): the program's memory. */
static void free_own_memory(struct run *run, struct item *it)
{
	if (it->buf && it->buf_huge)
		munmap(it->buf, run->opt.size);
	else
		free(it->buf);
	it->buf = NULL;
	if (it->memfd >= 0)
		close(it->memfd);
	it->memfd = -1;
}

static int share_one(struct run *run)
{
	struct item *it = &run->items[run->nr];
	struct fill_arg fa = { .seed = run->opt.seed };
	struct vshm_share_args a = {
		.size = run->opt.size,
		.flags = run->opt.huge ? VSHM_SHARE_HUGE : 0,
		.access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE,
		.cookie = run->opt.cookie,
		.fill = fill_region,
		.fill_arg = &fa,
	};
	int ret;

	it->memfd = -1;
	if (own_memory(run, it, &a)) {
		free_own_memory(run, it);
		return -1;
	}
	it->r = vshm_share_ex(run->g, &a);
	if (!it->r) {
		ret = fail(run, "region #%u: share: %s: %s", run->nr + 1,
			   strerror(errno), vshm_guest_last_failure(run->g));
		/* Pinned until close if the host did not confirm: keep it. */
		return ret;
	}
	it->st = *vshm_region_stats(it->r);
	it->fill_ns = fa.ns;
	run->nr++;
	if (check_host_words(run, it))
		return -1;
	if (run->opt.notify_bits) {
		ret = vshm_region_notify(it->r, run->opt.notify_bits);
		if (ret)
			return fail(run, "region %u: notify: %s", it->st.region,
				    strerror(-ret));
	}
	return 0;
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

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Prints an event as it is handed out (flushed: tests wait for it). */
static void print_event(struct vshm_guest *g, const struct vshm_guest_event *ev,
			void *arg)
{
	(void)g;
	(void)arg;
	if (ev->type == VSHM_GUEST_EV_REVOKED)
		printf("vshm-guest: event REVOKED region %u grant %llu reason %s\n",
		       ev->region, (unsigned long long)ev->grant,
		       vshm_revoke_reason_name(ev->reason));
	else
		printf("vshm-guest: event NOTIFY region %u bits %#x\n",
		       ev->region, ev->bits);
	fflush(stdout);
}

/* Hands out what the host said; says once if the connection ended. */
static int dispatch(struct run *run)
{
	int ret = vshm_guest_dispatch(run->g);

	if (ret < 0 && !run->conn_ended) {
		printf("vshm-guest: connection: %s: %s\n", strerror(-ret),
		       vshm_guest_last_failure(run->g));
		fflush(stdout);
		run->conn_ended = true;
	}
	return ret;
}

/* Holds the regions for ms, printing the host's events meanwhile. */
static void hold(struct run *run, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000ULL;
	struct pollfd p = { .fd = vshm_guest_fd(run->g), .events = POLLIN };

	dispatch(run);
	for (;;) {
		uint64_t now = now_ns();
		int left;

		if (now >= end)
			return;
		left = (int)((end - now + 999999) / 1000000);
		if (run->conn_ended) {
			/* Sleep the rest, as before: the test decides. */
			sleep_ms((unsigned int)left);
			return;
		}
		if (poll(&p, 1, left) > 0)
			dispatch(run);
	}
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
	free_own_memory(run, it);
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
	struct vshm_guest_opts go = {
		.cid = o->cid,
		.port = o->port,
		.timeout_ms = o->timeout_ms,
		.connect_wait_ms = (int)o->wait_connect_ms,
		.flags = o->plain ? VSHM_GUEST_PLAIN : 0,
	};
	uint64_t f;
	int ret;

	run->g = vshm_guest_connect_opts(&go);
	if (!run->g)
		return fail(run, "connect to cid %u port %u: %s%s", o->cid,
			    o->port, strerror(errno),
			    errno == ECONNREFUSED && !o->wait_connect_ms ?
			    " (nobody listens: --wait-connect MS waits for the server)" :
			    "");
	f = vshm_guest_features(run->g);
	printf("vshm-guest: connected, features %#llx%s%s%s\n",
	       (unsigned long long)f, f & VSHM_FEAT_REVOKED ? " revoked" : "",
	       f & VSHM_FEAT_COOKIE ? " cookie" : "",
	       f & VSHM_FEAT_NOTIFY ? " notify" : "");
	fflush(stdout);
	vshm_guest_set_event_cb(run->g, print_event, run);
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
	hold(run, run->opt.hold_ms);
	if (!run->opt.no_free && free_all(run))
		return -1;
	return 0;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * --reserve-huge: raises vm.nr_hugepages until the 2 MiB pages of every
 * region are free, as the user asked (the library never does).
 */
static int reserve_huge(struct run *run)
{
	const struct options *o = &run->opt;
	long need = (long)(o->size / (2UL << 20)) * o->count;
	long nr = read_long(NR_HUGEPAGES);
	long avail = read_long(HUGE_SYSFS "free_hugepages") -
		     read_long(HUGE_SYSFS "resv_hugepages");
	long want, got;
	FILE *f;

	if (!o->huge && o->src != SRC_HUGETLB_MEMFD)
		return 0;
	if (nr < 0 || avail < 0)
		return fail(run, "--reserve-huge: no 2 MiB huge page pool (%s)",
			    HUGE_SYSFS);
	if (avail >= need)
		return 0;
	want = nr + need - avail;
	f = fopen(NR_HUGEPAGES, "w");
	if (!f || fprintf(f, "%ld\n", want) < 0 || fclose(f)) {
		int err = errno;

		return fail(run, "--reserve-huge: writing %ld to %s: %s", want,
			    NR_HUGEPAGES, strerror(err));
	}
	got = read_long(NR_HUGEPAGES);
	printf("vshm-guest: reserved %ld huge pages (nr_hugepages %ld -> %ld)\n",
	       got - nr, nr, got);
	fflush(stdout);
	if (got < want)
		return fail(run, "--reserve-huge: the kernel gave %ld of the %ld huge pages asked for",
			    got - nr, want - nr);
	return 0;
}

/* No region, no memory of the program's. */
static void clear_items(struct run *run)
{
	unsigned int i;

	memset(run->items, 0, run->opt.count * sizeof(*run->items));
	for (i = 0; i < run->opt.count; i++)
		run->items[i].memfd = -1;
}

static int run_share(struct run *run)
{
	unsigned int r;

	if (run->opt.reserve_huge && reserve_huge(run))
		return -1;
	if (connect_host(run))
		return -1;
	for (r = 0; r < run->opt.repeat; r++) {
		/* Only the last cycle's regions are kept for printing. */
		run->nr = 0;
		clear_items(run);
		if (run_cycle(run))
			return -1;
		run->cycles++;
	}
	/* What the host said since the last hold. */
	dispatch(run);
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
	clear_items(&run);
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
	/* Unpinned now: the program's own memory may go. */
	for (i = 0; i < run.opt.count; i++)
		free_own_memory(&run, &run.items[i]);
	free(run.items);
	if (ret) {
		printf("vshm-guest: FAILED: %s\n", run.reason);
		return 1;
	}
	printf("vshm-guest: OK\n");
	return 0;
}
