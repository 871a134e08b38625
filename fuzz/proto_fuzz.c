// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the user-space message parser vshm_decode()
 * (userspace/lib/proto.c) and the encoders, both ways.
 *
 * Decode, then encode: the input is one message. vshm_decode() must return
 * 0 or a positive enum vshm_err, fill type/region/len from the header, and
 * keep bad_index within the list. A message that decodes is re-encoded from
 * the decoded fields with the proto encoders and must come out as the same
 * bytes: the protocol gives these types a unique encoding (every byte is a
 * field the decoder returns, a value derived from them, or a pad that must
 * be zero):
 *
 *   ALLOC, ALLOC_OK, FREE, FREED, MAPPED, ERROR, CHUNK_OK: always;
 *   GPA_LIST: always (nr_pages is the sum, LAST follows from the pages);
 *   HPA_LIST: vshm_encode_gpa_list() of its runs, then
 *     vshm_wire_mark_hpa() with its grant (the module's rewrite), whenever
 *     its runs are also valid guest runs; an HPA_LIST whose runs overlap or
 *     cross 2^52 (legal for host runs) must make the encoder fail instead.
 *
 * REFUSED has no unique encoding: after its 48-byte fixed part it carries
 * the guest's message as sent, unchecked, and no encoder makes it; only its
 * decoded fields are checked against the raw bytes.
 *
 * Encode, then decode: the same input bytes are also read as arguments for
 * one encoder (chosen by the first byte). An encoder that succeeds must
 * produce a message that decodes to exactly those arguments; one that fails
 * must have been given an argument that breaks a rule (or too small a
 * buffer).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "fuzz.h"

static uint8_t enc[VSHM_MAX_MSG + 64];
static struct vshm_run runs[VSHM_MAX_EXT_PER_MSG + 1];	/* + 1: too many */
static uint8_t wext[VSHM_MAX_EXT_PER_MSG * 16];

struct span {
	uint64_t addr, end;
};

static struct span spans[VSHM_MAX_EXT_PER_MSG];

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Do two of the n runs share a page? (runs end at or below 2^64) */
static bool runs_overlap(const struct vshm_run *rs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		spans[i].addr = rs[i].addr;
		spans[i].end = rs[i].addr + (uint64_t)rs[i].npages * 4096;
	}
	qsort(spans, n, sizeof(spans[0]), span_cmp);
	for (i = 1; i < n; i++)
		if (spans[i - 1].end > spans[i].addr)
			return true;
	return false;
}

/* Is run r valid alone in a GPA_LIST (E2-E4)? */
static bool run_ok(const struct vshm_run *r)
{
	return r->npages && r->addr % 4096 == 0 &&
	       r->addr < VSHM_PHYS_LIMIT &&
	       r->addr + (uint64_t)r->npages * 4096 <= VSHM_PHYS_LIMIT;
}

/* The input's extents as runs; are they valid guest runs (E2-E4, no overlap)? */
static bool runs_of(const struct vshm_msg *m, uint32_t n)
{
	uint32_t i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		runs[i] = vshm_msg_run(m, i);
		if (!run_ok(&runs[i]))
			ok = false;
	}
	return ok && !runs_overlap(runs, n);
}

/* The decoded fields of a and b are the same (ext may point elsewhere). */
static void same_msg(const struct vshm_msg *a, const struct vshm_msg *b)
{
	uint32_t i;

	FUZZ_CHECK(a->type == b->type && a->region == b->region &&
		   a->len == b->len && a->bad_index == b->bad_index);
	switch (a->type) {
	case VSHM_MSG_ALLOC:
		FUZZ_CHECK(a->alloc.size == b->alloc.size &&
			   a->alloc.page_size == b->alloc.page_size &&
			   a->alloc.access == b->alloc.access &&
			   a->alloc.nr_pages == b->alloc.nr_pages &&
			   a->alloc.has_cookie == b->alloc.has_cookie &&
			   a->alloc.cookie == b->alloc.cookie);
		break;
	case VSHM_MSG_HELLO:
	case VSHM_MSG_HELLO_OK:
		FUZZ_CHECK(a->hello.features == b->hello.features);
		break;
	case VSHM_MSG_REVOKED:
		FUZZ_CHECK(a->revoked.grant == b->revoked.grant &&
			   a->revoked.reason == b->revoked.reason);
		break;
	case VSHM_MSG_NOTIFY:
		FUZZ_CHECK(a->notify.bits == b->notify.bits);
		break;
	case VSHM_MSG_GPA_LIST:
	case VSHM_MSG_HPA_LIST:
		FUZZ_CHECK(a->list.grant == b->list.grant &&
			   a->list.first_page == b->list.first_page &&
			   a->list.nr_pages == b->list.nr_pages &&
			   a->list.total_pages == b->list.total_pages &&
			   a->list.nr_ext == b->list.nr_ext &&
			   a->list.last == b->list.last);
		for (i = 0; i < a->list.nr_ext; i++) {
			struct vshm_run x = vshm_msg_run(a, i);
			struct vshm_run y = vshm_msg_run(b, i);

			FUZZ_CHECK(x.addr == y.addr && x.npages == y.npages);
		}
		break;
	case VSHM_MSG_MAPPED:
		FUZZ_CHECK(a->mapped.grant == b->mapped.grant &&
			   a->mapped.nr_pages == b->mapped.nr_pages);
		break;
	case VSHM_MSG_ERROR:
		FUZZ_CHECK(a->error.code == b->error.code &&
			   a->error.detail == b->error.detail &&
			   a->error.orig_type == b->error.orig_type);
		break;
	case VSHM_MSG_CHUNK_OK:
		FUZZ_CHECK(a->chunk_ok.first_page == b->chunk_ok.first_page &&
			   a->chunk_ok.nr_pages == b->chunk_ok.nr_pages);
		break;
	default:
		break;
	}
}

/* Re-encodes a decoded message: same bytes, where the encoding is unique. */
static void reencode(const uint8_t *b, size_t n, const struct vshm_msg *m)
{
	struct vshm_msg m2;
	ssize_t len = 0;
	bool valid_runs;

	switch (m->type) {
	case VSHM_MSG_ALLOC:
		if (m->alloc.has_cookie)
			len = vshm_encode_alloc_cookie(enc, sizeof(enc),
						       m->region,
						       m->alloc.size,
						       m->alloc.page_size,
						       m->alloc.access,
						       m->alloc.cookie);
		else
			len = vshm_encode_alloc(enc, sizeof(enc), m->region,
						m->alloc.size,
						m->alloc.page_size,
						m->alloc.access);
		break;
	case VSHM_MSG_HELLO:
		len = vshm_encode_hello(enc, sizeof(enc), m->region,
					m->hello.features);
		break;
	case VSHM_MSG_HELLO_OK:
		len = vshm_encode_hello_ok(enc, sizeof(enc), m->region,
					   m->hello.features);
		break;
	case VSHM_MSG_REVOKED:
		len = vshm_encode_revoked(enc, sizeof(enc), m->region,
					  m->revoked.grant, m->revoked.reason);
		break;
	case VSHM_MSG_NOTIFY:
		len = vshm_encode_notify(enc, sizeof(enc), m->region,
					 m->notify.bits);
		break;
	case VSHM_MSG_ALLOC_OK:
		len = vshm_encode_alloc_ok(enc, sizeof(enc), m->region);
		break;
	case VSHM_MSG_FREE:
		len = vshm_encode_free(enc, sizeof(enc), m->region);
		break;
	case VSHM_MSG_FREED:
		len = vshm_encode_freed(enc, sizeof(enc), m->region);
		break;
	case VSHM_MSG_MAPPED:
		len = vshm_encode_mapped(enc, sizeof(enc), m->region,
					 m->mapped.grant, m->mapped.nr_pages);
		break;
	case VSHM_MSG_ERROR:
		len = vshm_encode_error(enc, sizeof(enc), m->region,
					m->error.code, m->error.detail,
					m->error.orig_type);
		break;
	case VSHM_MSG_CHUNK_OK:
		len = vshm_encode_chunk_ok(enc, sizeof(enc), m->region,
					   m->chunk_ok.first_page,
					   m->chunk_ok.nr_pages);
		break;
	case VSHM_MSG_GPA_LIST:
		FUZZ_CHECK(runs_of(m, m->list.nr_ext));
		len = vshm_encode_gpa_list(enc, sizeof(enc), m->region,
					   m->list.first_page,
					   m->list.total_pages, runs,
					   m->list.nr_ext);
		break;
	case VSHM_MSG_HPA_LIST:
		valid_runs = runs_of(m, m->list.nr_ext);
		len = vshm_encode_gpa_list(enc, sizeof(enc), m->region,
					   m->list.first_page,
					   m->list.total_pages, runs,
					   m->list.nr_ext);
		if (!valid_runs) {
			FUZZ_CHECK(len == -EINVAL);
			return;
		}
		FUZZ_CHECK(len > 0);
		vshm_wire_mark_hpa(enc, m->list.grant);
		break;
	case VSHM_MSG_REFUSED:
		/* Not unique: the fields must be the raw bytes. */
		FUZZ_CHECK(n >= 48);
		FUZZ_CHECK(m->list.status == fz_le32(b + 24) && m->list.status);
		FUZZ_CHECK(m->list.detail == fz_le32(b + 16) &&
			   fz_le32(b + 20) == 0);
		FUZZ_CHECK(m->list.grant == 0 && m->list.ext == NULL);
		FUZZ_CHECK(m->list.first_page == fz_le32(b + 28) &&
			   m->list.nr_pages == fz_le32(b + 32) &&
			   m->list.total_pages == fz_le32(b + 36) &&
			   m->list.nr_ext == fz_le16(b + 40) &&
			   m->list.last == (fz_le16(b + 42) & 1));
		FUZZ_CHECK(vshm_msg_run(m, 0).npages == 0);
		return;
	default:
		FUZZ_CHECK(!"decoded an unknown type");
	}
	FUZZ_CHECK(len == (ssize_t)n);
	FUZZ_CHECK(!memcmp(enc, b, n));
	FUZZ_CHECK(vshm_decode(enc, n, &m2) == 0);
	same_msg(m, &m2);
}

static void decode_side(const uint8_t *b, size_t n)
{
	struct vshm_msg m, m2;
	int rc;

	rc = vshm_decode(b, n, &m);
	FUZZ_CHECK(rc >= 0 && rc <= VSHM_E_MAX);
	FUZZ_CHECK(vshm_decode(b, n, &m2) == rc);
	same_msg(&m, &m2);
	if (n >= 16) {
		FUZZ_CHECK(m.type == b[5] && m.region == fz_le32(b + 12) &&
			   m.len == fz_le32(b + 8));
	} else {
		FUZZ_CHECK(rc == VSHM_E_TRUNC && !m.type && !m.region);
	}
	/* bad_index names an extent of the list, or none. */
	if (m.bad_index != VSHM_NO_INDEX) {
		FUZZ_CHECK(rc == VSHM_E_RESERVED || rc == VSHM_E_COUNT ||
			   rc == VSHM_E_ALIGN || rc == VSHM_E_RANGE ||
			   rc == VSHM_E_DUP);
		FUZZ_CHECK(n >= 48 && m.bad_index < fz_le16(b + 40));
	}
	if (rc == VSHM_E_DUP)
		FUZZ_CHECK(m.type == VSHM_MSG_GPA_LIST &&
			   m.bad_index != VSHM_NO_INDEX);
	if (rc)
		return;
	FUZZ_CHECK(m.len == n);
	FUZZ_CHECK(strcmp(vshm_msg_type_name(m.type), "UNKNOWN"));
	if (m.type == VSHM_MSG_GPA_LIST || m.type == VSHM_MSG_HPA_LIST) {
		FUZZ_CHECK(m.list.ext == b + 48);
		FUZZ_CHECK(vshm_msg_run(&m, m.list.nr_ext).npages == 0);
	}
	reencode(b, n, &m);
}

/* ---- encode, then decode ---- */

static uint32_t pick_page_size(struct fz_reader *r)
{
	uint8_t k = fz_u8(r);

	if (k < 100)
		return VSHM_PAGE_SIZE;
	if (k < 200)
		return VSHM_HUGE_PAGE_SIZE;
	return fz_u32(r);
}

static size_t pick_cap(struct fz_reader *r)
{
	uint8_t k = fz_u8(r);

	return k < 240 ? sizeof(enc) : k - 240u + 10u;	/* 10..25 */
}

/*
 * Checks an encoder's result: -ENOSPC only with a small cap, -EINVAL only
 * if ok is false; a message otherwise, that decodes to m (fields filled by
 * the caller) exactly.
 */
static void check_enc(ssize_t len, size_t cap, size_t want, bool ok,
		      const struct vshm_msg *want_m)
{
	struct vshm_msg m;

	if (len == -ENOSPC) {
		FUZZ_CHECK(cap < want);
		return;
	}
	if (len == -EINVAL) {
		FUZZ_CHECK(!ok);
		return;
	}
	FUZZ_CHECK(ok && len > 0 && (size_t)len == want && cap >= want);
	FUZZ_CHECK(vshm_decode(enc, (size_t)len, &m) == 0);
	same_msg(want_m, &m);
}

static void encode_side(const uint8_t *b, size_t n)
{
	struct fz_reader r = { b, n };
	struct vshm_msg w;
	uint8_t kind = fz_u8(&r) % 9;
	size_t cap = pick_cap(&r), i;
	uint64_t sum = 0;
	ssize_t len;
	bool ok;

	memset(&w, 0, sizeof(w));
	w.bad_index = VSHM_NO_INDEX;
	w.region = fz_u32(&r);
	switch (kind) {
	case 0: /* ALLOC */
		w.type = VSHM_MSG_ALLOC;
		w.len = 40;
		w.alloc.size = fz_u64(&r);
		w.alloc.page_size = pick_page_size(&r);
		w.alloc.access = fz_u8(&r) & 7;
		w.alloc.nr_pages = (uint32_t)(w.alloc.size / 4096);
		ok = w.region &&
		     (w.alloc.page_size == 4096 || w.alloc.page_size == 2097152) &&
		     w.alloc.size && w.alloc.size % w.alloc.page_size == 0 &&
		     w.alloc.size / 4096 <= UINT32_MAX &&
		     w.alloc.access && !(w.alloc.access & ~3u);
		len = vshm_encode_alloc(enc, cap, w.region, w.alloc.size,
					w.alloc.page_size, w.alloc.access);
		check_enc(len, cap, 40, ok, &w);
		break;
	case 1: /* ALLOC_OK */
	case 2: /* FREE */
	case 3: /* FREED */
		w.type = kind == 1 ? VSHM_MSG_ALLOC_OK :
			 kind == 2 ? VSHM_MSG_FREE : VSHM_MSG_FREED;
		w.len = 16;
		len = kind == 1 ? vshm_encode_alloc_ok(enc, cap, w.region) :
		      kind == 2 ? vshm_encode_free(enc, cap, w.region) :
				  vshm_encode_freed(enc, cap, w.region);
		check_enc(len, cap, 16, w.region != 0, &w);
		break;
	case 4: /* MAPPED */
		w.type = VSHM_MSG_MAPPED;
		w.len = 32;
		w.mapped.grant = fz_u8(&r) < 32 ? 0 : fz_u64(&r);
		w.mapped.nr_pages = fz_u32(&r);
		len = vshm_encode_mapped(enc, cap, w.region, w.mapped.grant,
					 w.mapped.nr_pages);
		check_enc(len, cap, 32, w.region && w.mapped.grant &&
			  w.mapped.nr_pages, &w);
		break;
	case 5: /* ERROR */
		w.type = VSHM_MSG_ERROR;
		w.len = 32;
		w.error.code = fz_u32(&r);
		w.error.detail = fz_u32(&r);
		w.error.orig_type = fz_u8(&r);
		len = vshm_encode_error(enc, cap, w.region, w.error.code,
					w.error.detail, w.error.orig_type);
		check_enc(len, cap, 32, w.error.code != 0, &w);
		break;
	case 6: /* CHUNK_OK */
		w.type = VSHM_MSG_CHUNK_OK;
		w.len = 32;
		w.chunk_ok.first_page = fz_u32(&r);
		w.chunk_ok.nr_pages = fz_u32(&r);
		len = vshm_encode_chunk_ok(enc, cap, w.region,
					   w.chunk_ok.first_page,
					   w.chunk_ok.nr_pages);
		check_enc(len, cap, 32, w.region && w.chunk_ok.nr_pages &&
			  (uint64_t)w.chunk_ok.first_page +
			  w.chunk_ok.nr_pages <= UINT32_MAX, &w);
		break;
	default: /* GPA_LIST, n runs (7: up to 64, 8: up to 4094) */
		w.type = VSHM_MSG_GPA_LIST;
		w.list.nr_ext = kind == 7 ? fz_u8(&r) % 65 :
					    fz_u16(&r) % (VSHM_MAX_EXT_PER_MSG + 2);
		w.list.first_page = fz_u32(&r);
		w.list.total_pages = fz_u32(&r);
		for (i = 0; i < w.list.nr_ext; i++) {
			/* Compact encodings: page-granular, mostly valid. */
			uint8_t f = fz_u8(&r);

			runs[i].addr = f & 0x80 ? fz_u64(&r) :
				       (uint64_t)fz_u16(&r) << 12;
			runs[i].npages = f & 0x40 ? fz_u32(&r) : (f & 0x3f);
			sum += runs[i].npages;
		}
		w.list.nr_pages = (uint32_t)sum;
		w.list.last = (uint64_t)w.list.first_page + sum ==
			      w.list.total_pages;
		w.len = (uint32_t)VSHM_GPA_LIST_SIZE(w.list.nr_ext);
		len = vshm_encode_gpa_list(enc, cap, w.region,
					   w.list.first_page,
					   w.list.total_pages, runs,
					   w.list.nr_ext);
		/* Exact validity is the decoder's (checked above); here:
		 * the cheap rules must be enforced.
		 */
		ok = w.region && w.list.nr_ext >= 1 &&
		     w.list.nr_ext <= VSHM_MAX_EXT_PER_MSG &&
		     sum && sum <= UINT32_MAX && w.list.total_pages &&
		     (uint64_t)w.list.first_page + sum <= w.list.total_pages;
		if (!ok) {
			FUZZ_CHECK(len == -EINVAL ||
				   (len == -ENOSPC && w.list.nr_ext));
			break;
		}
		if (len == -EINVAL) {
			/* Then a run breaks E2-E4, or two overlap. */
			for (i = 0; i < w.list.nr_ext; i++)
				if (!run_ok(&runs[i]))
					break;
			FUZZ_CHECK(i < w.list.nr_ext ||
				   runs_overlap(runs, w.list.nr_ext));
			break;
		}
		/* The runs as the decoder must find them, in wire format. */
		for (i = 0; i < w.list.nr_ext; i++) {
			fz_put_le64(wext + 16 * i, runs[i].addr);
			fz_put_le32(wext + 16 * i + 8, runs[i].npages);
			fz_put_le32(wext + 16 * i + 12, 0);
		}
		w.list.ext = wext;
		check_enc(len, cap, VSHM_GPA_LIST_SIZE(w.list.nr_ext), true,
			  &w);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan sees any read past the message. */
	uint8_t *b = malloc(size ? size : 1);

	FUZZ_CHECK(b);
	memcpy(b, data, size);
	FUZZ_CHECK(vshm_decode(NULL, size, NULL) == -EINVAL);
	decode_side(b, size);
	encode_side(b, size);
	free(b);
	return 0;
}
