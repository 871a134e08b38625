/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * A privileged vsock port for a guest socket: the host module translates
 * GPA lists only from guest ports below VSHM_PRIVILEGED_PORTS, which need
 * CAP_NET_BIND_SERVICE in the guest (docs/security.md).
 */
#ifndef VSHM_PRIVPORT_H
#define VSHM_PRIVPORT_H

/*
 * Binds the AF_VSOCK socket @fd to a free port below VSHM_PRIVILEGED_PORTS
 * (512 to 1023, each call starting past the port the last one took, so a
 * port just closed is not taken again at once). Returns 0, -EACCES when the
 * caller may not bind one (no CAP_NET_BIND_SERVICE), -EADDRINUSE when all
 * are taken, or another negative errno. Not thread-safe.
 */
int vshm_bind_privileged(int fd);

#endif /* VSHM_PRIVPORT_H */
