/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm wire protocol v1 for user space: encoders and a decoder for
 * every message type, built on the shared validator (wire.h). See
 * docs/protocol.md.
 *
 * Buffers need no particular alignment. The encoders validate their
 * arguments with the same rules as the decoder, so they never produce a
 * message the peer would reject; on error the buffer content is undefined.
 */
#ifndef VSHM_PROTO_H
#define VSHM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The public <vsock-shm/protocol.h> restates wire values of the UAPI
 * header; it steps aside when that header came first, which it must.
 */
#if defined(VSOCK_SHM_PROTOCOL_H) && !defined(_UAPI_VSOCK_SHM_H)
#error "include the private headers (proto.h, ...) before <vsock-shm/*.h>"
#endif

#include "wire.h"
/* struct vshm_run, enum vshm_end_reason, vshm_err_name() */
#include "../include/vsock-shm/protocol.h"

/* A decoded message. Only the member of the union for @type is set. */
struct vshm_msg {
	uint8_t type;		/* enum vshm_msg_type */
	uint32_t region;
	uint32_t len;		/* whole message */
	uint32_t bad_index;	/* on a decode error: extent index or VSHM_NO_INDEX */
	union {
		struct {			/* ALLOC */
			uint64_t size;
			uint32_t page_size;
			uint32_t access;
			uint32_t nr_pages;
			bool has_cookie;	/* 48 bytes (VSHM_FEAT_COOKIE) */
			uint64_t cookie;	/* 0 without */
		} alloc;
		struct {			/* HELLO, HELLO_OK */
			uint64_t features;	/* VSHM_FEAT_* */
		} hello;
		struct {			/* REVOKED */
			uint64_t grant;
			uint32_t reason;	/* enum vshm_revoke_reason */
		} revoked;
		struct {			/* NOTIFY */
			uint32_t bits;
		} notify;
		struct {			/* GPA_LIST, HPA_LIST, REFUSED */
			uint64_t grant;		/* HPA_LIST only */
			uint32_t status;	/* REFUSED: enum vshm_err */
			uint32_t detail;	/* REFUSED: index or VSHM_NO_INDEX */
			uint32_t first_page;
			uint32_t nr_pages;
			uint32_t total_pages;
			uint32_t nr_ext;
			bool last;
			const void *ext;	/* NULL for REFUSED; use vshm_msg_run() */
		} list;
		struct {			/* MAPPED */
			uint64_t grant;
			uint32_t nr_pages;
		} mapped;
		struct {			/* ERROR */
			uint32_t code;
			uint32_t detail;
			uint8_t orig_type;
		} error;
		struct {			/* CHUNK_OK */
			uint32_t first_page;
			uint32_t nr_pages;
		} chunk_ok;
	};
};

/*
 * Encoders: write one message into buf (cap bytes) and return its length,
 * -ENOSPC if cap is too small, or -EINVAL if buf is NULL or an argument
 * breaks a protocol rule (region 0 except in ERROR, bad ALLOC parameters,
 * bad or overlapping runs, first_page + nr_pages > total_pages, ...).
 */
ssize_t vshm_encode_alloc(void *buf, size_t cap, uint32_t region,
			  uint64_t size, uint32_t page_size, uint32_t access);
/* ALLOC with the application's cookie: 48 bytes (VSHM_FEAT_COOKIE). */
ssize_t vshm_encode_alloc_cookie(void *buf, size_t cap, uint32_t region,
				 uint64_t size, uint32_t page_size,
				 uint32_t access, uint64_t cookie);
ssize_t vshm_encode_alloc_ok(void *buf, size_t cap, uint32_t region);
/* HELLO offers features, HELLO_OK accepts some (VSHM_FEAT_*, no others). */
ssize_t vshm_encode_hello(void *buf, size_t cap, uint32_t region,
			  uint64_t features);
ssize_t vshm_encode_hello_ok(void *buf, size_t cap, uint32_t region,
			     uint64_t features);
/* REVOKED: grant != 0, reason an enum vshm_revoke_reason != 0. */
ssize_t vshm_encode_revoked(void *buf, size_t cap, uint32_t region,
			    uint64_t grant, uint32_t reason);
/* NOTIFY: a doorbell, bits != 0. */
ssize_t vshm_encode_notify(void *buf, size_t cap, uint32_t region,
			   uint32_t bits);
/*
 * One GPA_LIST chunk: nr_pages is the sum of runs[].npages; VSHM_CHUNK_LAST
 * is set iff first_page + nr_pages == total_pages. n is 1..4093.
 */
ssize_t vshm_encode_gpa_list(void *buf, size_t cap, uint32_t region,
			     uint32_t first_page, uint32_t total_pages,
			     const struct vshm_run *runs, size_t n);
ssize_t vshm_encode_mapped(void *buf, size_t cap, uint32_t region,
			   uint64_t grant, uint32_t nr_pages);
ssize_t vshm_encode_free(void *buf, size_t cap, uint32_t region);
ssize_t vshm_encode_freed(void *buf, size_t cap, uint32_t region);
ssize_t vshm_encode_error(void *buf, size_t cap, uint32_t region,
			  uint32_t code, uint32_t detail, uint8_t orig_type);
/* The answer to a GPA_LIST chunk that is not the last: echoes its pages. */
ssize_t vshm_encode_chunk_ok(void *buf, size_t cap, uint32_t region,
			     uint32_t first_page, uint32_t nr_pages);

/*
 * Decodes any message: guest-to-host ones with vshm_wire_check() plus the
 * overlap check for GPA_LIST, host-side ones with vshm_wire_check_host().
 * Returns 0; -EINVAL if buf or out is NULL; or the positive enum vshm_err of
 * the first failed rule (out->type/region/bad_index then tell what is known).
 */
int vshm_decode(const void *buf, size_t len, struct vshm_msg *out);

/* Run i of a decoded GPA_LIST or HPA_LIST (i < out->list.nr_ext). */
struct vshm_run vshm_msg_run(const struct vshm_msg *msg, uint32_t i);

/* "ALLOC", "GPA_LIST", ...; "UNKNOWN" otherwise. */
const char *vshm_msg_type_name(unsigned int type);

#endif /* VSHM_PROTO_H */
