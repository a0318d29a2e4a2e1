/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * A guest access the driver could not back with memory (a PAGE_FAULT exit of a demand-paging
 * driver, GH_ACK66_EARLY and later): the guest touched an address no memory region covers,
 * wrote to a read-only region, or the driver could not pin the page.
 * @since 2
 */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable GuestFault {
    /** The guest physical address accessed. */
    long guestPhysAddr;
    /**
     * Why the driver could not back it, as a positive Linux errno: ENOENT (no region covers
     * it), EPERM (a write to a region without ACCESS_WRITE), ENOMEM or EFAULT (the page
     * could not be pinned, e.g. RLIMIT_MEMLOCK), EOPNOTSUPP (CMA memory).
     */
    int errno;
}
