cmd_/work/main/kernel/gunyah_mock/modules.order := {   echo /work/main/kernel/gunyah_mock/gunyah_mock.ko; :; } > /work/main/kernel/gunyah_mock/modules.order
