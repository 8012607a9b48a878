/*
 * check.c - the trie's invariant checker, its readable dump, statistics.
 *
 * dpf_check() verifies, from the root down (writer side):
 *   - every node but the root has a term or a group; depth <= DPF_MAX_ATOMS;
 *   - terms are sorted best first, name installed filters (or, after a
 *     failed delete, dead ids) with their priority, and carry the
 *     specificity of the path that leads to them;
 *   - groups of a node compare distinct fields; keys are valid atoms; a
 *     body's capacity is body_gcap() of itself and holds its groups, its
 *     terms follow the capacity, and its group index (when it has one)
 *     finds every group at its own place;
 *   - each table's kind, capacity, hash shift, count and tombstone count
 *     agree with its slots; values are distinct and within the mask; a
 *     SHIFT group has exactly one entry, value 0; every hash entry is
 *     reachable by probing from its hash, and a hash keeps an empty slot;
 *   - every path of every installed filter is in the trie, ending in a
 *     term of its id, and the live flags and name index match the registry.
 *
 * Cost: linear in the trie and the installed paths (hash probe runs and
 * the bodies' group index stand in for all-pairs comparisons), so a debug
 * build can check after every update of a large table.
 */
#include "verifier/vfy.h"
#include "dpf/trie.h"

struct ck {
	const struct dpf_engine *e;
	struct dpf_diag *d;
	struct dpf_atom stack[DPF_MAX_ATOMS];
	uint64_t terms;
	int bad;
};

/* Entry k of a gslot (k < gs_cap): its child, or NULL for an empty or
 * deleted slot; *v gets its value. */
static uint32_t gs_cap(const struct gslot *g)
{
	const struct table *t = LOAD(((struct gslot *)g)->tab);
	return t ? t->cap : 1;
}

static const struct node *gs_entry(const struct gslot *g, uint32_t k,
                                   uint32_t *v)
{
	const struct table *t = LOAD(((struct gslot *)g)->tab);
	if (!t) {
		*v = g->v1;
		return g->c1;
	}
	const struct node *x = LOAD(((struct table *)t)->s[k].child);
	*v = t->s[k].value;
	return x == TOMB ? NULL : x;
}

static int ck_fail(struct ck *c, const char *what, uint32_t depth)
{
	if (!c->bad)
		dpf_fmt(c->d->msg, sizeof c->d->msg,
		        "trie invariant broken at depth %u: %s", depth, what);
	c->bad = 1;
	return -1;
}

static int ck_table(struct ck *c, const struct gslot *g,
                    const struct table *t, uint32_t depth)
{
	if (!t) {
		if (!g->c1)
			return ck_fail(c, "inline entry without a child", depth);
		if (g->key.kind == DPF_ATOM_CMP && (g->v1 & ~g->key.mask))
			return ck_fail(c, "entry value outside the mask", depth);
		if (g->key.kind == DPF_ATOM_SHIFT && g->v1)
			return ck_fail(c, "shift entry with a value", depth);
		return 0;
	}
	if (t->kind == TAB_LIST) {
		if (t->cap != 1 && t->cap != TAB_LIST_MAX)
			return ck_fail(c, "list capacity", depth);
	} else if (t->kind == TAB_HASH) {
		if (t->cap < TAB_HASH_MIN || (t->cap & (t->cap - 1)) ||
		    (1u << (32 - t->hshift)) != t->cap)
			return ck_fail(c, "hash capacity or shift", depth);
	} else {
		return ck_fail(c, "table kind", depth);
	}
	uint32_t live = 0, tombs = 0, empty = 0;
	for (uint32_t i = 0; i < t->cap; i++) {
		const struct node *x = atomic_load_explicit(
			&((struct table *)t)->s[i].child, memory_order_relaxed);
		if (!x) {
			empty++;
			continue;
		}
		if (x == TOMB) {
			tombs++;
			continue;
		}
		live++;
		uint32_t v = t->s[i].value;
		if (g->key.kind == DPF_ATOM_CMP && (v & ~g->key.mask))
			return ck_fail(c, "entry value outside the mask", depth);
		if (g->key.kind == DPF_ATOM_SHIFT && v)
			return ck_fail(c, "shift entry with a value", depth);
		/* A list has at most TAB_LIST_MAX slots: compare all pairs.  In
		 * a hash, two entries of one value would both lie on the probe
		 * run from that value's hash, which is walked anyway. */
		for (uint32_t j = i + 1; t->kind == TAB_LIST && j < t->cap; j++) {
			const struct node *y = atomic_load_explicit(
				&((struct table *)t)->s[j].child, memory_order_relaxed);
			if (y && y != TOMB && t->s[j].value == v)
				return ck_fail(c, "duplicate value in a table", depth);
		}
		if (t->kind == TAB_HASH) {
			for (uint32_t k = tab_hash(v, t); k != i;
			     k = (k + 1) & (t->cap - 1)) {
				const struct node *y = atomic_load_explicit(
					&((struct table *)t)->s[k].child, memory_order_relaxed);
				if (!y)
					return ck_fail(c, "hash entry unreachable", depth);
				if (y != TOMB && t->s[k].value == v)
					return ck_fail(c, "duplicate value in a table", depth);
			}
		}
		if (tab_find(t, v) != x)
			return ck_fail(c, "lookup does not find an entry", depth);
	}
	if (live != t->count || tombs != t->tombs)
		return ck_fail(c, "table counts disagree with slots", depth);
	if (live == 0)
		return ck_fail(c, "empty table", depth);
	if (t->kind == TAB_HASH && empty == 0)
		return ck_fail(c, "hash table without an empty slot", depth);
	if (g->key.kind == DPF_ATOM_SHIFT && live != 1)
		return ck_fail(c, "shift group with several entries", depth);
	return 0;
}

static int ck_node(struct ck *c, const struct node *n, uint32_t depth)
{
	const struct dpf_engine *e = c->e;
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b)
		return depth > 0 ? ck_fail(c, "empty node", depth) : 0;
	if (b->nterms == 0 && b->ngroups == 0)
		return ck_fail(c, "empty body", depth);
	if ((b->gix != NULL) != (b->gcap > GIX_MIN) ||
	    (b->gix && b->gixcap != 2 * b->gcap))
		return ck_fail(c, "group index of the wrong size", depth);
	if (b->ngroups > b->gcap || b->gcap != body_gcap(b->gcap) ||
	    b->terms != (const struct term *)(const void *)&b->g[b->gcap])
		return ck_fail(c, "terms outside their body", depth);
	struct dpf_path here = {depth, c->stack};
	uint32_t spec = b->nterms ? dpf_path_specificity(&here) : 0;
	for (uint32_t i = 0; i < b->nterms; i++) {
		const struct term *t = &b->terms[i];
		c->terms++;
		if (i > 0 && dpf_better(t->prio, t->spec, t->id, b->terms[i - 1].prio,
		                        b->terms[i - 1].spec, b->terms[i - 1].id) &&
		    t->id != b->terms[i - 1].id)
			return ck_fail(c, "terms out of order", depth);
		if (t->id < 0 || (uint32_t)t->id >= e->nrecs)
			return ck_fail(c, "term with a bad id", depth);
		const struct frec *r = e->recs[t->id];
		if (!r) {
			if (!e->zombies || atomic_load(&e->live[t->id]))
				return ck_fail(c, "term of a deleted filter", depth);
			continue;
		}
		if (t->prio != r->f.priority)
			return ck_fail(c, "term priority differs from filter", depth);
		if (t->spec != spec)
			return ck_fail(c, "term specificity differs from path", depth);
	}
	if (b->ngroups && depth >= DPF_MAX_ATOMS)
		return ck_fail(c, "trie deeper than a path can be", depth);
	for (uint32_t i = 0; i < b->ngroups; i++) {
		const struct gslot *g = &b->g[i];
		struct dpf_diag vd;
		struct dpf_path one = {1, (struct dpf_atom *)&g->key};
		struct dpf_filter f = {"check", 0, 0, 1, &one, 0, 0};
		if (vfy_filter(&f, &vd) != DPF_OK)
			return ck_fail(c, "invalid group key", depth);
		/* Without an index a body has at most GIX_MIN groups: compare
		 * all pairs.  With one, a second group of the same field is what
		 * the index finds instead of this one (or, missing from the
		 * index, it finds none). */
		for (uint32_t j = i + 1; !b->gix && j < b->ngroups; j++)
			if (key_eq(&g->key, &b->g[j].key))
				return ck_fail(c, "two groups compare one field", depth);
		if (b->gix) {
			int at = dpf_find_group(b, &g->key);
			if (at >= 0 && at != (int)i)
				return ck_fail(c, "two groups compare one field", depth);
			if (at < 0)
				return ck_fail(c, "group index misses a group", depth);
		}
		if (ck_table(c, g, LOAD(((struct gslot *)g)->tab), depth))
			return -1;
		for (uint32_t k = 0; k < gs_cap(g); k++) {
			uint32_t v;
			const struct node *x = gs_entry(g, k, &v);
			if (!x)
				continue;
			c->stack[depth] = g->key;
			c->stack[depth].value = v;
			if (ck_node(c, x, depth + 1))
				return -1;
		}
	}
	return 0;
}

/* The node an exact descent along p reaches, or NULL. */
static const struct node *descend(const struct dpf_engine *e,
                                  const struct dpf_path *p)
{
	const struct node *n = e->root;
	for (uint32_t i = 0; n && i < p->natoms; i++) {
		const struct dpf_atom *a = &p->atoms[i];
		const struct body *b = LOAD(((struct node *)n)->body);
		int gi = dpf_find_group(b, a);
		if (gi < 0)
			return NULL;
		n = gs_find(&b->g[gi], a->kind == DPF_ATOM_SHIFT ? 0 : a->value);
	}
	return n;
}

int dpf_check(const struct dpf_engine *e, struct dpf_diag *d)
{
	struct ck c = {.e = e, .d = d};
	if (ck_node(&c, e->root, 0))
		return -1;
	uint64_t want = 0;
	uint32_t count = 0;
	for (uint32_t id = 0; id < e->nrecs; id++) {
		const struct frec *r = e->recs[id];
		int live = atomic_load(&e->live[id]);
		if (!r) {
			if (live)
				return ck_fail(&c, "live flag on a free id", 0);
			continue;
		}
		count++;
		if (!live)
			return ck_fail(&c, "installed filter not live", 0);
		if (dpf_lookup(e, r->f.name) != (int)id)
			return ck_fail(&c, "name index misses a filter", 0);
		want += r->f.npaths;
		for (uint32_t p = 0; p < r->f.npaths; p++) {
			const struct node *n = descend(e, &r->f.paths[p]);
			const struct body *tb = n ? LOAD(((struct node *)n)->body) : NULL;
			uint32_t i = 0;
			while (tb && i < tb->nterms && tb->terms[i].id != (int32_t)id)
				i++;
			if (!tb || i == tb->nterms)
				return ck_fail(&c, "a filter path is missing from the trie",
				               r->f.paths[p].natoms);
		}
	}
	if (count != e->count)
		return ck_fail(&c, "filter count disagrees with the registry", 0);
	if (!e->zombies && c.terms != want)
		return ck_fail(&c, "more terms in the trie than filter paths", 0);
	return 0;
}

/* ---- statistics ---- */

static void st_node(const struct node *n, struct dpf_stats *st)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	st->nodes++;
	if (!b)
		return;
	st->terminals += b->nterms;
	for (uint32_t i = 0; i < b->ngroups; i++) {
		const struct gslot *g = &b->g[i];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		st->groups++;
		st->tables += t && t->kind == TAB_HASH;
		st->entries += t ? t->count : 1;
		for (uint32_t k = 0; k < gs_cap(g); k++) {
			uint32_t v;
			const struct node *x = gs_entry(g, k, &v);
			if (x)
				st_node(x, st);
		}
	}
}

void dpf_stats_get(const struct dpf_engine *e, struct dpf_stats *st)
{
	dpf_memset(st, 0, sizeof *st);
	st_node(e->root, st);
	st->retired = e->nretired;
}

/* ---- dump ---- */

struct dumper {
	const struct dpf_engine *e;
	dpf_write_fn out;
	void *ctx;
	char line[256];
};

static void indent(struct dumper *d, uint32_t depth)
{
	for (uint32_t i = 0; i < depth; i++)
		d->out(d->ctx, "  ");
}

/* Entry indices of g sorted by value, for a stable dump. */
static uint32_t sorted_entries(const struct gslot *g, uint32_t *idx)
{
	uint32_t n = 0, v, w;
	for (uint32_t k = 0; k < gs_cap(g); k++)
		if (gs_entry(g, k, &v)) {
			uint32_t j = n++;
			while (j > 0 && (gs_entry(g, idx[j - 1], &w), w > v)) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = k;
		}
	return n;
}

static void dump_node(struct dumper *d, const struct node *n, uint32_t depth)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	for (uint32_t i = 0; b && i < b->nterms; i++) {
		const struct frec *r = d->e->recs[b->terms[i].id];
		indent(d, depth);
		dpf_fmt(d->line, sizeof d->line,
		        "=> %s (priority %u, %u bits)\n", r ? r->f.name : "(deleted)",
		        b->terms[i].prio, b->terms[i].spec);
		d->out(d->ctx, d->line);
	}
	for (uint32_t i = 0; b && i < b->ngroups; i++) {
		const struct gslot *g = &b->g[i];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		uint32_t cap = gs_cap(g);
		uint32_t *idx = NULL, one = 0, v;
		if (cap > 1) {
			idx = dpf_alloc(&d->e->host, cap * sizeof *idx);
			if (!idx) {
				d->out(d->ctx, "(out of memory)\n");
				return;
			}
		} else {
			idx = &one;
		}
		uint32_t cnt = sorted_entries(g, idx);
		char atom[96];
		struct dpf_atom a = g->key;
		if (cnt == 1) {
			/* a single comparison: print the atom itself */
			const struct node *x = gs_entry(g, idx[0], &a.value);
			dpf_atom_format(&a, atom, sizeof atom);
			indent(d, depth);
			dpf_fmt(d->line, sizeof d->line, "%s\n", atom);
			d->out(d->ctx, d->line);
			dump_node(d, x, depth + 1);
		} else {
			a.value = 0;
			dpf_atom_format(&a, atom, sizeof atom);
			/* "u16[20] == 0x0000" -> keep the field part before " ==" */
			for (char *s = atom; *s; s++)
				if (s[0] == ' ' && s[1] == '=' && s[2] == '=') {
					*s = 0;
					break;
				}
			indent(d, depth);
			dpf_fmt(d->line, sizeof d->line, "%s in %s of %u (capacity %u):\n",
			        atom, t->kind == TAB_HASH ? "hash table" : "list", cnt,
			        t->cap);
			d->out(d->ctx, d->line);
			for (uint32_t k = 0; k < cnt; k++) {
				const struct node *x = gs_entry(g, idx[k], &v);
				indent(d, depth + 1);
				dpf_fmt(d->line, sizeof d->line, "== 0x%0*x\n", 2 * a.width, v);
				d->out(d->ctx, d->line);
				dump_node(d, x, depth + 2);
			}
		}
		if (idx != &one)
			dpf_free(&d->e->host, idx, cap * sizeof *idx);
	}
}

void dpf_trie_dump(const struct dpf_engine *e, dpf_write_fn out, void *ctx)
{
	struct dumper d = {e, out, ctx, {0}};
	struct dpf_stats st;
	dpf_stats_get(e, &st);
	dpf_fmt(d.line, sizeof d.line,
	        "trie: %u filters, %u nodes, %u groups, %u hash tables, "
	        "%u terms\n",
	        e->count, st.nodes, st.groups, st.tables, st.terminals);
	out(ctx, d.line);
	dump_node(&d, e->root, 0);
}
