/*
 * interp.c - the trie interpreter (dpf_classify_interp; dpf_classify runs
 * an attached back end's code instead while it is current) and the naive reference
 * evaluator (dpf_classify_naive), which must always agree.
 *
 * The interpreter walks the trie depth first.  At a node it considers the
 * terms whose filter is live, then every group: it loads the group's field
 * (a load past the packet length skips the group, failing every path
 * through it), looks the masked value up in the group's table and descends
 * into the one child that can match.  Sibling groups compare different
 * fields, so several may match and all are walked; the best candidate by
 * (priority, specificity, lower id) wins.
 *
 * The naive evaluator runs each installed path alone (dpf_path_match) and
 * applies the same ranking: it shares no code with the trie walk beyond
 * the load helper, so the property tests compare two implementations.
 */
#include "dpf/trie.h"

struct best {
	int32_t id;
	uint32_t prio, spec;
};

static void walk(const struct dpf_engine *e, const struct node *n,
                 const uint8_t *pkt, uint64_t len, uint64_t base,
                 struct best *b)
{
	for (;;) {
		const struct body *bd = LOAD(((struct node *)n)->body);
		if (!bd)
			return;
		for (uint32_t i = 0; i < bd->nterms; i++) {
			const struct term *t = &bd->terms[i];
			if (!atomic_load_explicit(&e->live[t->id], memory_order_acquire))
				continue;
			if (dpf_better(t->prio, t->spec, t->id, b->prio, b->spec, b->id)) {
				b->id = t->id;
				b->prio = t->prio;
				b->spec = t->spec;
			}
			break; /* sorted best first: later terms cannot win here */
		}
		/* Walk every matching sibling; the last one by iteration, not
		 * recursion, so a straight run of atoms is a loop. */
		const struct node *next = NULL;
		uint64_t next_base = base;
		uint32_t ng = atomic_load_explicit(&((struct body *)bd)->ngroups,
		                                   memory_order_acquire);
		for (uint32_t i = 0; i < ng; i++) {
			const struct gslot *g = &bd->g[i];
			const struct dpf_atom *k = &g->key;
			int ok = 1;
			uint64_t from = k->base == DPF_BASE_PKT ? 0 : base;
			uint32_t v = dpf_ld(pkt, len, from + k->offset, k->width, &ok);
			if (!ok)
				continue;
			const struct node *c;
			uint64_t nb = base;
			if (k->kind == DPF_ATOM_SHIFT) {
				c = gs_find(g, 0);
				nb = dpf_shift_base(k, base, v);
			} else {
				c = gs_find(g, v & k->mask);
			}
			if (!c)
				continue;
			if (next)
				walk(e, next, pkt, len, next_base, b);
			next = c;
			next_base = nb;
		}
		if (!next)
			return;
		n = next;
		base = next_base;
	}
}

int dpf_classify(const struct dpf_engine *e, const uint8_t *pkt, size_t len)
{
	dpf_exec_fn fn = atomic_load_explicit(&((struct dpf_engine *)e)->exec,
	                                      memory_order_acquire);
	if (fn)
		return fn(pkt, len);
	return dpf_classify_interp(e, pkt, len);
}

dpf_exec_fn dpf_exec(const struct dpf_engine *e)
{
	return atomic_load_explicit(&((struct dpf_engine *)e)->exec,
	                            memory_order_acquire);
}

int dpf_classify_interp(const struct dpf_engine *e, const uint8_t *pkt,
                        size_t len)
{
	struct best b = {DPF_NOMATCH, 0, 0};
	walk(e, e->root, pkt, len, 0, &b);
	return b.id;
}

int dpf_classify_naive(const struct dpf_engine *e, const uint8_t *pkt,
                       size_t len)
{
	struct best b = {DPF_NOMATCH, 0, 0};
	for (uint32_t id = 0; id < e->nrecs; id++) {
		const struct frec *r = e->recs[id];
		if (!r || !atomic_load(&e->live[id]))
			continue;
		for (uint32_t p = 0; p < r->f.npaths; p++) {
			if (!dpf_better(r->f.priority, r->spec[p], (int32_t)id, b.prio,
			                b.spec, b.id))
				continue;
			if (dpf_path_match(&r->f.paths[p], pkt, len)) {
				b.id = (int32_t)id;
				b.prio = r->f.priority;
				b.spec = r->spec[p];
			}
		}
	}
	return b.id;
}
