/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/** The register set of a BootRegister (the driver's GH_VM_BOOT_CONTEXT_REG_SET_*). */
@VintfStability
@Backing(type="int")
enum BootRegisterSet {
    /** General purpose registers X0..X31: BootRegister.index 0..31. */
    X = 0,
    /** The program counter: BootRegister.index must be 0. */
    PC = 1,
    /** The stack pointers SP_EL0..SP_EL2: BootRegister.index 0..2. */
    SP = 2,
}
