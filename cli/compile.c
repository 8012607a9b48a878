/*
 * compile.c - `dpf compile FILE [--emit=KIND] [-o OUT]`: write one filter
 * file as readable IR (dpf_prog_dump), binary IR (dpf_ir_write), the dump
 * of the trie that holds all of its filters (dpf_trie_dump), or the x86-64
 * code the JIT generates for that trie, disassembled (jit/llvm_disasm.c).
 *
 * The input is DPF text or binary IR, so binary IR round-trips:
 *   dpf compile x.dpf --emit=irbin -o x.irbin
 *   dpf compile x.irbin --emit=ir
 * trie and asm install every filter into one engine first (refusals are
 * reported as by check); asm then attaches the JIT with block notes, and
 * a code generation failure is bad input (exit 1), not a fallback: there
 * is nothing to list.  --engine=x86 names the only native back end and
 * changes nothing; the LLVM back end (--emit=llvm|obj, --engine=llvm) is
 * named but refused with exit 2, as it is not in this build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jit/llvm_disasm.h"
#include "jit/jit.h"

enum { OPT_HELP, OPT_EMIT, OPT_OUT, OPT_ENGINE };

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{"emit", 0, 1, OPT_EMIT},
	{"output", 'o', 1, OPT_OUT},
	{"engine", 0, 1, OPT_ENGINE},
	{NULL, 0, 0, -1},
};

enum emit { EMIT_IR, EMIT_IRBIN, EMIT_TRIE, EMIT_ASM };

void cli_compile_usage(FILE *f)
{
	fputs("usage: dpf compile FILE [--emit=ir|irbin|trie|asm] [--engine=x86]\n"
	      "                   [-o OUT]\n"
	      "\n"
	      "Compile one filter file (DPF text, or binary IR) and write the\n"
	      "result to OUT, or to standard output.\n"
	      "\n"
	      "Options:\n"
	      "  --emit=ir     readable filter IR: each filter, its paths and\n"
	      "                their atoms (the default)\n"
	      "  --emit=irbin  versioned binary IR, accepted as FILE by check,\n"
	      "                compile and replay; never written to a terminal\n"
	      "  --emit=trie   install every filter into one engine and dump\n"
	      "                the merged trie\n"
	      "  --emit=asm    install every filter into one engine, compile\n"
	      "                it with the x86-64 JIT and list the code,\n"
	      "                disassembled by LLVM (Intel syntax): per code\n"
	      "                unit its address and size, per block a '; '\n"
	      "                line naming the trie node (and filter) it\n"
	      "                implements; exit status 1 if code generation\n"
	      "                fails\n"
	      "  --engine=x86  the back end that --emit=asm lists: the x86-64\n"
	      "                JIT, the only one in this build (accepted; it\n"
	      "                changes nothing)\n"
	      "  --emit=llvm|obj, --engine=llvm\n"
	      "                not available: this build has no LLVM back end\n"
	      "                (exit status 2)\n"
	      "  -o, --output OUT   write to OUT instead of standard output\n"
	      "  -h, --help    print this help\n"
	      "\n"
	      "Errors in FILE are reported as FILE:LINE:COL: error: MESSAGE\n"
	      "(text) or FILE: error: at byte N: MESSAGE (binary IR).\n"
	      "\n"
	      "Exit status: 0 success, 1 bad input or output error, 2 usage\n"
	      "error.\n",
	      f);
}

static int no_llvm(const char *what)
{
	fprintf(stderr,
	        "dpf compile: %s is not available: this build has no LLVM "
	        "back end\n",
	        what);
	return CLI_USAGE;
}

/* Write the chosen form of prog (or the trie of e) to out; returns 0, or
 * prints what failed and returns -1. */
static int emit(const char *file, const struct dpf_prog *prog,
                const struct dpf_engine *e, enum emit k, FILE *out,
                const char *outname)
{
	if (k == EMIT_IR) {
		dpf_prog_dump(prog, cli_write_stdio, out);
		return 0;
	}
	if (k == EMIT_TRIE) {
		dpf_trie_dump(e, cli_write_stdio, out);
		return 0;
	}
	if (k == EMIT_ASM) {
		if (jit_llvm_listing(out, e) == 0)
			return 0;
		fputs("dpf compile: LLVM cannot disassemble x86-64 code "
		      "(no x86_64-unknown-linux-gnu target)\n",
		      stderr);
		return -1;
	}
	long n = dpf_ir_write(prog, NULL, 0);
	uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
	if (!buf || dpf_ir_write(prog, buf, (size_t)n) != n) {
		fprintf(stderr, "%s: error: cannot serialise the program\n", file);
		free(buf);
		return -1;
	}
	size_t w = fwrite(buf, 1, (size_t)n, out);
	free(buf);
	if (w != (size_t)n) {
		fprintf(stderr, "%s: error: %s\n", outname, strerror(errno));
		return -1;
	}
	return 0;
}

int cli_compile_main(int argc, char **argv)
{
	struct cli_parser p;
	const char *val, *file = NULL, *outname = NULL;
	enum emit k = EMIT_IR;
	int id;
	cli_opt_init(&p, "compile", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		switch (id) {
		case CLI_OPT_ERROR:
			return cli_usage_error("compile", cli_compile_usage, "%s",
			                       p.err);
		case OPT_HELP:
			cli_compile_usage(stdout);
			return CLI_OK;
		case CLI_OPT_OPERAND:
			if (file)
				return cli_usage_error("compile", cli_compile_usage,
				                       "give exactly one filter file");
			file = val;
			break;
		case OPT_OUT:
			outname = val;
			break;
		case OPT_EMIT:
			if (strcmp(val, "ir") == 0)
				k = EMIT_IR;
			else if (strcmp(val, "irbin") == 0)
				k = EMIT_IRBIN;
			else if (strcmp(val, "trie") == 0)
				k = EMIT_TRIE;
			else if (strcmp(val, "asm") == 0)
				k = EMIT_ASM;
			else if (strcmp(val, "llvm") == 0)
				return no_llvm("--emit=llvm");
			else if (strcmp(val, "obj") == 0)
				return no_llvm("--emit=obj");
			else
				return cli_usage_error("compile", cli_compile_usage,
				                       "unknown --emit kind '%s'", val);
			break;
		case OPT_ENGINE:
			if (strcmp(val, "x86") == 0)
				break; /* the JIT --emit=asm lists anyway */
			if (strcmp(val, "llvm") == 0)
				return no_llvm("--engine=llvm");
			return cli_usage_error("compile", cli_compile_usage,
			                       "unknown engine '%s'", val);
		}
	}
	if (!file)
		return cli_usage_error("compile", cli_compile_usage,
		                       "no filter file given");
	if (k == EMIT_IRBIN && !outname && isatty(STDOUT_FILENO)) {
		fputs("dpf compile: refusing to write binary IR to a terminal; "
		      "use -o OUT or redirect standard output\n",
		      stderr);
		return CLI_USAGE;
	}

	struct dpf_prog *prog = NULL;
	struct dpf_engine *e = NULL;
	if (cli_load(file, &prog) != 0)
		return CLI_BAD_INPUT;
	if (k == EMIT_TRIE || k == EMIT_ASM) {
		e = dpf_engine_new(dpf_host_libc());
		if (!e || cli_install(file, prog, e, NULL) != 0) {
			if (!e)
				fprintf(stderr, "%s: error: out of memory\n", file);
			else
				dpf_engine_free(e);
			dpf_prog_free(dpf_host_libc(), prog);
			return CLI_BAD_INPUT;
		}
	}
	if (k == EMIT_ASM) {
		struct dpf_diag d = {""};
		if (jit_attach(e, jit_mem_posix(), JIT_NOTES, &d) != 0) {
			fprintf(stderr,
			        "dpf compile: x86 code generation failed: %s\n",
			        d.msg);
			dpf_engine_free(e);
			dpf_prog_free(dpf_host_libc(), prog);
			return CLI_BAD_INPUT;
		}
	}
	FILE *out = stdout;
	int rc = 0;
	if (outname) {
		out = fopen(outname, k == EMIT_IRBIN ? "wb" : "w");
		if (!out) {
			fprintf(stderr, "%s: error: %s\n", outname, strerror(errno));
			rc = -1;
		}
	}
	if (rc == 0)
		rc = emit(file, prog, e, k, out,
		          outname ? outname : "standard output");
	if (e)
		dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	rc = cli_out_close(out, outname, rc);
	return rc ? CLI_BAD_INPUT : CLI_OK;
}
