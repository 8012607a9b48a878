/*
 * replay.c - `dpf replay -r TRACE FILE`: classify every packet of a
 * capture against the filters of FILE, count matches per filter, time the
 * classification, and optionally split the capture by filter (-w DIR).
 *
 * Timing measures classification alone: the whole capture is read into
 * memory first, then classified R times; each pass is bracketed by
 * dpf_read_begin/end (outside the clock) and timed with CLOCK_MONOTONIC.
 * ns/packet is the median pass time divided by the packet count.
 *
 * A capture that is damaged part way is still classified and reported
 * (and split), then the damage is reported and the exit status is 1.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "cli/trace.h"
#include "dpf/lang/lang.h"
#include "jit/jit.h"

enum {
	OPT_HELP, OPT_READ, OPT_ENGINE, OPT_JSON, OPT_REPEAT, OPT_WRITE,
	OPT_TX, OPT_ASH_ENGINE,
};

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{"read", 'r', 1, OPT_READ},
	{"engine", 0, 1, OPT_ENGINE},
	{"json", 0, 0, OPT_JSON},
	{"repeat", 0, 1, OPT_REPEAT},
	{"write", 'w', 1, OPT_WRITE},
	{"tx", 0, 1, OPT_TX},
	{"ash-engine", 0, 1, OPT_ASH_ENGINE},
	{NULL, 0, 0, -1},
};

#define REPEAT_MAX 1000000

/* ENG_X86 first: a zeroed struct replay means the default engine. */
enum engine { ENG_X86, ENG_INTERP, ENG_NAIVE };

struct replay {
	const char *trace_path, *file, *dir, *tx;
	enum ash_engine ash_engine;
	struct dpf_lang_handlers hs;
	struct cli_bound bound;
	uint64_t (*acts)[5]; /* per filter index: handler actions */
	uint64_t escapes;
	enum engine engine;
	int json;
	uint32_t repeat;
	struct dpf_prog *prog;
	struct dpf_engine *e;
	int *ids;          /* filter index -> engine id */
	int32_t *index_of; /* engine id -> filter index */
	int id_limit;
	struct cli_trace t;
	int32_t *res;     /* per packet: filter index, or -1 */
	uint64_t *counts; /* per filter index; [nfilters] = unmatched */
	double ns_per_packet;
};

void cli_replay_usage(FILE *f)
{
	fputs("usage: dpf replay -r TRACE FILE [--engine=x86|interp|naive] [--json]\n"
	      "                  [--repeat R] [-w DIR] [--tx OUT.pcap]\n"
	      "                  [--ash-engine=x86|interp|checked]\n"
	      "\n"
	      "Install the filters of FILE (DPF text or binary IR), read every\n"
	      "packet of TRACE (pcap or pcapng, Ethernet link type only) into\n"
	      "memory, classify each packet, and report per-filter match counts\n"
	      "and the classification time.\n"
	      "\n"
	      "Options:\n"
	      "  -r, --read TRACE   the capture to classify (required)\n"
	      "  --engine=x86       classify with code generated for the trie\n"
	      "                     (default; if generation fails, says so and\n"
	      "                     uses the interpreter)\n"
	      "  --engine=interp    classify with the trie interpreter\n"
	      "  --engine=naive     evaluate every filter alone (the reference)\n"
	      "  --engine=llvm      not available in this build (exit status 2)\n"
	      "  --json             print one JSON line instead of the table:\n"
	      "      {\"packets\":N,\"bytes\":B,\"unmatched\":U,\n"
	      "       \"engine\":\"x86\",\n"
	      "       \"filters\":[{\"name\":\"http\",\"matches\":K},...],\n"
	      "       \"ns_per_packet\":X}\n"
	      "                     filters in file order; bytes is the sum of\n"
	      "                     captured lengths\n"
	      "  --repeat R         classify the whole trace R times (R >= 1,\n"
	      "                     default 5); ns_per_packet is the median pass\n"
	      "                     time divided by the packet count (0 when\n"
	      "                     there are no packets)\n"
	      "  -w, --write DIR    create DIR if needed and write DIR/NAME.pcap\n"
	      "                     for every filter and DIR/unmatched.pcap, with\n"
	      "                     the input's link type, snapshot length and\n"
	      "                     timestamps\n"
	      "  --tx OUT.pcap      write the frames handlers transmitted (XDP_TX),\n"
	      "                     as modified, in trace order\n"
	      "  --ash-engine=E     run handlers as native code from the x86-64\n"
	      "                     JIT (x86, default; a handler the JIT cannot\n"
	      "                     compile runs on the interpreter, with a\n"
	      "                     note on stderr), with the interpreter\n"
	      "                     (interp) or the checked interpreter\n"
	      "                     (checked: an access out of real bounds\n"
	      "                     fails the command as a verifier escape)\n"
	      "  -h, --help         print this help\n"
	      "\n"
	      "Handlers: a filter with a 'handler \"OBJ\"' clause runs that XDP\n"
	      "program on every frame it matches, in trace order, its maps\n"
	      "keeping their state.  The table and --json then give per filter\n"
	      "the handler's actions: \"actions\":{\"pass\":N,\"drop\":N,\"tx\":N,\n"
	      "\"aborted\":N,\"redirect\":N}.  Frames a handler consumes still\n"
	      "count as matched; frames under 14 or over 3520 bytes are not given\n"
	      "to handlers and count as pass.  ns_per_packet remains the\n"
	      "classification time alone.\n"
	      "\n"
	      "Errors: filter errors as in 'dpf check'; 'TRACE: error: MESSAGE'\n"
	      "when the capture cannot be opened; 'TRACE: link type NAME (N) is\n"
	      "not supported: ...' for non-Ethernet captures; and, after the\n"
	      "report on the packets read, 'TRACE: capture damaged after K\n"
	      "packets: MESSAGE' when the capture is truncated or damaged.\n"
	      "\n"
	      "Exit status: 0 success, 1 bad input (filters, capture, output),\n"
	      "2 usage error.\n",
	      f);
}

static int no_jit(const char *engine)
{
	fprintf(stderr,
	        "dpf replay: --engine=%s is not available: this build has no LLVM "
	        "back end\n",
	        engine);
	return CLI_USAGE;
}

static int parse_args(struct replay *r, int argc, char **argv)
{
	struct cli_parser p;
	const char *val;
	uint64_t v;
	int id;
	cli_opt_init(&p, "replay", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		switch (id) {
		case CLI_OPT_ERROR:
			return cli_usage_error("replay", cli_replay_usage, "%s", p.err);
		case OPT_HELP:
			cli_replay_usage(stdout);
			return -1;
		case CLI_OPT_OPERAND:
			if (r->file)
				return cli_usage_error("replay", cli_replay_usage,
				                       "give exactly one filter file");
			r->file = val;
			break;
		case OPT_READ:
			r->trace_path = val;
			break;
		case OPT_ENGINE:
			if (strcmp(val, "interp") == 0)
				r->engine = ENG_INTERP;
			else if (strcmp(val, "naive") == 0)
				r->engine = ENG_NAIVE;
			else if (strcmp(val, "x86") == 0)
				r->engine = ENG_X86;
			else if (strcmp(val, "llvm") == 0)
				return no_jit(val);
			else
				return cli_usage_error("replay", cli_replay_usage,
				                       "unknown engine '%s'", val);
			break;
		case OPT_JSON:
			r->json = 1;
			break;
		case OPT_REPEAT:
			if (cli_parse_u64(val, 1, REPEAT_MAX, &v) != 0)
				return cli_usage_error(
					"replay", cli_replay_usage,
					"--repeat wants a whole number from 1 to %d, not '%s'",
					REPEAT_MAX, val);
			r->repeat = (uint32_t)v;
			break;
		case OPT_WRITE:
			r->dir = val;
			break;
		case OPT_TX:
			r->tx = val;
			break;
		case OPT_ASH_ENGINE:
			if (strcmp(val, "x86") == 0)
				r->ash_engine = ASH_ENGINE_X86;
			else if (strcmp(val, "interp") == 0)
				r->ash_engine = ASH_ENGINE_INTERP;
			else if (strcmp(val, "checked") == 0)
				r->ash_engine = ASH_ENGINE_CHECKED;
			else
				return cli_usage_error("replay", cli_replay_usage,
				                       "unknown handler engine '%s'",
				                       val);
			break;
		}
	}
	if (!r->trace_path)
		return cli_usage_error("replay", cli_replay_usage,
		                       "no capture given (-r TRACE)");
	if (!r->file)
		return cli_usage_error("replay", cli_replay_usage,
		                       "no filter file given");
	return CLI_OK;
}

/* Load and install the filters; build the id <-> index maps. */
static int install(struct replay *r)
{
	if (cli_load_ex(r->file, &r->prog, &r->hs) != 0)
		return -1;
	uint32_t nf = r->prog->nfilters;
	r->e = dpf_engine_new(dpf_host_libc());
	r->ids = calloc(nf ? nf : 1, sizeof *r->ids);
	if (!r->e || !r->ids) {
		fprintf(stderr, "%s: error: out of memory\n", r->file);
		return -1;
	}
	if (cli_install(r->file, r->prog, r->e, r->ids) != 0)
		return -1;
	struct ash_env env;
	cli_ash_env(&env);
	if (cli_bind(r->file, r->prog, &r->hs, &env, &r->bound) != 0)
		return -1;
	if (r->ash_engine == ASH_ENGINE_X86)
		for (uint32_t i = 0; i < r->bound.n; i++)
			if (r->bound.v[i].h.prog)
				cli_handler_jit(&r->bound.v[i].h, "dpf replay");
	if (r->dir) {
		for (uint32_t i = 0; i < nf; i++) {
			const struct dpf_filter *f = &r->prog->filters[i];
			if (strcmp(f->name, "unmatched") != 0)
				continue;
			fprintf(stderr,
			        "%s:%u:%u: error: filter name 'unmatched' clashes with "
			        "the unmatched packets' file in -w %s\n",
			        r->file, (unsigned)f->line, (unsigned)f->col, r->dir);
			return -1;
		}
	}
	r->id_limit = dpf_id_limit(r->e);
	r->index_of = malloc((size_t)(r->id_limit > 0 ? r->id_limit : 1) *
	                     sizeof *r->index_of);
	if (!r->index_of) {
		fprintf(stderr, "%s: error: out of memory\n", r->file);
		return -1;
	}
	for (int i = 0; i < r->id_limit; i++)
		r->index_of[i] = -1;
	for (uint32_t i = 0; i < nf; i++)
		if (r->ids[i] >= 0 && r->ids[i] < r->id_limit)
			r->index_of[r->ids[i]] = (int32_t)i;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Classify the whole trace r->repeat times; fill res, counts and
 * ns_per_packet. */
static int classify(struct replay *r)
{
	const struct cli_trace *t = &r->t;
	size_t n = t->n;
	uint32_t nf = r->prog->nfilters;
	r->res = malloc((n ? n : 1) * sizeof *r->res);
	r->counts = calloc((size_t)nf + 1, sizeof *r->counts);
	uint64_t *times = malloc(r->repeat * sizeof *times);
	struct dpf_reader *rd = dpf_reader_new(r->e);
	if (!r->res || !r->counts || !times || !rd) {
		fprintf(stderr, "dpf replay: error: out of memory\n");
		free(times);
		if (rd)
			dpf_reader_free(rd);
		return -1;
	}
	const struct dpf_engine *e = r->e;
	if (r->engine == ENG_X86) {
		struct dpf_diag d = {{0}};
		if (jit_attach(r->e, jit_mem_posix(), 0, &d) != 0) {
			/* never fatal: the interpreter gives the same answers */
			fprintf(stderr, "dpf replay: %s; classifying with the "
			                "interpreter\n",
			        d.msg);
			r->engine = ENG_INTERP;
		}
	}
	dpf_exec_fn fn = r->engine == ENG_X86 ? dpf_exec(e) : NULL;
	const struct cli_pkt *pk = t->pkts;
	const uint8_t *data = t->data;
	int32_t *res = r->res;
	for (uint32_t pass = 0; pass < r->repeat; pass++) {
		dpf_read_begin(rd);
		uint64_t t0 = now_ns();
		if (r->engine == ENG_NAIVE) {
			for (size_t i = 0; i < n; i++)
				res[i] = dpf_classify_naive(e, data + pk[i].off,
				                            pk[i].caplen);
		} else if (fn) {
			for (size_t i = 0; i < n; i++)
				res[i] = fn(data + pk[i].off, pk[i].caplen);
		} else
			for (size_t i = 0; i < n; i++)
				res[i] = dpf_classify_interp(e, data + pk[i].off,
				                             pk[i].caplen);
		uint64_t t1 = now_ns();
		dpf_read_end(rd);
		times[pass] = t1 - t0;
	}
	dpf_reader_free(rd);
	qsort(times, r->repeat, sizeof *times, cmp_u64);
	double med = r->repeat % 2
		? (double)times[r->repeat / 2]
		: ((double)times[r->repeat / 2 - 1] + (double)times[r->repeat / 2]) /
		      2.0;
	free(times);
	r->ns_per_packet = n ? med / (double)n : 0.0;

	for (size_t i = 0; i < n; i++) {
		int id = res[i];
		int32_t idx = -1;
		if (id >= 0 && id < r->id_limit)
			idx = r->index_of[id];
		assert(id == DPF_NOMATCH || idx >= 0);
		res[i] = idx;
		r->counts[idx >= 0 ? (uint32_t)idx : nf]++;
	}
	return 0;
}

static const char *const action_names[] = {"aborted", "drop", "pass", "tx",
                                           "redirect"};

/* Run each matched frame's handler, in trace order; count the actions
 * per filter and write transmitted frames to --tx. */
static int run_handlers(struct replay *r)
{
	const struct cli_trace *t = &r->t;
	uint32_t nf = r->prog->nfilters;
	if (!r->bound.n)
		return 0;
	r->acts = calloc(nf ? nf : 1, sizeof *r->acts);
	uint8_t *buf = aligned_alloc(64, ASH_FRAME_SIZE);
	struct cli_dump *txd = NULL;
	char msg[600];
	int rc = -1;
	if (!r->acts || !buf) {
		fprintf(stderr, "dpf replay: error: out of memory\n");
		goto out;
	}
	if (r->tx) {
		int snap = t->snaplen > 0 ? t->snaplen : 262144;
		if (snap < ASH_MAX_DATA)
			snap = ASH_MAX_DATA;
		txd = cli_dump_open(r->tx, t->linktype, snap, t->nano, msg,
		                    sizeof msg);
		if (!txd) {
			fprintf(stderr, "%s\n", msg);
			goto out;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		if (r->res[i] < 0)
			continue;
		uint32_t f = (uint32_t)r->res[i];
		struct cli_bound_handler *bh = r->bound.by_filter[f];
		if (!bh)
			continue;
		const struct cli_pkt *pk = &t->pkts[i];
		if (pk->caplen < ASH_ETH_HLEN || pk->caplen > ASH_MAX_DATA) {
			r->acts[f][ASH_XDP_PASS]++;
			continue;
		}
		struct ash_xdp x;
		struct ash_result res;
		ash_xdp_init(&x, buf, cli_trace_bytes(t, i), pk->caplen);
		if (ash_run_xdp(bh->h.prog, &x, r->ash_engine, &res) != 0 &&
		    res.fault == ASH_FAULT_ESCAPE) {
			char m[240];
			snprintf(m, sizeof m, "%s (frame %zu)", res.msg, i);
			cli_handler_error(&bh->h, res.fault_insn, m);
			r->escapes++;
		}
		int act = res.action >= 0 && res.action <= 4 ? res.action : 0;
		r->acts[f][act]++;
		if (txd && act == ASH_XDP_TX) {
			uint32_t len = x.data_end - x.data;
			cli_dump_write(txd, pk->sec, pk->frac, len, len,
			               x.buf + x.data);
		}
	}
	rc = 0;
out:
	if (txd && cli_dump_close(txd, msg, sizeof msg) != 0 && rc == 0) {
		fprintf(stderr, "%s: error: %s\n", r->tx, msg);
		rc = -1;
	}
	free(buf);
	return rc;
}

static const char *engine_name(enum engine k)
{
	return k == ENG_NAIVE ? "naive" : k == ENG_X86 ? "x86" : "interp";
}

static void report_json(const struct replay *r)
{
	uint32_t nf = r->prog->nfilters;
	printf("{\"packets\":%zu,\"bytes\":%llu,\"unmatched\":%llu,"
	       "\"engine\":\"%s\",\"filters\":[",
	       r->t.n, (unsigned long long)r->t.bytes,
	       (unsigned long long)r->counts[nf], engine_name(r->engine));
	for (uint32_t i = 0; i < nf; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
		cli_json_string(stdout, r->prog->filters[i].name);
		printf(",\"matches\":%llu", (unsigned long long)r->counts[i]);
		const struct cli_bound_handler *bh =
			r->bound.by_filter ? r->bound.by_filter[i] : NULL;
		if (bh) {
			fputs(",\"handler\":", stdout);
			cli_json_string(stdout, bh->path);
			fputs(",\"actions\":{", stdout);
			static const int order[] = {ASH_XDP_PASS, ASH_XDP_DROP,
			                            ASH_XDP_TX, ASH_XDP_ABORTED,
			                            ASH_XDP_REDIRECT};
			for (int k = 0; k < 5; k++)
				printf("%s\"%s\":%llu", k ? "," : "",
				       action_names[order[k]],
				       (unsigned long long)r->acts[i][order[k]]);
			putchar('}');
		}
		putchar('}');
	}
	printf("],\"ns_per_packet\":%.1f}\n", r->ns_per_packet);
}

static double pct(uint64_t k, size_t n)
{
	return n ? 100.0 * (double)k / (double)n : 0.0;
}

static void report_table(const struct replay *r)
{
	uint32_t nf = r->prog->nfilters;
	int w = (int)strlen("(unmatched)");
	for (uint32_t i = 0; i < nf; i++) {
		int l = (int)strlen(r->prog->filters[i].name);
		if (l > w)
			w = l;
	}
	printf("%-*s  %8s  %12s  %9s\n", w, "filter", "priority", "matches",
	       "% packets");
	for (uint32_t i = 0; i < nf; i++) {
		const struct dpf_filter *f = &r->prog->filters[i];
		printf("%-*s  %8u  %12llu  %8.2f%%\n", w, f->name,
		       (unsigned)f->priority, (unsigned long long)r->counts[i],
		       pct(r->counts[i], r->t.n));
	}
	printf("%-*s  %8s  %12llu  %8.2f%%\n", w, "(unmatched)", "",
	       (unsigned long long)r->counts[nf], pct(r->counts[nf], r->t.n));
	for (uint32_t i = 0; i < nf && r->bound.n; i++) {
		const struct cli_bound_handler *bh = r->bound.by_filter[i];
		if (!bh)
			continue;
		const uint64_t *a = r->acts[i];
		printf("%s handler %s: %llu pass, %llu drop, %llu tx, "
		       "%llu aborted, %llu redirect\n",
		       r->prog->filters[i].name, bh->path,
		       (unsigned long long)a[ASH_XDP_PASS],
		       (unsigned long long)a[ASH_XDP_DROP],
		       (unsigned long long)a[ASH_XDP_TX],
		       (unsigned long long)a[ASH_XDP_ABORTED],
		       (unsigned long long)a[ASH_XDP_REDIRECT]);
	}
	printf("\n%zu packet%s, %llu bytes captured, %u filter%s\n", r->t.n,
	       r->t.n == 1 ? "" : "s", (unsigned long long)r->t.bytes,
	       (unsigned)nf, nf == 1 ? "" : "s");
	printf("engine %s: %.1f ns/packet (median of %u passes)\n",
	       engine_name(r->engine), r->ns_per_packet, (unsigned)r->repeat);
}

/* -w DIR: one pcap per filter plus unmatched.pcap. */
static int split(const struct replay *r)
{
	int err = cli_mkdir_p(r->dir);
	if (err) {
		fprintf(stderr, "%s: error: %s\n", r->dir, strerror(err));
		return -1;
	}
	uint32_t nf = r->prog->nfilters;
	const struct cli_trace *t = &r->t;
	int snap = t->snaplen > 0 ? t->snaplen : 262144;
	if ((int64_t)t->maxcap > snap)
		snap = (int)t->maxcap;
	struct cli_dump **d = calloc((size_t)nf + 1, sizeof *d);
	size_t plen = strlen(r->dir) + DPF_NAME_MAX + 16;
	char *path = malloc(plen);
	char msg[600];
	int rc = 0;
	if (!d || !path) {
		fprintf(stderr, "%s: error: out of memory\n", r->dir);
		rc = -1;
		goto out;
	}
	for (uint32_t i = 0; i <= nf && rc == 0; i++) {
		snprintf(path, plen, "%s/%s.pcap", r->dir,
		         i < nf ? r->prog->filters[i].name : "unmatched");
		d[i] = cli_dump_open(path, t->linktype, snap, t->nano, msg,
		                     sizeof msg);
		if (!d[i]) {
			fprintf(stderr, "%s\n", msg);
			rc = -1;
		}
	}
	if (rc == 0)
		for (size_t i = 0; i < t->n; i++) {
			const struct cli_pkt *p = &t->pkts[i];
			uint32_t k = r->res[i] >= 0 ? (uint32_t)r->res[i] : nf;
			cli_dump_write(d[k], p->sec, p->frac, p->caplen, p->len,
			               cli_trace_bytes(t, i));
		}
	for (uint32_t i = 0; i <= nf; i++) {
		if (!d[i])
			continue;
		if (cli_dump_close(d[i], msg, sizeof msg) != 0 && rc == 0) {
			fprintf(stderr, "%s/%s.pcap: error: %s\n", r->dir,
			        i < nf ? r->prog->filters[i].name : "unmatched", msg);
			rc = -1;
		}
	}
out:
	free(d);
	free(path);
	return rc;
}

static void release(struct replay *r)
{
	if (r->e)
		dpf_engine_free(r->e);
	if (r->prog)
		dpf_prog_free(dpf_host_libc(), r->prog);
	free(r->ids);
	free(r->index_of);
	free(r->res);
	free(r->counts);
	free(r->acts);
	cli_bound_free(&r->bound);
	dpf_lang_handlers_free(&r->hs);
	cli_trace_free(&r->t);
}

int cli_replay_main(int argc, char **argv)
{
	struct replay r;
	memset(&r, 0, sizeof r);
	r.repeat = 5;
	r.ash_engine = ASH_ENGINE_X86;
	int rc = parse_args(&r, argc, argv);
	if (rc != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	rc = CLI_BAD_INPUT;
	if (install(&r) != 0)
		goto out;
	if (cli_trace_read(r.trace_path, &r.t) != 0)
		goto out;
	if (classify(&r) != 0 || run_handlers(&r) != 0)
		goto out;
	if (r.json)
		report_json(&r);
	else
		report_table(&r);
	fflush(stdout);
	if (r.dir && split(&r) != 0)
		goto out;
	if (r.escapes) {
		fprintf(stderr, "%s: %llu verifier escape%s in handlers\n", r.file,
		        (unsigned long long)r.escapes, r.escapes == 1 ? "" : "s");
		goto out;
	}
	if (r.t.damaged) {
		fprintf(stderr, "%s: capture damaged after %zu packets: %s\n",
		        r.trace_path, r.t.n, r.t.err);
		goto out;
	}
	rc = CLI_OK;
out:
	release(&r);
	return rc;
}
