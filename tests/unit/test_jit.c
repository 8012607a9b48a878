/*
 * test_jit.c - the x86-64 JIT against its oracle, the interpreter: random
 * filter sets under inserts and deletes (recompiled after each update),
 * random, adversarial and truncated packets; hash-table dispatch; every
 * packet of every Ethernet corpus capture; failures that leave the caller
 * with the interpreter.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>

#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "gen_ir.h"
#include "jit/jit.h"
#include "testutil.h"

static struct dpf_jit *compile(struct dpf_engine *e)
{
	struct dpf_jit *j = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(jit_compile(e, jit_mem_posix(), &j, &d), 0, "%s", d.msg);
	return j;
}

static long agree(struct dpf_engine *e, struct dpf_jit *j, uint64_t *s,
                  int pkts, const char *what)
{
	uint8_t pkt[128];
	long n = 0;
	for (int k = 0; k < pkts; k++) {
		uint32_t len = gi_packet(s, pkt);
		for (uint32_t l = len;; l--) {
			int a = dpf_classify(e, pkt, l), b = jit_classify(j, pkt, l);
			n++;
			if (a != b)
				cr_assert_fail("%s: len %u: interp %d jit %d", what, l, a, b);
			if (l == 0 || (k % 8 && l + 6 < len) )
				break;
		}
	}
	return n;
}

/* Random updates: a random filter inserted (when it is not refused) or,
 * one time in three, an installed one deleted. */
struct churn {
	int ids[48], n;
	unsigned serial;
};

static void churn_step(struct dpf_engine *e, struct churn *ch, uint64_t *s)
{
	if (ch->n > 0 && (ch->n == 48 || gi_pick(s, 3) == 0)) {
		uint32_t k = gi_pick(s, (uint32_t)ch->n);
		cr_assert_eq(dpf_delete(e, ch->ids[k]), 0);
		ch->ids[k] = ch->ids[--ch->n];
	} else {
		struct dpf_filter f;
		gi_filter(s, ch->serial++, &f);
		int id;
		if (dpf_insert(e, &f, &id, NULL) == 0)
			ch->ids[ch->n++] = id;
		gi_filter_free(&f);
	}
}

Test(jit, empty_engine_matches_nothing)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct dpf_jit *j = compile(e);
	uint8_t pkt[64] = {0};
	cr_assert_eq(jit_classify(j, pkt, 64), DPF_NOMATCH);
	cr_assert_eq(jit_classify(j, pkt, 0), DPF_NOMATCH);
	cr_assert_gt(jit_code_size(j), 0);
	jit_free(j);
	dpf_engine_free(e);
}

Test(jit, property_jit_equals_interpreter, .timeout = 300)
{
	long total = 0;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		uint64_t s = seed * 0x2545F4914F6CDD1DULL;
		struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
		struct churn ch = {.serial = 0};
		for (int op = 0; op < 60; op++) {
			churn_step(e, &ch, &s);
			struct dpf_jit *j = compile(e);
			char what[64];
			snprintf(what, sizeof what, "seed %lu op %d", (unsigned long)seed,
			         op);
			total += agree(e, j, &s, 40, what);
			jit_free(j);
		}
		dpf_engine_free(e);
	}
	cr_assert_gt(total, 100000, "only %ld classifications", total);
}

/* Ten million classifications, JIT against interpreter: 20 random filter
 * sets (built by random inserts and deletes), each compiled once and run on
 * 500,000 (packet, length) pairs drawn from a pool of random, adversarial
 * and truncated packets. */
Test(jit, ten_million_classifications)
{
	enum { POOL = 4096, PER_SET = 500000, SETS = 20 };
	static uint8_t pool[POOL][128];
	static uint32_t plen[POOL];
	uint64_t s = 0xC0FFEE;
	for (int i = 0; i < POOL; i++)
		plen[i] = gi_packet(&s, pool[i]);
	long total = 0, hits = 0;
	for (int set = 0; set < SETS; set++) {
		struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
		struct churn ch = {.serial = 0};
		for (int op = 0; op < 80; op++)
			churn_step(e, &ch, &s);
		struct dpf_jit *j = compile(e);
		for (int k = 0; k < PER_SET; k++) {
			uint32_t x = (uint32_t)tu_rand(&s);
			const uint8_t *p = pool[x % POOL];
			uint32_t full = plen[x % POOL];
			uint32_t len = (x >> 16) % 4 ? full : (x >> 18) % (full + 1);
			int a = dpf_classify(e, p, len), b = jit_classify(j, p, len);
			if (a != b)
				cr_assert_fail("set %d packet %u len %u: interp %d jit %d", set,
				               x % POOL, len, a, b);
			hits += a >= 0;
		}
		total += PER_SET;
		jit_free(j);
		dpf_engine_free(e);
	}
	cr_assert_eq(total, 10000000L);
	cr_assert_gt(hits, total / 20, "only %ld of %ld packets matched", hits,
	             total);
}

Test(jit, hash_dispatch_on_large_tables)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	char src[200];
	for (int i = 0; i < 1200; i++) {
		snprintf(src, sizeof src,
		         "filter f%d priority %d { ip.dst == 10.0.%d.%d and %s.dport == "
		         "%d }",
		         i, i % 2, i / 256, i % 256, i % 3 ? "tcp" : "udp",
		         1000 + i % 11);
		struct dpf_prog *p = tu_parse(src);
		cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, NULL), 0);
		dpf_prog_free(dpf_host_libc(), p);
	}
	/* and some deletions, which leave tombstones in the trie's tables */
	for (int i = 0; i < 1200; i += 7)
		cr_assert_eq(dpf_delete(e, i), 0);
	struct dpf_jit *j = compile(e);
	uint64_t s = 99;
	uint8_t pkt[128];
	int hits = 0;
	for (int k = 0; k < 60000; k++) {
		uint32_t len = gi_packet(&s, pkt);
		put16(pkt + 12, 0x0800);
		pkt[23] = gi_pick(&s, 3) ? 6 : 17;
		put32(pkt + 30, 0x0a000000 + gi_pick(&s, 1300));
		put16(pkt + 14 + 4 * (pkt[14] & 15) + 2, 1000 + gi_pick(&s, 12));
		int a = dpf_classify(e, pkt, len);
		cr_assert_eq(jit_classify(j, pkt, len), a, "packet %d", k);
		hits += a >= 0;
	}
	cr_assert_gt(hits, 1000, "the workload must match often (%d)", hits);
	jit_free(j);
	dpf_engine_free(e);
}

static void *no_map(void *ctx, size_t n)
{
	return NULL;
}

static int no_seal(void *ctx, void *p, size_t n)
{
	return 0;
}

static void no_unmap(void *ctx, void *p, size_t n)
{
}

Test(jit, failure_is_reported_not_fatal)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct dpf_prog *p = tu_parse("filter a { ip }");
	cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, NULL), 0);
	dpf_prog_free(dpf_host_libc(), p);
	struct jit_mem none = {no_map, no_seal, no_unmap, NULL};
	struct dpf_jit *j = (struct dpf_jit *)1;
	struct dpf_diag d;
	cr_assert_eq(jit_compile(e, &none, &j, &d), DPF_ENOMEM);
	cr_assert_null(j);
	cr_assert_str_eq(d.msg, "out of code memory");
	dpf_engine_free(e);
}

/* Every packet of every Ethernet capture of the corpus, with the corpus
 * filter set. */
Test(jit, corpus_captures, .timeout = 300)
{
	const char *dir = DPF_SOURCE_DIR "/../shared/corpus/pcap";
	DIR *dp = opendir(dir);
	if (!dp) {
		cr_skip_test("jit::corpus_captures skipped: %s not found", dir);
	}
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	cr_assert_eq(dpf_lang_parse_file(DPF_SOURCE_DIR "/tests/corpus/filters.dpf",
	                                 &prog, &d),
	             0, "%s", d.msg);
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	for (uint32_t i = 0; i < prog->nfilters; i++)
		cr_assert_eq(dpf_insert(e, &prog->filters[i], NULL, &d), 0, "%s",
		             d.msg);
	dpf_prog_free(dpf_host_libc(), prog);
	struct dpf_jit *j = compile(e);
	struct dirent *de;
	long packets = 0, files = 0;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		char path[1024], err[PCAP_ERRBUF_SIZE];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		pcap_t *pc = pcap_open_offline(path, err);
		if (!pc)
			continue;
		if (pcap_datalink(pc) == DLT_EN10MB) {
			files++;
			struct pcap_pkthdr *h;
			const u_char *data;
			long idx = 0;
			while (pcap_next_ex(pc, &h, &data) == 1) {
				for (uint32_t l = h->caplen;; l--) {
					int a = dpf_classify(e, data, l);
					int b = jit_classify(j, data, l);
					cr_assert_eq(a, b, "%s packet %ld len %u: interp %d jit %d",
					             de->d_name, idx, l, a, b);
					packets++;
					if (l == 0 || l + 64 < h->caplen)
						break;
				}
				idx++;
			}
		}
		pcap_close(pc);
	}
	closedir(dp);
	cr_assert_gt(files, 100);
	cr_assert_gt(packets, files, "jit corpus: %ld captures, %ld classifications",
	             files, packets);
	jit_free(j);
	dpf_engine_free(e);
}
