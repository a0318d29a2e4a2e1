; RAM stores and loads of every size, register arithmetic and every branch; reports the
; computed value as an MMIO write, then exits with a reason built from it.
        mov r1, 0x80010000
        mov r2, 0x1122334455667788
        store8 [r1], r2
        load4 r3, [r1 + 4]          ; 0x11223344
        load2 r4, [r1]              ; 0x7788
        load1 r5, [r1 + 7]          ; 0x11
        mov r6, r3
        sub r6, 0x11223300          ; 0x44
        jne r6, 0x44, bad
        jeq r5, 0x11, ok1
        jmp bad
ok1:    mov r7, 3
loop:   sub r7, 1
        jnz r7, loop
        jz r7, ok2
        jmp bad
ok2:    add r4, 1
        store2 [0x90000000], r4     ; 0x7789
        store4 [r1 + 8], 0x21444f47 ; "GOD!" bytes in memory
        load4 r0, [0x80010008]
        store4 [0x90000004], r0
        exit WDT_BITE, "ok"
bad:    crash
