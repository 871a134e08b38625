/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host server's protocol logic for one connection, as a pure state
 * machine (docs/protocol.md, section 9): feed it every message received on
 * the connection; it answers with exactly one reply to send and a set of
 * actions. It does no I/O of its own: mapping and unmapping go through a
 * small ops table (the real mapper in vshm_server.c, a fake one in the unit
 * tests), and the application sees mapped regions through a callback.
 *
 * Region states: UPLOADING (after ALLOC_OK, chunks arriving), MAPPED (after
 * MAPPED was sent), FAILED (an ERROR answered one of its list messages; it
 * waits for the guest's FREE, which makes the module drop its grant).
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
 * The mapper behind the session. Both return 0 or a negative errno.
 * map: make grant (received on the connected socket sock_fd) visible in
 * this process; *ptr is one contiguous mapping of info->size bytes.
 * unmap: undo a successful map (munmap, then VSHM_IOC_UNMAP_GRANT).
 */
struct vshm_mapper_ops {
	int (*map)(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		   struct vshm_map_info *info);
	int (*unmap)(void *ctx, uint64_t grant, void *ptr, size_t size);
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
	struct vshm_map_info info;	/* MAPPED: from the mapper */
};

/*
 * Called after the mapping of a region's last chunk succeeded, before
 * MAPPED is sent. Returns 0 to accept (MAPPED is sent), a positive enum
 * vshm_err to refuse (the region is unmapped, ERROR with that code is
 * sent), or a negative errno (the same with VSHM_E_INTERNAL).
 */
typedef int (*vshm_on_mapped_fn)(void *arg,
				 const struct vshm_session_region *r);

struct vshm_session_cfg {
	int sock_fd;			/* passed to ops->map */
	uint32_t peer_cid;		/* for the application, in regions */
	uint64_t max_region_size;	/* bytes; 0: no limit */
	uint32_t max_regions;		/* live regions; 0: no limit */
	const struct vshm_mapper_ops *ops;
	void *ops_ctx;
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	void *arg;
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
	 * FAILED; ptr is NULL once unmapped).
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
 * The connection ended: unmaps every mapped region and forgets them all.
 * Returns the number of regions dropped; *unmap_errs (may be NULL) counts
 * failed unmaps.
 */
unsigned int vshm_session_drop_all(struct vshm_session *s,
				   unsigned int *unmap_errs);

/* Drops everything (as vshm_session_drop_all) and frees s. */
void vshm_session_free(struct vshm_session *s);

/* Host error code for a mapper errno (ENOMEM -> VSHM_E_NOMEM, ...). */
uint32_t vshm_session_map_errno_code(int err);

#endif /* VSHM_SESSION_H */
