/*
 * x86_emit.c - compile a trie snapshot to x86-64 (layer 3 of the emitter:
 * one function per trie construct; layers 1 and 2 are in x86.h).
 *
 * Generated code, SysV ABI:  int classify(const uint8_t *pkt, size_t len)
 *
 *   rdi pkt   rsi len   rbx current base (saved)   r9 best key (0: none)
 *   rax rcx rdx r8 r10 scratch
 *
 * The code walks the trie as the interpreter does, every matching sibling
 * in turn, keeping the best candidate in r9 as one 64-bit key ordered as
 * the interpreter ranks: (priority << 48) | ((specificity + 1) << 16) |
 * (65535 - id), so "higher key" is "better" and 0 means no match.
 *
 * Specialisation: constants are immediates, pre-swapped to the packet's
 * byte order so loads need no byte swap; full masks are dropped; a node's
 * single entry is one compare; up to JIT_CHAIN entries are a compare chain;
 * larger tables are a hash lookup (multiplier and shift as immediates)
 * into a jump table of (value, target) pairs, held as data beside the code.
 * Loads are bounds checked against len: once for a straight run of
 * packet-relative comparisons (to its furthest byte, DPF's maxoffset), with
 * a per-atom copy of the run for shorter packets; a packet too short for a
 * field fails that field's group, as in the interpreter.
 */
#include "jit/jit.h"

#include "dpf/trie.h"
#include "jit/x86.h"

#define JIT_CHAIN 8 /* entries compared in a chain before hashing */

struct jtab {      /* a jump table, patched once the code is placed */
	uint32_t imm;  /* position of the imm64 that holds its address */
	uint32_t cap;  /* power of two */
	uint32_t first; /* first entry in cx->ent */
};

struct jent {
	uint32_t value;
	uint32_t label; /* child code */
};

struct cx {
	const struct dpf_engine *e;
	struct sink s;
	struct jtab *tabs;
	uint32_t ntabs, captabs;
	struct jent *ent; /* cap slots per table, label UINT32_MAX when empty */
	uint32_t nent, capent;
};

struct dpf_jit {
	const struct dpf_host *h;
	struct jit_mem mem;
	uint8_t *code;
	size_t code_size;
	struct jslot *data;
	size_t data_size;
};

/* Jump-table slot as the generated code reads it. */
struct jslot {
	uint32_t value, pad;
	uint64_t target; /* 0: empty */
};

static uint32_t bswap(uint32_t v, unsigned width)
{
	if (width == 1)
		return v;
	if (width == 2)
		return (v >> 8 & 0xff) | (v & 0xff) << 8;
	return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static void emit_node(struct cx *c, const struct node *n);

/* Bounds check and load of a group's field into eax (packet byte order);
 * jumps to `fail` when the packet is too short. */
static void emit_field(struct cx *c, const struct dpf_atom *k, uint32_t fail)
{
	struct sink *s = &c->s;
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
		emit2(s, 0x86, 0xc4); /* xchg ah, al */
	else if (w == 4)
		emit2(s, 0x0f, 0xc8); /* bswap eax */
}

static void emit_shift(struct cx *c, const struct gslot *g, uint32_t next)
{
	struct sink *s = &c->s;
	const struct dpf_atom *k = &g->key;
	emit_field(c, k, next);
	emit_to_host(s, k->width);
	emit1(s, 0x25); /* and eax, imm32 */
	emit32(s, k->mask);
	if (k->shift)
		emit3(s, 0xc1, 0xe0, k->shift); /* shl eax, k */
	if (k->base == DPF_BASE_REL)
		emit3(s, 0x48, 0x01, 0xd8); /* add rax, rbx */
	emit1(s, 0x53);             /* push rbx */
	emit3(s, 0x48, 0x89, 0xc3); /* mov rbx, rax */
	emit_node(c, gs_find(g, 0));
	emit1(s, 0x5b); /* pop rbx */
}

static void emit_hash(struct cx *c, const struct gslot *g, const uint32_t *vals,
                      const struct node *const *kids, uint32_t cnt,
                      uint32_t next)
{
	struct sink *s = &c->s;
	const struct dpf_atom *k = &g->key;
	uint32_t cap = 8, lg = 3;
	while (cap < 2 * cnt) {
		cap *= 2;
		lg++;
	}
	if (!grow(&c->e->host, (void **)&c->tabs,
	          &c->captabs, c->ntabs, sizeof *c->tabs)) {
		s->err = DPF_ENOMEM;
		return;
	}
	while (c->nent + cap > c->capent)
		if (!grow(&c->e->host, (void **)&c->ent, &c->capent, c->capent,
		          sizeof *c->ent)) {
			s->err = DPF_ENOMEM;
			return;
		}
	struct jtab *t = &c->tabs[c->ntabs++];
	t->cap = cap;
	t->first = c->nent;
	struct jent *e = &c->ent[c->nent];
	c->nent += cap;
	for (uint32_t i = 0; i < cap; i++)
		e[i].label = UINT32_MAX;
	uint32_t *labels = (uint32_t *)dpf_alloc(&c->e->host, cnt * sizeof *labels);
	if (!labels) {
		s->err = DPF_ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		labels[i] = label_new(s);
		uint32_t h = (uint32_t)(vals[i] * 0x9E3779B1u) >> (32 - lg);
		while (e[h].label != UINT32_MAX)
			h = (h + 1) & (cap - 1);
		e[h].value = vals[i];
		e[h].label = labels[i];
	}
	emit_to_host(s, k->width);
	if (k->mask != dpf_width_mask(k->width)) {
		emit1(s, 0x25); /* and eax, imm32 */
		emit32(s, k->mask);
	}
	emit3(s, 0x69, 0xc8, 0xb1);     /* imul ecx, eax, 0x9e3779b1 */
	emit3(s, 0x79, 0x37, 0x9e);
	emit3(s, 0xc1, 0xe9, (uint8_t)(32 - lg)); /* shr ecx, 32 - lg */
	emit2(s, 0x48, 0xba);                     /* mov rdx, imm64 (table) */
	t->imm = s->len;
	emit64(s, 0);
	uint32_t probe = label_new(s);
	label_bind(s, probe);
	emit3(s, 0x49, 0x89, 0xc8);       /* mov r8, rcx */
	emit3(s, 0x49, 0xc1, 0xe0);       /* shl r8, 4 */
	emit1(s, 4);
	emit3(s, 0x49, 0x01, 0xd0);       /* add r8, rdx */
	emit3(s, 0x4d, 0x8b, 0x50);       /* mov r10, [r8 + 8] */
	emit1(s, 8);
	emit3(s, 0x4d, 0x85, 0xd2);       /* test r10, r10 */
	jcc(s, CC_E, next);               /* je next: empty slot */
	emit3(s, 0x41, 0x3b, 0x00);       /* cmp eax, [r8] */
	uint32_t found = label_new(s);
	jcc(s, CC_E, found);
	emit2(s, 0xff, 0xc1);             /* inc ecx */
	emit2(s, 0x81, 0xe1);             /* and ecx, cap - 1 */
	emit32(s, cap - 1);
	jmp(s, probe);
	label_bind(s, found);
	emit3(s, 0x41, 0xff, 0xe2);       /* jmp r10 */
	for (uint32_t i = 0; i < cnt; i++) {
		label_bind(s, labels[i]);
		emit_node(c, kids[i]);
		jmp(s, next);
	}
	dpf_free(&c->e->host, labels, cnt * sizeof *labels);
}

static void emit_cmp1(struct sink *s, const struct dpf_atom *k, uint32_t v,
                      uint32_t fail)
{
	if (k->mask != dpf_width_mask(k->width)) {
		emit1(s, 0x25); /* and eax, bswap(mask) */
		emit32(s, bswap(k->mask, k->width));
	}
	emit1(s, 0x3d); /* cmp eax, bswap(value) */
	emit32(s, bswap(v, k->width));
	jcc(s, CC_NE, fail);
}

static void emit_cmp_group(struct cx *c, const struct gslot *g, uint32_t next)
{
	struct sink *s = &c->s;
	const struct dpf_atom *k = &g->key;
	const struct table *t = LOAD(((struct gslot *)g)->tab);
	uint32_t cap = t ? t->cap : 1, cnt = 0;
	uint32_t *vals = dpf_alloc(&c->e->host, cap * sizeof *vals);
	const struct node **kids = dpf_alloc(&c->e->host, cap * sizeof *kids);
	if (!vals || !kids) {
		s->err = DPF_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < cap; i++) {
		const struct node *x = t ? LOAD(((struct table *)t)->s[i].child) : g->c1;
		if (!x || x == TOMB)
			continue;
		vals[cnt] = t ? t->s[i].value : g->v1;
		kids[cnt++] = x;
	}
	emit_field(c, k, next);
	if (cnt > JIT_CHAIN) {
		emit_hash(c, g, vals, kids, cnt, next);
		goto out;
	}
	if (cnt == 1) {
		emit_cmp1(s, k, vals[0], next);
		emit_node(c, kids[0]);
		goto out;
	}
	if (k->mask != dpf_width_mask(k->width)) {
		emit1(s, 0x25); /* and eax, bswap(mask) */
		emit32(s, bswap(k->mask, k->width));
	}
	uint32_t lab[JIT_CHAIN];
	for (uint32_t i = 0; i < cnt; i++) {
		lab[i] = label_new(s);
		emit1(s, 0x3d); /* cmp eax, bswap(value) */
		emit32(s, bswap(vals[i], k->width));
		jcc(s, CC_E, lab[i]);
	}
	jmp(s, next);
	for (uint32_t i = 0; i < cnt; i++) {
		label_bind(s, lab[i]);
		emit_node(c, kids[i]);
		if (i + 1 < cnt)
			jmp(s, next);
	}
out:
	dpf_free(&c->e->host, vals, cap * sizeof *vals);
	dpf_free(&c->e->host, (void *)kids, cap * sizeof *kids);
}

/* The best live term of a body, recorded in r9 when it beats it. */
static void emit_terms(struct cx *c, const struct body *b)
{
	struct sink *s = &c->s;
	for (uint32_t i = 0; i < b->nterms; i++) {
		const struct term *t = &b->terms[i];
		if (!atomic_load(&c->e->live[t->id]))
			continue;
		uint64_t key = (uint64_t)t->prio << 48 |
		               (uint64_t)(t->spec + 1) << 16 | (uint32_t)(65535 - t->id);
		uint32_t skip = label_new(s);
		emit2(s, 0x48, 0xb8); /* mov rax, imm64 key */
		emit64(s, key);
		emit3(s, 0x4c, 0x39, 0xc8); /* cmp rax, r9 */
		jcc(s, CC_BE, skip);        /* jbe skip */
		emit3(s, 0x49, 0x89, 0xc1); /* mov r9, rax */
		label_bind(s, skip);
		break; /* terms are sorted best first */
	}
}

/* A gslot that is one packet-relative comparison: part of a straight run. */
static int run_step(const struct gslot *g)
{
	return g->key.kind == DPF_ATOM_CMP && g->key.base == DPF_BASE_PKT &&
	       !LOAD(((struct gslot *)g)->tab);
}

/*
 * A straight run: gslot g of some node, then nodes whose only group is
 * again one packet-relative comparison.  As DPF's maxoffset: one bounds
 * check for the whole run; a packet shorter than the run's furthest byte
 * takes a copy of the run that checks each atom, since it may still match
 * a term part-way along.  Both copies meet at the run's last node.
 */
#define RUN_MAX 32

static void emit_run(struct cx *c, const struct gslot *g, uint32_t fail)
{
	struct sink *s = &c->s;
	const struct gslot *steps[RUN_MAX];
	const struct body *mid[RUN_MAX]; /* body reached after step i */
	uint32_t k = 0, maxend = 0;
	const struct node *n = NULL;
	for (const struct gslot *x = g; x && k < RUN_MAX;) {
		steps[k] = x;
		uint32_t end = (uint32_t)x->key.offset + x->key.width;
		maxend = end > maxend ? end : maxend;
		n = x->c1;
		const struct body *b = LOAD(((struct node *)n)->body);
		mid[k++] = b;
		x = b && b->ngroups == 1 && run_step(&b->g[0]) ? &b->g[0] : NULL;
	}
	uint32_t slow = label_new(s), join = label_new(s);
	if (k > 1) {
		cmp_len_imm(s, maxend); /* cmp rsi, maxend */
		jcc(s, CC_B, slow);     /* jb slow */
		for (uint32_t i = 0; i < k; i++) {
			const struct dpf_atom *a = &steps[i]->key;
			load(s, a->width, 0, a->offset);
			emit_cmp1(s, a, steps[i]->v1, fail);
			if (i + 1 < k && mid[i])
				emit_terms(c, mid[i]);
		}
		jmp(s, join);
	}
	label_bind(s, slow);
	for (uint32_t i = 0; i < k; i++) {
		const struct dpf_atom *a = &steps[i]->key;
		emit_field(c, a, fail);
		emit_cmp1(s, a, steps[i]->v1, fail);
		if (i + 1 < k && mid[i])
			emit_terms(c, mid[i]);
	}
	label_bind(s, join);
	emit_node(c, n);
}

static void emit_node(struct cx *c, const struct node *n)
{
	struct sink *s = &c->s;
	const struct body *b = LOAD(((struct node *)n)->body);
	if (!b || s->err)
		return;
	emit_terms(c, b);
	for (uint32_t i = 0; i < b->ngroups; i++) {
		const struct gslot *g = &b->g[i];
		uint32_t next = label_new(s);
		if (g->key.kind == DPF_ATOM_SHIFT)
			emit_shift(c, g, next);
		else if (run_step(g))
			emit_run(c, g, next);
		else
			emit_cmp_group(c, g, next);
		label_bind(s, next);
	}
}

static void cx_free(struct cx *c)
{
	const struct dpf_host *h = &c->e->host;
	dpf_free(h, c->s.buf, c->s.cap);
	dpf_free(h, c->s.labels, c->s.caplabels * sizeof *c->s.labels);
	dpf_free(h, c->s.fix, c->s.capfix * sizeof *c->s.fix);
	dpf_free(h, c->tabs, c->captabs * sizeof *c->tabs);
	dpf_free(h, c->ent, c->capent * sizeof *c->ent);
}

int jit_compile(const struct dpf_engine *e, const struct jit_mem *mem,
                struct dpf_jit **out, struct dpf_diag *d)
{
	struct cx c;
	dpf_memset(&c, 0, sizeof c);
	c.e = e;
	c.s.h = &e->host;
	*out = NULL;
	struct sink *s = &c.s;

	emit1(s, 0x53);             /* push rbx */
	emit2(s, 0x31, 0xdb);       /* xor ebx, ebx */
	emit3(s, 0x45, 0x31, 0xc9); /* xor r9d, r9d */
	emit_node(&c, e->root);
	uint32_t none = label_new(s);
	emit3(s, 0x4d, 0x85, 0xc9); /* test r9, r9 */
	jcc(s, CC_E, none);
	emit3(s, 0x44, 0x89, 0xc8); /* mov eax, r9d */
	emit1(s, 0x25);             /* and eax, 0xffff */
	emit32(s, 0xffff);
	emit1(s, 0xf7);             /* neg eax */
	emit1(s, 0xd8);
	emit1(s, 0x05);             /* add eax, 65535 */
	emit32(s, 65535);
	emit1(s, 0x5b);             /* pop rbx */
	emit1(s, 0xc3);             /* ret */
	label_bind(s, none);
	emit1(s, 0xb8);             /* mov eax, -1 */
	emit32(s, (uint32_t)DPF_NOMATCH);
	emit1(s, 0x5b);             /* pop rbx */
	emit1(s, 0xc3);             /* ret */
	sink_resolve(s);
	if (s->err) {
		dpf_fmt(d->msg, sizeof d->msg, "code generation failed: %s",
		        s->err == DPF_ENOMEM ? "out of memory" : "code too large");
		int rc = s->err;
		cx_free(&c);
		return rc;
	}

	struct dpf_jit *j = dpf_zalloc(&e->host, sizeof *j);
	uint8_t *code = mem->map(mem->ctx, s->len);
	size_t dsize = c.nent * sizeof(struct jslot);
	struct jslot *data = dsize ? dpf_zalloc(&e->host, dsize) : NULL;
	if (!j || !code || (dsize && !data)) {
		if (code)
			mem->unmap(mem->ctx, code, s->len);
		dpf_free(&e->host, data, dsize);
		dpf_free(&e->host, j, sizeof *j);
		cx_free(&c);
		dpf_fmt(d->msg, sizeof d->msg, "out of %s memory",
		        code ? "data" : "code");
		return DPF_ENOMEM;
	}
	dpf_memcpy(code, s->buf, s->len);
	for (uint32_t i = 0; i < c.ntabs; i++) {
		const struct jtab *t = &c.tabs[i];
		uint64_t addr = (uint64_t)(uintptr_t)&data[t->first];
		for (int k = 0; k < 8; k++)
			code[t->imm + k] = (uint8_t)(addr >> (8 * k));
		for (uint32_t k = 0; k < t->cap; k++) {
			const struct jent *en = &c.ent[t->first + k];
			if (en->label == UINT32_MAX)
				continue;
			data[t->first + k].value = en->value;
			data[t->first + k].target =
				(uint64_t)(uintptr_t)(code + s->labels[en->label]);
		}
	}
	if (mem->seal(mem->ctx, code, s->len) != 0) {
		mem->unmap(mem->ctx, code, s->len);
		dpf_free(&e->host, data, dsize);
		dpf_free(&e->host, j, sizeof *j);
		cx_free(&c);
		dpf_fmt(d->msg, sizeof d->msg, "cannot make code executable");
		return DPF_EINVAL;
	}
	j->h = &e->host;
	j->mem = *mem;
	j->code = code;
	j->code_size = s->len;
	j->data = data;
	j->data_size = dsize;
	cx_free(&c);
	*out = j;
	return DPF_OK;
}

void jit_free(struct dpf_jit *j)
{
	if (!j)
		return;
	j->mem.unmap(j->mem.ctx, j->code, j->code_size);
	dpf_free(j->h, j->data, j->data_size);
	dpf_free(j->h, j, sizeof *j);
}

jit_fn jit_function(const struct dpf_jit *j)
{
	jit_fn f;
	void *p = j->code;
	dpf_memcpy(&f, &p, sizeof f);
	return f;
}

size_t jit_code_size(const struct dpf_jit *j)
{
	return j->code_size;
}
