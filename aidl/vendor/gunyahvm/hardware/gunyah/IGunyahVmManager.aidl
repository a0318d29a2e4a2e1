/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.Capabilities;
import vendor.gunyahvm.hardware.gunyah.IGunyahVm;
import vendor.gunyahvm.hardware.gunyah.VmConfig;
import vendor.gunyahvm.hardware.gunyah.VmDescriptor;

/**
 * The Gunyah VM service: the only process that opens /dev/gunyah. Registered as
 * "vendor.gunyahvm.hardware.gunyah.IGunyahVmManager/default".
 *
 * Every method is access-checked; a caller that may not use the service gets the binder
 * exception EX_SECURITY. Other failures are service-specific ErrorCode values with the message
 * "<field path>: <reason>".
 */
@VintfStability
interface IGunyahVmManager {
    /**
     * Builds a VM from `config` and returns the object that owns it (state NOT_STARTED). Either
     * the VM is built completely or nothing is: no half-built VM and no file descriptor stays
     * behind on any error.
     *
     * Errors: INVALID_ARGUMENT (a field of `config`, named in the message), UNSUPPORTED (a VM
     * kind the driver lacks), RESOURCE_EXHAUSTED (the caller's quota of VMs, vCPUs or guest
     * memory, or a system resource), HYPERVISOR_ERROR (the driver failed; ioctl and errno in
     * the message).
     */
    IGunyahVm createVm(in VmConfig config);

    /** What this service and its driver offer, and its limits. */
    Capabilities getCapabilities();

    /** The caller's own live VMs (those created by the caller's uid), in creation order. */
    VmDescriptor[] listVms();
}
