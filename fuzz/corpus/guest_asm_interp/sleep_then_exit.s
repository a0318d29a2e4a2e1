        sleep 20
        store8 [0x90000000], 1
        sleep 5
        exit PSCI_SYSTEM_RESET2, "\x01\x02\x03\x04\x05\x06\x07\x08"
