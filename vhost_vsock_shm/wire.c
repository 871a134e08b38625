// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * vsock-shm wire protocol v1: validation of messages and the in-place
 * rewrite of GPA_LIST messages. Builds in the kernel module and in user
 * space (see wire.h); docs/protocol.md describes every rule checked here.
 *
 * The first failed rule decides the returned code; the order of the checks
 * is part of the protocol document.
 */
#include "wire.h"

static_assert(sizeof(struct vshm_hdr) == VSHM_HDR_SIZE, "vshm_hdr");
static_assert(sizeof(struct vshm_alloc) == VSHM_ALLOC_SIZE, "vshm_alloc");
static_assert(sizeof(struct vshm_extent) == VSHM_EXTENT_SIZE, "vshm_extent");
static_assert(sizeof(struct vshm_gpa_list) == VSHM_GPA_LIST_HDR_SIZE,
	      "vshm_gpa_list");
static_assert(sizeof(struct vshm_mapped) == VSHM_MAPPED_SIZE, "vshm_mapped");
static_assert(sizeof(struct vshm_error) == VSHM_ERROR_SIZE, "vshm_error");
static_assert(sizeof(struct vshm_chunk_ok) == VSHM_CHUNK_OK_SIZE,
	      "vshm_chunk_ok");
static_assert(sizeof(struct vshm_alloc_cookie) == VSHM_ALLOC_COOKIE_SIZE,
	      "vshm_alloc_cookie");
static_assert(sizeof(struct vshm_hello) == VSHM_HELLO_SIZE, "vshm_hello");
static_assert(sizeof(struct vshm_revoked) == VSHM_REVOKED_SIZE,
	      "vshm_revoked");
static_assert(sizeof(struct vshm_notify) == VSHM_NOTIFY_SIZE, "vshm_notify");
static_assert(VSHM_MAX_EXT_PER_MSG == 4093, "VSHM_MAX_EXT_PER_MSG");
static_assert(VSHM_MAX_EXT_PER_MSG <= 0xffff, "nr_ext is 16 bits");

/* Field accessors: p is the message, T the struct, F the field. */
#define GET16(p, T, F)	get_unaligned_le16((const u8 *)(p) + offsetof(T, F))
#define GET32(p, T, F)	get_unaligned_le32((const u8 *)(p) + offsetof(T, F))
#define GET64(p, T, F)	get_unaligned_le64((const u8 *)(p) + offsetof(T, F))
#define PUT16(v, p, T, F) put_unaligned_le16(v, (u8 *)(p) + offsetof(T, F))
#define PUT32(v, p, T, F) put_unaligned_le32(v, (u8 *)(p) + offsetof(T, F))
#define PUT64(v, p, T, F) put_unaligned_le64(v, (u8 *)(p) + offsetof(T, F))

static const u8 *ext_ptr(const void *ext, u32 i)
{
	return (const u8 *)ext + (size_t)i * sizeof(struct vshm_extent);
}

static u64 ext_addr(const void *ext, u32 i)
{
	return GET64(ext_ptr(ext, i), struct vshm_extent, addr);
}

static u32 ext_npages(const void *ext, u32 i)
{
	return GET32(ext_ptr(ext, i), struct vshm_extent, npages);
}

void vshm_wire_ext_get(const void *ext, u32 i, u64 *addr, u32 *npages)
{
	*addr = ext_addr(ext, i);
	*npages = ext_npages(ext, i);
}

void vshm_wire_ext_set_addr(void *ext, u32 i, u64 addr)
{
	u8 *e = (u8 *)ext + (size_t)i * sizeof(struct vshm_extent);

	PUT64(addr, e, struct vshm_extent, addr);
}

static void info_reset(struct vshm_wire_info *out)
{
	*out = (struct vshm_wire_info) { .bad_index = VSHM_NO_INDEX };
}

static bool type_from_guest(u8 type)
{
	return type == VSHM_MSG_ALLOC || type == VSHM_MSG_GPA_LIST ||
	       type == VSHM_MSG_FREE || type == VSHM_MSG_HELLO ||
	       type == VSHM_MSG_NOTIFY;
}

static bool type_from_host(u8 type)
{
	return type == VSHM_MSG_ALLOC_OK || type == VSHM_MSG_HPA_LIST ||
	       type == VSHM_MSG_REFUSED || type == VSHM_MSG_MAPPED ||
	       type == VSHM_MSG_FREED || type == VSHM_MSG_ERROR ||
	       type == VSHM_MSG_CHUNK_OK || type == VSHM_MSG_HELLO_OK ||
	       type == VSHM_MSG_REVOKED || type == VSHM_MSG_NOTIFY;
}

/*
 * Header rules shared by both directions, in this order: TRUNC, MAGIC,
 * VERSION, TYPE (direction), LEN (hdr.len vs buffer, then VSHM_MAX_MSG),
 * RESERVED (flags). The region rule depends on the type: see the callers.
 */
static int check_hdr(const void *buf, size_t len, struct vshm_wire_info *out,
		     bool from_guest)
{
	const u8 *b = buf;
	bool ok_type;

	if (len < sizeof(struct vshm_hdr))
		return VSHM_E_TRUNC;

	out->type = b[offsetof(struct vshm_hdr, type)];
	out->region = GET32(b, struct vshm_hdr, region);
	out->len = GET32(b, struct vshm_hdr, len);

	if (GET32(b, struct vshm_hdr, magic) != VSHM_MAGIC)
		return VSHM_E_MAGIC;
	if (b[offsetof(struct vshm_hdr, version)] != VSHM_VERSION)
		return VSHM_E_VERSION;
	ok_type = from_guest ? type_from_guest(out->type) :
			       type_from_host(out->type);
	if (!ok_type)
		return VSHM_E_TYPE;
	if (out->len != len || len > VSHM_MAX_MSG)
		return VSHM_E_LEN;
	if (GET16(b, struct vshm_hdr, flags))
		return VSHM_E_RESERVED;
	return VSHM_OK;
}

static int check_alloc(const void *buf, size_t len, struct vshm_wire_info *out)
{
	u64 pages;

	if (len != sizeof(struct vshm_alloc) &&
	    len != sizeof(struct vshm_alloc_cookie))
		return VSHM_E_LEN;

	out->size = GET64(buf, struct vshm_alloc, size);
	out->page_size = GET32(buf, struct vshm_alloc, page_size);
	out->access = GET32(buf, struct vshm_alloc, access);
	out->nr_pages = GET32(buf, struct vshm_alloc, nr_pages);

	if (GET32(buf, struct vshm_alloc, pad))
		return VSHM_E_RESERVED;
	if (out->page_size != VSHM_PAGE_SIZE &&
	    out->page_size != VSHM_HUGE_PAGE_SIZE)
		return VSHM_E_ALLOC;
	if (!out->size || (out->size & (out->page_size - 1)))
		return VSHM_E_ALLOC;
	pages = out->size >> VSHM_PAGE_SHIFT;
	if (pages != out->nr_pages)
		return VSHM_E_ALLOC;
	if (!out->access || (out->access & ~VSHM_ACCESS_MASK))
		return VSHM_E_ALLOC;
	if (len == sizeof(struct vshm_alloc_cookie))
		out->cookie = GET64(buf, struct vshm_alloc_cookie, cookie);
	return VSHM_OK;
}

/*
 * HELLO may offer features of later versions (the host accepts those it
 * knows); HELLO_OK accepts none this version lacks.
 */
static int check_hello(const void *buf, size_t len, struct vshm_wire_info *out)
{
	if (len != sizeof(struct vshm_hello))
		return VSHM_E_LEN;

	out->features = GET64(buf, struct vshm_hello, features);

	if (GET64(buf, struct vshm_hello, pad))
		return VSHM_E_RESERVED;
	if (out->type == VSHM_MSG_HELLO_OK &&
	    (out->features & ~VSHM_FEAT_MASK))
		return VSHM_E_RESERVED;
	return VSHM_OK;
}

static int check_notify(const void *buf, size_t len,
			struct vshm_wire_info *out)
{
	if (len != sizeof(struct vshm_notify))
		return VSHM_E_LEN;

	out->bits = GET32(buf, struct vshm_notify, bits);

	if (GET32(buf, struct vshm_notify, pad))
		return VSHM_E_RESERVED;
	if (!out->bits)
		return VSHM_E_COUNT;
	return VSHM_OK;
}

static int check_revoked(const void *buf, size_t len,
			 struct vshm_wire_info *out)
{
	if (len != sizeof(struct vshm_revoked))
		return VSHM_E_LEN;

	out->grant = GET64(buf, struct vshm_revoked, grant);
	out->reason = GET32(buf, struct vshm_revoked, reason);

	if (GET32(buf, struct vshm_revoked, pad))
		return VSHM_E_RESERVED;
	if (!out->grant || !out->reason)
		return VSHM_E_RANGE;
	return VSHM_OK;
}

/* The fixed part of a GPA_LIST or HPA_LIST, then every extent. */
static int check_list(const void *buf, size_t len, struct vshm_wire_info *out)
{
	bool hpa = out->type == VSHM_MSG_HPA_LIST;
	const void *ext;
	u16 chunk_flags;
	u64 sum = 0;
	u32 i;

	if (len < sizeof(struct vshm_gpa_list))
		return VSHM_E_LEN;

	out->grant = GET64(buf, struct vshm_gpa_list, grant);
	out->status = GET32(buf, struct vshm_gpa_list, status);
	out->first_page = GET32(buf, struct vshm_gpa_list, first_page);
	out->nr_pages = GET32(buf, struct vshm_gpa_list, nr_pages);
	out->total_pages = GET32(buf, struct vshm_gpa_list, total_pages);
	out->nr_ext = GET16(buf, struct vshm_gpa_list, nr_ext);
	chunk_flags = GET16(buf, struct vshm_gpa_list, chunk_flags);
	out->last = chunk_flags & VSHM_CHUNK_LAST;

	if (hpa && !out->grant)
		return VSHM_E_RANGE;
	if ((!hpa && out->grant) || out->status ||
	    GET32(buf, struct vshm_gpa_list, pad) ||
	    (chunk_flags & ~VSHM_CHUNK_MASK))
		return VSHM_E_RESERVED;
	if (!out->nr_ext)
		return VSHM_E_COUNT;
	if (len != VSHM_GPA_LIST_SIZE((size_t)out->nr_ext))
		return VSHM_E_LEN;
	if (!out->nr_pages || !out->total_pages)
		return VSHM_E_COUNT;
	if ((u64)out->first_page + out->nr_pages > out->total_pages)
		return VSHM_E_COUNT;
	if (out->last !=
	    ((u64)out->first_page + out->nr_pages == out->total_pages))
		return VSHM_E_ORDER;

	ext = (const u8 *)buf + sizeof(struct vshm_gpa_list);
	for (i = 0; i < out->nr_ext; i++) {
		const u8 *e = ext_ptr(ext, i);
		u64 addr = GET64(e, struct vshm_extent, addr);
		u32 npages = GET32(e, struct vshm_extent, npages);

		out->bad_index = i;
		if (GET32(e, struct vshm_extent, pad))
			return VSHM_E_RESERVED;
		if (!npages)
			return VSHM_E_COUNT;
		if (addr & (VSHM_PAGE_SIZE - 1))
			return VSHM_E_ALIGN;
		/*
		 * A GPA run must end at or below 2^52. After the rewrite only
		 * the first page of a run is known: host runs may be split.
		 */
		if (addr >= VSHM_PHYS_LIMIT)
			return VSHM_E_RANGE;
		if (!hpa && ((u64)npages << VSHM_PAGE_SHIFT) >
			    VSHM_PHYS_LIMIT - addr)
			return VSHM_E_RANGE;
		sum += npages;
	}
	out->bad_index = VSHM_NO_INDEX;
	if (sum != out->nr_pages)
		return VSHM_E_LEN;
	out->ext = ext;
	return VSHM_OK;
}

/* REFUSED: only the fixed part; the extents are the guest's, unchecked. */
static int check_refused(const void *buf, size_t len,
			 struct vshm_wire_info *out)
{
	if (len < sizeof(struct vshm_gpa_list))
		return VSHM_E_LEN;

	out->grant = GET64(buf, struct vshm_gpa_list, grant);
	out->status = GET32(buf, struct vshm_gpa_list, status);
	out->first_page = GET32(buf, struct vshm_gpa_list, first_page);
	out->nr_pages = GET32(buf, struct vshm_gpa_list, nr_pages);
	out->total_pages = GET32(buf, struct vshm_gpa_list, total_pages);
	out->nr_ext = GET16(buf, struct vshm_gpa_list, nr_ext);
	out->last = GET16(buf, struct vshm_gpa_list, chunk_flags) &
		    VSHM_CHUNK_LAST;
	out->detail = (u32)out->grant;

	if (!out->status)
		return VSHM_E_RANGE;
	if (out->grant >> 32)
		return VSHM_E_RESERVED;
	return VSHM_OK;
}

static int check_mapped(const void *buf, size_t len,
			struct vshm_wire_info *out)
{
	if (len != sizeof(struct vshm_mapped))
		return VSHM_E_LEN;

	out->grant = GET64(buf, struct vshm_mapped, grant);
	out->nr_pages = GET32(buf, struct vshm_mapped, nr_pages);

	if (GET32(buf, struct vshm_mapped, pad))
		return VSHM_E_RESERVED;
	if (!out->grant)
		return VSHM_E_RANGE;
	if (!out->nr_pages)
		return VSHM_E_COUNT;
	return VSHM_OK;
}

static int check_error(const void *buf, size_t len, struct vshm_wire_info *out)
{
	const u8 *b = buf;
	size_t i = offsetof(struct vshm_error, pad);

	if (len != sizeof(struct vshm_error))
		return VSHM_E_LEN;

	out->code = GET32(b, struct vshm_error, code);
	out->detail = GET32(b, struct vshm_error, detail);
	out->orig_type = b[offsetof(struct vshm_error, orig_type)];

	for (; i < sizeof(struct vshm_error); i++)
		if (b[i])
			return VSHM_E_RESERVED;
	if (!out->code)
		return VSHM_E_RANGE;
	return VSHM_OK;
}

/*
 * CHUNK_OK echoes a chunk's first_page and nr_pages: nr_pages is nonzero
 * and the chunk ends within 32-bit page numbers.
 */
static int check_chunk_ok(const void *buf, size_t len,
			  struct vshm_wire_info *out)
{
	if (len != sizeof(struct vshm_chunk_ok))
		return VSHM_E_LEN;

	out->first_page = GET32(buf, struct vshm_chunk_ok, first_page);
	out->nr_pages = GET32(buf, struct vshm_chunk_ok, nr_pages);

	if (GET64(buf, struct vshm_chunk_ok, pad))
		return VSHM_E_RESERVED;
	if (!out->nr_pages ||
	    (u64)out->first_page + out->nr_pages > 0xffffffffULL)
		return VSHM_E_COUNT;
	return VSHM_OK;
}

/**
 * vshm_wire_check() - validate a guest-to-host message
 * @buf: the message, any alignment
 * @len: bytes in @buf: the whole message as received
 * @out: what was found (may be NULL)
 *
 * Checks ALLOC, GPA_LIST, FREE, HELLO and NOTIFY; every other type is
 * VSHM_E_TYPE. Does not
 * check GPA_LIST extents for overlap: see vshm_wire_check_dup().
 *
 * Return: VSHM_OK, or the positive enum vshm_err of the first failed rule.
 */
int vshm_wire_check(const void *buf, size_t len, struct vshm_wire_info *out)
{
	struct vshm_wire_info dummy;
	int ret;

	if (!out)
		out = &dummy;
	info_reset(out);

	ret = check_hdr(buf, len, out, true);
	if (ret)
		return ret;
	if (!out->region)
		return VSHM_E_REGION;

	switch (out->type) {
	case VSHM_MSG_ALLOC:
		return check_alloc(buf, len, out);
	case VSHM_MSG_GPA_LIST:
		return check_list(buf, len, out);
	case VSHM_MSG_HELLO:
		return check_hello(buf, len, out);
	case VSHM_MSG_NOTIFY:
		return check_notify(buf, len, out);
	default: /* VSHM_MSG_FREE */
		return len == sizeof(struct vshm_hdr) ? VSHM_OK : VSHM_E_LEN;
	}
}

/**
 * vshm_wire_check_host() - validate a message produced on the host side
 * @buf: the message, any alignment
 * @len: bytes in @buf: the whole message as received
 * @out: what was found (may be NULL)
 *
 * Checks ALLOC_OK, HPA_LIST, REFUSED, MAPPED, FREED, ERROR, CHUNK_OK,
 * HELLO_OK, REVOKED and NOTIFY; every other type is VSHM_E_TYPE. Region 0
 * is accepted in ERROR and REFUSED only.
 *
 * Return: VSHM_OK, or the positive enum vshm_err of the first failed rule.
 */
int vshm_wire_check_host(const void *buf, size_t len,
			 struct vshm_wire_info *out)
{
	struct vshm_wire_info dummy;
	int ret;

	if (!out)
		out = &dummy;
	info_reset(out);

	ret = check_hdr(buf, len, out, false);
	if (ret)
		return ret;
	if (!out->region && out->type != VSHM_MSG_ERROR &&
	    out->type != VSHM_MSG_REFUSED)
		return VSHM_E_REGION;

	switch (out->type) {
	case VSHM_MSG_HPA_LIST:
		return check_list(buf, len, out);
	case VSHM_MSG_REFUSED:
		return check_refused(buf, len, out);
	case VSHM_MSG_MAPPED:
		return check_mapped(buf, len, out);
	case VSHM_MSG_ERROR:
		return check_error(buf, len, out);
	case VSHM_MSG_CHUNK_OK:
		return check_chunk_ok(buf, len, out);
	case VSHM_MSG_HELLO_OK:
		return check_hello(buf, len, out);
	case VSHM_MSG_REVOKED:
		return check_revoked(buf, len, out);
	case VSHM_MSG_NOTIFY:
		return check_notify(buf, len, out);
	default: /* VSHM_MSG_ALLOC_OK, VSHM_MSG_FREED */
		return len == sizeof(struct vshm_hdr) ? VSHM_OK : VSHM_E_LEN;
	}
}

static void sift_down(const void *ext, u32 *idx, u32 root, u32 end)
{
	for (;;) {
		u32 child = 2 * root + 1;
		u32 tmp;

		if (child >= end)
			return;
		if (child + 1 < end &&
		    ext_addr(ext, idx[child + 1]) > ext_addr(ext, idx[child]))
			child++;
		if (ext_addr(ext, idx[root]) >= ext_addr(ext, idx[child]))
			return;
		tmp = idx[root];
		idx[root] = idx[child];
		idx[child] = tmp;
		root = child;
	}
}

/**
 * vshm_wire_check_dup() - check that no page appears twice in a list
 * @ext: the extents (info.ext of a checked GPA_LIST), any alignment
 * @n: number of extents, at most VSHM_MAX_EXT_PER_MSG
 * @scratch_idx: caller-provided space for @n indices (the kernel caller
 *	keeps VSHM_MAX_EXT_PER_MSG of them per device: no allocation here)
 *
 * Heapsorts the indices 0..n-1 by extent address, in place and without
 * recursion, then compares neighbours: O(n log n). Assumes the extents
 * passed vshm_wire_check(). For n >= 2, on return @scratch_idx is sorted by
 * address, except that on VSHM_E_DUP @scratch_idx[0] is the larger index of
 * the first overlapping pair found; for n < 2 it is left untouched.
 *
 * Return: VSHM_OK, VSHM_E_DUP, or VSHM_E_COUNT if @n is too large.
 */
int vshm_wire_check_dup(const void *ext, u32 n, u32 *scratch_idx)
{
	u32 *idx = scratch_idx;
	u32 i, tmp;

	if (n > VSHM_MAX_EXT_PER_MSG)
		return VSHM_E_COUNT;
	if (n < 2)
		return VSHM_OK;

	for (i = 0; i < n; i++)
		idx[i] = i;
	for (i = n / 2; i-- > 0;)
		sift_down(ext, idx, i, n);
	for (i = n - 1; i > 0; i--) {
		tmp = idx[0];
		idx[0] = idx[i];
		idx[i] = tmp;
		sift_down(ext, idx, 0, i);
	}

	for (i = 1; i < n; i++) {
		u32 a = idx[i - 1], b = idx[i];
		u64 gap = ext_addr(ext, b) - ext_addr(ext, a);

		if (gap < ((u64)ext_npages(ext, a) << VSHM_PAGE_SHIFT)) {
			idx[0] = a > b ? a : b;
			return VSHM_E_DUP;
		}
	}
	return VSHM_OK;
}

/**
 * vshm_wire_is_list() - does buf start a v1 list message?
 * @buf: a received message, any alignment
 * @len: bytes in @buf
 *
 * Return: true if @buf holds a header with the v1 magic and version whose
 * type is GPA_LIST, HPA_LIST or REFUSED: the module must deliver such a
 * message from a guest only after vshm_wire_mark_hpa() or
 * vshm_wire_mark_refused().
 */
bool vshm_wire_is_list(const void *buf, size_t len)
{
	const u8 *b = buf;
	u8 type;

	if (len < sizeof(struct vshm_hdr))
		return false;
	if (GET32(b, struct vshm_hdr, magic) != VSHM_MAGIC ||
	    b[offsetof(struct vshm_hdr, version)] != VSHM_VERSION)
		return false;
	type = b[offsetof(struct vshm_hdr, type)];
	return type == VSHM_MSG_GPA_LIST || type == VSHM_MSG_HPA_LIST ||
	       type == VSHM_MSG_REFUSED;
}

/**
 * vshm_wire_mark_hpa() - turn a translated GPA_LIST into an HPA_LIST
 * @buf: a GPA_LIST that passed vshm_wire_check() and
 *	vshm_wire_check_dup(), whose extent addresses the caller has already
 *	rewritten with vshm_wire_ext_set_addr()
 * @grant: the region's grant id, != 0
 */
void vshm_wire_mark_hpa(void *buf, u64 grant)
{
	u8 *b = buf;

	b[offsetof(struct vshm_hdr, type)] = VSHM_MSG_HPA_LIST;
	PUT64(grant, b, struct vshm_gpa_list, grant);
	PUT32(0, b, struct vshm_gpa_list, status);
}

/**
 * vshm_wire_mark_refused() - turn a list message into a REFUSED
 * @buf: the message
 * @len: bytes in @buf, at least VSHM_GPA_LIST_HDR_SIZE
 * @code: why (enum vshm_err); 0 is replaced by VSHM_E_INTERNAL
 * @detail: extent index or VSHM_NO_INDEX, stored in the grant field
 *
 * Writes magic, version, type, flags 0, status and grant; keeps hdr.len,
 * the region and the rest of the message as the guest sent them.
 *
 * Return: VSHM_OK, or VSHM_E_TRUNC (nothing written) if @len is too short.
 */
int vshm_wire_mark_refused(void *buf, size_t len, u32 code, u32 detail)
{
	u8 *b = buf;

	if (len < sizeof(struct vshm_gpa_list))
		return VSHM_E_TRUNC;
	if (!code)
		code = VSHM_E_INTERNAL;

	PUT32(VSHM_MAGIC, b, struct vshm_hdr, magic);
	b[offsetof(struct vshm_hdr, version)] = VSHM_VERSION;
	b[offsetof(struct vshm_hdr, type)] = VSHM_MSG_REFUSED;
	PUT16(0, b, struct vshm_hdr, flags);
	PUT64(detail, b, struct vshm_gpa_list, grant);
	PUT32(code, b, struct vshm_gpa_list, status);
	return VSHM_OK;
}

/**
 * vshm_wire_neuter() - make sure no message can start at buf
 * @buf: the start of a packet's payload the module does not parse
 * @len: bytes in @buf
 * @code: why, for a REFUSED (enum vshm_err)
 *
 * A packet that may be the first of a message but that the module will not
 * check (a fragment, or one of a connection it does not track) must not
 * deliver a message the guest wrote in the host's name. If @buf starts with
 * the magic, or with a prefix of it when @len is shorter, it becomes a
 * REFUSED(@code) when it has room for one; otherwise the magic bytes it
 * holds are zeroed, and whatever the receiver assembles is not a message.
 *
 * Return: true if @buf was rewritten.
 */
bool vshm_wire_neuter(void *buf, size_t len, u32 code)
{
	size_t n = len < 4 ? len : 4;
	u8 *b = buf;
	size_t i;

	if (!vshm_wire_may_start(buf, len))
		return false;
	if (vshm_wire_mark_refused(buf, len, code, VSHM_NO_INDEX))
		for (i = 0; i < n; i++)
			b[i] = 0;
	return true;
}

/**
 * vshm_wire_may_start() - could a message start at buf?
 * @buf: the start of a packet's payload
 * @len: bytes in @buf (only the first 4 are read)
 *
 * Return: true if @buf begins with the magic, or with a prefix of it when
 * @len is shorter: a message's first bytes, if the rest follows.
 */
bool vshm_wire_may_start(const void *buf, size_t len)
{
	static const u8 magic[4] = { 'V', 'S', 'H', 'M' };
	size_t n = len < sizeof(magic) ? len : sizeof(magic);
	const u8 *b = buf;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != magic[i])
			return false;
	return n > 0;
}

static const char *const vshm_err_names[] = {
	[VSHM_OK]		= "VSHM_OK",
	[VSHM_E_TRUNC]		= "VSHM_E_TRUNC",
	[VSHM_E_MAGIC]		= "VSHM_E_MAGIC",
	[VSHM_E_VERSION]	= "VSHM_E_VERSION",
	[VSHM_E_TYPE]		= "VSHM_E_TYPE",
	[VSHM_E_LEN]		= "VSHM_E_LEN",
	[VSHM_E_REGION]		= "VSHM_E_REGION",
	[VSHM_E_RESERVED]	= "VSHM_E_RESERVED",
	[VSHM_E_COUNT]		= "VSHM_E_COUNT",
	[VSHM_E_ALIGN]		= "VSHM_E_ALIGN",
	[VSHM_E_RANGE]		= "VSHM_E_RANGE",
	[VSHM_E_ORDER]		= "VSHM_E_ORDER",
	[VSHM_E_DUP]		= "VSHM_E_DUP",
	[VSHM_E_ALLOC]		= "VSHM_E_ALLOC",
	[VSHM_E_NOTMAPPABLE]	= "VSHM_E_NOTMAPPABLE",
	[VSHM_E_RDONLY]		= "VSHM_E_RDONLY",
	[VSHM_E_QUOTA]		= "VSHM_E_QUOTA",
	[VSHM_E_EXISTS]		= "VSHM_E_EXISTS",
	[VSHM_E_NOREGION]	= "VSHM_E_NOREGION",
	[VSHM_E_FRAG]		= "VSHM_E_FRAG",
	[VSHM_E_NOPOLICY]	= "VSHM_E_NOPOLICY",
	[VSHM_E_PIN]		= "VSHM_E_PIN",
	[VSHM_E_NOMEM]		= "VSHM_E_NOMEM",
	[VSHM_E_BUSY]		= "VSHM_E_BUSY",
	[VSHM_E_DENIED]		= "VSHM_E_DENIED",
	[VSHM_E_INTERNAL]	= "VSHM_E_INTERNAL",
	[VSHM_E_PORT]		= "VSHM_E_PORT",
	[VSHM_E_MEMLOCK]	= "VSHM_E_MEMLOCK",
};

static_assert(ARRAY_SIZE(vshm_err_names) == VSHM_E_MAX + 1, "vshm_err_names");

const char *vshm_err_name(int code)
{
	if (code < 0 || code > VSHM_E_MAX)
		return "VSHM_E_UNKNOWN";
	return vshm_err_names[code];
}

static const char *const vshm_revoke_reason_names[] = {
	[VSHM_REVOKE_FREED] = "freed",
	[VSHM_REVOKE_CLOSED] = "closed",
	[VSHM_REVOKE_DEVICE] = "device",
	[VSHM_REVOKE_MEMMAP] = "memmap",
	[VSHM_REVOKE_MIGRATION] = "migration",
	[VSHM_REVOKE_REFUSED] = "refused",
};

static_assert(ARRAY_SIZE(vshm_revoke_reason_names) == VSHM_REVOKE_MAX + 1,
	      "vshm_revoke_reason_names");

const char *vshm_revoke_reason_name(unsigned int reason)
{
	if (reason >= ARRAY_SIZE(vshm_revoke_reason_names) ||
	    !vshm_revoke_reason_names[reason])
		return "unknown";
	return vshm_revoke_reason_names[reason];
}
