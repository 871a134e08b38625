// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of vhost_vsock_shm and their debugfs file.
 */
#include <linux/debugfs.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>

#include "grant.h"
#include "stats.h"
#include "wire.h"

/*
 * Allocated at init, not static per-CPU data: a module's static per-CPU
 * data comes from a small reserve that every module shares (8 KiB on
 * x86_64), and 4.5 KiB of counters did not fit once the drivers of a host
 * were loaded (selftests/install: "Could not allocate 4536 bytes percpu
 * data" on 6.12).
 */
struct vsock_shm_stats __percpu *vsock_shm_stats;

static const char * const vsock_shm_stat_names[VSOCK_SHM_STAT_NR] = {
	[VSOCK_SHM_STAT_PKTS_SEEN]	= "pkts_seen",
	[VSOCK_SHM_STAT_BYTES_SEEN]	= "bytes_seen",
	[VSOCK_SHM_STAT_DEVS_OPENED]	= "devs_opened",
	[VSOCK_SHM_STAT_DEVS_RELEASED]	= "devs_released",
	[VSOCK_SHM_STAT_MSGS_SEEN]	= "msgs_seen",
	[VSOCK_SHM_STAT_LISTS_SEEN]	= "lists_seen",
	[VSOCK_SHM_STAT_LISTS_TRANSLATED] = "lists_translated",
	[VSOCK_SHM_STAT_LISTS_REFUSED]	= "lists_refused",
	[VSOCK_SHM_STAT_LISTS_PASSED]	= "lists_passed",
	[VSOCK_SHM_STAT_GRANTS_CREATED]	= "grants_created",
	[VSOCK_SHM_STAT_GRANTS_REVOKED]	= "grants_revoked",
	[VSOCK_SHM_STAT_PAGES_PINNED]	= "pages_pinned",
	[VSOCK_SHM_STAT_PAGES_UNPINNED]	= "pages_unpinned",
	[VSOCK_SHM_STAT_FREES]		= "frees",
	[VSOCK_SHM_STAT_MEMMAP_CHANGES]	= "memmap_changes",
	[VSOCK_SHM_STAT_GRANTS_RECHECKED] = "grants_rechecked",
	[VSOCK_SHM_STAT_GRANTS_REVOKED_MEMMAP] = "grants_revoked_memmap",
	[VSOCK_SHM_STAT_DIRTY_LOG_STARTS] = "dirty_log_starts",
	[VSOCK_SHM_STAT_GRANTS_REVOKED_DIRTY_LOG] = "grants_revoked_dirty_log",
	[VSOCK_SHM_STAT_PAGES_LOGGED_DIRTY] = "pages_logged_dirty",
	[VSOCK_SHM_STAT_PKTS_NEUTERED] = "pkts_neutered",
	[VSOCK_SHM_STAT_WATCH_INVALIDATIONS] = "watch_invalidations",
	[VSOCK_SHM_STAT_GRANTS_REVOKED_MEMORY] = "grants_revoked_memory",
};

/* debugfs directory; created at init, removed at exit. */
static struct dentry *vsock_shm_debugfs;

u64 vsock_shm_stat_sum(enum vsock_shm_stat s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(vsock_shm_stats, cpu)->v[s];
	return sum;
}

const char *vsock_shm_stat_name(enum vsock_shm_stat s)
{
	return vsock_shm_stat_names[s];
}

/* Sums one u64 at @off in every CPU's struct vsock_shm_stats. */
static u64 sum_at(size_t off)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += *(u64 *)((char *)per_cpu_ptr(vsock_shm_stats, cpu) + off);
	return sum;
}

#define STAT_OFF(field, i) \
	(offsetof(struct vsock_shm_stats, field) + (i) * sizeof(u64))

/*
 * "name value" lines; refusals as "refused_<VSHM_E_...> value",
 * revocations per reason as "revoked_<reason> value".
 */
static int vsock_shm_stats_show(struct seq_file *m, void *v)
{
	u32 code;
	int s;

	for (s = 0; s < VSOCK_SHM_STAT_NR; s++)
		seq_printf(m, "%s %llu\n", vsock_shm_stat_names[s],
			   vsock_shm_stat_sum(s));
	for (code = 1; code < VSOCK_SHM_NR_CODES; code++)
		seq_printf(m, "refused_%s %llu\n", vshm_err_name(code),
			   sum_at(STAT_OFF(refused, code)));
	for (code = 1; code < VSOCK_SHM_NR_REASONS; code++)
		seq_printf(m, "revoked_%s %llu\n", vshm_revoke_reason_name(code),
			   sum_at(STAT_OFF(revoked, code)));
	/* Per policy tag, only tags that gave a verdict. */
	for (code = 0; code < VSOCK_SHM_NR_TAGS; code++) {
		u64 t = sum_at(STAT_OFF(tag_translated, code));
		u64 r = sum_at(STAT_OFF(tag_refused, code));

		if (!t && !r)
			continue;
		seq_printf(m, "policy_%u_translated %llu\n", code, t);
		seq_printf(m, "policy_%u_refused %llu\n", code, r);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vsock_shm_stats);

static int vsock_shm_grants_file_show(struct seq_file *m, void *v)
{
	vsock_shm_grants_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vsock_shm_grants_file);

int vsock_shm_stats_init(void)
{
	vsock_shm_stats = alloc_percpu(struct vsock_shm_stats);
	if (!vsock_shm_stats)
		return -ENOMEM;
	vsock_shm_debugfs = debugfs_create_dir("vhost_vsock_shm", NULL);
	debugfs_create_file("stats", 0444, vsock_shm_debugfs, NULL,
			    &vsock_shm_stats_fops);
	debugfs_create_file("grants", 0400, vsock_shm_debugfs, NULL,
			    &vsock_shm_grants_file_fops);
	return 0;
}

void vsock_shm_stats_exit(void)
{
	debugfs_remove_recursive(vsock_shm_debugfs);
	free_percpu(vsock_shm_stats);
}
