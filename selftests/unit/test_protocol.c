// SPDX-License-Identifier: GPL-2.0
/*
 * The public <vsock-shm/protocol.h> restates wire values of the UAPI
 * header vsock_shm.h, which stays their source of truth: every one must
 * be equal, and of the same type (protocol_pub.c sees the
 * public header alone, this file the UAPI header, through proto.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto.h"
#include "protocol_consts.h"

static const struct protocol_const uapi[] = {
	PROTOCOL_CONSTS(PROTOCOL_CONST)
};

Test(protocol_h, restates_the_uapi_values)
{
	size_t i, n = sizeof(uapi) / sizeof(uapi[0]);

	cr_assert_eq(protocol_consts_public_n, n);
	for (i = 0; i < n; i++) {
		const struct protocol_const *p = &protocol_consts_public[i];

		cr_assert_str_eq(p->name, uapi[i].name);
		cr_expect_eq(p->value, uapi[i].value,
			     "%s: %lld in protocol.h, %lld in vsock_shm.h",
			     p->name, p->value, uapi[i].value);
		cr_expect_str_eq(p->type, uapi[i].type, "%s: %s, %s",
				 p->name, p->type, uapi[i].type);
	}
}

/* Every code has a name, from the library both headers declare it in. */
Test(protocol_h, every_code_has_a_name)
{
	int c;

	for (c = VSHM_OK; c <= VSHM_E_MAX; c++)
		cr_expect_neq(strcmp(vshm_err_name(c), "VSHM_E_UNKNOWN"), 0,
			      "code %d", c);
	cr_expect_str_eq(vshm_err_name(VSHM_E_MAX + 1), "VSHM_E_UNKNOWN");
	cr_expect_str_eq(vshm_err_name(VSHM_E_PORT), "VSHM_E_PORT");
}
