/*
 * ash_gen.c - the trace bench_ash runs, held in memory (ash_gen.h).
 *
 * One generator for bench_ash and tests/ash/ash_trace.c: UDP to
 * ports 7 and 9 and others (payloads random, all zero or all 0xff), TCP
 * with and without SYN, ICMP echo requests with correct checksums,
 * 802.1Q-tagged IPv4, IPv6, ARP, frames up to 1514 bytes, TTLs 1..255,
 * a pool of flows that repeats so flow tables fill and LRU tables evict.
 * ash_trace writes one seed's frames as they come; atrace_gen appends
 * several seeds' to a trace in memory, the cut-off IPv4 "runts" padded to
 * 60 bytes (the Ethernet minimum) so every frame is 60..1514 bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "bench/ash_gen.h"

#define POOL AGEN_POOL

static uint32_t next(struct agen *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 11);
}

static uint32_t below(struct agen *r, uint32_t n)
{
	return next(r) % n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void rand_mac(struct agen *r, uint8_t *m)
{
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)next(r);
	m[0] &= 0xfe; /* unicast */
}

static void rand_flow(struct agen *r, struct agen_flow *f)
{
	static const uint16_t ports[] = { 7, 9, 53, 80, 443, 0, 22 };
	static const uint8_t protos[] = { 17, 17, 17, 6, 6, 1 };

	rand_mac(r, f->src_mac);
	rand_mac(r, f->dst_mac);
	f->saddr = 0x0a000000u | below(r, 1 << 16);
	f->daddr = 0xc0a80000u | below(r, 256);
	f->proto = protos[below(r, sizeof protos)];
	f->sport = (uint16_t)(1024 + below(r, 60000));
	f->dport = below(r, 3) ? ports[below(r, sizeof ports / sizeof ports[0])]
	                       : (uint16_t)below(r, 65536);
}

/* Fill a payload: random, all zero, or all 0xff. */
static void payload(struct agen *r, uint8_t *p, size_t n)
{
	uint32_t kind = below(r, 6);
	for (size_t i = 0; i < n; i++)
		p[i] = kind == 0 ? 0 : kind == 1 ? 0xff : (uint8_t)next(r);
}

/* An Ethernet + IPv4 frame for flow f with n payload bytes after the
 * transport header; returns the frame length. */
static size_t ipv4_frame(struct agen *r, const struct agen_flow *f, uint8_t *b,
                         size_t n, int vlan)
{
	size_t off = 0;
	memcpy(b, f->dst_mac, 6);
	memcpy(b + 6, f->src_mac, 6);
	if (vlan) {
		put16(b + 12, 0x8100);
		put16(b + 14, (uint16_t)(below(r, 8) << 13 | below(r, 4095)));
		off = 4;
	}
	put16(b + 12 + off, 0x0800);
	uint8_t *ip = b + 14 + off, *l4 = ip + 20;
	size_t l4len = f->proto == 6 ? 20 : 8;
	uint8_t ttl = (uint8_t)(below(r, 5) == 0 ? 1 : 2 + below(r, 254));
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + l4len + n));
	put16(ip + 4, (uint16_t)next(r));
	put16(ip + 6, 0x4000);
	ip[8] = ttl;
	ip[9] = f->proto;
	put16(ip + 10, 0);
	put32(ip + 12, f->saddr);
	put32(ip + 16, f->daddr);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	payload(r, l4 + l4len, n);
	uint32_t pseudo = sum16(ip + 12, 8, 0) + f->proto + (uint32_t)(l4len + n);
	if (f->proto == 17) {
		put16(l4, f->sport);
		put16(l4 + 2, f->dport);
		put16(l4 + 4, (uint16_t)(8 + n));
		put16(l4 + 6, 0);
		uint16_t c = fold(sum16(l4, 8 + n, pseudo));
		put16(l4 + 6, c ? c : 0xffff);
	} else if (f->proto == 6) {
		static const uint8_t flags[] = { 0x02, 0x02, 0x12, 0x10, 0x18,
		                                 0x11, 0x04 };
		put16(l4, f->sport);
		put16(l4 + 2, f->dport);
		put32(l4 + 4, next(r));
		put32(l4 + 8, next(r));
		l4[12] = 5 << 4;
		l4[13] = flags[below(r, sizeof flags)];
		put16(l4 + 14, 65535);
		put16(l4 + 16, 0);
		put16(l4 + 18, 0);
		put16(l4 + 16, fold(sum16(l4, 20 + n, pseudo)));
	} else {
		/* ICMP: echo request, sometimes another type */
		l4[0] = below(r, 6) ? 8 : 13;
		l4[1] = 0;
		put16(l4 + 2, 0);
		put16(l4 + 4, f->sport);
		put16(l4 + 6, (uint16_t)below(r, 100));
		put16(l4 + 2, fold(sum16(l4, 8 + n, 0)));
	}
	return 14 + off + 20 + l4len + n;
}

static size_t ipv6_frame(struct agen *r, uint8_t *b, size_t n)
{
	rand_mac(r, b);
	rand_mac(r, b + 6);
	put16(b + 12, 0x86dd);
	uint8_t *ip = b + 14;
	put32(ip, 0x60000000u);
	put16(ip + 4, (uint16_t)(8 + n));
	ip[6] = 17;
	ip[7] = 64;
	for (int i = 8; i < 40; i++)
		ip[i] = (uint8_t)next(r);
	put16(ip + 40, (uint16_t)(1024 + below(r, 1000)));
	put16(ip + 42, below(r, 2) ? 7 : 53);
	put16(ip + 44, (uint16_t)(8 + n));
	put16(ip + 46, 0);
	payload(r, ip + 48, n);
	return 14 + 40 + 8 + n;
}

static size_t arp_frame(struct agen *r, uint8_t *b)
{
	memset(b, 0xff, 6);
	rand_mac(r, b + 6);
	put16(b + 12, 0x0806);
	uint8_t *a = b + 14;
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, b + 6, 6);
	put32(a + 14, 0x0a000000u | below(r, 256));
	memset(a + 18, 0, 6);
	put32(a + 24, 0x0a000000u | below(r, 256));
	memset(a + 28, 0, 14); /* pad to 60 */
	return 60;
}

void atrace_add(struct atrace *t, const uint8_t *p, uint32_t len)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->off = realloc(t->off, t->cap * sizeof *t->off);
		t->len = realloc(t->len, t->cap * sizeof *t->len);
		if (!t->off || !t->len)
			abort();
	}
	if (t->bytes + len > t->bcap) {
		while (t->bytes + len > t->bcap)
			t->bcap = t->bcap ? 2 * t->bcap : 1 << 20;
		t->data = realloc(t->data, t->bcap);
		if (!t->data)
			abort();
	}
	memcpy(t->data + t->bytes, p, len);
	t->off[t->n] = (uint32_t)t->bytes;
	t->len[t->n] = len;
	t->bytes += len;
	t->n++;
}

void atrace_free(struct atrace *t)
{
	free(t->data);
	free(t->off);
	free(t->len);
	memset(t, 0, sizeof *t);
}

void agen_init(struct agen *g, uint64_t seed)
{
	g->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	for (int i = 0; i < POOL; i++)
		rand_flow(g, &g->pool[i]);
}

size_t agen_next(struct agen *r, uint8_t *b)
{
	struct agen_flow f;
	size_t len, n = below(r, 4) ? below(r, 64) : below(r, 1400);
	uint32_t kind = below(r, 100);

	memset(b, 0, AGEN_FRAME_MAX);
	if (kind < 45) {          /* a pooled flow, repeated */
		f = r->pool[below(r, POOL)];
		len = ipv4_frame(r, &f, b, n, 0);
	} else if (kind < 65) {   /* a fresh flow */
		rand_flow(r, &f);
		len = ipv4_frame(r, &f, b, n, 0);
	} else if (kind < 73) {   /* tagged */
		f = r->pool[below(r, POOL)];
		len = ipv4_frame(r, &f, b, n, 1);
	} else if (kind < 81) {
		len = ipv6_frame(r, b, n);
	} else if (kind < 87) {
		len = arp_frame(r, b);
	} else if (kind < 95) {   /* runt: a cut-off IPv4 frame */
		rand_flow(r, &f);
		ipv4_frame(r, &f, b, 0, below(r, 4) == 0);
		len = 14 + below(r, 47);
	} else {                  /* large */
		f = r->pool[below(r, POOL)];
		len = ipv4_frame(r, &f, b, 1400 + below(r, 1514 - 1400 - 41), 0);
	}
	return len > 1514 ? 1514 : len;
}

/* count frames of seed `seed`, as ash_trace --seed SEED --count COUNT
 * writes them, runts padded with zeros to 60 bytes. */
static void gen_seed(struct atrace *t, uint64_t seed, uint32_t count)
{
	static uint8_t b[AGEN_FRAME_MAX];
	struct agen g;
	agen_init(&g, seed);
	for (uint32_t i = 0; i < count; i++) {
		size_t len = agen_next(&g, b);
		if (len < 60) /* agen_next zeroed the rest of b */
			len = 60;
		atrace_add(t, b, (uint32_t)len);
	}
}

void atrace_gen(struct atrace *t, uint32_t count, uint32_t nseeds)
{
	for (uint32_t s = 0; s < nseeds; s++)
		gen_seed(t, s + 1, count / nseeds + (s < count % nseeds));
}
