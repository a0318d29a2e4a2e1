; Register 9 does not exist: an undefined instruction.
        .byte 0x01, 9, 0xff, 0
        .zero 12
