/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.DriverAbi;
import vendor.gunyahvm.hardware.gunyah.VmAuthType;

/** What the service and its driver offer, and the limits it enforces. */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable Capabilities {
    /** "mock" (the userspace mock) or "gunyah" (a /dev/gunyah driver, real or kernel mock). */
    String backend;
    /** The driver ABI generation in use (MOCK only for the userspace mock). */
    DriverAbi driverAbi = DriverAbi.MOCK;
    /** The VM kinds this service can create on this driver. */
    VmAuthType[] authTypes;
    /** Largest VmConfig.vcpuCount accepted. */
    int maxVcpusPerVm;
    /** How many live VMs one caller uid may hold. */
    int maxVmsPerClient;
    /** The page size in bytes; sizes, offsets and addresses must be multiples of it. */
    long pageSize;
    /** Largest number of VmConfig.memoryRegions accepted. */
    int maxMemoryRegions;
    /** How many bytes of guest memory one caller uid may hold across its live VMs. */
    long maxGuestMemoryPerClient;
    /** Longest VmConfig.name accepted, in bytes. */
    int maxNameLength;
    /** How many vCPUs one caller uid may hold across its live VMs. */
    int maxVcpusPerClient;
    /**
     * The driver generation whose behaviour VMs get: for a /dev/gunyah driver the probed one
     * (equal to driverAbi); for the userspace mock (driverAbi MOCK) the one it models.
     * @since 2
     */
    DriverAbi driverGeneration = DriverAbi.MOCK;
}
