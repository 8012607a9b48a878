/*
 * boot.S - multiboot (v1) entry: a 32-bit stub that enters long mode and
 * calls ksh_main(mbi).
 *
 * QEMU's -kernel loads this image (the 64-bit ELF converted to elf32-i386)
 * and jumps to ksh_boot32 in 32-bit protected mode, paging off, with
 * EAX = 0x2BADB002 and EBX = the physical address of the multiboot info.
 * The stub:
 *   1. zeroes .bss (page tables and stack live there);
 *   2. identity-maps the low 4 GiB with 2 MiB pages (RAM, the kernel, and
 *      the NIC's MMIO BAR near 0xfeb00000), writable and executable --
 *      mm.c replaces these tables with finer ones before anything else
 *      runs;
 *   3. enables PAE, EFER.LME and EFER.NXE, paging and CR0.WP;
 *   4. loads a 64-bit GDT, far-jumps to 64-bit code, sets the stack and
 *      calls ksh_main(mbi, magic), which never returns.
 * Invariant: nothing here calls C before step 4, and no C code runs with
 * the boot page tables longer than mm.c's initialisation.
 */
#include "param.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules, give memory info */

#define EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.section .data
	.balign 8
boot_magic:
	.long 0
boot_mbi:
	.long 0

	.balign 16
gdt64:
	.quad 0                  /* null */
	.quad 0x00AF9A000000FFFF /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00CF92000000FFFF /* 0x10: data */
gdt64_end:
gdt64_ptr:
	.word gdt64_end - gdt64 - 1
	.quad gdt64

	.section .bss
	.balign 4096
	.global ksh_boot_pml4
ksh_boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
	.balign 4096
	.global ksh_stack_guard
ksh_stack_guard:            /* unmapped by mm.c: an overflow faults */
	.skip 4096
	.global ksh_stack_bottom
ksh_stack_bottom:
	.skip KSH_STACK_BYTES
	.global ksh_stack_top
ksh_stack_top:

	.section .text.boot, "ax"
	.code32
	.global ksh_boot32
ksh_boot32:
	cli
	cld
	mov %eax, boot_magic
	mov %ebx, boot_mbi

	/* 1. zero .bss */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx
	xor %eax, %eax
	rep stosl

	/* 2. PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories of 2 MiB pages */
	mov $boot_pdpt, %eax
	or $3, %eax                    /* present | writable */
	mov %eax, ksh_boot_pml4
	mov $boot_pd, %eax
	or $3, %eax
	mov $boot_pdpt, %edi
	mov $4, %ecx
1:	mov %eax, (%edi)
	add $4096, %eax
	add $8, %edi
	loop 1b
	mov $boot_pd, %edi
	mov $0x83, %eax                /* present | writable | 2 MiB page */
	mov $2048, %ecx
2:	mov %eax, (%edi)
	movl $0, 4(%edi)
	add $0x200000, %eax
	add $8, %edi
	loop 2b

	/* 3. PAE, CR3, EFER.LME|NXE, paging + write-protect */
	mov %cr4, %eax
	or $(1 << 5), %eax
	mov %eax, %cr4
	mov $ksh_boot_pml4, %eax
	mov %eax, %cr3
	mov $EFER, %ecx
	rdmsr
	or $(EFER_LME | EFER_NXE), %eax
	wrmsr
	mov %cr0, %eax
	or $((1 << 31) | (1 << 16) | 1), %eax
	mov %eax, %cr0

	/* 4. 64-bit GDT, far jump */
	lgdt gdt64_ptr
	ljmp $0x08, $boot64

	.code64
boot64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %ax, %ax
	mov %ax, %fs
	mov %ax, %gs
	mov $ksh_stack_top, %rsp
	xor %ebp, %ebp
	mov boot_mbi, %edi
	mov boot_magic, %esi
	call ksh_main
3:	cli
	hlt
	jmp 3b
