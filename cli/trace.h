/*
 * trace.h - pcap input and output for the `dpf` command.
 *
 * Interface:
 *   cli_trace_read() reads every packet of a capture (pcap or pcapng, via
 *   libpcap) into memory.  Only Ethernet captures are accepted: DPF
 *   filters start at an Ethernet header.  A capture that libpcap stops
 *   reading part way (truncated or damaged) keeps the packets read so far
 *   and sets `damaged`, so callers can report on them and then fail.
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

/* Create PATH as a pcap file.  Returns NULL with a message in err. */
struct cli_dump *cli_dump_open(const char *path, int linktype, int snaplen,
                               int nano, char *err, size_t errcap);
void cli_dump_write(struct cli_dump *d, int64_t sec, uint32_t frac,
                    uint32_t caplen, uint32_t len, const uint8_t *data);
/* Flush and close; returns 0, or -1 with a message in err. */
int cli_dump_close(struct cli_dump *d, char *err, size_t errcap);

#endif
