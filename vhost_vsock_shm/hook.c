// SPDX-License-Identifier: GPL-2.0
/*
 * The packet hooks of vhost_vsock_shm.
 *
 * The forked vhost_vsock_handle_tx_kick() calls vsock_shm_guest_pkt() for
 * every correctly addressed packet a guest sends, in the vhost worker with
 * the TX virtqueue mutex held, before the packet is handed to the vsock
 * core. The packet is always delivered afterwards: the hook may rewrite its
 * payload in place, never drop it. Per packet:
 *
 *   1. connection bookkeeping (message boundaries, end of connection);
 *   2. the module parses and validates a vsock-shm message in the payload;
 *   3. the vsock_shm_guest_pkt tracepoint runs the attached policies, which
 *      translate and give a verdict through kfuncs (translate.c);
 *   4. the module acts on the final verdict once: pin and rewrite into an
 *      HPA_LIST, or rewrite into a REFUSED, or leave the packet alone.
 *
 * vsock_shm_host_pkt() sees every packet the host sends to the guest, in the
 * same worker (vhost-vsock has one for both virtqueues, compat.h), and ends
 * the connection's grants on RST and SHUTDOWN.
 */
#include <linux/virtio_vsock.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

#include "conn.h"
#include "grant.h"
#include "hook.h"
#include "pkt.h"
#include "shm.h"
#include "stats.h"

/*
 * The context of the packet whose tracepoint runs on this CPU, or NULL:
 * kfuncs act only on it (translate.c), never on a context a program found
 * elsewhere (an fentry program on a function of this module that has one).
 * The tracepoint runs its programs with preemption off.
 */
DEFINE_PER_CPU(struct vsock_shm_pkt_ctx *, vsock_shm_hook_ctx);

static void pkt_run_policies(struct vsock_shm_pkt_ctx *ctx)
{
	preempt_disable();
	this_cpu_write(vsock_shm_hook_ctx, ctx);
	trace_vsock_shm_guest_pkt(ctx);
	this_cpu_write(vsock_shm_hook_ctx, NULL);
	preempt_enable();
}

static void pkt_ctx_init(struct vsock_shm_pkt *pkt, u32 cid,
			 const struct virtio_vsock_hdr *hdr, u32 len)
{
	struct vsock_shm_pkt_ctx *ctx = &pkt->ctx;

	memset(ctx, 0, sizeof(*ctx));
	memset(&pkt->info, 0, sizeof(pkt->info));
	pkt->msg = NULL;
	pkt->unprivileged_ok = false;
	ctx->cid = cid;
	ctx->src_port = le32_to_cpu(hdr->src_port);
	ctx->dst_port = le32_to_cpu(hdr->dst_port);
	ctx->privileged = ctx->src_port < VSHM_PRIVILEGED_PORTS;
	ctx->type = le16_to_cpu(hdr->type);
	ctx->op = le16_to_cpu(hdr->op);
	ctx->flags = le32_to_cpu(hdr->flags);
	ctx->len = len;
	ctx->xlat_status = VSOCK_SHM_XLAT_NONE;
}

/*
 * Parses the payload of the first packet of a SOCK_SEQPACKET message.
 * Fills ctx->msg_type (0 if this is not a vsock-shm message) and
 * ctx->msg_status with the validation result.
 */
static void pkt_parse(struct vsock_shm_pkt *pkt, struct sk_buff *skb)
{
	struct vsock_shm_pkt_ctx *ctx = &pkt->ctx;
	struct vshm_wire_info *info = &pkt->info;
	int err;

	/* The first packet, and its last: the whole message. */
	ctx->whole = !!(ctx->flags & VIRTIO_VSOCK_SEQ_EOM);
	if (skb->len < VSHM_HDR_SIZE ||
	    get_unaligned_le32(skb->data) != VSHM_MAGIC) {
		/* A fragment must not finish a magic its start began. */
		if (!ctx->whole && vshm_wire_neuter(skb->data, skb->len,
						    VSHM_E_FRAG))
			vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_NEUTERED);
		return;
	}
	pkt->msg = skb->data;
	ctx->msg_type = skb->data[5];

	if (!ctx->whole) {
		/*
		 * Refused whole: a GPA_LIST in pkt_apply(), where its region
		 * ends like any refused chunk's (only this connection's
		 * regions); any other type right here.
		 */
		ctx->msg_status = VSHM_E_FRAG;
		ctx->region = get_unaligned_le32(skb->data +
						 offsetof(struct vshm_hdr, region));
		if (ctx->msg_type != VSHM_MSG_GPA_LIST &&
		    vshm_wire_neuter(skb->data, skb->len, VSHM_E_FRAG))
			vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_NEUTERED);
		return;
	}
	err = vshm_wire_check(skb->data, skb->len, info);
	if (!err && ctx->msg_type == VSHM_MSG_GPA_LIST) {
		err = vshm_wire_check_dup(info->ext, info->nr_ext, pkt->scratch);
		if (err == VSHM_E_DUP)
			info->bad_index = pkt->scratch[0];
	}
	ctx->msg_status = err;
	ctx->region = info->region;
	ctx->nr_ext = info->nr_ext;
	ctx->nr_pages = info->nr_pages;
	ctx->first_page = info->first_page;
	ctx->total_pages = info->total_pages;
}

static void pkt_refuse(struct vsock_shm_pkt *pkt, struct sk_buff *skb,
		       struct vsock_shm_conn *c, u32 code, u32 detail)
{
	struct vsock_shm_dev *sd = pkt->sd;

	if (code > VSHM_E_MAX)
		code = VSHM_E_INTERNAL;
	/*
	 * A fragment too short for a REFUSED must not stay a message at all:
	 * its continuations, never parsed, would complete it. A whole one
	 * that short cannot pass the server's own check of a list.
	 */
	if (vshm_wire_mark_refused(skb->data, skb->len, code, detail) &&
	    !pkt->ctx.whole)
		vshm_wire_neuter(skb->data, skb->len, code);
	vsock_shm_stat_refused(code);
	pr_info_ratelimited("vhost_vsock_shm: cid %u port %u->%u region %u: refused: %s (extent %d)\n",
			    sd->cid, pkt->ctx.src_port, pkt->ctx.dst_port,
			    pkt->ctx.region, vshm_err_name(code),
			    detail == VSHM_NO_INDEX ? -1 : (int)detail);
	/* A refused chunk ends its region (but not another region's id). */
	if (c && pkt->ctx.region && code != VSHM_E_EXISTS)
		vsock_shm_grant_free(sd, c, pkt->ctx.region,
				     VSHM_REVOKE_REFUSED);
}

/*
 * The protocol's code for an error of the module (a negative errno): the
 * one place where the module's errors become what a message says.
 */
static u32 pkt_err_code(int err)
{
	switch (err) {
	case -EDQUOT:
		return VSHM_E_QUOTA;
	case -ENOLCK:
		return VSHM_E_MEMLOCK;
	case -ENOMEM:
		return VSHM_E_NOMEM;
	case -EEXIST:
		return VSHM_E_EXISTS;
	case -ENOENT:
		return VSHM_E_NOREGION;
	case -EPROTO:
		return VSHM_E_ORDER;
	case -EBUSY:
		return VSHM_E_BUSY;
	case -EADDRINUSE:
		return VSHM_E_DUP;
	case -EFAULT:
	case -EOPNOTSUPP:
		return VSHM_E_PIN;
	default:
		return VSHM_E_INTERNAL;
	}
}

/* Acts on the verdict the policies left for a GPA_LIST. */
static void pkt_apply(struct vsock_shm_pkt *pkt, struct sk_buff *skb,
		      struct vsock_shm_conn *c)
{
	struct vsock_shm_pkt_ctx *ctx = &pkt->ctx;
	u32 grant = 0, detail;
	int err;

	if (ctx->msg_status) {
		pkt_refuse(pkt, skb, c, ctx->msg_status, pkt->info.bad_index);
		return;
	}
	switch (ctx->verdict) {
	case VSOCK_SHM_PASS:
		/* No policy took it: the server answers VSHM_E_NOPOLICY. */
		vsock_shm_stat_inc(VSOCK_SHM_STAT_LISTS_PASSED);
		return;
	case VSOCK_SHM_REFUSE:
		/* A refusal for the translation's reason names its extent. */
		detail = ctx->code == ctx->xlat_status ? ctx->xlat_detail :
							  VSHM_NO_INDEX;
		vsock_shm_stat_verdict(ctx->policy, false);
		pkt_refuse(pkt, skb, c, ctx->code, detail);
		return;
	}
	/* VSOCK_SHM_TRANSLATE: the kfunc only allows it after a translation. */
	if (ctx->xlat_status) {
		pkt_refuse(pkt, skb, c, ctx->xlat_status, ctx->xlat_detail);
		return;
	}
	/*
	 * Any guest process can send anything: the GPAs of guest kernel
	 * memory too. Only a port that needs CAP_NET_BIND_SERVICE in the guest
	 * shares, unless the policy accepts this one.
	 */
	if (!ctx->privileged && !pkt->unprivileged_ok) {
		vsock_shm_stat_verdict(ctx->policy, false);
		pkt_refuse(pkt, skb, c, VSHM_E_PORT, VSHM_NO_INDEX);
		return;
	}
	err = vsock_shm_grant_chunk(pkt->sd, c, pkt, &grant, &detail);
	vsock_shm_stat_verdict(ctx->policy, !err);
	if (err) {
		pkt_refuse(pkt, skb, c, pkt_err_code(err), detail);
		return;
	}
	vshm_wire_mark_hpa(skb->data, grant);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_LISTS_TRANSLATED);
}

/*
 * Can the module read, and rewrite in place, the payload at skb->data? A
 * packet's payload may be in pages instead (6.12.69 and later: guest
 * packets above about 32 KB). One that may start a message of ours is
 * made linear; if that fails, its magic bytes are zeroed (fail closed: it
 * is no message at all). Any other payload is no message of ours and is
 * never read.
 */
static bool pkt_readable(struct sk_buff *skb)
{
	static const u8 zero[4];
	u32 n = min_t(u32, skb->len, sizeof(zero));
	u8 head[4];

	if (!skb_is_nonlinear(skb))
		return true;
	if (skb_copy_bits(skb, 0, head, n) || !vshm_wire_may_start(head, n))
		return false;
	if (!skb_linearize(skb))
		return true;
	skb_store_bits(skb, 0, zero, n);
	vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_NEUTERED);
	pr_warn_ratelimited("vhost_vsock_shm: a packet of %u bytes could not be made linear: its message is refused\n",
			    skb->len);
	return false;
}

/*
 * Message boundaries of a tracked connection: says whether this packet
 * carries the first bytes of a message. An empty packet without EOM starts
 * nothing: the next one still carries the first bytes.
 */
static bool conn_msg_start(struct vsock_shm_conn *c, u32 flags, u32 len)
{
	bool first = !c->mid_msg;

	if (len || (flags & VIRTIO_VSOCK_SEQ_EOM))
		c->mid_msg = !(flags & VIRTIO_VSOCK_SEQ_EOM);
	return first && len;
}

void vsock_shm_guest_pkt(struct vsock_shm_dev *sd, u32 guest_cid,
			 struct sk_buff *skb)
{
	struct virtio_vsock_hdr *hdr = virtio_vsock_hdr(skb);
	struct vsock_shm_pkt *pkt = sd->pkt;
	struct vsock_shm_conn *c = NULL;
	struct vsock_shm_pkt_ctx *ctx;
	bool first;

	sd->pkts_seen++;
	sd->cid = guest_cid;
	vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_SEEN);
	vsock_shm_stat_add(VSOCK_SHM_STAT_BYTES_SEEN, skb->len);
	if (!pkt)
		return;
	pkt_ctx_init(pkt, guest_cid, hdr, skb->len);
	ctx = &pkt->ctx;

	if (ctx->op == VIRTIO_VSOCK_OP_RST || ctx->op == VIRTIO_VSOCK_OP_SHUTDOWN ||
	    ctx->op == VIRTIO_VSOCK_OP_REQUEST) {
		/* The end of a connection, or the start of a new one. */
		vsock_shm_conn_close(sd, ctx->src_port, ctx->dst_port, NULL);
	} else if (ctx->type == VIRTIO_VSOCK_TYPE_SEQPACKET &&
		   ctx->op == VIRTIO_VSOCK_OP_RW) {
		mutex_lock(&sd->lock);
		c = vsock_shm_conn_find(sd, ctx->src_port, ctx->dst_port, true);
		first = c && conn_msg_start(c, ctx->flags, skb->len);
		mutex_unlock(&sd->lock);
		/* Only a packet that may start a message is read at all. */
		if ((first || !c) && pkt_readable(skb)) {
			if (first)
				pkt_parse(pkt, skb);
			/*
			 * Untracked: where its messages start is unknown, so
			 * none is parsed and none may reach the server.
			 */
			else if (vshm_wire_neuter(skb->data, skb->len,
						  VSHM_E_QUOTA))
				vsock_shm_stat_inc(VSOCK_SHM_STAT_PKTS_NEUTERED);
		}
	}
	mutex_lock(&sd->lock);
	ctx->vm_pages = min_t(u64, sd->reserved_pages, U32_MAX);
	ctx->vm_grants = sd->nr_grants;
	mutex_unlock(&sd->lock);

	/* The guest may not send what only the host may write. */
	if (ctx->msg_type == VSHM_MSG_HPA_LIST || ctx->msg_type == VSHM_MSG_REFUSED) {
		pkt_refuse(pkt, skb, NULL, VSHM_E_TYPE, VSHM_NO_INDEX);
		return;
	}
	if (ctx->msg_type)
		vsock_shm_stat_inc(VSOCK_SHM_STAT_MSGS_SEEN);

	pkt_run_policies(ctx);

	switch (ctx->msg_type) {
	case VSHM_MSG_GPA_LIST:
		vsock_shm_stat_inc(VSOCK_SHM_STAT_LISTS_SEEN);
		pkt_apply(pkt, skb, c);
		break;
	case VSHM_MSG_FREE:
		/* Revoke before the server even reads the FREE. */
		if (!ctx->msg_status && c &&
		    !vsock_shm_grant_free(sd, c, ctx->region,
					  VSHM_REVOKE_FREED))
			vsock_shm_stat_inc(VSOCK_SHM_STAT_FREES);
		break;
	}
}

void vsock_shm_host_pkt(struct vsock_shm_dev *sd, struct sk_buff *skb)
{
	struct virtio_vsock_hdr *hdr = virtio_vsock_hdr(skb);
	u16 op = le16_to_cpu(hdr->op);

	/* skb->sk: the host socket that sent it (none for a reply to none). */
	if (op == VIRTIO_VSOCK_OP_RST || op == VIRTIO_VSOCK_OP_SHUTDOWN)
		vsock_shm_conn_close(sd, le32_to_cpu(hdr->dst_port),
				     le32_to_cpu(hdr->src_port), skb->sk);
}
