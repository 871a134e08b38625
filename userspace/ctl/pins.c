// SPDX-License-Identifier: GPL-2.0
/*
 * The bpffs layout of policies. Each policy is a directory
 *
 *   /sys/fs/bpf/vsock_shm/<name>/
 *       link       the tp_btf link: the policy is attached while it exists
 *       prog       the program
 *       meta       ARRAY map, one struct pin_meta: tag, source, name, time
 *       <map>...   every map of the object by its name (counters, allow...)
 *
 * A directory being built is named _new-<name>, one being swapped out
 * _old-<name>; only names starting with a letter or digit are active (bpffs
 * refuses '.' in names). Every change happens under an exclusive flock on
 * /sys/fs/bpf/vsock_shm, so a _new- or _old- directory seen under that lock
 * was left by an interrupted vsock-shmctl: pins_recover() finishes or
 * undoes its work.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include <bpf/bpf.h>

#include "ctl.h"

static int lock_fd = -1;

int pins_check_module(void)
{
	if (access(MODULE_SYSFS, F_OK))
		return fail("module vhost_vsock_shm is not loaded (no %s)", MODULE_SYSFS);
	return 0;
}

int pins_check_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_MOUNT, &st) || st.f_type != BPF_FS_MAGIC)
		return fail("bpffs is not mounted on %s (mount -t bpf bpf %s)",
			    BPFFS_MOUNT, BPFFS_MOUNT);
	return 0;
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int pins_check_privileges(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return fail_errno(errno, "cannot read the capabilities");
	if (has_cap(d, CAP_SYS_ADMIN) ||
	    (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON) && !geteuid()))
		return 0;
	return fail("not permitted: run as root (loading a tracing program needs "
		    "CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON)");
}

int pins_lock(bool exclusive)
{
	struct stat st;

	if (exclusive && mkdir(PIN_ROOT, 0700) && errno != EEXIST)
		return fail_errno(errno, "cannot create %s", PIN_ROOT);
	lock_fd = open(PIN_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0) {
		if (!exclusive && errno == ENOENT)
			return 1;
		return fail_errno(errno, "cannot open %s", PIN_ROOT);
	}
	/* Anyone may create it on a 1777 bpffs: trust only root's. */
	if (fstat(lock_fd, &st) || st.st_uid != 0 || (st.st_mode & 0022)) {
		close(lock_fd);
		lock_fd = -1;
		return fail("%s is not root's own directory (owner %u, mode %o): "
			    "remove it", PIN_ROOT, (unsigned int)st.st_uid,
			    (unsigned int)(st.st_mode & 07777));
	}
	if (flock(lock_fd, exclusive ? LOCK_EX : LOCK_SH)) {
		int err = errno;

		close(lock_fd);
		lock_fd = -1;
		return fail_errno(err, "cannot lock %s", PIN_ROOT);
	}
	return 0;
}

void pins_unlock(void)
{
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
}

int pins_path(char *buf, size_t size, const char *dir, const char *file)
{
	int n;

	if (file)
		n = snprintf(buf, size, "%s/%s/%s", PIN_ROOT, dir, file);
	else
		n = snprintf(buf, size, "%s/%s", PIN_ROOT, dir);
	if (n < 0 || (size_t)n >= size)
		return fail("path too long under %s/%s", PIN_ROOT, dir);
	return 0;
}

bool pins_valid_name(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len > POLICY_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (!i || (c != '_' && c != '-')))
			return false;
	}
	return true;
}

int pins_write_meta(const char *dir, const struct pin_meta *m)
{
	char path[512];
	__u32 key = 0;
	int fd, err = 0;

	if (pins_path(path, sizeof(path), dir, PIN_META))
		return -1;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vshm_meta", sizeof(key),
			    sizeof(*m), 1, NULL);
	if (fd < 0)
		return fail_errno(errno, "cannot create the meta map");
	if (bpf_map_update_elem(fd, &key, m, BPF_ANY))
		err = fail_errno(errno, "cannot write the meta map");
	else if (bpf_map_freeze(fd))
		err = fail_errno(errno, "cannot freeze the meta map");
	else if (bpf_obj_pin(fd, path))
		err = fail_errno(errno, "cannot pin %s", path);
	close(fd);
	return err;
}

/* Quiet: a directory without a readable meta is reported by its caller. */
int pins_read_meta(const char *dir, struct pin_meta *m)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info), key = 0;
	char path[512];
	int fd, err = -1;

	if (snprintf(path, sizeof(path), "%s/%s/%s", PIN_ROOT, dir, PIN_META) >=
	    (int)sizeof(path))
		return -1;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.value_size == sizeof(*m) && info.type == BPF_MAP_TYPE_ARRAY &&
	    !bpf_map_lookup_elem(fd, &key, m) && m->magic == META_MAGIC &&
	    m->version == META_VERSION) {
		m->name[sizeof(m->name) - 1] = '\0';
		m->source[sizeof(m->source) - 1] = '\0';
		err = 0;
	}
	close(fd);
	return err;
}

static int kind_of(const char *dir, const char **name)
{
	if (!strncmp(dir, PIN_NEW_PREFIX, strlen(PIN_NEW_PREFIX))) {
		*name = dir + strlen(PIN_NEW_PREFIX);
		return PIN_NEW;
	}
	if (!strncmp(dir, PIN_OLD_PREFIX, strlen(PIN_OLD_PREFIX))) {
		*name = dir + strlen(PIN_OLD_PREFIX);
		return PIN_OLD;
	}
	*name = dir;
	return PIN_FINAL;
}

int pins_list(struct pinned *out, int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(PIN_ROOT);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return fail_errno(errno, "cannot read %s", PIN_ROOT);
	}
	while ((de = readdir(d)) && n < max) {
		struct pinned *p = &out[n];
		const char *name;
		char path[512];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISDIR(st.st_mode) || strlen(de->d_name) >= sizeof(p->dir))
			continue;
		memset(p, 0, sizeof(*p));
		strcpy(p->dir, de->d_name);
		p->kind = kind_of(p->dir, &name);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->has_meta = !pins_read_meta(p->dir, &p->meta);
		if (snprintf(path, sizeof(path), "%s/%s/%s", PIN_ROOT, p->dir,
			     PIN_LINK) < (int)sizeof(path))
			p->has_link = !access(path, F_OK);
		n++;
	}
	closedir(d);
	return n;
}

int pins_active(struct pinned *p)
{
	struct pinned all[16];
	int i, n = pins_list(all, ARRAY_SIZE(all));

	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (all[i].kind == PIN_FINAL) {
			*p = all[i];
			return 1;
		}
	}
	return 0;
}

int pins_remove(const char *dir)
{
	char path[512], file[768];
	struct dirent *de;
	int err = 0;
	DIR *d;

	if (pins_path(path, sizeof(path), dir, NULL))
		return -1;
	/* The link first: the policy is detached before its maps go. */
	snprintf(file, sizeof(file), "%s/%s", path, PIN_LINK);
	if (unlink(file) && errno != ENOENT)
		return fail_errno(errno, "cannot unpin %s", file);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return fail_errno(errno, "cannot read %s", path);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (unlink(file) && errno != ENOENT && !err)
			err = fail_errno(errno, "cannot unpin %s", file);
	}
	closedir(d);
	if (!err && rmdir(path) && errno != ENOENT)
		err = fail_errno(errno, "cannot remove %s", path);
	return err;
}

int pins_link_prog_id(const char *dir, __u32 *id)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[512];
	int fd, err = -1;

	if (pins_path(path, sizeof(path), dir, PIN_LINK))
		return -1;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.prog_id) {
		*id = info.prog_id;
		err = 0;
	}
	close(fd);
	return err;
}

/*
 * Unpinning drops the last reference to the link, but the kernel releases
 * a link (detaching it from the tracepoint and putting the module) from a
 * workqueue or after an RCU grace period: an rmmod right after could see
 * the module still in use (EAGAIN). The program's id goes only once its
 * last reference is put, which the link's release does last.
 */
bool pins_wait_released(__u32 id, int timeout_ms)
{
	const struct timespec step = { .tv_nsec = 5 * 1000 * 1000 };
	int fd, waited;

	for (waited = 0;; waited += 5) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			return errno == ENOENT;
		close(fd);
		if (waited >= timeout_ms)
			return false;
		nanosleep(&step, NULL);
	}
}

static int promote(const struct pinned *p)
{
	char from[512], to[512];

	if (pins_path(from, sizeof(from), p->dir, NULL) ||
	    pins_path(to, sizeof(to), p->name, NULL))
		return -1;
	if (rename(from, to))
		return fail_errno(errno, "cannot rename %s to %s", from, to);
	note("finished an interrupted load or swap: policy '%s' is active", p->name);
	return 0;
}

int pins_recover(void)
{
	const struct pinned *keep = NULL;
	struct pinned all[16];
	int i, n, finals = 0;

	n = pins_list(all, ARRAY_SIZE(all));
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		finals += all[i].kind == PIN_FINAL;
	if (!finals) {
		/* A complete new policy wins over the old one it replaced. */
		for (i = 0; i < n && !keep; i++)
			if (all[i].kind == PIN_NEW && all[i].has_link &&
			    all[i].has_meta && pins_valid_name(all[i].name))
				keep = &all[i];
		for (i = 0; i < n && !keep; i++)
			if (all[i].kind == PIN_OLD && all[i].has_link &&
			    pins_valid_name(all[i].name))
				keep = &all[i];
		if (keep && promote(keep))
			return -1;
	}
	for (i = 0; i < n; i++) {
		if (all[i].kind == PIN_FINAL || &all[i] == keep)
			continue;
		if (pins_remove(all[i].dir))
			return -1;
		note("removed %s/%s, left by an interrupted load or swap",
		     PIN_ROOT, all[i].dir);
	}
	return 0;
}

int pins_alloc_tag(__u32 *tag)
{
	__u64 translated[TAG_MAX + 1], refused[TAG_MAX + 1];
	bool used[TAG_MAX + 1] = { false }, seen[TAG_MAX + 1];
	struct kstat *ks = NULL;
	struct pinned all[16];
	int i, n, nk;
	__u32 t;

	n = pins_list(all, ARRAY_SIZE(all));
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (all[i].has_meta && all[i].meta.tag <= TAG_MAX)
			used[all[i].meta.tag] = true;
	/* Prefer a tag the module has no verdicts for: clearer statistics. */
	nk = kstats_read(&ks);
	kstats_tags(ks, nk > 0 ? nk : 0, translated, refused, seen);
	free(ks);
	for (t = TAG_MIN; t <= TAG_MAX; t++) {
		if (!used[t] && !translated[t] && !refused[t]) {
			*tag = t;
			return 0;
		}
	}
	for (t = TAG_MIN; t <= TAG_MAX; t++) {
		if (!used[t]) {
			*tag = t;
			return 0;
		}
	}
	return fail("no free policy tag in %d..%d", TAG_MIN, TAG_MAX);
}
