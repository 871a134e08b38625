// SPDX-License-Identifier: GPL-2.0
/*
 * Pins and their accounting: what a VM may have pinned (the module's page
 * quota and the VMM's RLIMIT_MEMLOCK, a region charged whole at its first
 * chunk), which VMM memory may be pinned at all, pinning an extent under
 * its watch (watch.c), and the device's tree of pinned pfns that keeps a
 * page out of two live grants of one VM.
 *
 * Everything returns 0 or a negative errno; hook.c turns it into the
 * protocol's code. The tree and the counters are under vsock_shm_dev.lock.
 */
#include <linux/hugetlb.h>
#include <linux/interval_tree.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "compat.h"
#include "pin.h"
#include "shm.h"
#include "stats.h"
#include "watch.h"

static unsigned int max_pages_per_vm = 1U << 19;	/* 2 GiB */
module_param(max_pages_per_vm, uint, 0644);
MODULE_PARM_DESC(max_pages_per_vm, "4 KiB pages one VM may have pinned in grants");

/*
 * Says whether a region of @total pages fits the VM's page quota (else
 * -EDQUOT) and the VMM's RLIMIT_MEMLOCK, unless it has CAP_IPC_LOCK (else
 * -ENOLCK: the limit on locked memory, which the guest is told, see
 * vsock_shm_pins_memlock_limit()). A region is charged its whole declared
 * size when it is created (vsock_shm_pins_charge()), so every later chunk
 * fits. Called with sd->lock held.
 */
int vsock_shm_pins_fit(struct vsock_shm_dev *sd, u32 total)
{
	u64 locked;

	lockdep_assert_held(&sd->lock);
	if (sd->reserved_pages + total > max_pages_per_vm)
		return -EDQUOT;
	if (sd->ipc_lock)
		return 0;
	locked = atomic64_read(&sd->mm->pinned_vm);
	if (locked + total <= sd->memlock_pages)
		return 0;
	pr_info_ratelimited("vhost_vsock_shm: cid %u: a region of %u pages does not fit its VMM's RLIMIT_MEMLOCK of %lu pages (%llu pinned already): raise the VMM's memlock limit (libvirt: docs/libvirt.md)\n",
			    sd->cid, total, sd->memlock_pages, locked);
	return -ENOLCK;
}

/*
 * The VMM's RLIMIT_MEMLOCK in 4 KiB pages, as a VSHM_E_MEMLOCK refusal
 * tells it (a u32 other than VSHM_NO_INDEX).
 */
u32 vsock_shm_pins_memlock_limit(struct vsock_shm_dev *sd)
{
	u64 pages = (u64)sd->memlock_pages << (PAGE_SHIFT - 12);

	return min_t(u64, pages, VSHM_NO_INDEX - 1);
}

/* Charges a new region's @total pages. Called with sd->lock held. */
void vsock_shm_pins_charge(struct vsock_shm_dev *sd, u32 total)
{
	lockdep_assert_held(&sd->lock);
	sd->reserved_pages += total;
	atomic64_add(total, &sd->mm->pinned_vm);
}

/*
 * Says whether the VMM memory at [hva, hva + n pages) may be pinned for the
 * long term and written: anonymous or private memory (a write breaks COW
 * into anonymous pages), shmem (memfd, tmpfs) and hugetlb. A shared mapping
 * of another file system's page cache is refused: a writable long-term pin
 * of it corrupts it (writeback of a page being written). Called with the
 * mmap_lock held.
 */
static bool extent_pinnable(struct mm_struct *mm, u64 hva, u32 n)
{
	u64 end = hva + ((u64)n << PAGE_SHIFT);
	struct vm_area_struct *vma;

	while (hva < end) {
		vma = vma_lookup(mm, hva);
		if (!vma || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			return false;
		if ((vma->vm_flags & VM_SHARED) && vma->vm_file &&
		    !is_vm_hugetlb_page(vma) &&
		    file_inode(vma->vm_file)->i_sb->s_magic != TMPFS_MAGIC) {
			pr_info_ratelimited("vhost_vsock_shm: guest memory at %#llx is a shared mapping of a %s file: not pinned\n",
					    hva, vma->vm_file->f_path.dentry->d_sb->s_type->name);
			return false;
		}
		hva = vma->vm_end;
	}
	return true;
}

/*
 * Pins n pages of the VMM at hva into pages[]. Returns 0, -EOPNOTSUPP for
 * memory that must not be pinned, or -EFAULT when a page cannot be.
 */
static int pin_extent(struct mm_struct *mm, u64 hva, u32 n,
		      struct page **pages)
{
	u32 done = 0;
	long got;

	mmap_read_lock(mm);
	if (!extent_pinnable(mm, hva, n)) {
		mmap_read_unlock(mm);
		return -EOPNOTSUPP;
	}
	while (done < n) {
		u64 addr = hva + ((u64)done << PAGE_SHIFT);

		got = vsock_shm_pin_user_pages_remote(mm, addr, n - done,
						      FOLL_WRITE | FOLL_LONGTERM,
						      pages + done);
		if (got <= 0)
			break;
		done += got;
	}
	mmap_read_unlock(mm);
	if (done == n)
		return 0;
	unpin_user_pages(pages, done);
	return -EFAULT;
}

/* Tries at pinning an extent that something else keeps invalidating. */
#define PIN_TRIES	3

/*
 * Pins an extent of the VMM under its watch: if the VMM's range was
 * invalidated while it was pinned (pinning can break COW or migrate pages
 * itself), the pages may already be stale and it is pinned again. Returns
 * 0, an error of pin_extent(), or -EBUSY if the range kept changing.
 */
int vsock_shm_pin_extent(struct vsock_shm_dev *sd, struct vsock_shm_watch *w,
			 u64 hva, u32 n, struct page **pages)
{
	int tries, ret;

	for (tries = 0; tries < PIN_TRIES; tries++) {
		vsock_shm_watch_begin(w);
		ret = pin_extent(sd->mm, hva, n, pages);
		if (ret)
			return ret;
		if (vsock_shm_watch_pinned_stable(w))
			return 0;
		unpin_user_pages(pages, n);
	}
	return -EBUSY;
}

/* Length of the run of host-contiguous pages starting at pages[0]. */
static u32 run_len(struct page **pages, u32 n)
{
	unsigned long pfn = page_to_pfn(pages[0]);
	u32 k;

	for (k = 1; k < n; k++)
		if (page_to_pfn(pages[k]) != pfn + k)
			break;
	return k;
}

/*
 * Records pages[0..n) as pinned for this VM, one tree node per run, added
 * to @runs. Returns 0, -EADDRINUSE if a page is already in a live grant of
 * the VM (this one included), or -ENOMEM. On error nothing of this call is
 * recorded.
 */
int vsock_shm_pins_record(struct vsock_shm_dev *sd, struct list_head *runs,
			  struct page **pages, u32 n)
{
	struct vsock_shm_run *run, *tmp;
	LIST_HEAD(added);
	u32 i, len;
	int err = 0;

	mutex_lock(&sd->lock);
	for (i = 0; i < n && !err; i += len) {
		unsigned long pfn = page_to_pfn(pages[i]);

		len = run_len(pages + i, n - i);
		if (interval_tree_iter_first(&sd->pfns, pfn, pfn + len - 1)) {
			err = -EADDRINUSE;
			break;
		}
		run = kmalloc(sizeof(*run), GFP_KERNEL_ACCOUNT);
		if (!run) {
			err = -ENOMEM;
			break;
		}
		run->it.start = pfn;
		run->it.last = pfn + len - 1;
		interval_tree_insert(&run->it, &sd->pfns);
		list_add_tail(&run->node, &added);
	}
	if (err) {
		list_for_each_entry_safe(run, tmp, &added, node) {
			interval_tree_remove(&run->it, &sd->pfns);
			kfree(run);
		}
	} else {
		list_splice_tail(&added, runs);
		sd->pinned_pages += n;
	}
	mutex_unlock(&sd->lock);
	if (!err)
		vsock_shm_stat_add(VSOCK_SHM_STAT_PAGES_PINNED, n);
	return err;
}

/*
 * Forgets the runs of a region and uncharges it: @filled of its @total
 * pages were pinned (pages[]); they are unpinned, dirty.
 */
void vsock_shm_pins_release(struct vsock_shm_dev *sd, struct list_head *runs,
			    struct page **pages, u32 filled, u32 total,
			    struct mm_struct *mm)
{
	struct vsock_shm_run *run, *tmp;

	mutex_lock(&sd->lock);
	list_for_each_entry_safe(run, tmp, runs, node) {
		interval_tree_remove(&run->it, &sd->pfns);
		list_del(&run->node);
		kfree(run);
	}
	sd->pinned_pages -= filled;
	sd->reserved_pages -= total;
	mutex_unlock(&sd->lock);

	unpin_user_pages_dirty_lock(pages, filled, true);
	atomic64_sub(total, &mm->pinned_vm);
	vsock_shm_stat_add(VSOCK_SHM_STAT_PAGES_UNPINNED, filled);
}

/* Runs of host-contiguous pages in pages[0..n). */
u32 vsock_shm_count_runs(struct page **pages, u32 n)
{
	u32 i, runs = n ? 1 : 0;

	for (i = 1; i < n; i++)
		if (page_to_pfn(pages[i]) != page_to_pfn(pages[i - 1]) + 1)
			runs++;
	return runs;
}
