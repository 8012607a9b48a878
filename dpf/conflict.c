/*
 * conflict.c - is a new path ambiguous with an installed one?
 *
 * Interface: dpf_conflict(engine, path, prio, spec, &other) returns 0 when
 * no installed path of equal priority and equal specificity can match a
 * packet the new path matches; 1 (ambiguous) or 2 (the very same path)
 * with the other filter's id.
 *
 * Rather than compare against every installed path, the search walks the
 * trie and enters only children the new path is compatible with: a table
 * on a field the path compares exactly is a single lookup, so inserting a
 * flow beside 10,000 others costs a walk down one branch.  Atoms are
 * related per base: the packet base, or a shift chain the walk and the
 * path share (the same SHIFT atoms since the last packet-based one).
 * Atoms on bases that cannot be related never rule a packet out, so the
 * answer errs on the side of "ambiguous", like dpf_paths_overlap().
 *
 * Only installed paths of the new path's priority can answer, so the
 * work is bounded by the cheaper of the walk and those paths (see
 * dpf_conflict): filters on fields the new one does not test, at other
 * priorities, cost nothing, and N such installs take O(N) checking.
 */
#include "dpf/trie.h"


struct pseg {
	struct dpf_atom chain[DPF_MAX_SHIFTS];
	uint32_t nchain, start, end; /* CMP atoms [start, end) */
};

struct walk {
	const struct dpf_engine *e;
	const struct dpf_path *p;
	uint32_t prio, spec;
	struct pseg seg[DPF_MAX_SHIFTS + 1]; /* seg[0]: packet base */
	uint32_t nseg;
	uint64_t budget; /* trie steps search() may still take */
	int32_t other;
};

/* Split a canonical path into its base segments. */
static void segments(struct walk *w)
{
	const struct dpf_path *p = w->p;
	uint32_t i = 0;
	w->seg[0].nchain = 0;
	w->seg[0].start = 0;
	while (i < p->natoms && p->atoms[i].kind == DPF_ATOM_CMP)
		i++;
	w->seg[0].end = i;
	w->nseg = 1;
	while (i < p->natoms && w->nseg <= DPF_MAX_SHIFTS) {
		struct pseg *prev = &w->seg[w->nseg - 1];
		struct pseg *s = &w->seg[w->nseg++];
		const struct dpf_atom *a = &p->atoms[i++];
		if (a->base == DPF_BASE_PKT || prev->nchain == 0) {
			s->nchain = 0;
		} else {
			s->nchain = prev->nchain;
			dpf_memcpy(s->chain, prev->chain, s->nchain * sizeof *a);
		}
		if (s->nchain < DPF_MAX_SHIFTS)
			s->chain[s->nchain++] = *a;
		s->start = i;
		while (i < p->natoms && p->atoms[i].kind == DPF_ATOM_CMP)
			i++;
		s->end = i;
	}
}

static const struct pseg *seg_for(const struct walk *w,
                                  const struct dpf_atom *chain, uint32_t n,
                                  uint32_t base)
{
	if (base == DPF_BASE_PKT)
		return &w->seg[0];
	for (uint32_t k = 1; k < w->nseg; k++) {
		const struct pseg *s = &w->seg[k];
		if (s->nchain != n)
			continue;
		uint32_t i = 0;
		while (i < n && dpf_atom_eq(&s->chain[i], &chain[i]))
			i++;
		if (i == n)
			return s;
	}
	return NULL;
}

/* Which atoms of the new path constrain the field of group key k, seen
 * through chain: over[] (returned count) all those that overlap it, *same
 * the one comparing exactly that field, if any. */
static uint32_t constraints(const struct walk *w, const struct dpf_atom *k,
                            const struct dpf_atom *chain, uint32_t nchain,
                            const struct dpf_atom **same,
                            const struct dpf_atom **over)
{
	const struct pseg *s = seg_for(w, chain, nchain, k->base);
	uint32_t nover = 0;
	uint32_t lo = k->offset, hi = lo + k->width;
	*same = NULL;
	for (uint32_t i = s ? s->start : 0; s && i < s->end; i++) {
		const struct dpf_atom *a = &w->p->atoms[i];
		if (a->offset >= hi || (uint32_t)a->offset + a->width <= lo)
			continue;
		if (a->offset == k->offset && a->width == k->width && a->mask == k->mask)
			*same = a;
		over[nover++] = a;
	}
	return nover;
}

/* 1 when entry value v of group key k can hold together with over[]. */
static int admits(const struct dpf_atom *k, uint32_t v,
                  const struct dpf_atom *const *over, uint32_t nover)
{
	struct dpf_atom probe = *k;
	probe.value = v;
	for (uint32_t i = 0; i < nover; i++)
		if (!dpf_atoms_compatible(&probe, over[i]))
			return 0;
	return 1;
}

/* The walk's state past entry v of group key k: the new path's atoms
 * matched so far in order (*nx, -1 once they differ) and the shift chain
 * (nc, *nn). */
static void step(const struct walk *w, const struct dpf_atom *k, uint32_t v,
                 const struct dpf_atom *chain, uint32_t nchain, int32_t exact,
                 struct dpf_atom *nc, uint32_t *nn, int32_t *nx)
{
	const struct dpf_path *p = w->p;
	*nx = -1;
	if (exact >= 0 && (uint32_t)exact < p->natoms &&
	    key_eq(&p->atoms[exact], k) &&
	    (k->kind == DPF_ATOM_SHIFT || p->atoms[exact].value == v))
		*nx = exact + 1;
	*nn = 0;
	if (k->kind != DPF_ATOM_SHIFT || (k->base == DPF_BASE_REL && nchain)) {
		dpf_memcpy(nc, chain, nchain * sizeof *chain);
		*nn = nchain;
	}
	if (k->kind == DPF_ATOM_SHIFT && *nn < DPF_MAX_SHIFTS)
		nc[(*nn)++] = *k;
}

static int search(struct walk *w, const struct node *n,
                  const struct dpf_atom *chain, uint32_t nchain, int32_t exact);

/* Enter child c of group g, entry value v. */
static int enter(struct walk *w, const struct gslot *g, uint32_t v,
                 const struct node *c, const struct dpf_atom *chain,
                 uint32_t nchain, int32_t exact)
{
	struct dpf_atom nc[DPF_MAX_SHIFTS];
	uint32_t nn;
	int32_t nx;
	step(w, &g->key, v, chain, nchain, exact, nc, &nn, &nx);
	return search(w, c, nc, nn, nx);
}

/* 0 nothing found, 1 or 2 as dpf_conflict, -1 out of budget. */
static int search(struct walk *w, const struct node *n,
                  const struct dpf_atom *chain, uint32_t nchain, int32_t exact)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b)
		return 0;
	if (w->budget-- == 0)
		return -1;
	for (uint32_t i = 0; i < b->nterms; i++) {
		const struct term *t = &b->terms[i];
		if (t->prio != w->prio || !atomic_load(&w->e->live[t->id]))
			continue;
		if (exact >= 0 && (uint32_t)exact == w->p->natoms) {
			w->other = t->id;
			return 2;
		}
		if (t->spec == w->spec) {
			w->other = t->id;
			return 1;
		}
	}
	uint32_t ng = atomic_load_explicit(&((struct body *)b)->ngroups,
	                                   memory_order_relaxed);
	for (uint32_t gi = 0; gi < ng; gi++) {
		const struct gslot *g = &b->g[gi];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		int r;
		if (g->key.kind == DPF_ATOM_SHIFT) {
			const struct node *c = gs_find(g, 0);
			if (c && (r = enter(w, g, 0, c, chain, nchain, exact)))
				return r;
			continue;
		}
		const struct dpf_atom *same;
		const struct dpf_atom *over[DPF_MAX_ATOMS];
		uint32_t nover = constraints(w, &g->key, chain, nchain, &same, over);
		if (same) {
			const struct node *c = gs_find(g, same->value);
			if (c && (r = enter(w, g, same->value, c, chain, nchain, exact)))
				return r;
			continue;
		}
		uint32_t cap = t ? t->cap : 1;
		if (w->budget < cap)
			return -1;
		w->budget -= cap;
		for (uint32_t k = 0; k < cap; k++) {
			const struct node *c =
				t ? LOAD(((struct table *)t)->s[k].child) : g->c1;
			if (!c || c == TOMB)
				continue;
			uint32_t v = t ? t->s[k].value : g->v1;
			if (!admits(&g->key, v, over, nover))
				continue;
			if ((r = enter(w, g, v, c, chain, nchain, exact)))
				return r;
		}
	}
	return 0;
}

/* What search() finds at the end of installed path q, without walking
 * the trie: q's route is admitted step by step by the rules search()
 * enters children by.  0: not reached; 1: reached; 2: reached along
 * exactly the new path. */
static int reaches(const struct walk *w, const struct dpf_path *q)
{
	struct dpf_atom chain[DPF_MAX_SHIFTS], nc[DPF_MAX_SHIFTS];
	uint32_t nchain = 0, nn;
	int32_t exact = 0, nx;
	for (uint32_t i = 0; i < q->natoms; i++) {
		struct dpf_atom k = q->atoms[i];
		uint32_t v = dpf_atom_key_value(&k);
		k.value = 0;
		if (k.kind != DPF_ATOM_SHIFT) {
			const struct dpf_atom *same;
			const struct dpf_atom *over[DPF_MAX_ATOMS];
			uint32_t nover = constraints(w, &k, chain, nchain, &same, over);
			if (same ? same->value != v : !admits(&k, v, over, nover))
				return 0;
		}
		step(w, &k, v, chain, nchain, exact, nc, &nn, &nx);
		dpf_memcpy(chain, nc, nn * sizeof *nc);
		nchain = nn;
		exact = nx;
	}
	return exact >= 0 && (uint32_t)exact == w->p->natoms ? 2 : 1;
}

/* 1 when some installed path of the new path's priority makes search()
 * answer nonzero: every path of every filter of that priority, each
 * checked by reaches(). */
static int any_candidate(const struct walk *w)
{
	const struct dpf_engine *e = w->e;
	for (int32_t id = e->prios[w->prio].head; id >= 0;
	     id = e->recs[id]->prio_next) {
		const struct frec *r = e->recs[id];
		if (!atomic_load(&e->live[id]))
			continue;
		for (uint32_t q = 0; q < r->f.npaths; q++) {
			int x = reaches(w, &r->f.paths[q]);
			if (x == 2 || (x == 1 && r->spec[q] == w->spec))
				return 1;
		}
	}
	return 0;
}

/*
 * Only terms of the new path's priority can make it ambiguous, and the
 * engine lists the filters of each priority.  None: no conflict.  Else
 * the cheaper of two exact methods: the walk, given a budget of trie
 * steps; past it, each candidate is checked alone, and only when one
 * conflicts does the walk run to the end, so the filter reported is the
 * one the walk meets first.
 */
int dpf_conflict_budget(const struct dpf_engine *e, const struct dpf_path *p,
                        uint32_t prio, uint32_t spec, int32_t *other,
                        uint64_t budget)
{
	struct walk w;
	w.e = e;
	w.p = p;
	w.prio = prio;
	w.spec = spec;
	w.other = -1;
	*other = -1;
	if (e->prios[prio].npaths == 0)
		return 0;
	segments(&w);
	w.budget = budget;
	int r = search(&w, e->root, NULL, 0, 0);
	if (r < 0) {
		if (!any_candidate(&w))
			return 0;
		w.budget = UINT64_MAX;
		w.other = -1;
		r = search(&w, e->root, NULL, 0, 0);
	}
	*other = w.other;
	return r;
}

/* The walk's budget: in proportion to the candidates' paths, which is
 * what checking them alone costs. */
int dpf_conflict(const struct dpf_engine *e, const struct dpf_path *p,
                 uint32_t prio, uint32_t spec, int32_t *other)
{
	uint64_t cand = e->prios[prio].npaths;
	return dpf_conflict_budget(e, p, prio, spec, other,
	                           64 + 8 * cand * (p->natoms + 1));
}

/* ---- overlap search (secure binding) ---- */

/*
 * dpf_overlapping() walks the trie as dpf_paths_overlap() relates two
 * paths: the packet segment of the route against the new path's, and the
 * route's k-th shift segment against the new path's k-th only while the
 * route's shifts so far equal the new path's, in order (lock = k; -1 once
 * they differ, after which nothing rules a packet out).  A child is
 * entered when its atom is compatible with the related segment, so the
 * installed paths reached are exactly those dpf_paths_overlap() accepts.
 */
struct ovwalk {
	struct walk w; /* w.seg: the new path's segments */
	int (*fn)(void *ctx, int id);
	void *ctx;
};

static int ov_search(struct ovwalk *o, const struct node *n, int32_t lock)
{
	struct walk *w = &o->w;
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b)
		return 0;
	for (uint32_t i = 0; i < b->nterms; i++) {
		const struct term *t = &b->terms[i];
		int r;
		if (atomic_load(&w->e->live[t->id]) && (r = o->fn(o->ctx, t->id)))
			return r;
	}
	uint32_t ng = atomic_load_explicit(&((struct body *)b)->ngroups,
	                                   memory_order_relaxed);
	for (uint32_t gi = 0; gi < ng; gi++) {
		const struct gslot *g = &b->g[gi];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		int r;
		if (g->key.kind == DPF_ATOM_SHIFT) {
			const struct node *c = gs_find(g, 0);
			int32_t nl = -1;
			if (lock >= 0 && (uint32_t)lock + 1 < w->nseg &&
			    dpf_atom_eq(&w->p->atoms[w->seg[lock + 1].start - 1], &g->key))
				nl = lock + 1;
			if (c && (r = ov_search(o, c, nl)))
				return r;
			continue;
		}
		const struct dpf_atom *same = NULL;
		const struct dpf_atom *over[DPF_MAX_ATOMS];
		uint32_t nover = 0;
		if (lock >= 0) {
			const struct pseg *s = &w->seg[lock];
			uint32_t lo = g->key.offset, hi = lo + g->key.width;
			for (uint32_t i = s->start; i < s->end; i++) {
				const struct dpf_atom *a = &w->p->atoms[i];
				if (a->offset >= hi || (uint32_t)a->offset + a->width <= lo)
					continue;
				if (a->offset == g->key.offset && a->width == g->key.width &&
				    a->mask == g->key.mask)
					same = a;
				over[nover++] = a;
			}
		}
		if (same) {
			const struct node *c = gs_find(g, same->value);
			if (c && (r = ov_search(o, c, lock)))
				return r;
			continue;
		}
		uint32_t cap = t ? t->cap : 1;
		for (uint32_t k = 0; k < cap; k++) {
			const struct node *c =
				t ? LOAD(((struct table *)t)->s[k].child) : g->c1;
			if (!c || c == TOMB)
				continue;
			uint32_t v = t ? t->s[k].value : g->v1;
			if (nover && !admits(&g->key, v, over, nover))
				continue;
			if ((r = ov_search(o, c, lock)))
				return r;
		}
	}
	return 0;
}

int dpf_overlapping(const struct dpf_engine *e, const struct dpf_path *p,
                    int (*fn)(void *ctx, int id), void *ctx)
{
	struct ovwalk o;
	o.w.e = e;
	o.w.p = p;
	o.w.prio = 0;
	o.w.spec = 0;
	o.w.other = -1;
	o.w.budget = UINT64_MAX;
	o.fn = fn;
	o.ctx = ctx;
	segments(&o.w);
	return ov_search(&o, e->root, 0);
}
