/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's private view of the packet being hooked: the context policies
 * see, plus what the kfuncs and the grant code need. One per device, used by
 * the vhost worker only (under the TX virtqueue mutex).
 */
#ifndef _VHOST_VSOCK_SHM_PKT_H
#define _VHOST_VSOCK_SHM_PKT_H

#include "hook.h"
#include "shm.h"
#include "wire.h"

struct vsock_shm_pkt {
	struct vsock_shm_pkt_ctx ctx;
	struct vsock_shm_dev *sd;
	void *msg;			/* payload, valid during the hook */
	struct vshm_wire_info info;	/* the module's parse of the payload */
	bool unprivileged_ok;		/* a policy accepts an unprivileged port */
	u64 hva[VSHM_MAX_EXT_PER_MSG];	/* VMM address of each extent */
	u32 scratch[VSHM_MAX_EXT_PER_MSG];
};

static inline struct vsock_shm_pkt *to_pkt(struct vsock_shm_pkt_ctx *ctx)
{
	return container_of(ctx, struct vsock_shm_pkt, ctx);
}

#endif /* _VHOST_VSOCK_SHM_PKT_H */
