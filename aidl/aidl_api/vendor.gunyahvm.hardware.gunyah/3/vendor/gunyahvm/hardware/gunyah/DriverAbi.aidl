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
enum DriverAbi {
  MOCK = 0,
  GH_ANDROID14 = 1,
  GUNYAH_UPSTREAM = 2,
  GH_ACK66_EARLY = 3,
  GH_ACK66_LATE = 4,
  GH_ACK_CHECK_EXTENSION = 5,
}
