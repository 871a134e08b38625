/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _VHOST_VSOCK_SHM_TRANSLATE_H
#define _VHOST_VSOCK_SHM_TRANSLATE_H

#include <linux/types.h>

struct kvm;
struct vhost_iotlb;

/* Registers the kfuncs for tracing programs; there is no unregister. */
int vsock_shm_kfuncs_init(void);

/* [gpa, gpa + n pages) lies in one mapping of the device's memory table. */
bool vsock_shm_in_mem_table(struct vhost_iotlb *umem, u64 gpa, u32 n);

int vsock_shm_translate_again(struct kvm *kvm, struct vhost_iotlb *umem,
			      u32 how, u64 gpa, u32 n, u64 *hva);

#endif /* _VHOST_VSOCK_SHM_TRANSLATE_H */
