// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The test pattern of vshm-guest and vshm-server (pattern.h).
 */
#include <errno.h>

#include "pattern.h"

#define PAGE		4096U
#define WORDS_PER_PAGE	(PAGE / sizeof(uint64_t))

void vshm_pattern_fill(void *ptr, size_t size, uint64_t seed,
		       uint32_t region)
{
	uint64_t *w = ptr;
	size_t i;

	for (i = 0; i < size / sizeof(*w); i++)
		w[i] = vshm_pattern_word(seed, region, i * sizeof(*w));
}

static int mismatch(struct vshm_pattern_bad *bad, uint64_t off, uint64_t got,
		    uint64_t want)
{
	if (bad) {
		bad->off = off;
		bad->got = got;
		bad->want = want;
	}
	return -EBADMSG;
}

int vshm_pattern_check(const void *ptr, size_t size, uint64_t seed,
		       uint32_t region, struct vshm_pattern_bad *bad)
{
	const uint64_t *w = ptr;
	size_t i;

	for (i = 0; i < size / sizeof(*w); i++) {
		uint64_t want = vshm_pattern_word(seed, region, i * sizeof(*w));

		if (w[i] != want)
			return mismatch(bad, i * sizeof(*w), w[i], want);
	}
	return 0;
}

void vshm_pattern_mark(void *ptr, size_t size, uint64_t seed,
		       uint32_t region)
{
	uint64_t *w = ptr;
	size_t i;

	for (i = 0; i < size / sizeof(*w); i += WORDS_PER_PAGE)
		w[i] = ~vshm_pattern_word(seed, region, i * sizeof(*w));
}

int vshm_pattern_check_marked(const void *ptr, size_t size, uint64_t seed,
			      uint32_t region, struct vshm_pattern_bad *bad)
{
	const uint64_t *w = ptr;
	size_t i;

	for (i = 0; i < size / sizeof(*w); i++) {
		uint64_t want = vshm_pattern_word(seed, region, i * sizeof(*w));

		if (i % WORDS_PER_PAGE == 0)
			want = ~want;
		if (w[i] != want)
			return mismatch(bad, i * sizeof(*w), w[i], want);
	}
	return 0;
}
