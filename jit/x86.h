/*
 * x86.h - the two lower layers of the x86-64 emitter.
 *
 * Layer 1, the byte sink: a growable buffer with a sticky error.  Emitters
 * never check for failure; the caller checks sink.err once at the end.
 * Layer 2, encoding helpers named by operand form; every byte sequence
 * carries its assembly in a comment.  Labels are positions bound later;
 * every branch is rel32 and recorded as a fixup resolved in one pass.
 */
#ifndef DPF_JIT_X86_H
#define DPF_JIT_X86_H

#include "dpf/internal.h"

struct fixup {
	uint32_t at;    /* position of the rel32 */
	uint32_t label;
};

struct sink {
	const struct dpf_host *h;
	uint8_t *buf;
	uint32_t len, cap;
	uint32_t *labels; /* label -> position, or UINT32_MAX while unbound */
	uint32_t nlabels, caplabels;
	struct fixup *fix;
	uint32_t nfix, capfix;
	int err; /* sticky: DPF_ENOMEM or DPF_ELIMIT */
};

#define SINK_MAX (64u << 20) /* code larger than this is refused */

/* Grow an array of n elements of size sz to hold one more. */
static inline int grow(const struct dpf_host *h, void **arr, uint32_t *cap,
                       uint32_t n, size_t sz)
{
	if (n < *cap)
		return 1;
	uint32_t nc = *cap ? *cap * 2 : 256;
	void *na = dpf_alloc(h, nc * sz);
	if (!na)
		return 0;
	if (n)
		dpf_memcpy(na, *arr, n * sz);
	dpf_free(h, *arr, *cap * sz);
	*arr = na;
	*cap = nc;
	return 1;
}

static inline void emit1(struct sink *s, uint8_t b)
{
	if (s->err)
		return;
	if (s->len >= SINK_MAX) {
		s->err = DPF_ELIMIT;
		return;
	}
	if (!grow(s->h, (void **)&s->buf, &s->cap, s->len, 1)) {
		s->err = DPF_ENOMEM;
		return;
	}
	s->buf[s->len++] = b;
}

static inline void emit2(struct sink *s, uint8_t a, uint8_t b)
{
	emit1(s, a);
	emit1(s, b);
}

static inline void emit3(struct sink *s, uint8_t a, uint8_t b, uint8_t c)
{
	emit1(s, a);
	emit1(s, b);
	emit1(s, c);
}

static inline void emit32(struct sink *s, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		emit1(s, (uint8_t)(v >> (8 * i)));
}

static inline void emit64(struct sink *s, uint64_t v)
{
	emit32(s, (uint32_t)v);
	emit32(s, (uint32_t)(v >> 32));
}

static inline uint32_t label_new(struct sink *s)
{
	if (s->err)
		return 0;
	if (!grow(s->h, (void **)&s->labels, &s->caplabels, s->nlabels,
	          sizeof *s->labels)) {
		s->err = DPF_ENOMEM;
		return 0;
	}
	s->labels[s->nlabels] = UINT32_MAX;
	return s->nlabels++;
}

static inline void label_bind(struct sink *s, uint32_t l)
{
	if (!s->err)
		s->labels[l] = s->len;
}

/* A rel32 to label l, patched by sink_resolve(). */
static inline void emit_rel32(struct sink *s, uint32_t l)
{
	if (s->err)
		return;
	if (!grow(s->h, (void **)&s->fix, &s->capfix, s->nfix, sizeof *s->fix)) {
		s->err = DPF_ENOMEM;
		return;
	}
	s->fix[s->nfix].at = s->len;
	s->fix[s->nfix++].label = l;
	emit32(s, 0);
}

static inline void sink_resolve(struct sink *s)
{
	for (uint32_t i = 0; !s->err && i < s->nfix; i++) {
		uint32_t at = s->fix[i].at, to = s->labels[s->fix[i].label];
		DPF_ASSERT(to != UINT32_MAX);
		uint32_t rel = to - (at + 4);
		for (int k = 0; k < 4; k++)
			s->buf[at + k] = (uint8_t)(rel >> (8 * k));
	}
}

/* ---- encodings (registers: rdi pkt, rsi len, rbx base, r9 best key) ---- */

enum cc { CC_B = 0x2, CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_BE = 0x6, CC_A = 0x7 };

static inline void jcc(struct sink *s, enum cc c, uint32_t l)
{
	emit2(s, 0x0f, (uint8_t)(0x80 | c)); /* jcc rel32 */
	emit_rel32(s, l);
}

static inline void jmp(struct sink *s, uint32_t l)
{
	emit1(s, 0xe9); /* jmp rel32 */
	emit_rel32(s, l);
}

/* cmp rsi, imm32 */
static inline void cmp_len_imm(struct sink *s, uint32_t v)
{
	emit3(s, 0x48, 0x81, 0xfe);
	emit32(s, v);
}

/* eax = zero-extended little-endian load of width w at [rdi + disp]
 * (rel: [rdi + rbx + disp]). */
static inline void load(struct sink *s, unsigned w, int rel, uint32_t disp)
{
	if (w == 1)
		emit2(s, 0x0f, 0xb6); /* movzx eax, byte [...] */
	else if (w == 2)
		emit2(s, 0x0f, 0xb7); /* movzx eax, word [...] */
	else
		emit1(s, 0x8b); /* mov eax, dword [...] */
	if (rel)
		emit2(s, 0x84, 0x1f); /* modrm [sib + disp32], sib rdi + rbx */
	else
		emit1(s, 0x87); /* modrm [rdi + disp32] */
	emit32(s, disp);
}

#endif
