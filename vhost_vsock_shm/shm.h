/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between the forked vhost-vsock driver (generated at build
 * time from drivers/vhost/vsock.c by fork/vsock.c.patch) and the sharing
 * code of vhost_vsock_shm. The fork calls only the functions declared at
 * the end of this file.
 */
#ifndef _VHOST_VSOCK_SHM_SHM_H
#define _VHOST_VSOCK_SHM_SHM_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/skbuff.h>
#include <linux/types.h>
#include <linux/rbtree.h>
#include <linux/workqueue.h>

#include "vhost.h"

struct kvm;
struct mm_struct;
struct vsock_shm_pkt;
struct vsock_shm_memmap;
struct vsock_shm_migration;

/*
 * Per vhost-vsock device sharing state, embedded in struct vhost_vsock.
 *
 * Set at VHOST_SET_OWNER under the vhost device mutex, before the device can
 * run, and cleared at release after it stopped: @kvm, @mm, @memlock_pages,
 * @ipc_lock, @memmap, @migration. Set under the vhost device mutex at
 * VHOST_SET_FEATURES, read by the vhost worker: @dirty_log. Set at
 * VHOST_VSOCK_SET_GUEST_CID under the vhost device mutex: @guest_cid. Used
 * by the vhost worker only: @pkt, @pkts_seen, @cid. Set at open: @reap,
 * @stop, @watch, @orphan. Everything else is guarded by @lock.
 */
struct vsock_shm_dev {
	struct vhost_dev *vdev;
	struct kvm *kvm;		/* the VM of this device (ref held) */
	struct mm_struct *mm;		/* the VMM's mm (mmgrab), for pins */
	unsigned long memlock_pages;	/* the VMM's RLIMIT_MEMLOCK, pages */
	bool ipc_lock;			/* the VMM had CAP_IPC_LOCK */
	u32 cid;			/* guest CID, as last seen */
	u32 guest_cid;			/* as the VMM last set it */
	struct vhost_work reap;		/* ends connections whose socket closed */
	struct vhost_work stop;		/* ends every connection and grant */
	struct vhost_work watch;	/* rechecks grants' VMM memory (watch.c) */
	struct work_struct orphan;	/* ends everything: the worker is gone */
	struct vsock_shm_memmap *memmap; /* memory map watch (memmap.c) */
	struct vsock_shm_migration *migration; /* dirty logging (migration.c) */
	bool dirty_log;			/* the VMM logs the device's writes */

	struct vsock_shm_pkt *pkt;	/* per-packet scratch */
	u64 pkts_seen;

	struct mutex lock;		/* guards the fields below */
	DECLARE_HASHTABLE(conns, 6);	/* struct vsock_shm_conn */
	u32 nr_conns;
	u32 nr_grants;			/* live grants */
	u64 reserved_pages;		/* pages live grants declared */
	u64 pinned_pages;		/* pages pinned by live grants */
	struct rb_root_cached pfns;	/* runs of pinned host pfns */
};

struct virtio_transport;
struct vsock_sock;

int vsock_shm_init(struct virtio_transport *t);
void vsock_shm_exit(void);
void vsock_shm_explain_register_error(int err);

int vsock_shm_dev_open(struct vsock_shm_dev *sd, struct vhost_dev *vdev);
void vsock_shm_dev_release(struct vsock_shm_dev *sd);
void vsock_shm_dev_ioctl(struct vsock_shm_dev *sd, unsigned int ioctl);
void vsock_shm_dev_features(struct vsock_shm_dev *sd, u64 features);
void vsock_shm_dev_stopped(struct vsock_shm_dev *sd);
void vsock_shm_dev_cid_set(struct vsock_shm_dev *sd, u32 guest_cid);
void vsock_shm_sock_released(struct vsock_shm_dev *sd);
bool vsock_shm_queue(struct vsock_shm_dev *sd, struct vhost_work *work);

void vsock_shm_guest_pkt(struct vsock_shm_dev *sd, u32 guest_cid,
			 struct sk_buff *skb);
void vsock_shm_host_pkt(struct vsock_shm_dev *sd, struct sk_buff *skb);

#endif /* _VHOST_VSOCK_SHM_SHM_H */
