// SPDX-License-Identifier: GPL-2.0
/*
 * The policies built into vsock-shmctl: the skeletons bpftool generated from
 * bpf/<name>.bpf.c ($(O)/bpf/<name>.skel.h), each behind the same small
 * table of functions so that policy.c handles them alike.
 */
#include <string.h>

#include <bpf/libbpf.h>

#include "ctl.h"

#include "default.skel.h"
#include "restrict.skel.h"
#include "iotlb.skel.h"

/*
 * Every shipped policy has one program, vsock_shm_policy, and a
 * "const volatile __u32 policy_tag" in .rodata: the skeletons' fields.
 */
#define SHIPPED(n, text)							\
static void *n##_open(const struct bpf_object_open_opts *opts)		\
{									\
	return n##_policy__open_opts(opts);				\
}									\
static struct bpf_object *n##_object(void *skel)			\
{									\
	return ((struct n##_policy *)skel)->obj;			\
}									\
static void n##_set_tag(void *skel, __u32 tag)				\
{									\
	((struct n##_policy *)skel)->rodata->policy_tag = tag;		\
}									\
static int n##_load(void *skel)						\
{									\
	return n##_policy__load(skel);					\
}									\
static int n##_attach(void *skel)					\
{									\
	return n##_policy__attach(skel);				\
}									\
static struct bpf_program *n##_prog(void *skel)				\
{									\
	return ((struct n##_policy *)skel)->progs.vsock_shm_policy;	\
}									\
static struct bpf_link *n##_link(void *skel)				\
{									\
	return ((struct n##_policy *)skel)->links.vsock_shm_policy;	\
}									\
static void n##_destroy(void *skel)					\
{									\
	n##_policy__destroy(skel);					\
}									\
static const struct shipped_policy n##_shipped = {			\
	.name = #n,							\
	.summary = text,						\
	.open = n##_open,						\
	.object = n##_object,						\
	.set_tag = n##_set_tag,						\
	.load = n##_load,						\
	.attach = n##_attach,						\
	.prog = n##_prog,						\
	.link = n##_link,						\
	.destroy = n##_destroy,						\
}

SHIPPED(default, "translate every valid GPA list through the VM's KVM memslots");
SHIPPED(restrict, "like default, only for allowed (CID, port) pairs within a page quota");
SHIPPED(iotlb, "translate through the vhost device's memory table");

const struct shipped_policy *const shipped_policies[] = {
	&default_shipped, &restrict_shipped, &iotlb_shipped,
};
const size_t nr_shipped_policies = ARRAY_SIZE(shipped_policies);

const struct shipped_policy *shipped_find(const char *name)
{
	size_t i;

	for (i = 0; i < nr_shipped_policies; i++)
		if (!strcmp(shipped_policies[i]->name, name))
			return shipped_policies[i];
	return NULL;
}
