/* helper_arg.c - passes a packet pointer as bpf_redirect's ifindex. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int helper_arg(struct xdp_md *ctx)
{
	return bpf_redirect((__u32)(long)ctx->data, 0);
}
