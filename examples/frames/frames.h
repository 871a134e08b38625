/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * What frame-producer (guest) and frame-consumer (host) agree on: the
 * messages of their vshm_chan and the frames' checksum. See ../README.md.
 *
 * The guest lays out a channel in the region it shares: its guest->host
 * ring carries one struct frame_msg per frame, whose pixels the guest wrote
 * in place in the channel's bulk area (slots of the frame size, used in
 * turn); the host->guest ring carries one struct frame_ack per frame the
 * host checked, which gives the slot back to the guest (a credit).
 * Doorbells (protocol NOTIFY) carry the channel's events as their bits.
 */
#ifndef FRAMES_H
#define FRAMES_H

#include <stddef.h>
#include <stdint.h>

/* The cookie of a frames region (ALLOC's cookie): "frames01". */
#define FRAMES_COOKIE		0x6672616d65733031ULL

/* Guest -> host: frame seq is at offset, len bytes of the bulk area. */
struct frame_msg {
	uint64_t seq;		/* 0, 1, 2, ... */
	uint64_t offset;	/* into the bulk area */
	uint32_t len;		/* bytes, a multiple of 8 */
	uint32_t flags;		/* 0 */
	uint64_t checksum;	/* frame_sum() of the bytes */
};

/* Host -> guest: frame seq was read; ok 1 if its checksum matched. */
struct frame_ack {
	uint64_t seq;
	uint32_t ok;
	uint32_t pad;
};

/* FNV-1a over 64-bit words (host byte order); len is a multiple of 8. */
static inline uint64_t frame_sum(const volatile void *p, size_t len)
{
	const volatile uint64_t *w = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		h ^= w[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The pixels of frame seq: word i. */
static inline uint64_t frame_word(uint64_t seq, size_t i)
{
	uint64_t x = (seq + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)i;

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

#endif /* FRAMES_H */
