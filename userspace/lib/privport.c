// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* A privileged vsock port for a guest socket (see privport.h). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "privport.h"
#include "vsock_shm.h"

#define VSHM_PRIVPORT_LOW	512

#define VSHM_PRIVPORT_COUNT	(VSHM_PRIVILEGED_PORTS - VSHM_PRIVPORT_LOW)

/*
 * Where the next search starts: a port just closed is the last one tried
 * again, as with TCP's ephemeral ports. The host may still hold the old
 * connection of that port (closing), and a new one on the same pair of
 * ports would run into it.
 */
static unsigned int privport_next;

int vshm_bind_privileged(int fd)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
	};
	unsigned int i, start;

	if (!privport_next)
		privport_next = (unsigned int)getpid() * 2654435761U | 1;
	start = privport_next++;
	for (i = 0; i < VSHM_PRIVPORT_COUNT; i++) {
		sa.svm_port = VSHM_PRIVPORT_LOW + (start + i) % VSHM_PRIVPORT_COUNT;
		if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			privport_next = start + i + 1;
			return 0;
		}
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -EADDRINUSE;
}
