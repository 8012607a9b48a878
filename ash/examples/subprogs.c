/*
 * subprogs.c - header parsing in subprograms: parse_eth and parse_ipv4
 * are real BPF-to-BPF calls (__noinline), parse_ipv4 calls ipv4_ok in
 * turn, and count_proto updates a map from a fourth.  IPv4 packets with
 * TTL 1 are dropped (they would expire), others passed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} by_proto SEC(".maps");

/* The EtherType in host order, or 0 when the frame is a runt. */
static __noinline int parse_eth(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	return bpf_ntohs(eth->h_proto);
}

/* 1 when the frame holds a whole IPv4 header of version 4. */
static __noinline int ipv4_ok(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	return (void *)(ip + 1) <= data_end && ip->version == 4;
}

/* protocol | ttl << 8 of the IPv4 header, or -1 when it is short. */
static __noinline int parse_ipv4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if (!ipv4_ok(ctx) || (void *)(ip + 1) > data_end)
		return -1;
	return ip->protocol | ip->ttl << 8;
}

static __noinline void count_proto(__u32 proto)
{
	__u64 *n = bpf_map_lookup_elem(&by_proto, &proto);

	if (n)
		(*n)++;
}

SEC("xdp")
int subprogs(struct xdp_md *ctx)
{
	int r;

	if (parse_eth(ctx) != ETH_P_IP)
		return XDP_PASS;
	r = parse_ipv4(ctx);
	if (r < 0)
		return XDP_PASS;
	count_proto(r & 0xff);
	return (r >> 8) == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
