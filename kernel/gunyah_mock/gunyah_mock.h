/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gunyah_mock's shared definitions: the scripted guest's ISA, the driver's VM and vCPU state,
 * and what its three files call of each other (main.c: the device, module parameters and the
 * generation; vm.c: VM lifetime and the VM ioctls; vcpu.c: guest memory, the scripted guest
 * and the vCPU fd).
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */
#ifndef GUNYAH_MOCK_H
#define GUNYAH_MOCK_H

#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/delay.h>
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
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <asm/unaligned.h>

#include "uapi.h"

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

/*
 * A region's pinned pages, by page index, in an xarray: the driver's own memory grows with the
 * pages pinned (which RLIMIT_MEMLOCK bounds), never with the region's size. GH_PAGE_WRITABLE
 * marks a page pinned with FOLL_WRITE: it is unpinned dirty.
 */
#define GH_PAGE_WRITABLE XA_MARK_0

struct gh_region {
	struct gh_userspace_memory_region desc;
	bool lend;
	struct xarray pages;
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
	struct eventfd_ctx *ctx;	/* ioeventfd: signalled; irqfd: WAIT takes its count */
};

struct gh_vm {
	struct kref kref;
	struct work_struct free_work;	/* a14: the last put frees the VM on a workqueue */
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
	struct mutex pin_lock;		/* pins of guest pages, and every copy through them */
	struct gh_vcpu *vcpus[MAX_VCPUS];	/* the bound vCPU functions, by id */
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
	bool removed;			/* REMOVE_FUNCTION took it: RUN is ENODEV, and a RUN inside
					 * the driver returns (written under vm->lock) */
	bool mmio_pending;		/* the last exit was MMIO: the next RUN resumes it */
	bool pending_read;
	u8 pending_reg;
	u32 pending_size;
	unsigned long sleep_until;	/* jiffies; 0: not sleeping */
};

/* main.c */
enum gh_generation {
	GH_GEN_A14_EARLY,
	GH_GEN_A14_LATE,
	GH_GEN_ACK66_EARLY,
	GH_GEN_ACK66_LATE,
	GH_GEN_ACK_NEWEST,
};
extern atomic_t gh_live_vms;
extern unsigned int gh_reset_delay_ms;
extern unsigned int gh_race_delay_ms;
extern struct workqueue_struct *gh_free_wq;
bool gh_gen_is_a14(void);
bool gh_gen_at_least(enum gh_generation gen);

/* vm.c */
void gh_vm_put(struct gh_vm *vm);
void gh_vm_stop_locked(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size);
void gh_vm_stop(struct gh_vm *vm, u32 status, u16 type, const u8 *reason, u32 size);
long gh_vm_create(unsigned long arg);

/* vcpu.c */
extern const struct file_operations gh_vcpu_fops;

#endif /* GUNYAH_MOCK_H */
