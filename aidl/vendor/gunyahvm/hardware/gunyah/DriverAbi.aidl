/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/** Which generation of the Gunyah driver ABI the service's backend speaks. */
@VintfStability
@Backing(type="int")
enum DriverAbi {
    /** The service's built-in userspace mock (Capabilities.backend is "mock"). */
    MOCK = 0,
    /** The Android 14 (android14-6.1) driver: GH_* ioctls plus the Android additions. */
    GH_ANDROID14 = 1,
    /** The upstream driver: GUNYAH_* ioctls with guest_memfd memory. */
    GUNYAH_UPSTREAM = 2,
}
