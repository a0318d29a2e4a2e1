/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * Which generation of the Gunyah driver the service's backend speaks. The service tells them
 * apart at start-up by the driver's answers to a fixed set of probe ioctls.
 */
@VintfStability
@Backing(type="int")
enum DriverAbi {
    /** The service's built-in userspace mock (Capabilities.backend is "mock"). */
    MOCK = 0,
    /** The Android 14 (android14-6.1) driver: GH_* ioctls plus the Android additions. */
    GH_ANDROID14 = 1,
    /**
     * The upstream driver: GUNYAH_* ioctls with guest_memfd memory (a patch series that no
     * Android kernel carries; the service recognises it and refuses it).
     */
    GUNYAH_UPSTREAM = 2,
    /**
     * The first android15-6.6 driver: the a14 ioctl numbers and structs, but guest memory is
     * demand-paged (pinned on guest fault, so faults can reach the client), GH_VM_SET_BOOT_CONTEXT
     * exists, and GH_ANDROID_TENTATIVE_UAPI does not. No reclaim, CMA or auth-type calls.
     * @since 2
     */
    GH_ACK66_EARLY = 3,
    /**
     * Later android15-6.6 and android16-6.12 drivers: GH_ACK66_EARLY plus
     * GH_VM_RECLAIM_REGION, CMA-backed memory and GH_VM_ANDROID_SET_AUTH_TYPE.
     * @since 2
     */
    GH_ACK66_LATE = 4,
    /**
     * The newest Android common kernel driver (6.12 base): GH_ACK66_LATE plus
     * GH_VM_CHECK_EXTENSION and vCPU timer wake-ups.
     * @since 2
     */
    GH_ACK_CHECK_EXTENSION = 5,
}
