/* many_maps.c - 65 maps, one more than a DPF image holds. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP(n)                                                              \
	struct {                                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);                           \
		__uint(max_entries, 1);                                     \
		__type(key, __u32);                                         \
		__type(value, __u32);                                       \
	} m##n SEC(".maps");
#define MAP8(n) MAP(n##0) MAP(n##1) MAP(n##2) MAP(n##3) MAP(n##4) MAP(n##5) \
	MAP(n##6) MAP(n##7)

MAP8(1) MAP8(2) MAP8(3) MAP8(4) MAP8(5) MAP8(6) MAP8(7) MAP8(8) MAP(99)

SEC("xdp")
int many_maps(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
