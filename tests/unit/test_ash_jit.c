/*
 * test_ash_jit.c - the handler JIT (jit/ash_x86.c) against the
 * interpreter: raw programs for the encodings that are easy to get
 * wrong, each run in raw-memory mode on both engines with several inputs,
 * results equal (rc, r0, fault and every byte of memory).
 *
 * The verifier is not linked: each program gets a hand-made
 * vfy_ash_result (every slot reached, subprogram entries marked).
 * Register tests share one shape: save r1 (the memory) on the stack,
 * load r0-r9 from memory words 0-9, run the instruction(s) under test,
 * spill r0-r9 to the stack and copy them back to words 0-9 (word 10: a
 * flag set by jumps), so a clobbered bystander register shows as a
 * changed word.  Also: the per-slot code offsets kept for listings
 * (jit_ash_offsets).
 *
 * The native paths that need real maps and frames run verified XDP
 * programs (vfy_ash, its facts) on both engines, comparing results,
 * frames, traces and map contents: inlined array lookups (keys in range,
 * max_entries - 1, max_entries, beyond; a call site with two maps),
 * ctx->data/data_end/data_meta after the adjust helpers, and every
 * helper with a native function.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "jit/jit.h"
#include "testutil.h"
#include "verifier/vfy.h"

#define I(c, d, s, o, i) ((struct ash_insn){(c), (d), (s), (o), (i)})
#define MAXI 4096
#define WORDS 12

struct prog {
	struct ash_insn in[MAXI];
	uint8_t func[MAXI];
	uint32_t n;
};

static void put(struct prog *p, struct ash_insn in)
{
	cr_assert_lt(p->n, MAXI);
	p->in[p->n++] = in;
}

static const uint64_t inputs[][WORDS] = {
	{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0},
	{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	{~0ull, 1, ~0ull, 0x8000000000000000ull, ~0ull, 0x80000000u, ~0ull,
	 0xffffffffu, 0x7fffffffffffffffull, 63, 0, 0},
	{0x8000000000000000ull, ~0ull, 0x80000000ull, 0xffffffffull,
	 0x12345678abcdef01ull, 33, 0xfedcba9876543210ull, 7, 65, 0x7fffffff,
	 0, 0},
	{0xdeadbeefcafef00dull, 0x0123456789abcdefull, 17, 0xffffffff80000000ull,
	 3, 0x100000000ull, 0x55, 0xaaaaaaaaaaaaaaaaull, 31, 32, 0, 0},
	{5, 0x80000000ull, 0xffffffffull, 0, 0x8000000000000000ull, ~0ull, 2,
	 ~0ull, 1, 0xffffffff, 0, 0},
};

/* Run p on both engines for every input; everything must match. */
static void check(struct prog *p, const char *what)
{
	const struct dpf_host *h = dpf_host_libc();
	struct ash_image img;
	memset(&img, 0, sizeof img);
	img.ninsns = p->n;
	img.insns = p->in;
	struct vfy_ash_result vres;
	memset(&vres, 0, sizeof vres);
	vres.ninsns = p->n;
	vres.facts = calloc(p->n, sizeof *vres.facts);
	vres.host = h;
	for (uint32_t i = 0; i < p->n; i++) {
		vres.facts[i].flags = VFY_AF_REACHED |
		                      (p->func[i] ? VFY_AF_FUNC : 0);
		if (p->in[i].code == 0x8d)
			vres.facts[i].helper = (uint32_t)p->in[i].imm;
	}
	struct ash_env env = {h, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *pi, *px;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_prog_new(&img, &vres, &env, &pi, &d), 0, "%s", d.msg);
	cr_assert_eq(ash_prog_new(&img, &vres, &env, &px, &d), 0, "%s", d.msg);
	int rc = ash_prog_jit(px, jit_mem_posix(), &d);
	cr_assert_eq(rc, 0, "%s: the JIT refused: %s", what, d.msg);
	cr_assert(ash_prog_jitted(px));
	for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
		uint64_t ma[WORDS], mx[WORDS];
		memcpy(ma, inputs[k], sizeof ma);
		memcpy(mx, inputs[k], sizeof mx);
		struct ash_result ra, rx;
		int a = ash_run_mem(pi, (uint8_t *)ma, sizeof ma,
		                    ASH_ENGINE_INTERP, &ra);
		int x = ash_run_mem(px, (uint8_t *)mx, sizeof mx, ASH_ENGINE_X86,
		                    &rx);
		cr_assert_eq(a, x, "%s input %zu: rc %d vs %d", what, k, a, x);
		cr_assert_eq(ra.r0, rx.r0, "%s input %zu: r0 %llx vs %llx", what,
		             k, (unsigned long long)ra.r0,
		             (unsigned long long)rx.r0);
		cr_assert_eq(ra.fault, rx.fault, "%s input %zu: fault", what, k);
		cr_assert_str_eq(ra.msg, rx.msg, "%s input %zu", what, k);
		for (int w = 0; w < WORDS; w++)
			cr_assert_eq(ma[w], mx[w],
			             "%s input %zu: word %d %llx vs %llx", what, k,
			             w, (unsigned long long)ma[w],
			             (unsigned long long)mx[w]);
	}
	ash_prog_free(pi);
	ash_prog_free(px);
	free(vres.facts);
}

/* stxdw [r10-96], r1; ldxdw rk, [r1+8k] for k = 0, 2..9, then r1. */
static void head(struct prog *p)
{
	p->n = 0;
	memset(p->func, 0, sizeof p->func);
	p->func[0] = 1;
	put(p, I(0x7b, 10, 1, -96, 0));
	put(p, I(0x7a, 10, 0, -104, 0)); /* the jump flag */
	for (int k = 0; k < 10; k++)
		if (k != 1)
			put(p, I(0x79, k, 1, 8 * k, 0));
	put(p, I(0x79, 1, 1, 8, 0));
}

/* Spill r0-r9, copy them to words 0-9, the flag to word 10; r0 = 0. */
static void tail(struct prog *p)
{
	for (int k = 0; k < 10; k++)
		put(p, I(0x7b, 10, k, -8 - 8 * k, 0));
	put(p, I(0x79, 1, 10, -96, 0));
	for (int k = 0; k < 10; k++) {
		put(p, I(0x79, 0, 10, -8 - 8 * k, 0));
		put(p, I(0x7b, 1, 0, 8 * k, 0));
	}
	put(p, I(0x79, 0, 10, -104, 0));
	put(p, I(0x7b, 1, 0, 80, 0));
	put(p, I(0xb7, 0, 0, 0, 0));
	put(p, I(0x95, 0, 0, 0, 0));
}

struct aluop {
	uint8_t op;
	int16_t off;
	const char *name;
};

static const struct aluop aluops[] = {
	{0x00, 0, "add"}, {0x10, 0, "sub"}, {0x20, 0, "mul"},
	{0x30, 0, "div"}, {0x30, 1, "sdiv"}, {0x40, 0, "or"},
	{0x50, 0, "and"}, {0x60, 0, "lsh"}, {0x70, 0, "rsh"},
	{0x90, 0, "mod"}, {0x90, 1, "smod"}, {0xa0, 0, "xor"},
	{0xb0, 0, "mov"}, {0xb0, 8, "movsx8"}, {0xb0, 16, "movsx16"},
	{0xb0, 32, "movsx32"}, {0xc0, 0, "arsh"},
};

static const int32_t imms[] = {0, 1, -1, 2, 7, 31, 32, 63, 0x7fffffff,
                               INT32_MIN, -128, 127, 0x12345};

Test(ash_jit, alu_registers)
{
	static struct prog p;
	char what[64];
	for (size_t o = 0; o < sizeof aluops / sizeof aluops[0]; o++) {
		for (int w = 0; w < 2; w++) {
			if (!w && aluops[o].off == 32)
				continue;
			uint8_t code = (uint8_t)(aluops[o].op | (w ? 0x0f : 0x0c));
			for (int dst = 0; dst < 10; dst++) {
				for (int src = 0; src < 10; src++) {
					head(&p);
					put(&p, I(code, dst, src, aluops[o].off, 0));
					tail(&p);
					snprintf(what, sizeof what, "%s%s r%d, r%d",
					         aluops[o].name, w ? "" : "32", dst, src);
					check(&p, what);
				}
			}
		}
	}
}

Test(ash_jit, alu_immediates)
{
	static struct prog p;
	char what[64];
	for (size_t o = 0; o < sizeof aluops / sizeof aluops[0]; o++) {
		if (aluops[o].op == 0xb0 && aluops[o].off)
			continue; /* movsx has no K form */
		for (int w = 0; w < 2; w++) {
			uint8_t code = (uint8_t)(aluops[o].op | (w ? 0x07 : 0x04));
			for (int dst = 0; dst < 10; dst++) {
				for (size_t k = 0; k < sizeof imms / sizeof imms[0]; k++) {
					head(&p);
					put(&p, I(code, dst, 0, aluops[o].off, imms[k]));
					tail(&p);
					snprintf(what, sizeof what, "%s%s r%d, %d",
					         aluops[o].name, w ? "" : "32", dst,
					         imms[k]);
					check(&p, what);
				}
			}
		}
	}
}

Test(ash_jit, neg_and_endian)
{
	static struct prog p;
	char what[64];
	static const struct { uint8_t code; int32_t imm; } ops[] = {
		{0x87, 0}, {0x84, 0}, {0xd4, 16}, {0xd4, 32}, {0xd4, 64},
		{0xdc, 16}, {0xdc, 32}, {0xdc, 64}, {0xd7, 16}, {0xd7, 32},
		{0xd7, 64},
	};
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		for (int dst = 0; dst < 10; dst++) {
			head(&p);
			put(&p, I(ops[o].code, dst, ops[o].code == 0xdc, 0,
			          ops[o].imm));
			tail(&p);
			snprintf(what, sizeof what, "0x%x/%d r%d", ops[o].code,
			         ops[o].imm, dst);
			check(&p, what);
		}
	}
}

Test(ash_jit, jumps)
{
	static struct prog p;
	char what[64];
	static const uint8_t jops[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
	                               0x70, 0xa0, 0xb0, 0xc0, 0xd0};
	for (size_t o = 0; o < sizeof jops; o++) {
		for (int cls = 0; cls < 4; cls++) {
			/* JMP_K, JMP_X, JMP32_K, JMP32_X */
			uint8_t code = (uint8_t)(jops[o] |
			               (cls == 0 ? 0x05 : cls == 1 ? 0x0d
			                : cls == 2 ? 0x06 : 0x0e));
			int x = cls & 1;
			for (int dst = 0; dst < 10; dst++) {
				int nsrc = x ? 10 : (int)(sizeof imms / sizeof imms[0]);
				for (int s = 0; s < nsrc; s++) {
					head(&p);
					put(&p, I(code, dst, x ? s : 0, 1, x ? 0 : imms[s]));
					put(&p, I(0x05, 0, 0, 1, 0));      /* ja +1 */
					put(&p, I(0x7a, 10, 0, -104, 1)); /* flag */
					tail(&p);
					snprintf(what, sizeof what, "jmp 0x%x r%d %d", code,
					         dst, s);
					check(&p, what);
				}
			}
		}
	}
}

/* Long forward and backward jumps, ja32, and a bounded loop. */
Test(ash_jit, long_jumps)
{
	static struct prog p;
	head(&p);
	put(&p, I(0x55, 2, 0, 301, 0));          /* jne r2, 0, +301 */
	for (int i = 0; i < 300; i++)
		put(&p, I(0x07, 0, 0, 0, i));      /* add r0, i */
	put(&p, I(0x06, 0, 0, 0, 300));          /* ja32 +300 */
	for (int i = 0; i < 300; i++)
		put(&p, I(0x07, 3, 0, 0, i));      /* add r3, i */
	/* loop: r5 = 40; do r4 += r5 * 3 (in 200 insns) while --r5 */
	put(&p, I(0xb7, 5, 0, 0, 40));
	uint32_t top = p.n;
	for (int i = 0; i < 200; i++)
		put(&p, I(0x0f, 4, 5, 0, 0));
	put(&p, I(0x17, 5, 0, 0, 1));
	put(&p, I(0x55, 5, 0, (int16_t)(top - (p.n + 1)), 0));
	tail(&p);
	check(&p, "long jumps");
}

/* Atomics of both widths, every operation, with every register as the
 * source and (after a copy of r10) as the base. */
Test(ash_jit, atomics)
{
	static struct prog p;
	char what[64];
	static const int32_t ops[] = {0x00, 0x40, 0x50, 0xa0, 0x01, 0x41,
	                              0x51, 0xa1, 0xe1, 0xf1};
	for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
		for (int w = 0; w < 2; w++) {
			for (int base = 0; base < 11; base++) {
				for (int src = 0; src < 10; src++) {
					if (src == base)
						continue;
					head(&p);
					/* slot [r10-120] = word of src + 0x1111 */
					put(&p, I(0x7b, 10, src, -120, 0));
					put(&p, I(0x7a, 10, 0, -112, 0x1111));
					if (base != 10) {
						put(&p, I(0x7b, 10, base, -128, 0));
						put(&p, I(0xbf, base, 10, 0, 0));
					}
					put(&p, I(w ? 0xdb : 0xc3, base, src,
					          -120, ops[o]));
					if (base != 10)
						put(&p, I(0x79, base, 10, -128, 0));
					/* flag = the slot after the operation */
					put(&p, I(0x79, 9 == src ? 8 : 9, 10, -120, 0));
					put(&p, I(0x7b, 10, 9 == src ? 8 : 9, -104, 0));
					tail(&p);
					snprintf(what, sizeof what, "atomic%s 0x%x [r%d], r%d",
					         w ? "64" : "32", ops[o], base, src);
					check(&p, what);
				}
			}
		}
	}
}

/* Loads and stores of every width and sign, stack and memory. */
Test(ash_jit, loads_and_stores)
{
	static struct prog p;
	char what[64];
	static const uint8_t ld[] = {0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91};
	static const uint8_t stx[] = {0x63, 0x6b, 0x73, 0x7b};
	static const uint8_t st[] = {0x62, 0x6a, 0x72, 0x7a};
	for (int r = 0; r < 10; r++) {
		for (size_t k = 0; k < sizeof ld; k++) {
			head(&p);
			put(&p, I(0x7b, 10, 3, -200, 0));
			put(&p, I(0x7b, 10, 6, -192, 0));
			put(&p, I(ld[k], r, 10, -197, 0));
			tail(&p);
			snprintf(what, sizeof what, "load 0x%x r%d", ld[k], r);
			check(&p, what);
		}
		for (size_t k = 0; k < sizeof stx; k++) {
			head(&p);
			put(&p, I(0x7a, 10, 0, -200, 0));
			put(&p, I(0x7a, 10, 0, -192, 0));
			put(&p, I(stx[k], 10, r, -197, 0));
			put(&p, I(0x79, 0, 10, -200, 0));
			put(&p, I(0x79, 2, 10, -192, 0));
			tail(&p);
			snprintf(what, sizeof what, "store 0x%x r%d", stx[k], r);
			check(&p, what);
		}
	}
	for (size_t k = 0; k < sizeof st; k++) {
		for (size_t i = 0; i < sizeof imms / sizeof imms[0]; i++) {
			head(&p);
			put(&p, I(0x7a, 10, 0, -200, 0));
			put(&p, I(0x7a, 10, 0, -192, 0));
			put(&p, I(st[k], 10, 0, -197, imms[i]));
			put(&p, I(0x79, 0, 10, -200, 0));
			put(&p, I(0x79, 2, 10, -192, 0));
			tail(&p);
			snprintf(what, sizeof what, "st 0x%x %d", st[k], imms[i]);
			check(&p, what);
		}
	}
	/* stores into the memory through r1, loads back, 64-bit lddw */
	head(&p);
	put(&p, I(0x79, 1, 10, -96, 0));
	put(&p, I(0x18, 2, 0, 0, 0x89abcdef));
	put(&p, I(0, 0, 0, 0, 0x01234567));
	put(&p, I(0x7b, 1, 2, 88, 0));
	put(&p, I(0x6b, 1, 2, 3, 0));
	put(&p, I(0x72, 1, 0, 17, -3));
	put(&p, I(0x91, 3, 1, 17, 0));
	put(&p, I(0x89, 4, 1, 3, 0));
	put(&p, I(0x81, 5, 1, 92, 0));
	put(&p, I(0x79, 1, 1, 8, 0));
	tail(&p);
	check(&p, "memory");
}

/* Subprograms: the callee clobbers r0-r9 and its stack; the caller's
 * r6-r9 and stack survive; calls nest. */
Test(ash_jit, subprograms)
{
	static struct prog p;
	head(&p);
	put(&p, I(0x7a, 10, 0, -200, 0x777));
	put(&p, I(0xbf, 1, 6, 0, 0));            /* r1 = r6 */
	put(&p, I(0xbf, 2, 7, 0, 0));            /* r2 = r7 */
	uint32_t call = p.n;
	put(&p, I(0x85, 0, 1, 0, 0));            /* call f (patched) */
	put(&p, I(0x79, 3, 10, -200, 0));        /* r3 = stack survived */
	put(&p, I(0x0f, 3, 0, 0, 0));            /* r3 += r0 */
	tail(&p);
	/* f: r0 = g(r1) * 2 + r2; clobbers r6-r9 and its stack */
	uint32_t f = p.n;
	p.func[f] = 1;
	p.in[call].imm = (int32_t)(f - call - 1);
	for (int k = 6; k < 10; k++)
		put(&p, I(0xb7, k, 0, 0, -k));
	put(&p, I(0x7b, 10, 2, -8, 0));
	put(&p, I(0x7a, 10, 0, -200, 0x555));
	uint32_t callg = p.n;
	put(&p, I(0x85, 0, 1, 0, 0));            /* call g */
	put(&p, I(0x27, 0, 0, 0, 2));            /* r0 *= 2 */
	put(&p, I(0x79, 2, 10, -8, 0));
	put(&p, I(0x0f, 0, 2, 0, 0));            /* r0 += r2 */
	put(&p, I(0x0f, 0, 6, 0, 0));            /* r0 += r6 (-6) */
	put(&p, I(0x95, 0, 0, 0, 0));
	/* g: r0 = r1 ^ 0x5a; clobbers r6-r9, r1-r5 */
	uint32_t g = p.n;
	p.func[g] = 1;
	p.in[callg].imm = (int32_t)(g - callg - 1);
	put(&p, I(0xbf, 0, 1, 0, 0));
	put(&p, I(0xa7, 0, 0, 0, 0x5a));
	for (int k = 1; k < 10; k++)
		put(&p, I(0xb7, k, 0, 0, 100 + k));
	put(&p, I(0x95, 0, 0, 0, 0));
	check(&p, "subprograms");
}

/* bpf_loop: the count from memory (word 2 masked), a stop at word 3,
 * ctx a stack pointer; flags and the 1 << 23 limit. */
Test(ash_jit, bpf_loop)
{
	static struct prog p;
	for (int variant = 0; variant < 4; variant++) {
		head(&p);
		put(&p, I(0x7a, 10, 0, -200, 0));       /* sum */
		put(&p, I(0x7b, 10, 3, -192, 0));       /* stop value */
		put(&p, I(0xbf, 1, 2, 0, 0));           /* r1 = word 2 */
		if (variant == 0)
			put(&p, I(0x57, 1, 0, 0, 63));  /* nr = word 2 & 63 */
		if (variant == 2)
			put(&p, I(0xb7, 1, 0, 0, (1 << 23) + 1));
		uint32_t ld = p.n;
		put(&p, I(0x18, 2, 4, 0, 0));           /* r2 = &cb (patched) */
		put(&p, I(0, 0, 0, 0, 0));
		put(&p, I(0xbf, 3, 10, 0, 0));
		put(&p, I(0x07, 3, 0, 0, -200));        /* r3 = &sum */
		put(&p, I(0xb7, 4, 0, 0, variant == 3)); /* flags */
		put(&p, I(0x85, 0, 0, 0, ASH_H_LOOP));
		put(&p, I(0x79, 3, 10, -200, 0));
		put(&p, I(0xbf, 2, 0, 0, 0));           /* r2 = the count */
		put(&p, I(0xb7, 4, 0, 0, 0));
		put(&p, I(0xb7, 5, 0, 0, 0));
		put(&p, I(0xb7, 1, 0, 0, 0));
		put(&p, I(0xbf, 8, 6, 0, 0));            /* keep r6: word 6 */
		tail(&p);
		/* cb(i, ctx): *ctx += i * 3; stop (1) when i == stop & 7 */
		uint32_t cb = p.n;
		p.func[cb] = 1;
		p.in[ld].imm = (int32_t)(cb - ld - 1);
		put(&p, I(0x79, 3, 2, 0, 0));
		put(&p, I(0xbf, 4, 1, 0, 0));
		put(&p, I(0x27, 4, 0, 0, 3));
		put(&p, I(0x0f, 3, 4, 0, 0));
		put(&p, I(0x7b, 2, 3, 0, 0));
		put(&p, I(0xb7, 6, 0, 0, 99));           /* clobber r6 */
		put(&p, I(0x79, 5, 2, 8, 0));            /* stop value */
		put(&p, I(0x57, 5, 0, 0, 7));
		put(&p, I(0xb7, 0, 0, 0, 0));
		put(&p, I(0x5d, 1, 5, 1, 0));            /* jne r1, r5, +1 */
		put(&p, I(0xb7, 0, 0, 0, 1));
		put(&p, I(0x95, 0, 0, 0, 0));
		check(&p, variant == 0 ? "bpf_loop" : variant == 1
		          ? "bpf_loop count" : variant == 2 ? "bpf_loop e2big"
		                                            : "bpf_loop flags");
	}
}

/* A helper fault (map_lookup_elem on something that is no map) leaves
 * from inside a subprogram with the interpreter's result and message;
 * callx reaches the same helper; csum_diff works from the stack. */
Test(ash_jit, helpers_and_faults)
{
	static struct prog p;
	head(&p);
	put(&p, I(0xbf, 1, 10, 0, 0));
	put(&p, I(0x07, 1, 0, 0, -16));
	put(&p, I(0xb7, 2, 0, 0, 16));
	put(&p, I(0xb7, 3, 0, 0, 0));
	put(&p, I(0xb7, 4, 0, 0, 0));
	put(&p, I(0x7b, 10, 7, -16, 0));
	put(&p, I(0x7b, 10, 8, -8, 0));
	put(&p, I(0xbf, 5, 9, 0, 0));
	put(&p, I(0x85, 0, 0, 0, ASH_H_CSUM_DIFF));
	put(&p, I(0xbf, 6, 0, 0, 0));            /* r1-r5 die in calls */
	put(&p, I(0xb7, 0, 0, 0, ASH_H_CPU));
	put(&p, I(0x8d, 0, 0, 0, ASH_H_CPU));    /* callx r0 */
	put(&p, I(0xb7, 2, 0, 0, 0));
	put(&p, I(0xbf, 3, 0, 0, 0));
	put(&p, I(0xb7, 4, 0, 0, 0));
	put(&p, I(0xb7, 5, 0, 0, 0));
	put(&p, I(0xb7, 1, 0, 0, 0));
	tail(&p);
	check(&p, "csum_diff, callx");

	head(&p);
	put(&p, I(0xb7, 0, 0, 0, 1234));
	uint32_t call = p.n;
	put(&p, I(0x85, 0, 1, 0, 0));
	tail(&p);
	uint32_t f = p.n;
	p.func[f] = 1;
	p.in[call].imm = (int32_t)(f - call - 1);
	put(&p, I(0xb7, 0, 0, 0, 4321));
	put(&p, I(0xb7, 1, 0, 0, 12));
	put(&p, I(0xbf, 2, 10, 0, 0));
	put(&p, I(0x07, 2, 0, 0, -8));
	put(&p, I(0x85, 0, 0, 0, ASH_H_MAP_LOOKUP));
	put(&p, I(0x95, 0, 0, 0, 0));
	check(&p, "helper fault in a subprogram");
}

/* What the JIT cannot translate it refuses with the instruction, and
 * ASH_ENGINE_X86 then runs the interpreter (here: an unverified call
 * with src 3, which the interpreter reports as an escape). */
Test(ash_jit, refusal_falls_back)
{
	const struct dpf_host *h = dpf_host_libc();
	struct ash_insn in[] = {I(0xb7, 0, 0, 0, 5), I(0x85, 0, 3, 0, 1),
	                        I(0x95, 0, 0, 0, 0)};
	struct ash_image img;
	memset(&img, 0, sizeof img);
	img.ninsns = 3;
	img.insns = in;
	struct vfy_ash_fact facts[3] = {{.flags = VFY_AF_REACHED | VFY_AF_FUNC},
	                                {.flags = VFY_AF_REACHED},
	                                {.flags = VFY_AF_REACHED}};
	struct vfy_ash_result vres;
	memset(&vres, 0, sizeof vres);
	vres.ninsns = 3;
	vres.facts = facts;
	vres.host = h;
	struct ash_env env = {h, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *p;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_prog_new(&img, &vres, &env, &p, &d), 0, "%s", d.msg);
	cr_assert_eq(ash_prog_jit(p, jit_mem_posix(), &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "at insn 1: call with src 3");
	cr_assert(!ash_prog_jitted(p));
	uint8_t mem[8] = {0};
	struct ash_result ri, rx;
	int a = ash_run_mem(p, mem, sizeof mem, ASH_ENGINE_INTERP, &ri);
	int x = ash_run_mem(p, mem, sizeof mem, ASH_ENGINE_X86, &rx);
	cr_assert_eq(a, -1);
	cr_assert_eq(x, -1);
	cr_assert_str_eq(ri.msg, rx.msg);
	cr_assert_eq(ri.r0, rx.r0);
	ash_prog_free(p);
}

/* jit_ash_offsets: the fault exit first, then per slot where its code
 * (after a function's prologue) starts, ascending; the second slot of a
 * lddw is empty; subprograms have a prologue offset (empty for a leaf
 * that saves nothing), other slots none. */
Test(ash_jit, slot_offsets)
{
	const struct dpf_host *h = dpf_host_libc();
	/* 0 mov r0, 5; 1-2 lddw r1, imm64; 3 call +1 -> 5; 4 exit;
	 * 5 mov r0, 7 (subprogram); 6 exit */
	struct ash_insn in[] = {I(0xb7, 0, 0, 0, 5), I(0x18, 1, 0, 0, 1),
	                        I(0x00, 0, 0, 0, 2), I(0x85, 0, 1, 0, 1),
	                        I(0x95, 0, 0, 0, 0), I(0xb7, 0, 0, 0, 7),
	                        I(0x95, 0, 0, 0, 0)};
	enum { N = 7 };
	struct ash_image img;
	memset(&img, 0, sizeof img);
	img.ninsns = N;
	img.insns = in;
	struct vfy_ash_fact facts[N];
	memset(facts, 0, sizeof facts);
	for (int i = 0; i < N; i++)
		facts[i].flags = VFY_AF_REACHED;
	facts[0].flags |= VFY_AF_FUNC;
	facts[5].flags |= VFY_AF_FUNC;
	struct vfy_ash_result vres;
	memset(&vres, 0, sizeof vres);
	vres.ninsns = N;
	vres.facts = facts;
	vres.host = h;
	struct ash_env env = {h, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *p;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_prog_new(&img, &vres, &env, &p, &d), 0, "%s", d.msg);
	cr_assert_null(ash_prog_native(p));
	cr_assert_eq(ash_prog_jit(p, jit_mem_posix(), &d), 0, "%s", d.msg);
	const struct jit_ash *j = ash_prog_native(p);
	cr_assert_not_null(j);
	size_t len;
	uint32_t n;
	jit_ash_code(j, &len);
	const uint32_t *at = jit_ash_offsets(j, &n);
	cr_assert_eq(n, N);
	cr_assert_gt(at[n + 0], 0); /* the fault exit comes first */
	cr_assert_lt(at[n + 0], at[0]);
	cr_assert_lt(at[0], at[1]);
	cr_assert_eq(at[2], at[3], "the second slot of lddw has no code");
	cr_assert_lt(at[3], at[4]);
	cr_assert_lt(at[4], at[n + 5]);
	/* a leaf naming no callee-saved register: an empty prologue */
	cr_assert_eq(at[n + 5], at[5]);
	cr_assert_lt(at[5], at[6]);
	cr_assert_lt(at[6], len);
	for (int i = 1; i < N; i++)
		if (i != 5)
			cr_assert_eq(at[n + i], UINT32_MAX, "slot %d", i);
	uint8_t mem[8] = {0};
	struct ash_result r;
	cr_assert_eq(ash_run_mem(p, mem, sizeof mem, ASH_ENGINE_X86, &r), 0);
	cr_assert_eq(r.r0, 7);
	ash_prog_free(p);
}

/* ---- verified XDP programs: the verifier's facts, both engines ---- */

struct trace {
	char text[512];
};

static void on_trace(void *ctx, const char *text)
{
	struct trace *t = ctx;
	size_t n = strlen(t->text);
	snprintf(t->text + n, sizeof t->text - n, "%s|", text);
}

static uint64_t fixed_ktime(void *ctx)
{
	(void)ctx;
	return 0x123456789ull;
}

/* A verified image (XDP or raw memory) and three programs on it: the
 * interpreter, x86 with the verifier's facts, and x86 "plain", whose
 * facts lack what the JIT only optimises with (constants, proven jump
 * directions, bpf_loop's callback): both must agree with the
 * interpreter, and tests compare their code. */
struct pair {
	struct ash_image img;
	struct vfy_ash_result vres, vplain;
	struct trace ti, tx, tp;
	struct ash_prog *pi, *px, *pp;
};

static void pair_new_ctx(struct pair *q, struct ash_insn *in, uint32_t n,
                         struct ash_map_def *maps, uint32_t nmaps,
                         uint32_t ctx)
{
	const struct dpf_host *h = dpf_host_libc();
	memset(q, 0, sizeof *q);
	q->img.ninsns = n;
	q->img.insns = in;
	q->img.nmaps = nmaps;
	q->img.maps = maps;
	struct vfy_ash_opts o = {ctx, WORDS * 8, 0};
	struct dpf_diag d = {{0}};
	cr_assert_eq(vfy_ash(&q->img, &o, h, &q->vres, &d), 0,
	             "verifier: %s at %u", d.msg, q->vres.err_insn);
	q->vplain = q->vres;
	q->vplain.facts = calloc(n, sizeof *q->vplain.facts);
	cr_assert_not_null(q->vplain.facts);
	for (uint32_t i = 0; i < n; i++) {
		struct vfy_ash_fact f = q->vres.facts[i];
		f.kflags = 0;
		f.flags &= (uint8_t)~(VFY_AF_TAKEN | VFY_AF_FALLS);
		if (f.helper == ASH_H_LOOP)
			f.flags &= (uint8_t)~(VFY_AF_ARG | VFY_AF_ARG_MIXED);
		q->vplain.facts[i] = f;
	}
	struct ash_env ei = {h, fixed_ktime, NULL, on_trace, &q->ti, 7, 3};
	struct ash_env ex = {h, fixed_ktime, NULL, on_trace, &q->tx, 7, 3};
	struct ash_env ep = {h, fixed_ktime, NULL, on_trace, &q->tp, 7, 3};
	cr_assert_eq(ash_prog_new(&q->img, &q->vres, &ei, &q->pi, &d), 0, "%s",
	             d.msg);
	cr_assert_eq(ash_prog_new(&q->img, &q->vres, &ex, &q->px, &d), 0, "%s",
	             d.msg);
	cr_assert_eq(ash_prog_new(&q->img, &q->vplain, &ep, &q->pp, &d), 0,
	             "%s", d.msg);
	cr_assert_eq(ash_prog_jit(q->px, jit_mem_posix(), &d), 0,
	             "the JIT refused: %s", d.msg);
	cr_assert_eq(ash_prog_jit(q->pp, jit_mem_posix(), &d), 0,
	             "the JIT refused the plain facts: %s", d.msg);
}

static void pair_new(struct pair *q, struct ash_insn *in, uint32_t n,
                     struct ash_map_def *maps, uint32_t nmaps)
{
	pair_new_ctx(q, in, n, maps, nmaps, VFY_ASH_CTX_XDP);
}

static void pair_free(struct pair *q)
{
	ash_prog_free(q->pi);
	ash_prog_free(q->px);
	ash_prog_free(q->pp);
	free(q->vplain.facts);
	vfy_ash_free(&q->vres);
}

/* The code of slot i of p's native code (empty: *len 0). */
static const uint8_t *slot_code(const struct ash_prog *p, uint32_t i,
                                size_t *len)
{
	const struct jit_ash *j = ash_prog_native(p);
	cr_assert_not_null(j);
	size_t all;
	uint32_t n;
	const uint8_t *code = jit_ash_code(j, &all);
	const uint32_t *at = jit_ash_offsets(j, &n);
	cr_assert_lt(i, n);
	uint32_t end = (uint32_t)all;
	if (i + 1 < n)
		end = at[n + i + 1] != UINT32_MAX ? at[n + i + 1] : at[i + 1];
	*len = end - at[i];
	return code + at[i];
}

/* Slot i of a and slot j of b compile to the same bytes. */
static int same_slot(const struct ash_prog *a, uint32_t i,
                     const struct ash_prog *b, uint32_t j)
{
	size_t la, lb;
	const uint8_t *ca = slot_code(a, i, &la), *cb = slot_code(b, j, &lb);
	return la == lb && !memcmp(ca, cb, la);
}

/* Run both on the same packet: results, frames, traces and every map's
 * entries (keys 0..7 as u32) must agree.  Returns x86's result. */
static struct ash_result pair_run(struct pair *q, const uint8_t *pkt,
                                  uint32_t len, const char *what)
{
	static uint8_t bi[ASH_FRAME_SIZE], bx[ASH_FRAME_SIZE];
	static uint8_t bp[ASH_FRAME_SIZE];
	struct ash_xdp xi, xx, xp;
	ash_xdp_init(&xi, bi, pkt, len);
	ash_xdp_init(&xx, bx, pkt, len);
	ash_xdp_init(&xp, bp, pkt, len);
	struct ash_result ri, rx, rp;
	int a = ash_run_xdp(q->pi, &xi, ASH_ENGINE_INTERP, &ri);
	int x = ash_run_xdp(q->px, &xx, ASH_ENGINE_X86, &rx);
	int y = ash_run_xdp(q->pp, &xp, ASH_ENGINE_X86, &rp);
	cr_assert_eq(a, y, "%s: plain: rc %d vs %d", what, a, y);
	cr_assert_eq(ri.r0, rp.r0, "%s: plain: r0", what);
	cr_assert_str_eq(ri.msg, rp.msg, "%s: plain", what);
	cr_assert_eq(xi.data_end, xp.data_end, "%s: plain: data_end", what);
	cr_assert_eq(xi.data_meta, xp.data_meta, "%s: plain: data_meta", what);
	cr_assert_eq(memcmp(bi, bp, ASH_FRAME_SIZE), 0, "%s: plain: frame",
	             what);
	cr_assert_eq(a, x, "%s: rc %d vs %d (%s / %s)", what, a, x, ri.msg,
	             rx.msg);
	cr_assert_eq(ri.r0, rx.r0, "%s: r0 %llu vs %llu", what,
	             (unsigned long long)ri.r0, (unsigned long long)rx.r0);
	cr_assert_eq(ri.action, rx.action, "%s: action", what);
	cr_assert_eq(ri.redirect_index, rx.redirect_index, "%s", what);
	cr_assert_eq(ri.fault, rx.fault, "%s: fault", what);
	cr_assert_str_eq(ri.msg, rx.msg, "%s", what);
	cr_assert_eq(xi.data, xx.data, "%s: data", what);
	cr_assert_eq(xi.data_end, xx.data_end, "%s: data_end", what);
	cr_assert_eq(xi.data_meta, xx.data_meta, "%s: data_meta", what);
	cr_assert_eq(memcmp(bi, bx, ASH_FRAME_SIZE), 0, "%s: frame", what);
	cr_assert_str_eq(q->ti.text, q->tx.text, "%s: trace", what);
	cr_assert_str_eq(q->ti.text, q->tp.text, "%s: plain: trace", what);
	for (uint32_t m = 0; m < q->img.nmaps; m++) {
		if (q->img.maps[m].type == ASH_MAP_RINGBUF)
			continue;
		for (uint32_t k = 0; k < 8; k++) {
			uint8_t vi[64], vx[64];
			memset(vi, 0, sizeof vi);
			memset(vx, 0, sizeof vx);
			int li = ash_map_lookup(q->pi, m, &k, vi);
			int lx = ash_map_lookup(q->px, m, &k, vx);
			cr_assert_eq(li, lx, "%s: map %u key %u", what, m, k);
			cr_assert_eq(memcmp(vi, vx, sizeof vi), 0,
			             "%s: map %u key %u value", what, m, k);
			memset(vx, 0, sizeof vx);
			lx = ash_map_lookup(q->pp, m, &k, vx);
			cr_assert_eq(li, lx, "%s: plain: map %u key %u", what, m,
			             k);
			cr_assert_eq(memcmp(vi, vx, sizeof vi), 0,
			             "%s: plain: map %u key %u value", what, m, k);
		}
	}
	return rx;
}

#define LDMAP(d, i) I(0x18, d, 1, 0, i), I(0, 0, 0, 0, 0)

/* map_lookup_elem on an array, inlined: the key (8 packet bytes, of
 * which the u32 counts) in range, at max_entries - 1, at max_entries,
 * far beyond, and with high bits set; the element found is counted up.
 * Value sizes 8 (shift) and 20 (stride 24: multiply); PERCPU_ARRAY
 * too. */
Test(ash_jit, array_lookup_inline)
{
	struct ash_insn in[] = {
		I(0x61, 2, 1, 0, 0),     /* r2 = data */
		I(0x61, 3, 1, 4, 0),     /* r3 = data_end */
		I(0xbf, 4, 2, 0, 0),
		I(0x07, 4, 0, 0, 8),
		I(0x2d, 4, 3, 13, 0),    /* short packet -> drop */
		I(0x79, 7, 2, 0, 0),     /* r7 = key */
		I(0x7b, 10, 7, -8, 0),
		LDMAP(1, 0),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -8),
		I(0x85, 0, 0, 0, ASH_H_MAP_LOOKUP),
		I(0x15, 0, 0, 5, 0),     /* NULL -> drop */
		I(0x79, 1, 0, 0, 0),
		I(0x07, 1, 0, 0, 1),
		I(0x7b, 0, 1, 0, 0),     /* ++*(u64 *)value */
		I(0xb7, 0, 0, 0, ASH_XDP_PASS),
		I(0x95, 0, 0, 0, 0),
		I(0xb7, 0, 0, 0, ASH_XDP_DROP),
		I(0x95, 0, 0, 0, 0),
	};
	enum { CALL = 11 };
	static const uint64_t keys[] = {0, 3, 4, 5, 6, 0xffffffffull,
	                                0x100000004ull, 0x500000002ull};
	static const int pass[] = {1, 1, 1, 0, 0, 0, 1, 1};
	static const uint32_t types[] = {ASH_MAP_ARRAY, ASH_MAP_ARRAY,
	                                 ASH_MAP_PERCPU_ARRAY};
	static const uint32_t vsize[] = {8, 20, 8};
	for (int t = 0; t < 3; t++) {
		struct ash_map_def md = {"arr", types[t], 0, 4, vsize[t], 5, 0,
		                         0, 0};
		struct pair q;
		pair_new(&q, in, sizeof in / sizeof in[0], &md, 1);
		cr_assert_eq(q.vres.facts[CALL].map, 1,
		             "the verifier proves the call's map");
		for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
			uint8_t pkt[60];
			memset(pkt, 0x11, sizeof pkt);
			memcpy(pkt, &keys[k], 8);
			char what[64];
			snprintf(what, sizeof what, "type %u size %u key %llx",
			         types[t], vsize[t], (unsigned long long)keys[k]);
			struct ash_result r = pair_run(&q, pkt, sizeof pkt, what);
			cr_assert_eq(r.action, pass[k] ? ASH_XDP_PASS
			                               : ASH_XDP_DROP, "%s", what);
		}
		/* key 4 = max_entries - 1 was counted twice (4, 0x100000004) */
		uint32_t k4 = 4;
		uint8_t val[64];
		uint64_t v = 0;
		cr_assert_eq(ash_map_lookup(q.px, 0, &k4, val), 0);
		memcpy(&v, val, sizeof v);
		cr_assert_eq(v, 2);
		pair_free(&q);
	}
}

/* The same call site reached with two maps: the fact says so and the
 * call goes to the helper (a hash map and an array). */
Test(ash_jit, array_lookup_mixed_maps)
{
	struct ash_insn in[] = {
		I(0x61, 2, 1, 0, 0),
		I(0x61, 3, 1, 4, 0),
		I(0xbf, 4, 2, 0, 0),
		I(0x07, 4, 0, 0, 8),
		I(0x2d, 4, 3, 17, 0),
		I(0x79, 7, 2, 0, 0),
		I(0x7b, 10, 7, -8, 0),
		I(0x71, 8, 2, 7, 0),     /* r8 = byte 7 */
		LDMAP(1, 0),
		I(0x15, 8, 0, 2, 0),     /* byte 7 == 0: map 0 */
		LDMAP(1, 1),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -8),
		I(0x85, 0, 0, 0, ASH_H_MAP_LOOKUP),
		I(0x15, 0, 0, 5, 0),
		I(0x79, 1, 0, 0, 0),
		I(0x07, 1, 0, 0, 1),
		I(0x7b, 0, 1, 0, 0),
		I(0xb7, 0, 0, 0, ASH_XDP_PASS),
		I(0x95, 0, 0, 0, 0),
		I(0xb7, 0, 0, 0, ASH_XDP_DROP),
		I(0x95, 0, 0, 0, 0),
	};
	enum { CALL = 15 };
	struct ash_map_def md[2] = {
		{"arr", ASH_MAP_ARRAY, 0, 4, 8, 5, 0, 0, 0},
		{"arr2", ASH_MAP_ARRAY, 0, 4, 8, 3, 0, 0, 0},
	};
	struct pair q;
	pair_new(&q, in, sizeof in / sizeof in[0], md, 2);
	cr_assert_eq(q.vres.facts[CALL].map, VFY_MAP_MIXED);
	for (uint32_t k = 0; k < 6; k++)
		for (uint32_t b = 0; b < 2; b++) {
			uint8_t pkt[60];
			memset(pkt, 0, sizeof pkt);
			pkt[0] = (uint8_t)k;
			pkt[7] = (uint8_t)b;
			pair_run(&q, pkt, sizeof pkt, "mixed maps");
		}
	pair_free(&q);
}

/* ctx->data, data_end and data_meta read after adjust_head, adjust_tail
 * and adjust_meta: a write at data + K - 1, checked against data_end,
 * lands where the interpreter's does (a stale pointer would write at
 * the old place, or pass the check when it should fail). */
Test(ash_jit, data_after_adjust)
{
	static const struct {
		uint32_t id;
		int32_t delta;
	} adj[] = {
		{ASH_H_ADJUST_HEAD, 4}, {ASH_H_ADJUST_HEAD, -8},
		{ASH_H_ADJUST_HEAD, 100}, {ASH_H_ADJUST_TAIL, -4},
		{ASH_H_ADJUST_TAIL, 8}, {ASH_H_ADJUST_TAIL, -100},
	};
	static const int32_t ks[] = {8, 52, 56, 60, 64, 68};
	for (size_t a = 0; a < sizeof adj / sizeof adj[0]; a++)
		for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++) {
			struct ash_insn in[] = {
				I(0xbf, 6, 1, 0, 0),
				I(0xb7, 2, 0, 0, adj[a].delta),
				I(0x85, 0, 0, 0, (int32_t)adj[a].id),
				I(0x55, 0, 0, 8, 0),     /* failed -> drop */
				I(0x61, 2, 6, 0, 0),     /* data */
				I(0x61, 3, 6, 4, 0),     /* data_end */
				I(0xbf, 4, 2, 0, 0),
				I(0x07, 4, 0, 0, ks[k]),
				I(0x2d, 4, 3, 3, 0),
				I(0x72, 4, 0, -1, 0xaa), /* data[K - 1] = 0xaa */
				I(0xb7, 0, 0, 0, ASH_XDP_PASS),
				I(0x95, 0, 0, 0, 0),
				I(0xb7, 0, 0, 0, ASH_XDP_DROP),
				I(0x95, 0, 0, 0, 0),
			};
			struct pair q;
			pair_new(&q, in, sizeof in / sizeof in[0], NULL, 0);
			uint8_t pkt[60];
			for (size_t i = 0; i < sizeof pkt; i++)
				pkt[i] = (uint8_t)i;
			char what[64];
			snprintf(what, sizeof what, "helper %u delta %d K %d",
			         adj[a].id, adj[a].delta, ks[k]);
			pair_run(&q, pkt, sizeof pkt, what);
			pair_free(&q);
		}
	/* data_meta after adjust_meta: 8 bytes of metadata written */
	for (int32_t delta = -16; delta <= 8; delta += 8) {
		struct ash_insn in[] = {
			I(0xbf, 6, 1, 0, 0),
			I(0xb7, 2, 0, 0, delta),
			I(0x85, 0, 0, 0, ASH_H_ADJUST_META),
			I(0x55, 0, 0, 8, 0),
			I(0x61, 2, 6, 8, 0),         /* data_meta */
			I(0x61, 3, 6, 0, 0),         /* data */
			I(0xbf, 4, 2, 0, 0),
			I(0x07, 4, 0, 0, 8),
			I(0x2d, 4, 3, 3, 0),
			I(0x7a, 2, 0, 0, 0x5a5a5a5a),
			I(0xb7, 0, 0, 0, ASH_XDP_PASS),
			I(0x95, 0, 0, 0, 0),
			I(0xb7, 0, 0, 0, ASH_XDP_DROP),
			I(0x95, 0, 0, 0, 0),
		};
		struct pair q;
		pair_new(&q, in, sizeof in / sizeof in[0], NULL, 0);
		uint8_t pkt[60] = {1, 2, 3};
		pair_run(&q, pkt, sizeof pkt, "adjust_meta");
		pair_free(&q);
	}
}

/* Every helper with a native function against the interpreter, their
 * results kept on the stack and copied into the packet: ktime,
 * prandom, cpu, map update/delete on a hash map, csum_diff, load_bytes,
 * store_bytes, trace_printk (the text), ringbuf output, redirect. */
Test(ash_jit, direct_helpers)
{
	struct ash_insn in[] = {
		I(0xbf, 6, 1, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_KTIME),
		I(0x7b, 10, 0, -8, 0),
		I(0x85, 0, 0, 0, ASH_H_PRANDOM),
		I(0x7b, 10, 0, -16, 0),
		I(0xbf, 8, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_CPU),
		I(0x7b, 10, 0, -24, 0),
		I(0x7a, 10, 0, -32, 7),          /* key 7 */
		I(0x7a, 10, 0, -40, 0x1122),     /* value */
		LDMAP(1, 0),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -32),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -40),
		I(0xb7, 4, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_MAP_UPDATE),
		I(0x7b, 10, 0, -48, 0),
		I(0x7a, 10, 0, -32, 5),          /* key 5: stays */
		LDMAP(1, 0),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -32),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -40),
		I(0xb7, 4, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_MAP_UPDATE),
		I(0x7a, 10, 0, -32, 7),
		LDMAP(1, 0),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -32),
		I(0x85, 0, 0, 0, ASH_H_MAP_DELETE),
		I(0x7b, 10, 0, -56, 0),
		LDMAP(1, 0),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -32),
		I(0x85, 0, 0, 0, ASH_H_MAP_DELETE), /* -ENOENT */
		I(0x7b, 10, 0, -64, 0),
		I(0xbf, 1, 10, 0, 0),
		I(0x07, 1, 0, 0, -24),
		I(0xb7, 2, 0, 0, 24),
		I(0xb7, 3, 0, 0, 0),
		I(0xb7, 4, 0, 0, 0),
		I(0xb7, 5, 0, 0, 0x1234),
		I(0x85, 0, 0, 0, ASH_H_CSUM_DIFF),
		I(0x7b, 10, 0, -72, 0),
		I(0xbf, 1, 6, 0, 0),
		I(0xb7, 2, 0, 0, 2),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -80),
		I(0xb7, 4, 0, 0, 8),
		I(0x85, 0, 0, 0, ASH_H_LOAD_BYTES),
		I(0x7b, 10, 0, -88, 0),
		I(0x62, 10, 0, -96, 0x0a642578), /* "x%d\n" */
		I(0x62, 10, 0, -92, 0),
		I(0xbf, 1, 10, 0, 0),
		I(0x07, 1, 0, 0, -96),
		I(0xb7, 2, 0, 0, 5),
		I(0xbf, 3, 8, 0, 0),
		I(0xb7, 4, 0, 0, 0),
		I(0xb7, 5, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_TRACE_PRINTK),
		I(0x7b, 10, 0, -104, 0),
		LDMAP(1, 1),
		I(0xbf, 2, 10, 0, 0),
		I(0x07, 2, 0, 0, -24),
		I(0xb7, 3, 0, 0, 16),
		I(0xb7, 4, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_RINGBUF_OUTPUT),
		I(0x7b, 10, 0, -112, 0),
		I(0xbf, 1, 6, 0, 0),
		I(0xb7, 2, 0, 0, 0),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -112),
		I(0xb7, 4, 0, 0, 112),
		I(0x85, 0, 0, 0, ASH_H_STORE_BYTES),
		I(0xb7, 1, 0, 0, 3),
		I(0xb7, 2, 0, 0, 0),
		I(0x85, 0, 0, 0, ASH_H_REDIRECT),
		I(0x95, 0, 0, 0, 0),
	};
	struct ash_map_def md[2] = {
		{"h", ASH_MAP_HASH, 0, 4, 8, 4, 0, 0, 0},
		{"rb", ASH_MAP_RINGBUF, 0, 0, 0, 4096, 0, 0, 0},
	};
	struct pair q;
	pair_new(&q, in, sizeof in / sizeof in[0], md, 2);
	uint8_t pkt[128];
	for (size_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)(i * 7);
	for (int run = 0; run < 3; run++) {
		struct ash_result r = pair_run(&q, pkt, sizeof pkt, "helpers");
		cr_assert_eq(r.action, ASH_XDP_REDIRECT);
		cr_assert_eq(r.redirect_index, 3);
	}
	cr_assert_neq(q.tx.text[0], 0, "trace_printk wrote");
	uint32_t k5 = 5;
	uint64_t v = 0;
	cr_assert_eq(ash_map_lookup(q.px, 0, &k5, &v), 0);
	cr_assert_eq(v, 0x1122);
	pair_free(&q);
}

/* A helper fault three frames deep, inside a bpf_loop callback's
 * subprogram: the code leaves from there with the interpreter's result
 * (r0 as before the call, the message naming the call site). */
Test(ash_jit, helper_fault_nested)
{
	static struct prog p;
	head(&p);
	put(&p, I(0xb7, 1, 0, 0, 3));            /* nr */
	uint32_t ld = p.n;
	put(&p, I(0x18, 2, 4, 0, 0));            /* r2 = &cb */
	put(&p, I(0, 0, 0, 0, 0));
	put(&p, I(0xb7, 3, 0, 0, 0));
	put(&p, I(0xb7, 4, 0, 0, 0));
	put(&p, I(0x85, 0, 0, 0, ASH_H_LOOP));
	tail(&p);
	/* cb(i): call f when i == 2 */
	uint32_t cb = p.n;
	p.func[cb] = 1;
	p.in[ld].imm = (int32_t)(cb - ld - 1);
	put(&p, I(0xb7, 6, 0, 0, 66));
	put(&p, I(0x7a, 10, 0, -8, 1));
	put(&p, I(0xb7, 0, 0, 0, 0));
	put(&p, I(0x55, 1, 0, 2, 2));            /* i != 2: return 0 */
	uint32_t call = p.n;
	put(&p, I(0x85, 0, 1, 0, 0));            /* call f */
	put(&p, I(0xb7, 0, 0, 0, 0));
	put(&p, I(0x95, 0, 0, 0, 0));
	uint32_t f = p.n;
	p.func[f] = 1;
	p.in[call].imm = (int32_t)(f - call - 1);
	put(&p, I(0xb7, 7, 0, 0, 77));
	put(&p, I(0x7a, 10, 0, -16, 2));
	put(&p, I(0xb7, 0, 0, 0, 999));
	put(&p, I(0xb7, 1, 0, 0, 12));           /* no map */
	put(&p, I(0xbf, 2, 10, 0, 0));
	put(&p, I(0x07, 2, 0, 0, -16));
	put(&p, I(0x85, 0, 0, 0, ASH_H_MAP_UPDATE));
	put(&p, I(0x95, 0, 0, 0, 0));
	check(&p, "helper fault in a callback's subprogram");
}

/* lsh 32 + rsh/arsh 32 pairs (fused into one extension), and a pair
 * whose second slot a jump names (not fused: both paths must hold). */
Test(ash_jit, fused_extensions)
{
	static struct prog p;
	head(&p);
	for (int k = 0; k < 10; k++) {
		if (k == 1)
			continue;
		put(&p, I(0x67, k, 0, 0, 32));
		put(&p, I(0x77 + (k & 1 ? 0x50 : 0), k, 0, 0, 32));
	}
	/* jset r2, 1, +1 skips the lsh: the rsh alone on that path */
	put(&p, I(0x45, 2, 0, 0, 1));
	put(&p, I(0x67, 3, 0, 0, 32));
	put(&p, I(0xc7, 3, 0, 0, 32));
	put(&p, I(0x45, 4, 0, 0, 2));
	put(&p, I(0x67, 5, 0, 0, 32));
	put(&p, I(0x77, 5, 0, 0, 32));
	p.in[p.n - 6].off = 1;
	p.in[p.n - 3].off = 1;
	tail(&p);
	check(&p, "fused extensions");
}

/* ---- the verifier's constants and jump directions ---- */

/* A verified raw-memory pair on every input: the interpreter, x86 and
 * x86 plain agree on rc, r0, fault, message and memory. */
static void pair_run_mem(struct pair *q, const char *what)
{
	for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
		uint64_t m[3][WORDS];
		struct ash_prog *e[3] = {q->pi, q->px, q->pp};
		struct ash_result r[3];
		int rc[3];
		for (int i = 0; i < 3; i++) {
			memcpy(m[i], inputs[k], sizeof m[i]);
			rc[i] = ash_run_mem(e[i], (uint8_t *)m[i], sizeof m[i],
			                    i ? ASH_ENGINE_X86 : ASH_ENGINE_INTERP,
			                    &r[i]);
		}
		for (int i = 1; i < 3; i++) {
			const char *eng = i == 1 ? "x86" : "x86 plain";
			cr_assert_eq(rc[0], rc[i], "%s input %zu %s: rc", what, k,
			             eng);
			cr_assert_eq(r[0].r0, r[i].r0, "%s input %zu %s: r0 %llx "
			             "vs %llx", what, k, eng,
			             (unsigned long long)r[0].r0,
			             (unsigned long long)r[i].r0);
			cr_assert_eq(r[0].fault, r[i].fault, "%s %zu %s", what, k,
			             eng);
			cr_assert_str_eq(r[0].msg, r[i].msg, "%s %zu %s", what, k,
			                 eng);
			cr_assert_eq(memcmp(m[0], m[i], sizeof m[0]), 0,
			             "%s input %zu %s: memory", what, k, eng);
		}
	}
}

/* head(), body, tail() as a verified raw-memory pair; *at is the
 * body's first slot. */
static void body_pair(struct pair *q, struct prog *p,
                      const struct ash_insn *body, uint32_t n, uint32_t *at)
{
	head(p);
	*at = p->n;
	for (uint32_t i = 0; i < n; i++)
		put(p, body[i]);
	tail(p);
	pair_new_ctx(q, p->in, p->n, NULL, 0, VFY_ASH_CTX_MEM);
}

/* Each case: a body whose slot `at` reads a register the verifier
 * proves constant, and a reference body with the constant written as
 * an immediate (K form, ja, st).  The slot must compile to the
 * reference's bytes (the plain compilation to others), and all three
 * engines agree on every input.  never 1: the slot is a jump proven
 * never taken, which emits nothing; 2: one proven always taken, which
 * is one jmp. */
Test(ash_jit, verifier_constants)
{
	static const struct {
		const char *what;
		struct ash_insn body[4], ref[4];
		uint32_t n, at;
		int never;
	} cases[] = {
		{"add r2, r3 (14)",
		 {I(0xb7, 3, 0, 0, 14), I(0x0f, 2, 3, 0, 0)},
		 {I(0xb7, 3, 0, 0, 14), I(0x07, 2, 0, 0, 14)}, 2, 1, 0},
		{"sub32 r4, r3 (-3)",
		 {I(0xb7, 3, 0, 0, -3), I(0x1c, 4, 3, 0, 0)},
		 {I(0xb7, 3, 0, 0, -3), I(0x14, 4, 0, 0, -3)}, 2, 1, 0},
		{"lsh r5, r3 (3)",
		 {I(0xb7, 3, 0, 0, 3), I(0x6f, 5, 3, 0, 0)},
		 {I(0xb7, 3, 0, 0, 3), I(0x67, 5, 0, 0, 3)}, 2, 1, 0},
		{"div r6, r3 (7): no zero test",
		 {I(0xb7, 3, 0, 0, 7), I(0x3f, 6, 3, 0, 0)},
		 {I(0xb7, 3, 0, 0, 7), I(0x37, 6, 0, 0, 7)}, 2, 1, 0},
		{"sdiv r6, r3 (-1)",
		 {I(0xb7, 3, 0, 0, -1), I(0x3f, 6, 3, 1, 0)},
		 {I(0xb7, 3, 0, 0, -1), I(0x37, 6, 0, 1, -1)}, 2, 1, 0},
		{"smod32 r7, r3 (-5)",
		 {I(0xb7, 3, 0, 0, -5), I(0x9c, 7, 3, 1, 0)},
		 {I(0xb7, 3, 0, 0, -5), I(0x94, 7, 0, 1, -5)}, 2, 1, 0},
		{"jgt r2, r3 (14)",
		 {I(0xb7, 3, 0, 0, 14), I(0x2d, 2, 3, 1, 0),
		  I(0x7a, 10, 0, -104, 1)},
		 {I(0xb7, 3, 0, 0, 14), I(0x25, 2, 0, 1, 14),
		  I(0x7a, 10, 0, -104, 1)}, 3, 1, 0},
		{"jsgt r3 (-14), r2: mirrored",
		 {I(0xb7, 3, 0, 0, -14), I(0x6d, 3, 2, 1, 0),
		  I(0x7a, 10, 0, -104, 1)},
		 {I(0xb7, 3, 0, 0, -14), I(0xc5, 2, 0, 1, -14),
		  I(0x7a, 10, 0, -104, 1)}, 3, 1, 0},
		{"jset r3 (0x10), r4: mirrored",
		 {I(0xb7, 3, 0, 0, 0x10), I(0x4d, 3, 4, 1, 0),
		  I(0x7a, 10, 0, -104, 1)},
		 {I(0xb7, 3, 0, 0, 0x10), I(0x45, 4, 0, 1, 0x10),
		  I(0x7a, 10, 0, -104, 1)}, 3, 1, 0},
		{"jeq32 r2, r3 (0x1_00000005)",
		 {I(0x18, 3, 0, 0, 5), I(0, 0, 0, 0, 1), I(0x1e, 2, 3, 1, 0),
		  I(0x7a, 10, 0, -104, 1)},
		 {I(0x18, 3, 0, 0, 5), I(0, 0, 0, 0, 1), I(0x16, 2, 0, 1, 5),
		  I(0x7a, 10, 0, -104, 1)}, 4, 2, 0},
		{"jeq r3 (14), 14: always taken",
		 {I(0xb7, 3, 0, 0, 14), I(0x15, 3, 0, 1, 14),
		  I(0x7a, 10, 0, -104, 1)},
		 {{0}}, 3, 1, 2},
		{"jlt r3 (14), r2 (r2 >= 20 proven): never taken",
		 {I(0xb7, 3, 0, 0, 14), I(0x47, 2, 0, 0, 20),
		  I(0xad, 2, 3, 1, 0), I(0x7a, 10, 0, -104, 1)},
		 {{0}}, 4, 2, 1},
		{"stxw [r10-120], r3 (0x55)",
		 {I(0xb7, 3, 0, 0, 0x55), I(0x63, 10, 3, -120, 0),
		  I(0x61, 9, 10, -120, 0)},
		 {I(0xb7, 3, 0, 0, 0x55), I(0x62, 10, 0, -120, 0x55),
		  I(0x61, 9, 10, -120, 0)}, 3, 1, 0},
		{"mul r4 (5), 3: a constant result",
		 {I(0xb7, 4, 0, 0, 5), I(0x27, 4, 0, 0, 3)},
		 {I(0xb7, 4, 0, 0, 5), I(0xb7, 4, 0, 0, 15)}, 2, 1, 0},
		{"fill of a spilled constant",
		 {I(0xb7, 3, 0, 0, 0x1234), I(0x7b, 10, 3, -120, 0),
		  I(0x79, 9, 10, -120, 0)},
		 {I(0xb7, 3, 0, 0, 0x1234), I(0x7b, 10, 3, -120, 0),
		  I(0xb7, 9, 0, 0, 0x1234)}, 3, 2, 0},
	};
	static struct prog p, r;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct pair q, qr;
		uint32_t at, atr;
		body_pair(&q, &p, cases[c].body, cases[c].n, &at);
		pair_run_mem(&q, cases[c].what);
		size_t len, plain;
		slot_code(q.pp, at + cases[c].at, &plain);
		cr_assert_gt(plain, 0, "%s", cases[c].what);
		if (cases[c].never == 1) {
			slot_code(q.px, at + cases[c].at, &len);
			cr_assert_eq(len, 0, "%s: %zu bytes", cases[c].what, len);
		} else if (cases[c].never == 2) {
			const uint8_t *code = slot_code(q.px, at + cases[c].at,
			                                &len);
			cr_assert(len == 5 && code[0] == 0xe9,
			          "%s: not one jmp rel32", cases[c].what);
		} else {
			body_pair(&qr, &r, cases[c].ref, cases[c].n, &atr);
			cr_assert(same_slot(q.px, at + cases[c].at, qr.px,
			                    atr + cases[c].at),
			          "%s: not the immediate form", cases[c].what);
			cr_assert(!same_slot(q.px, at + cases[c].at, q.pp,
			                     at + cases[c].at),
			          "%s: the plain code is the same", cases[c].what);
			pair_free(&qr);
		}
		pair_free(&q);
	}
}

/* The code of slot i contains the bytes b (n of them). */
static int slot_has(const struct ash_prog *p, uint32_t i, const uint8_t *b,
                    size_t n)
{
	size_t len;
	const uint8_t *code = slot_code(p, i, &len);
	for (size_t k = 0; k + n <= len; k++)
		if (!memcmp(code + k, b, n))
			return 1;
	return 0;
}

static const uint8_t call_r15[3] = {0x41, 0xff, 0xd7};

/* bpf_loop on a raw-memory program: the count a constant (0, 1, 3, 64,
 * 1 << 23 + 1) or word 0 & 15, the callback adding i + 1 to a stack
 * word through its context and stopping (returning 1) at i == 5;
 * nested: the callback itself loops 3 times over a second callback
 * adding 100.  Words 1 and 2 get the iterations and the sum.  With
 * the verifier's facts the callback is called directly (no call r15)
 * and a constant count of 0 leaves no loop at all. */
Test(ash_jit, bpf_loop_inline)
{
	static const struct {
		int32_t nr; /* -1: word 0 & 15 */
		int nested, flags;
	} cases[] = {{0, 0, 0}, {1, 0, 0}, {3, 0, 0}, {64, 0, 0}, {-1, 0, 0},
	             {(1 << 23) + 1, 0, 0}, {3, 0, 1}, {-1, 1, 0}, {64, 1, 0}};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct ash_insn in[64];
		uint32_t n = 0, ld, call, ld2 = 0;
#define P(x) (in[n++] = (x))
		P(I(0xbf, 6, 1, 0, 0));                 /* r6 = memory */
		P(I(0x7a, 10, 0, -8, 0));               /* sum = 0 */
		if (cases[c].nr < 0) {
			P(I(0x79, 1, 6, 0, 0));
			P(I(0x57, 1, 0, 0, 15));
		} else {
			P(I(0xb7, 1, 0, 0, cases[c].nr));
		}
		ld = n;
		P(I(0x18, 2, ASH_PSEUDO_FUNC, 0, 0));   /* r2 = &cb */
		P(I(0, 0, 0, 0, 0));
		P(I(0xbf, 3, 10, 0, 0));
		P(I(0x07, 3, 0, 0, -8));                /* r3 = &sum */
		P(I(0xb7, 4, 0, 0, cases[c].flags));
		call = n;
		P(I(0x85, 0, 0, 0, ASH_H_LOOP));
		P(I(0x7b, 6, 0, 8, 0));                 /* word 1 = r0 */
		P(I(0x79, 1, 10, -8, 0));
		P(I(0x7b, 6, 1, 16, 0));                /* word 2 = sum */
		P(I(0xb7, 0, 0, 0, 0));
		P(I(0x95, 0, 0, 0, 0));
		uint32_t cb = n;                        /* cb(i, ctx) */
		in[ld].imm = (int32_t)(cb - ld - 1);
		P(I(0xbf, 6, 2, 0, 0));                 /* r6 = ctx */
		P(I(0xbf, 7, 1, 0, 0));                 /* r7 = i */
		P(I(0x79, 3, 6, 0, 0));
		P(I(0x0f, 3, 1, 0, 0));
		P(I(0x07, 3, 0, 0, 1));
		P(I(0x7b, 6, 3, 0, 0));                 /* *ctx += i + 1 */
		if (cases[c].nested) {
			P(I(0xb7, 1, 0, 0, 3));
			ld2 = n;
			P(I(0x18, 2, ASH_PSEUDO_FUNC, 0, 0));
			P(I(0, 0, 0, 0, 0));
			P(I(0xbf, 3, 6, 0, 0));
			P(I(0xb7, 4, 0, 0, 0));
			P(I(0x85, 0, 0, 0, ASH_H_LOOP));
		}
		P(I(0xb7, 0, 0, 0, 0));
		P(I(0x55, 7, 0, 1, 5));                 /* jne r7, 5, +1 */
		P(I(0xb7, 0, 0, 0, 1));                 /* stop */
		P(I(0x95, 0, 0, 0, 0));
		if (cases[c].nested) {
			uint32_t cb2 = n;               /* cb2: *ctx += 100 */
			in[ld2].imm = (int32_t)(cb2 - ld2 - 1);
			P(I(0x79, 3, 2, 0, 0));
			P(I(0x07, 3, 0, 0, 100));
			P(I(0x7b, 2, 3, 0, 0));
			P(I(0xb7, 0, 0, 0, 0));
			P(I(0x95, 0, 0, 0, 0));
		}
#undef P
		char what[64];
		snprintf(what, sizeof what, "bpf_loop nr %d%s%s", cases[c].nr,
		         cases[c].nested ? " nested" : "",
		         cases[c].flags ? " flags" : "");
		struct pair q;
		pair_new_ctx(&q, in, n, NULL, 0, VFY_ASH_CTX_MEM);
		pair_run_mem(&q, what);
		/* the iterations and the sum as expected, on x86 */
		uint64_t m[WORDS] = {0};
		struct ash_result r;
		cr_assert_eq(ash_run_mem(q.px, (uint8_t *)m, sizeof m,
		                         ASH_ENGINE_X86, &r), 0);
		int64_t nr = cases[c].nr < 0 ? 0 : cases[c].nr;
		int64_t it = nr > (1 << 23) ? -7 : cases[c].flags ? -22
		           : nr > 6 ? 6 : nr;
		cr_assert_eq((int64_t)m[1], it, "%s: %lld iterations", what,
		             (long long)m[1]);
		uint64_t sum = 0;
		for (int64_t i = 0; i < it; i++)
			sum += (uint64_t)i + 1 + (cases[c].nested ? 300 : 0);
		cr_assert_eq(m[2], sum, "%s: sum %llu", what,
		             (unsigned long long)m[2]);
		/* the code: a direct call where the plain one goes through
		 * r15; a count of 0 or flags known nonzero: no loop */
		cr_assert(!same_slot(q.px, call, q.pp, call), "%s", what);
		cr_assert(slot_has(q.pp, call, call_r15, 3), "%s", what);
		cr_assert(!slot_has(q.px, call, call_r15, 3), "%s", what);
		size_t len;
		slot_code(q.px, call, &len);
		if (cases[c].nr == 0 || nr > (1 << 23) || cases[c].flags)
			cr_assert_leq(len, 10, "%s: %zu bytes", what, len);
		pair_free(&q);
	}
}

static const uint8_t call_rax[2] = {0xff, 0xd0};

/* xdp_load_bytes then xdp_store_bytes of the loaded bytes elsewhere in
 * the frame, lengths 1-17, offsets constant (0, 12, 50, 70000: beyond
 * 0xffff) or variable (the frame's length - 20: huge as a u32 on short
 * frames), on frames of 14-1,500 bytes; both results go to an array
 * map.  Up to 16 bytes both calls run inline (no call rax, unlike the
 * plain code); 17 calls the helper. */
Test(ash_jit, xdp_bytes_inline)
{
	static const uint32_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16,
	                                17};
	static const int32_t offs[] = {0, 12, 50, 70000, -1};
	static const uint32_t plens[] = {14, 30, 60, 64, 100, 1500};
	struct ash_map_def md[1] = {{"rc", ASH_MAP_ARRAY, 0, 4, 8, 2, 0, 0, 0}};
	static uint8_t pkt[1500];
	for (size_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)(i * 13 + 5);
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		for (size_t oi = 0; oi < sizeof offs / sizeof offs[0]; oi++) {
			struct ash_insn in[64];
			uint32_t n = 0, calls[2];
			int32_t off = offs[oi];
#define P(x) (in[n++] = (x))
			P(I(0xbf, 6, 1, 0, 0));
			P(I(0x61, 7, 6, 4, 0));            /* data_end */
			P(I(0x61, 8, 6, 0, 0));            /* data */
			P(I(0x1f, 7, 8, 0, 0));            /* r7 = length */
			for (int w = 1; w <= 4; w++)
				P(I(0x7a, 10, 0, -8 * w, -w));
			for (int k = 0; k < 2; k++) {
				P(I(0xbf, 1, 6, 0, 0));
				if (off < 0) {
					P(I(0xbf, 2, 7, 0, 0));
					P(I(0x07, 2, 0, 0, k ? -17 : -20));
				} else {
					P(I(0xb7, 2, 0, 0, k ? 1 : off));
				}
				P(I(0xbf, 3, 10, 0, 0));
				P(I(0x07, 3, 0, 0, -32));
				P(I(0xb7, 4, 0, 0, (int32_t)lens[li]));
				calls[k] = n;
				P(I(0x85, 0, 0, 0, k ? ASH_H_STORE_BYTES
				                     : ASH_H_LOAD_BYTES));
				P(I(0xbf, 9, 0, 0, 0));             /* the result */
				P(I(0x62, 10, 0, -40, k));          /* key k */
				P(I(0x18, 1, 1, 0, 0));             /* map 0 */
				P(I(0, 0, 0, 0, 0));
				P(I(0xbf, 2, 10, 0, 0));
				P(I(0x07, 2, 0, 0, -40));
				P(I(0x85, 0, 0, 0, ASH_H_MAP_LOOKUP));
				P(I(0x15, 0, 0, 1, 0));             /* jeq r0, 0, +1 */
				P(I(0x7b, 0, 9, 0, 0));             /* *r0 = result */
			}
			P(I(0xb7, 0, 0, 0, 2));
			P(I(0x95, 0, 0, 0, 0));
#undef P
			char what[64];
			snprintf(what, sizeof what, "xdp bytes len %u off %d",
			         lens[li], off);
			struct pair q;
			pair_new(&q, in, n, md, 1);
			for (size_t pi = 0; pi < sizeof plens / sizeof plens[0];
			     pi++)
				pair_run(&q, pkt, plens[pi], what);
			for (int k = 0; k < 2; k++) {
				int inl = lens[li] <= 16;
				cr_assert(slot_has(q.pp, calls[k], call_rax, 2),
				          "%s: plain", what);
				cr_assert_eq(!slot_has(q.px, calls[k], call_rax, 2),
				             inl, "%s: call %d inline %d", what, k,
				             inl);
			}
			pair_free(&q);
		}
	}
}

/* A constant spilled to the stack, then overwritten behind the
 * verifier's register view (xdp_load_bytes into it, an atomic add on
 * it), is no constant when filled: both engines read the new bytes. */
Test(ash_jit, constants_overwritten)
{
	struct ash_insn in[] = {
		I(0xbf, 6, 1, 0, 0),
		I(0xb7, 1, 0, 0, 5),
		I(0x7b, 10, 1, -8, 0),           /* [r10-8] = 5 (a spill) */
		I(0x7b, 10, 1, -16, 0),          /* [r10-16] = 5 */
		I(0xbf, 1, 6, 0, 0),
		I(0xb7, 2, 0, 0, 0),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -8),
		I(0xb7, 4, 0, 0, 8),
		I(0x85, 0, 0, 0, ASH_H_LOAD_BYTES), /* frame bytes 0-7 */
		I(0xb7, 1, 0, 0, 3),
		I(0xdb, 10, 1, -16, ASH_ATOMIC_ADD), /* [r10-16] += 3 */
		I(0x79, 2, 10, -8, 0),           /* fill: the frame's bytes */
		I(0x79, 3, 10, -16, 0),          /* fill: 8 */
		I(0x0f, 2, 3, 0, 0),
		I(0x7b, 10, 2, -24, 0),
		I(0xbf, 1, 6, 0, 0),
		I(0xb7, 2, 0, 0, 8),
		I(0xbf, 3, 10, 0, 0),
		I(0x07, 3, 0, 0, -24),
		I(0xb7, 4, 0, 0, 8),
		I(0x85, 0, 0, 0, ASH_H_STORE_BYTES), /* frame bytes 8-15 */
		I(0xb7, 0, 0, 0, 2),
		I(0x95, 0, 0, 0, 0),
	};
	struct pair q;
	pair_new(&q, in, sizeof in / sizeof in[0], NULL, 0);
	uint8_t pkt[64];
	for (size_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)(i * 29 + 1);
	pair_run(&q, pkt, sizeof pkt, "overwritten constants");
	/* the x86 frame holds bytes 0-7 + 8 at 8-15 */
	static uint8_t b[ASH_FRAME_SIZE];
	struct ash_xdp x;
	ash_xdp_init(&x, b, pkt, sizeof pkt);
	struct ash_result r;
	cr_assert_eq(ash_run_xdp(q.px, &x, ASH_ENGINE_X86, &r), 0);
	uint64_t w0, w1;
	memcpy(&w0, pkt, 8);
	memcpy(&w1, b + x.data + 8, 8);
	cr_assert_eq(w1, w0 + 8);
	pair_free(&q);
}
