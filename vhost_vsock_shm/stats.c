// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of vhost_vsock_shm and their debugfs file.
 */
#include <linux/debugfs.h>
#include <linux/percpu.h>
#include <linux/seq_file.h>

#include "stats.h"

DEFINE_PER_CPU(struct vsock_shm_stats, vsock_shm_stats);

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
};

/* debugfs directory; created at init, removed at exit. */
static struct dentry *vsock_shm_debugfs;

u64 vsock_shm_stat_sum(enum vsock_shm_stat s)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(vsock_shm_stats, cpu).v[s];
	return sum;
}

const char *vsock_shm_stat_name(enum vsock_shm_stat s)
{
	return vsock_shm_stat_names[s];
}

static u64 refused_sum(u32 code)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(vsock_shm_stats, cpu).refused[code];
	return sum;
}

/* "name value" lines; refusals as "refused_<VSHM_E_...> value". */
static int vsock_shm_stats_show(struct seq_file *m, void *v)
{
	u32 code;
	int s;

	for (s = 0; s < VSOCK_SHM_STAT_NR; s++)
		seq_printf(m, "%s %llu\n", vsock_shm_stat_names[s],
			   vsock_shm_stat_sum(s));
	for (code = 1; code < VSOCK_SHM_NR_CODES; code++)
		seq_printf(m, "refused_%s %llu\n", vshm_err_name(code),
			   refused_sum(code));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vsock_shm_stats);

int vsock_shm_stats_init(void)
{
	vsock_shm_debugfs = debugfs_create_dir("vhost_vsock_shm", NULL);
	debugfs_create_file("stats", 0444, vsock_shm_debugfs, NULL,
			    &vsock_shm_stats_fops);
	return 0;
}

void vsock_shm_stats_exit(void)
{
	debugfs_remove_recursive(vsock_shm_debugfs);
}
