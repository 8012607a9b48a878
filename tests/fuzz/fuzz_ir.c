/*
 * fuzz_ir.c - libFuzzer harness for the binary filter IR.
 *
 * Input: arbitrary bytes, handed to dpf_ir_read.
 * Checks:
 *   - the reader never crashes, leaks or reads outside the input, and a
 *     refusal says "at byte N: ..." with N inside the input (or at its end);
 *   - what it accepts is a valid program that round-trips: writing it gives
 *     back the input byte for byte (the encoding has one form: no padding,
 *     flags or name bytes it could drop), reading that gives the same
 *     program, and writing that gives identical bytes;
 *   - its filters go into one engine (refusals are fine), and the trie, the
 *     naive classifier and a hand-computed reference agree on packets made
 *     from the input: the input itself, and packets synthesised to satisfy
 *     each path over the input as background, at every length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/vfy.h"
#include "dpf/dpf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 16384
#define MAX_SYNTH 24 /* synthesised packets per input */

static void check_diag(const struct dpf_diag *d, size_t len)
{
	unsigned long at;
	char *end;

	if (!memchr(d->msg, '\0', sizeof d->msg))
		fz_fail("diagnostic not NUL-terminated");
	if (strncmp(d->msg, "at byte ", 8) != 0)
		fz_fail("diagnostic without a byte position: '%s'", d->msg);
	at = strtoul(d->msg + 8, &end, 10);
	if (end == d->msg + 8 || strncmp(end, ": ", 2) != 0 || end[2] == '\0')
		fz_fail("malformed diagnostic: '%s'", d->msg);
	if (at > len)
		fz_fail("diagnostic position %lu past the input (%zu bytes)", at,
		        len);
}

static uint8_t *write_prog(const struct dpf_prog *prog, size_t *len)
{
	long n = dpf_ir_write(prog, NULL, 0);
	uint8_t *buf;

	if (n <= 0)
		fz_fail("dpf_ir_write sizing refused an accepted program: %ld", n);
	buf = malloc((size_t)n);
	if (!buf)
		abort();
	long m = dpf_ir_write(prog, buf, (size_t)n);
	if (m != n)
		fz_fail("dpf_ir_write wrote %ld bytes, sized %ld", m, n);
	/* One byte short must be refused, not overrun (ASan watches). */
	uint8_t *shorter = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
	if (!shorter)
		abort();
	if (dpf_ir_write(prog, shorter, (size_t)n - 1) >= 0)
		fz_fail("dpf_ir_write accepted a buffer one byte short");
	free(shorter);
	*len = (size_t)n;
	return buf;
}

static int same_prog(const struct dpf_prog *a, const struct dpf_prog *b)
{
	if (a->nfilters != b->nfilters)
		return 0;
	for (uint32_t i = 0; i < a->nfilters; i++) {
		const struct dpf_filter *x = &a->filters[i], *y = &b->filters[i];
		if (strcmp(x->name, y->name) != 0 || x->priority != y->priority ||
		    x->owner != y->owner || x->npaths != y->npaths)
			return 0;
		for (uint32_t j = 0; j < x->npaths; j++) {
			const struct dpf_path *p = &x->paths[j], *q = &y->paths[j];
			if (p->natoms != q->natoms)
				return 0;
			for (uint32_t k = 0; k < p->natoms; k++) {
				const struct dpf_atom *s = &p->atoms[k], *t = &q->atoms[k];
				if (s->kind != t->kind || s->base != t->base ||
				    s->width != t->width || s->shift != t->shift ||
				    s->offset != t->offset || s->mask != t->mask ||
				    s->value != t->value)
					return 0;
			}
		}
	}
	return 1;
}

static void classify_all(const struct dpf_prog *prog, const uint8_t *data,
                         size_t size)
{
	static uint8_t pkt[FZ_PKT_MAX];
	struct dpf_engine *e = fz_engine(dpf_host_libc());
	struct dpf_diag d;
	unsigned n = 0;

	if (!e)
		abort();
	for (uint32_t i = 0; i < prog->nfilters; i++)
		(void)dpf_insert(e, &prog->filters[i], NULL, &d);
	fz_check_engine(e, "after the inserts");

	fz_compare(e, data, size < 256 ? size : 256);
	for (uint32_t i = 0; i < prog->nfilters && n < MAX_SYNTH; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		for (uint32_t j = 0; j < f->npaths && n < MAX_SYNTH; j++, n++) {
			fz_background(pkt, data, size);
			size_t len = fz_synth(&f->paths[j], pkt);
			fz_compare(e, pkt, len);
			/* A longer frame, so no atom fails for want of bytes. */
			if (len + 8 <= FZ_PKT_MAX)
				fz_compare(e, pkt, len + 8);
		}
	}

	/* Delete every other filter and look again. */
	for (int id = 0; id < dpf_id_limit(e); id += 2)
		if (dpf_filter_get(e, id))
			(void)dpf_delete(e, id);
	fz_check_engine(e, "after the deletes");
	fz_compare(e, data, size < 128 ? size : 128);
	dpf_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dpf_host *host = dpf_host_libc();
	struct dpf_prog *prog = NULL, *again = NULL, *third = NULL;
	struct dpf_diag d;
	size_t n1, n2;

	if (size > MAX_INPUT)
		return 0;
	memset(&d, 0, sizeof d);
	if (dpf_ir_read(host, data, size, &prog, &d) != 0) {
		check_diag(&d, size);
		return 0;
	}
	if (!prog)
		fz_fail("dpf_ir_read succeeded without a program");
	for (uint32_t i = 0; i < prog->nfilters; i++)
		if (vfy_filter(&prog->filters[i], &d) != 0)
			fz_fail("accepted filter %u does not validate: %s", i, d.msg);

	uint8_t *b1 = write_prog(prog, &n1);
	if (n1 != size || memcmp(b1, data, size) != 0)
		fz_fail("accepted input does not write back as itself (%zu bytes "
		        "in, %zu out)", size, n1);
	memset(&d, 0, sizeof d);
	if (dpf_ir_read(host, b1, n1, &again, &d) != 0)
		fz_fail("written program not readable: %s", d.msg);
	if (!same_prog(prog, again))
		fz_fail("program changed in a write/read round trip");
	uint8_t *b2 = write_prog(again, &n2);
	if (n1 != n2 || memcmp(b1, b2, n1) != 0)
		fz_fail("write/read/write not a fixed point (%zu vs %zu bytes)", n1,
		        n2);
	/* The written form is what the kernel receives: read it once more. */
	if (dpf_ir_read(host, b2, n2, &third, &d) != 0)
		fz_fail("rewritten program not readable: %s", d.msg);
	dpf_prog_free(host, third);
	free(b1);
	free(b2);
	dpf_prog_free(host, again);

	classify_all(prog, data, size);
	dpf_prog_free(host, prog);
	return 0;
}
