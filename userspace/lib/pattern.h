/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The test pattern of vshm-guest and vshm-server. The guest fills a region
 * before sharing it: the 64-bit word at byte offset off is
 * seed ^ (region << 48) ^ off. The host checks every word, then replaces
 * the first word of every 4 KiB page with its complement before answering
 * MAPPED; the guest checks that after MAPPED.
 */
#ifndef VSHM_PATTERN_H
#define VSHM_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define VSHM_PATTERN_DEFAULT_SEED	0x5eedULL

/* Where a check failed: byte offset of the word, its value, the wanted. */
struct vshm_pattern_bad {
	uint64_t off;
	uint64_t got;
	uint64_t want;
};

static inline uint64_t vshm_pattern_word(uint64_t seed, uint32_t region,
					 uint64_t off)
{
	return seed ^ ((uint64_t)region << 48) ^ off;
}

/* Guest, before sharing. size is a multiple of 8. */
void vshm_pattern_fill(void *ptr, size_t size, uint64_t seed,
		       uint32_t region);

/* Host: every word is the guest's. Returns 0, or -EBADMSG and *bad. */
int vshm_pattern_check(const void *ptr, size_t size, uint64_t seed,
		       uint32_t region, struct vshm_pattern_bad *bad);

/* Host: the first word of each 4 KiB page becomes ~pattern. */
void vshm_pattern_mark(void *ptr, size_t size, uint64_t seed,
		       uint32_t region);

/*
 * Guest, after MAPPED: the host marked every page and left the rest alone.
 * size is a multiple of 4 KiB. Returns 0, or -EBADMSG and *bad.
 */
int vshm_pattern_check_marked(const void *ptr, size_t size, uint64_t seed,
			      uint32_t region, struct vshm_pattern_bad *bad);

#endif /* VSHM_PATTERN_H */
