/*
 * trace.c - reading captures into memory and writing pcap files (see
 * trace.h).  libpcap does the format work; this file adds the Ethernet
 * check, the exact timestamp precision, and buffering.
 */
#include "cli/trace.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_CHUNK (1u << 20)
#define DUMP_BUFSZ (1u << 20)

/* 1 when the file is classic pcap with microsecond timestamps, so it is
 * read and written back in microseconds; everything else (nanosecond
 * pcap, pcapng) is handled in nanoseconds, which loses nothing. */
static int micro_magic(const uint8_t m[4])
{
	static const uint8_t micro[4][4] = {
		{0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1},
		{0xa1, 0xb2, 0xcd, 0x34}, {0x34, 0xcd, 0xb2, 0xa1},
	};
	for (int i = 0; i < 4; i++)
		if (memcmp(m, micro[i], 4) == 0)
			return 1;
	return 0;
}

static int append(struct cli_trace *t, const struct pcap_pkthdr *h,
                  const uint8_t *d)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		struct cli_pkt *np = realloc(t->pkts, nc * sizeof *np);
		if (!np)
			return -1;
		t->pkts = np;
		t->cap = nc;
	}
	if (t->datacap - t->used < h->caplen) {
		size_t nc = t->datacap ? t->datacap : DATA_CHUNK;
		while (nc - t->used < h->caplen)
			nc *= 2;
		uint8_t *nd = realloc(t->data, nc);
		if (!nd)
			return -1;
		t->data = nd;
		t->datacap = nc;
	}
	struct cli_pkt *p = &t->pkts[t->n++];
	p->sec = (int64_t)h->ts.tv_sec;
	p->frac = (uint32_t)h->ts.tv_usec;
	p->caplen = h->caplen;
	p->len = h->len;
	p->off = t->used;
	if (h->caplen)
		memcpy(t->data + t->used, d, h->caplen);
	t->used += h->caplen;
	t->bytes += h->caplen;
	if (h->caplen > t->maxcap)
		t->maxcap = h->caplen;
	return 0;
}

int cli_trace_read(const char *path, struct cli_trace *t)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	memset(t, 0, sizeof *t);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t magic[4] = {0};
	size_t got = fread(magic, 1, sizeof magic, f);
	rewind(f);
	t->nano = !(got == 4 && micro_magic(magic));
	errbuf[0] = 0;
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
		f, t->nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
		errbuf);
	if (!p) {
		fclose(f);
		fprintf(stderr, "%s: error: %s\n", path,
		        errbuf[0] ? errbuf : "cannot read the capture");
		return -1;
	}
	t->linktype = pcap_datalink(p);
	t->snaplen = pcap_snapshot(p);
	if (t->linktype != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(t->linktype);
		fprintf(stderr,
		        "%s: link type %s (%d) is not supported: dpf filters start "
		        "at an Ethernet header\n",
		        path, name ? name : "unknown", t->linktype);
		pcap_close(p);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (append(t, h, d) != 0) {
			fprintf(stderr, "%s: error: out of memory after %zu packets\n",
			        path, t->n);
			pcap_close(p);
			cli_trace_free(t);
			return -1;
		}
	}
	if (rc != PCAP_ERROR_BREAK) {
		/* PCAP_ERROR_BREAK (-2) is the end of the file; anything else
		 * means libpcap could not go on. */
		t->damaged = 1;
		snprintf(t->err, sizeof t->err, "%s", pcap_geterr(p));
		if (!t->err[0])
			snprintf(t->err, sizeof t->err, "read error %d", rc);
	}
	pcap_close(p);
	return 0;
}

void cli_trace_free(struct cli_trace *t)
{
	free(t->pkts);
	free(t->data);
	memset(t, 0, sizeof *t);
}

struct cli_dump {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	char *buf;
};

struct cli_dump *cli_dump_open(const char *path, int linktype, int snaplen,
                               int nano, char *err, size_t errcap)
{
	struct cli_dump *d = calloc(1, sizeof *d);
	FILE *f = NULL;
	if (!d)
		goto nomem;
	d->buf = malloc(DUMP_BUFSZ);
	if (!d->buf)
		goto nomem;
	d->dead = pcap_open_dead_with_tstamp_precision(
		linktype, snaplen,
		nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO);
	if (!d->dead)
		goto nomem;
	f = fopen(path, "wb");
	if (!f) {
		snprintf(err, errcap, "%s: error: %s", path, strerror(errno));
		goto fail;
	}
	setvbuf(f, d->buf, _IOFBF, DUMP_BUFSZ);
	d->dumper = pcap_dump_fopen(d->dead, f);
	if (!d->dumper) {
		snprintf(err, errcap, "%s: error: %s", path, pcap_geterr(d->dead));
		fclose(f);
		goto fail;
	}
	return d;
nomem:
	snprintf(err, errcap, "%s: error: out of memory", path);
fail:
	if (d) {
		if (d->dead)
			pcap_close(d->dead);
		free(d->buf);
		free(d);
	}
	return NULL;
}

void cli_dump_write(struct cli_dump *d, int64_t sec, uint32_t frac,
                    uint32_t caplen, uint32_t len, const uint8_t *data)
{
	struct pcap_pkthdr h;
	memset(&h, 0, sizeof h);
	h.ts.tv_sec = (time_t)sec;
	h.ts.tv_usec = (suseconds_t)frac;
	h.caplen = caplen;
	h.len = len;
	pcap_dump((u_char *)d->dumper, &h, data);
}

int cli_dump_close(struct cli_dump *d, char *err, size_t errcap)
{
	int rc = 0;
	FILE *f = pcap_dump_file(d->dumper);
	if (pcap_dump_flush(d->dumper) != 0 || ferror(f)) {
		snprintf(err, errcap, "%s", strerror(errno ? errno : EIO));
		rc = -1;
	}
	pcap_dump_close(d->dumper);
	pcap_close(d->dead);
	free(d->buf);
	free(d);
	return rc;
}
