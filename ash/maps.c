/*
 * maps.c - map storage: arrays, hashes (plain, per-CPU, LRU) and ring
 * buffers, for the program (through helpers) and from outside (ash.h).
 *
 * Every map is one allocation from the host, made when the program is
 * created, as Linux preallocates: nothing allocates while a handler runs.
 *   ARRAY, PERCPU_ARRAY  max_entries values of value_size bytes, each at
 *                        a stride of value_size rounded up to 8; zeroed;
 *                        entry 0 of a global-data map starts as the
 *                        image's data[init_off, +init_len).
 *   HASH, PERCPU_HASH,   max_entries elements (a 16-byte node, the key and
 *   LRU_HASH             the value, each rounded to 8) and a power-of-2
 *                        bucket array of chains; a free list of elements.
 *                        Keys compare bytewise.  A value pointer stays
 *                        valid until its element is deleted or evicted.
 *                        LRU_HASH keeps a recency list (lookups by the
 *                        program and updates make an element the most
 *                        recent) and, when full, evicts the least recent
 *                        element instead of failing.
 *   RINGBUF              max_entries (a power of 2) data bytes plus as
 *                        much again, so that a record that wraps is still
 *                        contiguous (Linux maps the data twice for that).
 *                        Records as Linux's: an 8-byte header (length
 *                        with busy and discard bits, then the map index)
 *                        and the data, 8-byte aligned; reserve fails when
 *                        the producer would run max_entries - 1 bytes
 *                        ahead of the consumer.
 * Per-CPU maps hold one CPU's values: the runtime is CPU 0.
 * A map's memory (ring buffers: their data bytes) is at most
 * ASH_MAX_MAP_BYTES.
 */
#include "ash/ash_int.h"

struct hnode {
	uint32_t next;  /* hash chain, or free list */
	uint32_t lprev; /* LRU list */
	uint32_t lnext;
	uint32_t used;
};

#define RB_BUSY 0x80000000u
#define RB_DISCARD 0x40000000u
#define RB_HDR 8

static uint64_t round8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

static int is_array(const struct ash_map *m)
{
	return m->def->type == ASH_MAP_ARRAY ||
	       m->def->type == ASH_MAP_PERCPU_ARRAY;
}

static int is_hash(const struct ash_map *m)
{
	return m->def->type == ASH_MAP_HASH ||
	       m->def->type == ASH_MAP_PERCPU_HASH ||
	       m->def->type == ASH_MAP_LRU_HASH;
}

static struct hnode *node(const struct ash_map *m, uint32_t i)
{
	return (struct hnode *)(m->vals + (size_t)i * m->stride);
}

static uint8_t *nkey(const struct ash_map *m, uint32_t i)
{
	return m->vals + (size_t)i * m->stride + sizeof(struct hnode);
}

static uint8_t *nval(const struct ash_map *m, uint32_t i)
{
	return nkey(m, i) + round8(m->def->key_size);
}

/* ---- creation ---- */
static int map_bad(struct dpf_diag *diag, const struct ash_map_def *d,
                   uint32_t i, const char *why)
{
	ash_fmt(diag->msg, sizeof diag->msg, "map %u (%s): %s", i, d->name, why);
	return DPF_EINVAL;
}

static int map_create(struct ash_prog *p, struct ash_map *m, uint32_t i,
                      struct dpf_diag *diag)
{
	const struct ash_map_def *d = &p->img->maps[i];
	uint64_t bytes = 0, charged;
	m->def = d;
	m->index = i;
	m->lru_head = m->lru_tail = m->free_head = ASH_NIL;
	if (d->max_entries == 0)
		return map_bad(diag, d, i, "max_entries is 0");
	switch (d->type) {
	case ASH_MAP_ARRAY:
	case ASH_MAP_PERCPU_ARRAY:
		if (d->key_size != 4 || d->value_size == 0)
			return map_bad(diag, d, i, "an array needs key_size 4 "
			               "and a value");
		m->stride = (uint32_t)round8(d->value_size);
		bytes = (uint64_t)m->stride * d->max_entries;
		charged = bytes;
		break;
	case ASH_MAP_HASH:
	case ASH_MAP_PERCPU_HASH:
	case ASH_MAP_LRU_HASH:
		if (d->key_size == 0 || d->value_size == 0)
			return map_bad(diag, d, i, "a hash needs a key and a value");
		m->stride = (uint32_t)(sizeof(struct hnode) + round8(d->key_size) +
		                       round8(d->value_size));
		m->nbuckets = 1;
		while (m->nbuckets < d->max_entries)
			m->nbuckets <<= 1;
		bytes = (uint64_t)m->stride * d->max_entries +
		        (uint64_t)m->nbuckets * sizeof(uint32_t);
		charged = bytes;
		break;
	case ASH_MAP_RINGBUF:
		if (d->max_entries < 8 || (d->max_entries & (d->max_entries - 1)))
			return map_bad(diag, d, i, "ring buffer size is not a "
			               "power of 2");
		m->mask = d->max_entries - 1;
		bytes = 2 * (uint64_t)d->max_entries;
		charged = d->max_entries;
		break;
	default:
		return map_bad(diag, d, i, "unknown map type");
	}
	if (charged > ASH_MAX_MAP_BYTES) {
		ash_fmt(diag->msg, sizeof diag->msg,
		        "map %u (%s): %llu bytes exceed the limit of %u", i,
		        d->name, (unsigned long long)charged,
		        (unsigned)ASH_MAX_MAP_BYTES);
		return DPF_ELIMIT;
	}
	m->alloc = p->host->alloc(p->host->ctx, (size_t)bytes);
	if (!m->alloc) {
		ash_fmt(diag->msg, sizeof diag->msg,
		        "map %u (%s): out of memory for %llu bytes", i, d->name,
		        (unsigned long long)bytes);
		return DPF_ENOMEM;
	}
	m->allocsize = (size_t)bytes;
	ash_memset(m->alloc, 0, m->allocsize);
	m->vals = m->alloc;
	if (is_hash(m)) {
		m->buckets = (uint32_t *)(m->alloc +
		                          (size_t)m->stride * d->max_entries);
		for (uint32_t b = 0; b < m->nbuckets; b++)
			m->buckets[b] = ASH_NIL;
		for (uint32_t e = d->max_entries; e-- > 0;) {
			node(m, e)->next = m->free_head;
			m->free_head = e;
		}
	}
	if (d->init_len) {
		if (!is_array(m) || (uint64_t)d->init_off + d->init_len >
		                    p->img->ndata)
			return map_bad(diag, d, i, "initial data out of range");
		uint32_t n = d->init_len < d->value_size ? d->init_len
		                                         : d->value_size;
		ash_memcpy(m->vals, p->img->data + d->init_off, n);
	}
	return 0;
}

int ash_maps_create(struct ash_prog *p, struct dpf_diag *diag)
{
	const struct ash_image *img = p->img;
	p->nmaps = 0;
	p->maps = NULL;
	if (!img->nmaps)
		return 0;
	if (img->nmaps > ASH_MAX_MAPS) {
		ash_fmt(diag->msg, sizeof diag->msg,
		        "%u maps exceed the limit of %u", img->nmaps, ASH_MAX_MAPS);
		return DPF_ELIMIT;
	}
	p->maps = p->host->alloc(p->host->ctx, img->nmaps * sizeof *p->maps);
	if (!p->maps) {
		ash_fmt(diag->msg, sizeof diag->msg, "out of memory");
		return DPF_ENOMEM;
	}
	ash_memset(p->maps, 0, img->nmaps * sizeof *p->maps);
	p->nmaps = img->nmaps;
	for (uint32_t i = 0; i < img->nmaps; i++) {
		int rc = map_create(p, &p->maps[i], i, diag);
		if (rc) {
			ash_maps_free(p);
			return rc;
		}
	}
	return 0;
}

void ash_maps_free(struct ash_prog *p)
{
	if (!p->maps)
		return;
	for (uint32_t i = 0; i < p->nmaps; i++)
		if (p->maps[i].alloc)
			p->host->free(p->host->ctx, p->maps[i].alloc,
			              p->maps[i].allocsize);
	p->host->free(p->host->ctx, p->maps, p->nmaps * sizeof *p->maps);
	p->maps = NULL;
	p->nmaps = 0;
}

struct ash_map *ash_map_from_reg(const struct ash_prog *p, uint64_t v)
{
	uintptr_t a = (uintptr_t)v, b = (uintptr_t)p->maps;
	if (!p->nmaps || a < b || a >= b + p->nmaps * sizeof *p->maps ||
	    (a - b) % sizeof *p->maps)
		return NULL;
	return (struct ash_map *)a;
}

uint8_t *ash_map_value0(struct ash_map *m)
{
	return is_array(m) ? m->vals : NULL;
}

/* ---- hash tables ---- */
static uint32_t hashkey(const uint8_t *k, uint32_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h ^ (h >> 15);
}

static uint32_t hfind(const struct ash_map *m, const void *key,
                      uint32_t *bucket)
{
	uint32_t b = hashkey(key, m->def->key_size) & (m->nbuckets - 1);
	if (bucket)
		*bucket = b;
	for (uint32_t e = m->buckets[b]; e != ASH_NIL; e = node(m, e)->next)
		if (!ash_memcmp(nkey(m, e), key, m->def->key_size))
			return e;
	return ASH_NIL;
}

static void lru_unlink(struct ash_map *m, uint32_t e)
{
	struct hnode *n = node(m, e);
	if (n->lprev != ASH_NIL)
		node(m, n->lprev)->lnext = n->lnext;
	else
		m->lru_head = n->lnext;
	if (n->lnext != ASH_NIL)
		node(m, n->lnext)->lprev = n->lprev;
	else
		m->lru_tail = n->lprev;
}

static void lru_push(struct ash_map *m, uint32_t e)
{
	struct hnode *n = node(m, e);
	n->lprev = ASH_NIL;
	n->lnext = m->lru_head;
	if (m->lru_head != ASH_NIL)
		node(m, m->lru_head)->lprev = e;
	m->lru_head = e;
	if (m->lru_tail == ASH_NIL)
		m->lru_tail = e;
}

static void lru_touch(struct ash_map *m, uint32_t e)
{
	if (m->def->type != ASH_MAP_LRU_HASH || m->lru_head == e)
		return;
	lru_unlink(m, e);
	lru_push(m, e);
}

/* Unlink element e from its chain and the LRU list; free it. */
static void hremove(struct ash_map *m, uint32_t e)
{
	uint32_t b = hashkey(nkey(m, e), m->def->key_size) & (m->nbuckets - 1);
	uint32_t *link = &m->buckets[b];
	while (*link != e)
		link = &node(m, *link)->next;
	*link = node(m, e)->next;
	if (m->def->type == ASH_MAP_LRU_HASH)
		lru_unlink(m, e);
	node(m, e)->used = 0;
	node(m, e)->next = m->free_head;
	m->free_head = e;
	m->count--;
}

/* ---- the program's operations ---- */
void *ash_map_lookup_elem(struct ash_map *m, const void *key)
{
	if (is_array(m)) {
		uint32_t idx;
		ash_memcpy(&idx, key, 4);
		if (idx >= m->def->max_entries)
			return NULL;
		return m->vals + (size_t)idx * m->stride;
	}
	if (!is_hash(m))
		return NULL;
	uint32_t e = hfind(m, key, NULL);
	if (e == ASH_NIL)
		return NULL;
	lru_touch(m, e);
	return nval(m, e);
}

int64_t ash_map_update_elem(struct ash_map *m, const void *key,
                            const void *value, uint64_t flags)
{
	if (flags > ASH_EXIST)
		return -ASH_EINVAL;
	if (is_array(m)) {
		uint32_t idx;
		ash_memcpy(&idx, key, 4);
		if (idx >= m->def->max_entries)
			return -ASH_E2BIG;
		if (flags == ASH_NOEXIST)
			return -ASH_EEXIST;
		ash_memmove(m->vals + (size_t)idx * m->stride, value,
		            m->def->value_size);
		return 0;
	}
	if (!is_hash(m))
		return -ASH_EINVAL;
	uint32_t b, e = hfind(m, key, &b);
	if (e != ASH_NIL) {
		if (flags == ASH_NOEXIST)
			return -ASH_EEXIST;
		ash_memmove(nval(m, e), value, m->def->value_size);
		lru_touch(m, e);
		return 0;
	}
	if (flags == ASH_EXIST)
		return -ASH_ENOENT;
	if (m->free_head == ASH_NIL) {
		if (m->def->type != ASH_MAP_LRU_HASH || m->lru_tail == ASH_NIL)
			return -ASH_E2BIG;
		hremove(m, m->lru_tail);
	}
	e = m->free_head;
	m->free_head = node(m, e)->next;
	struct hnode *n = node(m, e);
	n->used = 1;
	ash_memcpy(nkey(m, e), key, m->def->key_size);
	ash_memmove(nval(m, e), value, m->def->value_size);
	n->next = m->buckets[b];
	m->buckets[b] = e;
	m->count++;
	if (m->def->type == ASH_MAP_LRU_HASH)
		lru_push(m, e);
	return 0;
}

int64_t ash_map_delete_elem(struct ash_map *m, const void *key)
{
	if (!is_hash(m))
		return -ASH_EINVAL;
	uint32_t e = hfind(m, key, NULL);
	if (e == ASH_NIL)
		return -ASH_ENOENT;
	hremove(m, e);
	return 0;
}

/* ---- checked mode ---- */
int ash_map_value_contains(const struct ash_map *m, uintptr_t a, uint64_t n)
{
	uintptr_t base = (uintptr_t)m->vals;
	if (!(is_array(m) || is_hash(m)) || a < base)
		return 0;
	uint64_t rel = a - base, idx = rel / m->stride;
	if (idx >= m->def->max_entries)
		return 0;
	uint64_t in = rel % m->stride;
	if (is_hash(m)) {
		if (!node(m, (uint32_t)idx)->used)
			return 0;
		uint64_t voff = sizeof(struct hnode) + round8(m->def->key_size);
		if (in < voff)
			return 0;
		in -= voff;
	}
	return in + n <= m->def->value_size && n <= m->def->value_size;
}

int ash_map_value_nearest(const struct ash_map *m, uintptr_t a,
                          uintptr_t *lo, uintptr_t *hi)
{
	uint64_t best = ~(uint64_t)0;
	int found = 0;
	for (uint32_t i = 0; i < m->def->max_entries &&
	                     (is_array(m) || is_hash(m)); i++) {
		uintptr_t v;
		if (is_array(m)) {
			v = (uintptr_t)m->vals + (uintptr_t)i * m->stride;
		} else {
			if (!node(m, i)->used)
				continue;
			v = (uintptr_t)nval(m, i);
		}
		uint64_t d = a >= v ? a - v : v - a;
		if (d < best) {
			best = d;
			*lo = v;
			*hi = v + m->def->value_size;
			found = 1;
		}
	}
	return found;
}

/* ---- ring buffers ---- */
static uint32_t rb_hdr_len(const struct ash_map *m, uint64_t pos)
{
	uint32_t h;
	ash_memcpy(&h, m->vals + (pos & m->mask), 4);
	return h;
}

void *ash_rb_reserve(struct ash_map *m, uint64_t size)
{
	if (m->def->type != ASH_MAP_RINGBUF)
		return NULL;
	uint64_t len = round8(size + RB_HDR);
	if (size > (RB_DISCARD - 1) || len > (uint64_t)m->mask + 1)
		return NULL;
	if (m->prod + len - m->cons > m->mask)
		return NULL;
	uint8_t *h = m->vals + (m->prod & m->mask);
	uint32_t w0 = (uint32_t)size | RB_BUSY, w1 = m->index;
	ash_memcpy(h, &w0, 4);
	ash_memcpy(h + 4, &w1, 4);
	m->prod += len;
	return h + RB_HDR;
}

void ash_rb_commit(struct ash_map *m, void *rec, int discard)
{
	uint8_t *h = (uint8_t *)rec - RB_HDR;
	uint32_t w0;
	ash_memcpy(&w0, h, 4);
	w0 &= ~RB_BUSY;
	if (discard)
		w0 |= RB_DISCARD;
	ash_memcpy(h, &w0, 4);
}

/* Walk the records between the consumer and the producer. */
#define RB_EACH(m, pos, w)                                                   \
	for (uint64_t pos = (m)->cons, w; pos < (m)->prod &&                   \
	     ((w = rb_hdr_len((m), pos)), 1);                                  \
	     pos += round8((w & ~(RB_BUSY | RB_DISCARD)) + RB_HDR))

struct ash_map *ash_rb_owner(const struct ash_prog *p, const void *rec)
{
	for (uint32_t i = 0; i < p->nmaps; i++) {
		struct ash_map *m = &p->maps[i];
		if (m->def->type != ASH_MAP_RINGBUF)
			continue;
		RB_EACH(m, pos, w)
			if ((w & RB_BUSY) &&
			    m->vals + (pos & m->mask) + RB_HDR == rec)
				return m;
	}
	return NULL;
}

int ash_rb_contains(const struct ash_map *m, uintptr_t a, uint64_t n)
{
	RB_EACH(m, pos, w) {
		if (!(w & RB_BUSY))
			continue;
		uintptr_t lo = (uintptr_t)(m->vals + (pos & m->mask) + RB_HDR);
		uint64_t len = w & ~(RB_BUSY | RB_DISCARD);
		if (a >= lo && n <= len && a - lo <= len - n)
			return 1;
	}
	return 0;
}

int ash_rb_nearest(const struct ash_map *m, uintptr_t a, uintptr_t *lo,
                   uintptr_t *hi)
{
	uint64_t best = ~(uint64_t)0;
	int found = 0;
	RB_EACH(m, pos, w) {
		if (!(w & RB_BUSY))
			continue;
		uintptr_t v = (uintptr_t)(m->vals + (pos & m->mask) + RB_HDR);
		uint64_t d = a >= v ? a - v : v - a;
		if (d < best) {
			best = d;
			*lo = v;
			*hi = v + (w & ~(RB_BUSY | RB_DISCARD));
			found = 1;
		}
	}
	return found;
}

uint32_t ash_ringbuf_drain(struct ash_prog *p, uint32_t i,
                           void (*fn)(void *ctx, const void *rec,
                                      uint32_t len),
                           void *ctx)
{
	if (i >= p->nmaps || p->maps[i].def->type != ASH_MAP_RINGBUF)
		return 0;
	struct ash_map *m = &p->maps[i];
	uint32_t n = 0;
	while (m->cons < m->prod) {
		uint32_t w = rb_hdr_len(m, m->cons);
		if (w & RB_BUSY)
			break; /* reserved, not yet committed: stop here */
		uint32_t len = w & ~(RB_BUSY | RB_DISCARD);
		if (!(w & RB_DISCARD)) {
			fn(ctx, m->vals + (m->cons & m->mask) + RB_HDR, len);
			n++;
		}
		m->cons += round8((uint64_t)len + RB_HDR);
	}
	return n;
}

/* ---- from outside the program ---- */
uint32_t ash_map_count(const struct ash_prog *p)
{
	return p->nmaps;
}

const struct ash_map_def *ash_map_def(const struct ash_prog *p, uint32_t i)
{
	return i < p->nmaps ? p->maps[i].def : NULL;
}

int ash_map_lookup(struct ash_prog *p, uint32_t i, const void *key,
                   void *value)
{
	if (i >= p->nmaps)
		return DPF_EINVAL;
	struct ash_map *m = &p->maps[i];
	const uint8_t *v = NULL;
	if (is_array(m)) {
		v = ash_map_lookup_elem(m, key);
	} else if (is_hash(m)) {
		uint32_t e = hfind(m, key, NULL); /* no LRU touch, as Linux */
		if (e != ASH_NIL)
			v = nval(m, e);
	} else {
		return DPF_EINVAL;
	}
	if (!v)
		return DPF_ENOENT;
	ash_memcpy(value, v, m->def->value_size);
	return 0;
}

static int errno_to_dpf(int64_t rc)
{
	switch (rc) {
	case 0:
		return 0;
	case -ASH_EEXIST:
		return DPF_EEXIST;
	case -ASH_ENOENT:
		return DPF_ENOENT;
	case -ASH_E2BIG:
		return DPF_ELIMIT;
	default:
		return DPF_EINVAL;
	}
}

int ash_map_update(struct ash_prog *p, uint32_t i, const void *key,
                   const void *value, uint64_t flags)
{
	if (i >= p->nmaps)
		return DPF_EINVAL;
	struct ash_map *m = &p->maps[i];
	int64_t rc = ash_map_update_elem(m, key, value, flags);
	if (rc == -ASH_E2BIG && is_array(m))
		return DPF_EINVAL; /* index out of range */
	return errno_to_dpf(rc);
}

int ash_map_delete(struct ash_prog *p, uint32_t i, const void *key)
{
	if (i >= p->nmaps)
		return DPF_EINVAL;
	return errno_to_dpf(ash_map_delete_elem(&p->maps[i], key));
}

int ash_map_next_key(struct ash_prog *p, uint32_t i, const void *key,
                     void *next)
{
	if (i >= p->nmaps)
		return DPF_EINVAL;
	struct ash_map *m = &p->maps[i];
	if (is_array(m)) {
		uint32_t idx = 0;
		if (key) {
			ash_memcpy(&idx, key, 4);
			idx = idx >= m->def->max_entries ? 0 : idx + 1;
		}
		if (idx >= m->def->max_entries)
			return DPF_ENOENT;
		ash_memcpy(next, &idx, 4);
		return 0;
	}
	if (!is_hash(m))
		return DPF_EINVAL;
	uint32_t b = 0, e = ASH_NIL;
	if (key) {
		e = hfind(m, key, &b);
		if (e != ASH_NIL) {
			e = node(m, e)->next;
			if (e == ASH_NIL)
				b++;
		} else {
			b = 0;
		}
	}
	for (; e == ASH_NIL && b < m->nbuckets; b++)
		if (m->buckets[b] != ASH_NIL) {
			e = m->buckets[b];
			break;
		}
	if (e == ASH_NIL)
		return DPF_ENOENT;
	ash_memcpy(next, nkey(m, e), m->def->key_size);
	return 0;
}
