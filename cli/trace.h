/*
 * trace.h - pcap input and output for the `dpf` command.
 *
 * Interface:
 *   cli_src_*() read a capture (pcap or pcapng, via libpcap) one packet at
 *   a time, from a file, a pipe, a FIFO or standard input ("-"): nothing
 *   is rewound, so any non-seekable input works, and nothing but the
 *   current packet is held.  Any link type opens; callers decide which
 *   they accept.
 *   cli_trace_read() reads every packet of a capture into memory (the
 *   commands that need random access: `ash run`, `boot`).  Only Ethernet
 *   captures are accepted there.  A capture that libpcap stops reading
 *   part way (truncated or damaged) keeps the packets read so far and
 *   sets `damaged`, so callers can report on them and then fail.
 *   cli_trace_append()/cli_trace_clear() let a caller keep a bounded
 *   window of packets of its own.
 *   cli_dump_*() write a pcap file with a chosen link type, snapshot
 *   length and timestamp precision.
 *
 * Timestamps are kept as (seconds, fraction) with the fraction in the
 * capture's own unit: nanoseconds when `nano`, else microseconds, so
 * writing a packet back reproduces its timestamp exactly.
 */
#ifndef DPF_CLI_TRACE_H
#define DPF_CLI_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct cli_pkt {
	int64_t sec;
	uint32_t frac;   /* microseconds, or nanoseconds when trace->nano */
	uint32_t caplen; /* bytes captured, held at trace->data + off */
	uint32_t len;    /* length on the wire */
	size_t off;
};

struct cli_trace {
	int linktype; /* DLT_ value */
	int snaplen;
	int nano; /* 1: fractions are nanoseconds */
	size_t n, cap;
	struct cli_pkt *pkts;
	uint8_t *data;
	size_t used, datacap;
	uint64_t bytes; /* sum of caplen */
	uint32_t maxcap;
	int damaged;    /* 1: reading stopped at an error after n packets */
	char err[512];  /* the libpcap message when damaged */
};

/* A capture being read packet by packet. */
struct cli_src {
	const char *path;
	void *pcap;       /* pcap_t */
	void *file;       /* FILE * under libpcap, for the position */
	int linktype;     /* DLT_ value */
	int snaplen;
	int nano;         /* 1: fractions are nanoseconds */
	int swapped;      /* 1: the file's byte order is not the host's */
	int live;         /* 1: an interface, not a file */
	int fd;           /* live: what poll waits on */
	uint64_t size;    /* bytes in the file when it is a regular file, else 0 */
	int damaged;      /* 1: reading stopped at an error */
	char err[512];    /* the libpcap message when damaged */
};

/* One packet as cli_src_next gives it; data is valid until the next call. */
struct cli_src_pkt {
	int64_t sec;
	uint32_t frac, caplen, len;
	const uint8_t *data;
};

/* Open PATH ("-" is standard input).  Returns 0, or prints
 * "PATH: error: ..." on stderr and returns -1 with nothing held. */
int cli_src_open(const char *path, struct cli_src *s);
/* Capture live on interface IFACE through libpcap (pcap_create, immediate
 * mode, the whole frame, nanosecond timestamps where the system has
 * them).  Returns 0, or prints "IFACE: error: ..." and returns -1. */
int cli_src_open_live(const char *iface, struct cli_src *s);
/* Make a blocked cli_src_next of a live capture return (async-signal
 * safe). */
void cli_src_break(struct cli_src *s);
/* The next packet: 1, or 0 at the end, or -1 when the capture is damaged
 * (s->damaged and s->err set), or 2 when a live capture has had nothing
 * for a moment (call again). */
int cli_src_next(struct cli_src *s, struct cli_src_pkt *p);
/* Bytes of the file consumed so far (meaningful when s->size is known). */
uint64_t cli_src_pos(const struct cli_src *s);
void cli_src_close(struct cli_src *s);

/* Copy a packet to the end of t; 0, or -1 out of memory. */
int cli_trace_append(struct cli_trace *t, const struct cli_src_pkt *p);
/* Forget t's packets, keep its buffers. */
void cli_trace_clear(struct cli_trace *t);

/* ---- link types ----
 * The engine classifies Ethernet frames.  A capture of another link type
 * is classified from the network header its link layer names: the engine
 * sees a synthetic frame of 12 zero bytes, the EtherType the link layer
 * implies, then the packet from its network header on.  The link layer
 * fixes both where the network header starts and which protocol it is:
 *   EN10MB      as is (802.1Q tags included)
 *   LINUX_SLL   16-byte header, protocol at byte 14
 *   LINUX_SLL2  20-byte header, protocol at byte 0
 *   NULL, LOOP  4-byte address family (host order of the capturing
 *               machine for NULL, big endian for LOOP): 2 is IPv4; 24,
 *               28 and 30 (BSD, FreeBSD, Darwin) are IPv6, as libpcap
 *               reads such captures
 *   RAW         no header; IPv4 or IPv6 by the version nibble
 *   IPV4, IPV6  no header; that protocol
 * Anything else gives EtherType 0, which no protocol word matches.  A
 * packet too short for its link header gives a frame too short for the
 * EtherType (12 bytes), so nothing but raw reads below 12 could match it,
 * and those are refused on such captures (cli_link_reads_header). */
struct cli_link {
	int linktype;
	int ether;        /* 1: frames are Ethernet already */
	int swapped;      /* NULL: the capture's byte order is not the host's */
};

/* 0 when dpf classifies captures of linktype, -1 otherwise. */
int cli_link_init(struct cli_link *l, int linktype, int swapped);
/* Write the frame the engine sees for a packet of caplen bytes to out
 * (room for caplen + 14 bytes); returns its length.  Not for ether. */
uint32_t cli_link_frame(const struct cli_link *l, const uint8_t *pkt,
                        uint32_t caplen, uint8_t *out);
/* The link types cli_link_init accepts, for messages. */
extern const char cli_link_names[];

/* Read PATH.  Returns 0 (check t->damaged), or prints
 * "PATH: error: ..." / the unsupported-link-type message on stderr and
 * returns -1 with nothing held.  Free with cli_trace_free. */
int cli_trace_read(const char *path, struct cli_trace *t);
void cli_trace_free(struct cli_trace *t);
static inline const uint8_t *cli_trace_bytes(const struct cli_trace *t,
                                             size_t i)
{
	static const uint8_t none[1]; /* every packet empty: no data held */
	return t->data ? t->data + t->pkts[i].off : none;
}

struct cli_dump;

/* Create PATH as a pcap file ("-": write to standard output).  Returns NULL with a message in err. */
struct cli_dump *cli_dump_open(const char *path, int linktype, int snaplen,
                               int nano, char *err, size_t errcap);
void cli_dump_write(struct cli_dump *d, int64_t sec, uint32_t frac,
                    uint32_t caplen, uint32_t len, const uint8_t *data);
/* Flush and close; returns 0, or -1 with a message in err. */
int cli_dump_close(struct cli_dump *d, char *err, size_t errcap);

/* libpcap's own version text ("libpcap version 1.10.3 ..."). */
const char *cli_pcap_version(void);

#endif
