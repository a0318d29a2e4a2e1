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
import vendor.gunyahvm.hardware.gunyah.GuestRange;
import vendor.gunyahvm.hardware.gunyah.IGunyahMmioHandler;
import vendor.gunyahvm.hardware.gunyah.IGunyahVmCallback;
import vendor.gunyahvm.hardware.gunyah.IoeventfdConfig;
import vendor.gunyahvm.hardware.gunyah.IrqfdConfig;
import vendor.gunyahvm.hardware.gunyah.MmioRing;
import vendor.gunyahvm.hardware.gunyah.MmioRingRequest;
import vendor.gunyahvm.hardware.gunyah.VmExitInfo;
import vendor.gunyahvm.hardware.gunyah.VmState;
@VintfStability
interface IGunyahVm {
  int getId();
  VmState getState();
  void start();
  void destroy();
  void registerCallback(IGunyahVmCallback callback);
  void unregisterCallback(IGunyahVmCallback callback);
  ParcelFileDescriptor createIrqfd(in IrqfdConfig config);
  ParcelFileDescriptor createIoeventfd(in IoeventfdConfig config);
  void setMmioHandler(in GuestRange range, @nullable IGunyahMmioHandler handler);
  @nullable VmExitInfo getExitInfo();
  MmioRing setMmioRing(in MmioRingRequest request);
}
