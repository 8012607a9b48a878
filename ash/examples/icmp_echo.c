/*
 * icmp_echo.c - ping answered in the handler: an ICMP echo request to any
 * address becomes an echo reply (addresses and MACs swapped, type 8 -> 0)
 * and goes back out (XDP_TX).  The ICMP checksum is fixed incrementally
 * with bpf_csum_diff over the changed 32-bit word (RFC 1624).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dpf_ash.h"

/* <linux/icmp.h> pulls in libc headers; the echo header is all we need. */
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

/* Fold a 32-bit one's-complement sum to 16 bits. */
static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int icmp_echo(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct icmphdr *icmp;
	unsigned char mac[ETH_ALEN];
	__u32 old_word, new_word;
	__s64 sum;
	__be32 addr;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_ICMP)
		return XDP_PASS;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) > data_end || icmp->type != ICMP_ECHO ||
	    icmp->code != 0)
		return XDP_PASS;

	/* type, code and checksum share the first word */
	old_word = *(__u32 *)icmp;
	icmp->type = ICMP_ECHOREPLY;
	new_word = *(__u32 *)icmp;
	/* the old checksum's contribution goes too: diff over the word
	 * with the checksum field zeroed on both sides */
	old_word &= bpf_htonl(0xffff0000);
	new_word &= bpf_htonl(0xffff0000);
	sum = bpf_csum_diff(&old_word, 4, &new_word, 4,
	                    (__u16)~icmp->checksum);
	if (sum < 0)
		return XDP_ABORTED;
	icmp->checksum = csum_fold((__u32)sum);

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
