/*
 * loader.h - ELF object to program image (hosted: libbpf and libelf).
 *
 * ash_load_elf() opens a clang `-target bpf` object in memory with
 * libbpf's bpf_object__open_mem (no kernel, no root, no bpf() syscall),
 * picks its XDP program (sections "xdp" and "xdp/..."; `name` when the
 * object holds several), and applies the relocations itself:
 *   R_BPF_64_64 against a map symbol     lddw src 5, imm = map index
 *   R_BPF_64_64 against global data      lddw src 6, imm = map index,
 *                                         imm2 = offset in the section
 *   R_BPF_64_32 against a function        call src 1 to the subprogram,
 *                                         appended after the program
 *   R_BPF_64_64 against a function        lddw src 4 (callback address)
 * Maps come from the BTF-defined ".maps" section; .data, .bss and .rodata
 * (and their ".name" variants) become one-entry array maps with their
 * initial bytes in the image, as libbpf does.  `sets` assigns variables
 * of .rodata/.data by name before load (`const volatile` knobs); values
 * are decimal or 0x hex integers, sized by the variable's BTF type.  The
 * line table comes from .BTF.ext line info.
 *
 * Every malformation (not ELF, no XDP program, two XDP programs and no
 * name, unknown map type, bad relocation, truncated section, unknown
 * variable in sets) is refused: -1 (DPF_EINVAL) with the message in diag,
 * never a crash.  The caller prints "OBJ: error: MESSAGE".
 */
#ifndef DPF_ASH_LOADER_H
#define DPF_ASH_LOADER_H

#include "ash/ash.h"

struct ash_set {
	const char *name;  /* variable name */
	const char *value; /* integer text */
};

/* On success *out is an image allocated from dpf_host_libc(); free with
 * ash_image_free(dpf_host_libc(), img). */
int ash_load_elf(const uint8_t *buf, size_t len, const char *prog,
                 const struct ash_set *sets, size_t nsets,
                 struct ash_image **out, struct dpf_diag *diag);

/* The XDP programs of an object, for listing: fills names (up to cap,
 * each ASH_NAME_MAX + 1 bytes) and returns how many there are, or
 * DPF_EINVAL with diag. */
int ash_elf_programs(const uint8_t *buf, size_t len,
                     char (*names)[ASH_NAME_MAX + 1], size_t cap,
                     struct dpf_diag *diag);

#endif
