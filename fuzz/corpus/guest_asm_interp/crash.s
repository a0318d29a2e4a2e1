; crash.s — the guest crashes (the VM becomes CRASHED).
        sleep 10
        crash
