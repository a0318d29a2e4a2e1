/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.BootRegister;
import vendor.gunyahvm.hardware.gunyah.GuestRange;
import vendor.gunyahvm.hardware.gunyah.MemoryRegion;
import vendor.gunyahvm.hardware.gunyah.QtvmAuth;
import vendor.gunyahvm.hardware.gunyah.VmAuthType;

/**
 * Everything needed to build a VM. The service validates the whole config before it touches
 * the driver; an invalid config builds nothing and fails with ErrorCode.INVALID_ARGUMENT and a
 * message naming the field ("memoryRegions[2].size: ...").
 */
@VintfStability
parcelable VmConfig {
    /**
     * A human-readable name for logs and listVms(). 1..Capabilities.maxNameLength bytes of
     * UTF-8, no control characters.
     */
    String name;
    /**
     * The kind of VM. UNAUTHENTICATED: no auth call. ANDROID_PVM: requires `firmware`.
     * QCOM_TRUSTED_VM: requires `qtvmAuth`. Unknown values are INVALID_ARGUMENT; a kind the
     * driver lacks is UNSUPPORTED.
     */
    VmAuthType authType = VmAuthType.UNAUTHENTICATED;
    /** Guest memory: 1..Capabilities.maxMemoryRegions regions (see MemoryRegion). */
    MemoryRegion[] memoryRegions;
    /**
     * Where the device tree blob lies; required, size > 0, inside one memory region. The driver
     * rounds its size up to a page.
     */
    GuestRange dtb;
    /**
     * The firmware configuration of an ANDROID_PVM (inside one memory region). Must be null for
     * every other authType.
     */
    @nullable GuestRange firmware;
    /**
     * The boot vCPU's initial registers (VM-wide). Without a PC entry the guest starts at offset
     * 0 of the region that holds the DTB.
     */
    BootRegister[] bootContext;
    /** Number of vCPUs, 1..Capabilities.maxVcpusPerVm. */
    int vcpuCount = 1;
    /** Required for QCOM_TRUSTED_VM and rejected (INVALID_ARGUMENT) for every other authType. */
    @nullable QtvmAuth qtvmAuth;
}
