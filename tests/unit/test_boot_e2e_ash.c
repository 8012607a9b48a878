/*
 * test_boot_e2e_ash.c - handlers (ASHs) in the kernel-shim under QEMU, end
 * to end: `dpf boot` with three handlers bound at once (icmp_echo: XDP_TX,
 * counters: PASS and maps, truncate: adjust_tail then PASS) on a `dpf gen`
 * trace counts every filter's matches and every handler's actions as
 * `dpf replay` does, and the frames the guest transmits equal `dpf replay
 * --tx`; the control channel refuses, with a reason, a handler for another
 * owner's filter, a forged credential, a damaged image (CRC-32), an
 * incomplete transfer, an out-of-order chunk, an oversized image and every
 * hostile program of tests/ash/hostile, each with the kernel verifier's
 * message, which is `dpf ash check`'s, a program past the per-frame
 * instruction budget and maps past the owner's memory quota; each action
 * (DROP, TX, ABORTED, REDIRECT) is counted and its frames accounted;
 * `dpf boot` exits 1 with the verifier's message at the handler clause.
 *
 * Needs the image <build>/kernel-shim/kernel.elf (or $DPF_KERNEL) and
 * QEMU: without either every test FAILS, saying what is missing.  Each
 * QEMU run is bounded by the client's timeout.  Every test has the same
 * .timeout: with different ones, Criterion's parallel runner (--jobs 2)
 * leaked 48 bytes of its own, which the sanitizer build reports.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "boot_guest.h"
#include "boot_util.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "dpf/dpf.h"
#include "kernel-shim/param.h"

#define STEP_MS 20000
#define EXAMPLES DPF_BINARY_DIR "/ash/examples"
#define HOSTILE DPF_BINARY_DIR "/tests/ash/hostile"
#define HOSTILE_SRC DPF_SOURCE_DIR "/tests/ash/hostile"

static char qemu_path[PATH_MAX];

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

static void fail_with_log(struct cli_ksh *c, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cli_ksh_log_tail(c, m, 40);
	fclose(m);
	cr_assert_fail("%s: %s\n%s", what, cli_ksh_error(c), buf);
}

/* A guest whose handlers' CPU budget is ash_cpu cycles per ms (0: the
 * kernel's own). */
static struct cli_ksh *boot_cpu(uint64_t ash_cpu)
{
	need_kernel();
	char err[PATH_MAX + 200];
	if (cli_qemu_find(qemu_path, sizeof qemu_path, err, sizeof err) != 0)
		cr_assert_fail("%s: the end-to-end boot tests cannot run", err);
	struct cli_ksh_opts o = {qemu_path, kernel(), CLI_NIC_E1000E, {0},
	                         STEP_MS, NULL, ash_cpu};
	memcpy(o.mac, cli_ksh_guest_mac, 6);
	struct cli_ksh *c = NULL;
	cr_assert_eq(cli_ksh_spawn(&o, &c, err, sizeof err), 0, "%s", err);
	struct ksh_hello h;
	uint64_t ns;
	if (cli_ksh_hello(c, &h, &ns) != 0)
		fail_with_log(c, "HELLO");
	return c;
}

static struct cli_ksh *boot(void)
{
	return boot_cpu(0);
}

static struct cli_ksh_reply reply_buf;

static int32_t call(struct cli_ksh *c, uint8_t op, const void *p, size_t len)
{
	if (cli_ksh_call(c, op, p, len, &reply_buf) != 0)
		fail_with_log(c, "request");
	return reply_buf.status;
}

static struct ksh_cred owner(struct cli_ksh *c)
{
	struct ksh_cred admin = cli_ksh_admin(c);
	cr_assert_eq(call(c, KSH_OP_OWNER, &admin, sizeof admin), KSH_OK, "%s",
	             reply_buf.reason);
	struct ksh_owner_reply o;
	memcpy(&o, reply_buf.body, sizeof o);
	struct ksh_cred cr = {o.owner, o.cap};
	return cr;
}

/* Install one filter for who; returns its id. */
static int32_t filter(struct cli_ksh *c, struct ksh_cred who, const char *src)
{
	struct dpf_prog *p = tu_parse(src);
	uint8_t pl[KSH_PAYLOAD_MAX];
	long n = dpf_ir_write(p, NULL, 0);
	cr_assert(n > 0 && (size_t)n + sizeof(struct ksh_ir_chunk) <= sizeof pl);
	struct ksh_ir_chunk h = {who, 0, (uint32_t)n};
	memcpy(pl, &h, sizeof h);
	cr_assert_eq(dpf_ir_write(p, pl + sizeof h, (size_t)n), n);
	dpf_prog_free(dpf_host_libc(), p);
	cr_assert_eq(call(c, KSH_OP_IR, pl, sizeof h + (size_t)n), KSH_OK, "%s",
	             reply_buf.reason);
	struct ksh_insert in = {who, 0};
	cr_assert_eq(call(c, KSH_OP_INSERT, &in, sizeof in), KSH_OK, "%s",
	             reply_buf.reason);
	int32_t id;
	memcpy(&id, reply_buf.body + 4, 4);
	return id;
}

/* A hand-made image: insns, and nmaps ARRAY maps of value_size 64 KiB
 * and max_entries entries (unused by the program). */
static uint8_t *image_made(const struct ash_insn *insns, uint32_t n,
                           uint32_t nmaps, uint32_t entries, size_t *len)
{
	struct ash_image img;
	struct ash_map_def maps[8];
	memset(&img, 0, sizeof img);
	memset(maps, 0, sizeof maps);
	cr_assert(nmaps <= 8);
	for (uint32_t i = 0; i < nmaps; i++) {
		snprintf(maps[i].name, sizeof maps[i].name, "big%u", i);
		maps[i].type = ASH_MAP_ARRAY;
		maps[i].kind = ASH_MAPK_USER;
		maps[i].key_size = 4;
		maps[i].value_size = 65536;
		maps[i].max_entries = entries;
	}
	strcpy(img.prog, "made");
	strcpy(img.section, "xdp");
	img.ninsns = n;
	img.insns = (struct ash_insn *)insns;
	img.nmaps = nmaps;
	img.maps = maps;
	long w = ash_image_write(&img, NULL, 0);
	cr_assert_gt(w, 0);
	uint8_t *buf = malloc((size_t)w);
	cr_assert_eq(ash_image_write(&img, buf, (size_t)w), w);
	*len = (size_t)w;
	return buf;
}

/* bpf_loop(1000000, cb, 0, 0) with an empty callback: the verifier
 * proves about 2 million instructions per frame. */
static const struct ash_insn spin[] = {
	{0xb7, 1, 0, 0, 1000000}, /* r1 = 1000000 */
	{0x18, 2, ASH_PSEUDO_FUNC, 0, 6}, /* r2 = the callback (slot 8) */
	{0, 0, 0, 0, 0},
	{0xb7, 3, 0, 0, 0},
	{0xb7, 4, 0, 0, 0},
	{0x85, 0, 0, 0, ASH_H_LOOP},
	{0xb7, 0, 0, 0, ASH_XDP_PASS},
	{0x95, 0, 0, 0, 0},
	{0xb7, 0, 0, 0, 0}, /* callback: return 0 */
	{0x95, 0, 0, 0, 0},
};

/* return XDP_PASS */
static const struct ash_insn pass[] = {
	{0xb7, 0, 0, 0, ASH_XDP_PASS},
	{0x95, 0, 0, 0, 0},
};

static int32_t begin(struct cli_ksh *c, struct ksh_cred who, int32_t id,
                     uint32_t total, uint32_t crc)
{
	struct ksh_ash_begin b = {who, id, total, crc};
	return call(c, KSH_OP_ASH_BEGIN, &b, sizeof b);
}

static int32_t chunk(struct cli_ksh *c, struct ksh_cred who, uint32_t off,
                     const uint8_t *p, size_t n)
{
	uint8_t pl[KSH_PAYLOAD_MAX];
	struct ksh_ash_chunk h = {who, off};
	cr_assert(sizeof h + n <= sizeof pl);
	memcpy(pl, &h, sizeof h);
	memcpy(pl + sizeof h, p, n);
	return call(c, KSH_OP_ASH_CHUNK, pl, sizeof h + n);
}

#define CHUNK 1024

/* Every chunk in order; the first refusal's status, or KSH_OK. */
static int32_t send_all(struct cli_ksh *c, struct ksh_cred who,
                        const uint8_t *img, size_t n)
{
	for (size_t off = 0; off < n; off += CHUNK) {
		int32_t st = chunk(c, who, (uint32_t)off, img + off,
		                   n - off < CHUNK ? n - off : CHUNK);
		if (st != KSH_OK)
			return st;
	}
	return KSH_OK;
}

static int32_t commit(struct cli_ksh *c, struct ksh_cred who)
{
	return call(c, KSH_OP_ASH_COMMIT, &who, sizeof who);
}

static struct ksh_stats stats(struct cli_ksh *c, struct ksh_cred who)
{
	cr_assert_eq(call(c, KSH_OP_STATS, &who, sizeof who), KSH_OK);
	struct ksh_stats st;
	cr_assert(reply_buf.len >= sizeof st);
	memcpy(&st, reply_buf.body, sizeof st);
	return st;
}

/* The message `dpf ash check OBJ` prints: "N: error: MSG" of its first
 * line "OBJ:xdp:N: error: MSG", returned as "insn N: MSG". */
static char *check_message(const char *obj)
{
	const char *a[] = {"ash", "check", obj, NULL};
	struct bu_run r = bu_dpf(NULL, a, 30);
	cr_assert_eq(r.status, 1, "dpf ash check %s: %s", obj, r.err);
	char *nl = strchr(r.err, '\n');
	if (nl)
		*nl = 0;
	const char *e = strstr(r.err, ": error: ");
	cr_assert_not_null(e, "%s", r.err);
	const char *p = e;
	while (p > r.err && p[-1] != ':')
		p--;
	unsigned insn;
	cr_assert_eq(sscanf(p, "%u", &insn), 1, "%s", r.err);
	size_t cap = strlen(e) + 64;
	char *out = malloc(cap);
	snprintf(out, cap, "verifier refused at insn %u: %s", insn,
	         e + strlen(": error: "));
	bu_free(&r);
	return out;
}

/* A UDP frame to dport, from the host to the guest. */
static void udp_frame(uint8_t f[60], uint16_t dport)
{
	memset(f, 0, 60);
	memcpy(f, cli_ksh_guest_mac, 6);
	memcpy(f + 6, cli_ksh_host_mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 46;
	f[22] = 64;
	f[23] = 17;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
}

TestSuite(boot_e2e_ash, .init = bu_scratch_init, .fini = bu_scratch_fini);

Test(boot_e2e_ash, the_channel_refuses_bad_transfers_and_hostile_programs,
     .timeout = 240)
{
	struct cli_ksh *c = boot();
	struct ksh_cred a = owner(c), b = owner(c);
	int32_t fa = filter(c, a, "filter fa { udp.dport == 9 }");
	int32_t fb = filter(c, b, "filter fb { udp.dport == 10 }");
	size_t n;
	uint8_t *img = bg_image_of(EXAMPLES "/counters.o", &n);
	uint32_t crc = ksh_crc32(img, (uint32_t)n);
	cr_assert_gt(n, CHUNK, "the image should take several chunks");

	/* another owner's filter */
	cr_assert_eq(begin(c, a, fb, (uint32_t)n, crc), KSH_EPERM);
	cr_assert(strstr(reply_buf.reason, "belongs to owner"), "%s",
	          reply_buf.reason);
	/* no such filter */
	cr_assert_eq(begin(c, a, 4000, (uint32_t)n, crc), KSH_ENOENT);
	/* a forged capability, and the admission credential */
	struct ksh_cred forged = a;
	forged.cap ^= 1;
	cr_assert_eq(begin(c, forged, fa, (uint32_t)n, crc), KSH_EPERM);
	cr_assert_eq(begin(c, cli_ksh_admin(c), fa, (uint32_t)n, crc), KSH_EPERM);
	/* oversized */
	cr_assert_eq(begin(c, a, fa, KSH_ASH_IMAGE_MAX + 1, crc), KSH_ENOSPC);
	cr_assert(strstr(reply_buf.reason, "exceeds the limit"), "%s",
	          reply_buf.reason);
	/* chunk and commit without a transfer */
	cr_assert_eq(chunk(c, a, 0, img, 16), KSH_ESTATE);
	cr_assert_eq(commit(c, a), KSH_ESTATE);
	/* damaged: one byte changed in transit */
	cr_assert_eq(begin(c, a, fa, (uint32_t)n, crc), KSH_OK);
	uint8_t *bad = malloc(n);
	memcpy(bad, img, n);
	bad[n / 2] ^= 0x40;
	cr_assert_eq(send_all(c, a, bad, n), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "damaged"), "%s", reply_buf.reason);
	free(bad);
	/* incomplete: committed before the last chunk */
	cr_assert_eq(begin(c, a, fa, (uint32_t)n, crc), KSH_OK);
	cr_assert_eq(chunk(c, a, 0, img, CHUNK), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_ESTATE);
	cr_assert(strstr(reply_buf.reason, "incomplete"), "%s", reply_buf.reason);
	/* out of order: the second chunk first, and a chunk past the end */
	cr_assert_eq(begin(c, a, fa, (uint32_t)n, crc), KSH_OK);
	cr_assert_eq(chunk(c, a, CHUNK, img + CHUNK, 16), KSH_ESTATE);
	cr_assert(strstr(reply_buf.reason, "expected offset 0"), "%s",
	          reply_buf.reason);
	cr_assert_eq(chunk(c, a, 0, img, 16), KSH_OK);
	cr_assert_eq(chunk(c, a, 0, img, 16), KSH_ESTATE);
	cr_assert_eq(commit(c, a), KSH_ESTATE);
	cr_assert_eq(begin(c, a, fa, 8, crc), KSH_OK);
	cr_assert_eq(chunk(c, a, 0, img, 16), KSH_EINVAL);
	/* no handler was bound by any of that */
	struct ksh_ash_ref ref = {a, fa};
	cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &ref, sizeof ref), KSH_ENOENT);
	cr_assert_eq(stats(c, a).ash_handlers, 0);

	/* every hostile program, refused by the kernel's own verifier with
	 * the message `dpf ash check` gives */
	DIR *d = opendir(HOSTILE_SRC);
	cr_assert_not_null(d);
	struct dirent *de;
	unsigned hostile = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 3 || strcmp(de->d_name + l - 2, ".c") != 0)
			continue;
		char obj[PATH_MAX];
		snprintf(obj, sizeof obj, "%s/%.*s.o", HOSTILE, (int)(l - 2),
		         de->d_name);
		size_t hn;
		uint8_t *h = bg_image_of(obj, &hn);
		char *want = check_message(obj);
		cr_assert_eq(begin(c, a, fa, (uint32_t)hn,
		                   ksh_crc32(h, (uint32_t)hn)), KSH_OK,
		             "%s: %s", obj, reply_buf.reason);
		cr_assert_eq(send_all(c, a, h, hn), KSH_OK, "%s: %s", obj,
		             reply_buf.reason);
		cr_assert_eq(commit(c, a), KSH_EINVAL, "%s: %s", obj,
		             reply_buf.reason);
		cr_assert_str_eq(reply_buf.reason, want, "%s", obj);
		free(want);
		free(h);
		hostile++;
	}
	closedir(d);
	cr_assert_geq(hostile, 10, "only %u hostile programs", hostile);

	/* verified, but past the kernel's per-frame instruction budget */
	size_t sn;
	uint8_t *si = image_made(spin, sizeof spin / sizeof spin[0], 0, 0, &sn);
	cr_assert_eq(begin(c, a, fa, (uint32_t)sn,
	                   ksh_crc32(si, (uint32_t)sn)), KSH_OK);
	cr_assert_eq(send_all(c, a, si, sn), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "budget is 100000"), "%s",
	          reply_buf.reason);
	free(si);
	/* maps past the owner's memory quota: six of 3 MiB */
	si = image_made(pass, 2, 6, 48, &sn);
	cr_assert_eq(begin(c, a, fa, (uint32_t)sn,
	                   ksh_crc32(si, (uint32_t)sn)), KSH_OK);
	cr_assert_eq(send_all(c, a, si, sn), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_ENOSPC);
	cr_assert(strstr(reply_buf.reason, "handler maps: out of memory"), "%s",
	          reply_buf.reason);
	free(si);

	/* the good image binds; twice is refused; the other owner can neither
	 * detach it nor read it */
	cr_assert_eq(begin(c, a, fa, (uint32_t)n, crc), KSH_OK);
	cr_assert_eq(send_all(c, a, img, n), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_OK, "%s", reply_buf.reason);
	struct ksh_ash_commit_reply cr_;
	memcpy(&cr_, reply_buf.body, sizeof cr_);
	cr_assert_eq(cr_.filter, fa);
	cr_assert_gt(cr_.worst_insns, 0);
	cr_assert_gt(cr_.mem_bytes, 0);
	/* everything the refusals allocated was given back */
	cr_assert_lt(cr_.mem_bytes, 1u << 20, "%llu bytes charged",
	             (unsigned long long)cr_.mem_bytes);
	cr_assert_eq(begin(c, a, fa, (uint32_t)n, crc), KSH_OK);
	cr_assert_eq(send_all(c, a, img, n), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_ESTATE);
	cr_assert(strstr(reply_buf.reason, "already has a handler"), "%s",
	          reply_buf.reason);
	struct ksh_ash_ref other = {b, fa};
	cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &other, sizeof other), KSH_EPERM);
	cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &other, sizeof other),
	             KSH_EPERM);
	cr_assert_eq(stats(c, a).ash_handlers, 1);

	/* frames run it: counters passes every frame to the ring */
	uint8_t f[60];
	udp_frame(f, 9);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(cli_ksh_send_raw(c, f, sizeof f), 0);
	struct ksh_stats st = stats(c, a);
	cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &ref, sizeof ref), KSH_OK, "%s",
	             reply_buf.reason);
	struct ksh_ash_counters cnt;
	memcpy(&cnt, reply_buf.body, sizeof cnt);
	cr_assert_eq(cnt.runs, 5);
	cr_assert_eq(cnt.pass, 5);
	cr_assert_eq(cnt.aborted + cnt.drop + cnt.tx + cnt.redirect, 0);
	cr_assert_eq(st.data_frames, 5);
	cr_assert_eq(st.delivered, 5);
	cr_assert_eq(st.data_frames, st.delivered + st.handled + st.dropped +
	                                 st.unmatched + st.refused);

	/* detached: frames take the ring path alone */
	cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &ref, sizeof ref), KSH_OK, "%s",
	             reply_buf.reason);
	cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &ref, sizeof ref), KSH_ENOENT);
	cr_assert_eq(stats(c, a).ash_handlers, 0);
	cr_assert_eq(cli_ksh_send_raw(c, f, sizeof f), 0);
	st = stats(c, a);
	cr_assert_eq(st.ash_runs, 5);
	cr_assert_eq(st.delivered, 6);

	/* each action on owner b's filter, 3 frames each: DROP and TX consume
	 * (handled), ABORTED and REDIRECT deliver to the ring; every frame is
	 * accounted */
	static const struct {
		int action;
		uint64_t handled, delivered;
	} acts[] = {{ASH_XDP_DROP, 3, 0}, {ASH_XDP_TX, 3, 0},
	            {ASH_XDP_ABORTED, 0, 3}, {ASH_XDP_REDIRECT, 0, 3}};
	f[37] = 10; /* udp dport 10: fb */
	for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
		struct ash_insn prog[2] = {{0xb7, 0, 0, 0, acts[i].action},
		                           {0x95, 0, 0, 0, 0}};
		size_t an;
		uint8_t *ai = image_made(prog, 2, 0, 0, &an);
		cr_assert_eq(begin(c, b, fb, (uint32_t)an,
		                   ksh_crc32(ai, (uint32_t)an)),
		             KSH_OK);
		cr_assert_eq(send_all(c, b, ai, an), KSH_OK);
		cr_assert_eq(commit(c, b), KSH_OK, "%s", reply_buf.reason);
		free(ai);
		struct ksh_stats s0 = stats(c, b);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(cli_ksh_send_raw(c, f, sizeof f), 0);
		struct ksh_stats s1 = stats(c, b);
		struct ksh_ash_ref rb = {b, fb};
		cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &rb, sizeof rb), KSH_OK);
		memcpy(&cnt, reply_buf.body, sizeof cnt);
		uint64_t got[5] = {cnt.aborted, cnt.drop, cnt.pass, cnt.tx,
		                   cnt.redirect};
		for (int k = 0; k < 5; k++)
			cr_assert_eq(got[k], k == acts[i].action ? 3u : 0u,
			             "action %d: counter %d is %llu", acts[i].action, k,
			             (unsigned long long)got[k]);
		cr_assert_eq(cnt.runs, 3);
		cr_assert_eq(cnt.faults, 0);
		cr_assert_eq(s1.handled - s0.handled, acts[i].handled);
		cr_assert_eq(s1.delivered - s0.delivered, acts[i].delivered);
		cr_assert_eq(s1.ash_tx - s0.ash_tx,
		             acts[i].action == ASH_XDP_TX ? 3u : 0u);
		cr_assert_eq(s1.data_frames, s1.delivered + s1.handled + s1.dropped +
		                                 s1.unmatched + s1.refused);
		cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &rb, sizeof rb), KSH_OK);
	}
	free(img);
	if (cli_ksh_exit(c, 0) != 0)
		fail_with_log(c, "EXIT");
	cli_ksh_free(c);
}

/* Bind the image of obj to filter id for who: KSH_OK or the refusal. */
static int32_t bind_obj(struct cli_ksh *c, struct ksh_cred who, int32_t id,
                    const char *obj)
{
	size_t n;
	uint8_t *img = bg_image_of(obj, &n);
	int32_t st = begin(c, who, id, (uint32_t)n, ksh_crc32(img, (uint32_t)n));
	if (st == KSH_OK)
		st = send_all(c, who, img, n);
	if (st == KSH_OK)
		st = commit(c, who);
	free(img);
	return st;
}

static void send_frames(struct cli_ksh *c, const uint8_t *f, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(cli_ksh_send_raw(c, f, 60), 0, "%s", cli_ksh_error(c));
}

static struct ksh_ash_counters ash_counters(struct cli_ksh *c,
                                            struct ksh_cred who, int32_t id)
{
	struct ksh_ash_ref ref = {who, id};
	cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &ref, sizeof ref), KSH_OK, "%s",
	             reply_buf.reason);
	struct ksh_ash_counters cnt;
	memcpy(&cnt, reply_buf.body, sizeof cnt);
	return cnt;
}

/* One map read: the status; *found and the value (and *next) filled. */
static int32_t map_read(struct cli_ksh *c, struct ksh_cred who, int32_t id,
                        uint32_t map, uint32_t how, const void *key,
                        uint32_t ksz, void *next, void *val, uint32_t vsz,
                        int *found)
{
	if (cli_ksh_map_read(c, who, id, map, how, key, ksz, next, val, vsz,
	                     found, &reply_buf) != 0)
		fail_with_log(c, "ASH_MAP_READ");
	return reply_buf.status;
}

static int32_t map_write(struct cli_ksh *c, struct ksh_cred who, int32_t id,
                         uint32_t map, const void *key, uint32_t ksz,
                         const void *val, uint32_t vsz, uint64_t flags)
{
	if (cli_ksh_map_write(c, who, id, map, key, ksz, val, vsz, flags,
	                      &reply_buf) != 0)
		fail_with_log(c, "ASH_MAP_WRITE");
	return reply_buf.status;
}

/* A raw ASH_MAP_READ or WRITE payload, for lengths the client never
 * sends. */
static int32_t raw_call(struct cli_ksh *c, uint8_t op, const void *hdr,
                        size_t hn, size_t extra)
{
	uint8_t pl[KSH_PAYLOAD_MAX] = {0};
	memcpy(pl, hdr, hn);
	return call(c, op, pl, hn + extra);
}

#define BURN_CPU 40000u /* cycles per ms */
#define BURN_FRAMES 400

struct burn_config {
	uint32_t rounds, action;
};

Test(boot_e2e_ash, maps_are_read_and_written_by_their_owner_only,
     .timeout = 240)
{
	struct cli_ksh *c = boot();
	struct ksh_cred a = owner(c), b = owner(c);
	int32_t fa = filter(c, a, "filter fa { udp.dport == 9 }");
	int32_t fb = filter(c, b, "filter fb { udp.dport == 10 }");
	int32_t fc = filter(c, a, "filter fc { udp.dport == 11 }");
	cr_assert_eq(bind_obj(c, a, fa, EXAMPLES "/burn.o"), KSH_OK, "%s",
	             reply_buf.reason);
	uint8_t f[60];
	udp_frame(f, 9);
	uint32_t k0 = 0, k1 = 1, next = 0;
	struct burn_config cfg = {7, 7};
	uint64_t burned[2];
	int found = 0;

	/* the configuration starts zero: frames pass */
	cr_assert_eq(map_read(c, a, fa, 0, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_OK, "%s", reply_buf.reason);
	cr_assert(found && cfg.rounds == 0 && cfg.action == 0);
	send_frames(c, f, 3);
	struct ksh_ash_counters cnt = ash_counters(c, a, fa);
	cr_assert_eq(cnt.pass, 3);
	/* written: the handler drops them now */
	cfg.action = ASH_XDP_DROP;
	cr_assert_eq(map_write(c, a, fa, 0, &k0, 4, &cfg, sizeof cfg,
	                       KSH_MAP_ANY),
	             KSH_OK, "%s", reply_buf.reason);
	struct ksh_stats s0 = stats(c, a);
	send_frames(c, f, 4);
	struct ksh_stats s1 = stats(c, a);
	cnt = ash_counters(c, a, fa);
	cr_assert_eq(cnt.pass, 3);
	cr_assert_eq(cnt.drop, 4);
	cr_assert_eq(s1.handled - s0.handled, 4);
	cr_assert_eq(s1.delivered, s0.delivered);
	/* its counts read back: by key, and key after key */
	cr_assert_eq(map_read(c, a, fa, 1, KSH_MAP_LOOKUP, &k0, 4, NULL,
	                      &burned[0], 8, &found),
	             KSH_OK);
	cr_assert(found);
	cr_assert_eq(burned[0], 7);
	uint64_t v;
	cr_assert_eq(map_read(c, a, fa, 1, KSH_MAP_FIRST, NULL, 4, &next, &v, 8,
	                      &found),
	             KSH_OK);
	cr_assert(found && next == 0 && v == 7);
	cr_assert_eq(map_read(c, a, fa, 1, KSH_MAP_NEXT, &k0, 4, &next, &v, 8,
	                      &found),
	             KSH_OK);
	cr_assert(found && next == 1);
	cr_assert_eq(map_read(c, a, fa, 1, KSH_MAP_NEXT, &k1, 4, &next, &v, 8,
	                      &found),
	             KSH_OK);
	cr_assert_eq(found, 0, "no key after the last");
	/* bpf's flags: NOEXIST on an array, EXIST past its end */
	cr_assert_eq(map_write(c, a, fa, 0, &k0, 4, &cfg, sizeof cfg,
	                       KSH_MAP_NOEXIST),
	             KSH_ESTATE);
	cr_assert_eq(map_write(c, a, fa, 0, &k1, 4, &cfg, sizeof cfg,
	                       KSH_MAP_EXIST),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "index past"), "%s", reply_buf.reason);
	cr_assert_eq(map_write(c, a, fa, 0, &k0, 4, &cfg, sizeof cfg, 9),
	             KSH_EINVAL);

	/* hostile requests, each refused with a reason */
	uint16_t short_key = 0;
	cr_assert_eq(map_read(c, a, fa, 0, KSH_MAP_LOOKUP, &short_key, 2, NULL,
	                      &cfg, sizeof cfg, &found),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "takes a key of 4 bytes, not 2"), "%s",
	          reply_buf.reason);
	cr_assert_eq(map_write(c, a, fa, 0, &k0, 4, &cfg, 4, KSH_MAP_ANY),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "values of 8, not 4 and 4"), "%s",
	          reply_buf.reason);
	cr_assert_eq(map_read(c, a, fa, 2, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "no map 2: the handler of filter"),
	          "%s", reply_buf.reason);
	cr_assert_eq(map_write(c, a, fa, 7, &k0, 4, &cfg, sizeof cfg,
	                       KSH_MAP_ANY),
	             KSH_EINVAL);
	/* another owner's filter, a filter without handler, no filter */
	cr_assert_eq(map_read(c, b, fa, 0, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_EPERM);
	cr_assert(strstr(reply_buf.reason, "belongs to owner"), "%s",
	          reply_buf.reason);
	cr_assert_eq(map_write(c, b, fa, 0, &k0, 4, &cfg, sizeof cfg,
	                       KSH_MAP_ANY),
	             KSH_EPERM);
	cr_assert_eq(map_read(c, b, fb, 0, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_ENOENT);
	cr_assert_eq(map_read(c, a, 5000, 0, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_ENOENT);
	/* a forged capability, the admission credential, and a request seen
	 * before (its seq at or below the owner's last) */
	struct ksh_cred forged = a;
	forged.cap ^= 0x100;
	cr_assert_eq(map_read(c, forged, fa, 0, KSH_MAP_LOOKUP, &k0, 4, NULL,
	                      &cfg, sizeof cfg, &found),
	             KSH_EPERM);
	cr_assert_eq(map_write(c, cli_ksh_admin(c), fa, 0, &k0, 4, &cfg,
	                       sizeof cfg, KSH_MAP_ANY),
	             KSH_EPERM);
	struct {
		struct ksh_ash_map_write w;
		uint32_t key;
		struct burn_config v;
	} __attribute__((packed)) stale = {{a, fa, 0, KSH_MAP_ANY, 4, 8}, 0,
	                                   {0, ASH_XDP_PASS}};
	uint8_t fr[KSH_FRAME_MAX];
	size_t fn = cli_ksh_encode(fr, cli_ksh_guest_mac, cli_ksh_host_mac,
	                           KSH_OP_ASH_MAP_WRITE, 2, &stale, sizeof stale);
	cr_assert_eq(cli_ksh_send_raw(c, fr, fn), 0);
	if (cli_ksh_wait_reply(c, 2, KSH_OP_ASH_MAP_WRITE, &reply_buf) != 0)
		fail_with_log(c, "stale MAP_WRITE");
	cr_assert_eq(reply_buf.status, KSH_EREPLAY, "%s", reply_buf.reason);
	/* lengths that do not add up */
	struct ksh_ash_map_read q = {a, fa, 0, KSH_MAP_LOOKUP, 0, 4};
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_READ, &q, sizeof q, 2),
	             KSH_EMALFORMED);
	struct ksh_ash_map_write w = {a, fa, 0, KSH_MAP_ANY, 4, 8};
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_WRITE, &w, sizeof w, 11),
	             KSH_EMALFORMED);
	w.value_len = 0xfffffff0u;
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_WRITE, &w, sizeof w, 12),
	             KSH_EMALFORMED);
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_READ, &q, 10, 0),
	             KSH_EMALFORMED);
	q.how = 9;
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_READ, &q, sizeof q, 4),
	             KSH_EINVAL);
	/* none of it changed the configuration: frames still drop */
	cr_assert_eq(map_read(c, a, fa, 0, KSH_MAP_LOOKUP, &k0, 4, NULL, &cfg,
	                      sizeof cfg, &found),
	             KSH_OK);
	cr_assert(found && cfg.rounds == 0 && cfg.action == ASH_XDP_DROP);

	/* a ring buffer has no keys; .rodata is frozen */
	cr_assert_eq(bind_obj(c, a, fc, EXAMPLES "/ringbuf.o"), KSH_OK, "%s",
	             reply_buf.reason);
	cr_assert_eq(map_read(c, a, fc, 0, KSH_MAP_FIRST, NULL, 4, &next, &v, 8,
	                      &found),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "ring buffer"), "%s",
	          reply_buf.reason);
	struct ksh_ash_ref rc_ = {a, fc};
	cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &rc_, sizeof rc_), KSH_OK);
	cr_assert_eq(bind_obj(c, a, fc, EXAMPLES "/global_data.o"), KSH_OK, "%s",
	             reply_buf.reason);
	size_t gn;
	uint8_t *gi = bg_image_of(EXAMPLES "/global_data.o", &gn);
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_image_read(dpf_host_libc(), gi, gn, &img, &d), 0);
	free(gi);
	uint32_t ro = img->nmaps;
	for (uint32_t i = 0; i < img->nmaps; i++)
		if (img->maps[i].kind == ASH_MAPK_RODATA)
			ro = i;
	cr_assert_lt(ro, img->nmaps);
	uint32_t rsz = img->maps[ro].value_size;
	ash_image_free(dpf_host_libc(), img);
	uint8_t rv[64] = {0};
	cr_assert_leq(rsz, sizeof rv);
	cr_assert_eq(map_read(c, a, fc, ro, KSH_MAP_LOOKUP, &k0, 4, NULL, rv, rsz,
	                      &found),
	             KSH_OK);
	cr_assert(found);
	cr_assert_eq(map_write(c, a, fc, ro, &k0, 4, rv, rsz, KSH_MAP_ANY),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, ".rodata: frozen"), "%s",
	          reply_buf.reason);
	cr_assert_eq(call(c, KSH_OP_ASH_DETACH, &rc_, sizeof rc_), KSH_OK);

	/* values longer than a frame: read in pieces, never written */
	size_t bn;
	uint8_t *bi = image_made(pass, 2, 1, 2, &bn);
	cr_assert_eq(begin(c, a, fc, (uint32_t)bn, ksh_crc32(bi, (uint32_t)bn)),
	             KSH_OK);
	cr_assert_eq(send_all(c, a, bi, bn), KSH_OK);
	cr_assert_eq(commit(c, a), KSH_OK, "%s", reply_buf.reason);
	free(bi);
	uint8_t *big = malloc(65536);
	memset(big, 0x5a, 65536);
	cr_assert_eq(map_read(c, a, fc, 0, KSH_MAP_NEXT, &k0, 4, &next, big,
	                      65536, &found),
	             KSH_OK, "%s", reply_buf.reason);
	cr_assert(found && next == 1);
	for (size_t i = 0; i < 65536; i++)
		cr_assert_eq(big[i], 0, "byte %zu", i);
	struct ksh_ash_map_value mv;
	memcpy(&mv, reply_buf.body, sizeof mv);
	cr_assert_gt(mv.offset, 0, "the last piece is not the first");
	cr_assert_eq(mv.offset + mv.n, 65536);
	cr_assert_eq(map_write(c, a, fc, 0, &k0, 4, big, 1000, KSH_MAP_ANY),
	             KSH_EINVAL);
	cr_assert(strstr(reply_buf.reason, "do not fit one frame"), "%s",
	          reply_buf.reason);
	struct ksh_ash_map_read past = {a, fc, 0, KSH_MAP_LOOKUP, 65536, 4};
	cr_assert_eq(raw_call(c, KSH_OP_ASH_MAP_READ, &past, sizeof past, 4),
	             KSH_EINVAL);
	free(big);

	struct ksh_stats st = stats(c, a);
	cr_assert_eq(st.data_frames, st.delivered + st.handled + st.dropped +
	                                 st.unmatched + st.refused);
	cr_assert_eq(st.ash_revoked, 0);
	if (cli_ksh_exit(c, 0) != 0)
		fail_with_log(c, "EXIT");
	cli_ksh_free(c);
}

/* Notices as the client hands them over. */
struct notices {
	unsigned n;
	struct ksh_ash_notice last;
};

static void got_notice(void *ctx, const struct ksh_ash_notice *n)
{
	struct notices *ns = ctx;
	ns->n++;
	ns->last = *n;
}

Test(boot_e2e_ash, a_handler_past_the_cpu_budget_is_revoked_with_a_notice,
     .timeout = 240)
{
	/* BURN_CPU: 4 million cycles per 100 ms window, reached by a hundred
	 * or so back-to-back runs of burn's 4096 rounds (some 35,000 cycles
	 * each under TCG, whose first run of new code also translates it:
	 * one to ten million cycles, depending on the host's load) */
	struct cli_ksh *c = boot_cpu(BURN_CPU);
	struct notices sent = {0}, queued = {0};
	cli_ksh_on_notice(c, got_notice, &sent);
	struct ksh_cred a = owner(c);
	int32_t fa = filter(c, a, "filter fa { udp.dport == 9 }");
	cr_assert_eq(bind_obj(c, a, fa, EXAMPLES "/burn.o"), KSH_OK, "%s",
	             reply_buf.reason);
	uint8_t f[60];
	udp_frame(f, 9);
	uint32_t k0 = 0;
	struct burn_config cfg = {4096, ASH_XDP_DROP};
	cr_assert_eq(map_write(c, a, fa, 0, &k0, 4, &cfg, sizeof cfg,
	                       KSH_MAP_ANY),
	             KSH_OK, "%s", reply_buf.reason);
	struct ksh_stats s0 = stats(c, a);
	cr_assert_eq(s0.ash_revoked, 0);
	send_frames(c, f, BURN_FRAMES);
	struct ksh_stats s1 = stats(c, a);
	/* revoked, counted, told at once */
	cr_assert_eq(s1.ash_revoked, 1);
	cr_assert_eq(s1.ash_handlers, 0);
	cr_assert_eq(sent.n, 1, "%u unsolicited notices", sent.n);
	const struct ksh_ash_notice *n = &sent.last;
	cr_assert_eq(n->reason, KSH_NOTICE_CPU);
	cr_assert_str_eq(n->prog, "burn");
	cr_assert_eq(n->filter, fa);
	cr_assert_eq(n->seq, 1);
	cr_assert_gt(n->used_cycles, n->budget_cycles);
	cr_assert_eq(n->budget_cycles, (uint64_t)BURN_CPU * KSH_ASH_CPU_WINDOW_MS);
	cr_assert_gt(n->run_cycles, 0);
	cr_assert_eq(n->window_cycles, s1.tsc_hz / 1000 * KSH_ASH_CPU_WINDOW_MS);
	cr_log_info("burn: %llu cycles the last run of 4096 rounds, %llu runs "
	            "dropped, budget %llu",
	            (unsigned long long)n->run_cycles,
	            (unsigned long long)n->cnt.drop,
	            (unsigned long long)n->budget_cycles);
	/* its last figures: every run dropped its frame, the revoking one
	 * included */
	cr_assert_geq(n->cnt.drop, 1);
	cr_assert_eq(n->cnt.runs, n->cnt.drop);
	cr_assert_eq(n->cnt.pass + n->cnt.tx + n->cnt.aborted, 0);
	/* every frame accounted: dropped by the handler until the
	 * revocation, then to the ring */
	cr_assert_eq(s1.handled - s0.handled, n->cnt.drop);
	cr_assert_eq(s1.delivered - s0.delivered, BURN_FRAMES - n->cnt.drop);
	cr_assert_gt(s1.delivered - s0.delivered, 0, "no frame after it");
	cr_assert_eq(s1.ash_runs - s0.ash_runs, n->cnt.runs);
	cr_assert_eq(s1.data_frames, s1.delivered + s1.handled + s1.dropped +
	                                 s1.unmatched + s1.refused);
	struct ksh_ash_ref ref = {a, fa};
	cr_assert_eq(call(c, KSH_OP_ASH_COUNTERS, &ref, sizeof ref), KSH_ENOENT);
	/* the queue holds the same notice, once */
	if (cli_ksh_notices(c, a, got_notice, &queued, &reply_buf) != 0)
		fail_with_log(c, "ASH_NOTICES");
	cr_assert_eq(queued.n, 1);
	cr_assert_eq(memcmp(&queued.last, &sent.last, sizeof queued.last), 0);
	queued.n = 0;
	if (cli_ksh_notices(c, a, got_notice, &queued, &reply_buf) != 0)
		fail_with_log(c, "ASH_NOTICES");
	cr_assert_eq(queued.n, 0);
	/* another credential cannot read them */
	struct ksh_cred admin = cli_ksh_admin(c);
	cr_assert_eq(call(c, KSH_OP_ASH_NOTICES, &admin, sizeof admin),
	             KSH_EPERM);
	/* reattached: fresh maps (the configuration is zero: frames pass)
	 * and a fresh window.  The first run translates the new code, which
	 * on a loaded host may cost the budget again: then a second notice
	 * names it, with the runs it made */
	cr_assert_eq(bind_obj(c, a, fa, EXAMPLES "/burn.o"), KSH_OK, "%s",
	             reply_buf.reason);
	send_frames(c, f, 3);
	struct ksh_stats s2 = stats(c, a);
	cr_assert_eq(s2.ash_runs - s1.ash_runs, s2.ash_revoked == 1 ? 3u : 1u);
	if (s2.ash_revoked == 1) {
		cr_assert_eq(ash_counters(c, a, fa).pass, 3);
		cr_assert_eq(s2.ash_handlers, 1);
		cr_assert_eq(sent.n, 1);
	} else {
		cr_assert_eq(s2.ash_revoked, 2);
		cr_assert_eq(sent.n, 2);
		cr_assert_eq(sent.last.seq, 2);
		cr_assert_eq(sent.last.cnt.pass, 1);
	}
	cr_assert_eq(s2.delivered - s1.delivered, 3, "every frame passed on");
	cr_assert_eq(s2.data_frames, s2.delivered + s2.handled + s2.dropped +
	                                 s2.unmatched + s2.refused);
	if (cli_ksh_exit(c, 0) != 0)
		fail_with_log(c, "EXIT");
	cli_ksh_free(c);
}

/* A `dpf gen` trace with every frame as the wire delivers it (under 60
 * bytes padded with zeros, as the NIC does), so that the guest's
 * handlers see the bytes `dpf replay` gives its own. */
static unsigned padded_trace(const char *in, const char *out)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(in, eb);
	cr_assert_not_null(p, "%s", eb);
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *w = pcap_dump_open(dead, out);
	cr_assert_not_null(w);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned n = 0;
	while (pcap_next_ex(p, &h, &data) == 1) {
		u_char f[1514] = {0};
		uint32_t len = h->caplen > 1514 ? 1514 : h->caplen;
		if (len == 0)
			continue;
		memcpy(f, data, len);
		struct pcap_pkthdr x = *h;
		x.caplen = x.len = len < 60 ? 60 : len;
		pcap_dump((u_char *)w, &x, f);
		n++;
	}
	pcap_dump_close(w);
	pcap_close(dead);
	pcap_close(p);
	return n;
}

/* Every frame of a pcap, bytes only, as one buffer: 4-byte length then
 * the bytes, frame after frame. */
static char *frames_of(const char *path, size_t *len, unsigned *count)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	cr_assert_not_null(p, "%s: %s", path, eb);
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	struct pcap_pkthdr *h;
	const u_char *data;
	*count = 0;
	while (pcap_next_ex(p, &h, &data) == 1) {
		uint32_t l = h->caplen;
		fwrite(&l, 4, 1, m);
		fwrite(data, 1, l, m);
		(*count)++;
	}
	fclose(m);
	pcap_close(p);
	*len = n;
	return buf;
}

/* The actions of filter name in a JSON line. */
static void actions(const char *json, const char *name, unsigned long long a[5])
{
	char key[128];
	snprintf(key, sizeof key, "{\"name\":\"%s\",", name);
	const char *p = strstr(json, key);
	cr_assert_not_null(p, "no %s in %s", name, json);
	p = strstr(p, "\"actions\":");
	cr_assert_not_null(p, "%s", json);
	cr_assert_eq(sscanf(p, "\"actions\":{\"pass\":%llu,\"drop\":%llu,\"tx\":"
	                       "%llu,\"aborted\":%llu,\"redirect\":%llu}",
	                    &a[0], &a[1], &a[2], &a[3], &a[4]),
	             5, "%s", p);
}

Test(boot_e2e_ash, three_handlers_count_and_transmit_as_dpf_replay,
     .timeout = 240)
{
	need_kernel();
	const char *g[] = {"gen", "-o", "gen.pcap", "--packets", "3000",
	                   "--noise", "30", "--seed", "5", NULL};
	struct bu_run r = bu_dpf(NULL, g, 30);
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	unsigned n = padded_trace(bu_path("gen.pcap"), bu_path("trace.pcap"));
	cr_assert_eq(n, 3000);
	char text[1024];
	snprintf(text, sizeof text,
	         "filter ping handler \"%s/icmp_echo.o\" { icmp }\n"
	         "filter tcp_all handler \"%s/counters.o\" { tcp }\n"
	         "filter udp_all handler \"%s/truncate.o\" { udp }\n",
	         EXAMPLES, EXAMPLES, EXAMPLES);
	bu_write("ash.dpf", text, 0644);
	const char *b[] = {"boot", "-r", "trace.pcap", "ash.dpf", "--json", "-w",
	                   "tx.pcap", "--maps", "--kernel", kernel(), "--timeout",
	                   "20", NULL};
	struct bu_run bo = bu_dpf(NULL, b, 90);
	cr_assert_eq(bo.status, 0, "%s", bo.err);
	const char *p[] = {"replay", "-r", "trace.pcap", "ash.dpf", "--json",
	                   "--tx", "rtx.pcap", "-w", "split", NULL};
	struct bu_run re = bu_dpf(NULL, p, 30);
	cr_assert_eq(re.status, 0, "%s", re.err);
	/* packets, bytes, unmatched, and per filter matches, handler and
	 * actions, field for field */
	bu_assert_same_counts(bo.out, re.out);
	unsigned long long ping[5], tcp[5], udp[5];
	actions(bo.out, "ping", ping);
	actions(bo.out, "tcp_all", tcp);
	actions(bo.out, "udp_all", udp);
	cr_assert_gt(ping[2], 0, "no echo request answered: %s", bo.out);
	cr_assert_gt(tcp[0], 0, "%s", bo.out);
	cr_assert_gt(udp[0], 0, "%s", bo.out);
	cr_assert_eq(ping[3] + tcp[3] + udp[3], 0, "aborts: %s", bo.out);
	/* the frames the guest transmitted are replay's --tx, in order */
	size_t lb, lr;
	unsigned cb, cr;
	char *fb = frames_of(bu_path("tx.pcap"), &lb, &cb);
	char *fr = frames_of(bu_path("rtx.pcap"), &lr, &cr);
	cr_assert_eq(cb, ping[2], "%u frames in tx.pcap, %llu sent", cb, ping[2]);
	cr_assert_eq(cr, cb, "boot transmitted %u, replay %u", cb, cr);
	cr_assert(lb == lr && memcmp(fb, fr, lb) == 0,
	          "the transmitted frames differ from dpf replay --tx");
	free(fb);
	free(fr);
	/* the maps read back from the guest, one line per handler in filter
	 * order, are what `dpf ash run --jsonl` prints for the frames each
	 * filter matched */
	static const char *const objs[][2] = {{"ping", "icmp_echo"},
	                                      {"tcp_all", "counters"},
	                                      {"udp_all", "truncate"}};
	const char *line = strchr(bo.out, '\n');
	cr_assert_not_null(line, "%s", bo.out);
	for (size_t i = 0; i < 3; i++) {
		char obj[PATH_MAX], tr[64];
		snprintf(obj, sizeof obj, EXAMPLES "/%s.o", objs[i][1]);
		snprintf(tr, sizeof tr, "split/%s.pcap", objs[i][0]);
		const char *ar[] = {"ash", "run", obj, "-r", tr, "--jsonl", NULL};
		struct bu_run ru = bu_dpf(NULL, ar, 30);
		cr_assert_eq(ru.status, 0, "%s", ru.err);
		const char *want = strstr(ru.out, "{\"maps\":");
		cr_assert_not_null(want, "%s", ru.out);
		line++;
		const char *end = strchr(line, '\n');
		cr_assert_not_null(end, "no maps line for %s: %s", objs[i][1], bo.out);
		cr_assert_eq((size_t)(end - line) + 1, strlen(want),
		             "%s: guest %.*s\nash run %s", objs[i][1],
		             (int)(end - line), line, want);
		cr_assert(strncmp(line, want, strlen(want)) == 0,
		          "%s: guest %.*s\nash run %s", objs[i][1], (int)(end - line),
		          line, want);
		line = end;
		bu_free(&ru);
	}
	cr_assert_not_null(strstr(bo.out, "\"class_count\":{\"00000000\":"),
	                   "%s", bo.out);
	cr_assert_eq(line[1], 0, "more lines than handlers: %s", bo.out);
	bu_free(&bo);
	bu_free(&re);
}

Test(boot_e2e_ash, dpf_boot_exits_1_with_the_kernels_refusal,
     .timeout = 240)
{
	need_kernel();
	const char *g[] = {"gen", "-o", "t.pcap", "--packets", "10", NULL};
	struct bu_run r = bu_dpf(NULL, g, 30);
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	char text[512];
	snprintf(text, sizeof text, "filter bad handler \"%s/map_null.o\" { udp }\n",
	         HOSTILE);
	bu_write("bad.dpf", text, 0644);
	const char *b[] = {"boot", "-r", "t.pcap", "bad.dpf", "--kernel",
	                   kernel(), "--timeout", "20", NULL};
	struct bu_run bo = bu_dpf(NULL, b, 50);
	cr_assert_eq(bo.status, 1, "%s", bo.err);
	/* the clause, then the kernel's message as `dpf ash check` prints it */
	const char *ck[] = {"ash", "check", HOSTILE "/map_null.o", NULL};
	struct bu_run ch = bu_dpf(NULL, ck, 30);
	cr_assert_eq(ch.status, 1);
	char want[2048];
	snprintf(want, sizeof want,
	         "bad.dpf:1:20: error: handler \"%s/map_null.o\" of filter 'bad' "
	         "is refused:\n%s",
	         HOSTILE, ch.err);
	cr_assert(strncmp(bo.err, want, strlen(want)) == 0, "got:\n%s\nwant:\n%s",
	          bo.err, want);
	bu_free(&bo);
	bu_free(&ch);
}

Test(boot_e2e_ash, dpf_boot_reports_a_revoked_handler_once, .timeout = 240)
{
	need_kernel();
	const char *g[] = {"gen", "-o", "r.pcap", "--packets", "200", "--seed",
	                   "3", NULL};
	struct bu_run r = bu_dpf(NULL, g, 30);
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	char text[512];
	snprintf(text, sizeof text,
	         "filter ip4 handler \"%s/burn.o\" { ip }\n", EXAMPLES);
	bu_write("burn.dpf", text, 0644);
	/* one cycle per ms: the first run passes the budget */
	const char *b[] = {"boot", "-r", "r.pcap", "burn.dpf", "--json",
	                   "--maps", "--ash-cpu-budget", "1", "--kernel",
	                   kernel(), "--timeout", "20", NULL};
	struct bu_run bo = bu_dpf(NULL, b, 90);
	cr_assert_eq(bo.status, 0, "%s", bo.err);
	const char *why = "dpf boot: handler 'burn' on filter 'ip4' revoked: "
	                  "its owner's handlers took ";
	const char *at = strstr(bo.err, why);
	cr_assert_not_null(at, "%s", bo.err);
	cr_assert_null(strstr(at + strlen(why), "revoked"), "reported twice: %s",
	               bo.err);
	cr_assert_not_null(strstr(bo.err, "over the budget of 100 "), "%s",
	                   bo.err);
	/* the run that revoked it passed its frame; the rest took the ring */
	unsigned long long a[5];
	actions(bo.out, "ip4", a);
	cr_assert_eq(a[0], 1, "%s", bo.out);
	cr_assert_eq(a[1] + a[2] + a[3] + a[4], 0, "%s", bo.out);
	cr_assert_not_null(strstr(bo.out, ",\"revoked\":{\"reason\":\"cpu\","
	                                  "\"used_cycles\":"),
	                   "%s", bo.out);
	cr_assert_not_null(strstr(bo.out, "\"budget_cycles\":100,\"window_ms\":"
	                                  "100,"),
	                   "%s", bo.out);
	const char *maps = strchr(bo.out, '\n');
	cr_assert_not_null(maps);
	cr_assert_str_eq(maps + 1, "{\"maps\":null}\n");
	/* the flag is checked */
	const char *bad[] = {"boot", "-r", "r.pcap", "burn.dpf",
	                     "--ash-cpu-budget", "0", NULL};
	struct bu_run u = bu_dpf(NULL, bad, 30);
	cr_assert_eq(u.status, 2, "%s", u.err);
	cr_assert_not_null(strstr(u.err, "--ash-cpu-budget wants cycles per ms"),
	                   "%s", u.err);
	bu_free(&u);
	bu_free(&bo);
}
