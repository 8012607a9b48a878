/*
 * jit.h - the x86-64 code generator for the merged trie.
 *
 * jit_compile() turns a snapshot of an engine's trie into one native
 * function  int classify(const uint8_t *pkt, size_t len)  that returns
 * exactly what dpf_classify() returns for that trie.  Freestanding C: the
 * kernel provides code memory through struct jit_mem; hosted programs use
 * jit_mem_posix() (mmap RW, write, mprotect RX: never writable and
 * executable at once).
 *
 * The compiled function is a snapshot: compile again after inserting or
 * deleting filters.  A failure to compile is never fatal: callers keep
 * classifying with the interpreter (see dpf replay).
 *
 * Calls are serialised with the engine's writer; the compiled function may
 * be called from any number of threads at once.
 */
#ifndef DPF_JIT_H
#define DPF_JIT_H

#include "dpf/dpf.h"

struct jit_mem {
	/* Writable memory of at least size bytes, or NULL. */
	void *(*map)(void *ctx, size_t size);
	/* Make it read-only and executable; 0 on success. */
	int (*seal)(void *ctx, void *code, size_t size);
	void (*unmap)(void *ctx, void *code, size_t size);
	void *ctx;
};

typedef int (*jit_fn)(const uint8_t *pkt, size_t len);

struct dpf_jit;

/* 0, or a negative DPF_E* code with the reason in diag. */
int jit_compile(const struct dpf_engine *e, const struct jit_mem *mem,
                struct dpf_jit **out, struct dpf_diag *diag);
void jit_free(struct dpf_jit *j);

jit_fn jit_function(const struct dpf_jit *j);
size_t jit_code_size(const struct dpf_jit *j);

static inline int jit_classify(const struct dpf_jit *j, const uint8_t *pkt,
                               size_t len)
{
	return jit_function(j)(pkt, len);
}

/* Hosted only (jit_mem_posix.c). */
const struct jit_mem *jit_mem_posix(void);

#endif
