/*
 * peer.c - DPDK's librte_bpf behind peer.h; stubs that say why when
 * bench_ash is built without it.
 */
#include "bench/dpdk/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BENCH_HAVE_DPDK

#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "ash/ash_int.h"

/* DPDK numbers a program's calls by their place in prm.xsym: `call 28`
 * is xsym[28].  Index 28 is Linux's number for bpf_csum_diff, the one
 * helper a raw variant may call (raw_model.h); it runs DPF's own
 * ash_csum_diff, as DPF's engines do, so both sides pay for the same
 * helper.  DPDK's validator checks the buffers for DPK_CSUM_BYTES bytes
 * each: sizes past that are refused here as Linux refuses sizes that
 * are not whole words (-EINVAL). */
#define DPK_CSUM_INDEX 28
#define DPK_CSUM_BYTES 4

static uint64_t x_csum_diff(uint64_t from, uint64_t fs, uint64_t to,
                            uint64_t ts, uint64_t seed)
{
	if (fs > DPK_CSUM_BYTES || ts > DPK_CSUM_BYTES || fs % 4 || ts % 4)
		return (uint64_t)-22;
	return ash_csum_diff((const uint8_t *)(uintptr_t)from, (uint32_t)fs,
	                     (const uint8_t *)(uintptr_t)to, (uint32_t)ts,
	                     (uint32_t)seed);
}

/* Every other index: present because DPDK wants a table without holes,
 * never called (a raw variant calling another helper fails the check). */
static uint64_t x_unused(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
                         uint64_t e)
{
	(void)a, (void)b, (void)c, (void)d, (void)e;
	return (uint64_t)-22;
}

static struct rte_bpf_xsym xsyms[DPK_CSUM_INDEX + 1];

static void xsyms_init(void)
{
	for (int i = 0; i <= DPK_CSUM_INDEX; i++) {
		struct rte_bpf_xsym *x = &xsyms[i];
		x->name = "unused";
		x->type = RTE_BPF_XTYPE_FUNC;
		x->func.val = x_unused;
		x->func.nb_args = 0;
		x->func.ret.type = RTE_BPF_ARG_RAW;
		x->func.ret.size = sizeof(uint64_t);
	}
	struct rte_bpf_xsym *c = &xsyms[DPK_CSUM_INDEX];
	c->name = "bpf_csum_diff";
	c->func.val = x_csum_diff;
	c->func.nb_args = 5;
	for (int a = 0; a < 5; a++) {
		c->func.args[a].type = a == 0 || a == 2 ? RTE_BPF_ARG_PTR
		                                        : RTE_BPF_ARG_RAW;
		c->func.args[a].size = a == 0 || a == 2 ? DPK_CSUM_BYTES
		                                        : sizeof(uint32_t);
	}
}

struct dpk_prog {
	struct rte_bpf *bpf;
	uint64_t (*func)(void *);
};

int dpk_available(void)
{
	return 1;
}

struct dpk_prog *dpk_load(const char *path, const char *sname,
                          size_t arg_size, char *why, size_t cap)
{
	static int ready;
	if (!ready) {
		/* refusals (errors) on stderr; not the line per program */
		rte_openlog_stream(stderr);
		rte_log_set_global_level(RTE_LOG_NOTICE);
		xsyms_init();
		ready = 1;
	}
	struct rte_bpf_prm prm;
	memset(&prm, 0, sizeof prm);
	prm.xsym = xsyms;
	prm.nb_xsym = DPK_CSUM_INDEX + 1;
	prm.prog_arg.type = RTE_BPF_ARG_PTR;
	prm.prog_arg.size = arg_size;
	struct rte_bpf *bpf = rte_bpf_elf_load(&prm, path, sname);
	if (!bpf) {
		snprintf(why, cap, "rte_bpf_elf_load %s section %s: %s", path,
		         sname, rte_strerror(rte_errno));
		return NULL;
	}
	struct rte_bpf_jit jit;
	memset(&jit, 0, sizeof jit);
	if (rte_bpf_get_jit(bpf, &jit) != 0 || !jit.func) {
		snprintf(why, cap, "%s: DPDK's JIT did not compile section %s",
		         path, sname);
		rte_bpf_destroy(bpf);
		return NULL;
	}
	struct dpk_prog *p = malloc(sizeof *p);
	if (!p) {
		snprintf(why, cap, "out of memory");
		rte_bpf_destroy(bpf);
		return NULL;
	}
	p->bpf = bpf;
	p->func = jit.func;
	return p;
}

uint64_t dpk_run(const struct dpk_prog *p, void *mem)
{
	return p->func(mem);
}

uint64_t dpk_exec(const struct dpk_prog *p, void *mem)
{
	return rte_bpf_exec(p->bpf, mem);
}

void dpk_free(struct dpk_prog *p)
{
	if (!p)
		return;
	rte_bpf_destroy(p->bpf);
	free(p);
}

#else /* !BENCH_HAVE_DPDK */

int dpk_available(void)
{
	return 0;
}

struct dpk_prog *dpk_load(const char *path, const char *sname,
                          size_t arg_size, char *why, size_t cap)
{
	(void)path, (void)sname, (void)arg_size;
	snprintf(why, cap, "%s", DPK_ABSENT);
	return NULL;
}

uint64_t dpk_run(const struct dpk_prog *p, void *mem)
{
	(void)p, (void)mem;
	abort();
}

uint64_t dpk_exec(const struct dpk_prog *p, void *mem)
{
	(void)p, (void)mem;
	abort();
}

void dpk_free(struct dpk_prog *p)
{
	(void)p;
}

#endif
