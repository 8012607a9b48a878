/*
 * dpf_ash.h - what a DPF handler (ASH) may rely on.  Include it after
 * <linux/bpf.h> and <bpf/bpf_helpers.h> in a handler's C source; compile
 * with `clang -O2 -g -target bpf`.  A handler is an ordinary XDP program:
 * the same object loads unchanged into Linux.
 *
 * Program model
 *   Section "xdp" (or "xdp/NAME"), one function taking struct xdp_md *.
 *   ctx->data .. ctx->data_end is the frame (Ethernet header first);
 *   ctx->data_meta .. ctx->data its metadata (empty at entry);
 *   ctx->ingress_ifindex and ctx->rx_queue_index describe where it came
 *   from.  The context is read-only.
 *
 *   Return value and what DPF does with the frame:
 *     XDP_PASS      decline: normal delivery to the filter's owner
 *     XDP_DROP      consumed by the handler (counted, delivered nowhere)
 *     XDP_TX        the frame, as modified, is sent back out at once
 *     XDP_REDIRECT  delivered to the owner's ring given to bpf_redirect()
 *     XDP_ABORTED   delivered normally and counted as an abort; so is
 *                   every run-time failure: a handler never loses a frame
 *
 *   Room: 256 bytes of headroom (bpf_xdp_adjust_head/adjust_meta may move
 *   down to 40 bytes from the buffer start) and a frame may grow to 3520
 *   bytes (bpf_xdp_adjust_tail), exactly the limits of Linux's XDP test
 *   runs; metadata is at most 32 bytes, a multiple of 4.
 *
 * Verification (always Linux's unprivileged rules)
 *   Every packet access must be proven against data_end; map values
 *   against NULL; stack reads need earlier writes; pointers never reach
 *   maps, the packet or the return value; loops must be proven to end
 *   within 1,000,000 processed instructions; ring-buffer records are
 *   submitted or discarded on every path.
 *
 * Maps: BPF_MAP_TYPE_ARRAY, PERCPU_ARRAY, HASH, PERCPU_HASH, LRU_HASH and
 * RINGBUF, declared in SEC(".maps") with libbpf's __uint/__type macros;
 * global variables (.data, .bss, .rodata, `const volatile` knobs set with
 * `dpf ash run --set NAME=VALUE`).  Per-CPU maps have one CPU: CPU 0.
 *
 * Helpers: map_lookup_elem, map_update_elem, map_delete_elem,
 * ktime_get_ns, trace_printk, get_prandom_u32, get_smp_processor_id,
 * redirect (flags must be 0; the index names a ring of the owner),
 * csum_diff, xdp_adjust_head, xdp_adjust_meta, xdp_adjust_tail,
 * xdp_load_bytes, xdp_store_bytes, ringbuf_output, ringbuf_reserve,
 * ringbuf_submit, ringbuf_discard, loop; Linux's numbers and semantics.
 * Any other helper is refused by the verifier, which names it.
 */
#ifndef DPF_ASH_BPF_H
#define DPF_ASH_BPF_H

#define DPF_ASH_HEADROOM 256
#define DPF_ASH_MAX_FRAME 3520

#endif
