/*
 * ash_helpers.c - calls and exits: helper calls checked against their
 * prototypes in helpers.def, BPF-to-BPF calls (a new frame; r1-r5 passed,
 * r6-r9 the caller's own, r0 returned), bpf_loop callbacks, and the exit
 * of the program, of a subprogram and of a callback.
 *
 * A bpf_loop callback is explored once per call, with r1 the iteration
 * index in [0, n) where n is the proven maximum of the count (clamped at
 * 1 << 23, bpf_loop's own limit) and r2 the context argument.  Before
 * entry the stack frame that context points into is widened (spilled
 * scalars and zero bytes become unknown scalar bytes), and every exit of the
 * callback must leave the caller frames within that entry state: the
 * entry state is then an invariant of any number of iterations, zero
 * included, and the caller continues from it.  Each instruction of the
 * callback counts n times in the worst-case bound (frame.weight).
 *
 * Facts of a helper call (vfy.h): the helper number, the map r1 names
 * when the helper takes one (the same map on every path, or
 * VFY_MAP_MIXED), its first two scalar arguments where they are
 * constants (k[]), and for bpf_loop the callback's first slot (arg).
 *
 * dpf_ash_copy (DPF's own helper, ash/include/dpf_ash.h) has two rules
 * beyond its prototype: dst (r3) must be a map value, and the low 32 bits
 * of ops (r5) must be known, a set of DPF_COPY_* bits without BSWAP16
 * and BSWAP32 together.  The set is recorded in the call's fact (arg,
 * VFY_AF_ARG; VFY_AF_ARG_MIXED when paths bring different sets) so that
 * an engine can call the kernel specialised for it.
 */
#include "verifier/ash_int.h"
#include "ash/include/dpf_ash.h"

#define LOOP_MAX (1u << 23)

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static int init_err(struct venv *e, uint32_t pc, unsigned regno,
                    const struct reg *r)
{
	if (r->type == T_STALE)
		return vfy_err(e, pc, "r%u packet pointer invalidated by a "
		               "helper call", regno);
	return vfy_err(e, pc, "r%u is not initialised", regno);
}

static int add_edge(struct venv *e, uint32_t from, uint32_t to)
{
	for (uint32_t i = 0; i < e->nedges; i++)
		if (e->edges[i].from == from && e->edges[i].to == to)
			return 0;
	if (vfy_grow(e, (void **)&e->edges, &e->capedges, e->nedges + 1,
	             sizeof *e->edges) < 0)
		return DPF_ENOMEM;
	e->edges[e->nedges++] = (struct edge){from, to};
	return 0;
}

/* A new frame for the subprogram at entry, called from pc. */
static int push_frame(struct venv *e, struct state *st, uint32_t pc,
                      uint32_t entry, struct frame **out)
{
	if (st->nframes >= ASH_MAX_CALL_DEPTH)
		return vfy_err(e, pc, "call stack of %u frames is too deep",
		               st->nframes + 1);
	for (uint32_t i = 0; i < st->nframes; i++)
		if (st->f[i]->entry == entry)
			return vfy_err(e, pc, "recursive call from insn %u to %u",
			               pc, entry);
	struct frame *caller = st_top(st);
	if (add_edge(e, e->sub[caller->entry], e->sub[entry]) < 0)
		return DPF_ENOMEM;
	struct frame *f = fr_new(e);
	if (!f)
		return DPF_ENOMEM;
	for (int r = 0; r < 11; r++)
		reg_not_init(&f->r[r]);
	f->r[10].type = T_STACK;
	f->r[10].frame = (uint8_t)st->nframes;
	f->callsite = pc;
	f->entry = entry;
	f->weight = caller->weight;
	st->f[st->nframes++] = f;
	e->res->facts[entry].flags |= VFY_AF_FUNC;
	*out = f;
	return 0;
}

static void clobber_args(struct frame *f)
{
	for (int r = 1; r <= 5; r++)
		reg_not_init(&f->r[r]);
}

/* Every copy of id (registers and spills, all frames): fn decides. */
static void each_id(struct state *st, uint32_t id,
                    void (*fn)(struct reg *r, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int r = 0; r < 11; r++)
			if (reg_is_ptr(&f->r[r]) && f->r[r].id == id)
				fn(&f->r[r], ctx);
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slots[k].b[0] == SB_SPILL &&
			    reg_is_ptr(&f->slots[k].spill) &&
			    f->slots[k].spill.id == id)
				fn(&f->slots[k].spill, ctx);
	}
}

static void kill_rec(struct reg *r, void *ctx)
{
	(void)ctx;
	if (r->type == T_RB_REC || r->type == T_RB_REC_OR_NULL)
		reg_not_init(r);
}

void release_ref(struct state *st, uint32_t id)
{
	uint32_t j = 0;
	for (uint32_t i = 0; i < st->nrefs; i++)
		if (st->refs[i].id != id)
			st->refs[j++] = st->refs[i];
	st->nrefs = j;
	each_id(st, id, kill_rec, NULL);
}

static int size_arg(struct venv *e, uint32_t pc, unsigned regno,
                    const struct reg *r, int zero_ok, uint64_t *size)
{
	if (r->type == T_NOT_INIT || r->type == T_STALE)
		return init_err(e, pc, regno, r);
	if (r->type != T_SCALAR)
		return vfy_err(e, pc, "r%u %s passed as a size", regno,
		               type_name(r->type));
	if (r->s.smin < 0)
		return vfy_err(e, pc, "r%u size may be negative (min %ld)",
		               regno, (long)r->s.smin);
	if (!zero_ok && r->s.umin == 0)
		return vfy_err(e, pc, "r%u size may be zero: [%lu, %lu]", regno,
		               (unsigned long)r->s.umin,
		               (unsigned long)r->s.umax);
	if (r->s.umax >= (1u << 29))
		return vfy_err(e, pc, "r%u size is unbounded (max %lu)", regno,
		               (unsigned long)r->s.umax);
	*size = r->s.umax;
	return 0;
}

static int map_ok(struct venv *e, uint32_t pc, uint32_t id,
                  const struct ash_helper_proto *hp, const struct reg *r)
{
	const struct ash_map_def *m = &e->img->maps[r->aux];
	int rb = id == ASH_H_RINGBUF_OUTPUT || id == ASH_H_RINGBUF_RESERVE;
	if (rb && m->type != ASH_MAP_RINGBUF)
		return vfy_err(e, pc, "%s needs a ringbuf map, '%s' is not one",
		               hp->name, m->name);
	if (!rb && m->type == ASH_MAP_RINGBUF)
		return vfy_err(e, pc, "%s cannot use ringbuf map '%s'",
		               hp->name, m->name);
	if ((id == ASH_H_MAP_UPDATE || id == ASH_H_MAP_DELETE) &&
	    m->kind == ASH_MAPK_RODATA)
		return vfy_err(e, pc, "%s on read-only map '%s'", hp->name,
		               m->name);
	return 0;
}

static int expect(struct venv *e, uint32_t pc, unsigned regno,
                  const struct reg *r, const char *want,
                  const struct ash_helper_proto *hp)
{
	return vfy_err(e, pc, "r%u type %s, expected %s (%s arg %u)", regno,
	               type_name(r->type), want, hp->name, regno);
}

/* bpf_loop: enter the callback (see the file comment). */
static int enter_loop(struct venv *e, struct path *p, uint32_t pc)
{
	struct state *st = p->st;
	struct frame *f = st_top(st);
	struct reg nr = f->r[1], fn = f->r[2], ctx = f->r[3];
	uint64_t n = nr.s.umax < LOOP_MAX ? nr.s.umax : LOOP_MAX;
	if (!n)
		n = 1;
	if (ctx.type == T_STACK) {
		struct frame *cf = st->f[ctx.frame];
		for (uint32_t k = 0; k < cf->nslots; k++) {
			struct slot *s = &cf->slots[k];
			int scalar = s->b[0] != SB_SPILL ||
			             s->spill.type == T_SCALAR;
			for (int b = 0; scalar && b < 8; b++)
				if (s->b[b] != SB_INVALID)
					s->b[b] = SB_MISC;
		}
	}
	clobber_args(f);
	reg_unknown(&f->r[0]);
	st_clear_lone_ids(st); /* as checkpoints will, before comparing */
	struct state *save = st_copy(e, st);
	if (!save || vfy_grow(e, (void **)&e->saves, &e->capsaves,
	                      e->nsaves + 1, sizeof *e->saves) < 0) {
		st_free(e, save);
		return DPF_ENOMEM;
	}
	e->saves[e->nsaves++] = save;
	struct frame *cb;
	int rc = push_frame(e, st, pc, fn.aux, &cb);
	if (rc < 0)
		return rc;
	cb->is_cb = 1;
	cb->cbsave = save;
	cb->weight = sat_mul(cb->weight, n);
	reg_unknown(&cb->r[1]);
	sc_unknown(&cb->r[1].s);
	cb->r[1].s.umax = n - 1;
	sc_sync(&cb->r[1].s);
	cb->r[2] = ctx;
	p->pc = fn.aux;
	return 0;
}

/* Helpers whose integer result is one of two values, as the runtime
 * (ash/helpers.c) and Linux return them: r0 after the call is a or b. */
static const struct {
	uint32_t id;
	uint64_t a, b;
} ret_pair[] = {
	/* XDP_REDIRECT, or XDP_ABORTED on bad flags */
	{ASH_H_REDIRECT, ASH_XDP_ABORTED, ASH_XDP_REDIRECT},
};

/* r0 after helper id returned an integer. */
static void ret_int(struct reg *r0, uint32_t id)
{
	reg_unknown(r0);
	for (size_t i = 0; i < sizeof ret_pair / sizeof ret_pair[0]; i++) {
		if (ret_pair[i].id != id)
			continue;
		uint64_t a = ret_pair[i].a, b = ret_pair[i].b;
		r0->s.t = tn_join(tn_const(a), tn_const(b));
		r0->s.umin = a < b ? a : b;
		r0->s.umax = a < b ? b : a;
		sc_sync(&r0->s);
	}
}

/* dpf_ash_copy: dst must be a map value (before the prototype's checks,
 * which would accept any writable memory). */
static int copy_dst(struct venv *e, uint32_t pc,
                    const struct ash_helper_proto *hp, const struct reg *r)
{
	if (r->type == T_NOT_INIT || r->type == T_STALE)
		return init_err(e, pc, 3, r);
	if (r->type != T_MAP_VAL && r->type != T_MAP_VAL_OR_NULL)
		return expect(e, pc, 3, r, "map value pointer", hp);
	return 0; /* or-null: refused by the memory check, naming null */
}

/* The constant the helper's rule records at a call site: the first path
 * sets it, another value makes it VFY_AF_ARG_MIXED. */
static void set_arg(struct vfy_ash_fact *fact, uint32_t v)
{
	if (!(fact->flags & VFY_AF_ARG)) {
		fact->flags |= VFY_AF_ARG;
		fact->arg = v;
	} else if (fact->arg != v) {
		fact->flags |= VFY_AF_ARG_MIXED;
	}
}

/* dpf_ash_copy: ops (r5, a scalar by the prototype) proven a valid set;
 * recorded in fact. */
static int copy_ops(struct venv *e, uint32_t pc,
                    const struct ash_helper_proto *hp, const struct reg *r,
                    struct vfy_ash_fact *fact)
{
	uint32_t unknown = (uint32_t)r->s.t.m, ops = (uint32_t)r->s.t.v;
	const uint32_t swaps = DPF_COPY_BSWAP16 | DPF_COPY_BSWAP32;
	if (unknown)
		return vfy_err(e, pc, "r5 ops of %s must be a known constant "
		               "in its low 32 bits (unknown bits 0x%x)",
		               hp->name, unknown);
	if (ops & ~DPF_COPY_ALL)
		return vfy_err(e, pc, "r5 ops of %s has unknown bits 0x%x",
		               hp->name, ops & ~DPF_COPY_ALL);
	if ((ops & swaps) == swaps)
		return vfy_err(e, pc, "r5 ops of %s sets both BSWAP16 and "
		               "BSWAP32", hp->name);
	set_arg(fact, ops);
	return 0;
}

static int helper_call(struct venv *e, struct path *p, uint32_t pc,
                       uint32_t id)
{
	struct state *st = p->st;
	struct frame *f = st_top(st);
	const struct ash_helper_proto *hp = ash_helper(id);
	int rc;
	if (!hp)
		return vfy_err(e, pc, "unknown helper %u", id);
	if ((hp->flags & ASH_HF_XDP) && e->opts->ctx == VFY_ASH_CTX_MEM)
		return vfy_err(e, pc, "helper %s needs the XDP context",
		               hp->name);
	struct vfy_ash_fact *fact = &e->res->facts[pc];
	if (fact->helper && fact->helper != id)
		return vfy_err(e, pc, "callx calls helper %u and helper %u",
		               fact->helper, id);
	fact->helper = id;
	/* copies, not pointers into r1..r5: clobbered after the checks */
	uint32_t mapidx = 0;
	uint64_t alloc = 0;
	uint32_t rec = 0;
	unsigned nk = 0; /* scalar arguments seen (fact k[]) */
	if (id == DPF_ASH_HELPER_COPY &&
	    (rc = copy_dst(e, pc, hp, &f->r[3])) < 0)
		return rc;
	for (unsigned a = 0; a < 5 && hp->args[a] != ASH_ARG_NONE; a++) {
		unsigned regno = a + 1;
		const struct reg *r = &f->r[regno];
		uint64_t size = 0;
		if (r->type == T_NOT_INIT || r->type == T_STALE)
			return init_err(e, pc, regno, r);
		switch (hp->args[a]) {
		case ASH_ARG_ANY: case ASH_ARG_SIZE: case ASH_ARG_SIZE_OR_ZERO:
		case ASH_ARG_ALLOC_SIZE:
			if (nk < 2)
				set_k_fact(e, pc, nk++, r);
			break;
		default:
			break;
		}
		switch (hp->args[a]) {
		case ASH_ARG_ANY:
			if (r->type != T_SCALAR)
				return vfy_err(e, pc, "r%u leaks a pointer into "
				               "helper %s", regno, hp->name);
			break;
		case ASH_ARG_MAP:
			if (r->type != T_MAP_PTR)
				return expect(e, pc, regno, r, "map pointer", hp);
			if ((rc = map_ok(e, pc, id, hp, r)) < 0)
				return rc;
			mapidx = r->aux;
			fact->map = !fact->map || fact->map == r->aux + 1
			                    ? r->aux + 1
			                    : VFY_MAP_MIXED;
			break;
		case ASH_ARG_MAP_KEY:
		case ASH_ARG_MAP_VALUE: {
			const struct ash_map_def *m = &e->img->maps[mapidx];
			size = hp->args[a] == ASH_ARG_MAP_KEY ? m->key_size :
			                                        m->value_size;
			if ((rc = mem_region(e, st, pc, regno, size, 0, 0)) < 0)
				return rc;
			break;
		}
		case ASH_ARG_CTX:
			if (r->type != T_CTX || r->off ||
			    !sc_is_const(&r->s) || r->s.t.v)
				return expect(e, pc, regno, r,
				              "unmodified ctx", hp);
			break;
		case ASH_ARG_MEM:
		case ASH_ARG_MEM_OR_NULL:
		case ASH_ARG_UNINIT_MEM: {
			const struct reg *sz = &f->r[regno + 1];
			int zero_ok = hp->args[a + 1] == ASH_ARG_SIZE_OR_ZERO;
			if ((rc = size_arg(e, pc, regno + 1, sz, zero_ok,
			                   &size)) < 0)
				return rc;
			if (hp->args[a] == ASH_ARG_MEM_OR_NULL &&
			    r->type == T_SCALAR && sc_is_const(&r->s) &&
			    !r->s.t.v) {
				if (size)
					return vfy_err(e, pc, "r%u is null but "
					               "size r%u may be %lu", regno,
					               regno + 1,
					               (unsigned long)size);
				break;
			}
			int wr = hp->args[a] == ASH_ARG_UNINIT_MEM;
			if ((rc = mem_region(e, st, pc, regno, size, wr,
			                     wr)) < 0)
				return rc;
			break;
		}
		case ASH_ARG_SIZE:
		case ASH_ARG_SIZE_OR_ZERO:
			break; /* with the memory argument before it */
		case ASH_ARG_ALLOC_SIZE:
			if (r->type != T_SCALAR || !sc_is_const(&r->s) ||
			    !r->s.t.v || r->s.t.v > ASH_MAX_VALUE)
				return vfy_err(e, pc, "r%u must be a known "
				               "constant size in 1..%u", regno,
				               ASH_MAX_VALUE);
			alloc = r->s.t.v;
			break;
		case ASH_ARG_RINGBUF_REC:
			if (r->type != T_RB_REC || r->off ||
			    !sc_is_const(&r->s) || r->s.t.v)
				return expect(e, pc, regno, r,
				              "unmodified ringbuf record", hp);
			rec = r->id;
			break;
		case ASH_ARG_FUNC:
			if (r->type != T_FUNC)
				return expect(e, pc, regno, r,
				              "function pointer", hp);
			break;
		case ASH_ARG_STACK_OR_NULL:
			if (r->type == T_SCALAR && sc_is_const(&r->s) &&
			    !r->s.t.v)
				break;
			if (r->type != T_STACK)
				return expect(e, pc, regno, r,
				              "stack pointer or null", hp);
			break;
		default:
			return vfy_err(e, pc, "helper %s: bad prototype",
			               hp->name);
		}
	}
	if (id == ASH_H_LOOP) {
		set_arg(fact, f->r[2].aux);
		return enter_loop(e, p, pc);
	}
	if (id == DPF_ASH_HELPER_COPY &&
	    (rc = copy_ops(e, pc, hp, &f->r[5], fact)) < 0)
		return rc;
	if (rec)
		release_ref(st, rec);
	if (hp->flags & ASH_HF_PKT)
		pkt_invalidate(st);
	clobber_args(f);
	struct reg *r0 = &f->r[0];
	switch (hp->ret) {
	case ASH_RET_VOID:
		reg_not_init(r0);
		break;
	case ASH_RET_MAP_VALUE_OR_NULL:
		reg_not_init(r0);
		r0->type = T_MAP_VAL_OR_NULL;
		r0->aux = mapidx;
		r0->id = ++e->next_id;
		break;
	case ASH_RET_RINGBUF_REC_OR_NULL:
		if (st->nrefs == VFY_MAX_REFS)
			return vfy_err(e, pc, "more than %u unreleased ringbuf "
			               "records", VFY_MAX_REFS);
		reg_not_init(r0);
		r0->type = T_RB_REC_OR_NULL;
		r0->aux = (uint32_t)alloc;
		r0->id = ++e->next_id;
		st->refs[st->nrefs++] = (struct ref){r0->id, pc};
		break;
	default:
		ret_int(r0, id);
		break;
	}
	p->pc = pc + 1;
	return 0;
}

int call_insn(struct venv *e, struct path *p)
{
	uint32_t pc = p->pc;
	const struct ash_insn *in = &e->ins[pc];
	struct frame *f = st_top(p->st);
	if (ash_op_kind(in->code) == ASH_K_CALLX) {
		const struct reg *r = &f->r[in->dst];
		if (r->type == T_NOT_INIT || r->type == T_STALE)
			return init_err(e, pc, in->dst, r);
		if (r->type != T_SCALAR || !sc_is_const(&r->s) ||
		    r->s.t.v > UINT32_MAX)
			return vfy_err(e, pc, "callx r%u is not a known helper "
			               "number", in->dst);
		return helper_call(e, p, pc, (uint32_t)r->s.t.v);
	}
	if (in->src != ASH_PSEUDO_CALL)
		return helper_call(e, p, pc, (uint32_t)in->imm);
	uint32_t entry = pc + (uint32_t)in->imm + 1;
	struct frame *callee;
	int rc = push_frame(e, p->st, pc, entry, &callee);
	if (rc < 0)
		return rc;
	for (int r = 1; r <= 5; r++)
		callee->r[r] = f->r[r];
	p->pc = entry;
	return 0;
}

static int range_msg(struct venv *e, uint32_t pc, const char *what,
                     const struct reg *r0, unsigned hi)
{
	return vfy_err(e, pc, "%s r0 has value (0x%lx; 0x%lx) should have "
	               "been in (0x0; 0x%x)", what, (unsigned long)r0->s.umin,
	               (unsigned long)r0->s.umax, hi);
}

/* Exit of a static subprogram: the caller receives r0 as it is, pointers
 * included (as Linux), except one into this frame's stack, which dies
 * here.  (No other pointer into it survives: r0 is the only register
 * passed back and stack_write keeps them out of callers' frames.) */
static int sub_return(struct venv *e, struct path *p, uint32_t pc)
{
	struct state *st = p->st;
	struct frame *f = st_top(st);
	const struct reg *r0 = &f->r[0];
	if (r0->type == T_STACK && r0->frame == st->nframes - 1)
		return vfy_err(e, pc, "r0 returns a pointer to its own stack");
	struct frame *caller = st->f[st->nframes - 2];
	caller->r[0] = *r0;
	clobber_args(caller);
	p->pc = f->callsite + 1;
	st->nframes--;
	st->f[st->nframes] = NULL;
	vfy_free(e, f->slots, f->nslots * sizeof *f->slots);
	vfy_free(e, f, sizeof *f);
	return 0;
}

int exit_insn(struct venv *e, struct path *p, int *done)
{
	uint32_t pc = p->pc;
	struct state *st = p->st;
	struct frame *f = st_top(st);
	const struct reg *r0 = &f->r[0];
	if (r0->type == T_NOT_INIT || r0->type == T_STALE)
		return init_err(e, pc, 0, r0);
	if (st->nframes > 1 && !f->is_cb)
		return sub_return(e, p, pc);
	if (r0->type != T_SCALAR)
		return vfy_err(e, pc, "r0 leaks a %s as return value",
		               type_name(r0->type));
	if (st->nframes == 1) {
		if (e->opts->ctx == VFY_ASH_CTX_XDP &&
		    r0->s.umax > ASH_XDP_REDIRECT)
			return range_msg(e, pc, "at program exit", r0,
			                 ASH_XDP_REDIRECT);
		if (st->nrefs)
			return vfy_err(e, pc, "unreleased ringbuf record from "
			               "insn %u", st->refs[0].insn);
		*done = 1;
		return 0;
	}
	/* a bpf_loop callback */
	struct state *save = f->cbsave;
	if (r0->s.umax > 1)
		return range_msg(e, pc, "at callback exit", r0, 1);
	int same = st->nrefs == save->nrefs;
	for (uint32_t i = 0; same && i < st->nrefs; i++)
		same = st->refs[i].id == save->refs[i].id;
	if (!same)
		return vfy_err(e, pc, "bpf_loop callback changes the "
		               "ringbuf records held");
	if (!st_leq_frames(st, save, save->nframes))
		return vfy_err(e, pc, "bpf_loop callback changes its "
		               "caller's state beyond the entry state of "
		               "the loop (call at insn %u)", f->callsite);
	struct state *n = st_copy(e, save);
	if (!n)
		return DPF_ENOMEM;
	p->pc = f->callsite + 1;
	st_free(e, st);
	p->st = n;
	return 0;
}
