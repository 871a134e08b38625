#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo": boot L1, load vhost_vsock_shm in place of vhost_vsock, start a
# host echo server, boot an L2 guest that does 1000 AF_VSOCK round trips
# through the fork, and show the fork's hook counters. Ends with "demo: OK".
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
exec scripts/lab/l1 -t 900 -n demo -- scripts/lab/demo-l1.sh
