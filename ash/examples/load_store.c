/*
 * load_store.c - rewrite a field with bpf_xdp_load_bytes and
 * bpf_xdp_store_bytes: the IPv4 TTL of every IPv4 packet is lowered to
 * at most 16, the header checksum fixed incrementally (RFC 1624), and the
 * frame passed on.  Packets whose TTL is already <= 16 pass unchanged.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

#define MAX_TTL 16
#define OFF_TTL (ETH_HLEN + 8)   /* ttl, then protocol */
#define OFF_CSUM (ETH_HLEN + 10)

SEC("xdp")
int load_store(struct xdp_md *ctx)
{
	__be16 proto, csum;
	__u8 ttlproto[2];
	__u16 old, new;
	__u32 sum;

	if (bpf_xdp_load_bytes(ctx, 12, &proto, 2) ||
	    proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, OFF_TTL, ttlproto, 2) ||
	    bpf_xdp_load_bytes(ctx, OFF_CSUM, &csum, 2))
		return XDP_PASS;
	if (ttlproto[0] <= MAX_TTL)
		return XDP_PASS;

	old = ttlproto[0] << 8 | ttlproto[1];
	ttlproto[0] = MAX_TTL;
	new = ttlproto[0] << 8 | ttlproto[1];
	/* HC' = ~(~HC + ~m + m') */
	sum = (__u16)~bpf_ntohs(csum) + (__u16)~old + new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	csum = bpf_htons((__u16)~sum);

	if (bpf_xdp_store_bytes(ctx, OFF_TTL, ttlproto, 1) ||
	    bpf_xdp_store_bytes(ctx, OFF_CSUM, &csum, 2))
		return XDP_ABORTED;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
