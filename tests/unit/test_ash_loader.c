/*
 * test_ash_loader.c - the ELF loader (ash/loader.h) on the handler
 * examples and on objects it must refuse: map tables, relocations,
 * appended subprograms, line tables against the source files, --set
 * knobs, and every refusal with its exact message (truncation and
 * corruption included: an error, never a crash).
 */
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/loader.h"
#include "testutil.h"

#define EX_OBJ(name) DPF_BINARY_DIR "/ash/examples/" name ".o"
#define EX_SRC(name) DPF_SOURCE_DIR "/ash/examples/" name ".c"
#define BAD_OBJ(name) DPF_BINARY_DIR "/tests/ash/bad/" name ".o"

struct obj {
	uint8_t *buf;
	size_t len;
};

static struct obj read_obj(const char *path)
{
	struct obj o;
	o.buf = (uint8_t *)tu_read_file(path, &o.len);
	cr_assert(o.buf, "cannot read %s (build target ash_examples)", path);
	return o;
}

/* Load path (program prog, sets) and assert success. */
static struct ash_image *load_ok(const char *path, const char *prog,
                                 const struct ash_set *sets, size_t nsets)
{
	struct obj o = read_obj(path);
	struct ash_image *img = NULL;
	struct dpf_diag d;
	int r = ash_load_elf(o.buf, o.len, prog, sets, nsets, &img, &d);
	cr_assert_eq(r, 0, "%s: %s", path, d.msg);
	cr_assert(img);
	free(o.buf);
	return img;
}

/* Load bytes and assert refusal with exactly msg. */
static void load_fails(const uint8_t *buf, size_t len, const char *prog,
                       const struct ash_set *sets, size_t nsets,
                       const char *msg)
{
	struct ash_image *img = (struct ash_image *)1;
	struct dpf_diag d;
	int r = ash_load_elf(buf, len, prog, sets, nsets, &img, &d);
	cr_assert_eq(r, DPF_EINVAL, "accepted; expected '%s'", msg);
	cr_assert_null(img);
	cr_assert_str_eq(d.msg, msg);
}

static void free_img(struct ash_image *img)
{
	ash_image_free(dpf_host_libc(), img);
}

static const char *const examples[] = {
	"udp_echo", "icmp_echo", "counters", "flow_table", "lru_flows",
	"vlan_pop", "truncate", "meta", "subprogs", "bounded_loop",
	"bpf_loop", "load_store", "ringbuf", "global_data", "redirect",
};
#define NEX (sizeof examples / sizeof examples[0])

/* ---- every example ---- */

Test(ash_loader, every_example_loads)
{
	char path[512];
	for (size_t i = 0; i < NEX; i++) {
		snprintf(path, sizeof path, DPF_BINARY_DIR "/ash/examples/%s.o",
		         examples[i]);
		struct ash_image *img = load_ok(path, NULL, NULL, 0);
		cr_assert_gt(img->ninsns, 1, "%s", examples[i]);
		cr_assert_str_eq(img->section, "xdp", "%s", examples[i]);
		cr_assert_gt(img->nlines, 0, "%s", examples[i]);
		/* every instruction is an exit, a known opcode, or lddw's
		 * second slot; every map reference is an index in range */
		for (uint32_t k = 0; k < img->ninsns; k++) {
			struct ash_insn *in = &img->insns[k];
			if (in->code != 0x18)
				continue;
			cr_assert_lt(k + 1, img->ninsns);
			if (in->src == ASH_PSEUDO_MAP_IDX ||
			    in->src == ASH_PSEUDO_MAP_IDX_VALUE)
				cr_assert_lt((uint32_t)in->imm, img->nmaps,
				             "%s insn %u", examples[i], k);
			else
				cr_assert(in->src == 0 || in->src == ASH_PSEUDO_FUNC,
				          "%s insn %u src %u", examples[i], k, in->src);
			k++;
		}
		/* lines sorted, strings inside the table */
		for (uint32_t k = 0; k < img->nlines; k++) {
			cr_assert_lt(img->lines[k].insn, img->ninsns);
			cr_assert_lt(img->lines[k].file, img->nstr);
			cr_assert_lt(img->lines[k].text, img->nstr);
			if (k)
				cr_assert_leq(img->lines[k - 1].insn,
				              img->lines[k].insn);
		}
		free_img(img);
	}
}

Test(ash_loader, program_names)
{
	struct ash_image *img = load_ok(EX_OBJ("bpf_loop"), NULL, NULL, 0);
	cr_assert_str_eq(img->prog, "bpf_loop_ff");
	free_img(img);
	img = load_ok(EX_OBJ("udp_echo"), "udp_echo", NULL, 0);
	cr_assert_str_eq(img->prog, "udp_echo");
	cr_assert_eq(img->nmaps, 0);
	cr_assert_eq(img->ndata, 0);
	free_img(img);
}

/* ---- map tables ---- */

struct mapx {
	const char *name;
	uint32_t type, kind, key, value, entries;
};

static void check_maps(const struct ash_image *img, const struct mapx *x,
                       uint32_t n)
{
	cr_assert_eq(img->nmaps, n, "%s: %u maps", img->prog, img->nmaps);
	for (uint32_t i = 0; i < n; i++) {
		const struct ash_map_def *m = &img->maps[i];
		cr_assert_str_eq(m->name, x[i].name);
		cr_assert_eq(m->type, x[i].type, "%s", m->name);
		cr_assert_eq(m->kind, x[i].kind, "%s", m->name);
		cr_assert_eq(m->key_size, x[i].key, "%s", m->name);
		cr_assert_eq(m->value_size, x[i].value, "%s", m->name);
		cr_assert_eq(m->max_entries, x[i].entries, "%s", m->name);
	}
}

Test(ash_loader, map_tables)
{
	static const struct mapx counters[] = {
		{"proto_bytes", ASH_MAP_PERCPU_ARRAY, ASH_MAPK_USER, 4, 8, 32},
		{"class_count", ASH_MAP_ARRAY, ASH_MAPK_USER, 4, 16, 8},
	};
	static const struct mapx flows[] = {
		{"flows", ASH_MAP_HASH, ASH_MAPK_USER, 16, 16, 64},
		{"overflow", ASH_MAP_ARRAY, ASH_MAPK_USER, 4, 8, 1},
	};
	static const struct mapx lru[] = {
		{"recent", ASH_MAP_LRU_HASH, ASH_MAPK_USER, 12, 8, 16},
	};
	static const struct mapx ring[] = {
		{"events", ASH_MAP_RINGBUF, ASH_MAPK_USER, 0, 0, 4096},
		{"stats", ASH_MAP_ARRAY, ASH_MAPK_USER, 4, 8, 3},
	};
	static const struct mapx global[] = {
		{".rodata", ASH_MAP_ARRAY, ASH_MAPK_RODATA, 4, 3, 1},
		{".data", ASH_MAP_ARRAY, ASH_MAPK_DATA, 4, 24, 1},
		{".bss", ASH_MAP_ARRAY, ASH_MAPK_BSS, 4, 24, 1},
	};
	struct ash_image *img;

	img = load_ok(EX_OBJ("counters"), NULL, NULL, 0);
	check_maps(img, counters, 2);
	free_img(img);
	img = load_ok(EX_OBJ("flow_table"), NULL, NULL, 0);
	check_maps(img, flows, 2);
	free_img(img);
	img = load_ok(EX_OBJ("lru_flows"), NULL, NULL, 0);
	check_maps(img, lru, 1);
	free_img(img);
	img = load_ok(EX_OBJ("ringbuf"), NULL, NULL, 0);
	check_maps(img, ring, 2);
	free_img(img);

	img = load_ok(EX_OBJ("global_data"), NULL, NULL, 0);
	check_maps(img, global, 3);
	/* initial bytes: port = 9, drop_enabled = 1; weights and
	 * jumbo_weight; bss zero */
	static const uint8_t rodata[] = {9, 0, 1};
	static const uint32_t weights[] = {1, 2, 3, 5, 8, 13};
	cr_assert_eq(img->ndata, 3 + 24 + 24);
	cr_assert_eq(img->maps[0].init_len, 3);
	cr_assert_eq(memcmp(img->data + img->maps[0].init_off, rodata, 3), 0);
	cr_assert_eq(img->maps[1].init_len, 24);
	cr_assert_eq(memcmp(img->data + img->maps[1].init_off, weights, 24), 0);
	cr_assert_eq(img->maps[2].init_len, 24);
	for (uint32_t i = 0; i < 24; i++)
		cr_assert_eq(img->data[img->maps[2].init_off + i], 0);
	free_img(img);
}

/* ---- relocations ---- */

/* The line-table text of insn k. */
static const char *line_text(const struct ash_image *img, uint32_t k)
{
	const struct ash_line *ln = ash_image_line(img, k);
	cr_assert(ln, "no line for insn %u", k);
	return img->strtab + ln->text;
}

Test(ash_loader, global_data_references)
{
	struct ash_image *img = load_ok(EX_OBJ("global_data"), NULL, NULL, 0);
	int seen[3][32] = {{0}};
	for (uint32_t k = 0; k + 1 < img->ninsns; k++) {
		struct ash_insn *in = &img->insns[k];
		if (in->code != 0x18)
			continue;
		if (in->src == ASH_PSEUDO_MAP_IDX_VALUE) {
			int32_t off = img->insns[k + 1].imm;
			cr_assert_lt((uint32_t)in->imm, 3);
			cr_assert_geq(off, 0);
			cr_assert_lt((uint32_t)off, img->maps[in->imm].value_size);
			seen[in->imm][off] = 1;
		}
		k++;
	}
	/* .rodata: port at 0, drop_enabled at 2; .data: weights at 0,
	 * jumbo_weight at 20;
	 * .bss: three counters */
	cr_assert(seen[0][0] && seen[0][2]);
	cr_assert(seen[1][0] && seen[1][20]);
	cr_assert(seen[2][0] && seen[2][8] && seen[2][16]);
	free_img(img);
}

Test(ash_loader, map_references)
{
	struct ash_image *img = load_ok(EX_OBJ("counters"), NULL, NULL, 0);
	int used[2] = {0, 0};
	for (uint32_t k = 0; k + 1 < img->ninsns; k++) {
		struct ash_insn *in = &img->insns[k];
		if (in->code != 0x18)
			continue;
		if (in->src == ASH_PSEUDO_MAP_IDX) {
			cr_assert_lt((uint32_t)in->imm, 2);
			cr_assert_eq(img->insns[k + 1].imm, 0);
			used[in->imm]++;
			/* the reference feeds a map helper call */
			cr_assert_eq(in->dst, 1);
			cr_assert_str_eq(line_text(img, k), line_text(img, k + 2));
		}
		k++;
	}
	cr_assert(used[0] && used[1]);
	free_img(img);
}

/* Sizes of sections of an object, in insns. */
static uint32_t section_insns(const char *path, const char *name)
{
	struct obj o = read_obj(path);
	uint32_t n = 0;
	elf_version(EV_CURRENT);
	Elf *e = elf_memory((char *)o.buf, o.len);
	size_t shstr;
	cr_assert(e && elf_getshdrstrndx(e, &shstr) == 0);
	for (Elf_Scn *s = elf_nextscn(e, NULL); s; s = elf_nextscn(e, s)) {
		GElf_Shdr sh;
		gelf_getshdr(s, &sh);
		if (strcmp(elf_strptr(e, shstr, sh.sh_name), name) == 0)
			n = (uint32_t)(sh.sh_size / 8);
	}
	elf_end(e);
	free(o.buf);
	return n;
}

Test(ash_loader, subprograms_appended)
{
	struct ash_image *img = load_ok(EX_OBJ("subprogs"), NULL, NULL, 0);
	uint32_t prog = section_insns(EX_OBJ("subprogs"), "xdp");
	uint32_t text = section_insns(EX_OBJ("subprogs"), ".text");
	int calls = 0;

	/* the program, then its four subprograms: all of .text */
	cr_assert_gt(text, 0);
	cr_assert_eq(img->ninsns, prog + text);
	for (uint32_t k = 0; k < img->ninsns; k++) {
		struct ash_insn *in = &img->insns[k];
		if (in->code == 0x18) {
			k++;
			continue;
		}
		if (in->code != 0x85 || in->src != ASH_PSEUDO_CALL)
			continue;
		int64_t t = (int64_t)k + in->imm + 1;
		cr_assert_geq(t, prog, "call at %u lands in the program", k);
		cr_assert_lt(t, img->ninsns);
		/* the target starts a function: one ends just before it */
		cr_assert_eq(img->insns[t - 1].code, 0x95,
		             "call at %u lands on '%s'", k,
		             line_text(img, (uint32_t)t));
		calls++;
	}
	cr_assert_eq(calls, 4);
	free_img(img);
}

Test(ash_loader, callback_address)
{
	struct ash_image *img = load_ok(EX_OBJ("bpf_loop"), NULL, NULL, 0);
	uint32_t prog = section_insns(EX_OBJ("bpf_loop"), "xdp");
	int funcs = 0;
	for (uint32_t k = 0; k + 1 < img->ninsns; k++) {
		struct ash_insn *in = &img->insns[k];
		if (in->code != 0x18)
			continue;
		if (in->src == ASH_PSEUDO_FUNC) {
			int64_t t = (int64_t)k + in->imm + 1;
			cr_assert_eq(t, prog, "the callback is appended first");
			cr_assert(strstr(line_text(img, (uint32_t)t),
			                 "static long count_ff"));
			cr_assert_eq(img->insns[k + 1].imm, 0);
			funcs++;
		}
		k++;
	}
	cr_assert_eq(funcs, 1);
	free_img(img);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* The oracle: libbpf's own linking, as it hands the program to the
 * kernel (needs bpf(); skipped without it).  Same instructions, same
 * layout; map fds stand where the image has map indices. */
Test(ash_loader, linking_matches_libbpf)
{
	char path[512];
	libbpf_set_print(quiet);
	for (size_t e = 0; e < NEX; e++) {
		snprintf(path, sizeof path, DPF_BINARY_DIR "/ash/examples/%s.o",
		         examples[e]);
		struct ash_image *img = load_ok(path, NULL, NULL, 0);
		struct bpf_object *obj = bpf_object__open_file(path, NULL);
		cr_assert(obj);
		if (bpf_object__load(obj)) {
			int err = errno;
			bpf_object__close(obj);
			free_img(img);
			if (err == EPERM || err == ENOSYS || err == EACCES)
				cr_skip_test("bpf() not permitted");
			cr_assert_fail("%s: Linux refuses it (errno %d)", path, err);
		}
		struct bpf_program *p =
			bpf_object__find_program_by_name(obj, img->prog);
		const struct bpf_insn *li = bpf_program__insns(p);
		size_t n = bpf_program__insn_cnt(p);
		int fds[ASH_MAX_MAPS], nm = 0;
		struct bpf_map *m;
		bpf_object__for_each_map(m, obj)
			fds[nm++] = bpf_map__fd(m);
		cr_assert_eq(n, img->ninsns, "%s", examples[e]);
		for (size_t i = 0; i < n; i++) {
			const struct ash_insn *a = &img->insns[i];
			const struct bpf_insn *b = &li[i];
			cr_assert(a->code == b->code && a->dst == b->dst_reg &&
			          a->off == b->off, "%s insn %zu", examples[e], i);
			if (b->code == 0x18 && (b->src_reg == 1 || b->src_reg == 2)) {
				int idx = -1;
				for (int k = 0; k < nm; k++)
					if (fds[k] == b->imm)
						idx = k;
				cr_assert_eq(a->imm, idx, "%s insn %zu", examples[e], i);
				cr_assert_eq(a->src, b->src_reg == 1 ? 5 : 6);
				cr_assert_eq(img->insns[i + 1].imm, li[i + 1].imm);
				i++;
				continue;
			}
			cr_assert(a->src == b->src_reg && a->imm == b->imm,
			          "%s insn %zu: src %u imm %d, libbpf %u %d",
			          examples[e], i, a->src, a->imm, b->src_reg, b->imm);
		}
		bpf_object__close(obj);
		free_img(img);
	}
}

/* ---- line table ---- */

/* Line n (1-based) of the file text, without its newline. */
static int source_line(const char *src, uint32_t n, char *out, size_t cap)
{
	const char *p = src;
	for (uint32_t i = 1; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	size_t len = strcspn(p, "\n");
	if (len >= cap)
		return -1;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

Test(ash_loader, lines_match_the_source)
{
	static const char *const names[] = {"udp_echo", "subprogs", "bpf_loop",
	                                    "global_data", "ringbuf"};
	char obj[512], src[512], want[512];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(obj, sizeof obj, DPF_BINARY_DIR "/ash/examples/%s.o",
		         names[i]);
		snprintf(src, sizeof src, DPF_SOURCE_DIR "/ash/examples/%s.c",
		         names[i]);
		struct ash_image *img = load_ok(obj, NULL, NULL, 0);
		size_t len;
		char *text = tu_read_file(src, &len);
		cr_assert(text);
		int checked = 0;
		for (uint32_t k = 0; k < img->nlines; k++) {
			const struct ash_line *ln = &img->lines[k];
			if (ln->line == 0)
				continue; /* compiler-made code */
			cr_assert_str_eq(img->strtab + ln->file, src);
			cr_assert_eq(source_line(text, ln->line, want, sizeof want), 0);
			cr_assert_str_eq(img->strtab + ln->text, want, "%s:%u",
			                 names[i], ln->line);
			cr_assert_lt(ln->col, 1024);
			checked++;
		}
		cr_assert_gt(checked, 5);
		free(text);
		free_img(img);
	}
	/* the first instruction is the function's opening line */
	struct ash_image *img = load_ok(EX_OBJ("udp_echo"), NULL, NULL, 0);
	cr_assert_eq(img->lines[0].insn, 0);
	cr_assert_str_eq(line_text(img, 0), "int udp_echo(struct xdp_md *ctx)");
	free_img(img);
}

/* ---- --set ---- */

Test(ash_loader, set_patches_rodata)
{
	struct ash_set sets[] = {{"port", "53"}, {"drop_enabled", "0x0"}};
	struct ash_image *img = load_ok(EX_OBJ("global_data"), NULL, sets, 2);
	const uint8_t *ro = img->data + img->maps[0].init_off;
	cr_assert_eq(ro[0], 53);
	cr_assert_eq(ro[1], 0);
	cr_assert_eq(ro[2], 0);
	free_img(img);

	struct ash_set big[] = {{"port", "0xfffe"}};
	img = load_ok(EX_OBJ("global_data"), NULL, big, 1);
	ro = img->data + img->maps[0].init_off;
	cr_assert_eq(ro[0], 0xfe);
	cr_assert_eq(ro[1], 0xff);
	cr_assert_eq(ro[2], 1);
	free_img(img);

	/* .data variables too, after the 20-byte weights table */
	struct ash_set j[] = {{"jumbo_weight", "0x100"}};
	img = load_ok(EX_OBJ("global_data"), NULL, j, 1);
	static const uint8_t data[] = {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
	                               5, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 0};
	cr_assert_eq(memcmp(img->data + img->maps[1].init_off, data, 24), 0);
	free_img(img);

	struct ash_set w[] = {{"weights", "7"}};
	struct obj o = read_obj(EX_OBJ("global_data"));
	load_fails(o.buf, o.len, NULL, w, 1,
	           "variable 'weights' has 20 bytes, not an integer");
	free(o.buf);
}

Test(ash_loader, set_refusals)
{
	struct obj o = read_obj(EX_OBJ("global_data"));
	static const struct {
		const char *name, *value, *msg;
	} cases[] = {
		{"nope", "1", "no variable 'nope' in .rodata or .data"},
		{"frames", "1", "no variable 'frames' in .rodata or .data"},
		{"port", "65536", "value 65536 does not fit 'port' (2 bytes)"},
		{"drop_enabled", "256",
		 "value 256 does not fit 'drop_enabled' (1 bytes)"},
		{"port", "12x", "bad value '12x' for 'port' (decimal or 0x hex)"},
		{"port", "", "bad value '' for 'port' (decimal or 0x hex)"},
		{"port", "0x", "bad value '0x' for 'port' (decimal or 0x hex)"},
		{"port", "99999999999999999999999",
		 "bad value '99999999999999999999999' for 'port' (decimal or 0x "
		 "hex)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ash_set s = {cases[i].name, cases[i].value};
		load_fails(o.buf, o.len, NULL, &s, 1, cases[i].msg);
	}
	/* a handler without global data has no variables at all */
	struct obj u = read_obj(EX_OBJ("udp_echo"));
	struct ash_set s = {"port", "7"};
	load_fails(u.buf, u.len, NULL, &s, 1,
	           "no variable 'port' in .rodata or .data");
	free(u.buf);
	free(o.buf);
}

/* ---- refusals ---- */

Test(ash_loader, not_an_object)
{
	static const uint8_t junk[] = "hello, world";
	load_fails(junk, 0, NULL, NULL, 0, "empty object");
	load_fails(junk, sizeof junk, NULL, NULL, 0, "not an ELF object");
	load_fails((const uint8_t *)"\177EL", 3, NULL, NULL, 0,
	           "not an ELF object");
	load_fails((const uint8_t *)"\177ELF", 4, NULL, NULL, 0,
	           "not a 64-bit little-endian ELF object");
	struct obj t = read_obj("/bin/true");
	load_fails(t.buf, t.len, NULL, NULL, 0,
	           "not a BPF object (ELF machine 62)");
	free(t.buf);
}

Test(ash_loader, program_choice)
{
	struct obj o = read_obj(BAD_OBJ("two_progs"));
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "2 XDP programs, name one: first, second");
	load_fails(o.buf, o.len, "third", NULL, 0,
	           "no XDP program named 'third' (the object has: first, "
	           "second)");
	struct ash_image *img = load_ok(BAD_OBJ("two_progs"), "second", NULL, 0);
	cr_assert_str_eq(img->prog, "second");
	cr_assert_str_eq(img->section, "xdp/second");
	cr_assert_eq(img->ninsns, 2);
	free_img(img);

	char names[4][ASH_NAME_MAX + 1];
	struct dpf_diag d;
	cr_assert_eq(ash_elf_programs(o.buf, o.len, names, 4, &d), 2);
	cr_assert_str_eq(names[0], "first");
	cr_assert_str_eq(names[1], "second");
	free(o.buf);

	o = read_obj(BAD_OBJ("no_xdp"));
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "no XDP program (sections \"xdp\" or \"xdp/...\")");
	load_fails(o.buf, o.len, "sock", NULL, 0,
	           "no XDP program (sections \"xdp\" or \"xdp/...\")");
	cr_assert_eq(ash_elf_programs(o.buf, o.len, names, 4, &d), 0);
	free(o.buf);
}

Test(ash_loader, unknown_map_type)
{
	struct obj o = read_obj(BAD_OBJ("stack_map"));
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "map 'lifo': unsupported map type stack (23)");
	free(o.buf);
}

Test(ash_loader, too_many_maps)
{
	struct obj o = read_obj(BAD_OBJ("many_maps"));
	load_fails(o.buf, o.len, NULL, NULL, 0, "too many maps (more than 64)");
	free(o.buf);
}

Test(ash_loader, externs)
{
	struct obj o = read_obj(BAD_OBJ("extern_kconfig"));
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "extern 'LINUX_KERNEL_VERSION' is not supported (no kernel "
	           "symbols or kconfig)");
	free(o.buf);
}

Test(ash_loader, every_prefix_is_refused)
{
	struct obj o = read_obj(EX_OBJ("subprogs"));
	for (size_t n = 0; n < o.len; n++) {
		/* a fresh copy of exactly n bytes, so ASan sees overreads */
		uint8_t *p = malloc(n ? n : 1);
		struct ash_image *img = NULL;
		struct dpf_diag d;
		memcpy(p, o.buf, n);
		int r = ash_load_elf(p, n, NULL, NULL, 0, &img, &d);
		cr_assert_eq(r, DPF_EINVAL, "prefix %zu accepted", n);
		cr_assert_null(img);
		cr_assert_gt(strlen(d.msg), 0);
		free(p);
	}
	free(o.buf);
}

/* The relocation section of `name` in an object copy, for patching. */
static uint8_t *find_section(struct obj *o, const char *name, GElf_Shdr *out)
{
	elf_version(EV_CURRENT);
	Elf *e = elf_memory((char *)o->buf, o->len);
	size_t shstr;
	uint8_t *r = NULL;
	cr_assert(e && elf_getshdrstrndx(e, &shstr) == 0);
	for (Elf_Scn *s = elf_nextscn(e, NULL); s; s = elf_nextscn(e, s)) {
		GElf_Shdr sh;
		gelf_getshdr(s, &sh);
		if (strcmp(elf_strptr(e, shstr, sh.sh_name), name) == 0) {
			*out = sh;
			r = o->buf + sh.sh_offset;
		}
	}
	elf_end(e);
	cr_assert(r, "no section %s", name);
	return r;
}

Test(ash_loader, bad_relocations)
{
	struct obj o = read_obj(EX_OBJ("counters"));
	GElf_Shdr sh;
	uint8_t *rel = find_section(&o, ".relxdp", &sh);
	Elf64_Rel r;

	memcpy(&r, rel, sizeof r);
	Elf64_Rel bad = r;
	bad.r_info = ELF64_R_INFO(999999, ELF64_R_TYPE(r.r_info));
	memcpy(rel, &bad, sizeof bad);
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "relocation 0 of 'xdp' to unknown symbol 999999");
	bad = r;
	bad.r_offset = 1u << 20;
	memcpy(rel, &bad, sizeof bad);
	load_fails(o.buf, o.len, NULL, NULL, 0,
	           "relocation 0 of 'xdp' at offset 1048576, outside the "
	           "section");
	bad = r;
	bad.r_offset = r.r_offset + 8; /* onto the lddw's second slot */
	memcpy(rel, &bad, sizeof bad);
	{
		struct ash_image *img = NULL;
		struct dpf_diag d;
		cr_assert_eq(ash_load_elf(o.buf, o.len, NULL, NULL, 0, &img, &d),
		             DPF_EINVAL);
		cr_assert_null(img);
		cr_assert(strstr(d.msg, "relo"), "%s", d.msg);
	}
	free(o.buf);
}

Test(ash_loader, overlapping_sections)
{
	struct obj o = read_obj(EX_OBJ("counters"));
	Elf64_Ehdr eh;
	memcpy(&eh, o.buf, sizeof eh);
	/* the second non-empty section starts where the first does */
	Elf64_Shdr s1, s2;
	size_t at1 = 0, at2 = 0;
	for (size_t i = 1; i < eh.e_shnum && !at2; i++) {
		size_t at = eh.e_shoff + i * sizeof s1;
		memcpy(&s2, o.buf + at, sizeof s2);
		if (s2.sh_size == 0 || s2.sh_type == SHT_NOBITS)
			continue;
		if (at1)
			at2 = at;
		else
			at1 = at;
	}
	cr_assert(at2);
	memcpy(&s1, o.buf + at1, sizeof s1);
	memcpy(&s2, o.buf + at2, sizeof s2);
	s2.sh_offset = s1.sh_offset;
	memcpy(o.buf + at2, &s2, sizeof s2);
	struct ash_image *img = NULL;
	struct dpf_diag d;
	cr_assert_eq(ash_load_elf(o.buf, o.len, NULL, NULL, 0, &img, &d),
	             DPF_EINVAL);
	cr_assert(strstr(d.msg, "overlap"), "%s", d.msg);

	/* a section past the end */
	memcpy(&s2, o.buf + at2, sizeof s2);
	s2.sh_offset = o.len - 1;
	memcpy(o.buf + at2, &s2, sizeof s2);
	cr_assert_eq(ash_load_elf(o.buf, o.len, NULL, NULL, 0, &img, &d),
	             DPF_EINVAL);
	cr_assert(strstr(d.msg, "past the end"), "%s", d.msg);
	free(o.buf);
}

/* Random corruption: an image or an error, never a crash. */
Test(ash_loader, corrupted_bytes_never_crash)
{
	static const char *const names[] = {"subprogs", "global_data",
	                                    "bpf_loop"};
	uint64_t seed = 42;
	char path[512];
	for (size_t f = 0; f < 3; f++) {
		snprintf(path, sizeof path, DPF_BINARY_DIR "/ash/examples/%s.o",
		         names[f]);
		struct obj o = read_obj(path);
		uint8_t *p = malloc(o.len);
		for (int round = 0; round < 300; round++) {
			memcpy(p, o.buf, o.len);
			int flips = 1 + (int)(tu_rand(&seed) % 4);
			for (int k = 0; k < flips; k++)
				p[tu_rand(&seed) % o.len] = (uint8_t)tu_rand(&seed);
			struct ash_image *img = NULL;
			struct dpf_diag d;
			int r = ash_load_elf(p, o.len, NULL, NULL, 0, &img, &d);
			if (r == 0)
				free_img(img);
			else
				cr_assert(strlen(d.msg) > 0);
		}
		free(p);
		free(o.buf);
	}
}
