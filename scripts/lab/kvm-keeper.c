// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-keeper: holds one idle KVM vCPU whose local APIC stays disabled, for
 * as long as it runs. Lab only (L1), started by scripts/lab/l2.
 *
 * Why: KVM counts vCPUs with a disabled local APIC in two static keys
 * (apic_sw_disabled, apic_hw_disabled). Whenever such a count goes from 0
 * to 1 or back, as L2 guests boot and power off, the L1 kernel patches its
 * text, which waits for every other CPU to answer an IPI. Under QEMU TCG's
 * emulated SVM, a CPU that is running an L2 guest at that moment may never
 * answer: the patching CPU spins in smp_call_function_many_cond() (soft
 * lockup) and the lab hangs. With this vCPU holding both counts above 0,
 * guests come and go without any text patching.
 *
 *   kvm-keeper PIDFILE     (daemonizes; SIGTERM ends it)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#define MSR_IA32_APICBASE	0x1b
#define APIC_DEFAULT_BASE	0xfee00000ULL
#define APICBASE_BSP		(1ULL << 8)

static int die(const char *what)
{
	fprintf(stderr, "kvm-keeper: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs;
	int kvm, vm, vcpu;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: kvm-keeper PIDFILE\n");
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	/* The local APIC is in the kernel only with an in-kernel irqchip. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0))
		return die("KVM_CREATE_IRQCHIP");
	/* A new vCPU's APIC is software-disabled until its guest enables it. */
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return die("KVM_CREATE_VCPU");
	/* Hardware-disable it too: APIC base without its enable bit. */
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = 1;
	msrs.entry.index = MSR_IA32_APICBASE;
	msrs.entry.data = APIC_DEFAULT_BASE | APICBASE_BSP;
	if (ioctl(vcpu, KVM_SET_MSRS, &msrs) != 1)
		return die("KVM_SET_MSRS(APIC base)");

	if (daemon(0, 0))
		return die("daemon");
	f = fopen(argv[1], "w");
	if (!f)
		return die(argv[1]);
	fprintf(f, "%d\n", getpid());
	fclose(f);
	for (;;)
		pause();
}
