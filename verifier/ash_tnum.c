/*
 * ash_tnum.c - the known-bits domain of the handler verifier.
 *
 * A tnum (v, m) stands for every 64-bit x with (x & ~m) == v: bits set in
 * m are unknown, the others are those of v.  Invariant: (v & m) == 0.
 * Each operation below returns a tnum containing every result of the
 * concrete operation applied to members of its operands (soundness); the
 * comment on each states the identity it rests on.  The idea is the one
 * of Linux's kernel/bpf/tnum.c; the code is ours.
 */
#include "verifier/ash_int.h"

struct tnum tn_const(uint64_t v)
{
	return (struct tnum){v, 0};
}

struct tnum tn_unknown(void)
{
	return (struct tnum){0, ~0ull};
}

/* The bits above the highest bit where min and max differ are common to
 * every x in [min, max]; the bits below are free. */
struct tnum tn_range(uint64_t min, uint64_t max)
{
	uint64_t chi = min ^ max;
	if (min > max)
		return tn_unknown();
	if (!chi)
		return tn_const(min);
	unsigned bits = 64 - (unsigned)__builtin_clzll(chi);
	if (bits > 63)
		return tn_unknown();
	uint64_t delta = (1ull << bits) - 1;
	return (struct tnum){min & ~delta, delta};
}

/* Sum: the smallest (a.v + b.v) and largest ((a.v|a.m) + (b.v|b.m)) sums
 * differ in every bit a carry may reach; any bit differing there, or
 * unknown in an operand, is unknown. */
struct tnum tn_add(struct tnum a, struct tnum b)
{
	uint64_t sm = a.m + b.m, sv = a.v + b.v;
	uint64_t sigma = sm + sv;
	uint64_t chi = sigma ^ sv;
	uint64_t mu = chi | a.m | b.m;
	return (struct tnum){sv & ~mu, mu};
}

/* Difference: likewise between (a.v - b.v) + a.m and (a.v - b.v) - b.m,
 * the extremes a borrow may reach. */
struct tnum tn_sub(struct tnum a, struct tnum b)
{
	uint64_t dv = a.v - b.v;
	uint64_t alpha = dv + a.m, beta = dv - b.m;
	uint64_t chi = alpha ^ beta;
	uint64_t mu = chi | a.m | b.m;
	return (struct tnum){dv & ~mu, mu};
}

/* A bit of x & y is 1 when known 1 in both, may be 1 when possibly 1 in
 * both. */
struct tnum tn_and(struct tnum a, struct tnum b)
{
	uint64_t alpha = a.v | a.m, beta = b.v | b.m;
	uint64_t v = a.v & b.v;
	return (struct tnum){v, alpha & beta & ~v};
}

/* A bit of x | y is 1 when known 1 in either, unknown when unknown in
 * either and not known 1. */
struct tnum tn_or(struct tnum a, struct tnum b)
{
	uint64_t v = a.v | b.v;
	uint64_t mu = a.m | b.m;
	return (struct tnum){v, mu & ~v};
}

/* A bit of x ^ y is known when known in both. */
struct tnum tn_xor(struct tnum a, struct tnum b)
{
	uint64_t v = a.v ^ b.v;
	uint64_t mu = a.m | b.m;
	return (struct tnum){v & ~mu, mu};
}

/* Product as shift-and-add: x * y = sum over bits i of x of (y << i).
 * Known 1 bits of a add b's unknown part; unknown bits of a add all of
 * b's possible bits as unknown; the known parts multiply exactly. */
struct tnum tn_mul(struct tnum a, struct tnum b)
{
	uint64_t accv = a.v * b.v;
	struct tnum accm = tn_const(0);
	while (a.v || a.m) {
		if (a.v & 1)
			accm = tn_add(accm, (struct tnum){0, b.m});
		else if (a.m & 1)
			accm = tn_add(accm, (struct tnum){0, b.v | b.m});
		a = tn_rsh(a, 1);
		b = tn_lsh(b, 1);
	}
	return tn_add(tn_const(accv), accm);
}

/* Shifts move known and unknown bits alike; vacated bits are known 0
 * (or copies of the sign bit, known exactly when it is). */
struct tnum tn_lsh(struct tnum a, unsigned s)
{
	return (struct tnum){a.v << s, a.m << s};
}

struct tnum tn_rsh(struct tnum a, unsigned s)
{
	return (struct tnum){a.v >> s, a.m >> s};
}

struct tnum tn_arsh(struct tnum a, unsigned s)
{
	return (struct tnum){(uint64_t)((int64_t)a.v >> s),
	                     (uint64_t)((int64_t)a.m >> s)};
}

/* x in both: bits known in either are known (the caller checks they do
 * not conflict, tn_conflict). */
struct tnum tn_meet(struct tnum a, struct tnum b)
{
	uint64_t v = a.v | b.v;
	uint64_t mu = a.m & b.m;
	return (struct tnum){v & ~mu, mu};
}

/* x in either: a bit stays known only when known and equal in both. */
struct tnum tn_join(struct tnum a, struct tnum b)
{
	uint64_t mu = a.m | b.m | (a.v ^ b.v);
	return (struct tnum){a.v & ~mu, mu};
}

/* The low bytes of x (zero-extended). */
struct tnum tn_trunc(struct tnum a, unsigned bytes)
{
	if (bytes >= 8)
		return a;
	uint64_t keep = (1ull << (bytes * 8)) - 1;
	return (struct tnum){a.v & keep, a.m & keep};
}

int tn_conflict(struct tnum a, struct tnum b)
{
	return ((a.v ^ b.v) & ~(a.m | b.m)) != 0;
}

/* b's members are a's: b knows at least a's known bits, equal. */
int tn_in(struct tnum a, struct tnum b)
{
	if (b.m & ~a.m)
		return 0;
	return (b.v & ~a.m) == a.v;
}

int tn_is_const(struct tnum a)
{
	return a.m == 0;
}
