/*
 * counters.c - per-class packet and byte counters: an ARRAY indexed by
 * class (IPv4 TCP, UDP, ICMP, other IPv4, IPv6, ARP, VLAN, other) with
 * packets and bytes, and a PERCPU_ARRAY of bytes per IP protocol number
 * (first 32 protocols).  Every frame is declined.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

enum { C_TCP, C_UDP, C_ICMP, C_IP, C_IP6, C_ARP, C_VLAN, C_OTHER, C_N };

struct count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_N);
	__type(key, __u32);
	__type(value, struct count);
} class_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} proto_bytes SEC(".maps");

SEC("xdp")
int counters(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct count *c;
	__u64 *b;
	__u32 class = C_OTHER, proto;

	if ((void *)(eth + 1) > data_end)
		goto count;
	switch (bpf_ntohs(eth->h_proto)) {
	case ETH_P_IP:
		class = C_IP;
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			break;
		if (ip->protocol == IPPROTO_TCP)
			class = C_TCP;
		else if (ip->protocol == IPPROTO_UDP)
			class = C_UDP;
		else if (ip->protocol == IPPROTO_ICMP)
			class = C_ICMP;
		proto = ip->protocol;
		if (proto < 32) {
			b = bpf_map_lookup_elem(&proto_bytes, &proto);
			if (b)
				*b += len;
		}
		break;
	case ETH_P_IPV6:
		class = C_IP6;
		break;
	case ETH_P_ARP:
		class = C_ARP;
		break;
	case ETH_P_8021Q:
		class = C_VLAN;
		break;
	}
count:
	c = bpf_map_lookup_elem(&class_count, &class);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
