/*
 * vfy.h - the verifier: what filter IR must satisfy before any consumer
 * (the trie, the interpreter, a JIT, the kernel) accepts it.
 *
 * Freestanding C: builds hosted and with -ffreestanding -nostdinc.
 *
 * Rules checked by vfy_filter(), each refusal naming the filter, the path
 * and the atom index ("filter 'x' path 0 atom 2: width is not 1, 2 or 4"):
 *   name       1..DPF_NAME_MAX bytes of [A-Za-z_][A-Za-z0-9_.-]*
 *   priority   0..DPF_PRIO_MAX
 *   paths      1..DPF_MAX_PATHS; atoms per path 0..DPF_MAX_ATOMS
 *   kind       CMP or SHIFT;  base  PKT or REL
 *   width      CMP: 1, 2 or 4;  SHIFT: 1 or 2
 *   mask       nonzero and no wider than the load
 *   value      CMP: value & ~mask == 0;  SHIFT: 0
 *   shift      CMP: 0;  SHIFT: 0..DPF_MAX_SHIFT_K, at most DPF_MAX_SHIFTS
 *              per path (so base + offset stays far below 2^32)
 * The binary form's own framing is checked by dpf_ir_read(), which runs
 * every filter it decodes through vfy_filter().
 */
#ifndef DPF_VFY_H
#define DPF_VFY_H

#include "dpf/dpf.h"

int vfy_filter(const struct dpf_filter *f, struct dpf_diag *diag);

/*
 * ---- handlers: vfy_ash() checks an eBPF program image (ash/ash.h) ----
 *
 * Path-sensitive abstract interpretation of every path from the entry,
 * with state pruning, always under Linux's unprivileged rules (the
 * verifier/ README lists them and the domains).  What it proves travels
 * to the engines as one fact per instruction slot; they never re-derive
 * it.  A refusal fills diag with the message alone ("r3 packet pointer
 * off 34 + 2 bytes beyond proven range 34") and res->err_insn with the
 * instruction; callers add the object and section in front.
 *
 * Two contexts:
 *   VFY_ASH_CTX_XDP  r1 is struct xdp_md *; the return value must be a
 *                    known scalar in 0..4 (an XDP action).
 *   VFY_ASH_CTX_MEM  r1 points to mem_size readable and writable bytes
 *                    and r2 holds mem_size (the conformance contract of
 *                    `dpf ash exec`); any scalar may be returned.
 */
#include "ash/ash.h"

enum { VFY_ASH_CTX_XDP = 0, VFY_ASH_CTX_MEM = 1 };

struct vfy_ash_opts {
	uint32_t ctx;           /* VFY_ASH_CTX_* */
	uint32_t mem_size;      /* VFY_ASH_CTX_MEM: bytes at r1 */
	uint64_t max_processed; /* instructions the exploration may process;
	                           0 means ASH_MAX_PROCESSED */
};

/* What an access touches: the memory kind of the pointer it goes
 * through, the same on every path (a slot reached with two kinds is
 * refused, as in Linux). */
enum vfy_mem {
	VFY_MEM_NONE = 0,
	VFY_MEM_STACK,
	VFY_MEM_PKT,      /* packet data or metadata */
	VFY_MEM_CTX,      /* struct xdp_md (loads only) */
	VFY_MEM_MAP_VALUE,
	VFY_MEM_MEM,      /* the raw memory of VFY_ASH_CTX_MEM */
	VFY_MEM_RINGBUF,  /* a reserved ring-buffer record */
};

enum {
	VFY_AF_REACHED = 1,  /* some path executes this slot */
	VFY_AF_CTX_LOAD = 2, /* LDX from the context: engines translate the
	                        field at ctx_off (data, data_end and data_meta
	                        become pointers) */
	VFY_AF_FUNC = 4,     /* the first slot of a subprogram */
	VFY_AF_ARG = 8,      /* call: arg holds the constant the helper's
	                        rule recorded, the same on every path */
	VFY_AF_ARG_MIXED = 16, /* call: paths bring different constants;
	                          arg is meaningless (engines take the
	                          helper's general form) */
	VFY_AF_TAKEN = 32,   /* conditional jump: some path takes it */
	VFY_AF_FALLS = 64,   /* conditional jump: some path falls through
	                        (a reached jump with one of TAKEN and FALLS
	                        is proven to go that way every time) */
};

/* Constants (struct vfy_ash_fact.k): a scalar the same known value on
 * every path through the slot.  Which operand each k[i] is depends on
 * the instruction:
 *   ALU, NEG, END, LDX   k[0] src before (X forms), k[1] dst after
 *   conditional jump     k[0] src before (X forms), k[1] dst before
 *   STX                  k[0] src before
 *   helper call          k[0], k[1] its first two scalar arguments in
 *                        prototype order (bpf_loop: r1 nr and r4 flags;
 *                        xdp_load/store_bytes: r2 offset and r4 len)
 * VFY_AK_n: k[n] holds; VFY_AK_n_MIXED: some path brings another value
 * or no constant (then k[n] is meaningless). */
enum {
	VFY_AK_0 = 1,
	VFY_AK_0_MIXED = 2,
	VFY_AK_1 = 4,
	VFY_AK_1_MIXED = 8,
};

struct vfy_ash_fact {
	uint8_t flags;    /* VFY_AF_* */
	uint8_t mem;      /* enum vfy_mem: LDX, ST, STX and atomics */
	uint8_t ctx_off;  /* VFY_AF_CTX_LOAD: ASH_CTX_* offset */
	uint8_t kflags;   /* VFY_AK_*: which of k[] hold */
	uint32_t helper;  /* call and callx: the helper number */
	uint32_t arg;     /* call: a constant the helper's rule records
	                     (dpf_ash_copy: the low 32 bits of ops, so a
	                     JIT can call ash_dilp_select(arg)'s kernel;
	                     bpf_loop: the callback's first slot, so a JIT
	                     can call it directly); valid when VFY_AF_ARG
	                     is set */
	uint32_t map;     /* a helper call with a map argument: its map index
	                     + 1 when r1 names that map on every path (then
	                     engines may specialise, e.g. inline an array
	                     lookup), VFY_MAP_MIXED when paths differ, 0
	                     when no path passes a map */
	uint64_t k[2];    /* constants: see VFY_AK_* */
};

#define VFY_MAP_MIXED 0xffffffffu

struct vfy_ash_result {
	uint32_t ninsns;
	struct vfy_ash_fact *facts; /* ninsns entries, from host */
	uint64_t worst_insns;       /* proven bound on instructions executed
	                               by one invocation, bpf_loop callbacks
	                               included */
	uint32_t stack;             /* deepest stack of any call chain, bytes */
	uint64_t processed;         /* instructions the exploration processed */
	uint32_t err_insn;          /* refusal: the instruction slot */
	const struct dpf_host *host;
};

/* 0, or DPF_EINVAL (refused: diag and res->err_insn say why and where),
 * DPF_ELIMIT (the processed-instruction budget ran out; also a refusal),
 * DPF_ENOMEM.  On success res must be released with vfy_ash_free. */
int vfy_ash(const struct ash_image *img, const struct vfy_ash_opts *opts,
            const struct dpf_host *host, struct vfy_ash_result *res,
            struct dpf_diag *diag);
void vfy_ash_free(struct vfy_ash_result *res);

#endif
