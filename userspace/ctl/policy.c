// SPDX-License-Identifier: GPL-2.0
/*
 * policy load | swap | unload, and the dispatch of the policy commands: the
 * translation policy, a BPF program on the module tracepoint
 * vsock_shm_guest_pkt, pinned under /sys/fs/bpf/vsock_shm/<name>/ (pins.c).
 * One policy is active at a time.
 *
 * Loading (loader.c): open, give it a free policy_tag, load, attach, pin
 * everything under _new-<name>, rename to <name>. Swapping is
 * make-before-break: the new policy is attached and pinned while the old
 * one still is (the newer runs last and its verdict wins); then the old
 * directory is renamed aside, the new one into place, and the old link is
 * unpinned, which detaches it. The tracepoint is never without a policy,
 * and a policy that fails to load leaves the old one in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl.h"

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static int rename_dir(const char *from, const char *to)
{
	char a[512], b[512];

	if (pins_path(a, sizeof(a), from, NULL) || pins_path(b, sizeof(b), to, NULL))
		return -1;
	if (rename(a, b))
		return fail_errno(errno, "cannot rename %s to %s", a, b);
	return 0;
}

/* ---- load and swap ---- */

static void print_installed(const char *action, const struct spec *sp, __u32 tag,
			    __u32 prog_id, const struct pinned *old, bool carried)
{
	if (ctl.json) {
		json_obj_begin(NULL);
		json_str("action", action);
		json_str("name", sp->name);
		json_str("source", sp->source);
		json_u64("tag", tag);
		if (prog_id)
			json_u64("prog_id", prog_id);
		if (old) {
			json_obj_begin("replaced");
			json_str("name", old->name);
			if (old->has_meta)
				json_u64("tag", old->meta.tag);
			json_obj_end();
			json_bool("tunables_carried", carried);
		} else if (!strcmp(action, "swap")) {
			json_null("replaced");
		}
		json_obj_end();
		return;
	}
	if (!strcmp(action, "none")) {
		printf("policy: %s already loaded (source %s, tag %u)\n", sp->name,
		       sp->source, tag);
		return;
	}
	printf("policy: %s loaded from %s (tag %u, prog id %u), attached to vsock_shm_guest_pkt\n",
	       sp->name, sp->source, tag, prog_id);
	if (old)
		printf("policy: %s (tag %u) detached and unpinned%s\n", old->name,
		       old->has_meta ? old->meta.tag : 0,
		       carried ? "; its tunables were carried over" : "");
	else if (!strcmp(action, "swap"))
		printf("policy: no policy was loaded: nothing swapped out\n");
}

static int install(struct spec *sp, bool swap)
{
	char tmp[POLICY_NAME_MAX + 8], aside[POLICY_NAME_MAX + 8];
	struct pin_meta meta;
	struct loaded L = { 0 };
	struct pinned old;
	bool has_old, carried = false;
	__u32 tag, prog_id;
	int r, ret = -1;

	if (pins_lock(true))
		return -1;
	if (pins_recover())
		goto out;
	r = pins_active(&old);
	if (r < 0)
		goto out;
	has_old = r > 0;
	if (has_old && !swap) {
		if (!strcmp(old.name, sp->name) && old.has_meta &&
		    !strcmp(old.meta.source, sp->source)) {
			print_installed("none", sp, old.meta.tag, 0, NULL, false);
			ret = 0;
		} else {
			fail("policy '%s' (%s) is loaded: one policy at a time; replace it with "
			     "'" CTL_NAME " policy swap %s%s%s'", old.name,
			     old.has_meta ? old.meta.source : "?", sp->arg,
			     sp->named ? " --name " : "", sp->named ? sp->name : "");
		}
		goto out;
	}
	if (pins_alloc_tag(&tag))
		goto out;
	memset(&meta, 0, sizeof(meta));
	meta.magic = META_MAGIC;
	meta.version = META_VERSION;
	meta.tag = tag;
	meta.flags = sp->ship ? META_SHIPPED : 0;
	meta.loaded_at = (__u64)time(NULL);
	snprintf(meta.name, sizeof(meta.name), "%s", sp->name);
	snprintf(meta.source, sizeof(meta.source), "%s", sp->source);
	snprintf(tmp, sizeof(tmp), PIN_NEW_PREFIX "%s", sp->name);

	if (open_policy(sp, &L, tag) || load_policy(&L))
		goto close;
	if (has_old && !sp->fresh && carry_tunables(&L, &old, &carried))
		goto close;
	if (attach_policy(&L) || pin_policy(&L, tmp, &meta))
		goto close;
	prog_id = prog_id_of(bpf_program__fd(L.prog));
	loaded_close(&L);	/* the pins hold it now */

	if (!has_old) {
		if (rename_dir(tmp, sp->name)) {
			pins_remove(tmp);
			goto out;
		}
	} else {
		/* Both are attached: the new one, attached later, decides. */
		snprintf(aside, sizeof(aside), PIN_OLD_PREFIX "%s", old.name);
		if (rename_dir(old.dir, aside)) {
			pins_remove(tmp);
			goto out;
		}
		if (rename_dir(tmp, sp->name)) {
			rename_dir(aside, old.dir);
			pins_remove(tmp);
			goto out;
		}
		if (pins_remove(aside)) {
			fail("policy '%s' is active but '%s' is still attached: run "
			     "'" CTL_NAME " policy unload' and load again", sp->name, old.name);
			goto out;
		}
	}
	print_installed(swap ? "swap" : "load", sp, tag, prog_id, has_old ? &old : NULL,
			carried);
	ret = 0;
	goto out;
close:
	loaded_close(&L);
out:
	pins_unlock();
	return ret;
}

static int cmd_install(int argc, char **argv, bool swap)
{
	const char *help = swap ? "policy swap --help" : "policy load --help";
	const char *name_opt = NULL;
	struct spec *sp;
	int i, ret;

	ctl_set_what("policy %s", swap ? "swap" : "load");
	for (i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			if (swap)
				help_policy_swap(stdout);
			else
				help_policy_load(stdout);
			return 0;
		}
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return fail_errno(ENOMEM, "out of memory");
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--name") || !strcmp(argv[i], "name")) {
			if (++i >= argc) {
				ret = usage_error(help, "--name needs a value");
				goto out;
			}
			name_opt = argv[i];
		} else if (!strncmp(argv[i], "--name=", 7)) {
			name_opt = argv[i] + 7;
		} else if (swap && !strcmp(argv[i], "--fresh")) {
			sp->fresh = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			ret = usage_error(help, "unknown option '%s'", argv[i]);
			goto out;
		} else if (sp->arg) {
			ret = usage_error(help, "unexpected argument '%s'", argv[i]);
			goto out;
		} else {
			sp->arg = argv[i];
		}
	}
	if (!sp->arg) {
		ret = usage_error(help, "missing NAME or FILE");
		goto out;
	}
	ctl_set_what("policy %s %s", swap ? "swap" : "load", sp->arg);
	sp->named = name_opt != NULL;
	if (resolve_spec(sp, name_opt) || pins_check_module() || pins_check_bpffs() ||
	    pins_check_privileges()) {
		ret = -1;
		goto out;
	}
	ret = install(sp, swap);
out:
	free(sp);
	return ret;
}

/* ---- unload ---- */

/* How long unload waits for the kernel to release the program. */
#define RELEASE_WAIT_MS	5000

static int cmd_unload(int argc, char **argv)
{
	bool have_id, released;
	struct pinned cur;
	__u32 prog_id = 0;
	int r, ret = -1;

	if (argc > 0 && is_help(argv[0])) {
		help_policy_unload(stdout);
		return 0;
	}
	ctl_set_what("policy unload");
	if (argc > 0)
		return usage_error("policy unload --help", "unexpected argument '%s'", argv[0]);
	if (pins_check_bpffs() || pins_check_privileges() || pins_lock(true))
		return -1;
	if (pins_recover())
		goto out;
	r = pins_active(&cur);
	if (r < 0)
		goto out;
	if (!r) {
		if (ctl.json) {
			json_obj_begin(NULL);
			json_null("unloaded");
			json_obj_end();
		} else {
			printf("policy: none loaded, nothing to unload\n");
		}
		ret = 0;
		goto out;
	}
	have_id = !pins_link_prog_id(cur.dir, &prog_id);
	if (pins_remove(cur.dir))
		goto out;
	/* Returns once the module can be removed, unless another holds the program. */
	released = have_id && pins_wait_released(prog_id, RELEASE_WAIT_MS);
	if (have_id && !released)
		note("program id %u is still held by another process: the module stays in use until it lets go",
		     prog_id);
	if (ctl.json) {
		json_obj_begin(NULL);
		json_obj_begin("unloaded");
		json_str("name", cur.name);
		if (cur.has_meta)
			json_u64("tag", cur.meta.tag);
		json_bool("released", released);
		json_obj_end();
		json_obj_end();
	} else {
		printf("policy: %s unloaded (detached, unpinned%s)\n", cur.name,
		       released ? ", released" : "");
	}
	ret = 0;
out:
	pins_unlock();
	return ret;
}

/* ---- dispatch ---- */

int cmd_policy(int argc, char **argv)
{
	ctl_set_what("policy");
	if (argc == 0)
		return cmd_policy_show(0, argv);
	if (is_help(argv[0])) {
		help_policy(stdout);
		return 0;
	}
	if (!strcmp(argv[0], "load"))
		return cmd_install(argc - 1, argv + 1, false);
	if (!strcmp(argv[0], "swap"))
		return cmd_install(argc - 1, argv + 1, true);
	if (!strcmp(argv[0], "unload"))
		return cmd_unload(argc - 1, argv + 1);
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "list"))
		return cmd_policy_show(argc - 1, argv + 1);
	if (!strcmp(argv[0], "set"))
		return cmd_policy_set(argc - 1, argv + 1);
	return usage_error("policy --help", "unknown command '%s'", argv[0]);
}
