/*
 * jit_mem_posix.c - hosted code memory for the JIT: anonymous pages mapped
 * read-write, filled, then switched to read-execute with mprotect, so no
 * page is ever writable and executable at once.
 */
#include <sys/mman.h>

#include "jit/jit.h"

static void *posix_map(void *ctx, size_t size)
{
	(void)ctx;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int posix_seal(void *ctx, void *code, size_t size)
{
	(void)ctx;
	return mprotect(code, size, PROT_READ | PROT_EXEC);
}

static void posix_unmap(void *ctx, void *code, size_t size)
{
	(void)ctx;
	munmap(code, size);
}

const struct jit_mem *jit_mem_posix(void)
{
	static const struct jit_mem mem = {posix_map, posix_seal, posix_unmap,
	                                   NULL};
	return &mem;
}
