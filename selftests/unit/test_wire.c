// SPDX-License-Identifier: GPL-2.0
/*
 * vshm_wire_check(), vshm_wire_check_dup() and the rewrite helpers: one
 * test per rule, on messages built byte by byte (independent of proto.c).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

#define REGION 7

/* Room for the largest message, at any offset. */
static uint8_t space[VSHM_MAX_MSG + 64];

static void hdr(uint8_t *b, uint8_t type, uint32_t len, uint32_t region)
{
	put_unaligned_le32(VSHM_MAGIC, b + 0);
	b[4] = VSHM_VERSION;
	b[5] = type;
	put_unaligned_le16(0, b + 6);
	put_unaligned_le32(len, b + 8);
	put_unaligned_le32(region, b + 12);
}

static size_t mk_free(uint8_t *b)
{
	memset(b, 0, 16);
	hdr(b, VSHM_MSG_FREE, 16, REGION);
	return 16;
}

/* ALLOC of size bytes with the given page size, read+write. */
static size_t mk_alloc(uint8_t *b, uint64_t size, uint32_t page_size)
{
	memset(b, 0, 40);
	hdr(b, VSHM_MSG_ALLOC, 40, REGION);
	put_unaligned_le64(size, b + 16);
	put_unaligned_le32(page_size, b + 24);
	put_unaligned_le32(VSHM_ACCESS_READ | VSHM_ACCESS_WRITE, b + 28);
	put_unaligned_le32((uint32_t)(size / 4096), b + 32);
	return 40;
}

/* Offsets in a list message. */
#define L_GRANT		16
#define L_STATUS	24
#define L_FIRST		28
#define L_NR		32
#define L_TOTAL		36
#define L_NR_EXT	40
#define L_FLAGS		42
#define L_PAD		44
#define L_EXT(i)	(48 + 16 * (i))

/*
 * A valid GPA_LIST with n extents of 2 pages each at 1 MiB + i * 64 KiB,
 * first_page 0, total 2n (so it is the LAST chunk).
 */
static size_t mk_list(uint8_t *b, uint32_t n)
{
	size_t len = 48 + 16 * (size_t)n;
	uint32_t i;

	memset(b, 0, len);
	hdr(b, VSHM_MSG_GPA_LIST, (uint32_t)len, REGION);
	put_unaligned_le32(0, b + L_FIRST);
	put_unaligned_le32(2 * n, b + L_NR);
	put_unaligned_le32(2 * n, b + L_TOTAL);
	put_unaligned_le16((uint16_t)n, b + L_NR_EXT);
	put_unaligned_le16(VSHM_CHUNK_LAST, b + L_FLAGS);
	for (i = 0; i < n; i++) {
		put_unaligned_le64(0x100000ULL + i * 0x10000ULL, b + L_EXT(i));
		put_unaligned_le32(2, b + L_EXT(i) + 8);
	}
	return len;
}

static void set_ext(uint8_t *b, uint32_t i, uint64_t addr, uint32_t npages)
{
	put_unaligned_le64(addr, b + L_EXT(i));
	put_unaligned_le32(npages, b + L_EXT(i) + 8);
}

#define expect_rc(rc, want) \
	cr_assert_eq((rc), (want), "got %s, want %s", vshm_err_name(rc), \
		     vshm_err_name(want))

static int check(const uint8_t *b, size_t len)
{
	struct vshm_wire_info wi;

	return vshm_wire_check(b, len, &wi);
}

/* Valid messages. */

Test(wire, valid_free)
{
	struct vshm_wire_info wi;
	size_t len = mk_free(space);

	expect_rc(vshm_wire_check(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.type, VSHM_MSG_FREE);
	cr_assert_eq(wi.region, REGION);
	cr_assert_eq(wi.len, 16);
	cr_assert_null(wi.ext);
	cr_assert_eq(wi.bad_index, VSHM_NO_INDEX);
}

Test(wire, valid_alloc_4k)
{
	struct vshm_wire_info wi;
	size_t len = mk_alloc(space, 3 * 4096, 4096);

	expect_rc(vshm_wire_check(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.type, VSHM_MSG_ALLOC);
	cr_assert_eq(wi.size, 3 * 4096);
	cr_assert_eq(wi.page_size, 4096);
	cr_assert_eq(wi.access, 3);
	cr_assert_eq(wi.nr_pages, 3);
}

Test(wire, valid_alloc_2m_read_only)
{
	struct vshm_wire_info wi;
	size_t len = mk_alloc(space, 4ULL << 20, VSHM_HUGE_PAGE_SIZE);

	put_unaligned_le32(VSHM_ACCESS_READ, space + 28);
	expect_rc(vshm_wire_check(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.page_size, 2097152);
	cr_assert_eq(wi.nr_pages, 1024);
	cr_assert_eq(wi.access, VSHM_ACCESS_READ);
}

Test(wire, valid_gpa_list)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, 3);
	u64 addr;
	u32 np;

	put_unaligned_le32(10, space + L_FIRST);
	put_unaligned_le32(16, space + L_TOTAL);
	expect_rc(vshm_wire_check(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.type, VSHM_MSG_GPA_LIST);
	cr_assert_eq(wi.len, 96);
	cr_assert_eq(wi.nr_ext, 3);
	cr_assert_eq(wi.first_page, 10);
	cr_assert_eq(wi.nr_pages, 6);
	cr_assert_eq(wi.total_pages, 16);
	cr_assert(wi.last);
	cr_assert_eq(wi.ext, space + 48);
	vshm_wire_ext_get(wi.ext, 2, &addr, &np);
	cr_assert_eq(addr, 0x120000);
	cr_assert_eq(np, 2);
}

Test(wire, valid_at_odd_offsets)
{
	size_t off, len;

	for (off = 1; off < 8; off++) {
		len = mk_list(space + off, 5);
		expect_rc(check(space + off, len), VSHM_OK);
		len = mk_alloc(space + off, 8192, 4096);
		expect_rc(check(space + off, len), VSHM_OK);
	}
}

Test(wire, null_info_allowed)
{
	size_t len = mk_list(space, 1);

	expect_rc(vshm_wire_check(space, len, NULL), VSHM_OK);
	space[0] ^= 1;
	expect_rc(vshm_wire_check(space, len, NULL), VSHM_E_MAGIC);
}

Test(wire, max_extents_fill_max_msg)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, VSHM_MAX_EXT_PER_MSG);

	cr_assert_eq(len, VSHM_MAX_MSG);
	expect_rc(vshm_wire_check(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.nr_ext, 4093);
}

/* Header rules, in check order. */

Test(wire, rule_trunc)
{
	struct vshm_wire_info wi;

	mk_free(space);
	expect_rc(vshm_wire_check(space, 15, &wi), VSHM_E_TRUNC);
	cr_assert_eq(wi.type, 0);
	cr_assert_eq(wi.region, 0);
	expect_rc(vshm_wire_check(space, 0, &wi), VSHM_E_TRUNC);
}

Test(wire, rule_magic)
{
	struct vshm_wire_info wi;
	size_t len = mk_free(space);

	put_unaligned_le32(0x4d485357, space);
	expect_rc(vshm_wire_check(space, len, &wi), VSHM_E_MAGIC);
	/* What the header says is reported even so. */
	cr_assert_eq(wi.type, VSHM_MSG_FREE);
	cr_assert_eq(wi.region, REGION);
	/* Big-endian magic is wrong too. */
	put_unaligned_le32(0x5653484d, space);
	expect_rc(check(space, len), VSHM_E_MAGIC);
}

Test(wire, rule_version)
{
	size_t len = mk_free(space);

	space[4] = 0;
	expect_rc(check(space, len), VSHM_E_VERSION);
	space[4] = 2;
	expect_rc(check(space, len), VSHM_E_VERSION);
}

Test(wire, rule_type_unknown)
{
	/* 10, 12, 13: host to guest; 15: no type yet. */
	static const uint8_t bad[] = { 0, 10, 12, 13, 15, 128, 255 };
	size_t len = mk_free(space), i;

	for (i = 0; i < sizeof(bad); i++) {
		space[5] = bad[i];
		expect_rc(check(space, len), VSHM_E_TYPE);
	}
}

Test(wire, rule_type_host_to_guest_from_guest)
{
	static const uint8_t h2g[] = {
		VSHM_MSG_ALLOC_OK, VSHM_MSG_HPA_LIST, VSHM_MSG_REFUSED,
		VSHM_MSG_MAPPED, VSHM_MSG_FREED, VSHM_MSG_ERROR,
		VSHM_MSG_CHUNK_OK,
	};
	size_t len = mk_list(space, 2), i;

	for (i = 0; i < sizeof(h2g); i++) {
		space[5] = h2g[i];
		expect_rc(check(space, len), VSHM_E_TYPE);
	}
}

Test(wire, rule_hdr_len_vs_buffer)
{
	size_t len = mk_free(space);

	expect_rc(check(space, len + 8), VSHM_E_LEN);
	put_unaligned_le32(24, space + 8);
	expect_rc(check(space, len), VSHM_E_LEN);
	put_unaligned_le32(0, space + 8);
	expect_rc(check(space, len), VSHM_E_LEN);
}

Test(wire, rule_len_over_max_msg)
{
	/* 4094 extents: 65552 bytes, consistent but too long. */
	size_t len = mk_list(space, VSHM_MAX_EXT_PER_MSG + 1);

	cr_assert_eq(len, 65552);
	expect_rc(check(space, len), VSHM_E_LEN);
}

Test(wire, rule_hdr_flags_reserved)
{
	size_t len = mk_free(space);

	put_unaligned_le16(0x8000, space + 6);
	expect_rc(check(space, len), VSHM_E_RESERVED);
	put_unaligned_le16(1, space + 6);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_region_zero)
{
	size_t len = mk_alloc(space, 4096, 4096);

	put_unaligned_le32(0, space + 12);
	expect_rc(check(space, len), VSHM_E_REGION);
	len = mk_list(space, 1);
	put_unaligned_le32(0, space + 12);
	expect_rc(check(space, len), VSHM_E_REGION);
}

Test(wire, rule_free_body_size)
{
	memset(space, 0, 24);
	hdr(space, VSHM_MSG_FREE, 24, REGION);
	expect_rc(check(space, 24), VSHM_E_LEN);
}

/* ALLOC rules. */

Test(wire, rule_alloc_body_size)
{
	mk_alloc(space, 4096, 4096);
	put_unaligned_le32(32, space + 8);
	expect_rc(check(space, 32), VSHM_E_LEN);
	/* 48 bytes is an ALLOC with a cookie (VSHM_FEAT_COOKIE). */
	put_unaligned_le32(48, space + 8);
	put_unaligned_le64(0, space + 40);
	expect_rc(check(space, 48), VSHM_OK);
	put_unaligned_le32(56, space + 8);
	expect_rc(check(space, 56), VSHM_E_LEN);
	put_unaligned_le32(16, space + 8);
	expect_rc(check(space, 16), VSHM_E_LEN);
}

Test(wire, rule_alloc_pad_reserved)
{
	size_t len = mk_alloc(space, 4096, 4096);

	put_unaligned_le32(1, space + 36);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_alloc_page_size)
{
	static const uint32_t bad[] = { 0, 1, 2048, 8192, 1048576, 4194304,
					1073741824 };
	size_t len, i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		len = mk_alloc(space, 4ULL << 20, bad[i]);
		expect_rc(check(space, len), VSHM_E_ALLOC);
	}
}

Test(wire, rule_alloc_size_zero)
{
	size_t len = mk_alloc(space, 0, 4096);

	expect_rc(check(space, len), VSHM_E_ALLOC);
}

Test(wire, rule_alloc_size_not_multiple)
{
	size_t len = mk_alloc(space, 4097, 4096);

	expect_rc(check(space, len), VSHM_E_ALLOC);
	/* 4 KiB is not a multiple of 2 MiB. */
	len = mk_alloc(space, 4096, VSHM_HUGE_PAGE_SIZE);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	len = mk_alloc(space, (2ULL << 20) + 4096, VSHM_HUGE_PAGE_SIZE);
	expect_rc(check(space, len), VSHM_E_ALLOC);
}

Test(wire, rule_alloc_nr_pages)
{
	size_t len = mk_alloc(space, 8192, 4096);

	put_unaligned_le32(1, space + 32);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	put_unaligned_le32(3, space + 32);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	/* 2^32 pages do not fit nr_pages: the truncated value must fail. */
	len = mk_alloc(space, 1ULL << 44, 4096);
	cr_assert_eq(get_unaligned_le32(space + 32), 0);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	/* The largest region that fits. */
	len = mk_alloc(space, 0xffffffffULL * 4096, 4096);
	expect_rc(check(space, len), VSHM_OK);
}

Test(wire, rule_alloc_access)
{
	size_t len = mk_alloc(space, 4096, 4096);

	put_unaligned_le32(0, space + 28);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	put_unaligned_le32(4, space + 28);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	put_unaligned_le32(VSHM_ACCESS_WRITE | 0x80000000U, space + 28);
	expect_rc(check(space, len), VSHM_E_ALLOC);
	put_unaligned_le32(VSHM_ACCESS_WRITE, space + 28);
	expect_rc(check(space, len), VSHM_OK);
}

/* GPA_LIST rules, fixed part. */

Test(wire, rule_list_shorter_than_body)
{
	memset(space, 0, 48);
	hdr(space, VSHM_MSG_GPA_LIST, 40, REGION);
	expect_rc(check(space, 40), VSHM_E_LEN);
	hdr(space, VSHM_MSG_GPA_LIST, 16, REGION);
	expect_rc(check(space, 16), VSHM_E_LEN);
}

Test(wire, rule_list_grant_reserved)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le64(1ULL << 40, space + L_GRANT);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_list_status_reserved)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le32(VSHM_E_PIN, space + L_STATUS);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_list_pad_reserved)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le32(1, space + L_PAD);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_list_chunk_flags_reserved)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le16(VSHM_CHUNK_LAST | 2, space + L_FLAGS);
	expect_rc(check(space, len), VSHM_E_RESERVED);
}

Test(wire, rule_list_nr_ext_zero)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le16(0, space + L_NR_EXT);
	expect_rc(check(space, len), VSHM_E_COUNT);
}

Test(wire, rule_list_len_vs_nr_ext)
{
	size_t len = mk_list(space, 3);

	put_unaligned_le16(2, space + L_NR_EXT);
	expect_rc(check(space, len), VSHM_E_LEN);
	put_unaligned_le16(4, space + L_NR_EXT);
	expect_rc(check(space, len), VSHM_E_LEN);
	put_unaligned_le16(0xffff, space + L_NR_EXT);
	expect_rc(check(space, len), VSHM_E_LEN);
}

Test(wire, rule_list_nr_pages_zero)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le32(0, space + L_NR);
	expect_rc(check(space, len), VSHM_E_COUNT);
}

Test(wire, rule_list_total_pages_zero)
{
	size_t len = mk_list(space, 1);

	put_unaligned_le32(0, space + L_TOTAL);
	expect_rc(check(space, len), VSHM_E_COUNT);
}

Test(wire, rule_list_past_total)
{
	size_t len = mk_list(space, 2);	/* 4 pages */

	put_unaligned_le32(1, space + L_FIRST);	/* 1 + 4 > 4 */
	expect_rc(check(space, len), VSHM_E_COUNT);
	put_unaligned_le32(3, space + L_TOTAL);	/* 0 + 4 > 3 */
	put_unaligned_le32(0, space + L_FIRST);
	expect_rc(check(space, len), VSHM_E_COUNT);
	/* first_page + nr_pages wraps in 32 bits: must not pass. */
	put_unaligned_le32(0xfffffffe, space + L_FIRST);
	put_unaligned_le32(0xffffffff, space + L_TOTAL);
	expect_rc(check(space, len), VSHM_E_COUNT);
}

Test(wire, rule_list_last_set_early)
{
	size_t len = mk_list(space, 2);

	put_unaligned_le32(8, space + L_TOTAL);
	expect_rc(check(space, len), VSHM_E_ORDER);
	put_unaligned_le16(0, space + L_FLAGS);
	expect_rc(check(space, len), VSHM_OK);
}

Test(wire, rule_list_last_missing)
{
	size_t len = mk_list(space, 2);

	put_unaligned_le16(0, space + L_FLAGS);
	expect_rc(check(space, len), VSHM_E_ORDER);
	put_unaligned_le32(4, space + L_FIRST);
	put_unaligned_le32(8, space + L_TOTAL);
	expect_rc(check(space, len), VSHM_E_ORDER);
}

/* GPA_LIST rules, per extent: bad_index tells which. */

static void expect_ext_rule(const uint8_t *b, size_t len, int want,
			    uint32_t index)
{
	struct vshm_wire_info wi;

	expect_rc(vshm_wire_check(b, len, &wi), want);
	cr_assert_eq(wi.bad_index, index, "bad_index %u", wi.bad_index);
	cr_assert_null(wi.ext);
}

Test(wire, rule_ext_pad_reserved)
{
	size_t len = mk_list(space, 4);

	put_unaligned_le32(1, space + L_EXT(2) + 12);
	expect_ext_rule(space, len, VSHM_E_RESERVED, 2);
}

Test(wire, rule_ext_npages_zero)
{
	size_t len = mk_list(space, 4);

	set_ext(space, 3, 0x900000, 0);
	expect_ext_rule(space, len, VSHM_E_COUNT, 3);
}

Test(wire, rule_ext_unaligned)
{
	size_t len = mk_list(space, 4);

	set_ext(space, 1, 0x200800, 2);
	expect_ext_rule(space, len, VSHM_E_ALIGN, 1);
	set_ext(space, 1, 0x200001, 2);
	expect_ext_rule(space, len, VSHM_E_ALIGN, 1);
}

Test(wire, rule_ext_range_end)
{
	size_t len = mk_list(space, 2);

	/* Ends exactly at 2^52: allowed. */
	set_ext(space, 1, VSHM_PHYS_LIMIT - 2 * 4096, 2);
	expect_rc(check(space, len), VSHM_OK);
	/* One page past 2^52. */
	set_ext(space, 1, VSHM_PHYS_LIMIT - 1 * 4096, 2);
	expect_ext_rule(space, len, VSHM_E_RANGE, 1);
}

Test(wire, rule_ext_range_start)
{
	size_t len = mk_list(space, 2);

	set_ext(space, 0, VSHM_PHYS_LIMIT, 2);
	expect_ext_rule(space, len, VSHM_E_RANGE, 0);
	/* An address whose end would wrap 64 bits. */
	set_ext(space, 0, 0xfffffffffffff000ULL, 2);
	expect_ext_rule(space, len, VSHM_E_RANGE, 0);
}

Test(wire, rule_ext_sum_vs_nr_pages)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, 3);

	set_ext(space, 1, 0x110000, 3);	/* sum 7, nr_pages 6 */
	put_unaligned_le32(7, space + L_TOTAL);
	put_unaligned_le16(0, space + L_FLAGS);
	expect_rc(vshm_wire_check(space, len, &wi), VSHM_E_LEN);
	cr_assert_eq(wi.bad_index, VSHM_NO_INDEX);
	/* Sums past 2^32 do not wrap to nr_pages. */
	len = mk_list(space, 2);
	set_ext(space, 0, 0x100000, 0xffffffff);
	set_ext(space, 1, 0x100000000000ULL, 5);	/* sum 2^32 + 4 */
	put_unaligned_le32(4, space + L_NR);
	put_unaligned_le32(4, space + L_TOTAL);
	expect_rc(check(space, len), VSHM_E_LEN);
}

Test(wire, overlap_is_not_checked_by_wire_check)
{
	size_t len = mk_list(space, 2);

	set_ext(space, 1, 0x100000, 2);
	expect_rc(check(space, len), VSHM_OK);
}

/* vshm_wire_check_dup() */

static uint32_t scratch[VSHM_MAX_EXT_PER_MSG];

static int dup_of(uint8_t *b, uint32_t n)
{
	return vshm_wire_check_dup(b + 48, n, scratch);
}

Test(dup, disjoint)
{
	mk_list(space, 50);
	expect_rc(dup_of(space, 50), VSHM_OK);
	expect_rc(dup_of(space, 1), VSHM_OK);
	expect_rc(vshm_wire_check_dup(space + 48, 0, scratch), VSHM_OK);
}

Test(dup, exact_repeat)
{
	mk_list(space, 5);
	set_ext(space, 4, 0x100000 + 2 * 0x10000, 2);	/* == ext 2 */
	expect_rc(dup_of(space, 5), VSHM_E_DUP);
	cr_assert_eq(scratch[0], 4);
}

Test(dup, partial_overlap)
{
	mk_list(space, 3);
	set_ext(space, 0, 0x500000, 4);
	set_ext(space, 1, 0x100000, 1);
	set_ext(space, 2, 0x503000, 2);	/* shares page 0x503000 with ext 0 */
	expect_rc(dup_of(space, 3), VSHM_E_DUP);
	cr_assert_eq(scratch[0], 2);
}

Test(dup, contained)
{
	mk_list(space, 3);
	set_ext(space, 0, 0x100000, 1);
	set_ext(space, 1, 0x400000, 512);
	set_ext(space, 2, 0x480000, 1);	/* inside ext 1 */
	expect_rc(dup_of(space, 3), VSHM_E_DUP);
	cr_assert_eq(scratch[0], 2);
}

Test(dup, adjacent_is_not_overlap)
{
	mk_list(space, 3);
	set_ext(space, 0, 0x503000, 1);
	set_ext(space, 1, 0x500000, 3);	/* ends at 0x503000 */
	set_ext(space, 2, 0x504000, 1);
	expect_rc(dup_of(space, 3), VSHM_OK);
	cr_assert_eq(scratch[0], 1);	/* sorted by address */
	cr_assert_eq(scratch[1], 0);
	cr_assert_eq(scratch[2], 2);
}

Test(dup, too_many)
{
	mk_list(space, 2);
	expect_rc(vshm_wire_check_dup(space + 48, VSHM_MAX_EXT_PER_MSG + 1,
				      scratch), VSHM_E_COUNT);
}

Test(dup, max_reverse_order_sorted)
{
	uint32_t i, n = VSHM_MAX_EXT_PER_MSG;

	mk_list(space, n);
	for (i = 0; i < n; i++)
		set_ext(space, i, 0x10000000ULL - (uint64_t)i * 0x2000, 2);
	expect_rc(dup_of(space, n), VSHM_OK);
	for (i = 0; i < n; i++)
		cr_assert_eq(scratch[i], n - 1 - i);
}

Test(dup, scattered_with_one_repeat)
{
	uint32_t i, n = 3000;

	/* Distinct scattered frames: a permutation of 0..n-1 times 8 KiB. */
	mk_list(space, n);
	for (i = 0; i < n; i++)
		set_ext(space, i, ((uint64_t)((i * 1237u) % n) << 13) + 0x1000, 1);
	expect_rc(dup_of(space, n), VSHM_OK);
	/* Page 1235 repeats page 17's frame. */
	set_ext(space, 1235, ((uint64_t)((17u * 1237u) % n) << 13) + 0x1000, 1);
	expect_rc(dup_of(space, n), VSHM_E_DUP);
	cr_assert_eq(scratch[0], 1235);
}

/* Rewrite helpers. */

Test(wire, ext_get_set_unaligned)
{
	u64 addr;
	u32 np;

	mk_list(space + 3, 2);
	vshm_wire_ext_set_addr(space + 3 + 48, 1, 0xabcdef000ULL);
	vshm_wire_ext_get(space + 3 + 48, 1, &addr, &np);
	cr_assert_eq(addr, 0xabcdef000ULL);
	cr_assert_eq(np, 2);
	cr_assert_eq(space[3 + L_EXT(1)], 0x00);
	cr_assert_eq(space[3 + L_EXT(1) + 1], 0xf0);
	cr_assert_eq(space[3 + L_EXT(1) + 4], 0x0a);
}

Test(wire, is_list)
{
	size_t len = mk_list(space, 1);

	cr_assert(vshm_wire_is_list(space, len));
	cr_assert(vshm_wire_is_list(space, 16));
	cr_assert_not(vshm_wire_is_list(space, 15));
	space[5] = VSHM_MSG_HPA_LIST;
	cr_assert(vshm_wire_is_list(space, len));
	space[5] = VSHM_MSG_REFUSED;
	cr_assert(vshm_wire_is_list(space, len));
	space[5] = VSHM_MSG_ALLOC;
	cr_assert_not(vshm_wire_is_list(space, len));
	space[5] = VSHM_MSG_GPA_LIST;
	space[4] = 2;
	cr_assert_not(vshm_wire_is_list(space, len));
	space[4] = 1;
	space[0] = 0;
	cr_assert_not(vshm_wire_is_list(space, len));
}

Test(wire, mark_hpa)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, 2);

	vshm_wire_ext_set_addr(space + 48, 0, 0x7000000);
	vshm_wire_ext_set_addr(space + 48, 1, 0x3000);
	vshm_wire_mark_hpa(space, 0x1122334455ULL);
	cr_assert_eq(space[5], VSHM_MSG_HPA_LIST);
	cr_assert_eq(get_unaligned_le64(space + L_GRANT), 0x1122334455ULL);
	expect_rc(check(space, len), VSHM_E_TYPE);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.grant, 0x1122334455ULL);
	cr_assert_eq(wi.nr_pages, 4);
}

Test(wire, mark_refused)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, 2);

	put_unaligned_le16(4, space + 6);	/* the guest's bad flags */
	expect_rc(vshm_wire_mark_refused(space, len, VSHM_E_RESERVED,
					 VSHM_NO_INDEX), VSHM_OK);
	cr_assert_eq(space[5], VSHM_MSG_REFUSED);
	cr_assert_eq(get_unaligned_le16(space + 6), 0);
	cr_assert_eq(get_unaligned_le32(space + L_STATUS), VSHM_E_RESERVED);
	cr_assert_eq(get_unaligned_le64(space + L_GRANT), 0xffffffffULL);
	cr_assert_eq(get_unaligned_le32(space + 8), len);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.status, VSHM_E_RESERVED);
	cr_assert_eq(wi.detail, VSHM_NO_INDEX);
	/* Code 0 would make an invalid REFUSED. */
	vshm_wire_mark_refused(space, len, 0, 1);
	cr_assert_eq(get_unaligned_le32(space + L_STATUS), VSHM_E_INTERNAL);
}

/* A packet the module does not parse never starts a message. */
Test(wire, neuter_whole_list_becomes_refused)
{
	struct vshm_wire_info wi;
	size_t len = mk_list(space, 1);

	space[5] = VSHM_MSG_HPA_LIST;	/* forged by the guest */
	cr_assert(vshm_wire_neuter(space, len, VSHM_E_QUOTA));
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_OK);
	cr_assert_eq(wi.type, VSHM_MSG_REFUSED);
	cr_assert_eq(wi.status, VSHM_E_QUOTA);
}

Test(wire, neuter_short_fragment_loses_its_magic)
{
	size_t n;

	/* 40 bytes: a header, no room for a REFUSED. */
	mk_list(space, 1);
	space[5] = VSHM_MSG_HPA_LIST;
	cr_assert(vshm_wire_neuter(space, 40, VSHM_E_FRAG));
	cr_assert_neq(get_unaligned_le32(space), VSHM_MAGIC);
	cr_assert_eq(space[5], VSHM_MSG_HPA_LIST);	/* the rest is left */
	/* Every prefix of the magic, down to one byte. */
	for (n = 1; n <= 4; n++) {
		mk_list(space, 1);
		cr_assert(vshm_wire_neuter(space, n, VSHM_E_FRAG), "len %zu", n);
		cr_assert_eq(space[0], 0, "len %zu", n);
		cr_assert_eq(space[n - 1], 0, "len %zu", n);
	}
}

Test(wire, may_start)
{
	const uint8_t m[5] = { 'V', 'S', 'H', 'M', 0 };
	const uint8_t x[2] = { 'V', 'X' };

	cr_assert(vshm_wire_may_start(m, 5));
	cr_assert(vshm_wire_may_start(m, 1));
	cr_assert(vshm_wire_may_start(m, 3));
	cr_assert_not(vshm_wire_may_start(m, 0));
	cr_assert_not(vshm_wire_may_start(x, 2));
	cr_assert_not(vshm_wire_may_start(m + 1, 4));
}

Test(wire, neuter_leaves_other_payloads_alone)
{
	uint8_t b[8] = { 'V', 'S', 'H', 'X', 1, 2, 3, 4 };
	uint8_t c[8];

	memcpy(c, b, sizeof(b));
	cr_assert_not(vshm_wire_neuter(b, sizeof(b), VSHM_E_FRAG));
	cr_assert_not(vshm_wire_neuter(b, 0, VSHM_E_FRAG));
	b[0] = 'X';
	cr_assert_not(vshm_wire_neuter(b, 1, VSHM_E_FRAG));
	b[0] = 'V';
	cr_assert_arr_eq(b, c, sizeof(b));
}

Test(wire, mark_refused_too_short)
{
	uint8_t before[47];

	mk_list(space, 1);
	memcpy(before, space, sizeof(before));
	expect_rc(vshm_wire_mark_refused(space, 47, VSHM_E_LEN, 0),
		  VSHM_E_TRUNC);
	cr_assert_arr_eq(space, before, sizeof(before));
}

/* CHUNK_OK (host to guest), 32 bytes. */
static size_t mk_chunk_ok(uint8_t *b, uint32_t first, uint32_t nr)
{
	memset(b, 0, 32);
	hdr(b, VSHM_MSG_CHUNK_OK, 32, REGION);
	put_unaligned_le32(first, b + 16);
	put_unaligned_le32(nr, b + 20);
	return 32;
}

Test(wire, chunk_ok_valid)
{
	struct vshm_wire_info wi;
	size_t len = mk_chunk_ok(space + 1, 4093, 8000);

	expect_rc(vshm_wire_check_host(space + 1, len, &wi), VSHM_OK);
	cr_assert_eq(wi.type, VSHM_MSG_CHUNK_OK);
	cr_assert_eq(wi.region, REGION);
	cr_assert_eq(wi.first_page, 4093);
	cr_assert_eq(wi.nr_pages, 8000);
	/* The last page number a region can have. */
	len = mk_chunk_ok(space, 0xfffffffe, 1);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_OK);
}

Test(wire, chunk_ok_rules)
{
	struct vshm_wire_info wi;
	size_t len = mk_chunk_ok(space, 0, 4), i;

	/* From the guest it is a host-to-guest type. */
	expect_rc(check(space, len), VSHM_E_TYPE);
	put_unaligned_le32(40, space + 8);
	expect_rc(vshm_wire_check_host(space, 40, &wi), VSHM_E_LEN);
	put_unaligned_le32(16, space + 8);
	expect_rc(vshm_wire_check_host(space, 16, &wi), VSHM_E_LEN);
	for (i = 24; i < 32; i++) {
		mk_chunk_ok(space, 0, 4);
		space[i] = 1;
		expect_rc(vshm_wire_check_host(space, len, &wi),
			  VSHM_E_RESERVED);
	}
	mk_chunk_ok(space, 0, 0);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_E_COUNT);
	mk_chunk_ok(space, 0xffffffff, 1);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_E_COUNT);
	mk_chunk_ok(space, 0, 4);
	put_unaligned_le32(0, space + 12);
	expect_rc(vshm_wire_check_host(space, len, &wi), VSHM_E_REGION);
}

Test(wire, err_names)
{
	static const char *const want[] = {
		"VSHM_OK", "VSHM_E_TRUNC", "VSHM_E_MAGIC", "VSHM_E_VERSION",
		"VSHM_E_TYPE", "VSHM_E_LEN", "VSHM_E_REGION",
		"VSHM_E_RESERVED", "VSHM_E_COUNT", "VSHM_E_ALIGN",
		"VSHM_E_RANGE", "VSHM_E_ORDER", "VSHM_E_DUP", "VSHM_E_ALLOC",
		"VSHM_E_NOTMAPPABLE", "VSHM_E_RDONLY", "VSHM_E_QUOTA",
		"VSHM_E_EXISTS", "VSHM_E_NOREGION", "VSHM_E_FRAG",
		"VSHM_E_NOPOLICY", "VSHM_E_PIN", "VSHM_E_NOMEM",
		"VSHM_E_BUSY", "VSHM_E_DENIED", "VSHM_E_INTERNAL",
		"VSHM_E_PORT", "VSHM_E_MEMLOCK",
	};
	int i;

	cr_assert_eq(ARRAY_SIZE(want), VSHM_E_MAX + 1);
	for (i = 0; i <= VSHM_E_MAX; i++)
		cr_assert_str_eq(vshm_err_name(i), want[i]);
	cr_assert_str_eq(vshm_err_name(-1), "VSHM_E_UNKNOWN");
	cr_assert_str_eq(vshm_err_name(VSHM_E_MAX + 1), "VSHM_E_UNKNOWN");
	cr_assert_eq(VSHM_E_INTERNAL, 25);
	cr_assert_eq(VSHM_E_PORT, 26);
	cr_assert_eq(VSHM_E_MEMLOCK, 27);
	cr_assert_eq(VSHM_E_DUP, 12);
}

Test(wire, layout)
{
	cr_assert_eq(sizeof(struct vshm_hdr), 16);
	cr_assert_eq(sizeof(struct vshm_alloc), 40);
	cr_assert_eq(sizeof(struct vshm_gpa_list), 48);
	cr_assert_eq(sizeof(struct vshm_extent), 16);
	cr_assert_eq(sizeof(struct vshm_mapped), 32);
	cr_assert_eq(sizeof(struct vshm_error), 32);
	cr_assert_eq(sizeof(struct vshm_chunk_ok), 32);
	cr_assert_eq(offsetof(struct vshm_chunk_ok, nr_pages), 20);
	cr_assert_eq(VSHM_MSG_CHUNK_OK, 10);
	cr_assert_eq(offsetof(struct vshm_gpa_list, nr_ext), L_NR_EXT);
	cr_assert_eq(offsetof(struct vshm_error, orig_type), 24);
	cr_assert_eq(VSHM_MAX_EXT_PER_MSG, 4093);
	cr_assert_eq(VSHM_MAGIC, 0x4d485356);
}
