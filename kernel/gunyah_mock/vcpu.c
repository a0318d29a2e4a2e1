// SPDX-License-Identifier: GPL-2.0
/*
 * gunyah_mock: guest memory as the guest sees it, the scripted guest (docs/GUEST_ISA.md)
 * running on a vCPU, and the vCPU fd (RUN, MMAP_SIZE, the run page).
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */

#include "gunyah_mock.h"

/* ---- Guest memory: the regions that reached the guest at START ---- */

enum {
	MEM_OK = 0,
	MEM_MMIO = 1,
	MEM_FAULT = -1,		/* the access straddles a region's end */
	MEM_READ_ONLY = -2,	/* a write to a region without write access */
	MEM_PIN_NOMEM = -3,	/* demand paging: RLIMIT_MEMLOCK reached */
	MEM_PIN_FAULT = -4,	/* demand paging: the VMM's memory is not mapped */
};

/*
 * Copies n bytes at offset in_page of page idx of region r to or from buf. The a14 driver pinned
 * every page at SET_USER_MEM_REGION (for writing where the region allows writes); the later
 * drivers pin a page, and charge it to the owner's RLIMIT_MEMLOCK, when the guest first touches
 * it, for writing only when the access writes (vm_mgr_mem.c gunyah_gup_demand_page), so a
 * read-only mapping serves reads. A page pinned for reading is pinned again for a write, and its
 * read pin dropped. Only the owner process runs vCPUs (RUN checks), so its mm is current's.
 *
 * The copy is made under pin_lock, as the pin lookup is: another vCPU's write cannot drop the
 * pin this copy goes through (and free the page, once the VMM has unmapped it) in between.
 */
static int region_copy(struct gh_vm *vm, struct gh_region *r, unsigned long idx, u32 in_page,
		       void *buf, u32 n, bool write)
{
	struct page *page, *pinned;
	int ret = MEM_OK;
	bool writable;
	void *old;
	u8 *p;

	mutex_lock(&vm->pin_lock);
	page = xa_load(&r->pages, idx);
	writable = page && xa_get_mark(&r->pages, idx, GH_PAGE_WRITABLE);
	if (page && (!write || writable))
		goto copy;
	if (current->mm != vm->mm) {
		ret = MEM_PIN_FAULT;
		goto out;
	}
	if (!page && account_locked_vm(vm->mm, 1, true)) {
		ret = MEM_PIN_NOMEM;
		goto out;
	}
	if (pin_user_pages_fast(r->desc.userspace_addr + (idx << PAGE_SHIFT), 1,
				(write ? FOLL_WRITE : 0) | FOLL_LONGTERM, &pinned) != 1) {
		if (!page)
			account_locked_vm(vm->mm, 1, false);
		ret = MEM_PIN_FAULT;
		goto out;
	}
	old = xa_store(&r->pages, idx, pinned, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (xa_is_err(old)) {
		unpin_user_page(pinned);
		if (!page)
			account_locked_vm(vm->mm, 1, false);
		ret = MEM_PIN_NOMEM;
		goto out;
	}
	if (write)
		xa_set_mark(&r->pages, idx, GH_PAGE_WRITABLE);
	if (page)
		unpin_user_page(page);	/* the read pin; still charged: the new pin takes its place */
	page = pinned;
	writable = write;
copy:
	/* Test only: widens the window in which the page is held read-only. */
	if (gh_race_delay_ms && !writable)
		msleep(gh_race_delay_ms);
	p = kmap_local_page(page);
	if (write)
		memcpy(p + in_page, buf, n);
	else
		memcpy(buf, p + in_page, n);
	kunmap_local(p);
out:
	mutex_unlock(&vm->pin_lock);
	return ret;
}

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
			return MEM_READ_ONLY;
		off = gpa - start;
		while (len) {
			unsigned long idx = array_index_nospec(off >> PAGE_SHIFT, r->npages);
			u32 in_page = off & ~PAGE_MASK;
			u32 n = min_t(u32, len, PAGE_SIZE - in_page);
			int ret = region_copy(vm, r, idx, in_page, buf, n, write);

			if (ret)
				return ret;
			buf = (u8 *)buf + n;
			off += n;
			len -= n;
		}
		return MEM_OK;
	}
	return MEM_MMIO;
}

/* ---- vCPU: running the scripted guest ---- */

/* Removed by REMOVE_FUNCTION: a RUN inside the driver returns, whatever immediate_exit says
 * (the VMM writes the run page, and may clear it again). */
static bool vcpu_removed(struct gh_vcpu *vcpu)
{
	return READ_ONCE(vcpu->removed);
}

static bool vcpu_kicked(struct gh_vcpu *vcpu)
{
	return READ_ONCE(vcpu->run->immediate_exit) != 0 || vcpu_removed(vcpu);
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

/* Blocks until `timeout` jiffies pass (MAX_SCHEDULE_TIMEOUT: forever), a kick (immediate_exit
 * or the vCPU's removal), a signal, a stop or — with `on_doorbell` — any doorbell rung since vm->doorbells read `doorbells`.
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

/*
 * Takes the count of an irqfd's eventfd without blocking: what the eventfd's read does, under
 * its wait queue's lock (as the kernel's own irqfd consumers do), so that no other reader can
 * take it between a check and the read. Returns the count taken, 0 if there was none.
 */
static u64 irqfd_take(struct eventfd_ctx *ctx, wait_queue_head_t *wqh)
{
	unsigned long flags;
	u64 count;

	spin_lock_irqsave(&wqh->lock, flags);
	eventfd_ctx_do_read(ctx, &count);
	/* A writer blocked on a full counter may write again. */
	if (count && waitqueue_active(wqh))
		wake_up_locked_poll(wqh, EPOLLOUT);
	spin_unlock_irqrestore(&wqh->lock, flags);
	return count;
}

/*
 * WAIT: 1 when doorbell `label` rang (its count taken), 0 when the VM stopped, -EINTR on a kick
 * (immediate_exit or the vCPU's removal) or a signal. It never sleeps anywhere but on vm->wq,
 * which every one of those wakes; a count another reader took first is no ring.
 */
static int vcpu_wait_doorbell(struct gh_vcpu *vcpu, u32 label)
{
	struct gh_vm *vm = vcpu->vm;

	for (;;) {
		/* Read before the count is taken: a ring after this is never missed. */
		int doorbells = atomic_read(&vm->doorbells);
		struct eventfd_ctx *ctx = NULL;
		wait_queue_head_t *wqh = NULL;
		unsigned int i;
		int ret;

		if (vm_not_running(vm))
			return 0;
		mutex_lock(&vm->lock);
		for (i = 0; i < vm->nr_functions; i++) {
			struct gh_function *f = &vm->functions[i];

			if (f->type == GH_FN_IRQFD && f->label == label && f->waiter) {
				/* A reference of our own: REMOVE_FUNCTION may release the slot's.
				 * The wait queue lives in the eventfd, which the reference keeps. */
				ctx = eventfd_ctx_fileget(f->file);
				wqh = f->waiter->wqh;
				break;
			}
		}
		mutex_unlock(&vm->lock);
		if (!IS_ERR_OR_NULL(ctx)) {
			u64 count;

			/* Test only: the window in which another reader may take the count. */
			if (gh_race_delay_ms)
				msleep(gh_race_delay_ms);
			count = irqfd_take(ctx, wqh);
			eventfd_ctx_put(ctx);
			if (count)
				return 1;
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
/*
 * ack66-early and later: an access the driver cannot back is a PAGE_FAULT exit with the
 * negative errno in `attempt` and `resume_action` preset to FAULT. The PC stays: the next RUN
 * retries the access (and faults again unless memory now covers it).
 */
static enum step vcpu_page_fault(struct gh_vcpu *vcpu, u64 addr, int err)
{
	vcpu->run->exit_reason = GUNYAH_VCPU_EXIT_PAGE_FAULT;
	vcpu->run->page_fault.phys_addr = addr;
	vcpu->run->page_fault.attempt = err;
	vcpu->run->page_fault.resume_action = GUNYAH_VCPU_RESUME_FAULT;
	return STEP_EXIT;
}

/*
 * An MMIO exit is filled in: the next RUN resumes it. The later drivers preset
 * mmio.resume_action to HANDLED at every MMIO exit (a14's page has padding there).
 */
static enum step vcpu_mmio_exit(struct gh_vcpu *vcpu)
{
	vcpu->mmio_pending = true;
	if (!gh_gen_is_a14())
		vcpu->run->mmio.resume_action = GUNYAH_VCPU_RESUME_HANDLED;
	return STEP_EXIT;
}

/*
 * A fetch, load or store at addr failed with mem (a MEM_* error): where the driver has
 * PAGE_FAULT exits, a write to a read-only region (EPERM) or a page it cannot pin (ENOMEM,
 * EFAULT) is one; anything else, and every fault on a14, crashes the guest.
 */
static enum step vcpu_fault(struct gh_vcpu *vcpu, u64 addr, int mem)
{
	int err = mem == MEM_READ_ONLY ? -EPERM :
		  mem == MEM_PIN_NOMEM ? -ENOMEM :
		  mem == MEM_PIN_FAULT ? -EFAULT : 0;

	if (err && !gh_gen_is_a14())
		return vcpu_page_fault(vcpu, addr, err);
	return vcpu_crash(vcpu);
}

static enum step vcpu_step(struct gh_vcpu *vcpu, u32 *arg)
{
	struct gh_vm *vm = vcpu->vm;
	u8 raw[INSN_SIZE];
	u8 op, a, b, c;
	u32 imm32;
	u64 imm64, next, addr, value = 0;
	bool taken;
	int mem;

	mem = guest_access(vm, vcpu->pc, raw, sizeof(raw), false);
	if (mem != MEM_OK)
		return vcpu_fault(vcpu, vcpu->pc, mem);	/* MMIO fetches crash too */
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
	case OP_LOAD: {
		__le64 le = 0;

		if (!valid_size(c))
			return vcpu_crash(vcpu);
		mem = guest_access(vm, addr, &le, c, false);
		if (mem != MEM_OK && mem != MEM_MMIO)
			return vcpu_fault(vcpu, addr, mem);
		if (mem == MEM_MMIO) {
			vcpu->pending_read = true;
			vcpu->pending_reg = a;
			vcpu->pending_size = c;
			vcpu->run->exit_reason = GH_VCPU_EXIT_MMIO;
			vcpu->run->mmio.phys_addr = addr;
			vcpu->run->mmio.len = c;
			vcpu->run->mmio.is_write = 0;
			memset(vcpu->run->mmio.data, 0, sizeof(vcpu->run->mmio.data));
			return vcpu_mmio_exit(vcpu);
		}
		vcpu->regs[a] = le64_to_cpu(le);
		break;
	}
	case OP_STORE:
	case OP_STOREI:
		if (!valid_size(c))
			return vcpu_crash(vcpu);
		value = (op == OP_STORE ? vcpu->regs[a] : imm32) & size_mask(c);
		{
			__le64 le = cpu_to_le64(value);

			mem = guest_access(vm, addr, &le, c, true);
			if (mem != MEM_OK && mem != MEM_MMIO)
				return vcpu_fault(vcpu, addr, mem);
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
				return vcpu_mmio_exit(vcpu);
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
	/* docs/GENERATIONS.md, "vCPU RUN": the vCPU function removed (step 1), or no hypervisor
	 * resource yet (step 3): before START, and on the later drivers after a failed START
	 * (a14 reports that as a STATUS exit, below). */
	if (vcpu->removed || vm->state == VM_LOAD ||
	    (vm->state == VM_INIT_FAILED && !gh_gen_is_a14())) {
		mutex_unlock(&vm->lock);
		return -ENODEV;
	}
	if (vcpu_report_stop_locked(vcpu)) {
		mutex_unlock(&vm->lock);
		return 0;
	}
	mutex_unlock(&vm->lock);

	if (vcpu->mmio_pending) {
		/* Step 4: resume the MMIO exit as the VMM answered it. a14 has no resume_action. */
		u8 action = gh_gen_is_a14() ? GUNYAH_VCPU_RESUME_HANDLED :
					      READ_ONCE(vcpu->run->mmio.resume_action);

		switch (action) {
		case GUNYAH_VCPU_RESUME_HANDLED:
			if (vcpu->pending_read) {
				u64 data = get_unaligned_le64(vcpu->run->mmio.data);

				vcpu->regs[vcpu->pending_reg] = data & size_mask(vcpu->pending_size);
				vcpu->pending_read = false;
				vcpu->pc += INSN_SIZE;
			}
			break;
		case GUNYAH_VCPU_RESUME_FAULT:
			/* A fault injected for the access: the scripted guest has no vectors, so
			 * it takes it as its own faults, and crashes (docs/GUEST_ISA.md). */
			vcpu->pending_read = false;
			vcpu->mmio_pending = false;
			vcpu_crash(vcpu);
			return vcpu_report_stop(vcpu) ? 0 : -EINTR;
		default:
			/* RETRY and anything undefined; the exit stays pending. */
			return -EINVAL;
		}
		vcpu->mmio_pending = false;
	}
	/* The later drivers run a vCPU only for the process that created the VM, after the
	 * state machine above (step 5). */
	if (!gh_gen_is_a14() && current->mm != vm->mm)
		return -EPERM;
	if (vcpu_kicked(vcpu))
		return -EINTR;

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
		/* A removed vCPU stops after the instruction it is executing. */
		for (i = 0; i < SLICE && step == STEP_NEXT && !vcpu_removed(vcpu); i++)
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
	if (vm->vcpus[vcpu->id] == vcpu)	/* not removed (and the id not bound again) */
		vm->vcpus[vcpu->id] = NULL;
	mutex_unlock(&vm->lock);
	free_page((unsigned long)vcpu->run);
	kfree(vcpu);
	gh_vm_put(vm);
	return 0;
}

const struct file_operations gh_vcpu_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = gh_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = gh_vcpu_mmap,
	.release = gh_vcpu_release,
	.llseek = noop_llseek,
};
