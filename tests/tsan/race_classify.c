/*
 * race_classify.c - readers classify while a writer inserts and deletes:
 * a plain C program (no test framework) so that it runs under
 * ThreadSanitizer, which Criterion's runner does not start under.
 *
 *   race_classify [SECONDS]   each phase runs about SECONDS (default 3)
 *
 * Phases: the interpreter, then the x86 back end attached (readers run
 * generated code while units are regenerated and jump tables patched).
 * In each, NREADERS threads classify inside dpf_read_begin/end and the
 * writer churns three kinds of filter:
 *   - flows on (ip.dst, u16[36]) in a table that grows, shrinks, demotes;
 *   - filters on distinct raw fields u8[64 + k], siblings of the root,
 *     so the root's body grows in place past its index threshold and is
 *     copied on deletes;
 *   - a higher-priority two-path filter that steals one stable flow.
 * Stable flows, installed first and never touched, must always classify
 * to their filter (the stolen one to it or the thief); a transient flow
 * never to a stable filter.  A broken expectation exits 1; a data race is
 * ThreadSanitizer's report (and its exit status, 66, with halt_on_error).
 * Built and run by `make tsan`.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpf/dpf.h"
#include "jit/jit.h"

#define NSTABLE 64
#define NTRANS 256
#define NFIELDS 48
#define NREADERS 3

struct shared {
	struct dpf_engine *e;
	int stable[NSTABLE];
	_Atomic int stop;
	_Atomic long classified;
	_Atomic int bad;
	char why[256];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static struct dpf_atom cmp(uint16_t off, uint8_t width, uint32_t mask,
                           uint32_t value)
{
	struct dpf_atom a = {DPF_ATOM_CMP, DPF_BASE_PKT, width, 0, off, mask, value};
	return a;
}

/* flow: ethertype IPv4, ip.dst == dst, u16[36] == port */
static void flow(struct dpf_filter *f, struct dpf_atom *a, struct dpf_path *p,
                 const char *name, uint32_t dst, uint32_t port, uint32_t prio)
{
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	a[0] = cmp(12, 2, 0xffff, 0x0800);
	a[1] = cmp(30, 4, 0xffffffff, dst);
	a[2] = cmp(36, 2, 0xffff, port);
	p->natoms = 3;
	p->atoms = a;
	f->npaths = 1;
	f->paths = p;
	f->priority = prio;
}

static void frame(uint8_t *b, uint32_t dst, uint32_t port)
{
	memset(b, 0, 128);
	put16(b + 12, 0x0800);
	put32(b + 30, dst);
	put16(b + 36, port);
}

static void fail(struct shared *sh, const char *why)
{
	if (!atomic_exchange(&sh->bad, 1))
		snprintf(sh->why, sizeof sh->why, "%s", why);
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	struct dpf_reader *r = dpf_reader_new(sh->e);
	if (!r) {
		fail(sh, "no reader slot");
		return NULL;
	}
	uint64_t s = (uint64_t)(uintptr_t)&r | 1;
	uint8_t b[128];
	char why[160];
	while (!atomic_load(&sh->stop)) {
		dpf_read_begin(r);
		for (int k = 0; k < 64; k++) {
			uint32_t i = (uint32_t)(rnd(&s) % NSTABLE);
			frame(b, 0x0a010000 + i, 1000 + i % 7);
			int got = dpf_classify(sh->e, b, sizeof b);
			if (got != sh->stable[i] && !(i == 0 && got >= 0)) {
				snprintf(why, sizeof why, "stable flow %u: got %d, want %d",
				         i, got, sh->stable[i]);
				fail(sh, why);
			}
			uint32_t t = (uint32_t)(rnd(&s) % NTRANS);
			frame(b, 0x0a020000 + t, 2000 + t % 5);
			b[64 + t % NFIELDS] = 1; /* may match a field filter too */
			int got2 = dpf_classify(sh->e, b, sizeof b);
			for (int j = 0; j < NSTABLE; j++)
				if (got2 >= 0 && got2 == sh->stable[j]) {
					snprintf(why, sizeof why,
					         "transient flow %u got stable filter %d", t, got2);
					fail(sh, why);
				}
		}
		dpf_read_end(r);
		atomic_fetch_add(&sh->classified, 128);
	}
	dpf_reader_free(r);
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int insert(struct shared *sh, const struct dpf_filter *f, int *id)
{
	struct dpf_diag d;
	if (dpf_insert(sh->e, f, id, &d) != DPF_OK) {
		fprintf(stderr, "race_classify: insert %s: %s\n", f->name, d.msg);
		fail(sh, "an insert was refused");
		return -1;
	}
	return 0;
}

static int run(int x86, double seconds)
{
	struct shared sh;
	memset(&sh, 0, sizeof sh);
	sh.e = dpf_engine_new(dpf_host_libc());
	if (!sh.e)
		return 1;
	struct dpf_diag d;
	if (x86 && jit_attach(sh.e, jit_mem_posix(), 0, &d) != 0) {
		fprintf(stderr, "race_classify: x86 back end: %s\n", d.msg);
		return 1;
	}
	struct dpf_filter f;
	struct dpf_atom a[3], b2[3];
	struct dpf_path p, two[2];
	char name[32];
	for (int i = 0; i < NSTABLE; i++) {
		snprintf(name, sizeof name, "s%d", i);
		flow(&f, a, &p, name, 0x0a010000 + (uint32_t)i, 1000 + (uint32_t)i % 7,
		     1);
		if (insert(&sh, &f, &sh.stable[i]))
			return 1;
	}
	pthread_t th[NREADERS];
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader, &sh);

	int trans[NTRANS], field[NFIELDS], thief = -1;
	for (int i = 0; i < NTRANS; i++)
		trans[i] = -1;
	for (int i = 0; i < NFIELDS; i++)
		field[i] = -1;
	uint64_t s = 7;
	long updates = 0;
	double end = now() + seconds;
	while ((now() < end || atomic_load(&sh.classified) < 20000) &&
	       !atomic_load(&sh.bad)) {
		uint32_t t = (uint32_t)(rnd(&s) % NTRANS);
		if (trans[t] >= 0) {
			dpf_delete(sh.e, trans[t]);
			trans[t] = -1;
		} else {
			snprintf(name, sizeof name, "t%u", t);
			flow(&f, a, &p, name, 0x0a020000 + t, 2000 + t % 5, 0);
			if (insert(&sh, &f, &trans[t]))
				break;
		}
		uint32_t k = (uint32_t)(rnd(&s) % NFIELDS);
		if (field[k] >= 0) {
			dpf_delete(sh.e, field[k]);
			field[k] = -1;
		} else {
			/* own priority: filters on distinct fields are not ambiguous */
			memset(&f, 0, sizeof f);
			snprintf(f.name, sizeof f.name, "u%u", k);
			a[0] = cmp((uint16_t)(64 + k), 1, 0xff, 1);
			p.natoms = 1;
			p.atoms = a;
			f.npaths = 1;
			f.paths = &p;
			f.priority = 100 + k;
			if (insert(&sh, &f, &field[k]))
				break;
		}
		if (updates % 64 == 0) {
			/* steal stable flow 0 with a two-path, higher-priority filter */
			if (thief >= 0) {
				dpf_delete(sh.e, thief);
				thief = -1;
			} else {
				flow(&f, a, &two[0], "thief", 0x0a010000, 1000, 9);
				flow(&f, b2, &two[1], "thief", 0x0a010000, 1000, 9);
				b2[2] = cmp(36, 2, 0xff00, 1000 & 0xff00);
				f.paths = two;
				f.npaths = 2;
				if (insert(&sh, &f, &thief))
					break;
			}
		}
		updates += 2;
	}
	atomic_store(&sh.stop, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	int rc = 0;
	if (atomic_load(&sh.bad)) {
		fprintf(stderr, "race_classify: %s: %s\n", x86 ? "x86" : "interp",
		        sh.why);
		rc = 1;
	} else if (dpf_check(sh.e, &d) != 0) {
		fprintf(stderr, "race_classify: trie check: %s\n", d.msg);
		rc = 1;
	} else if (x86 && !jit_status(sh.e, NULL, &d)) {
		fprintf(stderr, "race_classify: x86 back end stopped: %s\n", d.msg);
		rc = 1;
	}
	printf("race_classify: %-6s %ld updates, %ld packets classified%s\n",
	       x86 ? "x86" : "interp", updates, atomic_load(&sh.classified),
	       rc ? ", FAILED" : "");
	dpf_engine_free(sh.e);
	return rc;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	if (argc > 2 || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "usage: race_classify [SECONDS]\n");
		return 2;
	}
	int rc = run(0, seconds);
	rc |= run(1, seconds);
	return rc;
}
