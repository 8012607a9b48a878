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
 */
#include "dpf/trie.h"

int dpf_conflict(const struct dpf_engine *e, const struct dpf_path *p,
                 uint32_t prio, uint32_t spec, int32_t *other);

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

static int search(struct walk *w, const struct node *n,
                  const struct dpf_atom *chain, uint32_t nchain, int32_t exact);

/* Enter child c of group g, entry value v. */
static int enter(struct walk *w, const struct gslot *g, uint32_t v,
                 const struct node *c, const struct dpf_atom *chain,
                 uint32_t nchain, int32_t exact)
{
	const struct dpf_path *p = w->p;
	int32_t nx = -1;
	if (exact >= 0 && (uint32_t)exact < p->natoms &&
	    key_eq(&p->atoms[exact], &g->key) &&
	    (g->key.kind == DPF_ATOM_SHIFT || p->atoms[exact].value == v))
		nx = exact + 1;
	if (g->key.kind != DPF_ATOM_SHIFT)
		return search(w, c, chain, nchain, nx);
	struct dpf_atom nc[DPF_MAX_SHIFTS];
	uint32_t nn = 0;
	if (g->key.base == DPF_BASE_REL && nchain) {
		dpf_memcpy(nc, chain, nchain * sizeof *chain);
		nn = nchain;
	}
	if (nn < DPF_MAX_SHIFTS)
		nc[nn++] = g->key;
	return search(w, c, nc, nn, nx);
}

static int search(struct walk *w, const struct node *n,
                  const struct dpf_atom *chain, uint32_t nchain, int32_t exact)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b)
		return 0;
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
	for (uint32_t gi = 0; gi < b->ngroups; gi++) {
		const struct gslot *g = &b->g[gi];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		int r;
		if (g->key.kind == DPF_ATOM_SHIFT) {
			const struct node *c = gs_find(g, 0);
			if (c && (r = enter(w, g, 0, c, chain, nchain, exact)))
				return r;
			continue;
		}
		/* Which atoms of the new path constrain this field? */
		const struct pseg *s = seg_for(w, chain, nchain, g->key.base);
		const struct dpf_atom *same = NULL;
		uint32_t nover = 0;
		const struct dpf_atom *over[DPF_MAX_ATOMS];
		uint32_t lo = g->key.offset, hi = lo + g->key.width;
		for (uint32_t i = s ? s->start : 0; s && i < s->end; i++) {
			const struct dpf_atom *a = &w->p->atoms[i];
			if (a->offset >= hi || (uint32_t)a->offset + a->width <= lo)
				continue;
			if (a->offset == g->key.offset && a->width == g->key.width &&
			    a->mask == g->key.mask)
				same = a;
			over[nover++] = a;
		}
		if (same) {
			const struct node *c = gs_find(g, same->value);
			if (c && (r = enter(w, g, same->value, c, chain, nchain, exact)))
				return r;
			continue;
		}
		uint32_t cap = t ? t->cap : 1;
		for (uint32_t k = 0; k < cap; k++) {
			const struct node *c =
				t ? LOAD(((struct table *)t)->s[k].child) : g->c1;
			if (!c || c == TOMB)
				continue;
			struct dpf_atom probe = g->key;
			probe.value = t ? t->s[k].value : g->v1;
			uint32_t i = 0;
			while (i < nover && dpf_atoms_compatible(&probe, over[i]))
				i++;
			if (i < nover)
				continue;
			if ((r = enter(w, g, probe.value, c, chain, nchain, exact)))
				return r;
		}
	}
	return 0;
}

int dpf_conflict(const struct dpf_engine *e, const struct dpf_path *p,
                 uint32_t prio, uint32_t spec, int32_t *other)
{
	struct walk w;
	w.e = e;
	w.p = p;
	w.prio = prio;
	w.spec = spec;
	w.other = -1;
	segments(&w);
	int r = search(&w, e->root, NULL, 0, 0);
	*other = w.other;
	return r;
}
