        mov r1, msg
next:   load1 r0, [r1]
        jz r0, done
        store1 [0x90000000], r0
        add r1, 1
        jmp next
done:   exit PSCI_POWER_OFF, "bye"
msg:    .asciz "Hi!"
