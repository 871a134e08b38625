/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * vsock-shm host server library, private header: the public API
 * (userspace/include/vsock-shm/server.h, which documents it), the session
 * state machine it runs per connection (session.h), and what only the
 * project's own tests use. Nothing declared here but the public API is
 * exported by libvsock-shm-server.so; the programs and tests that need
 * more link the internal archive libvsockshm.a.
 */
#ifndef VSHM_SERVER_H
#define VSHM_SERVER_H

#include "session.h"
#include "../include/vsock-shm/server.h"

/*
 * vshm_server_new(), serving listen_fd (an already listening
 * SOCK_SEQPACKET socket of any family; the unit tests use AF_UNIX) instead
 * of opening the vsock port; cfg->port is then ignored. s owns listen_fd,
 * also on error.
 */
struct vshm_server *vshm_server_new_on_fd(const struct vshm_server_cfg *cfg,
					  int listen_fd);

/*
 * The unit tests' revocation source: s reads struct vshm_revoke_event
 * records from fd (non-blocking, pollable: a pipe or a socket) instead of
 * its mapper, and owns fd from now on. Returns 0, -EINVAL, or -EPERM if
 * fd cannot be polled (then it is not read).
 */
int vshm_server_set_events_fd(struct vshm_server *s, int fd);

#endif /* VSHM_SERVER_H */
