/*
 * prog.c - program objects and message formatting.
 *
 * Interface (ash.h): ash_prog_new creates a program's maps and its call
 * stacks from the host allocator and keeps references to the image and
 * the verifier's result; ash_prog_free releases everything.  ash_fmt
 * (ash_int.h) is the runtime's only formatter: diagnostics and fault
 * messages are built with it, never with libc.
 *
 * A program object holds the stacks its runs use, and the run state of
 * native runs (struct ash_prog.run, set up here once), so one program
 * runs one frame at a time (maps are shared state anyway); two programs
 * are independent.
 */
#include <stdarg.h>

#include "ash/ash_int.h"

/* ---- formatting ---- */
struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void putnum(struct out *o, uint64_t v, int neg, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		put(o, '-');
	while (n)
		put(o, tmp[--n]);
}

size_t ash_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct out o = {buf, cap, 0};
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		f++;
		int lng = 0;
		while (*f == 'l') {
			lng++;
			f++;
		}
		switch (*f) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				put(&o, *s++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng == 2 ? va_arg(ap, long long)
			          : lng == 1 ? va_arg(ap, long)
			                     : va_arg(ap, int);
			putnum(&o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, 10);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng == 2 ? va_arg(ap, unsigned long long)
			           : lng == 1 ? va_arg(ap, unsigned long)
			                      : va_arg(ap, unsigned);
			putnum(&o, v, 0, *f == 'u' ? 10 : 16);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default: /* not used by the runtime */
			put(&o, '?');
			if (!*f)
				f--;
			break;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = 0;
	return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t ash_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = ash_vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- programs ---- */
int ash_prog_new(const struct ash_image *img,
                 const struct vfy_ash_result *vres, const struct ash_env *env,
                 struct ash_prog **out, struct dpf_diag *diag)
{
	const struct dpf_host *h = env->host;
	*out = NULL;
	if (vres->ninsns != img->ninsns) {
		ash_fmt(diag->msg, sizeof diag->msg,
		        "verifier result covers %u instructions, the image has %u",
		        vres->ninsns, img->ninsns);
		return DPF_EINVAL;
	}
	struct ash_prog *p = h->alloc(h->ctx, sizeof *p);
	if (!p) {
		ash_fmt(diag->msg, sizeof diag->msg, "out of memory");
		return DPF_ENOMEM;
	}
	ash_memset(p, 0, sizeof *p);
	p->img = img;
	p->vres = vres;
	p->env = *env;
	p->host = h;
	p->rng = 0x9e3779b97f4a7c15ull ^ img->ninsns;
	size_t ssize = (size_t)ASH_MAX_CALL_DEPTH * ASH_STACK + 16;
	p->stackmem = h->alloc(h->ctx, ssize);
	if (!p->stackmem) {
		h->free(h->ctx, p, sizeof *p);
		ash_fmt(diag->msg, sizeof diag->msg, "out of memory");
		return DPF_ENOMEM;
	}
	ash_memset(p->stackmem, 0, ssize);
	p->stacks = (uint8_t *)(((uintptr_t)p->stackmem + 15) & ~(uintptr_t)15);
	ash_native_init(p);
	int rc = ash_maps_create(p, diag);
	if (rc) {
		h->free(h->ctx, p->stackmem, ssize);
		h->free(h->ctx, p, sizeof *p);
		return rc;
	}
	*out = p;
	return 0;
}

void ash_prog_free(struct ash_prog *p)
{
	if (!p)
		return;
	const struct dpf_host *h = p->host;
	jit_ash_free(p->jit);
	ash_maps_free(p);
	h->free(h->ctx, p->stackmem, (size_t)ASH_MAX_CALL_DEPTH * ASH_STACK + 16);
	h->free(h->ctx, p, sizeof *p);
}
