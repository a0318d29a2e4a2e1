/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * Service-specific error codes (Status.getServiceSpecificError()).
 *
 * The accompanying message is "<field path>: <reason>", naming the offending input, e.g.
 * "memoryRegions[2].size: not a multiple of the page size (4096)". Access-check failures are
 * not service-specific: they are the binder exception EX_SECURITY.
 */
@VintfStability
@Backing(type="int")
enum ErrorCode {
    /** Not an error; never sent. */
    NONE = 0,
    /** An argument is malformed or out of range; the message names it. */
    INVALID_ARGUMENT = 1,
    /** The call is not valid in the object's current state (e.g. after destroy()). */
    INVALID_STATE = 2,
    /** The request is well formed, but the driver or the service does not support it. */
    UNSUPPORTED = 3,
    /** A quota or a system resource (memory, file descriptors, VM ids) is exhausted. */
    RESOURCE_EXHAUSTED = 4,
    /** The hypervisor driver failed; the message names the ioctl and the errno. */
    HYPERVISOR_ERROR = 5,
}
