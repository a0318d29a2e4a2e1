// SPDX-License-Identifier: GPL-2.0
/*
 * gunyah_mock: a mock of the Gunyah driver (/dev/gunyah) for machines without the Gunyah
 * hypervisor (Cuttlefish, CI under QEMU). It follows the a14 driver's ABI and semantics
 * (docs/DRIVER_ABI.md of the gunyah-vm-hal project), with the ioctls of the generation chosen by the
 * `generation` parameter (docs/GENERATIONS.md): anon-inode VM and vCPU fds, pinned guest
 * memory, irqfd/ioeventfd on eventfds, an mmap'able vCPU run page, and reference counting in
 * which every vCPU fd keeps its VM alive. Instead of a real guest, a vCPU runs the "scripted
 * guest" (docs/GUEST_ISA.md) read from guest memory, exactly as the service's userspace mock.
 *
 * Files: main.c (this: the device, the module parameters, init), vm.c (VM lifetime and VM
 * ioctls), vcpu.c (guest memory, the scripted guest, the vCPU fd), uapi.h (the ABI, checked
 * against tests/data/gunyah_abi.json), gunyah_mock.h (shared state).
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */

#include "gunyah_mock.h"

/* VMs whose last reference is not gone yet: /sys/module/gunyah_mock/parameters/live_vms. */
atomic_t gh_live_vms = ATOMIC_INIT(0);

static int gh_live_vms_get(char *buffer, const struct kernel_param *kp)
{
	return sysfs_emit(buffer, "%d\n", atomic_read(&gh_live_vms));
}

static const struct kernel_param_ops gh_live_vms_ops = {
	.get = gh_live_vms_get,
};
module_param_cb(live_vms, &gh_live_vms_ops, NULL, 0444);
MODULE_PARM_DESC(live_vms, "VMs not yet freed (read-only)");

/*
 * The driver generation modelled (docs/GENERATIONS.md), oldest first: which ioctls exist (what
 * the service's start-up probe reads) and how the shared ones behave. a14 (early and late:
 * they differ in REMOVE_FUNCTION only) has
 * GH_ANDROID_TENTATIVE_UAPI and neither SET_BOOT_CONTEXT nor SET_AUTH_TYPE; ack66-early adds
 * SET_BOOT_CONTEXT and drops TENTATIVE_UAPI; ack66-late adds RECLAIM_REGION and SET_AUTH_TYPE;
 * ack-newest adds CHECK_EXTENSION.
 */
static const char *const gh_generations[] = {
	[GH_GEN_A14_EARLY] = "a14-early",
	[GH_GEN_A14_LATE] = "a14-late",
	[GH_GEN_ACK66_EARLY] = "ack66-early",
	[GH_GEN_ACK66_LATE] = "ack66-late",
	[GH_GEN_ACK_NEWEST] = "ack-newest",
};
static char *generation = "a14-early";
module_param(generation, charp, 0444);
MODULE_PARM_DESC(generation,
		 "driver generation to model: a14-early (default), a14-late, ack66-early, ack66-late, ack-newest");
static enum gh_generation gh_gen;

bool gh_gen_is_a14(void)
{
	return gh_gen <= GH_GEN_A14_LATE;
}

bool gh_gen_at_least(enum gh_generation gen)
{
	return gh_gen >= gen;
}

/* ---- /dev/gunyah ---- */

static long gh_dev_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case GH_CREATE_VM:
		return gh_vm_create(arg);
	case GH_ANDROID_TENTATIVE_UAPI:
		return gh_gen_is_a14() ? 0 : -ENOTTY;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations gh_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = gh_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice gh_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "gunyah",
	.fops = &gh_dev_fops,
};

unsigned int gh_reset_delay_ms;
module_param_named(reset_delay_ms, gh_reset_delay_ms, uint, 0644);
MODULE_PARM_DESC(reset_delay_ms,
		 "how long the hypervisor's reset of a VM takes once its last fd is closed (ms)");

/*
 * Test only (tests/qemu/hostile.c): a vCPU sleeps this long between finding a guest page it
 * holds for reading only and reading through it, and between finding a WAIT's irqfd and taking
 * its count, so that the hostile tier's races happen every time instead of once in hundreds
 * of runs. 0 (the default) sleeps never; a device never sets it.
 */
unsigned int gh_race_delay_ms;
module_param_named(race_delay_ms, gh_race_delay_ms, uint, 0644);
MODULE_PARM_DESC(race_delay_ms,
		 "test only: ms a vCPU sleeps inside a guest memory access and a doorbell read (0: never)");

/* a14's last put frees the VM here; drained before the module goes. */
struct workqueue_struct *gh_free_wq;

static int __init gh_mock_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct gh_userspace_memory_region) != 32);
	BUILD_BUG_ON(sizeof(struct gh_fn_desc) != 16);
	BUILD_BUG_ON(sizeof(struct gh_fn_irqfd_arg) != 16);
	BUILD_BUG_ON(sizeof(struct gh_fn_ioeventfd_arg) != 32);
	BUILD_BUG_ON(sizeof(struct gh_vm_exit_info) != 16);
	BUILD_BUG_ON(sizeof(struct gh_vcpu_run) != 40);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, mmio.phys_addr) != 16);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, status.exit_info) != 20);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, page_fault.attempt) != 24);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, page_fault.resume_action) != 28);
	BUILD_BUG_ON(sizeof(struct gh_vm_boot_context) != 16);
	BUILD_BUG_ON(GH_VM_SET_USER_MEM_REGION != 0x40204701);
	BUILD_BUG_ON(GH_VM_ANDROID_LEND_USER_MEM != 0x40204111);
	BUILD_BUG_ON(GH_VM_SET_BOOT_CONTEXT != 0x4010470a);
	BUILD_BUG_ON(GH_VM_RECLAIM_REGION != 0x40104113);
	ret = match_string(gh_generations, ARRAY_SIZE(gh_generations), generation);
	if (ret < 0) {
		pr_err("gunyah_mock: generation=%s: expected a14-early, a14-late, ack66-early, ack66-late or ack-newest\n",
		       generation);
		return -EINVAL;
	}
	gh_gen = ret;
	gh_free_wq = alloc_workqueue("gunyah_mock_free", WQ_UNBOUND, 0);
	if (!gh_free_wq)
		return -ENOMEM;
	ret = misc_register(&gh_dev);
	if (ret) {
		destroy_workqueue(gh_free_wq);
		return ret;
	}
	pr_info("gunyah_mock: modelling the %s driver\n", generation);
	return 0;
}

static void __exit gh_mock_exit(void)
{
	/* Every VM and vCPU fd holds a module reference, and the queue is drained: no VM can
	 * outlive the module. */
	misc_deregister(&gh_dev);
	destroy_workqueue(gh_free_wq);
}

module_init(gh_mock_init);
module_exit(gh_mock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mock of the Gunyah hypervisor driver (/dev/gunyah) running scripted guests");
