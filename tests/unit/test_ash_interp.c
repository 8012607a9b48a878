/*
 * test_ash_interp.c - the handler runtime (ash/): the interpreter against
 * the bpf_conformance suite in both engines, then hand-assembled XDP
 * programs for the frame model, every helper, maps, calls, results and
 * checked-mode escapes.
 *
 * The verifier is not linked here: each program gets a hand-made
 * vfy_ash_result (every slot reached).  Convention for context loads:
 * a program copies r1 to r6 first and every `ldxw rX, [r6+off]` is marked
 * VFY_AF_CTX_LOAD of field off; nothing else uses r6 as a load base.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/ash_int.h"
#include "testutil.h"
#include "verifier/vfy.h"

/* ---- assembling ---- */
#define I(c, d, s, o, i) ((struct ash_insn){(c), (d), (s), (o), (i)})
#define MOV(d, imm) I(0xb7, d, 0, 0, imm)
#define MOVR(d, s) I(0xbf, d, s, 0, 0)
#define ADD(d, imm) I(0x07, d, 0, 0, imm)
#define ADDR(d, s) I(0x0f, d, s, 0, 0)
#define SUBR(d, s) I(0x1f, d, s, 0, 0)
#define LDXW(d, s, o) I(0x61, d, s, o, 0)
#define LDXB(d, s, o) I(0x71, d, s, o, 0)
#define LDXDW(d, s, o) I(0x79, d, s, o, 0)
#define STW(d, o, imm) I(0x62, d, 0, o, imm)
#define STDW(d, o, imm) I(0x7a, d, 0, o, imm)
#define STXW(d, s, o) I(0x63, d, s, o, 0)
#define STXDW(d, s, o) I(0x7b, d, s, o, 0)
#define JEQ(d, imm, o) I(0x15, d, 0, o, imm)
#define JNE(d, imm, o) I(0x55, d, 0, o, imm)
#define JA(o) I(0x05, 0, 0, o, 0)
#define CALL(id) I(0x85, 0, 0, 0, id)
#define CALLL(o) I(0x85, 0, 1, 0, o)
#define EXIT I(0x95, 0, 0, 0, 0)
#define LDMAP(d, m) I(0x18, d, 5, 0, m), I(0, 0, 0, 0, 0)
#define LDMAPV(d, m, o) I(0x18, d, 6, 0, m), I(0, 0, 0, 0, o)
#define LDFUNC(d, o) I(0x18, d, 4, 0, o), I(0, 0, 0, 0, 0)
#define CTXLD(d, off) LDXW(d, 6, off) /* after MOVR(6, 1) */

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct tp {
	struct ash_image img;
	struct vfy_ash_result vres;
	struct ash_env env;
	struct ash_prog *prog;
	struct ash_xdp x;
	uint8_t buf[ASH_FRAME_SIZE];
	struct ash_result res;
	char trace[1024];
};

static void trace_fn(void *ctx, const char *text)
{
	struct tp *t = ctx;
	snprintf(t->trace, sizeof t->trace, "%s", text);
}

static struct tp *tp_new(const struct ash_insn *insns, uint32_t n,
                         const struct ash_map_def *maps, uint32_t nmaps,
                         const uint8_t *data, uint32_t ndata)
{
	struct tp *t = calloc(1, sizeof *t);
	t->img.ninsns = n;
	t->img.insns = malloc(n * sizeof *insns);
	memcpy(t->img.insns, insns, n * sizeof *insns);
	t->img.nmaps = nmaps;
	t->img.maps = (struct ash_map_def *)maps;
	t->img.ndata = ndata;
	t->img.data = (uint8_t *)data;
	t->vres.ninsns = n;
	t->vres.facts = calloc(n, sizeof *t->vres.facts);
	for (uint32_t i = 0; i < n; i++) {
		t->vres.facts[i].flags = VFY_AF_REACHED;
		if (insns[i].code == 0x61 && insns[i].src == 6) {
			t->vres.facts[i].flags |= VFY_AF_CTX_LOAD;
			t->vres.facts[i].ctx_off = (uint8_t)insns[i].off;
		}
	}
	t->vres.host = dpf_host_libc();
	t->env.host = dpf_host_libc();
	t->env.trace = trace_fn;
	t->env.ctx = t;
	t->env.ifindex = 7;
	t->env.rxq = 3;
	struct dpf_diag d = {{0}};
	int rc = ash_prog_new(&t->img, &t->vres, &t->env, &t->prog, &d);
	cr_assert_eq(rc, 0, "ash_prog_new: %s", d.msg);
	return t;
}

static void tp_free(struct tp *t)
{
	ash_prog_free(t->prog);
	free(t->img.insns);
	free(t->vres.facts);
	free(t);
}

#define TP(insns) tp_new(insns, N(insns), NULL, 0, NULL, 0)
#define TPM(insns, maps) tp_new(insns, N(insns), maps, N(maps), NULL, 0)

/* Run on a fresh frame of len bytes (byte i = i); returns the rc. */
static int tp_run(struct tp *t, uint32_t len, enum ash_engine eng)
{
	uint8_t pkt[ASH_MAX_DATA];
	for (uint32_t i = 0; i < len; i++)
		pkt[i] = (uint8_t)i;
	memset(t->buf, 0xee, sizeof t->buf);
	ash_xdp_init(&t->x, t->buf, pkt, len);
	return ash_run_xdp(t->prog, &t->x, eng, &t->res);
}

/* Both engines agree, without a fault; returns r0. */
static int64_t tp_r0(struct tp *t, uint32_t len)
{
	cr_assert_eq(tp_run(t, len, ASH_ENGINE_CHECKED), 0, "checked: %s",
	             t->res.msg);
	uint64_t c = t->res.r0;
	cr_assert_eq(tp_run(t, len, ASH_ENGINE_INTERP), 0, "interp: %s",
	             t->res.msg);
	cr_assert_eq(t->res.r0, c, "engines disagree");
	return (int64_t)t->res.r0;
}

/* ---- 1. conformance ---- */
static size_t unhex(const char *s, size_t n, uint8_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		char b[3] = {s[i], s[i + 1], 0};
		out[k++] = (uint8_t)strtoul(b, NULL, 16);
	}
	return k;
}

static const char *field(const char *line, const char *name, size_t *len)
{
	char key[32];
	snprintf(key, sizeof key, "\"%s\":\"", name);
	const char *p = strstr(line, key);
	cr_assert(p, "no %s in %s", name, line);
	p += strlen(key);
	*len = strcspn(p, "\"");
	return p;
}

Test(ash_conformance, all_cases_both_engines)
{
	size_t flen;
	char *file = tu_read_file(DPF_SOURCE_DIR
	                          "/../shared/peers/bpf_conformance/cases.jsonl",
	                          &flen);
	cr_assert(file, "cases.jsonl not found");
	int total = 0, pass[2] = {0, 0};
	for (char *line = strtok(file, "\n"); line; line = strtok(NULL, "\n")) {
		size_t nl, pl, ml, rl;
		const char *name = field(line, "name", &nl);
		const char *prog = field(line, "program", &pl);
		const char *mem = field(line, "mem", &ml);
		const char *result = field(line, "result", &rl);
		char rbuf[40];
		snprintf(rbuf, sizeof rbuf, "%.*s", (int)rl, result);
		uint64_t want = strtoull(rbuf, NULL, 16);
		uint8_t *code = malloc(pl / 2 + 8);
		size_t nb = unhex(prog, pl, code);
		uint8_t *m0 = malloc(ml / 2 + 1), *m = malloc(ml / 2 + 1);
		size_t mlen = unhex(mem, ml, m0);
		struct tp *t = tp_new((struct ash_insn *)code,
		                      (uint32_t)(nb / 8), NULL, 0, NULL, 0);
		for (uint32_t i = 0; i < t->vres.ninsns; i++) /* no context */
			t->vres.facts[i].flags = VFY_AF_REACHED;
		total++;
		for (int e = 0; e < 2; e++) {
			memcpy(m, m0, mlen);
			int rc = ash_run_mem(t->prog, mlen ? m : NULL,
			                     (uint32_t)mlen, (enum ash_engine)e,
			                     &t->res);
			if (rc == 0 && t->res.r0 == want)
				pass[e]++;
			else
				printf("conformance %.*s (%s): rc %d r0 0x%llx want "
				       "0x%llx %s\n", (int)nl, name,
				       e ? "checked" : "interp", rc,
				       (unsigned long long)t->res.r0,
				       (unsigned long long)want, t->res.msg);
		}
		tp_free(t);
		free(code);
		free(m0);
		free(m);
	}
	free(file);
	printf("conformance: %d cases, interp %d, checked %d\n", total, pass[0],
	       pass[1]);
	cr_assert_eq(total, 313);
	cr_assert_eq(pass[0], 313);
	cr_assert_eq(pass[1], 313);
}

/* Edge cases the RFC defines and C would trap on. */
Test(ash_alu, never_traps)
{
	static const struct {
		uint8_t code;
		int16_t off;
		int64_t a, b;
		uint64_t want;
	} cs[] = {
		{0x3f, 0, 7, 0, 0},                            /* div x/0 */
		{0x9f, 0, 7, 0, 7},                            /* mod x%0 */
		{0x3c, 0, -1, 0, 0},                           /* div32 /0 */
		{0x9c, 0, 0x1ffffffffll, 0, 0xffffffff},       /* mod32 %0 */
		{0x3f, 1, INT64_MIN, -1, (uint64_t)INT64_MIN}, /* sdiv */
		{0x9f, 1, INT64_MIN, -1, 0},                   /* smod */
		{0x3c, 1, INT32_MIN, -1, 0x80000000u},         /* sdiv32 */
		{0x9c, 1, INT32_MIN, -1, 0},                   /* smod32 */
		{0x3f, 1, -7, 2, (uint64_t)-3},
		{0x9f, 1, -7, 2, (uint64_t)-1},                /* sign of dividend */
		{0x9f, 1, 7, 0, 7},                            /* smod x%0 */
		{0x3f, 1, 7, 0, 0},                            /* sdiv x/0 */
		{0x6f, 0, 1, 65, 2},                           /* lsh & 63 */
		{0x6c, 0, 1, 33, 2},                           /* lsh32 & 31 */
		{0xcf, 0, INT64_MIN, 63, (uint64_t)-1},        /* arsh */
		{0xcc, 0, 0x80000000ll, 31, 0xffffffff},       /* arsh32 */
		{0xbf, 8, 0x80, 0, (uint64_t)-128},            /* movsx8 */
		{0xbc, 16, 0x8000, 0, 0xffff8000},             /* movsx32 16 */
		{0x0c, 0, 0xffffffffll, 1, 0},                 /* add32 wraps */
	};
	for (size_t i = 0; i < N(cs); i++) {
		/* r0 = a; r1 = b; r0 op= r1 (or r0 = op r1 for mov) */
		struct ash_insn p[] = {
			I(0x18, 0, 0, 0, (int32_t)cs[i].a),
			I(0, 0, 0, 0, (int32_t)((uint64_t)cs[i].a >> 32)),
			I(0x18, 1, 0, 0, (int32_t)cs[i].b),
			I(0, 0, 0, 0, (int32_t)((uint64_t)cs[i].b >> 32)),
			I(cs[i].code, 0, 1, cs[i].off, 0),
			EXIT,
		};
		if ((cs[i].code & 0xf0) == 0xb0)
			p[4] = I(cs[i].code, 0, 0, cs[i].off, 0); /* r0 = sx(r0) */
		struct tp *t = TP(p);
		cr_assert_eq((uint64_t)tp_r0(t, 60), cs[i].want, "case %zu: 0x%llx",
		             i, (unsigned long long)t->res.r0);
		tp_free(t);
	}
	/* immediate shift amounts out of range are masked too */
	struct ash_insn q[] = {MOV(0, 1), I(0x67, 0, 0, 0, 64 + 3), EXIT};
	struct tp *t = TP(q);
	cr_assert_eq(tp_r0(t, 60), 8);
	tp_free(t);
}

/* ---- 2. context, results ---- */
Test(ash_xdp, context_fields)
{
	static const struct ash_insn p[] = {
		MOVR(6, 1),
		CTXLD(2, ASH_CTX_DATA),
		CTXLD(3, ASH_CTX_DATA_END),
		CTXLD(4, ASH_CTX_DATA_META),
		MOVR(0, 3),
		SUBR(0, 2),           /* len */
		SUBR(2, 4),           /* data - meta = 0 */
		ADDR(0, 2),
		LDXB(5, 4, 5),        /* meta == data: byte 5 of the packet */
		I(0x67, 5, 0, 0, 16), /* lsh 16 */
		ADDR(0, 5),
		CTXLD(5, ASH_CTX_IFINDEX),
		I(0x67, 5, 0, 0, 24),
		ADDR(0, 5),
		CTXLD(5, ASH_CTX_RXQ),
		I(0x67, 5, 0, 0, 32),
		ADDR(0, 5),
		EXIT,
	};
	struct tp *t = TP(p);
	for (uint32_t len = 14; len <= ASH_MAX_DATA; len += 1753) {
		int64_t r0 = tp_r0(t, len);
		cr_assert_eq(r0, (int64_t)(len + (5 << 16) + (7 << 24) +
		                           (3ull << 32)), "len %u", len);
		cr_assert_eq(t->res.action, ASH_XDP_ABORTED); /* r0 > 4 */
	}
	tp_free(t);
}

Test(ash_xdp, return_values)
{
	static const int64_t vals[] = {0, 1, 2, 3, 4, 5, -1, 0x100000002ll};
	static const int acts[] = {0, 1, 2, 3, 4, 0, 0, 0};
	for (size_t i = 0; i < N(vals); i++) {
		struct ash_insn p[] = {
			I(0x18, 0, 0, 0, (int32_t)vals[i]),
			I(0, 0, 0, 0, (int32_t)((uint64_t)vals[i] >> 32)),
			EXIT,
		};
		struct tp *t = TP(p);
		cr_assert_eq(tp_r0(t, 60), vals[i]);
		cr_assert_eq(t->res.action, acts[i], "r0 %lld",
		             (long long)vals[i]);
		cr_assert_eq(t->res.fault, ASH_FAULT_NONE);
		cr_assert_eq(t->res.insns, 2);
		tp_free(t);
	}
}

Test(ash_xdp, redirect)
{
	struct ash_insn p[] = {MOV(1, 5), MOV(2, 0), CALL(ASH_H_REDIRECT), EXIT};
	struct tp *t = TP(p);
	cr_assert_eq(tp_r0(t, 60), ASH_XDP_REDIRECT);
	cr_assert_eq(t->res.action, ASH_XDP_REDIRECT);
	cr_assert_eq(t->res.redirect_index, 5);
	tp_free(t);
	p[1] = MOV(2, 1); /* flags: Linux returns XDP_ABORTED */
	t = TP(p);
	cr_assert_eq(tp_r0(t, 60), ASH_XDP_ABORTED);
	cr_assert_eq(t->res.action, ASH_XDP_ABORTED);
	tp_free(t);
}

/* ---- 3. adjust helpers at and one past Linux's limits ---- */
struct adj {
	uint32_t helper;
	int32_t pre_meta; /* adjust_meta first (0: none) */
	int32_t pre_head; /* then adjust_head (0: none) */
	int32_t off;
	int64_t rc;
	uint32_t data, data_end, data_meta; /* after, frame of 60 bytes */
};

static const struct adj adjs[] = {
	/* head: data >= 40 + metalen, data <= data_end - 14 */
	{ASH_H_ADJUST_HEAD, 0, 0, -216, 0, 40, 316, 40},
	{ASH_H_ADJUST_HEAD, 0, 0, -217, -22, 256, 316, 256},
	{ASH_H_ADJUST_HEAD, 0, 0, 46, 0, 302, 316, 302},
	{ASH_H_ADJUST_HEAD, 0, 0, 47, -22, 256, 316, 256},
	{ASH_H_ADJUST_HEAD, -8, 0, -208, 0, 48, 316, 40},
	{ASH_H_ADJUST_HEAD, -8, 0, -209, -22, 256, 316, 248},
	{ASH_H_ADJUST_HEAD, -8, 0, 46, 0, 302, 316, 294},
	/* meta: 40 <= meta <= data; metalen % 4 == 0 and <= 32 */
	{ASH_H_ADJUST_META, 0, 0, -32, 0, 256, 316, 224},
	{ASH_H_ADJUST_META, 0, 0, -36, -13, 256, 316, 256},
	{ASH_H_ADJUST_META, 0, 0, -2, -13, 256, 316, 256},
	{ASH_H_ADJUST_META, 0, 0, 4, -22, 256, 316, 256},
	{ASH_H_ADJUST_META, 0, 0, 0, 0, 256, 316, 256},
	{ASH_H_ADJUST_META, -8, 0, 8, 0, 256, 316, 256},
	{ASH_H_ADJUST_META, 0, -212, -4, 0, 44, 316, 40},
	{ASH_H_ADJUST_META, 0, -212, -8, -22, 44, 316, 44},
	/* tail: data_end <= 4096 - 320, data_end >= data + 14 */
	{ASH_H_ADJUST_TAIL, 0, 0, 3460, 0, 256, 3776, 256},
	{ASH_H_ADJUST_TAIL, 0, 0, 3461, -22, 256, 316, 256},
	{ASH_H_ADJUST_TAIL, 0, 0, -46, 0, 256, 270, 256},
	{ASH_H_ADJUST_TAIL, 0, 0, -47, -22, 256, 316, 256},
	{ASH_H_ADJUST_TAIL, 0, 40, -6, 0, 296, 310, 296},
	{ASH_H_ADJUST_TAIL, 0, 40, -7, -22, 296, 316, 296},
};

Test(ash_xdp, adjust_limits)
{
	for (size_t i = 0; i < N(adjs); i++) {
		const struct adj *a = &adjs[i];
		struct ash_insn p[] = {
			MOVR(6, 1),
			MOVR(1, 6), MOV(2, a->pre_meta), CALL(ASH_H_ADJUST_META),
			JNE(0, 0, 7),
			MOVR(1, 6), MOV(2, a->pre_head), CALL(ASH_H_ADJUST_HEAD),
			JNE(0, 0, 3),
			MOVR(1, 6), MOV(2, a->off), CALL(a->helper),
			EXIT,
		};
		struct tp *t = TP(p);
		cr_assert_eq(tp_r0(t, 60), a->rc, "case %zu: rc %lld", i,
		             (long long)t->res.r0);
		cr_assert_eq(t->x.data, a->data, "case %zu: data %u", i, t->x.data);
		cr_assert_eq(t->x.data_end, a->data_end, "case %zu: data_end %u", i,
		             t->x.data_end);
		cr_assert_eq(t->x.data_meta, a->data_meta, "case %zu: meta %u", i,
		             t->x.data_meta);
		tp_free(t);
	}
}

Test(ash_xdp, adjust_head_moves_metadata_and_tail_zero_fills)
{
	static const struct ash_insn p[] = {
		MOVR(6, 1),
		MOVR(1, 6), MOV(2, -8), CALL(ASH_H_ADJUST_META),
		CTXLD(2, ASH_CTX_DATA_META),
		STW(2, 0, 0x11223344), STW(2, 4, 0x55667788),
		MOVR(1, 6), MOV(2, -16), CALL(ASH_H_ADJUST_HEAD),
		MOVR(1, 6), MOV(2, 100), CALL(ASH_H_ADJUST_TAIL),
		CTXLD(2, ASH_CTX_DATA_META),
		LDXW(0, 2, 4), /* the metadata moved along */
		EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_r0(t, 60), 0x55667788);
	cr_assert_eq(t->x.data_meta, 232);
	cr_assert_eq(t->x.data, 240);
	cr_assert_eq(t->x.data_end, 416);
	static const uint8_t meta[8] = {0x44, 0x33, 0x22, 0x11,
	                                0x88, 0x77, 0x66, 0x55};
	cr_assert_eq(memcmp(t->buf + 232, meta, 8), 0);
	for (uint32_t i = 316; i < 416; i++)
		cr_assert_eq(t->buf[i], 0, "tail byte %u not zeroed", i);
	cr_assert_eq(t->buf[416], 0xee);
	tp_free(t);
}

/* ---- 4. load/store bytes ---- */
Test(ash_xdp, load_store_bytes)
{
	static const struct {
		int32_t off, len;
		int64_t rc;
	} cs[] = {
		{0, 8, 0}, {52, 8, 0}, {53, 8, -22}, {60, 1, -22},
		{0x10000, 1, -14}, {-1, 4, -14},
	};
	for (size_t i = 0; i < N(cs); i++) {
		for (int store = 0; store < 2; store++) {
			struct ash_insn p[] = {
				MOVR(6, 1),
				I(0x18, 7, 0, 0, 0x05060708), I(0, 0, 0, 0, 0x01020304),
				STXDW(10, 7, -8),
				MOVR(1, 6), MOV(2, cs[i].off), MOVR(3, 10), ADD(3, -8),
				MOV(4, cs[i].len),
				CALL(store ? ASH_H_STORE_BYTES : ASH_H_LOAD_BYTES),
				JNE(0, 0, 1),
				LDXDW(0, 10, -8),
				EXIT,
			};
			struct tp *t = TP(p);
			int64_t r0 = tp_r0(t, 60);
			if (cs[i].rc) {
				cr_assert_eq(r0, cs[i].rc, "case %zu: %lld", i,
				             (long long)r0);
				tp_free(t);
				continue;
			}
			if (store) {
				cr_assert_eq(r0, 0x0102030405060708ll);
				cr_assert_eq(t->buf[256 + cs[i].off], 0x08);
				cr_assert_eq(t->buf[256 + cs[i].off + 7], 0x01);
			} else {
				uint64_t want = 0;
				for (int k = 7; k >= 0; k--)
					want = want << 8 | (uint8_t)(cs[i].off + k);
				cr_assert_eq((uint64_t)r0, want, "case %zu", i);
			}
			tp_free(t);
		}
	}
}

/* ---- 5. csum_diff (values from Linux's test_csum_diff selftest) ---- */
Test(ash_helpers, csum_diff_linux_values)
{
	uint64_t dead = 0xdeadbeefdeadbeefull, abab = 0xababababababababull,
	         zero = 0;
	const uint8_t *d = (const uint8_t *)&dead, *a = (const uint8_t *)&abab,
	              *z = (const uint8_t *)&zero;
	cr_assert_eq(ash_csum_diff(NULL, 0, d, 8, 0), 0x3b3b);
	cr_assert_eq(ash_csum_diff(d, 8, a, 8, 0), 0x7373);
	cr_assert_eq(ash_csum_diff(d, 7, a, 7, 0), 0xa673);
	cr_assert_eq(ash_csum_diff(z, 8, a, 8, 0), 0xaeae);
	cr_assert_eq(ash_csum_diff(d, 8, z, 8, 0xffff), 0xc4c4);
	cr_assert_eq(ash_csum_diff(NULL, 0, NULL, 0, 0x12345678), 0x12345678);
	/* congruence: the result is to - from + seed in ones' complement */
	uint64_t s = 42;
	for (int i = 0; i < 200; i++) {
		uint8_t f[64], t[64];
		for (int k = 0; k < 64; k++) {
			f[k] = (uint8_t)tu_rand(&s);
			t[k] = (uint8_t)tu_rand(&s);
		}
		uint32_t fl = (uint32_t)(tu_rand(&s) % 16) * 4 + 4;
		uint32_t tl = (uint32_t)(tu_rand(&s) % 16) * 4 + 4;
		int64_t sum = 0;
		for (uint32_t k = 0; k < tl; k += 2)
			sum += t[k] | t[k + 1] << 8;
		for (uint32_t k = 0; k < fl; k += 2)
			sum -= f[k] | f[k + 1] << 8;
		uint64_t r = ash_csum_diff(f, fl, t, tl, 0);
		cr_assert_leq(r, 0xffff);
		int64_t m = ((sum % 0xffff) + 0xffff) % 0xffff;
		cr_assert_eq(r % 0xffff, (uint64_t)m, "case %d", i);
	}
}

Test(ash_helpers, csum_diff_through_a_program)
{
	static const struct ash_insn p[] = {
		I(0x18, 1, 0, 0, (int32_t)0xdeadbeef), I(0, 0, 0, 0, (int32_t)0xdeadbeef),
		STXDW(10, 1, -16),
		MOV(1, 0), MOV(2, 0), MOVR(3, 10), ADD(3, -16), MOV(4, 8), MOV(5, 0),
		CALL(ASH_H_CSUM_DIFF),
		EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_r0(t, 60), 0x3b3b);
	tp_free(t);
}

/* ---- 6. maps ---- */
static const struct ash_map_def mdefs[] = {
	{"arr", ASH_MAP_ARRAY, 0, 4, 8, 4, 0, 0, 0},
	{"hash", ASH_MAP_HASH, 0, 4, 8, 3, 0, 0, 0},
	{"lru", ASH_MAP_LRU_HASH, 0, 4, 8, 3, 0, 0, 0},
	{"pcpu", ASH_MAP_PERCPU_HASH, 0, 4, 8, 2, 0, 0, 0},
	{"parr", ASH_MAP_PERCPU_ARRAY, 0, 4, 8, 2, 0, 0, 0},
	{"rb", ASH_MAP_RINGBUF, 0, 0, 0, 4096, 0, 0, 0},
};

/* update(map, key, value, flags) in a program; returns r0 */
static int64_t prog_update(struct tp **tpp, int map, int32_t key, int32_t val,
                           int32_t flags)
{
	struct ash_insn p[] = {
		STW(10, -4, key), STDW(10, -16, val),
		LDMAP(1, map), MOVR(2, 10), ADD(2, -4), MOVR(3, 10), ADD(3, -16),
		MOV(4, flags), CALL(ASH_H_MAP_UPDATE), EXIT,
	};
	struct tp *t = *tpp;
	if (!t)
		t = tp_new(p, N(p), mdefs, N(mdefs), NULL, 0);
	else /* same maps, new code */
		memcpy(t->img.insns, p, sizeof p);
	*tpp = t;
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), 0, "%s", t->res.msg);
	return (int64_t)t->res.r0;
}

/* lookup(map, key) and return the value's first word, or -1 (NULL) */
static int64_t prog_lookup(struct tp *t, int map, int32_t key)
{
	struct ash_insn p[] = {
		STW(10, -4, key), STDW(10, -16, 0),
		LDMAP(1, map), MOVR(2, 10), ADD(2, -4),
		CALL(ASH_H_MAP_LOOKUP), JNE(0, 0, 2), MOV(0, -1), EXIT,
		LDXW(0, 0, 0), EXIT,
	};
	cr_assert_geq(N(p), 10);
	memcpy(t->img.insns, p, sizeof p);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), 0, "%s", t->res.msg);
	return (int64_t)t->res.r0;
}

static struct tp *maps_tp(void)
{
	/* room for the longest of the programs above */
	struct ash_insn p[16];
	for (size_t i = 0; i < N(p); i++)
		p[i] = EXIT;
	return tp_new(p, N(p), mdefs, N(mdefs), NULL, 0);
}

Test(ash_maps, array)
{
	struct tp *t = maps_tp();
	cr_assert_eq(prog_update(&t, 0, 3, 33, ASH_ANY), 0);
	cr_assert_eq(prog_lookup(t, 0, 3), 33);
	cr_assert_eq(prog_lookup(t, 0, 2), 0);  /* zero-initialised */
	cr_assert_eq(prog_lookup(t, 0, 4), -1); /* out of range: NULL */
	cr_assert_eq(prog_update(&t, 0, 4, 1, ASH_ANY), -7);
	cr_assert_eq(prog_update(&t, 0, 1, 1, ASH_NOEXIST), -17);
	cr_assert_eq(prog_update(&t, 0, 1, 11, ASH_EXIST), 0);
	cr_assert_eq(prog_update(&t, 0, 1, 1, 3), -22);
	uint32_t k = 1;
	uint64_t v = 0;
	cr_assert_eq(ash_map_lookup(t->prog, 0, &k, &v), 0);
	cr_assert_eq(v, 11);
	cr_assert_eq(ash_map_delete(t->prog, 0, &k), DPF_EINVAL);
	k = 9;
	cr_assert_eq(ash_map_update(t->prog, 0, &k, &v, 0), DPF_EINVAL);
	uint32_t nk;
	cr_assert_eq(ash_map_next_key(t->prog, 0, NULL, &nk), 0);
	cr_assert_eq(nk, 0);
	k = 3;
	cr_assert_eq(ash_map_next_key(t->prog, 0, &k, &nk), DPF_ENOENT);
	/* delete through a program: -EINVAL */
	struct ash_insn p[] = {
		STW(10, -4, 0), LDMAP(1, 0), MOVR(2, 10), ADD(2, -4),
		CALL(ASH_H_MAP_DELETE), EXIT,
	};
	memcpy(t->img.insns, p, sizeof p);
	cr_assert_eq(tp_r0(t, 60), -22);
	tp_free(t);
}

Test(ash_maps, hash_flags_full_delete)
{
	struct tp *t = maps_tp();
	cr_assert_eq(prog_update(&t, 1, 10, 100, ASH_NOEXIST), 0);
	cr_assert_eq(prog_update(&t, 1, 10, 101, ASH_NOEXIST), -17);
	cr_assert_eq(prog_update(&t, 1, 11, 110, ASH_EXIST), -2);
	cr_assert_eq(prog_update(&t, 1, 10, 102, ASH_EXIST), 0);
	cr_assert_eq(prog_update(&t, 1, 11, 110, ASH_ANY), 0);
	cr_assert_eq(prog_update(&t, 1, 12, 120, ASH_ANY), 0);
	cr_assert_eq(prog_update(&t, 1, 13, 130, ASH_ANY), -7); /* full */
	cr_assert_eq(prog_update(&t, 1, 12, 121, ASH_ANY), 0);  /* exists */
	cr_assert_eq(prog_update(&t, 1, 12, 121, 4), -22);
	cr_assert_eq(prog_lookup(t, 1, 10), 102);
	cr_assert_eq(prog_lookup(t, 1, 12), 121);
	cr_assert_eq(prog_lookup(t, 1, 13), -1);
	uint32_t k = 11;
	cr_assert_eq(ash_map_delete(t->prog, 1, &k), 0);
	cr_assert_eq(ash_map_delete(t->prog, 1, &k), DPF_ENOENT);
	cr_assert_eq(prog_update(&t, 1, 13, 130, ASH_ANY), 0);
	uint64_t v = 5;
	k = 14;
	cr_assert_eq(ash_map_update(t->prog, 1, &k, &v, ASH_ANY), DPF_ELIMIT);
	k = 13;
	cr_assert_eq(ash_map_update(t->prog, 1, &k, &v, ASH_NOEXIST), DPF_EEXIST);
	/* iterate: 10, 12, 13 in some order */
	uint32_t seen = 0, cur, nk;
	int n = 0;
	for (int rc = ash_map_next_key(t->prog, 1, NULL, &cur); rc == 0;
	     rc = ash_map_next_key(t->prog, 1, &cur, &nk), cur = nk) {
		seen |= 1u << (cur - 10);
		cr_assert_lt(++n, 10);
	}
	cr_assert_eq(seen, (1u << 0) | (1u << 2) | (1u << 3));
	/* delete through a program */
	struct ash_insn p[] = {
		STW(10, -4, 12), LDMAP(1, 1), MOVR(2, 10), ADD(2, -4),
		CALL(ASH_H_MAP_DELETE), EXIT,
	};
	memcpy(t->img.insns, p, sizeof p);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), 0);
	cr_assert_eq((int64_t)t->res.r0, 0);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), 0);
	cr_assert_eq((int64_t)t->res.r0, -2);
	tp_free(t);
}

Test(ash_maps, lru_evicts_least_recently_used)
{
	struct tp *t = maps_tp();
	cr_assert_eq(prog_update(&t, 2, 1, 10, ASH_ANY), 0);
	cr_assert_eq(prog_update(&t, 2, 2, 20, ASH_ANY), 0);
	cr_assert_eq(prog_update(&t, 2, 3, 30, ASH_ANY), 0);
	cr_assert_eq(prog_lookup(t, 2, 1), 10);              /* 1 is recent */
	cr_assert_eq(prog_update(&t, 2, 4, 40, ASH_ANY), 0); /* evicts 2 */
	uint32_t k;
	uint64_t v;
	k = 2;
	cr_assert_eq(ash_map_lookup(t->prog, 2, &k, &v), DPF_ENOENT);
	cr_assert_eq(prog_update(&t, 2, 3, 31, ASH_EXIST), 0); /* 3 recent */
	cr_assert_eq(prog_update(&t, 2, 5, 50, ASH_NOEXIST), 0); /* evicts 1 */
	k = 1;
	cr_assert_eq(ash_map_lookup(t->prog, 2, &k, &v), DPF_ENOENT);
	for (k = 3; k <= 5; k++) {
		cr_assert_eq(ash_map_lookup(t->prog, 2, &k, &v), 0, "key %u", k);
		cr_assert_eq(v, k == 3 ? 31 : k * 10);
	}
	tp_free(t);
}

Test(ash_maps, percpu)
{
	struct tp *t = maps_tp();
	cr_assert_eq(prog_update(&t, 3, 7, 70, ASH_ANY), 0);
	cr_assert_eq(prog_lookup(t, 3, 7), 70);
	cr_assert_eq(prog_update(&t, 4, 1, 11, ASH_ANY), 0);
	cr_assert_eq(prog_lookup(t, 4, 1), 11);
	uint32_t k = 1;
	uint64_t v;
	cr_assert_eq(ash_map_lookup(t->prog, 4, &k, &v), 0);
	cr_assert_eq(v, 11);
	tp_free(t);
}

Test(ash_maps, global_data)
{
	static const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb};
	static const struct ash_map_def gd[] = {
		{".data", ASH_MAP_ARRAY, ASH_MAPK_DATA, 4, 8, 1, 0, 0, 8},
		{".rodata", ASH_MAP_ARRAY, ASH_MAPK_RODATA, 4, 4, 1, 0, 8, 2},
		{".bss", ASH_MAP_ARRAY, ASH_MAPK_BSS, 4, 16, 1, 0, 0, 0},
	};
	static const struct ash_insn p[] = {
		LDMAPV(1, 0, 2), LDXB(0, 1, 0),      /* .data byte 2: 3 */
		LDMAPV(2, 1, 1), LDXB(3, 2, 0),      /* .rodata byte 1: 0xbb */
		I(0x67, 3, 0, 0, 8), ADDR(0, 3),
		LDMAPV(4, 2, 0), LDXDW(3, 4, 0),     /* .bss: 0 */
		ADDR(0, 3),
		STW(4, 8, 9),                        /* .bss writable */
		EXIT,
	};
	struct tp *t = tp_new(p, N(p), gd, N(gd), data, sizeof data);
	cr_assert_eq(tp_r0(t, 60), 0xbb03);
	uint32_t k = 0;
	uint8_t v[16];
	cr_assert_eq(ash_map_lookup(t->prog, 0, &k, v), 0);
	cr_assert_eq(memcmp(v, data, 8), 0);
	cr_assert_eq(ash_map_lookup(t->prog, 2, &k, v), 0);
	cr_assert_eq(v[8], 9);
	tp_free(t);
	/* a store into .rodata is an escape in checked mode */
	static const struct ash_insn q[] = {
		LDMAPV(1, 1, 0), STW(1, 0, 1), MOV(0, 2), EXIT,
	};
	t = tp_new(q, N(q), gd, N(gd), data, sizeof data);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1);
	cr_assert_eq(t->res.fault, ASH_FAULT_ESCAPE);
	cr_assert_str_eq(t->res.msg, "verifier escape at 2: store of 4 bytes "
	                 "into read-only map .rodata");
	tp_free(t);
}

Test(ash_maps, limit)
{
	static const struct ash_map_def big[] = {
		{"big", ASH_MAP_ARRAY, 0, 4, 65536, 1025, 0, 0, 0},
	};
	static const struct ash_insn p[] = {MOV(0, 2), EXIT};
	struct ash_image img = {.ninsns = 2, .insns = (struct ash_insn *)p,
	                        .nmaps = 1, .maps = (struct ash_map_def *)big};
	struct vfy_ash_fact f[2] = {{VFY_AF_REACHED, 0, 0, 0, 0, 0},
	                            {VFY_AF_REACHED, 0, 0, 0, 0, 0}};
	struct vfy_ash_result vr = {.ninsns = 2, .facts = f};
	struct ash_env env = {.host = dpf_host_libc()};
	struct ash_prog *prog = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_prog_new(&img, &vr, &env, &prog, &d), DPF_ELIMIT);
	cr_assert_str_eq(d.msg, "map 0 (big): 67174400 bytes exceed the limit "
	                 "of 67108864");
	cr_assert_null(prog);
}

/* ---- 7. ring buffers ---- */
struct drained {
	int n;
	uint32_t len[8];
	uint8_t data[8][64];
};

static void drain_fn(void *ctx, const void *rec, uint32_t len)
{
	struct drained *d = ctx;
	d->len[d->n] = len;
	memcpy(d->data[d->n], rec, len < 64 ? len : 64);
	d->n++;
}

Test(ash_ringbuf, reserve_submit_discard_output_drain)
{
	static const struct ash_insn p[] = {
		/* rec = reserve(rb, 12, 0); rec[0..3] = 0xa1a2a3a4; submit */
		LDMAP(1, 5), MOV(2, 12), MOV(3, 0), CALL(ASH_H_RINGBUF_RESERVE),
		JEQ(0, 0, 26),
		STW(0, 0, (int32_t)0xa1a2a3a4), STW(0, 8, 0x0b0b0b0b),
		MOVR(1, 0), MOV(2, 0), CALL(ASH_H_RINGBUF_SUBMIT),
		/* reserve 4 and discard */
		LDMAP(1, 5), MOV(2, 4), MOV(3, 0), CALL(ASH_H_RINGBUF_RESERVE),
		JEQ(0, 0, 15),
		MOVR(1, 0), MOV(2, 0), CALL(ASH_H_RINGBUF_DISCARD),
		/* output 8 bytes from the stack */
		STDW(10, -8, 0x55667788),
		LDMAP(1, 5), MOVR(2, 10), ADD(2, -8), MOV(3, 8), MOV(4, 0),
		CALL(ASH_H_RINGBUF_OUTPUT),
		JNE(0, 0, 3),
		MOV(0, 2), EXIT,
		EXIT, /* unused */
		MOV(0, 1), EXIT,
	};
	struct tp *t = TPM(p, mdefs);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), 0, "%s", t->res.msg);
	cr_assert_eq(t->res.r0, 2);
	struct drained d = {0};
	cr_assert_eq(ash_ringbuf_drain(t->prog, 5, drain_fn, &d), 2);
	cr_assert_eq(d.n, 2);
	cr_assert_eq(d.len[0], 12);
	uint32_t w;
	memcpy(&w, d.data[0], 4);
	cr_assert_eq(w, 0xa1a2a3a4);
	cr_assert_eq(d.len[1], 8);
	uint64_t q;
	memcpy(&q, d.data[1], 8);
	cr_assert_eq(q, 0x55667788);
	cr_assert_eq(ash_ringbuf_drain(t->prog, 5, drain_fn, &d), 0);
	/* fill it: 4096 bytes hold 4095 / 24 records of 16 bytes */
	int ok = 0;
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), 0);
		if (t->res.r0 == 2)
			ok++;
	}
	cr_assert_lt(ok, 200);
	tp_free(t);
}

Test(ash_ringbuf, reserve_failures)
{
	static const int32_t sizes[] = {4096, 4088, 4081, 4080, 1, 1 << 30};
	static const int expect_null[] = {1, 1, 1, 0, 0, 1};
	for (size_t i = 0; i < N(sizes); i++) {
		struct ash_insn p[] = {
			LDMAP(1, 5), MOV(2, sizes[i]), MOV(3, 0),
			CALL(ASH_H_RINGBUF_RESERVE),
			JEQ(0, 0, 4), MOVR(1, 0), MOV(2, 0),
			CALL(ASH_H_RINGBUF_DISCARD), MOV(0, 1),
			EXIT,
		};
		struct tp *t = TPM(p, mdefs);
		/* one run: a discarded record holds its space until drained */
		cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), 0);
		cr_assert_eq(t->res.r0 == 0, expect_null[i], "size %d", sizes[i]);
		tp_free(t);
	}
	/* flags refuse */
	struct ash_insn p2[] = {
		LDMAP(1, 5), MOV(2, 8), MOV(3, 1), CALL(ASH_H_RINGBUF_RESERVE),
		EXIT,
	};
	struct tp *t = TPM(p2, mdefs);
	cr_assert_eq(tp_r0(t, 60), 0);
	tp_free(t);
}

struct seq {
	int n, bad;
	uint32_t next;
};

static void seq_fn(void *ctx, const void *rec, uint32_t len)
{
	struct seq *q = ctx;
	const uint8_t *b = rec;
	for (uint32_t i = 0; i < len; i++)
		if (b[i] != (uint8_t)(q->next + i))
			q->bad++;
	q->next += len;
	q->n++;
}

Test(ash_ringbuf, records_stay_contiguous_across_the_wrap)
{
	/* each run writes one 100-byte record of bytes r7, r7+1, ... from a
	 * counter kept in .bss; the buffer (4096 bytes) wraps many times */
	static const struct ash_map_def m[] = {
		{"rb", ASH_MAP_RINGBUF, 0, 0, 0, 4096, 0, 0, 0},
		{".bss", ASH_MAP_ARRAY, ASH_MAPK_BSS, 4, 8, 1, 0, 0, 0},
	};
	static const struct ash_insn p[] = {
		LDMAP(1, 0), MOV(2, 100), MOV(3, 0), CALL(ASH_H_RINGBUF_RESERVE),
		JEQ(0, 0, 17),
		LDMAPV(8, 1, 0), LDXW(7, 8, 0),
		MOV(1, 0),
		/* 10: loop, i in r1 */
		MOVR(2, 0), ADDR(2, 1), MOVR(3, 7), ADDR(3, 1),
		I(0x73, 2, 3, 0, 0),              /* stxb [r2], r3 */
		ADD(1, 1), JNE(1, 100, -7),
		ADD(7, 100), STXW(8, 7, 0),
		MOVR(1, 0), MOV(2, 0), CALL(ASH_H_RINGBUF_SUBMIT),
		MOV(0, 2), EXIT,
	};
	struct tp *t = TPM(p, m);
	struct seq q = {0, 0, 0};
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(tp_run(t, 60, i & 1 ? ASH_ENGINE_INTERP
		                                 : ASH_ENGINE_CHECKED), 0, "%s",
		             t->res.msg);
		cr_assert_eq(t->res.r0, 2, "run %d: no room", i);
		if (i % 7 == 6) /* drain now and then: several records at once */
			ash_ringbuf_drain(t->prog, 0, seq_fn, &q);
	}
	ash_ringbuf_drain(t->prog, 0, seq_fn, &q);
	cr_assert_eq(q.n, 300);
	cr_assert_eq(q.bad, 0);
	tp_free(t);
}

Test(ash_checked, dead_hash_element_and_released_record)
{
	static const struct ash_insn p[] = {
		/* v = lookup(hash, 10); delete(hash, 10); *v */
		STW(10, -4, 10), LDMAP(1, 1), MOVR(2, 10), ADD(2, -4),
		CALL(ASH_H_MAP_LOOKUP), JEQ(0, 0, 7), MOVR(6, 0),
		LDMAP(1, 1), MOVR(2, 10), ADD(2, -4), CALL(ASH_H_MAP_DELETE),
		LDXW(0, 6, 0),
		EXIT,
	};
	struct tp *t = tp_new(p, N(p), mdefs, N(mdefs), NULL, 0);
	for (uint32_t i = 0; i < t->vres.ninsns; i++) /* r6 is no context */
		t->vres.facts[i].flags = VFY_AF_REACHED;
	uint32_t k = 10;
	uint64_t v = 5;
	cr_assert_eq(ash_map_update(t->prog, 1, &k, &v, ASH_ANY), 0);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1);
	cr_assert_eq(t->res.fault, ASH_FAULT_ESCAPE);
	cr_assert_eq(t->res.fault_insn, 13);
	cr_assert(strstr(t->res.msg, "verifier escape at 13: load of 4 bytes"),
	          "%s", t->res.msg);
	tp_free(t);
	static const struct ash_insn q[] = {
		/* r = reserve(rb, 8); submit(r); *r = 1 */
		LDMAP(1, 5), MOV(2, 8), MOV(3, 0), CALL(ASH_H_RINGBUF_RESERVE),
		JEQ(0, 0, 5), MOVR(6, 0), MOVR(1, 0), MOV(2, 0),
		CALL(ASH_H_RINGBUF_SUBMIT), STW(6, 0, 1),
		MOV(0, 2), EXIT,
	};
	t = tp_new(q, N(q), mdefs, N(mdefs), NULL, 0);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1);
	cr_assert_eq(t->res.fault_insn, 10);
	cr_assert(strstr(t->res.msg, "verifier escape at 10: store of 4 bytes"),
	          "%s", t->res.msg);
	tp_free(t);
}

Test(ash_maps, hash_against_a_model)
{
	static const struct ash_map_def h[] = {
		{"h", ASH_MAP_HASH, 0, 6, 4, 64, 0, 0, 0},
	};
	static const struct ash_insn p[] = {MOV(0, 2), EXIT};
	struct tp *t = tp_new(p, N(p), h, 1, NULL, 0);
	struct { uint8_t key[6]; uint32_t val; int live; } model[200] = {0};
	uint64_t s = 7;
	for (int step = 0; step < 20000; step++) {
		int i = (int)(tu_rand(&s) % 200);
		uint8_t key[6] = {(uint8_t)i, 0, (uint8_t)(i * 7), 1, 2,
		                  (uint8_t)(i >> 3)};
		memcpy(model[i].key, key, 6);
		int live = 0;
		for (int j = 0; j < 200; j++)
			live += model[j].live;
		uint32_t v = (uint32_t)tu_rand(&s), got;
		switch (tu_rand(&s) % 4) {
		case 0:
		case 1: {
			uint64_t fl = tu_rand(&s) % 3;
			int want = fl == ASH_NOEXIST && model[i].live ? DPF_EEXIST
			         : fl == ASH_EXIST && !model[i].live ? DPF_ENOENT
			         : !model[i].live && live == 64 ? DPF_ELIMIT : 0;
			cr_assert_eq(ash_map_update(t->prog, 0, key, &v, fl), want,
			             "step %d", step);
			if (!want) {
				model[i].val = v;
				model[i].live = 1;
			}
			break;
		}
		case 2:
			cr_assert_eq(ash_map_delete(t->prog, 0, key),
			             model[i].live ? 0 : DPF_ENOENT);
			model[i].live = 0;
			break;
		default:
			cr_assert_eq(ash_map_lookup(t->prog, 0, key, &got),
			             model[i].live ? 0 : DPF_ENOENT);
			if (model[i].live)
				cr_assert_eq(got, model[i].val);
		}
	}
	int n = 0;
	uint8_t cur[6], nk[6];
	for (int rc = ash_map_next_key(t->prog, 0, NULL, cur); rc == 0;
	     rc = ash_map_next_key(t->prog, 0, cur, nk), memcpy(cur, nk, 6))
		n++;
	int live = 0;
	for (int j = 0; j < 200; j++)
		live += model[j].live;
	cr_assert_eq(n, live);
	tp_free(t);
}

/* ---- 8. calls and bpf_loop ---- */
Test(ash_calls, subprograms_preserve_r6_r9_and_have_own_stacks)
{
	static const struct ash_insn p[] = {
		MOV(6, 6), MOV(7, 7), MOV(8, 8), MOV(9, 9),
		STDW(10, -8, 1000),
		MOV(1, 5), CALLL(10),       /* f(5) at 17 */
		JNE(6, 6, 7), JNE(7, 7, 6), JNE(8, 8, 5), JNE(9, 9, 4),
		LDXDW(1, 10, -8), ADDR(0, 1), /* + 1000: own stack kept */
		EXIT, EXIT,
		MOV(0, -1), EXIT,
		/* 17: f(x) = g(x) + x, clobbers r6-r9, writes its stack */
		MOV(6, 0), MOV(7, 0), MOV(8, 0), MOV(9, 0),
		STDW(10, -8, 77), MOVR(6, 1),
		CALLL(4),                   /* g at 28 */
		ADDR(0, 6), LDXDW(1, 10, -8), ADDR(0, 1), /* + 77 */
		EXIT,
		/* 28: g(x) = 2x */
		MOVR(0, 1), ADDR(0, 1), MOV(9, 99), EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_r0(t, 60), 1000 + 77 + 5 + 10);
	tp_free(t);
}

Test(ash_calls, depth_limit_is_a_fault)
{
	static const struct ash_insn p[] = {CALLL(-1), EXIT};
	struct tp *t = TP(p);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), -1);
	cr_assert_eq(t->res.fault, ASH_FAULT_ESCAPE);
	cr_assert_str_eq(t->res.msg, "verifier escape at 0: call depth beyond 8");
	tp_free(t);
}

Test(ash_calls, bpf_loop)
{
	static const struct {
		int32_t n, flags, stop;
		int64_t r0, sum;
	} cs[] = {
		{10, 0, 100, 10, 45},
		{10, 0, 3, 4, 6},    /* callback returns 1 at i == 3 */
		{0, 0, 100, 0, 0},
		{1, 0, 0, 1, 0},
		{5, 1, 100, -22, 0},
		{(1 << 23) + 1, 0, 100, -7, 0},
		{1 << 23, 0, 0, 1, 0},
	};
	for (size_t i = 0; i < N(cs); i++) {
		struct ash_insn p[] = {
			MOV(6, 66), STDW(10, -8, 0),
			MOV(1, cs[i].n), LDFUNC(2, 12), MOVR(3, 10), ADD(3, -8),
			MOV(4, cs[i].flags), CALL(ASH_H_LOOP),
			JNE(6, 66, 4),
			LDXDW(1, 10, -8), I(0x67, 1, 0, 0, 32), ADDR(0, 1),
			EXIT,
			MOV(0, -99), EXIT,
			/* 16: callback(i, ctx): *ctx += i; return i == stop */
			LDXDW(3, 2, 0), ADDR(3, 1), STXDW(2, 3, 0), MOV(6, 0),
			MOV(0, 0), JNE(1, cs[i].stop, 1), MOV(0, 1), EXIT,
		};
		struct tp *t = TP(p);
		int64_t r0 = tp_r0(t, 60);
		cr_assert_eq((int32_t)r0, cs[i].r0, "case %zu: %lld", i,
		             (long long)r0);
		cr_assert_eq((r0 - (int64_t)(int32_t)r0) >> 32, cs[i].sum,
		             "case %zu", i);
		tp_free(t);
	}
}

/* ---- 9. other helpers ---- */
static uint64_t fixed_ns(void *ctx)
{
	(void)ctx;
	return 123456789;
}

Test(ash_helpers, time_random_cpu)
{
	static const struct ash_insn p[] = {
		CALL(ASH_H_KTIME), MOVR(6, 0),
		CALL(ASH_H_CPU), ADDR(6, 0),
		CALL(ASH_H_PRANDOM), MOVR(7, 0),
		CALL(ASH_H_PRANDOM), JEQ(0, 0, 1), /* xorshift: not 0 */
		JNE(7, 0, 2), MOV(0, -1), EXIT,
		MOVR(0, 6), EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_r0(t, 60), 0);
	tp_free(t);
	t = TP(p);
	ash_prog_free(t->prog);
	t->env.ktime_ns = fixed_ns;
	struct dpf_diag d;
	cr_assert_eq(ash_prog_new(&t->img, &t->vres, &t->env, &t->prog, &d), 0);
	cr_assert_eq(tp_r0(t, 60), 123456789);
	tp_free(t);
}

/* A program passing fmt (its first size bytes) and three -1s. */
static struct tp *printk_prog(const char *fmt, size_t size, int64_t a,
                              int64_t b, int64_t c)
{
	size_t n = strlen(fmt) + 1;
	struct ash_insn p[64];
	size_t k = 0;
	for (size_t w = 0; w < (n + 3) / 4; w++) {
		uint32_t v = 0;
		memcpy(&v, fmt + 4 * w, n - 4 * w < 4 ? n - 4 * w : 4);
		p[k++] = STW(10, (int16_t)(-128 + 4 * w), (int32_t)v);
	}
	p[k++] = MOVR(1, 10);
	p[k++] = ADD(1, -128);
	p[k++] = MOV(2, (int32_t)size);
	p[k++] = I(0x18, 3, 0, 0, (int32_t)a);
	p[k++] = I(0, 0, 0, 0, (int32_t)((uint64_t)a >> 32));
	p[k++] = I(0x18, 4, 0, 0, (int32_t)b);
	p[k++] = I(0, 0, 0, 0, (int32_t)((uint64_t)b >> 32));
	p[k++] = I(0x18, 5, 0, 0, (int32_t)c);
	p[k++] = I(0, 0, 0, 0, (int32_t)((uint64_t)c >> 32));
	p[k++] = CALL(ASH_H_TRACE_PRINTK);
	p[k++] = EXIT;
	return tp_new(p, (uint32_t)k, NULL, 0, NULL, 0);
}

Test(ash_helpers, trace_printk_refusals)
{
	static const struct {
		const char *fmt;
		size_t size; /* 0: strlen + 1 */
	} cs[] = {
		{"%s", 0}, {"%p", 0}, {"%d %d %d %d", 0}, {"%.3d", 0},
		{"bell\a", 0}, {"no nul", 6}, {"%q", 0},
	};
	for (size_t i = 0; i < N(cs); i++) {
		char fmt[32];
		snprintf(fmt, sizeof fmt, "%s", cs[i].fmt);
		struct tp *t = printk_prog(fmt, cs[i].size ? cs[i].size
		                                           : strlen(fmt) + 1,
		                           -1, -1, -1);
		t->trace[0] = 0;
		cr_assert_eq(tp_r0(t, 60), -22, "case %zu", i);
		cr_assert_str_eq(t->trace, "");
		tp_free(t);
	}
}

Test(ash_helpers, trace_printk_formats)
{
	static const struct {
		const char *fmt;
		int64_t a, b, c;
		const char *text;
	} cs[] = {
		{"v=%d %u %x", -1, -1, -1, "v=-1 4294967295 ffffffff"},
		{"%lld %c|%5d", -1, 'A', 42, "-1 A|   42"},
		{"|%-4u|%05x%%", 7, 255, 0, "|7   |000ff%"},
		{"%+d % d %X", 5, 5, 0xab, "+5  5 AB"},
		{"%lu %li %llx", -1, -2, 0x1234, "18446744073709551615 -2 1234"},
		{"%i\n", 0x100000007ll, 0, 0, "7\n"},
	};
	for (size_t i = 0; i < N(cs); i++) {
		struct tp *t = printk_prog(cs[i].fmt, strlen(cs[i].fmt) + 1,
		                           cs[i].a, cs[i].b, cs[i].c);
		int64_t r0 = tp_r0(t, 60);
		cr_assert_str_eq(t->trace, cs[i].text, "case %zu", i);
		cr_assert_eq(r0, (int64_t)strlen(cs[i].text));
		tp_free(t);
	}
}

/* ---- 10. checked mode: escapes; budget ---- */
struct esc {
	struct ash_insn p[8];
	uint32_t n;
	const char *msg;
};

Test(ash_checked, escapes)
{
	static const struct ash_map_def am[] = {
		{"vals", ASH_MAP_ARRAY, 0, 4, 8, 2, 0, 0, 0},
	};
	static const struct ash_insn pkt[] = {
		MOVR(6, 1), CTXLD(2, ASH_CTX_DATA), LDXW(0, 2, 56),
		LDXW(0, 2, 60), MOV(0, 2), EXIT,
	};
	static const struct ash_insn pkt_store[] = {
		MOVR(6, 1), CTXLD(2, ASH_CTX_DATA), STW(2, -4, 1), MOV(0, 2), EXIT,
	};
	static const struct ash_insn stack[] = {
		STDW(10, -512, 1), STDW(10, -520, 1), MOV(0, 2), EXIT,
	};
	static const struct ash_insn above[] = {
		LDXB(0, 10, 0), MOV(0, 2), EXIT,
	};
	static const struct ash_insn map[] = {
		STW(10, -4, 1), LDMAP(1, 0), MOVR(2, 10), ADD(2, -4),
		CALL(ASH_H_MAP_LOOKUP), JEQ(0, 0, 1), LDXDW(1, 0, 4),
		MOV(0, 2), EXIT,
	};
	static const struct ash_insn helper_arg[] = {
		MOVR(6, 1), MOVR(1, 6), MOV(2, 0), MOVR(3, 10), ADD(3, -520),
		MOV(4, 16), CALL(ASH_H_LOAD_BYTES), MOV(0, 2), EXIT,
	};
	static const struct {
		const struct ash_insn *p;
		uint32_t n;
		uint32_t insn;
		const char *msg;
	} cs[] = {
		{pkt, N(pkt), 3, "verifier escape at 3: load of 4 bytes at "
		 "packet+60 outside [0, 60)"},
		{pkt_store, N(pkt_store), 2, "verifier escape at 2: store of 4 "
		 "bytes at packet-4 outside [0, 60)"},
		{stack, N(stack), 1, "verifier escape at 1: store of 8 bytes at "
		 "stack-520 outside [-512, 0)"},
		{above, N(above), 0, "verifier escape at 0: load of 1 bytes at "
		 "stack+0 outside [-512, 0)"},
		{map, N(map), 7, "verifier escape at 7: load of 8 bytes at map "
		 "vals+4 outside [0, 8)"},
		{helper_arg, N(helper_arg), 6, "verifier escape at 6: helper "
		 "xdp_load_bytes write of 16 bytes at stack-520 outside [-512, 0)"},
	};
	for (size_t i = 0; i < N(cs); i++) {
		struct tp *t = tp_new(cs[i].p, cs[i].n, am, N(am), NULL, 0);
		cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1, "case %zu", i);
		cr_assert_eq(t->res.fault, ASH_FAULT_ESCAPE);
		cr_assert_eq(t->res.fault_insn, cs[i].insn);
		cr_assert_eq(t->res.action, ASH_XDP_ABORTED);
		cr_assert_str_eq(t->res.msg, cs[i].msg, "case %zu", i);
		/* the unchecked engine trusts the verifier (all of these stay
		 * inside host memory the runtime owns) */
		if (i != 3 && i != 4)
			cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), 0,
			             "case %zu: %s", i, t->res.msg);
		tp_free(t);
	}
}

Test(ash_checked, packet_bounds_follow_adjust)
{
	/* after adjust_tail(-10) the old last bytes are outside */
	static const struct ash_insn p[] = {
		MOVR(6, 1), MOVR(1, 6), MOV(2, -10), CALL(ASH_H_ADJUST_TAIL),
		CTXLD(2, ASH_CTX_DATA), LDXB(0, 2, 49), LDXB(0, 2, 50), EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1);
	cr_assert_str_eq(t->res.msg, "verifier escape at 6: load of 1 bytes "
	                 "at packet+50 outside [0, 50)");
	tp_free(t);
}

Test(ash_checked, budget)
{
	static const struct ash_insn p[] = {
		MOV(0, 0), ADD(0, 1), JNE(0, 3, -2), EXIT,
	};
	struct tp *t = TP(p);
	t->vres.worst_insns = 8; /* runs 1 + 3 * 2 + 1 = 8 */
	cr_assert_eq(tp_r0(t, 60), 3);
	cr_assert_eq(t->res.insns, 8);
	t->vres.worst_insns = 7;
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), -1);
	cr_assert_eq(t->res.fault, ASH_FAULT_BUDGET);
	cr_assert_str_eq(t->res.msg, "instruction budget 7 exceeded at 3");
	cr_assert_eq(t->res.action, ASH_XDP_ABORTED);
	tp_free(t);
}

Test(ash_checked, bad_helper_arguments)
{
	static const struct ash_insn p[] = {
		MOV(1, 0), MOV(2, 0), CALL(ASH_H_MAP_LOOKUP), EXIT,
	};
	struct tp *t = TP(p);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), -1);
	cr_assert_eq(t->res.fault, ASH_FAULT_HELPER);
	cr_assert_str_eq(t->res.msg, "at 2: helper map_lookup_elem: r1 is not "
	                 "a map");
	tp_free(t);
	static const struct ash_insn q[] = {
		MOVR(1, 10), MOV(2, 0), CALL(ASH_H_RINGBUF_SUBMIT), EXIT,
	};
	t = TP(q);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_INTERP), -1);
	cr_assert_str_eq(t->res.msg, "at 2: helper ringbuf_submit: r1 is not a "
	                 "reserved record");
	tp_free(t);
	static const struct ash_insn r[] = {MOV(1, 0), CALL(12), EXIT};
	t = TP(r);
	cr_assert_eq(tp_run(t, 60, ASH_ENGINE_CHECKED), -1);
	cr_assert_str_eq(t->res.msg, "verifier escape at 1: unknown helper 12");
	tp_free(t);
}

Test(ash_checked, malformed_programs_fault_in_both_engines)
{
	static const struct {
		struct ash_insn p[3];
		uint32_t n;
		const char *msg;
	} cs[] = {
		{{MOV(0, 1), I(0x8c, 0, 0, 0, 0), EXIT}, 3,
		 "verifier escape at 1: unknown opcode 0x8c"},
		{{MOV(0, 1), MOV(0, 2)}, 2,
		 "verifier escape at 2: jump out of the program to 2"},
		{{I(0x18, 0, 3, 0, 0), I(0, 0, 0, 0, 0), EXIT}, 3,
		 "verifier escape at 0: lddw with src 3"},
		{{I(0x18, 0, 5, 0, 9), I(0, 0, 0, 0, 0), EXIT}, 3,
		 "verifier escape at 0: lddw of map 9"},
		{{I(0x85, 0, 2, 0, 1), EXIT}, 2,
		 "verifier escape at 0: call with src 2"},
		{{MOV(1, 0), MOV(2, 0), I(0xdb, 10, 1, -8, 0x02)}, 3,
		 "verifier escape at 2: unknown atomic operation 0x2"},
	};
	for (size_t i = 0; i < N(cs); i++)
		for (int e = 0; e < 2; e++) {
			struct tp *t = tp_new(cs[i].p, cs[i].n, NULL, 0, NULL, 0);
			cr_assert_eq(tp_run(t, 60, (enum ash_engine)e), -1);
			cr_assert_eq(t->res.fault, ASH_FAULT_ESCAPE);
			cr_assert_eq(t->res.action, ASH_XDP_ABORTED);
			cr_assert_str_eq(t->res.msg, cs[i].msg, "case %zu", i);
			tp_free(t);
		}
}

Test(ash_mem, xdp_helpers_need_the_context)
{
	static const struct ash_insn p[] = {
		MOV(2, 0), CALL(ASH_H_ADJUST_HEAD), EXIT,
	};
	struct tp *t = TP(p);
	uint8_t mem[16] = {0};
	cr_assert_eq(ash_run_mem(t->prog, mem, 16, ASH_ENGINE_CHECKED, &t->res),
	             -1);
	cr_assert_str_eq(t->res.msg, "verifier escape at 1: helper "
	                 "xdp_adjust_head needs the XDP context");
	tp_free(t);
}
