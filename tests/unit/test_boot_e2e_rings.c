/*
 * test_boot_e2e_rings.c - an owner's rings and the latency paths of the
 * kernel-shim under QEMU, end to end (protocol version 4): RINGS gives an
 * owner more rings from the shared pool, refusing a forged credential, a
 * count past KSH_RINGS and a pool run dry; a handler that redirects by a
 * byte of the frame (bpf_redirect(byte & 3, 0)) puts on rings 0 and 1
 * exactly the frames the test's own count of the bytes says, the
 * redirects to rings 2 and 3 (which the owner has not) on ring 0,
 * counted; `dpf boot --rings N` reports the same per ring for the
 * example redirect handler on a `dpf gen` trace, as counted from the
 * trace's bytes; LAT counts one sample per frame on each path (handler
 * TX, ring echo, demux + handler), none on the others, one per TDT
 * write, one per RDT write, and RESET zeroes them.
 *
 * Needs the image <build>/kernel-shim/kernel.elf (or $DPF_KERNEL) and
 * QEMU: without either every test FAILS, saying what is missing.  Every
 * test has the same .timeout (see test_boot_e2e_ash.c).
 */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "boot_guest.h"
#include "cli/frame.h"
#include "kernel-shim/param.h"

#define EXAMPLES DPF_BINARY_DIR "/ash/examples"

/* bpf_redirect(frame[42] & 3, 0); frames under 43 bytes: XDP_PASS. */
static const struct ash_insn by_byte[] = {
	{0x61, 2, 1, 0, 0},  /* r2 = ctx->data */
	{0x61, 3, 1, 4, 0},  /* r3 = ctx->data_end */
	{0xbf, 4, 2, 0, 0},  /* r4 = r2 */
	{0x07, 4, 0, 0, 43}, /* r4 += 43 */
	{0x2d, 4, 3, 5, 0},  /* if r4 > r3 goto pass */
	{0x71, 1, 2, 42, 0}, /* r1 = *(u8 *)(r2 + 42) */
	{0x57, 1, 0, 0, 3},  /* r1 &= 3 */
	{0xb7, 2, 0, 0, 0},  /* r2 = 0 */
	{0x85, 0, 0, 0, ASH_H_REDIRECT},
	{0x95, 0, 0, 0, 0},
	{0xb7, 0, 0, 0, ASH_XDP_PASS}, /* pass: */
	{0x95, 0, 0, 0, 0},
};

static struct cli_rng rng = {12345};

static uint32_t rnd(void)
{
	return (uint32_t)cli_rng_next(&rng);
}

/* An IPv4 UDP frame to dport with paylen bytes of payload (0..1400: the
 * frame is 60..1442 bytes), random addresses, source port and payload,
 * the payload's first byte (frame[42]) tag; returns its length. */
static size_t udp_frame(uint8_t *f, uint16_t dport, uint32_t paylen,
                        uint8_t tag)
{
	uint8_t pay[CLI_PAYLOAD_MAX];
	for (uint32_t i = 0; i < paylen; i++)
		pay[i] = (uint8_t)rnd();
	pay[0] = tag;
	struct cli_frame_spec sp;
	memset(&sp, 0, sizeof sp);
	memcpy(sp.dmac, cli_ksh_guest_mac, 6);
	memcpy(sp.smac, cli_ksh_host_mac, 6);
	sp.src[0] = 10;
	sp.src[1] = (uint8_t)rnd();
	sp.src[2] = (uint8_t)rnd();
	sp.src[3] = (uint8_t)(rnd() | 1);
	sp.dst[0] = 10;
	sp.dst[1] = 1;
	sp.dst[3] = 1;
	sp.proto = CLI_P_UDP;
	sp.sport = (uint16_t)(1024 + rnd() % 60000);
	sp.dport = dport;
	sp.paylen = paylen < 1 ? 1 : paylen;
	sp.payload = pay;
	size_t n = cli_frame_build(f, &sp, &rng, NULL);
	cr_assert_eq(f[42], tag);
	return n;
}

static struct ksh_rings rings(struct cli_ksh *c, struct ksh_cred who,
                              uint32_t want)
{
	struct ksh_rings r;
	int rc = cli_ksh_rings(c, who, want, &r);
	if (rc < 0)
		bg_fail(c, "RINGS");
	cr_assert_eq(rc, 0, "%s", cli_ksh_error(c));
	return r;
}

static struct cli_ksh_lat lat(struct cli_ksh *c, struct ksh_cred who,
                              uint32_t path)
{
	struct cli_ksh_lat l;
	int rc = cli_ksh_lat(c, who, path, &l);
	if (rc < 0)
		bg_fail(c, "LAT");
	cr_assert_eq(rc, 0, "%s", cli_ksh_error(c));
	return l;
}

static void count_frame(void *ctx, const uint8_t *f, size_t len)
{
	(void)f;
	(void)len;
	(*(uint64_t *)ctx)++;
}

static void config(struct cli_ksh *c, struct ksh_cred who, uint32_t echo,
                   uint32_t drain)
{
	struct ksh_config cf = {who, echo, drain};
	cr_assert_eq(bg_call(c, KSH_OP_CONFIG, &cf, sizeof cf), KSH_OK);
}

TestSuite(boot_e2e_rings, .init = bu_scratch_init, .fini = bu_scratch_fini);

Test(boot_e2e_rings, a_handler_redirects_to_the_rings_a_frame_names,
     .timeout = 240)
{
	struct cli_ksh *c = bg_boot();
	struct ksh_cred a = bg_owner(c), b = bg_owner(c);
	uint64_t echoes = 0;
	cli_ksh_on_frame(c, count_frame, &echoes);

	/* ring 0 comes with the owner; a count past KSH_RINGS, a forged
	 * capability and the admission credential are refused */
	struct ksh_rings r = rings(c, a, 0);
	cr_assert_eq(r.nrings, 1);
	cr_assert_eq(r.pool_free, KSH_RING_POOL - 2);
	struct ksh_rings_req q = {a, KSH_RINGS + 1};
	cr_assert_eq(bg_call(c, KSH_OP_RINGS, &q, sizeof q), KSH_EINVAL);
	cr_assert(strstr(bg_reply.reason, "at most 4"), "%s", bg_reply.reason);
	q.who.cap ^= 1;
	q.want = 2;
	cr_assert_eq(bg_call(c, KSH_OP_RINGS, &q, sizeof q), KSH_EPERM);
	q.who = cli_ksh_admin(c);
	cr_assert_eq(bg_call(c, KSH_OP_RINGS, &q, sizeof q), KSH_EPERM);
	cr_assert_eq(rings(c, a, 0).nrings, 1, "a refusal took a ring");
	/* two rings; asking for fewer gives none back */
	r = rings(c, a, 2);
	cr_assert_eq(r.nrings, 2);
	cr_assert_eq(r.pool_free, KSH_RING_POOL - 3);
	cr_assert_eq(rings(c, a, 1).nrings, 2);
	cr_assert_eq(rings(c, b, 0).nrings, 1, "b has its own rings");

	int32_t fa = bg_filter(c, a, "filter fa { udp.dport == 9 }");
	size_t n;
	uint8_t *img =
		bg_image_made(by_byte, sizeof by_byte / sizeof by_byte[0], &n);
	bg_attach(c, a, fa, img, n);
	free(img);
	config(c, a, 0, KSH_DRAIN_NONE); /* paused: frames stay queued */

	/* frames of every length, the tag byte random; frames to port 10
	 * match nothing */
	enum { M = 200 };
	uint64_t want[4] = {0}, unmatched = 0;
	uint8_t f[CLI_FRAME_MAX];
	for (int i = 0; i < M + 20; i++) {
		uint32_t pay = rnd() % (CLI_PAYLOAD_MAX + 1);
		uint8_t tag = (uint8_t)rnd();
		uint16_t port = i % 11 == 5 && unmatched < 20 ? 10 : 9;
		if (port == 10)
			unmatched++;
		else if (i - (int)unmatched >= M)
			continue;
		else
			want[tag & 3]++;
		size_t len = udp_frame(f, port, pay, tag);
		cr_assert_eq(cli_ksh_send_raw(c, f, len), 0);
	}
	uint64_t sent = want[0] + want[1] + want[2] + want[3];
	cr_assert_eq(sent, M);
	cr_assert_gt(want[1], 0);
	cr_assert_gt(want[2] + want[3], 0);

	r = rings(c, a, 0);
	cr_assert_eq(r.ring[1].delivered, want[1], "ring 1: %llu, want %llu",
	             (unsigned long long)r.ring[1].delivered,
	             (unsigned long long)want[1]);
	cr_assert_eq(r.ring[1].redirected, want[1]);
	cr_assert_eq(r.ring[0].delivered, want[0] + want[2] + want[3]);
	cr_assert_eq(r.ring[0].redirected, want[0]);
	cr_assert_eq(r.redirect_missing, want[2] + want[3]);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(r.ring[i].queued, r.ring[i].delivered, "ring %d", i);
		cr_assert_eq(r.ring[i].dropped, 0);
		cr_assert_eq(r.ring[i].consumed, 0);
	}
	cr_assert_eq(r.ring[2].delivered + r.ring[3].delivered, 0);
	struct ksh_ash_ref ref = {a, fa};
	cr_assert_eq(bg_call(c, KSH_OP_ASH_COUNTERS, &ref, sizeof ref), KSH_OK);
	struct ksh_ash_counters cnt;
	memcpy(&cnt, bg_reply.body, sizeof cnt);
	cr_assert_eq(cnt.runs, M);
	cr_assert_eq(cnt.redirect, M);
	struct ksh_stats st = bg_stats(c, a);
	cr_assert_eq(st.redirect_missing, want[2] + want[3]);
	cr_assert_eq(st.unmatched, unmatched);
	cr_assert_eq(st.delivered, M);
	cr_assert_eq(st.rings, 3);
	cr_assert_eq(st.data_frames, st.delivered + st.handled + st.dropped +
	                                 st.unmatched + st.refused);
	/* b's ring saw nothing */
	r = rings(c, b, 0);
	cr_assert_eq(r.ring[0].delivered + r.redirect_missing, 0);

	/* the application resumes and echoes every frame of both rings; each
	 * echo is a ring-path latency sample */
	config(c, a, 1, 0);
	if (cli_ksh_pump(c, BG_STEP_MS, &echoes, M) != 0)
		bg_fail(c, "collecting echoes");
	cr_assert_eq(echoes, M);
	r = rings(c, a, 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(r.ring[i].consumed, r.ring[i].delivered, "ring %d", i);
		cr_assert_eq(r.ring[i].echoed, r.ring[i].delivered, "ring %d", i);
		cr_assert_eq(r.ring[i].queued, 0);
	}
	struct cli_ksh_lat l = lat(c, a, KSH_LAT_RING);
	cr_assert_eq(l.samples, M);
	cr_assert_eq(lat(c, a, KSH_LAT_ASH).samples, 0);
	cr_assert_eq(lat(c, a, KSH_LAT_HOOK).samples, M);
	if (cli_ksh_exit(c, 0) != 0)
		bg_fail(c, "EXIT");
	cli_ksh_free(c);
}

Test(boot_e2e_rings, the_ring_pool_is_shared_and_bounded, .timeout = 240)
{
	struct cli_ksh *c = bg_boot();
	struct ksh_cred o[KSH_MAX_OWNERS];
	struct ksh_cred admin = cli_ksh_admin(c);
	/* every owner: past the burst, OWNER waits for its token */
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		int32_t st;
		while ((st = bg_call(c, KSH_OP_OWNER, &admin, sizeof admin)) ==
		       KSH_ERATE)
			usleep(200000);
		cr_assert_eq(st, KSH_OK, "%s", bg_reply.reason);
		struct ksh_owner_reply rep;
		memcpy(&rep, bg_reply.body, sizeof rep);
		o[i].owner = rep.owner;
		o[i].cap = rep.cap;
	}
	uint32_t left = KSH_RING_POOL - KSH_MAX_OWNERS, i = 0;
	cr_assert_eq(rings(c, o[0], 0).pool_free, left);
	for (; left >= KSH_RINGS - 1; i++, left -= KSH_RINGS - 1) {
		struct ksh_rings r = rings(c, o[i], KSH_RINGS);
		cr_assert_eq(r.nrings, KSH_RINGS);
		cr_assert_eq(r.pool_free, left - (KSH_RINGS - 1));
	}
	/* not enough left for all of them: refused, none taken */
	struct ksh_rings_req q = {o[i], KSH_RINGS};
	cr_assert_eq(bg_call(c, KSH_OP_RINGS, &q, sizeof q), KSH_ENOSPC);
	cr_assert(strstr(bg_reply.reason, "left in the pool"), "%s",
	          bg_reply.reason);
	struct ksh_rings r = rings(c, o[i], 0);
	cr_assert_eq(r.nrings, 1);
	cr_assert_eq(r.pool_free, left);
	if (left) {
		r = rings(c, o[i], 1 + left);
		cr_assert_eq(r.nrings, 1 + left);
		cr_assert_eq(r.pool_free, 0);
	}
	cr_assert_eq(bg_stats(c, o[0]).rings, KSH_RING_POOL);
	if (cli_ksh_exit(c, 0) != 0)
		bg_fail(c, "EXIT");
	cli_ksh_free(c);
}

/* One echo request at a time: send it, wait for the reply. */
static void ping_pong(struct cli_ksh *c, uint64_t *echoes, int n)
{
	uint8_t f[CLI_FRAME_MAX];
	for (int i = 0; i < n; i++) {
		size_t len = udp_frame(f, 7, rnd() % 600, (uint8_t)i);
		uint64_t want = *echoes + 1;
		cr_assert_eq(cli_ksh_send_raw(c, f, len), 0);
		if (cli_ksh_pump(c, BG_STEP_MS, echoes, want) != 0)
			bg_fail(c, "waiting for an echo");
		cr_assert_eq(*echoes, want, "echo %d did not come back", i);
	}
}

Test(boot_e2e_rings, latency_is_counted_per_path, .timeout = 240)
{
	struct cli_ksh *c = bg_boot();
	struct ksh_cred a = bg_owner(c);
	uint64_t echoes = 0;
	cli_ksh_on_frame(c, count_frame, &echoes);
	int32_t fa = bg_filter(c, a, "filter echo { udp.dport == 7 }");
	size_t n;
	uint8_t *img = bg_image_of(EXAMPLES "/udp_echo.o", &n);
	bg_attach(c, a, fa, img, n);
	free(img);

	/* the handler answers: one ASH and one HOOK sample per frame */
	enum { N = 40 };
	ping_pong(c, &echoes, N);
	struct cli_ksh_lat ash = lat(c, a, KSH_LAT_ASH);
	struct cli_ksh_lat hook = lat(c, a, KSH_LAT_HOOK);
	cr_assert_eq(ash.samples, N);
	cr_assert_eq(hook.samples, N);
	cr_assert_eq(lat(c, a, KSH_LAT_RING).samples, 0);
	cr_assert_gt(ash.min, 0);
	double med = cli_ksh_lat_quantile(&ash, 0.5);
	double p99 = cli_ksh_lat_quantile(&ash, 0.99);
	cr_assert(med <= p99 && p99 <= (double)ash.max &&
	              med * (1 + 1.0 / KSH_LAT_SUB) >= (double)ash.min,
	          "min %llu median %.0f p99 %.0f max %llu",
	          (unsigned long long)ash.min, med, p99,
	          (unsigned long long)ash.max);
	cr_assert(ash.cycles_sum >= ash.min * N && ash.cycles_sum <= ash.max * N);
	uint64_t total = 0;
	for (uint32_t i = 0; i < KSH_LAT_BUCKETS; i++)
		total += ash.count[i];
	cr_assert_eq(total, N);
	/* the hook returns after the handler's transmit */
	cr_assert_geq(hook.cycles_sum, ash.cycles_sum);
	struct ksh_stats st = bg_stats(c, a);
	cr_assert_eq(st.ash_tx, N);
	cr_assert_eq(st.lat_samples[KSH_LAT_ASH], N);

	/* detached, the application echoes from the ring */
	struct ksh_ash_ref ref = {a, fa};
	cr_assert_eq(bg_call(c, KSH_OP_ASH_DETACH, &ref, sizeof ref), KSH_OK);
	config(c, a, 1, 0);
	ping_pong(c, &echoes, N);
	struct cli_ksh_lat ring = lat(c, a, KSH_LAT_RING);
	cr_assert_eq(ring.samples, N);
	cr_assert_gt(ring.min, 0);
	cr_assert_eq(lat(c, a, KSH_LAT_ASH).samples, N);
	cr_assert_eq(lat(c, a, KSH_LAT_HOOK).samples, N);
	struct ksh_stats st2 = bg_stats(c, a);
	cr_assert_eq(st2.echoed, N);
	/* every transmit's TDT write is a sample: all until the STATS reply,
	 * that reply, and each LAT page's reply but the last one's */
	struct cli_ksh_lat tdt = lat(c, a, KSH_LAT_TDT);
	const uint32_t per_page =
		(KSH_PAYLOAD_MAX - 4 - sizeof(struct ksh_lat)) / 4;
	const uint32_t pages = (KSH_LAT_BUCKETS + per_page - 1) / per_page;
	cr_assert_eq(tdt.samples, st2.tx_frames + 1 + (pages - 1),
	             "%llu TDT samples, %llu frames sent",
	             (unsigned long long)tdt.samples,
	             (unsigned long long)st2.tx_frames);
	cr_assert_gt(tdt.min, 0);
	/* each ring-path frame ended its RX batch with an RDT write before
	 * its echo left (a handler's echo leaves before the batch ends, so
	 * the next request may join the same batch) */
	struct cli_ksh_lat rdt = lat(c, a, KSH_LAT_RDT);
	cr_assert_geq(rdt.samples, N, "%llu RDT samples",
	              (unsigned long long)rdt.samples);

	/* no such path; a forged credential; RESET zeroes every path */
	struct ksh_lat_req q = {a, KSH_LAT_PATHS, 0};
	cr_assert_eq(bg_call(c, KSH_OP_LAT, &q, sizeof q), KSH_EINVAL);
	q.path = 0;
	q.who.cap ^= 1;
	cr_assert_eq(bg_call(c, KSH_OP_LAT, &q, sizeof q), KSH_EPERM);
	struct ksh_cred admin = cli_ksh_admin(c);
	cr_assert_eq(bg_call(c, KSH_OP_RESET, &admin, sizeof admin), KSH_OK);
	for (uint32_t p = 0; p <= KSH_LAT_HOOK; p++) {
		struct cli_ksh_lat z = lat(c, admin, p);
		cr_assert_eq(z.samples + z.cycles_sum + z.max, 0, "path %u", p);
	}
	cr_assert_eq(rings(c, a, 0).ring[0].delivered, 0);
	cr_assert_eq(bg_stats(c, a).rings, 1, "RESET keeps the rings");
	if (cli_ksh_exit(c, 0) != 0)
		bg_fail(c, "EXIT");
	cli_ksh_free(c);
}

/* An unsigned member of a JSON line after `from` (NULL: the start). */
static unsigned long long json_u64(const char *json, const char *from,
                                   const char *key)
{
	const char *p = from ? strstr(json, from) : json;
	cr_assert_not_null(p, "no %s in %s", from, json);
	p = strstr(p, key);
	cr_assert_not_null(p, "no %s in %s", key, json);
	unsigned long long v;
	cr_assert_eq(sscanf(p + strlen(key), "%llu", &v), 1, "%s", p);
	return v;
}

Test(boot_e2e_rings, dpf_boot_reports_the_redirects_per_ring,
     .timeout = 240)
{
	bg_need_kernel();
	const char *g[] = {"gen", "-o", "t.pcap", "--packets", "1500",
	                   "--udp", "50", "--truncate", "0", "--seed", "11",
	                   NULL};
	struct bu_run r = bu_dpf(NULL, g, 30);
	cr_assert_eq(r.status, 0, "%s", r.err);
	bu_free(&r);
	/* the redirect example: untagged IPv4 UDP to ring 1, other IPv4
	 * passed to ring 0; counted here from the bytes */
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(bu_path("t.pcap"), eb);
	cr_assert_not_null(p, "%s", eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned long long udp4 = 0;
	while (pcap_next_ex(p, &h, &d) == 1)
		if (h->caplen >= 34 && d[12] == 0x08 && d[13] == 0 && d[23] == 17)
			udp4++;
	pcap_close(p);
	cr_assert_gt(udp4, 100);
	char text[512];
	snprintf(text, sizeof text,
	         "filter v4 handler \"%s/redirect.o\" { ip }\n", EXAMPLES);
	bu_write("r.dpf", text, 0644);
	for (int nr = 1; nr <= 2; nr++) {
		char rings_arg[8];
		snprintf(rings_arg, sizeof rings_arg, "%d", nr);
		const char *b[] = {"boot", "-r", "t.pcap", "r.dpf", "--json",
		                   "--rings", rings_arg, "--kernel", bg_kernel(),
		                   "--timeout", "20", NULL};
		struct bu_run bo = bu_dpf(NULL, b, 90);
		cr_assert_eq(bo.status, 0, "%s", bo.err);
		const char *j = bo.out;
		unsigned long long matches = json_u64(j, "\"name\":\"v4\"",
		                                      "\"matches\":");
		cr_assert_eq(json_u64(j, "\"actions\":", "\"redirect\":"), udp4,
		             "%s", j);
		cr_assert_eq(json_u64(j, "\"kernel\":", "\"redirect_missing\":"),
		             nr == 1 ? udp4 : 0, "%s", j);
		unsigned long long r0 = json_u64(j, "{\"ring\":0,", "\"delivered\":");
		if (nr == 1) {
			cr_assert_eq(r0, matches, "%s", j);
			cr_assert_null(strstr(j, "{\"ring\":1,"), "%s", j);
		} else {
			unsigned long long r1 =
				json_u64(j, "{\"ring\":1,", "\"delivered\":");
			cr_assert_eq(r1, udp4, "%s", j);
			cr_assert_eq(json_u64(j, "{\"ring\":1,", "\"redirected\":"),
			             udp4, "%s", j);
			cr_assert_eq(r0 + r1, matches, "%s", j);
		}
		cr_assert_eq(json_u64(j, "\"hook\":", "\"samples\":"), matches,
		             "%s", j);
		bu_free(&bo);
	}
}
