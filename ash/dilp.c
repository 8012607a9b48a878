/*
 * dilp.c - the loops behind dpf_ash_copy (semantics: ash/include/
 * dpf_ash.h; interface: dilp.h).
 *
 * Two implementations of one contract:
 *   generic   a group-of-4-bytes loop over network-order values that
 *             tests each ops bit at run time and sums 16-bit words:
 *             simple, the interpreter's path, and the oracle the kernels
 *             are tested against
 *   kernels   fused(), one inline template instantiated once per valid
 *             ops set with the set a compile-time constant, so the
 *             compiler drops the unused steps and vectorises what is
 *             left: 8-byte chunks in host order, the swaps and the XOR as
 *             word operations on both halves, the checksum as two 64-bit
 *             sums of host-order 32-bit words (which RFC 1071's
 *             byte-order independence and 2^16 = 1 mod 0xffff make the
 *             same ones'-complement sum), folded once at the end.  Built
 *             twice on x86-64: for the baseline (SSE2) and for AVX2,
 *             chosen at run time by what the CPU has
 * Both return a folded sum that is 0 only when every word is 0 (a fold
 * of a nonzero sum with end-around carry is never 0), so they agree
 * exactly, not just modulo 0xffff.
 */
#include "ash/dilp.h"
#include "ash/ash.h"

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
		uint32_t t = len - i < 4 ? len - i : 4, w = 0;
		/* the group as a network-order value, zero-padded */
		if (t == 4)
			w = (uint32_t)src[i] << 24 | (uint32_t)src[i + 1] << 16 |
			    (uint32_t)src[i + 2] << 8 | src[i + 3];
		else
			for (uint32_t j = 0; j < t; j++)
				w |= (uint32_t)src[i + j] << (24 - 8 * j);
		if (o & DPF_COPY_CSUM)
			sum += (w >> 16) + (w & 0xffff);
		if (o & DPF_COPY_BSWAP16)
			w = ((w & 0x00ff00ffu) << 8) | ((w >> 8) & 0x00ff00ffu);
		if (o & DPF_COPY_BSWAP32)
			w = w >> 24 | (w >> 8 & 0xff00u) | (w << 8 & 0xff0000u) |
			    w << 24;
		if (o & DPF_COPY_XOR32)
			w ^= key;
		if (t == 4) {
			dst[i] = (uint8_t)(w >> 24);
			dst[i + 1] = (uint8_t)(w >> 16);
			dst[i + 2] = (uint8_t)(w >> 8);
			dst[i + 3] = (uint8_t)w;
		} else {
			for (uint32_t j = 0; j < t; j++)
				dst[i + j] = (uint8_t)(w >> (24 - 8 * j));
		}
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

/* One 8-byte chunk (two words) through xform: the halves of a host-order
 * 64-bit load are the two words in some order, and xform's steps act on
 * each 32-bit half alike, so it applies to both at once. */
static inline __attribute__((always_inline)) uint64_t
xform2(uint64_t w, uint32_t ops, uint64_t k2)
{
	if (ops & DPF_COPY_BSWAP16)
		w = ((w & 0x00ff00ff00ff00ffull) << 8) |
		    ((w >> 8) & 0x00ff00ff00ff00ffull);
	if (ops & DPF_COPY_BSWAP32)
		w = __builtin_bswap64(w) >> 32 | __builtin_bswap64(w) << 32;
	if (ops & DPF_COPY_XOR32)
		w ^= k2;
	return w;
}

/* The template: ops is a constant at every use, store says whether dst
 * is written (0: the checksum pass of ash_dilp_csum).  The main loop
 * takes 8-byte chunks and sums their two 32-bit halves as 64-bit sums
 * (no carries to track: each stays below 2^63 for any len < 2^32), the
 * chunks whole and their high halves (an add and a shift a chunk, the
 * low halves' sum recovered after the loop), which the compiler
 * vectorises. */
static inline __attribute__((always_inline)) uint64_t
fused(uint8_t *restrict dst, const uint8_t *restrict src, uint32_t len,
      uint64_t key64, const uint32_t ops, const int store)
{
	uint32_t key = (uint32_t)(key64 >> 32);
	uint32_t k = DILP_BIG_ENDIAN ? key : bswap32(key);
	uint64_t k2 = (uint64_t)k << 32 | k;
	uint64_t all = 0, hi = 0, lo = 0;
	uint32_t n8 = len & ~7u, i = 0;
	for (; i < n8; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, src + i, 8);
		if (ops & DPF_COPY_CSUM) {
			all += w;
			hi += w >> 32;
		}
		if (store) {
			w = xform2(w, ops, k2);
			__builtin_memcpy(dst + i, &w, 8);
		}
	}
	/* all = the low halves' sum + 2^32 hi (mod 2^64): one add and one
	 * shift a chunk, not a mask too; the low halves' sum is below 2^64
	 * (len < 2^32), so subtracting recovers it exactly */
	lo = all - (hi << 32);
	if (len - i >= 4) {
		uint32_t w;
		__builtin_memcpy(&w, src + i, 4);
		lo += (ops & DPF_COPY_CSUM) ? w : 0;
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
		lo += (ops & DPF_COPY_CSUM) ? w : 0;
		if (store) {
			w = xform(w, ops, k);
			__builtin_memcpy(g, &w, 4);
			for (uint32_t j = 0; j < t; j++)
				dst[i + j] = g[j];
		}
	}
	return (ops & DPF_COPY_CSUM) ? finish(lo + hi) : 0;
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

static uint64_t csum_base(const uint8_t *src, uint32_t len)
{
	return fused(0, src, len, 0, DPF_COPY_CSUM, 0);
}

/* ---- the same kernels for AVX2 (x86-64, chosen at run time) ----
 * The template compiled again with the target attribute: 32-byte
 * vectors, half the instructions per byte of the SSE2 baseline.  The
 * CPU is asked once (cpuid, and xgetbv for the OS saving the YMM
 * registers); the answer is the one piece of static state here, written
 * idempotently. */
#if defined(__x86_64__) && defined(__SSE2__) && \
	(defined(__GNUC__) || defined(__clang__))
#define DILP_HAVE_AVX2 1

#define KERNEL(n)                                                            \
	__attribute__((target("avx2"))) static uint64_t kernel_avx2_##n(     \
		uint8_t *restrict dst, const uint8_t *restrict src,          \
		uint32_t len, uint64_t ops)                                  \
	{                                                                    \
		return fused(dst, src, len, ops, n, 1);                      \
	}
DILP_SETS(KERNEL)
#undef KERNEL

#define ENTRY(n) [n] = kernel_avx2_##n,
static const ash_dilp_fn kernels_avx2[DPF_COPY_ALL + 1] = {DILP_SETS(ENTRY)};
#undef ENTRY

__attribute__((target("avx2"))) static uint64_t
csum_avx2(const uint8_t *src, uint32_t len)
{
	return fused(0, src, len, 0, DPF_COPY_CSUM, 0);
}

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(0));
}

static int probe_avx2(void)
{
	uint32_t r[4], lo, hi;
	cpuid(0, r);
	if (r[0] < 7)
		return 0;
	cpuid(1, r);
	if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28))) /* OSXSAVE, AVX */
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	if ((lo & 6) != 6) /* XMM and YMM state enabled by the OS */
		return 0;
	cpuid(7, r);
	return (r[1] >> 5) & 1;
}

static int have_avx2(void)
{
	static int state; /* 0 not asked yet, 1 no, 2 yes */
	int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
	if (!s) {
		s = probe_avx2() ? 2 : 1;
		__atomic_store_n(&state, s, __ATOMIC_RELAXED);
	}
	return s == 2;
}
#else
#define DILP_HAVE_AVX2 0
#endif

ash_dilp_fn ash_dilp_select_isa(uint32_t ops, int isa)
{
	if (!ash_dilp_ops_valid(ops))
		return 0;
	if (isa == ASH_DILP_BASE)
		return kernels[ops];
#if DILP_HAVE_AVX2
	if (isa == ASH_DILP_AVX2 && have_avx2())
		return kernels_avx2[ops];
#endif
	return 0;
}

ash_dilp_fn ash_dilp_select(uint32_t ops)
{
	ash_dilp_fn f = ash_dilp_select_isa(ops, ASH_DILP_AVX2);
	return f ? f : ash_dilp_select_isa(ops, ASH_DILP_BASE);
}

uint64_t ash_dilp_copy(uint8_t *restrict dst, const uint8_t *restrict src,
                       uint32_t len, uint64_t ops)
{
	ash_dilp_fn f = ash_dilp_select((uint32_t)ops);
	return f ? f(dst, src, len, ops) : ash_dilp_generic(dst, src, len, ops);
}

uint64_t ash_dilp_csum(const uint8_t *src, uint32_t len)
{
#if DILP_HAVE_AVX2
	if (have_avx2())
		return csum_avx2(src, len);
#endif
	return csum_base(src, len);
}

int64_t ash_dilp_xdp(const struct ash_xdp *x, uint32_t off, uint8_t *dst,
                     uint32_t len, uint64_t ops, ash_dilp_fn k)
{
	if ((uint64_t)off + len > (uint64_t)(x->data_end - x->data))
		return -22; /* -EINVAL, as bpf_xdp_load_bytes */
	const uint8_t *src = x->buf + x->data + off;
	return (int64_t)(k ? k(dst, src, len, ops)
	                   : ash_dilp_generic(dst, src, len, ops));
}
