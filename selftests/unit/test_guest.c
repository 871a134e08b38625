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
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
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
	int hello;		/* HELLO: 0 the session's answer, HELLO_NEW,
				 * HELLO_OLD, HELLO_GREEDY */
	uint64_t accept;	/* HELLO_NEW: accepted of the offered */
	uint32_t inject_on_alloc;	/* before ALLOC_OK: REVOKED and NOTIFY
					 * of this region */
	int listen_late_ms;	/* listener_main: listen() after this */
	int list_delay_ms;	/* answer each GPA_LIST after this */
	/* what it saw */
	uint32_t pages[MAX_REGION];	/* ALLOC nr_pages, by region */
	int allocs, lists, frees;
	uint32_t next_first[MAX_REGION];	/* stop-and-wait check */
	int out_of_step;
	uint64_t *gpas[MAX_REGION];	/* pages received, expanded */
	int hellos;
	uint64_t offered;
	uint32_t alloc_len;		/* of the last ALLOC */
	uint64_t cookie;		/* of the last ALLOC */
	int notifies;			/* NOTIFYs received */
	uint32_t notify_region, notify_bits;	/* the last one */
	int notify_during_list;	/* messages sent before a chunk's answer */
};

enum { HELLO_NEW = 1, HELLO_OLD, HELLO_GREEDY };

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
		h->alloc_len = m.len;
		h->cookie = m.alloc.cookie;
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
	if (m.type == VSHM_MSG_NOTIFY) {
		/* Never answered. */
		h->notifies++;
		h->notify_region = m.region;
		h->notify_bits = m.notify.bits;
		return true;
	}
	if (m.type == VSHM_MSG_HELLO && h->hello) {
		h->hellos++;
		h->offered = m.hello.features;
		if (h->hello == HELLO_OLD)
			n = vshm_encode_error(reply, sizeof(reply), m.region,
					      VSHM_E_TYPE, VSHM_NO_INDEX,
					      VSHM_MSG_HELLO);
		else
			n = vshm_encode_hello_ok(reply, sizeof(reply), m.region,
						 h->hello == HELLO_GREEDY ?
						 VSHM_FEAT_MASK :
						 h->accept & m.hello.features);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		return true;
	}
	if (h->inject_on_alloc && m.type == VSHM_MSG_ALLOC) {
		n = vshm_encode_notify(reply, sizeof(reply), h->inject_on_alloc,
				       0x5);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		n = vshm_encode_revoked(reply, sizeof(reply), h->inject_on_alloc,
					GRANT_BASE + h->inject_on_alloc,
					VSHM_REVOKE_MEMMAP);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		/* A doorbell of a revoked region: dropped. */
		n = vshm_encode_notify(reply, sizeof(reply), h->inject_on_alloc,
				       0x2);
		send(h->fd, reply, (size_t)n, MSG_NOSIGNAL);
		/* And the answer, as usual. */
		return false;
	}
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

/*
 * The fake host plays HELLO itself, so its session never agreed on
 * cookies: it gets a cookie's ALLOC as a plain one (note_msg() saw it).
 */
static ssize_t strip_cookie(uint8_t *msg, size_t len)
{
	struct vshm_msg m;

	if (vshm_decode(msg, len, &m) || m.type != VSHM_MSG_ALLOC ||
	    !m.alloc.has_cookie)
		return (ssize_t)len;
	return vshm_encode_alloc(msg, len, m.region, m.alloc.size,
				 m.alloc.page_size, m.alloc.access);
}

/*
 * A chunk waits for its answer: nothing else may come meanwhile (a NOTIFY
 * would take credit the next chunk needs; docs/protocol.md 12.4).
 */
static void check_list_alone(struct fake_host *h)
{
	struct timespec ts = { 0, (long)h->list_delay_ms * 1000000L };
	uint8_t b;

	if (!h->list_delay_ms)
		return;
	nanosleep(&ts, NULL);
	if (recv(h->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		h->notify_during_list++;
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
		n = strip_cookie(msg, (size_t)n);
		vshm_session_feed(h->sess, msg, (size_t)n, &out);
		if (msg[offsetof(struct vshm_hdr, type)] == VSHM_MSG_HPA_LIST ||
		    msg[offsetof(struct vshm_hdr, type)] == VSHM_MSG_REFUSED)
			check_list_alone(h);
		send(h->fd, out.reply, out.reply_len, MSG_NOSIGNAL);
	}
	return NULL;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: /proc/self/pagemap hides PFNs");
}

static void new_session(uint32_t max_regions)
{
	struct vshm_session_cfg cfg = {
		.sock_fd = -1,
		.max_regions = max_regions,
		.ops = &fake_ops,
		.ops_ctx = &host,
	};

	host.sess = vshm_session_new(&cfg);
	cr_assert_not_null(host.sess);
}

/*
 * Starts the fake host with max_regions live regions at most; the guest
 * connection as vshm_guest_from_fd() (o NULL: no HELLO) or
 * vshm_guest_start_fd() makes it. Returns the connection (also in g).
 */
static struct vshm_guest *start_opts(uint32_t max_regions,
				     const struct vshm_guest_opts *o)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	host.fd = sv[1];
	new_session(max_regions);
	cr_assert_eq(pthread_create(&host.thread, NULL, host_main, &host), 0);
	g = o ? vshm_guest_start_fd(sv[0], o) : vshm_guest_from_fd(sv[0]);
	if (g)
		cr_assert_eq(vshm_guest_set_timeout(g, 5000), 0);
	return g;
}

static void start(uint32_t max_regions)
{
	cr_assert_not_null(start_opts(max_regions, NULL));
}

/* A guest that agreed on features with a new host. */
static void start_features(uint64_t accept)
{
	struct vshm_guest_opts o = { .timeout_ms = 5000 };

	host.hello = HELLO_NEW;
	host.accept = accept;
	cr_assert_not_null(start_opts(0, &o), "connect: %s", strerror(errno));
	cr_assert_eq(vshm_guest_features(g), accept);
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

/* Features (HELLO) */

Test(guest, negotiates_with_a_new_host)
{
	struct vshm_guest_opts o = { .timeout_ms = 5000 };

	host.hello = HELLO_NEW;
	host.accept = VSHM_FEAT_COOKIE | VSHM_FEAT_NOTIFY;
	cr_assert_not_null(start_opts(0, &o), "connect: %s", strerror(errno));
	cr_assert_eq(host.hellos, 1);
	cr_assert_eq(host.offered, VSHM_FEAT_MASK, "offers every feature");
	cr_assert_eq(vshm_guest_features(g),
		     VSHM_FEAT_COOKIE | VSHM_FEAT_NOTIFY);
	stop();

	/* Only what the application offers. */
	o.features = VSHM_FEAT_REVOKED;
	host.hello = HELLO_NEW;
	host.accept = VSHM_FEAT_MASK;
	cr_assert_not_null(start_opts(0, &o));
	cr_assert_eq(host.offered, VSHM_FEAT_REVOKED);
	cr_assert_eq(vshm_guest_features(g), VSHM_FEAT_REVOKED);
	stop();
}

Test(guest, old_host_means_no_features)
{
	struct vshm_guest_opts o = { .timeout_ms = 5000 };
	struct vshm_region *r;

	host.hello = HELLO_OLD;
	cr_assert_not_null(start_opts(0, &o), "connect: %s", strerror(errno));
	cr_assert_eq(host.hellos, 1);
	cr_assert_eq(vshm_guest_features(g), 0);
	cr_assert_eq(vshm_guest_last_error(g, NULL, NULL), -ENOENT,
		     "an old host's answer is no error");
	if (geteuid() == 0) {
		r = vshm_share(g, 4096, 0, RW);
		cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
		cr_assert_eq(host.alloc_len, VSHM_ALLOC_SIZE);
		cr_assert_eq(vshm_region_notify(r, 1), -EOPNOTSUPP);
		cr_assert_eq(vshm_free(r), 0);
	}
	stop();
}

Test(guest, plain_connection_sends_no_hello)
{
	struct vshm_guest_opts o = { .flags = VSHM_GUEST_PLAIN };

	host.hello = HELLO_NEW;
	host.accept = VSHM_FEAT_MASK;
	cr_assert_not_null(start_opts(0, &o));
	cr_assert_eq(vshm_guest_features(g), 0);
	/* Nothing was sent: the host's end has nothing to read. */
	cr_assert_eq(recv(host.fd, &o, sizeof(o), MSG_DONTWAIT | MSG_PEEK), -1);
	cr_assert_eq(host.hellos, 0);
	stop();
}

Test(guest, hello_ok_beyond_the_offer_is_ebadmsg)
{
	struct vshm_guest_opts o = { .features = VSHM_FEAT_COOKIE };

	host.hello = HELLO_GREEDY;
	errno = 0;
	cr_assert_null(start_opts(0, &o));
	cr_assert_eq(errno, EBADMSG);
	stop();
}

Test(guest, bad_options)
{
	struct vshm_guest_opts o = { .reserved[5] = 1 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	errno = 0;
	cr_assert_null(vshm_guest_start_fd(sv[0], &o));
	cr_assert_eq(errno, EINVAL);
	o.reserved[5] = 0;
	o.features = 0x100;
	cr_assert_null(vshm_guest_start_fd(dup(sv[1]), &o));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(vshm_guest_connect_opts(NULL));
	cr_assert_eq(errno, EINVAL);
	close(sv[1]);
}

/* Cookies */

Test(guest, cookie_travels_with_alloc)
{
	struct vshm_share_args a = {
		.size = 4096,
		.access = RW,
		.cookie = 0x1122334455667788ULL,
	};
	struct vshm_region *r;

	need_root();
	start_features(VSHM_FEAT_COOKIE);
	r = vshm_share_ex(g, &a);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(host.alloc_len, VSHM_ALLOC_COOKIE_SIZE);
	cr_assert_eq(host.cookie, 0x1122334455667788ULL);
	cr_assert_eq(vshm_region_cookie(r), 0x1122334455667788ULL);
	cr_assert_eq(vshm_free(r), 0);
	stop();
}

Test(guest, cookie_without_the_feature_is_eopnotsupp)
{
	struct vshm_guest_opts o = { .timeout_ms = 5000 };
	struct vshm_share_args a = { .size = 4096, .access = RW, .cookie = 7 };
	struct vshm_region *r;

	host.hello = HELLO_OLD;
	cr_assert_not_null(start_opts(0, &o));
	errno = 0;
	cr_assert_null(vshm_share_ex(g, &a));
	cr_assert_eq(errno, EOPNOTSUPP);
	cr_assert(strstr(vshm_guest_last_failure(g), "cookie"),
		  "%s", vshm_guest_last_failure(g));
	cr_assert_eq(host.allocs, 0);
	if (geteuid() == 0) {
		/* Without a cookie it works, as a plain ALLOC. */
		a.cookie = 0;
		r = vshm_share_ex(g, &a);
		cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
		cr_assert_eq(host.alloc_len, VSHM_ALLOC_SIZE);
		cr_assert_eq(vshm_region_cookie(r), 0);
		cr_assert_eq(vshm_free(r), 0);
	}
	stop();
}

/* Events */

/* Sends a message from the host's end (the host thread only reads it). */
static void host_send(ssize_t n, const uint8_t *msg)
{
	cr_assert_gt(n, 0);
	cr_assert_eq(send(host.fd, msg, (size_t)n, MSG_NOSIGNAL), n);
}

static void host_notify(uint32_t region, uint32_t bits)
{
	uint8_t m[64];

	host_send(vshm_encode_notify(m, sizeof(m), region, bits), m);
}

struct seen_events {
	int n;
	struct vshm_guest_event ev[8];
	int free_on_revoke;
};

static void on_event(struct vshm_guest *gg, const struct vshm_guest_event *ev,
		     void *arg)
{
	struct seen_events *seen = arg;

	cr_assert_eq(gg, g);
	if (seen->n < 8)
		seen->ev[seen->n] = *ev;
	seen->n++;
	if (seen->free_on_revoke && ev->type == VSHM_GUEST_EV_REVOKED)
		cr_assert_eq(vshm_free(ev->r), 0);
}

Test(guest, events_during_a_wait_are_queued_not_answers)
{
	struct seen_events seen = { 0 };
	struct vshm_region *r1, *r2;

	need_root();
	start_features(VSHM_FEAT_MASK);
	r1 = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r1, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(vshm_region_revoked(r1), 0);
	/* NOTIFY, REVOKED, NOTIFY of r1 arrive before r2's ALLOC_OK. */
	host.inject_on_alloc = vshm_region_id(r1);
	r2 = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r2, "share: %s", vshm_guest_last_failure(g));
	host.inject_on_alloc = 0;
	cr_assert_eq(host.out_of_step, 0);
	/* Known at once; handed out by dispatch. */
	cr_assert_eq(vshm_region_revoked(r1), VSHM_REVOKE_MEMMAP);
	cr_assert_eq(vshm_region_revoked(r2), 0);
	cr_assert_eq(vshm_guest_set_event_cb(g, on_event, &seen), 0);
	cr_assert_eq(vshm_guest_dispatch(g), 2);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.ev[0].type, VSHM_GUEST_EV_NOTIFY);
	cr_assert_eq(seen.ev[0].r, r1);
	cr_assert_eq(seen.ev[0].bits, 0x5, "the later one was dropped");
	cr_assert_eq(seen.ev[1].type, VSHM_GUEST_EV_REVOKED);
	cr_assert_eq(seen.ev[1].region, vshm_region_id(r1));
	cr_assert_eq(seen.ev[1].r, r1);
	cr_assert_eq(seen.ev[1].reason, VSHM_REVOKE_MEMMAP);
	cr_assert_eq(seen.ev[1].grant, GRANT_BASE + vshm_region_id(r1));
	cr_assert_eq(vshm_guest_dispatch(g), 0, "each event once");
	/* A revoked region is still the guest's, and FREE/FREED as before. */
	*(volatile uint8_t *)vshm_region_ptr(r1) = 1;
	cr_assert_eq(vshm_free(r1), 0);
	cr_assert_eq(vshm_free(r2), 0);
	stop();
}

Test(guest, dispatch_on_an_empty_socket_returns_at_once)
{
	struct timespec t0, t1;
	struct vshm_guest_event ev;

	start_features(VSHM_FEAT_MASK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(vshm_guest_dispatch(g), 0);
	cr_assert_eq(vshm_guest_next_event(g, &ev), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt((t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000, 100);
	cr_assert_geq(vshm_guest_fd(g), 0);
	cr_assert_eq(vshm_guest_fd(NULL), -EINVAL);
	stop();
}

Test(guest, notify_events_pull_merge_and_drop)
{
	struct vshm_guest_event ev;
	struct vshm_region *r;
	struct pollfd p;

	need_root();
	start_features(VSHM_FEAT_MASK);
	r = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	host_notify(vshm_region_id(r), 0x1);
	host_notify(vshm_region_id(r), 0x8);
	host_notify(vshm_region_id(r) + 40, 0x2);	/* no such region */
	p.fd = vshm_guest_fd(g);
	p.events = POLLIN;
	cr_assert_eq(poll(&p, 1, 1000), 1, "the fd says when to dispatch");
	/* Without a callback: the number waiting. */
	cr_assert_eq(vshm_guest_dispatch(g), 1);
	cr_assert_eq(vshm_guest_next_event(g, &ev), 1);
	cr_assert_eq(ev.type, VSHM_GUEST_EV_NOTIFY);
	cr_assert_eq(ev.r, r);
	cr_assert_eq(ev.bits, 0x9, "undelivered doorbells merge");
	cr_assert_eq(vshm_guest_next_event(g, &ev), 0);
	/* An event of a region freed before delivery: no pointer. */
	host_notify(vshm_region_id(r), 0x4);
	cr_assert_eq(vshm_guest_dispatch(g), 1);
	cr_assert_eq(vshm_free(r), 0);
	cr_assert_eq(vshm_guest_next_event(g, &ev), 1);
	cr_assert_null(ev.r);
	cr_assert_eq(ev.bits, 0x4);
	stop();
}

Test(guest, callback_may_free_the_revoked_region)
{
	struct seen_events seen = { .free_on_revoke = 1 };
	struct vshm_region *r;
	uint8_t m[64];

	need_root();
	start_features(VSHM_FEAT_MASK);
	r = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	host_notify(vshm_region_id(r), 0x1);
	host_send(vshm_encode_revoked(m, sizeof(m), vshm_region_id(r),
				      vshm_region_stats(r)->grant,
				      VSHM_REVOKE_MIGRATION), m);
	cr_assert_eq(vshm_guest_set_event_cb(g, on_event, &seen), 0);
	cr_assert_eq(vshm_guest_dispatch(g), 2);
	cr_assert_eq(seen.ev[0].type, VSHM_GUEST_EV_NOTIFY);
	cr_assert_eq(seen.ev[1].reason, VSHM_REVOKE_MIGRATION);
	cr_assert_eq(host.frees, 1, "freed by the callback");
	/* A doorbell of the freed region now: dropped. */
	host_notify(seen.ev[1].region, 0x1);
	cr_assert_eq(vshm_guest_dispatch(g), 0);
	cr_assert_eq(seen.n, 2);
	stop();
}

Test(guest, unsolicited_answer_breaks_the_connection)
{
	uint8_t m[64];

	start_features(VSHM_FEAT_MASK);
	host_send(vshm_encode_freed(m, sizeof(m), 3), m);
	cr_assert_eq(vshm_guest_dispatch(g), -EBADMSG);
	cr_assert(strstr(vshm_guest_last_failure(g), "FREED"));
	cr_assert_eq(vshm_guest_dispatch(g), -ENOTCONN);
	errno = 0;
	cr_assert_null(vshm_share(g, 4096, 0, RW));
	cr_assert_eq(errno, ENOTCONN);
	stop();
}

Test(guest, dispatch_sees_the_host_go)
{
	start_features(VSHM_FEAT_MASK);
	shutdown(host.fd, SHUT_RDWR);
	cr_assert_eq(vshm_guest_dispatch(g), -ECONNRESET);
	stop();
}

struct notifier {
	struct vshm_region *r;
	int n, failed;
};

static void *notify_main(void *arg)
{
	struct notifier *nt = arg;
	int i;

	for (i = 0; i < nt->n; i++)
		if (vshm_region_notify(nt->r, 1u << (i % 32)))
			nt->failed++;
	return NULL;
}

Test(guest, notify_from_another_thread_during_shares)
{
	struct notifier nt = { .n = 2000 };
	struct vshm_region *r;
	pthread_t t;
	int i;

	need_root();
	start_features(VSHM_FEAT_MASK);
	nt.r = vshm_share(g, 4096, 0, RW);
	cr_assert_not_null(nt.r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(vshm_region_notify(nt.r, 0), -EINVAL);
	/* One chunk per page, each answered late: doorbells must wait. */
	cr_assert_eq(vshm_guest_set_max_msg(g, VSHM_GPA_LIST_SIZE(1)), 0);
	host.list_delay_ms = 1;
	cr_assert_eq(pthread_create(&t, NULL, notify_main, &nt), 0);
	for (i = 0; i < 20; i++) {
		r = vshm_share(g, 8 * 4096, 0, RW);
		cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
		cr_assert_eq(vshm_free(r), 0);
	}
	pthread_join(t, NULL);
	cr_assert_eq(nt.failed, 0);
	cr_assert_eq(vshm_free(nt.r), 0);
	/* FREED answers the FREE: every NOTIFY before it has been read. */
	cr_assert_eq(host.notifies, nt.n);
	cr_assert_eq(host.out_of_step, 0);
	cr_assert_eq(host.notify_during_list, 0,
		     "%d doorbells while a chunk waited for its answer",
		     host.notify_during_list);
	stop();
}

/* The application's memory */

Test(guest, share_own_buffer_is_never_freed)
{
	size_t size = 16 * 4096;
	uint8_t *buf = aligned_alloc(4096, size);
	struct vshm_region *r;

	need_root();
	cr_assert_not_null(buf);
	memset(buf, 0xa5, size);
	start(0);
	r = vshm_share_buf(g, buf, size, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(vshm_region_ptr(r), buf);
	cr_assert_eq(buf[5 * 4096 + 7], 0xa5, "the library does not write");
	expect_host_has_gpas(r);
	cr_assert_eq(vshm_free(r), 0);
	/* Still the application's, mapped and usable. */
	buf[size - 1] = 0x11;
	cr_assert_eq(buf[size - 1], 0x11);
	cr_assert_eq(buf[0], 0xa5);
	/* And once more, then left to close. */
	r = vshm_share_buf(g, buf, size, VSHM_ACCESS_READ);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	stop();
	buf[1] = 2;
	free(buf);
}

Test(guest, share_buffer_checks)
{
	uint8_t *buf = aligned_alloc(4096, 8 * 4096);
	struct vshm_share_args a = {
		.size = 4096, .flags = VSHM_SHARE_BUF, .access = RW,
	};

	cr_assert_not_null(buf);
	start(0);
	errno = 0;
	cr_assert_null(vshm_share_buf(g, buf + 64, 4096, RW));
	cr_assert_eq(errno, EINVAL);
	cr_assert(strstr(vshm_guest_last_failure(g), "multiples"));
	cr_assert_null(vshm_share_buf(g, buf, 100, RW));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(vshm_share_ex(g, &a), "no address");
	cr_assert_eq(errno, EINVAL);
	a.addr = buf;
	a.reserved[3] = 1;
	cr_assert_null(vshm_share_ex(g, &a));
	cr_assert_eq(errno, EINVAL);
	a.reserved[3] = 0;
	a.flags |= VSHM_SHARE_MEMFD;
	cr_assert_null(vshm_share_ex(g, &a));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(vshm_share_fill(g, 4096, VSHM_SHARE_BUF, RW, NULL,
				       NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(host.allocs, 0);
	stop();
	free(buf);
}

Test(guest, share_memfd_range)
{
	int fd = memfd_create("vshm-test", MFD_CLOEXEC);
	size_t size = 16 * 4096;
	struct vshm_region *r;
	uint8_t *mine;

	need_root();
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 64 * 4096), 0);
	mine = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    0);
	cr_assert_neq(mine, MAP_FAILED);
	mine[16 * 4096] = 0x42;
	start(0);
	r = vshm_share_memfd(g, fd, 16 * 4096, size, RW);
	cr_assert_not_null(r, "share: %s", vshm_guest_last_failure(g));
	cr_assert_eq(vshm_region_stats(r)->page_size, 4096);
	/* The same pages as the application's own mapping. */
	cr_assert_eq(((uint8_t *)vshm_region_ptr(r))[0], 0x42);
	((uint8_t *)vshm_region_ptr(r))[4096] = 0x43;
	cr_assert_eq(mine[17 * 4096], 0x43);
	expect_host_has_gpas(r);
	cr_assert_eq(vshm_free(r), 0);
	/* The memfd and the application's mapping stay. */
	cr_assert_eq(mine[17 * 4096], 0x43);

	errno = 0;
	cr_assert_null(vshm_share_memfd(g, fd, 60 * 4096, size, RW));
	cr_assert_eq(errno, EINVAL, "beyond the end");
	cr_assert(strstr(vshm_guest_last_failure(g), "beyond the end"));
	cr_assert_null(vshm_share_memfd(g, fd, 100, 4096, RW));
	cr_assert_eq(errno, EINVAL, "unaligned offset");
	cr_assert_null(vshm_share_memfd(g, -1, 0, 4096, RW));
	cr_assert_eq(errno, EBADF);
	cr_assert_eq(host.allocs, 1);
	stop();
	munmap(mine, 64 * 4096);
	close(fd);
}

Test(guest, share_page_cache_file_is_refused)
{
	struct statfs sfs;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstatfs(fd, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == HUGETLBFS_MAGIC)
		cr_skip_test("the test binary is on tmpfs");
	start(0);
	errno = 0;
	cr_assert_null(vshm_share_memfd(g, fd, 0, 4096, VSHM_ACCESS_READ));
	cr_assert_eq(errno, EOPNOTSUPP);
	cr_assert(strstr(vshm_guest_last_failure(g), "page-cache"),
		  "%s", vshm_guest_last_failure(g));
	cr_assert_eq(host.allocs, 0);
	stop();
	close(fd);
}

static long read_sys_long(const char *path)
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

#define HP_DIR	"/sys/kernel/mm/hugepages/hugepages-2048kB/"

/* Huge pages beyond what is free: the library never reserves any. */
Test(guest, no_free_huge_pages_is_enomem_with_a_hint)
{
	long nr = read_sys_long("/proc/sys/vm/nr_hugepages");
	long avail = read_sys_long(HP_DIR "free_hugepages") -
		     read_sys_long(HP_DIR "resv_hugepages");
	size_t size;
	int fd;

	need_root();
	if (nr < 0 || avail < 0)
		cr_skip_test("no 2 MiB huge page pool");
	if (avail > 64)
		cr_skip_test("%ld free huge pages: too many to exceed", avail);
	size = (size_t)(avail + 1) * VSHM_HUGE_PAGE_SIZE;
	start(0);
	errno = 0;
	cr_assert_null(vshm_share(g, size, VSHM_SHARE_HUGE, RW));
	cr_assert_eq(errno, ENOMEM);
	cr_assert(strstr(vshm_guest_last_failure(g), "needs"),
		  "%s", vshm_guest_last_failure(g));
	cr_assert(strstr(vshm_guest_last_failure(g), "nr_hugepages"));
	cr_assert_eq(read_sys_long("/proc/sys/vm/nr_hugepages"), nr,
		     "the library changed nr_hugepages");

	fd = memfd_create("vshm-huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd >= 0) {
		cr_assert_eq(ftruncate(fd, (off_t)size), 0);
		errno = 0;
		cr_assert_null(vshm_share_memfd(g, fd, 0, size, RW));
		cr_assert_eq(errno, ENOMEM, "%s", vshm_guest_last_failure(g));
		cr_assert(strstr(vshm_guest_last_failure(g), "needs"),
			  "%s", vshm_guest_last_failure(g));
		errno = 0;
		cr_assert_null(vshm_share_memfd(g, fd, 4096, 4096, RW));
		cr_assert_eq(errno, EINVAL, "hugetlb: 2 MiB units");
		close(fd);
	}
	cr_assert_eq(read_sys_long("/proc/sys/vm/nr_hugepages"), nr);
	cr_assert_eq(host.allocs, 0);
	stop();
}

/* Connecting while the server is not listening yet */

static void *listener_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	struct timespec ts = {
		.tv_sec = host.listen_late_ms / 1000,
		.tv_nsec = (long)(host.listen_late_ms % 1000) * 1000000L,
	};

	nanosleep(&ts, NULL);
	if (listen(lfd, 1))
		return NULL;
	host.fd = accept(lfd, NULL, NULL);
	close(lfd);
	if (host.fd < 0)
		return NULL;
	return host_main(&host);
}

/* A UNIX listener bound now that listens after late_ms. */
static void listen_late(struct sockaddr_un *sa, int late_ms)
{
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	cr_assert_geq(lfd, 0);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/tmp/vshm-test-%d",
		 (int)getpid());
	unlink(sa->sun_path);
	cr_assert_eq(bind(lfd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	host.listen_late_ms = late_ms;
	new_session(0);
	cr_assert_eq(pthread_create(&host.thread, NULL, listener_main,
				    (void *)(intptr_t)lfd), 0);
}

Test(guest, connect_waits_for_a_late_listener)
{
	struct vshm_guest_opts o = {
		.timeout_ms = 5000,
		.connect_wait_ms = 5000,
	};
	struct timespec t0, t1;
	struct sockaddr_un sa;
	long ms;

	host.hello = HELLO_NEW;
	host.accept = VSHM_FEAT_MASK;
	listen_late(&sa, 400);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	g = vshm_guest_connect_addr((struct sockaddr *)&sa, sizeof(sa), &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_not_null(g, "connect: %s", strerror(errno));
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 350, "connected after %ld ms: before listen()?", ms);
	cr_assert_lt(ms, 3000, "connected after %ld ms", ms);
	cr_assert_eq(vshm_guest_features(g), VSHM_FEAT_MASK);
	unlink(sa.sun_path);
	stop();
}

Test(guest, connect_without_wait_fails_at_once)
{
	struct vshm_guest_opts o = { .timeout_ms = 5000 };
	struct sockaddr_un sa;

	listen_late(&sa, 300);
	errno = 0;
	cr_assert_null(vshm_guest_connect_addr((struct sockaddr *)&sa,
					       sizeof(sa), &o));
	cr_assert_eq(errno, ECONNREFUSED);
	/* The listener still comes: let it meet a client that gives up. */
	o.connect_wait_ms = 100;
	errno = 0;
	cr_assert_null(vshm_guest_connect_addr((struct sockaddr *)&sa,
					       sizeof(sa), &o));
	cr_assert_eq(errno, ECONNREFUSED);
	g = vshm_guest_connect_addr((struct sockaddr *)&sa, sizeof(sa),
				    &(struct vshm_guest_opts){
					.connect_wait_ms = 5000,
					.flags = VSHM_GUEST_PLAIN });
	cr_assert_not_null(g);
	unlink(sa.sun_path);
	stop();
}
