/*
 * ksh_client.h - the host end of the kernel-shim control channel
 * (kernel-shim/ksh_proto.h): start the guest under QEMU, exchange control
 * requests and replies, send data frames, collect what the guest
 * transmits, and stop the guest.
 *
 * Interface:
 *   cli_ksh_encode()/cli_ksh_decode() are pure: a control frame to and
 *   from bytes.  cli_ksh_spawn() starts QEMU with one end of an AF_UNIX
 *   SOCK_DGRAM socketpair as the NIC's backend.  Every later call waits at
 *   most the client's timeout for the guest to make progress; on a
 *   timeout, or when QEMU has exited, it returns -1 with the reason in
 *   cli_ksh_error(), and the caller prints cli_ksh_log_tail() and frees
 *   the client (which kills QEMU and reaps it).
 *
 * Frames and flow control:
 *   Sends block (by poll) until the socket takes the frame: QEMU stops
 *   reading while the guest's RX ring is full, so nothing is lost on the
 *   host side.  While a send waits, and while a reply is awaited, whatever
 *   the guest transmits is read at once, so its TX ring never backs up:
 *   replies go to the waiter, every other frame to the on_frame callback.
 *
 * Credentials (protocol version 2): cli_ksh_spawn() draws the guest's
 * admission credential (getrandom) and passes it on the kernel command
 * line as admit=HEX, next to seed=; cli_ksh_admin() gives it for OWNER,
 * RESET, EXIT (cli_ksh_exit uses it) and COUNTERS/STATS of everything.
 * The kernel refuses a request whose seq is not above the last one it
 * accepted under the same credential: every request of a client takes
 * its seq from one counter, so the seqs of each credential increase; a
 * caller that builds its own frames takes seqs with cli_ksh_take_seq().
 *
 * Invariants: one request may be outstanding per cli_ksh_wait_reply; a
 * reply whose seq nobody waits for (an earlier request that timed out, a
 * repeated HELLO) is counted in `stray` and dropped.
 */
#ifndef DPF_CLI_KSH_CLIENT_H
#define DPF_CLI_KSH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/qemu.h"
#include "kernel-shim/ksh_proto.h"

#define CLI_KSH_MIN_FRAME 60 /* Ethernet minimum without FCS */

/* The host's address in control frames (locally administered). */
extern const uint8_t cli_ksh_host_mac[6];
/* The guest NIC's address unless told otherwise. */
extern const uint8_t cli_ksh_guest_mac[6];

/* Write a control frame into buf (KSH_FRAME_MAX bytes): Ethernet header
 * dst <- src, KSH_ETHERTYPE, struct ksh_hdr, payload, zero padding to 60
 * bytes.  len <= KSH_PAYLOAD_MAX.  Returns the frame length. */
size_t cli_ksh_encode(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                      uint8_t op, uint32_t seq, const void *payload,
                      size_t len);

/* Decode a frame.  Returns 1 for a well-formed control frame (*h filled,
 * *payload at its h->len bytes), 0 for a frame of another EtherType (a
 * data frame), -1 for a control frame that is malformed (too short for
 * the header, wrong version, or len running past the frame). */
int cli_ksh_decode(const uint8_t *frame, size_t len, struct ksh_hdr *h,
                   const uint8_t **payload);

/* A reply as received. */
struct cli_ksh_reply {
	uint8_t op;     /* with KSH_REPLY */
	uint32_t seq;
	int32_t status; /* 0 or KSH_E* */
	const uint8_t *body; /* after status, into frame */
	size_t len;          /* bytes at body */
	char reason[KSH_REASON_MAX + 1]; /* status != 0: the text, NUL-ended */
	uint8_t frame[KSH_FRAME_MAX];
};

struct cli_ksh_opts {
	const char *qemu, *kernel;
	enum cli_nic nic;
	uint8_t mac[6];
	unsigned timeout_ms; /* longest wait for the guest, per step */
	const char *cpu;     /* QEMU's -cpu, or NULL for its default */
	uint64_t ash_cpu;    /* the handlers' CPU budget in cycles per ms
	                      * (kernel command line ash_cpu=), 0: the
	                      * kernel's own */
};

struct cli_ksh;

typedef void (*cli_ksh_frame_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Start QEMU.  Returns 0, or -1 with the reason in err (nothing left
 * running). */
int cli_ksh_spawn(const struct cli_ksh_opts *o, struct cli_ksh **out,
                  char *err, size_t errcap);
/* Kill QEMU if it still runs, reap it, remove its log; NULL is fine. */
void cli_ksh_free(struct cli_ksh *c);

/* Frames the guest transmits that are not replies. */
void cli_ksh_on_frame(struct cli_ksh *c, cli_ksh_frame_fn fn, void *ctx);

/* Send one frame as it is (1..KSH_FRAME_MAX bytes): data, or a
 * deliberately malformed control frame.  0, or -1 (see cli_ksh_error). */
int cli_ksh_send_raw(struct cli_ksh *c, const uint8_t *frame, size_t len);
/* Send a request; *seq (may be NULL) gets its sequence number. */
int cli_ksh_send(struct cli_ksh *c, uint8_t op, const void *payload,
                 size_t len, uint32_t *seq);
/* Wait for the reply with that seq.  0 with r filled (check r->status), or
 * -1: timeout, QEMU gone, or a reply that is not a reply to this request
 * (wrong op) or is malformed. */
int cli_ksh_wait_reply(struct cli_ksh *c, uint32_t seq, uint8_t op,
                       struct cli_ksh_reply *r);
/* Wait for the next reply whatever its seq (for refused malformed
 * frames, whose seq the kernel may not know). */
int cli_ksh_next_reply(struct cli_ksh *c, struct cli_ksh_reply *r);
/* cli_ksh_send + cli_ksh_wait_reply. */
int cli_ksh_call(struct cli_ksh *c, uint8_t op, const void *payload,
                 size_t len, struct cli_ksh_reply *r);
/* HELLO until answered (repeated every 50 ms while the guest
 * boots).  *boot_ns gets the host time from spawn to the reply. */
int cli_ksh_hello(struct cli_ksh *c, struct ksh_hello *h, uint64_t *boot_ns);
/* Read what the guest transmits for up to ms milliseconds, or until
 * *until (may be NULL) reaches want.  0, or -1 when QEMU is gone. */
int cli_ksh_pump(struct cli_ksh *c, unsigned ms, const uint64_t *until,
                 uint64_t want);
/* The admission credential this client gave the guest. */
struct ksh_cred cli_ksh_admin(const struct cli_ksh *c);
/* A seq from the client's counter, for a request built by hand (sent
 * with cli_ksh_send_raw): later requests of the client get higher ones. */
uint32_t cli_ksh_take_seq(struct cli_ksh *c);
/* KSH_OP_EXIT (with the admission credential) and code, then wait for
 * QEMU to end.  0 when it exits with
 * status (code << 1) | 1; else -1 with the reason. */
int cli_ksh_exit(struct cli_ksh *c, uint32_t code);

const char *cli_ksh_error(const struct cli_ksh *c);
/* For a signal handler (async-signal-safe, frees nothing): kill QEMU's
 * process group and remove the serial log, QEMU's messages and their
 * directory. */
void cli_ksh_abandon(const struct cli_ksh *c);
/* Handler maps (ksh_proto.h "Maps").  cli_ksh_map_read: how
 * KSH_MAP_LOOKUP reads key's value; KSH_MAP_FIRST (key NULL) and
 * KSH_MAP_NEXT the first key, or the key after key, into next_key
 * (key_size bytes) and its value.  The whole value (value_size bytes, the
 * map's) is read, in several requests when it does not fit one frame.
 * Returns -1 when the exchange failed (cli_ksh_error: no reply, or a
 * reply that contradicts the request); else 0 with r holding the last
 * reply: r->status (a refusal's reason) and *found (0: no such key, or no
 * key after it).  cli_ksh_map_write sends the whole value with flags
 * (KSH_MAP_ANY, NOEXIST, EXIST): -1 as above, else 0 and r->status. */
int cli_ksh_map_read(struct cli_ksh *c, struct ksh_cred who, int32_t filter,
                     uint32_t map, uint32_t how, const void *key,
                     uint32_t key_size, void *next_key, void *value,
                     uint32_t value_size, int *found,
                     struct cli_ksh_reply *r);
int cli_ksh_map_write(struct cli_ksh *c, struct ksh_cred who, int32_t filter,
                      uint32_t map, const void *key, uint32_t key_size,
                      const void *value, uint32_t value_size, uint64_t flags,
                      struct cli_ksh_reply *r);

/* Revocation notices the guest sends unsolicited (op ASH_NOTICES with
 * KSH_REPLY, seq 0, status 0): fn gets each as it arrives, during any
 * wait; they are not stray replies. */
typedef void (*cli_ksh_notice_fn)(void *ctx, const struct ksh_ash_notice *n);
void cli_ksh_on_notice(struct cli_ksh *c, cli_ksh_notice_fn fn, void *ctx);
/* Take the notices queued for who (ASH_NOTICES, repeated while some are
 * left), fn getting each: 0, or -1 (cli_ksh_error, or a refusal in r). */
int cli_ksh_notices(struct cli_ksh *c, struct ksh_cred who,
                    cli_ksh_notice_fn fn, void *ctx, struct cli_ksh_reply *r);

/* Replies nobody waited for. */
uint64_t cli_ksh_stray(const struct cli_ksh *c);
/* Print the last `lines` lines of the serial console (and of QEMU's own
 * stderr when it wrote any) to f, each under a heading naming the file. */
void cli_ksh_log_tail(const struct cli_ksh *c, FILE *f, int lines);

/* ---- latency and rings (protocol version 4) ---- */

/* One latency path's histogram as LAT gives it, every page read. */
struct cli_ksh_lat {
	uint32_t path;
	uint64_t samples, cycles_sum, min, max;
	uint32_t count[KSH_LAT_BUCKETS];
};
/* LAT for path, page after page, with credential who.  0 with *out
 * filled; 1 when the guest refused (its reason in cli_ksh_error); -1 on
 * a failure of the channel (cli_ksh_error says which). */
int cli_ksh_lat(struct cli_ksh *c, struct ksh_cred who, uint32_t path,
                struct cli_ksh_lat *out);
/* The cycles at quantile q (0..1] of a histogram of n buckets, sub
 * linear steps per power of two (ksh_proto.h: STATS' hist, LAT's
 * counts): the lower bound of the bucket holding that sample; 0 without
 * samples. */
double cli_ksh_hist_quantile(const uint32_t *count, uint32_t n, uint32_t sub,
                             double q);
/* The same for a latency path: within 1/KSH_LAT_SUB of the sample. */
double cli_ksh_lat_quantile(const struct cli_ksh_lat *l, double q);
/* RINGS: rings up to want in all (0: none added) for owner who; 0 with
 * *out filled, 1 refused, -1 channel failure, as cli_ksh_lat. */
int cli_ksh_rings(struct cli_ksh *c, struct ksh_cred who, uint32_t want,
                  struct ksh_rings *out);

#endif
