/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every translation policy includes: the kernel's types (vmlinux.h,
 * generated at build time from the target kernel's BTF), the policy ABI of
 * vhost_vsock_shm with CO-RE relocations (its context is resolved in the
 * module's BTF at load time), the module's kfuncs, and the counters and the
 * tunable every policy keeps.
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
extern int vsock_shm_allow_unprivileged(struct vsock_shm_pkt_ctx *ctx) __ksym;

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

/*
 * The tunable every policy has, key 0 of its "guest_ports" map
 * ("vsock-shmctl policy set unprivileged-ports on|off"). The module shares
 * only GPA_LISTs sent from guest ports below VSHM_PRIVILEGED_PORTS (they
 * need CAP_NET_BIND_SERVICE in the guest): the guest kernel cannot check
 * the addresses a process sends, so any process could otherwise name guest
 * kernel memory. unprivileged_ports = 1 lets every guest port share, for
 * this policy only; 0 (the default) keeps the module's rule.
 */
struct vsock_shm_guest_ports {
	__u32 unprivileged_ports;	/* 0: only ports < 1024 share; 1: every port */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vsock_shm_guest_ports);
} guest_ports SEC(".maps");

/* True when this policy accepts GPA_LISTs from unprivileged guest ports. */
static __always_inline bool policy_unprivileged_ports(void)
{
	struct vsock_shm_guest_ports *g;
	__u32 zero = 0;

	g = bpf_map_lookup_elem(&guest_ports, &zero);
	return g && g->unprivileged_ports;
}

/*
 * Gives the verdict for a translation result: translate, or refuse with it.
 * A list from an unprivileged guest port is accepted only if the policy's
 * guest_ports tunable says so; else the module refuses it (VSHM_E_PORT).
 */
static __always_inline void policy_translated(struct vsock_shm_pkt_ctx *pkt,
					      int err, __u32 tag)
{
	if (!err) {
		if (!pkt->privileged && policy_unprivileged_ports())
			vsock_shm_allow_unprivileged(pkt);
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
	/* Since 6.12.6 the verifier takes a tracepoint's argument as nullable. */
	if (!pkt || !pkt->msg_type)
		return false;
	policy_count(POLICY_MSGS);
	if (pkt->msg_type != VSHM_MSG_GPA_LIST || pkt->msg_status)
		return false;
	policy_count(POLICY_LISTS);
	return true;
}

#endif /* _VSOCK_SHM_BPF_POLICY_H */
