/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.MemoryShareType;

/**
 * One region of guest memory, backed by the client's memfd.
 *
 * Rules (each violation is ErrorCode.INVALID_ARGUMENT naming the field):
 * - `memory` is a memfd whose seals include F_SEAL_SHRINK and, when `access` has ACCESS_WRITE,
 *   exclude F_SEAL_WRITE and F_SEAL_FUTURE_WRITE;
 * - `size` > 0; `size`, `memoryOffset` and `guestPhysAddr` are multiples of
 *   Capabilities.pageSize; `memoryOffset + size` <= the memfd's size;
 * - `guestPhysAddr + size` does not overflow, regions do not overlap (adjacent is fine), and
 *   labels are unique within a VmConfig.
 *
 * The service maps the memfd itself and never copies guest memory.
 */
@VintfStability
parcelable MemoryRegion {
    /** The guest may read the region. */
    const int ACCESS_READ = 1;
    /** The guest may write the region. */
    const int ACCESS_WRITE = 2;
    /** The guest may execute from the region. */
    const int ACCESS_EXEC = 4;

    /** The driver's label for the region (the crosvm convention: its slot index). Must be >= 0. */
    int label;
    /** Guest physical address of the first byte. */
    long guestPhysAddr;
    /** Length in bytes. */
    long size;
    /** Guest access rights: a combination of the ACCESS_* bits, no other bits. */
    int access = ACCESS_READ | ACCESS_WRITE;
    /** Shared with or lent to the guest. */
    MemoryShareType shareType = MemoryShareType.SHARE;
    /** The backing memfd. A null fd is refused by the binder layer. */
    ParcelFileDescriptor memory;
    /** Offset of the region in `memory`, in bytes. */
    long memoryOffset;
}
