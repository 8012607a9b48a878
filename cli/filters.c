/*
 * filters.c - loading filter files and installing them into an engine,
 * shared by check, compile and replay.
 *
 * A filter file is either DPF text (dpf/lang) or binary IR as written by
 * `dpf compile --emit=irbin`; the IR magic decides.  The magic is taken
 * from what dpf_ir_write() emits for an empty program, so this file does
 * not duplicate the IR format.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dpf/lang/lang.h"

#define MAGIC_LEN 4

int cli_is_ir(const uint8_t *buf, size_t len)
{
	struct dpf_prog empty = {0, NULL};
	uint8_t hdr[64];
	long n = dpf_ir_write(&empty, NULL, 0);
	if (n < MAGIC_LEN || (size_t)n > sizeof hdr ||
	    dpf_ir_write(&empty, hdr, sizeof hdr) != n)
		return 0;
	return len >= MAGIC_LEN && memcmp(buf, hdr, MAGIC_LEN) == 0;
}

int cli_load(const char *file, struct dpf_prog **out)
{
	return cli_load_ex(file, out, NULL);
}

int cli_load_ex(const char *file, struct dpf_prog **out,
                struct dpf_lang_handlers *hs)
{
	if (hs) {
		hs->n = 0;
		hs->v = NULL;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = cli_read_file(file, &buf, &len);
	if (err) {
		fprintf(stderr, "%s: error: %s\n", file, strerror(err));
		return -1;
	}
	struct dpf_diag d;
	memset(&d, 0, sizeof d);
	int rc;
	*out = NULL;
	if (cli_is_ir(buf, len)) {
		rc = dpf_ir_read(dpf_host_libc(), buf, len, out, &d);
		if (rc)
			fprintf(stderr, "%s: error: %s\n", file,
			        d.msg[0] ? d.msg : "invalid binary IR");
	} else {
		rc = dpf_lang_parse_ex(file, (const char *)buf, len, out, hs, &d);
		if (rc) {
			if (d.msg[0])
				fprintf(stderr, "%s\n", d.msg);
			else
				fprintf(stderr, "%s: error: cannot parse\n", file);
		}
	}
	free(buf);
	if (rc) {
		if (*out)
			dpf_prog_free(dpf_host_libc(), *out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Fallback text for a refusal that came without a diagnostic. */
static const char *code_text(int rc)
{
	switch (rc) {
	case DPF_ENOMEM:
		return "out of memory";
	case DPF_EAMBIG:
		return "ambiguous with an installed filter";
	case DPF_EEXIST:
		return "a filter of that name is installed";
	case DPF_ELIMIT:
		return "a limit would be exceeded";
	default:
		return "invalid filter";
	}
}

uint32_t cli_install(const char *file, const struct dpf_prog *prog,
                     struct dpf_engine *e, int *ids)
{
	uint32_t bad = 0;
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		struct dpf_diag d;
		memset(&d, 0, sizeof d);
		int id = -1;
		int rc = dpf_insert(e, f, &id, &d);
		if (rc) {
			const char *msg = d.msg[0] ? d.msg : code_text(rc);
			if (f->line)
				fprintf(stderr, "%s:%u:%u: error: %s\n", file,
				        (unsigned)f->line, (unsigned)f->col, msg);
			else
				fprintf(stderr, "%s: error: %s\n", file, msg);
			id = -1;
			bad++;
		}
		if (ids)
			ids[i] = id;
	}
	return bad;
}
