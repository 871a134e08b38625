// SPDX-License-Identifier: GPL-2.0
/*
 * Encoders and decoder (proto.c): exact bytes, round trips of every
 * message, argument errors, and the host-side decode rules.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

static uint8_t buf[VSHM_MAX_MSG + 64];

#define expect_rc(rc, want) \
	cr_assert_eq((rc), (want), "got %d (%s), want %d (%s)", (int)(rc), \
		     vshm_err_name((int)(rc)), (int)(want), \
		     vshm_err_name((int)(want)))

/* Exact bytes. */

Test(proto, bytes_alloc)
{
	static const uint8_t want[40] = {
		0x56, 0x53, 0x48, 0x4d, 0x01, 0x01, 0x00, 0x00,
		0x28, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01,
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	memset(buf, 0xaa, sizeof(buf));
	expect_rc(vshm_encode_alloc(buf, sizeof(buf), 0x01020304, 0x10000,
				    4096, 3), 40);
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(buf[40], 0xaa, "wrote past the message");
}

Test(proto, bytes_gpa_list)
{
	static const uint8_t want[80] = {
		0x56, 0x53, 0x48, 0x4d, 0x01, 0x03, 0x00, 0x00,
		0x50, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x50, 0x34, 0x12, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	const struct vshm_run runs[] = { { 0x12345000, 2 }, { 0x1000, 1 } };

	memset(buf, 0xaa, sizeof(buf));
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 5, 0, 3, runs, 2), 80);
	cr_assert_arr_eq(buf, want, sizeof(want));
}

Test(proto, bytes_error)
{
	static const uint8_t want[32] = {
		0x56, 0x53, 0x48, 0x4d, 0x01, 0x09, 0x00, 0x00,
		0x20, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
		0x08, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};

	memset(buf, 0xaa, sizeof(buf));
	expect_rc(vshm_encode_error(buf, sizeof(buf), 9, VSHM_E_COUNT, 3,
				    VSHM_MSG_GPA_LIST), 32);
	cr_assert_arr_eq(buf, want, sizeof(want));
}

Test(proto, bytes_chunk_ok)
{
	static const uint8_t want[32] = {
		0x56, 0x53, 0x48, 0x4d, 0x01, 0x0a, 0x00, 0x00,
		0x20, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
		0xfd, 0x0f, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
	};

	memset(buf, 0xaa, sizeof(buf));
	expect_rc(vshm_encode_chunk_ok(buf, sizeof(buf), 5, 4093, 0x10200),
		  32);
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(buf[32], 0xaa, "wrote past the message");
}

/* Round trips. */

Test(proto, roundtrip_alloc)
{
	struct vshm_msg m;
	ssize_t n = vshm_encode_alloc(buf, sizeof(buf), 42, 6ULL << 20,
				      VSHM_HUGE_PAGE_SIZE, VSHM_ACCESS_READ);

	expect_rc(n, 40);
	expect_rc(vshm_decode(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC);
	cr_assert_eq(m.region, 42);
	cr_assert_eq(m.len, 40);
	cr_assert_eq(m.alloc.size, 6ULL << 20);
	cr_assert_eq(m.alloc.page_size, VSHM_HUGE_PAGE_SIZE);
	cr_assert_eq(m.alloc.access, VSHM_ACCESS_READ);
	cr_assert_eq(m.alloc.nr_pages, 1536);
}

Test(proto, roundtrip_header_only)
{
	static const struct {
		ssize_t (*enc)(void *buf, size_t cap, uint32_t region);
		uint8_t type;
	} cases[] = {
		{ vshm_encode_alloc_ok, VSHM_MSG_ALLOC_OK },
		{ vshm_encode_free, VSHM_MSG_FREE },
		{ vshm_encode_freed, VSHM_MSG_FREED },
	};
	struct vshm_msg m;
	size_t i;

	for (i = 0; i < 3; i++) {
		expect_rc(cases[i].enc(buf, sizeof(buf), 0xfffffffe), 16);
		expect_rc(vshm_decode(buf, 16, &m), 0);
		cr_assert_eq(m.type, cases[i].type);
		cr_assert_eq(m.region, 0xfffffffe);
		cr_assert_eq(m.len, 16);
	}
}

Test(proto, roundtrip_gpa_list)
{
	const struct vshm_run runs[] = {
		{ 0x40000000, 512 }, { 0x1000, 1 }, { 0xfffff000000ULL, 7 },
	};
	struct vshm_msg m;
	struct vshm_run r;
	ssize_t n;

	n = vshm_encode_gpa_list(buf, sizeof(buf), 3, 100, 1000, runs, 3);
	expect_rc(n, 96);
	expect_rc(vshm_decode(buf, (size_t)n, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_GPA_LIST);
	cr_assert_eq(m.region, 3);
	cr_assert_eq(m.list.grant, 0);
	cr_assert_eq(m.list.status, 0);
	cr_assert_eq(m.list.first_page, 100);
	cr_assert_eq(m.list.nr_pages, 520);
	cr_assert_eq(m.list.total_pages, 1000);
	cr_assert_eq(m.list.nr_ext, 3);
	cr_assert_not(m.list.last);
	for (uint32_t i = 0; i < 3; i++) {
		r = vshm_msg_run(&m, i);
		cr_assert_eq(r.addr, runs[i].addr);
		cr_assert_eq(r.npages, runs[i].npages);
	}
	r = vshm_msg_run(&m, 3);
	cr_assert_eq(r.addr, 0);
	cr_assert_eq(r.npages, 0);
}

Test(proto, roundtrip_gpa_list_last_chunk)
{
	const struct vshm_run runs[] = { { 0x2000, 3 } };
	struct vshm_msg m;

	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 3, 997, 1000, runs, 1),
		  64);
	expect_rc(vshm_decode(buf, 64, &m), 0);
	cr_assert(m.list.last);
	cr_assert_eq(buf[42], VSHM_CHUNK_LAST);
}

Test(proto, roundtrip_hpa_list)
{
	const struct vshm_run runs[] = { { 0x10000, 4 }, { 0x80000, 1 } };
	struct vshm_msg m;
	struct vshm_run r;

	expect_rc(vshm_encode_gpa_list(buf + 4, sizeof(buf) - 4, 11, 0, 5,
				       runs, 2), 80);
	/* What the module does: rewrite every address, then mark. */
	vshm_wire_ext_set_addr(buf + 4 + 48, 0, 0x3ff000000ULL);
	vshm_wire_ext_set_addr(buf + 4 + 48, 1, 0x5000);
	vshm_wire_mark_hpa(buf + 4, 77);
	expect_rc(vshm_decode(buf + 4, 80, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_HPA_LIST);
	cr_assert_eq(m.region, 11);
	cr_assert_eq(m.list.grant, 77);
	cr_assert_eq(m.list.nr_pages, 5);
	cr_assert(m.list.last);
	r = vshm_msg_run(&m, 0);
	cr_assert_eq(r.addr, 0x3ff000000ULL);
	cr_assert_eq(r.npages, 4);
	r = vshm_msg_run(&m, 1);
	cr_assert_eq(r.addr, 0x5000);
	cr_assert_eq(r.npages, 1);
}

Test(proto, roundtrip_refused)
{
	const struct vshm_run runs[] = { { 0x10000, 4 }, { 0x80000, 1 } };
	struct vshm_msg m;

	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 11, 0, 5, runs, 2),
		  80);
	expect_rc(vshm_wire_mark_refused(buf, 80, VSHM_E_NOTMAPPABLE, 1), 0);
	expect_rc(vshm_decode(buf, 80, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_REFUSED);
	cr_assert_eq(m.region, 11);
	cr_assert_eq(m.list.status, VSHM_E_NOTMAPPABLE);
	cr_assert_eq(m.list.detail, 1);
	cr_assert_eq(m.list.grant, 0);
	cr_assert_eq(m.list.nr_ext, 2);
	cr_assert_null(m.list.ext);
	cr_assert_eq(vshm_msg_run(&m, 0).npages, 0);
}

Test(proto, roundtrip_mapped)
{
	struct vshm_msg m;

	expect_rc(vshm_encode_mapped(buf, sizeof(buf), 8, 0x8000000000000001ULL,
				     123456), 32);
	expect_rc(vshm_decode(buf, 32, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_MAPPED);
	cr_assert_eq(m.region, 8);
	cr_assert_eq(m.mapped.grant, 0x8000000000000001ULL);
	cr_assert_eq(m.mapped.nr_pages, 123456);
}

Test(proto, roundtrip_error)
{
	struct vshm_msg m;

	expect_rc(vshm_encode_error(buf, sizeof(buf), 8, VSHM_E_QUOTA,
				    VSHM_NO_INDEX, VSHM_MSG_ALLOC), 32);
	expect_rc(vshm_decode(buf, 32, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ERROR);
	cr_assert_eq(m.region, 8);
	cr_assert_eq(m.error.code, VSHM_E_QUOTA);
	cr_assert_eq(m.error.detail, VSHM_NO_INDEX);
	cr_assert_eq(m.error.orig_type, VSHM_MSG_ALLOC);
	/* Region 0: an error about the connection, not a region. */
	expect_rc(vshm_encode_error(buf, sizeof(buf), 0, VSHM_E_MAGIC,
				    VSHM_NO_INDEX, 0), 32);
	expect_rc(vshm_decode(buf, 32, &m), 0);
	cr_assert_eq(m.region, 0);
	/* A code this version does not know still decodes. */
	expect_rc(vshm_encode_error(buf, sizeof(buf), 1, 1000, 0, 0), 32);
	expect_rc(vshm_decode(buf, 32, &m), 0);
	cr_assert_eq(m.error.code, 1000);
}

/* Encoder errors. */

Test(proto, enospc_at_exact_size)
{
	const struct vshm_run runs[] = { { 0x1000, 1 }, { 0x3000, 1 } };

	expect_rc(vshm_encode_alloc(buf, 39, 1, 4096, 4096, 1), -ENOSPC);
	expect_rc(vshm_encode_alloc(buf, 40, 1, 4096, 4096, 1), 40);
	expect_rc(vshm_encode_alloc_ok(buf, 15, 1), -ENOSPC);
	expect_rc(vshm_encode_alloc_ok(buf, 16, 1), 16);
	expect_rc(vshm_encode_free(buf, 0, 1), -ENOSPC);
	expect_rc(vshm_encode_freed(buf, 15, 1), -ENOSPC);
	expect_rc(vshm_encode_gpa_list(buf, 79, 1, 0, 2, runs, 2), -ENOSPC);
	expect_rc(vshm_encode_gpa_list(buf, 80, 1, 0, 2, runs, 2), 80);
	expect_rc(vshm_encode_mapped(buf, 31, 1, 1, 1), -ENOSPC);
	expect_rc(vshm_encode_mapped(buf, 32, 1, 1, 1), 32);
	expect_rc(vshm_encode_error(buf, 31, 1, 1, 0, 0), -ENOSPC);
	expect_rc(vshm_encode_error(buf, 32, 1, 1, 0, 0), 32);
}

Test(proto, einval_null_and_region_zero)
{
	const struct vshm_run runs[] = { { 0x1000, 1 } };

	expect_rc(vshm_encode_alloc(NULL, 64, 1, 4096, 4096, 1), -EINVAL);
	expect_rc(vshm_encode_free(NULL, 64, 1), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 0, 4096, 4096, 1), -EINVAL);
	expect_rc(vshm_encode_alloc_ok(buf, 64, 0), -EINVAL);
	expect_rc(vshm_encode_free(buf, 64, 0), -EINVAL);
	expect_rc(vshm_encode_freed(buf, 64, 0), -EINVAL);
	expect_rc(vshm_encode_mapped(buf, 64, 0, 1, 1), -EINVAL);
	expect_rc(vshm_encode_gpa_list(buf, 64, 0, 0, 1, runs, 1), -EINVAL);
}

Test(proto, einval_alloc_args)
{
	expect_rc(vshm_encode_alloc(buf, 64, 1, 0, 4096, 1), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 4095, 4096, 1), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 4096, 8192, 1), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 4096, VSHM_HUGE_PAGE_SIZE, 1),
		  -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 4096, 4096, 0), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 4096, 4096, 4), -EINVAL);
	expect_rc(vshm_encode_alloc(buf, 64, 1, 1ULL << 44, 4096, 1), -EINVAL);
}

Test(proto, einval_gpa_list_args)
{
	struct vshm_run runs[3] = {
		{ 0x1000, 1 }, { 0x8000, 2 }, { 0x20000, 1 },
	};

	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, NULL, 1),
		  -EINVAL);
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 0),
		  -EINVAL);
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs,
				       VSHM_MAX_EXT_PER_MSG + 1), -EINVAL);
	/* past total_pages */
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 1, 4, runs, 3),
		  -EINVAL);
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 0, runs, 3),
		  -EINVAL);
	runs[1].npages = 0;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 3),
		  -EINVAL);
	runs[1].npages = 2;
	runs[1].addr = 0x8800;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 3),
		  -EINVAL);
	runs[1].addr = VSHM_PHYS_LIMIT - 4096;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 3),
		  -EINVAL);
	/* overlap: run 2 inside run 1 */
	runs[1].addr = 0x1f000;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 3),
		  -EINVAL);
	runs[1].addr = 0x8000;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 4, runs, 3),
		  96);
	/* pages past 2^32 in one chunk */
	runs[0].npages = 0xffffffff;
	runs[0].addr = 0x100000000ULL;
	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 1, 0, 0xffffffff, runs,
				       3), -EINVAL);
}

Test(proto, roundtrip_chunk_ok)
{
	struct vshm_msg m;

	expect_rc(vshm_encode_chunk_ok(buf + 3, 32, 77, 100, 23), 32);
	expect_rc(vshm_decode(buf + 3, 32, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_CHUNK_OK);
	cr_assert_eq(m.region, 77);
	cr_assert_eq(m.len, 32);
	cr_assert_eq(m.chunk_ok.first_page, 100);
	cr_assert_eq(m.chunk_ok.nr_pages, 23);
}

Test(proto, einval_chunk_ok_args)
{
	expect_rc(vshm_encode_chunk_ok(NULL, 64, 1, 0, 1), -EINVAL);
	expect_rc(vshm_encode_chunk_ok(buf, 31, 1, 0, 1), -ENOSPC);
	expect_rc(vshm_encode_chunk_ok(buf, 64, 0, 0, 1), -EINVAL);
	expect_rc(vshm_encode_chunk_ok(buf, 64, 1, 0, 0), -EINVAL);
	expect_rc(vshm_encode_chunk_ok(buf, 64, 1, 0xffffffff, 1), -EINVAL);
}

Test(proto, decode_chunk_ok_rules)
{
	struct vshm_msg m;

	vshm_encode_chunk_ok(buf, sizeof(buf), 1, 8, 9);
	put_unaligned_le64(1ULL << 63, buf + 24);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_RESERVED);
	put_unaligned_le64(0, buf + 24);
	put_unaligned_le32(0, buf + 20);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_COUNT);
	put_unaligned_le32(9, buf + 20);
	put_unaligned_le32(24, buf + 8);
	expect_rc(vshm_decode(buf, 24, &m), VSHM_E_LEN);
}

Test(proto, einval_host_args)
{
	expect_rc(vshm_encode_mapped(buf, 64, 1, 0, 1), -EINVAL);
	expect_rc(vshm_encode_mapped(buf, 64, 1, 1, 0), -EINVAL);
	expect_rc(vshm_encode_error(buf, 64, 1, VSHM_OK, 0, 0), -EINVAL);
}

/* Decoder: host-side rules and argument errors. */

Test(proto, decode_null_and_trunc)
{
	struct vshm_msg m;

	expect_rc(vshm_decode(NULL, 16, &m), -EINVAL);
	expect_rc(vshm_decode(buf, 16, NULL), -EINVAL);
	vshm_encode_freed(buf, sizeof(buf), 1);
	expect_rc(vshm_decode(buf, 15, &m), VSHM_E_TRUNC);
	expect_rc(vshm_decode(buf, 0, &m), VSHM_E_TRUNC);
}

Test(proto, decode_header_rules_host_side)
{
	struct vshm_msg m;

	vshm_encode_alloc_ok(buf, sizeof(buf), 1);
	buf[0] ^= 0x80;
	expect_rc(vshm_decode(buf, 16, &m), VSHM_E_MAGIC);
	buf[0] ^= 0x80;
	buf[4] = 9;
	expect_rc(vshm_decode(buf, 16, &m), VSHM_E_VERSION);
	buf[4] = 1;
	buf[5] = 0;
	expect_rc(vshm_decode(buf, 16, &m), VSHM_E_TYPE);
	buf[5] = VSHM_MSG_ALLOC_OK;
	expect_rc(vshm_decode(buf, 20, &m), VSHM_E_LEN);
	buf[6] = 1;
	expect_rc(vshm_decode(buf, 16, &m), VSHM_E_RESERVED);
	buf[6] = 0;
	put_unaligned_le32(0, buf + 12);
	expect_rc(vshm_decode(buf, 16, &m), VSHM_E_REGION);
}

Test(proto, decode_header_only_body_size)
{
	struct vshm_msg m;

	memset(buf, 0, 24);
	vshm_encode_freed(buf, sizeof(buf), 1);
	put_unaligned_le32(24, buf + 8);
	expect_rc(vshm_decode(buf, 24, &m), VSHM_E_LEN);
	buf[5] = VSHM_MSG_ALLOC_OK;
	expect_rc(vshm_decode(buf, 24, &m), VSHM_E_LEN);
}

Test(proto, decode_mapped_rules)
{
	struct vshm_msg m;

	vshm_encode_mapped(buf, sizeof(buf), 1, 5, 9);
	put_unaligned_le32(1, buf + 28);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_RESERVED);
	put_unaligned_le32(0, buf + 28);
	put_unaligned_le64(0, buf + 16);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_RANGE);
	put_unaligned_le64(5, buf + 16);
	put_unaligned_le32(0, buf + 24);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_COUNT);
	put_unaligned_le32(40, buf + 8);
	expect_rc(vshm_decode(buf, 40, &m), VSHM_E_LEN);
}

Test(proto, decode_error_rules)
{
	struct vshm_msg m;
	int i;

	for (i = 25; i < 32; i++) {
		vshm_encode_error(buf, sizeof(buf), 1, VSHM_E_PIN, 0, 0);
		buf[i] = 1;
		expect_rc(vshm_decode(buf, 32, &m), VSHM_E_RESERVED);
	}
	vshm_encode_error(buf, sizeof(buf), 1, VSHM_E_PIN, 0, 0);
	put_unaligned_le32(0, buf + 16);
	expect_rc(vshm_decode(buf, 32, &m), VSHM_E_RANGE);
	put_unaligned_le32(24, buf + 8);
	expect_rc(vshm_decode(buf, 24, &m), VSHM_E_LEN);
}

Test(proto, decode_hpa_rules)
{
	const struct vshm_run runs[] = { { 0x10000, 4 }, { 0x80000, 1 } };
	struct vshm_msg m;

	vshm_encode_gpa_list(buf, sizeof(buf), 2, 0, 5, runs, 2);
	vshm_wire_mark_hpa(buf, 0);
	expect_rc(vshm_decode(buf, 80, &m), VSHM_E_RANGE);	/* grant 0 */
	vshm_wire_mark_hpa(buf, 1);
	put_unaligned_le32(VSHM_E_PIN, buf + 24);
	expect_rc(vshm_decode(buf, 80, &m), VSHM_E_RESERVED);	/* status */
	vshm_wire_mark_hpa(buf, 1);
	expect_rc(vshm_decode(buf, 80, &m), 0);
	/* A host run's end is not checked (host runs may be split)... */
	vshm_wire_ext_set_addr(buf + 48, 0, VSHM_PHYS_LIMIT - 4096);
	expect_rc(vshm_decode(buf, 80, &m), 0);
	/* ...but its first page is. */
	vshm_wire_ext_set_addr(buf + 48, 1, VSHM_PHYS_LIMIT);
	expect_rc(vshm_decode(buf, 80, &m), VSHM_E_RANGE);
	cr_assert_eq(m.bad_index, 1);
	vshm_wire_ext_set_addr(buf + 48, 1, 0x80010);
	expect_rc(vshm_decode(buf, 80, &m), VSHM_E_ALIGN);
	cr_assert_eq(m.bad_index, 1);
}

Test(proto, decode_refused_rules)
{
	const struct vshm_run runs[] = { { 0x10000, 4 } };
	struct vshm_msg m;

	vshm_encode_gpa_list(buf, sizeof(buf), 2, 0, 4, runs, 1);
	vshm_wire_mark_refused(buf, 64, VSHM_E_DENIED, VSHM_NO_INDEX);
	put_unaligned_le32(0, buf + 24);
	expect_rc(vshm_decode(buf, 64, &m), VSHM_E_RANGE);	/* status 0 */
	vshm_wire_mark_refused(buf, 64, VSHM_E_DENIED, VSHM_NO_INDEX);
	put_unaligned_le64(1ULL << 32, buf + 16);
	expect_rc(vshm_decode(buf, 64, &m), VSHM_E_RESERVED);
	/* Region 0 and an inconsistent body are what a refusal may carry. */
	vshm_wire_mark_refused(buf, 64, VSHM_E_REGION, VSHM_NO_INDEX);
	put_unaligned_le32(0, buf + 12);
	put_unaligned_le16(7, buf + 40);
	expect_rc(vshm_decode(buf, 64, &m), 0);
	cr_assert_eq(m.list.status, VSHM_E_REGION);
	/* Shorter than a list body. */
	put_unaligned_le32(40, buf + 8);
	expect_rc(vshm_decode(buf, 40, &m), VSHM_E_LEN);
}

Test(proto, decode_gpa_list_dup)
{
	const struct vshm_run runs[] = {
		{ 0x10000, 4 }, { 0x90000, 1 }, { 0x50000, 1 },
	};
	struct vshm_msg m;

	expect_rc(vshm_encode_gpa_list(buf, sizeof(buf), 2, 0, 6, runs, 3), 96);
	vshm_wire_ext_set_addr(buf + 48, 2, 0x12000);	/* into run 0 */
	expect_rc(vshm_decode(buf, 96, &m), VSHM_E_DUP);
	cr_assert_eq(m.bad_index, 2);
	cr_assert_eq(m.type, VSHM_MSG_GPA_LIST);
}

Test(proto, type_names)
{
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_ALLOC), "ALLOC");
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_HPA_LIST), "HPA_LIST");
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_ERROR), "ERROR");
	cr_assert_str_eq(vshm_msg_type_name(0), "UNKNOWN");
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_CHUNK_OK), "CHUNK_OK");
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_HELLO), "HELLO");
	cr_assert_str_eq(vshm_msg_type_name(VSHM_MSG_NOTIFY), "NOTIFY");
	cr_assert_str_eq(vshm_msg_type_name(15), "UNKNOWN");
}

/* The feature messages (docs/protocol.md, section 12). */

Test(proto, roundtrip_hello)
{
	uint8_t b[64];
	struct vshm_msg m;

	cr_assert_eq(vshm_encode_hello(b, sizeof(b), 0xffffffffU,
				       VSHM_FEAT_MASK), VSHM_HELLO_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_HELLO_SIZE, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_HELLO);
	cr_assert_eq(m.region, 0xffffffffU);
	cr_assert_eq(m.hello.features, VSHM_FEAT_MASK);
	cr_assert_eq(vshm_encode_hello_ok(b, sizeof(b), 7, VSHM_FEAT_COOKIE),
		     VSHM_HELLO_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_HELLO_SIZE, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_HELLO_OK);
	cr_assert_eq(m.hello.features, VSHM_FEAT_COOKIE);
	/*
	 * A guest may offer features of later versions; a host accepts none
	 * this version lacks.
	 */
	cr_assert_eq(vshm_encode_hello(b, sizeof(b), 1, 0x8), VSHM_HELLO_SIZE);
	cr_assert_eq(vshm_encode_hello_ok(b, sizeof(b), 1, 0x8), -EINVAL);
	cr_assert_eq(vshm_encode_hello_ok(b, sizeof(b), 0, 1), -EINVAL);
	cr_assert_eq(vshm_encode_hello(b, VSHM_HELLO_SIZE - 1, 1, 1), -ENOSPC);
}

Test(proto, roundtrip_alloc_cookie)
{
	uint8_t b[64];
	struct vshm_msg m;

	cr_assert_eq(vshm_encode_alloc_cookie(b, sizeof(b), 5, 8192, 4096,
					      VSHM_ACCESS_READ,
					      0x0123456789abcdefULL),
		     VSHM_ALLOC_COOKIE_SIZE);
	cr_assert_eq(get_unaligned_le32(b + 8), VSHM_ALLOC_COOKIE_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_ALLOC_COOKIE_SIZE, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_ALLOC);
	cr_assert(m.alloc.has_cookie);
	cr_assert_eq(m.alloc.cookie, 0x0123456789abcdefULL);
	cr_assert_eq(m.alloc.nr_pages, 2);
	/* The plain ALLOC has none. */
	cr_assert_eq(vshm_encode_alloc(b, sizeof(b), 5, 8192, 4096,
				       VSHM_ACCESS_READ), VSHM_ALLOC_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_ALLOC_SIZE, &m), 0);
	cr_assert_not(m.alloc.has_cookie);
	cr_assert_eq(m.alloc.cookie, 0);
	/* Bad parameters stay bad with a cookie. */
	cr_assert_eq(vshm_encode_alloc_cookie(b, sizeof(b), 5, 100, 4096,
					      VSHM_ACCESS_READ, 1), -EINVAL);
	cr_assert_eq(vshm_encode_alloc_cookie(b, sizeof(b), 0, 4096, 4096,
					      VSHM_ACCESS_READ, 1), -EINVAL);
	cr_assert_eq(vshm_encode_alloc_cookie(b, 40, 5, 4096, 4096,
					      VSHM_ACCESS_READ, 1), -ENOSPC);
}

Test(proto, roundtrip_revoked_and_notify)
{
	uint8_t b[64];
	struct vshm_msg m;

	cr_assert_eq(vshm_encode_revoked(b, sizeof(b), 9, 77,
					 VSHM_REVOKE_MEMMAP),
		     VSHM_REVOKED_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_REVOKED_SIZE, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_REVOKED);
	cr_assert_eq(m.revoked.grant, 77);
	cr_assert_eq(m.revoked.reason, VSHM_REVOKE_MEMMAP);
	cr_assert_eq(vshm_encode_revoked(b, sizeof(b), 9, 0, 1), -EINVAL);
	cr_assert_eq(vshm_encode_revoked(b, sizeof(b), 9, 1, 0), -EINVAL);
	cr_assert_eq(vshm_encode_revoked(b, sizeof(b), 0, 1, 1), -EINVAL);

	cr_assert_eq(vshm_encode_notify(b, sizeof(b), 9, 0x5),
		     VSHM_NOTIFY_SIZE);
	cr_assert_eq(vshm_decode(b, VSHM_NOTIFY_SIZE, &m), 0);
	cr_assert_eq(m.type, VSHM_MSG_NOTIFY);
	cr_assert_eq(m.notify.bits, 0x5);
	cr_assert_eq(vshm_encode_notify(b, sizeof(b), 9, 0), -EINVAL);
	cr_assert_eq(vshm_encode_notify(b, sizeof(b), 0, 1), -EINVAL);
}

Test(proto, decode_feature_message_rules)
{
	uint8_t b[64];
	struct vshm_msg m;

	vshm_encode_hello(b, sizeof(b), 1, VSHM_FEAT_REVOKED);
	put_unaligned_le64(1ULL << 63, b + 16);		/* a later feature */
	cr_assert_eq(vshm_decode(b, VSHM_HELLO_SIZE, &m), 0);
	cr_assert_eq(m.hello.features, 1ULL << 63);
	vshm_encode_hello_ok(b, sizeof(b), 1, VSHM_FEAT_REVOKED);
	put_unaligned_le64(1ULL << 63, b + 16);		/* never accepted */
	cr_assert_eq(vshm_decode(b, VSHM_HELLO_SIZE, &m), VSHM_E_RESERVED);
	vshm_encode_hello(b, sizeof(b), 1, VSHM_FEAT_REVOKED);
	b[24] = 1;					/* pad */
	cr_assert_eq(vshm_decode(b, VSHM_HELLO_SIZE, &m), VSHM_E_RESERVED);
	vshm_encode_hello(b, sizeof(b), 1, VSHM_FEAT_REVOKED);
	put_unaligned_le32(40, b + 8);
	cr_assert_eq(vshm_decode(b, 40, &m), VSHM_E_LEN);

	vshm_encode_notify(b, sizeof(b), 3, 1);
	b[20] = 1;					/* pad */
	cr_assert_eq(vshm_decode(b, VSHM_NOTIFY_SIZE, &m), VSHM_E_RESERVED);
	vshm_encode_notify(b, sizeof(b), 3, 1);
	put_unaligned_le32(0, b + 16);			/* no bit */
	cr_assert_eq(vshm_decode(b, VSHM_NOTIFY_SIZE, &m), VSHM_E_COUNT);
	vshm_encode_notify(b, sizeof(b), 3, 1);
	put_unaligned_le32(0, b + 12);			/* region 0 */
	cr_assert_eq(vshm_decode(b, VSHM_NOTIFY_SIZE, &m), VSHM_E_REGION);

	vshm_encode_revoked(b, sizeof(b), 3, 1, 1);
	b[28] = 1;					/* pad */
	cr_assert_eq(vshm_decode(b, VSHM_REVOKED_SIZE, &m), VSHM_E_RESERVED);
	vshm_encode_revoked(b, sizeof(b), 3, 1, 1);
	put_unaligned_le32(0, b + 12);
	cr_assert_eq(vshm_decode(b, VSHM_REVOKED_SIZE, &m), VSHM_E_REGION);
	/* A reason of a later version is still a revocation. */
	vshm_encode_revoked(b, sizeof(b), 3, 1, 1);
	put_unaligned_le32(99, b + 24);
	cr_assert_eq(vshm_decode(b, VSHM_REVOKED_SIZE, &m), 0);
	cr_assert_str_eq(vshm_revoke_reason_name(99), "unknown");
	cr_assert_str_eq(vshm_revoke_reason_name(VSHM_REVOKE_MIGRATION),
			 "migration");
	cr_assert_str_eq(vshm_revoke_reason_name(0), "unknown");
}
