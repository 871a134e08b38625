/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between the forked vhost-vsock driver (generated at build
 * time from drivers/vhost/vsock.c by fork/vsock.c.patch) and the sharing
 * code of vhost_vsock_shm. The fork calls only the functions declared here.
 */
#ifndef _VHOST_VSOCK_SHM_SHM_H
#define _VHOST_VSOCK_SHM_SHM_H

#include <linux/types.h>
#include <linux/skbuff.h>

struct vhost_dev;

/*
 * Per vhost-vsock device sharing state, embedded in struct vhost_vsock.
 * Written at open and release only; the guest-to-host path reads it from
 * the vhost worker under the TX virtqueue mutex.
 */
struct vsock_shm_dev {
	struct vhost_dev *vdev;
	u64 pkts_seen;		/* guest-to-host packets seen by the hook */
};

int vsock_shm_init(void);
void vsock_shm_exit(void);
void vsock_shm_explain_register_error(int err);

void vsock_shm_dev_open(struct vsock_shm_dev *sd, struct vhost_dev *vdev);
void vsock_shm_dev_release(struct vsock_shm_dev *sd);

void vsock_shm_guest_pkt(struct vsock_shm_dev *sd, u32 guest_cid,
			 struct sk_buff *skb);

#endif /* _VHOST_VSOCK_SHM_SHM_H */
