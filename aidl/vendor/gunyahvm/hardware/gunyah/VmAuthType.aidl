/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * The kind of VM, i.e. how the hypervisor authenticates what it loads.
 *
 * This is an explicit, versioned field rather than a "reserved, must be 0" slot: new kinds are
 * added here with new values, and a service that does not know a value rejects it with
 * ErrorCode.INVALID_ARGUMENT. A kind the service knows but the driver lacks is
 * ErrorCode.UNSUPPORTED; Capabilities.authTypes lists what the driver offers.
 */
@VintfStability
@Backing(type="int")
enum VmAuthType {
    /** A plain VM: no authentication call is made to the driver. */
    UNAUTHENTICATED = 0,
    /**
     * An Android protected VM (pVM). The driver's auth type "Android pVM" (driver value 0);
     * VmConfig.firmware is its firmware configuration.
     */
    ANDROID_PVM = 1,
    /**
     * A Qualcomm trusted VM (QTVM). The driver's auth type "QCOM trusted VM" (driver value 1);
     * VmConfig.qtvmAuth is required.
     */
    QCOM_TRUSTED_VM = 2,
}
