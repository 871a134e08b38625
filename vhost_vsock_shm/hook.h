/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hook's context and kfuncs, as the module sees them; the structure and
 * verdicts are the policy ABI in uapi/vsock_shm_policy.h.
 */
#ifndef _VHOST_VSOCK_SHM_HOOK_H
#define _VHOST_VSOCK_SHM_HOOK_H

#include <linux/percpu.h>
#include <linux/types.h>

#include "uapi/vsock_shm_policy.h"
#include "wire.h"

struct vsock_shm_pkt_ctx;

/* The context of the packet whose policies run on this CPU (hook.c). */
DECLARE_PER_CPU(struct vsock_shm_pkt_ctx *, vsock_shm_hook_ctx);

/*
 * Kfuncs for programs on the vsock_shm_guest_pkt tracepoint (translate.c).
 * They run where sleeping is not allowed and only record into @ctx; every
 * call returns 0 or an enum vshm_err (negative errno for a misuse: -EPERM
 * for a context that is not the one of the packet being hooked).
 */
int vsock_shm_translate_memslots(struct vsock_shm_pkt_ctx *ctx);
int vsock_shm_translate_iotlb(struct vsock_shm_pkt_ctx *ctx);
int vsock_shm_set_verdict(struct vsock_shm_pkt_ctx *ctx, u32 verdict,
			  u32 code, u32 policy);
int vsock_shm_allow_unprivileged(struct vsock_shm_pkt_ctx *ctx);

#endif /* _VHOST_VSOCK_SHM_HOOK_H */
