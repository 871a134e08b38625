// SPDX-License-Identifier: GPL-2.0
/*
 * The iotlb translation policy: translates through the vhost device's own
 * memory table (VHOST_SET_MEM_TABLE) instead of the KVM memslots, so it also
 * serves a VMM without KVM. Swapping default <-> iotlb changes the
 * translation logic itself, not only its admission.
 */
#include "policy.h"

const volatile __u32 policy_tag = 1;

SEC("tp_btf/vsock_shm_guest_pkt")
int BPF_PROG(vsock_shm_policy, struct vsock_shm_pkt_ctx *pkt)
{
	if (policy_is_list(pkt))
		policy_translated(pkt, vsock_shm_translate_iotlb(pkt), policy_tag);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
