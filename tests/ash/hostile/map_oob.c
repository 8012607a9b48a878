/* map_oob.c - indexes into a map value with an unbounded packet byte. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[64]);
} table SEC(".maps");

SEC("xdp")
int map_oob(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 key = 0;
	__u8 *v = bpf_map_lookup_elem(&table, &key);
	if (!v || data + 15 > data_end)
		return XDP_PASS;
	__u8 i = *(__u8 *)(data + 14);
	return v[i] ? XDP_DROP : XDP_PASS;
}
