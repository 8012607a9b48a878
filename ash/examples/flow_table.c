/*
 * flow_table.c - per-flow accounting: a HASH keyed by the IPv4 5-tuple
 * holding packets and bytes.  With 64 entries the table fills up on a
 * busy trace; new flows are then not recorded and counted in `overflow`
 * (an ARRAY of one).  Frames are declined.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} overflow SEC(".maps");

SEC("xdp")
int flow_table(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *l4;
	struct flow key = {};
	struct flow_stats *st, init;
	__u32 zero = 0;
	__u64 *ov;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5)
		return XDP_PASS;
	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.proto = ip->protocol;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		/* ports sit at the same place in TCP and UDP */
		l4 = (void *)(ip + 1);
		if ((void *)(l4 + 1) > data_end)
			return XDP_PASS;
		key.sport = l4->source;
		key.dport = l4->dest;
	}

	st = bpf_map_lookup_elem(&flows, &key);
	if (st) {
		st->packets++;
		st->bytes += data_end - data;
		return XDP_PASS;
	}
	init.packets = 1;
	init.bytes = data_end - data;
	if (bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST) != 0) {
		ov = bpf_map_lookup_elem(&overflow, &zero);
		if (ov)
			(*ov)++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
