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
 * Every request (a control frame without KSH_REPLY in its op) is answered
 * by exactly one reply frame, in order: the
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
 * Frames with KSH_REPLY set in op are replies: the kernel never answers
 * one (it drops it and counts it in ctl_ignored), so two ends can never
 * keep each other busy.
 *
 * Credentials (version 2).  Every request except HELLO carries a struct
 * ksh_cred, at the start of its payload:
 *
 *   owner N >= 1, cap   the owner capability KSH_OP_OWNER returned for N:
 *                       acts for owner N only (its stage, its filters, its
 *                       stand-in application, its own counters);
 *   owner 0, cap        KSH_OWNER_ADMIN with the admission credential: a
 *                       64-bit secret the host draws (getrandom) for each
 *                       boot and gives the kernel on its command line as
 *                       admit=<16 hex digits>, never on the wire before it
 *                       is used.  It creates owners (OWNER), and alone may
 *                       RESET and EXIT; with it COUNTERS and STATS see
 *                       every owner.  Without admit= on the command line
 *                       no request can present it: no owner can be
 *                       created and only a fault ends the kernel.
 *
 * A request whose credential is wrong is refused with KSH_EPERM (counted
 * in ctl_forged) and changes nothing, its seq included.
 *
 * Replays.  The header's seq is also the request's sequence number under
 * its credential: the kernel remembers, per owner and for the admission
 * credential, the last seq it accepted, and refuses a request whose seq
 * is not greater with KSH_EREPLAY (counted in ctl_replayed).  A request
 * consumes its seq as soon as its credential checks, whatever its outcome
 * (a refused INSERT cannot be replayed either).  The host's client
 * numbers every request from one counter starting at 1 per boot, which is
 * increasing for each credential alike; a credential whose last seq is
 * 0xffffffff can make no more requests.  HELLO is not numbered.
 *
 * Owner creation is rate-limited: a token bucket of KSH_OWNER_BURST
 * creations, one token back every KSH_OWNER_REFILL_MS (param.h); OWNER
 * past it is refused with KSH_ERATE (counted in ctl_throttled), and the
 * pool of KSH_MAX_OWNERS owners is never reused.
 *
 * Threat model.  Anyone who can put a frame on the guest's wire (here: the
 * host process that owns the socketpair, and anything it forwards; on a
 * real network, every station of the segment) can send control frames,
 * forge any source MAC and read every reply sent to a MAC it receives.
 * Protected: without a credential nothing but HELLO is served, so a
 * stranger cannot create owners, exhaust the owner pool, install, stage,
 * delete, reconfigure, read per-filter counts, zero counters or stop the
 * kernel; one owner cannot touch another's stage, filters, application or
 * counters (nor take its packets: secure binding, below); a frame
 * recorded and injected again is refused; malformed frames are refused
 * with a counted reason; a flood of owner creations is bounded.
 * Not protected: there is no confidentiality and no integrity beyond the
 * secrets themselves.  Capabilities and the admission credential are
 * bearer secrets carried in clear: whoever can read a request or an
 * OWNER reply on the wire holds them and can act with them (with a higher
 * seq).  Global totals (STATS, the id limit of COUNTERS, HELLO) are
 * visible to every owner.  Data frames are not authenticated at all.  A
 * flood of any frames still costs the kernel the time to refuse them.
 *
 * Owners and capabilities: KSH_OP_OWNER creates an owner and returns its
 * capability, a 64-bit secret the kernel draws at creation.  Every request
 * that acts for an owner carries (owner, cap) and is refused with
 * KSH_EPERM unless cap is that owner's.  Secure binding: an inserted
 * filter that could match some packet that a filter of another owner
 * already receives (dpf_paths_overlap on any pair of paths) is refused
 * with KSH_EPERM unless the request also carries that other owner's
 * capability in its grants (grants are not numbered).
 *
 * Filters travel as the binary IR (dpf_ir_read), staged first with
 * KSH_OP_IR chunks into the owner's own stage (the IR of a large set does
 * not fit in one frame), then installed by the same owner's
 * KSH_OP_INSERT, all of the staged filters or none.
 *
 * Handlers (version 3).  An owner binds an application-specific safe
 * handler (an XDP program image, ash/ash.h: the bytes ash_image_write
 * produces) to one of its own filters in three steps, each with the
 * owner's capability (the admission credential is refused):
 *
 *   ASH_BEGIN   filter id, the image's total length (1..KSH_ASH_IMAGE_MAX,
 *               param.h) and its CRC-32 (IEEE 802.3: reflected polynomial
 *               0xedb88320, initial value and final xor 0xffffffff, the
 *               value zlib's crc32() gives).  The filter must be installed
 *               and belong to the same owner (else KSH_ENOENT, KSH_EPERM).
 *               Starts the owner's transfer, discarding an unfinished one.
 *   ASH_CHUNK   offset and bytes, in order: the offset must equal the bytes
 *               received so far (else KSH_ESTATE) and the chunk must end
 *               within the total (else KSH_EINVAL).  Without a BEGIN:
 *               KSH_ESTATE.
 *   ASH_COMMIT  ends the transfer whatever its outcome, then refuses:
 *               KSH_ESTATE when fewer bytes than the total arrived (or no
 *               BEGIN); KSH_EINVAL when the CRC-32 differs ("damaged"),
 *               when the image reader refuses the bytes ("image refused:
 *               at byte N: ..."), when the kernel's own verifier refuses
 *               the program ("verifier refused at insn N: MESSAGE", the
 *               message vfy_ash gives, as `dpf ash check` prints it), or
 *               when the verifier's proven worst case of instructions per
 *               frame exceeds KSH_ASH_INSN_BUDGET; KSH_ENOSPC when the
 *               owner's handler memory (image, verifier, maps) or code
 *               memory would pass its quota (KSH_ASH_MEM_QUOTA,
 *               KSH_ASH_CODE_QUOTA) or every handler slot is taken;
 *               KSH_ESTATE when the filter already has a handler (detach
 *               it first) or was deleted meanwhile.  On success the
 *               kernel has verified the image itself (it never trusts the
 *               host), compiled it with its x86-64 JIT (or, if the JIT
 *               refuses, kept the interpreter: `jitted` says which) and
 *               bound it: from the next frame on it runs on every frame
 *               the filter matches.
 *   ASH_DETACH  unbinds and frees the filter's handler (KSH_ENOENT
 *               without one).  Deleting the filter detaches it too.
 *   ASH_COUNTERS the handler's figures (struct ksh_ash_counters).
 *
 * Maps (version 4).  The owner reads and writes the maps of the handler
 * bound to one of its filters (KSH_ENOENT without a handler, KSH_EPERM
 * for another owner's filter), by the map's index in the image's map
 * table (KSH_EINVAL past the table), through the runtime's own map
 * functions (ash/ash.h), so a value reads as the handler sees it:
 *
 *   ASH_MAP_READ  how KSH_MAP_LOOKUP: the value of key; KSH_MAP_FIRST
 *                 (no key bytes): the first key and its value;
 *                 KSH_MAP_NEXT: the key after key and its value (arrays
 *                 in index order, hashes in the kernel's order; a key not
 *                 in the map gives the first).  The reply has found 0 and
 *                 nothing more when there is no such key (or no next
 *                 one), else the key, then the value's bytes from offset
 *                 on, as many as fit in one frame (n): values longer than
 *                 a frame are read in pieces by offset (a key and the
 *                 rest of a value always fit).  offset past the value:
 *                 KSH_EINVAL.
 *   ASH_MAP_WRITE update key with the whole value, flags as bpf's
 *                 map_update_elem: KSH_MAP_ANY, KSH_MAP_NOEXIST (refused
 *                 with KSH_ESTATE when the key exists), KSH_MAP_EXIST
 *                 (KSH_ENOENT when it does not).  A full hash is
 *                 KSH_ENOSPC, an array index past the end KSH_EINVAL.  A
 *                 value that does not fit in one frame with its key is
 *                 refused (KSH_EINVAL, "does not fit one frame"): writes
 *                 are never split, so a handler never sees half a write.
 * Both refuse with KSH_EINVAL and a reason a key_len other than the map's
 * key size (or, for a write, a value_len other than its value size), a
 * ring buffer (its records are not keyed), and a write to .rodata (frozen
 * at load, as libbpf does); and with KSH_EMALFORMED a payload whose
 * length is not the header plus key_len (plus value_len) bytes.  Per-CPU
 * maps read and write CPU 0's value (the kernel runs handlers on CPU 0),
 * which is what `dpf ash run` prints.  A value read in pieces, or a map
 * read key by key, may see frames handled between the requests.
 *
 * CPU budget and notices (version 4).  The kernel times every run of its
 * handlers (TSC cycles of the program itself: not the frame's copy, nor
 * the transmission of a TX) and charges the handler's owner.  An owner
 * may spend a budget of cycles per window (param.h: KSH_ASH_CPU_PCT of
 * the TSC rate, over back-to-back windows of KSH_ASH_CPU_WINDOW_MS; the
 * command line's ash_cpu=CYCLES_PER_MS lowers the rate, never raises it;
 * nothing on the channel changes it).  The run that takes the owner past
 * its budget revokes the handler that ran: its verdict on that frame
 * stands, then it is detached and freed (ash_revoked counts it), the
 * owner's window restarts empty, and the owner gets a notice (struct
 * ksh_ash_notice, reason KSH_NOTICE_CPU) naming the program and the
 * filter, with the figures and the handler's last counters.  Frames
 * after it take the normal ring path; the owner may attach a handler
 * again.  Notices wait in a queue of KSH_ASH_NOTICES per owner (a notice
 * that finds it full is counted in `lost` and ash_notices_lost);
 * ASH_NOTICES (an owner's capability) takes up to as many as fit in one
 * reply, oldest first, and says how many are `left`.  Each notice is
 * also sent at once, unsolicited, to the MAC of the owner's last
 * accepted request: op KSH_OP_ASH_NOTICES | KSH_REPLY, seq 0, status 0,
 * the same body with n 1 (it stays queued).  No request has seq 0 that
 * could be answered with status 0, so the host tells the two apart; like
 * every reply it is never answered.
 *
 * What a handler's action does with the frame (the frame is accounted
 * exactly once, ksh_stats):
 *   PASS      the frame, as the handler left it, goes to the owner's ring
 *             (delivered, or dropped when the ring is full);
 *   DROP      consumed (handled);
 *   TX        the frame as modified is transmitted on the NIC at once,
 *             before the next frame is looked at (handled); if the NIC
 *             cannot take it, it goes to the ring and tx_failed counts it;
 *   REDIRECT  to ring `ifindex` of the owner, the handler's
 *             bpf_redirect(ifindex, 0) (version 4: see RINGS below); a
 *             ring the owner does not have gets the frame on ring 0
 *             instead, counted in redirect_missing; counted as a
 *             redirect either way;
 *   ABORTED   (or a run-time fault) the frame as received goes to the
 *             ring, and the abort is counted.
 * A frame a handler made longer than a ring slot is refused (counted).
 * Frames under 14 or over ASH_MAX_DATA bytes are not given to handlers
 * and count as pass.
 */
#ifndef DPF_KSH_PROTO_H
#define DPF_KSH_PROTO_H

#include <stdint.h>

#define KSH_ETHERTYPE 0x88b6 /* IEEE 802 local experimental 2 (`dpf gen`
                              * near misses use experimental 1) */
#define KSH_VERSION 4 /* 2: credentials on every request but HELLO,
                        * per-credential seq, replies never answered;
                        * 3: handlers (ASH_*), handler figures in
                        * ksh_stats; 4: latency histograms (LAT), rings
                        * per owner (RINGS), handler maps read and
                        * written, the CPU budget's revocations and
                        * notices */
#define KSH_FRAME_MAX 1514
#define KSH_PAYLOAD_MAX (KSH_FRAME_MAX - 14 - 8)
#define KSH_IR_MAX (1u << 20) /* staged IR bytes, at most */
#define KSH_REASON_MAX 200

enum ksh_op {
	KSH_OP_NONE = 0,
	KSH_OP_HELLO = 1,    /* -> struct ksh_hello */
	KSH_OP_OWNER = 2,    /* struct ksh_cred (admission) -> ksh_owner_reply */
	KSH_OP_IR = 3,       /* struct ksh_ir_chunk + bytes -> nothing */
	KSH_OP_INSERT = 4,   /* struct ksh_insert + grants -> struct ksh_insert_reply */
	KSH_OP_DELETE = 5,   /* struct ksh_delete -> nothing */
	KSH_OP_COUNTERS = 6, /* struct ksh_counters_req -> struct ksh_counters */
	KSH_OP_STATS = 7,    /* struct ksh_cred -> struct ksh_stats */
	KSH_OP_RESET = 8,    /* struct ksh_cred (admission): zero every counter */
	KSH_OP_EXIT = 9,     /* struct ksh_exit (admission); replied to, then
	                      * QEMU exits */
	KSH_OP_CONFIG = 10,  /* struct ksh_config -> nothing */
	KSH_OP_ASH_BEGIN = 11,  /* struct ksh_ash_begin -> nothing */
	KSH_OP_ASH_CHUNK = 12,  /* struct ksh_ash_chunk + bytes -> nothing */
	KSH_OP_ASH_COMMIT = 13, /* struct ksh_cred -> struct ksh_ash_commit_reply */
	KSH_OP_ASH_DETACH = 14, /* struct ksh_ash_ref -> nothing */
	KSH_OP_ASH_COUNTERS = 15, /* struct ksh_ash_ref -> struct ksh_ash_counters */
	KSH_OP_ASH_MAP_READ = 16,  /* struct ksh_ash_map_read + key ->
	                            * struct ksh_ash_map_value + key + value */
	KSH_OP_ASH_MAP_WRITE = 17, /* struct ksh_ash_map_write + key + value ->
	                            * nothing */
	KSH_OP_ASH_NOTICES = 18,   /* struct ksh_cred -> struct ksh_ash_notices
	                            * + notices; also sent unsolicited */
	KSH_OP_LAT = 19,   /* struct ksh_lat_req -> struct ksh_lat + counts */
	KSH_OP_RINGS = 20, /* struct ksh_rings_req -> struct ksh_rings */
	KSH_NOPS
};
#define KSH_REPLY 0x80

enum ksh_status {
	KSH_OK = 0,
	KSH_EMALFORMED = -1, /* truncated, wrong version, unknown op, bad length */
	KSH_EPERM = -2,      /* wrong credential, or a secure-binding violation */
	KSH_EINVAL = -3,     /* the IR or an argument is refused (reason says why) */
	KSH_ENOSPC = -4,     /* a static pool is full (owners, filters, IR stage) */
	KSH_ENOENT = -5,     /* no such owner or filter */
	KSH_ESTATE = -6,     /* out of order: INSERT with nothing staged, a gap in IR chunks */
	KSH_EREPLAY = -7,    /* seq not above the credential's last accepted */
	KSH_ERATE = -8,      /* OWNER past the rate limit: try again later */
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

/* A credential: an owner and its capability, or KSH_OWNER_ADMIN and the
 * admission credential. */
#define KSH_OWNER_ADMIN 0u
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
	struct ksh_cred who; /* an owner: its own filters; admission: all */
	uint32_t first;      /* first filter id */
};

/* matches[i] counts classification verdicts for filter id first + i
 * (0 for ids never used, and for ids of other owners when `who` is an
 * owner); as many as fit in one frame. */
struct __attribute__((packed)) ksh_counters {
	uint32_t id_limit; /* ids are 0 .. id_limit-1 */
	uint32_t first;
	uint32_t n;
	/* uint64 matches[n] follow */
};

/* STATS answers any valid credential: every field is a global total
 * (no per-filter count).  RESET needs the admission credential. */

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
	/* control frames refused or ignored, by reason (each counted once,
	 * all among ctl_frames) */
	uint64_t ctl_ignored;   /* replies (KSH_REPLY set): never answered */
	uint64_t ctl_malformed; /* KSH_EMALFORMED */
	uint64_t ctl_forged;    /* wrong capability or admission credential */
	uint64_t ctl_replayed;  /* KSH_EREPLAY */
	uint64_t ctl_throttled; /* KSH_ERATE */
	uint64_t ctl_refused;   /* every other refusal (EINVAL, ENOSPC, ENOENT,
	                         * ESTATE, EPERM of secure binding) */
	/* handlers (version 3): data_frames == delivered + handled + dropped
	 * + unmatched + refused */
	uint64_t handled;       /* consumed by a handler (DROP, TX sent) */
	uint64_t ash_runs;      /* frames given to handlers */
	uint64_t ash_tx;        /* frames handlers transmitted (among tx_frames) */
	uint64_t ash_handlers;  /* handlers bound now */
	/* rings and latency (version 4) */
	uint64_t redirect_missing; /* REDIRECTs to a ring the owner has not:
	                            * delivered to its ring 0 instead */
	uint64_t rings;            /* rings of every owner, ring 0s included */
	uint64_t lat_samples[5];   /* samples per latency path (KSH_LAT_*) */
	/* the CPU budget (version 4) */
	uint64_t ash_revoked;      /* handlers revoked: owner past its budget */
	uint64_t ash_notices_lost; /* notices a full owner queue could not keep */
};

/* ASH_BEGIN: a new transfer of a handler image for filter `filter`. */
struct __attribute__((packed)) ksh_ash_begin {
	struct ksh_cred who;
	int32_t filter;
	uint32_t total; /* image bytes, 1..KSH_ASH_IMAGE_MAX */
	uint32_t crc32; /* CRC-32 of the whole image (see above) */
};

/* ASH_CHUNK: bytes at offset (== the bytes received so far). */
struct __attribute__((packed)) ksh_ash_chunk {
	struct ksh_cred who;
	uint32_t offset;
	/* bytes follow */
};

/* ASH_COMMIT's reply on success. */
struct __attribute__((packed)) ksh_ash_commit_reply {
	int32_t filter;
	uint32_t jitted;      /* 1: native code; 0: the interpreter */
	uint64_t worst_insns; /* the verifier's bound per frame */
	uint64_t mem_bytes;   /* the owner's handler memory now charged */
	uint64_t code_bytes;  /* the owner's code memory now charged */
};

/* ASH_DETACH and ASH_COUNTERS: the filter whose handler is meant. */
struct __attribute__((packed)) ksh_ash_ref {
	struct ksh_cred who;
	int32_t filter;
};

/* ASH_COUNTERS' reply: frames by the handler's action.  runs counts the
 * frames given to the handler; pass also counts frames not given (under
 * 14 or over ASH_MAX_DATA bytes), as `dpf replay` does. */
struct __attribute__((packed)) ksh_ash_counters {
	int32_t filter;
	uint32_t jitted;
	uint64_t runs, pass, drop, tx, redirect, aborted;
	uint64_t tx_failed; /* TX the NIC refused: delivered to the ring */
	uint64_t faults;    /* run-time faults among aborted */
	uint64_t insns;     /* instructions executed, all runs */
};

/* ASH_MAP_READ: how to read (see above). */
enum { KSH_MAP_LOOKUP = 0, KSH_MAP_FIRST = 1, KSH_MAP_NEXT = 2 };
struct __attribute__((packed)) ksh_ash_map_read {
	struct ksh_cred who;
	int32_t filter;
	uint32_t map;     /* index in the image's map table */
	uint32_t how;     /* KSH_MAP_* */
	uint32_t offset;  /* first value byte wanted */
	uint32_t key_len; /* key bytes that follow: the map's key size (0 for
	                   * KSH_MAP_FIRST) */
};

/* ASH_MAP_READ's reply. */
struct __attribute__((packed)) ksh_ash_map_value {
	uint32_t found;      /* 0: no such key (or no next one): nothing follows */
	uint32_t key_len;    /* the key's bytes, which follow */
	uint32_t value_size; /* the map's value size */
	uint32_t offset;     /* of the value bytes that follow the key */
	uint32_t n;          /* value bytes that follow the key */
};

/* ASH_MAP_WRITE: key_len key bytes, then value_len value bytes follow. */
enum { KSH_MAP_ANY = 0, KSH_MAP_NOEXIST = 1, KSH_MAP_EXIST = 2 };
struct __attribute__((packed)) ksh_ash_map_write {
	struct ksh_cred who;
	int32_t filter;
	uint32_t map;
	uint64_t flags;     /* KSH_MAP_ANY, NOEXIST or EXIST */
	uint32_t key_len;   /* the map's key size */
	uint32_t value_len; /* the map's value size */
};

/* A revocation, as queued and sent. */
enum { KSH_NOTICE_CPU = 1 }; /* the owner passed its CPU budget */
#define KSH_NOTICE_NAME 64
struct __attribute__((packed)) ksh_ash_notice {
	uint32_t seq;    /* per owner, from 1: a gap means notices lost */
	uint32_t reason; /* KSH_NOTICE_* */
	int32_t filter;  /* the filter the handler was bound to */
	char prog[KSH_NOTICE_NAME]; /* the program's name, NUL-terminated */
	uint64_t used_cycles;   /* the owner's cycles in the window, this run's
	                         * included */
	uint64_t budget_cycles; /* its budget per window */
	uint64_t window_cycles; /* the window's length */
	uint64_t run_cycles;    /* the run that passed the budget */
	struct ksh_ash_counters cnt; /* the handler's figures, that run's
	                              * frame included */
};

/* ASH_NOTICES' reply (and the unsolicited notice's body). */
struct __attribute__((packed)) ksh_ash_notices {
	uint32_t n;    /* struct ksh_ash_notice[n] follow, oldest first */
	uint32_t left; /* still queued after them */
	uint64_t lost; /* notices the owner's full queue dropped, ever */
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
	struct ksh_cred who; /* the admission credential */
	uint32_t code;       /* QEMU exits with status (code << 1) | 1 */
};

/*
 * Latency (version 4).  The kernel keeps one histogram of TSC cycles per
 * path, for every frame that took it:
 *
 *   KSH_LAT_ASH   from the main loop seeing the frame's RX descriptor done
 *                 (t_seen) until a handler's XDP_TX reply is on the NIC's
 *                 transmit ring (after the TDT write): the kernel acts
 *                 for the application at arrival;
 *   KSH_LAT_RING  from t_seen until the stand-in application's echo of
 *                 the frame is on the transmit ring: the frame is copied
 *                 to the owner's ring (the slot keeps t_seen), the RX
 *                 batch ends (descriptors handed back), then the
 *                 application polls its rings and sends (CONFIG echo=1);
 *   KSH_LAT_HOOK  from t_seen until the handler's verdict: demux plus
 *                 handler (the transmit included for XDP_TX), every frame
 *                 given to a handler;
 *   KSH_LAT_TDT   the TDT write alone, every transmit (control replies
 *                 included): the doorbell, which under QEMU runs the NIC
 *                 model's transmit, part of both paths above;
 *   KSH_LAT_RDT   the RDT write alone (descriptors handed back at the end
 *                 of each RX batch), part of the ring path only.
 *
 * Bucket i counts samples c with floor(log2(c)) == i / KSH_LAT_SUB,
 * subdivided linearly into KSH_LAT_SUB steps within each power of two
 * (c == 0 in bucket 0; c >= 2^32 in the last): a bucket's lower bound is
 * within 1/KSH_LAT_SUB of any sample in it.  LAT answers any credential
 * (global figures, like STATS) with the buckets from `first` on, as many
 * as fit in one frame (page with first += n); RESET zeroes them.
 */
#define KSH_LAT_ASH 0
#define KSH_LAT_RING 1
#define KSH_LAT_HOOK 2
#define KSH_LAT_TDT 3
#define KSH_LAT_RDT 4
#define KSH_LAT_PATHS 5
#define KSH_LAT_SUB 16
#define KSH_LAT_BUCKETS (32 * KSH_LAT_SUB)

struct __attribute__((packed)) ksh_lat_req {
	struct ksh_cred who;
	uint32_t path;  /* KSH_LAT_*; another: KSH_EINVAL */
	uint32_t first; /* first bucket */
};

struct __attribute__((packed)) ksh_lat {
	uint32_t path;
	uint32_t nbuckets; /* KSH_LAT_BUCKETS */
	uint32_t first;
	uint32_t n;        /* counts that follow */
	uint64_t samples;
	uint64_t cycles_sum;
	uint64_t min, max; /* cycles; 0 without samples */
	/* uint32 count[n] follow: buckets first .. first + n - 1 */
};

/*
 * Rings (version 4).  Each owner has up to KSH_RINGS packet rings.  Ring 0
 * is made with the owner; RINGS with `want` 2..KSH_RINGS gives the owner
 * rings up to index want - 1, taken from a pool shared by every owner
 * (KSH_RING_POOL in param.h; an empty pool: KSH_ENOSPC, nothing taken);
 * want 0 or a want at or below what the owner has changes nothing (rings
 * are never given back).  A want past KSH_RINGS: KSH_EINVAL.  Needs the
 * owner's capability.  The reply gives the owner's rings and their
 * counters (since RESET): a handler's bpf_redirect(i, 0) delivers to ring
 * i; PASS, ABORTED and frames without a handler to ring 0; the stand-in
 * application drains every ring, ring 0 first.
 */
#define KSH_RINGS_MAX 4 /* == KSH_RINGS (param.h): ring entries of the reply */

struct __attribute__((packed)) ksh_rings_req {
	struct ksh_cred who;
	uint32_t want; /* rings wanted in all, 0: just read */
};

struct __attribute__((packed)) ksh_ring_counters {
	uint64_t delivered;  /* frames put on the ring */
	uint64_t dropped;    /* frames refused: the ring was full */
	uint64_t redirected; /* among delivered: a handler's REDIRECT chose it */
	uint64_t consumed;   /* taken off by the stand-in application */
	uint64_t echoed;     /* sent back by it */
	uint64_t queued;     /* on the ring now */
};

struct __attribute__((packed)) ksh_rings {
	uint32_t nrings;           /* the owner's rings: 1..KSH_RINGS_MAX */
	uint32_t pool_free;        /* rings left in the shared pool */
	uint64_t redirect_missing; /* the owner's REDIRECTs to a ring it has
	                            * not (delivered to ring 0) */
	struct ksh_ring_counters ring[KSH_RINGS_MAX]; /* past nrings: zero */
};

/* The CRC-32 of ASH_BEGIN (IEEE 802.3, reflected), for both ends. */
static inline uint32_t ksh_crc32(const uint8_t *p, uint32_t n)
{
	uint32_t c = 0xffffffffu;
	for (uint32_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int b = 0; b < 8; b++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

#endif
