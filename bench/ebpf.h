/*
 * ebpf.h - DPF filters as Linux eBPF, for the benchmark's eBPF peers.
 *
 * The code is generated here from the filter IR, as tc (SCHED_CLS)
 * programs, whose packet starts at the Ethernet header, that the running
 * kernel verifies, JIT-compiles and runs through BPF_PROG_TEST_RUN.  (Not
 * XDP: an XDP test run with repeat > 1 swaps the program into the XDP
 * dispatcher and waits for an RCU grace period, twice per call.)  Each path is a straight
 * run of atoms; each atom checks its bytes against data_end and fails the
 * path when they lie past it, so truncated packets mean what they mean to
 * the interpreter.  Multi-byte fields are compared raw against constants
 * pre-swapped to packet byte order; a SHIFT's field is swapped to host
 * order, masked and shifted into the base register (bounded, for the
 * verifier, at EBPF_BASE_MAX: no packet BPF_PROG_TEST_RUN accepts is that
 * long).
 */
#ifndef DPF_BENCH_EBPF_H
#define DPF_BENCH_EBPF_H

#include <stddef.h>
#include <stdint.h>

#include "dpf/dpf.h"

#define EBPF_BASE_MAX 0x3fff

/* Instructions (struct bpf_insn of <linux/bpf.h>, which clashes with
 * libpcap's classic struct bpf_insn: users of both see only this). */
struct ebpf_code {
	void *insn;
	uint32_t n, cap;
};

/* One filter: returns 1 when some path matches, else 0. */
void ebpf_gen_filter(struct ebpf_code *c, const struct dpf_filter *f);
/* Every filter of prog as one program: the paths in DPF's order
 * (priority, then specificity, highest first), so the first that matches
 * is DPF's answer; it returns 1 + the index of its filter in prog, 0 for
 * no match.  The running kernel refuses a program of more than about
 * 30,000 instructions once verified, so a larger set is cut into
 * segments of about EBPF_SEG_INSNS, each ending in a tail call to the
 * next through a program array: one test run of the entry runs the
 * chain (the array holds EBPF_MAX_SEGS slots).  ebpf_load_all returns
 * the entry's fd, or -1 with the reason in why; ebpf_chain_close closes
 * every program and the array. */
#define EBPF_SEG_INSNS 16000u
#define EBPF_MAX_SEGS 33u /* the kernel's limit on chained tail calls */
struct ebpf_chain {
	int entry, map;   /* map: the program array, -1 for one segment */
	int *fds;
	uint32_t n;       /* segments loaded */
	uint32_t insns;   /* in all */
};
int ebpf_load_all(struct ebpf_chain *ch, const struct dpf_prog *prog,
                  char *why, size_t cap);
void ebpf_chain_close(struct ebpf_chain *ch);
/* return 0: what one BPF_PROG_TEST_RUN costs with no work in it. */
void ebpf_gen_empty(struct ebpf_code *c);
void ebpf_code_free(struct ebpf_code *c);

/* Load as SCHED_CLS: a program fd, or -1 with the reason (the verifier's last
 * words when it refuses) in why. */
int ebpf_load(const struct ebpf_code *c, char *why, size_t cap);
/* One BPF_PROG_TEST_RUN of `repeat` runs on pkt: 0 with the program's
 * return value and the kernel's average ns per run, or -errno. */
int ebpf_run(int fd, const uint8_t *pkt, uint32_t len, uint32_t repeat,
             uint32_t *ret, uint32_t *ns);

/* libbpf's version; and keep libbpf's own messages off stderr (every
 * failure is reported with its reason anyway). */
const char *ebpf_version(void);
void ebpf_quiet(void);

#endif
