/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * vsock-shm wire protocol v1: validation of messages and the in-place
 * rewrite of GPA_LIST messages.
 *
 * This header and wire.c build unchanged in the host kernel module and in
 * user space. The code is pure: no allocation, no global state, no library
 * calls; it reads and writes only the buffers it is given. Buffers need no
 * particular alignment (a vsock payload in an skb starts 4 bytes past an
 * 8-byte boundary): every field is accessed with get/put_unaligned_le*().
 */
#ifndef _VHOST_VSOCK_SHM_WIRE_H
#define _VHOST_VSOCK_SHM_WIRE_H

#ifdef __KERNEL__

#include <linux/build_bug.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/version.h>
/* Moved to linux/ in 6.12. */
#if KERNEL_VERSION(6, 12, 0) <= LINUX_VERSION_CODE
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#else /* !__KERNEL__: user-space compat for the kernel helpers used here */

#include <assert.h>
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#ifndef le32_to_cpu
#define le16_to_cpu(x)	le16toh(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)
#define cpu_to_le16(x)	htole16(x)
#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static inline u16 get_unaligned_le16(const void *p)
{
	u16 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline u32 get_unaligned_le32(const void *p)
{
	u32 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline u64 get_unaligned_le64(const void *p)
{
	u64 v;

	__builtin_memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void put_unaligned_le16(u16 val, void *p)
{
	val = htole16(val);
	__builtin_memcpy(p, &val, sizeof(val));
}

static inline void put_unaligned_le32(u32 val, void *p)
{
	val = htole32(val);
	__builtin_memcpy(p, &val, sizeof(val));
}

static inline void put_unaligned_le64(u64 val, void *p)
{
	val = htole64(val);
	__builtin_memcpy(p, &val, sizeof(val));
}

#endif /* __KERNEL__ */

#include "uapi/vsock_shm.h"

/**
 * struct vshm_wire_info - what a check found in a message
 * @type: vshm_hdr.type as received (0 if the buffer is shorter than a header)
 * @region: vshm_hdr.region as received (0 if shorter than a header)
 * @len: vshm_hdr.len as received (0 if shorter than a header)
 * @size: ALLOC: size in bytes
 * @page_size: ALLOC: page size
 * @access: ALLOC: VSHM_ACCESS_* bits
 * @nr_pages: ALLOC, GPA/HPA_LIST, REFUSED, MAPPED, CHUNK_OK: number of 4 KiB
 *	pages
 * @nr_ext: GPA/HPA_LIST, REFUSED: number of extents
 * @first_page: GPA/HPA_LIST, REFUSED, CHUNK_OK: first page of the chunk
 * @total_pages: GPA/HPA_LIST, REFUSED: pages in the region
 * @last: GPA/HPA_LIST, REFUSED: VSHM_CHUNK_LAST is set
 * @ext: GPA/HPA_LIST: first extent, inside the buffer (maybe unaligned:
 *	read it with vshm_wire_ext_get()); NULL otherwise
 * @grant: HPA_LIST, MAPPED: grant id
 * @status: REFUSED: the module's error code
 * @code: ERROR: error code
 * @detail: ERROR, REFUSED: extent index or VSHM_NO_INDEX
 * @orig_type: ERROR: type of the offending message
 * @bad_index: on error, index of the offending extent, else VSHM_NO_INDEX
 * @cookie: ALLOC of 48 bytes: the application's cookie
 * @features: HELLO, HELLO_OK: VSHM_FEAT_* bits
 * @reason: REVOKED: enum vshm_revoke_reason
 * @bits: NOTIFY: the doorbell's bits
 *
 * Fields are filled as far as the check got before it failed; the others
 * are 0 (NULL for @ext).
 */
struct vshm_wire_info {
	u8 type;
	u8 orig_type;
	bool last;
	u32 region;
	u32 len;
	u64 size;
	u32 page_size;
	u32 access;
	u32 nr_pages;
	u32 nr_ext;
	u32 first_page;
	u32 total_pages;
	const void *ext;
	u64 grant;
	u32 status;
	u32 code;
	u32 detail;
	u32 bad_index;
	u64 cookie;
	u64 features;
	u32 reason;
	u32 bits;
};

/* Checks a guest-to-host message (ALLOC, GPA_LIST, FREE, HELLO, NOTIFY). */
int vshm_wire_check(const void *buf, size_t len, struct vshm_wire_info *out);

/*
 * Checks a message produced on the host side (ALLOC_OK, HPA_LIST, REFUSED,
 * MAPPED, FREED, ERROR, CHUNK_OK, HELLO_OK, REVOKED, NOTIFY).
 */
int vshm_wire_check_host(const void *buf, size_t len,
			 struct vshm_wire_info *out);

/* Checks that no two of n extents overlap; scratch_idx holds n entries. */
int vshm_wire_check_dup(const void *ext, u32 n, u32 *scratch_idx);

/* True if buf starts a v1 GPA_LIST, HPA_LIST or REFUSED header. */
bool vshm_wire_is_list(const void *buf, size_t len);

/* Reads or rewrites extent i of the array starting at ext. */
void vshm_wire_ext_get(const void *ext, u32 i, u64 *addr, u32 *npages);
void vshm_wire_ext_set_addr(void *ext, u32 i, u64 addr);

/* Turns a checked GPA_LIST into an HPA_LIST, or any list into a REFUSED. */
void vshm_wire_mark_hpa(void *buf, u64 grant);
int vshm_wire_mark_refused(void *buf, size_t len, u32 code, u32 detail);

/* Rewrites an unparsed packet that could start a message (REFUSED or no magic). */
bool vshm_wire_neuter(void *buf, size_t len, u32 code);
/* True if buf begins with the magic or a prefix of it. */
bool vshm_wire_may_start(const void *buf, size_t len);

/* "VSHM_E_TRUNC" etc.; "VSHM_E_UNKNOWN" for codes this version lacks. */
const char *vshm_err_name(int code);

/* "freed", "closed", ...; "unknown" for reasons this version lacks. */
const char *vshm_revoke_reason_name(unsigned int reason);

#endif /* _VHOST_VSOCK_SHM_WIRE_H */
