/* stack_var.c - a stack array indexed by an unbounded packet byte. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int stack_var(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	volatile __u8 buf[16] = {0};
	if (data + 15 > data_end)
		return XDP_PASS;
	__u8 i = *(__u8 *)(data + 14);
	return buf[i] ? XDP_DROP : XDP_PASS;
}
