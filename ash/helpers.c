/*
 * helpers.c - the helper functions of helpers.def, with Linux's
 * semantics and return values (negative errno), except bpf_loop, which
 * the interpreter runs (it pushes frames).
 *
 * Interface: ash_call_helper(r, id) reads r1-r5 from r->reg and sets
 * r0 (the interpreter's dispatch); ash_helper_native(id) gives the
 * native code (ASH_ENGINE_X86) a function to call directly with r1-r5
 * as SysV arguments and the struct jit_ash_state as the sixth.  Both
 * run one implementation per helper (h_*: arguments in, r0 out, a fault
 * recorded with ash_fault).  In checked mode every memory argument is checked like a load or
 * store (ash_check).  In both modes a helper refuses, as a fault, what
 * would corrupt the host: a map argument that is no map of the program
 * (or of the wrong type), a context argument that is not the context,
 * a ring-buffer record that is not reserved (ASH_FAULT_HELPER), an XDP
 * helper in raw-memory mode (ASH_FAULT_ESCAPE).
 *
 * Choices where Linux leaves room:
 *   trace_printk  Linux's format rules (bpf_bprintf_prepare): at most 3
 *                 arguments, flags "0+- " and a width, then d i u x X c
 *                 with l or ll; %s and %p are refused (-EINVAL) since a
 *                 handler has no kernel strings; non-printable bytes are
 *                 refused.  The text (at most 1023 bytes) goes to
 *                 env->trace; the return value is its full length.
 *   csum_diff     Linux >= 6.13: csum_partial over the to and from words
 *                 (native-endian 32-bit words, a trailing partial word
 *                 zero-padded) folded to 16 bits with csum_from32to16;
 *                 no size errors; both sizes 0 return the seed.
 *   prandom       env->prandom, else xorshift64 seeded per program.
 *   dpf_ash_copy  DPF's own (dpf_ash.h): the generic loop of dilp.c;
 *                 -EINVAL, nothing written, when [off, off + len) is
 *                 not inside the frame.
 */
#include "ash/ash_int.h"
#include "ash/dilp.h"

/* ---- checksums (lib/checksum.c semantics) ---- */
static uint32_t csum_partial(const uint8_t *b, uint32_t len, uint32_t seed)
{
	uint64_t acc = seed;
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t w = 0;
		for (uint32_t k = 0; k < 4 && i + k < len; k++)
			w |= (uint32_t)b[i + k] << (8 * k);
		acc += w;
	}
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

static uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t s = a + b;
	return s + (s < b);
}

static uint16_t from32to16(uint32_t x)
{
	x += (x >> 16) | (x << 16);
	return (uint16_t)(x >> 16);
}

uint64_t ash_csum_diff(const uint8_t *from, uint32_t from_size,
                       const uint8_t *to, uint32_t to_size, uint32_t seed)
{
	if (from_size && to_size)
		return from32to16(csum_add(csum_partial(to, to_size, seed),
		                           ~csum_partial(from, from_size, 0)));
	if (to_size)
		return from32to16(csum_partial(to, to_size, seed));
	if (from_size)
		return from32to16(~csum_partial(from, from_size, ~seed));
	return seed;
}

/* ---- trace_printk ---- */
#define TRACE_MAX 1024

struct tbuf {
	char s[TRACE_MAX];
	uint32_t len; /* full length, may pass TRACE_MAX - 1 */
};

static void tput(struct tbuf *t, char c)
{
	if (t->len + 1 < TRACE_MAX)
		t->s[t->len] = c;
	t->len++;
}

struct spec {
	int minus, zero, plus, space;
	uint32_t width;
};

static void tpad(struct tbuf *t, char c, uint32_t n)
{
	while (n--)
		tput(t, c);
}

static void tnum(struct tbuf *t, const struct spec *sp, uint64_t v, int neg,
                 unsigned base, int upper)
{
	char d[24];
	uint32_t n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		d[n++] = digits[v % base];
		v /= base;
	} while (v);
	char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
	uint32_t len = n + (sign != 0);
	uint32_t pad = sp->width > len ? sp->width - len : 0;
	if (!sp->minus && !sp->zero)
		tpad(t, ' ', pad);
	if (sign)
		tput(t, sign);
	if (!sp->minus && sp->zero)
		tpad(t, '0', pad);
	while (n)
		tput(t, d[--n]);
	if (sp->minus)
		tpad(t, ' ', pad);
}

static int64_t trace_printk(struct ash_run *r, const char *fmt, uint32_t size,
                            const uint64_t *args)
{
	uint32_t end = 0;
	while (end < size && fmt[end])
		end++;
	if (end == size)
		return -ASH_EINVAL; /* no NUL inside fmt_size */
	struct tbuf t;
	t.len = 0;
	uint32_t nargs = 0;
	for (uint32_t i = 0; i < end; i++) {
		char c = fmt[i];
		if ((unsigned char)c >= 0x7f || (c < 0x20 && !(c >= 9 && c <= 13)))
			return -ASH_EINVAL;
		if (c != '%') {
			tput(&t, c);
			continue;
		}
		if (fmt[i + 1] == '%') {
			tput(&t, '%');
			i++;
			continue;
		}
		if (nargs >= 3)
			return -ASH_EINVAL;
		struct spec sp = {0, 0, 0, 0, 0};
		i++;
		for (;; i++) {
			if (fmt[i] == '0') sp.zero = 1;
			else if (fmt[i] == '+') sp.plus = 1;
			else if (fmt[i] == '-') sp.minus = 1;
			else if (fmt[i] == ' ') sp.space = 1;
			else break;
		}
		while (fmt[i] >= '0' && fmt[i] <= '9' && sp.width < 100000)
			sp.width = sp.width * 10 + (uint32_t)(fmt[i++] - '0');
		uint64_t v = args[nargs++];
		if (fmt[i] == 'c') {
			uint32_t pad = sp.width > 1 ? sp.width - 1 : 0;
			if (!sp.minus)
				tpad(&t, ' ', pad);
			tput(&t, (char)v);
			if (sp.minus)
				tpad(&t, ' ', pad);
			continue;
		}
		int l = 0;
		if (fmt[i] == 'l') {
			l = 1;
			i++;
			if (fmt[i] == 'l')
				i++;
		}
		char k = fmt[i];
		if (k != 'd' && k != 'i' && k != 'u' && k != 'x' && k != 'X')
			return -ASH_EINVAL; /* %s, %p and the rest */
		if (!l)
			v = (k == 'd' || k == 'i') ? (uint64_t)(int64_t)(int32_t)v
			                           : (uint32_t)v;
		if (k == 'd' || k == 'i') {
			int neg = (int64_t)v < 0;
			tnum(&t, &sp, neg ? 0 - v : v, neg, 10, 0);
		} else {
			tnum(&t, &sp, v, 0, k == 'u' ? 10 : 16, k == 'X');
		}
	}
	t.s[t.len < TRACE_MAX ? t.len : TRACE_MAX - 1] = 0;
	if (r->p->env.trace)
		r->p->env.trace(r->p->env.ctx, t.s);
	return t.len;
}

/* ---- the helpers ---- */
static int need_map(struct ash_run *r, uint32_t id, uint64_t v,
                    struct ash_map **m, int ringbuf)
{
	*m = ash_map_from_reg(r->p, v);
	if (!*m || ((*m)->def->type == ASH_MAP_RINGBUF) != ringbuf)
		return ash_fault(r, ASH_FAULT_HELPER,
		                 "at %u: helper %s: r1 is not a %s", r->pc,
		                 ash_helper(id)->name,
		                 ringbuf ? "ring buffer" : "map");
	return 0;
}

static int need_ctx(struct ash_run *r, uint32_t id, uint64_t v)
{
	if (v != (uint64_t)(uintptr_t)&r->ctx || !r->x)
		return ash_fault(r, ASH_FAULT_HELPER,
		                 "at %u: helper %s: r1 is not the context", r->pc,
		                 ash_helper(id)->name);
	return 0;
}

/* Checked mode: a helper's memory argument. */
static int arg(struct ash_run *r, uint32_t id, uint64_t a, uint64_t n,
               int store)
{
	if (!r->checked || n == 0)
		return 0;
	char what[64];
	ash_fmt(what, sizeof what, "helper %s %s", ash_helper(id)->name,
	        store ? "write" : "read");
	return ash_check(r, a, n, store, what);
}

static uint64_t prandom(struct ash_run *r)
{
	if (r->p->env.prandom)
		return r->p->env.prandom(r->p->env.ctx);
	uint64_t x = r->p->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	r->p->rng = x;
	return (uint32_t)(x >> 16);
}

static uint64_t ret(int64_t v)
{
	return (uint64_t)v;
}

/* One helper: r0 from r1-r5; a fault is recorded (r0 then unused). */
#define HFN(name)                                                            \
	static inline __attribute__((always_inline)) uint64_t name(          \
		struct ash_run *r, uint64_t a1, uint64_t a2, uint64_t a3,    \
		uint64_t a4, uint64_t a5)
#define UNUSED5 (void)r, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5

HFN(h_map_lookup)
{
	struct ash_map *m;
	UNUSED5;
	if (need_map(r, ASH_H_MAP_LOOKUP, a1, &m, 0) ||
	    arg(r, ASH_H_MAP_LOOKUP, a2, m->def->key_size, 0))
		return 0;
	return (uint64_t)(uintptr_t)ash_map_lookup_elem(
		m, (const void *)(uintptr_t)a2);
}

HFN(h_map_update)
{
	struct ash_map *m;
	UNUSED5;
	if (need_map(r, ASH_H_MAP_UPDATE, a1, &m, 0) ||
	    arg(r, ASH_H_MAP_UPDATE, a2, m->def->key_size, 0) ||
	    arg(r, ASH_H_MAP_UPDATE, a3, m->def->value_size, 0))
		return 0;
	return ret(ash_map_update_elem(m, (const void *)(uintptr_t)a2,
	                               (const void *)(uintptr_t)a3, a4));
}

HFN(h_map_delete)
{
	struct ash_map *m;
	UNUSED5;
	if (need_map(r, ASH_H_MAP_DELETE, a1, &m, 0) ||
	    arg(r, ASH_H_MAP_DELETE, a2, m->def->key_size, 0))
		return 0;
	return ret(ash_map_delete_elem(m, (const void *)(uintptr_t)a2));
}

HFN(h_ktime)
{
	UNUSED5;
	return r->p->env.ktime_ns ? r->p->env.ktime_ns(r->p->env.ctx) : 0;
}

HFN(h_trace_printk)
{
	UNUSED5;
	uint32_t size = (uint32_t)a2;
	if (arg(r, ASH_H_TRACE_PRINTK, a1, size, 0))
		return 0;
	uint64_t args[3] = {a3, a4, a5};
	return ret(trace_printk(r, (const char *)(uintptr_t)a1, size, args));
}

HFN(h_prandom)
{
	UNUSED5;
	return prandom(r);
}

HFN(h_cpu)
{
	UNUSED5;
	return 0;
}

HFN(h_redirect)
{
	UNUSED5;
	if (a2)
		return ASH_XDP_ABORTED;
	r->redirect = (uint32_t)a1;
	return ASH_XDP_REDIRECT;
}

HFN(h_csum_diff)
{
	UNUSED5;
	uint32_t fs = (uint32_t)a2, ts = (uint32_t)a4;
	if (arg(r, ASH_H_CSUM_DIFF, a1, fs, 0) ||
	    arg(r, ASH_H_CSUM_DIFF, a3, ts, 0))
		return 0;
	return ash_csum_diff((const uint8_t *)(uintptr_t)a1, fs,
	                     (const uint8_t *)(uintptr_t)a3, ts, (uint32_t)a5);
}

HFN(h_adjust_head)
{
	UNUSED5;
	if (need_ctx(r, ASH_H_ADJUST_HEAD, a1))
		return 0;
	return ret(ash_xdp_adjust_head(r->x, (int32_t)a2));
}

HFN(h_adjust_meta)
{
	UNUSED5;
	if (need_ctx(r, ASH_H_ADJUST_META, a1))
		return 0;
	return ret(ash_xdp_adjust_meta(r->x, (int32_t)a2));
}

HFN(h_adjust_tail)
{
	UNUSED5;
	if (need_ctx(r, ASH_H_ADJUST_TAIL, a1))
		return 0;
	return ret(ash_xdp_adjust_tail(r->x, (int32_t)a2));
}

static uint64_t xdp_bytes(struct ash_run *r, uint32_t id, uint64_t a1,
                          uint64_t a2, uint64_t a3, uint64_t a4)
{
	if (need_ctx(r, id, a1))
		return 0;
	uint32_t off = (uint32_t)a2, len = (uint32_t)a4;
	int load = id == ASH_H_LOAD_BYTES;
	if (arg(r, id, a3, len, load))
		return 0;
	uint8_t *pkt;
	int64_t rc = ash_xdp_pointer(r->x, off, len, &pkt);
	if (!rc) {
		uint8_t *mem = (uint8_t *)(uintptr_t)a3;
		if (load)
			ash_memmove(mem, pkt, len);
		else
			ash_memmove(pkt, mem, len);
	}
	return ret(rc);
}

HFN(h_load_bytes)
{
	UNUSED5;
	return xdp_bytes(r, ASH_H_LOAD_BYTES, a1, a2, a3, a4);
}

HFN(h_store_bytes)
{
	UNUSED5;
	return xdp_bytes(r, ASH_H_STORE_BYTES, a1, a2, a3, a4);
}

HFN(h_ringbuf_output)
{
	struct ash_map *m;
	UNUSED5;
	if (need_map(r, ASH_H_RINGBUF_OUTPUT, a1, &m, 1) ||
	    arg(r, ASH_H_RINGBUF_OUTPUT, a2, a3, 0))
		return 0;
	if (a4 & ~(uint64_t)3)
		return ret(-ASH_EINVAL);
	void *rec = ash_rb_reserve(m, a3);
	if (!rec)
		return ret(-ASH_EAGAIN);
	ash_memcpy(rec, (const void *)(uintptr_t)a2, (size_t)a3);
	ash_rb_commit(m, rec, 0);
	return 0;
}

HFN(h_ringbuf_reserve)
{
	struct ash_map *m;
	UNUSED5;
	if (need_map(r, ASH_H_RINGBUF_RESERVE, a1, &m, 1))
		return 0;
	return a3 ? 0 : (uint64_t)(uintptr_t)ash_rb_reserve(m, a2);
}

static uint64_t rb_commit(struct ash_run *r, uint32_t id, uint64_t a1)
{
	void *rec = (void *)(uintptr_t)a1;
	struct ash_map *m = ash_rb_owner(r->p, rec);
	if (!m)
		return (uint64_t)ash_fault(r, ASH_FAULT_HELPER,
		                           "at %u: helper %s: r1 is not a "
		                           "reserved record", r->pc,
		                           ash_helper(id)->name);
	ash_rb_commit(m, rec, id == ASH_H_RINGBUF_DISCARD);
	return 0;
}

HFN(h_ringbuf_submit)
{
	UNUSED5;
	return rb_commit(r, ASH_H_RINGBUF_SUBMIT, a1);
}

HFN(h_ringbuf_discard)
{
	UNUSED5;
	return rb_commit(r, ASH_H_RINGBUF_DISCARD, a1);
}

/* dpf_ash_copy, the generic loop (ops read at run time). */
HFN(h_dpf_copy)
{
	uint32_t off = (uint32_t)a2, len = (uint32_t)a4;
	if (need_ctx(r, DPF_ASH_HELPER_COPY, a1) ||
	    arg(r, DPF_ASH_HELPER_COPY, a3, len, 1))
		return 0;
	if (!ash_dilp_ops_valid(a5)) {
		ash_fault(r, ASH_FAULT_ESCAPE,
		          "verifier escape at %u: helper %s: ops 0x%x", r->pc,
		          ash_helper(DPF_ASH_HELPER_COPY)->name, (uint32_t)a5);
		return 0;
	}
	return ret(ash_dilp_xdp(r->x, off, (uint8_t *)(uintptr_t)a3, len, a5,
	                        NULL));
}

/* ---- the interpreter's dispatch ---- */
/* r0 after helper h: 0, or -1 when it faulted (r0 unchanged). */
#define CALL(h)                                                              \
	do {                                                                 \
		uint64_t v_ = h(r, a[1], a[2], a[3], a[4], a[5]);            \
		if (r->res->fault)                                           \
			return -1;                                           \
		a[0] = v_;                                                   \
		return 0;                                                    \
	} while (0)

int ash_call_helper(struct ash_run *r, uint32_t id)
{
	const struct ash_helper_proto *h = ash_helper(id);
	uint64_t *a = r->reg;
	if (!h || id == ASH_H_LOOP)
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: unknown helper %u", r->pc,
		                 id);
	if ((h->flags & ASH_HF_XDP) && !r->x)
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: helper %s needs the XDP "
		                 "context", r->pc, h->name);
	switch (id) {
	case ASH_H_MAP_LOOKUP: CALL(h_map_lookup);
	case ASH_H_MAP_UPDATE: CALL(h_map_update);
	case ASH_H_MAP_DELETE: CALL(h_map_delete);
	case ASH_H_KTIME: CALL(h_ktime);
	case ASH_H_TRACE_PRINTK: CALL(h_trace_printk);
	case ASH_H_PRANDOM: CALL(h_prandom);
	case ASH_H_CPU: CALL(h_cpu);
	case ASH_H_REDIRECT: CALL(h_redirect);
	case ASH_H_CSUM_DIFF: CALL(h_csum_diff);
	case ASH_H_ADJUST_HEAD: CALL(h_adjust_head);
	case ASH_H_ADJUST_META: CALL(h_adjust_meta);
	case ASH_H_ADJUST_TAIL: CALL(h_adjust_tail);
	case ASH_H_LOAD_BYTES: CALL(h_load_bytes);
	case ASH_H_STORE_BYTES: CALL(h_store_bytes);
	case ASH_H_RINGBUF_OUTPUT: CALL(h_ringbuf_output);
	case ASH_H_RINGBUF_RESERVE: CALL(h_ringbuf_reserve);
	case ASH_H_RINGBUF_SUBMIT: CALL(h_ringbuf_submit);
	case ASH_H_RINGBUF_DISCARD: CALL(h_ringbuf_discard);
	case DPF_ASH_HELPER_COPY: CALL(h_dpf_copy);
	default:
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: unknown helper %u", r->pc,
		                 id);
	}
}

/* ---- the native code's entry points (ASH_ENGINE_X86) ----
 * The run state holds the code's state (struct ash_run.js); pc is the
 * call site the code stored before a call that may fault.  Helpers that
 * move the frame refresh the pointers the code loads (ash_js_sync). */
static inline struct ash_run *run_of(struct jit_ash_state *s)
{
	return (struct ash_run *)((char *)s - offsetof(struct ash_run, js));
}

#define NATIVE(h, sync)                                                      \
	static uint64_t h##_n(uint64_t a1, uint64_t a2, uint64_t a3,         \
	                      uint64_t a4, uint64_t a5,                      \
	                      struct jit_ash_state *s)                       \
	{                                                                    \
		struct ash_run *r = run_of(s);                               \
		r->pc = s->pc;                                               \
		uint64_t v = h(r, a1, a2, a3, a4, a5);                       \
		if (sync && r->x)                                            \
			ash_js_sync(r);                                      \
		return v;                                                    \
	}

NATIVE(h_map_lookup, 0)
NATIVE(h_map_update, 0)
NATIVE(h_map_delete, 0)
NATIVE(h_ktime, 0)
NATIVE(h_trace_printk, 0)
NATIVE(h_prandom, 0)
NATIVE(h_cpu, 0)
NATIVE(h_redirect, 0)
NATIVE(h_csum_diff, 0)
NATIVE(h_adjust_head, 1)
NATIVE(h_adjust_meta, 1)
NATIVE(h_adjust_tail, 1)
NATIVE(h_load_bytes, 0)
NATIVE(h_store_bytes, 0)
NATIVE(h_ringbuf_output, 0)
NATIVE(h_ringbuf_reserve, 0)
NATIVE(h_ringbuf_submit, 0)
NATIVE(h_ringbuf_discard, 0)
NATIVE(h_dpf_copy, 0)

/* dpf_ash_copy at a call site whose ops set the verifier proved: one
 * entry per set, each calling the fused kernel specialised for it (the
 * verifier proved r1 the context and dst a map value of len bytes). */
#define DILP_NATIVE(o)                                                       \
	static uint64_t dilp_##o(uint64_t a1, uint64_t a2, uint64_t a3,      \
	                         uint64_t a4, uint64_t a5,                   \
	                         struct jit_ash_state *s)                    \
	{                                                                    \
		(void)a1;                                                    \
		return ret(ash_dilp_xdp(run_of(s)->x, (uint32_t)a2,          \
		                        (uint8_t *)(uintptr_t)a3,            \
		                        (uint32_t)a4, a5, ash_dilp_select(o)));\
	}
DILP_NATIVE(0) DILP_NATIVE(1) DILP_NATIVE(2) DILP_NATIVE(3)
DILP_NATIVE(4) DILP_NATIVE(5) DILP_NATIVE(8) DILP_NATIVE(9)
DILP_NATIVE(10) DILP_NATIVE(11) DILP_NATIVE(12) DILP_NATIVE(13)

/* A call site reached with several ops sets (each one valid, as the
 * verifier proved): the fused kernel chosen at run time. */
static uint64_t dilp_any(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                         uint64_t a5, struct jit_ash_state *s)
{
	(void)a1;
	return ret(ash_dilp_xdp(run_of(s)->x, (uint32_t)a2,
	                        (uint8_t *)(uintptr_t)a3, (uint32_t)a4, a5,
	                        ash_dilp_select((uint32_t)a5)));
}

jit_ash_helper_fn ash_dilp_native(uint32_t ops)
{
	static const jit_ash_helper_fn fn[16] = {
		dilp_0, dilp_1, dilp_2, dilp_3, dilp_4, dilp_5, 0, 0,
		dilp_8, dilp_9, dilp_10, dilp_11, dilp_12, dilp_13, 0, 0,
	};
	return ash_dilp_ops_valid(ops) ? fn[ops & 15] : NULL;
}

jit_ash_helper_fn ash_dilp_native_any(void)
{
	return dilp_any;
}

jit_ash_helper_fn ash_helper_native(uint32_t id, int *faults)
{
	/* Unchecked mode faults only on a map, context or record argument
	 * the verifier should have refused. */
	*faults = 1;
	switch (id) {
	case ASH_H_MAP_LOOKUP: return h_map_lookup_n;
	case ASH_H_MAP_UPDATE: return h_map_update_n;
	case ASH_H_MAP_DELETE: return h_map_delete_n;
	case ASH_H_ADJUST_HEAD: return h_adjust_head_n;
	case ASH_H_ADJUST_META: return h_adjust_meta_n;
	case ASH_H_ADJUST_TAIL: return h_adjust_tail_n;
	case ASH_H_LOAD_BYTES: return h_load_bytes_n;
	case ASH_H_STORE_BYTES: return h_store_bytes_n;
	case ASH_H_RINGBUF_OUTPUT: return h_ringbuf_output_n;
	case ASH_H_RINGBUF_RESERVE: return h_ringbuf_reserve_n;
	case ASH_H_RINGBUF_SUBMIT: return h_ringbuf_submit_n;
	case ASH_H_RINGBUF_DISCARD: return h_ringbuf_discard_n;
	case DPF_ASH_HELPER_COPY: return h_dpf_copy_n;
	}
	*faults = 0;
	switch (id) {
	case ASH_H_KTIME: return h_ktime_n;
	case ASH_H_TRACE_PRINTK: return h_trace_printk_n;
	case ASH_H_PRANDOM: return h_prandom_n;
	case ASH_H_CPU: return h_cpu_n;
	case ASH_H_REDIRECT: return h_redirect_n;
	case ASH_H_CSUM_DIFF: return h_csum_diff_n;
	default: return NULL;
	}
}
