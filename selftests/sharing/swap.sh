#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Policy swap under live traffic, in L1 with an L2 guest: the guest streams
# share/free requests without pause while vsock-shmctl swaps the policy 50
# times between default (KVM memslots) and iotlb (vhost memory table).
# Every request must be answered exactly once, by one policy: the module's
# counters show every GPA list translated once, none refused, none passed
# for lack of a policy, the per-policy counts add up to the requests, and
# the pins are back where they were. Writes TAP to OUT.
#   selftests/sharing/swap.sh OUT.tap
set -uo pipefail

OUT=$1 SUITE=swap
. "$(dirname "$0")/../lib.sh"
PORT=7100
SWAPS=50
CYCLES=${SWAP_CYCLES:-2000}

tag_sum() { awk '$1 ~ /^policy_[0-9]+_translated$/ { s += $2 } END { print s + 0 }' "$STATS"; }
tags_used() { awk '$1 ~ /^policy_[0-9]+_translated$/ && $2 > 0 { n++ } END { print n + 0 }' "$STATS"; }

modprobe kvm_amd
modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common
insmod "$M/vhost_vsock_shm.ko" && insmod "$M/vsock_shm_mapper.ko" || {
	emit "not ok" "modules_load"
	tap_plan
	exit 1
}
check policy_loads "$CTL" policy load default
base_pins=$(pins)
seen0=$(counter lists_seen) tr0=$(counter lists_translated)
ref0=$(counter lists_refused) pass0=$(counter lists_passed) tags0=$(tag_sum)

"$BUILD/host/vshm-server" --port $PORT > "$R/swap-server.log" 2>&1 &
server=$!
sleep 0.3
scripts/lab/l2 -c 3 -t 900 -- vshm-guest share --port $PORT --size 64K \
	--repeat "$CYCLES" --quiet > "$R/l2-swap.log" 2>&1 &
guest=$!
# Swap only once the stream is flowing.
for _ in $(seq 1 600); do
	[ "$(counter lists_seen)" -gt "$seen0" ] && break
	sleep 0.1
done
ok_swaps=0
for i in $(seq 1 $SWAPS); do
	if [ $((i % 2)) = 1 ]; then p=iotlb; else p=default; fi
	"$CTL" policy swap "$p" > /dev/null && ok_swaps=$((ok_swaps + 1))
done
check "all_${SWAPS}_swaps_succeed" eq "$ok_swaps" $SWAPS "swaps"
check traffic_outlasted_the_swaps kill -0 "$guest"
wait "$guest"
grc=$?
kill $server 2>/dev/null
wait $server 2>/dev/null

sed -n 's/^\[l2:3\] //p' "$R/l2-swap.log" | grep 'vshm-guest' | tail -3
check guest_stream_ok eq "$grc" 0 "guest exit"
check guest_saw_every_cycle grep -q "repeat: $CYCLES cycles" "$R/l2-swap.log"
seen=$(($(counter lists_seen) - seen0))
check every_request_translated_once eq "$(($(counter lists_translated) - tr0))" "$CYCLES" "translated"
check module_saw_each_request_once eq "$seen" "$CYCLES" "lists seen"
check none_refused eq "$(($(counter lists_refused) - ref0))" 0 "refused"
check none_left_without_policy eq "$(($(counter lists_passed) - pass0))" 0 "passed"
check per_policy_counts_add_up eq "$(($(tag_sum) - tags0))" "$CYCLES" "sum over policies"
check both_policies_translated test "$(tags_used)" -ge 2
check pins_back_to_baseline eq "$(pins)" "$base_pins" "pins"
check policy_unloads "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
tap_plan
