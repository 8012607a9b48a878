/*
 * bpf_loop.c - bpf_loop with a callback: the callback looks at one of the
 * first 64 bytes of the frame per iteration (through bpf_xdp_load_bytes
 * on the context it is given) and counts the bytes equal to 0xff; the
 * count goes into a histogram (an ARRAY of 65).  Frames are declined.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "dpf_ash.h"

struct loop_ctx {
	struct xdp_md *xdp;
	__u32 len;
	__u32 ones;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} ff_hist SEC(".maps");

static long count_ff(__u32 i, void *arg)
{
	struct loop_ctx *lc = arg;
	__u8 b;

	if (i >= lc->len)
		return 1; /* stop */
	if (bpf_xdp_load_bytes(lc->xdp, i, &b, 1))
		return 1;
	if (b == 0xff)
		lc->ones++;
	return 0;
}

SEC("xdp")
int bpf_loop_ff(struct xdp_md *ctx)
{
	struct loop_ctx lc = {
		.xdp = ctx,
		.len = ctx->data_end - ctx->data,
		.ones = 0,
	};
	__u32 k;
	__u64 *n;

	bpf_loop(64, count_ff, &lc, 0);
	k = lc.ones;
	if (k > 64)
		k = 64;
	n = bpf_map_lookup_elem(&ff_hist, &k);
	if (n)
		(*n)++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
