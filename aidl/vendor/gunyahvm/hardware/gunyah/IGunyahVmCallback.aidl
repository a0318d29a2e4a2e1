/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

import vendor.gunyahvm.hardware.gunyah.VmExitInfo;
import vendor.gunyahvm.hardware.gunyah.VmState;

/**
 * Notifications about one VM. Calls are oneway and made from service threads; a callback whose
 * process died is removed automatically, and a failing callback never affects the VM.
 */
@VintfStability
oneway interface IGunyahVmCallback {
    /** The VM entered `state`. Sent once per transition, in order. */
    void onStateChanged(VmState state);
    /** The guest stopped (EXITED, LOAD_FAILED or CRASHED). Sent once, after onStateChanged. */
    void onExit(in VmExitInfo info);
}
