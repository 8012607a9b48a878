/*
 * ash_state.c - abstract states of the handler verifier: registers, the
 * stack-slot model, frames and their comparison.
 *
 * A state is a chain of frames (the call stack, frame 0 the program) and
 * the ring-buffer records it holds.  Each frame has eleven registers and
 * the stack bytes it has touched, in 8-byte slots; a slot holds a spilled
 * register whole (an aligned 8-byte store of a register) or per byte
 * INVALID (never written), MISC (some initialised scalar byte) or ZERO.
 *
 * st_leq(cur, old) decides pruning: every concrete state cur stands for
 * is one old stands for, up to a renaming of ids (packet ranges, null
 * checks, records).  A register or stack byte old leaves NOT_INIT or
 * INVALID covers anything: old's exploration completed without reading
 * it, since every read of one is refused.  exact asks for equality (the
 * infinite-loop test).  A callback frame's saved entry state is shared
 * between copies and compared by identity.
 */
#include "verifier/ash_int.h"

/* ---- allocation ---- */
struct frame *fr_new(struct venv *e)
{
	struct frame *f = vfy_alloc(e, sizeof *f);
	if (!f)
		return NULL;
	dpf_memset(f, 0, sizeof *f);
	f->callsite = UINT32_MAX;
	f->weight = 1;
	return f;
}

int fr_grow(struct venv *e, struct frame *f, uint32_t nslots)
{
	if (nslots <= f->nslots)
		return 0;
	struct slot *ns = vfy_alloc(e, nslots * sizeof *ns);
	if (!ns)
		return DPF_ENOMEM;
	dpf_memset(ns, 0, nslots * sizeof *ns);
	if (f->nslots)
		dpf_memcpy(ns, f->slots, f->nslots * sizeof *ns);
	vfy_free(e, f->slots, f->nslots * sizeof *ns);
	f->slots = ns;
	f->nslots = nslots;
	return 0;
}

static void fr_free(struct venv *e, struct frame *f)
{
	if (!f)
		return;
	vfy_free(e, f->slots, f->nslots * sizeof *f->slots);
	vfy_free(e, f, sizeof *f);
}

struct state *st_new(struct venv *e)
{
	struct state *s = vfy_alloc(e, sizeof *s);
	if (s)
		dpf_memset(s, 0, sizeof *s);
	return s;
}

void st_free(struct venv *e, struct state *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nframes; i++)
		fr_free(e, s->f[i]);
	vfy_free(e, s, sizeof *s);
}

struct state *st_copy(struct venv *e, const struct state *s)
{
	struct state *n = st_new(e);
	if (!n)
		return NULL;
	n->nrefs = s->nrefs;
	dpf_memcpy(n->refs, s->refs, sizeof n->refs);
	for (uint32_t i = 0; i < s->nframes; i++) {
		struct frame *f = vfy_alloc(e, sizeof *f);
		if (!f) {
			st_free(e, n);
			return NULL;
		}
		*f = *s->f[i];
		f->slots = NULL;
		f->nslots = 0;
		n->f[i] = f;
		n->nframes = i + 1;
		if (fr_grow(e, f, s->f[i]->nslots) < 0) {
			st_free(e, n);
			return NULL;
		}
		if (f->nslots)
			dpf_memcpy(f->slots, s->f[i]->slots,
			           f->nslots * sizeof *f->slots);
	}
	return n;
}

/* ---- registers ---- */
void reg_not_init(struct reg *r)
{
	dpf_memset(r, 0, sizeof *r);
	sc_const(&r->s, 0);
}

void reg_scalar(struct reg *r, uint64_t v)
{
	reg_not_init(r);
	r->type = T_SCALAR;
	sc_const(&r->s, v);
}

void reg_unknown(struct reg *r)
{
	reg_not_init(r);
	r->type = T_SCALAR;
	sc_unknown(&r->s);
}

int reg_is_ptr(const struct reg *r)
{
	return r->type != T_NOT_INIT && r->type != T_SCALAR &&
	       r->type != T_STALE;
}

const char *type_name(unsigned t)
{
	static const char *const names[] = {
		"uninitialised", "scalar", "ctx", "packet pointer",
		"packet end pointer", "packet meta pointer", "map pointer",
		"map value pointer", "map value pointer or null",
		"stack pointer", "memory pointer", "ringbuf record",
		"ringbuf record or null", "function pointer",
		"invalidated packet pointer",
	};
	return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* A scalar id held by one register or spill links nothing: clear it, so
 * that states differing only there compare equal. */
void st_clear_lone_ids(struct state *st)
{
	struct reg *r[128];
	uint32_t nr = 0;
	for (uint32_t i = 0; i < st->nframes; i++) {
		struct frame *f = st->f[i];
		for (int k = 0; k < 11; k++)
			if (f->r[k].type == T_SCALAR && f->r[k].id) {
				if (nr == sizeof r / sizeof r[0])
					return; /* keeping ids is sound */
				r[nr++] = &f->r[k];
			}
		for (uint32_t k = 0; k < f->nslots; k++)
			if (f->slots[k].b[0] == SB_SPILL &&
			    f->slots[k].spill.type == T_SCALAR &&
			    f->slots[k].spill.id) {
				if (nr == sizeof r / sizeof r[0])
					return; /* keeping ids is sound */
				r[nr++] = &f->slots[k].spill;
			}
	}
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t same = 0;
		for (uint32_t j = 0; j < nr; j++)
			same += r[j]->id == r[i]->id;
		if (same == 1)
			r[i]->id = 0;
	}
}

/* ---- comparison ---- */
#define IDMAP 64
struct idmap {
	uint32_t n;
	uint32_t cur[IDMAP], old[IDMAP];
};

static int same_id(struct idmap *m, uint32_t c, uint32_t o)
{
	if (!c || !o)
		return c == o;
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->cur[i] == c)
			return m->old[i] == o;
		if (m->old[i] == o)
			return 0;
	}
	if (m->n == IDMAP)
		return 0;
	m->cur[m->n] = c;
	m->old[m->n++] = o;
	return 1;
}

static int reg_leq(const struct reg *c, const struct reg *o, struct idmap *m,
                   int exact)
{
	if (!exact && (o->type == T_NOT_INIT || o->type == T_STALE))
		return 1;
	if (c->type != o->type)
		return 0;
	switch (c->type) {
	case T_NOT_INIT:
	case T_STALE:
		return 1;
	case T_SCALAR:
		if (exact)
			return sc_eq(&c->s, &o->s) && same_id(m, c->id, o->id);
		/* old's copies (same id) were narrowed together: cur's must
		 * be copies of each other too */
		return sc_leq(&c->s, &o->s) &&
		       (!o->id || (c->id && same_id(m, c->id, o->id)));
	default:
		break;
	}
	if (c->off != o->off || c->aux != o->aux || c->frame != o->frame)
		return 0;
	if (exact ? !sc_eq(&c->s, &o->s) : !sc_leq(&c->s, &o->s))
		return 0;
	if (exact ? c->range != o->range : c->range < o->range)
		return 0;
	return same_id(m, c->id, o->id);
}

static const struct slot empty_slot;

static int slot_leq(const struct slot *c, const struct slot *o,
                    struct idmap *m, int exact)
{
	int spill_c = c->b[0] == SB_SPILL, spill_o = o->b[0] == SB_SPILL;
	if (spill_o && spill_c)
		return reg_leq(&c->spill, &o->spill, m, exact);
	if (spill_o) {
		/* an unknown spilled scalar reads as any initialised bytes */
		struct sc any;
		sc_unknown(&any);
		if (exact || o->spill.type != T_SCALAR || !sc_eq(&o->spill.s, &any))
			return o->spill.type == T_NOT_INIT && !exact;
		for (int k = 0; k < 8; k++)
			if (c->b[k] == SB_INVALID)
				return 0;
		return 1;
	}
	for (int k = 0; k < 8; k++) {
		uint8_t bc = c->b[k], bo = o->b[k];
		if (exact) {
			if (bc != bo)
				return 0;
			continue;
		}
		if (bo == SB_INVALID)
			continue;
		if (bo == SB_ZERO && bc != SB_ZERO)
			return 0;
		if (bo == SB_MISC) {
			if (bc == SB_INVALID)
				return 0;
			if (bc == SB_SPILL && c->spill.type != T_SCALAR)
				return 0;
		}
	}
	return 1;
}

static int frame_leq(const struct frame *c, const struct frame *o,
                     struct idmap *m, int exact)
{
	if (c->callsite != o->callsite || c->entry != o->entry ||
	    c->weight != o->weight || c->is_cb != o->is_cb ||
	    c->cbsave != o->cbsave)
		return 0;
	for (int i = 0; i < 11; i++)
		if (!reg_leq(&c->r[i], &o->r[i], m, exact))
			return 0;
	uint32_t n = c->nslots > o->nslots ? c->nslots : o->nslots;
	for (uint32_t i = 0; i < n; i++) {
		const struct slot *sc = i < c->nslots ? &c->slots[i] : &empty_slot;
		const struct slot *so = i < o->nslots ? &o->slots[i] : &empty_slot;
		if (!slot_leq(sc, so, m, exact))
			return 0;
	}
	return 1;
}

static int leq_n(const struct state *cur, const struct state *old,
                 uint32_t nframes, int exact, int refs)
{
	struct idmap m;
	m.n = 0;
	for (uint32_t i = 0; i < nframes; i++)
		if (!frame_leq(cur->f[i], old->f[i], &m, exact))
			return 0;
	if (!refs)
		return 1;
	if (cur->nrefs != old->nrefs)
		return 0;
	for (uint32_t i = 0; i < cur->nrefs; i++)
		if (cur->refs[i].insn != old->refs[i].insn ||
		    !same_id(&m, cur->refs[i].id, old->refs[i].id))
			return 0;
	return 1;
}

int st_leq(const struct state *cur, const struct state *old, int exact)
{
	if (cur->nframes != old->nframes)
		return 0;
	return leq_n(cur, old, cur->nframes, exact, 1);
}

/* The first nframes frames of cur within old's (a callback's exit
 * against its entry); records are compared by the caller. */
int st_leq_frames(const struct state *cur, const struct state *old,
                  uint32_t nframes)
{
	if (cur->nframes < nframes || old->nframes < nframes)
		return 0;
	return leq_n(cur, old, nframes, 0, 0);
}

/* Equal states (st_leq exact) hash equal: ids are left out. */
uint32_t st_hash(const struct state *s)
{
	uint64_t h = 1469598103934665603ull;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
	MIX(s->nframes);
	MIX(s->nrefs);
	for (uint32_t i = 0; i < s->nframes; i++) {
		const struct frame *f = s->f[i];
		MIX(f->callsite);
		for (int r = 0; r < 11; r++) {
			MIX(f->r[r].type);
			MIX(f->r[r].off);
			MIX(f->r[r].s.t.v);
			MIX(f->r[r].s.t.m);
			MIX(f->r[r].s.umax);
		}
		for (uint32_t k = 0; k < f->nslots; k++) {
			const struct slot *sl = &f->slots[k];
			uint64_t bytes = 0;
			for (int b = 0; b < 8; b++)
				bytes = bytes << 8 | sl->b[b];
			if (!bytes) /* INVALID: as if not grown */
				continue;
			MIX(k);
			MIX(bytes);
			if (sl->b[0] == SB_SPILL) {
				MIX(sl->spill.type);
				MIX(sl->spill.s.t.v);
			}
		}
	}
#undef MIX
	return (uint32_t)(h ^ (h >> 32));
}
