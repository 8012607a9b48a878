/*
 * jit.h - the x86-64 back ends: native code for the merged trie, kept
 * current as filters come and go, and for verified handlers (ASHs; the
 * jit_ash_* calls below, ash_x86.c).
 *
 * jit_attach() compiles an engine's trie and installs the result as what
 * dpf_classify() runs: one native function
 *     int classify(const uint8_t *pkt, size_t len)
 * that returns exactly what the interpreter returns for that trie.  From
 * then on every dpf_insert() and dpf_delete() regenerates only what
 * changed (jit_int.h): a key added to or removed from a hash dispatch
 * changes data, not code.  The new code becomes visible with one store,
 * inside the update, so classification continues during updates exactly
 * as with the interpreter (readers in dpf_read_begin/end sections).
 *
 * A failure to generate code (out of code memory, say) is never fatal:
 * the engine falls back to the interpreter at once, jit_status() says why,
 * and the next update tries to compile everything again.
 *
 * Freestanding C.  Code memory comes from struct jit_mem: each mapping is
 * seen twice, writable at rw and executable at rx, and no mapping is ever
 * writable and executable at once (hosted: jit_mem_posix(), two views of
 * one memfd; the kernel maps the same frames twice).  Calls are
 * serialised with the engine's writer.
 */
#ifndef DPF_JIT_H
#define DPF_JIT_H

#include "dpf/dpf.h"

struct jit_mem {
	/* Map size bytes: *rw writable, *rx executable, the same memory.
	 * 0 on success. */
	int (*map)(void *ctx, size_t size, void **rw, void **rx);
	void (*unmap)(void *ctx, size_t size, void *rw, void *rx);
	void *ctx;
};

enum {
	JIT_NOTES = 1, /* keep block notes for jit_listing() */
};

/* Compile the installed filters and attach: 0, or a negative DPF_E* code
 * with the reason in diag (the engine then keeps the interpreter). */
int jit_attach(struct dpf_engine *e, const struct jit_mem *mem,
               unsigned flags, struct dpf_diag *diag);
/* Back to the interpreter; the code is freed after the grace period. */
void jit_detach(struct dpf_engine *e);

struct jit_stats {
	uint32_t units;          /* code units live */
	uint64_t code_bytes;     /* bytes of generated code live */
	uint64_t code_mapped;    /* code memory mapped */
	uint64_t data_bytes;     /* jump tables live */
	uint64_t builds;         /* units compiled since attach */
	uint64_t slot_updates;   /* updates that changed jump tables only */
	uint64_t full_builds;    /* whole-trie compilations */
	uint64_t failures;       /* code generation failures */
};

/* 1 when the generated code is what dpf_classify runs, 0 when the
 * interpreter runs (not attached, or generation failed: why is in diag,
 * may be NULL). */
int jit_status(const struct dpf_engine *e, struct jit_stats *st,
               struct dpf_diag *diag);

/* The generated code, unit by unit, top first (each unit is called from
 * the jump-table slots of the units before it).  For each unit: its
 * executable address, its bytes, and the notes that say which trie node
 * each block implements (offsets within the unit, ascending; NULL text
 * ends the array) when attached with JIT_NOTES. */
struct jit_note {
	uint32_t off;
	const char *text;
};
typedef void (*jit_unit_fn)(void *ctx, uint64_t addr, const uint8_t *code,
                            size_t len, const struct jit_note *notes,
                            size_t nnotes);
void jit_listing(const struct dpf_engine *e, jit_unit_fn fn, void *ctx);

/* ---- handlers (ash_x86.c): verified eBPF images to native code ----
 *
 * jit_ash_compile() translates an image vfy_ash() accepted, using its
 * facts, into one native function run by jit_ash_call().  The runtime
 * (ash/) owns the state the code sees (struct jit_ash_state, r12 all the
 * run) and the helpers:
 *   - env->helper_fn(ctx, id, pc, &faults) names, per call site, a native
 *     function the code calls directly with the SysV ABI,
 *         uint64_t fn(r1, r2, r3, r4, r5, struct jit_ash_state *s)
 *     returning r0; faults nonzero says it may fault.  NULL (or no
 *     helper_fn) means the generic path: r0-r5 are stored to reg[] and
 *     helper(s, id, pc) is called.
 *   - before a call that may fault (every generic one) the code stores
 *     r0 to reg[0] and the call site to pc; a helper that faults sets
 *     fault, and the code then returns at once through the fault exit
 *     (its r0 is meaningless).
 *   - data, data_end and data_meta are what ctx->data, ->data_end and
 *     ->data_meta load (XDP mode): the runtime keeps them current across
 *     helpers that move the frame.
 * Array lookups (map_lookup_elem on a map the verifier proves the call
 * site always names, with env->array_max[i] nonzero) are inlined as
 * value0 + key * array_stride[i], NULL when key >= array_max[i].
 * A refusal (an instruction the JIT does not know, a map without
 * storage) returns DPF_EINVAL with the reason in diag ("at insn N:
 * ..."); the caller runs the interpreter instead.
 */
struct ash_image;
struct ash_xdp;
struct vfy_ash_result;

struct jit_ash_state {
	uint64_t reg[6]; /* r0-r5 at a generic helper call: offset 0 */
	uint64_t (*helper)(struct jit_ash_state *s, uint32_t id, uint32_t pc);
	uint64_t data, data_end, data_meta; /* XDP mode: the frame, current */
	uint32_t ifindex, rxq;
	int32_t fault;   /* nonzero: leave now */
	uint32_t pc;     /* the call site of a helper that may fault */
	uint64_t sp;     /* the code's: the stack pointer for the fault exit */
};

/* A helper's native function (see above). */
typedef uint64_t (*jit_ash_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3,
                                      uint64_t r4, uint64_t r5,
                                      struct jit_ash_state *s);

/* What lddw of a map yields: map[i] the register value of map i (src
 * 1/5), value0[i] the address of byte 0 of its value (src 2/6), 0 when
 * it has none.  array_max and array_stride (may be NULL): lookups in map
 * i are inlined when array_max[i] is nonzero.  helper_fn (may be NULL):
 * the function for helper id at call site pc, or NULL. */
struct jit_ash_env {
	uint32_t nmaps;
	const uint64_t *map;
	const uint64_t *value0;
	const uint32_t *array_max;
	const uint32_t *array_stride;
	jit_ash_helper_fn (*helper_fn)(void *ctx, uint32_t id, uint32_t pc,
	                               int *faults);
	void *helper_ctx;
};

struct jit_ash;

int jit_ash_compile(const struct ash_image *img,
                    const struct vfy_ash_result *vres,
                    const struct jit_ash_env *env, const struct jit_mem *mem,
                    const struct dpf_host *host, struct jit_ash **out,
                    struct dpf_diag *diag);
/* Run: r1 and r2 as the program receives them; returns r0. */
uint64_t jit_ash_call(const struct jit_ash *j, struct jit_ash_state *s,
                      uint64_t r1, uint64_t r2);
void jit_ash_free(struct jit_ash *j);
/* The generated bytes (for tests and listings). */
const uint8_t *jit_ash_code(const struct jit_ash *j, size_t *len);
/* Where each instruction slot's code starts, for listings: *n is the
 * image's slot count; at[i] is the offset (into jit_ash_code) of slot i's
 * own code, at[n + i] that of the prologue before it when slot i starts
 * a function, else UINT32_MAX.  Code before at[n] is the fault exit;
 * the program's prologue at at[n] is the entry.  Slot i's code ends where the next slot's prologue or
 * code starts (the code's end for the last); the second slot of lddw,
 * a no-op (le64) and the rsh/arsh of a fused lsh 32 + rsh/arsh 32 pair
 * (one zero or sign extension in the lsh's slot) are empty. */
const uint32_t *jit_ash_offsets(const struct jit_ash *j, uint32_t *n);

/* Hosted only (jit_mem_posix.c). */
const struct jit_mem *jit_mem_posix(void);

#endif
