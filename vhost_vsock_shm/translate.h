/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _VHOST_VSOCK_SHM_TRANSLATE_H
#define _VHOST_VSOCK_SHM_TRANSLATE_H

/* Registers the kfuncs for tracing programs; there is no unregister. */
int vsock_shm_kfuncs_init(void);

#endif /* _VHOST_VSOCK_SHM_TRANSLATE_H */
