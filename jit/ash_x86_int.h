/*
 * ash_x86_int.h - private interface of the handler JIT (jit.h:
 * jit_ash_compile): the encodings both of its files use (layer 2), the
 * translator's state, and what each file gives the other.
 *
 *   ash_x86.c       frames, the switch over ops.def kinds, jumps, memory,
 *                   compilation and the code's handle
 *   ash_x86_call.c  call slots: helpers (direct, or the trampoline),
 *                   inlined array lookups, xdp_load_bytes and
 *                   xdp_store_bytes of a constant length inline,
 *                   bpf_loop as a native loop
 *
 * Register use is described at the top of ash_x86.c: r12 the state all
 * the run long, r9-r11 scratch within a slot.
 */
#ifndef DPF_JIT_ASH_X86_INT_H
#define DPF_JIT_ASH_X86_INT_H

#include "jit/jit.h"
#include "jit/x86.h"
#include "ash/ash.h"
#include "verifier/vfy.h"

#include <stddef.h>

/* ---- layer 2: encodings ---- */

enum {
	RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6,
	RDI = 7, R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13,
	R14 = 14, R15 = 15,
};

/* eBPF register -> x86 register. */
static const uint8_t xreg[11] = {RAX, RDI, RSI, RDX, RCX, R8,
                                 RBX, R13, R14, R15, RBP};

#define ST R12  /* struct jit_ash_state * */
#define T1 R11  /* scratch */
#define T2 R10
#define T3 R9

#define FRAME_STACK ASH_STACK

/* REX prefix: W, R (reg), B (rm or base); force for byte registers
 * sil/dil/bpl/spl. */
static inline void rex(struct sink *s, int w, unsigned reg, unsigned rm,
                       int force)
{
	uint8_t b = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) |
	                      ((rm & 8) ? 1 : 0));
	if (b != 0x40 || force)
		emit1(s, b);
}

static inline void modrm_rr(struct sink *s, unsigned reg, unsigned rm)
{
	emit1(s, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* [base + disp]: disp8 or disp32, SIB for rsp/r12 bases. */
static inline void modrm_mem(struct sink *s, unsigned reg, unsigned base,
                             int32_t disp)
{
	int d8 = disp >= -128 && disp <= 127;
	emit1(s, (uint8_t)((d8 ? 0x40 : 0x80) | (reg & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP)
		emit1(s, 0x24); /* sib: base only */
	if (d8)
		emit1(s, (uint8_t)disp);
	else
		emit32(s, (uint32_t)disp);
}

/* op rm, reg (register form): opcode opc, e.g. 0x01 add, 0x89 mov. */
static inline void op_rr(struct sink *s, int w, uint8_t opc, unsigned reg,
                         unsigned rm)
{
	rex(s, w, reg, rm, 0);
	emit1(s, opc);
	modrm_rr(s, reg, rm);
}

/* two-byte opcode 0f xx, reg <- rm (imul, movzx, movsx...). */
static inline void op0f_rr(struct sink *s, int w, uint8_t opc, unsigned reg,
                           unsigned rm, int force)
{
	rex(s, w, reg, rm, force);
	emit2(s, 0x0f, opc);
	modrm_rr(s, reg, rm);
}

/* A memory operand instruction: [66] [rex] opc [opc2] modrm disp. */
static inline void op_mem(struct sink *s, int p66, int w, int force,
                          uint8_t opc, int opc2, unsigned reg, unsigned base,
                          int32_t disp)
{
	if (p66)
		emit1(s, 0x66);
	rex(s, w, reg, base, force);
	emit1(s, opc);
	if (opc2 >= 0)
		emit1(s, (uint8_t)opc2);
	modrm_mem(s, reg, base, disp);
}

/* mov dst, src (64 or 32 bits: 32 zero-extends) */
static inline void mov_rr(struct sink *s, int w, unsigned dst, unsigned src)
{
	op_rr(s, w, 0x89, src, dst); /* mov dst, src */
}

/* dst = v, the shortest form. */
static inline void mov_imm(struct sink *s, unsigned dst, uint64_t v)
{
	if (v <= 0xffffffffu) {
		rex(s, 0, 0, dst, 0);
		emit1(s, (uint8_t)(0xb8 | (dst & 7))); /* mov dst32, imm32 */
		emit32(s, (uint32_t)v);
	} else if ((int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX) {
		rex(s, 1, 0, dst, 0);
		emit1(s, 0xc7); /* mov dst, simm32 */
		modrm_rr(s, 0, dst);
		emit32(s, (uint32_t)v);
	} else {
		rex(s, 1, 0, dst, 0);
		emit1(s, (uint8_t)(0xb8 | (dst & 7))); /* movabs dst, imm64 */
		emit64(s, v);
	}
}

/* op dst, imm32 (group 1: /0 add, /1 or, /4 and, /5 sub, /6 xor,
 * /7 cmp); 64-bit forms sign-extend the immediate. */
static inline void alu_ri(struct sink *s, int w, unsigned ext, unsigned dst,
                          int32_t imm)
{
	rex(s, w, 0, dst, 0);
	if (imm >= -128 && imm <= 127) {
		emit1(s, 0x83); /* op dst, simm8 */
		modrm_rr(s, ext, dst);
		emit1(s, (uint8_t)imm);
	} else {
		emit1(s, 0x81); /* op dst, imm32 */
		modrm_rr(s, ext, dst);
		emit32(s, (uint32_t)imm);
	}
}

/* jcc rel32 with any condition code (x86.h names only the unsigned). */
enum { XCC_B = 0x2, XCC_AE = 0x3, XCC_E = 0x4, XCC_NE = 0x5, XCC_BE = 0x6,
       XCC_A = 0x7, XCC_L = 0xc, XCC_GE = 0xd, XCC_LE = 0xe, XCC_G = 0xf };

static inline void jcc_any(struct sink *s, unsigned cc, uint32_t l)
{
	emit2(s, 0x0f, (uint8_t)(0x80 | cc)); /* jcc rel32 */
	emit_rel32(s, l);
}

/* Loads and stores of 1, 2, 4 or 8 bytes at [base+off]. */
static inline void ldx(struct sink *s, unsigned size, int sx, unsigned dst,
                       unsigned base, int32_t off)
{
	switch (size) {
	case 1: /* movzx dst32, byte [base+off] / movsx dst, byte [..] */
		op_mem(s, 0, sx, 0, 0x0f, sx ? 0xbe : 0xb6, dst, base, off);
		break;
	case 2: /* movzx dst32, word [base+off] / movsx dst, word [..] */
		op_mem(s, 0, sx, 0, 0x0f, sx ? 0xbf : 0xb7, dst, base, off);
		break;
	case 4: /* mov dst32, [base+off] / movsxd dst, dword [..] */
		op_mem(s, 0, sx, 0, sx ? 0x63 : 0x8b, -1, dst, base, off);
		break;
	default: /* mov dst, [base+off] */
		op_mem(s, 0, 1, 0, 0x8b, -1, dst, base, off);
		break;
	}
}

static inline void stx(struct sink *s, unsigned size, unsigned base,
                       int32_t off, unsigned src)
{
	switch (size) {
	case 1: /* mov byte [base+off], src8 (rex: sil/dil, not dh/bh) */
		op_mem(s, 0, 0, 1, 0x88, -1, src, base, off);
		break;
	case 2: /* mov word [base+off], src16 */
		op_mem(s, 1, 0, 0, 0x89, -1, src, base, off);
		break;
	case 4: /* mov dword [base+off], src32 */
		op_mem(s, 0, 0, 0, 0x89, -1, src, base, off);
		break;
	default: /* mov qword [base+off], src */
		op_mem(s, 0, 1, 0, 0x89, -1, src, base, off);
		break;
	}
}

/* ---- layer 3: the translator's state ---- */

/* A function's frame: the callee-saved registers it pushes (in order),
 * the bytes it subtracts from rsp (its eBPF stack when it names r10,
 * plus 8 when needed to keep rsp 16-byte aligned in the body). */
struct frame {
	uint8_t save[6];
	uint8_t nsave;
	uint8_t stack; /* names r10: rbp = rsp + 512 */
	uint32_t bytes;
};

struct ashjit {
	struct sink s;
	const struct ash_image *img;
	const struct vfy_ash_result *vres;
	const struct jit_ash_env *env;
	uint32_t insn0;      /* labels: insn i is insn0 + i */
	uint32_t func0;      /* function entry of insn i: func0 + i */
	uint32_t fault_exit; /* label */
	uint32_t pc;         /* insn being translated, for refusals */
	struct frame main;   /* the program's function (and the entry) */
	struct frame cur;    /* the function being translated */
	struct dpf_diag *diag;
	int refused;
};

static inline int refuse(struct ashjit *c, const char *what, unsigned v)
{
	if (!c->refused)
		dpf_fmt(c->diag->msg, sizeof c->diag->msg, "at insn %u: %s %u",
		        c->pc, what, v);
	c->refused = 1;
	return -1;
}

static inline void push_reg(struct sink *s, unsigned r)
{
	rex(s, 0, 0, r, 0);
	emit1(s, (uint8_t)(0x50 | (r & 7))); /* push r */
}

static inline void pop_reg(struct sink *s, unsigned r)
{
	rex(s, 0, 0, r, 0);
	emit1(s, (uint8_t)(0x58 | (r & 7))); /* pop r */
}

/* A constant of the slot (VFY_AK_*) as the immediate of a w-bit
 * operation: any value for 32 bits (its low half), a sign-extended
 * 32-bit one for 64.  1 when it holds and fits. */
static inline int kimm(const struct vfy_ash_fact *f, unsigned i, int w,
                       int32_t *imm)
{
	if (!(f->kflags & (i ? VFY_AK_1 : VFY_AK_0)))
		return 0;
	uint64_t v = f->k[i];
	if (w && (int64_t)v != (int64_t)(int32_t)v)
		return 0;
	*imm = (int32_t)(uint32_t)v;
	return 1;
}

/* dst = v in the fewest bytes (flags are dead between eBPF slots). */
static inline void mov_const(struct sink *s, unsigned dst, uint64_t v)
{
	if (v)
		mov_imm(s, dst, v);
	else
		op_rr(s, 0, 0x31, dst, dst);    /* xor dst32, dst32 */
}

/* ---- ash_x86_call.c ---- */

/* A call or callx slot: 0, or -1 refused (c->diag says why). */
int jit_ash_call_slot(struct ashjit *c, const struct ash_insn *in);

#endif
