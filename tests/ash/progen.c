/*
 * progen.c - random verifiable XDP handler programs (progen.h).
 *
 * The generator keeps an abstract state beside the code it emits: the
 * type of every register (nothing, scalar, the context, a pointer made
 * by the current block, a pointer into the caller's stack) and which
 * 8-byte stack slots hold initialised bytes.  A block reads only what
 * that state says is initialised and leaves pointers nowhere the next
 * block could misuse them: at the end of a block every pointer it made
 * is forgotten, after a helper or subprogram call r1-r5 are, and where
 * two paths meet (a skipped block, if/else) the state is the meet of
 * both.  Loop bodies start from a state without r0-r5, so what one
 * iteration leaves there is never read by the next.
 *
 * Stack use per function is bounded (main 16 slots, subprograms 8), so
 * a chain of main and four subprograms stays within Linux's 512 bytes.
 * Subprogram j may be called (or handed to bpf_loop) only by main or a
 * subprogram i < j: no recursion.  A subprogram nobody calls is not
 * emitted (the verifier refuses unreachable code).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ash/progen.h"

/* ---- randomness ---- */
void pg_rand_seed(struct pg_rand *r, uint64_t seed)
{
	memset(r, 0, sizeof *r);
	r->s = seed;
}

void pg_rand_bytes(struct pg_rand *r, const uint8_t *bytes, size_t n)
{
	memset(r, 0, sizeof *r);
	r->bytes = bytes;
	r->n = n;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t pg_rand64(struct pg_rand *r)
{
	if (!r->bytes) {
		r->s += 0x9e3779b97f4a7c15ull;
		return mix64(r->s);
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t b = r->pos < r->n ? r->bytes[r->pos++] : 0;
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

uint32_t pg_below(struct pg_rand *r, uint32_t n)
{
	if (r->bytes) { /* one byte per small choice: libFuzzer's unit */
		uint32_t v = 0;
		if (n > 256) {
			v = (uint32_t)pg_rand64(r);
		} else if (r->pos < r->n) {
			v = r->bytes[r->pos++];
		}
		return v % n;
	}
	return (uint32_t)(((pg_rand64(r) >> 32) * n) >> 32);
}

uint64_t pg_seed_of(uint64_t seed, uint64_t index)
{
	return mix64(seed * 0x100000001b3ull + index + 1);
}

/* ---- generator state ---- */
enum { T_NONE = 0, T_SCALAR, T_CTX, T_PTR, T_STK };
enum { SUB_PLAIN = 0, SUB_CB = 1 };
#define MAX_SUBS 4
#define MAX_FIX 512
#define MAX_INSNS 4000
#define MAIN_SLOTS 16
#define SUB_SLOTS 8

struct st {
	uint8_t t[11];
	uint32_t stk; /* bit i: slot fp-8*(i+1) initialised */
};

struct sub {
	int kind, ptrarg, refs;
	uint32_t entry;
};

struct fix {
	uint32_t at, sub;
};

struct g {
	struct pg_rand *r;
	struct ash_insn *ins;
	uint32_t n, cap;
	int oom;
	struct st s;
	int fn;          /* -1: main; else the subprogram */
	int depth;       /* nesting of conditional blocks */
	int inloop;
	uint16_t reserved; /* loop counters: never written in the body */
	uint32_t slots;  /* stack slots of this function */
	uint32_t nsub;
	struct sub subs[MAX_SUBS];
	struct fix fix[MAX_FIX];
	uint32_t nfix;
};

static uint32_t R(struct g *g, uint32_t n)
{
	return pg_below(g->r, n);
}

static uint32_t emit(struct g *g, uint8_t code, int dst, int src, int off,
                     int32_t imm)
{
	if (g->n == g->cap) {
		uint32_t nc = g->cap ? g->cap * 2 : 256;
		struct ash_insn *ni = realloc(g->ins, nc * sizeof *ni);
		if (!ni) {
			g->oom = 1;
			return g->n ? g->n - 1 : 0;
		}
		g->ins = ni;
		g->cap = nc;
	}
	struct ash_insn *in = &g->ins[g->n];
	in->code = code;
	in->dst = (uint8_t)dst;
	in->src = (uint8_t)src;
	in->off = (int16_t)off;
	in->imm = imm;
	return g->n++;
}

static void lddw(struct g *g, int dst, int src, uint64_t v)
{
	emit(g, 0x18, dst, src, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

/* Point the jump at j to the next slot. */
static void land(struct g *g, uint32_t j)
{
	if (g->oom || j >= g->n)
		return;
	if (g->ins[j].code == 0x06)
		g->ins[j].imm = (int32_t)(g->n - j - 1);
	else
		g->ins[j].off = (int16_t)(g->n - j - 1);
}

static int32_t rand_imm(struct g *g)
{
	static const int32_t pick[] = {
		0, 1, -1, 2, 3, 4, 7, 8, 14, 31, 32, 63, 64, 0x7f, 0x80, 0xff,
		0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff,
		(int32_t)0x80000000, (int32_t)0x80000001, -2, -8, -64, -128,
	};
	switch (R(g, 4)) {
	case 0: case 1:
		return pick[R(g, sizeof pick / sizeof pick[0])];
	case 2:
		return (int32_t)R(g, 33) - 16;
	default:
		return (int32_t)(uint32_t)pg_rand64(g->r);
	}
}

static uint64_t rand_imm64(struct g *g)
{
	static const uint64_t pick[] = {
		0x8000000000000000ull, 0x7fffffffffffffffull, ~0ull,
		0x100000000ull, 0xffffffffull, 0x80000000ull,
		0xffffffff80000000ull, 0x0123456789abcdefull,
		0x00000000ffff0000ull, 0xfffffffffffffffeull,
	};
	if (R(g, 2))
		return pick[R(g, sizeof pick / sizeof pick[0])];
	return pg_rand64(g->r);
}

/* ---- registers ---- */
static int writable(const struct g *g, int reg)
{
	if (reg == 10 || (g->reserved >> reg & 1))
		return 0;
	uint8_t t = g->s.t[reg];
	return t == T_NONE || t == T_SCALAR;
}

/* A register to write a scalar into. */
static int pick_w(struct g *g)
{
	int c[10], n = 0;
	for (int i = 0; i < 10; i++)
		if (writable(g, i))
			c[n++] = i;
	return n ? c[R(g, (uint32_t)n)] : -1;
}

/* A register holding a scalar, made one with a constant when none. */
static int pick_s(struct g *g)
{
	int c[10], n = 0;
	for (int i = 0; i < 10; i++)
		if (g->s.t[i] == T_SCALAR)
			c[n++] = i;
	if (n && R(g, 8))
		return c[R(g, (uint32_t)n)];
	int d = pick_w(g);
	if (d < 0)
		return n ? c[0] : -1;
	emit(g, 0xb7, d, 0, 0, rand_imm(g));
	g->s.t[d] = T_SCALAR;
	return d;
}

/* A writable register among r1..r5 other than those in `not`. */
static int pick_tmp(struct g *g, uint32_t not)
{
	int c[5], n = 0;
	for (int i = 1; i <= 5; i++)
		if (!(not >> i & 1) && writable(g, i))
			c[n++] = i;
	return n ? c[R(g, (uint32_t)n)] : -1;
}

static void forget_ptrs(struct g *g)
{
	for (int i = 0; i < 10; i++)
		if (g->s.t[i] == T_PTR)
			g->s.t[i] = T_NONE;
}

static void after_call(struct g *g)
{
	for (int i = 1; i <= 5; i++)
		g->s.t[i] = T_NONE;
	g->s.t[0] = T_SCALAR;
}

static void meet(struct st *a, const struct st *b)
{
	for (int i = 0; i < 11; i++)
		if (a->t[i] != b->t[i])
			a->t[i] = T_NONE;
	a->stk &= b->stk;
}

/* A helper call: `call id`, or now and then `mov r0, id; callx r0`
 * (r0 is the result register, free before any call). */
static void call_helper(struct g *g, int32_t id)
{
	if (R(g, 6) == 0) {
		emit(g, 0xb7, 0, 0, 0, id);
		emit(g, 0x8d, 0, 0, 0, 0);
	} else {
		emit(g, 0x85, 0, 0, 0, id);
	}
}

/* ---- stack ---- */
static int slot_off(uint32_t i)
{
	return -8 * (int)(i + 1);
}

static void slot_store(struct g *g, uint32_t i)
{
	if (R(g, 2)) {
		int s = pick_s(g);
		emit(g, 0x7b, 10, s, slot_off(i), 0);
	} else {
		emit(g, 0x7a, 10, 0, slot_off(i), rand_imm(g));
	}
	g->s.stk |= 1u << i;
}

/* Make slots lo..lo+k-1 initialised (a buffer starting at slot lo+k-1's
 * address, fp - 8 * (lo + k)). */
static void stack_init(struct g *g, uint32_t lo, uint32_t k, int fresh)
{
	for (uint32_t i = lo; i < lo + k; i++)
		if (fresh || !(g->s.stk >> i & 1))
			slot_store(g, i);
}

static int any_slot(struct g *g)
{
	uint32_t c[32], n = 0;
	for (uint32_t i = 0; i < g->slots; i++)
		if (g->s.stk >> i & 1)
			c[n++] = i;
	if (!n) {
		uint32_t i = R(g, g->slots);
		slot_store(g, i);
		return (int)i;
	}
	return (int)c[R(g, n)];
}

/* ---- ALU ---- */
static const uint8_t alu_ops[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                                  0x70, 0x90, 0xa0, 0xb0, 0xc0};

static void alu_one(struct g *g)
{
	int d = pick_w(g);
	if (d < 0)
		return;
	int is64 = R(g, 5) < 3;
	uint32_t kind = R(g, 20);
	if (kind >= 16 && g->s.t[d] != T_SCALAR) {
		emit(g, 0xb7, d, 0, 0, rand_imm(g));
		g->s.t[d] = T_SCALAR;
	}
	if (kind == 16) { /* neg */
		emit(g, is64 ? 0x87 : 0x84, d, 0, 0, 0);
		return;
	}
	if (kind == 17) { /* le / be / bswap */
		static const int32_t w[] = {16, 32, 64};
		uint32_t v = R(g, 3);
		uint8_t code = v == 0 ? 0xd4 : v == 1 ? 0xdc : 0xd7;
		emit(g, code, d, 0, 0, w[R(g, 3)]);
		return;
	}
	if (kind == 18) { /* movsx */
		int s = pick_s(g);
		static const int o64[] = {8, 16, 32};
		if (is64)
			emit(g, 0xbf, d, s, o64[R(g, 3)], 0);
		else
			emit(g, 0xbc, d, s, R(g, 2) ? 8 : 16, 0);
		g->s.t[d] = T_SCALAR;
		return;
	}
	uint8_t op = alu_ops[R(g, sizeof alu_ops)];
	if (kind == 19)
		op = R(g, 2) ? 0x30 : 0x90; /* signed division, below */
	if (op != 0xb0 && g->s.t[d] != T_SCALAR) {
		emit(g, 0xb7, d, 0, 0, rand_imm(g));
		g->s.t[d] = T_SCALAR;
	}
	int off = (op == 0x30 || op == 0x90) && (kind == 19 || R(g, 3) == 0);
	if (R(g, 2)) { /* K */
		int32_t imm = rand_imm(g);
		if (op == 0x60 || op == 0x70 || op == 0xc0)
			imm &= is64 ? 63 : 31;
		if ((op == 0x30 || op == 0x90) && imm == 0)
			imm = R(g, 2) ? -1 : (int32_t)0x80000000;
		emit(g, (uint8_t)((is64 ? 0x07 : 0x04) | op), d, 0, off, imm);
	} else {
		int s = pick_s(g);
		emit(g, (uint8_t)((is64 ? 0x0f : 0x0c) | op), d, s, off, 0);
	}
	g->s.t[d] = T_SCALAR;
}

static void blk_alu(struct g *g)
{
	uint32_t n = 1 + R(g, 5);
	for (uint32_t i = 0; i < n; i++)
		alu_one(g);
}

static void blk_lddw(struct g *g)
{
	int d = pick_w(g);
	if (d < 0)
		return;
	lddw(g, d, 0, rand_imm64(g));
	g->s.t[d] = T_SCALAR;
}

/* ---- stack ---- */
static const uint8_t sizes[] = {ASH_SZ_B, ASH_SZ_H, ASH_SZ_W, ASH_SZ_DW};
static const int bytes_of[] = {1, 2, 4, 8};

static void blk_stack(struct g *g)
{
	uint32_t n = 1 + R(g, 4);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = R(g, g->slots);
		int init = g->s.stk >> i & 1;
		if (!init || R(g, 3) == 0) { /* store */
			uint32_t z = init ? R(g, 4) : 3;
			int w = bytes_of[z];
			int off = slot_off(i) + w * (int)R(g, (uint32_t)(8 / w));
			if (R(g, 2))
				emit(g, (uint8_t)(0x63 | sizes[z]), 10, pick_s(g),
				     off, 0);
			else
				emit(g, (uint8_t)(0x62 | sizes[z]), 10, 0, off,
				     rand_imm(g));
			g->s.stk |= 1u << i;
		} else { /* load */
			int d = pick_w(g);
			if (d < 0)
				continue;
			uint32_t z = R(g, 4);
			int w = bytes_of[z];
			int off = slot_off(i) + w * (int)R(g, (uint32_t)(8 / w));
			uint8_t code = (uint8_t)(0x61 | sizes[z]);
			if (z < 3 && R(g, 3) == 0)
				code = (uint8_t)(0x81 | sizes[z]); /* ldxsx */
			emit(g, code, d, 10, off, 0);
			g->s.t[d] = T_SCALAR;
		}
	}
}

/* ---- memory access through a pointer register p, bytes [0, room) ---- */
static void mem_ops(struct g *g, int p, uint32_t room, int atomics,
                    int align)
{
	uint32_t n = 1 + R(g, 3);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t z = R(g, 4);
		uint32_t w = (uint32_t)bytes_of[z];
		if (w > room)
			z = 0, w = 1;
		uint32_t off = R(g, room - w + 1);
		if (align)
			off &= ~(w - 1);
		uint32_t what = R(g, atomics ? 5 : 3);
		if (what == 0) {
			int d = pick_w(g);
			if (d < 0)
				continue;
			uint8_t code = (uint8_t)(0x61 | sizes[z]);
			if (z < 3 && R(g, 3) == 0)
				code = (uint8_t)(0x81 | sizes[z]);
			emit(g, code, d, p, (int)off, 0);
			g->s.t[d] = T_SCALAR;
		} else if (what == 1) {
			emit(g, (uint8_t)(0x63 | sizes[z]), p, pick_s(g),
			     (int)off, 0);
		} else if (what == 2) {
			emit(g, (uint8_t)(0x62 | sizes[z]), p, 0, (int)off,
			     rand_imm(g));
		} else { /* atomic, aligned word or double word */
			static const int32_t aops[] = {
				ASH_ATOMIC_ADD, ASH_ATOMIC_OR, ASH_ATOMIC_AND,
				ASH_ATOMIC_XOR, ASH_ATOMIC_ADD | ASH_ATOMIC_FETCH,
				ASH_ATOMIC_OR | ASH_ATOMIC_FETCH,
				ASH_ATOMIC_AND | ASH_ATOMIC_FETCH,
				ASH_ATOMIC_XOR | ASH_ATOMIC_FETCH,
				ASH_ATOMIC_XCHG, ASH_ATOMIC_CMPXCHG,
			};
			int dw = room >= 8 && R(g, 2);
			uint32_t aw = dw ? 8 : 4;
			if (room < aw)
				continue;
			off = R(g, room - aw + 1) & ~(aw - 1);
			int32_t op = aops[R(g, 10)];
			int s;
			if (op == ASH_ATOMIC_CMPXCHG) {
				if (p == 0 || !writable(g, 0))
					continue;
				int c = pick_s(g);
				emit(g, 0xbf, 0, c, 0, 0); /* r0: the expected */
				g->s.t[0] = T_SCALAR;
				s = pick_s(g);
			} else if (op & ASH_ATOMIC_FETCH) {
				s = pick_w(g); /* receives the old value */
				if (s < 0)
					continue;
				if (g->s.t[s] != T_SCALAR)
					emit(g, 0xb7, s, 0, 0, rand_imm(g));
			} else {
				s = pick_s(g);
			}
			emit(g, dw ? 0xdb : 0xc3, p, s, (int)off, op);
			g->s.t[s] = T_SCALAR;
		}
	}
}

/* ---- conditions and control flow ---- */
static const uint8_t jops[] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
                               0x70, 0xa0, 0xb0, 0xc0, 0xd0};

static uint32_t cond_jump(struct g *g)
{
	uint8_t op = jops[R(g, sizeof jops)];
	int j32 = R(g, 3) == 0;
	int d = pick_s(g);
	if (R(g, 2))
		return emit(g, (uint8_t)((j32 ? 0x06 : 0x05) | op), d, 0, 0,
		            rand_imm(g));
	int s = pick_s(g);
	return emit(g, (uint8_t)((j32 ? 0x0e : 0x0d) | op), d, s, 0, 0);
}

static void gen_seq(struct g *g, uint32_t n);

static void blk_if(struct g *g)
{
	uint32_t j = cond_jump(g);
	struct st s0 = g->s;
	g->depth++;
	gen_seq(g, 1 + R(g, 2));
	g->depth--;
	land(g, j);
	meet(&g->s, &s0);
}

static void blk_ifelse(struct g *g)
{
	uint32_t j = cond_jump(g);
	struct st s0 = g->s;
	g->depth++;
	gen_seq(g, 1 + R(g, 2));
	uint32_t e = R(g, 3) ? emit(g, 0x05, 0, 0, 0, 0)
	                     : emit(g, 0x06, 0, 0, 0, 0); /* ja32 */
	struct st s1 = g->s;
	land(g, j);
	g->s = s0;
	gen_seq(g, 1 + R(g, 2));
	g->depth--;
	land(g, e);
	meet(&g->s, &s1);
}

static void blk_loop(struct g *g)
{
	int c = -1;
	int cand[3], n = 0;
	for (int i = 7; i <= 9; i++)
		if (writable(g, i))
			cand[n++] = i;
	if (!n || g->inloop) {
		blk_alu(g);
		return;
	}
	c = cand[R(g, (uint32_t)n)];
	int32_t bound = 1 + (int32_t)R(g, 6);
	uint32_t form = R(g, 4);
	int j32 = R(g, 2);
	emit(g, j32 ? 0xb4 : 0xb7, c, 0, 0, form < 2 ? 0 : bound);
	g->s.t[c] = T_SCALAR;
	for (int i = 0; i <= 5; i++)
		g->s.t[i] = T_NONE;
	uint32_t head = g->n;
	g->reserved |= (uint16_t)(1u << c);
	g->inloop = 1;
	gen_seq(g, 1 + R(g, 3));
	g->inloop = 0;
	g->reserved &= (uint16_t)~(1u << c);
	uint8_t cls = j32 ? 0x06 : 0x05;
	if (form < 2) { /* counting up */
		emit(g, j32 ? 0x04 : 0x07, c, 0, 0, 1);
		uint8_t op = form == 0 ? 0xa0 : 0x50; /* jlt / jne */
		emit(g, (uint8_t)(cls | op), c, 0, (int)head - (int)g->n - 1,
		     bound);
	} else { /* counting down */
		emit(g, j32 ? 0x04 : 0x07, c, 0, 0, -1);
		uint8_t op = form == 2 ? 0x60 : 0x50; /* jsgt / jne */
		emit(g, (uint8_t)(cls | op), c, 0, (int)head - (int)g->n - 1,
		     0);
	}
}

/* ---- packet ---- */
static void pkt_access(struct g *g, int a, uint32_t room)
{
	mem_ops(g, a, room, 0, 0);
}

/* data (or data_meta) in a, its end in b, a checked range of `room`
 * bytes, accesses on the good side and work on the other. */
static void blk_pkt(struct g *g, int meta)
{
	uint32_t used = 0;
	int v = -1;
	if (!meta && R(g, 3) == 0) { /* a variable offset, bounded */
		int s = pick_s(g);
		v = pick_tmp(g, 0);
		if (v < 0)
			return;
		emit(g, 0xbf, v, s, 0, 0);
		emit(g, 0x57, v, 0, 0, R(g, 2) ? 63 : 255);
		g->s.t[v] = T_SCALAR;
		used |= 1u << v;
	}
	int a = pick_tmp(g, used);
	if (a < 0)
		return;
	used |= 1u << a;
	int b = pick_tmp(g, used);
	if (b < 0)
		return;
	used |= 1u << b;
	int c = pick_tmp(g, used);
	if (c < 0)
		return;
	emit(g, 0x61, a, 6, meta ? ASH_CTX_DATA_META : ASH_CTX_DATA, 0);
	emit(g, 0x61, b, 6, meta ? ASH_CTX_DATA : ASH_CTX_DATA_END, 0);
	g->s.t[a] = g->s.t[b] = T_PTR;
	if (v >= 0) {
		emit(g, 0x0f, a, v, 0, 0);
	}
	uint32_t room = 1 + R(g, meta ? 16 : 64);
	emit(g, 0xbf, c, a, 0, 0);
	emit(g, 0x07, c, 0, 0, (int32_t)room);
	g->s.t[c] = T_PTR;
	struct st s0;
	uint32_t form = R(g, 4);
	if (form < 2) { /* out of range: skip (or do the other work) */
		uint32_t j = form == 0 ? emit(g, 0x2d, c, b, 0, 0)  /* jgt */
		                       : emit(g, 0xad, b, c, 0, 0); /* jlt */
		s0 = g->s;
		pkt_access(g, a, room);
		if (R(g, 2)) {
			uint32_t e = emit(g, 0x05, 0, 0, 0, 0);
			struct st s1 = g->s;
			land(g, j);
			g->s = s0;
			blk_alu(g);
			land(g, e);
			meet(&g->s, &s1);
		} else {
			land(g, j);
			meet(&g->s, &s0);
		}
	} else { /* in range: jump to the accesses */
		uint32_t j = form == 2 ? emit(g, 0xbd, c, b, 0, 0)  /* jle */
		                       : emit(g, 0x3d, b, c, 0, 0); /* jge */
		s0 = g->s;
		blk_alu(g);
		uint32_t e = emit(g, 0x05, 0, 0, 0, 0);
		struct st s1 = g->s;
		land(g, j);
		g->s = s0;
		pkt_access(g, a, room);
		land(g, e);
		meet(&g->s, &s1);
	}
	forget_ptrs(g);
}

/* ---- maps ---- */
static void key_on_stack(struct g *g, uint32_t slot, int tab)
{
	int t = pick_tmp(g, 0);
	if (t >= 0 && R(g, 2)) {
		int s = pick_s(g);
		emit(g, 0xbf, t, s, 0, 0);
		g->s.t[t] = T_SCALAR;
		emit(g, 0x57, t, 0, 0, tab ? 31 : 15);
		emit(g, tab ? 0x7b : 0x63, 10, t, slot_off(slot), 0);
	} else {
		emit(g, tab ? 0x7a : 0x62, 10, 0, slot_off(slot),
		     (int32_t)R(g, tab ? 24 : 10));
	}
	if (tab)
		g->s.stk |= 1u << slot;
}

static void map_ref(struct g *g, int reg, int map)
{
	lddw(g, reg, ASH_PSEUDO_MAP_FD, 0);
	g->ins[g->n - 2].imm = map;
}

static void blk_lookup(struct g *g)
{
	int tab = R(g, 2);
	uint32_t kslot = R(g, g->slots);
	key_on_stack(g, kslot, tab);
	map_ref(g, 1, tab ? PG_MAP_TAB : PG_MAP_ARR);
	emit(g, 0xbf, 2, 10, 0, 0);
	emit(g, 0x07, 2, 0, 0, slot_off(kslot));
	call_helper(g, ASH_H_MAP_LOOKUP);
	after_call(g);
	g->s.t[0] = T_PTR;
	uint32_t j;
	int jne = R(g, 3) == 0;
	if (jne) { /* if r0 != 0 goto +1; ja skip */
		emit(g, 0x55, 0, 0, 1, 0);
		j = emit(g, 0x05, 0, 0, 0, 0);
	} else {
		j = emit(g, 0x15, 0, 0, 0, 0);
	}
	struct st s0 = g->s;
	s0.t[0] = T_NONE;
	int p = 0;
	if (R(g, 3)) {
		p = pick_tmp(g, 0);
		if (p < 0)
			p = 0;
		else {
			emit(g, 0xbf, p, 0, 0, 0);
			g->s.t[p] = T_PTR;
			g->s.t[0] = T_NONE; /* free for cmpxchg */
		}
	}
	uint32_t room = tab ? 16 : 32;
	int t = R(g, 3) == 0 ? pick_tmp(g, 1u << p) : -1;
	if (t >= 0) { /* a variable offset of a multiple of 8, bounded */
		int s = pick_s(g);
		emit(g, 0xbf, t, s, 0, 0);
		emit(g, 0x57, t, 0, 0, tab ? 8 : 24);
		emit(g, 0x0f, p, t, 0, 0);
		g->s.t[t] = T_SCALAR;
		room = 8;
	}
	mem_ops(g, p, room, 1, 1);
	land(g, j);
	meet(&g->s, &s0);
	forget_ptrs(g);
}

static void blk_update(struct g *g)
{
	int tab = R(g, 3) != 0;
	uint32_t vs = tab ? 2 : 4; /* value slots */
	uint32_t vlo = R(g, g->slots - vs + 1);
	uint32_t kslot = R(g, g->slots);
	int del = R(g, 4) == 0;
	if (!del)
		stack_init(g, vlo, vs, R(g, 2));
	key_on_stack(g, kslot, tab);
	map_ref(g, 1, tab ? PG_MAP_TAB : PG_MAP_ARR);
	emit(g, 0xbf, 2, 10, 0, 0);
	emit(g, 0x07, 2, 0, 0, slot_off(kslot));
	if (!del) {
		emit(g, 0xbf, 3, 10, 0, 0);
		emit(g, 0x07, 3, 0, 0, slot_off(vlo + vs - 1));
		uint32_t f = R(g, 16);
		emit(g, 0xb7, 4, 0, 0, f < 5 ? 0 : f < 10 ? 1 : f < 15 ? 2
		                                                      : 4);
	}
	call_helper(g, del ? ASH_H_MAP_DELETE : ASH_H_MAP_UPDATE);
	after_call(g);
}

static void blk_gdata(struct g *g)
{
	int p = pick_tmp(g, 0);
	if (p < 0)
		return;
	uint32_t off = R(g, 8) * 8;
	lddw(g, p, ASH_PSEUDO_MAP_VALUE, 0);
	g->ins[g->n - 2].imm = PG_MAP_DATA;
	g->ins[g->n - 1].imm = (int32_t)off;
	g->s.t[p] = T_PTR;
	mem_ops(g, p, 64 - off, 1, 1);
	forget_ptrs(g);
}

/* A pointer into the caller's stack (subprograms and callbacks). */
static void blk_stkarg(struct g *g)
{
	int p = -1;
	for (int i = 0; i < 10; i++)
		if (g->s.t[i] == T_STK)
			p = i;
	if (p < 0) {
		blk_stack(g);
		return;
	}
	mem_ops(g, p, 8, 1, 1);
}

/* ---- helpers ---- */
static void blk_csum(struct g *g)
{
	uint32_t fsz = R(g, 3) == 0 ? 0 : 1 + R(g, 16);
	uint32_t tsz = 1 + R(g, 24);
	int pkt = g->fn < 0 && R(g, 2);
	uint32_t fslots = (fsz + 7) / 8, tslots = (tsz + 7) / 8;
	uint32_t flo = R(g, g->slots - 2 + 1);
	uint32_t tlo = g->slots - tslots;
	if (fsz)
		stack_init(g, flo, fslots, 0);
	if (!pkt)
		stack_init(g, tlo, tslots, 0);
	int seed = pick_s(g);
	if (seed != 5)
		emit(g, 0xbf, 5, seed, 0, 0);
	g->s.t[5] = T_SCALAR;
	uint32_t skip = ~0u;
	if (pkt) { /* r3 = data, checked for tsz bytes; r4 = data_end */
		emit(g, 0x61, 3, 6, ASH_CTX_DATA, 0);
		emit(g, 0x61, 4, 6, ASH_CTX_DATA_END, 0);
		emit(g, 0xbf, 1, 3, 0, 0);
		emit(g, 0x07, 1, 0, 0, (int32_t)tsz);
		skip = emit(g, 0x2d, 1, 4, 0, 0);
	} else {
		emit(g, 0xbf, 3, 10, 0, 0);
		emit(g, 0x07, 3, 0, 0, slot_off(tlo + tslots - 1));
	}
	if (fsz) {
		emit(g, 0xbf, 1, 10, 0, 0);
		emit(g, 0x07, 1, 0, 0, slot_off(flo + fslots - 1));
	} else {
		emit(g, 0xb7, 1, 0, 0, 0);
	}
	emit(g, 0xb7, 2, 0, 0, (int32_t)fsz);
	emit(g, 0xb7, 4, 0, 0, (int32_t)tsz);
	call_helper(g, ASH_H_CSUM_DIFF);
	struct st s0 = g->s;
	after_call(g);
	if (skip != ~0u) {
		land(g, skip);
		for (int i = 0; i <= 5; i++)
			s0.t[i] = T_NONE;
		s0.t[0] = g->s.t[0] = T_NONE; /* r0 only on one path */
		meet(&g->s, &s0);
	}
	forget_ptrs(g);
}

static void blk_adjust(struct g *g)
{
	static const int32_t deltas[] = {
		-14, 14, -20, 20, -40, 40, -64, 64, -4, 4, -8, 8, -200, 200,
		-256, 256, 1, -1, 0, 2000, -2000, 3000, -3600, 100, -100,
	};
	uint32_t which = R(g, 5);
	uint32_t id = which < 2 ? ASH_H_ADJUST_HEAD
	            : which < 4 ? ASH_H_ADJUST_TAIL : ASH_H_ADJUST_META;
	emit(g, 0xbf, 1, 6, 0, 0);
	g->s.t[1] = T_PTR;
	if (R(g, 4) == 0) { /* a scalar delta in [-32, 31] */
		int s = pick_s(g);
		if (s != 2)
			emit(g, 0xbf, 2, s, 0, 0);
		emit(g, 0x57, 2, 0, 0, 63);
		emit(g, 0x17, 2, 0, 0, 32);
	} else {
		int32_t d = deltas[R(g, sizeof deltas / sizeof deltas[0])];
		if (id == ASH_H_ADJUST_META)
			d = -4 * (int32_t)R(g, 10) + (R(g, 4) == 0 ? 2 : 0);
		emit(g, 0xb7, 2, 0, 0, d);
	}
	call_helper(g, (int32_t)id);
	after_call(g);
}

static void blk_bytes(struct g *g)
{
	int store = R(g, 2);
	uint32_t len = 1 + R(g, 32);
	uint32_t k = (len + 7) / 8;
	uint32_t lo = R(g, g->slots - k + 1);
	stack_init(g, lo, k, 0);
	emit(g, 0xbf, 1, 6, 0, 0);
	g->s.t[1] = T_PTR;
	if (R(g, 3) == 0) {
		int s = pick_s(g);
		if (s != 2)
			emit(g, 0xbf, 2, s, 0, 0);
		emit(g, 0x57, 2, 0, 0, 127);
	} else {
		static const int32_t offs[] = {0, 1, 6, 12, 14, 23, 34, 54,
		                               60, 100, 1500, 3000, 70000};
		emit(g, 0xb7, 2, 0, 0, offs[R(g, sizeof offs / sizeof offs[0])]);
	}
	emit(g, 0xbf, 3, 10, 0, 0);
	emit(g, 0x07, 3, 0, 0, slot_off(lo + k - 1));
	emit(g, 0xb7, 4, 0, 0, (int32_t)len);
	call_helper(g, store ? ASH_H_STORE_BYTES : ASH_H_LOAD_BYTES);
	after_call(g);
}

/* ---- calls ---- */
static int pick_sub(struct g *g, int kind)
{
	int c[MAX_SUBS], n = 0;
	for (uint32_t j = 0; j < g->nsub; j++)
		if ((int)j > g->fn && g->subs[j].kind == kind)
			c[n++] = (int)j;
	return n ? c[R(g, (uint32_t)n)] : -1;
}

static void add_fix(struct g *g, uint32_t at, int sub)
{
	if (g->nfix == MAX_FIX) {
		g->oom = 1;
		return;
	}
	g->fix[g->nfix++] = (struct fix){at, (uint32_t)sub};
	g->subs[sub].refs++;
}

static void blk_call(struct g *g)
{
	int j = pick_sub(g, SUB_PLAIN);
	if (j < 0) {
		blk_alu(g);
		return;
	}
	int slot = g->subs[j].ptrarg ? any_slot(g) : 0;
	int a = pick_s(g), b = pick_s(g);
	emit(g, 0xbf, 1, a, 0, 0);
	g->s.t[1] = T_SCALAR;
	if (R(g, 2))
		emit(g, 0xbf, 2, b, 0, 0);
	else
		emit(g, 0xb7, 2, 0, 0, rand_imm(g));
	if (g->subs[j].ptrarg) {
		emit(g, 0xbf, 3, 10, 0, 0);
		emit(g, 0x07, 3, 0, 0, slot_off((uint32_t)slot));
	}
	add_fix(g, emit(g, 0x85, 0, ASH_PSEUDO_CALL, 0, 0), j);
	after_call(g);
}

static void blk_loop_helper(struct g *g)
{
	int j = pick_sub(g, SUB_CB);
	if (j < 0) {
		blk_alu(g);
		return;
	}
	int slot = g->subs[j].ptrarg ? any_slot(g) : 0;
	if (R(g, 3) == 0) {
		int s = pick_s(g);
		emit(g, 0xbf, 1, s, 0, 0);
		emit(g, 0x57, 1, 0, 0, 7);
	} else {
		emit(g, 0xb7, 1, 0, 0, (int32_t)R(g, 7));
	}
	lddw(g, 2, ASH_PSEUDO_FUNC, 0);
	add_fix(g, g->n - 2, j);
	if (g->subs[j].ptrarg) {
		emit(g, 0xbf, 3, 10, 0, 0);
		emit(g, 0x07, 3, 0, 0, slot_off((uint32_t)slot));
	} else {
		emit(g, 0xb7, 3, 0, 0, 0);
	}
	emit(g, 0xb7, 4, 0, 0, R(g, 12) == 0 ? 1 : 0);
	emit(g, 0x85, 0, 0, 0, ASH_H_LOOP);
	after_call(g);
}

/* ---- blocks ---- */
enum {
	B_ALU, B_LDDW, B_IF, B_IFELSE, B_LOOP, B_STACK, B_PKT, B_META,
	B_LOOKUP, B_UPDATE, B_GDATA, B_STKARG, B_CSUM, B_ADJUST, B_BYTES,
	B_CALL, B_BPFLOOP, B_N
};

static const uint8_t weight[B_N] = {
	[B_ALU] = 14, [B_LDDW] = 2, [B_IF] = 8, [B_IFELSE] = 4, [B_LOOP] = 3,
	[B_STACK] = 6, [B_PKT] = 10, [B_META] = 2, [B_LOOKUP] = 8,
	[B_UPDATE] = 4, [B_GDATA] = 3, [B_STKARG] = 4, [B_CSUM] = 2,
	[B_ADJUST] = 3, [B_BYTES] = 3, [B_CALL] = 3, [B_BPFLOOP] = 2,
};

static int allowed(const struct g *g, int b)
{
	int main = g->fn < 0;
	switch (b) {
	case B_IF: case B_IFELSE:
		return g->depth < 3;
	case B_LOOP:
		return !g->inloop && g->depth < 2;
	case B_PKT: case B_META: case B_ADJUST: case B_BYTES:
		return main;
	case B_CSUM:
		return 1;
	case B_STKARG:
		return !main;
	case B_CALL: case B_BPFLOOP:
		return g->nsub > 0;
	default:
		return 1;
	}
}

static void gen_block(struct g *g)
{
	uint32_t total = 0;
	for (int b = 0; b < B_N; b++)
		if (allowed(g, b))
			total += weight[b];
	uint32_t x = R(g, total);
	int b = 0;
	for (; b < B_N; b++) {
		if (!allowed(g, b))
			continue;
		if (x < weight[b])
			break;
		x -= weight[b];
	}
	switch (b) {
	case B_LDDW: blk_lddw(g); break;
	case B_IF: blk_if(g); break;
	case B_IFELSE: blk_ifelse(g); break;
	case B_LOOP: blk_loop(g); break;
	case B_STACK: blk_stack(g); break;
	case B_PKT: blk_pkt(g, 0); break;
	case B_META: blk_pkt(g, 1); break;
	case B_LOOKUP: blk_lookup(g); break;
	case B_UPDATE: blk_update(g); break;
	case B_GDATA: blk_gdata(g); break;
	case B_STKARG: blk_stkarg(g); break;
	case B_CSUM: blk_csum(g); break;
	case B_ADJUST: blk_adjust(g); break;
	case B_BYTES: blk_bytes(g); break;
	case B_CALL: blk_call(g); break;
	case B_BPFLOOP: blk_loop_helper(g); break;
	default: blk_alu(g); break;
	}
}

static void gen_seq(struct g *g, uint32_t n)
{
	for (uint32_t i = 0; i < n && !g->oom && g->n < MAX_INSNS; i++)
		gen_block(g);
}

/* r0 an XDP action, then exit. */
static void epilogue_xdp(struct g *g)
{
	uint32_t form = R(g, 6);
	if (form == 5 && writable(g, 1) && writable(g, 2)) { /* redirect */
		int s = pick_s(g);
		emit(g, 0xbf, 1, s, 0, 0);
		emit(g, 0xb7, 2, 0, 0, R(g, 8) == 0 ? 1 : 0);
		call_helper(g, ASH_H_REDIRECT);
	} else if (form == 4) {
		emit(g, 0xb7, 0, 0, 0, (int32_t)R(g, 5));
	} else {
		int s = pick_s(g);
		emit(g, R(g, 2) && form != 3 ? 0xbf : 0xbc, 0, s, 0, 0);
		if (form < 2) {
			emit(g, form ? 0x54 : 0x57, 0, 0, 0, 3);
		} else { /* clamp: if r0 <= 4 keep it, else a constant */
			emit(g, form == 2 ? 0xb5 : 0xb6, 0, 0, 1, 4);
			emit(g, 0xb7, 0, 0, 0, (int32_t)R(g, 5));
		}
	}
	emit(g, 0x95, 0, 0, 0, 0);
}

static void gen_main(struct g *g, uint32_t blocks)
{
	g->fn = -1;
	g->slots = MAIN_SLOTS;
	memset(&g->s, 0, sizeof g->s);
	g->s.t[1] = T_CTX;
	emit(g, 0xbf, 6, 1, 0, 0);
	g->s.t[6] = T_CTX;
	g->s.t[1] = T_NONE;
	/* Frame-dependent scalars: the length, a context field, the first
	 * bytes when there are 8. */
	emit(g, 0x61, 2, 6, ASH_CTX_DATA, 0);
	emit(g, 0x61, 7, 6, ASH_CTX_DATA_END, 0);
	emit(g, 0x1f, 7, 2, 0, 0); /* r7 = data_end - data */
	g->s.t[7] = T_SCALAR;
	emit(g, 0x61, 8, 6, R(g, 2) ? ASH_CTX_IFINDEX : ASH_CTX_RXQ, 0);
	g->s.t[8] = T_SCALAR;
	emit(g, 0xb7, 9, 0, 0, rand_imm(g));
	emit(g, 0xbf, 3, 2, 0, 0);
	emit(g, 0x07, 3, 0, 0, 8);
	emit(g, 0x61, 4, 6, ASH_CTX_DATA_END, 0);
	emit(g, 0x2d, 3, 4, 1, 0);
	emit(g, 0x79, 9, 2, 0, 0);
	g->s.t[9] = T_SCALAR;
	for (uint32_t i = 0, n = R(g, 4); i < n; i++)
		slot_store(g, R(g, g->slots));
	gen_seq(g, blocks);
	epilogue_xdp(g);
}

static void gen_sub(struct g *g, uint32_t j)
{
	struct sub *sb = &g->subs[j];
	sb->entry = g->n;
	g->fn = (int)j;
	g->slots = SUB_SLOTS;
	g->depth = 0;
	memset(&g->s, 0, sizeof g->s);
	g->s.t[1] = T_SCALAR;
	if (sb->kind == SUB_PLAIN) {
		g->s.t[2] = T_SCALAR;
		if (sb->ptrarg) {
			emit(g, 0xbf, 6, 3, 0, 0);
			g->s.t[6] = T_STK;
		}
	} else if (sb->ptrarg) {
		emit(g, 0xbf, 6, 2, 0, 0);
		g->s.t[6] = T_STK;
	} else {
		g->s.t[2] = T_SCALAR; /* the constant 0 */
	}
	gen_seq(g, 1 + R(g, 5));
	int s = pick_s(g);
	emit(g, 0xbf, 0, s, 0, 0);
	if (sb->kind == SUB_CB)
		emit(g, 0x57, 0, 0, 0, 1);
	emit(g, 0x95, 0, 0, 0, 0);
}

static const struct ash_map_def pg_maps[PG_NMAPS] = {
	{"arr", ASH_MAP_ARRAY, ASH_MAPK_USER, 4, 32, 8, 0, 0, 0},
	{"tab", ASH_MAP_HASH, ASH_MAPK_USER, 8, 16, 16, 0, 0, 0},
	{".data", ASH_MAP_ARRAY, ASH_MAPK_DATA, 4, 64, 1, 0, 0, 64},
};

int pg_generate(struct pg_rand *r, const struct pg_opts *o,
                struct ash_image *img)
{
	struct g *g = calloc(1, sizeof *g);
	memset(img, 0, sizeof *img);
	if (!g)
		return -1;
	g->r = r;
	uint32_t maxs = o && o->max_subs <= MAX_SUBS ? o->max_subs : MAX_SUBS;
	g->nsub = R(g, maxs + 1);
	for (uint32_t j = 0; j < g->nsub; j++) {
		g->subs[j].kind = R(g, 2) ? SUB_PLAIN : SUB_CB;
		g->subs[j].ptrarg = R(g, 2);
	}
	uint32_t blocks = o && o->blocks ? o->blocks : 3 + R(g, 22);
	gen_main(g, blocks);
	for (uint32_t j = 0; j < g->nsub && !g->oom; j++)
		if (g->subs[j].refs)
			gen_sub(g, j);
	for (uint32_t i = 0; i < g->nfix && !g->oom; i++) {
		struct ash_insn *in = &g->ins[g->fix[i].at];
		in->imm = (int32_t)g->subs[g->fix[i].sub].entry -
		          (int32_t)g->fix[i].at - 1;
	}
	strcpy(img->prog, "progen");
	strcpy(img->section, "xdp");
	img->maps = malloc(sizeof pg_maps);
	img->data = malloc(64);
	if (g->oom || !img->maps || !img->data) {
		free(g->ins);
		free(g);
		pg_free(img);
		return -1;
	}
	memcpy(img->maps, pg_maps, sizeof pg_maps);
	img->nmaps = PG_NMAPS;
	for (int i = 0; i < 64; i += 8) {
		uint64_t v = pg_rand64(r);
		memcpy(img->data + i, &v, 8);
	}
	img->ndata = 64;
	img->insns = g->ins;
	img->ninsns = g->n;
	free(g);
	return 0;
}

void pg_free(struct ash_image *img)
{
	free(img->insns);
	free(img->maps);
	free(img->data);
	memset(img, 0, sizeof *img);
}

/* ---- map comparison ---- */
struct mbuf {
	uint8_t *b;
	size_t n, cap;
	int oom;
};

static void mput(struct mbuf *m, const void *p, size_t n)
{
	if (m->oom)
		return;
	if (m->n + n > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 1024;
		while (nc < m->n + n)
			nc *= 2;
		uint8_t *nb = realloc(m->b, nc);
		if (!nb) {
			m->oom = 1;
			return;
		}
		m->b = nb;
		m->cap = nc;
	}
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static int cmp_rec(const void *a, const void *b, void *n)
{
	return memcmp(a, b, *(size_t *)n);
}

static void rb_rec(void *ctx, const void *rec, uint32_t len)
{
	mput(ctx, &len, sizeof len);
	mput(ctx, rec, len);
}

/* Canonical bytes of map i of p: values by index, sorted key||value
 * records, or the length-prefixed ring-buffer records. */
static void msnap(struct ash_prog *p, uint32_t i, struct mbuf *m)
{
	const struct ash_map_def *d = ash_map_def(p, i);
	uint8_t *key = malloc(d->key_size + 1), *next = malloc(d->key_size + 1);
	uint8_t *val = malloc(d->value_size + 1);
	m->n = 0;
	if (!key || !next || !val) {
		m->oom = 1;
	} else if (d->type == ASH_MAP_RINGBUF) {
		ash_ringbuf_drain(p, i, rb_rec, m);
	} else if (d->type == ASH_MAP_ARRAY ||
	           d->type == ASH_MAP_PERCPU_ARRAY) {
		for (uint32_t k = 0; k < d->max_entries; k++)
			if (ash_map_lookup(p, i, &k, val) == 0)
				mput(m, val, d->value_size);
	} else {
		const void *prev = NULL;
		uint32_t count = 0;
		while (count <= d->max_entries &&
		       ash_map_next_key(p, i, prev, next) == 0) {
			if (ash_map_lookup(p, i, next, val) == 0) {
				mput(m, next, d->key_size);
				mput(m, val, d->value_size);
			}
			memcpy(key, next, d->key_size);
			prev = key;
			count++;
		}
		size_t rec = (size_t)d->key_size + d->value_size;
		if (!m->oom && rec && m->n > rec)
			qsort_r(m->b, m->n / rec, rec, cmp_rec, &rec);
	}
	free(key);
	free(next);
	free(val);
}

int pg_maps_differ(struct ash_prog *a, struct ash_prog *b, char *why,
                   size_t cap)
{
	struct mbuf x = {0}, y = {0};
	int rc = 0;
	for (uint32_t i = 0; i < ash_map_count(a) && !rc; i++) {
		msnap(a, i, &x);
		msnap(b, i, &y);
		if (x.oom || y.oom) {
			rc = -1;
		} else if (x.n != y.n || memcmp(x.b, y.b, x.n)) {
			size_t k = 0;
			while (k < x.n && k < y.n && x.b[k] == y.b[k])
				k++;
			snprintf(why, cap, "map %s: %zu bytes vs %zu, first "
			         "difference at byte %zu", ash_map_def(a, i)->name,
			         x.n, y.n, k);
			rc = 1;
		}
	}
	free(x.b);
	free(y.b);
	return rc;
}
