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
@VintfStability
@Backing(type="int")
enum VmExitType {
  VM_EXIT = 0,
  PSCI_POWER_OFF = 1,
  PSCI_SYSTEM_RESET = 2,
  PSCI_SYSTEM_RESET2 = 3,
  WDT_BITE = 4,
  HYP_ERROR = 5,
  ASYNC_EXT_ABORT = 6,
  VM_FORCE_STOPPED = 7,
  UNKNOWN = 255,
  GUEST_FAULT = 65536,
}
