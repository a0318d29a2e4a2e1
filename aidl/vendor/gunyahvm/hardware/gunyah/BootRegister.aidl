/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.BootRegisterSet;

/**
 * One register of the boot vCPU's initial context (GH_VM_SET_BOOT_CONTEXT).
 *
 * Index rules: set X takes index 0..31, PC only index 0, SP index 0..2; anything else is
 * ErrorCode.INVALID_ARGUMENT. A register may appear at most once in VmConfig.bootContext.
 */
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable BootRegister {
    /** Which register set. */
    BootRegisterSet set = BootRegisterSet.X;
    /** Register index within the set. */
    int index;
    /** The register's initial value (a guest physical address for PC and SP). */
    long value;
}
