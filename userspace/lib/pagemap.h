/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * /proc/<pid>/pagemap entries (Documentation/admin-guide/mm/pagemap.rst):
 * one native-endian 64-bit entry per virtual page.
 */
#ifndef VSHM_PAGEMAP_H
#define VSHM_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define VSHM_PM_PRESENT		(1ULL << 63)
#define VSHM_PM_SWAPPED		(1ULL << 62)
#define VSHM_PM_FILE_SHARED	(1ULL << 61)
#define VSHM_PM_EXCLUSIVE	(1ULL << 56)
#define VSHM_PM_SOFT_DIRTY	(1ULL << 55)
#define VSHM_PM_PFN_MASK	((1ULL << 55) - 1)	/* bits 0-54 */

/*
 * The physical address of the page an entry describes. Returns 0 and sets
 * *phys, or: -ENOENT not present, -EAGAIN swapped out, -EPERM present with
 * PFN 0 (the reader lacks CAP_SYS_ADMIN), -ERANGE PFN at or past 2^52 bytes.
 * *phys is set to 0 on error.
 */
int vshm_pagemap_entry_to_phys(uint64_t entry, uint64_t *phys);

/*
 * Translates npages 4 KiB pages starting at the page-aligned addr with the
 * pagemap file fd (pread: fd's offset is unchanged). Fills phys_out[i] for
 * every page, 0 for a page that failed, and returns 0 or the error of the
 * first failed page as above. Returns -EINVAL for an unaligned addr or a
 * NULL phys_out with npages > 0, -EIO if the file ends early, or -errno of
 * pread; phys_out is then undefined.
 */
int vshm_pagemap_read(int fd, const void *addr, size_t npages,
		      uint64_t *phys_out);

#endif /* VSHM_PAGEMAP_H */
