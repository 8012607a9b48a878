/*
 * test_concurrency.c - readers classify while a writer inserts and deletes.
 *
 * Stable filters are installed once and never touched: a packet for a
 * stable flow must always get that filter, whatever the writer does.  The
 * writer churns transient filters (enough of them to make tables grow,
 * shrink and demote) and a high-priority filter that steals one stable
 * flow while installed: that packet must get exactly one of the two.
 * Transient packets get NOMATCH or some transient filter, never a stable
 * one.  Under ASan this also checks that reclamation frees nothing a
 * reader still holds.  Run with the interpreter and with the x86 back
 * end (whose units and jump tables are retired the same way).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "dpf/dpf.h"
#include "gen_ir.h"
#include "jit/jit.h"
#include "testutil.h"

#define NSTABLE 64
#define NTRANS 400
#define NREADERS 3

struct shared {
	struct dpf_engine *e;
	int stable[NSTABLE];
	int thief;                /* id the stealer had last time, or -1 */
	_Atomic int stop;
	_Atomic long classified;
	_Atomic int bad;
	char why[256];
};

/* flow i: ip.dst == 10.1.(i/256).(i%256) and u16[36] == 1000 + i%7 */
static void flow_filter(struct dpf_filter *f, struct dpf_atom *a,
                        struct dpf_path *p, const char *name, uint32_t dst,
                        uint32_t port, uint32_t prio)
{
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	a[0] = gi_cmp(0, 12, 2, 0xffff, 0x0800);
	a[1] = gi_cmp(0, 30, 4, 0xffffffff, dst);
	a[2] = gi_cmp(0, 36, 2, 0xffff, port);
	p->natoms = 3;
	p->atoms = a;
	f->npaths = 1;
	f->paths = p;
	f->priority = prio;
}

static void frame(uint8_t *b, uint32_t dst, uint32_t port)
{
	memset(b, 0, 64);
	put16(b + 12, 0x0800);
	put32(b + 30, dst);
	put16(b + 36, port);
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	struct dpf_reader *r = dpf_reader_new(sh->e);
	cr_assert(r);
	uint64_t s = (uint64_t)(uintptr_t)pthread_self() | 1;
	uint8_t b[64];
	while (!atomic_load(&sh->stop)) {
		dpf_read_begin(r);
		for (int k = 0; k < 256; k++) {
			uint32_t i = gi_pick(&s, NSTABLE);
			frame(b, 0x0a010000 + i, 1000 + i % 7);
			int got = dpf_classify(sh->e, b, 64);
			int ok = got == sh->stable[i] || (i == 0 && got >= 0);
			uint32_t t = gi_pick(&s, NTRANS);
			frame(b, 0x0a020000 + t, 2000 + t % 5);
			int got2 = dpf_classify(sh->e, b, 64);
			for (int j = 0; j < NSTABLE && ok; j++)
				ok = got2 != sh->stable[j];
			if (!ok && !atomic_exchange(&sh->bad, 1))
				snprintf(sh->why, sizeof sh->why,
				         "stable %u got %d (want %d); transient got %d", i,
				         got, sh->stable[i], got2);
		}
		dpf_read_end(r);
		atomic_fetch_add(&sh->classified, 512);
	}
	dpf_reader_free(r);
	return NULL;
}

static void churn_under_readers(int x86)
{
	struct shared sh = {.e = dpf_engine_new(dpf_host_libc()), .thief = -1};
	if (x86) {
		struct dpf_diag d;
		cr_assert_eq(jit_attach(sh.e, jit_mem_posix(), 0, &d), 0, "%s", d.msg);
	}
	struct dpf_filter f;
	struct dpf_atom a[3];
	struct dpf_path p;
	char name[32];
	for (int i = 0; i < NSTABLE; i++) {
		snprintf(name, sizeof name, "s%d", i);
		flow_filter(&f, a, &p, name, 0x0a010000 + (uint32_t)i,
		            1000 + (uint32_t)i % 7, 1);
		cr_assert_eq(dpf_insert(sh.e, &f, &sh.stable[i], NULL), 0);
	}
	pthread_t th[NREADERS];
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader, &sh);

	int trans[NTRANS];
	for (int i = 0; i < NTRANS; i++)
		trans[i] = -1;
	uint64_t s = 7;
	int rounds = 0;
	/* At least 6,000 updates, and on until the readers have classified
	 * enough packets to have raced with them (updates can take well
	 * under a microsecond). */
	while ((rounds < 6000 || atomic_load(&sh.classified) < 20000) &&
	       rounds < 50000000 && !atomic_load(&sh.bad)) {
		uint32_t t = gi_pick(&s, NTRANS);
		if (trans[t] >= 0) {
			cr_assert_eq(dpf_delete(sh.e, trans[t]), 0);
			trans[t] = -1;
		} else {
			snprintf(name, sizeof name, "t%u", t);
			flow_filter(&f, a, &p, name, 0x0a020000 + t, 2000 + t % 5, 0);
			cr_assert_eq(dpf_insert(sh.e, &f, &trans[t], NULL), 0);
		}
		if (rounds % 64 == 0) {
			/* steal stable flow 0 with a two-path, higher-priority filter */
			if (sh.thief >= 0) {
				cr_assert_eq(dpf_delete(sh.e, sh.thief), 0);
				sh.thief = -1;
			} else {
				struct dpf_atom b2[3];
				struct dpf_path two[2];
				flow_filter(&f, a, &two[0], "thief", 0x0a010000, 1000, 9);
				flow_filter(&f, b2, &two[1], "thief", 0x0a010000, 1000, 9);
				b2[2] = gi_cmp(0, 36, 2, 0xff00, 1000 & 0xff00);
				f.paths = two;
				f.npaths = 2;
				cr_assert_eq(dpf_insert(sh.e, &f, &sh.thief, NULL), 0);
			}
		}
		rounds++;
	}
	atomic_store(&sh.stop, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&sh.bad), 0, "%s", sh.why);
	cr_assert_gt(atomic_load(&sh.classified), 10000,
	             "readers classified only %ld packets",
	             atomic_load(&sh.classified));
	struct dpf_diag d;
	cr_assert_eq(dpf_check(sh.e, &d), 0, "%s", d.msg);
	if (x86) {
		struct jit_stats st;
		cr_assert(jit_status(sh.e, &st, &d), "%s", d.msg);
		cr_assert_gt(st.slot_updates, 1000, "data-only updates: %lu",
		             (unsigned long)st.slot_updates);
	}
	dpf_engine_free(sh.e);
}

Test(concurrency, readers_never_see_partial_updates, .timeout = 120)
{
	churn_under_readers(0);
}

/* The same with the x86 back end: readers run the generated code while
 * the writer regenerates units and patches jump tables. */
Test(concurrency, x86_readers_never_see_partial_updates, .timeout = 120)
{
	churn_under_readers(1);
}

Test(concurrency, reader_slots_are_bounded)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	struct dpf_reader *r[DPF_MAX_READERS];
	for (int i = 0; i < DPF_MAX_READERS; i++)
		cr_assert(r[i] = dpf_reader_new(e));
	cr_assert_null(dpf_reader_new(e));
	dpf_reader_free(r[5]);
	cr_assert(r[5] = dpf_reader_new(e));
	for (int i = 0; i < DPF_MAX_READERS; i++)
		dpf_reader_free(r[i]);
	dpf_engine_free(e);
}
