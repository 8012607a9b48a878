/*
 * dilp_copy.c - dynamic integrated layer processing: the payload of each
 * IPv4 UDP datagram (without IP options) is copied into the application's
 * buffer, a value of the array map `rx`, with its Internet checksum
 * computed in the same pass (dpf_ash_copy with DPF_COPY_CSUM).  With the
 * knob `xor_key` nonzero (--set xor_key=N) the bytes are also XOR-ed
 * with that key on the way (a toy cipher: DPF_COPY_XOR32).  Payloads
 * longer than the buffer are cut to its size.  The buffer records the
 * length copied and the folded sum; `stats` counts copies, bytes and
 * refusals.  Every frame is declined (XDP_PASS): the application reads
 * the buffer, the owner still receives the frame.
 */
// linux-diff-skip: uses DPF's own helper dpf_ash_copy
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

#define BUF_BYTES 1472 /* a full 1500-byte MTU's UDP payload */

struct rxbuf {
	__u32 len;  /* bytes of data copied */
	__u32 csum; /* folded ones'-complement sum of those bytes */
	__u8 data[BUF_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rxbuf);
} rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps"); /* 0 copies, 1 bytes copied, 2 refused copies */

const volatile __u32 xor_key = 0; /* .rodata knob */

static __always_inline void add(__u32 k, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);

	if (v)
		*v += n;
}

SEC("xdp")
int dilp_copy(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	struct rxbuf *b;
	__u32 zero = 0, off;
	__u64 len;
	__u64 ops = DPF_COPY_CSUM;
	long rc;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	off = (void *)(udp + 1) - data;
	len = data_end - (void *)(udp + 1);
	if (len > BUF_BYTES)
		len = BUF_BYTES;
	b = bpf_map_lookup_elem(&rx, &zero);
	if (!b)
		return XDP_PASS;
	if (xor_key)
		ops |= DPF_COPY_XOR32 | DPF_COPY_KEY(xor_key);
	rc = dpf_ash_copy(ctx, off, b->data, len, ops);
	if (rc < 0) {
		add(2, 1);
		return XDP_PASS;
	}
	b->len = len;
	b->csum = rc;
	add(0, 1);
	add(1, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
