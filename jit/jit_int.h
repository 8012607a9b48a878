/*
 * jit_int.h - private structures of the x86-64 back end.
 *
 * The generated code is cut into units.  A unit is the code for the
 * subtree of one trie node, down to (not into) the children of hash
 * dispatches: each entry of a hash dispatch calls its child's own unit
 * through a jump table held as data.  So
 *
 *   top unit (prologue, root subtree, epilogue)  --entry: engine->exec
 *     hash dispatch: jslot[] {value, target} --call--> child unit ... ret
 *
 * Every unit keeps a mirror of the trie it was compiled from (jnode: the
 * node and body pointers, the best live term, per group the entries it
 * compiled).  An update walks each changed path through the trie and the
 * mirrors together and finds the first unit that no longer matches:
 *   - an entry added to or removed from a hash dispatch changes data only
 *     (a new child unit, a slot's target stored once);
 *   - anything else regenerates that one unit, reusing its child units,
 *     and publishes it with one store (its parent's slot, or exec).
 * A unit, its mirror and its jump tables never change once published
 * except for slot stores; what an update replaces is retired through the
 * engine's grace period (rhdr dtor).
 *
 * Fused dispatch (plan.c): when the subtree below a hash dispatch has
 * few shapes, its children get no code at all: one table per shape maps
 * the fused key (the dispatched value, then the values the shape
 * compares) to the term key of the node it reaches, and one copy of each
 * shape's steps computes the key from the packet.  Adding or removing a
 * filter writes one record.
 *
 * Slots: word 0 (unit: target; fused: term key) is 0 when empty and
 * ends a probe.  A removed entry keeps its value; unit mode points it at
 * the shared `ret` stub and a later insert of the same value stores the
 * target again; fused mode sets the key to JT_REMOVED, which probes
 * step over, and a record is never rewritten in place except for its key
 * (one 8-byte store): a new record goes to an empty slot.  x86 keeps stores in order and loads in order:
 * the writer stores value and tail, then word 0; the code loads word 0
 * first.
 */
#ifndef DPF_JIT_INT_H
#define DPF_JIT_INT_H

#include "dpf/trie.h"
#include "jit/jit.h"
#include "jit/x86.h"

#define JIT_CHAIN 8  /* entries compared in a chain; more: hash dispatch */
#define JIT_DEMOTE 3 /* a hash dispatch down to this many: regenerate */
/* Likely alternatives first: a chain is compared heaviest entry first,
 * an entry's weight being the live filters under it (jit_weight).  An
 * entry that grows past twice the weight of the one compared before it,
 * or shrinks below half the one after it, regenerates its unit. */
#define JIT_WEIGHT_VISITS 64 /* trie nodes one weight may look at */

/* A jump-table slot as the generated code reads it; slots are `stride`
 * bytes apart. */
struct jslot {
	uint64_t w;      /* unit mode: child's code; fused: term key; 0 empty */
	uint32_t value;  /* the dispatched field's value (host order) */
	uint32_t tail[]; /* fused: the shape's values, packet byte order */
};

#define JT_REMOVED 1 /* fused key of a removed record: never a match */
#define TAIL_MAX 6   /* steps of a shape */
#define TAIL_CMP 5   /* of which comparisons (record of 32 bytes) */
#define SHAPE_MAX 8  /* shapes of one fused dispatch; more: unit mode */
#define JIT_PROBE_MAX 32 /* slots a seeded lookup examines at most */
#define JIT_SEED_MULT 0x9E3779B97F4A7C15ull /* the seeded hash's multiplier */

/* A shape: the steps (fields, SHIFTs) from a fused dispatch's child down
 * to a node with a live term, without their values. */
struct tshape {
	uint32_t n, ncmp;
	struct dpf_atom step[TAIL_MAX]; /* CMP values unused */
};

struct unit;

/*
 * A dispatch table.  Unit mode: value -> child unit.  Fused mode (one
 * table per shape): (value, tail values) -> term key, the fused key of
 * every path of that shape below the dispatch.  The home slot of a key
 * is jh_home(): direct (value - base), a multiplicative hash of the value
 * (perfect where the multiplier was chosen so), or the seeded hash of the
 * fused key; a seeded table is at most half full and keeps every record
 * within JIT_PROBE_MAX - 1 slots of its home, so lookups are bounded
 * whatever keys the filters carry.
 */
struct jhash {
	struct jhash *next; /* in the owning unit's list */
	struct unit *owner;
	uint32_t cap, lg, count, tombs;
	uint32_t stride;      /* bytes per slot: 16 or 32 */
	int fused;            /* fused mode: slots are records of shape */
	int noloop;           /* every entry in its home slot: no probe loop */
	int direct;           /* dense keys: slot = value - base, no hash */
	int seeded;           /* the seeded hash (fused mode, with a loop) */
	uint32_t base;
	uint32_t mult, seed;  /* hash: see jh_home */
	uint8_t *data;        /* slots, read by the generated code */
	struct unit **units;  /* unit mode, writer side, parallel to slots */
	struct tshape shape;  /* fused mode */
};

static inline struct jslot *jh_slot(const struct jhash *h, uint32_t i)
{
	return (struct jslot *)(h->data + (size_t)i * h->stride);
}

static inline size_t jh_bytes(const struct jhash *h)
{
	return (size_t)h->cap * h->stride;
}

/* A chain compares in code; a hash dispatches to child units; a fused
 * dispatch looks up one table per shape (tabs[n]). */
enum { JG_CHAIN, JG_HASH, JG_FUSED };

struct jgroup {
	struct dpf_atom key;
	uint32_t kind, n;
	uint32_t *vals;      /* JG_CHAIN (a SHIFT is one entry, value 0),
	                      * in the order compared */
	uint32_t *w;         /* JG_CHAIN: each entry's weight when compiled */
	struct jnode **kids;
	struct jhash *hash;  /* JG_HASH */
	struct jhash **tabs; /* JG_FUSED: n tables, one per shape */
};

struct jnode {
	const struct node *n;
	const struct body *b; /* compiled from; NULL: empty node */
	int32_t best;         /* best live term compiled, -1 */
	uint32_t ngroups;
	struct jgroup *g;
};

/* Bump arena of one unit's mirror, freed with it. */
struct jchunk {
	struct jchunk *next;
	uint32_t used, cap;
	uint8_t mem[];
};

/* A block of code memory: the same bytes seen writable and executable. */
struct cblock {
	uint8_t *rw, *rx;
	uint32_t size; /* of the block (its size class or mapping) */
};

struct unit {
	struct rhdr h;
	struct dpf_jit *j;
	struct cblock code;
	uint32_t len;         /* bytes of code used */
	const struct node *root;
	uint32_t depth;       /* atoms of a path consumed above root */
	struct jnode *top;
	struct jhash *parent; /* holds this unit's address; NULL: top */
	uint32_t pslot;       /* in parent->slots */
	struct jhash *hashes; /* dispatches inside this unit */
	struct jchunk *arena;
	struct jit_note *notes; /* with JIT_NOTES, in the arena */
	uint32_t nnotes, capnotes;
};

/* Code memory: size classes over chunks mapped through struct jit_mem. */
#define CM_CLASSES 12        /* 64 B .. 128 KiB */
#define CM_CHUNK (256u << 10) /* mapped at a time */

struct cfree {
	struct cblock *b;
	uint32_t n, cap;
};

struct cmap { /* one mapping, for teardown */
	struct cmap *next;
	uint8_t *rw, *rx;
	size_t size;
};

struct codemem {
	const struct dpf_host *h;
	struct jit_mem mem;
	struct cfree free[CM_CLASSES];
	struct cmap *maps;
	uint8_t *bump_rw, *bump_rx; /* rest of the current chunk */
	size_t bump_left;
	size_t mapped, used;
};

int cm_alloc(struct codemem *m, uint32_t size, struct cblock *out);
void cm_free(struct codemem *m, const struct cblock *b);
void cm_destroy(struct codemem *m);

struct dpf_jit {
	struct dpf_backend be; /* first: the engine sees this */
	struct rhdr h;         /* retires the whole back end on detach */
	struct dpf_engine *e;
	unsigned flags;
	struct codemem cm;
	struct cblock stub;    /* `ret`: target of removed slots */
	struct unit *top;
	struct sink s;         /* reused by every compilation */
	int broken;            /* code generation failed: interpreter runs */
	char why[160];
	uint64_t rng;          /* hash seeds (plan.c) */
	struct jit_stats st;
};

/* x86_emit.c: compile the subtree of n as a unit.  old, when not NULL, is
 * the unit being replaced: its child units are reused where the trie
 * still holds the same node.  NULL on failure (j->why says why); nothing
 * is published. */
struct unit *jit_unit_build(struct dpf_jit *j, const struct node *n,
                            uint32_t depth, const struct unit *old);
/* Free a unit that was never published, and its new descendants. */
void jit_unit_discard(struct dpf_jit *j, struct unit *u);
/* Retire a published unit and every child unit still attached to it. */
void jit_unit_retire(struct dpf_jit *j, struct unit *u);
/* Free a unit's tree now (teardown). */
void jit_unit_free_tree(struct dpf_jit *j, struct unit *u);
/* ---- plan.c: target-neutral decisions ---- */

/* Best live term of a body, or -1. */
int32_t jit_best(const struct dpf_engine *e, const struct body *b);
/* The 64-bit key the code ranks candidates by (see x86_emit.c). */
uint64_t jit_term_key(const struct term *t);
/* The estimated traffic under node n: the live filter paths that end in
 * its subtree.  A hash dispatch counts its entries without looking below
 * them, and past JIT_WEIGHT_VISITS nodes each entry counts once, so the
 * cost is bounded whatever the trie. */
uint32_t jit_weight(const struct dpf_engine *e, const struct node *n);
/* 1 when a chain whose entry x now weighs w is out of order enough to
 * recompile (the hysteresis described by
 * JIT_WEIGHT_VISITS). */
int jit_chain_stale(const struct jgroup *jg, uint32_t x, uint32_t w);
int jit_shape_eq(const struct tshape *a, const struct tshape *b);

static inline uint32_t jit_bswap(uint32_t v, unsigned width)
{
	if (width == 1)
		return v;
	if (width == 2)
		return (v >> 8 & 0xff) | (v & 0xff) << 8;
	return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

/* A record of a fused dispatch, as planned: shape index, key, term key. */
struct frec_plan {
	uint32_t shape, value;
	uint32_t tail[TAIL_CMP];
	uint64_t key;
};

/* Key fusion for the children kids[cnt] (values vals) of a dispatch:
 * every node below them with a live term becomes a record of its shape.
 * shapes/nshapes and recs/nrecs (host-allocated, capacity *caprecs) are
 * filled in.  Returns 1 when fusable, 0 when not (more than SHAPE_MAX
 * shapes, or a shape past TAIL_MAX/TAIL_CMP), DPF_ENOMEM on failure. */
struct fplan {
	struct tshape shape[SHAPE_MAX];
	uint32_t nshapes, count[SHAPE_MAX];
	struct frec_plan *recs;
	uint32_t nrecs, caprecs;
};
int jit_fuse_plan(const struct dpf_engine *e, const uint32_t *vals,
                  const struct node *const *kids, uint32_t cnt,
                  struct fplan *p);
void jit_fuse_plan_free(const struct dpf_host *h, struct fplan *p);
/* Choose the form of fused table h for shape si of p (direct, perfect
 * hash, or a seeded hash with bounded probes), allocate its slots and
 * place the records.  DPF_OK, or DPF_ENOMEM (also when no seed keeps
 * the probes bounded: the dispatch then takes unit mode). */
int jit_fuse_table(struct dpf_jit *j, const struct fplan *p, uint32_t si,
                   struct jhash *h);
/* Unit mode: size a table for vals and choose its form. */
int jit_hash_form(const struct dpf_host *host, struct jhash *h,
                  const uint32_t *vals, uint32_t cnt);
/* The home slot of (v, tail): tail is read only by a fused table of a
 * shape with comparisons. */
static inline uint32_t jh_home(const struct jhash *h, uint32_t v,
                               const uint32_t *tail)
{
	if (h->direct) /* out of range: some slot, whose value is not v */
		return (v - h->base) & (h->cap - 1);
	if (!h->seeded)
		return (uint32_t)(v * h->mult) >> (32 - h->lg);
	/* x = ((v ^ seed) << 32 | t0) * C, then per further tail value t:
	 * x ^= x >> 32, x = (x ^ t) * C; the top lg bits */
	uint32_t n = h->shape.ncmp;
	uint64_t x = ((uint64_t)(v ^ h->seed) << 32 | (n ? tail[0] : 0)) *
	             JIT_SEED_MULT;
	for (uint32_t i = 1; i < n; i++) {
		x ^= x >> 32;
		x = (x ^ tail[i]) * JIT_SEED_MULT;
	}
	return (uint32_t)(x >> (64 - h->lg));
}

#endif
