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

#endif
