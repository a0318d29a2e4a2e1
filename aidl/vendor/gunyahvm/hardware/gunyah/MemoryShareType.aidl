/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/** How a memory region is given to the guest when the VM starts. */
@VintfStability
@Backing(type="int")
enum MemoryShareType {
    /** Shared: the host keeps access to the pages (GH_VM_SET_USER_MEM_REGION). */
    SHARE = 0,
    /**
     * Lent: the host loses access to the pages while the VM runs (GH_VM_ANDROID_LEND_USER_MEM).
     * Use it for protected guest RAM and firmware.
     */
    LEND = 1,
}
