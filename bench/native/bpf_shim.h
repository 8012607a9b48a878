/*
 * bpf_shim.h - the BPF program model mapped to plain C, so that a handler
 * of ash/examples compiles for the host with `clang -O2` unchanged (the
 * "native" column of bench_ash: the limit a JIT can reach).
 *
 * Reached through the shadow headers in include/ (linux/bpf.h,
 * bpf/bpf_helpers.h, bpf/bpf_endian.h), which come before the system's.
 *
 *   SEC(x)                 nothing: maps and data are plain globals
 *   __uint/__type          as libbpf: the map's type, sizes and entry
 *                          count live in the types of its members; the
 *                          `type` member (a pointer, zero at start) holds
 *                          the map's storage once created
 *   map lookup/update      arrays and per-CPU arrays: index arithmetic;
 *                          hashes: open addressing, linear probing,
 *                          FNV-1a; LRU hashes: the same, evicting the
 *                          least recently used entry when full
 *   ring buffers           reserve/output take 8 + len rounded up to 8
 *                          bytes of a never-consumed buffer of
 *                          max_entries bytes (fails when full, as a ring
 *                          nobody reads does); submit/discard do nothing
 *   xdp_adjust_head/meta/tail, xdp_load/store_bytes
 *                          Linux's bounds over ctx->shim_buf (4096 bytes:
 *                          xdp_frame header 40, tailroom 320, data >= 14,
 *                          metadata a multiple of 4 up to 32 bytes)
 *   csum_diff              as ash/helpers.c (Linux >= 6.13)
 *   redirect               XDP_REDIRECT (flags must be 0)
 *   loop                   a C loop over the callback
 *   dpf_ash_copy           DPF's own: the frame bounds, then the kernel
 *                          ash/dilp.c specialises for ops (bench_ash
 *                          links the runtime)
 * Not expressed: ktime_get_ns, trace_printk, get_prandom_u32,
 * map_delete_elem (no example uses them; a handler that did would not
 * compile).
 *
 * Each handler is its own object: -DNATIVE_RESET=native_NAME_reset names
 * the function that frees the object's maps (they are created again on
 * first use).
 */
#ifndef DPF_BENCH_BPF_SHIM_H
#define DPF_BENCH_BPF_SHIM_H

#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>

#define SEC(name)
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name

#define SHIM_FRAME_HDR 40
#define SHIM_FRAME_END (4096 - 320)
#define SHIM_MAX_MAPS 16

struct shim_map {
	unsigned type, ksz, vsz, max;
	unsigned cap;           /* hash slots, a power of 2 */
	unsigned n;             /* hash entries */
	unsigned long long tick;
	unsigned char *keys, *vals, *used;
	unsigned long long *stamp; /* LRU */
	unsigned rb_used;       /* ring buffer bytes taken */
	void **slot;
};

static struct shim_map *shim_maps[SHIM_MAX_MAPS];
static unsigned shim_nmaps;

void NATIVE_RESET(void);
void NATIVE_RESET(void)
{
	for (unsigned i = 0; i < shim_nmaps; i++) {
		struct shim_map *m = shim_maps[i];
		*m->slot = 0;
		free(m->keys);
		free(m->vals);
		free(m->used);
		free(m->stamp);
		free(m);
	}
	shim_nmaps = 0;
}

static __attribute__((noinline, unused)) struct shim_map *
shim_create(void **slot, unsigned type, unsigned ksz, unsigned vsz,
            unsigned max)
{
	struct shim_map *m = calloc(1, sizeof *m);
	if (!m || shim_nmaps == SHIM_MAX_MAPS)
		abort();
	m->type = type;
	m->ksz = ksz;
	m->vsz = vsz;
	m->max = max;
	m->slot = slot;
	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		m->vals = calloc(max, vsz);
	} else if (type == BPF_MAP_TYPE_RINGBUF) {
		m->vals = calloc(1, max);
	} else {
		m->cap = 8;
		while (m->cap < 2 * max)
			m->cap *= 2;
		m->keys = calloc(m->cap, ksz);
		m->vals = calloc(m->cap, vsz);
		m->used = calloc(m->cap, 1);
		m->stamp = calloc(m->cap, sizeof *m->stamp);
		if (!m->keys || !m->used || !m->stamp)
			abort();
	}
	if (!m->vals)
		abort();
	shim_maps[shim_nmaps++] = m;
	*slot = m;
	return m;
}

static inline struct shim_map *shim_get(void **slot, unsigned type,
                                        unsigned ksz, unsigned vsz,
                                        unsigned max)
{
	if (__builtin_expect(*slot != 0, 1))
		return (struct shim_map *)*slot;
	return shim_create(slot, type, ksz, vsz, max);
}

#define SHIM_MAP(m)                                                       \
	shim_get((void **)&(m)->type, sizeof(*(m)->type) / sizeof(int),   \
	         sizeof(*(m)->key), sizeof(*(m)->value),                  \
	         sizeof(*(m)->max_entries) / sizeof(int))
#define SHIM_RB(m)                                                        \
	shim_get((void **)&(m)->type, sizeof(*(m)->type) / sizeof(int), 0, \
	         0, sizeof(*(m)->max_entries) / sizeof(int))

static inline unsigned shim_hash(const unsigned char *k, unsigned n)
{
	unsigned h = 2166136261u;
	for (unsigned i = 0; i < n; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

/* The slot of key, or of the empty slot that ends its probe sequence. */
static inline unsigned shim_find(const struct shim_map *m, const void *key)
{
	unsigned i = shim_hash(key, m->ksz) & (m->cap - 1);
	while (m->used[i] && memcmp(m->keys + (size_t)i * m->ksz, key, m->ksz))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Linear-probing deletion by backward shift. */
static __attribute__((unused)) void shim_remove(struct shim_map *m, unsigned i)
{
	unsigned mask = m->cap - 1, j = i;
	m->used[i] = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->used[j])
			break;
		unsigned h = shim_hash(m->keys + (size_t)j * m->ksz, m->ksz) & mask;
		/* move j to i when its home is not in (i, j] cyclically */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			memcpy(m->keys + (size_t)i * m->ksz,
			       m->keys + (size_t)j * m->ksz, m->ksz);
			memcpy(m->vals + (size_t)i * m->vsz,
			       m->vals + (size_t)j * m->vsz, m->vsz);
			m->stamp[i] = m->stamp[j];
			m->used[i] = 1;
			m->used[j] = 0;
			i = j;
		}
	}
	m->n--;
}

static inline void *shim_lookup(struct shim_map *m, const void *key)
{
	if (m->type == BPF_MAP_TYPE_ARRAY ||
	    m->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		unsigned k;
		memcpy(&k, key, 4);
		return k < m->max ? m->vals + (size_t)k * m->vsz : NULL;
	}
	unsigned i = shim_find(m, key);
	if (!m->used[i])
		return NULL;
	m->stamp[i] = ++m->tick;
	return m->vals + (size_t)i * m->vsz;
}

static __attribute__((unused)) long shim_update(struct shim_map *m, const void *key,
                        const void *val, unsigned long long flags)
{
	if (m->type == BPF_MAP_TYPE_ARRAY ||
	    m->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		unsigned k;
		memcpy(&k, key, 4);
		if (k >= m->max)
			return -7; /* -E2BIG */
		if (flags == BPF_NOEXIST)
			return -17; /* -EEXIST */
		memcpy(m->vals + (size_t)k * m->vsz, val, m->vsz);
		return 0;
	}
	unsigned i = shim_find(m, key);
	if (m->used[i]) {
		if (flags == BPF_NOEXIST)
			return -17;
	} else {
		if (flags == BPF_EXIST)
			return -2; /* -ENOENT */
		if (m->n == m->max) {
			if (m->type != BPF_MAP_TYPE_LRU_HASH)
				return -7;
			unsigned old = 0;
			unsigned long long best = ~0ull;
			for (unsigned j = 0; j < m->cap; j++)
				if (m->used[j] && m->stamp[j] < best)
					best = m->stamp[j], old = j;
			shim_remove(m, old);
			i = shim_find(m, key);
		}
		memcpy(m->keys + (size_t)i * m->ksz, key, m->ksz);
		m->used[i] = 1;
		m->n++;
	}
	memcpy(m->vals + (size_t)i * m->vsz, val, m->vsz);
	m->stamp[i] = ++m->tick;
	return 0;
}

#define bpf_map_lookup_elem(m, k) shim_lookup(SHIM_MAP(m), (k))
#define bpf_map_update_elem(m, k, v, f) \
	shim_update(SHIM_MAP(m), (k), (v), (f))

/* ---- ring buffers ---- */
static inline void *shim_rb_reserve(struct shim_map *m, unsigned len)
{
	unsigned need = (8 + len + 7) & ~7u;
	if (m->rb_used + need > m->max)
		return NULL;
	void *r = m->vals + m->rb_used + 8;
	m->rb_used += need;
	return r;
}

static inline long shim_rb_output(struct shim_map *m, const void *d,
                                  unsigned len)
{
	void *r = shim_rb_reserve(m, len);
	if (!r)
		return -11; /* -EAGAIN */
	memcpy(r, d, len);
	return 0;
}

#define bpf_ringbuf_reserve(m, len, flags) shim_rb_reserve(SHIM_RB(m), (len))
#define bpf_ringbuf_output(m, d, len, flags) \
	shim_rb_output(SHIM_RB(m), (d), (len))
#define bpf_ringbuf_submit(r, flags) ((void)(r))
#define bpf_ringbuf_discard(r, flags) ((void)(r))

/* ---- XDP ---- */
static inline long bpf_xdp_adjust_head(struct xdp_md *ctx, int delta)
{
	long metalen = ctx->data - ctx->data_meta;
	long data = ctx->data + delta;
	if (data < (long)ctx->shim_buf + SHIM_FRAME_HDR + metalen ||
	    data > ctx->data_end - 14)
		return -22;
	if (metalen)
		memmove((void *)(ctx->data_meta + delta),
		        (void *)ctx->data_meta, (size_t)metalen);
	ctx->data_meta += delta;
	ctx->data = data;
	return 0;
}

static inline long bpf_xdp_adjust_meta(struct xdp_md *ctx, int delta)
{
	long meta = ctx->data_meta + delta, metalen = ctx->data - meta;
	if (meta < (long)ctx->shim_buf + SHIM_FRAME_HDR || meta > ctx->data ||
	    (metalen & 3) || metalen > 32)
		return -13; /* -EACCES */
	ctx->data_meta = meta;
	return 0;
}

static inline long bpf_xdp_adjust_tail(struct xdp_md *ctx, int delta)
{
	long end = ctx->data_end + delta;
	if (end > (long)ctx->shim_buf + SHIM_FRAME_END || end < ctx->data + 14)
		return -22;
	if (delta > 0)
		memset((void *)ctx->data_end, 0, (size_t)delta);
	ctx->data_end = end;
	return 0;
}

static inline long bpf_xdp_load_bytes(struct xdp_md *ctx, unsigned off,
                                      void *buf, unsigned len)
{
	if ((unsigned long)off + len > (unsigned long)(ctx->data_end - ctx->data))
		return -14; /* -EFAULT */
	memcpy(buf, (void *)(ctx->data + off), len);
	return 0;
}

static inline long bpf_xdp_store_bytes(struct xdp_md *ctx, unsigned off,
                                       const void *buf, unsigned len)
{
	if ((unsigned long)off + len > (unsigned long)(ctx->data_end - ctx->data))
		return -14;
	memcpy((void *)(ctx->data + off), buf, len);
	return 0;
}

static inline long bpf_redirect(unsigned ifindex, unsigned long long flags)
{
	(void)ifindex;
	return flags ? XDP_ABORTED : XDP_REDIRECT;
}

static inline long bpf_loop(unsigned n, long (*fn)(unsigned i, void *ctx),
                            void *ctx, unsigned long long flags)
{
	(void)flags;
	unsigned i = 0;
	while (i < n) {
		long r = fn(i++, ctx);
		if (r)
			break;
	}
	return i;
}

/* ---- checksums: ash/helpers.c's semantics ---- */
static inline unsigned shim_csum_partial(const unsigned char *b,
                                         unsigned len, unsigned seed)
{
	unsigned long long acc = seed;
	for (unsigned i = 0; i < len; i += 4) {
		unsigned w = 0;
		for (unsigned k = 0; k < 4 && i + k < len; k++)
			w |= (unsigned)b[i + k] << (8 * k);
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (unsigned)acc;
}

static inline unsigned shim_from32to16(unsigned x)
{
	x += (x >> 16) | (x << 16);
	return x >> 16;
}

unsigned long long ash_dilp_copy(unsigned char *dst, const unsigned char *src,
                                 unsigned len, unsigned long long ops);

static inline long dpf_ash_copy(struct xdp_md *ctx, unsigned off, void *dst,
                                unsigned len, unsigned long long ops)
{
	if ((unsigned long)off + len > (unsigned long)(ctx->data_end - ctx->data))
		return -22; /* -EINVAL */
	return (long)ash_dilp_copy(dst, (const unsigned char *)(ctx->data + off),
	                           len, ops);
}

static inline long bpf_csum_diff(void *from, unsigned from_size, void *to,
                                 unsigned to_size, unsigned seed)
{
	if (from_size && to_size) {
		unsigned a = shim_csum_partial(to, to_size, seed);
		unsigned b = ~shim_csum_partial(from, from_size, 0);
		unsigned s = a + b;
		return shim_from32to16(s + (s < b));
	}
	if (to_size)
		return shim_from32to16(shim_csum_partial(to, to_size, seed));
	if (from_size)
		return shim_from32to16(~shim_csum_partial(from, from_size, ~seed));
	return seed;
}

#endif
