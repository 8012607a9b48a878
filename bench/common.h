/*
 * common.h - what the measuring programs in bench/ share: traces held in
 * memory, the TCP-flow workload and its hand-written classifier, timing
 * and a description of the machine.
 */
#ifndef DPF_BENCH_COMMON_H
#define DPF_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dpf/dpf.h"

/* Packets held in memory, each at most SLOT bytes (every field any
 * workload classifies lies in the first SLOT bytes). */
#define BENCH_SLOT 128

struct trace {
	uint8_t *data;
	uint32_t *off, *len;
	uint32_t n;
};

void trace_alloc(struct trace *t, uint32_t n);
/* Append frame bytes (cut to BENCH_SLOT) as packet i. */
void trace_put(struct trace *t, uint32_t i, const uint8_t *frame, size_t len);
void trace_free(struct trace *t);

uint64_t now_ns(void);
int cmp_u64(const void *a, const void *b);
int cmp_double(const void *a, const void *b);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);

/* Median, min and max of n samples (sorted in place). */
struct stat3 {
	double med, min, max;
};
struct stat3 stat3_of(double *v, uint32_t n);
/* Median and 99th percentile of n samples in ns, as microseconds. */
struct lat {
	double med, p99;
};
struct lat lat_of(uint64_t *ns, uint32_t n);

/* Parse DPF text; exits with the diagnostic on error. */
struct dpf_prog *parse_or_die(const char *name, const char *src, size_t len);
/* Insert every filter; ids[i] gets filter i's engine id (ids may be NULL). */
void install(struct dpf_engine *e, const struct dpf_prog *prog, int32_t *ids);

/* "CPU model; compiler; libraries" for the report. */
void machine_line(char *buf, size_t cap);

/* ---- timing our engines ---- */

/* A hand-written classifier: its tables, a frame, its length. */
typedef int (*hand_fn)(const void *hw, const uint8_t *p, size_t len);

enum bench_engine { BENCH_INTERP, BENCH_X86, BENCH_HAND };

/* Classify every packet of t once with one engine (the interpreter of e,
 * the generated code fn, or hf on hw), answers into res. */
void bench_pass(enum bench_engine which, const struct dpf_engine *e,
                dpf_exec_fn fn, hand_fn hf, const void *hw,
                const struct trace *t, int32_t *res);
/* A warm-up pass, then `passes` timed ones: ns/packet, median and
 * min-max. */
struct stat3 bench_time(enum bench_engine which, const struct dpf_engine *e,
                        dpf_exec_fn fn, hand_fn hf, const void *hw,
                        const struct trace *t, int32_t *res, uint32_t passes);

/* A who-has ARP request (10.9.0.1 asking for 10.0.0.1): the noise every
 * workload's trace mixes in.  Returns its length. */
size_t noise_arp(uint8_t *buf);

/* ---- the TCP-flow workload: ip.dst == A and tcp.dport == P ---- */

uint32_t flow_dst(uint32_t k); /* 10.0.0.1 + k */
uint16_t flow_port(uint32_t k);
/* Filters f<first> .. f<first+n-1> as DPF text (malloc'd, *len set). */
char *flow_src(uint32_t n, uint32_t first, size_t *len);
/* 90% packets of the n flows, uniformly; 10% that match none (other
 * hosts, UDP, ARP). */
void flow_trace(struct trace *t, uint32_t nflows, uint32_t npk, uint64_t seed);

/* The hand-written limit for flows: IPv4, not a later fragment, TCP
 * checked once, then one open-addressing lookup on (dst, dport). */
struct hw_flows {
	struct hw_ent *t;
	uint32_t mask;
};
void hw_flows_build(struct hw_flows *h, uint32_t n, const int32_t *ids);
void hw_flows_free(struct hw_flows *h);
int hw_flows_classify(const void *hw, const uint8_t *p, size_t len);

static inline uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

#endif
