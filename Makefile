# SPDX-License-Identifier: GPL-2.0
#
# vsock-shm: share guest-allocated memory with a host process over vhost-vsock.
#
#   make demo    the main job, end to end in the lab VMs
#   make test    every test suite, ending with "N passed, M failed"
#   make deb     the Debian packages, into build/deb/ (see README)
#
# Everything is built under build/. KVER=<abi> picks the target Debian kernel
# (default: the 6.1 of linux-image-amd64; backports: newest bookworm-bpo 6.12;
# trixie: newest Debian 13 6.12, its modules built in a trixie build root).

TOP := $(CURDIR)
B := $(TOP)/build
export BUILD := $(B)
ifneq ($(KVER),)
export KVER
endif

# Sets KVER and KDIR in a recipe's shell, preparing the kernel if needed.
KENV = eval "$$($(TOP)/scripts/kernel.sh | grep -E '^K(VER|DIR)=')" && export KVER KDIR

CC_USER := gcc

.PHONY: all deb deps kernel modules bpf peer selftests userspace lab unit test demo bench soak fuzz \
	shell-l1 checkpatch clean distclean help

all: modules bpf peer selftests userspace lab

help:
	@sed -n '3,11p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@$(TOP)/scripts/packages.sh

kernel: deps
	@$(TOP)/scripts/kernel.sh >/dev/null

# The host modules (vhost_vsock_shm.ko), built against the target headers.
modules: kernel
	@$(KENV) && $(MAKE) -s -C vhost_vsock_shm KDIR=$$KDIR OUT=$(B)/module/$$KVER

# The upstream peer suite, from the same linux-source, static for the guest
# (one per kernel: build/peer/<KVER>/).
peer: kernel
	@$(KENV) && P=$(B)/peer/$$KVER && mkdir -p $$P && \
	V=$$KDIR/src/tools/testing/vsock && \
	if [ ! -x $$P/vsock_test ] || [ $$V/vsock_test.c -nt $$P/vsock_test ]; then \
		echo "  PEER    vsock_test ($$KVER)" && \
		$(CC_USER) -static -O2 -D_GNU_SOURCE -I$$V/../../include -o $$P/vsock_test \
			$$V/vsock_test.c $$V/timeout.c $$V/control.c $$V/util.c \
			$$(ls $$V/vsock_test_zerocopy.c $$V/msg_zerocopy_common.c 2>/dev/null) \
			2>&1 | grep -v 'getaddrinfo\|in function .control_init' || true; \
		test -x $$P/vsock_test; \
	fi

# kselftest-style tests that run in the lab (selftests/Makefile).
selftests: kernel userspace bpf
	@$(KENV) && $(MAKE) -s -C selftests O=$(B) KSELFTEST=$$KDIR/src/tools/testing/selftests \
		VMLINUX_H=$$KDIR

userspace: deps bpf
	@$(MAKE) -s -C userspace O=$(B) all
	@$(MAKE) -s -C userspace/ctl O=$(B)

# Translation policies and their skeletons.
bpf: kernel
	@$(KENV) && $(MAKE) -s -C bpf O=$(B) VMLINUX_H=$$KDIR

# Initramfs images of the lab, one pair per kernel (build/lab/<KVER>/): L1
# (host VM) and L2 (guests, with the peer suite and the guest programs).
L2_PROGS = $(B)/guest/* $(TOP)/selftests/sharing/guest-*.sh \
	$(TOP)/selftests/sdk/guest-*.sh \
	$(TOP)/scripts/lab/demo-guest.sh $(TOP)/scripts/lab/bench-guest.sh
lab: kernel peer userspace selftests $(B)/lab/kvm-keeper
	@$(KENV) && \
	$(TOP)/scripts/lab/initramfs.sh l1 $(B)/lab/$$KVER/l1.cpio.gz && \
	$(TOP)/scripts/lab/initramfs.sh l2 $(B)/lab/$$KVER/l2.cpio.gz \
		$(B)/peer/$$KVER/vsock_test $(L2_PROGS) && \
	BUILD=$(B) $(TOP)/scripts/lab/pyroot.sh $(B)/lab/py.cpio.gz

$(B)/lab/kvm-keeper: scripts/lab/kvm-keeper.c
	@mkdir -p $(dir $@)
	$(CC_USER) -O2 -Wall -Wextra -Werror -o $@ $<

unit: deps
	@if [ -f selftests/unit/Makefile ]; then $(MAKE) -s -C selftests/unit O=$(B) run; fi

test:
	@$(TOP)/scripts/test.sh

# The Python bindings' unit tests, TAP on stdout (python/tests/tap.py).
python-test: deps userspace
	@/usr/bin/python3 -B $(TOP)/python/tests/tap.py --no-skip

# The Debian packages (debian/), checked with lintian.
deb: deps kernel
	@$(TOP)/scripts/deb.sh

demo: all
	@$(TOP)/scripts/demo.sh

# libFuzzer over the module's and the server's parsers (FUZZ_SECONDS each).
fuzz: deps userspace
	@$(MAKE) -s -C fuzz O=$(B) run

# 1000 share/free cycles across 4 guests with vsock traffic beside.
soak: all
	@$(TOP)/scripts/soak.sh

# Ratios measured side by side in the lab, per kernel (BENCH_KERNELS), into build/bench.json.
bench: all
	@$(TOP)/scripts/bench.sh

# An interactive shell in L1 (scripts/lab/l2 starts guests from there).
shell-l1: all
	@$(TOP)/scripts/lab/l1 -t 36000 --shell

checkpatch: kernel
	@$(KENV) && $$KDIR/src/scripts/checkpatch.pl --strict --no-tree --terse \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE \
		-f vhost_vsock_shm/*.c vhost_vsock_shm/*.h

clean:
	rm -rf $(B)/module $(B)/peer $(B)/selftests $(B)/lab $(B)/userspace $(B)/unit

distclean:
	rm -rf $(B)

# make install / uninstall (PREFIX=/usr/local, DESTDIR): every part a host
# or a guest needs, as the packages split them (docs/install.md): the CLI
# and its policies (userspace/ctl/install.mk), the libraries, headers,
# pkg-config files and programs (userspace/Makefile), and the udev,
# modprobe and systemd files (system/install.mk). The modules: make deb
# and the DKMS package, or insmod from build/module/<abi>/.
include $(TOP)/userspace/ctl/install.mk
include $(TOP)/system/install.mk

# The Python package (python/vsock_shm): Debian's dist-packages of PREFIX.
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python3.$(shell /usr/bin/python3 -c 'import sys; print(sys.version_info.minor)' 2>/dev/null)/dist-packages)

.PHONY: install uninstall install-python uninstall-python python-test
install: userspace install-python
	$(ctl_install)
	$(MAKE) -C userspace O=$(B) install
	$(MAKE) -f $(TOP)/system/install.mk install-system

install-python:
	install -d $(DESTDIR)$(PYTHONDIR)/vsock_shm
	install -m 0644 $(TOP)/python/vsock_shm/*.py \
		$(TOP)/python/vsock_shm/py.typed $(DESTDIR)$(PYTHONDIR)/vsock_shm/

uninstall-python:
	rm -rf $(DESTDIR)$(PYTHONDIR)/vsock_shm

uninstall: uninstall-python
	$(ctl_uninstall)
	$(MAKE) -C userspace O=$(B) uninstall
	$(MAKE) -f $(TOP)/system/install.mk uninstall-system
