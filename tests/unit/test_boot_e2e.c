/*
 * test_boot_e2e.c - the kernel-shim under QEMU, end to end: it boots and
 * exits with the status asked for, on both NICs; `dpf boot` counts what
 * `dpf replay --engine=interp` counts, and with -w writes back every
 * frame the guest delivered; malformed and unauthorised control
 * frames are refused with the right status while the kernel keeps
 * serving; every attack on the control channel (issue 18: EXIT, OWNER,
 * RESET, COUNTERS/STATS without the right credential, an injected reply,
 * a replay, a forged capability, an OWNER flood) is refused, counted by
 * reason, and leaves the real owner served; a flood faster than the
 * stand-in application drains is accounted frame for frame; and every packet of every Ethernet capture
 * of the corpus is classified in the guest as `dpf replay` classifies it.
 *
 * Needs the image <build>/kernel-shim/kernel.elf (or $DPF_KERNEL) and
 * QEMU: without either every test FAILS, saying what is missing (a check
 * that did not run is not a pass).  Each QEMU run is bounded by the
 * client's timeout.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "boot_util.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "dpf/dpf.h"
#include "kernel-shim/param.h"

#define STEP_MS 20000

static char qemu_path[PATH_MAX];

/* The image: $DPF_KERNEL when set (to test another build), else the
 * build tree's. */
static const char *kernel(void)
{
	const char *k = getenv("DPF_KERNEL");
	return k && *k ? k : DPF_BINARY_DIR "/kernel-shim/kernel.elf";
}

static void need_kernel(void)
{
	if (access(kernel(), R_OK) != 0)
		cr_assert_fail("the kernel image %s is not built (cmake --build "
		               "build): the end-to-end boot tests cannot run",
		               kernel());
}

static struct cli_ksh *boot_nic(enum cli_nic nic)
{
	need_kernel();
	char err[PATH_MAX + 200];
	if (cli_qemu_find(qemu_path, sizeof qemu_path, err, sizeof err) != 0)
		cr_assert_fail("%s: the end-to-end boot tests cannot run", err);
	struct cli_ksh_opts o = {qemu_path, kernel(), nic, {0}, STEP_MS, NULL, 0};
	memcpy(o.mac, cli_ksh_guest_mac, 6);
	struct cli_ksh *c = NULL;
	cr_assert_eq(cli_ksh_spawn(&o, &c, err, sizeof err), 0, "%s", err);
	return c;
}

static void fail_with_log(struct cli_ksh *c, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cli_ksh_log_tail(c, m, 40);
	fclose(m);
	cr_assert_fail("%s: %s\n%s", what, cli_ksh_error(c), buf);
}

static void hello(struct cli_ksh *c, struct ksh_hello *h)
{
	uint64_t ns;
	if (cli_ksh_hello(c, h, &ns) != 0)
		fail_with_log(c, "HELLO");
}

static void call(struct cli_ksh *c, uint8_t op, const void *p, size_t len,
                 struct cli_ksh_reply *r)
{
	if (cli_ksh_call(c, op, p, len, r) != 0)
		fail_with_log(c, "request");
}

/* The kernel still answers. */
static void alive(struct cli_ksh *c, struct cli_ksh_reply *r)
{
	call(c, KSH_OP_HELLO, NULL, 0, r);
	cr_assert_eq(r->status, KSH_OK);
	cr_assert_eq(r->op, KSH_OP_HELLO | KSH_REPLY);
}

static void bye(struct cli_ksh *c)
{
	if (cli_ksh_exit(c, 0) != 0)
		fail_with_log(c, "EXIT");
	cli_ksh_free(c);
}

static struct ksh_cred owner(struct cli_ksh *c, struct cli_ksh_reply *r)
{
	struct ksh_cred admin = cli_ksh_admin(c);
	call(c, KSH_OP_OWNER, &admin, sizeof admin, r);
	cr_assert_eq(r->status, KSH_OK, "%s", r->reason);
	struct ksh_owner_reply o;
	cr_assert(r->len >= sizeof o);
	memcpy(&o, r->body, sizeof o);
	struct ksh_cred cr = {o.owner, o.cap};
	return cr;
}

/* Stage the IR of src in one chunk into who's stage; returns its
 * status. */
static int32_t stage(struct cli_ksh *c, struct ksh_cred who, const char *src,
                     struct cli_ksh_reply *r)
{
	struct dpf_prog *p = tu_parse(src);
	uint8_t pl[KSH_PAYLOAD_MAX];
	long n = dpf_ir_write(p, NULL, 0);
	cr_assert(n > 0 && (size_t)n + sizeof(struct ksh_ir_chunk) <= sizeof pl);
	struct ksh_ir_chunk h = {who, 0, (uint32_t)n};
	memcpy(pl, &h, sizeof h);
	cr_assert_eq(dpf_ir_write(p, pl + sizeof h, (size_t)n), n);
	dpf_prog_free(dpf_host_libc(), p);
	call(c, KSH_OP_IR, pl, sizeof h + (size_t)n, r);
	return r->status;
}

/* INSERT for who with grants; returns its status. */
static int32_t insert(struct cli_ksh *c, struct ksh_cred who,
                      const struct ksh_cred *grants, uint32_t ngrants,
                      struct cli_ksh_reply *r)
{
	uint8_t pl[KSH_PAYLOAD_MAX];
	struct ksh_insert in = {who, ngrants};
	memcpy(pl, &in, sizeof in);
	if (ngrants)
		memcpy(pl + sizeof in, grants, ngrants * sizeof *grants);
	call(c, KSH_OP_INSERT, pl, sizeof in + ngrants * sizeof *grants, r);
	return r->status;
}

/* A raw control frame with header fields as given. */
static void send_hdr(struct cli_ksh *c, uint8_t version, uint8_t op,
                     uint16_t len, uint32_t seq, const void *pl, size_t plen)
{
	uint8_t f[KSH_FRAME_MAX];
	size_t n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac, op,
	                          seq, pl, plen);
	f[14] = version;
	memcpy(f + 16, &len, 2);
	cr_assert_eq(cli_ksh_send_raw(c, f, n), 0, "%s", cli_ksh_error(c));
}

static struct cli_ksh_reply reply_buf;

Test(boot_e2e, boots_answers_and_exits_on_both_nics, .timeout = 60)
{
	static const struct {
		enum cli_nic nic;
		uint16_t id;
	} nics[] = {{CLI_NIC_E1000E, 0x10d3}, {CLI_NIC_E1000, 0x100e}};
	for (size_t i = 0; i < 2; i++) {
		struct cli_ksh *c = boot_nic(nics[i].nic);
		struct ksh_hello h;
		hello(c, &h);
		cr_assert_eq(h.nic, nics[i].id, "nic 0x%x", h.nic);
		cr_assert(memcmp(h.mac, cli_ksh_guest_mac, 6) == 0);
		cr_assert(h.tsc_hz > 100000000u, "tsc_hz %llu",
		          (unsigned long long)h.tsc_hz);
		cr_assert(h.max_filters > 0 && h.max_owners > 0);
		struct ksh_cred admin = cli_ksh_admin(c);
		call(c, KSH_OP_STATS, &admin, sizeof admin, &reply_buf);
		cr_assert_eq(reply_buf.status, KSH_OK);
		cr_assert(reply_buf.len >= sizeof(struct ksh_stats));
		bye(c);
	}
	/* another exit code comes out as QEMU's status */
	struct cli_ksh *c = boot_nic(CLI_NIC_E1000E);
	struct ksh_hello h;
	hello(c, &h);
	if (cli_ksh_exit(c, 5) != 0)
		fail_with_log(c, "EXIT 5");
	cli_ksh_free(c);
}

TestSuite(boot_e2e_cli, .init = bu_scratch_init, .fini = bu_scratch_fini);

Test(boot_e2e_cli, dpf_boot_counts_equal_dpf_replay, .timeout = 60)
{
	need_kernel();
	/* no near misses (one kind carries the control EtherType) and no
	 * truncated frames (the NIC pads runts, and flags their bad lengths) */
	const char *g[] = {"gen",         "--flows",     "24", "--packets",
	                   "4000",        "--seed",      "9",  "--near-miss",
	                   "0",           "--truncate",  "0",  "-o",
	                   "t.pcap",      "-f",          "f.dpf", NULL};
	struct bu_run r = bu_dpf(NULL, g, 30);
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	const char *b[] = {"boot", "-r", "t.pcap", "f.dpf", "--json",
	                   "--kernel", kernel(), "--timeout", "20", NULL};
	struct bu_run bo = bu_dpf(NULL, b, 50);
	cr_assert_eq(bo.status, 0, "%s", bo.err);
	const char *p[] = {"replay", "--engine=interp", "-r", "t.pcap", "f.dpf",
	                   "--json", NULL};
	struct bu_run re = bu_dpf(NULL, p, 30);
	cr_assert_eq(re.status, 0, "%s", re.err);
	bu_assert_same_counts(bo.out, re.out);
	cr_assert_not_null(strstr(bo.out, "\"kernel\":{"), "%s", bo.out);
	cr_assert_not_null(strstr(bo.out, "\"dropped\":0,"), "%s", bo.out);
	cr_assert_not_null(strstr(bo.out, "\"refused\":0,"), "%s", bo.out);

	/* echo on the other NIC: every delivered frame comes back */
	const char *w[] = {"boot", "-r", "t.pcap", "f.dpf", "--json", "--nic",
	                   "e1000", "-w", "echo.pcap", "--kernel", kernel(),
	                   "--timeout", "20", NULL};
	struct bu_run ec = bu_dpf(NULL, w, 50);
	cr_assert_eq(ec.status, 0, "%s", ec.err);
	char *x = bu_json_part(ec.out, "\"filters\":");
	char *y = bu_json_part(re.out, "\"filters\":");
	cr_assert_str_eq(x, y);
	free(x);
	free(y);
	char *d = bu_json_part(ec.out, "\"delivered\":");
	char *e = bu_json_part(ec.out, "\"echoed\":");
	unsigned long long delivered = strtoull(d + 12, NULL, 10);
	unsigned long long echoed = strtoull(e + 9, NULL, 10);
	free(d);
	free(e);
	cr_assert_eq(echoed, delivered, "%s", ec.out);
	const char *rp[] = {"replay", "-r", "echo.pcap", "f.dpf", "--json", NULL};
	struct bu_run back = bu_dpf(NULL, rp, 30);
	cr_assert_eq(back.status, 0, "%s", back.err);
	char want[64];
	snprintf(want, sizeof want, "{\"packets\":%llu,", delivered);
	cr_assert(strncmp(back.out, want, strlen(want)) == 0, "%s", back.out);
	cr_assert_not_null(strstr(back.out, "\"unmatched\":0,"), "%s",
	                   back.out);
	bu_free(&back);
	bu_free(&ec);
	bu_free(&bo);
	bu_free(&re);
}

Test(boot_e2e, malformed_frames_are_refused_and_the_kernel_keeps_serving,
     .timeout = 60)
{
	struct cli_ksh *c = boot_nic(CLI_NIC_E1000E);
	struct cli_ksh_reply *r = &reply_buf;
	struct ksh_hello h;
	hello(c, &h);

	/* len running past the frame */
	send_hdr(c, KSH_VERSION, KSH_OP_HELLO, 1000, 77, NULL, 0);
	cr_assert_eq(cli_ksh_next_reply(c, r), 0, "%s", cli_ksh_error(c));
	cr_assert_eq(r->status, KSH_EMALFORMED);
	alive(c, r);
	/* wrong version */
	send_hdr(c, KSH_VERSION + 1, KSH_OP_HELLO, 0, 78, NULL, 0);
	cr_assert_eq(cli_ksh_next_reply(c, r), 0, "%s", cli_ksh_error(c));
	cr_assert_eq(r->status, KSH_EMALFORMED);
	alive(c, r);
	/* unknown op */
	send_hdr(c, KSH_VERSION, 0x55, 0, 79, NULL, 0);
	cr_assert_eq(cli_ksh_next_reply(c, r), 0, "%s", cli_ksh_error(c));
	cr_assert_eq(r->status, KSH_EMALFORMED);
	cr_assert_eq(r->seq, 79u);
	alive(c, r);
	/* payloads shorter than their structure */
	call(c, KSH_OP_INSERT, "abc", 3, r);
	cr_assert_eq(r->status, KSH_EMALFORMED, "%d %s", r->status, r->reason);
	call(c, KSH_OP_IR, "abcd", 4, r);
	cr_assert_eq(r->status, KSH_EMALFORMED, "%d %s", r->status, r->reason);
	alive(c, r);

	/* IR larger than the stage */
	struct ksh_cred a = owner(c, r);
	struct ksh_ir_chunk big = {a, 0, KSH_IR_MAX + 1};
	call(c, KSH_OP_IR, &big, sizeof big, r);
	cr_assert_eq(r->status, KSH_ENOSPC, "%d %s", r->status, r->reason);
	alive(c, r);

	/* out of order: nothing staged; a gap between chunks */
	cr_assert_eq(insert(c, a, NULL, 0, r), KSH_ESTATE, "%s", r->reason);
	struct ksh_ir_chunk gap = {a, 100, 1000};
	call(c, KSH_OP_IR, &gap, sizeof gap, r);
	cr_assert_eq(r->status, KSH_ESTATE, "%d %s", r->status, r->reason);
	alive(c, r);

	/* bad capability: staging for another owner, installing, config */
	struct ksh_cred forged = {a.owner, a.cap ^ 1};
	cr_assert_eq(stage(c, forged, "filter a { ip.dst == 10.0.0.1 }\n", r),
	             KSH_EPERM, "%s", r->reason);
	cr_assert_eq(stage(c, a, "filter a { ip.dst == 10.0.0.1 }\n", r), KSH_OK);
	cr_assert_eq(insert(c, forged, NULL, 0, r), KSH_EPERM, "%s", r->reason);
	struct ksh_config cfg = {forged, 1, 0};
	call(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r);
	cr_assert_eq(r->status, KSH_EPERM);
	struct ksh_cred nobody = {h.max_owners + 3, a.cap};
	int32_t st = insert(c, nobody, NULL, 0, r);
	cr_assert(st == KSH_EPERM || st == KSH_ENOENT, "%d %s", st, r->reason);
	alive(c, r);

	/* another owner cannot install a's stage: it has nothing staged */
	struct ksh_cred b = owner(c, r);
	cr_assert_eq(insert(c, b, NULL, 0, r), KSH_ESTATE, "%s", r->reason);

	/* the real capability works (the refused INSERTs left a's stage) */
	cr_assert_eq(insert(c, a, NULL, 0, r), KSH_OK, "%s", r->reason);

	/* secure binding: b may not take a's packets without a's capability */
	cr_assert_eq(stage(c, b, "filter b priority 5 { ip }\n", r), KSH_OK);
	cr_assert_eq(insert(c, b, NULL, 0, r), KSH_EPERM, "%s", r->reason);
	cr_assert_eq(stage(c, b, "filter b priority 5 { ip }\n", r), KSH_OK);
	struct ksh_cred wrong = {a.owner, a.cap + 1};
	cr_assert_eq(insert(c, b, &wrong, 1, r), KSH_EPERM, "%s", r->reason);
	/* a filter that cannot take a's packets needs no grant */
	cr_assert_eq(stage(c, b, "filter c { arp }\n", r), KSH_OK);
	cr_assert_eq(insert(c, b, NULL, 0, r), KSH_OK, "%s", r->reason);
	cr_assert_eq(stage(c, b, "filter b priority 5 { ip }\n", r), KSH_OK);
	cr_assert_eq(insert(c, b, &a, 1, r), KSH_OK, "%s", r->reason);
	alive(c, r);
	bye(c);
}

/* ---- the control channel under attack (issue 18, part 1) ---- */

/* A request as the given credential's holder would build it, with its
 * own seq from the client's counter; its status. */
static int32_t as(struct cli_ksh *c, uint8_t op, const void *p, size_t len,
                  struct cli_ksh_reply *r)
{
	call(c, op, p, len, r);
	return r->status;
}

/* A request built by hand with the given seq, sent raw; the reply (which
 * must carry that seq). */
static int32_t raw(struct cli_ksh *c, uint8_t op, uint32_t seq,
                   const void *p, size_t len, struct cli_ksh_reply *r)
{
	uint8_t f[KSH_FRAME_MAX];
	size_t n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac, op,
	                          seq, p, len);
	cr_assert_eq(cli_ksh_send_raw(c, f, n), 0, "%s", cli_ksh_error(c));
	if (cli_ksh_next_reply(c, r) != 0)
		fail_with_log(c, "raw request");
	cr_assert_eq(r->seq, seq);
	cr_assert_eq(r->op, op | KSH_REPLY);
	return r->status;
}

static struct ksh_stats stats_as(struct cli_ksh *c, struct ksh_cred who,
                                 struct cli_ksh_reply *r)
{
	struct ksh_stats st;
	cr_assert_eq(as(c, KSH_OP_STATS, &who, sizeof who, r), KSH_OK, "%s",
	             r->reason);
	cr_assert_eq(r->len, sizeof st);
	memcpy(&st, r->body, sizeof st);
	return st;
}

/* filter id's matches as `who` sees them */
static uint64_t matches_as(struct cli_ksh *c, struct ksh_cred who,
                           int32_t id, struct cli_ksh_reply *r)
{
	struct ksh_counters_req q = {who, (uint32_t)id};
	cr_assert_eq(as(c, KSH_OP_COUNTERS, &q, sizeof q, r), KSH_OK, "%s",
	             r->reason);
	struct ksh_counters h;
	uint64_t m;
	cr_assert(r->len >= sizeof h + 8);
	memcpy(&h, r->body, sizeof h);
	cr_assert_eq(h.first, (uint32_t)id);
	memcpy(&m, r->body + sizeof h, 8);
	return m;
}

/* The real owner is still served: one more frame to its filter is
 * classified and counted under its own COUNTERS, and its STATS answer. */
static void still_serving(struct cli_ksh *c, struct ksh_cred a, int32_t id,
                          uint64_t *count, struct cli_ksh_reply *r,
                          const char *after)
{
	uint8_t udp[60] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 2,
	                   0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17};
	udp[37] = 9; /* dport 9 */
	if (cli_ksh_send_raw(c, udp, sizeof udp) != 0)
		fail_with_log(c, "data frame");
	(*count)++;
	uint64_t m = matches_as(c, a, id, r);
	cr_assert_eq(m, *count, "after %s: the owner's filter counted %llu of "
	                        "%llu frames",
	             after, (unsigned long long)m, (unsigned long long)*count);
	struct ksh_stats st = stats_as(c, a, r);
	cr_assert_eq(st.delivered, *count, "after %s", after);
}

Test(boot_e2e, the_control_channel_serves_only_valid_credentials,
     .timeout = 60)
{
	struct cli_ksh *c = boot_nic(CLI_NIC_E1000E);
	struct cli_ksh_reply *r = &reply_buf;
	struct ksh_hello h;
	hello(c, &h);
	const struct ksh_cred admin = cli_ksh_admin(c);
	const struct ksh_cred guess = {KSH_OWNER_ADMIN, admin.cap ^ 1};
	const struct ksh_cred none = {KSH_OWNER_ADMIN, 0};
	uint64_t forged = 0, count = 0;

	/* the real owner and its filter */
	struct ksh_cred a = owner(c, r);
	cr_assert_eq(stage(c, a, "filter udp9 { udp.dport == 9 }\n", r), KSH_OK);
	cr_assert_eq(insert(c, a, NULL, 0, r), KSH_OK, "%s", r->reason);
	int32_t id;
	memcpy(&id, r->body + 4, 4);
	still_serving(c, a, id, &count, r, "installing");

	/* 1. EXIT without the admission credential (v1 ended the guest) */
	struct ksh_exit x = {none, 3};
	cr_assert_eq(as(c, KSH_OP_EXIT, &x, sizeof x, r), KSH_EPERM);
	cr_assert_str_eq(r->reason, "bad admission credential");
	x.who = guess;
	cr_assert_eq(as(c, KSH_OP_EXIT, &x, sizeof x, r), KSH_EPERM);
	x.who = a; /* an owner's capability is not enough */
	cr_assert_eq(as(c, KSH_OP_EXIT, &x, sizeof x, r), KSH_EPERM);
	cr_assert_str_eq(r->reason, "EXIT needs the admission credential");
	forged += 3;
	uint32_t code = 3; /* the version 1 payload */
	cr_assert_eq(as(c, KSH_OP_EXIT, &code, sizeof code, r), KSH_EMALFORMED);
	still_serving(c, a, id, &count, r, "EXIT refused");

	/* 2. OWNER without the admission credential (v1 let eight such
	 * requests exhaust the owner table) */
	for (int i = 0; i < 2 * (int)KSH_MAX_OWNERS; i++) {
		const struct ksh_cred *w = i % 3 == 0 ? &none : i % 3 == 1 ? &guess : &a;
		cr_assert_eq(as(c, KSH_OP_OWNER, w, sizeof *w, r), KSH_EPERM,
		             "OWNER %d: %d %s", i, r->status, r->reason);
		forged++;
	}
	cr_assert_eq(as(c, KSH_OP_OWNER, NULL, 0, r), KSH_EMALFORMED);
	still_serving(c, a, id, &count, r, "OWNER refused");

	/* 3. RESET without it (v1 zeroed the accounting) */
	cr_assert_eq(as(c, KSH_OP_RESET, &guess, sizeof guess, r), KSH_EPERM);
	cr_assert_eq(as(c, KSH_OP_RESET, &a, sizeof a, r), KSH_EPERM);
	forged += 2;
	still_serving(c, a, id, &count, r, "RESET refused"); /* not zeroed */

	/* 4. COUNTERS and STATS of another owner (v1 disclosed every
	 * owner's counts): b sees its own filters only (a's count as 0),
	 * the administrator sees all, a mixed credential nothing */
	struct ksh_cred b = owner(c, r);
	cr_assert_eq(b.owner, a.owner + 1, "a refused OWNER created an owner");
	cr_assert_eq(matches_as(c, b, id, r), 0);
	cr_assert_eq(matches_as(c, admin, id, r), count);
	struct ksh_cred mixed = {a.owner, b.cap};
	struct ksh_counters_req q = {mixed, (uint32_t)id};
	cr_assert_eq(as(c, KSH_OP_COUNTERS, &q, sizeof q, r), KSH_EPERM);
	cr_assert_eq(as(c, KSH_OP_STATS, &mixed, sizeof mixed, r), KSH_EPERM);
	forged += 2;
	cr_assert_eq(as(c, KSH_OP_STATS, NULL, 0, r), KSH_EMALFORMED);
	still_serving(c, a, id, &count, r, "COUNTERS/STATS refused");

	/* 5. replies are never answered (v1 answered them), even an EXIT
	 * reply with the real admission credential */
	uint64_t stray = cli_ksh_stray(c);
	struct ksh_exit rx = {admin, 9};
	uint8_t f[KSH_FRAME_MAX];
	size_t n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac,
	                          KSH_OP_EXIT | KSH_REPLY, cli_ksh_take_seq(c),
	                          &rx, sizeof rx);
	cr_assert_eq(cli_ksh_send_raw(c, f, n), 0);
	n = cli_ksh_encode(f, cli_ksh_guest_mac, cli_ksh_host_mac,
	                   KSH_OP_STATS | KSH_REPLY, cli_ksh_take_seq(c), &a,
	                   sizeof a);
	cr_assert_eq(cli_ksh_send_raw(c, f, n), 0);
	alive(c, r); /* the next reply is HELLO's */
	cr_assert_eq(cli_ksh_pump(c, 100, NULL, 0), 0, "%s", cli_ksh_error(c));
	cr_assert_eq(cli_ksh_stray(c), stray, "a reply was answered");
	still_serving(c, a, id, &count, r, "replies injected");

	/* 6. replays: a request accepted once is refused the second time,
	 * and so is any older seq of the same credential */
	uint32_t s = cli_ksh_take_seq(c);
	struct ksh_config cfg = {a, 0, 0};
	cr_assert_eq(raw(c, KSH_OP_CONFIG, s, &cfg, sizeof cfg, r), KSH_OK, "%s",
	             r->reason);
	cr_assert_eq(raw(c, KSH_OP_CONFIG, s, &cfg, sizeof cfg, r), KSH_EREPLAY);
	char want[120];
	snprintf(want, sizeof want,
	         "seq %u replayed: %u was the last accepted for owner %u", s, s,
	         a.owner);
	cr_assert_str_eq(r->reason, want);
	cr_assert_eq(raw(c, KSH_OP_CONFIG, 1, &cfg, sizeof cfg, r), KSH_EREPLAY);
	s = cli_ksh_take_seq(c);
	cr_assert_eq(raw(c, KSH_OP_STATS, s, &admin, sizeof admin, r), KSH_OK);
	cr_assert_eq(raw(c, KSH_OP_STATS, s, &admin, sizeof admin, r),
	             KSH_EREPLAY);
	still_serving(c, a, id, &count, r, "replays refused");

	/* 7. forged capabilities: refused, and a forged request with the
	 * highest seq does not lock the real owner out */
	struct ksh_cred fa = {a.owner, a.cap ^ 1};
	cfg.who = fa;
	cr_assert_eq(as(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r), KSH_EPERM);
	cr_assert_str_eq(r->reason, "bad capability for owner 1");
	cr_assert_eq(stage(c, fa, "filter x { arp }\n", r), KSH_EPERM);
	struct ksh_delete del = {fa, id};
	cr_assert_eq(as(c, KSH_OP_DELETE, &del, sizeof del, r), KSH_EPERM);
	q.who = fa;
	cr_assert_eq(as(c, KSH_OP_COUNTERS, &q, sizeof q, r), KSH_EPERM);
	cr_assert_eq(as(c, KSH_OP_STATS, &fa, sizeof fa, r), KSH_EPERM);
	struct ksh_cred ghost = {KSH_MAX_OWNERS, a.cap};
	cr_assert_eq(as(c, KSH_OP_STATS, &ghost, sizeof ghost, r), KSH_EPERM);
	cr_assert_eq(raw(c, KSH_OP_STATS, 0xffffffffu, &fa, sizeof fa, r),
	             KSH_EPERM);
	cr_assert_eq(raw(c, KSH_OP_STATS, 0xffffffffu, &guess, sizeof guess, r),
	             KSH_EPERM);
	forged += 8;
	/* the administrator cannot act as an owner either */
	cfg.who = admin;
	cr_assert_eq(as(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r), KSH_EPERM);
	cr_assert_str_eq(r->reason, "CONFIG needs an owner's capability");
	forged++;
	still_serving(c, a, id, &count, r, "forgeries refused");

	/* 8. an OWNER flood with the credential: the budget refuses it
	 * before the owner pool runs out, and gives one back later */
	int made = 0, throttled = 0;
	for (int i = 0; i < (int)KSH_OWNER_BURST + 2; i++) {
		int32_t st = as(c, KSH_OP_OWNER, &admin, sizeof admin, r);
		cr_assert(st == KSH_OK || st == KSH_ERATE, "OWNER: %d %s", st,
		          r->reason);
		made += st == KSH_OK;
		throttled += st == KSH_ERATE;
	}
	cr_assert_geq(throttled, 1, "no OWNER past the budget was refused");
	cr_assert_leq(made, (int)KSH_OWNER_BURST);
	cr_assert_lt(2 + made, (int)KSH_MAX_OWNERS, "the pool ran out first");
	const long wait_ms = KSH_OWNER_REFILL_MS + 100;
	struct timespec nap = {wait_ms / 1000, wait_ms % 1000 * 1000000};
	cr_assert_eq(nanosleep(&nap, NULL), 0);
	cr_assert_eq(as(c, KSH_OP_OWNER, &admin, sizeof admin, r), KSH_OK,
	             "%s", r->reason);
	still_serving(c, a, id, &count, r, "an OWNER flood");

	/* every refusal counted by its reason */
	struct ksh_stats st = stats_as(c, admin, r);
	cr_assert_eq(st.ctl_forged, forged);
	cr_assert_eq(st.ctl_ignored, 2);
	cr_assert_eq(st.ctl_replayed, 3);
	cr_assert_eq(st.ctl_throttled, (uint64_t)throttled);
	cr_assert_eq(st.ctl_malformed, 3);
	cr_assert_eq(st.rx_frames, st.ctl_frames + st.data_frames);

	/* RESET and EXIT with the credential still work */
	cr_assert_eq(as(c, KSH_OP_RESET, &admin, sizeof admin, r), KSH_OK);
	count = 0;
	still_serving(c, a, id, &count, r, "RESET");
	bye(c);
}

/* STATS until the stand-in application has taken everything delivered
 * (it runs after each round of received frames, and a request can arrive
 * within the round that answered the one before it). */
static void settle(struct cli_ksh *c, struct cli_ksh_reply *r,
                   struct ksh_stats *st)
{
	struct timespec nap = {0, 2000000};
	struct ksh_cred admin = cli_ksh_admin(c);
	for (int i = 0; i < 100; i++) {
		if (i)
			nanosleep(&nap, NULL);
		call(c, KSH_OP_STATS, &admin, sizeof admin, r);
		cr_assert_eq(r->status, KSH_OK);
		memcpy(st, r->body, sizeof *st);
		if (st->consumed >= st->delivered)
			return;
	}
}

/* RESET, then n frames as fast as the host can send them: IPv4/UDP to
 * port 9, every eighth ARP (unmatched); *st: the STATS after them. */
static void flood(struct cli_ksh *c, struct cli_ksh_reply *r, uint64_t n,
                  struct ksh_stats *st)
{
	uint8_t udp[60] = {0x52, 0x54, 0, 0x12, 0x34, 0x56, 2, 0, 0, 0, 0, 2,
	                   0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17};
	udp[30] = 10;
	udp[33] = 1;
	udp[37] = 9; /* dport 9 */
	uint8_t arp[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2,
	                   0x08, 0x06};
	struct ksh_cred admin = cli_ksh_admin(c);
	call(c, KSH_OP_RESET, &admin, sizeof admin, r);
	cr_assert_eq(r->status, KSH_OK);
	for (uint64_t i = 0; i < n; i++)
		if (cli_ksh_send_raw(c, i % 8 == 7 ? arp : udp, 60) != 0)
			fail_with_log(c, "flood");
	call(c, KSH_OP_STATS, &admin, sizeof admin, r);
	cr_assert_eq(r->status, KSH_OK);
	memcpy(st, r->body, sizeof *st);
	cr_assert_eq(st->data_frames, n);
}

Test(boot_e2e, a_flood_is_accounted_frame_for_frame, .timeout = 60)
{
	struct cli_ksh *c = boot_nic(CLI_NIC_E1000E);
	struct cli_ksh_reply *r = &reply_buf;
	struct ksh_hello h;
	hello(c, &h);
	struct ksh_cred a = owner(c, r);
	cr_assert_eq(stage(c, a, "filter udp9 { udp.dport == 9 }\n", r), KSH_OK);
	cr_assert_eq(insert(c, a, NULL, 0, r), KSH_OK, "%s", r->reason);
	const uint64_t n = 6000;
	struct ksh_stats st;

	/* 1. the application paused: the ring takes KSH_RING_SLOTS frames,
	 * every later match is dropped, each exactly once */
	struct ksh_config cfg = {a, 0, KSH_DRAIN_NONE};
	call(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r);
	cr_assert_eq(r->status, KSH_OK, "%s", r->reason);
	flood(c, r, n, &st);
	cr_assert_eq(st.unmatched, n / 8);
	cr_assert_eq(st.delivered, KSH_RING_SLOTS, "the ring's slots: %llu",
	             (unsigned long long)st.delivered);
	cr_assert_eq(st.dropped, n - n / 8 - KSH_RING_SLOTS);
	cr_assert_eq(st.refused, 0);
	cr_assert_eq(st.consumed, 0);
	cr_assert_eq(st.data_frames,
	             st.delivered + st.dropped + st.unmatched + st.refused);
	cr_assert_eq(st.rx_frames, st.ctl_frames + st.data_frames);

	/* the application resumes: it takes what the ring held */
	cfg.drain = 0;
	call(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r);
	cr_assert_eq(r->status, KSH_OK, "%s", r->reason);
	settle(c, r, &st);
	cr_assert_eq(st.consumed, KSH_RING_SLOTS, "consumed %llu",
	             (unsigned long long)st.consumed);

	/* 2. one frame per poll, against a host sending as fast as it can:
	 * whatever the timing, every frame is accounted exactly once, and
	 * what was delivered is consumed */
	cfg.drain = 1;
	call(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r);
	cr_assert_eq(r->status, KSH_OK, "%s", r->reason);
	flood(c, r, n, &st);
	cr_assert_eq(st.data_frames,
	             st.delivered + st.dropped + st.unmatched + st.refused,
	             "data %llu delivered %llu dropped %llu unmatched %llu "
	             "refused %llu",
	             (unsigned long long)st.data_frames,
	             (unsigned long long)st.delivered,
	             (unsigned long long)st.dropped,
	             (unsigned long long)st.unmatched,
	             (unsigned long long)st.refused);
	cr_assert_eq(st.unmatched, n / 8);
	cr_assert_eq(st.refused, 0);
	cr_assert_eq(st.rx_frames, st.ctl_frames + st.data_frames);
	cfg.drain = 0; /* then all: the ring empties */
	call(c, KSH_OP_CONFIG, &cfg, sizeof cfg, r);
	settle(c, r, &st);
	cr_assert_eq(st.consumed, st.delivered, "consumed %llu of %llu",
	             (unsigned long long)st.consumed,
	             (unsigned long long)st.delivered);
	bye(c);
}

/* Every Ethernet capture of ../shared/corpus/pcap as one trace, each frame
 * as a wire delivers it: under 60 bytes padded with zeros (as the NIC
 * does), over 1514 cut, empty and control-EtherType frames left out.
 * Returns the frames written. */
static unsigned corpus_trace(const char *dir, const char *out)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *w = pcap_dump_open(dead, out);
	cr_assert_not_null(w, "%s", pcap_geterr(dead));
	unsigned n = 0, files = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX], eb[PCAP_ERRBUF_SIZE];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		pcap_t *in = pcap_open_offline(path, eb);
		if (!in)
			continue;
		if (pcap_datalink(in) != DLT_EN10MB) {
			pcap_close(in);
			continue;
		}
		files++;
		struct pcap_pkthdr *h;
		const u_char *data;
		while (pcap_next_ex(in, &h, &data) == 1) {
			u_char f[1514] = {0};
			uint32_t len = h->caplen > 1514 ? 1514 : h->caplen;
			if (len == 0 || (len >= 14 && data[12] == (KSH_ETHERTYPE >> 8) &&
			                 data[13] == (KSH_ETHERTYPE & 0xff)))
				continue;
			memcpy(f, data, len);
			struct pcap_pkthdr x = *h;
			x.caplen = x.len = len < 60 ? 60 : len;
			pcap_dump((u_char *)w, &x, f);
			n++;
		}
		pcap_close(in);
	}
	closedir(d);
	pcap_dump_close(w);
	pcap_close(dead);
	cr_assert_gt(files, 100, "only %u Ethernet captures in %s", files, dir);
	return n;
}

Test(boot_e2e_cli, corpus_captures_count_as_dpf_replay, .timeout = 60)
{
	need_kernel();
	const char *dir = DPF_SOURCE_DIR "/../shared/corpus/pcap";
	if (access(dir, R_OK) != 0)
		cr_skip_test("boot_e2e_cli::corpus_captures_count_as_dpf_replay "
		             "skipped: %s not found", dir);
	unsigned n = corpus_trace(dir, bu_path("corpus.pcap"));
	cr_assert_gt(n, 1000);
	const char *filters = DPF_SOURCE_DIR "/tests/corpus/filters.dpf";
	const char *b[] = {"boot", "-r", "corpus.pcap", filters, "--json",
	                   "--kernel", kernel(), "--timeout", "20", NULL};
	struct bu_run bo = bu_dpf(NULL, b, 50);
	cr_assert_eq(bo.status, 0, "%s", bo.err);
	const char *p[] = {"replay", "--engine=interp", "-r", "corpus.pcap",
	                   filters, "--json", NULL};
	struct bu_run re = bu_dpf(NULL, p, 30);
	cr_assert_eq(re.status, 0, "%s", re.err);
	bu_assert_same_counts(bo.out, re.out);
	char want[48];
	snprintf(want, sizeof want, "{\"packets\":%u,", n);
	cr_assert(strncmp(bo.out, want, strlen(want)) == 0, "%s", bo.out);
	cr_assert_not_null(strstr(bo.out, "\"engine\":\"x86\""), "%s", bo.out);
	bu_free(&bo);
	bu_free(&re);
}
