/*
 * loader_link.c - the loader's linking and line-table stages
 * (loader_int.h; loader.h has the contract).
 *
 *   ash_ld_link_prog   the program's instructions, then every subprogram
 *                      it reaches (calls and callback addresses), each
 *                      appended once; relocations applied as loader.h
 *                      lists them
 *   ash_ld_check_btf   .BTF and .BTF.ext checked (loader_btf.c)
 *   ash_ld_add_lines   .BTF.ext line info of every placed function,
 *   ash_ld_build_lines   remapped to image positions, sorted, with one
 *                      string table
 *
 * Invariants: instruction positions in the image are always < ninsns;
 * every relocation offset is checked against its section first.
 */
#include <stdlib.h>
#include <string.h>

#include "ash/loader_int.h"

/* The user map a symbol in ".maps" names, or -1. */
static int user_map(const struct ld *l, const char *name)
{
	const struct ash_map_def *m = l->maps.p;
	for (size_t i = 0; i < l->maps.n; i++)
		if (m[i].kind == ASH_MAPK_USER && strcmp(m[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- stage 4: linking ---- */

static struct ash_insn *insn_at(struct ld *l, size_t i)
{
	return (struct ash_insn *)l->insns.p + i;
}

/* Place the function of section shndx that starts at insn `at` (once);
 * its image position in *pos. */
static int place(struct ld *l, size_t shndx, uint32_t at, uint32_t *pos,
                 uint32_t from)
{
	const struct func *f = l->funcs.p;
	const struct sec *s = &l->secs[shndx];
	for (size_t i = 0; i < l->funcs.n; i++)
		if (f[i].shndx == shndx && f[i].start == at) {
			*pos = f[i].pos;
			return 0;
		}
	if (!s->data || s->sh.sh_type != SHT_PROGBITS)
		return ash_ld_fail(l->diag, "at insn %u: code in section '%s', which "
		            "holds no bytes", from, s->name);
	/* the function symbol starting there gives the length */
	uint32_t len = 0;
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = ash_ld_sym(l, i);
		if (GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_shndx == shndx &&
		    sym.st_value == (uint64_t)at * INSN_SZ) {
			if (sym.st_size % INSN_SZ || sym.st_size == 0 ||
			    sym.st_size > s->sh.sh_size - sym.st_value)
				return ash_ld_fail(l->diag, "function '%s' lies outside "
				            "section '%s'", ash_ld_sym_name(l, &sym), s->name);
			len = (uint32_t)(sym.st_size / INSN_SZ);
			break;
		}
	}
	if (!len)
		return ash_ld_fail(l->diag, "at insn %u: call or address to insn %u of "
		            "'%s', which starts no function", from, at, s->name);
	if (l->insns.n + len > ASH_MAX_INSNS)
		return ash_ld_fail(l->diag, "program too large (more than %d insns)",
		            ASH_MAX_INSNS);
	struct func nf = { shndx, at, len, (uint32_t)l->insns.n };
	size_t base = l->insns.n;
	if (ash_ld_push(&l->funcs, &nf, 1) || ash_ld_push(&l->insns, NULL, len))
		return DPF_ENOMEM;
	memcpy(insn_at(l, base), s->data + (size_t)at * INSN_SZ,
	       (size_t)len * INSN_SZ);
	*pos = nf.pos;
	return 0;
}

/* Apply one relocation at image insn i (section insn si of f). */
static int relocate(struct ld *l, const struct func *f, uint32_t i,
                    const Elf64_Rel *r)
{
	GElf_Sym sym = ash_ld_sym(l, ELF64_R_SYM(r->r_info));
	uint32_t type = (uint32_t)ELF64_R_TYPE(r->r_info);
	const char *name = ash_ld_sym_name(l, &sym);
	struct ash_insn *in = insn_at(l, i);
	uint32_t end = f->pos + f->len, pos;
	int err;

	if (sym.st_shndx == SHN_UNDEF)
		return ash_ld_fail(l->diag, "at insn %u: relocation against undefined "
		            "symbol '%s'", i, name);
	if (sym.st_shndx >= l->nsec)
		return ash_ld_fail(l->diag, "at insn %u: relocation against special "
		            "symbol '%s'", i, name);
	const struct sec *t = &l->secs[sym.st_shndx];

	if (type == R_BPF_64_32) {
		if (in->code != 0x85 || in->src != ASH_PSEUDO_CALL)
			return ash_ld_fail(l->diag, "at insn %u: call relocation on a "
			            "non-call", i);
		if (!(t->sh.sh_flags & SHF_EXECINSTR) || sym.st_value % INSN_SZ)
			return ash_ld_fail(l->diag, "at insn %u: call to '%s', not a "
			            "function", i, name);
		int64_t at = (int64_t)(sym.st_value / INSN_SZ) + in->imm + 1;
		if (at < 0 || at >= (int64_t)(t->sh.sh_size / INSN_SZ))
			return ash_ld_fail(l->diag, "at insn %u: call to '%s' lands "
			            "outside '%s'", i, name, t->name);
		if ((err = place(l, sym.st_shndx, (uint32_t)at, &pos, i)))
			return err;
		in = insn_at(l, i);
		in->imm = (int32_t)pos - (int32_t)i - 1;
		return 0;
	}
	if (type != R_BPF_64_64)
		return ash_ld_fail(l->diag, "at insn %u: unsupported relocation type %u "
		            "against '%s'", i, type, name);
	if (in->code != 0x18 || i + 1 >= end)
		return ash_ld_fail(l->diag, "at insn %u: 64-bit relocation on a non-lddw",
		            i);
	if (t->sh.sh_flags & SHF_EXECINSTR) {
		/* a callback's address (bpf_loop) */
		uint64_t byte = sym.st_value + (uint64_t)(int64_t)in->imm;
		if (byte % INSN_SZ || byte >= t->sh.sh_size)
			return ash_ld_fail(l->diag, "at insn %u: address of '%s' outside "
			            "'%s'", i, name, t->name);
		if ((err = place(l, sym.st_shndx, (uint32_t)(byte / INSN_SZ),
		                 &pos, i)))
			return err;
		in = insn_at(l, i);
		in->src = ASH_PSEUDO_FUNC;
		in->imm = (int32_t)pos - (int32_t)i - 1;
		insn_at(l, i + 1)->imm = 0;
		return 0;
	}
	if (t->is_maps) {
		int m = user_map(l, name);
		if (m < 0)
			return ash_ld_fail(l->diag, "at insn %u: relocation against '%s' in "
			            ".maps, which is no map", i, name);
		in->src = ASH_PSEUDO_MAP_IDX;
		in->imm = m;
		insn_at(l, i + 1)->imm = 0;
		return 0;
	}
	if (t->map >= 0) {
		const struct ash_map_def *d = (const struct ash_map_def *)l->maps.p +
		                              t->map;
		int64_t off = (int64_t)sym.st_value + in->imm;
		if (off < 0 || off >= (int64_t)d->value_size)
			return ash_ld_fail(l->diag, "at insn %u: offset %lld outside '%s' "
			            "(%u bytes)", i, (long long)off, d->name,
			            d->value_size);
		in->src = ASH_PSEUDO_MAP_IDX_VALUE;
		in->imm = t->map;
		insn_at(l, i + 1)->imm = (int32_t)off;
		return 0;
	}
	return ash_ld_fail(l->diag, "at insn %u: relocation against '%s' in section "
	            "'%s', which is not a map", i, name, t->name);
}

/* The relocation of each insn of section shndx: entry + 1 of its REL
 * section, 0 for none (built once per section). */
static int rel_index(struct ld *l, size_t shndx)
{
	struct sec *s = &l->secs[shndx];
	if (s->relidx || !s->rel)
		return 0;
	const struct sec *rs = &l->secs[s->rel];
	size_t n = rs->sh.sh_size / sizeof(Elf64_Rel);
	s->relidx = calloc(s->sh.sh_size / INSN_SZ + 1, sizeof *s->relidx);
	if (!s->relidx)
		return DPF_ENOMEM;
	for (size_t j = 0; j < n; j++) {
		Elf64_Rel r;
		memcpy(&r, rs->data + j * sizeof r, sizeof r);
		uint64_t at = r.r_offset / INSN_SZ; /* < size: check_elf */
		if (s->relidx[at])
			return ash_ld_fail(l->diag, "two relocations at byte %lu of '%s'",
			            (unsigned long)r.r_offset, s->name);
		s->relidx[at] = (uint32_t)j + 1;
	}
	return 0;
}

/* Link insn k of placed function f: its relocation, or a call within
 * the section that needed none.  May place one more function. */
static int link_insn(struct ld *l, const struct func *f, uint32_t k)
{
	const struct sec *s = &l->secs[f->shndx];
	uint32_t i = f->pos + k, pos;
	uint32_t rel = s->relidx ? s->relidx[f->start + k] : 0;
	int err;

	if (rel) {
		Elf64_Rel r;
		memcpy(&r, l->secs[s->rel].data + (size_t)(rel - 1) * sizeof r,
		       sizeof r);
		return relocate(l, f, i, &r);
	}
	struct ash_insn *in = insn_at(l, i);
	if (in->code != 0x85 || in->src != ASH_PSEUDO_CALL)
		return 0;
	int64_t at = (int64_t)f->start + k + in->imm + 1;
	if (at < 0 || at >= (int64_t)(s->sh.sh_size / INSN_SZ))
		return ash_ld_fail(l->diag, "at insn %u: call lands outside '%s'", i,
		            s->name);
	if ((err = place(l, f->shndx, (uint32_t)at, &pos, i)))
		return err;
	insn_at(l, i)->imm = (int32_t)pos - (int32_t)i - 1;
	return 0;
}

/* Link depth first, in instruction order, as libbpf does: a function is
 * appended when first referenced and linked at once, so the image's
 * layout is the one libbpf gives the kernel. */
int ash_ld_link_prog(struct ld *l, const struct prog *p)
{
	struct frame {
		uint32_t func, k;
	} top = {0, 0};
	struct vec st = {NULL, 0, 0, sizeof(struct frame)};
	uint32_t pos;
	int err;

	if ((err = place(l, p->shndx, p->start, &pos, 0)) ||
	    (err = ash_ld_push(&st, &top, 1)))
		return err;
	while (st.n && !err) {
		struct frame *fr = (struct frame *)st.p + st.n - 1;
		struct func f = ((struct func *)l->funcs.p)[fr->func];
		size_t before = l->funcs.n;
		if (fr->k >= f.len) {
			st.n--;
			continue;
		}
		uint32_t k = fr->k++;
		if ((err = rel_index(l, f.shndx)))
			break;
		const uint32_t *ri = l->secs[f.shndx].relidx;
		if (insn_at(l, f.pos + k)->code == 0x18 && k + 1 < f.len) {
			fr->k++; /* lddw's second slot: nothing to relocate */
			if (ri && ri[f.start + k + 1]) {
				err = ash_ld_fail(l->diag, "at insn %u: relocation on the "
				           "second half of lddw", f.pos + k + 1);
				break;
			}
		}
		if ((err = link_insn(l, &f, k)))
			break;
		if (l->funcs.n > before) {
			top.func = (uint32_t)before;
			top.k = 0;
			err = ash_ld_push(&st, &top, 1);
		}
	}
	free(st.p);
	return err;
}

/* ---- stage 5: line info ---- */

static const struct sec *sec_named(const struct ld *l, const char *name)
{
	for (size_t i = 1; i < l->nsec; i++)
		if (strcmp(l->secs[i].name, name) == 0 && l->secs[i].data)
			return &l->secs[i];
	return NULL;
}

/* loader_btf.c: raw .BTF and .BTF.ext, without libbpf. */
int ash_ld_check_btf(struct ld *l)
{
	const struct sec *b = sec_named(l, ".BTF");
	const struct sec *x = sec_named(l, ".BTF.ext");
	if (!b)
		return 0;
	return ash_btf_check(b->data, b->sh.sh_size, x ? x->data : NULL,
	                     x ? x->sh.sh_size : 0, l->diag);
}

/* One line record: an entry for each placed function it falls in. */
static int add_line(void *ctx, const char *sec, uint32_t off,
                    const char *file, const char *text, uint32_t line_col)
{
	struct ld *l = ctx;
	const struct func *f = l->funcs.p;

	if (off % INSN_SZ)
		return ash_ld_fail(l->diag, "bad .BTF.ext line record");
	for (size_t j = 0; j < l->funcs.n; j++) {
		if (strcmp(l->secs[f[j].shndx].name, sec) ||
		    off / INSN_SZ < f[j].start ||
		    off / INSN_SZ >= (uint64_t)f[j].start + f[j].len)
			continue;
		struct line ln = {
			.ln = {
				.insn = f[j].pos + (off / INSN_SZ - f[j].start),
				.line = line_col >> 10,
				.col = line_col & 0x3ff,
			},
			.file = file,
			.text = text,
		};
		if (l->lines.n == ASH_MAX_LINES)
			return ash_ld_fail(l->diag, "too many lines (more than %d)",
			            ASH_MAX_LINES);
		if (ash_ld_push(&l->lines, &ln, 1))
			return DPF_ENOMEM;
	}
	return 0;
}

int ash_ld_add_lines(struct ld *l)
{
	const struct sec *b = sec_named(l, ".BTF");
	const struct sec *x = sec_named(l, ".BTF.ext");
	if (!b || !x)
		return 0;
	return ash_btf_lines(b->data, b->sh.sh_size, x->data, x->sh.sh_size,
	                     add_line, l, l->diag);
}

static int cmp_line(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	/* by insn; the rest only makes the order deterministic */
	if (x->ln.insn != y->ln.insn)
		return x->ln.insn < y->ln.insn ? -1 : 1;
	if (x->ln.line != y->ln.line)
		return x->ln.line < y->ln.line ? -1 : 1;
	if (x->ln.col != y->ln.col)
		return x->ln.col < y->ln.col ? -1 : 1;
	return x->text < y->text ? -1 : x->text > y->text;
}

static int cmp_str(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	return x < y ? -1 : x > y;
}

/* The image's lines and string table: only the strings the lines use,
 * each once (strings are pointers into .BTF's string section, so equal
 * pointers are equal strings). */
int ash_ld_build_lines(struct ld *l, struct ash_image *img)
{
	const struct dpf_host *h = dpf_host_libc();
	struct line *ln = l->lines.p;
	size_t n = l->lines.n, nu = 0, total = 1;
	const char **used;
	uint32_t *newoff;

	if (n == 0)
		return 0;
	qsort(ln, n, sizeof *ln, cmp_line);
	used = malloc(2 * n * sizeof *used);
	newoff = malloc(2 * n * sizeof *newoff);
	img->lines = h->alloc(h->ctx, n * sizeof *img->lines);
	if (!used || !newoff || !img->lines) {
		free(used);
		free(newoff);
		return DPF_ENOMEM;
	}
	img->nlines = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		used[2 * i] = ln[i].file;
		used[2 * i + 1] = ln[i].text;
	}
	qsort(used, 2 * n, sizeof *used, cmp_str);
	for (size_t i = 0; i < 2 * n; i++)
		if (i == 0 || used[i] != used[i - 1])
			used[nu++] = used[i];
	for (size_t i = 0; i < nu; i++) {
		newoff[i] = (uint32_t)total;
		total += strlen(used[i]) + 1;
		if (total > ASH_MAX_STR)
			break;
	}
	if (total > ASH_MAX_STR) {
		free(used);
		free(newoff);
		return ash_ld_fail(l->diag, "line strings too large (more than %u "
		            "bytes)", ASH_MAX_STR);
	}
	img->strtab = h->alloc(h->ctx, total);
	if (!img->strtab) {
		free(used);
		free(newoff);
		return DPF_ENOMEM;
	}
	img->nstr = (uint32_t)total;
	img->strtab[0] = 0;
	for (size_t i = 0; i < nu; i++)
		strcpy(img->strtab + newoff[i], used[i]);
	for (size_t i = 0; i < n; i++) {
		const char **at;
		img->lines[i] = ln[i].ln;
		at = bsearch(&ln[i].file, used, nu, sizeof *used, cmp_str);
		img->lines[i].file = newoff[at - used];
		at = bsearch(&ln[i].text, used, nu, sizeof *used, cmp_str);
		img->lines[i].text = newoff[at - used];
	}
	free(used);
	free(newoff);
	return 0;
}
