/*
 * internal.h - private definitions shared by the freestanding core.
 *
 * Loads are big-endian and bounds-checked: ld() returns 0 and sets *ok = 0
 * when any byte of [pos, pos+width) lies at or past len.  Positions are
 * 64-bit so base + offset cannot wrap.
 */
#ifndef DPF_INTERNAL_H
#define DPF_INTERNAL_H

#include "dpf/dpf.h"

#ifdef DPF_HOSTED_ASSERT
#include <assert.h>
#define DPF_ASSERT(x) assert(x)
#else
#define DPF_ASSERT(x) ((void)0)
#endif

static inline uint32_t dpf_ld(const uint8_t *pkt, uint64_t len, uint64_t pos,
                              unsigned width, int *ok)
{
	if (pos + width > len) {
		*ok = 0;
		return 0;
	}
	const uint8_t *p = pkt + pos;
	switch (width) {
	case 1:
		return p[0];
	case 2:
		return (uint32_t)p[0] << 8 | p[1];
	default:
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		       (uint32_t)p[2] << 8 | p[3];
	}
}

/* Where a SHIFT atom leaves the base, given the current base. */
static inline uint64_t dpf_shift_base(const struct dpf_atom *a, uint64_t cur,
                                      uint32_t loaded)
{
	uint64_t from = a->base == DPF_BASE_PKT ? 0 : cur;
	return from + ((uint64_t)(loaded & a->mask) << a->shift);
}

/* Full mask of a width. */
static inline uint32_t dpf_width_mask(unsigned width)
{
	return width >= 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
}

static inline int dpf_atom_eq(const struct dpf_atom *a,
                              const struct dpf_atom *b)
{
	return a->kind == b->kind && a->base == b->base && a->width == b->width &&
	       a->shift == b->shift && a->offset == b->offset &&
	       a->mask == b->mask && a->value == b->value;
}

/* Total order on atoms: (kind, base, offset, width, mask, value, shift). */
int dpf_atom_cmp(const struct dpf_atom *a, const struct dpf_atom *b);

/* 1 when two CMP atoms on the same base can both hold for one packet. */
int dpf_atoms_compatible(const struct dpf_atom *a, const struct dpf_atom *b);

void dpf_memcpy(void *dst, const void *src, size_t n);
void dpf_memset(void *dst, int c, size_t n);
int dpf_strcmp(const char *a, const char *b);
size_t dpf_strlen(const char *s);

static inline void *dpf_alloc(const struct dpf_host *h, size_t n)
{
	return h->alloc(h->ctx, n);
}

static inline void dpf_free(const struct dpf_host *h, void *p, size_t n)
{
	if (p)
		h->free(h->ctx, p, n);
}

/* Zeroed allocation. */
static inline void *dpf_zalloc(const struct dpf_host *h, size_t n)
{
	void *p = h->alloc(h->ctx, n);
	if (p)
		dpf_memset(p, 0, n);
	return p;
}

#endif
