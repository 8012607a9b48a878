/*
 * ir_io.c - the versioned binary form of filter IR, used to carry filters
 * into the kernel.  All integers are little-endian.
 *
 *   header   "DPFI"  u16 version (=1)  u16 flags (=0)  u32 nfilters
 *            u32 total length of the blob in bytes (header included)
 *   filter   u8 namelen  name[namelen]  u32 priority  u32 owner  u32 npaths
 *            (name: namelen bytes, no NUL among them, no terminator)
 *   path     u16 natoms
 *   atom     u8 kind  u8 base  u8 width  u8 shift  u16 offset  u16 zero
 *            u32 mask  u32 value                       (16 bytes)
 *
 * The reader trusts nothing: every length is checked against what is left
 * before anything is allocated (so allocation is bounded by the input
 * size), every filter goes through vfy_filter, trailing bytes are
 * refused, and errors say "at byte N: ...".  On error nothing leaks.
 */
#include "verifier/vfy.h"
#include "dpf/internal.h"

#define IR_MAGIC "DPFI"
#define IR_VERSION 1
#define IR_HDR 16
#define IR_ATOM 16

struct wbuf {
	uint8_t *buf;
	size_t cap, len;
};

static void put8(struct wbuf *w, uint32_t v)
{
	if (w->buf && w->len < w->cap)
		w->buf[w->len] = (uint8_t)v;
	w->len++;
}

static void put16(struct wbuf *w, uint32_t v)
{
	put8(w, v);
	put8(w, v >> 8);
}

static void put32(struct wbuf *w, uint32_t v)
{
	put16(w, v);
	put16(w, v >> 16);
}

long dpf_ir_write(const struct dpf_prog *prog, uint8_t *buf, size_t cap)
{
	struct wbuf w = {buf, cap, 0};
	for (int i = 0; i < 4; i++)
		put8(&w, (uint8_t)IR_MAGIC[i]);
	put16(&w, IR_VERSION);
	put16(&w, 0);
	put32(&w, prog->nfilters);
	put32(&w, 0); /* total length, patched below */
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		size_t nl = dpf_strlen(f->name);
		if (nl > DPF_NAME_MAX)
			return DPF_EINVAL;
		put8(&w, (uint32_t)nl);
		for (size_t k = 0; k < nl; k++)
			put8(&w, (uint8_t)f->name[k]);
		put32(&w, f->priority);
		put32(&w, f->owner);
		put32(&w, f->npaths);
		for (uint32_t p = 0; p < f->npaths; p++) {
			const struct dpf_path *pa = &f->paths[p];
			if (pa->natoms > 0xffff)
				return DPF_ELIMIT;
			put16(&w, pa->natoms);
			for (uint32_t a = 0; a < pa->natoms; a++) {
				const struct dpf_atom *at = &pa->atoms[a];
				put8(&w, at->kind);
				put8(&w, at->base);
				put8(&w, at->width);
				put8(&w, at->shift);
				put16(&w, at->offset);
				put16(&w, 0);
				put32(&w, at->mask);
				put32(&w, at->value);
			}
		}
	}
	if (w.len > 0xffffffffu)
		return DPF_ELIMIT;
	if (buf && w.len > cap)
		return DPF_ELIMIT;
	if (buf) {
		struct wbuf h = {buf + 12, 4, 0};
		put32(&h, (uint32_t)w.len);
	}
	return (long)w.len;
}

struct rbuf {
	const uint8_t *buf;
	size_t len, pos;
	struct dpf_diag *diag;
	int failed;
};

static int need(struct rbuf *r, size_t n, const char *what)
{
	if (r->failed)
		return 0;
	if (r->len - r->pos < n) {
		dpf_fmt(r->diag->msg, sizeof r->diag->msg,
		        "at byte %zu: truncated %s (need %zu bytes, %zu left)", r->pos,
		        what, n, r->len - r->pos);
		r->failed = 1;
		return 0;
	}
	return 1;
}

static uint32_t get8(struct rbuf *r)
{
	return r->buf[r->pos++];
}

static uint32_t get16(struct rbuf *r)
{
	uint32_t v = get8(r);
	return v | get8(r) << 8;
}

static uint32_t get32(struct rbuf *r)
{
	uint32_t v = get16(r);
	return v | get16(r) << 16;
}

static int fail(struct rbuf *r, size_t at, const char *msg, uint32_t v)
{
	dpf_fmt(r->diag->msg, sizeof r->diag->msg, "at byte %zu: %s (%u)", at,
	        msg, v);
	r->failed = 1;
	return DPF_EINVAL;
}

int dpf_ir_read(const struct dpf_host *h, const uint8_t *buf, size_t len,
                struct dpf_prog **out, struct dpf_diag *diag)
{
	struct rbuf r = {buf, len, 0, diag, 0};
	*out = NULL;
	if (!need(&r, IR_HDR, "header"))
		return DPF_EINVAL;
	for (int i = 0; i < 4; i++)
		if (buf[i] != (uint8_t)IR_MAGIC[i]) {
			dpf_fmt(diag->msg, sizeof diag->msg,
			        "at byte 0: not DPF IR (bad magic)");
			return DPF_EINVAL;
		}
	r.pos = 4;
	uint32_t version = get16(&r);
	if (version != IR_VERSION)
		return fail(&r, 4, "unsupported IR version, this reader knows 1",
		            version);
	uint32_t flags = get16(&r);
	if (flags)
		return fail(&r, 6, "unknown flags", flags);
	uint32_t nfilters = get32(&r);
	if (nfilters > DPF_MAX_FILTERS)
		return fail(&r, 8, "filter count above the limit", nfilters);
	uint32_t total = get32(&r);
	if (total != len) {
		dpf_fmt(diag->msg, sizeof diag->msg,
		        "at byte 12: the length field says %u bytes, the input "
		        "has %zu",
		        total, len);
		return DPF_EINVAL;
	}
	/* Each filter needs at least 13 bytes: bound the allocation. */
	if ((size_t)nfilters * 13 > len - IR_HDR)
		return fail(&r, 8, "filter count exceeds what the input can hold",
		            nfilters);

	struct dpf_prog *prog = dpf_zalloc(h, sizeof *prog);
	if (!prog)
		return DPF_ENOMEM;
	int rc = DPF_ENOMEM;
	if (nfilters) {
		prog->filters = dpf_zalloc(h, nfilters * sizeof(struct dpf_filter));
		if (!prog->filters)
			goto out;
	}
	prog->nfilters = nfilters;
	rc = DPF_EINVAL;
	for (uint32_t i = 0; i < nfilters; i++) {
		struct dpf_filter *f = &prog->filters[i];
		size_t fstart = r.pos;
		if (!need(&r, 1, "filter name length"))
			goto out;
		uint32_t nl = get8(&r);
		if (nl == 0 || nl > DPF_NAME_MAX) {
			fail(&r, fstart, "bad filter name length", nl);
			goto out;
		}
		if (!need(&r, nl + 12, "filter header"))
			goto out;
		for (uint32_t k = 0; k < nl; k++) {
			/* The name is a C string from here on: a NUL inside it
			 * would cut it short and install it under another name. */
			if (!(f->name[k] = (char)get8(&r))) {
				dpf_fmt(diag->msg, sizeof diag->msg,
				        "at byte %zu: NUL byte inside the filter name "
				        "(name byte %u of %u)",
				        r.pos - 1, k, nl);
				goto out;
			}
		}
		f->name[nl] = 0;
		f->priority = get32(&r);
		f->owner = get32(&r);
		uint32_t np = get32(&r);
		if (np == 0 || np > DPF_MAX_PATHS || (size_t)np * 2 > len - r.pos) {
			fail(&r, r.pos - 4, "bad path count", np);
			goto out;
		}
		f->paths = dpf_zalloc(h, np * sizeof(struct dpf_path));
		if (!f->paths) {
			rc = DPF_ENOMEM;
			goto out;
		}
		f->npaths = np;
		for (uint32_t p = 0; p < np; p++) {
			if (!need(&r, 2, "path header"))
				goto out;
			uint32_t na = get16(&r);
			if (na > DPF_MAX_ATOMS) {
				fail(&r, r.pos - 2, "atom count above the limit", na);
				goto out;
			}
			if (!need(&r, (size_t)na * IR_ATOM, "atoms"))
				goto out;
			if (na) {
				f->paths[p].atoms = dpf_zalloc(h, na * sizeof(struct dpf_atom));
				if (!f->paths[p].atoms) {
					rc = DPF_ENOMEM;
					goto out;
				}
			}
			f->paths[p].natoms = na;
			for (uint32_t a = 0; a < na; a++) {
				struct dpf_atom *at = &f->paths[p].atoms[a];
				size_t apos = r.pos;
				at->kind = (uint8_t)get8(&r);
				at->base = (uint8_t)get8(&r);
				at->width = (uint8_t)get8(&r);
				at->shift = (uint8_t)get8(&r);
				at->offset = (uint16_t)get16(&r);
				uint32_t pad = get16(&r);
				at->mask = get32(&r);
				at->value = get32(&r);
				if (pad) {
					fail(&r, apos + 6, "nonzero padding in atom", pad);
					goto out;
				}
			}
		}
		struct dpf_diag vd;
		if (vfy_filter(f, &vd) != DPF_OK) {
			dpf_fmt(diag->msg, sizeof diag->msg, "at byte %zu: %s", fstart,
			        vd.msg);
			goto out;
		}
	}
	if (r.pos != len) {
		fail(&r, r.pos, "trailing bytes after the last filter",
		     (uint32_t)(len - r.pos));
		goto out;
	}
	*out = prog;
	return DPF_OK;
out:
	dpf_prog_free(h, prog);
	return rc;
}
