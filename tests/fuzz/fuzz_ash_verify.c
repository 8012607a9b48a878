/*
 * fuzz_ash_verify.c - libFuzzer harness: handler programs against the
 * verifier and the checked interpreter, the soundness test of the
 * verifier.
 *
 * Input: a program image in its binary form (starts with "ASHI"), or
 *   byte 0      mode: bit 0 set = XDP context, clear = raw memory
 *   byte 1      length of the frame or memory that follows (0..255)
 *   ...         that many bytes of frame / memory
 *   the rest    instructions (8 bytes each), in an image with three maps:
 *               0 "arr" ARRAY 4 -> 16 x 4, 1 "tab" HASH 8 -> 8 x 16,
 *               2 "rb" RINGBUF 4096, 3 ".data" global data (32 bytes)
 * Whatever the verifier accepts runs on the interpreter, in checked
 * mode and as x86 code (jit/ash_x86.c), twice in a row (maps keep
 * state).
 *
 * Checks: no crash, leak, hang or read out of bounds; never a verifier
 * escape (an access the verifier allowed outside the real object) and
 * never the instruction budget exceeded (the verifier's worst case is a
 * bound); the JIT never refuses a verified program; the three engines
 * give the same rc, action, r0 and frame (and x86 the interpreter's
 * fault), and after both rounds every map holds the same contents in
 * all three runtimes (arrays by index, hashes by key, ring buffers
 * record by record: pg_maps_differ, tests/ash/progen.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "jit/jit.h"
#include "tests/ash/progen.h"
#include "verifier/vfy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ash_map_def maps[] = {
	{"arr", ASH_MAP_ARRAY, ASH_MAPK_USER, 4, 16, 4, 0, 0, 0},
	{"tab", ASH_MAP_HASH, ASH_MAPK_USER, 8, 8, 16, 0, 0, 0},
	{"rb", ASH_MAP_RINGBUF, ASH_MAPK_USER, 0, 0, 4096, 0, 0, 0},
	{".data", ASH_MAP_ARRAY, ASH_MAPK_DATA, 4, 32, 1, 0, 0, 32},
};

static uint8_t gdata[32] = {1, 2, 3, 4, 5, 6, 7, 8};

struct outcome {
	int rc, action, fault;
	uint64_t r0;
	uint32_t len;
	uint8_t bytes[ASH_FRAME_SIZE];
};

static void run(struct ash_prog *p, int xdp, const uint8_t *in, uint32_t n,
                enum ash_engine eng, struct outcome *o)
{
	static uint8_t buf[ASH_FRAME_SIZE] __attribute__((aligned(64)));
	struct ash_result res;
	memset(o, 0, sizeof *o);
	if (xdp) {
		struct ash_xdp x;
		ash_xdp_init(&x, buf, in, n);
		o->rc = ash_run_xdp(p, &x, eng, &res);
		o->len = x.data_end - x.data_meta;
		memcpy(o->bytes, buf + x.data_meta, o->len);
	} else {
		uint8_t mem[256];
		memcpy(mem, in, n);
		o->rc = ash_run_mem(p, mem, n, eng, &res);
		o->len = n;
		memcpy(o->bytes, mem, n);
	}
	o->action = res.action;
	o->fault = o->rc ? res.fault : 0;
	o->r0 = res.r0;
	if (o->fault == ASH_FAULT_ESCAPE || o->fault == ASH_FAULT_BUDGET)
		abort(); /* the verifier was wrong */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dpf_host *host = dpf_host_libc();
	struct ash_image *img = NULL, local;
	struct dpf_diag d = {{0}};
	int xdp = 1;
	const uint8_t *in = NULL;
	uint32_t n = 0;
	uint8_t frame[ASH_ETH_HLEN + 64] = {0};
	if (ash_image_is(data, size)) {
		if (ash_image_read(host, data, size, &img, &d) != 0)
			return 0;
		in = frame;
		n = sizeof frame;
	} else {
		if (size < 2)
			return 0;
		xdp = data[0] & 1;
		n = data[1];
		if (size < 2u + n)
			return 0;
		in = data + 2;
		size_t rest = size - 2 - n;
		if (rest < 8 || rest / 8 > 4096)
			return 0;
		if (xdp && n < ASH_ETH_HLEN)
			return 0;
		memset(&local, 0, sizeof local);
		strcpy(local.prog, "fuzz");
		local.ninsns = (uint32_t)(rest / 8);
		local.insns = malloc(local.ninsns * sizeof *local.insns);
		if (!local.insns)
			return 0;
		memcpy(local.insns, data + 2 + n, local.ninsns * 8);
		local.nmaps = 4;
		local.maps = (struct ash_map_def *)maps;
		local.ndata = sizeof gdata;
		local.data = gdata;
		img = &local;
	}
	struct vfy_ash_opts o = {xdp ? VFY_ASH_CTX_XDP : VFY_ASH_CTX_MEM, n,
	                         100000};
	struct vfy_ash_result res;
	if (vfy_ash(img, &o, host, &res, &d) == 0) {
		struct ash_env env = {host, NULL, NULL, NULL, NULL, 1, 0};
		struct ash_prog *pa = NULL, *pb = NULL, *pc = NULL;
		if (ash_prog_new(img, &res, &env, &pa, &d) == 0 &&
		    ash_prog_new(img, &res, &env, &pb, &d) == 0 &&
		    ash_prog_new(img, &res, &env, &pc, &d) == 0) {
			int jrc = ash_prog_jit(pc, jit_mem_posix(), &d);
			if (jrc != 0 && jrc != DPF_ENOMEM)
				abort(); /* the JIT refused a verified program */
			static struct outcome a, b, c;
			for (int round = 0; round < 2; round++) {
				run(pa, xdp, in, n, ASH_ENGINE_INTERP, &a);
				run(pb, xdp, in, n, ASH_ENGINE_CHECKED, &b);
				run(pc, xdp, in, n, ASH_ENGINE_X86, &c);
				if (a.rc != b.rc || a.action != b.action ||
				    a.r0 != b.r0 || a.len != b.len ||
				    memcmp(a.bytes, b.bytes, a.len))
					abort(); /* the engines disagree */
				if (a.rc != c.rc || a.action != c.action ||
				    a.r0 != c.r0 || a.fault != c.fault ||
				    a.len != c.len || memcmp(a.bytes, c.bytes, a.len))
					abort(); /* the JIT disagrees */
			}
			char why[256];
			if (pg_maps_differ(pa, pb, why, sizeof why) > 0 ||
			    pg_maps_differ(pa, pc, why, sizeof why) > 0) {
				fprintf(stderr, "fuzz_ash_verify: %s\n", why);
				abort(); /* the maps disagree */
			}
		}
		if (pa)
			ash_prog_free(pa);
		if (pb)
			ash_prog_free(pb);
		if (pc)
			ash_prog_free(pc);
		vfy_ash_free(&res);
	}
	if (img == &local)
		free(local.insns);
	else
		ash_image_free(host, img);
	return 0;
}
