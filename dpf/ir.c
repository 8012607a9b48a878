/*
 * ir.c - filter IR rules: validation, canonical form, specificity, overlap,
 * the reference matcher, dumps.
 *
 * Canonical form (dpf_path_canon) is what the trie merges on, so two
 * filters that say the same thing in a different order share atoms:
 *
 *   [packet CMP atoms, sorted]  then for each shift chain, sorted:
 *   [the SHIFT atoms not already in force] [CMP atoms on that base, sorted]
 *
 * A shift chain is the list of SHIFT atoms since the last packet-based one;
 * it names a base.  Chains that are equal name the same base and are merged,
 * so `tcp.sport == 1 and tcp.dport == 2` uses one IHL shift.
 */
#include "dpf/internal.h"

void dpf_memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	while (n--)
		*d++ = *s++;
}

void dpf_memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;
	while (n--)
		*d++ = (uint8_t)c;
}

int dpf_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

size_t dpf_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

#define CMP3(x, y) ((x) < (y) ? -1 : (x) > (y))

int dpf_atom_cmp(const struct dpf_atom *a, const struct dpf_atom *b)
{
	int c;
	if ((c = CMP3(a->kind, b->kind)) || (c = CMP3(a->base, b->base)) ||
	    (c = CMP3(a->offset, b->offset)) || (c = CMP3(a->width, b->width)) ||
	    (c = CMP3(a->mask, b->mask)) || (c = CMP3(a->value, b->value)) ||
	    (c = CMP3(a->shift, b->shift)))
		return c;
	return 0;
}

/* Byte i (0 = first in the packet) of a big-endian field. */
static uint8_t fbyte(uint32_t v, unsigned width, unsigned i)
{
	return (uint8_t)(v >> (8 * (width - 1 - i)));
}

int dpf_atoms_compatible(const struct dpf_atom *a, const struct dpf_atom *b)
{
	uint32_t lo = a->offset > b->offset ? a->offset : b->offset;
	uint32_t ea = (uint32_t)a->offset + a->width;
	uint32_t eb = (uint32_t)b->offset + b->width;
	uint32_t hi = ea < eb ? ea : eb;
	for (uint32_t p = lo; p < hi; p++) {
		unsigned ia = p - a->offset, ib = p - b->offset;
		uint8_t m = fbyte(a->mask, a->width, ia) & fbyte(b->mask, b->width, ib);
		uint8_t d = fbyte(a->value, a->width, ia) ^ fbyte(b->value, b->width, ib);
		if (m & d)
			return 0;
	}
	return 1;
}

/* ---- canonical form ---- */

struct seg {
	struct dpf_atom chain[DPF_MAX_SHIFTS];
	unsigned nchain;
	struct dpf_atom atoms[DPF_MAX_ATOMS];
	unsigned natoms;
};

static void sort_atoms(struct dpf_atom *a, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		struct dpf_atom x = a[i];
		unsigned j = i;
		while (j > 0 && dpf_atom_cmp(&a[j - 1], &x) > 0) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = x;
	}
}

/* Sort and dedupe a segment's atoms; 1 when two of them conflict. */
static int settle(struct dpf_atom *a, unsigned *n)
{
	sort_atoms(a, *n);
	unsigned w = 0;
	for (unsigned i = 0; i < *n; i++)
		if (w == 0 || !dpf_atom_eq(&a[w - 1], &a[i]))
			a[w++] = a[i];
	*n = w;
	for (unsigned i = 0; i < w; i++)
		for (unsigned j = i + 1; j < w && a[j].offset < a[i].offset + 4u; j++)
			if (!dpf_atoms_compatible(&a[i], &a[j]))
				return 1;
	return 0;
}

static int chain_cmp(const struct seg *x, const struct seg *y)
{
	unsigned n = x->nchain < y->nchain ? x->nchain : y->nchain;
	for (unsigned i = 0; i < n; i++) {
		int c = dpf_atom_cmp(&x->chain[i], &y->chain[i]);
		if (c)
			return c;
	}
	return CMP3(x->nchain, y->nchain);
}

int dpf_path_canon(struct dpf_path *p)
{
	/* Segment 0 is the packet base; at most one segment per SHIFT. */
	static const unsigned maxseg = DPF_MAX_SHIFTS + 1;
	struct seg segs[DPF_MAX_SHIFTS + 1];
	unsigned nseg = 1, cur = 0;
	segs[0].nchain = 0;
	segs[0].natoms = 0;
	if (p->natoms > DPF_MAX_ATOMS)
		return 0; /* the validator refuses it; leave it alone */

	for (uint32_t i = 0; i < p->natoms; i++) {
		struct dpf_atom a = p->atoms[i];
		if (a.kind == DPF_ATOM_SHIFT) {
			struct seg s;
			if (a.base == DPF_BASE_REL && cur != 0) {
				s.nchain = segs[cur].nchain;
				dpf_memcpy(s.chain, segs[cur].chain,
				           s.nchain * sizeof s.chain[0]);
			} else {
				a.base = DPF_BASE_PKT;
				s.nchain = 0;
			}
			if (s.nchain >= DPF_MAX_SHIFTS)
				return 0;
			s.chain[s.nchain++] = a;
			s.natoms = 0;
			unsigned k;
			for (k = 1; k < nseg; k++)
				if (chain_cmp(&segs[k], &s) == 0)
					break;
			if (k == nseg) {
				if (nseg == maxseg)
					return 0;
				segs[nseg++] = s;
			}
			cur = k;
		} else if (a.base == DPF_BASE_PKT || cur == 0) {
			a.base = DPF_BASE_PKT;
			segs[0].atoms[segs[0].natoms++] = a;
		} else {
			segs[cur].atoms[segs[cur].natoms++] = a;
		}
	}

	int dead = 0;
	for (unsigned k = 0; k < nseg; k++)
		dead |= settle(segs[k].atoms, &segs[k].natoms);
	/* Order the shift segments by chain so prefixes come first. */
	for (unsigned i = 2; i < nseg; i++) {
		struct seg x = segs[i];
		unsigned j = i;
		while (j > 1 && chain_cmp(&segs[j - 1], &x) > 0) {
			segs[j] = segs[j - 1];
			j--;
		}
		segs[j] = x;
	}

	uint32_t w = 0;
	for (unsigned i = 0; i < segs[0].natoms; i++)
		p->atoms[w++] = segs[0].atoms[i];
	const struct seg *prev = &segs[0];
	for (unsigned k = 1; k < nseg; k++) {
		const struct seg *s = &segs[k];
		unsigned common = 0;
		while (common < prev->nchain && common < s->nchain &&
		       dpf_atom_eq(&prev->chain[common], &s->chain[common]))
			common++;
		unsigned from = common == prev->nchain ? common : 0;
		for (unsigned i = from; i < s->nchain; i++)
			p->atoms[w++] = s->chain[i];
		for (unsigned i = 0; i < s->natoms; i++)
			p->atoms[w++] = s->atoms[i];
		prev = s;
	}
	p->natoms = w;
	return dead;
}

/* ---- specificity and overlap ---- */

/* Calls fn for each (segment id, CMP atom) of a canonical path; the
 * segment id is the index of the SHIFT atom in force, or -1. */
static uint32_t popcount8(uint8_t x)
{
	uint32_t n = 0;
	for (; x; x &= (uint8_t)(x - 1))
		n++;
	return n;
}

uint32_t dpf_path_specificity(const struct dpf_path *p)
{
	/* Bits compared = union of masks per (segment, byte).  Atoms of one
	 * segment are sorted by offset, so overlapping bytes are near; we fold
	 * each atom's bytes against earlier atoms of the same segment. */
	uint32_t bits = 0;
	uint32_t seg_start = 0;
	for (uint32_t i = 0; i < p->natoms; i++) {
		const struct dpf_atom *a = &p->atoms[i];
		if (a->kind == DPF_ATOM_SHIFT) {
			seg_start = i + 1;
			continue;
		}
		for (unsigned b = 0; b < a->width; b++) {
			uint32_t pos = (uint32_t)a->offset + b;
			uint8_t m = fbyte(a->mask, a->width, b);
			uint8_t seen = 0;
			for (uint32_t j = seg_start; j < i; j++) {
				const struct dpf_atom *o = &p->atoms[j];
				if (o->kind != DPF_ATOM_CMP || o->base != a->base)
					continue;
				if (pos >= o->offset && pos < (uint32_t)o->offset + o->width)
					seen |= fbyte(o->mask, o->width, pos - o->offset);
			}
			bits += popcount8(m & (uint8_t)~seen);
		}
	}
	return bits;
}

/* Index just past the packet segment of a canonical path. */
static uint32_t seg0_end(const struct dpf_path *p)
{
	uint32_t i = 0;
	while (i < p->natoms && p->atoms[i].kind == DPF_ATOM_CMP &&
	       p->atoms[i].base == DPF_BASE_PKT)
		i++;
	return i;
}

static int segs_compatible(const struct dpf_atom *a, uint32_t na,
                           const struct dpf_atom *b, uint32_t nb)
{
	for (uint32_t i = 0; i < na; i++)
		for (uint32_t j = 0; j < nb; j++)
			if (!dpf_atoms_compatible(&a[i], &b[j]))
				return 0;
	return 1;
}

int dpf_paths_overlap(const struct dpf_path *a, const struct dpf_path *b)
{
	uint32_t ea = seg0_end(a), eb = seg0_end(b);
	if (!segs_compatible(a->atoms, ea, b->atoms, eb))
		return 0;
	/* Relative segments compare only while both paths have applied the
	 * same SHIFT atoms in the same order: then their bases are equal. */
	uint32_t i = ea, j = eb;
	while (i < a->natoms && j < b->natoms) {
		if (a->atoms[i].kind != DPF_ATOM_SHIFT ||
		    b->atoms[j].kind != DPF_ATOM_SHIFT ||
		    !dpf_atom_eq(&a->atoms[i], &b->atoms[j]))
			break;
		uint32_t si = ++i, sj = ++j;
		while (i < a->natoms && a->atoms[i].kind == DPF_ATOM_CMP)
			i++;
		while (j < b->natoms && b->atoms[j].kind == DPF_ATOM_CMP)
			j++;
		if (!segs_compatible(a->atoms + si, i - si, b->atoms + sj, j - sj))
			return 0;
	}
	return 1;
}

int dpf_path_match(const struct dpf_path *p, const uint8_t *pkt, size_t len)
{
	uint64_t base = 0;
	int ok = 1;
	for (uint32_t i = 0; i < p->natoms; i++) {
		const struct dpf_atom *a = &p->atoms[i];
		uint64_t from = a->base == DPF_BASE_PKT ? 0 : base;
		uint32_t v = dpf_ld(pkt, len, from + a->offset, a->width, &ok);
		if (!ok)
			return 0;
		if (a->kind == DPF_ATOM_SHIFT)
			base = dpf_shift_base(a, base, v);
		else if ((v & a->mask) != a->value)
			return 0;
	}
	return 1;
}

void dpf_prog_free(const struct dpf_host *h, struct dpf_prog *prog)
{
	if (!prog)
		return;
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		struct dpf_filter *f = &prog->filters[i];
		for (uint32_t p = 0; p < f->npaths; p++)
			dpf_free(h, f->paths[p].atoms,
			         f->paths[p].natoms * sizeof(struct dpf_atom));
		dpf_free(h, f->paths, f->npaths * sizeof(struct dpf_path));
	}
	dpf_free(h, prog->filters, prog->nfilters * sizeof(struct dpf_filter));
	dpf_free(h, prog, sizeof *prog);
}

/* ---- dumps ---- */

void dpf_atom_format(const struct dpf_atom *a, char *buf, size_t cap)
{
	static const char *wname[] = {"", "u8", "u16", "", "u32"};
	const char *w = a->width <= 4 ? wname[a->width] : "";
	const char *rel = a->base == DPF_BASE_REL ? "rel+" : "";
	int digits = 2 * (a->width <= 4 ? a->width : 4);
	if (a->kind == DPF_ATOM_SHIFT) {
		dpf_fmt(buf, cap, "shift (%s[%s%u] & 0x%0*x) << %u", w, rel,
		        a->offset, digits, a->mask, a->shift);
	} else if (a->mask == dpf_width_mask(a->width)) {
		dpf_fmt(buf, cap, "%s[%s%u] == 0x%0*x", w, rel, a->offset, digits,
		        a->value);
	} else {
		dpf_fmt(buf, cap, "%s[%s%u] & 0x%0*x == 0x%0*x", w, rel, a->offset,
		        digits, a->mask, digits, a->value);
	}
}

void dpf_prog_dump(const struct dpf_prog *prog, dpf_write_fn out, void *ctx)
{
	char line[160], atom[96];
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		dpf_fmt(line, sizeof line, "filter %s priority %u owner %u paths %u\n",
		        f->name, f->priority, f->owner, f->npaths);
		out(ctx, line);
		for (uint32_t p = 0; p < f->npaths; p++) {
			const struct dpf_path *pa = &f->paths[p];
			dpf_fmt(line, sizeof line, "  path %u (%u bits):\n", p,
			        dpf_path_specificity(pa));
			out(ctx, line);
			if (pa->natoms == 0)
				out(ctx, "    (no atoms: matches every frame)\n");
			for (uint32_t k = 0; k < pa->natoms; k++) {
				dpf_atom_format(&pa->atoms[k], atom, sizeof atom);
				dpf_fmt(line, sizeof line, "    %2u: %s\n", k, atom);
				out(ctx, line);
			}
		}
	}
}
