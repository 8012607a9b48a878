/*
 * loader_int.h - what the loader's files share (private to ash/).
 *
 *   loader.c       ELF checks, the XDP programs, maps, --set, the image
 *                  and the entry points (loader.h)
 *   loader_link.c  linking (instructions, subprograms, relocations) and
 *                  the line table
 *   loader_btf.c   the BTF checks made before libbpf sees an object
 *
 * struct ld is one load in progress; every stage takes it and refuses
 * with a message in l->diag (ash_ld_fail).
 */
#ifndef DPF_ASH_LOADER_INT_H
#define DPF_ASH_LOADER_INT_H

#include <gelf.h>
#include <libelf.h>

#include "ash/loader.h"

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

struct bpf_object;

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

/* Fill diag (when not NULL) and return DPF_EINVAL. */
int ash_ld_fail(struct dpf_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append count elements (zeros when x is NULL): 0 or DPF_ENOMEM. */
int ash_ld_push(struct vec *v, const void *x, size_t count);
/* Symbol i of the checked symbol table, and its name ("?" when it has
 * none; a section symbol is named by its section). */
GElf_Sym ash_ld_sym(const struct ld *l, size_t i);
const char *ash_ld_sym_name(const struct ld *l, const GElf_Sym *s);

/* loader_link.c: place program p and every function it reaches, apply
 * their relocations; then the line table. */
int ash_ld_link_prog(struct ld *l, const struct prog *p);
int ash_ld_check_btf(struct ld *l);
int ash_ld_add_lines(struct ld *l);
int ash_ld_build_lines(struct ld *l, struct ash_image *img);

/* loader_btf.c */
typedef int (*ash_btf_line_fn)(void *ctx, const char *sec, uint32_t off,
                               const char *file, const char *text,
                               uint32_t line_col);
/* .BTF's bytes and those of .BTF.ext (NULL when absent): 0, or
 * DPF_EINVAL with diag, DPF_ENOMEM. */
int ash_btf_check(const uint8_t *btf, size_t btf_len, const uint8_t *ext,
                  size_t ext_len, struct dpf_diag *diag);
/* fn(ctx, section, byte offset, file, source text, line_col) for each
 * line-info record of .BTF.ext; stops at fn's first nonzero return,
 * which it returns. */
int ash_btf_lines(const uint8_t *btf, size_t btf_len, const uint8_t *ext,
                  size_t ext_len, ash_btf_line_fn fn, void *ctx,
                  struct dpf_diag *diag);

#endif
