/*
 * fuzz_common.h - helpers shared by the libFuzzer harnesses.
 *
 * Interface (all static inline, so a harness that uses only some of them
 * compiles without warnings):
 *   fz_fail()            print a message and abort(): libFuzzer records the
 *                        input as a crash.
 *   fz_reference()       classify by hand from the installed (canonical)
 *                        filters and dpf_path_match(); an independent check
 *                        of dpf_classify_naive and of the ambiguity rule.
 *   fz_compare()         dpf_classify, dpf_classify_naive, fz_reference and
 *                        the x86 JIT
 *                        on one packet at (nearly) every length, each prefix
 *                        placed at the very end of an exact-size heap block
 *                        so that ASan sees any read past the length.
 *   fz_synth()           write a packet that satisfies one path as far as
 *                        the atoms allow, over a background pattern: random
 *                        bytes almost never match a filter, these do.
 *   fz_check_engine()    dpf_check(), aborting on a broken invariant.
 */
#ifndef DPF_FUZZ_COMMON_H
#define DPF_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpf/dpf.h"
#include "jit/jit.h"

#define FZ_PKT_MAX 1600 /* longest synthesised packet */

/* The harness's own loops are not what is being fuzzed: keep their
 * branches out of the coverage map, so they neither slow every run with
 * comparison tracing nor make the corpus grow on harness paths. */
#if defined(__clang__)
#define FZ_NOCOV __attribute__((no_sanitize("coverage")))
#else
#define FZ_NOCOV
#endif

static inline void fz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static inline void fz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

static inline void fz_hex(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len && i < 96; i++)
		fprintf(stderr, "%02x%s", p[i], (i % 16 == 15) ? "\n" : " ");
	fprintf(stderr, "\n");
}

static inline void fz_check_engine(const struct dpf_engine *e, const char *when)
{
	struct dpf_diag d;

	memset(&d, 0, sizeof d);
	if (dpf_check(e, &d) != 0)
		fz_fail("dpf_check failed %s: %s", when, d.msg);
}

/*
 * The demultiplexing rule computed from the installed filters alone:
 * highest priority, then the highest specificity of a matching path.  Two
 * different filters tying on both means the engine accepted an ambiguous
 * pair, which it promises to refuse: that is a failure too.
 */
FZ_NOCOV
static inline int fz_reference(const struct dpf_engine *e, const uint8_t *pkt,
                                size_t len)
{
	int best = DPF_NOMATCH, lim = dpf_id_limit(e);
	uint32_t best_prio = 0, best_spec = 0;

	for (int id = 0; id < lim; id++) {
		const struct dpf_filter *f = dpf_filter_get(e, id);
		uint32_t spec = 0;
		int hit = 0;

		if (!f)
			continue;
		for (uint32_t i = 0; i < f->npaths; i++) {
			const struct dpf_path *p = &f->paths[i];
			if (dpf_path_match(p, pkt, len)) {
				uint32_t s = dpf_path_specificity(p);
				if (!hit || s > spec)
					spec = s;
				hit = 1;
			}
		}
		if (!hit)
			continue;
		if (best == DPF_NOMATCH || f->priority > best_prio ||
		    (f->priority == best_prio && spec > best_spec)) {
			best = id;
			best_prio = f->priority;
			best_spec = spec;
		} else if (f->priority == best_prio && spec == best_spec) {
			fz_hex(pkt, len);
			fz_fail("filters %d and %d both match with priority %u "
			        "and specificity %u (len %zu): the engine accepted "
			        "an ambiguous pair", best, id, best_prio, spec, len);
		}
	}
	return best;
}

/*
 * Compare the engines on pkt[0..len) and on every shorter prefix up to
 * FZ_TRUNC_ALL bytes; past that, on every 7th length and the last few, to
 * keep long synthesised packets affordable.
 */
#define FZ_TRUNC_ALL 256
FZ_NOCOV
static inline void fz_compare(const struct dpf_engine *e, const uint8_t *pkt,
                              size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct dpf_diag jd;

	if (!buf)
		abort();
	if (!jit_status(e, NULL, &jd))
		fz_fail("x86 back end not running: %s", jd.msg);
	for (size_t l = 0; l <= len; l++) {
		if (l > FZ_TRUNC_ALL && l + 4 < len && l % 7 != 0)
			continue;
		uint8_t *p = buf + len - l;
		memcpy(p, pkt, l);
		int t = dpf_classify_interp(e, p, l);
		int n = dpf_classify_naive(e, p, l);
		int r = fz_reference(e, p, l);
		int x = dpf_classify(e, p, l);
		if (t != n || n != r || x != t) {
			fz_hex(p, l);
			fz_fail("classify mismatch at len %zu of %zu: trie %d, "
			        "naive %d, reference %d, x86 %d", l, len, t, n, r, x);
		}
	}
	free(buf);
}

/* A new engine with the x86 back end attached, so every insert and
 * delete goes through its incremental update. */
FZ_NOCOV
static inline struct dpf_engine *fz_engine(const struct dpf_host *host)
{
	struct dpf_diag d;
	struct dpf_engine *e = dpf_engine_new(host);
	if (!e)
		abort();
	if (jit_attach(e, jit_mem_posix(), 0, &d) != 0)
		fz_fail("x86 back end: %s", d.msg);
	return e;
}

FZ_NOCOV
static inline uint32_t fz_load(const uint8_t *p, size_t len, size_t off,
                               unsigned width, int *ok)
{
	uint32_t v = 0;

	if (off + width > len) {
		*ok = 0;
		return 0;
	}
	for (unsigned i = 0; i < width; i++)
		v = (v << 8) | p[off + i];
	return v;
}

/*
 * Make pkt (capacity FZ_PKT_MAX, already holding a background pattern)
 * satisfy the atoms of one path in order: each CMP writes its value under
 * its mask, each SHIFT reads what is there and moves the base.  A later
 * atom may undo an earlier one; that only yields a less useful packet.
 * Returns the packet length: just past the last byte an atom touched.
 */
FZ_NOCOV
static inline size_t fz_synth(const struct dpf_path *path, uint8_t *pkt)
{
	size_t base = 0, end = 0;

	for (uint32_t i = 0; i < path->natoms; i++) {
		const struct dpf_atom *a = &path->atoms[i];
		size_t off = (a->base == DPF_BASE_REL ? base : 0) + a->offset;
		unsigned w = a->width;
		int ok = 1;

		if (w != 1 && w != 2 && w != 4)
			return end;
		if (off + w > FZ_PKT_MAX)
			return end;
		if (off + w > end)
			end = off + w;
		if (a->kind == DPF_ATOM_CMP) {
			uint32_t old = fz_load(pkt, FZ_PKT_MAX, off, w, &ok);
			uint32_t v = (old & ~a->mask) | (a->value & a->mask);
			for (unsigned b = 0; b < w; b++)
				pkt[off + b] = (uint8_t)(v >> (8 * (w - 1 - b)));
		} else {
			uint32_t v = fz_load(pkt, FZ_PKT_MAX, off, w, &ok);
			base += (size_t)(v & a->mask) << (a->shift & 31);
			if (base > FZ_PKT_MAX)
				return end;
		}
	}
	return end;
}

/* Background for synthesised packets: the seed bytes repeated. */
FZ_NOCOV
static inline void fz_background(uint8_t *pkt, const uint8_t *seed, size_t n)
{
	for (size_t i = 0; i < FZ_PKT_MAX; i++)
		pkt[i] = n ? seed[i % n] : (uint8_t)(i * 37 + 11);
}

#endif
