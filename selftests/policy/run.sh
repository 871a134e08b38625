#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vsock-shmctl in L1, as root, without guest traffic: every command (help at
# every level, policy load/swap/unload/show/set, grants, stats, with and
# without -j), the tunable every policy has (unprivileged-ports) and every
# failure path (module not loaded, bpffs not mounted, not permitted, missing
# file, not a BPF object, no policy program, a program the verifier
# rejects, load twice, a tunable the policy lacks, a bad value...).
# Failures must exit 1 with "vsock-shmctl: <what>: <why>" on stderr; JSON
# must parse. Writes TAP to OUT.
#   selftests/policy/run.sh OUT.tap
set -uo pipefail

OUT=$1 SUITE=policy
. "$(dirname "$0")/../lib.sh"
PIN=/sys/fs/bpf/vsock_shm
W=$(mktemp -d /tmp/policy-test.XXXXXX)
rc=0

diag() {
	{
		echo "# exit status $rc"
		sed 's/^/# stdout: /' "$W/out" | head -30
		sed 's/^/# stderr: /' "$W/err" | head -60
	} | tee -a "$OUT"
}
run() { "$@" > "$W/out" 2> "$W/err"; rc=$?; }
verdict() {	# NAME CONDITION-STATUS
	if [ "$2" = 0 ]; then emit ok "$1"; else diag; emit "not ok" "$1"; fi
}
# expect_ok NAME REGEX CMD...: exit 0, stdout matches REGEX (grep -E).
expect_ok() {
	local name=$1 re=$2
	shift 2
	run "$@"
	[ $rc = 0 ] && grep -qE -- "$re" "$W/out"
	verdict "$name" $?
}
# expect_fail NAME REGEX CMD...: exit 1, stderr "vsock-shmctl: ...REGEX".
expect_fail() {
	local name=$1 re=$2
	shift 2
	run "$@"
	[ $rc = 1 ] && grep -qE -- "^vsock-shmctl: .*$re" "$W/err"
	verdict "$name" $?
}
# The last stdout is one valid JSON value and the jq expression on it holds.
json_holds() {
	[ "$(jq -s length "$W/out" 2> /dev/null)" = 1 ] && jq -e "$1" "$W/out" > /dev/null
}
# expect_json NAME JQEXPR CMD...: exit 0, valid JSON, JQEXPR true.
expect_json() {
	local name=$1 expr=$2
	shift 2
	run "$@"
	[ $rc = 0 ] && json_holds "$expr"
	verdict "$name" $?
}
field() {	# field KEY: a number from the last (compact) JSON output
	sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$W/out" | head -1
}
check() {	# check NAME CMD...: CMD succeeds
	local name=$1
	shift
	: > "$W/out"
	"$@" > "$W/err" 2>&1
	rc=$?
	verdict "$name" $rc
}
pin_dirs() { ls -A "$PIN" 2>/dev/null | tr '\n' ' '; }
only_dir() { [ "$(pin_dirs)" = "$1 " ]; }
pins_are() {	# pins_are DIR FILE...: exactly these pins in PIN/DIR
	[ "$(ls "$PIN/$1" | sort | tr '\n' ' ')" = "$(shift; printf '%s\n' "$@" | sort | tr '\n' ' ')" ]
}
tracing_links() {	# links on the module's tracepoint
	bpftool -j link show | grep -o '"tp_name":"vsock_shm_guest_pkt"' | wc -l
}
one_link() { [ "$(tracing_links)" = 1 ]; }
no_link() { [ "$(tracing_links)" = 0 ]; }
# The policy_tag the loaded program really has, from its .rodata map.
prog_tag() {
	local id
	for id in $(bpftool -j prog show id "$1" | grep -o '"map_ids":\[[0-9,]*\]' | grep -o '[0-9]\+'); do
		bpftool -j map dump id "$id" 2> /dev/null | grep -o '"policy_tag":[0-9]*' |
			cut -d: -f2 | grep . && return 0
	done
	return 1
}
rmmod_all() { rmmod vsock_shm_mapper 2> /dev/null; rmmod vhost_vsock_shm; }

# Policy objects of the failure cases, built here.
cat > "$R/reject.bpf.c" << 'EOF'
// SPDX-License-Identifier: GPL-2.0
/* A policy the verifier must refuse: a map value used without a NULL check. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 policy_tag = 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("tp_btf/vsock_shm_guest_pkt")
int rejected_policy(void *ctx)
{
	__u32 key = policy_tag;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	*v += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
EOF
cat > "$R/wrongprog.bpf.c" << 'EOF'
// SPDX-License-Identifier: GPL-2.0
/* A valid BPF object without a tp_btf/vsock_shm_guest_pkt program. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 policy_tag = 1;

SEC("xdp")
int not_a_policy(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
EOF
cat > "$R/bare.bpf.c" << 'EOF'
// SPDX-License-Identifier: GPL-2.0
/* A policy built without bpf/policy.h: no counters, no guest_ports map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 policy_tag = 1;

SEC("tp_btf/vsock_shm_guest_pkt")
int bare_policy(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
EOF
for o in reject wrongprog bare; do
	clang -g -O2 -target bpf -I/usr/include/x86_64-linux-gnu \
		-c "$R/$o.bpf.c" -o "$R/$o.bpf.o" || echo "# clang failed on $o.bpf.c"
done
echo "this is not an object" > "$R/notbpf.bpf.o"
# The unprivileged user needs a copy it can reach.
chmod 755 "$W"
cp "$CTL" "$W/vsock-shmctl" && chmod 755 "$W/vsock-shmctl"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups "$W/vsock-shmctl")

# 1. Help at every level, version, usage errors: no module needed.
expect_ok help_top '^Usage: vsock-shmctl' "$CTL" --help
expect_ok help_top_short '^Usage: vsock-shmctl' "$CTL" -h
expect_ok help_word '^Usage: vsock-shmctl' "$CTL" help
expect_ok help_policy '^Usage: vsock-shmctl .*policy' "$CTL" policy --help
for c in load swap unload show set; do
	expect_ok "help_policy_$c" "^Usage: vsock-shmctl .*policy $c" "$CTL" policy $c --help
done
expect_ok help_grants '^Usage: vsock-shmctl .*grants' "$CTL" grants --help
expect_ok help_stats '^Usage: vsock-shmctl .*stats' "$CTL" stats -h
expect_ok version '^vsock-shmctl [0-9]' "$CTL" -V
expect_ok version_long '^vsock-shmctl [0-9]' "$CTL" --version
expect_fail no_object 'missing OBJECT' "$CTL"
expect_fail unknown_object "unknown object 'bogus'" "$CTL" bogus
expect_fail unknown_command "policy: unknown command 'bogus'" "$CTL" policy bogus
expect_fail unknown_option "unknown option '--bogus'" "$CTL" --bogus policy show
expect_fail load_needs_an_argument 'policy load: missing NAME or FILE' "$CTL" policy load
expect_fail load_unknown_name "unknown policy 'nosuch'" "$CTL" policy load nosuch
expect_fail set_unknown_key "unknown key 'bogus'" "$CTL" policy set bogus 1
expect_fail set_bad_value "'x:1' is not CID:PORT" "$CTL" policy set allow x:1
expect_fail set_bad_quota "'3' is not CID:PAGES" "$CTL" policy set quota 3
expect_fail set_unprivileged_bad_value "unprivileged-ports: 'maybe' is not on or off" \
	"$CTL" policy set unprivileged-ports maybe
expect_fail set_unprivileged_number "'1' is not on or off" "$CTL" policy set unprivileged-ports 1
expect_fail set_unprivileged_missing_value 'unprivileged-ports: missing on.off' \
	"$CTL" policy set unprivileged-ports
grep -q 'unprivileged-ports on|off' <("$CTL" policy set --help) &&
	grep -q 'unprivileged-ports' <("$CTL" policy show --help) &&
	grep -q 'unprivileged-ports' <("$CTL" policy --help)
verdict help_names_unprivileged_ports $?

# 2. Without the module.
modprobe kvm_amd
modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common
rmmod_all 2> /dev/null
expect_fail load_without_module 'policy load default: module vhost_vsock_shm is not loaded' \
	"$CTL" policy load default
expect_fail swap_without_module 'module vhost_vsock_shm is not loaded' "$CTL" policy swap default
expect_fail stats_without_module 'stats: module vhost_vsock_shm is not loaded' "$CTL" stats
expect_fail grants_without_module 'grants: module vhost_vsock_shm is not loaded' "$CTL" -j grants
expect_ok show_without_module '^policy: none' "$CTL" policy show

check modules_load bash -c "insmod $M/vhost_vsock_shm.ko && insmod $M/vsock_shm_mapper.ko"

# 3. bpffs not mounted.
umount /sys/fs/bpf
expect_fail load_without_bpffs 'bpffs is not mounted on /sys/fs/bpf' "$CTL" policy load default
expect_fail show_without_bpffs 'bpffs is not mounted on /sys/fs/bpf' "$CTL" -j policy show
expect_fail unload_without_bpffs 'bpffs is not mounted on /sys/fs/bpf' "$CTL" policy unload
mount -t bpf bpf /sys/fs/bpf
check bpffs_remounted bash -c '[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]'

# 4. Not permitted.
expect_fail load_not_permitted 'not permitted' "${NOBODY[@]}" policy load default
check unprivileged_created_nothing bash -c "[ ! -e $PIN ] || [ \"\$(stat -c %u $PIN)\" = 0 ]"
expect_fail stats_not_permitted 'stats: .*not permitted' "${NOBODY[@]}" stats
expect_fail grants_not_permitted 'grants: .*not permitted' "${NOBODY[@]}" grants

# 5. Objects that are not policies, and one the verifier rejects.
expect_fail missing_file '/nonexistent/x.bpf.o: no such file' \
	"$CTL" policy load /nonexistent/x.bpf.o
expect_fail missing_file_relative 'nope.bpf.o: no such file' "$CTL" policy load nope.bpf.o
expect_fail not_bpf_text 'not a BPF object \(not an ELF file\)' \
	"$CTL" policy load "$R/notbpf.bpf.o"
expect_fail not_bpf_elf 'not a BPF object \(an ELF file for machine 62' "$CTL" policy load /bin/true
expect_fail not_bpf_directory 'not a BPF object \(not a regular file\)' "$CTL" policy load /tmp/
expect_fail no_policy_program 'no SEC\("tp_btf/vsock_shm_guest_pkt"\) program' \
	"$CTL" policy load "$R/wrongprog.bpf.o"
expect_fail verifier_rejects "kernel rejected program 'rejected_policy'" \
	"$CTL" policy load "$R/reject.bpf.o"
grep -q -- '--- verifier log ---' "$W/err" && grep -q 'invalid mem access' "$W/err"
verdict verifier_log_printed $?
expect_ok nothing_left_after_failures '^policy: none' "$CTL" policy show
check no_pins_after_failures bash -c "[ -z \"\$(ls -A $PIN 2>/dev/null)\" ]"
check no_link_after_failures no_link

# 6. Load, show, load twice, unload twice.
expect_ok load_default '^policy: default loaded from default \(tag [0-9]+' "$CTL" policy load default
expect_ok show_default '^  link +id [0-9]+, attached' "$CTL" policy show
grep -qE '^  tag +[0-9]+$' "$W/out" && grep -qE '^  counters +msgs 0, lists 0, translated 0, refused 0' "$W/out"
verdict show_default_tag_and_counters $?
grep -qE '^  unprivileged-ports +off \(only guest ports below 1024 share\)$' "$W/out"
verdict show_default_unprivileged_off $?
expect_json show_default_json '.policy.name == "default" and .policy.source == "default" and
	.policy.attached and .policy.tag >= 1 and .policy.tag <= 255 and .policy.prog_id > 0 and
	(.policy.counters | keys) == ["lists", "msgs", "refused", "translated"] and
	.policy.unprivileged_ports == false and
	(.policy | has("allow") | not)' "$CTL" -j policy show
TAG_DEFAULT=$(field tag)
PROG_DEFAULT=$(field prog_id)
T=$(prog_tag "$PROG_DEFAULT")
[ "$T" = "$TAG_DEFAULT" ]
verdict program_rodata_tag_is_pinned_tag $?
check pin_layout pins_are default counters guest_ports link meta prog
check one_tracing_link one_link
expect_ok load_twice 'already loaded' "$CTL" policy load default
expect_json load_twice_json '.action == "none"' "$CTL" -j policy load default
expect_fail load_other_refused 'policy .default. .* is loaded: .*policy swap restrict' \
	"$CTL" policy load restrict
expect_fail load_same_under_other_name 'is loaded: .*policy swap default --name other' \
	"$CTL" policy load default --name other
expect_fail set_policy_without_tunables "policy 'default' has no tunable 'allow'" \
	"$CTL" policy set allow 3:7000
expect_fail set_default_quota_without_tunables "has no tunable 'default-quota'" \
	"$CTL" policy set default-quota 100
# The guest_ports tunable: on, shown (text, JSON, pretty, the map), off.
guest_ports_is() {	# the pinned map's value, as the policy reads it
	bpftool -j map dump pinned "$PIN/$1/guest_ports" | grep -q "\"unprivileged_ports\":$2"
}
expect_ok set_unprivileged_on '^policy default: unprivileged-ports on: every guest port may share$' \
	"$CTL" policy set unprivileged-ports on
check set_unprivileged_on_in_map guest_ports_is default 1
expect_ok show_unprivileged_on '^  unprivileged-ports +on \(every guest port may share\)$' \
	"$CTL" policy show
expect_json show_unprivileged_on_json '.policy.unprivileged_ports == true' "$CTL" -j policy show
expect_json show_unprivileged_on_pretty '.policy.unprivileged_ports == true' "$CTL" -p policy show
grep -qE '^    "unprivileged_ports": true,?$' "$W/out"
verdict show_unprivileged_on_pretty_indented $?
expect_fail set_unprivileged_bad_value_loaded "'yes' is not on or off" \
	"$CTL" -j policy set unprivileged-ports yes
[ ! -s "$W/out" ]
verdict set_unprivileged_bad_value_no_json $?
expect_json bad_value_changes_nothing '.policy.unprivileged_ports == true' "$CTL" -j policy show
expect_json set_unprivileged_off_json '. == {"policy": "default", "key": "unprivileged-ports",
	"value": "off", "result": "only guest ports below 1024 share"}' \
	"$CTL" -j policy set unprivileged-ports off
check set_unprivileged_off_in_map guest_ports_is default 0
expect_json show_unprivileged_off_json '.policy.unprivileged_ports == false' "$CTL" -j policy show
expect_ok show_unprivileged_off '^  unprivileged-ports +off' "$CTL" policy show
expect_ok set_unprivileged_off_twice 'unprivileged-ports off: only guest ports below 1024 share' \
	"$CTL" policy set unprivileged-ports off
expect_fail set_unprivileged_not_permitted 'policy set unprivileged-ports: not permitted' \
	"${NOBODY[@]}" policy set unprivileged-ports on
expect_json set_unprivileged_not_permitted_unchanged '.policy.unprivileged_ports == false' \
	"$CTL" -j policy show
expect_fail show_not_permitted 'policy show: .*not permitted' "${NOBODY[@]}" policy show
expect_fail unload_not_permitted 'not permitted' "${NOBODY[@]}" policy unload
expect_ok unload '^policy: default unloaded' "$CTL" policy unload
check no_link_after_unload no_link
expect_ok unload_twice 'none loaded' "$CTL" policy unload
expect_json unload_twice_json '. == {"unloaded": null}' "$CTL" -j policy unload
expect_ok show_none '^policy: none$' "$CTL" policy show
expect_json show_none_json '. == {"policy": null}' "$CTL" -j policy show
expect_fail set_without_policy 'no policy is loaded' "$CTL" policy set allow 3:7000
expect_fail set_unprivileged_without_policy 'unprivileged-ports: no policy is loaded' \
	"$CTL" policy set unprivileged-ports on

# 7. Swaps: nothing -> default -> restrict -> iotlb -> default.
expect_ok swap_nothing_loaded 'nothing swapped out' "$CTL" policy swap default
expect_json swap_nothing_show '.policy.name == "default" and .policy.attached' \
	"$CTL" -j policy show
PREV=$(field tag)
PREV_ID=$(field prog_id)
for p in restrict iotlb default; do
	expect_json "swap_to_$p" ".action == \"swap\" and .name == \"$p\" and .replaced != null" \
		"$CTL" -j policy swap $p
	run "$CTL" -j policy show
	[ $rc = 0 ] && json_holds ".policy.name == \"$p\" and .policy.attached and
		.policy.tag != $PREV and .policy.prog_id != $PREV_ID"
	verdict "swap_to_${p}_show_json" $?
	PREV=$(field tag)
	PREV_ID=$(field prog_id)
	check "swap_to_${p}_one_dir" only_dir $p
	check "swap_to_${p}_one_link" one_link
	if [ $p = restrict ]; then
		run "$CTL" -j policy show
		json_holds '.policy.allow == [] and .policy.quota == [] and
			.policy.default_quota == 0'
		verdict restrict_show_tunables_json $?
	fi
done
expect_fail swap_to_rejected 'kernel rejected program' "$CTL" policy swap "$R/reject.bpf.o"
expect_json swap_to_rejected_keeps_old ".policy.name == \"default\" and
	.policy.prog_id == $PREV_ID and .policy.attached" "$CTL" -j policy show
expect_fail swap_to_missing 'no such file' "$CTL" policy swap /nonexistent.bpf.o
check swap_failures_leave_one_dir only_dir default
check swap_failures_leave_one_link one_link
expect_fail swap_bad_name "invalid policy name '../x'" "$CTL" policy swap default --name ../x

# 8. Tunables of restrict.
expect_ok swap_to_restrict_text "restrict loaded from restrict .*\$" "$CTL" policy swap restrict
grep -q 'default (tag [0-9]*) detached and unpinned' "$W/out"
verdict swap_text_names_the_old $?
expect_ok set_allow 'allow 3:7000: allowed' "$CTL" policy set allow 3:7000
expect_ok set_allow_second 'allowed' "$CTL" policy set allow 4:7001
expect_json set_allow_shown '.policy.allow == [{"cid": 3, "port": 7000}, {"cid": 4, "port": 7001}]' \
	"$CTL" -j policy show
expect_json set_deny '.result == "denied"' "$CTL" -j policy set deny 4:7001
expect_json set_deny_shown '.policy.allow == [{"cid": 3, "port": 7000}]' "$CTL" -j policy show
expect_ok set_deny_absent 'was not allowed' "$CTL" policy set deny 9:9
expect_ok set_quota 'quota 3:100: set' "$CTL" policy set quota 3:100
expect_json set_quota_shown '.policy.quota == [{"cid": 3, "pages": 100}]' "$CTL" -j policy show
expect_ok set_quota_none 'no quota of its own' "$CTL" policy set quota 3:none
expect_json set_quota_none_shown '.policy.quota == []' "$CTL" -j policy show
expect_ok set_default_quota 'default-quota 5000: set' "$CTL" policy set default-quota 5000
expect_ok set_shown_text '^  default-quota +5000 pages' "$CTL" policy show
grep -qE '^  allow +3:7000$' "$W/out"
verdict set_allow_shown_text $?
check pin_layout_restrict pins_are restrict allow counters guest_ports link meta prog quota settings
expect_ok set_unprivileged_on_restrict 'policy restrict: unprivileged-ports on' \
	"$CTL" policy set unprivileged-ports on
expect_json swap_carries_tunables '.tunables_carried' "$CTL" -j policy swap restrict
expect_json carried_tunables_shown '.policy.allow == [{"cid": 3, "port": 7000}] and
	.policy.default_quota == 5000 and .policy.unprivileged_ports == true' "$CTL" -j policy show
expect_json swap_fresh '.tunables_carried | not' "$CTL" -j policy swap restrict --fresh
expect_json fresh_tunables_empty '.policy.allow == [] and .policy.default_quota == 0 and
	.policy.unprivileged_ports == false' "$CTL" -j policy show
expect_json swap_nothing_to_carry '.tunables_carried | not' "$CTL" -j policy swap restrict
expect_ok set_unprivileged_on_again 'unprivileged-ports on' "$CTL" policy set unprivileged-ports on
expect_ok swap_to_iotlb 'iotlb loaded' "$CTL" policy swap iotlb
grep -q 'its tunables were carried over' "$W/out"
verdict swap_to_iotlb_carries_unprivileged $?
expect_json iotlb_unprivileged_carried '.policy.name == "iotlb" and
	.policy.unprivileged_ports == true and (.policy | has("allow") | not)' "$CTL" -j policy show
expect_ok set_unprivileged_off_iotlb 'policy iotlb: unprivileged-ports off' \
	"$CTL" policy set unprivileged-ports off
expect_fail set_on_iotlb "policy 'iotlb' has no tunable 'quota'" "$CTL" policy set quota 3:1

# 9. A policy from a file: tag in .rodata, maps pinned by name, derived name.
expect_ok unload_iotlb 'iotlb unloaded' "$CTL" policy unload
expect_ok load_file_named "custom loaded from $BUILD/bpf/default.bpf.o" \
	"$CTL" policy load "$BUILD/bpf/default.bpf.o" --name custom
expect_json load_file_show ".policy.name == \"custom\" and
	.policy.source == \"$BUILD/bpf/default.bpf.o\" and (.policy.shipped | not) and .policy.attached and
	.policy.unprivileged_ports == false" "$CTL" -j policy show
TAG_FILE=$(field tag)
T=$(prog_tag "$(field prog_id)")
[ -n "$T" ] && [ "$T" = "$TAG_FILE" ]
verdict load_file_sets_policy_tag $?
expect_ok load_file_twice 'already loaded' "$CTL" policy load "$BUILD/bpf/default.bpf.o" --name custom
expect_json swap_file_derived_name '.name == "restrict" and .replaced.name == "custom"' \
	"$CTL" -j policy swap "$BUILD/bpf/restrict.bpf.o"
expect_ok set_on_file_policy 'allowed' "$CTL" policy set allow 3:7000
check swap_file_one_dir only_dir restrict
# A file built without bpf/policy.h has no guest_ports: it decides alone.
expect_ok swap_to_bare 'bare loaded' "$CTL" policy swap "$R/bare.bpf.o"
expect_fail set_unprivileged_on_bare \
	"policy 'bare' has no tunable 'unprivileged-ports' \\(no map 'guest_ports'" \
	"$CTL" policy set unprivileged-ports on
expect_fail set_unprivileged_off_bare "no map 'guest_ports'" "$CTL" -j policy set unprivileged-ports off
[ ! -s "$W/out" ]
verdict set_unprivileged_bare_no_json $?
expect_json show_bare_json '.policy.name == "bare" and .policy.attached and
	.policy.unprivileged_ports == null and .policy.counters == null' "$CTL" -j policy show
expect_ok show_bare "^  unprivileged-ports +not a tunable of this policy \\(no map 'guest_ports'\\)" \
	"$CTL" policy show
check bare_pin_layout pins_are bare link meta prog
expect_ok swap_bare_to_file 'restrict loaded' "$CTL" policy swap "$BUILD/bpf/restrict.bpf.o"

# 10. An interrupted load or swap is cleaned up by the next command.
mkdir "$PIN/_new-stale"
expect_ok stale_dir_noted '^policy: restrict' "$CTL" policy show
grep -q 'interrupted' "$W/err"
verdict stale_dir_reported $?
expect_ok stale_dir_cleaned 'default loaded' "$CTL" policy swap default
check stale_dir_removed only_dir default

# 11. grants and stats, table and JSON.
expect_ok grants '^grants: none$' "$CTL" grants
expect_json grants_json '. == []' "$CTL" -j grants
expect_ok stats '^packets seen +[0-9]+' "$CTL" stats
grep -qE '^GPA lists' "$W/out" && grep -qE '^messages \(classified\) +[0-9]+' "$W/out" &&
	! grep -qE '^    VSHM_E_[A-Z]+ +0$' "$W/out"
verdict stats_table_nonzero_reasons_only $?
expect_json stats_json 'has("pkts_seen") and has("msgs_seen") and has("lists_translated") and
	(.refused | has("VSHM_E_DENIED")) and (.refused | length) >= 20 and
	(.policies | type) == "array" and any(.policies[]; .name == "default")' "$CTL" -j stats
expect_json stats_pretty 'type == "object"' "$CTL" -p stats
grep -q '^  "pkts_seen": ' "$W/out"
verdict stats_pretty_indented $?
expect_json global_option_after_object '.policy.name == "default"' "$CTL" policy show -j

# 12. Unload, and the module unloads at once, every time: the kernel
#     releases a link (and the module reference of its tracepoint) from a
#     workqueue, so unload waits until the program is freed; an rmmod right
#     after it must not find the module in use (EAGAIN).
expect_json unload_says_released '.unloaded.name == "default" and .unloaded.released == true' \
	"$CTL" -j policy unload
unload_then_rmmod() {
	local i
	for i in $(seq "${UNLOAD_ROUNDS:-10}"); do
		"$CTL" policy load default > /dev/null || return 1
		"$CTL" policy unload > /dev/null || return 1
		rmmod vsock_shm_mapper || { echo "round $i: rmmod vsock_shm_mapper failed"; return 1; }
		rmmod vhost_vsock_shm || { echo "round $i: rmmod vhost_vsock_shm right after unload failed"; return 1; }
		insmod "$M/vhost_vsock_shm.ko" && insmod "$M/vsock_shm_mapper.ko" || return 1
	done
}
check unload_then_rmmod_at_once unload_then_rmmod
"$CTL" policy load default > /dev/null
expect_ok final_unload 'default unloaded \(detached, unpinned, released\)' "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm && [ ! -e /sys/module/vhost_vsock_shm ]"

echo "# $n cases in $SECONDS s" | tee -a "$OUT"
echo "1..$n" | tee -a "$OUT"
rm -rf "$W"
grep -q '^not ok' "$OUT" && exit 1
exit 0
