/*
 * code_mem.c - code memory for units: power-of-two size classes carved
 * from large mappings obtained through struct jit_mem.
 *
 * Interface: cm_alloc() gives a block seen writable (rw) and executable
 * (rx); cm_free() returns it to its class for reuse (callers free only
 * after the grace period, so no reader still runs it); cm_destroy() unmaps
 * everything.  Blocks larger than the largest class get their own mapping.
 * Blocks are 64-byte aligned, so a unit starts on a cache line.
 */
#include "jit/jit_int.h"

#define CM_MIN 64u

static uint32_t class_of(uint32_t size)
{
	uint32_t c = 0;
	while ((CM_MIN << c) < size)
		c++;
	return c;
}

static int cm_map(struct codemem *m, size_t size, uint8_t **rw, uint8_t **rx)
{
	struct cmap *cmap = dpf_alloc(m->h, sizeof *cmap);
	void *w = NULL, *x = NULL;
	if (!cmap)
		return DPF_ENOMEM;
	if (m->mem.map(m->mem.ctx, size, &w, &x) != 0 || !w || !x) {
		dpf_free(m->h, cmap, sizeof *cmap);
		return DPF_ENOMEM;
	}
	cmap->rw = w;
	cmap->rx = x;
	cmap->size = size;
	cmap->next = m->maps;
	m->maps = cmap;
	m->mapped += size;
	*rw = w;
	*rx = x;
	return DPF_OK;
}

int cm_alloc(struct codemem *m, uint32_t size, struct cblock *out)
{
	uint32_t c = class_of(size);
	if (c >= CM_CLASSES) {
		size_t sz = (size + 4095u) & ~(size_t)4095u;
		if (cm_map(m, sz, &out->rw, &out->rx) != DPF_OK)
			return DPF_ENOMEM;
		out->size = (uint32_t)sz;
		m->used += sz;
		return DPF_OK;
	}
	uint32_t bs = CM_MIN << c;
	struct cfree *f = &m->free[c];
	if (f->n) {
		*out = f->b[--f->n];
		m->used += bs;
		return DPF_OK;
	}
	if (m->bump_left < bs) {
		/* The tail of the old chunk is left unused: at most one block of
		 * the largest class per chunk. */
		if (cm_map(m, CM_CHUNK, &m->bump_rw, &m->bump_rx) != DPF_OK)
			return DPF_ENOMEM;
		m->bump_left = CM_CHUNK;
	}
	out->rw = m->bump_rw;
	out->rx = m->bump_rx;
	out->size = bs;
	m->bump_rw += bs;
	m->bump_rx += bs;
	m->bump_left -= bs;
	m->used += bs;
	return DPF_OK;
}

void cm_free(struct codemem *m, const struct cblock *b)
{
	uint32_t c = class_of(b->size);
	m->used -= b->size;
	if (c >= CM_CLASSES) {
		for (struct cmap **pp = &m->maps; *pp; pp = &(*pp)->next) {
			struct cmap *x = *pp;
			if (x->rx == b->rx) {
				*pp = x->next;
				m->mem.unmap(m->mem.ctx, x->size, x->rw, x->rx);
				m->mapped -= x->size;
				dpf_free(m->h, x, sizeof *x);
				return;
			}
		}
		DPF_ASSERT(0);
		return;
	}
	struct cfree *f = &m->free[c];
	if (f->n == f->cap) {
		uint32_t nc = f->cap ? f->cap * 2 : 64;
		struct cblock *nb = dpf_alloc(m->h, nc * sizeof *nb);
		if (!nb)
			return; /* the block is lost to reuse, not to safety */
		if (f->n)
			dpf_memcpy(nb, f->b, f->n * sizeof *nb);
		dpf_free(m->h, f->b, f->cap * sizeof *nb);
		f->b = nb;
		f->cap = nc;
	}
	f->b[f->n++] = *b;
}

void cm_destroy(struct codemem *m)
{
	while (m->maps) {
		struct cmap *x = m->maps;
		m->maps = x->next;
		m->mem.unmap(m->mem.ctx, x->size, x->rw, x->rx);
		dpf_free(m->h, x, sizeof *x);
	}
	for (uint32_t c = 0; c < CM_CLASSES; c++)
		dpf_free(m->h, m->free[c].b, m->free[c].cap * sizeof(struct cblock));
	dpf_memset(m, 0, sizeof *m);
}
