/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm: the protocol values an application of the guest library
 * (<vsock-shm/guest.h>) or of the host server library (<vsock-shm/server.h>)
 * needs: access flags, error codes, sizes, and why a region ended.
 * docs/protocol.md describes the protocol.
 *
 * The wire values below restate the kernel module's UAPI header
 * (vsock_shm.h), which stays their single source of truth; the project's
 * unit tests check that both agree. A program that includes that UAPI
 * header too must include it before this one, and then gets its
 * definitions (the same names and values).
 *
 * Nothing here depends on the library's version: these values are the
 * protocol's (version VSHM_VERSION) and never change within it.
 */
#ifndef VSOCK_SHM_PROTOCOL_H
#define VSOCK_SHM_PROTOCOL_H

#include <stdint.h>

/* Marks the functions the libraries export (the rest is hidden). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define VSHM_API	__attribute__((visibility("default")))
#else
#define VSHM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef _UAPI_VSOCK_SHM_H

/* Protocol version spoken by this library. */
#define VSHM_VERSION		1

/* Largest message: the largest vsock packet payload. */
#define VSHM_MAX_MSG		65536

/* Pages are always counted in 4 KiB units. */
#define VSHM_PAGE_SHIFT		12
#define VSHM_PAGE_SIZE		4096U
#define VSHM_HUGE_PAGE_SIZE	2097152U	/* 2 MiB */
#define VSHM_PAGES_PER_HUGE	(VSHM_HUGE_PAGE_SIZE / VSHM_PAGE_SIZE)

/* "No extent index" in an error's detail. */
#define VSHM_NO_INDEX		0xffffffffU

/* Access a guest grants to a region (vshm_share(), r->access). */
#define VSHM_ACCESS_READ	0x1U
#define VSHM_ACCESS_WRITE	0x2U
#define VSHM_ACCESS_MASK	(VSHM_ACCESS_READ | VSHM_ACCESS_WRITE)

/*
 * Error codes of the protocol: what the host answers in ERROR (the guest's
 * vshm_guest_last_error()), and what a server's on_mapped may refuse a
 * region with. 0 is success, every error is positive; vshm_err_name()
 * gives the name.
 */
enum vshm_err {
	VSHM_OK			= 0,
	/* Found by the message validator. */
	VSHM_E_TRUNC		= 1,	/* buffer shorter than the header */
	VSHM_E_MAGIC		= 2,	/* bad magic */
	VSHM_E_VERSION		= 3,	/* unknown protocol version */
	VSHM_E_TYPE		= 4,	/* unknown type or wrong direction */
	VSHM_E_LEN		= 5,	/* a length or size does not add up */
	VSHM_E_REGION		= 6,	/* region id 0 */
	VSHM_E_RESERVED		= 7,	/* nonzero flag, pad or reserved field */
	VSHM_E_COUNT		= 8,	/* a count is 0 or out of bounds */
	VSHM_E_ALIGN		= 9,	/* address not 4 KiB aligned */
	VSHM_E_RANGE		= 10,	/* beyond 2^52, or value out of range */
	VSHM_E_ORDER		= 11,	/* LAST flag does not match the chunk */
	VSHM_E_DUP		= 12,	/* extents of one list overlap */
	VSHM_E_ALLOC		= 13,	/* bad ALLOC parameters */
	/* Found by the host module or the host server. */
	VSHM_E_NOTMAPPABLE	= 14,	/* GPA outside every usable memslot */
	VSHM_E_RDONLY		= 15,	/* write access to a read-only memslot */
	VSHM_E_QUOTA		= 16,	/* host page or region quota exceeded */
	VSHM_E_EXISTS		= 17,	/* region id already live */
	VSHM_E_NOREGION		= 18,	/* unknown region, or wrong state */
	VSHM_E_FRAG		= 19,	/* message not received in one packet */
	VSHM_E_NOPOLICY		= 20,	/* no translation policy loaded */
	VSHM_E_PIN		= 21,	/* host could not pin a page */
	VSHM_E_NOMEM		= 22,	/* host out of memory */
	VSHM_E_BUSY		= 23,	/* host busy, retry later */
	VSHM_E_DENIED		= 24,	/* refused by policy */
	VSHM_E_INTERNAL		= 25,	/* host bug */
	VSHM_E_PORT		= 26,	/* shared from an unprivileged guest port */
	VSHM_E_MEMLOCK		= 27	/* over the VM's RLIMIT_MEMLOCK (its VMM's);
					 * detail: that limit in 4 KiB pages */
};

/* The highest code of this protocol version. */
#define VSHM_E_MAX		VSHM_E_MEMLOCK

/*
 * Guest ports below this need CAP_NET_BIND_SERVICE in the guest: the host
 * shares only from them, unless its policy accepts others (VSHM_E_PORT).
 */
#define VSHM_PRIVILEGED_PORTS	1024

/*
 * Sizes of a GPA_LIST message: what vshm_guest_set_max_msg() accepts lies
 * between VSHM_GPA_LIST_SIZE(1) and VSHM_MAX_MSG.
 */
#define VSHM_GPA_LIST_HDR_SIZE	48
#define VSHM_EXTENT_SIZE	16
#define VSHM_GPA_LIST_SIZE(n)	(VSHM_GPA_LIST_HDR_SIZE + (n) * VSHM_EXTENT_SIZE)

/* Extents in one GPA_LIST: 4093. */
#define VSHM_MAX_EXT_PER_MSG \
	((VSHM_MAX_MSG - VSHM_GPA_LIST_HDR_SIZE) / VSHM_EXTENT_SIZE)

/*
 * Features a guest and a host agree on when the connection starts
 * (vshm_guest_features(), docs/protocol.md section 12): a peer that does not
 * know them speaks the protocol without them.
 */
#define VSHM_FEAT_REVOKED	0x1ULL	/* the host says when it revoked */
#define VSHM_FEAT_COOKIE	0x2ULL	/* a region carries a cookie */
#define VSHM_FEAT_NOTIFY	0x4ULL	/* doorbells, both ways */
#define VSHM_FEAT_MASK		0x7ULL

/*
 * Why the host revoked a region's mapping (the server's on_revoked, the
 * guest's revocation event). Later versions may add reasons.
 */
enum vshm_revoke_reason {
	VSHM_REVOKE_FREED	= 1,	/* the guest freed the region */
	VSHM_REVOKE_CLOSED	= 2,	/* its connection ended, either side */
	VSHM_REVOKE_DEVICE	= 3,	/* the VM's vsock device stopped, was
					 * reset, changed CID or went away:
					 * the guest is gone */
	VSHM_REVOKE_MEMMAP	= 4,	/* the VM's memory under it changed */
	VSHM_REVOKE_MIGRATION	= 5,	/* a live migration of the VM started */
	VSHM_REVOKE_REFUSED	= 6	/* a later chunk of it was refused */
};

/* The highest reason of this version. */
#define VSHM_REVOKE_MAX		VSHM_REVOKE_REFUSED

#endif /* !_UAPI_VSOCK_SHM_H */

/* One run of contiguous 4 KiB pages, in CPU byte order. */
struct vshm_run {
	uint64_t addr;		/* physical address, 4 KiB aligned */
	uint32_t npages;	/* >= 1 */
};

/* Why a region ended (the server's on_ended). */
enum vshm_end_reason {
	VSHM_END_FREED = 1,	/* the guest sent FREE; FREED answers it */
	/* The connection ended without FREE: */
	VSHM_END_CLOSED,	/* the guest closed it (end of stream) */
	VSHM_END_RESET,		/* it was reset or failed: the VM went away, a
				 * receive or send error, a guest that does
				 * not read its answers */
	VSHM_END_PROTOCOL,	/* the host closed it after an ERROR for
				 * region 0 (docs/protocol.md, 9.3) */
	VSHM_END_SHUTDOWN	/* the host is shutting down (server or
				 * session freed) */
};

/*
 * "freed", "closed", "device", "memmap", "migration", "refused" for an
 * enum vshm_revoke_reason; "unknown" otherwise. Exported by both libraries.
 */
VSHM_API const char *vshm_revoke_reason_name(unsigned int reason);

/*
 * "VSHM_E_TRUNC" etc. for an enum vshm_err code ("VSHM_OK" for 0);
 * "VSHM_E_UNKNOWN" for codes this version lacks. Exported by both
 * libraries.
 */
VSHM_API const char *vshm_err_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* VSOCK_SHM_PROTOCOL_H */
