// SPDX-License-Identifier: GPL-2.0
/*
 * Revocation when the VMM's memory under a grant changes while the
 * memslots stay.
 *
 * A balloon or virtio-mem discard (MADV_DONTNEED in the VMM), a memfd hole
 * punch, or munmap() + mmap() at the same address give the guest other
 * pages at the same GPAs without touching a memslot (memmap.c sees only
 * memslots and the memory table). The grant would keep the old pages
 * pinned and mapped in the server: memory the guest no longer has.
 *
 * So every extent of a grant is watched, from before it is pinned, with an
 * mmu_interval_notifier on the VMM's address range. An invalidation that
 * may replace pages (not a protection change) marks the watch and queues
 * the device's vhost work; there, once the invalidation is over, the VMM's
 * page tables are read again (no fault): a grant whose pages are no longer
 * mapped at their addresses is revoked like a FREE. Invalidations that
 * leave the pages in place (KSM or khugepaged giving up on a pinned page)
 * revoke nothing.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "grant.h"
#include "shm.h"
#include "stats.h"
#include "watch.h"

/* Pages read back at a time when checking a range. */
#define WATCH_BATCH	32
/* Invalidations a check may run into before it calls the range changed. */
#define WATCH_TRIES	4

struct vsock_shm_watch {
	struct mmu_interval_notifier mn;
	struct vsock_shm_dev *sd;
	struct page **pages;		/* the grant's, pinned */
	u64 hva;
	u32 nr_pages;
	unsigned long seq;		/* before the pin */
	bool hit;			/* invalidated since the last check */
};

static bool watch_invalidate(struct mmu_interval_notifier *mn,
			     const struct mmu_notifier_range *range,
			     unsigned long cur_seq)
{
	struct vsock_shm_watch *w = container_of(mn, struct vsock_shm_watch, mn);

	mmu_interval_set_seq(mn, cur_seq);
	switch (range->event) {
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		/* The same pages, with other permissions. */
		return true;
	default:
		break;
	}
	WRITE_ONCE(w->hit, true);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_WATCH_INVALIDATIONS);
	vsock_shm_queue(w->sd, &w->sd->watch);
	return true;
}

static const struct mmu_interval_notifier_ops watch_ops = {
	.invalidate = watch_invalidate,
};

struct vsock_shm_watch *vsock_shm_watch_start(struct vsock_shm_dev *sd,
					      u64 hva, u32 n,
					      struct page **pages)
{
	struct vsock_shm_watch *w;
	int ret;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return ERR_PTR(-ENOMEM);
	w->sd = sd;
	w->pages = pages;
	w->hva = hva;
	w->nr_pages = n;
	ret = mmu_interval_notifier_insert(&w->mn, sd->mm, hva,
					   (unsigned long)n << PAGE_SHIFT,
					   &watch_ops);
	if (ret) {
		kfree(w);
		return ERR_PTR(ret);
	}
	return w;
}

void vsock_shm_watch_begin(struct vsock_shm_watch *w)
{
	w->seq = mmu_interval_read_begin(&w->mn);
}

bool vsock_shm_watch_pinned_stable(struct vsock_shm_watch *w)
{
	return !mmu_interval_read_retry(&w->mn, w->seq);
}

void vsock_shm_watch_stop(struct vsock_shm_watch *w)
{
	if (!w)
		return;
	mmu_interval_notifier_remove(&w->mn);
	kfree(w);
}

/* Are the watched pages what the VMM maps at their addresses now? */
static bool watch_compare(struct vsock_shm_watch *w, struct mm_struct *mm)
{
	struct page *now[WATCH_BATCH];
	bool same = true;
	long got, k;
	u32 i, n;

	mmap_read_lock(mm);
	for (i = 0; same && i < w->nr_pages; i += n) {
		u64 addr = w->hva + ((u64)i << PAGE_SHIFT);

		n = min_t(u32, WATCH_BATCH, w->nr_pages - i);
		got = vsock_shm_get_user_pages_remote(mm, addr, n, FOLL_NOFAULT,
						      now);
		same = got == n;
		for (k = 0; k < got; k++) {
			if (now[k] != w->pages[i + k])
				same = false;
			put_page(now[k]);
		}
	}
	mmap_read_unlock(mm);
	return same;
}

bool vsock_shm_watch_still_mapped(struct vsock_shm_watch *w)
{
	struct mm_struct *mm = w->mn.mm;
	unsigned long seq;
	bool same;
	int tries;

	if (!xchg(&w->hit, false))
		return true;
	if (!mmget_not_zero(mm))
		return false;
	for (tries = 0; tries < WATCH_TRIES; tries++) {
		/* Waits for an invalidation in progress to end. */
		seq = mmu_interval_read_begin(&w->mn);
		same = watch_compare(w, mm);
		if (!mmu_interval_read_retry(&w->mn, seq))
			break;
		same = false;
	}
	mmput(mm);
	return same;
}

void vsock_shm_watch_work(struct vhost_work *work)
{
	struct vsock_shm_dev *sd = container_of(work, struct vsock_shm_dev,
						watch);

	vsock_shm_stat_add(VSOCK_SHM_STAT_GRANTS_REVOKED_MEMORY,
			   vsock_shm_grants_recheck_watches(sd));
}
