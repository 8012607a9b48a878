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
 * Each prints its own errors on stderr and returns 0 or -1.  When `where`
 * is given to cli_handler_open, the first error is preceded by that line
 * (the position of the handler clause in a filter file).
 */
#ifndef DPF_CLI_HANDLER_H
#define DPF_CLI_HANDLER_H

#include <stdio.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "verifier/vfy.h"

struct cli_handler {
	const char *file;
	const char *where; /* when set, printed once before the first error
	                      (the handler clause that named the file) */
	int told;          /* where has been printed */
	struct ash_image *img;
	struct vfy_ash_result vres;
	int verified;
	struct ash_prog *prog;
	const char *jit;   /* set: cli_handler_start compiles for the x86
	                      engine; the command's name ("dpf ash") */
	int jit_told;      /* the JIT's refusal has been printed */
};

int cli_handler_open(struct cli_handler *h, const char *file,
                     const char *where, const char *prog,
                     const struct ash_set *sets, size_t nsets);
/* As cli_handler_open, from bytes already in memory. */
int cli_handler_open_mem(struct cli_handler *h, const char *file,
                         const char *where, const uint8_t *buf, size_t len,
                         const char *prog, const struct ash_set *sets,
                         size_t nsets);
int cli_handler_verify(struct cli_handler *h, const struct vfy_ash_opts *o);
int cli_handler_start(struct cli_handler *h, const struct ash_env *env);
void cli_handler_close(struct cli_handler *h);
/* Compile h->prog for ASH_ENGINE_X86.  When the JIT refuses, print once
 *   CMD: FILE: the x86 JIT cannot compile PROG: REASON; running the
 *   interpreter
 * and go on: the runs then use the interpreter. */
void cli_handler_jit(struct cli_handler *h, const char *cmd);

/* Print "FILE:SECTION:INSN: error: MSG" and the source line of insn. */
void cli_handler_error(struct cli_handler *h, uint32_t insn,
                       const char *msg);

/* Handlers bound to the filters of a filter file (`handler "OBJ"`
 * clauses): each is loaded (path relative to the filter file), verified
 * and, when env is given, started.  A refusal is printed as
 *   FILE:LINE:COL: error: handler "OBJ" of filter 'NAME' is refused:
 * followed by the handler's own error lines.  Returns the number of
 * handlers refused; by_filter[i] is filter i's handler or NULL. */
struct cli_bound_handler {
	struct cli_handler h;
	uint32_t filter;
	char *path;  /* resolved */
	char *where; /* the clause's position line */
};

struct cli_bound {
	uint32_t nfilters;
	struct cli_bound_handler **by_filter;
	struct cli_bound_handler *v;
	uint32_t n;
};

struct dpf_lang_handler;
/* Handler clause lh of filter file FILE: the object's path resolved
 * against FILE's directory and the position line above, both malloc'd.
 * 0, or -1 when out of memory (then neither is allocated). */
int cli_handler_clause(const char *file, const struct dpf_prog *prog,
                       const struct dpf_lang_handler *lh, char **path,
                       char **where);

struct dpf_lang_handlers;
int cli_bind(const char *file, const struct dpf_prog *prog,
             const struct dpf_lang_handlers *hs, const struct ash_env *env,
             struct cli_bound *b);
void cli_bound_free(struct cli_bound *b);

/* The environment of handlers run by the commands: the libc allocator,
 * CLOCK_MONOTONIC for ktime_get_ns, trace_printk to stderr, ingress
 * ifindex 1 and queue 0. */
void cli_ash_env(struct ash_env *env);

/* A handler's maps to print: the image's map table and two reads, of a
 * program run here (`dpf ash run`) or elsewhere (`dpf boot --maps`: the
 * guest's).  lookup and next_key as ash_map_lookup and ash_map_next_key:
 * 0, DPF_ENOENT, or another negative code that stops the printing. */
struct cli_maps {
	uint32_t n;
	const struct ash_map_def *defs;
	int (*lookup)(void *ctx, uint32_t i, const void *key, void *value);
	int (*next_key)(void *ctx, uint32_t i, const void *key, void *next);
	void *ctx;
};
/* One line {"maps":{NAME:{KEYHEX:VALUEHEX,...},...}}, `dpf ash run
 * --jsonl`'s last: array, hash and global-data maps in table order (not
 * ring buffers or .rodata), keys sorted bytewise.  0, DPF_ENOMEM, or a
 * read's error (the line is then incomplete). */
int cli_maps_print_json(FILE *f, const struct cli_maps *m);

/* Slot i of img (not the second slot of a lddw) as text in the
 * mnemonic syntax documented in ash_dis.c, e.g. "ldxh r3, [r1+12]";
 * truncated to cap; returns the length it wanted. */
size_t cli_ash_insn_fmt(const struct ash_image *img, uint32_t i, char *buf,
                        size_t cap);

/* `dpf ash compile` (ash_compile.c): load FILE with program and sets,
 * verify and write the chosen form to outname or standard output.
 * Returns the exit status; prints its own errors. */
enum cli_ash_emit { CLI_ASH_EMIT_ASM, CLI_ASH_EMIT_IMAGE, CLI_ASH_EMIT_INSNS };
int cli_ash_compile(const char *file, enum cli_ash_emit k,
                    const char *outname, const char *program,
                    const struct ash_set *sets, size_t nsets,
                    uint64_t max_insns);

/* "--set NAME=VALUE" into s (pointing into arg); 0 or -1. */
int cli_parse_set(char *arg, struct ash_set *s);

#endif
