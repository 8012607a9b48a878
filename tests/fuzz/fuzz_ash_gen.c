/*
 * fuzz_ash_gen.c - libFuzzer harness: the program generator (progen.h)
 * driven by the fuzzer's bytes, and the engines compared on what it
 * makes.
 *
 * Input: the generator's random stream, read in order (each choice
 * takes one byte, constants and seeds eight; zeros once the input is
 * used up), so mutations change program shapes block by block.  The
 * first eight bytes also seed the frames: six frames of the handler
 * trace generator (bench/ash_gen.c), the even ones cut short.
 *
 * Checks: the verifier accepts what the generator makes (a refusal is
 * a generator or verifier bug, except the processed-instruction budget
 * running out); the JIT compiles it; the interpreter, the checked
 * interpreter and the x86 code, each with its own runtime, give the
 * same rc, action, r0, fault, frame bounds and bytes on every frame,
 * none of them faults, and afterwards every map holds the same
 * contents.  Any failure aborts (libFuzzer keeps the input).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "bench/ash_gen.h"
#include "jit/jit.h"
#include "tests/ash/progen.h"
#include "verifier/vfy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFRAMES 6

struct outcome {
	int rc, action, fault;
	uint64_t r0;
	uint32_t meta, data, end, redirect;
	uint8_t bytes[ASH_FRAME_SIZE];
	char msg[160];
};

static void run(struct ash_prog *p, const uint8_t *pkt, uint32_t n,
                enum ash_engine eng, struct outcome *o)
{
	static uint8_t buf[ASH_FRAME_SIZE] __attribute__((aligned(64)));
	struct ash_result res;
	struct ash_xdp x;
	ash_xdp_init(&x, buf, pkt, n);
	o->rc = ash_run_xdp(p, &x, eng, &res);
	o->action = res.action;
	o->fault = o->rc ? res.fault : 0;
	o->r0 = res.r0;
	o->redirect = res.action == ASH_XDP_REDIRECT ? res.redirect_index : 0;
	o->meta = x.data_meta;
	o->data = x.data;
	o->end = x.data_end;
	memcpy(o->bytes, buf + x.data_meta, x.data_end - x.data_meta);
	memcpy(o->msg, res.msg, sizeof o->msg);
}

static int same(const struct outcome *a, const struct outcome *b)
{
	return a->rc == b->rc && a->action == b->action &&
	       a->fault == b->fault && a->r0 == b->r0 &&
	       a->redirect == b->redirect && a->meta == b->meta &&
	       a->data == b->data && a->end == b->end &&
	       memcmp(a->bytes, b->bytes, a->end - a->meta) == 0;
}

static void fail(const char *what, const struct outcome *a,
                 const struct outcome *b)
{
	fprintf(stderr, "fuzz_ash_gen: %s\n", what);
	if (a && b)
		fprintf(stderr, "  action %d/%d r0 0x%llx/0x%llx fault %d/%d "
		        "(%s / %s) meta %u/%u data %u/%u end %u/%u\n",
		        a->action, b->action, (unsigned long long)a->r0,
		        (unsigned long long)b->r0, a->fault, b->fault, a->msg,
		        b->msg, a->meta, b->meta, a->data, b->data, a->end, b->end);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dpf_host *host = dpf_host_libc();
	struct pg_rand r;
	struct ash_image img;
	static uint8_t frames[NFRAMES][AGEN_FRAME_MAX];
	uint32_t flen[NFRAMES];
	pg_rand_bytes(&r, data, size);
	uint64_t fseed = pg_rand64(&r);
	struct agen ag;
	agen_init(&ag, fseed);
	for (int i = 0; i < NFRAMES; i++) {
		uint32_t n = (uint32_t)agen_next(&ag, frames[i]);
		if (n > ASH_MAX_DATA)
			n = ASH_MAX_DATA;
		if (i % 2 == 0 && n > ASH_ETH_HLEN)
			n = ASH_ETH_HLEN + (uint32_t)(fseed >> (8 * i)) %
			                       (n - ASH_ETH_HLEN + 1);
		flen[i] = n < ASH_ETH_HLEN ? ASH_ETH_HLEN : n;
	}
	struct pg_opts po = {0, 4};
	if (pg_generate(&r, &po, &img))
		return 0;
	struct vfy_ash_opts vo = {VFY_ASH_CTX_XDP, 0, 20000};
	struct vfy_ash_result vres;
	struct dpf_diag d = {{0}};
	int vrc = vfy_ash(&img, &vo, host, &vres, &d);
	if (vrc == DPF_ELIMIT) {
		pg_free(&img);
		return 0;
	}
	if (vrc) {
		fprintf(stderr, "fuzz_ash_gen: verifier refused a generated "
		        "program at insn %u: %s\n", vres.err_insn, d.msg);
		abort();
	}
	struct ash_env env = {host, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *p[3] = {NULL, NULL, NULL};
	for (int e = 0; e < 3; e++)
		if (ash_prog_new(&img, &vres, &env, &p[e], &d))
			fail("ash_prog_new failed", NULL, NULL);
	int jrc = ash_prog_jit(p[2], jit_mem_posix(), &d);
	if (jrc != 0 && jrc != DPF_ENOMEM)
		fail("the JIT refused a verified program", NULL, NULL);
	static struct outcome o[3];
	for (int i = 0; i < NFRAMES; i++) {
		for (int e = 0; e < 3; e++) {
			run(p[e], frames[i], flen[i], (enum ash_engine)e, &o[e]);
			if (o[e].rc)
				fail(o[e].msg, NULL, NULL);
		}
		if (!same(&o[0], &o[1]))
			fail("interp and checked disagree", &o[0], &o[1]);
		if (!same(&o[0], &o[2]))
			fail("interp and x86 disagree", &o[0], &o[2]);
	}
	char why[256];
	for (int e = 1; e < 3; e++)
		if (pg_maps_differ(p[0], p[e], why, sizeof why) > 0) {
			fprintf(stderr, "fuzz_ash_gen: engine %d: %s\n", e, why);
			abort();
		}
	for (int e = 0; e < 3; e++)
		ash_prog_free(p[e]);
	vfy_ash_free(&vres);
	pg_free(&img);
	return 0;
}
