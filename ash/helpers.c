/*
 * helpers.c - the helper functions of helpers.def, with Linux's
 * semantics and return values (negative errno), except bpf_loop, which
 * the interpreter runs (it pushes frames).
 *
 * Interface: ash_call_helper(r, id) reads r1-r5 from r->reg and sets
 * r0.  In checked mode every memory argument is checked like a load or
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

/* ---- dispatch ---- */
static int need_map(struct ash_run *r, const struct ash_helper_proto *h,
                    struct ash_map **m, int ringbuf)
{
	*m = ash_map_from_reg(r->p, r->reg[1]);
	if (!*m || ((*m)->def->type == ASH_MAP_RINGBUF) != ringbuf)
		return ash_fault(r, ASH_FAULT_HELPER,
		                 "at %u: helper %s: r1 is not a %s", r->pc,
		                 h->name, ringbuf ? "ring buffer" : "map");
	return 0;
}

static int need_ctx(struct ash_run *r, const struct ash_helper_proto *h)
{
	if (r->reg[1] != (uint64_t)(uintptr_t)&r->ctx)
		return ash_fault(r, ASH_FAULT_HELPER,
		                 "at %u: helper %s: r1 is not the context", r->pc,
		                 h->name);
	return 0;
}

/* Checked mode: a helper's memory argument. */
static int arg(struct ash_run *r, const struct ash_helper_proto *h,
               uint64_t a, uint64_t n, int store)
{
	if (!r->checked || n == 0)
		return 0;
	char what[64];
	ash_fmt(what, sizeof what, "helper %s %s", h->name,
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

int ash_call_helper(struct ash_run *r, uint32_t id)
{
	const struct ash_helper_proto *h = ash_helper(id);
	uint64_t *a = r->reg;
	struct ash_map *m;
	if (!h || id == ASH_H_LOOP)
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: unknown helper %u", r->pc,
		                 id);
	if ((h->flags & ASH_HF_XDP) && !r->x)
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: helper %s needs the XDP "
		                 "context", r->pc, h->name);
	switch (id) {
	case ASH_H_MAP_LOOKUP:
		if (need_map(r, h, &m, 0) ||
		    arg(r, h, a[2], m->def->key_size, 0))
			return -1;
		a[0] = (uint64_t)(uintptr_t)ash_map_lookup_elem(
			m, (const void *)(uintptr_t)a[2]);
		return 0;
	case ASH_H_MAP_UPDATE:
		if (need_map(r, h, &m, 0) ||
		    arg(r, h, a[2], m->def->key_size, 0) ||
		    arg(r, h, a[3], m->def->value_size, 0))
			return -1;
		a[0] = ret(ash_map_update_elem(m, (const void *)(uintptr_t)a[2],
		                               (const void *)(uintptr_t)a[3], a[4]));
		return 0;
	case ASH_H_MAP_DELETE:
		if (need_map(r, h, &m, 0) ||
		    arg(r, h, a[2], m->def->key_size, 0))
			return -1;
		a[0] = ret(ash_map_delete_elem(m, (const void *)(uintptr_t)a[2]));
		return 0;
	case ASH_H_KTIME:
		a[0] = r->p->env.ktime_ns ? r->p->env.ktime_ns(r->p->env.ctx) : 0;
		return 0;
	case ASH_H_TRACE_PRINTK: {
		uint32_t size = (uint32_t)a[2];
		if (arg(r, h, a[1], size, 0))
			return -1;
		uint64_t args[3] = {a[3], a[4], a[5]};
		a[0] = ret(trace_printk(r, (const char *)(uintptr_t)a[1], size,
		                        args));
		return 0;
	}
	case ASH_H_PRANDOM:
		a[0] = prandom(r);
		return 0;
	case ASH_H_CPU:
		a[0] = 0;
		return 0;
	case ASH_H_REDIRECT:
		if (a[2]) {
			a[0] = ASH_XDP_ABORTED;
			return 0;
		}
		r->redirect = (uint32_t)a[1];
		a[0] = ASH_XDP_REDIRECT;
		return 0;
	case ASH_H_CSUM_DIFF: {
		uint32_t fs = (uint32_t)a[2], ts = (uint32_t)a[4];
		if (arg(r, h, a[1], fs, 0) || arg(r, h, a[3], ts, 0))
			return -1;
		a[0] = ash_csum_diff((const uint8_t *)(uintptr_t)a[1], fs,
		                     (const uint8_t *)(uintptr_t)a[3], ts,
		                     (uint32_t)a[5]);
		return 0;
	}
	case ASH_H_ADJUST_HEAD:
	case ASH_H_ADJUST_META:
	case ASH_H_ADJUST_TAIL: {
		if (need_ctx(r, h))
			return -1;
		int32_t off = (int32_t)a[2];
		a[0] = ret(id == ASH_H_ADJUST_HEAD ? ash_xdp_adjust_head(r->x, off)
		         : id == ASH_H_ADJUST_META ? ash_xdp_adjust_meta(r->x, off)
		                                   : ash_xdp_adjust_tail(r->x, off));
		return 0;
	}
	case ASH_H_LOAD_BYTES:
	case ASH_H_STORE_BYTES: {
		if (need_ctx(r, h))
			return -1;
		uint32_t off = (uint32_t)a[2], len = (uint32_t)a[4];
		int load = id == ASH_H_LOAD_BYTES;
		if (arg(r, h, a[3], len, load))
			return -1;
		uint8_t *pkt;
		int64_t rc = ash_xdp_pointer(r->x, off, len, &pkt);
		if (!rc) {
			uint8_t *mem = (uint8_t *)(uintptr_t)a[3];
			if (load)
				ash_memmove(mem, pkt, len);
			else
				ash_memmove(pkt, mem, len);
		}
		a[0] = ret(rc);
		return 0;
	}
	case ASH_H_RINGBUF_OUTPUT: {
		if (need_map(r, h, &m, 1) || arg(r, h, a[2], a[3], 0))
			return -1;
		if (a[4] & ~(uint64_t)3) {
			a[0] = ret(-ASH_EINVAL);
			return 0;
		}
		void *rec = ash_rb_reserve(m, a[3]);
		if (!rec) {
			a[0] = ret(-ASH_EAGAIN);
			return 0;
		}
		ash_memcpy(rec, (const void *)(uintptr_t)a[2], (size_t)a[3]);
		ash_rb_commit(m, rec, 0);
		a[0] = 0;
		return 0;
	}
	case ASH_H_RINGBUF_RESERVE:
		if (need_map(r, h, &m, 1))
			return -1;
		a[0] = a[3] ? 0 : (uint64_t)(uintptr_t)ash_rb_reserve(m, a[2]);
		return 0;
	case ASH_H_RINGBUF_SUBMIT:
	case ASH_H_RINGBUF_DISCARD: {
		void *rec = (void *)(uintptr_t)a[1];
		m = ash_rb_owner(r->p, rec);
		if (!m)
			return ash_fault(r, ASH_FAULT_HELPER,
			                 "at %u: helper %s: r1 is not a reserved "
			                 "record", r->pc, h->name);
		ash_rb_commit(m, rec, id == ASH_H_RINGBUF_DISCARD);
		a[0] = 0;
		return 0;
	}
	case DPF_ASH_HELPER_COPY: {
		uint32_t off = (uint32_t)a[2], len = (uint32_t)a[4];
		if (need_ctx(r, h) || arg(r, h, a[3], len, 1))
			return -1;
		if (!ash_dilp_ops_valid(a[5]))
			return ash_fault(r, ASH_FAULT_ESCAPE,
			                 "verifier escape at %u: helper %s: ops "
			                 "0x%x", r->pc, h->name, (uint32_t)a[5]);
		a[0] = ret(ash_dilp_xdp(r->x, off, (uint8_t *)(uintptr_t)a[3],
		                        len, a[5], NULL));
		return 0;
	}
	default:
		return ash_fault(r, ASH_FAULT_ESCAPE,
		                 "verifier escape at %u: unknown helper %u", r->pc,
		                 id);
	}
}
