/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Gunyah driver ABI this mock implements: the a14 structs and ioctl numbers, plus the
 * Android additions of the later generations it models. Userspace-includable on purpose:
 * tests/kernel_abi_check.sh compiles it with the host's gcc and compares every struct layout
 * and ioctl number with tests/data/gunyah_abi.json, the table the Rust side is checked against.
 *
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 */
#ifndef GUNYAH_MOCK_UAPI_H
#define GUNYAH_MOCK_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

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

struct gh_vm_firmware_config {
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
			__u8 resume_action;	/* ack66-early and later; a14: padding */
		} mmio;
		struct {
			__u32 status;
			struct gh_vm_exit_info exit_info;
		} status;
		/* ack66-early and later (GUNYAH_VCPU_EXIT_PAGE_FAULT) */
		struct {
			__u64 phys_addr;
			__s32 attempt;
			__u8 resume_action;
		} page_fault;
	};
};

struct gh_vm_boot_context {
	__u32 reg;
	__u32 reserved;
	__u64 value;
};

struct gunyah_auth_desc {
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
#define GH_VM_ANDROID_SET_FW_CONFIG _IOW(GH_ANDROID_IOCTL_TYPE, 0x12, struct gh_vm_firmware_config)
#define GH_VM_ANDROID_SET_AUTH_TYPE _IOW(GH_ANDROID_IOCTL_TYPE, 0x16, struct gunyah_auth_desc)
#define GH_VM_RECLAIM_REGION _IOW(GH_ANDROID_IOCTL_TYPE, 0x13, struct gunyah_address_range)
#define GH_VM_CHECK_EXTENSION _IO(GH_ANDROID_IOCTL_TYPE, 0x17)
#define GH_CAP_VCPU_TIMER_WAKEUP 0

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
#define GUNYAH_VCPU_EXIT_PAGE_FAULT 3
#define GUNYAH_VCPU_RESUME_HANDLED 0
#define GUNYAH_VCPU_RESUME_FAULT 1
#define GUNYAH_VCPU_RESUME_RETRY 2
#define GH_VM_STATUS_LOAD_FAILED 1
#define GH_VM_STATUS_EXITED 2
#define GH_VM_STATUS_CRASHED 3

#endif /* GUNYAH_MOCK_UAPI_H */
