/* ptr_return.c - returns a pointer as the action. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int ptr_return(struct xdp_md *ctx)
{
	return (int)(long)(void *)(long)ctx->data;
}
