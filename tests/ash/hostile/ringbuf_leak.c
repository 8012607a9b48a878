/* ringbuf_leak.c - a reserved record is neither submitted nor discarded
 * on one path. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("xdp")
int ringbuf_leak(struct xdp_md *ctx)
{
	__u32 *rec = bpf_ringbuf_reserve(&events, sizeof *rec, 0);
	if (!rec)
		return XDP_PASS;
	*rec = ctx->rx_queue_index;
	if (*rec == 5)
		return XDP_DROP;
	bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}
