/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * Page lists to extents, and extents to GPA_LIST chunks (docs/protocol.md,
 * "Extents and huge pages" and "Long lists").
 */
#ifndef VSHM_EXTENT_H
#define VSHM_EXTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* One GPA_LIST message of a split: runs[first_run .. first_run+nr_runs). */
struct vshm_chunk {
	size_t first_run;	/* index of the chunk's first run */
	uint32_t nr_runs;	/* 1..VSHM_MAX_EXT_PER_MSG */
	uint32_t first_page;	/* pages before this chunk */
	uint32_t nr_pages;	/* pages in this chunk */
	bool last;		/* final chunk */
};

/*
 * Coalesces page addresses (4 KiB aligned, in allocation order) into runs:
 * page i+1 joins the run of page i iff it is the next frame up. Order is
 * kept; descending frames are never merged. A 2 MiB huge page (512 frames
 * in a row) becomes one run. A run holds at most UINT32_MAX pages.
 * out may be NULL to count only. Returns the number of runs, -EINVAL for
 * a NULL pages array with npages > 0 or an unaligned address, -ERANGE for
 * a page past 2^52, -ENOSPC if more than out_cap runs are needed.
 */
ssize_t vshm_coalesce(const uint64_t *pages, size_t npages,
		      struct vshm_run *out, size_t out_cap);

/*
 * Runs per message of at most max_msg bytes (0 means VSHM_MAX_MSG), capped
 * at VSHM_MAX_EXT_PER_MSG; 0 if max_msg is below VSHM_GPA_LIST_SIZE(1) or
 * above VSHM_MAX_MSG.
 */
size_t vshm_runs_per_msg(size_t max_msg);

/*
 * Splits n runs into chunks of at most max_msg bytes each (0 means
 * VSHM_MAX_MSG), in order, filling every chunk but the last. A run is never
 * split. out may be NULL to count only. Returns the number of chunks (0 for
 * n == 0), -EINVAL for a bad max_msg, a NULL runs with n > 0, a run of 0
 * pages or more than UINT32_MAX pages in all, -ENOSPC if more than out_cap
 * chunks are needed.
 */
ssize_t vshm_split(const struct vshm_run *runs, size_t n, size_t max_msg,
		   struct vshm_chunk *out, size_t out_cap);

/* Encodes chunk c of a split of runs as a GPA_LIST (see proto.h). */
ssize_t vshm_encode_chunk(void *buf, size_t cap, uint32_t region,
			  uint32_t total_pages, const struct vshm_run *runs,
			  const struct vshm_chunk *c);

#endif /* VSHM_EXTENT_H */
