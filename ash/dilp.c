/*
 * dilp.c - the loops behind dpf_ash_copy (semantics: ash/include/
 * dpf_ash.h; interface: dilp.h).
 *
 * Two implementations of one contract:
 *   generic   a group-of-4-bytes loop that tests each ops bit at run
 *             time and sums 16-bit network-order words: simple, the
 *             interpreter's path, and the oracle the kernels are tested
 *             against
 *   kernels   fused(), one inline template instantiated once per valid
 *             ops set with the set a compile-time constant, so the
 *             compiler drops the unused steps and vectorises what is
 *             left: 32-bit words in host order, the swaps and the XOR as
 *             word operations, the checksum as a 64-bit sum of host-order
 *             32-bit words (which RFC 1071's byte-order independence and
 *             2^16 = 1 mod 0xffff make the same ones'-complement sum),
 *             folded once at the end
 * Both return a folded sum that is 0 only when every word is 0 (a fold
 * of a nonzero sum with end-around carry is never 0), so they agree
 * exactly, not just modulo 0xffff.
 */
#include "ash/dilp.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define DILP_BIG_ENDIAN 1
#else
#define DILP_BIG_ENDIAN 0
#endif

#define OPS_SWAPS (DPF_COPY_BSWAP16 | DPF_COPY_BSWAP32)

int ash_dilp_ops_valid(uint64_t ops)
{
	uint32_t o = (uint32_t)ops;
	return !(o & ~DPF_COPY_ALL) && (o & OPS_SWAPS) != OPS_SWAPS;
}

/* A sum of 16-bit quantities, folded with end-around carry. */
static uint64_t fold16(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

/* ---- generic ---- */

uint64_t ash_dilp_generic(uint8_t *restrict dst, const uint8_t *restrict src,
                          uint32_t len, uint64_t ops)
{
	uint32_t o = (uint32_t)ops, key = (uint32_t)(ops >> 32);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t t = len - i < 4 ? len - i : 4;
		uint8_t g[4] = {0, 0, 0, 0}, b;
		for (uint32_t j = 0; j < t; j++)
			g[j] = src[i + j];
		if (o & DPF_COPY_CSUM)
			sum += (uint32_t)(g[0] << 8 | g[1]) +
			       (uint32_t)(g[2] << 8 | g[3]);
		if (o & DPF_COPY_BSWAP16) {
			b = g[0], g[0] = g[1], g[1] = b;
			b = g[2], g[2] = g[3], g[3] = b;
		}
		if (o & DPF_COPY_BSWAP32) {
			b = g[0], g[0] = g[3], g[3] = b;
			b = g[1], g[1] = g[2], g[2] = b;
		}
		if (o & DPF_COPY_XOR32)
			for (uint32_t j = 0; j < 4; j++)
				g[j] ^= (uint8_t)(key >> (24 - 8 * j));
		for (uint32_t j = 0; j < t; j++)
			dst[i + j] = g[j];
	}
	return (o & DPF_COPY_CSUM) ? fold16(sum) : 0;
}

/* ---- the specialised kernels ---- */

static inline uint32_t bswap32(uint32_t w)
{
	return __builtin_bswap32(w);
}

/* One word (4 bytes in memory order, loaded in host order) through the
 * swaps and the XOR; k is the key as a host-order load of its network
 * bytes.  Byte permutations are the same word operations in either
 * byte order. */
static inline __attribute__((always_inline)) uint32_t
xform(uint32_t w, uint32_t ops, uint32_t k)
{
	if (ops & DPF_COPY_BSWAP16)
		w = ((w & 0x00ff00ffu) << 8) | ((w >> 8) & 0x00ff00ffu);
	if (ops & DPF_COPY_BSWAP32)
		w = bswap32(w);
	if (ops & DPF_COPY_XOR32)
		w ^= k;
	return w;
}

/* The folded sum of host-order 32-bit words as the network-order 16-bit
 * checksum. */
static inline uint64_t finish(uint64_t acc)
{
	uint64_t s = fold16(acc);
	return DILP_BIG_ENDIAN ? s : ((s & 0xff) << 8) | (s >> 8);
}

/* The template: ops is a constant at every use, store says whether dst
 * is written (0: the checksum pass of ash_dilp_csum).  Two accumulators
 * let the compiler keep independent adds in flight; acc stays below
 * 2^63 for any len < 2^32. */
static inline __attribute__((always_inline)) uint64_t
fused(uint8_t *restrict dst, const uint8_t *restrict src, uint32_t len,
      uint64_t key64, const uint32_t ops, const int store)
{
	uint32_t key = (uint32_t)(key64 >> 32);
	uint32_t k = DILP_BIG_ENDIAN ? key : bswap32(key);
	uint64_t a0 = 0, a1 = 0;
	uint32_t n8 = len & ~7u, i = 0;
	for (; i < n8; i += 8) {
		uint32_t w0, w1;
		__builtin_memcpy(&w0, src + i, 4);
		__builtin_memcpy(&w1, src + i + 4, 4);
		if (ops & DPF_COPY_CSUM) {
			a0 += w0;
			a1 += w1;
		}
		if (store) {
			w0 = xform(w0, ops, k);
			w1 = xform(w1, ops, k);
			__builtin_memcpy(dst + i, &w0, 4);
			__builtin_memcpy(dst + i + 4, &w1, 4);
		}
	}
	if (len - i >= 4) {
		uint32_t w;
		__builtin_memcpy(&w, src + i, 4);
		a0 += (ops & DPF_COPY_CSUM) ? w : 0;
		if (store) {
			w = xform(w, ops, k);
			__builtin_memcpy(dst + i, &w, 4);
		}
		i += 4;
	}
	if (i < len) {
		/* the zero-padded last group, assembled in memory order */
		uint8_t g[4] = {0, 0, 0, 0};
		uint32_t t = len - i, w;
		for (uint32_t j = 0; j < t; j++)
			g[j] = src[i + j];
		__builtin_memcpy(&w, g, 4);
		a0 += (ops & DPF_COPY_CSUM) ? w : 0;
		if (store) {
			w = xform(w, ops, k);
			__builtin_memcpy(g, &w, 4);
			for (uint32_t j = 0; j < t; j++)
				dst[i + j] = g[j];
		}
	}
	return (ops & DPF_COPY_CSUM) ? finish(a0 + a1) : 0;
}

/* Every valid ops set (ash_dilp_ops_valid), once. */
#define DILP_SETS(X)                                                         \
	X(0) X(1) X(2) X(3) X(4) X(5) X(8) X(9) X(10) X(11) X(12) X(13)

#define KERNEL(n)                                                            \
	static uint64_t kernel_##n(uint8_t *restrict dst,                    \
	                           const uint8_t *restrict src, uint32_t len,\
	                           uint64_t ops)                             \
	{                                                                    \
		return fused(dst, src, len, ops, n, 1);                      \
	}
DILP_SETS(KERNEL)
#undef KERNEL

#define ENTRY(n) [n] = kernel_##n,
static const ash_dilp_fn kernels[DPF_COPY_ALL + 1] = {DILP_SETS(ENTRY)};
#undef ENTRY

ash_dilp_fn ash_dilp_select(uint32_t ops)
{
	if (!ash_dilp_ops_valid(ops))
		return 0;
	return kernels[ops];
}

uint64_t ash_dilp_copy(uint8_t *restrict dst, const uint8_t *restrict src,
                       uint32_t len, uint64_t ops)
{
	ash_dilp_fn f = ash_dilp_select((uint32_t)ops);
	return f ? f(dst, src, len, ops) : ash_dilp_generic(dst, src, len, ops);
}

uint64_t ash_dilp_csum(const uint8_t *src, uint32_t len)
{
	return fused(0, src, len, 0, DPF_COPY_CSUM, 0);
}
