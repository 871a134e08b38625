// SPDX-License-Identifier: GPL-2.0
/* A privileged vsock port for a guest socket (see privport.h). */
#include <errno.h>
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#include "privport.h"
#include "vsock_shm.h"

#define VSHM_PRIVPORT_LOW	512

int vshm_bind_privileged(int fd)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
	};
	unsigned int port;

	for (port = VSHM_PRIVILEGED_PORTS - 1; port >= VSHM_PRIVPORT_LOW; port--) {
		sa.svm_port = port;
		if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		if (errno != EADDRINUSE)
			return -errno;
	}
	return -EADDRINUSE;
}
