/*
 * value.c - literal values: numbers, IPv4, IPv6 and MAC addresses.
 *
 * Interface: lang_number() for numbers alone (priorities, offsets, masks,
 * prefix lengths), lang_value_parse() for the right-hand side of a
 * comparison, lang_value_prefix() for a following "/N".
 *
 * Accepted forms:
 *   number  decimal without leading zeros (so "010" is not silently read
 *           as octal, as tcpdump would), or 0x/0X hex; at most 32 bits.
 *   IPv4    four decimal parts 0..255 without leading zeros (inet_pton).
 *   IPv6    RFC 4291 text: eight groups of 1-4 hex digits, one "::" for a
 *           run of zero groups, an optional dotted IPv4 tail.  No zone.
 *   MAC     six groups of 1-2 hex digits separated by ':'.
 * A colon form may read as a MAC or as an IPv6 address; the kind the field
 * takes decides which error the user gets when it is neither.
 */
#include "dpf/lang/lang_int.h"

#include <stdio.h>
#include <string.h>

const char *lang_vk_name(int kind)
{
	switch (kind) {
	case LV_NUM: return "number";
	case LV_IPV4: return "IPv4 address";
	case LV_IPV6: return "IPv6 address";
	default: return "MAC address";
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0 ok, -1 malformed, -2 does not fit in 32 bits. */
static int scan_number(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (size_t i = 2; i < n; i++) {
			int h = hexval(s[i]);
			if (h < 0)
				return -1;
			v = v << 4 | (unsigned)h;
			if (v > 0xffffffffu) {
				/* Keep scanning: a later bad digit is the worse error. */
				for (size_t k = i + 1; k < n; k++)
					if (hexval(s[k]) < 0)
						return -1;
				return -2;
			}
		}
	} else {
		if (n == 0 || (n > 1 && s[0] == '0'))
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			if (v <= 0xffffffffu)
				v = v * 10 + (unsigned)(s[i] - '0');
		}
		if (v > 0xffffffffu)
			return -2;
	}
	*out = (uint32_t)v;
	return 0;
}

int lang_number(struct lang_ctx *cx, const struct lang_tok *t, uint32_t *out)
{
	char q[64];
	lang_quote(q, sizeof q, t->s, t->n);
	if (t->kind != TK_VALUE) {
		lang_error(cx, t->pos, "expected a number, found %s",
		           t->kind == TK_EOF ? "end of file" : q);
		return -1;
	}
	int r = scan_number(t->s, t->n, out);
	if (r == -1) {
		if (t->n > 1 && t->s[0] == '0' && t->s[1] >= '0' && t->s[1] <= '9' &&
		    !memchr(t->s, '.', t->n) && !memchr(t->s, ':', t->n))
			lang_error(cx, t->pos,
			           "bad number %s: leading zeros are not allowed", q);
		else
			lang_error(cx, t->pos, "bad number %s", q);
		return -1;
	}
	if (r == -2) {
		lang_error(cx, t->pos, "number %s does not fit in 32 bits", q);
		return -1;
	}
	return 0;
}

/* Dotted quad into out[4]; 0 or -1. */
static int scan_ipv4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		size_t st = i;
		unsigned v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - st < 4)
			v = v * 10 + (unsigned)(s[i++] - '0');
		size_t nd = i - st;
		if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && s[st] == '0'))
			return -1;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

/* RFC 4291 text form into out[16]; 0 or -1. */
static int scan_ipv6(const char *s, size_t n, uint8_t out[16])
{
	uint16_t g[8];
	int ng = 0, dbl = -1;
	size_t i = 0;
	uint8_t v4[4];

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		dbl = 0;
		i = 2;
	} else if (n == 0 || s[0] == ':') {
		return -1;
	}
	while (i < n) {
		size_t j = i;
		while (j < n && hexval(s[j]) >= 0)
			j++;
		if (j == i)
			return -1; /* empty group: ":::" or a stray ':' */
		if (j < n && s[j] == '.') {
			/* The embedded IPv4 tail ends the address. */
			if (ng > 6 || scan_ipv4(s + i, n - i, v4) < 0)
				return -1;
			g[ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
			g[ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
			i = n;
			break;
		}
		if (j - i > 4 || ng == 8)
			return -1;
		unsigned v = 0;
		for (size_t k = i; k < j; k++)
			v = v << 4 | (unsigned)hexval(s[k]);
		g[ng++] = (uint16_t)v;
		i = j;
		if (i == n)
			break;
		if (s[i] != ':')
			return -1;
		i++;
		if (i < n && s[i] == ':') {
			if (dbl >= 0)
				return -1;
			dbl = ng;
			i++;
		} else if (i == n) {
			return -1; /* trailing single ':' */
		}
	}
	if (dbl < 0 ? ng != 8 : ng > 7)
		return -1;
	uint16_t full[8] = {0};
	if (dbl < 0) {
		memcpy(full, g, sizeof full);
	} else {
		int tail = ng - dbl;
		memcpy(full, g, (size_t)dbl * sizeof g[0]);
		memcpy(full + 8 - tail, g + dbl, (size_t)tail * sizeof g[0]);
	}
	for (int k = 0; k < 8; k++) {
		out[2 * k] = (uint8_t)(full[k] >> 8);
		out[2 * k + 1] = (uint8_t)full[k];
	}
	return 0;
}

/* Six groups of 1-2 hex digits; 0 or -1.  `shaped` is set when the text
 * looks like an attempt at a MAC (only short hex groups and single ':'). */
static int scan_mac(const char *s, size_t n, uint8_t out[6], int *shaped)
{
	int ng = 0, ok = 1;
	size_t i = 0;
	*shaped = 1;
	while (i <= n) {
		size_t j = i;
		while (j < n && hexval(s[j]) >= 0)
			j++;
		if (j == i || j - i > 2) {
			*shaped = 0;
			return -1;
		}
		unsigned v = 0;
		for (size_t k = i; k < j; k++)
			v = v << 4 | (unsigned)hexval(s[k]);
		if (ng < 6)
			out[ng] = (uint8_t)v;
		ng++;
		if (j == n)
			break;
		if (s[j] != ':') {
			*shaped = 0;
			return -1;
		}
		i = j + 1;
	}
	if (ng != 6)
		ok = 0;
	return ok ? 0 : -1;
}

int lang_value_parse(struct lang_ctx *cx, const struct lang_tok *t, int want,
                     struct lang_value *v)
{
	char q[64];
	memset(v, 0, sizeof *v);
	v->tok = *t;
	v->prefix = -1;
	lang_quote(q, sizeof q, t->s, t->n);
	if (t->kind != TK_VALUE) {
		lang_error(cx, t->pos, "expected a value, found %s",
		           t->kind == TK_EOF ? "end of file" : q);
		return -1;
	}
	if (memchr(t->s, ':', t->n)) {
		int shaped;
		uint8_t mac[6], ip6[16];
		int mac_ok = scan_mac(t->s, t->n, mac, &shaped) == 0;
		int v6_ok = scan_ipv6(t->s, t->n, ip6) == 0;
		int as_mac;
		if (want == LV_MAC)
			as_mac = mac_ok || !v6_ok;
		else if (want == LV_IPV6)
			as_mac = mac_ok && !v6_ok;
		else
			as_mac = mac_ok || (!v6_ok && shaped);
		if (as_mac && !mac_ok) {
			lang_error(cx, t->pos, "bad MAC address %s", q);
			return -1;
		}
		if (!as_mac && !v6_ok) {
			lang_error(cx, t->pos, "bad IPv6 address %s", q);
			return -1;
		}
		v->kind = as_mac ? LV_MAC : LV_IPV6;
		if (as_mac)
			memcpy(v->addr, mac, 6);
		else
			memcpy(v->addr, ip6, 16);
		return 0;
	}
	if (memchr(t->s, '.', t->n)) {
		if (scan_ipv4(t->s, t->n, v->addr) < 0) {
			lang_error(cx, t->pos, "bad IPv4 address %s", q);
			return -1;
		}
		v->kind = LV_IPV4;
		return 0;
	}
	v->kind = LV_NUM;
	return lang_number(cx, t, &v->num);
}

int lang_value_prefix(struct lang_ctx *cx, struct lang_value *v,
                      const struct lang_tok *slash, const struct lang_tok *nt)
{
	char q[96];
	if (v->kind != LV_IPV4 && v->kind != LV_IPV6) {
		lang_quote(q, sizeof q, v->tok.s, v->tok.n);
		lang_error(cx, slash->pos,
		           "a /prefix needs an IP address, not %s %s",
		           lang_vk_name(v->kind), q);
		return -1;
	}
	unsigned max = v->kind == LV_IPV4 ? 32 : 128;
	uint32_t len;
	lang_quote(q, sizeof q, nt->s, nt->n);
	if (nt->kind != TK_VALUE || scan_number(nt->s, nt->n, &len) != 0 ||
	    len > max || (nt->n > 2 && (nt->s[1] == 'x' || nt->s[1] == 'X'))) {
		lang_error(cx, nt->pos, "bad prefix length %s for %s (0..%u)",
		           nt->kind == TK_EOF ? "end of file" : q,
		           lang_vk_name(v->kind), max);
		return -1;
	}
	v->prefix = (int16_t)len;
	v->ppos = nt->pos;
	unsigned nbytes = max / 8;
	for (unsigned b = 0; b < nbytes; b++) {
		unsigned keep = len >= 8 * (b + 1) ? 8 : len > 8 * b ? len - 8 * b : 0;
		uint8_t m = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		if (v->addr[b] & ~m) {
			char text[80];
			snprintf(text, sizeof text, "%.*s/%u",
			         (int)(v->tok.n > 60 ? 60 : v->tok.n), v->tok.s,
			         (unsigned)len);
			lang_quote(q, sizeof q, text, strlen(text));
			lang_error(cx, v->tok.pos, "non-network bits set in %s", q);
			return -1;
		}
	}
	return 0;
}
