/*
 * dilp.h - dynamic integrated layer processing: copying bytes while
 * checksumming, byte-swapping and XOR-ing them, in one pass (the helper
 * dpf_ash_copy of ash/include/dpf_ash.h, which defines the semantics
 * exactly: DPF_COPY_* bits, the tail rule, the checksum's byte order).
 *
 * Interface
 *   ash_dilp_ops_valid(ops)   1 when the low 32 bits of ops are a set the
 *                             verifier accepts (known bits only, not
 *                             BSWAP16 with BSWAP32)
 *   ash_dilp_generic(...)     one loop that reads ops at run time (the
 *                             interpreter's path)
 *   ash_dilp_select(ops)      the kernel specialised for ops' bit set (one
 *                             per valid set, each the same template with
 *                             the set a compile-time constant; the AVX2
 *                             build of it when the CPU has AVX2), or NULL
 *                             for an invalid set: what a JIT calls at a
 *                             call site whose ops the verifier proved
 *   ash_dilp_xdp(...)         the helper on a frame: bounds, then a kernel
 *   ash_dilp_copy(...)        select + call, for callers without a site
 *                             (an invalid set: the generic loop's bytes)
 *
 * Every kernel and the generic loop give identical bytes and return
 * values for every input.  dst and src never overlap (a map value and the
 * frame).  Freestanding: no libc.
 */
#ifndef DPF_ASH_DILP_H
#define DPF_ASH_DILP_H

#include <stdint.h>

#include "ash/include/dpf_ash.h"

/* Copy len bytes from src to dst applying ops (the low 32 bits; key =
 * ops >> 32 for DPF_COPY_XOR32).  Returns the folded checksum of src
 * (0..0xffff) with DPF_COPY_CSUM, else 0. */
typedef uint64_t (*ash_dilp_fn)(uint8_t *restrict dst,
                                const uint8_t *restrict src, uint32_t len,
                                uint64_t ops);

/* Instruction sets a kernel is compiled for: the baseline of the build
 * (x86-64: SSE2), and AVX2 where the CPU has it (x86-64 builds). */
enum { ASH_DILP_BASE = 0, ASH_DILP_AVX2 = 1 };

int ash_dilp_ops_valid(uint64_t ops);
uint64_t ash_dilp_generic(uint8_t *restrict dst, const uint8_t *restrict src,
                          uint32_t len, uint64_t ops);
ash_dilp_fn ash_dilp_select(uint32_t ops);
/* The kernel for ops compiled for isa, or NULL when ops is invalid or
 * this build or CPU lacks isa (tests run every one). */
ash_dilp_fn ash_dilp_select_isa(uint32_t ops, int isa);
uint64_t ash_dilp_copy(uint8_t *restrict dst, const uint8_t *restrict src,
                       uint32_t len, uint64_t ops);

/* The whole helper on a frame, as a call site runs it: -EINVAL (-22),
 * nothing written, when [off, off + len) is not inside x's data; else
 * the kernel k's result (k NULL: the generic loop; a JIT passes
 * ash_dilp_select(fact.arg) for a call whose fact has VFY_AF_ARG and not
 * VFY_AF_ARG_MIXED).  ops must be valid (the verifier proved it). */
struct ash_xdp;
int64_t ash_dilp_xdp(const struct ash_xdp *x, uint32_t off, uint8_t *dst,
                     uint32_t len, uint64_t ops, ash_dilp_fn k);

/* The checksum pass alone, with the specialised kernels' accumulator
 * (benchmarks: copy then checksum, the same code in two passes). */
uint64_t ash_dilp_csum(const uint8_t *src, uint32_t len);

#endif
