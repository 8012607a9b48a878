/*
 * trie.h - private layout of the merged filter trie and the engine.
 *
 *   node ──body──► body {terms[nterms], gslot[ngroups]}   immutable
 *   gslot {key atom, v1, c1, tab}     one field compared at this node
 *   tab ──► table {kind, cap, slot[cap]}, slot {value, child node}
 *
 * A node's body holds the paths that end there (terms, best first) and,
 * inline, one gslot per field compared next: alternatives on different
 * fields are siblings.  A gslot with one entry keeps it inline (v1 -> c1,
 * tab NULL) so a straight run of atoms costs two loads per atom; a second
 * entry makes a table, and the gslot keeps that table from then on.  A
 * SHIFT gslot has one entry, value 0, whose child sees the new base.
 * Tables are LIST (cap 1 or 4, scanned) or HASH (open addressing, power of
 * two cap, linear probing, load <= 3/4); they grow, shrink and demote by
 * rebuilding.
 *
 * Concurrency invariant: readers follow only pointers loaded with acquire;
 * the writer changes what readers see by exactly one release store per
 * path (a slot's child, a gslot's table, a node's body), of an object it
 * fully built first.  Slot reuse would let a reader pair an old
 * value with a new child, so a deleted slot becomes TOMB until its table
 * is rebuilt.  What the writer unlinks is retired and freed once every
 * reader that might hold it has left (epochs, see rcu in trie.c).
 */
#ifndef DPF_TRIE_H
#define DPF_TRIE_H

#include <stdatomic.h>

#include "dpf/internal.h"

/* Every trie object starts with this, so retiring never allocates. */
struct rhdr {
	struct rhdr *next;
	uint64_t epoch;
	size_t size;
	int32_t release_id; /* id that becomes reusable when this is freed */
	/* Frees the object after the grace period; NULL: host free of size. */
	void (*dtor)(struct dpf_engine *e, struct rhdr *h);
};

/*
 * A back end that compiles the trie (the x86 JIT).  The engine calls
 * update() with the canonical paths of each filter it inserts or deletes
 * (and of an insert it rolled back), after the trie changed and before the
 * update ends, so what the back end unlinks retires in the same grace
 * period as the trie objects.  update() never fails the trie update: on
 * failure the back end sets exec to NULL and the interpreter takes over.
 */
struct dpf_backend {
	void (*update)(struct dpf_backend *be, struct dpf_engine *e,
	               const struct dpf_filter *f);
	void (*destroy)(struct dpf_backend *be, struct dpf_engine *e);
};

struct term {
	int32_t id;
	uint32_t prio, spec;
};

struct node;

struct slot {
	uint32_t value;
	_Atomic(struct node *) child; /* NULL: empty; TOMB: deleted */
};

enum { TAB_LIST = 0, TAB_HASH = 1 };
#define TAB_LIST_MAX 4   /* more entries: hash */
#define TAB_DEMOTE 2     /* a hash falling to this many entries: list */
#define TAB_HASH_MIN 8

struct table {
	struct rhdr h;
	uint32_t kind, cap, count, tombs;
	uint32_t hshift; /* HASH: 32 - log2(cap) */
	struct slot s[];
};

struct gslot {
	struct dpf_atom key;          /* value 0 */
	uint32_t v1;                  /* the entry while tab is NULL */
	struct node *c1;
	_Atomic(struct table *) tab;  /* set once a second entry arrives */
};

/*
 * A body's groups can grow in place: g[] has room for gcap gslots, and
 * appending one writes g[ngroups] and then publishes ngroups + 1 with a
 * release store (readers load ngroups with acquire, and never look past
 * it).  Terms never change in place.  gcap is body_gcap(ngroups) of the
 * body's size when it was built, so appends cost amortised O(1).
 *
 * Writer side only: a body of more than GIX_MIN groups carries gix, an
 * open-addressing index (gixcap slots, power of two, at most half full)
 * from a field to its group: slot = group index + 1, 0 = empty.
 */
#define GIX_MIN 8

struct body {
	struct rhdr h;
	uint32_t nterms;
	_Atomic uint32_t ngroups;
	uint32_t gcap, gixcap;
	uint32_t *gix;      /* inside this allocation, after terms[]; or NULL */
	struct term *terms; /* inside this allocation, after g[gcap] */
	struct gslot g[];
};

/* Room for n groups: exact up to 4, then the next power of two. */
static inline uint32_t body_gcap(uint32_t n)
{
	if (n <= 4)
		return n;
	uint32_t c = 8;
	while (c < n)
		c *= 2;
	return c;
}

struct node {
	struct rhdr h;
	_Atomic(struct body *) body; /* NULL: nothing here (root only) */
};

#define TOMB ((struct node *)(uintptr_t)1)

/* Installed filter, writer side. */
struct frec {
	struct dpf_filter f; /* canonical, deduplicated paths */
	uint32_t *spec;      /* per path */
	int32_t next_name;   /* name hash chain */
	int32_t prio_next, prio_prev; /* installed filters of its priority */
};

/* Installed filters of one priority (for dpf_conflict): a list through
 * frec.prio_next/prio_prev, and how many paths they have. */
struct prio_list {
	int32_t head; /* -1: none */
	uint32_t npaths;
};

struct rslot {
	_Atomic uint64_t epoch; /* 0: outside a read section */
	_Atomic int used;
	char pad[64 - sizeof(uint64_t) - sizeof(int)];
};

struct dpf_reader {
	struct dpf_engine *e;
	struct rslot *slot;
};

struct dpf_engine {
	struct dpf_host host;
	struct node *root;
	_Atomic uint8_t *live;  /* [DPF_MAX_FILTERS], read by classifiers */
	_Atomic uint64_t epoch; /* starts at 1 */
	struct rslot readers[DPF_MAX_READERS];

	/* writer side */
	struct frec **recs;
	uint32_t nrecs, caprecs, count;
	int32_t *freeids;
	uint32_t nfree, capfree;
	int32_t *names; /* name hash buckets: id or -1 */
	struct prio_list *prios; /* [DPF_PRIO_MAX + 1] */
	uint32_t nbuckets;
	struct rhdr *pending;        /* unlinked by the current update */
	struct rhdr *retired, **rtail; /* waiting for readers, epoch order */
	uint32_t nretired;
	uint32_t zombies; /* deletes that left unreachable terms (ENOMEM) */
	struct dpf_backend *be;     /* attached back end, or NULL */
	_Atomic(dpf_exec_fn) exec;  /* its current code; NULL: interpreter */
};

/*
 * Is canonical path p (priority prio, specificity spec) ambiguous with an
 * installed one?  0 no; 1 ambiguous, 2 the very same path, with the other
 * filter's id in *other (conflict.c).  dpf_conflict_budget() lets the
 * trie walk take `budget` steps before it checks the candidates alone
 * (UINT64_MAX: the walk only; 0: the candidates first); every budget
 * gives the same answer, which tests check.
 */
int dpf_conflict(const struct dpf_engine *e, const struct dpf_path *p,
                 uint32_t prio, uint32_t spec, int32_t *other);
int dpf_conflict_budget(const struct dpf_engine *e, const struct dpf_path *p,
                        uint32_t prio, uint32_t spec, int32_t *other,
                        uint64_t budget);

/* Writer side: hand an unlinked object to the grace-period machinery. */
void dpf_retire(struct dpf_engine *e, struct rhdr *h);
/* End an update made outside dpf_insert/dpf_delete (attaching or
 * detaching a back end): start the grace period of what it retired. */
void dpf_update_end(struct dpf_engine *e);
/* Index of the group of body b comparing a's field, or -1. */
int dpf_find_group(const struct body *b, const struct dpf_atom *a);
/* Value a group's table holds for atom a (0 for a SHIFT). */
static inline uint32_t dpf_atom_key_value(const struct dpf_atom *a)
{
	return a->kind == DPF_ATOM_SHIFT ? 0 : a->value;
}

/* Multiplicative hashing: the top log2(cap) bits of v * golden ratio. */
static inline uint32_t tab_hash(uint32_t v, const struct table *t)
{
	return (uint32_t)(v * 0x9E3779B1u) >> t->hshift;
}

/* Reader-side lookup: child for value v, or NULL. */
static inline struct node *tab_find(const struct table *t, uint32_t v)
{
	if (t->kind == TAB_LIST) {
		for (uint32_t i = 0; i < t->cap; i++) {
			struct node *c = atomic_load_explicit(
				&((struct table *)t)->s[i].child, memory_order_acquire);
			if (c && c != TOMB && t->s[i].value == v)
				return c;
		}
		return NULL;
	}
	for (uint32_t i = tab_hash(v, t);; i = (i + 1) & (t->cap - 1)) {
		struct node *c = atomic_load_explicit(
			&((struct table *)t)->s[i].child, memory_order_acquire);
		if (!c)
			return NULL;
		if (c != TOMB && t->s[i].value == v)
			return c;
	}
}

#define LOAD(p) atomic_load_explicit(&(p), memory_order_acquire)

/* Reader-side lookup in a gslot: the table once there is one, else the
 * inline entry (a table never goes back to NULL, so c1 is then unused). */
static inline struct node *gs_find(const struct gslot *g, uint32_t v)
{
	const struct table *t = LOAD(((struct gslot *)g)->tab);
	if (t)
		return tab_find(t, v);
	return g->v1 == v ? g->c1 : NULL;
}

/* Key equality: the field a group compares. */
static inline int key_eq(const struct dpf_atom *a, const struct dpf_atom *k)
{
	return a->kind == k->kind && a->base == k->base && a->width == k->width &&
	       a->offset == k->offset && a->mask == k->mask &&
	       a->shift == k->shift;
}

/* Ranking of two candidates; 1 when (p, s, id) beats the current best. */
static inline int dpf_better(uint32_t p, uint32_t s, int32_t id, uint32_t bp,
                             uint32_t bs, int32_t bid)
{
	if (bid < 0)
		return 1;
	if (p != bp)
		return p > bp;
	if (s != bs)
		return s > bs;
	return id < bid;
}


#endif
