/*
 * x86_emit.c - compile one unit of the trie to x86-64 (layer 3 of the
 * emitter: one function per trie construct; layers 1 and 2 are in x86.h;
 * what a unit is: jit_int.h).
 *
 * Register contract, shared by every unit (SysV entry in the top unit):
 *   rdi pkt   rsi len   rbx current base   r9 best key (0: none)
 *   rax rcx rdx r8 r10 scratch; a unit returns with rbx as it found it.
 *
 * The code walks the trie as the interpreter does, every matching sibling
 * in turn, keeping the best candidate in r9 as one 64-bit key ordered as
 * the interpreter ranks: (priority << 48) | ((specificity + 1) << 16) |
 * (65535 - id), so "higher key" is "better" and 0 means no match.  The top
 * unit turns r9 into the id.
 *
 * Specialisation: constants are immediates, pre-swapped to the packet's
 * byte order so loads need no byte swap; full masks are dropped; a node's
 * single entry is one compare; up to JIT_CHAIN entries are a compare
 * chain; larger tables are a hash dispatch (multiplier, shift and table
 * address as immediates) that calls the child's unit.  Loads are bounds
 * checked against len: once for a straight run of packet-relative
 * comparisons (to its furthest byte, DPF's maxoffset), with a per-atom
 * copy of the run for shorter packets; a packet too short for a field
 * fails that field's group, as in the interpreter.
 */
#include "jit/jit_int.h"

/* A hash entry whose child unit is attached once this unit is placed. */
struct pend {
	struct jhash *h;
	uint32_t slot;
	const struct node *child;
	uint32_t depth;
	struct unit *reuse; /* the old unit for this child, or NULL */
	struct unit *built;
};

#define NOTE_MAX 160

struct cx {
	struct dpf_jit *j;
	const struct dpf_engine *e;
	struct sink *s;
	struct unit *u;
	struct pend *pend;
	uint32_t npend, cappend;
	uint32_t depth; /* of the node being emitted: path atoms above it */
	int err;
};

/* ---- the unit's arena (mirror and notes) ---- */

static void *ar_alloc(struct cx *c, size_t n)
{
	struct unit *u = c->u;
	n = (n + 7) & ~(size_t)7;
	struct jchunk *k = u->arena;
	if (!k || k->cap - k->used < n) {
		uint32_t cap = n > 2048 ? (uint32_t)n : 2048;
		k = dpf_alloc(&c->e->host, sizeof *k + cap);
		if (!k) {
			c->err = DPF_ENOMEM;
			return NULL;
		}
		k->used = 0;
		k->cap = cap;
		k->next = u->arena;
		u->arena = k;
	}
	void *p = k->mem + k->used;
	k->used += (uint32_t)n;
	dpf_memset(p, 0, n);
	return p;
}

/* A block note: which trie construct the code from here implements. */
/* A note at the current offset: its text buffer (160 bytes), or NULL when
 * notes are off or memory is short. */
static char *note_at(struct cx *c)
{
	if (!(c->j->flags & JIT_NOTES) || c->err || c->s->err)
		return NULL;
	struct unit *u = c->u;
	if (u->nnotes == u->capnotes) {
		uint32_t nc = u->capnotes ? u->capnotes * 2 : 16;
		struct jit_note *nn = ar_alloc(c, nc * sizeof *nn);
		if (!nn)
			return NULL;
		if (u->nnotes)
			dpf_memcpy(nn, u->notes, u->nnotes * sizeof *nn);
		u->notes = nn;
		u->capnotes = nc;
	}
	char *t = ar_alloc(c, NOTE_MAX);
	if (!t)
		return NULL;
	t[0] = 0;
	u->notes[u->nnotes].off = c->s->len;
	u->notes[u->nnotes++].text = t;
	return t;
}

static void note(struct cx *c, const char *what, const struct dpf_atom *k,
                 uint32_t n)
{
	char *t = note_at(c);
	if (!t)
		return;
	char atom[96] = "";
	if (k) { /* the field, without the value the dump would print */
		dpf_atom_format(k, atom, sizeof atom);
		for (char *p = atom; *p; p++)
			if (p[0] == ' ' && p[1] == '=' && p[2] == '=') {
				*p = 0;
				break;
			}
	}
	dpf_fmt(t, NOTE_MAX, what, atom, n);
}

/* ---- emitters ---- */

static struct jnode *emit_node(struct cx *c, const struct node *n,
                               const struct jnode *om);
static void emit_groups(struct cx *c, const struct body *b, struct jnode *m,
                        const struct jnode *om);

/* Bounds check and load of a group's field into eax (packet byte order);
 * jumps to `fail` when the packet is too short. */
static void emit_field(struct cx *c, const struct dpf_atom *k, uint32_t fail)
{
	struct sink *s = c->s;
	uint32_t end = (uint32_t)k->offset + k->width;
	if (k->base == DPF_BASE_PKT) {
		cmp_len_imm(s, end); /* cmp rsi, end */
		jcc(s, CC_B, fail);  /* jb fail */
		load(s, k->width, 0, k->offset);
	} else {
		emit3(s, 0x48, 0x8d, 0x83); /* lea rax, [rbx + end] */
		emit32(s, end);
		emit3(s, 0x48, 0x39, 0xf0); /* cmp rax, rsi */
		jcc(s, CC_A, fail);         /* ja fail */
		load(s, k->width, 1, k->offset);
	}
}

/* eax (packet order, width w) -> host order. */
static void emit_to_host(struct sink *s, unsigned w)
{
	if (w == 2)
		emit3(s, 0x66, 0xc1, 0xc0), emit1(s, 8); /* rol ax, 8 */
	else if (w == 4)
		emit2(s, 0x0f, 0xc8); /* bswap eax */
}

/* eax (a SHIFT's field, packet order) -> rax = the new base. */
static void emit_base(struct sink *s, const struct dpf_atom *k)
{
	emit_to_host(s, k->width);
	emit1(s, 0x25); /* and eax, imm32 */
	emit32(s, k->mask);
	if (k->shift)
		emit3(s, 0xc1, 0xe0, k->shift); /* shl eax, k */
	if (k->base == DPF_BASE_REL)
		emit3(s, 0x48, 0x01, 0xd8); /* add rax, rbx */
}

/* eax &= mask, in packet order; nothing for a full mask. */
static void emit_mask(struct sink *s, const struct dpf_atom *k)
{
	if (k->mask != dpf_width_mask(k->width)) {
		emit1(s, 0x25); /* and eax, jit_bswap(mask) */
		emit32(s, jit_bswap(k->mask, k->width));
	}
}

static void emit_cmp1(struct sink *s, const struct dpf_atom *k, uint32_t v,
                      uint32_t fail)
{
	emit_mask(s, k);
	emit1(s, 0x3d); /* cmp eax, jit_bswap(value) */
	emit32(s, jit_bswap(v, k->width));
	jcc(s, CC_NE, fail);
}

/* Old mirror of child value v in an old chain group, if the same node. */
static const struct jnode *old_kid(const struct jgroup *og, uint32_t v,
                                   const struct node *n)
{
	if (!og || og->kind != JG_CHAIN)
		return NULL;
	for (uint32_t i = 0; i < og->n; i++)
		if (og->vals[i] == v)
			return og->kids[i] && og->kids[i]->n == n ? og->kids[i] : NULL;
	return NULL;
}

/* A one-entry group: vals/kids arrays of one. */
static int group_one(struct cx *c, struct jgroup *jg, uint32_t v)
{
	jg->kind = JG_CHAIN;
	jg->n = 1;
	jg->vals = ar_alloc(c, sizeof *jg->vals);
	jg->kids = ar_alloc(c, sizeof *jg->kids);
	if (!jg->vals || !jg->kids)
		return 0;
	jg->vals[0] = v;
	return 1;
}

static void emit_shift(struct cx *c, const struct gslot *g, struct jgroup *jg,
                       const struct jgroup *og, uint32_t next)
{
	struct sink *s = c->s;
	const struct dpf_atom *k = &g->key;
	const struct node *child = gs_find(g, 0);
	if (!group_one(c, jg, 0))
		return;
	note(c, "%s", k, 0);
	emit_field(c, k, next);
	emit_base(s, k);
	emit1(s, 0x53);             /* push rbx */
	emit3(s, 0x48, 0x89, 0xc3); /* mov rbx, rax */
	c->depth++;
	jg->kids[0] = emit_node(c, child, old_kid(og, 0, child));
	c->depth--;
	emit1(s, 0x5b); /* pop rbx */
}

/* Layer 3 of a table lookup: the key's home slot into ecx, from v in
 * r11d and the tail values at [rsp + 4i] (inreg: the only one in eax,
 * left there); jumps to `miss` when a direct table has no slot for v. */
static void emit_home(struct sink *s, const struct jhash *jh, int inreg,
                      uint32_t miss)
{
	if (jh->direct) {
		emit3(s, 0x41, 0x8d, 0x8b); /* lea ecx, [r11 - base] */
		emit32(s, (uint32_t)-jh->base);
		emit2(s, 0x81, 0xf9);       /* cmp ecx, cap */
		emit32(s, jh->cap);
		jcc(s, CC_AE, miss);        /* jae miss: out of range */
		return;
	}
	emit3(s, 0x44, 0x89, 0xd9); /* mov ecx, r11d */
	if (!jh->seeded) {
		emit2(s, 0x69, 0xc9);   /* imul ecx, ecx, mult */
		emit32(s, jh->mult);
		emit3(s, 0xc1, 0xe9, (uint8_t)(32 - jh->lg)); /* shr ecx, 32 - lg */
		return;
	}
	/* the seeded hash of the fused key (jh_home) */
	uint32_t n = jh->shape.ncmp;
	emit2(s, 0x81, 0xf1);       /* xor ecx, seed */
	emit32(s, jh->seed);
	emit3(s, 0x48, 0xc1, 0xe1); /* shl rcx, 32 */
	emit1(s, 32);
	if (n) {
		if (!inreg) {
			emit3(s, 0x8b, 0x44, 0x24); /* mov eax, [rsp] */
			emit1(s, 0);
		}
		emit3(s, 0x48, 0x09, 0xc1); /* or rcx, rax */
	}
	emit2(s, 0x48, 0xba);       /* mov rdx, C */
	emit64(s, JIT_SEED_MULT);
	emit2(s, 0x48, 0x0f);       /* imul rcx, rdx */
	emit2(s, 0xaf, 0xca);
	for (uint32_t i = 1; i < n; i++) {
		emit3(s, 0x48, 0x89, 0xc8); /* mov rax, rcx */
		emit3(s, 0x48, 0xc1, 0xe8); /* shr rax, 32 */
		emit1(s, 32);
		emit3(s, 0x48, 0x31, 0xc1); /* xor rcx, rax */
		emit3(s, 0x8b, 0x44, 0x24); /* mov eax, [rsp + 4i] */
		emit1(s, (uint8_t)(4 * i));
		emit3(s, 0x48, 0x31, 0xc1); /* xor rcx, rax */
		emit2(s, 0x48, 0x0f);       /* imul rcx, rdx */
		emit2(s, 0xaf, 0xca);
	}
	emit3(s, 0x48, 0xc1, 0xe9); /* shr rcx, 64 - lg */
	emit1(s, (uint8_t)(64 - jh->lg));
}

/* The probe: r8 at the slot of ecx, r10 its word 0; `hit` reached with
 * the key matched (v in r11d, tail values at [rsp + 4i], or in eax when
 * inreg).  A seeded table counts its probes in [rsp + 20]. */
static void emit_probe(struct sink *s, const struct jhash *jh, int inreg,
                       uint32_t hit, uint32_t miss)
{
	int counted = jh->seeded;
	if (counted) {
		emit3(s, 0xc7, 0x44, 0x24); /* mov dword [rsp + 20], JIT_PROBE_MAX */
		emit1(s, 20);
		emit32(s, JIT_PROBE_MAX);
	}
	emit2(s, 0x48, 0xba);             /* mov rdx, imm64 slots */
	emit64(s, (uint64_t)(uintptr_t)jh->data);
	uint32_t probe = label_new(s), cont = label_new(s);
	label_bind(s, probe);
	emit3(s, 0x49, 0x89, 0xc8);       /* mov r8, rcx */
	emit3(s, 0x49, 0xc1, 0xe0);       /* shl r8, log2(stride) */
	emit1(s, jh->stride == 32 ? 5 : 4);
	emit3(s, 0x49, 0x01, 0xd0);       /* add r8, rdx */
	emit3(s, 0x4d, 0x8b, 0x10);       /* mov r10, [r8] */
	emit3(s, 0x4d, 0x85, 0xd2);       /* test r10, r10 */
	jcc(s, CC_E, miss);               /* je miss: empty slot */
	if (jh->fused) {
		emit3(s, 0x49, 0x83, 0xfa);   /* cmp r10, JT_REMOVED */
		emit1(s, JT_REMOVED);
		jcc(s, CC_E, jh->noloop ? miss : cont);
	}
	emit3(s, 0x45, 0x3b, 0x58);       /* cmp r11d, [r8 + 8] */
	emit1(s, 8);
	jcc(s, CC_NE, jh->noloop ? miss : cont);
	for (uint32_t i = 0; jh->fused && i < jh->shape.ncmp; i++) {
		if (!inreg) {
			emit3(s, 0x8b, 0x44, 0x24); /* mov eax, [rsp + 4i] */
			emit1(s, (uint8_t)(4 * i));
		}
		emit3(s, 0x41, 0x3b, 0x40);   /* cmp eax, [r8 + 12 + 4i] */
		emit1(s, (uint8_t)(12 + 4 * i));
		jcc(s, CC_NE, jh->noloop ? miss : cont);
	}
	jmp(s, hit);
	label_bind(s, cont);
	if (jh->noloop)
		return;
	if (counted) {
		emit3(s, 0xff, 0x4c, 0x24);   /* dec dword [rsp + 20] */
		emit1(s, 20);
		jcc(s, CC_E, miss);
	}
	emit2(s, 0xff, 0xc1);             /* inc ecx */
	emit2(s, 0x81, 0xe1);             /* and ecx, cap - 1 */
	emit32(s, jh->cap - 1);
	jmp(s, probe);
}

/* The dispatched field's value, host order and masked, into r11d. */
static void emit_key(struct cx *c, const struct dpf_atom *k, uint32_t next)
{
	struct sink *s = c->s;
	emit_field(c, k, next);
	emit_to_host(s, k->width);
	if (k->mask != dpf_width_mask(k->width)) {
		emit1(s, 0x25); /* and eax, imm32 */
		emit32(s, k->mask);
	}
	emit3(s, 0x41, 0x89, 0xc3); /* mov r11d, eax */
}

/* Unit mode: a table of child units, each called through its slot. */
static void emit_hash(struct cx *c, const struct gslot *g, struct jgroup *jg,
                      const struct jgroup *og, const uint32_t *vals,
                      const struct node *const *kids, uint32_t cnt,
                      uint32_t next)
{
	struct sink *s = c->s;
	const struct dpf_host *h = &c->e->host;
	const struct dpf_atom *k = &g->key;
	struct jhash *jh = ar_alloc(c, sizeof *jh);
	if (!jh)
		return;
	jh->stride = 16;
	if (jit_hash_form(h, jh, vals, cnt) != DPF_OK) {
		c->err = DPF_ENOMEM;
		return;
	}
	jh->owner = c->u;
	jh->data = dpf_zalloc(h, jh_bytes(jh));
	jh->units = dpf_zalloc(h, jh->cap * sizeof *jh->units);
	if (!jh->data || !jh->units) {
		dpf_free(h, jh->data, jh_bytes(jh));
		dpf_free(h, jh->units, jh->cap * sizeof *jh->units);
		c->err = DPF_ENOMEM;
		return;
	}
	jh->next = c->u->hashes;
	c->u->hashes = jh;
	c->j->st.data_bytes += jh_bytes(jh);
	jg->kind = JG_HASH;
	jg->hash = jh;
	const struct jhash *oh = og && og->kind == JG_HASH ? og->hash : NULL;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t at = jh_home(jh, vals[i], NULL);
		while (jh_slot(jh, at)->w)
			at = (at + 1) & (jh->cap - 1);
		struct jslot *sl = jh_slot(jh, at);
		sl->value = vals[i];
		jh->count++;
		sl->w = 1; /* taken; the child's address comes later */
		struct unit *reuse = NULL;
		for (uint32_t p = oh ? jh_home(oh, vals[i], NULL) : 0;
		     oh && jh_slot(oh, p)->w; p = (p + 1) & (oh->cap - 1))
			if (jh_slot(oh, p)->value == vals[i]) {
				struct unit *ou = oh->units[p];
				if (ou && ou->root == kids[i] && ou->parent == oh)
					reuse = ou;
				break;
			}
		if (!grow(h, (void **)&c->pend, &c->cappend, c->npend,
		          sizeof *c->pend)) {
			c->err = DPF_ENOMEM;
			return;
		}
		struct pend *pd = &c->pend[c->npend++];
		pd->h = jh;
		pd->slot = at;
		pd->child = kids[i];
		pd->depth = c->depth + 1;
		pd->reuse = reuse;
		pd->built = NULL;
	}
	note(c, jh->noloop ? "%s: hash dispatch, %u entries, collision-free"
	                   : "%s: hash dispatch, %u entries", k, cnt);
	if (jh->direct)
		note(c, "(dense keys: a direct table, slot = value - base)", NULL, 0);
	emit_key(c, k, next);
	uint32_t found = label_new(s);
	emit_home(s, jh, 0, next);
	emit_probe(s, jh, 0, found, next);
	label_bind(s, found);
	emit3(s, 0x41, 0xff, 0xd2); /* call r10 */
}

/* One shape of a fused dispatch: its steps, shared by every record of
 * the shape, then one lookup of the fused key; a hit beats r9 or not.
 * v is in r11d, which the steps leave alone. */
static void emit_shape(struct cx *c, const struct jhash *jh)
{
	struct sink *s = c->s;
	const struct tshape *sh = &jh->shape;
	int shifts = 0;
	for (uint32_t i = 0; i < sh->n; i++)
		shifts |= sh->step[i].kind == DPF_ATOM_SHIFT;
	/* one value compared, by the last step: it stays in eax */
	int inreg = sh->ncmp == 1 && sh->step[sh->n - 1].kind == DPF_ATOM_CMP;
	int frame = (sh->ncmp > 0 && !inreg) || jh->seeded;
	uint32_t fail = label_new(s), hit = label_new(s);
	if (shifts)
		emit1(s, 0x53);             /* push rbx */
	if (frame)
	{
		emit3(s, 0x48, 0x83, 0xec); /* sub rsp, 24 */
		emit1(s, 24);
	}
	for (uint32_t i = 0, m = 0; i < sh->n; i++) {
		const struct dpf_atom *k = &sh->step[i];
		emit_field(c, k, fail);
		if (k->kind == DPF_ATOM_SHIFT) {
			emit_base(s, k);
			emit3(s, 0x48, 0x89, 0xc3); /* mov rbx, rax */
			continue;
		}
		emit_mask(s, k);
		if (inreg)
			continue;
		emit3(s, 0x89, 0x44, 0x24); /* mov [rsp + 4m], eax */
		emit1(s, (uint8_t)(4 * m++));
	}
	emit_home(s, jh, inreg, fail);
	emit_probe(s, jh, inreg, hit, fail);
	label_bind(s, hit);
	emit3(s, 0x4d, 0x39, 0xca);     /* cmp r10, r9 */
	jcc(s, CC_BE, fail);            /* jbe fail */
	emit3(s, 0x4d, 0x89, 0xd1);     /* mov r9, r10 */
	label_bind(s, fail);
	if (frame)
	{
		emit3(s, 0x48, 0x83, 0xc4); /* add rsp, 24 */
		emit1(s, 24);
	}
	if (shifts)
		emit1(s, 0x5b);             /* pop rbx */
}

/* A fused dispatch (plan.c): one table per shape, records as data.
 * Returns 0 (nothing emitted) when the subtree does not fuse. */
static int emit_fused(struct cx *c, const struct gslot *g, struct jgroup *jg,
                      const uint32_t *vals, const struct node *const *kids,
                      uint32_t cnt, uint32_t next)
{
	const struct dpf_host *h = &c->e->host;
	struct fplan *p = dpf_zalloc(h, sizeof *p);
	if (!p) {
		c->err = DPF_ENOMEM;
		return 1;
	}
	int rc = jit_fuse_plan(c->e, vals, kids, cnt, p);
	if (rc != 1 || p->nshapes == 0) {
		if (rc < 0)
			c->err = rc;
		jit_fuse_plan_free(h, p);
		dpf_free(h, p, sizeof *p);
		return rc < 0;
	}
	jg->kind = JG_FUSED;
	jg->n = p->nshapes;
	jg->tabs = ar_alloc(c, p->nshapes * sizeof *jg->tabs);
	for (uint32_t si = 0; jg->tabs && si < p->nshapes && !c->err; si++) {
		struct jhash *jh = ar_alloc(c, sizeof *jh);
		if (!jh)
			break;
		if (jit_fuse_table(c->j, p, si, jh) != DPF_OK) {
			c->err = DPF_ENOMEM;
			break;
		}
		jh->owner = c->u;
		jh->next = c->u->hashes;
		c->u->hashes = jh;
		c->j->st.data_bytes += jh_bytes(jh);
		jg->tabs[si] = jh;
	}
	if (!c->err && jg->tabs) {
		note(c, "%s: fused dispatch, %u entries", &g->key, cnt);
		emit_key(c, &g->key, next);
		for (uint32_t si = 0; si < p->nshapes; si++) {
			const struct jhash *jh = jg->tabs[si];
			char *nt = note_at(c);
			if (nt)
				dpf_fmt(nt, NOTE_MAX, "shape %u: %u steps, %u records, one "
				        "lookup on the fused key%s", si,
				        jh->shape.n, jh->count,
				        jh->direct ? ", direct"
				        : jh->noloop ? ", collision-free" : "");
			emit_shape(c, jh);
		}
	}
	jit_fuse_plan_free(h, p);
	dpf_free(h, p, sizeof *p);
	return 1;
}

static void emit_cmp_group(struct cx *c, const struct gslot *g,
                           struct jgroup *jg, const struct jgroup *og,
                           uint32_t next)
{
	struct sink *s = c->s;
	const struct dpf_host *h = &c->e->host;
	const struct dpf_atom *k = &g->key;
	const struct table *t = LOAD(((struct gslot *)g)->tab);
	uint32_t cap = t ? t->cap : 1, cnt = 0;
	uint32_t *vals = dpf_alloc(h, cap * sizeof *vals);
	const struct node **kids = dpf_alloc(h, cap * sizeof *kids);
	if (!vals || !kids) {
		c->err = DPF_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cap; i++) {
		const struct node *x = t ? LOAD(((struct table *)t)->s[i].child) : g->c1;
		if (!x || x == TOMB)
			continue;
		vals[cnt] = t ? t->s[i].value : g->v1;
		kids[cnt++] = x;
	}
	if (cnt > JIT_CHAIN) {
		if (!emit_fused(c, g, jg, vals, kids, cnt, next))
			emit_hash(c, g, jg, og, vals, kids, cnt, next);
		goto out;
	}
	jg->kind = JG_CHAIN;
	jg->n = cnt;
	jg->vals = ar_alloc(c, cnt * sizeof *jg->vals);
	jg->w = ar_alloc(c, cnt * sizeof *jg->w);
	jg->kids = ar_alloc(c, cnt * sizeof *jg->kids);
	if (!jg->vals || !jg->w || !jg->kids)
		goto out;
	/* Likely alternatives first: heaviest entry first, ties by value. */
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t w = jit_weight(c->e, kids[i]), v = vals[i];
		const struct node *x = kids[i];
		uint32_t at = i;
		while (at && (jg->w[at - 1] < w ||
		              (jg->w[at - 1] == w && jg->vals[at - 1] > v))) {
			jg->w[at] = jg->w[at - 1];
			jg->vals[at] = jg->vals[at - 1];
			kids[at] = kids[at - 1];
			at--;
		}
		jg->w[at] = w;
		jg->vals[at] = v;
		kids[at] = x;
	}
	note(c, cnt > 1 ? "%s: chain of %u, heaviest first" : "%s: chain of %u",
	     k, cnt);
	emit_field(c, k, next);
	emit_mask(s, k);
	/* Each entry falls through into its subtree on a match, so the likely
	 * path takes no branch; the last entry's miss is the group's exit. */
	for (uint32_t i = 0; i < cnt && !c->err; i++) {
		uint32_t miss = i + 1 < cnt ? label_new(s) : next;
		char *nt = note_at(c);
		if (nt)
			dpf_fmt(nt, NOTE_MAX, "== 0x%x: weight %u", jg->vals[i],
			        jg->w[i]);
		emit1(s, 0x3d); /* cmp eax, jit_bswap(value) */
		emit32(s, jit_bswap(jg->vals[i], k->width));
		jcc(s, CC_NE, miss);
		c->depth++;
		jg->kids[i] = emit_node(c, kids[i],
		                        old_kid(og, jg->vals[i], kids[i]));
		c->depth--;
		if (i + 1 < cnt) {
			jmp(s, next);
			label_bind(s, miss);
		}
	}
out:
	dpf_free(h, vals, cap * sizeof *vals);
	dpf_free(h, (void *)kids, cap * sizeof *kids);
}

/* The best live term of a body, recorded in r9 when it beats it. */
static void emit_terms(struct cx *c, const struct body *b, struct jnode *m)
{
	struct sink *s = c->s;
	m->best = jit_best(c->e, b);
	for (uint32_t i = 0; m->best >= 0 && i < b->nterms; i++) {
		const struct term *t = &b->terms[i];
		if (t->id != m->best)
			continue;
		uint64_t key = jit_term_key(t);
		uint32_t skip = label_new(s);
		note(c, "terms: best filter %s#%u", NULL, (uint32_t)t->id);
		emit2(s, 0x48, 0xb8); /* mov rax, imm64 key */
		emit64(s, key);
		emit3(s, 0x4c, 0x39, 0xc8); /* cmp rax, r9 */
		jcc(s, CC_BE, skip);        /* jbe skip */
		emit3(s, 0x49, 0x89, 0xc1); /* mov r9, rax */
		label_bind(s, skip);
		break;
	}
}

/* A gslot that is one packet-relative comparison: part of a straight run. */
static int run_step(const struct gslot *g)
{
	return g->key.kind == DPF_ATOM_CMP && g->key.base == DPF_BASE_PKT &&
	       !LOAD(((struct gslot *)g)->tab);
}

static struct jnode *jnode_new(struct cx *c, const struct node *n,
                               const struct body *b)
{
	struct jnode *m = ar_alloc(c, sizeof *m);
	if (!m)
		return NULL;
	m->n = n;
	m->b = b;
	m->best = -1;
	m->ngroups = b ? b->ngroups : 0;
	if (m->ngroups && !(m->g = ar_alloc(c, m->ngroups * sizeof *m->g)))
		return NULL;
	for (uint32_t i = 0; i < m->ngroups; i++)
		m->g[i].key = b->g[i].key;
	return m;
}

/* The old mirror's group comparing k's field. */
static const struct jgroup *old_group(const struct jnode *om,
                                      const struct dpf_atom *k)
{
	for (uint32_t i = 0; om && i < om->ngroups; i++)
		if (key_eq(k, &om->g[i].key))
			return &om->g[i];
	return NULL;
}

/*
 * A straight run: gslot g of some node, then nodes whose only group is
 * again one packet-relative comparison.  As DPF's maxoffset: one bounds
 * check for the whole run; a packet shorter than the run's furthest byte
 * takes a copy of the run that checks each atom, since it may still match
 * a term part-way along.  Both copies meet at the run's last node.
 */
#define RUN_MAX 32

static void emit_run(struct cx *c, const struct gslot *g, struct jgroup *jg,
                     const struct jgroup *og, uint32_t fail)
{
	struct sink *s = c->s;
	const struct gslot *steps[RUN_MAX];
	const struct body *mid[RUN_MAX]; /* body reached after step i */
	struct jnode *mj[RUN_MAX];       /* its mirror */
	uint32_t k = 0, maxend = 0;
	const struct node *n = NULL;
	const struct jnode *om = NULL;
	struct jgroup *cur = jg;
	for (const struct gslot *x = g; x && k < RUN_MAX;) {
		steps[k] = x;
		uint32_t end = (uint32_t)x->key.offset + x->key.width;
		maxend = end > maxend ? end : maxend;
		n = x->c1;
		om = old_kid(og, x->v1, n);
		const struct body *b = LOAD(((struct node *)n)->body);
		mid[k] = b;
		if (!group_one(c, cur, x->v1) || !(mj[k] = jnode_new(c, n, b)))
			return;
		cur->kids[0] = mj[k];
		k++;
		x = b && b->ngroups == 1 && run_step(&b->g[0]) ? &b->g[0] : NULL;
		if (x && k < RUN_MAX) {
			cur = &mj[k - 1]->g[0];
			og = old_group(om, &x->key);
		}
	}
	note(c, "%s: run of %u compares, one bounds check", &g->key, k);
	uint32_t slow = label_new(s), join = label_new(s);
	if (k > 1) {
		cmp_len_imm(s, maxend); /* cmp rsi, maxend */
		jcc(s, CC_B, slow);     /* jb slow */
		for (uint32_t i = 0; i < k; i++) {
			const struct dpf_atom *a = &steps[i]->key;
			load(s, a->width, 0, a->offset);
			emit_cmp1(s, a, steps[i]->v1, fail);
			if (i + 1 < k && mid[i])
				emit_terms(c, mid[i], mj[i]);
		}
		jmp(s, join);
		note(c, "%s: the run for short packets", &g->key, k);
	}
	label_bind(s, slow);
	for (uint32_t i = 0; i < k; i++) {
		const struct dpf_atom *a = &steps[i]->key;
		emit_field(c, a, fail);
		emit_cmp1(s, a, steps[i]->v1, fail);
		if (i + 1 < k && mid[i])
			emit_terms(c, mid[i], mj[i]);
	}
	label_bind(s, join);
	/* The run's last node: its groups, with the old mirror's children. */
	struct jnode *last = mj[k - 1];
	const struct body *b = mid[k - 1];
	if (!b)
		return;
	emit_terms(c, b, last);
	c->depth += k;
	emit_groups(c, b, last, om && om->n == n ? om : NULL);
	c->depth -= k;
}

static void emit_groups(struct cx *c, const struct body *b, struct jnode *m,
                        const struct jnode *om)
{
	struct sink *s = c->s;
	for (uint32_t i = 0; i < b->ngroups && !c->err; i++) {
		const struct gslot *g = &b->g[i];
		const struct jgroup *og = old_group(om, &g->key);
		uint32_t next = label_new(s);
		if (g->key.kind == DPF_ATOM_SHIFT)
			emit_shift(c, g, &m->g[i], og, next);
		else if (run_step(g))
			emit_run(c, g, &m->g[i], og, next);
		else
			emit_cmp_group(c, g, &m->g[i], og, next);
		label_bind(s, next);
	}
}

static struct jnode *emit_node(struct cx *c, const struct node *n,
                               const struct jnode *om)
{
	const struct body *b = LOAD(((struct node *)n)->body);
	if (c->err || c->s->err)
		return NULL;
	struct jnode *m = jnode_new(c, n, b);
	if (!m || !b)
		return m;
	emit_terms(c, b, m);
	emit_groups(c, b, m, om && om->n == n ? om : NULL);
	return m;
}

/* ---- units ---- */

static void unit_free_now(struct dpf_jit *j, struct unit *u)
{
	const struct dpf_host *h = &j->e->host;
	if (u->code.rw)
		cm_free(&j->cm, &u->code);
	for (struct jhash *x = u->hashes; x; x = x->next) {
		dpf_free(h, x->data, jh_bytes(x));
		dpf_free(h, x->units, x->cap * sizeof *x->units);
	}
	while (u->arena) {
		struct jchunk *k = u->arena;
		u->arena = k->next;
		dpf_free(h, k, sizeof *k + k->cap);
	}
	dpf_free(h, u, sizeof *u);
}

static void unit_dtor(struct dpf_engine *e, struct rhdr *hd)
{
	(void)e;
	struct unit *u = (struct unit *)hd;
	unit_free_now(u->j, u);
}

/* Account a unit leaving the live tree. */
static void unit_gone(struct dpf_jit *j, const struct unit *u)
{
	j->st.units--;
	j->st.code_bytes -= u->len;
	for (const struct jhash *x = u->hashes; x; x = x->next)
		j->st.data_bytes -= jh_bytes(x);
}

void jit_unit_discard(struct dpf_jit *j, struct unit *u)
{
	for (struct jhash *x = u->hashes; x; x = x->next)
		for (uint32_t i = 0; i < x->cap; i++)
			if (x->units && x->units[i] && x->units[i]->parent == x)
				jit_unit_discard(j, x->units[i]);
	if (u->len)
		unit_gone(j, u);
	else
		for (const struct jhash *x = u->hashes; x; x = x->next)
			j->st.data_bytes -= jh_bytes(x);
	unit_free_now(j, u);
}

void jit_unit_retire(struct dpf_jit *j, struct unit *u)
{
	for (struct jhash *x = u->hashes; x; x = x->next)
		for (uint32_t i = 0; i < x->cap; i++)
			if (x->units && x->units[i] && x->units[i]->parent == x)
				jit_unit_retire(j, x->units[i]);
	unit_gone(j, u);
	dpf_retire(j->e, &u->h);
}

void jit_unit_free_tree(struct dpf_jit *j, struct unit *u)
{
	for (struct jhash *x = u->hashes; x; x = x->next)
		for (uint32_t i = 0; i < x->cap; i++)
			if (x->units && x->units[i] && x->units[i]->parent == x)
				jit_unit_free_tree(j, x->units[i]);
	unit_gone(j, u);
	unit_free_now(j, u);
}

static void sink_reset(struct sink *s)
{
	s->len = 0;
	s->nlabels = 0;
	s->nfix = 0;
	s->err = 0;
}

static void prologue(struct sink *s)
{
	emit1(s, 0x53);             /* push rbx */
	emit2(s, 0x31, 0xdb);       /* xor ebx, ebx */
	emit3(s, 0x45, 0x31, 0xc9); /* xor r9d, r9d */
}

/* r9 -> id (65535 - low 16 bits), or DPF_NOMATCH when r9 is 0. */
static void epilogue(struct sink *s)
{
	uint32_t none = label_new(s);
	emit3(s, 0x4d, 0x85, 0xc9); /* test r9, r9 */
	jcc(s, CC_E, none);
	emit3(s, 0x44, 0x89, 0xc8); /* mov eax, r9d */
	emit1(s, 0x25);             /* and eax, 0xffff */
	emit32(s, 0xffff);
	emit2(s, 0xf7, 0xd8);       /* neg eax */
	emit1(s, 0x05);             /* add eax, 65535 */
	emit32(s, 65535);
	emit1(s, 0x5b);             /* pop rbx */
	emit1(s, 0xc3);             /* ret */
	label_bind(s, none);
	emit1(s, 0xb8);             /* mov eax, -1 */
	emit32(s, (uint32_t)DPF_NOMATCH);
	emit1(s, 0x5b);             /* pop rbx */
	emit1(s, 0xc3);             /* ret */
}

struct unit *jit_unit_build(struct dpf_jit *j, const struct node *n,
                            uint32_t depth, const struct unit *old)
{
	const struct dpf_host *h = &j->e->host;
	struct unit *u = dpf_zalloc(h, sizeof *u);
	if (!u) {
		dpf_fmt(j->why, sizeof j->why, "out of memory");
		return NULL;
	}
	u->h.size = sizeof *u;
	u->h.release_id = -1;
	u->h.dtor = unit_dtor;
	u->j = j;
	u->root = n;
	u->depth = depth;
	struct cx c;
	dpf_memset(&c, 0, sizeof c);
	c.j = j;
	c.e = j->e;
	c.s = &j->s;
	c.u = u;
	c.depth = depth;
	struct sink *s = &j->s;
	sink_reset(s);
	int top = n == j->e->root;
	if (top) {
		note(&c, "entry: classify(rdi = pkt, rsi = len)", NULL, 0);
		prologue(s);
	}
	u->top = emit_node(&c, n, old ? old->top : NULL);
	if (top) {
		note(&c, "exit: best candidate to filter id", NULL, 0);
		epilogue(s);
	} else {
		emit1(s, 0xc3); /* ret */
	}
	sink_resolve(s);
	int err = c.err ? c.err : s->err;
	if (err) {
		dpf_fmt(j->why, sizeof j->why, "%s",
		        err == DPF_ENOMEM ? "out of memory" : "code too large");
		goto fail;
	}
	if (cm_alloc(&j->cm, s->len, &u->code) != DPF_OK) {
		dpf_fmt(j->why, sizeof j->why, "out of code memory");
		goto fail;
	}
	dpf_memcpy(u->code.rw, s->buf, s->len);
	u->len = s->len;
	j->st.units++;
	j->st.code_bytes += u->len;
	j->st.builds++;
	/* Child units: build every new one before attaching any, so a failure
	 * leaves the old units where they were. */
	for (uint32_t i = 0; i < c.npend; i++) {
		struct pend *pd = &c.pend[i];
		if (pd->reuse)
			continue;
		pd->built = jit_unit_build(j, pd->child, pd->depth, NULL);
		if (!pd->built)
			goto fail;
	}
	for (uint32_t i = 0; i < c.npend; i++) {
		struct pend *pd = &c.pend[i];
		struct unit *cu = pd->reuse ? pd->reuse : pd->built;
		cu->parent = pd->h;
		cu->pslot = pd->slot;
		pd->h->units[pd->slot] = cu;
		jh_slot(pd->h, pd->slot)->w = (uint64_t)(uintptr_t)cu->code.rx;
	}
	dpf_free(h, c.pend, c.cappend * sizeof *c.pend);
	return u;
fail:
	for (uint32_t i = 0; i < c.npend; i++)
		if (c.pend[i].built)
			jit_unit_discard(j, c.pend[i].built);
	dpf_free(h, c.pend, c.cappend * sizeof *c.pend);
	jit_unit_discard(j, u);
	return NULL;
}
