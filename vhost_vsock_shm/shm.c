// SPDX-License-Identifier: GPL-2.0
/*
 * Module and device lifetime of the sharing side of vhost_vsock_shm, and the
 * binding of a vhost-vsock device to its VM.
 */
#include <linux/fdtable.h>
#include <linux/kernel.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vhost.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "conn.h"
#include "grant.h"
#include "memmap.h"
#include "migration.h"
#include "pkt.h"
#include "shm.h"
#include "stats.h"
#include "translate.h"
#include "watch.h"
#include "vhost.h"

int vsock_shm_init(struct virtio_transport *t)
{
	int ret;

	vsock_shm_conn_set_transport(t);
	/* First in, last out: everything below counts. */
	ret = vsock_shm_stats_init();
	if (ret)
		return ret;
	ret = vsock_shm_kfuncs_init();
	if (ret) {
		pr_err("vhost_vsock_shm: cannot register the kfuncs: %d\n", ret);
		goto out_stats;
	}
	ret = vsock_shm_grants_init();
	if (ret)
		goto out_stats;
	return 0;

out_stats:
	vsock_shm_stats_exit();
	return ret;
}

void vsock_shm_exit(void)
{
	vsock_shm_grants_exit();
	vsock_shm_stats_exit();
}

/*
 * The host-to-guest vsock transport slot is exclusive: vsock_core_register()
 * fails with -EBUSY while another host transport, normally the stock
 * vhost_vsock, holds it.
 */
void vsock_shm_explain_register_error(int err)
{
	if (err == -EBUSY)
		pr_err("vhost_vsock_shm: the host vsock transport is taken, is the stock vhost_vsock loaded? Unload it first (rmmod vhost_vsock)\n");
	else
		pr_err("vhost_vsock_shm: cannot register the host vsock transport: %d\n",
		       err);
}

/* In the vhost worker: a host socket of this device's guest was closed. */
static void dev_reap(struct vhost_work *work)
{
	vsock_shm_conn_reap(container_of(work, struct vsock_shm_dev, reap));
}

/* In the vhost worker: the guest can no longer be heard on its connections. */
static void dev_stop(struct vhost_work *work)
{
	vsock_shm_conn_close_all(container_of(work, struct vsock_shm_dev, stop),
				 true);
}

/*
 * Since 6.4 the vhost worker is a thread of the owner's process and dies
 * with it, while the device lives on as long as its file is open elsewhere
 * (passed to another process, or held by a thread that shares the owner's
 * memory). Work queued after that never runs, so nothing would end what the
 * guest shared: a server's close, a reset, a change of the VMM's memory
 * would revoke nothing. Instead, once queueing fails, every connection is
 * ended and every grant revoked from a kernel workqueue. The device never
 * runs again (vhost-vsock has no VHOST_RESET_OWNER): nothing new is shared.
 */
static void dev_orphaned(struct work_struct *work)
{
	struct vsock_shm_dev *sd = container_of(work, struct vsock_shm_dev,
						orphan);
	struct vhost_virtqueue *vq = sd->vdev->vqs[VSOCK_VQ_TX];
	u32 grants = READ_ONCE(sd->nr_grants);

	/* The dying worker runs what was queued before it went: wait for it. */
	vhost_dev_flush(sd->vdev);
	mutex_lock(&vq->mutex);
	vsock_shm_conn_close_all(sd, true);
	mutex_unlock(&vq->mutex);
	if (grants)
		pr_warn_ratelimited("vhost_vsock_shm: the vhost worker of a device still open is gone (its owner exited): %u grants revoked\n",
				    grants);
}

/*
 * Queues @work on the device's vhost worker; if there is none any more,
 * queues the end of everything instead (dev_orphaned()) and returns false.
 */
bool vsock_shm_queue(struct vsock_shm_dev *sd, struct vhost_work *work)
{
	if (vsock_shm_work_queue(sd->vdev, work))
		return true;
	queue_work(system_unbound_wq, &sd->orphan);
	return false;
}

int vsock_shm_dev_open(struct vsock_shm_dev *sd, struct vhost_dev *vdev)
{
	memset(sd, 0, sizeof(*sd));
	sd->vdev = vdev;
	vhost_work_init(&sd->reap, dev_reap);
	vhost_work_init(&sd->stop, dev_stop);
	vhost_work_init(&sd->watch, vsock_shm_watch_work);
	INIT_WORK(&sd->orphan, dev_orphaned);
	mutex_init(&sd->lock);
	hash_init(sd->conns);
	sd->pfns = RB_ROOT_CACHED;
	sd->pkt = kvzalloc(sizeof(*sd->pkt), GFP_KERNEL);
	if (!sd->pkt)
		return -ENOMEM;
	sd->pkt->sd = sd;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_DEVS_OPENED);
	return 0;
}

/* Drops the VM binding; the device no longer runs. */
static void dev_unbind(struct vsock_shm_dev *sd)
{
	vsock_shm_conn_close_all(sd, false);
	if (sd->kvm) {
		kvm_put_kvm(sd->kvm);
		WRITE_ONCE(sd->kvm, NULL);
	}
	if (sd->mm) {
		mmdrop(sd->mm);
		sd->mm = NULL;
	}
}

/* Called after the device stopped: no packet can be in flight. */
void vsock_shm_dev_release(struct vsock_shm_dev *sd)
{
	vsock_shm_migration_unbind(sd);
	vsock_shm_memmap_unbind(sd);
	dev_unbind(sd);
	/* A watch may have queued its recheck before it was stopped. */
	vhost_dev_flush(sd->vdev);
	flush_work(&sd->orphan);
	WARN_ON_ONCE(sd->nr_grants || sd->pinned_pages ||
		     !RB_EMPTY_ROOT(&sd->pfns.rb_root));
	kvfree(sd->pkt);
	sd->pkt = NULL;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_DEVS_RELEASED);
	sd->vdev = NULL;
}

/* A KVM VM fd of a VM whose memory is the caller's (iterate_fd()). */
static int match_kvm(const void *p, struct file *file, unsigned int fd)
{
	struct kvm **kvm = (struct kvm **)p;
	struct kvm *candidate;

	if (!file_is_kvm(file))
		return 0;
	candidate = file->private_data;
	if (candidate->mm != current->mm)
		return 0;
	kvm_get_kvm(candidate);
	*kvm = candidate;
	return 1;
}

/*
 * VHOST_SET_OWNER, in the VMM's context: the VM whose guest this device
 * serves is the one whose memory is the VMM's own (kvm->mm is the owner's
 * mm), found among the VMM's open KVM VM fds; a VM fd another process
 * created and passed in is never taken. A VMM without one (no KVM) gets no
 * memslot translation. The VMM's memlock limit and capability bound what
 * its guest may have pinned.
 */
static void dev_bind(struct vsock_shm_dev *sd)
{
	struct kvm *kvm = NULL;

	iterate_fd(current->files, 0, match_kvm, &kvm);
	WRITE_ONCE(sd->kvm, kvm);
	sd->mm = sd->vdev->mm;
	mmgrab(sd->mm);
	sd->memlock_pages = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	sd->ipc_lock = capable(CAP_IPC_LOCK);
	if (!kvm)
		pr_info("vhost_vsock_shm: owner %d has no KVM VM: memslot translation is off for this device\n",
			task_pid_nr(current));
	if (vsock_shm_memmap_bind(sd) || vsock_shm_migration_bind(sd)) {
		/*
		 * Grants must not outlive a memory map change or a migration
		 * that goes unseen: no sharing.
		 */
		pr_warn("vhost_vsock_shm: owner %d: out of memory, sharing is off for this device\n",
			task_pid_nr(current));
		kvfree(sd->pkt);
		sd->pkt = NULL;
	}
}

/* Called under the vhost device mutex after a generic ioctl succeeded. */
void vsock_shm_dev_ioctl(struct vsock_shm_dev *sd, unsigned int ioctl)
{
	switch (ioctl) {
	case VHOST_SET_OWNER:
		dev_bind(sd);
		break;
	case VHOST_SET_MEM_TABLE:
		vsock_shm_memmap_changed(sd);
		break;
	}
}

/* Called under the vhost device mutex after VHOST_SET_FEATURES succeeded. */
void vsock_shm_dev_features(struct vsock_shm_dev *sd, u64 features)
{
	vsock_shm_migration_features(sd, features);
}

/*
 * Ends every connection and grant of the device in its vhost worker, where
 * grants are made, and waits for it. Called with the vhost device mutex held.
 */
static void dev_end_conns_locked(struct vsock_shm_dev *sd)
{
	if (!sd->pkt)
		return;
	if (vsock_shm_queue(sd, &sd->stop))
		vhost_dev_flush(sd->vdev);
	else
		flush_work(&sd->orphan);
}

/*
 * VHOST_VSOCK_SET_RUNNING 0 succeeded: the VMM stopped the device, as it
 * does when the guest resets it (a reboot) or the VM is paused. A grant
 * must not outlive the guest that made it, and a stopped device cannot
 * tell: every grant is revoked and the connections that shared are reset.
 * Called with no lock held.
 */
void vsock_shm_dev_stopped(struct vsock_shm_dev *sd)
{
	mutex_lock(&sd->vdev->mutex);
	dev_end_conns_locked(sd);
	mutex_unlock(&sd->vdev->mutex);
}

/*
 * VHOST_VSOCK_SET_GUEST_CID succeeded; the fork holds the vhost device
 * mutex across the stock handler and this call, so that two racing calls
 * record the CID in the order the device took them. A device whose guest
 * changes its address ends what its old guest shared.
 */
void vsock_shm_dev_cid_set(struct vsock_shm_dev *sd, u32 guest_cid)
{
	u32 old = sd->guest_cid;

	sd->guest_cid = guest_cid;
	if (old && old != guest_cid)
		dev_end_conns_locked(sd);
}

/*
 * From the transport's release of a host socket whose peer is this
 * device's guest, in an RCU read section (the device cannot go away) and
 * with the socket locked: the worker ends its connection, if tracked.
 */
void vsock_shm_sock_released(struct vsock_shm_dev *sd)
{
	if (READ_ONCE(sd->nr_conns))
		vsock_shm_queue(sd, &sd->reap);
}
