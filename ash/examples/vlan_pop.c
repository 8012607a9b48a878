/*
 * vlan_pop.c - strip one 802.1Q tag: the MAC addresses move 4 bytes up
 * over the tag and bpf_xdp_adjust_head(+4) drops the first 4 bytes.  The
 * untagged frame is declined (XDP_PASS) so it is delivered without the
 * tag; untagged frames pass unchanged.  Popped frames are counted per
 * VLAN id modulo 16.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} popped SEC(".maps");

SEC("xdp")
int vlan_pop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *vh;
	unsigned char macs[2 * ETH_ALEN];
	__u32 vid;
	__u64 *n;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_8021Q))
		return XDP_PASS;
	vh = (void *)(eth + 1);
	if ((void *)(vh + 1) > data_end)
		return XDP_PASS;
	vid = bpf_ntohs(vh->tci) & 0x0fff;

	/* destination and source MACs end up just before the inner type */
	__builtin_memcpy(macs, eth, sizeof macs);
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth, macs, sizeof macs);

	vid %= 16;
	n = bpf_map_lookup_elem(&popped, &vid);
	if (n)
		(*n)++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
