/*
 * ringbuf.c - a log of TCP connection attempts: for each IPv4 TCP SYN
 * (without ACK) a record of its addresses and ports is reserved in a ring
 * buffer and submitted, or discarded when the destination port is 0 (a
 * scan artefact).  Every other TCP segment's first 16 header bytes go out
 * with bpf_ringbuf_output.  Frames are declined.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct syn_rec {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps"); /* 0 submitted, 1 discarded, 2 output or full */

static __always_inline void bump(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);

	if (v)
		(*v)++;
}

SEC("xdp")
int ringbuf(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *tcp;
	struct syn_rec *r;
	__u8 head[16];

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;

	if (!(tcp->syn && !tcp->ack)) {
		__builtin_memcpy(head, tcp, sizeof head);
		if (bpf_ringbuf_output(&events, head, sizeof head, 0) == 0)
			bump(2);
		return XDP_PASS;
	}
	r = bpf_ringbuf_reserve(&events, sizeof *r, 0);
	if (!r) {
		bump(2);
		return XDP_PASS;
	}
	r->saddr = ip->saddr;
	r->daddr = ip->daddr;
	r->sport = tcp->source;
	r->dport = tcp->dest;
	r->len = data_end - data;
	if (tcp->dest == 0) {
		bpf_ringbuf_discard(r, 0);
		bump(1);
	} else {
		bpf_ringbuf_submit(r, 0);
		bump(0);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
