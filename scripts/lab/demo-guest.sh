#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest side of "make demo": share 64 MiB of 4 KiB pages, then 64 MiB of
# 2 MiB pages, with the host on PORT. Usage: demo-guest.sh PORT
vshm-guest share --port "$1" --size 64M || exit 1
vshm-guest share --port "$1" --size 64M --huge --reserve-huge || exit 1
