#include <linux/module.h>
#define INCLUDE_VERMAGIC
#include <linux/build-salt.h>
#include <linux/elfnote-lto.h>
#include <linux/export-internal.h>
#include <linux/vermagic.h>
#include <linux/compiler.h>

BUILD_SALT;
BUILD_LTO_INFO;

MODULE_INFO(vermagic, VERMAGIC_STRING);
MODULE_INFO(name, KBUILD_MODNAME);

__visible struct module __this_module
__section(".gnu.linkonce.this_module") = {
	.name = KBUILD_MODNAME,
	.init = init_module,
#ifdef CONFIG_MODULE_UNLOAD
	.exit = cleanup_module,
#endif
	.arch = MODULE_ARCH_INIT,
};

#ifdef CONFIG_RETPOLINE
MODULE_INFO(retpoline, "Y");
#endif


static const struct modversion_info ____versions[]
__used __section("__versions") = {
	{ 0xbdfb6dbb, "__fentry__" },
	{ 0x844c8938, "misc_register" },
	{ 0x13c49cc2, "_copy_from_user" },
	{ 0x4dfa8d4b, "mutex_lock" },
	{ 0x3213f038, "mutex_unlock" },
	{ 0x5b8239ca, "__x86_return_thunk" },
	{ 0x599fb41c, "kvmalloc_node" },
	{ 0x88d9cae8, "account_locked_vm" },
	{ 0x7aa1756e, "kvfree" },
	{ 0x9eca777b, "pin_user_pages_fast" },
	{ 0x87f6d5d4, "unpin_user_pages" },
	{ 0xa19b956, "__stack_chk_fail" },
	{ 0x7cd8d75e, "page_offset_base" },
	{ 0x97651e6c, "vmemmap_base" },
	{ 0x70a30df6, "vm_insert_page" },
	{ 0x4c9d28b0, "phys_base" },
	{ 0xe2964344, "__wake_up" },
	{ 0xe2c17b5d, "__SCT__might_resched" },
	{ 0xfe487975, "init_wait_entry" },
	{ 0x8c26d495, "prepare_to_wait_event" },
	{ 0x92540fbf, "finish_wait" },
	{ 0x8ddd8aad, "schedule_timeout" },
	{ 0xa1194a8a, "fput" },
	{ 0x941f2aaa, "eventfd_ctx_put" },
	{ 0x37a0cba, "kfree" },
	{ 0x5690cb1e, "__mmdrop" },
	{ 0x47978cc, "misc_deregister" },
	{ 0x9ed12e20, "kmalloc_large" },
	{ 0xcefb0c9f, "__mutex_init" },
	{ 0xd9a5ea54, "__init_waitqueue_head" },
	{ 0x68fb37ae, "current_task" },
	{ 0x8c7394d7, "anon_inode_getfd" },
	{ 0x296695f, "refcount_warn_saturate" },
	{ 0x4302d0eb, "free_pages" },
	{ 0x88db9f48, "__check_object_size" },
	{ 0x449ad0a7, "memcmp" },
	{ 0x7a7caba8, "kmalloc_caches" },
	{ 0x606e9d01, "kmalloc_trace" },
	{ 0xf09b5d9a, "get_zeroed_page" },
	{ 0x656e4a6e, "snprintf" },
	{ 0xd67364f7, "eventfd_ctx_fdget" },
	{ 0x7d27d33f, "fget" },
	{ 0x38d7f01f, "eventfd_ctx_fileget" },
	{ 0xcbd4898c, "fortify_panic" },
	{ 0xbb9ed3bf, "mutex_trylock" },
	{ 0xc07351b3, "__SCT__cond_resched" },
	{ 0xdf0f75c6, "eventfd_signal" },
	{ 0x65487097, "__x86_indirect_thunk_rax" },
	{ 0x7f02188f, "__msecs_to_jiffies" },
	{ 0x15ba50a6, "jiffies" },
	{ 0x2989fe77, "kernel_read" },
	{ 0x505f95b0, "noop_llseek" },
	{ 0x3ef022ec, "compat_ptr_ioctl" },
	{ 0x9060323f, "module_layout" },
};

MODULE_INFO(depends, "");

