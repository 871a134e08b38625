/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide counters of vhost_vsock_shm, per CPU, summed when read from
 * debugfs (<debugfs>/vhost_vsock_shm/stats).
 */
#ifndef _VHOST_VSOCK_SHM_STATS_H
#define _VHOST_VSOCK_SHM_STATS_H

#include <linux/percpu.h>

enum vsock_shm_stat {
	VSOCK_SHM_STAT_PKTS_SEEN,
	VSOCK_SHM_STAT_BYTES_SEEN,
	VSOCK_SHM_STAT_DEVS_OPENED,
	VSOCK_SHM_STAT_DEVS_RELEASED,
	VSOCK_SHM_STAT_NR,
};

struct vsock_shm_stats {
	u64 v[VSOCK_SHM_STAT_NR];
};

DECLARE_PER_CPU(struct vsock_shm_stats, vsock_shm_stats);

static inline void vsock_shm_stat_add(enum vsock_shm_stat s, u64 n)
{
	this_cpu_add(vsock_shm_stats.v[s], n);
}

static inline void vsock_shm_stat_inc(enum vsock_shm_stat s)
{
	vsock_shm_stat_add(s, 1);
}

u64 vsock_shm_stat_sum(enum vsock_shm_stat s);
const char *vsock_shm_stat_name(enum vsock_shm_stat s);

int vsock_shm_stats_init(void);
void vsock_shm_stats_exit(void);

#endif /* _VHOST_VSOCK_SHM_STATS_H */
