/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Grants: the host pages of one shared region, pinned for one connection
 * (conn.h) by pin.c.
 *
 * A grant is created by the first GPA_LIST chunk of a region, filled chunk
 * by chunk in the vhost worker, complete after the last one, and revoked
 * when the guest frees the region, the connection ends or the device goes
 * away (enum vshm_revoke_reason says which). Revocation zaps every mapping
 * of the grant before the pages are unpinned; later accesses to the
 * mapping get SIGBUS. Then the grant's watchers are told, with the reason.
 */
#ifndef _VHOST_VSOCK_SHM_GRANT_H
#define _VHOST_VSOCK_SHM_GRANT_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include "uapi/vsock_shm.h"

struct seq_file;
struct sock;
struct socket;
struct vsock_shm_conn;
struct vsock_shm_dev;
struct vsock_shm_pkt;
struct vsock_shm_watch;
struct vsock_shm_grant_watcher;

/* Grant ids are 1..2^31-1; each owns 2 GiB of mapper file offsets. */
#define VSOCK_SHM_GRANT_ID_MAX		0x7fffffffU
#define VSOCK_SHM_GRANT_MAP_SHIFT	31
#define VSOCK_SHM_GRANT_MAX_PAGES	(1U << (VSOCK_SHM_GRANT_MAP_SHIFT - PAGE_SHIFT))
/* The page of its grant a mapping's vm_pgoff names. */
#define VSOCK_SHM_GRANT_PGOFF_MASK	(VSOCK_SHM_GRANT_MAX_PAGES - 1UL)

enum vsock_shm_grant_state {
	VSOCK_SHM_GRANT_FILLING,	/* chunks still expected */
	VSOCK_SHM_GRANT_COMPLETE,	/* mappable */
	VSOCK_SHM_GRANT_REVOKED,	/* unmapped, unpinned */
};

struct vsock_shm_grant {
	struct kref ref;
	u32 id;
	u32 cid;			/* immutable after creation: */
	u32 guest_port;
	u32 host_port;
	u32 region;
	u32 access;			/* VSHM_ACCESS_* */
	u32 nr_pages;
	struct page **pages;		/* nr_pages entries, @filled pinned */
	struct mm_struct *vmm_mm;	/* charged for the pins (mmgrab) */
	struct sock *sk;		/* the connection's host end (held) */
	pid_t server_pid;		/* last process authorized to map it */

	/* Under vsock_shm_dev.lock: */
	struct list_head conn_node;

	/*
	 * Under @lock. The watchers' callbacks run under it too: it nests
	 * outside every lock a callback takes (the mapper file's event
	 * spinlock and waitqueue lock), never inside.
	 */
	struct mutex lock;
	enum vsock_shm_grant_state state;
	u32 filled;			/* pages pinned so far */
	u32 nr_runs;			/* host-contiguous runs, when complete */
	u64 pin_ns;
	u32 reason;			/* enum vshm_revoke_reason, once revoked */
	bool told;			/* the watchers were told */
	struct list_head watchers;	/* vsock_shm_grant_watcher.node */

	/* Filled by the vhost worker, emptied at revocation: */
	struct list_head runs;		/* struct vsock_shm_run (pin.h) */

	/* Filled and read by the vhost worker only: */
	struct vsock_shm_span *spans;	/* nr_spans of max_spans entries */
	u32 nr_spans;
	u32 max_spans;
};

/*
 * Where the pages of one extent came from: guest-physical range, the VMM
 * address it translated to, and through what (enum vsock_shm_xlat_how).
 * When the guest's memory map changes, each span is translated again; a
 * grant with a span that no longer lands at the same VMM address is
 * revoked (memmap.c).
 */
struct vsock_shm_span {
	u64 gpa;
	u64 hva;
	u32 nr_pages;
	u32 how;
	struct vsock_shm_watch *watch;	/* the VMM's range (watch.c) */
};

int vsock_shm_grant_chunk(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			  struct vsock_shm_pkt *pkt, u32 *grant_id, u32 *detail);
int vsock_shm_grant_free(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			 u32 region, u32 reason);

/* Says whether a span still translates to its VMM address. */
typedef bool (*vsock_shm_span_check_t)(void *arg,
				       const struct vsock_shm_span *span);
u32 vsock_shm_grants_recheck(struct vsock_shm_dev *sd,
			     vsock_shm_span_check_t check, void *arg,
			     struct list_head *dead);
void vsock_shm_grants_revoke(struct vsock_shm_dev *sd, struct list_head *dead,
			     u32 reason);
/* Revokes grants whose pages the VMM no longer maps; returns how many. */
u32 vsock_shm_grants_recheck_watches(struct vsock_shm_dev *sd);
/* Called on each span of a grant after it was revoked. */
typedef void (*vsock_shm_span_fn_t)(void *arg,
				    const struct vsock_shm_span *span);
u32 vsock_shm_grants_revoke_all(struct vsock_shm_dev *sd, u32 reason,
				vsock_shm_span_fn_t done, void *arg);

/* For the mapper module. */
struct address_space *vsock_shm_grant_mapping(void);
struct vsock_shm_grant *vsock_shm_grant_get_for_sock(u32 id,
						     struct socket *sock);
void vsock_shm_grant_put(struct vsock_shm_grant *g);
int vsock_shm_grant_mmap(struct vsock_shm_grant *g, struct vm_area_struct *vma,
			 unsigned long first_page);

/*
 * Who wants to hear of a grant's revocation (the mapper, one per grant a
 * file is authorized for), embedded in the watcher's own object.
 *
 * @revoked is called exactly once per vsock_shm_grant_watch(), with the
 * enum vshm_revoke_reason: when the grant's revocation is done (every
 * mapping zapped, the pages unpinned), or from vsock_shm_grant_watch()
 * itself if that already happened. Never after vsock_shm_grant_unwatch()
 * returned. It runs under the grant's lock, in process context: it must
 * not sleep, and may take only locks that nest inside the grant's (a
 * spinlock, a waitqueue's), never a grant's lock.
 */
typedef void (*vsock_shm_revoked_fn_t)(struct vsock_shm_grant_watcher *w,
				       u32 reason);

struct vsock_shm_grant_watcher {
	struct list_head node;		/* in vsock_shm_grant.watchers, under
					 * the grant's lock; empty when not
					 * on any
					 */
	vsock_shm_revoked_fn_t revoked;
};

void vsock_shm_grant_watcher_init(struct vsock_shm_grant_watcher *w,
				  vsock_shm_revoked_fn_t revoked);
void vsock_shm_grant_watch(struct vsock_shm_grant *g,
			   struct vsock_shm_grant_watcher *w);
void vsock_shm_grant_unwatch(struct vsock_shm_grant *g,
			     struct vsock_shm_grant_watcher *w);

void vsock_shm_grants_show(struct seq_file *m);
int vsock_shm_grants_init(void);
void vsock_shm_grants_exit(void);

#endif /* _VHOST_VSOCK_SHM_GRANT_H */
