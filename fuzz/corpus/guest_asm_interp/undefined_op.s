        store1 [0x90000000], 7
        .byte 0x7f
        .zero 15
