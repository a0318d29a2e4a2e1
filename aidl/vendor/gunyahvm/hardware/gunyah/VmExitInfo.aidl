/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.GuestFault;
import vendor.gunyahvm.hardware.gunyah.VmExitType;
import vendor.gunyahvm.hardware.gunyah.VmState;

/** How and why a guest stopped. */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable VmExitInfo {
    /** The state the VM entered: EXITED, LOAD_FAILED or CRASHED. */
    VmState state = VmState.NOT_STARTED;
    /** The driver's exit type; UNKNOWN where the driver gave none. */
    VmExitType type = VmExitType.UNKNOWN;
    /**
     * The driver's exit reason bytes (at most 8), empty where it gave none; for HYP_ERROR set
     * by the service, the name of the errno GH_VCPU_RUN failed with.
     */
    byte[] reason;
    /**
     * The guest fault that stopped the VM, when type is GUEST_FAULT; null otherwise.
     * @since 2
     */
    @nullable GuestFault fault;
}
