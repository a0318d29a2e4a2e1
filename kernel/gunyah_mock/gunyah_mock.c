// SPDX-License-Identifier: GPL-2.0
/*
 * gunyah_mock: a mock of the Android 14 Gunyah driver (/dev/gunyah) for machines without the
 * Gunyah hypervisor (Cuttlefish, CI under QEMU). It follows the a14 driver's ABI and semantics
 * (GUNYAH_ABI.md of the gunyah-vm-hal project): anon-inode VM and vCPU fds, pinned guest
 * memory, irqfd/ioeventfd on eventfds, an mmap'able vCPU run page, and reference counting in
 * which every vCPU fd keeps its VM alive. Instead of a real guest, a vCPU runs the "scripted
 * guest" (docs/GUEST_ISA.md) read from guest memory, exactly as the service's userspace mock.
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */

#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <asm/unaligned.h>

/* ---- ABI (a14 + the Android additions the service uses) ---- */

struct gh_userspace_memory_region {
	__u32 label;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
};

struct gh_vm_dtb_config {
	__u64 guest_phys_addr;
	__u64 size;
};

struct gh_fn_desc {
	__u32 type;
	__u32 arg_size;
	__u64 arg;
};

struct gh_fn_vcpu_arg {
	__u32 id;
};

struct gh_fn_irqfd_arg {
	__u32 fd;
	__u32 label;
	__u32 flags;
	__u32 padding;
};

struct gh_fn_ioeventfd_arg {
	__u64 datamatch;
	__u64 addr;
	__u32 len;
	__s32 fd;
	__u32 flags;
	__u32 padding;
};

struct gh_vm_exit_info {
	__u16 type;
	__u16 padding;
	__u32 reason_size;
	__u8 reason[8];
};

struct gh_vcpu_run {
	__u8 immediate_exit;
	__u8 padding[7];
	__u32 exit_reason;
	union {
		struct {
			__u64 phys_addr;
			__u8 data[8];
			__u32 len;
			__u8 is_write;
		} mmio;
		struct {
			__u32 status;
			struct gh_vm_exit_info exit_info;
		} status;
	};
};

struct gh_vm_boot_context {
	__u32 reg;
	__u32 reserved;
	__u64 value;
};

struct gh_auth_desc {
	__u32 type;
	__u32 arg_size;
	__u64 arg;
};

struct gunyah_address_range {
	__u64 guest_phys_addr;
	__u64 size;
};

#define GH_IOCTL_TYPE 'G'
#define GH_ANDROID_IOCTL_TYPE 'A'
#define GH_CREATE_VM _IO(GH_IOCTL_TYPE, 0x0)
#define GH_VM_SET_USER_MEM_REGION _IOW(GH_IOCTL_TYPE, 0x1, struct gh_userspace_memory_region)
#define GH_VM_SET_DTB_CONFIG _IOW(GH_IOCTL_TYPE, 0x2, struct gh_vm_dtb_config)
#define GH_VM_START _IO(GH_IOCTL_TYPE, 0x3)
#define GH_VM_ADD_FUNCTION _IOW(GH_IOCTL_TYPE, 0x4, struct gh_fn_desc)
#define GH_VCPU_RUN _IO(GH_IOCTL_TYPE, 0x5)
#define GH_VCPU_MMAP_SIZE _IO(GH_IOCTL_TYPE, 0x6)
#define GH_VM_REMOVE_FUNCTION _IOW(GH_IOCTL_TYPE, 0x7, struct gh_fn_desc)
#define GH_VM_SET_BOOT_CONTEXT _IOW(GH_IOCTL_TYPE, 0xa, struct gh_vm_boot_context)
#define GH_ANDROID_TENTATIVE_UAPI _IO(GH_ANDROID_IOCTL_TYPE, 0x10)
#define GH_VM_ANDROID_LEND_USER_MEM _IOW(GH_ANDROID_IOCTL_TYPE, 0x11, struct gh_userspace_memory_region)
#define GH_VM_ANDROID_SET_FW_CONFIG _IOW(GH_ANDROID_IOCTL_TYPE, 0x12, struct gh_vm_dtb_config)
#define GH_VM_ANDROID_SET_AUTH_TYPE _IOW(GH_ANDROID_IOCTL_TYPE, 0x16, struct gh_auth_desc)
#define GH_VM_RECLAIM_REGION _IOW(GH_ANDROID_IOCTL_TYPE, 0x13, struct gunyah_address_range)

#define GH_MEM_ALLOW_READ (1U << 0)
#define GH_MEM_ALLOW_WRITE (1U << 1)
#define GH_MEM_ALLOW_EXEC (1U << 2)
#define GH_MEM_ALLOW_ALL (GH_MEM_ALLOW_READ | GH_MEM_ALLOW_WRITE | GH_MEM_ALLOW_EXEC)

#define GH_FN_VCPU 1
#define GH_FN_IRQFD 2
#define GH_FN_IOEVENTFD 3
#define GH_FN_MAX_ARG_SIZE 256
#define GH_IRQFD_FLAGS_LEVEL (1U << 0)
#define GH_IOEVENTFD_FLAGS_DATAMATCH (1U << 0)

#define GH_VCPU_EXIT_MMIO 1
#define GH_VCPU_EXIT_STATUS 2
#define GH_VM_STATUS_LOAD_FAILED 1
#define GH_VM_STATUS_EXITED 2
#define GH_VM_STATUS_CRASHED 3

/* ---- The scripted guest (docs/GUEST_ISA.md) ---- */

#define GUEST_MAGIC "GHGUEST\x01"
#define INSN_SIZE 16
#define NUM_REGS 8
#define NO_REG 0xff
#define SLICE 4096

enum guest_op {
	OP_MOV = 0x01, OP_ADD = 0x02, OP_SUB = 0x03, OP_MOVR = 0x04,
	OP_LOAD = 0x10, OP_STORE = 0x11, OP_STOREI = 0x12,
	OP_JMP = 0x20, OP_JZ = 0x21, OP_JNZ = 0x22, OP_JEQ = 0x23, OP_JNE = 0x24,
	OP_WAIT = 0x30, OP_SLEEP = 0x31, OP_IDLE = 0x32,
	OP_EXIT = 0x40, OP_CRASH = 0x41,
};

/* ---- Driver state ---- */

#define MAX_REGIONS 64
#define MAX_VCPUS 64
#define MAX_FUNCTIONS 64
#define NUM_BOOT_REGS (32 + 1 + 3)

enum vm_state { VM_LOAD, VM_RUNNING, VM_INIT_FAILED, VM_STOPPED };

struct gh_region {
	struct gh_userspace_memory_region desc;
	bool lend;
	struct page **pages;
	unsigned long npages;
};

struct gh_vm;

/* An irqfd's entry on its eventfd's wait queue: a write by the VMM wakes the VM's waiters at
 * once, as the a14 driver rings the doorbell from the eventfd's wake-up. Allocated apart from
 * the function slot, which REMOVE_FUNCTION moves. */
struct gh_irqfd_waiter {
	wait_queue_entry_t wait;
	poll_table pt;
	wait_queue_head_t *wqh;		/* the eventfd's, where `wait` is queued */
	struct gh_vm *vm;
};

struct gh_function {
	u32 type;
	u32 arg_size;
	u8 arg[32];
	u32 label;			/* irqfd */
	struct file *file;		/* irqfd: the eventfd, polled by WAIT */
	struct gh_irqfd_waiter *waiter;	/* irqfd */
	u64 addr, datamatch;		/* ioeventfd */
	u32 len;
	bool match;
	struct eventfd_ctx *ctx;	/* ioeventfd */
};

struct gh_vm {
	struct kref kref;
	struct mutex lock;		/* everything below but wq */
	wait_queue_head_t wq;		/* state changes, kicks and doorbells */
	atomic_t doorbells;		/* bumped by every irqfd write; WAIT sleeps on a change */
	struct mm_struct *mm;		/* charged for pinned pages */
	enum vm_state state;
	u32 stop_status;
	struct gh_vm_exit_info exit_info;
	struct gh_region regions[MAX_REGIONS];
	unsigned int nr_regions;
	unsigned int nr_boot_regions;	/* regions that reached the guest at START */
	bool has_dtb;
	struct gh_vm_dtb_config dtb;
	bool has_boot_reg[NUM_BOOT_REGS];
	u64 boot_reg[NUM_BOOT_REGS];
	u64 entry;
	DECLARE_BITMAP(vcpu_ids, MAX_VCPUS);
	struct gh_function functions[MAX_FUNCTIONS];
	unsigned int nr_functions;
};

struct gh_vcpu {
	struct gh_vm *vm;
	u32 id;
	struct gh_vcpu_run *run;	/* one zeroed page, mmap'ed by the VMM */
	struct mutex run_lock;
	bool booted;
	u64 pc;
	u64 regs[NUM_REGS];
	bool pending_read;
	u8 pending_reg;
	u32 pending_size;
	unsigned long sleep_until;	/* jiffies; 0: not sleeping */
};

/* VMs whose last reference is not gone yet: /sys/module/gunyah_mock/parameters/live_vms. */
static atomic_t gh_live_vms = ATOMIC_INIT(0);

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
 * The driver generation modelled (docs/GENERATIONS.md). So far the generations differ here in
 * which ioctls exist, which is what the service's start-up probe reads: a14 has
 * GH_ANDROID_TENTATIVE_UAPI and neither SET_BOOT_CONTEXT nor SET_AUTH_TYPE; ack66-late has
 * SET_BOOT_CONTEXT, RECLAIM_REGION and SET_AUTH_TYPE, answers ENOTTY to TENTATIVE_UAPI and to
 * unknown vCPU ioctls.
 */
enum gh_generation { GH_GEN_A14, GH_GEN_ACK66_LATE };
static char *generation = "a14";
module_param(generation, charp, 0444);
MODULE_PARM_DESC(generation, "driver generation to model: a14 (default) or ack66-late");
static enum gh_generation gh_gen;

static bool gh_gen_is_a14(void)
{
	return gh_gen == GH_GEN_A14;
}

/* Releases what a function slot holds: the irqfd's wait-queue entry first (no wake-up can
 * reach the VM after it), then the eventfd references. */
static void gh_function_release(struct gh_function *f)
{
	if (f->waiter) {
		remove_wait_queue(f->waiter->wqh, &f->waiter->wait);
		kfree(f->waiter);
	}
	if (f->file)
		fput(f->file);
	if (f->ctx)
		eventfd_ctx_put(f->ctx);
}

static void gh_vm_free(struct kref *kref)
{
	struct gh_vm *vm = container_of(kref, struct gh_vm, kref);
	unsigned int i;

	for (i = 0; i < vm->nr_functions; i++)
		gh_function_release(&vm->functions[i]);
	for (i = 0; i < vm->nr_regions; i++) {
		unpin_user_pages(vm->regions[i].pages, vm->regions[i].npages);
		account_locked_vm(vm->mm, vm->regions[i].npages, false);
		kvfree(vm->regions[i].pages);
	}
	mmdrop(vm->mm);
	kfree(vm);
	atomic_dec(&gh_live_vms);
}

static void gh_vm_put(struct gh_vm *vm)
{
	kref_put(&vm->kref, gh_vm_free);
}

/* Stops the guest (first report wins) and wakes every vCPU. Caller holds vm->lock. */
static void gh_vm_stop_locked(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size)
{
	if (vm->state != VM_RUNNING)
		return;
	vm->state = VM_STOPPED;
	vm->stop_status = status;
	memset(&vm->exit_info, 0, sizeof(vm->exit_info));
	vm->exit_info.type = type;
	vm->exit_info.reason_size = min_t(u32, size, sizeof(vm->exit_info.reason));
	if (reason)
		memcpy(vm->exit_info.reason, reason, vm->exit_info.reason_size);
	wake_up_all(&vm->wq);
}

static void gh_vm_stop(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size)
{
	mutex_lock(&vm->lock);
	gh_vm_stop_locked(vm, status, type, reason, size);
	mutex_unlock(&vm->lock);
}

/* ---- Guest memory: the regions that reached the guest at START ---- */

enum { MEM_OK = 0, MEM_MMIO = 1, MEM_FAULT = -1 };

static int guest_access(struct gh_vm *vm, u64 gpa, void *buf, u32 len, bool write)
{
	unsigned int i;

	for (i = 0; i < vm->nr_boot_regions; i++) {
		struct gh_region *r = &vm->regions[i];
		u64 start = r->desc.guest_phys_addr, end = start + r->desc.memory_size;
		u64 off;

		if (gpa + len <= start || gpa >= end)
			continue;
		if (gpa < start || gpa + len > end || gpa + len < gpa)
			return MEM_FAULT;
		if (write && !(r->desc.flags & GH_MEM_ALLOW_WRITE))
			return MEM_FAULT;
		off = gpa - start;
		while (len) {
			unsigned long idx = off >> PAGE_SHIFT;
			u32 in_page = off & ~PAGE_MASK;
			u32 n = min_t(u32, len, PAGE_SIZE - in_page);
			u8 *p = kmap_local_page(r->pages[array_index_nospec(idx, r->npages)]);

			if (write)
				memcpy(p + in_page, buf, n);
			else
				memcpy(buf, p + in_page, n);
			kunmap_local(p);
			buf = (u8 *)buf + n;
			off += n;
			len -= n;
		}
		return MEM_OK;
	}
	return MEM_MMIO;
}

/* ---- vCPU: running the scripted guest ---- */

static bool vcpu_kicked(struct gh_vcpu *vcpu)
{
	return READ_ONCE(vcpu->run->immediate_exit) != 0;
}

/* The VM's stop status as RUN reports it, or 0 while it runs. Caller holds vm->lock. */
static int vcpu_report_stop_locked(struct gh_vcpu *vcpu)
{
	struct gh_vm *vm = vcpu->vm;

	if (vm->state == VM_INIT_FAILED) {
		vcpu->run->exit_reason = GH_VCPU_EXIT_STATUS;
		vcpu->run->status.status = GH_VM_STATUS_LOAD_FAILED;
		memset(&vcpu->run->status.exit_info, 0, sizeof(vcpu->run->status.exit_info));
		return 1;
	}
	if (vm->state == VM_STOPPED) {
		vcpu->run->exit_reason = GH_VCPU_EXIT_STATUS;
		vcpu->run->status.status = vm->stop_status;
		vcpu->run->status.exit_info = vm->exit_info;
		return 1;
	}
	return 0;
}

static int vcpu_report_stop(struct gh_vcpu *vcpu)
{
	int ret;

	mutex_lock(&vcpu->vm->lock);
	ret = vcpu_report_stop_locked(vcpu);
	mutex_unlock(&vcpu->vm->lock);
	return ret;
}

static bool vm_not_running(struct gh_vm *vm)
{
	return READ_ONCE(vm->state) != VM_RUNNING;
}

/* Blocks until `timeout` jiffies pass (MAX_SCHEDULE_TIMEOUT: forever), a kick, a signal, a
 * stop or — with `on_doorbell` — any doorbell rung since vm->doorbells read `doorbells`.
 * Returns -EINTR on a kick or signal, 0 otherwise. */
static int vcpu_block_on(struct gh_vcpu *vcpu, long timeout, bool on_doorbell, int doorbells)
{
	struct gh_vm *vm = vcpu->vm;
	long ret = wait_event_interruptible_timeout(vm->wq,
			vcpu_kicked(vcpu) || vm_not_running(vm) ||
			(on_doorbell && atomic_read(&vm->doorbells) != doorbells), timeout);

	if (ret < 0 || vcpu_kicked(vcpu))
		return -EINTR;
	return 0;
}

static int vcpu_block(struct gh_vcpu *vcpu, long timeout)
{
	return vcpu_block_on(vcpu, timeout, false, 0);
}

/* WAIT: 1 when doorbell `label` rang (consumed), 0 when the VM stopped, -EINTR. */
static int vcpu_wait_doorbell(struct gh_vcpu *vcpu, u32 label)
{
	struct gh_vm *vm = vcpu->vm;

	for (;;) {
		/* Read before the eventfd is: a ring after this is never missed. */
		int doorbells = atomic_read(&vm->doorbells);
		struct file *file = NULL;
		unsigned int i;
		int ret;

		if (vm_not_running(vm))
			return 0;
		mutex_lock(&vm->lock);
		for (i = 0; i < vm->nr_functions; i++) {
			if (vm->functions[i].type == GH_FN_IRQFD && vm->functions[i].label == label) {
				file = get_file(vm->functions[i].file);
				break;
			}
		}
		mutex_unlock(&vm->lock);
		if (file) {
			bool ready = vfs_poll(file, NULL) & EPOLLIN;

			if (ready) {
				u64 count;
				loff_t pos = 0;

				kernel_read(file, &count, sizeof(count), &pos);
				fput(file);
				return 1;
			}
			fput(file);
		}
		/* Until a ring (the irqfd's wake-up), a kick, a signal or a stop: each of them
		 * wakes vm->wq, so no polling slice is needed. */
		ret = vcpu_block_on(vcpu, MAX_SCHEDULE_TIMEOUT, true, doorbells);
		if (ret)
			return ret;
	}
}

static bool vcpu_signal_ioeventfd(struct gh_vm *vm, u64 addr, u32 len, u64 value)
{
	bool hit = false;
	unsigned int i;

	mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_functions; i++) {
		struct gh_function *f = &vm->functions[i];

		if (f->type != GH_FN_IOEVENTFD || f->addr != addr)
			continue;
		if (f->len && f->len != len)
			continue;
		if (f->match && f->datamatch != value)
			continue;
		eventfd_signal(f->ctx, 1);
		hit = true;
		break;
	}
	mutex_unlock(&vm->lock);
	return hit;
}

static u64 size_mask(u32 size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static bool valid_size(u8 size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

enum step { STEP_NEXT, STEP_EXIT, STEP_STOPPED, STEP_WAIT, STEP_SLEEP, STEP_IDLE };

static enum step vcpu_crash(struct gh_vcpu *vcpu)
{
	gh_vm_stop(vcpu->vm, GH_VM_STATUS_CRASHED, 0, NULL, 0);
	return STEP_STOPPED;
}

/* Executes one instruction. *arg receives the doorbell label of a WAIT. */
static enum step vcpu_step(struct gh_vcpu *vcpu, u32 *arg)
{
	struct gh_vm *vm = vcpu->vm;
	u8 raw[INSN_SIZE];
	u8 op, a, b, c;
	u32 imm32;
	u64 imm64, next, addr, value = 0;
	bool taken;
	int mem;

	if (guest_access(vm, vcpu->pc, raw, sizeof(raw), false) != MEM_OK)
		return vcpu_crash(vcpu);	/* fetch fault */
	op = raw[0];
	a = raw[1];
	b = raw[2];
	c = raw[3];
	imm32 = get_unaligned_le32(raw + 4);
	imm64 = get_unaligned_le64(raw + 8);
	next = vcpu->pc + INSN_SIZE;
	/* Register fields must name a register: a everywhere but EXIT (a length there), b wherever
	 * it is used (MOVR's source; an address's base unless NO_REG). */
	if ((a >= NUM_REGS && op != OP_EXIT) || (b != NO_REG && b >= NUM_REGS) ||
	    (op == OP_MOVR && b == NO_REG))
		return vcpu_crash(vcpu);
	addr = (b == NO_REG ? 0 : vcpu->regs[b]) + imm64;

	switch (op) {
	case OP_MOV:
		vcpu->regs[a] = imm64;
		break;
	case OP_ADD:
		vcpu->regs[a] += imm64;
		break;
	case OP_SUB:
		vcpu->regs[a] -= imm64;
		break;
	case OP_MOVR:
		vcpu->regs[a] = vcpu->regs[array_index_nospec(b, NUM_REGS)];
		break;
	case OP_LOAD:
		if (!valid_size(c))
			return vcpu_crash(vcpu);
		mem = guest_access(vm, addr, &value, c, false);
		if (mem == MEM_FAULT)
			return vcpu_crash(vcpu);
		if (mem == MEM_MMIO) {
			vcpu->pending_read = true;
			vcpu->pending_reg = a;
			vcpu->pending_size = c;
			vcpu->run->exit_reason = GH_VCPU_EXIT_MMIO;
			vcpu->run->mmio.phys_addr = addr;
			vcpu->run->mmio.len = c;
			vcpu->run->mmio.is_write = 0;
			memset(vcpu->run->mmio.data, 0, sizeof(vcpu->run->mmio.data));
			return STEP_EXIT;
		}
		vcpu->regs[a] = le64_to_cpu(value);
		break;
	case OP_STORE:
	case OP_STOREI:
		if (!valid_size(c))
			return vcpu_crash(vcpu);
		value = (op == OP_STORE ? vcpu->regs[a] : imm32) & size_mask(c);
		{
			__le64 le = cpu_to_le64(value);

			mem = guest_access(vm, addr, &le, c, true);
			if (mem == MEM_FAULT)
				return vcpu_crash(vcpu);
			if (mem == MEM_MMIO) {
				vcpu->pc = next;
				if (vcpu_signal_ioeventfd(vm, addr, c, value))
					return STEP_NEXT;
				vcpu->run->exit_reason = GH_VCPU_EXIT_MMIO;
				vcpu->run->mmio.phys_addr = addr;
				vcpu->run->mmio.len = c;
				vcpu->run->mmio.is_write = 1;
				memset(vcpu->run->mmio.data, 0, sizeof(vcpu->run->mmio.data));
				memcpy(vcpu->run->mmio.data, &le, c);
				return STEP_EXIT;
			}
		}
		break;
	case OP_JMP:
		vcpu->pc = imm64;
		return STEP_NEXT;
	case OP_JZ:
	case OP_JNZ:
	case OP_JEQ:
	case OP_JNE:
		value = vcpu->regs[a];
		taken = op == OP_JZ ? value == 0 : op == OP_JNZ ? value != 0 :
			op == OP_JEQ ? value == imm32 : value != imm32;
		vcpu->pc = taken ? imm64 : next;
		return STEP_NEXT;
	case OP_WAIT:
		*arg = imm32;
		return STEP_WAIT;
	case OP_SLEEP:
		if (!vcpu->sleep_until)
			vcpu->sleep_until = jiffies + msecs_to_jiffies(imm32) + 1;
		if (time_after_eq(jiffies, vcpu->sleep_until)) {
			vcpu->sleep_until = 0;
			break;
		}
		return STEP_SLEEP;
	case OP_IDLE:
		return STEP_IDLE;
	case OP_EXIT: {
		u8 reason[8];

		put_unaligned_le64(imm64, reason);
		gh_vm_stop(vm, GH_VM_STATUS_EXITED, (u16)imm32, reason, min_t(u32, a, 8));
		return STEP_STOPPED;
	}
	default: /* OP_CRASH and undefined opcodes */
		return vcpu_crash(vcpu);
	}
	vcpu->pc = next;
	return STEP_NEXT;
}

static long vcpu_run(struct gh_vcpu *vcpu)
{
	struct gh_vm *vm = vcpu->vm;
	int ret;

	mutex_lock(&vm->lock);
	if (vm->state == VM_LOAD) {
		mutex_unlock(&vm->lock);
		return -ENODEV;
	}
	if (vcpu_report_stop_locked(vcpu)) {
		mutex_unlock(&vm->lock);
		return 0;
	}
	mutex_unlock(&vm->lock);
	if (vcpu_kicked(vcpu))
		return -EINTR;

	if (vcpu->pending_read) {
		u64 data = get_unaligned_le64(vcpu->run->mmio.data);

		vcpu->regs[vcpu->pending_reg] = data & size_mask(vcpu->pending_size);
		vcpu->pending_read = false;
		vcpu->pc += INSN_SIZE;
	}

	if (vcpu->id != 0) {
		/* Secondary vCPUs idle until the VM stops. */
		ret = vcpu_block(vcpu, MAX_SCHEDULE_TIMEOUT);
		if (ret)
			return ret;
		return vcpu_report_stop(vcpu) ? 0 : -EINTR;
	}

	if (!vcpu->booted) {
		u8 magic[8];

		if (guest_access(vm, vm->entry, magic, sizeof(magic), false) != MEM_OK ||
		    memcmp(magic, GUEST_MAGIC, sizeof(magic))) {
			gh_vm_stop(vm, GH_VM_STATUS_LOAD_FAILED, 0, NULL, 0);
			return vcpu_report_stop(vcpu) ? 0 : -EINTR;
		}
		vcpu->booted = true;
		vcpu->pc = vm->entry + sizeof(magic);
	}

	for (;;) {
		enum step step = STEP_NEXT;
		u32 arg = 0;
		int i;

		if (vcpu_report_stop(vcpu))
			return 0;
		if (vcpu_kicked(vcpu) || signal_pending(current))
			return -EINTR;
		for (i = 0; i < SLICE && step == STEP_NEXT; i++)
			step = vcpu_step(vcpu, &arg);
		switch (step) {
		case STEP_NEXT:
		case STEP_STOPPED:
			cond_resched();
			break;
		case STEP_EXIT:
			return 0;
		case STEP_WAIT:
			ret = vcpu_wait_doorbell(vcpu, arg);
			if (ret < 0)
				return ret;
			if (ret > 0)
				vcpu->pc += INSN_SIZE;
			break;
		case STEP_SLEEP:
			ret = vcpu_block(vcpu, max_t(long, (long)vcpu->sleep_until - (long)jiffies, 1));
			if (ret)
				return ret;
			break;
		case STEP_IDLE:
			ret = vcpu_block(vcpu, MAX_SCHEDULE_TIMEOUT);
			if (ret)
				return ret;
			break;
		}
	}
}

static long gh_vcpu_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct gh_vcpu *vcpu = filp->private_data;
	long ret;

	switch (cmd) {
	case GH_VCPU_RUN:
		if (!mutex_trylock(&vcpu->run_lock))
			return -EBUSY;
		ret = vcpu_run(vcpu);
		mutex_unlock(&vcpu->run_lock);
		return ret;
	case GH_VCPU_MMAP_SIZE:
		return PAGE_SIZE;
	default:
		/* a14: unknown commands on a vCPU fd are EINVAL; later generations: ENOTTY */
		return gh_gen_is_a14() ? -EINVAL : -ENOTTY;
	}
}

static int gh_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct gh_vcpu *vcpu = filp->private_data;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > PAGE_SIZE)
		return -EINVAL;
	return vm_insert_page(vma, vma->vm_start, virt_to_page(vcpu->run));
}

static int gh_vcpu_release(struct inode *inode, struct file *filp)
{
	struct gh_vcpu *vcpu = filp->private_data;
	struct gh_vm *vm = vcpu->vm;

	mutex_lock(&vm->lock);
	clear_bit(vcpu->id, vm->vcpu_ids);
	mutex_unlock(&vm->lock);
	free_page((unsigned long)vcpu->run);
	kfree(vcpu);
	gh_vm_put(vm);
	return 0;
}

static const struct file_operations gh_vcpu_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = gh_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = gh_vcpu_mmap,
	.release = gh_vcpu_release,
	.llseek = noop_llseek,
};

/* ---- VM ioctls ---- */

static long gh_vm_set_memory(struct gh_vm *vm, void __user *argp, bool lend)
{
	struct gh_userspace_memory_region desc;
	struct gh_region *r;
	unsigned long npages;
	unsigned int i;
	long pinned;
	int ret;

	if (copy_from_user(&desc, argp, sizeof(desc)))
		return -EFAULT;
	if (desc.flags & ~GH_MEM_ALLOW_ALL)
		return -EINVAL;
	if (!desc.memory_size || !PAGE_ALIGNED(desc.memory_size) ||
	    !PAGE_ALIGNED(desc.userspace_addr) || !PAGE_ALIGNED(desc.guest_phys_addr))
		return -EINVAL;
	if (desc.guest_phys_addr + desc.memory_size < desc.guest_phys_addr)
		return -EOVERFLOW;
	npages = desc.memory_size >> PAGE_SHIFT;
	if (npages > INT_MAX)
		return -ENOMEM;

	mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_regions; i++) {
		struct gh_userspace_memory_region *o = &vm->regions[i].desc;

		if (o->label == desc.label ||
		    (desc.guest_phys_addr < o->guest_phys_addr + o->memory_size &&
		     o->guest_phys_addr < desc.guest_phys_addr + desc.memory_size)) {
			ret = -EEXIST;
			goto out;
		}
	}
	if (vm->nr_regions == MAX_REGIONS) {
		ret = -ENOMEM;
		goto out;
	}
	r = &vm->regions[vm->nr_regions];
	r->pages = kvcalloc(npages, sizeof(*r->pages), GFP_KERNEL_ACCOUNT);
	if (!r->pages) {
		ret = -ENOMEM;
		goto out;
	}
	ret = account_locked_vm(vm->mm, npages, true);
	if (ret)
		goto free_pages;
	pinned = pin_user_pages_fast(desc.userspace_addr, npages, FOLL_WRITE | FOLL_LONGTERM, r->pages);
	if (pinned != npages) {
		if (pinned > 0)
			unpin_user_pages(r->pages, pinned);
		account_locked_vm(vm->mm, npages, false);
		ret = pinned < 0 ? pinned : -EFAULT;
		goto free_pages;
	}
	r->desc = desc;
	r->lend = lend;
	r->npages = npages;
	/* No state check: a region added after START is recorded but never reaches the guest. */
	vm->nr_regions++;
	ret = 0;
	goto out;
free_pages:
	kvfree(r->pages);
	r->pages = NULL;
out:
	mutex_unlock(&vm->lock);
	return ret;
}

static long gh_vm_set_boot_context(struct gh_vm *vm, void __user *argp)
{
	struct gh_vm_boot_context ctx;
	u32 set, index, slot;
	long ret = 0;

	if (copy_from_user(&ctx, argp, sizeof(ctx)))
		return -EFAULT;
	set = (ctx.reg >> 8) & 0xff;
	index = ctx.reg & 0xff;
	if (ctx.reg >> 16)
		return -EINVAL;
	switch (set) {
	case 0:	/* X0..X31 */
		if (index > 31)
			return -EINVAL;
		slot = index;
		break;
	case 1:	/* PC */
		if (index)
			return -EINVAL;
		slot = 32;
		break;
	case 2:	/* SP_EL0..SP_EL2 */
		if (index > 2)
			return -EINVAL;
		slot = 33 + index;
		break;
	default:
		return -EINVAL;
	}
	mutex_lock(&vm->lock);
	if (vm->state != VM_LOAD) {
		ret = -EINVAL;
	} else {
		vm->has_boot_reg[slot] = true;
		vm->boot_reg[slot] = ctx.value;
	}
	mutex_unlock(&vm->lock);
	return ret;
}

static long gh_vm_start(struct gh_vm *vm)
{
	unsigned int i;
	long ret = 0;
	bool dtb_inside = false;

	mutex_lock(&vm->lock);
	if (vm->state == VM_RUNNING)
		goto out;
	if (vm->state != VM_LOAD) {
		ret = -ENODEV;
		goto out;
	}
	vm->entry = 0;
	for (i = 0; i < vm->nr_regions && vm->has_dtb; i++) {
		struct gh_userspace_memory_region *r = &vm->regions[i].desc;

		if (vm->dtb.guest_phys_addr >= r->guest_phys_addr &&
		    vm->dtb.guest_phys_addr + vm->dtb.size <= r->guest_phys_addr + r->memory_size) {
			dtb_inside = true;
			vm->entry = r->guest_phys_addr;
			break;
		}
	}
	if (!dtb_inside) {
		vm->state = VM_INIT_FAILED;
		wake_up_all(&vm->wq);
		ret = -EINVAL;
		goto out;
	}
	if (vm->has_boot_reg[32])
		vm->entry = vm->boot_reg[32];
	vm->nr_boot_regions = vm->nr_regions;
	vm->state = VM_RUNNING;
	wake_up_all(&vm->wq);
out:
	mutex_unlock(&vm->lock);
	return ret;
}

static long gh_vm_add_vcpu(struct gh_vm *vm, const struct gh_fn_desc *desc)
{
	struct gh_fn_vcpu_arg arg;
	struct gh_vcpu *vcpu;
	char name[24];
	int fd;

	if (desc->arg_size != sizeof(arg))
		return -EINVAL;
	if (copy_from_user(&arg, u64_to_user_ptr(desc->arg), sizeof(arg)))
		return -EFAULT;
	if (arg.id >= MAX_VCPUS)
		return -EINVAL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	vcpu->run = (struct gh_vcpu_run *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run) {
		kfree(vcpu);
		return -ENOMEM;
	}
	mutex_init(&vcpu->run_lock);
	vcpu->id = arg.id;
	vcpu->vm = vm;

	mutex_lock(&vm->lock);
	if (test_and_set_bit(arg.id, vm->vcpu_ids)) {
		mutex_unlock(&vm->lock);
		free_page((unsigned long)vcpu->run);
		kfree(vcpu);
		return -EEXIST;
	}
	kref_get(&vm->kref);	/* the vCPU fd holds the VM */
	mutex_unlock(&vm->lock);

	snprintf(name, sizeof(name), "gh-vcpu:%u", arg.id);
	fd = anon_inode_getfd(name, &gh_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mutex_lock(&vm->lock);
		clear_bit(arg.id, vm->vcpu_ids);
		mutex_unlock(&vm->lock);
		free_page((unsigned long)vcpu->run);
		kfree(vcpu);
		gh_vm_put(vm);
	}
	return fd;
}

/* A free function slot, recording the type and argument bytes REMOVE_FUNCTION compares; NULL
 * when every slot is taken. Caller holds vm->lock. */
static struct gh_function *gh_vm_claim_function_locked(struct gh_vm *vm, u32 type,
						       const void *arg, u32 arg_size)
{
	struct gh_function *f;

	if (vm->nr_functions == MAX_FUNCTIONS || arg_size > sizeof(f->arg))
		return NULL;
	f = &vm->functions[vm->nr_functions++];
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->arg_size = arg_size;
	memcpy(f->arg, arg, arg_size);
	return f;
}

/* The eventfd's wake-up, called with its wait-queue lock held: on a write, ring. */
static int gh_irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct gh_irqfd_waiter *w = container_of(wait, struct gh_irqfd_waiter, wait);

	if (key_to_poll(key) & EPOLLIN) {
		atomic_inc(&w->vm->doorbells);
		wake_up_interruptible_all(&w->vm->wq);
	}
	return 0;
}

static void gh_irqfd_queue_proc(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct gh_irqfd_waiter *w = container_of(pt, struct gh_irqfd_waiter, pt);

	w->wqh = wqh;
	add_wait_queue(wqh, &w->wait);
}

static long gh_vm_add_irqfd(struct gh_vm *vm, const struct gh_fn_desc *desc)
{
	struct gh_irqfd_waiter *waiter;
	struct gh_fn_irqfd_arg arg;
	struct eventfd_ctx *ctx;
	struct gh_function *f;
	struct file *file;
	unsigned int i;
	long ret = 0;

	if (desc->arg_size != sizeof(arg))
		return -EINVAL;
	if (copy_from_user(&arg, u64_to_user_ptr(desc->arg), sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~GH_IRQFD_FLAGS_LEVEL)
		return -EINVAL;
	file = fget(arg.fd);
	if (!file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return PTR_ERR(ctx);
	}
	eventfd_ctx_put(ctx);
	waiter = kzalloc(sizeof(*waiter), GFP_KERNEL_ACCOUNT);
	if (!waiter) {
		fput(file);
		return -ENOMEM;
	}
	waiter->vm = vm;
	init_waitqueue_func_entry(&waiter->wait, gh_irqfd_wakeup);
	init_poll_funcptr(&waiter->pt, gh_irqfd_queue_proc);

	mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_functions; i++) {
		if (vm->functions[i].type == GH_FN_IRQFD && vm->functions[i].label == arg.label) {
			ret = -EEXIST;
			goto out;
		}
	}
	f = gh_vm_claim_function_locked(vm, GH_FN_IRQFD, &arg, sizeof(arg));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	f->label = arg.label;
	f->file = file;
	file = NULL;
	/* Queues the waiter on the eventfd (gh_irqfd_queue_proc); a count already there is seen
	 * by the next WAIT's poll. */
	vfs_poll(f->file, &waiter->pt);
	f->waiter = waiter;
	waiter = NULL;
out:
	mutex_unlock(&vm->lock);
	kfree(waiter);
	if (file)
		fput(file);
	return ret;
}

static long gh_vm_add_ioeventfd(struct gh_vm *vm, const struct gh_fn_desc *desc)
{
	struct gh_fn_ioeventfd_arg arg;
	struct eventfd_ctx *ctx;
	struct gh_function *f;
	bool match;
	unsigned int i;
	long ret = 0;

	if (desc->arg_size != sizeof(arg))
		return -EINVAL;
	if (copy_from_user(&arg, u64_to_user_ptr(desc->arg), sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~GH_IOEVENTFD_FLAGS_DATAMATCH)
		return -EINVAL;
	if (arg.len != 0 && arg.len != 1 && arg.len != 2 && arg.len != 4 && arg.len != 8)
		return -EINVAL;
	if (arg.addr + arg.len < arg.addr)
		return -EINVAL;
	match = arg.flags & GH_IOEVENTFD_FLAGS_DATAMATCH;
	if (match && !arg.len)
		return -EINVAL;
	ctx = eventfd_ctx_fdget(arg.fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_functions; i++) {
		struct gh_function *o = &vm->functions[i];

		if (o->type == GH_FN_IOEVENTFD && o->addr == arg.addr && o->len == arg.len &&
		    o->match == match && (!match || o->datamatch == arg.datamatch)) {
			ret = -EEXIST;
			goto out;
		}
	}
	f = gh_vm_claim_function_locked(vm, GH_FN_IOEVENTFD, &arg, sizeof(arg));
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	f->addr = arg.addr;
	f->len = arg.len;
	f->match = match;
	f->datamatch = arg.datamatch;
	f->ctx = ctx;
	ctx = NULL;
out:
	mutex_unlock(&vm->lock);
	if (ctx)
		eventfd_ctx_put(ctx);
	return ret;
}

static long gh_vm_function(struct gh_vm *vm, void __user *argp, bool add)
{
	struct gh_fn_desc desc;
	u8 arg[32];
	unsigned int i;

	if (copy_from_user(&desc, argp, sizeof(desc)))
		return -EFAULT;
	if (desc.arg_size > GH_FN_MAX_ARG_SIZE)
		return -EINVAL;
	if (add) {
		switch (desc.type) {
		case GH_FN_VCPU:
			return gh_vm_add_vcpu(vm, &desc);
		case GH_FN_IRQFD:
			return gh_vm_add_irqfd(vm, &desc);
		case GH_FN_IOEVENTFD:
			return gh_vm_add_ioeventfd(vm, &desc);
		default:
			return -ENOENT;
		}
	}
	/* a14 REMOVE_FUNCTION: every function with the same type, arg_size and arg bytes goes;
	 * 0 even when none matched. */
	if (desc.type != GH_FN_IRQFD && desc.type != GH_FN_IOEVENTFD)
		return 0;
	if (desc.arg_size > sizeof(arg))
		return 0;
	if (copy_from_user(arg, u64_to_user_ptr(desc.arg), desc.arg_size))
		return -EFAULT;
	mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_functions;) {
		struct gh_function *f = &vm->functions[i];

		if (f->type == desc.type && f->arg_size == desc.arg_size &&
		    !memcmp(f->arg, arg, desc.arg_size)) {
			gh_function_release(f);
			vm->functions[i] = vm->functions[--vm->nr_functions];
			continue;
		}
		i++;
	}
	mutex_unlock(&vm->lock);
	return 0;
}

/*
 * ack66-late GH_VM_RECLAIM_REGION: the real driver unpins demand-paged pages of the range and
 * faults them in again on the next access. This mock pins a region's pages for its whole life,
 * so after the same checks there is nothing to give back.
 */
static long gh_vm_reclaim(struct gh_vm *vm, void __user *argp)
{
	struct gunyah_address_range range;

	if (current->mm != vm->mm)
		return -EPERM;
	if (copy_from_user(&range, argp, sizeof(range)))
		return -EFAULT;
	if (!PAGE_ALIGNED(range.size) || !PAGE_ALIGNED(range.guest_phys_addr))
		return -EINVAL;
	return 0;
}

static long gh_vm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct gh_vm *vm = filp->private_data;
	void __user *argp = (void __user *)arg;
	struct gh_vm_dtb_config cfg;
	struct gh_auth_desc auth;

	switch (cmd) {
	case GH_VM_SET_USER_MEM_REGION:
		return gh_vm_set_memory(vm, argp, false);
	case GH_VM_ANDROID_LEND_USER_MEM:
		return gh_vm_set_memory(vm, argp, true);
	case GH_VM_SET_DTB_CONFIG:
		if (copy_from_user(&cfg, argp, sizeof(cfg)))
			return -EFAULT;
		if (cfg.guest_phys_addr + cfg.size < cfg.guest_phys_addr)
			return -EOVERFLOW;
		mutex_lock(&vm->lock);
		vm->dtb.guest_phys_addr = cfg.guest_phys_addr;
		vm->dtb.size = PAGE_ALIGN(cfg.size);
		vm->has_dtb = true;
		mutex_unlock(&vm->lock);
		return 0;
	case GH_VM_ANDROID_SET_FW_CONFIG:
		if (copy_from_user(&cfg, argp, sizeof(cfg)))
			return -EFAULT;
		if (cfg.guest_phys_addr + cfg.size < cfg.guest_phys_addr)
			return -EOVERFLOW;
		return 0;	/* recorded by the real driver; the scripted guest has no firmware */
	case GH_VM_ANDROID_SET_AUTH_TYPE:
		if (gh_gen_is_a14())
			return -ENOTTY;
		if (copy_from_user(&auth, argp, sizeof(auth)))
			return -EFAULT;
		if (auth.arg_size > GH_FN_MAX_ARG_SIZE)
			return -EINVAL;
		return 0;
	case GH_VM_SET_BOOT_CONTEXT:
		if (gh_gen_is_a14())
			return -ENOTTY;
		return gh_vm_set_boot_context(vm, argp);
	case GH_VM_RECLAIM_REGION:
		if (gh_gen_is_a14())
			return -ENOTTY;
		return gh_vm_reclaim(vm, argp);
	case GH_VM_START:
		return gh_vm_start(vm);
	case GH_VM_ADD_FUNCTION:
		return gh_vm_function(vm, argp, true);
	case GH_VM_REMOVE_FUNCTION:
		return gh_vm_function(vm, argp, false);
	default:
		return -ENOTTY;
	}
}

static int gh_vm_release(struct inode *inode, struct file *filp)
{
	struct gh_vm *vm = filp->private_data;

	/* One reference goes; vCPU fds keep the VM until they are closed too. */
	wake_up_all(&vm->wq);
	gh_vm_put(vm);
	return 0;
}

static const struct file_operations gh_vm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = gh_vm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = gh_vm_release,
	.llseek = noop_llseek,
};

/* ---- /dev/gunyah ---- */

static long gh_create_vm(unsigned long arg)
{
	struct gh_vm *vm;
	int fd;

	if (arg)
		return -EINVAL;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return -ENOMEM;
	kref_init(&vm->kref);
	mutex_init(&vm->lock);
	init_waitqueue_head(&vm->wq);
	vm->mm = current->mm;
	mmgrab(vm->mm);
	vm->state = VM_LOAD;
	atomic_inc(&gh_live_vms);
	fd = anon_inode_getfd("gunyah-vm", &gh_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		gh_vm_put(vm);
	return fd;
}

static long gh_dev_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case GH_CREATE_VM:
		return gh_create_vm(arg);
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

static int __init gh_mock_init(void)
{
	BUILD_BUG_ON(sizeof(struct gh_userspace_memory_region) != 32);
	BUILD_BUG_ON(sizeof(struct gh_fn_desc) != 16);
	BUILD_BUG_ON(sizeof(struct gh_fn_irqfd_arg) != 16);
	BUILD_BUG_ON(sizeof(struct gh_fn_ioeventfd_arg) != 32);
	BUILD_BUG_ON(sizeof(struct gh_vm_exit_info) != 16);
	BUILD_BUG_ON(sizeof(struct gh_vcpu_run) != 40);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, mmio.phys_addr) != 16);
	BUILD_BUG_ON(offsetof(struct gh_vcpu_run, status.exit_info) != 20);
	BUILD_BUG_ON(sizeof(struct gh_vm_boot_context) != 16);
	BUILD_BUG_ON(GH_VM_SET_USER_MEM_REGION != 0x40204701);
	BUILD_BUG_ON(GH_VM_ANDROID_LEND_USER_MEM != 0x40204111);
	BUILD_BUG_ON(GH_VM_SET_BOOT_CONTEXT != 0x4010470a);
	BUILD_BUG_ON(GH_VM_RECLAIM_REGION != 0x40104113);
	if (!strcmp(generation, "a14")) {
		gh_gen = GH_GEN_A14;
	} else if (!strcmp(generation, "ack66-late")) {
		gh_gen = GH_GEN_ACK66_LATE;
	} else {
		pr_err("gunyah_mock: generation=%s: expected a14 or ack66-late\n", generation);
		return -EINVAL;
	}
	pr_info("gunyah_mock: modelling the %s driver\n", generation);
	return misc_register(&gh_dev);
}

static void __exit gh_mock_exit(void)
{
	/* Every VM and vCPU fd holds a module reference: no VM can outlive the module. */
	misc_deregister(&gh_dev);
}

module_init(gh_mock_init);
module_exit(gh_mock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mock of the Gunyah hypervisor driver (/dev/gunyah) running scripted guests");
