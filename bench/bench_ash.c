/*
 * bench_ash.c - what a handler (ASH) costs per packet, engine by engine:
 * DPF's interpreter, DPF's x86 JIT, the Linux kernel's JIT and the same C
 * compiled natively (the limit).  A measuring program, never a timed
 * test (bench/README.md).
 *
 *   bench_ash [--quick] [--repeat R] [--csv FILE] [-r TRACE.pcap]
 *             [--frames N] [--linux-repeat N] [--objdir DIR]
 *             [--rawdir DIR2]
 *
 * One trace is held in memory (generated, or read from TRACE) and every
 * handler object of DIR (default <build>/ash/examples) runs over all of
 * it:
 *   interp, x86   ash_run_xdp with ASH_ENGINE_INTERP / ASH_ENGINE_X86;
 *                 per pass the program is started afresh (maps new) and
 *                 the loop of ash_xdp_init + ash_run_xdp over every
 *                 frame is timed with CLOCK_MONOTONIC; median of R
 *                 passes, divided by the frames
 *   linux-jit     the object loaded with libbpf (maps new each pass);
 *                 BPF_PROG_TEST_RUN per frame with repeat N (default 1:
 *                 each frame run once on a fresh copy, as above); the
 *                 kernel's reported duration per run summed over the
 *                 trace minus the same sum for the empty program
 *                 (ash_empty.c, run just before on every frame; its
 *                 overhead reported separately), median of R passes
 *   native        the handler's C compiled with clang -O2 for the host
 *                 through bench/native/bpf_shim.h, called directly on a
 *                 frame set up by ash_xdp_init; maps new each pass
 * and, for the handlers that have a raw-memory variant (DIR2/NAME.o, the
 * same C through bench/dpdk/raw_model.h: r1 points at the frame's length
 * as a 64-bit word followed by the frame; r0 is the action), the same
 * object on four engines:
 *   interp-raw,   ash_run_mem with ASH_ENGINE_INTERP / ASH_ENGINE_X86 on
 *   x86-raw       program NAME_raw verified with VFY_ASH_CTX_MEM
 *   dpdk-jit      section "xdp/raw" loaded with DPDK's rte_bpf_elf_load
 *                 (RTE_BPF_ARG_PTR, the block's size; bpf_csum_diff as
 *                 external symbol 28, bench/dpdk/peer.c) and run by
 *                 DPDK's x86 JIT (rte_bpf_get_jit, its function called
 *                 with the one pointer); no EAL is initialised (the
 *                 load's time is printed per variant); without
 *                 librte_bpf at build time the column is
 *                 "n/a (dpdk-dev not installed)"
 *   native-raw    the variant compiled for the host through the shim
 * each pass timing the copy of every frame into the block and the run,
 * medians and fastest passes as above, x86r/dpdk = x86-raw / dpdk-jit;
 * and, for the empty handler, the cycles (rdtsc) one ash_run_xdp call
 * costs on each engine, and for the first raw variant the cycles of one
 * call on a frame of length 0 on each raw engine.  The passes of the
 * columns are interleaved (measure()); ash_xdp_init alone is timed with
 * them ("frame set-up"), since the kernel's duration leaves the copy
 * out.
 *
 * Before anything is timed, every frame's action and resulting bytes are
 * compared between the interpreter and the x86 engine, the native
 * build's action and bytes and the kernel's action with the
 * interpreter's; for a raw variant, r0 and the frame's bytes after the
 * run on interp-raw, x86-raw, DPDK's JIT, DPDK's interpreter
 * (rte_bpf_exec) and native-raw are compared with the XDP interpreter's
 * action and bytes.  Any disagreement, or DPDK (when built in) refusing a variant,
 * is printed, marks the column, and makes the exit status 1 (the
 * timings are still printed).
 *
 * --quick: 2,000 frames, 3 passes; ctest runs it to check that the
 * engines agree.  Timings are printed, never asserted.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <pcap/pcap.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "bench/ash_gen.h"
#include "bench/ash_linux.h"
#include "bench/common.h"
#include "bench/dpdk/peer.h"
#include "bench/dpdk/raw_native.h"
#include "bench/native/native.h"
#include "jit/jit.h"
#include "verifier/vfy.h"

#define MAX_HANDLERS 64

struct opts {
	int quick;
	uint32_t repeat, frames, linux_repeat;
	const char *csv, *pcap, *objdir, *empty, *rawdir;
};

/* One handler's figures; NaN where not measured. */
struct row {
	char name[64];
	double interp, x86, linux, native;
	double setup; /* ash_xdp_init alone, ns/packet */
	double interp_raw, x86_raw, dpdk, native_raw; /* the raw variant */
	int jitted;
	const char *linux_why; /* why the Linux column is empty */
	const char *dpdk_mark; /* table cell when dpdk is not a number */
};

/* A handler loaded and verified: what every pass starts from. */
struct handler {
	char path[512];
	struct ash_image *img;
	struct vfy_ash_result vres;
	struct ash_env env;
};

static void usage(FILE *f)
{
	fputs("usage: bench_ash [--quick] [--repeat R] [--csv FILE] "
	      "[-r TRACE.pcap]\n"
	      "                 [--frames N] [--linux-repeat N] "
	      "[--objdir DIR]\n"
	      "                 [--rawdir DIR2]\n",
	      f);
}

static uint32_t num(const char *s, const char *opt)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v == 0 || v > 10000000)
		die("bench_ash: %s wants a whole number from 1 to 10000000, "
		    "not '%s'", opt, s);
	return (uint32_t)v;
}

static void parse(struct opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick"))
			o->quick = 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!v) {
			usage(stderr);
			exit(2);
		} else if (!strcmp(a, "--repeat"))
			o->repeat = num(v, a), i++;
		else if (!strcmp(a, "--frames"))
			o->frames = num(v, a), i++;
		else if (!strcmp(a, "--linux-repeat"))
			o->linux_repeat = num(v, a), i++;
		else if (!strcmp(a, "--csv"))
			o->csv = v, i++;
		else if (!strcmp(a, "-r") || !strcmp(a, "--read"))
			o->pcap = v, i++;
		else if (!strcmp(a, "--objdir"))
			o->objdir = v, i++;
		else if (!strcmp(a, "--rawdir"))
			o->rawdir = v, i++;
		else {
			usage(stderr);
			exit(2);
		}
	}
}

/* ---- the trace ---- */

static void read_pcap(struct atrace *t, const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	if (!p)
		die("bench_ash: %s: %s", path, err);
	if (pcap_datalink(p) != DLT_EN10MB)
		die("bench_ash: %s: not an Ethernet capture", path);
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;
	uint32_t skipped = 0;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (h->caplen < ASH_ETH_HLEN || h->caplen > ASH_MAX_DATA)
			skipped++;
		else
			atrace_add(t, d, h->caplen);
	}
	if (rc == PCAP_ERROR)
		die("bench_ash: %s: %s", path, pcap_geterr(p));
	pcap_close(p);
	if (skipped)
		fprintf(stderr, "bench_ash: %s: %u frames under 14 or over %u "
		        "bytes left out\n", path, skipped, (unsigned)ASH_MAX_DATA);
	if (!t->n)
		die("bench_ash: %s: no frame to run", path);
}

/* ---- DPF's engines ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("bench_ash: %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = xmalloc(n > 0 ? (size_t)n : 1);
	if (n < 0 || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("bench_ash: %s: read error", path);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Open program prog (NULL: the only XDP program) of the object at path
 * and verify it for ctx (VFY_ASH_CTX_XDP, or VFY_ASH_CTX_MEM over
 * mem_size bytes). */
static void handler_open_as(struct handler *h, const char *path,
                            const char *prog, uint32_t ctx,
                            uint32_t mem_size)
{
	struct dpf_diag d = {{0}};
	size_t len;
	memset(h, 0, sizeof *h);
	snprintf(h->path, sizeof h->path, "%s", path);
	uint8_t *buf = read_file(path, &len);
	if (ash_load_elf(buf, len, prog, NULL, 0, &h->img, &d) != 0)
		die("bench_ash: %s: error: %s", path, d.msg);
	free(buf);
	struct vfy_ash_opts vo = {ctx, mem_size, 0};
	if (vfy_ash(h->img, &vo, dpf_host_libc(), &h->vres, &d) != 0)
		die("bench_ash: %s: at insn %u: error: %s", path,
		    (unsigned)h->vres.err_insn, d.msg);
	h->env.host = dpf_host_libc();
	h->env.ifindex = 1;
}

static void handler_open(struct handler *h, const char *path)
{
	handler_open_as(h, path, NULL, VFY_ASH_CTX_XDP, 0);
}

static void handler_close(struct handler *h)
{
	vfy_ash_free(&h->vres);
	ash_image_free(dpf_host_libc(), h->img);
}

/* A fresh program (new maps), compiled when eng is x86; *jitted says
 * whether the JIT took it. */
static struct ash_prog *start(struct handler *h, enum ash_engine eng,
                              int *jitted)
{
	struct dpf_diag d = {{0}};
	struct ash_prog *p;
	if (ash_prog_new(h->img, &h->vres, &h->env, &p, &d) != 0)
		die("bench_ash: %s: error: %s", h->path, d.msg);
	if (eng == ASH_ENGINE_X86) {
		if (ash_prog_jit(p, jit_mem_posix(), &d) != 0 && jitted &&
		    *jitted)
			fprintf(stderr, "bench_ash: %s: the x86 JIT cannot compile "
			        "%s: %s; the x86 column is the interpreter's\n",
			        h->path, h->img->prog, d.msg);
		if (jitted)
			*jitted = ash_prog_jitted(p);
	}
	return p;
}

/* One timed pass: ns for the whole trace. */
static uint64_t dpf_pass(struct handler *h, enum ash_engine eng,
                         const struct atrace *t, uint8_t *buf)
{
	struct ash_prog *p = start(h, eng, NULL);
	struct ash_xdp x;
	struct ash_result res;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		ash_xdp_init(&x, buf, t->data + t->off[i], t->len[i]);
		ash_run_xdp(p, &x, eng, &res);
	}
	uint64_t ns = now_ns() - t0;
	ash_prog_free(p);
	return ns;
}

static double median_ns(uint64_t *v, uint32_t n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	return n % 2 ? (double)v[n / 2]
	             : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* Cycles one ash_run_xdp of an already initialised frame costs: the
 * median over batches of 1,000 calls. */
static double call_cycles(struct handler *h, enum ash_engine eng,
                          const struct atrace *t, uint8_t *buf)
{
	enum { BATCH = 1000, BATCHES = 51 };
	struct ash_prog *p = start(h, eng, NULL);
	struct ash_xdp x;
	struct ash_result res;
	double v[BATCHES];
	ash_xdp_init(&x, buf, t->data + t->off[0], t->len[0]);
	for (int b = 0; b < BATCHES; b++) {
		uint64_t c0 = __rdtsc();
		for (int i = 0; i < BATCH; i++)
			ash_run_xdp(p, &x, eng, &res);
		v[b] = (double)(__rdtsc() - c0) / BATCH;
	}
	ash_prog_free(p);
	return stat3_of(v, BATCHES).med;
}

/* The frame set-up every DPF and native pass includes (ash_xdp_init,
 * a copy of the frame into the buffer) and the kernel's duration does
 * not: one pass, ns for the whole trace. */
static uint64_t setup_pass(const struct atrace *t, uint8_t *buf)
{
	volatile uint8_t sink = 0;
	struct ash_xdp x;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		ash_xdp_init(&x, buf, t->data + t->off[i], t->len[i]);
		sink += buf[x.data_end - 1];
	}
	(void)sink;
	return now_ns() - t0;
}

/* ---- native ---- */

static const struct native_handler *native_find(const char *name)
{
	for (unsigned i = 0; i < native_nhandlers; i++)
		if (!strcmp(native_handlers[i].name, name))
			return &native_handlers[i];
	return NULL;
}

static void native_ctx(struct xdp_md *c, const struct ash_xdp *x)
{
	c->data = (long)(x->buf + x->data);
	c->data_end = (long)(x->buf + x->data_end);
	c->data_meta = (long)(x->buf + x->data_meta);
	c->ingress_ifindex = 1;
	c->rx_queue_index = 0;
	c->egress_ifindex = 0;
	c->shim_buf = x->buf;
}

static uint64_t native_pass(const struct native_handler *nh,
                            const struct atrace *t, uint8_t *buf)
{
	struct ash_xdp x;
	struct xdp_md c;
	volatile int sink = 0;
	nh->reset();
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		ash_xdp_init(&x, buf, t->data + t->off[i], t->len[i]);
		native_ctx(&c, &x);
		sink += nh->run(&c);
	}
	uint64_t ns = now_ns() - t0;
	(void)sink;
	return ns;
}

/* ---- the raw-memory variant: DPF raw mode and DPDK ---- */

/* struct raw_frame of bench/dpdk/raw_model.h: the frame's length as a
 * 64-bit word, then ASH_MAX_DATA bytes of frame. */
#define RAW_HDR 8u
#define RAW_SIZE (RAW_HDR + ASH_MAX_DATA)
_Static_assert(ASH_MAX_DATA == 3520, "RAW_MAX_DATA of raw_model.h");

/* A handler's raw variant: DPF's image of NAME_raw and DPDK's program
 * (NULL when DPDK is absent or refused it; why says which). */
struct rawv {
	struct handler h;
	struct dpk_prog *dp;
	const struct raw_native *nat; /* NULL: not compiled natively */
	double load_ms; /* dpk_load: read, validate, compile */
	char why[400];
};

/* Open DIR2/name.o when it exists: 1, or 0 when there is no variant. */
static int rawv_open(struct rawv *v, const char *dir, const char *name)
{
	char path[600], prog[96];
	snprintf(path, sizeof path, "%s/%s.o", dir, name);
	if (access(path, R_OK) != 0)
		return 0;
	snprintf(prog, sizeof prog, "%s_raw", name);
	handler_open_as(&v->h, path, prog, VFY_ASH_CTX_MEM, RAW_SIZE);
	v->why[0] = 0;
	uint64_t t0 = now_ns();
	v->dp = dpk_load(path, "xdp/raw", RAW_SIZE, v->why, sizeof v->why);
	v->load_ms = (double)(now_ns() - t0) / 1e6;
	v->nat = NULL;
	for (unsigned i = 0; i < raw_nnatives; i++)
		if (!strcmp(raw_natives[i].name, name))
			v->nat = &raw_natives[i];
	return 1;
}

static void rawv_close(struct rawv *v)
{
	dpk_free(v->dp);
	handler_close(&v->h);
}

static void raw_fill(uint8_t *blk, const struct atrace *t, uint32_t i)
{
	uint64_t len = t->len[i];
	memcpy(blk, &len, sizeof len);
	memcpy(blk + RAW_HDR, t->data + t->off[i], t->len[i]);
}

/* One timed pass of DPF's raw mode: ns for the whole trace. */
static uint64_t raw_pass(struct handler *h, enum ash_engine eng,
                         const struct atrace *t, uint8_t *blk)
{
	struct ash_prog *p = start(h, eng, NULL);
	struct ash_result res;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		raw_fill(blk, t, i);
		ash_run_mem(p, blk, RAW_SIZE, eng, &res);
	}
	uint64_t ns = now_ns() - t0;
	ash_prog_free(p);
	return ns;
}

/* One timed pass of the natively compiled variant: ns for the trace. */
static uint64_t native_raw_pass(const struct raw_native *nr,
                                const struct atrace *t, uint8_t *blk)
{
	volatile int sink = 0;
	nr->reset();
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		raw_fill(blk, t, i);
		sink += nr->run(blk);
	}
	uint64_t ns = now_ns() - t0;
	(void)sink;
	return ns;
}

/* One timed pass of DPDK's JIT: ns for the whole trace. */
static uint64_t dpdk_pass(const struct dpk_prog *d, const struct atrace *t,
                          uint8_t *blk)
{
	volatile uint64_t sink = 0;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < t->n; i++) {
		raw_fill(blk, t, i);
		sink += dpk_run(d, blk);
	}
	uint64_t ns = now_ns() - t0;
	(void)sink;
	return ns;
}

/* Cycles one call of the raw variant costs on a frame of length 0 (the
 * handler's first bound check answers XDP_PASS: a handful of
 * instructions, so this is the call itself): median over batches of
 * 1,000 calls; eng 0 interp-raw, 1 x86-raw, 2 dpdk-jit, 3 native-raw.
 * NaN when that engine is absent. */
static double raw_call_cycles(struct rawv *v, int eng, uint8_t *blk)
{
	enum { BATCH = 1000, BATCHES = 51 };
	struct ash_prog *p = NULL;
	struct ash_result res;
	double c[BATCHES];
	volatile uint64_t sink = 0;
	if ((eng == 2 && !v->dp) || (eng == 3 && !v->nat))
		return NAN;
	if (eng < 2)
		p = start(&v->h, eng ? ASH_ENGINE_X86 : ASH_ENGINE_INTERP, NULL);
	memset(blk, 0, RAW_HDR);
	for (int b = 0; b < BATCHES; b++) {
		uint64_t c0 = __rdtsc();
		for (int i = 0; i < BATCH; i++) {
			if (eng < 2)
				ash_run_mem(p, blk, RAW_SIZE,
				            eng ? ASH_ENGINE_X86 : ASH_ENGINE_INTERP,
				            &res);
			else if (eng == 2)
				sink += dpk_run(v->dp, blk);
			else
				sink += (uint64_t)v->nat->run(blk);
		}
		c[b] = (double)(__rdtsc() - c0) / BATCH;
	}
	(void)sink;
	if (p)
		ash_prog_free(p);
	return stat3_of(c, BATCHES).med;
}

/* ---- Linux ---- */

/* One pass with a freshly loaded object: every frame run by the empty
 * program and then by the handler, alternately, so that drift in the
 * test-run overhead cancels; *prog and *empty get the kernel's durations
 * per run summed over the trace.  -1 with why on failure. */
static int linux_pass(const char *path, struct lnx_prog *empty,
                      const struct atrace *t, uint32_t repeat,
                      double *prog, double *emp, char *why, size_t cap)
{
	struct lnx_prog *p = lnx_load(path, why, cap);
	if (!p)
		return -1;
	uint64_t sp = 0, se = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t ns, ne, act;
		const uint8_t *pkt = t->data + t->off[i];
		int rc = lnx_run(empty, pkt, t->len[i], repeat, &ne, &act);
		if (!rc)
			rc = lnx_run(p, pkt, t->len[i], repeat, &ns, &act);
		if (rc) {
			snprintf(why, cap, "BPF_PROG_TEST_RUN: %s", strerror(-rc));
			lnx_free(p);
			return -1;
		}
		sp += ns;
		se += ne;
	}
	lnx_free(p);
	*prog = (double)sp;
	*emp = (double)se;
	return 0;
}

/* Every column of one handler, the passes of the engines interleaved
 * (set-up, interp, x86, native, linux, then again) so that a burst of
 * load from elsewhere on the machine falls on all of them alike; each
 * figure the median of r passes over the frame count. */
static void measure(struct handler *h, const struct native_handler *nh,
                    struct lnx_prog *empty, struct rawv *rv,
                    const struct atrace *t, uint8_t *buf, uint8_t *blk,
                    const struct opts *o, struct row *row,
                    struct row *best, double *lin_ovh)
{
	uint32_t r = o->repeat;
	uint64_t *vs = xcalloc(r, sizeof *vs), *vi = xcalloc(r, sizeof *vi);
	uint64_t *vx = xcalloc(r, sizeof *vx), *vn = xcalloc(r, sizeof *vn);
	double *ld = xcalloc(r, sizeof *ld), *le = xcalloc(r, sizeof *le);
	double *lp = xcalloc(r, sizeof *lp);
	uint64_t *ri = xcalloc(r, sizeof *ri), *rx = xcalloc(r, sizeof *rx);
	uint64_t *rd = xcalloc(r, sizeof *rd), *rn = xcalloc(r, sizeof *rn);
	int dp = rv && rv->dp, nr = rv && rv->nat;
	char why[320];
	int lin = empty != NULL;
	for (uint32_t k = 0; k < r; k++) {
		vs[k] = setup_pass(t, buf);
		vi[k] = dpf_pass(h, ASH_ENGINE_INTERP, t, buf);
		vx[k] = dpf_pass(h, ASH_ENGINE_X86, t, buf);
		if (nh)
			vn[k] = native_pass(nh, t, buf);
		if (rv) {
			ri[k] = raw_pass(&rv->h, ASH_ENGINE_INTERP, t, blk);
			rx[k] = raw_pass(&rv->h, ASH_ENGINE_X86, t, blk);
		}
		if (dp)
			rd[k] = dpdk_pass(rv->dp, t, blk);
		if (nr)
			rn[k] = native_raw_pass(rv->nat, t, blk);
		double p;
		if (lin && linux_pass(h->path, empty, t, o->linux_repeat, &p,
		                      &le[k], why, sizeof why) != 0) {
			fprintf(stderr, "bench_ash: %s: linux: %s\n", row->name, why);
			lin = 0;
		}
		if (lin)
			ld[k] = p - le[k], lp[k] = p;
	}
	/* median_ns and stat3_of sort: [0] is then the minimum */
	row->setup = median_ns(vs, r) / t->n;
	row->interp = median_ns(vi, r) / t->n;
	row->x86 = median_ns(vx, r) / t->n;
	row->native = nh ? median_ns(vn, r) / t->n : NAN;
	row->linux = lin ? stat3_of(ld, r).med / t->n : NAN;
	*lin_ovh = lin ? stat3_of(le, r).med / t->n : NAN;
	row->interp_raw = rv ? median_ns(ri, r) / t->n : NAN;
	row->x86_raw = rv ? median_ns(rx, r) / t->n : NAN;
	row->dpdk = dp ? median_ns(rd, r) / t->n : NAN;
	row->native_raw = nr ? median_ns(rn, r) / t->n : NAN;
	*best = *row;
	best->setup = (double)vs[0] / t->n;
	best->interp = (double)vi[0] / t->n;
	best->x86 = (double)vx[0] / t->n;
	best->native = nh ? (double)vn[0] / t->n : NAN;
	best->interp_raw = rv ? (double)ri[0] / t->n : NAN;
	best->x86_raw = rv ? (double)rx[0] / t->n : NAN;
	best->dpdk = dp ? (double)rd[0] / t->n : NAN;
	best->native_raw = nr ? (double)rn[0] / t->n : NAN;
	/* the fastest handler pass less the fastest empty one: the minimum
	 * of the differences would pick noise */
	best->linux = lin ? (stat3_of(lp, r).min - le[0]) / t->n : NAN;
	free(vs);
	free(vi);
	free(vx);
	free(vn);
	free(ld);
	free(le);
	free(lp);
	free(ri);
	free(rx);
	free(rd);
	free(rn);
}

/* ---- checking ---- */

/* Run the trace once on every engine in lockstep and compare with the
 * interpreter; returns the number of fatal disagreements. */
static int check(struct handler *h, const char *name,
                 const struct native_handler *nh, const struct atrace *t,
                 int use_linux, int *jitted)
{
	uint8_t *b1 = aligned_alloc(64, ASH_FRAME_SIZE);
	uint8_t *b2 = aligned_alloc(64, ASH_FRAME_SIZE);
	uint8_t *b3 = aligned_alloc(64, ASH_FRAME_SIZE);
	if (!b1 || !b2 || !b3)
		die("bench_ash: out of memory");
	struct ash_prog *pi = start(h, ASH_ENGINE_INTERP, NULL);
	*jitted = 1;
	struct ash_prog *px = start(h, ASH_ENGINE_X86, jitted);
	struct lnx_prog *pl = NULL;
	char why[320];
	if (use_linux && !(pl = lnx_load(h->path, why, sizeof why)))
		fprintf(stderr, "bench_ash: %s: linux: %s\n", name, why);
	if (nh)
		nh->reset();
	int bad = 0;
	uint32_t nbad = 0, lbad = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		const uint8_t *pkt = t->data + t->off[i];
		struct ash_xdp xi, xx, xn;
		struct ash_result ri, rx;
		ash_xdp_init(&xi, b1, pkt, t->len[i]);
		ash_xdp_init(&xx, b2, pkt, t->len[i]);
		ash_run_xdp(pi, &xi, ASH_ENGINE_INTERP, &ri);
		ash_run_xdp(px, &xx, ASH_ENGINE_X86, &rx);
		uint32_t li = xi.data_end - xi.data, lx = xx.data_end - xx.data;
		if (ri.action != rx.action || li != lx ||
		    memcmp(b1 + xi.data, b2 + xx.data, li)) {
			if (bad < 5)
				fprintf(stderr, "bench_ash: %s: frame %u: interp "
				        "action %d (%u bytes), x86 action %d (%u "
				        "bytes)%s\n", name, i, ri.action, li,
				        rx.action, lx,
				        ri.action == rx.action && li == lx
				                ? ", the bytes differ" : "");
			bad++;
		}
		if (nh) {
			struct xdp_md c;
			ash_xdp_init(&xn, b3, pkt, t->len[i]);
			native_ctx(&c, &xn);
			int a = nh->run(&c);
			uint32_t ln = (uint32_t)(c.data_end - c.data);
			if (a != ri.action || ln != li ||
			    memcmp(b1 + xi.data, (uint8_t *)c.data, li)) {
				if (nbad < 5)
					fprintf(stderr, "bench_ash: %s: frame %u: interp "
					        "action %d, native action %d\n", name, i,
					        ri.action, a);
				nbad++;
			}
		}
		if (pl) {
			uint32_t ns, act;
			if (lnx_run(pl, pkt, t->len[i], 1, &ns, &act) == 0 &&
			    (int)act != ri.action) {
				if (lbad < 5)
					fprintf(stderr, "bench_ash: %s: frame %u: interp "
					        "action %d, linux action %u\n", name, i,
					        ri.action, act);
				lbad++;
			}
		}
	}
	if (bad)
		fprintf(stderr, "bench_ash: %s: x86 and interp disagree on %d "
		        "frames\n", name, bad);
	if (nbad)
		fprintf(stderr, "bench_ash: %s: native and interp disagree on %u "
		        "frames\n", name, nbad);
	if (lbad)
		fprintf(stderr, "bench_ash: %s: linux and interp disagree on %u "
		        "frames\n", name, lbad);
	ash_prog_free(pi);
	ash_prog_free(px);
	lnx_free(pl);
	free(b1);
	free(b2);
	free(b3);
	return bad + (int)nbad + (int)lbad;
}

/* Run the trace once through the raw variant on DPF's interpreter and
 * x86 engine and on DPDK's JIT and interpreter, each from a fresh block,
 * and compare r0 and the frame's bytes with the XDP handler's action and
 * bytes on DPF's interpreter; returns the number of fatal disagreements
 * and sets row->dpdk_mark when DPDK's are among them. */
static int check_raw(struct handler *h, struct rawv *v, const char *name,
                     const struct atrace *t, struct row *row)
{
	enum { NE = 5 };
	static const char *const eng[NE] = {"interp-raw", "x86-raw",
	                                    "dpdk-jit", "dpdk-interp",
	                                    "native-raw"};
	uint8_t *fb = aligned_alloc(64, ASH_FRAME_SIZE);
	uint8_t *blk = aligned_alloc(64, (RAW_SIZE + 63) / 64 * 64);
	if (!fb || !blk)
		die("bench_ash: out of memory");
	struct ash_prog *pi = start(h, ASH_ENGINE_INTERP, NULL);
	struct ash_prog *qi = start(&v->h, ASH_ENGINE_INTERP, NULL);
	int jitted = 1;
	struct ash_prog *qx = start(&v->h, ASH_ENGINE_X86, &jitted);
	uint32_t bad[NE] = {0};
	if (v->nat)
		v->nat->reset();
	for (uint32_t i = 0; i < t->n; i++) {
		const uint8_t *pkt = t->data + t->off[i];
		struct ash_xdp x;
		struct ash_result ref, res;
		ash_xdp_init(&x, fb, pkt, t->len[i]);
		ash_run_xdp(pi, &x, ASH_ENGINE_INTERP, &ref);
		uint32_t rlen = x.data_end - x.data;
		for (int e = 0; e < NE; e++) {
			uint64_t r0;
			if ((e == 2 || e == 3) && !v->dp)
				continue;
			if (e == 4 && !v->nat)
				continue;
			raw_fill(blk, t, i);
			if (e == 0 || e == 1) {
				ash_run_mem(e ? qx : qi, blk, RAW_SIZE,
				            e ? ASH_ENGINE_X86 : ASH_ENGINE_INTERP,
				            &res);
				r0 = res.fault ? (uint64_t)-1 : res.r0;
			} else if (e == 4) {
				r0 = (uint64_t)(int64_t)v->nat->run(blk);
			} else {
				r0 = e == 2 ? dpk_run(v->dp, blk)
				            : dpk_exec(v->dp, blk);
			}
			if (r0 != (uint64_t)ref.action || rlen != t->len[i] ||
			    memcmp(blk + RAW_HDR, fb + x.data, rlen)) {
				if (bad[e] < 5)
					fprintf(stderr, "bench_ash: %s: frame %u: interp "
					        "action %d (%u bytes), %s r0 %llu%s\n",
					        name, i, ref.action, rlen, eng[e],
					        (unsigned long long)r0,
					        r0 == (uint64_t)ref.action
					                ? ", the bytes differ" : "");
				bad[e]++;
			}
		}
	}
	int n = 0;
	for (int e = 0; e < NE; e++) {
		if (bad[e])
			fprintf(stderr, "bench_ash: %s: %s and interp disagree on %u "
			        "frames\n", name, eng[e], bad[e]);
		n += (int)bad[e];
	}
	if (bad[2] || bad[3])
		row->dpdk_mark = "MISMATCH";
	if (!jitted) {
		fprintf(stderr, "bench_ash: %s: the x86 JIT refused the raw "
		        "variant\n", name);
		n++;
	}
	ash_prog_free(pi);
	ash_prog_free(qi);
	ash_prog_free(qx);
	free(fb);
	free(blk);
	return n;
}

/* ---- output ---- */

static void fmt_ns(char *b, size_t cap, double v)
{
	if (isnan(v))
		snprintf(b, cap, "-");
	else
		snprintf(b, cap, "%.1f", v);
}

static void fmt_ratio(char *b, size_t cap, double x, double y)
{
	if (isnan(x) || isnan(y) || y <= 0)
		snprintf(b, cap, "-");
	else
		snprintf(b, cap, "%.2f", x / y);
}

/* x86 against the kernel: the kernel's duration leaves out copying the
 * frame in, so the frame set-up is taken off the x86 figure first. */
static double x86_for_linux(const struct row *r)
{
	return r->x86 - r->setup;
}

static void print_table(const struct row *rows, int n)
{
	printf("%-14s %9s %9s %9s %9s %10s %10s | %10s %9s %9s %10s "
	       "%9s\n", "handler", "interp", "x86", "linux-jit", "native",
	       "x86/native", "x86/linux", "interp-raw", "x86-raw", "dpdk-jit",
	       "native-raw", "x86r/dpdk");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char a[32], b[32], c[32], d[32], e[32], f[32];
		char g[32], h[32], k[32], l[32], m[32];
		fmt_ns(a, sizeof a, r->interp);
		fmt_ns(b, sizeof b, r->x86);
		fmt_ns(c, sizeof c, r->linux);
		fmt_ns(d, sizeof d, r->native);
		fmt_ratio(e, sizeof e, r->x86, r->native);
		fmt_ratio(f, sizeof f, x86_for_linux(r), r->linux);
		fmt_ns(g, sizeof g, r->interp_raw);
		fmt_ns(h, sizeof h, r->x86_raw);
		fmt_ns(k, sizeof k, r->dpdk);
		fmt_ratio(l, sizeof l, r->x86_raw, r->dpdk);
		fmt_ns(m, sizeof m, r->native_raw);
		if (r->dpdk_mark)
			snprintf(k, sizeof k, "%s", r->dpdk_mark);
		printf("%-14s %9s %8s%s %9s %9s %10s %10s | %10s %9s %9s %10s "
		       "%9s\n", r->name, a, b, r->jitted ? " " : "*", c, d, e, f,
		       g, h, k, m, l);
	}
}

static void csv_num(FILE *f, double v)
{
	if (isnan(v))
		fputs(",NaN", f);
	else
		fprintf(f, ",%.2f", v);
}

static void write_csv(const char *path, const struct row *rows,
                      const struct row *mins, int n,
                      const char *machine, double lin_empty,
                      double cyc_interp, double cyc_x86, double init_ns,
                      const char *dpdk_line, const char *rcyc_line)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("bench_ash: %s: %s", path, strerror(errno));
	fprintf(f, "# bench_ash: ns/packet; %s\n", machine);
	fprintf(f, "# empty handler: interp %.1f cycles/call, x86 %.1f "
	        "cycles/call; BPF_PROG_TEST_RUN per-run overhead %.1f ns "
	        "(subtracted); frame set-up %.1f ns/packet (in every column "
	        "but linux_jit)\n", cyc_interp, cyc_x86, lin_empty, init_ns);
	fprintf(f, "# %s\n", dpdk_line);
	if (rcyc_line[0])
		fprintf(f, "# %s\n", rcyc_line);
	fputs("handler,interp,x86,linux_jit,native,x86_over_native,"
	      "x86_over_linux,interp_min,x86_min,linux_jit_min,native_min,"
	      "interp_raw,x86_raw,dpdk_jit,x86_raw_over_dpdk,interp_raw_min,"
	      "x86_raw_min,dpdk_jit_min,native_raw,native_raw_min\n",
	      f);
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		fputs(r->name, f);
		csv_num(f, r->interp);
		csv_num(f, r->x86);
		csv_num(f, r->linux);
		csv_num(f, r->native);
		csv_num(f, r->native > 0 ? r->x86 / r->native : NAN);
		csv_num(f, r->linux > 0 ? x86_for_linux(r) / r->linux
		                        : NAN);
		csv_num(f, mins[i].interp);
		csv_num(f, mins[i].x86);
		csv_num(f, mins[i].linux);
		csv_num(f, mins[i].native);
		csv_num(f, r->interp_raw);
		csv_num(f, r->x86_raw);
		csv_num(f, r->dpdk);
		csv_num(f, r->dpdk > 0 ? r->x86_raw / r->dpdk : NAN);
		csv_num(f, mins[i].interp_raw);
		csv_num(f, mins[i].x86_raw);
		csv_num(f, mins[i].dpdk);
		csv_num(f, r->native_raw);
		csv_num(f, mins[i].native_raw);
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		die("bench_ash: %s: write error", path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The handler objects of dir, sorted by name. */
static int list_objects(const char *dir, char **names, int cap)
{
	DIR *d = opendir(dir);
	if (!d)
		die("bench_ash: %s: %s", dir, strerror(errno));
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l > 2 && !strcmp(e->d_name + l - 2, ".o") && n < cap)
			names[n++] = strndup(e->d_name, l - 2);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	return n;
}

int main(int argc, char **argv)
{
	struct opts o = {0, 11, 20000, 1, NULL, NULL, BENCH_ASH_OBJDIR,
	                 BENCH_ASH_EMPTY, BENCH_ASH_RAWDIR};
	parse(&o, argc, argv);
	if (o.quick) {
		if (o.frames == 20000)
			o.frames = 2000;
		o.repeat = 3;
	}

	struct atrace t = {0};
	if (o.pcap)
		read_pcap(&t, o.pcap);
	else
		atrace_gen(&t, o.frames, 5);
	uint8_t *buf = aligned_alloc(64, ASH_FRAME_SIZE);
	uint8_t *blk = aligned_alloc(64, (RAW_SIZE + 63) / 64 * 64);
	if (!buf || !blk)
		die("bench_ash: out of memory");

	char machine[512];
	machine_line(machine, sizeof machine);
	printf("bench_ash: %u frames (%s), median of %u passes; %s\n", t.n,
	       o.pcap ? o.pcap : "generated, seeds 1-5", o.repeat, machine);

	/* Linux: available, and its per-run overhead */
	char lwhy[320] = "";
	double lin_empty = NAN; /* median over handlers of the overhead */
	double lin_ovh[MAX_HANDLERS];
	int nlin = 0, jit = lnx_jit_enabled();
	struct lnx_prog *empty = lnx_load(o.empty, lwhy, sizeof lwhy);
	if (!empty)
		printf("linux-jit: skipped: %s\n", lwhy);
	else if (jit != 1)
		printf("linux-jit: note: net.core.bpf_jit_enable is %d\n", jit);
	char dline[200];
	if (dpk_available())
		snprintf(dline, sizeof dline, "dpdk-jit: DPDK's librte_bpf x86 "
		         "JIT on the raw variants of %s", o.rawdir);
	else
		snprintf(dline, sizeof dline, "dpdk-jit: %s", DPK_ABSENT);
	printf("%s\n", dline);

	/* the empty handler's call overhead */
	struct handler eh;
	handler_open(&eh, o.empty);
	double cyc_i = call_cycles(&eh, ASH_ENGINE_INTERP, &t, buf);
	double cyc_x = call_cycles(&eh, ASH_ENGINE_X86, &t, buf);
	handler_close(&eh);

	char *names[MAX_HANDLERS];
	int n = list_objects(o.objdir, names, MAX_HANDLERS);
	if (!n)
		die("bench_ash: %s: no handler objects", o.objdir);
	struct row rows[MAX_HANDLERS], mins[MAX_HANDLERS];
	double setups[MAX_HANDLERS];
	double rcyc[4] = {NAN, NAN, NAN, NAN};
	const char *rcyc_of = NULL;
	char loads[400] = "";
	size_t nloads = 0;
	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct row *r = &rows[i];
		char path[600];
		snprintf(path, sizeof path, "%s/%s.o", o.objdir, names[i]);
		memset(r, 0, sizeof *r);
		snprintf(r->name, sizeof r->name, "%s", names[i]);
		struct handler h;
		handler_open(&h, path);
		const struct native_handler *nh = native_find(names[i]);
		if (check(&h, names[i], nh, &t, empty != NULL, &r->jitted))
			failed = 1;
		struct rawv rv;
		int has_raw = rawv_open(&rv, o.rawdir, names[i]);
		if (has_raw && !rv.dp) {
			r->dpdk_mark = "n/a";
			if (dpk_available()) {
				fprintf(stderr, "bench_ash: %s: dpdk: %s\n", names[i],
				        rv.why);
				r->dpdk_mark = "REFUSED";
				failed = 1;
			}
		}
		if (has_raw && check_raw(&h, &rv, names[i], &t, r))
			failed = 1;
		measure(&h, nh, empty, has_raw ? &rv : NULL, &t, buf, blk, &o, r,
		        &mins[i], &lin_ovh[nlin]);
		mins[i].dpdk_mark = r->dpdk_mark;
		if (has_raw && rv.dp && nloads < sizeof loads)
			nloads += (size_t)snprintf(loads + nloads,
			                           sizeof loads - nloads, "%s%s %.2f",
			                           nloads ? ", " : "", r->name,
			                           rv.load_ms);
		if (has_raw && !rcyc_of) {
			for (int e = 0; e < 4; e++)
				rcyc[e] = raw_call_cycles(&rv, e, blk);
			rcyc_of = r->name;
		}
		if (!isnan(r->linux))
			nlin++;
		setups[i] = r->setup;
		if (has_raw)
			rawv_close(&rv);
		handler_close(&h);
		free(names[i]);
	}

	if (nlin)
		lin_empty = stat3_of(lin_ovh, (uint32_t)nlin).med;
	double init_ns = stat3_of(setups, (uint32_t)n).med;
	lnx_free(empty);
	print_table(rows, n);
	printf("ns/packet, median of %u passes; * = the x86 JIT refused the "
	       "handler (interpreter ran);\nx86/linux = (x86 - its frame "
	       "set-up) / linux-jit.\n\nthe same, fastest pass of each "
	       "column (less disturbed by other load):\n", o.repeat);
	print_table(mins, n);
	putchar('\n');
	printf("empty handler, one ash_run_xdp call: interp %.1f cycles, x86 "
	       "%.1f cycles\n", cyc_i, cyc_x);
	printf("frame set-up (ash_xdp_init, included in interp, x86 and "
	       "native, not in linux-jit): %.1f ns/packet (median over the "
	       "handlers)\n", init_ns);
	if (!isnan(lin_empty))
		printf("linux-jit: BPF_PROG_TEST_RUN per-run overhead (empty "
		       "program, repeat %u, median over the handlers' runs) "
		       "%.1f ns, subtracted frame by frame\n",
		       o.linux_repeat, lin_empty);
	printf("raw variant (bench/dpdk/NAME.c, r1 = block of length + "
	       "frame): interp-raw, x86-raw = DPF's ash_run_mem, dpdk-jit = "
	       "DPDK's JIT,\nnative-raw = the variant compiled for the host; "
	       "the copy into the block included in all four; x86r/dpdk = "
	       "x86-raw / dpdk-jit;\n- where a handler has no raw variant.\n"
	       "%s\n", dline);
	char rline[400] = "";
	if (rcyc_of) {
		char cd[32];
		fmt_ns(cd, sizeof cd, rcyc[2]);
		snprintf(rline, sizeof rline, "raw variant of %.64s on an empty "
		         "frame (the call, a few instructions): interp-raw %.1f, "
		         "x86-raw %.1f, dpdk-jit %s, native-raw %.1f cycles",
		         rcyc_of, rcyc[0], rcyc[1],
		         dpk_available() ? cd : "n/a", rcyc[3]);
		printf("%s\n", rline);
	}
	if (nloads)
		printf("dpdk-jit: rte_bpf_elf_load (ELF read, DPDK's validator, "
		       "JIT), no EAL initialised, ms: %s\n", loads);
	if (o.csv)
		write_csv(o.csv, rows, mins, n, machine, lin_empty, cyc_i, cyc_x,
		          init_ns, dline, rline);
	free(buf);
	free(blk);
	atrace_free(&t);
	if (failed) {
		fprintf(stderr, "bench_ash: engines disagree\n");
		return 1;
	}
	return 0;
}
