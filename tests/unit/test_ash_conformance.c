/*
 * test_ash_conformance.c - the eBPF runtimes' conformance suite
 * (../shared/peers/bpf_conformance/cases.jsonl, RFC 9669 v1-v4) through
 * `dpf ash exec`, as the suite's own runner drives a plugin: the program's
 * hex on stdin, the memory's hex as the argument, r0 in hex on stdout.
 *
 * Every case must verify and return the expected r0 through the command,
 * on the interpreter and as x86 code (where the JIT must not refuse: a
 * refusal's note on stderr fails the case), split into chunks so that
 * Criterion runs them on both cores; and, in-process through the library
 * (the same verifier, one process for all cases), on every engine,
 * checked mode included, where an access out of real bounds would be a
 * verifier escape.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "ash/ash.h"
#include "verifier/vfy.h"
#include "jit/jit.h"

#define DPF_BIN DPF_BINARY_DIR "/cli/dpf"
#define CASES DPF_SOURCE_DIR "/../shared/peers/bpf_conformance/cases.jsonl"
#define CHUNKS 4

struct conf_case {
	char name[96];
	char *program, *mem, *result;
};

/* The string value of "key" in one JSON line (no escapes occur in the
 * suite's hex and file names). */
static char *field(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	cr_assert_not_null(p, "no %s in %.80s", key, line);
	p += strlen(pat);
	const char *q = strchr(p, '"');
	cr_assert_not_null(q);
	return strndup(p, (size_t)(q - p));
}

static size_t load_cases(struct conf_case **out)
{
	char *text = tu_read_file(CASES, NULL);
	cr_assert_not_null(text, "cannot read %s", CASES);
	size_t n = 0, cap = 512;
	struct conf_case *c = calloc(cap, sizeof *c);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strchr(line, '{'))
			continue;
		cr_assert(n < cap);
		char *name = field(line, "name");
		snprintf(c[n].name, sizeof c[n].name, "%s", name);
		free(name);
		c[n].program = field(line, "program");
		c[n].mem = field(line, "mem");
		c[n].result = field(line, "result");
		n++;
	}
	free(text);
	*out = c;
	return n;
}

static void run_chunk(int chunk, const char *engine)
{
	struct conf_case *cases;
	size_t n = load_cases(&cases);
	cr_assert_geq(n, 313, "only %zu cases in %s", n, CASES);
	char in[] = "/tmp/dpf_conf_XXXXXX";
	int fd = mkstemp(in);
	cr_assert(fd >= 0);
	close(fd);
	size_t ran = 0, passed = 0;
	for (size_t i = (size_t)chunk; i < n; i += CHUNKS) {
		struct conf_case *c = &cases[i];
		FILE *f = fopen(in, "w");
		cr_assert_not_null(f);
		fputs(c->program, f);
		fclose(f);
		const char *argv[6] = {DPF_BIN, "ash", "exec", engine,
		                       c->mem[0] ? c->mem : NULL, NULL};
		struct tu_run r = tu_exec(argv, in, 60);
		ran++;
		unsigned long long want = strtoull(c->result, NULL, 16);
		char *end;
		unsigned long long got = strtoull(r.out, &end, 16);
		int refused = strcmp(engine, "--engine=x86") == 0 &&
		              strstr(r.err, "x86 JIT cannot") != NULL;
		if (r.status == 0 && end != r.out && got == want && !refused)
			passed++;
		else
			cr_log_error("%s (%s): exit %d, r0 '%.*s', want %llx; %s",
			             c->name, engine, r.status,
			             (int)strcspn(r.out, "\n"), r.out, want, r.err);
		tu_run_free(&r);
	}
	unlink(in);
	cr_log_info("conformance chunk %d %s: %zu of %zu passed", chunk, engine,
	            passed, ran);
	cr_assert_eq(passed, ran, "%zu of %zu cases failed (%s)", ran - passed,
	             ran, engine);
	for (size_t i = 0; i < n; i++) {
		free(cases[i].program);
		free(cases[i].mem);
		free(cases[i].result);
	}
	free(cases);
}

/* The sanitizer build runs the command on the default engine (x86)
 * only: every engine is checked in-process below, and 313 more runs of an
 * ASan binary cost minutes. */
#ifdef DPF_SANITIZED
#define CHUNK_TESTS(k)                                                       \
	Test(conformance, x86_##k, .timeout = 300)                           \
	{                                                                    \
		run_chunk(k, "--engine=x86");                                \
	}
#else
#define CHUNK_TESTS(k)                                                       \
	Test(conformance, interp_##k, .timeout = 300)                        \
	{                                                                    \
		run_chunk(k, "--engine=interp");                             \
	}                                                                    \
	Test(conformance, x86_##k, .timeout = 300)                           \
	{                                                                    \
		run_chunk(k, "--engine=x86");                                \
	}
#endif

CHUNK_TESTS(0)
CHUNK_TESTS(1)
CHUNK_TESTS(2)
CHUNK_TESTS(3)

static uint8_t *unhex(const char *h, size_t *n)
{
	size_t l = strlen(h);
	uint8_t *b = malloc(l / 2 + 1);
	for (size_t i = 0; i + 1 < l; i += 2) {
		unsigned v;
		cr_assert_eq(sscanf(h + i, "%2x", &v), 1);
		b[i / 2] = (uint8_t)v;
	}
	*n = l / 2;
	return b;
}

/* Every case on every engine, in one process. */
Test(conformance, engines_in_process, .timeout = 300)
{
	static const enum ash_engine engines[] = {
		ASH_ENGINE_INTERP, ASH_ENGINE_CHECKED, ASH_ENGINE_X86};
	const struct dpf_host *host = dpf_host_libc();
	struct conf_case *cases;
	size_t n = load_cases(&cases), passed = 0;
	for (size_t i = 0; i < n; i++) {
		struct conf_case *c = &cases[i];
		size_t plen, mlen;
		uint8_t *code = unhex(c->program, &plen);
		uint8_t *mem = unhex(c->mem, &mlen);
		struct ash_image img = {.prog = "conf"};
		img.ninsns = (uint32_t)(plen / 8);
		img.insns = (struct ash_insn *)code;
		struct vfy_ash_opts o = {VFY_ASH_CTX_MEM, (uint32_t)mlen, 0};
		struct vfy_ash_result res;
		struct dpf_diag d = {{0}};
		int ok = vfy_ash(&img, &o, host, &res, &d) == 0, verified = ok;
		if (!ok)
			cr_log_error("%s: refused at %u: %s", c->name, res.err_insn,
			             d.msg);
		unsigned long long want = strtoull(c->result, NULL, 16);
		for (size_t k = 0; ok && k < sizeof engines / sizeof *engines; k++) {
			struct ash_env env = {host, NULL, NULL, NULL, NULL, 1, 0};
			struct ash_prog *p = NULL;
			struct ash_result r;
			cr_assert_eq(ash_prog_new(&img, &res, &env, &p, &d), 0, "%s",
			             d.msg);
			if (engines[k] == ASH_ENGINE_X86)
				cr_assert_eq(ash_prog_jit(p, jit_mem_posix(), &d), 0,
				             "%s: the JIT refused: %s", c->name, d.msg);
			uint8_t *m = malloc(mlen + 1);
			memcpy(m, mem, mlen);
			if (ash_run_mem(p, m, (uint32_t)mlen, engines[k], &r) != 0 ||
			    r.r0 != want) {
				cr_log_error("%s engine %d: r0 %llx want %llx %s", c->name,
				             (int)engines[k], (unsigned long long)r.r0,
				             want, r.msg);
				ok = 0;
			}
			free(m);
			ash_prog_free(p);
		}
		if (ok)
			passed++;
		if (verified)
			vfy_ash_free(&res);
		free(code);
		free(mem);
	}
	cr_log_info("conformance in process: %zu of %zu passed on every engine",
	            passed, n);
	cr_assert_eq(passed, n);
	for (size_t i = 0; i < n; i++) {
		free(cases[i].program);
		free(cases[i].mem);
		free(cases[i].result);
	}
	free(cases);
}
