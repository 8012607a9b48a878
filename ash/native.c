/*
 * native.c - running a handler as x86-64 code (ASH_ENGINE_X86).
 *
 * Interface (ash.h, ash_int.h): ash_prog_jit() compiles a program with
 * jit_ash_compile() (jit/ash_x86.c), handing it the addresses lddw of a
 * map yields, the arrays whose lookups may be inlined (ARRAY,
 * PERCPU_ARRAY of CPU 0, global data: every map with value storage) and
 * the helpers' native functions (ash_helper_native, helpers.c: the
 * interpreter's implementations; for a dpf_ash_copy call whose ops set
 * the verifier proved, ash_dilp_native: the fused kernel specialised for
 * that set, chosen per call site; where paths bring several sets, the
 * kernel chosen at run time).  ash_native_xdp() and ash_native_mem()
 * run the code; results, helper behaviour and fault messages are the
 * interpreter's, except res->insns, which stays 0 (nothing counts).
 *
 * The run state is the program's (struct ash_prog.run), set up once by
 * ash_native_init(); a run sets only what runs change: the frame, the
 * result, the redirect index, the fault flag and the frame pointers the
 * code loads (js.data and friends, ash_js_sync).  The result is set
 * field by field (msg to "" only).
 *
 * Helpers without a native function go through trampoline(): the code
 * stores r0-r5 in js.reg, trampoline() copies them into r->reg and calls
 * ash_call_helper(), the interpreter's own dispatch.  A helper fault sets
 * js.fault (ash_fault) and the code leaves at once; r->reg[0] then holds
 * r0 as it was before the call (js.reg[0], stored by the code), as in
 * the interpreter.
 */
#include <stddef.h>

#include "ash/ash_int.h"
#include "ash/include/dpf_ash.h"

static uint64_t trampoline(struct jit_ash_state *s, uint32_t id, uint32_t pc)
{
	struct ash_run *r =
		(struct ash_run *)((char *)s - offsetof(struct ash_run, js));
	r->pc = pc;
	for (int i = 0; i < 6; i++)
		r->reg[i] = s->reg[i];
	if (ash_call_helper(r, id)) {
		if (!r->res->fault)
			ash_fault(r, ASH_FAULT_ESCAPE,
			          "verifier escape at %u: unknown helper %u", pc, id);
		s->fault = 1;
	}
	if (r->x)
		ash_js_sync(r);
	return r->reg[0];
}

void ash_native_init(struct ash_prog *p)
{
	struct ash_run *r = &p->run;
	ash_memset(r, 0, sizeof *r);
	r->p = p;
	r->ctx.f[ASH_CTX_IFINDEX / 4] = p->env.ifindex;
	r->ctx.f[ASH_CTX_RXQ / 4] = p->env.rxq;
	r->js.helper = trampoline;
	r->js.ifindex = p->env.ifindex;
	r->js.rxq = p->env.rxq;
}

static int run(struct ash_prog *p, struct ash_result *res, uint64_t r1,
               uint64_t r2)
{
	struct ash_run *r = &p->run;
	struct jit_ash_state *s = &r->js;
	r->res = res;
	r->redirect = 0;
	s->fault = 0;
	res->redirect_index = 0;
	res->fault = 0;
	res->fault_insn = 0;
	res->insns = 0;
	res->msg[0] = 0;
	uint64_t r0 = jit_ash_call(p->jit, s, r1, r2);
	if (s->fault) {
		res->r0 = s->reg[0];
		res->action = ASH_XDP_ABORTED;
		return -1;
	}
	res->r0 = r0;
	res->action = r0 <= ASH_XDP_REDIRECT ? (int)r0 : ASH_XDP_ABORTED;
	if (res->action == ASH_XDP_REDIRECT)
		res->redirect_index = r->redirect;
	return 0;
}

int ash_native_xdp(struct ash_prog *p, struct ash_xdp *x,
                   struct ash_result *res)
{
	struct ash_run *r = &p->run;
	r->x = x;
	r->mem = NULL;
	r->memlen = 0;
	ash_js_sync(r);
	return run(p, res, (uint64_t)(uintptr_t)&r->ctx, 0);
}

int ash_native_mem(struct ash_prog *p, uint8_t *mem, uint32_t len,
                   struct ash_result *res)
{
	struct ash_run *r = &p->run;
	r->x = NULL;
	r->mem = mem;
	r->memlen = len;
	r->js.data = r->js.data_end = r->js.data_meta = 0;
	return run(p, res, (uint64_t)(uintptr_t)mem, len);
}

static jit_ash_helper_fn helper_fn(void *ctx, uint32_t id, uint32_t pc,
                                   int *faults)
{
	const struct ash_prog *p = ctx;
	const struct vfy_ash_fact *f = &p->vres->facts[pc];
	if (id == DPF_ASH_HELPER_COPY && (f->flags & VFY_AF_ARG)) {
		*faults = 0;
		if (f->flags & VFY_AF_ARG_MIXED)
			return ash_dilp_native_any();
		jit_ash_helper_fn fn = ash_dilp_native(f->arg);
		if (fn)
			return fn;
		*faults = 1;
	}
	return ash_helper_native(id, faults);
}

int ash_prog_jit(struct ash_prog *p, const struct jit_mem *mem,
                 struct dpf_diag *diag)
{
	if (p->jit)
		return 0;
	const struct dpf_host *h = p->host;
	size_t n = p->nmaps ? p->nmaps : 1;
	size_t sz = n * 2 * sizeof(uint64_t) + n * 2 * sizeof(uint32_t);
	uint64_t *a = h->alloc(h->ctx, sz);
	if (!a) {
		ash_fmt(diag->msg, sizeof diag->msg, "out of memory");
		return DPF_ENOMEM;
	}
	uint32_t *arr = (uint32_t *)(a + 2 * n);
	for (uint32_t i = 0; i < p->nmaps; i++) {
		struct ash_map *m = &p->maps[i];
		uint8_t *v0 = ash_map_value0(m);
		a[i] = (uint64_t)(uintptr_t)m;
		a[p->nmaps + i] = (uint64_t)(uintptr_t)v0;
		arr[i] = v0 ? m->def->max_entries : 0;
		arr[n + i] = m->stride;
	}
	struct jit_ash_env env = {p->nmaps, a, a + p->nmaps, arr, arr + n,
	                          helper_fn, p};
	int rc = jit_ash_compile(p->img, p->vres, &env, mem, h, &p->jit, diag);
	h->free(h->ctx, a, sz);
	return rc;
}

int ash_prog_jitted(const struct ash_prog *p)
{
	return p->jit != NULL;
}

const struct jit_ash *ash_prog_native(const struct ash_prog *p)
{
	return p->jit;
}
