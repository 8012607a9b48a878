/*
 * trie.c - the engine: filter registry, trie insertion and deletion, and
 * safe reclamation of what updates unlink.
 *
 * Interface: dpf_engine_new/free, dpf_insert, dpf_delete, dpf_lookup,
 * dpf_filter_get, dpf_count, dpf_id_limit, dpf_reader_new/free,
 * dpf_read_begin/end.  Layout and the concurrency invariant: trie.h.
 *
 * Insertion of a filter:  validate -> canonicalise paths -> refuse name
 * clashes and ambiguity (conflict.c) -> take an id whose live flag is 0 ->
 * merge each path (one publication each; the terms are invisible while the
 * id is not live) -> set live.  Readers therefore see all of a filter or
 * none of it.  Deletion clears live first, then unlinks each path.
 *
 * Reclamation (epochs): a reader publishes the epoch it entered in; the
 * writer tags what an update unlinked with the current epoch E, advances
 * the epoch to E+1, and frees a tagged object once every active reader
 * entered after E.  The writer never waits for readers; objects pile up
 * only while a reader stays inside one read section.
 */
#include "verifier/vfy.h"
#include "dpf/trie.h"

#ifdef DPF_DEBUG_CHECKS
#define DEBUG_CHECK(e)                                                        \
	do {                                                                      \
		struct dpf_diag dd_;                                                  \
		if (dpf_check((e), &dd_) != 0)                                        \
			__builtin_trap();                                                 \
	} while (0)
#else
#define DEBUG_CHECK(e) ((void)0)
#endif


/* ---- allocation of trie objects ---- */

static void *obj_new(struct dpf_engine *e, size_t size)
{
	struct rhdr *h = dpf_zalloc(&e->host, size);
	if (h) {
		h->size = size;
		h->release_id = -1;
	}
	return h;
}

static void obj_free(struct dpf_engine *e, void *p)
{
	if (p)
		dpf_free(&e->host, p, ((struct rhdr *)p)->size);
}

static void update_done(struct dpf_engine *e);

/* Unlinked by the current update: freed after the grace period. */
static void retire(struct dpf_engine *e, void *p)
{
	struct rhdr *h = p;
	if (!h)
		return;
	h->next = e->pending;
	e->pending = h;
}

static struct node *node_new(struct dpf_engine *e)
{
	return obj_new(e, sizeof(struct node));
}

static struct table *table_new(struct dpf_engine *e, uint32_t kind,
                               uint32_t cap)
{
	struct table *t = obj_new(e, sizeof *t + cap * sizeof(struct slot));
	if (!t)
		return NULL;
	t->kind = kind;
	t->cap = cap;
	uint32_t lg = 0;
	while ((1u << lg) < cap)
		lg++;
	t->hshift = 32 - lg;
	return t;
}

/* Free a private (never published) subtree now, or retire an unlinked one. */
static void subtree_free(struct dpf_engine *e, struct node *n, int now)
{
	if (!n)
		return;
	struct body *b = atomic_load_explicit(&n->body, memory_order_relaxed);
	for (uint32_t i = 0; b && i < b->ngroups; i++) {
		struct gslot *g = &b->g[i];
		struct table *t = atomic_load_explicit(&g->tab, memory_order_relaxed);
		if (!t) {
			subtree_free(e, g->c1, now);
			continue;
		}
		for (uint32_t k = 0; k < t->cap; k++) {
			struct node *c =
				atomic_load_explicit(&t->s[k].child, memory_order_relaxed);
			if (c && c != TOMB)
				subtree_free(e, c, now);
		}
		if (now)
			obj_free(e, t);
		else
			retire(e, t);
	}
	if (now) {
		obj_free(e, b);
		obj_free(e, n);
	} else {
		retire(e, b);
		retire(e, n);
	}
}

void dpf_retire(struct dpf_engine *e, struct rhdr *h)
{
	retire(e, h);
}

void dpf_update_end(struct dpf_engine *e)
{
	update_done(e);
}

/* ---- epochs ---- */

static uint64_t min_active(struct dpf_engine *e)
{
	uint64_t m = UINT64_MAX;
	for (int i = 0; i < DPF_MAX_READERS; i++) {
		uint64_t ep = atomic_load(&e->readers[i].epoch);
		if (ep && ep < m)
			m = ep;
	}
	return m;
}

static void reclaim(struct dpf_engine *e, uint64_t limit)
{
	while (e->retired && e->retired->epoch < limit) {
		struct rhdr *h = e->retired;
		e->retired = h->next;
		if (!e->retired)
			e->rtail = &e->retired;
		if (h->release_id >= 0 && e->nfree < e->capfree)
			e->freeids[e->nfree++] = h->release_id;
		e->nretired--;
		if (h->dtor)
			h->dtor(e, h);
		else
			obj_free(e, h);
	}
}

/* End of an update: hand what it unlinked to the grace-period machinery. */
static void update_done(struct dpf_engine *e)
{
	uint64_t ep = atomic_load(&e->epoch);
	while (e->pending) {
		struct rhdr *h = e->pending;
		e->pending = h->next;
		h->next = NULL;
		h->epoch = ep;
		*e->rtail = h;
		e->rtail = &h->next;
		e->nretired++;
	}
	atomic_fetch_add(&e->epoch, 1);
	atomic_thread_fence(memory_order_seq_cst);
	reclaim(e, min_active(e));
	DEBUG_CHECK(e);
}

struct dpf_reader *dpf_reader_new(struct dpf_engine *e)
{
	for (int i = 0; i < DPF_MAX_READERS; i++) {
		int expect = 0;
		if (atomic_compare_exchange_strong(&e->readers[i].used, &expect, 1)) {
			struct dpf_reader *r = dpf_alloc(&e->host, sizeof *r);
			if (!r) {
				atomic_store(&e->readers[i].used, 0);
				return NULL;
			}
			r->e = e;
			r->slot = &e->readers[i];
			return r;
		}
	}
	return NULL;
}

void dpf_reader_free(struct dpf_reader *r)
{
	if (!r)
		return;
	atomic_store(&r->slot->epoch, 0);
	atomic_store(&r->slot->used, 0);
	dpf_free(&r->e->host, r, sizeof *r);
}

void dpf_read_begin(struct dpf_reader *r)
{
	atomic_store(&r->slot->epoch, atomic_load(&r->e->epoch));
	atomic_thread_fence(memory_order_seq_cst);
}

void dpf_read_end(struct dpf_reader *r)
{
	atomic_store_explicit(&r->slot->epoch, 0, memory_order_release);
}

/* ---- engine ---- */

struct dpf_engine *dpf_engine_new(const struct dpf_host *host)
{
	struct dpf_engine *e = dpf_zalloc(host, sizeof *e);
	if (!e)
		return NULL;
	e->host = *host;
	e->live = dpf_zalloc(host, DPF_MAX_FILTERS);
	e->root = node_new(e);
	e->nbuckets = 64;
	e->names = dpf_alloc(host, e->nbuckets * sizeof(int32_t));
	e->prios = dpf_alloc(host, (DPF_PRIO_MAX + 1) * sizeof *e->prios);
	if (!e->live || !e->root || !e->names || !e->prios) {
		dpf_free(host, e->prios, (DPF_PRIO_MAX + 1) * sizeof *e->prios);
		dpf_free(host, (void *)e->live, DPF_MAX_FILTERS);
		obj_free(e, e->root);
		dpf_free(host, e->names, e->nbuckets * sizeof(int32_t));
		dpf_free(host, e, sizeof *e);
		return NULL;
	}
	for (uint32_t i = 0; i < e->nbuckets; i++)
		e->names[i] = -1;
	for (uint32_t i = 0; i <= DPF_PRIO_MAX; i++) {
		e->prios[i].head = -1;
		e->prios[i].npaths = 0;
	}
	atomic_store(&e->epoch, 1);
	e->rtail = &e->retired;
	return e;
}

static void frec_free(struct dpf_engine *e, struct frec *r)
{
	if (!r)
		return;
	for (uint32_t p = 0; p < r->f.npaths; p++)
		dpf_free(&e->host, r->f.paths[p].atoms,
		         r->f.paths[p].natoms * sizeof(struct dpf_atom));
	dpf_free(&e->host, r->f.paths, r->f.npaths * sizeof(struct dpf_path));
	dpf_free(&e->host, r->spec, r->f.npaths * sizeof(uint32_t));
	dpf_free(&e->host, r, sizeof *r);
}

void dpf_engine_free(struct dpf_engine *e)
{
	if (!e)
		return;
	reclaim(e, UINT64_MAX);
	if (e->be)
		e->be->destroy(e->be, e);
	subtree_free(e, e->root, 1);
	for (uint32_t i = 0; i < e->nrecs; i++)
		frec_free(e, e->recs[i]);
	const struct dpf_host *h = &e->host;
	dpf_free(h, e->recs, e->caprecs * sizeof(struct frec *));
	dpf_free(h, e->freeids, e->capfree * sizeof(int32_t));
	dpf_free(h, e->names, e->nbuckets * sizeof(int32_t));
	dpf_free(h, e->prios, (DPF_PRIO_MAX + 1) * sizeof *e->prios);
	dpf_free(h, (void *)e->live, DPF_MAX_FILTERS);
	struct dpf_host copy = *h;
	dpf_free(&copy, e, sizeof *e);
}

/* ---- registry ---- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int dpf_lookup(const struct dpf_engine *e, const char *name)
{
	int32_t id = e->names[name_hash(name) & (e->nbuckets - 1)];
	for (; id >= 0; id = e->recs[id]->next_name)
		if (dpf_strcmp(e->recs[id]->f.name, name) == 0)
			return id;
	return DPF_ENOENT;
}

static void name_link(struct dpf_engine *e, int32_t id)
{
	int32_t *b = &e->names[name_hash(e->recs[id]->f.name) & (e->nbuckets - 1)];
	e->recs[id]->next_name = *b;
	*b = id;
}

static void name_unlink(struct dpf_engine *e, int32_t id)
{
	int32_t *b = &e->names[name_hash(e->recs[id]->f.name) & (e->nbuckets - 1)];
	while (*b != id)
		b = &e->recs[*b]->next_name;
	*b = e->recs[id]->next_name;
}

/* Keep buckets >= filters; failure to grow only lengthens chains. */
static void prio_link(struct dpf_engine *e, int32_t id)
{
	struct frec *r = e->recs[id];
	struct prio_list *l = &e->prios[r->f.priority];
	r->prio_prev = -1;
	r->prio_next = l->head;
	if (l->head >= 0)
		e->recs[l->head]->prio_prev = id;
	l->head = id;
	l->npaths += r->f.npaths;
}

static void prio_unlink(struct dpf_engine *e, int32_t id)
{
	struct frec *r = e->recs[id];
	struct prio_list *l = &e->prios[r->f.priority];
	if (r->prio_prev >= 0)
		e->recs[r->prio_prev]->prio_next = r->prio_next;
	else
		l->head = r->prio_next;
	if (r->prio_next >= 0)
		e->recs[r->prio_next]->prio_prev = r->prio_prev;
	l->npaths -= r->f.npaths;
}

static void names_grow(struct dpf_engine *e)
{
	if (e->count < e->nbuckets)
		return;
	uint32_t nb = e->nbuckets * 2;
	int32_t *nn = dpf_alloc(&e->host, nb * sizeof(int32_t));
	if (!nn)
		return;
	dpf_free(&e->host, e->names, e->nbuckets * sizeof(int32_t));
	e->names = nn;
	e->nbuckets = nb;
	for (uint32_t i = 0; i < nb; i++)
		nn[i] = -1;
	for (uint32_t id = 0; id < e->nrecs; id++)
		if (e->recs[id])
			name_link(e, (int32_t)id);
}

const struct dpf_filter *dpf_filter_get(const struct dpf_engine *e, int id)
{
	if (id < 0 || (uint32_t)id >= e->nrecs || !e->recs[id])
		return NULL;
	return &e->recs[id]->f;
}

int dpf_id_limit(const struct dpf_engine *e)
{
	return (int)e->nrecs;
}

uint32_t dpf_count(const struct dpf_engine *e)
{
	return e->count;
}

/* An id for a new filter: a reclaimed one, or the next fresh one. */
static int32_t id_take(struct dpf_engine *e)
{
	if (e->nfree)
		return e->freeids[--e->nfree];
	if (e->nrecs >= DPF_MAX_FILTERS)
		return DPF_ELIMIT;
	if (e->nrecs == e->caprecs) {
		uint32_t nc = e->caprecs ? e->caprecs * 2 : 64;
		struct frec **nr = dpf_zalloc(&e->host, nc * sizeof *nr);
		int32_t *nf = dpf_alloc(&e->host, nc * sizeof *nf);
		if (!nr || !nf) {
			dpf_free(&e->host, nr, nc * sizeof *nr);
			dpf_free(&e->host, nf, nc * sizeof *nf);
			return DPF_ENOMEM;
		}
		if (e->nrecs)
			dpf_memcpy(nr, e->recs, e->nrecs * sizeof *nr);
		if (e->nfree)
			dpf_memcpy(nf, e->freeids, e->nfree * sizeof *nf);
		dpf_free(&e->host, e->recs, e->caprecs * sizeof *nr);
		dpf_free(&e->host, e->freeids, e->capfree * sizeof *nf);
		e->recs = nr;
		e->freeids = nf;
		e->caprecs = e->capfree = nc;
	}
	return (int32_t)e->nrecs++;
}

/* ---- trie updates ---- */

static struct body *body_of(const struct node *n)
{
	return atomic_load_explicit(&((struct node *)n)->body,
	                            memory_order_relaxed);
}

/* Hash of the field an atom compares (its group key). */
static uint32_t key_hash(const struct dpf_atom *a)
{
	uint32_t h = (uint32_t)a->kind | (uint32_t)a->base << 8 |
	             (uint32_t)a->width << 16 | (uint32_t)a->shift << 24;
	h = (h ^ a->offset) * 0x9E3779B1u;
	h = (h ^ a->mask) * 0x85EBCA77u;
	return h ^ h >> 15;
}

/* Record group gi of b in its index (the index has room: at most half
 * full by construction). */
static void gix_put(struct body *b, uint32_t gi)
{
	uint32_t m = b->gixcap - 1;
	for (uint32_t i = key_hash(&b->g[gi].key) & m;; i = (i + 1) & m)
		if (!b->gix[i]) {
			b->gix[i] = gi + 1;
			return;
		}
}

/* Index of the gslot comparing a's field, or -1: by the body's index
 * when it has one, else by scanning its few groups. */
int dpf_find_group(const struct body *b, const struct dpf_atom *a)
{
	if (!b)
		return -1;
	uint32_t ng = atomic_load_explicit(&((struct body *)b)->ngroups,
	                                   memory_order_relaxed);
	if (b->gix) {
		uint32_t m = b->gixcap - 1;
		for (uint32_t i = key_hash(a) & m; b->gix[i]; i = (i + 1) & m) {
			uint32_t gi = b->gix[i] - 1;
			if (gi < ng && key_eq(a, &b->g[gi].key))
				return (int)gi;
		}
		return -1;
	}
	for (uint32_t i = 0; i < ng; i++)
		if (key_eq(a, &b->g[i].key))
			return (int)i;
	return -1;
}

/* Writer-side lookup in a gslot. */
static struct node *gs_get(const struct gslot *g, uint32_t v)
{
	struct table *t =
		atomic_load_explicit(&((struct gslot *)g)->tab, memory_order_relaxed);
	if (t)
		return tab_find(t, v);
	return g->v1 == v ? g->c1 : NULL;
}

static struct body *body_alloc(struct dpf_engine *e, uint32_t nterms,
                               uint32_t ngroups)
{
	uint32_t gcap = body_gcap(ngroups);
	uint32_t gixcap = gcap > GIX_MIN ? 2 * gcap : 0;
	size_t gs = gcap * sizeof(struct gslot);
	size_t ts = nterms * sizeof(struct term);
	struct body *b =
		obj_new(e, sizeof *b + gs + ts + gixcap * sizeof(uint32_t));
	if (!b)
		return NULL;
	b->nterms = nterms;
	atomic_store_explicit(&b->ngroups, ngroups, memory_order_relaxed);
	b->gcap = gcap;
	b->gixcap = gixcap;
	b->terms = (struct term *)((char *)b->g + gs);
	b->gix = gixcap ? (uint32_t *)((char *)b->terms + ts) : NULL;
	return b;
}

/* A copy of old (may be NULL) with term `add` (when add_t), without term
 * index drop_t (when >= 0), with gslot `add_g` (when not NULL), without
 * gslot index drop_g (when >= 0).  Terms stay sorted best first. */
static struct body *body_edit(struct dpf_engine *e, const struct body *old,
                              const struct term *add_t, int drop_t,
                              const struct gslot *add_g, int drop_g)
{
	uint32_t ot = old ? old->nterms : 0, og = old ? old->ngroups : 0;
	uint32_t nt = ot + (add_t ? 1 : 0) - (drop_t >= 0 ? 1 : 0);
	uint32_t ng = og + (add_g ? 1 : 0) - (drop_g >= 0 ? 1 : 0);
	if (nt == 0 && ng == 0)
		return NULL;
	struct body *b = body_alloc(e, nt, ng);
	if (!b)
		return NULL;
	uint32_t w = 0;
	int placed = !add_t;
	for (uint32_t k = 0; k < ot; k++) {
		if ((int)k == drop_t)
			continue;
		const struct term *o = &old->terms[k];
		if (!placed &&
		    dpf_better(add_t->prio, add_t->spec, add_t->id, o->prio, o->spec,
		               o->id)) {
			b->terms[w++] = *add_t;
			placed = 1;
		}
		b->terms[w++] = *o;
	}
	if (!placed)
		b->terms[w++] = *add_t;
	w = 0;
	for (uint32_t k = 0; k < og; k++) {
		if ((int)k == drop_g)
			continue;
		b->g[w] = old->g[k];
		atomic_store_explicit(&b->g[w].tab,
		                      atomic_load_explicit(&((struct body *)old)->g[k].tab,
		                                           memory_order_relaxed),
		                      memory_order_relaxed);
		w++;
	}
	if (add_g) {
		b->g[w] = *add_g;
		atomic_store_explicit(&b->g[w].tab, NULL, memory_order_relaxed);
	}
	for (uint32_t k = 0; b->gix && k < ng; k++)
		gix_put(b, k);
	return b;
}

/* Publish a node's new body and retire the old one.  A NULL new body is
 * only possible when the caller checked the node may be empty. */
static void body_publish(struct dpf_engine *e, struct node *n, struct body *nb)
{
	struct body *old = body_of(n);
	atomic_store_explicit(&n->body, nb, memory_order_release);
	retire(e, old);
}

/* Append gslot g to the published body of node n in place when it has
 * room (one release store), else publish a copy with room to spare. */
static int body_add_group(struct dpf_engine *e, struct node *n,
                          const struct gslot *g)
{
	struct body *b = body_of(n);
	uint32_t ng = b ? atomic_load_explicit(&b->ngroups, memory_order_relaxed)
	                : 0;
	if (b && ng < b->gcap) {
		b->g[ng] = *g;
		atomic_store_explicit(&b->g[ng].tab, NULL, memory_order_relaxed);
		if (b->gix)
			gix_put(b, ng);
		atomic_store_explicit(&b->ngroups, ng + 1, memory_order_release);
		return DPF_OK;
	}
	struct body *nb = body_edit(e, b, NULL, -1, g, -1);
	if (!nb)
		return DPF_ENOMEM;
	body_publish(e, n, nb);
	return DPF_OK;
}

static struct gslot gslot_make(const struct dpf_atom *a, uint32_t v,
                               struct node *child)
{
	struct gslot g;
	dpf_memset(&g, 0, sizeof g);
	g.key = *a;
	g.key.value = 0;
	g.v1 = v;
	g.c1 = child;
	return g;
}

/* A private chain of nodes for atoms[i..] ending in term t. */
static struct node *build_suffix(struct dpf_engine *e, const struct dpf_path *p,
                                 uint32_t i, struct term t)
{
	struct node *n = node_new(e);
	if (!n)
		return NULL;
	struct body *b = NULL;
	if (i == p->natoms) {
		b = body_edit(e, NULL, &t, -1, NULL, -1);
	} else {
		struct node *child = build_suffix(e, p, i + 1, t);
		if (child) {
			struct gslot g =
				gslot_make(&p->atoms[i], dpf_atom_key_value(&p->atoms[i]), child);
			b = body_edit(e, NULL, NULL, -1, &g, -1);
			if (!b)
				subtree_free(e, child, 1);
		}
	}
	if (!b) {
		obj_free(e, n);
		return NULL;
	}
	atomic_store_explicit(&n->body, b, memory_order_relaxed);
	return n;
}

/* Capacity for a rebuilt table of n entries. */
static void table_shape(uint32_t n, uint32_t *kind, uint32_t *cap)
{
	if (n <= 1) {
		*kind = TAB_LIST;
		*cap = 1;
	} else if (n <= TAB_LIST_MAX) {
		*kind = TAB_LIST;
		*cap = TAB_LIST_MAX;
	} else {
		uint32_t c = TAB_HASH_MIN;
		while (c < 2 * n)
			c *= 2;
		*kind = TAB_HASH;
		*cap = c;
	}
}

static void table_put(struct table *t, uint32_t v, struct node *c)
{
	uint32_t i = t->kind == TAB_HASH ? tab_hash(v, t) : 0;
	for (;; i = (i + 1) & (t->cap - 1))
		if (!atomic_load_explicit(&t->s[i].child, memory_order_relaxed))
			break;
	t->s[i].value = v;
	atomic_store_explicit(&t->s[i].child, c, memory_order_release);
	t->count++;
}

/* A table of the entries of g (its table, or its inline entry), without
 * `drop_value` (when drop), plus (v, c) (when c). */
static struct table *table_rebuild(struct dpf_engine *e, const struct gslot *g,
                                   int drop, uint32_t drop_value, uint32_t v,
                                   struct node *c)
{
	const struct table *t =
		atomic_load_explicit(&((struct gslot *)g)->tab, memory_order_relaxed);
	uint32_t have = t ? t->count : 1;
	uint32_t n = have - (drop ? 1 : 0) + (c ? 1 : 0), kind, cap;
	table_shape(n, &kind, &cap);
	struct table *nt = table_new(e, kind, cap);
	if (!nt)
		return NULL;
	if (!t) {
		if (!(drop && g->v1 == drop_value))
			table_put(nt, g->v1, g->c1);
	}
	for (uint32_t i = 0; t && i < t->cap; i++) {
		struct node *x =
			atomic_load_explicit(&((struct table *)t)->s[i].child,
			                     memory_order_relaxed);
		if (x && x != TOMB && !(drop && t->s[i].value == drop_value))
			table_put(nt, t->s[i].value, x);
	}
	if (c)
		table_put(nt, v, c);
	return nt;
}

/* Add (v -> c) to gslot g: in place when its table has a free slot within
 * its shape, else by publishing a new table (the first one replaces the
 * inline entry). */
static int table_add(struct dpf_engine *e, struct gslot *g, uint32_t v,
                     struct node *c)
{
	struct table *t = atomic_load_explicit(&g->tab, memory_order_relaxed);
	if (t) {
		int fits = t->kind == TAB_HASH
		               ? (t->count + t->tombs + 1) * 4 <= t->cap * 3
		               : t->count + t->tombs < t->cap;
		if (fits) {
			table_put(t, v, c);
			return DPF_OK;
		}
	}
	struct table *nt = table_rebuild(e, g, 0, 0, v, c);
	if (!nt)
		return DPF_ENOMEM;
	atomic_store_explicit(&g->tab, nt, memory_order_release);
	retire(e, t);
	return DPF_OK;
}

/* Merge one canonical path; one publication. */
static int insert_path(struct dpf_engine *e, const struct dpf_path *p,
                       struct term t)
{
	struct node *n = e->root;
	for (uint32_t i = 0;; i++) {
		struct body *b = body_of(n);
		if (i == p->natoms) {
			struct body *nb = body_edit(e, b, &t, -1, NULL, -1);
			if (!nb)
				return DPF_ENOMEM;
			body_publish(e, n, nb);
			return DPF_OK;
		}
		const struct dpf_atom *a = &p->atoms[i];
		uint32_t v = dpf_atom_key_value(a);
		int gi = dpf_find_group(b, a);
		struct node *c = gi >= 0 ? gs_get(&b->g[gi], v) : NULL;
		if (c) {
			n = c;
			continue;
		}
		struct node *sub = build_suffix(e, p, i + 1, t);
		if (!sub)
			return DPF_ENOMEM;
		if (gi >= 0) {
			if (table_add(e, &b->g[gi], v, sub) != DPF_OK) {
				subtree_free(e, sub, 1);
				return DPF_ENOMEM;
			}
			return DPF_OK;
		}
		struct gslot g = gslot_make(a, v, sub);
		if (body_add_group(e, n, &g) != DPF_OK) {
			subtree_free(e, sub, 1);
			return DPF_ENOMEM;
		}
		return DPF_OK;
	}
}

/* Entries of gslot g. */
static uint32_t gs_count(const struct gslot *g)
{
	struct table *t =
		atomic_load_explicit(&((struct gslot *)g)->tab, memory_order_relaxed);
	return t ? t->count : 1;
}

/* Unlink one path of filter id; one publication.  Allocation can fail
 * only when a rebuilt table or body is needed; then a table slot becomes
 * TOMB or, for bodies, the path stays (harmless: its id is not live) and
 * DPF_ENOMEM is returned. */
static int delete_path(struct dpf_engine *e, const struct dpf_path *p,
                       int32_t id)
{
	struct node *nodes[DPF_MAX_ATOMS + 1];
	int gidx[DPF_MAX_ATOMS];
	struct node *n = e->root;
	nodes[0] = n;
	for (uint32_t i = 0; i < p->natoms; i++) {
		struct body *b = body_of(n);
		gidx[i] = dpf_find_group(b, &p->atoms[i]);
		if (gidx[i] < 0)
			return DPF_ENOENT;
		n = gs_get(&b->g[gidx[i]], dpf_atom_key_value(&p->atoms[i]));
		if (!n)
			return DPF_ENOENT;
		nodes[i + 1] = n;
	}
	struct body *eb = body_of(n);
	int at = 0;
	while (eb && (uint32_t)at < eb->nterms && eb->terms[at].id != id)
		at++;
	if (!eb || (uint32_t)at == eb->nterms)
		return DPF_ENOENT;

	if (p->natoms == 0 || eb->nterms > 1 || eb->ngroups > 0) {
		/* The end node stays: publish its body without the term. */
		struct body *nb = body_edit(e, eb, NULL, at, NULL, -1);
		if (!nb && (eb->nterms > 1 || eb->ngroups > 0))
			return DPF_ENOMEM;
		body_publish(e, n, nb);
		return DPF_OK;
	}
	/* The end node empties: find the highest node k that stays, i.e. the
	 * first ancestor with more than this one gslot entry or a term. */
	uint32_t k = p->natoms - 1;
	while (k > 0) {
		struct body *b = body_of(nodes[k]);
		if (b->nterms || b->ngroups != 1 || gs_count(&b->g[0]) != 1)
			break;
		k--;
	}
	struct node *keep = nodes[k];
	struct body *kb = body_of(keep);
	struct gslot *g = &kb->g[gidx[k]];
	struct node *gone = nodes[k + 1];
	uint32_t v = dpf_atom_key_value(&p->atoms[k]);
	struct table *t = atomic_load_explicit(&g->tab, memory_order_relaxed);
	if (gs_count(g) == 1) {
		struct body *nb = body_edit(e, kb, NULL, -1, NULL, gidx[k]);
		if (!nb && (kb->nterms || kb->ngroups > 1))
			return DPF_ENOMEM;
		body_publish(e, keep, nb);
		retire(e, t);
	} else {
		uint32_t n1 = t->count - 1;
		int rebuild = (t->kind == TAB_HASH &&
		               (n1 <= TAB_DEMOTE ||
		                (n1 * 8 < t->cap && t->cap > TAB_HASH_MIN) ||
		                (t->tombs + 1) * 4 > t->cap));
		struct table *nt = rebuild ? table_rebuild(e, g, 1, v, 0, NULL) : NULL;
		if (nt) {
			atomic_store_explicit(&g->tab, nt, memory_order_release);
			retire(e, t);
		} else {
			/* gone sits where a lookup of v stops */
			uint32_t i = t->kind == TAB_HASH ? tab_hash(v, t) : 0;
			while (atomic_load_explicit(&t->s[i].child,
			                            memory_order_relaxed) != gone)
				i = (i + 1) & (t->cap - 1);
			atomic_store_explicit(&t->s[i].child, TOMB, memory_order_release);
			t->count--;
			t->tombs++;
		}
	}
	subtree_free(e, gone, 0);
	return DPF_OK;
}

static int path_eq(const struct dpf_path *a, const struct dpf_path *b)
{
	if (a->natoms != b->natoms)
		return 0;
	for (uint32_t i = 0; i < a->natoms; i++)
		if (!dpf_atom_eq(&a->atoms[i], &b->atoms[i]))
			return 0;
	return 1;
}

/* Canonical, deduplicated copy of f in a new record. */
static int frec_make(struct dpf_engine *e, const struct dpf_filter *f,
                     struct frec **out, struct dpf_diag *d)
{
	const struct dpf_host *h = &e->host;
	struct frec *r = dpf_zalloc(h, sizeof *r);
	if (!r)
		return DPF_ENOMEM;
	r->f = *f;
	r->f.paths = dpf_zalloc(h, f->npaths * sizeof(struct dpf_path));
	r->spec = dpf_zalloc(h, f->npaths * sizeof(uint32_t));
	r->f.npaths = 0;
	if (!r->f.paths || !r->spec) {
		dpf_free(h, r->f.paths, f->npaths * sizeof(struct dpf_path));
		dpf_free(h, r->spec, f->npaths * sizeof(uint32_t));
		dpf_free(h, r, sizeof *r);
		return DPF_ENOMEM;
	}
	uint32_t cap = f->npaths;
	for (uint32_t p = 0; p < f->npaths; p++) {
		struct dpf_path q;
		q.natoms = f->paths[p].natoms;
		q.atoms = q.natoms ? dpf_alloc(h, q.natoms * sizeof(struct dpf_atom))
		                   : NULL;
		if (q.natoms && !q.atoms)
			goto nomem;
		if (q.natoms)
			dpf_memcpy(q.atoms, f->paths[p].atoms,
			           q.natoms * sizeof(struct dpf_atom));
		uint32_t full = q.natoms;
		int dead = dpf_path_canon(&q);
		int dup = 0;
		/* Paths of one filter are few or come from `in {}` sets, where the
		 * last atom differs; compare with the recent ones only when many. */
		for (uint32_t k = r->f.npaths; !dead && k > 0 && !dup; k--) {
			if (r->f.npaths - k > 64)
				break;
			dup = path_eq(&q, &r->f.paths[k - 1]);
		}
		if (dead || dup) {
			dpf_free(h, q.atoms, full * sizeof(struct dpf_atom));
			continue;
		}
		/* Keep the allocation size exact for the host's free(size). */
		if (q.natoms != full) {
			struct dpf_atom *x =
				q.natoms ? dpf_alloc(h, q.natoms * sizeof *x) : NULL;
			if (q.natoms && !x) {
				dpf_free(h, q.atoms, full * sizeof(struct dpf_atom));
				goto nomem;
			}
			if (q.natoms)
				dpf_memcpy(x, q.atoms, q.natoms * sizeof *x);
			dpf_free(h, q.atoms, full * sizeof(struct dpf_atom));
			q.atoms = x;
		}
		r->spec[r->f.npaths] = dpf_path_specificity(&q);
		r->f.paths[r->f.npaths++] = q;
	}
	/* frec_free frees with npaths; keep arrays sized by the original count
	 * by remembering it in a shrink-free way: reallocate exactly. */
	if (r->f.npaths != cap) {
		uint32_t n = r->f.npaths;
		struct dpf_path *np = n ? dpf_alloc(h, n * sizeof *np) : NULL;
		uint32_t *ns = n ? dpf_alloc(h, n * sizeof *ns) : NULL;
		if (n && (!np || !ns)) {
			dpf_free(h, np, n * sizeof *np);
			dpf_free(h, ns, n * sizeof *ns);
			goto nomem;
		}
		if (n) {
			dpf_memcpy(np, r->f.paths, n * sizeof *np);
			dpf_memcpy(ns, r->spec, n * sizeof *ns);
		}
		dpf_free(h, r->f.paths, cap * sizeof *np);
		dpf_free(h, r->spec, cap * sizeof *ns);
		r->f.paths = np;
		r->spec = ns;
	}
	if (r->f.npaths == 0) {
		dpf_fmt(d->msg, sizeof d->msg, "filter '%s' can never match",
		        f->name);
		frec_free(e, r);
		return DPF_EINVAL;
	}
	*out = r;
	return DPF_OK;
nomem:
	/* paths array still has cap entries of which npaths are set */
	for (uint32_t p = 0; p < r->f.npaths; p++)
		dpf_free(h, r->f.paths[p].atoms,
		         r->f.paths[p].natoms * sizeof(struct dpf_atom));
	dpf_free(h, r->f.paths, cap * sizeof(struct dpf_path));
	dpf_free(h, r->spec, cap * sizeof(uint32_t));
	dpf_free(h, r, sizeof *r);
	return DPF_ENOMEM;
}

int dpf_insert(struct dpf_engine *e, const struct dpf_filter *f, int *idp,
               struct dpf_diag *d)
{
	struct dpf_diag scratch;
	if (!d)
		d = &scratch;
	int rc = vfy_filter(f, d);
	if (rc != DPF_OK)
		return rc;
	if (dpf_lookup(e, f->name) >= 0) {
		dpf_fmt(d->msg, sizeof d->msg, "a filter named '%s' is installed",
		        f->name);
		return DPF_EEXIST;
	}
	struct frec *r;
	if ((rc = frec_make(e, f, &r, d)) != DPF_OK)
		return rc;
	for (uint32_t p = 0; p < r->f.npaths; p++) {
		int32_t other;
		int c = dpf_conflict(e, &r->f.paths[p], r->f.priority, r->spec[p],
		                     &other);
		if (c) {
			const char *on = e->recs[other]->f.name;
			if (c == 2)
				dpf_fmt(d->msg, sizeof d->msg,
				        "filter '%s' duplicates filter '%s' (a path of both "
				        "is the same, at priority %u)",
				        f->name, on, f->priority);
			else
				dpf_fmt(d->msg, sizeof d->msg,
				        "filter '%s' is ambiguous with filter '%s': a packet "
				        "can match both at priority %u with %u bits compared",
				        f->name, on, f->priority, r->spec[p]);
			frec_free(e, r);
			return DPF_EAMBIG;
		}
	}
	int32_t id = id_take(e);
	if (id < 0) {
		frec_free(e, r);
		dpf_fmt(d->msg, sizeof d->msg, "filter '%s': %s", f->name,
		        id == DPF_ELIMIT ? "too many filters" : "out of memory");
		return id;
	}
	for (uint32_t p = 0; p < r->f.npaths; p++) {
		struct term t = {id, r->f.priority, r->spec[p]};
		if (insert_path(e, &r->f.paths[p], t) != DPF_OK) {
			int gone = 1;
			while (p-- > 0)
				gone &= delete_path(e, &r->f.paths[p], id) == DPF_OK;
			/* Readers may still hold the unlinked terms of the id: it is
			 * reused only after they leave, like a deleted filter's. */
			if (gone && e->pending)
				e->pending->release_id = id;
			else if (gone)
				e->freeids[e->nfree++] = id;
			else
				e->zombies++;
			if (e->be)
				e->be->update(e->be, e, &r->f);
			update_done(e);
			frec_free(e, r);
			dpf_fmt(d->msg, sizeof d->msg, "filter '%s': out of memory",
			        f->name);
			return DPF_ENOMEM;
		}
	}
	e->recs[id] = r;
	e->count++;
	name_link(e, id);
	names_grow(e);
	prio_link(e, id);
	atomic_store_explicit(&e->live[id], 1, memory_order_release);
	if (e->be)
		e->be->update(e->be, e, &r->f);
	update_done(e);
	if (idp)
		*idp = id;
	return DPF_OK;
}

int dpf_delete(struct dpf_engine *e, int id)
{
	if (id < 0 || (uint32_t)id >= e->nrecs || !e->recs[id])
		return DPF_ENOENT;
	struct frec *r = e->recs[id];
	atomic_store_explicit(&e->live[id], 0, memory_order_release);
	int rc = DPF_OK;
	for (uint32_t p = 0; p < r->f.npaths; p++)
		if (delete_path(e, &r->f.paths[p], id) != DPF_OK)
			rc = DPF_ENOMEM;
	name_unlink(e, id);
	prio_unlink(e, id);
	e->recs[id] = NULL;
	e->count--;
	/* The id is reused once the last object this delete retired is freed:
	 * by then no reader can hold a term carrying it. */
	if (e->pending && rc == DPF_OK)
		e->pending->release_id = id;
	else if (rc != DPF_OK)
		e->zombies++;
	if (e->be)
		e->be->update(e->be, e, &r->f);
	frec_free(e, r);
	update_done(e);
	return rc;
}
