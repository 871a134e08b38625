/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * What buffer-client (guest) and buffer-service (host) agree on. See
 * ../README.md.
 *
 * The client shares a buffer it owns, with BUFSVC_COOKIE as the region's
 * cookie. Its last BUFSVC_REPLY_SIZE bytes are the reply area; the rest is
 * the data the service reads. For each round k (1, 2, ...) the client
 * rewrites the data and rings the region's doorbell with bits k; the
 * service reads the whole data area, writes a struct bufsvc_reply and
 * rings back with the same bits.
 */
#ifndef BUFSVC_H
#define BUFSVC_H

#include <stddef.h>
#include <stdint.h>

/* The cookie of a buffer-service region (ALLOC's cookie): "buf-svc1". */
#define BUFSVC_COOKIE		0x6275662d73766331ULL

/* The reply area: the buffer's last bytes. */
#define BUFSVC_REPLY_SIZE	64

struct bufsvc_reply {
	uint64_t round;		/* the doorbell's bits it answers */
	uint64_t checksum;	/* bufsvc_sum() of the data area */
	uint64_t bytes;		/* bytes read: the data area's size */
	uint64_t reserved[5];
};

/* FNV-1a over 64-bit words (host byte order); len is a multiple of 8. */
static inline uint64_t bufsvc_sum(const volatile void *p, size_t len)
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

#endif /* BUFSVC_H */
