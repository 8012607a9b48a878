/*
 * raw_model.h - an ash/examples handler in the raw-memory model, for
 * peers that give a program one pointer and nothing else (DPDK's
 * librte_bpf) and for DPF's own raw mode (ash_run_mem).
 *
 * A wrapper bench/dpdk/NAME.c includes this header, then the example's
 * own source unchanged, then says RAW_ENTRY(NAME).  The handler's text is
 * the XDP one; only two things differ, both by the preprocessor:
 *   - struct xdp_md has 64-bit data, data_end and data_meta fields (the
 *     kernel's header is included under another name first, so the
 *     example's #include <linux/bpf.h> adds nothing), because here they
 *     hold real addresses, not offsets the kernel rewrites;
 *   - a second program, NAME_raw in section "xdp/raw", is the entry: r1
 *     points at a block laid out as struct raw_frame (the frame's length
 *     as a 64-bit word, then the frame's bytes); it builds a context
 *     whose data is the frame and data_end its end, and calls the
 *     handler, which the flatten attribute inlines, so the section is one
 *     self-contained function without calls or relocations.
 * r0 is the handler's XDP action; the frame is changed in place.
 * Compiled for the host through bench/native instead (NATIVE_RESET
 * defined, as bpf_shim.h wants), the same entry is a C function of the
 * block, the natively compiled limit for the same code.  The length is
 * read from memory, not from r2, because DPDK passes only r1: both its
 * entry points take one argument (rte_bpf_exec(bpf, ctx) and the JIT's
 * uint64_t (*)(void *)); a second argument given to the JIT's function
 * would reach r2 only through its x86 register assignment, and the
 * interpreter would not see it at all.  A length
 * over RAW_MAX_DATA is answered XDP_ABORTED without running the handler:
 * the bound is what lets a verifier prove every access inside the
 * block.
 *
 * Only handlers that read and write the frame's bytes fit: no maps, no
 * change of the frame's length or metadata, no helper but
 * bpf_csum_diff on buffers of up to 4 bytes (peer.c gives DPDK that one,
 * running DPF's own implementation).  Of ash/examples, udp_echo and
 * icmp_echo; the others keep state in maps or global data (bounded_loop,
 * counters, flow_table, lru_flows, subprogs, global_data, ringbuf,
 * bpf_loop, truncate), change the frame's bounds (vlan_pop, meta,
 * truncate) or call XDP helpers (redirect, load_store).
 */
#ifndef BENCH_DPDK_RAW_MODEL_H
#define BENCH_DPDK_RAW_MODEL_H

#ifdef NATIVE_RESET
/* compiled for the host through bench/native: its struct xdp_md holds
 * addresses already */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#else
#define xdp_md xdp_md_kernel
#include <linux/bpf.h>
#undef xdp_md
#include <bpf/bpf_helpers.h>

struct xdp_md {
	__u64 data;
	__u64 data_end;
	__u64 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};
#endif

#define RAW_MAX_DATA 3520 /* ASH_MAX_DATA */

struct raw_frame {
	__u64 len;
	__u8 data[RAW_MAX_DATA];
};

#define RAW_ENTRY(name)                                                   \
	SEC("xdp/raw") __attribute__((flatten)) int name##_raw(void *blk)  \
	{                                                                 \
		struct raw_frame *f = blk;                                    \
		struct xdp_md md = {0};                                       \
		__u64 len = f->len;                                           \
		if (len > RAW_MAX_DATA)                                       \
			return XDP_ABORTED;                                       \
		md.data = (__u64)(long)f->data;                               \
		md.data_end = (__u64)(long)(f->data + len);                   \
		md.data_meta = md.data;                                       \
		md.ingress_ifindex = 1;                                       \
		return name(&md);                                             \
	}

#endif
