; Reads of every size, the values echoed back as writes of the same size.
        load1 r0, [0x90000011]
        store1 [0x90000100], r0
        load2 r0, [0x90000022]
        store2 [0x90000200], r0
        load4 r0, [0x90000044]
        store4 [0x90000400], r0
        load8 r0, [0x90000088]
        store8 [0x90000800], r0
        store4 [0x90000000], 0xdeadbeef
        exit VM_EXIT
