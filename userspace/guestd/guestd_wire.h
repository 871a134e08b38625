/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * What vshm-guestd and its clients (guestd.h) say to each other over the
 * daemon's UNIX SOCK_SEQPACKET socket: one struct guestd_msg per message,
 * in the CPU's byte order (both ends run in the same guest). The client
 * sends requests and waits for each answer (GUESTD_REPLY with the
 * request's seq); the daemon sends GUESTD_EVENT messages at any time. A
 * SHARE request carries the memfd as SCM_RIGHTS.
 *
 * Private: not installed. docs/guestd.md describes it.
 */
#ifndef VSHM_GUESTD_WIRE_H
#define VSHM_GUESTD_WIRE_H

#include <stdint.h>

#define GUESTD_MAGIC	0x44545356U	/* "VSTD" */
#define GUESTD_VERSION	1

enum guestd_op {
	GUESTD_CONNECT	= 1,	/* cid, port, wait_ms -> features */
	GUESTD_SHARE	= 2,	/* offset, size, access, cookie + memfd ->
				 * region, grant
				 */
	GUESTD_FREE	= 3,	/* region */
	GUESTD_NOTIFY	= 4,	/* region, bits */
	GUESTD_REPLY	= 0x81,	/* daemon: the answer to seq */
	GUESTD_EVENT	= 0x82,	/* daemon: event (REVOKED, NOTIFY) */
};

#define GUESTD_TEXT	160

struct guestd_msg {
	uint32_t magic;		/* GUESTD_MAGIC */
	uint16_t version;	/* GUESTD_VERSION */
	uint16_t op;		/* enum guestd_op */
	uint32_t seq;		/* request number; REPLY: the request's */
	int32_t err;		/* REPLY: 0 or a negative errno */
	uint32_t code;		/* REPLY: the host's ERROR code, or 0 */
	uint32_t detail;	/* REPLY: its detail */
	uint32_t cid;		/* CONNECT */
	uint32_t port;		/* CONNECT */
	int32_t wait_ms;	/* CONNECT */
	uint32_t region;	/* SHARE (reply), FREE, NOTIFY, EVENT */
	uint32_t access;	/* SHARE */
	uint32_t bits;		/* NOTIFY, EVENT (NOTIFY) */
	uint32_t event;		/* EVENT: enum vshm_guestd_event_type */
	uint32_t reason;	/* EVENT (REVOKED) */
	uint64_t offset;	/* SHARE */
	uint64_t size;		/* SHARE */
	uint64_t cookie;	/* SHARE */
	uint64_t grant;		/* SHARE (reply) */
	uint64_t features;	/* CONNECT (reply) */
	char text[GUESTD_TEXT];	/* REPLY: why it failed, NUL-terminated */
};

#endif /* VSHM_GUESTD_WIRE_H */
