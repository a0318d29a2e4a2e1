/work/main/kernel/gunyah_mock/gunyah_mock.o
