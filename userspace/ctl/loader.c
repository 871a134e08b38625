// SPDX-License-Identifier: GPL-2.0
/*
 * Turning a policy (a shipped skeleton, or any object file) into a loaded,
 * attached and pinned BPF program: its policy_tag set in .rodata, the
 * verifier's log shown when the kernel rejects it, its maps pinned by name.
 * policy.c decides when; this file does it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elf.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "ctl.h"

#define TAG_VAR		"policy_tag"
#define LOG_SIZE	(4u << 20)

/* ---- libbpf's messages: kept for a failure, shown at once with -d ---- */

static char lib_msgs[16384];
static size_t lib_len;

int lib_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (ctl.debug)
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG || lib_len >= sizeof(lib_msgs) - 1)
		return 0;
	n = vsnprintf(lib_msgs + lib_len, sizeof(lib_msgs) - lib_len, fmt, ap);
	if (n > 0)
		lib_len += (size_t)n < sizeof(lib_msgs) - lib_len ?
			   (size_t)n : sizeof(lib_msgs) - lib_len - 1;
	return n;
}

void show_lib_msgs(void)
{
	if (!lib_len)
		return;
	fputs("libbpf said:\n", stderr);
	fputs(lib_msgs, stderr);
	if (lib_msgs[lib_len - 1] != '\n')
		fputc('\n', stderr);
}

/* ---- what to load ---- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static bool is_file_arg(const char *arg)
{
	return strchr(arg, '/') || ends_with(arg, ".bpf.o");
}

/* A regular file holding an ELF object for the BPF machine. */
static int check_object_file(const char *arg, const char *path)
{
	unsigned char h[EI_NIDENT + 4];
	struct stat st;
	__u16 machine;
	ssize_t n;
	int fd;

	if (stat(path, &st))
		return fail_errno(errno, "cannot stat %s", arg);
	if (!S_ISREG(st.st_mode))
		return fail("not a BPF object (not a regular file)");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno, "cannot open %s", arg);
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n < (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG))
		return fail("not a BPF object (not an ELF file)");
	if (h[EI_DATA] == ELFDATA2LSB)
		machine = (__u16)(h[EI_NIDENT + 2] | h[EI_NIDENT + 3] << 8);
	else
		machine = (__u16)(h[EI_NIDENT + 2] << 8 | h[EI_NIDENT + 3]);
	if (machine != EM_BPF)
		return fail("not a BPF object (an ELF file for machine %u, not BPF)",
			    machine);
	return 0;
}

int resolve_spec(struct spec *sp, const char *name_opt)
{
	const char *base;
	size_t len;

	if (!is_file_arg(sp->arg)) {
		size_t i;

		sp->ship = shipped_find(sp->arg);
		if (!sp->ship) {
			char list[128] = "";

			for (i = 0; i < nr_shipped_policies; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list),
					 "%s%s", i ? ", " : "", shipped_policies[i]->name);
			return fail("unknown policy '%s' (shipped: %s; a file needs a '/' "
				    "or a .bpf.o name)", sp->arg, list);
		}
		snprintf(sp->source, sizeof(sp->source), "%s", sp->ship->name);
		snprintf(sp->name, sizeof(sp->name), "%s", name_opt ? name_opt : sp->ship->name);
	} else {
		if (!realpath(sp->arg, sp->path)) {
			if (errno == ENOENT || errno == ENOTDIR)
				return fail("no such file");
			return fail_errno(errno, "cannot resolve %s", sp->arg);
		}
		if (check_object_file(sp->arg, sp->path))
			return -1;
		if (strlen(sp->path) >= sizeof(sp->source))
			return fail("path too long");
		strcpy(sp->source, sp->path);
		if (name_opt) {
			snprintf(sp->name, sizeof(sp->name), "%s", name_opt);
		} else {
			base = strrchr(sp->path, '/') + 1;
			len = strlen(base);
			if (ends_with(base, ".bpf.o"))
				len -= strlen(".bpf.o");
			else if (ends_with(base, ".o"))
				len -= strlen(".o");
			if (len > POLICY_NAME_MAX)
				return fail("cannot name the policy after %s: give --name", base);
			memcpy(sp->name, base, len);
			sp->name[len] = '\0';
		}
	}
	if (!pins_valid_name(sp->name))
		return fail("invalid policy name '%s': letters, digits, '_' and '-', at most "
			    "%d, starting with a letter or digit%s", sp->name,
			    POLICY_NAME_MAX, name_opt ? "" : " (give --name)");
	return 0;
}

/* ---- an opened, loaded, attached policy ---- */

void loaded_close(struct loaded *L)
{
	/* Closing the link's fd detaches nothing once it is pinned. */
	if (L->ship) {
		if (L->skel)
			L->ship->destroy(L->skel);
	} else {
		bpf_link__destroy(L->link);
		bpf_object__close(L->obj);
	}
	free(L->log);
	memset(L, 0, sizeof(*L));
}

/* policy_tag through .rodata's initial value and its BTF DATASEC offset. */
static int set_file_tag(struct bpf_object *obj, __u32 tag)
{
	const struct btf_var_secinfo *vsi;
	const struct btf_type *sec;
	struct bpf_map *map, *rodata = NULL;
	struct btf *btf = bpf_object__btf(obj);
	const void *init;
	size_t size;
	void *copy;
	int id, i, err;

	bpf_object__for_each_map(map, obj)
		if (bpf_map__is_internal(map) && ends_with(bpf_map__name(map), ".rodata"))
			rodata = map;
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!rodata || id < 0)
		goto missing;
	sec = btf__type_by_id(btf, id);
	vsi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vsi++) {
		const struct btf_type *var = btf__type_by_id(btf, vsi->type);

		if (!var || !btf_is_var(var) ||
		    strcmp(btf__name_by_offset(btf, var->name_off), TAG_VAR))
			continue;
		init = bpf_map__initial_value(rodata, &size);
		if (vsi->size != sizeof(tag) || !init || vsi->offset + sizeof(tag) > size)
			return fail("%s in .rodata is not a __u32", TAG_VAR);
		copy = malloc(size);
		if (!copy)
			return fail_errno(ENOMEM, "cannot set %s", TAG_VAR);
		memcpy(copy, init, size);
		memcpy((char *)copy + vsi->offset, &tag, sizeof(tag));
		err = bpf_map__set_initial_value(rodata, copy, size);
		free(copy);
		if (err)
			return fail_errno(err, "cannot set %s", TAG_VAR);
		return 0;
	}
missing:
	return fail("not a vsock-shm policy: no 'const volatile __u32 %s' in .rodata",
		    TAG_VAR);
}

/* The one program for the tracepoint; no other program is loaded. */
static int find_policy_prog(struct loaded *L)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, L->obj) {
		if (!strcmp(bpf_program__section_name(p), POLICY_SEC)) {
			L->prog = p;
			n++;
		} else {
			bpf_program__set_autoload(p, false);
		}
	}
	if (!n)
		return fail("no SEC(\"%s\") program in it", POLICY_SEC);
	if (n > 1)
		return fail("%d SEC(\"%s\") programs in it: a policy has one", n,
			    POLICY_SEC);
	return 0;
}

/* Its maps are pinned by name next to link, prog and meta. */
static int check_map_names(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);

		if (bpf_map__is_internal(map))
			continue;
		if (!strcmp(n, PIN_LINK) || !strcmp(n, PIN_PROG) ||
		    !strcmp(n, PIN_META) || strchr(n, '.') || strchr(n, '/'))
			return fail("map '%s' cannot be pinned by its name (link, prog "
				    "and meta are vsock-shmctl's; bpffs refuses '.')", n);
	}
	return 0;
}

int open_policy(const struct spec *sp, struct loaded *L, __u32 tag)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);

	memset(L, 0, sizeof(*L));
	L->log = calloc(1, LOG_SIZE);
	if (!L->log)
		return fail_errno(ENOMEM, "cannot allocate the verifier log");
	opts.kernel_log_buf = L->log;
	opts.kernel_log_size = LOG_SIZE;
	opts.kernel_log_level = 0;	/* a log only when a load fails */
	lib_len = 0;
	if (sp->ship) {
		L->ship = sp->ship;
		L->skel = sp->ship->open(&opts);
		if (!L->skel) {
			fail_errno(errno, "cannot open the shipped policy %s", sp->ship->name);
			show_lib_msgs();
			return -1;
		}
		L->obj = sp->ship->object(L->skel);
		L->prog = sp->ship->prog(L->skel);
		sp->ship->set_tag(L->skel, tag);
		return 0;
	}
	L->obj = bpf_object__open_file(sp->path, &opts);
	if (!L->obj) {
		fail_errno(errno, "cannot open it as a BPF object");
		show_lib_msgs();
		return -1;
	}
	if (find_policy_prog(L) || check_map_names(L->obj) || set_file_tag(L->obj, tag))
		return -1;
	return 0;
}

int load_policy(struct loaded *L)
{
	size_t len;
	int err;

	L->log[0] = '\0';
	lib_len = 0;
	err = L->ship ? L->ship->load(L->skel) : bpf_object__load(L->obj);
	if (!err)
		return 0;
	if (!L->log[0]) {
		fail_errno(err, "cannot load it");
		show_lib_msgs();
		return -1;
	}
	fail("the kernel rejected program '%s' (%s); the verifier's log follows",
	     bpf_program__name(L->prog), strerror(err < 0 ? -err : err));
	fputs("--- verifier log ---\n", stderr);
	fputs(L->log, stderr);
	len = strlen(L->log);
	if (len && L->log[len - 1] != '\n')
		fputc('\n', stderr);
	fputs("--- end of verifier log ---\n", stderr);
	return -1;
}

int attach_policy(struct loaded *L)
{
	int err = 0;

	lib_len = 0;
	if (L->ship) {
		err = L->ship->attach(L->skel);
		L->link = err ? NULL : L->ship->link(L->skel);
		if (!err && !L->link)
			err = -ENOENT;
	} else {
		L->link = bpf_program__attach(L->prog);
		if (!L->link)
			err = -errno;
	}
	if (err) {
		fail_errno(err, "cannot attach it to the tracepoint vsock_shm_guest_pkt");
		show_lib_msgs();
	}
	return err ? -1 : 0;
}

/* ---- a swap carries the old policy's tunables over ---- */

static bool copyable(const struct bpf_map_info *a, const struct bpf_map_info *b)
{
	return a->type == b->type && a->key_size == b->key_size &&
	       a->value_size == b->value_size &&
	       (a->type == BPF_MAP_TYPE_HASH || a->type == BPF_MAP_TYPE_ARRAY ||
		a->type == BPF_MAP_TYPE_LRU_HASH);
}

/* An ARRAY entry of zeros is where every array starts: nothing carried. */
static bool all_zero(const void *v, __u32 size)
{
	const unsigned char *p = v;
	__u32 i;

	for (i = 0; i < size; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Before the new policy is attached: every map of the new object but
 * counters that the old policy also pinned, with the same type and sizes,
 * gets the old entries (allow lists, quotas, settings, guest_ports). *any
 * says whether one was not the initial state (an ARRAY entry of zeros).
 */
int carry_tunables(struct loaded *L, const struct pinned *old, bool *any)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		struct bpf_map_info ni, oi;
		__u32 nl = sizeof(ni), ol = sizeof(oi);
		char path[512];
		void *key, *next, *val;
		int ofd, nfd = bpf_map__fd(map), err = 0;
		bool first = true;

		if (bpf_map__is_internal(map) || !strcmp(bpf_map__name(map), COUNTERS_MAP))
			continue;
		if (pins_path(path, sizeof(path), old->dir, bpf_map__name(map)))
			return -1;
		ofd = bpf_obj_get(path);
		if (ofd < 0)
			continue;
		memset(&ni, 0, sizeof(ni));
		memset(&oi, 0, sizeof(oi));
		if (bpf_obj_get_info_by_fd(nfd, &ni, &nl) ||
		    bpf_obj_get_info_by_fd(ofd, &oi, &ol) || !copyable(&ni, &oi)) {
			close(ofd);
			continue;
		}
		key = calloc(1, oi.key_size);
		next = calloc(1, oi.key_size);
		val = calloc(1, oi.value_size);
		while (key && next && val) {
			if (bpf_map_get_next_key(ofd, first ? NULL : key, next))
				break;
			first = false;
			memcpy(key, next, oi.key_size);
			if (bpf_map_lookup_elem(ofd, key, val))
				continue;
			if (bpf_map_update_elem(nfd, key, val, BPF_ANY)) {
				err = fail_errno(errno, "cannot carry map '%s' over",
						 bpf_map__name(map));
				break;
			}
			if (oi.type != BPF_MAP_TYPE_ARRAY || !all_zero(val, oi.value_size))
				*any = true;
		}
		if (!err && (!key || !next || !val))
			err = fail_errno(ENOMEM, "cannot carry map '%s' over",
					 bpf_map__name(map));
		free(key);
		free(next);
		free(val);
		close(ofd);
		if (err)
			return -1;
	}
	return 0;
}

/* ---- pins ---- */

int pin_policy(struct loaded *L, const char *dir, const struct pin_meta *meta)
{
	char path[512];
	struct bpf_map *map;
	int err;

	if (pins_path(path, sizeof(path), dir, NULL))
		return -1;
	if (mkdir(path, 0700))
		return fail_errno(errno, "cannot create %s", path);
	bpf_object__for_each_map(map, L->obj) {
		if (bpf_map__is_internal(map))
			continue;
		if (pins_path(path, sizeof(path), dir, bpf_map__name(map)))
			goto fail;
		err = bpf_map__pin(map, path);
		if (err) {
			fail_errno(err, "cannot pin %s", path);
			goto fail;
		}
	}
	if (pins_path(path, sizeof(path), dir, PIN_PROG))
		goto fail;
	err = bpf_program__pin(L->prog, path);
	if (err) {
		fail_errno(err, "cannot pin %s", path);
		goto fail;
	}
	if (pins_write_meta(dir, meta))
		goto fail;
	/* The link last: a directory with a link is complete (pins_recover). */
	if (pins_path(path, sizeof(path), dir, PIN_LINK))
		goto fail;
	err = bpf_link__pin(L->link, path);
	if (err) {
		fail_errno(err, "cannot pin %s", path);
		goto fail;
	}
	return 0;
fail:
	pins_remove(dir);
	return -1;
}
