/*
 * fuzz_classify.c - libFuzzer harness: the trie against the naive
 * classifier, through inserts and deletes.
 *
 * Input layout (every read past the end yields 0, so any input is valid):
 *   byte        filter count - 1 (mod 16)
 *   per filter  priority (mod 3), path count - 1 (mod 3), a "sibling" flag,
 *               then per path: atom count - 1 (mod 5) and per atom
 *                 control  bits 7-6 = 11: SHIFT, else CMP; bit 5: relative
 *                          base; the low bits pick the width
 *                 offset   (mod 48)
 *                 mask     < 0x80: the full width, else `width` mask bytes
 *                 value    `width` bytes (CMP), or the shift count (SHIFT)
 *               A sibling filter copies the previous filter's paths and only
 *               replaces the value of each path's last CMP atom: this makes
 *               the hash tables that many filters on one field produce.
 *   byte        deletion mask: filter i is deleted when bit (i % 8) is set
 *   rest        packets: a length byte (mod 96) then that many bytes
 * Phases: insert all (refusals ignored), delete the masked ones, insert
 * those again.  After each phase dpf_check() must pass and dpf_classify,
 * dpf_classify_naive and a hand-computed reference must agree on every
 * packet, on a packet synthesised to satisfy each path, and on every
 * truncation of each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpf/dpf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILTERS 16
#define MAX_PATHS 3
#define MAX_ATOMS 5
#define MAX_PACKETS 8

struct reader {
	const uint8_t *p;
	size_t len, pos;
};

static uint8_t next(struct reader *r)
{
	return r->pos < r->len ? r->p[r->pos++] : 0;
}

struct gen_filter {
	struct dpf_filter f;
	struct dpf_path paths[MAX_PATHS];
	struct dpf_atom atoms[MAX_PATHS][MAX_ATOMS];
	int id; /* engine id, -1 when not installed */
};

static uint32_t full_mask(unsigned width)
{
	return width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
}

static void gen_atom(struct reader *r, struct dpf_atom *a)
{
	uint8_t c = next(r);
	uint32_t m = 0;

	memset(a, 0, sizeof *a);
	a->kind = (c & 0xc0) == 0xc0 ? DPF_ATOM_SHIFT : DPF_ATOM_CMP;
	a->base = (c & 0x20) ? DPF_BASE_REL : DPF_BASE_PKT;
	if (a->kind == DPF_ATOM_SHIFT)
		a->width = (c & 1) ? 2 : 1;
	else
		a->width = (uint8_t[]){1, 2, 4}[c % 3];
	a->offset = next(r) % 48;
	if (next(r) >= 0x80) {
		for (unsigned i = 0; i < a->width; i++)
			m = (m << 8) | next(r);
	}
	a->mask = m ? m : full_mask(a->width);
	if (a->kind == DPF_ATOM_SHIFT) {
		a->shift = next(r) % (DPF_MAX_SHIFT_K + 1);
		/* Keep the shifted base near the packet: a bounded field. */
		if (a->mask > 0xff)
			a->mask &= 0x3f;
		if (!a->mask)
			a->mask = 0x0f;
	} else {
		uint32_t v = 0;
		for (unsigned i = 0; i < a->width; i++)
			v = (v << 8) | next(r);
		a->value = v & a->mask;
	}
}

static void gen_filters(struct reader *r, struct gen_filter *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct dpf_filter *f = &g[i].f;
		memset(&g[i], 0, sizeof g[i]);
		g[i].id = -1;
		snprintf(f->name, sizeof f->name, "f%u", i);
		f->priority = next(r) % 3;
		f->npaths = 1 + next(r) % MAX_PATHS;
		f->paths = g[i].paths;
		int sibling = i > 0 && (next(r) & 1);
		if (sibling) {
			const struct gen_filter *prev = &g[i - 1];
			f->npaths = prev->f.npaths;
			memcpy(g[i].atoms, prev->atoms, sizeof g[i].atoms);
		}
		for (uint32_t j = 0; j < f->npaths; j++) {
			struct dpf_path *p = &g[i].paths[j];
			p->atoms = g[i].atoms[j];
			if (sibling) {
				p->natoms = g[i - 1].paths[j].natoms;
				for (uint32_t k = p->natoms; k-- > 0;) {
					struct dpf_atom *a = &p->atoms[k];
					if (a->kind != DPF_ATOM_CMP)
						continue;
					uint32_t v = 0;
					for (unsigned b = 0; b < a->width; b++)
						v = (v << 8) | next(r);
					a->value = v & a->mask;
					break;
				}
				continue;
			}
			p->natoms = 1 + next(r) % MAX_ATOMS;
			for (uint32_t k = 0; k < p->natoms; k++)
				gen_atom(r, &p->atoms[k]);
		}
	}
}

struct packets {
	unsigned n;
	const uint8_t *p[MAX_PACKETS];
	size_t len[MAX_PACKETS];
};

FZ_NOCOV
static void check_all(const struct dpf_engine *e, const struct gen_filter *g,
                      unsigned nf, const struct packets *pk, const char *when)
{
	static uint8_t pkt[FZ_PKT_MAX];

	fz_check_engine(e, when);
	for (unsigned i = 0; i < pk->n; i++)
		fz_compare(e, pk->p[i], pk->len[i]);
	for (unsigned i = 0; i < nf; i++) {
		for (uint32_t j = 0; j < g[i].f.npaths; j++) {
			unsigned b = (i + j) % (pk->n ? pk->n : 1);
			if (pk->n)
				fz_background(pkt, pk->p[b], pk->len[b]);
			else
				fz_background(pkt, NULL, 0);
			size_t len = fz_synth(&g[i].f.paths[j], pkt);
			fz_compare(e, pkt, len + 4 <= FZ_PKT_MAX ? len + 4 : len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gen_filter g[MAX_FILTERS];
	struct reader r = {data, size, 0};
	struct packets pk;
	struct dpf_diag d;
	unsigned nf;

	if (size > 4096)
		return 0;
	nf = 1 + next(&r) % MAX_FILTERS;
	gen_filters(&r, g, nf);
	uint8_t del = next(&r);

	pk.n = 0;
	while (r.pos < r.len && pk.n < MAX_PACKETS) {
		size_t len = next(&r) % 96;
		if (len > r.len - r.pos)
			len = r.len - r.pos;
		pk.p[pk.n] = r.p + r.pos;
		pk.len[pk.n++] = len;
		r.pos += len;
	}

	struct dpf_engine *e = fz_engine(dpf_host_libc());
	for (unsigned i = 0; i < nf; i++) {
		int id = -1;
		if (dpf_insert(e, &g[i].f, &id, &d) == 0)
			g[i].id = id;
	}
	check_all(e, g, nf, &pk, "after the inserts");

	for (unsigned i = 0; i < nf; i++) {
		if (g[i].id < 0 || !(del & (1u << (i % 8))))
			continue;
		if (dpf_delete(e, g[i].id) != 0)
			fz_fail("deleting installed filter %d failed", g[i].id);
		if (dpf_filter_get(e, g[i].id) != NULL)
			fz_fail("filter %d still there after its delete", g[i].id);
		g[i].id = -1;
	}
	check_all(e, g, nf, &pk, "after the deletes");

	for (unsigned i = 0; i < nf; i++) {
		int id = -1;
		if (g[i].id < 0 && dpf_insert(e, &g[i].f, &id, &d) == 0)
			g[i].id = id;
	}
	check_all(e, g, nf, &pk, "after the reinserts");
	dpf_engine_free(e);
	return 0;
}
