/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * vsock-shm channel layout, version 1.
 *
 * A channel is a layout in a shared region (the guest's pages, mapped by
 * the host server) through which the guest and the host exchange messages
 * with no copy through vsock: two single-producer single-consumer rings,
 * guest to host (G2H) and host to guest (H2G), and an optional bulk area
 * that messages may refer to by offset. Doorbells travel outside the region
 * (protocol NOTIFY messages); the rings say when one is needed.
 *
 * All integers are little-endian with fixed widths; every pad and reserved
 * field is zero. docs/channels.md is the normative description.
 *
 * Region layout (offsets from the start of the region):
 *
 *   0x000  struct vshm_chan_hdr          written once, by the guest's format
 *   0x080  G2H producer line             written by the guest only
 *   0x100  G2H consumer line             written by the host only
 *   0x180  H2G producer line             written by the host only
 *   0x200  H2G consumer line             written by the guest only
 *   0x280  (hdr_size) first byte after the control block
 *   ring[i].data_off   ring i's data, ring[i].data_size bytes
 *   bulk_off           the bulk area, bulk_size bytes (may be absent)
 *
 * Each index line is 128 bytes, 64-byte aligned: the producer's and the
 * consumer's indices never share a cache line (nor an adjacent-line
 * prefetch pair).
 *
 * Indices are free-running 32-bit byte counts (mod 2^32); the position in
 * the data area is index & (data_size - 1), data_size a power of two. The
 * ring holds prod - cons bytes of published records, never more than
 * data_size. A record is a struct vshm_chan_rec followed by len bytes of
 * payload and zero to 7 bytes of padding: it takes
 * VSHM_CHAN_REC_SIZE(len) bytes and starts 8-byte aligned. A record never
 * wraps: when it does not fit before the end of the data area, the
 * producer fills the rest with one padding record (flags VSHM_CHAN_REC_PAD,
 * len = bytes to the end minus 8) and writes the record at offset 0. A
 * payload is at most VSHM_CHAN_MAX_MSG(data_size) bytes, so that a record
 * always fits once the ring is empty.
 *
 * Event suppression: a consumer about to sleep stores in its line the
 * index it has consumed up to (data_event) and sets data_armed; a producer
 * rings the DATA doorbell only when a publication moves prod past
 * data_event while data_armed is set. Likewise a producer that found the
 * ring full stores the consumer index it saw in space_event and sets
 * space_armed; the consumer rings the SPACE doorbell when it moves cons past
 * it.
 */
#ifndef _UAPI_VSOCK_SHM_CHAN_H
#define _UAPI_VSOCK_SHM_CHAN_H

#include <linux/types.h>

#define VSHM_CHAN_MAGIC		0x48435356	/* "VSCH" read as a __le32 */
#define VSHM_CHAN_VERSION	1

/* Size of the control block: header and the four index lines. */
#define VSHM_CHAN_HDR_SIZE	640
/* Size of one index line. */
#define VSHM_CHAN_LINE_SIZE	128
/* Alignment of hdr_size, the data areas and the bulk area. */
#define VSHM_CHAN_ALIGN		64

/* Rings (vshm_chan_hdr.ring[]). */
#define VSHM_CHAN_G2H		0	/* guest produces, host consumes */
#define VSHM_CHAN_H2G		1	/* host produces, guest consumes */
#define VSHM_CHAN_NR_RINGS	2

/* A ring's data area: a power of two between these. */
#define VSHM_CHAN_RING_MIN	64U
#define VSHM_CHAN_RING_MAX	0x40000000U	/* 1 GiB */

/* Records. */
#define VSHM_CHAN_REC_HDR	8
#define VSHM_CHAN_REC_ALIGN	8
#define VSHM_CHAN_REC_PAD	0x1U	/* padding up to the end of the area */
#define VSHM_CHAN_REC_MASK	VSHM_CHAN_REC_PAD
#define VSHM_CHAN_REC_SIZE(len) \
	(VSHM_CHAN_REC_HDR + (((len) + VSHM_CHAN_REC_ALIGN - 1) & \
			      ~(VSHM_CHAN_REC_ALIGN - 1)))
/* Largest payload in a ring of data_size bytes. */
#define VSHM_CHAN_MAX_MSG(data_size)	((data_size) / 2 - VSHM_CHAN_REC_HDR)

/* One ring's data area. */
struct vshm_chan_ring_desc {
	__le64	data_off;	/* VSHM_CHAN_ALIGN aligned, >= hdr_size */
	__le32	data_size;	/* power of two, RING_MIN..RING_MAX */
	__le32	pad;		/* 0 */
};

/* At offset 0; written by the guest before it shares the region. */
struct vshm_chan_hdr {
	__le32	magic;		/* VSHM_CHAN_MAGIC */
	__le16	version;	/* VSHM_CHAN_VERSION */
	__le16	hdr_size;	/* VSHM_CHAN_HDR_SIZE */
	__le32	flags;		/* 0: no optional feature is defined */
	__le32	pad0;		/* 0 */
	__le64	total_size;	/* bytes of the region the layout uses */
	__le64	bulk_off;	/* VSHM_CHAN_ALIGN aligned; 0 without bulk */
	__le64	bulk_size;	/* 0: no bulk area */
	struct vshm_chan_ring_desc ring[VSHM_CHAN_NR_RINGS];
	__le64	reserved[7];	/* 0 */
};

/* A ring's producer line: written by the producer only. */
struct vshm_chan_prod {
	__le32	prod;		/* index after the last published record */
	__le32	space_event;	/* ring SPACE when cons passes this ... */
	__le32	space_armed;	/* ... and this is 1 (else 0) */
	__le32	reserved[29];	/* 0 */
};

/* A ring's consumer line: written by the consumer only. */
struct vshm_chan_cons {
	__le32	cons;		/* index after the last consumed record */
	__le32	data_event;	/* ring DATA when prod passes this ... */
	__le32	data_armed;	/* ... and this is 1 (else 0) */
	__le32	reserved[29];	/* 0 */
};

/* The control block at offset 0 of the region. */
struct vshm_chan_ctrl {
	struct vshm_chan_hdr hdr;
	struct vshm_chan_prod g2h_prod;	/* guest writes */
	struct vshm_chan_cons g2h_cons;	/* host writes */
	struct vshm_chan_prod h2g_prod;	/* host writes */
	struct vshm_chan_cons h2g_cons;	/* guest writes */
};

/* A record: the header, then len bytes, padded to 8 bytes. */
struct vshm_chan_rec {
	__le32	len;		/* payload bytes (PAD: bytes to the end - 8) */
	__le32	flags;		/* 0 or VSHM_CHAN_REC_PAD */
};

#endif /* _UAPI_VSOCK_SHM_CHAN_H */
