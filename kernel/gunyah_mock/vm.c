// SPDX-License-Identifier: GPL-2.0
/*
 * gunyah_mock: a VM's lifetime (reference counting, stop) and its ioctls.
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */

#include "gunyah_mock.h"

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

/* Unpins every page of a region: the pages pinned for writing dirty, since the guest may have
 * written them through the pin, unseen by the page tables (a file's page would else be clean
 * and its last writes lost). Returns how many. */
static unsigned long gh_region_unpin(struct gh_region *r)
{
	unsigned long idx, pinned = 0;
	struct page *page;

	xa_for_each(&r->pages, idx, page) {
		if (xa_get_mark(&r->pages, idx, GH_PAGE_WRITABLE))
			unpin_user_pages_dirty_lock(&page, 1, true);
		else
			unpin_user_page(page);
		pinned++;
	}
	xa_destroy(&r->pages);
	return pinned;
}

static void gh_vm_free(struct gh_vm *vm)
{
	unsigned int i;

	/* The hypervisor's reset of the VM, as long as the module parameter says. */
	if (gh_reset_delay_ms)
		msleep(gh_reset_delay_ms);

	for (i = 0; i < vm->nr_functions; i++)
		gh_function_release(&vm->functions[i]);
	/* Every page on a14; the pages the guest touched on the later drivers. */
	for (i = 0; i < vm->nr_regions; i++)
		account_locked_vm(vm->mm, gh_region_unpin(&vm->regions[i]), false);
	mmdrop(vm->mm);
	kfree(vm);
	atomic_dec(&gh_live_vms);
}

static void gh_vm_free_work(struct work_struct *work)
{
	gh_vm_free(container_of(work, struct gh_vm, free_work));
}

/*
 * The last put (docs/DRIVER_ABI.md §11): a14 frees the VM on a workqueue, so the last
 * close returns at once; the later drivers tear it down in the closing thread, which waits
 * for the reset.
 */
static void gh_vm_last_put(struct kref *kref)
{
	struct gh_vm *vm = container_of(kref, struct gh_vm, kref);

	if (gh_gen_is_a14()) {
		INIT_WORK(&vm->free_work, gh_vm_free_work);
		queue_work(gh_free_wq, &vm->free_work);
	} else {
		gh_vm_free(vm);
	}
}

void gh_vm_put(struct gh_vm *vm)
{
	kref_put(&vm->kref, gh_vm_last_put);
}

/* Stops the guest (first report wins) and wakes every vCPU. Caller holds vm->lock. */
void gh_vm_stop_locked(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size)
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

void gh_vm_stop(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size)
{
	mutex_lock(&vm->lock);
	gh_vm_stop_locked(vm, status, type, reason, size);
	mutex_unlock(&vm->lock);
}

/* ---- VM ioctls ---- */

/*
 * a14: every page of a new region pinned at once (for writing only where the region allows
 * writes, so that a read-only mapping of a file can back a read-only region), a batch at a
 * time: the driver allocates nothing in proportion to the region's size before the pages are
 * pinned. On failure nothing stays pinned.
 */
static int gh_region_pin_all(struct gh_region *r)
{
	unsigned int flags = (r->desc.flags & GH_MEM_ALLOW_WRITE ? FOLL_WRITE : 0) | FOLL_LONGTERM;
	struct page *batch[32];
	unsigned long done = 0;
	long pinned, i;
	int ret = 0;

	while (done < r->npages) {
		pinned = pin_user_pages_fast(r->desc.userspace_addr + (done << PAGE_SHIFT),
					     min_t(unsigned long, r->npages - done, ARRAY_SIZE(batch)),
					     flags, batch);
		if (pinned <= 0) {
			ret = pinned ? pinned : -EFAULT;
			break;
		}
		for (i = 0; i < pinned; i++) {
			void *old = xa_store(&r->pages, done + i, batch[i],
					     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);

			if (xa_is_err(old)) {
				unpin_user_pages(batch + i, pinned - i);
				ret = xa_err(old);
				break;
			}
			if (flags & FOLL_WRITE)
				xa_set_mark(&r->pages, done + i, GH_PAGE_WRITABLE);
		}
		if (ret)
			break;
		done += pinned;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	if (ret) {
		/* Nothing was written through these pins: no page is made dirty. */
		struct page *page;
		unsigned long idx;

		xa_for_each(&r->pages, idx, page)
			unpin_user_page(page);
		xa_destroy(&r->pages);
	}
	return ret;
}

static long gh_vm_set_memory(struct gh_vm *vm, void __user *argp, bool lend)
{
	struct gh_userspace_memory_region desc;
	struct gh_region *r;
	unsigned long npages;
	unsigned int i;
	int ret;

	/* From late a14 on, only the process that created the VM may give it memory. */
	if (gh_gen_at_least(GH_GEN_A14_LATE) && current->mm != vm->mm)
		return -EPERM;
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

		/* Labels are unique in a14 only; the later drivers check overlap alone. */
		if ((gh_gen_is_a14() && o->label == desc.label) ||
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
	xa_init(&r->pages);
	r->desc = desc;
	r->lend = lend;
	r->npages = npages;
	if (gh_gen_is_a14()) {
		/*
		 * a14 gh_vm_mem_alloc (vm_mgr_mm.c): the whole region is charged first, with
		 * account_locked_vm(ghvm->mm, ...) — the VM creator's mm, checked against the
		 * caller's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK — then the caller's pages are
		 * pinned. So nothing is allocated or pinned for memory the caller may not lock.
		 */
		ret = account_locked_vm(vm->mm, npages, true);
		if (ret)
			goto out;
		ret = gh_region_pin_all(r);
		if (ret) {
			account_locked_vm(vm->mm, npages, false);
			goto out;
		}
	}
	/* Later drivers: demand paging, each page pinned and charged at the guest's first touch
	 * (vcpu.c). No state check: a region added after START never reaches the guest. */
	vm->nr_regions++;
	ret = 0;
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

		u64 end = r->guest_phys_addr + r->memory_size;	/* no wrap: checked at the ioctl */

		/* Inside without a sum that could wrap. */
		if (vm->dtb.guest_phys_addr >= r->guest_phys_addr && vm->dtb.guest_phys_addr <= end &&
		    vm->dtb.size <= end - vm->dtb.guest_phys_addr) {
			dtb_inside = true;
			vm->entry = r->guest_phys_addr;
			break;
		}
	}
	if (!dtb_inside || (!gh_gen_is_a14() && !vm->dtb.size)) {
		vm->state = VM_INIT_FAILED;
		wake_up_all(&vm->wq);
		/* Later drivers: zero DTB pages is EINVAL, a DTB in no binding ENOENT. */
		ret = gh_gen_is_a14() || !vm->dtb.size ? -EINVAL : -ENOENT;
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
	if (vm->vcpus[arg.id]) {
		mutex_unlock(&vm->lock);
		free_page((unsigned long)vcpu->run);
		kfree(vcpu);
		return -EEXIST;
	}
	vm->vcpus[arg.id] = vcpu;
	kref_get(&vm->kref);	/* the vCPU fd holds the VM */
	mutex_unlock(&vm->lock);

	snprintf(name, sizeof(name), "gh-vcpu:%u", arg.id);
	fd = anon_inode_getfd(name, &gh_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mutex_lock(&vm->lock);
		/* Removed meanwhile, the id may hold another vCPU by now. */
		if (vm->vcpus[arg.id] == vcpu)
			vm->vcpus[arg.id] = NULL;
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
	waiter = kzalloc(sizeof(*waiter), GFP_KERNEL_ACCOUNT);
	if (!waiter) {
		eventfd_ctx_put(ctx);
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
	f->ctx = ctx;	/* WAIT takes the count through it */
	file = NULL;
	ctx = NULL;
	/* Queues the waiter on the eventfd (gh_irqfd_queue_proc); a count already there is taken
	 * by the next WAIT. */
	vfs_poll(f->file, &waiter->pt);
	f->waiter = waiter;
	waiter = NULL;
out:
	mutex_unlock(&vm->lock);
	kfree(waiter);
	if (ctx)
		eventfd_ctx_put(ctx);
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

		if (o->type != GH_FN_IOEVENTFD || o->addr != arg.addr)
			continue;
		/* The driver's rb-tree compare, in every generation (docs/GENERATIONS.md,
		 * "ioeventfds"): a handler without datamatch equals any other at its address; two
		 * with datamatch are equal when length and data are. */
		if (!o->match || !match || (o->len == arg.len && o->datamatch == arg.datamatch)) {
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
	/* A length is kept only with datamatch: without, any width matches. */
	f->len = match ? arg.len : 0;
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

/*
 * The keyed compare of REMOVE_FUNCTION (late a14 and later): the argument must have the type's
 * size; an irqfd is named by its label, an ioeventfd by addr, len and flags (and datamatch with
 * DATAMATCH) — by addr alone on late a14. The fd is not compared.
 */
static bool gh_function_has_key(const struct gh_function *f, u32 type, const u8 *arg, u32 size)
{
	struct gh_fn_ioeventfd_arg want, have;
	struct gh_fn_irqfd_arg irq;

	if (f->type != type)
		return false;
	switch (type) {
	case GH_FN_IRQFD:
		if (size != sizeof(irq))
			return false;
		memcpy(&irq, arg, sizeof(irq));
		return f->label == irq.label;
	case GH_FN_IOEVENTFD:
		if (size != sizeof(want))
			return false;
		memcpy(&want, arg, sizeof(want));
		memcpy(&have, f->arg, sizeof(have));
		if (gh_gen_is_a14())
			return have.addr == want.addr;
		if (have.addr != want.addr || have.len != want.len || have.flags != want.flags)
			return false;
		return !(want.flags & GH_IOEVENTFD_FLAGS_DATAMATCH) || have.datamatch == want.datamatch;
	default:
		return false;
	}
}

/*
 * Unbinds the vCPU function `id` if bound (vm->lock held): its fd stays open, RUN answers ENODEV
 * (the driver's unbind sets f = NULL), and a RUN inside the driver returns (immediate_exit is
 * set and the waiters are woken). The id is free for a new vCPU. Returns whether one was bound.
 * Every generation finds a vCPU by its id: early a14 compares the argument bytes, which are the
 * id alone; late a14's compare is unknown and modelled as the later drivers' (docs/GENERATIONS.md).
 */
static bool gh_vm_unbind_vcpu_locked(struct gh_vm *vm, u32 id)
{
	struct gh_vcpu *vcpu;

	if (id >= MAX_VCPUS || !vm->vcpus[id])
		return false;
	vcpu = vm->vcpus[id];
	/* A RUN inside the driver sees it after the instruction it is executing, whatever
	 * the VMM does to immediate_exit. */
	WRITE_ONCE(vcpu->removed, true);
	WRITE_ONCE(vcpu->run->immediate_exit, 1);
	vm->vcpus[id] = NULL;
	wake_up_all(&vm->wq);
	return true;
}

/*
 * Late a14 and later REMOVE_FUNCTION: what matches by key goes; nothing matched: ENOENT. An
 * empty argument matches nothing: ENOENT, but 0 on late a14 (its loop runs only for arg_size).
 * arg_size is not capped here (ADD_FUNCTION caps it): the driver copies what it is given, and no
 * compare takes an argument of another size than its type's.
 */
static long gh_vm_remove_by_key(struct gh_vm *vm, const struct gh_fn_desc *desc)
{
	struct gh_fn_vcpu_arg vcpu;
	unsigned int i;
	long ret = -ENOENT;
	u8 *arg;

	if (!desc->arg_size)
		return gh_gen_is_a14() ? 0 : -ENOENT;
	arg = memdup_user(u64_to_user_ptr(desc->arg), desc->arg_size);
	if (IS_ERR(arg))
		return PTR_ERR(arg);
	mutex_lock(&vm->lock);
	if (desc->type == GH_FN_VCPU) {
		if (desc->arg_size == sizeof(vcpu)) {
			memcpy(&vcpu, arg, sizeof(vcpu));
			if (gh_vm_unbind_vcpu_locked(vm, vcpu.id))
				ret = 0;
		}
		goto out;
	}
	for (i = 0; i < vm->nr_functions;) {
		struct gh_function *f = &vm->functions[i];

		if (gh_function_has_key(f, desc->type, arg, desc->arg_size)) {
			gh_function_release(f);
			vm->functions[i] = vm->functions[--vm->nr_functions];
			ret = 0;
			continue;
		}
		i++;
	}
out:
	mutex_unlock(&vm->lock);
	kfree(arg);
	return ret;
}

static long gh_vm_function(struct gh_vm *vm, void __user *argp, bool add)
{
	struct gh_fn_desc desc;
	struct gh_fn_vcpu_arg vcpu;
	unsigned int i;
	u8 *arg;

	if (copy_from_user(&desc, argp, sizeof(desc)))
		return -EFAULT;
	if (add) {
		if (desc.arg_size > GH_FN_MAX_ARG_SIZE)
			return -EINVAL;
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
	if (gh_gen_at_least(GH_GEN_A14_LATE))
		return gh_vm_remove_by_key(vm, &desc);
	/* Early a14 REMOVE_FUNCTION: every function with the same type, arg_size and arg bytes
	 * goes (a vCPU's argument is its id); 0 even when none matched. arg_size is not capped. */
	arg = desc.arg_size ? memdup_user(u64_to_user_ptr(desc.arg), desc.arg_size) : NULL;
	if (IS_ERR(arg))
		return PTR_ERR(arg);
	mutex_lock(&vm->lock);
	if (desc.type == GH_FN_VCPU && desc.arg_size == sizeof(vcpu)) {
		memcpy(&vcpu, arg, sizeof(vcpu));
		gh_vm_unbind_vcpu_locked(vm, vcpu.id);
	}
	for (i = 0; i < vm->nr_functions;) {
		struct gh_function *f = &vm->functions[i];

		if (f->type == desc.type && f->arg_size == desc.arg_size && arg &&
		    !memcmp(f->arg, arg, desc.arg_size)) {
			gh_function_release(f);
			vm->functions[i] = vm->functions[--vm->nr_functions];
			continue;
		}
		i++;
	}
	mutex_unlock(&vm->lock);
	kfree(arg);
	return 0;
}

/*
 * ack66-late GH_VM_RECLAIM_REGION: the real driver unpins demand-paged pages of the range and
 * faults them in again on the next access. This mock keeps a page pinned, once the guest has
 * touched it, until the VM is freed (a vCPU may be copying through it): after the same checks,
 * nothing is given back, which a guest cannot tell apart.
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
	struct gunyah_auth_desc auth;
	u64 size;

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
		/* a14 rounds the size up to a page; the later drivers share size >> PAGE_SHIFT
		 * pages (truncated), checked at START. The rounded range must not wrap either. */
		size = gh_gen_is_a14() ? PAGE_ALIGN(cfg.size) : cfg.size & PAGE_MASK;
		if (size < (cfg.size & PAGE_MASK) || cfg.guest_phys_addr + size < cfg.guest_phys_addr)
			return -EOVERFLOW;
		mutex_lock(&vm->lock);
		vm->dtb.guest_phys_addr = cfg.guest_phys_addr;
		vm->dtb.size = size;
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
		if (!gh_gen_at_least(GH_GEN_ACK66_LATE))
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
		if (!gh_gen_at_least(GH_GEN_ACK66_LATE))
			return -ENOTTY;
		return gh_vm_reclaim(vm, argp);
	case GH_VM_CHECK_EXTENSION:
		if (!gh_gen_at_least(GH_GEN_ACK_NEWEST))
			return -ENOTTY;
		/* The one capability the newest driver knows, GH_CAP_VCPU_TIMER_WAKEUP, it has. */
		return arg == GH_CAP_VCPU_TIMER_WAKEUP ? 1 : 0;
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

/* GH_CREATE_VM on /dev/gunyah: a new VM fd. */
long gh_vm_create(unsigned long arg)
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
	mutex_init(&vm->pin_lock);
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
