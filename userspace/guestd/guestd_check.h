/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vshm-guestd's checks of what a client asks it to share: that the file is
 * a memfd the client may write, the range lies inside it on page
 * boundaries, and the file can no longer shrink under the pinned pages.
 */
#ifndef VSHM_GUESTD_CHECK_H
#define VSHM_GUESTD_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct guestd_range {
	uint64_t offset;
	uint64_t size;
	uint32_t page_size;	/* 4096, or 2 MiB for a hugetlb memfd */
};

/*
 * Checks memfd's range [offset, offset + size) for a share with access
 * (VSHM_ACCESS_*), then seals the memfd against shrinking (F_SEAL_SHRINK).
 * Returns 0 and fills *rg, or a negative errno with the reason in why:
 * -EINVAL (not a memfd, bad access, a range that is empty, unaligned or
 * past the end), -EACCES (not open for reading and writing), -EPERM (the
 * memfd is sealed against sealing but not against shrinking), or the
 * errno of fstat/fstatfs/fcntl.
 */
int guestd_check_memfd(int memfd, uint64_t offset, uint64_t size,
		       uint32_t access, struct guestd_range *rg, char *why,
		       size_t why_len);

#endif /* VSHM_GUESTD_CHECK_H */
