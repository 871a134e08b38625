// SPDX-License-Identifier: GPL-2.0
/*
 * The restrict policy: admission before translation. A GPA_LIST is translated
 * (through the KVM memslots) only if its (guest CID, host port) pair is in
 * the "allow" map and the VM stays within its page quota: "quota" per CID,
 * else settings.default_quota (0: no quota). Both maps are changed at run
 * time with "vsock-shmctl policy set".
 */
#include "policy.h"

const volatile __u32 policy_tag = 1;

struct restrict_key {
	__u32 cid;
	__u32 port;		/* the host (server) port */
};

struct restrict_settings {
	__u64 default_quota;	/* pages; 0: no quota */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct restrict_key);
	__type(value, __u8);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} quota SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct restrict_settings);
} settings SEC(".maps");

static __always_inline __u64 quota_of(__u32 cid)
{
	struct restrict_settings *s;
	__u32 zero = 0;
	__u64 *q;

	q = bpf_map_lookup_elem(&quota, &cid);
	if (q)
		return *q;
	s = bpf_map_lookup_elem(&settings, &zero);
	return s ? s->default_quota : 0;
}

SEC("tp_btf/vsock_shm_guest_pkt")
int BPF_PROG(vsock_shm_policy, struct vsock_shm_pkt_ctx *pkt)
{
	struct restrict_key key;
	__u64 limit;

	if (!policy_is_list(pkt))
		return 0;
	key.cid = (__u32)pkt->cid;
	key.port = pkt->dst_port;
	if (!bpf_map_lookup_elem(&allow, &key)) {
		policy_translated(pkt, VSHM_E_DENIED, policy_tag);
		return 0;
	}
	/* A region is charged whole at its first chunk, as the module does. */
	limit = quota_of(key.cid);
	if (limit && !pkt->first_page &&
	    (__u64)pkt->vm_pages + pkt->total_pages > limit) {
		policy_translated(pkt, VSHM_E_QUOTA, policy_tag);
		return 0;
	}
	policy_translated(pkt, vsock_shm_translate_memslots(pkt), policy_tag);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
