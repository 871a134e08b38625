// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * /proc/<pid>/pagemap parsing.
 */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "pagemap.h"

#define PM_PAGE_SHIFT	12
#define PM_PAGE_SIZE	(1ULL << PM_PAGE_SHIFT)
#define PM_PHYS_BITS	52

int vshm_pagemap_entry_to_phys(uint64_t entry, uint64_t *phys)
{
	uint64_t pfn = entry & VSHM_PM_PFN_MASK;

	*phys = 0;
	if (!(entry & VSHM_PM_PRESENT))
		return (entry & VSHM_PM_SWAPPED) ? -EAGAIN : -ENOENT;
	if (!pfn)
		return -EPERM;
	if (pfn >= (1ULL << (PM_PHYS_BITS - PM_PAGE_SHIFT)))
		return -ERANGE;
	*phys = pfn << PM_PAGE_SHIFT;
	return 0;
}

int vshm_pagemap_read(int fd, const void *addr, size_t npages,
		      uint64_t *phys_out)
{
	uintptr_t va = (uintptr_t)addr;
	size_t done = 0, i;
	int first_err = 0;

	if (va & (PM_PAGE_SIZE - 1))
		return -EINVAL;
	if (!npages)
		return 0;
	if (!phys_out || npages > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;

	/* The entries land in phys_out and are converted in place. */
	while (done < npages * sizeof(uint64_t)) {
		off_t off = (off_t)((va >> PM_PAGE_SHIFT) * sizeof(uint64_t) + done);
		ssize_t r = pread(fd, (char *)phys_out + done,
				  npages * sizeof(uint64_t) - done, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}

	for (i = 0; i < npages; i++) {
		int err = vshm_pagemap_entry_to_phys(phys_out[i], &phys_out[i]);

		if (err && !first_err)
			first_err = err;
	}
	return first_err;
}
