// SPDX-License-Identifier: GPL-2.0
/*
 * Grants: pinning, mapping and revocation of the host pages of a region.
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
 * Locking, outermost first:
 *   vsock_shm_dev.lock	connections, the device's grant lists and counters
 *   socket lock		of a connection's host end
 *   mmap_lock		of the VMM (pinning) or of a server (fault)
 *   vsock_shm_grant.lock	a grant's state
 */
#include <linux/hashtable.h>
#include <linux/capability.h>
#include <linux/hugetlb.h>
#include <linux/ktime.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/net.h>
#include <linux/pseudo_fs.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/virtio_vsock.h>
#include <linux/xarray.h>
#include <net/af_vsock.h>

#include "grant.h"
#include "pkt.h"
#include "stats.h"
#include "watch.h"

static unsigned int max_pages_per_vm = 1U << 19;	/* 2 GiB */
module_param(max_pages_per_vm, uint, 0644);
MODULE_PARM_DESC(max_pages_per_vm, "4 KiB pages one VM may have pinned in grants");

static unsigned int max_grants_per_vm = 256;
module_param(max_grants_per_vm, uint, 0644);
MODULE_PARM_DESC(max_grants_per_vm, "live grants one VM may have");

static unsigned int max_conns_per_vm = 256;
module_param(max_conns_per_vm, uint, 0644);
MODULE_PARM_DESC(max_conns_per_vm, "tracked SOCK_SEQPACKET connections per VM");

/* Grant id -> grant, for the mapper. Holds one reference per entry. */
static DEFINE_XARRAY_ALLOC1(vsock_shm_grant_ids);
static u32 vsock_shm_grant_next_id;

static const struct vm_operations_struct vsock_shm_grant_vm_ops;

/* This module's transport: connection resets go through it. */
static struct virtio_transport *vsock_shm_transport;

void vsock_shm_conn_set_transport(struct virtio_transport *t)
{
	vsock_shm_transport = t;
}

static u32 conn_key(u32 guest_port, u32 host_port)
{
	return guest_port ^ (host_port * 0x9e3779b1U);
}

/*
 * The host end of connection (cid, guest_port) -> host_port on this
 * module's transport, held; NULL if the host has no such socket.
 */
static struct sock *conn_host_sock(u32 cid, u32 guest_port, u32 host_port)
{
	struct sockaddr_vm guest, host;
	struct sock *sk;

	vsock_addr_init(&guest, cid, guest_port);
	vsock_addr_init(&host, VMADDR_CID_HOST, host_port);
	sk = vsock_find_connected_socket(&guest, &host);
	if (sk && vsock_sk(sk)->transport != &vsock_shm_transport->transport) {
		sock_put(sk);
		sk = NULL;
	}
	return sk;
}

/*
 * Called with sd->lock held. A new connection is tracked only with its host
 * socket: without one there is nothing its grants could belong to.
 */
struct vsock_shm_conn *vsock_shm_conn_find(struct vsock_shm_dev *sd,
					   u32 guest_port, u32 host_port,
					   bool create)
{
	struct vsock_shm_conn *c;
	struct sock *sk;

	lockdep_assert_held(&sd->lock);
	hash_for_each_possible(sd->conns, c, node, conn_key(guest_port, host_port))
		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
	if (!create || sd->nr_conns >= max_conns_per_vm)
		return NULL;
	sk = conn_host_sock(sd->cid, guest_port, host_port);
	if (!sk)
		return NULL;
	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c) {
		sock_put(sk);
		return NULL;
	}
	c->sk = sk;
	c->guest_port = guest_port;
	c->host_port = host_port;
	INIT_LIST_HEAD(&c->grants);
	hash_add(sd->conns, &c->node, conn_key(guest_port, host_port));
	WRITE_ONCE(sd->nr_conns, sd->nr_conns + 1);
	return c;
}

/*
 * Called with sd->lock held: moves @c off the device onto @gone and its
 * grants onto @dead.
 */
static void conn_unlink(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			struct hlist_head *gone, struct list_head *dead)
{
	list_splice_init(&c->grants, dead);
	hash_del(&c->node);
	hlist_add_head(&c->node, gone);
	WRITE_ONCE(sd->nr_conns, sd->nr_conns - 1);
}

/*
 * Ends the host end of @c as the guest's RST would: its reader sees the
 * connection end. Goes through the transport's own receive path, so the
 * socket is closed exactly as by a packet. Called with no lock held.
 */
static void conn_reset(struct vsock_shm_conn *c)
{
	struct vsock_sock *vsk = vsock_sk(c->sk);
	struct virtio_vsock_hdr *hdr;
	struct sk_buff *skb;

	/* Without memory the server's connection stays open: nothing shared. */
	skb = virtio_vsock_alloc_skb(VIRTIO_VSOCK_SKB_HEADROOM, GFP_KERNEL);
	if (!skb)
		return;
	hdr = virtio_vsock_hdr(skb);
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = cpu_to_le64(vsk->remote_addr.svm_cid);
	hdr->src_port = cpu_to_le32(vsk->remote_addr.svm_port);
	hdr->dst_cid = cpu_to_le64(VMADDR_CID_HOST);
	hdr->dst_port = cpu_to_le32(vsk->local_addr.svm_port);
	hdr->type = cpu_to_le16(c->sk->sk_type == SOCK_SEQPACKET ?
				VIRTIO_VSOCK_TYPE_SEQPACKET :
				VIRTIO_VSOCK_TYPE_STREAM);
	hdr->op = cpu_to_le16(VIRTIO_VSOCK_OP_RST);
	virtio_transport_recv_pkt(vsock_shm_transport, skb);
}

/*
 * Frees the connections on @gone (their grants already revoked); with
 * @reset, the host end of each that held a grant is reset first.
 */
static void conns_free(struct hlist_head *gone, bool reset)
{
	struct vsock_shm_conn *c;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(c, tmp, gone, node) {
		hlist_del(&c->node);
		if (reset && c->shared)
			conn_reset(c);
		sock_put(c->sk);
		kfree(c);
	}
}

static void grant_release(struct kref *ref)
{
	struct vsock_shm_grant *g = container_of(ref, struct vsock_shm_grant, ref);

	WARN_ON_ONCE(g->state != VSOCK_SHM_GRANT_REVOKED);
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
	struct vsock_shm_run *run, *tmp;

	mutex_lock(&sd->lock);
	list_for_each_entry_safe(run, tmp, &g->runs, node) {
		interval_tree_remove(&run->it, &sd->pfns);
		list_del(&run->node);
		kfree(run);
	}
	sd->pinned_pages -= g->filled;
	sd->reserved_pages -= g->nr_pages;
	sd->nr_grants--;
	mutex_unlock(&sd->lock);

	unpin_user_pages_dirty_lock(g->pages, g->filled, true);
	atomic64_sub(g->nr_pages, &g->vmm_mm->pinned_vm);
	vsock_shm_stat_add(VSOCK_SHM_STAT_PAGES_UNPINNED, g->filled);
	g->filled = 0;
}

static void grant_unwatch(struct vsock_shm_grant *g)
{
	u32 i;

	for (i = 0; i < g->nr_spans; i++) {
		vsock_shm_watch_stop(g->spans[i].watch);
		g->spans[i].watch = NULL;
	}
}

/*
 * Revokes a grant already unlinked from its connection: no new mapping can
 * start, every existing one is zapped, then the pages are unpinned and the
 * grant id is retired. Drops the connection's reference.
 */
static void grant_revoke(struct vsock_shm_dev *sd, struct vsock_shm_grant *g)
{
	struct vsock_shm_grant *old;

	mutex_lock(&g->lock);
	g->state = VSOCK_SHM_GRANT_REVOKED;
	mutex_unlock(&g->lock);

	old = xa_erase(&vsock_shm_grant_ids, g->id);
	grant_zap(g);
	grant_unwatch(g);
	grant_unpin(sd, g);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_GRANTS_REVOKED);
	if (old)
		vsock_shm_grant_put(old);
	vsock_shm_grant_put(g);
}

static void revoke_list(struct vsock_shm_dev *sd, struct list_head *list)
{
	struct vsock_shm_grant *g, *tmp;

	list_for_each_entry_safe(g, tmp, list, conn_node) {
		list_del_init(&g->conn_node);
		grant_revoke(sd, g);
	}
}

void vsock_shm_conn_close(struct vsock_shm_dev *sd, u32 guest_port,
			  u32 host_port)
{
	struct vsock_shm_conn *c;
	HLIST_HEAD(gone);
	LIST_HEAD(dead);

	mutex_lock(&sd->lock);
	c = vsock_shm_conn_find(sd, guest_port, host_port, false);
	if (c)
		conn_unlink(sd, c, &gone, &dead);
	mutex_unlock(&sd->lock);
	revoke_list(sd, &dead);
	conns_free(&gone, false);
}

/*
 * Ends every connection of @sd and revokes its grants: the device stopped,
 * changed its CID or is going away. With @reset, the host end of each that
 * shared is reset: its guest can no longer be heard on it.
 */
void vsock_shm_conn_close_all(struct vsock_shm_dev *sd, bool reset)
{
	struct vsock_shm_conn *c;
	struct hlist_node *tmp;
	HLIST_HEAD(gone);
	LIST_HEAD(dead);
	int bkt;

	mutex_lock(&sd->lock);
	hash_for_each_safe(sd->conns, bkt, tmp, c, node)
		conn_unlink(sd, c, &gone, &dead);
	mutex_unlock(&sd->lock);
	revoke_list(sd, &dead);
	conns_free(&gone, reset);
}

/* Was the host end of @c closed by its holder? */
static bool conn_sock_released(struct vsock_shm_conn *c)
{
	bool released;

	/* A release holds the socket lock until the socket is orphaned. */
	lock_sock(c->sk);
	released = sock_flag(c->sk, SOCK_DEAD);
	release_sock(c->sk);
	return released;
}

/*
 * Ends the connections whose host socket was closed, whether or not the
 * guest heard of it (it may withhold its RX buffers). In the vhost worker,
 * after the transport's release of one of this device's sockets.
 */
void vsock_shm_conn_reap(struct vsock_shm_dev *sd)
{
	struct vsock_shm_conn *c;
	struct hlist_node *tmp;
	HLIST_HEAD(gone);
	LIST_HEAD(dead);
	int bkt;

	mutex_lock(&sd->lock);
	hash_for_each_safe(sd->conns, bkt, tmp, c, node)
		if (conn_sock_released(c))
			conn_unlink(sd, c, &gone, &dead);
	mutex_unlock(&sd->lock);
	revoke_list(sd, &dead);
	conns_free(&gone, false);
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
	revoke_list(sd, &dead);
	return revoked;
}

/* Revokes the grants vsock_shm_grants_recheck() put on @dead. */
void vsock_shm_grants_revoke(struct vsock_shm_dev *sd, struct list_head *dead)
{
	revoke_list(sd, dead);
}

/*
 * Revokes every grant of @sd, filling or complete, one at a time; once a
 * grant is revoked (nothing maps it any more), calls @done on each of its
 * spans. Returns how many were revoked. Called in the vhost worker, the
 * only filler of grants and writer of their spans.
 */
u32 vsock_shm_grants_revoke_all(struct vsock_shm_dev *sd,
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
		grant_revoke(sd, g);
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

int vsock_shm_grant_free(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			 u32 region)
{
	struct vsock_shm_grant *g;

	mutex_lock(&sd->lock);
	g = conn_grant(c, region);
	if (g)
		list_del_init(&g->conn_node);
	mutex_unlock(&sd->lock);
	if (!g)
		return -ENOENT;
	grant_revoke(sd, g);
	return 0;
}

/*
 * Says whether @total more pages fit the VM's limits: the module's page and
 * grant quotas and the VMM's RLIMIT_MEMLOCK (unless it has CAP_IPC_LOCK).
 * A region is charged its whole declared size when it is created, so every
 * later chunk fits. Called with sd->lock held.
 */
static bool grant_fits(struct vsock_shm_dev *sd, u32 total)
{
	u64 locked;

	if (sd->nr_grants >= max_grants_per_vm ||
	    total > VSOCK_SHM_GRANT_MAX_PAGES ||
	    sd->reserved_pages + total > max_pages_per_vm)
		return false;
	if (sd->ipc_lock)
		return true;
	locked = atomic64_read(&sd->mm->pinned_vm);
	if (locked + total <= sd->memlock_pages)
		return true;
	pr_info_ratelimited("vhost_vsock_shm: cid %u: a region of %u pages does not fit the VMM's RLIMIT_MEMLOCK (%lu pages, %llu locked)\n",
			    sd->cid, total, sd->memlock_pages, locked);
	return false;
}

/* Called with sd->lock held. Returns a new grant or NULL with *err set. */
static struct vsock_shm_grant *grant_create(struct vsock_shm_dev *sd,
					    struct vsock_shm_conn *c,
					    const struct vsock_shm_pkt *pkt,
					    int *err)
{
	u32 total = pkt->info.total_pages;
	struct vsock_shm_grant *g;
	int ret;

	if (!grant_fits(sd, total)) {
		*err = VSHM_E_QUOTA;
		return NULL;
	}
	*err = VSHM_E_NOMEM;
	g = kzalloc(sizeof(*g), GFP_KERNEL_ACCOUNT);
	if (!g)
		return NULL;
	g->pages = kvcalloc(total, sizeof(*g->pages), GFP_KERNEL_ACCOUNT);
	if (!g->pages)
		goto out_free;
	kref_init(&g->ref);
	mutex_init(&g->lock);
	INIT_LIST_HEAD(&g->runs);
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
	sd->reserved_pages += total;
	atomic64_add(total, &g->vmm_mm->pinned_vm);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_GRANTS_CREATED);
	*err = 0;
	return g;

out_drop:
	sock_put(g->sk);
	mmdrop(g->vmm_mm);
	kvfree(g->pages);
out_free:
	kfree(g);
	return NULL;
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

/* Pins n pages of the VMM at hva into pages[]. Returns 0 or -errno. */
static int pin_extent(struct mm_struct *mm, u64 hva, u32 n,
		      struct page **pages)
{
	u32 done = 0;
	long got = 0;

	mmap_read_lock(mm);
	if (!extent_pinnable(mm, hva, n)) {
		mmap_read_unlock(mm);
		return -EOPNOTSUPP;
	}
	while (done < n) {
		got = pin_user_pages_remote(mm, hva + ((u64)done << PAGE_SHIFT),
					    n - done, FOLL_WRITE | FOLL_LONGTERM,
					    pages + done, NULL, NULL);
		if (got <= 0)
			break;
		done += got;
	}
	mmap_read_unlock(mm);
	if (done == n)
		return 0;
	unpin_user_pages(pages, done);
	return got < 0 ? (int)got : -EFAULT;
}

/*
 * Does the process that holds the host end of @c see host-physical
 * addresses? As /proc/PID/pagemap shows PFNs: only with CAP_SYS_ADMIN (in
 * the initial user namespace) of the socket's opener. A socket no process
 * has accepted yet shows none. The mapping works the same without them.
 */
static bool conn_shows_hpa(struct vsock_shm_conn *c)
{
	struct socket *sock;
	bool show = false;

	read_lock_bh(&c->sk->sk_callback_lock);
	sock = c->sk->sk_socket;
	if (sock && sock->file)
		show = file_ns_capable(sock->file, &init_user_ns, CAP_SYS_ADMIN);
	read_unlock_bh(&c->sk->sk_callback_lock);
	return show;
}

/* Tries at pinning an extent that something else keeps invalidating. */
#define PIN_TRIES	3

/*
 * Pins an extent under its watch: if the VMM's range was invalidated while
 * it was pinned (pinning can break COW or migrate pages itself), the pages
 * may already be stale and it is pinned again. Returns 0 or an enum vshm_err.
 */
static int pin_watched(struct vsock_shm_dev *sd, struct vsock_shm_watch *w,
		       u64 hva, u32 n, struct page **pages)
{
	int tries;

	for (tries = 0; tries < PIN_TRIES; tries++) {
		vsock_shm_watch_begin(w);
		if (pin_extent(sd->mm, hva, n, pages))
			return VSHM_E_PIN;
		if (vsock_shm_watch_pinned_stable(w))
			return 0;
		unpin_user_pages(pages, n);
	}
	return VSHM_E_BUSY;
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
 * Records pages[0..n) of @g as pinned for this VM, one tree node per run.
 * Called with sd->lock held. Returns 0, VSHM_E_DUP if a page is already in
 * a live grant of the VM (this one included), or VSHM_E_NOMEM. On error
 * nothing of this call is recorded.
 */
static int record_runs(struct vsock_shm_dev *sd, struct vsock_shm_grant *g,
		       struct page **pages, u32 n)
{
	struct vsock_shm_run *run, *tmp;
	LIST_HEAD(added);
	u32 i, len;
	int err = 0;

	for (i = 0; i < n && !err; i += len) {
		unsigned long pfn = page_to_pfn(pages[i]);

		len = run_len(pages + i, n - i);
		if (interval_tree_iter_first(&sd->pfns, pfn, pfn + len - 1)) {
			err = VSHM_E_DUP;
			break;
		}
		run = kmalloc(sizeof(*run), GFP_KERNEL_ACCOUNT);
		if (!run) {
			err = VSHM_E_NOMEM;
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
		return err;
	}
	list_splice_tail(&added, &g->runs);
	return 0;
}

/* Makes room for @more spans in @g. Called by the vhost worker. */
static int grant_reserve_spans(struct vsock_shm_grant *g, u32 more)
{
	u32 want = g->nr_spans + more, max;
	struct vsock_shm_span *spans;

	if (want <= g->max_spans)
		return 0;
	max = max(want, 2 * g->max_spans);
	spans = kvrealloc(g->spans, g->max_spans * sizeof(*spans),
			  max * sizeof(*spans), GFP_KERNEL_ACCOUNT);
	if (!spans)
		return -ENOMEM;
	g->spans = spans;
	g->max_spans = max;
	return 0;
}

static u32 count_runs(struct page **pages, u32 n)
{
	u32 i, runs = n ? 1 : 0;

	for (i = 1; i < n; i++)
		if (page_to_pfn(pages[i]) != page_to_pfn(pages[i - 1]) + 1)
			runs++;
	return runs;
}

/*
 * Pins the pages of one translated chunk into its region's grant, records
 * them as granted to this VM (a page in two live grants is refused) and
 * rewrites each extent's address to the host-physical address of its first
 * page (0 for a server without CAP_SYS_ADMIN). Returns 0 with *grant_id
 * set, or an enum vshm_err with *detail set. On error the whole region's
 * grant is revoked: the guest must start over.
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
		return VSHM_E_BUSY;
	mutex_lock(&sd->lock);
	g = conn_grant(c, info->region);
	if (info->first_page == 0) {
		if (g)
			err = VSHM_E_EXISTS;
		else
			g = grant_create(sd, c, pkt, &err);
	} else if (!g) {
		err = VSHM_E_NOREGION;
	} else if (g->state != VSOCK_SHM_GRANT_FILLING ||
		   g->filled != info->first_page ||
		   g->nr_pages != info->total_pages) {
		err = VSHM_E_ORDER;
	}
	if (err) {
		/* Leave a live region of the same id alone. */
		mutex_unlock(&sd->lock);
		return err;
	}
	mutex_unlock(&sd->lock);

	/* Only the vhost worker fills a grant: no lock needed for pages[]. */
	if (grant_reserve_spans(g, info->nr_ext)) {
		err = VSHM_E_NOMEM;
		goto out_revoke;
	}
	show_hpa = conn_shows_hpa(c);
	pos = g->filled;
	for (i = 0; i < info->nr_ext; i++) {
		struct vsock_shm_span *span;
		u64 gpa;
		u32 n;

		vshm_wire_ext_get(info->ext, i, &gpa, &n);
		watch = vsock_shm_watch_start(sd, pkt->hva[i], n, g->pages + pos);
		if (IS_ERR(watch)) {
			err = VSHM_E_NOMEM;
			*detail = i;
			goto out_revoke;
		}
		err = pin_watched(sd, watch, pkt->hva[i], n, g->pages + pos);
		if (!err) {
			mutex_lock(&sd->lock);
			err = record_runs(sd, g, g->pages + pos, n);
			if (!err)
				sd->pinned_pages += n;
			mutex_unlock(&sd->lock);
			/* Not recorded, so not the grant's: unpin them here. */
			if (err)
				unpin_user_pages(g->pages + pos, n);
		}
		if (err) {
			vsock_shm_watch_stop(watch);
			*detail = i;
			goto out_revoke;
		}
		vsock_shm_stat_add(VSOCK_SHM_STAT_PAGES_PINNED, n);
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
		g->nr_runs = count_runs(g->pages, g->nr_pages);
		g->state = VSOCK_SHM_GRANT_COMPLETE;
	}
	mutex_unlock(&g->lock);
	*grant_id = g->id;
	return 0;

out_revoke:
	mutex_lock(&sd->lock);
	list_del_init(&g->conn_node);
	mutex_unlock(&sd->lock);
	grant_revoke(sd, g);
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
	vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTCOPY | VM_DONTEXPAND |
			 VM_DONTDUMP;
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
