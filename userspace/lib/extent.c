// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Page lists to extents, and extents to GPA_LIST chunks.
 */
#include <errno.h>

#include "extent.h"

ssize_t vshm_coalesce(const uint64_t *pages, size_t npages,
		      struct vshm_run *out, size_t out_cap)
{
	struct vshm_run cur = { 0, 0 };
	size_t nr = 0, i;

	if (!pages && npages)
		return -EINVAL;

	for (i = 0; i < npages; i++) {
		uint64_t a = pages[i];

		if (a & (VSHM_PAGE_SIZE - 1))
			return -EINVAL;
		if (a >= VSHM_PHYS_LIMIT)
			return -ERANGE;
		if (cur.npages && cur.npages < UINT32_MAX &&
		    a == cur.addr + ((uint64_t)cur.npages << VSHM_PAGE_SHIFT)) {
			cur.npages++;
			continue;
		}
		if (cur.npages) {
			if (out && nr >= out_cap)
				return -ENOSPC;
			if (out)
				out[nr] = cur;
			nr++;
		}
		cur.addr = a;
		cur.npages = 1;
	}
	if (cur.npages) {
		if (out && nr >= out_cap)
			return -ENOSPC;
		if (out)
			out[nr] = cur;
		nr++;
	}
	return (ssize_t)nr;
}

size_t vshm_runs_per_msg(size_t max_msg)
{
	size_t per;

	if (max_msg == 0)
		max_msg = VSHM_MAX_MSG;
	if (max_msg < VSHM_GPA_LIST_SIZE(1) || max_msg > VSHM_MAX_MSG)
		return 0;
	per = (max_msg - VSHM_GPA_LIST_HDR_SIZE) / VSHM_EXTENT_SIZE;
	return per < VSHM_MAX_EXT_PER_MSG ? per : VSHM_MAX_EXT_PER_MSG;
}

ssize_t vshm_split(const struct vshm_run *runs, size_t n, size_t max_msg,
		   struct vshm_chunk *out, size_t out_cap)
{
	size_t per = vshm_runs_per_msg(max_msg);
	uint64_t page = 0;
	size_t nr = 0, i = 0;

	if (!per || (!runs && n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!runs[i].npages)
			return -EINVAL;
		page += runs[i].npages;
	}
	if (page > UINT32_MAX)
		return -EINVAL;

	page = 0;
	for (i = 0; i < n; nr++) {
		struct vshm_chunk c = {
			.first_run = i,
			.nr_runs = (uint32_t)(n - i < per ? n - i : per),
			.first_page = (uint32_t)page,
		};
		uint64_t pages = 0;
		size_t k;

		for (k = 0; k < c.nr_runs; k++)
			pages += runs[i + k].npages;
		c.nr_pages = (uint32_t)pages;
		i += c.nr_runs;
		page += pages;
		c.last = i == n;
		if (out) {
			if (nr >= out_cap)
				return -ENOSPC;
			out[nr] = c;
		}
	}
	return (ssize_t)nr;
}

ssize_t vshm_encode_chunk(void *buf, size_t cap, uint32_t region,
			  uint32_t total_pages, const struct vshm_run *runs,
			  const struct vshm_chunk *c)
{
	if (!runs || !c)
		return -EINVAL;
	return vshm_encode_gpa_list(buf, cap, region, c->first_page,
				    total_pages, runs + c->first_run,
				    c->nr_runs);
}
