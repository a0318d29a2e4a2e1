; Regression (found by fuzzing guest_asm_interp): MOVR takes its source register from field b;
; b = 0xff ("no register") is an undefined instruction, not an index into the registers.
        .byte 0x04, 0, 0xff, 0
        .zero 12
