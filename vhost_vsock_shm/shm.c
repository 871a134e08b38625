// SPDX-License-Identifier: GPL-2.0
/*
 * Module and device lifetime of the sharing side of vhost_vsock_shm.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>

#include "shm.h"
#include "stats.h"

int vsock_shm_init(void)
{
	return vsock_shm_stats_init();
}

void vsock_shm_exit(void)
{
	vsock_shm_stats_exit();
}

/*
 * The host-to-guest vsock transport slot is exclusive: vsock_core_register()
 * fails with -EBUSY while another host transport, normally the stock
 * vhost_vsock, holds it.
 */
void vsock_shm_explain_register_error(int err)
{
	if (err == -EBUSY)
		pr_err("vhost_vsock_shm: the host vsock transport is taken, is the stock vhost_vsock loaded? Unload it first (rmmod vhost_vsock)\n");
	else
		pr_err("vhost_vsock_shm: cannot register the host vsock transport: %d\n",
		       err);
}

void vsock_shm_dev_open(struct vsock_shm_dev *sd, struct vhost_dev *vdev)
{
	sd->vdev = vdev;
	sd->pkts_seen = 0;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_DEVS_OPENED);
}

void vsock_shm_dev_release(struct vsock_shm_dev *sd)
{
	vsock_shm_stat_inc(VSOCK_SHM_STAT_DEVS_RELEASED);
	sd->vdev = NULL;
}
