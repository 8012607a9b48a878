/*
 * test_ash_verifier.c - the handler verifier (vfy_ash, verifier/ash_*.c):
 *   - the bpf_conformance suite: every program accepted in the raw-memory
 *     context (r1 = mem, r2 = its length);
 *   - hostile programs, each refused with its exact message and slot;
 *   - typical XDP programs accepted, with the worst-case instruction
 *     bound, the stack size and the per-slot facts checked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "verifier/vfy.h"

/* The hostile table leaves budget and rc zero in most rows. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- raw instructions ---- */
#define I(c, d, s, o, i) {(uint8_t)(c), (d), (s), (int16_t)(o), (int32_t)(i)}
#define MOV(d, imm) I(0xb7, d, 0, 0, imm)
#define MOVR(d, s) I(0xbf, d, s, 0, 0)
#define ADD(d, imm) I(0x07, d, 0, 0, imm)
#define ADDR(d, s) I(0x0f, d, s, 0, 0)
#define MULI(d, imm) I(0x27, d, 0, 0, imm)
#define LDXW(d, s, o) I(0x61, d, s, o, 0)
#define LDXH(d, s, o) I(0x69, d, s, o, 0)
#define LDXB(d, s, o) I(0x71, d, s, o, 0)
#define LDXDW(d, s, o) I(0x79, d, s, o, 0)
#define STW(d, o, imm) I(0x62, d, 0, o, imm)
#define STB(d, o, imm) I(0x72, d, 0, o, imm)
#define STDW(d, o, imm) I(0x7a, d, 0, o, imm)
#define STXDW(d, s, o) I(0x7b, d, s, o, 0)
#define JEQ(d, imm, o) I(0x15, d, 0, o, imm)
#define JNE(d, imm, o) I(0x55, d, 0, o, imm)
#define JLT(d, imm, o) I(0xa5, d, 0, o, imm)
#define JGTR(d, s, o) I(0x2d, d, s, o, 0)
#define JA(o) I(0x05, 0, 0, o, 0)
#define CALL(id) I(0x85, 0, 0, 0, id)
#define CALLSUB(rel) I(0x85, 0, 1, 0, rel)
#define EXIT I(0x95, 0, 0, 0, 0)
/* one instruction as an expression */
#define L(x) ((struct ash_insn)x)
#define LDDW(d, src, imm, imm2) I(0x18, d, src, 0, imm), I(0, 0, 0, 0, imm2)

/* r2 = data, r3 = data_end, r4 = data + n; if r4 > r3 goto fail (at
 * slot 4, jumping by skip) */
#define PROLOGUE(n, skip)                                                    \
	LDXW(2, 1, 0), LDXW(3, 1, 4), MOVR(4, 2), ADD(4, n), JGTR(4, 3, skip)

/* Maps: 0 hash (key 4, value 8), 1 ringbuf, 2 .rodata array. */
static struct ash_map_def maps[3] = {
	{.name = "h", .type = ASH_MAP_HASH, .kind = ASH_MAPK_USER,
	 .key_size = 4, .value_size = 8, .max_entries = 16},
	{.name = "rb", .type = ASH_MAP_RINGBUF, .kind = ASH_MAPK_USER,
	 .max_entries = 4096},
	{.name = ".rodata", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_RODATA,
	 .key_size = 4, .value_size = 8, .max_entries = 1},
};

struct vres {
	int rc;
	struct vfy_ash_result res;
	struct dpf_diag diag;
};

static struct vres run(const struct ash_insn *ins, uint32_t n, uint32_t ctx,
                       uint32_t mem_size, uint64_t budget)
{
	struct ash_image img;
	memset(&img, 0, sizeof img);
	img.ninsns = n;
	img.insns = (struct ash_insn *)ins;
	img.nmaps = 3;
	img.maps = maps;
	struct vfy_ash_opts o = {ctx, mem_size, budget};
	struct vres v;
	memset(&v, 0, sizeof v);
	v.rc = vfy_ash(&img, &o, dpf_host_libc(), &v.res, &v.diag);
	return v;
}

/* ---- 1. conformance ---- */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The hex string after "key":" in line, decoded into out; byte count. */
static size_t field_hex(const char *line, const char *key, uint8_t *out,
                        size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	if (!p)
		return 0;
	p += strlen(pat);
	size_t n = 0;
	while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0 && n < cap) {
		out[n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
		p += 2;
	}
	return n;
}

static void field_str(const char *line, const char *key, char *out,
                      size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(pat);
	size_t n = 0;
	while (*p && *p != '"' && n + 1 < cap)
		out[n++] = *p++;
	out[n] = 0;
}

Test(ash_verifier, conformance_suite_all_accepted)
{
	FILE *f = fopen(DPF_SOURCE_DIR
	                "/../shared/peers/bpf_conformance/cases.jsonl", "r");
	cr_assert(f, "cases.jsonl not found");
	static char line[1 << 16];
	static uint8_t prog[1 << 15], mem[1 << 12];
	int total = 0, ok = 0;
	while (fgets(line, sizeof line, f)) {
		char name[128];
		field_str(line, "name", name, sizeof name);
		size_t pn = field_hex(line, "program", prog, sizeof prog);
		size_t mn = field_hex(line, "mem", mem, sizeof mem);
		uint32_t n = (uint32_t)(pn / 8);
		struct ash_insn *ins = calloc(n ? n : 1, sizeof *ins);
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *b = prog + 8 * i;
			ins[i].code = b[0];
			ins[i].dst = b[1] & 0xf;
			ins[i].src = b[1] >> 4;
			ins[i].off = (int16_t)(b[2] | b[3] << 8);
			ins[i].imm = (int32_t)((uint32_t)b[4] | (uint32_t)b[5] << 8 |
			                       (uint32_t)b[6] << 16 |
			                       (uint32_t)b[7] << 24);
		}
		struct ash_image img;
		memset(&img, 0, sizeof img);
		img.ninsns = n;
		img.insns = ins;
		struct vfy_ash_opts o = {VFY_ASH_CTX_MEM, (uint32_t)mn, 0};
		struct vfy_ash_result res;
		struct dpf_diag d = {{0}};
		int rc = vfy_ash(&img, &o, dpf_host_libc(), &res, &d);
		total++;
		if (rc == 0) {
			ok++;
			cr_expect(res.worst_insns >= 2, "%s: worst %lu", name,
			          (unsigned long)res.worst_insns);
			vfy_ash_free(&res);
		} else {
			cr_log_error("%s refused at insn %u: %s", name,
			             res.err_insn, d.msg);
		}
		free(ins);
	}
	fclose(f);
	cr_expect_eq(total, 313, "cases: %d", total);
	cr_expect_eq(ok, 313, "accepted %d of %d", ok, total);
}

/* ---- 2. hostile programs ---- */
struct hcase {
	const char *name;
	struct ash_insn ins[40];
	const char *msg;
	uint32_t insn;
	uint64_t budget;
	int rc;
};

static const struct hcase hostile[] = {
	{"read past the proven range",
	 {PROLOGUE(14, 3), LDXH(0, 2, 14), MOV(0, 2), EXIT, MOV(0, 1), EXIT},
	 "r2 packet pointer off 14 + 2 bytes beyond proven range 14", 5},
	{"off by one: 15 bytes after checking 14",
	 {PROLOGUE(14, 3), LDXDW(0, 2, 7), MOV(0, 2), EXIT, MOV(0, 1), EXIT},
	 "r2 packet pointer off 7 + 8 bytes beyond proven range 14", 5},
	{"read before the check",
	 {LDXW(2, 1, 0), LDXW(3, 1, 4), LDXB(0, 2, 0), MOV(0, 2), EXIT},
	 "r2 packet pointer off 0 + 1 bytes beyond proven range 0", 2},
	{"negative packet offset",
	 {PROLOGUE(14, 3), LDXB(0, 2, -1), MOV(0, 2), EXIT, MOV(0, 1), EXIT},
	 "r2 packet pointer off -1 is negative", 5},
	{"stack below -512",
	 {STDW(10, -520, 0), MOV(0, 2), EXIT},
	 "r10 stack access off -520 size 8 out of bounds [-512, 0)", 0},
	{"stack at offset 0",
	 {STXDW(10, 1, 0), MOV(0, 2), EXIT},
	 "r10 stack access off 0 size 8 out of bounds [-512, 0)", 0},
	{"uninitialised stack read",
	 {LDXDW(0, 10, -8), MOV(0, 2), EXIT},
	 "invalid read from stack off -8 size 8: not initialised", 0},
	{"map value out of bounds",
	 {STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  JEQ(0, 0, 1), LDXW(1, 0, 8), MOV(0, 2), EXIT},
	 "r0 map value access off 8 size 4 beyond value_size 8", 7},
	{"variable map value offset not bounded",
	 {STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  JEQ(0, 0, 3), LDXW(1, 0, 0), ADDR(0, 1), LDXB(1, 0, 0), MOV(0, 2),
	  EXIT},
	 "r0 map value access off 0 + variable [0, 4294967295] size 1 "
	 "beyond value_size 8", 9},
	{"null map value dereference",
	 {STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  LDXW(1, 0, 0), MOV(0, 2), EXIT},
	 "r0 map value pointer may be null: check it before access", 6},
	{"pointer stored into a map value",
	 {STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  JEQ(0, 0, 1), STXDW(0, 10, 0), MOV(0, 2), EXIT},
	 "r10 leaks a pointer into map value", 7},
	{"pointer returned",
	 {MOVR(0, 10), EXIT},
	 "r0 leaks a stack pointer as return value", 1},
	{"pointer as a helper scalar argument",
	 {MOVR(1, 10), MOV(2, 0), CALL(23), MOV(0, 2), EXIT},
	 "r1 leaks a pointer into helper redirect", 2},
	{"return value 7",
	 {MOV(0, 7), EXIT},
	 "at program exit r0 has value (0x7; 0x7) should have been in "
	 "(0x0; 0x4)", 1},
	{"return value unknown",
	 {LDXW(0, 1, 12), EXIT},
	 "at program exit r0 has value (0x0; 0xffffffff) should have been in "
	 "(0x0; 0x4)", 1},
	{"ctx write",
	 {STW(1, 0, 0), MOV(0, 2), EXIT},
	 "r1 ctx write refused", 0},
	{"ctx read at a bad offset",
	 {LDXW(0, 1, 2), MOV(0, 2), EXIT},
	 "r1 invalid ctx access off 2 size 4", 0},
	{"write to r10",
	 {MOV(10, 0), MOV(0, 2), EXIT},
	 "frame pointer is read only", 0},
	{"infinite loop",
	 {MOV(0, 2), JEQ(0, 2, -1), EXIT},
	 "infinite loop detected at insn 1", 1},
	{"loop too long for the budget",
	 {MOV(0, 0), ADD(0, 1), JLT(0, 1000, -2), MOV(0, 2), EXIT},
	 "program too complex: more than 100 instructions processed", 2, 100,
	 DPF_ELIMIT},
	{"recursion",
	 {CALLSUB(1), EXIT, CALLSUB(-1), EXIT},
	 "recursive call from insn 2 to 2", 2},
	{"unknown helper",
	 {CALL(12), MOV(0, 2), EXIT},
	 "unknown helper 12", 0},
	{"non-map to map_lookup_elem",
	 {MOV(1, 0), MOVR(2, 10), ADD(2, -8), CALL(1), MOV(0, 2), EXIT},
	 "r1 type scalar, expected map pointer (map_lookup_elem arg 1)", 3},
	{"uninitialised key",
	 {LDDW(1, 5, 0, 0), MOVR(2, 10), ADD(2, -4), CALL(1), MOV(0, 2), EXIT},
	 "invalid read from stack off -4 size 4: not initialised", 4},
	{"jump out of range",
	 {MOV(0, 2), MOV(1, 0), MOV(2, 0), JA(36), EXIT},
	 "jump out of range from insn 3 to 40", 3},
	{"fall off the end",
	 {MOV(0, 2), MOV(1, 0)},
	 "fall off the end of the program", 1},
	{"unreleased ringbuf record",
	 {LDDW(1, 5, 1, 0), MOV(2, 8), MOV(3, 0), CALL(131), MOV(0, 2), EXIT},
	 "unreleased ringbuf record from insn 4", 6},
	{"call depth above 8",
	 {CALLSUB(1), EXIT, CALLSUB(1), EXIT, CALLSUB(1), EXIT, CALLSUB(1),
	  EXIT, CALLSUB(1), EXIT, CALLSUB(1), EXIT, CALLSUB(1), EXIT,
	  CALLSUB(1), EXIT, MOV(0, 0), EXIT},
	 "call stack of 9 frames is too deep", 14},
	{"unknown opcode",
	 {I(0x8e, 0, 0, 0, 0), MOV(0, 2), EXIT},
	 "unknown opcode 0x8e", 0},
	{"lddw second slot garbage",
	 {I(0x18, 0, 0, 0, 1), I(0x01, 0, 0, 0, 0), MOV(0, 2), EXIT},
	 "invalid lddw second slot", 0},
	{"packet pointer used after xdp_adjust_head",
	 {PROLOGUE(14, 6), MOVR(6, 2), MOV(2, 0), CALL(44), LDXB(0, 6, 0),
	  MOV(0, 2), EXIT, MOV(0, 1), EXIT},
	 "r6 packet pointer invalidated by a helper call", 8},
	{"unreachable instruction",
	 {MOV(0, 2), EXIT, EXIT},
	 "unreachable insn 2", 2},
	{"reserved field set",
	 {I(0x07, 1, 3, 0, 1), MOV(0, 2), EXIT},
	 "invalid field src 3", 0},
	{"multiply a pointer",
	 {MOVR(2, 10), MULI(2, 2), MOV(0, 2), EXIT},
	 "r2 pointer arithmetic with mul operator prohibited", 1},
	{"write into .rodata",
	 {LDDW(1, 6, 2, 0), STW(1, 0, 1), MOV(0, 2), EXIT},
	 "r1 write into read-only map '.rodata'", 2},
	{"bpf_loop callback returns 2",
	 {MOV(1, 4), LDDW(2, 4, 6, 0), MOV(3, 0), MOV(4, 0), CALL(181),
	  MOV(0, 2), EXIT, MOV(0, 2), EXIT},
	 "at callback exit r0 has value (0x2; 0x2) should have been in "
	 "(0x0; 0x1)", 9},
	{"pointer compared with a scalar",
	 {MOVR(2, 10), JEQ(2, 5, 0), MOV(0, 2), EXIT},
	 "r2 pointer comparison prohibited", 1},
	{"one access slot, two pointer kinds",
	 {STDW(10, -8, 0), LDXW(2, 1, 0), LDXW(3, 1, 4), MOVR(4, 2), ADD(4, 8),
	  MOVR(5, 10), ADD(5, -8), JGTR(4, 3, 1), MOVR(5, 2), LDXDW(0, 5, 0),
	  MOV(0, 2), EXIT},
	 "same insn cannot be used with different pointers", 9},
	{"subtract a pointer from a scalar",
	 {MOV(2, 1), I(0x1f, 2, 10, 0, 0), MOV(0, 2), EXIT},
	 "r2 tried to subtract pointer from scalar", 1},
	{"32-bit arithmetic on a pointer",
	 {MOVR(2, 10), I(0x04, 2, 0, 0, -8), MOV(0, 2), EXIT},
	 "r2 32-bit pointer arithmetic prohibited", 1},
	{"partial spill of a pointer",
	 {I(0x63, 10, 1, -8, 0), MOV(0, 2), EXIT},
	 "r1 partial spill of a pointer", 0},
	/* regression: the lookup's result took map 0 (r1 was read after
	 * the call had clobbered it), so a .rodata value became writable */
	{"write through a lookup in .rodata (map 2)",
	 {STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 2, 0), CALL(1),
	  JEQ(0, 0, 1), STW(0, 0, 1), MOV(0, 2), EXIT},
	 "r0 write into read-only map '.rodata'", 7},
	{"redirect's result plus 1",
	 {MOV(1, 1), MOV(2, 0), CALL(23), ADD(0, 1), EXIT},
	 "at program exit r0 has value (0x1; 0x5) should have been in "
	 "(0x0; 0x4)", 4},
	/* a static subprogram may return pointers, not into its own frame */
	{"subprogram returns its own stack",
	 {CALLSUB(2), MOV(0, 2), EXIT, STDW(10, -8, 0), MOVR(0, 10),
	  ADD(0, -8), EXIT},
	 "r0 returns a pointer to its own stack", 6},
	{"subprogram passes its own stack back from its callee",
	 {CALLSUB(2), MOV(0, 2), EXIT, STDW(10, -8, 0), MOVR(1, 10),
	  ADD(1, -8), CALLSUB(1), EXIT, MOVR(0, 1), EXIT},
	 "r0 returns a pointer to its own stack", 7},
	{"bpf_loop callback returns a pointer",
	 {MOV(1, 4), LDDW(2, 4, 6, 0), MOV(3, 0), MOV(4, 0), CALL(181),
	  MOV(0, 2), EXIT, MOVR(0, 10), EXIT},
	 "r0 leaks a stack pointer as return value", 9},
	{"map value returned by a subprogram keeps its bounds",
	 {CALLSUB(4), JEQ(0, 0, 1), LDXDW(1, 0, 8), MOV(0, 2), EXIT,
	  STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  EXIT},
	 "r0 map value access off 8 size 8 beyond value_size 8", 2},
	{"map value returned by a subprogram may be null",
	 {CALLSUB(3), LDXDW(1, 0, 0), MOV(0, 2), EXIT,
	  STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0), CALL(1),
	  EXIT},
	 "r0 map value pointer may be null: check it before access", 1},
};

static uint32_t prog_len(const struct ash_insn *ins)
{
	uint32_t n = 40;
	while (n && !ins[n - 1].code && !ins[n - 1].imm && !ins[n - 1].dst &&
	       !(n >= 2 && ins[n - 2].code == 0x18))
		n--;
	return n;
}

Test(ash_verifier, hostile_programs_refused_with_exact_messages)
{
	size_t nc = sizeof hostile / sizeof hostile[0];
	cr_assert(nc >= 24);
	for (size_t i = 0; i < nc; i++) {
		const struct hcase *c = &hostile[i];
		struct vres v = run(c->ins, prog_len(c->ins), VFY_ASH_CTX_XDP, 0,
		                    c->budget);
		cr_expect_eq(v.rc, c->rc ? c->rc : DPF_EINVAL,
		             "%s: rc %d (%s)", c->name, v.rc, v.diag.msg);
		cr_expect_str_eq(v.diag.msg, c->msg, "%s", c->name);
		cr_expect_eq(v.res.err_insn, c->insn, "%s: insn %u", c->name,
		             v.res.err_insn);
		cr_expect_null(v.res.facts, "%s", c->name);
		if (!v.rc)
			vfy_ash_free(&v.res);
	}
}

/* ---- 3. typical programs accepted ---- */
static struct vres accept(const struct ash_insn *ins, uint32_t n)
{
	struct vres v = run(ins, n, VFY_ASH_CTX_XDP, 0, 0);
	cr_assert_eq(v.rc, 0, "refused at %u: %s", v.res.err_insn, v.diag.msg);
	return v;
}

#define ACCEPT(arr) accept(arr, sizeof arr / sizeof arr[0])

Test(ash_verifier, straight_line)
{
	static const struct ash_insn p[] = {MOV(0, 2), EXIT};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 2);
	cr_expect_eq(v.res.stack, 0);
	cr_expect_eq(v.res.facts[0].flags, VFY_AF_REACHED);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, ethernet_header_checked_read_and_written)
{
	static const struct ash_insn p[] = {
		PROLOGUE(14, 5),        /* 0-4 */
		LDXH(5, 2, 12),         /* 5: ether type */
		STB(2, 0, 0xff),        /* 6: write the destination */
		JNE(5, 0x0008, 2),      /* 7: not IPv4: pass */
		MOV(0, 1),              /* 8: drop */
		EXIT,                   /* 9 */
		MOV(0, 2),              /* 10 */
		EXIT,                   /* 11 */
	};
	struct vres v = ACCEPT(p);
	/* 0-4, 5-7, then 8-9 or 10-11: 10 on the longest path */
	cr_expect_eq(v.res.worst_insns, 10);
	cr_expect_eq(v.res.stack, 0);
	cr_expect_eq(v.res.facts[0].flags, VFY_AF_REACHED | VFY_AF_CTX_LOAD);
	cr_expect_eq(v.res.facts[0].ctx_off, ASH_CTX_DATA);
	cr_expect_eq(v.res.facts[1].flags, VFY_AF_REACHED | VFY_AF_CTX_LOAD);
	cr_expect_eq(v.res.facts[1].ctx_off, ASH_CTX_DATA_END);
	cr_expect_eq(v.res.facts[0].mem, VFY_MEM_CTX);
	cr_expect_eq(v.res.facts[5].mem, VFY_MEM_PKT);
	cr_expect_eq(v.res.facts[6].mem, VFY_MEM_PKT);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, map_lookup_with_null_check)
{
	static const struct ash_insn p[] = {
		STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0),
		CALL(1),                 /* 5 */
		JEQ(0, 0, 2),            /* 6 */
		LDXDW(1, 0, 0),          /* 7 */
		I(0xdb, 0, 1, 0, 0),     /* 8: lock add [r0], r1 */
		MOV(0, 2), EXIT,         /* 9, 10 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 10); /* lddw is one insn */
	cr_expect_eq(v.res.stack, 16);
	cr_expect_eq(v.res.facts[0].mem, VFY_MEM_STACK);
	cr_expect_eq(v.res.facts[5].helper, ASH_H_MAP_LOOKUP);
	cr_expect_eq(v.res.facts[7].mem, VFY_MEM_MAP_VALUE);
	cr_expect_eq(v.res.facts[8].mem, VFY_MEM_MAP_VALUE);
	vfy_ash_free(&v.res);
}

/* The value a lookup returns belongs to the map looked up, whatever its
 * index (regression: it took map 0's value_size, as counters.o's second
 * map and ringbuf.o's stats after the ringbuf map, value_size 0). */
static int lookup_in(const struct ash_map_def *m, uint32_t nmaps,
                     uint32_t idx, int16_t off, struct dpf_diag *d,
                     uint32_t *err)
{
	const struct ash_insn p[] = {
		STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, idx, 0),
		CALL(1),                 /* 5 */
		JEQ(0, 0, 1),            /* 6 */
		LDXDW(1, 0, off),        /* 7 */
		MOV(0, 2), EXIT,
	};
	struct ash_image img;
	memset(&img, 0, sizeof img);
	img.ninsns = sizeof p / sizeof p[0];
	img.insns = (struct ash_insn *)p;
	img.nmaps = nmaps;
	img.maps = (struct ash_map_def *)m;
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, 0};
	struct vfy_ash_result res;
	int rc = vfy_ash(&img, &o, dpf_host_libc(), &res, d);
	*err = res.err_insn;
	if (!rc)
		vfy_ash_free(&res);
	return rc;
}

Test(ash_verifier, lookup_value_belongs_to_its_map)
{
	static const struct ash_map_def small_first[2] = {
		{.name = "a8", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
		 .key_size = 4, .value_size = 8, .max_entries = 4},
		{.name = "a16", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
		 .key_size = 4, .value_size = 16, .max_entries = 4},
	};
	static const struct ash_map_def big_first[2] = {
		{.name = "a16", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
		 .key_size = 4, .value_size = 16, .max_entries = 4},
		{.name = "a8", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
		 .key_size = 4, .value_size = 8, .max_entries = 4},
	};
	static const struct ash_map_def rb_first[2] = {
		{.name = "rb", .type = ASH_MAP_RINGBUF, .kind = ASH_MAPK_USER,
		 .max_entries = 4096},
		{.name = "a8", .type = ASH_MAP_ARRAY, .kind = ASH_MAPK_USER,
		 .key_size = 4, .value_size = 8, .max_entries = 4},
	};
	struct dpf_diag d;
	uint32_t err;
	/* counters.o: bytes at 8 of map 1 (16 bytes), map 0 of 8 */
	cr_expect_eq(lookup_in(small_first, 2, 1, 8, &d, &err), 0, "%s",
	             d.msg);
	/* ringbuf.o: map 1 after a ringbuf map */
	cr_expect_eq(lookup_in(rb_first, 2, 1, 0, &d, &err), 0, "%s", d.msg);
	/* unsound before: 8 bytes at 8 of map 1 (8 bytes) were accepted
	 * under map 0's 16 */
	cr_expect_eq(lookup_in(big_first, 2, 1, 8, &d, &err), DPF_EINVAL);
	cr_expect_str_eq(d.msg, "r0 map value access off 8 size 8 beyond "
	                 "value_size 8");
	cr_expect_eq(err, 7);
	cr_expect_eq(lookup_in(big_first, 2, 0, 8, &d, &err), 0, "%s", d.msg);
}

/* bpf_redirect returns XDP_REDIRECT or XDP_ABORTED: returning it is an
 * action (redirect.o), and it is never 2 (the refusal below is
 * unreachable). */
Test(ash_verifier, redirect_result_is_aborted_or_redirect)
{
	static const struct ash_insn p[] = {
		MOV(1, 1), MOV(2, 0),
		CALL(23),                /* 2 */
		JEQ(0, 2, 1),            /* 3: never taken */
		EXIT,                    /* 4 */
		MOV(0, 7), EXIT,         /* 5, 6 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.facts[2].helper, ASH_H_REDIRECT);
	cr_expect_eq(v.res.worst_insns, 5);
	cr_expect_not(v.res.facts[5].flags & VFY_AF_REACHED);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, bounded_loop_of_16)
{
	static const struct ash_insn p[] = {
		MOV(0, 0), MOV(1, 0),
		ADD(1, 1),               /* 2 */
		JLT(1, 16, -2),          /* 3 */
		MOV(0, 2), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 2 + 16 * 2 + 2);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, loop_over_packet_bytes)
{
	/* sum the first 16 bytes, bounds-checked once */
	static const struct ash_insn p[] = {
		PROLOGUE(16, 10),        /* 0-4 -> 15 */
		MOV(0, 0), MOV(5, 0),    /* 5, 6 */
		MOVR(6, 2), ADDR(6, 5),  /* 7, 8 */
		LDXB(7, 6, 0),           /* 9: variable offset, in range */
		ADDR(0, 7),              /* 10 */
		ADD(5, 1),               /* 11 */
		JLT(5, 16, -6),          /* 12 -> 7 */
		I(0x57, 0, 0, 0, 3),     /* 13: r0 &= 3 */
		EXIT,                    /* 14 */
		MOV(0, 1), EXIT,         /* 15, 16 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 5 + 2 + 16 * 6 + 2);
	cr_expect_eq(v.res.facts[9].mem, VFY_MEM_PKT);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, bpf_loop_callback)
{
	static const struct ash_insn p[] = {
		MOV(1, 10),              /* 0: ten iterations */
		LDDW(2, 4, 6, 0),        /* 1: callback at 8 */
		MOV(3, 0), MOV(4, 0),    /* 3, 4 */
		CALL(181),               /* 5 */
		MOV(0, 2), EXIT,         /* 6, 7 */
		MOV(0, 0), EXIT,         /* 8, 9: callback */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 5 + 10 * 2 + 2);
	cr_expect_eq(v.res.facts[5].helper, ASH_H_LOOP);
	cr_expect(v.res.facts[8].flags & VFY_AF_FUNC);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, bpf_loop_callback_counts_on_the_stack)
{
	static const struct ash_insn p[] = {
		STDW(10, -8, 0),         /* 0: counter */
		MOV(1, 100),             /* 1 */
		LDDW(2, 4, 8, 0),        /* 2: callback at 11 */
		MOVR(3, 10), ADD(3, -8), /* 4, 5 */
		MOV(4, 0),               /* 6 */
		CALL(181),               /* 7 */
		LDXDW(0, 10, -8),        /* 8: unknown after the loop */
		I(0x57, 0, 0, 0, 1),     /* 9: r0 &= 1 */
		EXIT,                    /* 10 */
		LDXDW(3, 2, 0),          /* 11: callback: (*ctx)++ */
		ADD(3, 1),
		STXDW(2, 3, 0),
		MOV(0, 0), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 7 + 100 * 5 + 3);
	cr_expect_eq(v.res.stack, 16);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, subprogram_call)
{
	static const struct ash_insn p[] = {
		MOV(1, 1),
		CALLSUB(2),              /* 1 -> 4 */
		MOV(0, 2), EXIT,
		STDW(10, -16, 1),        /* 4: subprogram */
		MOVR(0, 1), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 7);
	cr_expect_eq(v.res.stack, 16);
	cr_expect(v.res.facts[4].flags & VFY_AF_FUNC);
	vfy_ash_free(&v.res);
}

/* Static subprograms return pointers as Linux lets them (subprogs.o's
 * count_proto leaves a map value in r0): the caller gets r0's state. */
Test(ash_verifier, subprogram_returns_a_map_value)
{
	static const struct ash_insn p[] = {
		CALLSUB(4),              /* 0 -> 5 */
		JEQ(0, 0, 1),            /* 1 */
		LDXDW(1, 0, 0),          /* 2 */
		MOV(0, 2), EXIT,         /* 3, 4 */
		STW(10, -4, 0), MOVR(2, 10), ADD(2, -4),
		LDDW(1, 5, 0, 0),        /* 8 */
		CALL(1),                 /* 10 */
		EXIT,                    /* 11: r0 map value or null */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.facts[2].mem, VFY_MEM_MAP_VALUE);
	cr_expect(v.res.facts[5].flags & VFY_AF_FUNC);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, subprogram_returns_a_pointer_to_its_callers_stack)
{
	static const struct ash_insn p[] = {
		STDW(10, -8, 5),         /* 0 */
		MOVR(1, 10), ADD(1, -8), /* 1, 2 */
		CALLSUB(4),              /* 3 -> 8 */
		LDXDW(1, 0, 0),          /* 4: the caller's own slot */
		STDW(0, 0, 6),           /* 5 */
		MOV(0, 2), EXIT,         /* 6, 7 */
		MOVR(0, 1), EXIT,        /* 8, 9 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.facts[4].mem, VFY_MEM_STACK);
	cr_expect_eq(v.res.facts[5].mem, VFY_MEM_STACK);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, ringbuf_reserve_submit)
{
	static const struct ash_insn p[] = {
		LDDW(1, 5, 1, 0),        /* 0 */
		MOV(2, 16), MOV(3, 0),   /* 2, 3 */
		CALL(131),               /* 4 */
		JEQ(0, 0, 4),            /* 5 -> 10 */
		STDW(0, 8, 7),           /* 6 */
		MOVR(1, 0), MOV(2, 0),   /* 7, 8 */
		CALL(132),               /* 9 */
		MOV(0, 2), EXIT,         /* 10, 11 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 11);
	cr_expect_eq(v.res.facts[6].mem, VFY_MEM_RINGBUF);
	cr_expect_eq(v.res.facts[9].helper, ASH_H_RINGBUF_SUBMIT);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, callx_names_its_helper)
{
	static const struct ash_insn p[] = {
		MOV(2, 5), I(0x8d, 2, 0, 0, 0), MOV(0, 2), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.facts[1].helper, ASH_H_KTIME);
	vfy_ash_free(&v.res);
}

/* ---- packet bounds in every compare direction ---- */
#define JR(op, d, s, o) I(0x0d | (op), d, s, o, 0)
enum { J_GT = 0x20, J_GE = 0x30, J_LT = 0xa0, J_LE = 0xb0 };

struct dcase {
	uint8_t op, swap; /* swap: data_end is the left operand */
	int good_taken;   /* the taken side proves r4 <= data_end */
};

Test(ash_verifier, packet_range_from_every_compare_direction)
{
	static const struct dcase d[] = {
		{J_GT, 0, 0}, {J_GE, 0, 0}, {J_LT, 0, 1}, {J_LE, 0, 1},
		{J_GT, 1, 1}, {J_GE, 1, 1}, {J_LT, 1, 0}, {J_LE, 1, 0},
	};
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
		for (int bad = 0; bad < 2; bad++) {
			/* the read goes on the proven side, or (bad) the
			 * other one */
			int read_taken = d[i].good_taken ^ bad;
			struct ash_insn p[] = {
				LDXW(2, 1, 0), LDXW(3, 1, 4), MOVR(4, 2),
				ADD(4, 14),
				d[i].swap ? L(JR(d[i].op, 3, 4, 3)) :
				            L(JR(d[i].op, 4, 3, 3)),
				/* 5: fall through */
				read_taken ? L(MOV(0, 2)) : L(LDXB(0, 2, 13)),
				MOV(0, 2), EXIT,
				/* 8: taken */
				read_taken ? L(LDXB(0, 2, 13)) : L(MOV(0, 2)),
				MOV(0, 1), EXIT,
			};
			struct vres v = run(p, 11, VFY_ASH_CTX_XDP, 0, 0);
			if (!bad) {
				cr_expect_eq(v.rc, 0, "case %zu: %s", i,
				             v.diag.msg);
				vfy_ash_free(&v.res);
			} else {
				cr_expect_eq(v.rc, DPF_EINVAL, "case %zu bad", i);
				cr_expect_str_eq(v.diag.msg,
				                 "r2 packet pointer off 13 + 1 "
				                 "bytes beyond proven range 0");
			}
		}
	}
}

Test(ash_verifier, packet_metadata_checked_against_data)
{
	static const struct ash_insn p[] = {
		LDXW(2, 1, 0), LDXW(5, 1, 8),  /* data, data_meta */
		MOVR(6, 5), ADD(6, 4),
		JGTR(6, 2, 2),                 /* 4: meta + 4 > data: 7 */
		LDXW(0, 5, 0),                 /* 5 */
		I(0x57, 0, 0, 0, 3),
		MOV(0, 2), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.facts[5].mem, VFY_MEM_PKT);
	cr_expect_eq(v.res.facts[1].ctx_off, ASH_CTX_DATA_META);
	vfy_ash_free(&v.res);

	struct ash_insn q[9];
	memcpy(q, p, sizeof q);
	q[5] = L(LDXW(0, 5, 1)); /* one byte too far */
	v = run(q, 9, VFY_ASH_CTX_XDP, 0, 0);
	cr_expect_str_eq(v.diag.msg,
	                 "r5 packet pointer off 1 + 4 bytes beyond proven range 4");
}

/* map value [index] with the index bounded by 64-, 32-bit and signed
 * jumps */
static struct vres index_prog(struct ash_insn j1, struct ash_insn j2)
{
	struct ash_insn p[] = {
		STW(10, -4, 0), MOVR(2, 10), ADD(2, -4), LDDW(1, 5, 0, 0),
		CALL(1),                /* 5 */
		JEQ(0, 0, 6),           /* 6 -> 13 */
		LDXDW(1, 0, 0),         /* 7: unknown 64-bit index */
		j1,                     /* 8: -> 13 when out of range */
		j2,                     /* 9 */
		ADDR(0, 1),             /* 10 */
		LDXB(1, 0, 0),          /* 11 */
		MOV(0, 2),              /* 12 */
		MOV(0, 2), EXIT,        /* 13, 14 */
	};
	return run(p, 15, VFY_ASH_CTX_XDP, 0, 0);
}

Test(ash_verifier, index_bounds_from_jumps)
{
	/* unsigned 64: r1 > 7 out */
	struct vres v = index_prog(L(I(0x25, 1, 0, 4, 7)), L(MOV(3, 0)));
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
	/* off by one: r1 > 8 out */
	v = index_prog(L(I(0x25, 1, 0, 4, 8)), L(MOV(3, 0)));
	cr_expect_str_eq(v.diag.msg, "r0 map value access off 0 + variable "
	                 "[0, 8] size 1 beyond value_size 8");
	/* 32-bit jump alone leaves the upper half unknown */
	v = index_prog(L(I(0x26, 1, 0, 4, 7)), L(MOV(3, 0)));
	cr_expect_eq(v.rc, DPF_EINVAL);
	/* w1 = w1 (zero-extends), then a 32-bit bound suffices */
	v = index_prog(L(I(0xbc, 1, 1, 0, 0)), L(I(0x26, 1, 0, 3, 7)));
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
	/* signed: r1 s> 7 out, then r1 s< 0 out */
	v = index_prog(L(I(0x65, 1, 0, 4, 7)), L(I(0xc5, 1, 0, 3, 0)));
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
	/* signed upper bound only: may be negative */
	v = index_prog(L(I(0x65, 1, 0, 4, 7)), L(MOV(3, 0)));
	cr_expect_eq(v.rc, DPF_EINVAL);
	/* a copy bounded: r3 = r1 (before the jump) narrows with r1 */
	struct ash_insn cp[15];
	memcpy(cp, (struct ash_insn[]){
		L(STW(10, -4, 0)), L(MOVR(2, 10)), L(ADD(2, -4)),
		L(I(0x18, 1, 5, 0, 0)), L(I(0, 0, 0, 0, 0)), L(CALL(1)),
		L(JEQ(0, 0, 6)), L(LDXDW(1, 0, 0)), L(MOVR(3, 1)),
		L(I(0x25, 1, 0, 3, 7)), L(ADDR(0, 3)), L(LDXB(1, 0, 0)),
		L(MOV(0, 2)), L(MOV(0, 2)), L(EXIT)}, sizeof cp);
	v = run(cp, 15, VFY_ASH_CTX_XDP, 0, 0);
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
	cp[9] = L(ADD(3, 1)); /* r3 changed: no longer r1's copy */
	cp[10] = L(I(0x25, 1, 0, 2, 7));
	cp[11] = L(ADDR(0, 3));
	cp[12] = L(LDXB(1, 0, 0));
	v = run(cp, 15, VFY_ASH_CTX_XDP, 0, 0);
	cr_expect_eq(v.rc, DPF_EINVAL);
	/* jset: r1 & ~7 != 0 out */
	v = index_prog(L(I(0x45, 1, 0, 4, ~7)), L(MOV(3, 0)));
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, diamonds_bound_the_longest_path)
{
	/* three independent ifs: the longest path takes every long arm */
	static const struct ash_insn p[] = {
		LDXW(5, 1, 12),          /* 0 */
		JEQ(5, 1, 2),            /* 1 -> 4 */
		MOV(6, 1), MOV(6, 2),    /* 2, 3: long arm */
		JEQ(5, 2, 2),            /* 4 -> 7 */
		MOV(7, 1), MOV(7, 2),    /* 5, 6 */
		JEQ(5, 3, 2),            /* 7 -> 10 */
		MOV(8, 1), MOV(8, 2),    /* 8, 9 */
		MOV(0, 2), EXIT,         /* 10, 11 */
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 12);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, helper_reading_a_spilled_pointer_refused)
{
	static const struct ash_insn p[] = {
		STXDW(10, 1, -8),        /* 0: spill ctx */
		MOVR(1, 10), ADD(1, -8), /* 1, 2 */
		MOV(2, 8),               /* 3 */
		CALL(6),                 /* 4: trace_printk(fp-8, 8) */
		MOV(0, 2), EXIT,
	};
	struct vres v = run(p, 7, VFY_ASH_CTX_XDP, 0, 0);
	cr_expect_str_eq(v.diag.msg, "r1 helper would read a spilled ctx at "
	                 "stack off -8");
	cr_expect_eq(v.res.err_insn, 4);
}

Test(ash_verifier, spill_and_fill_keep_pointers)
{
	static const struct ash_insn p[] = {
		STXDW(10, 1, -8),        /* 0: spill ctx */
		MOV(1, 0),
		LDXDW(1, 10, -8),        /* 2: fill: ctx again */
		LDXW(0, 1, 16),          /* 3 */
		I(0x57, 0, 0, 0, 1),
		EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect(v.res.facts[3].flags & VFY_AF_CTX_LOAD);
	cr_expect_eq(v.res.facts[3].ctx_off, ASH_CTX_RXQ);
	cr_expect_eq(v.res.stack, 16);
	vfy_ash_free(&v.res);
	/* a partial fill of the spilled pointer is refused */
	struct ash_insn q[6];
	memcpy(q, p, sizeof q);
	q[2] = L(LDXW(1, 10, -8));
	v = run(q, 6, VFY_ASH_CTX_XDP, 0, 0);
	cr_expect_str_eq(v.diag.msg, "r1 partial read of a spilled ctx at "
	                 "stack off -8");
}

/* clang -O2 -target bpf output (kept as instructions): a nounroll loop
 * over 32 packet bytes into a stack struct, bpf_loop(8, cb, &s, 0) whose
 * callback adds to a u32 field, a subprogram updating the struct through
 * a pointer, and a variable-offset packet read.  Linux (6.x) accepts the
 * same program without the callback (processed 766 insns). */
static const struct ash_insn clang_prog[] = {
	I(0x61, 9, 1, 4, 0), I(0x61, 8, 1, 0, 0), I(0xb7, 1, 0, 0, 0), I(0x7b, 10, 1, -8, 0),
	I(0x7b, 10, 1, -16, 0), I(0x7b, 10, 1, -24, 0), I(0x7b, 10, 1, -32, 0), I(0xb7, 6, 0, 0, 0),
	I(0xbf, 2, 8, 0, 0), I(0x0f, 2, 1, 0, 0), I(0xbf, 3, 2, 0, 0), I(0x07, 3, 0, 0, 1),
	I(0x2d, 3, 9, 10, 0), I(0xbf, 3, 1, 0, 0), I(0x57, 3, 0, 0, 15), I(0xbf, 4, 10, 0, 0),
	I(0x07, 4, 0, 0, -32), I(0x0f, 4, 3, 0, 0), I(0x71, 2, 2, 0, 0), I(0x73, 4, 2, 8, 0),
	I(0x0f, 6, 2, 0, 0), I(0x07, 1, 0, 0, 1), I(0x55, 1, 0, -15, 32), I(0xbf, 7, 10, 0, 0),
	I(0x07, 7, 0, 0, -32), I(0xb7, 1, 0, 0, 8), I(0x18, 2, 4, 0, 22), I(0x00, 0, 0, 0, 0),
	I(0xbf, 3, 7, 0, 0), I(0xb7, 4, 0, 0, 0), I(0x85, 0, 0, 0, 181), I(0xbf, 1, 7, 0, 0),
	I(0xbf, 2, 6, 0, 0), I(0x85, 0, 1, 0, 20), I(0x57, 6, 0, 0, 255), I(0x25, 6, 0, 6, 63),
	I(0x0f, 8, 6, 0, 0), I(0xbf, 1, 8, 0, 0), I(0x07, 1, 0, 0, 4), I(0x2d, 1, 9, 2, 0),
	I(0x71, 1, 8, 3, 0), I(0x0f, 0, 1, 0, 0), I(0x61, 1, 10, -28, 0), I(0x0f, 1, 0, 0, 0),
	I(0x71, 2, 10, -21, 0), I(0x0f, 1, 2, 0, 0), I(0x57, 1, 0, 0, 3), I(0xbf, 0, 1, 0, 0),
	I(0x95, 0, 0, 0, 0), I(0x61, 3, 2, 4, 0), I(0x0f, 3, 1, 0, 0), I(0x63, 2, 3, 4, 0),
	I(0xb7, 0, 0, 0, 0), I(0x95, 0, 0, 0, 0), I(0x61, 0, 1, 0, 0), I(0x0f, 0, 2, 0, 0),
	I(0x63, 1, 0, 0, 0), I(0x57, 0, 0, 0, 3), I(0x95, 0, 0, 0, 0),
};

Test(ash_verifier, clang_program_with_loop_callback_and_subprogram)
{
	const struct ash_insn *p = clang_prog;
	struct vres v = accept(p, sizeof clang_prog / sizeof clang_prog[0]);
	cr_expect_eq(v.res.worst_insns, 558);
	cr_expect_eq(v.res.stack, 32);
	cr_expect(v.res.facts[49].flags & VFY_AF_FUNC); /* callback */
	cr_expect(v.res.facts[54].flags & VFY_AF_FUNC); /* subprogram */
	cr_expect_eq(v.res.facts[30].helper, ASH_H_LOOP);
	vfy_ash_free(&v.res);
}

/* ---- the scalar domain against concrete arithmetic ---- */
#include "verifier/ash_int.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t interesting(void)
{
	static const uint64_t edge[] = {
		0, 1, 2, 7, 8, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000,
		0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
		0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~1ull,
		~7ull, 0xffffffff80000000ull,
	};
	switch (rnd() % 4) {
	case 0: return edge[rnd() % (sizeof edge / sizeof edge[0])];
	case 1: return rnd() % 64;
	case 2: return (uint64_t)-(int64_t)(rnd() % 64);
	default: return rnd();
	}
}

/* the smallest abstract value holding vals[0..n) */
static void abs_of(struct sc *s, const uint64_t *v, int n)
{
	sc_const(s, v[0]);
	for (int i = 1; i < n; i++) {
		s->t = tn_join(s->t, tn_const(v[i]));
		if (v[i] < s->umin) s->umin = v[i];
		if (v[i] > s->umax) s->umax = v[i];
		if ((int64_t)v[i] < s->smin) s->smin = (int64_t)v[i];
		if ((int64_t)v[i] > s->smax) s->smax = (int64_t)v[i];
		if ((uint32_t)v[i] < s->u32min) s->u32min = (uint32_t)v[i];
		if ((uint32_t)v[i] > s->u32max) s->u32max = (uint32_t)v[i];
		if ((int32_t)v[i] < s->s32min) s->s32min = (int32_t)v[i];
		if ((int32_t)v[i] > s->s32max) s->s32max = (int32_t)v[i];
	}
	cr_assert_eq(sc_sync(s), 0);
}

static int has(const struct sc *s, uint64_t v)
{
	return (v & ~s->t.m) == s->t.v && v >= s->umin && v <= s->umax &&
	       (int64_t)v >= s->smin && (int64_t)v <= s->smax &&
	       (uint32_t)v >= s->u32min && (uint32_t)v <= s->u32max &&
	       (int32_t)v >= s->s32min && (int32_t)v <= s->s32max;
}

static uint64_t concrete(uint64_t a, uint64_t b, unsigned op, int sgn,
                         int is32)
{
	if (is32) {
		uint32_t x = (uint32_t)a, y = (uint32_t)b, r;
		switch (op) {
		case 0x00: r = x + y; break;
		case 0x10: r = x - y; break;
		case 0x20: r = x * y; break;
		case 0x40: r = x | y; break;
		case 0x50: r = x & y; break;
		case 0xa0: r = x ^ y; break;
		case 0x60: r = x << (y & 31); break;
		case 0x70: r = x >> (y & 31); break;
		case 0xc0: r = (uint32_t)((int32_t)x >> (y & 31)); break;
		case 0x30:
			if (!y) r = 0;
			else if (!sgn) r = x / y;
			else if ((int32_t)y == -1) r = 0 - x;
			else r = (uint32_t)((int32_t)x / (int32_t)y);
			break;
		default: /* 0x90 */
			if (!y) r = x;
			else if (!sgn) r = x % y;
			else if ((int32_t)y == -1) r = 0;
			else r = (uint32_t)((int32_t)x % (int32_t)y);
			break;
		}
		return r;
	}
	switch (op) {
	case 0x00: return a + b;
	case 0x10: return a - b;
	case 0x20: return a * b;
	case 0x40: return a | b;
	case 0x50: return a & b;
	case 0xa0: return a ^ b;
	case 0x60: return a << (b & 63);
	case 0x70: return a >> (b & 63);
	case 0xc0: return (uint64_t)((int64_t)a >> (b & 63));
	case 0x30:
		if (!b) return 0;
		if (!sgn) return a / b;
		if ((int64_t)b == -1) return 0 - a;
		return (uint64_t)((int64_t)a / (int64_t)b);
	default:
		if (!b) return a;
		if (!sgn) return a % b;
		if ((int64_t)b == -1) return 0;
		return (uint64_t)((int64_t)a % (int64_t)b);
	}
}

static int holds(uint64_t a, uint64_t b, unsigned op, int is32)
{
	if (is32) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	int64_t sa = is32 ? (int32_t)a : (int64_t)a;
	int64_t sb = is32 ? (int32_t)b : (int64_t)b;
	switch (op) {
	case 0x10: return a == b;
	case 0x50: return a != b;
	case 0x20: return a > b;
	case 0x30: return a >= b;
	case 0xa0: return a < b;
	case 0xb0: return a <= b;
	case 0x60: return sa > sb;
	case 0x70: return sa >= sb;
	case 0xc0: return sa < sb;
	case 0xd0: return sa <= sb;
	case 0x40: return (a & b) != 0;
	default: return (a & b) == 0; /* OP_NSET */
	}
}

Test(ash_verifier, scalar_domain_contains_every_concrete_result)
{
	static const unsigned alu[] = {0x00, 0x10, 0x20, 0x30, 0x40, 0x50,
	                               0x60, 0x70, 0x90, 0xa0, 0xc0};
	static const unsigned jmp[] = {0x10, 0x50, 0x20, 0x30, 0xa0, 0xb0,
	                               0x60, 0x70, 0xc0, 0xd0, 0x40, OP_NSET};
	for (int iter = 0; iter < 20000; iter++) {
		uint64_t va[4], vb[4];
		int na = 1 + (int)(rnd() % 4), nb = 1 + (int)(rnd() % 4);
		uint64_t base = interesting();
		for (int i = 0; i < na; i++)
			va[i] = rnd() % 3 ? base + rnd() % 16 : interesting();
		for (int i = 0; i < nb; i++)
			vb[i] = rnd() % 2 ? interesting() : rnd() % 70;
		struct sc a, b;
		abs_of(&a, va, na);
		abs_of(&b, vb, nb);
		int is32 = (int)(rnd() % 2);
		/* ALU */
		unsigned op = alu[rnd() % (sizeof alu / sizeof alu[0])];
		int sgn = (op == 0x30 || op == 0x90) && rnd() % 2;
		struct sc r = a;
		sc_alu(&r, &b, op, sgn, is32);
		for (int i = 0; i < na; i++)
			for (int j = 0; j < nb; j++) {
				uint64_t c = concrete(va[i], vb[j], op, sgn, is32);
				cr_assert(has(&r, c), "op %x sgn %d is32 %d: %lx, %lx "
				          "-> %lx not in result", op, sgn, is32,
				          (unsigned long)va[i], (unsigned long)vb[j],
				          (unsigned long)c);
			}
		/* sign extension, truncation, byte swaps */
		static const unsigned widths[] = {8, 16, 32};
		unsigned w = widths[rnd() % 3];
		struct sc x = a, y = a, z = a, z64 = a;
		sc_sext(&x, w);
		sc_trunc(&y, w);
		sc_bswap(&z, w == 8 ? 16 : w, 1);
		sc_bswap(&z64, 64, 1);
		for (int i = 0; i < na; i++) {
			uint64_t m = (1ull << w) - 1, lo = va[i] & m;
			uint64_t sx = lo & (1ull << (w - 1)) ? lo | ~m : lo;
			cr_assert(has(&x, sx), "sext%u %lx", w, (unsigned long)va[i]);
			cr_assert(has(&y, lo), "trunc%u %lx", w, (unsigned long)va[i]);
			uint64_t sw = w == 32 ? __builtin_bswap32((uint32_t)va[i]) :
			              __builtin_bswap16((uint16_t)va[i]);
			cr_assert(has(&z, sw), "bswap %lx", (unsigned long)va[i]);
			cr_assert(has(&z64, __builtin_bswap64(va[i])), "bswap64");
		}
		/* branches */
		unsigned jop = jmp[rnd() % (sizeof jmp / sizeof jmp[0])];
		struct sc ra = a, rb = b;
		int feasible = sc_refine(&ra, &rb, jop, is32) == 0;
		for (int i = 0; i < na; i++)
			for (int j = 0; j < nb; j++) {
				if (!holds(va[i], vb[j], jop, is32))
					continue;
				cr_assert(feasible, "op %x is32 %d: %lx, %lx holds "
				          "but refused", jop, is32,
				          (unsigned long)va[i], (unsigned long)vb[j]);
				cr_assert(has(&ra, va[i]) && has(&rb, vb[j]),
				          "op %x is32 %d: %lx, %lx lost", jop, is32,
				          (unsigned long)va[i], (unsigned long)vb[j]);
			}
	}
}

/* ---- robustness: random programs never crash the verifier ---- */
static const uint8_t some_codes[] = {
	0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47,
	0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7,
	0xaf, 0xb7, 0xbf, 0xb4, 0xbc, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x05,
	0x06, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d,
	0x65, 0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5,
	0xdd, 0x16, 0x1e, 0x26, 0x2e, 0xa6, 0xae, 0x85, 0x8d, 0x95, 0x95,
	0x95, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a,
	0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x8e,
};

static struct ash_insn random_insn(void)
{
	struct ash_insn in;
	in.code = some_codes[rnd() % sizeof some_codes];
	in.dst = (uint8_t)(rnd() % 11);
	in.src = (uint8_t)(rnd() % 8 ? rnd() % 11 : rnd() % 16);
	in.off = (int16_t)(rnd() % 4 ? (int)(rnd() % 9) - 4 :
	                   (int)(rnd() % 64) * (rnd() % 2 ? -8 : 8));
	static const int32_t imms[] = {0, 1, 2, 4, 8, 14, 16, 32, 64, -1, -8,
	                               0xff, 1 << 23, ASH_H_MAP_LOOKUP,
	                               ASH_H_RINGBUF_RESERVE, ASH_H_LOOP,
	                               ASH_ATOMIC_CMPXCHG, ASH_ATOMIC_XCHG};
	in.imm = rnd() % 4 ? imms[rnd() % (sizeof imms / sizeof imms[0])] :
	                     (int32_t)rnd();
	if (in.code == 0x85 && rnd() % 2)
		in.src = 0;
	return in;
}

Test(ash_verifier, random_programs_never_crash)
{
	int accepted = 0;
	for (int iter = 0; iter < 30000; iter++) {
		struct ash_insn p[32];
		uint32_t n = 2 + (uint32_t)(rnd() % 30);
		for (uint32_t i = 0; i < n; i++)
			p[i] = random_insn();
		if (rnd() % 2)
			for (uint32_t i = 0; i + 1 < n; i++)
				if (p[i].code == 0x18) {
					p[i + 1] = (struct ash_insn){0, 0, 0, 0,
					                             (int32_t)(rnd() % 9)};
					p[i].src = (uint8_t)(rnd() % 7);
					p[i].imm = (int32_t)(rnd() % 4);
					i++;
				}
		p[n - 1] = (struct ash_insn){0x95, 0, 0, 0, 0};
		uint32_t ctx = (uint32_t)(rnd() % 2);
		struct vres v = run(p, n, ctx, (uint32_t)(rnd() % 64), 20000);
		cr_assert(v.rc == 0 || v.rc == DPF_EINVAL || v.rc == DPF_ELIMIT,
		          "rc %d", v.rc);
		if (v.rc == 0) {
			accepted++;
			cr_assert(v.res.facts);
			vfy_ash_free(&v.res);
		} else {
			cr_assert(v.diag.msg[0], "refusal without a message");
			cr_assert(v.res.err_insn < n);
		}
	}
	cr_log_info("random programs accepted: %d of 30000", accepted);
}

/* Plausible programs: packet and stack set up, then random scalar
 * arithmetic, packet and stack accesses, forward jumps and bounded
 * backward loops, ending with r0 &= 3.  Run deep into the checker. */
static int with_calls; /* add subprogram calls and bpf_loop */

static uint32_t plausible(struct ash_insn *p)
{
	uint32_t n = 0, calls[16], ncalls = 0, funcs[16], nfuncs = 0;
	p[n++] = L(LDXW(2, 1, 0));
	p[n++] = L(LDXW(3, 1, 4));
	p[n++] = L(MOVR(4, 2));
	p[n++] = L(ADD(4, 32));
	uint32_t guard = n++; /* if r4 > r3 goto the end */
	p[n++] = L(MOV(0, (int32_t)(rnd() % 5)));
	p[n++] = L(MOV(5, (int32_t)(rnd() % 40)));
	p[n++] = L(STDW(10, -8, 0));
	p[n++] = L(STDW(10, -16, 1));
	p[n++] = L(STXDW(10, 2, -24)); /* the checked packet pointer */
	uint32_t len = 4 + (uint32_t)(rnd() % 40);
	uint8_t regs[] = {0, 5, 6, 7};
	p[n++] = L(MOV(6, 0));
	p[n++] = L(MOV(7, 3));
	uint32_t body = n;
	while (n < body + len) {
		uint8_t d = regs[rnd() % 4], s = regs[rnd() % 4];
		static const uint8_t aluops[] = {0x00, 0x10, 0x20, 0x30, 0x40,
		                                 0x50, 0x60, 0x70, 0x90, 0xa0,
		                                 0xb0, 0xc0};
		uint8_t op = aluops[rnd() % sizeof aluops];
		switch (rnd() % (with_calls ? 13 : 10)) {
		case 0: case 1:
			p[n++] = L(I((rnd() % 2 ? 0x07 : 0x04) | op, d, 0,
			             op == 0x30 || op == 0x90 ? rnd() % 2 : 0,
			             (int32_t)(rnd() % 70) - 5));
			break;
		case 2:
			p[n++] = L(I((rnd() % 2 ? 0x0f : 0x0c) | op, d, s, 0, 0));
			break;
		case 3: /* packet read at a constant offset */
			p[n++] = L(I(0x61 | (uint8_t)(rnd() % 4 * 8), d, 2,
			             (int16_t)(rnd() % 34), 0));
			if ((p[n - 1].code & 0x18) == 0x08)
				p[n - 1].code = 0x69;
			break;
		case 4: /* packet read through r8 = data + (d & 15) */
			p[n++] = L(MOVR(8, d));
			p[n++] = L(I(0x57, 8, 0, 0, (int32_t)(rnd() % 32)));
			p[n++] = L(ADDR(8, 2));
			p[n++] = L(LDXB(d, 8, (int16_t)(rnd() % 4)));
			break;
		case 5: /* stack spill and fill */
			p[n++] = L(STXDW(10, d, -8 * (int16_t)(1 + rnd() % 2)));
			p[n++] = L(LDXDW(s, 10, -8 * (int16_t)(1 + rnd() % 2)));
			break;
		case 6: { /* forward conditional jump */
			static const uint8_t j[] = {0x15, 0x25, 0x35, 0x45, 0x55,
			                            0x65, 0x75, 0xa5, 0xb5, 0xc5,
			                            0xd5, 0x16, 0x26, 0xa6, 0x1d,
			                            0x2d, 0xad};
			uint8_t c = j[rnd() % sizeof j];
			p[n++] = L(I(c, d, (c & 8) ? s : 0,
			             (int16_t)(rnd() % 4),
			             (c & 8) ? 0 : (int32_t)(rnd() % 40)));
			break;
		}
		case 7: /* a bounded loop: r9 counts to k */
			p[n++] = L(MOV(9, 0));
			p[n++] = L(I(0x07 | op, d, 0, 0, 3));
			p[n++] = L(ADD(9, 1));
			p[n++] = L(JLT(9, (int32_t)(1 + rnd() % 6), -3));
			break;
		case 8: /* atomic add on the stack */
			p[n++] = L(I(0xdb, 10, d, -8, rnd() % 2));
			break;
		case 10: /* r0 = sub(fp - 8, d) */
			if (ncalls == 16)
				break;
			p[n++] = L(MOVR(2, d));
			p[n++] = L(MOVR(1, 10));
			p[n++] = L(ADD(1, -8));
			calls[ncalls++] = n;
			p[n++] = L(CALLSUB(0));
			p[n++] = L(MOV(5, (int32_t)(rnd() % 40)));
			p[n++] = L(LDXDW(2, 10, -24));
			break;
		case 11: /* bpf_loop(k, cb, fp - 16, 0) */
			if (nfuncs == 16)
				break;
			p[n++] = L(MOV(1, (int32_t)(rnd() % 6)));
			funcs[nfuncs++] = n;
			p[n++] = L(I(0x18, 2, 4, 0, 0));
			p[n++] = L(I(0, 0, 0, 0, 0));
			p[n++] = L(MOVR(3, 10));
			p[n++] = L(ADD(3, -16));
			p[n++] = L(MOV(4, 0));
			p[n++] = L(CALL(181));
			p[n++] = L(MOV(5, (int32_t)(rnd() % 40)));
			p[n++] = L(LDXDW(2, 10, -24));
			break;
		case 12: { /* map lookup, then an access through the value */
			p[n++] = L(STW(10, -32, (int32_t)(rnd() % 5)));
			p[n++] = L(MOVR(2, 10));
			p[n++] = L(ADD(2, -32));
			p[n++] = L(I(0x18, 1, 5, 0, 0));
			p[n++] = L(I(0, 0, 0, 0, 0));
			p[n++] = L(CALL(1));
			uint32_t j = n++;
			switch (rnd() % 4) {
			case 0:
				p[n++] = L(LDXDW(6, 0, 0));
				break;
			case 1:
				p[n++] = L(MOVR(8, 6));
				p[n++] = L(I(0x57, 8, 0, 0, (int32_t)(rnd() % 2 ? 7 : 15)));
				p[n++] = L(ADDR(0, 8));
				p[n++] = L(LDXB(7, 0, 0));
				break;
			case 2:
				p[n++] = L(I(0xdb, 0, 6, 0, rnd() % 2));
				break;
			default:
				p[n++] = L(STXDW(0, 7, 0));
				break;
			}
			p[j] = L(JEQ(0, 0, (int16_t)(n - j - 1)));
			p[n++] = L(MOV(0, (int32_t)(rnd() % 4)));
			p[n++] = L(LDXDW(2, 10, -24));
			p[n++] = L(MOV(5, (int32_t)(rnd() % 40)));
			break;
		}
		default: /* packet write */
			p[n++] = L(STB(2, (int16_t)(rnd() % 33), 7));
			break;
		}
	}
	p[n++] = L(I(0x57, 0, 0, 0, 3));
	p[n++] = L(EXIT);
	p[guard] = L(JGTR(4, 3, (int16_t)(n - guard - 1)));
	p[n++] = L(MOV(0, 2));
	p[n++] = L(EXIT);
	if (ncalls) { /* sub: *r1 += r2; return *r1 & 3 */
		uint32_t at = n;
		p[n++] = L(LDXDW(0, 1, 0));
		p[n++] = L(ADDR(0, 2));
		p[n++] = L(STXDW(1, 0, 0));
		p[n++] = L(I(0x57, 0, 0, 0, 3));
		p[n++] = L(EXIT);
		for (uint32_t i = 0; i < ncalls; i++)
			p[calls[i]].imm = (int32_t)(at - calls[i] - 1);
	}
	if (nfuncs) { /* cb: *r2 += r1; stop after index 3 */
		uint32_t at = n;
		p[n++] = L(LDXDW(3, 2, 0));
		p[n++] = L(ADDR(3, 1));
		p[n++] = L(STXDW(2, 3, 0));
		p[n++] = L(MOV(0, 0));
		p[n++] = L(JLT(1, 3, 1));
		p[n++] = L(MOV(0, 1));
		p[n++] = L(EXIT);
		for (uint32_t i = 0; i < nfuncs; i++)
			p[funcs[i]].imm = (int32_t)(at - funcs[i] - 1);
	}
	/* forward jumps must land inside the program */
	for (uint32_t i = body; i < n; i++)
		if ((p[i].code & 7) == 5 || (p[i].code & 7) == 6)
			if (p[i].code != 0x85 && p[i].code != 0x95 && p[i].off > 0 &&
			    i + (uint32_t)p[i].off + 1 >= n)
				p[i].off = 0;
	return n;
}

Test(ash_verifier, plausible_programs_never_crash)
{
	int accepted = 0;
	for (int iter = 0; iter < 20000; iter++) {
		struct ash_insn p[256];
		uint32_t n = plausible(p);
		struct vres v = run(p, n, VFY_ASH_CTX_XDP, 0, 200000);
		cr_assert(v.rc == 0 || v.rc == DPF_EINVAL || v.rc == DPF_ELIMIT,
		          "rc %d", v.rc);
		if (v.rc == 0) {
			accepted++;
			cr_assert(v.res.worst_insns >= 7);
			vfy_ash_free(&v.res);
		} else {
			cr_assert(v.diag.msg[0]);
		}
	}
	cr_log_info("plausible programs accepted: %d of 20000", accepted);
	cr_expect(accepted > 1000);
}

/* A concrete interpreter for the plausible programs (ALU, jumps, packet
 * and stack memory, atomic add): every accepted program, run on random
 * packets, stays inside the packet and the initialised stack, returns
 * 0..4 and executes at most worst_insns instructions. */
struct mach {
	uint8_t pkt[64], stack[8 * 512], init[8 * 512];
	uint8_t val[4][8], present[4]; /* map 0: keys 0..3 */
	uint32_t len;
	uint64_t r[11];
	char why[120];
};

static uint8_t *addr(struct mach *m, uint64_t a, unsigned size, int read)
{
	uint64_t p = (uint64_t)(uintptr_t)m->pkt, s = (uint64_t)(uintptr_t)m->stack;
	if (a >= p && a + size <= p + m->len)
		return m->pkt + (a - p);
	if (a >= s && a + size <= s + sizeof m->stack &&
	    (a - s) / 512 == (a + size - 1 - s) / 512) {
		for (unsigned k = 0; read && k < size; k++)
			if (!m->init[a - s + k]) {
				snprintf(m->why, sizeof m->why, "uninitialised "
				         "stack byte %ld", (long)(a - s));
				return NULL;
			}
		for (unsigned k = 0; !read && k < size; k++)
			m->init[a - s + k] = 1;
		return m->stack + (a - s);
	}
	uint64_t v = (uint64_t)(uintptr_t)m->val;
	if (a >= v && a + size <= v + sizeof m->val &&
	    (a - v) / 8 == (a + size - 1 - v) / 8)
		return (uint8_t *)m->val + (a - v);
	snprintf(m->why, sizeof m->why, "access outside packet (len %u), "
	         "stack and map values", m->len);
	return NULL;
}

static uint64_t ld(const uint8_t *b, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, b, size);
	return v;
}

struct cframe {
	uint64_t saved[11]; /* caller registers */
	uint32_t ret;       /* return slot */
	int loop;           /* bpf_loop: iterations so far, else -1 */
	uint64_t n, ctx, cb;
};

/* Instructions executed, or 0 with m->why set. */
static uint64_t interp(struct mach *m, const struct ash_insn *p, uint32_t n)
{
	uint64_t cnt = 0;
	uint32_t ctx[2] = {0, 0};
	struct cframe fr[8];
	int depth = 0;
	memset(m->r, 0, sizeof m->r);
	memset(m->init, 0, sizeof m->init);
	m->r[1] = (uint64_t)(uintptr_t)ctx;
	m->r[10] = (uint64_t)(uintptr_t)m->stack + 512;
	for (uint32_t pc = 0; pc < n; pc++) {
		const struct ash_insn *in = &p[pc];
		uint64_t *d = &m->r[in->dst], s = m->r[in->src];
		unsigned size = (in->code & 0x18) == 0x18 ? 8 :
		                (in->code & 0x18) == 0x10 ? 1 :
		                (in->code & 0x18) == 0x08 ? 2 : 4;
		uint8_t *b;
		cnt++;
		if (in->code == 0x18) {
			/* function address, or map 0 */
			*d = in->src == 4 ? pc + (uint64_t)in->imm + 1 : 0x1000;
			pc++;
			continue;
		}
		if (in->code == 0x85 && in->src == 0 && in->imm == 1) {
			if (m->r[1] != 0x1000 || !(b = addr(m, m->r[2], 4, 1)))
				return 0;
			uint32_t key = (uint32_t)ld(b, 4);
			m->r[0] = key < 4 && m->present[key] ?
			          (uint64_t)(uintptr_t)m->val[key] : 0;
			for (int k = 1; k <= 5; k++)
				m->r[k] = 0xdeadbeef;
			continue;
		}
		if (in->code == 0x85) {
			if (depth == 7) {
				snprintf(m->why, sizeof m->why, "too deep");
				return 0;
			}
			struct cframe *f = &fr[depth++];
			memcpy(f->saved, m->r, sizeof m->r);
			f->ret = pc + 1;
			f->loop = -1;
			uint64_t fp = (uint64_t)(uintptr_t)m->stack + 512 * (uint64_t)(depth + 1);
			if (in->src == 1) {
				m->r[10] = fp;
				pc += (uint32_t)in->imm;
				continue;
			}
			/* bpf_loop(n, cb, ctx, 0) */
			f->loop = 0;
			f->n = m->r[1];
			f->cb = m->r[2];
			f->ctx = m->r[3];
			if (!f->n) {
				depth--;
				m->r[0] = 0;
				continue;
			}
			m->r[1] = 0;
			m->r[2] = f->ctx;
			m->r[10] = fp;
			pc = (uint32_t)f->cb - 1;
			continue;
		}
		if (in->code == 0x95 && depth) {
			struct cframe *f = &fr[depth - 1];
			uint64_t r0 = m->r[0];
			if (f->loop >= 0) {
				if (r0 > 1) {
					snprintf(m->why, sizeof m->why, "callback r0 %lu",
					         (unsigned long)r0);
					return 0;
				}
				f->loop++;
				if (!r0 && (uint64_t)f->loop < f->n) {
					m->r[1] = (uint64_t)f->loop;
					m->r[2] = f->ctx;
					pc = (uint32_t)f->cb - 1;
					continue;
				}
				r0 = (uint64_t)f->loop;
			}
			memcpy(m->r, f->saved, sizeof m->r);
			m->r[0] = r0;
			for (int k = 1; k <= 5; k++)
				m->r[k] = 0xdeadbeef; /* clobbered */
			pc = f->ret - 1;
			depth--;
			continue;
		}
		switch (in->code & 7) {
		case 4: case 7: { /* ALU */
			int is32 = (in->code & 7) == 4;
			uint64_t v = in->code & 8 ? s : (is32 ? (uint32_t)in->imm :
			                                 (uint64_t)(int64_t)in->imm);
			unsigned op = in->code & 0xf0;
			if (op == 0xb0)
				*d = is32 ? (uint32_t)v : v;
			else
				*d = concrete(*d, v, op, in->off == 1, is32);
			break;
		}
		case 5: case 6: { /* jumps, exit */
			if (in->code == 0x95) {
				if (m->r[0] > 4) {
					snprintf(m->why, sizeof m->why, "r0 %lu",
					         (unsigned long)m->r[0]);
					return 0;
				}
				return cnt;
			}
			if (in->code == 0x05) {
				pc += (uint32_t)in->off;
				break;
			}
			uint64_t v = in->code & 8 ? s : (uint64_t)(int64_t)in->imm;
			if (holds(*d, v, in->code & 0xf0, (in->code & 7) == 6))
				pc += (uint32_t)in->off;
			break;
		}
		case 1: /* LDX */
			if (in->src == 1 && !depth && pc < 2) { /* ctx */
				*d = in->off ? (uint64_t)(uintptr_t)m->pkt + m->len :
				               (uint64_t)(uintptr_t)m->pkt;
				break;
			}
			if (!(b = addr(m, s + (uint64_t)(int64_t)in->off, size, 1)))
				return 0;
			*d = ld(b, size);
			break;
		case 2: case 3: { /* ST, STX, atomic */
			uint64_t v = (in->code & 7) == 2 ? (uint64_t)(int64_t)in->imm : s;
			uint64_t a = *d + (uint64_t)(int64_t)in->off;
			if ((in->code & 0xe0) == 0xc0) {
				if (!(b = addr(m, a, size, 1)))
					return 0;
				uint64_t old = ld(b, size);
				uint64_t nv = old + v;
				memcpy(b, &nv, size);
				if (in->imm & 1)
					m->r[in->src] = old;
				break;
			}
			if (!(b = addr(m, a, size, 0)))
				return 0;
			memcpy(b, &v, size);
			break;
		}
		default:
			snprintf(m->why, sizeof m->why, "opcode %x", in->code);
			return 0;
		}
	}
	snprintf(m->why, sizeof m->why, "fell off the end");
	return 0;
}

Test(ash_verifier, accepted_programs_run_safely_within_their_bound)
{
	int runs = 0;
	static struct mach m;
	for (int iter = 0; iter < 20000; iter++) {
		struct ash_insn p[256];
		uint32_t n = plausible(p);
		struct vres v = run(p, n, VFY_ASH_CTX_XDP, 0, 200000);
		if (v.rc)
			continue;
		uint64_t worst = v.res.worst_insns;
		vfy_ash_free(&v.res);
		for (int k = 0; k < 8; k++) {
			m.len = k < 2 ? 32u + (uint32_t)k : (uint32_t)(rnd() % 65);
			for (int i = 0; i < 64; i++)
				m.pkt[i] = (uint8_t)(k == 2 ? 0 : k == 3 ? 0xff : rnd());
			uint64_t cnt = interp(&m, p, n);
			runs++;
			if (!cnt) {
				for (uint32_t i = 0; i < n; i++)
					cr_log_error("%3u: %02x %u %u %d %d", i,
					             p[i].code, p[i].dst, p[i].src,
					             p[i].off, p[i].imm);
			}
			cr_assert(cnt, "iter %d run %d: %s", iter, k, m.why);
			cr_assert(cnt <= worst, "iter %d: %lu insns, bound %lu",
			          iter, (unsigned long)cnt, (unsigned long)worst);
		}
	}
	cr_log_info("concrete runs: %d", runs);
}

Test(ash_verifier, accepted_programs_with_calls_run_safely)
{
	int runs = 0, acc = 0, called = 0, looped = 0, lookups = 0;
	static struct mach m;
	with_calls = 1;
	for (int iter = 0; iter < 20000; iter++) {
		struct ash_insn p[256];
		uint32_t n = plausible(p);
		struct vres v = run(p, n, VFY_ASH_CTX_XDP, 0, 200000);
		if (v.rc)
			continue;
		acc++;
		uint64_t worst = v.res.worst_insns;
		vfy_ash_free(&v.res);
		for (uint32_t i = 0; i < n; i++) {
			called += p[i].code == 0x85 && p[i].src == 1;
			looped += p[i].code == 0x85 && p[i].imm == 181;
			lookups += p[i].code == 0x85 && p[i].imm == 1;
		}
		for (int k = 0; k < 6; k++) {
			m.len = k < 2 ? 32u + (uint32_t)k : (uint32_t)(rnd() % 65);
			for (int i = 0; i < 64; i++)
				m.pkt[i] = (uint8_t)rnd();
			for (int i = 0; i < 4; i++)
				m.present[i] = (uint8_t)(rnd() % 2);
			uint64_t cnt = interp(&m, p, n);
			runs++;
			if (!cnt)
				for (uint32_t i = 0; i < n; i++)
					cr_log_error("%3u: %02x %u %u %d %d", i,
					             p[i].code, p[i].dst, p[i].src,
					             p[i].off, p[i].imm);
			cr_assert(cnt, "iter %d run %d: %s", iter, k, m.why);
			cr_assert(cnt <= worst, "iter %d: %lu insns, bound %lu",
			          iter, (unsigned long)cnt, (unsigned long)worst);
		}
	}
	with_calls = 0;
	cr_log_info("with calls: %d accepted (%d subprogram calls, %d "
	            "bpf_loops, %d map lookups), %d concrete runs", acc, called,
	            looped, lookups, runs);
	cr_expect(acc > 1000);
	cr_expect(called > 1000 && looped > 1000 && lookups > 1000);
}

Test(ash_verifier, bpf_loop_keeps_the_callers_registers)
{
	/* r6 shares an id with r7 and a spill that the callback's context
	 * covers; the entry state stays comparable with the exit */
	static const struct ash_insn p[] = {
		LDXW(6, 1, 12),          /* 0 */
		MOVR(7, 6),              /* 1: r6, r7 copies */
		STXDW(10, 7, -8),        /* 2: and the spill */
		MOV(7, 0),               /* 3 */
		MOV(1, 4),               /* 4 */
		LDDW(2, 4, 8, 0),        /* 5: callback at 14 */
		MOVR(3, 10), ADD(3, -8), /* 7, 8 */
		MOV(4, 0),               /* 9 */
		CALL(181),               /* 10 */
		MOVR(0, 6),              /* 11 */
		I(0x57, 0, 0, 0, 3),     /* 12 */
		EXIT,                    /* 13 */
		STDW(2, 0, 5),           /* 14: *ctx = 5 */
		MOV(0, 0), EXIT,
	};
	struct vres v = ACCEPT(p);
	cr_expect_eq(v.res.worst_insns, 10 + 4 * 3 + 3);
	vfy_ash_free(&v.res);
}

Test(ash_verifier, mutated_clang_program_never_crashes)
{
	uint32_t n = sizeof clang_prog / sizeof clang_prog[0];
	int accepted = 0;
	for (int iter = 0; iter < 3000; iter++) {
		struct ash_insn p[64];
		memcpy(p, clang_prog, sizeof clang_prog);
		int muts = 1 + (int)(rnd() % 3);
		for (int k = 0; k < muts; k++) {
			struct ash_insn *in = &p[rnd() % n];
			switch (rnd() % 6) {
			case 0: in->code = some_codes[rnd() % sizeof some_codes]; break;
			case 1: in->dst = (uint8_t)(rnd() % 11); break;
			case 2: in->src = (uint8_t)(rnd() % 11); break;
			case 3: in->off = (int16_t)(in->off + (int)(rnd() % 17) - 8); break;
			case 4: in->imm = in->imm + (int32_t)(rnd() % 17) - 8; break;
			default: *in = random_insn(); break;
			}
		}
		struct vres v = run(p, n, VFY_ASH_CTX_XDP, 0, 50000);
		cr_assert(v.rc == 0 || v.rc == DPF_EINVAL || v.rc == DPF_ELIMIT,
		          "rc %d", v.rc);
		if (!v.rc) {
			accepted++;
			vfy_ash_free(&v.res);
		}
	}
	cr_log_info("mutants accepted: %d of 3000", accepted);
}

Test(ash_verifier, raw_memory_context)
{
	static const struct ash_insn ok[] = {
		LDXW(0, 1, 4), STW(1, 0, 1), I(0xc3, 1, 0, 0, 1), EXIT,
	};
	struct vres v = run(ok, 4, VFY_ASH_CTX_MEM, 8, 0);
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	cr_expect_eq(v.res.facts[0].mem, VFY_MEM_MEM);
	cr_expect_eq(v.res.facts[2].mem, VFY_MEM_MEM);
	vfy_ash_free(&v.res);
	static const struct ash_insn past[] = {LDXW(0, 1, 6), EXIT};
	v = run(past, 2, VFY_ASH_CTX_MEM, 8, 0);
	cr_expect_str_eq(v.diag.msg, "r1 memory access off 6 size 4 beyond "
	                 "size 8");
	/* r2 holds the length: a bounds check against it */
	static const struct ash_insn len[] = {
		JLT(2, 8, 2), LDXDW(0, 1, 0), EXIT, MOV(0, 0), EXIT,
	};
	v = run(len, 5, VFY_ASH_CTX_MEM, 8, 0);
	cr_expect_eq(v.rc, 0, "%s", v.diag.msg);
	vfy_ash_free(&v.res);
	static const struct ash_insn xdp[] = {MOV(2, 0), CALL(44), EXIT};
	v = run(xdp, 3, VFY_ASH_CTX_MEM, 8, 0);
	cr_expect_str_eq(v.diag.msg,
	                 "helper xdp_adjust_head needs the XDP context");
	cr_expect_eq(v.res.err_insn, 1);
}
