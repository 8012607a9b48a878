/*
 * idt.c - the interrupt descriptor table: the 32 CPU exception vectors
 * go to isr.S stubs, which call ksh_trap().
 *
 * Contract: any CPU exception is fatal.  ksh_trap prints the vector, its
 * name, the error code, CR2 (the faulting address of a page fault) and
 * every register on the console, then exits through isa-debug-exit with
 * KSH_EXIT_TRAP + vector, so a test can tell each exception from a panic,
 * a clean exit, and a triple fault (status 0).  No interrupts are enabled,
 * so vectors 32.. stay empty.
 *
 * The kernel polls, and IF stays clear, but the firmware leaves the 8259
 * PICs with the PIT's IRQ 0 unmasked; its request then stays pending,
 * undelivered, for as long as the kernel runs.  Under QEMU's TCG a pending
 * request makes the vCPU take the global I/O lock each time it leaves
 * translated code for its dispatch loop (an unchained jump, such as into
 * a block that starts with an instruction straddling a page boundary),
 * and while the I/O thread holds that lock to receive frames the vCPU
 * waits tens to hundreds of microseconds.  So both PICs are masked here.
 *
 * A #DF runs on its own stack (IST1 of the TSS) so that an exception on an
 * overflowed stack still gets reported.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

struct ksh_trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx,
		rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

void ksh_trap(struct ksh_trapframe *f);

struct __attribute__((packed)) gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};

struct __attribute__((packed)) tss {
	uint32_t rsv0;
	uint64_t rsp[3];
	uint64_t rsv1;
	uint64_t ist[7];
	uint64_t rsv2;
	uint16_t rsv3, iomap;
};

extern const uint64_t ksh_isr_table[32];

static struct gate idt[256];
static struct tss tss;
static uint8_t df_stack[8192] __attribute__((aligned(16)));
/* null, code, data, TSS (two slots) */
static uint64_t gdt[5] = {0, 0x00AF9A000000FFFFull, 0x00CF92000000FFFFull};

static const char *const names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound",
	"invalid opcode", "no FPU", "double fault", "coprocessor overrun",
	"invalid TSS", "segment not present", "stack fault", "general protection",
	"page fault", "reserved", "x87 error", "alignment check", "machine check",
	"SIMD error", "virtualization", "control protection",
};

void ksh_idt_init(void)
{
	/* our own GDT with a TSS, for the double-fault stack */
	uint64_t t = (uint64_t)(uintptr_t)&tss;
	tss.ist[0] = (uint64_t)(uintptr_t)(df_stack + sizeof df_stack);
	tss.iomap = sizeof tss;
	gdt[3] = (sizeof tss - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
	         ((t >> 24 & 0xff) << 56);
	gdt[4] = t >> 32;
	struct __attribute__((packed)) {
		uint16_t lim;
		uint64_t base;
	} gp = {sizeof gdt - 1, (uint64_t)(uintptr_t)gdt},
	  ip = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lgdt %0" : : "m"(gp));
	__asm__ volatile("ltr %w0" : : "r"(0x18));

	for (int v = 0; v < 32; v++) {
		uint64_t a = ksh_isr_table[v];
		idt[v].off0 = (uint16_t)a;
		idt[v].sel = 0x08;
		idt[v].ist = v == 8 ? 1 : 0;
		idt[v].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
		idt[v].off1 = (uint16_t)(a >> 16);
		idt[v].off2 = (uint32_t)(a >> 32);
	}
	__asm__ volatile("lidt %0" : : "m"(ip));

	/* mask every line of both 8259s (slave, then master): nothing stays
	 * pending at the CPU (see the top of this file) */
	outb(0xa1, 0xff);
	outb(0x21, 0xff);
}

void ksh_trap(struct ksh_trapframe *f)
{
	uint32_t v = (uint32_t)f->vector;
	ksh_printf("\nksh: exception %u (%s) error 0x%lx\n", v,
	           v < 32 && names[v] ? names[v] : "reserved", f->error);
	ksh_printf("  rip %016lx  cs %lx  rflags %016lx  cr2 %016lx\n", f->rip,
	           f->cs, f->rflags, read_cr2());
	ksh_printf("  rsp %016lx  ss %lx  cr3 %016lx\n", f->rsp, f->ss,
	           read_cr3());
	ksh_printf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", f->rax,
	           f->rbx, f->rcx, f->rdx);
	ksh_printf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", f->rsi,
	           f->rdi, f->rbp, f->r8);
	ksh_printf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", f->r9,
	           f->r10, f->r11, f->r12);
	ksh_printf("  r13 %016lx  r14 %016lx  r15 %016lx\n", f->r13, f->r14,
	           f->r15);
	ksh_exit(KSH_EXIT_TRAP + (v & 31));
}
