/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm host server library: listens on an AF_VSOCK SOCK_SEQPACKET
 * port, runs one protocol session (session.h) per connection in a poll
 * loop, and maps the guests' regions through the mapper device
 * (/dev/vsock-shm-mapper). Runs as root on the host.
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
 */
#ifndef VSHM_SERVER_H
#define VSHM_SERVER_H

#include <stdint.h>

#include "session.h"

#define VSHM_MAPPER_PATH		"/dev/vsock-shm-mapper"
#define VSHM_SERVER_DEFAULT_CONNS	64
#define VSHM_SERVER_DEFAULT_MAX_SIZE	(4ULL << 30)
#define VSHM_SERVER_DEFAULT_REGIONS	4096
#define VSHM_SERVER_DEFAULT_SOCK_BUF	(256ULL << 10)
/* A receive buffer below this could split a 64 KiB chunk (protocol 9.1). */
#define VSHM_SERVER_MIN_SOCK_BUF	(2ULL * VSHM_MAX_MSG)

struct vshm_server_cfg {
	unsigned int port;		/* vsock port to listen on */
	unsigned int max_conns;		/* 0: VSHM_SERVER_DEFAULT_CONNS */
	uint64_t max_region_size;	/* 0: VSHM_SERVER_DEFAULT_MAX_SIZE */
	uint32_t max_regions;		/* per connection; 0: default */
	uint64_t sock_buf;		/* SO_VM_SOCKETS_BUFFER_SIZE; 0: 256 KiB */
	const char *mapper_path;	/* NULL: VSHM_MAPPER_PATH */
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	/*
	 * May be NULL. Every region that ends, with why (session.h): called
	 * from the server's thread, in vshm_server_poll() or
	 * vshm_server_free() (why VSHM_END_SHUTDOWN). r->addr is where the
	 * region was mapped (NULL if it never was); return VSHM_HOLD to keep
	 * that range reserved until vshm_server_release(), else 0.
	 */
	vshm_on_ended_fn on_ended;
	/*
	 * May be NULL. Older form of on_ended for VSHM_END_FREED only; when
	 * both are set, on_freed runs first.
	 */
	void (*on_freed)(void *arg, const struct vshm_session_region *r);
	void (*log)(void *arg, const char *line);	/* NULL: stderr */
	void *arg;
};

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
};

struct vshm_server;

/*
 * Opens the mapper and listens on cfg->port (any CID). NULL with errno on
 * failure; the reason is also logged.
 */
struct vshm_server *vshm_server_new(const struct vshm_server_cfg *cfg);

/*
 * The same, serving listen_fd (an already listening SOCK_SEQPACKET socket
 * of any family; the unit tests use AF_UNIX) instead of opening the vsock
 * port; cfg->port is then ignored. s owns listen_fd, also on error.
 */
struct vshm_server *vshm_server_new_on_fd(const struct vshm_server_cfg *cfg,
					  int listen_fd);

/* Waits up to timeout_ms (-1: forever) and serves what is ready. */
int vshm_server_poll(struct vshm_server *s, int timeout_ms);

/* Serves until vshm_server_stop(). Returns 0 or a negative errno. */
int vshm_server_run(struct vshm_server *s);

/* Makes vshm_server_run() return; async-signal-safe. */
void vshm_server_stop(struct vshm_server *s);

void vshm_server_get_stats(const struct vshm_server *s,
			   struct vshm_server_stats *st);

/*
 * Gives back the address range at addr of a region whose on_ended returned
 * VSHM_HOLD: it is unmapped, and later mappings may land there. Returns 0,
 * -ENOENT if addr is no such range (never mapped, not ended yet, not held,
 * or released already), -EINVAL if s is NULL, or the negative errno of
 * munmap. May be called from any thread, also from a callback, while s
 * exists.
 */
int vshm_server_release(struct vshm_server *s, void *addr);

/*
 * Closes every connection (each region left is reported to on_ended with
 * VSHM_END_SHUTDOWN), then gives back every range still held, and frees
 * s. No thread may use a region's pointer any more.
 */
void vshm_server_free(struct vshm_server *s);

#endif /* VSHM_SERVER_H */
