/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * A doorbell: writing a non-zero count to the returned eventfd raises the guest interrupt bound
 * to `label` (GH_FN_IRQFD).
 */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable IrqfdConfig {
    /** The doorbell label, >= 0, unique among the VM's irqfds (else INVALID_ARGUMENT). */
    int label;
    /** Level-triggered (GH_IRQFD_FLAGS_LEVEL) instead of edge-triggered. */
    boolean levelTriggered;
}
