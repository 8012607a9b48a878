/*
 * loader.c - ELF object to program image (loader.h has the contract).
 *
 * Pipeline, each stage refusing with a message in diag:
 *   check_elf     the ELF basics with libelf and our own bounds checks
 *                 (header, class, machine, every section inside the
 *                 buffer and no two overlapping, symbol table, relocation
 *                 sections and their symbols), so that libbpf never sees
 *                 bytes that could make it misbehave
 *   find_progs    XDP programs: STT_FUNC symbols in sections "xdp" and
 *                 "xdp/..."; the one named, or the only one
 *   check_btf     .BTF types and .BTF.ext layout (loader_btf.c): libbpf
 *                 1.1 follows type ids without checking them
 *   libbpf open   bpf_object__open_mem, for the map definitions (BTF
 *                 ".maps") and the global-data maps exactly as libbpf
 *                 makes them, in libbpf's order (user maps, then global
 *                 data by section)
 *   link          the program's instructions, then every subprogram it
 *                 reaches (calls and callback addresses), each appended
 *                 once; relocations applied as loader.h lists them
 *   lines         .BTF.ext line info of every placed function, remapped
 *   sets          `const volatile` knobs patched in the initial data
 *
 * The image is allocated from dpf_host_libc().  libbpf's own messages are
 * silenced while it runs; its last warning names the cause when it
 * refuses an object we let through.
 *
 * Invariants: every offset read from the object is checked against the
 * buffer before use; multi-byte fields are read with memcpy (the buffer
 * has no alignment guarantee); instruction positions in the image are
 * always < ninsns.
 */
#include "ash/loader.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#ifndef EM_BPF
#define EM_BPF 247
#endif
#ifndef R_BPF_64_64
#define R_BPF_64_64 1
#endif
#ifndef R_BPF_64_32
#define R_BPF_64_32 10
#endif

#define INSN_SZ 8
#define MAX_PROGS 64

/* ---- diagnostics ---- */

static int fail(struct dpf_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct dpf_diag *diag, const char *fmt, ...)
{
	va_list ap;
	if (diag) {
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
		va_end(ap);
	}
	return DPF_EINVAL;
}

static int has_prefix(const char *s, const char *pfx)
{
	return strncmp(s, pfx, strlen(pfx)) == 0;
}

/* libbpf's last warning while it runs (its print hook is process-wide;
 * the buffer is per thread). */
static _Thread_local char libbpf_msg[200];

static int libbpf_capture(enum libbpf_print_level level, const char *fmt,
                          va_list ap)
{
	if (level == LIBBPF_WARN) {
		char tmp[sizeof libbpf_msg];
		vsnprintf(tmp, sizeof tmp, fmt, ap);
		/* libbpf's messages start with "libbpf: "; ours add it back */
		snprintf(libbpf_msg, sizeof libbpf_msg, "%s",
		         has_prefix(tmp, "libbpf: ") ? tmp + 8 : tmp);
		size_t n = strlen(libbpf_msg);
		while (n && (libbpf_msg[n - 1] == '\n' || libbpf_msg[n - 1] == ' '))
			libbpf_msg[--n] = 0;
	}
	return 0;
}

/* ---- the object ---- */

struct sec {
	const char *name;
	GElf_Shdr sh;
	const uint8_t *data; /* NULL for NOBITS */
	int map;             /* global-data map index, or -1 */
	size_t rel;          /* its REL section, 0 for none */
	uint32_t *relidx;    /* see rel_index() */
	int is_maps;         /* ".maps" */
};

struct prog {
	size_t sym;   /* symbol index */
	size_t shndx; /* section */
	uint32_t start, len; /* in insns */
	const char *name;
};

/* A placed function: len insns of section shndx from start, at pos. */
struct func {
	size_t shndx;
	uint32_t start, len, pos;
};

/* A line-table entry before the string table exists. */
struct line {
	struct ash_line ln;
	const char *file, *text; /* in .BTF's strings */
};

struct vec {
	void *p;
	size_t n, cap, elem;
};

struct ld {
	const uint8_t *buf;
	size_t len;
	Elf *elf;
	size_t nsec;
	struct sec *secs;
	const uint8_t *symtab; /* Elf64_Sym array, checked */
	size_t nsyms;
	size_t symstr;         /* string section of the symbol table */
	struct prog progs[MAX_PROGS];
	size_t nprogs, nprogs_all;
	struct bpf_object *obj;
	struct vec insns;      /* struct ash_insn */
	struct vec funcs;      /* struct func */
	struct vec maps;       /* struct ash_map_def */
	struct vec data;       /* uint8_t */
	struct vec lines;      /* struct line */
	struct dpf_diag *diag;
};

static int vec_push(struct vec *v, const void *x, size_t count)
{
	if (v->n + count > v->cap) {
		size_t cap = v->cap ? v->cap : 16;
		while (cap < v->n + count)
			cap *= 2;
		void *p = realloc(v->p, cap * v->elem);
		if (!p)
			return DPF_ENOMEM;
		v->p = p;
		v->cap = cap;
	}
	if (x)
		memcpy((uint8_t *)v->p + v->n * v->elem, x, count * v->elem);
	else
		memset((uint8_t *)v->p + v->n * v->elem, 0, count * v->elem);
	v->n += count;
	return 0;
}

static int is_xdp_section(const char *name)
{
	return strcmp(name, "xdp") == 0 || has_prefix(name, "xdp/");
}

static GElf_Sym sym_at(const struct ld *l, size_t i)
{
	Elf64_Sym s;
	GElf_Sym g;
	memcpy(&s, l->symtab + i * sizeof s, sizeof s);
	g.st_name = s.st_name;
	g.st_info = s.st_info;
	g.st_other = s.st_other;
	g.st_shndx = s.st_shndx;
	g.st_value = s.st_value;
	g.st_size = s.st_size;
	return g;
}

static const char *sym_name(const struct ld *l, const GElf_Sym *s)
{
	const char *n = elf_strptr(l->elf, l->symstr, s->st_name);
	if (!n)
		return "?";
	/* section 0 has no header of its own and so no name */
	if (!*n && GELF_ST_TYPE(s->st_info) == STT_SECTION &&
	    s->st_shndx < l->nsec && l->secs[s->st_shndx].name)
		return l->secs[s->st_shndx].name;
	return n;
}

/* The first byte of s outside printable ASCII, or 0: names travel in
 * program images, which carry printable names only. */
static unsigned bad_name_byte(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return (unsigned char)*s;
	return 0;
}

/* ---- stage 1: the ELF basics ---- */

static int cmp_off(const void *a, const void *b)
{
	const struct sec *x = *(const struct sec *const *)a;
	const struct sec *y = *(const struct sec *const *)b;
	return x->sh.sh_offset < y->sh.sh_offset ? -1
	       : x->sh.sh_offset > y->sh.sh_offset;
}

static int check_elf(struct ld *l)
{
	struct dpf_diag *diag = l->diag;
	GElf_Ehdr eh;
	size_t shstr;

	if (l->len == 0)
		return fail(diag, "empty object");
	if (l->len < 4 || memcmp(l->buf, ELFMAG, SELFMAG) != 0)
		return fail(diag, "not an ELF object");
	if (l->len < sizeof(Elf64_Ehdr) || l->buf[EI_CLASS] != ELFCLASS64 ||
	    l->buf[EI_DATA] != ELFDATA2LSB)
		return fail(diag, "not a 64-bit little-endian ELF object");
	{
		Elf64_Ehdr e;
		memcpy(&e, l->buf, sizeof e);
		if (e.e_machine != EM_BPF)
			return fail(diag, "not a BPF object (ELF machine %u)",
			            e.e_machine);
		if (e.e_type != ET_REL)
			return fail(diag, "not a relocatable object (ELF type %u)",
			            e.e_type);
		if (e.e_shentsize != sizeof(Elf64_Shdr) || e.e_shoff == 0 ||
		    e.e_shoff > l->len || e.e_shnum == 0 ||
		    (l->len - e.e_shoff) / sizeof(Elf64_Shdr) < e.e_shnum)
			return fail(diag, "truncated object: section headers "
			            "past the end");
	}
	elf_version(EV_CURRENT);
	l->elf = elf_memory((char *)l->buf, l->len);
	if (!l->elf || elf_kind(l->elf) != ELF_K_ELF || !gelf_getehdr(l->elf, &eh))
		return fail(diag, "not an ELF object: %s", elf_errmsg(-1));
	if (elf_getshdrnum(l->elf, &l->nsec) || elf_getshdrstrndx(l->elf, &shstr) ||
	    shstr == 0 || shstr >= l->nsec)
		return fail(diag, "bad section header table");
	l->secs = calloc(l->nsec, sizeof *l->secs);
	struct sec **order = calloc(l->nsec, sizeof *order);
	if (!l->secs || !order) {
		free(order);
		return DPF_ENOMEM;
	}
	/* the section-name table first: names must be readable */
	{
		GElf_Shdr sh;
		Elf_Scn *scn = elf_getscn(l->elf, shstr);
		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_STRTAB ||
		    sh.sh_offset > l->len || sh.sh_size > l->len - sh.sh_offset ||
		    sh.sh_size == 0 || l->buf[sh.sh_offset + sh.sh_size - 1] != 0) {
			free(order);
			return fail(diag, "truncated object: bad section name table");
		}
	}
	size_t nord = 0;
	for (size_t i = 1; i < l->nsec; i++) {
		struct sec *s = &l->secs[i];
		Elf_Scn *scn = elf_getscn(l->elf, i);
		s->map = -1;
		if (!scn || !gelf_getshdr(scn, &s->sh)) {
			free(order);
			return fail(diag, "bad section header %zu", i);
		}
		s->name = elf_strptr(l->elf, shstr, s->sh.sh_name);
		if (!s->name) {
			free(order);
			return fail(diag, "section %zu has no name", i);
		}
		if (s->sh.sh_type == SHT_NOBITS || s->sh.sh_type == SHT_NULL)
			continue;
		if (s->sh.sh_offset > l->len ||
		    s->sh.sh_size > l->len - s->sh.sh_offset) {
			free(order);
			return fail(diag, "truncated object: section '%s' past the "
			            "end", s->name);
		}
		s->data = l->buf + s->sh.sh_offset;
		if (s->sh.sh_size)
			order[nord++] = s;
	}
	qsort(order, nord, sizeof *order, cmp_off);
	for (size_t i = 1; i < nord; i++) {
		if (order[i]->sh.sh_offset <
		    order[i - 1]->sh.sh_offset + order[i - 1]->sh.sh_size) {
			int r = fail(diag, "sections '%s' and '%s' overlap",
			             order[i - 1]->name, order[i]->name);
			free(order);
			return r;
		}
	}
	free(order);
	/* the symbol table */
	for (size_t i = 1; i < l->nsec; i++) {
		struct sec *s = &l->secs[i];
		if (s->sh.sh_type != SHT_SYMTAB)
			continue;
		if (l->symtab)
			return fail(diag, "several symbol tables");
		if (s->sh.sh_entsize != sizeof(Elf64_Sym) ||
		    s->sh.sh_size % sizeof(Elf64_Sym) || s->sh.sh_link == 0 ||
		    s->sh.sh_link >= l->nsec ||
		    l->secs[s->sh.sh_link].sh.sh_type != SHT_STRTAB ||
		    !l->secs[s->sh.sh_link].data)
			return fail(diag, "bad symbol table");
		l->symtab = s->data;
		l->nsyms = s->sh.sh_size / sizeof(Elf64_Sym);
		l->symstr = s->sh.sh_link;
	}
	if (!l->symtab)
		return fail(diag, "no symbol table");
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = sym_at(l, i);
		if (!elf_strptr(l->elf, l->symstr, sym.st_name))
			return fail(diag, "symbol %zu has no name", i);
		if (sym.st_shndx >= l->nsec && sym.st_shndx < SHN_LORESERVE)
			return fail(diag, "symbol '%s' in section %u, which does "
			            "not exist", sym_name(l, &sym), sym.st_shndx);
	}
	/* relocation sections: entries, symbols and offsets in range */
	for (size_t i = 1; i < l->nsec; i++) {
		struct sec *s = &l->secs[i];
		if (s->sh.sh_type == SHT_RELA)
			return fail(diag, "RELA relocations in '%s' (BPF uses REL)",
			            s->name);
		if (s->sh.sh_type != SHT_REL)
			continue;
		if (s->sh.sh_entsize != sizeof(Elf64_Rel) ||
		    s->sh.sh_size % sizeof(Elf64_Rel) ||
		    s->sh.sh_info == 0 || s->sh.sh_info >= l->nsec)
			return fail(diag, "bad relocation section '%s'", s->name);
		struct sec *t = &l->secs[s->sh.sh_info];
		size_t n = s->sh.sh_size / sizeof(Elf64_Rel);
		if (t->rel)
			return fail(diag, "several relocation sections for '%s'",
			            t->name);
		t->rel = i;
		for (size_t k = 0; k < n; k++) {
			Elf64_Rel r;
			memcpy(&r, s->data + k * sizeof r, sizeof r);
			if (ELF64_R_SYM(r.r_info) >= l->nsyms)
				return fail(diag, "relocation %zu of '%s' to unknown "
				            "symbol %lu", k, t->name,
				            (unsigned long)ELF64_R_SYM(r.r_info));
			if (r.r_offset >= t->sh.sh_size ||
			    (t->sh.sh_flags & SHF_EXECINSTR &&
			     (r.r_offset % INSN_SZ ||
			      r.r_offset + INSN_SZ > t->sh.sh_size)))
				return fail(diag, "relocation %zu of '%s' at offset "
				            "%lu, outside the section", k, t->name,
				            (unsigned long)r.r_offset);
		}
	}
	return 0;
}

/* ---- stage 2: the XDP programs ---- */

static int find_progs(struct ld *l, const char *want)
{
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = sym_at(l, i);
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= l->nsec)
			continue;
		const struct sec *s = &l->secs[sym.st_shndx];
		if (!is_xdp_section(s->name) || !(s->sh.sh_flags & SHF_EXECINSTR) ||
		    s->sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = sym_name(l, &sym);
		if (sym.st_value % INSN_SZ || sym.st_size % INSN_SZ ||
		    sym.st_size == 0 || sym.st_value > s->sh.sh_size ||
		    sym.st_size > s->sh.sh_size - sym.st_value)
			return fail(l->diag, "program '%s' lies outside section "
			            "'%s'", name, s->name);
		l->nprogs_all++;
		if (want && strcmp(want, name) != 0)
			continue;
		if (l->nprogs == MAX_PROGS)
			return fail(l->diag, "more than %d XDP programs", MAX_PROGS);
		struct prog *p = &l->progs[l->nprogs++];
		p->sym = i;
		p->shndx = sym.st_shndx;
		p->start = (uint32_t)(sym.st_value / INSN_SZ);
		p->len = (uint32_t)(sym.st_size / INSN_SZ);
		p->name = name;
	}
	return 0;
}

/* "a, b, c" of the programs found, for messages. */
static void prog_list(const struct ld *l, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < l->nprogs && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
		                      l->progs[i].name);
}

static int pick_prog(struct ld *l, const char *want, const struct prog **out)
{
	char list[200];
	int r = find_progs(l, want);
	if (r)
		return r;
	if (want && l->nprogs == 0) {
		if (l->nprogs_all == 0)
			return fail(l->diag, "no XDP program (sections \"xdp\" or "
			            "\"xdp/...\")");
		l->nprogs = 0;
		l->nprogs_all = 0;
		find_progs(l, NULL);
		prog_list(l, list, sizeof list);
		return fail(l->diag, "no XDP program named '%s' (the object "
		            "has: %s)", want, list);
	}
	if (l->nprogs == 0)
		return fail(l->diag, "no XDP program (sections \"xdp\" or "
		            "\"xdp/...\")");
	if (l->nprogs > 1) {
		prog_list(l, list, sizeof list);
		return fail(l->diag, "%zu XDP programs, name one: %s", l->nprogs,
		            list);
	}
	if (strlen(l->progs[0].name) > ASH_NAME_MAX ||
	    strlen(l->secs[l->progs[0].shndx].name) > ASH_NAME_MAX)
		return fail(l->diag, "program or section name longer than %d "
		            "bytes", ASH_NAME_MAX);
	unsigned bad = bad_name_byte(l->progs[0].name);
	if (!bad)
		bad = bad_name_byte(l->secs[l->progs[0].shndx].name);
	if (bad)
		return fail(l->diag, "program or section name has byte 0x%02x "
		            "(names are printable ASCII)", bad);
	*out = &l->progs[0];
	/* externs (__kconfig, __ksym) name the kernel DPF does not have */
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = sym_at(l, i);
		const char *name = sym_name(l, &sym);
		if (sym.st_shndx == SHN_UNDEF && *name &&
		    GELF_ST_BIND(sym.st_info) != STB_LOCAL)
			return fail(l->diag, "extern '%s' is not supported (no "
			            "kernel symbols or kconfig)", name);
	}
	return 0;
}

/* ---- stage 3: maps ---- */

static int map_type_ok(uint32_t t)
{
	return t == ASH_MAP_HASH || t == ASH_MAP_ARRAY ||
	       t == ASH_MAP_PERCPU_HASH || t == ASH_MAP_PERCPU_ARRAY ||
	       t == ASH_MAP_LRU_HASH || t == ASH_MAP_RINGBUF;
}

/* The ELF section of a libbpf internal map: its name after the object
 * prefix, which libbpf cuts to 15 bytes. */
static size_t data_section(const struct ld *l, const char *mapname)
{
	const char *sfx = strchr(mapname, '.');
	if (!sfx)
		return 0;
	size_t n = strlen(sfx);
	for (size_t i = 1; i < l->nsec; i++) {
		const char *s = l->secs[i].name;
		if (l->secs[i].sh.sh_flags & SHF_EXECINSTR)
			continue;
		if (strcmp(s, sfx) == 0 || (n >= 15 && strncmp(s, sfx, n) == 0))
			return i;
	}
	return 0;
}

static int add_maps(struct ld *l)
{
	struct bpf_map *m;
	struct dpf_diag *diag = l->diag;

	for (size_t i = 1; i < l->nsec; i++)
		l->secs[i].is_maps = strcmp(l->secs[i].name, ".maps") == 0;
	bpf_object__for_each_map(m, l->obj) {
		struct ash_map_def d;
		const char *name = bpf_map__name(m);
		memset(&d, 0, sizeof d);
		if (l->maps.n == ASH_MAX_MAPS)
			return fail(diag, "too many maps (more than %d)",
			            ASH_MAX_MAPS);
		if (bpf_map__is_internal(m)) {
			size_t si = data_section(l, name);
			size_t sz = 0;
			const void *init = bpf_map__initial_value(m, &sz);
			if (!si)
				return fail(diag, "global data '%s' is not supported "
				            "(extern or unknown section)", name);
			const char *sn = l->secs[si].name;
			if (strlen(sn) > ASH_NAME_MAX)
				return fail(diag, "section name '%s' longer than %d "
				            "bytes", sn, ASH_NAME_MAX);
			if (bad_name_byte(sn))
				return fail(diag, "section name has byte 0x%02x "
				            "(names are printable ASCII)",
				            bad_name_byte(sn));
			strcpy(d.name, sn);
			d.kind = has_prefix(sn, ".rodata") ? ASH_MAPK_RODATA
			         : has_prefix(sn, ".bss") ? ASH_MAPK_BSS
			         : ASH_MAPK_DATA;
			d.type = ASH_MAP_ARRAY;
			d.key_size = 4;
			d.value_size = bpf_map__value_size(m);
			d.max_entries = 1;
			d.flags = bpf_map__map_flags(m);
			if (!init || sz != d.value_size ||
			    d.value_size > ASH_MAX_VALUE ||
			    l->data.n + sz > ASH_MAX_DATA_BYTES)
				return fail(diag, "global data '%s' too large (%zu "
				            "bytes)", sn, sz);
			d.init_off = (uint32_t)l->data.n;
			d.init_len = (uint32_t)sz;
			if (vec_push(&l->data, init, sz))
				return DPF_ENOMEM;
			l->secs[si].map = (int)l->maps.n;
		} else {
			uint32_t t = bpf_map__type(m);
			if (!map_type_ok(t)) {
				const char *tn = libbpf_bpf_map_type_str(t);
				return fail(diag, "map '%s': unsupported map type %s "
				            "(%u)", name, tn ? tn : "unknown", t);
			}
			if (strlen(name) > ASH_NAME_MAX)
				return fail(diag, "map name '%s' longer than %d bytes",
				            name, ASH_NAME_MAX);
			if (bad_name_byte(name))
				return fail(diag, "map name has byte 0x%02x (names "
				            "are printable ASCII)", bad_name_byte(name));
			strcpy(d.name, name);
			d.type = t;
			d.kind = ASH_MAPK_USER;
			d.key_size = bpf_map__key_size(m);
			d.value_size = bpf_map__value_size(m);
			d.max_entries = bpf_map__max_entries(m);
			d.flags = bpf_map__map_flags(m);
			if (t == ASH_MAP_RINGBUF) {
				uint32_t e = d.max_entries;
				if (d.key_size || d.value_size || e < 4096 ||
				    (e & (e - 1)) || e > ASH_MAX_MAP_BYTES)
					return fail(diag, "map '%s': a ring buffer needs "
					            "no key or value and a power-of-2 size "
					            ">= 4096, up to %u", name,
					            ASH_MAX_MAP_BYTES);
			} else {
				if ((t == ASH_MAP_ARRAY || t == ASH_MAP_PERCPU_ARRAY) &&
				    d.key_size != 4)
					return fail(diag, "map '%s': array keys are 4 "
					            "bytes, not %u", name, d.key_size);
				if (d.key_size == 0 || d.key_size > ASH_MAX_KEY ||
				    d.value_size == 0 || d.value_size > ASH_MAX_VALUE ||
				    d.max_entries == 0 ||
				    d.max_entries > ASH_MAX_ENTRIES ||
				    (uint64_t)(d.key_size + d.value_size) *
				    d.max_entries > ASH_MAX_MAP_BYTES)
					return fail(diag, "map '%s': key %u, value %u, "
					            "%u entries: outside the limits",
					            name, d.key_size, d.value_size,
					            d.max_entries);
			}
		}
		if (vec_push(&l->maps, &d, 1))
			return DPF_ENOMEM;
	}
	return 0;
}

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
		return fail(l->diag, "at insn %u: code in section '%s', which "
		            "holds no bytes", from, s->name);
	/* the function symbol starting there gives the length */
	uint32_t len = 0;
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = sym_at(l, i);
		if (GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_shndx == shndx &&
		    sym.st_value == (uint64_t)at * INSN_SZ) {
			if (sym.st_size % INSN_SZ || sym.st_size == 0 ||
			    sym.st_size > s->sh.sh_size - sym.st_value)
				return fail(l->diag, "function '%s' lies outside "
				            "section '%s'", sym_name(l, &sym), s->name);
			len = (uint32_t)(sym.st_size / INSN_SZ);
			break;
		}
	}
	if (!len)
		return fail(l->diag, "at insn %u: call or address to insn %u of "
		            "'%s', which starts no function", from, at, s->name);
	if (l->insns.n + len > ASH_MAX_INSNS)
		return fail(l->diag, "program too large (more than %d insns)",
		            ASH_MAX_INSNS);
	struct func nf = { shndx, at, len, (uint32_t)l->insns.n };
	size_t base = l->insns.n;
	if (vec_push(&l->funcs, &nf, 1) || vec_push(&l->insns, NULL, len))
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
	GElf_Sym sym = sym_at(l, ELF64_R_SYM(r->r_info));
	uint32_t type = (uint32_t)ELF64_R_TYPE(r->r_info);
	const char *name = sym_name(l, &sym);
	struct ash_insn *in = insn_at(l, i);
	uint32_t end = f->pos + f->len, pos;
	int err;

	if (sym.st_shndx == SHN_UNDEF)
		return fail(l->diag, "at insn %u: relocation against undefined "
		            "symbol '%s'", i, name);
	if (sym.st_shndx >= l->nsec)
		return fail(l->diag, "at insn %u: relocation against special "
		            "symbol '%s'", i, name);
	const struct sec *t = &l->secs[sym.st_shndx];

	if (type == R_BPF_64_32) {
		if (in->code != 0x85 || in->src != ASH_PSEUDO_CALL)
			return fail(l->diag, "at insn %u: call relocation on a "
			            "non-call", i);
		if (!(t->sh.sh_flags & SHF_EXECINSTR) || sym.st_value % INSN_SZ)
			return fail(l->diag, "at insn %u: call to '%s', not a "
			            "function", i, name);
		int64_t at = (int64_t)(sym.st_value / INSN_SZ) + in->imm + 1;
		if (at < 0 || at >= (int64_t)(t->sh.sh_size / INSN_SZ))
			return fail(l->diag, "at insn %u: call to '%s' lands "
			            "outside '%s'", i, name, t->name);
		if ((err = place(l, sym.st_shndx, (uint32_t)at, &pos, i)))
			return err;
		in = insn_at(l, i);
		in->imm = (int32_t)pos - (int32_t)i - 1;
		return 0;
	}
	if (type != R_BPF_64_64)
		return fail(l->diag, "at insn %u: unsupported relocation type %u "
		            "against '%s'", i, type, name);
	if (in->code != 0x18 || i + 1 >= end)
		return fail(l->diag, "at insn %u: 64-bit relocation on a non-lddw",
		            i);
	if (t->sh.sh_flags & SHF_EXECINSTR) {
		/* a callback's address (bpf_loop) */
		uint64_t byte = sym.st_value + (uint64_t)(int64_t)in->imm;
		if (byte % INSN_SZ || byte >= t->sh.sh_size)
			return fail(l->diag, "at insn %u: address of '%s' outside "
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
			return fail(l->diag, "at insn %u: relocation against '%s' in "
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
			return fail(l->diag, "at insn %u: offset %lld outside '%s' "
			            "(%u bytes)", i, (long long)off, d->name,
			            d->value_size);
		in->src = ASH_PSEUDO_MAP_IDX_VALUE;
		in->imm = t->map;
		insn_at(l, i + 1)->imm = (int32_t)off;
		return 0;
	}
	return fail(l->diag, "at insn %u: relocation against '%s' in section "
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
			return fail(l->diag, "two relocations at byte %lu of '%s'",
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
		return fail(l->diag, "at insn %u: call lands outside '%s'", i,
		            s->name);
	if ((err = place(l, f->shndx, (uint32_t)at, &pos, i)))
		return err;
	insn_at(l, i)->imm = (int32_t)pos - (int32_t)i - 1;
	return 0;
}

/* Link depth first, in instruction order, as libbpf does: a function is
 * appended when first referenced and linked at once, so the image's
 * layout is the one libbpf gives the kernel. */
static int link_prog(struct ld *l, const struct prog *p)
{
	struct frame {
		uint32_t func, k;
	} top = {0, 0};
	struct vec st = {NULL, 0, 0, sizeof(struct frame)};
	uint32_t pos;
	int err;

	if ((err = place(l, p->shndx, p->start, &pos, 0)) ||
	    (err = vec_push(&st, &top, 1)))
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
				err = fail(l->diag, "at insn %u: relocation on the "
				           "second half of lddw", f.pos + k + 1);
				break;
			}
		}
		if ((err = link_insn(l, &f, k)))
			break;
		if (l->funcs.n > before) {
			top.func = (uint32_t)before;
			top.k = 0;
			err = vec_push(&st, &top, 1);
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
typedef int (*ash_btf_line_fn)(void *ctx, const char *sec, uint32_t off,
                               const char *file, const char *text,
                               uint32_t line_col);
int ash_btf_check(const uint8_t *btf, size_t btf_len, const uint8_t *ext,
                  size_t ext_len, struct dpf_diag *diag);
int ash_btf_lines(const uint8_t *btf, size_t btf_len, const uint8_t *ext,
                  size_t ext_len, ash_btf_line_fn fn, void *ctx,
                  struct dpf_diag *diag);

static int check_btf(struct ld *l)
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
		return fail(l->diag, "bad .BTF.ext line record");
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
			return fail(l->diag, "too many lines (more than %d)",
			            ASH_MAX_LINES);
		if (vec_push(&l->lines, &ln, 1))
			return DPF_ENOMEM;
	}
	return 0;
}

static int add_lines(struct ld *l)
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
static int build_lines(struct ld *l, struct ash_image *img)
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
		return fail(l->diag, "line strings too large (more than %u "
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

/* ---- stage 6: --set ---- */

/* Parse decimal, 0x hex, or negative decimal into v (two's complement),
 * checking that it fits size bytes. */
static int parse_value(const char *text, uint32_t size, uint64_t *v)
{
	const char *p = text;
	int neg = 0;
	uint64_t x = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		if (neg || !p[2])
			return -1;
		for (p += 2; *p; p++) {
			int dgt = *p >= '0' && *p <= '9' ? *p - '0'
			          : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			          : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : -1;
			if (dgt < 0 || x >> 60)
				return -1;
			x = x << 4 | (uint64_t)dgt;
		}
	} else {
		if (!*p)
			return -1;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' ||
			    x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return -1;
			x = x * 10 + (uint64_t)(*p - '0');
		}
	}
	uint64_t max = size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
	if (neg) {
		if (x > max / 2 + 1)
			return -2;
		x = (uint64_t)-x & max;
	} else if (x > max) {
		return -2;
	}
	*v = x;
	return 0;
}

static int apply_set(struct ld *l, const struct ash_set *set)
{
	const struct btf *btf = bpf_object__btf(l->obj);
	struct ash_map_def *maps = l->maps.p;
	uint32_t nt = btf ? btf__type_cnt(btf) : 0;

	for (uint32_t id = 1; id < nt; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!t || !btf_is_datasec(t))
			continue;
		const char *sn = btf__name_by_offset(btf, t->name_off);
		if (!sn || !(has_prefix(sn, ".rodata") || has_prefix(sn, ".data")))
			continue;
		int mi = -1;
		for (size_t i = 0; i < l->maps.n; i++)
			if (maps[i].kind != ASH_MAPK_USER &&
			    strcmp(maps[i].name, sn) == 0)
				mi = (int)i;
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);
		for (uint16_t k = 0; k < btf_vlen(t); k++, vs++) {
			const struct btf_type *var = btf__type_by_id(btf, vs->type);
			const char *vn = var ? btf__name_by_offset(btf, var->name_off)
			                     : NULL;
			if (!vn || strcmp(vn, set->name))
				continue;
			uint32_t sz = vs->size;
			uint64_t v;
			if (mi < 0)
				break;
			if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
				return fail(l->diag, "variable '%s' has %u bytes, not "
				            "an integer", set->name, sz);
			int r = parse_value(set->value, sz, &v);
			if (r == -1)
				return fail(l->diag, "bad value '%s' for '%s' (decimal "
				            "or 0x hex)", set->value, set->name);
			if (r == -2)
				return fail(l->diag, "value %s does not fit '%s' (%u "
				            "bytes)", set->value, set->name, sz);
			if (vs->offset > maps[mi].init_len ||
			    sz > maps[mi].init_len - vs->offset)
				return fail(l->diag, "variable '%s' outside '%s'",
				            set->name, sn);
			uint8_t *dst = (uint8_t *)l->data.p + maps[mi].init_off +
			               vs->offset;
			for (uint32_t b = 0; b < sz; b++)
				dst[b] = (uint8_t)(v >> (8 * b));
			return 0;
		}
	}
	return fail(l->diag, "no variable '%s' in .rodata or .data", set->name);
}

/* ---- the image ---- */

static void *dup_out(const void *src, size_t n)
{
	const struct dpf_host *h = dpf_host_libc();
	void *p;
	if (n == 0)
		return NULL;
	p = h->alloc(h->ctx, n);
	if (p)
		memcpy(p, src, n);
	return p;
}

static int make_image(struct ld *l, const struct prog *p,
                      struct ash_image **out)
{
	const struct dpf_host *h = dpf_host_libc();
	struct ash_image *img = h->alloc(h->ctx, sizeof *img);
	int err;
	if (!img)
		return DPF_ENOMEM;
	memset(img, 0, sizeof *img);
	strcpy(img->prog, p->name);
	strcpy(img->section, l->secs[p->shndx].name);
	img->ninsns = (uint32_t)l->insns.n;
	img->insns = dup_out(l->insns.p, l->insns.n * sizeof(struct ash_insn));
	img->nmaps = (uint32_t)l->maps.n;
	img->maps = dup_out(l->maps.p, l->maps.n * sizeof(struct ash_map_def));
	img->ndata = (uint32_t)l->data.n;
	img->data = dup_out(l->data.p, l->data.n);
	err = build_lines(l, img);
	if (!err && ((!img->insns && img->ninsns) || (!img->maps && img->nmaps) ||
	             (!img->data && img->ndata)))
		err = DPF_ENOMEM;
	if (err) {
		/* the counts must describe what was allocated */
		if (!img->insns)
			img->ninsns = 0;
		if (!img->maps)
			img->nmaps = 0;
		if (!img->data)
			img->ndata = 0;
		if (!img->lines)
			img->nlines = 0;
		if (!img->strtab)
			img->nstr = 0;
		ash_image_free(h, img);
		return err;
	}
	*out = img;
	return 0;
}

static void ld_free(struct ld *l)
{
	if (l->obj)
		bpf_object__close(l->obj);
	if (l->elf)
		elf_end(l->elf);
	for (size_t i = 0; l->secs && i < l->nsec; i++)
		free(l->secs[i].relidx);
	free(l->secs);
	free(l->insns.p);
	free(l->funcs.p);
	free(l->maps.p);
	free(l->data.p);
	free(l->lines.p);
	free((void *)l->buf);
}

static int ld_init(struct ld *l, const uint8_t *buf, size_t len,
                   struct dpf_diag *diag)
{
	memset(l, 0, sizeof *l);
	l->insns.elem = sizeof(struct ash_insn);
	l->funcs.elem = sizeof(struct func);
	l->maps.elem = sizeof(struct ash_map_def);
	l->data.elem = 1;
	l->lines.elem = sizeof(struct line);
	l->diag = diag;
	if (diag)
		diag->msg[0] = 0;
	/* our own copy: libelf and libbpf never touch the caller's bytes */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return DPF_ENOMEM;
	if (len)
		memcpy(copy, buf, len);
	l->buf = copy;
	l->len = len;
	return check_elf(l);
}

static int open_libbpf(struct ld *l)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "ash");
	libbpf_print_fn_t old = libbpf_set_print(libbpf_capture);
	libbpf_msg[0] = 0;
	l->obj = bpf_object__open_mem(l->buf, l->len, &opts);
	int e = errno;
	libbpf_set_print(old);
	if (!l->obj) {
		if (libbpf_msg[0])
			return fail(l->diag, "libbpf: %s", libbpf_msg);
		return fail(l->diag, "libbpf cannot open the object: %s",
		            strerror(e));
	}
	return 0;
}

int ash_load_elf(const uint8_t *buf, size_t len, const char *prog,
                 const struct ash_set *sets, size_t nsets,
                 struct ash_image **out, struct dpf_diag *diag)
{
	struct ld l;
	const struct prog *p = NULL;
	int err;

	*out = NULL;
	if ((err = ld_init(&l, buf, len, diag)) == 0 &&
	    (err = pick_prog(&l, prog, &p)) == 0 &&
	    (err = check_btf(&l)) == 0 &&
	    (err = open_libbpf(&l)) == 0 &&
	    (err = add_maps(&l)) == 0 &&
	    (err = link_prog(&l, p)) == 0 &&
	    (err = add_lines(&l)) == 0) {
		for (size_t i = 0; i < nsets && !err; i++)
			err = apply_set(&l, &sets[i]);
		/* the image reader's map rules, so that every image the
		 * loader makes reads back */
		const struct ash_map_def *md = l.maps.p;
		for (size_t i = 0; i < l.maps.n && !err; i++) {
			char why[200];
			if (ash_map_def_check(&md[i], (uint32_t)l.data.n, why,
			                      sizeof why))
				err = fail(diag, "%s", why);
		}
		if (!err)
			err = make_image(&l, p, out);
	}
	if (err == DPF_ENOMEM && diag)
		snprintf(diag->msg, sizeof diag->msg, "out of memory");
	ld_free(&l);
	return err;
}

int ash_elf_programs(const uint8_t *buf, size_t len,
                     char (*names)[ASH_NAME_MAX + 1], size_t cap,
                     struct dpf_diag *diag)
{
	struct ld l;
	int err;

	if ((err = ld_init(&l, buf, len, diag)) == 0 &&
	    (err = find_progs(&l, NULL)) == 0) {
		for (size_t i = 0; i < l.nprogs && i < cap; i++)
			snprintf(names[i], ASH_NAME_MAX + 1, "%s", l.progs[i].name);
		err = (int)l.nprogs;
	}
	ld_free(&l);
	return err;
}
