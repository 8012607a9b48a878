/*
 * ash_linux.h - a handler object in the running kernel, for bench_ash:
 * loaded with libbpf, run with BPF_PROG_TEST_RUN, timed by the kernel.
 *
 * Kept apart from bench_ash.c because libbpf's headers clash with
 * libpcap's.
 */
#ifndef DPF_BENCH_ASH_LINUX_H
#define DPF_BENCH_ASH_LINUX_H

#include <stddef.h>
#include <stdint.h>

struct lnx_prog;

/* Open the clang -target bpf object at path and load its XDP program
 * (the only one) into the kernel, maps fresh.  NULL with the reason in
 * err ("bpf(): Operation not permitted", libbpf's message). */
struct lnx_prog *lnx_load(const char *path, char *err, size_t cap);
void lnx_free(struct lnx_prog *p);

/* One BPF_PROG_TEST_RUN: the frame (len bytes, 14..3520) copied in once,
 * the program run `repeat` times on it; *ns is the kernel's duration per
 * run, *action the last return value.  0, or -errno. */
int lnx_run(struct lnx_prog *p, const uint8_t *pkt, uint32_t len,
            uint32_t repeat, uint32_t *ns, uint32_t *action);

/* The value of /proc/sys/net/core/bpf_jit_enable, -1 when unreadable. */
int lnx_jit_enabled(void);

#endif
