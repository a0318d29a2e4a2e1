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
import vendor.gunyahvm.hardware.gunyah.DriverAbi;
import vendor.gunyahvm.hardware.gunyah.VmAuthType;
@VintfStability
@RustDerive(Clone=true, PartialEq=true)
parcelable Capabilities {
  String backend;
  DriverAbi driverAbi = DriverAbi.MOCK;
  VmAuthType[] authTypes;
  int maxVcpusPerVm;
  int maxVmsPerClient;
  long pageSize;
  int maxMemoryRegions;
  long maxGuestMemoryPerClient;
  int maxNameLength;
  int maxVcpusPerClient;
  DriverAbi driverGeneration = DriverAbi.MOCK;
}
