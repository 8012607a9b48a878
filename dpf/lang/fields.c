/*
 * fields.c - the table of protocol words and fields, and the checks of
 * values and masks against a field.
 *
 * Each field names what it takes (a number of 8/12/16/32 bits, an IPv4,
 * IPv6 or MAC address) and one or more locations.  A location is a guard
 * set (enum lang_guard, expanded into atoms by expand.c) plus an offset:
 * from L, the link payload offset in force (14, plus 4 per VLAN tag seen
 * on the path), or from the frame start when `abs`, and relative to the
 * IPv4 header length shift when `rel`.  Several locations mean "any of
 * them" (tcp.port is sport or dport, over IPv4 or IPv6).
 *
 * The table is the contract with libpcap 1.10: each row generates what
 * `tcpdump -d` shows for the equivalent named in docs/LANGUAGE.md.
 */
#include "dpf/lang/lang_int.h"

#include <stdio.h>
#include <string.h>

#define NUM(b) LV_NUM, b
#define L1(g, r, o) 1, {{g, r, 0, o}}
#define ABS1(o) 1, {{LG_NONE, 0, 1, o}}
/* tcp/udp ports: IPv4 after the IHL shift, IPv6 at a fixed 40 bytes. */
#define PORT(g4, g6, o) 2, {{g4, 1, 0, o}, {g6, 0, 0, 40 + (o)}}
#define PORTS(g4, g6)                                                        \
	4, {{g4, 1, 0, 0}, {g6, 0, 0, 40}, {g4, 1, 0, 2}, {g6, 0, 0, 42}}

static const struct lang_field fields[] = {
	/* name        takes          raw adv  locations */
	{"eth.dst", LV_MAC, 48, 0, 0, ABS1(0)},
	{"eth.src", LV_MAC, 48, 0, 0, ABS1(6)},
	{"eth.addr", LV_MAC, 48, 0, 0, 2, {{LG_NONE, 0, 1, 6}, {LG_NONE, 0, 1, 0}}},
	{"eth.type", NUM(16), 0, 0, L1(LG_NONE, 0, -2)},
	{"vlan.id", NUM(12), 0, 4, L1(LG_VLAN, 0, 0)},
	{"arp.op", NUM(16), 0, 0, L1(LG_ARP, 0, 6)},
	{"arp.sha", LV_MAC, 48, 0, 0, L1(LG_ARP, 0, 8)},
	{"arp.spa", LV_IPV4, 32, 0, 0, L1(LG_ARP, 0, 14)},
	{"arp.tha", LV_MAC, 48, 0, 0, L1(LG_ARP, 0, 18)},
	{"arp.tpa", LV_IPV4, 32, 0, 0, L1(LG_ARP, 0, 24)},
	{"ip.src", LV_IPV4, 32, 0, 0, L1(LG_IP, 0, 12)},
	{"ip.dst", LV_IPV4, 32, 0, 0, L1(LG_IP, 0, 16)},
	{"ip.addr", LV_IPV4, 32, 0, 0, 2, {{LG_IP, 0, 0, 12}, {LG_IP, 0, 0, 16}}},
	{"ip.proto", NUM(8), 0, 0, L1(LG_IP, 0, 9)},
	{"ip.tos", NUM(8), 0, 0, L1(LG_IP, 0, 1)},
	{"ip.ttl", NUM(8), 0, 0, L1(LG_IP, 0, 8)},
	{"ip.len", NUM(16), 0, 0, L1(LG_IP, 0, 2)},
	{"ip.id", NUM(16), 0, 0, L1(LG_IP, 0, 4)},
	{"ip.off", NUM(16), 0, 0, L1(LG_IP, 0, 6)},
	{"ip6.src", LV_IPV6, 128, 0, 0, L1(LG_IP6, 0, 8)},
	{"ip6.dst", LV_IPV6, 128, 0, 0, L1(LG_IP6, 0, 24)},
	{"ip6.addr", LV_IPV6, 128, 0, 0,
	 2, {{LG_IP6, 0, 0, 8}, {LG_IP6, 0, 0, 24}}},
	{"ip6.nxt", NUM(8), 0, 0, L1(LG_IP6, 0, 6)},
	{"ip6.hlim", NUM(8), 0, 0, L1(LG_IP6, 0, 7)},
	{"ip6.plen", NUM(16), 0, 0, L1(LG_IP6, 0, 4)},
	{"tcp.sport", NUM(16), 0, 0, PORT(LG_TCP4, LG_TCP6, 0)},
	{"tcp.dport", NUM(16), 0, 0, PORT(LG_TCP4, LG_TCP6, 2)},
	{"tcp.port", NUM(16), 0, 0, PORTS(LG_TCP4, LG_TCP6)},
	{"tcp.flags", NUM(8), 0, 0, L1(LG_TCP4, 1, 13)},
	{"udp.sport", NUM(16), 0, 0, PORT(LG_UDP4, LG_UDP6, 0)},
	{"udp.dport", NUM(16), 0, 0, PORT(LG_UDP4, LG_UDP6, 2)},
	{"udp.port", NUM(16), 0, 0, PORTS(LG_UDP4, LG_UDP6)},
	{"icmp.type", NUM(8), 0, 0, L1(LG_ICMP4, 1, 0)},
	{"icmp.code", NUM(8), 0, 0, L1(LG_ICMP4, 1, 1)},
	{"icmp6.type", NUM(8), 0, 0, L1(LG_ICMP6, 0, 40)},
	{"icmp6.code", NUM(8), 0, 0, L1(LG_ICMP6, 0, 41)},
	/* Raw bytes: the offset comes from the source, e.g. u16[12]. */
	{"u8", NUM(8), 1, 0, ABS1(0)},
	{"u16", NUM(16), 1, 0, ABS1(0)},
	{"u32", NUM(32), 1, 0, ABS1(0)},
};

static const char *const words[] = {
	[LW_ETH] = "eth",   [LW_VLAN] = "vlan", [LW_ARP] = "arp",
	[LW_IP] = "ip",     [LW_IP6] = "ip6",   [LW_TCP] = "tcp",
	[LW_UDP] = "udp",   [LW_ICMP] = "icmp", [LW_ICMP6] = "icmp6",
};

static int same(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

const struct lang_field *lang_field_find(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (same(s, n, fields[i].name))
			return &fields[i];
	return NULL;
}

int lang_word_find(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (same(s, n, words[i]))
			return (int)i;
	return -1;
}

static const char *with_article(int kind)
{
	switch (kind) {
	case LV_NUM: return "a number";
	case LV_IPV4: return "an IPv4 address";
	case LV_IPV6: return "an IPv6 address";
	default: return "a MAC address";
	}
}

static uint32_t field_max(const struct lang_field *f)
{
	return f->bits >= 32 ? 0xffffffffu : (1u << f->bits) - 1;
}

int lang_field_check_mask(struct lang_ctx *cx, const struct lang_fref *fr,
                          const struct lang_tok *amp,
                          const struct lang_tok *mtok, uint32_t mask)
{
	const struct lang_field *f = fr->f;
	if (f->takes != LV_NUM) {
		lang_error(cx, amp->pos,
		           "mask not allowed on address field '%s'%s", fr->disp,
		           f->takes == LV_MAC ? "" : " (use a /prefix)");
		return -1;
	}
	if (mask == 0) {
		lang_error(cx, mtok->pos,
		           "mask %.*s is zero: it selects no bits of field '%s'",
		           (int)mtok->n, mtok->s, fr->disp);
		return -1;
	}
	if (mask > field_max(f)) {
		lang_error(cx, mtok->pos, "mask %.*s too large for %u-bit field '%s'",
		           (int)mtok->n, mtok->s, f->bits, fr->disp);
		return -1;
	}
	return 0;
}

int lang_field_check_value(struct lang_ctx *cx, const struct lang_fref *fr,
                           const struct lang_value *v, int masked,
                           uint32_t mask, const struct lang_tok *mtok)
{
	const struct lang_field *f = fr->f;
	char q[64];
	if (v->kind != f->takes) {
		lang_quote(q, sizeof q, v->tok.s, v->tok.n);
		lang_error(cx, v->tok.pos, "field '%s' takes %s, not %s %s",
		           fr->disp, with_article(f->takes), lang_vk_name(v->kind),
		           q);
		return -1;
	}
	if (v->kind != LV_NUM)
		return 0;
	if (v->num > field_max(f)) {
		lang_error(cx, v->tok.pos, "value %.*s too large for %u-bit field '%s'",
		           (int)v->tok.n, v->tok.s, f->bits, fr->disp);
		return -1;
	}
	if (masked && (v->num & ~mask)) {
		lang_error(cx, v->tok.pos, "value %.*s has bits outside mask %.*s",
		           (int)v->tok.n, v->tok.s, (int)mtok->n, mtok->s);
		return -1;
	}
	return 0;
}

void lang_fref_name(struct lang_fref *fr)
{
	if (fr->f->raw)
		snprintf(fr->disp, sizeof fr->disp, "%s[%u]", fr->f->name,
		         (unsigned)fr->raw_off);
	else
		snprintf(fr->disp, sizeof fr->disp, "%s", fr->f->name);
}
