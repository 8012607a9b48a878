/*
 * handler.c - loading, verifying and starting handlers for the commands
 * (handler.h has the interface and the error formats).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/handler.h"

int cli_handler_open_mem(struct cli_handler *h, const char *file,
                         const uint8_t *buf, size_t len, const char *prog,
                         const struct ash_set *sets, size_t nsets)
{
	struct dpf_diag d = {{0}};
	memset(h, 0, sizeof *h);
	h->file = file;
	int rc;
	if (ash_image_is(buf, len)) {
		if (nsets) {
			fprintf(stderr, "%s: error: --set applies to ELF objects; "
			                "this is a program image\n",
			        file);
			return -1;
		}
		rc = ash_image_read(dpf_host_libc(), buf, len, &h->img, &d);
		if (rc == 0 && prog && strcmp(prog, h->img->prog) != 0) {
			fprintf(stderr, "%s: error: the image holds program '%s', "
			                "not '%s'\n",
			        file, h->img->prog, prog);
			return -1;
		}
	} else
		rc = ash_load_elf(buf, len, prog, sets, nsets, &h->img, &d);
	if (rc != 0) {
		fprintf(stderr, "%s: error: %s\n", file,
		        rc == DPF_ENOMEM ? "out of memory" : d.msg);
		h->img = NULL;
		return -1;
	}
	return 0;
}

int cli_handler_open(struct cli_handler *h, const char *file,
                     const char *prog, const struct ash_set *sets,
                     size_t nsets)
{
	uint8_t *buf;
	size_t len;
	memset(h, 0, sizeof *h);
	int err = cli_read_file(file, &buf, &len);
	if (err) {
		fprintf(stderr, "%s: error: %s\n", file, strerror(err));
		return -1;
	}
	int rc = cli_handler_open_mem(h, file, buf, len, prog, sets, nsets);
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

void cli_handler_error(const struct cli_handler *h, uint32_t insn,
                       const char *msg)
{
	const struct ash_image *img = h->img;
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
		fprintf(stderr, "%s: error: %s\n", h->file,
		        rc == DPF_ENOMEM ? "out of memory" : d.msg);
		h->prog = NULL;
		return -1;
	}
	return 0;
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
