/*
 * loader_btf.c - the BTF checks the loader makes before libbpf sees an
 * object.  libbpf 1.1 trusts type ids and .BTF.ext offsets; hostile BTF
 * makes it read through NULL or loop forever.
 *
 * Interface (loader_int.h):
 *   ash_btf_check(btf, btf_len, ext, ext_len, diag)
 *     .BTF's bytes and those of .BTF.ext (NULL when absent): 0, or
 *     DPF_EINVAL with diag, DPF_ENOMEM.
 *   ash_btf_lines(btf, btf_len, ext, ext_len, fn, ctx, diag)
 *     fn(ctx, section, byte offset, file, source text, line_col) for
 *     each line-info record of .BTF.ext, strings from .BTF's string
 *     section; stops at fn's first nonzero return, which it returns.
 *
 * Checked: every type is of a known kind and fits the type section;
 * every name and every referenced type id is in range; chains of
 * modifiers, typedefs, pointers and arrays end; FUNC names a FUNC_PROTO;
 * DATASEC entries name a VAR or FUNC; decl tags point inside their
 * target; every .BTF.ext record group lies inside its subsection and
 * names a section by a valid string.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/loader_int.h"

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* .BTF's string section: 0, or DPF_EINVAL. */
static int btf_strings(const uint8_t *d, size_t n, const char **str,
                       uint32_t *len, struct dpf_diag *diag)
{
	if (n < 24 || (rd32(d) & 0xffff) != 0xeb9f)
		return ash_ld_fail(diag, "bad .BTF header");
	uint32_t hdr = rd32(d + 4), soff = rd32(d + 16), slen = rd32(d + 20);
	if (hdr < 24 || hdr > n || soff > n - hdr || slen > n - hdr - soff ||
	    slen == 0 || d[hdr + soff + slen - 1] != 0)
		return ash_ld_fail(diag, "bad .BTF string section");
	*str = (const char *)d + hdr + soff;
	*len = slen;
	return 0;
}

enum {
	K_INT = 1, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF,
	K_VOLATILE, K_CONST, K_RESTRICT, K_FUNC, K_FUNC_PROTO, K_VAR,
	K_DATASEC, K_FLOAT, K_DECL_TAG, K_TYPE_TAG, K_ENUM64,
};

struct btf_chk {
	struct dpf_diag *diag;
	const uint8_t *types;
	uint32_t types_len, str_len, ntypes;
	uint32_t *off; /* offset of type id i in types (i >= 1) */
};

static uint32_t bt_kind(const struct btf_chk *c, uint32_t id)
{
	return (rd32(c->types + c->off[id] + 4) >> 24) & 0x1f;
}

static uint32_t bt_vlen(const struct btf_chk *c, uint32_t id)
{
	return rd32(c->types + c->off[id] + 4) & 0xffff;
}

static uint32_t bt_ref(const struct btf_chk *c, uint32_t id)
{
	return rd32(c->types + c->off[id] + 8);
}

/* Bytes after the 12-byte header, or 0 with *bad set for unknown kinds. */
static uint64_t bt_extra(uint32_t kind, uint32_t vlen, int *bad)
{
	switch (kind) {
	case K_INT: case K_VAR: case K_DECL_TAG: return 4;
	case K_ARRAY: return 12;
	case K_STRUCT: case K_UNION: case K_DATASEC: case K_ENUM64:
		return (uint64_t)vlen * 12;
	case K_ENUM: case K_FUNC_PROTO: return (uint64_t)vlen * 8;
	case K_PTR: case K_FWD: case K_TYPEDEF: case K_VOLATILE: case K_CONST:
	case K_RESTRICT: case K_FUNC: case K_FLOAT: case K_TYPE_TAG:
		return 0;
	default:
		*bad = 1;
		return 0;
	}
}

static int bt_id_ok(const struct btf_chk *c, uint32_t id)
{
	return id < c->ntypes;
}

static int check_type(const struct btf_chk *c, uint32_t id)
{
	const uint8_t *t = c->types + c->off[id];
	uint32_t kind = bt_kind(c, id), vlen = bt_vlen(c, id), ref = rd32(t + 8);
	const uint8_t *x = t + 12;

	if (rd32(t) >= c->str_len)
		return ash_ld_fail(c->diag, "bad BTF: type %u: name outside the strings",
		            id);
	switch (kind) {
	case K_PTR: case K_TYPEDEF: case K_VOLATILE: case K_CONST:
	case K_RESTRICT: case K_TYPE_TAG: case K_VAR:
		if (!bt_id_ok(c, ref))
			goto badref;
		break;
	case K_FUNC:
		if (!bt_id_ok(c, ref) || ref == 0 || bt_kind(c, ref) != K_FUNC_PROTO)
			return ash_ld_fail(c->diag, "bad BTF: function %u has no prototype",
			            id);
		break;
	case K_ARRAY:
		if (!bt_id_ok(c, rd32(x)) || !bt_id_ok(c, rd32(x + 4)))
			goto badref;
		break;
	case K_STRUCT: case K_UNION:
		for (uint32_t i = 0; i < vlen; i++, x += 12)
			if (rd32(x) >= c->str_len || !bt_id_ok(c, rd32(x + 4)))
				goto badref;
		break;
	case K_ENUM: case K_ENUM64:
		for (uint32_t i = 0; i < vlen; i++, x += kind == K_ENUM ? 8 : 12)
			if (rd32(x) >= c->str_len)
				goto badref;
		break;
	case K_FUNC_PROTO:
		if (!bt_id_ok(c, ref))
			goto badref;
		for (uint32_t i = 0; i < vlen; i++, x += 8)
			if (rd32(x) >= c->str_len || !bt_id_ok(c, rd32(x + 4)))
				goto badref;
		break;
	case K_DATASEC:
		for (uint32_t i = 0; i < vlen; i++, x += 12) {
			uint32_t v = rd32(x);
			if (!bt_id_ok(c, v) || v == 0 ||
			    (bt_kind(c, v) != K_VAR && bt_kind(c, v) != K_FUNC))
				goto badref;
		}
		break;
	case K_DECL_TAG: {
		int32_t comp;
		memcpy(&comp, x, 4);
		if (!bt_id_ok(c, ref) || ref == 0)
			goto badref;
		if (comp != -1) {
			uint32_t tk = bt_kind(c, ref), tv = bt_vlen(c, ref);
			if (tk == K_FUNC) {
				uint32_t p = bt_ref(c, ref);
				tv = p && p < c->ntypes ? bt_vlen(c, p) : 0;
			} else if (tk != K_STRUCT && tk != K_UNION) {
				goto badref;
			}
			if (comp < 0 || (uint32_t)comp >= tv)
				goto badref;
		}
		break;
	}
	default:
		break;
	}
	return 0;
badref:
	return ash_ld_fail(c->diag, "bad BTF: type %u refers outside the types", id);
}

/* Modifier, typedef, pointer and array chains from id must end (all
 * ids already checked). */
static int check_chain(const struct btf_chk *c, uint32_t id)
{
	uint32_t cur = id;
	for (int steps = 0;; steps++) {
		uint32_t k = bt_kind(c, cur);
		if (steps > 64)
			return ash_ld_fail(c->diag, "bad BTF: type %u refers to itself",
			            id);
		if (k == K_ARRAY)
			cur = rd32(c->types + c->off[cur] + 12);
		else if (k == K_PTR || k == K_TYPEDEF || k == K_VOLATILE ||
		         k == K_CONST || k == K_RESTRICT || k == K_TYPE_TAG ||
		         k == K_VAR)
			cur = bt_ref(c, cur);
		else
			break;
		if (cur == 0)
			break;
	}
	return 0;
}

/* The .BTF.ext subsection at header fields (off, len): records of at
 * least min bytes grouped by section. */
static int check_ext_info(const uint8_t *p, uint32_t len, uint32_t min,
                          uint32_t str_len, struct dpf_diag *diag)
{
	if (len == 0)
		return 0;
	if (len < 4 || rd32(p) < min || rd32(p) > 1024)
		return ash_ld_fail(diag, "bad .BTF.ext record size");
	uint32_t rec = rd32(p);
	const uint8_t *e = p + len;
	for (p += 4; p < e;) {
		if (e - p < 8)
			return ash_ld_fail(diag, "truncated .BTF.ext");
		uint32_t name = rd32(p), cnt = rd32(p + 4);
		p += 8;
		if (name >= str_len || cnt == 0 || cnt > (uint64_t)(e - p) / rec)
			return ash_ld_fail(diag, "bad .BTF.ext section record");
		p += (size_t)cnt * rec;
	}
	return 0;
}

int ash_btf_check(const uint8_t *d, size_t n, const uint8_t *ext,
                  size_t ext_len, struct dpf_diag *diag)
{
	struct btf_chk c;
	int err;

	const char *str = NULL;
	uint32_t str_len = 0;
	if ((err = btf_strings(d, n, &str, &str_len, diag)))
		return err;
	(void)str;
	uint32_t hdr = rd32(d + 4), toff = rd32(d + 8), tlen = rd32(d + 12);
	if (toff > n - hdr || tlen > n - hdr - toff || toff % 4 || tlen % 4)
		return ash_ld_fail(diag, "bad .BTF type section");
	memset(&c, 0, sizeof c);
	c.diag = diag;
	c.types = d + hdr + toff;
	c.types_len = tlen;
	c.str_len = str_len;
	c.off = malloc((tlen / 12 + 2) * sizeof *c.off);
	if (!c.off)
		return DPF_ENOMEM;
	c.ntypes = 1;
	for (uint64_t at = 0; at < tlen;) {
		int bad = 0;
		if (tlen - at < 12) {
			free(c.off);
			return ash_ld_fail(diag, "bad BTF: truncated type %u", c.ntypes);
		}
		uint32_t info = rd32(c.types + at + 4);
		uint64_t sz = 12 + bt_extra((info >> 24) & 0x1f, info & 0xffff, &bad);
		if (bad || sz > tlen - at) {
			free(c.off);
			return ash_ld_fail(diag, "bad BTF: type %u of unknown kind or "
			            "truncated", c.ntypes);
		}
		c.off[c.ntypes++] = (uint32_t)at;
		at += sz;
	}
	for (uint32_t id = 1; id < c.ntypes; id++)
		if ((err = check_type(&c, id))) {
			free(c.off);
			return err;
		}
	for (uint32_t id = 1; id < c.ntypes; id++)
		if ((err = check_chain(&c, id))) {
			free(c.off);
			return err;
		}
	free(c.off);

	if (!ext)
		return 0;
	d = ext;
	n = ext_len;
	if (n < 24 || (rd32(d) & 0xffff) != 0xeb9f)
		return ash_ld_fail(diag, "bad .BTF.ext header");
	hdr = rd32(d + 4);
	if (hdr < 24 || hdr > n || hdr % 4)
		return ash_ld_fail(diag, "bad .BTF.ext header");
	/* func_info, line_info, then (longer headers) CO-RE relocations */
	static const uint32_t min_rec[] = {8, 16, 16};
	for (int k = 0; k < 3 && 8 + 8 * (uint32_t)k + 8 <= hdr; k++) {
		uint32_t off = rd32(d + 8 + 8 * k), len = rd32(d + 12 + 8 * k);
		if (off > n - hdr || len > n - hdr - off || off % 4)
			return ash_ld_fail(diag, "bad .BTF.ext subsection");
		if ((err = check_ext_info(d + hdr + off, len, min_rec[k],
		                          str_len, diag)))
			return err;
	}
	return 0;
}


int ash_btf_lines(const uint8_t *btf, size_t btf_len, const uint8_t *d,
                  size_t n, ash_btf_line_fn fn, void *ctx,
                  struct dpf_diag *diag)
{
	const char *str = NULL;
	uint32_t str_len = 0;
	int err;

	if ((err = btf_strings(btf, btf_len, &str, &str_len, diag)))
		return err;
	if (n < 24 || (rd32(d) & 0xffff) != 0xeb9f)
		return ash_ld_fail(diag, "bad .BTF.ext header");
	uint32_t hdr = rd32(d + 4), loff = rd32(d + 16), llen = rd32(d + 20);
	if (hdr < 24 || hdr > n || loff > n - hdr || llen > n - hdr - loff)
		return ash_ld_fail(diag, "bad .BTF.ext line info");
	if (llen == 0)
		return 0;
	const uint8_t *p = d + hdr + loff, *e = p + llen;
	if (llen < 4 || rd32(p) < 16 || rd32(p) > 1024)
		return ash_ld_fail(diag, "bad .BTF.ext line info");
	uint32_t rec = rd32(p);
	for (p += 4; p < e;) {
		if (e - p < 8)
			return ash_ld_fail(diag, "truncated .BTF.ext line info");
		uint32_t name = rd32(p), cnt = rd32(p + 4);
		p += 8;
		if (name >= str_len || cnt > (uint64_t)(e - p) / rec)
			return ash_ld_fail(diag, "truncated .BTF.ext line info");
		for (uint32_t k = 0; k < cnt; k++, p += rec) {
			uint32_t off = rd32(p), file = rd32(p + 4),
			         text = rd32(p + 8), lc = rd32(p + 12);
			if (file >= str_len || text >= str_len)
				return ash_ld_fail(diag, "bad .BTF.ext line record");
			if ((err = fn(ctx, str + name, off, str + file, str + text,
			              lc)))
				return err;
		}
	}
	return 0;
}
