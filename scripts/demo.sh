#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo": the seed's method end to end in the lab (scripts/lab/demo-l1.sh):
# a guest shares 64 MiB of 4 KiB and 64 MiB of 2 MiB pages with a host
# server through vhost_vsock_shm, the BPF policy and the mapper. Ends with "demo: OK".
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
exec scripts/lab/l1 -t 900 -n demo -- scripts/lab/demo-l1.sh
