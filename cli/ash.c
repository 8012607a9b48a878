/*
 * ash.c - `dpf ash check|run|exec|compile`: application-specific safe
 * handlers from the command line.
 *
 *   check OBJ...   load and verify every XDP program of each object;
 *                  "OBJ: PROG: N insns, verified, worst case W insns,
 *                  stack S bytes" per program
 *   run OBJ -r T   run the program on every frame of capture T in order,
 *                  maps keeping their state, as BPF_PROG_TEST_RUN would;
 *                  a summary, or --jsonl one line per frame and the maps
 *   exec [MEM]     the bpf_conformance plugin contract: a raw program
 *                  (hex) or an ELF object (--elf) on stdin, r1 = MEM,
 *                  r2 = its length; prints r0 in hex
 *   compile OBJ    the verified program as the JIT's code (listed by
 *                  LLVM), its eBPF listing or its image (ash_compile.c)
 *
 * Frames shorter than an Ethernet header (14 bytes) or longer than
 * ASH_MAX_DATA are not given to a handler (Linux's test runs refuse them
 * too); they are counted as "not run" and left out of --jsonl.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "cli/trace.h"

#define MAX_SETS 64
#define REPEAT_MAX 100000

static const char *const action_names[] = {"aborted", "drop", "pass", "tx",
                                           "redirect"};

/* ---------------------------------------------------------------- usage */

static void ash_usage(FILE *f)
{
	fputs("usage: dpf ash check OBJ... [--program NAME] [--max-insns N]\n"
	      "       dpf ash run OBJ -r TRACE [--engine=x86|interp|checked]\n"
	      "                   [--jsonl] [--repeat R] [--tx OUT.pcap]\n"
	      "                   [--set NAME=VALUE]...\n"
	      "                   [--program NAME] [--max-insns N]\n"
	      "       dpf ash exec [MEMHEX] [--engine=x86|interp|checked] [--elf]\n"
	      "       dpf ash compile OBJ [--emit=asm|image|insns] [-o OUT]\n"
	      "                   [--set NAME=VALUE]...\n"
	      "                   [--program NAME] [--max-insns N]\n"
	      "\n"
	      "Handlers (ASHs) are XDP programs compiled with\n"
	      "'clang -O2 -g -target bpf'; the same object loads into Linux.\n"
	      "OBJ is such an ELF object or a program image.\n"
	      "\n"
	      "check  load and verify every XDP program of each OBJ (or only\n"
	      "       --program NAME) and print, per program,\n"
	      "         OBJ: PROG: N insns, verified, worst case W insns, stack S bytes\n"
	      "       W is the proven bound on instructions one invocation runs.\n"
	      "       Refusals: 'OBJ: error: MESSAGE' for a bad object, and\n"
	      "         OBJ:SECTION:INSN: error: MESSAGE\n"
	      "           FILE.c:LINE: SOURCE LINE\n"
	      "       for a program the verifier refuses.\n"
	      "\n"
	      "run    run the program on every frame of TRACE (pcap or pcapng,\n"
	      "       Ethernet) in order; maps keep their state from frame to\n"
	      "       frame.  Prints the actions counted, the maps and the time\n"
	      "       per frame.  Frames under 14 or over 3520 bytes are not run.\n"
	      "  -r, --read TRACE    the capture (required)\n"
	      "  --engine=x86        native code from the x86-64 JIT (default);\n"
	      "                      when the JIT cannot compile the program it\n"
	      "                      says why on stderr and the interpreter runs\n"
	      "  --engine=interp     the interpreter\n"
	      "  --engine=checked    the interpreter checking every memory access\n"
	      "                      against the real object bounds; an access\n"
	      "                      the verifier allowed but the run finds out of\n"
	      "                      bounds is reported as 'verifier escape at\n"
	      "                      INSN' and fails the command\n"
	      "  --jsonl             one line per frame run,\n"
	      "                        {\"i\":N,\"action\":\"pass|drop|tx|aborted|redirect\",\n"
	      "                         \"len\":L,\"data\":\"HEX\"}\n"
	      "                      (N the frame's index in TRACE, the frame as the\n"
	      "                      handler left it), then\n"
	      "                        {\"maps\":{NAME:{KEYHEX:VALUEHEX,...},...}}\n"
	      "                      for array and hash maps and .data/.bss (keys\n"
	      "                      sorted bytewise; per-CPU maps: CPU 0)\n"
	      "  --repeat R          time R passes over the trace, each with fresh\n"
	      "                      maps, and report the median (default 1; the\n"
	      "                      output is always that of the first pass)\n"
	      "  --tx OUT.pcap       write the frames the handler transmitted\n"
	      "                      (XDP_TX), as modified, in order\n"
	      "  --set NAME=VALUE    set a global variable (a 'const volatile'\n"
	      "                      knob in .rodata, or .data) before loading\n"
	      "\n"
	      "exec   the bpf_conformance plugin contract: read a program on\n"
	      "       stdin (hex of 8-byte little-endian instructions; whitespace\n"
	      "       ignored), or with --elf an object, verify it with r1 a\n"
	      "       pointer to the bytes of MEMHEX and r2 their count, run it\n"
	      "       and print r0 in hex.\n"
	      "\n"
	      "compile  verify the program and write it in one form to OUT, or\n"
	      "       to standard output:\n"
	      "  --emit=asm          (default) the x86-64 code of the JIT,\n"
	      "                      disassembled by LLVM (Intel syntax), grouped\n"
	      "                      by eBPF slot: per slot 'INDEX: INSTRUCTION'\n"
	      "                      (mnemonic syntax, e.g. 'ldxh r3, [r1+12]'),\n"
	      "                      then '+OFFSET  BYTES  INSTRUCTION' lines; the\n"
	      "                      source line ('; FILE.c:LINE: TEXT') when it\n"
	      "                      changes; the entry stub, functions' prologues\n"
	      "                      and epilogues labelled by '; ' lines.  A JIT\n"
	      "                      refusal is an error (exit status 1)\n"
	      "  --emit=insns        the eBPF listing alone, no JIT\n"
	      "  --emit=image        the program image, accepted as OBJ by check\n"
	      "                      and run; never written to a terminal\n"
	      "  -o, --output OUT    write to OUT instead of standard output\n"
	      "\n"
	      "Common options:\n"
	      "  --program NAME      the XDP program to use when OBJ has several\n"
	      "  --max-insns N       the verifier's budget of processed\n"
	      "                      instructions (default 1000000)\n"
	      "  -h, --help          print this help\n"
	      "\n"
	      "Exit status: 0 success, 1 bad input (object, verification, trace,\n"
	      "output) or a verifier escape, 2 usage error.\n",
	      f);
}

void cli_ash_usage(FILE *f)
{
	ash_usage(f);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("dpf ash: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n\n", stderr);
	ash_usage(stderr);
	return CLI_USAGE;
}

/* ---------------------------------------------------------------- options */

enum {
	OPT_HELP, OPT_READ, OPT_ENGINE, OPT_JSONL, OPT_REPEAT, OPT_TX,
	OPT_SET, OPT_PROGRAM, OPT_MAX_INSNS, OPT_ELF, OPT_EMIT, OPT_OUT,
};

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{"read", 'r', 1, OPT_READ},
	{"engine", 0, 1, OPT_ENGINE},
	{"jsonl", 0, 0, OPT_JSONL},
	{"repeat", 0, 1, OPT_REPEAT},
	{"tx", 0, 1, OPT_TX},
	{"set", 0, 1, OPT_SET},
	{"program", 0, 1, OPT_PROGRAM},
	{"max-insns", 0, 1, OPT_MAX_INSNS},
	{"elf", 0, 0, OPT_ELF},
	{"emit", 0, 1, OPT_EMIT},
	{"output", 'o', 1, OPT_OUT},
	{NULL, 0, 0, -1},
};

struct args {
	const char *sub;
	const char *operands[256];
	int noperands;
	const char *trace, *tx, *program, *out;
	enum ash_engine engine;
	enum cli_ash_emit emit;
	int jsonl, elf;
	uint32_t repeat;
	uint64_t max_insns;
	struct ash_set sets[MAX_SETS];
	size_t nsets;
	unsigned seen; /* 1 << OPT_* given */
};

/* Parse; returns CLI_OK, CLI_USAGE, or -1 when help was printed. */
static int parse(struct args *a, int argc, char **argv)
{
	struct cli_parser p;
	const char *val;
	uint64_t v;
	int id;
	cli_opt_init(&p, "ash", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		if (id >= 0)
			a->seen |= 1u << id;
		switch (id) {
		case CLI_OPT_ERROR:
			return usage_error("%s", p.err);
		case OPT_HELP:
			ash_usage(stdout);
			return -1;
		case CLI_OPT_OPERAND:
			if (a->noperands == (int)(sizeof a->operands /
			                          sizeof a->operands[0]))
				return usage_error("too many operands%s", "");
			a->operands[a->noperands++] = val;
			break;
		case OPT_READ:
			a->trace = val;
			break;
		case OPT_ENGINE:
			if (strcmp(val, "x86") == 0)
				a->engine = ASH_ENGINE_X86;
			else if (strcmp(val, "interp") == 0)
				a->engine = ASH_ENGINE_INTERP;
			else if (strcmp(val, "checked") == 0)
				a->engine = ASH_ENGINE_CHECKED;
			else
				return usage_error("unknown engine '%s' (x86, interp "
				                   "or checked)",
				                   val);
			break;
		case OPT_JSONL:
			a->jsonl = 1;
			break;
		case OPT_REPEAT:
			if (cli_parse_u64(val, 1, REPEAT_MAX, &v) != 0)
				return usage_error("--repeat wants a whole number "
				                   "from 1 to 100000, not '%s'",
				                   val);
			a->repeat = (uint32_t)v;
			break;
		case OPT_TX:
			a->tx = val;
			break;
		case OPT_SET:
			if (a->nsets == MAX_SETS)
				return usage_error("at most 64 --set options%s", "");
			if (cli_parse_set((char *)val, &a->sets[a->nsets]) != 0)
				return usage_error("--set wants NAME=VALUE, not '%s'",
				                   val);
			a->nsets++;
			break;
		case OPT_PROGRAM:
			a->program = val;
			break;
		case OPT_MAX_INSNS:
			if (cli_parse_u64(val, 1, 100000000, &v) != 0)
				return usage_error("--max-insns wants a whole number "
				                   "from 1 to 100000000, not '%s'",
				                   val);
			a->max_insns = v;
			break;
		case OPT_ELF:
			a->elf = 1;
			break;
		case OPT_EMIT:
			if (strcmp(val, "asm") == 0)
				a->emit = CLI_ASH_EMIT_ASM;
			else if (strcmp(val, "image") == 0)
				a->emit = CLI_ASH_EMIT_IMAGE;
			else if (strcmp(val, "insns") == 0)
				a->emit = CLI_ASH_EMIT_INSNS;
			else
				return usage_error("unknown --emit kind '%s' (asm, "
				                   "image or insns)",
				                   val);
			break;
		case OPT_OUT:
			a->out = val;
			break;
		}
	}
	return CLI_OK;
}

/* Options a subcommand does not take are usage errors. */
static int only(const struct args *a, unsigned allowed)
{
	allowed |= 1u << OPT_HELP;
	for (int i = 0; opts[i].lng; i++)
		if ((a->seen & (1u << opts[i].id)) && !(allowed & (1u << opts[i].id))) {
			fprintf(stderr, "dpf ash %s: option '--%s' does not apply\n\n",
			        a->sub, opts[i].lng);
			ash_usage(stderr);
			return CLI_USAGE;
		}
	return CLI_OK;
}

/* ---------------------------------------------------------------- check */

static int check_one(const struct args *a, const char *file, const char *prog)
{
	struct cli_handler h;
	if (cli_handler_open(&h, file, NULL, prog, NULL, 0) != 0)
		return -1;
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, a->max_insns};
	int rc = cli_handler_verify(&h, &o);
	if (rc == 0)
		printf("%s: %s: %u insns, verified, worst case %llu insns, "
		       "stack %u bytes\n",
		       file, h.img->prog, (unsigned)h.img->ninsns,
		       (unsigned long long)h.vres.worst_insns,
		       (unsigned)h.vres.stack);
	cli_handler_close(&h);
	return rc;
}

static int check_file(const struct args *a, const char *file)
{
	if (a->program)
		return check_one(a, file, a->program);
	uint8_t *buf;
	size_t len;
	int err = cli_read_file(file, &buf, &len);
	if (err) {
		fprintf(stderr, "%s: error: %s\n", file, strerror(err));
		return -1;
	}
	if (ash_image_is(buf, len)) {
		free(buf);
		return check_one(a, file, NULL);
	}
	char names[16][ASH_NAME_MAX + 1];
	struct dpf_diag d = {{0}};
	int n = ash_elf_programs(buf, len, names, 16, &d);
	free(buf);
	if (n < 0) {
		fprintf(stderr, "%s: error: %s\n", file, d.msg);
		return -1;
	}
	if (n == 0) {
		fprintf(stderr, "%s: error: no XDP program (sections \"xdp\" or "
		                "\"xdp/...\")\n",
		        file);
		return -1;
	}
	int bad = 0;
	for (int i = 0; i < n && i < 16; i++)
		if (check_one(a, file, n > 1 ? names[i] : NULL) != 0)
			bad = 1;
	return bad ? -1 : 0;
}

static int cmd_check(struct args *a)
{
	int rc = only(a, 1u << OPT_PROGRAM | 1u << OPT_MAX_INSNS);
	if (rc != CLI_OK)
		return rc;
	if (!a->noperands)
		return usage_error("ash check: no object given%s", "");
	int bad = 0;
	for (int i = 0; i < a->noperands; i++) {
		if (check_file(a, a->operands[i]) != 0)
			bad = 1;
		fflush(stdout);
	}
	return bad ? CLI_BAD_INPUT : CLI_OK;
}

/* ---------------------------------------------------------------- run */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		putc(hx[p[i] >> 4], f);
		putc(hx[p[i] & 15], f);
	}
}

static int frame_runs(uint32_t caplen)
{
	return caplen >= ASH_ETH_HLEN && caplen <= ASH_MAX_DATA;
}

static int dumps_map(const struct ash_map_def *m)
{
	return m->type != ASH_MAP_RINGBUF && m->kind != ASH_MAPK_RODATA;
}

struct keyset {
	uint8_t *keys;
	size_t n, cap, ksz;
};

static int key_cmp_size;
static int key_cmp(const void *x, const void *y)
{
	return memcmp(x, y, (size_t)key_cmp_size);
}

/* Every key of a hash map, sorted bytewise: 0, DPF_ENOMEM, or the
 * error a read returned. */
static int collect_keys(const struct cli_maps *src, uint32_t i,
                        struct keyset *ks)
{
	const struct ash_map_def *m = &src->defs[i];
	ks->ksz = m->key_size;
	ks->n = 0;
	uint8_t *prev = NULL;
	for (;;) {
		if (ks->n == ks->cap) {
			size_t nc = ks->cap ? 2 * ks->cap : 64;
			uint8_t *nk = realloc(ks->keys, nc * ks->ksz);
			if (!nk)
				return DPF_ENOMEM;
			ks->keys = nk;
			ks->cap = nc;
		}
		prev = ks->n ? ks->keys + (ks->n - 1) * ks->ksz : NULL;
		int rc = src->next_key(src->ctx, i, prev,
		                       ks->keys + ks->n * ks->ksz);
		if (rc == DPF_ENOENT)
			break;
		if (rc != 0)
			return rc;
		ks->n++;
		if (ks->n > m->max_entries)
			break; /* never loop on a broken iterator */
	}
	key_cmp_size = (int)ks->ksz;
	qsort(ks->keys, ks->n, ks->ksz, key_cmp);
	return 0;
}

/* One entry "KEYHEX":"VALUEHEX" when key is found: 1, 0 when it is not,
 * or a read's error. */
static int put_entry(FILE *f, const struct cli_maps *src, uint32_t i,
                     const uint8_t *key, uint8_t *val, int first)
{
	const struct ash_map_def *m = &src->defs[i];
	int rc = src->lookup(src->ctx, i, key, val);
	if (rc == DPF_ENOENT)
		return 0;
	if (rc != 0)
		return rc;
	fputs(first ? "\"" : ",\"", f);
	put_hex(f, key, m->key_size);
	fputs("\":\"", f);
	put_hex(f, val, m->value_size);
	putc('"', f);
	return 1;
}

int cli_maps_print_json(FILE *f, const struct cli_maps *src)
{
	struct keyset ks = {0};
	uint8_t *val = NULL;
	int rc = 0, first = 1;
	fputs("{\"maps\":{", f);
	for (uint32_t i = 0; i < src->n && rc == 0; i++) {
		const struct ash_map_def *m = &src->defs[i];
		if (!dumps_map(m))
			continue;
		uint8_t *nv = realloc(val, m->value_size ? m->value_size : 1);
		if (!nv) {
			rc = DPF_ENOMEM;
			break;
		}
		val = nv;
		if (!first)
			putc(',', f);
		first = 0;
		cli_json_string(f, m->name);
		fputs(":{", f);
		int firstk = 1;
		if (m->type == ASH_MAP_ARRAY || m->type == ASH_MAP_PERCPU_ARRAY) {
			for (uint32_t k = 0; k < m->max_entries && rc == 0; k++) {
				uint8_t key[4] = {(uint8_t)k, (uint8_t)(k >> 8),
				                  (uint8_t)(k >> 16), (uint8_t)(k >> 24)};
				int put = put_entry(f, src, i, key, val, firstk);
				if (put > 0)
					firstk = 0;
				else if (put < 0)
					rc = put;
			}
		} else if ((rc = collect_keys(src, i, &ks)) == 0) {
			for (size_t k = 0; k < ks.n && rc == 0; k++) {
				int put = put_entry(f, src, i, ks.keys + k * ks.ksz, val,
				                    firstk);
				if (put > 0)
					firstk = 0;
				else if (put < 0)
					rc = put;
			}
		}
		putc('}', f);
	}
	fputs("}}\n", f);
	free(ks.keys);
	free(val);
	return rc;
}

static int prog_lookup(void *ctx, uint32_t i, const void *key, void *value)
{
	return ash_map_lookup(ctx, i, key, value);
}

static int prog_next_key(void *ctx, uint32_t i, const void *key, void *next)
{
	return ash_map_next_key(ctx, i, key, next);
}

/* The maps of a program run here, for the printers. */
static struct cli_maps maps_of(const struct cli_handler *h)
{
	struct cli_maps m = {h->img->nmaps, h->img->maps, prog_lookup,
	                     prog_next_key, h->prog};
	return m;
}

static const char *map_type_name(uint32_t t)
{
	switch (t) {
	case ASH_MAP_ARRAY: return "array";
	case ASH_MAP_PERCPU_ARRAY: return "percpu_array";
	case ASH_MAP_HASH: return "hash";
	case ASH_MAP_PERCPU_HASH: return "percpu_hash";
	case ASH_MAP_LRU_HASH: return "lru_hash";
	case ASH_MAP_RINGBUF: return "ringbuf";
	}
	return "?";
}

static void count_rec(void *ctx, const void *rec, uint32_t len)
{
	(void)rec;
	(void)len;
	(*(uint64_t *)ctx)++;
}

static int print_maps_summary(const struct cli_handler *h)
{
	struct ash_prog *p = h->prog;
	struct cli_maps src = maps_of(h);
	struct keyset ks = {0};
	uint8_t *val = NULL;
	int rc = 0;
	if (ash_map_count(p))
		puts("maps:");
	for (uint32_t i = 0; i < ash_map_count(p); i++) {
		const struct ash_map_def *m = ash_map_def(p, i);
		printf("  %-16s %-12s ", m->name, map_type_name(m->type));
		if (m->type == ASH_MAP_RINGBUF) {
			uint64_t n = 0;
			ash_ringbuf_drain(p, i, count_rec, &n);
			printf("%llu records submitted and not consumed\n",
			       (unsigned long long)n);
			continue;
		}
		uint8_t *nv = realloc(val, m->value_size);
		if (!nv) {
			rc = -1;
			break;
		}
		val = nv;
		if (m->type == ASH_MAP_ARRAY || m->type == ASH_MAP_PERCPU_ARRAY) {
			uint32_t nz = 0;
			for (uint32_t k = 0; k < m->max_entries; k++) {
				uint8_t key[4] = {(uint8_t)k, (uint8_t)(k >> 8),
				                  (uint8_t)(k >> 16), (uint8_t)(k >> 24)};
				if (ash_map_lookup(p, i, key, val) != 0)
					continue;
				for (uint32_t b = 0; b < m->value_size; b++)
					if (val[b]) {
						nz++;
						break;
					}
			}
			printf("%u of %u entries non-zero\n", (unsigned)nz,
			       (unsigned)m->max_entries);
		} else {
			if (collect_keys(&src, i, &ks) != 0) {
				rc = -1;
				break;
			}
			printf("%zu of %u entries used\n", ks.n,
			       (unsigned)m->max_entries);
		}
	}
	free(ks.keys);
	free(val);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report_escape(struct cli_handler *h,
                          const struct ash_result *res, size_t frame)
{
	char msg[240];
	snprintf(msg, sizeof msg, "%s (frame %zu)", res->msg, frame);
	cli_handler_error(h, res->fault_insn, msg);
}

/* One pass over the trace with fresh maps, for timing only. */
static int timing_pass(struct cli_handler *h, const struct ash_env *env,
                       const struct cli_trace *t, enum ash_engine eng,
                       uint8_t *buf, uint64_t *ns)
{
	struct ash_prog *saved = h->prog;
	h->prog = NULL;
	if (cli_handler_start(h, env) != 0) {
		h->prog = saved;
		return -1;
	}
	struct ash_xdp x;
	struct ash_result res;
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < t->n; i++) {
		uint32_t caplen = t->pkts[i].caplen;
		if (!frame_runs(caplen))
			continue;
		ash_xdp_init(&x, buf, cli_trace_bytes(t, i), caplen);
		ash_run_xdp(h->prog, &x, eng, &res);
	}
	*ns = now_ns() - t0;
	ash_prog_free(h->prog);
	h->prog = saved;
	return 0;
}

static int cmd_run(struct args *a)
{
	int rc = only(a, 1u << OPT_READ | 1u << OPT_ENGINE | 1u << OPT_JSONL |
	                     1u << OPT_REPEAT | 1u << OPT_TX | 1u << OPT_SET |
	                     1u << OPT_PROGRAM | 1u << OPT_MAX_INSNS);
	if (rc != CLI_OK)
		return rc;
	if (a->noperands != 1)
		return usage_error("ash run: give exactly one object%s", "");
	if (!a->trace)
		return usage_error("ash run: no capture given (-r TRACE)%s", "");
	const char *file = a->operands[0];

	struct cli_handler h;
	struct cli_trace t;
	struct cli_dump *txd = NULL;
	uint64_t *times = NULL;
	uint8_t *buf = NULL;
	memset(&t, 0, sizeof t);
	rc = CLI_BAD_INPUT;
	if (cli_handler_open(&h, file, NULL, a->program, a->sets, a->nsets) != 0)
		return CLI_BAD_INPUT;
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, a->max_insns};
	if (a->engine == ASH_ENGINE_X86)
		h.jit = "dpf ash";
	struct ash_env env;
	cli_ash_env(&env);
	if (cli_handler_verify(&h, &o) != 0 || cli_handler_start(&h, &env) != 0)
		goto out;
	if (cli_trace_read(a->trace, &t) != 0)
		goto out;
	buf = aligned_alloc(64, ASH_FRAME_SIZE);
	times = calloc(a->repeat, sizeof *times);
	if (!buf || !times) {
		fprintf(stderr, "dpf ash run: error: out of memory\n");
		goto out;
	}
	if (a->tx) {
		char msg[600];
		int snap = t.snaplen > 0 ? t.snaplen : 262144;
		if (snap < ASH_MAX_DATA)
			snap = ASH_MAX_DATA;
		txd = cli_dump_open(a->tx, t.linktype, snap, t.nano, msg,
		                    sizeof msg);
		if (!txd) {
			fprintf(stderr, "%s\n", msg);
			goto out;
		}
	}

	/* the reported pass */
	uint64_t counts[5] = {0}, notrun = 0, escapes = 0, run = 0;
	struct ash_xdp x;
	struct ash_result res;
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < t.n; i++) {
		const struct cli_pkt *pk = &t.pkts[i];
		if (!frame_runs(pk->caplen)) {
			notrun++;
			continue;
		}
		run++;
		ash_xdp_init(&x, buf, cli_trace_bytes(&t, i), pk->caplen);
		if (ash_run_xdp(h.prog, &x, a->engine, &res) != 0 &&
		    res.fault == ASH_FAULT_ESCAPE) {
			escapes++;
			report_escape(&h, &res, i);
		}
		int act = res.action >= 0 && res.action <= 4 ? res.action : 0;
		counts[act]++;
		uint32_t len = x.data_end - x.data;
		if (a->jsonl) {
			printf("{\"i\":%zu,\"action\":\"%s\",\"len\":%u,\"data\":\"", i,
			       action_names[act], (unsigned)len);
			put_hex(stdout, x.buf + x.data, len);
			fputs("\"}\n", stdout);
		}
		if (txd && act == ASH_XDP_TX)
			cli_dump_write(txd, pk->sec, pk->frac, len, len,
			               x.buf + x.data);
	}
	times[0] = now_ns() - t0;
	for (uint32_t pass = 1; pass < a->repeat; pass++)
		if (timing_pass(&h, &env, &t, a->engine, buf, &times[pass]) != 0)
			goto out;
	qsort(times, a->repeat, sizeof *times, cmp_u64);
	double med = a->repeat % 2 ? (double)times[a->repeat / 2]
	                           : ((double)times[a->repeat / 2 - 1] +
	                              (double)times[a->repeat / 2]) /
	                                     2.0;
	double nspp = run ? med / (double)run : 0.0;

	if (a->jsonl) {
		struct cli_maps src = maps_of(&h);
		if (cli_maps_print_json(stdout, &src) != 0) {
			fprintf(stderr, "dpf ash run: error: out of memory\n");
			goto out;
		}
	} else {
		printf("%s: %s: %zu frames: %llu pass, %llu drop, %llu tx, "
		       "%llu redirect, %llu aborted",
		       file, h.img->prog, t.n, (unsigned long long)counts[2],
		       (unsigned long long)counts[1], (unsigned long long)counts[3],
		       (unsigned long long)counts[4], (unsigned long long)counts[0]);
		if (notrun)
			printf("; %llu not run (under 14 or over %u bytes)",
			       (unsigned long long)notrun, (unsigned)ASH_MAX_DATA);
		putchar('\n');
		if (print_maps_summary(&h) != 0) {
			fprintf(stderr, "dpf ash run: error: out of memory\n");
			goto out;
		}
		printf("engine %s: %.1f ns/frame (median of %u pass%s)\n",
		       a->engine == ASH_ENGINE_CHECKED ? "checked"
		       : a->engine == ASH_ENGINE_X86 && ash_prog_jitted(h.prog)
		               ? "x86" : "interp", nspp,
		       (unsigned)a->repeat, a->repeat == 1 ? "" : "es");
	}
	fflush(stdout);
	if (txd) {
		char msg[600];
		struct cli_dump *d = txd;
		txd = NULL;
		if (cli_dump_close(d, msg, sizeof msg) != 0) {
			fprintf(stderr, "%s: error: %s\n", a->tx, msg);
			goto out;
		}
	}
	if (t.damaged) {
		fprintf(stderr, "%s: capture damaged after %zu packets: %s\n",
		        a->trace, t.n, t.err);
		goto out;
	}
	if (escapes) {
		fprintf(stderr, "%s: %llu verifier escape%s\n", file,
		        (unsigned long long)escapes, escapes == 1 ? "" : "s");
		goto out;
	}
	rc = CLI_OK;
out:
	if (txd) {
		char msg[600];
		cli_dump_close(txd, msg, sizeof msg);
	}
	free(times);
	free(buf);
	cli_trace_free(&t);
	cli_handler_close(&h);
	return rc;
}

/* ---------------------------------------------------------------- exec */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex text (whitespace ignored, an optional 0x prefix) into bytes. */
static int parse_hex(const char *what, const char *s, size_t n, uint8_t **out,
                     size_t *outlen)
{
	uint8_t *b = malloc(n / 2 + 1);
	size_t k = 0;
	int hi = -1;
	if (!b) {
		fprintf(stderr, "dpf ash exec: error: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (isspace((unsigned char)s[i]))
			continue;
		if (hi < 0 && s[i] == '0' && i + 1 < n &&
		    (s[i + 1] == 'x' || s[i + 1] == 'X')) {
			i++;
			continue;
		}
		int v = hexval((unsigned char)s[i]);
		if (v < 0) {
			fprintf(stderr, "dpf ash exec: error: %s: character %zu is "
			                "not a hex digit\n",
			        what, i + 1);
			free(b);
			return -1;
		}
		if (hi < 0)
			hi = v;
		else {
			b[k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		fprintf(stderr, "dpf ash exec: error: %s: odd number of hex "
		                "digits\n",
		        what);
		free(b);
		return -1;
	}
	*out = b;
	*outlen = k;
	return 0;
}

static int read_stdin(uint8_t **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);
	if (!b)
		return -1;
	for (;;) {
		if (n == cap) {
			uint8_t *nb = cap > (256u << 20) ? NULL : realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		size_t k = fread(b + n, 1, cap - n, stdin);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(stdin)) {
		free(b);
		return -1;
	}
	*out = b;
	*len = n;
	return 0;
}

/* A raw program (no maps, no lines) as an image. */
static struct ash_image *raw_image(const uint8_t *code, size_t len)
{
	struct ash_image *img = calloc(1, sizeof *img);
	if (!img)
		return NULL;
	snprintf(img->prog, sizeof img->prog, "exec");
	img->ninsns = (uint32_t)(len / 8);
	img->insns = malloc(len);
	if (!img->insns) {
		free(img);
		return NULL;
	}
	for (uint32_t i = 0; i < img->ninsns; i++) {
		const uint8_t *p = code + 8 * (size_t)i;
		struct ash_insn *in = &img->insns[i];
		in->code = p[0];
		in->dst = p[1] & 15;
		in->src = p[1] >> 4;
		in->off = (int16_t)(uint16_t)(p[2] | p[3] << 8);
		in->imm = (int32_t)((uint32_t)p[4] | (uint32_t)p[5] << 8 |
		                    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24);
	}
	return img;
}

static int cmd_exec(struct args *a)
{
	int rc = only(a, 1u << OPT_ENGINE | 1u << OPT_ELF | 1u << OPT_PROGRAM |
	                     1u << OPT_MAX_INSNS);
	if (rc != CLI_OK)
		return rc;
	if (a->noperands > 1)
		return usage_error("ash exec: give at most one MEMHEX%s", "");
	uint8_t *mem = NULL, *in = NULL;
	size_t memlen = 0, inlen = 0;
	struct cli_handler h;
	memset(&h, 0, sizeof h);
	h.file = "<stdin>";
	rc = CLI_BAD_INPUT;
	if (a->noperands &&
	    parse_hex("MEMHEX", a->operands[0], strlen(a->operands[0]), &mem,
	              &memlen) != 0)
		goto out;
	if (memlen > UINT32_MAX / 2) {
		fprintf(stderr, "dpf ash exec: error: MEMHEX too long\n");
		goto out;
	}
	if (read_stdin(&in, &inlen) != 0) {
		fprintf(stderr, "dpf ash exec: error: reading standard input: %s\n",
		        strerror(errno ? errno : EIO));
		goto out;
	}
	if (a->elf) {
		if (cli_handler_open_mem(&h, "<stdin>", NULL, in, inlen, a->program,
		                         NULL, 0) != 0)
			goto out;
	} else {
		uint8_t *code;
		size_t clen;
		if (parse_hex("program", (const char *)in, inlen, &code, &clen) != 0)
			goto out;
		if (clen == 0 || clen % 8 || clen / 8 > ASH_MAX_INSNS) {
			fprintf(stderr, "dpf ash exec: error: the program is %zu "
			                "bytes: want 1 to %u instructions of 8 "
			                "bytes\n",
			        clen, (unsigned)ASH_MAX_INSNS);
			free(code);
			goto out;
		}
		h.img = raw_image(code, clen);
		free(code);
		if (!h.img) {
			fprintf(stderr, "dpf ash exec: error: out of memory\n");
			goto out;
		}
	}
	struct vfy_ash_opts o = {VFY_ASH_CTX_MEM, (uint32_t)memlen,
	                         a->max_insns};
	if (a->engine == ASH_ENGINE_X86)
		h.jit = "dpf ash";
	struct ash_env env;
	cli_ash_env(&env);
	if (cli_handler_verify(&h, &o) != 0 || cli_handler_start(&h, &env) != 0)
		goto out;
	struct ash_result res;
	uint8_t *m = mem ? mem : (uint8_t *)"";
	if (ash_run_mem(h.prog, m, (uint32_t)memlen, a->engine, &res) != 0) {
		cli_handler_error(&h, res.fault_insn, res.msg);
		goto out;
	}
	printf("%llx\n", (unsigned long long)res.r0);
	rc = CLI_OK;
out:
	/* a raw image came from calloc/malloc, which dpf_host_libc frees */
	cli_handler_close(&h);
	free(mem);
	free(in);
	return rc;
}

/* ---------------------------------------------------------------- compile */

static int cmd_compile(struct args *a)
{
	int rc = only(a, 1u << OPT_EMIT | 1u << OPT_OUT | 1u << OPT_SET |
	                     1u << OPT_PROGRAM | 1u << OPT_MAX_INSNS);
	if (rc != CLI_OK)
		return rc;
	if (a->noperands != 1)
		return usage_error("ash compile: give exactly one object%s", "");
	return cli_ash_compile(a->operands[0], a->emit, a->out, a->program,
	                       a->sets, a->nsets, a->max_insns);
}

/* ---------------------------------------------------------------- main */

int cli_ash_main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("dpf ash: no subcommand given (check, run, exec or "
		      "compile)\n\n",
		      stderr);
		ash_usage(stderr);
		return CLI_USAGE;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0) {
		ash_usage(stdout);
		return CLI_OK;
	}
	struct args a;
	memset(&a, 0, sizeof a);
	a.sub = sub;
	a.repeat = 1;
	a.engine = ASH_ENGINE_X86;
	int rc = parse(&a, argc - 1, argv + 1);
	if (rc != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	if (strcmp(sub, "check") == 0)
		return cmd_check(&a);
	if (strcmp(sub, "run") == 0)
		return cmd_run(&a);
	if (strcmp(sub, "exec") == 0)
		return cmd_exec(&a);
	if (strcmp(sub, "compile") == 0)
		return cmd_compile(&a);
	return usage_error("unknown subcommand '%s' (check, run, exec or "
	                   "compile)",
	                   sub);
}
