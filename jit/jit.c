/*
 * jit.c - the x86 back end's life: attach, incremental update, fallback,
 * detach, listing (the code itself: x86_emit.c; the design: jit_int.h).
 *
 * Update: for each path of the changed filter, walk the trie and the
 * mirrors of the units together from the top unit.  The first mismatch
 * decides what is regenerated:
 *   node, body or best term differs, or a chain's entry for the path's
 *   value differs                 -> rebuild that unit (reusing children)
 *   hash entry for the value added, removed or replaced
 *                                 -> build the child unit, store one slot
 *   hash too full, or down to JIT_DEMOTE entries -> rebuild the unit
 * then walk on from the rebuilt unit's root, so every unit on the path is
 * checked.  Units off the path are untouched by the update, so they still
 * match.  A failure drops to the interpreter at once (exec = NULL) and the
 * next update tries a whole compilation.
 */
#include "jit/jit_int.h"

static void set_exec(struct dpf_jit *j, const struct unit *u)
{
	dpf_exec_fn fn = NULL;
	if (u) {
		const void *p = u->code.rx;
		dpf_memcpy(&fn, &p, sizeof fn);
	}
	atomic_store_explicit(&j->e->exec, fn, memory_order_release);
}

static void store_w(struct jslot *sl, uint64_t w)
{
	__atomic_store_n(&sl->w, w, __ATOMIC_RELEASE);
}

static uint64_t code_word(const struct unit *u)
{
	return (uint64_t)(uintptr_t)u->code.rx;
}

/* Unit mode: the slot holding value v (live or removed), or -1.
 * Fused: the live record of (v, tail), or -1. */
static int64_t jh_find(const struct jhash *h, uint32_t v, const uint32_t *tail)
{
	uint32_t ncmp = h->fused ? h->shape.ncmp : 0;
	for (uint32_t i = jh_home(h, v, tail);; i = (i + 1) & (h->cap - 1)) {
		const struct jslot *sl = jh_slot(h, i);
		if (!sl->w)
			return -1;
		if (sl->value == v && !(h->fused && sl->w == JT_REMOVED) &&
		    (!ncmp || !__builtin_memcmp(sl->tail, tail, ncmp * 4)))
			return i;
	}
}

/* Room for one more: at most 3/4 full, a seeded table half. */
static int jh_room(const struct jhash *h)
{
	return (h->count + h->tombs + 1) * (h->seeded ? 2 : 4) <=
	       h->cap * (h->seeded ? 1 : 3);
}

/* An empty slot for (v, tail) (there is room). */
static uint32_t jh_empty(const struct jhash *h, uint32_t v,
                         const uint32_t *tail)
{
	uint32_t i = jh_home(h, v, tail);
	while (jh_slot(h, i)->w)
		i = (i + 1) & (h->cap - 1);
	return i;
}

/* A new slot for (v, tail) keeps the table within its load and the
 * code's probe bound: in its home slot without a probe loop, within
 * JIT_PROBE_MAX slots of it in a fused table; else the unit is rebuilt. */
static int jh_fits(const struct jhash *h, uint32_t v, const uint32_t *tail)
{
	if (h->direct && v - h->base >= h->cap)
		return 0;
	if (!jh_room(h))
		return 0;
	uint32_t d = (jh_empty(h, v, tail) - jh_home(h, v, tail)) & (h->cap - 1);
	return h->noloop ? d == 0 : !h->seeded || d < JIT_PROBE_MAX;
}

/* Unit mode: point value v at unit cu, in v's slot or an empty one. */
static void jh_set(struct jhash *h, uint32_t v, struct unit *cu)
{
	int64_t at = jh_find(h, v, NULL);
	if (at < 0) {
		at = jh_empty(h, v, NULL);
		jh_slot(h, (uint32_t)at)->value = v;
		h->count++;
	} else if (!h->units[at]) {
		h->tombs--;
		h->count++;
	}
	h->units[at] = cu;
	cu->parent = h;
	cu->pslot = (uint32_t)at;
	store_w(jh_slot(h, (uint32_t)at), code_word(cu));
}

/* Replace a published unit by a rebuilt one; *up becomes the new unit. */
static int regen(struct dpf_jit *j, struct unit **up)
{
	struct unit *old = *up;
	struct unit *nu = jit_unit_build(j, old->root, old->depth, old);
	if (!nu)
		return DPF_ENOMEM;
	if (old->parent) {
		struct jhash *h = old->parent;
		h->units[old->pslot] = nu;
		nu->parent = h;
		nu->pslot = old->pslot;
		store_w(jh_slot(h, old->pslot), code_word(nu));
	} else {
		j->top = nu;
		set_exec(j, nu);
	}
	jit_unit_retire(j, old);
	*up = nu;
	return DPF_OK;
}

/*
 * A fused dispatch (value v of atom i of path p, whose child is c) after
 * p changed: the one record p's end node can hold, found by p's shape
 * and fused key, is written, rewritten or removed (data only).  1 when
 * the owning unit must be rebuilt instead: a new shape, a full table, a
 * probe bound, or a dispatch nearly empty.
 */
static int sync_fused(struct dpf_jit *j, const struct jgroup *jg,
                      const struct dpf_path *p, uint32_t i,
                      const struct node *c)
{
	struct tshape sh;
	uint32_t tail[TAIL_CMP];
	const struct node *n = c;
	sh.n = sh.ncmp = 0;
	for (uint32_t x = i + 1; x < p->natoms; x++) {
		const struct dpf_atom *a = &p->atoms[x];
		int cmp = a->kind == DPF_ATOM_CMP;
		if (sh.n == TAIL_MAX || (cmp && sh.ncmp == TAIL_CMP))
			return 1;
		sh.step[sh.n] = *a;
		sh.step[sh.n++].value = 0;
		if (cmp)
			tail[sh.ncmp++] = jit_bswap(a->value, a->width);
		const struct body *b = n ? LOAD(((struct node *)n)->body) : NULL;
		int gi = b ? dpf_find_group(b, a) : -1;
		n = gi >= 0 ? gs_find(&b->g[gi], dpf_atom_key_value(a)) : NULL;
	}
	const struct body *b = n ? LOAD(((struct node *)n)->body) : NULL;
	int32_t best = jit_best(j->e, b);
	uint64_t key = 0;
	for (uint32_t t = 0; best >= 0 && t < b->nterms; t++)
		if (b->terms[t].id == best)
			key = jit_term_key(&b->terms[t]);
	uint32_t si = 0;
	while (si < jg->n && !jit_shape_eq(&jg->tabs[si]->shape, &sh))
		si++;
	if (si == jg->n)
		return best >= 0;
	struct jhash *h = jg->tabs[si];
	uint32_t v = dpf_atom_key_value(&p->atoms[i]);
	int64_t at = jh_find(h, v, tail);
	if (at >= 0 && best >= 0) {
		struct jslot *sl = jh_slot(h, (uint32_t)at);
		if (sl->w != key) {
			store_w(sl, key); /* a new best term: one store */
			j->st.slot_updates++;
		}
		return DPF_OK;
	}
	if (best >= 0) {
		if (!jh_fits(h, v, tail))
			return 1;
		struct jslot *sl = jh_slot(h, jh_empty(h, v, tail));
		sl->value = v;
		dpf_memcpy(sl->tail, tail, sh.ncmp * 4);
		store_w(sl, key);
		h->count++;
	} else if (at >= 0) {
		store_w(jh_slot(h, (uint32_t)at), JT_REMOVED);
		h->count--;
		h->tombs++;
	} else {
		return DPF_OK;
	}
	j->st.slot_updates++;
	uint32_t total = 0;
	for (uint32_t x = 0; x < jg->n; x++)
		total += jg->tabs[x]->count;
	return total <= JIT_DEMOTE ? 1 : DPF_OK;
}

static int sync_path(struct dpf_jit *j, const struct dpf_path *p)
{
	const struct dpf_engine *e = j->e;
	struct unit *u = j->top;
again:;
	const struct node *n = u->root;
	const struct jnode *m = u->top;
	uint32_t i = u->depth;
	for (;;) {
		const struct body *b = LOAD(((struct node *)n)->body);
		if (!m || m->n != n || m->b != b || (b && m->ngroups != b->ngroups) ||
		    (i == p->natoms && m->best != jit_best(e, b))) {
			if (regen(j, &u) != DPF_OK)
				return DPF_ENOMEM;
			goto again;
		}
		if (i >= p->natoms || !b)
			return DPF_OK;
		const struct dpf_atom *a = &p->atoms[i];
		int gi = dpf_find_group(b, a);
		if (gi < 0)
			return DPF_OK; /* the path is gone below here, as compiled */
		uint32_t v = dpf_atom_key_value(a);
		const struct node *c = gs_find(&b->g[gi], v);
		const struct jgroup *jg = &m->g[gi];
		if (jg->kind == JG_CHAIN) {
			const struct jnode *k = NULL;
			uint32_t x = 0;
			while (x < jg->n && jg->vals[x] != v)
				x++;
			int has = x < jg->n;
			if (has)
				k = jg->kids[x];
			if (!c && !has)
				return DPF_OK;
			if (!c || !has || !k || k->n != c ||
			    (jg->w &&
			     jit_chain_stale(jg, x, jit_weight(e, c)))) {
				if (regen(j, &u) != DPF_OK)
					return DPF_ENOMEM;
				goto again;
			}
			m = k;
			n = c;
			i++;
			continue;
		}
		if (jg->kind == JG_FUSED) {
			if (sync_fused(j, jg, p, i, c) == DPF_OK)
				return DPF_OK;
			if (regen(j, &u) != DPF_OK)
				return DPF_ENOMEM;
			goto again;
		}
		struct jhash *h = jg->hash;
		int64_t at = jh_find(h, v, NULL);
		struct unit *cu = at >= 0 ? h->units[at] : NULL;
		if (!c && !cu)
			return DPF_OK;
		if (!c) { /* removed: data only, unless few entries are left */
			store_w(jh_slot(h, (uint32_t)at), (uint64_t)(uintptr_t)j->stub.rx);
			h->units[at] = NULL;
			h->count--;
			h->tombs++;
			jit_unit_retire(j, cu);
			if (h->count <= JIT_DEMOTE)
				return regen(j, &u);
			j->st.slot_updates++;
			return DPF_OK;
		}
		if (cu && cu->root == c) {
			u = cu;
			goto again;
		}
		if (at < 0 && !jh_fits(h, v, NULL)) {
			if (regen(j, &u) != DPF_OK)
				return DPF_ENOMEM;
			goto again;
		}
		/* added or replaced: a new unit, then one store */
		struct unit *nu = jit_unit_build(j, c, i + 1, NULL);
		if (!nu)
			return DPF_ENOMEM;
		jh_set(h, v, nu);
		if (cu)
			jit_unit_retire(j, cu);
		j->st.slot_updates++;
		return DPF_OK;
	}
}

static void fail(struct dpf_jit *j)
{
	j->broken = 1;
	j->st.failures++;
	set_exec(j, NULL);
	if (j->top)
		jit_unit_retire(j, j->top);
	j->top = NULL;
}

static int full_build(struct dpf_jit *j)
{
	struct unit *nu = jit_unit_build(j, j->e->root, 0, NULL);
	if (!nu) {
		fail(j);
		return DPF_ENOMEM;
	}
	struct unit *old = j->top;
	j->top = nu;
	set_exec(j, nu);
	if (old)
		jit_unit_retire(j, old);
	j->broken = 0;
	j->why[0] = 0;
	j->st.full_builds++;
	return DPF_OK;
}

static void be_update(struct dpf_backend *be, struct dpf_engine *e,
                      const struct dpf_filter *f)
{
	struct dpf_jit *j = (struct dpf_jit *)be;
	(void)e;
	if (j->broken) {
		full_build(j);
		return;
	}
	for (uint32_t p = 0; p < f->npaths; p++)
		if (sync_path(j, &f->paths[p]) != DPF_OK) {
			fail(j);
			return;
		}
}

static void jit_free_now(struct dpf_jit *j)
{
	const struct dpf_host *h = &j->e->host;
	if (j->top)
		jit_unit_free_tree(j, j->top);
	cm_destroy(&j->cm);
	dpf_free(h, j->s.buf, j->s.cap);
	dpf_free(h, j->s.labels, j->s.caplabels * sizeof *j->s.labels);
	dpf_free(h, j->s.fix, j->s.capfix * sizeof *j->s.fix);
	dpf_free(h, j, sizeof *j);
}

static void be_destroy(struct dpf_backend *be, struct dpf_engine *e)
{
	(void)e;
	jit_free_now((struct dpf_jit *)be);
}

static void jit_dtor(struct dpf_engine *e, struct rhdr *h)
{
	(void)e;
	struct dpf_jit *j =
		(struct dpf_jit *)((char *)h - __builtin_offsetof(struct dpf_jit, h));
	jit_free_now(j);
}

int jit_attach(struct dpf_engine *e, const struct jit_mem *mem, unsigned flags,
               struct dpf_diag *d)
{
	struct dpf_diag scratch;
	if (!d)
		d = &scratch;
	if (e->be) {
		dpf_fmt(d->msg, sizeof d->msg, "a back end is already attached");
		return DPF_EEXIST;
	}
	struct dpf_jit *j = dpf_zalloc(&e->host, sizeof *j);
	if (!j) {
		dpf_fmt(d->msg, sizeof d->msg, "x86 code generation failed: out "
		                               "of memory");
		return DPF_ENOMEM;
	}
	j->be.update = be_update;
	j->be.destroy = be_destroy;
	j->h.size = sizeof *j;
	j->h.release_id = -1;
	j->h.dtor = jit_dtor;
	j->e = e;
	j->flags = flags;
	j->cm.h = &e->host;
	j->cm.mem = *mem;
	j->s.h = &e->host;
	int rc = cm_alloc(&j->cm, 1, &j->stub);
	if (rc == DPF_OK) {
		j->stub.rw[0] = 0xc3; /* ret */
		rc = full_build(j);
	} else {
		dpf_fmt(j->why, sizeof j->why, "out of code memory");
	}
	if (rc != DPF_OK) {
		dpf_fmt(d->msg, sizeof d->msg, "x86 code generation failed: %s",
		        j->why);
		set_exec(j, NULL);
		dpf_update_end(e); /* frees what the failure retired */
		jit_free_now(j);
		return rc;
	}
	e->be = &j->be;
	dpf_update_end(e);
	return DPF_OK;
}

void jit_detach(struct dpf_engine *e)
{
	if (!e->be || e->be->update != be_update)
		return;
	struct dpf_jit *j = (struct dpf_jit *)e->be;
	e->be = NULL;
	set_exec(j, NULL);
	dpf_retire(e, &j->h);
	dpf_update_end(e);
}

int jit_status(const struct dpf_engine *e, struct jit_stats *st,
               struct dpf_diag *d)
{
	const struct dpf_jit *j =
		e->be && e->be->update == be_update ? (const struct dpf_jit *)e->be
		                                    : NULL;
	if (st) {
		dpf_memset(st, 0, sizeof *st);
		if (j) {
			*st = j->st;
			st->code_mapped = j->cm.mapped;
		}
	}
	if (d)
		dpf_fmt(d->msg, sizeof d->msg, "%s",
		        !j ? "no back end attached"
		           : j->broken ? j->why : "");
	return j && !j->broken;
}

static void list_unit(const struct unit *u, jit_unit_fn fn, void *ctx)
{
	fn(ctx, (uint64_t)(uintptr_t)u->code.rx, u->code.rw, u->len, u->notes,
	   u->nnotes);
	for (const struct jhash *x = u->hashes; x; x = x->next)
		for (uint32_t i = 0; i < x->cap; i++)
			if (x->units && x->units[i])
				list_unit(x->units[i], fn, ctx);
}

void jit_listing(const struct dpf_engine *e, jit_unit_fn fn, void *ctx)
{
	if (!e->be || e->be->update != be_update)
		return;
	const struct dpf_jit *j = (const struct dpf_jit *)e->be;
	if (j->top)
		list_unit(j->top, fn, ctx);
}
