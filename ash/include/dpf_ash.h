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
 * And DPF's own, declared below: dpf_ash_copy.  Any other helper is
 * refused by the verifier, which names it.
 *
 * DPF's own helpers
 *   Their numbers lie in DPF_ASH_HELPER_BASE .. DPF_ASH_HELPER_LAST,
 *   far outside Linux's range, so a handler using one compiles with
 *   clang -target bpf as any other and is simply refused by Linux's
 *   verifier ("invalid func unknown#65537"): it runs on DPF only.
 *
 * long dpf_ash_copy(struct xdp_md *ctx, __u32 off, void *dst, __u32 len,
 *                   __u64 ops)                            (helper 0x10001)
 *   Dynamic integrated layer processing: copies the len frame bytes at
 *   data + off into dst while applying ops, reading each byte once.
 *   Verifier rules (refusals name dpf_ash_copy and the argument):
 *     ctx  the unmodified context
 *     off  any scalar
 *     dst  a map value (array or hash value, or global data: .data,
 *          .bss; not .rodata) with [dst, dst + len) proven inside the
 *          value for every len the verifier allows
 *     len  a scalar proven in 0 .. value_size (as any helper's size)
 *     ops  low 32 bits a known constant: a set of DPF_COPY_* bits, not
 *          BSWAP16 with BSWAP32, no other bit; high 32 bits the XOR key
 *          (any value, known or not)
 *   Run time: when [off, off + len) is not inside data .. data_end the
 *   call returns -EINVAL (-22) and writes nothing.  Otherwise dst[i] for
 *   i < len is the frame byte data[off + i] transformed as follows, and
 *   the return value is the checksum with DPF_COPY_CSUM, else 0.
 *
 *   Bytes are taken in groups of 4 from the start of the copy: byte j of
 *   a group is data[off + 4g + j].  A last group shorter than 4 bytes
 *   (len % 4 != 0) is padded with zero bytes at its end, transformed like
 *   any other, and only its first len % 4 bytes are stored.  Each group,
 *   in this order:
 *     DPF_COPY_BSWAP16  bytes 0,1 and 2,3 exchanged (each 16-bit word
 *                       byte-swapped)
 *     DPF_COPY_BSWAP32  bytes 0..3 reversed (the 32-bit word swapped)
 *     DPF_COPY_XOR32    byte j XOR-ed with byte j of the key in network
 *                       order: key >> (24 - 8 * j) & 0xff, where key is
 *                       ops >> 32 (so a big-endian 32-bit word of the
 *                       result is the swapped word ^ key)
 *     DPF_COPY_CSUM     the Internet checksum (RFC 1071) of the frame
 *                       bytes as read, before any transformation:
 *                       16-bit words in network order, an odd last byte
 *                       padded with a zero byte, summed in ones'
 *                       complement and folded to 16 bits, NOT
 *                       complemented: a value in 0 .. 0xffff, 0 only
 *                       when every byte is 0 (an empty copy returns 0).
 *                       ~sum & 0xffff is what a header checksum field
 *                       holds; a received segment with its pseudo-header
 *                       checks out when the folded sum is 0xffff.
 *   The cost is one pass over the bytes (DPF's kernels are specialised
 *   per ops set), against two for a copy followed by a checksum.
 */
#ifndef DPF_ASH_BPF_H
#define DPF_ASH_BPF_H

#define DPF_ASH_HEADROOM 256
#define DPF_ASH_MAX_FRAME 3520

/* DPF's own helper numbers. */
#define DPF_ASH_HELPER_BASE 0x10000
#define DPF_ASH_HELPER_LAST 0x1ffff
#define DPF_ASH_HELPER_COPY 0x10001

/* dpf_ash_copy's ops: the low 32 bits. */
#define DPF_COPY_CSUM    0x1u
#define DPF_COPY_BSWAP16 0x2u
#define DPF_COPY_BSWAP32 0x4u
#define DPF_COPY_XOR32   0x8u
#define DPF_COPY_ALL     0xfu /* every defined bit */
/* The XOR key in ops' high 32 bits: DPF_COPY_XOR32 | DPF_COPY_KEY(k). */
#define DPF_COPY_KEY(k) ((unsigned long long)(unsigned int)(k) << 32)

#if defined(__bpf__)
static long (*dpf_ash_copy)(struct xdp_md *ctx, __u32 off, void *dst,
                            __u32 len, __u64 ops) =
	(void *)DPF_ASH_HELPER_COPY;
#endif

#endif
