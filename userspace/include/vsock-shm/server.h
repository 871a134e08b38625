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
 *    time without a message (the guest's FREE or the connection's end seen
 *    before the server reads it, the VM's memory map changing, a live
 *    migration): the access raises SIGBUS;
 *  - once the server has seen the region end (and from the moment a mapped
 *    region fails on a later protocol error), the mapping is replaced in
 *    place by an inaccessible reservation (PROT_NONE): the access raises
 *    SIGSEGV, and no other mapping (another VM's region, or anything this
 *    process maps) can land at that address;
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
 * Threads: a server is driven by one thread (vshm_server_poll(),
 * vshm_server_run(), vshm_server_get_stats(), vshm_server_free()), which
 * also runs every callback. vshm_server_stop() is async-signal-safe;
 * vshm_server_release() may be called from any thread while the server
 * exists. Distinct servers are independent.
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
	 * server's thread, in vshm_server_poll() or vshm_server_free() (why
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
	uint64_t reserved[8];		/* must be zero */
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
	uint64_t reserved[8];
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
 * Waits up to timeout_ms (-1: forever) and serves what is ready. Returns 0
 * (also when a signal interrupted the wait) or the negative errno of
 * poll().
 */
VSHM_API int vshm_server_poll(struct vshm_server *s, int timeout_ms);

/* Serves until vshm_server_stop(). Returns 0 or a negative errno. */
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
