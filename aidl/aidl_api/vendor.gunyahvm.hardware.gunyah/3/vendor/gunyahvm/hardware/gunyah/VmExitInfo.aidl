/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */
///////////////////////////////////////////////////////////////////////////////
// THIS FILE IS IMMUTABLE. DO NOT EDIT IN ANY CASE.                          //
///////////////////////////////////////////////////////////////////////////////

// A snapshot of a frozen version of this stable AIDL interface. Frozen versions never
// change: a device shipping them relies on every later service to speak them. Change the
// interface's sources in aidl/ and freeze a new version with aidl/tools/aidl_api.py.

package vendor.gunyahvm.hardware.gunyah;
import vendor.gunyahvm.hardware.gunyah.GuestFault;
import vendor.gunyahvm.hardware.gunyah.VmExitType;
import vendor.gunyahvm.hardware.gunyah.VmState;
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable VmExitInfo {
  VmState state = VmState.NOT_STARTED;
  VmExitType type = VmExitType.UNKNOWN;
  byte[] reason;
  @nullable GuestFault fault;
}
