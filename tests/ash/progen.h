/*
 * progen.h - random XDP handler programs that pass the verifier by
 * construction, for differential testing of the engines (ash_gendiff,
 * fuzz_ash_gen).
 *
 * A program is a sequence of blocks, each built so that the verifier
 * accepts it whatever came before: ALU32/ALU64 with K and X operands
 * (division and modulo by zero and -1, INT_MIN operands, shifts, the v4
 * sign-extending moves and loads, sdiv/smod, byte swaps), 64-bit
 * constants, forward conditional jumps of all eleven conditions (JMP and
 * JMP32, K and X) around nested blocks, if/else with ja and ja32,
 * bounded loops (a counter and a small constant bound), stack stores and
 * loads (read only after written), packet and metadata reads and writes
 * behind a data_end (data) check with work on both branches, array and
 * hash lookups (null-checked, then loads, stores and every atomic
 * operation on the value, 32 and 64 bit, at constant offsets or a
 * bounded variable one), update and delete, direct
 * global-data access, bpf_csum_diff, bpf_xdp_adjust_head/tail/meta,
 * bpf_xdp_load_bytes/store_bytes, bpf_redirect (each helper now and
 * then through callx with the number in r0), calls of subprograms
 * (scalar arguments and a pointer into the caller's stack) and bpf_loop
 * with a callback.  Only deterministic helpers are used (no ktime, no
 * prandom, no CPU number), so every engine, and Linux, must agree.
 * Pointers live only inside the block that made them: none is stored,
 * returned or kept across a helper call.  The return value is an XDP
 * action 0..4 (masked, clamped, constant or bpf_redirect's).
 *
 * The image has a fixed map table (PG_MAP_*); map references are image
 * indexes (lddw src 1, or src 2 for the global-data value).
 *
 * Randomness comes from a struct pg_rand: a 64-bit seed (splitmix64), or
 * a byte string read in order (libFuzzer's input; zeros once used up, so
 * generation always ends).  The same seed or bytes give the same image.
 */
#ifndef DPF_TESTS_PROGEN_H
#define DPF_TESTS_PROGEN_H

#include <stddef.h>
#include <stdint.h>

#include "ash/ash.h"

enum {
	PG_MAP_ARR = 0,  /* ARRAY, 4-byte key, 32-byte value, 8 entries */
	PG_MAP_TAB = 1,  /* HASH, 8-byte key, 16-byte value, 16 entries */
	PG_MAP_DATA = 2, /* ".data": one 64-byte value, from image data */
	PG_NMAPS = 3,
};

struct pg_rand {
	uint64_t s;
	const uint8_t *bytes; /* NULL: splitmix64 from s */
	size_t n, pos;
};

void pg_rand_seed(struct pg_rand *r, uint64_t seed);
void pg_rand_bytes(struct pg_rand *r, const uint8_t *bytes, size_t n);
uint64_t pg_rand64(struct pg_rand *r);
/* Uniform-ish in [0, n), n > 0. */
uint32_t pg_below(struct pg_rand *r, uint32_t n);

/* The seed of program `index` of stream `seed`. */
uint64_t pg_seed_of(uint64_t seed, uint64_t index);

struct pg_opts {
	uint32_t blocks;   /* top-level blocks of the main function;
	                      0: 3..24 chosen by the generator */
	uint32_t max_subs; /* subprograms (callees and callbacks), <= 4 */
};

/* Generate a program into img (every array malloc'd; release with
 * pg_free).  0, or -1 when out of memory. */
int pg_generate(struct pg_rand *r, const struct pg_opts *o,
                struct ash_image *img);
void pg_free(struct ash_image *img);

/* Compare the contents of every map of two runtimes of the same image:
 * arrays by index, hashes by key (in key order), ring buffers by their
 * submitted records (drained from both).  0 when equal; else 1 with the
 * map and the first difference in why.  -1 when out of memory. */
struct ash_prog;
int pg_maps_differ(struct ash_prog *a, struct ash_prog *b, char *why,
                   size_t cap);

#endif
