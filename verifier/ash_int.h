/*
 * ash_int.h - private interface of the handler verifier (vfy_ash).
 *
 * The verifier is an abstract interpreter in parts (STYLE.md 13):
 *   ash_tnum.c     tnum: known bits (value, mask), each op an identity
 *   ash_range.c    scalars: tnum + signed/unsigned 64- and 32-bit ranges,
 *                  their synchronisation, ALU transfer and branch refinement
 *   ash_state.c    registers, stack slots, frames, states: copy, leq, eq,
 *                  hash (what pruning compares)
 *   ash_cfg.c      field validation, control-flow graph, subprograms,
 *                  reachability (before any abstract execution)
 *   ash_mem.c      memory accesses: ctx, packet, stack, map value, mem,
 *                  ring-buffer record; loads, stores, atomics
 *   ash_helpers.c  calls: helper prototypes (helpers.def), subprograms,
 *                  bpf_loop callbacks, exits
 *   ash_check.c    the transfer function for ALU and jumps, and the
 *                  exploration loop with checkpoints, pruning and the
 *                  worst-case instruction bound; vfy_ash itself
 *
 * Invariants: a SCALAR register's struct sc is synchronised (sc_sync) and
 * non-empty; a pointer's struct sc is its variable offset (a scalar, const
 * 0 for most pointers); fixed offsets live in reg.off.  No recursion
 * anywhere: states are deep-copied explicitly, exploration uses an
 * explicit stack of pending paths.
 */
#ifndef DPF_VFY_ASH_INT_H
#define DPF_VFY_ASH_INT_H

#include "dpf/internal.h"
#include "verifier/vfy.h"

/* ---- tnum (ash_tnum.c): x is in t iff (x & ~t.m) == t.v ---- */
struct tnum {
	uint64_t v, m;
};

struct tnum tn_const(uint64_t v);
struct tnum tn_unknown(void);
struct tnum tn_range(uint64_t min, uint64_t max);
struct tnum tn_add(struct tnum a, struct tnum b);
struct tnum tn_sub(struct tnum a, struct tnum b);
struct tnum tn_and(struct tnum a, struct tnum b);
struct tnum tn_or(struct tnum a, struct tnum b);
struct tnum tn_xor(struct tnum a, struct tnum b);
struct tnum tn_mul(struct tnum a, struct tnum b);
struct tnum tn_lsh(struct tnum a, unsigned s);
struct tnum tn_rsh(struct tnum a, unsigned s);
struct tnum tn_arsh(struct tnum a, unsigned s);
struct tnum tn_meet(struct tnum a, struct tnum b);  /* intersection */
struct tnum tn_join(struct tnum a, struct tnum b);  /* union */
struct tnum tn_trunc(struct tnum a, unsigned bytes);
int tn_conflict(struct tnum a, struct tnum b); /* empty intersection */
int tn_in(struct tnum a, struct tnum b);       /* b subset of a */
int tn_is_const(struct tnum a);

/* ---- scalars (ash_range.c) ---- */
struct sc {
	struct tnum t;
	int64_t smin, smax;
	uint64_t umin, umax;
	int32_t s32min, s32max;
	uint32_t u32min, u32max;
};

void sc_unknown(struct sc *s);
void sc_const(struct sc *s, uint64_t v);
void sc_bits(struct sc *s, unsigned bits); /* unknown in [0, 2^bits) */
int sc_sync(struct sc *s);                 /* -1 when empty */
int sc_is_const(const struct sc *s);
int sc_leq(const struct sc *a, const struct sc *b); /* a subset of b */
int sc_eq(const struct sc *a, const struct sc *b);
void sc_trunc(struct sc *s, unsigned bits);  /* zero-extend low bits */
void sc_sext(struct sc *s, unsigned bits);   /* sign-extend low bits */
/* ALU: d = d op b, 64-bit semantics of RFC 9669 (ASH_OP codes; signed
 * is off 1 of div/mod). */
void sc_alu(struct sc *d, const struct sc *b, unsigned op, int is_signed,
            int is32);
void sc_bswap(struct sc *d, unsigned bits, int to_be_or_swap);
/* Branch: does `a op b` (ASH_OP jump code, or OP_NSET) hold on some
 * value?  sc_refine narrows a and b to the values where it holds and
 * returns -1 when there are none. */
enum { OP_NSET = 0xf0 }; /* negation of jset: (a & b) == 0 */
int sc_refine(struct sc *a, struct sc *b, unsigned op, int is32);
unsigned op_negate(unsigned op);

/* ---- registers, stack, states (ash_state.c) ---- */
enum rtype {
	T_NOT_INIT = 0,
	T_SCALAR,
	T_CTX,
	T_PKT,
	T_PKT_END,
	T_PKT_META,
	T_MAP_PTR,
	T_MAP_VAL,
	T_MAP_VAL_OR_NULL,
	T_STACK,
	T_MEM,
	T_RB_REC,
	T_RB_REC_OR_NULL,
	T_FUNC,
	T_STALE, /* a packet pointer a helper invalidated */
};

struct reg {
	uint8_t type;   /* enum rtype */
	uint8_t frame;  /* T_STACK: frame index */
	uint16_t pad;
	int32_t off;    /* pointers: fixed offset */
	int32_t range;  /* T_PKT, T_PKT_META: proven bytes from base */
	uint32_t id;    /* pkt: variable-part id; *_OR_NULL, RB: id */
	uint32_t aux;   /* map index; T_FUNC: entry insn; RB: record size */
	struct sc s;    /* scalar value, or a pointer's variable offset */
};

/* One byte of stack. */
enum { SB_INVALID = 0, SB_MISC, SB_ZERO, SB_SPILL };

struct slot { /* stack bytes [-(i+1)*8, -i*8) of a frame, slot i */
	uint8_t b[8];   /* SB_*: b[k] is byte -(i+1)*8 + k */
	struct reg spill; /* valid when every b[k] is SB_SPILL */
};

struct state;

struct frame {
	struct reg r[11];
	uint32_t callsite; /* call insn that made this frame; ~0 for main */
	uint32_t entry;    /* first insn of its subprogram */
	uint64_t weight;   /* each insn counts this many (bpf_loop) */
	uint32_t nslots;
	uint32_t is_cb;    /* bpf_loop callback */
	struct slot *slots;
	struct state *cbsave; /* callback: the caller frames at entry; owned
	                         by venv.saves, shared by copies */
};

#define VFY_MAX_REFS 16
struct ref {
	uint32_t id, insn;
};

struct state {
	uint32_t nframes;
	uint32_t nrefs;
	struct frame *f[ASH_MAX_CALL_DEPTH];
	struct ref refs[VFY_MAX_REFS];
};

struct venv; /* the verifier's context (below) */

struct state *st_new(struct venv *e);
struct state *st_copy(struct venv *e, const struct state *s);
void st_free(struct venv *e, struct state *s);
struct frame *fr_new(struct venv *e);
int fr_grow(struct venv *e, struct frame *f, uint32_t nslots);
/* cur subset of old (pruning: every execution from cur is one from
 * old).  exact: equal up to renaming of ids. */
int st_leq(const struct state *cur, const struct state *old, int exact);
int st_leq_frames(const struct state *cur, const struct state *old,
                  uint32_t nframes);
uint32_t st_hash(const struct state *s);
/* Clear scalar ids only one register or spill holds. */
void st_clear_lone_ids(struct state *st);
void reg_scalar(struct reg *r, uint64_t v);
void reg_unknown(struct reg *r);
void reg_not_init(struct reg *r);
int reg_is_ptr(const struct reg *r);
const char *type_name(unsigned t);

/* ---- CFG (ash_cfg.c) ---- */
int cfg_check(struct venv *e);
/* Register liveness (venv.live), after cfg_check. */
int cfg_live(struct venv *e);

/* ---- the verifier's context ---- */
struct ckpt {
	struct state *st;
	struct ckpt *parent;
	struct ckpt *next; /* completed ones at the same insn */
	struct ckpt *hnext; /* hash chain (venv.htab) */
	uint64_t dist;     /* weighted insns from parent to here */
	uint64_t worst;    /* weighted insns from here to exit, when done */
	uint32_t branches; /* live paths or checkpoints below */
	uint32_t insn;
	uint32_t hash;
	uint32_t done;
};

struct path {
	struct state *st;
	struct ckpt *cp;
	uint64_t cnt; /* weighted insns since cp */
	uint32_t pc;
	uint32_t jmps; /* jumps since cp */
};

struct edge {
	uint32_t from, to; /* subprogram indexes */
};

struct venv {
	const struct ash_image *img;
	const struct vfy_ash_opts *opts;
	const struct dpf_host *host;
	struct vfy_ash_result *res;
	struct dpf_diag *diag;
	const struct ash_insn *ins;
	uint32_t n;
	uint64_t budget;
	uint32_t next_id;
	int nomem;
	/* CFG */
	uint8_t *prune;      /* n: 1 checkpoint here, 2 loop head */
	uint16_t *live;      /* n: registers read before written from here */
	uint32_t *sub;       /* n: subprogram index of each insn */
	uint32_t *subentry;  /* nsub: first insn */
	uint32_t nsub;
	uint32_t *subdepth;  /* nsub: deepest stack byte used */
	struct edge *edges;
	uint32_t nedges, capedges;
	/* exploration */
	struct ckpt **list;  /* n: completed checkpoints per insn */
	struct ckpt **htab;  /* every checkpoint by (insn, state hash) */
	uint32_t hmask;
	uint32_t *visits;    /* n: checkpoints made at each insn */
	struct ckpt root;
	struct path *pend;
	uint32_t npend, cappend;
	struct path cur;
	struct ckpt **cps;   /* every checkpoint, for freeing */
	uint32_t ncps, capcps;
	struct state **saves; /* callback entry states (frame.cbsave) */
	uint32_t nsaves, capsaves;
};

/* Refuse at insn with a formatted message (dpf_fmt): DPF_EINVAL. */
int vfy_fail(struct venv *e, uint32_t insn);
#define vfy_err(e, insn, ...)                                                \
	(dpf_fmt((e)->diag->msg, sizeof (e)->diag->msg, __VA_ARGS__),        \
	 vfy_fail((e), (insn)))
void *vfy_alloc(struct venv *e, size_t size);
void vfy_free(struct venv *e, void *p, size_t size);
int vfy_grow(struct venv *e, void **arr, uint32_t *cap, uint32_t need,
             size_t elem);

/* ---- memory (ash_mem.c) ---- */
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_ATOMIC = 2 };
int mem_insn(struct venv *e, struct state *st, uint32_t pc);
/* A helper's memory argument: size bytes in [smin,umax]+ ... at reg r. */
int mem_region(struct venv *e, struct state *st, uint32_t pc, unsigned regno,
               uint64_t size, int write, int uninit);
void pkt_invalidate(struct state *st);
struct frame *st_top(struct state *st);
int set_mem_fact(struct venv *e, uint32_t pc, unsigned kind);
/* Constant k[i] of slot pc (VFY_AK_*): r on this path (ash_check.c). */
void set_k_fact(struct venv *e, uint32_t pc, unsigned i, const struct reg *r);

/* ---- calls (ash_helpers.c) ---- */
int call_insn(struct venv *e, struct path *p);
int exit_insn(struct venv *e, struct path *p, int *done);
/* Drop record id: from the held records and every register. */
void release_ref(struct state *st, uint32_t id);

#endif
