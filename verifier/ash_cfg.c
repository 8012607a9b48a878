/*
 * ash_cfg.c - the checks before abstract execution: every field of every
 * instruction (against ops.def), the control-flow graph (jump targets
 * inside the program, inside their subprogram and never into the second
 * slot of an lddw; no falling off the end), subprograms (entry 0, call
 * and lddw-func targets) and reachability (as Linux's check_cfg: an
 * unreachable instruction is refused).  Fills venv.prune (where the
 * exploration checkpoints) and venv.sub (subprogram of each slot).
 *
 * cfg_live computes, per slot, the registers some path from it reads
 * before writing (backward dataflow with a worklist, within each
 * subprogram; a call reads its arguments and writes r0-r5, an exit reads
 * r0).  Pruning forgets the others: a dead register cannot change what
 * happens next.  An over-approximation of reads only costs precision.
 */
#include "verifier/ash_int.h"

static int atomic_ok(int32_t imm)
{
	switch (imm) {
	case ASH_ATOMIC_ADD: case ASH_ATOMIC_OR: case ASH_ATOMIC_AND:
	case ASH_ATOMIC_XOR:
	case ASH_ATOMIC_ADD | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_OR | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_AND | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_XOR | ASH_ATOMIC_FETCH:
	case ASH_ATOMIC_XCHG: case ASH_ATOMIC_CMPXCHG:
		return 1;
	default:
		return 0;
	}
}

#define FIELD(cond, name, val)                                               \
	do {                                                                 \
		if (!(cond))                                                 \
			return vfy_err(e, i, "invalid field " name " %d",    \
			               (int)(val));                          \
	} while (0)

/* Fields of insn i, independent of any state. */
static int fields(struct venv *e, uint32_t i)
{
	const struct ash_insn *in = &e->ins[i];
	enum ash_op_kind k = ash_op_kind(in->code);
	unsigned op = ASH_OP(in->code);
	if (k == ASH_K_INVALID)
		return vfy_err(e, i, "unknown opcode 0x%02x", in->code);
	if (in->dst > 10)
		return vfy_err(e, i, "invalid register r%u", in->dst);
	switch (k) {
	case ASH_K_ALU32_K: case ASH_K_ALU64_K:
	case ASH_K_ALU32_X: case ASH_K_ALU64_X: {
		int x = k == ASH_K_ALU32_X || k == ASH_K_ALU64_X;
		if (x) {
			if (in->src > 10)
				return vfy_err(e, i, "invalid register r%u",
				               in->src);
			FIELD(in->imm == 0, "imm", in->imm);
		} else {
			FIELD(in->src == 0, "src", in->src);
		}
		if (op == 0x30 || op == 0x90)
			FIELD(in->off == 0 || in->off == 1, "off", in->off);
		else if (op == 0xb0 && x && k == ASH_K_ALU64_X)
			FIELD(in->off == 0 || in->off == 8 || in->off == 16 ||
			      in->off == 32, "off", in->off);
		else if (op == 0xb0 && x)
			FIELD(in->off == 0 || in->off == 8 || in->off == 16,
			      "off", in->off);
		else
			FIELD(in->off == 0, "off", in->off);
		if (in->dst == 10)
			return vfy_err(e, i, "frame pointer is read only");
		return 0;
	}
	case ASH_K_NEG32: case ASH_K_NEG64: case ASH_K_END:
		FIELD(in->src == 0, "src", in->src);
		FIELD(in->off == 0, "off", in->off);
		if (k == ASH_K_END)
			FIELD(in->imm == 16 || in->imm == 32 || in->imm == 64,
			      "imm", in->imm);
		else
			FIELD(in->imm == 0, "imm", in->imm);
		if (in->dst == 10)
			return vfy_err(e, i, "frame pointer is read only");
		return 0;
	case ASH_K_JMP_K: case ASH_K_JMP32_K:
		FIELD(in->src == 0, "src", in->src);
		return 0;
	case ASH_K_JMP_X: case ASH_K_JMP32_X:
		if (in->src > 10)
			return vfy_err(e, i, "invalid register r%u", in->src);
		FIELD(in->imm == 0, "imm", in->imm);
		return 0;
	case ASH_K_JA:
		FIELD(in->src == 0, "src", in->src);
		FIELD(in->dst == 0, "dst", in->dst);
		FIELD(in->imm == 0, "imm", in->imm);
		return 0;
	case ASH_K_JA32:
		FIELD(in->src == 0, "src", in->src);
		FIELD(in->dst == 0, "dst", in->dst);
		FIELD(in->off == 0, "off", in->off);
		return 0;
	case ASH_K_CALL:
		FIELD(in->src == 0 || in->src == ASH_PSEUDO_CALL, "src",
		      in->src);
		FIELD(in->dst == 0, "dst", in->dst);
		FIELD(in->off == 0, "off", in->off);
		return 0;
	case ASH_K_CALLX:
		FIELD(in->src == 0, "src", in->src);
		FIELD(in->off == 0, "off", in->off);
		FIELD(in->imm == 0, "imm", in->imm);
		return 0;
	case ASH_K_EXIT:
		FIELD(in->src == 0, "src", in->src);
		FIELD(in->dst == 0, "dst", in->dst);
		FIELD(in->off == 0, "off", in->off);
		FIELD(in->imm == 0, "imm", in->imm);
		return 0;
	case ASH_K_LDDW: {
		if (i + 1 >= e->n)
			return vfy_err(e, i, "incomplete lddw");
		const struct ash_insn *n2 = &e->ins[i + 1];
		FIELD(in->off == 0, "off", in->off);
		if (in->dst == 10)
			return vfy_err(e, i, "frame pointer is read only");
		if (n2->code || n2->dst || n2->src || n2->off)
			return vfy_err(e, i, "invalid lddw second slot");
		switch (in->src) {
		case 0:
			return 0;
		case ASH_PSEUDO_MAP_FD: case ASH_PSEUDO_MAP_IDX:
		case ASH_PSEUDO_MAP_VALUE: case ASH_PSEUDO_MAP_IDX_VALUE: {
			if (in->imm < 0 || (uint32_t)in->imm >= e->img->nmaps)
				return vfy_err(e, i, "map index %d out of range "
				               "(%u maps)", in->imm, e->img->nmaps);
			const struct ash_map_def *m = &e->img->maps[in->imm];
			int val = in->src == ASH_PSEUDO_MAP_VALUE ||
			          in->src == ASH_PSEUDO_MAP_IDX_VALUE;
			if (!val)
				FIELD(n2->imm == 0, "imm", n2->imm);
			else if (m->type == ASH_MAP_RINGBUF ||
			         (uint32_t)n2->imm >= m->value_size)
				return vfy_err(e, i, "map value offset %u beyond "
				               "value_size %u of map '%s'",
				               (uint32_t)n2->imm, m->value_size,
				               m->name);
			return 0;
		}
		case ASH_PSEUDO_FUNC:
			FIELD(n2->imm == 0, "imm", n2->imm);
			return 0;
		default:
			FIELD(0, "src", in->src);
		}
		return 0;
	}
	case ASH_K_LDX: case ASH_K_LDXSX:
		if (in->src > 10)
			return vfy_err(e, i, "invalid register r%u", in->src);
		FIELD(in->imm == 0, "imm", in->imm);
		if (in->dst == 10)
			return vfy_err(e, i, "frame pointer is read only");
		return 0;
	case ASH_K_ST:
		FIELD(in->src == 0, "src", in->src);
		return 0;
	case ASH_K_STX:
		if (in->src > 10)
			return vfy_err(e, i, "invalid register r%u", in->src);
		FIELD(in->imm == 0, "imm", in->imm);
		return 0;
	case ASH_K_ATOMIC:
		if (in->src > 10)
			return vfy_err(e, i, "invalid register r%u", in->src);
		if (!atomic_ok(in->imm))
			return vfy_err(e, i, "invalid atomic operation 0x%x",
			               (unsigned)in->imm);
		return 0;
	default:
		return vfy_err(e, i, "unknown opcode 0x%02x", in->code);
	}
}

/* Target of a jump or call at i, as a signed 64-bit slot number. */
static int64_t target(const struct ash_insn *in, uint32_t i)
{
	if (ash_op_kind(in->code) == ASH_K_JA32 ||
	    ash_op_kind(in->code) == ASH_K_CALL ||
	    ash_op_kind(in->code) == ASH_K_LDDW)
		return (int64_t)i + in->imm + 1;
	return (int64_t)i + in->off + 1;
}

static int is_jump(enum ash_op_kind k)
{
	return k == ASH_K_JMP_K || k == ASH_K_JMP_X || k == ASH_K_JMP32_K ||
	       k == ASH_K_JMP32_X || k == ASH_K_JA || k == ASH_K_JA32;
}

/* A call to a subprogram, or an lddw of a function address. */
static int is_subref(const struct ash_insn *in)
{
	enum ash_op_kind k = ash_op_kind(in->code);
	return (k == ASH_K_CALL && in->src == ASH_PSEUDO_CALL) ||
	       (k == ASH_K_LDDW && in->src == ASH_PSEUDO_FUNC);
}

int cfg_check(struct venv *e)
{
	uint32_t n = e->n;
	uint8_t *second = vfy_alloc(e, n); /* second slot of an lddw */
	uint8_t *seen = vfy_alloc(e, n);
	uint32_t *stk = vfy_alloc(e, n * sizeof *stk);
	e->prune = vfy_alloc(e, n);
	e->sub = vfy_alloc(e, n * sizeof *e->sub);
	int rc = 0;
	if (!second || !seen || !stk || !e->prune || !e->sub) {
		rc = DPF_ENOMEM;
		goto out;
	}
	dpf_memset(second, 0, n);
	dpf_memset(seen, 0, n);
	dpf_memset(e->prune, 0, n);
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = fields(e, i)) < 0)
			goto out;
		if (ash_op_kind(e->ins[i].code) == ASH_K_LDDW)
			second[++i] = 1;
	}
	/* subprogram entries (seen[] is reused as the entry mark) */
	seen[0] = 1;
	for (uint32_t i = 0; i < n; i++) {
		if (second[i] || !is_subref(&e->ins[i]))
			continue;
		int64_t t = target(&e->ins[i], i);
		if (t < 0 || t >= n) {
			rc = vfy_err(e, i, "jump out of range from insn %u to "
			             "%ld", i, (long)t);
			goto out;
		}
		if (second[t]) {
			rc = vfy_err(e, i, "jump into the middle of lddw from "
			             "insn %u to %ld", i, (long)t);
			goto out;
		}
		seen[t] = 1;
	}
	e->nsub = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (seen[i])
			e->nsub++;
		e->sub[i] = e->nsub - 1;
	}
	e->subentry = vfy_alloc(e, e->nsub * sizeof *e->subentry);
	e->subdepth = vfy_alloc(e, e->nsub * sizeof *e->subdepth);
	if (!e->subentry || !e->subdepth) {
		rc = DPF_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0, k = 0; i < n; i++)
		if (seen[i]) {
			e->subentry[k] = i;
			e->subdepth[k++] = 0;
			e->prune[i] |= 1;
		}
	/* jumps stay inside their subprogram; nothing falls off its end */
	for (uint32_t i = 0; i < n; i++) {
		if (second[i])
			continue;
		const struct ash_insn *in = &e->ins[i];
		enum ash_op_kind k = ash_op_kind(in->code);
		if (is_jump(k)) {
			int64_t t = target(in, i);
			if (t < 0 || t >= n || e->sub[t] != e->sub[i]) {
				rc = vfy_err(e, i, "jump out of range from insn "
				             "%u to %ld", i, (long)t);
				goto out;
			}
			if (second[t]) {
				rc = vfy_err(e, i, "jump into the middle of lddw "
				             "from insn %u to %ld", i, (long)t);
				goto out;
			}
			e->prune[t] |= (uint8_t)(t <= i ? 3 : 1);
		}
		if (k == ASH_K_CALL || k == ASH_K_CALLX) {
			if (i + 1 < n)
				e->prune[i + 1] |= 1;
		}
		if (k == ASH_K_EXIT || k == ASH_K_JA || k == ASH_K_JA32)
			continue;
		uint32_t next = i + (k == ASH_K_LDDW ? 2 : 1);
		if (next >= n || e->sub[next] != e->sub[i]) {
			rc = vfy_err(e, i, "fall off the end of the program");
			goto out;
		}
	}
	/* reachability from the entry, following calls and callbacks */
	dpf_memset(seen, 0, n);
	uint32_t sp = 0;
	stk[sp++] = 0;
	seen[0] = 1;
	while (sp) {
		uint32_t i = stk[--sp];
		const struct ash_insn *in = &e->ins[i];
		enum ash_op_kind k = ash_op_kind(in->code);
		uint32_t succ[2];
		int ns = 0;
		if (k != ASH_K_EXIT && k != ASH_K_JA && k != ASH_K_JA32)
			succ[ns++] = i + (k == ASH_K_LDDW ? 2 : 1);
		if (is_jump(k) || is_subref(in))
			succ[ns++] = (uint32_t)target(in, i);
		for (int s = 0; s < ns; s++)
			if (!seen[succ[s]]) {
				seen[succ[s]] = 1;
				stk[sp++] = succ[s];
			}
	}
	for (uint32_t i = 0; i < n; i++)
		if (!seen[i] && !second[i]) {
			rc = vfy_err(e, i, "unreachable insn %u", i);
			goto out;
		}
out:
	vfy_free(e, second, n);
	vfy_free(e, seen, n);
	vfy_free(e, stk, n * sizeof *stk);
	return rc;
}

/* Registers insn i reads (use) and writes (def). */
static void use_def(const struct ash_insn *in, uint16_t *use, uint16_t *def)
{
	enum ash_op_kind k = ash_op_kind(in->code);
	uint16_t d = (uint16_t)(1u << in->dst), s = (uint16_t)(1u << in->src);
	*use = *def = 0;
	switch (k) {
	case ASH_K_ALU32_K: case ASH_K_ALU64_K:
		*use = ASH_OP(in->code) == 0xb0 ? 0 : d;
		*def = d;
		break;
	case ASH_K_ALU32_X: case ASH_K_ALU64_X:
		*use = (uint16_t)(s | (ASH_OP(in->code) == 0xb0 ? 0 : d));
		*def = d;
		break;
	case ASH_K_NEG32: case ASH_K_NEG64: case ASH_K_END:
		*use = *def = d;
		break;
	case ASH_K_JMP_K: case ASH_K_JMP32_K:
		*use = d;
		break;
	case ASH_K_JMP_X: case ASH_K_JMP32_X:
		*use = (uint16_t)(d | s);
		break;
	case ASH_K_CALL: case ASH_K_CALLX: {
		const struct ash_helper_proto *hp =
			k == ASH_K_CALL && in->src == 0 ?
				ash_helper((uint32_t)in->imm) : NULL;
		unsigned nargs = 5;
		if (hp)
			for (nargs = 0; nargs < 5 && hp->args[nargs]; nargs++)
				;
		*use = (uint16_t)(((1u << nargs) - 1) << 1);
		if (k == ASH_K_CALLX)
			*use |= d;
		*def = 0x3f;
		break;
	}
	case ASH_K_EXIT:
		*use = 1;
		break;
	case ASH_K_LDDW:
		*def = d;
		break;
	case ASH_K_LDX: case ASH_K_LDXSX:
		*use = s;
		*def = d;
		break;
	case ASH_K_ST:
		*use = d;
		break;
	case ASH_K_STX:
		*use = (uint16_t)(d | s);
		break;
	case ASH_K_ATOMIC:
		*use = (uint16_t)(d | s | (in->imm == ASH_ATOMIC_CMPXCHG ? 1 : 0));
		break;
	default:
		*use = 0x7ff;
		break;
	}
}

/* Successors of i inside its subprogram. */
static int succs(const struct venv *e, uint32_t i, uint32_t out[2])
{
	const struct ash_insn *in = &e->ins[i];
	enum ash_op_kind k = ash_op_kind(in->code);
	int n = 0;
	if (k == ASH_K_EXIT)
		return 0;
	if (k != ASH_K_JA && k != ASH_K_JA32)
		out[n++] = i + (k == ASH_K_LDDW ? 2 : 1);
	if (is_jump(k))
		out[n++] = (uint32_t)target(in, i);
	return n;
}

int cfg_live(struct venv *e)
{
	uint32_t n = e->n;
	uint32_t *npred = vfy_alloc(e, (n + 1) * sizeof *npred);
	uint32_t *pred = vfy_alloc(e, 2 * n * sizeof *pred);
	uint32_t *work = vfy_alloc(e, n * sizeof *work);
	uint8_t *queued = vfy_alloc(e, n);
	uint8_t *second = vfy_alloc(e, n);
	e->live = vfy_alloc(e, n * sizeof *e->live);
	int rc = 0;
	if (!npred || !pred || !work || !queued || !second || !e->live) {
		rc = DPF_ENOMEM;
		goto out;
	}
	dpf_memset(npred, 0, (n + 1) * sizeof *npred);
	dpf_memset(second, 0, n);
	for (uint32_t i = 0; i < n; i++)
		if (ash_op_kind(e->ins[i].code) == ASH_K_LDDW)
			second[++i] = 1;
	/* predecessor lists (CSR): count, prefix sums, fill */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s[2];
		int ns = second[i] ? 0 : succs(e, i, s);
		for (int k = 0; k < ns; k++)
			npred[s[k] + 1]++;
	}
	for (uint32_t i = 0; i < n; i++)
		npred[i + 1] += npred[i];
	uint32_t sp = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s[2];
		int ns = second[i] ? 0 : succs(e, i, s);
		for (int k = 0; k < ns; k++)
			pred[npred[s[k]]++] = i;
		e->live[i] = 0;
		queued[i] = !second[i];
		if (!second[i])
			work[sp++] = i;
	}
	/* npred[j] now ends j's list; shift back to starts */
	for (uint32_t j = n; j > 0; j--)
		npred[j] = npred[j - 1];
	npred[0] = 0;
	while (sp) {
		uint32_t i = work[--sp];
		queued[i] = 0;
		uint32_t s[2];
		int ns = succs(e, i, s);
		uint16_t outl = 0, use, def;
		for (int k = 0; k < ns; k++)
			outl |= e->live[s[k]];
		use_def(&e->ins[i], &use, &def);
		uint16_t in = (uint16_t)(use | (outl & ~def));
		if (in == e->live[i])
			continue;
		e->live[i] = in;
		for (uint32_t q = npred[i]; q < npred[i + 1]; q++)
			if (!queued[pred[q]]) {
				queued[pred[q]] = 1;
				work[sp++] = pred[q];
			}
	}
out:
	vfy_free(e, npred, (n + 1) * sizeof *npred);
	vfy_free(e, pred, 2 * n * sizeof *pred);
	vfy_free(e, work, n * sizeof *work);
	vfy_free(e, queued, n);
	vfy_free(e, second, n);
	return rc;
}
