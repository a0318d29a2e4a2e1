/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * Emulates a range of guest physical addresses. The service calls it from the vCPU thread that
 * took the MMIO exit; the vCPU waits for the answer, so keep handlers fast. Addresses are guest
 * physical; sizes are 1, 2, 4 or 8 bytes.
 */
@VintfStability
interface IGunyahMmioHandler {
    /** The guest reads `size` bytes at `address`; the low `size` bytes of the result are used. */
    long onRead(long address, int size);
    /** The guest writes the low `size` bytes of `value` at `address`. */
    void onWrite(long address, int size, long value);
}
