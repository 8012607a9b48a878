/*
 * bounded_loop.c - a bounded loop over the payload: the first 32 bytes
 * after the UDP header are summed and OR-ed together, each access checked
 * against data_end.  Datagrams whose first 32 payload bytes are all zero
 * are dropped (and counted); the sum of all payloads so far is in a map.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} payload SEC(".maps"); /* 0: byte sum, 1: all-zero datagrams dropped */

SEC("xdp")
int bounded_loop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u8 *p;
	__u64 sum = 0, *v;
	__u32 k, i, seen = 0, any = 0;

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
	p = (void *)(udp + 1);

	for (i = 0; i < 32; i++) {
		if ((void *)(p + i + 1) > data_end)
			break;
		sum += p[i];
		any |= p[i];
		seen++;
	}

	k = 0;
	v = bpf_map_lookup_elem(&payload, &k);
	if (v)
		*v += sum;
	if (seen < 32 || any)
		return XDP_PASS;
	k = 1;
	v = bpf_map_lookup_elem(&payload, &k);
	if (v)
		*v += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
