/*
 * param.h - every static limit of the kernel-shim, in one place.
 *
 * The kernel has no malloc: each pool below is a static array (or a range
 * of page frames) whose size is fixed here, and running out of one is an
 * error the caller reports (KSH_ENOSPC on the control channel), never a
 * silent loss.
 */
#ifndef KSH_PARAM_H
#define KSH_PARAM_H

#define KSH_PAGE 4096u

/* Boot stack (also the stack exceptions run on). */
#define KSH_STACK_BYTES (64 << 10) /* no suffix: boot.S uses it */

/* The dpf_host allocator's arena (trie, filters, IR programs, JIT notes). */
#define KSH_HEAP_BYTES (32u << 20)
/* Largest single allocation the heap serves (power of two). */
#define KSH_HEAP_MAX_BLOCK (4u << 20)

/* Physical memory the frame allocator manages at most (it takes what the
 * boot loader reports, up to this). */
#define KSH_PHYS_MAX (1ull << 32)

/* JIT code windows: virtual bytes reserved for each of the two views, and
 * freed ranges remembered for reuse. */
#define KSH_JIT_VA_BYTES (1ull << 30)
#define KSH_JIT_HOLES 256u

/* NIC descriptor rings (multiples of 8: the ring length must be a
 * multiple of 128 bytes) and their buffers. */
#define KSH_RX_DESC 256u
#define KSH_TX_DESC 256u
#define KSH_BUF_BYTES 2048u /* RCTL.BSIZE = 2048 */
#define KSH_RX_BATCH 32u    /* RX descriptors handed back per RDT write */

/* Owners and their packet rings. */
#define KSH_MAX_OWNERS 8u
#define KSH_RING_SLOTS 256u   /* frames per owner ring (power of two) */
#define KSH_FRAME_BYTES 1518u /* largest frame a ring slot holds */

/* Owner creation budget (KSH_OP_OWNER, ctl.c): a token bucket holding at
 * most KSH_OWNER_BURST creations, one token back every
 * KSH_OWNER_REFILL_MS of TSC time (none while the TSC rate is unknown).
 * It starts full at boot; OWNER without a token is refused (KSH_ERATE). */
#define KSH_OWNER_BURST 4u
#define KSH_OWNER_REFILL_MS 1000u

/* Filters: installed at once, and the largest filter id with a match
 * counter (ids are stable, reused after deletion). */
#define KSH_MAX_FILTERS 8192u
#define KSH_MAX_FILTER_IDS 16384u

/* Kernel command line bytes kept. */
#define KSH_CMDLINE_MAX 256u

#endif
