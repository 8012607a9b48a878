/*
 * test_jit.c - the x86-64 back end against its oracle, the interpreter:
 * random filter sets under inserts and deletes (the code updated
 * incrementally after each), random, adversarial and truncated packets;
 * hash dispatch and its data-only updates; every packet of every Ethernet
 * corpus capture; code-memory failures that fall back to the interpreter
 * and recover.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "gen_ir.h"
#include "jit/jit.h"
#include "testutil.h"

static void attach(struct dpf_engine *e)
{
	struct dpf_diag d = {{0}};
	cr_assert_eq(jit_attach(e, jit_mem_posix(), 0, &d), 0, "%s", d.msg);
}

static void assert_running(const struct dpf_engine *e, const char *what)
{
	struct dpf_diag d;
	cr_assert(jit_status(e, NULL, &d), "%s: x86 not running: %s", what, d.msg);
	cr_assert_not_null(dpf_exec(e));
}

static long agree(struct dpf_engine *e, uint64_t *s, int pkts,
                  const char *what)
{
	uint8_t pkt[128];
	long n = 0;
	assert_running(e, what);
	for (int k = 0; k < pkts; k++) {
		uint32_t len = gi_packet(s, pkt);
		for (uint32_t l = len;; l--) {
			int a = dpf_classify_interp(e, pkt, l), b = dpf_classify(e, pkt, l);
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
	attach(e);
	uint8_t pkt[64] = {0};
	cr_assert_eq(dpf_classify(e, pkt, 64), DPF_NOMATCH);
	cr_assert_eq(dpf_classify(e, pkt, 0), DPF_NOMATCH);
	struct jit_stats st;
	cr_assert(jit_status(e, &st, NULL));
	cr_assert_eq(st.units, 1);
	cr_assert_gt(st.code_bytes, 0);
	jit_detach(e);
	cr_assert_null(dpf_exec(e));
	cr_assert_eq(dpf_classify(e, pkt, 64), DPF_NOMATCH);
	dpf_engine_free(e);
}

/* Incremental updates: the code is updated after every insert and delete
 * and checked against the interpreter after each. */
Test(jit, property_jit_equals_interpreter, .timeout = 300)
{
	long total = 0;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		uint64_t s = seed * 0x2545F4914F6CDD1DULL;
		struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
		attach(e);
		struct churn ch = {.serial = 0};
		for (int op = 0; op < 60; op++) {
			churn_step(e, &ch, &s);
			char what[64];
			snprintf(what, sizeof what, "seed %lu op %d", (unsigned long)seed,
			         op);
			total += agree(e, &s, 40, what);
		}
		struct jit_stats st;
		jit_status(e, &st, NULL);
		cr_assert_eq(st.full_builds, 1, "only the attach compiles everything");
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
		attach(e);
		struct churn ch = {.serial = 0};
		for (int op = 0; op < 80; op++)
			churn_step(e, &ch, &s);
		assert_running(e, "ten million");
		for (int k = 0; k < PER_SET; k++) {
			uint32_t x = (uint32_t)tu_rand(&s);
			const uint8_t *p = pool[x % POOL];
			uint32_t full = plen[x % POOL];
			uint32_t len = (x >> 16) % 4 ? full : (x >> 18) % (full + 1);
			int a = dpf_classify_interp(e, p, len), b = dpf_classify(e, p, len);
			if (a != b)
				cr_assert_fail("set %d packet %u len %u: interp %d jit %d", set,
				               x % POOL, len, a, b);
			hits += a >= 0;
		}
		total += PER_SET;
		dpf_engine_free(e);
	}
	cr_assert_eq(total, 10000000L);
	cr_assert_gt(hits, total / 20, "only %ld of %ld packets matched", hits,
	             total);
}

/* Flow i: ip.dst == 10.0.x.y and {tcp,udp}.dport == P.  With mixed == 1,
 * every other flow also names a source port, so the children of the
 * ip.dst dispatch come in two shapes (a fused dispatch, one table per
 * shape); with mixed == 2 flow i also tests u8[60 + i % 13], so there are
 * more shapes than SHAPE_MAX and each child gets its own unit. */
static void add_flow_as(struct dpf_engine *e, int i, int mixed)
{
	char src[200], extra[32] = "";
	const char *l4 = i % 3 ? "tcp" : "udp";
	if (mixed == 1 && i % 2)
		snprintf(extra, sizeof extra, " and %s.sport == 7", l4);
	else if (mixed == 2)
		snprintf(extra, sizeof extra, " and u8[%d] == 1", 60 + i % 13);
	snprintf(src, sizeof src,
	         "filter f%d priority %d { ip.dst == 10.0.%d.%d and %s.dport == "
	         "%d%s }",
	         i, i % 2, i / 256 % 256, i % 256, l4, 1000 + i % 11, extra);
	struct dpf_prog *p = tu_parse(src);
	struct dpf_diag d;
	cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, &d), 0, "%s", d.msg);
	dpf_prog_free(dpf_host_libc(), p);
}

static int flow_agree(struct dpf_engine *e, uint64_t *s, int npkts, int range)
{
	uint8_t pkt[128];
	int hits = 0;
	for (int k = 0; k < npkts; k++) {
		uint32_t len = gi_packet(s, pkt);
		put16(pkt + 12, 0x0800);
		pkt[23] = gi_pick(s, 3) ? 6 : 17;
		put32(pkt + 30, 0x0a000000 + gi_pick(s, (uint32_t)range));
		put16(pkt + 14 + 4 * (pkt[14] & 15) + 2, 1000 + gi_pick(s, 12));
		if (gi_pick(s, 2))
			put16(pkt + 14 + 4 * (pkt[14] & 15), 7);
		if (gi_pick(s, 4))
			memset(pkt + 60, 1, 13);
		int a = dpf_classify_interp(e, pkt, len);
		cr_assert_eq(dpf_classify(e, pkt, len), a, "packet %d", k);
		hits += a >= 0;
	}
	return hits;
}

/* The packet of flow i (as add_flow_as names it) must get filter f<i>
 * from both engines. */
static void flow_hits(struct dpf_engine *e, int i)
{
	uint8_t pkt[64] = {0};
	char name[16];
	put16(pkt + 12, 0x0800);
	pkt[14] = 0x45;
	pkt[23] = i % 3 ? 6 : 17;
	put32(pkt + 30, 0x0a000000 + (uint32_t)i);
	put16(pkt + 36, (uint16_t)(1000 + i % 11));
	snprintf(name, sizeof name, "f%d", i);
	int want = dpf_lookup(e, name);
	cr_assert_geq(want, 0);
	cr_assert_eq(dpf_classify_interp(e, pkt, 64), want, "flow %d", i);
	cr_assert_eq(dpf_classify(e, pkt, 64), want, "flow %d (x86)", i);
}

static void add_port(struct dpf_engine *e, int port)
{
	char src[80];
	snprintf(src, sizeof src, "filter u%d { udp.dport == %d }", port, port);
	struct dpf_prog *p = tu_parse(src);
	struct dpf_diag d;
	cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, &d), 0, "%s", d.msg);
	dpf_prog_free(dpf_host_libc(), p);
}

/* The packet to UDP port `port` over IPv4 and IPv6: both engines agree,
 * and name filter u<port> when `in` says it is installed. */
static void port_hits(struct dpf_engine *e, int port, int in)
{
	char name[16];
	snprintf(name, sizeof name, "u%d", port);
	int want = in ? dpf_lookup(e, name) : DPF_NOMATCH;
	cr_assert(!in || want >= 0);
	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t pkt[80] = {0};
		put16(pkt + 12, v6 ? 0x86dd : 0x0800);
		pkt[14] = v6 ? 0x60 : 0x45;
		pkt[v6 ? 20 : 23] = 17;
		put16(pkt + (v6 ? 54 : 34) + 2, (uint16_t)port);
		cr_assert_eq(dpf_classify_interp(e, pkt, 80), want, "port %d", port);
		cr_assert_eq(dpf_classify(e, pkt, 80), want, "port %d (x86)", port);
	}
}

/* Dense keys make a direct table; a key far outside its range rebuilds
 * the unit as a hash dispatch, and every port still matches. */
Test(jit, direct_table_and_a_key_out_of_range)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	for (int i = 0; i < 60; i++)
		add_port(e, 1000 + i);
	struct dpf_diag d;
	cr_assert_eq(jit_attach(e, jit_mem_posix(), JIT_NOTES, &d), 0, "%s", d.msg);
	struct jit_stats a, b;
	jit_status(e, &a, NULL);
	add_port(e, 1061); /* in range: data only */
	jit_status(e, &b, NULL);
	cr_assert_eq(b.builds, a.builds);
	cr_assert_gt(b.slot_updates, a.slot_updates);
	add_port(e, 40000); /* far away: the unit is rebuilt */
	jit_status(e, &a, NULL);
	cr_assert_gt(a.builds, b.builds);
	for (int i = 0; i < 60; i++)
		port_hits(e, 1000 + i, 1);
	port_hits(e, 1060, 0);
	port_hits(e, 1061, 1);
	port_hits(e, 40000, 1);
	port_hits(e, 39999, 0);
	dpf_engine_free(e);
}

/* 1,200 flows inserted one by one into an attached engine: chains become
 * hash dispatches, tables grow, deletes leave removed slots and demote
 * small tables. */
static void large_tables(int mixed)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	attach(e);
	uint64_t s = 99;
	for (int i = 0; i < 1200; i++) {
		add_flow_as(e, i, mixed);
		if (i % 97 == 0)
			flow_agree(e, &s, 200, 1300);
	}
	for (int i = 0; i < 1200; i += 7)
		cr_assert_eq(dpf_delete(e, i), 0);
	assert_running(e, "1,200 flows");
	int hits = flow_agree(e, &s, 60000, 1300);
	cr_assert_gt(hits, 500, "the workload must match often (%d)", hits);
	/* delete nearly everything: dispatches shrink back to chains */
	for (int i = 0; i < 1200; i++)
		if (i % 7 && i % 100)
			cr_assert_eq(dpf_delete(e, i), 0);
	flow_agree(e, &s, 20000, 1300);
	struct jit_stats st;
	cr_assert(jit_status(e, &st, NULL));
	cr_assert_eq(st.full_builds, 1);
	cr_assert_gt(st.slot_updates, 1000);
	dpf_engine_free(e);
}

Test(jit, hash_dispatch_on_large_tables)
{
	large_tables(0);
}

Test(jit, shape_dispatch_on_large_tables)
{
	large_tables(1);
}

Test(jit, unit_dispatch_on_large_tables)
{
	large_tables(2);
}

/* A flow added to or removed from a hash dispatch changes data only.
 * Fused dispatch (one shape, or several): one record, no code at all;
 * unit dispatch: one new unit and one slot.  The entry point never
 * changes. */
static void data_not_code(int mixed)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	for (int i = 0; i < 1000; i++)
		add_flow_as(e, i, mixed);
	attach(e);
	struct jit_stats a, b, c;
	jit_status(e, &a, NULL);
	dpf_exec_fn entry = dpf_exec(e);
	add_flow_as(e, 1000, mixed); /* a new ip.dst: a new dispatch entry */
	jit_status(e, &b, NULL);
	int units = mixed == 2;
	cr_assert_eq(b.builds, a.builds + units, "units compiled: %lu",
	             (unsigned long)(b.builds - a.builds));
	cr_assert_eq(b.slot_updates, a.slot_updates + 1);
	cr_assert_eq(b.units, a.units + units);
	if (!units)
		cr_assert_eq(a.units, 1, "shapes share code: %u units", a.units);
	cr_assert_eq((void *)dpf_exec(e), (void *)entry, "top unit unchanged");
	if (mixed != 2) /* its packet has no u8[60..72] set */
		flow_hits(e, 1000);
	cr_assert_eq(dpf_delete(e, dpf_lookup(e, "f1000")), 0);
	jit_status(e, &c, NULL);
	cr_assert_eq(c.builds, b.builds, "nothing compiled for a delete");
	cr_assert_eq(c.slot_updates, b.slot_updates + 1);
	cr_assert_eq(c.units, a.units);
	cr_assert_eq(c.code_bytes, a.code_bytes);
	cr_assert_eq((void *)dpf_exec(e), (void *)entry);
	if (!units)
		cr_assert_lt(c.code_bytes, 4096, "1,000 flows in %lu bytes of code",
		             (unsigned long)c.code_bytes);
	uint64_t s = 5;
	flow_agree(e, &s, 20000, 1100);
	dpf_engine_free(e);
}

Test(jit, template_entries_change_data_not_code)
{
	data_not_code(0);
}

Test(jit, shape_entries_change_data_not_code)
{
	data_not_code(1);
}

Test(jit, unit_entries_change_data_not_code)
{
	data_not_code(2);
}

/* The top unit's EtherType chain as compiled: the values in the order
 * they are compared, each checked against the code at its note (entries
 * of chains nested in between compare other values). */
struct chain_order {
	uint32_t vals[8], n;
	int units;
};

static void top_chain(void *ctx, uint64_t addr, const uint8_t *code,
                      size_t len, const struct jit_note *notes, size_t nnotes)
{
	struct chain_order *o = ctx;
	(void)addr;
	if (o->units++)
		return;
	int in = 0;
	for (size_t i = 0; i < nnotes; i++) {
		unsigned v, w;
		if (strstr(notes[i].text, "u16[12]: chain of")) {
			in = 1;
		} else if (in &&
		           sscanf(notes[i].text, "== 0x%x: weight %u", &v, &w) == 2 &&
		           (v == 0x800 || v == 0x806 || v == 0x86dd)) {
			cr_assert_lt(o->n, 8);
			/* cmp eax, imm32: the value in packet order */
			cr_assert_lt(notes[i].off + 5, len);
			cr_assert_eq(code[notes[i].off], 0x3d, "note %s", notes[i].text);
			cr_assert_eq(code[notes[i].off + 1], v >> 8);
			cr_assert_eq(code[notes[i].off + 2], v & 0xff);
			o->vals[o->n++] = v;
		}
	}
}

static struct chain_order ether_chain(const struct dpf_engine *e)
{
	struct chain_order o = {{0}, 0, 0};
	jit_listing(e, top_chain, &o);
	return o;
}

static void add_text(struct dpf_engine *e, const char *src)
{
	struct dpf_prog *p = tu_parse(src);
	struct dpf_diag d;
	cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, &d), 0, "%s", d.msg);
	dpf_prog_free(dpf_host_libc(), p);
}

/* Likely alternatives first: the EtherType chain compares the type with
 * the most filters under it first, follows the filters as they come and
 * go, and does not recompile for every insert on the way. */
Test(jit, likely_alternatives_first)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct dpf_diag d;
	add_text(e, "filter a { arp }");
	add_text(e, "filter v6 { ip6 }");
	add_text(e, "filter f0 { ip.dst == 10.0.0.0 and tcp.dport == 1000 }");
	cr_assert_eq(jit_attach(e, jit_mem_posix(), JIT_NOTES, &d), 0, "%s", d.msg);
	struct chain_order o = ether_chain(e);
	cr_assert_eq(o.n, 3);
	/* equal weights: by value */
	cr_assert(o.vals[0] == 0x800 && o.vals[1] == 0x806 && o.vals[2] == 0x86dd,
	          "%x %x %x", o.vals[0], o.vals[1], o.vals[2]);
	/* IPv6 grows: it moves to the front, with few recompilations */
	int moves = 0;
	dpf_exec_fn top = dpf_exec(e);
	for (int i = 0; i < 40; i++) {
		char src[96];
		snprintf(src, sizeof src,
		         "filter s%d { ip6.dst == 2001:db8::%x and tcp }", i, i + 1);
		add_text(e, src);
		moves += i > 8 && dpf_exec(e) != top;
		top = dpf_exec(e);
	}
	o = ether_chain(e);
	cr_assert_eq(o.vals[0], 0x86dd, "first: %x", o.vals[0]);
	cr_assert_leq(moves, 2, "the top unit recompiled %d times for 31 inserts",
	              moves);
	/* IPv4 outgrows it */
	for (int i = 1; i < 200; i++) {
		char src[96];
		snprintf(src, sizeof src,
		         "filter f%d { ip.dst == 10.0.0.%d and tcp.dport == 1000 }", i,
		         i);
		add_text(e, src);
	}
	o = ether_chain(e);
	cr_assert_eq(o.vals[0], 0x800, "first: %x", o.vals[0]);
	cr_assert_eq(o.vals[1], 0x86dd, "second: %x", o.vals[1]);
	uint64_t s = 17;
	agree(e, &s, 3000, "reordered");
	/* and shrinks back.  Deletes change the dispatch's data only, so the
	 * one recompilation is the chain found out of order: IPv4 is then
	 * lighter than half of IPv6 (41). */
	moves = 0;
	top = dpf_exec(e);
	for (int i = 0; i < 190; i++) {
		char name[16];
		snprintf(name, sizeof name, "f%d", i);
		cr_assert_eq(dpf_delete(e, dpf_lookup(e, name)), 0, "%s", name);
		moves += dpf_exec(e) != top;
		top = dpf_exec(e);
	}
	cr_assert_eq(moves, 1, "top unit recompiled %d times", moves);
	o = ether_chain(e);
	cr_assert_eq(o.vals[0], 0x86dd, "first: %x", o.vals[0]);
	agree(e, &s, 3000, "reordered back");
	uint8_t pkt[64] = {0};
	put16(pkt + 12, 0x0800);
	pkt[14] = 0x45;
	pkt[23] = 6;
	put32(pkt + 30, 0x0a0000c6);
	put16(pkt + 36, 1000);
	cr_assert_eq(dpf_classify(e, pkt, 64), dpf_lookup(e, "f198"));
	cr_assert_eq(dpf_classify_interp(e, pkt, 64), dpf_lookup(e, "f198"));
	dpf_engine_free(e);
}

/* Code memory that runs out after `left` mappings. */
struct budget {
	int left;
};

static int budget_map(void *ctx, size_t n, void **rw, void **rx)
{
	struct budget *b = ctx;
	if (b->left <= 0)
		return -1;
	b->left--;
	return jit_mem_posix()->map(NULL, n, rw, rx);
}

static void budget_unmap(void *ctx, size_t n, void *rw, void *rx)
{
	(void)ctx;
	jit_mem_posix()->unmap(NULL, n, rw, rx);
}

Test(jit, attach_failure_is_reported_not_fatal)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct dpf_prog *p = tu_parse("filter a { ip }");
	cr_assert_eq(dpf_insert(e, &p->filters[0], NULL, NULL), 0);
	dpf_prog_free(dpf_host_libc(), p);
	struct budget none = {0};
	struct jit_mem mem = {budget_map, budget_unmap, &none};
	struct dpf_diag d;
	cr_assert_eq(jit_attach(e, &mem, 0, &d), DPF_ENOMEM);
	cr_assert_str_eq(d.msg, "x86 code generation failed: out of code memory");
	cr_assert_null(dpf_exec(e));
	uint8_t pkt[64] = {0};
	pkt[12] = 8;
	cr_assert_eq(dpf_classify(e, pkt, 64), 0, "the interpreter classifies");
	dpf_engine_free(e);
}

/* Code memory runs out during updates: the engine falls back to the
 * interpreter at once, keeps classifying correctly, and the next update
 * after memory returns compiles everything again. */
Test(jit, update_failure_falls_back_and_recovers)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct budget one = {1};
	struct jit_mem mem = {budget_map, budget_unmap, &one};
	struct dpf_diag d;
	cr_assert_eq(jit_attach(e, &mem, 0, &d), 0, "%s", d.msg);
	uint64_t s = 7;
	int i = 0, fell = 0;
	for (; i < 20000 && !fell; i++) {
		add_flow_as(e, i, 2);
		fell = !jit_status(e, NULL, &d);
	}
	cr_assert(fell, "one chunk of code memory held %d flows", i);
	cr_assert_str_eq(d.msg, "out of code memory");
	cr_assert_null(dpf_exec(e));
	flow_agree(e, &s, 2000, i + 10); /* dpf_classify: the interpreter */
	add_flow_as(e, i, 2); /* still no memory: still the interpreter */
	cr_assert_not(jit_status(e, NULL, NULL));
	one.left = 1000;
	add_flow_as(e, i + 1, 2); /* memory is back: compiled whole again */
	struct jit_stats st;
	cr_assert(jit_status(e, &st, &d), "%s", d.msg);
	cr_assert_eq(st.failures, 2);
	cr_assert_eq(st.full_builds, 2);
	flow_agree(e, &s, 5000, i + 10);
	dpf_engine_free(e);
}

/*
 * Shapes with repeats: flows whose hosts carry several ports, a wildcard
 * `ip.dst == A and tcp` and `ip.dst == A` at another priority beside
 * them, source-port variants, 5-tuples and UDP flows, drawn from small
 * pools so dispatches grow past chains, take several shapes, and lose
 * them again.  After every insert or delete, the x86 code, the trie
 * interpreter and the naive evaluator agree on packets drawn from the
 * same pools, at every length.
 */
static const uint32_t fz_hosts = 40, fz_ports[] = {22, 80, 443, 8080, 53, 7};

static void shape_filter(uint64_t *s, unsigned serial, char *src, size_t cap)
{
	uint32_t a = (uint32_t)tu_rand(s) % fz_hosts;
	uint32_t p = fz_ports[tu_rand(s) % 6], x = 1000 + (uint32_t)(tu_rand(s) % 4);
	uint32_t prio = (uint32_t)(tu_rand(s) % 3), c = 7 + (uint32_t)(tu_rand(s) % 3);
	int n = snprintf(src, cap, "filter s%u priority %u { ", serial, prio);
	switch (tu_rand(s) % 8) {
	case 0:
		snprintf(src + n, cap - n, "ip.dst == 10.1.0.%u and tcp }", a);
		break;
	case 1:
		snprintf(src + n, cap - n, "ip.dst == 10.1.0.%u }", a);
		break;
	case 2:
		snprintf(src + n, cap - n,
		         "ip.dst == 10.1.0.%u and tcp.dport == %u and tcp.sport == %u }",
		         a, p, x);
		break;
	case 3:
		snprintf(src + n, cap - n,
		         "ip.src == 10.9.0.%u and ip.dst == 10.1.0.%u and tcp.sport "
		         "== %u and tcp.dport == %u }",
		         c, a, x, p);
		break;
	case 4:
		snprintf(src + n, cap - n, "ip.dst == 10.1.0.%u and udp.dport == %u }",
		         a, p);
		break;
	default:
		snprintf(src + n, cap - n, "ip.dst == 10.1.0.%u and tcp.dport == %u }",
		         a, p);
		break;
	}
}

static void shape_packet(uint64_t *s, uint8_t *pkt, uint32_t *len)
{
	memset(pkt, 0, 80);
	put16(pkt + 12, 0x0800);
	uint32_t ihl = 5 + (uint32_t)(tu_rand(s) % 4 == 0 ? tu_rand(s) % 3 : 0);
	pkt[14] = (uint8_t)(0x40 | ihl);
	pkt[23] = tu_rand(s) % 4 ? 6 : 17;
	if (tu_rand(s) % 16 == 0)
		put16(pkt + 20, 0x0001); /* a later fragment */
	put32(pkt + 26, 0x0a090000u + 7 + (uint32_t)(tu_rand(s) % 4));
	put32(pkt + 30, 0x0a010000u + (uint32_t)(tu_rand(s) % (fz_hosts + 4)));
	uint32_t l4 = 14 + 4 * ihl;
	put16(pkt + l4, (uint16_t)(1000 + tu_rand(s) % 5));
	put16(pkt + l4 + 2, (uint16_t)fz_ports[tu_rand(s) % 6] + (tu_rand(s) % 8 == 0));
	*len = l4 + 8 + (uint32_t)(tu_rand(s) % 8);
}

Test(jit, property_shapes_with_repeats, .timeout = 300)
{
	long checks = 0, hits = 0;
	for (uint64_t seed = 1; seed <= 8; seed++) {
		uint64_t s = seed * 0x9E3779B97F4A7C15ull;
		struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
		attach(e);
		int ids[400], n = 0;
		unsigned serial = 0;
		for (int op = 0; op < 560; op++) {
			/* grow to about 200 filters, then shrink back to a few */
			int del = n > 0 &&
			          (op < 360 ? tu_rand(&s) % 5 == 0 : tu_rand(&s) % 5 != 0);
			if (del || n == 400) {
				uint32_t k = (uint32_t)(tu_rand(&s) % (uint32_t)n);
				cr_assert_eq(dpf_delete(e, ids[k]), 0);
				ids[k] = ids[--n];
			} else {
				char src[200];
				shape_filter(&s, serial++, src, sizeof src);
				struct dpf_prog *p = tu_parse(src);
				int id;
				if (dpf_insert(e, &p->filters[0], &id, NULL) == 0)
					ids[n++] = id;
				dpf_prog_free(dpf_host_libc(), p);
			}
			assert_running(e, "shapes");
			for (int k = 0; k < 24; k++) {
				uint8_t pkt[80];
				uint32_t len;
				shape_packet(&s, pkt, &len);
				for (uint32_t l = len;; l--) {
					int a = dpf_classify_interp(e, pkt, l);
					int b = dpf_classify(e, pkt, l);
					int c = dpf_classify_naive(e, pkt, l);
					if (a != b || a != c)
						cr_assert_fail("seed %lu op %d len %u: interp %d x86 "
						               "%d naive %d",
						               (unsigned long)seed, op, l, a, b, c);
					hits += a >= 0;
					checks++;
					if (l == 0 || (k % 4 && l + 10 < len))
						break;
				}
			}
		}
		struct jit_stats st;
		cr_assert(jit_status(e, &st, NULL));
		cr_assert_eq(st.full_builds, 1, "only the attach compiles everything");
		dpf_engine_free(e);
	}
	cr_assert_gt(hits, checks / 10, "%ld of %ld matched", hits, checks);
}

/* Many ports on one host and the same ports on many: one fused dispatch,
 * one shape, one unit, and every flow found at full length, none at one
 * byte less than its port's end. */
Test(jit, fused_key_with_repeated_hosts)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	char src[160];
	for (int h = 0; h < 30; h++)
		for (int p = 0; p < (h == 0 ? 200 : 1 + h % 4); p++) {
			snprintf(src, sizeof src,
			         "filter h%dp%d { ip.dst == 10.2.%d.%d and tcp.dport == %d }",
			         h, p, h, h * 7 % 256, 2000 + p * 3);
			struct dpf_prog *pr = tu_parse(src);
			cr_assert_eq(dpf_insert(e, &pr->filters[0], NULL, NULL), 0, "%s", src);
			dpf_prog_free(dpf_host_libc(), pr);
		}
	attach(e);
	struct jit_stats st;
	jit_status(e, &st, NULL);
	cr_assert_eq(st.units, 1);
	for (int h = 0; h < 30; h++)
		for (int p = 0; p < 201; p++) {
			uint8_t pkt[64] = {0};
			put16(pkt + 12, 0x0800);
			pkt[14] = 0x45;
			pkt[23] = 6;
			put32(pkt + 30, 0x0a020000u | (uint32_t)h << 8 | (uint32_t)(h * 7 % 256));
			put16(pkt + 36, (uint16_t)(2000 + p * 3));
			char name[24];
			snprintf(name, sizeof name, "h%dp%d", h, p);
			int want = dpf_lookup(e, name);
			int in = p < (h == 0 ? 200 : 1 + h % 4);
			cr_assert_eq(want >= 0, in);
			cr_assert_eq(dpf_classify(e, pkt, 38), in ? want : DPF_NOMATCH,
			             "%s", name);
			cr_assert_eq(dpf_classify(e, pkt, 37), DPF_NOMATCH, "%s short", name);
			cr_assert_eq(dpf_classify_interp(e, pkt, 38), dpf_classify(e, pkt, 38));
		}
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
	attach(e);
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
					int a = dpf_classify_interp(e, data, l);
					int b = dpf_classify(e, data, l);
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
	assert_running(e, "corpus");
	dpf_engine_free(e);
}

/* Hash dispatches in the listing: how many, and how many without a probe
 * loop. */
struct hash_notes {
	int hashes, noloop;
};

static void count_hashes(void *ctx, uint64_t addr, const uint8_t *code,
                         size_t len, const struct jit_note *notes, size_t nnotes)
{
	struct hash_notes *h = ctx;
	(void)addr;
	(void)code;
	(void)len;
	for (size_t i = 0; i < nnotes; i++)
		if (strstr(notes[i].text, "hash dispatch") ||
		    strstr(notes[i].text, "fused dispatch"))
			h->hashes++;
		else if (strstr(notes[i].text, "shape"))
			h->noloop += strstr(notes[i].text, "collision-free") != NULL;
}

/* Ten UDP ports whose Fibonacci-hash home slots collide: the back end
 * finds another multiplier under which they don't, so the lookup has no
 * probe loop, and still answers as the interpreter does for every port
 * (in the set or not) at every length. */
Test(jit, collision_free_multiplier_chosen)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	uint16_t ports[10];
	int ids[10];
	for (int k = 0; k < 10; k++) {
		ports[k] = (uint16_t)(k * 40503u + 1031u);
		char src[64];
		snprintf(src, sizeof src, "filter u%d { udp.dport == %u }", k,
		         ports[k]);
		struct dpf_prog *p = tu_parse(src);
		struct dpf_diag d;
		cr_assert_eq(dpf_insert(e, &p->filters[0], &ids[k], &d), 0, "%s",
		             d.msg);
		dpf_prog_free(dpf_host_libc(), p);
	}
	/* the premise: under the Fibonacci constant alone they collide */
	int home[32] = {0}, collide = 0;
	for (int k = 0; k < 10; k++)
		collide |= home[(uint32_t)(ports[k] * 0x9E3779B1u) >> 27]++;
	cr_assert(collide, "the test's ports no longer collide");
	struct dpf_diag d;
	cr_assert_eq(jit_attach(e, jit_mem_posix(), JIT_NOTES, &d), 0, "%s", d.msg);
	struct hash_notes h = {0, 0};
	jit_listing(e, count_hashes, &h);
	cr_assert_eq(h.hashes, 2, "IPv4 and IPv6 port dispatches");
	cr_assert_eq(h.noloop, 2, "both collision-free");
	uint8_t pkt[80];
	for (uint32_t port = 0; port < 65536; port += 7) {
		/* two ports in three arbitrary, one in three of the set */
		uint16_t p16 = (uint16_t)(port % 3 ? port : ports[port % 10]);
		for (int v6 = 0; v6 < 2; v6++) {
			memset(pkt, 0, sizeof pkt);
			pkt[12] = v6 ? 0x86 : 0x08;
			pkt[13] = v6 ? 0xdd : 0x00;
			size_t at;
			if (v6) {
				pkt[14] = 0x60;
				pkt[20] = 17;
				at = 14 + 40;
			} else {
				pkt[14] = 0x45;
				pkt[23] = 17;
				at = 14 + 20;
			}
			pkt[at + 2] = (uint8_t)(p16 >> 8);
			pkt[at + 3] = (uint8_t)p16;
			int expect = -1;
			for (int k = 0; k < 10; k++)
				if (ports[k] == p16)
					expect = ids[k];
			cr_assert_eq(dpf_classify(e, pkt, at + 8), expect, "port %u", p16);
			for (size_t l = 0; l <= at + 8; l++)
				cr_assert_eq(dpf_classify(e, pkt, l),
				             dpf_classify_interp(e, pkt, l), "port %u len %zu",
				             p16, l);
		}
	}
	dpf_engine_free(e);
}
