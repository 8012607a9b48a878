/*
 * ash_gen.h - frames held in memory for bench_ash, and the generated mix
 * (ash_gen.c).
 */
#ifndef DPF_BENCH_ASH_GEN_H
#define DPF_BENCH_ASH_GEN_H

#include <stddef.h>
#include <stdint.h>

struct atrace {
	uint8_t *data;      /* frames back to back */
	uint32_t *off, *len;
	uint32_t n, cap;
	size_t bytes, bcap;
};

/* Append a frame (copied).  Aborts when out of memory. */
void atrace_add(struct atrace *t, const uint8_t *p, uint32_t len);
void atrace_free(struct atrace *t);
/* count frames: seeds 1..nseeds of tests/ash/ash_trace.c's generator,
 * count/nseeds frames each, runts padded to 60 bytes. */
void atrace_gen(struct atrace *t, uint32_t count, uint32_t nseeds);

#endif
