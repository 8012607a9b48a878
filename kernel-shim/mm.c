/*
 * mm.c - physical page frames, the kernel's page tables, and the JIT's
 * code memory.
 *
 * Frames: every 4 KiB frame from the end of the kernel image to the top of
 * RAM (as the boot loader reported it) is handed out by a bump pointer,
 * and freed frames go on a list threaded through the frames themselves.
 * ksh_frame_alloc() returns frames zeroed.
 *
 * Page tables (built once by ksh_mm_init, replacing boot.S's):
 *   - the low 4 GiB are identity-mapped: 2 MiB pages, writable, never
 *     executable (RAM above the kernel, the NIC's MMIO BAR; addresses at
 *     or above 3 GiB are mapped uncached);
 *   - the 2 MiB regions that hold the kernel image use 4 KiB pages: page 0
 *     unmapped (a NULL dereference faults), text read-only + executable,
 *     rodata read-only + NX, data and bss writable + NX, except the guard
 *     page below the boot stack, unmapped (an overflow faults, and the
 *     #DF that follows runs on its own stack: idt.c);
 *   - two windows for JIT code: the same frames mapped at KSH_JIT_RW
 *     (writable, NX) and at KSH_JIT_RX (read-only, executable), each
 *     mapping at the same offset in both; unmapped ranges are reused.
 * Invariant: no page is writable and executable in one mapping, anywhere
 * (EFER.NXE is on from boot.S; CR0.WP makes read-only binding in ring 0).
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define PTE_P (1ull << 0)
#define PTE_W KSH_PTE_W
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_NX KSH_PTE_NX
#define PTE_ADDR 0x000ffffffffff000ull

#define MB2 (2ull << 20)
#define KSH_JIT_RW 0x0000008000000000ull /* PML4 slot 1 */
#define KSH_JIT_RX 0x0000010000000000ull /* PML4 slot 2 */

extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];
extern char ksh_stack_guard[];

static uint64_t *pml4;
static uint64_t bump, top;  /* frames [bump, top) never handed out yet */
static void *free_list;     /* freed frames, linked through their first word */
static uint64_t nfree_list;
/* JIT windows: both views of a mapping sit at the same offset in their
 * window; offsets come from a bump pointer or from ranges freed before. */
static uint64_t jit_next;
static struct {
	uint64_t off, size;
} jit_holes[KSH_JIT_HOLES];
static uint32_t jit_nholes;

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

void *ksh_frame_alloc(void)
{
	void *f;
	if (free_list) {
		f = free_list;
		free_list = *(void **)f;
		nfree_list--;
	} else if (bump + KSH_PAGE <= top) {
		f = (void *)(uintptr_t)bump;
		bump += KSH_PAGE;
	} else {
		return NULL;
	}
	memset(f, 0, KSH_PAGE);
	return f;
}

void ksh_frame_free(void *frame)
{
	if (!frame || (addr(frame) & (KSH_PAGE - 1)))
		ksh_panic("frame_free: bad frame %p", frame);
	*(void **)frame = free_list;
	free_list = frame;
	nfree_list++;
}

uint64_t ksh_frames_free(void)
{
	return nfree_list + (top - bump) / KSH_PAGE;
}

/* The entry for va at `level` (3 = PML4 .. 0 = PT), creating tables on the
 * way when create is set; NULL when absent or a large page is in the way. */
static uint64_t *walk(uint64_t va, int create)
{
	uint64_t *t = pml4;
	for (int level = 3; level > 0; level--) {
		uint64_t *e = &t[(va >> (12 + 9 * level)) & 511];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			void *f = ksh_frame_alloc();
			if (!f)
				return NULL;
			*e = addr(f) | PTE_P | PTE_W;
		} else if (*e & PTE_PS) {
			return NULL;
		}
		t = (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
	}
	return &t[(va >> 12) & 511];
}

int ksh_map_page(uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *e = walk(va, 1);
	if (!e)
		return -1;
	*e = (pa & PTE_ADDR) | PTE_P | (flags & (PTE_W | PTE_NX));
	invlpg((void *)(uintptr_t)va);
	return 0;
}

void ksh_unmap_page(uint64_t va)
{
	uint64_t *e = walk(va, 0);
	if (e) {
		*e = 0;
		invlpg((void *)(uintptr_t)va);
	}
}

uint64_t ksh_pte(uint64_t va)
{
	uint64_t *e = walk(va, 0);
	return e ? *e : 0;
}

/* Flags of the 4 KiB page at pa inside the kernel's 2 MiB regions. */
static uint64_t kernel_page_flags(uint64_t pa)
{
	if (pa < addr(__kernel_start))
		return pa == 0 ? 0 : PTE_P | PTE_W | PTE_NX;
	if (pa < addr(__text_end))
		return PTE_P;
	if (pa < addr(__rodata_end))
		return PTE_P | PTE_NX;
	if (pa == addr(ksh_stack_guard))
		return 0;
	return PTE_P | PTE_W | PTE_NX;
}

void ksh_mm_init(uint64_t mem_top)
{
	uint64_t kend =
		(addr(__kernel_end) + KSH_PAGE - 1) & ~(uint64_t)(KSH_PAGE - 1);
	uint64_t klow = (kend + MB2 - 1) & ~(MB2 - 1); /* 4 KiB pages below */
	if (mem_top > KSH_PHYS_MAX)
		mem_top = KSH_PHYS_MAX;
	if (mem_top <= kend + (1u << 20))
		ksh_panic("mm: %lu bytes of RAM do not hold the kernel", mem_top);
	bump = kend;
	top = mem_top & ~(uint64_t)(KSH_PAGE - 1);

	pml4 = ksh_frame_alloc();
	uint64_t *pdpt = ksh_frame_alloc();
	if (!pml4 || !pdpt)
		ksh_panic("mm: no frames for page tables");
	pml4[0] = addr(pdpt) | PTE_P | PTE_W;
	for (uint64_t g = 0; g < 4; g++) {
		uint64_t *pd = ksh_frame_alloc();
		if (!pd)
			ksh_panic("mm: no frames for page tables");
		pdpt[g] = addr(pd) | PTE_P | PTE_W;
		for (uint64_t i = 0; i < 512; i++) {
			uint64_t pa = (g << 30) | (i << 21);
			if (pa >= klow) {
				uint64_t cache = pa >= (3ull << 30) ? PTE_PCD | PTE_PWT : 0;
				pd[i] = pa | PTE_P | PTE_W | PTE_PS | PTE_NX | cache;
				continue;
			}
			uint64_t *pt = ksh_frame_alloc();
			if (!pt)
				ksh_panic("mm: no frames for page tables");
			for (uint64_t j = 0; j < 512; j++) {
				uint64_t pa4 = pa | (j << 12);
				uint64_t fl = kernel_page_flags(pa4);
				pt[j] = fl ? pa4 | fl : 0;
			}
			pd[i] = addr(pt) | PTE_P | PTE_W;
		}
	}
	write_cr3(addr(pml4));
}

/* ---- JIT code memory: one set of frames, two views ---- */

/* An offset for size bytes in the windows (first fit among the holes,
 * else fresh), or -1 when the windows are full. */
static int64_t jit_va_take(uint64_t size)
{
	for (uint32_t i = 0; i < jit_nholes; i++) {
		if (jit_holes[i].size < size)
			continue;
		uint64_t off = jit_holes[i].off;
		jit_holes[i].off += size;
		jit_holes[i].size -= size;
		if (!jit_holes[i].size)
			jit_holes[i] = jit_holes[--jit_nholes];
		return (int64_t)off;
	}
	if (jit_next + size > KSH_JIT_VA_BYTES)
		return -1;
	jit_next += size;
	return (int64_t)(jit_next - size);
}

/* Give a range back; when the hole list is full the range stays unused
 * (the windows are far larger than the frames behind them). */
static void jit_va_give(uint64_t off, uint64_t size)
{
	if (off + size == jit_next) {
		jit_next = off;
		return;
	}
	if (jit_nholes < KSH_JIT_HOLES) {
		jit_holes[jit_nholes].off = off;
		jit_holes[jit_nholes].size = size;
		jit_nholes++;
	}
}

/* Unmap both views of [off, off + size) and free the frames. */
static void jit_release(uint64_t off, uint64_t size)
{
	for (uint64_t o = off; o < off + size; o += KSH_PAGE) {
		uint64_t pte = ksh_pte(KSH_JIT_RX + o);
		ksh_unmap_page(KSH_JIT_RW + o);
		ksh_unmap_page(KSH_JIT_RX + o);
		if (pte & PTE_P)
			ksh_frame_free((void *)(uintptr_t)(pte & PTE_ADDR));
	}
}

static void jit_unmap(void *ctx, size_t size, void *rw, void *rx)
{
	(void)ctx;
	uint64_t off = addr(rw) - KSH_JIT_RW;
	size = (size + KSH_PAGE - 1) & ~(size_t)(KSH_PAGE - 1);
	if (addr(rx) - KSH_JIT_RX != off || off + size > jit_next)
		ksh_panic("jit_unmap: %p/%p is not a mapping", rw, rx);
	jit_release(off, size);
	jit_va_give(off, size);
}

static int jit_map(void *ctx, size_t size, void **rw, void **rx)
{
	(void)ctx;
	size = (size + KSH_PAGE - 1) & ~(size_t)(KSH_PAGE - 1);
	int64_t at = size ? jit_va_take(size) : -1;
	if (at < 0)
		return -1;
	uint64_t off = (uint64_t)at;
	for (uint64_t o = 0; o < size; o += KSH_PAGE) {
		void *f = ksh_frame_alloc();
		if (!f || ksh_map_page(KSH_JIT_RW + off + o, addr(f), PTE_W | PTE_NX) ||
		    ksh_map_page(KSH_JIT_RX + off + o, addr(f), 0)) {
			if (f && !(ksh_pte(KSH_JIT_RX + off + o) & PTE_P)) {
				ksh_unmap_page(KSH_JIT_RW + off + o);
				ksh_frame_free(f);
			}
			jit_release(off, o);
			jit_va_give(off, size);
			return -1;
		}
	}
	*rw = (void *)(uintptr_t)(KSH_JIT_RW + off);
	*rx = (void *)(uintptr_t)(KSH_JIT_RX + off);
	return 0;
}

const struct jit_mem *ksh_jit_mem(void)
{
	static const struct jit_mem mem = {jit_map, jit_unmap, NULL};
	return &mem;
}
