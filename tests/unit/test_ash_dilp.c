/*
 * test_ash_dilp.c - dpf_ash_copy (ash/dilp.c, the helper, its verifier
 * rules):
 *   - kernels: the generic loop and every specialised kernel (baseline
 *     and, where the CPU has it, AVX2) against a
 *     naive two-pass reference (memcpy, the byte steps of dpf_ash.h one
 *     at a time, then a textbook RFC 1071 checksum), exhaustively over
 *     ops x lengths 0..67 x source and destination misalignments, and
 *     randomly for long lengths; bytes past len stay untouched; the
 *     helper's frame entry ash_dilp_xdp with either;
 *   - the verifier: each refusal with its exact message and slot, the
 *     proven ops set recorded in the call's fact;
 *   - the helper at run time on frames, through the interpreter, the
 *     checked interpreter and the x86 engine: results, -EINVAL out of
 *     the frame (nothing written);
 *   - the example handler ash/examples/dilp_copy.o on UDP frames through
 *     every engine, its buffer and counters against the reference.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/dilp.h"
#include "ash/loader.h"
#include "jit/jit.h"
#include "testutil.h"
#include "verifier/vfy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the reference: two passes, one step at a time ---- */

/* RFC 1071 section 4.1, folded, not complemented. */
static uint32_t rfc1071(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;
	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static int64_t reference(uint8_t *dst, const uint8_t *src, uint32_t len,
                         uint64_t ops)
{
	uint32_t o = (uint32_t)ops, key = (uint32_t)(ops >> 32);
	uint32_t padded = (len + 3) & ~3u;
	uint8_t *t = calloc(padded + 4, 1);
	memcpy(t, src, len);
	for (uint32_t i = 0; i < padded; i += 4) {
		uint8_t *g = t + i, b;
		if (o & DPF_COPY_BSWAP16) {
			b = g[0], g[0] = g[1], g[1] = b;
			b = g[2], g[2] = g[3], g[3] = b;
		}
		if (o & DPF_COPY_BSWAP32) {
			b = g[0], g[0] = g[3], g[3] = b;
			b = g[1], g[1] = g[2], g[2] = b;
		}
		if (o & DPF_COPY_XOR32) {
			g[0] ^= (uint8_t)(key >> 24);
			g[1] ^= (uint8_t)(key >> 16);
			g[2] ^= (uint8_t)(key >> 8);
			g[3] ^= (uint8_t)key;
		}
	}
	memcpy(dst, t, len);
	free(t);
	return (o & DPF_COPY_CSUM) ? rfc1071(src, len) : 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint32_t valid_sets[] = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13};

Test(ash_dilp, rfc1071_example)
{
	/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	static const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6,
	                             0xf7};
	uint8_t d[8];
	cr_assert_eq(rfc1071(b, 8), 0xddf2);
	for (int isa = ASH_DILP_BASE; isa <= ASH_DILP_AVX2; isa++)
		for (size_t s = 0; s < N(valid_sets); s++) {
			ash_dilp_fn f = ash_dilp_select_isa(valid_sets[s], isa);
			if (f && (valid_sets[s] & DPF_COPY_CSUM))
				cr_assert_eq(f(d, b, 8, valid_sets[s]), 0xddf2);
		}
	cr_assert_eq(ash_dilp_generic(d, b, 8, DPF_COPY_CSUM), 0xddf2);
	cr_assert_eq(ash_dilp_csum(b, 8), 0xddf2);
	cr_assert_eq(ash_dilp_generic(d, b, 0, DPF_COPY_CSUM), 0);
}

Test(ash_dilp, select_and_validity)
{
	int nvalid = 0;
	for (uint32_t o = 0; o < 64; o++) {
		int v = ash_dilp_ops_valid(o);
		int want = o <= DPF_COPY_ALL &&
		           (o & 6) != (DPF_COPY_BSWAP16 | DPF_COPY_BSWAP32);
		cr_assert_eq(v, want, "ops 0x%x", o);
		cr_assert_eq(ash_dilp_select(o) != NULL, want, "ops 0x%x", o);
		nvalid += v;
	}
	cr_assert_eq(nvalid, (int)N(valid_sets));
	cr_assert(ash_dilp_ops_valid(0xffffffff00000001ull)); /* key bits */
	cr_assert_null(ash_dilp_select(0x80000000u));
	/* distinct kernels per set and instruction set */
	for (int isa = ASH_DILP_BASE; isa <= ASH_DILP_AVX2; isa++)
		for (size_t a = 0; a < N(valid_sets); a++) {
			ash_dilp_fn f = ash_dilp_select_isa(valid_sets[a], isa);
			if (isa == ASH_DILP_BASE)
				cr_assert_not_null(f);
			for (size_t b = a + 1; f && b < N(valid_sets); b++)
				cr_assert_neq((void *)f, (void *)ash_dilp_select_isa(
					valid_sets[b], isa));
		}
	cr_assert_null(ash_dilp_select_isa(1, 7));
	cr_assert_null(ash_dilp_select_isa(6, ASH_DILP_BASE));
	/* the best one is chosen */
	ash_dilp_fn v = ash_dilp_select_isa(1, ASH_DILP_AVX2);
	cr_assert_eq((void *)ash_dilp_select(1),
	             (void *)(v ? v : ash_dilp_select_isa(1, ASH_DILP_BASE)));
}

/* One comparison: reference, generic, the kernel for ops, at the given
 * misalignments; canaries around dst must survive. */
static void compare(const uint8_t *src, uint32_t len, uint64_t ops,
                    unsigned salign, unsigned dalign)
{
	static uint8_t sbuf[10000 + 16], want[10000 + 16], got[10000 + 32];
	memcpy(sbuf + salign, src, len);
	const uint8_t *s = sbuf + salign;
	int64_t r0 = reference(want, s, len, ops);
	ash_dilp_fn k = ash_dilp_select_isa((uint32_t)ops, ASH_DILP_BASE);
	ash_dilp_fn kv = ash_dilp_select_isa((uint32_t)ops, ASH_DILP_AVX2);
	cr_assert_not_null(k);
	for (int which = 0; which < 4; which++) {
		if (which == 3 && !kv)
			continue; /* no AVX2 here: the baseline is all there is */
		memset(got, 0xa5, len + 32);
		uint8_t *d = got + 8 + dalign;
		uint64_t r = which == 0 ? ash_dilp_generic(d, s, len, ops)
		           : which == 1 ? k(d, s, len, ops)
		           : which == 2 ? ash_dilp_copy(d, s, len, ops)
		                        : kv(d, s, len, ops);
		static const char *const what[] = {"generic", "kernel",
		                                   "ash_dilp_copy", "avx2"};
		cr_assert_eq((int64_t)r, r0, "%s ops 0x%llx len %u align %u/%u: "
		             "returned 0x%llx, want 0x%llx", what[which],
		             (unsigned long long)ops, len, salign, dalign,
		             (unsigned long long)r, (unsigned long long)r0);
		cr_assert_eq(memcmp(d, want, len), 0, "%s ops 0x%llx len %u "
		             "align %u/%u: bytes differ", what[which],
		             (unsigned long long)ops, len, salign, dalign);
		for (uint32_t i = 0; i < 8 + dalign; i++)
			cr_assert_eq(got[i], 0xa5, "wrote before dst");
		for (uint32_t i = 8 + dalign + len; i < len + 32; i++)
			cr_assert_eq(got[i], 0xa5, "ops 0x%llx len %u: wrote past "
			             "len", (unsigned long long)ops, len);
	}
	if (ops & DPF_COPY_CSUM)
		cr_assert_eq((int64_t)ash_dilp_csum(s, len), r0);
}

Test(ash_dilp, exhaustive_short)
{
	static const uint32_t keys[] = {0, 0x12345678, 0xffffffff, 0x80000001};
	uint8_t src[68];
	for (int fill = 0; fill < 3; fill++) {
		for (uint32_t i = 0; i < sizeof src; i++)
			src[i] = fill == 0 ? (uint8_t)(i * 37 + 1)
			       : fill == 1 ? 0xff : (uint8_t)rnd();
		for (size_t s = 0; s < N(valid_sets); s++)
			for (size_t k = 0; k < N(keys); k++) {
				uint64_t ops = valid_sets[s] |
				               DPF_COPY_KEY(keys[k]);
				for (uint32_t len = 0; len <= 67; len++)
					for (unsigned sa = 0; sa < 8; sa++)
						for (unsigned da = 0; da < 8; da += 3)
							compare(src, len, ops, sa, da);
			}
	}
}

Test(ash_dilp, zero_and_all_ones)
{
	/* the fold keeps 0 for zeros only; all ones folds to 0xffff */
	uint8_t z[100] = {0}, o[100], d[100];
	memset(o, 0xff, sizeof o);
	for (int isa = ASH_DILP_BASE; isa <= ASH_DILP_AVX2; isa++)
		for (size_t s = 0; s < N(valid_sets); s++) {
			uint32_t ops = valid_sets[s] | DPF_COPY_CSUM;
			ash_dilp_fn f = ash_dilp_select_isa(ops, isa);
			if (!f)
				continue;
			cr_assert_eq(f(d, z, 100, ops), 0);
			cr_assert_eq(f(d, o, 100, ops), 0xffff);
			cr_assert_eq(f(d, o, 1, ops), 0xff00);
		}
}

Test(ash_dilp, random_long)
{
	static uint8_t src[10000];
	for (int round = 0; round < 300; round++) {
		uint32_t len = round < 8 ? (uint32_t)(64 << (round % 8)) + round
		                         : (uint32_t)(rnd() % 9001);
		for (uint32_t i = 0; i < len; i++)
			src[i] = (uint8_t)rnd();
		uint64_t ops = valid_sets[rnd() % N(valid_sets)] |
		               DPF_COPY_KEY(rnd());
		compare(src, len, ops, (unsigned)(rnd() % 8),
		        (unsigned)(rnd() % 8));
	}
}

Test(ash_dilp, on_a_frame)
{
	/* ash_dilp_xdp: what a call site runs, with the kernel its fact
	 * names or the generic loop */
	static uint8_t buf[ASH_FRAME_SIZE];
	uint8_t pkt[300], want[300], got[300];
	for (uint32_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)rnd();
	struct ash_xdp x;
	ash_xdp_init(&x, buf, pkt, sizeof pkt);
	for (size_t s = 0; s < N(valid_sets); s++) {
		uint64_t ops = valid_sets[s] | DPF_COPY_KEY(0xdeadbeef);
		ash_dilp_fn k = ash_dilp_select(valid_sets[s]);
		for (uint32_t off = 0; off <= 300; off += 37)
			for (uint32_t len = 0; len <= 300; len += 29) {
				int64_t r0 = off + len > 300 ? -22
				           : reference(want, pkt + off, len, ops);
				for (int g = 0; g < 2; g++) {
					memset(got, 0x5c, sizeof got);
					int64_t r = ash_dilp_xdp(&x, off, got, len, ops,
					                         g ? k : NULL);
					cr_assert_eq(r, r0, "off %u len %u", off, len);
					if (r0 < 0)
						for (uint32_t i = 0; i < sizeof got; i++)
							cr_assert_eq(got[i], 0x5c);
					else
						cr_assert_eq(memcmp(got, want, len), 0);
				}
			}
	}
}

/* ---- programs ---- */
#define I(c, d, s, o, i) ((struct ash_insn){(c), (d), (s), (o), (i)})
#define MOV(d, imm) I(0xb7, d, 0, 0, imm)
#define MOVR(d, s) I(0xbf, d, s, 0, 0)
#define ADD(d, imm) I(0x07, d, 0, 0, imm)
#define LSH(d, imm) I(0x67, d, 0, 0, imm)
#define ORI(d, imm) I(0x47, d, 0, 0, imm)
#define LDXW(d, s, o) I(0x61, d, s, o, 0)
#define STW(d, o, imm) I(0x62, d, 0, o, imm)
#define STXDW(d, s, o) I(0x7b, d, s, o, 0)
#define JNE(d, imm, o) I(0x55, d, 0, o, imm)
#define JEQ(d, imm, o) I(0x15, d, 0, o, imm)
#define CALL(id) I(0x85, 0, 0, 0, id)
#define EXIT I(0x95, 0, 0, 0, 0)
#define LDMAP(d, m) I(0x18, d, 5, 0, m), I(0, 0, 0, 0, 0)

/* Maps: 0 array (value 128), 1 .rodata (value 128), 2 hash (value 128). */
static struct ash_map_def maps[3] = {
	{.name = "buf", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
	 .key_size = 4, .value_size = 128, .max_entries = 1},
	{.name = ".rodata", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_RODATA,
	 .key_size = 4, .value_size = 128, .max_entries = 1},
	{.name = "h", .type = ASH_MAP_HASH, .kind = ASH_MAPK_USER,
	 .key_size = 4, .value_size = 128, .max_entries = 4},
};

struct prog {
	struct ash_insn in[64];
	uint32_t n;
};

static void put(struct prog *p, struct ash_insn i)
{
	cr_assert_lt(p->n, N(p->in));
	p->in[p->n++] = i;
}

/* r6 = ctx, r7 = value 0 of map m (or exit 2); then the caller's
 * argument set-up; then the call, value[0..8) = r0, exit 2.  The call's
 * slot is returned. */
static uint32_t build(struct prog *p, int m, const struct ash_insn *args,
                      uint32_t nargs)
{
	p->n = 0;
	struct ash_insn head[] = {
		MOVR(6, 1), STW(10, -4, 0), MOVR(2, 10), ADD(2, -4),
		LDMAP(1, m), CALL(1), JNE(0, 0, 2), MOV(0, 2), EXIT,
		MOVR(7, 0),
	};
	for (size_t i = 0; i < N(head); i++)
		put(p, head[i]);
	for (uint32_t i = 0; i < nargs; i++)
		put(p, args[i]);
	uint32_t call = p->n;
	put(p, CALL(DPF_ASH_HELPER_COPY));
	put(p, STXDW(7, 0, 0));
	put(p, MOV(0, 2));
	put(p, EXIT);
	return call;
}

struct vr {
	int rc;
	struct vfy_ash_result res;
	struct dpf_diag diag;
	struct ash_image img;
};

static void verify(struct vr *v, struct prog *p, uint32_t ctx)
{
	memset(v, 0, sizeof *v);
	v->img.ninsns = p->n;
	v->img.insns = p->in;
	v->img.nmaps = N(maps);
	v->img.maps = maps;
	struct vfy_ash_opts o = {ctx, 64, 0};
	v->rc = vfy_ash(&v->img, &o, dpf_host_libc(), &v->res, &v->diag);
}

/* args: r1 = ctx, r2 = off, r3 = value + 8, r4 = len, r5 = ops. */
#define STD_ARGS(off, len, ops)                                              \
	MOVR(1, 6), MOV(2, off), MOVR(3, 7), ADD(3, 8), MOV(4, len),         \
	MOV(5, ops)

static void refused(const struct ash_insn *args, uint32_t nargs, int m,
                    const char *msg, int at_call)
{
	struct prog p;
	uint32_t call = build(&p, m, args, nargs);
	struct vr v;
	verify(&v, &p, VFY_ASH_CTX_XDP);
	cr_assert_eq(v.rc, DPF_EINVAL, "accepted; expected '%s'", msg);
	cr_assert_str_eq(v.diag.msg, msg);
	if (at_call)
		cr_assert_eq(v.res.err_insn, call, "at %u, call at %u",
		             v.res.err_insn, call);
}

Test(ash_dilp, verifier_refusals)
{
	/* ops not a known constant: the queue index */
	struct ash_insn a1[] = {MOVR(1, 6), MOV(2, 0), MOVR(3, 7), ADD(3, 8),
	                        MOV(4, 8), LDXW(5, 6, 16)};
	refused(a1, N(a1), 0, "r5 ops of dpf_ash_copy must be a known "
	        "constant in its low 32 bits (unknown bits 0xffffffff)", 1);
	/* unknown bits */
	struct ash_insn a2[] = {STD_ARGS(0, 8, 0x11)};
	refused(a2, N(a2), 0, "r5 ops of dpf_ash_copy has unknown bits 0x10",
	        1);
	struct ash_insn a2b[] = {STD_ARGS(0, 8, (int32_t)0x80000001)};
	refused(a2b, N(a2b), 0, "r5 ops of dpf_ash_copy has unknown bits "
	        "0x80000000", 1);
	/* both swaps */
	struct ash_insn a3[] = {STD_ARGS(0, 8, DPF_COPY_BSWAP16 |
	                                       DPF_COPY_BSWAP32 | 1)};
	refused(a3, N(a3), 0, "r5 ops of dpf_ash_copy sets both BSWAP16 and "
	        "BSWAP32", 1);
	/* dst: the stack, the packet, a scalar, a map value not checked
	 * against null, read-only data */
	struct ash_insn a4[] = {MOVR(1, 6), MOV(2, 0), MOVR(3, 10), ADD(3, -16),
	                        MOV(4, 8), MOV(5, 1)};
	refused(a4, N(a4), 0, "r3 type stack pointer, expected map value "
	        "pointer (dpf_ash_copy arg 3)", 1);
	struct ash_insn a5[] = {MOVR(1, 6), MOV(2, 0), LDXW(3, 6, 0),
	                        MOV(4, 0), MOV(5, 1)};
	refused(a5, N(a5), 0, "r3 type packet pointer, expected map value "
	        "pointer (dpf_ash_copy arg 3)", 1);
	struct ash_insn a6[] = {MOVR(1, 6), MOV(2, 0), MOV(3, 4096),
	                        MOV(4, 8), MOV(5, 1)};
	refused(a6, N(a6), 0, "r3 type scalar, expected map value pointer "
	        "(dpf_ash_copy arg 3)", 1);
	struct ash_insn a7[] = {STD_ARGS(0, 8, 1)};
	refused(a7, N(a7), 1, "r3 write into read-only map '.rodata'", 1);
	/* len: unbounded, past the value, negative */
	struct ash_insn a8[] = {MOVR(1, 6), MOV(2, 0), MOVR(3, 7), ADD(3, 8),
	                        LDXW(4, 6, 16), MOV(5, 1)};
	refused(a8, N(a8), 0, "r4 size is unbounded (max 4294967295)", 1);
	struct ash_insn a9[] = {STD_ARGS(0, 121, 1)};
	refused(a9, N(a9), 0, "r3 map value access off 8 size 121 beyond "
	        "value_size 128", 1);
	struct ash_insn a10[] = {STD_ARGS(0, -1, 1)};
	refused(a10, N(a10), 0, "r4 size may be negative (min -1)", 1);
	/* ctx and the pointer leak through off */
	struct ash_insn a11[] = {MOVR(1, 7), MOV(2, 0), MOVR(3, 7), ADD(3, 8),
	                         MOV(4, 8), MOV(5, 1)};
	refused(a11, N(a11), 0, "r1 type map value pointer, expected "
	        "unmodified ctx (dpf_ash_copy arg 1)", 1);
	struct ash_insn a12[] = {MOVR(1, 6), MOVR(2, 7), MOVR(3, 7), ADD(3, 8),
	                         MOV(4, 8), MOV(5, 1)};
	refused(a12, N(a12), 0, "r2 leaks a pointer into helper dpf_ash_copy",
	        1);
}

Test(ash_dilp, verifier_null_and_mem_context)
{
	/* the value used before its null check */
	struct prog p;
	p.n = 0;
	struct ash_insn in[] = {
		STW(10, -4, 0), MOVR(6, 1), MOVR(2, 10), ADD(2, -4), LDMAP(1, 0),
		CALL(1), MOVR(3, 0), MOVR(1, 6), MOV(2, 0), MOV(4, 8), MOV(5, 1),
		CALL(DPF_ASH_HELPER_COPY), MOV(0, 2), EXIT,
	};
	for (size_t i = 0; i < N(in); i++)
		put(&p, in[i]);
	struct vr v;
	verify(&v, &p, VFY_ASH_CTX_XDP);
	cr_assert_eq(v.rc, DPF_EINVAL);
	cr_assert(strstr(v.diag.msg, "r3 ") && strstr(v.diag.msg, "null"),
	          "%s", v.diag.msg);
	cr_assert_eq(v.res.err_insn, 12);
	/* raw-memory mode has no frame */
	struct ash_insn a[] = {STD_ARGS(0, 8, 1)};
	build(&p, 0, a, N(a));
	verify(&v, &p, VFY_ASH_CTX_MEM);
	cr_assert_eq(v.rc, DPF_EINVAL);
	cr_assert_str_eq(v.diag.msg, "helper dpf_ash_copy needs the XDP "
	                 "context");
}

Test(ash_dilp, verifier_records_ops)
{
	/* key bits unknown, set known: accepted, the set recorded */
	struct ash_insn a1[] = {MOVR(1, 6), MOV(2, 0), MOVR(3, 7), ADD(3, 8),
	                        MOV(4, 120), LDXW(5, 6, 16), LSH(5, 32),
	                        ORI(5, DPF_COPY_CSUM | DPF_COPY_XOR32)};
	struct prog p;
	uint32_t call = build(&p, 2, a1, N(a1));
	struct vr v;
	verify(&v, &p, VFY_ASH_CTX_XDP);
	cr_assert_eq(v.rc, 0, "%s", v.diag.msg);
	cr_assert_eq(v.res.facts[call].helper, DPF_ASH_HELPER_COPY);
	cr_assert_eq(v.res.facts[call].flags & (VFY_AF_ARG | VFY_AF_ARG_MIXED),
	             VFY_AF_ARG);
	cr_assert_eq(v.res.facts[call].arg, DPF_COPY_CSUM | DPF_COPY_XOR32);
	vfy_ash_free(&v.res);
	/* two paths, two sets, one call: mixed */
	struct ash_insn a2[] = {MOVR(1, 6), MOV(2, 0), MOVR(3, 7), ADD(3, 8),
	                        MOV(4, 0), MOV(5, DPF_COPY_CSUM),
	                        LDXW(0, 6, 16), JEQ(0, 0, 1),
	                        MOV(5, DPF_COPY_BSWAP32)};
	call = build(&p, 0, a2, N(a2));
	verify(&v, &p, VFY_ASH_CTX_XDP);
	cr_assert_eq(v.rc, 0, "%s", v.diag.msg);
	cr_assert_eq(v.res.facts[call].flags & (VFY_AF_ARG | VFY_AF_ARG_MIXED),
	             VFY_AF_ARG | VFY_AF_ARG_MIXED);
	vfy_ash_free(&v.res);
}

/* ---- the helper at run time, every engine ---- */

static const enum ash_engine engines[] = {ASH_ENGINE_INTERP,
                                          ASH_ENGINE_CHECKED, ASH_ENGINE_X86};

struct rt {
	struct vr v;
	struct prog p;
	struct ash_env env;
	struct ash_prog *prog;
};

static void rt_start(struct rt *t)
{
	verify(&t->v, &t->p, VFY_ASH_CTX_XDP);
	cr_assert_eq(t->v.rc, 0, "%s", t->v.diag.msg);
	memset(&t->env, 0, sizeof t->env);
	t->env.host = dpf_host_libc();
	struct dpf_diag d;
	cr_assert_eq(ash_prog_new(&t->v.img, &t->v.res, &t->env, &t->prog, &d),
	             0, "%s", d.msg);
	cr_assert_eq(ash_prog_jit(t->prog, jit_mem_posix(), &d), 0, "%s", d.msg);
	cr_assert(ash_prog_jitted(t->prog));
}

static void rt_stop(struct rt *t)
{
	ash_prog_free(t->prog);
	vfy_ash_free(&t->v.res);
}

Test(ash_dilp, helper_on_frames)
{
	static const struct {
		uint32_t off, len, ops;
	} cases[] = {
		{0, 0, 1},      {0, 120, 1},     {14, 64, 3},     {3, 57, 5},
		{42, 77, 9},    {1, 120, 13},    {0, 1, 11},      {7, 120, 0},
		{60, 4, 12},    {100, 20, 1},    {100, 21, 1},    {120, 1, 1},
		{121, 0, 1},    {0, 121, 1},
	};
	static uint8_t buf[ASH_FRAME_SIZE];
	uint8_t pkt[120];
	for (uint32_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)(i * 7 + 3);
	for (size_t c = 0; c < N(cases); c++) {
		uint32_t vlen = cases[c].len <= 120 ? cases[c].len : 120;
		struct rt t;
		struct ash_insn a[] = {
			MOVR(1, 6), MOV(2, cases[c].off), MOVR(3, 7), ADD(3, 8),
			MOV(4, vlen), MOV(5, (int32_t)cases[c].ops),
			LSH(5, 32), ORI(5, (int32_t)cases[c].ops)};
		/* ops' high half is the key: ops | ops << 32 */
		build(&t.p, 0, a, N(a));
		rt_start(&t);
		uint8_t want[128];
		memset(want, 0, sizeof want);
		int64_t r0;
		uint64_t ops = cases[c].ops | (uint64_t)cases[c].ops << 32;
		if (cases[c].off + vlen > sizeof pkt)
			r0 = -22;
		else
			r0 = reference(want + 8, pkt + cases[c].off, vlen, ops);
		memcpy(want, &r0, 8);
		for (size_t e = 0; e < N(engines); e++) {
			uint8_t zero[128] = {0}, got[128];
			uint32_t k = 0;
			cr_assert_eq(ash_map_update(t.prog, 0, &k, zero, 0), 0);
			struct ash_xdp x;
			struct ash_result res;
			ash_xdp_init(&x, buf, pkt, sizeof pkt);
			cr_assert_eq(ash_run_xdp(t.prog, &x, engines[e], &res), 0,
			             "%s", res.msg);
			cr_assert_eq(res.action, ASH_XDP_PASS);
			cr_assert_eq(ash_map_lookup(t.prog, 0, &k, got), 0);
			cr_assert_eq(memcmp(got, want, 128), 0,
			             "case %zu engine %d: r0 %lld, want %lld", c,
			             engines[e], *(long long *)got, (long long)r0);
		}
		rt_stop(&t);
	}
}

/* ---- the example handler ---- */

#define EXAMPLE DPF_BINARY_DIR "/ash/examples/dilp_copy.o"

struct rxbuf {
	uint32_t len, csum;
	uint8_t data[1472];
};

static uint32_t mkframe(uint8_t *f, uint32_t payload, int proto)
{
	memset(f, 0, 42);
	f[12] = 0x08;      /* IPv4 */
	f[14] = 0x45;
	f[23] = (uint8_t)proto;
	for (uint32_t i = 0; i < payload; i++)
		f[42 + i] = (uint8_t)rnd();
	return 42 + payload;
}

static void example(const char *key, uint32_t ops)
{
	size_t len;
	uint8_t *obj = (uint8_t *)tu_read_file(EXAMPLE, &len);
	cr_assert_not_null(obj, "%s (build target ash_examples)", EXAMPLE);
	struct ash_set set = {"xor_key", key};
	struct ash_image *img;
	struct dpf_diag d;
	cr_assert_eq(ash_load_elf(obj, len, NULL, &set, 1, &img, &d), 0, "%s",
	             d.msg);
	free(obj);
	struct vfy_ash_result vres;
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, 0};
	cr_assert_eq(vfy_ash(img, &o, dpf_host_libc(), &vres, &d), 0, "%s",
	             d.msg);
	int calls = 0;
	for (uint32_t i = 0; i < vres.ninsns; i++)
		if (vres.facts[i].helper == DPF_ASH_HELPER_COPY) {
			calls++;
			/* the knob is not known to the verifier: both
			 * sets reach the one call */
			cr_assert_eq(vres.facts[i].flags &
			             (VFY_AF_ARG | VFY_AF_ARG_MIXED),
			             VFY_AF_ARG | VFY_AF_ARG_MIXED);
			cr_assert(vres.facts[i].arg == DPF_COPY_CSUM ||
			          vres.facts[i].arg ==
			                  (DPF_COPY_CSUM | DPF_COPY_XOR32));
		}
	cr_assert_eq(calls, 1);
	uint64_t full = ops | DPF_COPY_KEY(strtoul(key, NULL, 0));
	static uint8_t frame[ASH_MAX_DATA], buf[ASH_FRAME_SIZE];
	static const uint32_t sizes[] = {0, 1, 2, 3, 5, 18, 64, 511, 1460,
	                                 1472, 1473, 3000};
	for (size_t e = 0; e < N(engines); e++) {
		struct ash_env env;
		memset(&env, 0, sizeof env);
		env.host = dpf_host_libc();
		struct ash_prog *p;
		cr_assert_eq(ash_prog_new(img, &vres, &env, &p, &d), 0, "%s",
		             d.msg);
		cr_assert_eq(ash_prog_jit(p, jit_mem_posix(), &d), 0, "%s", d.msg);
		uint64_t copies = 0, bytes = 0;
		for (size_t s = 0; s < N(sizes); s++) {
			for (int proto = 6; proto <= 17; proto += 11) {
				uint32_t flen = mkframe(frame, sizes[s], proto);
				struct ash_xdp x;
				struct ash_result res;
				ash_xdp_init(&x, buf, frame, flen);
				cr_assert_eq(ash_run_xdp(p, &x, engines[e], &res), 0,
				             "%s", res.msg);
				cr_assert_eq(res.action, ASH_XDP_PASS);
				cr_assert_eq(memcmp(buf + x.data, frame, flen), 0);
				if (proto != 17)
					continue;
				uint32_t n = sizes[s] < 1472 ? sizes[s] : 1472;
				struct rxbuf got, want;
				uint32_t k = 0;
				cr_assert_eq(ash_map_lookup(p, 0, &k, &got), 0);
				want.len = n;
				want.csum = (uint32_t)reference(want.data, frame + 42,
				                                n, full);
				cr_assert_eq(got.len, n, "engine %d size %u",
				             engines[e], sizes[s]);
				cr_assert_eq(got.csum, want.csum, "engine %d size %u",
				             engines[e], sizes[s]);
				cr_assert_eq(memcmp(got.data, want.data, n), 0,
				             "engine %d size %u", engines[e],
				             sizes[s]);
				copies++;
				bytes += n;
			}
		}
		uint64_t st[3];
		for (uint32_t k = 0; k < 3; k++)
			cr_assert_eq(ash_map_lookup(p, 1, &k, &st[k]), 0);
		cr_assert_eq(st[0], copies);
		cr_assert_eq(st[1], bytes);
		cr_assert_eq(st[2], 0);
		ash_prog_free(p);
	}
	vfy_ash_free(&vres);
	ash_image_free(dpf_host_libc(), img);
}

Test(ash_dilp, example_csum)
{
	example("0", DPF_COPY_CSUM);
}

Test(ash_dilp, example_xor)
{
	example("0x5a0ff00d", DPF_COPY_CSUM | DPF_COPY_XOR32);
}
