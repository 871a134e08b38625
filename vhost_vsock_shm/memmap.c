// SPDX-License-Identifier: GPL-2.0
/*
 * Revocation when the guest's memory map changes.
 *
 * A grant holds host pages that were, when pinned, the guest's memory at
 * the GPAs it sent. Two things can make that stop being true while the
 * pages stay pinned: the VMM deletes or moves a KVM memslot, or it gives
 * the vhost device a new memory table (VHOST_SET_MEM_TABLE). The server
 * would then share pages the guest no longer sees at those addresses.
 *
 * KVM tells page-track notifiers before a memslot is deleted or moved (the
 * slot is already marked invalid then); the fork tells us after a new
 * memory table is in place. Either way we only queue a work item on the
 * device's vhost worker: there, serialized with the packets that create
 * grants, every span of every grant is translated again through the source
 * it came from, and a grant with a span that no longer lands at the same
 * VMM address is revoked like a FREE (zap, then unpin).
 */
#include <linux/kvm_host.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/virtio_vsock.h>
#include <asm/kvm_page_track.h>

#include "compat.h"
#include "grant.h"
#include "memmap.h"
#include "shm.h"
#include "stats.h"
#include "translate.h"
#include "vhost.h"

struct vsock_shm_memmap {
	struct vsock_shm_dev *sd;	/* its sd->kvm, if any, has @track */
	struct kvm_page_track_notifier_node track;
	struct vhost_work work;
};

/* What a recheck translates against: read under kvm->srcu and vq->mutex. */
struct memmap_now {
	struct kvm *kvm;
	struct vhost_iotlb *umem;
};

static bool span_still_mapped(void *arg, const struct vsock_shm_span *span)
{
	struct memmap_now *now = arg;
	u64 hva;

	if (vsock_shm_translate_again(now->kvm, now->umem, span->how,
				      span->gpa, span->nr_pages, &hva))
		return false;
	return hva == span->hva;
}

static void memmap_recheck(struct vhost_work *work)
{
	struct vsock_shm_memmap *mm = container_of(work, struct vsock_shm_memmap,
						   work);
	struct vsock_shm_dev *sd = mm->sd;
	struct vhost_virtqueue *vq = sd->vdev->vqs[VSOCK_VQ_TX];
	struct memmap_now now = { .kvm = sd->kvm };
	struct vsock_shm_grant *g;
	LIST_HEAD(dead);
	u32 checked, revoked = 0;
	int idx = 0;

	/* The TX mutex keeps the memory table and the packet path still. */
	mutex_lock(&vq->mutex);
	now.umem = vq->umem;
	if (now.kvm)
		idx = srcu_read_lock(&now.kvm->srcu);
	checked = vsock_shm_grants_recheck(sd, span_still_mapped, &now, &dead);
	if (now.kvm)
		srcu_read_unlock(&now.kvm->srcu, idx);
	list_for_each_entry(g, &dead, conn_node) {
		pr_info_ratelimited("vhost_vsock_shm: cid %u port %u->%u region %u: revoked, its guest memory moved\n",
				    g->cid, g->guest_port, g->host_port,
				    g->region);
		revoked++;
	}
	vsock_shm_grants_revoke(sd, &dead, VSHM_REVOKE_MEMMAP);
	mutex_unlock(&vq->mutex);

	vsock_shm_stat_add(VSOCK_SHM_STAT_GRANTS_RECHECKED, checked);
	vsock_shm_stat_add(VSOCK_SHM_STAT_GRANTS_REVOKED_MEMMAP, revoked);
}

#if VSHM_SINCE(6, 7)
/*
 * From KVM, before a memslot is deleted. Since 6.7 KVM refuses to move a
 * memslot while an external tracker (this one) is registered.
 */
static void memmap_region_removed(gfn_t gfn, unsigned long nr_pages,
				  struct kvm_page_track_notifier_node *node)
{
	struct vsock_shm_memmap *mm = container_of(node, struct vsock_shm_memmap,
						   track);

	vsock_shm_memmap_changed(mm->sd);
}

static int memmap_track(struct vsock_shm_memmap *mm, struct kvm *kvm)
{
	mm->track.track_remove_region = memmap_region_removed;
	return kvm_page_track_register_notifier(kvm, &mm->track);
}
#else
/* From KVM, with its slots_lock held, before a memslot is deleted or moved. */
static void memmap_slot_flushed(struct kvm *kvm, struct kvm_memory_slot *slot,
				struct kvm_page_track_notifier_node *node)
{
	struct vsock_shm_memmap *mm = container_of(node, struct vsock_shm_memmap,
						   track);

	vsock_shm_memmap_changed(mm->sd);
}

static int memmap_track(struct vsock_shm_memmap *mm, struct kvm *kvm)
{
	mm->track.track_flush_slot = memmap_slot_flushed;
	kvm_page_track_register_notifier(kvm, &mm->track);
	return 0;
}
#endif

void vsock_shm_memmap_changed(struct vsock_shm_dev *sd)
{
	if (!sd->memmap)
		return;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_MEMMAP_CHANGES);
	vsock_shm_queue(sd, &sd->memmap->work);
}

/*
 * At VHOST_SET_OWNER, once the device has its worker and (maybe) its VM.
 * Without memory for the watch, grants would outlive memory map changes:
 * then the device does not share at all (sd->memmap stays NULL).
 */
int vsock_shm_memmap_bind(struct vsock_shm_dev *sd)
{
	struct vsock_shm_memmap *mm;
	int ret;

	mm = kzalloc(sizeof(*mm), GFP_KERNEL);
	if (!mm)
		return -ENOMEM;
	mm->sd = sd;
	vhost_work_init(&mm->work, memmap_recheck);
	if (sd->kvm) {
		ret = memmap_track(mm, sd->kvm);
		if (ret) {
			kfree(mm);
			return ret;
		}
	}
	sd->memmap = mm;
	return 0;
}

/*
 * At release, before the VM reference is dropped: no notifier runs after
 * the unregister, and the flush runs a recheck still queued.
 */
void vsock_shm_memmap_unbind(struct vsock_shm_dev *sd)
{
	struct vsock_shm_memmap *mm = sd->memmap;

	if (!mm)
		return;
	if (sd->kvm)
		kvm_page_track_unregister_notifier(sd->kvm, &mm->track);
	vhost_dev_flush(sd->vdev);
	sd->memmap = NULL;
	kfree(mm);
}
