/*
 * heap.c - the struct dpf_host allocator the DPF core, verifier and JIT
 * use in the kernel: power-of-two size classes (16 B .. KSH_HEAP_MAX_BLOCK)
 * over one static arena of KSH_HEAP_BYTES.
 *
 * A block is carved from the arena once, at its class size, and after it
 * is freed serves only its class again (free lists threaded through the
 * blocks).  free() is told the size, so blocks carry no header.  Running
 * out of arena returns NULL, which the core turns into DPF_ENOMEM.
 * relax() is a pause: there are no concurrent readers in the kernel.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define MIN_SHIFT 4
#define NCLASS 32

static uint8_t arena[KSH_HEAP_BYTES] __attribute__((aligned(4096)));
static size_t arena_used;
static void *free_lists[NCLASS];
static uint64_t in_use;

static int class_of(size_t size)
{
	int c = 0;
	while (((size_t)1 << (c + MIN_SHIFT)) < size)
		c++;
	return c;
}

static void *heap_alloc(void *ctx, size_t size)
{
	(void)ctx;
	if (size == 0)
		size = 1;
	if (size > KSH_HEAP_MAX_BLOCK)
		return NULL;
	int c = class_of(size);
	size_t bs = (size_t)1 << (c + MIN_SHIFT);
	void *p = free_lists[c];
	if (p) {
		free_lists[c] = *(void **)p;
	} else {
		/* align to the block size up to a page, so large blocks are
		 * page-aligned and small ones naturally aligned */
		size_t al = bs < KSH_PAGE ? bs : KSH_PAGE;
		size_t at = (arena_used + al - 1) & ~(al - 1);
		if (at + bs > sizeof arena)
			return NULL;
		p = arena + at;
		arena_used = at + bs;
	}
	in_use += bs;
	return p;
}

static void heap_free(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	if (!ptr)
		return;
	uint8_t *p = ptr;
	if (p < arena || p >= arena + sizeof arena)
		ksh_panic("heap: free of %p not from the heap", ptr);
	if (size == 0)
		size = 1;
	int c = class_of(size);
	*(void **)ptr = free_lists[c];
	free_lists[c] = ptr;
	in_use -= (size_t)1 << (c + MIN_SHIFT);
}

static void heap_relax(void *ctx)
{
	(void)ctx;
	cpu_relax();
}

const struct dpf_host *ksh_heap(void)
{
	static const struct dpf_host host = {heap_alloc, heap_free, heap_relax,
	                                     NULL};
	return &host;
}

uint64_t ksh_heap_used(void)
{
	return in_use;
}
