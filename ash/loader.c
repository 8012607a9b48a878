/*
 * loader.c - ELF object to program image (loader.h has the contract;
 * loader_int.h what its files share).
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
 *                 (loader_link.c)
 *   lines         .BTF.ext line info of every placed function, remapped
 *                 (loader_link.c)
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
#include "ash/loader_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

/* ---- diagnostics ---- */

int ash_ld_fail(struct dpf_diag *diag, const char *fmt, ...)
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

int ash_ld_push(struct vec *v, const void *x, size_t count)
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

GElf_Sym ash_ld_sym(const struct ld *l, size_t i)
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

const char *ash_ld_sym_name(const struct ld *l, const GElf_Sym *s)
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
		return ash_ld_fail(diag, "empty object");
	if (l->len < 4 || memcmp(l->buf, ELFMAG, SELFMAG) != 0)
		return ash_ld_fail(diag, "not an ELF object");
	if (l->len < sizeof(Elf64_Ehdr) || l->buf[EI_CLASS] != ELFCLASS64 ||
	    l->buf[EI_DATA] != ELFDATA2LSB)
		return ash_ld_fail(diag, "not a 64-bit little-endian ELF object");
	{
		Elf64_Ehdr e;
		memcpy(&e, l->buf, sizeof e);
		if (e.e_machine != EM_BPF)
			return ash_ld_fail(diag, "not a BPF object (ELF machine %u)",
			            e.e_machine);
		if (e.e_type != ET_REL)
			return ash_ld_fail(diag, "not a relocatable object (ELF type %u)",
			            e.e_type);
		if (e.e_shentsize != sizeof(Elf64_Shdr) || e.e_shoff == 0 ||
		    e.e_shoff > l->len || e.e_shnum == 0 ||
		    (l->len - e.e_shoff) / sizeof(Elf64_Shdr) < e.e_shnum)
			return ash_ld_fail(diag, "truncated object: section headers "
			            "past the end");
	}
	elf_version(EV_CURRENT);
	l->elf = elf_memory((char *)l->buf, l->len);
	if (!l->elf || elf_kind(l->elf) != ELF_K_ELF || !gelf_getehdr(l->elf, &eh))
		return ash_ld_fail(diag, "not an ELF object: %s", elf_errmsg(-1));
	if (elf_getshdrnum(l->elf, &l->nsec) || elf_getshdrstrndx(l->elf, &shstr) ||
	    shstr == 0 || shstr >= l->nsec)
		return ash_ld_fail(diag, "bad section header table");
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
			return ash_ld_fail(diag, "truncated object: bad section name table");
		}
	}
	size_t nord = 0;
	for (size_t i = 1; i < l->nsec; i++) {
		struct sec *s = &l->secs[i];
		Elf_Scn *scn = elf_getscn(l->elf, i);
		s->map = -1;
		if (!scn || !gelf_getshdr(scn, &s->sh)) {
			free(order);
			return ash_ld_fail(diag, "bad section header %zu", i);
		}
		s->name = elf_strptr(l->elf, shstr, s->sh.sh_name);
		if (!s->name) {
			free(order);
			return ash_ld_fail(diag, "section %zu has no name", i);
		}
		if (s->sh.sh_type == SHT_NOBITS || s->sh.sh_type == SHT_NULL)
			continue;
		if (s->sh.sh_offset > l->len ||
		    s->sh.sh_size > l->len - s->sh.sh_offset) {
			free(order);
			return ash_ld_fail(diag, "truncated object: section '%s' past the "
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
			int r = ash_ld_fail(diag, "sections '%s' and '%s' overlap",
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
			return ash_ld_fail(diag, "several symbol tables");
		if (s->sh.sh_entsize != sizeof(Elf64_Sym) ||
		    s->sh.sh_size % sizeof(Elf64_Sym) || s->sh.sh_link == 0 ||
		    s->sh.sh_link >= l->nsec ||
		    l->secs[s->sh.sh_link].sh.sh_type != SHT_STRTAB ||
		    !l->secs[s->sh.sh_link].data)
			return ash_ld_fail(diag, "bad symbol table");
		l->symtab = s->data;
		l->nsyms = s->sh.sh_size / sizeof(Elf64_Sym);
		l->symstr = s->sh.sh_link;
	}
	if (!l->symtab)
		return ash_ld_fail(diag, "no symbol table");
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = ash_ld_sym(l, i);
		if (!elf_strptr(l->elf, l->symstr, sym.st_name))
			return ash_ld_fail(diag, "symbol %zu has no name", i);
		if (sym.st_shndx >= l->nsec && sym.st_shndx < SHN_LORESERVE)
			return ash_ld_fail(diag, "symbol '%s' in section %u, which does "
			            "not exist", ash_ld_sym_name(l, &sym), sym.st_shndx);
	}
	/* relocation sections: entries, symbols and offsets in range */
	for (size_t i = 1; i < l->nsec; i++) {
		struct sec *s = &l->secs[i];
		if (s->sh.sh_type == SHT_RELA)
			return ash_ld_fail(diag, "RELA relocations in '%s' (BPF uses REL)",
			            s->name);
		if (s->sh.sh_type != SHT_REL)
			continue;
		if (s->sh.sh_entsize != sizeof(Elf64_Rel) ||
		    s->sh.sh_size % sizeof(Elf64_Rel) ||
		    s->sh.sh_info == 0 || s->sh.sh_info >= l->nsec)
			return ash_ld_fail(diag, "bad relocation section '%s'", s->name);
		struct sec *t = &l->secs[s->sh.sh_info];
		size_t n = s->sh.sh_size / sizeof(Elf64_Rel);
		if (t->rel)
			return ash_ld_fail(diag, "several relocation sections for '%s'",
			            t->name);
		t->rel = i;
		for (size_t k = 0; k < n; k++) {
			Elf64_Rel r;
			memcpy(&r, s->data + k * sizeof r, sizeof r);
			if (ELF64_R_SYM(r.r_info) >= l->nsyms)
				return ash_ld_fail(diag, "relocation %zu of '%s' to unknown "
				            "symbol %lu", k, t->name,
				            (unsigned long)ELF64_R_SYM(r.r_info));
			if (r.r_offset >= t->sh.sh_size ||
			    (t->sh.sh_flags & SHF_EXECINSTR &&
			     (r.r_offset % INSN_SZ ||
			      r.r_offset + INSN_SZ > t->sh.sh_size)))
				return ash_ld_fail(diag, "relocation %zu of '%s' at offset "
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
		GElf_Sym sym = ash_ld_sym(l, i);
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || sym.st_shndx >= l->nsec)
			continue;
		const struct sec *s = &l->secs[sym.st_shndx];
		if (!is_xdp_section(s->name) || !(s->sh.sh_flags & SHF_EXECINSTR) ||
		    s->sh.sh_type != SHT_PROGBITS)
			continue;
		const char *name = ash_ld_sym_name(l, &sym);
		if (sym.st_value % INSN_SZ || sym.st_size % INSN_SZ ||
		    sym.st_size == 0 || sym.st_value > s->sh.sh_size ||
		    sym.st_size > s->sh.sh_size - sym.st_value)
			return ash_ld_fail(l->diag, "program '%s' lies outside section "
			            "'%s'", name, s->name);
		l->nprogs_all++;
		if (want && strcmp(want, name) != 0)
			continue;
		if (l->nprogs == MAX_PROGS)
			return ash_ld_fail(l->diag, "more than %d XDP programs", MAX_PROGS);
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
			return ash_ld_fail(l->diag, "no XDP program (sections \"xdp\" or "
			            "\"xdp/...\")");
		l->nprogs = 0;
		l->nprogs_all = 0;
		find_progs(l, NULL);
		prog_list(l, list, sizeof list);
		return ash_ld_fail(l->diag, "no XDP program named '%s' (the object "
		            "has: %s)", want, list);
	}
	if (l->nprogs == 0)
		return ash_ld_fail(l->diag, "no XDP program (sections \"xdp\" or "
		            "\"xdp/...\")");
	if (l->nprogs > 1) {
		prog_list(l, list, sizeof list);
		return ash_ld_fail(l->diag, "%zu XDP programs, name one: %s", l->nprogs,
		            list);
	}
	if (strlen(l->progs[0].name) > ASH_NAME_MAX ||
	    strlen(l->secs[l->progs[0].shndx].name) > ASH_NAME_MAX)
		return ash_ld_fail(l->diag, "program or section name longer than %d "
		            "bytes", ASH_NAME_MAX);
	unsigned bad = bad_name_byte(l->progs[0].name);
	if (!bad)
		bad = bad_name_byte(l->secs[l->progs[0].shndx].name);
	if (bad)
		return ash_ld_fail(l->diag, "program or section name has byte 0x%02x "
		            "(names are printable ASCII)", bad);
	*out = &l->progs[0];
	/* externs (__kconfig, __ksym) name the kernel DPF does not have */
	for (size_t i = 1; i < l->nsyms; i++) {
		GElf_Sym sym = ash_ld_sym(l, i);
		const char *name = ash_ld_sym_name(l, &sym);
		if (sym.st_shndx == SHN_UNDEF && *name &&
		    GELF_ST_BIND(sym.st_info) != STB_LOCAL)
			return ash_ld_fail(l->diag, "extern '%s' is not supported (no "
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
			return ash_ld_fail(diag, "too many maps (more than %d)",
			            ASH_MAX_MAPS);
		if (bpf_map__is_internal(m)) {
			size_t si = data_section(l, name);
			size_t sz = 0;
			const void *init = bpf_map__initial_value(m, &sz);
			if (!si)
				return ash_ld_fail(diag, "global data '%s' is not supported "
				            "(extern or unknown section)", name);
			const char *sn = l->secs[si].name;
			if (strlen(sn) > ASH_NAME_MAX)
				return ash_ld_fail(diag, "section name '%s' longer than %d "
				            "bytes", sn, ASH_NAME_MAX);
			if (bad_name_byte(sn))
				return ash_ld_fail(diag, "section name has byte 0x%02x "
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
				return ash_ld_fail(diag, "global data '%s' too large (%zu "
				            "bytes)", sn, sz);
			d.init_off = (uint32_t)l->data.n;
			d.init_len = (uint32_t)sz;
			if (ash_ld_push(&l->data, init, sz))
				return DPF_ENOMEM;
			l->secs[si].map = (int)l->maps.n;
		} else {
			uint32_t t = bpf_map__type(m);
			if (!map_type_ok(t)) {
				const char *tn = libbpf_bpf_map_type_str(t);
				return ash_ld_fail(diag, "map '%s': unsupported map type %s "
				            "(%u)", name, tn ? tn : "unknown", t);
			}
			if (strlen(name) > ASH_NAME_MAX)
				return ash_ld_fail(diag, "map name '%s' longer than %d bytes",
				            name, ASH_NAME_MAX);
			if (bad_name_byte(name))
				return ash_ld_fail(diag, "map name has byte 0x%02x (names "
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
					return ash_ld_fail(diag, "map '%s': a ring buffer needs "
					            "no key or value and a power-of-2 size "
					            ">= 4096, up to %u", name,
					            ASH_MAX_MAP_BYTES);
			} else {
				if ((t == ASH_MAP_ARRAY || t == ASH_MAP_PERCPU_ARRAY) &&
				    d.key_size != 4)
					return ash_ld_fail(diag, "map '%s': array keys are 4 "
					            "bytes, not %u", name, d.key_size);
				if (d.key_size == 0 || d.key_size > ASH_MAX_KEY ||
				    d.value_size == 0 || d.value_size > ASH_MAX_VALUE ||
				    d.max_entries == 0 ||
				    d.max_entries > ASH_MAX_ENTRIES ||
				    (uint64_t)(d.key_size + d.value_size) *
				    d.max_entries > ASH_MAX_MAP_BYTES)
					return ash_ld_fail(diag, "map '%s': key %u, value %u, "
					            "%u entries: outside the limits",
					            name, d.key_size, d.value_size,
					            d.max_entries);
			}
		}
		if (ash_ld_push(&l->maps, &d, 1))
			return DPF_ENOMEM;
	}
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
				return ash_ld_fail(l->diag, "variable '%s' has %u bytes, not "
				            "an integer", set->name, sz);
			int r = parse_value(set->value, sz, &v);
			if (r == -1)
				return ash_ld_fail(l->diag, "bad value '%s' for '%s' (decimal "
				            "or 0x hex)", set->value, set->name);
			if (r == -2)
				return ash_ld_fail(l->diag, "value %s does not fit '%s' (%u "
				            "bytes)", set->value, set->name, sz);
			if (vs->offset > maps[mi].init_len ||
			    sz > maps[mi].init_len - vs->offset)
				return ash_ld_fail(l->diag, "variable '%s' outside '%s'",
				            set->name, sn);
			uint8_t *dst = (uint8_t *)l->data.p + maps[mi].init_off +
			               vs->offset;
			for (uint32_t b = 0; b < sz; b++)
				dst[b] = (uint8_t)(v >> (8 * b));
			return 0;
		}
	}
	return ash_ld_fail(l->diag, "no variable '%s' in .rodata or .data", set->name);
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
	err = ash_ld_build_lines(l, img);
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
			return ash_ld_fail(l->diag, "libbpf: %s", libbpf_msg);
		return ash_ld_fail(l->diag, "libbpf cannot open the object: %s",
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
	    (err = ash_ld_check_btf(&l)) == 0 &&
	    (err = open_libbpf(&l)) == 0 &&
	    (err = add_maps(&l)) == 0 &&
	    (err = ash_ld_link_prog(&l, p)) == 0 &&
	    (err = ash_ld_add_lines(&l)) == 0) {
		for (size_t i = 0; i < nsets && !err; i++)
			err = apply_set(&l, &sets[i]);
		/* the image reader's map rules, so that every image the
		 * loader makes reads back */
		const struct ash_map_def *md = l.maps.p;
		for (size_t i = 0; i < l.maps.n && !err; i++) {
			char why[200];
			if (ash_map_def_check(&md[i], (uint32_t)l.data.n, why,
			                      sizeof why))
				err = ash_ld_fail(diag, "%s", why);
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
