/*
 * peer.h - DPDK's eBPF engine (librte_bpf) as a peer of DPF's handler
 * engines in bench_ash.
 *
 * dpk_load() reads one section of a clang `-target bpf` object with
 * rte_bpf_elf_load, for a program that takes one argument: a pointer to
 * arg_size bytes (RTE_BPF_ARG_PTR), as the raw-memory model of
 * raw_model.h wants; DPDK's own validator checks it there.  The program
 * must have been compiled by DPDK's x86 JIT (rte_bpf_get_jit):
 * dpk_run() calls the JIT's function as DPDK declares it, with the one
 * argument, and returns r0.  No EAL initialisation is needed: librte_bpf
 * takes its memory with mmap and malloc and logs through rte_log, which
 * writes to stderr before the EAL exists.
 *
 * Built without DPDK (BENCH_HAVE_DPDK undefined), dpk_load() always
 * fails with DPK_ABSENT as the reason, so callers print why the column
 * is empty instead of leaving it out.
 */
#ifndef BENCH_DPDK_PEER_H
#define BENCH_DPDK_PEER_H

#include <stddef.h>
#include <stdint.h>

#define DPK_ABSENT "n/a (dpdk-dev not installed)"

struct dpk_prog;

/* 1 when bench_ash was built with librte_bpf. */
int dpk_available(void);

/* The program of section sname in the object at path, validated for a
 * pointer to arg_size bytes and compiled to x86; NULL with why (up to
 * cap bytes) when DPDK is absent, refuses it, or cannot compile it. */
struct dpk_prog *dpk_load(const char *path, const char *sname,
                          size_t arg_size, char *why, size_t cap);

/* r0 of one run of the JIT-compiled program on mem (arg_size bytes). */
uint64_t dpk_run(const struct dpk_prog *p, void *mem);

/* r0 of one run through DPDK's interpreter (rte_bpf_exec), for
 * checking. */
uint64_t dpk_exec(const struct dpk_prog *p, void *mem);

void dpk_free(struct dpk_prog *p);

#endif
