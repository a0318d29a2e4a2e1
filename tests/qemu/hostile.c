// SPDX-License-Identifier: GPL-2.0
/*
 * The QEMU tier's hostile user of /dev/gunyah (issue 34): one reproducer per bug found by
 * using gunyah_mock.ko as a hostile VMM would, and a random-ioctl fuzzer. Built static with
 * gcc by tests/qemu/run.sh and run inside the guest, once per generation:
 *
 *   hostile GENERATION TEST...      tests: freed-page removed-vcpu huge-region wait-stolen
 *                                          wait-stolen-nonblock memlock-owner dtb-wrap
 *                                          dirty-file fuzz[=SECONDS]
 *
 * Each test prints "PASS <test> (<gen>): ..." or "FAIL <test> (<gen>): ...". A test also
 * fails when the kernel log gained a WARNING, BUG, Oops, hung-task or poison line while it
 * ran. The races the reproducers need are made certain with the module's test-only
 * race_delay_ms parameter (kernel/gunyah_mock/README.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uapi.h"

#define PAGE 4096UL
#define PARAMS "/sys/module/gunyah_mock/parameters/"
#define MMIO_ROLE 0x90000000ULL
#define MMIO_REPORT 0x90001000ULL

static const char *gen;
static bool a14;
static const char *test;
static bool failed;

static void result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s (%s): ", ok ? "PASS" : "FAIL", test, gen);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failed = true;
}

static void die(const char *what)
{
	result(false, "%s: %s", what, strerror(errno));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void write_param(const char *name, unsigned int value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fprintf(f, "%u\n", value);
	fclose(f);
}

static int read_param(const char *name)
{
	char path[128];
	int v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* A "Key: N kB" line of a /proc file, in kB; -1 if absent. */
static long proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static long vmlck_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return proc_kb(path, "VmLck");
}

/* Lines of the kernel log that fail the tier: warnings, oopses, hung tasks, poison. */
static const char *const bad_marks[] = {
	"WARNING:", "BUG:", "Oops", "general protection", "blocked for more than",
	"hung_task", "pagealloc: memory corruption", "Poison overwritten", "KFENCE:",
	"KASAN:", "refcount_t:", "list_add corruption", "list_del corruption", "Call Trace",
	/* slub_debug's reports ("BUG <cache> (...): <what>") */
	"Redzone overwritten", "Padding overwritten", "Object padding overwritten",
	"Freepointer corrupt", "Freechain corrupt", "Object already free", "Wrong object count",
};

/* How many such lines the log has; `line` receives the one after the first `skip`. */
static int kernel_log_bad(int skip, char *first, size_t first_len)
{
	static char buf[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
	int count = 0;
	char *line, *save = NULL;

	if (n < 0)
		return 0;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (size_t i = 0; i < sizeof(bad_marks) / sizeof(bad_marks[0]); i++) {
			if (strstr(line, bad_marks[i])) {
				if (first && count == skip)
					snprintf(first, first_len, "%s", line);
				count++;
				break;
			}
		}
	}
	return count;
}

/* ---- The driver ---- */

static int dev_open(void)
{
	int fd = open("/dev/gunyah", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/gunyah");
	return fd;
}

static int vm_create(int dev)
{
	int vm = ioctl(dev, GH_CREATE_VM, 0);

	if (vm < 0)
		die("GH_CREATE_VM");
	return vm;
}

static int set_mem(int vm, uint32_t label, uint64_t gpa, uint64_t size, void *uaddr, uint32_t flags)
{
	struct gh_userspace_memory_region r = {
		.label = label, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)uaddr,
	};

	return ioctl(vm, GH_VM_SET_USER_MEM_REGION, &r) ? -errno : 0;
}

static int set_dtb(int vm, uint64_t gpa, uint64_t size)
{
	struct gh_vm_dtb_config c = { gpa, size };

	return ioctl(vm, GH_VM_SET_DTB_CONFIG, &c) ? -errno : 0;
}

static int add_fn(int vm, uint32_t type, void *arg, uint32_t size)
{
	struct gh_fn_desc d = { type, size, (uint64_t)(uintptr_t)arg };
	int ret = ioctl(vm, GH_VM_ADD_FUNCTION, &d);

	return ret < 0 ? -errno : ret;
}

static int remove_fn(int vm, uint32_t type, void *arg, uint32_t size)
{
	struct gh_fn_desc d = { type, size, (uint64_t)(uintptr_t)arg };

	return ioctl(vm, GH_VM_REMOVE_FUNCTION, &d) ? -errno : 0;
}

struct vcpu {
	int fd;
	struct gh_vcpu_run *run;
};

static struct vcpu add_vcpu(int vm, uint32_t id)
{
	struct gh_fn_vcpu_arg arg = { id };
	struct vcpu v;

	v.fd = add_fn(vm, GH_FN_VCPU, &arg, sizeof(arg));
	if (v.fd < 0) {
		errno = -v.fd;
		die("ADD_FUNCTION vcpu");
	}
	v.run = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, v.fd, 0);
	if (v.run == MAP_FAILED)
		die("mmap vcpu");
	return v;
}

/* The fd and its run page: a mapped run page keeps the vCPU, and so the VM, alive. */
static void vcpu_close(struct vcpu *v)
{
	munmap(v->run, PAGE);
	close(v->fd);
}

static int remove_vcpu(int vm, uint32_t id)
{
	struct gh_fn_vcpu_arg arg = { id };

	return remove_fn(vm, GH_FN_VCPU, &arg, sizeof(arg));
}

static int run(struct vcpu *v)
{
	return ioctl(v->fd, GH_VCPU_RUN, 0) ? -errno : 0;
}

static const char *describe(struct gh_vcpu_run *r, char *buf, size_t len)
{
	switch (r->exit_reason) {
	case GH_VCPU_EXIT_MMIO:
		snprintf(buf, len, "MMIO %s at %#llx", r->mmio.is_write ? "write" : "read",
			 (unsigned long long)r->mmio.phys_addr);
		break;
	case GH_VCPU_EXIT_STATUS:
		snprintf(buf, len, "status %u (type %#x)", r->status.status, r->status.exit_info.type);
		break;
	case GUNYAH_VCPU_EXIT_PAGE_FAULT:
		snprintf(buf, len, "page fault at %#llx (%d)", (unsigned long long)r->page_fault.phys_addr,
			 r->page_fault.attempt);
		break;
	default:
		snprintf(buf, len, "exit %u", r->exit_reason);
	}
	return buf;
}

/* ---- The scripted guest (docs/GUEST_ISA.md) ---- */

enum { OP_MOV = 0x01, OP_LOAD = 0x10, OP_STORE = 0x11, OP_STOREI = 0x12, OP_JMP = 0x20,
       OP_JNZ = 0x22, OP_WAIT = 0x30, OP_IDLE = 0x32, OP_EXIT = 0x40 };
#define NOREG 0xff

struct prog {
	uint8_t *base;		/* where gpa `gpa` is mapped */
	uint64_t gpa, pc;	/* pc: the next instruction's gpa */
};

static void emit_at(struct prog *p, uint64_t at, uint8_t op, uint8_t a, uint8_t b, uint8_t c,
		    uint32_t imm32, uint64_t imm64)
{
	uint8_t *i = p->base + (at - p->gpa);

	i[0] = op;
	i[1] = a;
	i[2] = b;
	i[3] = c;
	memcpy(i + 4, &imm32, 4);
	memcpy(i + 8, &imm64, 8);
}

static uint64_t emit(struct prog *p, uint8_t op, uint8_t a, uint8_t b, uint8_t c, uint32_t imm32,
		     uint64_t imm64)
{
	uint64_t at = p->pc;

	emit_at(p, at, op, a, b, c, imm32, imm64);
	p->pc += 16;
	return at;
}

static struct prog prog_start(uint8_t *base, uint64_t gpa)
{
	struct prog p = { base, gpa, gpa + 8 };

	memcpy(base, "GHGUEST\x01", 8);
	return p;
}

/* A VM with one region of `pages` anonymous pages at `gpa`, the DTB in its first page. */
struct vmset {
	int dev, vm;
	uint8_t *mem;
	uint64_t gpa;
	size_t size;
};

static struct vmset vm_with_memory(size_t pages, uint64_t gpa)
{
	struct vmset s;
	int ret;

	s.dev = dev_open();
	s.vm = vm_create(s.dev);
	s.gpa = gpa;
	s.size = pages * PAGE;
	s.mem = mmap(NULL, s.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s.mem == MAP_FAILED)
		die("mmap guest memory");
	memset(s.mem, 0, s.size);
	ret = set_mem(s.vm, 0, gpa, s.size, s.mem, GH_MEM_ALLOW_ALL);
	if (ret) {
		errno = -ret;
		die("SET_USER_MEM_REGION");
	}
	if (set_dtb(s.vm, gpa, PAGE))
		die("SET_DTB_CONFIG");
	return s;
}

static void vm_close(struct vmset *s)
{
	close(s->vm);
	close(s->dev);
	munmap(s->mem, s->size);
}

/* A thread running one RUN of a vCPU: its result, and when it returned. */
struct runner {
	pthread_t thread;
	struct vcpu *v;
	volatile int ret;
	volatile bool done;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	r->ret = run(r->v);
	__atomic_store_n(&r->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

static void runner_start(struct runner *r, struct vcpu *v)
{
	r->v = v;
	r->done = false;
	if (pthread_create(&r->thread, NULL, runner_main, r))
		die("pthread_create");
}

/* Waits up to ms for the runner's RUN to return: whether it did. */
static bool runner_wait(struct runner *r, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (!__atomic_load_n(&r->done, __ATOMIC_SEQ_CST) && now_ms() < end)
		sleep_ms(5);
	return r->done;
}

/* Ends the runner however it is stuck (a signal ends every sleep the module has), joins it. */
static void runner_end(struct runner *r)
{
	while (!runner_wait(r, 200)) {
		r->v->run->immediate_exit = 1;
		pthread_kill(r->thread, SIGUSR1);
	}
	pthread_join(r->thread, NULL);
}

/* ---- Item 1: a guest reads a page the driver has unpinned ----
 *
 * vCPU 0 (A) loops on an instruction in page 1, which it holds pinned for reading; each fetch
 * sleeps race_delay_ms between finding the page and copying from it. A is removed (its kick
 * undone by the VMM) and a new vCPU 0 (B) writes page 1: the driver pins it again for writing
 * and unpins A's page, which the VMM has already dropped (MADV_DONTNEED), so it is freed and
 * poisoned (page_poison=1). A's fetch in flight must not read it: a poisoned (or reused)
 * instruction crashes the VM. B writes over the loop an `exit 0x77` that only a vCPU still
 * running after its removal executes, then idles. */
static void test_freed_page(void)
{
	struct vmset s = vm_with_memory(4, 0x10000);
	struct prog p = prog_start(s.mem, s.gpa);
	uint64_t writer, loop = s.gpa + PAGE;
	struct runner ra, rb;
	struct vcpu a, b;
	bool a_returned;
	char d[96];
	int ret;

	/* page 0 is written first, so that only page 1 is held for reading. */
	emit(&p, OP_STOREI, 0, NOREG, 1, 0, s.gpa + PAGE - 1);
	emit(&p, OP_LOAD, 1, NOREG, 1, 0, MMIO_ROLE);
	writer = p.pc + 32;
	emit(&p, OP_JNZ, 1, 0, 0, 0, writer);
	emit(&p, OP_JMP, 0, 0, 0, 0, loop);
	emit(&p, OP_MOV, 0, 0, 0, 0, 0x7700000000ULL | OP_EXIT);	/* writer: */
	emit(&p, OP_STORE, 0, NOREG, 8, 0, loop);
	emit(&p, OP_IDLE, 0, 0, 0, 0, 0);
	emit_at(&p, loop, OP_JMP, 0, 0, 0, 0, loop);

	a = add_vcpu(s.vm, 0);
	if (ioctl(s.vm, GH_VM_START, 0))
		die("START");
	ret = run(&a);
	if (ret || a.run->exit_reason != GH_VCPU_EXIT_MMIO || a.run->mmio.phys_addr != MMIO_ROLE) {
		result(false, "vCPU A's first RUN: %d, %s", ret, describe(a.run, d, sizeof(d)));
		return;
	}
	memset(a.run->mmio.data, 0, 8);
	write_param("race_delay_ms", 1000);
	runner_start(&ra, &a);
	sleep_ms(300);		/* A is inside its fetch from page 1 now, for 1 s */
	remove_vcpu(s.vm, 0);
	a.run->immediate_exit = 0;	/* hostile: the kick undone */
	madvise(s.mem + PAGE, PAGE, MADV_DONTNEED);
	b = add_vcpu(s.vm, 0);
	ret = run(&b);
	if (ret || b.run->exit_reason != GH_VCPU_EXIT_MMIO || b.run->mmio.phys_addr != MMIO_ROLE) {
		result(false, "vCPU B's first RUN: %d, %s", ret, describe(b.run, d, sizeof(d)));
		write_param("race_delay_ms", 0);
		runner_end(&ra);
		return;
	}
	b.run->mmio.data[0] = 1;
	runner_start(&rb, &b);	/* B writes page 1, then idles */
	a_returned = runner_wait(&ra, 3000);
	write_param("race_delay_ms", 0);
	describe(a.run, d, sizeof(d));
	if (a_returned && a.run->exit_reason == GH_VCPU_EXIT_STATUS &&
	    a.run->status.status == GH_VM_STATUS_CRASHED)
		result(false, "the VM crashed: the removed vCPU fetched from a freed page (%s)", d);
	else if (a_returned && a.run->exit_reason == GH_VCPU_EXIT_STATUS &&
		 a.run->status.exit_info.type == 0x77)
		result(false, "the removed vCPU kept running and executed the new vCPU's exit");
	else if (!a_returned)
		result(false, "the removed vCPU still ran its guest 3 s after REMOVE_FUNCTION");
	else if (ra.ret != -EINTR && ra.ret != -ENODEV)
		result(false, "the removed vCPU's RUN: %d (%s), %s", ra.ret, strerror(-ra.ret), d);
	else
		result(true, "the removed vCPU's fetch in flight read the page it had, then RUN returned %s",
		       strerror(-ra.ret));
	a.run->immediate_exit = 1;
	b.run->immediate_exit = 1;
	runner_end(&ra);
	runner_end(&rb);
	vcpu_close(&a);
	vcpu_close(&b);
	vm_close(&s);
}

/* ---- Item 2: a removed vCPU keeps running while its VMM clears immediate_exit ---- */
static void test_removed_vcpu(void)
{
	struct vmset s = vm_with_memory(2, 0x10000);
	struct prog p = prog_start(s.mem, s.gpa);
	struct runner ra;
	uint64_t end;
	struct vcpu a;
	bool stopped;
	int ret;

	emit(&p, OP_JMP, 0, 0, 0, 0, p.pc);	/* a loop that never blocks */
	a = add_vcpu(s.vm, 0);
	if (ioctl(s.vm, GH_VM_START, 0))
		die("START");
	runner_start(&ra, &a);
	sleep_ms(200);
	ret = remove_vcpu(s.vm, 0);
	a.run->immediate_exit = 0;
	end = now_ms() + 1000;
	while (!ra.done && now_ms() < end) {	/* the VMM keeps undoing the kick */
		a.run->immediate_exit = 0;
		sched_yield();
	}
	stopped = ra.done;
	if (ret)
		result(false, "REMOVE_FUNCTION of vCPU 0: %s", strerror(-ret));
	else if (!stopped)
		result(false, "vCPU 0 still ran its guest 1 s after REMOVE_FUNCTION");
	else
		result(true, "the removed vCPU's RUN returned (%s); RUN again: %s",
		       strerror(-ra.ret), strerror(-run(&a)));
	runner_end(&ra);
	vcpu_close(&a);
	vm_close(&s);
}

/* ---- Item 3: metadata for regions nobody may pin ---- */
static void test_huge_region(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		die("fork");
	if (!pid) {
		struct rlimit lim = { 64 << 10, 64 << 10 };
		long before, after;
		int dev, vm, r42, r32[6], i, ok32 = 0;
		void *reserve;

		dev = dev_open();	/* as root; then a user whom RLIMIT_MEMLOCK binds */
		if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgid(65534) || setuid(65534))
			die("drop to nobody");
		vm = vm_create(dev);
		/* Address space, never touched: the later drivers pin at first touch only. */
		reserve = mmap(NULL, 1UL << 36, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		if (reserve == MAP_FAILED)
			die("mmap reserve");
		before = proc_kb("/proc/meminfo", "VmallocUsed");
		r42 = set_mem(vm, 100, 1ULL << 43, 1ULL << 42, reserve, GH_MEM_ALLOW_ALL);
		for (i = 0; i < 6; i++) {
			r32[i] = set_mem(vm, i, (uint64_t)i << 35, 32ULL << 30, reserve, GH_MEM_ALLOW_ALL);
			ok32 += !r32[i];
		}
		after = proc_kb("/proc/meminfo", "VmallocUsed");
		printf("huge-region (%s): a 4 TiB region: %s; six 32 GiB regions: %d taken (%s); VmallocUsed %ld -> %ld kB\n",
		       gen, r42 ? strerror(-r42) : "taken", ok32, r32[0] ? strerror(-r32[0]) : "ok",
		       before, after);
		/* a14 charges a region at the ioctl, so over the limit it is ENOMEM; the later
		 * drivers take it (a page is charged when the guest first touches it). Either way
		 * no metadata in proportion to the size, and no warning. */
		if (after - before > 8192)
			result(false, "VmallocUsed grew by %ld kB for memory nobody pinned", after - before);
		else if (a14 && (r42 != -ENOMEM || ok32))
			result(false, "a14 took memory beyond RLIMIT_MEMLOCK (4 TiB: %d, 32 GiB: %d taken)",
			       r42, ok32);
		else
			result(true, "VmallocUsed grew by %ld kB", after - before);
		close(vm);
		close(dev);
		exit(failed);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		failed = true;
}

/* ---- Item 4: WAIT whose doorbell another reader takes ---- */
static void test_wait_stolen(bool nonblock)
{
	struct vmset s = vm_with_memory(2, 0x10000);
	struct prog p = prog_start(s.mem, s.gpa);
	struct gh_fn_irqfd_arg irq = { 0 };
	struct runner ra;
	struct vcpu a;
	uint64_t one = 1, got = 0;
	bool passed_wait, returned;
	int efd, ret;

	emit(&p, OP_STOREI, 0, NOREG, 1, 0, s.gpa + PAGE - 1);
	emit(&p, OP_WAIT, 0, 0, 0, 1, 0);
	emit(&p, OP_STOREI, 0, NOREG, 1, 1, MMIO_REPORT);
	emit(&p, OP_EXIT, 0, 0, 0, 2, 0);
	efd = eventfd(0, EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0));
	irq.fd = efd;
	irq.label = 1;
	ret = add_fn(s.vm, GH_FN_IRQFD, &irq, sizeof(irq));
	if (ret) {
		errno = -ret;
		die("ADD_FUNCTION irqfd");
	}
	a = add_vcpu(s.vm, 0);
	if (ioctl(s.vm, GH_VM_START, 0))
		die("START");
	runner_start(&ra, &a);
	sleep_ms(200);		/* A sleeps in WAIT */
	write_param("race_delay_ms", 600);
	if (write(efd, &one, 8) != 8)
		die("write eventfd");
	sleep_ms(100);		/* A found the irqfd and sleeps 600 ms before taking the count */
	{	/* another reader takes it (never blocking: if A took it first, there is no race) */
		struct pollfd pfd = { efd, POLLIN, 0 };

		ret = poll(&pfd, 1, 0) == 1 ? read(efd, &got, 8) : 0;
	}
	sleep_ms(800);
	write_param("race_delay_ms", 0);
	passed_wait = ra.done && a.run->exit_reason == GH_VCPU_EXIT_MMIO;
	/* What a VMM does to end a VM: kick the vCPU, remove it, close the VM. */
	a.run->immediate_exit = 1;
	remove_vcpu(s.vm, 0);
	close(s.vm);
	returned = runner_wait(&ra, 1500);
	if (ret != 8)
		result(false, "the other reader got nothing (%d): no race", ret);
	else if (passed_wait)
		result(false, "WAIT ended on a doorbell another reader had taken (EAGAIN taken as a ring)");
	else if (!returned)
		result(false, "RUN still asleep 1.5 s after immediate_exit, REMOVE_FUNCTION and the VM's close");
	else
		result(true, "WAIT kept waiting; RUN returned %s once kicked", strerror(-ra.ret));
	runner_end(&ra);
	vcpu_close(&a);
	close(efd);
	close(s.dev);
	munmap(s.mem, s.size);
}

/* ---- Item 5: whose locked_vm a forked child's memory is charged to ----
 *
 * The a14 driver (gh_vm_mem_alloc, vm_mgr_mm.c) charges ghvm->mm, the VM creator's mm, checked
 * against the caller's RLIMIT_MEMLOCK (account_locked_vm uses current's limit), and pins the
 * caller's pages; early a14 lets any process holding the VM fd do it. The later drivers refuse
 * anyone but the creator (EPERM). The charge goes back to the same mm when the VM is freed. */
static void test_memlock_owner(void)
{
	int dev = dev_open(), vm = vm_create(dev), pipefd[2], status;
	long parent_during = -1, child_during = -1, base = vmlck_kb(getpid());
	pid_t self = getpid(), pid;
	int child_ret = 0, small_ret = 0;
	uint64_t end;

	if (pipe(pipefd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		size_t size = 512 << 10;
		uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				    -1, 0);
		long out[4];
		pid_t nobody;

		memset(mem, 1, size);
		out[0] = set_mem(vm, 1, 0x100000, size, mem, GH_MEM_ALLOW_ALL);
		out[1] = vmlck_kb(self);
		out[2] = vmlck_kb(getpid());
		/* A grandchild whom a 256 KiB limit binds: its limit is the one checked. */
		nobody = fork();
		if (!nobody) {
			struct rlimit lim = { 256 << 10, 256 << 10 };

			if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgid(65534) || setuid(65534))
				_exit(100);
			_exit(-set_mem(vm, 2, 0x200000, size, mem, GH_MEM_ALLOW_ALL));
		}
		waitpid(nobody, &status, 0);
		out[3] = WIFEXITED(status) ? -WEXITSTATUS(status) : -1000;
		if (write(pipefd[1], out, sizeof(out)) != sizeof(out))
			_exit(1);
		_exit(0);
	}
	{
		long in[4] = { 0 };

		if (read(pipefd[0], in, sizeof(in)) != sizeof(in))
			die("read from child");
		child_ret = (int)in[0];
		parent_during = in[1] - base;
		child_during = in[2];
		small_ret = (int)in[3];
	}
	waitpid(pid, &status, 0);
	close(vm);
	close(dev);
	end = now_ms() + 3000;	/* a14 frees the VM on a workqueue */
	while (read_param("live_vms") != 0 && now_ms() < end)
		sleep_ms(10);
	printf("memlock-owner (%s): child's region: %s; creator's VmLck +%ld kB, child's %ld kB; limited grandchild: %s; creator's VmLck after the VM: +%ld kB\n",
	       gen, child_ret ? strerror(-child_ret) : "taken", parent_during, child_during,
	       small_ret ? strerror(-small_ret) : "taken", vmlck_kb(self) - base);
	if (!strcmp(gen, "a14-early")) {
		if (child_ret || parent_during != 512 || child_during != 0 || small_ret != -ENOMEM)
			result(false, "expected a14's rule: taken, charged to the creator (512 kB), the caller's limit checked (ENOMEM)");
		else if (vmlck_kb(self) != base)
			result(false, "the creator's VmLck is %ld kB, not %ld, after the VM was freed",
			       vmlck_kb(self), base);
		else
			result(true, "a14: charged to the creator's mm against the caller's limit, given back at free");
	} else if (child_ret != -EPERM || small_ret != -EPERM || parent_during != 0 || child_during != 0) {
		result(false, "expected EPERM and nothing charged");
	} else {
		result(true, "EPERM for a process other than the creator, nothing charged");
	}
	close(pipefd[0]);
	close(pipefd[1]);
}

/* ---- Item 6: a DTB range that wraps ---- */
static void test_dtb_wrap(void)
{
	int dev = dev_open(), vm = vm_create(dev), dtb, start;
	size_t size = 16 * PAGE;
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memcpy(mem, "GHGUEST\x01", 8);
	if (set_mem(vm, 0, 0, size, mem, GH_MEM_ALLOW_ALL))
		die("SET_USER_MEM_REGION");
	dtb = set_dtb(vm, 0x1000, 0xFFFFFFFFFFFFE001ULL);
	start = ioctl(vm, GH_VM_START, 0) ? -errno : 0;
	if (!dtb && !start)
		result(false, "a DTB at 0x1000 of 0xFFFFFFFFFFFFE001 bytes passed START");
	else
		result(true, "SET_DTB_CONFIG: %s, START: %s", strerror(-dtb), strerror(-start));
	close(vm);
	close(dev);
	munmap(mem, size);
}

/* ---- Item 7: pages the guest wrote must reach the file ----
 *
 * A region backed by a shared mapping of a file on ext2 (a RAM disk). The guest writes a page
 * after the VMM's fsync has cleaned it (the guest's MMIO exit tells the VMM when); once the VM is
 * gone the page must still be dirty, so that the next fsync writes the guest's bytes: dropping
 * the page cache and reading the file again shows them. Needs a file system with writeback on
 * /mnt (the guest's init mounts one). */
static void test_dirty_file(void)
{
	const char *path = "/mnt/guest-memory";
	char buf[16] = { 0 }, d[96];
	int dev, vm, fd, ret, drop;
	size_t size = 2 * PAGE;
	struct prog p;
	struct vcpu a;
	uint8_t *mem;
	uint64_t end;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		result(false, "open %s: %s (no file system on /mnt?)", path, strerror(errno));
		return;
	}
	if (ftruncate(fd, size))
		die("ftruncate");
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		die("mmap file");
	p = prog_start(mem, 0x10000);
	emit(&p, OP_STOREI, 0, NOREG, 8, 0x11111111, 0x11000);	/* pins page 1 for writing */
	emit(&p, OP_STOREI, 0, NOREG, 1, 1, MMIO_REPORT);	/* the VMM's fsync now */
	emit(&p, OP_STOREI, 0, NOREG, 8, 0x22222222, 0x11000);
	emit(&p, OP_EXIT, 0, 0, 0, 3, 0);
	if (fsync(fd))
		die("fsync");
	dev = dev_open();
	vm = vm_create(dev);
	if (set_mem(vm, 0, 0x10000, size, mem, GH_MEM_ALLOW_ALL) || set_dtb(vm, 0x10000, PAGE))
		die("memory");
	a = add_vcpu(vm, 0);
	if (ioctl(vm, GH_VM_START, 0))
		die("START");
	ret = run(&a);
	if (!ret && a.run->exit_reason == GH_VCPU_EXIT_MMIO) {
		if (fsync(fd))		/* writes 0x11111111 and cleans the page */
			die("fsync");
		ret = run(&a);
	}
	describe(a.run, d, sizeof(d));
	if (!ret && (a.run->exit_reason != GH_VCPU_EXIT_STATUS || a.run->status.exit_info.type != 3))
		ret = -EPROTO;
	vcpu_close(&a);
	close(vm);
	close(dev);
	munmap(mem, size);
	end = now_ms() + 3000;	/* a14 frees the VM (and unpins) on a workqueue */
	while (read_param("live_vms") != 0 && now_ms() < end)
		sleep_ms(10);
	fsync(fd);
	close(fd);
	sync();
	drop = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (drop < 0 || write(drop, "3", 1) != 1)
		die("drop_caches");
	close(drop);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, buf, 8, PAGE) != 8)
		die("read back");
	close(fd);
	unlink(path);
	if (ret)
		result(false, "the guest did not finish: %d, %s", ret, d);
	else if (memcmp(buf, "\x22\x22\x22\x22", 4))
		result(false, "the file holds %02x%02x%02x%02x, not the guest's last write 22222222: the page was unpinned clean",
		       buf[3] & 0xff, buf[2] & 0xff, buf[1] & 0xff, buf[0] & 0xff);
	else
		result(true, "the guest's write reached the file");
}

/* ---- The fuzzer ----
 *
 * Several threads share a table of fds (devices, VMs, vCPUs, eventfds) and do random things to
 * them: every VM and vCPU ioctl with random and boundary arguments, RUN with and without
 * immediate_exit, mmap and munmap of run pages, eventfd reads and writes, close, dup, and fork
 * (the child does a few operations and exits). Guest memory holds random programs of the
 * scripted ISA. A watchdog kicks every RUN (immediate_exit and a signal) now and then, so that
 * no thread sleeps in the guest forever. */
#define FUZZ_FDS 48
#define FUZZ_THREADS 4

enum kind { K_FREE, K_DEV, K_VM, K_VCPU, K_EVENTFD };

struct slot {
	int fd;
	enum kind kind;
	struct gh_vcpu_run *run;	/* K_VCPU: mapped */
};

static struct slot slots[FUZZ_FDS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile bool fuzz_stop;
static pthread_t fuzz_threads[FUZZ_THREADS];
static uint8_t *fuzz_mem;	/* 64 pages, read-write */
static uint8_t *fuzz_ro;	/* 4 pages, read-only */
#define FUZZ_MEM_PAGES 64
static unsigned long fuzz_ops;
static void *fuzz_maps[4096];	/* run pages mapped: each keeps its vCPU (and VM) alive */
static unsigned int fuzz_nmaps;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pick_u64(uint64_t *s)
{
	static const uint64_t edge[] = { 0, 1, PAGE, PAGE - 1, 0x10000, 0x1000000, 1ULL << 32,
					 1ULL << 42, ~0ULL, ~0ULL - PAGE + 1, 0xFFFFFFFFFFFFE001ULL,
					 0x90000000, 0x7fffffffffffffffULL };

	switch (rnd(s) % 4) {
	case 0:
		return rnd(s);
	case 1:
		return rnd(s) % (1 << 20);
	default:
		return edge[rnd(s) % (sizeof(edge) / sizeof(edge[0]))];
	}
}

static void random_program(uint64_t *s, uint8_t *mem, size_t size, uint64_t gpa)
{
	static const uint8_t ops[] = { OP_MOV, 0x02, 0x03, 0x04, OP_LOAD, OP_STORE, OP_STOREI,
				       OP_JMP, 0x21, OP_JNZ, 0x23, 0x24, OP_WAIT, 0x31, OP_IDLE,
				       OP_EXIT, 0x41, 0x99 };
	size_t off;

	memcpy(mem, "GHGUEST\x01", 8);
	for (off = 8; off + 16 <= size && off < 8 + 16 * 64; off += 16) {
		uint8_t op = ops[rnd(s) % sizeof(ops)];
		uint64_t imm64;

		switch (rnd(s) % 4) {
		case 0:
			imm64 = gpa + rnd(s) % size;	/* inside memory */
			break;
		case 1:
			imm64 = gpa + 8 + 16 * (rnd(s) % 64);	/* an instruction */
			break;
		case 2:
			imm64 = 0x90000000 + rnd(s) % 64;	/* MMIO */
			break;
		default:
			imm64 = pick_u64(s);
		}
		emit_at(&(struct prog){ mem, gpa, 0 }, gpa + off, op, rnd(s) % 9,
			rnd(s) % 3 ? NOREG : rnd(s) % 9, 1 << (rnd(s) % 4), (uint32_t)(rnd(s) % 40),
			imm64);
	}
}

static int slot_get(uint64_t *s, enum kind kind)
{
	int i, start = rnd(s) % FUZZ_FDS;

	for (i = 0; i < FUZZ_FDS; i++) {
		int j = (start + i) % FUZZ_FDS;

		if (slots[j].kind == kind || (kind == K_FREE && slots[j].kind == K_FREE))
			return j;
	}
	return -1;
}

/* Puts fd of kind into a free slot (closing it when none is free). */
static void slot_put(uint64_t *s, int fd, enum kind kind)
{
	int i;

	if (fd < 0)
		return;
	pthread_mutex_lock(&slots_lock);
	i = slot_get(s, K_FREE);
	if (i < 0) {
		pthread_mutex_unlock(&slots_lock);
		close(fd);
		return;
	}
	slots[i].fd = fd;
	slots[i].kind = kind;
	slots[i].run = NULL;
	pthread_mutex_unlock(&slots_lock);
}

/* A dup of a random fd of that kind (the slot may be closed meanwhile: the dup is ours). */
static int slot_dup(uint64_t *s, enum kind kind, struct gh_vcpu_run **run)
{
	int i, fd = -1;

	pthread_mutex_lock(&slots_lock);
	i = slot_get(s, kind);
	if (i >= 0) {
		fd = fcntl(slots[i].fd, F_DUPFD_CLOEXEC, 0);
		if (run)
			*run = slots[i].run;
	}
	pthread_mutex_unlock(&slots_lock);
	return fd;
}

static void fuzz_one(uint64_t *s, bool child)
{
	struct gh_vcpu_run *runp = NULL;
	int fd, ret, i;
	uint8_t arg[64];

	for (i = 0; i < (int)sizeof(arg); i += 8) {
		uint64_t v = pick_u64(s);

		memcpy(arg + i, &v, 8);
	}
	__atomic_add_fetch(&fuzz_ops, 1, __ATOMIC_RELAXED);
	switch (rnd(s) % 20) {
	case 0:		/* a device, a VM */
		fd = open("/dev/gunyah", O_RDWR | O_CLOEXEC);
		if (fd >= 0 && rnd(s) % 2) {
			ret = ioctl(fd, GH_CREATE_VM, rnd(s) % 8 ? 0 : pick_u64(s));
			slot_put(s, ret, K_VM);
		}
		slot_put(s, fd, K_DEV);
		break;
	case 1: {	/* memory: real pages (read-write or read-only) or random */
		struct gh_userspace_memory_region r;
		uint64_t gpa = 0x10000 * (rnd(s) % 8);

		fd = slot_dup(s, K_VM, NULL);
		if (fd < 0)
			break;
		r.label = rnd(s) % 4;
		r.flags = rnd(s) % 8 ? GH_MEM_ALLOW_ALL : (uint32_t)rnd(s) % 16;
		r.guest_phys_addr = gpa;
		switch (rnd(s) % 4) {
		case 0:
			r.memory_size = PAGE * (1 + rnd(s) % 4);
			r.userspace_addr = (uint64_t)(uintptr_t)fuzz_ro;
			r.flags &= ~GH_MEM_ALLOW_WRITE;
			break;
		case 1:
			r.memory_size = pick_u64(s);
			r.userspace_addr = pick_u64(s);
			r.guest_phys_addr = pick_u64(s);
			break;
		default:
			r.memory_size = PAGE * (1 + rnd(s) % 16);
			r.userspace_addr = (uint64_t)(uintptr_t)(fuzz_mem + PAGE * (rnd(s) % 48));
			if (rnd(s) % 2)
				random_program(s, (uint8_t *)(uintptr_t)r.userspace_addr, r.memory_size, gpa);
		}
		ioctl(fd, rnd(s) % 4 ? GH_VM_SET_USER_MEM_REGION : GH_VM_ANDROID_LEND_USER_MEM, &r);
		close(fd);
		break;
	}
	case 2: {
		struct gh_vm_dtb_config c = { 0x10000 * (rnd(s) % 8), PAGE * (rnd(s) % 3) };

		fd = slot_dup(s, K_VM, NULL);
		if (fd < 0)
			break;
		if (rnd(s) % 4 == 0) {
			c.guest_phys_addr = pick_u64(s);
			c.size = pick_u64(s);
		}
		ioctl(fd, GH_VM_SET_DTB_CONFIG, &c);
		if (rnd(s) % 2)
			ioctl(fd, GH_VM_START, 0);
		close(fd);
		break;
	}
	case 3:
	case 4: {	/* functions */
		struct gh_fn_desc d;
		struct gh_fn_vcpu_arg va = { rnd(s) % 4 };
		struct gh_fn_irqfd_arg ia = { 0 };
		struct gh_fn_ioeventfd_arg ea = { 0 };
		int efd = slot_dup(s, K_EVENTFD, NULL);

		fd = slot_dup(s, K_VM, NULL);
		if (fd < 0) {
			if (efd >= 0)
				close(efd);
			break;
		}
		ia.fd = efd;
		ia.label = rnd(s) % 4;
		ia.flags = rnd(s) % 8 ? 0 : (uint32_t)rnd(s);
		ea.fd = efd;
		ea.addr = 0x90000000 + rnd(s) % 64;
		ea.len = 1 << (rnd(s) % 5);
		ea.flags = rnd(s) % 2;
		ea.datamatch = rnd(s) % 4;
		d.type = 1 + rnd(s) % 3;
		d.arg = (uint64_t)(uintptr_t)(d.type == GH_FN_VCPU ? (void *)&va :
					      d.type == GH_FN_IRQFD ? (void *)&ia : (void *)&ea);
		d.arg_size = d.type == GH_FN_VCPU ? sizeof(va) : d.type == GH_FN_IRQFD ? sizeof(ia) :
			     sizeof(ea);
		if (rnd(s) % 8 == 0) {
			d.arg = (uint64_t)(uintptr_t)arg;
			d.arg_size = rnd(s) % 300;
			if (d.arg_size > sizeof(arg))
				d.arg = pick_u64(s);
		}
		if (rnd(s) % 3) {
			ret = ioctl(fd, GH_VM_ADD_FUNCTION, &d);
			if (d.type == GH_FN_VCPU && ret >= 0)
				slot_put(s, ret, K_VCPU);
		} else {
			ioctl(fd, GH_VM_REMOVE_FUNCTION, &d);
		}
		close(fd);
		if (efd >= 0)
			close(efd);
		break;
	}
	case 5:
	case 6:
	case 7: {	/* RUN, with MMIO answers and resume actions */
		fd = slot_dup(s, K_VCPU, &runp);
		if (fd < 0)
			break;
		if (runp && rnd(s) % 2) {
			runp->immediate_exit = rnd(s) % 4 == 0;
			runp->mmio.resume_action = rnd(s) % 8 ? 0 : rnd(s) % 4;
			memcpy(runp->mmio.data, arg, 8);
		}
		ioctl(fd, GH_VCPU_RUN, 0);
		close(fd);
		break;
	}
	case 8: {	/* map a run page into a slot, or unmap one */
		void *m;

		pthread_mutex_lock(&slots_lock);
		i = slot_get(s, K_VCPU);
		if (i >= 0 && !slots[i].run) {
			m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, slots[i].fd,
				 rnd(s) % 8 ? 0 : PAGE);
			if (m != MAP_FAILED && fuzz_nmaps < 4096) {
				slots[i].run = m;
				fuzz_maps[fuzz_nmaps++] = m;
			} else if (m != MAP_FAILED) {
				munmap(m, PAGE);
			}
		}
		pthread_mutex_unlock(&slots_lock);
		fd = slot_dup(s, K_VCPU, NULL);
		if (fd >= 0) {	/* a mapping of odd size or offset, dropped at once */
			m = mmap(NULL, PAGE * (1 + rnd(s) % 2), PROT_READ, MAP_SHARED, fd, 0);
			if (m != MAP_FAILED)
				munmap(m, PAGE);
			close(fd);
		}
		break;
	}
	case 9: {	/* eventfds: new, written, read */
		uint64_t v = 1;

		if (rnd(s) % 3 == 0) {
			slot_put(s, eventfd(0, EFD_CLOEXEC | (rnd(s) % 2 ? EFD_NONBLOCK : 0) |
					       (rnd(s) % 4 ? 0 : EFD_SEMAPHORE)), K_EVENTFD);
			break;
		}
		fd = slot_dup(s, K_EVENTFD, NULL);
		if (fd < 0)
			break;
		if (rnd(s) % 3) {
			if (write(fd, &v, 8) < 0)
				v = 0;
		} else {	/* a reader stealing doorbells, never blocking */
			fcntl(fd, F_SETFL, O_NONBLOCK);
			if (read(fd, &v, 8) < 0)
				v = 0;
		}
		close(fd);
		break;
	}
	case 10:
	case 11: {	/* close, or dup into the table */
		pthread_mutex_lock(&slots_lock);
		i = rnd(s) % FUZZ_FDS;
		if (slots[i].kind != K_FREE) {
			if (rnd(s) % 2) {
				enum kind kind = slots[i].kind;

				fd = fcntl(slots[i].fd, F_DUPFD_CLOEXEC, 0);
				pthread_mutex_unlock(&slots_lock);
				slot_put(s, fd, kind);
				break;
			}
			/* the mapping stays: a run page outlives its fd */
			close(slots[i].fd);
			slots[i].kind = K_FREE;
			slots[i].run = NULL;
		}
		pthread_mutex_unlock(&slots_lock);
		break;
	}
	case 12: {	/* the rest of the VM ioctls, known and not */
		static const unsigned long cmds[] = {
			GH_VM_SET_BOOT_CONTEXT, GH_VM_ANDROID_SET_FW_CONFIG, GH_VM_ANDROID_SET_AUTH_TYPE,
			GH_VM_RECLAIM_REGION, GH_VM_CHECK_EXTENSION, GH_ANDROID_TENTATIVE_UAPI,
			GH_VCPU_MMAP_SIZE, GH_VCPU_RUN, GH_CREATE_VM, _IOW('G', 0x8, uint64_t),
			_IOW('A', 0x14, uint64_t), 0,
		};
		unsigned long cmd = cmds[rnd(s) % (sizeof(cmds) / sizeof(cmds[0]))];
		enum kind k = 1 + rnd(s) % 3;

		fd = slot_dup(s, k, NULL);
		if (fd < 0)
			break;
		if (!cmd)
			cmd = (unsigned long)rnd(s);
		ret = ioctl(fd, cmd, rnd(s) % 4 ? (unsigned long)(uintptr_t)arg : (unsigned long)pick_u64(s));
		if (cmd == GH_CREATE_VM)	/* a new VM fd: ours to close */
			slot_put(s, ret, K_VM);
		close(fd);
		break;
	}
	case 13:	/* the VMM drops or refills its own memory under the guest */
		i = rnd(s) % FUZZ_MEM_PAGES;
		if (rnd(s) % 2)
			madvise(fuzz_mem + i * PAGE, PAGE, MADV_DONTNEED);
		else
			random_program(s, fuzz_mem + (i & ~3) * PAGE, 4 * PAGE, 0x10000 * (rnd(s) % 8));
		break;
	case 14:	/* fork: the child uses what it inherited, then exits */
		if (child || rnd(s) % 4)
			break;
		ret = fork();
		if (ret == 0) {
			int n;

			for (n = 0; n < 20; n++)
				fuzz_one(s, true);
			_exit(0);
		}
		if (ret > 0) {
			int st;
			uint64_t end = now_ms() + 2000;

			while (waitpid(ret, &st, WNOHANG) == 0) {
				if (now_ms() > end)
					kill(ret, SIGKILL);
				sleep_ms(5);
			}
		}
		break;
	default: {	/* a fully built VM, so that guests do run */
		struct gh_fn_vcpu_arg va = { 0 };
		uint64_t gpa = 0x10000;
		uint8_t *m = fuzz_mem + PAGE * 4 * (rnd(s) % (FUZZ_MEM_PAGES / 4));

		fd = open("/dev/gunyah", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			break;
		ret = ioctl(fd, GH_CREATE_VM, 0);
		close(fd);
		if (ret < 0)
			break;
		fd = ret;
		random_program(s, m, 4 * PAGE, gpa);
		set_mem(fd, 0, gpa, 4 * PAGE, m, GH_MEM_ALLOW_ALL);
		set_dtb(fd, gpa, PAGE);
		ret = add_fn(fd, GH_FN_VCPU, &va, sizeof(va));
		if (rnd(s) % 2) {
			struct gh_fn_irqfd_arg ia = { 0 };
			int efd = slot_dup(s, K_EVENTFD, NULL);

			ia.fd = efd;
			ia.label = rnd(s) % 40;
			add_fn(fd, GH_FN_IRQFD, &ia, sizeof(ia));
			if (efd >= 0)
				close(efd);
		}
		ioctl(fd, GH_VM_START, 0);
		slot_put(s, ret, K_VCPU);
		slot_put(s, fd, K_VM);
	}
	}
}

static void *fuzz_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;

	while (!fuzz_stop)
		fuzz_one(&s, false);
	return NULL;
}

static void test_fuzz(unsigned int seconds, uint64_t seed)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	uint64_t end = now_ms() + seconds * 1000ULL, drain;
	int i, live;

	sigaction(SIGUSR1, &sa, NULL);
	fuzz_mem = mmap(NULL, FUZZ_MEM_PAGES * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fuzz_ro = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(slots, 0, sizeof(slots));
	fuzz_stop = false;
	fuzz_ops = 0;
	for (i = 0; i < FUZZ_THREADS; i++)
		pthread_create(&fuzz_threads[i], NULL, fuzz_thread, (void *)(uintptr_t)(seed + i));
	/* The watchdog: every 50 ms, kick every mapped run page and signal every thread. */
	while (now_ms() < end) {
		sleep_ms(50);
		pthread_mutex_lock(&slots_lock);
		for (i = 0; i < FUZZ_FDS; i++)
			if (slots[i].kind == K_VCPU && slots[i].run && rand() % 2)
				slots[i].run->immediate_exit = 1;
		pthread_mutex_unlock(&slots_lock);
		for (i = 0; i < FUZZ_THREADS; i++)
			pthread_kill(fuzz_threads[i], SIGUSR1);
	}
	fuzz_stop = true;
	for (i = 0; i < FUZZ_THREADS; i++) {
		while (pthread_tryjoin_np(fuzz_threads[i], NULL)) {
			pthread_mutex_lock(&slots_lock);
			for (int j = 0; j < FUZZ_FDS; j++)
				if (slots[j].kind == K_VCPU && slots[j].run)
					slots[j].run->immediate_exit = 1;
			pthread_mutex_unlock(&slots_lock);
			pthread_kill(fuzz_threads[i], SIGUSR1);
			sleep_ms(20);
		}
	}
	for (i = 0; i < FUZZ_FDS; i++)
		if (slots[i].kind != K_FREE)
			close(slots[i].fd);
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < (int)fuzz_nmaps; i++)
		munmap(fuzz_maps[i], PAGE);
	fuzz_nmaps = 0;
	drain = now_ms() + 5000;
	while ((live = read_param("live_vms")) != 0 && now_ms() < drain)
		sleep_ms(20);
	if (live != 0)
		result(false, "%d VMs still alive 5 s after every fd was closed", live);
	else
		result(true, "%lu operations in %u s on %d threads (seed %llu); every VM freed",
		       fuzz_ops, seconds, FUZZ_THREADS, (unsigned long long)seed);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: hostile GENERATION TEST...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGUSR1, &sa, NULL);
	gen = argv[1];
	a14 = !strncmp(gen, "a14", 3);
	for (i = 2; i < argc; i++) {
		char last[512] = "";	/* the first new line */
		int bad = kernel_log_bad(0, NULL, 0);

		test = argv[i];
		if (!strcmp(test, "freed-page"))
			test_freed_page();
		else if (!strcmp(test, "removed-vcpu"))
			test_removed_vcpu();
		else if (!strcmp(test, "huge-region"))
			test_huge_region();
		else if (!strcmp(test, "wait-stolen"))
			test_wait_stolen(false);
		else if (!strcmp(test, "wait-stolen-nonblock"))
			test_wait_stolen(true);
		else if (!strcmp(test, "memlock-owner"))
			test_memlock_owner();
		else if (!strcmp(test, "dtb-wrap"))
			test_dtb_wrap();
		else if (!strcmp(test, "dirty-file"))
			test_dirty_file();
		else if (!strncmp(test, "fuzz", 4)) {
			unsigned int secs = test[4] == '=' ? (unsigned int)atoi(test + 5) : 5;

			test = "fuzz";
			test_fuzz(secs, (uint64_t)time(NULL));
		} else {
			fprintf(stderr, "hostile: unknown test %s\n", test);
			return 2;
		}
		if (kernel_log_bad(bad, last, sizeof(last)) > bad)
			result(false, "the kernel log gained: %s", last);
	}
	return failed;
}
