/*
 * ash_x86_call.c - call slots of the handler JIT (ash_x86_int.h): helper
 * calls, and the helpers compiled inline where the verifier's facts
 * allow it.
 *
 *   helpers          the runtime's native function for the call site
 *                    (env->helper_fn), or the generic trampoline; a call
 *                    that may fault is followed by the fault test
 *   map_lookup_elem  on an array the call site always names (fact map):
 *                    address arithmetic, as Linux inlines it
 *   xdp_load_bytes,  a constant length of 1..16 bytes (fact k[1]): the
 *   xdp_store_bytes  bounds of ash/xdp.c's ash_xdp_pointer against the
 *                    frame pointers in the state, then at most two loads
 *                    and two stores (all loads first: memmove's result
 *                    when the buffer overlaps the frame); a constant
 *                    offset (fact k[0]) folds into the addressing
 *   bpf_loop         a native loop: the count, the index and the context
 *                    in callee-saved registers pushed around it, the
 *                    callback called directly when the verifier proved
 *                    which it is (fact arg), else through r2; constant
 *                    flags and count (facts k[]) leave out their tests
 *   BPF-to-BPF       call rel32 to the subprogram's native function
 *
 * Results are the interpreter's (ash/helpers.c, ash/interp.c), error
 * codes included: -EFAULT for an offset beyond 0xffff, -EINVAL past the
 * frame's end, -EINVAL for bpf_loop flags, -E2BIG beyond 1 << 23
 * iterations.
 */
#include "jit/ash_x86_int.h"

enum { EFAULT_ = 14, EINVAL_ = 22, E2BIG_ = 7 };

/* A helper.  The runtime's native function when it names one: r1-r5
 * are already its arguments, the state goes in r9; before a call that
 * may fault, r0 and the call site are stored (the fault result keeps
 * r0, the message names the site).  Else the trampoline: r0-r5 to
 * s->reg, then rax = s->helper(s, id, pc).  Either way, leave at once
 * when it faulted. */
static void call_helper(struct ashjit *c, uint32_t id)
{
	struct sink *s = &c->s;
	const struct jit_ash_env *e = c->env;
	int faults = 1;
	jit_ash_helper_fn fn =
		e->helper_fn ? e->helper_fn(e->helper_ctx, id, c->pc, &faults)
		             : NULL;
	if (fn) {
		if (faults) {
			op_mem(s, 0, 1, 0, 0x89, -1, RAX, ST, 0); /* mov [r12], rax */
			op_mem(s, 0, 0, 0, 0xc7, -1, 0, ST,
			       offsetof(struct jit_ash_state, pc));
			emit32(s, c->pc);       /* mov dword [r12+pc], pc */
		}
		mov_rr(s, 1, T3, ST);           /* mov r9, r12 */
		mov_imm(s, RAX, (uint64_t)(uintptr_t)fn); /* mov rax, fn */
		emit2(s, 0xff, 0xd0);           /* call rax */
	} else {
		static const uint8_t args[6] = {RAX, RDI, RSI, RDX, RCX, R8};
		for (int i = 0; i < 6; i++)
			op_mem(s, 0, 1, 0, 0x89, -1, args[i], ST, 8 * i); /* mov [r12+8i], ri */
		mov_rr(s, 1, RDI, ST);          /* mov rdi, r12 */
		mov_imm(s, RSI, id);            /* mov esi, id */
		mov_imm(s, RDX, c->pc);         /* mov edx, pc */
		op_mem(s, 0, 0, 0, 0xff, -1, 2, ST,
		       offsetof(struct jit_ash_state, helper)); /* call [r12+helper] */
	}
	if (!faults)
		return;
	op_mem(s, 0, 0, 0, 0x83, -1, 7, ST,
	       offsetof(struct jit_ash_state, fault)); /* cmp dword [r12+fault], 0 */
	emit1(s, 0);
	jcc_any(s, XCC_NE, c->fault_exit);
}

/* map_lookup_elem inline on an array the call site always names, as
 * ash_map_lookup_elem: r0 = value0 + key * stride, NULL when the u32 key
 * at r2 is >= max_entries.  0, or -1 when the map is no such array. */
static int array_lookup(struct ashjit *c)
{
	struct sink *s = &c->s;
	const struct jit_ash_env *e = c->env;
	uint32_t m = c->vres->facts[c->pc].map;
	if (m == 0 || m == VFY_MAP_MIXED || m - 1 >= e->nmaps ||
	    !e->array_max || !e->array_stride || !e->array_max[m - 1] ||
	    !e->value0[m - 1] || e->array_stride[m - 1] > INT32_MAX)
		return -1;
	uint32_t max = e->array_max[m - 1], stride = e->array_stride[m - 1];
	uint32_t null = label_new(s), done = label_new(s);
	op_mem(s, 0, 0, 0, 0x8b, -1, RAX, RSI, 0); /* mov eax, [rsi]: key */
	alu_ri(s, 0, 7, RAX, (int32_t)max);    /* cmp eax, max_entries */
	jcc_any(s, XCC_AE, null);
	if (stride && !(stride & (stride - 1))) {
		unsigned sh = (unsigned)__builtin_ctz(stride);
		if (sh) {
			rex(s, 1, 0, RAX, 0);
			emit2(s, 0xc1, 0xe0);   /* shl rax, log2 stride */
			emit1(s, (uint8_t)sh);
		}
	} else {
		rex(s, 1, RAX, RAX, 0);
		emit1(s, 0x69);                 /* imul rax, rax, stride */
		modrm_rr(s, RAX, RAX);
		emit32(s, stride);
	}
	mov_imm(s, T1, e->value0[m - 1]);      /* mov r11, value0 */
	op_rr(s, 1, 0x01, T1, RAX);            /* add rax, r11 */
	jmp(s, done);
	label_bind(s, null);
	op_rr(s, 0, 0x31, RAX, RAX);           /* xor eax, eax: NULL */
	label_bind(s, done);
	return 0;
}

/* One piece of a small copy: size bytes at offset off. */
struct piece {
	uint8_t size, off;
};

/* A copy of len (1..16) bytes as at most two pieces, overlapping where
 * len is no power of two. */
static unsigned pieces(uint32_t len, struct piece p[2])
{
	static const uint8_t pow[] = {8, 4, 2, 1};
	for (unsigned i = 0; i < 4; i++)
		if (len == pow[i]) {
			p[0] = (struct piece){pow[i], 0};
			return 1;
		}
	if (len == 3) {
		p[0] = (struct piece){2, 0};
		p[1] = (struct piece){1, 2};
	} else {
		uint8_t sz = len < 8 ? 4 : 8;
		p[0] = (struct piece){sz, 0};
		p[1] = (struct piece){sz, (uint8_t)(len - sz)};
	}
	return 2;
}

/* bpf_xdp_load_bytes(ctx, off, buf, len) and bpf_xdp_store_bytes with
 * a constant len of 1..16 inline (ash/xdp.c, ash_xdp_pointer): 0, or
 * -1 when the call site does not qualify.  r1-r5 are dead after a call,
 * so rdi and rcx carry the bytes, r10 the frame address. */
static int xdp_bytes(struct ashjit *c, uint32_t id)
{
	struct sink *s = &c->s;
	const struct vfy_ash_fact *f = &c->vres->facts[c->pc];
	if (!(f->kflags & VFY_AK_1) || f->k[1] == 0 || f->k[1] > 16)
		return -1;
	uint32_t len = (uint32_t)f->k[1];
	int kofs = (f->kflags & VFY_AK_0) != 0;
	uint32_t off = (uint32_t)f->k[0];
	if (kofs && off > 0xffff) {
		mov_imm(s, RAX, (uint64_t)-EFAULT_); /* mov rax, -EFAULT */
		return 0;
	}
	uint32_t einval = label_new(s), efault = label_new(s),
	         out = label_new(s);
	op_mem(s, 0, 1, 0, 0x8b, -1, T1, ST,
	       offsetof(struct jit_ash_state, data_end)); /* mov r11, [r12+data_end] */
	op_mem(s, 0, 1, 0, 0x8b, -1, T2, ST,
	       offsetof(struct jit_ash_state, data)); /* mov r10, [r12+data] */
	op_rr(s, 1, 0x29, T2, T1);              /* sub r11, r10: frame length */
	int32_t base = 0;
	if (kofs) {
		alu_ri(s, 1, 7, T1, (int32_t)(off + len)); /* cmp r11, off + len */
		jcc_any(s, XCC_B, einval);
		base = (int32_t)off;
	} else {
		mov_rr(s, 0, RSI, RSI);             /* mov esi, esi: u32 off */
		alu_ri(s, 0, 7, RSI, 0xffff);       /* cmp esi, 0xffff */
		jcc_any(s, XCC_A, efault);
		op_mem(s, 0, 1, 0, 0x8d, -1, RAX, RSI,
		       (int32_t)len);               /* lea rax, [rsi + len] */
		op_rr(s, 1, 0x39, T1, RAX);         /* cmp rax, r11 */
		jcc_any(s, XCC_A, einval);
		op_rr(s, 1, 0x01, RSI, T2);         /* add r10, rsi */
	}
	struct piece p[2];
	unsigned np = pieces(len, p);
	static const uint8_t tmp[2] = {RDI, RCX};
	int load = id == ASH_H_LOAD_BYTES;
	unsigned from = load ? T2 : RDX, to = load ? RDX : T2;
	int32_t from_off = load ? base : 0, to_off = load ? 0 : base;
	for (unsigned i = 0; i < np; i++)           /* mov tmp, [from+off] */
		ldx(s, p[i].size, 0, tmp[i], from, from_off + p[i].off);
	for (unsigned i = 0; i < np; i++)           /* mov [to+off], tmp */
		stx(s, p[i].size, to, to_off + p[i].off, tmp[i]);
	op_rr(s, 0, 0x31, RAX, RAX);            /* xor eax, eax: 0 */
	jmp(s, out);
	label_bind(s, efault);
	if (!kofs) {
		mov_imm(s, RAX, (uint64_t)-EFAULT_); /* mov rax, -EFAULT */
		jmp(s, out);
	}
	label_bind(s, einval);
	mov_imm(s, RAX, (uint64_t)-EINVAL_);    /* mov rax, -EINVAL */
	label_bind(s, out);
	return 0;
}

/* bpf_loop(r1 nr, r2 fn, r3 ctx, r4 flags) as a native loop: rbx the
 * index, r13 the count, r14 the context, r15 the callback when it is
 * called through a register (pushed and popped around the loop, four
 * pushes keeping rsp's alignment; the callback saves what it uses of
 * them, so they survive its calls).  r3-r5 are not set for the
 * callback: the verifier has them uninitialised there. */
static void call_loop(struct ashjit *c)
{
	struct sink *s = &c->s;
	const struct vfy_ash_fact *f = &c->vres->facts[c->pc];
	int direct = (f->flags & (VFY_AF_ARG | VFY_AF_ARG_MIXED)) == VFY_AF_ARG;
	int knr = (f->kflags & VFY_AK_0) != 0;
	uint32_t nr = (uint32_t)f->k[0];
	uint32_t out = label_new(s);
	if (f->kflags & VFY_AK_1) {
		if (f->k[1]) {
			mov_imm(s, RAX, (uint64_t)-EINVAL_); /* mov rax, -EINVAL */
			return;
		}
	} else {
		uint32_t ok = label_new(s);
		op_rr(s, 1, 0x85, RCX, RCX);    /* test rcx, rcx: flags */
		jcc_any(s, XCC_E, ok);
		mov_imm(s, RAX, (uint64_t)-EINVAL_); /* mov rax, -EINVAL */
		jmp(s, out);
		label_bind(s, ok);
	}
	if (knr && nr > (1u << 23)) {
		mov_imm(s, RAX, (uint64_t)-E2BIG_); /* mov rax, -E2BIG */
		label_bind(s, out);
		return;
	}
	if (knr && nr == 0) {
		op_rr(s, 0, 0x31, RAX, RAX);    /* xor eax, eax: no iteration */
		label_bind(s, out);
		return;
	}
	if (!knr) {
		uint32_t small = label_new(s);
		mov_rr(s, 0, RAX, RDI);         /* mov eax, edi: nr (u32) */
		alu_ri(s, 0, 7, RAX, 1 << 23);  /* cmp eax, 1 << 23 */
		jcc_any(s, XCC_BE, small);
		mov_imm(s, RAX, (uint64_t)-E2BIG_); /* mov rax, -E2BIG */
		jmp(s, out);
		label_bind(s, small);
		op_rr(s, 0, 0x85, RAX, RAX);    /* test eax, eax */
		jcc_any(s, XCC_E, out);         /* nr 0: r0 = 0 */
	}
	static const uint8_t saved[4] = {RBX, R13, R14, R15};
	for (unsigned i = 0; i < 4; i++)
		push_reg(s, saved[i]);
	if (knr)
		mov_imm(s, R13, nr);            /* mov r13d, nr */
	else
		mov_rr(s, 0, R13, RAX);         /* mov r13d, eax */
	op_rr(s, 0, 0x31, RBX, RBX);            /* xor ebx, ebx: i */
	mov_rr(s, 1, R14, RDX);                 /* mov r14, rdx: ctx */
	if (!direct)
		mov_rr(s, 1, R15, RSI);         /* mov r15, rsi: callback */
	uint32_t body = label_new(s), done = label_new(s);
	label_bind(s, body);
	mov_rr(s, 0, RDI, RBX);                 /* mov edi, ebx: r1 = i */
	mov_rr(s, 1, RSI, R14);                 /* mov rsi, r14: r2 = ctx */
	if (direct) {
		emit1(s, 0xe8);                 /* call rel32: the callback */
		emit_rel32(s, c->func0 + f->arg);
	} else {
		rex(s, 0, 0, R15, 0);
		emit2(s, 0xff, 0xd0 | (R15 & 7)); /* call r15 */
	}
	alu_ri(s, 0, 0, RBX, 1);                /* add ebx, 1 */
	op_rr(s, 1, 0x85, RAX, RAX);            /* test rax, rax: 1 stops */
	jcc_any(s, XCC_NE, done);
	op_rr(s, 0, 0x39, R13, RBX);            /* cmp ebx, r13d */
	jcc_any(s, XCC_B, body);
	label_bind(s, done);
	mov_rr(s, 0, RAX, RBX);                 /* mov eax, ebx: iterations */
	for (unsigned i = 4; i-- > 0;)
		pop_reg(s, saved[i]);
	label_bind(s, out);
}

int jit_ash_call_slot(struct ashjit *c, const struct ash_insn *in)
{
	struct sink *s = &c->s;
	uint32_t pc = c->pc, n = c->img->ninsns;
	if (in->code == 0x85 && in->src == ASH_PSEUDO_CALL) {
		int64_t to = (int64_t)pc + 1 + in->imm;
		if (to <= 0 || to >= n)
			return refuse(c, "call out of the program to",
			              (unsigned)(uint32_t)to);
		emit1(s, 0xe8);                 /* call rel32 */
		emit_rel32(s, c->func0 + (uint32_t)to);
		return 0;
	}
	if (in->code == 0x85 && in->src != 0)
		return refuse(c, "call with src", in->src);
	uint32_t id = in->code == 0x85 ? (uint32_t)in->imm
	                               : c->vres->facts[pc].helper;
	if (id == ASH_H_LOOP)
		call_loop(c);
	else if (id == ASH_H_MAP_LOOKUP && array_lookup(c) == 0)
		;
	else if ((id == ASH_H_LOAD_BYTES || id == ASH_H_STORE_BYTES) &&
	         xdp_bytes(c, id) == 0)
		;
	else if (ash_helper(id))
		call_helper(c, id);
	else
		return refuse(c, "unknown helper", id);
	return 0;
}
