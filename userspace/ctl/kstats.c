// SPDX-License-Identifier: GPL-2.0
/*
 * The module's debugfs files and the commands that show them:
 *
 *   <debugfs>/vhost_vsock_shm/stats    "name value" per line   -> stats
 *   <debugfs>/vhost_vsock_shm/grants   one grant per line      -> grants
 *       id cid guest_port host_port region pages state pid
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "ctl.h"

#define STATS_FILE	KSTATS_DIR "/stats"
#define GRANTS_FILE	KSTATS_DIR "/grants"
#define REFUSED_PREFIX	"refused_"
#define MAX_STATS	512

int kstats_read(struct kstat **out)
{
	struct kstat *s;
	char line[256];
	int n = 0;
	FILE *f;

	*out = NULL;
	f = fopen(STATS_FILE, "re");
	if (!f)
		return -1;
	s = calloc(MAX_STATS, sizeof(*s));
	if (!s) {
		fclose(f);
		errno = ENOMEM;
		return -1;
	}
	while (fgets(line, sizeof(line), f) && n < MAX_STATS) {
		unsigned long long v;
		char name[64];

		if (sscanf(line, "%63s %llu", name, &v) != 2)
			continue;
		strcpy(s[n].name, name);
		s[n].value = v;
		n++;
	}
	fclose(f);
	*out = s;
	return n;
}

/* "policy_<tag>_<what>": the tag, or -1. */
static int tag_line(const char *name, const char *what)
{
	size_t wl = strlen(what), nl = strlen(name);
	__u32 tag;
	char num[8];
	size_t len;

	if (strncmp(name, "policy_", 7) || nl <= 7 + wl + 1 ||
	    strcmp(name + nl - wl, what) || name[nl - wl - 1] != '_')
		return -1;
	len = nl - wl - 1 - 7;
	if (len >= sizeof(num))
		return -1;
	memcpy(num, name + 7, len);
	num[len] = '\0';
	if (parse_u32(num, &tag) || tag > TAG_MAX)
		return -1;
	return (int)tag;
}

void kstats_tags(const struct kstat *s, int n, __u64 translated[TAG_MAX + 1],
		 __u64 refused[TAG_MAX + 1], bool seen[TAG_MAX + 1])
{
	int i, t;

	memset(translated, 0, sizeof(__u64) * (TAG_MAX + 1));
	memset(refused, 0, sizeof(__u64) * (TAG_MAX + 1));
	memset(seen, 0, sizeof(bool) * (TAG_MAX + 1));
	for (i = 0; i < n; i++) {
		t = tag_line(s[i].name, "translated");
		if (t >= 0) {
			translated[t] += s[i].value;
			seen[t] = true;
			continue;
		}
		t = tag_line(s[i].name, "refused");
		if (t >= 0) {
			refused[t] += s[i].value;
			seen[t] = true;
		}
	}
}

/* Why a debugfs file of the module cannot be read, as a failure. */
static int explain(const char *file, int err)
{
	struct statfs st;

	if (access(MODULE_SYSFS, F_OK))
		return fail("module vhost_vsock_shm is not loaded (no %s)", MODULE_SYSFS);
	if (!statfs(DEBUGFS_MOUNT, &st) && st.f_type != DEBUGFS_MAGIC &&
	    st.f_type != TRACEFS_MAGIC)
		return fail("debugfs is not mounted on %s (mount -t debugfs none %s)",
			    DEBUGFS_MOUNT, DEBUGFS_MOUNT);
	if (err == ENOENT)
		return fail("%s does not exist: this vhost_vsock_shm does not provide it",
			    file);
	return fail_errno(err, "cannot read %s", file);
}

static __u64 get(const struct kstat *s, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s[i].name, name))
			return s[i].value;
	return 0;
}

/* Counters shown by name in the table, in this order. */
static const char *const main_stats[] = {
	"pkts_seen", "bytes_seen", "msgs_seen", "lists_seen",
	"lists_translated", "lists_refused", "lists_passed",
	"grants_created", "grants_revoked", "pages_pinned", "pages_unpinned",
	"frees", "devs_opened", "devs_released",
};

static bool is_main(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(main_stats); i++)
		if (!strcmp(name, main_stats[i]))
			return true;
	return false;
}

/* Tag -> policy name, for the pinned policies (best effort). */
static void tag_names(char names[TAG_MAX + 1][POLICY_NAME_MAX + 1])
{
	struct pinned all[16];
	int i, n;

	memset(names, 0, (TAG_MAX + 1) * (POLICY_NAME_MAX + 1));
	if (access(PIN_ROOT, R_OK | X_OK))
		return;
	n = pins_list(all, ARRAY_SIZE(all));
	for (i = 0; i < n; i++)
		if (all[i].has_meta && all[i].meta.tag <= TAG_MAX)
			snprintf(names[all[i].meta.tag], POLICY_NAME_MAX + 1, "%s",
				 all[i].name);
}

static void stats_json(const struct kstat *s, int n, const __u64 *tr,
		       const __u64 *rf, char names[TAG_MAX + 1][POLICY_NAME_MAX + 1])
{
	int i, t;

	json_obj_begin(NULL);
	for (i = 0; i < n; i++)
		if (strncmp(s[i].name, REFUSED_PREFIX, strlen(REFUSED_PREFIX)) &&
		    strncmp(s[i].name, "policy_", 7))
			json_u64(s[i].name, s[i].value);
	json_obj_begin("refused");
	for (i = 0; i < n; i++)
		if (!strncmp(s[i].name, REFUSED_PREFIX, strlen(REFUSED_PREFIX)))
			json_u64(s[i].name + strlen(REFUSED_PREFIX), s[i].value);
	json_obj_end();
	json_arr_begin("policies");
	for (t = 0; t <= TAG_MAX; t++) {
		if (!names[t][0] && !tr[t] && !rf[t])
			continue;
		json_obj_begin(NULL);
		json_u64("tag", (__u64)t);
		if (names[t][0])
			json_str("name", names[t]);
		else
			json_null("name");
		json_u64("translated", tr[t]);
		json_u64("refused", rf[t]);
		json_obj_end();
	}
	json_arr_end();
	json_obj_end();
}

static void stats_table(const struct kstat *s, int n, const __u64 *tr,
			const __u64 *rf, char names[TAG_MAX + 1][POLICY_NAME_MAX + 1])
{
	__u64 pinned = get(s, n, "pages_pinned"), unpinned = get(s, n, "pages_unpinned");
	__u64 created = get(s, n, "grants_created"), revoked = get(s, n, "grants_revoked");
	bool any = false;
	int i, t;

	printf("%-22s %llu (%llu bytes)\n", "packets seen",
	       (unsigned long long)get(s, n, "pkts_seen"),
	       (unsigned long long)get(s, n, "bytes_seen"));
	printf("%-22s %llu\n", "messages (classified)",
	       (unsigned long long)get(s, n, "msgs_seen"));
	printf("%-22s %llu\n", "GPA lists", (unsigned long long)get(s, n, "lists_seen"));
	printf("%-22s %llu\n", "  translated",
	       (unsigned long long)get(s, n, "lists_translated"));
	printf("%-22s %llu\n", "  refused", (unsigned long long)get(s, n, "lists_refused"));
	for (i = 0; i < n; i++) {
		if (strncmp(s[i].name, REFUSED_PREFIX, strlen(REFUSED_PREFIX)) ||
		    !s[i].value)
			continue;
		printf("    %-18s %llu\n", s[i].name + strlen(REFUSED_PREFIX),
		       (unsigned long long)s[i].value);
	}
	printf("%-22s %llu\n", "  passed (no policy)",
	       (unsigned long long)get(s, n, "lists_passed"));
	printf("%-22s %llu created, %llu revoked, %llu live\n", "grants",
	       (unsigned long long)created, (unsigned long long)revoked,
	       (unsigned long long)(created - revoked));
	printf("%-22s %llu pinned, %llu unpinned, %llu pinned now\n", "pages",
	       (unsigned long long)pinned, (unsigned long long)unpinned,
	       (unsigned long long)(pinned - unpinned));
	printf("%-22s %llu\n", "frees", (unsigned long long)get(s, n, "frees"));
	printf("%-22s %llu opened, %llu released\n", "devices",
	       (unsigned long long)get(s, n, "devs_opened"),
	       (unsigned long long)get(s, n, "devs_released"));
	for (i = 0; i < n; i++) {
		if (is_main(s[i].name) ||
		    !strncmp(s[i].name, REFUSED_PREFIX, strlen(REFUSED_PREFIX)) ||
		    !strncmp(s[i].name, "policy_", 7))
			continue;
		printf("%-22s %llu\n", s[i].name, (unsigned long long)s[i].value);
	}
	for (t = 0; t <= TAG_MAX; t++) {
		if (!names[t][0] && !tr[t] && !rf[t])
			continue;
		if (!any)
			printf("per policy tag\n  %-5s %-20s %12s %12s\n", "TAG",
			       "POLICY", "TRANSLATED", "REFUSED");
		any = true;
		printf("  %-5d %-20s %12llu %12llu\n", t, names[t][0] ? names[t] : "-",
		       (unsigned long long)tr[t], (unsigned long long)rf[t]);
	}
}

int cmd_stats(int argc, char **argv)
{
	static char names[TAG_MAX + 1][POLICY_NAME_MAX + 1];
	__u64 tr[TAG_MAX + 1], rf[TAG_MAX + 1];
	bool seen[TAG_MAX + 1];
	struct kstat *s;
	int n;

	ctl_set_what("stats");
	if (argc > 0 && is_help(argv[0])) {
		help_stats(stdout);
		return 0;
	}
	if (argc > 0)
		return usage_error("stats --help", "unexpected argument '%s'", argv[0]);
	n = kstats_read(&s);
	if (n < 0)
		return explain(STATS_FILE, errno);
	kstats_tags(s, n, tr, rf, seen);
	tag_names(names);
	if (ctl.json)
		stats_json(s, n, tr, rf, names);
	else
		stats_table(s, n, tr, rf, names);
	free(s);
	return 0;
}

struct grant {
	unsigned long long id, cid, pages;
	unsigned int gport, hport, region;
	char state[16];
	int pid;
};

int cmd_grants(int argc, char **argv)
{
	struct grant g;
	char line[256];
	bool any = false;
	FILE *f;

	ctl_set_what("grants");
	if (argc > 0 && is_help(argv[0])) {
		help_grants(stdout);
		return 0;
	}
	if (argc > 0)
		return usage_error("grants --help", "unexpected argument '%s'", argv[0]);
	f = fopen(GRANTS_FILE, "re");
	if (!f)
		return explain(GRANTS_FILE, errno);
	if (ctl.json)
		json_arr_begin(NULL);
	while (fgets(line, sizeof(line), f)) {
		/* A header line, if any, does not start with a number. */
		if (sscanf(line, "%llu %llu %u %u %u %llu %15s %d", &g.id, &g.cid,
			   &g.gport, &g.hport, &g.region, &g.pages, g.state,
			   &g.pid) != 8)
			continue;
		if (ctl.json) {
			json_obj_begin(NULL);
			json_u64("id", g.id);
			json_u64("cid", g.cid);
			json_u64("guest_port", g.gport);
			json_u64("host_port", g.hport);
			json_u64("region", g.region);
			json_u64("pages", g.pages);
			json_str("state", g.state);
			json_u64("pid", g.pid > 0 ? (__u64)g.pid : 0);
			json_obj_end();
			continue;
		}
		if (!any)
			printf("%-8s %-10s %-10s %-9s %-8s %-9s %-8s %s\n", "ID", "CID",
			       "GUEST_PORT", "HOST_PORT", "REGION", "PAGES", "STATE",
			       "PID");
		any = true;
		printf("%-8llu %-10llu %-10u %-9u %-8u %-9llu %-8s %d\n", g.id, g.cid,
		       g.gport, g.hport, g.region, g.pages, g.state, g.pid);
	}
	fclose(f);
	if (ctl.json)
		json_arr_end();
	else if (!any)
		printf("grants: none\n");
	return 0;
}
