/*
 * test_ir.c - IR rules: canonical form, specificity, overlap, the
 * reference matcher at every truncation, the binary form and its reader's
 * refusals, and the freestanding formatter.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "dpf/dpf.h"
#include "gen_ir.h"
#include "testutil.h"

#define CMP(off, w, m, v) gi_cmp(DPF_BASE_PKT, off, w, m, v)
#define REL(off, w, m, v) gi_cmp(DPF_BASE_REL, off, w, m, v)

static int same_atoms(const struct dpf_path *p, const struct dpf_atom *want,
                      uint32_t n)
{
	if (p->natoms != n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct dpf_atom *a = &p->atoms[i], *b = &want[i];
		if (a->kind != b->kind || a->base != b->base || a->width != b->width ||
		    a->shift != b->shift || a->offset != b->offset ||
		    a->mask != b->mask || a->value != b->value)
			return 0;
	}
	return 1;
}

Test(ir, canon_sorts_dedupes_and_merges_shift_chains)
{
	/* tcp.dport == 80 and tcp.sport == 1 written as two expansions */
	struct dpf_atom a[] = {
		CMP(12, 2, 0xffff, 0x0800), CMP(23, 1, 0xff, 6),
		CMP(20, 2, 0x1fff, 0),      gi_ihl(),
		REL(16, 2, 0xffff, 80),     CMP(12, 2, 0xffff, 0x0800),
		CMP(23, 1, 0xff, 6),        CMP(20, 2, 0x1fff, 0),
		gi_ihl(),                   REL(14, 2, 0xffff, 1),
	};
	struct dpf_path p = {10, a};
	cr_assert_eq(dpf_path_canon(&p), 0);
	struct dpf_atom want[] = {
		CMP(12, 2, 0xffff, 0x0800), CMP(20, 2, 0x1fff, 0),
		CMP(23, 1, 0xff, 6),        gi_ihl(),
		REL(14, 2, 0xffff, 1),      REL(16, 2, 0xffff, 80),
	};
	cr_assert(same_atoms(&p, want, 6));
	/* 16 + 13 + 8 + 16 + 16 */
	cr_assert_eq(dpf_path_specificity(&p), 69);
}

Test(ir, canon_relative_before_shift_is_packet_relative)
{
	struct dpf_atom a[] = {REL(20, 1, 0xff, 1), CMP(10, 1, 0xff, 2)};
	struct dpf_path p = {2, a};
	cr_assert_eq(dpf_path_canon(&p), 0);
	struct dpf_atom want[] = {CMP(10, 1, 0xff, 2), CMP(20, 1, 0xff, 1)};
	cr_assert(same_atoms(&p, want, 2));
}

Test(ir, canon_detects_contradictions_across_widths)
{
	/* u16[12] == 0x0800 and u8[13] == 0x01: byte 13 must be 0 and 1 */
	struct dpf_atom a[] = {CMP(12, 2, 0xffff, 0x0800), CMP(13, 1, 0xff, 1)};
	struct dpf_path p = {2, a};
	cr_assert_eq(dpf_path_canon(&p), 1);
	/* masks that do not overlap cannot contradict */
	struct dpf_atom b[] = {CMP(14, 1, 0xf0, 0x40), CMP(14, 1, 0x0f, 0x05)};
	struct dpf_path q = {2, b};
	cr_assert_eq(dpf_path_canon(&q), 0);
	cr_assert_eq(dpf_path_specificity(&q), 8);
}

Test(ir, specificity_counts_distinct_bits)
{
	struct dpf_atom a[] = {CMP(26, 4, 0xffff0000, 0x0a000000),
	                       CMP(26, 2, 0xffff, 0x0a00), CMP(28, 1, 0x80, 0)};
	struct dpf_path p = {3, a};
	cr_assert_eq(dpf_path_canon(&p), 0);
	cr_assert_eq(p.natoms, 3);
	cr_assert_eq(dpf_path_specificity(&p), 17);
}

Test(ir, overlap_relates_bases_only_when_shift_chains_agree)
{
	struct dpf_atom a[] = {CMP(12, 2, 0xffff, 0x0800), gi_ihl(),
	                       REL(16, 2, 0xffff, 80)};
	struct dpf_atom b[] = {CMP(12, 2, 0xffff, 0x0800), gi_ihl(),
	                       REL(16, 2, 0xffff, 81)};
	struct dpf_atom c[] = {CMP(12, 2, 0xffff, 0x0800), CMP(36, 2, 0xffff, 81)};
	struct dpf_atom d[] = {CMP(12, 2, 0xffff, 0x86dd)};
	struct dpf_path pa = {3, a}, pb = {3, b}, pc = {2, c}, pd = {1, d};
	cr_assert_eq(dpf_paths_overlap(&pa, &pb), 0);
	cr_assert_eq(dpf_paths_overlap(&pa, &pc), 1, "different bases: maybe");
	cr_assert_eq(dpf_paths_overlap(&pa, &pd), 0);
	cr_assert_eq(dpf_paths_overlap(&pa, &pa), 1);
}

Test(ir, path_match_at_every_truncation)
{
	struct dpf_atom a[] = {CMP(12, 2, 0xffff, 0x0800), gi_ihl(),
	                       REL(16, 2, 0xffff, 80)};
	struct dpf_path p = {3, a};
	uint8_t f[80] = {0};
	put16(f + 12, 0x0800);
	f[14] = 0x46; /* 24-byte header: port at 24 + 16 = 40 */
	put16(f + 40, 80);
	for (uint32_t len = 0; len <= sizeof f; len++)
		cr_assert_eq(dpf_path_match(&p, f, len), len >= 42, "len %u", len);
	struct dpf_path empty = {0, NULL};
	cr_assert_eq(dpf_path_match(&empty, f, 0), 1);
}

static struct dpf_prog *sample_prog(void)
{
	static struct dpf_atom a0[] = {{DPF_ATOM_CMP, 0, 2, 0, 12, 0xffff, 0x0800},
	                               {DPF_ATOM_SHIFT, 0, 1, 2, 14, 0x0f, 0},
	                               {DPF_ATOM_CMP, 1, 2, 0, 16, 0xffff, 80}};
	static struct dpf_atom a1[] = {{DPF_ATOM_CMP, 0, 4, 0, 30, 0xffffff00,
	                                0x0a000100}};
	static struct dpf_path paths[] = {{3, a0}, {1, a1}, {0, NULL}};
	static struct dpf_filter fs[2];
	static struct dpf_prog prog = {2, fs};
	memset(fs, 0, sizeof fs);
	strcpy(fs[0].name, "web");
	fs[0].priority = 7;
	fs[0].owner = 3;
	fs[0].npaths = 2;
	fs[0].paths = paths;
	strcpy(fs[1].name, "all");
	fs[1].npaths = 1;
	fs[1].paths = &paths[2];
	return &prog;
}

Test(ir, binary_round_trip)
{
	struct dpf_prog *p = sample_prog();
	long n = dpf_ir_write(p, NULL, 0);
	cr_assert_gt(n, 16);
	uint8_t *buf = malloc((size_t)n);
	cr_assert_eq(dpf_ir_write(p, buf, (size_t)n), n);
	cr_assert_eq(memcmp(buf, "DPFI", 4), 0);
	struct dpf_prog *q;
	struct dpf_diag d;
	cr_assert_eq(dpf_ir_read(dpf_host_libc(), buf, (size_t)n, &q, &d), 0,
	             "%s", d.msg);
	cr_assert_eq(q->nfilters, 2);
	cr_assert_str_eq(q->filters[0].name, "web");
	cr_assert_eq(q->filters[0].priority, 7);
	cr_assert_eq(q->filters[0].owner, 3);
	cr_assert_eq(q->filters[0].npaths, 2);
	cr_assert(same_atoms(&q->filters[0].paths[0], p->filters[0].paths[0].atoms,
	                     3));
	cr_assert_eq(q->filters[1].paths[0].natoms, 0);
	uint8_t *again = malloc((size_t)n);
	cr_assert_eq(dpf_ir_write(q, again, (size_t)n), n);
	cr_assert_eq(memcmp(buf, again, (size_t)n), 0);
	/* too small a buffer is refused, not overrun */
	cr_assert_eq(dpf_ir_write(p, again, (size_t)n - 1), DPF_ELIMIT);
	dpf_prog_free(dpf_host_libc(), q);
	free(buf);
	free(again);
}

struct badcase {
	long at;        /* byte to change, or -1: truncate to `len` */
	uint8_t value;
	long len;
	const char *msg;
};

Test(ir, reader_refuses_malformed_bytes)
{
	struct dpf_prog *p = sample_prog();
	long n = dpf_ir_write(p, NULL, 0);
	uint8_t *good = malloc((size_t)n);
	dpf_ir_write(p, good, (size_t)n);
	/* layout: header 16; "web": len 17, name 17..19, prio 20, owner 24,
	 * npaths 28, path0 natoms 32, atom0 34.. */
	const struct badcase cases[] = {
		{0, 'X', 0, "at byte 0: not DPF IR (bad magic)"},
		{4, 2, 0, "at byte 4: unsupported IR version, this reader knows 1 (2)"},
		{6, 1, 0, "at byte 6: unknown flags (1)"},
		{12, 0, 0, "at byte 12: the length field says 0 bytes, the input has 118"},
		{16, 0, 0, "at byte 16: bad filter name length (0)"},
		{16, 64, 0, "at byte 16: bad filter name length (64)"},
		{17, '!', 0, "at byte 16: filter name has a bad character at byte 0"},
		{17, 0, 0,
		 "at byte 17: NUL byte inside the filter name (name byte 0 of 3)"},
		{18, 0, 0,
		 "at byte 18: NUL byte inside the filter name (name byte 1 of 3)"},
		{19, 0, 0,
		 "at byte 19: NUL byte inside the filter name (name byte 2 of 3)"},
		{28, 0, 0, "at byte 28: bad path count (0)"},
		{32, 65, 0, "at byte 32: atom count above the limit (65)"},
		{34, 9, 0, "at byte 16: filter 'web' path 0 atom 0: unknown atom kind"},
		{36, 3, 0,
		 "at byte 16: filter 'web' path 0 atom 0: width is not 1, 2 or 4"},
		{40, 1, 0, "at byte 40: nonzero padding in atom (1)"},
		{-1, 0, 10, "at byte 0: truncated header (need 16 bytes, 10 left)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct badcase *c = &cases[i];
		uint8_t *b = malloc((size_t)n);
		memcpy(b, good, (size_t)n);
		size_t len = (size_t)n;
		if (c->at >= 0)
			b[c->at] = c->value;
		else
			len = (size_t)c->len;
		struct dpf_prog *q = (struct dpf_prog *)1;
		struct dpf_diag d = {{0}};
		cr_assert_eq(dpf_ir_read(dpf_host_libc(), b, len, &q, &d), DPF_EINVAL,
		             "case %zu accepted", i);
		cr_assert_null(q);
		cr_assert_str_eq(d.msg, c->msg, "case %zu", i);
		free(b);
	}
	/* every truncation is refused; a trailing byte too */
	for (long len = 0; len < n; len++) {
		struct dpf_prog *q;
		struct dpf_diag d;
		cr_assert_eq(dpf_ir_read(dpf_host_libc(), good, (size_t)len, &q, &d),
		             DPF_EINVAL, "truncated to %ld accepted", len);
		if (len == 20)
			cr_assert_str_eq(d.msg, "at byte 12: the length field says 118 "
			                        "bytes, the input has 20");
	}
	uint8_t *longer = calloc(1, (size_t)n + 1);
	memcpy(longer, good, (size_t)n);
	longer[12] = (uint8_t)(n + 1);
	struct dpf_prog *q;
	struct dpf_diag d;
	cr_assert_eq(dpf_ir_read(dpf_host_libc(), longer, (size_t)n + 1, &q, &d),
	             DPF_EINVAL);
	cr_assert_str_eq(d.msg, "at byte 118: trailing bytes after the last filter (1)");
	free(longer);
	free(good);
}

/* "a\0b" beside a real "a": before names were checked for NUL, the
 * reader made it "a" (the verifier looks up to the first NUL), so the
 * program held two filters named "a" and wrote back differently. */
Test(ir, reader_refuses_nul_inside_a_name)
{
	static struct dpf_atom at = {DPF_ATOM_CMP, 0, 2, 0, 12, 0xffff, 0x0800};
	static struct dpf_path path = {1, &at};
	struct dpf_filter fs[2];
	struct dpf_prog prog = {2, fs};
	memset(fs, 0, sizeof fs);
	strcpy(fs[0].name, "a");
	strcpy(fs[1].name, "axb");
	for (int i = 0; i < 2; i++) {
		fs[i].npaths = 1;
		fs[i].paths = &path;
	}
	long n = dpf_ir_write(&prog, NULL, 0);
	cr_assert_gt(n, 0);
	uint8_t *b = malloc((size_t)n);
	cr_assert_eq(dpf_ir_write(&prog, b, (size_t)n), n);
	/* header 16; "a": len 16, name 17, prio 18, owner 22, npaths 26,
	 * path 30 (natoms 2 + 16); "axb": len 48, name 49..51 */
	cr_assert_eq(b[48], 3);
	cr_assert_eq(b[50], 'x');
	struct dpf_prog *q = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(dpf_ir_read(dpf_host_libc(), b, (size_t)n, &q, &d), DPF_OK,
	             "%s", d.msg);
	dpf_prog_free(dpf_host_libc(), q);
	b[50] = 0;
	q = (struct dpf_prog *)1;
	cr_assert_eq(dpf_ir_read(dpf_host_libc(), b, (size_t)n, &q, &d),
	             DPF_EINVAL);
	cr_assert_null(q);
	cr_assert_str_eq(d.msg, "at byte 50: NUL byte inside the filter name "
	                        "(name byte 1 of 3)");
	free(b);
}

static void to_file(void *ctx, const char *text)
{
	fputs(text, ctx);
}

Test(ir, dump_is_readable)
{
	char buf[2048];
	FILE *m = fmemopen(buf, sizeof buf, "w");
	dpf_prog_dump(sample_prog(), to_file, m);
	fclose(m);
	cr_assert_str_eq(buf, "filter web priority 7 owner 3 paths 2\n"
	                      "  path 0 (32 bits):\n"
	                      "     0: u16[12] == 0x0800\n"
	                      "     1: shift (u8[14] & 0x0f) << 2\n"
	                      "     2: u16[rel+16] == 0x0050\n"
	                      "  path 1 (24 bits):\n"
	                      "     0: u32[30] & 0xffffff00 == 0x0a000100\n"
	                      "filter all priority 0 owner 0 paths 1\n"
	                      "  path 0 (0 bits):\n"
	                      "    (no atoms: matches every frame)\n");
}

Test(ir, fmt_subset)
{
	char b[64];
	cr_assert_eq(dpf_fmt(b, sizeof b, "%s|%5d|%-3u|%04x|%c|%%|%zu|%ld", "a", -42,
	                     7u, 0xbeu, 'z', (size_t)9, -5L),
	             25);
	cr_assert_str_eq(b, "a|  -42|7  |00be|z|%|9|-5");
	cr_assert_eq(dpf_fmt(b, 4, "%s", "abcdef"), 6);
	cr_assert_str_eq(b, "abc");
	dpf_fmt(b, sizeof b, "0x%0*x", 4, 0x50u);
	cr_assert_str_eq(b, "0x0050");
}
