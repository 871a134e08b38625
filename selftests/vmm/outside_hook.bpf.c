// SPDX-License-Identifier: GPL-2.0
/*
 * Not a policy: a program on a function of vhost_vsock_shm that reaches
 * the context of a packet outside the policies' tracepoint (the module
 * hands it to vsock_shm_grant_chunk() after the verdict) and calls the
 * module's kfuncs with it. vmm_test (kfuncs_refused_outside_the_hook)
 * loads it: every call must be refused with -EPERM and change nothing.
 */
#include "policy.h"

struct outside_results {
	int calls;
	int translate_ret;
	int verdict_ret;
	int allow_ret;
};

struct outside_results results = {
	.translate_ret = 1, .verdict_ret = 1, .allow_ret = 1,
};

/*
 * vsock_shm_grant_chunk(sd, c, pkt, ...): pkt (struct vsock_shm_pkt, the
 * module's own) starts with the packet's struct vsock_shm_pkt_ctx.
 */
SEC("fentry/vsock_shm_grant_chunk")
int BPF_PROG(outside_hook, void *sd, void *c, struct vsock_shm_pkt_ctx *pkt)
{
	results.calls++;
	results.translate_ret = vsock_shm_translate_memslots(pkt);
	results.verdict_ret = vsock_shm_set_verdict(pkt, VSOCK_SHM_REFUSE,
						    VSHM_E_DENIED, 99);
	results.allow_ret = vsock_shm_allow_unprivileged(pkt);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
