/*
 * test_boot.c - the host side of `dpf boot`, without the kernel-shim:
 * control frame encoding and decoding, the QEMU command line, finding
 * QEMU and the kernel, the command's usage and errors, and its timeouts
 * and failure reports with stand-ins for QEMU.
 *
 * The stand-in: when DPF_TEST_FAKE_GUEST is set, this binary is not a
 * test run but a fake QEMU (a constructor takes over before Criterion's
 * main).  It reads the command line `dpf boot` gives QEMU and then, by
 * the variable's value:
 *   hang   writes a line to the serial log and never answers;
 *   fault  writes a line and exits with status 3, as QEMU does when the
 *          guest writes 1 to isa-debug-exit;
 *   stall  serves (below) until the first data frame, then reads no more;
 *   serve  speaks the control protocol of kernel-shim/ksh_proto.h with
 *          the DPF interpreter behind it, so the whole of `dpf boot`
 *          (download, replay, counters, echo, exit) runs against the
 *          protocol.  It is a model of the contract, not the kernel: the
 *          kernel's own tests are in test_boot_e2e.c.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot_util.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "dpf/dpf.h"

/* ---- the stand-in guest ---- */

struct fake {
	int fd;
	uint8_t mac[6];
	FILE *serial;
	struct dpf_engine *e;
	uint8_t *stage;
	uint32_t staged, total;
	struct ksh_stats st;
	uint64_t *matches; /* per id */
	uint32_t owners;   /* owner ids 1..owners (0 is the admission) */
	uint64_t caps[9];
	uint64_t admit;    /* admit= of the command line */
	uint32_t echo;
	int stall; /* stop reading at the first data frame */
};

static void fake_reply(struct fake *f, const uint8_t *req, uint8_t op,
                       uint32_t seq, int32_t status, const void *body,
                       size_t len)
{
	uint8_t pl[KSH_PAYLOAD_MAX], fr[KSH_FRAME_MAX];
	memcpy(pl, &status, 4);
	if (len)
		memcpy(pl + 4, body, len);
	size_t n = cli_ksh_encode(fr, req + 6, f->mac, op | KSH_REPLY, seq, pl,
	                          4 + len);
	send(f->fd, fr, n, 0);
	f->st.tx_frames++;
}

static int fake_cred(struct fake *f, const struct ksh_cred *c)
{
	return c->owner >= 1 && c->owner <= f->owners &&
	       f->caps[c->owner] == c->cap;
}

/* The payload's leading credential is the admission credential (admin)
 * or, unless admin, that of an owner. */
static int fake_auth(struct fake *f, const uint8_t *p, size_t n, int admin)
{
	struct ksh_cred c;
	if (n < sizeof c)
		return 0;
	memcpy(&c, p, sizeof c);
	if (c.owner == KSH_OWNER_ADMIN)
		return f->admit && c.cap == f->admit;
	return !admin && fake_cred(f, &c);
}

/* One control request; returns 1 when the guest is to exit with *code. */
static int fake_control(struct fake *f, const uint8_t *fr, size_t n,
                        uint32_t *code)
{
	struct ksh_hdr h;
	const uint8_t *p;
	if (cli_ksh_decode(fr, n, &h, &p) < 0) {
		memcpy(&h, fr + 14, sizeof h);
		fake_reply(f, fr, h.op, h.seq, KSH_EMALFORMED, "bad", 3);
		return 0;
	}
	uint8_t body[KSH_PAYLOAD_MAX];
	if (h.op & KSH_REPLY)
		return 0; /* never answered */
	int admin_op = h.op == KSH_OP_OWNER || h.op == KSH_OP_RESET ||
	               h.op == KSH_OP_EXIT;
	if ((admin_op || h.op == KSH_OP_STATS || h.op == KSH_OP_COUNTERS ||
	     h.op == KSH_OP_LAT || h.op == KSH_OP_RINGS) &&
	    !fake_auth(f, p, h.len, admin_op)) {
		fake_reply(f, fr, h.op, h.seq, KSH_EPERM, "cred", 4);
		return 0;
	}
	switch (h.op) {
	case KSH_OP_HELLO: {
		struct ksh_hello hi = {{0}, 0x10d3, 1000000000u, 25000000u, 65536, 8};
		memcpy(hi.mac, f->mac, 6);
		fake_reply(f, fr, h.op, h.seq, 0, &hi, sizeof hi);
		return 0;
	}
	case KSH_OP_OWNER: {
		if (f->owners == 8) {
			fake_reply(f, fr, h.op, h.seq, KSH_ENOSPC, "full", 4);
			return 0;
		}
		struct ksh_owner_reply o = {++f->owners, 0x5eed0000u + f->owners};
		f->caps[o.owner] = o.cap;
		fake_reply(f, fr, h.op, h.seq, 0, &o, sizeof o);
		return 0;
	}
	case KSH_OP_IR: {
		struct ksh_ir_chunk c;
		memcpy(&c, p, sizeof c);
		size_t m = h.len - sizeof c;
		if (!fake_cred(f, &c.who)) {
			fake_reply(f, fr, h.op, h.seq, KSH_EPERM, "cap", 3);
			return 0;
		}
		if (c.total > KSH_IR_MAX) {
			fake_reply(f, fr, h.op, h.seq, KSH_ENOSPC, "too big", 7);
			return 0;
		}
		if (c.offset == 0) {
			free(f->stage);
			f->stage = malloc(c.total ? c.total : 1);
			f->staged = 0;
			f->total = c.total;
		}
		if (c.offset != f->staged || c.total != f->total ||
		    f->staged + m > f->total) {
			fake_reply(f, fr, h.op, h.seq, KSH_ESTATE, "gap", 3);
			return 0;
		}
		memcpy(f->stage + f->staged, p + sizeof c, m);
		f->staged += (uint32_t)m;
		fake_reply(f, fr, h.op, h.seq, 0, NULL, 0);
		return 0;
	}
	case KSH_OP_INSERT: {
		struct ksh_insert in;
		memcpy(&in, p, sizeof in);
		struct dpf_prog *prog = NULL;
		struct dpf_diag d = {{0}};
		if (!fake_cred(f, &in.who)) {
			fake_reply(f, fr, h.op, h.seq, KSH_EPERM, "cap", 3);
			return 0;
		}
		if (!f->stage || f->staged != f->total ||
		    dpf_ir_read(dpf_host_libc(), f->stage, f->staged, &prog, &d)) {
			fake_reply(f, fr, h.op, h.seq, KSH_EINVAL, d.msg, strlen(d.msg));
			return 0;
		}
		uint32_t k = prog->nfilters;
		memcpy(body, &k, 4);
		for (uint32_t i = 0; i < k; i++) {
			int id = -1;
			prog->filters[i].owner = in.who.owner;
			if (dpf_insert(f->e, &prog->filters[i], &id, &d) != 0) {
				fake_reply(f, fr, h.op, h.seq, KSH_EINVAL, d.msg,
				           strlen(d.msg));
				dpf_prog_free(dpf_host_libc(), prog);
				return 0;
			}
			int32_t v = id;
			if (4 + 4 * (size_t)i + 4 <= KSH_PAYLOAD_MAX - 4)
				memcpy(body + 4 + 4 * i, &v, 4);
		}
		size_t len = 4 + 4 * (size_t)k;
		if (len > KSH_PAYLOAD_MAX - 4)
			len = (KSH_PAYLOAD_MAX - 8) / 4 * 4 + 4;
		dpf_prog_free(dpf_host_libc(), prog);
		free(f->stage);
		f->stage = NULL;
		fake_reply(f, fr, h.op, h.seq, 0, body, len);
		return 0;
	}
	case KSH_OP_COUNTERS: {
		struct ksh_counters_req q;
		memcpy(&q, p, sizeof q);
		uint32_t limit = (uint32_t)dpf_id_limit(f->e);
		struct ksh_counters c = {limit, q.first, 0};
		uint32_t room = (KSH_PAYLOAD_MAX - 4 - sizeof c) / 8;
		while (q.first + c.n < limit && c.n < room) {
			memcpy(body + sizeof c + 8 * c.n, &f->matches[q.first + c.n], 8);
			c.n++;
		}
		memcpy(body, &c, sizeof c);
		fake_reply(f, fr, h.op, h.seq, 0, body, sizeof c + 8 * c.n);
		return 0;
	}
	case KSH_OP_STATS:
		f->st.tsc_hz = 1000000000u;
		f->st.filters = dpf_count(f->e);
		fake_reply(f, fr, h.op, h.seq, 0, &f->st, sizeof f->st);
		return 0;
	case KSH_OP_RESET:
		memset(&f->st, 0, sizeof f->st);
		memset(f->matches, 0, DPF_MAX_FILTERS * sizeof *f->matches);
		fake_reply(f, fr, h.op, h.seq, 0, NULL, 0);
		return 0;
	case KSH_OP_CONFIG: {
		struct ksh_config c;
		memcpy(&c, p, sizeof c);
		f->echo = c.echo;
		fake_reply(f, fr, h.op, h.seq, 0, NULL, 0);
		return 0;
	}
	case KSH_OP_LAT: { /* no samples on any path */
		struct ksh_lat_req q;
		memcpy(&q, p, sizeof q);
		struct ksh_lat l;
		memset(&l, 0, sizeof l);
		l.path = q.path;
		l.nbuckets = KSH_LAT_BUCKETS;
		l.first = q.first;
		uint32_t room = (KSH_PAYLOAD_MAX - 4 - sizeof l) / 4;
		l.n = q.first < KSH_LAT_BUCKETS ? KSH_LAT_BUCKETS - q.first : 0;
		l.n = l.n < room ? l.n : room;
		memset(body, 0, sizeof l + 4 * l.n);
		memcpy(body, &l, sizeof l);
		fake_reply(f, fr, h.op, h.seq, 0, body, sizeof l + 4 * l.n);
		return 0;
	}
	case KSH_OP_RINGS: { /* ring 0 holds every delivered frame */
		struct ksh_rings r;
		memset(&r, 0, sizeof r);
		r.nrings = 1;
		r.ring[0].delivered = f->st.delivered;
		fake_reply(f, fr, h.op, h.seq, 0, &r, sizeof r);
		return 0;
	}
	case KSH_OP_EXIT: {
		struct ksh_exit x;
		memcpy(&x, p, sizeof x);
		fake_reply(f, fr, h.op, h.seq, 0, NULL, 0);
		*code = x.code;
		return 1;
	}
	default:
		fake_reply(f, fr, h.op, h.seq, KSH_EMALFORMED, "op", 2);
		return 0;
	}
}

static void fake_data(struct fake *f, uint8_t *fr, size_t n)
{
	if (n < CLI_KSH_MIN_FRAME) { /* as the NIC model pads */
		memset(fr + n, 0, CLI_KSH_MIN_FRAME - n);
		n = CLI_KSH_MIN_FRAME;
	}
	f->st.data_frames++;
	f->st.data_bytes += n;
	int id = dpf_classify_interp(f->e, fr, n);
	f->st.demux_cycles_sum += 100;
	f->st.demux_samples++;
	f->st.hist[6 * KSH_HIST_SUB + 2]++; /* 100 cycles */
	if (id < 0) {
		f->st.unmatched++;
		return;
	}
	f->matches[id]++;
	f->st.delivered++;
	f->st.consumed++;
	if (f->echo) {
		send(f->fd, fr, n, 0);
		f->st.echoed++;
		f->st.tx_frames++;
	}
}

static int fake_serve(struct fake *f)
{
	static uint8_t fr[65536];
	f->e = dpf_engine_new(dpf_host_libc());
	f->matches = calloc(DPF_MAX_FILTERS, sizeof *f->matches);
	fprintf(f->serial, "fake guest: serving\n");
	fflush(f->serial);
	for (;;) {
		ssize_t n = recv(f->fd, fr, sizeof fr - 64, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 2;
		f->st.rx_frames++;
		f->st.rx_bytes += (uint64_t)(n < 60 ? 60 : n);
		if (n >= 14 && fr[12] == (KSH_ETHERTYPE >> 8) && fr[13] == (KSH_ETHERTYPE & 0xff)) {
			f->st.ctl_frames++;
			uint32_t code;
			if (fake_control(f, fr, (size_t)n, &code))
				return (int)((code << 1) | 1);
		} else if (f->stall) {
			fprintf(f->serial, "fake guest: stalled on a data frame\n");
			fflush(f->serial);
			for (;;)
				pause();
		} else
			fake_data(f, fr, (size_t)n);
	}
}

__attribute__((constructor)) static void fake_guest(int argc, char **argv)
{
	const char *mode = getenv("DPF_TEST_FAKE_GUEST");
	if (!mode)
		return;
	struct fake f;
	memset(&f, 0, sizeof f);
	f.fd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *s;
		if (strcmp(a, "-serial") == 0 && i + 1 < argc &&
		    strncmp(argv[i + 1], "file:", 5) == 0)
			f.serial = fopen(argv[i + 1] + 5, "w");
		if ((s = strstr(a, "admit=")))
			/* the credential's little-endian bytes, in hex */
			f.admit = __builtin_bswap64(strtoull(s + 6, NULL, 16));
		if ((s = strstr(a, "local.str=")))
			f.fd = atoi(s + 10);
		if ((s = strstr(a, "mac=")))
			sscanf(s + 4, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &f.mac[0],
			       &f.mac[1], &f.mac[2], &f.mac[3], &f.mac[4], &f.mac[5]);
	}
	if (!f.serial || f.fd < 0)
		_exit(120);
	if (strcmp(mode, "hang") == 0) {
		fprintf(f.serial, "fake guest: booting\nfake guest: stuck\n");
		fflush(f.serial);
		for (;;)
			pause();
	}
	if (strcmp(mode, "fault") == 0) {
		fprintf(f.serial, "fake guest: booting\npanic: page fault at 0xdead\n");
		fclose(f.serial);
		_exit(3);
	}
	f.stall = strcmp(mode, "stall") == 0;
	int rc = fake_serve(&f);
	fclose(f.serial);
	_exit(rc);
}

/* ---- frames ---- */

Test(boot_frame, encode_decode_round_trip_at_every_length)
{
	static uint8_t payload[KSH_PAYLOAD_MAX];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	size_t lens[] = {0, 1, 4, 37, 38, 39, 100, KSH_PAYLOAD_MAX - 1,
	                 KSH_PAYLOAD_MAX};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		uint8_t f[KSH_FRAME_MAX];
		size_t n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac,
		                          KSH_OP_IR, 0xa1b2c3d4u, payload, lens[k]);
		size_t want = 22 + lens[k] < 60 ? 60 : 22 + lens[k];
		cr_assert_eq(n, want, "len %zu", lens[k]);
		cr_assert(n <= KSH_FRAME_MAX);
		cr_assert(memcmp(f, cli_ksh_guest_mac, 6) == 0);
		cr_assert(memcmp(f + 6, cli_ksh_host_mac, 6) == 0);
		cr_assert_eq(f[12], KSH_ETHERTYPE >> 8);
		cr_assert_eq(f[13], KSH_ETHERTYPE & 0xff);
		/* little-endian header on the wire */
		cr_assert_eq(f[14], KSH_VERSION);
		cr_assert_eq(f[15], KSH_OP_IR);
		cr_assert_eq(f[16] | f[17] << 8, (int)lens[k]);
		cr_assert_eq(f[18], 0xd4);
		cr_assert_eq(f[21], 0xa1);
		for (size_t i = 22 + lens[k]; i < n; i++)
			cr_assert_eq(f[i], 0, "padding byte %zu", i);
		struct ksh_hdr h;
		const uint8_t *p;
		cr_assert_eq(cli_ksh_decode(f, n, &h, &p), 1);
		cr_assert_eq(h.op, KSH_OP_IR);
		cr_assert_eq(h.seq, 0xa1b2c3d4u);
		cr_assert_eq(h.len, lens[k]);
		cr_assert(p == f + 22);
		cr_assert(memcmp(p, payload, lens[k]) == 0);
	}
}

Test(boot_frame, decode_refuses_what_the_kernel_must_refuse)
{
	uint8_t f[KSH_FRAME_MAX];
	struct ksh_hdr h;
	const uint8_t *p;
	size_t n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac,
	                          KSH_OP_HELLO, 9, "abcd", 4);
	/* every cut inside the header */
	for (size_t cut = 14; cut < 22; cut++)
		cr_assert_eq(cli_ksh_decode(f, cut, &h, &p), -1, "cut %zu", cut);
	/* len running past the frame */
	cr_assert_eq(cli_ksh_decode(f, 25, &h, &p), -1);
	cr_assert_eq(cli_ksh_decode(f, 26, &h, &p), 1);
	f[16] = 0xff;
	cr_assert_eq(cli_ksh_decode(f, n, &h, &p), -1);
	f[16] = 4;
	/* wrong version */
	f[14] = KSH_VERSION + 1;
	cr_assert_eq(cli_ksh_decode(f, n, &h, &p), -1);
	f[14] = KSH_VERSION;
	/* another EtherType is data, whatever follows; so is a runt */
	f[13] ^= 1;
	cr_assert_eq(cli_ksh_decode(f, n, &h, &p), 0);
	cr_assert_eq(cli_ksh_decode(f, 13, &h, &p), 0);
}

Test(boot_frame, payload_limits_follow_the_frame_limit)
{
	cr_assert_eq(KSH_PAYLOAD_MAX, 1492);
	cr_assert_eq(sizeof(struct ksh_hdr), 8);
	cr_assert_eq(sizeof(struct ksh_hello), 32);
	cr_assert_eq(sizeof(struct ksh_cred), 12);
	cr_assert_eq(sizeof(struct ksh_config), 20);
	cr_assert(sizeof(struct ksh_stats) + 4 <= KSH_PAYLOAD_MAX,
	          "STATS must fit one reply");
}

/* ---- QEMU command line and lookups ---- */

static int find_arg(char **argv, const char *a, const char *b)
{
	for (int i = 0; argv[i] && argv[i + 1]; i++)
		if (strcmp(argv[i], a) == 0 && strcmp(argv[i + 1], b) == 0)
			return 1;
	return 0;
}

Test(boot_qemu, command_line)
{
	struct cli_qemu_cfg cfg = {"/usr/bin/qemu-system-x86_64", "/k/kernel.elf",
	                           CLI_NIC_E1000E, {0x52, 0x54, 0, 0x12, 0x34,
	                                            0x56},
	                           7, "/tmp/x/serial.log", {0}, NULL, {0}, 0};
	char *argv[CLI_QEMU_ARGV_MAX + 1];
	char store[512];
	int n = cli_qemu_argv(&cfg, argv, store, sizeof store);
	cr_assert(n > 0 && n <= CLI_QEMU_ARGV_MAX);
	cr_assert_null(argv[n]);
	cr_assert_str_eq(argv[0], "/usr/bin/qemu-system-x86_64");
	cr_assert(find_arg(argv, "-accel", "tcg"));
	cr_assert(find_arg(argv, "-kernel", "/k/kernel.elf"));
	cr_assert(find_arg(argv, "-display", "none"));
	cr_assert(find_arg(argv, "-device",
	                   "isa-debug-exit,iobase=0xf4,iosize=0x04"));
	cr_assert(find_arg(argv, "-serial", "file:/tmp/x/serial.log"));
	cr_assert(find_arg(argv, "-netdev",
	                   "dgram,id=n0,local.type=fd,local.str=7"));
	cr_assert(find_arg(argv, "-device",
	                   "e1000e,netdev=n0,mac=52:54:00:12:34:56"));
	int nodef = 0, noreboot = 0;
	for (int i = 0; i < n; i++) {
		nodef += strcmp(argv[i], "-nodefaults") == 0;
		noreboot += strcmp(argv[i], "-no-reboot") == 0;
	}
	cr_assert_eq(nodef, 1);
	cr_assert_eq(noreboot, 1);

	cfg.nic = CLI_NIC_E1000;
	cfg.fd = 12;
	n = cli_qemu_argv(&cfg, argv, store, sizeof store);
	cr_assert(find_arg(argv, "-device", "e1000,netdev=n0,mac=52:54:00:12:34:56"));
	cr_assert(find_arg(argv, "-netdev",
	                   "dgram,id=n0,local.type=fd,local.str=12"));
	/* no seed: no -append; a seed: -append seed=<32 hex digits> */
	for (int i = 0; i < n; i++)
		cr_assert_str_neq(argv[i], "-append");
	for (int i = 0; i < 16; i++)
		cfg.seed[i] = (uint8_t)(0xa0 + i);
	n = cli_qemu_argv(&cfg, argv, store, sizeof store);
	cr_assert(find_arg(argv, "-append",
	                   "seed=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"));
	/* the admission credential next to it: its little-endian bytes */
	uint64_t admit = 0x0123456789abcdefull;
	memcpy(cfg.admit, &admit, 8);
	n = cli_qemu_argv(&cfg, argv, store, sizeof store);
	cr_assert(find_arg(argv, "-append",
	                   "seed=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf "
	                   "admit=efcdab8967452301"));
	/* the handlers' CPU budget last, in decimal */
	cfg.ash_cpu = 18446744073709551615ull;
	n = cli_qemu_argv(&cfg, argv, store, sizeof store);
	cr_assert(find_arg(argv, "-append",
	                   "seed=a0a1a2a3a4a5a6a7a8a9aaabacadaeaf "
	                   "admit=efcdab8967452301 ash_cpu=18446744073709551615"));
}

Test(boot_qemu, nic_names)
{
	cr_assert_eq(cli_nic_parse("e1000e"), CLI_NIC_E1000E);
	cr_assert_eq(cli_nic_parse("e1000"), CLI_NIC_E1000);
	cr_assert_eq(cli_nic_parse("rtl8139"), -1);
	cr_assert_eq(cli_nic_parse(""), -1);
	cr_assert_str_eq(cli_nic_name(CLI_NIC_E1000), "e1000");
	cr_assert_str_eq(cli_nic_name(CLI_NIC_E1000E), "e1000e");
}

Test(boot_qemu, finding_qemu_and_the_kernel)
{
	char out[PATH_MAX], err[PATH_MAX + 200];
	setenv("DPF_QEMU", "/nonexistent/qemu", 1);
	cr_assert_eq(cli_qemu_find(out, sizeof out, err, sizeof err), -1);
	cr_assert_str_eq(err, "QEMU not found: DPF_QEMU is '/nonexistent/qemu', "
	                      "which is not an executable file");
	setenv("DPF_QEMU", "/bin/sh", 1);
	cr_assert_eq(cli_qemu_find(out, sizeof out, err, sizeof err), 0);
	cr_assert_str_eq(out, "/bin/sh");
	setenv("DPF_QEMU", "sh", 1); /* a name is looked up on PATH */
	cr_assert_eq(cli_qemu_find(out, sizeof out, err, sizeof err), 0);
	cr_assert(strstr(out, "/sh") != NULL, "%s", out);
	unsetenv("DPF_QEMU");
	const char *path = getenv("PATH");
	char *saved = path ? strdup(path) : NULL;
	setenv("PATH", "/nonexistent", 1);
	cr_assert_eq(cli_qemu_find(out, sizeof out, err, sizeof err), -1);
	cr_assert_str_eq(err, "QEMU not found: no qemu-system-x86_64 on PATH "
	                      "(install qemu-system-x86 or set DPF_QEMU)");
	/* an empty entry, leading or trailing, is the current directory */
	char cwd[PATH_MAX], dir[] = "/tmp/dpf_path_XXXXXX";
	cr_assert_not_null(getcwd(cwd, sizeof cwd));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chdir(dir), 0);
	FILE *q = fopen("qemu-system-x86_64", "w");
	cr_assert_not_null(q);
	fclose(q);
	cr_assert_eq(chmod("qemu-system-x86_64", 0755), 0);
	const char *paths[] = {":/nonexistent", "/nonexistent:", "/nonexistent::/x"};
	for (size_t i = 0; i < 3; i++) {
		setenv("PATH", paths[i], 1);
		cr_assert_eq(cli_qemu_find(out, sizeof out, err, sizeof err), 0,
		             "PATH=%s: %s", paths[i], err);
		cr_assert_str_eq(out, "./qemu-system-x86_64");
	}
	unlink("qemu-system-x86_64");
	cr_assert_eq(chdir(cwd), 0);
	rmdir(dir);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);

	cr_assert_eq(cli_kernel_find("/nonexistent/k.elf", out, sizeof out, err,
	                             sizeof err),
	             -1);
	cr_assert_str_eq(err, "no kernel at /nonexistent/k.elf");
	setenv("DPF_KERNEL", "/nonexistent/env.elf", 1);
	cr_assert_eq(cli_kernel_find(NULL, out, sizeof out, err, sizeof err), -1);
	cr_assert_str_eq(err, "no kernel at /nonexistent/env.elf (from DPF_KERNEL)");
	setenv("DPF_KERNEL", DPF_SOURCE_DIR "/README.md", 1);
	cr_assert_eq(cli_kernel_find(NULL, out, sizeof out, err, sizeof err), 0);
	cr_assert_str_eq(out, DPF_SOURCE_DIR "/README.md");
	/* --kernel wins over the environment */
	cr_assert_eq(cli_kernel_find(DPF_SOURCE_DIR "/Makefile", out, sizeof out,
	                             err, sizeof err),
	             0);
	cr_assert_str_eq(out, DPF_SOURCE_DIR "/Makefile");
	unsetenv("DPF_KERNEL");
	/* the default is the build tree next to the running binary: for this
	 * test binary, <build>/tests/../kernel-shim */
	if (cli_kernel_find(NULL, out, sizeof out, err, sizeof err) == 0)
		cr_assert(strstr(out, "/kernel-shim/") != NULL, "%s", out);
	else
		cr_assert(strstr(err, "/kernel-shim/kernel.elf (build it with make "
		                      "build") != NULL,
		          "%s", err);
}

/* ---- the command ---- */

TestSuite(boot_cli, .init = bu_scratch_init, .fini = bu_scratch_fini);

#define RUN(env, timeout, ...)                                               \
	bu_dpf(env, (const char *const[]){__VA_ARGS__, NULL}, timeout)

Test(boot_cli, help_and_usage_errors)
{
	struct bu_run h = RUN(NULL, 10, "boot", "--help");
	cr_assert_eq(h.status, 0);
	cr_assert(strncmp(h.out, "usage: dpf boot -r TRACE FILE", 29) == 0, "%s",
	          h.out);
	cr_assert_not_null(strstr(h.out, "--timeout SEC"));
	cr_assert_not_null(strstr(h.out, "Exit status"));
	struct bu_run g = RUN(NULL, 10, "help", "boot");
	cr_assert_eq(g.status, 0);
	cr_assert_str_eq(g.out, h.out);
	bu_free(&g);
	g = RUN(NULL, 10, "--help");
	cr_assert_not_null(strstr(g.out, "  boot "));
	bu_free(&g);
	bu_free(&h);

	static const struct {
		const char *argv[8];
		const char *msg;
	} cases[] = {
		{{"boot"}, "dpf boot: no capture given (-r TRACE)\n"},
		{{"boot", "-r", "t.pcap"}, "dpf boot: no filter file given\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "b.dpf"},
		 "dpf boot: give exactly one filter file\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "--nic", "rtl8139"},
		 "dpf boot: unknown NIC 'rtl8139' (e1000 or e1000e)\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "--timeout", "0"},
		 "dpf boot: --timeout wants whole seconds from 1 to 3600, not '0'\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "--timeout=1.5"},
		 "dpf boot: --timeout wants whole seconds from 1 to 3600, not "
		 "'1.5'\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "--bogus"},
		 "dpf boot: unknown option '--bogus'\n"},
		{{"boot", "-r", "t.pcap", "a.dpf", "--kernel"},
		 "dpf boot: option '--kernel' needs a value\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *const *a = cases[i].argv;
		struct bu_run r = bu_dpf(NULL, a, 10);
		cr_assert_eq(r.status, 2, "case %zu: %s", i, r.err);
		cr_assert(strncmp(r.err, cases[i].msg, strlen(cases[i].msg)) == 0,
		          "case %zu: %s", i, r.err);
		cr_assert_not_null(strstr(r.err, "usage: dpf boot"));
		cr_assert_str_empty(r.out);
		bu_free(&r);
	}
}

/* A trace and its filters, made by `dpf gen` in the scratch directory. */
static void gen(const char *extra1, const char *extra2)
{
	struct bu_run r = RUN(NULL, 60, "gen", "--flows", "12", "--packets",
	                      "3000", "--seed", "5", "-o", "t.pcap", "-f", "f.dpf",
	                      extra1 ? extra1 : "--seed", extra2 ? extra2 : "5");
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
}

Test(boot_cli, missing_kernel_or_qemu_is_bad_input)
{
	gen(NULL, NULL);
	struct bu_run r = RUN(NULL, 10, "boot", "-r", "t.pcap", "f.dpf",
	                      "--kernel", "/nonexistent/kernel.elf");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "dpf boot: no kernel at /nonexistent/kernel.elf\n");
	cr_assert_str_empty(r.out);
	bu_free(&r);

	const char *env[] = {"DPF_QEMU=/nonexistent/qemu", NULL};
	r = RUN(env, 10, "boot", "-r", "t.pcap", "f.dpf", "--kernel", "f.dpf");
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "dpf boot: QEMU not found: DPF_QEMU is "
	                        "'/nonexistent/qemu', which is not an executable "
	                        "file\n");
	bu_free(&r);

	/* host errors come first, with positions, before any QEMU */
	bu_write("bad.dpf", "filter a { tcp.dport == 80 }\nfilter a { udp }\n",
	         0644);
	r = RUN(env, 10, "boot", "-r", "t.pcap", "bad.dpf");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "bad.dpf:2:", 10) == 0, "%s", r.err);
	bu_free(&r);
	r = RUN(env, 10, "boot", "-r", "missing.pcap", "f.dpf");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "missing.pcap: error: ", 21) == 0, "%s", r.err);
	bu_free(&r);
}

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char self[PATH_MAX];

static const char *self_exe(void)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	cr_assert(n > 0);
	self[n] = 0;
	return self;
}

/* Fake QEMUs of this test still alive (zombies included: dpf must reap
 * what it started): processes whose environment holds this test's
 * DPF_TEST_FAKE_TAG, the scratch directory. */
static int fake_guests_alive(void)
{
	char cmd[800];
	snprintf(cmd, sizeof cmd,
	         "grep -l 'DPF_TEST_FAKE_TAG=%s' /proc/[0-9]*/environ "
	         "2>/dev/null | grep -c . || true",
	         bu_scratch);
	FILE *p = popen(cmd, "r");
	int n = 0;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

Test(boot_cli, a_guest_that_never_answers_times_out, .timeout = 30)
{
	gen(NULL, NULL);
	char qemu[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	char tag[300];
	snprintf(tag, sizeof tag, "DPF_TEST_FAKE_TAG=%s", bu_scratch);
	const char *env[] = {qemu, "DPF_TEST_FAKE_GUEST=hang", tag, NULL};
	struct bu_run r = RUN(env, 20, "boot", "-r", "t.pcap", "f.dpf",
	                      "--kernel", "f.dpf", "--timeout", "2");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(r.secs < 6, "took %.1f s", r.secs);
	cr_assert(starts(r.err, "dpf boot: the guest did not boot: timed out after "
	                        "2000 ms waiting for the guest to answer HELLO\n"),
	          "%s", r.err);
	cr_assert_not_null(strstr(r.err, "serial console"));
	cr_assert_not_null(strstr(r.err, "fake guest: stuck\n"));
	cr_assert_str_empty(r.out);
	cr_assert_eq(fake_guests_alive(), 0, "QEMU left running");
	bu_free(&r);
}

Test(boot_cli, a_guest_that_faults_is_reported_with_its_log, .timeout = 30)
{
	gen(NULL, NULL);
	char qemu[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	const char *env[] = {qemu, "DPF_TEST_FAKE_GUEST=fault", NULL};
	struct bu_run r = RUN(env, 20, "boot", "-r", "t.pcap", "f.dpf",
	                      "--kernel", "f.dpf", "--timeout", "10");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(r.secs < 5, "took %.1f s", r.secs);
	cr_assert(starts(r.err, "dpf boot: the guest did not boot: QEMU exited "
	                        "with status 3 while waiting for the guest to "
	                        "answer HELLO\n"),
	          "%s", r.err);
	cr_assert_not_null(strstr(r.err, "panic: page fault at 0xdead\n"));
	bu_free(&r);
}

Test(boot_cli, a_guest_that_stops_taking_frames_times_out, .timeout = 30)
{
	/* more frames than the socket and QEMU's queue can hold */
	struct bu_run g = RUN(NULL, 60, "gen", "--flows", "4", "--packets",
	                      "20000", "-o", "t.pcap", "-f", "f.dpf");
	cr_assert_eq(g.status, 0, "%s", g.err);
	bu_free(&g);
	char qemu[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	char tag[300];
	snprintf(tag, sizeof tag, "DPF_TEST_FAKE_TAG=%s", bu_scratch);
	const char *env[] = {qemu, "DPF_TEST_FAKE_GUEST=stall", tag, NULL};
	struct bu_run r = RUN(env, 20, "boot", "-r", "t.pcap", "f.dpf",
	                      "--kernel", "f.dpf", "--timeout", "1", "-w",
	                      "out.pcap");
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert(r.secs < 5, "took %.1f s", r.secs);
	cr_assert(starts(r.err, "dpf boot: replaying frame "), "%s", r.err);
	cr_assert_not_null(strstr(r.err, " of 20000: timed out after 1000 ms "
	                                 "waiting for the guest to take a frame\n"),
	                   "%s", r.err);
	cr_assert_not_null(strstr(r.err, "fake guest: stalled on a data frame\n"));
	cr_assert_str_empty(r.out);
	cr_assert_eq(access(bu_path("out.pcap"), F_OK), -1,
	             "a half-written -w file was left");
	cr_assert_eq(fake_guests_alive(), 0, "QEMU left running");
	bu_free(&r);
}

/* Interrupted, dpf boot leaves nothing behind: QEMU is gone, and so are
 * its temporary directory and the half-written -w capture. */
Test(boot_cli, an_interrupted_boot_leaves_nothing_behind, .timeout = 30)
{
	gen(NULL, NULL);
	char qemu[PATH_MAX + 16], tmp[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	cr_assert_eq(mkdir(bu_path("tmp"), 0700), 0);
	snprintf(tmp, sizeof tmp, "TMPDIR=%s", bu_path("tmp"));
	char tag[300];
	snprintf(tag, sizeof tag, "DPF_TEST_FAKE_TAG=%s", bu_scratch);
	const char *env[] = {qemu, tmp, tag, "DPF_TEST_FAKE_GUEST=stall", NULL};
	const char *args[] = {"boot", "-r", "t.pcap", "f.dpf", "--kernel",
	                      "f.dpf", "-w", "half.pcap", NULL};
	for (int k = 0; k < 2; k++) {
		int sig = k ? SIGTERM : SIGINT;
		struct bu_run b = bu_dpf_signal(env, args, 20, 1.0, sig);
		cr_assert_eq(b.status, 128 + sig, "%d: %s", b.status, b.err);
		cr_assert_neq(access(bu_path("half.pcap"), F_OK), 0,
		              "half.pcap left behind");
		DIR *d = opendir(bu_path("tmp"));
		cr_assert_not_null(d);
		struct dirent *de;
		while ((de = readdir(d)))
			cr_assert(de->d_name[0] == '.', "%s left in TMPDIR", de->d_name);
		closedir(d);
		bu_free(&b);
		/* the stand-in guest dies with its process group */
		for (int i = 0; i < 200 && fake_guests_alive(); i++)
			usleep(10000);
		cr_assert(!fake_guests_alive(), "a stand-in guest outlived dpf boot");
	}
}

/* Boot against the protocol model: counts equal dpf replay's. */
static void boot_vs_replay(const char *nic, int echo)
{
	char qemu[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	const char *env[] = {qemu, "DPF_TEST_FAKE_GUEST=serve", NULL};
	struct bu_run b =
		echo ? RUN(env, 60, "boot", "-r", "t.pcap", "f.dpf", "--kernel",
		           "f.dpf", "--json", "--nic", nic, "-w", "echo.pcap")
		     : RUN(env, 60, "boot", "-r", "t.pcap", "f.dpf", "--kernel",
		           "f.dpf", "--json", "--nic", nic);
	cr_assert_eq(b.status, 0, "%s", b.err);
	struct bu_run p = RUN(NULL, 60, "replay", "--engine=interp", "-r",
	                      "t.pcap", "f.dpf", "--json");
	cr_assert_eq(p.status, 0, "%s", p.err);
	bu_assert_same_counts(b.out, p.out);
	cr_assert_not_null(strstr(b.out, "\"engine\":\"interp\""));
	cr_assert_not_null(strstr(b.out, "\"ns_per_packet\":100.0,"), "%s", b.out);
	cr_assert_not_null(strstr(b.out, "\"demux_cycles_median\":96,"), "%s",
	                   b.out);
	cr_assert_not_null(strstr(b.out, "\"guest_boot_ms\":25.0,"), "%s", b.out);
	char nicj[40];
	snprintf(nicj, sizeof nicj, "\"kernel\":{\"nic\":\"%s\"", nic);
	cr_assert_not_null(strstr(b.out, nicj), "%s", b.out);
	cr_assert_str_empty(b.err);
	if (echo) {
		/* every delivered frame came back, in order */
		char *d = bu_json_part(b.out, "\"delivered\":");
		unsigned long long delivered = strtoull(d + 12, NULL, 10);
		free(d);
		char eb[PCAP_ERRBUF_SIZE];
		pcap_t *pc = pcap_open_offline(bu_path("echo.pcap"), eb);
		cr_assert_not_null(pc, "%s", eb);
		struct pcap_pkthdr *h;
		const u_char *data;
		unsigned long long n = 0;
		while (pcap_next_ex(pc, &h, &data) == 1)
			n++;
		pcap_close(pc);
		cr_assert_eq(n, delivered);
		cr_assert(n > 0);
	}
	bu_free(&b);
	bu_free(&p);
}

Test(boot_cli, counts_equal_replay_against_the_protocol_model, .timeout = 60)
{
	/* near misses included; no truncation: the NIC pads runts */
	struct bu_run r = RUN(NULL, 60, "gen", "--flows", "40", "--packets",
	                      "5000", "--seed", "11", "--truncate", "0", "-o",
	                      "t.pcap", "-f", "f.dpf");
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	boot_vs_replay("e1000e", 0);
	boot_vs_replay("e1000", 1);
}

Test(boot_cli, more_filters_than_one_insert_reply_lists, .timeout = 60)
{
	struct bu_run r = RUN(NULL, 60, "gen", "--flows", "900", "--packets",
	                      "4000", "--seed", "3", "--near-miss", "0",
	                      "--truncate", "0", "-o", "t.pcap", "-f", "f.dpf");
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	boot_vs_replay("e1000e", 0);
}

/* Append to the scratch capture t.pcap (made by gen) one frame of the
 * control EtherType, one empty frame and one over 1514 bytes. */
static void add_unreplayable(void)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline(bu_path("t.pcap"), eb);
	cr_assert_not_null(in, "%s", eb);
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *out = pcap_dump_open(dead, bu_path("u.pcap"));
	cr_assert_not_null(out, "%s", pcap_geterr(dead));
	struct pcap_pkthdr *h;
	const u_char *data;
	while (pcap_next_ex(in, &h, &data) == 1)
		pcap_dump((u_char *)out, h, data);
	static u_char big[2000];
	memset(big, 0xab, sizeof big);
	big[12] = 0x08; /* IPv4, cut to 1514 when replayed */
	big[13] = 0x00;
	struct pcap_pkthdr x = {{1, 0}, 64, 64};
	u_char ctl[64] = {0};
	ctl[12] = KSH_ETHERTYPE >> 8;
	ctl[13] = KSH_ETHERTYPE & 0xff;
	pcap_dump((u_char *)out, &x, ctl);
	x.caplen = x.len = 0;
	pcap_dump((u_char *)out, &x, ctl);
	x.caplen = x.len = sizeof big;
	pcap_dump((u_char *)out, &x, big);
	pcap_dump_close(out);
	pcap_close(dead);
	pcap_close(in);
}

Test(boot_cli, frames_it_cannot_replay_are_counted_and_said, .timeout = 60)
{
	/* defaults: truncated runts; plus frames added by hand */
	gen(NULL, NULL);
	add_unreplayable();
	char qemu[PATH_MAX + 16];
	snprintf(qemu, sizeof qemu, "DPF_QEMU=%s", self_exe());
	const char *env[] = {qemu, "DPF_TEST_FAKE_GUEST=serve", NULL};
	struct bu_run b = RUN(env, 60, "boot", "-r", "u.pcap", "f.dpf",
	                      "--kernel", "f.dpf");
	cr_assert_eq(b.status, 0, "%s", b.err);
	cr_assert_not_null(strstr(b.err, "u.pcap: 1 frames carry the control "
	                                 "EtherType 0x88b6 and were not "
	                                 "replayed\n"),
	                   "%s", b.err);
	cr_assert_not_null(strstr(b.err, " frames shorter than 60 bytes were "
	                                 "padded with zeros by the NIC\n"),
	                   "%s", b.err);
	cr_assert_not_null(strstr(b.err, "u.pcap: 1 "), "%s", b.err);
	cr_assert(strncmp(b.out, "filter ", 7) == 0, "%s", b.out);
	cr_assert_not_null(strstr(b.out, "(unmatched)"));
	cr_assert_not_null(strstr(b.out, " packets, "));
	cr_assert_not_null(strstr(b.out, "kernel (e1000e): booted in "));
	cr_assert_not_null(strstr(b.out, "delivered "));
	bu_free(&b);
}
