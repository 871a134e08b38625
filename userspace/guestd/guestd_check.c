// SPDX-License-Identifier: GPL-2.0
/*
 * vshm-guestd: checks of a client's memfd before it is shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "guestd_check.h"
#include "vsock-shm/protocol.h"

static int why_set(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int why_set(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

int guestd_check_memfd(int memfd, uint64_t offset, uint64_t size,
		       uint32_t access, struct guestd_range *rg, char *why,
		       size_t why_len)
{
	struct statfs sfs;
	struct stat st;
	int seals, fl;
	uint64_t page;

	if (!access || (access & ~VSHM_ACCESS_MASK))
		return why_set(why, why_len, -EINVAL,
			       "access %#x: not VSHM_ACCESS_READ and/or VSHM_ACCESS_WRITE",
			       access);
	if (fstat(memfd, &st) || fstatfs(memfd, &sfs))
		return why_set(why, why_len, -errno, "the file passed: %s",
			       strerror(errno));
	seals = fcntl(memfd, F_GET_SEALS);
	if (!S_ISREG(st.st_mode) || seals < 0)
		return why_set(why, why_len, -EINVAL,
			       "the file passed is not a memfd (memfd_create(2))");
	fl = fcntl(memfd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
		return why_set(why, why_len, -EACCES,
			       "the memfd is not open for reading and writing");
	page = (uint64_t)sfs.f_type == HUGETLBFS_MAGIC ? VSHM_HUGE_PAGE_SIZE :
							 VSHM_PAGE_SIZE;
	if (!size || size % page || offset % page)
		return why_set(why, why_len, -EINVAL,
			       "offset %llu and size %llu must be nonzero multiples of the memfd's page size, %llu",
			       (unsigned long long)offset,
			       (unsigned long long)size,
			       (unsigned long long)page);
	if (offset > (uint64_t)st.st_size || size > (uint64_t)st.st_size - offset)
		return why_set(why, why_len, -EINVAL,
			       "the range ends past the memfd's %lld bytes",
			       (long long)st.st_size);
	/* Pinned pages must stay in the file: no shrinking from now on. */
	if (!(seals & F_SEAL_SHRINK) && fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return why_set(why, why_len, -EPERM,
			       "the memfd cannot be sealed against shrinking (it has F_SEAL_SEAL: create it with MFD_ALLOW_SEALING, or add F_SEAL_SHRINK first): %s",
			       strerror(errno));
	*rg = (struct guestd_range){
		.offset = offset, .size = size, .page_size = (uint32_t)page,
	};
	return 0;
}
