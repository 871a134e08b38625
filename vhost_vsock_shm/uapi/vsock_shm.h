/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause */
/*
 * vsock-shm wire protocol, version 1.
 *
 * A guest application shares its anonymous pages with a host server over an
 * AF_VSOCK SOCK_SEQPACKET connection. One message per send(); every message
 * starts with struct vshm_hdr and is at most VSHM_MAX_MSG bytes. All integers
 * are little-endian. Every structure is naturally aligned, its size is a
 * multiple of 8 and it has explicit padding fields that must be zero.
 * Receivers must not assume the buffer itself is aligned.
 *
 * docs/protocol.md is the normative description of this file.
 */
#ifndef _UAPI_VSOCK_SHM_H
#define _UAPI_VSOCK_SHM_H

#include <linux/types.h>

#define VSHM_MAGIC		0x4d485356	/* "VSHM" read as a __le32 */
#define VSHM_VERSION		1

/* Largest message: the largest vsock packet payload. */
#define VSHM_MAX_MSG		65536

/* Pages are always counted in 4 KiB units. */
#define VSHM_PAGE_SHIFT		12
#define VSHM_PAGE_SIZE		4096U
#define VSHM_HUGE_PAGE_SIZE	2097152U	/* 2 MiB */
#define VSHM_PAGES_PER_HUGE	(VSHM_HUGE_PAGE_SIZE / VSHM_PAGE_SIZE)

/* Physical addresses (guest or host) end at or below 2^52. */
#define VSHM_PHYS_BITS		52
#define VSHM_PHYS_LIMIT		0x10000000000000ULL	/* 2^52 */

/* "No extent index" in vshm_error.detail and in a REFUSED's detail. */
#define VSHM_NO_INDEX		0xffffffffU

/* Message types (vshm_hdr.type). g->h: guest to host, h->g: host to guest. */
enum vshm_msg_type {
	VSHM_MSG_ALLOC		= 1,	/* g->h: struct vshm_alloc */
	VSHM_MSG_ALLOC_OK	= 2,	/* h->g: header only */
	VSHM_MSG_GPA_LIST	= 3,	/* g->h: struct vshm_gpa_list */
	VSHM_MSG_HPA_LIST	= 4,	/* module->server: translated GPA_LIST */
	VSHM_MSG_REFUSED	= 5,	/* module->server: refused GPA_LIST */
	VSHM_MSG_MAPPED		= 6,	/* h->g: struct vshm_mapped */
	VSHM_MSG_FREE		= 7,	/* g->h: header only */
	VSHM_MSG_FREED		= 8,	/* h->g: header only */
	VSHM_MSG_ERROR		= 9,	/* h->g: struct vshm_error */
	VSHM_MSG_CHUNK_OK	= 10,	/* h->g: struct vshm_chunk_ok */
	/* Since the features (docs/protocol.md, section 12): */
	VSHM_MSG_HELLO		= 11,	/* g->h: struct vshm_hello */
	VSHM_MSG_HELLO_OK	= 12,	/* h->g: struct vshm_hello */
	VSHM_MSG_REVOKED	= 13,	/* h->g: struct vshm_revoked */
	VSHM_MSG_NOTIFY		= 14,	/* both ways: struct vshm_notify */
};

#define VSHM_MSG_TYPE_MAX	VSHM_MSG_NOTIFY

/*
 * Features, offered by the guest in HELLO and accepted by the host in
 * HELLO_OK (a subset). A peer uses a feature only once both agreed; one
 * that never sent or got HELLO speaks plain version 1. An older host
 * answers HELLO with ERROR(VSHM_E_TYPE) for the HELLO's region: no
 * features, and nothing else changes.
 */
#define VSHM_FEAT_REVOKED	0x1ULL	/* host sends REVOKED */
#define VSHM_FEAT_COOKIE	0x2ULL	/* ALLOC may carry a cookie (48 bytes) */
#define VSHM_FEAT_NOTIFY	0x4ULL	/* NOTIFY, both ways */
#define VSHM_FEAT_MASK		0x7ULL

/* vshm_alloc.access */
#define VSHM_ACCESS_READ	0x1U
#define VSHM_ACCESS_WRITE	0x2U
#define VSHM_ACCESS_MASK	(VSHM_ACCESS_READ | VSHM_ACCESS_WRITE)

/* vshm_gpa_list.chunk_flags */
#define VSHM_CHUNK_LAST		0x0001U
#define VSHM_CHUNK_MASK		VSHM_CHUNK_LAST

/* Status and error codes: 0 is success, every error is positive. */
enum vshm_err {
	VSHM_OK			= 0,
	/* Found by the message validator (wire.c). */
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
	VSHM_E_MEMLOCK		= 27,	/* over the VMM's RLIMIT_MEMLOCK: detail is
					 * that limit in 4 KiB pages
					 */
};

#define VSHM_E_MAX		VSHM_E_MEMLOCK

/*
 * Guest ports below this need CAP_NET_BIND_SERVICE in the guest: only
 * GPA_LISTs sent from them are translated, unless the policy accepts
 * others (docs/security.md).
 */
#define VSHM_PRIVILEGED_PORTS	1024

/* 16 bytes; starts every message. */
struct vshm_hdr {
	__le32	magic;		/* VSHM_MAGIC */
	__u8	version;	/* VSHM_VERSION */
	__u8	type;		/* enum vshm_msg_type */
	__le16	flags;		/* none defined in version 1: must be 0 */
	__le32	len;		/* whole message, header included */
	__le32	region;		/* guest-chosen id, != 0 */
};

/*
 * VSHM_MSG_ALLOC, 40 bytes; 48 (struct vshm_alloc_cookie) with
 * VSHM_FEAT_COOKIE.
 */
struct vshm_alloc {
	struct vshm_hdr hdr;
	__le64	size;		/* bytes, a nonzero multiple of page_size */
	__le32	page_size;	/* VSHM_PAGE_SIZE or VSHM_HUGE_PAGE_SIZE */
	__le32	access;		/* VSHM_ACCESS_* bits, nonzero */
	__le32	nr_pages;	/* size / VSHM_PAGE_SIZE */
	__le32	pad;		/* 0 */
};

/*
 * VSHM_MSG_ALLOC with the application's cookie (VSHM_FEAT_COOKIE), 48
 * bytes: the host shows the cookie with the region, never interprets it.
 */
struct vshm_alloc_cookie {
	struct vshm_alloc alloc;
	__le64	cookie;
};

/* One run of physically contiguous 4 KiB pages, 16 bytes. */
struct vshm_extent {
	__le64	addr;		/* GPA (HPA after rewrite), 4 KiB aligned */
	__le32	npages;		/* >= 1 */
	__le32	pad;		/* 0 */
};

/*
 * VSHM_MSG_GPA_LIST, VSHM_MSG_HPA_LIST and VSHM_MSG_REFUSED:
 * 48 bytes followed by nr_ext extents.
 */
struct vshm_gpa_list {
	struct vshm_hdr hdr;
	__le64	grant;		/* 0 from the guest; HPA_LIST: grant id;
				 * REFUSED: detail (extent index or
				 * VSHM_NO_INDEX)
				 */
	__le32	status;		/* 0 from the guest; REFUSED: enum vshm_err */
	__le32	first_page;	/* index of this chunk's first 4 KiB page */
	__le32	nr_pages;	/* pages in this chunk: sum of ext[].npages */
	__le32	total_pages;	/* pages in the region, same in every chunk */
	__le16	nr_ext;		/* >= 1 */
	__le16	chunk_flags;	/* VSHM_CHUNK_LAST on the final chunk */
	__le32	pad;		/* 0 */
	struct vshm_extent ext[];
};

/* VSHM_MSG_MAPPED, 32 bytes. */
struct vshm_mapped {
	struct vshm_hdr hdr;
	__le64	grant;		/* the region's grant id, != 0 */
	__le32	nr_pages;	/* pages mapped: the region's total */
	__le32	pad;		/* 0 */
};

/* VSHM_MSG_ERROR, 32 bytes. */
struct vshm_error {
	struct vshm_hdr hdr;
	__le32	code;		/* enum vshm_err, != 0 */
	__le32	detail;		/* extent index or VSHM_NO_INDEX */
	__u8	orig_type;	/* type of the offending message, 0 if none */
	__u8	pad[7];		/* 0 */
};

/*
 * VSHM_MSG_CHUNK_OK, 32 bytes: the host took a GPA_LIST chunk that is not
 * the region's last one. The guest sends one chunk at a time and waits for
 * CHUNK_OK (or MAPPED after the last chunk, or ERROR) before the next.
 */
struct vshm_chunk_ok {
	struct vshm_hdr hdr;
	__le32	first_page;	/* the chunk's first_page, as received */
	__le32	nr_pages;	/* the chunk's nr_pages, != 0 */
	__le64	pad;		/* 0 */
};

/*
 * VSHM_MSG_HELLO and VSHM_MSG_HELLO_OK, 32 bytes. HELLO is the first
 * message of a connection, if any; hdr.region is any nonzero id and the
 * answer (HELLO_OK, or ERROR from an older host) carries the same.
 */
struct vshm_hello {
	struct vshm_hdr hdr;
	__le64	features;	/* HELLO: offered; HELLO_OK: accepted, a subset */
	__le64	pad;		/* 0 */
};

/* Why a grant was revoked (REVOKED, and the mapper's revocation events). */
enum vshm_revoke_reason {
	VSHM_REVOKE_FREED	= 1,	/* the guest freed the region (FREE) */
	VSHM_REVOKE_CLOSED	= 2,	/* its connection ended, either side */
	VSHM_REVOKE_DEVICE	= 3,	/* the VM's vsock device stopped, was
					 * reset, changed CID or went away
					 */
	VSHM_REVOKE_MEMMAP	= 4,	/* the VM's memory under it changed */
	VSHM_REVOKE_MIGRATION	= 5,	/* a live migration started */
	VSHM_REVOKE_REFUSED	= 6,	/* a later chunk of it was refused */
};

#define VSHM_REVOKE_MAX		VSHM_REVOKE_REFUSED

/*
 * VSHM_MSG_REVOKED, 32 bytes, unsolicited (VSHM_FEAT_REVOKED): the host no
 * longer maps the region. It stays live for the guest until FREE/FREED.
 */
struct vshm_revoked {
	struct vshm_hdr hdr;
	__le64	grant;		/* the region's grant id, != 0 */
	__le32	reason;		/* enum vshm_revoke_reason */
	__le32	pad;		/* 0 */
};

/*
 * VSHM_MSG_NOTIFY, 24 bytes, either way (VSHM_FEAT_NOTIFY): a doorbell for
 * a mapped region. Never answered; the receiver drops one it cannot use.
 */
struct vshm_notify {
	struct vshm_hdr hdr;
	__le32	bits;		/* != 0, meaning agreed by the applications */
	__le32	pad;		/* 0 */
};

#define VSHM_HDR_SIZE		16
#define VSHM_ALLOC_SIZE		40
#define VSHM_ALLOC_COOKIE_SIZE	48
#define VSHM_HELLO_SIZE		32
#define VSHM_REVOKED_SIZE	32
#define VSHM_NOTIFY_SIZE	24
#define VSHM_GPA_LIST_HDR_SIZE	48
#define VSHM_EXTENT_SIZE	16
#define VSHM_MAPPED_SIZE	32
#define VSHM_ERROR_SIZE		32
#define VSHM_CHUNK_OK_SIZE	32
#define VSHM_GPA_LIST_SIZE(n)	(VSHM_GPA_LIST_HDR_SIZE + (n) * VSHM_EXTENT_SIZE)

/* Extents in one GPA_LIST: (65536 - 16 - 32) / 16 = 4093. */
#define VSHM_MAX_EXT_PER_MSG \
	((VSHM_MAX_MSG - VSHM_GPA_LIST_HDR_SIZE) / VSHM_EXTENT_SIZE)

/*
 * Host mapper: /dev/vsock-shm-mapper (module vsock_shm_mapper).
 *
 * A host server that received an HPA_LIST on a connected AF_VSOCK socket
 * maps the region's pages into its address space:
 *
 *	struct vshm_map_req req = { .sock_fd = conn, .grant = grant };
 *	ioctl(mapper_fd, VSHM_IOC_MAP_GRANT, &req);
 *	p = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED,
 *		 mapper_fd, req.offset);
 *
 * The grant must be live, complete (every chunk received) and belong to the
 * connection sock_fd is that very host socket of (not another socket with
 * the same addresses). The mapping is revoked (later accesses get SIGBUS)
 * when the guest frees the region, the connection ends (either side, or the
 * server closes the socket), the device stops, changes CID or goes away,
 * or the guest's memory under it changes or is being migrated; the pages
 * are unpinned only after that. The extents' addresses in an HPA_LIST are
 * 0 for a server without CAP_SYS_ADMIN.
 */
#define VSHM_MAPPER_IOC_MAGIC	0xB7

struct vshm_map_req {
	__s32	sock_fd;	/* in: connected AF_VSOCK socket */
	__u32	flags;		/* in: 0 */
	__u64	grant;		/* in: grant id (HPA_LIST / MAPPED) */
	__u64	offset;		/* out: mmap offset on this mapper fd */
	__u64	size;		/* out: bytes, nr_pages * VSHM_PAGE_SIZE */
	__u32	nr_pages;	/* out: 4 KiB pages in the grant */
	__u32	access;		/* out: VSHM_ACCESS_* the guest granted */
	__u64	pin_ns;		/* out: time the module spent translating
				 * and pinning the region's pages
				 */
	__u32	nr_runs;	/* out: runs of host-contiguous pages */
	__u32	pad;		/* 0 */
};

struct vshm_unmap_req {
	__u64	grant;		/* in: grant id mapped on this fd */
};

/*
 * Revocation events: read(2) on a mapper fd returns, for grants this fd
 * authorized (and has not unmapped), one struct vshm_revoke_event per
 * grant revoked since, each at most once, in the order they happened.
 * The count must hold at least one event (EINVAL); the read returns whole
 * events only, blocks while there is none (EAGAIN with O_NONBLOCK), and
 * poll(2) reports POLLIN while one is pending. Unmapping a grant drops its
 * pending event.
 */
struct vshm_revoke_event {
	__u64	grant;		/* grant id */
	__u32	reason;		/* enum vshm_revoke_reason */
	__u32	pad;		/* 0 */
};

/* Authorize this fd to mmap a grant; returns where. */
#define VSHM_IOC_MAP_GRANT	_IOWR(VSHM_MAPPER_IOC_MAGIC, 1, struct vshm_map_req)
/* Drop this fd's authorization (munmap first: existing mappings stay). */
#define VSHM_IOC_UNMAP_GRANT	_IOW(VSHM_MAPPER_IOC_MAGIC, 2, struct vshm_unmap_req)

#endif /* _UAPI_VSOCK_SHM_H */
