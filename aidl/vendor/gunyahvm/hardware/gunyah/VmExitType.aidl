/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * Why the guest stopped: the driver's gh_vm_exit_info.type, value for value, plus UNKNOWN for
 * exits where the driver gave no type and GUEST_FAULT for a stop the service decided.
 */
@VintfStability
@Backing(type="int")
enum VmExitType {
    /** The guest made a VM exit call. */
    VM_EXIT = 0,
    /** PSCI SYSTEM_OFF. */
    PSCI_POWER_OFF = 1,
    /** PSCI SYSTEM_RESET. */
    PSCI_SYSTEM_RESET = 2,
    /** PSCI SYSTEM_RESET2. */
    PSCI_SYSTEM_RESET2 = 3,
    /** The guest's watchdog bit. */
    WDT_BITE = 4,
    /**
     * The hypervisor reported an error. Also set by the service, with state CRASHED, when the
     * driver refused to run a vCPU (GH_VCPU_RUN failed): VmExitInfo.reason then holds the
     * errno's name, e.g. "ENODEV".
     */
    HYP_ERROR = 5,
    /** An asynchronous external abort. */
    ASYNC_EXT_ABORT = 6,
    /** The VM was stopped by force. */
    VM_FORCE_STOPPED = 7,
    /** The driver reported no exit type (e.g. a load failure or a crash). */
    UNKNOWN = 255,
    /**
     * The service stopped the VM: the guest touched memory the driver could not back (see
     * VmExitInfo.fault). Outside the driver's 16-bit exit types.
     * @since 2
     */
    GUEST_FAULT = 65536,
}
