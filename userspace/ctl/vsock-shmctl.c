// SPDX-License-Identifier: GPL-2.0
/*
 * vsock-shmctl: load, show and unload the translation policy of
 * vhost_vsock_shm.
 *
 *   vsock-shmctl policy load [default]   load and attach, pin under BPFFS_DIR
 *   vsock-shmctl policy unload           detach (unpin)
 *   vsock-shmctl policy show             the loaded policy and its counters
 *   vsock-shmctl stats                   the module's counters
 *
 * Exit status: 0 on success, 1 on failure (the cause is printed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "default.skel.h"

#define BPFFS_DIR	"/sys/fs/bpf/vsock_shm"
#define PIN_LINK	BPFFS_DIR "/link"
#define PIN_COUNTERS	BPFFS_DIR "/counters"
#define MODULE_STATS	"/sys/kernel/debug/vhost_vsock_shm/stats"
#define DEFAULT_TAG	1

static const char *const counter_names[] = {
	"msgs", "lists", "translated", "refused",
};

static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("vsock-shmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int check_env(void)
{
	struct statfs st;

	if (access("/sys/module/vhost_vsock_shm", F_OK)) {
		err_msg("module vhost_vsock_shm is not loaded");
		return -1;
	}
	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		err_msg("bpffs is not mounted on /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
		return -1;
	}
	if (mkdir(BPFFS_DIR, 0700) && errno != EEXIST) {
		err_msg("cannot create %s: %s", BPFFS_DIR, strerror(errno));
		return -1;
	}
	return 0;
}

static int policy_load(const char *name)
{
	struct default_policy *skel;
	struct bpf_link *link;
	int err;

	if (strcmp(name, "default")) {
		err_msg("unknown policy '%s' (known: default)", name);
		return 1;
	}
	if (check_env())
		return 1;
	if (!access(PIN_LINK, F_OK)) {
		printf("policy: already loaded\n");
		return 0;
	}
	skel = default_policy__open();
	if (!skel) {
		err_msg("cannot open the policy: %s", strerror(errno));
		return 1;
	}
	skel->rodata->policy_tag = DEFAULT_TAG;
	err = default_policy__load(skel);
	if (err) {
		err_msg("the kernel refused the policy: %s", strerror(-err));
		goto out;
	}
	link = bpf_program__attach(skel->progs.vsock_shm_policy);
	err = libbpf_get_error(link);
	if (err) {
		err_msg("cannot attach the policy: %s", strerror(-err));
		goto out;
	}
	skel->links.vsock_shm_policy = link;
	err = bpf_map__pin(skel->maps.counters, PIN_COUNTERS);
	if (!err)
		err = bpf_link__pin(link, PIN_LINK);
	if (err) {
		err_msg("cannot pin under %s: %s", BPFFS_DIR, strerror(-err));
		unlink(PIN_COUNTERS);
		goto out;
	}
	printf("policy: default loaded, attached to vsock_shm_guest_pkt\n");
out:
	default_policy__destroy(skel);
	return err ? 1 : 0;
}

static int policy_unload(void)
{
	int ret = 0;

	if (unlink(PIN_LINK) && errno != ENOENT) {
		err_msg("cannot unpin %s: %s", PIN_LINK, strerror(errno));
		ret = 1;
	}
	if (unlink(PIN_COUNTERS) && errno != ENOENT) {
		err_msg("cannot unpin %s: %s", PIN_COUNTERS, strerror(errno));
		ret = 1;
	}
	if (!ret)
		printf("policy: unloaded\n");
	return ret;
}

static int policy_show(void)
{
	int fd, ncpu = libbpf_num_possible_cpus();
	__u32 i, c;

	if (access(PIN_LINK, F_OK)) {
		printf("policy: none\n");
		return 0;
	}
	printf("policy: default\n");
	fd = bpf_obj_get(PIN_COUNTERS);
	if (fd < 0 || ncpu <= 0) {
		err_msg("cannot open %s: %s", PIN_COUNTERS, strerror(errno));
		return 1;
	}
	for (i = 0; i < sizeof(counter_names) / sizeof(counter_names[0]); i++) {
		__u64 v[ncpu], sum = 0;

		if (bpf_map_lookup_elem(fd, &i, v)) {
			err_msg("cannot read counter %u: %s", i, strerror(errno));
			close(fd);
			return 1;
		}
		for (c = 0; c < (__u32)ncpu; c++)
			sum += v[c];
		printf("  %-12s %llu\n", counter_names[i], (unsigned long long)sum);
	}
	close(fd);
	return 0;
}

static int stats(void)
{
	char line[256];
	FILE *f = fopen(MODULE_STATS, "r");

	if (!f) {
		err_msg("cannot read %s: %s (module loaded? debugfs mounted?)",
			MODULE_STATS, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

static int usage(FILE *out, int ret)
{
	fprintf(out,
		"usage: vsock-shmctl policy load [default]\n"
		"       vsock-shmctl policy unload\n"
		"       vsock-shmctl policy show\n"
		"       vsock-shmctl stats\n");
	return ret;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(stdout, 0);
	if (argc >= 3 && !strcmp(argv[1], "policy")) {
		if (!strcmp(argv[2], "load") && argc <= 4)
			return policy_load(argc == 4 ? argv[3] : "default");
		if (!strcmp(argv[2], "unload") && argc == 3)
			return policy_unload();
		if (!strcmp(argv[2], "show") && argc == 3)
			return policy_show();
	}
	if (argc == 2 && !strcmp(argv[1], "stats"))
		return stats();
	return usage(stderr, 1);
}
