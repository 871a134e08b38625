// SPDX-License-Identifier: GPL-2.0
/*
 * The host server's per-connection state machine (userspace/host/session.c)
 * against a fake mapper: every reply, every state change, every error path.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "maps.h"
#include "proto.h"
#include "session.h"

#define SOCK_FD		42
#define PEER_CID	3

/* The fake mapper: allocates the "mapping" with calloc. */
struct fake_mapper {
	int map_ret;		/* returned by map when nonzero */
	int unmap_ret;
	uint32_t pages;		/* grant size it reports */
	int maps, unmaps;
	uint64_t map_grant, unmap_grant;
	int map_fd;
	void *unmap_ptr;
	size_t unmap_size;
	uint32_t map_asked;	/* info->access on entry to map */
};

static int fake_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		    struct vshm_map_info *info)
{
	struct fake_mapper *f = ctx;

	f->map_asked = info->access;
	f->maps++;
	f->map_grant = grant;
	f->map_fd = sock_fd;
	if (f->map_ret)
		return f->map_ret;
	*ptr = calloc(f->pages, VSHM_PAGE_SIZE);
	if (!*ptr)
		return -ENOMEM;
	info->size = (uint64_t)f->pages * VSHM_PAGE_SIZE;
	info->nr_pages = f->pages;
	info->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	info->pin_ns = 1234;
	info->nr_runs = 2;
	info->map_ns = 5678;
	return 0;
}

static int fake_unmap(void *ctx, uint64_t grant, void *ptr, size_t size)
{
	struct fake_mapper *f = ctx;

	f->unmaps++;
	f->unmap_grant = grant;
	f->unmap_ptr = ptr;
	f->unmap_size = size;
	free(ptr);
	return f->unmap_ret;
}

static const struct vshm_mapper_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
};

/* What the application callback saw, and what it answers. */
struct app {
	int calls;
	int ret;
	struct vshm_session_region seen;
	uint8_t first_byte;
};

static int app_on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct app *a = arg;

	a->calls++;
	a->seen = *r;
	a->first_byte = *(const uint8_t *)r->ptr;
	return a->ret;
}

static struct fake_mapper fm;
static struct app app;
static struct vshm_session *s;
static struct vshm_session_out out;
static uint8_t buf[VSHM_MAX_MSG + 64];
static struct vshm_msg reply;

static struct vshm_session *mk_session(uint64_t max_size, uint32_t max_nr)
{
	struct vshm_session_cfg cfg = {
		.sock_fd = SOCK_FD,
		.peer_cid = PEER_CID,
		.max_region_size = max_size,
		.max_regions = max_nr,
		.ops = &fake_ops,
		.ops_ctx = &fm,
		.on_mapped = app_on_mapped,
		.arg = &app,
	};

	return vshm_session_new(&cfg);
}

static void setup(void)
{
	memset(&fm, 0, sizeof(fm));
	memset(&app, 0, sizeof(app));
	s = mk_session(0, 0);
	cr_assert_not_null(s);
}

static void teardown(void)
{
	vshm_session_free(s);
}

TestSuite(session, .init = setup, .fini = teardown);

/* Feeds len bytes of buf; the reply must decode as a valid message. */
static void feed(size_t len)
{
	cr_assert_eq(vshm_session_feed(s, buf, len, &out), 0);
	cr_assert_gt(out.reply_len, 0);
	cr_assert_eq(vshm_decode(out.reply, out.reply_len, &reply), 0,
		     "the session sent an invalid reply");
	cr_assert_eq(reply.type, out.reply_type);
}

static void feed_alloc(uint32_t region, uint32_t pages)
{
	ssize_t n = vshm_encode_alloc(buf, sizeof(buf), region,
				      (uint64_t)pages * VSHM_PAGE_SIZE,
				      VSHM_PAGE_SIZE,
				      VSHM_ACCESS_READ | VSHM_ACCESS_WRITE);

	cr_assert_eq(n, 40);
	feed((size_t)n);
}

/* An HPA_LIST of n one-page runs at first, as the module would make it. */
static size_t mk_hpa(uint32_t region, uint32_t first, uint32_t n,
		     uint32_t total, uint64_t grant)
{
	struct vshm_run runs[16];
	ssize_t len;
	uint32_t i;

	cr_assert_leq(n, 16);
	for (i = 0; i < n; i++) {
		runs[i].addr = 0x100000ULL + (uint64_t)(first + i) * 0x2000;
		runs[i].npages = 1;
	}
	len = vshm_encode_gpa_list(buf, sizeof(buf), region, first, total,
				   runs, n);
	cr_assert_gt(len, 0);
	vshm_wire_mark_hpa(buf, grant);
	return (size_t)len;
}

static void feed_free(uint32_t region)
{
	feed((size_t)vshm_encode_free(buf, sizeof(buf), region));
}

static void expect_error(uint32_t region, uint32_t code, uint32_t detail,
			 uint8_t orig)
{
	cr_assert_eq(reply.type, VSHM_MSG_ERROR, "got %s",
		     vshm_msg_type_name(reply.type));
	cr_assert_eq(reply.region, region);
	cr_assert_eq(reply.error.code, code, "code %s, want %s",
		     vshm_err_name((int)reply.error.code),
		     vshm_err_name((int)code));
	cr_assert_eq(reply.error.detail, detail);
	cr_assert_eq(reply.error.orig_type, orig);
	cr_assert_eq(out.code, code);
	cr_assert_eq(!!(out.actions & VSHM_SESS_CLOSE), region == 0);
}

static enum vshm_sregion_state state_of(uint32_t region)
{
	const struct vshm_session_region *r = vshm_session_find(s, region);

	cr_assert_not_null(r, "region %u is gone", region);
	return r->state;
}

/* ALLOC */

Test(session, alloc_ok)
{
	struct vshm_session_stats st;
	const struct vshm_session_region *r;

	feed_alloc(5, 3);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	cr_assert_eq(reply.region, 5);
	cr_assert_eq(out.actions, 0);
	r = vshm_session_find(s, 5);
	cr_assert_not_null(r);
	cr_assert_eq(r->state, VSHM_SR_UPLOADING);
	cr_assert_eq(r->nr_pages, 3);
	cr_assert_eq(r->size, 3 * 4096);
	cr_assert_eq(r->peer_cid, PEER_CID);
	vshm_session_stats(s, &st);
	cr_assert_eq(st.live, 1);
	cr_assert_eq(st.msgs, 1);
	cr_assert_eq(st.errors, 0);
}

Test(session, alloc_exists_keeps_region)
{
	feed_alloc(5, 3);
	feed((size_t)mk_hpa(5, 0, 1, 3, 77));
	feed_alloc(5, 8);
	expect_error(5, VSHM_E_EXISTS, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	cr_assert_eq(state_of(5), VSHM_SR_UPLOADING);
	cr_assert_eq(vshm_session_find(s, 5)->nr_pages, 3);
	cr_assert_eq(vshm_session_find(s, 5)->pages_received, 1);
}

Test(session, alloc_quota)
{
	vshm_session_free(s);
	s = mk_session(8 * 4096, 2);
	feed_alloc(1, 9);
	expect_error(1, VSHM_E_QUOTA, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	cr_assert_null(vshm_session_find(s, 1));
	feed_alloc(1, 8);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	feed_alloc(2, 1);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	feed_alloc(3, 1);
	expect_error(3, VSHM_E_QUOTA, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	feed_free(2);
	feed_alloc(3, 1);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
}

/* Chunks and mapping */

/*
 * A region the guest shares read-only is never reported (nor, by the real
 * mapper op, mapped) writable, whatever the mapper grants: the module
 * grants read and write (it does not see the ALLOC), and vshm-server wrote
 * its marks into read-only regions until the session passed the ALLOC's
 * access to map (found by the lab's Python guest).
 */
Test(session, read_only_alloc_maps_read_only)
{
	ssize_t n;

	fm.pages = 2;
	n = vshm_encode_alloc(buf, sizeof(buf), 4, 2 * VSHM_PAGE_SIZE,
			      VSHM_PAGE_SIZE, VSHM_ACCESS_READ);
	feed((size_t)n);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	feed((size_t)mk_hpa(4, 0, 2, 2, 0x44));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
	cr_assert_eq(fm.map_asked, VSHM_ACCESS_READ);
	cr_assert_eq(app.seen.info.access, VSHM_ACCESS_READ);
}

Test(session, one_chunk_maps)
{
	const struct vshm_session_region *r;

	fm.pages = 3;
	feed_alloc(9, 3);
	feed((size_t)mk_hpa(9, 0, 3, 3, 0xabc));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
	cr_assert_eq(reply.region, 9);
	cr_assert_eq(reply.mapped.grant, 0xabc);
	cr_assert_eq(reply.mapped.nr_pages, 3);
	cr_assert_eq(out.actions, VSHM_SESS_MAPPED);
	cr_assert_eq(fm.maps, 1);
	cr_assert_eq(fm.map_grant, 0xabc);
	cr_assert_eq(fm.map_fd, SOCK_FD);
	cr_assert_eq(app.calls, 1);
	cr_assert_eq(app.seen.id, 9);
	cr_assert_eq(app.seen.info.size, 3 * 4096);
	cr_assert_eq(app.seen.info.pin_ns, 1234);
	cr_assert_eq(app.seen.info.nr_runs, 2);
	cr_assert_eq(app.seen.info.map_ns, 5678);
	cr_assert_not_null(out.region.ptr);
	cr_assert_eq(out.region.chunks, 1);
	cr_assert_eq(out.region.extents, 3);
	r = vshm_session_find(s, 9);
	cr_assert_eq(r->state, VSHM_SR_MAPPED);
	cr_assert_eq(r->ptr, out.region.ptr);
}

Test(session, chunks_stop_and_wait)
{
	fm.pages = 10;
	feed_alloc(4, 10);
	feed((size_t)mk_hpa(4, 0, 4, 10, 55));
	cr_assert_eq(reply.type, VSHM_MSG_CHUNK_OK);
	cr_assert_eq(reply.region, 4);
	cr_assert_eq(reply.chunk_ok.first_page, 0);
	cr_assert_eq(reply.chunk_ok.nr_pages, 4);
	cr_assert_eq(fm.maps, 0);
	feed((size_t)mk_hpa(4, 4, 4, 10, 55));
	cr_assert_eq(reply.type, VSHM_MSG_CHUNK_OK);
	cr_assert_eq(reply.chunk_ok.first_page, 4);
	cr_assert_eq(reply.chunk_ok.nr_pages, 4);
	feed((size_t)mk_hpa(4, 8, 2, 10, 55));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
	cr_assert_eq(reply.mapped.nr_pages, 10);
	cr_assert_eq(fm.maps, 1);
	cr_assert_eq(out.region.chunks, 3);
	cr_assert_eq(out.region.pages_received, 10);
}

Test(session, chunk_out_of_order_fails_region)
{
	feed_alloc(4, 10);
	feed((size_t)mk_hpa(4, 0, 4, 10, 55));
	feed((size_t)mk_hpa(4, 5, 4, 10, 55));
	expect_error(4, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert(out.actions & VSHM_SESS_FAILED);
	cr_assert_eq(state_of(4), VSHM_SR_FAILED);
	/* A failed region takes no more chunks... */
	feed((size_t)mk_hpa(4, 4, 4, 10, 55));
	expect_error(4, VSHM_E_NOREGION, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	/* ...the guest frees it, its id is free again. */
	feed_free(4);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(out.actions, VSHM_SESS_FREED);
	cr_assert_eq(fm.unmaps, 0);
	feed_alloc(4, 1);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
}

Test(session, chunk_grant_must_stay)
{
	feed_alloc(4, 10);
	feed((size_t)mk_hpa(4, 0, 4, 10, 55));
	feed((size_t)mk_hpa(4, 4, 4, 10, 56));
	expect_error(4, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(state_of(4), VSHM_SR_FAILED);
}

Test(session, chunk_total_must_match_alloc)
{
	feed_alloc(4, 10);
	feed((size_t)mk_hpa(4, 0, 4, 11, 55));
	expect_error(4, VSHM_E_COUNT, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(state_of(4), VSHM_SR_FAILED);
}

Test(session, chunk_unknown_region)
{
	feed((size_t)mk_hpa(8, 0, 2, 2, 1));
	expect_error(8, VSHM_E_NOREGION, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(out.actions, 0);
	cr_assert_eq(fm.maps, 0);
}

Test(session, chunk_for_mapped_region_unmaps)
{
	fm.pages = 2;
	feed_alloc(4, 2);
	feed((size_t)mk_hpa(4, 0, 2, 2, 9));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
	feed((size_t)mk_hpa(4, 0, 2, 2, 9));
	expect_error(4, VSHM_E_NOREGION, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(fm.unmaps, 1);
	cr_assert_eq(state_of(4), VSHM_SR_FAILED);
	cr_assert_null(vshm_session_find(s, 4)->ptr);
	feed_free(4);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(fm.unmaps, 1);
}

Test(session, refused_becomes_error)
{
	size_t len;

	feed_alloc(6, 4);
	len = mk_hpa(6, 0, 4, 4, 1);
	vshm_wire_mark_refused(buf, len, VSHM_E_NOTMAPPABLE, 2);
	feed(len);
	expect_error(6, VSHM_E_NOTMAPPABLE, 2, VSHM_MSG_GPA_LIST);
	cr_assert_eq(state_of(6), VSHM_SR_FAILED);
	/* A code this version lacks is passed on as is. */
	feed_alloc(7, 4);
	len = mk_hpa(7, 0, 4, 4, 1);
	vshm_wire_mark_refused(buf, len, 200, VSHM_NO_INDEX);
	feed(len);
	expect_error(7, 200, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
}

Test(session, refused_frag)
{
	size_t len;

	feed_alloc(6, 4);
	len = mk_hpa(6, 0, 4, 4, 1);
	vshm_wire_mark_refused(buf, len, VSHM_E_FRAG, VSHM_NO_INDEX);
	feed(len);
	expect_error(6, VSHM_E_FRAG, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
}

Test(session, refused_region_0_closes)
{
	size_t len = mk_hpa(6, 0, 4, 4, 1);

	vshm_wire_mark_refused(buf, len, VSHM_E_REGION, VSHM_NO_INDEX);
	put_unaligned_le32(0, buf + 12);
	feed(len);
	expect_error(0, VSHM_E_REGION, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
}

Test(session, untranslated_gpa_list_is_nopolicy)
{
	const struct vshm_run run = { 0x5000, 2 };
	ssize_t len;

	feed_alloc(2, 2);
	len = vshm_encode_gpa_list(buf, sizeof(buf), 2, 0, 2, &run, 1);
	feed((size_t)len);
	expect_error(2, VSHM_E_NOPOLICY, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(state_of(2), VSHM_SR_FAILED);
	cr_assert_eq(fm.maps, 0);
}

Test(session, map_failure)
{
	fm.map_ret = -ENOMEM;
	feed_alloc(3, 2);
	feed((size_t)mk_hpa(3, 0, 2, 2, 8));
	expect_error(3, VSHM_E_NOMEM, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(out.map_err, -ENOMEM);
	cr_assert_eq(state_of(3), VSHM_SR_FAILED);
	cr_assert_eq(app.calls, 0);
	feed_free(3);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(fm.unmaps, 0);
}

Test(session, map_wrong_size_is_internal)
{
	fm.pages = 3;
	feed_alloc(3, 2);
	feed((size_t)mk_hpa(3, 0, 2, 2, 8));
	expect_error(3, VSHM_E_INTERNAL, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(fm.unmaps, 1);
	cr_assert_eq(app.calls, 0);
	cr_assert_eq(state_of(3), VSHM_SR_FAILED);
}

Test(session, on_mapped_refuses)
{
	fm.pages = 2;
	app.ret = VSHM_E_DENIED;
	feed_alloc(3, 2);
	feed((size_t)mk_hpa(3, 0, 2, 2, 8));
	expect_error(3, VSHM_E_DENIED, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(app.calls, 1);
	cr_assert_eq(fm.unmaps, 1);
	cr_assert_eq(state_of(3), VSHM_SR_FAILED);

	app.ret = -EIO;
	feed_alloc(4, 2);
	feed((size_t)mk_hpa(4, 0, 2, 2, 9));
	expect_error(4, VSHM_E_INTERNAL, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(fm.unmaps, 2);
}

/* FREE */

Test(session, free_mapped_unmaps)
{
	void *ptr;

	fm.pages = 2;
	feed_alloc(3, 2);
	feed((size_t)mk_hpa(3, 0, 2, 2, 8));
	ptr = vshm_session_find(s, 3)->ptr;
	feed_free(3);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(reply.region, 3);
	cr_assert_eq(out.actions, VSHM_SESS_FREED);
	cr_assert_eq(fm.unmaps, 1);
	cr_assert_eq(fm.unmap_grant, 8);
	cr_assert_eq(fm.unmap_ptr, ptr);
	cr_assert_eq(fm.unmap_size, 2 * 4096);
	cr_assert_eq(out.region.id, 3);
	cr_assert_null(out.region.ptr);
	cr_assert_eq(out.region.info.nr_runs, 2);
	cr_assert_null(vshm_session_find(s, 3));
}

Test(session, free_while_uploading)
{
	feed_alloc(3, 8);
	feed((size_t)mk_hpa(3, 0, 2, 8, 8));
	feed_free(3);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(fm.unmaps, 0);
	cr_assert_null(vshm_session_find(s, 3));
}

Test(session, free_unknown)
{
	feed_free(12);
	expect_error(12, VSHM_E_NOREGION, VSHM_NO_INDEX, VSHM_MSG_FREE);
}

Test(session, free_unmap_error_still_freed)
{
	struct vshm_session_stats st;

	fm.pages = 1;
	fm.unmap_ret = -EINVAL;
	feed_alloc(3, 1);
	feed((size_t)mk_hpa(3, 0, 1, 1, 8));
	feed_free(3);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(out.unmap_err, -EINVAL);
	vshm_session_stats(s, &st);
	cr_assert_eq(st.freed, 1);
	cr_assert_eq(st.mapped, 1);
	cr_assert_eq(st.live, 0);
}

/* Malformed messages */

Test(session, malformed_header_closes)
{
	feed_alloc(3, 1);
	feed(8);
	expect_error(0, VSHM_E_TRUNC, VSHM_NO_INDEX, 0);

	vshm_encode_free(buf, sizeof(buf), 3);
	buf[0] ^= 1;
	feed(16);
	expect_error(0, VSHM_E_MAGIC, VSHM_NO_INDEX, VSHM_MSG_FREE);

	vshm_encode_free(buf, sizeof(buf), 3);
	buf[4] = 2;
	feed(16);
	expect_error(0, VSHM_E_VERSION, VSHM_NO_INDEX, VSHM_MSG_FREE);

	vshm_encode_free(buf, sizeof(buf), 3);
	put_unaligned_le32(0, buf + 12);
	feed(16);
	expect_error(0, VSHM_E_REGION, VSHM_NO_INDEX, VSHM_MSG_FREE);
	/* None of them touched region 3. */
	cr_assert_eq(state_of(3), VSHM_SR_UPLOADING);
}

Test(session, malformed_with_region)
{
	feed_alloc(3, 1);
	vshm_encode_alloc(buf, sizeof(buf), 3, 4096, 4096, 1);
	put_unaligned_le32(7, buf + 28);
	feed(40);
	expect_error(3, VSHM_E_ALLOC, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	cr_assert_eq(state_of(3), VSHM_SR_UPLOADING);

	vshm_encode_free(buf, sizeof(buf), 3);
	feed(17);
	expect_error(3, VSHM_E_LEN, VSHM_NO_INDEX, VSHM_MSG_FREE);
	cr_assert_eq(state_of(3), VSHM_SR_UPLOADING);
}

Test(session, guest_sends_host_type)
{
	feed((size_t)vshm_encode_mapped(buf, sizeof(buf), 3, 1, 1));
	expect_error(3, VSHM_E_TYPE, VSHM_NO_INDEX, VSHM_MSG_MAPPED);
	feed((size_t)vshm_encode_chunk_ok(buf, sizeof(buf), 3, 0, 1));
	expect_error(3, VSHM_E_TYPE, VSHM_NO_INDEX, VSHM_MSG_CHUNK_OK);
	/* An ERROR for the connection has region 0: that ends it. */
	feed((size_t)vshm_encode_error(buf, sizeof(buf), 0, 1, 0, 0));
	expect_error(0, VSHM_E_TYPE, VSHM_NO_INDEX, VSHM_MSG_ERROR);
	/* Unknown type 15. */
	vshm_encode_free(buf, sizeof(buf), 3);
	buf[5] = 15;
	feed(16);
	expect_error(3, VSHM_E_TYPE, VSHM_NO_INDEX, 15);
}

Test(session, malformed_hpa_list_fails_region)
{
	size_t len;

	feed_alloc(3, 4);
	len = mk_hpa(3, 0, 4, 4, 8);
	vshm_wire_ext_set_addr(buf + 48, 2, 0x1234);
	feed(len);
	expect_error(3, VSHM_E_ALIGN, 2, VSHM_MSG_GPA_LIST);
	cr_assert_eq(state_of(3), VSHM_SR_FAILED);
}

Test(session, oversize_message)
{
	const struct vshm_run run = { 0x5000, 1 };

	memset(buf, 0, sizeof(buf));
	vshm_encode_gpa_list(buf, sizeof(buf), 3, 0, 1, &run, 1);
	feed(VSHM_MAX_MSG + 1);
	expect_error(3, VSHM_E_LEN, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
}

/* Connection end */

Test(session, drop_all_unmaps_mapped_only)
{
	struct vshm_session_stats st;
	unsigned int errs = 9;

	fm.pages = 1;
	feed_alloc(1, 1);
	feed((size_t)mk_hpa(1, 0, 1, 1, 11));
	feed_alloc(2, 1);
	feed((size_t)mk_hpa(2, 0, 1, 1, 12));
	feed_alloc(3, 2);
	feed((size_t)mk_hpa(3, 0, 1, 2, 13));
	cr_assert_eq(vshm_session_drop_all(s, &errs), 3);
	cr_assert_eq(errs, 0);
	cr_assert_eq(fm.unmaps, 2);
	vshm_session_stats(s, &st);
	cr_assert_eq(st.live, 0);
	cr_assert_null(vshm_session_find(s, 1));
}

/*
 * How regions end (on_ended), against a mapper like the real one: real
 * shared mappings; unmap replaces one in place with a PROT_NONE
 * reservation, release gives the range back.
 */

#define MAX_ENDS	16

struct mm_mapper {
	uint32_t pages;
	int maps, unmaps, releases;
	void *released[MAX_ENDS];
};

static int mm_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		  struct vshm_map_info *info)
{
	struct mm_mapper *f = ctx;
	size_t size = (size_t)f->pages * VSHM_PAGE_SIZE;
	void *p;

	(void)sock_fd;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memset(p, (int)(grant & 0xff), size);
	f->maps++;
	*ptr = p;
	info->size = size;
	info->nr_pages = f->pages;
	info->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	return 0;
}

static int mm_unmap(void *ctx, uint64_t grant, void *ptr, size_t size)
{
	struct mm_mapper *f = ctx;

	(void)grant;
	f->unmaps++;
	if (mmap(ptr, size, PROT_NONE, MAP_FIXED | MAP_PRIVATE |
		 MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		return -errno;
	return 0;
}

static void mm_release(void *ctx, void *ptr, size_t size)
{
	struct mm_mapper *f = ctx;

	cr_assert(maps_reserved(ptr, size), "release of a range not reserved");
	cr_assert_lt(f->releases, MAX_ENDS);
	f->released[f->releases++] = ptr;
	munmap(ptr, size);
}

static const struct vshm_mapper_ops mm_ops = {
	.map = mm_map,
	.unmap = mm_unmap,
	.release = mm_release,
};

/* What on_ended saw, and what it answers. */
struct ends {
	int hold;			/* returned */
	int calls;
	uint32_t id[MAX_ENDS];
	uint32_t cid[MAX_ENDS];
	enum vshm_end_reason why[MAX_ENDS];
	enum vshm_sregion_state state[MAX_ENDS];
	void *addr[MAX_ENDS];
	void *ptr[MAX_ENDS];
	int reserved[MAX_ENDS];		/* addr was reserved during the call */
	int releases_before[MAX_ENDS];
};

static struct mm_mapper mm;
static struct ends ends;

static int app_on_ended(void *arg, const struct vshm_session_region *r,
			enum vshm_end_reason why)
{
	struct ends *e = arg;
	int i = e->calls++;

	cr_assert_lt(i, MAX_ENDS);
	e->id[i] = r->id;
	e->cid[i] = r->peer_cid;
	e->why[i] = why;
	e->state[i] = r->state;
	e->addr[i] = r->addr;
	e->ptr[i] = r->ptr;
	e->reserved[i] = r->addr &&
			 maps_reserved(r->addr, (size_t)r->info.size);
	e->releases_before[i] = mm.releases;
	return e->hold;
}

static struct vshm_session *mm_session(uint32_t cid)
{
	struct vshm_session_cfg cfg = {
		.sock_fd = SOCK_FD,
		.peer_cid = cid,
		.ops = &mm_ops,
		.ops_ctx = &mm,
		.on_ended = app_on_ended,
		.arg = &ends,
	};
	struct vshm_session *ms = vshm_session_new(&cfg);

	cr_assert_not_null(ms);
	return ms;
}

static void end_setup(void)
{
	memset(&mm, 0, sizeof(mm));
	memset(&ends, 0, sizeof(ends));
	mm.pages = 4;
	s = mm_session(PEER_CID);
}

TestSuite(session_end, .init = end_setup, .fini = teardown);

/* Region id of 4 pages, shared and mapped on session s; its mapping. */
static void *share(uint32_t id, uint64_t grant)
{
	feed_alloc(id, 4);
	feed(mk_hpa(id, 0, 4, 4, grant));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED, "got %s",
		     vshm_msg_type_name(reply.type));
	cr_assert_not_null(out.region.ptr);
	return out.region.ptr;
}

/* The index of region id in ends, which saw it exactly once. */
static int ended_once(uint32_t id)
{
	int i, at = -1, n = 0;

	for (i = 0; i < ends.calls; i++) {
		if (ends.id[i] == id) {
			at = i;
			n++;
		}
	}
	cr_assert_eq(n, 1, "region %u reported %d times", id, n);
	return at;
}

Test(session_end, connection_end_reports_every_region)
{
	void *p1, *p3;
	unsigned int errs = 9;
	int i;

	p1 = share(1, 11);
	feed_alloc(2, 4);			/* uploading */
	p3 = share(3, 13);
	feed(mk_hpa(3, 0, 4, 4, 13));		/* fails the mapped region */
	cr_assert_eq(state_of(3), VSHM_SR_FAILED);
	cr_assert_eq(ends.calls, 0, "a failed region has not ended");

	cr_assert_eq(vshm_session_end(s, VSHM_END_RESET, &errs), 3);
	cr_assert_eq(errs, 0);
	cr_assert_eq(ends.calls, 3, "%d of 3 regions reported", ends.calls);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(ends.why[i], VSHM_END_RESET);
		cr_assert_eq(ends.cid[i], PEER_CID);
		cr_assert_null(ends.ptr[i]);
	}
	i = ended_once(1);
	cr_assert_eq(ends.addr[i], p1);
	cr_assert_eq(ends.state[i], VSHM_SR_MAPPED);
	cr_assert(ends.reserved[i], "mapping not reserved when reported");
	i = ended_once(2);
	cr_assert_null(ends.addr[i]);
	cr_assert_eq(ends.state[i], VSHM_SR_UPLOADING);
	i = ended_once(3);
	cr_assert_eq(ends.addr[i], p3);
	cr_assert_eq(ends.state[i], VSHM_SR_FAILED);
	cr_assert(ends.reserved[i]);
	/* Not held: both ranges given back after their report. */
	cr_assert_eq(mm.unmaps, 2);
	cr_assert_eq(mm.releases, 2);
	cr_assert(mm.released[0] == p1 || mm.released[1] == p1);
	cr_assert(mm.released[0] == p3 || mm.released[1] == p3);
	cr_assert_null(vshm_session_find(s, 1));
}

Test(session_end, reasons_of_drop_all_and_free)
{
	share(1, 11);
	cr_assert_eq(vshm_session_drop_all(s, NULL), 1);
	cr_assert_eq(ends.calls, 1);
	cr_assert_eq(ends.why[0], VSHM_END_CLOSED);
	share(2, 12);
	vshm_session_free(s);
	s = NULL;
	cr_assert_eq(ends.calls, 2);
	cr_assert_eq(ends.id[1], 2);
	cr_assert_eq(ends.why[1], VSHM_END_SHUTDOWN);
	cr_assert_eq(mm.releases, 2);
}

Test(session_end, free_reports_freed_before_release)
{
	void *p = share(5, 15);

	feed_free(5);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(out.actions, VSHM_SESS_FREED);
	cr_assert_eq(out.region.addr, p);
	cr_assert_null(out.region.ptr);
	cr_assert_eq(ends.calls, 1);
	cr_assert_eq(ends.id[0], 5);
	cr_assert_eq(ends.why[0], VSHM_END_FREED);
	cr_assert_eq(ends.addr[0], p);
	cr_assert(ends.reserved[0], "mapping not reserved when reported");
	cr_assert_eq(ends.releases_before[0], 0);
	cr_assert_eq(mm.releases, 1);
	cr_assert_eq(mm.released[0], p);
	/* Uploading or failed, FREE ends a region too. */
	feed_alloc(6, 4);
	feed_free(6);
	cr_assert_eq(ends.calls, 2);
	cr_assert_eq(ends.why[1], VSHM_END_FREED);
	cr_assert_null(ends.addr[1]);
	cr_assert_eq(mm.releases, 1);
}

/*
 * The case: guest 3 shares and goes away without FREE, guest 4
 * shares the same size. While the application holds the dropped range,
 * no new mapping lands there, and a stale pointer faults.
 */
Test(session_end, held_range_is_never_reused)
{
	void *p, *q;
	int i;

	p = share(1, 11);
	ends.hold = VSHM_HOLD;
	cr_assert_eq(vshm_session_end(s, VSHM_END_CLOSED, NULL), 1);
	cr_assert_eq(ends.calls, 1);
	cr_assert_eq(ends.addr[0], p);
	cr_assert_eq(mm.releases, 0, "a held range was released");
	cr_assert(maps_reserved(p, 4 * VSHM_PAGE_SIZE));

	vshm_session_free(s);
	s = mm_session(4);
	for (i = 1; i <= 8; i++) {
		q = share((uint32_t)i, 40 + (uint64_t)i);
		cr_assert(!ranges_overlap(p, q, 4 * VSHM_PAGE_SIZE),
			  "guest 4's region %d landed on guest 3's held range %p",
			  i, p);
	}
	cr_assert(maps_reserved(p, 4 * VSHM_PAGE_SIZE));
	munmap(p, 4 * VSHM_PAGE_SIZE);	/* what vshm_server_release() does */
}

Test(session_end, failed_mapping_is_reserved_until_the_end)
{
	void *p = share(3, 13);

	feed(mk_hpa(3, 0, 4, 4, 13));
	expect_error(3, VSHM_E_NOREGION, VSHM_NO_INDEX, VSHM_MSG_GPA_LIST);
	cr_assert_eq(mm.unmaps, 1);
	cr_assert(maps_reserved(p, 4 * VSHM_PAGE_SIZE));
	cr_assert_eq(vshm_session_find(s, 3)->addr, p);
	cr_assert_eq(ends.calls, 0);
	cr_assert_eq(mm.releases, 0);
	feed_free(3);
	cr_assert_eq(ends.calls, 1);
	cr_assert_eq(ends.why[0], VSHM_END_FREED);
	cr_assert_eq(ends.state[0], VSHM_SR_FAILED);
	cr_assert_eq(ends.addr[0], p);
	cr_assert_eq(mm.releases, 1);
}

Test(session_end, reason_names)
{
	cr_assert_str_eq(vshm_end_reason_name(VSHM_END_FREED), "freed");
	cr_assert_str_eq(vshm_end_reason_name(VSHM_END_CLOSED), "closed");
	cr_assert_str_eq(vshm_end_reason_name(VSHM_END_RESET), "reset");
	cr_assert_str_eq(vshm_end_reason_name(VSHM_END_PROTOCOL), "protocol");
	cr_assert_str_eq(vshm_end_reason_name(VSHM_END_SHUTDOWN), "shutdown");
	cr_assert_str_eq(vshm_end_reason_name((enum vshm_end_reason)0), "?");
}

Test(session, map_errno_codes)
{
	cr_assert_eq(vshm_session_map_errno_code(-ENOMEM), VSHM_E_NOMEM);
	cr_assert_eq(vshm_session_map_errno_code(-EBUSY), VSHM_E_BUSY);
	cr_assert_eq(vshm_session_map_errno_code(-EAGAIN), VSHM_E_BUSY);
	cr_assert_eq(vshm_session_map_errno_code(-EPERM), VSHM_E_DENIED);
	cr_assert_eq(vshm_session_map_errno_code(-EACCES), VSHM_E_DENIED);
	cr_assert_eq(vshm_session_map_errno_code(-EDQUOT), VSHM_E_QUOTA);
	cr_assert_eq(vshm_session_map_errno_code(-ENOENT), VSHM_E_INTERNAL);
}

Test(session, bad_arguments)
{
	struct vshm_session_cfg cfg = { .ops = NULL };

	errno = 0;
	cr_assert_null(vshm_session_new(&cfg));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(vshm_session_new(NULL));
	cr_assert_eq(vshm_session_feed(NULL, buf, 16, &out), -EINVAL);
	cr_assert_eq(vshm_session_feed(s, NULL, 16, &out), -EINVAL);
	cr_assert_eq(vshm_session_feed(s, buf, 16, NULL), -EINVAL);
	cr_assert_null(vshm_session_find(NULL, 1));
}

/*
 * Features (HELLO/HELLO_OK), cookies, doorbells (NOTIFY) and revocations,
 * on the mapper of the session_end suite. Every callback is logged in
 * order: on_revoked must come before on_ended, once.
 */

#define FEAT_CONN_ID	77
#define FEAT_PORT	1023
#define MAX_CALLS	32

static struct {
	int n;
	char what[MAX_CALLS];		/* 'r' revoked, 'n' notify, 'e' ended */
	uint32_t id[MAX_CALLS];
	uint32_t arg[MAX_CALLS];	/* reason, bits or why */
	void *ptr[MAX_CALLS];
	void *addr[MAX_CALLS];
	uint64_t cookie[MAX_CALLS];
	uint64_t conn_id[MAX_CALLS];
	uint32_t port[MAX_CALLS];
	uint32_t revoked[MAX_CALLS];
} calls;

static void log_call(char what, const struct vshm_session_region *r,
		     uint32_t arg)
{
	int i = calls.n++;

	cr_assert_lt(i, MAX_CALLS);
	calls.what[i] = what;
	calls.id[i] = r->id;
	calls.arg[i] = arg;
	calls.ptr[i] = r->ptr;
	calls.addr[i] = r->addr;
	calls.cookie[i] = r->cookie;
	calls.conn_id[i] = r->conn_id;
	calls.port[i] = r->peer_port;
	calls.revoked[i] = r->revoked;
}

static void feat_on_revoked(void *arg, const struct vshm_session_region *r,
			    enum vshm_revoke_reason reason)
{
	(void)arg;
	log_call('r', r, (uint32_t)reason);
}

static void feat_on_notify(void *arg, const struct vshm_session_region *r,
			   uint32_t bits)
{
	(void)arg;
	log_call('n', r, bits);
}

static int feat_on_ended(void *arg, const struct vshm_session_region *r,
			 enum vshm_end_reason why)
{
	(void)arg;
	log_call('e', r, (uint32_t)why);
	return 0;
}

/* A session whose host supports features. */
static struct vshm_session *feat_session(uint64_t features)
{
	struct vshm_session_cfg cfg = {
		.sock_fd = SOCK_FD,
		.peer_cid = PEER_CID,
		.peer_port = FEAT_PORT,
		.conn_id = FEAT_CONN_ID,
		.features = features,
		.ops = &mm_ops,
		.ops_ctx = &mm,
		.on_ended = feat_on_ended,
		.on_revoked = feat_on_revoked,
		.on_notify = feat_on_notify,
	};
	struct vshm_session *fs = vshm_session_new(&cfg);

	cr_assert_not_null(fs);
	return fs;
}

static void feat_setup(void)
{
	memset(&mm, 0, sizeof(mm));
	memset(&calls, 0, sizeof(calls));
	mm.pages = 4;
	s = feat_session(VSHM_FEAT_MASK);
}

TestSuite(session_feat, .init = feat_setup, .fini = teardown);

static void feed_hello(uint32_t region, uint64_t features)
{
	feed((size_t)vshm_encode_hello(buf, sizeof(buf), region, features));
}

/* Feeds a message that must get no answer at all. */
static void feed_unanswered(size_t len)
{
	memset(&out, 0xa5, sizeof(out));
	cr_assert_eq(vshm_session_feed(s, buf, len, &out), 0);
	cr_assert_eq(out.reply_len, 0, "a NOTIFY was answered (%s)",
		     vshm_msg_type_name(out.reply_type));
	cr_assert_eq(out.actions & VSHM_SESS_CLOSE, 0);
}

static size_t mk_notify(uint32_t region, uint32_t bits)
{
	ssize_t n = vshm_encode_notify(buf, sizeof(buf), region, bits);

	cr_assert_eq(n, VSHM_NOTIFY_SIZE);
	return (size_t)n;
}

static void feed_alloc_cookie(uint32_t region, uint32_t pages,
			      uint64_t cookie)
{
	ssize_t n = vshm_encode_alloc_cookie(buf, sizeof(buf), region,
					     (uint64_t)pages * VSHM_PAGE_SIZE,
					     VSHM_PAGE_SIZE,
					     VSHM_ACCESS_READ |
					     VSHM_ACCESS_WRITE, cookie);

	cr_assert_eq(n, VSHM_ALLOC_COOKIE_SIZE);
	feed((size_t)n);
}

Test(session_feat, hello_first_gets_the_common_features)
{
	vshm_session_free(s);
	s = feat_session(VSHM_FEAT_REVOKED | VSHM_FEAT_NOTIFY);
	cr_assert_eq(vshm_session_features(s), 0);
	feed_hello(9, VSHM_FEAT_COOKIE | VSHM_FEAT_NOTIFY);
	cr_assert_eq(reply.type, VSHM_MSG_HELLO_OK);
	cr_assert_eq(reply.region, 9);
	cr_assert_eq(reply.hello.features, VSHM_FEAT_NOTIFY);
	cr_assert_eq(out.actions, VSHM_SESS_HELLO);
	cr_assert_eq(vshm_session_features(s), VSHM_FEAT_NOTIFY);
	/* The HELLO's region id is no region. */
	cr_assert_null(vshm_session_find(s, 9));
	feed_alloc(9, 1);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
}

Test(session_feat, hello_nothing_in_common)
{
	vshm_session_free(s);
	s = feat_session(VSHM_FEAT_REVOKED);
	feed_hello(1, VSHM_FEAT_COOKIE);
	cr_assert_eq(reply.type, VSHM_MSG_HELLO_OK);
	cr_assert_eq(reply.hello.features, 0);
	cr_assert_eq(vshm_session_features(s), 0);
	feed_hello(1, 0);
	expect_error(1, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
}

Test(session_feat, hello_late_is_order_and_changes_nothing)
{
	feed_alloc(1, 4);
	feed_hello(2, VSHM_FEAT_MASK);
	expect_error(2, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
	cr_assert_eq(vshm_session_features(s), 0);
	cr_assert_eq(state_of(1), VSHM_SR_UPLOADING);
	/* Its region id may even be a live region's: still nothing. */
	feed_hello(1, VSHM_FEAT_MASK);
	expect_error(1, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
	cr_assert_eq(state_of(1), VSHM_SR_UPLOADING);
	cr_assert_eq(vshm_session_features(s), 0);
}

Test(session_feat, hello_twice)
{
	feed_hello(1, VSHM_FEAT_REVOKED);
	cr_assert_eq(reply.hello.features, VSHM_FEAT_REVOKED);
	feed_hello(1, VSHM_FEAT_MASK);
	expect_error(1, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
	cr_assert_eq(vshm_session_features(s), VSHM_FEAT_REVOKED);
}

/* A first message that was malformed still was the first. */
Test(session_feat, hello_after_a_malformed_first_message)
{
	size_t n = (size_t)vshm_encode_free(buf, sizeof(buf), 3);

	buf[n] = 0;
	feed(n + 1);	/* FREE one byte too long */
	expect_error(3, VSHM_E_LEN, VSHM_NO_INDEX, VSHM_MSG_FREE);
	feed_hello(1, VSHM_FEAT_MASK);
	expect_error(1, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
}

Test(session_feat, cookie_kept_per_region)
{
	const struct vshm_session_region *r;

	feed_hello(1, VSHM_FEAT_COOKIE);
	feed_alloc_cookie(1, 4, 0x1111222233334444ULL);
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	feed_alloc_cookie(2, 4, 0xfeedULL);
	feed_alloc(3, 4);			/* the 40-byte form stays valid */
	cr_assert_eq(reply.type, VSHM_MSG_ALLOC_OK);
	r = vshm_session_find(s, 1);
	cr_assert_eq(r->cookie, 0x1111222233334444ULL);
	cr_assert_eq(r->conn_id, FEAT_CONN_ID);
	cr_assert_eq(r->peer_port, FEAT_PORT);
	cr_assert_eq(r->peer_cid, PEER_CID);
	cr_assert_eq(vshm_session_find(s, 2)->cookie, 0xfeedULL);
	cr_assert_eq(vshm_session_find(s, 3)->cookie, 0);
	/* An ALLOC of a live id does not replace its cookie. */
	feed_alloc_cookie(2, 4, 0xbad);
	expect_error(2, VSHM_E_EXISTS, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	cr_assert_eq(vshm_session_find(s, 2)->cookie, 0xfeedULL);
	/* The application sees it with the region, up to its end. */
	feed(mk_hpa(2, 0, 4, 4, 22));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
	cr_assert_eq(out.region.cookie, 0xfeedULL);
	feed_free(2);
	cr_assert_eq(calls.n, 1);
	cr_assert_eq(calls.what[0], 'e');
	cr_assert_eq(calls.cookie[0], 0xfeedULL);
	cr_assert_eq(calls.conn_id[0], FEAT_CONN_ID);
	cr_assert_eq(calls.port[0], FEAT_PORT);
}

Test(session_feat, cookie_without_the_feature_is_len)
{
	feed_alloc_cookie(1, 4, 5);
	expect_error(1, VSHM_E_LEN, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
	cr_assert_null(vshm_session_find(s, 1));
	/* Nor when HELLO left the cookie out. */
	vshm_session_free(s);
	s = feat_session(VSHM_FEAT_MASK);
	feed_hello(1, VSHM_FEAT_NOTIFY);
	feed_alloc_cookie(1, 4, 5);
	expect_error(1, VSHM_E_LEN, VSHM_NO_INDEX, VSHM_MSG_ALLOC);
}

Test(session_feat, notify_delivered_never_answered)
{
	struct vshm_session_stats st;
	void *p;

	feed_hello(1, VSHM_FEAT_NOTIFY);
	p = share(1, 11);
	feed_unanswered(mk_notify(1, 0x5));
	cr_assert_eq(out.actions, VSHM_SESS_NOTIFY);
	cr_assert_eq(out.region.id, 1);
	cr_assert_eq(calls.n, 1);
	cr_assert_eq(calls.what[0], 'n');
	cr_assert_eq(calls.id[0], 1);
	cr_assert_eq(calls.arg[0], 0x5);
	cr_assert_eq(calls.ptr[0], p);
	cr_assert_eq(calls.conn_id[0], FEAT_CONN_ID);
	/* Unknown, uploading: dropped, not answered either. */
	feed_unanswered(mk_notify(7, 1));
	cr_assert_eq(out.actions, VSHM_SESS_DROPPED);
	feed_alloc(2, 4);
	feed_unanswered(mk_notify(2, 1));
	cr_assert_eq(out.actions, VSHM_SESS_DROPPED);
	cr_assert_eq(calls.n, 1);
	vshm_session_stats(s, &st);
	cr_assert_eq(st.notifies, 1);
	cr_assert_eq(st.notifies_dropped, 2);
	cr_assert_eq(st.errors, 0);
	/* Stop-and-wait goes on: the next message gets its answer. */
	feed(mk_hpa(2, 0, 4, 4, 12));
	cr_assert_eq(reply.type, VSHM_MSG_MAPPED);
}

Test(session_feat, notify_without_the_feature_dropped)
{
	share(1, 11);
	feed_unanswered(mk_notify(1, 1));
	cr_assert_eq(out.actions, VSHM_SESS_DROPPED);
	cr_assert_eq(calls.n, 0);
	/* A NOTIFY as first message makes a later HELLO late. */
	vshm_session_free(s);
	s = feat_session(VSHM_FEAT_MASK);
	feed_unanswered(mk_notify(1, 1));
	feed_hello(1, VSHM_FEAT_NOTIFY);
	expect_error(1, VSHM_E_ORDER, VSHM_NO_INDEX, VSHM_MSG_HELLO);
}

Test(session_feat, malformed_notify_not_answered)
{
	struct vshm_session_stats st;
	size_t n;

	feed_hello(1, VSHM_FEAT_NOTIFY);
	share(1, 11);
	/* bits 0 */
	n = mk_notify(1, 1);
	memset(buf + 16, 0, 4);
	feed_unanswered(n);
	/* pad set */
	n = mk_notify(1, 1);
	buf[20] = 1;
	feed_unanswered(n);
	/* region 0 */
	n = mk_notify(1, 1);
	memset(buf + 12, 0, 4);
	feed_unanswered(n);
	/* too long: hdr.len and the buffer say 32 */
	n = mk_notify(1, 1);
	memset(buf + n, 0, 8);
	buf[8] = 32;
	feed_unanswered(32);
	/* hdr.len does not match the buffer */
	n = mk_notify(1, 1);
	feed_unanswered(n - 4);
	/* flags set */
	n = mk_notify(1, 1);
	buf[6] = 1;
	feed_unanswered(n);
	cr_assert_eq(calls.n, 0, "a malformed NOTIFY was delivered");
	vshm_session_stats(s, &st);
	cr_assert_eq(st.notifies_dropped, 6);
	cr_assert_eq(state_of(1), VSHM_SR_MAPPED);
	/* A broken header is the connection's error, NOTIFY or not. */
	n = mk_notify(1, 1);
	buf[0] ^= 0xff;
	feed(n);
	expect_error(0, VSHM_E_MAGIC, VSHM_NO_INDEX, VSHM_MSG_NOTIFY);
}

Test(session_feat, revoked_reported_unmapped_and_sent)
{
	const struct vshm_session_region *r;
	struct vshm_msg m;
	void *p;

	feed_hello(1, VSHM_FEAT_REVOKED | VSHM_FEAT_NOTIFY);
	p = share(4, 44);
	cr_assert_eq(vshm_session_revoke(s, 44, VSHM_REVOKE_MEMMAP, &out), 1);
	cr_assert_eq(out.actions, VSHM_SESS_REVOKED);
	cr_assert_eq(calls.n, 1);
	cr_assert_eq(calls.what[0], 'r');
	cr_assert_eq(calls.id[0], 4);
	cr_assert_eq(calls.arg[0], VSHM_REVOKE_MEMMAP);
	cr_assert_eq(calls.ptr[0], p, "on_revoked: ptr is the dead mapping");
	cr_assert_eq(calls.revoked[0], 0);
	/* Replaced in place by a reservation; the region lives on. */
	cr_assert_eq(mm.unmaps, 1);
	cr_assert(maps_reserved(p, 4 * VSHM_PAGE_SIZE));
	r = vshm_session_find(s, 4);
	cr_assert_not_null(r);
	cr_assert_null(r->ptr);
	cr_assert_eq(r->addr, p);
	cr_assert_eq(r->state, VSHM_SR_MAPPED);
	cr_assert_eq(r->revoked, VSHM_REVOKE_MEMMAP);
	/* The guest is told. */
	cr_assert_eq(out.reply_type, VSHM_MSG_REVOKED);
	cr_assert_eq(vshm_decode(out.reply, out.reply_len, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_REVOKED);
	cr_assert_eq(m.region, 4);
	cr_assert_eq(m.revoked.grant, 44);
	cr_assert_eq(m.revoked.reason, VSHM_REVOKE_MEMMAP);
	/* Once only; a doorbell for it is dropped now. */
	cr_assert_eq(vshm_session_revoke(s, 44, VSHM_REVOKE_MEMMAP, &out), 0);
	cr_assert_eq(out.reply_len, 0);
	feed_unanswered(mk_notify(4, 1));
	cr_assert_eq(out.actions, VSHM_SESS_DROPPED);
	/* The guest's FREE: on_ended after on_revoked, range given back. */
	feed_free(4);
	cr_assert_eq(reply.type, VSHM_MSG_FREED);
	cr_assert_eq(mm.unmaps, 1);
	cr_assert_eq(calls.n, 2);
	cr_assert_eq(calls.what[1], 'e');
	cr_assert_eq(calls.arg[1], VSHM_END_FREED);
	cr_assert_eq(calls.revoked[1], VSHM_REVOKE_MEMMAP);
	cr_assert_eq(calls.addr[1], p);
	cr_assert_eq(mm.releases, 1);
}

/* FREED, CLOSED, REFUSED: the guest knows already; no REVOKED. */
Test(session_feat, revoked_for_what_the_guest_knows_is_not_sent)
{
	static const uint32_t known[] = {
		VSHM_REVOKE_FREED, VSHM_REVOKE_CLOSED, VSHM_REVOKE_REFUSED,
	};
	static const uint32_t unknown[] = {
		VSHM_REVOKE_DEVICE, VSHM_REVOKE_MIGRATION, VSHM_REVOKE_MAX + 1,
	};
	uint32_t i;

	feed_hello(1, VSHM_FEAT_REVOKED);
	for (i = 0; i < 3; i++) {
		share(10 + i, 100 + i);
		cr_assert_eq(vshm_session_revoke(s, 100 + i, known[i], &out),
			     1);
		cr_assert_eq(out.reply_len, 0, "REVOKED(%s) sent",
			     vshm_revoke_reason_name(known[i]));
		share(20 + i, 200 + i);
		cr_assert_eq(vshm_session_revoke(s, 200 + i, unknown[i],
						 &out), 1);
		cr_assert_eq(out.reply_type, VSHM_MSG_REVOKED, "reason %u",
			     unknown[i]);
	}
	cr_assert_eq(calls.n, 6);
}

Test(session_feat, revoked_not_sent_to_a_guest_that_did_not_agree)
{
	share(1, 11);
	cr_assert_eq(vshm_session_revoke(s, 11, VSHM_REVOKE_MIGRATION, &out),
		     1);
	cr_assert_eq(out.reply_len, 0);
	cr_assert_eq(calls.n, 1);
	/* Not agreed by HELLO either. */
	vshm_session_free(s);
	memset(&calls, 0, sizeof(calls));
	s = feat_session(VSHM_FEAT_MASK);
	feed_hello(1, VSHM_FEAT_NOTIFY);
	share(1, 11);
	cr_assert_eq(vshm_session_revoke(s, 11, VSHM_REVOKE_DEVICE, &out), 1);
	cr_assert_eq(out.reply_len, 0);
}

Test(session_feat, revoke_of_no_mapped_region)
{
	struct vshm_session_stats st;

	share(1, 11);
	cr_assert_eq(vshm_session_revoke(s, 12, VSHM_REVOKE_MEMMAP, &out), 0);
	cr_assert_eq(vshm_session_revoke(s, 0, VSHM_REVOKE_MEMMAP, &out), 0);
	/* Uploading (grant known from a first chunk): not mapped. */
	feed_alloc(2, 4);
	feed(mk_hpa(2, 0, 2, 4, 22));
	cr_assert_eq(reply.type, VSHM_MSG_CHUNK_OK);
	cr_assert_eq(vshm_session_revoke(s, 22, VSHM_REVOKE_MEMMAP, &out), 0);
	/* Failed: unmapped already. */
	feed(mk_hpa(1, 0, 4, 4, 11));
	cr_assert_eq(state_of(1), VSHM_SR_FAILED);
	cr_assert_eq(vshm_session_revoke(s, 11, VSHM_REVOKE_MEMMAP, &out), 0);
	cr_assert_eq(out.actions, 0);
	cr_assert_eq(calls.n, 0);
	vshm_session_stats(s, &st);
	cr_assert_eq(st.revoked, 0);
	cr_assert_eq(vshm_session_revoke(NULL, 11, 1, &out), -EINVAL);
	cr_assert_eq(vshm_session_revoke(s, 11, 1, NULL), -EINVAL);
}

/* A region revoked and then dropped with its connection: in that order. */
Test(session_feat, revoked_then_connection_end)
{
	void *p = share(1, 11);

	cr_assert_eq(vshm_session_revoke(s, 11, VSHM_REVOKE_CLOSED, &out), 1);
	cr_assert_eq(vshm_session_end(s, VSHM_END_CLOSED, NULL), 1);
	cr_assert_eq(calls.n, 2);
	cr_assert_eq(calls.what[0], 'r');
	cr_assert_eq(calls.what[1], 'e');
	cr_assert_eq(calls.addr[1], p);
	cr_assert_null(calls.ptr[1]);
	cr_assert_eq(mm.unmaps, 1, "unmapped twice");
	cr_assert_eq(mm.releases, 1);
}
