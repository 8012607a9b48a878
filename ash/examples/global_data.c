/*
 * global_data.c - global variables: a `const volatile` knob (the UDP port
 * to watch, set at load time with --set port=N), .bss counters, and an
 * initialised .data table of per-size-class weights.  UDP datagrams to
 * `port` are dropped and counted; everything is weighed by size class.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

const volatile __u16 port = 9;        /* .rodata knob */
const volatile __u8 drop_enabled = 1; /* .rodata knob */

__u64 frames;     /* .bss */
__u64 dropped;    /* .bss */
__u64 weight_sum; /* .bss */

/* .data: weight per size class (<64, <128, <256, <512, <1024), and of
 * larger frames (settable: --set jumbo_weight=N) */
__u32 weights[5] = { 1, 2, 3, 5, 8 };
__u32 jumbo_weight = 13;

SEC("xdp")
int global_data(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data, cls = 0;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	while (cls < 5 && len >= (64u << cls))
		cls++;
	weight_sum += cls < 5 ? weights[cls] : jumbo_weight;
	frames++;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(port))
		return XDP_PASS;
	if (!drop_enabled)
		return XDP_PASS;
	dropped++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
