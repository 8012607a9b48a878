/*
 * serial.c - the console: COM1 (0x3f8) at 115200 8N1, polled, and
 * ksh_printf on top of it (the formatting is fmt.c's).  Output to the
 * port never blocks for long: QEMU's UART is always ready.  Newlines go
 * out as CR LF.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define COM1 0x3f8

void ksh_serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

static void raw_putc(char c)
{
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

void ksh_putc(char c)
{
	if (c == '\n')
		raw_putc('\r');
	raw_putc(c);
}

void ksh_vprintf(const char *fmt, va_list ap)
{
	struct ksh_sink s = {ksh_putc, 0, 0, 0};
	ksh_format(&s, fmt, ap);
}

void ksh_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ksh_vprintf(fmt, ap);
	va_end(ap);
}
