/*
 * host_libc.c - the hosted implementation of struct dpf_host: malloc/free
 * and a pause while the writer waits for readers.  Not part of the
 * freestanding core.
 */
#include <sched.h>
#include <stdlib.h>

#include "dpf/dpf.h"

static void *libc_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size ? size : 1);
}

static void libc_free(void *ctx, void *ptr, size_t size)
{
	(void)ctx;
	(void)size;
	free(ptr);
}

static void libc_relax(void *ctx)
{
	(void)ctx;
	sched_yield();
}

const struct dpf_host *dpf_host_libc(void)
{
	static const struct dpf_host host = {libc_alloc, libc_free, libc_relax,
	                                     NULL};
	return &host;
}
