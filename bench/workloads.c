/*
 * workloads.c - the benchmark's filter sets, traces and hand-written
 * classifiers (workloads.h).
 */
#include "bench/workloads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/frame.h"

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);
	memcpy(d, s, n);
	return d;
}

static void dotted(char *buf, size_t cap, uint32_t a)
{
	snprintf(buf, cap, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255,
	         a & 255);
}

/* ---- udp-ports ---- */

/* Port k of the set: 40503 is odd, so k -> port is one-to-one mod 2^16. */
static uint16_t udp_port(uint32_t k)
{
	return (uint16_t)(k * 40503u + 1031u);
}

struct hw_udp {
	int32_t id[65536];
	uint8_t in[65536]; /* port in the set */
};

static __attribute__((noinline)) int hw_udp_classify(const void *hw,
                                                     const uint8_t *p,
                                                     size_t len)
{
	const struct hw_udp *h = hw;
	if (len < 14)
		return DPF_NOMATCH;
	size_t at;
	uint32_t type = be16(p + 12);
	if (type == 0x0800) {
		if (len < 24 || p[23] != 17 || (be16(p + 20) & 0x1fff))
			return DPF_NOMATCH;
		at = 14 + 4 * (size_t)(p[14] & 15) + 2;
	} else if (type == 0x86dd) {
		if (len < 21 || p[20] != 17)
			return DPF_NOMATCH;
		at = 14 + 42;
	} else {
		return DPF_NOMATCH;
	}
	if (at + 2 > len)
		return DPF_NOMATCH;
	return h->id[be16(p + at)];
}

static void udp_make(struct workload *w, uint32_t n, uint32_t npk)
{
	w->dpf = xmalloc((size_t)n * 48 + 16);
	char *p = w->dpf;
	*p = 0;
	w->tcpdump = xmalloc(n * sizeof *w->tcpdump);
	for (uint32_t k = 0; k < n; k++) {
		char e[48];
		p += sprintf(p, "filter u%u { udp.dport == %u }\n", k, udp_port(k));
		snprintf(e, sizeof e, "udp dst port %u", udp_port(k));
		w->tcpdump[k] = xstrdup(e);
	}
	w->dpflen = (size_t)(p - w->dpf);
	struct hw_udp *h = xcalloc(1, sizeof *h);
	for (uint32_t k = 0; k < n; k++)
		h->in[udp_port(k)] = 1;
	w->hw = h;
	/* 80% IPv4 UDP to a port of the set, 10% IPv6 UDP to one, 5% UDP to
	 * ports outside it, 3% TCP to a port of the set, 2% ARP. */
	struct cli_rng r = {0xD0D0 + n};
	trace_alloc(&w->trace, npk);
	uint8_t buf[CLI_FRAME_MAX];
	for (uint32_t i = 0; i < npk; i++) {
		struct cli_frame_spec s;
		memset(&s, 0, sizeof s);
		uint32_t kind = cli_rng_below(&r, 100);
		s.proto = CLI_P_UDP;
		s.dport = udp_port(cli_rng_below(&r, n));
		s.sport = (uint16_t)(30000 + cli_rng_below(&r, 30000));
		s.paylen = cli_rng_below(&r, 60);
		s.v6 = kind >= 80 && kind < 90;
		s.src[0] = s.v6 ? 0x20 : 10;
		s.dst[0] = s.v6 ? 0x20 : 10;
		s.dst[s.v6 ? 15 : 3] = (uint8_t)i;
		if (kind >= 90 && kind < 95)
			while (h->in[s.dport])
				s.dport = (uint16_t)cli_rng_below(&r, 65536);
		if (kind >= 95 && kind < 98)
			s.proto = CLI_P_TCP;
		size_t len;
		if (kind >= 98)
			len = noise_arp(buf);
		else
			len = cli_frame_build(buf, &s, &r, NULL);
		trace_put(&w->trace, i, buf, len);
	}
}

/* ---- mixed ---- */

static const struct mixed_filter {
	const char *name;
	uint32_t prio;
	const char *dpf, *tcpdump;
} mixed[] = {
	{"mgmt", 60, "ip.src == 192.168.100.0/24", "ip src net 192.168.100.0/24"},
	{"vlan200_web", 51, "vlan.id == 200 and tcp.dport == 80",
	 "vlan 200 and tcp dst port 80"},
	{"vlan100", 50, "vlan.id == 100 and ip", "vlan 100 and ip"},
	{"dhcp", 48, "udp.dport in {67, 68}", "udp dst port 67 or udp dst port 68"},
	{"web6", 47, "ip6.dst == 2001:db8::/32 and tcp.dport == 443",
	 "ip6 dst net 2001:db8::/32 and tcp dst port 443"},
	{"ntp", 46, "udp.dport == 123", "udp dst port 123"},
	{"app", 45, "ip.dst == 10.1.0.0/16 and tcp.dport == 8080",
	 "ip dst net 10.1.0.0/16 and tcp dst port 8080"},
	{"smtp", 44, "tcp.dport == 25", "tcp dst port 25"},
	{"https", 43, "tcp.dport == 443", "tcp dst port 443"},
	{"http", 42, "tcp.dport == 80", "tcp dst port 80"},
	{"ssh", 41, "tcp.dport == 22", "tcp dst port 22"},
	{"dns", 40, "udp.port == 53", "udp port 53"},
	{"arp_req", 30, "arp.op == 1", "arp[6:2] == 1"},
	{"icmp_echo", 25, "icmp.type in {0, 8}",
	 "icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply"},
	{"syn", 20, "(tcp.flags & 0x12) == 0x02", "tcp[13] & 0x12 == 2"},
	{"icmp6", 3, "icmp6", "icmp6"},
	{"icmp", 2, "icmp", "icmp"},
	{"arp", 1, "arp", "arp"},
};
enum {
	M_MGMT, M_VLAN200_WEB, M_VLAN100, M_DHCP, M_WEB6, M_NTP, M_APP, M_SMTP,
	M_HTTPS, M_HTTP, M_SSH, M_DNS, M_ARP_REQ, M_ICMP_ECHO, M_SYN, M_ICMP6,
	M_ICMP, M_ARP, NMIXED
};

struct hw_mixed {
	int32_t id[NMIXED];
};

/* DPF's rule by hand: every filter of the set has its own priority, so the
 * answer is the matching filter listed first above. */
static inline void hit(int *best, int f)
{
	if (f < *best)
		*best = f;
}

static inline void tcp_ports(const uint8_t *p, size_t len, size_t t,
                             int *best)
{
	if (t + 4 > len)
		return;
	switch (be16(p + t + 2)) {
	case 25: hit(best, M_SMTP); break;
	case 443: hit(best, M_HTTPS); break;
	case 80: hit(best, M_HTTP); break;
	case 22: hit(best, M_SSH); break;
	}
}

static inline void udp_ports(const uint8_t *p, size_t len, size_t t,
                             int *best)
{
	if (t + 4 > len)
		return;
	uint32_t sport = be16(p + t), dport = be16(p + t + 2);
	if (dport == 67 || dport == 68)
		hit(best, M_DHCP);
	if (dport == 123)
		hit(best, M_NTP);
	if (sport == 53 || dport == 53)
		hit(best, M_DNS);
}

static __attribute__((noinline)) int hw_mixed_classify(const void *hw,
                                                       const uint8_t *p,
                                                       size_t len)
{
	const struct hw_mixed *h = hw;
	int best = NMIXED;
	if (len < 14)
		return DPF_NOMATCH;
	uint32_t type = be16(p + 12);
	if (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
		if (len < 18)
			return DPF_NOMATCH;
		uint32_t vid = be16(p + 14) & 0x0fff, inner = be16(p + 16);
		if (vid == 100 && inner == 0x0800)
			hit(&best, M_VLAN100);
		if (vid == 200) {
			int b = NMIXED;
			if (inner == 0x0800 && len >= 28 && p[27] == 6 &&
			    !(be16(p + 24) & 0x1fff))
				tcp_ports(p, len, 18 + 4 * (size_t)(p[18] & 15), &b);
			else if (inner == 0x86dd && len >= 25 && p[24] == 6)
				tcp_ports(p, len, 18 + 40, &b);
			if (b == M_HTTP)
				hit(&best, M_VLAN200_WEB);
		}
		return best < NMIXED ? h->id[best] : DPF_NOMATCH;
	}
	if (type == 0x0806) {
		hit(&best, M_ARP);
		if (len >= 22 && be16(p + 20) == 1)
			hit(&best, M_ARP_REQ);
	} else if (type == 0x0800) {
		if (len >= 30 && (be32(p + 26) & 0xffffff00u) == 0xc0a86400u)
			hit(&best, M_MGMT);
		if (len < 24)
			goto out;
		uint32_t proto = p[23];
		int first = !(be16(p + 20) & 0x1fff);
		size_t t = 14 + 4 * (size_t)(p[14] & 15);
		if (proto == 1) {
			hit(&best, M_ICMP);
			if (first && t < len && (p[t] == 0 || p[t] == 8))
				hit(&best, M_ICMP_ECHO);
		} else if (proto == 6 && first) {
			tcp_ports(p, len, t, &best);
			if (t + 4 <= len && be16(p + t + 2) == 8080 && len >= 34 &&
			    (be32(p + 30) & 0xffff0000u) == 0x0a010000u)
				hit(&best, M_APP);
			if (t + 14 <= len && (p[t + 13] & 0x12) == 0x02)
				hit(&best, M_SYN);
		} else if (proto == 17 && first) {
			udp_ports(p, len, t, &best);
		}
	} else if (type == 0x86dd) {
		if (len < 21)
			goto out;
		uint32_t nxt = p[20];
		if (nxt == 58 || (nxt == 44 && len > 54 && p[54] == 58))
			hit(&best, M_ICMP6);
		if (nxt == 6) {
			tcp_ports(p, len, 54, &best);
			if (len >= 58 && be16(p + 56) == 443 && be32(p + 38) == 0x20010db8u)
				hit(&best, M_WEB6);
		} else if (nxt == 17) {
			udp_ports(p, len, 54, &best);
		}
	}
out:
	return best < NMIXED ? h->id[best] : DPF_NOMATCH;
}

static void mixed_make(struct workload *w, uint32_t npk)
{
	w->n = NMIXED;
	w->dpf = xmalloc(NMIXED * 160);
	char *p = w->dpf;
	w->tcpdump = xmalloc(NMIXED * sizeof *w->tcpdump);
	for (uint32_t k = 0; k < NMIXED; k++) {
		p += sprintf(p, "filter %s priority %u { %s }\n", mixed[k].name,
		             mixed[k].prio, mixed[k].dpf);
		w->tcpdump[k] = xstrdup(mixed[k].tcpdump);
	}
	w->dpflen = (size_t)(p - w->dpf);
	w->hw = xcalloc(1, sizeof(struct hw_mixed));
	/* Cumulative percentages of what a site's edge sees. */
	enum {
		T_HTTP, T_HTTPS, T_SSH, T_SMTP, T_APP, T_TCP_OTHER, T_DNS_Q,
		T_DNS_R, T_NTP, T_DHCP, T_UDP_OTHER, T_MGMT, T_ECHO, T_UNREACH,
		T_ARP_REQ, T_ARP_REP, T_WEB6, T_HTTPS6, T_HTTP6, T_DNS6, T_ICMP6,
		T_UDP6_OTHER, T_VLAN100, T_VLAN200, T_VLAN300, T_LLDP, T_GRE, NT
	};
	static const uint8_t pct[NT] = {14, 16, 2, 1, 6, 9, 5, 4, 2, 1, 6, 2, 2,
	                                1, 2, 1, 8, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1};
	struct cli_rng r = {0x313D};
	trace_alloc(&w->trace, npk);
	uint8_t buf[CLI_FRAME_MAX];
	for (uint32_t i = 0; i < npk; i++) {
		uint32_t x = cli_rng_below(&r, 100), kind = 0, acc = pct[0];
		while (x >= acc && kind + 1 < NT)
			acc += pct[++kind];
		struct cli_frame_spec s;
		memset(&s, 0, sizeof s);
		s.dmac[0] = 2;
		s.smac[0] = 2;
		s.smac[5] = (uint8_t)i;
		s.proto = CLI_P_TCP;
		s.src[0] = 198;
		s.src[1] = 51;
		s.src[2] = 100;
		s.src[3] = (uint8_t)cli_rng_below(&r, 256);
		s.dst[0] = 10;
		s.dst[2] = (uint8_t)cli_rng_below(&r, 4);
		s.dst[3] = (uint8_t)(1 + cli_rng_below(&r, 250));
		s.sport = (uint16_t)(32768 + cli_rng_below(&r, 28000));
		s.paylen = cli_rng_below(&r, 200);
		size_t len = 0;
		switch (kind) {
		case T_HTTP: s.dport = 80; break;
		case T_HTTPS: s.dport = 443; break;
		case T_SSH: s.dport = 22; break;
		case T_SMTP: s.dport = 25; break;
		case T_APP: s.dst[1] = 1; s.dport = 8080; break;
		case T_TCP_OTHER: s.dport = (uint16_t)(1024 + cli_rng_below(&r, 7000)); break;
		case T_DNS_Q: s.proto = CLI_P_UDP; s.dport = 53; break;
		case T_DNS_R: s.proto = CLI_P_UDP; s.dport = s.sport; s.sport = 53; break;
		case T_NTP: s.proto = CLI_P_UDP; s.dport = 123; break;
		case T_DHCP: s.proto = CLI_P_UDP; s.sport = 68; s.dport = 67; break;
		case T_UDP_OTHER: s.proto = CLI_P_UDP; s.dport = (uint16_t)(10000 + cli_rng_below(&r, 50000)); break;
		case T_MGMT:
			s.src[0] = 192; s.src[1] = 168; s.src[2] = 100;
			s.dport = (uint16_t)(1024 + cli_rng_below(&r, 7000));
			break;
		case T_ECHO: s.proto = CLI_P_ICMP; s.icmp_type = cli_rng_below(&r, 2) ? 8 : 0; break;
		case T_UNREACH: s.proto = CLI_P_ICMP; s.icmp_type = 3; break;
		case T_ARP_REQ:
		case T_ARP_REP: {
			uint8_t sha[6] = {2, 0, 0, 0, 0, (uint8_t)i}, tha[6] = {2, 0, 0, 0, 0, 9};
			uint8_t spa[4] = {10, 0, 0, (uint8_t)i}, tpa[4] = {10, 0, 0, 1};
			len = cli_frame_arp(buf, kind == T_ARP_REQ ? 1 : 2, sha, spa, tha, tpa);
			break;
		}
		case T_WEB6:
		case T_HTTPS6:
		case T_HTTP6:
		case T_DNS6:
		case T_ICMP6:
		case T_UDP6_OTHER:
			s.v6 = 1;
			memset(s.src, 0, 16);
			memset(s.dst, 0, 16);
			s.src[0] = 0x2a; s.src[1] = 0x02; s.src[15] = (uint8_t)i;
			s.dst[0] = 0x2a; s.dst[1] = 0x00; s.dst[15] = (uint8_t)(i >> 3);
			s.dport = 443;
			if (kind == T_WEB6) {
				s.dst[0] = 0x20; s.dst[1] = 0x01; s.dst[2] = 0x0d; s.dst[3] = 0xb8;
			} else if (kind == T_HTTP6) {
				s.dport = 80;
			} else if (kind == T_DNS6) {
				s.proto = CLI_P_UDP; s.dport = 53;
			} else if (kind == T_ICMP6) {
				s.proto = CLI_P_ICMP6; s.icmp_type = 135;
			} else if (kind == T_UDP6_OTHER) {
				s.proto = CLI_P_UDP; s.dport = (uint16_t)(10000 + cli_rng_below(&r, 50000));
			}
			break;
		case T_VLAN100: s.vlan = 1; s.vid = 100; s.proto = CLI_P_UDP; s.dport = 5000; break;
		case T_VLAN200: s.vlan = 1; s.vid = 200; s.dport = 80; break;
		case T_VLAN300: s.vlan = 1; s.vid = 300; s.dport = 80; break;
		case T_LLDP: s.ethertype = 0x88cc; s.proto = 0; s.paylen = 40; break;
		case T_GRE: s.proto = 47; s.paylen = 8 + cli_rng_below(&r, 100); break;
		}
		if (!len)
			len = cli_frame_build(buf, &s, &r, NULL);
		trace_put(&w->trace, i, buf, len);
	}
}

/* ---- all ---- */

void workload_make(struct workload *w, int kind, uint32_t n, uint32_t npk)
{
	memset(w, 0, sizeof *w);
	w->kind = kind;
	w->n = n;
	switch (kind) {
	case W_FLOWS:
		w->name = "tcp-flows";
		w->dpf = flow_src(n, 0, &w->dpflen);
		w->tcpdump = xmalloc(n * sizeof *w->tcpdump);
		for (uint32_t k = 0; k < n; k++) {
			char a[20], e[80];
			dotted(a, sizeof a, flow_dst(k));
			snprintf(e, sizeof e, "ip dst host %s and tcp dst port %u", a,
			         flow_port(k));
			w->tcpdump[k] = xstrdup(e);
		}
		flow_trace(&w->trace, n, npk, 0x5EED + n);
		w->hw = xcalloc(1, sizeof(struct hw_flows));
		break;
	case W_UDP:
		w->name = "udp-ports";
		udp_make(w, n, npk);
		break;
	default:
		w->name = "mixed";
		mixed_make(w, npk);
		break;
	}
}

void workload_extra(const struct workload *w, uint32_t k, char *dpf,
                    size_t dcap, char *expr, size_t ecap)
{
	if (w->kind == W_UDP) {
		uint16_t port = udp_port(w->n + k);
		snprintf(dpf, dcap, "filter extra%u { udp.dport == %u }", k, port);
		snprintf(expr, ecap, "udp dst port %u", port);
		return;
	}
	/* tcp-flows, and for mixed a flow at a priority of its own */
	char a[20];
	uint32_t f = 100000 + k;
	dotted(a, sizeof a, flow_dst(f));
	snprintf(dpf, dcap,
	         "filter extra%u priority %u { ip.dst == %s and tcp.dport == %u }",
	         k, w->kind == W_MIXED ? 70 : 0, a, flow_port(f));
	snprintf(expr, ecap, "ip dst host %s and tcp dst port %u", a,
	         flow_port(f));
}

void workload_hand(struct workload *w, const int32_t *ids)
{
	if (w->kind == W_FLOWS) {
		hw_flows_build(w->hw, w->n, ids);
	} else if (w->kind == W_UDP) {
		struct hw_udp *h = w->hw;
		for (uint32_t p = 0; p < 65536; p++)
			h->id[p] = DPF_NOMATCH;
		for (uint32_t k = 0; k < w->n; k++)
			h->id[udp_port(k)] = ids[k];
	} else {
		struct hw_mixed *h = w->hw;
		memcpy(h->id, ids, sizeof h->id);
	}
}

hand_fn workload_hand_fn(const struct workload *w)
{
	return w->kind == W_FLOWS ? hw_flows_classify
	       : w->kind == W_UDP ? hw_udp_classify
	                          : hw_mixed_classify;
}

void workload_free(struct workload *w)
{
	for (uint32_t k = 0; k < w->n; k++)
		free(w->tcpdump[k]);
	free(w->tcpdump);
	free(w->dpf);
	if (w->kind == W_FLOWS)
		hw_flows_free(w->hw);
	free(w->hw);
	trace_free(&w->trace);
}

/* ---- the shape table ---- */

const char *const shape_name[NSHAPE] = {"flows-distinct", "flows-repeat",
                                        "5-tuple"};
const char *const traffic_name[NTRAFFIC] = {"uniform", "zipf-1.1"};

/* A set of 64-bit keys (never 0), to keep flows and hosts distinct. */
struct kset {
	uint64_t *k;
	uint32_t mask;
};

static void kset_init(struct kset *s, uint32_t n)
{
	uint32_t cap = 64;
	while (cap < 4 * n)
		cap *= 2;
	s->k = xcalloc(cap, sizeof *s->k);
	s->mask = cap - 1;
}

static uint32_t kmix(uint64_t k, uint32_t mask)
{
	k ^= k >> 29;
	return (uint32_t)((k * 0xBF58476D1CE4E5B9ull) >> 32) & mask;
}

/* 1 when k was not in the set (and is now). */
static int kset_add(struct kset *s, uint64_t k)
{
	uint32_t i = kmix(k, s->mask);
	for (; s->k[i]; i = (i + 1) & s->mask)
		if (s->k[i] == k)
			return 0;
	s->k[i] = k;
	return 1;
}

static int kset_has(const struct kset *s, uint64_t k)
{
	for (uint32_t i = kmix(k, s->mask); s->k[i]; i = (i + 1) & s->mask)
		if (s->k[i] == k)
			return 1;
	return 0;
}

/* Ports a host carries: P(k) ~ 1/k^2 for k = 1..64. */
static uint32_t ports_per_host(struct cli_rng *r)
{
	static double cdf[64];
	if (cdf[63] == 0) {
		double sum = 0;
		for (int k = 0; k < 64; k++)
			cdf[k] = sum += 1.0 / ((k + 1.0) * (k + 1.0));
		for (int k = 0; k < 64; k++)
			cdf[k] /= sum;
	}
	double u = (double)(cli_rng_next(r) >> 11) / 9007199254740992.0;
	uint32_t k = 0;
	while (k < 63 && cdf[k] < u)
		k++;
	return k + 1;
}

static uint64_t pair_key(uint32_t dst, uint16_t port)
{
	return (uint64_t)dst << 16 | port;
}

/* A flow's key in the trace generator's set (src and sport 0 for the
 * two-field shapes); distinct flows may share one, never the reverse. */
static uint64_t flow_key(const struct shape_set *w, uint32_t src,
                         uint32_t dst, uint16_t sport, uint16_t dport)
{
	if (w->shape != SH_5TUPLE)
		src = sport = 0;
	return pair_key(dst, dport) ^ ((uint64_t)src << 24 ^ sport) << 1;
}

static void shape_flows(struct shape_set *w, struct cli_rng *r)
{
	struct kset hosts, flows;
	kset_init(&hosts, w->n);
	kset_init(&flows, w->n);
	uint32_t k = 0;
	while (k < w->n) {
		uint32_t a;
		do
			a = 0x0a000000u | cli_rng_below(r, 1u << 24);
		while (!kset_add(&hosts, a));
		w->hosts++;
		uint32_t ports = w->shape == SH_DISTINCT ? 1 : ports_per_host(r);
		for (uint32_t i = 0; i < ports && k < w->n; i++) {
			uint16_t p;
			do
				p = (uint16_t)(1 + cli_rng_below(r, 65535));
			while (!kset_add(&flows, pair_key(a, p)));
			w->dst[k] = a;
			w->dport[k] = p;
			w->src[k] = 0;
			w->sport[k] = 0;
			k++;
		}
	}
	if (w->shape == SH_5TUPLE) {
		struct kset cl;
		kset_init(&cl, w->n);
		for (k = 0; k < w->n; k++) {
			uint32_t s;
			uint16_t sp;
			do {
				s = 0xac100000u | cli_rng_below(r, 1u << 20); /* 172.16/12 */
				sp = (uint16_t)(1024 + cli_rng_below(r, 64512));
			} while (!kset_add(&cl, (uint64_t)s << 16 | sp));
			w->src[k] = s;
			w->sport[k] = sp;
		}
		free(cl.k);
	}
	free(hosts.k);
	free(flows.k);
}

static void shape_text(struct shape_set *w)
{
	w->dpf = xmalloc((size_t)w->n * 128 + 16);
	char *p = w->dpf;
	*p = 0;
	for (uint32_t k = 0; k < w->n; k++) {
		char d[20], s[20];
		dotted(d, sizeof d, w->dst[k]);
		if (w->shape == SH_5TUPLE) {
			dotted(s, sizeof s, w->src[k]);
			p += sprintf(p,
			             "filter t%u { ip.src == %s and ip.dst == %s and "
			             "tcp.sport == %u and tcp.dport == %u }\n",
			             k, s, d, w->sport[k], w->dport[k]);
		} else {
			p += sprintf(p,
			             "filter f%u { ip.dst == %s and tcp.dport == %u }\n", k,
			             d, w->dport[k]);
		}
	}
	w->dpflen = (size_t)(p - w->dpf);
}

static void put_ip(uint8_t *b, uint32_t a)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(a >> (24 - 8 * i));
}

static void shape_traffic(struct shape_set *w, int traffic, uint32_t npk,
                          struct cli_rng *r)
{
	uint32_t n = w->n;
	uint32_t *perm = xmalloc(n * sizeof *perm);
	double *cdf = NULL;
	for (uint32_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = cli_rng_below(r, i), t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
	if (traffic == TR_ZIPF) {
		cdf = xmalloc(n * sizeof *cdf);
		double sum = 0;
		for (uint32_t i = 0; i < n; i++)
			cdf[i] = sum += 1.0 / pow(i + 1.0, 1.1);
		for (uint32_t i = 0; i < n; i++)
			cdf[i] /= sum;
	}
	struct kset set;
	kset_init(&set, n);
	for (uint32_t k = 0; k < n; k++)
		kset_add(&set, flow_key(w, w->src[k], w->dst[k], w->sport[k],
		                        w->dport[k]));
	trace_alloc(&w->trace, npk);
	uint8_t buf[CLI_FRAME_MAX];
	for (uint32_t i = 0; i < npk; i++) {
		uint32_t f;
		if (cdf) {
			double u = (double)(cli_rng_next(r) >> 11) / 9007199254740992.0;
			uint32_t lo = 0, hi = n - 1;
			while (lo < hi) {
				uint32_t mid = (lo + hi) / 2;
				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			f = perm[lo];
		} else {
			f = cli_rng_below(r, n);
		}
		struct cli_frame_spec s;
		memset(&s, 0, sizeof s);
		s.proto = CLI_P_TCP;
		uint32_t src = w->shape == SH_5TUPLE ? w->src[f]
		                                     : 0xc6336400u | (i & 255);
		uint32_t dst = w->dst[f];
		s.sport = w->shape == SH_5TUPLE
			? w->sport[f] : (uint16_t)(32768 + cli_rng_below(r, 28000));
		s.dport = w->dport[f];
		uint32_t kind = cli_rng_below(r, 100);
		if (kind >= 90 && kind < 94) { /* a host of the set, another flow */
			do {
				if (w->shape == SH_5TUPLE)
					s.sport = (uint16_t)(1024 + cli_rng_below(r, 64512));
				else
					s.dport = (uint16_t)(1 + cli_rng_below(r, 65535));
			} while (kset_has(&set, flow_key(w, src, dst, s.sport, s.dport)));
		} else if (kind >= 94 && kind < 97) {
			dst = 0xc0000200u | cli_rng_below(r, 256); /* 192.0.2.x */
		} else if (kind >= 97 && kind < 99) {
			s.proto = CLI_P_UDP;
		}
		put_ip(s.src, src);
		put_ip(s.dst, dst);
		s.paylen = cli_rng_below(r, 40);
		size_t len = kind >= 99 ? noise_arp(buf)
		                        : cli_frame_build(buf, &s, r, NULL);
		trace_put(&w->trace, i, buf, len);
	}
	free(set.k);
	free(cdf);
	free(perm);
}

void shape_make(struct shape_set *w, int shape, uint32_t n, int traffic,
                uint32_t npk, uint64_t seed)
{
	memset(w, 0, sizeof *w);
	w->shape = shape;
	w->name = shape_name[shape];
	w->n = n;
	w->src = xmalloc(n * sizeof *w->src);
	w->dst = xmalloc(n * sizeof *w->dst);
	w->sport = xmalloc(n * sizeof *w->sport);
	w->dport = xmalloc(n * sizeof *w->dport);
	struct cli_rng r = {seed * 0x100000001B3ull + (uint64_t)shape * 977 + n};
	shape_flows(w, &r);
	shape_text(w);
	struct cli_rng rt = {r.s ^ (0x7A7Au + (uint64_t)traffic)};
	shape_traffic(w, traffic, npk, &rt);
}

struct hw_fent {
	uint64_t a, b; /* (dst << 16 | dport, 0) or (src << 32 | dst, sport << 16 | dport) */
	int32_t id;    /* DPF_NOMATCH: empty */
};

static inline uint32_t hw_fhash(uint64_t a, uint64_t b, uint32_t mask)
{
	return (uint32_t)(((a ^ b * 0xC2B2AE3D27D4EB4Full) * 0x9E3779B97F4A7C15ull) >>
	                  32) & mask;
}

size_t shape_hand(struct shape_set *w, const int32_t *ids)
{
	uint32_t cap = 16;
	while (cap < 2 * w->n)
		cap *= 2;
	w->hw.t = xmalloc(cap * sizeof *w->hw.t);
	for (uint32_t i = 0; i < cap; i++)
		w->hw.t[i].id = DPF_NOMATCH;
	w->hw.mask = cap - 1;
	for (uint32_t k = 0; k < w->n; k++) {
		uint64_t a, b;
		if (w->shape == SH_5TUPLE) {
			a = (uint64_t)w->src[k] << 32 | w->dst[k];
			b = (uint64_t)w->sport[k] << 16 | w->dport[k];
		} else {
			a = pair_key(w->dst[k], w->dport[k]);
			b = 0;
		}
		uint32_t i = hw_fhash(a, b, w->hw.mask);
		while (w->hw.t[i].id != DPF_NOMATCH)
			i = (i + 1) & w->hw.mask;
		w->hw.t[i].a = a;
		w->hw.t[i].b = b;
		w->hw.t[i].id = ids[k];
	}
	return cap * sizeof *w->hw.t;
}

/* IPv4, first fragment, TCP; the TCP header's offset, or 0. */
static inline size_t tcp4_at(const uint8_t *p, size_t len)
{
	if (len < 34 || be16(p + 12) != 0x0800 || (be16(p + 20) & 0x1fff) ||
	    p[23] != 6)
		return 0;
	size_t l4 = 14 + 4 * (size_t)(p[14] & 15);
	return l4 + 4 > len ? 0 : l4;
}

static inline int hw_fused_find(const struct hw_fused *h, uint64_t a,
                                uint64_t b)
{
	for (uint32_t i = hw_fhash(a, b, h->mask);; i = (i + 1) & h->mask) {
		const struct hw_fent *x = &h->t[i];
		if (x->id == DPF_NOMATCH)
			return DPF_NOMATCH;
		if (x->a == a && x->b == b)
			return x->id;
	}
}

static __attribute__((noinline)) int hw_pair_classify(const void *hw,
                                                      const uint8_t *p,
                                                      size_t len)
{
	size_t l4 = tcp4_at(p, len);
	if (!l4)
		return DPF_NOMATCH;
	return hw_fused_find(hw, pair_key(be32(p + 30), (uint16_t)be16(p + l4 + 2)),
	                     0);
}

static __attribute__((noinline)) int hw_5t_classify(const void *hw,
                                                    const uint8_t *p,
                                                    size_t len)
{
	size_t l4 = tcp4_at(p, len);
	if (!l4)
		return DPF_NOMATCH;
	return hw_fused_find(hw, (uint64_t)be32(p + 26) << 32 | be32(p + 30),
	                     (uint64_t)be16(p + l4) << 16 | be16(p + l4 + 2));
}

hand_fn shape_hand_fn(const struct shape_set *w)
{
	return w->shape == SH_5TUPLE ? hw_5t_classify : hw_pair_classify;
}

void shape_free(struct shape_set *w)
{
	free(w->src);
	free(w->dst);
	free(w->sport);
	free(w->dport);
	free(w->dpf);
	free(w->hw.t);
	trace_free(&w->trace);
}
