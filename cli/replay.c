/*
 * replay.c - `dpf replay -r TRACE FILE`: classify every packet of a
 * capture against the filters of FILE, count matches per filter, time the
 * classification, run handlers, and optionally split the capture by
 * filter (-w DIR).
 *
 * The capture is a stream (a file, a pipe, standard input): packets are
 * read into a window of at most WIN_PKTS packets or WIN_BYTES bytes,
 * classified, handed to their handlers and written to their -w files,
 * then the window is reused, so memory stays bounded whatever the size of
 * the capture.  Each window's classification is timed alone (bracketed
 * by dpf_read_begin/end outside the clock, CLOCK_MONOTONIC); ns/packet is
 * the sum over the pass divided by the packet count.  With --repeat R
 * the first SAMPLE_BYTES of packets are also kept and, after the pass,
 * classified R more times in memory; ns/packet is then the median of
 * those passes divided by the sample's packet count.
 *
 * Captures that are not Ethernet are classified from their network
 * header (cli_link_frame); filters that read the Ethernet addresses are
 * refused on them.
 *
 * A capture that is damaged part way is still classified and reported
 * (and split), then the damage is reported and the exit status is 1.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/handler.h"
#include "cli/trace.h"
#include "dpf/lang/lang.h"
#include "jit/jit.h"

#include <pcap/pcap.h>

enum {
	OPT_HELP, OPT_READ, OPT_ENGINE, OPT_JSON, OPT_REPEAT, OPT_WRITE,
	OPT_TX, OPT_ASH_ENGINE, OPT_IFACE, OPT_COUNT, OPT_DURATION, OPT_ALL,
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
	{"interface", 'i', 1, OPT_IFACE},
	{"count", 'c', 1, OPT_COUNT},
	{"duration", 0, 1, OPT_DURATION},
	{"all-matches", 0, 0, OPT_ALL},
	{NULL, 0, 0, -1},
};

#define REPEAT_MAX 1000000
#define WIN_PKTS 1024              /* packets classified at a time */
#define WIN_BYTES (1u << 20)       /* ... or this many bytes of them */
#define SAMPLE_BYTES (32u << 20)   /* --repeat: packet bytes kept, plus */
#define SAMPLE_PKT_COST 48         /* this much per packet kept */
#define PROGRESS_NS 250000000ull   /* between progress lines */
#define DURATION_MAX 31536000      /* --duration: a year of seconds */

/* ENG_X86 first: a zeroed struct replay means the default engine. */
enum engine { ENG_X86, ENG_INTERP, ENG_NAIVE };

struct replay {
	const char *trace_path, *file, *dir, *tx;
	const char *iface;  /* -i: live capture */
	uint64_t count;     /* -c: stop after this many packets (0: never) */
	uint64_t duration;  /* --duration: stop after this many seconds */
	enum ash_engine ash_engine;
	struct dpf_lang_handlers hs;
	struct cli_bound bound;
	uint64_t (*acts)[5]; /* per filter index: handler actions */
	uint64_t escapes;
	enum engine engine;
	int json;
	int all;          /* --all-matches */
	uint64_t *allc;   /* per filter index: packets it matches alone */
	uint32_t repeat; /* --repeat R, or 0: the one pass as read */
	struct dpf_prog *prog;
	struct dpf_engine *e;
	struct dpf_reader *rd;
	dpf_exec_fn fn; /* ENG_X86 once attached */
	int *ids;          /* filter index -> engine id */
	int32_t *index_of; /* engine id -> filter index */
	int id_limit;
	struct cli_src src;
	struct cli_link link;
	struct cli_trace win;    /* the window's packets as read */
	struct cli_trace view;   /* what the engine sees of them (not Ethernet) */
	struct cli_trace sample; /* --repeat: the packets timed again */
	uint8_t *frame;          /* cli_link_frame's output */
	uint8_t *hbuf;           /* a handler's frame */
	struct cli_dump **split; /* -w: per filter index, [nfilters] unmatched */
	struct cli_dump *txd;    /* --tx */
	int32_t *res;     /* per window packet: filter index, or -1 */
	uint64_t n;       /* packets read */
	uint64_t bytes;   /* their captured bytes */
	uint64_t *counts; /* per filter index; [nfilters] = unmatched */
	uint64_t pass_ns; /* classification time of the pass as read */
	double ns_per_packet;
	int progress;     /* stderr is a terminal */
	uint64_t t_start, t_shown;
};

void cli_replay_usage(FILE *f)
{
	fputs("usage: dpf replay -r TRACE FILE [--engine=x86|interp|naive] [--json]\n"
	      "                  [--repeat R] [-w DIR] [--tx OUT.pcap] [-c COUNT]\n"
	      "                  [--all-matches]\n"
	      "                  [--ash-engine=x86|interp|checked]\n"
	      "       dpf replay -i IFACE FILE [-c COUNT] [--duration SEC] [...]\n"
	      "\n"
	      "Install the filters of FILE (DPF text or binary IR), read TRACE\n"
	      "(pcap or pcapng: a file, a FIFO, /dev/stdin, or - for standard\n"
	      "input) as a stream, classify each packet as it is read, and\n"
	      "report per-filter match counts and the classification time.\n"
	      "Packets are held a window at a time (at most 1024 packets or\n"
	      "1 MiB of them), so any size of capture replays in bounded memory.\n"
	      "When standard error is a terminal, progress goes there (packets,\n"
	      "rate, and for a file the share read and the time left).\n"
	      "\n"
	      "Link types: EN10MB (802.1Q tags included), LINUX_SLL, LINUX_SLL2,\n"
	      "NULL, LOOP, RAW, IPV4 and IPV6.  Other than Ethernet, the engine\n"
	      "classifies from the network header the link layer names, as if\n"
	      "behind an Ethernet header carrying the EtherType the link layer\n"
	      "implies; filters that read Ethernet addresses (eth.dst, eth.src,\n"
	      "eth.addr, raw offsets below 12) are refused on such captures,\n"
	      "raw offsets from 14 on are the network header, and handlers\n"
	      "(which want Ethernet frames) are refused.\n"
	      "\n"
	      "Options:\n"
	      "  -r, --read TRACE   the capture to classify\n"
	      "  -i, --interface IFACE\n"
	      "                     capture live on IFACE instead, through libpcap\n"
	      "                     (immediate mode, whole frames); 'dpf replay:\n"
	      "                     listening on IFACE, ...' on stderr once\n"
	      "                     capturing; SIGINT or SIGTERM stops it and the\n"
	      "                     report follows\n"
	      "  -c, --count COUNT  stop after COUNT packets\n"
	      "  --all-matches      count too, per filter, every packet the filter\n"
	      "                     matches on its own (as independent tcpdump\n"
	      "                     filters would), alongside the demultiplexing\n"
	      "                     verdict: an 'all matches' column, and\n"
	      "                     \"all_matches\":K after \"matches\" in --json\n"
	      "  --duration SEC     stop a live capture after SEC seconds\n"
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
	      "  --repeat R         timing passes, asked for (R from 1 to 1000000):\n"
	      "                     keep the first 32 MiB of packets in memory and,\n"
	      "                     after the pass that counts, classify them R\n"
	      "                     more times; ns_per_packet is then the median\n"
	      "                     pass time divided by the packets kept.\n"
	      "                     Without it there is one pass, and\n"
	      "                     ns_per_packet is its classification time\n"
	      "                     (reading excluded) divided by the packet\n"
	      "                     count (0 when there are no packets)\n"
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
	      "not supported: ...' for other link types; outputs (-w, --tx)\n"
	      "that cannot be created, before anything is read; and, after the\n"
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
		case OPT_IFACE:
			r->iface = val;
			break;
		case OPT_COUNT:
			if (cli_parse_u64(val, 1, UINT64_MAX, &v) != 0)
				return cli_usage_error("replay", cli_replay_usage,
				                       "-c wants a whole number from 1 "
				                       "up, not '%s'",
				                       val);
			r->count = v;
			break;
		case OPT_DURATION:
			if (cli_parse_u64(val, 1, DURATION_MAX, &v) != 0)
				return cli_usage_error("replay", cli_replay_usage,
				                       "--duration wants whole seconds from "
				                       "1 to %d, not '%s'",
				                       DURATION_MAX, val);
			r->duration = v;
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
		case OPT_ALL:
			r->all = 1;
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
	if (r->trace_path && r->iface)
		return cli_usage_error("replay", cli_replay_usage,
		                       "give -r TRACE or -i IFACE, not both");
	if (!r->trace_path && !r->iface)
		return cli_usage_error("replay", cli_replay_usage,
		                       "no capture given (-r TRACE or -i IFACE)");
	if (r->duration && !r->iface)
		return cli_usage_error("replay", cli_replay_usage,
		                       "--duration is for live captures (-i IFACE)");
	if (r->iface)
		r->trace_path = r->iface;
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

/* Classify every packet of t into res (engine ids); the time it took. */
static uint64_t classify(const struct replay *r, const struct cli_trace *t,
                         int32_t *res)
{
	static const uint8_t none[1]; /* every packet empty: no data held */
	const struct dpf_engine *e = r->e;
	const struct cli_pkt *pk = t->pkts;
	const uint8_t *data = t->data ? t->data : none;
	size_t n = t->n;
	dpf_exec_fn fn = r->fn;
	dpf_read_begin(r->rd);
	uint64_t t0 = now_ns();
	if (r->engine == ENG_NAIVE) {
		for (size_t i = 0; i < n; i++)
			res[i] = dpf_classify_naive(e, data + pk[i].off, pk[i].caplen);
	} else if (fn) {
		for (size_t i = 0; i < n; i++)
			res[i] = fn(data + pk[i].off, pk[i].caplen);
	} else
		for (size_t i = 0; i < n; i++)
			res[i] = dpf_classify_interp(e, data + pk[i].off, pk[i].caplen);
	uint64_t t1 = now_ns();
	dpf_read_end(r->rd);
	return t1 - t0;
}

static const char *const action_names[] = {"aborted", "drop", "pass", "tx",
                                           "redirect"};

/* Run the handler of packet i of the window (classified to filter f). */
static void run_handler(struct replay *r, size_t i, uint32_t f)
{
	struct cli_bound_handler *bh = r->bound.by_filter[f];
	const struct cli_pkt *pk = &r->win.pkts[i];
	if (pk->caplen < ASH_ETH_HLEN || pk->caplen > ASH_MAX_DATA) {
		r->acts[f][ASH_XDP_PASS]++;
		return;
	}
	struct ash_xdp x;
	struct ash_result res;
	ash_xdp_init(&x, r->hbuf, cli_trace_bytes(&r->win, i), pk->caplen);
	if (ash_run_xdp(bh->h.prog, &x, r->ash_engine, &res) != 0 &&
	    res.fault == ASH_FAULT_ESCAPE) {
		char m[240];
		snprintf(m, sizeof m, "%s (frame %llu)", res.msg,
		         (unsigned long long)(r->n + i));
		cli_handler_error(&bh->h, res.fault_insn, m);
		r->escapes++;
	}
	int act = res.action >= 0 && res.action <= 4 ? res.action : 0;
	r->acts[f][act]++;
	if (r->txd && act == ASH_XDP_TX) {
		uint32_t len = x.data_end - x.data;
		cli_dump_write(r->txd, pk->sec, pk->frac, len, len, x.buf + x.data);
	}
}

/* --all-matches: every filter packet i of t satisfies on its own, as
 * independent tcpdump filters would. */
static void count_all(struct replay *r, const struct cli_trace *t, size_t i)
{
	const uint8_t *pkt = cli_trace_bytes(t, i);
	size_t len = t->pkts[i].caplen;
	for (uint32_t f = 0; f < r->prog->nfilters; f++) {
		const struct dpf_filter *fl = &r->prog->filters[f];
		for (uint32_t p = 0; p < fl->npaths; p++)
			if (dpf_path_match(&fl->paths[p], pkt, len)) {
				r->allc[f]++;
				break;
			}
	}
}

/* Classify the window; count, run handlers and split, in capture order;
 * keep what --repeat times; empty the window. */
static void process(struct replay *r)
{
	const struct cli_trace *v = r->link.ether ? &r->win : &r->view;
	uint32_t nf = r->prog->nfilters;
	r->pass_ns += classify(r, v, r->res);
	for (size_t i = 0; i < v->n; i++) {
		int id = r->res[i];
		int32_t idx = -1;
		if (id >= 0 && id < r->id_limit)
			idx = r->index_of[id];
		assert(id == DPF_NOMATCH || idx >= 0);
		uint32_t k = idx >= 0 ? (uint32_t)idx : nf;
		r->counts[k]++;
		if (idx >= 0 && r->bound.n && r->bound.by_filter[k])
			run_handler(r, i, k);
		if (r->all)
			count_all(r, v, i);
		if (r->split) {
			const struct cli_pkt *p = &r->win.pkts[i];
			cli_dump_write(r->split[k], p->sec, p->frac, p->caplen, p->len,
			               cli_trace_bytes(&r->win, i));
		}
		if (r->repeat &&
		    r->sample.used + r->sample.n * SAMPLE_PKT_COST < SAMPLE_BYTES) {
			const struct cli_pkt *p = &v->pkts[i];
			struct cli_src_pkt sp = {p->sec, p->frac, p->caplen, p->len,
			                         cli_trace_bytes(v, i)};
			/* out of memory: a shorter sample still times */
			(void)cli_trace_append(&r->sample, &sp);
		}
	}
	r->n += v->n;
	r->bytes += r->win.bytes;
	cli_trace_clear(&r->win);
	cli_trace_clear(&r->view);
}

/* Packets so far, their rate, and how far through the file, on a
 * terminal's stderr. */
static void show_progress(struct replay *r, int last)
{
	uint64_t t = now_ns();
	if (!last && t - r->t_shown < PROGRESS_NS)
		return;
	r->t_shown = t;
	if (last) {
		fputs("\r\033[K", stderr);
		return;
	}
	uint64_t n = r->n + r->win.n;
	double secs = (double)(t - r->t_start) / 1e9;
	double rate = secs > 0 ? (double)n / secs : 0;
	fprintf(stderr, "\r\033[Kdpf replay: %s: %llu packets, %.0f packets/s",
	        r->trace_path, (unsigned long long)n, rate);
	uint64_t pos = cli_src_pos(&r->src);
	if (r->src.size && pos && pos <= r->src.size) {
		double frac = (double)pos / (double)r->src.size;
		fprintf(stderr, ", %.0f%%, ETA %.0f s", 100.0 * frac,
		        secs * (1.0 - frac) / frac);
	}
	fflush(stderr);
}

/* SIGINT during a live capture: stop reading, report what was read. */
static volatile sig_atomic_t interrupted;
static struct cli_src *live_src;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
	if (live_src)
		cli_src_break(live_src);
}

/* Read, classify, run and split the whole capture, a window at a time. */
static int stream(struct replay *r)
{
	struct cli_src_pkt pk;
	int rc;
	r->t_start = r->t_shown = now_ns();
	uint64_t until = r->duration ? r->t_start + r->duration * 1000000000ull : 0;
	while (!interrupted) {
		rc = cli_src_next(&r->src, &pk);
		if (rc == 2) {
			if (until && now_ns() >= until)
				break;
			continue;
		}
		if (rc != 1)
			break;
		int bad = cli_trace_append(&r->win, &pk);
		if (!bad && !r->link.ether) {
			struct cli_src_pkt vp = pk;
			vp.caplen = vp.len = cli_link_frame(&r->link, pk.data,
			                                    pk.caplen, r->frame);
			vp.data = r->frame;
			bad = cli_trace_append(&r->view, &vp);
		}
		if (bad) {
			fprintf(stderr, "%s: error: out of memory after %llu packets\n",
			        r->trace_path, (unsigned long long)(r->n + r->win.n));
			return -1;
		}
		if (r->win.n == WIN_PKTS || r->win.used >= WIN_BYTES)
			process(r);
		if (r->progress && (r->win.n & 255) == 0)
			show_progress(r, 0);
		if (r->count && r->n + r->win.n >= r->count)
			break;
		if (until && now_ns() >= until)
			break;
	}
	process(r);
	if (r->progress)
		show_progress(r, 1);
	r->ns_per_packet = r->n ? (double)r->pass_ns / (double)r->n : 0.0;
	return 0;
}

/* --repeat R: R timed passes over the sample; ns_per_packet from their
 * median. */
static int time_sample(struct replay *r)
{
	size_t n = r->sample.n;
	int32_t *res = malloc((n ? n : 1) * sizeof *res);
	uint64_t *times = malloc(r->repeat * sizeof *times);
	if (!res || !times) {
		fprintf(stderr, "dpf replay: error: out of memory\n");
		free(res);
		free(times);
		return -1;
	}
	for (uint32_t pass = 0; pass < r->repeat; pass++)
		times[pass] = classify(r, &r->sample, res);
	qsort(times, r->repeat, sizeof *times, cmp_u64);
	double med = r->repeat % 2
		? (double)times[r->repeat / 2]
		: ((double)times[r->repeat / 2 - 1] + (double)times[r->repeat / 2]) /
		      2.0;
	r->ns_per_packet = n ? med / (double)n : 0.0;
	free(times);
	free(res);
	return 0;
}

static const char *engine_name(enum engine k)
{
	return k == ENG_NAIVE ? "naive" : k == ENG_X86 ? "x86" : "interp";
}

static void report_json(const struct replay *r)
{
	uint32_t nf = r->prog->nfilters;
	printf("{\"packets\":%llu,\"bytes\":%llu,\"unmatched\":%llu,"
	       "\"engine\":\"%s\",\"filters\":[",
	       (unsigned long long)r->n, (unsigned long long)r->bytes,
	       (unsigned long long)r->counts[nf], engine_name(r->engine));
	for (uint32_t i = 0; i < nf; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
		cli_json_string(stdout, r->prog->filters[i].name);
		printf(",\"matches\":%llu", (unsigned long long)r->counts[i]);
		if (r->all)
			printf(",\"all_matches\":%llu", (unsigned long long)r->allc[i]);
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

static double pct(uint64_t k, uint64_t n)
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
	printf("%-*s  %8s  %12s  %9s%s\n", w, "filter", "priority", "matches",
	       "% packets", r->all ? "   all matches" : "");
	for (uint32_t i = 0; i < nf; i++) {
		const struct dpf_filter *f = &r->prog->filters[i];
		printf("%-*s  %8u  %12llu  %8.2f%%", w, f->name,
		       (unsigned)f->priority, (unsigned long long)r->counts[i],
		       pct(r->counts[i], r->n));
		if (r->all)
			printf("  %12llu", (unsigned long long)r->allc[i]);
		putchar('\n');
	}
	printf("%-*s  %8s  %12llu  %8.2f%%\n", w, "(unmatched)", "",
	       (unsigned long long)r->counts[nf], pct(r->counts[nf], r->n));
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
	printf("\n%llu packet%s, %llu bytes captured, %u filter%s\n",
	       (unsigned long long)r->n, r->n == 1 ? "" : "s",
	       (unsigned long long)r->bytes, (unsigned)nf, nf == 1 ? "" : "s");
	if (r->repeat)
		printf("engine %s: %.1f ns/packet (median of %u pass%s over %zu "
		       "packet%s held in memory)\n",
		       engine_name(r->engine), r->ns_per_packet,
		       (unsigned)r->repeat, r->repeat == 1 ? "" : "es",
		       r->sample.n, r->sample.n == 1 ? "" : "s");
	else
		printf("engine %s: %.1f ns/packet (one pass, as read)\n",
		       engine_name(r->engine), r->ns_per_packet);
}

/* The outputs, before anything is read or printed: -w DIR's files (one
 * per filter plus unmatched.pcap, with the input's link type, snapshot
 * length and timestamp precision) and --tx's. */
static int open_outputs(struct replay *r)
{
	uint32_t nf = r->prog->nfilters;
	const struct cli_src *s = &r->src;
	char msg[600];
	if (r->tx) {
		int snap = s->snaplen > 0 ? s->snaplen : 262144;
		if (snap < ASH_MAX_DATA)
			snap = ASH_MAX_DATA;
		r->txd = cli_dump_open(r->tx, s->linktype, snap, s->nano, msg,
		                       sizeof msg);
		if (!r->txd) {
			fprintf(stderr, "%s\n", msg);
			return -1;
		}
	}
	if (!r->dir)
		return 0;
	int err = cli_mkdir_p(r->dir);
	if (err) {
		fprintf(stderr, "%s: error: %s\n", r->dir, strerror(err));
		return -1;
	}
	int snap = s->snaplen > 0 ? s->snaplen : 262144;
	r->split = calloc((size_t)nf + 1, sizeof *r->split);
	size_t plen = strlen(r->dir) + DPF_NAME_MAX + 16;
	char *path = malloc(plen);
	int rc = 0;
	if (!r->split || !path) {
		fprintf(stderr, "%s: error: out of memory\n", r->dir);
		rc = -1;
	}
	for (uint32_t i = 0; i <= nf && rc == 0; i++) {
		snprintf(path, plen, "%s/%s.pcap", r->dir,
		         i < nf ? r->prog->filters[i].name : "unmatched");
		r->split[i] = cli_dump_open(path, s->linktype, snap, s->nano, msg,
		                            sizeof msg);
		if (!r->split[i]) {
			fprintf(stderr, "%s\n", msg);
			rc = -1;
		}
	}
	free(path);
	return rc;
}

/* Flush and close the outputs; 0, or -1 after saying which failed. */
static int close_outputs(struct replay *r)
{
	char msg[600];
	int rc = 0;
	if (r->txd && cli_dump_close(r->txd, msg, sizeof msg) != 0) {
		fprintf(stderr, "%s: error: %s\n", r->tx, msg);
		rc = -1;
	}
	r->txd = NULL;
	uint32_t nf = r->prog ? r->prog->nfilters : 0;
	for (uint32_t i = 0; r->split && i <= nf; i++) {
		if (!r->split[i])
			continue;
		if (cli_dump_close(r->split[i], msg, sizeof msg) != 0 && rc == 0) {
			fprintf(stderr, "%s/%s.pcap: error: %s\n", r->dir,
			        i < nf ? r->prog->filters[i].name : "unmatched", msg);
			rc = -1;
		}
		r->split[i] = NULL;
	}
	return rc;
}

/* The capture's link type: accepted, and its filters and handlers
 * meaningful on it. */
static int check_link(struct replay *r)
{
	const struct cli_src *s = &r->src;
	const char *name = pcap_datalink_val_to_name(s->linktype);
	if (!name)
		name = "unknown";
	if (cli_link_init(&r->link, s->linktype, s->swapped) != 0) {
		fprintf(stderr,
		        "%s: link type %s (%d) is not supported: dpf replays %s "
		        "captures\n",
		        r->trace_path, name, s->linktype, cli_link_names);
		return -1;
	}
	if (r->link.ether)
		return 0;
	if (r->bound.n) {
		fprintf(stderr,
		        "%s: error: handlers run on Ethernet frames, and this "
		        "capture's link type is %s (%d)\n",
		        r->trace_path, name, s->linktype);
		return -1;
	}
	int bad = 0;
	for (uint32_t i = 0; i < r->prog->nfilters; i++) {
		const struct dpf_filter *f = &r->prog->filters[i];
		int reads = 0;
		for (uint32_t p = 0; p < f->npaths && !reads; p++)
			for (uint32_t k = 0; k < f->paths[p].natoms && !reads; k++) {
				const struct dpf_atom *a = &f->paths[p].atoms[k];
				reads = a->base == DPF_BASE_PKT && a->offset < 12;
			}
		if (!reads)
			continue;
		if (f->line)
			fprintf(stderr, "%s:%u:%u: ", r->file, (unsigned)f->line,
			        (unsigned)f->col);
		else
			fprintf(stderr, "%s: ", r->file);
		fprintf(stderr,
		        "error: filter '%s' reads Ethernet addresses (eth.dst, "
		        "eth.src, eth.addr or a raw offset below 12), which %s has "
		        "none of: its link type is %s (%d)\n",
		        f->name, r->trace_path, name, s->linktype);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* The engine, the reader and the buffers of the pass. */
static int prepare(struct replay *r)
{
	uint32_t nf = r->prog->nfilters;
	r->counts = calloc((size_t)nf + 1, sizeof *r->counts);
	r->allc = calloc((size_t)nf + 1, sizeof *r->allc);
	r->res = malloc(WIN_PKTS * sizeof *r->res);
	r->frame = malloc(262144 + 64);
	r->rd = dpf_reader_new(r->e);
	if (r->bound.n) {
		r->acts = calloc(nf ? nf : 1, sizeof *r->acts);
		r->hbuf = aligned_alloc(64, ASH_FRAME_SIZE);
	}
	if (!r->counts || !r->allc || !r->res || !r->frame || !r->rd ||
	    (r->bound.n && (!r->acts || !r->hbuf))) {
		fprintf(stderr, "dpf replay: error: out of memory\n");
		return -1;
	}
	if (r->engine == ENG_X86) {
		struct dpf_diag d = {{0}};
		if (jit_attach(r->e, jit_mem_posix(), 0, &d) != 0) {
			/* never fatal: the interpreter gives the same answers */
			fprintf(stderr, "dpf replay: %s; classifying with the "
			                "interpreter\n",
			        d.msg);
			r->engine = ENG_INTERP;
		} else
			r->fn = dpf_exec(r->e);
	}
	r->progress = isatty(STDERR_FILENO);
	return 0;
}

static void release(struct replay *r)
{
	close_outputs(r);
	if (r->rd)
		dpf_reader_free(r->rd);
	if (r->e)
		dpf_engine_free(r->e);
	if (r->prog)
		dpf_prog_free(dpf_host_libc(), r->prog);
	free(r->ids);
	free(r->index_of);
	free(r->res);
	free(r->counts);
	free(r->allc);
	free(r->acts);
	free(r->frame);
	free(r->hbuf);
	free(r->split);
	cli_bound_free(&r->bound);
	dpf_lang_handlers_free(&r->hs);
	cli_src_close(&r->src);
	cli_trace_free(&r->win);
	cli_trace_free(&r->view);
	cli_trace_free(&r->sample);
}

int cli_replay_main(int argc, char **argv)
{
	struct replay r;
	memset(&r, 0, sizeof r);
	r.ash_engine = ASH_ENGINE_X86;
	int rc = parse_args(&r, argc, argv);
	if (rc != CLI_OK)
		return rc < 0 ? CLI_OK : rc;
	rc = CLI_BAD_INPUT;
	if (install(&r) != 0 ||
	    (r.iface ? cli_src_open_live(r.iface, &r.src)
	             : cli_src_open(r.trace_path, &r.src)) != 0 ||
	    check_link(&r) != 0 || prepare(&r) != 0 || open_outputs(&r) != 0)
		goto out;
	if (r.iface) {
		const char *ln = pcap_datalink_val_to_name(r.src.linktype);
		fprintf(stderr, "dpf replay: listening on %s, link type %s (%d)\n",
		        r.iface, ln ? ln : "unknown", r.src.linktype);
		live_src = &r.src;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigint;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (stream(&r) != 0 || (r.repeat && time_sample(&r) != 0))
		goto out;
	if (close_outputs(&r) != 0)
		goto out;
	if (r.json)
		report_json(&r);
	else
		report_table(&r);
	fflush(stdout);
	if (r.escapes) {
		fprintf(stderr, "%s: %llu verifier escape%s in handlers\n", r.file,
		        (unsigned long long)r.escapes, r.escapes == 1 ? "" : "s");
		goto out;
	}
	if (r.src.damaged) {
		fprintf(stderr, "%s: capture damaged after %llu packet%s: %s\n",
		        r.trace_path, (unsigned long long)r.n, r.n == 1 ? "" : "s",
		        r.src.err);
		goto out;
	}
	rc = CLI_OK;
out:
	live_src = NULL;
	release(&r);
	return rc;
}
