/*
 * ash_gen.h - the handler trace generator (ash_gen.c), shared by
 * bench_ash (frames held in memory) and tests/ash/ash_trace (a pcap).
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

#define AGEN_POOL 24
#define AGEN_FRAME_MAX 2048 /* bytes agen_next may write */

struct agen_flow {
	uint8_t src_mac[6], dst_mac[6];
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t proto;
};

/* One seed's deterministic stream of frames. */
struct agen {
	uint64_t s;
	struct agen_flow pool[AGEN_POOL];
};

void agen_init(struct agen *g, uint64_t seed);
/* The next frame into b (AGEN_FRAME_MAX bytes): its length, 14..1514;
 * cut-off IPv4 "runts" are 14..60 bytes.  Same seed, same frames. */
size_t agen_next(struct agen *g, uint8_t *b);

/* Append a frame (copied).  Aborts when out of memory. */
void atrace_add(struct atrace *t, const uint8_t *p, uint32_t len);
void atrace_free(struct atrace *t);
/* count frames: seeds 1..nseeds of tests/ash/ash_trace.c's generator,
 * count/nseeds frames each, runts padded to 60 bytes. */
void atrace_gen(struct atrace *t, uint32_t count, uint32_t nseeds);

#endif
