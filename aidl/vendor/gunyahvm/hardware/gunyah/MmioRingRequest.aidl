/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.GuestRange;

/** A guest address range to serve through the VM's MMIO ring (IGunyahVm.setMmioRing()). */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable MmioRingRequest {
    /**
     * The range. It must not overlap a range served by a handler or by the ring
     * (INVALID_ARGUMENT).
     */
    GuestRange range;
    /**
     * Whether answers for this range may ask the driver to inject a fault into the guest
     * (action FAULT). UNSUPPORTED where the driver cannot (the a14 drivers have no
     * resume_action); without it, an answer asking for a fault is refused like a malformed
     * one.
     */
    boolean faultAnswers;
}
