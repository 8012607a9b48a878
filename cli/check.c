/*
 * check.c - `dpf check FILE...`: parse each filter file and install all
 * of its filters into a fresh engine, so that everything the engine would
 * refuse (ambiguity, duplicate names, limits) is found before use.
 *
 * Output: "FILE: N filters, M paths[, H handlers verified]" on stdout
 * per good file; each error on stderr as "FILE:LINE:COL: error: MESSAGE".
 * Handlers named by `handler "OBJ"` clauses are loaded and verified; a
 * refusal is reported at the clause, followed by the verifier's message.  Every file is checked
 * even after a bad one; the exit status is 1 when any file failed.
 */
#include <string.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "dpf/lang/lang.h"

enum { OPT_HELP };

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{NULL, 0, 0, -1},
};

void cli_check_usage(FILE *f)
{
	fputs("usage: dpf check FILE...\n"
	      "\n"
	      "Parse each filter file (DPF text, or binary IR written by\n"
	      "'dpf compile --emit=irbin') and install all of its filters into a\n"
	      "fresh engine, so that ambiguous or duplicate filters are found.\n"
	      "\n"
	      "Handlers bound with 'handler \"OBJ\"' clauses are loaded (OBJ\n"
	      "relative to FILE) and verified as 'dpf ash check' does.\n"
	      "\n"
	      "Output: one line per good file on stdout,\n"
	      "  FILE: N filters, M paths[, H handlers verified]\n"
	      "and every error on stderr as\n"
	      "  FILE:LINE:COL: error: MESSAGE\n"
	      "(a refused handler: the clause's position, then the verifier's\n"
	      "'OBJ:SECTION:INSN: error: MESSAGE' and the source line).\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help   print this help\n"
	      "\n"
	      "Exit status: 0 every file is good, 1 some file has an error,\n"
	      "2 usage error.\n",
	      f);
}

/* Check one file; returns 0 when good. */
static int check_file(const char *file)
{
	struct dpf_prog *prog = NULL;
	struct dpf_lang_handlers hs;
	if (cli_load_ex(file, &prog, &hs) != 0)
		return -1;
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	if (!e) {
		fprintf(stderr, "%s: error: out of memory\n", file);
		dpf_prog_free(dpf_host_libc(), prog);
		return -1;
	}
	uint32_t bad = cli_install(file, prog, e, NULL);
	struct cli_bound b;
	bad += (uint32_t)cli_bind(file, prog, &hs, NULL, &b);
	if (!bad) {
		uint64_t paths = 0;
		for (uint32_t i = 0; i < prog->nfilters; i++)
			paths += prog->filters[i].npaths;
		printf("%s: %u filter%s, %llu path%s", file,
		       (unsigned)prog->nfilters, prog->nfilters == 1 ? "" : "s",
		       (unsigned long long)paths, paths == 1 ? "" : "s");
		if (hs.n)
			printf(", %u handler%s verified", (unsigned)hs.n,
			       hs.n == 1 ? "" : "s");
		putchar('\n');
	}
	cli_bound_free(&b);
	dpf_lang_handlers_free(&hs);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	return bad ? -1 : 0;
}

int cli_check_main(int argc, char **argv)
{
	struct cli_parser p;
	const char *val;
	int id, nfiles = 0;
	cli_opt_init(&p, "check", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		if (id == CLI_OPT_ERROR)
			return cli_usage_error("check", cli_check_usage, "%s", p.err);
		if (id == OPT_HELP) {
			cli_check_usage(stdout);
			return CLI_OK;
		}
		if (id == CLI_OPT_OPERAND)
			nfiles++;
	}
	if (!nfiles)
		return cli_usage_error("check", cli_check_usage,
		                       "no filter file given");

	int failed = 0;
	cli_opt_init(&p, "check", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		if (id == CLI_OPT_OPERAND && check_file(val) != 0)
			failed = 1;
		fflush(stdout);
	}
	return failed ? CLI_BAD_INPUT : CLI_OK;
}
