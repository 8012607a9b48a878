/* uninit_key.c - a map key with an uninitialised half. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct key { __u32 a, b; };
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, struct key);
	__type(value, __u64);
} flows SEC(".maps");

SEC("xdp")
int uninit_key(struct xdp_md *ctx)
{
	struct key k;
	k.a = ctx->rx_queue_index;
	asm volatile("" : : "r"(&k) : "memory");
	return bpf_map_lookup_elem(&flows, &k) ? XDP_DROP : XDP_PASS;
}
