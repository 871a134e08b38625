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
int BPF_PROG(vsock_shm_default, struct vsock_shm_pkt_ctx *pkt)
{
	int err;

	if (!pkt->msg_type)
		return 0;
	policy_count(POLICY_MSGS);
	if (pkt->msg_type != VSHM_MSG_GPA_LIST || pkt->msg_status)
		return 0;
	policy_count(POLICY_LISTS);

	err = vsock_shm_translate_memslots(pkt);
	if (!err) {
		vsock_shm_set_verdict(pkt, VSOCK_SHM_TRANSLATE, 0, policy_tag);
		policy_count(POLICY_TRANSLATED);
	} else {
		vsock_shm_set_verdict(pkt, VSOCK_SHM_REFUSE, err, policy_tag);
		policy_count(POLICY_REFUSED);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
