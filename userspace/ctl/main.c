// SPDX-License-Identifier: GPL-2.0
/*
 * vsock-shmctl: the control tool of vhost_vsock_shm. This file: global
 * options, the dispatch to objects (policy.c, kstats.c) and every help text.
 *
 *   vsock-shmctl [-j] [-p] [-d] OBJECT COMMAND [ARGS]
 *
 * Exit status: 0 on success, 1 on any failure, with
 * "vsock-shmctl: <what failed>: <why>" on stderr.
 */
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "ctl.h"

#ifndef CTL_VERSION
#define CTL_VERSION	"1.0"
#endif

struct ctl_opts ctl;

static void help_main(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: " CTL_NAME " [OPTIONS] OBJECT { COMMAND | help }\n"
		"       " CTL_NAME " { -V | --version | -h | --help }\n"
		"\n"
		"OBJECT := { policy | grants | stats }\n"
		"OPTIONS := { -j|--json | -p|--pretty | -d|--debug }\n"
		"\n"
		"  policy load NAME|FILE [--name N]   load and attach a translation policy\n"
		"  policy swap NAME|FILE [--name N] [--fresh]\n"
		"                                     replace the policy, never leaving none\n"
		"  policy unload                      detach and unpin the policy\n"
		"  policy show                        the policy, its counters and tunables\n"
		"  policy set KEY VALUE               change a tunable of the policy\n"
		"                                     (unprivileged-ports on|off, allow...)\n"
		"  grants                             the module's live grants\n"
		"  stats                              the module's counters\n"
		"\n"
		"  -j, --json     print one JSON value on stdout\n"
		"  -p, --pretty   indented JSON (implies -j)\n"
		"  -d, --debug    show libbpf's messages\n"
		"\n"
		"Shipped policies (NAME):");
	for (i = 0; i < nr_shipped_policies; i++)
		fprintf(f, "%s %s", i ? "," : "", shipped_policies[i]->name);
	fprintf(f,
		".\nPolicies are pinned under " PIN_ROOT "/<name>/.\n"
		"Exit status: 0 on success, 1 on failure (the cause on stderr).\n"
		"Each object and command has its --help; see also vsock-shmctl(8).\n");
}

void help_policy(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy { load | swap | unload | show | set | help }\n"
		"\n"
		"  policy load NAME|FILE [--name N]   load, attach and pin a policy\n"
		"  policy swap NAME|FILE [--name N] [--fresh]\n"
		"                                     attach a new policy, then drop the old\n"
		"  policy unload                      detach and unpin the policy\n"
		"  policy show                        the policy (default command)\n"
		"  policy set KEY VALUE               change a tunable of the policy\n"
		"\n"
		"One policy is active at a time. Only guest ports below 1024 share memory\n"
		"unless 'policy set unprivileged-ports on'. 'COMMAND --help' says more.\n");
}

static void help_source(FILE *f)
{
	size_t i;

	fprintf(f,
		"NAME is a shipped policy, built into " CTL_NAME ":\n");
	for (i = 0; i < nr_shipped_policies; i++)
		fprintf(f, "  %-10s %s\n", shipped_policies[i]->name,
			shipped_policies[i]->summary);
	fprintf(f,
		"FILE (it has a '/' or ends in .bpf.o) is a BPF object with one\n"
		"SEC(\"tp_btf/vsock_shm_guest_pkt\") program and a\n"
		"'const volatile __u32 policy_tag' (set at load to a free tag, 1..255).\n"
		"N names the pin directory " PIN_ROOT "/N (default: the policy's name,\n"
		"or the file's name without .bpf.o). When the kernel rejects the\n"
		"program, the verifier's log is printed.\n");
}

void help_policy_load(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy load NAME|FILE [--name N]\n"
		"\n"
		"Load a translation policy, attach it to the tracepoint\n"
		"vsock_shm_guest_pkt of vhost_vsock_shm and pin it. Fails when another\n"
		"policy is loaded (use 'policy swap'); loading the same policy under the\n"
		"same name again succeeds and changes nothing.\n"
		"\n");
	help_source(f);
}

void help_policy_swap(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy swap NAME|FILE [--name N] [--fresh]\n"
		"\n"
		"Replace the active policy without a gap: the new policy is loaded,\n"
		"attached and pinned while the old one is still attached (the newer runs\n"
		"last and its verdict wins), then the old link is unpinned, which\n"
		"detaches it. If the new policy fails to load, the old one stays.\n"
		"With nothing loaded, this is 'policy load'.\n"
		"Maps of the new policy that the old one also had (same name, type and\n"
		"sizes, except counters) get the old entries before the new policy is\n"
		"attached, so allow lists, quotas and unprivileged-ports survive;\n"
		"--fresh starts empty (unprivileged-ports off).\n"
		"\n");
	help_source(f);
}

void help_policy_unload(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy unload\n"
		"\n"
		"Unpin everything of the active policy (its link first, which detaches\n"
		"it) and remove its directory. With no policy loaded, says so and\n"
		"succeeds. Without a policy the module translates nothing: guests get\n"
		"VSHM_E_NOPOLICY.\n"
		"\n"
		"Waits (up to 5 s) until the kernel has freed the program, so that\n"
		"'rmmod vhost_vsock_shm' right after succeeds; says \"released\" when it\n"
		"has, and names the program id when another process still holds it.\n");
}

void help_policy_show(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy show\n"
		"\n"
		"The active policy: name, source, tag, program id and load time, link\n"
		"and attach state, its counters (msgs, lists, translated, refused,\n"
		"summed over CPUs) and its tunables: unprivileged-ports (JSON:\n"
		"unprivileged_ports, true or false; null for a policy without the map\n"
		"guest_ports) and, for restrict, allow, quota and default-quota.\n"
		"With none: 'policy: none' (JSON: {\"policy\": null}).\n");
}

void help_policy_set(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] policy set KEY VALUE\n"
		"\n"
		"Change a tunable held in the active policy's maps.\n"
		"Every shipped policy has:\n"
		"  unprivileged-ports on|off\n"
		"                          on: GPA lists from every guest port are shared;\n"
		"                          off (default): only from guest ports below 1024,\n"
		"                          which need CAP_NET_BIND_SERVICE in the guest; other\n"
		"                          lists are refused with VSHM_E_PORT (map guest_ports)\n"
		"restrict also has:\n"
		"  allow CID:PORT          let guest CID share with host port PORT (map allow)\n"
		"  deny CID:PORT           remove that pair from the allow map\n"
		"  quota CID:PAGES         pages guest CID may have pinned (map quota)\n"
		"  quota CID:none          remove the CID's own quota: default-quota applies\n"
		"  default-quota PAGES     quota of CIDs without their own, 0: none (map settings)\n"
		"A policy without the map of KEY has not that tunable: an error.\n");
}

void help_grants(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] grants\n"
		"\n"
		"The module's live grants (" KSTATS_DIR "/grants):\n"
		"ID, guest CID, guest and host ports, region, pages, state (filling,\n"
		"complete) and the pid of the server that mapped it (0: none).\n");
}

void help_stats(FILE *f)
{
	fprintf(f,
		"Usage: " CTL_NAME " [-j] stats\n"
		"\n"
		"The module's counters (" KSTATS_DIR "/stats): packets seen, vsock-shm\n"
		"messages, GPA lists translated, refused (per reason: only nonzero ones\n"
		"in the table, all in JSON) and passed, grants, pages, and the verdicts\n"
		"per policy tag.\n");
}

/* Global options, wherever they are (before "--"); others are left. */
static int take_options(int *argc, char **argv, bool *version, bool *help)
{
	int i, out = 1;
	bool rest = false;

	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (rest || a[0] != '-' || !a[1]) {
			argv[out++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			rest = true;
		} else if (!strcmp(a, "--json")) {
			ctl.json = true;
		} else if (!strcmp(a, "--pretty")) {
			ctl.json = ctl.pretty = true;
		} else if (!strcmp(a, "--debug")) {
			ctl.debug = true;
		} else if (!strcmp(a, "--version")) {
			*version = true;
		} else if (a[1] != '-' && strspn(a + 1, "jpdV") == strlen(a + 1)) {
			ctl.json |= strchr(a, 'j') || strchr(a, 'p');
			ctl.pretty |= strchr(a, 'p') != NULL;
			ctl.debug |= strchr(a, 'd') != NULL;
			*version |= strchr(a, 'V') != NULL;
		} else if (out == 1 && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			*help = true;
		} else if (out == 1) {
			return usage_error("--help", "unknown option '%s'", a);
		} else {
			argv[out++] = argv[i];	/* the command's */
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	bool version = false, help = false;
	int ret;

	if (take_options(&argc, argv, &version, &help))
		return 1;
	libbpf_set_print(lib_print);
	if (version) {
		printf(CTL_NAME " %s (libbpf %u.%u)\n", CTL_VERSION,
		       libbpf_major_version(), libbpf_minor_version());
		return 0;
	}
	if (help || (argc > 1 && !strcmp(argv[1], "help"))) {
		help_main(stdout);
		return 0;
	}
	if (argc < 2) {
		usage_error("--help", "missing OBJECT (policy, grants or stats)");
		return 1;
	}
	if (!strcmp(argv[1], "policy"))
		ret = cmd_policy(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "grants") || !strcmp(argv[1], "grant"))
		ret = cmd_grants(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "stats") || !strcmp(argv[1], "stat"))
		ret = cmd_stats(argc - 2, argv + 2);
	else
		ret = usage_error("--help", "unknown object '%s'", argv[1]);
	fflush(stdout);
	return ret ? 1 : 0;
}
