/*
 * gen_ir.h - random filter IR and packets for property tests.
 *
 * Filters are drawn from a small vocabulary of fields and constants so that
 * random filters share atoms, collide in tables, overlap and conflict;
 * packets are drawn from the same vocabulary so that they match often, and
 * are then truncated at random.  Header-only: included by test files.
 */
#ifndef DPF_GEN_IR_H
#define DPF_GEN_IR_H

#include <stdlib.h>
#include <string.h>

#include "dpf/dpf.h"
#include "testutil.h"

static inline struct dpf_atom gi_cmp(unsigned base, unsigned off,
                                     unsigned width, uint32_t mask,
                                     uint32_t value)
{
	struct dpf_atom a = {DPF_ATOM_CMP, (uint8_t)base, (uint8_t)width, 0,
	                     (uint16_t)off, mask, value & mask};
	return a;
}

static inline struct dpf_atom gi_ihl(void)
{
	struct dpf_atom a = {DPF_ATOM_SHIFT, DPF_BASE_PKT, 1, 2, 14, 0x0f, 0};
	return a;
}

static const uint16_t gi_types[] = {0x0800, 0x86dd, 0x0806, 0x8100};
static const uint8_t gi_protos[] = {6, 17, 1, 58};
static const uint32_t gi_addrs[] = {0x0a000001, 0x0a000002, 0x0a010001,
                                    0xc0a80001, 0x0a0000ff};
static const uint16_t gi_ports[] = {80, 53, 443, 8080, 22};

static inline uint32_t gi_pick(uint64_t *s, uint32_t n)
{
	return (uint32_t)(tu_rand(s) % n);
}

/* One random path: a conjunction of 1..5 atoms from the vocabulary. */
static inline uint32_t gi_path(uint64_t *s, struct dpf_atom *out)
{
	uint32_t n = 0;
	int shifted = 0;
	uint32_t k = 1 + gi_pick(s, 5);
	for (uint32_t i = 0; i < k; i++) {
		switch (gi_pick(s, 9)) {
		case 0:
		case 1:
			out[n++] = gi_cmp(0, 12, 2, 0xffff, gi_types[gi_pick(s, 4)]);
			break;
		case 2:
			out[n++] = gi_cmp(0, 23, 1, 0xff, gi_protos[gi_pick(s, 4)]);
			break;
		case 3: {
			static const uint32_t masks[] = {0xffffffff, 0xffffff00,
			                                 0xffff0000, 0xff000000};
			out[n++] = gi_cmp(0, 30, 4, masks[gi_pick(s, 4)],
			                  gi_addrs[gi_pick(s, 5)]);
			break;
		}
		case 4:
			out[n++] = gi_cmp(0, 20, 2, 0x1fff, 0);
			break;
		case 5:
			out[n++] = gi_cmp(0, 14, 1, 0xf0, 0x40);
			break;
		case 6:
		case 7:
			if (!shifted) {
				out[n++] = gi_ihl();
				shifted = 1;
			}
			out[n++] = gi_cmp(DPF_BASE_REL, 14 + 2 * gi_pick(s, 2), 2, 0xffff,
			                  gi_ports[gi_pick(s, 5)]);
			break;
		default:
			out[n++] = gi_cmp(0, gi_pick(s, 40), 1 << gi_pick(s, 3),
			                  (uint32_t)tu_rand(s) | 1, (uint32_t)tu_rand(s));
			break;
		}
	}
	return n;
}

/* A random filter named f<k>; free with gi_filter_free. */
static inline void gi_filter(uint64_t *s, unsigned k, struct dpf_filter *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "f%u", k);
	f->priority = gi_pick(s, 3);
	f->npaths = 1 + gi_pick(s, 3);
	f->paths = calloc(f->npaths, sizeof *f->paths);
	for (uint32_t p = 0; p < f->npaths; p++) {
		f->paths[p].atoms = calloc(16, sizeof(struct dpf_atom));
		f->paths[p].natoms = gi_path(s, f->paths[p].atoms);
	}
}

static inline void gi_filter_free(struct dpf_filter *f)
{
	for (uint32_t p = 0; p < f->npaths; p++)
		free(f->paths[p].atoms);
	free(f->paths);
}

static inline void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* A random packet of up to 128 bytes; returns its length. */
static inline uint32_t gi_packet(uint64_t *s, uint8_t *pkt)
{
	for (int i = 0; i < 128; i++)
		pkt[i] = (uint8_t)tu_rand(s);
	if (gi_pick(s, 8) == 0)
		return gi_pick(s, 129); /* pure noise */
	put16(pkt + 12, gi_types[gi_pick(s, 4)]);
	static const uint8_t vihl[] = {0x45, 0x46, 0x4f, 0x40, 0x65};
	pkt[14] = vihl[gi_pick(s, 5)];
	pkt[23] = gi_protos[gi_pick(s, 4)];
	put16(pkt + 20, gi_pick(s, 3) ? 0 : 0x2000 | gi_pick(s, 0x2000));
	put32(pkt + 30, gi_addrs[gi_pick(s, 5)] ^ (gi_pick(s, 4) ? 0 : 0x100));
	uint32_t l4 = 14 + 4 * (pkt[14] & 0x0f);
	if (l4 + 4 <= 128) {
		put16(pkt + l4, gi_ports[gi_pick(s, 5)]);
		put16(pkt + l4 + 2, gi_ports[gi_pick(s, 5)]);
	}
	/* Every length is possible, the full one most often. */
	return gi_pick(s, 3) ? 128 : gi_pick(s, 129);
}

#endif
