// SPDX-License-Identifier: GPL-2.0
/*
 * The values of the public <vsock-shm/protocol.h>, seen without the UAPI
 * header (this file includes nothing else of the project): test_protocol.c
 * compares them with the UAPI header's.
 */
#include <vsock-shm/protocol.h>

#include "protocol_consts.h"

const struct protocol_const protocol_consts_public[] = {
	PROTOCOL_CONSTS(PROTOCOL_CONST)
};
const size_t protocol_consts_public_n =
	sizeof(protocol_consts_public) / sizeof(protocol_consts_public[0]);
