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

/* The dpf_host allocator's arena (trie, filters, IR programs, JIT notes,
 * handlers: a third of it is one owner's handler quota). */
#define KSH_HEAP_BYTES (48u << 20)
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
/* Rings per owner: ring 0 is made with the owner, rings 1..KSH_RINGS-1 on
 * request (KSH_OP_RINGS), all from one pool of KSH_RING_POOL rings
 * (KSH_RING_SLOTS * KSH_FRAME_BYTES, about 390 KiB, each). */
#define KSH_RINGS 4u
#define KSH_RING_POOL (KSH_MAX_OWNERS + 8u)

/* Owner creation budget (KSH_OP_OWNER, ctl.c): a token bucket holding at
 * most KSH_OWNER_BURST creations, one token back every
 * KSH_OWNER_REFILL_MS of TSC time (none while the TSC rate is unknown).
 * It starts full at boot; OWNER without a token is refused (KSH_ERATE). */
#define KSH_OWNER_BURST 4u
#define KSH_OWNER_REFILL_MS 1000u

/* Filters: installed at once, and the largest filter id with a match
 * counter (ids are stable, reused after deletion).  bench_boot installs
 * 10,000 flow filters (ip.dst and udp.dport) with the x86 back end
 * attached. */
#define KSH_MAX_FILTERS 16384u
#define KSH_MAX_FILTER_IDS 32768u

/* Handlers (ash.c, ksh_proto.h ASH_*).  An image is received into the
 * owner's transfer buffer of KSH_ASH_IMAGE_MAX bytes; everything the
 * kernel allocates for an owner's handlers (the decoded image, the
 * verifier's working memory while it runs, its facts, the maps) is
 * charged against KSH_ASH_MEM_QUOTA, and their JIT code memory against
 * KSH_ASH_CODE_QUOTA (both per owner, released on detach).  A handler
 * whose proven worst case exceeds KSH_ASH_INSN_BUDGET instructions per
 * frame is refused.  At most KSH_ASH_MAX handlers are bound at once. */
#define KSH_ASH_IMAGE_MAX (256u << 10)
#define KSH_ASH_MEM_QUOTA (16u << 20)
#define KSH_ASH_CODE_QUOTA (1u << 20)
#define KSH_ASH_INSN_BUDGET 100000u
#define KSH_ASH_MAX 64u

/* Handlers' CPU budget over time (ash.c, ksh_proto.h "CPU budget"): each
 * owner's handlers may take KSH_ASH_CPU_PCT percent of the TSC's cycles
 * (tsc_hz / 1000 * KSH_ASH_CPU_PCT / 100 cycles per ms) in each window of
 * KSH_ASH_CPU_WINDOW_MS ms; windows follow one another from the owner's
 * first charged frame, and a revocation starts a fresh one.  The command
 * line's ash_cpu=CYCLES_PER_MS lowers the rate (never raises it).  With
 * the TSC rate unknown there is no budget.  Revocation notices wait in a
 * queue of KSH_ASH_NOTICES per owner. */
#define KSH_ASH_CPU_PCT 50u
#define KSH_ASH_CPU_WINDOW_MS 100u
#define KSH_ASH_NOTICES 8u

/* Kernel command line bytes kept. */
#define KSH_CMDLINE_MAX 256u

#endif
