/*
 * workloads.h - the demultiplexing benchmark's workloads: a filter set
 * written twice (DPF text, and one tcpdump expression per filter for the
 * libpcap peer), a trace held in memory, and the hand-written C
 * classifier that is the limit for that set.
 *
 *   tcp-flows  N filters `ip.dst == A and tcp.dport == P`
 *   udp-ports  N filters `udp.dport == P` (IPv4 and IPv6, as tcpdump's
 *              `udp dst port P`), P spread over the port space
 *   mixed      a site's set: ARP, ICMP, DNS, NTP, DHCP, several TCP
 *              services, IPv6, VLANs, a management net, TCP SYNs; every
 *              filter its own priority; a trace with a realistic mix in
 *              which more than 10% of packets match nothing
 */
#ifndef DPF_BENCH_WORKLOADS_H
#define DPF_BENCH_WORKLOADS_H

#include "bench/common.h"

enum { W_FLOWS, W_UDP, W_MIXED, NWORK };

struct workload {
	int kind;
	const char *name;
	uint32_t n;       /* filters */
	char *dpf;        /* DPF text */
	size_t dpflen;
	char **tcpdump;   /* n expressions, filter order */
	struct trace trace;
	void *hw;         /* the hand-written classifier's tables */
};

/* Build workload kind with n filters (mixed: n is fixed, ignored) and a
 * trace of npk packets. */
void workload_make(struct workload *w, int kind, uint32_t n, uint32_t npk);
/* One more filter for the insert measurements (k = 0, 1, ...): its DPF
 * text and tcpdump expression, distinct from the set's. */
void workload_extra(const struct workload *w, uint32_t k, char *dpf,
                    size_t dcap, char *expr, size_t ecap);
/* Build the hand-written classifier once the filters are installed: ids[i]
 * is filter i's engine id. */
void workload_hand(struct workload *w, const int32_t *ids);
hand_fn workload_hand_fn(const struct workload *w);
void workload_free(struct workload *w);

/*
 * The shape table: flow sets as users bring them, each at N filters.
 *
 *   flows-distinct  `ip.dst == A and tcp.dport == P`, A random in
 *                   10.0.0.0/8, every A once
 *   flows-repeat    the same with repeated destinations: a host carries
 *                   k ports, k skewed (P(k) ~ 1/k^2, k <= 64), as
 *                   servers do
 *   5-tuple         `ip.src == S and ip.dst == D and tcp.sport == X and
 *                   tcp.dport == Y`: clients at random addresses to the
 *                   servers of flows-repeat
 * Traffic: 90% packets of the set's flows, drawn uniformly or Zipf
 * (s = 1.1, ranks over a random permutation of the flows), 10%
 * unmatched background (TCP to a host of the set on another port or from
 * another client, TCP outside 10/8, UDP to a flow's host and port, ARP).
 * Every set and trace is fixed by its seed.  The hand-written limit:
 * IPv4, not a later fragment, TCP checked once, then one open-addressing
 * lookup on the fused key ((dst, dport), or the 5-tuple).
 */
enum { SH_DISTINCT, SH_REPEAT, SH_5TUPLE, NSHAPE };
enum { TR_UNIFORM, TR_ZIPF, NTRAFFIC };

struct hw_fused {
	struct hw_fent *t;
	uint32_t mask;
};

struct shape_set {
	int shape;
	const char *name;
	uint32_t n, hosts; /* filters, distinct destinations */
	char *dpf;
	size_t dpflen;
	uint32_t *src, *dst; /* per flow */
	uint16_t *sport, *dport;
	struct trace trace;
	struct hw_fused hw;
};

extern const char *const shape_name[NSHAPE];
extern const char *const traffic_name[NTRAFFIC];

void shape_make(struct shape_set *w, int shape, uint32_t n, int traffic,
                uint32_t npk, uint64_t seed);
/* The hand-written classifier once the filters are installed (ids[i]:
 * filter i's engine id); its table's bytes. */
size_t shape_hand(struct shape_set *w, const int32_t *ids);
hand_fn shape_hand_fn(const struct shape_set *w);
void shape_free(struct shape_set *w);

#endif
