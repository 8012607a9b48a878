/*
 * frame.h - building Ethernet frames for `dpf gen`: optional 802.1Q tag,
 * IPv4 (options, fragments, header checksum) or IPv6, then TCP, UDP,
 * ICMP or ICMPv6 with correct lengths and checksums; and ARP.
 *
 * Interface:
 *   Fill a struct cli_frame_spec and call cli_frame_build(); random bytes
 *   (payload, IP id, TCP sequence numbers) come from the caller's
 *   struct cli_rng, so a seed fixes every byte.  Frames shorter than the
 *   Ethernet minimum are zero-padded to 60 bytes, as on the wire.
 */
#ifndef DPF_CLI_FRAME_H
#define DPF_CLI_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define CLI_FRAME_MAX 1600 /* every frame built fits */
#define CLI_PAYLOAD_MAX 1400

#define CLI_ETH_IPV4 0x0800
#define CLI_ETH_ARP 0x0806
#define CLI_ETH_VLAN 0x8100
#define CLI_ETH_IPV6 0x86dd

enum {
	CLI_P_ICMP = 1,
	CLI_P_TCP = 6,
	CLI_P_UDP = 17,
	CLI_P_ICMP6 = 58,
};

/* splitmix64: small, fast, and the same sequence on every platform. */
struct cli_rng {
	uint64_t s;
};

static inline uint64_t cli_rng_next(struct cli_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1. */
static inline uint32_t cli_rng_below(struct cli_rng *r, uint32_t n)
{
	return (uint32_t)(((cli_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

struct cli_frame_spec {
	uint8_t dmac[6], smac[6];
	int vlan;          /* add an 802.1Q tag with vid */
	uint16_t vid;      /* 0..4095 */
	uint16_t ethertype; /* type after the tag; 0: IPv4 or IPv6 by v6 */
	int v6;            /* IPv6 header rather than IPv4 */
	uint8_t src[16], dst[16]; /* IPv4 uses the first 4 bytes */
	uint8_t proto;     /* CLI_P_*: the L4 header written */
	uint16_t sport, dport; /* TCP/UDP ports; ICMP echo id and sequence */
	uint8_t icmp_type; /* ICMP/ICMPv6 type */
	uint32_t optwords; /* IPv4 options, in 4-byte words, 0..10 */
	uint16_t frag_off; /* IPv4 fragment offset in 8-byte units */
	int mf;            /* IPv4 more-fragments flag */
	uint32_t paylen;   /* bytes after the L4 header, <= CLI_PAYLOAD_MAX */
	const uint8_t *payload; /* NULL: random bytes */
};

/* Build the frame into buf (CLI_FRAME_MAX bytes); returns its length.
 * A fragment with frag_off != 0 carries no L4 header, only payload.
 * *dport_end (may be NULL) gets the offset just past the TCP/UDP
 * destination port, or 0 when the frame has none. */
size_t cli_frame_build(uint8_t *buf, const struct cli_frame_spec *s,
                       struct cli_rng *rng, size_t *dport_end);

/* An ARP request (op 1, broadcast) or reply (op 2) for IPv4 over
 * Ethernet; returns the padded frame length. */
size_t cli_frame_arp(uint8_t *buf, int op, const uint8_t sha[6],
                     const uint8_t spa[4], const uint8_t tha[6],
                     const uint8_t tpa[4]);

#endif
