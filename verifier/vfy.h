/*
 * vfy.h - the verifier: what filter IR must satisfy before any consumer
 * (the trie, the interpreter, a JIT, the kernel) accepts it.
 *
 * Freestanding C: builds hosted and with -ffreestanding -nostdinc.
 *
 * Rules checked by vfy_filter(), each refusal naming the filter, the path
 * and the atom index ("filter 'x' path 0 atom 2: width is not 1, 2 or 4"):
 *   name       1..DPF_NAME_MAX bytes of [A-Za-z_][A-Za-z0-9_.-]*
 *   priority   0..DPF_PRIO_MAX
 *   paths      1..DPF_MAX_PATHS; atoms per path 0..DPF_MAX_ATOMS
 *   kind       CMP or SHIFT;  base  PKT or REL
 *   width      CMP: 1, 2 or 4;  SHIFT: 1 or 2
 *   mask       nonzero and no wider than the load
 *   value      CMP: value & ~mask == 0;  SHIFT: 0
 *   shift      CMP: 0;  SHIFT: 0..DPF_MAX_SHIFT_K, at most DPF_MAX_SHIFTS
 *              per path (so base + offset stays far below 2^32)
 * The binary form's own framing is checked by dpf_ir_read(), which runs
 * every filter it decodes through vfy_filter().
 */
#ifndef DPF_VFY_H
#define DPF_VFY_H

#include "dpf/dpf.h"

int vfy_filter(const struct dpf_filter *f, struct dpf_diag *diag);

#endif
