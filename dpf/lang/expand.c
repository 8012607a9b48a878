/*
 * expand.c - AST -> paths: the disjunctive normal form of a filter.
 *
 * Interface: lang_expand().
 *
 * Every term expands to a set of paths (lists of atoms), each carrying L,
 * the link payload offset in force after it: 14 at the start of a filter,
 * plus 4 for each `vlan` word or vlan.id term on that path.  Then
 *   A or B   = paths(A, L) + paths(B, L)
 *   A and B  = { a ++ b : a in paths(A, L), b in paths(B, L_a) }
 * so each path of A carries its own L into B; `(vlan or ip) and tcp` looks
 * for TCP behind the tag only on the vlan path.  (tcpdump lets the offset
 * change leak across `or`; we do not.)
 *
 * Invariants of a path set (struct xset):
 *   - every path is canonical (dpf_path_canon) and satisfiable as far as
 *     the canonical form can tell: paths it reports dead are dropped as
 *     soon as they are built, before they multiply;
 *   - no two paths are equal (hash set over atoms and, while expanding, L);
 *   - at most DPF_MAX_PATHS paths of at most DPF_MAX_ATOMS atoms; beyond
 *     that the expansion stops with an error at the node responsible.
 * The cross product of `and` also stops after LANG_MAX_PAIRS candidate
 * pairs, so contradictory products (udp.dport in {...} and tcp.dport in
 * {...}) cannot take unbounded time.
 *
 * Guards and locations come from fields.c; the atoms written here are,
 * row by row, what libpcap 1.10 generates for the tcpdump equivalents in
 * docs/LANGUAGE.md.
 */
#include "dpf/lang/lang_int.h"

#include <stdlib.h>
#include <string.h>

/* Candidate pairs one `and` may try (see above). */
#define LANG_MAX_PAIRS (1u << 22)

struct xpath {
	uint32_t off;  /* first atom in xset.a */
	uint16_t n;    /* atoms */
	uint16_t L;    /* link payload offset after this path */
	uint32_t hash;
};

struct xset {
	struct xpath *p;
	uint32_t np, capp;
	struct dpf_atom *a;
	size_t na, capa;
	uint32_t *ht; /* path index + 1; 0 empty; power-of-two size */
	uint32_t htcap;
	int with_l;   /* L is part of a path's identity */
};

struct xctx {
	struct lang_ctx *cx;
	const struct lang_decl *d;
};

/* ---- path sets ---- */

static void xs_init(struct xset *s, int with_l)
{
	memset(s, 0, sizeof *s);
	s->with_l = with_l;
}

static void xs_free(struct xset *s)
{
	free(s->p);
	free(s->a);
	free(s->ht);
	memset(s, 0, sizeof *s);
}

static uint32_t mix(uint32_t h, uint32_t x)
{
	h ^= x;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

static uint32_t path_hash(const struct dpf_atom *a, unsigned n, unsigned L)
{
	uint32_t h = mix(0x811c9dc5u, n << 16 | L);
	for (unsigned i = 0; i < n; i++) {
		h = mix(h, (uint32_t)a[i].kind << 24 | (uint32_t)a[i].base << 16 |
		               (uint32_t)a[i].width << 8 | a[i].shift);
		h = mix(h, a[i].offset);
		h = mix(h, a[i].mask);
		h = mix(h, a[i].value);
	}
	return h;
}

static int atom_eq(const struct dpf_atom *x, const struct dpf_atom *y)
{
	return x->kind == y->kind && x->base == y->base && x->width == y->width &&
	       x->shift == y->shift && x->offset == y->offset &&
	       x->mask == y->mask && x->value == y->value;
}

static int same_path(const struct xset *s, const struct xpath *p,
                     const struct dpf_atom *a, unsigned n, unsigned L)
{
	if (p->n != n || (s->with_l && p->L != L))
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (!atom_eq(&s->a[p->off + i], &a[i]))
			return 0;
	return 1;
}

static int xs_rehash(struct xset *s)
{
	uint32_t cap = s->htcap ? 2 * s->htcap : 64;
	uint32_t *ht = calloc(cap, sizeof *ht);
	if (!ht)
		return -1;
	for (uint32_t k = 0; k < s->np; k++) {
		uint32_t i = s->p[k].hash & (cap - 1);
		while (ht[i])
			i = (i + 1) & (cap - 1);
		ht[i] = k + 1;
	}
	free(s->ht);
	s->ht = ht;
	s->htcap = cap;
	return 0;
}

/* Add a canonical path unless an equal one is there; 0, or -1 out of
 * memory. */
static int xs_add(struct xset *s, const struct dpf_atom *a, unsigned n,
                  unsigned L)
{
	uint32_t h = path_hash(a, n, s->with_l ? L : 0);
	if (2 * (s->np + 1) > s->htcap && xs_rehash(s) < 0)
		return -1;
	uint32_t i = h & (s->htcap - 1);
	for (; s->ht[i]; i = (i + 1) & (s->htcap - 1)) {
		const struct xpath *p = &s->p[s->ht[i] - 1];
		if (p->hash == h && same_path(s, p, a, n, L))
			return 0;
	}
	if (s->np == s->capp) {
		uint32_t nc = s->capp ? 2 * s->capp : 16;
		struct xpath *np = realloc(s->p, nc * sizeof *np);
		if (!np)
			return -1;
		s->p = np;
		s->capp = nc;
	}
	if (s->na + n > s->capa || !s->a) { /* never NULL: callers do a + off */
		size_t nc = s->capa ? 2 * s->capa : 64;
		while (nc < s->na + n)
			nc *= 2;
		struct dpf_atom *na = realloc(s->a, nc * sizeof *na);
		if (!na)
			return -1;
		s->a = na;
		s->capa = nc;
	}
	if (n)
		memcpy(s->a + s->na, a, n * sizeof *a);
	s->p[s->np] = (struct xpath){(uint32_t)s->na, (uint16_t)n, (uint16_t)L, h};
	s->na += n;
	s->ht[i] = ++s->np;
	return 0;
}

/* ---- errors ---- */

static int too_many_paths(struct xctx *xc, struct lang_pos pos)
{
	lang_error_code(xc->cx, DPF_ELIMIT, pos,
	                "too many paths: filter '%.*s' expands to more than %d",
	                (int)xc->d->name.n, xc->d->name.s, DPF_MAX_PATHS);
	return -1;
}

static int nomem(struct xctx *xc)
{
	lang_nomem(xc->cx);
	return -1;
}

/* Canonicalise atoms[0..n) (n <= DPF_MAX_ATOMS, modified in place) and
 * add the path unless it can never match. */
static int emit(struct xctx *xc, struct xset *out, struct dpf_atom *atoms,
                unsigned n, unsigned L, struct lang_pos pos)
{
	struct dpf_path p = {n, atoms};
	if (dpf_path_canon(&p))
		return 0;
	if (xs_add(out, atoms, p.natoms, L) < 0)
		return nomem(xc);
	if (out->np > DPF_MAX_PATHS)
		return too_many_paths(xc, pos);
	return 0;
}

/* ---- atoms of guards, words and fields ---- */

static struct dpf_atom cmp(int base, uint32_t off, unsigned width,
                           uint32_t mask, uint32_t value)
{
	struct dpf_atom a;
	memset(&a, 0, sizeof a);
	a.kind = DPF_ATOM_CMP;
	a.base = (uint8_t)base;
	a.width = (uint8_t)width;
	a.offset = (uint16_t)off;
	a.mask = mask;
	a.value = value;
	return a;
}

/* A full-width compare at a packet offset. */
static struct dpf_atom pkt(uint32_t off, unsigned w, uint32_t v)
{
	return cmp(DPF_BASE_PKT, off, w, w == 4 ? 0xffffffffu : (1u << 8 * w) - 1,
	           v);
}

static const uint16_t vlan_tpid[3] = {0x8100, 0x88a8, 0x9100};

/* IPv4 header length: base += (u8[L] & 0x0f) << 2. */
static struct dpf_atom ihl(uint32_t L)
{
	struct dpf_atom a;
	memset(&a, 0, sizeof a);
	a.kind = DPF_ATOM_SHIFT;
	a.base = DPF_BASE_PKT;
	a.width = 1;
	a.offset = (uint16_t)L;
	a.mask = 0x0f;
	a.shift = 2;
	return a;
}

static unsigned guard_variants(int g)
{
	return g == LG_VLAN ? 3 : 1;
}

/* Write variant v of guard g at link offset L into b; returns the count. */
static unsigned guard_atoms(int g, unsigned v, uint32_t L, struct dpf_atom *b)
{
	unsigned proto;
	switch (g) {
	case LG_NONE:
		return 0;
	case LG_ARP:
		b[0] = pkt(L - 2, 2, 0x0806);
		return 1;
	case LG_IP:
		b[0] = pkt(L - 2, 2, 0x0800);
		return 1;
	case LG_IP6:
		b[0] = pkt(L - 2, 2, 0x86dd);
		return 1;
	case LG_VLAN:
		b[0] = pkt(L - 2, 2, vlan_tpid[v]);
		return 1;
	case LG_TCP4:
	case LG_UDP4:
	case LG_ICMP4:
		/* `tcp[...]`: IPv4, the protocol, the first fragment, IHL. */
		proto = g == LG_TCP4 ? 6 : g == LG_UDP4 ? 17 : 1;
		b[0] = pkt(L - 2, 2, 0x0800);
		b[1] = pkt(L + 9, 1, proto);
		b[2] = cmp(DPF_BASE_PKT, L + 6, 2, 0x1fff, 0);
		b[3] = ihl(L);
		return 4;
	default:
		/* IPv6 with the protocol in the fixed header's next header. */
		proto = g == LG_TCP6 ? 6 : g == LG_UDP6 ? 17 : 58;
		b[0] = pkt(L - 2, 2, 0x86dd);
		b[1] = pkt(L + 6, 1, proto);
		return 2;
	}
}

/* A protocol word at L. */
static int word_paths(struct xctx *xc, const struct lang_node *nd, unsigned L,
                      struct xset *out)
{
	struct dpf_atom b[8];
	unsigned proto = 0, v4 = 0, v6 = 0, frag = 0;
	int r = 0;
	switch (nd->u.word) {
	case LW_ETH:
		return emit(xc, out, b, 0, L, nd->pos);
	case LW_VLAN:
		for (unsigned v = 0; v < 3 && r == 0; v++) {
			guard_atoms(LG_VLAN, v, L, b);
			r = emit(xc, out, b, 1, L + 4, nd->pos);
		}
		return r;
	case LW_ARP:
		guard_atoms(LG_ARP, 0, L, b);
		return emit(xc, out, b, 1, L, nd->pos);
	case LW_IP:
		guard_atoms(LG_IP, 0, L, b);
		return emit(xc, out, b, 1, L, nd->pos);
	case LW_IP6:
		guard_atoms(LG_IP6, 0, L, b);
		return emit(xc, out, b, 1, L, nd->pos);
	case LW_TCP: proto = 6; v4 = v6 = frag = 1; break;
	case LW_UDP: proto = 17; v4 = v6 = frag = 1; break;
	case LW_ICMP: proto = 1; v4 = 1; break;
	case LW_ICMP6: proto = 58; v6 = frag = 1; break;
	}
	/* libpcap's gen_proto_abbrev: IPv4 protocol field; IPv6 next header,
	 * or a fragment header (44) followed by the protocol. */
	if (v4) {
		b[0] = pkt(L - 2, 2, 0x0800);
		b[1] = pkt(L + 9, 1, proto);
		if ((r = emit(xc, out, b, 2, L, nd->pos)) < 0)
			return r;
	}
	if (v6) {
		b[0] = pkt(L - 2, 2, 0x86dd);
		b[1] = pkt(L + 6, 1, proto);
		if ((r = emit(xc, out, b, 2, L, nd->pos)) < 0)
			return r;
	}
	if (frag) {
		b[0] = pkt(L - 2, 2, 0x86dd);
		b[1] = pkt(L + 6, 1, 44);
		b[2] = pkt(L + 40, 1, proto);
		r = emit(xc, out, b, 3, L, nd->pos);
	}
	return r;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Mask of the first `bits` bits of a 32-bit word (bits 0..32). */
static uint32_t prefix_mask(int bits)
{
	if (bits <= 0)
		return 0;
	return bits >= 32 ? 0xffffffffu : 0xffffffffu << (32 - bits);
}

/* The compare atoms of one value at one location; returns the count. */
static unsigned value_atoms(const struct lang_node *nd,
                            const struct lang_loc *loc, uint32_t L,
                            const struct lang_value *v, struct dpf_atom *b)
{
	const struct lang_field *f = nd->u.cmp.fr.f;
	uint32_t off = loc->abs ? (uint32_t)(loc->off + nd->u.cmp.fr.raw_off)
	                        : (uint32_t)((int32_t)L + loc->off);
	int base = loc->rel ? DPF_BASE_REL : DPF_BASE_PKT;
	unsigned n = 0;
	switch (f->takes) {
	case LV_NUM: {
		unsigned w = f->bits <= 8 ? 1 : f->bits <= 16 ? 2 : 4;
		uint32_t full = f->bits >= 32 ? 0xffffffffu : (1u << f->bits) - 1;
		uint32_t m = nd->u.cmp.masked ? nd->u.cmp.mask : full;
		b[n++] = cmp(base, off, w, m, v->num);
		break;
	}
	case LV_IPV4: {
		uint32_t m = prefix_mask(v->prefix < 0 ? 32 : v->prefix);
		if (m)
			b[n++] = cmp(base, off, 4, m, be32(v->addr) & m);
		break;
	}
	case LV_IPV6: {
		int p = v->prefix < 0 ? 128 : v->prefix;
		for (int w = 0; w < 4; w++) {
			uint32_t m = prefix_mask(p - 32 * w);
			if (m)
				b[n++] = cmp(base, off + 4u * (unsigned)w, 4, m,
				             be32(v->addr + 4 * w) & m);
		}
		break;
	}
	default: /* MAC: u32 then u16 */
		b[n++] = cmp(base, off, 4, 0xffffffffu, be32(v->addr));
		b[n++] = cmp(base, off + 4, 2, 0xffff,
		             (uint32_t)v->addr[4] << 8 | v->addr[5]);
		break;
	}
	return n;
}

/* A field comparison (one or many values) at L. */
static int cmp_paths(struct xctx *xc, const struct lang_node *nd, unsigned L,
                     struct xset *out)
{
	const struct lang_field *f = nd->u.cmp.fr.f;
	struct dpf_atom b[16];
	for (uint32_t i = 0; i < nd->u.cmp.nvals; i++) {
		for (unsigned k = 0; k < f->nloc; k++) {
			const struct lang_loc *loc = &f->loc[k];
			for (unsigned v = 0; v < guard_variants(loc->guard); v++) {
				unsigned n = guard_atoms(loc->guard, v, L, b);
				n += value_atoms(nd, loc, L, &nd->u.cmp.vals[i], b + n);
				if (emit(xc, out, b, n, L + f->advance, nd->pos) < 0)
					return -1;
			}
		}
	}
	return 0;
}

/* ---- and / or ---- */

static int expand(struct xctx *xc, const struct lang_node *nd, unsigned L,
                  struct xset *out);

/* 1 when a packet-based compare of a and one of b at the same offset and
 * width disagree on a bit: the cheap test that prunes most contradictory
 * pairs (two guards, two protocols) before building them. */
static int quick_conflict(const struct dpf_atom *a, unsigned na,
                          const struct dpf_atom *b, unsigned nb)
{
	for (unsigned j = 0; j < nb; j++) {
		if (b[j].kind != DPF_ATOM_CMP || b[j].base != DPF_BASE_PKT)
			continue;
		for (unsigned i = 0; i < na; i++)
			if (a[i].kind == DPF_ATOM_CMP && a[i].base == DPF_BASE_PKT &&
			    a[i].offset == b[j].offset && a[i].width == b[j].width &&
			    ((a[i].value ^ b[j].value) & a[i].mask & b[j].mask))
				return 1;
	}
	return 0;
}

/* a ++ b into out, with b's L. */
static int combine(struct xctx *xc, struct xset *out, const struct xset *A,
                   const struct xpath *a, const struct xset *B,
                   const struct xpath *b, struct lang_pos pos)
{
	struct dpf_atom buf[2 * DPF_MAX_ATOMS];
	const struct dpf_atom *aa = A->a + a->off, *ba = B->a + b->off;
	unsigned n = a->n;
	if (quick_conflict(aa, a->n, ba, b->n))
		return 0;
	if (n)
		memcpy(buf, aa, n * sizeof *buf);
	for (unsigned j = 0; j < b->n; j++) {
		/* Drop atoms a has already: canon would, and this keeps
		 * long conjunctions under the limit.  Equal SHIFT atoms name
		 * the same base, so b's relative atoms stay on it. */
		if (a->n + b->n > DPF_MAX_ATOMS) {
			unsigned i = 0;
			while (i < a->n && !atom_eq(&aa[i], &ba[j]))
				i++;
			if (i < a->n)
				continue;
		}
		buf[n++] = ba[j];
	}
	if (n > DPF_MAX_ATOMS) {
		lang_error_code(xc->cx, DPF_ELIMIT, pos,
		                "too many atoms: a path of filter '%.*s' needs "
		                "more than %d",
		                (int)xc->d->name.n, xc->d->name.s, DPF_MAX_ATOMS);
		return -1;
	}
	return emit(xc, out, buf, n, b->L, pos);
}

/* cur := cur and nd: expand nd once per distinct L that cur ends with. */
static int and_step(struct xctx *xc, struct xset *cur,
                    const struct lang_node *nd, struct lang_pos pos)
{
	struct xset next, rhs;
	uint16_t *ls = NULL;
	uint32_t nls = 0;
	uint64_t pairs = 0;
	int r = -1;

	xs_init(&next, 1);
	xs_init(&rhs, 1);
	ls = malloc((cur->np ? cur->np : 1) * sizeof *ls);
	if (!ls)
		return nomem(xc);
	for (uint32_t i = 0; i < cur->np; i++) {
		uint32_t k = 0;
		while (k < nls && ls[k] != cur->p[i].L)
			k++;
		if (k == nls)
			ls[nls++] = cur->p[i].L;
	}
	for (uint32_t k = 0; k < nls; k++) {
		xs_free(&rhs);
		xs_init(&rhs, 1);
		if (expand(xc, nd, ls[k], &rhs) < 0)
			goto out;
		for (uint32_t i = 0; i < cur->np; i++) {
			const struct xpath *a = &cur->p[i];
			if (a->L != ls[k])
				continue;
			pairs += rhs.np;
			if (pairs > LANG_MAX_PAIRS) {
				too_many_paths(xc, pos);
				goto out;
			}
			for (uint32_t j = 0; j < rhs.np; j++)
				if (combine(xc, &next, cur, a, &rhs, &rhs.p[j], pos) < 0)
					goto out;
		}
	}
	xs_free(cur);
	*cur = next;
	xs_init(&next, 1);
	r = 0;
out:
	free(ls);
	xs_free(&rhs);
	xs_free(&next);
	return r;
}

static int expand(struct xctx *xc, const struct lang_node *nd, unsigned L,
                  struct xset *out)
{
	switch (nd->kind) {
	case LN_WORD:
		return word_paths(xc, nd, L, out);
	case LN_CMP:
		return cmp_paths(xc, nd, L, out);
	case LN_OR:
		for (uint32_t i = 0; i < nd->u.list.nkids; i++)
			if (expand(xc, nd->u.list.kids[i], L, out) < 0)
				return -1;
		return 0;
	default: {
		struct xset cur;
		xs_init(&cur, 1);
		int r = expand(xc, nd->u.list.kids[0], L, &cur);
		for (uint32_t i = 1; r == 0 && i < nd->u.list.nkids && cur.np; i++)
			r = and_step(xc, &cur, nd->u.list.kids[i], nd->pos);
		if (r == 0 && out->np == 0) {
			xs_free(out);
			*out = cur;
			return 0;
		}
		for (uint32_t i = 0; r == 0 && i < cur.np; i++) {
			if (xs_add(out, cur.a + cur.p[i].off, cur.p[i].n, cur.p[i].L) < 0)
				r = nomem(xc);
			else if (out->np > DPF_MAX_PATHS)
				r = too_many_paths(xc, nd->pos);
		}
		xs_free(&cur);
		return r;
	}
	}
}

int lang_expand(struct lang_ctx *cx, const struct lang_decl *d,
                const struct dpf_host *host, struct dpf_path **paths,
                uint32_t *npaths)
{
	struct xctx xc = {cx, d};
	struct xset all, fin;
	struct dpf_path *ps = NULL;
	int r = -1;

	*paths = NULL;
	*npaths = 0;
	xs_init(&all, 1);
	xs_init(&fin, 0);
	if (expand(&xc, d->root, LANG_L0, &all) < 0)
		goto out;
	/* Paths that differ only in the L they end with are the same path. */
	for (uint32_t i = 0; i < all.np; i++)
		if (xs_add(&fin, all.a + all.p[i].off, all.p[i].n, 0) < 0) {
			nomem(&xc);
			goto out;
		}
	if (fin.np == 0) {
		lang_error(cx, d->name.pos, "filter '%.*s' can never match",
		           (int)d->name.n, d->name.s);
		goto out;
	}
	ps = host->alloc(host->ctx, fin.np * sizeof *ps);
	if (!ps) {
		nomem(&xc);
		goto out;
	}
	uint32_t k;
	for (k = 0; k < fin.np; k++) {
		size_t sz = fin.p[k].n * sizeof(struct dpf_atom);
		ps[k].natoms = fin.p[k].n;
		ps[k].atoms = host->alloc(host->ctx, sz);
		if (!ps[k].atoms)
			break;
		if (sz)
			memcpy(ps[k].atoms, fin.a + fin.p[k].off, sz);
	}
	if (k < fin.np) {
		while (k--)
			host->free(host->ctx, ps[k].atoms,
			           ps[k].natoms * sizeof(struct dpf_atom));
		host->free(host->ctx, ps, fin.np * sizeof *ps);
		nomem(&xc);
		goto out;
	}
	*paths = ps;
	*npaths = fin.np;
	r = 0;
out:
	xs_free(&all);
	xs_free(&fin);
	return r;
}
