/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/** The lifecycle state of a VM, as reported by IGunyahVm.getState() and callbacks. */
@VintfStability
@Backing(type="int")
enum VmState {
    /** Created and fully configured; IGunyahVm.start() has not been called. */
    NOT_STARTED = 0,
    /** IGunyahVm.start() was called and the driver's START has not returned yet. */
    STARTING = 1,
    /** The driver started the VM; its vCPUs are running. */
    RUNNING = 2,
    /** The guest stopped by itself (power off, reset, VM exit); see VmExitInfo. */
    EXITED = 3,
    /** START failed, or the hypervisor could not load the guest. */
    LOAD_FAILED = 4,
    /** The guest crashed or was stopped by the hypervisor for a fault. */
    CRASHED = 5,
    /** destroy() was called, or the VM was torn down; all its resources are released. */
    DESTROYED = 6,
}
