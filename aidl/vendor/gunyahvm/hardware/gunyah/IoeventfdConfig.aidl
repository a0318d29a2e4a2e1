/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * A guest-write notifier: a guest write to [guestPhysAddr, guestPhysAddr + size) (matching
 * `data` when `matchData`) signals the returned eventfd instead of causing an MMIO exit
 * (GH_FN_IOEVENTFD).
 */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable IoeventfdConfig {
    /** Guest physical address of the doorbell register. */
    long guestPhysAddr;
    /** Access size in bytes: 0 (any size), 1, 2, 4 or 8. 0 is not allowed with matchData. */
    int size;
    /** Signal only when the written value equals `data`. */
    boolean matchData;
    /** The value to match when `matchData`. */
    long data;
}
