/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module tracepoint translation policies attach to (SEC("tp_btf/...")).
 * It has no trace event (no tracefs format): it exists for BPF only, and
 * costs a static branch while nothing is attached.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vsock_shm

#if !defined(_VHOST_VSOCK_SHM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _VHOST_VSOCK_SHM_TRACE_H

#include <linux/tracepoint.h>

struct vsock_shm_pkt_ctx;

DECLARE_TRACE(vsock_shm_guest_pkt,
	      TP_PROTO(struct vsock_shm_pkt_ctx *ctx),
	      TP_ARGS(ctx));

#endif /* _VHOST_VSOCK_SHM_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
