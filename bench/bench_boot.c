/*
 * bench_boot.c - the kernel path under QEMU: what a handler (ASH) saves in
 * latency against the ring path, and what demultiplexing plus a handler
 * cost per frame as the number of installed filters grows.
 *
 * Part 1, latency, per seed (one guest per seed, both paths in it): the
 * same generated workload of UDP echo requests (port 7; IMIX-like sizes,
 * 60 to 1,442 bytes, built by cli/frame.c with correct checksums; 64
 * clients with random source ports; random payload) answered
 *   ash   by the example handler udp_echo (XDP_TX) bound to the filter
 *         `udp.dport == 7`, transmitted by the kernel at arrival;
 *   ring  with no handler: the frame is copied to the owner's ring 0, the
 *         RX batch ends, then the stand-in application (CONFIG echo=1)
 *         takes it off the ring and sends it back.
 * For each path, after a warm-up (64 frames, then RESET): the whole
 * workload sent as fast as the guest takes it ("burst", the way `dpf
 * boot` replays a trace: frames queue in the NIC's RX ring and are taken
 * in batches), then, after another RESET, "ping": one request
 * outstanding at a time (send one frame, wait for its echo, repeat).
 * Figures: the guest's own per-path histograms (LAT: TSC cycles from the
 * main loop seeing the frame to the reply's TDT write), median and p99,
 * in cycles and in ns at the guest's TSC rate; and, for ping, the round
 * trip the host sees (clock_gettime around send and receipt of the
 * echo).  Then the seeds pooled (histograms summed, RTT samples merged)
 * and the ratio ring / ash of the medians.
 *
 * Part 2, flat in N: for N = 1, 100 and 10,000 installed flow filters
 * `ip.dst == A and udp.dport == P` (random destinations in 10/8, four
 * ports per host), the example handler counters (PASS, two map updates)
 * bound to one of them; a burst of frames, half to that flow and half to
 * the others; the guest's KSH_LAT_HOOK histogram (arrival to the
 * handler's verdict: demux plus handler) for the handled flow's frames,
 * median and p99.
 *
 * Every figure comes from one QEMU (TCG) guest on a machine shared with
 * other work: cycles are the guest's TSC, which under TCG follows the
 * host's clock, so they include the emulator's own time (the TDT and RDT
 * writes run QEMU's e1000e model before they return; on TDT, its
 * transmit of the frame).
 *
 * Usage: bench_boot [--quick] [--seeds S] [--frames F] [--ping K]
 *                   [--kernel PATH]
 * Exit status 1 when a guest fails or a count does not add up (every
 * request echoed, every frame accounted).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "bench/common.h"
#include "cli/frame.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "dpf/dpf.h"

#define STEP_MS 60000
#define WARM 64
#define CHUNK (KSH_PAYLOAD_MAX - sizeof(struct ksh_ash_chunk))
#define IR_CHUNK (KSH_PAYLOAD_MAX - sizeof(struct ksh_ir_chunk))
#define BATCH_MAX ((KSH_PAYLOAD_MAX - 8) / 4)
#define ECHO_PORT 7

enum { P_ASH, P_RING, NPATHS };
static const char *const path_name[NPATHS] = {"ash", "ring"};

struct opts {
	int seeds, frames, ping;
	const char *kernel;
	char qemu[PATH_MAX];
};

/* A guest and what it sent us. */
struct guest {
	struct cli_ksh *c;
	struct cli_ksh_reply r;
	struct ksh_cred who;
	uint64_t tsc_hz;
	uint64_t echoes;
};

static void on_frame(void *ctx, const uint8_t *f, size_t len)
{
	(void)f;
	(void)len;
	((struct guest *)ctx)->echoes++;
}

__attribute__((noreturn)) static void guest_die(struct guest *g,
                                                const char *what)
{
	fprintf(stderr, "bench_boot: %s: %s\n", what, cli_ksh_error(g->c));
	cli_ksh_log_tail(g->c, stderr, 30);
	cli_ksh_free(g->c);
	exit(1);
}

/* A request the guest must grant. */
static void call(struct guest *g, uint8_t op, const char *name,
                 const void *p, size_t len)
{
	if (cli_ksh_call(g->c, op, p, len, &g->r) != 0)
		guest_die(g, name);
	if (g->r.status != KSH_OK) {
		fprintf(stderr, "bench_boot: the guest refused %s: %s (%d)\n", name,
		        g->r.reason, (int)g->r.status);
		cli_ksh_free(g->c);
		exit(1);
	}
}

static void boot(struct guest *g, const struct opts *o)
{
	memset(g, 0, sizeof *g);
	struct cli_ksh_opts ko = {o->qemu, o->kernel, CLI_NIC_E1000E, {0},
	                          STEP_MS, NULL, 0};
	memcpy(ko.mac, cli_ksh_guest_mac, 6);
	char err[PATH_MAX + 200];
	if (cli_ksh_spawn(&ko, &g->c, err, sizeof err) != 0)
		die("cannot start QEMU: %s", err);
	cli_ksh_on_frame(g->c, on_frame, g);
	struct ksh_hello h;
	uint64_t ns;
	if (cli_ksh_hello(g->c, &h, &ns) != 0)
		guest_die(g, "the guest did not boot");
	g->tsc_hz = h.tsc_hz;
	struct ksh_cred admin = cli_ksh_admin(g->c);
	call(g, KSH_OP_OWNER, "OWNER", &admin, sizeof admin);
	struct ksh_owner_reply own;
	memcpy(&own, g->r.body, sizeof own);
	g->who.owner = own.owner;
	g->who.cap = own.cap;
}

static void finish(struct guest *g)
{
	if (cli_ksh_exit(g->c, 0) != 0)
		guest_die(g, "the guest did not exit cleanly");
	cli_ksh_free(g->c);
}

static void reset(struct guest *g)
{
	struct ksh_cred admin = cli_ksh_admin(g->c);
	call(g, KSH_OP_RESET, "RESET", &admin, sizeof admin);
}

static void config(struct guest *g, uint32_t echo)
{
	struct ksh_config cf = {g->who, echo, 0};
	call(g, KSH_OP_CONFIG, "CONFIG", &cf, sizeof cf);
}

static struct ksh_stats stats(struct guest *g)
{
	struct ksh_stats st;
	call(g, KSH_OP_STATS, "STATS", &g->who, sizeof g->who);
	memcpy(&st, g->r.body, sizeof st);
	return st;
}

static void lat(struct guest *g, uint32_t path, struct cli_ksh_lat *out)
{
	if (cli_ksh_lat(g->c, g->who, path, out) != 0)
		guest_die(g, "LAT");
}

/* Install the filters of src in batches an INSERT reply can list; ids[i]
 * gets filter i's id in the guest. */
static void install_text(struct guest *g, const char *src, int32_t *ids)
{
	struct dpf_prog *p = parse_or_die("bench", src, strlen(src));
	uint8_t pl[KSH_PAYLOAD_MAX];
	for (uint32_t i = 0; i < p->nfilters;) {
		uint32_t n = p->nfilters - i < BATCH_MAX ? p->nfilters - i : BATCH_MAX;
		struct dpf_prog sub = {n, &p->filters[i]};
		long len = dpf_ir_write(&sub, NULL, 0);
		if (len <= 0 || (unsigned long)len > KSH_IR_MAX)
			die("filters %u..%u: %ld bytes of IR", i, i + n - 1, len);
		uint8_t *ir = xmalloc((size_t)len);
		if (dpf_ir_write(&sub, ir, (size_t)len) != len)
			die("cannot serialise the filters");
		for (size_t off = 0; off < (size_t)len; off += IR_CHUNK) {
			size_t m = (size_t)len - off < IR_CHUNK ? (size_t)len - off
			                                        : IR_CHUNK;
			struct ksh_ir_chunk h = {g->who, (uint32_t)off, (uint32_t)len};
			memcpy(pl, &h, sizeof h);
			memcpy(pl + sizeof h, ir + off, m);
			call(g, KSH_OP_IR, "IR", pl, sizeof h + m);
		}
		free(ir);
		struct ksh_insert in = {g->who, 0};
		call(g, KSH_OP_INSERT, "INSERT", &in, sizeof in);
		if (g->r.len < 4 + 4 * (size_t)n)
			die("the INSERT reply lists too few ids");
		for (uint32_t k = 0; k < n; k++)
			memcpy(&ids[i + k], g->r.body + 4 + 4 * k, 4);
		i += n;
	}
	dpf_prog_free(dpf_host_libc(), p);
}

/* The object's program image bound to filter id. */
static void attach(struct guest *g, const char *obj, int32_t id)
{
	size_t n;
	uint8_t *elf = NULL;
	FILE *f = fopen(obj, "rb");
	if (!f)
		die("cannot open %s", obj);
	fseek(f, 0, SEEK_END);
	n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	elf = xmalloc(n);
	if (fread(elf, 1, n, f) != n)
		die("cannot read %s", obj);
	fclose(f);
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	if (ash_load_elf(elf, n, NULL, NULL, 0, &img, &d) != 0)
		die("%s: %s", obj, d.msg);
	free(elf);
	long w = ash_image_write(img, NULL, 0);
	uint8_t *buf = xmalloc((size_t)w);
	ash_image_write(img, buf, (size_t)w);
	ash_image_free(dpf_host_libc(), img);
	struct ksh_ash_begin b = {g->who, id, (uint32_t)w,
	                          ksh_crc32(buf, (uint32_t)w)};
	call(g, KSH_OP_ASH_BEGIN, "ASH_BEGIN", &b, sizeof b);
	uint8_t pl[KSH_PAYLOAD_MAX];
	for (size_t off = 0; off < (size_t)w; off += CHUNK) {
		size_t m = (size_t)w - off < CHUNK ? (size_t)w - off : CHUNK;
		struct ksh_ash_chunk h = {g->who, (uint32_t)off};
		memcpy(pl, &h, sizeof h);
		memcpy(pl + sizeof h, buf + off, m);
		call(g, KSH_OP_ASH_CHUNK, "ASH_CHUNK", pl, sizeof h + m);
	}
	call(g, KSH_OP_ASH_COMMIT, "ASH_COMMIT", &g->who, sizeof g->who);
	free(buf);
}

/* ---- the workload ---- */

/* IMIX-like: 7 of 12 frames about 64 bytes, 4 about 594, 1 of the
 * largest cli_frame_build makes (1,442: 1,400 bytes of UDP payload),
 * jittered, the small ones down to the 60-byte minimum. */
static size_t frame_len(struct cli_rng *s)
{
	uint64_t r = cli_rng_next(s);
	size_t j = (size_t)(r >> 32) % 33;
	switch (r % 12) {
	case 0:
		return 14 + 20 + 8 + CLI_PAYLOAD_MAX - j;
	case 1:
	case 2:
	case 3:
	case 4:
		return 594 - 16 + j;
	default:
		return 60 + j / 2;
	}
}

/* An IPv4 UDP frame of about len bytes (cli_frame_build: checksums
 * right, random payload; at least 60) from client `client` (10.0.C.C+1)
 * to dst:dport, random source port; returns its length. */
static uint32_t udp_frame(uint8_t *f, size_t len, uint32_t client,
                          uint32_t dst, uint16_t dport, struct cli_rng *s)
{
	struct cli_frame_spec sp;
	memset(&sp, 0, sizeof sp);
	memcpy(sp.dmac, cli_ksh_guest_mac, 6);
	memcpy(sp.smac, cli_ksh_host_mac, 6);
	sp.src[0] = 10;
	sp.src[2] = (uint8_t)client;
	sp.src[3] = (uint8_t)(client + 1);
	for (int i = 0; i < 4; i++)
		sp.dst[i] = (uint8_t)(dst >> (24 - 8 * i));
	sp.proto = CLI_P_UDP;
	sp.sport = (uint16_t)(1024 + cli_rng_below(s, 64000));
	sp.dport = dport;
	sp.paylen = len > 42 ? (uint32_t)(len - 42) : 0;
	return (uint32_t)cli_frame_build(f, &sp, s, NULL);
}

#define GUEST_IP 0x0a010001u /* 10.1.0.1 */

/* Whole frames held in memory (bench/common.h's traces keep only the
 * headers). */
struct frames {
	uint8_t (*f)[CLI_FRAME_MAX];
	uint32_t *len;
	uint32_t n;
};

static void echo_frames(struct frames *t, uint32_t n, uint64_t seed)
{
	struct cli_rng s = {seed};
	t->f = xmalloc((size_t)n * sizeof *t->f);
	t->len = xmalloc((size_t)n * sizeof *t->len);
	t->n = n;
	for (uint32_t i = 0; i < n; i++)
		t->len[i] = udp_frame(t->f[i], frame_len(&s), cli_rng_below(&s, 64),
		                      GUEST_IP, ECHO_PORT, &s);
}

static void frames_free(struct frames *t)
{
	free(t->f);
	free(t->len);
}

static void send_frame(struct guest *g, const uint8_t *f, size_t len)
{
	if (cli_ksh_send_raw(g->c, f, len) != 0)
		guest_die(g, "sending a frame");
}

static void wait_echoes(struct guest *g, uint64_t want)
{
	if (cli_ksh_pump(g->c, STEP_MS, &g->echoes, want) != 0)
		guest_die(g, "waiting for echoes");
	if (g->echoes < want) {
		fprintf(stderr, "bench_boot: %llu of %llu echoes came back\n",
		        (unsigned long long)g->echoes, (unsigned long long)want);
		cli_ksh_free(g->c);
		exit(1);
	}
}

/* One request outstanding: frames [from, from + n) of t, each sent
 * after the previous echo came back; rtt[i] the host's ns for each. */
static void ping(struct guest *g, const struct frames *t, uint32_t from,
                 uint32_t n, uint64_t *rtt)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = (from + i) % t->n;
		uint64_t want = g->echoes + 1, t0 = now_ns();
		send_frame(g, t->f[k], t->len[k]);
		wait_echoes(g, want);
		if (rtt)
			rtt[i] = now_ns() - t0;
	}
}

static void burst(struct guest *g, const struct frames *t)
{
	uint64_t want = g->echoes + t->n;
	for (uint32_t i = 0; i < t->n; i++)
		send_frame(g, t->f[i], t->len[i]);
	wait_echoes(g, want);
}

/* ---- figures ---- */

static void lat_add(struct cli_ksh_lat *sum, const struct cli_ksh_lat *l)
{
	for (uint32_t i = 0; i < KSH_LAT_BUCKETS; i++)
		sum->count[i] += l->count[i];
	sum->samples += l->samples;
}

static double cyc_ns(double c, uint64_t hz)
{
	return hz ? c * 1e9 / (double)hz : 0;
}

/* What one path measured: in-guest burst and ping histograms, host RTT. */
struct path_fig {
	struct cli_ksh_lat burst, ping;
	struct cli_ksh_lat tdt, rdt; /* the doorbells, during ping */
	uint64_t *rtt;
	uint32_t nrtt;
};

static void row(const char *label, const char *path,
                const struct path_fig *p, uint64_t hz)
{
	double bm = cli_ksh_lat_quantile(&p->burst, 0.5);
	double b99 = cli_ksh_lat_quantile(&p->burst, 0.99);
	double pm = cli_ksh_lat_quantile(&p->ping, 0.5);
	double p99 = cli_ksh_lat_quantile(&p->ping, 0.99);
	uint64_t *tmp = xmalloc((p->nrtt ? p->nrtt : 1) * sizeof *tmp);
	memcpy(tmp, p->rtt, p->nrtt * sizeof *tmp);
	struct lat r = lat_of(tmp, p->nrtt);
	free(tmp);
	printf("%-6s %-5s %10.0f %10.0f %9.1f %9.1f | %9.0f %9.0f %8.1f %8.1f "
	       "| %8.1f %8.1f\n",
	       label, path, bm, b99, cyc_ns(bm, hz) / 1e3, cyc_ns(b99, hz) / 1e3,
	       pm, p99, cyc_ns(pm, hz) / 1e3, cyc_ns(p99, hz) / 1e3, r.med,
	       r.p99);
}

static void ratio_row(const char *label, const struct path_fig *p)
{
	double bm[NPATHS], pm[NPATHS];
	for (int k = 0; k < NPATHS; k++) {
		bm[k] = cli_ksh_lat_quantile(&p[k].burst, 0.5);
		pm[k] = cli_ksh_lat_quantile(&p[k].ping, 0.5);
	}
	uint64_t *a = xmalloc(p[P_ASH].nrtt * sizeof *a);
	uint64_t *b = xmalloc(p[P_RING].nrtt * sizeof *b);
	memcpy(a, p[P_ASH].rtt, p[P_ASH].nrtt * sizeof *a);
	memcpy(b, p[P_RING].rtt, p[P_RING].nrtt * sizeof *b);
	struct lat ra = lat_of(a, p[P_ASH].nrtt), rb = lat_of(b, p[P_RING].nrtt);
	free(a);
	free(b);
	printf("%-6s %-5s %10.2fx %31s | %8.2fx %37s | %7.2fx\n", label,
	       "ring/ash", bm[P_ASH] ? bm[P_RING] / bm[P_ASH] : 0, "",
	       pm[P_ASH] ? pm[P_RING] / pm[P_ASH] : 0, "",
	       ra.med ? rb.med / ra.med : 0);
}

/* Part 1 for one seed: both paths in one guest. */
static void latency_seed(const struct opts *o, uint64_t seed,
                         struct path_fig *fig, uint64_t *hz)
{
	struct frames t;
	echo_frames(&t, (uint32_t)o->frames, seed);
	struct guest *g = xcalloc(1, sizeof *g);
	boot(g, o);
	*hz = g->tsc_hz;
	int32_t id;
	install_text(g, "filter echo { udp.dport == 7 }", &id);
	for (int p = 0; p < NPATHS; p++) {
		if (p == P_ASH) {
			attach(g, BENCH_BOOT_OBJDIR "/udp_echo.o", id);
			config(g, 0);
		} else {
			struct ksh_ash_ref ref = {g->who, id};
			call(g, KSH_OP_ASH_DETACH, "ASH_DETACH", &ref, sizeof ref);
			config(g, 1);
		}
		ping(g, &t, 0, WARM, NULL);
		reset(g);
		burst(g, &t);
		struct ksh_stats st = stats(g);
		uint32_t want = p == P_ASH ? KSH_LAT_ASH : KSH_LAT_RING;
		lat(g, want, &fig[p].burst);
		if (fig[p].burst.samples != t.n || st.dropped || st.refused)
			die("%s path: %llu samples for %u frames, %llu dropped, %llu "
			    "refused",
			    path_name[p], (unsigned long long)fig[p].burst.samples,
			    t.n, (unsigned long long)st.dropped,
			    (unsigned long long)st.refused);
		reset(g);
		fig[p].nrtt = (uint32_t)o->ping;
		fig[p].rtt = xmalloc((size_t)o->ping * sizeof *fig[p].rtt);
		ping(g, &t, 0, (uint32_t)o->ping, fig[p].rtt);
		lat(g, want, &fig[p].ping);
		lat(g, KSH_LAT_TDT, &fig[p].tdt);
		lat(g, KSH_LAT_RDT, &fig[p].rdt);
		if (fig[p].ping.samples != (uint64_t)o->ping)
			die("%s path: %llu samples for %d pings", path_name[p],
			    (unsigned long long)fig[p].ping.samples, o->ping);
	}
	finish(g);
	free(g);
	frames_free(&t);
}

static void part_latency(const struct opts *o)
{
	struct path_fig *all = xcalloc((size_t)o->seeds * NPATHS, sizeof *all);
	uint64_t hz = 0;
	printf("latency: UDP echo, %d frames per seed (60-1,442 bytes), %d pings "
	       "one outstanding; guest cycles from arrival to the reply on the "
	       "TX ring\n\n",
	       o->frames, o->ping);
	printf("%-6s %-5s %10s %10s %9s %9s | %9s %9s %8s %8s | %8s %8s\n", "seed",
	       "path", "burst med", "p99", "med us", "p99 us", "ping med", "p99",
	       "med us", "p99 us", "RTT med", "p99 us");
	for (int s = 0; s < o->seeds; s++) {
		struct path_fig *fig = &all[s * NPATHS];
		latency_seed(o, (uint64_t)s + 1, fig, &hz);
		char label[16];
		snprintf(label, sizeof label, "%d", s + 1);
		for (int p = 0; p < NPATHS; p++)
			row(label, path_name[p], &fig[p], hz);
		ratio_row(label, fig);
		fflush(stdout);
	}
	struct path_fig pooled[NPATHS];
	memset(pooled, 0, sizeof pooled);
	for (int p = 0; p < NPATHS; p++) {
		pooled[p].rtt = xmalloc((size_t)o->seeds * (size_t)o->ping *
		                        sizeof *pooled[p].rtt);
		for (int s = 0; s < o->seeds; s++) {
			const struct path_fig *f = &all[s * NPATHS + p];
			lat_add(&pooled[p].burst, &f->burst);
			lat_add(&pooled[p].ping, &f->ping);
			lat_add(&pooled[p].tdt, &f->tdt);
			lat_add(&pooled[p].rdt, &f->rdt);
			memcpy(pooled[p].rtt + pooled[p].nrtt, f->rtt,
			       f->nrtt * sizeof *f->rtt);
			pooled[p].nrtt += f->nrtt;
		}
	}
	for (int p = 0; p < NPATHS; p++)
		row("all", path_name[p], &pooled[p], hz);
	ratio_row("all", pooled);
	printf("\nTSC %.3f GHz.  burst: the workload sent as fast as the guest "
	       "takes it; ping: one request outstanding; RTT: host clock, send to "
	       "echo received (us).\n",
	       (double)hz / 1e9);
	printf("doorbells during ping, all seeds (cycles: median, p99): the TDT "
	       "write (QEMU's transmit) is part of both paths, the RDT write of "
	       "the ring path only\n");
	for (int p = 0; p < NPATHS; p++)
		printf("  %-5s TDT %9.0f %9.0f   RDT %9.0f %9.0f\n", path_name[p],
		       cli_ksh_lat_quantile(&pooled[p].tdt, 0.5),
		       cli_ksh_lat_quantile(&pooled[p].tdt, 0.99),
		       cli_ksh_lat_quantile(&pooled[p].rdt, 0.5),
		       cli_ksh_lat_quantile(&pooled[p].rdt, 0.99));
	putchar('\n');
	for (int i = 0; i < o->seeds * NPATHS; i++)
		free(all[i].rtt);
	for (int p = 0; p < NPATHS; p++)
		free(pooled[p].rtt);
	free(all);
}

/* Part 2: demux + handler cycles with n flow filters installed. */
static void flat_n(const struct opts *o, uint32_t n, uint64_t seed)
{
	struct cli_rng s = {seed};
	uint32_t *dst = xmalloc(n * sizeof *dst);
	uint16_t *port = xmalloc(n * sizeof *port);
	size_t cap = (size_t)n * 64 + 64, used = 0;
	char *src = xmalloc(cap);
	for (uint32_t i = 0; i < n; i++) {
		/* four ports per host; hosts random in 10/8, none repeated (the
		 * index is in the low bits) */
		uint32_t host = i / 4;
		dst[i] = 0x0a000000u | (cli_rng_below(&s, 256) << 16) |
		         (host & 0xffff);
		if (i % 4)
			dst[i] = dst[i - 1];
		port[i] = (uint16_t)(1000 + 7 * (i % 4) + (uint32_t)(host % 97));
		used += (size_t)snprintf(src + used, cap - used,
		                         "filter f%u { ip.dst == %u.%u.%u.%u and "
		                         "udp.dport == %u }\n",
		                         i, dst[i] >> 24, (dst[i] >> 16) & 0xff,
		                         (dst[i] >> 8) & 0xff, dst[i] & 0xff,
		                         (unsigned)port[i]);
	}
	struct guest *g = xcalloc(1, sizeof *g);
	boot(g, o);
	int32_t *ids = xmalloc(n * sizeof *ids);
	uint64_t t0 = now_ns();
	install_text(g, src, ids);
	double install_s = (double)(now_ns() - t0) / 1e9;
	uint32_t h = n / 2;
	attach(g, BENCH_BOOT_OBJDIR "/counters.o", ids[h]);
	config(g, 0);
	uint8_t f[CLI_FRAME_MAX];
	uint32_t frames = (uint32_t)o->frames, handled = 0;
	for (uint32_t i = 0; i < WARM; i++)
		send_frame(g, f, udp_frame(f, frame_len(&s), i % 64, dst[h], port[h],
		                           &s));
	reset(g);
	for (uint32_t i = 0; i < frames; i++) {
		uint32_t k = i % 2 ? cli_rng_below(&s, n) : h;
		send_frame(g, f, udp_frame(f, frame_len(&s), i % 64, dst[k], port[k],
		                           &s));
		handled += k == h;
	}
	struct ksh_stats st = stats(g);
	struct cli_ksh_lat l;
	lat(g, KSH_LAT_HOOK, &l);
	if (l.samples != handled || st.unmatched || st.refused ||
	    st.delivered != frames)
		die("%u filters: %llu hook samples for %u handled frames, %llu "
		    "unmatched, %llu refused, %llu of %u delivered",
		    n, (unsigned long long)l.samples, handled,
		    (unsigned long long)st.unmatched, (unsigned long long)st.refused,
		    (unsigned long long)st.delivered, frames);
	double m = cli_ksh_lat_quantile(&l, 0.5), p = cli_ksh_lat_quantile(&l, 0.99);
	printf("%9u %10u %10.0f %10.0f %9.0f %9.0f %10.1f %6s\n", n, handled, m,
	       p, cyc_ns(m, g->tsc_hz), cyc_ns(p, g->tsc_hz), install_s,
	       st.jit_attached ? "x86" : "interp");
	fflush(stdout);
	finish(g);
	free(g);
	free(ids);
	free(src);
	free(dst);
	free(port);
}

static void part_flat(const struct opts *o, int quick)
{
	static const uint32_t ns[] = {1, 100, 10000};
	printf("demux + handler (counters) per frame, arrival to verdict, %d "
	       "frames (half to the handled flow)\n\n",
	       o->frames);
	printf("%9s %10s %10s %10s %9s %9s %10s %6s\n", "filters", "handled",
	       "med cyc", "p99 cyc", "med ns", "p99 ns", "install s", "engine");
	for (size_t i = 0; i < sizeof ns / sizeof ns[0] - (quick ? 1 : 0); i++)
		flat_n(o, ns[i], 7);
	putchar('\n');
}

static void usage(FILE *f)
{
	fputs("usage: bench_boot [--quick] [--seeds S] [--frames F] [--ping K]\n"
	      "                  [--kernel PATH]\n"
	      "The kernel path under QEMU: ASH against ring latency per seed, and\n"
	      "demux + handler cycles with 1, 100 and 10,000 filters installed.\n"
	      "--quick: one seed, 500 frames, 100 pings, N up to 100.\n",
	      f);
}

int main(int argc, char **argv)
{
	struct opts o = {3, 3000, 300, NULL, {0}};
	int quick = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quick")) {
			quick = 1;
			o.seeds = 1;
			o.frames = 500;
			o.ping = 100;
		} else if (!strcmp(a, "--seeds") && i + 1 < argc) {
			o.seeds = atoi(argv[++i]);
		} else if (!strcmp(a, "--frames") && i + 1 < argc) {
			o.frames = atoi(argv[++i]);
		} else if (!strcmp(a, "--ping") && i + 1 < argc) {
			o.ping = atoi(argv[++i]);
		} else if (!strcmp(a, "--kernel") && i + 1 < argc) {
			o.kernel = argv[++i];
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (o.seeds < 1 || o.seeds > 100 || o.frames < 1 || o.frames > 1000000 ||
	    o.ping < 1 || o.ping > 100000) {
		fprintf(stderr, "bench_boot: --seeds 1..100, --frames 1..1000000, "
		                "--ping 1..100000\n");
		return 2;
	}
	if (!o.kernel) {
		const char *k = getenv("DPF_KERNEL");
		o.kernel = k && *k ? k : BENCH_BOOT_KERNEL;
	}
	char err[PATH_MAX + 200];
	if (cli_qemu_find(o.qemu, sizeof o.qemu, err, sizeof err) != 0)
		die("%s", err);
	char machine[512];
	machine_line(machine, sizeof machine);
	printf("bench_boot: %s\nkernel %s, QEMU TCG, e1000e; the machine may be "
	       "shared with other work\n\n",
	       machine, o.kernel);
	part_latency(&o);
	part_flat(&o, quick);
	return 0;
}
