/*
 * burn.c - spends CPU as configured: entry 0 of the ARRAY `config` holds
 * {rounds, action}.  Each frame runs `rounds` rounds (at most BURN_MAX)
 * of a xorshift seeded by the frame's first byte, counts itself in
 * `burned` (index 0: frames, 1: the last xorshift value) and returns
 * `action` when it is XDP_DROP, XDP_PASS or XDP_TX, else XDP_PASS.  With
 * the initial configuration (all zero) every frame passes at once;
 * written from outside (a map write of the kernel's control channel) it
 * shows the handler using the value, and with many rounds a handler that
 * exhausts its owner's CPU budget.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "dpf_ash.h"

#define BURN_MAX 4096

struct config {
	__u32 rounds;
	__u32 action;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} burned SEC(".maps");

SEC("xdp")
int burn(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 x = 0x9e3779b97f4a7c15ull, *v;
	__u32 k = 0, rounds, action, i;
	struct config *c;

	c = bpf_map_lookup_elem(&config, &k);
	if (!c)
		return XDP_PASS;
	rounds = c->rounds;
	action = c->action;
	if (data + 1 <= data_end)
		x ^= *(__u8 *)data;
	for (i = 0; i < BURN_MAX; i++) {
		if (i >= rounds)
			break;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	v = bpf_map_lookup_elem(&burned, &k);
	if (v)
		*v += 1;
	k = 1;
	v = bpf_map_lookup_elem(&burned, &k);
	if (v)
		*v = x;
	if (action == XDP_DROP || action == XDP_PASS || action == XDP_TX)
		return action;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
