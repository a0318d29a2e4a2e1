; A load that crosses the end of guest RAM faults: the guest crashes.
        load8 r0, [0x800ffffc]
        exit VM_EXIT
