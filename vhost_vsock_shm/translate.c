// SPDX-License-Identifier: GPL-2.0
/*
 * Translation kfuncs: what a policy program calls to translate the GPAs of
 * a GPA_LIST and to give its verdict.
 *
 * A program runs inside the tracepoint, with preemption or migration off:
 * nothing here sleeps. Translation checks every extent against the VM's
 * KVM memslots (read under kvm->srcu) and records the VMM address of each
 * extent; the module pins those pages after the program returned, in the
 * vhost worker, and only if the final verdict is VSOCK_SHM_TRANSLATE.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/kvm_host.h>
#include <linux/srcu.h>
#include <linux/vhost_iotlb.h>
#include <linux/virtio_vsock.h>

#include "compat.h"
#include "hook.h"
#include "pkt.h"
#include "translate.h"
#include "vhost.h"

/* What a translation through the memslots reads. */
struct memslot_xlat {
	struct kvm *kvm;		/* under kvm->srcu */
	struct vhost_iotlb *umem;	/* under the TX virtqueue mutex */
};

/*
 * Says whether [gpa, gpa + n pages) lies in one mapping of the device's
 * memory table: the VMM sizes vhost's dirty log from that table, so only
 * such pages can be marked in it (migration.c).
 */
bool vsock_shm_in_mem_table(struct vhost_iotlb *umem, u64 gpa, u32 n)
{
	u64 last = gpa + ((u64)n << PAGE_SHIFT) - 1;
	struct vhost_iotlb_map *map;

	map = umem ? vhost_iotlb_itree_first(umem, gpa, last) : NULL;
	return map && map->start <= gpa && map->last >= last;
}

/*
 * Checks that extent [gfn, gfn + n) lies in one user memslot the guest may
 * write, inside the device's memory table (VHOST_SET_MEM_TABLE: QEMU leaves
 * out VGA memory, for one), and returns the VMM virtual address of its
 * first page in *hva. A slot whose dirty pages KVM logs (a migration in
 * progress) is busy: nothing is shared until the logging ends.
 */
static int memslot_extent(void *arg, u64 gpa, u32 n, u64 *hva)
{
	struct memslot_xlat *x = arg;
	u64 gfn = gpa >> PAGE_SHIFT;
	struct kvm_memory_slot *slot = gfn_to_memslot(x->kvm, gfn);

	if (!slot || slot->id >= KVM_USER_MEM_SLOTS ||
	    (slot->flags & KVM_MEMSLOT_INVALID))
		return VSHM_E_NOTMAPPABLE;
#ifdef KVM_MEM_GUEST_MEMFD
	/* Private guest memory: not the VMM's to pin or to share. */
	if (slot->flags & KVM_MEM_GUEST_MEMFD)
		return VSHM_E_NOTMAPPABLE;
#endif
	if (gfn + n > slot->base_gfn + slot->npages)
		return VSHM_E_NOTMAPPABLE;
	if (slot->flags & KVM_MEM_READONLY)
		return VSHM_E_RDONLY;
	if (!vsock_shm_in_mem_table(x->umem, gpa, n))
		return VSHM_E_NOTMAPPABLE;
	if (slot->flags & KVM_MEM_LOG_DIRTY_PAGES)
		return VSHM_E_BUSY;
	*hva = slot->userspace_addr + ((gfn - slot->base_gfn) << PAGE_SHIFT);
	return 0;
}

/* Records a translation result in the context; returns it. */
static int xlat_result(struct vsock_shm_pkt_ctx *ctx, u32 status, u32 detail,
		       u32 how)
{
	ctx->xlat_status = status;
	ctx->xlat_detail = detail;
	ctx->xlat_how = how;
	return status;
}

/*
 * Translates every extent of the packet with @extent_fn, recording the VMM
 * address of each; stops at the first failure and records the result.
 */
static int xlat_extents(struct vsock_shm_pkt *pkt,
			int (*extent_fn)(void *arg, u64 gpa, u32 n, u64 *hva),
			void *arg, u32 how)
{
	int ret = 0;
	u32 i;

	for (i = 0; i < pkt->info.nr_ext; i++) {
		u64 gpa;
		u32 n;

		vshm_wire_ext_get(pkt->info.ext, i, &gpa, &n);
		ret = extent_fn(arg, gpa, n, &pkt->hva[i]);
		if (ret)
			break;
	}
	return xlat_result(&pkt->ctx, ret, ret ? i : VSHM_NO_INDEX, how);
}

/*
 * Is @ctx the context of the packet whose policies run here and now? Only
 * then may a kfunc touch it: a program elsewhere (fentry on a function of
 * this module) can get at a context too, before or after the hook.
 */
static bool in_hook(struct vsock_shm_pkt_ctx *ctx)
{
	return ctx && ctx == this_cpu_read(vsock_shm_hook_ctx);
}

/* Translation applies only to a whole, valid GPA_LIST, in the hook. */
static int xlat_applicable(struct vsock_shm_pkt_ctx *ctx)
{
	if (!in_hook(ctx))
		return -EPERM;
	if (ctx->msg_type != VSHM_MSG_GPA_LIST)
		return -EINVAL;
	return ctx->msg_status;
}

/* The device's memory table; the hook holds the TX virtqueue mutex. */
static struct vhost_iotlb *pkt_mem_table(struct vsock_shm_pkt *pkt)
{
	return pkt->sd->vdev->vqs[VSOCK_VQ_TX]->umem;
}

__bpf_kfunc int vsock_shm_translate_memslots(struct vsock_shm_pkt_ctx *ctx)
{
	struct vsock_shm_pkt *pkt = to_pkt(ctx);
	struct memslot_xlat x;
	int ret, idx;

	ret = xlat_applicable(ctx);
	if (ret)
		return ret < 0 ? ret : xlat_result(ctx, ret, VSHM_NO_INDEX, 0);
	x.kvm = READ_ONCE(pkt->sd->kvm);
	x.umem = pkt_mem_table(pkt);
	if (!x.kvm)
		return xlat_result(ctx, VSHM_E_NOTMAPPABLE, VSHM_NO_INDEX,
				   VSOCK_SHM_XLAT_MEMSLOTS);

	idx = srcu_read_lock(&x.kvm->srcu);
	ret = xlat_extents(pkt, memslot_extent, &x, VSOCK_SHM_XLAT_MEMSLOTS);
	srcu_read_unlock(&x.kvm->srcu, idx);
	return ret;
}

/*
 * Checks that extent [gpa, gpa + n pages) lies in one mapping of the vhost
 * device's memory table that the guest may write, and returns the VMM
 * address of its first page in *hva.
 */
static int iotlb_extent(void *arg, u64 gpa, u32 n, u64 *hva)
{
	struct vhost_iotlb *umem = arg;
	u64 last = gpa + ((u64)n << PAGE_SHIFT) - 1;
	struct vhost_iotlb_map *map;

	map = umem ? vhost_iotlb_itree_first(umem, gpa, last) : NULL;
	if (!map || map->start > gpa || map->last < last)
		return VSHM_E_NOTMAPPABLE;
	if (!(map->perm & VHOST_ACCESS_WO))
		return VSHM_E_RDONLY;
	*hva = map->addr + (gpa - map->start);
	return 0;
}

/*
 * Translation through the vhost device's own memory table (the one the VMM
 * gave with VHOST_SET_MEM_TABLE): works for a VMM without KVM. The table
 * cannot change under us: the hook runs with the TX virtqueue mutex held,
 * which VHOST_SET_MEM_TABLE takes to swap it.
 */
__bpf_kfunc int vsock_shm_translate_iotlb(struct vsock_shm_pkt_ctx *ctx)
{
	struct vsock_shm_pkt *pkt = to_pkt(ctx);
	int ret;

	ret = xlat_applicable(ctx);
	if (ret)
		return ret < 0 ? ret : xlat_result(ctx, ret, VSHM_NO_INDEX, 0);
	return xlat_extents(pkt, iotlb_extent, pkt_mem_table(pkt),
			    VSOCK_SHM_XLAT_IOTLB);
}

/*
 * Translates [gpa, gpa + n pages) again through the source @how named, as
 * the kfuncs did: 0 with *hva set, or an enum vshm_err. For memslots the
 * caller holds kvm->srcu; for the memory table, the TX virtqueue mutex.
 */
int vsock_shm_translate_again(struct kvm *kvm, struct vhost_iotlb *umem,
			      u32 how, u64 gpa, u32 n, u64 *hva)
{
	struct memslot_xlat x = { .kvm = kvm, .umem = umem };

	switch (how) {
	case VSOCK_SHM_XLAT_MEMSLOTS:
		return kvm ? memslot_extent(&x, gpa, n, hva) : VSHM_E_NOTMAPPABLE;
	case VSOCK_SHM_XLAT_IOTLB:
		return iotlb_extent(umem, gpa, n, hva);
	default:
		return VSHM_E_INTERNAL;
	}
}

__bpf_kfunc int vsock_shm_set_verdict(struct vsock_shm_pkt_ctx *ctx,
				      u32 verdict, u32 code, u32 policy)
{
	if (!in_hook(ctx))
		return -EPERM;
	switch (verdict) {
	case VSOCK_SHM_PASS:
		code = 0;
		break;
	case VSOCK_SHM_TRANSLATE:
		if (ctx->msg_type != VSHM_MSG_GPA_LIST || ctx->xlat_status)
			return -EINVAL;
		code = 0;
		break;
	case VSOCK_SHM_REFUSE:
		if (!code || code > VSHM_E_MAX)
			code = VSHM_E_DENIED;
		break;
	default:
		return -EINVAL;
	}
	ctx->verdict = verdict;
	ctx->code = code;
	ctx->policy = policy;
	return 0;
}

/*
 * The policy accepts this GPA_LIST although it comes from an unprivileged
 * guest port (ctx->privileged is 0): any process of the guest may share.
 */
__bpf_kfunc int vsock_shm_allow_unprivileged(struct vsock_shm_pkt_ctx *ctx)
{
	if (!in_hook(ctx))
		return -EPERM;
	if (ctx->msg_type != VSHM_MSG_GPA_LIST)
		return -EINVAL;
	to_pkt(ctx)->unprivileged_ok = true;
	return 0;
}

BTF_KFUNCS_START(vsock_shm_kfunc_ids)
BTF_ID_FLAGS(func, vsock_shm_translate_memslots)
BTF_ID_FLAGS(func, vsock_shm_translate_iotlb)
BTF_ID_FLAGS(func, vsock_shm_set_verdict)
BTF_ID_FLAGS(func, vsock_shm_allow_unprivileged)
BTF_KFUNCS_END(vsock_shm_kfunc_ids)

static const struct btf_kfunc_id_set vsock_shm_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &vsock_shm_kfunc_ids,
};

int vsock_shm_kfuncs_init(void)
{
	return register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING,
					 &vsock_shm_kfunc_set);
}
