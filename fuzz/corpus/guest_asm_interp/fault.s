; fault.s — the guest jumps outside every memory region: an instruction fetch fault crashes it.
        jmp 0x1000
