// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the module's packet parser, vhost_vsock_shm/wire.c,
 * compiled for user space from the very source file the kernel module
 * builds (see fuzz/Makefile).
 *
 * The input is one received message (a vsock packet payload). For it:
 *
 * 1. vshm_wire_check() and vshm_wire_check_host() are compared with a
 *    reference model written here from docs/protocol.md, section 6: same
 *    code (the first failed rule), same bad extent index; and a message
 *    that passes is checked field by field (len == hdr.len, lists have
 *    48 + 16 * nr_ext bytes, extents aligned, below 2^52, npages sum to
 *    nr_pages, ...).
 * 2. A GPA_LIST that passes goes through vshm_wire_check_dup() with a
 *    scratch array, compared with an overlap check of its own (qsort).
 * 3. The module's rewrite on a copy: the addresses are replaced by made-up
 *    HPAs and vshm_wire_mark_hpa() turns the copy into an HPA_LIST that
 *    vshm_wire_check_host() must accept, with everything but type, grant,
 *    status and the addresses unchanged; vshm_wire_mark_refused() on
 *    another copy, with a guard area behind the message, writes only the
 *    header, grant and status fields and never past len.
 * 4. The module's whole decision (hook.c: refuse guest-made HPA_LIST and
 *    REFUSED, refuse a GPA_LIST that fails a check, translate the others)
 *    can never deliver an HPA_LIST the server accepts unless the guest's
 *    GPA_LIST passed every check.
 *
 * Any violation ends in __builtin_trap() (FUZZ_CHECK).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "fuzz.h"

#define GUARD		64
#define GUARD_BYTE	0xa5

/* Offsets, from docs/protocol.md (not from the structs under test). */
#define O_MAGIC		0
#define O_VERSION	4
#define O_TYPE		5
#define O_FLAGS		6
#define O_LEN		8
#define O_REGION	12
#define O_GRANT		16
#define O_STATUS	24
#define O_FIRST		28
#define O_NRPAGES	32
#define O_TOTAL		36
#define O_NREXT		40
#define O_CFLAGS	42
#define O_LPAD		44
#define O_EXT		48

static uint32_t scratch[VSHM_MAX_EXT_PER_MSG];

/* ---- reference model of docs/protocol.md, section 6 ---- */

static int ref_list(const uint8_t *b, size_t n, bool hpa, uint32_t *bad)
{
	uint64_t grant, sum = 0;
	uint32_t first, nr, total, nr_ext, i;
	uint16_t cflags;
	bool last;

	if (n < 48)
		return VSHM_E_LEN;
	grant = fz_le64(b + O_GRANT);
	cflags = fz_le16(b + O_CFLAGS);
	if (hpa && !grant)
		return VSHM_E_RANGE;
	if ((!hpa && grant) || fz_le32(b + O_STATUS) || fz_le32(b + O_LPAD) ||
	    (cflags & ~1u))
		return VSHM_E_RESERVED;
	nr_ext = fz_le16(b + O_NREXT);
	if (!nr_ext)
		return VSHM_E_COUNT;
	if (n != 48 + 16 * (size_t)nr_ext)
		return VSHM_E_LEN;
	first = fz_le32(b + O_FIRST);
	nr = fz_le32(b + O_NRPAGES);
	total = fz_le32(b + O_TOTAL);
	if (!nr || !total)
		return VSHM_E_COUNT;
	if ((uint64_t)first + nr > total)
		return VSHM_E_COUNT;
	last = cflags & 1;
	if (last != ((uint64_t)first + nr == total))
		return VSHM_E_ORDER;
	for (i = 0; i < nr_ext; i++) {
		const uint8_t *e = b + O_EXT + 16 * (size_t)i;
		uint64_t addr = fz_le64(e);
		uint32_t np = fz_le32(e + 8);

		*bad = i;
		if (fz_le32(e + 12))
			return VSHM_E_RESERVED;
		if (!np)
			return VSHM_E_COUNT;
		if (addr % 4096)
			return VSHM_E_ALIGN;
		if (addr >= VSHM_PHYS_LIMIT)
			return VSHM_E_RANGE;
		/* E4: addr + npages * 4096 <= 2^52; no wrap: both < 2^53. */
		if (!hpa && addr + (uint64_t)np * 4096 > VSHM_PHYS_LIMIT)
			return VSHM_E_RANGE;
		sum += np;
	}
	*bad = VSHM_NO_INDEX;
	if (sum != nr)
		return VSHM_E_LEN;
	return VSHM_OK;
}

/* NOTIFY (section 12.4), either way. */
static int ref_notify(const uint8_t *b, size_t n)
{
	if (n != 24)
		return VSHM_E_LEN;
	if (fz_le32(b + 20))
		return VSHM_E_RESERVED;
	if (!fz_le32(b + 16))
		return VSHM_E_COUNT;
	return VSHM_OK;
}

/* HELLO (any offered bits) and HELLO_OK (known bits only), section 12.1. */
static int ref_hello(const uint8_t *b, size_t n, bool ok_msg)
{
	if (n != 32)
		return VSHM_E_LEN;
	if (fz_le64(b + 24))
		return VSHM_E_RESERVED;
	if (ok_msg && (fz_le64(b + 16) & ~7ULL))
		return VSHM_E_RESERVED;
	return VSHM_OK;
}

/* H1-H6; the caller does H7. */
static int ref_hdr(const uint8_t *b, size_t n, bool guest)
{
	uint8_t t;
	bool ok;

	if (n < 16)
		return VSHM_E_TRUNC;
	if (fz_le32(b + O_MAGIC) != 0x4d485356)
		return VSHM_E_MAGIC;
	if (b[O_VERSION] != 1)
		return VSHM_E_VERSION;
	t = b[O_TYPE];
	if (guest)
		ok = t == 1 || t == 3 || t == 7 || t == 11 || t == 14;
	else
		ok = t == 2 || t == 4 || t == 5 || t == 6 || t == 8 ||
		     t == 9 || t == 10 || t == 12 || t == 13 || t == 14;
	if (!ok)
		return VSHM_E_TYPE;
	if (fz_le32(b + O_LEN) != n || n > 65536)
		return VSHM_E_LEN;
	if (fz_le16(b + O_FLAGS))
		return VSHM_E_RESERVED;
	return VSHM_OK;
}

static int ref_guest(const uint8_t *b, size_t n, uint32_t *bad)
{
	uint64_t size;
	uint32_t ps, acc;
	int rc;

	*bad = VSHM_NO_INDEX;
	rc = ref_hdr(b, n, true);
	if (rc)
		return rc;
	if (!fz_le32(b + O_REGION))
		return VSHM_E_REGION;
	switch (b[O_TYPE]) {
	case 7:	/* FREE */
		return n == 16 ? VSHM_OK : VSHM_E_LEN;
	case 11: /* HELLO */
		return ref_hello(b, n, false);
	case 14: /* NOTIFY */
		return ref_notify(b, n);
	case 1:	/* ALLOC, 48 bytes with a cookie */
		if (n != 40 && n != 48)
			return VSHM_E_LEN;
		if (fz_le32(b + 36))
			return VSHM_E_RESERVED;
		size = fz_le64(b + 16);
		ps = fz_le32(b + 24);
		acc = fz_le32(b + 28);
		if (ps != 4096 && ps != 2097152)
			return VSHM_E_ALLOC;
		if (!size || size % ps)
			return VSHM_E_ALLOC;
		if (size / 4096 != fz_le32(b + 32))
			return VSHM_E_ALLOC;
		if (!acc || (acc & ~3u))
			return VSHM_E_ALLOC;
		return VSHM_OK;
	default: /* 3, GPA_LIST */
		return ref_list(b, n, false, bad);
	}
}

static int ref_host(const uint8_t *b, size_t n, uint32_t *bad)
{
	size_t i;
	int rc;

	*bad = VSHM_NO_INDEX;
	rc = ref_hdr(b, n, false);
	if (rc)
		return rc;
	if (!fz_le32(b + O_REGION) && b[O_TYPE] != 9 && b[O_TYPE] != 5)
		return VSHM_E_REGION;
	switch (b[O_TYPE]) {
	case 2:	/* ALLOC_OK */
	case 8:	/* FREED */
		return n == 16 ? VSHM_OK : VSHM_E_LEN;
	case 4:	/* HPA_LIST */
		return ref_list(b, n, true, bad);
	case 12: /* HELLO_OK */
		return ref_hello(b, n, true);
	case 13: /* REVOKED */
		if (n != 32)
			return VSHM_E_LEN;
		if (fz_le32(b + 28))
			return VSHM_E_RESERVED;
		if (!fz_le64(b + 16) || !fz_le32(b + 24))
			return VSHM_E_RANGE;
		return VSHM_OK;
	case 14: /* NOTIFY */
		return ref_notify(b, n);
	case 5:	/* REFUSED */
		if (n < 48)
			return VSHM_E_LEN;
		if (!fz_le32(b + O_STATUS))
			return VSHM_E_RANGE;
		if (fz_le64(b + O_GRANT) >> 32)
			return VSHM_E_RESERVED;
		return VSHM_OK;
	case 6:	/* MAPPED */
		if (n != 32)
			return VSHM_E_LEN;
		if (fz_le32(b + 28))
			return VSHM_E_RESERVED;
		if (!fz_le64(b + 16))
			return VSHM_E_RANGE;
		if (!fz_le32(b + 24))
			return VSHM_E_COUNT;
		return VSHM_OK;
	case 9:	/* ERROR */
		if (n != 32)
			return VSHM_E_LEN;
		for (i = 25; i < 32; i++)
			if (b[i])
				return VSHM_E_RESERVED;
		if (!fz_le32(b + 16))
			return VSHM_E_RANGE;
		return VSHM_OK;
	default: /* 10, CHUNK_OK */
		if (n != 32)
			return VSHM_E_LEN;
		if (fz_le64(b + 24))
			return VSHM_E_RESERVED;
		if (!fz_le32(b + 20) ||
		    (uint64_t)fz_le32(b + 16) + fz_le32(b + 20) > 0xffffffffULL)
			return VSHM_E_COUNT;
		return VSHM_OK;
	}
}

/* ---- overlap reference ---- */

struct rext {
	uint64_t addr;
	uint64_t end;
};

static struct rext rexts[VSHM_MAX_EXT_PER_MSG];

static int rext_cmp(const void *a, const void *b)
{
	const struct rext *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void ext_at(const uint8_t *b, uint32_t i, uint64_t *addr,
		   uint32_t *np)
{
	*addr = fz_le64(b + O_EXT + 16 * (size_t)i);
	*np = fz_le32(b + O_EXT + 16 * (size_t)i + 8);
}

/* Do any two extents of a checked list share a page? */
static bool ref_overlap(const uint8_t *b, uint32_t n)
{
	uint32_t i, np;

	for (i = 0; i < n; i++) {
		ext_at(b, i, &rexts[i].addr, &np);
		rexts[i].end = rexts[i].addr + (uint64_t)np * 4096;
	}
	qsort(rexts, n, sizeof(rexts[0]), rext_cmp);
	for (i = 1; i < n; i++)
		if (rexts[i - 1].end > rexts[i].addr)
			return true;
	return false;
}

/* Does extent k share a page with another extent? */
static bool ext_overlaps_other(const uint8_t *b, uint32_t n, uint32_t k)
{
	uint64_t ka, a;
	uint32_t kn, np, i;

	ext_at(b, k, &ka, &kn);
	for (i = 0; i < n; i++) {
		if (i == k)
			continue;
		ext_at(b, i, &a, &np);
		if (a < ka + (uint64_t)kn * 4096 && ka < a + (uint64_t)np * 4096)
			return true;
	}
	return false;
}

/* ---- checks of what passed ---- */

static void check_passed_list(const uint8_t *b, size_t n,
			      const struct vshm_wire_info *wi, bool hpa)
{
	uint64_t sum = 0, addr;
	uint32_t i, np;

	FUZZ_CHECK(wi->nr_ext >= 1 && wi->nr_ext <= VSHM_MAX_EXT_PER_MSG);
	FUZZ_CHECK((size_t)wi->nr_ext * 16 + 48 == n);
	FUZZ_CHECK(wi->ext == b + 48);
	FUZZ_CHECK(wi->first_page == fz_le32(b + O_FIRST));
	FUZZ_CHECK(wi->nr_pages == fz_le32(b + O_NRPAGES));
	FUZZ_CHECK(wi->total_pages == fz_le32(b + O_TOTAL));
	FUZZ_CHECK(wi->nr_pages && wi->total_pages);
	FUZZ_CHECK((uint64_t)wi->first_page + wi->nr_pages <= wi->total_pages);
	FUZZ_CHECK(wi->last ==
		   ((uint64_t)wi->first_page + wi->nr_pages == wi->total_pages));
	FUZZ_CHECK(wi->grant == fz_le64(b + O_GRANT));
	FUZZ_CHECK(hpa ? wi->grant != 0 : wi->grant == 0);
	FUZZ_CHECK(wi->bad_index == VSHM_NO_INDEX);
	for (i = 0; i < wi->nr_ext; i++) {
		u64 ga;
		u32 gn;

		ext_at(b, i, &addr, &np);
		vshm_wire_ext_get(wi->ext, i, &ga, &gn);
		FUZZ_CHECK(ga == addr && gn == np);
		FUZZ_CHECK(np >= 1);
		FUZZ_CHECK(addr % VSHM_PAGE_SIZE == 0);
		FUZZ_CHECK(addr < VSHM_PHYS_LIMIT);
		if (!hpa)
			FUZZ_CHECK(addr + (uint64_t)np * 4096 <= VSHM_PHYS_LIMIT);
		sum += np;
	}
	FUZZ_CHECK(sum == wi->nr_pages);
}

static void check_passed_guest(const uint8_t *b, size_t n,
			       const struct vshm_wire_info *wi)
{
	FUZZ_CHECK(n >= 16 && n <= VSHM_MAX_MSG);
	FUZZ_CHECK(wi->len == n && fz_le32(b + O_LEN) == n);
	FUZZ_CHECK(wi->type == b[O_TYPE]);
	FUZZ_CHECK(wi->region == fz_le32(b + O_REGION) && wi->region);
	switch (wi->type) {
	case VSHM_MSG_FREE:
		FUZZ_CHECK(n == 16);
		break;
	case VSHM_MSG_HELLO:
		FUZZ_CHECK(n == 32 && wi->features == fz_le64(b + 16));
		break;
	case VSHM_MSG_NOTIFY:
		FUZZ_CHECK(n == 24 && wi->bits && wi->bits == fz_le32(b + 16));
		break;
	case VSHM_MSG_ALLOC:
		FUZZ_CHECK(n == 40 || n == 48);
		FUZZ_CHECK(wi->cookie == (n == 48 ? fz_le64(b + 40) : 0));
		FUZZ_CHECK(wi->page_size == 4096 || wi->page_size == 2097152);
		FUZZ_CHECK(wi->size && wi->size % wi->page_size == 0);
		FUZZ_CHECK(wi->size / 4096 == wi->nr_pages);
		FUZZ_CHECK(wi->access && !(wi->access & ~VSHM_ACCESS_MASK));
		break;
	case VSHM_MSG_GPA_LIST:
		check_passed_list(b, n, wi, false);
		break;
	default:
		FUZZ_CHECK(!"a guest check passed another type");
	}
}

static void check_passed_host(const uint8_t *b, size_t n,
			      const struct vshm_wire_info *wi)
{
	FUZZ_CHECK(n >= 16 && n <= VSHM_MAX_MSG);
	FUZZ_CHECK(wi->len == n && fz_le32(b + O_LEN) == n);
	FUZZ_CHECK(wi->type == b[O_TYPE]);
	FUZZ_CHECK(wi->region == fz_le32(b + O_REGION));
	FUZZ_CHECK(wi->region || wi->type == VSHM_MSG_ERROR ||
		   wi->type == VSHM_MSG_REFUSED);
	switch (wi->type) {
	case VSHM_MSG_ALLOC_OK:
	case VSHM_MSG_FREED:
		FUZZ_CHECK(n == 16);
		break;
	case VSHM_MSG_HPA_LIST:
		check_passed_list(b, n, wi, true);
		break;
	case VSHM_MSG_REFUSED:
		FUZZ_CHECK(n >= 48);
		FUZZ_CHECK(wi->status && wi->status == fz_le32(b + O_STATUS));
		FUZZ_CHECK(wi->grant >> 32 == 0);
		FUZZ_CHECK(wi->detail == (uint32_t)wi->grant);
		FUZZ_CHECK(wi->ext == NULL);
		break;
	case VSHM_MSG_MAPPED:
		FUZZ_CHECK(n == 32 && wi->grant && wi->nr_pages);
		break;
	case VSHM_MSG_ERROR:
		FUZZ_CHECK(n == 32 && wi->code);
		FUZZ_CHECK(wi->orig_type == b[24]);
		break;
	case VSHM_MSG_CHUNK_OK:
		FUZZ_CHECK(n == 32 && wi->nr_pages);
		FUZZ_CHECK((uint64_t)wi->first_page + wi->nr_pages <= 0xffffffffULL);
		break;
	case VSHM_MSG_HELLO_OK:
		FUZZ_CHECK(n == 32 && !(wi->features & ~VSHM_FEAT_MASK));
		break;
	case VSHM_MSG_REVOKED:
		FUZZ_CHECK(n == 32 && wi->grant && wi->reason);
		break;
	case VSHM_MSG_NOTIFY:
		FUZZ_CHECK(n == 24 && wi->bits);
		break;
	default:
		FUZZ_CHECK(!"a host check passed another type");
	}
}

/* ---- the module's rewrite ---- */

/* A made-up HPA for extent i: aligned, below 2^52, sometimes the last page. */
static uint64_t fake_hpa(uint64_t gpa, uint32_t i)
{
	if (i % 7 == 3)
		return VSHM_PHYS_LIMIT - VSHM_PAGE_SIZE;
	return ((gpa * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)i << 20)) &
	       (VSHM_PHYS_LIMIT - 1) & ~(uint64_t)(VSHM_PAGE_SIZE - 1);
}

static uint64_t fake_grant(const uint8_t *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n && i < 64; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

/* Translation of a GPA_LIST that passed check and check_dup. */
static void check_mark_hpa(const uint8_t *b, size_t n,
			   const struct vshm_wire_info *wi)
{
	struct vshm_wire_info hi;
	uint64_t grant = fake_grant(b, n), addr;
	uint8_t *c = malloc(n);
	uint32_t i, np;
	size_t k;
	int rc;

	FUZZ_CHECK(c);
	memcpy(c, b, n);
	for (i = 0; i < wi->nr_ext; i++) {
		ext_at(b, i, &addr, &np);
		vshm_wire_ext_set_addr(c + O_EXT, i, fake_hpa(addr, i));
	}
	vshm_wire_mark_hpa(c, grant);

	rc = vshm_wire_check_host(c, n, &hi);
	FUZZ_CHECK(rc == VSHM_OK);
	FUZZ_CHECK(hi.type == VSHM_MSG_HPA_LIST && hi.grant == grant);
	FUZZ_CHECK(hi.region == wi->region && hi.len == wi->len);
	FUZZ_CHECK(hi.first_page == wi->first_page &&
		   hi.nr_pages == wi->nr_pages &&
		   hi.total_pages == wi->total_pages &&
		   hi.nr_ext == wi->nr_ext && hi.last == wi->last);
	for (i = 0; i < wi->nr_ext; i++) {
		u64 ha;
		u32 hn;

		ext_at(b, i, &addr, &np);
		vshm_wire_ext_get(hi.ext, i, &ha, &hn);
		FUZZ_CHECK(ha == fake_hpa(addr, i) && hn == np);
	}
	/* The guest's message is not an HPA_LIST; ours is not a guest's. */
	FUZZ_CHECK(vshm_wire_check(c, n, NULL) == VSHM_E_TYPE);
	FUZZ_CHECK(vshm_wire_is_list(c, n));
	/* Only type, grant and the addresses changed (status was 0). */
	for (k = 0; k < n; k++) {
		bool may = k == O_TYPE || (k >= O_GRANT && k < O_GRANT + 8) ||
			   (k >= O_EXT && (k - O_EXT) % 16 < 8);

		if (!may)
			FUZZ_CHECK(c[k] == b[k]);
	}
	free(c);
}

/* Bytes vshm_wire_mark_refused() may write. */
static bool refused_may_write(size_t k)
{
	return k < 8 || (k >= O_GRANT && k < O_STATUS + 4);
}

/*
 * vshm_wire_mark_refused() on a copy of any buffer, with a guard behind
 * len: returns 0 and writes the documented fields, or VSHM_E_TRUNC and
 * nothing for len < 48; never past len.
 */
/*
 * vshm_wire_neuter() on any buffer: what it leaves can start no message the
 * guest wrote. Either it did nothing (the buffer does not begin with the
 * magic or a prefix of it) or the buffer is now a REFUSED(code) (48 bytes
 * or more) or begins with no byte of the magic; nothing past it is written.
 */
static void check_neuter(const uint8_t *b, size_t n, uint32_t code)
{
	static const uint8_t magic[4] = { 'V', 'S', 'H', 'M' };
	size_t k, m = n < 4 ? n : 4;
	uint8_t *c = malloc(n + GUARD);
	bool prefix = m > 0;

	FUZZ_CHECK(c);
	memcpy(c, b, n);
	memset(c + n, GUARD_BYTE, GUARD);
	for (k = 0; k < m; k++)
		if (b[k] != magic[k])
			prefix = false;
	FUZZ_CHECK(vshm_wire_neuter(c, n, code) == prefix);
	for (k = n; k < n + GUARD; k++)
		FUZZ_CHECK(c[k] == GUARD_BYTE);
	if (!prefix) {
		FUZZ_CHECK(!memcmp(c, b, n));
	} else if (n >= 48) {
		FUZZ_CHECK(c[O_TYPE] == VSHM_MSG_REFUSED);
		FUZZ_CHECK(fz_le32(c + O_STATUS) == (code ? code : VSHM_E_INTERNAL));
	} else {
		for (k = 0; k < m; k++)
			FUZZ_CHECK(c[k] == 0);
		FUZZ_CHECK(!memcmp(c + m, b + m, n - m));
	}
	free(c);
}

static void check_mark_refused(const uint8_t *b, size_t n, uint32_t code,
			       uint32_t detail)
{
	struct vshm_wire_info ri;
	uint8_t *c = malloc(n + GUARD);
	size_t k;
	int rc, hrc;

	FUZZ_CHECK(c);
	memcpy(c, b, n);
	memset(c + n, GUARD_BYTE, GUARD);
	rc = vshm_wire_mark_refused(c, n, code, detail);
	for (k = n; k < n + GUARD; k++)
		FUZZ_CHECK(c[k] == GUARD_BYTE);
	if (n < 48) {
		FUZZ_CHECK(rc == VSHM_E_TRUNC);
		FUZZ_CHECK(!memcmp(c, b, n));
		free(c);
		return;
	}
	FUZZ_CHECK(rc == VSHM_OK);
	for (k = 0; k < n; k++)
		if (!refused_may_write(k))
			FUZZ_CHECK(c[k] == b[k]);
	FUZZ_CHECK(fz_le32(c) == VSHM_MAGIC && c[O_VERSION] == 1 &&
		   c[O_TYPE] == VSHM_MSG_REFUSED && !fz_le16(c + O_FLAGS));
	FUZZ_CHECK(fz_le64(c + O_GRANT) == detail);
	FUZZ_CHECK(fz_le32(c + O_STATUS) == (code ? code : VSHM_E_INTERNAL));
	FUZZ_CHECK(vshm_wire_is_list(c, n));

	/* The server accepts it iff hdr.len is right (section 10). */
	hrc = vshm_wire_check_host(c, n, &ri);
	if (fz_le32(c + O_LEN) == n && n <= VSHM_MAX_MSG) {
		FUZZ_CHECK(hrc == VSHM_OK);
		FUZZ_CHECK(ri.status == fz_le32(c + O_STATUS));
		FUZZ_CHECK(ri.detail == detail);
	} else {
		FUZZ_CHECK(hrc == VSHM_E_LEN);
	}
	free(c);
}

/*
 * The module's decision for a guest packet that arrived whole (hook.c,
 * pkt_parse()/pkt_apply() with a policy that translates everything), on a
 * copy. Whatever the guest sent, the server (vshm_wire_check_host()) may
 * accept an HPA_LIST only if the module translated a valid GPA_LIST, and a
 * REFUSED only if the module wrote it.
 */
static void check_module(const uint8_t *b, size_t n, int grc, int dup_rc,
			 uint32_t bad)
{
	struct vshm_wire_info hi;
	enum { UNCHANGED, REFUSED, TRANSLATED } what = UNCHANGED;
	uint8_t *c = malloc(n ? n : 1);
	int rc;

	FUZZ_CHECK(c);
	memcpy(c, b, n);
	if (n >= 16 && fz_le32(b) == VSHM_MAGIC) {
		uint8_t t = b[O_TYPE];

		if (t == VSHM_MSG_HPA_LIST || t == VSHM_MSG_REFUSED) {
			if (!vshm_wire_mark_refused(c, n, VSHM_E_TYPE,
						    VSHM_NO_INDEX))
				what = REFUSED;
		} else if (t == VSHM_MSG_GPA_LIST) {
			int err = grc ? grc : dup_rc;

			if (err) {
				if (!vshm_wire_mark_refused(c, n, err, bad))
					what = REFUSED;
			} else {
				vshm_wire_mark_hpa(c, fake_grant(b, n));
				what = TRANSLATED;
			}
		}
	}
	rc = vshm_wire_check_host(c, n, &hi);
	if (!rc && hi.type == VSHM_MSG_HPA_LIST)
		FUZZ_CHECK(what == TRANSLATED && !grc && !dup_rc);
	if (!rc && hi.type == VSHM_MSG_REFUSED)
		FUZZ_CHECK(what == REFUSED);
	if (what == TRANSLATED)
		FUZZ_CHECK(!rc && hi.type == VSHM_MSG_HPA_LIST);
	if (what == UNCHANGED)
		FUZZ_CHECK(!memcmp(c, b, n));
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vshm_wire_info gi, hi;
	uint32_t rbad, code, detail;
	int grc, hrc, rrc, dup_rc = VSHM_OK;
	uint32_t bad = VSHM_NO_INDEX;
	uint8_t *b;

	/* An exact-size copy: ASan sees any read past the message. */
	b = malloc(size ? size : 1);
	FUZZ_CHECK(b);
	memcpy(b, data, size);

	/* 1. Both validators against the reference. */
	grc = vshm_wire_check(b, size, &gi);
	rrc = ref_guest(b, size, &rbad);
	FUZZ_CHECK(grc == rrc);
	FUZZ_CHECK(gi.bad_index == rbad);
	FUZZ_CHECK(vshm_wire_check(b, size, NULL) == grc);
	if (size >= 16)
		FUZZ_CHECK(gi.type == b[O_TYPE] &&
			   gi.region == fz_le32(b + O_REGION) &&
			   gi.len == fz_le32(b + O_LEN));
	else
		FUZZ_CHECK(!gi.type && !gi.region && !gi.len);
	FUZZ_CHECK(vshm_err_name(grc)[0] == 'V');
	FUZZ_CHECK(!strcmp(vshm_err_name(-grc - 1), "VSHM_E_UNKNOWN"));
	if (grc == VSHM_OK)
		check_passed_guest(b, size, &gi);
	else
		FUZZ_CHECK(grc > 0 && grc <= VSHM_E_ALLOC);
	bad = gi.bad_index;

	hrc = vshm_wire_check_host(b, size, &hi);
	rrc = ref_host(b, size, &rbad);
	FUZZ_CHECK(hrc == rrc);
	FUZZ_CHECK(hi.bad_index == rbad);
	FUZZ_CHECK(vshm_wire_check_host(b, size, NULL) == hrc);
	if (hrc == VSHM_OK)
		check_passed_host(b, size, &hi);
	else
		FUZZ_CHECK(hrc > 0 && hrc <= VSHM_E_ALLOC);

	/* No message is both a guest's and a host's, but NOTIFY. */
	FUZZ_CHECK(grc || hrc || b[O_TYPE] == VSHM_MSG_NOTIFY);
	FUZZ_CHECK(vshm_wire_is_list(b, size) ==
		   (size >= 16 && fz_le32(b) == VSHM_MAGIC && b[O_VERSION] == 1 &&
		    (b[O_TYPE] == 3 || b[O_TYPE] == 4 || b[O_TYPE] == 5)));

	/* 2. Overlap. */
	if (grc == VSHM_OK && gi.type == VSHM_MSG_GPA_LIST) {
		uint32_t n = gi.nr_ext, i;

		dup_rc = vshm_wire_check_dup(gi.ext, n, scratch);
		FUZZ_CHECK(dup_rc == VSHM_OK || dup_rc == VSHM_E_DUP);
		FUZZ_CHECK((dup_rc == VSHM_E_DUP) == ref_overlap(b, n));
		if (dup_rc == VSHM_E_DUP) {
			FUZZ_CHECK(scratch[0] < n);
			FUZZ_CHECK(ext_overlaps_other(b, n, scratch[0]));
			bad = scratch[0];
		} else if (n >= 2) {
			/* Sorted permutation of 0..n-1, neighbours apart. */
			static uint8_t seen[VSHM_MAX_EXT_PER_MSG];

			memset(seen, 0, n);
			for (i = 0; i < n; i++) {
				FUZZ_CHECK(scratch[i] < n && !seen[scratch[i]]);
				seen[scratch[i]] = 1;
			}
			for (i = 1; i < n; i++) {
				uint64_t a0, a1;
				uint32_t n0, n1;

				ext_at(b, scratch[i - 1], &a0, &n0);
				ext_at(b, scratch[i], &a1, &n1);
				FUZZ_CHECK(a0 + (uint64_t)n0 * 4096 <= a1);
			}
		}
		FUZZ_CHECK(vshm_wire_check_dup(gi.ext, VSHM_MAX_EXT_PER_MSG + 1,
					       scratch) == VSHM_E_COUNT);
		/* 3. The rewrite of a list the module translates. */
		if (dup_rc == VSHM_OK)
			check_mark_hpa(b, size, &gi);
	}

	/* 3. mark_refused on any buffer, with codes the module uses. */
	code = size ? b[size - 1] % (VSHM_E_MAX + 2) : 0;
	detail = size > 1 ? (b[size - 2] & 1 ? VSHM_NO_INDEX : b[size - 2]) :
			    VSHM_NO_INDEX;
	check_mark_refused(b, size, code, detail);
	check_neuter(b, size, code);

	/* 4. The module's whole decision. */
	check_module(b, size, grc, dup_rc, bad);

	free(b);
	return 0;
}
