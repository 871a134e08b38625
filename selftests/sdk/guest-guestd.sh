#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest, as root: vshm-guestd serving group 2000, then
# guestd_client as a member (uid 1000) and as an outsider (uid 1001: first
# kept out by the socket's mode, then, with the socket opened to all, by
# the daemon's own check of its groups). TAP on stdout.
# Usage: guest-guestd.sh PORT
port=$1
sock=/run/vsock-shm/guestd.sock

# The admin reserves the huge pages the member's hugetlb memfd takes.
echo 2 > /proc/sys/vm/nr_hugepages
vshm-guestd -g 2000 2> /tmp/guestd.log &
daemon=$!
i=0
while [ ! -S $sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

# The numbers of these lines do not matter: the host renumbers them.
guestd_client member "$port"
mode=$(stat -c '%a %g' $sock)
[ "$mode" = "660 2000" ] && echo "ok 0 guestd/socket_mode_and_group" ||
	echo "not ok 0 guestd/socket_mode_and_group # $mode"
guestd_client outsider "$port" | sed 's/outsider_refused/outsider_refused_by_the_socket_mode/'
chmod 0666 $sock
guestd_client outsider "$port" | sed 's/outsider_refused/outsider_refused_by_the_daemon/'
if grep -q 'uid 1001 pid [0-9]* refused' /tmp/guestd.log; then
	echo "ok 0 guestd/daemon_logs_the_refusal"
else
	echo "not ok 0 guestd/daemon_logs_the_refusal"
fi
kill $daemon
wait $daemon 2>/dev/null
# A daemon that serves one client at a time.
vshm-guestd -g 2000 -c 1 -s /run/vsock-shm/one.sock 2> /tmp/guestd-one.log &
one=$!
i=0
while [ ! -S /run/vsock-shm/one.sock ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
guestd_client full "$port" /run/vsock-shm/one.sock
kill $one
wait $one 2>/dev/null
sed 's/^/# /' /tmp/guestd-one.log
echo "# daemon log:"
sed 's/^/# /' /tmp/guestd.log
echo "1..0"
