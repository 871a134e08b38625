/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module-wide counters of vhost_vsock_shm, per CPU, summed when read from
 * debugfs (<debugfs>/vhost_vsock_shm/stats).
 */
#ifndef _VHOST_VSOCK_SHM_STATS_H
#define _VHOST_VSOCK_SHM_STATS_H

#include <linux/percpu.h>

#include "wire.h"

enum vsock_shm_stat {
	VSOCK_SHM_STAT_PKTS_SEEN,
	VSOCK_SHM_STAT_BYTES_SEEN,
	VSOCK_SHM_STAT_DEVS_OPENED,
	VSOCK_SHM_STAT_DEVS_RELEASED,
	VSOCK_SHM_STAT_MSGS_SEEN,
	VSOCK_SHM_STAT_LISTS_SEEN,
	VSOCK_SHM_STAT_LISTS_TRANSLATED,
	VSOCK_SHM_STAT_LISTS_REFUSED,
	VSOCK_SHM_STAT_LISTS_PASSED,
	VSOCK_SHM_STAT_GRANTS_CREATED,
	VSOCK_SHM_STAT_GRANTS_REVOKED,
	VSOCK_SHM_STAT_PAGES_PINNED,
	VSOCK_SHM_STAT_PAGES_UNPINNED,
	VSOCK_SHM_STAT_FREES,
	VSOCK_SHM_STAT_MEMMAP_CHANGES,
	VSOCK_SHM_STAT_GRANTS_RECHECKED,
	VSOCK_SHM_STAT_GRANTS_REVOKED_MEMMAP,
	VSOCK_SHM_STAT_DIRTY_LOG_STARTS,
	VSOCK_SHM_STAT_GRANTS_REVOKED_DIRTY_LOG,
	VSOCK_SHM_STAT_PAGES_LOGGED_DIRTY,
	VSOCK_SHM_STAT_PKTS_NEUTERED,
	VSOCK_SHM_STAT_WATCH_INVALIDATIONS,
	VSOCK_SHM_STAT_GRANTS_REVOKED_MEMORY,
	VSOCK_SHM_STAT_NR,
};

/* Refusals are also counted per enum vshm_err code. */
#define VSOCK_SHM_NR_CODES	(VSHM_E_MAX + 1)

/* Revocations are also counted per enum vshm_revoke_reason. */
#define VSOCK_SHM_NR_REASONS	(VSHM_REVOKE_MAX + 1)

/* Verdicts are also counted per policy tag (vsock_shm_pkt_ctx.policy). */
#define VSOCK_SHM_NR_TAGS	256

struct vsock_shm_stats {
	u64 v[VSOCK_SHM_STAT_NR];
	u64 refused[VSOCK_SHM_NR_CODES];
	u64 revoked[VSOCK_SHM_NR_REASONS];
	u64 tag_translated[VSOCK_SHM_NR_TAGS];
	u64 tag_refused[VSOCK_SHM_NR_TAGS];
};

/* Set from vsock_shm_stats_init() to vsock_shm_stats_exit(). */
extern struct vsock_shm_stats __percpu *vsock_shm_stats;

static inline void vsock_shm_stat_add(enum vsock_shm_stat s, u64 n)
{
	this_cpu_add(vsock_shm_stats->v[s], n);
}

static inline void vsock_shm_stat_inc(enum vsock_shm_stat s)
{
	vsock_shm_stat_add(s, 1);
}

static inline void vsock_shm_stat_refused(u32 code)
{
	vsock_shm_stat_inc(VSOCK_SHM_STAT_LISTS_REFUSED);
	if (code < VSOCK_SHM_NR_CODES)
		this_cpu_inc(vsock_shm_stats->refused[code]);
}

/* A grant was revoked for @reason (enum vshm_revoke_reason). */
static inline void vsock_shm_stat_revoked(u32 reason)
{
	if (reason < VSOCK_SHM_NR_REASONS)
		this_cpu_inc(vsock_shm_stats->revoked[reason]);
}

/* A verdict of policy @tag was carried out. */
static inline void vsock_shm_stat_verdict(u32 tag, bool translated)
{
	if (tag >= VSOCK_SHM_NR_TAGS)
		tag = 0;
	if (translated)
		this_cpu_inc(vsock_shm_stats->tag_translated[tag]);
	else
		this_cpu_inc(vsock_shm_stats->tag_refused[tag]);
}

u64 vsock_shm_stat_sum(enum vsock_shm_stat s);
const char *vsock_shm_stat_name(enum vsock_shm_stat s);

int vsock_shm_stats_init(void);
void vsock_shm_stats_exit(void);

#endif /* _VHOST_VSOCK_SHM_STATS_H */
