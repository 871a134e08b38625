// SPDX-License-Identifier: GPL-2.0
/*
 * The default translation policy: every whole, valid GPA_LIST of every VM is
 * translated through that VM's KVM memslots; a GPA outside them is refused
 * with the translation's own error code.
 */
#include "policy.h"

/* Set by the loader before load: identifies this policy in verdicts. */
const volatile __u32 policy_tag = 1;

SEC("tp_btf/vsock_shm_guest_pkt")
int BPF_PROG(vsock_shm_policy, struct vsock_shm_pkt_ctx *pkt)
{
	if (policy_is_list(pkt))
		policy_translated(pkt, vsock_shm_translate_memslots(pkt), policy_tag);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
