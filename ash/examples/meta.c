/*
 * meta.c - stash a mark in the frame's metadata: 8 bytes are reserved in
 * front of the data with bpf_xdp_adjust_meta(-8) and hold a magic word
 * and the frame's class (1 IPv4, 2 IPv6, 3 ARP, 0 other), for whoever
 * receives the frame.  The frame itself is passed unchanged.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct mark {
	__u32 magic;
	__u32 class;
};

SEC("xdp")
int meta(struct xdp_md *ctx)
{
	void *data, *data_end, *data_meta;
	struct ethhdr *eth;
	struct mark *m;
	__u32 class = 0;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct mark)))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	data_meta = (void *)(long)ctx->data_meta;
	m = data_meta;
	if ((void *)(m + 1) > data)
		return XDP_ABORTED;
	eth = data;
	if ((void *)(eth + 1) <= data_end) {
		if (eth->h_proto == bpf_htons(ETH_P_IP))
			class = 1;
		else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
			class = 2;
		else if (eth->h_proto == bpf_htons(ETH_P_ARP))
			class = 3;
	}
	m->magic = 0xd9f0a5b1;
	m->class = class;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
