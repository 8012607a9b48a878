/*
 * lang.c - the driver of the filter language: dpf_lang_parse() and
 * dpf_lang_parse_file(), diagnostics and the per-filter arena.
 *
 * For each declaration the parser returns, the driver checks the name
 * (length, uniqueness), expands the AST into paths (expand.c), copies the
 * result into a struct dpf_filter allocated from dpf_host_libc(), and
 * frees the AST arena before the next declaration.  On any error every
 * filter built so far is freed and *out is left NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/vfy.h"
#include "dpf/lang/lang.h"
#include "dpf/lang/lang_int.h"

/* ---- diagnostics ---- */

static void verror(struct lang_ctx *cx, int code, struct lang_pos pos,
                   const char *fmt, va_list ap)
{
	if (cx->rc)
		return;
	cx->rc = code;
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	snprintf(cx->diag->msg, sizeof cx->diag->msg, "%s:%u:%u: error: %s",
	         cx->file, pos.line, pos.col, msg);
}

void lang_error(struct lang_ctx *cx, struct lang_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(cx, DPF_EINVAL, pos, fmt, ap);
	va_end(ap);
}

void lang_error_code(struct lang_ctx *cx, int code, struct lang_pos pos,
                     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(cx, code, pos, fmt, ap);
	va_end(ap);
}

void lang_nomem(struct lang_ctx *cx)
{
	if (cx->rc)
		return;
	cx->rc = DPF_ENOMEM;
	snprintf(cx->diag->msg, sizeof cx->diag->msg, "%s: error: out of memory",
	         cx->file);
}

void lang_quote(char *buf, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t w = 0, lim = n > 40 ? 40 : n;
	if (cap < 2)
		return;
	/* Worst case per byte is 4 (\xNN); keep room for "...'" and NUL. */
	buf[w++] = '\'';
	for (size_t i = 0; i < lim && w + 9 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			buf[w++] = (char)c;
		} else {
			buf[w++] = '\\';
			buf[w++] = 'x';
			buf[w++] = hex[c >> 4];
			buf[w++] = hex[c & 15];
		}
	}
	if (lim < n && w + 4 < cap) {
		memcpy(buf + w, "...", 3);
		w += 3;
	}
	buf[w++] = '\'';
	buf[w] = 0;
}

/* ---- arena: chunks freed together after each filter ---- */

struct lang_chunk {
	struct lang_chunk *next;
	size_t used, cap;
	unsigned char mem[]; /* 8-aligned: the header is three words */
};

enum { CHUNK = 64 * 1024 };

void *lang_alloc(struct lang_ctx *cx, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct lang_chunk *c = cx->arena;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK ? n : CHUNK;
		c = malloc(sizeof *c + cap);
		if (!c) {
			lang_nomem(cx);
			return NULL;
		}
		c->used = 0;
		c->cap = cap;
		/* A big block goes behind the current chunk so the current
		 * chunk's free space stays in use. */
		if (cx->arena && n > CHUNK) {
			c->next = cx->arena->next;
			cx->arena->next = c;
		} else {
			c->next = cx->arena;
			cx->arena = c;
		}
	}
	void *p = c->mem + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

void lang_arena_free(struct lang_ctx *cx)
{
	while (cx->arena) {
		struct lang_chunk *n = cx->arena->next;
		free(cx->arena);
		cx->arena = n;
	}
}

/* ---- filter names: an open-addressing set of indices ---- */

struct nameset {
	uint32_t *slot; /* filter index + 1; 0 empty */
	uint32_t cap;
};

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* Index of the filter named `name`, or -1; `fs` are the filters so far. */
static long names_find(const struct nameset *ns, const struct dpf_filter *fs,
                       const char *name)
{
	if (!ns->cap)
		return -1;
	for (uint32_t i = name_hash(name) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
		if (!ns->slot[i])
			return -1;
		if (strcmp(fs[ns->slot[i] - 1].name, name) == 0)
			return (long)ns->slot[i] - 1;
	}
}

static int names_add(struct nameset *ns, const struct dpf_filter *fs,
                     uint32_t idx)
{
	if (2 * (idx + 1) > ns->cap) {
		uint32_t cap = ns->cap ? 2 * ns->cap : 64;
		uint32_t *slot = calloc(cap, sizeof *slot);
		if (!slot)
			return -1;
		for (uint32_t k = 0; k <= idx; k++) {
			uint32_t i = name_hash(fs[k].name) & (cap - 1);
			while (slot[i])
				i = (i + 1) & (cap - 1);
			slot[i] = k + 1;
		}
		free(ns->slot);
		ns->slot = slot;
		ns->cap = cap;
		return 0; /* idx was inserted by the rehash */
	}
	uint32_t i = name_hash(fs[idx].name) & (ns->cap - 1);
	while (ns->slot[i])
		i = (i + 1) & (ns->cap - 1);
	ns->slot[i] = idx + 1;
	return 0;
}

/* ---- the driver ---- */

static void free_filters(const struct dpf_host *h, struct dpf_filter *fs,
                         uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t p = 0; p < fs[i].npaths; p++)
			h->free(h->ctx, fs[i].paths[p].atoms,
			        fs[i].paths[p].natoms * sizeof(struct dpf_atom));
		h->free(h->ctx, fs[i].paths, fs[i].npaths * sizeof(struct dpf_path));
	}
}

/* Turn one parsed declaration into fs[n]; 0 or -1. */
static int build_filter(struct lang_ctx *cx, const struct lang_decl *d,
                        const struct dpf_host *h, struct dpf_filter *f,
                        const struct dpf_filter *fs, const struct nameset *ns)
{
	char q[64];
	if (d->name.n > DPF_NAME_MAX) {
		lang_quote(q, sizeof q, d->name.s, d->name.n);
		lang_error(cx, d->name.pos,
		           "filter name %s is longer than %d bytes", q,
		           DPF_NAME_MAX);
		return -1;
	}
	memset(f, 0, sizeof *f);
	memcpy(f->name, d->name.s, d->name.n);
	f->name[d->name.n] = 0;
	long prev = names_find(ns, fs, f->name);
	if (prev >= 0) {
		lang_quote(q, sizeof q, d->name.s, d->name.n);
		lang_error(cx, d->name.pos,
		           "duplicate filter name %s (first defined at %u:%u)", q,
		           fs[prev].line, fs[prev].col);
		return -1;
	}
	f->priority = d->priority;
	f->owner = 0;
	f->line = d->name.pos.line;
	f->col = d->name.pos.col;
	if (lang_expand(cx, d, h, &f->paths, &f->npaths) < 0)
		return -1;
	struct dpf_diag vd;
	if (vfy_filter(f, &vd) != DPF_OK) {
		/* The expansion only builds valid atoms; this is a bug. */
		lang_error(cx, d->name.pos, "internal error: %s", vd.msg);
		free_filters(h, f, 1);
		return -1;
	}
	return 0;
}

void dpf_lang_handlers_free(struct dpf_lang_handlers *hs)
{
	if (!hs)
		return;
	for (uint32_t i = 0; i < hs->n; i++) {
		free(hs->v[i].path);
		free(hs->v[i].program);
	}
	free(hs->v);
	hs->v = NULL;
	hs->n = 0;
}

/* Record the handler clause of filter idx; 0 or -1 (out of memory). */
static int add_handler(struct dpf_lang_handlers *hs, uint32_t *cap,
                       const struct lang_decl *d, uint32_t idx)
{
	if (!hs || d->handler.kind != TK_STRING)
		return 0;
	if (hs->n == *cap) {
		uint32_t nc = *cap ? 2 * *cap : 8;
		struct dpf_lang_handler *nv = realloc(hs->v, nc * sizeof *nv);
		if (!nv)
			return -1;
		hs->v = nv;
		*cap = nc;
	}
	struct dpf_lang_handler *h = &hs->v[hs->n];
	h->filter = idx;
	h->path = strndup(d->handler.s + 1, d->handler.n - 2);
	h->program = d->program.kind == TK_IDENT
		? strndup(d->program.s, d->program.n)
		: NULL;
	h->line = d->handler.pos.line;
	h->col = d->handler.pos.col;
	if (!h->path || (d->program.kind == TK_IDENT && !h->program)) {
		free(h->path);
		free(h->program);
		return -1;
	}
	hs->n++;
	return 0;
}

int dpf_lang_parse(const char *file, const char *src, size_t len,
                   struct dpf_prog **out, struct dpf_diag *diag)
{
	return dpf_lang_parse_ex(file, src, len, out, NULL, diag);
}

int dpf_lang_parse_ex(const char *file, const char *src, size_t len,
                      struct dpf_prog **out, struct dpf_lang_handlers *hs,
                      struct dpf_diag *diag)
{
	uint32_t hcap = 0;
	const struct dpf_host *h = dpf_host_libc();
	struct lang_ctx cx = {file ? file : "<input>", diag, 0, NULL};
	struct lang_parser ps;
	struct nameset ns = {NULL, 0};
	struct dpf_filter *fs = NULL;
	uint32_t n = 0, cap = 0;
	struct lang_decl d;
	int r;

	*out = NULL;
	if (hs) {
		hs->n = 0;
		hs->v = NULL;
	}
	diag->msg[0] = 0;
	lang_parse_init(&ps, &cx, src, len);
	while ((r = lang_parse_decl(&ps, &d)) > 0) {
		if (n == DPF_MAX_FILTERS) {
			lang_error_code(&cx, DPF_ELIMIT, d.name.pos,
			                "too many filters (limit %d)", DPF_MAX_FILTERS);
			break;
		}
		if (n == cap) {
			uint32_t nc = cap ? 2 * cap : 16;
			struct dpf_filter *nf = realloc(fs, nc * sizeof *nf);
			if (!nf) {
				lang_nomem(&cx);
				break;
			}
			fs = nf;
			cap = nc;
		}
		if (build_filter(&cx, &d, h, &fs[n], fs, &ns) < 0)
			break;
		if (names_add(&ns, fs, n) < 0 || add_handler(hs, &hcap, &d, n) < 0) {
			free_filters(h, &fs[n], 1);
			lang_nomem(&cx);
			break;
		}
		n++;
		lang_arena_free(&cx);
	}
	lang_arena_free(&cx);
	free(ns.slot);

	struct dpf_prog *prog = NULL;
	if (!cx.rc) {
		prog = h->alloc(h->ctx, sizeof *prog);
		if (prog) {
			prog->nfilters = n;
			prog->filters = NULL;
			if (n) {
				prog->filters = h->alloc(h->ctx, n * sizeof *fs);
				if (prog->filters)
					memcpy(prog->filters, fs, n * sizeof *fs);
			}
		}
		if (!prog || (n && !prog->filters)) {
			if (prog)
				h->free(h->ctx, prog, sizeof *prog);
			prog = NULL;
			lang_nomem(&cx);
		}
	}
	if (cx.rc) {
		free_filters(h, fs, n);
		free(fs);
		dpf_lang_handlers_free(hs);
		return cx.rc;
	}
	free(fs);
	*out = prog;
	return DPF_OK;
}

int dpf_lang_parse_file(const char *file, struct dpf_prog **out,
                        struct dpf_diag *diag)
{
	*out = NULL;
	FILE *fp = fopen(file, "rb");
	if (!fp) {
		snprintf(diag->msg, sizeof diag->msg, "%s: error: %s", file,
		         strerror(errno));
		return DPF_EINVAL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int err = 0;
	while (buf) {
		if (n == cap) {
			char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0) {
			if (ferror(fp))
				err = errno ? errno : EIO;
			break;
		}
	}
	fclose(fp);
	if (!buf) {
		snprintf(diag->msg, sizeof diag->msg, "%s: error: out of memory",
		         file);
		return DPF_ENOMEM;
	}
	if (err) {
		free(buf);
		snprintf(diag->msg, sizeof diag->msg, "%s: error: %s", file,
		         strerror(err));
		return DPF_EINVAL;
	}
	int rc = dpf_lang_parse(file, buf, n, out, diag);
	free(buf);
	return rc;
}
