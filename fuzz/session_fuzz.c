// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the host server's per-connection protocol state machine
 * (userspace/host/session.c), fed a sequence of messages split from the
 * input (format: session_fmt.h), with a fake mapper like the unit tests'
 * (selftests/unit/test_session.c) whose behaviour each record chooses.
 *
 * For every message fed, a model of docs/protocol.md section 9 written here
 * predicts the answer from the region's state before the feed, and checks:
 *
 * - vshm_session_feed() returns 0 and gives exactly one reply, which
 *   vshm_decode() accepts, of a type allowed by the table of section 9.5,
 *   about the message's region (region 0 and VSHM_SESS_CLOSE exactly for
 *   connection-level errors), with the predicted code, detail and orig_type;
 * - the region's state after the feed (created by ALLOC_OK only, gone after
 *   FREED only, FAILED after an ERROR to a list message, unchanged after
 *   any other ERROR, pages and grant after CHUNK_OK/MAPPED);
 * - the fake mapper: map() only for a complete region, with its grant and
 *   socket; every mapping is unmapped exactly once, with its size, by the
 *   time its region fails, is freed or dropped (ASan catches the rest);
 * - live regions are bounded: stats.live equals ALLOC_OKs minus FREEDs and
 *   never exceeds max_regions; stats count messages, errors, maps, frees.
 *
 * Features (HELLO/HELLO_OK): the session's host supports the features the
 * configuration byte's bits 4-6 do not clear (VSHM_FEAT_* << 4; 0, the
 * older inputs, leaves them all). The model knows which message came first
 * and what was agreed: HELLO first gets HELLO_OK with the common features,
 * later ERROR(VSHM_E_ORDER); an ALLOC with a cookie without
 * VSHM_FEAT_COOKIE is VSHM_E_LEN, with it the region keeps the cookie; a
 * NOTIFY, valid or malformed (its header aside), gets no reply at all, and
 * reaches on_notify only for a mapped region once VSHM_FEAT_NOTIFY was
 * agreed. At every sweep, the first mapped region is revoked
 * (vshm_session_revoke(), a reason from the input): on_revoked once, the
 * mapping unmapped, REVOKED only when agreed and for a reason the guest
 * cannot know.
 *
 * After a reply with VSHM_SESS_CLOSE the connection ends, as in
 * vshm_server.c: vshm_session_drop_all() must drop every live region and
 * unmap every mapping; the next records go to a new session. Any violation
 * ends in __builtin_trap() (FUZZ_CHECK).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "session.h"
#include "fuzz.h"
#include "session_fmt.h"

#define SOCK_FD		42
#define PEER_CID	3
#define PEER_PORT	1234
#define CONN_ID		99

#define TOKEN_MAGIC	0x6d617070U

/* The fake mapper's "mapping": a token, not the pages. */
struct token {
	uint32_t magic;
	uint64_t grant;
	uint64_t size;
};

static struct {
	/* set per feed */
	unsigned int map_mode, app_mode;
	bool map_allowed;
	uint64_t want_grant;
	uint32_t want_region, want_pages;
	unsigned int maps, unmaps, app_calls;
	unsigned int notify_calls, revoked_calls;
	uint32_t want_bits;
	uint64_t revoke_grant;
	/* across feeds */
	long outstanding;	/* mappings not unmapped */
} fk;

static int fake_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		    struct vshm_map_info *info)
{
	struct token *t;
	uint32_t pages;

	(void)ctx;
	FUZZ_CHECK(fk.map_allowed && !fk.maps);
	FUZZ_CHECK(grant == fk.want_grant && grant && sock_fd == SOCK_FD);
	fk.maps++;
	switch (fk.map_mode) {
	case SF_MAP_ENOMEM:
		return -ENOMEM;
	case SF_MAP_EBUSY:
		return -EBUSY;
	case SF_MAP_EPERM:
		return -EPERM;
	case SF_MAP_EDQUOT:
		return -EDQUOT;
	case SF_MAP_EIO:
		return -EIO;
	}
	pages = fk.want_pages + (fk.map_mode == SF_MAP_WRONG_SIZE);
	t = malloc(sizeof(*t));
	FUZZ_CHECK(t);
	t->magic = TOKEN_MAGIC;
	t->grant = grant;
	t->size = (uint64_t)pages * VSHM_PAGE_SIZE;
	*ptr = t;
	info->size = t->size;
	info->nr_pages = pages;
	info->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	info->nr_runs = 1;
	fk.outstanding++;
	return 0;
}

static int fake_unmap(void *ctx, uint64_t grant, void *ptr, size_t size)
{
	struct token *t = ptr;

	(void)ctx;
	FUZZ_CHECK(t && t->magic == TOKEN_MAGIC);
	FUZZ_CHECK(t->grant == grant && t->size == size);
	t->magic = 0;
	free(t);
	fk.outstanding--;
	fk.unmaps++;
	return fk.app_mode == SF_APP_UNMAP_FAILS ? -EIO : 0;
}

static const struct vshm_mapper_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
};

static int app_on_mapped(void *arg, const struct vshm_session_region *r)
{
	const struct token *t = r->ptr;

	(void)arg;
	fk.app_calls++;
	FUZZ_CHECK(r->id == fk.want_region && r->state == VSHM_SR_MAPPED);
	FUZZ_CHECK(t && t->magic == TOKEN_MAGIC && t->grant == r->grant);
	FUZZ_CHECK(r->grant == fk.want_grant && r->peer_cid == PEER_CID);
	FUZZ_CHECK(r->pages_received == r->nr_pages);
	FUZZ_CHECK(r->info.size == (uint64_t)r->nr_pages * VSHM_PAGE_SIZE);
	switch (fk.app_mode) {
	case SF_APP_DENIED:
		return VSHM_E_DENIED;
	case SF_APP_EIO:
		return -EIO;
	default:
		return 0;
	}
}

static void app_on_notify(void *arg, const struct vshm_session_region *r,
			  uint32_t bits)
{
	(void)arg;
	fk.notify_calls++;
	FUZZ_CHECK(r->id == fk.want_region && bits == fk.want_bits && bits);
	FUZZ_CHECK(r->state == VSHM_SR_MAPPED && r->ptr && !r->revoked);
	FUZZ_CHECK(r->conn_id == CONN_ID && r->peer_port == PEER_PORT);
}

static void app_on_revoked(void *arg, const struct vshm_session_region *r,
			   enum vshm_revoke_reason reason)
{
	(void)arg;
	(void)reason;
	fk.revoked_calls++;
	FUZZ_CHECK(r->grant == fk.revoke_grant && r->ptr && !r->revoked);
	FUZZ_CHECK(r->state == VSHM_SR_MAPPED);
}

/* ---- the connection ---- */

static struct {
	struct vshm_session *s;
	struct vshm_session_cfg cfg;
	uint32_t ids[SF_MAX_FEEDS];	/* live regions, as the model sees */
	unsigned int nids;
	struct vshm_session_stats st;	/* expected */
	bool fed;			/* a message was fed */
	uint64_t agreed;		/* features, after HELLO_OK */
	uint32_t revoke_reason;		/* of the next sweep's revocation */
} c;

static void conn_open(void)
{
	c.s = vshm_session_new(&c.cfg);
	FUZZ_CHECK(c.s);
	c.nids = 0;
	memset(&c.st, 0, sizeof(c.st));
	c.fed = false;
	c.agreed = 0;
}

/*
 * Every region the model knows is live, in the state the session says.
 * Returns the number of mapped regions.
 */
static long sweep(void)
{
	struct vshm_session_stats st;
	long mapped = 0;
	unsigned int i;

	vshm_session_stats(c.s, &st);
	FUZZ_CHECK(st.live == c.nids && c.st.live == c.nids);
	FUZZ_CHECK(st.msgs == c.st.msgs && st.errors == c.st.errors &&
		   st.mapped == c.st.mapped && st.freed == c.st.freed);
	FUZZ_CHECK(st.notifies == c.st.notifies &&
		   st.notifies_dropped == c.st.notifies_dropped &&
		   st.revoked == c.st.revoked);
	FUZZ_CHECK(vshm_session_features(c.s) == c.agreed);
	for (i = 0; i < c.nids; i++) {
		const struct vshm_session_region *r =
			vshm_session_find(c.s, c.ids[i]);

		FUZZ_CHECK(r && r->id == c.ids[i]);
		if (r->ptr) {
			FUZZ_CHECK(r->state == VSHM_SR_MAPPED);
			mapped++;
		}
	}
	FUZZ_CHECK(mapped == fk.outstanding);
	return mapped;
}

/*
 * The connection ends: what vshm_server.c does. unmap() keeps failing if
 * the last record said so.
 */
static void conn_close(void)
{
	unsigned int errs = ~0u, n;
	long mapped = sweep();

	n = vshm_session_drop_all(c.s, &errs);
	FUZZ_CHECK(n == c.nids);
	FUZZ_CHECK(errs == (fk.app_mode == SF_APP_UNMAP_FAILS ? mapped : 0));
	FUZZ_CHECK(fk.outstanding == 0);
	FUZZ_CHECK(vshm_session_drop_all(c.s, NULL) == 0);
	vshm_session_free(c.s);
	c.s = NULL;
}

/*
 * The mapper reports a grant revoked: the first mapped region's, or one no
 * region maps. Reasons cycle through every known one and an unknown one.
 */
static void revoke_one(void)
{
	const struct vshm_session_region *r = NULL, *after;
	struct vshm_session_out out;
	long outstanding0 = fk.outstanding;
	uint32_t reason;
	struct vshm_msg rm;
	unsigned int i;
	bool tell;
	int ret;

	c.revoke_reason = c.revoke_reason % (VSHM_REVOKE_MAX + 1) + 1;
	reason = c.revoke_reason;
	for (i = 0; i < c.nids && !r; i++) {
		r = vshm_session_find(c.s, c.ids[i]);
		if (r && !r->ptr)
			r = NULL;
	}
	fk.revoke_grant = r ? r->grant : 0x1000;	/* no u8 grant */
	fk.revoked_calls = fk.unmaps = 0;
	ret = vshm_session_revoke(c.s, fk.revoke_grant, reason, &out);
	if (!r) {
		FUZZ_CHECK(ret == 0 && !out.reply_len && !out.actions);
		FUZZ_CHECK(!fk.revoked_calls && !fk.unmaps);
		return;
	}
	FUZZ_CHECK(ret == 1 && out.actions == VSHM_SESS_REVOKED);
	FUZZ_CHECK(fk.revoked_calls == 1 && fk.unmaps == 1);
	FUZZ_CHECK(fk.outstanding == outstanding0 - 1);
	FUZZ_CHECK((out.unmap_err != 0) ==
		   (fk.app_mode == SF_APP_UNMAP_FAILS));
	after = vshm_session_find(c.s, out.region.id);
	FUZZ_CHECK(after && !after->ptr && after->revoked == reason);
	FUZZ_CHECK(after->state == VSHM_SR_MAPPED &&
		   after->grant == fk.revoke_grant);
	tell = (c.agreed & VSHM_FEAT_REVOKED) &&
	       reason != VSHM_REVOKE_FREED && reason != VSHM_REVOKE_CLOSED &&
	       reason != VSHM_REVOKE_REFUSED;
	FUZZ_CHECK(!!out.reply_len == tell);
	if (tell) {
		FUZZ_CHECK(vshm_decode(out.reply, out.reply_len, &rm) == 0);
		FUZZ_CHECK(rm.type == VSHM_MSG_REVOKED &&
			   rm.region == out.region.id &&
			   rm.revoked.grant == fk.revoke_grant &&
			   rm.revoked.reason == reason);
	}
	c.st.revoked++;
}

static void ids_add(uint32_t id)
{
	unsigned int i;

	for (i = 0; i < c.nids; i++)
		FUZZ_CHECK(c.ids[i] != id);
	FUZZ_CHECK(c.nids < SF_MAX_FEEDS);
	c.ids[c.nids++] = id;
}

static void ids_del(uint32_t id)
{
	unsigned int i;

	for (i = 0; i < c.nids; i++) {
		if (c.ids[i] == id) {
			c.ids[i] = c.ids[--c.nids];
			return;
		}
	}
	FUZZ_CHECK(!"FREED a region the model did not know");
}

static bool is_list(uint8_t t)
{
	return t == VSHM_MSG_GPA_LIST || t == VSHM_MSG_HPA_LIST ||
	       t == VSHM_MSG_REFUSED;
}

/* ---- the model: the answer to one message ---- */

struct expect {
	uint8_t type;		/* reply type; 0: no reply (a NOTIFY) */
	bool delivered;		/* a NOTIFY: to on_notify */
	uint32_t region;	/* reply region */
	uint32_t code, detail;	/* ERROR */
	uint8_t orig;		/* ERROR */
	bool fails;		/* the region (if live) becomes FAILED */
};

static void expect_error(struct expect *e, uint32_t region, uint32_t code,
			 uint32_t detail, uint8_t orig)
{
	e->type = VSHM_MSG_ERROR;
	e->region = region;
	e->code = code;
	e->detail = detail;
	e->orig = orig;
}

static void list_error(struct expect *e, uint32_t region, uint32_t code,
		       uint32_t detail)
{
	expect_error(e, region, code, detail, VSHM_MSG_GPA_LIST);
	e->fails = region != 0;
}

/* The last chunk of a region arrived, in order: the mapping decides. */
static void expect_map(struct expect *e, uint32_t region)
{
	switch (fk.map_mode) {
	case SF_MAP_ENOMEM:
		list_error(e, region, VSHM_E_NOMEM, VSHM_NO_INDEX);
		return;
	case SF_MAP_EBUSY:
		list_error(e, region, VSHM_E_BUSY, VSHM_NO_INDEX);
		return;
	case SF_MAP_EPERM:
		list_error(e, region, VSHM_E_DENIED, VSHM_NO_INDEX);
		return;
	case SF_MAP_EDQUOT:
		list_error(e, region, VSHM_E_QUOTA, VSHM_NO_INDEX);
		return;
	case SF_MAP_EIO:
	case SF_MAP_WRONG_SIZE:
		list_error(e, region, VSHM_E_INTERNAL, VSHM_NO_INDEX);
		return;
	}
	if (c.cfg.on_mapped && fk.app_mode == SF_APP_DENIED) {
		list_error(e, region, VSHM_E_DENIED, VSHM_NO_INDEX);
		return;
	}
	if (c.cfg.on_mapped && fk.app_mode == SF_APP_EIO) {
		list_error(e, region, VSHM_E_INTERNAL, VSHM_NO_INDEX);
		return;
	}
	e->type = VSHM_MSG_MAPPED;
	e->region = region;
}

static void model(int rc, const struct vshm_msg *m,
		  const struct vshm_session_region *before, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	if (m->type == VSHM_MSG_NOTIFY && rc != VSHM_E_TRUNC &&
	    rc != VSHM_E_MAGIC && rc != VSHM_E_VERSION) {
		/* Never answered; delivered only when usable. */
		e->delivered = !rc && (c.agreed & VSHM_FEAT_NOTIFY) &&
			       before && before->state == VSHM_SR_MAPPED &&
			       before->ptr;
		return;
	}
	if (rc) {
		bool conn = rc == VSHM_E_TRUNC || rc == VSHM_E_MAGIC ||
			    rc == VSHM_E_VERSION || !m->region;
		uint32_t region = conn ? 0 : m->region;

		if (region && is_list(m->type))
			list_error(e, region, (uint32_t)rc, m->bad_index);
		else
			expect_error(e, region, (uint32_t)rc, m->bad_index,
				     rc == VSHM_E_TRUNC ? 0 : m->type);
		return;
	}
	switch (m->type) {
	case VSHM_MSG_HELLO:
		if (c.fed) {
			expect_error(e, m->region, VSHM_E_ORDER,
				     VSHM_NO_INDEX, VSHM_MSG_HELLO);
		} else {
			e->type = VSHM_MSG_HELLO_OK;
			e->region = m->region;
		}
		return;
	case VSHM_MSG_ALLOC:
		if (m->alloc.has_cookie && !(c.agreed & VSHM_FEAT_COOKIE))
			expect_error(e, m->region, VSHM_E_LEN,
				     VSHM_NO_INDEX, VSHM_MSG_ALLOC);
		else if (before)
			expect_error(e, m->region, VSHM_E_EXISTS,
				     VSHM_NO_INDEX, VSHM_MSG_ALLOC);
		else if ((c.cfg.max_region_size &&
			  m->alloc.size > c.cfg.max_region_size) ||
			 (c.cfg.max_regions && c.nids >= c.cfg.max_regions))
			expect_error(e, m->region, VSHM_E_QUOTA,
				     VSHM_NO_INDEX, VSHM_MSG_ALLOC);
		else
			e->type = VSHM_MSG_ALLOC_OK;
		e->region = m->region;
		return;
	case VSHM_MSG_HPA_LIST:
		if (!before || before->state != VSHM_SR_UPLOADING)
			list_error(e, m->region, VSHM_E_NOREGION,
				   VSHM_NO_INDEX);
		else if (m->list.total_pages != before->nr_pages)
			list_error(e, m->region, VSHM_E_COUNT, VSHM_NO_INDEX);
		else if (m->list.first_page != before->pages_received ||
			 (before->chunks && m->list.grant != before->grant))
			list_error(e, m->region, VSHM_E_ORDER, VSHM_NO_INDEX);
		else if (!m->list.last)
			e->type = VSHM_MSG_CHUNK_OK, e->region = m->region;
		else
			expect_map(e, m->region);
		return;
	case VSHM_MSG_REFUSED:
		list_error(e, m->region, m->list.status, m->list.detail);
		return;
	case VSHM_MSG_GPA_LIST:
		list_error(e, m->region, VSHM_E_NOPOLICY, VSHM_NO_INDEX);
		return;
	case VSHM_MSG_FREE:
		if (before) {
			e->type = VSHM_MSG_FREED;
			e->region = m->region;
		} else {
			expect_error(e, m->region, VSHM_E_NOREGION,
				     VSHM_NO_INDEX, VSHM_MSG_FREE);
		}
		return;
	default:
		expect_error(e, m->region, VSHM_E_TYPE, VSHM_NO_INDEX,
			     m->type);
		return;
	}
}

/* ---- one message ---- */

/* SESSION_FUZZ_TRACE set: print every message and its answer. */
static int trace = -1;

static bool feed_one(const uint8_t *msg, size_t len, uint8_t op)
{
	const struct vshm_session_region *p, *after;
	struct vshm_session_region before;
	struct vshm_session_out out;
	struct vshm_msg m, rm;
	struct expect e;
	long outstanding0 = fk.outstanding, unmapped;
	bool have_before, was_mapped;
	int rc;

	memset(&before, 0, sizeof(before));
	rc = vshm_decode(msg, len, &m);
	p = vshm_session_find(c.s, m.region);
	have_before = p != NULL;
	if (p)
		before = *p;
	was_mapped = have_before && before.state == VSHM_SR_MAPPED &&
		     before.ptr;

	fk.map_mode = SF_MAP(op);
	fk.app_mode = SF_APP(op);
	fk.map_allowed = !rc && m.type == VSHM_MSG_HPA_LIST && m.list.last;
	fk.want_grant = fk.map_allowed ? m.list.grant : 0;
	fk.want_region = m.region;
	fk.want_pages = have_before ? before.nr_pages : 0;
	fk.maps = fk.unmaps = fk.app_calls = fk.notify_calls = 0;
	fk.want_bits = m.type == VSHM_MSG_NOTIFY ? m.notify.bits : 0;
	model(rc, &m, have_before ? &before : NULL, &e);

	FUZZ_CHECK(vshm_session_feed(c.s, msg, len, &out) == 0);
	c.st.msgs++;
	c.fed = true;

	if (trace)
		fprintf(stderr, "feed %s(%d) region %u len %zu rc %s -> %s region %u code %s%s\n",
			vshm_msg_type_name(m.type), m.type, m.region, len,
			vshm_err_name(rc), vshm_msg_type_name(out.reply_type),
			fz_le32(out.reply + 12), vshm_err_name((int)out.code),
			out.actions & VSHM_SESS_CLOSE ? " CLOSE" : "");

	if (!e.type) {
		/* A NOTIFY: no reply, nothing changed. */
		FUZZ_CHECK(out.reply_len == 0 && out.code == 0);
		FUZZ_CHECK(out.actions == (e.delivered ? VSHM_SESS_NOTIFY :
					   VSHM_SESS_DROPPED));
		FUZZ_CHECK(fk.notify_calls == (e.delivered ? 1u : 0u));
		FUZZ_CHECK(!fk.maps && !fk.unmaps && !fk.app_calls);
		after = vshm_session_find(c.s, m.region);
		FUZZ_CHECK(!after == !have_before);
		if (after)
			FUZZ_CHECK(after->state == before.state &&
				   after->ptr == before.ptr);
		if (e.delivered)
			c.st.notifies++;
		else
			c.st.notifies_dropped++;
		return false;
	}

	/* Exactly one reply, valid, the predicted one. */
	FUZZ_CHECK(out.reply_len >= VSHM_HDR_SIZE &&
		   out.reply_len <= VSHM_SESS_REPLY_MAX);
	FUZZ_CHECK(vshm_decode(out.reply, out.reply_len, &rm) == 0);
	FUZZ_CHECK(rm.len == out.reply_len && rm.type == out.reply_type);
	FUZZ_CHECK(rm.type == e.type && rm.region == e.region);
	if (rm.type == VSHM_MSG_ERROR) {
		FUZZ_CHECK(rm.error.code == e.code && out.code == e.code);
		FUZZ_CHECK(rm.error.detail == e.detail);
		FUZZ_CHECK(rm.error.orig_type == e.orig);
		c.st.errors++;
	} else {
		FUZZ_CHECK(out.code == 0);
	}
	FUZZ_CHECK(!!(out.actions & VSHM_SESS_CLOSE) ==
		   (rm.type == VSHM_MSG_ERROR && !rm.region));
	FUZZ_CHECK(!!(out.actions & VSHM_SESS_MAPPED) ==
		   (rm.type == VSHM_MSG_MAPPED));
	FUZZ_CHECK(!!(out.actions & VSHM_SESS_FREED) ==
		   (rm.type == VSHM_MSG_FREED));
	FUZZ_CHECK(!!(out.actions & VSHM_SESS_FAILED) ==
		   (e.fails && have_before));
	if (out.actions & (VSHM_SESS_MAPPED | VSHM_SESS_FREED |
			   VSHM_SESS_FAILED))
		FUZZ_CHECK(out.region.id == m.region);

	/* The mapper. */
	if (!fk.map_allowed || !have_before)
		FUZZ_CHECK(fk.maps == 0);
	FUZZ_CHECK(fk.app_calls <= 1 && (c.cfg.on_mapped || !fk.app_calls));
	unmapped = (long)fk.unmaps;
	FUZZ_CHECK(fk.outstanding == outstanding0 + fk.maps -
		   (out.map_err ? fk.maps : 0) - unmapped);
	FUZZ_CHECK((out.map_err != 0) ==
		   (fk.maps && fk.map_mode >= SF_MAP_EDQUOT &&
		    fk.map_mode != SF_MAP_WRONG_SIZE));
	FUZZ_CHECK((out.unmap_err != 0) ==
		   (fk.unmaps && fk.app_mode == SF_APP_UNMAP_FAILS));

	/* The region. */
	after = vshm_session_find(c.s, m.region);
	switch (rm.type) {
	case VSHM_MSG_HELLO_OK:
		FUZZ_CHECK(rm.hello.features ==
			   (m.hello.features & c.cfg.features));
		FUZZ_CHECK(out.actions == VSHM_SESS_HELLO);
		c.agreed = rm.hello.features;
		FUZZ_CHECK(!after == !have_before && fk.outstanding ==
			   outstanding0);
		break;
	case VSHM_MSG_ALLOC_OK:
		FUZZ_CHECK(after && after->state == VSHM_SR_UPLOADING);
		FUZZ_CHECK(after->cookie == m.alloc.cookie &&
			   (m.alloc.has_cookie || !m.alloc.cookie));
		FUZZ_CHECK(after->conn_id == CONN_ID &&
			   after->peer_port == PEER_PORT && !after->revoked);
		FUZZ_CHECK(after->nr_pages == m.alloc.nr_pages &&
			   after->size == m.alloc.size &&
			   after->access == m.alloc.access &&
			   after->page_size == m.alloc.page_size);
		FUZZ_CHECK(!after->pages_received && !after->grant &&
			   !after->ptr && !after->chunks);
		FUZZ_CHECK(after->peer_cid == PEER_CID);
		ids_add(m.region);
		FUZZ_CHECK(!c.cfg.max_regions || c.nids <= c.cfg.max_regions);
		FUZZ_CHECK(fk.outstanding == outstanding0);
		break;
	case VSHM_MSG_CHUNK_OK:
	case VSHM_MSG_MAPPED:
		FUZZ_CHECK(after && after->grant == m.list.grant);
		FUZZ_CHECK(after->pages_received ==
			   before.pages_received + m.list.nr_pages);
		FUZZ_CHECK(after->chunks == before.chunks + 1 &&
			   after->extents == before.extents + m.list.nr_ext);
		if (rm.type == VSHM_MSG_CHUNK_OK) {
			FUZZ_CHECK(after->state == VSHM_SR_UPLOADING);
			FUZZ_CHECK(rm.chunk_ok.first_page == m.list.first_page &&
				   rm.chunk_ok.nr_pages == m.list.nr_pages);
			FUZZ_CHECK(after->pages_received < after->nr_pages);
			FUZZ_CHECK(fk.outstanding == outstanding0);
		} else {
			FUZZ_CHECK(after->state == VSHM_SR_MAPPED && after->ptr);
			FUZZ_CHECK(rm.mapped.grant == m.list.grant &&
				   rm.mapped.nr_pages == after->nr_pages);
			FUZZ_CHECK(after->pages_received == after->nr_pages);
			FUZZ_CHECK(fk.outstanding == outstanding0 + 1);
			FUZZ_CHECK(out.region.ptr == after->ptr);
			c.st.mapped++;
		}
		break;
	case VSHM_MSG_FREED:
		FUZZ_CHECK(!after);
		FUZZ_CHECK(fk.outstanding == outstanding0 - was_mapped);
		FUZZ_CHECK(out.region.ptr == NULL);
		ids_del(m.region);
		c.st.freed++;
		break;
	default: /* ERROR */
		FUZZ_CHECK(!after == !have_before);
		if (!after)
			break;
		if (e.fails) {
			FUZZ_CHECK(after->state == VSHM_SR_FAILED &&
				   !after->ptr);
			FUZZ_CHECK(fk.outstanding ==
				   outstanding0 - was_mapped);
		} else {
			FUZZ_CHECK(after->state == before.state &&
				   after->ptr == before.ptr &&
				   after->pages_received ==
				   before.pages_received &&
				   after->grant == before.grant);
			FUZZ_CHECK(fk.outstanding == outstanding0);
		}
		break;
	}
	c.st.live = c.nids;

	if (out.actions & VSHM_SESS_CLOSE) {
		conn_close();
		conn_open();
		return true;
	}
	return false;
}

/* ---- records ---- */

static uint8_t msg[VSHM_MAX_MSG + 1];

/* Builds the message of a structured record; returns its length, or 0. */
static size_t build(uint8_t kind, struct fz_reader *r)
{
	struct vshm_run run;
	uint32_t region, first, n, total;
	ssize_t len;
	uint8_t grant, code;

	switch (kind) {
	case SF_ALLOC:
		region = fz_u8(r);
		n = (uint32_t)fz_u16(r) + 1;
		len = vshm_encode_alloc(msg, sizeof(msg), region,
					(uint64_t)n * VSHM_PAGE_SIZE,
					VSHM_PAGE_SIZE,
					VSHM_ACCESS_READ | VSHM_ACCESS_WRITE);
		break;
	case SF_HPA:
		region = fz_u8(r);
		first = fz_u16(r);
		n = fz_u16(r);
		total = fz_u16(r);
		grant = fz_u8(r);
		run.addr = (uint64_t)(first + 1) << 24;
		run.npages = n;
		len = vshm_encode_gpa_list(msg, sizeof(msg), region, first,
					   total, &run, 1);
		if (len > 0)
			vshm_wire_mark_hpa(msg, grant);
		break;
	case SF_FREE:
		region = fz_u8(r);
		len = vshm_encode_free(msg, sizeof(msg), region);
		break;
	default: /* SF_REFUSED */
		region = fz_u8(r);
		code = fz_u8(r);
		/* region 0 cannot be encoded: encode 1, then write 0. */
		run.addr = 0x100000;
		run.npages = 1;
		len = vshm_encode_gpa_list(msg, sizeof(msg), region ? region : 1,
					   0, 1, &run, 1);
		if (len > 0) {
			fz_put_le32(msg + 12, region);
			FUZZ_CHECK(!vshm_wire_mark_refused(msg, (size_t)len,
							   code,
							   VSHM_NO_INDEX));
		}
		break;
	}
	return len > 0 ? (size_t)len : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_reader r = { data, size };
	unsigned int feeds = 0;
	uint8_t cfg = fz_u8(&r);

	if (trace < 0) {
		struct vshm_session_cfg bad = { .ops = NULL };

		trace = getenv("SESSION_FUZZ_TRACE") != NULL;
		/* The API's argument checks, once. */
		errno = 0;
		FUZZ_CHECK(!vshm_session_new(NULL) && errno == EINVAL);
		errno = 0;
		FUZZ_CHECK(!vshm_session_new(&bad) && errno == EINVAL);
		vshm_session_free(NULL);
	}
	memset(&c, 0, sizeof(c));
	memset(&fk, 0, sizeof(fk));
	c.cfg.sock_fd = SOCK_FD;
	c.cfg.peer_cid = PEER_CID;
	c.cfg.peer_port = PEER_PORT;
	c.cfg.conn_id = CONN_ID;
	c.cfg.features = ~((uint64_t)cfg >> SF_CFG_FEAT_SHIFT) & VSHM_FEAT_MASK;
	c.cfg.on_notify = app_on_notify;
	c.cfg.on_revoked = app_on_revoked;
	c.cfg.max_regions = cfg & SF_CFG_MAX_REGIONS;
	c.cfg.max_region_size = cfg & SF_CFG_MAX_SIZE ?
				(uint64_t)SF_MAX_SIZE_PAGES * VSHM_PAGE_SIZE : 0;
	c.cfg.ops = &fake_ops;
	c.cfg.on_mapped = cfg & SF_CFG_ON_MAPPED ? app_on_mapped : NULL;
	conn_open();
	FUZZ_CHECK(vshm_session_feed(c.s, NULL, 0, NULL) == -EINVAL);
	FUZZ_CHECK(vshm_session_feed(NULL, data, size, NULL) == -EINVAL);

	while (r.left && feeds < SF_MAX_FEEDS) {
		uint8_t op = fz_u8(&r), kind = SF_KIND(op);
		size_t len;

		if (kind < SF_ALLOC) {
			/* Raw: an exact-size copy, so ASan sees overreads. */
			size_t n = fz_u16(&r);
			uint8_t *raw;

			if (n > r.left)
				n = r.left;
			raw = malloc(n ? n : 1);
			FUZZ_CHECK(raw);
			memcpy(raw, r.p, n);
			r.p += n;
			r.left -= n;
			feed_one(raw, n, op);
			free(raw);
		} else {
			len = build(kind, &r);
			if (!len)
				continue;
			feed_one(msg, len, op);
		}
		feeds++;
		if (feeds % 8 == 0 && c.s)
			revoke_one();
		if (feeds % 64 == 0)
			sweep();
	}
	conn_close();
	FUZZ_CHECK(fk.outstanding == 0);
	return 0;
}
