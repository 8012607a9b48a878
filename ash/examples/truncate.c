/*
 * truncate.c - snap length 128: frames longer than 128 bytes are cut with
 * bpf_xdp_adjust_tail and passed on; the number cut and the bytes removed
 * are counted in an ARRAY (index 0 frames, 1 bytes).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "dpf_ash.h"

#define SNAP 128

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} cut SEC(".maps");

SEC("xdp")
int truncate(struct xdp_md *ctx)
{
	__s32 len = ctx->data_end - ctx->data;
	__u32 k;
	__u64 *v;

	if (len <= SNAP)
		return XDP_PASS;
	if (bpf_xdp_adjust_tail(ctx, SNAP - len))
		return XDP_ABORTED;
	k = 0;
	v = bpf_map_lookup_elem(&cut, &k);
	if (v)
		*v += 1;
	k = 1;
	v = bpf_map_lookup_elem(&cut, &k);
	if (v)
		*v += len - SNAP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
