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
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "grant.h"
#include "uapi/vsock_shm.h"

/* Per open file: grant id -> grant (a reference each). */
struct mapper_file {
	struct xarray grants;
};

static int mapper_open(struct inode *inode, struct file *file)
{
	struct mapper_file *mf = kzalloc(sizeof(*mf), GFP_KERNEL);

	if (!mf)
		return -ENOMEM;
	xa_init(&mf->grants);
	file->private_data = mf;
	/* Mappings of grants live in the grants' address_space: revocable. */
	file->f_mapping = vsock_shm_grant_mapping();
	return 0;
}

static int mapper_release(struct inode *inode, struct file *file)
{
	struct mapper_file *mf = file->private_data;
	struct vsock_shm_grant *g;
	unsigned long id;

	xa_for_each(&mf->grants, id, g)
		vsock_shm_grant_put(g);
	xa_destroy(&mf->grants);
	kfree(mf);
	return 0;
}

static long mapper_map(struct mapper_file *mf, void __user *argp)
{
	struct vshm_map_req req;
	struct vsock_shm_grant *g;
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

	/* Keep one reference per authorized grant; read through ours. */
	kref_get(&g->ref);
	err = xa_insert(&mf->grants, req.grant, g, GFP_KERNEL);
	if (err)
		vsock_shm_grant_put(g);
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
	struct vsock_shm_grant *g;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (!req.grant || req.grant > VSOCK_SHM_GRANT_ID_MAX)
		return -EINVAL;
	g = xa_erase(&mf->grants, req.grant);
	if (!g)
		return -ENOENT;
	vsock_shm_grant_put(g);
	return 0;
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
	struct vsock_shm_grant *g;

	int ret;

	xa_lock(&mf->grants);
	g = xa_load(&mf->grants, id);
	if (g)
		kref_get(&g->ref);
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
