/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Revocation of grants whose guest memory moved (memmap.c): the watch is
 * bound at VHOST_SET_OWNER and unbound at release, under the vhost device
 * mutex or after the device stopped.
 */
#ifndef _VHOST_VSOCK_SHM_MEMMAP_H
#define _VHOST_VSOCK_SHM_MEMMAP_H

struct vsock_shm_dev;

int vsock_shm_memmap_bind(struct vsock_shm_dev *sd);
void vsock_shm_memmap_unbind(struct vsock_shm_dev *sd);
/* The memory map may have changed: recheck every grant in the worker. */
void vsock_shm_memmap_changed(struct vsock_shm_dev *sd);

#endif /* _VHOST_VSOCK_SHM_MEMMAP_H */
