/*
 * lru_flows.c - the most recent flows: an LRU_HASH of 16 entries keyed by
 * (source address, destination address, protocol) counting packets.  A
 * busy trace evicts the least recently used flows.  Frames are declined.
 *
 * Linux's LRU is approximate (free entries sit on per-CPU lists, so it may
 * evict before the map is full); DPF's evicts exactly the least recently
 * used entry.  The Linux differential test therefore compares this map's
 * size bound, not its contents:
 */
// linux-diff-ignore-map: recent
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct pair {
	__be32 saddr;
	__be32 daddr;
	__u32 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, struct pair);
	__type(value, __u64);
} recent SEC(".maps");

SEC("xdp")
int lru_flows(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct pair key = {};
	__u64 one = 1, *n;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.proto = ip->protocol;
	n = bpf_map_lookup_elem(&recent, &key);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&recent, &key, &one, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
