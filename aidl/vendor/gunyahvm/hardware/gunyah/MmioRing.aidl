/*
 * Copyright (C) 2026 The gunyah-vm-hal Authors
 * SPDX-License-Identifier: Apache-2.0
 */

package vendor.gunyahvm.hardware.gunyah;

/**
 * The shared-memory path for guest MMIO exits (docs/MMIO_RING.md), returned by
 * IGunyahVm.setMmioRing(). One ring per VM, one slot per vCPU: when vCPU i takes an MMIO exit
 * in a range served by the ring, the service writes the access into slot i and signals
 * `exitPosted`; the client writes its answer into slot i and signals `answerPosted[i]`.
 *
 * The service trusts nothing in the ring: it reads an answer once, into its own copy, and
 * takes it only if it carries the sequence number of the exit it waits for and a known action.
 * A client that scribbles on the ring, answers late, twice or never can hurt only its own VM.
 */
@VintfStability
parcelable MmioRing {
    /** The first layout of `memory` (docs/MMIO_RING.md, "Layout 1"). */
    const int LAYOUT_1 = 1;

    /** The layout of `memory`. A client must not use a ring whose layout it does not know. */
    int layout;
    /**
     * The ring: a memfd of `memorySize` bytes, sealed against shrinking and growing, which both
     * sides map shared and read-write.
     */
    ParcelFileDescriptor memory;
    /** Size of `memory` in bytes. */
    long memorySize;
    /** Number of slots: the VM's vCPU count. Slot i carries vCPU i's exits. */
    int slotCount;
    /**
     * An eventfd (non-blocking: poll it) the service signals after posting an exit in any slot.
     */
    ParcelFileDescriptor exitPosted;
    /**
     * One eventfd per slot (non-blocking), which the client signals after answering that slot.
     */
    ParcelFileDescriptor[] answerPosted;
}
