/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pins and their accounting (pin.c). Every call returns 0 or a negative
 * errno.
 */
#ifndef _VHOST_VSOCK_SHM_PIN_H
#define _VHOST_VSOCK_SHM_PIN_H

#include <linux/interval_tree.h>
#include <linux/list.h>
#include <linux/types.h>

struct mm_struct;
struct page;
struct vsock_shm_dev;
struct vsock_shm_watch;

/*
 * A run of host-contiguous pinned pages of a grant, in its device's tree
 * of pinned pfns (vsock_shm_dev.pfns, under vsock_shm_dev.lock): a page in
 * two live grants of one VM is found per run, not per page.
 */
struct vsock_shm_run {
	struct interval_tree_node it;	/* [first pfn, last pfn] */
	struct list_head node;		/* in vsock_shm_grant.runs */
};

/*
 * 0 if a region of @total pages fits the VM's limits: -EDQUOT over the
 * page quota, -ENOLCK over the VMM's RLIMIT_MEMLOCK. Under sd->lock.
 */
int vsock_shm_pins_fit(struct vsock_shm_dev *sd, u32 total);
/* The VMM's RLIMIT_MEMLOCK in 4 KiB pages (a VSHM_E_MEMLOCK detail). */
u32 vsock_shm_pins_memlock_limit(struct vsock_shm_dev *sd);
/* Charges a new region's @total pages. Under sd->lock. */
void vsock_shm_pins_charge(struct vsock_shm_dev *sd, u32 total);
/* Pins an extent of the VMM under its watch. May sleep. */
int vsock_shm_pin_extent(struct vsock_shm_dev *sd, struct vsock_shm_watch *w,
			 u64 hva, u32 n, struct page **pages);
/* Records pinned pages as the VM's (-EADDRINUSE: one already is). */
int vsock_shm_pins_record(struct vsock_shm_dev *sd, struct list_head *runs,
			  struct page **pages, u32 n);
/* Forgets, unpins and uncharges a region. May sleep. */
void vsock_shm_pins_release(struct vsock_shm_dev *sd, struct list_head *runs,
			    struct page **pages, u32 filled, u32 total,
			    struct mm_struct *mm);
u32 vsock_shm_count_runs(struct page **pages, u32 n);

#endif /* _VHOST_VSOCK_SHM_PIN_H */
