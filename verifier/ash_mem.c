/*
 * ash_mem.c - memory accesses: LDX, LDXSX, ST, STX and atomics, and the
 * memory arguments of helpers, for every pointer kind.
 *
 *   ctx       loads of 4 bytes at the xdp_md fields only, through the
 *             unmodified pointer; data, data_end, data_meta become
 *             packet pointers; stores and atomics refused
 *   packet    fixed offset >= 0, variable part >= 0 and bounded, and
 *             off + size within the range proven by a comparison with
 *             data_end (data, for metadata); no atomics
 *   stack     constant offset in [-512, 0), naturally aligned; reads of
 *             bytes never written refused; spills (below)
 *   map value whole variable range within value_size; .rodata read-only
 *   mem       (VFY_ASH_CTX_MEM) within mem_size
 *   ringbuf   within the reserved size
 * No pointer is ever stored anywhere but the stack, and there only whole
 * (8 aligned bytes); a spilled pointer is never overwritten in part nor
 * read in part.  Each access slot records its memory kind once.
 */
#include "verifier/ash_int.h"

static const struct ash_insn *insn(struct venv *e, uint32_t pc)
{
	return &e->ins[pc];
}

struct frame *st_top(struct state *st)
{
	return st->f[st->nframes - 1];
}

int set_mem_fact(struct venv *e, uint32_t pc, unsigned kind)
{
	struct vfy_ash_fact *f = &e->res->facts[pc];
	if (f->mem && f->mem != kind)
		return vfy_err(e, pc, "same insn cannot be used with different "
		               "pointers");
	f->mem = (uint8_t)kind;
	return 0;
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

static int not_ptr(struct venv *e, uint32_t pc, unsigned regno,
                   const struct reg *r)
{
	if (r->type == T_NOT_INIT)
		return vfy_err(e, pc, "r%u is not initialised", regno);
	if (r->type == T_STALE)
		return vfy_err(e, pc, "r%u packet pointer invalidated by a "
		               "helper call", regno);
	return vfy_err(e, pc, "r%u invalid memory access through %s", regno,
	               type_name(r->type));
}

/* Bytes [off + var, off + var + size) within [0, lim), for every value
 * of the variable part. */
static int in_bounds(const struct reg *r, int64_t off, uint64_t size,
                     uint64_t lim)
{
	if (r->s.smin + off < 0 || r->s.umax > (1ull << 32) || off < -(1ll << 32))
		return 0;
	return (uint64_t)((int64_t)r->s.umax + off) + size <= lim;
}

static int bound_err(struct venv *e, uint32_t pc, unsigned regno,
                     const struct reg *r, int64_t off, uint64_t size,
                     const char *what, const char *limname, uint64_t lim)
{
	if (sc_is_const(&r->s))
		return vfy_err(e, pc, "r%u %s access off %ld size %lu beyond "
		               "%s %lu", regno, what,
		               (long)(off + (int64_t)r->s.t.v),
		               (unsigned long)size, limname, (unsigned long)lim);
	return vfy_err(e, pc, "r%u %s access off %ld + variable [%ld, %lu] "
	               "size %lu beyond %s %lu", regno, what, (long)off,
	               (long)r->s.smin, (unsigned long)r->s.umax,
	               (unsigned long)size, limname, (unsigned long)lim);
}

static int pkt_check(struct venv *e, uint32_t pc, unsigned regno,
                     const struct reg *r, int64_t ioff, uint64_t size)
{
	int64_t off = r->off + ioff;
	if (r->s.smin < 0)
		return vfy_err(e, pc, "r%u packet pointer variable offset may "
		               "be negative (min %ld)", regno, (long)r->s.smin);
	if (r->s.umax > 0xffff)
		return vfy_err(e, pc, "r%u packet pointer variable offset is "
		               "unbounded (max %lu)", regno,
		               (unsigned long)r->s.umax);
	if (off < 0)
		return vfy_err(e, pc, "r%u packet pointer off %ld is negative",
		               regno, (long)off);
	if (off + (int64_t)size > r->range)
		return vfy_err(e, pc, "r%u packet pointer off %ld + %lu bytes "
		               "beyond proven range %d", regno, (long)off,
		               (unsigned long)size, r->range);
	return 0;
}

/* Stack: the absolute offset (from the frame's r10) of a constant
 * access, after the bounds and alignment checks. */
static int stack_off(struct venv *e, uint32_t pc, unsigned regno,
                     const struct reg *r, int64_t ioff, uint64_t size,
                     int align, int64_t *out)
{
	if (!sc_is_const(&r->s))
		return vfy_err(e, pc, "r%u variable stack access prohibited",
		               regno);
	int64_t off = r->off + ioff + (int64_t)r->s.t.v;
	if (off < -ASH_STACK || off >= 0 || off + (int64_t)size > 0)
		return vfy_err(e, pc, "r%u stack access off %ld size %lu out "
		               "of bounds [-512, 0)", regno, (long)off,
		               (unsigned long)size);
	if (align && size && off % (int64_t)size)
		return vfy_err(e, pc, "r%u misaligned stack access off %ld "
		               "size %lu", regno, (long)off,
		               (unsigned long)size);
	*out = off;
	return 0;
}

static void note_depth(struct venv *e, const struct frame *f, int64_t off)
{
	uint32_t s = e->sub[f->entry];
	if ((uint64_t)-off > e->subdepth[s])
		e->subdepth[s] = (uint32_t)-off;
}

static struct slot *slot_at(struct frame *f, int64_t off, int *k)
{
	uint32_t i = (uint32_t)((-off - 1) / 8);
	*k = (int)(off + (int64_t)(i + 1) * 8);
	return i < f->nslots ? &f->slots[i] : NULL;
}

/* Read size bytes at off of frame f into out. */
static int stack_read(struct venv *e, uint32_t pc, unsigned regno,
                      struct frame *f, int64_t off, unsigned size,
                      struct reg *out)
{
	int k;
	struct slot *s = slot_at(f, off, &k);
	if (size == 8 && s && s->b[0] == SB_SPILL) {
		*out = s->spill;
		return 0;
	}
	int zero = 1;
	for (unsigned j = 0; j < size; j++) {
		s = slot_at(f, off + j, &k);
		uint8_t b = s ? s->b[k] : SB_INVALID;
		if (b == SB_INVALID)
			return vfy_err(e, pc, "invalid read from stack off %ld "
			               "size %u: not initialised", (long)off, size);
		if (b == SB_SPILL && s->spill.type != T_SCALAR)
			return vfy_err(e, pc, "r%u partial read of a spilled %s "
			               "at stack off %ld", regno,
			               type_name(s->spill.type), (long)off);
		if (b != SB_ZERO &&
		    !(b == SB_SPILL && sc_is_const(&s->spill.s) &&
		      !s->spill.s.t.v))
			zero = 0;
	}
	reg_unknown(out);
	if (zero)
		sc_const(&out->s, 0);
	else
		sc_bits(&out->s, size * 8);
	return 0;
}

/* Mark [off, off+size) of f as scalar bytes (zero when zero); a spill
 * partly overwritten keeps its other bytes as scalar bytes, or as
 * invalid ones when it was a pointer (cut ok), else refuses. */
static int stack_scalar(struct venv *e, uint32_t pc, struct frame *f,
                        int64_t off, uint64_t size, int zero, int cut_ok)
{
	if (fr_grow(e, f, (uint32_t)((-off + 7) / 8)) < 0)
		return DPF_ENOMEM;
	for (uint64_t j = 0; j < size; j++) {
		int k;
		struct slot *s = slot_at(f, off + (int64_t)j, &k);
		if (s->b[0] == SB_SPILL) {
			int ptr = s->spill.type != T_SCALAR &&
			          s->spill.type != T_NOT_INIT &&
			          s->spill.type != T_STALE;
			if (ptr && !cut_ok)
				return vfy_err(e, pc, "attempt to corrupt spilled "
				               "%s at stack off %ld",
				               type_name(s->spill.type), (long)off);
			uint8_t fill = ptr ? SB_INVALID : SB_MISC;
			if (!ptr && sc_is_const(&s->spill.s) && !s->spill.s.t.v)
				fill = SB_ZERO;
			for (int b = 0; b < 8; b++)
				s->b[b] = fill;
		}
		s->b[k] = zero ? SB_ZERO : SB_MISC;
	}
	return 0;
}

static int stack_write(struct venv *e, uint32_t pc, struct state *st,
                       unsigned fidx, int64_t off, unsigned size,
                       const struct reg *val, unsigned vregno)
{
	struct frame *f = st->f[fidx];
	if (fr_grow(e, f, (uint32_t)((-off + 7) / 8)) < 0)
		return DPF_ENOMEM;
	if (reg_is_ptr(val)) {
		if (size != 8)
			return vfy_err(e, pc, "r%u partial spill of a pointer",
			               vregno);
		if (val->type == T_STACK && val->frame > fidx)
			return vfy_err(e, pc, "r%u cannot spill a pointer to a "
			               "callee's stack into its caller's", vregno);
	}
	if (size == 8) {
		int k;
		struct slot *s = slot_at(f, off, &k);
		for (int b = 0; b < 8; b++)
			s->b[b] = SB_SPILL;
		s->spill = *val;
		return 0;
	}
	int zero = sc_is_const(&val->s) &&
	           !(val->s.t.v & ((1ull << (size * 8)) - 1));
	return stack_scalar(e, pc, f, off, size, zero, 0);
}

void pkt_invalidate(struct state *st)
{
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int r = 0; r < 11; r++) {
			uint8_t t = f->r[r].type;
			if (t == T_PKT || t == T_PKT_END || t == T_PKT_META) {
				reg_not_init(&f->r[r]);
				f->r[r].type = T_STALE;
			}
		}
		for (uint32_t k = 0; k < f->nslots; k++) {
			struct slot *s = &f->slots[k];
			uint8_t t = s->spill.type;
			if (s->b[0] == SB_SPILL &&
			    (t == T_PKT || t == T_PKT_END || t == T_PKT_META)) {
				reg_not_init(&s->spill);
				s->spill.type = T_STALE;
			}
		}
	}
}

static const char *leak_where(unsigned t)
{
	switch (t) {
	case T_PKT: case T_PKT_META: return "packet";
	case T_MAP_VAL: return "map value";
	case T_MEM: return "memory";
	default: return "ringbuf record";
	}
}

static int ctx_load(struct venv *e, uint32_t pc, unsigned regno,
                    const struct reg *br, unsigned size, int sx,
                    struct reg *out)
{
	const struct ash_insn *in = insn(e, pc);
	if (br->off || !sc_is_const(&br->s) || br->s.t.v)
		return vfy_err(e, pc, "r%u dereference of modified ctx pointer",
		               regno);
	int off = in->off;
	if (sx || size != 4 || off < 0 || off >= ASH_CTX_SIZE || off % 4)
		return vfy_err(e, pc, "r%u invalid ctx access off %d size %u",
		               regno, off, size);
	reg_not_init(out);
	switch (off) {
	case ASH_CTX_DATA: out->type = T_PKT; break;
	case ASH_CTX_DATA_END: out->type = T_PKT_END; break;
	case ASH_CTX_DATA_META: out->type = T_PKT_META; break;
	default:
		reg_unknown(out);
		sc_bits(&out->s, 32);
		break;
	}
	e->res->facts[pc].flags |= VFY_AF_CTX_LOAD;
	e->res->facts[pc].ctx_off = (uint8_t)off;
	return set_mem_fact(e, pc, VFY_MEM_CTX);
}

/* The limit and fact kind of a bounded (non-stack, non-packet) memory
 * pointer, or 0 when r is not one. */
static int flat_mem(struct venv *e, const struct reg *r, uint64_t *lim,
                    unsigned *kind, const char **what)
{
	switch (r->type) {
	case T_MAP_VAL:
		*lim = e->img->maps[r->aux].value_size;
		*kind = VFY_MEM_MAP_VALUE;
		*what = "map value";
		return 1;
	case T_MEM:
		*lim = e->opts->mem_size;
		*kind = VFY_MEM_MEM;
		*what = "memory";
		return 1;
	case T_RB_REC:
		*lim = r->aux;
		*kind = VFY_MEM_RINGBUF;
		*what = "ringbuf record";
		return 1;
	default:
		return 0;
	}
}

static int null_err(struct venv *e, uint32_t pc, unsigned regno,
                    const struct reg *r)
{
	if (r->type == T_MAP_VAL_OR_NULL)
		return vfy_err(e, pc, "r%u map value pointer may be null: check "
		               "it before access", regno);
	return vfy_err(e, pc, "r%u ringbuf record may be null: check it "
	               "before access", regno);
}

static int readonly(struct venv *e, const struct reg *r)
{
	return r->type == T_MAP_VAL &&
	       e->img->maps[r->aux].kind == ASH_MAPK_RODATA;
}

int mem_insn(struct venv *e, struct state *st, uint32_t pc)
{
	const struct ash_insn *in = insn(e, pc);
	enum ash_op_kind k = ash_op_kind(in->code);
	struct frame *f = st_top(st);
	unsigned size = size_of(in->code);
	int load = k == ASH_K_LDX || k == ASH_K_LDXSX;
	int acc = load ? ACC_READ : k == ASH_K_ATOMIC ? ACC_ATOMIC : ACC_WRITE;
	unsigned bregno = load ? in->src : in->dst;
	struct reg *br = &f->r[bregno];
	struct reg val, out;
	unsigned vregno = in->src;
	int rc;

	if (k == ASH_K_ST) {
		reg_scalar(&val, (uint64_t)(int64_t)in->imm);
	} else if (!load) {
		val = f->r[in->src];
		if (val.type == T_NOT_INIT)
			return vfy_err(e, pc, "r%u is not initialised", in->src);
		if (val.type == T_STALE)
			return not_ptr(e, pc, in->src, &val);
		if (acc == ACC_ATOMIC && val.type != T_SCALAR)
			return vfy_err(e, pc, "r%u pointer used as an atomic "
			               "operand", in->src);
		if (acc == ACC_ATOMIC && in->imm == ASH_ATOMIC_CMPXCHG &&
		    f->r[0].type != T_SCALAR)
			return vfy_err(e, pc, "r0 %s used as an atomic operand",
			               type_name(f->r[0].type));
	}
	if (!reg_is_ptr(br))
		return not_ptr(e, pc, bregno, br);
	uint64_t lim;
	unsigned kind;
	const char *what;
	switch (br->type) {
	case T_CTX:
		if (!load)
			return vfy_err(e, pc, "r%u ctx write refused", bregno);
		if ((rc = ctx_load(e, pc, bregno, br, size,
		                   k == ASH_K_LDXSX, &out)) < 0)
			return rc;
		f->r[in->dst] = out;
		return 0;
	case T_PKT:
	case T_PKT_META:
		if (acc == ACC_ATOMIC)
			return vfy_err(e, pc, "r%u atomic access to the packet "
			               "refused", bregno);
		if ((rc = pkt_check(e, pc, bregno, br, in->off, size)) < 0)
			return rc;
		if ((rc = set_mem_fact(e, pc, VFY_MEM_PKT)) < 0)
			return rc;
		if (!load && reg_is_ptr(&val))
			return vfy_err(e, pc, "r%u leaks a pointer into packet",
			               vregno);
		break;
	case T_STACK: {
		int64_t off;
		if ((rc = stack_off(e, pc, bregno, br, in->off, size, 1,
		                    &off)) < 0)
			return rc;
		if ((rc = set_mem_fact(e, pc, VFY_MEM_STACK)) < 0)
			return rc;
		struct frame *sf = st->f[br->frame];
		note_depth(e, sf, off);
		if (load) {
			if ((rc = stack_read(e, pc, in->dst, sf, off, size,
			                     &out)) < 0)
				return rc;
			if (k == ASH_K_LDXSX)
				sc_sext(&out.s, size * 8);
			f->r[in->dst] = out;
			return 0;
		}
		if (acc == ACC_ATOMIC) {
			if ((rc = stack_read(e, pc, in->src, sf, off, size,
			                     &out)) < 0)
				return rc;
			if (out.type != T_SCALAR)
				return vfy_err(e, pc, "r%u atomic operation on a "
				               "spilled %s", bregno,
				               type_name(out.type));
			reg_unknown(&val);
			if (size == 4)
				sc_bits(&val.s, 32);
		}
		if ((rc = stack_write(e, pc, st, br->frame, off, size, &val,
		                      vregno)) < 0)
			return rc;
		break;
	}
	case T_MAP_VAL_OR_NULL:
	case T_RB_REC_OR_NULL:
		return null_err(e, pc, bregno, br);
	default:
		if (!flat_mem(e, br, &lim, &kind, &what))
			return not_ptr(e, pc, bregno, br);
		if (!load && readonly(e, br))
			return vfy_err(e, pc, "r%u write into read-only map '%s'",
			               bregno, e->img->maps[br->aux].name);
		if (!in_bounds(br, (int64_t)br->off + in->off, size, lim))
			return bound_err(e, pc, bregno, br,
			                 (int64_t)br->off + in->off, size, what,
			                 br->type == T_MAP_VAL ? "value_size" :
			                 "size", lim);
		if ((rc = set_mem_fact(e, pc, kind)) < 0)
			return rc;
		if (!load && reg_is_ptr(&val))
			return vfy_err(e, pc, "r%u leaks a pointer into %s",
			               vregno, leak_where(br->type));
		break;
	}
	/* packet, map value, mem, record: scalar contents */
	if (load) {
		reg_unknown(&out);
		sc_bits(&out.s, size * 8);
		if (k == ASH_K_LDXSX)
			sc_sext(&out.s, size * 8);
		f->r[in->dst] = out;
	}
	if (acc == ACC_ATOMIC) {
		int fetch = (in->imm & ASH_ATOMIC_FETCH) != 0;
		if (in->imm == ASH_ATOMIC_CMPXCHG) {
			reg_unknown(&f->r[0]);
			if (size == 4)
				sc_bits(&f->r[0].s, 32);
		} else if (fetch) {
			reg_unknown(&f->r[in->src]);
			if (size == 4)
				sc_bits(&f->r[in->src].s, 32);
		}
	}
	return 0;
}

/* Memory argument of a helper: size bytes at register regno, readable
 * and initialised (write 0), or writable (write 1; uninit: need not be
 * initialised, becomes initialised). */
int mem_region(struct venv *e, struct state *st, uint32_t pc, unsigned regno,
               uint64_t size, int write, int uninit)
{
	struct frame *f = st_top(st);
	struct reg *r = &f->r[regno];
	int rc;
	uint64_t lim;
	unsigned kind;
	const char *what;
	if (!reg_is_ptr(r))
		return vfy_err(e, pc, "r%u %s is not a pointer to memory",
		               regno, type_name(r->type));
	switch (r->type) {
	case T_PKT:
	case T_PKT_META:
		return pkt_check(e, pc, regno, r, 0, size);
	case T_STACK: {
		int64_t off;
		if (!size)
			return 0;
		if ((rc = stack_off(e, pc, regno, r, 0, size, 0, &off)) < 0)
			return rc;
		struct frame *sf = st->f[r->frame];
		note_depth(e, sf, off);
		if (!uninit) {
			for (uint64_t j = 0; j < size; j++) {
				int k;
				struct slot *s = slot_at(sf, off + (int64_t)j, &k);
				uint8_t b = s ? s->b[k] : SB_INVALID;
				if (b == SB_INVALID)
					return vfy_err(e, pc, "invalid read from "
					               "stack off %ld size %lu: not "
					               "initialised", (long)off,
					               (unsigned long)size);
				if (b == SB_SPILL && reg_is_ptr(&s->spill))
					return vfy_err(e, pc, "r%u helper would "
					               "read a spilled %s at stack "
					               "off %ld", regno,
					               type_name(s->spill.type),
					               (long)(off + (int64_t)j));
			}
		}
		if (write)
			return stack_scalar(e, pc, sf, off, size, 0, 1);
		return 0;
	}
	case T_MAP_VAL_OR_NULL:
	case T_RB_REC_OR_NULL:
		return null_err(e, pc, regno, r);
	default:
		if (!flat_mem(e, r, &lim, &kind, &what))
			return vfy_err(e, pc, "r%u %s is not a pointer to memory",
			               regno, type_name(r->type));
		if (write && readonly(e, r))
			return vfy_err(e, pc, "r%u write into read-only map '%s'",
			               regno, e->img->maps[r->aux].name);
		if (!in_bounds(r, r->off, size, lim))
			return bound_err(e, pc, regno, r, r->off, size, what,
			                 r->type == T_MAP_VAL ? "value_size" :
			                 "size", lim);
		return 0;
	}
}
