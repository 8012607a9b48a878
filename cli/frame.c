/*
 * frame.c - frame construction for `dpf gen` (see frame.h).
 *
 * Layout written, in order: Ethernet II header, optional 802.1Q tag,
 * IPv4 (20 bytes + options) or IPv6 (40 bytes), the L4 header unless the
 * frame is a non-first fragment, payload, then zero padding up to the
 * 60-byte Ethernet minimum.  Lengths and checksums are computed over what
 * was written; a fragment's L4 checksum covers only that fragment.
 */
#include "cli/frame.h"

#include <string.h>

#define ETH_MIN 60

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

/* One's-complement sum of big-endian 16-bit words, not yet folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	size_t i = 0;
	for (; i + 1 < n; i += 2)
		acc += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		acc += (uint32_t)p[i] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void fill_random(uint8_t *p, size_t n, struct cli_rng *rng)
{
	while (n >= 8) {
		uint64_t v = cli_rng_next(rng);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t v = cli_rng_next(rng);
		memcpy(p, &v, n);
	}
}

/* IPv4 options: a Router Alert, then NOPs, then End of Options. */
static void put_options(uint8_t *p, uint32_t words)
{
	size_t n = (size_t)words * 4;
	memset(p, 0x01, n); /* NOP */
	p[0] = 0x94;        /* Router Alert, length 4, value 0 */
	p[1] = 4;
	p[2] = 0;
	p[3] = 0;
	if (n > 4)
		p[n - 1] = 0x00; /* End of Options */
}

static size_t l4_header_len(uint8_t proto)
{
	switch (proto) {
	case CLI_P_TCP:
		return 20;
	case CLI_P_UDP:
	case CLI_P_ICMP:
	case CLI_P_ICMP6:
		return 8;
	default:
		return 0;
	}
}

/* Write the L4 header at p (payload follows it); checksum later. */
static void put_l4(uint8_t *p, const struct cli_frame_spec *s,
                   struct cli_rng *rng)
{
	static const uint8_t tcp_flags[4] = {0x02, 0x10, 0x18, 0x11};
	switch (s->proto) {
	case CLI_P_TCP: {
		uint64_t r = cli_rng_next(rng);
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put32(p + 4, (uint32_t)r);
		put32(p + 8, (uint32_t)(r >> 32));
		p[12] = 5 << 4;
		p[13] = tcp_flags[cli_rng_below(rng, 4)];
		put16(p + 14, 29200 + cli_rng_below(rng, 36336));
		put16(p + 16, 0);
		put16(p + 18, 0);
		break;
	}
	case CLI_P_UDP:
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, 8 + s->paylen);
		put16(p + 6, 0);
		break;
	case CLI_P_ICMP:
	case CLI_P_ICMP6:
		p[0] = s->icmp_type;
		p[1] = 0;
		put16(p + 2, 0);
		put16(p + 4, s->sport);
		put16(p + 6, s->dport);
		break;
	}
}

/* Offset of the checksum field inside the L4 header. */
static size_t l4_cksum_at(uint8_t proto)
{
	return proto == CLI_P_TCP ? 16 : proto == CLI_P_UDP ? 6 : 2;
}

size_t cli_frame_build(uint8_t *buf, const struct cli_frame_spec *s,
                       struct cli_rng *rng, size_t *dport_end)
{
	size_t off = 0;
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	off = 12;
	if (s->vlan) {
		put16(buf + off, CLI_ETH_VLAN);
		put16(buf + off + 2, (uint32_t)cli_rng_below(rng, 8) << 13 |
		                         (s->vid & 0x0fff));
		off += 4;
	}
	uint16_t type = s->ethertype ? s->ethertype
	                             : s->v6 ? CLI_ETH_IPV6 : CLI_ETH_IPV4;
	put16(buf + off, type);
	off += 2;

	size_t l3 = off;
	int has_l4 = s->v6 || s->frag_off == 0;
	size_t l4len = has_l4 ? l4_header_len(s->proto) : 0;
	size_t l3len = s->v6 ? 40 : 20 + (size_t)s->optwords * 4;
	size_t l4 = l3 + l3len;
	size_t end = l4 + l4len + s->paylen;

	if (has_l4)
		put_l4(buf + l4, s, rng);
	if (s->payload)
		memcpy(buf + l4 + l4len, s->payload, s->paylen);
	else
		fill_random(buf + l4 + l4len, s->paylen, rng);

	uint32_t pseudo;
	if (s->v6) {
		uint8_t *h = buf + l3;
		put32(h, 6u << 28 | cli_rng_below(rng, 1u << 20));
		put16(h + 4, (uint32_t)(end - l4));
		h[6] = s->proto;
		h[7] = 64;
		memcpy(h + 8, s->src, 16);
		memcpy(h + 24, s->dst, 16);
		pseudo = sum16(h + 8, 32, 0) + (uint32_t)(end - l4) + s->proto;
	} else {
		uint8_t *h = buf + l3;
		h[0] = (uint8_t)(4 << 4 | (5 + s->optwords));
		h[1] = 0;
		put16(h + 2, (uint32_t)(end - l3));
		put16(h + 4, cli_rng_below(rng, 65536));
		put16(h + 6, (s->mf ? 0x2000u : 0) | (s->frag_off & 0x1fff));
		h[8] = 64;
		h[9] = s->proto;
		put16(h + 10, 0);
		memcpy(h + 12, s->src, 4);
		memcpy(h + 16, s->dst, 4);
		if (s->optwords)
			put_options(h + 20, s->optwords);
		put16(h + 10, fold(sum16(h, l3len, 0)));
		pseudo = sum16(h + 12, 8, 0) + (uint32_t)(end - l4) + s->proto;
	}
	if (has_l4) {
		uint32_t acc = sum16(buf + l4, end - l4,
		                     s->proto == CLI_P_ICMP ? 0 : pseudo);
		uint16_t ck = fold(acc);
		if (s->proto == CLI_P_UDP && ck == 0)
			ck = 0xffff;
		put16(buf + l4 + l4_cksum_at(s->proto), ck);
	}
	if (dport_end)
		*dport_end = has_l4 && (s->proto == CLI_P_TCP ||
		                        s->proto == CLI_P_UDP)
			? l4 + 4
			: 0;
	if (end < ETH_MIN) {
		memset(buf + end, 0, ETH_MIN - end);
		end = ETH_MIN;
	}
	return end;
}

size_t cli_frame_arp(uint8_t *buf, int op, const uint8_t sha[6],
                     const uint8_t spa[4], const uint8_t tha[6],
                     const uint8_t tpa[4])
{
	if (op == 1)
		memset(buf, 0xff, 6);
	else
		memcpy(buf, tha, 6);
	memcpy(buf + 6, sha, 6);
	put16(buf + 12, CLI_ETH_ARP);
	uint8_t *a = buf + 14;
	put16(a, 1);            /* hardware: Ethernet */
	put16(a + 2, CLI_ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, (uint32_t)op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	if (op == 1)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	memcpy(a + 24, tpa, 4);
	memset(buf + 42, 0, ETH_MIN - 42);
	return ETH_MIN;
}
