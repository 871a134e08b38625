/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host-side measurements for "make bench": the same work timed on a mapped
 * region and on local anonymous memory of the same size and page size, in
 * the same process, one right after the other.
 */
#ifndef VSHM_HOST_BENCH_H
#define VSHM_HOST_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct vshm_bench {
	uint64_t populate_ns;		/* mmap(MAP_POPULATE) of local memory */
	double read_mapped_gbs;		/* GB/s, best of several passes */
	double read_local_gbs;
	double write_mapped_gbs;	/* rewrite of every word in place */
	double write_local_gbs;
	int local_huge;			/* local memory used 2 MiB pages */
};

/* Measures on ptr (size bytes) against local memory; 0 or -errno. */
int vshm_bench_region(void *ptr, size_t size, uint32_t page_size,
		      struct vshm_bench *out);

#endif /* VSHM_HOST_BENCH_H */
