/*
 * test_lang.c - the filter language: exact atoms per word and field (as
 * `tcpdump -d` shows them), VLAN offsets, prefixes, masks, sets, the
 * exact text of every error (golden files in tests/golden/lang/), the
 * examples of docs/LANGUAGE.md, and a differential run against libpcap's
 * own compiled filters on generated frames.
 *
 * Expected paths are written in a small notation, one path per '|':
 *   u16[12]=0x0800  u32[26]&0xff000000=0x0a000000  u16[rel+16]=80
 *   shift(u8[14]&0x0f)<<2        -   (an empty path)
 * The expected paths go through dpf_path_canon() too, then the sets of
 * paths are compared regardless of order.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verifier/vfy.h"
#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "testutil.h"

/* ---- helpers ---- */

static void dump_to(void *ctx, const char *text)
{
	char *buf = ctx;
	size_t n = strlen(buf);
	snprintf(buf + n, 8192 - n, "%s", text);
}

static void prog_text(const struct dpf_prog *p, char *buf)
{
	buf[0] = 0;
	dpf_prog_dump(p, dump_to, buf);
}

/* Parse expected-path notation; aborts the test on a malformed spec. */
static uint32_t spec_paths(const char *spec, struct dpf_path *paths,
                           struct dpf_atom atoms[][DPF_MAX_ATOMS])
{
	uint32_t np = 0;
	const char *s = spec;
	paths[0].natoms = 0;
	paths[0].atoms = atoms[0];
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == 0 || *s == '|') {
			np++;
			if (*s == 0)
				break;
			s++;
			paths[np].natoms = 0;
			paths[np].atoms = atoms[np];
			continue;
		}
		if (*s == '-') {
			s++;
			continue;
		}
		struct dpf_atom a;
		memset(&a, 0, sizeof a);
		char *e;
		int shift = strncmp(s, "shift(", 6) == 0;
		if (shift)
			s += 6;
		cr_assert(*s == 'u', "bad spec at '%s'", s);
		unsigned bits = (unsigned)strtoul(s + 1, &e, 10);
		a.width = (uint8_t)(bits / 8);
		cr_assert(*e == '[', "bad spec at '%s'", e);
		s = e + 1;
		if (strncmp(s, "rel+", 4) == 0) {
			a.base = DPF_BASE_REL;
			s += 4;
		}
		a.offset = (uint16_t)strtoul(s, &e, 0);
		cr_assert(*e == ']', "bad spec at '%s'", e);
		s = e + 1;
		a.mask = a.width == 4 ? 0xffffffffu : (1u << 8 * a.width) - 1;
		if (*s == '&') {
			a.mask = (uint32_t)strtoul(s + 1, &e, 0);
			s = e;
		}
		if (shift) {
			a.kind = DPF_ATOM_SHIFT;
			cr_assert(strncmp(s, ")<<", 3) == 0, "bad spec at '%s'", s);
			a.shift = (uint8_t)strtoul(s + 3, &e, 0);
			s = e;
		} else {
			a.kind = DPF_ATOM_CMP;
			cr_assert(*s == '=', "bad spec at '%s'", s);
			a.value = (uint32_t)strtoul(s + 1, &e, 0);
			s = e;
		}
		atoms[np][paths[np].natoms++] = a;
	}
	for (uint32_t i = 0; i < np; i++)
		dpf_path_canon(&paths[i]);
	return np;
}

static int atom_same(const struct dpf_atom *x, const struct dpf_atom *y)
{
	return x->kind == y->kind && x->base == y->base && x->width == y->width &&
	       x->shift == y->shift && x->offset == y->offset &&
	       x->mask == y->mask && x->value == y->value;
}

static int path_same(const struct dpf_path *x, const struct dpf_path *y)
{
	if (x->natoms != y->natoms)
		return 0;
	for (uint32_t i = 0; i < x->natoms; i++)
		if (!atom_same(&x->atoms[i], &y->atoms[i]))
			return 0;
	return 1;
}

static struct dpf_prog *parse_expr(const char *expr, struct dpf_diag *d,
                                   int *rc)
{
	static char src[4096];
	struct dpf_prog *p = NULL;
	snprintf(src, sizeof src, "filter f {\n  %s\n}\n", expr);
	*rc = dpf_lang_parse("t.dpf", src, strlen(src), &p, d);
	return p;
}

/* Assert that `expr` compiles to exactly the paths of `spec`. */
static void check_expr(const char *expr, const char *spec)
{
	static struct dpf_path want[64];
	static struct dpf_atom watoms[64][DPF_MAX_ATOMS];
	static char text[8192];
	struct dpf_diag d;
	int rc;
	struct dpf_prog *p = parse_expr(expr, &d, &rc);
	cr_assert_eq(rc, 0, "'%s': %s", expr, d.msg);
	uint32_t nw = spec_paths(spec, want, watoms);
	const struct dpf_filter *f = &p->filters[0];
	prog_text(p, text);
	cr_expect_eq(f->npaths, nw, "'%s': %u paths, want %u\n%s", expr,
	             f->npaths, nw, text);
	for (uint32_t i = 0; i < nw; i++) {
		uint32_t k = 0;
		while (k < f->npaths && !path_same(&f->paths[k], &want[i]))
			k++;
		char at[96];
		at[0] = 0;
		if (want[i].natoms)
			dpf_atom_format(&want[i].atoms[0], at, sizeof at);
		cr_expect(k < f->npaths, "'%s': expected path %u (first atom %s) "
		          "missing from\n%s", expr, i, at, text);
	}
	cr_expect_eq(vfy_filter(f, &d), 0, "'%s': %s", expr, d.msg);
	dpf_prog_free(dpf_host_libc(), p);
}

struct xcase {
	const char *expr;
	const char *spec;
};

static void run_table(const struct xcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_expr(t[i].expr, t[i].spec);
}

#define IPG "u16[12]=0x0800 "
#define IP6G "u16[12]=0x86dd "
#define T4 IPG "u8[23]=6 u16[20]&0x1fff=0 shift(u8[14]&0x0f)<<2 "
#define U4 IPG "u8[23]=17 u16[20]&0x1fff=0 shift(u8[14]&0x0f)<<2 "
#define I4 IPG "u8[23]=1 u16[20]&0x1fff=0 shift(u8[14]&0x0f)<<2 "
#define T6 IP6G "u8[20]=6 "
#define U6 IP6G "u8[20]=17 "

/* ---- words and fields, untagged ---- */

Test(lang, words)
{
	static const struct xcase t[] = {
		{"eth", "-"},
		{"arp", "u16[12]=0x0806"},
		{"ip", IPG},
		{"ip6", IP6G},
		{"vlan", "u16[12]=0x8100 | u16[12]=0x88a8 | u16[12]=0x9100"},
		{"tcp", IPG "u8[23]=6 | " IP6G "u8[20]=6 | " IP6G
		        "u8[20]=44 u8[54]=6"},
		{"udp", IPG "u8[23]=17 | " IP6G "u8[20]=17 | " IP6G
		        "u8[20]=44 u8[54]=17"},
		{"icmp", IPG "u8[23]=1"},
		{"icmp6", IP6G "u8[20]=58 | " IP6G "u8[20]=44 u8[54]=58"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, link_and_arp_fields)
{
	static const struct xcase t[] = {
		{"eth.dst == aa:bb:cc:dd:ee:ff", "u32[0]=0xaabbccdd u16[4]=0xeeff"},
		{"eth.src == 1:2:3:4:5:6", "u32[6]=0x01020304 u16[10]=0x0506"},
		{"eth.addr == 00:11:22:33:44:55",
		 "u32[6]=0x00112233 u16[10]=0x4455 | u32[0]=0x00112233 "
		 "u16[4]=0x4455"},
		{"eth.type == 0x0806", "u16[12]=0x0806"},
		{"eth.type == 1500", "u16[12]=1500"},
		{"vlan.id == 5",
		 "u16[12]=0x8100 u16[14]&0x0fff=5 | u16[12]=0x88a8 "
		 "u16[14]&0x0fff=5 | u16[12]=0x9100 u16[14]&0x0fff=5"},
		{"vlan.id == 4095",
		 "u16[12]=0x8100 u16[14]&0x0fff=4095 | u16[12]=0x88a8 "
		 "u16[14]&0x0fff=4095 | u16[12]=0x9100 u16[14]&0x0fff=4095"},
		{"arp.op == 2", "u16[12]=0x0806 u16[20]=2"},
		{"arp.sha == aa:bb:cc:dd:ee:ff",
		 "u16[12]=0x0806 u32[22]=0xaabbccdd u16[26]=0xeeff"},
		{"arp.spa == 1.2.3.4", "u16[12]=0x0806 u32[28]=0x01020304"},
		{"arp.tha == aa:bb:cc:dd:ee:ff",
		 "u16[12]=0x0806 u32[32]=0xaabbccdd u16[36]=0xeeff"},
		{"arp.tpa == 10.0.0.0/8",
		 "u16[12]=0x0806 u32[38]&0xff000000=0x0a000000"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, ip_fields)
{
	static const struct xcase t[] = {
		{"ip.src == 10.0.0.1", IPG "u32[26]=0x0a000001"},
		{"ip.dst == 10.0.0.1", IPG "u32[30]=0x0a000001"},
		{"ip.addr == 10.0.0.1",
		 IPG "u32[26]=0x0a000001 | " IPG "u32[30]=0x0a000001"},
		{"ip.proto == 6", IPG "u8[23]=6"},
		{"ip.tos == 0xb8", IPG "u8[15]=0xb8"},
		{"ip.ttl == 64", IPG "u8[22]=64"},
		{"ip.len == 1500", IPG "u16[16]=1500"},
		{"ip.id == 0xbeef", IPG "u16[18]=0xbeef"},
		{"ip.off == 0x4000", IPG "u16[20]=0x4000"},
		{"ip6.src == ::1", IP6G "u32[22]=0 u32[26]=0 u32[30]=0 u32[34]=1"},
		{"ip6.dst == 2001:db8::8:800:200c:417a",
		 IP6G "u32[38]=0x20010db8 u32[42]=0 u32[46]=0x00080800 "
		      "u32[50]=0x200c417a"},
		{"ip6.addr == 1:2:3:4:5:6:7:8",
		 IP6G "u32[22]=0x00010002 u32[26]=0x00030004 u32[30]=0x00050006 "
		      "u32[34]=0x00070008 | " IP6G "u32[38]=0x00010002 "
		      "u32[42]=0x00030004 u32[46]=0x00050006 u32[50]=0x00070008"},
		{"ip6.src == ::ffff:10.0.0.1",
		 IP6G "u32[22]=0 u32[26]=0 u32[30]=0x0000ffff u32[34]=0x0a000001"},
		{"ip6.nxt == 44", IP6G "u8[20]=44"},
		{"ip6.hlim == 255", IP6G "u8[21]=255"},
		{"ip6.plen == 0x100", IP6G "u16[18]=0x100"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, transport_fields)
{
	static const struct xcase t[] = {
		{"tcp.dport == 80", T4 "u16[rel+16]=80 | " T6 "u16[56]=80"},
		{"tcp.sport == 22", T4 "u16[rel+14]=22 | " T6 "u16[54]=22"},
		{"tcp.port == 443",
		 T4 "u16[rel+14]=443 | " T6 "u16[54]=443 | " T4 "u16[rel+16]=443 | "
		 T6 "u16[56]=443"},
		{"udp.dport == 53", U4 "u16[rel+16]=53 | " U6 "u16[56]=53"},
		{"udp.sport == 68", U4 "u16[rel+14]=68 | " U6 "u16[54]=68"},
		{"udp.port == 123",
		 U4 "u16[rel+14]=123 | " U6 "u16[54]=123 | " U4 "u16[rel+16]=123 | "
		 U6 "u16[56]=123"},
		{"tcp.flags == 2", T4 "u8[rel+27]=2"},
		{"icmp.type == 8", I4 "u8[rel+14]=8"},
		{"icmp.code == 3", I4 "u8[rel+15]=3"},
		{"icmp6.type == 128", IP6G "u8[20]=58 u8[54]=128"},
		{"icmp6.code == 1", IP6G "u8[20]=58 u8[55]=1"},
		{"u8[14] == 0x45", "u8[14]=0x45"},
		{"u16[12] == 0x0800", "u16[12]=0x0800"},
		{"u32[65535] == 0xffffffff", "u32[65535]=0xffffffff"},
		{"u8[0] == 0", "u8[0]=0"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

/* ---- prefixes, masks, sets ---- */

Test(lang, prefixes)
{
	static const struct xcase t[] = {
		{"ip.src == 0.0.0.0/0", IPG},
		{"ip.addr == 0.0.0.0/0", IPG},
		{"ip.src == 10.0.0.0/8", IPG "u32[26]&0xff000000=0x0a000000"},
		{"ip.dst == 192.168.0.0/16", IPG "u32[30]&0xffff0000=0xc0a80000"},
		{"ip.src == 10.1.2.3/32", IPG "u32[26]=0x0a010203"},
		{"ip.src == 10.1.2.2/31", IPG "u32[26]&0xfffffffe=0x0a010202"},
		{"ip.src == 128.0.0.0/1", IPG "u32[26]&0x80000000=0x80000000"},
		{"ip6.src == ::/0", IP6G},
		{"ip6.addr == ::/0", IP6G},
		{"ip6.src == 2001:db8::/32", IP6G "u32[22]=0x20010db8"},
		{"ip6.src == 2001:db8:0:1::/64", IP6G "u32[22]=0x20010db8 u32[26]=1"},
		{"ip6.src == 2001:db8::/65",
		 IP6G "u32[22]=0x20010db8 u32[26]=0 u32[30]&0x80000000=0"},
		{"ip6.dst == fe80::/10", IP6G "u32[38]&0xffc00000=0xfe800000"},
		{"ip6.src == 2001:db8::1/128",
		 IP6G "u32[22]=0x20010db8 u32[26]=0 u32[30]=0 u32[34]=1"},
		{"ip6.src == ::ffff:192.0.2.0/120",
		 IP6G "u32[22]=0 u32[26]=0 u32[30]=0xffff "
		      "u32[34]&0xffffff00=0xc0000200"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, masks)
{
	static const struct xcase t[] = {
		{"(u8[14] & 0xf0) == 0x40", "u8[14]&0xf0=0x40"},
		{"u8[14] & 0xf0 == 0x40", "u8[14]&0xf0=0x40"},
		{"(tcp.flags & 0x12) == 0x12", T4 "u8[rel+27]&0x12=0x12"},
		{"tcp.flags & 0x12 == 0x02", T4 "u8[rel+27]&0x12=0x02"},
		{"(ip.off & 0x1fff) == 0", IPG "u16[20]&0x1fff=0"},
		{"(vlan.id & 0xf00) == 0x100",
		 "u16[12]=0x8100 u16[14]&0x0f00=0x100 | u16[12]=0x88a8 "
		 "u16[14]&0x0f00=0x100 | u16[12]=0x9100 u16[14]&0x0f00=0x100"},
		{"(tcp.dport & 0xff00) in {0x100, 0x200}",
		 T4 "u16[rel+16]&0xff00=0x100 | " T6 "u16[56]&0xff00=0x100 | "
		 T4 "u16[rel+16]&0xff00=0x200 | " T6 "u16[56]&0xff00=0x200"},
		{"u32[26] & 0xffffffff == 1", "u32[26]=1"},
		{"(eth.type & 0xff00) == 0x8100", "u16[12]&0xff00=0x8100"},
		{"(u8[14] & 0x0f) == 0", "u8[14]&0x0f=0"},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, sets_and_dedupe)
{
	static const struct xcase t[] = {
		{"udp.dport in {53, 5353}",
		 U4 "u16[rel+16]=53 | " U6 "u16[56]=53 | " U4 "u16[rel+16]=5353 | "
		 U6 "u16[56]=5353"},
		{"udp.dport in {53, 53, 0x35}", U4 "u16[rel+16]=53 | " U6 "u16[56]=53"},
		{"ip.src in {10.0.0.0/8, 192.168.0.0/16}",
		 IPG "u32[26]&0xff000000=0x0a000000 | " IPG
		     "u32[26]&0xffff0000=0xc0a80000"},
		{"eth.src in {aa:bb:cc:dd:ee:ff}", "u32[6]=0xaabbccdd u16[10]=0xeeff"},
		{"ip or ip", IPG},
		{"ip and ip", IPG},
		{"ip.proto == 6 or ip.proto == 6", IPG "u8[23]=6"},
		{"tcp and tcp.dport == 80", T4 "u16[rel+16]=80 | " T6 "u16[56]=80"},
		{"tcp.dport == 80 and tcp.sport == 1",
		 T4 "u16[rel+14]=1 u16[rel+16]=80 | " T6 "u16[54]=1 u16[56]=80"},
		{"tcp.dport == 80 and tcp.flags == 2",
		 T4 "u16[rel+16]=80 u8[rel+27]=2"},
		{"tcp.port == 80 and ip.src == 1.2.3.4",
		 T4 "u32[26]=0x01020304 u16[rel+14]=80 | "
		 T4 "u32[26]=0x01020304 u16[rel+16]=80"},
		{"ip and (tcp or udp)", IPG "u8[23]=6 | " IPG "u8[23]=17"},
		{"eth and arp", "u16[12]=0x0806"},
		{"ip.proto == 6 and ip.proto == 17 or arp", "u16[12]=0x0806"},
		{"ip.src == 0.0.0.0/0 and ip.dst == 0.0.0.0/0", IPG},
		{"(ip) and ((ip6) or (ip))", IPG},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

/* ---- VLAN offsets ---- */

#define V3(x) "u16[12]=0x8100 " x " | u16[12]=0x88a8 " x " | u16[12]=0x9100 " x

Test(lang, vlan_offsets)
{
	static const struct xcase t[] = {
		{"vlan and ip", V3("u16[16]=0x0800")},
		{"vlan and arp.op == 1", V3("u16[16]=0x0806 u16[24]=1")},
		{"vlan and ip.src == 10.0.0.1",
		 V3("u16[16]=0x0800 u32[30]=0x0a000001")},
		{"vlan and eth.type == 0x86dd", V3("u16[16]=0x86dd")},
		{"vlan and u16[12] == 0x8100", "u16[12]=0x8100"},
		{"vlan and eth.dst == aa:bb:cc:dd:ee:ff",
		 V3("u32[0]=0xaabbccdd u16[4]=0xeeff")},
		{"vlan and icmp6.type == 1", V3("u16[16]=0x86dd u8[24]=58 u8[58]=1")},
		{"vlan and tcp.dport == 80",
		 V3("u16[16]=0x0800 u8[27]=6 u16[24]&0x1fff=0 "
		    "shift(u8[18]&0x0f)<<2 u16[rel+20]=80") " | "
		 V3("u16[16]=0x86dd u8[24]=6 u16[60]=80")},
		{"vlan.id == 10 and ip.src == 1.2.3.4",
		 "u16[12]=0x8100 u16[14]&0x0fff=10 u16[16]=0x0800 u32[30]=0x01020304"
		 " | u16[12]=0x88a8 u16[14]&0x0fff=10 u16[16]=0x0800 "
		 "u32[30]=0x01020304 | u16[12]=0x9100 u16[14]&0x0fff=10 "
		 "u16[16]=0x0800 u32[30]=0x01020304"},
		{"vlan and (ip or ip6)", V3("u16[16]=0x0800") " | " V3("u16[16]=0x86dd")},
		{"vlan and (ip and (udp.dport == 53))",
		 V3("u16[16]=0x0800 u8[27]=17 u16[24]&0x1fff=0 "
		    "shift(u8[18]&0x0f)<<2 u16[rel+20]=53")},
		{"(vlan or ip) and tcp",
		 V3("u16[16]=0x0800 u8[27]=6") " | " V3("u16[16]=0x86dd u8[24]=6")
		 " | " V3("u16[16]=0x86dd u8[24]=44 u8[58]=6") " | "
		 IPG "u8[23]=6"},
		{"(vlan or eth) and ip", V3("u16[16]=0x0800") " | " IPG},
		{"vlan and vlan and ip",
		 "u16[12]=0x8100 u16[16]=0x8100 u16[20]=0x0800 | "
		 "u16[12]=0x8100 u16[16]=0x88a8 u16[20]=0x0800 | "
		 "u16[12]=0x8100 u16[16]=0x9100 u16[20]=0x0800 | "
		 "u16[12]=0x88a8 u16[16]=0x8100 u16[20]=0x0800 | "
		 "u16[12]=0x88a8 u16[16]=0x88a8 u16[20]=0x0800 | "
		 "u16[12]=0x88a8 u16[16]=0x9100 u16[20]=0x0800 | "
		 "u16[12]=0x9100 u16[16]=0x8100 u16[20]=0x0800 | "
		 "u16[12]=0x9100 u16[16]=0x88a8 u16[20]=0x0800 | "
		 "u16[12]=0x9100 u16[16]=0x9100 u16[20]=0x0800"},
		{"vlan.id in {1, 2} and u8[14] == 0",
		 V3("u16[14]&0x0fff=1 u8[14]=0") " | " V3("u16[14]&0x0fff=2 u8[14]=0")},
	};
	run_table(t, sizeof t / sizeof t[0]);
}

Test(lang, contradictions_are_dropped)
{
	/* Terms before vlan see L=14, so their guard contradicts vlan's. */
	struct dpf_diag d;
	int rc;
	struct dpf_prog *p = parse_expr("ip and vlan", &d, &rc);
	cr_assert_eq(rc, DPF_EINVAL);
	cr_assert_null(p);
	cr_assert_str_eq(d.msg, "t.dpf:1:8: error: filter 'f' can never match");
	check_expr("(ip6 and ip) or udp.dport == 7 and ip.proto == 17",
	           U4 "u16[rel+16]=7");
}

/* ---- declarations ---- */

Test(lang, declarations)
{
	const char *src =
		"# header comment\n"
		"filter http priority 10 {\n"
		"    ip.dst == 10.0.0.1 and tcp.dport == 80   # trailing\n"
		"}\n"
		"filter dns      { udp.dport in {53, 5353} }\n"
		"\tfilter Web-1.b_c priority 0xffff { eth }\n"
		"filter _{arp}";
	struct dpf_prog *p = tu_parse(src);
	cr_assert_eq(p->nfilters, 4);
	cr_expect_str_eq(p->filters[0].name, "http");
	cr_expect_eq(p->filters[0].priority, 10);
	cr_expect_eq(p->filters[0].line, 2);
	cr_expect_eq(p->filters[0].col, 8);
	cr_expect_eq(p->filters[0].npaths, 1); /* IPv4 only */
	cr_expect_str_eq(p->filters[1].name, "dns");
	cr_expect_eq(p->filters[1].priority, 0);
	cr_expect_eq(p->filters[1].line, 5);
	cr_expect_eq(p->filters[1].npaths, 4);
	cr_expect_str_eq(p->filters[2].name, "Web-1.b_c");
	cr_expect_eq(p->filters[2].priority, 65535);
	cr_expect_eq(p->filters[2].line, 6);
	cr_expect_eq(p->filters[2].col, 9);
	cr_expect_eq(p->filters[2].npaths, 1);
	cr_expect_eq(p->filters[2].paths[0].natoms, 0);
	cr_expect_str_eq(p->filters[3].name, "_");
	for (uint32_t i = 0; i < p->nfilters; i++) {
		struct dpf_diag d;
		cr_expect_eq(p->filters[i].owner, 0);
		cr_expect_eq(vfy_filter(&p->filters[i], &d), 0, "%s", d.msg);
	}
	dpf_prog_free(dpf_host_libc(), p);

	char name[DPF_NAME_MAX + 32];
	memset(name, 'n', DPF_NAME_MAX);
	name[DPF_NAME_MAX] = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "filter %s { ip }", name);
	p = tu_parse(buf);
	cr_expect_str_eq(p->filters[0].name, name);
	dpf_prog_free(dpf_host_libc(), p);
}

Test(lang, empty_programs)
{
	const char *srcs[] = {"", "   \n\t\n", "# only a comment", "#\n#\n"};
	for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
		struct dpf_prog *p = tu_parse(srcs[i]);
		cr_expect_eq(p->nfilters, 0);
		dpf_prog_free(dpf_host_libc(), p);
	}
	struct dpf_prog *p = NULL;
	struct dpf_diag d;
	cr_assert_eq(dpf_lang_parse("e.dpf", NULL, 0, &p, &d), 0);
	cr_expect_eq(p->nfilters, 0);
	dpf_prog_free(dpf_host_libc(), p);
}

Test(lang, paths_are_canonical)
{
	struct dpf_prog *p = tu_parse(
		"filter a { (ip.ttl == 1 and tcp.sport == 2 and ip.tos == 3)"
		" or (udp.port in {1, 2} and vlan) or ip6.src == ::1 }");
	const struct dpf_filter *f = &p->filters[0];
	for (uint32_t i = 0; i < f->npaths; i++) {
		struct dpf_atom copy[DPF_MAX_ATOMS];
		struct dpf_path c = {f->paths[i].natoms, copy};
		memcpy(copy, f->paths[i].atoms, c.natoms * sizeof copy[0]);
		cr_expect_eq(dpf_path_canon(&c), 0);
		cr_expect(path_same(&c, &f->paths[i]), "path %u not canonical", i);
		for (uint32_t j = 0; j < i; j++)
			cr_expect(!path_same(&f->paths[i], &f->paths[j]),
			          "paths %u and %u are equal", j, i);
	}
	dpf_prog_free(dpf_host_libc(), p);
}

Test(lang, big_sets_are_fast)
{
	size_t cap = 10000 * 8 + 64, n = 0;
	char *src = malloc(cap);
	cr_assert_not_null(src);
	n += (size_t)snprintf(src + n, cap - n, "filter big { udp.dport in {");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(src + n, cap - n, "%s%d", i ? "," : "", i);
	n += (size_t)snprintf(src + n, cap - n, "} }");
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	struct dpf_prog *p = tu_parse(src);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 +
	            (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	cr_expect_eq(p->filters[0].npaths, 20000);
	/* Milliseconds in a release build; generous for sanitizers. */
	cr_expect(ms < 2000, "10,000-value set took %.0f ms", ms);
	dpf_prog_free(dpf_host_libc(), p);
	free(src);
}

Test(lang, limits_are_exact)
{
	/* 16384 ports x 4 paths = 65536 paths: allowed; one more is not. */
	size_t cap = 16385 * 8 + 64;
	char *src = malloc(cap);
	cr_assert_not_null(src);
	for (int extra = 0; extra < 2; extra++) {
		size_t n = (size_t)snprintf(src, cap, "filter p { tcp.port in {");
		for (int i = 0; i < 16384 + extra; i++)
			n += (size_t)snprintf(src + n, cap - n, "%s%d", i ? "," : "", i);
		snprintf(src + n, cap - n, "} }");
		struct dpf_prog *p = NULL;
		struct dpf_diag d;
		int rc = dpf_lang_parse("p.dpf", src, strlen(src), &p, &d);
		if (!extra) {
			cr_assert_eq(rc, 0, "%s", d.msg);
			cr_expect_eq(p->filters[0].npaths, DPF_MAX_PATHS);
			dpf_prog_free(dpf_host_libc(), p);
		} else {
			cr_expect_eq(rc, DPF_ELIMIT);
			cr_expect_null(p);
			cr_expect_str_eq(d.msg, "p.dpf:1:12: error: too many paths: "
			                        "filter 'p' expands to more than 65536");
		}
	}
	/* 64 atoms in a path: allowed; 65 are not. */
	for (int extra = 0; extra < 2; extra++) {
		size_t n = (size_t)snprintf(src, cap, "filter q { u8[0] == 0");
		for (int i = 1; i < 64 + extra; i++)
			n += (size_t)snprintf(src + n, cap - n, " and u8[%d] == 0", i);
		snprintf(src + n, cap - n, " }");
		struct dpf_prog *p = NULL;
		struct dpf_diag d;
		int rc = dpf_lang_parse("q.dpf", src, strlen(src), &p, &d);
		if (!extra) {
			cr_assert_eq(rc, 0, "%s", d.msg);
			cr_expect_eq(p->filters[0].paths[0].natoms, DPF_MAX_ATOMS);
			dpf_prog_free(dpf_host_libc(), p);
		} else {
			cr_expect_eq(rc, DPF_ELIMIT);
			cr_expect_str_eq(d.msg, "q.dpf:1:23: error: too many atoms: a "
			                        "path of filter 'q' needs more than 64");
		}
	}
	free(src);
}

Test(lang, parse_file)
{
	struct dpf_prog *p = (struct dpf_prog *)1;
	struct dpf_diag d;
	int rc = dpf_lang_parse_file("/nonexistent/x.dpf", &p, &d);
	cr_expect_neq(rc, 0);
	cr_expect_null(p);
	cr_expect_str_eq(d.msg,
	                 "/nonexistent/x.dpf: error: No such file or directory");

	char path[512];
	snprintf(path, sizeof path, "%s/tests/golden/lang/op_ne.dpf",
	         DPF_SOURCE_DIR);
	rc = dpf_lang_parse_file(path, &p, &d);
	cr_expect_eq(rc, DPF_EINVAL);
	cr_expect(strncmp(d.msg, path, strlen(path)) == 0, "%s", d.msg);

	char tmpl[] = "/tmp/dpf_lang_XXXXXX";
	int fd = mkstemp(tmpl);
	cr_assert(fd >= 0);
	FILE *fp = fdopen(fd, "w");
	fputs("filter a { arp }\nfilter b { ip }\n", fp);
	fclose(fp);
	rc = dpf_lang_parse_file(tmpl, &p, &d);
	cr_expect_eq(rc, 0, "%s", d.msg);
	cr_expect_eq(p->nfilters, 2);
	dpf_prog_free(dpf_host_libc(), p);
	remove(tmpl);
}

/* ---- golden error texts ---- */

Test(lang, golden_errors)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/tests/golden/lang", DPF_SOURCE_DIR);
	DIR *dp = opendir(dir);
	cr_assert_not_null(dp, "cannot open %s", dir);
	struct dirent *de;
	int count = 0;
	while ((de = readdir(dp)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".dpf") != 0)
			continue;
		char src_path[1024], err_path[1024];
		snprintf(src_path, sizeof src_path, "%s/%s", dir, de->d_name);
		snprintf(err_path, sizeof err_path, "%s/%.*s.err", dir,
		         (int)(nl - 4), de->d_name);
		size_t len, elen;
		char *src = tu_read_file(src_path, &len);
		char *want = tu_read_file(err_path, &elen);
		cr_assert_not_null(src, "%s", src_path);
		cr_assert_not_null(want, "%s missing", err_path);
		while (elen && (want[elen - 1] == '\n' || want[elen - 1] == '\r'))
			want[--elen] = 0;
		struct dpf_prog *p = (struct dpf_prog *)1;
		struct dpf_diag d;
		int rc = dpf_lang_parse(de->d_name, src, len, &p, &d);
		cr_expect_neq(rc, 0, "%s: parsed", de->d_name);
		cr_expect_null(p, "%s", de->d_name);
		cr_expect_str_eq(d.msg, want, "%s", de->d_name);
		if (rc == 0)
			dpf_prog_free(dpf_host_libc(), p);
		free(src);
		free(want);
		count++;
	}
	closedir(dp);
	cr_expect(count >= 25, "only %d golden cases", count);
}

/* ---- docs/LANGUAGE.md: every ```dpf block is a valid file ---- */

Test(lang, docs_examples_parse)
{
	char path[512];
	snprintf(path, sizeof path, "%s/docs/LANGUAGE.md", DPF_SOURCE_DIR);
	size_t len;
	char *doc = tu_read_file(path, &len);
	cr_assert_not_null(doc, "cannot read %s", path);
	int blocks = 0;
	for (char *s = doc; (s = strstr(s, "```dpf\n")) != NULL;) {
		s += 7;
		char *e = strstr(s, "```");
		cr_assert_not_null(e, "unterminated block in LANGUAGE.md");
		struct dpf_prog *p = NULL;
		struct dpf_diag d;
		int rc = dpf_lang_parse("LANGUAGE.md", s, (size_t)(e - s), &p, &d);
		cr_expect_eq(rc, 0, "example %d: %s", blocks + 1, d.msg);
		if (rc == 0) {
			cr_expect_gt(p->nfilters, 0);
			dpf_prog_free(dpf_host_libc(), p);
		}
		blocks++;
		s = e + 3;
	}
	cr_expect_geq(blocks, 4);
	free(doc);
}

/* ---- differential: DPF paths versus libpcap's compiled filter ---- */

/* Pick from a pool most of the time so that filters match often. */
static uint32_t pick(uint64_t *r, const uint32_t *pool, unsigned n)
{
	if (tu_rand(r) % 4 == 0)
		return (uint32_t)tu_rand(r);
	return pool[tu_rand(r) % n];
}

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

static const uint8_t macs[3][6] = {
	{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
	{0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
	{0x01, 0x02, 0x03, 0x04, 0x05, 0x06},
};

static void put_mac(uint64_t *r, uint8_t *p)
{
	unsigned k = (unsigned)(tu_rand(r) % 4);
	for (int i = 0; i < 6; i++)
		p[i] = k < 3 ? macs[k][i] : (uint8_t)tu_rand(r);
}

static void put_ip6(uint64_t *r, uint8_t *p)
{
	static const uint32_t hi[] = {0x20010db8, 0xfe800000, 0, 0x20010db8};
	unsigned k = (unsigned)(tu_rand(r) % 5);
	memset(p, 0, 16);
	if (k == 4) {
		for (int i = 0; i < 16; i++)
			p[i] = (uint8_t)tu_rand(r);
		return;
	}
	put32(p, hi[k]);
	if (k == 3)
		put32(p + 4, 1); /* 2001:db8:0:1:: */
	p[15] = (uint8_t)(tu_rand(r) % 3);
	if (k == 2 && tu_rand(r) % 2) { /* ::ffff:10.0.0.x */
		put16(p + 10, 0xffff);
		put32(p + 12, 0x0a000000 | (uint32_t)(tu_rand(r) % 3));
	}
}

/* A random Ethernet frame biased toward the headers the filters name.
 * Returns the captured length: L + 80 (every load the filters make is
 * inside), or less in one frame of five. */
static size_t gen_frame(uint64_t *r, uint8_t *b, size_t cap, size_t *full)
{
	static const uint32_t tpids[] = {0x8100, 0x88a8, 0x9100, 0x0800};
	static const uint32_t types[] = {0x0800, 0x0800, 0x86dd, 0x86dd, 0x0806,
	                                 0x8100, 1500};
	static const uint32_t ip4s[] = {0x0a000001, 0x0a010203, 0xc0a80101,
	                                0x01020304, 0xc0000201};
	static const uint32_t ports[] = {80, 53, 5353, 443};
	static const uint32_t protos[] = {6, 6, 17, 17, 1, 58, 44};
	static const uint32_t vids[] = {5, 7, 10, 20, 0x105};
	for (size_t i = 0; i < cap; i++)
		b[i] = (uint8_t)tu_rand(r);
	put_mac(r, b);
	put_mac(r, b + 6);
	size_t L = 14;
	unsigned tags = tu_rand(r) % 2 ? (unsigned)(tu_rand(r) % 3) : 0;
	for (unsigned t = 0; t < tags; t++) {
		put16(b + L - 2, pick(r, tpids, 4));
		put16(b + L, pick(r, vids, 5) & 0xffff);
		L += 4;
	}
	uint32_t type = pick(r, types, 7) & 0xffff;
	put16(b + L - 2, type);
	if (type == 0x0800) {
		unsigned ihl = tu_rand(r) % 3 ? 5 : 5 + (unsigned)(tu_rand(r) % 4);
		b[L] = (uint8_t)(0x40 | ihl);
		b[L + 1] = tu_rand(r) % 2 ? 0xb8 : (uint8_t)tu_rand(r);
		put16(b + L + 6, tu_rand(r) % 3 ? (tu_rand(r) % 2 ? 0x4000 : 0)
		                                : (uint32_t)tu_rand(r));
		b[L + 8] = tu_rand(r) % 2 ? 64 : (uint8_t)tu_rand(r);
		b[L + 9] = (uint8_t)pick(r, protos, 7);
		put32(b + L + 12, pick(r, ip4s, 5));
		put32(b + L + 16, pick(r, ip4s, 5));
		size_t T = L + 4 * ihl;
		put16(b + T, pick(r, ports, 4));
		put16(b + T + 2, pick(r, ports, 4));
		b[T + 13] = tu_rand(r) % 2 ? 0x02 : 0x12;
		if (b[L + 9] == 1) {
			b[T] = tu_rand(r) % 2 ? 8 : 0;
			b[T + 1] = tu_rand(r) % 2 ? 0 : (uint8_t)tu_rand(r);
		}
	} else if (type == 0x86dd) {
		b[L] = 0x60;
		b[L + 6] = (uint8_t)pick(r, protos, 7);
		b[L + 7] = tu_rand(r) % 2 ? 255 : (uint8_t)tu_rand(r);
		put_ip6(r, b + L + 8);
		put_ip6(r, b + L + 24);
		size_t T = L + 40;
		if (b[L + 6] == 44) {
			b[T] = (uint8_t)pick(r, protos, 6);
			T += 8;
		}
		put16(b + T, pick(r, ports, 4));
		put16(b + T + 2, pick(r, ports, 4));
		if (b[L + 6] == 58 || tu_rand(r) % 4 == 0)
			b[L + 40] = tu_rand(r) % 2 ? 128 : 1;
	} else if (type == 0x0806) {
		put16(b + L + 6, 1 + (uint32_t)(tu_rand(r) % 2));
		put_mac(r, b + L + 8);
		put32(b + L + 14, pick(r, ip4s, 5));
		put_mac(r, b + L + 18);
		put32(b + L + 24, pick(r, ip4s, 5));
	}
	size_t len = L + 80;
	*full = len;
	if (tu_rand(r) % 5 == 0)
		len = (size_t)(tu_rand(r) % (len + 1));
	return len < cap ? len : cap;
}

static int dpf_matches(const struct dpf_filter *f, const uint8_t *pkt,
                       size_t len)
{
	for (uint32_t i = 0; i < f->npaths; i++)
		if (dpf_path_match(&f->paths[i], pkt, len))
			return 1;
	return 0;
}

Test(lang, differential_against_libpcap)
{
	static const struct {
		const char *dpf, *pcap;
	} t[] = {
		{"eth", ""},
		{"ip", "ip"},
		{"ip6", "ip6"},
		{"arp", "arp"},
		{"vlan", "vlan"},
		{"tcp", "tcp"},
		{"udp", "udp"},
		{"icmp", "icmp"},
		{"icmp6", "icmp6"},
		{"eth.dst == aa:bb:cc:dd:ee:ff", "ether dst aa:bb:cc:dd:ee:ff"},
		{"eth.src == 00:11:22:33:44:55", "ether src 00:11:22:33:44:55"},
		{"eth.addr == 1:2:3:4:5:6", "ether host 01:02:03:04:05:06"},
		{"eth.type == 0x0806", "ether proto 0x0806"},
		{"vlan.id == 5", "vlan 5"},
		{"vlan.id == 7 and ip", "vlan 7 and ip"},
		{"vlan and tcp.dport == 80", "vlan and tcp dst port 80"},
		{"vlan and vlan and ip.src == 10.0.0.1",
		 "vlan and vlan and ip src host 10.0.0.1"},
		{"vlan and eth.type == 0x86dd", "vlan and ether proto 0x86dd"},
		{"arp.op == 1", "arp[6:2] == 1"},
		{"arp.spa == 10.0.0.1", "arp src host 10.0.0.1"},
		{"arp.tpa == 192.168.0.0/16", "arp dst net 192.168.0.0/16"},
		{"arp.sha == aa:bb:cc:dd:ee:ff",
		 "arp and arp[8:4] == 0xaabbccdd and arp[12:2] == 0xeeff"},
		{"ip.src == 10.0.0.1", "ip src host 10.0.0.1"},
		{"ip.dst == 10.0.0.0/8", "ip dst net 10.0.0.0/8"},
		{"ip.addr == 192.168.1.1", "ip host 192.168.1.1"},
		{"ip.addr == 0.0.0.0/0", "ip"},
		{"ip.proto == 17", "ip proto 17"},
		{"ip.tos == 0xb8", "ip[1] == 0xb8"},
		{"(ip.tos & 0xfc) == 0xb8", "ip[1] & 0xfc == 0xb8"},
		{"ip.ttl == 64", "ip[8] == 64"},
		{"ip.off == 0x4000", "ip[6:2] == 0x4000"},
		{"ip6.src == 2001:db8::1", "ip6 src host 2001:db8::1"},
		{"ip6.dst == 2001:db8:0:1::/64", "ip6 dst net 2001:db8:0:1::/64"},
		{"ip6.addr == fe80::/10", "ip6 net fe80::/10"},
		{"ip6.src == ::ffff:10.0.0.0/120", "ip6 src net ::ffff:10.0.0.0/120"},
		{"ip6.nxt == 44", "ip6[6] == 44"},
		{"ip6.hlim == 255", "ip6[7] == 255"},
		{"tcp.dport == 80", "tcp dst port 80"},
		{"tcp.sport == 443", "tcp src port 443"},
		{"tcp.port == 443", "tcp port 443"},
		{"udp.dport in {53, 5353}", "udp dst port 53 or udp dst port 5353"},
		{"udp.port == 53", "udp port 53"},
		{"tcp.flags == 0x12", "tcp[13] == 0x12"},
		{"tcp.flags & 0x02 == 0x02", "tcp[13] & 0x02 == 0x02"},
		{"icmp.type == 8", "icmp[0] == 8"},
		{"icmp.code == 0", "icmp[1] == 0"},
		{"icmp6.type == 128", "icmp6[0] == 128"},
		{"u16[12] == 0x0800 and (u8[14] & 0xf0) == 0x40",
		 "ether[12:2] == 0x0800 and ether[14] & 0xf0 == 0x40"},
		{"u32[26] == 0x0a000001", "ether[26:4] == 0x0a000001"},
		{"ip.src == 192.168.0.0/16 and (tcp.dport == 80 or udp.dport == 53)",
		 "ip src net 192.168.0.0/16 and (tcp dst port 80 or udp dst port 53)"},
		{"tcp.dport == 80 and tcp.sport == 443",
		 "tcp dst port 80 and tcp src port 443"},
		{"tcp and ip6", "tcp and ip6"},
	};
	pcap_t *pc = pcap_open_dead(DLT_EN10MB, 65535);
	cr_assert_not_null(pc);
	uint64_t seed = 0x5eed1234abcdULL;
	uint8_t pkt[256];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct bpf_program bp;
		cr_assert_eq(pcap_compile(pc, &bp, t[i].pcap, 1,
		                          PCAP_NETMASK_UNKNOWN), 0,
		             "pcap_compile '%s': %s", t[i].pcap, pcap_geterr(pc));
		struct dpf_diag d;
		int rc;
		struct dpf_prog *p = parse_expr(t[i].dpf, &d, &rc);
		cr_assert_eq(rc, 0, "'%s': %s", t[i].dpf, d.msg);
		int hits = 0, bad = 0;
		for (int k = 0; k < 12000 && bad < 3; k++) {
			size_t full_len;
			size_t len = gen_frame(&seed, pkt, sizeof pkt, &full_len);
			int want = bpf_filter(bp.bf_insns, pkt, (u_int)len, (u_int)len) != 0;
			int got = dpf_matches(&p->filters[0], pkt, len);
			hits += want;
			/* A cBPF load past the end rejects the whole packet, while a
			 * DPF load past the end fails only its path, so a truncated
			 * frame may match DPF's `a or b` through b when libpcap tried
			 * a first.  There only libpcap => DPF must hold. */
			int truncated = len < full_len;
			if (want != got && !(truncated && got)) {
				bad++;
				cr_expect_eq(got, want, "'%s' vs '%s': frame %d (len %zu) "
				             "dpf %d libpcap %d", t[i].dpf, t[i].pcap, k,
				             len, got, want);
			}
		}
		cr_expect_gt(hits, 0, "'%s' never matched a generated frame",
		             t[i].pcap);
		pcap_freecode(&bp);
		dpf_prog_free(dpf_host_libc(), p);
	}
	pcap_close(pc);
}

/* ---- handler clauses ---- */

Test(lang, handler_clauses)
{
	const char *src =
		"filter echo priority 5 handler \"udp_echo.o\" { udp.dport == 7 }\n"
		"filter plain { tcp.dport == 80 }\n"
		"filter two handler \"dir/multi.o\" program second priority 1\n"
		"    { udp.dport == 9 }\n";
	struct dpf_prog *p = NULL;
	struct dpf_lang_handlers hs;
	struct dpf_diag d = {{0}};
	cr_assert_eq(dpf_lang_parse_ex("h.dpf", src, strlen(src), &p, &hs, &d),
	             0, "%s", d.msg);
	cr_assert_eq(p->nfilters, 3);
	cr_assert_eq(p->filters[0].priority, 5);
	cr_assert_eq(p->filters[2].priority, 1);
	cr_assert_eq(hs.n, 2);
	cr_assert_eq(hs.v[0].filter, 0);
	cr_assert_str_eq(hs.v[0].path, "udp_echo.o");
	cr_assert_null(hs.v[0].program);
	cr_assert_eq(hs.v[0].line, 1);
	cr_assert_eq(hs.v[0].col, 32);
	cr_assert_eq(hs.v[1].filter, 2);
	cr_assert_str_eq(hs.v[1].path, "dir/multi.o");
	cr_assert_str_eq(hs.v[1].program, "second");
	dpf_lang_handlers_free(&hs);
	dpf_prog_free(dpf_host_libc(), p);

	/* the plain parser accepts and ignores them */
	cr_assert_eq(dpf_lang_parse("h.dpf", src, strlen(src), &p, &d), 0);
	cr_assert_eq(p->nfilters, 3);
	dpf_prog_free(dpf_host_libc(), p);
}
