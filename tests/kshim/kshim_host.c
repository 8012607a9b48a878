/*
 * kshim_host.c - drives the kernel-shim over its NIC, as the host side
 * will: QEMU is started with a socketpair-backed `-netdev dgram` (one
 * Ethernet frame per datagram), and this program speaks the control
 * protocol of kernel-shim/ksh_proto.h to it and sends data frames.
 *
 *   kshim_host QEMU KERNEL NIC-MODEL [CPU-MODEL]
 *
 * CPU-MODEL defaults to max (which has RDRAND; qemu64 has not, and the
 * capability key then comes from the seed= the client passes).
 *
 * Checks, in order: HELLO; two owners (created with the admission
 * credential the client put on the kernel command line; OWNER without a
 * credential refused); malformed requests (wrong version,
 * unknown op, payload past the frame, bad capability, short payload) each
 * refused with its status while the kernel keeps serving; IR staging
 * errors (gap, oversized, INSERT with nothing staged, garbage IR); filters
 * from filter text (dpf_lang) staged in small chunks and installed; secure
 * binding (an overlapping filter of another owner refused without a grant,
 * accepted with one); all-or-none insertion; data frames classified,
 * delivered, echoed back unchanged by the stand-in application and
 * counted per filter; the accounting invariant under a burst into a ring
 * drained one frame per poll; RESET; DELETE; a flow table of many filters
 * staged over many chunks; random data frames counted by the kernel (JIT)
 * exactly as the hosted interpreter, holding the same filters, counts
 * them; random control frames, each request answered once and each
 * reply (KSH_REPLY set) never, counted in ctl_ignored; EXIT (admission
 * credential) with QEMU's status.
 * The channel itself is the CLI's client (cli/ksh_client.h).  Prints the
 * serial log on failure.  Exit 0 when every check passed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/ksh_client.h"
#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "kernel-shim/ksh_proto.h"

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                      \
		if (!(cond)) {                                                        \
			failures++;                                                       \
			fprintf(stderr, "kshim_host: FAIL line %d: ", __LINE__);          \
			fprintf(stderr, __VA_ARGS__);                                     \
			fprintf(stderr, "\n");                                            \
		}                                                                     \
	} while (0)

/* The control channel is the CLI's client (cli/ksh_client.h): it starts
 * QEMU, keeps the guest's TX drained while it sends, and matches replies;
 * this program adds the checks. */
static const uint8_t *const host_mac = cli_ksh_host_mac;

struct vm {
	struct cli_ksh *c;
	uint8_t mac[6];
	uint64_t echoes;          /* data frames received back */
	uint8_t last_echo[1514];
	size_t last_echo_len;
};

/* A data frame came back (the stand-in application echoed it). */
static void note_echo(void *ctx, const uint8_t *f, size_t n)
{
	struct vm *v = ctx;
	size_t len = n < sizeof v->last_echo ? n : sizeof v->last_echo;
	v->echoes++;
	memcpy(v->last_echo, f, len);
	v->last_echo_len = n;
}

static void vm_start(struct vm *v, const char *qemu, const char *kernel,
                     const char *model, const char *cpu)
{
	struct cli_ksh_opts o = {qemu, kernel, (enum cli_nic)cli_nic_parse(model),
	                         {0}, 20000, cpu, 0};
	memcpy(o.mac, cli_ksh_guest_mac, 6);
	char err[400];
	if ((int)o.nic < 0 || cli_ksh_spawn(&o, &v->c, err, sizeof err) != 0) {
		fprintf(stderr, "kshim_host: cannot start QEMU: %s\n",
		        (int)o.nic < 0 ? "unknown NIC model" : err);
		exit(2);
	}
	cli_ksh_on_frame(v->c, note_echo, v);
}

static void vm_send(struct vm *v, const uint8_t *f, size_t n)
{
	if (cli_ksh_send_raw(v->c, f, n) != 0) {
		fprintf(stderr, "kshim_host: send: %s\n", cli_ksh_error(v->c));
		exit(2);
	}
}

/* A reply, its body copied out. */
struct reply {
	uint8_t op;
	uint32_t seq;
	int32_t status;
	uint8_t body[KSH_PAYLOAD_MAX];
	uint32_t blen;
	char reason[KSH_PAYLOAD_MAX + 1];
};

static void take_reply(struct reply *r, const struct cli_ksh_reply *cr)
{
	CHECK(memcmp(cr->frame, host_mac, 6) == 0,
	      "reply sent to the requester's MAC");
	r->op = cr->op;
	r->seq = cr->seq;
	r->status = cr->status;
	r->blen = (uint32_t)cr->len;
	memcpy(r->body, cr->body, cr->len);
	snprintf(r->reason, sizeof r->reason, "%s", cr->status ? cr->reason : "");
}

/* The next control reply, whatever its seq; data frames that come
 * meanwhile are counted as echoes.  0, or -1 after the client's
 * timeout. */
static int next_reply(struct vm *v, struct reply *r)
{
	static struct cli_ksh_reply cr;
	if (cli_ksh_next_reply(v->c, &cr) != 0)
		return -1;
	take_reply(r, &cr);
	return 0;
}

static void frame_hdr(struct vm *v, uint8_t *f)
{
	memcpy(f, v->mac, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = KSH_ETHERTYPE >> 8;
	f[13] = KSH_ETHERTYPE & 0xff;
}

/* One request, one reply: the reply's status (or -100 when none came). */
static int32_t request(struct vm *v, uint8_t op, const void *pay, uint16_t len,
                       struct reply *r)
{
	static struct cli_ksh_reply cr;
	if (cli_ksh_call(v->c, op, pay, len, &cr) != 0) {
		CHECK(0, "no reply to op %u: %s", op, cli_ksh_error(v->c));
		return -100;
	}
	take_reply(r, &cr);
	return r->status;
}

/* Stage IR in chunks of `chunk` bytes: 0 or the first refusal. */
static int32_t stage(struct vm *v, struct ksh_cred who, const uint8_t *ir,
                     uint32_t n, uint32_t chunk, struct reply *r)
{
	uint8_t p[KSH_PAYLOAD_MAX];
	for (uint32_t off = 0; off < n; off += chunk) {
		uint32_t c = n - off < chunk ? n - off : chunk;
		struct ksh_ir_chunk h = {who, off, n};
		memcpy(p, &h, sizeof h);
		memcpy(p + sizeof h, ir + off, c);
		int32_t s = request(v, KSH_OP_IR, p, (uint16_t)(sizeof h + c), r);
		if (s != 0)
			return s;
	}
	return 0;
}

/* The hosted mirror of the kernel's filter set: every filter the kernel
 * accepted, inserted here too, so the interpreter can say what the kernel
 * should have counted; and the kernel ids the INSERT replies reported. */
static struct dpf_engine *mirror;
static struct {
	char name[DPF_NAME_MAX + 1];
	int32_t id;
} known[1024];
static unsigned nknown;

static struct dpf_prog *parse(const char *src)
{
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	if (dpf_lang_parse("test.dpf", src, strlen(src), &prog, &d) != 0) {
		fprintf(stderr, "kshim_host: %s\n", d.msg);
		exit(2);
	}
	return prog;
}

static uint8_t *serialise(const struct dpf_prog *prog, long *n)
{
	*n = dpf_ir_write(prog, NULL, 0);
	uint8_t *buf = malloc((size_t)*n);
	if (!buf || dpf_ir_write(prog, buf, (size_t)*n) != *n)
		exit(2);
	return buf;
}

/* The kernel installed prog: mirror it, and remember the ids it sent. */
static void mirror_insert(const struct dpf_prog *prog, const struct reply *r)
{
	struct ksh_insert_reply ir;
	memcpy(&ir, r->body, sizeof ir);
	uint32_t sent = (r->blen - 4) / 4;
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		struct dpf_diag d;
		CHECK(dpf_insert(mirror, &prog->filters[i], NULL, &d) == 0,
		      "mirror: %s", d.msg);
		if (i < sent && nknown < sizeof known / sizeof known[0]) {
			memcpy(known[nknown].name, prog->filters[i].name,
			       sizeof known[nknown].name);
			memcpy(&known[nknown].id, r->body + 4 + 4 * i, 4);
			nknown++;
		}
	}
}

static void mirror_delete(const char *name)
{
	CHECK(dpf_delete(mirror, dpf_lookup(mirror, name)) == 0, "mirror delete");
	for (unsigned i = 0; i < nknown; i++)
		if (strcmp(known[i].name, name) == 0)
			known[i].id = -1;
}

/* Stage src in chunks of `chunk` bytes and INSERT it; mirrored when the
 * kernel installed it. */
static int32_t insert_chunked(struct vm *v, const char *src,
                              struct ksh_cred who,
                              const struct ksh_cred *grants, uint32_t ngrants,
                              uint32_t chunk, struct reply *r)
{
	long n;
	struct dpf_prog *prog = parse(src);
	uint8_t *ir = serialise(prog, &n);
	int32_t s = stage(v, who, ir, (uint32_t)n, chunk, r);
	free(ir);
	if (s == 0) {
		uint8_t p[KSH_PAYLOAD_MAX];
		struct ksh_insert in = {who, ngrants};
		memcpy(p, &in, sizeof in);
		if (ngrants)
			memcpy(p + sizeof in, grants, ngrants * sizeof *grants);
		s = request(v, KSH_OP_INSERT, p,
		            (uint16_t)(sizeof in + ngrants * sizeof *grants), r);
		if (s == 0)
			mirror_insert(prog, r);
	}
	dpf_prog_free(dpf_host_libc(), prog);
	return s;
}

static int32_t insert(struct vm *v, const char *src, struct ksh_cred who,
                      const struct ksh_cred *grants, uint32_t ngrants,
                      struct reply *r)
{
	return insert_chunked(v, src, who, grants, ngrants, 200, r);
}

/* Ethernet + IPv4 + UDP/TCP to dport, 64 bytes or more, tagged with i. */
static size_t data_frame(struct vm *v, uint8_t *f, uint8_t proto,
                         uint16_t dport, uint32_t i)
{
	memset(f, 0, 128);
	memcpy(f, v->mac, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = proto;
	f[26] = 10, f[29] = 2;               /* 10.0.0.2 */
	f[30] = 10, f[33] = 1;               /* 10.0.0.1 */
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	memcpy(f + 60, &i, 4);
	return 64 + (i % 8);
}

/* The admission credential the client passed to the guest. */
static struct ksh_cred admin;

static struct ksh_stats get_stats(struct vm *v)
{
	struct reply r;
	struct ksh_stats st;
	memset(&st, 0, sizeof st);
	CHECK(request(v, KSH_OP_STATS, &admin, sizeof admin, &r) == 0,
	      "STATS: %s", r.reason);
	CHECK(r.blen == sizeof st, "STATS body %u bytes", r.blen);
	memcpy(&st, r.body, sizeof st);
	return st;
}

static void check_invariant(const struct ksh_stats *st)
{
	CHECK(st->rx_frames == st->ctl_frames + st->data_frames,
	      "rx %lu != ctl %lu + data %lu", (unsigned long)st->rx_frames,
	      (unsigned long)st->ctl_frames, (unsigned long)st->data_frames);
	CHECK(st->data_frames ==
	          st->delivered + st->dropped + st->unmatched + st->refused,
	      "data %lu != delivered %lu + dropped %lu + unmatched %lu + refused %lu",
	      (unsigned long)st->data_frames, (unsigned long)st->delivered,
	      (unsigned long)st->dropped, (unsigned long)st->unmatched,
	      (unsigned long)st->refused);
}

static void wait_echoes(struct vm *v, uint64_t want)
{
	if (cli_ksh_pump(v->c, 5000, &v->echoes, want) != 0)
		CHECK(0, "waiting for echoes: %s", cli_ksh_error(v->c));
	CHECK(v->echoes == want, "%lu echoes, expected %lu",
	      (unsigned long)v->echoes, (unsigned long)want);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: kshim_host QEMU KERNEL NIC-MODEL [CPU-MODEL]\n");
		return 2;
	}
	const char *cpu = argc == 5 ? argv[4] : "max";
	alarm(50);
	double t0 = now_s();
	struct vm vm, *v = &vm;
	memset(v, 0, sizeof *v);
	mirror = dpf_engine_new(dpf_host_libc());
	vm_start(v, argv[1], argv[2], argv[3], cpu);
	struct reply r;
	uint16_t want_nic = strcmp(argv[3], "e1000e") == 0 ? 0x10d3 : 0x100e;

	/* HELLO until the kernel answers (frames that arrive before its NIC is
	 * up are lost), then once more: the reply is exactly a ksh_hello */
	struct ksh_hello hello;
	if (cli_ksh_hello(v->c, &hello, NULL) != 0) {
		CHECK(0, "HELLO: %s", cli_ksh_error(v->c));
		goto out;
	}
	CHECK(request(v, KSH_OP_HELLO, NULL, 0, &r) == 0, "HELLO: %s", r.reason);
	memcpy(&hello, r.body, sizeof hello);
	CHECK(r.blen == sizeof hello, "HELLO body %u", r.blen);
	memcpy(v->mac, hello.mac, 6);
	CHECK(hello.nic == want_nic, "nic %04x", hello.nic);
	CHECK(hello.tsc_hz > 1000000, "tsc_hz %lu", (unsigned long)hello.tsc_hz);
	CHECK(hello.max_owners >= 2 && hello.max_filters > 0, "limits");
	printf("kshim_host: %s: HELLO after %.3f s; boot %lu cycles = %.1f us "
	       "(tsc %lu Hz)\n",
	       argv[3], now_s() - t0, (unsigned long)hello.boot_cycles,
	       hello.boot_cycles * 1e6 / (double)hello.tsc_hz,
	       (unsigned long)hello.tsc_hz);

	/* two owners, created with the admission credential */
	admin = cli_ksh_admin(v->c);
	struct ksh_owner_reply oa, ob;
	CHECK(request(v, KSH_OP_OWNER, NULL, 0, &r) == KSH_EMALFORMED,
	      "OWNER without a credential: %d", r.status);
	CHECK(request(v, KSH_OP_OWNER, &admin, sizeof admin, &r) == 0, "OWNER a");
	memcpy(&oa, r.body, sizeof oa);
	CHECK(request(v, KSH_OP_OWNER, &admin, sizeof admin, &r) == 0, "OWNER b");
	memcpy(&ob, r.body, sizeof ob);
	CHECK(oa.owner != ob.owner && oa.cap != ob.cap && oa.cap && ob.cap,
	      "distinct owners");
	struct ksh_cred ca = {oa.owner, oa.cap}, cb = {ob.owner, ob.cap};
	struct ksh_cred forged = {oa.owner, oa.cap ^ 1};

	/* malformed requests: refused, and the kernel keeps serving */
	{
		uint8_t f[64] = {0};
		frame_hdr(v, f);
		struct ksh_hdr h = {7, KSH_OP_HELLO, 0, 5};
		memcpy(f + 14, &h, sizeof h);
		vm_send(v, f, 60);
		CHECK(next_reply(v, &r) == 0 && r.status == KSH_EMALFORMED &&
		          r.op == (KSH_OP_HELLO | KSH_REPLY) && r.seq == 5,
		      "wrong version: status %d op %u", r.status, r.op);
		printf("kshim_host: wrong version: %s\n", r.reason);
		h = (struct ksh_hdr){KSH_VERSION, KSH_OP_STATS, 200, 6};
		memcpy(f + 14, &h, sizeof h);
		vm_send(v, f, 60);
		CHECK(next_reply(v, &r) == 0 && r.status == KSH_EMALFORMED &&
		          r.seq == 6,
		      "payload past the frame: status %d", r.status);
		printf("kshim_host: payload past the frame: %s\n", r.reason);
		memset(f + 14, 0, 46); /* version 0: treated as malformed */
		vm_send(v, f, 60);
		CHECK(next_reply(v, &r) == 0 && r.status == KSH_EMALFORMED &&
		          r.op == KSH_REPLY,
		      "zero header: status %d op %u", r.status, r.op);
	}
	CHECK(request(v, 77, NULL, 0, &r) == KSH_EMALFORMED, "unknown op");
	printf("kshim_host: unknown op: %s\n", r.reason);
	CHECK(request(v, KSH_OP_CONFIG, &ca, sizeof ca, &r) == KSH_EMALFORMED,
	      "short CONFIG");
	{
		struct ksh_config c = {forged, 1, 0};
		CHECK(request(v, KSH_OP_CONFIG, &c, sizeof c, &r) == KSH_EPERM,
		      "forged capability");
		printf("kshim_host: forged capability: %s\n", r.reason);
	}

	/* IR staging errors */
	{
		struct ksh_insert in = {ca, 0};
		CHECK(request(v, KSH_OP_INSERT, &in, sizeof in, &r) == KSH_ESTATE,
		      "INSERT with nothing staged: %d", r.status);
		uint8_t p[sizeof(struct ksh_ir_chunk) + 24] = {0};
		struct ksh_ir_chunk c = {ca, 8, 100};
		memcpy(p, &c, sizeof c);
		CHECK(request(v, KSH_OP_IR, p, sizeof p, &r) == KSH_ESTATE,
		      "gap in IR chunks: %d", r.status);
		c = (struct ksh_ir_chunk){ca, 0, KSH_IR_MAX + 1};
		memcpy(p, &c, sizeof c);
		CHECK(request(v, KSH_OP_IR, p, sizeof p, &r) == KSH_ENOSPC,
		      "oversized IR: %d", r.status);
		c = (struct ksh_ir_chunk){ca, 0, 24};
		memcpy(p, &c, sizeof c);
		memset(p + sizeof c, 0xee, 24);
		CHECK(request(v, KSH_OP_IR, p, sizeof p, &r) == 0, "garbage staged");
		CHECK(request(v, KSH_OP_INSERT, &in, sizeof in, &r) == KSH_EINVAL,
		      "garbage IR refused: %d", r.status);
		printf("kshim_host: garbage IR: %s\n", r.reason);
	}

	/* owner a: web and dns */
	CHECK(insert(v,
	             "filter web priority 10 { tcp.dport == 80 }\n"
	             "filter dns { udp.dport in {53, 5353} }\n",
	             ca, NULL, 0, &r) == 0,
	      "insert a: %s", r.reason);
	struct ksh_insert_reply ir;
	int32_t ids[2] = {-1, -1};
	memcpy(&ir, r.body, sizeof ir);
	CHECK(ir.n == 2 && r.blen == 12, "2 ids");
	memcpy(ids, r.body + 4, sizeof ids);
	int32_t id_web = ids[0], id_dns = ids[1];

	/* owner b: arp is its own; web80 overlaps a's web */
	CHECK(insert(v, "filter arp_b { arp }\n", cb, NULL, 0, &r) == 0,
	      "insert b arp: %s", r.reason);
	int32_t id_arp;
	memcpy(&id_arp, r.body + 4, 4);
	CHECK(insert(v, "filter web_b priority 20 { ip.dst == 10.0.0.1 and tcp }\n",
	             cb, NULL, 0, &r) == KSH_EPERM,
	      "secure binding: %d %s", r.status, r.reason);
	printf("kshim_host: secure binding: %s\n", r.reason);
	CHECK(insert(v, "filter web_b priority 20 { ip.dst == 10.0.0.9 and tcp }\n",
	             cb, &forged, 1, &r) == KSH_EPERM,
	      "forged grant: %d %s", r.status, r.reason);
	CHECK(insert(v, "filter web_b priority 20 { ip.dst == 10.0.0.9 and tcp }\n",
	             cb, &ca, 1, &r) == 0,
	      "granted: %d %s", r.status, r.reason);
	int32_t id_web_b;
	memcpy(&id_web_b, r.body + 4, 4);

	/* all or none: the second filter's name is taken */
	struct ksh_stats st = get_stats(v);
	uint32_t nf = st.filters;
	CHECK(nf == 4, "4 filters, %u", nf);
	CHECK(insert(v, "filter icmp_a { icmp }\nfilter dns { udp.dport == 1 }\n",
	             ca, NULL, 0, &r) == KSH_EINVAL,
	      "name clash refused: %d", r.status);
	printf("kshim_host: all or none: %s\n", r.reason);
	st = get_stats(v);
	CHECK(st.filters == nf, "nothing installed: %u", st.filters);
	CHECK(st.jit_attached == 1, "JIT attached");

	/* data: a echoes everything */
	{
		struct ksh_config c = {ca, 1, 0};
		CHECK(request(v, KSH_OP_CONFIG, &c, sizeof c, &r) == 0, "CONFIG a");
		CHECK(request(v, KSH_OP_RESET, &admin, sizeof admin, &r) == 0,
		      "RESET");
	}
	uint8_t f[128];
	const uint32_t N = 300;
	for (uint32_t i = 0; i < N; i++) {
		uint16_t port = i % 3 == 0 ? 80 : i % 3 == 1 ? 53 : 9999;
		vm_send(v, f, data_frame(v, f, i % 3 == 0 ? 6 : 17, port, i));
	}
	size_t last_len = data_frame(v, f, 17, 5353, N);
	vm_send(v, f, last_len);
	wait_echoes(v, 2 * N / 3 + 1);
	CHECK(v->last_echo_len == last_len &&
	          memcmp(v->last_echo, f, last_len) == 0,
	      "echo is the frame unchanged");
	st = get_stats(v);
	check_invariant(&st);
	CHECK(st.data_frames == N + 1 && st.unmatched == N / 3 &&
	          st.delivered == 2 * N / 3 + 1 && st.dropped == 0 &&
	          st.refused == 0,
	      "data %lu unmatched %lu delivered %lu", (unsigned long)st.data_frames,
	      (unsigned long)st.unmatched, (unsigned long)st.delivered);
	CHECK(st.consumed == 2 * N / 3 + 1 && st.echoed == st.consumed,
	      "consumed %lu echoed %lu", (unsigned long)st.consumed,
	      (unsigned long)st.echoed);
	CHECK(st.demux_samples == N + 1 && st.demux_cycles_sum > 0, "samples");
	uint64_t hsum = 0;
	for (int i = 0; i < KSH_HIST_BUCKETS; i++)
		hsum += st.hist[i];
	CHECK(hsum == st.demux_samples, "histogram holds every sample");
	printf("kshim_host: demux %.0f cycles/packet mean over %lu\n",
	       (double)st.demux_cycles_sum / (double)st.demux_samples,
	       (unsigned long)st.demux_samples);
	{
		struct ksh_counters_req q = {admin, 0};
		CHECK(request(v, KSH_OP_COUNTERS, &q, sizeof q, &r) == 0, "COUNTERS");
		struct ksh_counters c;
		memcpy(&c, r.body, sizeof c);
		uint64_t m[16] = {0};
		memcpy(m, r.body + sizeof c,
		       (c.n < 16 ? c.n : 16) * sizeof(uint64_t));
		CHECK(c.first == 0 && c.n == c.id_limit && c.n >= 4 && c.n <= 16,
		      "counters n %u", c.n);
		CHECK(id_web >= 0 && id_web < 16 && id_dns >= 0 && id_dns < 16 &&
		          id_arp >= 0 && id_arp < 16 && id_web_b >= 0 && id_web_b < 16,
		      "ids");
		if (failures)
			goto out;
		CHECK(m[id_web] == N / 3 && m[id_dns] == N / 3 + 1 && m[id_arp] == 0 &&
		          m[id_web_b] == 0,
		      "matches web %lu dns %lu", (unsigned long)m[id_web],
		      (unsigned long)m[id_dns]);
	}

	/* b drains one frame per poll: a burst may fill its ring */
	{
		struct ksh_config c = {cb, 0, 1};
		CHECK(request(v, KSH_OP_CONFIG, &c, sizeof c, &r) == 0, "CONFIG b");
		CHECK(request(v, KSH_OP_RESET, &admin, sizeof admin, &r) == 0,
		      "RESET");
		const uint32_t B = 2000;
		for (uint32_t i = 0; i < B; i++) {
			size_t n = data_frame(v, f, 6, 7, i);
			f[30] = 10, f[33] = 9; /* 10.0.0.9: web_b */
			vm_send(v, f, n);
		}
		st = get_stats(v);
		check_invariant(&st);
		CHECK(st.data_frames == B && st.delivered + st.dropped == B,
		      "burst: delivered %lu dropped %lu", (unsigned long)st.delivered,
		      (unsigned long)st.dropped);
		printf("kshim_host: burst of %u into a ring drained 1/poll: "
		       "delivered %lu dropped %lu nic_missed %lu\n",
		       B, (unsigned long)st.delivered, (unsigned long)st.dropped,
		       (unsigned long)st.nic_missed);
	}

	/* DELETE: only by the owner */
	{
		struct ksh_delete d = {cb, id_dns};
		CHECK(request(v, KSH_OP_DELETE, &d, sizeof d, &r) == KSH_EPERM,
		      "delete by another owner: %d", r.status);
		d.who = ca;
		CHECK(request(v, KSH_OP_DELETE, &d, sizeof d, &r) == 0, "delete");
		mirror_delete("dns");
		CHECK(request(v, KSH_OP_DELETE, &d, sizeof d, &r) == KSH_ENOENT,
		      "delete twice: %d", r.status);
		CHECK(request(v, KSH_OP_RESET, &admin, sizeof admin, &r) == 0,
		      "RESET");
		vm_send(v, f, data_frame(v, f, 17, 53, 1));
		st = get_stats(v);
		CHECK(st.unmatched == 1 && st.filters == 3, "deleted filter unmatched");
	}

	/* many filters: a flow table staged over many chunks, then one flow's
	 * frame counted under its id */
	{
		const uint32_t F = 600; /* quadratic with the debug build's trie checks */
		size_t cap = F * 80 + 1, used = 0;
		char *src = malloc(cap);
		for (uint32_t i = 0; i < F; i++)
			used += (size_t)snprintf(src + used, cap - used,
			                         "filter flow%u { ip.dst == 10.2.%u.%u and "
			                         "tcp.dport == %u }\n",
			                         i, i / 250, i % 250, 1000 + i);
		double t = now_s();
		const uint32_t most =
			(uint32_t)(KSH_PAYLOAD_MAX - sizeof(struct ksh_ir_chunk));
		CHECK(insert_chunked(v, src, ca, NULL, 0, most, &r) == 0,
		      "insert %u flows: %s", F, r.reason);
		free(src);
		struct ksh_insert_reply ir2;
		memcpy(&ir2, r.body, sizeof ir2);
		CHECK(ir2.n == F, "%u ids", ir2.n);
		printf("kshim_host: %u flow filters staged and installed in %.3f s\n",
		       F, now_s() - t);
		int32_t id7;
		memcpy(&id7, r.body + 4 + 4 * 7, 4);
		CHECK(request(v, KSH_OP_RESET, &admin, sizeof admin, &r) == 0,
		      "RESET");
		size_t fl = data_frame(v, f, 6, 1007, 0);
		f[30] = 10, f[31] = 2, f[32] = 0, f[33] = 7;
		vm_send(v, f, fl);
		struct ksh_counters_req q = {ca, (uint32_t)id7};
		CHECK(request(v, KSH_OP_COUNTERS, &q, sizeof q, &r) == 0, "COUNTERS");
		struct ksh_counters c;
		uint64_t m0 = 0;
		memcpy(&c, r.body, sizeof c);
		memcpy(&m0, r.body + sizeof c, 8);
		CHECK(c.first == (uint32_t)id7 && c.n > 0 && m0 == 1,
		      "flow7 counted once: %lu", (unsigned long)m0);
		st = get_stats(v);
		CHECK(st.jit_attached == 1 && st.filters == 3 + F,
		      "jit %u filters %u", st.jit_attached, st.filters);
	}

	/* random data frames: the kernel counts what the hosted interpreter,
	 * holding the same filters, says it should */
	{
		const uint32_t R = 3000;
		static uint64_t want[65536];
		uint64_t want_unmatched = 0, want_matched = 0;
		uint64_t x = 0x2545f4914f6cdd1dull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
		CHECK(request(v, KSH_OP_RESET, &admin, sizeof admin, &r) == 0,
		      "RESET");
		for (uint32_t i = 0; i < R; i++) {
			uint8_t g[160];
			for (size_t j = 0; j < sizeof g; j++)
				g[j] = (uint8_t)RND();
			memcpy(g, v->mac, 6);
			memcpy(g + 6, host_mac, 6);
			size_t len = 60 + RND() % 100;
			uint64_t kind = RND() % 10;
			if (kind < 7) {
				g[12] = 0x08, g[13] = 0x00;
				g[14] = (uint8_t)(0x40 | (RND() % 8 ? 5 + RND() % 3 : RND() % 16));
				uint8_t protos[] = {6, 6, 17, 1, (uint8_t)RND()};
				g[23] = protos[RND() % 5];
				if (RND() % 5)
					g[20] = g[21] = 0;
				uint32_t k = (uint32_t)(RND() % 700);
				uint64_t d = RND() % 10;
				if (d < 5)
					g[30] = 10, g[31] = 2, g[32] = (uint8_t)(k / 250),
					g[33] = (uint8_t)(k % 250);
				else if (d < 7)
					g[30] = 10, g[31] = 0, g[32] = 0, g[33] = d == 5 ? 1 : 9;
				uint32_t l4 = 14 + (g[14] & 0x0f) * 4u;
				uint16_t ports[] = {(uint16_t)(1000 + k), (uint16_t)(1000 + k), 80,
				                    53, 5353, (uint16_t)RND()};
				uint16_t port = ports[RND() % 6];
				if (l4 + 4 <= sizeof g)
					g[l4 + 2] = (uint8_t)(port >> 8), g[l4 + 3] = (uint8_t)port;
			} else if (kind == 7) {
				g[12] = 0x08, g[13] = 0x06;
			} else if (kind == 8) {
				g[12] = 0x86, g[13] = 0xdd;
			} else if (g[12] == (KSH_ETHERTYPE >> 8) && g[13] == (KSH_ETHERTYPE & 0xff)) {
				g[13] = 0xb6;
			}
			vm_send(v, g, len);
			int id = dpf_classify_interp(mirror, g, len);
			if (id < 0) {
				want_unmatched++;
				continue;
			}
			want_matched++;
			const char *name = dpf_filter_get(mirror, id)->name;
			for (unsigned j = 0; j < nknown; j++)
				if (known[j].id >= 0 && strcmp(known[j].name, name) == 0)
					want[known[j].id]++;
		}
#undef RND
		st = get_stats(v);
		check_invariant(&st);
		CHECK(st.data_frames == R && st.unmatched == want_unmatched,
		      "random frames: data %lu unmatched %lu, expected %u and %lu",
		      (unsigned long)st.data_frames, (unsigned long)st.unmatched, R,
		      (unsigned long)want_unmatched);
		uint64_t got_matched = 0;
		uint32_t first = 0, lim = 1, bad = 0;
		while (first < lim) {
			struct ksh_counters_req q = {admin, first};
			if (request(v, KSH_OP_COUNTERS, &q, sizeof q, &r) != 0)
				break;
			struct ksh_counters c;
			memcpy(&c, r.body, sizeof c);
			lim = c.id_limit;
			if (c.n == 0)
				break;
			for (uint32_t i = 0; i < c.n; i++) {
				uint64_t m;
				memcpy(&m, r.body + sizeof c + 8 * i, 8);
				got_matched += m;
				uint32_t id = first + i;
				for (unsigned j = 0; j < nknown; j++)
					if (known[j].id == (int32_t)id && m != want[id] && bad++ < 5)
						CHECK(0, "filter %s (id %u): kernel %lu, interpreter %lu",
						      known[j].name, id, (unsigned long)m,
						      (unsigned long)want[id]);
			}
			first += c.n;
		}
		CHECK(got_matched == want_matched, "matched %lu, interpreter %lu",
		      (unsigned long)got_matched, (unsigned long)want_matched);
		printf("kshim_host: %u random frames: %lu matched, %lu unmatched, as "
		       "the interpreter says (%u filters known by id)\n",
		       R, (unsigned long)want_matched, (unsigned long)want_unmatched,
		       nknown);
	}

	/* random control frames: each gets exactly one reply, and the kernel
	 * keeps serving (no EXIT among them) */
	{
		uint64_t x = 0x9e3779b97f4a7c15ull;
		const uint32_t R = 1000;
		uint32_t replies = 0, requests = 0;
		struct ksh_stats before = get_stats(v);
		for (uint32_t i = 0; i < R; i++) {
			uint8_t g[KSH_FRAME_MAX];
			frame_hdr(v, g);
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t len = 60 + (size_t)(x % (KSH_FRAME_MAX - 59));
			for (size_t j = 14; j < len; j++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				g[j] = (uint8_t)x;
			}
			/* mostly well-formed headers, so the ops themselves are hit */
			if (i % 4 != 0) {
				g[14] = KSH_VERSION;
				g[15] = (uint8_t)(g[15] % (KSH_NOPS + 1));
				uint16_t pl = (uint16_t)(g[16] % (len - 22 + 1));
				memcpy(g + 16, &pl, 2);
			}
			if (g[14] == KSH_VERSION && g[15] == KSH_OP_EXIT)
				g[15] = KSH_OP_STATS;
			vm_send(v, g, len);
			if (g[15] & KSH_REPLY)
				continue; /* a reply: never answered */
			requests++;
			if (next_reply(v, &r) == 0)
				replies++;
			else
				break;
		}
		CHECK(replies == requests, "%u replies to %u random requests",
		      replies, requests);
		st = get_stats(v);
		CHECK(st.ctl_ignored - before.ctl_ignored == R - requests,
		      "%lu replies ignored, %u sent",
		      (unsigned long)(st.ctl_ignored - before.ctl_ignored),
		      R - requests);
		CHECK(request(v, KSH_OP_HELLO, NULL, 0, &r) == 0, "HELLO after them");
		printf("kshim_host: %u random control frames, %u replies, %u "
		       "replies ignored; refused: %lu malformed, %lu forged, "
		       "%lu replayed, %lu other\n",
		       R, replies, R - requests,
		       (unsigned long)(st.ctl_malformed - before.ctl_malformed),
		       (unsigned long)(st.ctl_forged - before.ctl_forged),
		       (unsigned long)(st.ctl_replayed - before.ctl_replayed),
		       (unsigned long)(st.ctl_refused - before.ctl_refused));
	}

	/* EXIT: the reply comes, then QEMU exits with (code << 1) | 1 */
	{
		struct ksh_exit x = {admin, 5};
		CHECK(cli_ksh_exit(v->c, x.code) == 0, "EXIT %u: %s", x.code,
		      cli_ksh_error(v->c));
	}
out:
	if (failures)
		cli_ksh_log_tail(v->c, stderr, 200);
	cli_ksh_free(v->c);
	dpf_engine_free(mirror);
	printf("kshim_host: %s, cpu %s: %s in %.2f s\n", argv[3],
	       cpu,
	       failures ? "FAILED" : "ok", now_s() - t0);
	return failures ? 1 : 0;
}
