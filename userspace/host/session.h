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
/*
 * struct vshm_session_region, struct vshm_map_info, the callbacks and
 * enum vshm_end_reason are public: the server's application sees them
 * (<vsock-shm/server.h> documents them in the server's terms). Here, in
 * the session's: on_ended runs during the feed of the guest's FREE or from
 * vshm_session_end(); the reservation left at r->addr exists only with
 * ops->release, and "given back" means ops->release, called as soon as
 * on_ended returned 0; a range held with VSHM_HOLD is the ops owner's to
 * release.
 */
#include "../include/vsock-shm/server.h"

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

/* Host error code for a mapper errno (ENOMEM -> VSHM_E_NOMEM, ...). */
uint32_t vshm_session_map_errno_code(int err);

#endif /* VSHM_SESSION_H */
