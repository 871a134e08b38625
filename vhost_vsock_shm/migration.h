/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Grants and live migration (migration.c): while the VMM logs the device's
 * writes to guest memory, no region is shared. Bound at VHOST_SET_OWNER and
 * unbound at release, under the vhost device mutex or after the device
 * stopped.
 */
#ifndef _VHOST_VSOCK_SHM_MIGRATION_H
#define _VHOST_VSOCK_SHM_MIGRATION_H

#include <linux/types.h>

struct vsock_shm_dev;

int vsock_shm_migration_bind(struct vsock_shm_dev *sd);
void vsock_shm_migration_unbind(struct vsock_shm_dev *sd);
/* VHOST_SET_FEATURES succeeded with @features, under the device mutex. */
void vsock_shm_migration_features(struct vsock_shm_dev *sd, u64 features);

#endif /* _VHOST_VSOCK_SHM_MIGRATION_H */
