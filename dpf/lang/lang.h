/*
 * lang.h - the DPF filter language (v1), hosted.
 *
 * Interface:
 *   dpf_lang_parse() turns source text into a struct dpf_prog whose memory
 *   comes from dpf_host_libc() (free with dpf_prog_free(dpf_host_libc(), p)).
 *   Each filter's paths are canonical (dpf_path_canon), duplicate paths and
 *   paths that can never match are removed, and every filter passes
 *   vfy_filter().  filter.line/col locate the filter's name.
 *
 * Errors:
 *   The first error stops the parse; diag->msg holds exactly
 *   "FILE:LINE:COL: error: MESSAGE" (no trailing newline), LINE and COL
 *   1-based, COL counting bytes, pointing at the offending token.
 */
#ifndef DPF_LANG_H
#define DPF_LANG_H

#include "dpf/dpf.h"

int dpf_lang_parse(const char *file, const char *src, size_t len,
                   struct dpf_prog **out, struct dpf_diag *diag);

/* Handler clauses: `filter echo handler "udp_echo.o" program NAME {...}`
 * binds a handler (an XDP object; path as written, relative to the filter
 * file) to the filter.  dpf_lang_parse ignores them; dpf_lang_parse_ex
 * returns them too (hs may be NULL), one entry per filter that has one,
 * in filter order.  Free with dpf_lang_handlers_free. */
struct dpf_lang_handler {
	uint32_t filter;    /* index into prog->filters */
	char *path;         /* without the quotes */
	char *program;      /* NULL: the object's only XDP program */
	uint32_t line, col; /* position of the path string */
};

struct dpf_lang_handlers {
	uint32_t n;
	struct dpf_lang_handler *v;
};

int dpf_lang_parse_ex(const char *file, const char *src, size_t len,
                      struct dpf_prog **out, struct dpf_lang_handlers *hs,
                      struct dpf_diag *diag);
void dpf_lang_handlers_free(struct dpf_lang_handlers *hs);

/* Read FILE and parse it; I/O errors are reported as
 * "FILE: error: <strerror>". */
int dpf_lang_parse_file(const char *file, struct dpf_prog **out,
                        struct dpf_diag *diag);

#endif
