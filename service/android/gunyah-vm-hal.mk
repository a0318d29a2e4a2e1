# Product integration of the Gunyah VM HAL. In the device's makefile:
#   $(call inherit-product, <path>/service/android/gunyah-vm-hal.mk)
# Cuttlefish and other devices without Gunyah set GUNYAH_VM_HAL_BACKEND := mock first.

GUNYAH_VM_HAL_DIR := $(patsubst %/service/android/,%,$(dir $(lastword $(MAKEFILE_LIST))))
GUNYAH_VM_HAL_BACKEND ?= gunyah

PRODUCT_PACKAGES += \
    vendor.gunyahvm.hardware.gunyah-service \
    gunyahctl

# Which driver the service uses: "gunyah" (/dev/gunyah) or "mock" (the userspace mock).
PRODUCT_VENDOR_PROPERTIES += \
    ro.vendor.gunyah.backend=$(GUNYAH_VM_HAL_BACKEND)
# With the mock: the driver generation it models (a14, ack66-early, ack66-late, ack-newest).
ifneq ($(GUNYAH_VM_HAL_MOCK_GENERATION),)
PRODUCT_VENDOR_PROPERTIES += \
    ro.vendor.gunyah.mock_generation=$(GUNYAH_VM_HAL_MOCK_GENERATION)
endif

BOARD_VENDOR_SEPOLICY_DIRS += $(GUNYAH_VM_HAL_DIR)/sepolicy/vendor
SYSTEM_EXT_PUBLIC_SEPOLICY_DIRS += $(GUNYAH_VM_HAL_DIR)/sepolicy/system_ext/public
# Opt-in: system_server as a client of the HAL (platform policy: system_ext private). Set
# GUNYAH_VM_HAL_SYSTEM_SERVER_CLIENT := true before inheriting this file, or add the directory to
# SYSTEM_EXT_PRIVATE_SEPOLICY_DIRS yourself.
ifeq ($(GUNYAH_VM_HAL_SYSTEM_SERVER_CLIENT),true)
SYSTEM_EXT_PRIVATE_SEPOLICY_DIRS += $(GUNYAH_VM_HAL_DIR)/sepolicy/system_ext/private
endif

# The framework may use the HAL: a device-supplied framework compatibility matrix entry.
DEVICE_FRAMEWORK_COMPATIBILITY_MATRIX_FILE += \
    $(GUNYAH_VM_HAL_DIR)/vintf/framework_compatibility_matrix.gunyah.xml
