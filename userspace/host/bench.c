// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side measurements for "make bench" (see bench.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"

#define PASSES	3

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double gbs(size_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (double)ns : 0.0;
}

/* Sums every word: a read pass the compiler cannot drop. */
static uint64_t read_pass(const volatile uint64_t *p, size_t words)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < words; i++)
		sum += p[i];
	return sum;
}

/* Writes every word with what it holds: data is left as it was. */
static void write_pass(volatile uint64_t *p, size_t words)
{
	size_t i;

	for (i = 0; i < words; i++)
		p[i] = p[i] ^ 0;
}

static double best_read(void *ptr, size_t size, uint64_t *sink)
{
	uint64_t best = UINT64_MAX, t;
	int i;

	for (i = 0; i < PASSES; i++) {
		t = now_ns();
		*sink += read_pass(ptr, size / 8);
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	return gbs(size, best);
}

static double best_write(void *ptr, size_t size)
{
	uint64_t best = UINT64_MAX, t;
	int i;

	for (i = 0; i < PASSES; i++) {
		t = now_ns();
		write_pass(ptr, size / 8);
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	return gbs(size, best);
}

/* Local anonymous memory like the guest's: 2 MiB pages if it used them. */
static void *map_local(size_t size, uint32_t page_size, int *huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
	void *p = MAP_FAILED;

	*huge = 0;
	if (page_size == 2097152 && !(size % page_size)) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 flags | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT), -1, 0);
		*huge = p != MAP_FAILED;
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p;
}

int vshm_bench_region(void *ptr, size_t size, uint32_t page_size,
		      struct vshm_bench *out)
{
	uint64_t t, sink = 0;
	void *local;

	memset(out, 0, sizeof(*out));
	t = now_ns();
	local = map_local(size, page_size, &out->local_huge);
	out->populate_ns = now_ns() - t;
	if (local == MAP_FAILED)
		return -errno;
	memset(local, 0x5a, size);

	out->read_mapped_gbs = best_read(ptr, size, &sink);
	out->read_local_gbs = best_read(local, size, &sink);
	out->write_mapped_gbs = best_write(ptr, size);
	out->write_local_gbs = best_write(local, size);
	munmap(local, size);
	/* Keep the sums alive. */
	__asm__ volatile("" : : "r"(sink));
	return 0;
}
