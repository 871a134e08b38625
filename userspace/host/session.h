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
 *
 * Features (docs/protocol.md, section 12): a HELLO as the connection's
 * first message is answered HELLO_OK with the features offered that
 * cfg->features has; a later HELLO is answered ERROR(VSHM_E_ORDER) and
 * changes nothing. Until HELLO_OK the connection has no feature. A NOTIFY
 * is never answered: delivered (on_notify) for a mapped region of a
 * connection that agreed VSHM_FEAT_NOTIFY, dropped otherwise, also when
 * malformed (unless its header is: then it is a connection-level error).
 * A mapped region whose grant the mapper reports revoked
 * (vshm_session_revoke()) is reported (on_revoked), unmapped, and stays
 * live (state MAPPED, ptr NULL, revoked set) until FREE or the end.
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
 * this process; *ptr is one contiguous mapping of info->size bytes. On
 * entry info->access is the access the guest asked for in its ALLOC: the
 * mapping must not allow more (no PROT_WRITE without VSHM_ACCESS_WRITE),
 * and info->access on return is what it allows.
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
	uint32_t peer_port;		/* same */
	uint64_t conn_id;		/* same */
	uint64_t features;		/* VSHM_FEAT_* this host supports */
	uint64_t max_region_size;	/* bytes; 0: no limit */
	uint32_t max_regions;		/* live regions; 0: no limit */
	const struct vshm_mapper_ops *ops;
	void *ops_ctx;
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	vshm_on_ended_fn on_ended;	/* may be NULL: never held */
	vshm_on_revoked_fn on_revoked;	/* may be NULL */
	vshm_on_notify_fn on_notify;	/* may be NULL: NOTIFYs dropped */
	void *arg;			/* for every callback */
};

/* out->actions */
#define VSHM_SESS_CLOSE		0x1	/* send the reply, then close */
#define VSHM_SESS_MAPPED	0x2	/* out->region: just mapped */
#define VSHM_SESS_FREED		0x4	/* out->region: freed (FREED sent) */
#define VSHM_SESS_FAILED	0x8	/* out->region: moved to FAILED */
#define VSHM_SESS_HELLO		0x10	/* features agreed (HELLO_OK) */
#define VSHM_SESS_NOTIFY	0x20	/* out->region: NOTIFY delivered */
#define VSHM_SESS_DROPPED	0x40	/* a NOTIFY dropped (no reply) */
#define VSHM_SESS_REVOKED	0x80	/* out->region: revoked, unmapped */

#define VSHM_SESS_REPLY_MAX	32

struct vshm_session_out {
	uint8_t reply[VSHM_SESS_REPLY_MAX];
	/*
	 * > 0 after a feed, except for a NOTIFY (never answered): 0. After
	 * vshm_session_revoke(): the REVOKED to send, or 0.
	 */
	size_t reply_len;
	unsigned int actions;
	uint8_t reply_type;		/* VSHM_MSG_* of the reply, or 0 */
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
	uint64_t notifies;		/* NOTIFYs delivered (on_notify) */
	uint64_t notifies_dropped;	/* NOTIFYs dropped */
	uint64_t revoked;		/* regions revoked (on_revoked) */
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

/*
 * The mapper reported grant revoked, for reason (enum vshm_revoke_reason).
 * If a region of s is mapped with that grant (and not revoked already):
 * on_revoked runs (r->ptr still the dead mapping), then the region is
 * unmapped (ops->unmap: with ops->release, the range stays reserved until
 * the region ends), r->ptr becomes NULL and r->revoked the reason; out
 * gets VSHM_SESS_REVOKED, the region, unmap_err, and as its reply the
 * REVOKED to send if the guest agreed VSHM_FEAT_REVOKED and cannot know
 * the reason by itself (DEVICE, MEMMAP, MIGRATION, or a reason this
 * version does not know), else reply_len 0. Returns 1 then, 0 if no
 * region of s took it (out: reply_len 0, no action), -EINVAL for NULL
 * arguments.
 */
int vshm_session_revoke(struct vshm_session *s, uint64_t grant,
			uint32_t reason, struct vshm_session_out *out);

/* The features agreed (HELLO_OK sent), 0 before or without. */
uint64_t vshm_session_features(const struct vshm_session *s);

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
