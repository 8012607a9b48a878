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
 *                   bytes per filter (the fused dispatch keeps a
 *                   flow's key and filter as data)
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

#include "bench/common.h"
#include "dpf/dpf.h"
#include "jit/jit.h"

struct cfg {
	uint32_t packets, passes, updates;
	FILE *csv;
};

/* ---- timing ---- */

/* in the order of enum bench_engine */
enum { E_INTERP = BENCH_INTERP, E_X86 = BENCH_X86, E_HAND = BENCH_HAND, NENG };
static const char *const eng_name[NENG] = {"interpreter", "x86", "hand-written C"};

static struct dpf_prog *flow_prog(uint32_t n, uint32_t first)
{
	size_t len;
	char *src = flow_src(n, first, &len);
	struct dpf_prog *p = parse_or_die("flows.dpf", src, len);
	free(src);
	return p;
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
	struct hw_flows h;
	hw_flows_build(&h, n, ids);
	struct trace t;
	flow_trace(&t, n, c->packets, 0x5EED + n);

	int32_t *res[NENG];
	for (int k = 0; k < NENG; k++)
		if (!(res[k] = malloc(t.n * sizeof(int32_t))))
			die("out of memory");
	for (int k = 0; k < NENG; k++)
		bench_pass((enum bench_engine)k, e, fn, hw_flows_classify, &h, &t,
		           res[k]);
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
	struct stat3 tm[NENG];
	for (int k = 0; k < NENG; k++)
		tm[k] = bench_time((enum bench_engine)k, e, fn, hw_flows_classify, &h,
		                   &t, res[k], c->passes);
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
	hw_flows_free(&h);
	free(ids);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
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
	struct lat li = lat_of(ins, c->updates), ld = lat_of(del, c->updates);
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
	char m[512];
	machine_line(m, sizeof m);
	printf("machine: %s\n\n", m);
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
