/*
 * handler.h - handlers (ASHs) for the `dpf` command: load an object or a
 * program image, verify it, and print every refusal in the command's
 * formats.
 *
 * Interface:
 *   cli_handler_open() reads FILE: a program image (starts with "ASHI")
 *   or a clang -target bpf ELF object, whose XDP program `prog` (NULL: the
 *   only one) it loads with `sets` applied.  Errors: "FILE: error: MSG".
 *   cli_handler_verify() runs the verifier; a refusal is printed as
 *     FILE:SECTION:INSN: error: MESSAGE
 *       SRC.c:LINE: SOURCE LINE TEXT            (when there is line info)
 *   cli_handler_start() creates the program's maps.
 * Each prints its own errors on stderr and returns 0 or -1.
 */
#ifndef DPF_CLI_HANDLER_H
#define DPF_CLI_HANDLER_H

#include "ash/ash.h"
#include "ash/loader.h"
#include "verifier/vfy.h"

struct cli_handler {
	const char *file;
	struct ash_image *img;
	struct vfy_ash_result vres;
	int verified;
	struct ash_prog *prog;
};

int cli_handler_open(struct cli_handler *h, const char *file,
                     const char *prog, const struct ash_set *sets,
                     size_t nsets);
/* As cli_handler_open, from bytes already in memory. */
int cli_handler_open_mem(struct cli_handler *h, const char *file,
                         const uint8_t *buf, size_t len, const char *prog,
                         const struct ash_set *sets, size_t nsets);
int cli_handler_verify(struct cli_handler *h, const struct vfy_ash_opts *o);
int cli_handler_start(struct cli_handler *h, const struct ash_env *env);
void cli_handler_close(struct cli_handler *h);

/* Print "FILE:SECTION:INSN: error: MSG" and the source line of insn. */
void cli_handler_error(const struct cli_handler *h, uint32_t insn,
                       const char *msg);

/* "--set NAME=VALUE" into s (pointing into arg); 0 or -1. */
int cli_parse_set(char *arg, struct ash_set *s);

#endif
