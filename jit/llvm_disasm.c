/*
 * llvm_disasm.c - the listing behind `dpf compile --emit=asm`: the x86-64 code
 * the JIT generated for an engine, disassembled by LLVM's C disassembler
 * (llvm-c/Disassembler.h), block by block under the trie node it
 * implements.
 *
 * Interface (llvm_disasm.h): jit_llvm_listing(f, e) for an engine attached
 * with
 * jit_attach(..., JIT_NOTES, ...).  Output, one unit after another in
 * jit_listing() order (the top unit, classify(), first):
 *
 *   unit 0 at 0x7faabf980040 (2691 bytes)
 *   ...
 *   ; u16[12] == 0x0000: chain of 6
 *     +001a  3d 88 a8 00 00                 cmp    eax, 0xa888
 *     +001f  0f 84 3c 00 00 00              je     0x61
 *   ...
 *   ; terms: best filter #10 (vlan107)
 *   ...
 *   1 unit, 2691 code bytes, 12 filters
 *
 * Note lines ("; TEXT") come before the instruction at their offset, and a
 * note that names "filter #N" gets the filter's name appended.  Intel
 * syntax, hex immediates; branch targets are offsets in the unit, as in
 * the +OFFSET column, because every instruction is decoded at its offset
 * (code that reaches other units only does so through "call r10").
 *
 * jit_llvm_code() lists any code the same way with notes printed as
 * whole lines, verbatim (`dpf ash compile --emit=asm`, cli/ash_compile.c).
 *
 * Invariants: every byte of a unit is printed exactly once.  Decoding
 * never crosses a note (a block starts on an instruction of its own even
 * if the decoder lost step before it), and a byte LLVM cannot decode is
 * printed as ".byte 0xNN" and skipped, so the walk always advances.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Disassembler.h>
#include <llvm-c/Target.h>

#include "dpf/dpf.h"
#include "jit/jit.h"
#include "jit/llvm_disasm.h"

#define TRIPLE "x86_64-unknown-linux-gnu"
#define HEX_COLUMN 10 /* the byte column is this many bytes wide */

struct listing {
	FILE *f;
	const struct dpf_engine *e;
	LLVMDisasmContextRef dc;
	uint32_t units;
	uint64_t bytes;
	uint64_t undecoded;
	int verbatim; /* notes are whole lines (jit_llvm_code) */
};

/* The symbolizer hook.  Having one makes LLVM print a branch's target
 * (PC + displacement, so a unit offset here) rather than the raw
 * displacement; naming nothing keeps it a plain hex number. */
static const char *no_symbol(void *info, uint64_t value, uint64_t *ref_type,
                             uint64_t pc, const char **ref_name)
{
	*ref_type = LLVMDisassembler_ReferenceType_InOut_None;
	*ref_name = NULL;
	return NULL;
}

/* "; TEXT", with " (NAME)" after a "filter #N" that names an installed
 * filter. */
static void print_note(const struct listing *l, const char *text)
{
	if (l->verbatim) {
		fprintf(l->f, "%s\n", text);
		return;
	}
	fprintf(l->f, "; %s", text);
	const char *p = strstr(text, "filter #");
	if (p) {
		char *end;
		long id = strtol(p + 8, &end, 10);
		const struct dpf_filter *flt =
			end != p + 8 && id >= 0 && id < dpf_id_limit(l->e)
				? dpf_filter_get(l->e, (int)id)
				: NULL;
		if (flt)
			fprintf(l->f, " (%s)", flt->name);
	}
	fputc('\n', l->f);
}

/* One instruction line.  LLVM's text is "\tMNEMONIC\tOPERANDS": the
 * mnemonic is padded to a column and any other tab becomes a space. */
static void print_insn(const struct listing *l, size_t off, int width,
                       const uint8_t *b, size_t n, const char *text)
{
	fprintf(l->f, "  +%0*zx  ", width, off);
	for (size_t i = 0; i < n; i++)
		fprintf(l->f, "%02x ", b[i]);
	for (size_t i = n; i < HEX_COLUMN; i++)
		fputs("   ", l->f);
	fputc(' ', l->f);
	while (isspace((unsigned char)*text))
		text++;
	size_t m = strcspn(text, " \t");
	const char *ops = text + m;
	while (isspace((unsigned char)*ops))
		ops++;
	if (!*ops) {
		fprintf(l->f, "%.*s\n", (int)m, text);
		return;
	}
	fprintf(l->f, "%-6.*s ", (int)m, text);
	for (; *ops; ops++)
		fputc(*ops == '\t' ? ' ' : *ops, l->f);
	fputc('\n', l->f);
}

/* The code's notes interleaved with its instructions. */
static void list_code(struct listing *l, const uint8_t *code, size_t len,
                      const struct jit_note *notes, size_t nnotes)
{
	int width = 4;
	while (width < 16 && len > (size_t)1 << (4 * width))
		width++;
	size_t nn = 0;
	while (nn < nnotes && notes[nn].text)
		nn++;
	size_t off = 0, k = 0;
	for (;;) {
		while (k < nn && notes[k].off <= off)
			print_note(l, notes[k++].text);
		if (off >= len)
			break;
		/* Decode up to the next note, so no instruction spans one. */
		size_t stop = k < nn && notes[k].off < len ? notes[k].off : len;
		char text[160];
		/* LLVM's prototype is not const-correct; it only reads. */
		size_t n = LLVMDisasmInstruction(l->dc, (uint8_t *)code + off,
		                                 stop - off, off, text, sizeof text);
		if (n == 0 || n > stop - off) {
			snprintf(text, sizeof text, ".byte 0x%02x", code[off]);
			n = 1;
			l->undecoded++;
		}
		print_insn(l, off, width, code + off, n, text);
		off += n;
	}
	while (k < nn) /* past the end: not expected, but never dropped */
		print_note(l, notes[k++].text);
}

/* jit_unit_fn: one unit, its notes interleaved with its instructions. */
static void list_unit(void *ctx, uint64_t addr, const uint8_t *code,
                      size_t len, const struct jit_note *notes,
                      size_t nnotes)
{
	struct listing *l = ctx;
	fprintf(l->f, "%sunit %u at 0x%llx (%zu bytes)\n", l->units ? "\n" : "",
	        l->units, (unsigned long long)addr, len);
	list_code(l, code, len, notes, nnotes);
	l->units++;
	l->bytes += len;
}

/* An x86-64 disassembler as the listings want it, or NULL. */
static LLVMDisasmContextRef disasm_new(void)
{
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86Disassembler();
	LLVMDisasmContextRef dc =
		LLVMCreateDisasm(TRIPLE, NULL, 0, NULL, no_symbol);
	if (!dc)
		return NULL;
	/* One option a call: a new printer variant forgets PrintImmHex, so
	 * the variant goes first.  A refused option only changes the look. */
	LLVMSetDisasmOptions(dc, LLVMDisassembler_Option_AsmPrinterVariant);
	LLVMSetDisasmOptions(dc, LLVMDisassembler_Option_PrintImmHex);
	return dc;
}

int jit_llvm_code(FILE *f, const uint8_t *code, size_t len,
                  const struct jit_note *notes, size_t nnotes,
                  uint64_t *undecoded)
{
	struct listing l = {.f = f, .verbatim = 1};
	l.dc = disasm_new();
	if (!l.dc)
		return -1;
	list_code(&l, code, len, notes, nnotes);
	LLVMDisasmDispose(l.dc);
	*undecoded = l.undecoded;
	return 0;
}

int jit_llvm_listing(FILE *f, const struct dpf_engine *e)
{
	struct listing l = {.f = f, .e = e};
	l.dc = disasm_new();
	if (!l.dc)
		return -1;
	jit_listing(e, list_unit, &l);
	LLVMDisasmDispose(l.dc);
	fprintf(f, "\n%u unit%s, %llu code bytes, %u filter%s", l.units,
	        l.units == 1 ? "" : "s", (unsigned long long)l.bytes,
	        dpf_count(e), dpf_count(e) == 1 ? "" : "s");
	if (l.undecoded)
		fprintf(f, ", %llu bytes not decoded",
		        (unsigned long long)l.undecoded);
	fputc('\n', f);
	return 0;
}
