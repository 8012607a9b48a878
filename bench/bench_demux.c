/*
 * bench_demux.c - where DPF stands among packet demultiplexers, measured
 * in one process and one run.
 *
 * For each workload (workloads.h) and number of filters N, the same trace
 * held in memory is classified by:
 *   interpreter     dpf_classify_interp
 *   x86             the code jit_attach generates (dpf_exec)
 *   libpcap         every filter compiled by pcap_compile (optimised) and
 *                   run by bpf_filter, all N per packet, as N sockets each
 *                   with its own BPF program are; DPF's rule then picks
 *                   the one answer
 *   eBPF each       the same with Linux eBPF: one tc program per filter,
 *                   generated from the filter IR (ebpf.h), each run in
 *                   turn on the packet with BPF_PROG_TEST_RUN
 *   eBPF one        one tc program holding every filter, paths in DPF's
 *                   order, first match returned (cut into segments
 *                   chained by tail calls past the kernel's size limit)
 *   hand-written C  the limit: the set's protocol prefix checked once,
 *                   then one table lookup (workloads.c), compiled -O2
 * eBPF time is the kernel's reported duration per run (the average over
 * `repeat` runs), minus the duration of an empty program on the same
 * packet; wall time is never used for it.
 *
 * Method: before anything is timed, every engine's and peer's answer is
 * compared packet by packet with the interpreter's, and the run aborts on
 * the first disagreement.  Then a warm-up pass and repeated passes;
 * median and min-max are reported.  The peers whose cost grows with N per
 * packet are timed on a prefix of the trace sized to keep a pass short
 * (the `peer packets` column): libpcap on at most PCAP_BUDGET filter runs
 * per pass, eBPF on at most EBPF_BUDGET test runs.
 *
 * Also measured: adding one filter with N installed (x86: dpf_insert with
 * the new code published; libpcap: pcap_compile of one expression; eBPF
 * each: generating and loading one program; eBPF one: generating and
 * loading the whole program again with N+1 filters), and compiling the
 * whole set (x86: every insert and jit_attach; libpcap: N pcap_compile;
 * eBPF: N loads, or one).
 *
 * Output, in the directory given by --out: demux.csv, demux.md (the
 * markdown printed on stdout) and the gnuplot data files
 * classify-<workload>.dat and insert-<workload>.dat that bench/plot.gp
 * draws.
 *
 * The shape table (workloads.h, at the end; --shapes alone): flow sets
 * with random and repeated destinations and 5-tuples, uniform and Zipf
 * traffic, seeds from --seed; interpreter, x86 and the hand-written
 * fused-key lookup, x86 and hand-written timed in turn pass by pass.
 *
 * Usage: bench_demux [--quick] [--shapes] [--seed S]... [--out DIR]
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/common.h"
#include "bench/ebpf.h"
#include "bench/workloads.h"
#include "dpf/dpf.h"
#include "jit/jit.h"

enum { E_INTERP, E_X86, E_PCAP, E_EACH, E_ONE, E_HAND, NENG };
static const char *const eng_name[NENG] = {
	"interpreter", "x86", "libpcap", "eBPF each", "eBPF one",
	"hand-written C"};
static const char *const eng_id[NENG] = {"interp", "x86",      "libpcap",
                                         "ebpf_each", "ebpf_one", "hand"};

struct cfg {
	int quick;
	uint32_t packets, passes, peer_passes, repeat, updates;
	uint64_t pcap_budget, ebpf_budget;
	const char *out;
	FILE *csv, *md;
	int ebpf_ok;
	char ebpf_why[256];
	int empty_fd;
	uint64_t seeds[8];
	uint32_t nseeds;
	int shapes_only;
};

struct cell {
	int ran;
	struct stat3 t;
	uint32_t packets;
	char why[256];
};

/* ---- output ---- */

static void md(struct cfg *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void md(struct cfg *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	vfprintf(c->md, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static FILE *open_out(const struct cfg *c, const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", c->out, name);
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

static void fmt_cell(char *buf, size_t cap, const struct cell *x)
{
	if (!x->ran)
		snprintf(buf, cap, "not run");
	else if (x->t.med >= 10000)
		snprintf(buf, cap, "%.0f (%.0f-%.0f)", x->t.med, x->t.min, x->t.max);
	else
		snprintf(buf, cap, "%.1f (%.1f-%.1f)", x->t.med, x->t.min, x->t.max);
}

/* ---- the peers ---- */

struct peers {
	struct bpf_program *bp; /* libpcap, per filter */
	int *fd;                /* eBPF each, per filter; -1 none */
	struct ebpf_chain one;  /* eBPF one; entry -1: none */
	uint32_t *prio;
	char each_why[256], one_why[256];
};

/* DPF's rule over a set of matching filters (by index); every workload
 * keeps filters that can match one packet at distinct priorities, so the
 * highest priority decides.  Returns the index, or -1. */
static inline int winner(const struct peers *p, int cur, uint32_t i)
{
	if (cur < 0 || p->prio[i] > p->prio[cur])
		return (int)i;
	if (p->prio[i] == p->prio[cur])
		die("filters %d and %u match one packet at one priority", cur, i);
	return cur;
}

static int pcap_answer(const struct peers *p, uint32_t n, const uint8_t *pkt,
                       uint32_t len)
{
	int best = -1;
	for (uint32_t i = 0; i < n; i++)
		if (bpf_filter(p->bp[i].bf_insns, pkt, len, len))
			best = winner(p, best, i);
	return best;
}

static void run_or_die(int fd, const uint8_t *pkt, uint32_t len,
                       uint32_t repeat, uint32_t *ret, uint32_t *ns)
{
	int rc = ebpf_run(fd, pkt, len, repeat, ret, ns);
	if (rc)
		die("BPF_PROG_TEST_RUN: %s", strerror(-rc));
}

static int each_answer(const struct peers *p, uint32_t n, const uint8_t *pkt,
                       uint32_t len)
{
	int best = -1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t ret, ns;
		run_or_die(p->fd[i], pkt, len, 1, &ret, &ns);
		if (ret)
			best = winner(p, best, i);
	}
	return best;
}

/* ---- timing our engines ---- */

static enum bench_engine bench_of(int which)
{
	return which == E_INTERP ? BENCH_INTERP
	       : which == E_X86  ? BENCH_X86
	                         : BENCH_HAND;
}

static struct stat3 time_pcap(const struct cfg *c, const struct peers *p,
                              uint32_t n, const struct trace *t, uint32_t np,
                              volatile int *sink)
{
	double *v = xmalloc((c->peer_passes + 1) * sizeof *v);
	for (uint32_t k = 0; k <= c->peer_passes; k++) { /* pass 0: warm-up */
		int acc = 0;
		uint64_t t0 = now_ns();
		for (uint32_t i = 0; i < np; i++)
			acc += pcap_answer(p, n, t->data + t->off[i], t->len[i]);
		v[k] = (double)(now_ns() - t0) / np;
		*sink = acc;
	}
	struct stat3 s = stat3_of(v + 1, c->peer_passes);
	free(v);
	return s;
}

/* The kernel's ns per run of fd on a packet, minus the empty program's. */
static double ebpf_ns(const struct cfg *c, int fd, const uint8_t *pkt,
                      uint32_t len, double empty)
{
	uint32_t ret, ns;
	run_or_die(fd, pkt, len, c->repeat, &ret, &ns);
	return (double)ns - empty;
}

static struct stat3 time_ebpf(const struct cfg *c, const struct peers *p,
                              int each, uint32_t n, const struct trace *t,
                              uint32_t np)
{
	double *v = xmalloc((c->peer_passes + 1) * sizeof *v);
	for (uint32_t k = 0; k <= c->peer_passes; k++) { /* pass 0: warm-up */
		double sum = 0;
		for (uint32_t i = 0; i < np; i++) {
			const uint8_t *pkt = t->data + t->off[i];
			/* the empty program just before, on the same packet: one
			 * warm-up run, then the median of five */
			uint32_t ret, ns;
			double e[5];
			run_or_die(c->empty_fd, pkt, t->len[i], c->repeat, &ret, &ns);
			for (int k5 = 0; k5 < 5; k5++) {
				run_or_die(c->empty_fd, pkt, t->len[i], c->repeat, &ret, &ns);
				e[k5] = ns;
			}
			double e0 = stat3_of(e, 5).med;
			if (each)
				for (uint32_t f = 0; f < n; f++)
					sum += ebpf_ns(c, p->fd[f], pkt, t->len[i], e0);
			else
				sum += ebpf_ns(c, p->one.entry, pkt, t->len[i], e0);
		}
		v[k] = sum / np;
	}
	struct stat3 s = stat3_of(v + 1, c->peer_passes);
	free(v);
	return s;
}

/* ---- one workload at one N ---- */

struct compile_times { /* ms; < 0: not run */
	double x86, interp, pcap, each, one;
};

struct insert_times { /* us, medians; < 0: not run */
	double x86, x86_p99, pcap, each, one;
};

static pcap_t *dead;

static double pcap_compile_one(struct bpf_program *bp, const char *expr)
{
	uint64_t t0 = now_ns();
	if (pcap_compile(dead, bp, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
		die("pcap_compile \"%s\": %s", expr, pcap_geterr(dead));
	return (double)(now_ns() - t0);
}

static double median_of(double *v, uint32_t n)
{
	return stat3_of(v, n).med;
}

static void setup_peers(struct cfg *c, const struct workload *w,
                        const struct dpf_prog *prog, struct peers *p,
                        struct compile_times *ct)
{
	uint32_t n = w->n;
	p->bp = xcalloc(n, sizeof *p->bp);
	p->fd = xmalloc(n * sizeof *p->fd);
	p->prio = xmalloc(n * sizeof *p->prio);
	memset(&p->one, 0, sizeof p->one);
	p->one.entry = p->one.map = -1;
	p->each_why[0] = p->one_why[0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		p->fd[i] = -1;
		p->prio[i] = prog->filters[i].priority;
	}
	double ns = 0;
	for (uint32_t i = 0; i < n; i++)
		ns += pcap_compile_one(&p->bp[i], w->tcpdump[i]);
	ct->pcap = ns / 1e6;
	ct->each = ct->one = -1;
	if (!c->ebpf_ok) {
		snprintf(p->each_why, sizeof p->each_why, "%s", c->ebpf_why);
		snprintf(p->one_why, sizeof p->one_why, "%s", c->ebpf_why);
		return;
	}
	struct ebpf_code code = {0};
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n && !p->each_why[0]; i++) {
		ebpf_gen_filter(&code, &prog->filters[i]);
		char why[160];
		p->fd[i] = ebpf_load(&code, why, sizeof why);
		if (p->fd[i] < 0)
			snprintf(p->each_why, sizeof p->each_why, "filter %u: %s", i, why);
	}
	if (!p->each_why[0])
		ct->each = (double)(now_ns() - t0) / 1e6;
	t0 = now_ns();
	char why[240];
	if (ebpf_load_all(&p->one, prog, why, sizeof why) < 0)
		snprintf(p->one_why, sizeof p->one_why, "%s", why);
	else
		ct->one = (double)(now_ns() - t0) / 1e6;
	ebpf_code_free(&code);
}

static void free_peers(struct peers *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		pcap_freecode(&p->bp[i]);
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	}
	ebpf_chain_close(&p->one);
	free(p->bp);
	free(p->fd);
	free(p->prio);
}

static void disagree(const struct workload *w, const char *who, uint32_t i,
                     int got, int want)
{
	die("%s, N=%u, packet %u (%u bytes): %s says %d, the interpreter %d",
	    w->name, w->n, i, w->trace.len[i], who, got, want);
}

/* Map a peer's filter index to the engine id. */
static int to_id(const int32_t *ids, int idx)
{
	return idx < 0 ? DPF_NOMATCH : ids[idx];
}

static void insert_latency(struct cfg *c, const struct workload *w,
                           struct dpf_engine *e, const struct dpf_prog *prog,
                           const struct peers *p, struct insert_times *it)
{
	uint32_t k = c->updates;
	uint64_t *ins = xmalloc(k * sizeof *ins);
	double *v = xmalloc(k * sizeof *v);
	char src[256], expr[160];
	struct dpf_diag d;
	for (uint32_t i = 0; i < k; i++) {
		workload_extra(w, i, src, sizeof src, expr, sizeof expr);
		struct dpf_prog *x = parse_or_die("extra.dpf", src, strlen(src));
		int id;
		uint64_t t0 = now_ns();
		if (dpf_insert(e, &x->filters[0], &id, &d) != 0)
			die("%s", d.msg);
		ins[i] = now_ns() - t0;
		if (dpf_delete(e, id) != 0)
			die("delete failed");
		dpf_prog_free(dpf_host_libc(), x);
	}
	if (!jit_status(e, NULL, &d))
		die("x86 fell back to the interpreter: %s", d.msg);
	struct lat l = lat_of(ins, k);
	it->x86 = l.med;
	it->x86_p99 = l.p99;
	for (uint32_t i = 0; i < k; i++) {
		workload_extra(w, i, src, sizeof src, expr, sizeof expr);
		struct bpf_program bp;
		v[i] = pcap_compile_one(&bp, expr) / 1000.0;
		pcap_freecode(&bp);
	}
	it->pcap = median_of(v, k);
	it->each = it->one = -1;
	if (!c->ebpf_ok)
		goto out;
	struct ebpf_code code = {0};
	uint32_t ke = k < 20 ? k : 20;
	for (uint32_t i = 0; i < ke && !p->each_why[0]; i++) {
		workload_extra(w, i, src, sizeof src, expr, sizeof expr);
		struct dpf_prog *x = parse_or_die("extra.dpf", src, strlen(src));
		char why[160];
		uint64_t t0 = now_ns();
		ebpf_gen_filter(&code, &x->filters[0]);
		int fd = ebpf_load(&code, why, sizeof why);
		v[i] = (double)(now_ns() - t0) / 1000.0;
		if (fd < 0)
			die("eBPF: %s", why);
		close(fd);
		dpf_prog_free(dpf_host_libc(), x);
		if (i + 1 == ke)
			it->each = median_of(v, ke);
	}
	/* eBPF one: the whole program again, with one filter more */
	uint32_t ko = c->quick || w->n >= 1000 ? 1 : 3;
	if (!p->one_why[0]) {
		struct dpf_prog all;
		all.nfilters = prog->nfilters + 1;
		all.filters = xmalloc(all.nfilters * sizeof *all.filters);
		memcpy(all.filters, prog->filters,
		       prog->nfilters * sizeof *all.filters);
		for (uint32_t i = 0; i < ko; i++) {
			workload_extra(w, i, src, sizeof src, expr, sizeof expr);
			struct dpf_prog *x = parse_or_die("extra.dpf", src, strlen(src));
			all.filters[prog->nfilters] = x->filters[0];
			char why[240];
			struct ebpf_chain ch;
			uint64_t t0 = now_ns();
			int fd = ebpf_load_all(&ch, &all, why, sizeof why);
			v[i] = (double)(now_ns() - t0) / 1000.0;
			dpf_prog_free(dpf_host_libc(), x);
			if (fd < 0) {
				v[i] = -1;
				break;
			}
			ebpf_chain_close(&ch);
			if (i + 1 == ko)
				it->one = median_of(v, ko);
		}
		free(all.filters);
	}
	ebpf_code_free(&code);
out:
	free(ins);
	free(v);
}

struct result {
	struct cell cell[NENG];
	struct compile_times ct;
	struct insert_times it;
	double matched;
};

/* A new engine with prog installed (ids[i]: filter i's id) and the x86
 * back end attached; exits on failure. */
static struct dpf_engine *x86_engine(const struct dpf_prog *prog,
                                     int32_t *ids)
{
	struct dpf_diag d;
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	if (!e)
		die("out of memory");
	install(e, prog, ids);
	if (jit_attach(e, jit_mem_posix(), 0, &d) != 0)
		die("jit_attach: %s", d.msg);
	return e;
}

static void measure(struct cfg *c, int kind, uint32_t n, struct result *r)
{
	memset(r, 0, sizeof *r);
	struct workload w;
	workload_make(&w, kind, n, c->packets);
	n = w.n;
	struct dpf_prog *prog = parse_or_die(w.name, w.dpf, w.dpflen);
	int32_t *ids = xmalloc(n * sizeof *ids);

	/* whole-set compilation, ours */
	uint64_t t0 = now_ns();
	struct dpf_engine *ei = dpf_engine_new(dpf_host_libc());
	install(ei, prog, NULL);
	r->ct.interp = (double)(now_ns() - t0) / 1e6;
	dpf_engine_free(ei);
	t0 = now_ns();
	struct dpf_engine *e = x86_engine(prog, ids);
	r->ct.x86 = (double)(now_ns() - t0) / 1e6;
	dpf_exec_fn fn = dpf_exec(e);
	workload_hand(&w, ids);
	hand_fn hf = workload_hand_fn(&w);

	struct peers p;
	setup_peers(c, &w, prog, &p, &r->ct);

	/* answers first */
	const struct trace *t = &w.trace;
	int32_t *res[NENG];
	for (int k = 0; k < NENG; k++)
		res[k] = xmalloc(t->n * sizeof(int32_t));
	bench_pass(BENCH_INTERP, e, fn, hf, w.hw, t, res[E_INTERP]);
	bench_pass(BENCH_X86, e, fn, hf, w.hw, t, res[E_X86]);
	bench_pass(BENCH_HAND, e, fn, hf, w.hw, t, res[E_HAND]);
	uint32_t matched = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (res[E_X86][i] != res[E_INTERP][i])
			disagree(&w, "x86", i, res[E_X86][i], res[E_INTERP][i]);
		if (res[E_HAND][i] != res[E_INTERP][i])
			disagree(&w, "hand-written C", i, res[E_HAND][i],
			         res[E_INTERP][i]);
		matched += res[E_INTERP][i] >= 0;
	}
	r->matched = 100.0 * matched / t->n;
	uint64_t pp = c->pcap_budget / n;
	uint32_t npcap = pp < 100 ? 100 : pp > t->n ? t->n : (uint32_t)pp;
	for (uint32_t i = 0; i < npcap; i++) {
		int a = to_id(ids, pcap_answer(&p, n, t->data + t->off[i], t->len[i]));
		if (a != res[E_INTERP][i])
			disagree(&w, "libpcap", i, a, res[E_INTERP][i]);
	}
	uint64_t pe = c->ebpf_budget / (n + 2);
	uint32_t nebpf = pe < 8 ? 8 : pe > 1024 ? 1024 : (uint32_t)pe;
	if (nebpf > t->n)
		nebpf = t->n;
	if (!p.each_why[0])
		for (uint32_t i = 0; i < nebpf; i++) {
			int a = to_id(ids, each_answer(&p, n, t->data + t->off[i],
			                               t->len[i]));
			if (a != res[E_INTERP][i])
				disagree(&w, "eBPF each", i, a, res[E_INTERP][i]);
		}
	if (!p.one_why[0])
		for (uint32_t i = 0; i < nebpf; i++) {
			uint32_t ret, ns;
			run_or_die(p.one.entry, t->data + t->off[i], t->len[i], 1, &ret, &ns);
			int a = to_id(ids, (int)ret - 1);
			if (a != res[E_INTERP][i])
				disagree(&w, "eBPF one", i, a, res[E_INTERP][i]);
		}

	/* then time */
	static const int ours[] = {E_INTERP, E_X86, E_HAND};
	for (int k = 0; k < 3; k++) {
		struct cell *x = &r->cell[ours[k]];
		x->t = bench_time(bench_of(ours[k]), e, fn, hf, w.hw, t,
		                  res[ours[k]], c->passes);
		x->ran = 1;
		x->packets = t->n;
	}
	volatile int sink;
	r->cell[E_PCAP].t = time_pcap(c, &p, n, t, npcap, &sink);
	r->cell[E_PCAP].ran = 1;
	r->cell[E_PCAP].packets = npcap;
	struct cell *each = &r->cell[E_EACH], *one = &r->cell[E_ONE];
	if (p.each_why[0]) {
		snprintf(each->why, sizeof each->why, "%s", p.each_why);
	} else {
		each->t = time_ebpf(c, &p, 1, n, t, nebpf);
		each->ran = 1;
		each->packets = nebpf;
	}
	if (p.one_why[0]) {
		snprintf(one->why, sizeof one->why, "%s", p.one_why);
	} else {
		one->t = time_ebpf(c, &p, 0, n, t, nebpf);
		one->ran = 1;
		one->packets = nebpf;
	}

	insert_latency(c, &w, e, prog, &p, &r->it);

	for (int k = 0; k < NENG; k++)
		free(res[k]);
	free_peers(&p, n);
	free(ids);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	r->cell[0].why[0] = 0;
	workload_free(&w);
}

/* ---- reporting ---- */

static double ratio(const struct cell *a, const struct cell *b)
{
	return a->ran && b->ran && b->t.med > 0 ? a->t.med / b->t.med : -1;
}

static void put_ratio(struct cfg *c, double x)
{
	if (x < 0)
		md(c, " - |");
	else if (x >= 100)
		md(c, " %.0f |", x);
	else
		md(c, " %.2f |", x);
}

static void report_row(struct cfg *c, const char *wname, uint32_t n,
                       const struct result *r, FILE *dat)
{
	char buf[64];
	md(c, "| %u | %.1f%% |", n, r->matched);
	for (int k = 0; k < NENG; k++) {
		fmt_cell(buf, sizeof buf, &r->cell[k]);
		md(c, " %s |", buf);
	}
	put_ratio(c, ratio(&r->cell[E_X86], &r->cell[E_HAND]));
	put_ratio(c, ratio(&r->cell[E_PCAP], &r->cell[E_X86]));
	put_ratio(c, ratio(&r->cell[E_EACH], &r->cell[E_X86]));
	md(c, " %u / %u |\n", r->cell[E_PCAP].packets,
	   r->cell[E_EACH].ran ? r->cell[E_EACH].packets : r->cell[E_ONE].packets);
	fprintf(dat, "%u", n);
	for (int k = 0; k < NENG; k++) {
		const struct cell *x = &r->cell[k];
		if (x->ran) {
			fprintf(c->csv, "%s,classify_ns,%s,%u,%.2f,%.2f,%.2f,%u\n", wname,
			        eng_id[k], n, x->t.med, x->t.min, x->t.max, x->packets);
			fprintf(dat, " %.3f", x->t.med);
		} else {
			fprintf(dat, " NaN");
		}
	}
	fprintf(dat, "\n");
	fflush(c->csv);
}

static void csv_num(struct cfg *c, const char *w, const char *what,
                    const char *eng, uint32_t n, double v)
{
	if (v >= 0)
		fprintf(c->csv, "%s,%s,%s,%u,%.3f,,,\n", w, what, eng, n, v);
}

static void md_num(struct cfg *c, double v, const char *fmt)
{
	if (v < 0)
		md(c, " not run |");
	else {
		md(c, " ");
		md(c, fmt, v);
		md(c, " |");
	}
}

static void classify_header(struct cfg *c, const char *wname)
{
	md(c, "\n### %s: ns/packet, median (min-max)\n\n", wname);
	md(c, "| N | matched |");
	for (int k = 0; k < NENG; k++)
		md(c, " %s |", eng_name[k]);
	md(c, " x86/hand | libpcap/x86 | eBPF each/x86 | peer packets |\n");
	md(c, "|---:|---:|");
	for (int k = 0; k < NENG; k++)
		md(c, "---|");
	md(c, "---:|---:|---:|---:|\n");
}

static void run_workload(struct cfg *c, int kind, const uint32_t *ns,
                         uint32_t nn, struct result *rs)
{
	static const char *const names[NWORK] = {"tcp-flows", "udp-ports",
	                                         "mixed"};
	const char *wname = names[kind];
	char file[64];
	snprintf(file, sizeof file, "classify-%s.dat", wname);
	FILE *dat = open_out(c, file);
	fprintf(dat, "# N");
	for (int k = 0; k < NENG; k++)
		fprintf(dat, " %s", eng_id[k]);
	fprintf(dat, "\n");
	classify_header(c, wname);
	for (uint32_t i = 0; i < nn; i++) {
		measure(c, kind, ns[i], &rs[i]);
		report_row(c, wname, kind == W_MIXED ? 18 : ns[i], &rs[i], dat);
	}
	fclose(dat);
	for (uint32_t i = 0; i < nn; i++)
		for (int k = 0; k < NENG; k++)
			if (!rs[i].cell[k].ran && rs[i].cell[k].why[0]) {
				md(c, "\n%s at N=%u not run: %s\n", eng_name[k], ns[i],
				   rs[i].cell[k].why);
			}
	md(c, "\n");
}

static void report_updates(struct cfg *c, const char *wname,
                           const uint32_t *ns, uint32_t nn,
                           const struct result *rs)
{
	char file[64];
	snprintf(file, sizeof file, "insert-%s.dat", wname);
	FILE *dat = open_out(c, file);
	fprintf(dat, "# N x86 libpcap ebpf_each ebpf_one\n");
	md(c, "\n### %s: adding one filter with N installed, microseconds "
	      "(median)\n\n",
	   wname);
	md(c, "| N | x86 insert (p99) | libpcap compile | eBPF each: load one "
	      "| eBPF one: reload all |\n|---:|---:|---:|---:|---:|\n");
	for (uint32_t i = 0; i < nn; i++) {
		const struct insert_times *it = &rs[i].it;
		md(c, "| %u | %.2f (%.2f) |", ns[i], it->x86, it->x86_p99);
		md_num(c, it->pcap, "%.1f");
		md_num(c, it->each, "%.1f");
		md_num(c, it->one, "%.0f");
		md(c, "\n");
		csv_num(c, wname, "insert_us", "x86", ns[i], it->x86);
		csv_num(c, wname, "insert_p99_us", "x86", ns[i], it->x86_p99);
		csv_num(c, wname, "insert_us", "libpcap", ns[i], it->pcap);
		csv_num(c, wname, "insert_us", "ebpf_each", ns[i], it->each);
		csv_num(c, wname, "insert_us", "ebpf_one", ns[i], it->one);
		fprintf(dat, "%u %.3f %.3f", ns[i], it->x86, it->pcap);
		fprintf(dat, it->each >= 0 ? " %.3f" : " NaN", it->each);
		fprintf(dat, it->one >= 0 ? " %.3f\n" : " NaN\n", it->one);
	}
	fclose(dat);
	md(c, "\n### %s: compiling the whole set, milliseconds\n\n", wname);
	md(c, "| N | x86 (inserts + attach) | interpreter (inserts) | libpcap | "
	      "eBPF each | eBPF one |\n|---:|---:|---:|---:|---:|---:|\n");
	for (uint32_t i = 0; i < nn; i++) {
		const struct compile_times *ct = &rs[i].ct;
		md(c, "| %u |", ns[i]);
		md_num(c, ct->x86, "%.2f");
		md_num(c, ct->interp, "%.2f");
		md_num(c, ct->pcap, "%.2f");
		md_num(c, ct->each, "%.2f");
		md_num(c, ct->one, "%.2f");
		md(c, "\n");
		csv_num(c, wname, "compile_ms", "x86", ns[i], ct->x86);
		csv_num(c, wname, "compile_ms", "interp", ns[i], ct->interp);
		csv_num(c, wname, "compile_ms", "libpcap", ns[i], ct->pcap);
		csv_num(c, wname, "compile_ms", "ebpf_each", ns[i], ct->each);
		csv_num(c, wname, "compile_ms", "ebpf_one", ns[i], ct->one);
	}
}

/* ---- the shape table ---- */

struct shape_row {
	int ran;
	uint32_t hosts;
	struct stat3 t[3]; /* interpreter, x86, hand-written */
	double ratio, ratio_min; /* x86/hand: median of paired passes; fastest */
	double x86_bytes, hand_bytes; /* per filter */
	uint32_t units;
	double matched;
};

static void measure_shape(struct cfg *c, int shape, int traffic, uint32_t n,
                          uint64_t seed, struct shape_row *r)
{
	memset(r, 0, sizeof *r);
	struct shape_set w;
	shape_make(&w, shape, n, traffic, c->packets, seed);
	r->hosts = w.hosts;
	struct dpf_prog *prog = parse_or_die(w.name, w.dpf, w.dpflen);
	int32_t *ids = xmalloc(n * sizeof *ids);
	struct dpf_engine *e = x86_engine(prog, ids);
	struct jit_stats st;
	jit_status(e, &st, NULL);
	r->x86_bytes = (double)(st.code_bytes + st.data_bytes) / n;
	r->units = st.units;
	r->hand_bytes = (double)shape_hand(&w, ids) / n;
	dpf_exec_fn fn = dpf_exec(e);
	hand_fn hf = shape_hand_fn(&w);
	const struct trace *t = &w.trace;
	int32_t *res[3];
	static const enum bench_engine eng[3] = {BENCH_INTERP, BENCH_X86,
	                                         BENCH_HAND};
	for (int k = 0; k < 3; k++) {
		res[k] = xmalloc(t->n * sizeof(int32_t));
		bench_pass(eng[k], e, fn, hf, &w.hw, t, res[k]);
	}
	uint32_t matched = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		for (int k = 1; k < 3; k++)
			if (res[k][i] != res[0][i])
				die("%s (%s), N=%u, seed %llu, packet %u: %s says %d, the "
				    "interpreter %d",
				    w.name, traffic_name[traffic], n,
				    (unsigned long long)seed, i,
				    k == 1 ? "x86" : "hand-written C", res[k][i], res[0][i]);
		matched += res[0][i] >= 0;
	}
	r->matched = 100.0 * matched / t->n;
	/* x86 and hand-written in turn, pass by pass (which goes first
	 * alternating), so that load from elsewhere falls on both alike; the
	 * ratio is taken pair by pair */
	r->t[0] = bench_time(eng[0], e, fn, hf, &w.hw, t, res[0], c->passes);
	double *v[2], *q = xmalloc(c->passes * sizeof *q);
	for (int k = 0; k < 2; k++) {
		v[k] = xmalloc(c->passes * sizeof *v[k]);
		bench_pass(eng[k + 1], e, fn, hf, &w.hw, t, res[k + 1]); /* warm-up */
	}
	for (uint32_t i = 0; i < c->passes; i++) {
		for (int o = 0; o < 2; o++) { /* A B, then B A: no side always first */
			int k = (int)(i & 1) ^ o;
			uint64_t t0 = now_ns();
			bench_pass(eng[k + 1], e, fn, hf, &w.hw, t, res[k + 1]);
			v[k][i] = (double)(now_ns() - t0) / t->n;
		}
		q[i] = v[0][i] / v[1][i];
	}
	r->ratio = stat3_of(q, c->passes).med;
	for (int k = 0; k < 2; k++) {
		r->t[k + 1] = stat3_of(v[k], c->passes);
		free(v[k]);
	}
	r->ratio_min = r->t[1].min / r->t[2].min;
	free(q);
	r->ran = 1;
	for (int k = 0; k < 3; k++)
		free(res[k]);
	free(ids);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	shape_free(&w);
}

static void shape_table(struct cfg *c, const uint32_t *ns, uint32_t nn)
{
	md(c, "\n### shapes: ns/packet, median (min-max), x86 against the "
	      "hand-written limit\n\n");
	md(c, "Seeds:");
	for (uint32_t s = 0; s < c->nseeds; s++)
		md(c, " %llu", (unsigned long long)c->seeds[s]);
	md(c, " (`--seed`).  Memory: x86 code and tables, and the hand-written "
	      "table, bytes per filter.\n\n");
	md(c, "x86 and hand-written run in turn, pass by pass; x86/hand is the "
	      "median of the per-pair ratios, `fastest` the ratio of the fastest "
	      "passes.\n\n");
	md(c, "| shape | traffic | N | hosts | seed | matched | interpreter | "
	      "x86 | hand-written C | x86/hand | fastest | x86 units | "
	      "x86 B/filter | hand B/filter |\n"
	      "|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|\n");
	double worst = 0;
	for (int shape = 0; shape < NSHAPE; shape++)
		for (int tr = 0; tr < NTRAFFIC; tr++)
			for (uint32_t i = 0; i < nn; i++) {
				if (ns[i] > DPF_MAX_FILTERS) {
					md(c, "| %s | %s | %u | | | not run: the engine holds at "
					      "most %u filters | | | | | | | | |\n",
					   shape_name[shape], traffic_name[tr], ns[i],
					   DPF_MAX_FILTERS);
					continue;
				}
				for (uint32_t s = 0; s < c->nseeds; s++) {
					struct shape_row r;
					measure_shape(c, shape, tr, ns[i], c->seeds[s], &r);
					double x = r.ratio;
					worst = x > worst ? x : worst;
					char cell[3][64];
					for (int k = 0; k < 3; k++)
						snprintf(cell[k], sizeof cell[k], "%.1f (%.1f-%.1f)",
						         r.t[k].med, r.t[k].min, r.t[k].max);
					md(c, "| %s | %s | %u | %u | %llu | %.1f%% | %s | %s | %s "
					      "| %.2f | %.2f | %u | %.1f | %.1f |\n",
					   shape_name[shape], traffic_name[tr], ns[i], r.hosts,
					   (unsigned long long)c->seeds[s], r.matched, cell[0],
					   cell[1], cell[2], x, r.ratio_min, r.units, r.x86_bytes,
					   r.hand_bytes);
					char wn[64];
					snprintf(wn, sizeof wn, "shape-%s-%s", shape_name[shape],
					         traffic_name[tr]);
					static const char *const id3[3] = {"interp", "x86", "hand"};
					for (int k = 0; k < 3; k++)
						fprintf(c->csv, "%s,classify_ns,%s,%u,%.2f,%.2f,%.2f,%llu\n",
						        wn, id3[k], ns[i], r.t[k].med, r.t[k].min,
						        r.t[k].max, (unsigned long long)c->seeds[s]);
					csv_num(c, wn, "bytes_per_filter", "x86", ns[i], r.x86_bytes);
					csv_num(c, wn, "bytes_per_filter", "hand", ns[i],
					        r.hand_bytes);
					fflush(c->csv);
				}
			}
	md(c, "\nWorst x86/hand (median of pairs) over the table: %.2f\n",
	   worst);
}

/* Can this process load and run eBPF?  Says why not. */
static void probe_ebpf(struct cfg *c)
{
	struct ebpf_code code = {0};
	ebpf_gen_empty(&code);
	char why[160];
	c->empty_fd = ebpf_load(&code, why, sizeof why);
	ebpf_code_free(&code);
	if (c->empty_fd < 0) {
		snprintf(c->ebpf_why, sizeof c->ebpf_why,
		         "loading BPF is not permitted here (%s)", why);
		return;
	}
	uint8_t pkt[60] = {0};
	uint32_t ret, ns;
	int rc = ebpf_run(c->empty_fd, pkt, sizeof pkt, 1, &ret, &ns);
	if (rc) {
		snprintf(c->ebpf_why, sizeof c->ebpf_why,
		         "BPF_PROG_TEST_RUN fails here (%s)", strerror(-rc));
		return;
	}
	c->ebpf_ok = 1;
}

int main(int argc, char **argv)
{
	struct cfg c;
	memset(&c, 0, sizeof c);
	c.packets = 200000;
	c.passes = 11;
	c.peer_passes = 3;
	c.repeat = 256;
	c.updates = 200;
	c.pcap_budget = 20000000;
	c.ebpf_budget = 300000;
	c.out = "build/bench";
	c.empty_fd = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			c.quick = 1;
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			c.out = argv[++i];
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			char *end;
			unsigned long long v = strtoull(argv[++i], &end, 0);
			if (*end || end == argv[i] || c.nseeds == 8) {
				fprintf(stderr, "bench_demux: --seed wants a number (at most "
				                "8 seeds), not '%s'\n", argv[i]);
				return 2;
			}
			c.seeds[c.nseeds++] = v;
		} else if (!strcmp(argv[i], "--shapes")) {
			c.shapes_only = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: bench_demux [--quick] [--shapes] [--seed S]... "
			       "[--out DIR]\n"
			       "  Classification ns/packet, insert latency and "
			       "compile time of DPF's\n  interpreter and x86 back end "
			       "against libpcap, Linux eBPF and a\n  hand-written "
			       "classifier.  Writes DIR/demux.csv, DIR/demux.md and\n"
			       "  the gnuplot data bench/plot.gp draws (DIR "
			       "defaults to build/bench).\n  --quick: fewer filters, "
			       "packets and passes (about a minute).\n"
			       "  --shapes: the shape table alone (flow sets with "
			       "random and repeated\n  destinations, 5-tuples; "
			       "uniform and Zipf traffic).\n"
			       "  --seed S: a seed of the shape table's sets and "
			       "traces (repeat for\n  several; default 1).\n");
			return 0;
		} else {
			fprintf(stderr, "usage: bench_demux [--quick] [--shapes] "
			                "[--seed S]... [--out DIR]\n");
			return 2;
		}
	}
	if (c.quick) {
		c.packets = 20000;
		c.passes = 5;
		c.peer_passes = 3;
		c.repeat = 64;
		c.updates = 20;
		c.pcap_budget = 1000000;
		c.ebpf_budget = 20000;
	}
	mkdir(c.out, 0777);
	c.csv = open_out(&c, "demux.csv");
	c.md = open_out(&c, "demux.md");
	fprintf(c.csv, "workload,measure,engine,n,median,min,max,packets\n");
	ebpf_quiet();
	/* one fd per filter for eBPF each */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (!dead)
		die("pcap_open_dead failed");
	probe_ebpf(&c);

	char m[512];
	machine_line(m, sizeof m);
	md(&c, "# Demultiplexing benchmark%s\n\n", c.quick ? " (quick)" : "");
	md(&c, "machine: %s; %s; libbpf %s\n\n", m, pcap_lib_version(),
	   ebpf_version());
	md(&c, "%u packets per trace held in memory; ours and hand-written: "
	       "median of %u passes; libpcap and eBPF: %u passes over the first "
	       "`peer packets` of the trace (libpcap / eBPF); eBPF: kernel "
	       "duration over %u repeats, minus an empty program's.\n",
	   c.packets, c.passes, c.peer_passes, c.repeat);
	if (!c.ebpf_ok)
		md(&c, "\neBPF rows skipped: %s\n", c.ebpf_why);

	if (!c.nseeds)
		c.seeds[c.nseeds++] = 1;
	uint32_t shape_full[] = {1, 100, 1000, 10000, 100000};
	uint32_t shape_quick[] = {1, 100, 1000, 10000};
	if (c.shapes_only) {
		shape_table(&c, c.quick ? shape_quick : shape_full, c.quick ? 4 : 5);
		goto done;
	}
	uint32_t full[] = {1, 10, 100, 1000, 10000};
	uint32_t quick[] = {1, 10, 100, 1000};
	const uint32_t *ns = c.quick ? quick : full;
	uint32_t nn = c.quick ? 4 : 5;
	uint32_t one[] = {18};
	struct result *rs = xcalloc(nn, sizeof *rs);
	for (int kind = 0; kind < NWORK; kind++) {
		const uint32_t *list = kind == W_MIXED ? one : ns;
		uint32_t cnt = kind == W_MIXED ? 1 : nn;
		run_workload(&c, kind, list, cnt, rs);
		report_updates(&c, kind == W_FLOWS ? "tcp-flows"
		                   : kind == W_UDP ? "udp-ports"
		                                   : "mixed",
		               list, cnt, rs);
	}
	free(rs);
	shape_table(&c, c.quick ? shape_quick : shape_full, c.quick ? 4 : 5);
done:
	if (c.empty_fd >= 0)
		close(c.empty_fd);
	pcap_close(dead);
	fclose(c.csv);
	fclose(c.md);
	return 0;
}
