/*
 * ash_int.h - private interface of the handler runtime, shared by
 * prog.c (program objects), interp.c (the interpreter and checked mode),
 * maps.c (map storage), helpers.c (helper functions) and xdp.c (the frame
 * model and the adjust helpers).  Not installed; nothing outside ash/
 * includes it.
 *
 * Invariants
 *   - Every byte comes from the program's struct dpf_host; nothing here
 *     is a mutable global, so two programs (or two runtimes) coexist.
 *   - A pointer a handler holds in a register is a real host address:
 *     a map value, a ring-buffer record, a byte of the live frames'
 *     stacks, of the packet, or of the raw memory of ash_run_mem.
 *   - Helpers return Linux's values: 0 or a negative errno (ASH_E*).
 */
#ifndef DPF_ASH_INT_H
#define DPF_ASH_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ash/ash.h"
#include "jit/jit.h"
#include "verifier/vfy.h"

/* Linux errno values, returned negated by helpers as Linux does. */
enum {
	ASH_ENOENT = 2, ASH_E2BIG = 7, ASH_EAGAIN = 11, ASH_ENOMEM = 12,
	ASH_EACCES = 13, ASH_EFAULT = 14, ASH_EBUSY = 16, ASH_EEXIST = 17,
	ASH_EINVAL = 22, ASH_ENOSPC = 28,
};

#define ASH_NIL 0xffffffffu

/* ---- byte helpers (no libc) ---- */
/* memcpy, memmove and memset are libc functions every host provides (the
 * kernel's libc.c has them): the compiler inlines small constant sizes and
 * calls the host's for the rest, word at a time instead of a byte loop. */
static inline void ash_memcpy(void *dst, const void *src, size_t n)
{
	if (n)
		__builtin_memcpy(dst, src, n);
}

static inline void ash_memmove(void *dst, const void *src, size_t n)
{
	if (n)
		__builtin_memmove(dst, src, n);
}

static inline void ash_memset(void *dst, int c, size_t n)
{
	if (n)
		__builtin_memset(dst, c, n);
}

static inline int ash_memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* ---- message formatting (fmt.c-like, inside prog.c) ----
 * A small snprintf: %s %c %d %u %x %ld %lu %lx %lld %llu %llx %%.
 * Always NUL-terminates; returns the length written. */
size_t ash_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t ash_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* ---- maps (maps.c) ---- */
struct ash_map {
	const struct ash_map_def *def;
	uint32_t index;      /* in the image's map table */
	uint32_t stride;     /* ARRAY: value stride; HASH: element stride */
	uint8_t *alloc;      /* the one allocation, allocsize bytes */
	size_t allocsize;
	uint8_t *vals;       /* ARRAY: values; HASH: elements; RINGBUF: data */
	uint32_t *buckets;   /* HASH: nbuckets chain heads (element index) */
	uint32_t nbuckets;   /* a power of 2 */
	uint32_t free_head;  /* HASH: free list through hnode.next */
	uint32_t count;      /* HASH: live elements */
	uint32_t lru_head;   /* LRU_HASH: most recently used */
	uint32_t lru_tail;   /*           least recently used */
	uint64_t cons, prod; /* RINGBUF: consumer and producer positions */
	uint32_t mask;       /* RINGBUF: max_entries - 1 */
};

/* ---- the running state (interp.c) ---- */
#define ASH_FUNC_TAG 0xf0c0000000000000ull /* lddw src 4: TAG | insn */
#define ASH_FUNC_MASK 0xffff000000000000ull

enum { ASH_FR_CALL = 0, ASH_FR_LOOP = 1 };

/* Frame d describes how frame d was entered (frame 0: the program). */
struct ash_frame {
	uint64_t saved[4];  /* the caller's r6-r9 */
	uint32_t ret_pc;    /* where the caller continues */
	uint32_t kind;      /* ASH_FR_* */
	uint32_t loop_i;    /* bpf_loop: the running iteration */
	uint32_t loop_n;    /*   iterations asked for */
	uint32_t loop_fn;   /*   the callback's first insn */
	uint64_t loop_ctx;  /*   r2 of every call */
};

/* The program's view of struct xdp_md: r1 points here. */
struct ash_ctxobj {
	uint32_t f[ASH_CTX_SIZE / 4];
};

struct ash_run {
	struct ash_prog *p;
	int checked;
	uint64_t reg[11];
	uint32_t pc;          /* the instruction executing */
	uint32_t depth;       /* frames live: 0..depth */
	struct ash_frame fr[ASH_MAX_CALL_DEPTH];
	struct ash_xdp *x;    /* XDP mode, else NULL */
	uint8_t *mem;         /* raw-memory mode */
	uint32_t memlen;
	struct ash_ctxobj ctx;
	uint32_t redirect;    /* bpf_redirect's index */
	struct ash_result *res;
	struct jit_ash_state js; /* ASH_ENGINE_X86: what the native code sees */
};

/* ASH_ENGINE_X86, XDP mode: the frame's pointers as the native code
 * reads them (ctx->data and friends), after set-up and after every
 * helper that moves or resizes the frame. */
static inline void ash_js_sync(struct ash_run *r)
{
	struct ash_xdp *x = r->x;
	r->js.data = (uint64_t)(uintptr_t)(x->buf + x->data);
	r->js.data_end = (uint64_t)(uintptr_t)(x->buf + x->data_end);
	r->js.data_meta = (uint64_t)(uintptr_t)(x->buf + x->data_meta);
}



struct ash_prog {
	const struct ash_image *img;
	const struct vfy_ash_result *vres;
	struct ash_env env;
	const struct dpf_host *host;
	uint32_t nmaps;
	struct ash_map *maps;  /* nmaps entries */
	uint8_t *stackmem;     /* allocation for the frames' stacks */
	uint8_t *stacks;       /* 16-byte aligned, ASH_MAX_CALL_DEPTH stacks */
	uint64_t rng;          /* xorshift state when env has no prandom */
	struct jit_ash *jit;   /* native code (ash_prog_jit), or NULL */
	/* ASH_ENGINE_X86 runs use this state, set up once (ash_prog_new)
	 * and per run only in the fields a run changes: one program runs
	 * one frame at a time. */
	struct ash_run run;
};

/* Create and free every map of p (p->img, p->host set).  0, DPF_ENOMEM,
 * DPF_ELIMIT or DPF_EINVAL with diag filled. */
int ash_maps_create(struct ash_prog *p, struct dpf_diag *diag);
void ash_maps_free(struct ash_prog *p);

/* The map object a register holds, or NULL when v is no map of p. */
struct ash_map *ash_map_from_reg(const struct ash_prog *p, uint64_t v);
/* Byte 0 of entry 0's value (global data: lddw src 2/6), NULL when the
 * map has no such storage. */
uint8_t *ash_map_value0(struct ash_map *m);

/* The program's view: value pointer or NULL (LRU: marks it used). */
void *ash_map_lookup_elem(struct ash_map *m, const void *key);
/* 0 or -errno as Linux's map_update_elem / map_delete_elem. */
int64_t ash_map_update_elem(struct ash_map *m, const void *key,
                            const void *value, uint64_t flags);
int64_t ash_map_delete_elem(struct ash_map *m, const void *key);

/* Checked mode: 1 when [a, a+n) lies inside one value of m (array value
 * storage, or a live hash element's value). */
int ash_map_value_contains(const struct ash_map *m, uintptr_t a, uint64_t n);
/* For messages: the value region of m nearest to a; 0 when m has none. */
int ash_map_value_nearest(const struct ash_map *m, uintptr_t a,
                          uintptr_t *lo, uintptr_t *hi);

/* Ring buffers: reserve (NULL when no room), commit a reserved record
 * (submit, or discard), and the record containing or nearest to a
 * range (checked mode, messages). */
void *ash_rb_reserve(struct ash_map *m, uint64_t size);
void ash_rb_commit(struct ash_map *m, void *rec, int discard);
/* The map whose live (reserved, uncommitted) record starts at rec. */
struct ash_map *ash_rb_owner(const struct ash_prog *p, const void *rec);
int ash_rb_contains(const struct ash_map *m, uintptr_t a, uint64_t n);
int ash_rb_nearest(const struct ash_map *m, uintptr_t a, uintptr_t *lo,
                   uintptr_t *hi);

/* Run p->jit on p->run for XDP frame x (NULL: raw memory mem, len
 * bytes): the result as the interpreter's, but res->insns is 0
 * (native.c).  0, or -1 after a fault. */
int ash_native_xdp(struct ash_prog *p, struct ash_xdp *x,
                   struct ash_result *res);
int ash_native_mem(struct ash_prog *p, uint8_t *mem, uint32_t len,
                   struct ash_result *res);
/* Set up p->run once (ash_prog_new). */
void ash_native_init(struct ash_prog *p);

/* The stack of frame d: [base, base + ASH_STACK); r10 = base + ASH_STACK.
 * Deeper frames lie below (as on a machine stack). */
static inline uint8_t *ash_stack_base(const struct ash_run *r, uint32_t d)
{
	return r->p->stacks + (size_t)(ASH_MAX_CALL_DEPTH - 1 - d) * ASH_STACK;
}

enum { ASH_ACC_LOAD = 0, ASH_ACC_STORE = 1 };

/* Checked mode: 0 when [a, a+n) is inside a real object (for stores: a
 * writable one), else records an ASH_FAULT_ESCAPE naming the access and
 * returns -1.  what: "load", "store", "atomic", or a helper's "helper
 * csum_diff read". */
int ash_check(struct ash_run *r, uint64_t a, uint64_t n, int store,
              const char *what);
/* Record a fault at r->pc (the first one wins; js.fault is set too, for
 * the native code); the message is fmt in full.  Returns -1. */
int ash_fault(struct ash_run *r, int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Call helper id (not bpf_loop: the interpreter runs that) with
 * r->reg[1..5]; sets r->reg[0].  0, or -1 after a fault. */
int ash_call_helper(struct ash_run *r, uint32_t id);
/* The native code's function for helper id (struct jit_ash_env's
 * helper_fn), NULL for none; *faults: whether it may fault. */
jit_ash_helper_fn ash_helper_native(uint32_t id, int *faults);
/* dpf_ash_copy's entry for a call site with a proven ops set (its fused
 * kernel; never faults), NULL for an invalid set. */
jit_ash_helper_fn ash_dilp_native(uint32_t ops);
/* Its entry for a call site reached with several proven sets: the kernel
 * chosen at run time. */
jit_ash_helper_fn ash_dilp_native_any(void);

/* ---- xdp.c ---- */
int64_t ash_xdp_adjust_head(struct ash_xdp *x, int32_t off);
int64_t ash_xdp_adjust_meta(struct ash_xdp *x, int32_t off);
int64_t ash_xdp_adjust_tail(struct ash_xdp *x, int32_t off);
/* bpf_xdp_load_bytes/store_bytes bounds: 0, -EFAULT or -EINVAL; on 0
 * *ptr is the packet byte at offset. */
int64_t ash_xdp_pointer(struct ash_xdp *x, uint32_t off, uint32_t len,
                        uint8_t **ptr);

/* ---- helpers.c, exposed for unit tests through the helper ---- */
/* Linux >= 6.13 bpf_csum_diff: the 16-bit folded result. */
uint64_t ash_csum_diff(const uint8_t *from, uint32_t from_size,
                       const uint8_t *to, uint32_t to_size, uint32_t seed);

#endif
