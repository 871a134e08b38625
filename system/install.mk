# SPDX-License-Identifier: GPL-2.0
#
# make install-system / uninstall-system: what makes a host load the fork
# and let a server group map, included by the top Makefile (or run alone:
# make -f system/install.mk install-system DESTDIR=...):
#
#   $(UDEVRULESDIR)/60-vsock-shm.rules         /dev/vsock-shm-mapper to group vsock-shm
#   $(MODPROBEDIR)/vsock-shm.conf              modprobe vhost_vsock loads the fork
#   $(SYSTEMDUNITDIR)/vsock-shm-policy.service the default policy at boot
#
# Under $(PREFIX)/lib by default (/usr/local/lib); Debian 12 packages put
# them under /lib (debian/rules). The vsock-shm group is made by the
# package's postinst, or by hand: groupadd --system vsock-shm.

PREFIX ?= /usr/local
INSTALL ?= install
SYSTEM_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
MODPROBEDIR ?= $(PREFIX)/lib/modprobe.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

system_saved_goal := $(.DEFAULT_GOAL)

.PHONY: install-system uninstall-system

install-system:
	$(INSTALL) -d $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODPROBEDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0644 $(SYSTEM_DIR)/60-vsock-shm.rules $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 0644 $(SYSTEM_DIR)/vsock-shm.modprobe.conf \
		$(DESTDIR)$(MODPROBEDIR)/vsock-shm.conf
	sed 's|/usr/sbin/vsock-shmctl|$(PREFIX)/sbin/vsock-shmctl|' \
		$(SYSTEM_DIR)/vsock-shm-policy.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/vsock-shm-policy.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vsock-shm-policy.service

uninstall-system:
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-vsock-shm.rules \
		$(DESTDIR)$(MODPROBEDIR)/vsock-shm.conf \
		$(DESTDIR)$(SYSTEMDUNITDIR)/vsock-shm-policy.service

.DEFAULT_GOAL := $(system_saved_goal)
