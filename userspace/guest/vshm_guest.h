/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm guest library, private header: the public API
 * (userspace/include/vsock-shm/guest.h, which documents it) and what only
 * the project's own tests use. Nothing declared here is exported by
 * libvsock-shm-guest.so; the programs and tests that need it link the
 * internal archive libvsockshm.a.
 */
#ifndef VSHM_GUEST_H
#define VSHM_GUEST_H

#include <stddef.h>
#include <sys/socket.h>

#include "proto.h"
#include "../include/vsock-shm/guest.h"

/*
 * Takes a connected SOCK_SEQPACKET socket (any family: the unit tests use
 * a UNIX socketpair). The connection owns fd from then on, also on error.
 */
struct vshm_guest *vshm_guest_from_fd(int fd);

/*
 * The same, then what vshm_guest_connect_opts() does after connecting
 * (timeout, HELLO unless VSHM_GUEST_PLAIN); cid, port and connect_wait_ms
 * are not used. Owns fd, also on error.
 */
struct vshm_guest *vshm_guest_start_fd(int fd, const struct vshm_guest_opts *o);

/*
 * vshm_guest_connect_opts() to any SOCK_SEQPACKET address (the unit tests
 * use a UNIX one): cid and port of o are not used; a privileged port is
 * bound and the connect timeout set only for AF_VSOCK.
 */
struct vshm_guest *vshm_guest_connect_addr(const struct sockaddr *sa,
					   socklen_t len,
					   const struct vshm_guest_opts *o);

/*
 * Raw access for hostile tests: send one message as is; receive one
 * message within timeout_ms (< 0: the connection's timeout). They bypass
 * the library's bookkeeping (stop-and-wait is then the caller's business).
 * send returns 0 or a negative errno; recv returns the message length
 * (truncated to cap) or a negative errno (-ETIMEDOUT, -ECONNRESET on EOF).
 */
int vshm_guest_send_raw(struct vshm_guest *g, const void *msg, size_t len);
int vshm_guest_recv_raw(struct vshm_guest *g, void *buf, size_t cap,
			int timeout_ms);

#endif /* VSHM_GUEST_H */
