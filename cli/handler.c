/*
 * handler.c - loading, verifying and starting handlers for the commands
 * (handler.h has the interface and the error formats).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "dpf/lang/lang.h"
#include "jit/jit.h"

/* The where line, once, before the first error. */
static void tell(struct cli_handler *h)
{
	if (h->where && !h->told)
		fprintf(stderr, "%s\n", h->where);
	h->told = 1;
}

int cli_handler_open_mem(struct cli_handler *h, const char *file,
                         const char *where, const uint8_t *buf, size_t len,
                         const char *prog, const struct ash_set *sets,
                         size_t nsets)
{
	struct dpf_diag d = {{0}};
	memset(h, 0, sizeof *h);
	h->file = file;
	h->where = where;
	int rc;
	if (ash_image_is(buf, len)) {
		if (nsets) {
			tell(h);
			fprintf(stderr, "%s: error: --set applies to ELF objects; "
			                "this is a program image\n",
			        file);
			return -1;
		}
		rc = ash_image_read(dpf_host_libc(), buf, len, &h->img, &d);
		if (rc == 0 && prog && strcmp(prog, h->img->prog) != 0) {
			tell(h);
			fprintf(stderr, "%s: error: the image holds program '%s', "
			                "not '%s'\n",
			        file, h->img->prog, prog);
			return -1;
		}
	} else
		rc = ash_load_elf(buf, len, prog, sets, nsets, &h->img, &d);
	if (rc != 0) {
		tell(h);
		fprintf(stderr, "%s: error: %s\n", file,
		        rc == DPF_ENOMEM ? "out of memory" : d.msg);
		h->img = NULL;
		return -1;
	}
	return 0;
}

int cli_handler_open(struct cli_handler *h, const char *file,
                     const char *where, const char *prog,
                     const struct ash_set *sets, size_t nsets)
{
	uint8_t *buf;
	size_t len;
	memset(h, 0, sizeof *h);
	h->where = where;
	int err = cli_read_file(file, &buf, &len);
	if (err) {
		tell(h);
		fprintf(stderr, "%s: error: %s\n", file, strerror(err));
		return -1;
	}
	int rc = cli_handler_open_mem(h, file, where, buf, len, prog, sets,
	                              nsets);
	free(buf);
	return rc;
}

/* The last path component, so messages do not depend on where the
 * object was built. */
static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

void cli_handler_error(struct cli_handler *h, uint32_t insn,
                       const char *msg)
{
	const struct ash_image *img = h->img;
	tell(h);
	fprintf(stderr, "%s:%s:%u: error: %s\n", h->file,
	        img->section[0] ? img->section : img->prog, (unsigned)insn,
	        msg);
	const struct ash_line *l = ash_image_line(img, insn);
	if (!l || !img->strtab)
		return;
	const char *text = img->strtab + l->text;
	while (*text == ' ' || *text == '\t')
		text++;
	fprintf(stderr, "  %s:%u: %s\n", base_name(img->strtab + l->file),
	        (unsigned)l->line, text);
}

int cli_handler_verify(struct cli_handler *h, const struct vfy_ash_opts *o)
{
	struct dpf_diag d = {{0}};
	int rc = vfy_ash(h->img, o, dpf_host_libc(), &h->vres, &d);
	if (rc == DPF_ENOMEM) {
		tell(h);
		fprintf(stderr, "%s: error: out of memory\n", h->file);
		return -1;
	}
	if (rc != 0) {
		cli_handler_error(h, h->vres.err_insn, d.msg);
		return -1;
	}
	h->verified = 1;
	return 0;
}

int cli_handler_start(struct cli_handler *h, const struct ash_env *env)
{
	struct dpf_diag d = {{0}};
	int rc = ash_prog_new(h->img, &h->vres, env, &h->prog, &d);
	if (rc != 0) {
		tell(h);
		fprintf(stderr, "%s: error: %s\n", h->file,
		        rc == DPF_ENOMEM ? "out of memory" : d.msg);
		h->prog = NULL;
		return -1;
	}
	if (h->jit)
		cli_handler_jit(h, h->jit);
	return 0;
}

void cli_handler_jit(struct cli_handler *h, const char *cmd)
{
	struct dpf_diag d = {{0}};
	if (ash_prog_jit(h->prog, jit_mem_posix(), &d) == 0 || h->jit_told)
		return;
	h->jit_told = 1;
	fprintf(stderr, "%s: %s: the x86 JIT cannot compile %s: %s; running "
	        "the interpreter\n", cmd, h->file, h->img->prog, d.msg);
}

void cli_handler_close(struct cli_handler *h)
{
	if (h->prog)
		ash_prog_free(h->prog);
	if (h->verified)
		vfy_ash_free(&h->vres);
	if (h->img)
		ash_image_free(dpf_host_libc(), h->img);
	memset(h, 0, sizeof *h);
}

int cli_parse_set(char *arg, struct ash_set *s)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return -1;
	*eq = 0;
	s->name = arg;
	s->value = eq + 1;
	return 0;
}

/* ---- handlers bound to filters ---- */

/* path as written in a filter file, relative to that file's directory. */
static char *resolve(const char *file, const char *path)
{
	const char *slash = strrchr(file, '/');
	size_t dl = slash && path[0] != '/' ? (size_t)(slash - file) + 1 : 0;
	char *r = malloc(dl + strlen(path) + 1);
	if (r) {
		memcpy(r, file, dl);
		strcpy(r + dl, path);
	}
	return r;
}

int cli_handler_clause(const char *file, const struct dpf_prog *prog,
                       const struct dpf_lang_handler *lh, char **path,
                       char **where)
{
	char line[DPF_NAME_MAX + 512];
	snprintf(line, sizeof line,
	         "%s:%u:%u: error: handler \"%s\" of filter '%s' is refused:",
	         file, (unsigned)lh->line, (unsigned)lh->col, lh->path,
	         prog->filters[lh->filter].name);
	*path = resolve(file, lh->path);
	*where = strdup(line);
	if (*path && *where)
		return 0;
	free(*path);
	free(*where);
	*path = *where = NULL;
	return -1;
}

int cli_bind(const char *file, const struct dpf_prog *prog,
             const struct dpf_lang_handlers *hs, const struct ash_env *env,
             struct cli_bound *b)
{
	memset(b, 0, sizeof *b);
	b->nfilters = prog->nfilters;
	b->by_filter = calloc(prog->nfilters ? prog->nfilters : 1,
	                      sizeof *b->by_filter);
	b->v = calloc(hs && hs->n ? hs->n : 1, sizeof *b->v);
	if (!b->by_filter || !b->v) {
		fprintf(stderr, "%s: error: out of memory\n", file);
		return 1;
	}
	int bad = 0;
	for (uint32_t i = 0; hs && i < hs->n; i++) {
		const struct dpf_lang_handler *lh = &hs->v[i];
		struct cli_bound_handler *bh = &b->v[b->n];
		if (cli_handler_clause(file, prog, lh, &bh->path, &bh->where)) {
			fprintf(stderr, "%s: error: out of memory\n", file);
			return bad + 1;
		}
		bh->filter = lh->filter;
		b->n++;
		struct cli_handler *h = &bh->h;
		struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, 0};
		if (cli_handler_open(h, bh->path, bh->where, lh->program, NULL,
		                     0) != 0 ||
		    cli_handler_verify(h, &o) != 0 ||
		    (env && cli_handler_start(h, env) != 0)) {
			bad++;
			continue;
		}
		b->by_filter[lh->filter] = bh;
	}
	return bad;
}

void cli_bound_free(struct cli_bound *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		cli_handler_close(&b->v[i].h);
		free(b->v[i].path);
		free(b->v[i].where);
	}
	free(b->v);
	free(b->by_filter);
	memset(b, 0, sizeof *b);
}

/* ---- the environment handlers see from the command line ---- */

static uint64_t env_ktime(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void env_trace(void *ctx, const char *text)
{
	(void)ctx;
	fputs(text, stderr);
}

void cli_ash_env(struct ash_env *env)
{
	memset(env, 0, sizeof *env);
	env->host = dpf_host_libc();
	env->ktime_ns = env_ktime;
	env->trace = env_trace;
	env->ifindex = 1; /* the loopback device, as Linux's test runs */
}
