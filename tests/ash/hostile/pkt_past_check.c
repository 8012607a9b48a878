/* pkt_past_check.c - checks the Ethernet header, reads the IP header. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int pkt_past_check(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	return ip->protocol == 17 ? XDP_DROP : XDP_PASS;
}
