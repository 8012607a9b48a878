/*
 * interp.c - the eBPF interpreter (RFC 9669, v1-v4) and its checked mode.
 *
 * Interface (ash.h): ash_run_xdp runs a program on a frame, ash_run_mem
 * on raw memory (the conformance contract); with ASH_ENGINE_X86 and
 * native code both hand over to native.c at once (ash_native_xdp/mem).  One switch over the kind
 * of each opcode, taken from ops.def, then over the operation bits, as
 * uBPF does.  Registers are uint64_t; pointers in them are real host
 * addresses.  Nothing traps: x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN,
 * INT_MIN%-1 = 0, shift amounts are masked.
 *
 * Calls never recurse in C: subprogram calls and bpf_loop callbacks push
 * a struct ash_frame (the caller's r6-r9 and return pc) on an array of
 * ASH_MAX_CALL_DEPTH frames, each with its own ASH_STACK-byte stack, 16
 * bytes aligned; r10 is the top of the live frame's stack.
 *
 * Facts: a LDX marked VFY_AF_CTX_LOAD reads the xdp_md field ctx_off
 * (data, data_end, data_meta become pointers into the frame); the rest
 * of the verifier's facts are not re-derived here.  The instruction
 * count is checked against the verifier's worst case (ASH_FAULT_BUDGET:
 * a verifier bug).
 *
 * Checked mode (ASH_ENGINE_CHECKED) checks every access, helpers' memory
 * arguments included, against the real objects: the live frames'
 * stacks, the packet [data_meta, data_end) as it is now, the raw memory,
 * map values (array storage, live hash elements), reserved ring-buffer
 * records.  An access outside all of them is a verifier escape
 * (ASH_FAULT_ESCAPE), reported with the instruction and the object it
 * came nearest to.  Stores into .rodata are escapes too.
 */
#include <stdarg.h>

#include "ash/ash_int.h"
#include "ash/ops.def"

#define KIND_ENTRY(code, name, kind) [code] = kind,
static const uint8_t kinds[256] = {ASH_OPS(KIND_ENTRY)};
#undef KIND_ENTRY

int ash_fault(struct ash_run *r, int kind, const char *fmt, ...)
{
	struct ash_result *res = r->res;
	if (res->fault)
		return -1; /* keep the first */
	res->fault = kind;
	res->fault_insn = r->pc;
	r->js.fault = 1;
	va_list ap;
	va_start(ap, fmt);
	ash_vfmt(res->msg, sizeof res->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- checked mode ---- */
enum { OBJ_STACK = 1, OBJ_PKT, OBJ_MEM, OBJ_MAP, OBJ_RB, OBJ_CTX };

struct near {
	int kind;
	uintptr_t lo, hi, origin;
	const char *name;
	uint64_t dist;
	int have;
};

static void consider(struct near *n, int kind, const char *name,
                     uintptr_t lo, uintptr_t hi, uintptr_t origin,
                     uintptr_t a, int want)
{
	if (want && kind != want)
		return;
	uint64_t d = a < lo ? lo - a : (a >= hi ? a - hi + 1 : 0);
	if (n->have && d >= n->dist)
		return;
	*n = (struct near){kind, lo, hi, origin, name, d, 1};
}

static int want_kind(uint8_t mem)
{
	switch (mem) {
	case VFY_MEM_STACK: return OBJ_STACK;
	case VFY_MEM_PKT: return OBJ_PKT;
	case VFY_MEM_CTX: return OBJ_CTX;
	case VFY_MEM_MAP_VALUE: return OBJ_MAP;
	case VFY_MEM_MEM: return OBJ_MEM;
	case VFY_MEM_RINGBUF: return OBJ_RB;
	default: return 0;
	}
}

/* The nearest object to a (of the kind the verifier named, if any). */
static void nearest(struct ash_run *r, uintptr_t a, int want, struct near *n)
{
	n->have = 0;
	for (uint32_t d = 0; d <= r->depth; d++) {
		uintptr_t b = (uintptr_t)ash_stack_base(r, d);
		consider(n, OBJ_STACK, "stack", b, b + ASH_STACK,
		         (uintptr_t)ash_stack_base(r, r->depth) + ASH_STACK, a,
		         want);
	}
	if (r->x) {
		uintptr_t b = (uintptr_t)r->x->buf;
		consider(n, OBJ_PKT, "packet", b + r->x->data_meta,
		         b + r->x->data_end, b + r->x->data, a, want);
		consider(n, OBJ_CTX, "ctx", (uintptr_t)&r->ctx,
		         (uintptr_t)&r->ctx + ASH_CTX_SIZE, (uintptr_t)&r->ctx, a,
		         want);
	} else {
		uintptr_t b = (uintptr_t)r->mem;
		consider(n, OBJ_MEM, "mem", b, b + r->memlen, b, a, want);
	}
	for (uint32_t i = 0; i < r->p->nmaps; i++) {
		struct ash_map *m = &r->p->maps[i];
		uintptr_t lo, hi;
		if (m->def->type == ASH_MAP_RINGBUF) {
			if (ash_rb_nearest(m, a, &lo, &hi))
				consider(n, OBJ_RB, m->def->name, lo, hi, lo, a, want);
		} else if (ash_map_value_nearest(m, a, &lo, &hi)) {
			consider(n, OBJ_MAP, m->def->name, lo, hi, lo, a, want);
		}
	}
}

static int inside(uintptr_t a, uint64_t n, uintptr_t lo, uintptr_t hi)
{
	return a >= lo && a <= hi && n <= hi - a;
}

int ash_check(struct ash_run *r, uint64_t a64, uint64_t n, int store,
              const char *what)
{
	uintptr_t a = (uintptr_t)a64;
	for (uint32_t d = 0; d <= r->depth; d++) {
		uintptr_t b = (uintptr_t)ash_stack_base(r, d);
		if (inside(a, n, b, b + ASH_STACK))
			return 0;
	}
	if (r->x) {
		uintptr_t b = (uintptr_t)r->x->buf;
		if (inside(a, n, b + r->x->data_meta, b + r->x->data_end))
			return 0;
	} else if (inside(a, n, (uintptr_t)r->mem,
	                  (uintptr_t)r->mem + r->memlen)) {
		return 0;
	}
	const char *ro = NULL;
	for (uint32_t i = 0; i < r->p->nmaps; i++) {
		struct ash_map *m = &r->p->maps[i];
		if (m->def->type == ASH_MAP_RINGBUF) {
			if (ash_rb_contains(m, a, n))
				return 0;
		} else if (ash_map_value_contains(m, a, n)) {
			if (!store || m->def->kind != ASH_MAPK_RODATA)
				return 0;
			ro = m->def->name;
		}
	}
	/* Describe the access against the object it came nearest to. */
	char buf[140];
	struct near o;
	const struct vfy_ash_fact *f = &r->p->vres->facts[r->pc];
	nearest(r, a, want_kind(f->mem), &o);
	if (!o.have)
		nearest(r, a, 0, &o);
	if (ro) {
		ash_fmt(buf, sizeof buf, "%s of %llu bytes into read-only map %s",
		        what, (unsigned long long)n, ro);
	} else if (!o.have) {
		ash_fmt(buf, sizeof buf, "%s of %llu bytes at 0x%llx: no object",
		        what, (unsigned long long)n, (unsigned long long)a);
	} else {
		int64_t off = (int64_t)(a - o.origin);
		int64_t lo = (int64_t)(o.lo - o.origin);
		int64_t hi = (int64_t)(o.hi - o.origin);
		const char *pre = o.kind == OBJ_MAP ? "map " :
		                  o.kind == OBJ_RB ? "ringbuf record " : "";
		ash_fmt(buf, sizeof buf, "%s of %llu bytes at %s%s%s%lld "
		        "outside [%lld, %lld)", what, (unsigned long long)n, pre,
		        o.name, off < 0 ? "" : "+", (long long)off, (long long)lo,
		        (long long)hi);
	}
	return ash_fault(r, ASH_FAULT_ESCAPE, "verifier escape at %u: %s", r->pc,
	                 buf);
}

/* ---- memory access ---- */
static uint64_t load(uintptr_t a, unsigned size)
{
	switch (size) {
	case 1: return *(const uint8_t *)a;
	case 2: { uint16_t v; __builtin_memcpy(&v, (const void *)a, 2); return v; }
	case 4: { uint32_t v; __builtin_memcpy(&v, (const void *)a, 4); return v; }
	default: { uint64_t v; __builtin_memcpy(&v, (const void *)a, 8); return v; }
	}
}

static void store(uintptr_t a, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)a = (uint8_t)v; break;
	case 2: { uint16_t w = (uint16_t)v; __builtin_memcpy((void *)a, &w, 2); break; }
	case 4: { uint32_t w = (uint32_t)v; __builtin_memcpy((void *)a, &w, 4); break; }
	default: __builtin_memcpy((void *)a, &v, 8); break;
	}
}

static unsigned size_of(uint8_t code)
{
	switch (ASH_SIZE(code)) {
	case ASH_SZ_B: return 1;
	case ASH_SZ_H: return 2;
	case ASH_SZ_W: return 4;
	default: return 8;
	}
}

/* ---- ALU ---- */
static uint64_t alu64(uint8_t op, uint64_t a, uint64_t b, int16_t off)
{
	switch (op) {
	case 0x00: return a + b;
	case 0x10: return a - b;
	case 0x20: return a * b;
	case 0x30:
		if (off == 1) {
			int64_t x = (int64_t)a, y = (int64_t)b;
			if (y == 0)
				return 0;
			if (y == -1)
				return 0 - a; /* INT64_MIN / -1 = INT64_MIN */
			return (uint64_t)(x / y);
		}
		return b ? a / b : 0;
	case 0x40: return a | b;
	case 0x50: return a & b;
	case 0x60: return a << (b & 63);
	case 0x70: return a >> (b & 63);
	case 0x90:
		if (off == 1) {
			int64_t x = (int64_t)a, y = (int64_t)b;
			if (y == 0)
				return a;
			if (y == -1)
				return 0;
			return (uint64_t)(x % y);
		}
		return b ? a % b : a;
	case 0xa0: return a ^ b;
	case 0xb0:
		switch (off) {
		case 8: return (uint64_t)(int64_t)(int8_t)b;
		case 16: return (uint64_t)(int64_t)(int16_t)b;
		case 32: return (uint64_t)(int64_t)(int32_t)b;
		default: return b;
		}
	case 0xc0: return (uint64_t)((int64_t)a >> (b & 63));
	default: return a;
	}
}

static uint32_t alu32(uint8_t op, uint32_t a, uint32_t b, int16_t off)
{
	switch (op) {
	case 0x00: return a + b;
	case 0x10: return a - b;
	case 0x20: return a * b;
	case 0x30:
		if (off == 1) {
			int32_t x = (int32_t)a, y = (int32_t)b;
			if (y == 0)
				return 0;
			if (y == -1)
				return 0 - a;
			return (uint32_t)(x / y);
		}
		return b ? a / b : 0;
	case 0x40: return a | b;
	case 0x50: return a & b;
	case 0x60: return a << (b & 31);
	case 0x70: return a >> (b & 31);
	case 0x90:
		if (off == 1) {
			int32_t x = (int32_t)a, y = (int32_t)b;
			if (y == 0)
				return a;
			if (y == -1)
				return 0;
			return (uint32_t)(x % y);
		}
		return b ? a % b : a;
	case 0xa0: return a ^ b;
	case 0xb0:
		switch (off) {
		case 8: return (uint32_t)(int32_t)(int8_t)b;
		case 16: return (uint32_t)(int32_t)(int16_t)b;
		default: return b;
		}
	case 0xc0: return (uint32_t)((int32_t)a >> (b & 31));
	default: return a;
	}
}

static uint64_t bswap(uint64_t v, int32_t bits)
{
	switch (bits) {
	case 16: return __builtin_bswap16((uint16_t)v);
	case 32: return __builtin_bswap32((uint32_t)v);
	default: return __builtin_bswap64(v);
	}
}

static uint64_t endian(uint8_t code, uint64_t v, int32_t bits)
{
	if (code == 0xd4) /* to little endian: the host's order */
		return bits == 16 ? (uint16_t)v : bits == 32 ? (uint32_t)v : v;
	return bswap(v, bits); /* 0xdc to big endian; 0xd7 bswap */
}

static int cond(uint8_t op, uint64_t a, uint64_t b, int w32)
{
	if (w32) {
		uint32_t x = (uint32_t)a, y = (uint32_t)b;
		switch (op) {
		case 0x10: return x == y;
		case 0x20: return x > y;
		case 0x30: return x >= y;
		case 0x40: return (x & y) != 0;
		case 0x50: return x != y;
		case 0x60: return (int32_t)x > (int32_t)y;
		case 0x70: return (int32_t)x >= (int32_t)y;
		case 0xa0: return x < y;
		case 0xb0: return x <= y;
		case 0xc0: return (int32_t)x < (int32_t)y;
		case 0xd0: return (int32_t)x <= (int32_t)y;
		default: return 0;
		}
	}
	switch (op) {
	case 0x10: return a == b;
	case 0x20: return a > b;
	case 0x30: return a >= b;
	case 0x40: return (a & b) != 0;
	case 0x50: return a != b;
	case 0x60: return (int64_t)a > (int64_t)b;
	case 0x70: return (int64_t)a >= (int64_t)b;
	case 0xa0: return a < b;
	case 0xb0: return a <= b;
	case 0xc0: return (int64_t)a < (int64_t)b;
	case 0xd0: return (int64_t)a <= (int64_t)b;
	default: return 0;
	}
}

static int atomic(struct ash_run *r, const struct ash_insn *in)
{
	uintptr_t a = (uintptr_t)(r->reg[in->dst] + (uint64_t)(int64_t)in->off);
	unsigned size = in->code == 0xc3 ? 4 : 8;
	if (r->checked && ash_check(r, a, size, 1, "atomic"))
		return -1;
	uint64_t old = load(a, size), v = r->reg[in->src], nv;
	if (size == 4)
		v = (uint32_t)v;
	switch (in->imm & ~ASH_ATOMIC_FETCH) {
	case ASH_ATOMIC_ADD: nv = old + v; break;
	case ASH_ATOMIC_OR: nv = old | v; break;
	case ASH_ATOMIC_AND: nv = old & v; break;
	case ASH_ATOMIC_XOR: nv = old ^ v; break;
	case ASH_ATOMIC_XCHG & ~ASH_ATOMIC_FETCH:
		if (in->imm != ASH_ATOMIC_XCHG)
			goto bad;
		nv = v;
		break;
	case ASH_ATOMIC_CMPXCHG & ~ASH_ATOMIC_FETCH: {
		if (in->imm != ASH_ATOMIC_CMPXCHG)
			goto bad;
		uint64_t expect = size == 4 ? (uint32_t)r->reg[0] : r->reg[0];
		if (old == expect)
			store(a, size, v);
		r->reg[0] = old;
		return 0;
	}
	default:
		goto bad;
	}
	store(a, size, nv);
	if (in->imm & ASH_ATOMIC_FETCH)
		r->reg[in->src] = old;
	return 0;
bad:
	return ash_fault(r, ASH_FAULT_ESCAPE,
	                 "verifier escape at %u: unknown atomic operation 0x%x",
	                 r->pc, (unsigned)in->imm);
}

/* An XDP context load: the field at off of struct xdp_md. */
static uint64_t ctx_field(struct ash_run *r, uint32_t off)
{
	struct ash_xdp *x = r->x;
	switch (off) {
	case ASH_CTX_DATA: return (uint64_t)(uintptr_t)(x->buf + x->data);
	case ASH_CTX_DATA_END: return (uint64_t)(uintptr_t)(x->buf + x->data_end);
	case ASH_CTX_DATA_META:
		return (uint64_t)(uintptr_t)(x->buf + x->data_meta);
	case ASH_CTX_IFINDEX: return r->p->env.ifindex;
	case ASH_CTX_RXQ: return r->p->env.rxq;
	default: return 0;
	}
}

static int escape(struct ash_run *r, const char *what, uint64_t v)
{
	return ash_fault(r, ASH_FAULT_ESCAPE, "verifier escape at %u: %s %llu",
	                 r->pc, what, (unsigned long long)v);
}

static void enter(struct ash_run *r, uint32_t d)
{
	r->reg[10] = (uint64_t)(uintptr_t)(ash_stack_base(r, d) + ASH_STACK);
}

/* Push frame kind for a call from r->pc; 0 or a fault. */
static int push(struct ash_run *r, uint32_t kind)
{
	if (r->depth + 1 >= ASH_MAX_CALL_DEPTH)
		return escape(r, "call depth beyond", ASH_MAX_CALL_DEPTH);
	struct ash_frame *f = &r->fr[++r->depth];
	for (int i = 0; i < 4; i++)
		f->saved[i] = r->reg[6 + i];
	f->ret_pc = r->pc + 1;
	f->kind = kind;
	enter(r, r->depth);
	return 0;
}

static void pop(struct ash_run *r)
{
	struct ash_frame *f = &r->fr[r->depth];
	for (int i = 0; i < 4; i++)
		r->reg[6 + i] = f->saved[i];
	r->depth--;
	enter(r, r->depth);
}

/* Start iteration f->loop_i of a bpf_loop callback. */
static void loop_iter(struct ash_run *r, struct ash_frame *f)
{
	r->reg[1] = f->loop_i;
	r->reg[2] = f->loop_ctx;
	r->reg[3] = r->reg[4] = r->reg[5] = 0;
	enter(r, r->depth);
}

/* bpf_loop(nr_loops, callback, ctx, flags); *next is where to go. */
static int bpf_loop(struct ash_run *r, uint32_t *next)
{
	uint32_t n = (uint32_t)r->reg[1];
	uint64_t fn = r->reg[2];
	*next = r->pc + 1;
	if (r->reg[4]) {
		r->reg[0] = (uint64_t)(int64_t)-ASH_EINVAL;
		return 0;
	}
	if (n > (1u << 23)) {
		r->reg[0] = (uint64_t)(int64_t)-ASH_E2BIG;
		return 0;
	}
	if ((fn & ASH_FUNC_MASK) != ASH_FUNC_TAG ||
	    (fn & ~ASH_FUNC_MASK) >= r->p->img->ninsns) {
		return ash_fault(r, ASH_FAULT_HELPER,
		                 "at %u: bpf_loop callback 0x%llx is no function",
		                 r->pc, (unsigned long long)fn);
	}
	if (n == 0) {
		r->reg[0] = 0;
		return 0;
	}
	if (push(r, ASH_FR_LOOP))
		return -1;
	struct ash_frame *f = &r->fr[r->depth];
	f->loop_i = 0;
	f->loop_n = n;
	f->loop_fn = (uint32_t)(fn & ~ASH_FUNC_MASK);
	f->loop_ctx = r->reg[3];
	loop_iter(r, f);
	*next = f->loop_fn;
	return 0;
}

/* The interpreter proper.  0 at the final exit, -1 on a fault. */
/* A verifier escape inside run(): record it and leave. */
#define ESCAPE(...)                                                          \
	do {                                                                 \
		escape(__VA_ARGS__);                                         \
		goto fault;                                                  \
	} while (0)

static int run(struct ash_run *r)
{
	const struct ash_insn *insns = r->p->img->insns;
	const struct vfy_ash_fact *facts = r->p->vres->facts;
	uint32_t ninsns = r->p->img->ninsns, pc = 0;
	uint64_t budget = r->p->vres->worst_insns, count = 0;
	uint64_t *reg = r->reg;
	int checked = r->checked;

	for (;;) {
		r->pc = pc;
		if (pc >= ninsns)
			ESCAPE(r, "jump out of the program to", pc);
		count++;
		if (budget && count > budget) {
			r->res->insns = count;
			return ash_fault(r, ASH_FAULT_BUDGET,
			                 "instruction budget %llu exceeded at %u",
			                 (unsigned long long)budget, pc);
		}
		const struct ash_insn *in = &insns[pc];
		uint8_t code = in->code, op = ASH_OP(code);
		uint32_t next = pc + 1;
		switch (kinds[code]) {
		case ASH_K_ALU64_K:
			reg[in->dst] = alu64(op, reg[in->dst],
			                     (uint64_t)(int64_t)in->imm, in->off);
			break;
		case ASH_K_ALU64_X:
			reg[in->dst] = alu64(op, reg[in->dst], reg[in->src], in->off);
			break;
		case ASH_K_ALU32_K:
			reg[in->dst] = alu32(op, (uint32_t)reg[in->dst],
			                     (uint32_t)in->imm, in->off);
			break;
		case ASH_K_ALU32_X:
			reg[in->dst] = alu32(op, (uint32_t)reg[in->dst],
			                     (uint32_t)reg[in->src], in->off);
			break;
		case ASH_K_NEG64:
			reg[in->dst] = 0 - reg[in->dst];
			break;
		case ASH_K_NEG32:
			reg[in->dst] = (uint32_t)(0 - (uint32_t)reg[in->dst]);
			break;
		case ASH_K_END:
			reg[in->dst] = endian(code, reg[in->dst], in->imm);
			break;
		case ASH_K_JMP_K:
			if (cond(op, reg[in->dst], (uint64_t)(int64_t)in->imm, 0))
				next = pc + 1 + (int32_t)in->off;
			break;
		case ASH_K_JMP_X:
			if (cond(op, reg[in->dst], reg[in->src], 0))
				next = pc + 1 + (int32_t)in->off;
			break;
		case ASH_K_JMP32_K:
			if (cond(op, reg[in->dst], (uint64_t)(int64_t)in->imm, 1))
				next = pc + 1 + (int32_t)in->off;
			break;
		case ASH_K_JMP32_X:
			if (cond(op, reg[in->dst], reg[in->src], 1))
				next = pc + 1 + (int32_t)in->off;
			break;
		case ASH_K_JA:
			next = pc + 1 + (int32_t)in->off;
			break;
		case ASH_K_JA32:
			next = pc + 1 + (uint32_t)in->imm;
			break;
		case ASH_K_CALL:
		case ASH_K_CALLX: {
			if (code == 0x85 && in->src == ASH_PSEUDO_CALL) {
				if (push(r, ASH_FR_CALL))
					goto fault;
				next = pc + 1 + (uint32_t)in->imm;
				break;
			}
			if (code == 0x85 && in->src != 0)
				ESCAPE(r, "call with src", in->src);
			uint64_t id = code == 0x85 ? (uint32_t)in->imm : reg[in->dst];
			if (id == ASH_H_LOOP) {
				if (bpf_loop(r, &next))
					goto fault;
			} else if (id > 0xffffffffu || ash_call_helper(r, (uint32_t)id)) {
				if (!r->res->fault)
					escape(r, "unknown helper", id);
				goto fault;
			}
			break;
		}
		case ASH_K_EXIT: {
			if (r->depth == 0) {
				r->res->insns = count;
				return 0;
			}
			struct ash_frame *f = &r->fr[r->depth];
			if (f->kind == ASH_FR_LOOP) {
				uint32_t done = f->loop_i + 1;
				if (reg[0] == 0 && done < f->loop_n) {
					f->loop_i = done;
					loop_iter(r, f);
					next = f->loop_fn;
					break;
				}
				next = f->ret_pc;
				pop(r);
				reg[0] = done;
				break;
			}
			next = f->ret_pc;
			pop(r);
			break;
		}
		case ASH_K_LDDW: {
			if (pc + 1 >= ninsns)
				ESCAPE(r, "lddw without its second slot at", pc);
			uint32_t hi = (uint32_t)insns[pc + 1].imm;
			struct ash_map *m = NULL;
			switch (in->src) {
			case 0:
				reg[in->dst] = (uint32_t)in->imm | (uint64_t)hi << 32;
				break;
			case ASH_PSEUDO_MAP_FD:
			case ASH_PSEUDO_MAP_IDX:
			case ASH_PSEUDO_MAP_VALUE:
			case ASH_PSEUDO_MAP_IDX_VALUE:
				if ((uint32_t)in->imm >= r->p->nmaps)
					ESCAPE(r, "lddw of map",
					              (uint32_t)in->imm);
				m = &r->p->maps[in->imm];
				if (in->src == ASH_PSEUDO_MAP_FD ||
				    in->src == ASH_PSEUDO_MAP_IDX) {
					reg[in->dst] = (uint64_t)(uintptr_t)m;
					break;
				}
				if (!ash_map_value0(m))
					ESCAPE(r, "lddw of the value of map",
					              (uint32_t)in->imm);
				reg[in->dst] = (uint64_t)(uintptr_t)(ash_map_value0(m) + hi);
				break;
			case ASH_PSEUDO_FUNC:
				reg[in->dst] = ASH_FUNC_TAG | (pc + 1 + (uint32_t)in->imm);
				break;
			default:
				ESCAPE(r, "lddw with src", in->src);
			}
			next = pc + 2;
			break;
		}
		case ASH_K_LDX:
		case ASH_K_LDXSX: {
			unsigned size = size_of(code);
			uint64_t a = reg[in->src] + (uint64_t)(int64_t)in->off;
			if (facts[pc].flags & VFY_AF_CTX_LOAD) {
				if (!r->x)
					ESCAPE(r, "context load without a context, "
					              "field", facts[pc].ctx_off);
				if (checked && a != (uint64_t)(uintptr_t)&r->ctx +
				                    facts[pc].ctx_off) {
					if (ash_check(r, a, size, 0, "context load"))
						goto fault;
				}
				reg[in->dst] = ctx_field(r, facts[pc].ctx_off);
				break;
			}
			if (checked && ash_check(r, a, size, 0, "load"))
				goto fault;
			uint64_t v = load((uintptr_t)a, size);
			if (kinds[code] == ASH_K_LDXSX)
				v = size == 1 ? (uint64_t)(int64_t)(int8_t)v
				  : size == 2 ? (uint64_t)(int64_t)(int16_t)v
				              : (uint64_t)(int64_t)(int32_t)v;
			reg[in->dst] = v;
			break;
		}
		case ASH_K_ST:
		case ASH_K_STX: {
			unsigned size = size_of(code);
			uint64_t a = reg[in->dst] + (uint64_t)(int64_t)in->off;
			uint64_t v = kinds[code] == ASH_K_ST ? (uint64_t)(int64_t)in->imm
			                                     : reg[in->src];
			if (checked && ash_check(r, a, size, 1, "store"))
				goto fault;
			store((uintptr_t)a, size, v);
			break;
		}
		case ASH_K_ATOMIC:
			if (atomic(r, in))
				goto fault;
			break;
		default:
			ash_fault(r, ASH_FAULT_ESCAPE,
			          "verifier escape at %u: unknown opcode 0x%x", pc,
			          (unsigned)code);
			goto fault;
		}
		pc = next;
	}
fault:
	r->res->insns = count;
	return -1;
}

#undef ESCAPE

static void start(struct ash_run *r, struct ash_prog *p, enum ash_engine eng,
                  struct ash_result *res)
{
	ash_memset(res, 0, sizeof *res);
	ash_memset(r, 0, sizeof *r);
	r->p = p;
	r->res = res;
	r->checked = eng == ASH_ENGINE_CHECKED;
	enter(r, 0);
}

static int finish(struct ash_run *r, int rc)
{
	struct ash_result *res = r->res;
	res->r0 = r->reg[0];
	if (rc) {
		res->action = ASH_XDP_ABORTED;
		return -1;
	}
	res->action = res->r0 <= ASH_XDP_REDIRECT ? (int)res->r0
	                                          : ASH_XDP_ABORTED;
	if (res->action == ASH_XDP_REDIRECT)
		res->redirect_index = r->redirect;
	return 0;
}

int ash_run_xdp(struct ash_prog *p, struct ash_xdp *x, enum ash_engine eng,
                struct ash_result *res)
{
	if (eng == ASH_ENGINE_X86 && p->jit)
		return ash_native_xdp(p, x, res);
	struct ash_run r;
	start(&r, p, eng, res);
	r.x = x;
	r.ctx.f[ASH_CTX_IFINDEX / 4] = p->env.ifindex;
	r.ctx.f[ASH_CTX_RXQ / 4] = p->env.rxq;
	r.reg[1] = (uint64_t)(uintptr_t)&r.ctx;
	return finish(&r, run(&r));
}

int ash_run_mem(struct ash_prog *p, uint8_t *mem, uint32_t len,
                enum ash_engine eng, struct ash_result *res)
{
	if (eng == ASH_ENGINE_X86 && p->jit)
		return ash_native_mem(p, mem, len, res);
	struct ash_run r;
	start(&r, p, eng, res);
	r.mem = mem;
	r.memlen = len;
	r.reg[1] = (uint64_t)(uintptr_t)mem;
	r.reg[2] = len;
	return finish(&r, run(&r));
}
