/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the libFuzzer targets (docs/fuzzing.md): an invariant
 * check that traps, and little-endian readers of raw input bytes that do
 * not go through the code under test.
 */
#ifndef VSHM_FUZZ_H
#define VSHM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * An invariant that must hold. On violation: say which one on stderr, then
 * __builtin_trap(): libFuzzer reports a crash ("deadly signal") and keeps
 * the input.
 */
#define FUZZ_CHECK(cond)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			__builtin_trap();				\
		}							\
	} while (0)

static inline uint16_t fz_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t fz_le64(const uint8_t *p)
{
	return (uint64_t)fz_le32(p) | (uint64_t)fz_le32(p + 4) << 32;
}

static inline void fz_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void fz_put_le32(uint8_t *p, uint32_t v)
{
	fz_put_le16(p, (uint16_t)v);
	fz_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void fz_put_le64(uint8_t *p, uint64_t v)
{
	fz_put_le32(p, (uint32_t)v);
	fz_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Consumes input bytes in order; past the end every read gives zeros. */
struct fz_reader {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fz_u8(struct fz_reader *r)
{
	uint8_t v = 0;

	if (r->left) {
		v = *r->p++;
		r->left--;
	}
	return v;
}

static inline uint16_t fz_u16(struct fz_reader *r)
{
	uint16_t lo = fz_u8(r);

	return (uint16_t)(lo | fz_u8(r) << 8);
}

static inline uint32_t fz_u32(struct fz_reader *r)
{
	uint32_t lo = fz_u16(r);

	return lo | (uint32_t)fz_u16(r) << 16;
}

static inline uint64_t fz_u64(struct fz_reader *r)
{
	uint64_t lo = fz_u32(r);

	return lo | (uint64_t)fz_u32(r) << 32;
}

#endif /* VSHM_FUZZ_H */
