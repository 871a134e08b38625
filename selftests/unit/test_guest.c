// SPDX-License-Identifier: GPL-2.0
/*
 * The guest library (userspace/guest/vshm_guest.c) against a fake host on
 * the other end of a UNIX SOCK_SEQPACKET socketpair: a thread that plays
 * the module (turns each GPA_LIST into an HPA_LIST, or a REFUSED) and the
 * server (the real session state machine with a fake mapper), with knobs
 * to misbehave. The guest really maps, pins (io_uring) and reads
 * /proc/self/pagemap, so the sharing tests need root; they skip otherwise.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"
#include "session.h"
#include "vshm_guest.h"

#define MAX_REGION	64
#define GRANT_BASE	0x1000

/* How the fake host behaves. */
struct fake_host {
	int fd;
	pthread_t thread;
	struct vshm_session *sess;
	/* knobs */
	int refuse_chunk;	/* refuse the n-th GPA_LIST (1-based), 0: none */
	uint32_t refuse_code;
	int silent_type;	/* never answer this message type */
	int error_free;		/* answer FREE with ERROR VSHM_E_BUSY */
	int wrong_region;	/* answer ALLOC_OK for region + 1 */
	/* what it saw */
	uint32_t pages[MAX_REGION];	/* ALLOC nr_pages, by region */
	int allocs, lists, frees;
	uint32_t next_first[MAX_REGION];	/* stop-and-wait check */
	int out_of_step;
	uint64_t *gpas[MAX_REGION];	/* pages received, expanded */
};

static struct fake_host host;
static struct vshm_guest *g;

static int fake_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		    struct vshm_map_info *info)
{
	struct fake_host *h = ctx;
	uint32_t pages = h->pages[(grant - GRANT_BASE) % MAX_REGION];

	(void)sock_fd;
	*ptr = calloc(pages, VSHM_PAGE_SIZE);
	if (!*ptr)
		return -ENOMEM;
	info->size = (uint64_t)pages * VSHM_PAGE_SIZE;
	info->nr_pages = pages;
	info->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	return 0;
}

static int fake_unmap(void *ctx, uint64_t grant, void *ptr, size_t size)
{
	(void)ctx;
	(void)grant;
	(void)size;
	free(ptr);
	return 0;
}

static const struct vshm_mapper_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
};

/* Records a GPA_LIST's pages; checks chunks come in order, one by one. */
static void record_list(struct fake_host *h, const struct vshm_msg *m)
{
	uint32_t r = m->region % MAX_REGION, i, k, at = m->list.first_page;

	if (m->list.first_page != h->next_first[r])
		h->out_of_step++;
	h->next_first[r] = m->list.first_page + m->list.nr_pages;
	if (!h->gpas[r])
		h->gpas[r] = calloc(m->list.total_pages, sizeof(uint64_t));
	for (i = 0; i < m->list.nr_ext; i++) {
		struct vshm_run run = vshm_msg_run(m, i);

		for (k = 0; k < run.npages && at < m->list.total_pages; k++)
			h->gpas[r][at++] = run.addr + (uint64_t)k * 4096;
	}
}

/* The module's part: rewrite a guest GPA_LIST in place. */
static void play_module(struct fake_host *h, uint8_t *msg, size_t len)
{
	struct vshm_msg m;

	if (vshm_decode(msg, len, &m) || m.type != VSHM_MSG_GPA_LIST)
		return;
	h->lists++;
	record_list(h, &m);
	if (h->lists == h->refuse_chunk) {
		vshm_wire_mark_refused(msg, len, h->refuse_code, 1);
		return;
	}
	vshm_wire_mark_hpa(msg, GRANT_BASE + m.region);
}

static void note_msg(struct fake_host *h, const uint8_t *msg, size_t len)
{
	struct vshm_msg m;

	if (vshm_decode(msg, len, &m))
		return;
	if (m.type == VSHM_MSG_ALLOC) {
		h->allocs++;
		h->pages[m.region % MAX_REGION] = m.alloc.nr_pages;
		h->next_first[m.region % MAX_REGION] = 0;
	}
	if (m.type == VSHM_MSG_FREE)
		h->frees++;
}

/* The misbehaviours; returns true if it answered (or chose silence). */
static bool misbehave(struct fake_host *h, const uint8_t *msg, size_t len)
{
	uint8_t reply[32];
	struct vshm_msg m;
	ssize_t n;

	if (vshm_decode(msg, len, &m))
		return false;
	if (h->silent_type && m.type == h->silent_type)
		return true;
	if (h->error_free && m.type == VSHM_MSG_FREE) {
		n = vshm_encode_error(reply, sizeof(reply), m.region,
				      VSHM_E_BUSY, VSHM_NO_INDEX,
				      VSHM_MSG_FREE);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		return true;
	}
	if (h->wrong_region && m.type == VSHM_MSG_ALLOC) {
		n = vshm_encode_alloc_ok(reply, sizeof(reply), m.region + 1);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		return true;
	}
	return false;
}

static void *host_main(void *arg)
{
	struct fake_host *h = arg;
	static uint8_t msg[VSHM_MAX_MSG + 1];
	struct vshm_session_out out;
	ssize_t n;

	while ((n = recv(h->fd, msg, sizeof(msg), 0)) > 0) {
		note_msg(h, msg, (size_t)n);
		if (misbehave(h, msg, (size_t)n))
			continue;
		play_module(h, msg, (size_t)n);
		vshm_session_feed(h->sess, msg, (size_t)n, &out);
		send(h->fd, out.reply, out.reply_len, MSG_NOSIGNAL);
	}
	return NULL;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: /proc/self/pagemap hides PFNs");
}

/* Starts the fake host with max_regions live regions at most. */
static void start(uint32_t max_regions)
{
	struct vshm_session_cfg cfg = {
		.sock_fd = -1,
		.max_regions = max_regions,
		.ops = &fake_ops,
		.ops_ctx = &host,
	};
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	host.fd = sv[1];
	host.sess = vshm_session_new(&cfg);
	cr_assert_not_null(host.sess);
	cr_assert_eq(pthread_create(&host.thread, NULL, host_main, &host), 0);
	g = vshm_guest_from_fd(sv[0]);
	cr_assert_not_null(g);
	cr_assert_eq(vshm_guest_set_timeout(g, 5000), 0);
}

static void stop(void)
{
	int i;

	if (g)
		cr_assert_eq(vshm_guest_close(g), 0);
	g = NULL;
	pthread_join(host.thread, NULL);
	close(host.fd);
	vshm_session_free(host.sess);
	for (i = 0; i < MAX_REGION; i++)
		free(host.gpas[i]);
	memset(&host, 0, sizeof(host));
}

static void setup(void)
{
	memset(&host, 0, sizeof(host));
	g = NULL;
}

TestSuite(guest, .init = setup);

#define RW	(VSHM_ACCESS_READ | VSHM_ACCESS_WRITE)

/* The host got exactly the pages pagemap shows now. */
static void expect_host_has_gpas(struct vshm_region *r)
{
	size_t n = vshm_region_size(r) / 4096, i;
	uint64_t *now = calloc(n, sizeof(*now));
	uint32_t id = vshm_region_id(r) % MAX_REGION;

	cr_assert_not_null(now);
	cr_assert_eq(vshm_region_gpas(r, now, n), 0);
	cr_assert_not_null(host.gpas[id]);
	for (i = 0; i < n; i++)
		cr_assert_eq(now[i], host.gpas[id][i], "page %zu", i);
	free(now);
}

Test(guest, share_and_free)
{
	const struct vshm_region_stats *st;
	struct vshm_region *r;
	size_t next;

	need_root();
	start(0);
	r = vshm_share(g, 64 * 4096, 0, RW);
	cr_assert_not_null(r, "share: %s: %s", strerror(errno),
			   vshm_guest_last_failure(g));
	st = vshm_region_stats(r);
	cr_assert_eq(st->region, vshm_region_id(r));
	cr_assert_eq(st->nr_pages, 64);
	cr_assert_eq(st->page_size, 4096);
	cr_assert_eq(st->size, 64 * 4096);
	cr_assert_eq(st->grant, GRANT_BASE + st->region);
	cr_assert_geq(st->nr_extents, 1);
	cr_assert_eq(st->nr_chunks, 1);
	cr_assert_gt(st->share_ns, 0);
	cr_assert_not_null(vshm_region_extents(r, &next));
	cr_assert_eq(next, st->nr_extents);
	expect_host_has_gpas(r);
	memset(vshm_region_ptr(r), 0x5a, vshm_region_size(r));
	cr_assert_eq(vshm_free(r), 0);
	cr_assert_eq(host.allocs, 1);
	cr_assert_eq(host.frees, 1);
	cr_assert_eq(vshm_guest_last_error(g, NULL, NULL), -ENOENT);
	stop();
}

Test(guest, one_extent_per_chunk_stop_and_wait)
{
	const struct vshm_region_stats *st;
	struct vshm_region *r;

	need_root();
	start(0);
	cr_assert_eq(vshm_guest_set_max_msg(g, VSHM_GPA_LIST_SIZE(1)), 0);
	r = vshm_share(g, 128 * 4096, 0, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	st = vshm_region_stats(r);
	cr_assert_eq(st->nr_chunks, st->nr_extents);
	cr_assert_eq(host.lists, (int)st->nr_chunks);
	cr_assert_eq(host.out_of_step, 0);
	expect_host_has_gpas(r);
	cr_assert_eq(vshm_free(r), 0);
	stop();
}

struct fill_seen {
	uint32_t region;
	size_t size;
};

static int fill_pattern(void *ptr, size_t size, uint32_t region, void *arg)
{
	struct fill_seen *seen = arg;
	uint64_t *w = ptr;
	size_t i;

	seen->region = region;
	seen->size = size;
	for (i = 0; i < size / 8; i++)
		w[i] = ((uint64_t)region << 48) ^ (i * 8);
	return 0;
}

static int fill_fails(void *ptr, size_t size, uint32_t region, void *arg)
{
	(void)ptr;
	(void)size;
	(void)region;
	(void)arg;
	return -EIO;
}

Test(guest, fill_before_share)
{
	struct fill_seen seen = { 0, 0 };
	struct vshm_region *r;
	uint64_t *w;

	need_root();
	start(0);
	r = vshm_share_fill(g, 8 * 4096, 0, RW, fill_pattern, &seen);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(seen.region, vshm_region_id(r));
	cr_assert_eq(seen.size, 8 * 4096);
	w = vshm_region_ptr(r);
	cr_assert_eq(w[513], ((uint64_t)seen.region << 48) ^ (513 * 8));
	cr_assert_eq(vshm_free(r), 0);

	errno = 0;
	cr_assert_null(vshm_share_fill(g, 4096, 0, RW, fill_fails, NULL));
	cr_assert_eq(errno, EIO);
	cr_assert_eq(host.allocs, 1, "nothing is sent for a failed fill");
	stop();
}

Test(guest, refused_chunk_is_eproto_and_freed)
{
	struct vshm_region *r;
	uint32_t code = 0, detail = 0;

	need_root();
	start(0);
	host.refuse_chunk = 2;
	host.refuse_code = VSHM_E_NOTMAPPABLE;
	cr_assert_eq(vshm_guest_set_max_msg(g, VSHM_GPA_LIST_SIZE(1)), 0);
	errno = 0;
	r = vshm_share(g, 64 * 4096, 0, RW);
	if (!r && errno == 0)
		cr_assert_fail("no errno");
	if (r) {
		/* Contiguous memory: one extent, one chunk, nothing refused. */
		cr_assert_eq(vshm_region_stats(r)->nr_chunks, 1);
		cr_skip_test("the region came out physically contiguous");
	}
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(vshm_guest_last_error(g, &code, &detail), 0);
	cr_assert_eq(code, VSHM_E_NOTMAPPABLE);
	cr_assert_eq(detail, 1);
	cr_assert_str_neq(vshm_guest_last_failure(g), "");
	/* The guest freed the failed region so the module drops its grant. */
	cr_assert_eq(host.frees, 1);
	/* The connection is still good. */
	host.refuse_chunk = 0;
	r = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(vshm_free(r), 0);
	stop();
}

Test(guest, refused_first_chunk)
{
	uint32_t code = 0;

	need_root();
	start(0);
	host.refuse_chunk = 1;
	host.refuse_code = VSHM_E_FRAG;
	errno = 0;
	cr_assert_null(vshm_share(g, 16 * 4096, 0, RW));
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(vshm_guest_last_error(g, &code, NULL), 0);
	cr_assert_eq(code, VSHM_E_FRAG);
	cr_assert(strstr(vshm_guest_last_failure(g), "VSHM_E_FRAG"));
	cr_assert_eq(host.frees, 1);
	stop();
}

Test(guest, alloc_error_sends_no_free)
{
	struct vshm_region *r, *r2;
	uint32_t code = 0;

	need_root();
	start(1);
	r = vshm_share(g, 4096, 0, VSHM_ACCESS_READ);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	errno = 0;
	r2 = vshm_share(g, 4096, 0, RW);
	cr_assert_null(r2);
	cr_assert_eq(errno, EPROTO);
	cr_assert_eq(vshm_guest_last_error(g, &code, NULL), 0);
	cr_assert_eq(code, VSHM_E_QUOTA);
	cr_assert_eq(host.frees, 0);
	cr_assert_eq(vshm_free(r), 0);
	stop();
}

Test(guest, free_error_keeps_region)
{
	struct vshm_region *r;
	uint32_t code = 0;
	volatile uint8_t *p;

	need_root();
	start(0);
	r = vshm_share(g, 4 * 4096, 0, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	host.error_free = 1;
	cr_assert_eq(vshm_free(r), -EPROTO);
	cr_assert_eq(vshm_guest_last_error(g, &code, NULL), 0);
	cr_assert_eq(code, VSHM_E_BUSY);
	/* Still mapped and usable; a retry that the host confirms works. */
	p = vshm_region_ptr(r);
	p[4096] = 1;
	host.error_free = 0;
	cr_assert_eq(vshm_free(r), 0);
	stop();
}

Test(guest, timeout_breaks_connection)
{
	need_root();
	start(0);
	cr_assert_eq(vshm_guest_set_timeout(g, 200), 0);
	host.silent_type = VSHM_MSG_ALLOC;
	errno = 0;
	cr_assert_null(vshm_share(g, 4096, 0, RW));
	cr_assert_eq(errno, ETIMEDOUT);
	cr_assert(strstr(vshm_guest_last_failure(g), "timed out"));
	errno = 0;
	cr_assert_null(vshm_share(g, 4096, 0, RW));
	cr_assert_eq(errno, ENOTCONN);
	/* The unconfirmed region is released at close. */
	stop();
}

Test(guest, wrong_answer_is_ebadmsg)
{
	need_root();
	start(0);
	host.wrong_region = 1;
	errno = 0;
	cr_assert_null(vshm_share(g, 4096, 0, RW));
	cr_assert_eq(errno, EBADMSG);
	cr_assert(strstr(vshm_guest_last_failure(g), "ALLOC_OK"));
	stop();
}

Test(guest, region_ids_unique)
{
	struct vshm_region *r[3], *r4;
	int i;

	need_root();
	start(0);
	for (i = 0; i < 3; i++) {
		r[i] = vshm_share(g, 4096, 0, RW);
		cr_assert_not_null(r[i], "share: %s",
				   vshm_guest_last_failure(g));
	}
	cr_assert_neq(vshm_region_id(r[0]), vshm_region_id(r[1]));
	cr_assert_neq(vshm_region_id(r[1]), vshm_region_id(r[2]));
	cr_assert_neq(vshm_region_id(r[0]), vshm_region_id(r[2]));
	cr_assert_eq(vshm_free(r[1]), 0);
	r4 = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r4);
	cr_assert_neq(vshm_region_id(r4), vshm_region_id(r[0]));
	cr_assert_neq(vshm_region_id(r4), vshm_region_id(r[2]));
	/* Regions still live at close are released by it. */
	stop();
}

Test(guest, raw_messages)
{
	uint8_t msg[64];
	struct vshm_msg m;
	ssize_t n;
	int len;

	start(0);
	n = vshm_encode_free(msg, sizeof(msg), 99);
	cr_assert_eq(vshm_guest_send_raw(g, msg, (size_t)n), 0);
	len = vshm_guest_recv_raw(g, msg, sizeof(msg), 2000);
	cr_assert_eq(len, 32);
	cr_assert_eq(vshm_decode(msg, (size_t)len, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ERROR);
	cr_assert_eq(m.error.code, VSHM_E_NOREGION);
	cr_assert_eq(vshm_guest_recv_raw(g, msg, sizeof(msg), 50), -ETIMEDOUT);
	stop();
}

Test(guest, bad_arguments)
{
	uint64_t gpas[1];

	start(0);
	cr_assert_eq(vshm_guest_set_timeout(g, 0), -EINVAL);
	cr_assert_eq(vshm_guest_set_max_msg(g, 63), -EINVAL);
	cr_assert_eq(vshm_guest_set_max_msg(g, VSHM_MAX_MSG + 1), -EINVAL);
	errno = 0;
	cr_assert_null(vshm_share(g, 4095, 0, RW));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(vshm_share(g, 4096, VSHM_SHARE_HUGE, RW));
	cr_assert_null(vshm_share(g, 4096, 0, 0));
	cr_assert_null(vshm_share(g, 4096, 0, 4));
	cr_assert_null(vshm_share(g, 4096, 2, RW));
	cr_assert_eq(vshm_free(NULL), -EINVAL);
	cr_assert_eq(vshm_region_gpas(NULL, gpas, 1), -EINVAL);
	cr_assert_null(vshm_guest_from_fd(-1));
	cr_assert_eq(host.allocs, 0);
	stop();
}

Test(guest, gpas_needs_room)
{
	struct vshm_region *r;
	uint64_t gpas[2];

	need_root();
	start(0);
	r = vshm_share(g, 4 * 4096, 0, RW);
	cr_assert_not_null(r);
	cr_assert_eq(vshm_region_gpas(r, gpas, 2), -ENOSPC);
	cr_assert_eq(vshm_free(r), 0);
	stop();
}
