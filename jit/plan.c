/*
 * plan.c - the target-neutral decisions of the trie back end: which
 * dispatch a group becomes, key fusion and shape sharing, the form of
 * each table (direct, perfect hash, seeded hash with bounded probes),
 * and the weights that order chains.  x86_emit.c encodes what is
 * decided here; jit.c keeps it current.
 *
 * Key fusion and shapes.  Below a dispatch on field F, every node with a
 * live term is reached by a sequence of steps (fields compared, SHIFTs)
 * and the values compared on the way.  The sequence without its values
 * is the node's shape; F's value and the values compared are its fused
 * key.  A dispatch whose subtree has at most SHAPE_MAX shapes, each at
 * most TAIL_MAX steps with at most TAIL_CMP comparisons, becomes one
 * table per shape holding (fused key -> term key) records: the code
 * runs each shape's steps once, shared by every record of the shape,
 * and makes one lookup.  `ip.dst == A and tcp.dport == P` for any set
 * of (A, P) is one shape [IHL shift, tcp.dport], one lookup on (A, P),
 * however many ports a host has; a wildcard `ip.dst == A and tcp` beside
 * it is a second shape.  Code grows with shapes, not filters.
 *
 * Tables: a shape whose records F's value tells apart (no comparisons,
 * or no value twice) is keyed by that value alone when it pays: a direct
 * table when the values are dense, else a multiplier under which the
 * values are collision-free (no probe loop) when one of eight is, the
 * tail values compared in the one slot.  Other shapes take the seeded
 * hash, a
 * 64-bit multiplicative hash of the fused key (jh_home), sized as for
 * unit mode (at least twice the records) and kept at most half full; the seed is drawn per table
 * (from the time stamp counter and the back end's addresses through
 * splitmix64), and a seed under which some record would sit
 * JIT_PROBE_MAX or more slots from its home is replaced, then the table
 * doubled, so a lookup examines at most JIT_PROBE_MAX slots whatever
 * keys the filters carry.
 */
#include "jit/jit_int.h"

int32_t jit_best(const struct dpf_engine *e, const struct body *b)
{
	for (uint32_t i = 0; b && i < b->nterms; i++)
		if (atomic_load(&e->live[b->terms[i].id]))
			return b->terms[i].id; /* sorted best first */
	return -1;
}

uint64_t jit_term_key(const struct term *t)
{
	return (uint64_t)t->prio << 48 | (uint64_t)(t->spec + 1) << 16 |
	       (uint32_t)(65535 - t->id);
}

static uint32_t weigh(const struct dpf_engine *e, const struct node *n,
                      uint32_t *visits)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b || (*visits)-- == 0)
		return 1;
	uint32_t w = 0;
	for (uint32_t i = 0; i < b->nterms; i++)
		w += atomic_load(&e->live[b->terms[i].id]) != 0;
	for (uint32_t i = 0; i < b->ngroups; i++) {
		const struct gslot *g = &b->g[i];
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		if (!t) {
			w += g->c1 ? weigh(e, g->c1, visits) : 0;
		} else if (t->kind == TAB_HASH) {
			w += t->count;
		} else {
			for (uint32_t x = 0; x < t->cap; x++) {
				const struct node *k =
					LOAD(((struct table *)t)->s[x].child);
				if (k && k != TOMB)
					w += *visits ? weigh(e, k, visits) : 1;
			}
		}
	}
	return w;
}

uint32_t jit_weight(const struct dpf_engine *e, const struct node *n)
{
	uint32_t visits = JIT_WEIGHT_VISITS;
	return weigh(e, n, &visits);
}

int jit_chain_stale(const struct jgroup *jg, uint32_t x, uint32_t w)
{
	return (x > 0 && w > 2 * jg->w[x - 1] + 1) ||
	       (x + 1 < jg->n && jg->w[x + 1] > 2 * w + 1);
}

int jit_shape_eq(const struct tshape *a, const struct tshape *b)
{
	if (a->n != b->n)
		return 0;
	for (uint32_t i = 0; i < a->n; i++)
		if (!key_eq(&a->step[i], &b->step[i]))
			return 0;
	return 1;
}

/* ---- key fusion ---- */

struct walk {
	const struct dpf_engine *e;
	struct fplan *p;
	struct tshape cur;
	uint32_t value;
	uint32_t tail[TAIL_CMP];
	int rc; /* 1 fusable so far; 0 not; DPF_ENOMEM */
};

static void add_rec(struct walk *w, const struct body *b, int32_t best)
{
	struct fplan *p = w->p;
	uint32_t si = 0;
	while (si < p->nshapes && !jit_shape_eq(&p->shape[si], &w->cur))
		si++;
	if (si == p->nshapes) {
		if (si == SHAPE_MAX) {
			w->rc = 0;
			return;
		}
		p->shape[p->nshapes++] = w->cur;
	}
	if (!grow(&w->e->host, (void **)&p->recs, &p->caprecs, p->nrecs,
	          sizeof *p->recs)) {
		w->rc = DPF_ENOMEM;
		return;
	}
	struct frec_plan *r = &p->recs[p->nrecs++];
	dpf_memset(r, 0, sizeof *r);
	r->shape = si;
	r->value = w->value;
	dpf_memcpy(r->tail, w->tail, w->cur.ncmp * sizeof *r->tail);
	for (uint32_t i = 0; i < b->nterms; i++)
		if (b->terms[i].id == best)
			r->key = jit_term_key(&b->terms[i]);
	p->count[si]++;
}

static void walk_node(struct walk *w, const struct node *n)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b || w->rc != 1)
		return;
	int32_t best = jit_best(w->e, b);
	if (best >= 0)
		add_rec(w, b, best);
	for (uint32_t gi = 0; gi < b->ngroups && w->rc == 1; gi++) {
		const struct gslot *g = &b->g[gi];
		const struct dpf_atom *k = &g->key;
		int cmp = k->kind == DPF_ATOM_CMP;
		if (w->cur.n == TAIL_MAX || (cmp && w->cur.ncmp == TAIL_CMP)) {
			w->rc = 0;
			return;
		}
		struct dpf_atom *st = &w->cur.step[w->cur.n++];
		*st = *k;
		st->value = 0;
		w->cur.ncmp += cmp;
		const struct table *t = LOAD(((struct gslot *)g)->tab);
		uint32_t cap = t ? t->cap : 1;
		for (uint32_t x = 0; x < cap && w->rc == 1; x++) {
			const struct node *c =
				t ? LOAD(((struct table *)t)->s[x].child) : g->c1;
			if (!c || c == TOMB)
				continue;
			if (cmp)
				w->tail[w->cur.ncmp - 1] =
					jit_bswap(t ? t->s[x].value : g->v1, k->width);
			walk_node(w, c);
		}
		w->cur.n--;
		w->cur.ncmp -= cmp;
	}
}

int jit_fuse_plan(const struct dpf_engine *e, const uint32_t *vals,
                  const struct node *const *kids, uint32_t cnt,
                  struct fplan *p)
{
	struct walk w;
	dpf_memset(&w, 0, sizeof w);
	w.e = e;
	w.p = p;
	w.rc = 1;
	for (uint32_t i = 0; i < cnt && w.rc == 1; i++) {
		w.value = vals[i];
		walk_node(&w, kids[i]);
	}
	return w.rc;
}

void jit_fuse_plan_free(const struct dpf_host *h, struct fplan *p)
{
	dpf_free(h, p->recs, p->caprecs * sizeof *p->recs);
	p->recs = NULL;
	p->caprecs = p->nrecs = 0;
}

/* ---- table forms ---- */

/* Odd multipliers tried, in order, for a collision-free table: the
 * Fibonacci constant first (sequential keys land apart under it), then
 * well-mixing odd constants.  Trying them is cheap: a set that collides
 * usually does so within its first sqrt(cap) keys. */
static const uint32_t hash_mults[] = {
	0x9E3779B1u, 0x85EBCA6Bu, 0xC2B2AE35u, 0x27D4EB2Fu,
	0x165667B1u, 0xCC9E2D51u, 0x1B873593u, 0xE6546B65u,
};
#define NMULTS (sizeof hash_mults / sizeof hash_mults[0])

/* *yes = 1 when no two of vals share a home slot in a table of 2^lg
 * under multiplier mult. */
static int collision_free(const struct dpf_host *h, const uint32_t *vals,
                          uint32_t cnt, uint32_t lg, uint32_t mult, int *yes)
{
	uint32_t words = ((1u << lg) + 63) / 64;
	uint64_t *seen = dpf_zalloc(h, words * sizeof *seen);
	if (!seen)
		return 0;
	*yes = 1;
	for (uint32_t i = 0; i < cnt && *yes; i++) {
		uint32_t at = (uint32_t)(vals[i] * mult) >> (32 - lg);
		if (seen[at / 64] >> (at % 64) & 1)
			*yes = 0;
		seen[at / 64] |= 1ull << (at % 64);
	}
	dpf_free(h, seen, words * sizeof *seen);
	return 1;
}

int jit_hash_form(const struct dpf_host *host, struct jhash *h,
                  const uint32_t *vals, uint32_t cnt)
{
	h->cap = 8;
	h->lg = 3;
	while (h->cap < 2 * cnt) {
		h->cap *= 2;
		h->lg++;
	}
	/* Dense keys (their range at most 4 times their number): a direct
	 * table indexed by value - base.  Else collision-free at this size
	 * or the next: then the lookup has no probe loop (sequential keys
	 * usually are, under Fibonacci hashing). */
	uint32_t lo = vals[0], hi = vals[0];
	for (uint32_t i = 1; i < cnt; i++) {
		lo = vals[i] < lo ? vals[i] : lo;
		hi = vals[i] > hi ? vals[i] : hi;
	}
	h->direct = (uint64_t)hi - lo + 1 <= 4ull * cnt;
	h->noloop = h->direct;
	if (h->direct) {
		h->base = lo;
		while (h->cap < hi - lo + 1) {
			h->cap *= 2;
			h->lg++;
		}
	}
	/* A collision-free multiplier at this size or the next, chosen now
	 * (a later key that collides rebuilds the unit, and chooses again);
	 * else the first multiplier and a probe loop. */
	h->mult = hash_mults[0];
	h->seed = 0;
	for (uint32_t extra = 0; extra < 2 && !h->noloop; extra++)
		for (uint32_t m = 0; m < NMULTS && !h->noloop; m++) {
			if (!collision_free(host, vals, cnt, h->lg + extra,
			                    hash_mults[m], &h->noloop))
				return DPF_ENOMEM;
			if (h->noloop) {
				h->cap <<= extra;
				h->lg += extra;
				h->mult = hash_mults[m];
			}
		}
	return DPF_OK;
}

static uint32_t next_seed(struct dpf_jit *j)
{
	if (!j->rng)
		j->rng = __builtin_ia32_rdtsc() ^ (uint64_t)(uintptr_t)j ^
		         (uint64_t)(uintptr_t)j->stub.rx << 17;
	uint64_t z = (j->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

/* Place p's records of shape si into h's zeroed slots; 0 when one would
 * sit too far from its home (a looping table) or off it (no loop). */
static int place(const struct fplan *p, uint32_t si, struct jhash *h)
{
	for (uint32_t r = 0; r < p->nrecs; r++) {
		const struct frec_plan *x = &p->recs[r];
		if (x->shape != si)
			continue;
		uint32_t home = jh_home(h, x->value, x->tail), at = home;
		while (jh_slot(h, at)->w)
			at = (at + 1) & (h->cap - 1);
		if (((at - home) & (h->cap - 1)) >= (h->noloop ? 1 : JIT_PROBE_MAX))
			return 0;
		struct jslot *sl = jh_slot(h, at);
		sl->w = x->key;
		sl->value = x->value;
		dpf_memcpy(sl->tail, x->tail, h->shape.ncmp * sizeof *sl->tail);
		h->count++;
	}
	return 1;
}

/* 1 when no value of vals (a direct table's) is there twice, 0 when one
 * is, DPF_ENOMEM. */
static int distinct_direct(const struct dpf_host *host, const struct jhash *h,
                           const uint32_t *vals, uint32_t cnt)
{
	uint32_t words = (h->cap + 63) / 64;
	uint64_t *seen = dpf_zalloc(host, words * sizeof *seen);
	if (!seen)
		return DPF_ENOMEM;
	int yes = 1;
	for (uint32_t i = 0; i < cnt && yes; i++) {
		uint32_t at = vals[i] - h->base;
		yes = !(seen[at / 64] >> (at % 64) & 1);
		seen[at / 64] |= 1ull << (at % 64);
	}
	dpf_free(host, seen, words * sizeof *seen);
	return yes;
}

int jit_fuse_table(struct dpf_jit *j, const struct fplan *p, uint32_t si,
                   struct jhash *h)
{
	const struct dpf_host *host = &j->e->host;
	uint32_t cnt = p->count[si];
	h->fused = 1;
	h->shape = p->shape[si];
	h->stride = h->shape.ncmp > 1 ? 32 : 16;
	/* Keyed by the value alone when the values tell the records apart
	 * (a shape without comparisons, or no value twice): a direct table or
	 * a perfect hash, no probe loop, the tail compared in the one slot. */
	uint32_t *vals = dpf_alloc(host, cnt * sizeof *vals);
	if (!vals)
		return DPF_ENOMEM;
	uint32_t k = 0;
	for (uint32_t r = 0; r < p->nrecs; r++)
		if (p->recs[r].shape == si)
			vals[k++] = p->recs[r].value;
	int rc = jit_hash_form(host, h, vals, cnt);
	if (rc == DPF_OK && h->direct && h->shape.ncmp &&
	    (rc = distinct_direct(host, h, vals, cnt)) == 0)
		h->direct = h->noloop = 0;
	dpf_free(host, vals, cnt * sizeof *vals);
	if (rc < 0)
		return rc;
	if (!h->noloop) { /* the seeded hash, at most half full */
		h->seeded = 1;
		h->direct = 0;
		h->cap = 8;
		h->lg = 3;
		while (h->cap < 2 * cnt) {
			h->cap *= 2;
			h->lg++;
		}
	}
	for (uint32_t tries = 0; tries < 16; tries++) {
		if (!h->noloop && tries && tries % 4 == 0) {
			h->cap *= 2;
			h->lg++;
		}
		if (!h->noloop)
			h->seed = next_seed(j);
		h->data = dpf_zalloc(host, jh_bytes(h));
		if (!h->data)
			return DPF_ENOMEM;
		h->count = 0;
		if (place(p, si, h))
			return DPF_OK;
		dpf_free(host, h->data, jh_bytes(h));
		h->data = NULL;
		if (h->noloop) /* collision-free was checked: cannot happen */
			break;
	}
	return DPF_ENOMEM;
}
