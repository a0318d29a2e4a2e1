/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

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

/**
 * One VM. This binder object owns the VM: when its last reference is gone (the client drops it,
 * exits or is killed) the service stops the VM and closes every file descriptor, mapping and
 * thread that belongs to it. Holding the object is the capability to use it; its methods are
 * not access-checked again, so a client may hand it to another process.
 *
 * After destroy() only getId(), getState(), getExitInfo() and destroy() succeed; every other
 * method fails with ErrorCode.INVALID_STATE.
 */
@VintfStability
interface IGunyahVm {
    /** The VM's id, unique among this service's live VMs. */
    int getId();

    /** The VM's current state. */
    VmState getState();

    /**
     * Starts the VM: NOT_STARTED -> STARTING -> RUNNING (or LOAD_FAILED when the driver's START
     * fails). Calling it again while STARTING or RUNNING succeeds and does nothing (the driver's
     * START is idempotent). From EXITED, LOAD_FAILED, CRASHED or DESTROYED: INVALID_STATE.
     */
    void start();

    /**
     * Stops the VM now and releases everything it owns, as if the last reference were gone.
     * Idempotent: later calls succeed and do nothing. The state becomes DESTROYED.
     */
    void destroy();

    /** Adds a callback (linked to its process's death). Registering it twice is a no-op. */
    void registerCallback(IGunyahVmCallback callback);

    /** Removes a callback registered with registerCallback(); an unknown callback is a no-op. */
    void unregisterCallback(IGunyahVmCallback callback);

    /**
     * Creates an eventfd bound to the guest doorbell `config.label` and returns a duplicate of
     * it; writing to it rings the doorbell. The service keeps its own copy until teardown.
     */
    ParcelFileDescriptor createIrqfd(in IrqfdConfig config);

    /**
     * Creates an eventfd that is signalled by matching guest writes (without an MMIO exit) and
     * returns a duplicate of it.
     */
    ParcelFileDescriptor createIoeventfd(in IoeventfdConfig config);

    /**
     * Routes guest MMIO exits inside `range` to `handler`. Ranges of one VM must not overlap
     * (INVALID_ARGUMENT), whether a handler or the ring serves them. A null handler removes
     * what serves exactly that range: its handler, or (V3) the ring. Accesses no handler or
     * ring covers read 0 and drop writes.
     */
    void setMmioHandler(in GuestRange range, @nullable IGunyahMmioHandler handler);

    /** How the guest stopped; null while it has not stopped. */
    @nullable VmExitInfo getExitInfo();

    /**
     * (V3) Routes guest MMIO exits inside `request.range` to the VM's MMIO ring, the
     * shared-memory path that costs two eventfd wake-ups per exit instead of two binder calls.
     * The ring is made at the first call; every call returns it (new duplicates of its fds).
     * A range is served by a handler or by the ring, never both (INVALID_ARGUMENT);
     * setMmioHandler(range, null) removes it. The ring lives until the VM is torn down: a vCPU
     * waiting for an answer is released by destroy(), by the last reference going away, and by
     * the VM stopping.
     */
    MmioRing setMmioRing(in MmioRingRequest request);
}
