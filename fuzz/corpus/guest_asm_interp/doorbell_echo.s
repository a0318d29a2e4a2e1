; doorbell_echo.s — answers every ring of doorbell 1 by writing its round number to the
; ioeventfd address 0x9000_1000 (no exit: the write signals the client's ioeventfd). After a
; ring, it reads a command from MMIO 0x9000_2000: 0 means "go on", anything else ends the guest
; with exit type VM_EXIT and the reason "done".
        mov r2, 0
again:  wait 1                      ; doorbell 1 (an irqfd)
        add r2, 1
        store4 [0x90001000], r2     ; ioeventfd: signalled without an exit
        load4 r3, [0x90002000]      ; MMIO read exit: the client's handler answers
        jz r3, again
        exit VM_EXIT, "done"
