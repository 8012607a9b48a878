/*
 * linux/bpf.h shadowed for the native build of the handlers (bpf_shim.h):
 * the XDP actions, map types and update flags with Linux's numbers, and
 * struct xdp_md with pointer-sized fields (native.h).
 */
#ifndef DPF_BENCH_SHIM_LINUX_BPF_H
#define DPF_BENCH_SHIM_LINUX_BPF_H

#include <linux/types.h>

#include "../../native.h"

enum xdp_action {
	XDP_ABORTED = 0,
	XDP_DROP,
	XDP_PASS,
	XDP_TX,
	XDP_REDIRECT,
};

enum bpf_map_type {
	BPF_MAP_TYPE_UNSPEC = 0,
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

#endif
