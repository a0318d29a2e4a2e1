/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/** A range of guest physical address space. */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable GuestRange {
    /** Start of the range, in bytes of guest physical address space. */
    long guestPhysAddr;
    /** Length of the range in bytes; must be > 0 where a range is required. */
    long size;
}
