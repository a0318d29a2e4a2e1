cmd_/work/main/kernel/gunyah_mock/gunyah_mock.mod := printf '%s\n'   gunyah_mock.o | awk '!x[$$0]++ { print("/work/main/kernel/gunyah_mock/"$$0) }' > /work/main/kernel/gunyah_mock/gunyah_mock.mod
