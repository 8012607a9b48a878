/* long_loop.c - a loop whose trip count comes from the packet: no bound. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int long_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 18 > data_end)
		return XDP_PASS;
	__u32 n = *(__u32 *)(data + 14);
	__u32 acc = 0;
	for (__u32 i = 0; i < n; i++)
		acc = acc * 31 + i;
	return acc == 7 ? XDP_DROP : XDP_PASS;
}
