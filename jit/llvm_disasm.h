/*
 * llvm_disasm.h - hosted: the x86 back end's code as text, through LLVM's
 * C disassembler (the only LLVM C API use outside an LLVM back end lives
 * in jit/llvm*, as the layout rules ask).
 */
#ifndef DPF_JIT_LLVM_DISASM_H
#define DPF_JIT_LLVM_DISASM_H

#include <stdio.h>

#include "dpf/dpf.h"

/* Write the x86-64 code of e's JIT, which must be attached with JIT_NOTES
 * (jit/jit.h), to f: per unit a header line, "; NOTE" lines naming the
 * trie node each block implements (and the filter, by name, where a note
 * gives its id), one line per instruction in Intel syntax, and a summary
 * line.  Returns 0, or -1 when LLVM cannot make an x86-64 disassembler
 * (nothing is written then). */
int jit_llvm_listing(FILE *f, const struct dpf_engine *e);

/* Write len bytes of x86-64 code (offsets from 0) to f, one line per
 * instruction as above, each note's text printed as a line of its own
 * before the instruction at its offset (notes ascending; decoding never
 * crosses a note).  *undecoded counts the bytes shown as ".byte".
 * Returns 0, or -1 when LLVM cannot make an x86-64 disassembler. */
struct jit_note;
int jit_llvm_code(FILE *f, const uint8_t *code, size_t len,
                  const struct jit_note *notes, size_t nnotes,
                  uint64_t *undecoded);

#endif
