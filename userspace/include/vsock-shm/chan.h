/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm channels (vshm_chan): message rings in a shared region, in both
 * libraries (libvsock-shm-guest and libvsock-shm-server).
 *
 * The guest lays out a channel in a region it is about to share
 * (vshm_chan_format(), on vshm_region_ptr()), both sides attach to it (the
 * host on r->ptr in on_mapped), and then each side sends messages to the
 * other through a ring it alone produces into, and receives through the
 * other: single producer, single consumer per direction, no lock, no
 * system call. An optional bulk area carries data that messages refer to
 * by offset. docs/channels.md describes the layout and the rules.
 *
 * No call blocks or allocates (except vshm_chan_attach(): the handle).
 * Waiting is the application's: when a ring is empty (or full), it arms
 * the channel with vshm_chan_prepare_wait() and sleeps until a doorbell
 * arrives. Doorbells go through the notify callback, which the application
 * makes send a protocol NOTIFY (or anything else): the library calls it
 * only when the peer armed its wait, so a busy peer costs no doorbell.
 * Hence the one rule of the first wait: a side that waits for doorbells
 * arms the channel (vshm_chan_prepare_wait()) before its first sleep, even
 * right after attaching, and drains what that call says is ready (the
 * host's on_mapped is the place: until the host armed, the guest's sends
 * ring nothing).
 *
 * The peer may be hostile: every index, length and offset it wrote is read
 * once and checked; an impossible one makes the call return -EPROTO and
 * breaks the channel (every later call returns -EPROTO). A payload or a
 * bulk buffer of the peer is still shared memory the peer can rewrite at
 * any time: copy it (vshm_chan_recv() does) before checking its contents.
 *
 * Threads: the sending calls (send, reserve, commit, kick with
 * VSHM_CHAN_EV_DATA, prepare_wait for VSHM_CHAN_EV_SPACE) are used by one
 * thread at a time, and so are the receiving calls (recv, peek, consume,
 * prepare_wait for VSHM_CHAN_EV_DATA); the two may be different threads.
 * Errors are negative errno values; no call sets errno except
 * vshm_chan_attach().
 */
#ifndef VSOCK_SHM_CHAN_H
#define VSOCK_SHM_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which side of the channel a handle is. */
enum vshm_chan_side {
	VSHM_CHAN_SIDE_GUEST = 0,	/* sends guest to host */
	VSHM_CHAN_SIDE_HOST = 1		/* sends host to guest */
};

/* Doorbell events (the notify callback, vshm_chan_prepare_wait()). */
#define VSHM_CHAN_EV_DATA	0x1U	/* a message to receive */
#define VSHM_CHAN_EV_SPACE	0x2U	/* room to send */

/* Sizes of a layout (vshm_chan_format()). */
struct vshm_chan_params {
	uint32_t g2h_size;	/* guest->host ring, bytes: a power of two */
	uint32_t h2g_size;	/* host->guest ring, bytes: a power of two */
	uint64_t bulk_size;	/* bulk area, bytes; 0: none */
	uint64_t reserved[2];	/* must be zero */
};

/* Smallest and largest ring (a power of two in between). */
#define VSHM_CHAN_MIN_RING	64U
#define VSHM_CHAN_MAX_RING	0x40000000U

/*
 * Counters of one handle (vshm_chan_get_stats()). The library fills the
 * whole structure; reserved is room for later counters (zero).
 */
struct vshm_chan_stats {
	uint64_t tx_msgs;	/* messages sent (committed) */
	uint64_t tx_bytes;	/* their payload bytes */
	uint64_t rx_msgs;	/* messages received (consumed) */
	uint64_t rx_bytes;	/* their payload bytes */
	uint64_t tx_full;	/* sends refused with -EAGAIN */
	uint64_t notify_sent;	/* doorbells rung (callback returned >= 0) */
	uint64_t notify_failed;	/* callback returned < 0 */
	uint64_t waits;		/* waits armed by vshm_chan_prepare_wait() */
	uint64_t reserved[8];
};

/* A doorbell to the peer: events is VSHM_CHAN_EV_*; >= 0 ok, < 0 errno. */
typedef int (*vshm_chan_notify_fn)(void *arg, unsigned int events);

/* A channel handle: opaque. */
struct vshm_chan;

/*
 * Bytes a layout with these parameters needs (the region must be at least
 * that large), or 0 if the parameters are invalid. Does not block.
 */
VSHM_API size_t vshm_chan_layout_size(const struct vshm_chan_params *p);

/*
 * Lays out an empty channel in mem (size bytes, 64-byte aligned; the guest
 * does this before sharing the region): header, indices at zero, both
 * rings, the bulk area (zeroed). Returns the bytes used, or -EINVAL (a ring
 * size not a power of two in range, reserved fields set, mem misaligned)
 * or -ENOSPC (size too small). Does not block.
 */
VSHM_API ssize_t vshm_chan_format(void *mem, size_t size,
				  const struct vshm_chan_params *p);

/*
 * Attaches to the channel laid out in mem (size bytes: what is mapped).
 * Reads and checks the header once; the handle keeps its own copy, so later
 * changes to the header are ignored. Returns the handle, or NULL with errno
 * EINVAL (NULL mem, misaligned, bad side), EPROTO (bad magic, version or
 * layout: an offset or size out of the region, rings overlapping) or
 * ENOMEM. Does not block. Both sides may attach in one process (tests, or
 * two threads).
 */
VSHM_API struct vshm_chan *vshm_chan_attach(void *mem, size_t size,
					    enum vshm_chan_side side);

/* Frees the handle; the region is left as it is. NULL is ignored. */
VSHM_API void vshm_chan_detach(struct vshm_chan *c);

/*
 * Sets the doorbell: fn(arg, events) is called when the peer must be woken
 * (it armed its wait and a message or room arrived), from the thread of
 * the sending or receiving call. fn NULL: no doorbell. A failed doorbell
 * (fn < 0) is counted and kept pending for vshm_chan_kick().
 */
VSHM_API void vshm_chan_set_notify(struct vshm_chan *c,
				   vshm_chan_notify_fn fn, void *arg);

/* Largest message this side can send (bytes). */
VSHM_API size_t vshm_chan_max_msg(const struct vshm_chan *c);

/*
 * Copies a message of len bytes (0 allowed) into the ring and publishes
 * it, ringing the doorbell if the peer waits. Returns 0, -EAGAIN (no room
 * now: vshm_chan_prepare_wait(VSHM_CHAN_EV_SPACE) then wait), -EMSGSIZE
 * (len > vshm_chan_max_msg(): never fits), -EPROTO (the peer broke the
 * channel). Does not block.
 */
VSHM_API int vshm_chan_send(struct vshm_chan *c, const void *msg, size_t len);

/*
 * Zero copy: room for a message of up to len bytes, directly in the ring;
 * *buf points to it (8-byte aligned). Nothing is visible to the peer until
 * vshm_chan_commit(). Another reserve replaces an uncommitted one. Returns
 * 0, or -EAGAIN, -EMSGSIZE, -EPROTO as vshm_chan_send(). Does not block.
 */
VSHM_API int vshm_chan_reserve(struct vshm_chan *c, size_t len, void **buf);

/*
 * Publishes the reserved message with its final length len (at most the
 * reserved length), ringing the doorbell if the peer waits. Returns 0,
 * -EINVAL (nothing reserved, len too large) or -EPROTO. Does not block.
 */
VSHM_API int vshm_chan_commit(struct vshm_chan *c, size_t len);

/*
 * Copies the next message into buf and consumes it, ringing the doorbell
 * if the peer waits for room. Returns its length (0 is a valid message),
 * -EAGAIN (none), -EMSGSIZE (longer than cap: left in the ring, see
 * vshm_chan_peek()), -EPROTO (the peer wrote an impossible index or
 * record). Does not block.
 */
VSHM_API ssize_t vshm_chan_recv(struct vshm_chan *c, void *buf, size_t cap);

/*
 * Zero copy: *msg and *len describe the next message, in the ring, without
 * consuming it (peeking again gives the same message). The bytes stay
 * shared with the peer: a hostile peer may change them while they are
 * read. Returns 0, -EAGAIN or -EPROTO. Does not block.
 */
VSHM_API int vshm_chan_peek(struct vshm_chan *c, const void **msg,
			    size_t *len);

/*
 * Consumes the message the last vshm_chan_peek() gave, ringing the
 * doorbell if the peer waits for room. Returns 0, -EINVAL (no peek before)
 * or -EPROTO. Does not block.
 */
VSHM_API int vshm_chan_consume(struct vshm_chan *c);

/*
 * Before sleeping until a doorbell: arms the wait for the events asked
 * (VSHM_CHAN_EV_DATA: a message to receive; VSHM_CHAN_EV_SPACE: room freed
 * since the last send that got -EAGAIN), then checks again. Returns 0 if
 * armed and nothing arrived (sleep: the peer's next message or freed room
 * rings the doorbell once), the events already satisfied (> 0: do not
 * sleep, retry), -EINVAL (no or unknown events) or -EPROTO. A doorbell
 * needs no acknowledgement: receive until -EAGAIN, then prepare again.
 * Does not block.
 */
VSHM_API int vshm_chan_prepare_wait(struct vshm_chan *c, unsigned int events);

/*
 * Rings again the doorbells whose callback failed. Returns 0 (nothing
 * pending, or rung) or the callback's negative error. Does not block
 * (unless the callback does).
 */
VSHM_API int vshm_chan_kick(struct vshm_chan *c);

/*
 * The bulk area: its address, and its size in *size (0 and NULL if the
 * layout has none). How the two sides share it is the application's (say,
 * each owns a half).
 */
VSHM_API void *vshm_chan_bulk(const struct vshm_chan *c, size_t *size);

/*
 * The bulk buffer at offset off, len bytes, as a peer's message names it:
 * its address, or NULL if it is not wholly inside the bulk area (len 0:
 * off may be the area's size). Still shared memory: copy before checking.
 */
VSHM_API void *vshm_chan_bulk_ptr(const struct vshm_chan *c, uint64_t off,
				  uint64_t len);

/* Fills *st with the handle's counters. */
VSHM_API void vshm_chan_get_stats(const struct vshm_chan *c,
				  struct vshm_chan_stats *st);

/*
 * 1 if the channel is broken (the peer wrote an impossible value; every
 * call returns -EPROTO), else 0.
 */
VSHM_API int vshm_chan_broken(const struct vshm_chan *c);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_CHAN_H */
