/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every translation policy includes: the kernel's types (vmlinux.h,
 * generated at build time from the target kernel's BTF), the policy ABI of
 * vhost_vsock_shm with CO-RE relocations (its context is resolved in the
 * module's BTF at load time), the module's kfuncs, and the counters every
 * policy keeps.
 */
#ifndef _VSOCK_SHM_BPF_POLICY_H
#define _VSOCK_SHM_BPF_POLICY_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* vmlinux.h has the kernel's integer types: skip the UAPI header's. */
#define _LINUX_TYPES_H
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
#include "uapi/vsock_shm.h"
#include "uapi/vsock_shm_policy.h"
#pragma clang attribute pop

/* Kfuncs of vhost_vsock_shm (translate.c). */
extern int vsock_shm_translate_memslots(struct vsock_shm_pkt_ctx *ctx) __ksym;
extern int vsock_shm_translate_iotlb(struct vsock_shm_pkt_ctx *ctx) __ksym;
extern int vsock_shm_set_verdict(struct vsock_shm_pkt_ctx *ctx, __u32 verdict,
				 __u32 code, __u32 policy) __ksym;

/* Counters every policy keeps, indexes of its "counters" map. */
enum vsock_shm_policy_counter {
	POLICY_MSGS,		/* vsock-shm messages seen */
	POLICY_LISTS,		/* GPA_LISTs seen */
	POLICY_TRANSLATED,	/* verdict: translate */
	POLICY_REFUSED,		/* verdict: refuse */
	POLICY_NR_COUNTERS,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, POLICY_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void policy_count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		(*v)++;
}

/* Gives the verdict for a translation result: translate, or refuse with it. */
static __always_inline void policy_translated(struct vsock_shm_pkt_ctx *pkt,
					      int err, __u32 tag)
{
	if (!err) {
		vsock_shm_set_verdict(pkt, VSOCK_SHM_TRANSLATE, 0, tag);
		policy_count(POLICY_TRANSLATED);
	} else {
		vsock_shm_set_verdict(pkt, VSOCK_SHM_REFUSE, err, tag);
		policy_count(POLICY_REFUSED);
	}
}

/* True for a whole, valid GPA_LIST: the only packets policies act on. */
static __always_inline bool policy_is_list(struct vsock_shm_pkt_ctx *pkt)
{
	if (!pkt->msg_type)
		return false;
	policy_count(POLICY_MSGS);
	if (pkt->msg_type != VSHM_MSG_GPA_LIST || pkt->msg_status)
		return false;
	policy_count(POLICY_LISTS);
	return true;
}

#endif /* _VSOCK_SHM_BPF_POLICY_H */
