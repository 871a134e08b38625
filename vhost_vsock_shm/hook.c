// SPDX-License-Identifier: GPL-2.0
/*
 * The guest-to-host packet hook of vhost_vsock_shm.
 *
 * The forked vhost_vsock_handle_tx_kick() calls vsock_shm_guest_pkt() for
 * every correctly addressed packet a guest sends, in the vhost worker with
 * the TX virtqueue mutex held, before the packet is handed to the vsock
 * core. The packet is always delivered afterwards: the hook may rewrite its
 * payload in place, never drop it.
 */
#include <linux/percpu.h>
#include <linux/virtio_vsock.h>

#include "shm.h"
#include "stats.h"

void vsock_shm_guest_pkt(struct vsock_shm_dev *sd, u32 guest_cid,
			 struct sk_buff *skb)
{
	sd->pkts_seen++;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_SEEN);
	if (skb->len)
		vsock_shm_stat_add(VSOCK_SHM_STAT_BYTES_SEEN, skb->len);
}
