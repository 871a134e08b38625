#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# "make soak": 1000 share/free cycles across 4 guests with plain vsock
# traffic beside them (selftests/sharing/soak.sh), in the lab.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
B=${BUILD:-$TOP/build}
scripts/lab/l1 -t 5400 -m 4G -n soak -- selftests/sharing/soak.sh \
	"$B/lab/runs/soak/soak.tap" "${SOAK_CYCLES:-1000}"
rc=$?
(cd "$B/lab/runs" && "$TOP/scripts/tap-summary.sh" soak/soak.tap) || rc=1
exit $rc
