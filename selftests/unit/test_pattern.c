// SPDX-License-Identifier: GPL-2.0
/*
 * The vshm-guest / vshm-server test pattern (userspace/lib/pattern.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pattern.h"

static uint64_t mem[3 * 512];	/* three 4 KiB pages */

Test(pattern, word_formula)
{
	cr_assert_eq(vshm_pattern_word(0x5eed, 0, 0), 0x5eed);
	cr_assert_eq(vshm_pattern_word(0x5eed, 3, 8),
		     0x5eedULL ^ (3ULL << 48) ^ 8);
	cr_assert_eq(vshm_pattern_word(0, 0x10001, 0), 1ULL << 48,
		     "region bits above 16 fall off the word");
}

Test(pattern, fill_then_check)
{
	struct vshm_pattern_bad bad;

	vshm_pattern_fill(mem, sizeof(mem), 7, 9);
	cr_assert_eq(mem[513], 7 ^ (9ULL << 48) ^ (513 * 8));
	cr_assert_eq(vshm_pattern_check(mem, sizeof(mem), 7, 9, &bad), 0);
	cr_assert_eq(vshm_pattern_check(mem, sizeof(mem), 8, 9, &bad),
		     -EBADMSG);
	cr_assert_eq(bad.off, 0);
	mem[700] ^= 1;
	cr_assert_eq(vshm_pattern_check(mem, sizeof(mem), 7, 9, &bad),
		     -EBADMSG);
	cr_assert_eq(bad.off, 700 * 8);
	cr_assert_eq(bad.want, 7 ^ (9ULL << 48) ^ (700 * 8));
	cr_assert_eq(bad.got, bad.want ^ 1);
}

Test(pattern, mark_then_check_marked)
{
	struct vshm_pattern_bad bad;

	vshm_pattern_fill(mem, sizeof(mem), 7, 9);
	cr_assert_eq(vshm_pattern_check_marked(mem, sizeof(mem), 7, 9, &bad),
		     -EBADMSG, "not marked yet");
	vshm_pattern_mark(mem, sizeof(mem), 7, 9);
	cr_assert_eq(mem[512], ~(7 ^ (9ULL << 48) ^ 4096));
	cr_assert_eq(mem[513], 7 ^ (9ULL << 48) ^ (513 * 8));
	cr_assert_eq(vshm_pattern_check_marked(mem, sizeof(mem), 7, 9, &bad),
		     0);
	/* The guest words must survive. */
	mem[1023] = 0;
	cr_assert_eq(vshm_pattern_check_marked(mem, sizeof(mem), 7, 9, &bad),
		     -EBADMSG);
	cr_assert_eq(bad.off, 1023 * 8);
	/* A page the host forgot. */
	vshm_pattern_fill(mem, sizeof(mem), 7, 9);
	vshm_pattern_mark(mem, 2 * 4096, 7, 9);
	cr_assert_eq(vshm_pattern_check_marked(mem, sizeof(mem), 7, 9, &bad),
		     -EBADMSG);
	cr_assert_eq(bad.off, 2 * 4096);
}
