/*
 * ash_x86.c - the x86-64 JIT for verified handler images (ASHs).
 *
 * Interface (jit.h): jit_ash_compile() translates a program image that
 * vfy_ash() accepted, using its per-instruction facts, into one native
 * function
 *     uint64_t fn(struct jit_ash_state *s, uint64_t r1, uint64_t r2)
 * returning r0; jit_ash_free() releases it.  jit_ash_offsets() says where
 * each instruction slot's code starts (the labels, kept for listings).
 * The runtime (ash/) owns the state and the helpers: a helper is the
 * native function env->helper_fn names for the call site, called with
 * r1-r5 where they are and the state in r9 (the SysV ABI), or else the
 * generic s->helper trampoline; a fault sets s->fault and the code leaves
 * at once through the fault exit.  A refusal is never fatal: the caller
 * runs the interpreter and reports the reason.
 *
 * Semantics are the interpreter's (ash/interp.c, plain mode): the
 * verifier is trusted, so accesses carry no run-time checks; x/0 = 0,
 * x%0 = x, INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0, never a trap; shift
 * counts are masked by the hardware exactly as the ISA masks them.
 *
 * Register mapping (Linux's x86 JIT):
 *   r0 rax   r1 rdi   r2 rsi   r3 rdx   r4 rcx   r5 r8
 *   r6 rbx   r7 r13   r8 r14   r9 r15   r10 rbp (frame pointer)
 *   r12 the struct jit_ash_state pointer, all the run long
 *   r9, r10, r11 scratch (never live across instructions)
 * r1-r5 are caller-saved both in eBPF and in the SysV ABI, r6-r10 and
 * r12 callee-saved in both, so helper calls need no register shuffling:
 * r1-r5 are the first five arguments, r9 = r12 the sixth.
 *
 * Frames: every eBPF function (the program, each subprogram, bpf_loop
 * callbacks) is a native function; it pushes only the callee-saved
 * registers its slots name (rbp when it names r10, rbx/r13/r14/r15 for
 * r6-r9; jumps stay inside a function, so its slots are those up to
 * the next function entry) and, when it names r10, puts its 512-byte
 * eBPF stack on the native stack:
 *     push rbp; push rbx ...; sub rsp, 512 [+ 8]; lea rbp, [rsp + 512]
 * with 8 more bytes when needed to keep rsp 16-byte aligned in the
 * body of a function that calls (so calls follow the ABI); exit undoes
 * it, so r6-r9 survive calls as the ISA requires.  The program's function is also the entry: it
 * saves r12 too, takes s into r12, remembers its rsp after the pushes in
 * s->sp and moves r1, r2 into place.  The fault exit, the code's first
 * bytes, reloads s->sp and pops the program's registers: a return from
 * any depth.  No call may target slot 0 (refused).
 *
 * Calls are ash_x86_call.c's: a helper call that may fault first stores
 * r0 in s->reg[0] and the slot in s->pc, and after it leaves through the
 * fault exit when s->fault is set (the runtime says which calls may
 * fault); array lookups, xdp_load_bytes and xdp_store_bytes of a small
 * constant length, and bpf_loop are compiled inline.
 *
 * Peephole: lsh dst, 32 followed by rsh (arsh) dst, 32, when no jump
 * names the second slot, becomes one mov dst32, dst32 (movsxd) in the
 * first slot; the second slot is empty.
 *
 * Facts used: VFY_AF_CTX_LOAD (the field at ctx_off: data, data_end and
 * data_meta one load of the absolute pointer in s, which the runtime
 * keeps current; ifindex and rxq from s), VFY_AF_FUNC (function entries),
 * VFY_AF_REACHED (unreached slots become ud2), the helper number of
 * callx, the map of a helper call, and the constants (k[], VFY_AK_*):
 *   - a result proven constant (ALU, NEG, END, loads not of the
 *     context) is one mov dst, k (xor for 0), whatever the operation;
 *   - an X-form source proven constant is the K form's immediate when
 *     it fits (any value for 32 bits, a sign-extended 32-bit one for
 *     64): add dst, imm; cmp dst, imm; a division by a constant tests
 *     neither 0 nor -1 unless it is one; a store of a constant is
 *     mov [dst+off], imm;
 *   - a jump's destination proven constant (the source not) is cmp
 *     src, imm with the mirrored condition;
 *   - a conditional jump with one proven side (VFY_AF_TAKEN or
 *     VFY_AF_FALLS alone) is a jmp, or nothing; the other side's slots
 *     are then unreached, ud2, unless another path reaches them.
 * Facts without those flags (hand-made ones) give the general code.
 */
#include "jit/ash_x86_int.h"

struct jit_ash {
	const struct dpf_host *host;
	struct jit_mem mem;
	void *rw, *rx; /* the code, seen writable and executable */
	size_t size;   /* mapped */
	uint32_t len;  /* code bytes */
	uint32_t n;    /* instruction slots */
	uint32_t *at;  /* 2n: where each slot's code and prologue start
	                  (jit_ash_offsets), from host */
	void *entry;   /* rx + at[n]: the program's function */
};

static void rsp_adjust(struct sink *s, unsigned ext, uint32_t bytes)
{
	if (bytes)
		alu_ri(s, 1, ext, RSP, (int32_t)bytes); /* add/sub rsp, bytes */
}

/* The frame of the function starting at slot f: the registers its slots
 * name (up to the next function entry: jumps stay inside a function).
 * The program's function also saves r12 (the state pointer). */
static void frame_of(struct ashjit *c, uint32_t f, int main, struct frame *fr)
{
	uint32_t n = c->img->ninsns;
	unsigned used = 0;
	int calls = 0;
	for (uint32_t i = f; i < n; i++) {
		if (i > f && (c->vres->facts[i].flags & VFY_AF_FUNC))
			break;
		const struct ash_insn *in = &c->img->insns[i];
		used |= 1u << (in->dst & 15);
		if (in->code != 0x18 && in->code != 0x85)
			used |= 1u << (in->src & 15); /* not a pseudo src */
		if (in->code == 0x18)
			i++;
		if (in->code == 0x85 || in->code == 0x8d)
			calls = 1;
	}
	fr->nsave = 0;
	fr->stack = (used >> 10) & 1;
	if (fr->stack)
		fr->save[fr->nsave++] = RBP;
	for (unsigned r = 6; r <= 9; r++)
		if (used & (1u << r))
			fr->save[fr->nsave++] = xreg[r];
	if (main)
		fr->save[fr->nsave++] = ST;
	/* rsp is 8 mod 16 after the call; each push adds 8; only a
	 * function that calls needs it 16-byte aligned */
	fr->bytes = (fr->stack ? FRAME_STACK : 0) +
	            (calls && fr->nsave % 2 == 0 ? 8 : 0);
}

/* A function's prologue; the program's also takes the state and its
 * arguments (fn(s, r1, r2)) and remembers rsp for the fault exit. */
static void prologue(struct ashjit *c, const struct frame *fr, int main)
{
	struct sink *s = &c->s;
	for (unsigned i = 0; i < fr->nsave; i++)
		push_reg(s, fr->save[i]);
	if (main) {
		mov_rr(s, 1, ST, RDI);          /* mov r12, rdi */
		op_mem(s, 0, 1, 0, 0x89, -1, RSP, ST,
		       offsetof(struct jit_ash_state, sp)); /* mov [r12+sp], rsp */
		mov_rr(s, 1, RDI, RSI);         /* mov rdi, rsi: r1 */
		mov_rr(s, 1, RSI, RDX);         /* mov rsi, rdx: r2 */
	}
	rsp_adjust(s, 5, fr->bytes);            /* sub rsp, bytes */
	if (fr->stack)
		op_mem(s, 0, 1, 0, 0x8d, -1, RBP, RSP,
		       FRAME_STACK);            /* lea rbp, [rsp + 512] */
}

static void pops(struct sink *s, const struct frame *fr)
{
	for (unsigned i = fr->nsave; i-- > 0;)
		pop_reg(s, fr->save[i]);
	emit1(s, 0xc3);                         /* ret */
}

static void epilogue(struct ashjit *c)
{
	rsp_adjust(&c->s, 0, c->cur.bytes);     /* add rsp, bytes */
	pops(&c->s, &c->cur);
}

/* The fault exit: back to the program's frame from any depth, restore
 * the host's registers and return (r0 is irrelevant). */
static void fault_exit(struct ashjit *c)
{
	struct sink *s = &c->s;
	label_bind(s, c->fault_exit);
	op_mem(s, 0, 1, 0, 0x8b, -1, RSP, ST,
	       offsetof(struct jit_ash_state, sp)); /* mov rsp, [r12+sp] */
	pops(s, &c->main);
}

/* div/mod (op 0x30/0x90), signed when sdiv.  Operands: dst, and src
 * either a register or the immediate. */
static void divmod(struct sink *s, int w, int mod, int sdiv, unsigned dst,
                   int have_src, unsigned src, int32_t imm)
{
	if (have_src)
		mov_rr(s, 1, T1, src);          /* mov r11, src */
	else if (w)
		mov_imm(s, T1, (uint64_t)(int64_t)imm); /* mov r11, simm */
	else
		mov_imm(s, T1, (uint32_t)imm);  /* mov r11d, imm */
	mov_rr(s, 1, T2, RAX);              /* mov r10, rax: save r0 */
	mov_rr(s, 1, T3, RDX);              /* mov r9, rdx: save r3 */
	mov_rr(s, 1, RAX, dst);             /* mov rax, dst */
	uint32_t zero = label_new(s), done = label_new(s);
	/* an immediate divisor needs no test that cannot hold */
	int kzero = !have_src && imm == 0, kneg1 = !have_src && imm == -1;
	if (have_src || kzero) {
		op_rr(s, w, 0x85, T1, T1);      /* test r11, r11 */
		jcc_any(s, XCC_E, zero);
	}
	if (sdiv && (have_src || kneg1)) {
		uint32_t go = label_new(s);
		alu_ri(s, w, 7, T1, -1);        /* cmp r11, -1 */
		jcc_any(s, XCC_NE, go);
		if (mod)
			op_rr(s, 0, 0x31, RAX, RAX); /* xor eax, eax: x % -1 = 0 */
		else {
			rex(s, w, 0, RAX, 0);
			emit2(s, 0xf7, 0xd8);   /* neg rax: x / -1 = -x */
		}
		jmp(s, done);
		label_bind(s, go);
	}
	if (sdiv) {
		if (w)
			emit2(s, 0x48, 0x99);   /* cqo */
		else
			emit1(s, 0x99);         /* cdq */
		rex(s, w, 0, T1, 0);
		emit2(s, 0xf7, 0xf8 | (T1 & 7)); /* idiv r11 */
	} else {
		op_rr(s, 0, 0x31, RDX, RDX);    /* xor edx, edx */
		rex(s, w, 0, T1, 0);
		emit2(s, 0xf7, 0xf0 | (T1 & 7)); /* div r11 */
	}
	if (mod)
		mov_rr(s, 1, RAX, RDX);         /* mov rax, rdx: remainder */
	jmp(s, done);
	label_bind(s, zero);
	if (!mod)
		op_rr(s, 0, 0x31, RAX, RAX);    /* xor eax, eax: x / 0 = 0 */
	/* x % 0 = x: rax still holds dst */
	label_bind(s, done);
	if (dst == RAX) {
		mov_rr(s, w, RAX, RAX);         /* mov eax, eax (32: truncate) */
		mov_rr(s, 1, RDX, T3);          /* mov rdx, r9 */
	} else if (dst == RDX) {
		mov_rr(s, w, RDX, RAX);         /* mov rdx, rax */
		mov_rr(s, 1, RAX, T2);          /* mov rax, r10 */
	} else {
		mov_rr(s, w, dst, RAX);         /* mov dst, rax */
		mov_rr(s, 1, RAX, T2);          /* mov rax, r10 */
		mov_rr(s, 1, RDX, T3);          /* mov rdx, r9 */
	}
}

/* Shift by a register: the count must be in cl, and rcx is r4. */
static void shift_x(struct sink *s, int w, unsigned ext, unsigned dst,
                    unsigned src)
{
	if (src == RCX && dst != RCX) {
		rex(s, w, 0, dst, 0);
		emit1(s, 0xd3);                 /* shl/shr/sar dst, cl */
		modrm_rr(s, ext, dst);
		return;
	}
	mov_rr(s, 1, T1, RCX);                  /* mov r11, rcx */
	if (src != RCX)
		mov_rr(s, 1, RCX, src);         /* mov rcx, src */
	unsigned d = dst == RCX ? T1 : dst;
	rex(s, w, 0, d, 0);
	emit1(s, 0xd3);                         /* shl/shr/sar d, cl */
	modrm_rr(s, ext, d);
	mov_rr(s, 1, RCX, T1);                  /* mov rcx, r11 */
}

/* The interpreter's value of a constant mov with off (movsx of imm). */
static uint64_t mov_k(int w, int32_t imm, int16_t off)
{
	uint64_t b = (uint64_t)(int64_t)imm;
	if (w) {
		switch (off) {
		case 8: return (uint64_t)(int64_t)(int8_t)b;
		case 16: return (uint64_t)(int64_t)(int16_t)b;
		case 32: return (uint64_t)(int64_t)(int32_t)b;
		default: return b;
		}
	}
	switch (off) {
	case 8: return (uint32_t)(int32_t)(int8_t)b;
	case 16: return (uint32_t)(int32_t)(int16_t)b;
	default: return (uint32_t)b;
	}
}

/* An ALU slot; k: the operand is imm (the K form, or an X form whose
 * source the verifier proved constant). */
static int alu(struct ashjit *c, const struct ash_insn *in, int w, int k,
               int32_t imm)
{
	struct sink *s = &c->s;
	unsigned dst = xreg[in->dst], src = xreg[in->src];
	uint8_t op = ASH_OP(in->code);
	static const uint8_t rr[16] = {
		[0x0] = 0x01, /* add */ [0x1] = 0x29, /* sub */
		[0x4] = 0x09, /* or */  [0x5] = 0x21, /* and */
		[0xa] = 0x31, /* xor */
	};
	static const uint8_t ri[16] = {
		[0x0] = 0, [0x1] = 5, [0x4] = 1, [0x5] = 4, [0xa] = 6,
	};
	static const uint8_t sh[16] = {[0x6] = 4, [0x7] = 5, [0xc] = 7};
	switch (op) {
	case 0x00: case 0x10: case 0x40: case 0x50: case 0xa0:
		if (k)
			alu_ri(s, w, ri[op >> 4], dst, imm); /* op dst, imm */
		else
			op_rr(s, w, rr[op >> 4], src, dst);  /* op dst, src */
		return 0;
	case 0x20:
		if (k) {
			rex(s, w, dst, dst, 0);
			emit1(s, 0x69);                      /* imul dst, dst, imm32 */
			modrm_rr(s, dst, dst);
			emit32(s, (uint32_t)imm);
		} else {
			op0f_rr(s, w, 0xaf, dst, src, 0);    /* imul dst, src */
		}
		return 0;
	case 0x30:
	case 0x90:
		if (in->off != 0 && in->off != 1)
			return refuse(c, "div/mod with off", (uint16_t)in->off);
		divmod(s, w, op == 0x90, in->off == 1, dst, !k, src, imm);
		return 0;
	case 0x60: case 0x70: case 0xc0:
		if (k) {
			rex(s, w, 0, dst, 0);
			emit1(s, 0xc1);                      /* shl/shr/sar dst, imm8 */
			modrm_rr(s, sh[op >> 4], dst);
			emit1(s, (uint8_t)(imm & (w ? 63 : 31)));
		} else {
			shift_x(s, w, sh[op >> 4], dst, src);
		}
		return 0;
	case 0xb0:
		if (k) {
			mov_imm(s, dst, mov_k(w, imm, in->off)); /* mov dst, imm */
			return 0;
		}
		switch (in->off) {
		case 0:
			mov_rr(s, w, dst, src);              /* mov dst, src */
			return 0;
		case 8:
			op0f_rr(s, w, 0xbe, dst, src, 1);    /* movsx dst, src8 */
			return 0;
		case 16:
			op0f_rr(s, w, 0xbf, dst, src, 0);    /* movsx dst, src16 */
			return 0;
		case 32:
			if (!w)
				break;
			op_rr(s, 1, 0x63, dst, src);         /* movsxd dst, src32 */
			return 0;
		}
		return refuse(c, "mov with off", (uint16_t)in->off);
	default:
		return refuse(c, "unknown ALU operation", op);
	}
}

static int endian(struct ashjit *c, const struct ash_insn *in)
{
	struct sink *s = &c->s;
	unsigned dst = xreg[in->dst];
	if (in->code == 0xd4) { /* to little endian: truncate only */
		if (in->imm == 16)
			op0f_rr(s, 0, 0xb7, dst, dst, 0); /* movzx dst32, dst16 */
		else if (in->imm == 32)
			mov_rr(s, 0, dst, dst);           /* mov dst32, dst32 */
		return 0;
	}
	if (in->imm == 16) {
		emit1(s, 0x66);
		rex(s, 0, 0, dst, 0);
		emit2(s, 0xc1, (uint8_t)(0xc8 | (dst & 7))); /* ror dst16, 8 */
		emit1(s, 8);
		op0f_rr(s, 0, 0xb7, dst, dst, 0);         /* movzx dst32, dst16 */
	} else {
		rex(s, in->imm != 32, 0, dst, 0);
		emit2(s, 0x0f, (uint8_t)(0xc8 | (dst & 7))); /* bswap dst */
	}
	return 0;
}

static unsigned size_bytes(uint8_t code)
{
	switch (ASH_SIZE(code)) {
	case ASH_SZ_B: return 1;
	case ASH_SZ_H: return 2;
	case ASH_SZ_W: return 4;
	default: return 8;
	}
}

static void st_imm(struct sink *s, unsigned size, unsigned base, int32_t off,
                   int32_t imm)
{
	switch (size) {
	case 1:
		op_mem(s, 0, 0, 0, 0xc6, -1, 0, base, off); /* mov byte [..], imm8 */
		emit1(s, (uint8_t)imm);
		break;
	case 2:
		op_mem(s, 1, 0, 0, 0xc7, -1, 0, base, off); /* mov word [..], imm16 */
		emit2(s, (uint8_t)imm, (uint8_t)(imm >> 8));
		break;
	default: /* mov dword/qword [..], imm32 (qword: sign-extended) */
		op_mem(s, 0, size == 8, 0, 0xc7, -1, 0, base, off);
		emit32(s, (uint32_t)imm);
		break;
	}
}

static int atomic(struct ashjit *c, const struct ash_insn *in)
{
	struct sink *s = &c->s;
	int w = in->code == 0xdb;
	unsigned dst = xreg[in->dst], src = xreg[in->src];
	int32_t off = in->off;
	uint8_t rmw;
	switch (in->imm) {
	case ASH_ATOMIC_ADD: rmw = 0x01; break;
	case ASH_ATOMIC_OR: rmw = 0x09; break;
	case ASH_ATOMIC_AND: rmw = 0x21; break;
	case ASH_ATOMIC_XOR: rmw = 0x31; break;
	case ASH_ATOMIC_ADD | ASH_ATOMIC_FETCH:
		emit1(s, 0xf0);
		op_mem(s, 0, w, 0, 0x0f, 0xc1, src, dst, off); /* lock xadd [dst+off], src */
		return 0;
	case ASH_ATOMIC_XCHG:
		op_mem(s, 0, w, 0, 0x87, -1, src, dst, off); /* xchg [dst+off], src */
		return 0;
	case ASH_ATOMIC_CMPXCHG:
		emit1(s, 0xf0);
		/* lock cmpxchg [dst+off], src */
		op_mem(s, 0, w, 0, 0x0f, 0xb1, src, dst, off);
		if (!w)
			mov_rr(s, 0, RAX, RAX); /* mov eax, eax: r0 = old, zero-extended */
		return 0;
	case ASH_ATOMIC_OR | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_AND | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_XOR | ASH_ATOMIC_FETCH: {
		uint8_t opc = in->imm == (ASH_ATOMIC_OR | ASH_ATOMIC_FETCH) ? 0x09
		            : in->imm == (ASH_ATOMIC_AND | ASH_ATOMIC_FETCH) ? 0x21
		                                                             : 0x31;
		op_mem(s, 0, 1, 0, 0x89, -1, RAX, ST, 0); /* mov [r12], rax: save r0 */
		mov_rr(s, 1, T1, src);                    /* mov r11, src */
		op_mem(s, 0, 1, 0, 0x8d, -1, T3, dst, off); /* lea r9, [dst+off] */
		op_mem(s, 0, w, 0, 0x8b, -1, RAX, T3, 0); /* mov rax, [r9] */
		uint32_t again = label_new(s);
		label_bind(s, again);
		mov_rr(s, 1, T2, RAX);                    /* mov r10, rax */
		op_rr(s, w, opc, T1, T2);                 /* op r10, r11 */
		emit1(s, 0xf0);
		op_mem(s, 0, w, 0, 0x0f, 0xb1, T2, T3, 0); /* lock cmpxchg [r9], r10 */
		jcc_any(s, XCC_NE, again);
		mov_rr(s, w, src, RAX);                   /* mov src, rax: old */
		if (src != RAX)
			op_mem(s, 0, 1, 0, 0x8b, -1, RAX, ST, 0); /* mov rax, [r12] */
		return 0;
	}
	default:
		return refuse(c, "unknown atomic operation", (unsigned)in->imm);
	}
	emit1(s, 0xf0);
	op_mem(s, 0, w, 0, rmw, -1, src, dst, off); /* lock op [dst+off], src */
	return 0;
}

static int ctx_load(struct ashjit *c, unsigned dst, unsigned field)
{
	struct sink *s = &c->s;
	switch (field) {
	case ASH_CTX_DATA:
	case ASH_CTX_DATA_END:
	case ASH_CTX_DATA_META: {
		int32_t o = field == ASH_CTX_DATA
		                    ? offsetof(struct jit_ash_state, data)
		          : field == ASH_CTX_DATA_END
		                ? offsetof(struct jit_ash_state, data_end)
		                : offsetof(struct jit_ash_state, data_meta);
		op_mem(s, 0, 1, 0, 0x8b, -1, dst, ST, o); /* mov dst, [r12+field] */
		return 0;
	}
	case ASH_CTX_IFINDEX:
		/* mov dst32, [r12+ifindex] */
		op_mem(s, 0, 0, 0, 0x8b, -1, dst, ST,
		       offsetof(struct jit_ash_state, ifindex));
		return 0;
	case ASH_CTX_RXQ:
		op_mem(s, 0, 0, 0, 0x8b, -1, dst, ST,
		       offsetof(struct jit_ash_state, rxq)); /* mov dst32, [r12+rxq] */
		return 0;
	default:
		op_rr(s, 0, 0x31, dst, dst); /* xor dst32, dst32 */
		return 0;
	}
}

/* A conditional jump.  A direction the verifier proved is a jmp or
 * nothing; a source it proved constant is an immediate; so is a
 * destination it proved constant, the operands swapped (cmp src, imm
 * with the mirrored condition). */
static int jump(struct ashjit *c, const struct ash_insn *in, int w, int k)
{
	static const struct { uint8_t op, cc, mirror; } conds[] = {
		{0x10, XCC_E, XCC_E},   {0x20, XCC_A, XCC_B},
		{0x30, XCC_AE, XCC_BE}, {0x40, XCC_NE, XCC_NE},
		{0x50, XCC_NE, XCC_NE}, {0x60, XCC_G, XCC_L},
		{0x70, XCC_GE, XCC_LE}, {0xa0, XCC_B, XCC_A},
		{0xb0, XCC_BE, XCC_AE}, {0xc0, XCC_L, XCC_G},
		{0xd0, XCC_LE, XCC_GE},
	};
	struct sink *s = &c->s;
	const struct vfy_ash_fact *f = &c->vres->facts[c->pc];
	unsigned a = xreg[in->dst], b = xreg[in->src];
	unsigned op = ASH_OP(in->code), cc = 0, mirror = 0;
	size_t i;
	for (i = 0; i < sizeof conds / sizeof conds[0]; i++)
		if (conds[i].op == op) {
			cc = conds[i].cc;
			mirror = conds[i].mirror;
			break;
		}
	if (i == sizeof conds / sizeof conds[0])
		return refuse(c, "unknown jump operation", op);
	int64_t to = (int64_t)c->pc + 1 + in->off;
	if (to < 0 || to >= c->img->ninsns)
		return refuse(c, "jump out of the program to",
		              (unsigned)(uint32_t)to);
	switch (f->flags & (VFY_AF_TAKEN | VFY_AF_FALLS)) {
	case VFY_AF_TAKEN:
		jmp(s, c->insn0 + (uint32_t)to); /* jmp: always taken */
		return 0;
	case VFY_AF_FALLS:
		return 0;                        /* never taken */
	}
	int32_t imm = in->imm;
	if (!k && kimm(f, 0, w, &imm)) {
		k = 1;
	} else if (!k && kimm(f, 1, w, &imm)) {
		k = 1;
		a = b;
		cc = mirror;
	}
	if (op == 0x40) {
		if (k) {
			rex(s, w, 0, a, 0);
			emit1(s, 0xf7);          /* test a, imm32 */
			modrm_rr(s, 0, a);
			emit32(s, (uint32_t)imm);
		} else {
			op_rr(s, w, 0x85, b, a); /* test a, b */
		}
	} else if (k) {
		alu_ri(s, w, 7, a, imm);         /* cmp a, imm */
	} else {
		op_rr(s, w, 0x39, b, a);         /* cmp a, b */
	}
	jcc_any(s, cc, c->insn0 + (uint32_t)to);
	return 0;
}

/* Slots whose result the verifier proved one constant: ALU and loads
 * (not of the context, whose fields become pointers). */
static int result_known(const struct ash_insn *in,
                        const struct vfy_ash_fact *f)
{
	if (!(f->kflags & VFY_AK_1) || (f->flags & VFY_AF_CTX_LOAD) ||
	    in->dst > 9)
		return 0;
	switch (ash_op_kind(in->code)) {
	case ASH_K_ALU64_K: case ASH_K_ALU64_X: case ASH_K_ALU32_K:
	case ASH_K_ALU32_X: case ASH_K_NEG64: case ASH_K_NEG32:
	case ASH_K_END: case ASH_K_LDX: case ASH_K_LDXSX:
		return 1;
	default:
		return 0;
	}
}

static int insn(struct ashjit *c, const struct ash_insn *in, uint32_t *skip)
{
	struct sink *s = &c->s;
	uint32_t pc = c->pc, n = c->img->ninsns;
	unsigned dst = xreg[in->dst], src = xreg[in->src];
	const struct vfy_ash_fact *f = &c->vres->facts[pc];
	if (in->dst > 10 || in->src > 10)
		return refuse(c, "register number", in->dst > 10 ? in->dst : in->src);
	if (result_known(in, f)) {
		mov_const(s, dst, f->k[1]);     /* mov dst, proven value */
		return 0;
	}
	switch (ash_op_kind(in->code)) {
	case ASH_K_ALU64_K: return alu(c, in, 1, 1, in->imm);
	case ASH_K_ALU64_X:
	case ASH_K_ALU32_X: {
		int w = ash_op_kind(in->code) == ASH_K_ALU64_X;
		int32_t imm = 0;
		int k = ASH_OP(in->code) != 0xb0 && kimm(f, 0, w, &imm);
		return alu(c, in, w, k, imm);
	}
	case ASH_K_ALU32_K: return alu(c, in, 0, 1, in->imm);
	case ASH_K_NEG64:
	case ASH_K_NEG32:
		rex(s, ash_op_kind(in->code) == ASH_K_NEG64, 0, dst, 0);
		emit1(s, 0xf7);                  /* neg dst */
		modrm_rr(s, 3, dst);
		return 0;
	case ASH_K_END: return endian(c, in);
	case ASH_K_JMP_K: return jump(c, in, 1, 1);
	case ASH_K_JMP_X: return jump(c, in, 1, 0);
	case ASH_K_JMP32_K: return jump(c, in, 0, 1);
	case ASH_K_JMP32_X: return jump(c, in, 0, 0);
	case ASH_K_JA:
	case ASH_K_JA32: {
		int64_t to = (int64_t)pc + 1 +
		             (in->code == 0x05 ? in->off : in->imm);
		if (to < 0 || to >= n)
			return refuse(c, "jump out of the program to",
			              (unsigned)(uint32_t)to);
		jmp(s, c->insn0 + (uint32_t)to);   /* jmp rel32 */
		return 0;
	}
	case ASH_K_CALL:
	case ASH_K_CALLX:
		return jit_ash_call_slot(c, in);
	case ASH_K_EXIT:
		epilogue(c);
		return 0;
	case ASH_K_LDDW: {
		if (pc + 1 >= n)
			return refuse(c, "lddw without its second slot at", pc);
		uint32_t hi = (uint32_t)c->img->insns[pc + 1].imm;
		const struct jit_ash_env *e = c->env;
		*skip = 1;
		switch (in->src) {
		case 0:
			mov_imm(s, dst, (uint32_t)in->imm | (uint64_t)hi << 32);
			return 0;
		case ASH_PSEUDO_MAP_FD:
		case ASH_PSEUDO_MAP_IDX:
		case ASH_PSEUDO_MAP_VALUE:
		case ASH_PSEUDO_MAP_IDX_VALUE:
			if ((uint32_t)in->imm >= e->nmaps)
				return refuse(c, "lddw of map", (uint32_t)in->imm);
			if (in->src == ASH_PSEUDO_MAP_FD ||
			    in->src == ASH_PSEUDO_MAP_IDX) {
				mov_imm(s, dst, e->map[in->imm]);
				return 0;
			}
			if (!e->value0[in->imm])
				return refuse(c, "lddw of the value of map",
				              (uint32_t)in->imm);
			mov_imm(s, dst, e->value0[in->imm] + hi);
			return 0;
		case ASH_PSEUDO_FUNC: {
			int64_t to = (int64_t)pc + 1 + in->imm;
			if (to <= 0 || to >= n)
				return refuse(c, "function address out of the "
				              "program:", (unsigned)(uint32_t)to);
			rex(s, 1, dst, 0, 0);
			emit2(s, 0x8d, (uint8_t)(0x05 | (dst & 7) << 3)); /* lea dst, [rip+rel32] */
			emit_rel32(s, c->func0 + (uint32_t)to);
			return 0;
		}
		default:
			return refuse(c, "lddw with src", in->src);
		}
	}
	case ASH_K_LDX:
	case ASH_K_LDXSX:
		if (c->vres->facts[pc].flags & VFY_AF_CTX_LOAD)
			return ctx_load(c, dst, c->vres->facts[pc].ctx_off);
		ldx(s, size_bytes(in->code), ash_op_kind(in->code) == ASH_K_LDXSX,
		    dst, src, in->off);
		return 0;
	case ASH_K_ST:
		st_imm(s, size_bytes(in->code), dst, in->off, in->imm);
		return 0;
	case ASH_K_STX: {
		unsigned size = size_bytes(in->code);
		int32_t imm;
		if (kimm(f, 0, size == 8, &imm))
			st_imm(s, size, dst, in->off, imm); /* src proven constant */
		else
			stx(s, size, dst, in->off, src);
		return 0;
	}
	case ASH_K_ATOMIC:
		return atomic(c, in);
	default:
		return refuse(c, "unknown opcode", in->code);
	}
}

/* Which slots some jump names (from host; NULL when out of memory:
 * then nothing is fused). */
static uint8_t *jump_targets(struct ashjit *c)
{
	uint32_t n = c->img->ninsns;
	uint8_t *t = dpf_alloc(c->s.h, n);
	if (!t)
		return NULL;
	dpf_memset(t, 0, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct ash_insn *in = &c->img->insns[i];
		int64_t to;
		switch (ash_op_kind(in->code)) {
		case ASH_K_JMP_K: case ASH_K_JMP_X:
		case ASH_K_JMP32_K: case ASH_K_JMP32_X: case ASH_K_JA:
			to = (int64_t)i + 1 + in->off;
			break;
		case ASH_K_JA32:
			to = (int64_t)i + 1 + in->imm;
			break;
		default:
			continue;
		}
		if (to >= 0 && to < n)
			t[to] = 1;
	}
	return t;
}

/* lsh dst, 32 then rsh (arsh) dst, 32, the second slot no jump target:
 * one mov dst32, dst32 (movsxd dst, dst32) in the first slot, the
 * second empty.  1 when fused. */
static int fuse_ext32(struct ashjit *c, const uint8_t *target, uint32_t i)
{
	const struct ash_insn *a = &c->img->insns[i], *b = a + 1;
	if (!target || i + 1 >= c->img->ninsns || target[i + 1] ||
	    !(c->vres->facts[i + 1].flags & VFY_AF_REACHED) ||
	    (c->vres->facts[i + 1].flags & VFY_AF_FUNC) ||
	    a->code != 0x67 || a->imm != 32 || a->dst > 9 ||
	    (b->code != 0x77 && b->code != 0xc7) || b->imm != 32 ||
	    b->dst != a->dst || a->off || b->off)
		return 0;
	unsigned dst = xreg[a->dst];
	if (b->code == 0x77)
		mov_rr(&c->s, 0, dst, dst);     /* mov dst32, dst32 */
	else
		op_rr(&c->s, 1, 0x63, dst, dst); /* movsxd dst, dst32 */
	return 1;
}

int jit_ash_compile(const struct ash_image *img,
                    const struct vfy_ash_result *vres,
                    const struct jit_ash_env *env, const struct jit_mem *mem,
                    const struct dpf_host *host, struct jit_ash **out,
                    struct dpf_diag *diag)
{
	*out = NULL;
	struct ashjit c;
	dpf_memset(&c, 0, sizeof c);
	c.s.h = host;
	c.img = img;
	c.vres = vres;
	c.env = env;
	c.diag = diag;
	if (!img->ninsns || vres->ninsns != img->ninsns) {
		dpf_fmt(diag->msg, sizeof diag->msg,
		        "the verifier's facts do not cover the image");
		return DPF_EINVAL;
	}
	uint32_t n = img->ninsns;
	for (uint32_t i = 0; i < 2 * n; i++)
		label_new(&c.s);
	c.insn0 = 0;
	c.func0 = n;
	c.fault_exit = label_new(&c.s);
	uint8_t *target = jump_targets(&c);
	frame_of(&c, 0, 1, &c.main);
	fault_exit(&c);
	for (uint32_t i = 0; i < n && !c.refused && !c.s.err; i++) {
		const struct vfy_ash_fact *f = &vres->facts[i];
		c.pc = i;
		if (i == 0 || (f->flags & VFY_AF_FUNC)) {
			label_bind(&c.s, c.func0 + i);
			if (i == 0)
				c.cur = c.main;
			else
				frame_of(&c, i, 0, &c.cur);
			prologue(&c, &c.cur, i == 0);
		}
		label_bind(&c.s, c.insn0 + i);
		if (!(f->flags & VFY_AF_REACHED)) {
			emit2(&c.s, 0x0f, 0x0b); /* ud2: no path comes here */
			continue;
		}
		uint32_t skip = 0;
		if (fuse_ext32(&c, target, i))
			skip = 1;
		else
			insn(&c, &img->insns[i], &skip);
		if (skip && i + 1 < n) {
			label_bind(&c.s, c.insn0 + i + 1);
			if (vres->facts[i + 1].flags & VFY_AF_FUNC) {
				c.pc = i + 1;
				refuse(&c, "function starting inside lddw at", i + 1);
			}
			i++;
		}
	}
	/* Labels of functions never entered stay unbound only if no call
	 * names them; every referenced label must be bound. */
	for (uint32_t i = 0; !c.refused && !c.s.err && i < c.s.nfix; i++) {
		if (c.s.labels[c.s.fix[i].label] == UINT32_MAX) {
			c.pc = c.s.fix[i].label >= n ? c.s.fix[i].label - n
			                             : c.s.fix[i].label;
			refuse(&c, "call or jump to an instruction that is no "
			       "function entry:", c.pc);
		}
	}
	if (!c.refused)
		sink_resolve(&c.s);
	int rc = 0;
	struct jit_ash *j = NULL;
	if (c.refused) {
		rc = DPF_EINVAL;
	} else if (c.s.err) {
		dpf_fmt(diag->msg, sizeof diag->msg, "code generation failed: %s",
		        c.s.err == DPF_ENOMEM ? "out of memory"
		                              : "code too large");
		rc = c.s.err;
	} else if (!(j = dpf_alloc(host, sizeof *j))) {
		dpf_fmt(diag->msg, sizeof diag->msg, "out of memory");
		rc = DPF_ENOMEM;
	} else if (!(j->at = dpf_alloc(host, 2 * (size_t)n * sizeof *j->at))) {
		dpf_free(host, j, sizeof *j);
		j = NULL;
		dpf_fmt(diag->msg, sizeof diag->msg, "out of memory");
		rc = DPF_ENOMEM;
	} else {
		uint32_t *at = j->at;
		dpf_memset(j, 0, sizeof *j);
		j->host = host;
		j->mem = *mem;
		j->size = ((size_t)c.s.len + 4095u) & ~(size_t)4095u;
		j->len = c.s.len;
		/* labels insn0 + i and func0 + i, i.e. 0 .. 2n - 1 */
		j->n = n;
		j->at = at;
		dpf_memcpy(at, c.s.labels, 2 * (size_t)n * sizeof *at);
		if (mem->map(mem->ctx, j->size, &j->rw, &j->rx) != 0) {
			dpf_free(host, at, 2 * (size_t)n * sizeof *at);
			dpf_free(host, j, sizeof *j);
			j = NULL;
			dpf_fmt(diag->msg, sizeof diag->msg, "out of code memory");
			rc = DPF_ENOMEM;
		} else {
			dpf_memcpy(j->rw, c.s.buf, c.s.len);
			j->entry = (uint8_t *)j->rx + at[n];
			*out = j;
		}
	}
	if (target)
		dpf_free(host, target, n);
	dpf_free(host, c.s.buf, c.s.cap);
	dpf_free(host, c.s.labels, c.s.caplabels * sizeof *c.s.labels);
	dpf_free(host, c.s.fix, c.s.capfix * sizeof *c.s.fix);
	return rc;
}

uint64_t jit_ash_call(const struct jit_ash *j, struct jit_ash_state *s,
                      uint64_t r1, uint64_t r2)
{
	union {
		void *p;
		uint64_t (*fn)(struct jit_ash_state *, uint64_t, uint64_t);
	} u;
	u.p = j->entry;
	return u.fn(s, r1, r2);
}

void jit_ash_free(struct jit_ash *j)
{
	if (!j)
		return;
	j->mem.unmap(j->mem.ctx, j->size, j->rw, j->rx);
	dpf_free(j->host, j->at, 2 * (size_t)j->n * sizeof *j->at);
	dpf_free(j->host, j, sizeof *j);
}

/* The bytes, for listings and tests. */
const uint8_t *jit_ash_code(const struct jit_ash *j, size_t *len)
{
	*len = j->len;
	return j->rw;
}

/* The labels of the slots, kept from compilation for listings. */
const uint32_t *jit_ash_offsets(const struct jit_ash *j, uint32_t *n)
{
	*n = j->n;
	return j->at;
}
