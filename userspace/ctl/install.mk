# SPDX-License-Identifier: GPL-2.0
#
# install-ctl / uninstall-ctl, included by the top Makefile (whose install
# builds first and installs every part), or alone, without building:
#   make -f userspace/ctl/install.mk O=<build dir> install-ctl DESTDIR=...
#
#   $(DESTDIR)$(PREFIX)/sbin/vsock-shmctl
#   $(DESTDIR)$(PREFIX)/lib/vsock-shm/policies/<name>.bpf.o   the shipped policies
#   $(DESTDIR)$(PREFIX)/share/man/man8/vsock-shmctl.8
#   $(DESTDIR)$(BASHCOMPDIR)/vsock-shmctl   bash completion (BASHCOMPDIR
#                        defaults to $(PREFIX)/share/bash-completion/completions)
#
# PREFIX defaults to /usr/local. The build directory is the including
# Makefile's $(B), else $(O), else build/ of the source tree; the source
# tree is its $(TOP), else found from this file. Keeps the including
# Makefile's default goal. The libraries, their headers and the other
# programs are installed by "make -C userspace install", with its own
# targets and variables (docs/libraries.md).

PREFIX ?= /usr/local
INSTALL ?= install
CTL_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CTL_TOP := $(if $(TOP),$(TOP),$(abspath $(CTL_MK_DIR)/../..))
CTL_BUILD := $(abspath $(or $(B),$(O),$(CTL_TOP)/build))
CTL_SBIN := $(DESTDIR)$(PREFIX)/sbin
CTL_POLICIES := $(DESTDIR)$(PREFIX)/lib/vsock-shm/policies
CTL_MAN8 := $(DESTDIR)$(PREFIX)/share/man/man8
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
CTL_BASHCOMP := $(DESTDIR)$(BASHCOMPDIR)

ctl_saved_goal := $(.DEFAULT_GOAL)

.PHONY: install-ctl uninstall-ctl

define ctl_install
	$(INSTALL) -d $(CTL_SBIN) $(CTL_POLICIES) $(CTL_MAN8) $(CTL_BASHCOMP)
	$(INSTALL) -m 0755 $(CTL_BUILD)/host/vsock-shmctl $(CTL_SBIN)/vsock-shmctl
	$(INSTALL) -m 0644 $(CTL_BUILD)/bpf/*.bpf.o $(CTL_POLICIES)/
	$(INSTALL) -m 0644 $(CTL_TOP)/docs/vsock-shmctl.8 $(CTL_MAN8)/vsock-shmctl.8
	$(INSTALL) -m 0644 $(CTL_TOP)/userspace/ctl/vsock-shmctl.bash-completion \
		$(CTL_BASHCOMP)/vsock-shmctl
endef

define ctl_uninstall
	rm -f $(CTL_SBIN)/vsock-shmctl $(CTL_MAN8)/vsock-shmctl.8 \
		$(CTL_BASHCOMP)/vsock-shmctl
	rm -f $(patsubst $(CTL_BUILD)/bpf/%,$(CTL_POLICIES)/%,$(wildcard $(CTL_BUILD)/bpf/*.bpf.o))
	-rmdir $(CTL_POLICIES) $(DESTDIR)$(PREFIX)/lib/vsock-shm 2>/dev/null
endef

install-ctl:
	$(ctl_install)

uninstall-ctl:
	$(ctl_uninstall)

.DEFAULT_GOAL := $(ctl_saved_goal)
