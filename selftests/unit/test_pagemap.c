// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/self/pagemap entries: the pure parser on crafted entries, the reader
 * on a crafted file, and once on the real file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pagemap.h"

Test(pagemap, present)
{
	uint64_t phys = 1;

	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT | 0x12345,
						&phys), 0);
	cr_assert_eq(phys, 0x12345000ULL);
}

Test(pagemap, flag_bits_are_not_pfn)
{
	uint64_t e = VSHM_PM_PRESENT | VSHM_PM_EXCLUSIVE | VSHM_PM_SOFT_DIRTY |
		     VSHM_PM_FILE_SHARED | 0x777;
	uint64_t phys = 0;

	cr_assert_eq(vshm_pagemap_entry_to_phys(e, &phys), 0);
	cr_assert_eq(phys, 0x777000ULL);
	/* The largest PFN under 2^52 bytes. */
	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT |
						0xffffffffffULL, &phys), 0);
	cr_assert_eq(phys, 0xffffffffff000ULL);
}

Test(pagemap, not_present)
{
	uint64_t phys = 1;

	cr_assert_eq(vshm_pagemap_entry_to_phys(0, &phys), -ENOENT);
	cr_assert_eq(phys, 0);
	/* A PFN without the present bit means nothing. */
	cr_assert_eq(vshm_pagemap_entry_to_phys(0x12345, &phys), -ENOENT);
	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_SOFT_DIRTY, &phys),
		     -ENOENT);
}

Test(pagemap, swapped)
{
	uint64_t phys = 1;

	/* Swap type and offset live in the low bits. */
	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_SWAPPED | 0x4321f,
						&phys), -EAGAIN);
	cr_assert_eq(phys, 0);
}

Test(pagemap, zero_pfn_without_cap_sys_admin)
{
	uint64_t phys = 1;

	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT, &phys),
		     -EPERM);
	cr_assert_eq(phys, 0);
	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT |
						VSHM_PM_EXCLUSIVE, &phys),
		     -EPERM);
}

Test(pagemap, pfn_too_large)
{
	uint64_t phys = 1;

	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT |
						(1ULL << 40), &phys), -ERANGE);
	cr_assert_eq(phys, 0);
	cr_assert_eq(vshm_pagemap_entry_to_phys(VSHM_PM_PRESENT |
						VSHM_PM_PFN_MASK, &phys),
		     -ERANGE);
}

/* A fake pagemap: entries[i] at offset 8 * (first + i). */
static int fake_pagemap(size_t first, const uint64_t *entries, size_t n)
{
	int fd = memfd_create("pagemap", 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, entries, n * 8, (off_t)(first * 8)),
		     (ssize_t)(n * 8));
	return fd;
}

Test(pagemap, read_offsets)
{
	const uint64_t e[] = {
		VSHM_PM_PRESENT | 0x10, VSHM_PM_PRESENT | 0x20,
		VSHM_PM_PRESENT | VSHM_PM_SOFT_DIRTY | 0x30,
	};
	uint64_t phys[3] = { 0 };
	int fd = fake_pagemap(7, e, 3);

	cr_assert_eq(vshm_pagemap_read(fd, (void *)0x7000, 3, phys), 0);
	cr_assert_eq(phys[0], 0x10000);
	cr_assert_eq(phys[1], 0x20000);
	cr_assert_eq(phys[2], 0x30000);
	/* From the second page on. */
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0x8000, 2, phys), 0);
	cr_assert_eq(phys[0], 0x20000);
	cr_assert_eq(phys[1], 0x30000);
	/* pread leaves the file offset alone. */
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 0);
	close(fd);
}

Test(pagemap, read_reports_first_failed_page)
{
	const uint64_t e[] = {
		VSHM_PM_PRESENT | 0x10, VSHM_PM_SWAPPED | 0x99, 0,
		VSHM_PM_PRESENT | 0x40,
	};
	uint64_t phys[4];
	int fd = fake_pagemap(0, e, 4);

	memset(phys, 0xff, sizeof(phys));
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0, 4, phys), -EAGAIN);
	cr_assert_eq(phys[0], 0x10000);
	cr_assert_eq(phys[1], 0);
	cr_assert_eq(phys[2], 0);
	cr_assert_eq(phys[3], 0x40000);
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0x2000, 2, phys), -ENOENT);
	close(fd);
}

Test(pagemap, read_errors)
{
	const uint64_t e[] = { VSHM_PM_PRESENT | 1, VSHM_PM_PRESENT | 2 };
	uint64_t phys[4];
	int fd = fake_pagemap(0, e, 2);

	cr_assert_eq(vshm_pagemap_read(fd, (void *)0x1001, 1, phys), -EINVAL);
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0, 1, NULL), -EINVAL);
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0, 0, NULL), 0);
	cr_assert_eq(vshm_pagemap_read(fd, (void *)0, 3, phys), -EIO);
	close(fd);
	cr_assert_eq(vshm_pagemap_read(-1, (void *)0, 1, phys), -EBADF);
}

Test(pagemap, real_self_pagemap)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t phys[2] = { 7, 7 };
	char *p;
	int fd, rc;

	cr_assert_eq(psz, 4096);
	p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	fd = open("/proc/self/pagemap", O_RDONLY);
	cr_assert_geq(fd, 0);

	/* Never touched: not present. */
	cr_assert_eq(vshm_pagemap_read(fd, p, 2, phys), -ENOENT);
	p[0] = 1;
	p[4096] = 2;
	rc = vshm_pagemap_read(fd, p, 2, phys);
	/* With CAP_SYS_ADMIN in the initial namespace, real frames. */
	cr_assert(rc == 0 || rc == -EPERM, "rc %d", rc);
	if (rc == 0) {
		cr_assert_neq(phys[0], 0);
		cr_assert_eq(phys[0] & 4095, 0);
		cr_assert_neq(phys[0], phys[1]);
	} else {
		cr_assert_eq(phys[0], 0);
	}
	close(fd);
	munmap(p, 2 * 4096);
}
