// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_shm_mapper: maps the pages of a grant into a host server process.
 *
 * /dev/vsock-shm-mapper. VSHM_IOC_MAP_GRANT authorizes the open file for one
 * grant, after checking that the caller holds the host end of the grant's
 * connection (the socket fd it passes); mmap() at the offset it returns maps
 * the grant's pages. Nothing else can be mapped: there is no way to name a
 * physical address. A file's authorizations end with VSHM_IOC_UNMAP_GRANT or
 * its release; mappings end with munmap or the grant's revocation, which
 * zaps them through the grants' address_space (the file's f_mapping).
 *
 * Revocation events: each authorization watches its grant (grant.h). Once
 * the grant is revoked, the authorization's event (the grant id and why)
 * is queued on its file, which read(2) hands out, oldest first, and poll(2)
 * reports. A grant is revoked once, so an authorization has at most one
 * event: it is embedded in it, and queueing it allocates nothing and cannot
 * fail. Dropping an authorization (UNMAP_GRANT, release) stops its watch
 * first, then drops its event if unread.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "grant.h"
#include "uapi/vsock_shm.h"

/*
 * Per open file.
 *
 * Locking, outermost first:
 *   @map_lock		an authorization is inserted and watched, or taken
 *			out and unwatched, as one (MAP_GRANT, UNMAP_GRANT)
 *   @read_lock		one reader at a time: an event being copied out is
 *			never handed to a second one
 *   vsock_shm_grant.lock	taken by watch and unwatch; the revocation
 *			callback runs under it (grant.c)
 *   @lock		@events, @seq and every mapper_grant's event
 *   @wait's lock
 * @grants has its own lock: an entry is freed only after it left the
 * xarray, and only by the one who took it out (UNMAP_GRANT, release).
 */
struct mapper_file {
	struct xarray grants;		/* grant id -> struct mapper_grant */
	struct mutex map_lock;		/* authorizations made and ended */
	struct mutex read_lock;		/* one reader at a time */
	spinlock_t lock;		/* the events */
	struct list_head events;	/* mapper_grant.event, oldest first */
	u64 seq;			/* events queued so far */
	wait_queue_head_t wait;		/* readers and pollers */
};

/* One grant the file is authorized for. */
struct mapper_grant {
	struct vsock_shm_grant *g;	/* a reference */
	struct mapper_file *mf;
	struct vsock_shm_grant_watcher watcher;
	/* Under mapper_file.lock: */
	struct list_head event;		/* in mf->events while unread */
	u64 seq;			/* of the event, unique in the file */
	u32 reason;			/* enum vshm_revoke_reason */
};

/* Events a read copies out at a time (on the stack). */
#define MAPPER_READ_BATCH	8

/* The grant was revoked: queue its event. Under the grant's lock. */
static void mapper_revoked(struct vsock_shm_grant_watcher *w, u32 reason)
{
	struct mapper_grant *mg = container_of(w, struct mapper_grant, watcher);
	struct mapper_file *mf = mg->mf;

	spin_lock(&mf->lock);
	mg->reason = reason;
	mg->seq = ++mf->seq;
	list_add_tail(&mg->event, &mf->events);
	spin_unlock(&mf->lock);
	wake_up_interruptible_poll(&mf->wait, EPOLLIN | EPOLLRDNORM);
}

static bool mapper_pending(struct mapper_file *mf)
{
	bool pending;

	spin_lock(&mf->lock);
	pending = !list_empty(&mf->events);
	spin_unlock(&mf->lock);
	return pending;
}

/*
 * Ends an authorization taken out of mf->grants: no callback after the
 * unwatch, so its event, if unread, can be dropped for good.
 */
static void mapper_grant_drop(struct mapper_file *mf, struct mapper_grant *mg)
{
	vsock_shm_grant_unwatch(mg->g, &mg->watcher);
	spin_lock(&mf->lock);
	list_del_init(&mg->event);
	spin_unlock(&mf->lock);
	vsock_shm_grant_put(mg->g);
	kfree(mg);
}

static int mapper_open(struct inode *inode, struct file *file)
{
	struct mapper_file *mf = kzalloc(sizeof(*mf), GFP_KERNEL);

	if (!mf)
		return -ENOMEM;
	xa_init(&mf->grants);
	mutex_init(&mf->map_lock);
	mutex_init(&mf->read_lock);
	spin_lock_init(&mf->lock);
	INIT_LIST_HEAD(&mf->events);
	init_waitqueue_head(&mf->wait);
	file->private_data = mf;
	/* Mappings of grants live in the grants' address_space: revocable. */
	file->f_mapping = vsock_shm_grant_mapping();
	/* Events are a stream: no offset, no pread. */
	stream_open(inode, file);
	return 0;
}

static int mapper_release(struct inode *inode, struct file *file)
{
	struct mapper_file *mf = file->private_data;
	struct mapper_grant *mg;
	unsigned long id;

	xa_for_each(&mf->grants, id, mg) {
		xa_erase(&mf->grants, id);
		mapper_grant_drop(mf, mg);
	}
	xa_destroy(&mf->grants);
	kfree(mf);
	return 0;
}

/* An unread event: what it says and which one it is. */
struct mapper_taken {
	struct mapper_grant *mg;	/* never dereferenced once unlocked */
	u64 seq;
};

/*
 * Copies up to @max of the oldest events into @ev, leaving them queued;
 * returns how many. With mf->read_lock held.
 */
static size_t mapper_peek(struct mapper_file *mf, struct vshm_revoke_event *ev,
			  struct mapper_taken *taken, size_t max)
{
	struct mapper_grant *mg;
	size_t n = 0;

	spin_lock(&mf->lock);
	list_for_each_entry(mg, &mf->events, event) {
		if (n == max)
			break;
		ev[n] = (struct vshm_revoke_event){
			.grant = mg->g->id,
			.reason = mg->reason,
		};
		taken[n].mg = mg;
		taken[n].seq = mg->seq;
		n++;
	}
	spin_unlock(&mf->lock);
	return n;
}

/*
 * Dequeues the @n events mapper_peek() copied, once they reached the
 * reader. With mf->read_lock held, only UNMAP_GRANT took events out
 * meanwhile (and freed their authorizations), and new ones went to the
 * tail: each of ours still queued is at the head by then. Its seq tells it
 * from a later event whose authorization took a freed one's memory.
 */
static void mapper_consume(struct mapper_file *mf,
			   const struct mapper_taken *taken, size_t n)
{
	struct mapper_grant *head;
	size_t i;

	spin_lock(&mf->lock);
	for (i = 0; i < n; i++) {
		head = list_first_entry_or_null(&mf->events, struct mapper_grant,
						event);
		if (head == taken[i].mg && head->seq == taken[i].seq)
			list_del_init(&head->event);
	}
	spin_unlock(&mf->lock);
}

/*
 * Hands out whole struct vshm_revoke_event, as many as fit and are queued;
 * waits for one unless O_NONBLOCK. An event is dequeued only once copied:
 * a fault loses none.
 */
static ssize_t mapper_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct mapper_file *mf = file->private_data;
	struct vshm_revoke_event ev[MAPPER_READ_BATCH];
	struct mapper_taken taken[MAPPER_READ_BATCH];
	size_t max = count / sizeof(ev[0]), done = 0, n;
	ssize_t ret = 0;

	if (!max)
		return -EINVAL;
	for (;;) {
		if (mutex_lock_interruptible(&mf->read_lock))
			return -ERESTARTSYS;
		n = mapper_peek(mf, ev, taken, min_t(size_t, max,
						     MAPPER_READ_BATCH));
		if (n)
			break;
		mutex_unlock(&mf->read_lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(mf->wait, mapper_pending(mf)))
			return -ERESTARTSYS;
	}
	while (n) {
		if (copy_to_user(buf + done * sizeof(ev[0]), ev,
				 n * sizeof(ev[0]))) {
			ret = -EFAULT;
			break;
		}
		mapper_consume(mf, taken, n);
		done += n;
		n = mapper_peek(mf, ev, taken, min_t(size_t, max - done,
						     MAPPER_READ_BATCH));
	}
	mutex_unlock(&mf->read_lock);
	return done ? done * sizeof(ev[0]) : ret;
}

static __poll_t mapper_poll(struct file *file, poll_table *pt)
{
	struct mapper_file *mf = file->private_data;

	poll_wait(file, &mf->wait, pt);
	return mapper_pending(mf) ? EPOLLIN | EPOLLRDNORM : 0;
}

static long mapper_map(struct mapper_file *mf, void __user *argp)
{
	struct vshm_map_req req;
	struct vsock_shm_grant *g;
	struct mapper_grant *mg;
	struct socket *sock;
	int err;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.pad || !req.grant ||
	    req.grant > VSOCK_SHM_GRANT_ID_MAX)
		return -EINVAL;
	sock = sockfd_lookup(req.sock_fd, &err);
	if (!sock)
		return err;
	g = vsock_shm_grant_get_for_sock(req.grant, sock);
	sockfd_put(sock);
	if (IS_ERR(g))
		return PTR_ERR(g);

	/*
	 * One authorization per grant, with a reference and a watch of its
	 * own; a second MAP_GRANT of it finds the first. Read through ours.
	 */
	mg = kzalloc(sizeof(*mg), GFP_KERNEL);
	if (!mg) {
		err = -ENOMEM;
		goto out_put;
	}
	kref_get(&g->ref);
	mg->g = g;
	mg->mf = mf;
	INIT_LIST_HEAD(&mg->event);
	vsock_shm_grant_watcher_init(&mg->watcher, mapper_revoked);
	mutex_lock(&mf->map_lock);
	err = xa_insert(&mf->grants, req.grant, mg, GFP_KERNEL);
	if (!err) {
		/* Revoked since the lookup: its event comes at once. */
		vsock_shm_grant_watch(g, &mg->watcher);
		mg = NULL;
	}
	mutex_unlock(&mf->map_lock);
	if (mg) {
		vsock_shm_grant_put(g);
		kfree(mg);
	}
	if (err && err != -EBUSY)
		goto out_put;
	WRITE_ONCE(g->server_pid, task_tgid_nr(current));
	req.offset = (u64)req.grant << VSOCK_SHM_GRANT_MAP_SHIFT;
	req.nr_pages = g->nr_pages;
	req.size = (u64)g->nr_pages << PAGE_SHIFT;
	req.access = g->access;
	mutex_lock(&g->lock);
	req.pin_ns = g->pin_ns;
	req.nr_runs = g->nr_runs;
	mutex_unlock(&g->lock);
	err = copy_to_user(argp, &req, sizeof(req)) ? -EFAULT : 0;
out_put:
	vsock_shm_grant_put(g);
	return err;
}

static long mapper_unmap(struct mapper_file *mf, void __user *argp)
{
	struct vshm_unmap_req req;
	struct mapper_grant *mg;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (!req.grant || req.grant > VSOCK_SHM_GRANT_ID_MAX)
		return -EINVAL;
	mutex_lock(&mf->map_lock);
	mg = xa_erase(&mf->grants, req.grant);
	if (mg)
		mapper_grant_drop(mf, mg);
	mutex_unlock(&mf->map_lock);
	return mg ? 0 : -ENOENT;
}

static long mapper_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mapper_file *mf = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VSHM_IOC_MAP_GRANT:
		return mapper_map(mf, argp);
	case VSHM_IOC_UNMAP_GRANT:
		return mapper_unmap(mf, argp);
	default:
		return -ENOTTY;
	}
}

static int mapper_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mapper_file *mf = file->private_data;
	unsigned long shift = VSOCK_SHM_GRANT_MAP_SHIFT - PAGE_SHIFT;
	unsigned long id = vma->vm_pgoff >> shift;
	struct vsock_shm_grant *g = NULL;
	struct mapper_grant *mg;
	int ret;

	xa_lock(&mf->grants);
	mg = xa_load(&mf->grants, id);
	if (mg) {
		g = mg->g;
		kref_get(&g->ref);
	}
	xa_unlock(&mf->grants);
	if (!g)
		return -EACCES;
	ret = vsock_shm_grant_mmap(g, vma, vma->vm_pgoff & ((1UL << shift) - 1));
	vsock_shm_grant_put(g);
	return ret;
}

static const struct file_operations mapper_fops = {
	.owner		= THIS_MODULE,
	.open		= mapper_open,
	.release	= mapper_release,
	.read		= mapper_read,
	.poll		= mapper_poll,
	.unlocked_ioctl	= mapper_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= mapper_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice mapper_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "vsock-shm-mapper",
	.fops	= &mapper_fops,
	.mode	= 0600,
};

static int __init mapper_init(void)
{
	return misc_register(&mapper_misc);
}

static void __exit mapper_exit(void)
{
	misc_deregister(&mapper_misc);
}

module_init(mapper_init);
module_exit(mapper_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Maps vsock-shm grants into host server processes");
