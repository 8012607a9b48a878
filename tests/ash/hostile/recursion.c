/* recursion.c - a subprogram that calls itself, twice (a walk over a
 * tree of packet bytes, each naming its two children). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __attribute__((noinline)) int walk(struct xdp_md *ctx, __u32 at)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (at > 64 || data + at + 1 > data_end)
		return 0;
	__u8 next = *(__u8 *)(data + at);
	if (next == 0)
		return 1;
	return walk(ctx, at + next) + walk(ctx, at + 2 * next);
}

SEC("xdp")
int recursion(struct xdp_md *ctx)
{
	return walk(ctx, 14) == 3 ? XDP_DROP : XDP_PASS;
}
