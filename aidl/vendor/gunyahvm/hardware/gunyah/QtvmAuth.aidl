/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.GuestRange;

/**
 * Authentication parameters of a Qualcomm trusted VM (VmAuthType.QCOM_TRUSTED_VM), passed to
 * the driver as gunyah_qtvm_auth_arg.
 */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable QtvmAuth {
    /** The trusted VM's id, 0..65535 (the driver field is 16 bits wide). */
    int vmId;
    /** The peripheral authentication service (PAS) id of the image. Must be >= 0. */
    int pasId;
    /** Where the signed image lies in guest memory; must lie inside one memory region. */
    GuestRange image;
}
