/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm host server library (libvsock-shm-server): listens on an
 * AF_VSOCK SOCK_SEQPACKET port, runs the protocol (docs/protocol.md,
 * section 9) for every connection in a poll loop, and maps the guests'
 * regions through the mapper device of the host module
 * (/dev/vsock-shm-mapper). Runs on the host, as root or as a user the
 * mapper device lets in (the project's udev rule: group vsock-shm).
 *
 * The application sees each region when it is mapped (on_mapped, before
 * the guest gets MAPPED) and when it ends (on_ended, with why: the guest
 * freed it, or its connection ended without FREE: the guest closed it, it
 * was reset, the server closed it after a protocol error, or the server is
 * shutting down). Every region that ends is reported exactly once, mapped
 * or not, before its address range can be reused.
 *
 * What an access through a region's pointer (r->ptr in on_mapped) does:
 *  - while the region lives, the host module may revoke the mapping at any
 *    time (the guest's FREE or the connection's end seen before the server
 *    reads it, the VM's memory map changing, a live migration, the VM's
 *    device stopping): the access raises SIGBUS. The server learns it from
 *    the mapper's revocation events and tells the application (on_revoked,
 *    below), then does what the next point says; until then, SIGBUS;
 *  - once the server has seen the region revoked or ended (and from the
 *    moment a mapped region fails on a later protocol error), the mapping
 *    is replaced in place by an inaccessible reservation (PROT_NONE): the
 *    access raises SIGSEGV, and no other mapping (another VM's region, or
 *    anything this process maps) can land at that address;
 *  - the reservation is given back (munmap) right after on_ended returns 0,
 *    or at vshm_server_release() if on_ended returned VSHM_HOLD, or in
 *    vshm_server_free(). Only then may the address be reused: the
 *    application must hold no pointer into the region by then.
 * So an application that reads a region outside on_mapped must be ready for
 * SIGBUS and SIGSEGV, and one that hands pointers to other threads returns
 * VSHM_HOLD from on_ended and calls vshm_server_release() once they are
 * done. Without on_ended, a region's range is given back as soon as it
 * ends.
 *
 * Who is who: every connection has an id, unique within the server and
 * never reused (1, 2, ...); a region as the callbacks see it carries it
 * (r->conn_id), with the guest's CID and port and the cookie the guest's
 * application gave the region (0 without).
 *
 * Features: a guest may start its connection with HELLO; the server
 * accepts VSHM_FEAT_REVOKED (it sends REVOKED when it revoked a region for
 * a reason the guest cannot see by itself), VSHM_FEAT_COOKIE and
 * VSHM_FEAT_NOTIFY (doorbells both ways: on_notify, vshm_server_notify()).
 * A guest that did not agree to a feature never gets its messages.
 *
 * Event loops: vshm_server_run() serves until vshm_server_stop();
 * vshm_server_poll() serves once, waiting up to a timeout; or the
 * application adds vshm_server_fd() to its own loop (epoll, poll, glib,
 * sd-event) and calls vshm_server_dispatch() whenever it is readable.
 *
 * Threads: a server is driven by one thread at a time (vshm_server_poll(),
 * vshm_server_run(), vshm_server_dispatch(), vshm_server_get_stats(),
 * vshm_server_free()), which also runs every callback. vshm_server_stop()
 * is async-signal-safe; vshm_server_release() and vshm_server_notify() may
 * be called from any thread, also from a callback, while the server exists
 * (not once vshm_server_free() started). Distinct servers are independent.
 */
#ifndef VSOCK_SHM_SERVER_H
#define VSOCK_SHM_SERVER_H

#include <stdint.h>

#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VSHM_MAPPER_PATH		"/dev/vsock-shm-mapper"
#define VSHM_SERVER_DEFAULT_CONNS	64
#define VSHM_SERVER_DEFAULT_MAX_SIZE	(4ULL << 30)
#define VSHM_SERVER_DEFAULT_REGIONS	4096
#define VSHM_SERVER_DEFAULT_SOCK_BUF	(256ULL << 10)
/* A receive buffer below this could split a 64 KiB chunk (protocol 9.1). */
#define VSHM_SERVER_MIN_SOCK_BUF	(2ULL * VSHM_MAX_MSG)

/* What the mapper reported about a mapped region. */
struct vshm_map_info {
	uint64_t size;		/* bytes mapped */
	uint32_t nr_pages;	/* 4 KiB pages in the grant */
	uint32_t access;	/* VSHM_ACCESS_* the guest granted */
	uint64_t pin_ns;	/* module: translate + pin time of the region */
	uint32_t nr_runs;	/* runs of host-contiguous pages */
	uint64_t map_ns;	/* server: MAP_GRANT ioctl + mmap time */
};

/* State of a region (struct vshm_session_region.state). */
enum vshm_sregion_state {
	VSHM_SR_UPLOADING = 1,	/* after ALLOC_OK, chunks arriving */
	VSHM_SR_MAPPED,		/* MAPPED sent (or about to be: on_mapped) */
	VSHM_SR_FAILED		/* an ERROR answered one of its chunks */
};

/*
 * A region of a connection, as the callbacks see it. The library owns it:
 * the pointer is valid during the callback only. Later versions may append
 * fields.
 */
struct vshm_session_region {
	uint32_t id;		/* the guest's region id */
	uint32_t peer_cid;	/* the guest's CID */
	enum vshm_sregion_state state;
	uint64_t size;		/* ALLOC: bytes */
	uint32_t page_size;	/* ALLOC: guest page size */
	uint32_t access;	/* ALLOC: VSHM_ACCESS_* asked */
	uint32_t nr_pages;	/* ALLOC: 4 KiB pages */
	uint32_t pages_received;
	uint32_t chunks;	/* HPA_LIST chunks taken */
	uint32_t extents;	/* extents in those chunks */
	uint64_t grant;		/* 0 until the first HPA_LIST */
	void *ptr;		/* MAPPED: the mapping, else NULL */
	/*
	 * Where the region was mapped, or NULL if it never was. Kept after
	 * the unmap (ptr NULL): the range stays reserved and inaccessible
	 * until the region's end was reported.
	 */
	void *addr;
	struct vshm_map_info info;	/* mapped: from the mapper */
	/* Since 0.2: */
	uint64_t cookie;	/* ALLOC's cookie (VSHM_FEAT_COOKIE), else 0 */
	uint64_t conn_id;	/* its connection: unique, never reused */
	uint32_t peer_port;	/* the guest's vsock port */
	/*
	 * 0, or the enum vshm_revoke_reason once the mapper revoked the
	 * region (on_revoked ran): ptr is then NULL, the range at addr
	 * reserved and inaccessible; the region lives on (state MAPPED)
	 * until the guest frees it or the connection ends.
	 */
	uint32_t revoked;
};

/*
 * Called after the mapping of a region's last chunk succeeded, before
 * MAPPED is sent; r->ptr maps r->info.size bytes (writable if r->info.access
 * has VSHM_ACCESS_WRITE). Returns 0 to accept (MAPPED is sent), a positive
 * enum vshm_err to refuse (the region is unmapped, ERROR with that code is
 * sent), or a negative errno (the same with VSHM_E_INTERNAL).
 */
typedef int (*vshm_on_mapped_fn)(void *arg,
				 const struct vshm_session_region *r);

/* on_ended's answer: keep the region's address range reserved. */
#define VSHM_HOLD	1

/*
 * Called once for every region that ends, in any state, with why (enum
 * vshm_end_reason, <vsock-shm/protocol.h>): while the guest's FREE is
 * handled (before FREED is sent), or when the connection ends. r->ptr is
 * NULL: a mapping the region had is already gone and replaced by an
 * inaccessible reservation at r->addr, so that a stale pointer faults and
 * no other mapping can land there yet. Returns 0 when the application
 * holds no pointer into the region any more: the range is given back as
 * soon as this returns. Returns VSHM_HOLD (any nonzero value) to keep it
 * reserved until vshm_server_release(). Without a mapping (r->addr NULL)
 * the answer does not matter.
 */
typedef int (*vshm_on_ended_fn)(void *arg,
				const struct vshm_session_region *r,
				enum vshm_end_reason why);

/*
 * Called when the server learns from the mapper (its revocation events)
 * that the host module revoked a mapped region's grant, with why: the
 * guest freed it (VSHM_REVOKE_FREED: its FREE is served right after), its
 * connection ended (CLOSED), the VM's vsock device stopped, was reset or
 * went away (DEVICE), the VM's memory under it changed (MEMMAP), a live
 * migration started (MIGRATION); later versions may pass other reasons.
 * r->ptr is still the revoked mapping: any access raises SIGBUS. Right
 * after this returns, the mapping is replaced in place by an inaccessible
 * reservation (SIGSEGV, nothing else lands there), r->ptr becomes NULL and
 * r->revoked the reason; the region lives on until its end (on_ended, with
 * the usual range rules). Then, if the guest agreed VSHM_FEAT_REVOKED and
 * the reason is one it cannot see by itself (DEVICE, MEMMAP, MIGRATION,
 * or one this version does not know), the server sends it REVOKED.
 *
 * Called at most once per region, always before that region's on_ended,
 * only for a region that is mapped (its on_mapped accepted it) and still
 * live when the event is read. The server reads the events in every loop
 * turn before the connections' messages, and again right before it serves
 * a FREE or ends a connection the guest closed, so a FREE or a guest's
 * close gives on_revoked (FREED or CLOSED) before on_ended. It is NOT
 * called for a region the server ends itself (a protocol error, a failed
 * send, vshm_server_free()), nor for a region that failed, nor when the
 * mapper gives no events (a module older than this library: then only
 * SIGBUS tells). Returns nothing; it may call vshm_server_notify() and
 * vshm_server_release().
 */
typedef void (*vshm_on_revoked_fn)(void *arg,
				   const struct vshm_session_region *r,
				   enum vshm_revoke_reason reason);

/*
 * Called for a NOTIFY (doorbell) the guest sent for region r, mapped and
 * not revoked, on a connection that agreed VSHM_FEAT_NOTIFY; bits (never
 * 0) mean what the applications agreed. A NOTIFY is never answered; one
 * for an unknown, unmapped or revoked region, one before or without the
 * feature, one without on_notify, and a malformed one are dropped and
 * counted (notifies_dropped).
 */
typedef void (*vshm_on_notify_fn)(void *arg,
				  const struct vshm_session_region *r,
				  uint32_t bits);

/* A connection, as on_connect and on_disconnect see it. */
struct vshm_conn_info {
	uint64_t id;		/* unique within the server, never reused */
	uint32_t peer_cid;	/* the guest's CID */
	uint32_t peer_port;	/* the guest's vsock port */
	uint64_t features;	/* VSHM_FEAT_* agreed (0 at on_connect) */
};

/*
 * Called for every connection accepted, before its first message. Returns
 * 0 to serve it, nonzero to close it at once (counted as refused; no
 * on_disconnect follows).
 */
typedef int (*vshm_on_connect_fn)(void *arg, const struct vshm_conn_info *c);

/*
 * Called once for every connection on_connect let in, when it ends, with
 * why (as on_ended: closed, reset, protocol, shutdown), after each of its
 * regions was reported to on_ended; c->features is what was agreed.
 */
typedef void (*vshm_on_disconnect_fn)(void *arg,
				      const struct vshm_conn_info *c,
				      enum vshm_end_reason why);

/*
 * Fields of 0.2 and later take the place of reserved entries, one each, in
 * a union with a uint64_t: the structures keep their size and the offsets
 * of every older field on every ABI.
 */
#if defined(__GNUC__)
#define VSHM_ANON_UNION	__extension__ union
#else
#define VSHM_ANON_UNION	union
#endif

/*
 * The server's configuration, filled by the application. Initialize it
 * whole (struct vshm_server_cfg cfg = { .port = ..., ... }, or memset 0):
 * every field left unset must be zero, which means its default. reserved
 * is room for fields of later versions, which will take its place without
 * changing the size of the structure or the meaning of zero: it must be
 * zero, and vshm_server_new() fails with EINVAL otherwise (so a program
 * built for a later version that sets a new field fails cleanly on an
 * older library instead of being silently ignored).
 */
struct vshm_server_cfg {
	uint32_t port;			/* vsock port to listen on */
	uint32_t max_conns;		/* 0: VSHM_SERVER_DEFAULT_CONNS */
	uint64_t max_region_size;	/* 0: VSHM_SERVER_DEFAULT_MAX_SIZE */
	uint32_t max_regions;		/* per connection; 0: default */
	uint64_t sock_buf;		/* SO_VM_SOCKETS_BUFFER_SIZE; 0: 256 KiB */
	const char *mapper_path;	/* NULL: VSHM_MAPPER_PATH */
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	/*
	 * May be NULL. Every region that ends, with why: called from the
	 * server's thread, in vshm_server_poll(), vshm_server_run(),
	 * vshm_server_dispatch() or vshm_server_free() (why
	 * VSHM_END_SHUTDOWN). r->addr is where the region was mapped (NULL if
	 * it never was); return VSHM_HOLD to keep that range reserved until
	 * vshm_server_release(), else 0.
	 */
	vshm_on_ended_fn on_ended;
	/*
	 * May be NULL. Older form of on_ended for VSHM_END_FREED only; when
	 * both are set, on_freed runs first.
	 */
	void (*on_freed)(void *arg, const struct vshm_session_region *r);
	void (*log)(void *arg, const char *line);	/* NULL: stderr */
	void *arg;			/* passed to every callback */
	/* Since 0.2, each may be NULL: */
	VSHM_ANON_UNION {
		vshm_on_revoked_fn on_revoked;
		uint64_t reserved_0;
	};
	VSHM_ANON_UNION {
		vshm_on_notify_fn on_notify;
		uint64_t reserved_1;
	};
	VSHM_ANON_UNION {
		vshm_on_connect_fn on_connect;
		uint64_t reserved_2;
	};
	VSHM_ANON_UNION {
		vshm_on_disconnect_fn on_disconnect;
		uint64_t reserved_3;
	};
	uint64_t reserved[4];		/* must be zero */
};

/*
 * Counters (vshm_server_get_stats()). The library fills the whole
 * structure; reserved is room for counters of later versions (zero).
 */
struct vshm_server_stats {
	uint64_t conns_accepted;
	uint64_t conns_refused;		/* over max_conns */
	uint32_t conns_open;
	uint64_t regions_mapped;
	uint64_t regions_freed;		/* FREED sent */
	uint64_t regions_dropped;	/* live at disconnect */
	uint64_t errors_sent;
	uint64_t unmap_errors;
	uint32_t regions_held;		/* ended, range held (VSHM_HOLD) */
	/* Since 0.2, in the place of reserved entries: */
	uint64_t revocations;		/* mapped regions revoked (on_revoked) */
	uint64_t revoked_sent;		/* REVOKED messages sent */
	uint64_t notifies_in;		/* NOTIFYs given to on_notify */
	uint64_t notifies_out;		/* NOTIFYs sent (vshm_server_notify) */
	uint64_t notifies_dropped;	/* NOTIFYs from guests dropped */
	uint64_t reserved[3];
};

/* The server: opaque. */
struct vshm_server;

/*
 * Opens the mapper and listens on cfg->port (any CID). NULL with errno on
 * failure (EINVAL: no port, or reserved fields set); the reason is also
 * logged.
 */
VSHM_API struct vshm_server *vshm_server_new(const struct vshm_server_cfg *cfg);

/*
 * Waits up to timeout_ms (-1: forever) for something to serve, then serves
 * what is ready, as vshm_server_dispatch(). Blocks in that wait only.
 * Returns 0 (also when a signal interrupted the wait) or the negative
 * errno of the wait (epoll_wait()).
 */
VSHM_API int vshm_server_poll(struct vshm_server *s, int timeout_ms);

/*
 * A file descriptor for the application's own event loop (epoll, poll,
 * select, glib, sd-event): it is readable (POLLIN, level-triggered) while
 * the server has something to serve: a new connection, a message, a
 * revocation event. Owned by s (do not read or close it); the same for the
 * server's whole life. It is an epoll fd holding the server's listener,
 * connections and mapper.
 */
VSHM_API int vshm_server_fd(const struct vshm_server *s);

/*
 * Serves what is ready now, without waiting: the mapper's revocation
 * events first, then one message of each connection that has one, then
 * one new connection. Never blocks (the callbacks it runs may). What is
 * left keeps vshm_server_fd() readable: call it again when it is. Returns
 * 0, -EINVAL if s is NULL, or the negative errno of epoll_wait().
 */
VSHM_API int vshm_server_dispatch(struct vshm_server *s);

/*
 * Rings the guest: sends NOTIFY(region, bits) on connection conn_id (r->
 * conn_id) for one of its regions that is mapped, not revoked and answered
 * MAPPED already (in on_mapped it is not yet). Never blocks: the message
 * is queued on the socket or not sent. Returns 0; -EINVAL (s NULL, bits
 * or region 0);
 * -ENOENT (no such connection open, or no such region in that state);
 * -EOPNOTSUPP (the guest did not agree VSHM_FEAT_NOTIFY); -EAGAIN (the
 * guest's receive buffer is full: it does not read); or the negative errno
 * of send() (EPIPE, ECONNRESET: the connection is ending). May be called
 * from any thread, also from a callback, while s exists.
 */
VSHM_API int vshm_server_notify(struct vshm_server *s, uint64_t conn_id,
				uint32_t region, uint32_t bits);

/*
 * Serves until vshm_server_stop(), waiting for work in between. Returns 0
 * or a negative errno.
 */
VSHM_API int vshm_server_run(struct vshm_server *s);

/* Makes vshm_server_run() return; async-signal-safe. */
VSHM_API void vshm_server_stop(struct vshm_server *s);

VSHM_API void vshm_server_get_stats(const struct vshm_server *s,
				    struct vshm_server_stats *st);

/*
 * Gives back the address range at addr of a region whose on_ended returned
 * VSHM_HOLD: it is unmapped, and later mappings may land there. Returns 0,
 * -ENOENT if addr is no such range (never mapped, not ended yet, not held,
 * or released already), -EINVAL if s is NULL, or the negative errno of
 * munmap. May be called from any thread, also from a callback, while s
 * exists.
 */
VSHM_API int vshm_server_release(struct vshm_server *s, void *addr);

/*
 * Closes every connection (each region left is reported to on_ended with
 * VSHM_END_SHUTDOWN), then gives back every range still held, and frees
 * s. No thread may use a region's pointer any more.
 */
VSHM_API void vshm_server_free(struct vshm_server *s);

/* "freed", "closed", "reset", "protocol", "shutdown"; "?" otherwise. */
VSHM_API const char *vshm_end_reason_name(enum vshm_end_reason why);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_SERVER_H */
