/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm guest library (libvsock-shm-guest): share memory of a virtual
 * machine with a host server over AF_VSOCK SOCK_SEQPACKET
 * (docs/protocol.md): memory the library allocates (vshm_share()), a
 * page-aligned buffer the application owns, or a range of a memfd, hugetlb
 * memfds included (vshm_share_ex()). No dependency beyond libc; links
 * statically too. Runs as root (reading physical addresses from
 * /proc/self/pagemap needs CAP_SYS_ADMIN). The man page
 * libvsock-shm-guest(3) describes the whole API.
 *
 * A region's pages are pinned for the long term with io_uring fixed
 * buffers (FOLL_LONGTERM: neither compaction nor migration can move them,
 * which mlock does not guarantee), then their guest-physical addresses are
 * read and sent, one GPA_LIST chunk at a time (stop-and-wait).
 *
 * Features: a connection offers the host the features of the protocol it
 * knows (VSHM_FEAT_*: revocation messages, cookies, doorbells) when it
 * starts; an older host accepts none, and everything else works as before
 * (vshm_guest_features()).
 *
 * Events: the host may tell at any time that it revoked a region (REVOKED)
 * or ring a region's doorbell (NOTIFY). The library queues them, also
 * while a call waits for its answer, and hands them out through
 * vshm_guest_dispatch() (to the callback of vshm_guest_set_event_cb()) or
 * vshm_guest_next_event(). An application with its own event loop polls
 * vshm_guest_fd() for input and calls vshm_guest_dispatch() when it is
 * readable; calls that wait for an answer stay blocking.
 *
 * Threads: one connection is used by one thread at a time, with one
 * exception: vshm_region_notify() (and vshm_guest_features(),
 * vshm_guest_fd()) may run in other threads at the same time as any call
 * on the same connection except vshm_free() of that region and
 * vshm_guest_close(); a channel thread ringing the host's doorbell is what
 * it is for. Every call that sends a request waits for the host's answer,
 * at most the connection's timeout (default 30 s). After a timeout, an
 * I/O error or an answer that makes no sense, the connection is broken:
 * every later request fails with ENOTCONN, and only vshm_guest_close()
 * remains. Distinct connections are independent.
 *
 * Pages are unpinned only when the host has confirmed it no longer maps
 * them (FREED), or after the connection is closed (the host module drops
 * every grant of a connection when it sees the guest end it). A region
 * whose release the host did not confirm stays pinned until
 * vshm_guest_close(). A revoked region stays valid for the guest (its
 * memory is the guest's, the host no longer sees it) until vshm_free().
 *
 * System settings: the library changes none. Sharing 2 MiB pages needs
 * free huge pages in the kernel's pool; without them a share fails with
 * ENOMEM, and vshm_guest_last_failure() says how many are needed and free
 * and how to reserve them (vm.nr_hugepages).
 *
 * Errors: functions returning a pointer return NULL and set errno;
 * functions returning int return 0 (or a count) or a negative errno.
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

/* vshm_share() and vshm_share_args flags */
#define VSHM_SHARE_HUGE		0x1U	/* 2 MiB pages: the library allocates
					 * them; with VSHM_SHARE_BUF, the
					 * buffer is backed by them */
#define VSHM_SHARE_BUF		0x2U	/* share args.addr (vshm_share_ex()) */
#define VSHM_SHARE_MEMFD	0x4U	/* share a range of args.memfd */

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

/* vshm_guest_opts.flags */
#define VSHM_GUEST_PLAIN	0x1U	/* send no HELLO: plain version 1, no
					 * features, as an old guest */

/*
 * How vshm_guest_connect_opts() connects. Zero is the default of every
 * field except port; later versions give meanings to reserved fields, so
 * keep them 0 (memset or a designated initializer).
 */
struct vshm_guest_opts {
	unsigned int cid;	/* the host: VMADDR_CID_HOST (2) */
	unsigned int port;	/* the server's port, != 0 */
	int timeout_ms;		/* reply and connect timeout; 0: default */
	int connect_wait_ms;	/* keep retrying for this long while nobody
				 * listens yet (ECONNREFUSED, ECONNRESET);
				 * 0: fail at once */
	unsigned int flags;	/* VSHM_GUEST_PLAIN */
	unsigned int reserved0;	/* 0 */
	uint64_t features;	/* VSHM_FEAT_* to offer; 0: all of them */
	uint64_t reserved[6];	/* 0 */
};

/*
 * Connects as vshm_guest_connect() does, with the options of o: tries again
 * with a short backoff (10 ms growing to 250 ms) while the server is not
 * listening yet, until o->connect_wait_ms have passed; then, unless
 * VSHM_GUEST_PLAIN, sends HELLO with the features to offer and waits (up to
 * the timeout) for HELLO_OK, or for the ERROR(VSHM_E_TYPE) of an older host
 * (the connection then has no features and works as version 1).
 * vshm_guest_connect(cid, port) is this with every other option 0.
 * Blocks for the connection and the HELLO's answer. NULL with errno on
 * failure: EINVAL (bad options, reserved fields not 0, feature bits this
 * library lacks), ECONNREFUSED (nobody listened in time), ETIMEDOUT,
 * EBADMSG (the host broke the protocol in its answer to HELLO), EPROTO
 * (it answered HELLO with another ERROR), EADDRINUSE, ...
 */
VSHM_API struct vshm_guest *
vshm_guest_connect_opts(const struct vshm_guest_opts *o);

/*
 * The features the host accepted (VSHM_FEAT_*): 0 with an older host, a
 * VSHM_GUEST_PLAIN connection or NULL. Does not block.
 */
VSHM_API uint64_t vshm_guest_features(const struct vshm_guest *g);

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
 * root); ENOTCONN: the connection is broken; ENOMEM with
 * VSHM_SHARE_HUGE: not enough free huge pages (the failure text says how
 * many are needed and free, and how to reserve them: the library changes
 * no system setting). Blocks until MAPPED (each answer at most the
 * timeout); events that arrive meanwhile are queued.
 */
VSHM_API struct vshm_region *vshm_share(struct vshm_guest *g, size_t size,
					unsigned int flags,
					unsigned int access);
VSHM_API struct vshm_region *vshm_share_fill(struct vshm_guest *g,
					     size_t size, unsigned int flags,
					     unsigned int access,
					     vshm_fill_fn fill, void *arg);

/*
 * What vshm_share_ex() shares. Zero is the default of every field; keep
 * reserved fields 0. The memory comes from (flags):
 *  - neither VSHM_SHARE_BUF nor VSHM_SHARE_MEMFD: the library allocates
 *    size bytes (anonymous; 2 MiB pages with VSHM_SHARE_HUGE) and unmaps
 *    them when the region ends, as vshm_share() does;
 *  - VSHM_SHARE_BUF: the application's buffer addr (private or shared
 *    anonymous memory, tmpfs or hugetlbfs; not page-cache file memory,
 *    which the kernel refuses to pin for the long term). addr and size are
 *    multiples of 4 KiB (2 MiB with VSHM_SHARE_HUGE, for a buffer backed
 *    by 2 MiB pages). The library pins it and never unmaps or frees it:
 *    the end of the region only unpins it. The application keeps it mapped
 *    while the region lives, and must not share it with a connection
 *    twice;
 *  - VSHM_SHARE_MEMFD: size bytes at offset of memfd (a memfd or another
 *    tmpfs file, or a hugetlbfs one such as a memfd_create(MFD_HUGETLB):
 *    then 2 MiB pages, and offset and size are multiples of 2 MiB; else of
 *    4 KiB). The range lies within the file's size. The library maps it
 *    (MAP_SHARED, writable: the memfd must not be sealed against writes)
 *    and unmaps it when the region ends; the application may map the same
 *    range itself. fd stays the application's.
 * cookie goes to the host with ALLOC when the connection agreed on
 * VSHM_FEAT_COOKIE (the server shows it with the region; it never
 * interprets it); a nonzero cookie without that feature fails with
 * EOPNOTSUPP. fill, if set, is called as in vshm_share_fill(), on any kind
 * of memory.
 */
struct vshm_share_args {
	size_t size;		/* bytes, != 0 */
	unsigned int flags;	/* VSHM_SHARE_* */
	unsigned int access;	/* VSHM_ACCESS_* */
	void *addr;		/* VSHM_SHARE_BUF */
	int memfd;		/* VSHM_SHARE_MEMFD */
	unsigned int reserved0;	/* 0 */
	uint64_t offset;	/* VSHM_SHARE_MEMFD: into memfd */
	uint64_t cookie;	/* 0: none */
	vshm_fill_fn fill;	/* NULL: none */
	void *fill_arg;
	uint64_t reserved[4];	/* 0 */
};

/*
 * Shares what args describes (pins, reads the addresses, ALLOC, GPA_LIST
 * chunks) and returns the region once the host answered MAPPED. Blocks
 * until then (each answer at most the timeout). NULL with errno on
 * failure, as vshm_share_fill(), and also: EINVAL (bad or unaligned
 * address, size or offset, a range beyond the memfd's size, reserved
 * fields not 0; vshm_guest_last_failure() says which), EOPNOTSUPP (a
 * cookie the host cannot see, or a file the kernel cannot pin for the long
 * term: not tmpfs/memfd or hugetlbfs; or huge pages other than 2 MiB),
 * EBADF (memfd is not an open file), ENOMEM (not enough free huge pages:
 * the failure text says how many are needed and free; the library never
 * reserves any itself).
 */
VSHM_API struct vshm_region *
vshm_share_ex(struct vshm_guest *g, const struct vshm_share_args *args);

/*
 * vshm_share_ex() of the application's buffer addr (VSHM_SHARE_BUF), without
 * a cookie (give one through vshm_share_ex()).
 */
VSHM_API struct vshm_region *vshm_share_buf(struct vshm_guest *g, void *addr,
					    size_t size, unsigned int access);

/* vshm_share_ex() of size bytes at offset of memfd (VSHM_SHARE_MEMFD). */
VSHM_API struct vshm_region *vshm_share_memfd(struct vshm_guest *g,
					      int memfd, uint64_t offset,
					      size_t size,
					      unsigned int access);

/*
 * Sends FREE and waits for FREED; only then unpins, unmaps and frees r
 * (an application's buffer is only unpinned; a memfd range is unmapped,
 * the memfd stays). Also for a revoked region. Blocks for FREED (at most
 * the timeout); events that arrive meanwhile are queued. Returns 0; -EPROTO if the host answered ERROR (the region stays pinned,
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

/* The cookie sent with the region's ALLOC (0: none). Does not block. */
VSHM_API uint64_t vshm_region_cookie(const struct vshm_region *r);

/*
 * Why the host revoked the region (enum vshm_revoke_reason, as its REVOKED
 * said), or 0 while it maps it (or without VSHM_FEAT_REVOKED, when the
 * host never says). Known as soon as the library read the REVOKED, before
 * its event is handed out. The region stays valid until vshm_free(). Does
 * not block.
 */
VSHM_API unsigned int vshm_region_revoked(const struct vshm_region *r);

/*
 * Rings the host's doorbell of r: sends NOTIFY(bits) (bits != 0, their
 * meaning is the applications'). Never answered; does not wait for the
 * host, only for room in the socket's send buffer and, while a share in
 * another thread has an address chunk waiting for its answer, for that
 * answer (the protocol forbids a doorbell then). May run in another
 * thread at the same time as the connection's other calls (see the top of
 * this header). Returns 0; -EOPNOTSUPP unless the connection agreed on
 * VSHM_FEAT_NOTIFY; -EINVAL (NULL, bits 0); -ENOTCONN (broken
 * connection); or the send's negative errno.
 */
VSHM_API int vshm_region_notify(struct vshm_region *r, uint32_t bits);

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

/* Events (vshm_guest_event.type) */
#define VSHM_GUEST_EV_REVOKED	1	/* the host revoked a region */
#define VSHM_GUEST_EV_NOTIFY	2	/* the host rang a region's doorbell */

/*
 * Something the host told without being asked. Valid during the callback
 * (or, from vshm_guest_next_event(), until the caller overwrites it).
 */
struct vshm_guest_event {
	unsigned int type;		/* VSHM_GUEST_EV_* */
	uint32_t region;		/* protocol region id */
	struct vshm_region *r;		/* the region if still held, else NULL
					 * (freed, or its share failed) */
	uint32_t reason;		/* REVOKED: enum vshm_revoke_reason */
	uint32_t bits;			/* NOTIFY: the bits (ORed, if several
					 * NOTIFYs waited undelivered; one for
					 * a region not mapped is dropped) */
	uint64_t grant;			/* REVOKED: the host's grant id */
	uint64_t reserved[2];		/* 0 */
};

/*
 * Called by vshm_guest_dispatch() once per event, oldest first. It may
 * call the library on the same connection (vshm_free(ev->r) on a REVOKED,
 * say); events are taken off the queue before their callback runs.
 */
typedef void (*vshm_guest_event_fn)(struct vshm_guest *g,
				    const struct vshm_guest_event *ev,
				    void *arg);

/*
 * Sets (or, with fn NULL, removes) the event callback. Without one, events
 * wait in the queue for vshm_guest_next_event(). Returns 0 or -EINVAL.
 */
VSHM_API int vshm_guest_set_event_cb(struct vshm_guest *g,
				     vshm_guest_event_fn fn, void *arg);

/*
 * The connection's socket, for the caller's event loop (poll, epoll, glib,
 * sd-event): when it is readable, call vshm_guest_dispatch(). Only for
 * polling: do not read, write or close it. -EINVAL for NULL.
 */
VSHM_API int vshm_guest_fd(const struct vshm_guest *g);

/*
 * Reads every message the socket holds now, without blocking, queues the
 * events among them, then hands every queued event to the callback (also
 * those queued while an earlier call waited for its answer). Returns the
 * number of events delivered to the callback or, without a callback, the
 * number waiting for vshm_guest_next_event(); 0 when nothing happened.
 * Negative errno: -ECONNRESET (the host closed the connection), -EBADMSG
 * (a message that breaks the protocol: an answer nothing asked for, ...),
 * -EPROTO (an ERROR nothing asked for), -ENOTCONN (broken earlier): the
 * connection is then broken; queued events were still delivered.
 */
VSHM_API int vshm_guest_dispatch(struct vshm_guest *g);

/*
 * Takes the oldest queued event into *ev, after reading what the socket
 * holds now (without blocking). Returns 1 (an event), 0 (none), or a
 * negative errno as vshm_guest_dispatch() (then *ev is untouched; a
 * broken connection still hands out what was queued before).
 */
VSHM_API int vshm_guest_next_event(struct vshm_guest *g,
				   struct vshm_guest_event *ev);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_GUEST_H */
