/*
 * fuzz_ctl.c - libFuzzer harness: the kernel-shim's receive path and
 * control channel (kernel-shim/ctl.c, demux.c, owner.c, ring.c, ash.c:
 * handler images, their verification, JIT and runs), the very
 * sources the kernel is built from, compiled for the host with the NIC,
 * console and exit stubbed out here.  The engine has the x86 back end
 * attached, as in the kernel.
 *
 * Input: frames, each a little-endian uint16 length then that many bytes
 * (cut at the input's end), delivered in order as the NIC would deliver
 * them; the stand-in applications run after each.  Before delivery every
 * 8-byte run "\xCA\xFE\xCA\xFE\xCA\xFE\xCA" + N (N = 1..8) is replaced by
 * owner N's capability, so inputs can act for owners whose capabilities
 * are drawn at run time, and N = 0 by the admission credential (the
 * kernel gets admit= FUZZ_ADMIT).  The harness's TSC rate is 0, so the
 * owner-creation budget is KSH_OWNER_BURST and never refills, and there
 * is no CPU budget for handlers, except for inputs of odd length: those
 * get a budget of one cycle, so every handler run revokes its handler
 * (a notice, ash.c) and the map and notice requests meet handlers gone.
 *
 * Checks after every frame: a control request got exactly one reply, with
 * its op | KSH_REPLY (or KSH_OP_NONE | KSH_REPLY when the header is cut)
 * and a status; a control frame with KSH_REPLY set got none and was
 * counted in ctl_ignored; the counters add up (rx == ctl + data; data ==
 * delivered + handled + dropped + unmatched + refused) and the owners'
 * rings add up to them (check_rings); a data frame got
 * no reply, only unsolicited notices (op ASH_NOTICES | KSH_REPLY, seq 0,
 * status 0, one whole notice), each one a revocation; after the input,
 * dpf_check passes, every installed filter belongs to a live owner, and
 * every bound handler to an installed filter of the same owner, the
 * notices sent are the revocations every owner counted, and no owner's
 * notice queue holds more than KSH_ASH_NOTICES.
 *
 * DPF_FUZZ_CTL_VERBOSE=1 prints every reply (op, seq, status, reason).
 * DPF_FUZZ_CTL_SEED=FILE writes a session that exercises every op (two
 * owners, filters staged in chunks and installed, data frames, a
 * secure-binding refusal and a grant, counters, handlers sent in chunks
 * (a damaged one, an out-of-order chunk, a TX and a DROP handler run on
 * frames, their counters, a detach; a handler with maps: its maps
 * written, read by key and key after key, hostile map requests, the
 * notice queue), rings and redirects to them, LAT, delete, exit) and each
 * refusal of the channel (no or a wrong credential, a replay, an
 * injected reply, OWNER past its budget) to FILE at start-up:
 * run_fuzz.sh uses it as the seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "fuzz_common.h"
#include "jit/jit.h"
#include "kernel-shim/ksh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct ksh kernel;
static jmp_buf exited;
static uint32_t replies, bad_replies;
static uint8_t last_op;
static int verbose; /* DPF_FUZZ_CTL_VERBOSE: print every reply */
static uint32_t last_seq;
static uint32_t notices, bad_notices; /* unsolicited notice frames */

/* ---- what the kernel's other files provide ---- */

const struct dpf_host *ksh_heap(void)
{
	return dpf_host_libc();
}

const struct jit_mem *ksh_jit_mem(void)
{
	return jit_mem_posix();
}

int ksh_nic_tx(struct ksh_nic *n, const uint8_t *frame, uint32_t len)
{
	(void)n;
	if (len < 14 || frame[12] != (KSH_ETHERTYPE >> 8) ||
	    frame[13] != (KSH_ETHERTYPE & 0xff))
		return 0; /* an echoed data frame */
	struct ksh_hdr h;
	if (len < 14 + sizeof h + 4) {
		bad_replies++;
		return 0;
	}
	memcpy(&h, frame + 14, sizeof h);
	int32_t status;
	memcpy(&status, frame + 14 + sizeof h, 4);
	if (h.op == (KSH_OP_ASH_NOTICES | KSH_REPLY) && h.seq == 0 &&
	    status == KSH_OK) {
		struct ksh_ash_notices nh;
		notices++;
		if (h.len != 4 + sizeof nh + sizeof(struct ksh_ash_notice) ||
		    14 + sizeof h + h.len > len)
			bad_notices++;
		memcpy(&nh, frame + 14 + sizeof h + 4, sizeof nh);
		if (nh.n != 1 || nh.left > KSH_ASH_NOTICES)
			bad_notices++;
		return 0;
	}
	replies++;
	last_op = h.op;
	last_seq = h.seq;
	if (h.version != KSH_VERSION || !(h.op & KSH_REPLY) || h.len < 4 ||
	    14 + sizeof h + h.len > len)
		bad_replies++;
	if (verbose) {
		int32_t st;
		memcpy(&st, frame + 14 + sizeof h, 4);
		fprintf(stderr, "reply op 0x%02x seq %u status %d %.*s\n", h.op,
		        h.seq, st, st ? (int)(h.len - 4) : 0,
		        (const char *)frame + 14 + sizeof h + 4);
	}
	return 0;
}

int ksh_nic_tx_idle(struct ksh_nic *n)
{
	(void)n;
	return 1;
}

uint64_t ksh_nic_missed(struct ksh_nic *n)
{
	(void)n;
	return 0;
}

void ksh_putc(char c)
{
	(void)c;
}

void ksh_vprintf(const char *fmt, va_list ap)
{
	(void)fmt;
	(void)ap;
}

void ksh_printf(const char *fmt, ...)
{
	(void)fmt;
}

void ksh_exit(uint32_t code)
{
	(void)code;
	longjmp(exited, 1);
}

void ksh_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ksh_panic: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	abort();
}

/* ---- the harness ---- */

static const uint8_t cap_token[7] = {0xca, 0xfe, 0xca, 0xfe, 0xca, 0xfe, 0xca};

FZ_NOCOV
static void reset(void)
{
	struct ksh *k = &kernel;
	struct dpf_diag d;
	for (int id = 0; id < (int)KSH_MAX_FILTER_IDS; id++)
		ksh_ash_filter_gone(k, id); /* the last input's handlers freed */
	if (k->engine)
		dpf_engine_free(k->engine);
	memset(&k->st, 0, sizeof k->st);
	memset(k->matches, 0, sizeof k->matches);
	memset(k->owner_of, 0, sizeof k->owner_of);
	k->nfilters = 0;
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	memcpy(k->nic.mac, mac, 6);
	k->engine = dpf_engine_new(ksh_heap());
	if (!k->engine || jit_attach(k->engine, jit_mem_posix(), 0, &d) != 0)
		fz_fail("engine: %s", d.msg);
	static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	                                 13, 14, 15, 16};
	static const uint8_t admit[8] = {0x41, 0x44, 0x4d, 0x49, 0x54, 0x21,
	                                 0x21, 0x21}; /* FUZZ_ADMIT */
	k->tsc_hz = 0;
	ksh_owners_init(k, seed, admit);
	memset(k->lat, 0, sizeof k->lat); /* latency paths (version 4) */
}

FZ_NOCOV
static void put_caps(uint8_t *f, uint32_t n)
{
	for (uint32_t i = 0; i + 8 <= n; i++) {
		if (memcmp(f + i, cap_token, 7) != 0)
			continue;
		uint32_t o = f[i + 7];
		if (o == 0)
			memcpy(f + i, &kernel.admit, 8);
		else if (o <= kernel.nowners)
			memcpy(f + i, &kernel.owners[o - 1].cap, 8);
	}
}

FZ_NOCOV
static void check_counts(const char *when)
{
	const struct ksh_stats *st = &kernel.st;
	if (st->rx_frames != st->ctl_frames + st->data_frames)
		fz_fail("%s: rx %llu != ctl %llu + data %llu", when,
		        (unsigned long long)st->rx_frames,
		        (unsigned long long)st->ctl_frames,
		        (unsigned long long)st->data_frames);
	if (st->data_frames != st->delivered + st->handled + st->dropped +
	                           st->unmatched + st->refused)
		fz_fail("%s: data %llu != delivered %llu + handled %llu + "
		        "dropped %llu + unmatched %llu + refused %llu",
		        when, (unsigned long long)st->data_frames,
		        (unsigned long long)st->delivered,
		        (unsigned long long)st->handled,
		        (unsigned long long)st->dropped,
		        (unsigned long long)st->unmatched,
		        (unsigned long long)st->refused);
}

/* ---- rings and latency (version 4): their invariants ---- */

/* Every owner has 1..KSH_RINGS rings, none overfull; the rings' counters
 * add up to the global ones (RESET zeroes both); st.rings counts them. */
FZ_NOCOV
static void check_rings(const char *when)
{
	const struct ksh *k = &kernel;
	uint64_t delivered = 0, dropped = 0, missing = 0, rings = 0;
	for (uint32_t i = 0; i < k->nowners; i++) {
		const struct ksh_owner *o = &k->owners[i];
		if (o->nrings < 1 || o->nrings > KSH_RINGS)
			fz_fail("%s: owner %u has %u rings", when, i + 1, o->nrings);
		for (uint32_t r = 0; r < o->nrings; r++) {
			const struct ksh_ring *g = o->ring[r];
			if (ksh_ring_count(g) > KSH_RING_SLOTS ||
			    g->cnt.redirected > g->cnt.delivered)
				fz_fail("%s: owner %u ring %u: %u queued, %llu redirected "
				        "of %llu",
				        when, i + 1, r, ksh_ring_count(g),
				        (unsigned long long)g->cnt.redirected,
				        (unsigned long long)g->cnt.delivered);
			delivered += g->cnt.delivered;
			dropped += g->cnt.dropped;
		}
		missing += o->redirect_missing;
		rings += o->nrings;
	}
	const struct ksh_stats *st = &k->st;
	if (delivered != st->delivered || dropped != st->dropped ||
	    missing != st->redirect_missing || rings != st->rings)
		fz_fail("%s: rings hold delivered %llu dropped %llu missing %llu "
		        "(%llu rings); stats %llu %llu %llu (%llu)",
		        when, (unsigned long long)delivered,
		        (unsigned long long)dropped, (unsigned long long)missing,
		        (unsigned long long)rings,
		        (unsigned long long)st->delivered,
		        (unsigned long long)st->dropped,
		        (unsigned long long)st->redirect_missing,
		        (unsigned long long)st->rings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t f[KSH_FRAME_MAX + 512];
	reset();
	notices = bad_notices = 0;
	if (size & 1) {
		kernel.ash_cpu_budget = 1;
		kernel.ash_cpu_window = ~0ull;
	}
	size_t at = 0;
	uint32_t nframes = 0;
	if (setjmp(exited) == 0) {
		while (at + 2 <= size && nframes++ < 256) {
			uint32_t n = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8;
			at += 2;
			if (n > sizeof f)
				n = sizeof f;
			if (n > size - at)
				n = (uint32_t)(size - at);
			memcpy(f, data + at, n);
			at += n;
			put_caps(f, n);
			int ctl = n >= 14 && f[12] == (KSH_ETHERTYPE >> 8) &&
			          f[13] == (KSH_ETHERTYPE & 0xff);
			uint32_t before = replies;
			uint64_t ignored = kernel.st.ctl_ignored;
			bad_replies = 0;
			ksh_rx_frame(&kernel, f, n, 0, 0);
			if (ctl && n >= 22 && (f[15] & KSH_REPLY)) {
				if (replies != before || kernel.st.ctl_ignored != ignored + 1)
					fz_fail("frame %u: a reply (op 0x%02x) was answered or "
					        "not counted",
					        nframes, f[15]);
			} else if (ctl) {
				if (replies != before + 1 || bad_replies)
					fz_fail("frame %u (%u bytes): %u replies, %u malformed",
					        nframes, n, replies - before, bad_replies);
				uint8_t want = n < 22 ? KSH_OP_NONE : f[15];
				if (last_op != (uint8_t)(want | KSH_REPLY))
					fz_fail("frame %u: reply op 0x%02x to op 0x%02x",
					        nframes, last_op, want);
			}
			if (!ctl && replies != before)
				fz_fail("frame %u: a data frame was answered", nframes);
			if (bad_notices)
				fz_fail("frame %u: a malformed notice", nframes);
			check_counts("after a frame");
			check_rings("after a frame");
			ksh_apps_run(&kernel);
			check_counts("after the applications ran");
		}
	}
	struct dpf_diag d;
	if (dpf_check(kernel.engine, &d) != 0)
		fz_fail("dpf_check: %s", d.msg);
	for (int id = 0; id < dpf_id_limit(kernel.engine); id++)
		if (dpf_filter_get(kernel.engine, id) &&
		    (id >= (int)KSH_MAX_FILTER_IDS || !ksh_owner_get(&kernel, kernel.owner_of[id])))
			fz_fail("filter %d installed for no live owner", id);
	for (uint32_t i = 0; i < KSH_ASH_MAX; i++) {
		const struct ksh_ash *h = &kernel.ash[i];
		if (!h->live)
			continue;
		if (kernel.ash_of[h->filter] != i + 1 ||
		    !dpf_filter_get(kernel.engine, h->filter) ||
		    kernel.owner_of[h->filter] != h->owner)
			fz_fail("handler %u bound to filter %d of owner %u", i,
			        h->filter, h->owner);
	}
	uint64_t revoked = 0;
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		const struct ksh_owner *o = &kernel.owners[i];
		if (o->notice_n > KSH_ASH_NOTICES ||
		    o->notice_n + o->notice_lost > o->notice_seq)
			fz_fail("owner %u: %u notices queued, %llu lost, %u made", i + 1,
			        o->notice_n, (unsigned long long)o->notice_lost,
			        o->notice_seq);
		revoked += o->notice_seq;
	}
	if (revoked != notices)
		fz_fail("%llu revocations, %u notices sent",
		        (unsigned long long)revoked, notices);
	return 0;
}

/* ---- the seed session ---- */

struct seed {
	uint8_t buf[1 << 16];
	size_t n;
	uint32_t seq;
};

static void frame(struct seed *s, const uint8_t *f, uint32_t n)
{
	if (s->n + 2 + n > sizeof s->buf)
		fz_fail("seed too long");
	s->buf[s->n++] = (uint8_t)n;
	s->buf[s->n++] = (uint8_t)(n >> 8);
	memcpy(s->buf + s->n, f, n);
	s->n += n;
}

static void request_seq(struct seed *s, uint8_t op, uint32_t seq,
                        const void *p, uint32_t n)
{
	uint8_t f[KSH_FRAME_MAX] = {0};
	memset(f, 0xff, 6);
	f[6] = 0x02;
	f[11] = 0x01;
	f[12] = KSH_ETHERTYPE >> 8;
	f[13] = KSH_ETHERTYPE & 0xff;
	struct ksh_hdr h = {KSH_VERSION, op, (uint16_t)n, seq};
	memcpy(f + 14, &h, sizeof h);
	if (n)
		memcpy(f + 22, p, n);
	frame(s, f, 22 + n < 60 ? 60 : 22 + n);
}

static void request(struct seed *s, uint8_t op, const void *p, uint32_t n)
{
	request_seq(s, op, ++s->seq, p, n);
}

static struct ksh_cred cred(uint32_t owner)
{
	struct ksh_cred c;
	c.owner = owner;
	memcpy(&c.cap, cap_token, 7);
	((uint8_t *)&c.cap)[7] = (uint8_t)owner;
	return c;
}

static void stage_and_insert(struct seed *s, const char *src, uint32_t owner,
                             int grant)
{
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	if (dpf_lang_parse("seed.dpf", src, strlen(src), &prog, &d))
		fz_fail("seed filters: %s", d.msg);
	long len = dpf_ir_write(prog, NULL, 0);
	uint8_t *ir = malloc((size_t)len);
	if (!ir || dpf_ir_write(prog, ir, (size_t)len) != len)
		fz_fail("seed IR");
	for (long off = 0; off < len; off += 200) { /* small chunks */
		uint8_t p[sizeof(struct ksh_ir_chunk) + 200];
		struct ksh_ir_chunk h = {cred(owner), (uint32_t)off, (uint32_t)len};
		uint32_t c = (uint32_t)(len - off < 200 ? len - off : 200);
		memcpy(p, &h, sizeof h);
		memcpy(p + sizeof h, ir + off, c);
		request(s, KSH_OP_IR, p, (uint32_t)sizeof h + c);
	}
	uint8_t p[sizeof(struct ksh_insert) + sizeof(struct ksh_cred)];
	struct ksh_insert ins = {cred(owner), grant ? 1u : 0u};
	struct ksh_cred g = cred(grant);
	memcpy(p, &ins, sizeof ins);
	memcpy(p + sizeof ins, &g, sizeof g);
	request(s, KSH_OP_INSERT, p, sizeof ins + (grant ? sizeof g : 0));
	free(ir);
	dpf_prog_free(dpf_host_libc(), prog);
}

static void data(struct seed *s, const uint8_t ip[4], uint16_t dport)
{
	uint8_t f[64] = {0};
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 6;
	memcpy(f + 30, ip, 4);
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	frame(s, f, sizeof f);
}

/* A UDP datagram to port 53 (filter dns). */
static void udp53(struct seed *s)
{
	uint8_t f[64] = {0};
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;
	f[37] = 53;
	frame(s, f, sizeof f);
}

/* The image of img for owner 1 on filter id, in chunks of `chunk`
 * bytes; damage: one byte changed after the CRC-32 was taken. */
static void send_image(struct seed *s, const struct ash_image *img,
                       int32_t id, int damage, long chunk)
{
	long len = ash_image_write(img, NULL, 0);
	uint8_t *buf = malloc((size_t)len);
	if (!buf || ash_image_write(img, buf, (size_t)len) != len)
		fz_fail("seed image");
	struct ksh_ash_begin b = {cred(1), id, (uint32_t)len,
	                          ksh_crc32(buf, (uint32_t)len)};
	request(s, KSH_OP_ASH_BEGIN, &b, sizeof b);
	if (damage)
		buf[len / 2] ^= 1;
	for (long off = 0; off < len; off += chunk) {
		uint8_t p[sizeof(struct ksh_ash_chunk) + 400];
		struct ksh_ash_chunk h = {cred(1), (uint32_t)off};
		uint32_t c = (uint32_t)(len - off < chunk ? len - off : chunk);
		memcpy(p, &h, sizeof h);
		memcpy(p + sizeof h, buf + off, c);
		request(s, KSH_OP_ASH_CHUNK, p, (uint32_t)sizeof h + c);
	}
	const struct ksh_cred one = cred(1);
	request(s, KSH_OP_ASH_COMMIT, &one, sizeof one);
	free(buf);
}

/* A program of n instructions with nmaps maps, sent for owner 1 to
 * filter id (see send_image). */
static void attach_prog(struct seed *s, int32_t id, struct ash_insn *insns,
                        uint32_t n, int damage,
                        const struct ash_map_def *maps, uint32_t nmaps)
{
	struct ash_image img;
	memset(&img, 0, sizeof img);
	strcpy(img.prog, "seed");
	strcpy(img.section, "xdp");
	img.ninsns = n;
	img.insns = insns;
	img.nmaps = nmaps;
	img.maps = (struct ash_map_def *)maps;
	send_image(s, &img, id, damage, nmaps ? 400 : 100);
}

/* A two-instruction program returning `action`, with nmaps of maps. */
static void handler_with(struct seed *s, int32_t id, int action, int damage,
                         const struct ash_map_def *maps, uint32_t nmaps)
{
	struct ash_insn insns[2] = {{0xb7, 0, 0, 0, action}, {0x95, 0, 0, 0, 0}};
	attach_prog(s, id, insns, 2, damage, maps, nmaps);
}

/* A handler of n instructions, no maps (see attach_prog). */
static void attach_insns(struct seed *s, int32_t id, struct ash_insn *insns,
                         uint32_t n, int damage)
{
	attach_prog(s, id, insns, n, damage, NULL, 0);
}

/* A handler returning `action`, sent for owner 1 to filter id in small
 * chunks; damage: one byte changed after the CRC-32 was taken. */
static void handler(struct seed *s, int32_t id, int action, int damage)
{
	handler_with(s, id, action, damage, NULL, 0);
}

/* A handler with maps for owner 1 on filter id: an ARRAY (4 entries of
 * 8 bytes) and a HASH (8 entries of 16 bytes, 4-byte keys). */
static void handler_maps(struct seed *s, int32_t id)
{
	struct ash_map_def maps[2];
	memset(maps, 0, sizeof maps);
	strcpy(maps[0].name, "arr");
	maps[0].type = ASH_MAP_ARRAY;
	maps[0].key_size = 4;
	maps[0].value_size = 8;
	maps[0].max_entries = 4;
	strcpy(maps[1].name, "tab");
	maps[1].type = ASH_MAP_HASH;
	maps[1].key_size = 4;
	maps[1].value_size = 16;
	maps[1].max_entries = 8;
	handler_with(s, id, ASH_XDP_PASS, 0, maps, 2);
}

static void map_write(struct seed *s, uint32_t owner, int32_t id,
                      uint32_t map, uint32_t key, uint32_t vlen,
                      uint64_t flags)
{
	uint8_t p[sizeof(struct ksh_ash_map_write) + 4 + 16];
	struct ksh_ash_map_write w = {cred(owner), id, map, flags, 4, vlen};
	memcpy(p, &w, sizeof w);
	memcpy(p + sizeof w, &key, 4);
	memset(p + sizeof w + 4, 0x11 * (int)(key + 1), 16);
	request(s, KSH_OP_ASH_MAP_WRITE, p,
	        (uint32_t)sizeof w + 4 + (vlen < 16 ? vlen : 16));
}

static void map_read(struct seed *s, uint32_t owner, int32_t id,
                     uint32_t map, uint32_t how, uint32_t key,
                     uint32_t klen)
{
	uint8_t p[sizeof(struct ksh_ash_map_read) + 4];
	struct ksh_ash_map_read q = {cred(owner), id, map, how, 0, klen};
	memcpy(p, &q, sizeof q);
	memcpy(p + sizeof q, &key, 4);
	request(s, KSH_OP_ASH_MAP_READ, p, (uint32_t)sizeof q + (klen < 4 ? klen : 4));
}

/* Rings and latency (version 4): owner 1 takes a second ring (a count
 * past KSH_RINGS and a wrong capability refused), a handler on filter
 * id redirects to ring 1 and then to ring 3, which owner 1 has not;
 * LAT of every path and of one past them. */
static void rings_and_latency(struct seed *s, int32_t id)
{
	const struct ksh_cred one = cred(1);
	struct ksh_rings_req rq = {one, KSH_RINGS + 1};
	request(s, KSH_OP_RINGS, &rq, sizeof rq);
	rq.who.cap ^= 1;
	rq.want = 2;
	request(s, KSH_OP_RINGS, &rq, sizeof rq);
	rq.who = one;
	request(s, KSH_OP_RINGS, &rq, sizeof rq);
	const uint8_t a[4] = {10, 0, 0, 1};
	for (int32_t ring = 1; ring <= 3; ring += 2) {
		struct ash_insn insns[4] = {{0xb7, 1, 0, 0, ring}, /* r1 = ring */
		                            {0xb7, 2, 0, 0, 0},    /* r2 = 0 */
		                            {0x85, 0, 0, 0, ASH_H_REDIRECT},
		                            {0x95, 0, 0, 0, 0}};
		attach_insns(s, id, insns, 4, 0);
		data(s, a, 80);
		struct ksh_ash_ref ref = {one, id};
		request(s, KSH_OP_ASH_DETACH, &ref, sizeof ref);
	}
	for (uint32_t p = 0; p <= KSH_LAT_PATHS; p++) {
		struct ksh_lat_req lq = {one, p, p == 1 ? KSH_LAT_BUCKETS - 3 : 0};
		request(s, KSH_OP_LAT, &lq, sizeof lq);
	}
}

static void write_seed(const char *path)
{
	static struct seed s;
	const struct ksh_cred admin = cred(0), one = cred(1);
	struct ksh_cred wrong = admin;
	wrong.cap ^= 1;
	request(&s, KSH_OP_HELLO, NULL, 0);
	request(&s, KSH_OP_OWNER, NULL, 0);            /* no credential */
	request(&s, KSH_OP_OWNER, &wrong, sizeof wrong); /* a wrong one */
	request(&s, KSH_OP_OWNER, &admin, sizeof admin);
	request(&s, KSH_OP_OWNER, &admin, sizeof admin);
	stage_and_insert(&s,
	                 "filter web { ip.dst == 10.0.0.1 and tcp.dport == 80 }\n"
	                 "filter ssh { ip.dst == 10.0.0.1 and tcp.dport == 22 }\n"
	                 "filter dns { udp.dport == 53 }\n",
	                 1, 0);
	/* owner 2 overlapping owner 1: refused, then granted */
	stage_and_insert(&s, "filter farm { ip.dst == 10.0.0.0/24 and tcp }", 2, 0);
	stage_and_insert(&s, "filter farm { ip.dst == 10.0.0.0/24 and tcp }", 2, 1);
	const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 9};
	data(&s, a, 80);
	data(&s, a, 22);
	data(&s, b, 443);
	struct ksh_config cf = {cred(1), 1, 1};
	request(&s, KSH_OP_CONFIG, &cf, sizeof cf);
	data(&s, a, 80);
	data(&s, a, 80);
	/* handlers on web (id 0: TX) and ssh (id 1: DROP); a damaged image
	 * and an out-of-order chunk refused; owner 2 cannot bind to web */
	handler(&s, 0, 3, 1);
	handler(&s, 0, 3, 0);
	handler(&s, 1, 1, 0);
	struct ksh_ash_chunk oo = {one, 40};
	request(&s, KSH_OP_ASH_CHUNK, &oo, sizeof oo);
	struct ksh_ash_begin other = {cred(2), 0, 100, 0};
	request(&s, KSH_OP_ASH_BEGIN, &other, sizeof other);
	data(&s, a, 80);
	data(&s, a, 22);
	struct ksh_ash_ref ref = {one, 0};
	request(&s, KSH_OP_ASH_COUNTERS, &ref, sizeof ref);
	request(&s, KSH_OP_ASH_DETACH, &ref, sizeof ref);
	data(&s, a, 80);
	/* a handler with maps on dns (id 2): written, read, refused */
	handler_maps(&s, 2);
	map_write(&s, 1, 2, 0, 1, 8, KSH_MAP_ANY);
	map_write(&s, 1, 2, 1, 7, 16, KSH_MAP_NOEXIST);
	map_write(&s, 1, 2, 1, 7, 16, KSH_MAP_NOEXIST); /* exists */
	map_write(&s, 1, 2, 1, 9, 16, KSH_MAP_EXIST);   /* does not */
	map_write(&s, 1, 2, 0, 4, 8, KSH_MAP_ANY);      /* past the array */
	map_write(&s, 1, 2, 0, 1, 4, KSH_MAP_ANY);      /* wrong value size */
	map_write(&s, 2, 2, 0, 1, 8, KSH_MAP_ANY);      /* another owner */
	udp53(&s); /* runs it: revoked when the budget is one cycle */
	map_read(&s, 1, 2, 0, KSH_MAP_LOOKUP, 1, 4);
	map_read(&s, 1, 2, 1, KSH_MAP_FIRST, 0, 0);
	map_read(&s, 1, 2, 1, KSH_MAP_NEXT, 7, 4);
	map_read(&s, 1, 2, 1, KSH_MAP_LOOKUP, 7, 2);   /* key too short */
	map_read(&s, 1, 2, 5, KSH_MAP_LOOKUP, 0, 4);   /* no such map */
	map_read(&s, 2, 2, 0, KSH_MAP_LOOKUP, 0, 4);   /* another owner */
	map_read(&s, 1, 0, 0, KSH_MAP_LOOKUP, 0, 4);   /* no handler */
	request(&s, KSH_OP_ASH_NOTICES, &one, sizeof one);
	rings_and_latency(&s, 0);
	struct ksh_counters_req q = {one, 0};
	request(&s, KSH_OP_COUNTERS, &q, sizeof q);
	q.who = admin;
	request(&s, KSH_OP_COUNTERS, &q, sizeof q);
	request(&s, KSH_OP_STATS, &one, sizeof one);
	/* a replay of owner 1's STATS, a reply injected, the OWNER budget
	 * spent, RESET and EXIT with an owner's capability */
	request_seq(&s, KSH_OP_STATS, s.seq, &one, sizeof one);
	request(&s, KSH_OP_STATS | KSH_REPLY, &admin, sizeof admin);
	for (int i = 0; i < 3; i++)
		request(&s, KSH_OP_OWNER, &admin, sizeof admin);
	request(&s, KSH_OP_RESET, &one, sizeof one);
	struct ksh_exit x = {one, 0};
	request(&s, KSH_OP_EXIT, &x, sizeof x);
	struct ksh_delete del = {cred(1), 0};
	request(&s, KSH_OP_DELETE, &del, sizeof del);
	request(&s, KSH_OP_RESET, &admin, sizeof admin);
	x.who = admin;
	request(&s, KSH_OP_EXIT, &x, sizeof x);
	FILE *fp = fopen(path, "wb");
	if (!fp || fwrite(s.buf, 1, s.n, fp) != s.n || fclose(fp) != 0)
		fz_fail("cannot write the seed %s", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("DPF_FUZZ_CTL_VERBOSE") != NULL;
	const char *seed = getenv("DPF_FUZZ_CTL_SEED");
	if (seed && *seed)
		write_seed(seed);
	return 0;
}
