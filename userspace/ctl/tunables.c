// SPDX-License-Identifier: GPL-2.0
/*
 * policy show | set: what the active policy's pins say (program, link,
 * meta) and its maps: the per-CPU counters and the guest_ports tunable
 * every shipped policy keeps, and the tunables some have (restrict: allow,
 * quota, settings), read and written through their pins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl.h"

/* ---- show ---- */

static const char *const counter_names[] = { "msgs", "lists", "translated", "refused" };

struct allow_key {
	__u32 cid;
	__u32 port;
};

static int open_pin(const struct pinned *p, const char *file)
{
	char path[512];

	if (pins_path(path, sizeof(path), p->dir, file))
		return -1;
	return bpf_obj_get(path);
}

/* An open map pinned as file with these sizes (value at least vmin), or -1. */
static int open_map(const struct pinned *p, const char *file, __u32 type,
		    __u32 key_size, __u32 vmin, __u32 vmax, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int fd = open_pin(p, file);

	if (fd < 0)
		return -1;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len) || info->type != type ||
	    info->key_size != key_size || info->value_size < vmin ||
	    info->value_size > vmax) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

static int read_counters(const struct pinned *p, __u64 sums[4])
{
	int fd, ncpu = libbpf_num_possible_cpus();
	struct bpf_map_info info;
	__u64 *v;
	__u32 i;
	int c, per;

	fd = open_map(p, COUNTERS_MAP, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 8, &info);
	per = ncpu;
	if (fd < 0) {
		fd = open_map(p, COUNTERS_MAP, BPF_MAP_TYPE_ARRAY, 4, 8, 8, &info);
		per = 1;
	}
	if (fd < 0 || ncpu <= 0)
		return -1;
	v = calloc((size_t)per, sizeof(*v));
	for (i = 0; v && i < 4; i++) {
		sums[i] = 0;
		if (i >= info.max_entries || bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (c = 0; c < per; c++)
			sums[i] += v[c];
	}
	close(fd);
	if (!v)
		return -1;
	free(v);
	return 0;
}

static int cmp_allow(const void *a, const void *b)
{
	const struct allow_key *x = a, *y = b;

	if (x->cid != y->cid)
		return x->cid < y->cid ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

struct quota_ent {
	__u32 cid;
	__u64 pages;
};

static int cmp_quota(const void *a, const void *b)
{
	const struct quota_ent *x = a, *y = b;

	return x->cid < y->cid ? -1 : x->cid > y->cid;
}

/* Entries of the allow map, sorted; count or -1 (no such map). */
static int read_allow(const struct pinned *p, struct allow_key **out)
{
	struct bpf_map_info info;
	struct allow_key k, next, *v = NULL;
	int fd, n = 0, cap = 0;
	bool first = true;

	*out = NULL;
	fd = open_map(p, "allow", BPF_MAP_TYPE_HASH, sizeof(k), 1, 1, &info);
	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		if (n == cap) {
			struct allow_key *nv = realloc(v, sizeof(*v) * (size_t)(cap = cap * 2 + 16));

			if (!nv)
				break;
			v = nv;
		}
		v[n++] = k;
	}
	close(fd);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_allow);
	*out = v;
	return n;
}

static int read_quota(const struct pinned *p, struct quota_ent **out)
{
	struct bpf_map_info info;
	struct quota_ent *v = NULL;
	__u32 k, next;
	int fd, n = 0, cap = 0;
	bool first = true;

	*out = NULL;
	fd = open_map(p, "quota", BPF_MAP_TYPE_HASH, 4, 8, 8, &info);
	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		__u64 pages;

		first = false;
		k = next;
		if (bpf_map_lookup_elem(fd, &k, &pages))
			continue;
		if (n == cap) {
			struct quota_ent *nv = realloc(v, sizeof(*v) * (size_t)(cap = cap * 2 + 16));

			if (!nv)
				break;
			v = nv;
		}
		v[n].cid = k;
		v[n++].pages = pages;
	}
	close(fd);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_quota);
	*out = v;
	return n;
}

/*
 * The first @len bytes of entry 0 of the ARRAY map pinned as @file (its
 * values at least @len bytes); 0 on success, -1 (no such map).
 */
static int read_array_head(const struct pinned *p, const char *file,
			   void *out, __u32 len)
{
	struct bpf_map_info info;
	__u32 key = 0;
	void *v;
	int fd;

	fd = open_map(p, file, BPF_MAP_TYPE_ARRAY, 4, len, 4096, &info);
	if (fd < 0)
		return -1;
	v = calloc(1, info.value_size);
	if (!v || bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		close(fd);
		return -1;
	}
	memcpy(out, v, len);
	free(v);
	close(fd);
	return 0;
}

/* settings[0].default_quota; 0 on success, -1 (no such map). */
static int read_default_quota(const struct pinned *p, __u64 *q)
{
	return read_array_head(p, "settings", q, sizeof(*q));
}

/* guest_ports[0].unprivileged_ports; 0 on success, -1 (no such map). */
static int read_unprivileged_ports(const struct pinned *p, bool *on)
{
	__u32 v32;

	if (read_array_head(p, GUEST_PORTS_MAP, &v32, sizeof(v32)))
		return -1;
	*on = v32 != 0;
	return 0;
}

static const char *unprivileged_ports_text(bool on)
{
	return on ? "on (every guest port may share)" :
		    "off (only guest ports below 1024 share)";
}

static void format_time(__u64 boot_ns, char *buf, size_t size)
{
	struct timespec rt, bt;
	struct tm tm;
	__s64 ns;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	ns = (__s64)rt.tv_sec * 1000000000 + rt.tv_nsec -
	     ((__s64)bt.tv_sec * 1000000000 + bt.tv_nsec) + (__s64)boot_ns;
	t = (time_t)(ns / 1000000000);
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%S%z", &tm))
		snprintf(buf, size, "?");
}

static void show_policy(const struct pinned *p)
{
	struct bpf_prog_info pi;
	struct bpf_link_info li;
	__u32 len;
	char when[64] = "?", dir[512];
	struct allow_key *allow = NULL;
	struct quota_ent *quota = NULL;
	__u64 sums[4], dq = 0;
	bool have_prog = false, have_link = false, have_counters, have_dq;
	bool have_up, up = false;
	int fd, i, na, nq;

	memset(&pi, 0, sizeof(pi));
	memset(&li, 0, sizeof(li));
	fd = open_pin(p, PIN_PROG);
	len = sizeof(pi);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &pi, &len)) {
		have_prog = true;
		format_time(pi.load_time, when, sizeof(when));
	}
	if (fd >= 0)
		close(fd);
	fd = open_pin(p, PIN_LINK);
	len = sizeof(li);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &li, &len))
		have_link = !have_prog || li.prog_id == pi.id;
	if (fd >= 0)
		close(fd);
	have_counters = !read_counters(p, sums);
	na = read_allow(p, &allow);
	nq = read_quota(p, &quota);
	have_dq = !read_default_quota(p, &dq);
	have_up = !read_unprivileged_ports(p, &up);
	pins_path(dir, sizeof(dir), p->dir, NULL);

	if (ctl.json) {
		json_obj_begin(NULL);
		json_obj_begin("policy");
		json_str("name", p->name);
		if (p->has_meta) {
			json_str("source", p->meta.source);
			json_bool("shipped", p->meta.flags & META_SHIPPED);
			json_u64("tag", p->meta.tag);
		} else {
			json_null("source");
			json_null("tag");
		}
		json_str("pin_dir", dir);
		if (have_prog) {
			json_u64("prog_id", pi.id);
			json_str("prog_name", pi.name);
			json_str("loaded_at", when);
		} else {
			json_null("prog_id");
		}
		json_bool("attached", have_link);
		if (have_link)
			json_u64("link_id", li.id);
		if (have_counters) {
			json_obj_begin("counters");
			for (i = 0; i < 4; i++)
				json_u64(counter_names[i], sums[i]);
			json_obj_end();
		} else {
			json_null("counters");
		}
		/* null: the policy has no guest_ports map, it decides alone. */
		if (have_up)
			json_bool("unprivileged_ports", up);
		else
			json_null("unprivileged_ports");
		if (na >= 0) {
			json_arr_begin("allow");
			for (i = 0; i < na; i++) {
				json_obj_begin(NULL);
				json_u64("cid", allow[i].cid);
				json_u64("port", allow[i].port);
				json_obj_end();
			}
			json_arr_end();
		}
		if (nq >= 0) {
			json_arr_begin("quota");
			for (i = 0; i < nq; i++) {
				json_obj_begin(NULL);
				json_u64("cid", quota[i].cid);
				json_u64("pages", quota[i].pages);
				json_obj_end();
			}
			json_arr_end();
		}
		if (have_dq)
			json_u64("default_quota", dq);
		json_obj_end();
		json_obj_end();
	} else {
		printf("policy: %s\n", p->name);
		if (p->has_meta) {
			printf("  %-18s %s%s\n", "source", p->meta.source,
			       p->meta.flags & META_SHIPPED ? " (shipped)" : "");
			printf("  %-18s %u\n", "tag", p->meta.tag);
		}
		if (have_prog)
			printf("  %-18s id %u, %s, loaded %s\n", "program", pi.id, pi.name, when);
		else
			printf("  %-18s missing\n", "program");
		if (have_link)
			printf("  %-18s id %u, attached to vsock_shm_guest_pkt\n", "link", li.id);
		else
			printf("  %-18s detached\n", "link");
		printf("  %-18s %s\n", "pins", dir);
		if (have_counters)
			printf("  %-18s msgs %llu, lists %llu, translated %llu, refused %llu\n",
			       "counters", (unsigned long long)sums[0],
			       (unsigned long long)sums[1], (unsigned long long)sums[2],
			       (unsigned long long)sums[3]);
		if (have_up)
			printf("  %-18s %s\n", "unprivileged-ports", unprivileged_ports_text(up));
		else
			printf("  %-18s not a tunable of this policy (no map '%s')\n",
			       "unprivileged-ports", GUEST_PORTS_MAP);
		if (na >= 0) {
			printf("  %-18s", "allow");
			for (i = 0; i < na; i++)
				printf(" %u:%u", allow[i].cid, allow[i].port);
			printf("%s\n", na ? "" : " none");
		}
		if (nq >= 0) {
			printf("  %-18s", "quota");
			for (i = 0; i < nq; i++)
				printf(" %u:%llu", quota[i].cid, (unsigned long long)quota[i].pages);
			printf("%s\n", nq ? "" : " none");
		}
		if (have_dq) {
			if (dq)
				printf("  %-18s %llu pages\n", "default-quota", (unsigned long long)dq);
			else
				printf("  %-18s none\n", "default-quota");
		}
	}
	free(allow);
	free(quota);
}

int cmd_policy_show(int argc, char **argv)
{
	struct pinned all[16];
	int i, n, r, found = -1;

	if (argc > 0 && is_help(argv[0])) {
		help_policy_show(stdout);
		return 0;
	}
	ctl_set_what("policy show");
	if (argc > 0)
		return usage_error("policy show --help", "unexpected argument '%s'", argv[0]);
	if (pins_check_bpffs())
		return -1;
	r = pins_lock(false);
	if (r < 0)
		return -1;
	n = r ? 0 : pins_list(all, ARRAY_SIZE(all));
	if (n < 0) {
		pins_unlock();
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (all[i].kind == PIN_FINAL && found < 0)
			found = i;
		else if (all[i].kind != PIN_FINAL)
			note("%s/%s was left by an interrupted load or swap: the next load, "
			     "swap or unload cleans it up", PIN_ROOT, all[i].dir);
	}
	if (found < 0) {
		if (ctl.json) {
			json_obj_begin(NULL);
			json_null("policy");
			json_obj_end();
		} else {
			printf("policy: none\n");
		}
	} else {
		show_policy(&all[found]);
	}
	pins_unlock();
	return 0;
}

/* ---- set ---- */

enum set_key { SET_ALLOW, SET_DENY, SET_QUOTA, SET_DEFAULT_QUOTA, SET_UNPRIVILEGED_PORTS };

static const struct {
	const char *key;
	const char *map;
	const char *value;
} set_keys[] = {
	[SET_ALLOW] = { "allow", "allow", "CID:PORT" },
	[SET_DENY] = { "deny", "allow", "CID:PORT" },
	[SET_QUOTA] = { "quota", "quota", "CID:PAGES|CID:none" },
	[SET_DEFAULT_QUOTA] = { "default-quota", "settings", "PAGES" },
	[SET_UNPRIVILEGED_PORTS] = { "unprivileged-ports", GUEST_PORTS_MAP, "on|off" },
};

static void print_set(const char *policy, const char *key, const char *value,
		      const char *result)
{
	if (ctl.json) {
		json_obj_begin(NULL);
		json_str("policy", policy);
		json_str("key", key);
		json_str("value", value);
		json_str("result", result);
		json_obj_end();
	} else {
		printf("policy %s: %s %s: %s\n", policy, key, value, result);
	}
}

static int do_set(const struct pinned *p, int k, const char *value, __u32 a, __u64 b,
		  bool none)
{
	struct bpf_map_info info;
	const char *result;
	int fd, ret = 0;

	switch (k) {
	case SET_ALLOW:
	case SET_DENY:
		fd = open_map(p, "allow", BPF_MAP_TYPE_HASH, 8, 1, 1, &info);
		break;
	case SET_QUOTA:
		fd = open_map(p, "quota", BPF_MAP_TYPE_HASH, 4, 8, 8, &info);
		break;
	case SET_UNPRIVILEGED_PORTS:
		fd = open_map(p, GUEST_PORTS_MAP, BPF_MAP_TYPE_ARRAY, 4, 4, 4096, &info);
		break;
	default:
		fd = open_map(p, "settings", BPF_MAP_TYPE_ARRAY, 4, 8, 4096, &info);
		break;
	}
	if (fd < 0) {
		if (errno == ENOENT && k == SET_UNPRIVILEGED_PORTS)
			return fail("policy '%s' has no tunable '%s' (no map '%s': a policy "
				    "gets it from bpf/policy.h)", p->name, set_keys[k].key,
				    set_keys[k].map);
		if (errno == ENOENT)
			return fail("policy '%s' has no tunable '%s' (no map '%s')", p->name,
				    set_keys[k].key, set_keys[k].map);
		if (errno == EPROTO)
			return fail("map '%s' of policy '%s' has not the layout '%s' needs",
				    set_keys[k].map, p->name, set_keys[k].key);
		return fail_errno(errno, "cannot open map '%s' of policy '%s'",
				  set_keys[k].map, p->name);
	}
	if (k == SET_ALLOW || k == SET_DENY) {
		struct allow_key key = { .cid = a, .port = (__u32)b };
		__u8 one = 1;

		if (k == SET_ALLOW) {
			if (bpf_map_update_elem(fd, &key, &one, BPF_ANY))
				ret = fail_errno(errno, "cannot add %s to the allow map", value);
			result = "allowed";
		} else if (bpf_map_delete_elem(fd, &key)) {
			if (errno != ENOENT)
				ret = fail_errno(errno, "cannot remove %s from the allow map", value);
			result = "was not allowed";
		} else {
			result = "denied";
		}
	} else if (k == SET_QUOTA) {
		if (none) {
			if (bpf_map_delete_elem(fd, &a) && errno != ENOENT)
				ret = fail_errno(errno, "cannot remove the quota of CID %u", a);
			result = "no quota of its own (default-quota applies)";
		} else {
			if (bpf_map_update_elem(fd, &a, &b, BPF_ANY))
				ret = fail_errno(errno, "cannot set the quota of CID %u", a);
			result = "set";
		}
	} else {
		/* Read, change the first member, write back: other members stay. */
		__u32 zero = 0, on = (__u32)b;
		void *v = calloc(1, info.value_size);

		if (!v || bpf_map_lookup_elem(fd, &zero, v))
			ret = fail_errno(v ? errno : ENOMEM, "cannot read the %s map",
					 set_keys[k].map);
		if (!ret) {
			if (k == SET_UNPRIVILEGED_PORTS)	/* guest_ports.unprivileged_ports */
				memcpy(v, &on, sizeof(on));
			else					/* settings.default_quota */
				memcpy(v, &b, sizeof(b));
			if (bpf_map_update_elem(fd, &zero, v, BPF_ANY))
				ret = fail_errno(errno, "cannot write the %s map",
						 set_keys[k].map);
		}
		free(v);
		if (k == SET_UNPRIVILEGED_PORTS)
			result = b ? "every guest port may share" :
				     "only guest ports below 1024 share";
		else
			result = "set";
	}
	close(fd);
	if (!ret)
		print_set(p->name, set_keys[k].key, value, result);
	return ret;
}

int cmd_policy_set(int argc, char **argv)
{
	const char *help = "policy set --help";
	struct pinned cur;
	bool none = false;
	__u32 a = 0;
	__u64 b = 0;
	int k, r, ret = -1;

	if (argc > 0 && is_help(argv[0])) {
		help_policy_set(stdout);
		return 0;
	}
	ctl_set_what("policy set");
	if (argc < 1)
		return usage_error(help, "missing KEY");
	for (k = 0; k < (int)ARRAY_SIZE(set_keys); k++)
		if (!strcmp(argv[0], set_keys[k].key))
			break;
	if (k == (int)ARRAY_SIZE(set_keys))
		return usage_error(help, "unknown key '%s' (keys: allow, deny, quota, "
				   "default-quota, unprivileged-ports)", argv[0]);
	ctl_set_what("policy set %s", argv[0]);
	if (argc < 2)
		return usage_error(help, "missing %s", set_keys[k].value);
	if (argc > 2)
		return usage_error(help, "unexpected argument '%s'", argv[2]);
	switch (k) {
	case SET_ALLOW:
	case SET_DENY:
		if (parse_pair(argv[1], &a, &b, false, NULL) || b > 0xffffffffull)
			return usage_error(help, "'%s' is not CID:PORT", argv[1]);
		break;
	case SET_QUOTA:
		if (parse_pair(argv[1], &a, &b, true, &none))
			return usage_error(help, "'%s' is not CID:PAGES or CID:none", argv[1]);
		break;
	case SET_UNPRIVILEGED_PORTS:
		if (!strcmp(argv[1], "on"))
			b = 1;
		else if (!strcmp(argv[1], "off"))
			b = 0;
		else
			return usage_error(help, "'%s' is not on or off", argv[1]);
		break;
	default:
		if (parse_u64(argv[1], &b))
			return usage_error(help, "'%s' is not a number of pages", argv[1]);
	}
	if (pins_check_bpffs() || pins_check_privileges() || pins_lock(true))
		return -1;
	if (pins_recover())
		goto out;
	r = pins_active(&cur);
	if (r < 0)
		goto out;
	if (!r) {
		fail("no policy is loaded (load one with '" CTL_NAME " policy load %s')",
		     k == SET_UNPRIVILEGED_PORTS ? "default" : "restrict");
		goto out;
	}
	ret = do_set(&cur, k, argv[1], a, b, none);
out:
	pins_unlock();
	return ret;
}
