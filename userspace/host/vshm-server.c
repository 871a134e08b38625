// SPDX-License-Identifier: GPL-2.0
/*
 * vshm-server: example vsock-shm host server (runs on the L1 host, root).
 *
 *   vshm-server --port P [--max-conns N] [--exit-after N] [--seed S]
 *               [--max-size SIZE[K|M|G]] [--json]
 *
 * For every region a guest shares, checks the guest's pattern (pattern.h)
 * in every page, then writes the host words (the first 8 bytes of each
 * 4 KiB page) before the guest gets MAPPED. A mismatch is reported and
 * refused (ERROR VSHM_E_DENIED), and makes the exit status 1.
 *
 * Prints one line per mapped region:
 *   vshm-server: region R cid=C size=... pages=... runs=... pin_ms=...
 *                map_ms=... check=ok conn=N peer=C:P cookie=0x...
 * one per region the host module revoked (the mapper's events):
 *   vshm-server: region R cid=C conn=N revoked (memmap|migration|...)
 * and one per region that ends (mapped or not):
 *   vshm-server: region R cid=C freed conn=N
 *   vshm-server: region R cid=C dropped (closed|reset|protocol|shutdown)
 *                conn=N
 * the latter when its connection ended without FREE (see on_ended in
 * <vsock-shm/server.h>; the server keeps no pointer, so it holds no range).
 * (--json: one JSON object per line instead, "event" "mapped", "revoked",
 * "freed" or "dropped" with "reason"; each with "conn", "cid", "port"). With --exit-after N it exits after N regions
 * were freed by their guests; otherwise at SIGINT/SIGTERM.
 * Exit status: 0, 1 after a pattern mismatch or a server error, 2 for bad
 * arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vsock-shm/server.h>

/* Not the library's API: linked statically (userspace/Makefile). */
#include "bench.h"
#include "pattern.h"

struct app {
	uint64_t seed;
	uint64_t exit_after;
	bool json;
	bool bench;
	/* --bench: the region to measure once MAPPED has been sent. */
	struct {
		void *ptr;
		size_t size;
		uint32_t page_size;
		uint32_t id;
		unsigned int runs;
		double pin_ms;
		double map_ms;
	} pending;
	uint64_t freed;
	uint64_t dropped;
	uint64_t revoked;
	unsigned int failures;
	struct vshm_server *server;
};

static struct vshm_server *the_server;
static volatile sig_atomic_t stop_requested;

/*
 * The host module may revoke a live region's mapping at any time (the
 * guest frees it or goes away before the server has read that): reading it
 * then raises SIGBUS. A check in progress gives up instead of killing the
 * server. (A region the library has seen end is never read: on_ended
 * forgets the pending bench region.)
 */
static sigjmp_buf check_jmp;
static volatile sig_atomic_t checking;

static void on_sigbus(int sig)
{
	if (checking)
		siglongjmp(check_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (the_server)
		vshm_server_stop(the_server);
}

static int install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	if (sigaction(SIGBUS, &sa, NULL))
		return -1;
	sa.sa_handler = on_stop;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void print_mapped(const struct app *a,
			 const struct vshm_session_region *r,
			 const char *check)
{
	if (a->json)
		printf("{\"event\":\"mapped\",\"region\":%u,\"cid\":%u,\"size\":%llu,\"pages\":%u,\"runs\":%u,\"pin_ms\":%.3f,\"map_ms\":%.3f,\"grant\":%llu,\"check\":\"%s\",\"conn\":%llu,\"port\":%u,\"cookie\":%llu}\n",
		       r->id, r->peer_cid, (unsigned long long)r->size,
		       r->nr_pages, r->info.nr_runs, ms(r->info.pin_ns),
		       ms(r->info.map_ns), (unsigned long long)r->grant, check,
		       (unsigned long long)r->conn_id, r->peer_port,
		       (unsigned long long)r->cookie);
	else
		printf("vshm-server: region %u cid=%u size=%llu pages=%u runs=%u pin_ms=%.3f map_ms=%.3f check=%s conn=%llu peer=%u:%u cookie=%#llx\n",
		       r->id, r->peer_cid, (unsigned long long)r->size,
		       r->nr_pages, r->info.nr_runs, ms(r->info.pin_ns),
		       ms(r->info.map_ns), check,
		       (unsigned long long)r->conn_id, r->peer_cid,
		       r->peer_port, (unsigned long long)r->cookie);
	fflush(stdout);
}

static void report_mismatch(const struct vshm_session_region *r,
			    const struct vshm_pattern_bad *bad)
{
	fprintf(stderr, "vshm-server: region %u cid=%u: pattern mismatch at page %llu word %llu: got %#llx, want %#llx\n",
		r->id, r->peer_cid, (unsigned long long)(bad->off / 4096),
		(unsigned long long)(bad->off % 4096 / 8),
		(unsigned long long)bad->got, (unsigned long long)bad->want);
}

/* Checks the guest's words, then writes the host's; 0 or an error code. */
static int check_and_mark(struct app *a, const struct vshm_session_region *r)
{
	struct vshm_pattern_bad bad;
	int ret;

	if (sigsetjmp(check_jmp, 1)) {
		checking = 0;
		fprintf(stderr, "vshm-server: region %u cid=%u: mapping revoked during the check (SIGBUS)\n",
			r->id, r->peer_cid);
		return VSHM_E_INTERNAL;
	}
	checking = 1;
	ret = vshm_pattern_check(r->ptr, (size_t)r->info.size, a->seed, r->id,
				 &bad);
	if (!ret && (r->info.access & VSHM_ACCESS_WRITE))
		vshm_pattern_mark(r->ptr, (size_t)r->info.size, a->seed,
				  r->id);
	checking = 0;
	if (ret) {
		report_mismatch(r, &bad);
		return VSHM_E_DENIED;
	}
	return 0;
}

/*
 * --bench: the same work on the mapping and on local memory, run after
 * MAPPED went out (outside the guest's share time), while the guest holds
 * the region.
 */
static void run_pending_bench(struct app *a)
{
	struct vshm_bench b;
	int ret;

	if (!a->pending.ptr)
		return;
	if (sigsetjmp(check_jmp, 1)) {
		checking = 0;
		fprintf(stderr, "vshm-server: region %u: bench: mapping revoked (SIGBUS): hold the region longer\n",
			a->pending.id);
		a->failures++;
		a->pending.ptr = NULL;
		return;
	}
	checking = 1;
	ret = vshm_bench_region(a->pending.ptr, a->pending.size,
				a->pending.page_size, &b);
	checking = 0;
	if (ret) {
		fprintf(stderr, "vshm-server: region %u: bench: %s\n",
			a->pending.id, strerror(-ret));
		a->failures++;
	} else {
		printf("vshm-server: bench region %u size=%zu page=%u runs=%u pin_ms=%.3f map_ms=%.3f populate_ms=%.3f local_huge=%d read_mapped_gbs=%.3f read_local_gbs=%.3f write_mapped_gbs=%.3f write_local_gbs=%.3f\n",
		       a->pending.id, a->pending.size, a->pending.page_size,
		       a->pending.runs, a->pending.pin_ms, a->pending.map_ms,
		       ms(b.populate_ns), b.local_huge, b.read_mapped_gbs,
		       b.read_local_gbs, b.write_mapped_gbs, b.write_local_gbs);
		fflush(stdout);
	}
	a->pending.ptr = NULL;
}

/* --bench: only the host's words are written (the guest checks them). */
static int bench_mapped(struct app *a, const struct vshm_session_region *r)
{
	vshm_pattern_mark(r->ptr, (size_t)r->info.size, a->seed, r->id);
	a->pending.ptr = r->ptr;
	a->pending.size = (size_t)r->info.size;
	a->pending.page_size = r->page_size;
	a->pending.id = r->id;
	a->pending.runs = r->info.nr_runs;
	a->pending.pin_ms = ms(r->info.pin_ns);
	a->pending.map_ms = ms(r->info.map_ns);
	print_mapped(a, r, "skipped");
	return 0;
}

static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct app *a = arg;
	int ret;

	if (a->bench)
		return bench_mapped(a, r);
	ret = check_and_mark(a, r);
	if (ret)
		a->failures++;
	print_mapped(a, r, ret ? "FAILED" : "ok");
	return ret;
}

/*
 * Every region that ends: freed by its guest, or dropped with its
 * connection. Its mapping is already gone; returns 0: nothing here keeps a
 * pointer into it (a pending bench region is forgotten), so its address
 * range can be given back.
 */
static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	struct app *a = arg;
	bool freed = why == VSHM_END_FREED;

	if (r->addr && r->addr == a->pending.ptr) {
		fprintf(stderr, "vshm-server: region %u: bench: the region ended (%s) before it could be measured: hold it longer\n",
			r->id, vshm_end_reason_name(why));
		a->failures++;
		a->pending.ptr = NULL;
	}
	if (freed)
		a->freed++;
	else
		a->dropped++;
	if (a->json && freed)
		printf("{\"event\":\"freed\",\"region\":%u,\"cid\":%u,\"conn\":%llu,\"port\":%u}\n",
		       r->id, r->peer_cid, (unsigned long long)r->conn_id,
		       r->peer_port);
	else if (a->json)
		printf("{\"event\":\"dropped\",\"region\":%u,\"cid\":%u,\"reason\":\"%s\",\"mapped\":%s,\"conn\":%llu,\"port\":%u}\n",
		       r->id, r->peer_cid, vshm_end_reason_name(why),
		       r->addr ? "true" : "false",
		       (unsigned long long)r->conn_id, r->peer_port);
	else if (freed)
		printf("vshm-server: region %u cid=%u freed conn=%llu\n",
		       r->id, r->peer_cid, (unsigned long long)r->conn_id);
	else
		printf("vshm-server: region %u cid=%u dropped (%s) conn=%llu\n",
		       r->id, r->peer_cid, vshm_end_reason_name(why),
		       (unsigned long long)r->conn_id);
	fflush(stdout);
	if (freed && a->exit_after && a->freed >= a->exit_after)
		vshm_server_stop(a->server);
	return 0;
}

/*
 * The host module revoked a mapped region (the mapper's event): logged with
 * why. A bench region that is gone cannot be measured.
 */
static void on_revoked(void *arg, const struct vshm_session_region *r,
		       enum vshm_revoke_reason reason)
{
	struct app *a = arg;

	if (r->ptr && r->ptr == a->pending.ptr) {
		fprintf(stderr, "vshm-server: region %u: bench: revoked (%s) before it could be measured\n",
			r->id, vshm_revoke_reason_name(reason));
		a->failures++;
		a->pending.ptr = NULL;
	}
	a->revoked++;
	if (a->json)
		printf("{\"event\":\"revoked\",\"region\":%u,\"cid\":%u,\"reason\":\"%s\",\"grant\":%llu,\"conn\":%llu,\"port\":%u}\n",
		       r->id, r->peer_cid, vshm_revoke_reason_name(reason),
		       (unsigned long long)r->grant,
		       (unsigned long long)r->conn_id, r->peer_port);
	else
		printf("vshm-server: region %u cid=%u conn=%llu revoked (%s)\n",
		       r->id, r->peer_cid, (unsigned long long)r->conn_id,
		       vshm_revoke_reason_name(reason));
	fflush(stdout);
}

/* Arguments */

static void usage(void)
{
	fprintf(stderr,
		"usage: vshm-server --port PORT [--max-conns N] [--exit-after N]\n"
		"           [--seed S] [--max-size SIZE[K|M|G]] [--json] [--bench]\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *s == '\0' || *s == '-' || *end != '\0' ? -1 : 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMG";
	char num[32];
	size_t len = strlen(s);
	const char *u;
	unsigned int shift = 0;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	u = strchr(units, num[len - 1]);
	if (u && *u) {
		shift = 10 * (unsigned int)(u - units + 1);
		num[len - 1] = '\0';
	}
	if (parse_u64(num, out) || *out > (UINT64_MAX >> shift))
		return -1;
	*out <<= shift;
	return 0;
}

enum {
	OPT_PORT = 1, OPT_CONNS, OPT_EXIT, OPT_SEED, OPT_SIZE, OPT_JSON,
	OPT_BENCH,
};

static const struct option long_opts[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "max-conns", required_argument, NULL, OPT_CONNS },
	{ "exit-after", required_argument, NULL, OPT_EXIT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "max-size", required_argument, NULL, OPT_SIZE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "bench", no_argument, NULL, OPT_BENCH },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(struct vshm_server_cfg *cfg, struct app *a, int c,
		     const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_PORT:
		if (parse_u64(arg, &v) || !v || v > 0xffffffffULL)
			return -1;
		cfg->port = (unsigned int)v;
		return 0;
	case OPT_CONNS:
		if (parse_u64(arg, &v) || !v || v > 65536)
			return -1;
		cfg->max_conns = (unsigned int)v;
		return 0;
	case OPT_EXIT:
		return parse_u64(arg, &a->exit_after);
	case OPT_SEED:
		return parse_u64(arg, &a->seed);
	case OPT_SIZE:
		return parse_size(arg, &cfg->max_region_size);
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_BENCH:
		a->bench = true;
		return 0;
	default:
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct vshm_server_cfg *cfg,
		      struct app *a)
{
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "", long_opts, &idx)) != -1) {
		if (c == '?' || parse_one(cfg, a, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "vshm-server: bad value for --%s: %s\n",
					long_opts[idx].name, optarg ? optarg : "");
			return -1;
		}
	}
	if (optind != argc || !cfg->port) {
		fprintf(stderr, "vshm-server: --port is required, and nothing else\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct app a = { .seed = VSHM_PATTERN_DEFAULT_SEED };
	struct vshm_server_cfg cfg = {
		.on_mapped = on_mapped,
		.on_ended = on_ended,
		.on_revoked = on_revoked,
		.arg = &a,
	};
	int ret;

	if (parse_args(argc, argv, &cfg, &a)) {
		usage();
		return 2;
	}
	if (install_signals()) {
		perror("vshm-server: sigaction");
		return 1;
	}
	a.server = vshm_server_new(&cfg);
	if (!a.server) {
		fprintf(stderr, "vshm-server: cannot start on port %u: %s\n",
			cfg.port, strerror(errno));
		return 1;
	}
	the_server = a.server;
	fprintf(stderr, "vshm-server: listening on vsock port %u\n", cfg.port);
	if (!a.bench) {
		ret = vshm_server_run(a.server);
	} else {
		/* One message at a time, measuring between them. */
		do {
			ret = vshm_server_poll(a.server, 200);
			if (ret == -EINTR)
				ret = 0;
			run_pending_bench(&a);
		} while (!ret && !stop_requested);
	}
	the_server = NULL;
	vshm_server_free(a.server);
	fprintf(stderr, "vshm-server: exiting: %llu region%s freed, %llu dropped, %llu revoked, %u check failure%s\n",
		(unsigned long long)a.freed, a.freed == 1 ? "" : "s",
		(unsigned long long)a.dropped, (unsigned long long)a.revoked,
		a.failures, a.failures == 1 ? "" : "s");
	return ret || a.failures ? 1 : 0;
}
