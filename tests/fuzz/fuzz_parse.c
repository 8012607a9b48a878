/*
 * fuzz_parse.c - libFuzzer harness for the text language.
 *
 * Input: arbitrary bytes, taken as the source of a file "fuzz.dpf".
 * Checks:
 *   - dpf_lang_parse never crashes, leaks or reads outside the input;
 *   - a refusal fills a one-line "fuzz.dpf:LINE:COL: error: ..." with LINE
 *     and COL inside the input (COL may point one past a line's end);
 *   - an accepted program keeps the contract of lang.h: every filter
 *     validates, every path is canonical and can match;
 *   - every filter goes into one engine (refusals are fine), and the trie,
 *     the naive classifier and a hand-computed reference agree on a few
 *     fixed packets at every length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/vfy.h"
#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bigger inputs only make each run slower, not the parser more exercised. */
#define MAX_INPUT 4096
/* Classification cost grows with the path count; past this, parse only. */
#define MAX_PATHS_CLASSIFIED 2048

/* Ethernet frames touching each protocol the language knows. */
static const uint8_t pkt_tcp4[] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06,
	0x00, 0x00, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01, 0xc0, 0x01,
	0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02,
	0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t pkt_udp4_opts[] = { /* IHL 6: one option word */
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x08, 0x00, 0x46, 0x00, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11,
	0x00, 0x00, 0xc0, 0xa8, 0x01, 0x05, 0x08, 0x08, 0x08, 0x08, 0x94, 0x04,
	0x00, 0x00, 0x13, 0x88, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 0xab, 0xcd,
	0xef, 0x01,
};
static const uint8_t pkt_frag4[] = { /* non-first fragment, proto UDP */
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x00, 0xb9, 0x40, 0x11,
	0x00, 0x00, 0xc0, 0xa8, 0x01, 0x05, 0x08, 0x08, 0x08, 0x08, 0x00, 0x35,
	0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
};
static const uint8_t pkt_vlan[] = { /* 802.1Q id 100, ICMP echo */
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x00, 0x03,
	0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x01, 0x02, 0x03, 0x0a, 0x00,
	0x00, 0x01, 0x08, 0x00, 0xf7, 0xff, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t pkt_arp[] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xc0, 0xa8, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0xc0, 0xa8, 0x01, 0x02,
};
static const uint8_t pkt_tcp6[] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x20, 0x01,
	0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xd4, 0x31, 0x01, 0xbb, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x12, 0x20, 0x00, 0x00, 0x00,
	0x00, 0x00,
};
static const uint8_t pkt_icmp6[] = { /* neighbour solicitation */
	0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0x86, 0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0xff, 0xfe, 0x80,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00,
};

static const struct {
	const uint8_t *p;
	size_t len;
} packets[] = {
	{pkt_tcp4, sizeof pkt_tcp4},   {pkt_udp4_opts, sizeof pkt_udp4_opts},
	{pkt_frag4, sizeof pkt_frag4}, {pkt_vlan, sizeof pkt_vlan},
	{pkt_arp, sizeof pkt_arp},     {pkt_tcp6, sizeof pkt_tcp6},
	{pkt_icmp6, sizeof pkt_icmp6},
};

/* "fuzz.dpf:LINE:COL: error: MSG", one line, position inside the input. */
static void check_diag(const struct dpf_diag *d, const uint8_t *src,
                       size_t len)
{
	const char *m = d->msg;
	unsigned long line, col;
	char *end;

	if (!memchr(m, '\0', sizeof d->msg))
		fz_fail("diagnostic not NUL-terminated");
	if (strchr(m, '\n'))
		fz_fail("diagnostic spans lines: '%s'", m);
	if (strncmp(m, "fuzz.dpf:", 9) != 0)
		fz_fail("diagnostic does not start with the file: '%s'", m);
	line = strtoul(m + 9, &end, 10);
	if (end == m + 9 || *end != ':')
		fz_fail("diagnostic has no line: '%s'", m);
	col = strtoul(end + 1, &end, 10);
	if (*end != ':' || strncmp(end, ": error: ", 9) != 0 || end[9] == '\0')
		fz_fail("diagnostic has no column or message: '%s'", m);
	if (line < 1 || col < 1)
		fz_fail("diagnostic position not 1-based: '%s'", m);

	/* Find the line and check the column lies within it (or one past). */
	size_t i = 0, l = 1;
	while (l < line && i < len) {
		if (src[i++] == '\n')
			l++;
	}
	if (l != line)
		fz_fail("diagnostic line %lu past the input: '%s'", line, m);
	size_t width = 0;
	while (i + width < len && src[i + width] != '\n')
		width++;
	if (col > width + 1)
		fz_fail("diagnostic column %lu past the line (%zu bytes): '%s'",
		        col, width, m);
}

/* lang.h promises canonical, satisfiable, valid filters. */
static void check_prog(const struct dpf_prog *prog)
{
	struct dpf_atom tmp[DPF_MAX_ATOMS];
	struct dpf_diag d;

	for (uint32_t i = 0; i < prog->nfilters; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		if (vfy_filter(f, &d) != 0)
			fz_fail("parsed filter %u does not validate: %s", i, d.msg);
		if (f->npaths == 0)
			fz_fail("parsed filter '%s' has no path", f->name);
		for (uint32_t j = 0; j < f->npaths; j++) {
			const struct dpf_path *p = &f->paths[j];
			struct dpf_path c = {p->natoms, tmp};
			if (p->natoms > DPF_MAX_ATOMS)
				fz_fail("filter '%s' path %u: %u atoms", f->name, j,
				        p->natoms);
			memcpy(tmp, p->atoms, p->natoms * sizeof *tmp);
			if (dpf_path_canon(&c) != 0)
				fz_fail("filter '%s' path %u can never match", f->name, j);
			if (c.natoms != p->natoms ||
			    memcmp(tmp, p->atoms, p->natoms * sizeof *tmp) != 0)
				fz_fail("filter '%s' path %u is not canonical", f->name, j);
		}
	}
}

/* A packet built to satisfy each of the first few paths, over each fixed
 * packet in turn as background: these reach the terminals. */
static void compare_synth(const struct dpf_engine *e,
                          const struct dpf_prog *prog)
{
	static uint8_t pkt[FZ_PKT_MAX];
	unsigned done = 0;

	for (uint32_t i = 0; i < prog->nfilters && done < 16; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		for (uint32_t j = 0; j < f->npaths && done < 16; j++, done++) {
			size_t b = done % (sizeof packets / sizeof packets[0]);
			fz_background(pkt, packets[b].p, packets[b].len);
			memcpy(pkt, packets[b].p, packets[b].len);
			size_t len = fz_synth(&f->paths[j], pkt);
			if (len < packets[b].len)
				len = packets[b].len;
			fz_compare(e, pkt, len);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dpf_host *host = dpf_host_libc();
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	uint64_t npaths = 0;

	if (size > MAX_INPUT)
		return 0;
	memset(&d, 0, sizeof d);
	if (dpf_lang_parse("fuzz.dpf", (const char *)data, size, &prog, &d) != 0) {
		check_diag(&d, data, size);
		if (prog)
			dpf_prog_free(host, prog);
		return 0;
	}
	if (!prog)
		fz_fail("parse succeeded without a program");
	check_prog(prog);

	for (uint32_t i = 0; i < prog->nfilters; i++)
		npaths += prog->filters[i].npaths;
	if (npaths <= MAX_PATHS_CLASSIFIED) {
		struct dpf_engine *e = fz_engine(host);
		for (uint32_t i = 0; i < prog->nfilters; i++) {
			int id = -1;
			(void)dpf_insert(e, &prog->filters[i], &id, &d);
		}
		fz_check_engine(e, "after the inserts");
		for (size_t i = 0; i < sizeof packets / sizeof packets[0]; i++)
			fz_compare(e, packets[i].p, packets[i].len);
		compare_synth(e, prog);
		dpf_engine_free(e);
	}
	dpf_prog_free(host, prog);
	return 0;
}
