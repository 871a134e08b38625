/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm guest library (libvsock-shm-guest): share anonymous memory of
 * a virtual machine with a host server over AF_VSOCK SOCK_SEQPACKET
 * (docs/protocol.md). No dependency beyond libc; links statically too.
 * Runs as root (reading physical addresses from /proc/self/pagemap needs
 * CAP_SYS_ADMIN).
 *
 * A region's pages are pinned for the long term with io_uring fixed
 * buffers (FOLL_LONGTERM: neither compaction nor migration can move them,
 * which mlock does not guarantee), then their guest-physical addresses are
 * read and sent, one GPA_LIST chunk at a time (stop-and-wait).
 *
 * Threads: one connection is used by one thread at a time. Every call
 * waits for the host's answer, at most the connection's timeout (default
 * 30 s). After a timeout, an I/O error or an answer that makes no sense,
 * the connection is broken: every later request fails with ENOTCONN, and
 * only vshm_guest_close() remains. Distinct connections are independent.
 *
 * Pages are unpinned only when the host has confirmed it no longer maps
 * them (FREED), or after the connection is closed (the host module drops
 * every grant of a connection when it sees the guest end it). A region
 * whose release the host did not confirm stays pinned until
 * vshm_guest_close().
 *
 * Errors: functions returning a pointer return NULL and set errno;
 * functions returning int return 0 or a negative errno.
 */
#ifndef VSOCK_SHM_GUEST_H
#define VSOCK_SHM_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VSHM_GUEST_DEFAULT_TIMEOUT_MS	30000

/* vshm_share() flags */
#define VSHM_SHARE_HUGE		0x1U	/* back the region with 2 MiB pages */

/* A connection to a host server, and a shared region: opaque. */
struct vshm_guest;
struct vshm_region;

/*
 * What the library measured of a region (vshm_region_stats()). The
 * library owns it; later versions may append fields.
 */
struct vshm_region_stats {
	uint32_t region;	/* protocol region id */
	uint64_t grant;		/* from MAPPED */
	size_t size;		/* bytes */
	uint32_t page_size;	/* 4096 or 2 MiB */
	uint32_t nr_pages;	/* 4 KiB pages */
	uint32_t nr_extents;	/* runs of guest-contiguous pages */
	uint32_t nr_chunks;	/* GPA_LIST messages sent */
	uint64_t pin_ns;	/* io_uring buffer registration */
	uint64_t pagemap_ns;	/* reading the GPAs */
	uint64_t share_ns;	/* ALLOC sent to MAPPED received */
};

/*
 * Connects to cid:port (SOCK_SEQPACKET) from a privileged local port
 * (below 1024) when the caller may bind one (CAP_NET_BIND_SERVICE): the
 * host translates GPA lists only from those, unless its policy accepts
 * others (VSHM_E_PORT otherwise). NULL with errno set on failure
 * (ECONNREFUSED: nobody listens, ETIMEDOUT, EADDRINUSE: every privileged
 * port is taken, ...).
 */
VSHM_API struct vshm_guest *vshm_guest_connect(unsigned int cid,
					       unsigned int port);

/* Reply timeout in ms (> 0). Returns 0 or -EINVAL. */
VSHM_API int vshm_guest_set_timeout(struct vshm_guest *g, int timeout_ms);

/*
 * Largest GPA_LIST message, VSHM_GPA_LIST_SIZE(1)..VSHM_MAX_MSG (default
 * VSHM_MAX_MSG); smaller means more chunks. Returns 0 or -EINVAL.
 */
VSHM_API int vshm_guest_set_max_msg(struct vshm_guest *g, size_t max_msg);

/*
 * Ends the connection (waiting up to the timeout for the host to see it),
 * then releases every region still held: unpins, unmaps and frees them.
 * Region pointers are invalid afterwards. Returns 0 or the negative errno
 * of close().
 */
VSHM_API int vshm_guest_close(struct vshm_guest *g);

/*
 * Called on the fresh (touched, still unpinned and unshared) memory before
 * its addresses are read: the place to fill it. Returns 0 or a negative
 * errno, which fails vshm_share_fill() with that errno.
 */
typedef int (*vshm_fill_fn)(void *ptr, size_t size, uint32_t region,
			    void *arg);

/*
 * Allocates size bytes (a multiple of 4 KiB, or of 2 MiB with
 * VSHM_SHARE_HUGE), pins them, and shares them with access VSHM_ACCESS_*.
 * Returns the region once the host answered MAPPED; NULL with errno on
 * failure, and then nothing stays pinned or mapped (except as the header
 * comment says if the host never confirmed). errno EPROTO: the host
 * answered ERROR (see vshm_guest_last_error(); VSHM_E_BUSY there means
 * the host shares nothing for now, as while this VM is being migrated:
 * retry later); EBADMSG: an answer that breaks the protocol; ETIMEDOUT:
 * no answer in time; EPERM: no access to the physical addresses (not
 * root); ENOTCONN: the connection is broken.
 */
VSHM_API struct vshm_region *vshm_share(struct vshm_guest *g, size_t size,
					unsigned int flags,
					unsigned int access);
VSHM_API struct vshm_region *vshm_share_fill(struct vshm_guest *g,
					     size_t size, unsigned int flags,
					     unsigned int access,
					     vshm_fill_fn fill, void *arg);

/*
 * Sends FREE and waits for FREED; only then unpins, unmaps and frees r.
 * Returns 0; -EPROTO if the host answered ERROR (the region stays pinned,
 * mapped and valid: the host did not confirm, so its pages may still be
 * mapped there; retry, or vshm_guest_close()); -ETIMEDOUT, -EBADMSG or an
 * I/O error (same, and the connection is broken); -EINVAL for NULL.
 */
VSHM_API int vshm_free(struct vshm_region *r);

VSHM_API void *vshm_region_ptr(const struct vshm_region *r);
VSHM_API size_t vshm_region_size(const struct vshm_region *r);
VSHM_API uint32_t vshm_region_id(const struct vshm_region *r);
VSHM_API const struct vshm_region_stats *
vshm_region_stats(const struct vshm_region *r);

/* The extents sent to the host, in region order; *n gets their number. */
VSHM_API const struct vshm_run *
vshm_region_extents(const struct vshm_region *r, size_t *n);

/*
 * Reads the region's physical addresses again, now, into out (n >= the
 * region's 4 KiB pages). Returns 0, -ENOSPC if n is too small, -ENOENT if
 * a page is not present, -EAGAIN if one is swapped out, -EPERM without
 * CAP_SYS_ADMIN, or another negative errno.
 */
VSHM_API int vshm_region_gpas(const struct vshm_region *r, uint64_t *out,
			      size_t n);

/*
 * The last ERROR the host answered: its code (enum vshm_err) and detail.
 * Returns 0, or -ENOENT if there was none.
 */
VSHM_API int vshm_guest_last_error(const struct vshm_guest *g,
				   uint32_t *code, uint32_t *detail);

/* A human-readable description of the last failure ("" if none). */
VSHM_API const char *vshm_guest_last_failure(const struct vshm_guest *g);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_GUEST_H */
