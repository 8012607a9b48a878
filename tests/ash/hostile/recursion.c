/* recursion.c - a subprogram that calls itself. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __attribute__((noinline)) int depth(int n)
{
	if (n <= 0)
		return 0;
	return depth(n - 1) + 1;
}

SEC("xdp")
int recursion(struct xdp_md *ctx)
{
	return depth(ctx->rx_queue_index) == 3 ? XDP_DROP : XDP_PASS;
}
