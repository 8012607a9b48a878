/* ctx_write.c - writes to the read-only context. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int ctx_write(struct xdp_md *ctx)
{
	ctx->rx_queue_index = 3;
	return XDP_PASS;
}
