/*
 * ops.c - lookups generated from the instruction table (ops.def) and the
 * helper table (helpers.def).  Part of the DPF core library (the verifier
 * uses it) and of the kernel.
 */
#include "ash/ash.h"

#include "ash/ops.def"
#include "ash/helpers.def"

struct opinfo {
	uint8_t kind;
	const char *name;
};

#define OP_ENTRY(code, name, kind) [code] = {kind, name},
static const struct opinfo optab[256] = {ASH_OPS(OP_ENTRY)};
#undef OP_ENTRY

enum ash_op_kind ash_op_kind(uint8_t code)
{
	return (enum ash_op_kind)optab[code].kind;
}

const char *ash_op_name(uint8_t code)
{
	return optab[code].name ? optab[code].name : "?";
}

#define HELPER_ENTRY(id, name, ret, a1, a2, a3, a4, a5, flags)              \
	{id, #name, ret, {a1, a2, a3, a4, a5}, flags},
static const struct ash_helper_proto helpers[] = {ASH_HELPERS(HELPER_ENTRY)};
#undef HELPER_ENTRY

const struct ash_helper_proto *ash_helper(uint32_t id)
{
	for (size_t i = 0; i < sizeof helpers / sizeof helpers[0]; i++)
		if (helpers[i].id == id)
			return &helpers[i];
	return NULL;
}
