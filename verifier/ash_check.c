/*
 * ash_check.c - vfy_ash: the transfer function for ALU instructions and
 * jumps (one switch per class, by the ops.def kinds), and the exploration
 * of every path.
 *
 * Exploration is depth first with an explicit stack of pending paths: at
 * a conditional jump whose both sides are feasible the taken side is
 * pushed.  At prune points (jump targets, subprogram entries, the slot
 * after a call; ash_cfg.c) the current state is compared with the
 * checkpoints already there: one that is complete (every path below it
 * explored) and covers the state (st_leq) ends the path; one still on
 * the current path and equal to it is an infinite loop.  Otherwise the
 * state becomes a new checkpoint.  Loops are thus unrolled until their
 * states repeat or fall under a complete checkpoint, within the budget of
 * processed instructions.
 *
 * Worst-case bound: each checkpoint learns the largest weighted count of
 * instructions from it to an exit over the paths below it (a pruned path
 * adds the covering checkpoint's own bound); when complete it passes its
 * distance from its parent plus that bound up.  The bound of the virtual
 * root is res->worst_insns.
 */
#include "verifier/ash_int.h"

/* ---- support ---- */
int vfy_fail(struct venv *e, uint32_t insn)
{
	e->res->err_insn = insn;
	return DPF_EINVAL;
}

void *vfy_alloc(struct venv *e, size_t size)
{
	if (!size)
		size = 1;
	void *p = e->host->alloc(e->host->ctx, size);
	if (!p)
		e->nomem = 1;
	return p;
}

void vfy_free(struct venv *e, void *p, size_t size)
{
	if (p)
		e->host->free(e->host->ctx, p, size ? size : 1);
}

int vfy_grow(struct venv *e, void **arr, uint32_t *cap, uint32_t need,
             size_t elem)
{
	if (need <= *cap)
		return 0;
	uint32_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *n = vfy_alloc(e, nc * elem);
	if (!n)
		return DPF_ENOMEM;
	if (*cap)
		dpf_memcpy(n, *arr, *cap * elem);
	vfy_free(e, *arr, *cap * elem);
	*arr = n;
	*cap = nc;
	return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static int read_err(struct venv *e, uint32_t pc, unsigned regno,
                    const struct reg *r)
{
	if (r->type == T_STALE)
		return vfy_err(e, pc, "r%u packet pointer invalidated by a "
		               "helper call", regno);
	return vfy_err(e, pc, "r%u is not initialised", regno);
}

static int readable(const struct reg *r)
{
	return r->type != T_NOT_INIT && r->type != T_STALE;
}

/* ---- ALU ---- */
static int ptr_add(struct venv *e, uint32_t pc, unsigned regno,
                   struct reg *ptr, const struct reg *s, int neg)
{
	switch (ptr->type) {
	case T_PKT: case T_PKT_META: case T_MAP_VAL: case T_STACK:
	case T_MEM: case T_RB_REC: case T_CTX:
		break;
	default:
		return vfy_err(e, pc, "r%u pointer arithmetic on %s prohibited",
		               regno, type_name(ptr->type));
	}
	if (sc_is_const(&s->s)) {
		int64_t v = (int64_t)s->s.t.v;
		if (v > (1 << 29) || v < -(1 << 29))
			return vfy_err(e, pc, "r%u pointer offset change %ld out "
			               "of range", regno, (long)v);
		int64_t off = ptr->off + (neg ? -v : v);
		if (off > (1 << 29) || off < -(1 << 29))
			return vfy_err(e, pc, "r%u pointer offset %ld out of "
			               "range", regno, (long)off);
		ptr->off = (int32_t)off;
		return 0;
	}
	if (ptr->type == T_CTX)
		return vfy_err(e, pc, "r%u variable offset on ctx pointer "
		               "prohibited", regno);
	sc_alu(&ptr->s, &s->s, neg ? 0x10 : 0x00, 0, 0);
	if (ptr->type == T_PKT || ptr->type == T_PKT_META) {
		ptr->id = ++e->next_id;
		ptr->range = 0;
	}
	return 0;
}

static int is_pkt(unsigned t)
{
	return t == T_PKT || t == T_PKT_END || t == T_PKT_META;
}

static int alu_insn(struct venv *e, struct state *st, uint32_t pc)
{
	const struct ash_insn *in = &e->ins[pc];
	enum ash_op_kind k = ash_op_kind(in->code);
	unsigned op = ASH_OP(in->code);
	int is32 = k == ASH_K_ALU32_K || k == ASH_K_ALU32_X || k == ASH_K_NEG32;
	int x = k == ASH_K_ALU32_X || k == ASH_K_ALU64_X;
	struct frame *f = st_top(st);
	struct reg *d = &f->r[in->dst];
	struct reg b;
	if (x) {
		b = f->r[in->src];
		if (!readable(&b))
			return read_err(e, pc, in->src, &b);
	} else {
		reg_scalar(&b, is32 ? (uint32_t)in->imm :
		                      (uint64_t)(int64_t)in->imm);
	}
	if (k == ASH_K_END || k == ASH_K_NEG32 || k == ASH_K_NEG64) {
		if (!readable(d))
			return read_err(e, pc, in->dst, d);
		if (d->type != T_SCALAR)
			return vfy_err(e, pc, "r%u pointer arithmetic with %s "
			               "operator prohibited", in->dst,
			               ash_op_name(in->code));
		d->id = 0;
		if (k == ASH_K_END) {
			sc_bswap(&d->s, (unsigned)in->imm, in->code != 0xd4);
		} else {
			struct sc z;
			sc_const(&z, 0);
			sc_alu(&z, &d->s, 0x10, 0, is32);
			d->s = z;
		}
		return 0;
	}
	if (op == 0xb0) { /* mov, movsx */
		if (reg_is_ptr(&b)) {
			if (is32 || in->off)
				return vfy_err(e, pc, "r%u partial copy of a "
				               "pointer", in->src);
			*d = b;
			return 0;
		}
		if (x && !is32 && !in->off && b.type == T_SCALAR) {
			/* a plain copy: both registers share an id, and a
			 * jump narrowing one narrows the other */
			if (!b.id)
				b.id = f->r[in->src].id = ++e->next_id;
			*d = b;
			return 0;
		}
		*d = b;
		d->id = 0;
		if (in->off)
			sc_sext(&d->s, (unsigned)in->off);
		if (is32)
			sc_trunc(&d->s, 32);
		return 0;
	}
	if (!readable(d))
		return read_err(e, pc, in->dst, d);
	if (d->type == T_SCALAR && b.type == T_SCALAR) {
		sc_alu(&d->s, &b.s, op, in->off == 1, is32);
		d->id = 0;
		return 0;
	}
	unsigned preg = reg_is_ptr(d) ? in->dst : in->src;
	if (is32)
		return vfy_err(e, pc, "r%u 32-bit pointer arithmetic "
		               "prohibited", preg);
	if (op == 0x00) {
		if (reg_is_ptr(d) && reg_is_ptr(&b))
			return vfy_err(e, pc, "r%u pointer arithmetic between "
			               "two pointers prohibited", in->dst);
		if (reg_is_ptr(d))
			return ptr_add(e, pc, in->dst, d, &b, 0);
		struct reg sc = *d;
		*d = b;
		return ptr_add(e, pc, in->src, d, &sc, 0);
	}
	if (op == 0x10) {
		if (!reg_is_ptr(d))
			return vfy_err(e, pc, "r%u tried to subtract pointer "
			               "from scalar", in->dst);
		if (reg_is_ptr(&b)) {
			if (!is_pkt(d->type) || !is_pkt(b.type))
				return vfy_err(e, pc, "r%u pointer subtraction "
				               "of %s from %s prohibited",
				               in->dst, type_name(b.type),
				               type_name(d->type));
			reg_unknown(d);
			return 0;
		}
		return ptr_add(e, pc, in->dst, d, &b, 1);
	}
	return vfy_err(e, pc, "r%u pointer arithmetic with %s operator "
	               "prohibited", preg, ash_op_name(in->code));
}

static int lddw_insn(struct venv *e, struct state *st, uint32_t pc)
{
	const struct ash_insn *in = &e->ins[pc];
	struct reg *d = &st_top(st)->r[in->dst];
	uint32_t imm2 = (uint32_t)e->ins[pc + 1].imm;
	reg_not_init(d);
	switch (in->src) {
	case 0:
		reg_scalar(d, (uint64_t)(uint32_t)in->imm | (uint64_t)imm2 << 32);
		break;
	case ASH_PSEUDO_MAP_FD: case ASH_PSEUDO_MAP_IDX:
		d->type = T_MAP_PTR;
		d->aux = (uint32_t)in->imm;
		break;
	case ASH_PSEUDO_MAP_VALUE: case ASH_PSEUDO_MAP_IDX_VALUE:
		d->type = T_MAP_VAL;
		d->aux = (uint32_t)in->imm;
		d->off = (int32_t)imm2;
		break;
	default: /* ASH_PSEUDO_FUNC */
		d->type = T_FUNC;
		d->aux = pc + (uint32_t)in->imm + 1;
		e->res->facts[d->aux].flags |= VFY_AF_FUNC;
		break;
	}
	return 0;
}

/* ---- jumps ---- */
static int push(struct venv *e, struct path *p, struct state *st,
                uint32_t pc)
{
	if (vfy_grow(e, (void **)&e->pend, &e->cappend, e->npend + 1,
	             sizeof *e->pend) < 0) {
		st_free(e, st);
		return DPF_ENOMEM;
	}
	p->cp->branches++;
	e->pend[e->npend++] = (struct path){st, p->cp, p->cnt, pc, p->jmps};
	return 0;
}

static void set_range(struct reg *r, void *ctx)
{
	const struct reg *p = ctx;
	if (r->type == p->type && r->id == p->id && r->range < p->off)
		r->range = p->off;
}

/* The packet pointer p is proven <= its end: every copy of its base gets
 * range p->off. */
static void good_pkt(struct state *st, const struct reg *p)
{
	if (p->off <= 0 || p->s.smin < 0 || p->s.umax > 0xffff ||
	    p->off > 0xffff)
		return;
	struct reg key = *p;
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int r = 0; r < 11; r++)
			set_range(&f->r[r], &key);
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slots[k].b[0] == SB_SPILL)
				set_range(&f->slots[k].spill, &key);
	}
}

struct nullctx {
	uint32_t id;
	int null;
};

static void set_null(struct reg *r, void *ctx)
{
	const struct nullctx *c = ctx;
	if (r->id != c->id)
		return;
	if (r->type == T_MAP_VAL_OR_NULL) {
		if (c->null) {
			reg_scalar(r, 0);
		} else {
			r->type = T_MAP_VAL;
			r->id = 0;
		}
	} else if (r->type == T_RB_REC_OR_NULL) {
		if (c->null)
			reg_scalar(r, 0);
		else
			r->type = T_RB_REC;
	}
}

static void mark_null(struct state *st, uint32_t id, int null)
{
	struct nullctx c = {id, null};
	int rec = 0;
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int r = 0; r < 11; r++) {
			if (f->r[r].type == T_RB_REC_OR_NULL && f->r[r].id == id)
				rec = 1;
			set_null(&f->r[r], &c);
		}
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slots[k].b[0] == SB_SPILL) {
				if (f->slots[k].spill.type == T_RB_REC_OR_NULL &&
				    f->slots[k].spill.id == id)
					rec = 1;
				set_null(&f->slots[k].spill, &c);
			}
	}
	if (rec && null)
		release_ref(st, id);
}

/* Jumps on pointers: null checks and packet bounds, as Linux allows
 * them.  *taken and *fall get the two states (either may be freed and
 * set NULL when infeasible). */
static int ptr_jump(struct venv *e, uint32_t pc, struct state **taken,
                    struct state **fall)
{
	const struct ash_insn *in = &e->ins[pc];
	enum ash_op_kind k = ash_op_kind(in->code);
	unsigned op = ASH_OP(in->code);
	int x = k == ASH_K_JMP_X || k == ASH_K_JMP32_X;
	struct frame *f = st_top(*fall);
	const struct reg *a = &f->r[in->dst];
	const struct reg *b = x ? &f->r[in->src] : NULL;
	unsigned preg = reg_is_ptr(a) ? in->dst : in->src;
	int is32 = k == ASH_K_JMP32_K || k == ASH_K_JMP32_X;
	int zero = x ? (b->type == T_SCALAR && sc_is_const(&b->s) &&
	                !b->s.t.v)
	             : in->imm == 0;
	if (is32)
		return vfy_err(e, pc, "r%u pointer comparison prohibited", preg);
	if ((op == 0x10 || op == 0x50) && reg_is_ptr(a) && zero) {
		int null_taken = op == 0x10; /* jeq: taken means null */
		if (a->type == T_MAP_VAL_OR_NULL || a->type == T_RB_REC_OR_NULL) {
			uint32_t id = a->id;
			mark_null(*taken, id, null_taken);
			mark_null(*fall, id, !null_taken);
			return 0;
		}
		/* a non-null pointer is never 0: the caller frees the side */
		if (null_taken)
			*taken = NULL;
		else
			*fall = NULL;
		return 0;
	}
	if (x && reg_is_ptr(a) && reg_is_ptr(b) &&
	    (op == 0x20 || op == 0x30 || op == 0xa0 || op == 0xb0)) {
		const struct reg *p = NULL, *end = NULL;
		int a_is_p = 0;
		if (a->type == T_PKT && b->type == T_PKT_END) {
			p = a; end = b; a_is_p = 1;
		} else if (b->type == T_PKT && a->type == T_PKT_END) {
			p = b; end = a;
		} else if (a->type == T_PKT_META && b->type == T_PKT) {
			p = a; end = b; a_is_p = 1;
		} else if (b->type == T_PKT_META && a->type == T_PKT) {
			p = b; end = a;
		}
		if (p && (end->type == T_PKT_END ||
		          (!end->off && sc_is_const(&end->s) && !end->s.t.v))) {
			/* where p <= end holds: jgt/jge not taken, jlt/jle
			 * taken (a is p); the reverse when a is end */
			int lower = op == 0xa0 || op == 0xb0;
			struct state *good = (lower == a_is_p) ? *taken : *fall;
			struct reg pc_copy = *p;
			good_pkt(good, &pc_copy);
			return 0;
		}
	}
	return vfy_err(e, pc, "r%u pointer comparison prohibited", preg);
}

/* Every scalar copy of id (registers and spills, all frames) takes s:
 * they hold the same value. */
static void link_set(struct state *st, uint32_t id, const struct sc *s)
{
	if (!id)
		return;
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int r = 0; r < 11; r++)
			if (f->r[r].type == T_SCALAR && f->r[r].id == id)
				f->r[r].s = *s;
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slots[k].b[0] == SB_SPILL &&
			    f->slots[k].spill.type == T_SCALAR &&
			    f->slots[k].spill.id == id)
				f->slots[k].spill.s = *s;
	}
}

/* Returns 0 with p->pc advanced, or pushes the taken side. *dead is set
 * when no side is feasible. */
static int jmp_insn(struct venv *e, struct path *p, int *dead)
{
	uint32_t pc = p->pc;
	const struct ash_insn *in = &e->ins[pc];
	enum ash_op_kind k = ash_op_kind(in->code);
	if (k == ASH_K_JA) {
		p->pc = pc + (uint32_t)(int32_t)in->off + 1;
		return 0;
	}
	if (k == ASH_K_JA32) {
		p->pc = pc + (uint32_t)in->imm + 1;
		return 0;
	}
	unsigned op = ASH_OP(in->code);
	int x = k == ASH_K_JMP_X || k == ASH_K_JMP32_X;
	int is32 = k == ASH_K_JMP32_K || k == ASH_K_JMP32_X;
	uint32_t tgt = pc + (uint32_t)(int32_t)in->off + 1;
	struct frame *f = st_top(p->st);
	struct reg *a = &f->r[in->dst];
	struct reg bk, *b = &bk;
	if (!readable(a))
		return read_err(e, pc, in->dst, a);
	if (x) {
		b = &f->r[in->src];
		if (!readable(b))
			return read_err(e, pc, in->src, b);
	} else {
		reg_scalar(&bk, is32 ? (uint32_t)in->imm :
		                       (uint64_t)(int64_t)in->imm);
	}
	struct state *taken = NULL, *fall = p->st;
	if (a->type == T_SCALAR && b->type == T_SCALAR) {
		struct sc at = a->s, bt = b->s, af = a->s, bf = b->s;
		int ok_t = sc_refine(&at, &bt, op, is32) == 0;
		int ok_f = sc_refine(&af, &bf, op_negate(op), is32) == 0;
		if (ok_t) {
			taken = ok_f ? st_copy(e, p->st) : p->st;
			if (!taken)
				return DPF_ENOMEM;
			struct frame *tf = st_top(taken);
			tf->r[in->dst].s = at;
			link_set(taken, tf->r[in->dst].id, &at);
			if (x) {
				tf->r[in->src].s = bt;
				link_set(taken, tf->r[in->src].id, &bt);
			}
		}
		if (ok_f) {
			a->s = af;
			link_set(p->st, a->id, &af);
			if (x) {
				b->s = bf;
				link_set(p->st, b->id, &bf);
			}
		} else {
			fall = NULL;
		}
	} else {
		struct state *copy = st_copy(e, p->st);
		if (!copy)
			return DPF_ENOMEM;
		taken = copy;
		int rc = ptr_jump(e, pc, &taken, &fall);
		if (rc < 0 || !taken)
			st_free(e, copy);
		if (rc < 0)
			return rc;
	}
	e->res->facts[pc].flags |= (uint8_t)((taken ? VFY_AF_TAKEN : 0) |
	                                     (fall ? VFY_AF_FALLS : 0));
	if (!taken && !fall) {
		*dead = 1; /* the caller frees p->st */
		return 0;
	}
	if (taken && fall) {
		p->pc = pc + 1;
		return push(e, p, taken, tgt);
	}
	if (taken) {
		if (taken != p->st) {
			st_free(e, p->st);
			p->st = taken;
		}
		p->pc = tgt;
		return 0;
	}
	p->pc = pc + 1;
	return 0;
}

/* ---- constants for the engines (vfy.h: VFY_AK_*) ---- */

/* The first path through pc sets k[i] (or MIXED when it brings no
 * constant); a later one with another value, or none, makes it MIXED
 * for good.  Pruned paths need no visit: every execution from a pruned
 * state is one from the completed checkpoint that covers it, whose
 * paths were recorded. */
void set_k_fact(struct venv *e, uint32_t pc, unsigned i, const struct reg *r)
{
	struct vfy_ash_fact *f = &e->res->facts[pc];
	uint8_t have = i ? VFY_AK_1 : VFY_AK_0;
	uint8_t mixed = (uint8_t)(have << 1);
	if (f->kflags & mixed)
		return;
	if (r->type != T_SCALAR || !sc_is_const(&r->s) ||
	    ((f->kflags & have) && f->k[i] != r->s.t.v)) {
		f->kflags = (uint8_t)((f->kflags & ~have) | mixed);
		return;
	}
	f->kflags |= have;
	f->k[i] = r->s.t.v;
}

/* The operands a slot reads, before it runs. */
static void k_before(struct venv *e, struct state *st, uint32_t pc)
{
	const struct ash_insn *in = &e->ins[pc];
	const struct frame *f = st_top(st);
	switch (ash_op_kind(in->code)) {
	case ASH_K_ALU32_X: case ASH_K_ALU64_X: case ASH_K_STX:
		set_k_fact(e, pc, 0, &f->r[in->src]);
		break;
	case ASH_K_JMP_X: case ASH_K_JMP32_X:
		set_k_fact(e, pc, 0, &f->r[in->src]);
		set_k_fact(e, pc, 1, &f->r[in->dst]);
		break;
	case ASH_K_JMP_K: case ASH_K_JMP32_K:
		set_k_fact(e, pc, 1, &f->r[in->dst]);
		break;
	default:
		break;
	}
}

/* The register a slot writes, after it ran (st: the path's state). */
static void k_after(struct venv *e, struct state *st, uint32_t pc)
{
	const struct ash_insn *in = &e->ins[pc];
	switch (ash_op_kind(in->code)) {
	case ASH_K_ALU32_K: case ASH_K_ALU32_X: case ASH_K_ALU64_K:
	case ASH_K_ALU64_X: case ASH_K_NEG32: case ASH_K_NEG64:
	case ASH_K_END: case ASH_K_LDX: case ASH_K_LDXSX:
		set_k_fact(e, pc, 1, &st_top(st)->r[in->dst]);
		break;
	default:
		break;
	}
}

/* ---- exploration ---- */
static void path_end(struct venv *e, struct ckpt *c, uint64_t v)
{
	if (v > c->worst)
		c->worst = v;
	for (;;) {
		if (--c->branches)
			return;
		c->done = 1;
		struct ckpt *parent = c->parent;
		if (parent) { /* now usable for pruning */
			c->next = e->list[c->insn];
			e->list[c->insn] = c;
		}
		if (!parent)
			return;
		uint64_t w = sat_add(c->dist, c->worst);
		if (w > parent->worst)
			parent->worst = w;
		c = parent;
	}
}

static int is_ancestor(const struct ckpt *c, const struct ckpt *of)
{
	for (; of; of = of->parent)
		if (of == c)
			return 1;
	return 0;
}

/* At a prune point: end the path (*pruned) or make it a checkpoint. */
static int checkpoint(struct venv *e, struct path *p, int *pruned)
{
	uint32_t pc = p->pc;
	/* forget dead registers of the running frame (ash_cfg.c) */
	struct frame *top = st_top(p->st);
	for (int r = 0; r < 10; r++)
		if (!(e->live[pc] & (1u << r)))
			reg_not_init(&top->r[r]);
	st_clear_lone_ids(p->st);
	uint32_t h = st_hash(p->st);
	for (struct ckpt *c = e->list[pc]; c; c = c->next)
		if (st_leq(p->st, c->st, 0)) {
			path_end(e, p->cp, sat_add(p->cnt, c->worst));
			*pruned = 1;
			return 0;
		}
	uint32_t b = (h ^ pc * 2654435761u) & e->hmask;
	for (struct ckpt *c = e->htab[b]; c; c = c->hnext)
		if (!c->done && c->insn == pc && c->hash == h &&
		    st_leq(p->st, c->st, 1) && is_ancestor(c, p->cp))
			return vfy_err(e, pc, "infinite loop detected at insn %u",
			               pc);
	/* a loop head passed often: checkpoint only now and then (pruning
	 * and loop detection still happen at the ones made) */
	if ((e->prune[pc] & 2) && e->visits[pc] >= 32 && p->jmps < 16 &&
	    p->cnt < 64)
		return 0;
	struct ckpt *c = vfy_alloc(e, sizeof *c);
	if (!c || vfy_grow(e, (void **)&e->cps, &e->capcps, e->ncps + 1,
	                   sizeof *e->cps) < 0) {
		vfy_free(e, c, sizeof *c);
		return DPF_ENOMEM;
	}
	dpf_memset(c, 0, sizeof *c);
	e->cps[e->ncps++] = c;
	c->st = st_copy(e, p->st);
	if (!c->st)
		return DPF_ENOMEM;
	c->parent = p->cp;
	c->dist = p->cnt;
	c->branches = 1;
	c->insn = pc;
	c->hash = h;
	c->hnext = e->htab[b];
	e->htab[b] = c;
	e->visits[pc]++;
	p->cp = c;
	p->cnt = 0;
	p->jmps = 0;
	return 0;
}

static int step(struct venv *e, struct path *p, int *done)
{
	uint32_t pc = p->pc;
	switch (ash_op_kind(e->ins[pc].code)) {
	case ASH_K_ALU32_K: case ASH_K_ALU32_X: case ASH_K_ALU64_K:
	case ASH_K_ALU64_X: case ASH_K_NEG32: case ASH_K_NEG64:
	case ASH_K_END:
		p->pc = pc + 1;
		return alu_insn(e, p->st, pc);
	case ASH_K_JMP_K: case ASH_K_JMP_X: case ASH_K_JMP32_K:
	case ASH_K_JMP32_X: case ASH_K_JA: case ASH_K_JA32:
		return jmp_insn(e, p, done);
	case ASH_K_CALL: case ASH_K_CALLX:
		return call_insn(e, p);
	case ASH_K_EXIT:
		return exit_insn(e, p, done);
	case ASH_K_LDDW:
		p->pc = pc + 2;
		return lddw_insn(e, p->st, pc);
	case ASH_K_LDX: case ASH_K_LDXSX: case ASH_K_ST: case ASH_K_STX:
	case ASH_K_ATOMIC:
		p->pc = pc + 1;
		return mem_insn(e, p->st, pc);
	default:
		return vfy_err(e, pc, "unknown opcode 0x%02x", e->ins[pc].code);
	}
}

static struct state *entry_state(struct venv *e)
{
	struct state *st = st_new(e);
	struct frame *f = st ? fr_new(e) : NULL;
	if (!f) {
		st_free(e, st);
		return NULL;
	}
	st->f[0] = f;
	st->nframes = 1;
	for (int r = 0; r < 11; r++)
		reg_not_init(&f->r[r]);
	if (e->opts->ctx == VFY_ASH_CTX_MEM) {
		f->r[1].type = T_MEM;
		reg_scalar(&f->r[2], e->opts->mem_size);
	} else {
		f->r[1].type = T_CTX;
	}
	f->r[10].type = T_STACK;
	return st;
}

static int explore(struct venv *e)
{
	struct path *p = &e->cur;
	p->st = entry_state(e);
	if (!p->st)
		return DPF_ENOMEM;
	p->cp = &e->root;
	p->cnt = 0;
	p->pc = 0;
	p->jmps = 0;
	e->root.branches = 1;
	for (;;) {
		int done = 0, rc;
		if (e->prune[p->pc]) {
			if ((rc = checkpoint(e, p, &done)) < 0)
				return rc;
		}
		if (!done) {
			if (++e->res->processed > e->budget) {
				vfy_err(e, p->pc, "program too complex: more than "
				        "%lu instructions processed",
				        (unsigned long)e->budget);
				return DPF_ELIMIT;
			}
			uint32_t pc = p->pc;
			p->cnt = sat_add(p->cnt, st_top(p->st)->weight);
			if ((e->ins[pc].code & 7) == 5 || (e->ins[pc].code & 7) == 6)
				p->jmps++;
			e->res->facts[pc].flags |= VFY_AF_REACHED;
			k_before(e, p->st, pc);
			if ((rc = step(e, p, &done)) < 0)
				return e->nomem ? DPF_ENOMEM : rc;
			if (!done)
				k_after(e, p->st, pc);
			if (done)
				path_end(e, p->cp, p->cnt);
		}
		if (!done)
			continue;
		st_free(e, p->st);
		p->st = NULL;
		if (!e->npend)
			return 0;
		*p = e->pend[--e->npend];
	}
}

/* Deepest call chain: frames rounded up to 16 bytes, at most
 * ASH_MAX_CALL_DEPTH frames (longest-path relaxation by chain length). */
static int stack_check(struct venv *e)
{
	uint32_t ns = e->nsub;
	uint64_t *cur = vfy_alloc(e, ns * sizeof *cur);
	uint64_t *nxt = vfy_alloc(e, ns * sizeof *nxt);
	int rc = 0;
	if (!cur || !nxt) {
		rc = DPF_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < ns; i++)
		cur[i] = 0;
	uint64_t best = (e->subdepth[0] + 15) & ~15u;
	cur[0] = best ? best : 1; /* 1 marks "reached" */
	for (int d = 1; d < ASH_MAX_CALL_DEPTH; d++) {
		for (uint32_t i = 0; i < ns; i++)
			nxt[i] = 0;
		for (uint32_t j = 0; j < e->nedges; j++) {
			struct edge ed = e->edges[j];
			if (!cur[ed.from])
				continue;
			uint64_t v = (cur[ed.from] & ~1ull) +
			             ((e->subdepth[ed.to] + 15) & ~15u);
			if ((v | 1) > nxt[ed.to])
				nxt[ed.to] = v | 1;
			if (v > best)
				best = v;
			if (v > ASH_STACK) {
				rc = vfy_err(e, e->subentry[ed.to], "combined "
				             "stack size of %d frames is %lu "
				             "bytes, more than %d", d + 1,
				             (unsigned long)v, ASH_STACK);
				goto out;
			}
		}
		uint64_t *t = cur;
		cur = nxt;
		nxt = t;
	}
	e->res->stack = (uint32_t)best;
out:
	vfy_free(e, cur, ns * sizeof *cur);
	vfy_free(e, nxt, ns * sizeof *nxt);
	return rc;
}

static void env_free(struct venv *e)
{
	uint32_t n = e->n;
	for (uint32_t i = 0; i < e->ncps; i++) {
		st_free(e, e->cps[i]->st);
		vfy_free(e, e->cps[i], sizeof *e->cps[i]);
	}
	vfy_free(e, e->cps, e->capcps * sizeof *e->cps);
	for (uint32_t i = 0; i < e->npend; i++)
		st_free(e, e->pend[i].st);
	vfy_free(e, e->pend, e->cappend * sizeof *e->pend);
	st_free(e, e->cur.st);
	for (uint32_t i = 0; i < e->nsaves; i++)
		st_free(e, e->saves[i]);
	vfy_free(e, e->saves, e->capsaves * sizeof *e->saves);
	vfy_free(e, e->edges, e->capedges * sizeof *e->edges);
	vfy_free(e, e->list, n * sizeof *e->list);
	vfy_free(e, e->visits, n * sizeof *e->visits);
	vfy_free(e, e->htab, (e->hmask + 1) * sizeof *e->htab);
	vfy_free(e, e->prune, n);
	vfy_free(e, e->live, n * sizeof *e->live);
	vfy_free(e, e->sub, n * sizeof *e->sub);
	vfy_free(e, e->subentry, e->nsub * sizeof *e->subentry);
	vfy_free(e, e->subdepth, e->nsub * sizeof *e->subdepth);
}

int vfy_ash(const struct ash_image *img, const struct vfy_ash_opts *opts,
            const struct dpf_host *host, struct vfy_ash_result *res,
            struct dpf_diag *diag)
{
	static const struct vfy_ash_opts defaults = {VFY_ASH_CTX_XDP, 0, 0};
	struct dpf_diag scratch;
	struct venv env;
	struct venv *e = &env;
	dpf_memset(res, 0, sizeof *res);
	dpf_memset(e, 0, sizeof *e);
	res->host = host;
	e->img = img;
	e->opts = opts ? opts : &defaults;
	e->host = host;
	e->res = res;
	e->diag = diag ? diag : &scratch;
	e->diag->msg[0] = 0;
	e->budget = e->opts->max_processed ? e->opts->max_processed :
	                                     ASH_MAX_PROCESSED;
	if (!img || !img->ninsns || !img->insns)
		return vfy_err(e, 0, "empty program");
	if (img->ninsns > ASH_MAX_INSNS)
		return vfy_err(e, 0, "program of %u insns, more than %u",
		               img->ninsns, ASH_MAX_INSNS);
	if (e->opts->ctx != VFY_ASH_CTX_XDP && e->opts->ctx != VFY_ASH_CTX_MEM)
		return vfy_err(e, 0, "unknown context %u", e->opts->ctx);
	e->ins = img->insns;
	e->n = img->ninsns;
	res->ninsns = e->n;
	res->facts = vfy_alloc(e, e->n * sizeof *res->facts);
	e->list = vfy_alloc(e, e->n * sizeof *e->list);
	e->visits = vfy_alloc(e, e->n * sizeof *e->visits);
	uint32_t nb = 1024;
	while (nb < 65536 && nb < 4 * e->n)
		nb *= 2;
	e->hmask = nb - 1;
	e->htab = vfy_alloc(e, nb * sizeof *e->htab);
	int rc = DPF_ENOMEM;
	if (!res->facts || !e->list || !e->visits || !e->htab)
		goto out;
	dpf_memset(res->facts, 0, e->n * sizeof *res->facts);
	dpf_memset(e->list, 0, e->n * sizeof *e->list);
	dpf_memset(e->visits, 0, e->n * sizeof *e->visits);
	dpf_memset(e->htab, 0, nb * sizeof *e->htab);
	if ((rc = cfg_check(e)) < 0 || (rc = cfg_live(e)) < 0)
		goto out;
	if ((rc = explore(e)) < 0)
		goto out;
	if ((rc = stack_check(e)) < 0)
		goto out;
	res->worst_insns = e->root.worst;
	rc = 0;
out:
	if (e->nomem && rc != DPF_EINVAL && rc != DPF_ELIMIT)
		rc = DPF_ENOMEM;
	if (rc == DPF_ENOMEM)
		dpf_fmt(e->diag->msg, sizeof e->diag->msg, "out of memory");
	env_free(e);
	if (rc < 0) {
		vfy_free(e, res->facts, e->n * sizeof *res->facts);
		res->facts = NULL;
	}
	return rc;
}

void vfy_ash_free(struct vfy_ash_result *res)
{
	if (!res || !res->facts || !res->host)
		return;
	res->host->free(res->host->ctx, res->facts,
	                res->ninsns * sizeof *res->facts);
	res->facts = NULL;
}
