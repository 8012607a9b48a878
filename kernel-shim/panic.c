/*
 * panic.c - leaving the machine: ksh_exit writes the code to QEMU's
 * isa-debug-exit port (0xf4), and QEMU exits with status (code << 1) | 1;
 * ksh_panic prints a message first and exits with KSH_EXIT_PANIC.
 *
 * Without the debug-exit device the write does nothing, so both then halt
 * with interrupts off, forever: a kernel that should be gone never runs on.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define DEBUG_EXIT_PORT 0xf4

void ksh_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void ksh_panic(const char *fmt, ...)
{
	va_list ap;
	ksh_printf("ksh: panic: ");
	va_start(ap, fmt);
	ksh_vprintf(fmt, ap);
	va_end(ap);
	ksh_printf("\n");
	ksh_exit(KSH_EXIT_PANIC);
}
