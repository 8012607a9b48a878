/*
 * test_verifier.c - every IR rule of verifier/vfy.h, with its exact
 * message, refused by the verifier, by the engine (which then installs
 * nothing) and by the binary IR reader.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "dpf/dpf.h"
#include "gen_ir.h"
#include "verifier/vfy.h"

struct vcase {
	struct dpf_atom atom; /* put at index 1 of a three-atom path */
	const char *msg;      /* NULL: accepted */
};

#define A(kind, base, width, shift, off, mask, value)                         \
	{ kind, base, width, shift, off, mask, value }

static const struct vcase cases[] = {
	{A(0, 0, 1, 0, 14, 0xf0, 0x40), NULL},
	{A(0, 1, 4, 0, 65535, 0xffffffff, 7), NULL},
	{A(1, 0, 2, 8, 14, 0xffff, 0), NULL},
	{A(2, 0, 1, 0, 14, 0xff, 1), "unknown atom kind"},
	{A(0, 2, 1, 0, 14, 0xff, 1), "unknown base"},
	{A(0, 0, 3, 0, 14, 0xff, 1), "width is not 1, 2 or 4"},
	{A(0, 0, 0, 0, 14, 0xff, 1), "width is not 1, 2 or 4"},
	{A(0, 0, 8, 0, 14, 0xff, 1), "width is not 1, 2 or 4"},
	{A(0, 0, 1, 0, 14, 0, 0), "mask is zero"},
	{A(0, 0, 1, 0, 14, 0x1ff, 1), "mask is wider than the load"},
	{A(0, 0, 2, 0, 14, 0x10000, 0), "mask is wider than the load"},
	{A(0, 0, 1, 0, 14, 0xf0, 0x41), "value has bits outside the mask"},
	{A(0, 0, 1, 2, 14, 0xff, 1), "compare atom has a shift count"},
	{A(1, 0, 4, 2, 14, 0xff, 0), "shift loads 1 or 2 bytes"},
	{A(1, 0, 1, 9, 14, 0x0f, 0), "shift count above 8"},
	{A(1, 0, 1, 2, 14, 0x0f, 1), "shift atom has a value"},
};

static void one_filter(struct dpf_filter *f, struct dpf_path *p,
                       struct dpf_atom *atoms, const struct dpf_atom *mid)
{
	atoms[0] = gi_cmp(0, 12, 2, 0xffff, 0x0800);
	atoms[1] = *mid;
	atoms[2] = gi_cmp(0, 30, 4, 0xffffffff, 0x0a000001);
	p->natoms = 3;
	p->atoms = atoms;
	memset(f, 0, sizeof *f);
	strcpy(f->name, "f");
	f->npaths = 1;
	f->paths = p;
}

Test(verifier, each_rule_names_filter_path_and_atom)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dpf_filter f;
		struct dpf_path p;
		struct dpf_atom atoms[3];
		one_filter(&f, &p, atoms, &cases[i].atom);
		struct dpf_diag d = {{0}};
		int rc = vfy_filter(&f, &d);
		if (!cases[i].msg) {
			cr_expect_eq(rc, 0, "case %zu refused: %s", i, d.msg);
			continue;
		}
		char want[200];
		snprintf(want, sizeof want, "filter 'f' path 0 atom 1: %s",
		         cases[i].msg);
		cr_expect_eq(rc, DPF_EINVAL, "case %zu accepted", i);
		cr_expect_str_eq(d.msg, want, "case %zu", i);

		/* the engine installs nothing the verifier refuses */
		struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
		struct dpf_diag d2 = {{0}};
		cr_expect_eq(dpf_insert(e, &f, NULL, &d2), DPF_EINVAL);
		cr_expect_str_eq(d2.msg, want);
		cr_expect_eq(dpf_count(e), 0);
		uint8_t pkt[64] = {0};
		cr_expect_eq(dpf_classify(e, pkt, sizeof pkt), DPF_NOMATCH);
		dpf_engine_free(e);

		/* and neither does the IR reader: the writer does not judge */
		struct dpf_prog prog = {1, &f};
		long n = dpf_ir_write(&prog, NULL, 0);
		uint8_t *buf = malloc((size_t)n);
		cr_assert_eq(dpf_ir_write(&prog, buf, (size_t)n), n);
		struct dpf_prog *q = NULL;
		struct dpf_diag d3 = {{0}};
		cr_expect_eq(dpf_ir_read(dpf_host_libc(), buf, (size_t)n, &q, &d3),
		             DPF_EINVAL);
		char want3[240];
		snprintf(want3, sizeof want3, "at byte 16: %s", want);
		cr_expect_str_eq(d3.msg, want3);
		cr_expect_null(q);
		free(buf);
	}
}

Test(verifier, filter_level_rules)
{
	struct dpf_atom atoms[3];
	struct dpf_path p;
	struct dpf_filter f;
	struct dpf_diag d;
	one_filter(&f, &p, atoms, &cases[0].atom);
	cr_assert_eq(vfy_filter(&f, &d), 0);

	f.name[0] = 0;
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter name is empty");
	strcpy(f.name, "9lives");
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter name has a bad character at byte 0");
	strcpy(f.name, "a b");
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter name has a bad character at byte 1");
	memset(f.name, 'x', sizeof f.name); /* no terminator within the limit */
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter name is too long");
	strcpy(f.name, "ok.name-2");

	f.priority = DPF_PRIO_MAX + 1;
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter 'ok.name-2': priority 65536 is above 65535");
	f.priority = DPF_PRIO_MAX;
	cr_assert_eq(vfy_filter(&f, &d), 0);

	f.npaths = 0;
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, "filter 'ok.name-2': 0 paths (must be 1..65536)");
	f.npaths = DPF_MAX_PATHS + 1;
	cr_assert_eq(vfy_filter(&f, &d), DPF_ELIMIT);
	f.npaths = 1;

	struct dpf_atom many[DPF_MAX_ATOMS + 1];
	for (int i = 0; i <= DPF_MAX_ATOMS; i++)
		many[i] = gi_cmp(0, (unsigned)i, 1, 0xff, 0);
	p.atoms = many;
	p.natoms = DPF_MAX_ATOMS;
	cr_assert_eq(vfy_filter(&f, &d), 0);
	p.natoms = DPF_MAX_ATOMS + 1;
	cr_assert_eq(vfy_filter(&f, &d), DPF_ELIMIT);
	cr_assert_str_eq(d.msg, "filter 'ok.name-2' path 0: 65 atoms (limit 64)");

	for (int i = 0; i <= DPF_MAX_SHIFTS; i++)
		many[i] = gi_ihl();
	p.natoms = DPF_MAX_SHIFTS;
	cr_assert_eq(vfy_filter(&f, &d), 0);
	p.natoms = DPF_MAX_SHIFTS + 1;
	cr_assert_eq(vfy_filter(&f, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg,
	                 "filter 'ok.name-2' path 0 atom 8: more than 8 shift atoms");
}

/* The deepest base the rules allow still cannot overflow a position: the
 * interpreter and the reference agree on a packet that reaches it. */
Test(verifier, deepest_shift_chain_classifies_safely)
{
	struct dpf_atom a[DPF_MAX_SHIFTS + 1];
	for (int i = 0; i < DPF_MAX_SHIFTS; i++) {
		a[i] = gi_ihl();
		a[i].base = DPF_BASE_REL;
		a[i].offset = 0;
		a[i].width = 2;
		a[i].mask = 0xffff;
		a[i].shift = DPF_MAX_SHIFT_K;
	}
	a[DPF_MAX_SHIFTS] = gi_cmp(DPF_BASE_REL, 65535, 4, 0xffffffff, 1);
	struct dpf_path p = {DPF_MAX_SHIFTS + 1, a};
	struct dpf_filter f = {"deep", 0, 0, 1, &p, 0, 0};
	struct dpf_diag d;
	cr_assert_eq(vfy_filter(&f, &d), 0, "%s", d.msg);
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	cr_assert_eq(dpf_insert(e, &f, NULL, &d), 0, "%s", d.msg);
	uint8_t pkt[256];
	memset(pkt, 0xff, sizeof pkt);
	for (uint32_t len = 0; len <= sizeof pkt; len += 17)
		cr_assert_eq(dpf_classify(e, pkt, len), dpf_classify_naive(e, pkt, len));
	cr_assert_eq(dpf_classify(e, pkt, sizeof pkt), DPF_NOMATCH);
	dpf_engine_free(e);
}
