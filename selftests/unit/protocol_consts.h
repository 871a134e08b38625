/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit test helper: every wire value the public <vsock-shm/protocol.h>
 * restates from the UAPI header vsock_shm.h (its section under
 * "#ifndef _UAPI_VSOCK_SHM_H"). protocol_pub.c takes them from the public
 * header alone, test_protocol.c from the UAPI header, and compares both
 * tables. install-check.sh checks that this list names exactly what that
 * section defines.
 */
#ifndef UNIT_PROTOCOL_CONSTS_H
#define UNIT_PROTOCOL_CONSTS_H

#include <stddef.h>

#define PROTOCOL_CONSTS(X)						\
	X(VSHM_VERSION) X(VSHM_MAX_MSG) X(VSHM_PAGE_SHIFT)		\
	X(VSHM_PAGE_SIZE) X(VSHM_HUGE_PAGE_SIZE) X(VSHM_PAGES_PER_HUGE)	\
	X(VSHM_NO_INDEX)						\
	X(VSHM_ACCESS_READ) X(VSHM_ACCESS_WRITE) X(VSHM_ACCESS_MASK)	\
	X(VSHM_OK) X(VSHM_E_TRUNC) X(VSHM_E_MAGIC) X(VSHM_E_VERSION)	\
	X(VSHM_E_TYPE) X(VSHM_E_LEN) X(VSHM_E_REGION) X(VSHM_E_RESERVED) \
	X(VSHM_E_COUNT) X(VSHM_E_ALIGN) X(VSHM_E_RANGE) X(VSHM_E_ORDER)	\
	X(VSHM_E_DUP) X(VSHM_E_ALLOC) X(VSHM_E_NOTMAPPABLE)		\
	X(VSHM_E_RDONLY) X(VSHM_E_QUOTA) X(VSHM_E_EXISTS)		\
	X(VSHM_E_NOREGION) X(VSHM_E_FRAG) X(VSHM_E_NOPOLICY)		\
	X(VSHM_E_PIN) X(VSHM_E_NOMEM) X(VSHM_E_BUSY) X(VSHM_E_DENIED)	\
	X(VSHM_E_INTERNAL) X(VSHM_E_PORT) X(VSHM_E_MEMLOCK)	\
	X(VSHM_E_MAX)			\
	X(VSHM_PRIVILEGED_PORTS)					\
	X(VSHM_GPA_LIST_HDR_SIZE) X(VSHM_EXTENT_SIZE)			\
	X(VSHM_GPA_LIST_SIZE(1)) X(VSHM_GPA_LIST_SIZE(4093))		\
	X(VSHM_MAX_EXT_PER_MSG)						\
	X(VSHM_FEAT_REVOKED) X(VSHM_FEAT_COOKIE) X(VSHM_FEAT_NOTIFY)	\
	X(VSHM_FEAT_MASK)						\
	X(VSHM_REVOKE_FREED) X(VSHM_REVOKE_CLOSED) X(VSHM_REVOKE_DEVICE) \
	X(VSHM_REVOKE_MEMMAP) X(VSHM_REVOKE_MIGRATION)			\
	X(VSHM_REVOKE_REFUSED) X(VSHM_REVOKE_MAX)

/* One value: its expression, value and type. */
struct protocol_const {
	const char *name;
	long long value;
	const char *type;
};

#define PROTOCOL_TYPE(c) _Generic((c),					\
	int: "int", unsigned int: "unsigned int",			\
	long: "long", unsigned long: "unsigned long",			\
	long long: "long long", unsigned long long: "unsigned long long", \
	default: "other")

#define PROTOCOL_CONST(c)	{ #c, (long long)(c), PROTOCOL_TYPE(c) },

/* From the public header alone (protocol_pub.c). */
extern const struct protocol_const protocol_consts_public[];
extern const size_t protocol_consts_public_n;

#endif /* UNIT_PROTOCOL_CONSTS_H */
