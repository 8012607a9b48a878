/* stack_map.c - a handler with a map type DPF does not have (STACK):
 * the loader refuses it naming the type. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} lifo SEC(".maps");

SEC("xdp")
int stack_map(struct xdp_md *ctx)
{
	__u32 v = 1;

	bpf_map_push_elem(&lifo, &v, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
