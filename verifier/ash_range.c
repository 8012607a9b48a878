/*
 * ash_range.c - the scalar domain: a tnum and signed/unsigned bounds on
 * the 64-bit value and on its low 32 bits (struct sc, ash_int.h).
 *
 * The five components describe one set of values (their intersection);
 * sc_sync() propagates what each one implies into the others until they
 * agree (tnum -> bounds, signed <-> unsigned when a range stays within one
 * sign half, 64 -> 32 bits when the upper halves agree, and back), and
 * reports an empty set.  The ALU transfer folds constants exactly with
 * RFC 9669 semantics (x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN, shift
 * amounts masked) and otherwise over-approximates.  32-bit operations are
 * computed on zero- (or, for signed div/mod and arsh, sign-) extended
 * operands and truncated: the low 32 bits of add, sub, mul, and, or, xor,
 * lsh only depend on the low 32 bits of the operands.
 */
#include "verifier/ash_int.h"

#define SIGN64 (1ull << 63)
#define HI32 0xffffffff00000000ull
#define LO32 0xffffffffull

static int64_t smax64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t smin64(int64_t a, int64_t b) { return a < b ? a : b; }
static uint64_t umax64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t umin64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void full32(struct sc *s)
{
	s->s32min = INT32_MIN;
	s->s32max = INT32_MAX;
	s->u32min = 0;
	s->u32max = UINT32_MAX;
}

static void full64(struct sc *s)
{
	s->smin = INT64_MIN;
	s->smax = INT64_MAX;
	s->umin = 0;
	s->umax = UINT64_MAX;
}

void sc_unknown(struct sc *s)
{
	s->t = tn_unknown();
	full64(s);
	full32(s);
}

void sc_const(struct sc *s, uint64_t v)
{
	s->t = tn_const(v);
	s->smin = s->smax = (int64_t)v;
	s->umin = s->umax = v;
	s->s32min = s->s32max = (int32_t)(uint32_t)v;
	s->u32min = s->u32max = (uint32_t)v;
}

void sc_bits(struct sc *s, unsigned bits)
{
	sc_unknown(s);
	if (bits >= 64)
		return;
	uint64_t mask = (1ull << bits) - 1;
	s->t = (struct tnum){0, mask};
	s->umax = mask;
	sc_sync(s);
}

int sc_is_const(const struct sc *s)
{
	return tn_is_const(s->t);
}

/* One round of propagation; -1 when the set is empty. */
static int sync_once(struct sc *s)
{
	struct tnum t = s->t;
	/* tnum -> 64-bit bounds */
	s->umin = umax64(s->umin, t.v);
	s->umax = umin64(s->umax, t.v | t.m);
	if (t.m & SIGN64) {
		s->smin = smax64(s->smin, (int64_t)(t.v | SIGN64));
		s->smax = smin64(s->smax, (int64_t)((t.v | t.m) & ~SIGN64));
	} else {
		s->smin = smax64(s->smin, (int64_t)t.v);
		s->smax = smin64(s->smax, (int64_t)(t.v | t.m));
	}
	/* a range inside one sign half reads the same both ways */
	if (s->smin >= 0 || s->smax < 0) {
		s->umin = umax64(s->umin, (uint64_t)s->smin);
		s->umax = umin64(s->umax, (uint64_t)s->smax);
	}
	if ((s->umin >> 63) == (s->umax >> 63)) {
		s->smin = smax64(s->smin, (int64_t)s->umin);
		s->smax = smin64(s->smax, (int64_t)s->umax);
	}
	if (s->umin > s->umax || s->smin > s->smax)
		return -1;
	struct tnum r = tn_range(s->umin, s->umax);
	if (tn_conflict(s->t, r))
		return -1;
	s->t = tn_meet(s->t, r);
	if (s->smin >= 0 || s->smax < 0) {
		r = tn_range((uint64_t)s->smin, (uint64_t)s->smax);
		if (tn_conflict(s->t, r))
			return -1;
		s->t = tn_meet(s->t, r);
	}
	/* tnum and 64-bit bounds -> 32-bit bounds */
	t = s->t;
	uint32_t lv = (uint32_t)t.v, lm = (uint32_t)t.m;
	s->u32min = s->u32min > lv ? s->u32min : lv;
	s->u32max = s->u32max < (lv | lm) ? s->u32max : (lv | lm);
	if (lm & 0x80000000u) {
		int32_t lo = (int32_t)(lv | 0x80000000u);
		int32_t hi = (int32_t)((lv | lm) & 0x7fffffffu);
		s->s32min = s->s32min > lo ? s->s32min : lo;
		s->s32max = s->s32max < hi ? s->s32max : hi;
	} else {
		int32_t lo = (int32_t)lv, hi = (int32_t)(lv | lm);
		s->s32min = s->s32min > lo ? s->s32min : lo;
		s->s32max = s->s32max < hi ? s->s32max : hi;
	}
	if ((s->umin >> 32) == (s->umax >> 32)) {
		uint32_t lo = (uint32_t)s->umin, hi = (uint32_t)s->umax;
		s->u32min = s->u32min > lo ? s->u32min : lo;
		s->u32max = s->u32max < hi ? s->u32max : hi;
	}
	if ((s->smin >> 32) == (s->smax >> 32) &&
	    (int32_t)s->smin <= (int32_t)s->smax) {
		int32_t lo = (int32_t)s->smin, hi = (int32_t)s->smax;
		s->s32min = s->s32min > lo ? s->s32min : lo;
		s->s32max = s->s32max < hi ? s->s32max : hi;
	}
	if (s->s32min >= 0 || s->s32max < 0) {
		uint32_t lo = (uint32_t)s->s32min, hi = (uint32_t)s->s32max;
		s->u32min = s->u32min > lo ? s->u32min : lo;
		s->u32max = s->u32max < hi ? s->u32max : hi;
	}
	if ((s->u32min >> 31) == (s->u32max >> 31)) {
		int32_t lo = (int32_t)s->u32min, hi = (int32_t)s->u32max;
		s->s32min = s->s32min > lo ? s->s32min : lo;
		s->s32max = s->s32max < hi ? s->s32max : hi;
	}
	if (s->u32min > s->u32max || s->s32min > s->s32max)
		return -1;
	/* 32-bit bounds -> the tnum's low half, and the 64-bit bounds when
	 * the upper half is known */
	r = tn_range(s->u32min, s->u32max);
	r.m |= HI32;
	if (tn_conflict(s->t, r))
		return -1;
	s->t = tn_meet(s->t, r);
	if (!(s->t.m & HI32)) {
		uint64_t hi = s->t.v & HI32;
		s->umin = umax64(s->umin, hi | s->u32min);
		s->umax = umin64(s->umax, hi | s->u32max);
		if (s->umin > s->umax)
			return -1;
	}
	return 0;
}

int sc_sync(struct sc *s)
{
	if (sync_once(s) < 0 || sync_once(s) < 0)
		return -1;
	return 0;
}

int sc_leq(const struct sc *a, const struct sc *b)
{
	return tn_in(b->t, a->t) && a->umin >= b->umin &&
	       a->umax <= b->umax && a->smin >= b->smin &&
	       a->smax <= b->smax && a->u32min >= b->u32min &&
	       a->u32max <= b->u32max && a->s32min >= b->s32min &&
	       a->s32max <= b->s32max;
}

int sc_eq(const struct sc *a, const struct sc *b)
{
	return sc_leq(a, b) && sc_leq(b, a);
}

void sc_trunc(struct sc *s, unsigned bits)
{
	if (bits >= 64)
		return;
	uint64_t mask = (1ull << bits) - 1;
	if (s->umax <= mask)
		return;
	struct sc n;
	sc_unknown(&n);
	n.t = tn_trunc(s->t, bits / 8);
	n.umax = mask;
	if (bits == 32) { /* the low half's bounds survive */
		n.u32min = s->u32min;
		n.u32max = s->u32max;
		n.s32min = s->s32min;
		n.s32max = s->s32max;
		n.umin = s->u32min;
		n.umax = s->u32max;
	}
	*s = n;
	sc_sync(s);
}

void sc_sext(struct sc *s, unsigned bits)
{
	if (bits >= 64)
		return;
	uint64_t half = 1ull << (bits - 1), mask = (1ull << bits) - 1;
	if (bits == 32 && s->umax > mask) {
		/* use the 32-bit signed bounds of the low half */
		struct sc n;
		sc_unknown(&n);
		struct tnum lt = tn_trunc(s->t, 4);
		if (lt.m & 0x80000000u)
			lt.m |= HI32;
		else if (lt.v & 0x80000000u)
			lt.v |= HI32;
		n.t = lt;
		n.smin = s->s32min;
		n.smax = s->s32max;
		n.s32min = s->s32min;
		n.s32max = s->s32max;
		n.u32min = s->u32min;
		n.u32max = s->u32max;
		*s = n;
		sc_sync(s);
		return;
	}
	sc_trunc(s, bits);
	if (s->umax < half)
		return;
	struct sc n;
	sc_unknown(&n);
	if (s->umin >= half) {
		n.smin = (int64_t)s->umin - (int64_t)(mask + 1);
		n.smax = (int64_t)s->umax - (int64_t)(mask + 1);
		n.t = s->t;
		n.t.v |= ~mask;
	} else {
		n.smin = -(int64_t)half;
		n.smax = (int64_t)half - 1;
		n.t = s->t;
		n.t.m |= ~mask;
	}
	*s = n;
	sc_sync(s);
}

/* ---- constant folding: the concrete semantics ---- */
static uint64_t bswap(uint64_t v, unsigned bits)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < bits / 8; i++)
		r = (r << 8) | ((v >> (8 * i)) & 0xff);
	return r;
}

static uint64_t fold(uint64_t a, uint64_t b, unsigned op, int sgn, int is32)
{
	unsigned sm = is32 ? 31 : 63;
	switch (op) {
	case 0x00: return a + b;
	case 0x10: return a - b;
	case 0x20: return a * b;
	case 0x40: return a | b;
	case 0x50: return a & b;
	case 0xa0: return a ^ b;
	case 0x60: return a << (b & sm);
	case 0x70: return a >> (b & sm);
	case 0xc0: return (uint64_t)((int64_t)a >> (b & sm));
	case 0x30:
		if (!b)
			return 0;
		if (!sgn)
			return a / b;
		if ((int64_t)b == -1)
			return 0 - a;
		return (uint64_t)((int64_t)a / (int64_t)b);
	case 0x90:
		if (!b)
			return a;
		if (!sgn)
			return a % b;
		if ((int64_t)b == -1)
			return 0;
		return (uint64_t)((int64_t)a % (int64_t)b);
	default:
		return 0;
	}
}

/* d = d op b on 64-bit values; d and b are synchronised scalars. */
static void alu64(struct sc *d, const struct sc *b, unsigned op, int sgn,
                  unsigned sm)
{
	struct sc r;
	sc_unknown(&r);
	switch (op) {
	case 0x00: { /* add */
		r.t = tn_add(d->t, b->t);
		uint64_t lo, hi;
		if (!__builtin_add_overflow(d->umin, b->umin, &lo) &&
		    !__builtin_add_overflow(d->umax, b->umax, &hi)) {
			r.umin = lo;
			r.umax = hi;
		}
		int64_t slo, shi;
		if (!__builtin_add_overflow(d->smin, b->smin, &slo) &&
		    !__builtin_add_overflow(d->smax, b->smax, &shi)) {
			r.smin = slo;
			r.smax = shi;
		}
		break;
	}
	case 0x10: { /* sub */
		r.t = tn_sub(d->t, b->t);
		if (d->umin >= b->umax) {
			r.umin = d->umin - b->umax;
			r.umax = d->umax - b->umin;
		}
		int64_t slo, shi;
		if (!__builtin_sub_overflow(d->smin, b->smax, &slo) &&
		    !__builtin_sub_overflow(d->smax, b->smin, &shi)) {
			r.smin = slo;
			r.smax = shi;
		}
		break;
	}
	case 0x20: { /* mul */
		r.t = tn_mul(d->t, b->t);
		uint64_t hi;
		if (!__builtin_mul_overflow(d->umax, b->umax, &hi)) {
			r.umin = d->umin * b->umin;
			r.umax = hi;
		}
		break;
	}
	case 0x50: /* and */
		r.t = tn_and(d->t, b->t);
		r.umax = umin64(d->umax, b->umax);
		break;
	case 0x40: /* or */
		r.t = tn_or(d->t, b->t);
		r.umin = umax64(d->umin, b->umin);
		break;
	case 0xa0: /* xor */
		r.t = tn_xor(d->t, b->t);
		break;
	case 0x60: /* lsh */
		if (sc_is_const(b)) {
			unsigned s = (unsigned)(b->t.v & sm);
			r.t = tn_lsh(d->t, s);
			if (!s || d->umax < (1ull << (64 - s))) {
				r.umin = d->umin << s;
				r.umax = d->umax << s;
			}
		}
		break;
	case 0x70: /* rsh */
		if (sc_is_const(b)) {
			unsigned s = (unsigned)(b->t.v & sm);
			r.t = tn_rsh(d->t, s);
			r.umin = d->umin >> s;
			r.umax = d->umax >> s;
		} else {
			r.umax = d->umax;
		}
		break;
	case 0xc0: /* arsh */
		if (sc_is_const(b)) {
			unsigned s = (unsigned)(b->t.v & sm);
			r.t = tn_arsh(d->t, s);
			r.smin = d->smin >> s;
			r.smax = d->smax >> s;
		} else {
			r.smin = d->smin < 0 ? d->smin : 0;
			r.smax = d->smax >= 0 ? d->smax : -1;
		}
		break;
	case 0x30: /* div */
		if (sgn)
			break;
		if (sc_is_const(b) && b->t.v) {
			r.umin = d->umin / b->t.v;
			r.umax = d->umax / b->t.v;
		} else {
			r.umax = d->umax; /* x / y <= x, x / 0 = 0 */
		}
		break;
	case 0x90: /* mod */
		if (sgn)
			break;
		r.umax = d->umax; /* x % y <= x, x % 0 = x */
		if (sc_is_const(b) && b->t.v)
			r.umax = umin64(d->umax, b->t.v - 1);
		break;
	default:
		break;
	}
	if (sc_sync(&r) < 0) /* cannot happen for sound inputs */
		sc_unknown(&r);
	*d = r;
}

void sc_alu(struct sc *d, const struct sc *b0, unsigned op, int sgn, int is32)
{
	struct sc b = *b0;
	if (is32) {
		if ((op == 0x30 || op == 0x90) && sgn) {
			sc_sext(d, 32);
			sc_sext(&b, 32);
		} else if (op == 0xc0) {
			sc_sext(d, 32);
			sc_trunc(&b, 32);
		} else {
			sc_trunc(d, 32);
			sc_trunc(&b, 32);
		}
	}
	if (sc_is_const(d) && sc_is_const(&b)) {
		uint64_t a = d->t.v, v = b.t.v;
		if (is32 && (op == 0xc0))
			a = (uint64_t)(int64_t)(int32_t)(uint32_t)a;
		sc_const(d, fold(a, v, op, sgn, is32));
	} else {
		alu64(d, &b, op, sgn, is32 ? 31 : 63);
	}
	if (is32)
		sc_trunc(d, 32);
}

void sc_bswap(struct sc *d, unsigned bits, int swap)
{
	if (!swap) {
		sc_trunc(d, bits);
		return;
	}
	if (sc_is_const(d))
		sc_const(d, bswap(d->t.v, bits));
	else
		sc_bits(d, bits);
}

/* ---- branches ---- */
unsigned op_negate(unsigned op)
{
	switch (op) {
	case 0x10: return 0x50;
	case 0x50: return 0x10;
	case 0x20: return 0xb0;
	case 0xb0: return 0x20;
	case 0x30: return 0xa0;
	case 0xa0: return 0x30;
	case 0x60: return 0xd0;
	case 0xd0: return 0x60;
	case 0x70: return 0xc0;
	case 0xc0: return 0x70;
	case 0x40: return OP_NSET;
	default: return 0x40;
	}
}

static int refine64(struct sc *a, struct sc *b, unsigned op)
{
	switch (op) {
	case 0x10: /* jeq: both become the intersection */
		if (tn_conflict(a->t, b->t))
			return -1;
		a->t = b->t = tn_meet(a->t, b->t);
		a->umin = b->umin = umax64(a->umin, b->umin);
		a->umax = b->umax = umin64(a->umax, b->umax);
		a->smin = b->smin = smax64(a->smin, b->smin);
		a->smax = b->smax = smin64(a->smax, b->smax);
		break;
	case 0x50: /* jne: trim a constant off an end */
		for (int k = 0; k < 2; k++) {
			struct sc *x = k ? b : a, *c = k ? a : b;
			if (!sc_is_const(c))
				continue;
			uint64_t v = c->t.v;
			if (sc_is_const(x) && x->t.v == v)
				return -1;
			if (x->umin == v)
				x->umin++;
			if (x->umax == v)
				x->umax--;
			if (x->smin == (int64_t)v)
				x->smin++;
			if (x->smax == (int64_t)v)
				x->smax--;
		}
		break;
	case 0x20: /* a > b */
		if (b->umin == UINT64_MAX || a->umax == 0)
			return -1;
		a->umin = umax64(a->umin, b->umin + 1);
		b->umax = umin64(b->umax, a->umax - 1);
		break;
	case 0x30: /* a >= b */
		a->umin = umax64(a->umin, b->umin);
		b->umax = umin64(b->umax, a->umax);
		break;
	case 0xa0: return refine64(b, a, 0x20);
	case 0xb0: return refine64(b, a, 0x30);
	case 0x60: /* a s> b */
		if (b->smin == INT64_MAX || a->smax == INT64_MIN)
			return -1;
		a->smin = smax64(a->smin, b->smin + 1);
		b->smax = smin64(b->smax, a->smax - 1);
		break;
	case 0x70:
		a->smin = smax64(a->smin, b->smin);
		b->smax = smin64(b->smax, a->smax);
		break;
	case 0xc0: return refine64(b, a, 0x60);
	case 0xd0: return refine64(b, a, 0x70);
	case 0x40: /* (a & b) != 0 */
		if (sc_is_const(b)) {
			uint64_t c = b->t.v;
			if (!((a->t.v | a->t.m) & c))
				return -1;
			if (c && !(c & (c - 1))) {
				a->t.v |= c;
				a->t.m &= ~c;
			}
		} else if (sc_is_const(a) && !((b->t.v | b->t.m) & a->t.v)) {
			return -1;
		}
		break;
	case OP_NSET: /* (a & b) == 0 */
		if (sc_is_const(b)) {
			uint64_t c = b->t.v;
			if (a->t.v & c)
				return -1;
			a->t.m &= ~c;
		} else if (sc_is_const(a) && (b->t.v & a->t.v)) {
			return -1;
		}
		break;
	default:
		break;
	}
	if (sc_sync(a) < 0 || sc_sync(b) < 0)
		return -1;
	return 0;
}

/* The low half of a as a 64-bit scalar: zero-extended (unsigned
 * compares, eq, jset) or sign-extended (signed compares). */
static void proj32(struct sc *p, const struct sc *a, int sgn)
{
	sc_unknown(p);
	struct tnum lt = tn_trunc(a->t, 4);
	if (sgn) {
		if (lt.m & 0x80000000u)
			lt.m |= HI32;
		else if (lt.v & 0x80000000u)
			lt.v |= HI32;
		p->smin = a->s32min;
		p->smax = a->s32max;
	} else {
		p->umin = a->u32min;
		p->umax = a->u32max;
	}
	p->t = lt;
	p->s32min = a->s32min;
	p->s32max = a->s32max;
	p->u32min = a->u32min;
	p->u32max = a->u32max;
	sc_sync(p);
}

static int back32(struct sc *a, const struct sc *p, int sgn)
{
	struct tnum lt = {p->t.v & LO32, (p->t.m & LO32) | HI32};
	if (tn_conflict(a->t, lt))
		return -1;
	a->t = tn_meet(a->t, lt);
	if (sgn) {
		if (p->smin > a->s32min)
			a->s32min = (int32_t)p->smin;
		if (p->smax < a->s32max)
			a->s32max = (int32_t)p->smax;
	} else {
		if (p->umin > a->u32min)
			a->u32min = (uint32_t)p->umin;
		if (p->umax < a->u32max)
			a->u32max = (uint32_t)p->umax;
	}
	return sc_sync(a);
}

int sc_refine(struct sc *a, struct sc *b, unsigned op, int is32)
{
	if (!is32)
		return refine64(a, b, op);
	int sgn = op == 0x60 || op == 0x70 || op == 0xc0 || op == 0xd0;
	struct sc pa, pb;
	proj32(&pa, a, sgn);
	proj32(&pb, b, sgn);
	if (refine64(&pa, &pb, op) < 0)
		return -1;
	if (back32(a, &pa, sgn) < 0 || back32(b, &pb, sgn) < 0)
		return -1;
	return 0;
}
