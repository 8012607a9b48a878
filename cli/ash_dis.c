/*
 * ash_dis.c - one eBPF instruction slot of a program image as text, for
 * `dpf ash compile` listings (cli/ash_compile.c).
 *
 * Interface (handler.h): cli_ash_insn_fmt(img, i, buf, cap).
 *
 * Syntax: the mnemonic form, "MNEMONIC OPERANDS", the mnemonic being
 * the opcode's name in ash/ops.def (so the table decides what exists):
 *   add r1, 14          ALU, immediate (mnemonics ending in 32: 32-bit)
 *   mov r1, (s8)r2      mov with off 8/16/32 (movsx)
 *   sdiv r1, r2         div/mod with off 1 (signed)
 *   be16 r1             le/be/bswap with their width
 *   ldxh r3, [r1+12]    loads; stores "stxdw [r10-8], r1", "stw [r10-4], 0"
 *   atomic fetch_add [r1+8], r2
 *   jeq r2, 0x800, +5 -> 18    the offset and the target slot
 *   ja +3 -> 17         call 1 (map_lookup_elem)      call +5 -> 18
 *   lddw r1, 0x1122334455667788   lddw r1, map 0 (counters)
 *   lddw r1, map 1 (.data) value + 4     lddw r1, func +5 -> 18
 * The second slot of a lddw has no text of its own: callers, which walk
 * the slots in order, print it (the listings say "(lddw, second slot)").
 * Immediates are decimal when they lie in [-4096, 4096], else hex of
 * their 32 bits (64 for lddw).  An opcode ops.def does not list prints
 * as ".insn 0xCODE".
 */
#include <stdio.h>

#include "cli/handler.h"

/* Append to buf at *k, never past cap. */
#define PUT(...)                                                            \
	do {                                                                \
		int w_ = snprintf(buf + k, k < cap ? cap - k : 0, __VA_ARGS__); \
		if (w_ > 0)                                                 \
			k += (size_t)w_;                                    \
	} while (0)

static void imm_text(char *t, size_t n, int64_t v, int wide)
{
	if (v >= -4096 && v <= 4096)
		snprintf(t, n, "%lld", (long long)v);
	else if (wide)
		snprintf(t, n, "0x%llx", (unsigned long long)v);
	else
		snprintf(t, n, "0x%x", (unsigned)(uint32_t)v);
}

/* "[rN+off]", "[rN-off]" or "[rN]" */
static void mem_text(char *t, size_t n, unsigned reg, int16_t off)
{
	if (off)
		snprintf(t, n, "[r%u%+d]", reg, off);
	else
		snprintf(t, n, "[r%u]", reg);
}

static const char *map_name(const struct ash_image *img, int32_t i)
{
	return i >= 0 && (uint32_t)i < img->nmaps ? img->maps[i].name : "?";
}

static const char *atomic_name(int32_t imm)
{
	switch (imm) {
	case ASH_ATOMIC_ADD: return "add";
	case ASH_ATOMIC_OR: return "or";
	case ASH_ATOMIC_AND: return "and";
	case ASH_ATOMIC_XOR: return "xor";
	case ASH_ATOMIC_ADD | ASH_ATOMIC_FETCH: return "fetch_add";
	case ASH_ATOMIC_OR | ASH_ATOMIC_FETCH: return "fetch_or";
	case ASH_ATOMIC_AND | ASH_ATOMIC_FETCH: return "fetch_and";
	case ASH_ATOMIC_XOR | ASH_ATOMIC_FETCH: return "fetch_xor";
	case ASH_ATOMIC_XCHG: return "xchg";
	case ASH_ATOMIC_CMPXCHG: return "cmpxchg";
	}
	return "?";
}

size_t cli_ash_insn_fmt(const struct ash_image *img, uint32_t i, char *buf,
                        size_t cap)
{
	const struct ash_insn *in = &img->insns[i];
	const char *name = ash_op_name(in->code);
	size_t k = 0;
	char a[32], b[32];
	long long to = (long long)i + 1 + in->off;
	if (cap)
		buf[0] = 0;
	switch (ash_op_kind(in->code)) {
	case ASH_K_ALU32_K:
	case ASH_K_ALU64_K:
	case ASH_K_ALU32_X:
	case ASH_K_ALU64_X: {
		int x = ash_op_kind(in->code) == ASH_K_ALU32_X ||
		        ash_op_kind(in->code) == ASH_K_ALU64_X;
		uint8_t op = ASH_OP(in->code);
		if (x)
			snprintf(b, sizeof b, "r%u", in->src);
		else
			imm_text(b, sizeof b, in->imm, 0);
		if ((op == 0x30 || op == 0x90) && in->off == 1)
			PUT("s%s r%u, %s", name, in->dst, b);
		else if (op == 0xb0 && x && in->off)
			PUT("%s r%u, (s%d)%s", name, in->dst, in->off, b);
		else
			PUT("%s r%u, %s", name, in->dst, b);
		break;
	}
	case ASH_K_NEG32:
	case ASH_K_NEG64:
		PUT("%s r%u", name, in->dst);
		break;
	case ASH_K_END:
		PUT("%s%d r%u", name, in->imm, in->dst);
		break;
	case ASH_K_JMP_K:
	case ASH_K_JMP32_K:
		imm_text(b, sizeof b, in->imm, 0);
		PUT("%s r%u, %s, %+d -> %lld", name, in->dst, b, in->off, to);
		break;
	case ASH_K_JMP_X:
	case ASH_K_JMP32_X:
		PUT("%s r%u, r%u, %+d -> %lld", name, in->dst, in->src, in->off,
		    to);
		break;
	case ASH_K_JA:
		PUT("%s %+d -> %lld", name, in->off, to);
		break;
	case ASH_K_JA32:
		PUT("%s %+d -> %lld", name, in->imm,
		    (long long)i + 1 + in->imm);
		break;
	case ASH_K_CALL:
		if (in->src == ASH_PSEUDO_CALL) {
			PUT("%s %+d -> %lld", name, in->imm,
			    (long long)i + 1 + in->imm);
		} else {
			const struct ash_helper_proto *h =
				ash_helper((uint32_t)in->imm);
			PUT("%s %d (%s)", name, in->imm, h ? h->name : "?");
		}
		break;
	case ASH_K_CALLX:
		PUT("%s r%u", name, in->dst);
		break;
	case ASH_K_EXIT:
		PUT("%s", name);
		break;
	case ASH_K_LDDW: {
		uint32_t hi = i + 1 < img->ninsns ? (uint32_t)img->insns[i + 1].imm
		                                  : 0;
		switch (in->src) {
		case ASH_PSEUDO_MAP_FD:
		case ASH_PSEUDO_MAP_IDX:
			PUT("%s r%u, map %d (%s)", name, in->dst, in->imm,
			    map_name(img, in->imm));
			break;
		case ASH_PSEUDO_MAP_VALUE:
		case ASH_PSEUDO_MAP_IDX_VALUE:
			PUT("%s r%u, map %d (%s) value + %u", name, in->dst,
			    in->imm, map_name(img, in->imm), (unsigned)hi);
			break;
		case ASH_PSEUDO_FUNC:
			PUT("%s r%u, func %+d -> %lld", name, in->dst, in->imm,
			    (long long)i + 1 + in->imm);
			break;
		default:
			imm_text(b, sizeof b,
			         (int64_t)((uint64_t)hi << 32 | (uint32_t)in->imm),
			         1);
			PUT("%s r%u, %s", name, in->dst, b);
			if (in->src)
				PUT(" (src %u)", in->src);
			break;
		}
		break;
	}
	case ASH_K_LDX:
	case ASH_K_LDXSX:
		mem_text(a, sizeof a, in->src, in->off);
		PUT("%s r%u, %s", name, in->dst, a);
		break;
	case ASH_K_ST:
		mem_text(a, sizeof a, in->dst, in->off);
		imm_text(b, sizeof b, in->imm, 0);
		PUT("%s %s, %s", name, a, b);
		break;
	case ASH_K_STX:
		mem_text(a, sizeof a, in->dst, in->off);
		PUT("%s %s, r%u", name, a, in->src);
		break;
	case ASH_K_ATOMIC:
		mem_text(a, sizeof a, in->dst, in->off);
		PUT("%s %s %s, r%u", name, atomic_name(in->imm), a, in->src);
		break;
	default:
		PUT(".insn 0x%02x", in->code);
		break;
	}
	return k;
}
