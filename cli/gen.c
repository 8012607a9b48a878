/*
 * gen.c - `dpf gen`: a deterministic trace generator.  From a seed it
 * writes an Ethernet pcap of P packets over N flows, the filter file with
 * one filter per flow (flow0..flow{N-1}), and optionally the ground truth:
 * how many packets each flow filter must match, computed from what was
 * built, not by running any classifier.
 *
 * Address plan (fixed, so other filter files can name flows; see usage):
 *   flow k is IPv6 / UDP / VLAN-tagged when spread(k, s, PCT) holds, with
 *   s = 0, 1, 2 respectively, where spread(k, s, b) is
 *   floor((k+1+s)*b/10000) > floor((k+s)*b/10000) for b in basis points:
 *   exactly the requested share of flows, evenly spaced, seed independent.
 *   IPv4 dst 10.0.0.0 + k + 1; IPv6 dst 2001:db8:: + k + 1;
 *   dport 80 (k = 0), 443 (k = 1), else 1024 + k % 60000; VLAN id
 *   100 + k % 3900.
 * Flow sources, source ports and everything else are drawn from the seed.
 *
 * Packet mix (each packet falls in one class, shares of all packets):
 *   noise, near misses, truncated, fragments, IPv4 options, then plain
 *   flow packets for the rest.  Only plain, options and first-fragment
 *   packets count as matches of their flow.
 *   noise      ARP request/reply, ICMP echo, ICMPv6 echo, DNS queries and
 *              answers over UDP port 53, TCP to unrelated hosts; none of
 *              it is addressed to a flow (flows live in 10.0.0.0/8 and
 *              2001:db8::/96; noise uses 192.0.2.0/24, 198.51.100.0/24,
 *              203.0.113.0/24 and 2001:db8:ffff::/48)
 *   near miss  a flow packet with exactly one of destination address,
 *              destination port, protocol (TCP<->UDP), EtherType or VLAN id
 *              changed
 *   truncated  a flow packet captured only up to a point before the end of
 *              its destination port (caplen < length on the wire)
 *   fragments  IPv4 flows: half first fragments (offset 0, MF, match),
 *              half later fragments (offset != 0, never match a port)
 *   options    IPv4 flows: IHL 6..15 (Router Alert, NOPs, EOL)
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/frame.h"
#include "cli/trace.h"

enum {
	OPT_HELP, OPT_OUT, OPT_FILTERS, OPT_FLOWS, OPT_PACKETS, OPT_SEED,
	OPT_IPV6, OPT_UDP, OPT_OPTIONS, OPT_FRAGMENTS, OPT_VLAN, OPT_NOISE,
	OPT_NEAR, OPT_TRUNCATE, OPT_EXPECT,
};

static const struct cli_opt opts[] = {
	{"help", 'h', 0, OPT_HELP},
	{"output", 'o', 1, OPT_OUT},
	{"filters", 'f', 1, OPT_FILTERS},
	{"flows", 0, 1, OPT_FLOWS},
	{"packets", 0, 1, OPT_PACKETS},
	{"seed", 0, 1, OPT_SEED},
	{"ipv6", 0, 1, OPT_IPV6},
	{"udp", 0, 1, OPT_UDP},
	{"options", 0, 1, OPT_OPTIONS},
	{"fragments", 0, 1, OPT_FRAGMENTS},
	{"vlan", 0, 1, OPT_VLAN},
	{"noise", 0, 1, OPT_NOISE},
	{"near-miss", 0, 1, OPT_NEAR},
	{"truncate", 0, 1, OPT_TRUNCATE},
	{"expect", 0, 1, OPT_EXPECT},
	{NULL, 0, 0, -1},
};

#define FLOWS_MAX 100000u
#define PACKETS_MAX 1000000000ull
#define SNAPLEN 65535
#define EPOCH 1704067200 /* 2024-01-01T00:00:00Z */

/* Percentages in basis points (1/100 %). */
struct mix {
	uint32_t ipv6, udp, vlan; /* shares of flows */
	uint32_t noise, near, trunc, frag, opts; /* shares of packets */
};

struct flow {
	uint32_t dst4;
	uint16_t dport, vid;
	uint8_t v6, udp, vlan;
};

struct gen {
	const char *out, *filters, *expect;
	uint32_t nflows;
	uint64_t npackets, seed;
	struct mix mix;
	struct flow *flows;
	uint32_t *v4; /* indices of IPv4 flows */
	uint32_t nv4;
	uint64_t *matches; /* per flow */
	uint64_t unmatched;
	struct cli_rng rng;
};

void cli_gen_usage(FILE *f)
{
	fputs(
		"usage: dpf gen -o TRACE.pcap [-f FILTERS.dpf] [--expect COUNTS.json]\n"
		"               [--flows N] [--packets P] [--seed S] [--ipv6 PCT]\n"
		"               [--udp PCT] [--vlan PCT] [--options PCT]\n"
		"               [--fragments PCT] [--noise PCT] [--near-miss PCT]\n"
		"               [--truncate PCT]\n"
		"\n"
		"Write a deterministic Ethernet pcap of P packets over N flows, the\n"
		"filter file with one filter per flow (flow0 .. flow{N-1}), and the\n"
		"generator's own count of what each filter must match.  The same\n"
		"options and seed give the same bytes.\n"
		"\n"
		"Options:\n"
		"  -o, --output TRACE   the pcap to write (required; - writes it to\n"
		"                       standard output, and the summary line\n"
		"                       goes to standard error)\n"
		"  -f, --filters FILE   write the flow filters to FILE\n"
		"  --expect FILE        write the ground truth as one JSON line:\n"
		"      {\"packets\":P,\"unmatched\":U,\n"
		"       \"filters\":[{\"name\":\"flow0\",\"matches\":K},...]}\n"
		"  --flows N            flows, 1..100000 (default 16)\n"
		"  --packets P          packets, 0..1000000000 (default 10000)\n"
		"  --seed S             random seed (default 1)\n"
		"Shares of flows (PCT is 0..100, up to two decimals):\n"
		"  --ipv6 PCT           IPv6 flows (default 25)\n"
		"  --udp PCT            UDP rather than TCP flows (default 25)\n"
		"  --vlan PCT           802.1Q-tagged flows (default 10)\n"
		"Shares of packets (together at most 100; the rest are plain flow\n"
		"packets):\n"
		"  --noise PCT          ARP, ICMP and ICMPv6 echo, DNS, unrelated\n"
		"                       TCP, never addressed to a flow (default 10)\n"
		"  --near-miss PCT      flow packets with exactly one of destination,\n"
		"                       port, protocol, EtherType or VLAN id changed:\n"
		"                       they match nothing (default 5)\n"
		"  --truncate PCT       flow packets cut before the end of the\n"
		"                       destination port: they match nothing\n"
		"                       (default 2)\n"
		"  --fragments PCT      IPv4 fragments: first fragments (offset 0)\n"
		"                       match their flow, later ones match nothing\n"
		"                       (default 5)\n"
		"  --options PCT        IPv4 flow packets with IP options, IHL 6..15:\n"
		"                       they match their flow (default 5)\n"
		"  -h, --help           print this help\n"
		"\n"
		"Flow plan (independent of the seed): flow k, 0 <= k < N, is\n"
		"  IPv6  when floor((k+1)*b/10000) > floor(k*b/10000), b = --ipv6 in\n"
		"        hundredths of a percent; UDP likewise with k+1 for k and\n"
		"        b = --udp; VLAN likewise with k+2 and b = --vlan;\n"
		"  dst   10.0.0.0 + (k+1) for IPv4, 2001:db8:: + (k+1) for IPv6\n"
		"        (flow0 10.0.0.1 or 2001:db8::1, flow1 10.0.0.2, ...);\n"
		"  dport 80 for flow0, 443 for flow1, else 1024 + k % 60000;\n"
		"  vlan  id 100 + k % 3900.\n"
		"With the defaults, flows 0 and 1 are IPv4 TCP, flow 2 is IPv4 UDP,\n"
		"flow 3 is IPv6 TCP and flow 7 is IPv6 TCP on VLAN 107.\n"
		"Flow k's filter is 'ip.dst == A and tcp.dport == P' (udp.dport for\n"
		"UDP, ip6.dst for IPv6), preceded by 'vlan.id == V and' for VLAN\n"
		"flows.  An engine holds at most 65536 filters.\n"
		"Flows' sources are in 192.168.0.0/16 and 2001:db8:1::/64; noise\n"
		"goes to 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and\n"
		"2001:db8:ffff::/48.\n"
		"\n"
		"Exit status: 0 success, 1 output error, 2 usage error.\n",
		f);
}

/* floor((k+1+s)*b/10000) > floor((k+s)*b/10000): spreads b/10000 of the
 * flows evenly over k. */
static int spread(uint32_t k, uint32_t s, uint32_t b)
{
	uint64_t a = (uint64_t)(k + s) * b / 10000;
	uint64_t c = (uint64_t)(k + 1 + s) * b / 10000;
	return c > a;
}

static void plan(struct gen *g)
{
	g->nv4 = 0;
	for (uint32_t k = 0; k < g->nflows; k++) {
		struct flow *fl = &g->flows[k];
		fl->v6 = (uint8_t)spread(k, 0, g->mix.ipv6);
		fl->udp = (uint8_t)spread(k, 1, g->mix.udp);
		fl->vlan = (uint8_t)spread(k, 2, g->mix.vlan);
		fl->dst4 = 0x0a000000u + k + 1;
		fl->dport = k == 0 ? 80 : k == 1 ? 443 : (uint16_t)(1024 + k % 60000);
		fl->vid = (uint16_t)(100 + k % 3900);
		if (!fl->v6)
			g->v4[g->nv4++] = k;
	}
}

static void dst6(uint32_t k, uint8_t a[16])
{
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};
	memset(a, 0, 16);
	memcpy(a, prefix, 4);
	uint32_t v = k + 1;
	a[12] = (uint8_t)(v >> 24);
	a[13] = (uint8_t)(v >> 16);
	a[14] = (uint8_t)(v >> 8);
	a[15] = (uint8_t)v;
}

static void put4(uint8_t *a, uint32_t v)
{
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
}

/* A locally administered unicast MAC. */
static void rand_mac(struct cli_rng *r, uint8_t m[6])
{
	uint64_t v = cli_rng_next(r);
	memcpy(m, &v, 6);
	m[0] = (uint8_t)((m[0] & 0xfc) | 0x02);
}

static uint32_t rand_paylen(struct cli_rng *r)
{
	if (cli_rng_below(r, 16) == 0)
		return cli_rng_below(r, 1200);
	return cli_rng_below(r, 160);
}

/* 192.168.0.0/16 or 2001:db8:1::/64, host part random. */
static void rand_src(struct cli_rng *r, int v6, uint8_t a[16])
{
	memset(a, 0, 16);
	if (v6) {
		static const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01};
		memcpy(a, pfx, 6);
		uint64_t v = cli_rng_next(r);
		memcpy(a + 8, &v, 8);
		a[15] |= 1;
	} else {
		put4(a, 0xc0a80000u | (1 + cli_rng_below(r, 65534)));
	}
}

/* The ordinary packet of flow k. */
static void flow_spec(struct gen *g, uint32_t k, struct cli_frame_spec *s)
{
	const struct flow *fl = &g->flows[k];
	struct cli_rng *r = &g->rng;
	memset(s, 0, sizeof *s);
	rand_mac(r, s->dmac);
	rand_mac(r, s->smac);
	s->vlan = fl->vlan;
	s->vid = fl->vid;
	s->v6 = fl->v6;
	rand_src(r, fl->v6, s->src);
	if (fl->v6)
		dst6(k, s->dst);
	else
		put4(s->dst, fl->dst4);
	s->proto = fl->udp ? CLI_P_UDP : CLI_P_TCP;
	s->sport = (uint16_t)(32768 + cli_rng_below(r, 28232));
	s->dport = fl->dport;
	s->paylen = rand_paylen(r);
}

/* Change exactly one thing the flow's filter tests. */
static void near_miss(struct gen *g, uint32_t k, struct cli_frame_spec *s)
{
	const struct flow *fl = &g->flows[k];
	switch (cli_rng_below(&g->rng, fl->vlan ? 5 : 4)) {
	case 0: /* destination: 11.x.x.x / 2001:db9::, outside every flow */
		if (fl->v6)
			s->dst[3] ^= 0x01;
		else
			s->dst[0] = 11;
		break;
	case 1:
		s->dport = (uint16_t)(s->dport + 1);
		break;
	case 2:
		s->proto = s->proto == CLI_P_TCP ? CLI_P_UDP : CLI_P_TCP;
		break;
	case 3: /* the IEEE local experimental EtherType */
		s->ethertype = 0x88b5;
		break;
	default:
		s->vid = (uint16_t)(s->vid + 1);
		break;
	}
}

/* A DNS query for a random name, or its answer (one A record). */
static uint32_t dns_payload(struct cli_rng *r, int answer, uint8_t *p)
{
	static const char *const words[] = {"www", "mail", "api", "cdn",
	                                    "example", "test", "svc", "db"};
	static const char *const tlds[] = {"com", "net", "org", "example"};
	uint32_t n = 0;
	uint32_t id = cli_rng_below(r, 65536);
	p[n++] = (uint8_t)(id >> 8);
	p[n++] = (uint8_t)id;
	p[n++] = answer ? 0x81 : 0x01; /* QR, RD */
	p[n++] = answer ? 0x80 : 0x00; /* RA */
	static const uint8_t counts[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(p + n, counts, 8);
	if (answer)
		p[n + 3] = 1; /* ANCOUNT */
	n += 8;
	uint32_t labels = 1 + cli_rng_below(r, 3);
	for (uint32_t i = 0; i < labels; i++) {
		const char *w = words[cli_rng_below(r, 8)];
		size_t l = strlen(w);
		p[n++] = (uint8_t)l;
		memcpy(p + n, w, l);
		n += (uint32_t)l;
	}
	const char *t = tlds[cli_rng_below(r, 4)];
	p[n++] = (uint8_t)strlen(t);
	memcpy(p + n, t, strlen(t));
	n += (uint32_t)strlen(t);
	p[n++] = 0;
	static const uint8_t q[4] = {0, 1, 0, 1}; /* type A, class IN */
	memcpy(p + n, q, 4);
	n += 4;
	if (answer) {
		static const uint8_t a[10] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10};
		memcpy(p + n, a, 10);
		n += 10;
		p[n++] = 0;
		p[n++] = 4;
		put4(p + n, 0xc6336400u | cli_rng_below(r, 256));
		n += 4;
	}
	return n;
}

/* Traffic addressed to no flow. */
static size_t noise(struct gen *g, uint8_t *buf)
{
	struct cli_rng *r = &g->rng;
	struct cli_frame_spec s;
	uint8_t dns[128];
	memset(&s, 0, sizeof s);
	rand_mac(r, s.dmac);
	rand_mac(r, s.smac);
	uint32_t kind = cli_rng_below(r, 100);
	if (kind < 20) { /* ARP */
		uint8_t spa[4], tpa[4];
		put4(spa, 0xc0a80000u | (1 + cli_rng_below(r, 65534)));
		put4(tpa, 0xc0a80000u | (1 + cli_rng_below(r, 65534)));
		int op = 1 + (int)cli_rng_below(r, 2);
		return cli_frame_arp(buf, op, s.smac, spa, s.dmac, tpa);
	}
	if (kind < 40) { /* ICMP echo to or from 198.51.100.0/24 */
		uint32_t host = 0xc0a80000u | (1 + cli_rng_below(r, 65534));
		uint32_t far = 0xc6336400u | (1 + cli_rng_below(r, 254));
		int reply = (int)cli_rng_below(r, 2);
		put4(s.src, reply ? far : host);
		put4(s.dst, reply ? host : far);
		s.proto = CLI_P_ICMP;
		s.icmp_type = reply ? 0 : 8;
		s.sport = (uint16_t)cli_rng_below(r, 65536);
		s.dport = (uint16_t)cli_rng_below(r, 65536);
		s.paylen = 56;
	} else if (kind < 55) { /* ICMPv6 echo to 2001:db8:ffff::/48 */
		s.v6 = 1;
		rand_src(r, 1, s.src);
		rand_src(r, 1, s.dst);
		s.dst[4] = 0xff;
		s.dst[5] = 0xff;
		s.proto = CLI_P_ICMP6;
		s.icmp_type = cli_rng_below(r, 2) ? 129 : 128;
		s.sport = (uint16_t)cli_rng_below(r, 65536);
		s.dport = (uint16_t)cli_rng_below(r, 65536);
		s.paylen = 56;
	} else if (kind < 80) { /* DNS, mostly IPv4, query or answer */
		int answer = cli_rng_below(r, 10) < 3;
		s.v6 = cli_rng_below(r, 5) == 0;
		uint8_t host[16], server[16];
		rand_src(r, s.v6, host);
		memset(server, 0, 16);
		if (s.v6) {
			rand_src(r, 1, server);
			server[4] = 0xff;
			server[5] = 0xff;
			server[15] = 0x53;
		} else {
			put4(server, 0xc0000235u); /* 192.0.2.53 */
		}
		memcpy(s.src, answer ? server : host, 16);
		memcpy(s.dst, answer ? host : server, 16);
		s.proto = CLI_P_UDP;
		uint16_t eph = (uint16_t)(1024 + cli_rng_below(r, 64512));
		s.sport = answer ? 53 : eph;
		s.dport = answer ? eph : 53;
		s.paylen = dns_payload(r, answer, dns);
		s.payload = dns;
	} else { /* TCP to unrelated hosts in 203.0.113.0/24 */
		static const uint16_t ports[8] = {22, 25, 80, 443, 3306, 5432,
		                                  8080, 0};
		put4(s.src, 0xc0a80000u | (1 + cli_rng_below(r, 65534)));
		put4(s.dst, 0xcb007100u | (1 + cli_rng_below(r, 254)));
		s.proto = CLI_P_TCP;
		s.sport = (uint16_t)(32768 + cli_rng_below(r, 28232));
		s.dport = ports[cli_rng_below(r, 8)];
		if (!s.dport)
			s.dport = (uint16_t)(1 + cli_rng_below(r, 65535));
		s.paylen = rand_paylen(r);
	}
	return cli_frame_build(buf, &s, r, NULL);
}

/* Build the next packet; *match gets the flow it must match, or -1. */
static size_t next_packet(struct gen *g, uint8_t *buf, uint32_t *caplen,
                          int64_t *match)
{
	struct cli_rng *r = &g->rng;
	const struct mix *m = &g->mix;
	uint32_t u = cli_rng_below(r, 10000);
	struct cli_frame_spec s;
	size_t len, dport_end;
	*match = -1;
	if (u < m->noise) {
		len = noise(g, buf);
		*caplen = (uint32_t)len;
		return len;
	}
	u -= m->noise;
	uint32_t k = cli_rng_below(r, g->nflows);
	if (u < m->near) {
		flow_spec(g, k, &s);
		near_miss(g, k, &s);
		len = cli_frame_build(buf, &s, r, NULL);
		*caplen = (uint32_t)len;
		return len;
	}
	u -= m->near;
	if (u < m->trunc) {
		flow_spec(g, k, &s);
		len = cli_frame_build(buf, &s, r, &dport_end);
		/* Cut somewhere from the end of the Ethernet header to one byte
		 * short of the destination port. */
		*caplen = (uint32_t)(14 + cli_rng_below(r, (uint32_t)dport_end - 14));
		return len;
	}
	u -= m->trunc;
	int frag = u < m->frag;
	int optn = !frag && u - m->frag < m->opts;
	if ((frag || optn) && g->nv4)
		k = g->v4[cli_rng_below(r, g->nv4)];
	else
		frag = optn = 0;
	flow_spec(g, k, &s);
	*match = k;
	if (optn) {
		s.optwords = 1 + cli_rng_below(r, 10);
	} else if (frag) {
		s.mf = 1;
		if (cli_rng_below(r, 2) == 0) {
			/* First fragment: L4 header and payload, a multiple of 8. */
			uint32_t l4 = s.proto == CLI_P_TCP ? 20 : 8;
			s.paylen = 8 * (3 + cli_rng_below(r, 120)) - l4;
		} else {
			s.frag_off = (uint16_t)(1 + cli_rng_below(r, 8000));
			s.mf = (int)cli_rng_below(r, 2);
			s.paylen = s.mf ? 8 * (1 + cli_rng_below(r, 120))
			                : 1 + cli_rng_below(r, 960);
			*match = -1;
		}
	}
	len = cli_frame_build(buf, &s, r, NULL);
	*caplen = (uint32_t)len;
	return len;
}

static void format_dst(const struct gen *g, uint32_t k, char *buf,
                       size_t cap)
{
	const struct flow *fl = &g->flows[k];
	uint32_t v = k + 1;
	if (!fl->v6)
		snprintf(buf, cap, "%u.%u.%u.%u", fl->dst4 >> 24,
		         (fl->dst4 >> 16) & 255, (fl->dst4 >> 8) & 255,
		         fl->dst4 & 255);
	else if (v >> 16)
		snprintf(buf, cap, "2001:db8::%x:%x", v >> 16, v & 0xffff);
	else
		snprintf(buf, cap, "2001:db8::%x", v);
}

static void pct_text(uint32_t bp, char *buf, size_t cap)
{
	if (bp % 100)
		snprintf(buf, cap, "%u.%02u", bp / 100, bp % 100);
	else
		snprintf(buf, cap, "%u", bp / 100);
}

static int write_filters(const struct gen *g)
{
	FILE *f = fopen(g->filters, "w");
	if (!f) {
		fprintf(stderr, "%s: error: %s\n", g->filters, strerror(errno));
		return -1;
	}
	char a[8][16];
	const uint32_t v[8] = {g->mix.ipv6, g->mix.udp, g->mix.vlan,
	                       g->mix.noise, g->mix.near, g->mix.trunc,
	                       g->mix.frag, g->mix.opts};
	for (int i = 0; i < 8; i++)
		pct_text(v[i], a[i], sizeof a[i]);
	fprintf(f,
	        "# Flow filters written by dpf gen --flows %u --packets %llu "
	        "--seed %llu\n"
	        "#   --ipv6 %s --udp %s --vlan %s --noise %s --near-miss %s\n"
	        "#   --truncate %s --fragments %s --options %s\n",
	        g->nflows, (unsigned long long)g->npackets,
	        (unsigned long long)g->seed, a[0], a[1], a[2], a[3], a[4], a[5],
	        a[6], a[7]);
	for (uint32_t k = 0; k < g->nflows; k++) {
		const struct flow *fl = &g->flows[k];
		char dst[48], vlan[32] = "";
		format_dst(g, k, dst, sizeof dst);
		if (fl->vlan)
			snprintf(vlan, sizeof vlan, "vlan.id == %u and ", fl->vid);
		fprintf(f, "filter flow%u { %s%s.dst == %s and %s.dport == %u }\n",
		        k, vlan, fl->v6 ? "ip6" : "ip", dst, fl->udp ? "udp" : "tcp",
		        fl->dport);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "%s: error: %s\n", g->filters, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_expect(const struct gen *g)
{
	FILE *f = fopen(g->expect, "w");
	if (!f) {
		fprintf(stderr, "%s: error: %s\n", g->expect, strerror(errno));
		return -1;
	}
	fprintf(f, "{\"packets\":%llu,\"unmatched\":%llu,\"filters\":[",
	        (unsigned long long)g->npackets,
	        (unsigned long long)g->unmatched);
	for (uint32_t k = 0; k < g->nflows; k++)
		fprintf(f, "%s{\"name\":\"flow%u\",\"matches\":%llu}", k ? "," : "",
		        k, (unsigned long long)g->matches[k]);
	fputs("]}\n", f);
	if (fclose(f) != 0) {
		fprintf(stderr, "%s: error: %s\n", g->expect, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_trace(struct gen *g)
{
	char err[600];
	struct cli_dump *d = cli_dump_open(g->out, DLT_EN10MB, SNAPLEN, 0, err,
	                                   sizeof err);
	if (!d) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	uint8_t buf[CLI_FRAME_MAX];
	uint64_t usec = 0;
	for (uint64_t i = 0; i < g->npackets; i++) {
		uint32_t caplen;
		int64_t match;
		size_t len = next_packet(g, buf, &caplen, &match);
		if (match >= 0)
			g->matches[match]++;
		else
			g->unmatched++;
		usec += 1 + cli_rng_below(&g->rng, 2000);
		cli_dump_write(d, EPOCH + (int64_t)(usec / 1000000),
		               (uint32_t)(usec % 1000000), caplen, (uint32_t)len, buf);
	}
	if (cli_dump_close(d, err, sizeof err) != 0) {
		fprintf(stderr, "%s: error: %s\n", g->out, err);
		return -1;
	}
	return 0;
}

static int parse_pct(const char *opt, const char *val, uint32_t *bp)
{
	if (cli_parse_pct(val, bp) == 0)
		return 0;
	return cli_usage_error("gen", cli_gen_usage,
	                       "%s wants a percentage from 0 to 100, not '%s'",
	                       opt, val);
}

static int parse_args(struct gen *g, int argc, char **argv)
{
	struct cli_parser p;
	const char *val;
	uint64_t v;
	int id, rc = 0;
	cli_opt_init(&p, "gen", argc, argv);
	while (rc == 0 && (id = cli_opt_next(&p, opts, &val)) != CLI_OPT_END) {
		switch (id) {
		case CLI_OPT_ERROR:
			return cli_usage_error("gen", cli_gen_usage, "%s", p.err);
		case CLI_OPT_OPERAND:
			return cli_usage_error("gen", cli_gen_usage,
			                       "unexpected argument '%s'", val);
		case OPT_HELP:
			cli_gen_usage(stdout);
			return -1;
		case OPT_OUT:
			g->out = val;
			break;
		case OPT_FILTERS:
			g->filters = val;
			break;
		case OPT_EXPECT:
			g->expect = val;
			break;
		case OPT_FLOWS:
			if (cli_parse_u64(val, 1, FLOWS_MAX, &v) != 0)
				return cli_usage_error(
					"gen", cli_gen_usage,
					"--flows wants a whole number from 1 to %u, not '%s'",
					FLOWS_MAX, val);
			g->nflows = (uint32_t)v;
			break;
		case OPT_PACKETS:
			if (cli_parse_u64(val, 0, PACKETS_MAX, &v) != 0)
				return cli_usage_error(
					"gen", cli_gen_usage,
					"--packets wants a whole number from 0 to %llu, not '%s'",
					PACKETS_MAX, val);
			g->npackets = v;
			break;
		case OPT_SEED:
			if (cli_parse_u64(val, 0, UINT64_MAX, &v) != 0)
				return cli_usage_error("gen", cli_gen_usage,
				                       "--seed wants a whole number, not '%s'",
				                       val);
			g->seed = v;
			break;
		case OPT_IPV6:
			rc = parse_pct("--ipv6", val, &g->mix.ipv6);
			break;
		case OPT_UDP:
			rc = parse_pct("--udp", val, &g->mix.udp);
			break;
		case OPT_VLAN:
			rc = parse_pct("--vlan", val, &g->mix.vlan);
			break;
		case OPT_NOISE:
			rc = parse_pct("--noise", val, &g->mix.noise);
			break;
		case OPT_NEAR:
			rc = parse_pct("--near-miss", val, &g->mix.near);
			break;
		case OPT_TRUNCATE:
			rc = parse_pct("--truncate", val, &g->mix.trunc);
			break;
		case OPT_FRAGMENTS:
			rc = parse_pct("--fragments", val, &g->mix.frag);
			break;
		case OPT_OPTIONS:
			rc = parse_pct("--options", val, &g->mix.opts);
			break;
		}
	}
	if (rc)
		return rc;
	if (!g->out)
		return cli_usage_error("gen", cli_gen_usage,
		                       "no output given (-o TRACE.pcap)");
	const struct mix *m = &g->mix;
	if (m->noise + m->near + m->trunc + m->frag + m->opts > 10000)
		return cli_usage_error("gen", cli_gen_usage,
		                       "--noise, --near-miss, --truncate, --fragments "
		                       "and --options add up to more than 100");
	return 0;
}

int cli_gen_main(int argc, char **argv)
{
	struct gen g;
	memset(&g, 0, sizeof g);
	g.nflows = 16;
	g.npackets = 10000;
	g.seed = 1;
	g.mix = (struct mix){.ipv6 = 2500, .udp = 2500, .vlan = 1000,
	                     .noise = 1000, .near = 500, .trunc = 200,
	                     .frag = 500, .opts = 500};
	int rc = parse_args(&g, argc, argv);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	g.rng.s = g.seed;
	g.flows = calloc(g.nflows, sizeof *g.flows);
	g.v4 = calloc(g.nflows, sizeof *g.v4);
	g.matches = calloc(g.nflows, sizeof *g.matches);
	rc = CLI_BAD_INPUT;
	if (!g.flows || !g.v4 || !g.matches) {
		fputs("dpf gen: error: out of memory\n", stderr);
		goto out;
	}
	plan(&g);
	if (write_trace(&g) != 0)
		goto out;
	if (g.filters && write_filters(&g) != 0)
		goto out;
	if (g.expect && write_expect(&g) != 0)
		goto out;
	fprintf(strcmp(g.out, "-") == 0 ? stderr : stdout,
	        "%s: %llu packet%s over %u flow%s, %llu of them matching a flow "
	        "filter\n",
	        g.out, (unsigned long long)g.npackets, g.npackets == 1 ? "" : "s",
	        g.nflows, g.nflows == 1 ? "" : "s",
	        (unsigned long long)(g.npackets - g.unmatched));
	rc = CLI_OK;
out:
	free(g.flows);
	free(g.v4);
	free(g.matches);
	return rc;
}
