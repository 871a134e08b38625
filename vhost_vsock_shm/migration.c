// SPDX-License-Identifier: GPL-2.0
/*
 * Grants and live migration.
 *
 * To migrate a VM, its VMM copies guest memory while the guest runs and
 * copies again what was written since: KVM logs the vCPUs' writes, vhost
 * logs the device's (VHOST_F_LOG_ALL, a bitmap at VHOST_SET_LOG_BASE, one
 * bit per 4 KiB guest page). A server writing through a grant's mapping
 * shows up in neither log: a page it wrote after it was copied would reach
 * the destination stale, and the guest would never know.
 *
 * So while the device logs, nothing is shared. When VHOST_F_LOG_ALL comes
 * on, the device's vhost worker revokes every grant (zap, then unpin) and
 * only then marks each revoked extent dirty in the log, so the VMM copies
 * those pages again with whatever the server wrote before it lost them.
 * Until logging goes off again (migration cancelled, or done and the
 * source device reset) a GPA_LIST is refused with VSHM_E_BUSY. After a
 * migration the guest's connections are reset anyway: it shares again at
 * the destination.
 */
#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vhost.h>
#include <linux/virtio_vsock.h>

#include "compat.h"
#include "grant.h"
#include "migration.h"
#include "shm.h"
#include "stats.h"
#include "translate.h"
#include "vhost.h"

struct vsock_shm_migration {
	struct vsock_shm_dev *sd;
	struct vhost_work work;
};

/* Where the VMM's dirty log is, read under the TX virtqueue mutex. */
struct dirty_log {
	void __user *base;
	struct vhost_iotlb *umem;	/* what the VMM sized the log for */
	u64 pages;		/* guest pages marked */
	bool failed;		/* some could not be marked */
};

/*
 * Sets the bits of guest pages [gfn, gfn + n) in the log, one page of the
 * log at a time: pinned, set atomically (the VMM clears bits as it reads
 * them, and vhost sets others concurrently), unpinned dirty. Runs in the
 * vhost worker, which works in the VMM's mm.
 */
static int log_mark(void __user *base, u64 gfn, u64 n)
{
	while (n) {
		unsigned long uaddr = (unsigned long)base + gfn / 8;
		unsigned long bit = (uaddr & ~PAGE_MASK) * 8 + gfn % 8;
		u64 here = min_t(u64, n, PAGE_SIZE * 8 - bit);
		struct page *page;
		unsigned long *map;
		u64 i;
		int ret;

		if (uaddr < (unsigned long)base)
			return -EFAULT;
		ret = pin_user_pages_fast(uaddr & PAGE_MASK, 1, FOLL_WRITE, &page);
		if (ret != 1)
			return ret < 0 ? ret : -EFAULT;
		map = kmap_local_page(page);
		for (i = 0; i < here; i++)
			set_bit(bit + i, map);
		kunmap_local(map);
		unpin_user_pages_dirty_lock(&page, 1, true);
		gfn += here;
		n -= here;
	}
	return 0;
}

static void span_log(void *arg, const struct vsock_shm_span *span)
{
	struct dirty_log *log = arg;

	/* Only where the VMM sized the log: inside its memory table. */
	if (!log->base ||
	    !vsock_shm_in_mem_table(log->umem, span->gpa, span->nr_pages) ||
	    log_mark(log->base, span->gpa >> PAGE_SHIFT, span->nr_pages)) {
		log->failed = true;
		return;
	}
	log->pages += span->nr_pages;
}

static void migration_log_started(struct vhost_work *work)
{
	struct vsock_shm_migration *mig = container_of(work,
						       struct vsock_shm_migration,
						       work);
	struct vsock_shm_dev *sd = mig->sd;
	struct vhost_virtqueue *vq = sd->vdev->vqs[VSOCK_VQ_TX];
	struct dirty_log log = {};
	u32 revoked;

	/* The TX mutex: no packet creates a grant meanwhile. */
	mutex_lock(&vq->mutex);
	log.base = vq->log_base;
	log.umem = vq->umem;
	revoked = vsock_shm_grants_revoke_all(sd, VSHM_REVOKE_MIGRATION,
					      span_log, &log);
	if (log.pages && vq->log_ctx)
		vsock_shm_eventfd_signal(vq->log_ctx);
	mutex_unlock(&vq->mutex);

	if (revoked)
		pr_info_ratelimited("vhost_vsock_shm: cid %u: the VMM logs dirty pages (migration): grants revoked: %u\n",
				    sd->cid, revoked);
	if (log.failed)
		pr_warn_ratelimited("vhost_vsock_shm: cid %u: cannot mark revoked pages in the VMM's dirty log: a migration may copy them stale\n",
				    sd->cid);
	vsock_shm_stat_add(VSOCK_SHM_STAT_GRANTS_REVOKED_DIRTY_LOG, revoked);
	vsock_shm_stat_add(VSOCK_SHM_STAT_PAGES_LOGGED_DIRTY, log.pages);
}

void vsock_shm_migration_features(struct vsock_shm_dev *sd, u64 features)
{
	bool logging = features & (1ULL << VHOST_F_LOG_ALL);

	if (logging == READ_ONCE(sd->dirty_log))
		return;
	WRITE_ONCE(sd->dirty_log, logging);
	if (!logging || !sd->migration)
		return;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_DIRTY_LOG_STARTS);
	vsock_shm_queue(sd, &sd->migration->work);
}

/* At VHOST_SET_OWNER, once the device has its worker. */
int vsock_shm_migration_bind(struct vsock_shm_dev *sd)
{
	struct vsock_shm_migration *mig;

	mig = kzalloc(sizeof(*mig), GFP_KERNEL);
	if (!mig)
		return -ENOMEM;
	mig->sd = sd;
	vhost_work_init(&mig->work, migration_log_started);
	sd->migration = mig;
	return 0;
}

/* At release: the flush runs a revocation still queued. */
void vsock_shm_migration_unbind(struct vsock_shm_dev *sd)
{
	if (!sd->migration)
		return;
	vhost_dev_flush(sd->vdev);
	kfree(sd->migration);
	sd->migration = NULL;
}
