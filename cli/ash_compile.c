/*
 * ash_compile.c - `dpf ash compile OBJ [--emit=asm|image|insns] [-o OUT]`:
 * a handler as the engines see it.  The object (or image) is loaded with
 * --program and --set applied and verified first, so every kind of
 * output is of a program that loads; refusals are printed as by
 * `dpf ash check` (cli/handler.c).
 *
 *   image  the program image's binary form (ash_image_write), which
 *          `dpf ash check|run` and the kernel accept as OBJ; never
 *          written to a terminal
 *   insns  the eBPF listing: per slot "INDEX: INSTRUCTION" in the
 *          mnemonic syntax of cli/ash_dis.c, under "; FILE:LINE: TEXT"
 *          lines from the image's line table (printed when the line
 *          changes; entries for line 0, code of no line, are not) and "; function ..." lines where functions start
 *   asm    the same listing with, under each slot, the x86-64 code the
 *          JIT (jit/ash_x86.c) generated for it, disassembled by LLVM
 *          (jit/llvm_disasm.c) in the format of `dpf compile --emit=asm`:
 *            ; udp_echo.c:31: if (data + sizeof(*eth) > data_end)
 *            3: jgt r3, r2, +40 -> 44
 *              +0061  48 39 d6             cmp    rsi, rdx
 *              +0064  0f 87 91 01 00 00    ja     0x1fb
 *          The fault exit (first; the entry is the program's
 *          prologue), each function's prologue and the epilogue that
 *          exit becomes are labelled by "; " lines; under a slot,
 *          "; verifier: ..." says what the verifier proved there (a
 *          jump always or never taken, a register's proven value);
 *          the second slot of a lddw, and le64, have no code.  A JIT
 *          refusal is an error (exit 1): there is nothing to list.
 *
 * Slot boundaries come from the JIT itself (jit_ash_offsets), so a
 * slot's lines are exactly the bytes generated for it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "jit/jit.h"
#include "jit/llvm_disasm.h"

/* Lines of a listing, each at a code offset (0 for --emit=insns). */
struct lines {
	struct jit_note *v;
	size_t n, cap;
	int oom;
};

static void add(struct lines *ls, uint32_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct lines *ls, uint32_t off, const char *fmt, ...)
{
	if (ls->oom)
		return;
	if (ls->n == ls->cap) {
		size_t nc = ls->cap ? 2 * ls->cap : 256;
		struct jit_note *nv = realloc(ls->v, nc * sizeof *nv);
		if (!nv) {
			ls->oom = 1;
			return;
		}
		ls->v = nv;
		ls->cap = nc;
	}
	va_list ap;
	va_start(ap, fmt);
	char *t = NULL;
	int r = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (r < 0) {
		ls->oom = 1;
		return;
	}
	ls->v[ls->n].off = off;
	ls->v[ls->n++].text = t;
}

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free((char *)ls->v[i].text);
	free(ls->v);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* What the verifier proved at slot i that the JIT compiles with (vfy.h:
 * VFY_AF_TAKEN/FALLS, VFY_AK_*), as "; verifier: ..." in buf, or "". */
static void proven(const struct ash_image *img, const struct vfy_ash_fact *f,
                   uint32_t i, char *buf, size_t cap)
{
	const struct ash_insn *in = &img->insns[i];
	enum ash_op_kind k = ash_op_kind(in->code);
	int jcc = k == ASH_K_JMP_K || k == ASH_K_JMP_X || k == ASH_K_JMP32_K ||
	          k == ASH_K_JMP32_X;
	int x = k == ASH_K_ALU64_X || k == ASH_K_ALU32_X || k == ASH_K_JMP_X ||
	        k == ASH_K_JMP32_X || k == ASH_K_STX;
	int result = k == ASH_K_ALU64_K || k == ASH_K_ALU64_X ||
	             k == ASH_K_ALU32_K || k == ASH_K_ALU32_X ||
	             k == ASH_K_NEG64 || k == ASH_K_NEG32 || k == ASH_K_END ||
	             ((k == ASH_K_LDX || k == ASH_K_LDXSX) &&
	              !(f->flags & VFY_AF_CTX_LOAD));
	if ((k == ASH_K_ALU64_K || k == ASH_K_ALU32_K) &&
	    ASH_OP(in->code) == 0xb0)
		result = 0; /* mov rN, imm: nothing to say */
	unsigned side = f->flags & (VFY_AF_TAKEN | VFY_AF_FALLS);
	buf[0] = 0;
	if (jcc && side == VFY_AF_TAKEN)
		snprintf(buf, cap, "; verifier: always taken");
	else if (jcc && side == VFY_AF_FALLS)
		snprintf(buf, cap, "; verifier: never taken");
	else if (result && (f->kflags & VFY_AK_1))
		snprintf(buf, cap, "; verifier: r%u = %lld after", in->dst,
		         (long long)f->k[1]);
	else if (jcc && x && (f->kflags & VFY_AK_0))
		snprintf(buf, cap, "; verifier: r%u = %lld", in->src,
		         (long long)f->k[0]);
	else if (jcc && (f->kflags & VFY_AK_1))
		snprintf(buf, cap, "; verifier: r%u = %lld", in->dst,
		         (long long)f->k[1]);
	else if (x && (f->kflags & VFY_AK_0))
		snprintf(buf, cap, "; verifier: r%u = %lld", in->src,
		         (long long)f->k[0]);
	else if ((k == ASH_K_CALL || k == ASH_K_CALLX) && f->helper &&
	         (f->kflags & (VFY_AK_0 | VFY_AK_1))) {
		const struct ash_helper_proto *hp = ash_helper(f->helper);
		size_t len = 0;
		unsigned nk = 0;
		for (unsigned a = 0; hp && a < 5 && nk < 2; a++) {
			uint8_t t = hp->args[a];
			if (t != ASH_ARG_ANY && t != ASH_ARG_SIZE &&
			    t != ASH_ARG_SIZE_OR_ZERO && t != ASH_ARG_ALLOC_SIZE)
				continue;
			if (f->kflags & (nk ? VFY_AK_1 : VFY_AK_0))
				len += (size_t)snprintf(buf + len, cap - len,
				                        "%sr%u = %lld",
				                        len ? ", " : "; verifier: ",
				                        a + 1,
				                        (long long)f->k[nk]);
			nk++;
			if (len >= cap)
				break;
		}
	}
}

/* The listing's lines for every slot; at is jit_ash_offsets() (NULL for
 * the eBPF listing alone). */
static void build(struct lines *ls, const struct cli_handler *h,
                  const uint32_t *at)
{
	const struct ash_image *img = h->img;
	const struct vfy_ash_fact *facts = h->vres.facts;
	uint32_t n = img->ninsns;
	const struct ash_line *last = NULL;
	int second = 0;
	char text[160];
	if (at)
		add(ls, 0, "; entry: the prologue of %s below; first the fault "
		           "exit",
		    img->prog);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = at ? at[i] : 0;
		if (i == 0 || (facts[i].flags & VFY_AF_FUNC)) {
			uint32_t fo = at && at[n + i] != UINT32_MAX ? at[n + i] : off;
			if (i == 0)
				add(ls, fo, "; function %s%s", img->prog,
				    at ? ": prologue" : "");
			else
				add(ls, fo, "; subprogram at insn %u%s", (unsigned)i,
				    at ? ": prologue" : "");
		}
		const struct ash_line *l = ash_image_line(img, i);
		/* line 0: code the compiler made up, no line of its own */
		if (l && l->line && img->strtab &&
		    (!last || l->line != last->line || l->file != last->file)) {
			const char *t = img->strtab + l->text;
			while (*t == ' ' || *t == '\t')
				t++;
			add(ls, off, "; %s:%u:%s%s", base_name(img->strtab + l->file),
			    (unsigned)l->line, *t ? " " : "", t);
			last = l;
		}
		const char *note = (facts[i].flags & VFY_AF_REACHED) || second
		                           ? ""
		                           : "   ; not reached";
		if (second) {
			add(ls, off, "%u: (lddw, second slot)", (unsigned)i);
			second = 0;
			continue;
		}
		cli_ash_insn_fmt(img, i, text, sizeof text);
		add(ls, off, "%u: %s%s", (unsigned)i, text, note);
		if (at && (facts[i].flags & VFY_AF_REACHED)) {
			proven(img, &facts[i], i, text, sizeof text);
			if (text[0])
				add(ls, off, "%s", text);
		}
		if (at && ash_op_kind(img->insns[i].code) == ASH_K_EXIT &&
		    (facts[i].flags & VFY_AF_REACHED))
			add(ls, off, "; epilogue");
		second = img->insns[i].code == 0x18;
	}
}

/* Verify, then (asm) start and compile; prints its own errors. */
static int prepare(struct cli_handler *h, const char *file,
                   const char *program, const struct ash_set *sets,
                   size_t nsets, uint64_t max_insns, int jit)
{
	if (cli_handler_open(h, file, NULL, program, sets, nsets) != 0)
		return -1;
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, max_insns};
	if (cli_handler_verify(h, &o) != 0)
		return -1;
	if (!jit)
		return 0;
	struct ash_env env;
	cli_ash_env(&env);
	if (cli_handler_start(h, &env) != 0)
		return -1;
	struct dpf_diag d = {{0}};
	if (ash_prog_jit(h->prog, jit_mem_posix(), &d) != 0) {
		fprintf(stderr, "%s: error: the x86 JIT cannot compile %s: %s\n",
		        file, h->img->prog, d.msg);
		return -1;
	}
	return 0;
}

static int emit_insns(const struct cli_handler *h, FILE *out)
{
	struct lines ls = {0};
	build(&ls, h, NULL);
	if (ls.oom) {
		lines_free(&ls);
		fprintf(stderr, "%s: error: out of memory\n", h->file);
		return -1;
	}
	fprintf(out, "%s (section %s): %u insns, worst case %llu insns, stack "
	             "%u bytes\n",
	        h->img->prog, h->img->section, (unsigned)h->img->ninsns,
	        (unsigned long long)h->vres.worst_insns, (unsigned)h->vres.stack);
	for (size_t i = 0; i < ls.n; i++)
		fprintf(out, "%s\n", ls.v[i].text);
	lines_free(&ls);
	return 0;
}

static int emit_asm(const struct cli_handler *h, FILE *out)
{
	const struct jit_ash *j = ash_prog_native(h->prog);
	size_t len;
	uint32_t n;
	const uint8_t *code = jit_ash_code(j, &len);
	const uint32_t *at = jit_ash_offsets(j, &n);
	struct lines ls = {0};
	build(&ls, h, at);
	if (ls.oom) {
		lines_free(&ls);
		fprintf(stderr, "%s: error: out of memory\n", h->file);
		return -1;
	}
	fprintf(out, "%s (section %s): %u insns, %zu code bytes\n",
	        h->img->prog, h->img->section, (unsigned)n, len);
	uint64_t undecoded = 0;
	int rc = jit_llvm_code(out, code, len, ls.v, ls.n, &undecoded);
	lines_free(&ls);
	if (rc != 0) {
		fputs("dpf ash compile: LLVM cannot disassemble x86-64 code "
		      "(no x86_64-unknown-linux-gnu target)\n",
		      stderr);
		return -1;
	}
	fprintf(out, "\n%u insns, %zu code bytes", (unsigned)n, len);
	if (undecoded)
		fprintf(out, ", %llu bytes not decoded",
		        (unsigned long long)undecoded);
	fputc('\n', out);
	return 0;
}

static int emit_image(const struct cli_handler *h, FILE *out,
                      const char *outname)
{
	long n = ash_image_write(h->img, NULL, 0);
	uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
	if (!buf || ash_image_write(h->img, buf, (size_t)n) != n) {
		fprintf(stderr, "%s: error: cannot serialise the program image\n",
		        h->file);
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

int cli_ash_compile(const char *file, enum cli_ash_emit k,
                    const char *outname, const char *program,
                    const struct ash_set *sets, size_t nsets,
                    uint64_t max_insns)
{
	if (k == CLI_ASH_EMIT_IMAGE && !outname && isatty(STDOUT_FILENO)) {
		fputs("dpf ash compile: refusing to write a program image to a "
		      "terminal; use -o OUT or redirect standard output\n",
		      stderr);
		return CLI_USAGE;
	}
	struct cli_handler h;
	if (prepare(&h, file, program, sets, nsets, max_insns,
	            k == CLI_ASH_EMIT_ASM) != 0) {
		cli_handler_close(&h);
		return CLI_BAD_INPUT;
	}
	FILE *out = stdout;
	int rc = 0;
	if (outname) {
		out = fopen(outname, k == CLI_ASH_EMIT_IMAGE ? "wb" : "w");
		if (!out) {
			fprintf(stderr, "%s: error: %s\n", outname, strerror(errno));
			rc = -1;
		}
	}
	const char *oname = outname ? outname : "standard output";
	if (rc == 0)
		rc = k == CLI_ASH_EMIT_IMAGE ? emit_image(&h, out, oname)
		   : k == CLI_ASH_EMIT_INSNS ? emit_insns(&h, out)
		                             : emit_asm(&h, out);
	cli_handler_close(&h);
	rc = cli_out_close(out, outname, rc);
	return rc ? CLI_BAD_INPUT : CLI_OK;
}
