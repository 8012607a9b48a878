/*
 * bench_jit.c - what the x86 back end costs and buys, in one run:
 *
 *   classification  ns/packet of the interpreter, the x86 code and a
 *                   hand-written C classifier for N TCP-flow filters
 *                   (ip.dst == A and tcp.dport == P), N = 1 .. 10,000,
 *                   each on one trace held in memory
 *   updates         insert and delete latency (median, p99) with N
 *                   filters installed, x86 attached: dpf_insert or
 *                   dpf_delete including the code update and its
 *                   publication; and the same without a back end
 *   code size       generated code bytes per filter, and jump-table
 *                   bytes per filter (the template dispatch keeps a
 *                   flow's port and filter as data)
 *
 * Method: every engine's answer is compared with the interpreter's for
 * every packet before anything is timed (exit 1 on a disagreement); one
 * warm-up pass, then PASSES timed passes; median and min-max reported.
 *
 * The hand-written classifier is the limit DPF's claim is measured
 * against: the protocol prefix checked once (IPv4, not a later fragment,
 * TCP), then one open-addressing hash lookup on (dst, dport), compiled
 * -O2 into this program.
 *
 * Usage: bench_jit [--quick] [--csv FILE]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/frame.h"
#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "jit/jit.h"

struct trace {
	uint8_t *data;
	uint32_t *off, *len;
	uint32_t n;
};

struct cfg {
	uint32_t packets, passes, updates;
	FILE *csv;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_jit: %s\n", what);
	exit(1);
}

static uint32_t flow_dst(uint32_t k)
{
	return 0x0a000001u + k; /* 10.0.0.1 + k */
}

static uint16_t flow_port(uint32_t k)
{
	return (uint16_t)(1024 + k % 60000);
}

/* ---- the hand-written classifier ---- */

struct hw_ent {
	uint64_t key; /* dst << 16 | dport; 0: empty (dst is never 0) */
	int32_t id;
};

struct hw {
	struct hw_ent *t;
	uint32_t mask;
};

static uint32_t hw_hash(uint64_t key, uint32_t mask)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static void hw_build(struct hw *h, uint32_t n, const int32_t *ids)
{
	uint32_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	h->t = calloc(cap, sizeof *h->t);
	h->mask = cap - 1;
	if (!h->t)
		die("out of memory");
	for (uint32_t k = 0; k < n; k++) {
		uint64_t key = (uint64_t)flow_dst(k) << 16 | flow_port(k);
		uint32_t i = hw_hash(key, h->mask);
		while (h->t[i].key)
			i = (i + 1) & h->mask;
		h->t[i].key = key;
		h->t[i].id = ids[k];
	}
}

static inline uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static __attribute__((noinline)) int hw_classify(const struct hw *h,
                                                 const uint8_t *p,
                                                 size_t len)
{
	if (len < 34 || be16(p + 12) != 0x0800 || (be16(p + 20) & 0x1fff) ||
	    p[23] != 6)
		return DPF_NOMATCH;
	size_t l4 = 14 + 4 * (size_t)(p[14] & 15);
	if (l4 + 4 > len)
		return DPF_NOMATCH;
	uint64_t key = (uint64_t)be32(p + 30) << 16 | be16(p + l4 + 2);
	for (uint32_t i = hw_hash(key, h->mask);; i = (i + 1) & h->mask) {
		if (h->t[i].key == key)
			return h->t[i].id;
		if (!h->t[i].key)
			return DPF_NOMATCH;
	}
}

/* ---- workload ---- */

/* N flow filters as one DPF program. */
static struct dpf_prog *flow_prog(uint32_t n, uint32_t first)
{
	size_t cap = (size_t)(n ? n : 1) * 96 + 64;
	char *src = malloc(cap), *p = src;
	if (!src)
		die("out of memory");
	for (uint32_t k = first; k < first + n; k++) {
		uint32_t d = flow_dst(k);
		p += sprintf(p,
		             "filter f%u { ip.dst == %u.%u.%u.%u and tcp.dport == %u }\n",
		             k, d >> 24, d >> 16 & 255, d >> 8 & 255, d & 255,
		             flow_port(k));
	}
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	if (dpf_lang_parse("flows.dpf", src, (size_t)(p - src), &prog, &d) != 0) {
		fprintf(stderr, "bench_jit: %s\n", d.msg);
		exit(1);
	}
	free(src);
	return prog;
}

/* 90% packets of the N flows (uniformly), 10% that match none: other
 * hosts, UDP, ARP. */
static void make_trace(struct trace *t, uint32_t nflows, uint32_t npk,
                       uint64_t seed)
{
	struct cli_rng r = {seed};
	t->n = npk;
	t->data = malloc((size_t)npk * 128);
	t->off = malloc(npk * sizeof *t->off);
	t->len = malloc(npk * sizeof *t->len);
	if (!t->data || !t->off || !t->len)
		die("out of memory");
	uint8_t buf[CLI_FRAME_MAX];
	for (uint32_t i = 0; i < npk; i++) {
		struct cli_frame_spec s;
		memset(&s, 0, sizeof s);
		uint32_t kind = cli_rng_below(&r, 100);
		uint32_t k = cli_rng_below(&r, nflows);
		uint32_t dst = flow_dst(k);
		s.proto = CLI_P_TCP;
		s.dport = flow_port(k);
		if (kind >= 90 && kind < 95) {
			dst = 0xc0000200u + cli_rng_below(&r, 256); /* 192.0.2.x */
		} else if (kind >= 95 && kind < 98) {
			s.proto = CLI_P_UDP;
		}
		s.src[0] = 10;
		s.src[1] = 9;
		s.src[3] = (uint8_t)i;
		for (int b = 0; b < 4; b++)
			s.dst[b] = (uint8_t)(dst >> (24 - 8 * b));
		s.sport = (uint16_t)(30000 + cli_rng_below(&r, 30000));
		s.paylen = cli_rng_below(&r, 40);
		size_t len;
		if (kind >= 98) {
			uint8_t sha[6] = {2, 0, 0, 0, 0, 1}, tha[6] = {0};
			uint8_t spa[4] = {10, 9, 0, 1}, tpa[4] = {10, 0, 0, 1};
			len = cli_frame_arp(buf, 1, sha, spa, tha, tpa);
		} else {
			len = cli_frame_build(buf, &s, &r, NULL);
		}
		if (len > 128)
			len = 128; /* every field classified lies in the first 128 */
		memcpy(t->data + (size_t)i * 128, buf, len);
		t->off[i] = i * 128;
		t->len[i] = (uint32_t)len;
	}
}

static void trace_free(struct trace *t)
{
	free(t->data);
	free(t->off);
	free(t->len);
}

/* ---- timing ---- */

enum { E_INTERP, E_X86, E_HAND, NENG };
static const char *const eng_name[NENG] = {"interpreter", "x86", "hand-written C"};

struct timing {
	double med, min, max; /* ns/packet */
};

static void run_pass(int which, const struct dpf_engine *e, dpf_exec_fn fn,
                     const struct hw *h, const struct trace *t, int32_t *res)
{
	const uint8_t *d = t->data;
	const uint32_t *off = t->off, *len = t->len;
	uint32_t n = t->n;
	if (which == E_INTERP)
		for (uint32_t i = 0; i < n; i++)
			res[i] = dpf_classify_interp(e, d + off[i], len[i]);
	else if (which == E_X86)
		for (uint32_t i = 0; i < n; i++)
			res[i] = fn(d + off[i], len[i]);
	else
		for (uint32_t i = 0; i < n; i++)
			res[i] = hw_classify(h, d + off[i], len[i]);
}

static struct timing time_engine(int which, const struct dpf_engine *e,
                                 dpf_exec_fn fn, const struct hw *h,
                                 const struct trace *t, int32_t *res,
                                 uint32_t passes)
{
	uint64_t *ns = malloc(passes * sizeof *ns);
	if (!ns)
		die("out of memory");
	run_pass(which, e, fn, h, t, res); /* warm-up */
	for (uint32_t p = 0; p < passes; p++) {
		uint64_t t0 = now_ns();
		run_pass(which, e, fn, h, t, res);
		ns[p] = now_ns() - t0;
	}
	qsort(ns, passes, sizeof *ns, cmp_u64);
	struct timing tm = {
		(double)ns[passes / 2] / t->n,
		(double)ns[0] / t->n,
		(double)ns[passes - 1] / t->n,
	};
	free(ns);
	return tm;
}

static void install(struct dpf_engine *e, const struct dpf_prog *prog,
                    int32_t *ids)
{
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		struct dpf_diag d;
		int id;
		if (dpf_insert(e, &prog->filters[i], &id, &d) != 0) {
			fprintf(stderr, "bench_jit: %s\n", d.msg);
			exit(1);
		}
		if (ids)
			ids[i] = id;
	}
}

static void classification(const struct cfg *c, uint32_t n)
{
	struct dpf_prog *prog = flow_prog(n, 0);
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	int32_t *ids = malloc(n * sizeof *ids);
	if (!e || !ids)
		die("out of memory");
	install(e, prog, ids);
	struct dpf_diag d;
	if (jit_attach(e, jit_mem_posix(), 0, &d) != 0) {
		fprintf(stderr, "bench_jit: %s\n", d.msg);
		exit(1);
	}
	struct jit_stats st;
	jit_status(e, &st, NULL);
	dpf_exec_fn fn = dpf_exec(e);
	struct hw h;
	hw_build(&h, n, ids);
	struct trace t;
	make_trace(&t, n, c->packets, 0x5EED + n);

	int32_t *res[NENG];
	for (int k = 0; k < NENG; k++)
		if (!(res[k] = malloc(t.n * sizeof(int32_t))))
			die("out of memory");
	for (int k = 0; k < NENG; k++)
		run_pass(k, e, fn, &h, &t, res[k]);
	uint32_t matched = 0;
	for (uint32_t i = 0; i < t.n; i++) {
		for (int k = 1; k < NENG; k++)
			if (res[k][i] != res[E_INTERP][i]) {
				fprintf(stderr,
				        "bench_jit: N=%u packet %u: %s says %d, the "
				        "interpreter %d\n",
				        n, i, eng_name[k], res[k][i], res[E_INTERP][i]);
				exit(1);
			}
		matched += res[E_INTERP][i] >= 0;
	}
	struct timing tm[NENG];
	for (int k = 0; k < NENG; k++)
		tm[k] = time_engine(k, e, fn, &h, &t, res[k], c->passes);
	printf("| %6u | %5.1f%% | %6.1f (%.1f-%.1f) | %6.1f (%.1f-%.1f) | "
	       "%6.1f (%.1f-%.1f) | %5.2f | %7.1f | %6.1f |\n",
	       n, 100.0 * matched / t.n, tm[E_INTERP].med, tm[E_INTERP].min,
	       tm[E_INTERP].max, tm[E_X86].med, tm[E_X86].min, tm[E_X86].max,
	       tm[E_HAND].med, tm[E_HAND].min, tm[E_HAND].max,
	       tm[E_X86].med / tm[E_HAND].med, (double)st.code_bytes / n,
	       (double)st.data_bytes / n);
	if (c->csv)
		for (int k = 0; k < NENG; k++)
			fprintf(c->csv, "classify,%s,%u,%.2f,%.2f,%.2f\n", eng_name[k], n,
			        tm[k].med, tm[k].min, tm[k].max);
	if (c->csv)
		fprintf(c->csv, "code_bytes_per_filter,x86,%u,%.1f,,\n"
		                "data_bytes_per_filter,x86,%u,%.1f,,\n",
		        n, (double)st.code_bytes / n, n, (double)st.data_bytes / n);
	for (int k = 0; k < NENG; k++)
		free(res[k]);
	trace_free(&t);
	free(h.t);
	free(ids);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
}

struct lat {
	double med, p99; /* microseconds */
};

static struct lat summarise(uint64_t *ns, uint32_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	struct lat l = {ns[n / 2] / 1000.0, ns[(uint32_t)(n * 0.99)] / 1000.0};
	return l;
}

/* With n flows installed: insert one more flow, time it; delete it, time
 * that; c->updates times, each with a different flow. */
static void updates(const struct cfg *c, uint32_t n, int x86)
{
	struct dpf_prog *prog = flow_prog(n, 0);
	struct dpf_prog *extra = flow_prog(c->updates, 100000);
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	uint64_t *ins = malloc(c->updates * sizeof *ins);
	uint64_t *del = malloc(c->updates * sizeof *del);
	if (!e || !ins || !del)
		die("out of memory");
	install(e, prog, NULL);
	struct dpf_diag d;
	if (x86 && jit_attach(e, jit_mem_posix(), 0, &d) != 0) {
		fprintf(stderr, "bench_jit: %s\n", d.msg);
		exit(1);
	}
	for (uint32_t i = 0; i < c->updates; i++) {
		int id;
		uint64_t t0 = now_ns();
		int rc = dpf_insert(e, &extra->filters[i], &id, &d);
		uint64_t t1 = now_ns();
		if (rc != 0) {
			fprintf(stderr, "bench_jit: %s\n", d.msg);
			exit(1);
		}
		rc = dpf_delete(e, id);
		uint64_t t2 = now_ns();
		if (rc != 0)
			die("delete failed");
		ins[i] = t1 - t0;
		del[i] = t2 - t1;
	}
	if (x86 && !jit_status(e, NULL, &d)) {
		fprintf(stderr, "bench_jit: x86 fell back: %s\n", d.msg);
		exit(1);
	}
	struct lat li = summarise(ins, c->updates), ld = summarise(del, c->updates);
	printf("| %6u | %-11s | %6.2f | %6.2f | %6.2f | %6.2f |\n", n,
	       x86 ? "x86" : "interpreter", li.med, li.p99, ld.med, ld.p99);
	if (c->csv) {
		fprintf(c->csv, "insert_us,%s,%u,%.3f,%.3f,\n",
		        x86 ? "x86" : "interpreter", n, li.med, li.p99);
		fprintf(c->csv, "delete_us,%s,%u,%.3f,%.3f,\n",
		        x86 ? "x86" : "interpreter", n, ld.med, ld.p99);
	}
	free(ins);
	free(del);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	dpf_prog_free(dpf_host_libc(), extra);
}

static void machine(void)
{
	char line[256], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');
			if (p) {
				snprintf(model, sizeof model, "%s", p + 2);
				model[strcspn(model, "\n")] = 0;
			}
			break;
		}
	if (f)
		fclose(f);
	printf("machine: %s; compiler: %s\n\n", model, __VERSION__);
}

int main(int argc, char **argv)
{
	struct cfg c = {200000, 21, 2000, NULL};
	uint32_t ns[] = {1, 10, 100, 1000, 10000};
	uint32_t nn = 5;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			c.packets = 20000;
			c.passes = 5;
			c.updates = 200;
		} else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
			c.csv = fopen(argv[++i], "w");
			if (!c.csv) {
				perror(argv[i]);
				return 1;
			}
			fprintf(c.csv, "measure,engine,n,median,min_or_p99,max\n");
		} else {
			fprintf(stderr, "usage: bench_jit [--quick] [--csv FILE]\n");
			return 2;
		}
	}
	machine();
	printf("Classification, ns/packet: median (min-max) of %u passes over "
	       "%u packets\n\n",
	       c.passes, c.packets);
	printf("| flows | matched | interpreter | x86 | hand-written C | "
	       "x86/hand | code B/filter | data B/filter |\n"
	       "|---:|---:|---|---|---|---:|---:|---:|\n");
	for (uint32_t i = 0; i < nn; i++)
		classification(&c, ns[i]);
	printf("\nUpdates, microseconds: %u inserts of a new flow, each deleted "
	       "again\n\n",
	       c.updates);
	printf("| installed | back end | insert median | insert p99 | "
	       "delete median | delete p99 |\n"
	       "|---:|---|---:|---:|---:|---:|\n");
	uint32_t us[] = {10, 1000, 10000};
	for (uint32_t i = 0; i < 3; i++) {
		updates(&c, us[i], 1);
		updates(&c, us[i], 0);
	}
	if (c.csv)
		fclose(c.csv);
	return 0;
}
