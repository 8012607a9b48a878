/*
 * image.c - program images: freeing, line lookup, and the binary form
 * that carries a verified-to-be handler into the kernel.
 *
 * Binary form, version 1.  All integers little-endian; names are fixed
 * 64-byte fields, NUL-terminated and NUL-padded.
 *
 *   header (176 bytes)
 *     0   "ASHI"            magic
 *     4   u32 version       ASH_IMAGE_VERSION
 *     8   u32 total length  of the whole image, header included
 *     12  u32 flags         0
 *     16  name[64]          program name
 *     80  name[64]          section name
 *     144 u32 ninsns, u32 nmaps, u32 ndata, u32 nlines, u32 nstr
 *     164 u32 0, u32 0, u32 0
 *   insns   ninsns x 8 bytes  code, dst | src << 4, s16 off, s32 imm
 *   maps    nmaps x 96 bytes  name[64], u32 type, kind, key_size,
 *                             value_size, max_entries, flags, init_off,
 *                             init_len
 *   data    ndata bytes, then zero padding to a multiple of 4
 *   lines   nlines x 20 bytes u32 insn, line, col, file, text
 *   strtab  nstr bytes        NUL-terminated strings; nstr 0, or the last
 *                             byte is NUL
 *
 * The reader trusts nothing: the counts are checked against the limits in
 * ash.h and the sizes must add up to the total length exactly; names must
 * be NUL-terminated printable text; map types, kinds and sizes must be
 * consistent; init ranges lie inside data; lines are sorted, inside the
 * program and point at strings.  Errors say "at byte N: ...".  Whether
 * the instructions are a safe program is the verifier's business.
 */
#include "ash/ash.h"
#include "dpf/internal.h"

#define IMG_MAGIC "ASHI"
#define IMG_HDR 176
#define IMG_NAME 64
#define IMG_INSN 8
#define IMG_MAP 96
#define IMG_LINE 20

void ash_image_free(const struct dpf_host *host, struct ash_image *img)
{
	if (!img)
		return;
	if (img->insns)
		host->free(host->ctx, img->insns,
		           (size_t)img->ninsns * sizeof *img->insns);
	if (img->maps)
		host->free(host->ctx, img->maps,
		           (size_t)img->nmaps * sizeof *img->maps);
	if (img->data)
		host->free(host->ctx, img->data, img->ndata);
	if (img->lines)
		host->free(host->ctx, img->lines,
		           (size_t)img->nlines * sizeof *img->lines);
	if (img->strtab)
		host->free(host->ctx, img->strtab, img->nstr);
	host->free(host->ctx, img, sizeof *img);
}

const struct ash_line *ash_image_line(const struct ash_image *img,
                                      uint32_t insn)
{
	/* the last entry starting at or before insn */
	uint32_t lo = 0, hi = img->nlines;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->lines[mid].insn <= insn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &img->lines[lo - 1] : NULL;
}

int ash_image_is(const uint8_t *buf, size_t len)
{
	return len >= 4 && buf[0] == 'A' && buf[1] == 'S' && buf[2] == 'H' &&
	       buf[3] == 'I';
}

/* ---- writer ---- */

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

static void put32(struct wbuf *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put8(w, v >> (8 * i));
}

static int put_name(struct wbuf *w, const char *s)
{
	size_t n = dpf_strlen(s);
	if (n >= IMG_NAME)
		return DPF_EINVAL;
	for (size_t i = 0; i < IMG_NAME; i++)
		put8(w, i < n ? (uint8_t)s[i] : 0);
	return 0;
}

static size_t image_size(const struct ash_image *img)
{
	return IMG_HDR + (size_t)img->ninsns * IMG_INSN +
	       (size_t)img->nmaps * IMG_MAP + ((img->ndata + 3u) & ~3u) +
	       (size_t)img->nlines * IMG_LINE + img->nstr;
}

long ash_image_write(const struct ash_image *img, uint8_t *buf, size_t cap)
{
	if (img->ninsns > ASH_MAX_INSNS || img->nmaps > ASH_MAX_MAPS ||
	    img->ndata > ASH_MAX_DATA_BYTES || img->nlines > ASH_MAX_LINES ||
	    img->nstr > ASH_MAX_STR)
		return DPF_ELIMIT;
	size_t total = image_size(img);
	struct wbuf w = {buf, cap, 0};
	for (int i = 0; i < 4; i++)
		put8(&w, (uint8_t)IMG_MAGIC[i]);
	put32(&w, ASH_IMAGE_VERSION);
	put32(&w, (uint32_t)total);
	put32(&w, 0);
	if (put_name(&w, img->prog) || put_name(&w, img->section))
		return DPF_EINVAL;
	put32(&w, img->ninsns);
	put32(&w, img->nmaps);
	put32(&w, img->ndata);
	put32(&w, img->nlines);
	put32(&w, img->nstr);
	for (int i = 0; i < 3; i++)
		put32(&w, 0);
	for (uint32_t i = 0; i < img->ninsns; i++) {
		const struct ash_insn *in = &img->insns[i];
		put8(&w, in->code);
		put8(&w, (uint32_t)in->dst | (uint32_t)in->src << 4);
		put8(&w, (uint16_t)in->off);
		put8(&w, (uint16_t)in->off >> 8);
		put32(&w, (uint32_t)in->imm);
	}
	for (uint32_t i = 0; i < img->nmaps; i++) {
		const struct ash_map_def *m = &img->maps[i];
		if (put_name(&w, m->name))
			return DPF_EINVAL;
		put32(&w, m->type);
		put32(&w, m->kind);
		put32(&w, m->key_size);
		put32(&w, m->value_size);
		put32(&w, m->max_entries);
		put32(&w, m->flags);
		put32(&w, m->init_off);
		put32(&w, m->init_len);
	}
	for (uint32_t i = 0; i < img->ndata; i++)
		put8(&w, img->data[i]);
	for (uint32_t i = img->ndata; i & 3; i++)
		put8(&w, 0);
	for (uint32_t i = 0; i < img->nlines; i++) {
		const struct ash_line *l = &img->lines[i];
		put32(&w, l->insn);
		put32(&w, l->line);
		put32(&w, l->col);
		put32(&w, l->file);
		put32(&w, l->text);
	}
	for (uint32_t i = 0; i < img->nstr; i++)
		put8(&w, (uint8_t)img->strtab[i]);
	if (w.len != total)
		return DPF_EINVAL;
	return (long)total;
}

/* ---- reader ---- */

struct rbuf {
	const uint8_t *buf;
	size_t len, pos;
	struct dpf_diag *diag;
};

static uint32_t get32(struct rbuf *r)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)r->buf[r->pos + i] << (8 * i);
	r->pos += 4;
	return v;
}

static int fail(struct rbuf *r, size_t at, const char *what)
{
	dpf_fmt(r->diag->msg, sizeof r->diag->msg, "at byte %zu: %s", at, what);
	return DPF_EINVAL;
}

/* A fixed name field: NUL-terminated, printable, NUL-padded. */
static int get_name(struct rbuf *r, char *out, const char *what)
{
	size_t at = r->pos;
	const uint8_t *p = r->buf + at;
	size_t n = 0;
	while (n < IMG_NAME && p[n])
		n++;
	if (n == IMG_NAME) {
		dpf_fmt(r->diag->msg, sizeof r->diag->msg,
		        "at byte %zu: %s is not NUL-terminated", at, what);
		return DPF_EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e) {
			dpf_fmt(r->diag->msg, sizeof r->diag->msg,
			        "at byte %zu: %s has byte 0x%02x", at + i, what,
			        p[i]);
			return DPF_EINVAL;
		}
	for (size_t i = n; i < IMG_NAME; i++)
		if (p[i]) {
			dpf_fmt(r->diag->msg, sizeof r->diag->msg,
			        "at byte %zu: %s padding is not zero", at + i,
			        what);
			return DPF_EINVAL;
		}
	dpf_memcpy(out, p, n);
	out[n] = 0;
	r->pos += IMG_NAME;
	return 0;
}

static void *zalloc(const struct dpf_host *host, size_t n)
{
	void *p = host->alloc(host->ctx, n ? n : 1);
	if (p)
		dpf_memset(p, 0, n ? n : 1);
	return p;
}

/* The map rules both the reader and the loader apply: 0, or DPF_EINVAL
 * with the broken rule in buf (no position). */
int ash_map_def_check(const struct ash_map_def *m, uint32_t ndata, char *buf,
                      size_t cap)
{
	switch (m->type) {
	case ASH_MAP_ARRAY:
	case ASH_MAP_PERCPU_ARRAY:
		if (m->key_size != 4) {
			dpf_fmt(buf, cap, "array map '%s' key_size is not 4", m->name);
			return DPF_EINVAL;
		}
		break;
	case ASH_MAP_HASH:
	case ASH_MAP_PERCPU_HASH:
	case ASH_MAP_LRU_HASH:
		if (m->key_size == 0 || m->key_size > ASH_MAX_KEY) {
			dpf_fmt(buf, cap, "map '%s' key_size %u not in 1..%u",
			        m->name, m->key_size, ASH_MAX_KEY);
			return DPF_EINVAL;
		}
		break;
	case ASH_MAP_RINGBUF:
		if (m->key_size || m->value_size) {
			dpf_fmt(buf, cap, "ringbuf map '%s' has a key or value size",
			        m->name);
			return DPF_EINVAL;
		}
		if (m->max_entries < 4096 || m->max_entries > (1u << 24) ||
		    (m->max_entries & (m->max_entries - 1))) {
			dpf_fmt(buf, cap, "ringbuf map '%s' size %u is not a power "
			        "of 2 in 4096..16777216", m->name, m->max_entries);
			return DPF_EINVAL;
		}
		break;
	default:
		dpf_fmt(buf, cap, "map '%s' has unknown type %u", m->name,
		        m->type);
		return DPF_EINVAL;
	}
	if (m->type != ASH_MAP_RINGBUF) {
		if (m->value_size == 0 || m->value_size > ASH_MAX_VALUE) {
			dpf_fmt(buf, cap, "map '%s' value_size %u not in 1..%u",
			        m->name, m->value_size, ASH_MAX_VALUE);
			return DPF_EINVAL;
		}
		if (m->max_entries == 0 || m->max_entries > ASH_MAX_ENTRIES) {
			dpf_fmt(buf, cap, "map '%s' max_entries %u not in 1..%u",
			        m->name, m->max_entries, ASH_MAX_ENTRIES);
			return DPF_EINVAL;
		}
	}
	const char *bad = NULL;
	if (m->kind > ASH_MAPK_RODATA)
		bad = "unknown map kind";
	else if (m->kind != ASH_MAPK_USER &&
	         (m->type != ASH_MAP_ARRAY || m->max_entries != 1))
		bad = "global data map is not a one-entry array";
	else if (m->init_len && m->kind == ASH_MAPK_USER)
		bad = "initial data for a map that is not global data";
	else if (m->init_len > m->value_size || m->init_off > ndata ||
	         m->init_len > ndata - m->init_off)
		bad = "initial data out of range";
	if (bad) {
		dpf_fmt(buf, cap, "map '%s': %s", m->name, bad);
		return DPF_EINVAL;
	}
	return 0;
}

static int check_map(struct rbuf *r, size_t at, const struct ash_map_def *m,
                     uint32_t ndata)
{
	char why[200];
	if (ash_map_def_check(m, ndata, why, sizeof why) == 0)
		return 0;
	dpf_fmt(r->diag->msg, sizeof r->diag->msg, "at byte %zu: %s", at, why);
	return DPF_EINVAL;
}

int ash_image_read(const struct dpf_host *host, const uint8_t *buf,
                   size_t len, struct ash_image **out, struct dpf_diag *diag)
{
	struct rbuf r = {buf, len, 0, diag};
	*out = NULL;
	if (len < IMG_HDR)
		return fail(&r, len, "truncated header (an image has at least "
		                     "176 bytes)");
	if (!ash_image_is(buf, len))
		return fail(&r, 0, "not a program image (no ASHI magic)");
	r.pos = 4;
	uint32_t version = get32(&r);
	if (version != ASH_IMAGE_VERSION) {
		dpf_fmt(diag->msg, sizeof diag->msg,
		        "at byte 4: image version %u, this runtime reads %u",
		        version, ASH_IMAGE_VERSION);
		return DPF_EINVAL;
	}
	uint32_t total = get32(&r);
	if (total != len) {
		dpf_fmt(diag->msg, sizeof diag->msg,
		        "at byte 8: total length %u, but %zu bytes given", total,
		        len);
		return DPF_EINVAL;
	}
	if (get32(&r) != 0)
		return fail(&r, 12, "flags are not zero");

	struct ash_image tmp;
	dpf_memset(&tmp, 0, sizeof tmp);
	int rc = get_name(&r, tmp.prog, "program name");
	if (rc == 0)
		rc = get_name(&r, tmp.section, "section name");
	if (rc)
		return rc;
	tmp.ninsns = get32(&r);
	tmp.nmaps = get32(&r);
	tmp.ndata = get32(&r);
	tmp.nlines = get32(&r);
	tmp.nstr = get32(&r);
	for (int i = 0; i < 3; i++)
		if (get32(&r) != 0)
			return fail(&r, r.pos - 4, "reserved field is not zero");
	if (tmp.ninsns == 0 || tmp.ninsns > ASH_MAX_INSNS)
		return fail(&r, 144, "instruction count not in 1..65536");
	if (tmp.nmaps > ASH_MAX_MAPS)
		return fail(&r, 148, "more than 64 maps");
	if (tmp.ndata > ASH_MAX_DATA_BYTES)
		return fail(&r, 152, "more than 16 MiB of global data");
	if (tmp.nlines > ASH_MAX_LINES)
		return fail(&r, 156, "more than 65536 line-table entries");
	if (tmp.nstr > ASH_MAX_STR)
		return fail(&r, 160, "string table over 1 MiB");
	if (image_size(&tmp) != len) {
		dpf_fmt(diag->msg, sizeof diag->msg,
		        "at byte %d: the counts make %zu bytes, the image has %zu",
		        IMG_HDR, image_size(&tmp), len);
		return DPF_EINVAL;
	}

	struct ash_image *img = zalloc(host, sizeof *img);
	if (!img)
		return DPF_ENOMEM;
	*img = tmp;
	img->insns = NULL;
	img->maps = NULL;
	img->data = NULL;
	img->lines = NULL;
	img->strtab = NULL;
	rc = DPF_ENOMEM;
	if (!(img->insns = zalloc(host, (size_t)tmp.ninsns * sizeof *img->insns)))
		goto out;
	if (tmp.nmaps &&
	    !(img->maps = zalloc(host, (size_t)tmp.nmaps * sizeof *img->maps)))
		goto out;
	if (tmp.ndata && !(img->data = zalloc(host, tmp.ndata)))
		goto out;
	if (tmp.nlines &&
	    !(img->lines = zalloc(host, (size_t)tmp.nlines * sizeof *img->lines)))
		goto out;
	if (tmp.nstr && !(img->strtab = zalloc(host, tmp.nstr)))
		goto out;
	/* zalloc gave 1 byte for empty arrays we did not ask for */

	for (uint32_t i = 0; i < tmp.ninsns; i++) {
		const uint8_t *p = buf + r.pos;
		struct ash_insn *in = &img->insns[i];
		in->code = p[0];
		in->dst = p[1] & 0xf;
		in->src = p[1] >> 4;
		in->off = (int16_t)(uint16_t)(p[2] | p[3] << 8);
		r.pos += 4;
		in->imm = (int32_t)get32(&r);
	}
	for (uint32_t i = 0; i < tmp.nmaps; i++) {
		size_t at = r.pos;
		struct ash_map_def *m = &img->maps[i];
		if ((rc = get_name(&r, m->name, "map name")))
			goto out;
		m->type = get32(&r);
		m->kind = get32(&r);
		m->key_size = get32(&r);
		m->value_size = get32(&r);
		m->max_entries = get32(&r);
		m->flags = get32(&r);
		m->init_off = get32(&r);
		m->init_len = get32(&r);
		if ((rc = check_map(&r, at, m, tmp.ndata)))
			goto out;
		for (uint32_t k = 0; k < i; k++)
			if (dpf_strcmp(img->maps[k].name, m->name) == 0) {
				rc = fail(&r, at, "two maps have the same name");
				goto out;
			}
	}
	if (tmp.ndata)
		dpf_memcpy(img->data, buf + r.pos, tmp.ndata);
	r.pos += tmp.ndata;
	for (; r.pos & 3; r.pos++)
		if (buf[r.pos]) {
			rc = fail(&r, r.pos, "data padding is not zero");
			goto out;
		}
	size_t lines_at = r.pos;
	for (uint32_t i = 0; i < tmp.nlines; i++) {
		struct ash_line *l = &img->lines[i];
		l->insn = get32(&r);
		l->line = get32(&r);
		l->col = get32(&r);
		l->file = get32(&r);
		l->text = get32(&r);
	}
	if (tmp.nstr) {
		dpf_memcpy(img->strtab, buf + r.pos, tmp.nstr);
		if (img->strtab[tmp.nstr - 1] != 0) {
			rc = fail(&r, r.pos + tmp.nstr - 1,
			          "string table does not end with NUL");
			goto out;
		}
	}
	for (uint32_t i = 0; i < tmp.nlines; i++) {
		const struct ash_line *l = &img->lines[i];
		size_t at = lines_at + (size_t)i * IMG_LINE;
		if (l->insn >= tmp.ninsns ||
		    (i && l->insn < img->lines[i - 1].insn)) {
			rc = fail(&r, at, "line entry out of order or past the "
			                  "program");
			goto out;
		}
		if (l->file >= tmp.nstr || l->text >= tmp.nstr) {
			rc = fail(&r, at, "line entry names a string outside "
			                  "the string table");
			goto out;
		}
	}
	*out = img;
	return 0;
out:
	/* sizes must match what was allocated: empty arrays are NULL here */
	ash_image_free(host, img);
	return rc;
}
