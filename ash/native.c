/*
 * native.c - running a handler as x86-64 code (ASH_ENGINE_X86).
 *
 * Interface (ash.h): ash_prog_jit() compiles a program with
 * jit_ash_compile() (jit/ash_x86.c), handing it the addresses lddw of a
 * map yields; ash_native_run() (ash_int.h) runs the code on a struct
 * ash_run prepared exactly as for the interpreter, so results, helper
 * behaviour and fault messages are the interpreter's.
 *
 * Helpers: the code stores r0-r5 in r->js.reg and calls trampoline(),
 * which copies them into r->reg and calls ash_call_helper(), the
 * interpreter's own dispatch.  A helper fault sets js.fault and the code
 * leaves at once; r->reg[0] then holds r0 as it was before the call, as
 * in the interpreter.
 */
#include <stddef.h>

#include "ash/ash_int.h"

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
	return r->reg[0];
}

int ash_native_run(struct ash_run *r)
{
	struct jit_ash_state *s = &r->js;
	ash_memset(s, 0, sizeof *s);
	s->helper = trampoline;
	s->x = r->x;
	s->ifindex = r->p->env.ifindex;
	s->rxq = r->p->env.rxq;
	uint64_t r0 = jit_ash_call(r->p->jit, s, r->reg[1], r->reg[2]);
	if (s->fault)
		return -1;
	r->reg[0] = r0;
	return 0;
}

int ash_prog_jit(struct ash_prog *p, const struct jit_mem *mem,
                 struct dpf_diag *diag)
{
	if (p->jit)
		return 0;
	const struct dpf_host *h = p->host;
	size_t sz = (size_t)(p->nmaps ? p->nmaps : 1) * 2 * sizeof(uint64_t);
	uint64_t *a = h->alloc(h->ctx, sz);
	if (!a) {
		ash_fmt(diag->msg, sizeof diag->msg, "out of memory");
		return DPF_ENOMEM;
	}
	for (uint32_t i = 0; i < p->nmaps; i++) {
		a[i] = (uint64_t)(uintptr_t)&p->maps[i];
		a[p->nmaps + i] = (uint64_t)(uintptr_t)ash_map_value0(&p->maps[i]);
	}
	struct jit_ash_env env = {p->nmaps, a, a + p->nmaps};
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
