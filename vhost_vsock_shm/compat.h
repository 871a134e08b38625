/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces vhost_vsock_shm uses whose signatures changed
 * between the kernels it supports (Debian's 6.1 and 6.12): one spelling
 * for the module, chosen by kernel version (stable series do not backport
 * these). Behaviour that changed inside a series is handled where it is
 * used, not here.
 */
#ifndef _VHOST_VSOCK_SHM_COMPAT_H
#define _VHOST_VSOCK_SHM_COMPAT_H

#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/virtio_vsock.h>

#include "vhost.h"

/*
 * The target kernel is at least a.b. Stable series do not backport the
 * changes below, so the version tells (checkpatch's LINUX_VERSION_CODE
 * warning is ignored for this out-of-tree module: it builds for several).
 */
#define VSHM_SINCE(a, b)	(KERNEL_VERSION(a, b, 0) <= LINUX_VERSION_CODE)

/* kvrealloc() lost its old size in 6.12. */
static inline void *vsock_shm_kvrealloc(void *p, size_t old_size,
					size_t new_size, gfp_t flags)
{
#if VSHM_SINCE(6, 12)
	return kvrealloc(p, new_size, flags);
#else
	return kvrealloc(p, old_size, new_size, flags);
#endif
}

/* vm_flags became read-only outside vm_flags_set() in 6.3. */
static inline void vsock_shm_vm_flags_set(struct vm_area_struct *vma,
					  unsigned long flags)
{
#if VSHM_SINCE(6, 3)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* The GUP calls lost their vmas argument in 6.5. */
static inline long vsock_shm_pin_user_pages_remote(struct mm_struct *mm,
						   unsigned long start,
						   unsigned long nr_pages,
						   unsigned int gup_flags,
						   struct page **pages)
{
#if VSHM_SINCE(6, 5)
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL);
#else
	return pin_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, NULL);
#endif
}

static inline long vsock_shm_get_user_pages_remote(struct mm_struct *mm,
						   unsigned long start,
						   unsigned long nr_pages,
						   unsigned int gup_flags,
						   struct page **pages)
{
#if VSHM_SINCE(6, 5)
	return get_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL);
#else
	return get_user_pages_remote(mm, start, nr_pages, gup_flags, pages,
				     NULL, NULL);
#endif
}

/* eventfd_signal() lost its count in 6.8. */
static inline void vsock_shm_eventfd_signal(struct eventfd_ctx *ctx)
{
#if VSHM_SINCE(6, 8)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/*
 * Work on the vhost worker that runs the device's TX virtqueue, where the
 * hook runs: since 6.5 each virtqueue names its worker, before that the
 * device had one. vhost-vsock takes no VHOST_NEW_WORKER nor
 * VHOST_ATTACH_VRING_WORKER, so its RX and TX virtqueues always share the
 * one made at VHOST_SET_OWNER (vmm test worker_per_virtqueue_refused).
 */
static inline bool vsock_shm_work_queue(struct vhost_dev *dev,
					struct vhost_work *work)
{
#if VSHM_SINCE(6, 5)
	/* False when the virtqueue has no worker (it was killed). */
	return vhost_vq_work_queue(dev->vqs[VSOCK_VQ_TX], work);
#else
	/* 6.1's worker is a kthread that lives as long as the device. */
	vhost_work_queue(dev, work);
	return true;
#endif
}

/*
 * Kfuncs: since 6.9 a module's set is BTF_KFUNCS_START/END (flagged as
 * kfuncs: registering a plain BTF_SET8 fails with -EINVAL) and each kfunc is
 * __bpf_kfunc (kept whole and not inlined); 6.1 has neither.
 */
#ifndef __bpf_kfunc
#define __bpf_kfunc
#endif
#ifndef BTF_KFUNCS_START
#define BTF_KFUNCS_START(name)	BTF_SET8_START(name)
#define BTF_KFUNCS_END(name)	BTF_SET8_END(name)
#endif

#endif /* _VHOST_VSOCK_SHM_COMPAT_H */
