/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.VmState;

/** One of the caller's live VMs, as listed by IGunyahVmManager.listVms(). */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable VmDescriptor {
    /** The VM's id (IGunyahVm.getId()); unique among live VMs of this service. */
    int id;
    /** VmConfig.name. */
    String name;
    /** The VM's current state. */
    VmState state = VmState.NOT_STARTED;
    /** The uid that created the VM. */
    int ownerUid;
    /** Number of vCPUs. */
    int vcpuCount;
    /** Total guest memory in bytes (sum of the region sizes). */
    long memoryBytes;
}
