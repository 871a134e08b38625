/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsock-shmctl: what its files share. One section per file; main.c is the
 * argument dispatch and the help texts.
 */
#ifndef _VSOCK_SHMCTL_H
#define _VSOCK_SHMCTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#define CTL_NAME	"vsock-shmctl"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Global options (main.c). */
struct ctl_opts {
	bool json;	/* -j: one JSON value on stdout */
	bool pretty;	/* -p: indented JSON (implies -j) */
	bool debug;	/* -d: libbpf's messages on stderr as they come */
};
extern struct ctl_opts ctl;

/* ---- util.c: failure messages and argument parsing ---- */

/* What is being done, for "vsock-shmctl: <what>: <why>" (e.g. "policy load"). */
void ctl_set_what(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "vsock-shmctl: <what>: <why>" on stderr; returns -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Same, followed by ": " and the cause of errno value err (positive or
 * negative); EPERM and EACCES read "not permitted (run as root)" when
 * not running as root.
 */
int fail_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note on stderr, not a failure. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "vsock-shmctl: <what>: <why> (see 'vsock-shmctl <help>')"; -1. */
int usage_error(const char *help, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool is_help(const char *arg);
/* Whole-string decimal unsigned numbers; 0 on success, -1 otherwise. */
int parse_u64(const char *s, __u64 *v);
int parse_u32(const char *s, __u32 *v);
/* "A:B" with both decimal u32 ("B" may also be "none" if none_ok: *none set). */
int parse_pair(const char *s, __u32 *a, __u64 *b, bool none_ok, bool *none);

/* ---- json.c: a tiny JSON writer on stdout ---- */

/*
 * Every call takes the member name when inside an object, NULL inside an
 * array or at the top. The document ends (newline, flush) when the
 * outermost value is closed.
 */
void json_obj_begin(const char *key);
void json_obj_end(void);
void json_arr_begin(const char *key);
void json_arr_end(void);
void json_str(const char *key, const char *s);
void json_u64(const char *key, __u64 v);
void json_bool(const char *key, bool v);
void json_null(const char *key);

/* ---- pins.c: the bpffs layout of policies ---- */

#define BPFFS_MOUNT	"/sys/fs/bpf"
#define PIN_ROOT	BPFFS_MOUNT "/vsock_shm"
#define MODULE_SYSFS	"/sys/module/vhost_vsock_shm"
#define PIN_LINK	"link"
#define PIN_PROG	"prog"
#define PIN_META	"meta"
/* bpffs refuses '.' in names; policy names start with a letter or digit. */
#define PIN_NEW_PREFIX	"_new-"		/* a policy being loaded */
#define PIN_OLD_PREFIX	"_old-"		/* a policy being swapped out */
#define POLICY_NAME_MAX	48
#define SOURCE_MAX	4096
#define TAG_MIN		1
#define TAG_MAX		255

/* The value of the one-entry ARRAY map pinned as <dir>/meta. */
#define META_MAGIC	0x4d485356u	/* "VSHM" */
#define META_VERSION	1
#define META_SHIPPED	(1u << 0)	/* source is a shipped policy's name */
struct pin_meta {
	__u32 magic;
	__u32 version;
	__u32 tag;			/* the policy_tag given to the program */
	__u32 flags;			/* META_* */
	__u64 loaded_at;		/* CLOCK_REALTIME seconds */
	char name[POLICY_NAME_MAX + 1];	/* the final directory name */
	char source[SOURCE_MAX];	/* shipped name, or the file's real path */
};

/* One directory under PIN_ROOT. */
struct pinned {
	char dir[POLICY_NAME_MAX + 8];	/* directory name, with any prefix */
	char name[POLICY_NAME_MAX + 1];	/* without the prefix */
	int kind;			/* PIN_FINAL, PIN_NEW, PIN_OLD */
	bool has_meta;
	bool has_link;
	struct pin_meta meta;
};
enum { PIN_FINAL, PIN_NEW, PIN_OLD };

/* The module is loaded and bpffs mounted; else a clear failure (-1). */
int pins_check_module(void);
int pins_check_bpffs(void);
/* Privileges to load, attach and pin (root); else a clear failure. */
int pins_check_privileges(void);
/*
 * Lock PIN_ROOT (flock, exclusive or shared) against other vsock-shmctl.
 * Exclusive creates the directory. Shared: returns 1 when it does not
 * exist (nothing pinned, nothing locked).
 */
int pins_lock(bool exclusive);
void pins_unlock(void);
/* Every policy directory (at most max); count or -1. */
int pins_list(struct pinned *out, int max);
/* The active policy: 1 found (*p), 0 none, -1 failure. */
int pins_active(struct pinned *p);
/* Finish or undo what an interrupted load or swap left (under the lock). */
int pins_recover(void);
/* Unpin every file of PIN_ROOT/dir (the link first) and remove it. */
int pins_remove(const char *dir);
/* The id of the program PIN_ROOT/dir/link runs; 0 and *id set, or -1 (quiet). */
int pins_link_prog_id(const char *dir, __u32 *id);
/*
 * Wait up to timeout_ms until the kernel has freed program id (its last
 * reference gone: the link's release, which drops the module reference of
 * the tracepoint, ran before). True when it has; false when something
 * else still holds it.
 */
bool pins_wait_released(__u32 id, int timeout_ms);
/* A free tag: not held by any pinned policy, preferring unused ones. */
int pins_alloc_tag(__u32 *tag);
/* PIN_ROOT/dir[/file] into buf; -1 if too long. */
int pins_path(char *buf, size_t size, const char *dir, const char *file);
int pins_write_meta(const char *dir, const struct pin_meta *m);
int pins_read_meta(const char *dir, struct pin_meta *m);
bool pins_valid_name(const char *name);

/* ---- shipped.c: the policies built into vsock-shmctl (skeletons) ---- */

struct bpf_object;
struct bpf_object_open_opts;
struct bpf_program;
struct bpf_link;

struct shipped_policy {
	const char *name;
	const char *summary;
	void *(*open)(const struct bpf_object_open_opts *opts);
	struct bpf_object *(*object)(void *skel);
	void (*set_tag)(void *skel, __u32 tag);
	int (*load)(void *skel);
	/* Attaches through the skeleton; the link stays the skeleton's. */
	int (*attach)(void *skel);
	struct bpf_program *(*prog)(void *skel);
	struct bpf_link *(*link)(void *skel);
	void (*destroy)(void *skel);
};
const struct shipped_policy *shipped_find(const char *name);
extern const struct shipped_policy *const shipped_policies[];
extern const size_t nr_shipped_policies;

/* ---- loader.c: open, load, attach and pin a policy ---- */

#define POLICY_SEC	"tp_btf/vsock_shm_guest_pkt"
#define COUNTERS_MAP	"counters"
/*
 * The tunable every shipped policy has (bpf/policy.h): ARRAY, one entry,
 * key __u32 0, value { __u32 unprivileged_ports; } (0: only GPA lists
 * from guest ports below 1024 are shared, 1: from every guest port).
 */
#define GUEST_PORTS_MAP	"guest_ports"

/* What to load, from the command line. */
struct spec {
	const char *arg;			/* as given */
	const struct shipped_policy *ship;	/* NAME, or NULL for FILE */
	char path[4096];			/* FILE, resolved */
	char name[POLICY_NAME_MAX + 1];		/* directory name */
	char source[SOURCE_MAX];		/* shipped name or path */
	bool fresh;				/* swap: do not carry tunables */
	bool named;				/* --name given */
};

/* An opened (then loaded, attached) policy. */
struct loaded {
	const struct shipped_policy *ship;
	void *skel;
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;		/* ours to destroy unless ship */
	char *log;			/* the verifier's log */
};

/* libbpf's print callback: messages kept for a failure, or shown with -d. */
enum libbpf_print_level;
int lib_print(enum libbpf_print_level level, const char *fmt, va_list ap);
/* NAME or FILE (checked: exists, is a BPF ELF) and the directory name. */
int resolve_spec(struct spec *sp, const char *name_opt);
/* Open with policy_tag = tag; then load (verifier log on failure), attach. */
int open_policy(const struct spec *sp, struct loaded *L, __u32 tag);
int load_policy(struct loaded *L);
int attach_policy(struct loaded *L);
/* Before attach: the old policy's entries into same-shaped new maps. */
int carry_tunables(struct loaded *L, const struct pinned *old, bool *any);
/* Maps, prog, meta, then link under PIN_ROOT/dir; all or nothing. */
int pin_policy(struct loaded *L, const char *dir, const struct pin_meta *meta);
/* Close our fds (the pins keep the policy). */
void loaded_close(struct loaded *L);

/* ---- kstats.c: the module's debugfs files ---- */

#define DEBUGFS_MOUNT	"/sys/kernel/debug"
#define KSTATS_DIR	DEBUGFS_MOUNT "/vhost_vsock_shm"

struct kstat {
	char name[64];
	__u64 value;
};
/* The "name value" lines of the stats file: count (malloc'd *out) or -1. */
int kstats_read(struct kstat **out);
/* Per-tag sums from the stats lines (policy_<tag>_translated/_refused). */
void kstats_tags(const struct kstat *s, int n, __u64 translated[TAG_MAX + 1],
		 __u64 refused[TAG_MAX + 1], bool seen[TAG_MAX + 1]);

/* ---- commands ---- */

int cmd_policy(int argc, char **argv);	/* policy.c */
int cmd_policy_show(int argc, char **argv);	/* tunables.c */
int cmd_policy_set(int argc, char **argv);	/* tunables.c */
int cmd_stats(int argc, char **argv);	/* kstats.c */
int cmd_grants(int argc, char **argv);	/* kstats.c */

/* Help texts (main.c). */
void help_policy_load(FILE *f);
void help_policy_swap(FILE *f);
void help_policy_unload(FILE *f);
void help_policy_show(FILE *f);
void help_policy_set(FILE *f);
void help_policy(FILE *f);
void help_stats(FILE *f);
void help_grants(FILE *f);

#endif /* _VSOCK_SHMCTL_H */
