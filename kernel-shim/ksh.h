/*
 * ksh.h - the kernel-shim's private interface: the kernel state and the
 * functions each file provides.  (The public interface of this directory
 * is ksh_proto.h, the control protocol.)
 *
 * Single CPU, no interrupts: the main loop in main.c polls the NIC, and
 * everything runs to completion in that one thread, so no state below
 * needs a lock.  The network path's state lives in one struct ksh threaded
 * through the calls; what exists once per machine stays private to its
 * file (the frame allocator and page tables in mm.c, the heap arena, the
 * NIC's descriptor rings and buffers, the IDT), and the devices (serial
 * port, exit port) are reached directly.
 */
#ifndef KSH_KSH_H
#define KSH_KSH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "dpf/dpf.h"
#include "jit/jit.h"
#include "verifier/vfy.h"
#include "kernel-shim/ksh_proto.h"
#include "kernel-shim/param.h"

/* ---- exit statuses: QEMU's isa-debug-exit gives (code << 1) | 1 ---- */
#define KSH_EXIT_OK 0x00          /* status 1 */
#define KSH_EXIT_PANIC 0x02       /* status 5 */
#define KSH_EXIT_SELFTEST_OK 0x10 /* status 33 */
#define KSH_EXIT_SELFTEST_FAIL 0x11 /* status 35 */
#define KSH_EXIT_TRAP 0x40        /* + vector: status 129 + 2 * vector */

/* ---- panic.c ---- */
__attribute__((noreturn)) void ksh_exit(uint32_t code);
__attribute__((noreturn, format(printf, 1, 2))) void ksh_panic(const char *fmt,
                                                                 ...);

/* ---- fmt.c: printf formatting into a sink ---- */
struct ksh_sink {
	void (*putc)(char c); /* each character, or NULL: into buf */
	char *buf;
	size_t cap, n;        /* n counts every character, kept or not */
};
void ksh_format(struct ksh_sink *s, const char *fmt, va_list ap);
/* printf into buf (always NUL-terminated); returns the length written. */
int ksh_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4))) int ksh_snprintf(char *buf, size_t cap,
                                                       const char *fmt, ...);

/* ---- serial.c: COM1, 115200 8N1, polled ---- */
void ksh_serial_init(void);
void ksh_putc(char c);
void ksh_vprintf(const char *fmt, va_list ap);
__attribute__((format(printf, 1, 2))) void ksh_printf(const char *fmt, ...);

/* ---- idt.c ---- */
void ksh_idt_init(void);

/* ---- mm.c: page frames, page tables, JIT code memory ---- */
#define KSH_PTE_W (1ull << 1)
#define KSH_PTE_NX (1ull << 63)
void ksh_mm_init(uint64_t mem_top);
/* One zeroed 4 KiB frame (identity-mapped), or NULL. */
void *ksh_frame_alloc(void);
void ksh_frame_free(void *frame);
uint64_t ksh_frames_free(void);
/* Map one 4 KiB page; flags: KSH_PTE_W, KSH_PTE_NX.  0, or -1 when out of
 * frames for page tables. */
int ksh_map_page(uint64_t va, uint64_t pa, uint64_t flags);
void ksh_unmap_page(uint64_t va);
/* The page-table entry that maps va (0 when unmapped); for tests. */
uint64_t ksh_pte(uint64_t va);
const struct jit_mem *ksh_jit_mem(void);

/* ---- heap.c: the struct dpf_host allocator over a static arena ---- */
const struct dpf_host *ksh_heap(void);
uint64_t ksh_heap_used(void); /* bytes handed out and not freed */

/* ---- tsc.c ---- */
uint64_t ksh_tsc_calibrate(void); /* TSC ticks per second, by the PIT */

/* ---- pci.c: configuration mechanism #1 ---- */
struct ksh_pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint64_t bar0; /* memory BAR 0, physical */
};
uint32_t ksh_pci_read(const struct ksh_pci_dev *d, uint8_t off);
void ksh_pci_write(const struct ksh_pci_dev *d, uint8_t off, uint32_t v);
/* First device matching vendor and one of ndev device ids: 0, or -1. */
int ksh_pci_find(uint16_t vendor, const uint16_t *devs, int ndev,
                 struct ksh_pci_dev *out);

/* ---- e1000.c: 82540EM (e1000) / 82574L (e1000e), legacy descriptors ---- */
struct ksh_nic {
	volatile uint8_t *mmio;
	uint16_t device;
	uint8_t mac[6];
	void *rx, *tx; /* descriptor rings */
	uint32_t rx_next;  /* next RX descriptor the NIC fills */
	uint32_t rx_unreturned; /* consumed, not yet handed back (RDT) */
	uint32_t tx_tail;  /* next TX descriptor we fill */
	uint64_t missed;   /* MPC, accumulated (the register clears on read) */
	/* TSC cycles of the last TDT and RDT writes, and RDT writes so far */
	uint64_t tdt_cycles, rdt_cycles;
	uint32_t rdt_writes;
};
int ksh_nic_init(struct ksh_nic *n, const struct ksh_pci_dev *d);
/* The next received frame, when its descriptor is done: 1 and *frame,
 * *len, *bad (descriptor errors or not one whole frame) set; else 0.  The
 * frame stays valid until ksh_nic_rx_done. */
int ksh_nic_rx_peek(struct ksh_nic *n, const uint8_t **frame, uint32_t *len,
                    int *bad);
/* The frame is consumed; its descriptor goes back to the NIC at the
 * latest with the next ksh_nic_rx_return. */
void ksh_nic_rx_done(struct ksh_nic *n);
/* Hand every consumed descriptor back to the NIC (one RDT write). */
void ksh_nic_rx_return(struct ksh_nic *n);
/* Transmit a copy of the frame (padded to 60 bytes): 0, or -1 when it is
 * too long or the ring stays full. */
int ksh_nic_tx(struct ksh_nic *n, const uint8_t *frame, uint32_t len);
/* 1 when the NIC has sent everything queued (TDH == TDT). */
int ksh_nic_tx_idle(struct ksh_nic *n);
uint64_t ksh_nic_missed(struct ksh_nic *n);

/* ---- ring.c: an owner's packet ring, single producer/consumer ---- */
struct ksh_ring {
	uint32_t head, tail; /* free-running: tail - head frames queued */
	uint16_t len[KSH_RING_SLOTS];
	uint64_t t_seen[KSH_RING_SLOTS]; /* TSC the frame was seen (latency) */
	struct ksh_ring_counters cnt;    /* queued is filled in on reading */
	uint8_t buf[KSH_RING_SLOTS][KSH_FRAME_BYTES];
};
void ksh_ring_init(struct ksh_ring *r);
int ksh_ring_put(struct ksh_ring *r, const uint8_t *frame, uint32_t len);
/* ksh_ring_put, the slot keeping t_seen. */
int ksh_ring_put_seen(struct ksh_ring *r, const uint8_t *frame, uint32_t len,
                      uint64_t t_seen);
/* The oldest frame: 1 with frame and len set, or 0 when empty. */
int ksh_ring_peek(const struct ksh_ring *r, const uint8_t **frame,
                  uint32_t *len);
/* t_seen of the oldest frame (the ring is not empty). */
uint64_t ksh_ring_seen(const struct ksh_ring *r);
void ksh_ring_pop(struct ksh_ring *r);
uint32_t ksh_ring_count(const struct ksh_ring *r);
/* A ring of the pool (KSH_RING_POOL), initialised, or NULL when every
 * one is taken; rings are never given back. */
struct ksh_ring *ksh_ring_take(void);
uint32_t ksh_ring_pool_free(void);
/* Every ring back in the pool (ksh_owners_init: no owner is left). */
void ksh_ring_pool_reset(void);

/* ---- the kernel state ---- */

/* A handler bound to a filter (ash.c). */
struct ksh_ash {
	uint32_t live;
	uint32_t owner;
	int32_t filter;
	struct ash_image *img;
	struct vfy_ash_result vres;
	struct ash_prog *prog;
	struct ksh_ash_counters cnt;
};

struct ksh_owner {
	uint32_t live;
	uint64_t cap;
	uint32_t last_seq; /* highest request seq accepted under cap */
	uint32_t echo;  /* stand-in application: retransmit what it takes */
	uint32_t drain; /* frames it takes per poll, 0 = all */
	/* its packet rings: ring[0] from creation, up to KSH_RINGS (RINGS) */
	struct ksh_ring *ring[KSH_RINGS];
	uint32_t nrings;
	uint64_t redirect_missing; /* REDIRECTs to a ring it has not */
	/* IR staged by its KSH_OP_IR chunks, installed by its KSH_OP_INSERT */
	uint32_t stage_len, stage_total;
	uint8_t stage[KSH_IR_MAX];
	/* the handler image being received (ASH_BEGIN .. ASH_COMMIT) */
	uint32_t ash_begun, ash_len, ash_total, ash_crc;
	int32_t ash_filter;
	uint8_t ash_buf[KSH_ASH_IMAGE_MAX];
	/* memory charged to its handlers (quotas in param.h) */
	uint64_t ash_mem, ash_code;
	struct dpf_host ash_host; /* allocates from the heap, charged */
	struct jit_mem ash_jit;   /* JIT code memory, charged */
	/* the CPU budget (param.h): cycles charged in the window from
	 * cpu_start; revocation notices, queued for ASH_NOTICES and sent to
	 * mac, the source of its last accepted request */
	uint64_t cpu_start, cpu_used;
	struct ksh_ash_notice notice[KSH_ASH_NOTICES];
	uint32_t notice_head, notice_n, notice_seq;
	uint64_t notice_lost;
	uint8_t mac[6];
};

struct ksh {
	struct ksh_nic nic;
	struct dpf_engine *engine;
	uint64_t tsc_hz;
	uint64_t tsc_c_entry;  /* TSC at the first line of C */
	uint64_t boot_cycles;  /* first line of C to the first RX poll */
	/* owners[i] is owner id i + 1; owner 0 is nobody */
	struct ksh_owner owners[KSH_MAX_OWNERS];
	uint32_t nowners;
	uint64_t cap_key[2];  /* SipHash key capabilities are drawn under */
	uint64_t cap_count;   /* capabilities drawn so far */
	int cap_weak;         /* 1: the key had no RDRAND and no seed= */
	uint64_t admit;       /* the admission credential (admit=) */
	int admit_set;        /* 0: no admit= given: nothing can present it */
	uint32_t admit_seq;   /* highest request seq accepted under it */
	uint32_t owner_tokens;     /* OWNER budget left (param.h) */
	uint64_t owner_refill_tsc; /* TSC of the last token given back */
	struct ksh_stats st;
	uint64_t matches[KSH_MAX_FILTER_IDS];   /* verdicts per filter id */
	uint32_t owner_of[KSH_MAX_FILTER_IDS];  /* installing owner per id, 0 none */
	uint32_t nfilters;                      /* installed through the channel */
	/* handlers: ash_of[id] is 1 + the slot of filter id's handler, 0 none */
	struct ksh_ash ash[KSH_ASH_MAX];
	uint8_t ash_of[KSH_MAX_FILTER_IDS];
	uint64_t ash_rand;                      /* prandom state */
	/* ksh_tx: the TSC just after the last transmit's TDT write */
	uint64_t tx_tsc;
	/* ksh_ash_hook: a REDIRECT's bpf_redirect index, else
	 * KSH_REDIRECT_NONE (demux.c sets it before the hook) */
	uint64_t redirect_ring;
	/* latency histograms, per path (ksh_proto.h KSH_LAT_*) */
	struct ksh_lat_hist {
		uint64_t sum, min, max;
		uint32_t count[KSH_LAT_BUCKETS];
	} lat[KSH_LAT_PATHS];
	/* handlers' CPU budget per owner and window, in TSC cycles (0: none) */
	uint64_t ash_cpu_budget, ash_cpu_window;
};
#define KSH_REDIRECT_NONE (~0ull)

/* ---- owner.c: owners, capabilities, the stand-in applications ---- */
/* seed: the 16 bytes of the command line's seed= (host entropy), or
 * NULL.  The capability key mixes it with RDRAND when the CPU has it;
 * with neither, capabilities are guessable and cap_weak says so.  admit:
 * the 8 bytes of admit= (the admission credential), or NULL: then no
 * request can present the admission credential. */
void ksh_owners_init(struct ksh *k, const uint8_t *seed, const uint8_t *admit);
/* 1 when cap is the admission credential. */
int ksh_admit_ok(const struct ksh *k, uint64_t cap);
/* Take one token of the owner-creation budget: 1, or 0 when none is
 * left. */
int ksh_owner_budget(struct ksh *k);
/* A new owner: its id (>= 1) and *cap, or 0 when the pool is full. */
uint32_t ksh_owner_new(struct ksh *k, uint64_t *cap);
/* The owner the credential names, or NULL unless cap is its capability. */
struct ksh_owner *ksh_owner_auth(struct ksh *k, uint32_t owner, uint64_t cap);
struct ksh_owner *ksh_owner_get(struct ksh *k, uint32_t owner);
/* Every owner's stand-in application takes frames off its rings. */
void ksh_apps_run(struct ksh *k);
/* Give o rings up to want in all (ksh_proto.h RINGS): KSH_OK, or
 * KSH_EINVAL (want past KSH_RINGS) / KSH_ENOSPC (pool empty: none
 * taken). */
int32_t ksh_owner_rings(struct ksh *k, struct ksh_owner *o, uint32_t want);
/* o's rings and their counters, as RINGS replies. */
void ksh_owner_rings_read(const struct ksh_owner *o, struct ksh_rings *out);

/* ---- ash.c: application-specific handlers ---- */
/* What the hook did with a frame: NONE, no handler (deliver the frame as
 * received); CONSUMED, the handler took it (DROP, or TX sent); DELIVER,
 * deliver *frame, *len (the handler's frame, or the original after an
 * abort) to the owner's ring. */
enum { KSH_ASH_NONE = 0, KSH_ASH_CONSUMED = 1, KSH_ASH_DELIVER = 2 };
int ksh_ash_hook(struct ksh *k, int filter, const uint8_t **frame,
                 uint32_t *len);
/* The owners' handler state (allocators, transfer, CPU budget, notices)
 * and the budget of param.h; after owners_init. */
void ksh_ash_init(struct ksh *k);
/* Filter id is being deleted: its handler, if any, is detached. */
void ksh_ash_filter_gone(struct ksh *k, int filter);
/* RESET: every handler's counters to zero. */
void ksh_ash_reset(struct ksh *k);
/* The control requests ASH_* for an authenticated owner o (ctl.c):
 * KSH_OK with the reply body filled, or a KSH_E* status with the reason
 * in why (KSH_REASON_MAX + 1 bytes) and nothing changed but what
 * ksh_proto.h says (COMMIT always ends the transfer). */
int32_t ksh_ash_begin(struct ksh *k, struct ksh_owner *o,
                      const struct ksh_ash_begin *b, char *why);
int32_t ksh_ash_chunk(struct ksh *k, struct ksh_owner *o, uint32_t offset,
                      const uint8_t *bytes, uint32_t n, char *why);
int32_t ksh_ash_commit(struct ksh *k, struct ksh_owner *o,
                       struct ksh_ash_commit_reply *rep, char *why);
int32_t ksh_ash_detach(struct ksh *k, struct ksh_owner *o, int32_t filter,
                       char *why);
int32_t ksh_ash_counters(struct ksh *k, struct ksh_owner *o, int32_t filter,
                         struct ksh_ash_counters *rep, char *why);
/* ASH_MAP_READ: q and its key (q->key_len bytes at key); the reply body
 * (struct ksh_ash_map_value, key, value bytes) goes to out, at most cap
 * bytes, its length to *outlen. */
int32_t ksh_ash_map_read(struct ksh *k, struct ksh_owner *o,
                         const struct ksh_ash_map_read *q, const uint8_t *key,
                         uint8_t *out, uint32_t cap, uint32_t *outlen,
                         char *why);
/* ASH_MAP_WRITE: w, its key and value (w->key_len + w->value_len bytes
 * at kv; the caller checked they are there). */
int32_t ksh_ash_map_write(struct ksh *k, struct ksh_owner *o,
                          const struct ksh_ash_map_write *w,
                          const uint8_t *kv, char *why);
/* ASH_NOTICES: the oldest queued notices that fit in cap bytes, popped;
 * the body's length in *outlen. */
void ksh_ash_notices(struct ksh *k, struct ksh_owner *o, uint8_t *out,
                     uint32_t cap, uint32_t *outlen);
/* The command line's ash_cpu=CYCLES_PER_MS (decimal): lowers the CPU
 * budget (ksh_ash_init sets param.h's); after ksh_ash_init. */
void ksh_ash_cpu_arg(struct ksh *k, const char *val);

/* ---- demux.c: one received frame, control or data ---- */
void ksh_rx_frame(struct ksh *k, const uint8_t *frame, uint32_t len, int bad,
                  uint64_t t_seen);
/* Classify and deliver one data frame (accounting included). */
void ksh_demux(struct ksh *k, const uint8_t *frame, uint32_t len, int bad,
               uint64_t t_seen);
void ksh_hist_add(struct ksh_stats *st, uint64_t cycles);
/* Transmit and count; k->tx_tsc is the TSC after the TDT write. */
int ksh_tx(struct ksh *k, const uint8_t *frame, uint32_t len);
/* One latency sample of `cycles` on path (KSH_LAT_*). */
void ksh_lat_add(struct ksh *k, uint32_t path, uint64_t cycles);
/* LAT's reply for path from bucket first: KSH_OK with *rep and counts
 * (at most max of them, *n set) filled, or KSH_EINVAL for no such
 * path. */
int32_t ksh_lat_read(const struct ksh *k, uint32_t path, uint32_t first,
                     struct ksh_lat *rep, uint32_t *counts, uint32_t max);
/* RESET: the latency histograms and every ring's counters to zero. */
void ksh_paths_reset(struct ksh *k);

/* ---- ctl.c: the control protocol (ksh_proto.h) ---- */
void ksh_ctl_frame(struct ksh *k, const uint8_t *frame, uint32_t len);
/* An unsolicited notice (ksh_proto.h): op ASH_NOTICES | KSH_REPLY, seq 0,
 * status 0, body, to mac. */
void ksh_ctl_notice(struct ksh *k, const uint8_t mac[6], const void *body,
                    uint32_t blen);

/* ---- selftest.c ---- */
__attribute__((noreturn)) void ksh_selftest(struct ksh *k);
__attribute__((noreturn)) void ksh_fault(const char *kind);

/* ---- libc.c: the symbols the compiler may call ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
