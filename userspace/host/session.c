// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The host server's per-connection protocol state machine. See session.h
 * and docs/protocol.md, section 9.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

struct sregion {
	struct vshm_session_region pub;
	struct sregion *next;
};

struct vshm_session {
	struct vshm_session_cfg cfg;
	struct sregion *regions;
	struct vshm_session_stats stats;
	uint64_t features;		/* agreed: HELLO_OK sent */
};

struct vshm_session *vshm_session_new(const struct vshm_session_cfg *cfg)
{
	struct vshm_session *s;

	if (!cfg || !cfg->ops || !cfg->ops->map || !cfg->ops->unmap) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	return s;
}

static struct sregion *find(const struct vshm_session *s, uint32_t id)
{
	struct sregion *r;

	for (r = s->regions; r; r = r->next)
		if (r->pub.id == id)
			return r;
	return NULL;
}

const struct vshm_session_region *
vshm_session_find(const struct vshm_session *s, uint32_t id)
{
	struct sregion *r = s ? find(s, id) : NULL;

	return r ? &r->pub : NULL;
}

void vshm_session_stats(const struct vshm_session *s,
			struct vshm_session_stats *st)
{
	*st = s->stats;
}

uint64_t vshm_session_features(const struct vshm_session *s)
{
	return s ? s->features : 0;
}

static void unlink_region(struct vshm_session *s, struct sregion *r)
{
	struct sregion **pp;

	for (pp = &s->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			s->stats.live--;
			return;
		}
	}
}

/*
 * Unmaps a MAPPED region; returns 0 or the negative errno of ops->unmap.
 * r->pub.addr keeps the address: with ops->release, the range stays
 * reserved until end_region().
 */
static int unmap_region(struct vshm_session *s, struct sregion *r)
{
	int ret;

	if (r->pub.state != VSHM_SR_MAPPED || !r->pub.ptr)
		return 0;
	ret = s->cfg.ops->unmap(s->cfg.ops_ctx, r->pub.grant, r->pub.ptr,
				(size_t)r->pub.info.size);
	r->pub.ptr = NULL;
	return ret;
}

/*
 * The region ended (unmapped already): tells the application why, then
 * gives its address range back unless the application holds it.
 */
static void end_region(struct vshm_session *s, struct sregion *r,
		       enum vshm_end_reason why)
{
	int hold = 0;

	if (s->cfg.on_ended)
		hold = s->cfg.on_ended(s->cfg.arg, &r->pub, why);
	if (r->pub.addr && !hold && s->cfg.ops->release)
		s->cfg.ops->release(s->cfg.ops_ctx, r->pub.addr,
				    (size_t)r->pub.info.size);
}

uint32_t vshm_session_map_errno_code(int err)
{
	switch (err < 0 ? -err : err) {
	case ENOMEM:
		return VSHM_E_NOMEM;
	case EBUSY:
	case EAGAIN:
		return VSHM_E_BUSY;
	case EPERM:
	case EACCES:
		return VSHM_E_DENIED;
	case EDQUOT:
		return VSHM_E_QUOTA;
	default:
		return VSHM_E_INTERNAL;
	}
}

/* Replies. The encoders cannot fail on these arguments. */

static void reply_error(struct vshm_session *s, struct vshm_session_out *out,
			uint32_t region, uint32_t code, uint32_t detail,
			uint8_t orig_type)
{
	ssize_t n = vshm_encode_error(out->reply, sizeof(out->reply), region,
				      code, detail, orig_type);

	out->reply_len = n > 0 ? (size_t)n : 0;
	out->reply_type = VSHM_MSG_ERROR;
	out->code = code;
	if (!region)
		out->actions |= VSHM_SESS_CLOSE;
	s->stats.errors++;
}

static void reply_hdr(struct vshm_session_out *out, uint8_t type,
		      uint32_t region)
{
	ssize_t n;

	if (type == VSHM_MSG_ALLOC_OK)
		n = vshm_encode_alloc_ok(out->reply, sizeof(out->reply),
					 region);
	else
		n = vshm_encode_freed(out->reply, sizeof(out->reply), region);
	out->reply_len = n > 0 ? (size_t)n : 0;
	out->reply_type = type;
}

/* Moves a live region to FAILED, unmapping it if it was mapped. */
static void fail_region(struct vshm_session *s, uint32_t id,
			struct vshm_session_out *out)
{
	struct sregion *r = find(s, id);
	int ret;

	if (!r)
		return;
	ret = unmap_region(s, r);
	if (ret)
		out->unmap_err = ret;
	r->pub.state = VSHM_SR_FAILED;
	out->actions |= VSHM_SESS_FAILED;
	out->region = r->pub;
}

/* An ERROR answering a list message: the region, if live, fails. */
static void list_error(struct vshm_session *s, struct vshm_session_out *out,
		       uint32_t region, uint32_t code, uint32_t detail)
{
	if (region)
		fail_region(s, region, out);
	reply_error(s, out, region, code, detail, VSHM_MSG_GPA_LIST);
}

static bool is_list_type(uint8_t type)
{
	return type == VSHM_MSG_GPA_LIST || type == VSHM_MSG_HPA_LIST ||
	       type == VSHM_MSG_REFUSED;
}

/* A NOTIFY the session cannot use: no answer, counted. */
static void drop_notify(struct vshm_session *s, struct vshm_session_out *out)
{
	out->reply_len = 0;
	out->reply_type = 0;
	out->actions |= VSHM_SESS_DROPPED;
	s->stats.notifies_dropped++;
}

/*
 * A message that failed decoding with code rc. Header-level failures
 * (TRUNC, MAGIC, VERSION) and region 0 concern the connection.
 */
static void on_malformed(struct vshm_session *s, const struct vshm_msg *m,
			 int rc, struct vshm_session_out *out)
{
	bool conn = rc == VSHM_E_TRUNC || rc == VSHM_E_MAGIC ||
		    rc == VSHM_E_VERSION || !m->region;
	uint32_t region = conn ? 0 : m->region;
	uint8_t orig = rc == VSHM_E_TRUNC ? 0 : m->type;

	/* A NOTIFY is never answered, even malformed (its header is fine). */
	if (m->type == VSHM_MSG_NOTIFY && rc != VSHM_E_TRUNC &&
	    rc != VSHM_E_MAGIC && rc != VSHM_E_VERSION) {
		drop_notify(s, out);
		return;
	}
	if (region && is_list_type(m->type)) {
		list_error(s, out, region, (uint32_t)rc, m->bad_index);
		return;
	}
	reply_error(s, out, region, (uint32_t)rc, m->bad_index, orig);
}

static void on_alloc(struct vshm_session *s, const struct vshm_msg *m,
		     struct vshm_session_out *out)
{
	struct sregion *r;

	/* The 48-byte form exists only once VSHM_FEAT_COOKIE was agreed. */
	if (m->alloc.has_cookie && !(s->features & VSHM_FEAT_COOKIE)) {
		reply_error(s, out, m->region, VSHM_E_LEN, VSHM_NO_INDEX,
			    VSHM_MSG_ALLOC);
		return;
	}
	if (find(s, m->region)) {
		reply_error(s, out, m->region, VSHM_E_EXISTS, VSHM_NO_INDEX,
			    VSHM_MSG_ALLOC);
		return;
	}
	if ((s->cfg.max_region_size && m->alloc.size > s->cfg.max_region_size) ||
	    (s->cfg.max_regions && s->stats.live >= s->cfg.max_regions)) {
		reply_error(s, out, m->region, VSHM_E_QUOTA, VSHM_NO_INDEX,
			    VSHM_MSG_ALLOC);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		reply_error(s, out, m->region, VSHM_E_NOMEM, VSHM_NO_INDEX,
			    VSHM_MSG_ALLOC);
		return;
	}
	r->pub.id = m->region;
	r->pub.peer_cid = s->cfg.peer_cid;
	r->pub.peer_port = s->cfg.peer_port;
	r->pub.conn_id = s->cfg.conn_id;
	r->pub.cookie = m->alloc.cookie;
	r->pub.state = VSHM_SR_UPLOADING;
	r->pub.size = m->alloc.size;
	r->pub.page_size = m->alloc.page_size;
	r->pub.access = m->alloc.access;
	r->pub.nr_pages = m->alloc.nr_pages;
	r->next = s->regions;
	s->regions = r;
	s->stats.live++;
	reply_hdr(out, VSHM_MSG_ALLOC_OK, m->region);
}

/* The mapper's answer must describe exactly the region. */
static bool map_info_ok(const struct sregion *r, const void *ptr,
			const struct vshm_map_info *info)
{
	return ptr && info->nr_pages == r->pub.nr_pages &&
	       info->size == (uint64_t)r->pub.nr_pages * VSHM_PAGE_SIZE;
}

static void reply_mapped(struct vshm_session *s, struct sregion *r,
			 struct vshm_session_out *out)
{
	ssize_t n = vshm_encode_mapped(out->reply, sizeof(out->reply),
				       r->pub.id, r->pub.grant,
				       r->pub.nr_pages);

	out->reply_len = n > 0 ? (size_t)n : 0;
	out->reply_type = VSHM_MSG_MAPPED;
	out->actions |= VSHM_SESS_MAPPED;
	out->region = r->pub;
	s->stats.mapped++;
}

/* After the last chunk: map, let the application look, answer. */
static void map_region(struct vshm_session *s, struct sregion *r,
		       struct vshm_session_out *out)
{
	struct vshm_map_info info;
	void *ptr = NULL;
	int ret;

	memset(&info, 0, sizeof(info));
	info.access = r->pub.access;	/* what the guest asked: no more */
	ret = s->cfg.ops->map(s->cfg.ops_ctx, r->pub.grant, s->cfg.sock_fd,
			      &ptr, &info);
	if (ret) {
		out->map_err = ret;
		list_error(s, out, r->pub.id, vshm_session_map_errno_code(ret),
			   VSHM_NO_INDEX);
		return;
	}
	info.access &= r->pub.access;
	r->pub.state = VSHM_SR_MAPPED;
	r->pub.ptr = ptr;
	r->pub.addr = ptr;
	r->pub.info = info;
	if (!map_info_ok(r, ptr, &info)) {
		list_error(s, out, r->pub.id, VSHM_E_INTERNAL, VSHM_NO_INDEX);
		return;
	}
	if (s->cfg.on_mapped) {
		ret = s->cfg.on_mapped(s->cfg.arg, &r->pub);
		if (ret) {
			list_error(s, out, r->pub.id,
				   ret > 0 ? (uint32_t)ret : VSHM_E_INTERNAL,
				   VSHM_NO_INDEX);
			return;
		}
	}
	reply_mapped(s, r, out);
}

/* Which rule a chunk breaks for region r, or VSHM_OK. */
static uint32_t chunk_rule(const struct sregion *r, const struct vshm_msg *m)
{
	if (r->pub.state != VSHM_SR_UPLOADING)
		return VSHM_E_NOREGION;
	if (m->list.total_pages != r->pub.nr_pages)
		return VSHM_E_COUNT;
	if (m->list.first_page != r->pub.pages_received)
		return VSHM_E_ORDER;
	if (r->pub.chunks && m->list.grant != r->pub.grant)
		return VSHM_E_ORDER;
	return VSHM_OK;
}

static void on_hpa_list(struct vshm_session *s, const struct vshm_msg *m,
			struct vshm_session_out *out)
{
	struct sregion *r = find(s, m->region);
	uint32_t code;

	if (!r) {
		list_error(s, out, m->region, VSHM_E_NOREGION, VSHM_NO_INDEX);
		return;
	}
	code = chunk_rule(r, m);
	if (code) {
		list_error(s, out, m->region, code, VSHM_NO_INDEX);
		return;
	}
	r->pub.grant = m->list.grant;
	r->pub.pages_received += m->list.nr_pages;
	r->pub.chunks++;
	r->pub.extents += m->list.nr_ext;
	if (m->list.last) {
		map_region(s, r, out);
		return;
	}
	out->reply_len = (size_t)vshm_encode_chunk_ok(out->reply,
						      sizeof(out->reply),
						      m->region,
						      m->list.first_page,
						      m->list.nr_pages);
	out->reply_type = VSHM_MSG_CHUNK_OK;
}

static void on_free(struct vshm_session *s, const struct vshm_msg *m,
		    struct vshm_session_out *out)
{
	struct sregion *r = find(s, m->region);
	int ret;

	if (!r) {
		reply_error(s, out, m->region, VSHM_E_NOREGION, VSHM_NO_INDEX,
			    VSHM_MSG_FREE);
		return;
	}
	ret = unmap_region(s, r);
	if (ret)
		out->unmap_err = ret;
	out->region = r->pub;
	out->actions |= VSHM_SESS_FREED;
	unlink_region(s, r);
	end_region(s, r, VSHM_END_FREED);
	free(r);
	s->stats.freed++;
	reply_hdr(out, VSHM_MSG_FREED, m->region);
}

/*
 * HELLO: only as the connection's first message (first), answered with
 * the features both sides have; later, ERROR(VSHM_E_ORDER).
 */
static void on_hello(struct vshm_session *s, const struct vshm_msg *m,
		     bool first, struct vshm_session_out *out)
{
	uint64_t agreed = m->hello.features & s->cfg.features &
			  VSHM_FEAT_MASK;
	ssize_t n;

	if (!first) {
		reply_error(s, out, m->region, VSHM_E_ORDER, VSHM_NO_INDEX,
			    VSHM_MSG_HELLO);
		return;
	}
	n = vshm_encode_hello_ok(out->reply, sizeof(out->reply), m->region,
				 agreed);
	out->reply_len = n > 0 ? (size_t)n : 0;
	out->reply_type = VSHM_MSG_HELLO_OK;
	out->actions |= VSHM_SESS_HELLO;
	s->features = agreed;
}

/* NOTIFY: to the application for a mapped region, else dropped. */
static void on_notify(struct vshm_session *s, const struct vshm_msg *m,
		      struct vshm_session_out *out)
{
	struct sregion *r = find(s, m->region);

	if (!(s->features & VSHM_FEAT_NOTIFY) || !r ||
	    r->pub.state != VSHM_SR_MAPPED || !r->pub.ptr ||
	    !s->cfg.on_notify) {
		drop_notify(s, out);
		return;
	}
	out->reply_len = 0;
	out->reply_type = 0;
	out->actions |= VSHM_SESS_NOTIFY;
	out->region = r->pub;
	s->stats.notifies++;
	s->cfg.on_notify(s->cfg.arg, &r->pub, m->notify.bits);
}

static void dispatch(struct vshm_session *s, const struct vshm_msg *m,
		     bool first, struct vshm_session_out *out)
{
	switch (m->type) {
	case VSHM_MSG_HELLO:
		on_hello(s, m, first, out);
		break;
	case VSHM_MSG_NOTIFY:
		on_notify(s, m, out);
		break;
	case VSHM_MSG_ALLOC:
		on_alloc(s, m, out);
		break;
	case VSHM_MSG_HPA_LIST:
		on_hpa_list(s, m, out);
		break;
	case VSHM_MSG_REFUSED:
		/* Region 0 is possible here: the connection then ends. */
		list_error(s, out, m->region, m->list.status, m->list.detail);
		break;
	case VSHM_MSG_GPA_LIST:
		/* The module did not translate it: no policy on this path. */
		list_error(s, out, m->region, VSHM_E_NOPOLICY, VSHM_NO_INDEX);
		break;
	case VSHM_MSG_FREE:
		on_free(s, m, out);
		break;
	default:
		/* A host-to-guest type sent by the guest. */
		reply_error(s, out, m->region, VSHM_E_TYPE, VSHM_NO_INDEX,
			    m->type);
		break;
	}
}

int vshm_session_feed(struct vshm_session *s, const void *msg, size_t len,
		      struct vshm_session_out *out)
{
	struct vshm_msg m;
	bool first;
	int rc;

	if (!s || !msg || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	first = !s->stats.msgs++;

	rc = vshm_decode(msg, len, &m);
	if (rc)
		on_malformed(s, &m, rc, out);
	else
		dispatch(s, &m, first, out);
	return 0;
}

/* Reasons the guest learns of only through REVOKED. */
static bool guest_cannot_know(uint32_t reason)
{
	return reason != VSHM_REVOKE_FREED && reason != VSHM_REVOKE_CLOSED &&
	       reason != VSHM_REVOKE_REFUSED;
}

int vshm_session_revoke(struct vshm_session *s, uint64_t grant,
			uint32_t reason, struct vshm_session_out *out)
{
	struct sregion *r;
	ssize_t n;
	int ret;

	if (!s || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!grant)
		return 0;
	for (r = s->regions; r; r = r->next)
		if (r->pub.state == VSHM_SR_MAPPED && r->pub.ptr &&
		    r->pub.grant == grant)
			break;
	if (!r)
		return 0;
	if (s->cfg.on_revoked)
		s->cfg.on_revoked(s->cfg.arg, &r->pub,
				  (enum vshm_revoke_reason)reason);
	ret = unmap_region(s, r);
	if (ret)
		out->unmap_err = ret;
	r->pub.revoked = reason ? reason : VSHM_REVOKE_DEVICE;
	s->stats.revoked++;
	out->actions |= VSHM_SESS_REVOKED;
	out->region = r->pub;
	if ((s->features & VSHM_FEAT_REVOKED) && reason &&
	    guest_cannot_know(reason)) {
		n = vshm_encode_revoked(out->reply, sizeof(out->reply),
					r->pub.id, grant, reason);
		if (n > 0) {
			out->reply_len = (size_t)n;
			out->reply_type = VSHM_MSG_REVOKED;
		}
	}
	return 1;
}

unsigned int vshm_session_end(struct vshm_session *s,
			      enum vshm_end_reason why,
			      unsigned int *unmap_errs)
{
	unsigned int n = 0, errs = 0;
	struct sregion *r;

	while ((r = s->regions)) {
		if (unmap_region(s, r))
			errs++;
		s->regions = r->next;
		s->stats.live--;
		end_region(s, r, why);
		free(r);
		n++;
	}
	if (unmap_errs)
		*unmap_errs = errs;
	return n;
}

unsigned int vshm_session_drop_all(struct vshm_session *s,
				   unsigned int *unmap_errs)
{
	return vshm_session_end(s, VSHM_END_CLOSED, unmap_errs);
}

void vshm_session_free(struct vshm_session *s)
{
	if (!s)
		return;
	vshm_session_end(s, VSHM_END_SHUTDOWN, NULL);
	free(s);
}

const char *vshm_end_reason_name(enum vshm_end_reason why)
{
	switch (why) {
	case VSHM_END_FREED:
		return "freed";
	case VSHM_END_CLOSED:
		return "closed";
	case VSHM_END_RESET:
		return "reset";
	case VSHM_END_PROTOCOL:
		return "protocol";
	case VSHM_END_SHUTDOWN:
		return "shutdown";
	}
	return "?";
}
