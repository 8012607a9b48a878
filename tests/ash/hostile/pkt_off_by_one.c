/* pkt_off_by_one.c - proves 33 bytes, then reads ip->daddr (bytes 30..33). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int pkt_off_by_one(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	if (data + 33 > data_end)
		return XDP_PASS;
	return ip->daddr == 0 ? XDP_DROP : XDP_PASS;
}
