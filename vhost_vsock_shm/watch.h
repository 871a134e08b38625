/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Revocation when the VMM's memory under a grant changes while the
 * memslots stay (watch.c).
 */
#ifndef _VHOST_VSOCK_SHM_WATCH_H
#define _VHOST_VSOCK_SHM_WATCH_H

#include <linux/types.h>

struct mm_struct;
struct page;
struct vhost_work;
struct vsock_shm_dev;
struct vsock_shm_watch;

/*
 * Watches the VMM's [hva, hva + n pages), whose pages the caller pins into
 * @pages (n entries) after vsock_shm_watch_begin(). Returns the watch or an
 * ERR_PTR.
 */
struct vsock_shm_watch *vsock_shm_watch_start(struct vsock_shm_dev *sd,
					      u64 hva, u32 n,
					      struct page **pages);
/* Before each try at pinning the range. May sleep. */
void vsock_shm_watch_begin(struct vsock_shm_watch *w);
/* Says whether nothing invalidated the range since vsock_shm_watch_begin(). */
bool vsock_shm_watch_pinned_stable(struct vsock_shm_watch *w);
/* Stops watching; may sleep (an invalidation in progress ends first). */
void vsock_shm_watch_stop(struct vsock_shm_watch *w);
/*
 * Says whether the VMM still maps the watched pages, if the watch saw the
 * range invalidated since the last call; true otherwise. May sleep.
 */
bool vsock_shm_watch_still_mapped(struct vsock_shm_watch *w);
/* The device's vhost work that rechecks after an invalidation. */
void vsock_shm_watch_work(struct vhost_work *work);

#endif /* _VHOST_VSOCK_SHM_WATCH_H */
