/*
 * boot.c - `dpf boot -r TRACE FILE`: boot the kernel-shim under QEMU,
 * download FILE's filters over the control channel, replay TRACE's frames
 * through the guest's NIC, and report what the guest counted.
 *
 * Phases, each bounded by --timeout (no single wait is longer):
 *   1. host checks: the filters are installed into a local engine first,
 *      so that errors carry their file positions exactly as in `dpf check`;
 *      the trace is read; QEMU and the kernel image are found.
 *   2. boot: QEMU starts; HELLO is repeated until the guest answers.
 *   3. download: OWNER (with the admission credential the client passed
 *      on the kernel command line), then the filters as binary IR in KSH_OP_IR chunks
 *      and one KSH_OP_INSERT per batch (a batch is small enough that the
 *      INSERT reply lists every id, and its IR fits the kernel's stage);
 *      then each handler clause's program image (loaded by the project's
 *      loader, not verified here: the kernel verifies it) with ASH_BEGIN
 *      (length, CRC-32), ASH_CHUNKs and ASH_COMMIT, the kernel's refusal
 *      printed at the clause's position as `dpf ash check` prints it;
 *      CONFIG sets echo (with -w and no handlers, or --echo); RESET
 *      (admission credential) zeroes the counters.  STATS and COUNTERS
 *      carry the owner's capability: every filter of FILE is that
 *      owner's.
 *   4. replay: every frame of the trace, in order, with blocking sends
 *      (QEMU stops reading while the guest's RX ring is full), reading
 *      what the guest transmits meanwhile; the STATS reply marks the end,
 *      since the kernel answers it only after every earlier frame.
 *   5. results: the owner's queued revocation notices (ASH_NOTICES),
 *      COUNTERS by pages, ASH_COUNTERS per handler (a revoked handler's
 *      last figures come with its notice), LAT per latency path and
 *      RINGS (boot_lat.c), with --maps every map of every handler
 *      (ASH_MAP_READ, printed as `dpf ash run --jsonl` prints them),
 *      EXIT; QEMU's status must be 1.  (--rings N asks RINGS for N
 *      rings right after OWNER.)
 *
 * A handler the kernel revokes (its owner past the CPU budget, lowered
 * with --ash-cpu-budget) is reported on stderr as its notice arrives
 * (unsolicited, or queued: each once, by its seq).
 *
 * What the guest transmits that is not a reply (its handlers' XDP_TX
 * frames and, with echo on, the stand-in application's echoes) goes to
 * -w OUT.pcap in the order it arrives, which is the order the guest sent
 * it.
 *
 * What the host cannot replay faithfully it says on stderr and counts:
 * frames carrying the control EtherType are not sent (the guest would
 * take them as requests), empty frames are not sent (an empty datagram
 * means nothing to QEMU), frames over 1514 bytes are cut to 1514, and
 * frames under 60 bytes are padded with zeros by the NIC model, so the
 * guest classifies the padded frame.
 *
 * Any failure after QEMU starts prints the tail of the serial console,
 * kills QEMU and reaps it (cli_ksh_free), and exits 1.
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/boot_lat.h"
#include "cli/cli.h"
#include "cli/handler.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "cli/trace.h"
#include "dpf/lang/lang.h"

enum { OPT_HELP, OPT_READ, OPT_JSON, OPT_WRITE, OPT_NIC, OPT_KERNEL,
       OPT_TIMEOUT, OPT_ECHO, OPT_RINGS, OPT_MAPS, OPT_ASH_CPU };

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{"read", 'r', 1, OPT_READ},
	{"json", 0, 0, OPT_JSON},
	{"write", 'w', 1, OPT_WRITE},
	{"nic", 0, 1, OPT_NIC},
	{"kernel", 0, 1, OPT_KERNEL},
	{"timeout", 0, 1, OPT_TIMEOUT},
	{"echo", 0, 0, OPT_ECHO},
	{"rings", 0, 1, OPT_RINGS},
	{"maps", 0, 0, OPT_MAPS},
	{"ash-cpu-budget", 0, 1, OPT_ASH_CPU},
	{NULL, 0, 0, -1},
};

#define TIMEOUT_DEFAULT 60
#define TIMEOUT_MAX 3600
#define LOG_LINES 40
#define DLT_ETHERNET 1
/* ids one INSERT reply can list: status, n, then int32 ids */
#define BATCH_MAX ((KSH_PAYLOAD_MAX - 8) / 4)
#define CHUNK_MAX (KSH_PAYLOAD_MAX - sizeof(struct ksh_ir_chunk))
#define COUNTERS_MAX ((KSH_PAYLOAD_MAX - 4 - sizeof(struct ksh_counters)) / 8)
#define ASH_CHUNK_MAX (KSH_PAYLOAD_MAX - sizeof(struct ksh_ash_chunk))

/* A handler clause of FILE: its program, and what the guest counted. */
struct boot_handler {
	struct cli_handler h;
	uint32_t filter; /* index into prog->filters */
	char *path;      /* relative to FILE's directory, as `dpf replay` */
	char *where;     /* the clause's position line */
	struct ksh_ash_counters cnt;
	int revoked;                  /* the kernel revoked it: notice says why */
	struct ksh_ash_notice notice;
	char *maps;                   /* --maps: its line, read before EXIT */
};

/* What on_signal() removes: the guest, and the capture being written. */
static struct cli_ksh *volatile sig_guest;
static const char *volatile sig_out;

struct boot {
	const char *trace_path, *file, *out, *kernel_opt;
	int json, echo_opt, echo, maps;
	uint64_t ash_cpu;     /* --ash-cpu-budget: cycles per ms, 0 none */
	uint32_t notice_seq;  /* the last notice reported */
	enum cli_nic nic;
	unsigned timeout_s;
	uint32_t nrings; /* --rings: the owner's rings, 1..KSH_RINGS_MAX */
	struct boot_paths paths; /* latency and rings, read after the replay */
	struct dpf_prog *prog;
	struct dpf_lang_handlers hs;
	struct boot_handler *hv; /* hs.n of them */
	struct boot_handler **by_filter;
	struct dpf_engine *e;
	struct cli_trace t;
	char qemu[PATH_MAX], kernel[PATH_MAX];
	struct cli_ksh *c;
	struct cli_ksh_reply *r;
	struct ksh_hello hello;
	struct ksh_cred who;
	int32_t *ids;     /* filter index -> guest id */
	uint64_t *counts; /* filter index -> matches counted in the guest */
	struct ksh_stats st;
	uint64_t boot_ns, replay_ns;
	/* the trace as the host sent it */
	uint64_t sent, skipped_ctl, skipped_empty, truncated, padded;
	/* what the guest transmitted (echoes) */
	struct cli_dump *dump;
	uint64_t echoes;
};

void cli_boot_usage(FILE *f)
{
	fputs("usage: dpf boot -r TRACE FILE [--json] [-w OUT.pcap] [--maps]\n"
	      "                [--echo] [--rings N] [--nic e1000|e1000e]\n"
	      "                [--kernel PATH] [--timeout SEC]\n"
	      "                [--ash-cpu-budget CYCLES]\n"
	      "\n"
	      "Boot the kernel-shim under QEMU (TCG), download the filters of FILE\n"
	      "(DPF text or binary IR) over the NIC's control channel, replay every\n"
	      "frame of TRACE (pcap or pcapng, Ethernet only) into the guest's NIC,\n"
	      "and report per-filter match counts as counted inside the guest.\n"
	      "\n"
	      "Handlers: a filter with a 'handler \"OBJ\"' clause gets that XDP\n"
	      "program: the host loads it, the kernel verifies it with its own\n"
	      "verifier, compiles it and runs it on every frame the filter\n"
	      "matches (PASS: to the ring, DROP: consumed, TX: sent back at once,\n"
	      "REDIRECT: to ring I of bpf_redirect(I, 0), ring 0 when there is no\n"
	      "ring I, ABORTED: to the ring).  The table and --json\n"
	      "then give per filter the actions the guest counted, as 'dpf\n"
	      "replay': \"handler\":\"OBJ\",\"actions\":{\"pass\":N,\"drop\":N,\n"
	      "\"tx\":N,\"aborted\":N,\"redirect\":N}.  A handler the kernel\n"
	      "refuses fails the command with the kernel's message.\n"
	      "\n"
	      "CPU budget: the kernel charges the owner for the TSC cycles of\n"
	      "every run of its handlers; past its budget (half the TSC's cycles\n"
	      "per 100 ms window, or --ash-cpu-budget) the handler that ran is\n"
	      "revoked: detached, and frames then go to the ring.  Each\n"
	      "revocation is printed on stderr as \"dpf boot: handler 'PROG' on\n"
	      "filter 'NAME' revoked: ...\"; the table marks the handler and\n"
	      "--json gives the filter \"revoked\":{\"reason\":\"cpu\",\n"
	      "\"used_cycles\":N,\"budget_cycles\":N,\"window_ms\":N,\n"
	      "\"run_cycles\":N}; its actions are those counted up to the\n"
	      "revocation.\n"
	      "\n"
	      "Options:\n"
	      "  -r, --read TRACE   the capture to replay (required)\n"
	      "  --json             print one JSON line instead of the table: the\n"
	      "                     shape of 'dpf replay --json', counted in the\n"
	      "                     guest, plus a \"kernel\" object (boot time,\n"
	      "                     frames/s, demux cycles median and p99,\n"
	      "                     delivered, dropped, refused, nic_missed,\n"
	      "                     \"latency\" per path: \"ash\" (arrival to a\n"
	      "                     handler's XDP_TX reply on the TX ring),\n"
	      "                     \"ring\" (arrival to the application's echo\n"
	      "                     on the TX ring), \"hook\" (arrival to the\n"
	      "                     handler's verdict), \"tdt\", \"rdt\" (the\n"
	      "                     TDT and RDT register writes alone), each\n"
	      "                     with samples, median_cycles, p99_cycles,\n"
	      "                     median_ns, p99_ns, min_cycles,\n"
	      "                     max_cycles; \"rings\":\n"
	      "                     per ring delivered, dropped, redirected,\n"
	      "                     consumed, echoed, queued; redirect_missing)\n"
	      "  -w, --write OUT    write every frame the guest transmits (its\n"
	      "                     handlers' XDP_TX frames, and echoes) to the\n"
	      "                     pcap OUT, in order; without handlers the\n"
	      "                     guest's application echoes every frame it\n"
	      "                     takes from the ring\n"
	      "  --echo             the guest's application echoes ring frames\n"
	      "                     even when FILE has handlers\n"
	      "  --maps             after the report, every handler's maps read\n"
	      "                     back from the guest, one line per handler in\n"
	      "                     filter order, as 'dpf ash run --jsonl' prints\n"
	      "                     them: {\"maps\":{NAME:{KEYHEX:VALUEHEX,...}}};\n"
	      "                     {\"maps\":null} for a revoked handler (its\n"
	      "                     maps were freed with it)\n"
	      "  --ash-cpu-budget CYCLES\n"
	      "                     lower the handlers' CPU budget to CYCLES TSC\n"
	      "                     cycles per ms (1..10^15; the kernel never\n"
	      "                     allows more than half the TSC rate)\n"
	      "  --rings N          the owner gets N packet rings (1..4, default\n"
	      "                     1), the targets of handlers'\n"
	      "                     bpf_redirect(I, 0)\n"
	      "  --nic e1000e       the guest's NIC model (default)\n"
	      "  --nic e1000\n"
	      "  --kernel PATH      the kernel image; default: $DPF_KERNEL, else\n"
	      "                     kernel-shim/ of the build tree dpf runs from,\n"
	      "                     else ../lib/dpf/kernel.elf from an installed\n"
	      "                     dpf's directory (make install)\n"
	      "  --timeout SEC      the longest the guest may take for any one step\n"
	      "                     (boot, a reply, taking a frame, exiting),\n"
	      "                     1..3600, default 60\n"
	      "  -h, --help         print this help\n"
	      "\n"
	      "QEMU is $DPF_QEMU, else qemu-system-x86_64 on PATH.\n"
	      "\n"
	      "Not replayed, and said on stderr: frames with the control EtherType\n"
	      "0x88b6 and empty frames.  Frames over 1514 bytes are cut to 1514;\n"
	      "the NIC pads frames under 60 bytes with zeros.\n"
	      "\n"
	      "Errors: filter and capture errors as in 'dpf replay'; a guest that\n"
	      "does not boot, stops answering, refuses a request or exits with a\n"
	      "status other than 1 is reported with the tail of its serial console.\n"
	      "\n"
	      "Exit status: 0 success, 1 bad input or guest failure, 2 usage error.\n",
	      f);
}

static int parse_args(struct boot *b, int argc, char **argv)
{
	struct cli_parser p;
	const char *val;
	uint64_t v;
	int id, k;
	cli_opt_init(&p, "boot", argc, argv);
	while ((id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		switch (id) {
		case CLI_OPT_ERROR:
			return cli_usage_error("boot", cli_boot_usage, "%s", p.err);
		case OPT_HELP:
			cli_boot_usage(stdout);
			return -1;
		case CLI_OPT_OPERAND:
			if (b->file)
				return cli_usage_error("boot", cli_boot_usage,
				                       "give exactly one filter file");
			b->file = val;
			break;
		case OPT_READ:
			b->trace_path = val;
			break;
		case OPT_JSON:
			b->json = 1;
			break;
		case OPT_WRITE:
			b->out = val;
			break;
		case OPT_NIC:
			if ((k = cli_nic_parse(val)) < 0)
				return cli_usage_error("boot", cli_boot_usage,
				                       "unknown NIC '%s' (e1000 or e1000e)",
				                       val);
			b->nic = (enum cli_nic)k;
			break;
		case OPT_KERNEL:
			b->kernel_opt = val;
			break;
		case OPT_ECHO:
			b->echo_opt = 1;
			break;
		case OPT_RINGS:
			if (cli_parse_u64(val, 1, KSH_RINGS_MAX, &v) != 0)
				return cli_usage_error("boot", cli_boot_usage,
				                       "--rings wants 1 to %d, not '%s'",
				                       KSH_RINGS_MAX, val);
			b->nrings = (uint32_t)v;
			break;
		case OPT_MAPS:
			b->maps = 1;
			break;
		case OPT_ASH_CPU:
			if (cli_parse_u64(val, 1, 1000000000000000ull, &v) != 0)
				return cli_usage_error(
					"boot", cli_boot_usage,
					"--ash-cpu-budget wants cycles per ms from 1 to 10^15, "
					"not '%s'",
					val);
			b->ash_cpu = v;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_u64(val, 1, TIMEOUT_MAX, &v) != 0)
				return cli_usage_error(
					"boot", cli_boot_usage,
					"--timeout wants whole seconds from 1 to %d, not '%s'",
					TIMEOUT_MAX, val);
			b->timeout_s = (unsigned)v;
			break;
		}
	}
	if (!b->trace_path)
		return cli_usage_error("boot", cli_boot_usage,
		                       "no capture given (-r TRACE)");
	if (!b->file)
		return cli_usage_error("boot", cli_boot_usage,
		                       "no filter file given");
	return CLI_OK;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the guest's side of things ---- */

/* Report a failure of the guest (or of QEMU) with the console's tail. */
static int guest_fail(struct boot *b, const char *what)
{
	fprintf(stderr, "dpf boot: %s: %s\n", what, cli_ksh_error(b->c));
	cli_ksh_log_tail(b->c, stderr, LOG_LINES);
	return -1;
}

static const char *status_name(int32_t s)
{
	switch (s) {
	case KSH_EMALFORMED:
		return "EMALFORMED";
	case KSH_EPERM:
		return "EPERM";
	case KSH_EINVAL:
		return "EINVAL";
	case KSH_ENOSPC:
		return "ENOSPC";
	case KSH_ENOENT:
		return "ENOENT";
	case KSH_ESTATE:
		return "ESTATE";
	case KSH_EREPLAY:
		return "EREPLAY";
	case KSH_ERATE:
		return "ERATE";
	default:
		return "unknown status";
	}
}

/* A request the guest must grant: -1 with the reason printed otherwise. */
static int call(struct boot *b, uint8_t op, const char *name,
                const void *payload, size_t len, size_t want)
{
	char what[80];
	snprintf(what, sizeof what, "%s request failed", name);
	if (cli_ksh_call(b->c, op, payload, len, b->r) != 0)
		return guest_fail(b, what);
	if (b->r->status != KSH_OK) {
		fprintf(stderr, "dpf boot: the guest refused %s: %s (%d)%s%s\n",
		        name, status_name(b->r->status), (int)b->r->status,
		        b->r->reason[0] ? ": " : "", b->r->reason);
		cli_ksh_log_tail(b->c, stderr, LOG_LINES);
		return -1;
	}
	if (b->r->len < want) {
		fprintf(stderr,
		        "dpf boot: the guest's reply to %s holds %zu bytes, not the "
		        "%zu of its structure\n",
		        name, b->r->len, want);
		cli_ksh_log_tail(b->c, stderr, LOG_LINES);
		return -1;
	}
	return 0;
}

/* Stage one batch of filters as IR chunks and install it. */
static int insert_batch(struct boot *b, uint32_t first, uint32_t n,
                        const uint8_t *ir, size_t irlen)
{
	uint8_t chunk[KSH_PAYLOAD_MAX];
	for (size_t off = 0; off < irlen; off += CHUNK_MAX) {
		size_t m = irlen - off < CHUNK_MAX ? irlen - off : CHUNK_MAX;
		struct ksh_ir_chunk h = {b->who, (uint32_t)off, (uint32_t)irlen};
		memcpy(chunk, &h, sizeof h);
		memcpy(chunk + sizeof h, ir + off, m);
		if (call(b, KSH_OP_IR, "IR", chunk, sizeof h + m, 0) != 0)
			return -1;
	}
	uint8_t req[sizeof(struct ksh_insert)];
	struct ksh_insert ins = {b->who, 0};
	memcpy(req, &ins, sizeof ins);
	if (cli_ksh_call(b->c, KSH_OP_INSERT, req, sizeof req, b->r) != 0)
		return guest_fail(b, "INSERT request failed");
	if (b->r->status != KSH_OK) {
		fprintf(stderr, "%s: error: the guest refused the filters: %s (%d)%s%s\n",
		        b->file, status_name(b->r->status), (int)b->r->status,
		        b->r->reason[0] ? ": " : "", b->r->reason);
		return -1;
	}
	struct ksh_insert_reply ir_rep;
	if (b->r->len < sizeof ir_rep) {
		fprintf(stderr, "dpf boot: the guest's INSERT reply is truncated\n");
		return -1;
	}
	memcpy(&ir_rep, b->r->body, sizeof ir_rep);
	size_t listed = (b->r->len - sizeof ir_rep) / 4;
	if (ir_rep.n != n || listed < n) {
		fprintf(stderr,
		        "dpf boot: the guest installed %u filters and listed %zu "
		        "ids for a batch of %u\n",
		        (unsigned)ir_rep.n, listed, (unsigned)n);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		memcpy(&b->ids[first + i], b->r->body + sizeof ir_rep + 4 * i, 4);
	return 0;
}

/* Download every filter, in batches the protocol can acknowledge. */
static int download(struct boot *b)
{
	uint32_t nf = b->prog->nfilters;
	for (uint32_t i = 0; i < nf;) {
		uint32_t n = nf - i < BATCH_MAX ? nf - i : BATCH_MAX;
		long len;
		for (;;) {
			struct dpf_prog sub = {n, &b->prog->filters[i]};
			len = dpf_ir_write(&sub, NULL, 0);
			if (len < 0) {
				fprintf(stderr, "%s: error: cannot serialise the filters "
				                "(code %ld)\n",
				        b->file, len);
				return -1;
			}
			if ((unsigned long)len <= KSH_IR_MAX || n == 1)
				break;
			n /= 2;
		}
		if ((unsigned long)len > KSH_IR_MAX) {
			const struct dpf_filter *f = &b->prog->filters[i];
			fprintf(stderr,
			        "%s:%u:%u: error: filter '%s' takes %ld bytes of binary "
			        "IR; the kernel stages at most %u\n",
			        b->file, (unsigned)f->line, (unsigned)f->col, f->name,
			        len, (unsigned)KSH_IR_MAX);
			return -1;
		}
		uint8_t *ir = malloc((size_t)len);
		struct dpf_prog sub = {n, &b->prog->filters[i]};
		if (!ir || dpf_ir_write(&sub, ir, (size_t)len) != len) {
			fprintf(stderr, "%s: error: cannot serialise the filters\n",
			        b->file);
			free(ir);
			return -1;
		}
		int rc = insert_batch(b, i, n, ir, (size_t)len);
		free(ir);
		if (rc != 0)
			return -1;
		i += n;
	}
	return 0;
}

/* ---- handlers ---- */

/* The kernel refused handler bh: its message at the clause's position,
 * a verifier refusal ("verifier refused at insn N: MSG") as `dpf ash
 * check` prints it, with the source line. */
static void handler_refused(struct boot *b, struct boot_handler *bh)
{
	const char *why = b->r->reason;
	static const char pre[] = "verifier refused at insn ";
	unsigned insn;
	int used = 0;
	if (strncmp(why, pre, sizeof pre - 1) == 0 &&
	    sscanf(why + sizeof pre - 1, "%u: %n", &insn, &used) == 1 && used) {
		cli_handler_error(&bh->h, insn, why + sizeof pre - 1 + used);
		return;
	}
	fprintf(stderr, "%s\n%s: error: the kernel refused the handler: %s (%d): "
	                "%s\n",
	        bh->where, bh->path, status_name(b->r->status),
	        (int)b->r->status, why);
}

/* One handler's image to the guest, bound to filter index bh->filter. */
static int attach_handler(struct boot *b, struct boot_handler *bh)
{
	long len = ash_image_write(bh->h.img, NULL, 0);
	uint8_t *img = len > 0 ? malloc((size_t)len) : NULL;
	if (!img || ash_image_write(bh->h.img, img, (size_t)len) != len) {
		fprintf(stderr, "%s: error: cannot write the program image\n",
		        bh->path);
		free(img);
		return -1;
	}
	struct ksh_ash_begin beg = {b->who, b->ids[bh->filter], (uint32_t)len,
	                            ksh_crc32(img, (uint32_t)len)};
	int rc = -1;
	uint8_t chunk[KSH_PAYLOAD_MAX];
	if (cli_ksh_call(b->c, KSH_OP_ASH_BEGIN, &beg, sizeof beg, b->r) != 0) {
		guest_fail(b, "ASH_BEGIN request failed");
		goto out;
	}
	for (size_t off = 0; b->r->status == KSH_OK && off < (size_t)len;
	     off += ASH_CHUNK_MAX) {
		size_t m = (size_t)len - off < ASH_CHUNK_MAX ? (size_t)len - off
		                                              : ASH_CHUNK_MAX;
		struct ksh_ash_chunk h = {b->who, (uint32_t)off};
		memcpy(chunk, &h, sizeof h);
		memcpy(chunk + sizeof h, img + off, m);
		if (cli_ksh_call(b->c, KSH_OP_ASH_CHUNK, chunk, sizeof h + m,
		                 b->r) != 0) {
			guest_fail(b, "ASH_CHUNK request failed");
			goto out;
		}
	}
	if (b->r->status == KSH_OK &&
	    cli_ksh_call(b->c, KSH_OP_ASH_COMMIT, &b->who, sizeof b->who,
	                 b->r) != 0) {
		guest_fail(b, "ASH_COMMIT request failed");
		goto out;
	}
	if (b->r->status != KSH_OK) {
		handler_refused(b, bh);
		goto out;
	}
	rc = 0;
out:
	free(img);
	return rc;
}

static int attach_handlers(struct boot *b)
{
	for (uint32_t i = 0; i < b->hs.n; i++)
		if (attach_handler(b, &b->hv[i]) != 0)
			return -1;
	return 0;
}

static int handler_counters(struct boot *b)
{
	for (uint32_t i = 0; i < b->hs.n; i++) {
		struct boot_handler *bh = &b->hv[i];
		if (bh->revoked) {
			bh->cnt = bh->notice.cnt;
			continue;
		}
		struct ksh_ash_ref q = {b->who, b->ids[bh->filter]};
		if (call(b, KSH_OP_ASH_COUNTERS, "ASH_COUNTERS", &q, sizeof q,
		         sizeof bh->cnt) != 0)
			return -1;
		memcpy(&bh->cnt, b->r->body, sizeof bh->cnt);
	}
	return 0;
}

/* A revocation notice, unsolicited or queued: reported once (by seq). */
static void on_notice(void *ctx, const struct ksh_ash_notice *n)
{
	struct boot *b = ctx;
	if (n->seq <= b->notice_seq)
		return;
	b->notice_seq = n->seq;
	struct boot_handler *bh = NULL;
	for (uint32_t i = 0; i < b->hs.n && !bh; i++)
		if (b->ids[b->hv[i].filter] == n->filter)
			bh = &b->hv[i];
	uint64_t hz = b->hello.tsc_hz;
	double ms = hz ? (double)n->window_cycles * 1e3 / (double)hz : 0;
	fprintf(stderr, "dpf boot: handler '%s' on filter ", n->prog);
	if (bh)
		fprintf(stderr, "'%s'", b->prog->filters[bh->filter].name);
	else
		fprintf(stderr, "%d", (int)n->filter);
	fprintf(stderr, " revoked: ");
	if (n->reason == KSH_NOTICE_CPU)
		fprintf(stderr,
		        "its owner's handlers took %llu TSC cycles in a window of "
		        "%.0f ms, over the budget of %llu (the last run: %llu "
		        "cycles); frames now go to the ring\n",
		        (unsigned long long)n->used_cycles, ms,
		        (unsigned long long)n->budget_cycles,
		        (unsigned long long)n->run_cycles);
	else
		fprintf(stderr, "reason %u\n", (unsigned)n->reason);
	if (bh) {
		bh->revoked = 1;
		bh->notice = *n;
	}
}

/* The guest's maps of one handler, for cli_maps_print_json. */
struct guest_maps {
	struct boot *b;
	struct boot_handler *bh;
	uint8_t *scratch; /* a value next_key reads and drops */
	size_t scap;
};

static int guest_read(struct guest_maps *g, uint32_t i, uint32_t how,
                      const void *key, void *next, void *value)
{
	struct boot *b = g->b;
	const struct ash_map_def *d = &g->bh->h.img->maps[i];
	int found = 0;
	if (cli_ksh_map_read(b->c, b->who, b->ids[g->bh->filter], i, how, key,
	                     d->key_size, next, value, d->value_size, &found,
	                     b->r) != 0) {
		guest_fail(b, "ASH_MAP_READ request failed");
		return DPF_EINVAL;
	}
	if (b->r->status != KSH_OK) {
		fprintf(stderr, "dpf boot: the guest refused ASH_MAP_READ of map "
		                "'%s' of %s: %s (%d): %s\n",
		        d->name, g->bh->path, status_name(b->r->status),
		        (int)b->r->status, b->r->reason);
		return DPF_EINVAL;
	}
	return found ? 0 : DPF_ENOENT;
}

static int guest_lookup(void *ctx, uint32_t i, const void *key, void *value)
{
	return guest_read(ctx, i, KSH_MAP_LOOKUP, key, NULL, value);
}

static int guest_next_key(void *ctx, uint32_t i, const void *key, void *next)
{
	struct guest_maps *g = ctx;
	size_t need = g->bh->h.img->maps[i].value_size;
	if (need > g->scap) {
		uint8_t *p = realloc(g->scratch, need);
		if (!p)
			return DPF_ENOMEM;
		g->scratch = p;
		g->scap = need;
	}
	return guest_read(g, i, key ? KSH_MAP_NEXT : KSH_MAP_FIRST, key, next,
	                  g->scratch);
}

/* --maps: every handler's maps, read now (before EXIT), printed later. */
static int read_maps(struct boot *b)
{
	for (uint32_t i = 0; i < b->hs.n; i++) {
		struct boot_handler *bh = &b->hv[i];
		if (bh->revoked)
			continue;
		struct guest_maps g = {b, bh, NULL, 0};
		struct cli_maps m = {bh->h.img->nmaps, bh->h.img->maps, guest_lookup,
		                     guest_next_key, &g};
		size_t len = 0;
		FILE *f = open_memstream(&bh->maps, &len);
		int rc = f ? cli_maps_print_json(f, &m) : DPF_ENOMEM;
		if (f)
			fclose(f);
		free(g.scratch);
		if (rc == DPF_ENOMEM)
			fprintf(stderr, "dpf boot: error: out of memory\n");
		if (rc != 0)
			return -1;
	}
	return 0;
}

static void print_maps(const struct boot *b)
{
	for (uint32_t i = 0; i < b->prog->nfilters; i++) {
		const struct boot_handler *bh = b->by_filter[i];
		if (bh)
			fputs(bh->maps ? bh->maps : "{\"maps\":null}\n", stdout);
	}
}

/* Load every handler clause's object with the project's loader. */
static int load_handlers(struct boot *b)
{
	uint32_t n = b->hs.n, nf = b->prog->nfilters;
	b->hv = calloc(n ? n : 1, sizeof *b->hv);
	b->by_filter = calloc(nf ? nf : 1, sizeof *b->by_filter);
	if (!b->hv || !b->by_filter) {
		fprintf(stderr, "%s: error: out of memory\n", b->file);
		return -1;
	}
	int bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct dpf_lang_handler *lh = &b->hs.v[i];
		struct boot_handler *bh = &b->hv[i];
		bh->filter = lh->filter;
		if (cli_handler_clause(b->file, b->prog, lh, &bh->path,
		                       &bh->where)) {
			fprintf(stderr, "%s: error: out of memory\n", b->file);
			return -1;
		}
		if (cli_handler_open(&bh->h, bh->path, bh->where, lh->program, NULL,
		                     0) != 0) {
			bad++;
			continue;
		}
		b->by_filter[lh->filter] = bh;
	}
	return bad ? -1 : 0;
}

/* An echoed frame: into OUT.pcap, stamped with the host's clock. */
static void on_frame(void *ctx, const uint8_t *f, size_t len)
{
	struct boot *b = ctx;
	b->echoes++;
	if (!b->dump)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cli_dump_write(b->dump, ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000),
	               (uint32_t)len, (uint32_t)len, f);
}

/* Send every frame of the trace. */
static int replay(struct boot *b)
{
	const struct cli_trace *t = &b->t;
	uint64_t t0 = now_ns();
	for (size_t i = 0; i < t->n; i++) {
		const uint8_t *f = cli_trace_bytes(t, i);
		uint32_t n = t->pkts[i].caplen;
		if (n == 0) {
			b->skipped_empty++;
			continue;
		}
		if (n >= 14 && f[12] == (KSH_ETHERTYPE >> 8) &&
		    f[13] == (KSH_ETHERTYPE & 0xff)) {
			b->skipped_ctl++;
			continue;
		}
		if (n > KSH_FRAME_MAX) {
			n = KSH_FRAME_MAX;
			b->truncated++;
		}
		if (n < CLI_KSH_MIN_FRAME)
			b->padded++;
		if (cli_ksh_send_raw(b->c, f, n) != 0) {
			char what[96];
			snprintf(what, sizeof what, "replaying frame %zu of %zu", i + 1,
			         t->n);
			return guest_fail(b, what);
		}
		b->sent++;
	}
	/* the reply comes after every frame above is accounted */
	if (call(b, KSH_OP_STATS, "STATS", &b->who, sizeof b->who,
	         sizeof b->st) != 0)
		return -1;
	b->replay_ns = now_ns() - t0;
	memcpy(&b->st, b->r->body, sizeof b->st);
	return 0;
}

/* Wait until the stand-in application (echo on) has taken every
 * delivered frame and we hold every frame the guest transmitted: its
 * echoes and its handlers' XDP_TX frames. */
static int collect_echoes(struct boot *b)
{
	uint64_t deadline = now_ns() + (uint64_t)b->timeout_s * 1000000000u;
	while (b->echo && b->st.consumed < b->st.delivered &&
	       now_ns() < deadline) {
		if (cli_ksh_pump(b->c, 20, NULL, 0) != 0)
			return guest_fail(b, "collecting echoed frames");
		if (call(b, KSH_OP_STATS, "STATS", &b->who, sizeof b->who,
		         sizeof b->st) != 0)
			return -1;
		memcpy(&b->st, b->r->body, sizeof b->st);
	}
	if (b->echo && b->st.consumed < b->st.delivered) {
		fprintf(stderr,
		        "dpf boot: the guest's application took %llu of %llu "
		        "delivered frames within %u s\n",
		        (unsigned long long)b->st.consumed,
		        (unsigned long long)b->st.delivered, b->timeout_s);
		return -1;
	}
	uint64_t want = b->st.echoed + b->st.ash_tx;
	if (cli_ksh_pump(b->c, b->timeout_s * 1000u, &b->echoes, want) != 0)
		return guest_fail(b, "collecting echoed frames");
	if (b->echoes < want) {
		fprintf(stderr,
		        "dpf boot: the guest transmitted %llu frames, %llu arrived "
		        "within %u s\n",
		        (unsigned long long)want, (unsigned long long)b->echoes,
		        b->timeout_s);
		return -1;
	}
	return 0;
}

/* Per-filter matches: COUNTERS pages from id 0 up to id_limit. */
static int counters(struct boot *b)
{
	uint32_t nf = b->prog->nfilters;
	/* guest id -> filter index */
	uint32_t index_len = 0;
	for (uint32_t i = 0; i < nf; i++)
		if (b->ids[i] >= 0 && (uint32_t)b->ids[i] >= index_len)
			index_len = (uint32_t)b->ids[i] + 1;
	int32_t *index_of =
		malloc((index_len ? index_len : 1) * sizeof *index_of);
	if (!index_of) {
		fprintf(stderr, "dpf boot: error: out of memory\n");
		return -1;
	}
	for (uint32_t i = 0; i < index_len; i++)
		index_of[i] = -1;
	for (uint32_t i = 0; i < nf; i++)
		if (b->ids[i] >= 0)
			index_of[b->ids[i]] = (int32_t)i;
	uint32_t first = 0, limit = 1;
	while (first < limit) {
		struct ksh_counters_req req = {b->who, first};
		if (call(b, KSH_OP_COUNTERS, "COUNTERS", &req, sizeof req,
		         sizeof(struct ksh_counters)) != 0) {
			free(index_of);
			return -1;
		}
		struct ksh_counters h;
		memcpy(&h, b->r->body, sizeof h);
		size_t have = (b->r->len - sizeof h) / 8;
		limit = h.id_limit;
		if (h.first != first || h.n > have || (h.n == 0 && first < limit)) {
			fprintf(stderr,
			        "dpf boot: the guest's COUNTERS reply for id %u is "
			        "inconsistent (first %u, n %u, %zu listed, limit %u)\n",
			        (unsigned)first, (unsigned)h.first, (unsigned)h.n, have,
			        (unsigned)limit);
			free(index_of);
			return -1;
		}
		for (uint32_t k = 0; k < h.n; k++) {
			uint64_t m;
			memcpy(&m, b->r->body + sizeof h + 8 * k, 8);
			uint32_t id = first + k;
			if (id < index_len && index_of[id] >= 0)
				b->counts[index_of[id]] = m;
		}
		first += h.n;
	}
	free(index_of);
	return 0;
}

/* ---- figures ---- */

/* The demux cycles of the packet at quantile q (0..1]: the lower bound of
 * its bucket; 0 without samples. */
static double quantile(const struct ksh_stats *st, double q)
{
	uint32_t hist[KSH_HIST_BUCKETS]; /* st is packed */
	memcpy(hist, st->hist, sizeof hist);
	return cli_ksh_hist_quantile(hist, KSH_HIST_BUCKETS, KSH_HIST_SUB, q);
}


static double ns_per_packet(const struct ksh_stats *st)
{
	if (!st->demux_samples || !st->tsc_hz)
		return 0;
	return (double)st->demux_cycles_sum / (double)st->demux_samples * 1e9 /
	       (double)st->tsc_hz;
}

static double guest_boot_ms(const struct boot *b)
{
	uint64_t hz = b->hello.tsc_hz ? b->hello.tsc_hz : b->st.tsc_hz;
	return hz ? (double)b->hello.boot_cycles * 1e3 / (double)hz : 0;
}

static double frames_per_s(const struct boot *b)
{
	return b->replay_ns ? (double)b->sent * 1e9 / (double)b->replay_ns : 0;
}

static void report_revoked(const struct boot *b,
                           const struct ksh_ash_notice *n)
{
	uint64_t hz = b->hello.tsc_hz;
	printf(",\"revoked\":{\"reason\":\"%s\",\"used_cycles\":%llu,"
	       "\"budget_cycles\":%llu,\"window_ms\":%.0f,\"run_cycles\":%llu}",
	       n->reason == KSH_NOTICE_CPU ? "cpu" : "other",
	       (unsigned long long)n->used_cycles,
	       (unsigned long long)n->budget_cycles,
	       hz ? (double)n->window_cycles * 1e3 / (double)hz : 0.0,
	       (unsigned long long)n->run_cycles);
}

static void report_json(const struct boot *b)
{
	const struct ksh_stats *st = &b->st;
	uint32_t nf = b->prog->nfilters;
	printf("{\"packets\":%llu,\"bytes\":%llu,\"unmatched\":%llu,"
	       "\"engine\":\"%s\",\"filters\":[",
	       (unsigned long long)st->data_frames,
	       (unsigned long long)st->data_bytes,
	       (unsigned long long)st->unmatched,
	       st->jit_attached ? "x86" : "interp");
	for (uint32_t i = 0; i < nf; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
		cli_json_string(stdout, b->prog->filters[i].name);
		printf(",\"matches\":%llu", (unsigned long long)b->counts[i]);
		const struct boot_handler *bh = b->by_filter[i];
		if (bh) {
			const struct ksh_ash_counters *a = &bh->cnt;
			fputs(",\"handler\":", stdout);
			cli_json_string(stdout, bh->path);
			printf(",\"actions\":{\"pass\":%llu,\"drop\":%llu,\"tx\":%llu,"
			       "\"aborted\":%llu,\"redirect\":%llu}",
			       (unsigned long long)a->pass, (unsigned long long)a->drop,
			       (unsigned long long)a->tx, (unsigned long long)a->aborted,
			       (unsigned long long)a->redirect);
			if (bh->revoked)
				report_revoked(b, &bh->notice);
		}
		putchar('}');
	}
	printf("],\"ns_per_packet\":%.1f,\"kernel\":{"
	       "\"nic\":\"%s\",\"boot_ms\":%.1f,\"guest_boot_ms\":%.1f,"
	       "\"tsc_hz\":%llu,\"frames_per_s\":%.0f,"
	       "\"demux_cycles_median\":%.0f,\"demux_cycles_p99\":%.0f,"
	       "\"delivered\":%llu,\"dropped\":%llu,\"refused\":%llu,"
	       "\"nic_missed\":%llu,\"echoed\":%llu,\"handled\":%llu,"
	       "\"ash_tx\":%llu,\"sent\":%llu,"
	       "\"skipped\":%llu,\"truncated\":%llu,\"padded\":%llu,",
	       ns_per_packet(st), cli_nic_name(b->nic),
	       (double)b->boot_ns / 1e6, guest_boot_ms(b),
	       (unsigned long long)st->tsc_hz, frames_per_s(b),
	       quantile(st, 0.5), quantile(st, 0.99),
	       (unsigned long long)st->delivered, (unsigned long long)st->dropped,
	       (unsigned long long)st->refused,
	       (unsigned long long)st->nic_missed,
	       (unsigned long long)st->echoed, (unsigned long long)st->handled,
	       (unsigned long long)st->ash_tx, (unsigned long long)b->sent,
	       (unsigned long long)(b->skipped_ctl + b->skipped_empty),
	       (unsigned long long)b->truncated, (unsigned long long)b->padded);
	boot_paths_json(stdout, &b->paths, st->tsc_hz);
	fputs("}}\n", stdout);
}

static double pct(uint64_t k, uint64_t n)
{
	return n ? 100.0 * (double)k / (double)n : 0.0;
}

static void report_table(const struct boot *b)
{
	const struct ksh_stats *st = &b->st;
	uint32_t nf = b->prog->nfilters;
	uint64_t n = st->data_frames;
	int w = (int)strlen("(unmatched)");
	for (uint32_t i = 0; i < nf; i++) {
		int l = (int)strlen(b->prog->filters[i].name);
		if (l > w)
			w = l;
	}
	printf("%-*s  %8s  %12s  %9s\n", w, "filter", "priority", "matches",
	       "% packets");
	for (uint32_t i = 0; i < nf; i++) {
		const struct dpf_filter *f = &b->prog->filters[i];
		printf("%-*s  %8u  %12llu  %8.2f%%\n", w, f->name,
		       (unsigned)f->priority, (unsigned long long)b->counts[i],
		       pct(b->counts[i], n));
	}
	printf("%-*s  %8s  %12llu  %8.2f%%\n", w, "(unmatched)", "",
	       (unsigned long long)st->unmatched, pct(st->unmatched, n));
	for (uint32_t i = 0; i < nf; i++) {
		const struct boot_handler *bh = b->by_filter[i];
		if (!bh)
			continue;
		const struct ksh_ash_counters *a = &bh->cnt;
		printf("%s handler %s: %llu pass, %llu drop, %llu tx, "
		       "%llu aborted, %llu redirect (%s in the guest%s)\n",
		       b->prog->filters[i].name, bh->path,
		       (unsigned long long)a->pass, (unsigned long long)a->drop,
		       (unsigned long long)a->tx, (unsigned long long)a->aborted,
		       (unsigned long long)a->redirect,
		       a->jitted ? "x86" : "interp",
		       bh->revoked ? "; revoked: CPU budget" : "");
	}
	printf("\n%llu packet%s, %llu byte%s received by the guest, %u filter%s\n",
	       (unsigned long long)n, n == 1 ? "" : "s",
	       (unsigned long long)st->data_bytes, st->data_bytes == 1 ? "" : "s",
	       (unsigned)nf, nf == 1 ? "" : "s");
	printf("guest engine %s: %.1f ns/packet (mean demux time), demux "
	       "cycles median %.0f, p99 %.0f\n",
	       st->jit_attached ? "x86" : "interp", ns_per_packet(st),
	       quantile(st, 0.5), quantile(st, 0.99));
	printf("kernel (%s): booted in %.1f ms (guest %.1f ms), replay %.0f "
	       "frames/s\n",
	       cli_nic_name(b->nic), (double)b->boot_ns / 1e6, guest_boot_ms(b),
	       frames_per_s(b));
	printf("delivered %llu, dropped %llu, refused %llu, nic missed %llu",
	       (unsigned long long)st->delivered, (unsigned long long)st->dropped,
	       (unsigned long long)st->refused,
	       (unsigned long long)st->nic_missed);
	if (b->hs.n)
		printf(", handled %llu, handler tx %llu",
		       (unsigned long long)st->handled,
		       (unsigned long long)st->ash_tx);
	if (b->echo)
		printf(", echoed %llu", (unsigned long long)st->echoed);
	putchar('\n');
	boot_paths_text(stdout, &b->paths, st->tsc_hz);
}

/* What the host could not replay as captured, on stderr. */
static void notes(const struct boot *b)
{
	const char *t = b->trace_path;
	if (b->skipped_ctl)
		fprintf(stderr,
		        "dpf boot: %s: %llu frames carry the control EtherType "
		        "0x%04x and were not replayed\n",
		        t, (unsigned long long)b->skipped_ctl, KSH_ETHERTYPE);
	if (b->skipped_empty)
		fprintf(stderr, "dpf boot: %s: %llu empty frames were not replayed\n",
		        t, (unsigned long long)b->skipped_empty);
	if (b->truncated)
		fprintf(stderr,
		        "dpf boot: %s: %llu frames longer than %d bytes were cut to "
		        "%d\n",
		        t, (unsigned long long)b->truncated, KSH_FRAME_MAX,
		        KSH_FRAME_MAX);
	if (b->padded)
		fprintf(stderr,
		        "dpf boot: %s: %llu frames shorter than %d bytes were padded "
		        "with zeros by the NIC\n",
		        t, (unsigned long long)b->padded, CLI_KSH_MIN_FRAME);
}

/* ---- the command ---- */

static int host_checks(struct boot *b)
{
	if (cli_load_ex(b->file, &b->prog, &b->hs) != 0)
		return -1;
	uint32_t nf = b->prog->nfilters;
	b->e = dpf_engine_new(dpf_host_libc());
	b->ids = malloc((nf ? nf : 1) * sizeof *b->ids);
	b->counts = calloc(nf ? nf : 1, sizeof *b->counts);
	b->r = malloc(sizeof *b->r);
	if (!b->e || !b->ids || !b->counts || !b->r) {
		fprintf(stderr, "%s: error: out of memory\n", b->file);
		return -1;
	}
	for (uint32_t i = 0; i < nf; i++)
		b->ids[i] = -1;
	if (cli_install(b->file, b->prog, b->e, NULL) != 0)
		return -1;
	if (load_handlers(b) != 0)
		return -1;
	b->echo = b->echo_opt || (b->out && b->hs.n == 0);
	if (cli_trace_read(b->trace_path, &b->t) != 0)
		return -1;
	char err[PATH_MAX + 200];
	if (cli_kernel_find(b->kernel_opt, b->kernel, sizeof b->kernel, err,
	                    sizeof err) != 0 ||
	    cli_qemu_find(b->qemu, sizeof b->qemu, err, sizeof err) != 0) {
		fprintf(stderr, "dpf boot: %s\n", err);
		return -1;
	}
	if (b->out) {
		char msg[600];
		sig_out = b->out;
		b->dump = cli_dump_open(b->out, DLT_ETHERNET, 65535, 0, msg,
		                        sizeof msg);
		if (!b->dump) {
			fprintf(stderr, "%s\n", msg);
			return -1;
		}
	}
	return 0;
}

/* Interrupted (SIGINT, SIGTERM, SIGHUP): QEMU killed, its files and a
 * half-written capture removed, then the signal's default action.  The
 * handler only makes system calls (async-signal-safe). */

static void on_signal(int sig)
{
	struct cli_ksh *c = sig_guest;
	if (c)
		cli_ksh_abandon(c);
	const char *out = sig_out;
	if (out)
		unlink(out);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

static int run_guest(struct boot *b)
{
	struct cli_ksh_opts o = {b->qemu, b->kernel, b->nic, {0},
	                         b->timeout_s * 1000u, NULL, b->ash_cpu};
	memcpy(o.mac, cli_ksh_guest_mac, 6);
	char err[400];
	if (cli_ksh_spawn(&o, &b->c, err, sizeof err) != 0) {
		fprintf(stderr, "dpf boot: cannot start QEMU: %s\n", err);
		return -1;
	}
	sig_guest = b->c;
	cli_ksh_on_frame(b->c, on_frame, b);
	cli_ksh_on_notice(b->c, on_notice, b);
	if (cli_ksh_hello(b->c, &b->hello, &b->boot_ns) != 0)
		return guest_fail(b, "the guest did not boot");
	uint32_t nf = b->prog->nfilters;
	if (nf > b->hello.max_filters) {
		fprintf(stderr,
		        "%s: error: %u filters; the kernel holds at most %u\n",
		        b->file, (unsigned)nf, (unsigned)b->hello.max_filters);
		return -1;
	}
	struct ksh_cred admin = cli_ksh_admin(b->c);
	if (call(b, KSH_OP_OWNER, "OWNER", &admin, sizeof admin,
	         sizeof(struct ksh_owner_reply)) != 0)
		return -1;
	struct ksh_owner_reply own;
	memcpy(&own, b->r->body, sizeof own);
	b->who.owner = own.owner;
	b->who.cap = own.cap;
	if (b->nrings > 1 && cli_ksh_rings(b->c, b->who, b->nrings,
	                                   &b->paths.rings) != 0)
		return guest_fail(b, "RINGS request failed");
	if (download(b) != 0 || attach_handlers(b) != 0)
		return -1;
	struct ksh_config cfg = {b->who, b->echo ? 1u : 0u, 0};
	if (call(b, KSH_OP_CONFIG, "CONFIG", &cfg, sizeof cfg, 0) != 0 ||
	    call(b, KSH_OP_RESET, "RESET", &admin, sizeof admin, 0) != 0)
		return -1;
	if (replay(b) != 0)
		return -1;
	if ((b->out || b->echo) && collect_echoes(b) != 0)
		return -1;
	if (b->hs.n && cli_ksh_notices(b->c, b->who, on_notice, b, b->r) != 0)
		return guest_fail(b, "ASH_NOTICES request failed");
	if (counters(b) != 0 || handler_counters(b) != 0)
		return -1;
	if (boot_paths_read(b->c, b->who, &b->paths) != 0)
		return guest_fail(b, "reading latency and rings");
	if (b->maps && read_maps(b) != 0)
		return -1;
	if (cli_ksh_exit(b->c, 0) != 0)
		return guest_fail(b, "the guest did not exit cleanly");
	return 0;
}

static void release(struct boot *b)
{
	sig_guest = NULL;
	cli_ksh_free(b->c);
	b->c = NULL;
	if (b->e)
		dpf_engine_free(b->e);
	if (b->prog)
		dpf_prog_free(dpf_host_libc(), b->prog);
	for (uint32_t i = 0; b->hv && i < b->hs.n; i++) {
		cli_handler_close(&b->hv[i].h);
		free(b->hv[i].maps);
		free(b->hv[i].path);
		free(b->hv[i].where);
	}
	free(b->hv);
	free(b->by_filter);
	dpf_lang_handlers_free(&b->hs);
	free(b->ids);
	free(b->counts);
	free(b->r);
	cli_trace_free(&b->t);
}

int cli_boot_main(int argc, char **argv)
{
	struct boot *b = calloc(1, sizeof *b);
	if (!b) {
		fputs("dpf boot: error: out of memory\n", stderr);
		return CLI_BAD_INPUT;
	}
	b->timeout_s = TIMEOUT_DEFAULT;
	b->nic = CLI_NIC_E1000E;
	int rc = parse_args(b, argc, argv);
	if (rc != CLI_OK) {
		free(b);
		return rc < 0 ? CLI_OK : rc;
	}
	rc = CLI_BAD_INPUT;
	catch_signals();
	if (host_checks(b) != 0)
		goto out;
	int guest = run_guest(b);
	notes(b);
	if (guest != 0)
		goto out;
	if (b->json)
		report_json(b);
	else
		report_table(b);
	if (b->maps)
		print_maps(b);
	fflush(stdout);
	if (b->st.data_frames != b->sent) {
		fprintf(stderr,
		        "dpf boot: the host sent %llu data frames; the guest "
		        "classified %llu\n",
		        (unsigned long long)b->sent,
		        (unsigned long long)b->st.data_frames);
		goto out;
	}
	if (b->t.damaged) {
		fprintf(stderr, "%s: capture damaged after %zu packets: %s\n",
		        b->trace_path, b->t.n, b->t.err);
		goto out;
	}
	rc = CLI_OK;
out:
	if (b->dump) {
		char msg[600];
		if (cli_dump_close(b->dump, msg, sizeof msg) != 0 && rc == CLI_OK) {
			fprintf(stderr, "%s: error: %s\n", b->out, msg);
			rc = CLI_BAD_INPUT;
		}
		if (rc != CLI_OK)
			unlink(b->out); /* never leave a half-written capture */
		sig_out = NULL;
	}
	release(b);
	free(b);
	return rc;
}
