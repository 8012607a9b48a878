/*
 * trace.c - reading captures as a stream or into memory, and writing pcap
 * files (see trace.h).  libpcap does the format work; this file adds
 * reading from non-seekable inputs, the Ethernet check of whole-capture
 * reads, the exact timestamp precision, and buffering.
 */
#include "cli/trace.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

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

int cli_trace_append(struct cli_trace *t, const struct cli_src_pkt *h)
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
	p->sec = h->sec;
	p->frac = h->frac;
	p->caplen = h->caplen;
	p->len = h->len;
	p->off = t->used;
	if (h->caplen)
		memcpy(t->data + t->used, h->data, h->caplen);
	t->used += h->caplen;
	t->bytes += h->caplen;
	if (h->caplen > t->maxcap)
		t->maxcap = h->caplen;
	return 0;
}

void cli_trace_clear(struct cli_trace *t)
{
	t->n = 0;
	t->used = 0;
	t->bytes = 0;
	t->maxcap = 0;
}

/* A non-seekable input cannot be rewound after its magic was read: the
 * bytes read are handed back first through a stdio cookie, then the rest
 * of the stream. */
struct prefixed {
	FILE *under;
	uint8_t head[4];
	size_t nhead, pos;
};

static ssize_t prefixed_read(void *c, char *buf, size_t n)
{
	struct prefixed *pf = c;
	if (pf->pos < pf->nhead) {
		size_t k = pf->nhead - pf->pos;
		if (k > n)
			k = n;
		memcpy(buf, pf->head + pf->pos, k);
		pf->pos += k;
		return (ssize_t)k;
	}
	size_t got = fread(buf, 1, n, pf->under);
	if (got == 0 && ferror(pf->under))
		return -1;
	return (ssize_t)got;
}

static int prefixed_close(void *c)
{
	struct prefixed *pf = c;
	int rc = fclose(pf->under);
	free(pf);
	return rc;
}

/* Put back the got bytes of magic in front of f: rewind when f seeks,
 * else wrap it.  Returns the FILE to read (f itself, or a wrapper that
 * owns f), or NULL with f closed. */
static FILE *unread_magic(FILE *f, const uint8_t *magic, size_t got)
{
	if (fseeko(f, 0, SEEK_SET) == 0)
		return f;
	struct prefixed *pf = calloc(1, sizeof *pf);
	if (!pf) {
		fclose(f);
		return NULL;
	}
	pf->under = f;
	memcpy(pf->head, magic, got);
	pf->nhead = got;
	cookie_io_functions_t io = {.read = prefixed_read,
	                            .close = prefixed_close};
	FILE *w = fopencookie(pf, "rb", io);
	if (!w) {
		fclose(f);
		free(pf);
	}
	return w;
}

/* fopen PATH, or a stream of its own on stdfd when PATH is "-". */
static FILE *open_path(const char *path, int stdfd, const char *mode)
{
	if (strcmp(path, "-") != 0)
		return fopen(path, mode);
	int fd = dup(stdfd);
	FILE *f = fd >= 0 ? fdopen(fd, mode) : NULL;
	if (!f && fd >= 0)
		close(fd);
	return f;
}

int cli_src_open(const char *path, struct cli_src *s)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	memset(s, 0, sizeof *s);
	s->path = path;
	FILE *f = open_path(path, STDIN_FILENO, "rb");
	if (!f) {
		fprintf(stderr, "%s: error: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		s->size = (uint64_t)st.st_size;
	uint8_t magic[4] = {0};
	size_t got = fread(magic, 1, sizeof magic, f);
	s->nano = !(got == 4 && micro_magic(magic));
	f = unread_magic(f, magic, got);
	if (!f) {
		fprintf(stderr, "%s: error: out of memory\n", path);
		return -1;
	}
	errbuf[0] = 0;
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
		f, s->nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
		errbuf);
	if (!p) {
		fclose(f);
		fprintf(stderr, "%s: error: %s\n", path,
		        errbuf[0] ? errbuf : "cannot read the capture");
		return -1;
	}
	s->pcap = p;
	s->file = f;
	s->linktype = pcap_datalink(p);
	s->snaplen = pcap_snapshot(p);
	s->swapped = pcap_is_swapped(p) == 1;
	return 0;
}

int cli_src_open_live(const char *iface, struct cli_src *s)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	memset(s, 0, sizeof *s);
	s->path = iface;
	s->live = 1;
	errbuf[0] = 0;
	pcap_t *p = pcap_create(iface, errbuf);
	if (!p) {
		fprintf(stderr, "%s: error: %s\n", iface, errbuf);
		return -1;
	}
	pcap_set_snaplen(p, 262144);
	pcap_set_immediate_mode(p, 1);
	s->nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
	int rc = pcap_activate(p);
	if (rc < 0) {
		const char *why = pcap_geterr(p);
		fprintf(stderr, "%s: error: %s\n", iface,
		        why && *why ? why : pcap_statustostr(rc));
		pcap_close(p);
		return -1;
	}
	/* Non-blocking, waited on with poll: a blocking read in immediate
	 * mode may never time out, and stop conditions must be looked at. */
	s->fd = pcap_get_selectable_fd(p);
	if (s->fd < 0 || pcap_setnonblock(p, 1, errbuf) != 0) {
		fprintf(stderr, "%s: error: cannot wait on this capture: %s\n",
		        iface, s->fd < 0 ? "no selectable descriptor" : errbuf);
		pcap_close(p);
		return -1;
	}
	s->pcap = p;
	s->linktype = pcap_datalink(p);
	s->snaplen = pcap_snapshot(p);
	s->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	return 0;
}

void cli_src_break(struct cli_src *s)
{
	if (s->pcap)
		pcap_breakloop(s->pcap);
}

int cli_src_next(struct cli_src *s, struct cli_src_pkt *out)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p = s->pcap;
	int rc = pcap_next_ex(p, &h, &d);
	if (rc == 1) {
		out->sec = (int64_t)h->ts.tv_sec;
		out->frac = (uint32_t)h->ts.tv_usec;
		out->caplen = h->caplen;
		out->len = h->len;
		out->data = d;
		return 1;
	}
	if (rc == PCAP_ERROR_BREAK) /* the end of the file, or broken off */
		return 0;
	if (rc == 0 && s->live) { /* nothing yet: wait a moment */
		struct pollfd pfd = {s->fd, POLLIN, 0};
		poll(&pfd, 1, 100); /* EINTR too: the caller looks again */
		return 2;
	}
	/* anything else means libpcap could not go on */
	s->damaged = 1;
	snprintf(s->err, sizeof s->err, "%s", pcap_geterr(p));
	if (!s->err[0])
		snprintf(s->err, sizeof s->err, "read error %d", rc);
	return -1;
}

uint64_t cli_src_pos(const struct cli_src *s)
{
	off_t o = s->file ? ftello((FILE *)s->file) : -1;
	return o > 0 ? (uint64_t)o : 0;
}

void cli_src_close(struct cli_src *s)
{
	if (s->pcap)
		pcap_close(s->pcap); /* closes the file too */
	s->pcap = NULL;
	s->file = NULL;
}

int cli_trace_read(const char *path, struct cli_trace *t)
{
	struct cli_src s;
	memset(t, 0, sizeof *t);
	if (cli_src_open(path, &s) != 0)
		return -1;
	t->linktype = s.linktype;
	t->snaplen = s.snaplen;
	t->nano = s.nano;
	if (t->linktype != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(t->linktype);
		fprintf(stderr,
		        "%s: link type %s (%d) is not supported: dpf filters start "
		        "at an Ethernet header\n",
		        path, name ? name : "unknown", t->linktype);
		cli_src_close(&s);
		return -1;
	}
	struct cli_src_pkt pk;
	int rc;
	while ((rc = cli_src_next(&s, &pk)) == 1) {
		if (cli_trace_append(t, &pk) != 0) {
			fprintf(stderr, "%s: error: out of memory after %zu packets\n",
			        path, t->n);
			cli_src_close(&s);
			cli_trace_free(t);
			return -1;
		}
	}
	if (rc < 0) {
		t->damaged = 1;
		snprintf(t->err, sizeof t->err, "%s", s.err);
	}
	cli_src_close(&s);
	return 0;
}

const char cli_link_names[] =
	"EN10MB, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6";

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

int cli_link_init(struct cli_link *l, int linktype, int swapped)
{
	memset(l, 0, sizeof *l);
	l->linktype = linktype;
	l->swapped = swapped;
	switch (linktype) {
	case DLT_EN10MB:
		l->ether = 1;
		return 0;
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return 0;
	}
	return -1;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	       p[3];
}

/* The EtherType of a BSD loopback address family, as libpcap reads
 * captures: IPv6 is AF_INET6 of the BSDs, FreeBSD and Darwin (Linux
 * writes no such captures). */
static uint16_t af_type(uint32_t af)
{
	if (af == 2)
		return 0x0800;
	if (af == 24 || af == 28 || af == 30)
		return 0x86dd;
	return 0;
}

uint32_t cli_link_frame(const struct cli_link *l, const uint8_t *pkt,
                        uint32_t caplen, uint8_t *out)
{
	uint32_t hlen = 0; /* link header bytes before the network header */
	int type = -1;     /* EtherType, or -1 when the header is cut short */
	switch (l->linktype) {
	case DLT_LINUX_SLL:
		hlen = 16;
		if (caplen >= 16)
			type = pkt[14] << 8 | pkt[15];
		break;
	case DLT_LINUX_SLL2:
		hlen = 20;
		if (caplen >= 2)
			type = pkt[0] << 8 | pkt[1];
		break;
	case DLT_NULL:
	case DLT_LOOP:
		hlen = 4;
		if (caplen >= 4) {
			uint32_t af;
			if (l->linktype == DLT_LOOP)
				af = be32(pkt);
			else {
				memcpy(&af, pkt, 4); /* the writer's order */
				if (l->swapped)
					af = __builtin_bswap32(af);
			}
			type = af_type(af);
		}
		break;
	case DLT_RAW:
		if (caplen >= 1)
			type = (pkt[0] >> 4) == 4 ? 0x0800
			       : (pkt[0] >> 4) == 6 ? 0x86dd : 0;
		break;
	case DLT_IPV4:
		type = 0x0800;
		break;
	case DLT_IPV6:
		type = 0x86dd;
		break;
	default:
		type = 0;
		break;
	}
	memset(out, 0, 12);
	if (type < 0)
		return 12;
	out[12] = (uint8_t)(type >> 8);
	out[13] = (uint8_t)type;
	if (caplen <= hlen)
		return 14;
	memcpy(out + 14, pkt + hlen, caplen - hlen);
	return 14 + caplen - hlen;
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
	uint32_t snaplen, maxcap;
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
	f = open_path(path, STDOUT_FILENO, "wb");
	if (!f) {
		snprintf(err, errcap, "%s: error: %s", path, strerror(errno));
		goto fail;
	}
	setvbuf(f, d->buf, _IOFBF, DUMP_BUFSZ);
	d->snaplen = (uint32_t)snaplen;
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
	if (caplen > d->maxcap)
		d->maxcap = caplen;
}

int cli_dump_close(struct cli_dump *d, char *err, size_t errcap)
{
	int rc = 0;
	FILE *f = pcap_dump_file(d->dumper);
	if (pcap_dump_flush(d->dumper) != 0 || ferror(f)) {
		snprintf(err, errcap, "%s", strerror(errno ? errno : EIO));
		rc = -1;
	}
	/* A packet longer than the snapshot length given at open (a pcapng
	 * input whose interfaces differ): raise the header's snaplen, a host
	 * order word at byte 16, so readers take the packet whole. */
	if (rc == 0 && d->maxcap > d->snaplen && fseeko(f, 16, SEEK_SET) == 0 &&
	    (fwrite(&d->maxcap, 4, 1, f) != 1 || fflush(f) != 0)) {
		snprintf(err, errcap, "%s", strerror(errno ? errno : EIO));
		rc = -1;
	}
	pcap_dump_close(d->dumper);
	pcap_close(d->dead);
	free(d->buf);
	free(d);
	return rc;
}

const char *cli_pcap_version(void)
{
	return pcap_lib_version();
}
