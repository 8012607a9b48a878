/*
 * ash_gendiff.c - differential test of the handler engines on random
 * verifiable programs (progen.h) and generated frames (bench/ash_gen.h).
 *
 *   ash_gendiff [--seeds A[-B]] [--programs N] [--frames M] [--linux K]
 *               [--linux-meta] [--time-budget S] [--max-processed P]
 *               [--only I] [--out DIR] [--list] [--verbose]
 *
 * Defaults: seed 1, 100 programs, 1000 frames, no Linux, no budget,
 * P = 20,000 (the verifier's processed-instruction budget: a program
 * that needs more is refused as too complex, and counted), output in
 * the current directory.  --only I runs program I of each seed alone
 * (to reproduce one), --list prints every accepted program, --verbose
 * every refusal with its message and listing and every verification
 * slower than 0.1 s.
 *
 * For every seed s in A..B, N programs (program i from pg_seed_of(s, i)):
 * each is verified (a refusal is counted, and printed with its message
 * under --verbose); the accepted ones get three runtimes of their own
 * (ash_prog_new: each engine its own maps), the third compiled by the
 * x86 JIT.  Then M frames of seed s's pool (ash_gen traces of four
 * streams, a quarter of the frames cut short at random, 14 bytes at
 * least) run through the interpreter, the checked interpreter and the
 * x86 code, each on a fresh copy; their action, r0, redirect index,
 * fault, frame bounds (data_meta, data, data_end) and bytes must be
 * equal, and no engine may fault at all (the programs are correct by
 * construction: a fault means a verifier or runtime bug).  After the M
 * frames every map's contents (arrays by index, hashes with their keys
 * sorted) must be equal too; when they differ, the frames are run again
 * on fresh runtimes, comparing the maps after each, to name the first
 * frame where they part.
 *
 * --linux K: the first K accepted programs are also loaded into the
 * running kernel (bpf_map_create, bpf_prog_load of the raw instructions
 * with the map references turned into map fds and callx into call of
 * the helper the verifier found) and every frame goes
 * through BPF_PROG_TEST_RUN, compared with the interpreter frame by
 * frame (action = r0, metadata and data bytes) and map by map at the
 * end.  Without bpf() (not root, or no such syscall) the Linux part is
 * skipped with a message and the rest runs.  A program Linux refuses is
 * counted (its log under --verbose), not a failure.  Programs calling
 * bpf_xdp_adjust_meta are left out of the Linux part unless
 * --linux-meta: Linux (6.x) accepts metadata up to 252 bytes, DPF's
 * frame model (ash/xdp.c) at most 32, a known difference.
 *
 * One execution is one (program, frame) pair, run on all three engines.
 * --time-budget S stops after the program that passes S seconds (said
 * in the summary).
 *
 * On a difference: the seed, program and frame, what differs, the
 * program's listing, and two files in DIR (default .):
 * gendiff-SEED-PROG.ashi (the program image, `ash/image.c` form) and
 * gendiff-SEED-PROG.pcap (its frames up to the failing one), so that
 *   dpf ash run gendiff-SEED-PROG.ashi -r gendiff-SEED-PROG.pcap --jsonl
 * replays it; exit 1.  Exit 0 when everything agreed, 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "ash/ash.h"
#include "bench/ash_gen.h"
#include "cli/handler.h"
#include "jit/jit.h"
#include "tests/ash/progen.h"
#include "verifier/vfy.h"

#define POOL 4096   /* frames per seed */
#define NENG 3

static const char *const eng_name[NENG] = {"interp", "checked", "x86"};

/* ---- options ---- */
struct opts {
	uint64_t seed_lo, seed_hi;
	uint32_t programs, frames, linux_k;
	uint64_t max_processed;
	int64_t only;
	double budget;
	const char *out;
	int verbose, list, linux_meta;
};

/* ---- frames ---- */
struct pool {
	uint8_t *data;
	uint32_t off[POOL], len[POOL];
};

static void pool_make(struct pool *p, uint64_t seed)
{
	static uint8_t b[AGEN_FRAME_MAX];
	struct agen g[4];
	size_t cap = (size_t)POOL * 1514, used = 0;
	p->data = malloc(cap);
	if (!p->data) {
		fprintf(stderr, "ash_gendiff: out of memory\n");
		exit(1);
	}
	for (int k = 0; k < 4; k++)
		agen_init(&g[k], seed * 4 + (uint64_t)k + 1);
	struct pg_rand r;
	pg_rand_seed(&r, seed ^ 0x5eedf4a3e5ull);
	for (uint32_t i = 0; i < POOL; i++) {
		uint32_t n = (uint32_t)agen_next(&g[i % 4], b);
		if (n > ASH_MAX_DATA)
			n = ASH_MAX_DATA;
		if (pg_below(&r, 4) == 0 && n > ASH_ETH_HLEN) /* cut short */
			n = ASH_ETH_HLEN + pg_below(&r, n - ASH_ETH_HLEN + 1);
		if (n < ASH_ETH_HLEN)
			n = ASH_ETH_HLEN;
		memcpy(p->data + used, b, n);
		p->off[i] = (uint32_t)used;
		p->len[i] = n;
		used += n;
	}
}

/* ---- outcomes ---- */
struct outcome {
	int rc, action, fault;
	uint64_t r0;
	uint32_t redirect;
	uint32_t meta, data, end; /* offsets in the frame buffer */
	char msg[160];
	const uint8_t *bytes;     /* buf + meta, end - meta bytes */
};

static uint8_t bufs[NENG + 1][ASH_FRAME_SIZE] __attribute__((aligned(64)));

static void run_one(struct ash_prog *p, int eng, const uint8_t *pkt,
                    uint32_t len, struct outcome *o)
{
	struct ash_xdp x;
	struct ash_result res;
	ash_xdp_init(&x, bufs[eng], pkt, len);
	o->rc = ash_run_xdp(p, &x, (enum ash_engine)eng, &res);
	o->action = res.action;
	o->fault = o->rc ? res.fault : 0;
	o->r0 = res.r0;
	o->redirect = res.action == ASH_XDP_REDIRECT ? res.redirect_index : 0;
	o->meta = x.data_meta;
	o->data = x.data;
	o->end = x.data_end;
	o->bytes = bufs[eng] + x.data_meta;
	if (o->rc)
		snprintf(o->msg, sizeof o->msg, "%s", res.msg);
	else
		o->msg[0] = 0;
}

/* What differs between a and b ("" when nothing). */
static void diff_outcome(const struct outcome *a, const struct outcome *b,
                         int cmp_fault, char *why, size_t cap)
{
	why[0] = 0;
	if (a->action != b->action)
		snprintf(why, cap, "action %d vs %d", a->action, b->action);
	else if (a->r0 != b->r0)
		snprintf(why, cap, "r0 0x%llx vs 0x%llx",
		         (unsigned long long)a->r0, (unsigned long long)b->r0);
	else if (cmp_fault && (a->rc != b->rc || a->fault != b->fault))
		snprintf(why, cap, "fault %d (%.100s) vs %d (%.100s)", a->fault, a->msg,
		         b->fault, b->msg);
	else if (cmp_fault && a->redirect != b->redirect)
		snprintf(why, cap, "redirect index %u vs %u", a->redirect,
		         b->redirect);
	else if (a->data - a->meta != b->data - b->meta)
		snprintf(why, cap, "metadata length %u vs %u",
		         a->data - a->meta, b->data - b->meta);
	else if (a->end - a->data != b->end - b->data)
		snprintf(why, cap, "frame length %u vs %u", a->end - a->data,
		         b->end - b->data);
	else if (cmp_fault && a->data != b->data)
		snprintf(why, cap, "data offset %u vs %u", a->data, b->data);
	else if (memcmp(a->bytes, b->bytes, a->end - a->meta)) {
		uint32_t i = 0;
		while (a->bytes[i] == b->bytes[i])
			i++;
		snprintf(why, cap, "frame byte %d (from data) 0x%02x vs 0x%02x",
		         (int)i - (int)(a->data - a->meta), a->bytes[i],
		         b->bytes[i]);
	}
}

/* ---- map snapshots: arrays by index, hashes key||value sorted ---- */
struct snap {
	uint8_t *b;
	size_t n, cap;
	uint32_t entries;
};

static void snap_put(struct snap *s, const void *p, size_t n)
{
	if (s->n + n > s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4096;
		while (nc < s->n + n)
			nc *= 2;
		uint8_t *nb = realloc(s->b, nc);
		if (!nb) {
			fprintf(stderr, "ash_gendiff: out of memory\n");
			exit(1);
		}
		s->b = nb;
		s->cap = nc;
	}
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static int cmp_key(const void *a, const void *b, void *n)
{
	return memcmp(a, b, *(size_t *)n);
}

/* Sort the (key, value) records of s (each ks + vs bytes) by key. */
static void snap_sort(struct snap *s, size_t ks, size_t vs)
{
	size_t rec = ks + vs;
	if (s->n > rec)
		qsort_r(s->b, s->n / rec, rec, cmp_key, &ks);
}

static void snap_dpf(struct ash_prog *p, uint32_t i, struct snap *s)
{
	const struct ash_map_def *d = ash_map_def(p, i);
	uint8_t key[ASH_MAX_KEY], next[ASH_MAX_KEY], val[256];
	s->n = 0;
	s->entries = 0;
	if (d->type == ASH_MAP_ARRAY) {
		for (uint32_t k = 0; k < d->max_entries; k++) {
			if (ash_map_lookup(p, i, &k, val) == 0)
				snap_put(s, val, d->value_size);
			s->entries++;
		}
		return;
	}
	const void *prev = NULL;
	while (ash_map_next_key(p, i, prev, next) == 0) {
		if (ash_map_lookup(p, i, next, val) == 0) {
			snap_put(s, next, d->key_size);
			snap_put(s, val, d->value_size);
			s->entries++;
		}
		memcpy(key, next, d->key_size);
		prev = key;
		if (s->entries > d->max_entries)
			break;
	}
	snap_sort(s, d->key_size, d->value_size);
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* Print the first difference of two snapshots of map i. */
static void snap_diff(const struct ash_map_def *d, const struct snap *a,
                      const struct snap *b, const char *an, const char *bn)
{
	size_t rec = d->type == ASH_MAP_ARRAY ? d->value_size
	                                       : d->key_size + d->value_size;
	printf("  map %s: %u entries (%s) vs %u (%s)\n", d->name, a->entries,
	       an, b->entries, bn);
	for (size_t o = 0; o < a->n || o < b->n; o += rec) {
		int ha = o < a->n, hb = o < b->n;
		if (ha && hb && memcmp(a->b + o, b->b + o, rec) == 0)
			continue;
		printf("  first difference, record %zu:\n    %-8s ", o / rec, an);
		if (ha)
			hex(stdout, a->b + o, rec);
		else
			printf("(none)");
		printf("\n    %-8s ", bn);
		if (hb)
			hex(stdout, b->b + o, rec);
		else
			printf("(none)");
		printf("\n");
		break;
	}
}

static int snap_eq(const struct snap *a, const struct snap *b)
{
	return a->n == b->n && a->entries == b->entries &&
	       memcmp(a->b, b->b, a->n) == 0;
}

/* ---- Linux ---- */
struct lx {
	int fds[PG_NMAPS];
	int prog;
};

static int lx_quiet(enum libbpf_print_level level, const char *fmt,
                    va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* 1 when this process may use bpf(); else 0 with the reason in why. */
static int lx_probe(char *why, size_t cap)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
	if (fd < 0) {
		snprintf(why, cap, "bpf(): %s", strerror(errno));
		return 0;
	}
	close(fd);
	return 1;
}

static void lx_close(struct lx *l)
{
	for (int i = 0; i < PG_NMAPS; i++)
		if (l->fds[i] >= 0)
			close(l->fds[i]);
	if (l->prog >= 0)
		close(l->prog);
}

/* Load img into the kernel: 0, or -1 with the reason (the verifier's log
 * when it refused) in log. */
static int lx_load(struct lx *l, const struct ash_image *img,
                   const struct vfy_ash_result *vres, char *log, size_t cap)
{
	static const enum bpf_map_type types[] = {
		[ASH_MAP_HASH] = BPF_MAP_TYPE_HASH,
		[ASH_MAP_ARRAY] = BPF_MAP_TYPE_ARRAY,
	};
	l->prog = -1;
	for (int i = 0; i < PG_NMAPS; i++)
		l->fds[i] = -1;
	log[0] = 0;
	for (uint32_t i = 0; i < img->nmaps; i++) {
		const struct ash_map_def *d = &img->maps[i];
		l->fds[i] = bpf_map_create(types[d->type], NULL, d->key_size,
		                           d->value_size, d->max_entries, NULL);
		if (l->fds[i] < 0) {
			snprintf(log, cap, "map %s: %s", d->name, strerror(errno));
			return -1;
		}
		if (d->kind == ASH_MAPK_DATA) {
			uint32_t k = 0;
			if (bpf_map_update_elem(l->fds[i], &k,
			                        img->data + d->init_off, 0)) {
				snprintf(log, cap, "map %s: %s", d->name,
				         strerror(errno));
				return -1;
			}
		}
	}
	struct bpf_insn *ins = malloc(img->ninsns * sizeof *ins);
	if (!ins) {
		snprintf(log, cap, "out of memory");
		return -1;
	}
	memcpy(ins, img->insns, img->ninsns * sizeof *ins);
	for (uint32_t i = 0; i < img->ninsns; i++) /* Linux has no callx */
		if (ins[i].code == 0x8d)
			ins[i] = (struct bpf_insn){.code = 0x85,
			                           .imm = (int32_t)vres->facts[i].helper};
	for (uint32_t i = 0; i + 1 < img->ninsns; i++) {
		if (ins[i].code != 0x18)
			continue;
		uint8_t src = ins[i].src_reg;
		if (src == ASH_PSEUDO_MAP_FD || src == ASH_PSEUDO_MAP_IDX) {
			ins[i].src_reg = BPF_PSEUDO_MAP_FD;
			ins[i].imm = l->fds[ins[i].imm];
		} else if (src == ASH_PSEUDO_MAP_VALUE ||
		           src == ASH_PSEUDO_MAP_IDX_VALUE) {
			ins[i].src_reg = BPF_PSEUDO_MAP_VALUE;
			ins[i].imm = l->fds[ins[i].imm];
		}
		i++;
	}
	/* Linux wants BTF function records once there are subprograms (a
	 * bpf_loop callback needs them): one static function per entry. */
	struct bpf_func_info fi[64];
	uint32_t nfi = 0;
	fi[nfi++] = (struct bpf_func_info){0, 0};
	for (uint32_t i = 0; i < img->ninsns; i++) {
		const struct ash_insn *in = &img->insns[i];
		int ref = (in->code == 0x85 && in->src == ASH_PSEUDO_CALL) ||
		          (in->code == 0x18 && in->src == ASH_PSEUDO_FUNC);
		if (!ref)
			continue;
		uint32_t t = (uint32_t)((int64_t)i + in->imm + 1), k = 0;
		while (k < nfi && fi[k].insn_off != t)
			k++;
		if (k == nfi && nfi < 64)
			fi[nfi++] = (struct bpf_func_info){t, 0};
	}
	for (uint32_t a = 1; a < nfi; a++) /* by offset */
		for (uint32_t b = a; b > 0 && fi[b - 1].insn_off > fi[b].insn_off;
		     b--) {
			struct bpf_func_info x = fi[b];
			fi[b] = fi[b - 1];
			fi[b - 1] = x;
		}
	struct btf *btf = btf__new_empty();
	int btf_fd = -1;
	if (btf) {
		int it = btf__add_int(btf, "long", 8, BTF_INT_SIGNED);
		int proto = btf__add_func_proto(btf, it);
		for (uint32_t k = 0; k < nfi && proto > 0; k++) {
			char name[16];
			snprintf(name, sizeof name, k ? "f%u" : "progen", k);
			fi[k].type_id = (uint32_t)btf__add_func(btf, name,
			                  k ? BTF_FUNC_STATIC : BTF_FUNC_GLOBAL,
			                  proto);
		}
		if (proto > 0 && btf__load_into_kernel(btf) == 0)
			btf_fd = btf__fd(btf);
	}
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log,
	            .log_size = (uint32_t)cap, .log_level = 0);
	if (btf_fd >= 0) {
		o.prog_btf_fd = (uint32_t)btf_fd;
		o.func_info = fi;
		o.func_info_cnt = nfi;
		o.func_info_rec_size = sizeof fi[0];
	}
	l->prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "progen", "GPL", ins,
	                        img->ninsns, &o);
	if (l->prog < 0) {
		int e = errno;
		o.log_level = 1;
		l->prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "progen", "GPL", ins,
		                        img->ninsns, &o);
		if (l->prog < 0 && !log[0])
			snprintf(log, cap, "%s", strerror(e));
	}
	btf__free(btf);
	free(ins);
	return l->prog < 0 ? -1 : 0;
}

static int lx_run(struct lx *l, const uint8_t *pkt, uint32_t len,
                  struct outcome *o)
{
	uint8_t *out = bufs[NENG];
	struct xdp_md in = {.data_end = len, .ingress_ifindex = 1};
	struct xdp_md ctx_out = {0};
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = len,
	            .data_out = out, .data_size_out = ASH_FRAME_SIZE,
	            .ctx_in = &in, .ctx_size_in = sizeof in,
	            .ctx_out = &ctx_out, .ctx_size_out = sizeof ctx_out,
	            .repeat = 1);
	memset(o, 0, sizeof *o);
	if (bpf_prog_test_run_opts(l->prog, &t)) {
		snprintf(o->msg, sizeof o->msg, "test run: %s", strerror(errno));
		return -1;
	}
	o->r0 = t.retval;
	o->action = t.retval <= ASH_XDP_REDIRECT ? (int)t.retval
	                                          : ASH_XDP_ABORTED;
	o->meta = 0;
	o->data = ctx_out.data;
	o->end = ctx_out.data_end;
	o->bytes = out;
	if (o->data > o->end || o->end > t.data_size_out) {
		snprintf(o->msg, sizeof o->msg, "odd output: data %u end %u "
		         "size %u", o->data, o->end, t.data_size_out);
		return -1;
	}
	return 0;
}

static void snap_lx(struct lx *l, const struct ash_map_def *d, uint32_t i,
                    struct snap *s)
{
	uint8_t key[ASH_MAX_KEY], next[ASH_MAX_KEY], val[256];
	int fd = l->fds[i];
	s->n = 0;
	s->entries = 0;
	if (d->type == ASH_MAP_ARRAY) {
		for (uint32_t k = 0; k < d->max_entries; k++) {
			if (bpf_map_lookup_elem(fd, &k, val) == 0)
				snap_put(s, val, d->value_size);
			s->entries++;
		}
		return;
	}
	const void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		if (bpf_map_lookup_elem(fd, next, val) == 0) {
			snap_put(s, next, d->key_size);
			snap_put(s, val, d->value_size);
			s->entries++;
		}
		memcpy(key, next, d->key_size);
		prev = key;
		if (s->entries > d->max_entries)
			break;
	}
	snap_sort(s, d->key_size, d->value_size);
}

/* ---- reports ---- */
static void listing(const struct ash_image *img)
{
	char line[256];
	for (uint32_t i = 0; i < img->ninsns; i++) {
		cli_ash_insn_fmt(img, i, line, sizeof line);
		printf("  %4u: %s\n", i, line);
		if (img->insns[i].code == 0x18)
			i++;
	}
}

static void put32(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f);
}

/* The image and frames 0..upto of the program, for `dpf ash run`. */
static void save(const struct opts *o, uint64_t seed, uint32_t prog,
                 const struct ash_image *img, const struct pool *pl,
                 const uint32_t *fidx, uint32_t upto)
{
	char path[4096];
	long n = ash_image_write(img, NULL, 0);
	uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
	snprintf(path, sizeof path, "%s/gendiff-%llu-%u.ashi", o->out,
	         (unsigned long long)seed, prog);
	FILE *f = fopen(path, "wb");
	if (b && f && ash_image_write(img, b, (size_t)n) == n &&
	    fwrite(b, 1, (size_t)n, f) == (size_t)n)
		printf("image: %s\n", path);
	else
		printf("image: cannot write %s\n", path);
	if (f)
		fclose(f);
	free(b);
	snprintf(path, sizeof path, "%s/gendiff-%llu-%u.pcap", o->out,
	         (unsigned long long)seed, prog);
	f = fopen(path, "wb");
	if (!f) {
		printf("frames: cannot write %s\n", path);
		return;
	}
	put32(f, 0xa1b2c3d4);
	put32(f, 0x00040002);
	put32(f, 0);
	put32(f, 0);
	put32(f, 65535);
	put32(f, 1);
	for (uint32_t k = 0; k <= upto; k++) {
		uint32_t len = pl->len[fidx[k]];
		put32(f, k);
		put32(f, 0);
		put32(f, len);
		put32(f, len);
		fwrite(pl->data + pl->off[fidx[k]], 1, len, f);
	}
	fclose(f);
	printf("frames: %s (%u frames)\nreplay: dpf ash run "
	       "%s/gendiff-%llu-%u.ashi -r %s --jsonl --engine=ENGINE\n",
	       path, upto + 1, o->out, (unsigned long long)seed, prog, path);
}

static void print_outcome(const char *name, const struct outcome *x)
{
	printf("  %-8s action %d r0 0x%llx redirect %u fault %d%s%s meta %u "
	       "data %u end %u\n    bytes ", name, x->action,
	       (unsigned long long)x->r0, x->redirect, x->fault,
	       x->msg[0] ? " " : "", x->msg, x->meta, x->data, x->end);
	hex(stdout, x->bytes, x->end - x->meta < 64 ? x->end - x->meta : 64);
	printf("%s\n", x->end - x->meta > 64 ? "..." : "");
}

static double now(void);

/* 1 when img calls helper id, by call or by callx. */
static int uses_helper(const struct ash_image *img,
                       const struct vfy_ash_result *vres, uint32_t id)
{
	for (uint32_t i = 0; i < img->ninsns; i++) {
		const struct ash_insn *in = &img->insns[i];
		if ((in->code == 0x85 && in->src == 0 && (uint32_t)in->imm == id) ||
		    (in->code == 0x8d && vres->facts[i].helper == id))
			return 1;
	}
	return 0;
}

/* ---- one program ---- */
struct stats {
	uint64_t generated, accepted, refused, execs;
	uint64_t lx_progs, lx_refused, lx_execs, lx_meta;
	uint64_t insns;
	double vsecs;
	int lx_ok;
};

static int new_progs(const struct ash_image *img,
                     const struct vfy_ash_result *vres,
                     const struct ash_env *env, struct ash_prog **p,
                     char *why, size_t cap)
{
	struct dpf_diag d = {{0}};
	for (int e = 0; e < NENG; e++) {
		p[e] = NULL;
		if (ash_prog_new(img, vres, env, &p[e], &d)) {
			snprintf(why, cap, "ash_prog_new: %s", d.msg);
			return -1;
		}
	}
	int rc = ash_prog_jit(p[ASH_ENGINE_X86], jit_mem_posix(), &d);
	if (rc == 0 && !ash_prog_jitted(p[ASH_ENGINE_X86]))
		snprintf(d.msg, sizeof d.msg, "no native code after ash_prog_jit");
	if (rc || !ash_prog_jitted(p[ASH_ENGINE_X86])) {
		snprintf(why, cap, "the JIT refused a verified program: %s",
		         d.msg);
		return -1;
	}
	return 0;
}

static void free_progs(struct ash_prog **p)
{
	for (int e = 0; e < NENG; e++)
		if (p[e])
			ash_prog_free(p[e]);
}

/* Run frames 0..upto again on fresh runtimes and return the first after
 * which map `m` differs between engines a and b (or upto). */
static uint32_t bisect_maps(const struct ash_image *img,
                            const struct vfy_ash_result *vres,
                            const struct ash_env *env, const struct pool *pl,
                            const uint32_t *fidx, uint32_t upto, uint32_t m,
                            int a, int b)
{
	struct ash_prog *p[NENG];
	char why[256];
	struct snap sa = {0}, sb = {0};
	uint32_t k = upto;
	if (new_progs(img, vres, env, p, why, sizeof why) == 0) {
		for (k = 0; k <= upto; k++) {
			struct outcome o;
			for (int e = 0; e < NENG; e++)
				run_one(p[e], e, pl->data + pl->off[fidx[k]],
				        pl->len[fidx[k]], &o);
			snap_dpf(p[a], m, &sa);
			snap_dpf(p[b], m, &sb);
			if (!snap_eq(&sa, &sb))
				break;
		}
		if (k > upto)
			k = upto;
	}
	free_progs(p);
	free(sa.b);
	free(sb.b);
	return k;
}

static int one_program(const struct opts *o, uint64_t seed, uint32_t idx,
                       const struct pool *pl, struct stats *st)
{
	const struct dpf_host *host = dpf_host_libc();
	struct ash_image img;
	struct pg_rand r;
	uint64_t pseed = pg_seed_of(seed, idx);
	pg_rand_seed(&r, pseed);
	if (pg_generate(&r, NULL, &img)) {
		fprintf(stderr, "ash_gendiff: out of memory\n");
		exit(1);
	}
	st->generated++;
	struct vfy_ash_opts vo = {VFY_ASH_CTX_XDP, 0, o->max_processed};
	struct vfy_ash_result vres;
	struct dpf_diag d = {{0}};
	double tv = now();
	int vrc = vfy_ash(&img, &vo, host, &vres, &d);
	tv = now() - tv;
	st->vsecs += tv;
	if (o->verbose && tv > 0.1)
		printf("slow: seed %llu program %u: verified in %.2f s, %llu "
		       "instructions processed\n", (unsigned long long)seed, idx,
		       tv, (unsigned long long)vres.processed);
	if (vrc) {
		st->refused++;
		if (o->verbose) {
			printf("refused: seed %llu program %u (0x%016llx) at "
			       "insn %u: %s\n", (unsigned long long)seed, idx,
			       (unsigned long long)pseed, vres.err_insn, d.msg);
			listing(&img);
		}
		pg_free(&img);
		return 0;
	}
	st->accepted++;
	st->insns += img.ninsns;
	if (o->list) {
		printf("program: seed %llu program %u (0x%016llx), %u slots, "
		       "worst case %llu instructions\n", (unsigned long long)seed,
		       idx, (unsigned long long)pseed, img.ninsns,
		       (unsigned long long)vres.worst_insns);
		listing(&img);
	}

	struct ash_env env = {host, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *p[NENG];
	char why[512];
	int fail = 0;
	uint32_t *fidx = malloc(o->frames * sizeof *fidx);
	if (!fidx) {
		fprintf(stderr, "ash_gendiff: out of memory\n");
		exit(1);
	}
	uint32_t start = pg_below(&r, POOL), step = 1 + 2 * pg_below(&r, 64);
	for (uint32_t k = 0; k < o->frames; k++)
		fidx[k] = (start + k * step) % POOL;

	struct lx lx = {{-1, -1, -1}, -1};
	int linux = st->lx_ok && st->lx_progs + st->lx_refused < o->linux_k;
	if (linux && !o->linux_meta && uses_helper(&img, &vres, ASH_H_ADJUST_META)) {
		st->lx_meta++;
		linux = 0;
	}
	if (linux) {
		static char log[1 << 16];
		if (lx_load(&lx, &img, &vres, log, sizeof log)) {
			st->lx_refused++;
			linux = 0;
			if (o->verbose) {
				size_t ln = strlen(log);
				printf("linux refused: seed %llu program %u: ...%s\n",
				       (unsigned long long)seed, idx,
				       log + (ln > 800 ? ln - 800 : 0));
				listing(&img);
			}
			lx_close(&lx);
		} else {
			st->lx_progs++;
		}
	}

	if (new_progs(&img, &vres, &env, p, why, sizeof why)) {
		printf("FAIL seed %llu program %u: %s\n", (unsigned long long)seed,
		       idx, why);
		fail = 1;
	}
	uint32_t k = 0;
	struct outcome out[NENG + 1];
	for (; !fail && k < o->frames; k++) {
		const uint8_t *pkt = pl->data + pl->off[fidx[k]];
		uint32_t len = pl->len[fidx[k]];
		for (int e = 0; e < NENG; e++)
			run_one(p[e], e, pkt, len, &out[e]);
		st->execs++;
		for (int e = 0; e < NENG && !fail; e++) {
			if (out[e].rc) {
				snprintf(why, sizeof why, "%s faulted: %s",
				         eng_name[e], out[e].msg);
				fail = 1;
			}
		}
		for (int e = 1; e < NENG && !fail; e++) {
			char t[400];
			diff_outcome(&out[0], &out[e], 1, t, sizeof t);
			if (t[0]) {
				snprintf(why, sizeof why, "interp vs %s: %s",
				         eng_name[e], t);
				fail = 1;
			}
		}
		if (!fail && linux) {
			st->lx_execs++;
			if (lx_run(&lx, pkt, len, &out[NENG])) {
				snprintf(why, sizeof why, "linux: %s", out[NENG].msg);
				fail = 1;
			} else {
				char t[400];
				diff_outcome(&out[0], &out[NENG], 0, t, sizeof t);
				if (t[0]) {
					snprintf(why, sizeof why, "interp vs linux: %s", t);
					fail = 1;
				}
			}
		}
		if (fail) {
			printf("FAIL seed %llu program %u (0x%016llx) frame %u "
			       "(pool %u, %u bytes): %s\n",
			       (unsigned long long)seed, idx,
			       (unsigned long long)pseed, k, fidx[k], len, why);
			for (int e = 0; e < NENG; e++)
				print_outcome(eng_name[e], &out[e]);
			if (linux && strstr(why, "linux"))
				print_outcome("linux", &out[NENG]);
			break;
		}
	}
	if (!fail) {
		struct snap s[NENG + 1];
		memset(s, 0, sizeof s);
		for (uint32_t m = 0; m < img.nmaps && !fail; m++) {
			for (int e = 0; e < NENG; e++)
				snap_dpf(p[e], m, &s[e]);
			for (int e = 1; e < NENG && !fail; e++) {
				if (snap_eq(&s[0], &s[e]))
					continue;
				uint32_t at = bisect_maps(&img, &vres, &env, pl, fidx,
				                          o->frames - 1, m, 0, e);
				printf("FAIL seed %llu program %u (0x%016llx): map %s "
				       "differs between interp and %s after %u frames "
				       "(first after frame %u, pool %u)\n",
				       (unsigned long long)seed, idx,
				       (unsigned long long)pseed, img.maps[m].name,
				       eng_name[e], o->frames, at, fidx[at]);
				snap_diff(&img.maps[m], &s[0], &s[e], "interp",
				          eng_name[e]);
				fail = 1;
				k = at;
			}
			if (!fail && linux) {
				snap_lx(&lx, &img.maps[m], m, &s[NENG]);
				if (!snap_eq(&s[0], &s[NENG])) {
					printf("FAIL seed %llu program %u (0x%016llx): map "
					       "%s differs between interp and linux after "
					       "%u frames\n", (unsigned long long)seed, idx,
					       (unsigned long long)pseed, img.maps[m].name,
					       o->frames);
					snap_diff(&img.maps[m], &s[0], &s[NENG], "interp",
					          "linux");
					fail = 1;
					k = o->frames - 1;
				}
			}
		}
		for (int e = 0; e <= NENG; e++)
			free(s[e].b);
	}
	if (fail) {
		printf("program (%u slots):\n", img.ninsns);
		listing(&img);
		save(o, seed, idx, &img, pl, fidx,
		     k < o->frames ? k : o->frames - 1);
	}
	if (linux)
		lx_close(&lx);
	free_progs(p);
	free(fidx);
	vfy_ash_free(&vres);
	pg_free(&img);
	return fail ? -1 : 0;
}

/* ---- main ---- */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: ash_gendiff [--seeds A[-B]] [--programs N] "
	        "[--frames M] [--linux K] [--linux-meta] [--time-budget S] "
	        "[--max-processed P] [--only I] [--out DIR] [--list] "
	        "[--verbose]\n");
	return 2;
}

/* A bad command line: which argument, then the usage. */
static int bad(char **argv, int i, const char *why)
{
	fprintf(stderr, "ash_gendiff: argument %d '%s': %s\n", i, argv[i], why);
	return usage();
}

static int num(const char *s, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end;
}

int main(int argc, char **argv)
{
	struct opts o = {1, 1, 100, 1000, 0, 20000, -1, 0, ".", 0, 0, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		unsigned long long v;
		if (strcmp(a, "--verbose") == 0) {
			o.verbose = 1;
			continue;
		}
		if (strcmp(a, "--linux-meta") == 0) {
			o.linux_meta = 1;
			continue;
		}
		if (strcmp(a, "--list") == 0) {
			o.list = 1;
			continue;
		}
		if (a[0] != '-' || a[1] != '-')
			return bad(argv, i, "not an option");
		if (i + 1 >= argc)
			return bad(argv, i, "needs a value, or is unknown");
		const char *val = argv[++i];
		if (strcmp(a, "--seeds") == 0) {
			char lo[64];
			const char *dash = strchr(val, '-');
			size_t n = dash ? (size_t)(dash - val) : strlen(val);
			if (n == 0 || n >= sizeof lo)
				return bad(argv, i, "bad value");
			memcpy(lo, val, n);
			lo[n] = 0;
			if (num(lo, &v))
				return bad(argv, i, "bad value");
			o.seed_lo = o.seed_hi = v;
			if (dash && (num(dash + 1, &v) || v < o.seed_lo))
				return bad(argv, i, "bad value");
			if (dash)
				o.seed_hi = v;
		} else if (strcmp(a, "--programs") == 0) {
			if (num(val, &v) || v > 100000000)
				return bad(argv, i, "bad value");
			o.programs = (uint32_t)v;
		} else if (strcmp(a, "--frames") == 0) {
			if (num(val, &v) || v == 0 || v > 10000000)
				return bad(argv, i, "bad value");
			o.frames = (uint32_t)v;
		} else if (strcmp(a, "--linux") == 0) {
			if (num(val, &v) || v > 100000000)
				return bad(argv, i, "bad value");
			o.linux_k = (uint32_t)v;
		} else if (strcmp(a, "--time-budget") == 0) {
			char *end;
			o.budget = strtod(val, &end);
			if (end == val || *end || o.budget < 0)
				return bad(argv, i, "bad value");
		} else if (strcmp(a, "--max-processed") == 0) {
			if (num(val, &v) || v == 0)
				return bad(argv, i, "bad value");
			o.max_processed = v;
		} else if (strcmp(a, "--only") == 0) {
			if (num(val, &v) || v >= 100000000)
				return bad(argv, i, "bad value");
			o.only = (int64_t)v;
		} else if (strcmp(a, "--out") == 0) {
			o.out = val;
		} else {
			return bad(argv, i - 1, "unknown option");
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct stats st = {0};
	if (o.linux_k) {
		char why[256];
		libbpf_set_print(lx_quiet);
		st.lx_ok = lx_probe(why, sizeof why);
		if (!st.lx_ok)
			printf("ash_gendiff: linux part skipped: %s\n", why);
	}
	double t0 = now();
	int rc = 0, stopped = 0;
	for (uint64_t s = o.seed_lo; s <= o.seed_hi && !rc && !stopped; s++) {
		struct pool pl;
		pool_make(&pl, s);
		for (uint32_t i = 0; i < o.programs; i++) {
			if (o.only >= 0 && i != (uint64_t)o.only)
				continue;
			if (one_program(&o, s, i, &pl, &st)) {
				rc = 1;
				break;
			}
			if (o.budget > 0 && now() - t0 > o.budget) {
				stopped = 1;
				break;
			}
		}
		free(pl.data);
		if (s == UINT64_MAX)
			break;
	}
	double secs = now() - t0;
	printf("ash_gendiff: seeds %llu-%llu: %llu programs generated, %llu "
	       "accepted (%.2f%%), %llu refused, %.0f slots on average\n",
	       (unsigned long long)o.seed_lo, (unsigned long long)o.seed_hi,
	       (unsigned long long)st.generated,
	       (unsigned long long)st.accepted,
	       st.generated ? 100.0 * (double)st.accepted /
	                      (double)st.generated : 0.0,
	       (unsigned long long)st.refused,
	       st.accepted ? (double)st.insns / (double)st.accepted : 0.0);
	struct timespec cpu;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	double csecs = (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9;
	printf("ash_gendiff: %llu executions (program x frame, each on %d "
	       "engines) in %.1f s (%.1f s verifying), %.0f/s; %.1f s of CPU, "
	       "%.0f per CPU second\n",
	       (unsigned long long)st.execs, NENG, secs, st.vsecs,
	       secs > 0 ? (double)st.execs / secs : 0.0, csecs,
	       csecs > 0 ? (double)st.execs / csecs : 0.0);
	if (o.linux_k && st.lx_ok)
		printf("ash_gendiff: linux: %llu programs loaded, %llu refused, "
		       "%llu executions compared; %llu programs left to DPF "
		       "alone (bpf_xdp_adjust_meta, see --linux-meta)\n",
		       (unsigned long long)st.lx_progs,
		       (unsigned long long)st.lx_refused,
		       (unsigned long long)st.lx_execs,
		       (unsigned long long)st.lx_meta);
	if (stopped)
		printf("ash_gendiff: stopped by --time-budget %.0f s\n", o.budget);
	printf("ash_gendiff: %s\n", rc ? "FAILED" : "all engines agree");
	return rc;
}
