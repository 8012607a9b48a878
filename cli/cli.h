/*
 * cli.h - private interface shared by the files of the `dpf` command.
 *
 * Interface:
 *   Each command is a pair: cli_CMD_main(argc, argv) with argv[0] the
 *   command name, returning the process exit status, and cli_CMD_usage(f)
 *   printing its full usage text.  main.c dispatches on argv[1].
 *   util.c holds the option parser, strict number parsing, whole-file
 *   reading, mkdir -p and JSON string output; filters.c loads filter files
 *   (text or binary IR) and installs them into an engine, reporting every
 *   error with its position.
 *
 * Exit statuses (every command): CLI_OK, CLI_BAD_INPUT (the message says
 * what and where), CLI_USAGE (bad command line; usage goes to stderr).
 */
#ifndef DPF_CLI_H
#define DPF_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dpf/dpf.h"

enum { CLI_OK = 0, CLI_BAD_INPUT = 1, CLI_USAGE = 2 };

/* ---- commands ---- */
int cli_check_main(int argc, char **argv);
void cli_check_usage(FILE *f);
int cli_compile_main(int argc, char **argv);
void cli_compile_usage(FILE *f);
int cli_replay_main(int argc, char **argv);
void cli_replay_usage(FILE *f);
int cli_gen_main(int argc, char **argv);
void cli_gen_usage(FILE *f);
int cli_boot_main(int argc, char **argv);
void cli_boot_usage(FILE *f);
int cli_ash_main(int argc, char **argv);
void cli_ash_usage(FILE *f);

/* Print "dpf CMD: MESSAGE" and the command's usage on stderr; returns
 * CLI_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* ---- option parser (util.c) ----
 * Accepts "--name=value", "--name value", "-x value", "-xvalue", flags
 * without values, operands anywhere, and "--" to end options. */
struct cli_opt {
	const char *lng; /* long name without "--", or NULL */
	char shrt;       /* short letter, or 0 */
	int has_arg;     /* 1 when the option takes a value */
	int id;          /* returned by cli_opt_next, >= 0 */
};

struct cli_parser {
	const char *cmd; /* for messages: "dpf CMD: ..." */
	int argc;
	char **argv;
	int i;        /* next argument to look at */
	int operands; /* set after "--" */
	char err[160];
};

enum {
	CLI_OPT_END = -1,     /* no arguments left */
	CLI_OPT_OPERAND = -2, /* *val is an operand */
	CLI_OPT_ERROR = -3,   /* p->err says what is wrong */
};

/* Start after argv[0] (the command name). */
void cli_opt_init(struct cli_parser *p, const char *cmd, int argc,
                  char **argv);
int cli_opt_next(struct cli_parser *p, const struct cli_opt *opts,
                 const char **val);

/* ---- numbers (util.c): the whole string must be a number ---- */
/* Decimal (or 0x hex) integer in [lo, hi]; 0 on success, -1 otherwise. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* A percentage 0..100 with up to two decimals, in basis points
 * (1/100 of a percent, 0..10000); 0 on success, -1 otherwise. */
int cli_parse_pct(const char *s, uint32_t *bp);

/* ---- files (util.c) ---- */
/* Read a whole file into a malloc'd buffer (NUL-terminated, *len excludes
 * the NUL).  Returns 0 or an errno value. */
int cli_read_file(const char *path, uint8_t **buf, size_t *len);
/* mkdir -p; returns 0 or an errno value. */
int cli_mkdir_p(const char *path);
/* Write s as a JSON string literal, quotes included. */
void cli_json_string(FILE *f, const char *s);
/* dpf_write_fn over a FILE *. */
void cli_write_stdio(void *ctx, const char *text);
/* Finish a command's output: out is the file opened for outname (NULL
 * when it could not be opened), or standard output when outname is NULL.
 * A close or flush error is printed and turns rc (0 or -1) into -1; a
 * named output is removed when the command failed, so no half-written
 * file stays behind.  Returns rc. */
int cli_out_close(FILE *out, const char *outname, int rc);

/* ---- filter files (filters.c) ---- */
/* 1 when buf starts with the binary IR magic (what dpf_ir_write emits). */
int cli_is_ir(const uint8_t *buf, size_t len);
/* Load FILE: binary IR when it starts with the IR magic, else filter text.
 * Errors are printed on stderr ("FILE:LINE:COL: error: ..." for text,
 * "FILE: error: ..." for I/O and IR).  Returns 0 or -1.  Free the program
 * with dpf_prog_free(dpf_host_libc(), prog). */
int cli_load(const char *file, struct dpf_prog **out);
/* Insert every filter of prog into e, in order.  ids (may be NULL) gets
 * each filter's id, or -1 when it was refused.  Each refusal is printed as
 * "FILE:LINE:COL: error: DIAG" at the filter's name ("FILE: error: DIAG"
 * when the filter has no position).  Returns the number of refusals. */
/* The same, with the handler clauses of filter text in *hs (none for
 * binary IR); free with dpf_lang_handlers_free. */
struct dpf_lang_handlers;
int cli_load_ex(const char *file, struct dpf_prog **out,
                struct dpf_lang_handlers *hs);
uint32_t cli_install(const char *file, const struct dpf_prog *prog,
                     struct dpf_engine *e, int *ids);


#endif
