// SPDX-License-Identifier: GPL-2.0
/*
 * Coalescing page addresses into runs, and splitting runs into GPA_LIST
 * chunks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extent.h"

#define P(n)	((uint64_t)(n) << 12)	/* frame number to address */

static void expect_runs(const struct vshm_run *got, ssize_t n,
			const struct vshm_run *want, size_t nwant)
{
	size_t i;

	cr_assert_eq(n, (ssize_t)nwant, "%zd runs, want %zu", n, nwant);
	for (i = 0; i < nwant; i++) {
		cr_assert_eq(got[i].addr, want[i].addr, "run %zu addr", i);
		cr_assert_eq(got[i].npages, want[i].npages, "run %zu npages", i);
	}
}

/* vshm_coalesce() */

Test(coalesce, empty)
{
	struct vshm_run out[1];

	cr_assert_eq(vshm_coalesce(NULL, 0, out, 1), 0);
	cr_assert_eq(vshm_coalesce(NULL, 0, NULL, 0), 0);
}

Test(coalesce, single_page)
{
	const uint64_t pages[] = { P(0x1234) };
	const struct vshm_run want[] = { { P(0x1234), 1 } };
	struct vshm_run out[4];

	expect_runs(out, vshm_coalesce(pages, 1, out, 4), want, 1);
}

Test(coalesce, all_contiguous)
{
	uint64_t pages[300];
	const struct vshm_run want[] = { { P(0x500), 300 } };
	struct vshm_run out[4];
	size_t i;

	for (i = 0; i < 300; i++)
		pages[i] = P(0x500 + i);
	expect_runs(out, vshm_coalesce(pages, 300, out, 4), want, 1);
}

Test(coalesce, all_scattered)
{
	uint64_t pages[64];
	struct vshm_run out[64], want[64];
	size_t i;

	for (i = 0; i < 64; i++) {
		pages[i] = P(0x1000 + 2 * i);	/* one frame gap each */
		want[i].addr = pages[i];
		want[i].npages = 1;
	}
	expect_runs(out, vshm_coalesce(pages, 64, out, 64), want, 64);
}

Test(coalesce, huge_page_is_one_run)
{
	uint64_t pages[512];
	const struct vshm_run want[] = { { 0x40200000, 512 } };
	struct vshm_run out[2];
	size_t i;

	for (i = 0; i < 512; i++)
		pages[i] = 0x40200000 + P(i);
	expect_runs(out, vshm_coalesce(pages, 512, out, 2), want, 1);
}

Test(coalesce, two_separate_huge_pages)
{
	uint64_t pages[1024];
	const struct vshm_run want[] = {
		{ 0x80000000, 512 }, { 0x40000000, 512 },
	};
	struct vshm_run out[2];
	size_t i;

	for (i = 0; i < 512; i++) {
		pages[i] = 0x80000000 + P(i);
		pages[512 + i] = 0x40000000 + P(i);
	}
	expect_runs(out, vshm_coalesce(pages, 1024, out, 2), want, 2);
}

Test(coalesce, adjacent_huge_pages_merge)
{
	uint64_t pages[1024];
	const struct vshm_run want[] = { { 0x40000000, 1024 } };
	struct vshm_run out[2];
	size_t i;

	for (i = 0; i < 1024; i++)
		pages[i] = 0x40000000 + P(i);
	expect_runs(out, vshm_coalesce(pages, 1024, out, 2), want, 1);
}

Test(coalesce, mixed)
{
	uint64_t pages[520];
	const struct vshm_run want[] = {
		{ P(10), 2 }, { P(50), 1 }, { P(7), 3 }, { 0x200000, 512 },
		{ P(1), 1 }, { P(3), 1 },
	};
	struct vshm_run out[8];
	size_t n = 0, i;

	pages[n++] = P(10);
	pages[n++] = P(11);
	pages[n++] = P(50);
	pages[n++] = P(7);
	pages[n++] = P(8);
	pages[n++] = P(9);
	for (i = 0; i < 512; i++)
		pages[n++] = 0x200000 + P(i);
	pages[n++] = P(1);
	pages[n++] = P(3);
	cr_assert_eq(n, 520);
	expect_runs(out, vshm_coalesce(pages, n, out, 8), want, 6);
}

Test(coalesce, reverse_order_not_merged)
{
	const uint64_t pages[] = { P(9), P(8), P(7), P(6) };
	const struct vshm_run want[] = {
		{ P(9), 1 }, { P(8), 1 }, { P(7), 1 }, { P(6), 1 },
	};
	struct vshm_run out[4];

	expect_runs(out, vshm_coalesce(pages, 4, out, 4), want, 4);
}

Test(coalesce, repeated_frame_not_merged)
{
	const uint64_t pages[] = { P(5), P(5), P(6) };
	const struct vshm_run want[] = { { P(5), 1 }, { P(5), 2 } };
	struct vshm_run out[4];

	expect_runs(out, vshm_coalesce(pages, 3, out, 4), want, 2);
}

Test(coalesce, count_only_and_capacity)
{
	const uint64_t pages[] = { P(1), P(2), P(9), P(4) };
	struct vshm_run out[3];

	cr_assert_eq(vshm_coalesce(pages, 4, NULL, 0), 3);
	cr_assert_eq(vshm_coalesce(pages, 4, out, 3), 3);
	cr_assert_eq(vshm_coalesce(pages, 4, out, 2), -ENOSPC);
	cr_assert_eq(vshm_coalesce(pages, 3, out, 2), 2);
}

Test(coalesce, bad_addresses)
{
	const uint64_t unaligned[] = { P(1), P(2) + 8 };
	const uint64_t high[] = { P(1), VSHM_PHYS_LIMIT };
	const uint64_t top[] = { VSHM_PHYS_LIMIT - 4096 };
	struct vshm_run out[2];

	cr_assert_eq(vshm_coalesce(unaligned, 2, out, 2), -EINVAL);
	cr_assert_eq(vshm_coalesce(high, 2, out, 2), -ERANGE);
	cr_assert_eq(vshm_coalesce(top, 1, out, 2), 1);
	cr_assert_eq(vshm_coalesce(NULL, 1, out, 2), -EINVAL);
}

/* vshm_runs_per_msg() and vshm_split() */

Test(split, runs_per_msg)
{
	cr_assert_eq(vshm_runs_per_msg(0), 4093);
	cr_assert_eq(vshm_runs_per_msg(VSHM_MAX_MSG), 4093);
	cr_assert_eq(vshm_runs_per_msg(VSHM_MAX_MSG + 1), 0);
	cr_assert_eq(vshm_runs_per_msg(63), 0);
	cr_assert_eq(vshm_runs_per_msg(64), 1);
	cr_assert_eq(vshm_runs_per_msg(79), 1);
	cr_assert_eq(vshm_runs_per_msg(80), 2);
	cr_assert_eq(vshm_runs_per_msg(4096), 253);
}

static struct vshm_run *mk_runs(size_t n)
{
	struct vshm_run *r = calloc(n ? n : 1, sizeof(*r));
	size_t i;

	cr_assert_not_null(r);
	for (i = 0; i < n; i++) {
		r[i].addr = P(0x100000 + 4 * i);
		r[i].npages = (uint32_t)(i % 3) + 1;	/* 1, 2, 3, 1, ... */
	}
	return r;
}

static uint32_t pages_of(const struct vshm_run *r, size_t from, size_t n)
{
	uint32_t s = 0;

	while (n--)
		s += r[from++].npages;
	return s;
}

Test(split, empty)
{
	struct vshm_chunk c[1];

	cr_assert_eq(vshm_split(NULL, 0, 0, c, 1), 0);
}

Test(split, exact_boundary)
{
	size_t max_msg = VSHM_GPA_LIST_SIZE(5), n = 10, i;
	struct vshm_run *r = mk_runs(n);
	struct vshm_chunk c[4];

	cr_assert_eq(vshm_split(r, n, max_msg, c, 4), 2);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(c[i].first_run, 5 * i);
		cr_assert_eq(c[i].nr_runs, 5);
		cr_assert_eq(c[i].first_page, pages_of(r, 0, 5 * i));
		cr_assert_eq(c[i].nr_pages, pages_of(r, 5 * i, 5));
		cr_assert_eq(c[i].last, i == 1);
	}
	free(r);
}

Test(split, one_past_boundary)
{
	size_t max_msg = VSHM_GPA_LIST_SIZE(5), n = 11;
	struct vshm_run *r = mk_runs(n);
	struct vshm_chunk c[4];

	cr_assert_eq(vshm_split(r, n, max_msg, c, 4), 3);
	cr_assert_eq(c[2].first_run, 10);
	cr_assert_eq(c[2].nr_runs, 1);
	cr_assert_eq(c[2].first_page, pages_of(r, 0, 10));
	cr_assert_eq(c[2].nr_pages, r[10].npages);
	cr_assert(c[2].last);
	cr_assert_not(c[1].last);
	/* One byte less than a full message: 4 runs per chunk. */
	cr_assert_eq(vshm_split(r, n, max_msg - 1, NULL, 0), 3);
	cr_assert_eq(vshm_split(r, 8, max_msg - 1, NULL, 0), 2);
	cr_assert_eq(vshm_split(r, 9, max_msg - 1, NULL, 0), 3);
	free(r);
}

Test(split, default_max_msg)
{
	size_t n = 2 * VSHM_MAX_EXT_PER_MSG + 1;
	struct vshm_run *r = mk_runs(n);
	struct vshm_chunk c[3];

	cr_assert_eq(vshm_split(r, VSHM_MAX_EXT_PER_MSG, 0, c, 3), 1);
	cr_assert_eq(c[0].nr_runs, 4093);
	cr_assert(c[0].last);
	cr_assert_eq(vshm_split(r, VSHM_MAX_EXT_PER_MSG + 1, 0, c, 3), 2);
	cr_assert_eq(c[1].nr_runs, 1);
	cr_assert_eq(vshm_split(r, n, 0, c, 3), 3);
	cr_assert_eq(c[0].nr_runs, 4093);
	cr_assert_eq(c[1].nr_runs, 4093);
	cr_assert_eq(c[2].nr_runs, 1);
	cr_assert_eq(c[2].first_page + c[2].nr_pages, pages_of(r, 0, n));
	free(r);
}

Test(split, errors)
{
	struct vshm_run *r = mk_runs(10);
	struct vshm_chunk c[4];

	cr_assert_eq(vshm_split(r, 10, 63, c, 4), -EINVAL);
	cr_assert_eq(vshm_split(r, 10, VSHM_MAX_MSG + 1, c, 4), -EINVAL);
	cr_assert_eq(vshm_split(NULL, 10, 0, c, 4), -EINVAL);
	cr_assert_eq(vshm_split(r, 10, 64, c, 4), -ENOSPC);
	cr_assert_eq(vshm_split(r, 10, 64, NULL, 0), 10);
	r[3].npages = 0;
	cr_assert_eq(vshm_split(r, 10, 0, c, 4), -EINVAL);
	r[3].npages = 0xffffffff;
	cr_assert_eq(vshm_split(r, 10, 0, c, 4), -EINVAL);
	free(r);
}

Test(split, encoded_chunks_fit_and_fill)
{
	size_t max_msg = VSHM_GPA_LIST_SIZE(7), n = 20, i;
	struct vshm_run *r = mk_runs(n);
	uint32_t total = pages_of(r, 0, n);
	uint8_t buf[VSHM_GPA_LIST_SIZE(7)];
	struct vshm_chunk c[3];

	cr_assert_eq(vshm_split(r, n, max_msg, c, 3), 3);
	for (i = 0; i < 3; i++) {
		ssize_t len = vshm_encode_chunk(buf, sizeof(buf), 4, total, r,
						&c[i]);

		cr_assert_eq(len, i < 2 ? (ssize_t)max_msg :
					  VSHM_GPA_LIST_SIZE(6));
	}
	free(r);
}

/* Page array -> runs -> chunks -> messages -> decode -> page array. */
Test(split, end_to_end)
{
	enum { NPAGES = 2000 };
	uint64_t *pages = calloc(NPAGES, sizeof(*pages));
	uint64_t *back = calloc(NPAGES, sizeof(*back));
	struct vshm_run runs[NPAGES];
	struct vshm_chunk chunks[NPAGES];
	uint8_t buf[VSHM_GPA_LIST_SIZE(3)];
	uint32_t expect_first = 0, k, j;
	ssize_t nr, nc, i;
	size_t p = 0;

	cr_assert_not_null(pages);
	cr_assert_not_null(back);
	/* Runs of 1..5 pages, each start 100 frames apart, every 7th descending. */
	for (k = 0; p < NPAGES; k++) {
		uint32_t len = k % 5 + 1;

		for (j = 0; j < len && p < NPAGES; j++)
			pages[p++] = P(100 * k + (k % 7 ? j : 4 - j));
	}
	nr = vshm_coalesce(pages, NPAGES, runs, NPAGES);
	cr_assert_gt(nr, 0);
	nc = vshm_split(runs, (size_t)nr, sizeof(buf), chunks, NPAGES);
	cr_assert_eq(nc, (nr + 2) / 3);

	p = 0;
	for (i = 0; i < nc; i++) {
		struct vshm_msg m;
		ssize_t len = vshm_encode_chunk(buf, sizeof(buf), 1, NPAGES,
						runs, &chunks[i]);

		cr_assert_gt(len, 0);
		cr_assert_eq(vshm_decode(buf, (size_t)len, &m), 0);
		cr_assert_eq(m.list.first_page, expect_first);
		cr_assert_eq(m.list.total_pages, NPAGES);
		cr_assert_eq(m.list.last, i == nc - 1);
		expect_first += m.list.nr_pages;
		for (k = 0; k < m.list.nr_ext; k++) {
			struct vshm_run r = vshm_msg_run(&m, k);

			for (j = 0; j < r.npages; j++)
				back[p++] = r.addr + P(j);
		}
	}
	cr_assert_eq(p, NPAGES);
	cr_assert_arr_eq(back, pages, NPAGES * sizeof(*pages));
	free(pages);
	free(back);
}
