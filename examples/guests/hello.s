; hello.s — writes a greeting, byte by byte, to a UART transmit register at 0x9000_0000
; (served by the client's IGunyahMmioHandler, e.g. `gunyahctl run --console 0x90000000`),
; then powers off with the reason "bye".
start:  mov r1, message
next:   load1 r0, [r1]              ; from guest memory
        jz r0, done
        store1 [0x90000000], r0     ; MMIO write exit: the console
        add r1, 1
        jmp next
done:   exit PSCI_POWER_OFF, "bye"

message:
        .asciz "Hello from a Gunyah guest!\n"
