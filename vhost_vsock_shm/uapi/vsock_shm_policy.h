/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * The policy ABI of vhost_vsock_shm: what a translation policy (a BPF
 * program on the vsock_shm_guest_pkt module tracepoint) sees of a
 * guest-to-host packet, and the verdicts it can give.
 *
 * Programs read struct vsock_shm_pkt_ctx directly (BTF, CO-RE) and write
 * nothing in it: results go through the module's kfuncs, which record them
 * here. The module acts on the verdict once, after the tracepoint returned,
 * so with several programs attached (a policy swap in progress) the last
 * one to run decides and nothing is done twice. docs/policies.md says more.
 */
#ifndef _UAPI_VSOCK_SHM_POLICY_H
#define _UAPI_VSOCK_SHM_POLICY_H

#include <linux/types.h>

/* vsock_shm_pkt_ctx.verdict */
enum vsock_shm_verdict {
	VSOCK_SHM_PASS		= 0,	/* deliver unchanged: the default */
	VSOCK_SHM_TRANSLATE	= 1,	/* pin the translated pages, rewrite */
	VSOCK_SHM_REFUSE	= 2,	/* rewrite into REFUSED(code) */
};

/* vsock_shm_pkt_ctx.xlat_status before any translation was tried. */
#define VSOCK_SHM_XLAT_NONE	0xffffffffU

/*
 * One guest-to-host packet, as policies see it. Every packet of every
 * connection passes; msg_type is 0 unless the payload starts a vsock-shm
 * message (SOCK_SEQPACKET, first packet of a message, v1 magic).
 */
struct vsock_shm_pkt_ctx {
	__u64 cid;		/* guest CID (the packet's source) */
	__u32 src_port;		/* guest port */
	__u32 dst_port;		/* host port */
	__u16 type;		/* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET */
	__u16 op;		/* VIRTIO_VSOCK_OP_* */
	__u32 flags;		/* vsock header flags (VIRTIO_VSOCK_SEQ_EOM...) */
	__u32 len;		/* payload bytes */

	__u8 msg_type;		/* enum vshm_msg_type, 0 if not a message */
	__u8 whole;		/* the whole message is in this packet */
	__u8 privileged;	/* src_port < VSHM_PRIVILEGED_PORTS */
	__u8 reserved;
	__u32 msg_status;	/* module's validation: 0 or enum vshm_err */
	__u32 region;
	__u32 nr_ext;
	__u32 nr_pages;
	__u32 first_page;
	__u32 total_pages;
	__u32 vm_pages;		/* pages this VM's live grants hold or will
				 * hold: each is charged its whole declared
				 * size at its first chunk
				 */
	__u32 vm_grants;	/* live grants of this VM */

	/* Written by kfuncs only. */
	__u32 verdict;		/* enum vsock_shm_verdict */
	__u32 code;		/* enum vshm_err, with VSOCK_SHM_REFUSE */
	__u32 policy;		/* tag of the policy that gave the verdict */
	__u32 xlat_status;	/* 0: translated; enum vshm_err; or _XLAT_NONE */
	__u32 xlat_detail;	/* index of the extent that failed */
	__u32 xlat_how;		/* enum vsock_shm_xlat_how of the translation */
};

/* How the translation was done (vsock_shm_pkt_ctx.xlat_how). */
enum vsock_shm_xlat_how {
	VSOCK_SHM_XLAT_MEMSLOTS	= 1,	/* the VM's KVM memslots */
	VSOCK_SHM_XLAT_IOTLB	= 2,	/* the vhost device's memory table */
};

#endif /* _UAPI_VSOCK_SHM_POLICY_H */
