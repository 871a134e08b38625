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
};

static int fake_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		    struct vshm_map_info *info)
{
	struct fake_mapper *f = ctx;

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
	/* Unknown type 11. */
	vshm_encode_free(buf, sizeof(buf), 3);
	buf[5] = 11;
	feed(16);
	expect_error(3, VSHM_E_TYPE, VSHM_NO_INDEX, 11);
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
