/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * The host server's protocol logic for one connection, as a pure state
 * machine (docs/protocol.md, section 9): feed it every message received on
 * the connection; it answers with exactly one reply to send and a set of
 * actions. It does no I/O of its own: mapping and unmapping go through a
 * small ops table (the real mapper in vshm_server.c, a fake one in the unit
 * tests), and the application sees each region through two callbacks: when
 * it is mapped (on_mapped) and when it ends, with why (on_ended).
 *
 * Region states: UPLOADING (after ALLOC_OK, chunks arriving), MAPPED (after
 * MAPPED was sent), FAILED (an ERROR answered one of its list messages; it
 * waits for the guest's FREE, which makes the module drop its grant).
 *
 * A region ends when the guest frees it (FREE) or when its connection ends
 * (vshm_session_end()), whatever its state; a FAILED region has not ended.
 * Every region that ends is reported exactly once, through on_ended.
 */
#ifndef VSHM_SESSION_H
#define VSHM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* What the mapper reports about a mapped grant. */
struct vshm_map_info {
	uint64_t size;		/* bytes mapped */
	uint32_t nr_pages;	/* 4 KiB pages in the grant */
	uint32_t access;	/* VSHM_ACCESS_* the guest granted */
	uint64_t pin_ns;	/* module: translate + pin time of the region */
	uint32_t nr_runs;	/* runs of host-contiguous pages */
	uint64_t map_ns;	/* server: MAP_GRANT ioctl + mmap time */
};

/*
 * The mapper behind the session. map and unmap return 0 or a negative
 * errno.
 * map: make grant (received on the connected socket sock_fd) visible in
 * this process; *ptr is one contiguous mapping of info->size bytes.
 * unmap: undo a successful map: the mapping goes, then the grant
 * (VSHM_IOC_UNMAP_GRANT). When release is set, the address range is not
 * given back: unmap replaces the mapping in place with an inaccessible
 * reservation (PROT_NONE), so that an access through a stale pointer
 * faults and no other mapping can land there, until release.
 * release (may be NULL: unmap gives the range back itself): give back the
 * range [ptr, ptr + size) that unmap reserved. The session calls it once
 * the region's end was reported (on_ended) and the application did not
 * hold the range (VSHM_HOLD); a held range is the ops owner's to release
 * (vshm_server_release()). It must ignore a range it does not hold (a
 * reservation that failed, one released already).
 */
struct vshm_mapper_ops {
	int (*map)(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		   struct vshm_map_info *info);
	int (*unmap)(void *ctx, uint64_t grant, void *ptr, size_t size);
	void (*release)(void *ctx, void *ptr, size_t size);
};

enum vshm_sregion_state {
	VSHM_SR_UPLOADING = 1,
	VSHM_SR_MAPPED,
	VSHM_SR_FAILED,
};

/* A region of the connection, as the application sees it. */
struct vshm_session_region {
	uint32_t id;
	uint32_t peer_cid;
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
	 * the unmap (ptr NULL): with ops->release, the range stays reserved
	 * and inaccessible until the region's end was reported.
	 */
	void *addr;
	struct vshm_map_info info;	/* mapped: from the mapper */
};

/*
 * Called after the mapping of a region's last chunk succeeded, before
 * MAPPED is sent. Returns 0 to accept (MAPPED is sent), a positive enum
 * vshm_err to refuse (the region is unmapped, ERROR with that code is
 * sent), or a negative errno (the same with VSHM_E_INTERNAL).
 */
typedef int (*vshm_on_mapped_fn)(void *arg,
				 const struct vshm_session_region *r);

/* Why a region ended (on_ended). */
enum vshm_end_reason {
	VSHM_END_FREED = 1,	/* the guest sent FREE; FREED answers it */
	/* The connection ended without FREE: */
	VSHM_END_CLOSED,	/* the guest closed it (end of stream) */
	VSHM_END_RESET,		/* it was reset or failed: the VM went away, a
				 * receive or send error, a guest that does
				 * not read its answers */
	VSHM_END_PROTOCOL,	/* the host closed it after an ERROR for
				 * region 0 (docs/protocol.md, 9.3) */
	VSHM_END_SHUTDOWN,	/* the host is shutting down (server or
				 * session freed) */
};

/* on_ended's answer: keep the region's address range reserved. */
#define VSHM_HOLD	1

/*
 * Called once for every region that ends, in any state, with why: during
 * the feed of the guest's FREE (before FREED is sent), or from
 * vshm_session_end(). r->ptr is NULL: a mapping the region had is already
 * gone and, with ops->release, replaced by an inaccessible reservation at
 * r->addr, so that a stale pointer faults and no other mapping can land
 * there yet. Returns 0 when the application holds no pointer into the
 * region any more: the range is given back (ops->release) as soon as this
 * returns. Returns VSHM_HOLD (any nonzero value) to keep it reserved until
 * the ops' owner releases it (vshm_server_release()). Without a mapping
 * (r->addr NULL) the answer does not matter.
 */
typedef int (*vshm_on_ended_fn)(void *arg,
				const struct vshm_session_region *r,
				enum vshm_end_reason why);

struct vshm_session_cfg {
	int sock_fd;			/* passed to ops->map */
	uint32_t peer_cid;		/* for the application, in regions */
	uint64_t max_region_size;	/* bytes; 0: no limit */
	uint32_t max_regions;		/* live regions; 0: no limit */
	const struct vshm_mapper_ops *ops;
	void *ops_ctx;
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	vshm_on_ended_fn on_ended;	/* may be NULL: never held */
	void *arg;			/* for on_mapped and on_ended */
};

/* out->actions */
#define VSHM_SESS_CLOSE		0x1	/* send the reply, then close */
#define VSHM_SESS_MAPPED	0x2	/* out->region: just mapped */
#define VSHM_SESS_FREED		0x4	/* out->region: freed (FREED sent) */
#define VSHM_SESS_FAILED	0x8	/* out->region: moved to FAILED */

#define VSHM_SESS_REPLY_MAX	32

struct vshm_session_out {
	uint8_t reply[VSHM_SESS_REPLY_MAX];
	size_t reply_len;		/* always > 0 after a feed */
	unsigned int actions;
	uint8_t reply_type;		/* VSHM_MSG_* of the reply */
	uint32_t code;			/* ERROR: its code, else 0 */
	/*
	 * Snapshot of the region concerned (valid with MAPPED, FREED or
	 * FAILED; ptr is NULL once unmapped, addr is kept). With FREED, the
	 * range at addr may already be released: do not touch it.
	 */
	struct vshm_session_region region;
	int map_err;			/* negative errno of ops->map, or 0 */
	int unmap_err;			/* negative errno of ops->unmap, or 0 */
};

struct vshm_session_stats {
	uint64_t msgs;
	uint64_t errors;		/* ERROR replies */
	uint64_t mapped;
	uint64_t freed;
	uint32_t live;			/* regions in any state */
};

struct vshm_session;

/* NULL with errno EINVAL (bad cfg) or ENOMEM. */
struct vshm_session *vshm_session_new(const struct vshm_session_cfg *cfg);

/*
 * Feeds one received message (len bytes, as received; a message longer
 * than VSHM_MAX_MSG may be passed truncated to VSHM_MAX_MSG + 1 bytes).
 * Fills out with the reply and actions. Returns 0, or -EINVAL for NULL
 * arguments (then nothing is to be sent).
 */
int vshm_session_feed(struct vshm_session *s, const void *msg, size_t len,
		      struct vshm_session_out *out);

/* The region id, or NULL. The pointer is valid until the next feed. */
const struct vshm_session_region *
vshm_session_find(const struct vshm_session *s, uint32_t id);

void vshm_session_stats(const struct vshm_session *s,
			struct vshm_session_stats *st);

/*
 * The connection ended, for reason why (not VSHM_END_FREED): every region
 * ends. Each one, in turn, is unmapped if mapped, reported (on_ended, with
 * why), its range released unless held (ops->release), and forgotten.
 * Returns the number of regions dropped; *unmap_errs (may be NULL) counts
 * failed unmaps.
 */
unsigned int vshm_session_end(struct vshm_session *s,
			      enum vshm_end_reason why,
			      unsigned int *unmap_errs);

/* vshm_session_end(s, VSHM_END_CLOSED, unmap_errs). */
unsigned int vshm_session_drop_all(struct vshm_session *s,
				   unsigned int *unmap_errs);

/*
 * Ends every region left (as vshm_session_end() with VSHM_END_SHUTDOWN)
 * and frees s.
 */
void vshm_session_free(struct vshm_session *s);

/* "freed", "closed", "reset", "protocol", "shutdown"; "?" otherwise. */
const char *vshm_end_reason_name(enum vshm_end_reason why);

/* Host error code for a mapper errno (ENOMEM -> VSHM_E_NOMEM, ...). */
uint32_t vshm_session_map_errno_code(int err);

#endif /* VSHM_SESSION_H */
