/*
 * jit_mem_posix.c - hosted code memory for the JIT: one memfd mapped twice,
 * read-write at one address and read-execute at another.  No mapping is
 * ever writable and executable at once; the writer fills and patches code
 * through the writable view while other threads run it through the
 * executable one, so updates need no mprotect and never stop a reader.
 * (New code is always written to bytes no thread has executed since they
 * were last freed, a grace period ago, before its address is published.)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <unistd.h>

#include "jit/jit.h"

static int posix_map(void *ctx, size_t size, void **rw, void **rx)
{
	(void)ctx;
	int fd = memfd_create("dpf-jit", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	void *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *x = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	close(fd);
	if (w == MAP_FAILED || x == MAP_FAILED) {
		if (w != MAP_FAILED)
			munmap(w, size);
		if (x != MAP_FAILED)
			munmap(x, size);
		return -1;
	}
	*rw = w;
	*rx = x;
	return 0;
}

static void posix_unmap(void *ctx, size_t size, void *rw, void *rx)
{
	(void)ctx;
	munmap(rw, size);
	munmap(rx, size);
}

const struct jit_mem *jit_mem_posix(void)
{
	static const struct jit_mem mem = {posix_map, posix_unmap, NULL};
	return &mem;
}
