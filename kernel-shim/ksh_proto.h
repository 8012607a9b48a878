/*
 * ksh_proto.h - the control channel between the host (`dpf boot`) and the
 * kernel-shim, carried in Ethernet frames of one EtherType.
 *
 * Shared by the kernel (freestanding) and the host CLI: types only, no
 * code, stdint only.
 *
 * A control frame is an Ethernet II frame (14-byte header, no VLAN tag)
 * whose EtherType is KSH_ETHERTYPE, followed by struct ksh_hdr and `len`
 * bytes of payload.  Every multi-byte field of the header and of every
 * payload is little-endian (both ends are x86-64; the frames never leave
 * the host).  A control frame is at most KSH_FRAME_MAX bytes; frames are
 * padded to 60 bytes by the sender, so a receiver trusts `len`, never the
 * frame length, and refuses a frame whose `len` runs past its end.
 *
 * Every request is answered by exactly one reply frame, in order: the
 * kernel handles frames one at a time in the order they arrive, data and
 * control alike, so the reply to a request sent after a trace is sent only
 * once every frame of the trace has been classified and accounted.
 *
 * A reply has op | KSH_REPLY, the request's seq, and a payload that begins
 * with int32 status (0, or a negative KSH_E* code); on failure the rest of
 * the payload is a reason in text (not NUL-terminated) and the request
 * changed nothing.  A frame the kernel cannot even parse as a request
 * (truncated header, wrong version, unknown op) is answered with status
 * KSH_EMALFORMED and op KSH_OP_NONE | KSH_REPLY when its header is too
 * short to say which op it was.
 *
 * Owners and capabilities: KSH_OP_OWNER creates an owner and returns its
 * capability, a 64-bit secret the kernel draws at creation.  Every request
 * that acts for an owner carries (owner, cap) and is refused with
 * KSH_EPERM unless cap is that owner's.  Secure binding: an inserted
 * filter that could match some packet that a filter of another owner
 * already receives (dpf_paths_overlap on any pair of paths) is refused
 * with KSH_EPERM unless the request also carries that other owner's
 * capability in its grants.
 *
 * Filters travel as the binary IR (dpf_ir_read), staged first with
 * KSH_OP_IR chunks into the owner's own stage (the IR of a large set does
 * not fit in one frame), then installed by the same owner's
 * KSH_OP_INSERT, all of the staged filters or none.
 */
#ifndef DPF_KSH_PROTO_H
#define DPF_KSH_PROTO_H

#include <stdint.h>

#define KSH_ETHERTYPE 0x88b6 /* IEEE 802 local experimental 2 (`dpf gen`
                              * near misses use experimental 1) */
#define KSH_VERSION 1
#define KSH_FRAME_MAX 1514
#define KSH_PAYLOAD_MAX (KSH_FRAME_MAX - 14 - 8)
#define KSH_IR_MAX (1u << 20) /* staged IR bytes, at most */
#define KSH_REASON_MAX 200

enum ksh_op {
	KSH_OP_NONE = 0,
	KSH_OP_HELLO = 1,    /* -> struct ksh_hello */
	KSH_OP_OWNER = 2,    /* -> struct ksh_owner_reply */
	KSH_OP_IR = 3,       /* struct ksh_ir_chunk + bytes -> nothing */
	KSH_OP_INSERT = 4,   /* struct ksh_insert + grants -> struct ksh_insert_reply */
	KSH_OP_DELETE = 5,   /* struct ksh_delete -> nothing */
	KSH_OP_COUNTERS = 6, /* struct ksh_counters_req -> struct ksh_counters */
	KSH_OP_STATS = 7,    /* -> struct ksh_stats */
	KSH_OP_RESET = 8,    /* zero every counter and the histogram */
	KSH_OP_EXIT = 9,     /* struct ksh_exit; replied to, then QEMU exits */
	KSH_OP_CONFIG = 10,  /* struct ksh_config -> nothing */
	KSH_NOPS
};
#define KSH_REPLY 0x80

enum ksh_status {
	KSH_OK = 0,
	KSH_EMALFORMED = -1, /* truncated, wrong version, unknown op, bad length */
	KSH_EPERM = -2,      /* wrong capability, or a secure-binding violation */
	KSH_EINVAL = -3,     /* the IR or an argument is refused (reason says why) */
	KSH_ENOSPC = -4,     /* a static pool is full (owners, filters, IR stage) */
	KSH_ENOENT = -5,     /* no such owner or filter */
	KSH_ESTATE = -6,     /* out of order: INSERT with nothing staged, a gap in IR chunks */
};

/* Every field little-endian; packed, no implicit padding. */
struct __attribute__((packed)) ksh_hdr {
	uint8_t version; /* KSH_VERSION */
	uint8_t op;      /* enum ksh_op, | KSH_REPLY in replies */
	uint16_t len;    /* payload bytes after this header */
	uint32_t seq;    /* chosen by the host, echoed in the reply */
};

struct __attribute__((packed)) ksh_hello {
	uint8_t mac[6];
	uint16_t nic;        /* PCI device id of the NIC (0x100e e1000, 0x10d3 e1000e) */
	uint64_t tsc_hz;     /* measured TSC frequency */
	uint64_t boot_cycles; /* TSC at the first line of C to the first poll of the RX ring */
	uint32_t max_filters, max_owners;
};

struct __attribute__((packed)) ksh_owner_reply {
	uint32_t owner;
	uint64_t cap;
};

struct __attribute__((packed)) ksh_cred {
	uint32_t owner;
	uint64_t cap;
};

/* Each owner has a stage of its own, written only with its capability.
 * Chunks must arrive in order: offset 0 starts a new stage (discarding
 * the owner's unfinished one); each next chunk's offset is the bytes
 * staged so far. */
struct __attribute__((packed)) ksh_ir_chunk {
	struct ksh_cred who;
	uint32_t offset;
	uint32_t total; /* the whole IR's length, at most KSH_IR_MAX */
	/* bytes follow */
};

/* Installs every filter of who's staged IR for `who`, each filter's owner
 * field replaced by who.owner; once who is authenticated its stage is
 * emptied whatever the outcome. */
struct __attribute__((packed)) ksh_insert {
	struct ksh_cred who;
	uint32_t ngrants; /* struct ksh_cred[ngrants] follow */
};

struct __attribute__((packed)) ksh_insert_reply {
	uint32_t n;    /* filters installed */
	/* int32 id[n] follow, in IR order (n may exceed what one frame
	 * holds: ids past the frame are omitted, the host knows n) */
};

struct __attribute__((packed)) ksh_delete {
	struct ksh_cred who;
	int32_t id;
};

struct __attribute__((packed)) ksh_counters_req {
	uint32_t first; /* first filter id */
};

/* matches[i] counts classification verdicts for filter id first + i
 * (0 for ids never used); as many as fit in one frame. */
struct __attribute__((packed)) ksh_counters {
	uint32_t id_limit; /* ids are 0 .. id_limit-1 */
	uint32_t first;
	uint32_t n;
	/* uint64 matches[n] follow */
};

/* Histogram of demux cycles: bucket b counts packets whose cycles c have
 * floor(log2(c)) == b / KSH_HIST_SUB, subdivided linearly into
 * KSH_HIST_SUB steps within each power of two. */
#define KSH_HIST_SUB 4
#define KSH_HIST_BUCKETS (32 * KSH_HIST_SUB)

struct __attribute__((packed)) ksh_stats {
	uint64_t rx_frames;   /* every frame taken off the RX ring */
	uint64_t rx_bytes;
	uint64_t ctl_frames;  /* control frames among them */
	uint64_t data_frames; /* classified frames: rx_frames - ctl_frames */
	uint64_t unmatched;   /* classified to no filter */
	uint64_t delivered;   /* put on an owner's packet ring */
	uint64_t dropped;     /* owner's ring full */
	uint64_t refused;     /* matched a filter with no owner ring / bad frame */
	uint64_t consumed;    /* taken off owner rings by the stand-in application */
	uint64_t echoed;      /* transmitted back by it */
	uint64_t tx_frames;   /* every frame transmitted, replies included */
	uint64_t nic_missed;  /* the NIC's own missed-packet counter (MPC) */
	uint64_t demux_cycles_sum;
	uint64_t demux_samples;
	uint64_t tsc_hz;
	uint32_t jit_attached; /* 1: classification runs the x86 code */
	uint32_t filters;
	uint32_t hist[KSH_HIST_BUCKETS];
	uint64_t data_bytes;  /* bytes of the data frames, as received */
};

/* The stand-in application of every owner: echo = transmit each frame it
 * takes back out unchanged; drain = frames it takes per poll of the RX
 * ring (0: all; KSH_DRAIN_NONE: none, paused), so a test can make the
 * rings fill. */
struct __attribute__((packed)) ksh_config {
	struct ksh_cred who;
	uint32_t echo;
	uint32_t drain;
};
#define KSH_DRAIN_NONE 0xffffffffu /* drain: take nothing (paused) */

struct __attribute__((packed)) ksh_exit {
	uint32_t code; /* QEMU exits with status (code << 1) | 1 */
};

#endif
