// SPDX-License-Identifier: GPL-2.0
/*
 * Grants: the host pages of a region of one connection (conn.c), pinned
 * chunk by chunk (pin.c), mapped into servers and revoked.
 *
 * Every mapping of every grant belongs to one address_space of this module
 * (an inode of its own pseudo file system, which mapper files take as their
 * f_mapping); grant N owns its file offsets [N << 31, (N + 1) << 31). A
 * mapping gets its PTEs on its first fault, never in ->mmap, so a PTE
 * exists only in a VMA the address_space already lists. Revocation marks
 * the grant revoked under its lock (a fault after that gets SIGBUS), then
 * unmap_mapping_range() zaps the grant's offsets in every VMA of every
 * process, one being munmap()ed included, and only then are the pages
 * unpinned.
 *
 * Every revocation has its reason (enum vshm_revoke_reason): whoever ends a
 * grant says why. Once the pages are unpinned, the grant's watchers (the
 * mapper files authorized for it) are told, each exactly once.
 *
 * Locking, outermost first:
 *   vsock_shm_dev.lock	connections, the device's grant lists and counters
 *   socket lock		of a connection's host end
 *   mmap_lock		of the VMM (pinning) or of a server (fault)
 *   vsock_shm_grant.lock	a grant's state, reason and watchers
 *   a watcher's locks	taken by its callback (the mapper file's event
 *			spinlock, then its waitqueue's): never sleep
 * The mapper takes its file's map mutex outside vsock_shm_grant.lock.
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/net.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <net/af_vsock.h>

#include "compat.h"
#include "conn.h"
#include "grant.h"
#include "pin.h"
#include "pkt.h"
#include "stats.h"
#include "watch.h"

static unsigned int max_grants_per_vm = 256;
module_param(max_grants_per_vm, uint, 0644);
MODULE_PARM_DESC(max_grants_per_vm, "live grants one VM may have");

/* Grant id -> grant, for the mapper. Holds one reference per entry. */
static DEFINE_XARRAY_ALLOC1(vsock_shm_grant_ids);
static u32 vsock_shm_grant_next_id;

static const struct vm_operations_struct vsock_shm_grant_vm_ops;

static void grant_release(struct kref *ref)
{
	struct vsock_shm_grant *g = container_of(ref, struct vsock_shm_grant, ref);

	WARN_ON_ONCE(g->state != VSOCK_SHM_GRANT_REVOKED ||
		     !list_empty(&g->watchers));
	sock_put(g->sk);
	mmdrop(g->vmm_mm);
	kvfree(g->spans);
	kvfree(g->pages);
	kfree(g);
}

void vsock_shm_grant_put(struct vsock_shm_grant *g)
{
	kref_put(&g->ref, grant_release);
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_put);

/* The address_space every mapping of a grant belongs to. */
#define VSOCK_SHM_FS_MAGIC	0x7673686d	/* "vshm" */

static struct vfsmount *vsock_shm_mnt;
static struct inode *vsock_shm_inode;

struct address_space *vsock_shm_grant_mapping(void)
{
	return vsock_shm_inode->i_mapping;
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_mapping);

/* Zaps every PTE of @g, in every process that maps it. */
static void grant_zap(struct vsock_shm_grant *g)
{
	unmap_mapping_range(vsock_shm_grant_mapping(),
			    (loff_t)g->id << VSOCK_SHM_GRANT_MAP_SHIFT,
			    (loff_t)g->nr_pages << PAGE_SHIFT, 1);
}

static void grant_unpin(struct vsock_shm_dev *sd, struct vsock_shm_grant *g)
{
	vsock_shm_pins_release(sd, &g->runs, g->pages, g->filled, g->nr_pages,
			       g->vmm_mm);
	g->filled = 0;
	mutex_lock(&sd->lock);
	sd->nr_grants--;
	mutex_unlock(&sd->lock);
}

static void grant_unwatch_spans(struct vsock_shm_grant *g)
{
	u32 i;

	for (i = 0; i < g->nr_spans; i++) {
		vsock_shm_watch_stop(g->spans[i].watch);
		g->spans[i].watch = NULL;
	}
}

void vsock_shm_grant_watcher_init(struct vsock_shm_grant_watcher *w,
				  vsock_shm_revoked_fn_t revoked)
{
	INIT_LIST_HEAD(&w->node);
	w->revoked = revoked;
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_watcher_init);

/*
 * Calls @w->revoked once @g is revoked, or now if its revocation is done
 * already. The caller holds a reference on @g until it unwatches.
 */
void vsock_shm_grant_watch(struct vsock_shm_grant *g,
			   struct vsock_shm_grant_watcher *w)
{
	mutex_lock(&g->lock);
	if (g->told)
		w->revoked(w, g->reason);
	else if (list_empty(&w->node))
		list_add_tail(&w->node, &g->watchers);
	mutex_unlock(&g->lock);
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_watch);

/* After this, @w->revoked is not running and will not be called. */
void vsock_shm_grant_unwatch(struct vsock_shm_grant *g,
			     struct vsock_shm_grant_watcher *w)
{
	mutex_lock(&g->lock);
	list_del_init(&w->node);
	mutex_unlock(&g->lock);
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_unwatch);

/* The revocation of @g is done: tells each watcher, once. */
static void grant_tell(struct vsock_shm_grant *g)
{
	struct vsock_shm_grant_watcher *w, *tmp;

	mutex_lock(&g->lock);
	g->told = true;
	list_for_each_entry_safe(w, tmp, &g->watchers, node) {
		list_del_init(&w->node);
		w->revoked(w, g->reason);
	}
	mutex_unlock(&g->lock);
}

/*
 * Revokes a grant already unlinked from its connection, for @reason (enum
 * vshm_revoke_reason): no new mapping can start, every existing one is
 * zapped, then the pages are unpinned, the grant id is retired and the
 * watchers are told. Drops the connection's reference.
 */
static void grant_revoke(struct vsock_shm_dev *sd, struct vsock_shm_grant *g,
			 u32 reason)
{
	struct vsock_shm_grant *old;

	mutex_lock(&g->lock);
	g->state = VSOCK_SHM_GRANT_REVOKED;
	g->reason = reason;
	mutex_unlock(&g->lock);

	old = xa_erase(&vsock_shm_grant_ids, g->id);
	grant_zap(g);
	grant_unwatch_spans(g);
	grant_unpin(sd, g);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_GRANTS_REVOKED);
	vsock_shm_stat_revoked(reason);
	grant_tell(g);
	if (old)
		vsock_shm_grant_put(old);
	vsock_shm_grant_put(g);
}

static void revoke_list(struct vsock_shm_dev *sd, struct list_head *list,
			u32 reason)
{
	struct vsock_shm_grant *g, *tmp;

	list_for_each_entry_safe(g, tmp, list, conn_node) {
		list_del_init(&g->conn_node);
		grant_revoke(sd, g, reason);
	}
}

/*
 * Moves to @dead every grant of @sd with a span @check no longer vouches
 * for, and returns how many grants were checked. Called in the vhost
 * worker, the only filler of grants: no chunk is half done.
 */
u32 vsock_shm_grants_recheck(struct vsock_shm_dev *sd,
			     vsock_shm_span_check_t check, void *arg,
			     struct list_head *dead)
{
	struct vsock_shm_grant *g, *tmp;
	struct vsock_shm_conn *c;
	u32 checked = 0, i;
	int bkt;

	mutex_lock(&sd->lock);
	hash_for_each(sd->conns, bkt, c, node) {
		list_for_each_entry_safe(g, tmp, &c->grants, conn_node) {
			checked++;
			for (i = 0; i < g->nr_spans; i++)
				if (!check(arg, &g->spans[i]))
					break;
			if (i < g->nr_spans)
				list_move_tail(&g->conn_node, dead);
		}
	}
	mutex_unlock(&sd->lock);
	return checked;
}

/*
 * In the vhost worker, after the VMM's memory under some grant was
 * invalidated (watch.c): revokes every grant with a watched range whose
 * pages the VMM no longer maps at their addresses.
 */
u32 vsock_shm_grants_recheck_watches(struct vsock_shm_dev *sd)
{
	struct vsock_shm_grant *g, *tmp;
	struct vsock_shm_conn *c;
	u32 revoked = 0, i;
	LIST_HEAD(dead);
	int bkt;

	mutex_lock(&sd->lock);
	hash_for_each(sd->conns, bkt, c, node) {
		list_for_each_entry_safe(g, tmp, &c->grants, conn_node) {
			for (i = 0; i < g->nr_spans; i++)
				if (!vsock_shm_watch_still_mapped(g->spans[i].watch))
					break;
			if (i == g->nr_spans)
				continue;
			pr_info_ratelimited("vhost_vsock_shm: cid %u port %u->%u region %u: revoked, the VMM's memory under it changed\n",
					    g->cid, g->guest_port, g->host_port,
					    g->region);
			list_move_tail(&g->conn_node, &dead);
			revoked++;
		}
	}
	mutex_unlock(&sd->lock);
	revoke_list(sd, &dead, VSHM_REVOKE_MEMMAP);
	return revoked;
}

/*
 * Revokes the grants on @dead (put there by vsock_shm_grants_recheck(), or
 * by the end of their connections) for @reason.
 */
void vsock_shm_grants_revoke(struct vsock_shm_dev *sd, struct list_head *dead,
			     u32 reason)
{
	revoke_list(sd, dead, reason);
}

/*
 * Revokes every grant of @sd for @reason, filling or complete, one at a
 * time; once a grant is revoked (nothing maps it any more), calls @done on
 * each of its spans. Returns how many were revoked. Called in the vhost
 * worker, the only filler of grants and writer of their spans.
 */
u32 vsock_shm_grants_revoke_all(struct vsock_shm_dev *sd, u32 reason,
				vsock_shm_span_fn_t done, void *arg)
{
	struct vsock_shm_grant *g;
	struct vsock_shm_conn *c;
	u32 revoked = 0, i;
	int bkt;

	for (;;) {
		g = NULL;
		mutex_lock(&sd->lock);
		/* hash_for_each() is two loops: no break. */
		hash_for_each(sd->conns, bkt, c, node)
			if (!g)
				g = list_first_entry_or_null(&c->grants,
							     struct vsock_shm_grant,
							     conn_node);
		if (g) {
			list_del_init(&g->conn_node);
			kref_get(&g->ref);	/* its spans, past the revocation */
		}
		mutex_unlock(&sd->lock);
		if (!g)
			break;
		grant_revoke(sd, g, reason);
		for (i = 0; i < g->nr_spans; i++)
			done(arg, &g->spans[i]);
		vsock_shm_grant_put(g);
		revoked++;
	}
	return revoked;
}

/* Called with sd->lock held. */
static struct vsock_shm_grant *conn_grant(struct vsock_shm_conn *c, u32 region)
{
	struct vsock_shm_grant *g;

	list_for_each_entry(g, &c->grants, conn_node)
		if (g->region == region)
			return g;
	return NULL;
}

/* Revokes the grant of region @region of @c, if any, for @reason. */
int vsock_shm_grant_free(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			 u32 region, u32 reason)
{
	struct vsock_shm_grant *g;

	mutex_lock(&sd->lock);
	g = conn_grant(c, region);
	if (g)
		list_del_init(&g->conn_node);
	mutex_unlock(&sd->lock);
	if (!g)
		return -ENOENT;
	grant_revoke(sd, g, reason);
	return 0;
}

/*
 * Called with sd->lock held. Returns a new grant, charged the region's whole
 * size, or an ERR_PTR: -EDQUOT over a limit of the module, -ENOLCK over the
 * VMM's RLIMIT_MEMLOCK, -ENOMEM.
 */
static struct vsock_shm_grant *grant_create(struct vsock_shm_dev *sd,
					    struct vsock_shm_conn *c,
					    const struct vsock_shm_pkt *pkt)
{
	u32 total = pkt->info.total_pages;
	struct vsock_shm_grant *g;
	int ret;

	if (sd->nr_grants >= max_grants_per_vm ||
	    total > VSOCK_SHM_GRANT_MAX_PAGES)
		return ERR_PTR(-EDQUOT);
	ret = vsock_shm_pins_fit(sd, total);
	if (ret)
		return ERR_PTR(ret);
	ret = -ENOMEM;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return ERR_PTR(-ENOMEM);
	g->pages = kvcalloc(total, sizeof(*g->pages), GFP_KERNEL_ACCOUNT);
	if (!g->pages)
		goto out_free;
	kref_init(&g->ref);
	mutex_init(&g->lock);
	INIT_LIST_HEAD(&g->runs);
	INIT_LIST_HEAD(&g->watchers);
	g->cid = sd->cid;
	g->guest_port = c->guest_port;
	g->host_port = c->host_port;
	g->region = pkt->info.region;
	g->access = VSHM_ACCESS_READ | VSHM_ACCESS_WRITE;
	g->nr_pages = total;
	g->state = VSOCK_SHM_GRANT_FILLING;
	g->vmm_mm = sd->mm;
	mmgrab(g->vmm_mm);
	g->sk = c->sk;
	sock_hold(g->sk);

	ret = xa_alloc_cyclic(&vsock_shm_grant_ids, &g->id, g,
			      XA_LIMIT(1, VSOCK_SHM_GRANT_ID_MAX),
			      &vsock_shm_grant_next_id, GFP_KERNEL);
	if (ret < 0)
		goto out_drop;
	kref_get(&g->ref);	/* the id's reference */
	list_add_tail(&g->conn_node, &c->grants);
	c->shared = true;
	sd->nr_grants++;
	/* The whole region is charged now: no chunk can go past a limit. */
	vsock_shm_pins_charge(sd, total);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_GRANTS_CREATED);
	return g;

out_drop:
	sock_put(g->sk);
	mmdrop(g->vmm_mm);
	kvfree(g->pages);
out_free:
	kfree(g);
	return ERR_PTR(ret);
}

/* Makes room for @more spans in @g. Called by the vhost worker. */
static int grant_reserve_spans(struct vsock_shm_grant *g, u32 more)
{
	u32 want = g->nr_spans + more, max;
	struct vsock_shm_span *spans;

	if (want <= g->max_spans)
		return 0;
	max = max(want, 2 * g->max_spans);
	spans = vsock_shm_kvrealloc(g->spans, g->max_spans * sizeof(*spans),
				    max * sizeof(*spans), GFP_KERNEL_ACCOUNT);
	if (!spans)
		return -ENOMEM;
	g->spans = spans;
	g->max_spans = max;
	return 0;
}

/*
 * Pins the pages of one translated chunk into its region's grant, records
 * them as granted to this VM (a page in two live grants is refused) and
 * rewrites each extent's address to the host-physical address of its first
 * page (0 for a server without CAP_SYS_ADMIN). Returns 0 with *grant_id
 * set, or a negative errno with *detail set (-EBUSY while the VMM logs dirty
 * pages, -EEXIST for a first chunk of a live region, -ENOENT for a later
 * chunk of none, -EPROTO for a chunk out of order, -EDQUOT over a limit, or
 * what pinning and recording return). On an error past those checks the
 * whole region's grant is revoked: the guest must start over.
 */
int vsock_shm_grant_chunk(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			  struct vsock_shm_pkt *pkt, u32 *grant_id, u32 *detail)
{
	const struct vshm_wire_info *info = &pkt->info;
	struct vsock_shm_watch *watch;
	struct vsock_shm_grant *g;
	u64 t0 = ktime_get_ns();
	bool show_hpa;
	u32 i, pos;
	int err = 0;

	*detail = VSHM_NO_INDEX;
	/* The VMM logs dirty pages (migration.c): nothing is shared now. */
	if (READ_ONCE(sd->dirty_log))
		return -EBUSY;
	mutex_lock(&sd->lock);
	g = conn_grant(c, info->region);
	if (info->first_page == 0) {
		if (g)
			err = -EEXIST;
		else
			g = grant_create(sd, c, pkt);
		if (IS_ERR(g))
			err = PTR_ERR(g);
	} else if (!g) {
		err = -ENOENT;
	} else if (g->state != VSOCK_SHM_GRANT_FILLING ||
		   g->filled != info->first_page ||
		   g->nr_pages != info->total_pages) {
		err = -EPROTO;
	}
	if (err) {
		/* The guest is told the limit it went over. */
		if (err == -ENOLCK)
			*detail = vsock_shm_pins_memlock_limit(sd);
		/* Leave a live region of the same id alone. */
		mutex_unlock(&sd->lock);
		return err;
	}
	mutex_unlock(&sd->lock);

	/* Only the vhost worker fills a grant: no lock needed for pages[]. */
	err = grant_reserve_spans(g, info->nr_ext);
	if (err)
		goto out_revoke;
	show_hpa = vsock_shm_conn_shows_hpa(c);
	pos = g->filled;
	for (i = 0; i < info->nr_ext; i++) {
		struct vsock_shm_span *span;
		u64 gpa;
		u32 n;

		vshm_wire_ext_get(info->ext, i, &gpa, &n);
		watch = vsock_shm_watch_start(sd, pkt->hva[i], n, g->pages + pos);
		if (IS_ERR(watch)) {
			err = PTR_ERR(watch);
			*detail = i;
			goto out_revoke;
		}
		err = vsock_shm_pin_extent(sd, watch, pkt->hva[i], n,
					   g->pages + pos);
		if (!err) {
			err = vsock_shm_pins_record(sd, &g->runs, g->pages + pos, n);
			/* Not recorded, so not the grant's: unpin them here. */
			if (err)
				unpin_user_pages(g->pages + pos, n);
		}
		if (err) {
			vsock_shm_watch_stop(watch);
			*detail = i;
			goto out_revoke;
		}
		vshm_wire_ext_set_addr((void *)info->ext, i, show_hpa ?
				       page_to_phys(g->pages[pos]) : 0);
		span = &g->spans[g->nr_spans++];
		span->gpa = gpa;
		span->hva = pkt->hva[i];
		span->nr_pages = n;
		span->how = pkt->ctx.xlat_how;
		span->watch = watch;
		pos += n;
		g->filled = pos;
	}

	mutex_lock(&g->lock);
	g->pin_ns += ktime_get_ns() - t0;
	if (info->last) {
		g->nr_runs = vsock_shm_count_runs(g->pages, g->nr_pages);
		g->state = VSOCK_SHM_GRANT_COMPLETE;
	}
	mutex_unlock(&g->lock);
	*grant_id = g->id;
	return 0;

out_revoke:
	mutex_lock(&sd->lock);
	list_del_init(&g->conn_node);
	mutex_unlock(&sd->lock);
	grant_revoke(sd, g, VSHM_REVOKE_REFUSED);
	return err;
}

/*
 * The mapper's lookup: a reference on complete grant @id, if @sock is the
 * host end of the grant's connection on this module's transport.
 */
struct vsock_shm_grant *vsock_shm_grant_get_for_sock(u32 id,
						     struct socket *sock)
{
	struct vsock_shm_grant *g;
	struct sock *sk = sock->sk;
	bool ok;

	if (!sk || sk->sk_family != AF_VSOCK)
		return ERR_PTR(-ENOTSOCK);
	xa_lock(&vsock_shm_grant_ids);
	g = xa_load(&vsock_shm_grant_ids, id);
	if (g && !kref_get_unless_zero(&g->ref))
		g = NULL;
	xa_unlock(&vsock_shm_grant_ids);
	if (!g)
		return ERR_PTR(-ENOENT);

	/* That very socket, not another with the same addresses. */
	lock_sock(sk);
	ok = sk == g->sk && sk->sk_state == TCP_ESTABLISHED;
	release_sock(sk);
	if (!ok) {
		vsock_shm_grant_put(g);
		return ERR_PTR(-EACCES);
	}
	mutex_lock(&g->lock);
	ok = g->state == VSOCK_SHM_GRANT_COMPLETE;
	mutex_unlock(&g->lock);
	if (!ok) {
		vsock_shm_grant_put(g);
		return ERR_PTR(-EAGAIN);
	}
	return g;
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_get_for_sock);

static void grant_vm_open(struct vm_area_struct *vma)
{
	struct vsock_shm_grant *g = vma->vm_private_data;

	kref_get(&g->ref);
}

static void grant_vm_close(struct vm_area_struct *vma)
{
	vsock_shm_grant_put(vma->vm_private_data);
}

/*
 * The first access to a mapping maps all of it (one fault, not one per
 * page). Under the grant lock: a revocation either comes first (SIGBUS)
 * or finds these PTEs to zap.
 */
static vm_fault_t grant_vm_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct vsock_shm_grant *g = vma->vm_private_data;
	unsigned long first = vma->vm_pgoff & VSOCK_SHM_GRANT_PGOFF_MASK;
	unsigned long i, n = vma_pages(vma);
	vm_fault_t ret = VM_FAULT_SIGBUS;

	mutex_lock(&g->lock);
	if (g->state != VSOCK_SHM_GRANT_COMPLETE || first + n > g->nr_pages)
		goto out_unlock;
	for (i = 0; i < n; i++) {
		ret = vmf_insert_pfn(vma, vma->vm_start + (i << PAGE_SHIFT),
				     page_to_pfn(g->pages[first + i]));
		if (ret != VM_FAULT_NOPAGE)
			break;
	}
out_unlock:
	mutex_unlock(&g->lock);
	return ret;
}

static const struct vm_operations_struct vsock_shm_grant_vm_ops = {
	.open = grant_vm_open,
	.close = grant_vm_close,
	.fault = grant_vm_fault,
};

/*
 * Sets up @vma to map pages [first_page, first_page + vma size) of a
 * complete grant, from the mapper's ->mmap (the file's f_mapping is the
 * grants' address_space). Nothing is mapped before the first fault.
 */
int vsock_shm_grant_mmap(struct vsock_shm_grant *g, struct vm_area_struct *vma,
			 unsigned long first_page)
{
	unsigned long n = vma_pages(vma);
	int ret = 0;

	if (first_page > g->nr_pages || n > g->nr_pages - first_page)
		return -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_file->f_mapping != vsock_shm_grant_mapping())
		return -EINVAL;

	mutex_lock(&g->lock);
	if (g->state != VSOCK_SHM_GRANT_COMPLETE)
		ret = -ENODEV;
	mutex_unlock(&g->lock);
	if (ret)
		return ret;

	kref_get(&g->ref);
	vsock_shm_vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTCOPY |
			       VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_private_data = g;
	vma->vm_ops = &vsock_shm_grant_vm_ops;
	return 0;
}
EXPORT_SYMBOL_GPL(vsock_shm_grant_mmap);

static const char *grant_state_name(enum vsock_shm_grant_state state)
{
	switch (state) {
	case VSOCK_SHM_GRANT_FILLING:
		return "filling";
	case VSOCK_SHM_GRANT_COMPLETE:
		return "complete";
	default:
		return "revoked";
	}
}

/* One line per live grant: id cid guest_port host_port region pages state pid */
void vsock_shm_grants_show(struct seq_file *m)
{
	struct vsock_shm_grant *g;
	unsigned long id;

	xa_lock(&vsock_shm_grant_ids);
	xa_for_each(&vsock_shm_grant_ids, id, g)
		seq_printf(m, "%u %u %u %u %u %u %s %d\n", g->id, g->cid,
			   g->guest_port, g->host_port, g->region, g->nr_pages,
			   grant_state_name(READ_ONCE(g->state)),
			   READ_ONCE(g->server_pid));
	xa_unlock(&vsock_shm_grant_ids);
}

static int vsock_shm_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, VSOCK_SHM_FS_MAGIC) ? 0 : -ENOMEM;
}

/* No .owner: the module's own mount would keep it loaded for ever. */
static struct file_system_type vsock_shm_fs_type = {
	.name			= "vsock_shm_grants",
	.init_fs_context	= vsock_shm_fs_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int vsock_shm_grants_init(void)
{
	int ret;

	vsock_shm_mnt = kern_mount(&vsock_shm_fs_type);
	if (IS_ERR(vsock_shm_mnt))
		return PTR_ERR(vsock_shm_mnt);
	vsock_shm_inode = alloc_anon_inode(vsock_shm_mnt->mnt_sb);
	if (IS_ERR(vsock_shm_inode)) {
		ret = PTR_ERR(vsock_shm_inode);
		goto out_unmount;
	}
	return 0;

out_unmount:
	kern_unmount(vsock_shm_mnt);
	return ret;
}

void vsock_shm_grants_exit(void)
{
	WARN_ON(!xa_empty(&vsock_shm_grant_ids));
	iput(vsock_shm_inode);
	kern_unmount(vsock_shm_mnt);
}
