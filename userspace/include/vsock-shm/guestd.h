/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm guest daemon client (in libvsock-shm-guest): share memory from
 * an unprivileged guest application.
 *
 * Reading guest-physical addresses needs root, so an application that is
 * not root asks the guest daemon, vshm-guestd (root), to share for it. It
 * passes a memfd of its own (MFD_HUGETLB ones too) over the daemon's UNIX
 * socket; the daemon checks who asks (root, or a member of the group it
 * serves), seals the memfd against shrinking, pins the range, shares it
 * with the host on a connection of its own and answers with the region's
 * id. The application keeps using its own mapping of the memfd. It never
 * learns a physical address, and the daemon shares nothing the
 * application could not already read and write (docs/guestd.md).
 *
 * One struct vshm_guestd is one connection to the daemon, and through it
 * one connection to the host server at cid:port. Everything it shared ends
 * when it is closed (or the application dies): the daemon then frees the
 * regions as vshm_guest_close() does.
 *
 * Threads: one thread at a time per struct vshm_guestd. Every request
 * waits for the daemon's answer (the daemon waits for the host's, at most
 * its timeout). Host events (a revocation, a doorbell) can arrive at any
 * time: they are queued and handed out by vshm_guestd_next_event(), which
 * never blocks; vshm_guestd_fd() is readable while one may be waiting.
 *
 * Errors: functions returning a pointer return NULL and set errno;
 * functions returning int return 0 (or what they say) or a negative errno.
 */
#ifndef VSOCK_SHM_GUESTD_H
#define VSOCK_SHM_GUESTD_H

#include <stdint.h>

#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where vshm-guestd listens unless told otherwise. */
#define VSHM_GUESTD_PATH	"/run/vsock-shm/guestd.sock"

/* A connection to the guest daemon: opaque. */
struct vshm_guestd;

/*
 * Connects to the daemon at path (NULL: VSHM_GUESTD_PATH), which connects
 * to the host server at cid:port, retrying for up to wait_ms (0: once)
 * while nobody listens there yet. NULL with errno on failure: EACCES (not
 * allowed: see the daemon's group), ECONNREFUSED (no daemon, or no host
 * server within wait_ms), ETIMEDOUT, EPROTO (the daemon speaks another
 * version), and vshm_guestd_last_failure() of the returned NULL cannot be
 * read: the daemon's reason is logged by the daemon.
 */
VSHM_API struct vshm_guestd *vshm_guestd_connect(const char *path,
						 unsigned int cid,
						 unsigned int port,
						 int wait_ms);

/*
 * Shares size bytes of memfd from offset (both multiples of the memfd's
 * page size: 4 KiB, or 2 MiB for hugetlb) with access VSHM_ACCESS_*, the
 * host seeing cookie with the region (nonzero needs VSHM_FEAT_COOKIE). The
 * memfd must be open read-write. Blocks until the host mapped it (or
 * refused). Returns 0 and the region's id in *region (and its grant in
 * *grant if not NULL); -EPROTO if the host refused (vshm_guestd_last_error()
 * has its code), -EINVAL (bad range or access, not a memfd), -EPERM (the
 * memfd cannot be sealed against shrinking), -EOPNOTSUPP (a cookie the host
 * cannot see), -ENOMEM, -ETIMEDOUT, or another negative errno;
 * vshm_guestd_last_failure() says why.
 */
VSHM_API int vshm_guestd_share(struct vshm_guestd *d, int memfd,
			       uint64_t offset, uint64_t size,
			       unsigned int access, uint64_t cookie,
			       uint32_t *region, uint64_t *grant);

/*
 * Ends a region this connection shared; blocks until the host confirmed.
 * Returns 0, -ENOENT (no such region here) or what vshm_free() returns.
 */
VSHM_API int vshm_guestd_free(struct vshm_guestd *d, uint32_t region);

/*
 * Rings the host's doorbell for a region (a NOTIFY with bits != 0).
 * Returns 0, -EOPNOTSUPP (the host has no doorbells), -ENOENT, -EINVAL.
 */
VSHM_API int vshm_guestd_notify(struct vshm_guestd *d, uint32_t region,
				uint32_t bits);

/* VSHM_FEAT_* the host agreed to. */
VSHM_API uint64_t vshm_guestd_features(const struct vshm_guestd *d);

/* What the host told this connection: vshm_guestd_next_event(). */
enum vshm_guestd_event_type {
	VSHM_GUESTD_EV_REVOKED = 1,	/* reason: enum vshm_revoke_reason */
	VSHM_GUESTD_EV_NOTIFY = 2	/* bits: the host's doorbell */
};

struct vshm_guestd_event {
	uint32_t type;		/* enum vshm_guestd_event_type */
	uint32_t region;
	uint32_t reason;	/* REVOKED */
	uint32_t bits;		/* NOTIFY */
};

/*
 * The file descriptor to poll (POLLIN) in the application's event loop;
 * owned by d.
 */
VSHM_API int vshm_guestd_fd(const struct vshm_guestd *d);

/*
 * Hands out the oldest host event, reading what the daemon sent without
 * blocking. Returns 1 (one event in *ev), 0 (none), or a negative errno
 * (-ENOTCONN: the daemon went away).
 */
VSHM_API int vshm_guestd_next_event(struct vshm_guestd *d,
				    struct vshm_guestd_event *ev);

/* The host's last ERROR: code and detail. 0, or -ENOENT if none. */
VSHM_API int vshm_guestd_last_error(const struct vshm_guestd *d,
				    uint32_t *code, uint32_t *detail);

/* Why the last request failed, in words ("" if it did not). */
VSHM_API const char *vshm_guestd_last_failure(const struct vshm_guestd *d);

/*
 * Closes the connection: the daemon frees everything it shared. Returns 0
 * or the negative errno of close().
 */
VSHM_API int vshm_guestd_close(struct vshm_guestd *d);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_GUESTD_H */
