/*
 * lang_int.h - private interface between the passes of the filter language.
 *
 * Pipeline (one pass per file):
 *   lex.c     source bytes -> tokens with positions
 *   value.c   value tokens -> numbers, IPv4, IPv6, MAC (with /prefix)
 *   fields.c  the field and protocol-word table; value/mask checks
 *   parse.c   tokens -> one filter declaration (AST) at a time
 *   expand.c  AST -> canonical, deduplicated paths (disjunctive form)
 *   lang.c    the driver: arena, diagnostics, building struct dpf_prog
 *
 * Errors are data: the first one is formatted into the caller's dpf_diag
 * as "FILE:LINE:COL: error: MESSAGE" and every pass returns a failure
 * status up to the driver; nothing longjmps.  All AST memory comes from
 * one arena per filter, freed in one call.
 */
#ifndef DPF_LANG_INT_H
#define DPF_LANG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dpf/dpf.h"

/* ---- context, diagnostics, arena (lang.c) ---- */

struct lang_pos {
	uint32_t line, col; /* 1-based; col counts bytes */
};

struct lang_chunk;

struct lang_ctx {
	const char *file;
	struct dpf_diag *diag;
	int rc;                   /* 0, or the DPF_E* code of the first error */
	struct lang_chunk *arena; /* AST memory of the filter being parsed */
};

/* Record the first error at pos with code DPF_EINVAL; later ones are
 * dropped so the first cause is what the user sees. */
void lang_error(struct lang_ctx *cx, struct lang_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with an explicit code (DPF_ELIMIT for documented limits). */
void lang_error_code(struct lang_ctx *cx, int code, struct lang_pos pos,
                     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Out of memory: code DPF_ENOMEM, message without a position. */
void lang_nomem(struct lang_ctx *cx);

/* Zeroed arena memory; NULL (and lang_nomem) on failure. */
void *lang_alloc(struct lang_ctx *cx, size_t n);
void lang_arena_free(struct lang_ctx *cx);

/* Write s[0..n) into buf quoted for a message: 'text', cut with "..."
 * past 40 bytes, bytes outside printable ASCII as \xNN. */
void lang_quote(char *buf, size_t cap, const char *s, size_t n);

/* ---- tokens (lex.c) ---- */

enum lang_tk {
	TK_EOF,
	TK_ERR,    /* the lexer reported an error */
	TK_IDENT,  /* [A-Za-z_][A-Za-z0-9_.-]* */
	TK_VALUE,  /* a number or address: digits, hex, '.', ':' */
	TK_LBRACE, /* { */
	TK_RBRACE, /* } */
	TK_LPAREN, /* ( */
	TK_RPAREN, /* ) */
	TK_LBRACK, /* [ */
	TK_RBRACK, /* ] */
	TK_COMMA,  /* , */
	TK_AMP,    /* & */
	TK_EQ,     /* == */
	TK_SLASH,  /* / */
	TK_BADOP,  /* an operator v1 refuses: != < <= > >= ! && || = | */
	TK_STRING, /* "text": s/n include the quotes; no escapes, one line */
};

struct lang_tok {
	uint8_t kind; /* enum lang_tk */
	const char *s;
	uint32_t n;
	struct lang_pos pos;
};

struct lang_lex {
	struct lang_ctx *cx;
	const char *src;
	size_t len, i;
	uint32_t line;
	size_t line_start;
};

void lang_lex_init(struct lang_lex *lx, struct lang_ctx *cx, const char *src,
                   size_t len);
/* Next token; TK_ERR after reporting an invalid character. */
struct lang_tok lang_lex_next(struct lang_lex *lx);
/* 1 when the token is the identifier `word`. */
int lang_tok_is(const struct lang_tok *t, const char *word);

/* ---- values (value.c) ---- */

enum lang_vk { LV_NUM, LV_IPV4, LV_IPV6, LV_MAC };

struct lang_value {
	uint8_t kind;         /* enum lang_vk */
	int16_t prefix;       /* -1: none */
	uint32_t num;         /* LV_NUM */
	uint8_t addr[16];     /* LV_IPV4: 4 bytes, LV_IPV6: 16, LV_MAC: 6 */
	struct lang_tok tok;  /* the value token, for messages */
	struct lang_pos ppos; /* the prefix length token */
};

/* Decimal or 0x hex that fits in 32 bits; 0, or -1 with the error
 * reported at the token. */
int lang_number(struct lang_ctx *cx, const struct lang_tok *t, uint32_t *out);
/* Parse a value token.  `want` (enum lang_vk) is the kind the field takes;
 * it only decides how to read a colon form that could be either a MAC or
 * an IPv6 address, so the error names what the user meant. */
int lang_value_parse(struct lang_ctx *cx, const struct lang_tok *t, int want,
                     struct lang_value *v);
/* Apply "/N" (slash and N are the tokens) to an IPv4/IPv6 value: checks
 * the kind, the length range and that no host bit is set. 0 or -1. */
int lang_value_prefix(struct lang_ctx *cx, struct lang_value *v,
                      const struct lang_tok *slash, const struct lang_tok *nt);
/* Human name of a value kind: "number", "IPv4 address", ... */
const char *lang_vk_name(int kind);

/* ---- fields and words (fields.c) ---- */

/* Where a guard set starts a path; see fields.c for the atoms. */
enum lang_guard {
	LG_NONE, /* no atoms */
	LG_ARP,  /* u16[L-2] == 0x0806 */
	LG_IP,   /* u16[L-2] == 0x0800 */
	LG_IP6,  /* u16[L-2] == 0x86dd */
	LG_VLAN, /* u16[L-2] in {0x8100, 0x88a8, 0x9100}: three paths */
	LG_TCP4, /* IP, proto 6, first fragment, IHL shift */
	LG_UDP4, /* IP, proto 17, first fragment, IHL shift */
	LG_ICMP4,
	LG_TCP6, /* IP6, next header 6 */
	LG_UDP6,
	LG_ICMP6,
};

/* One place a field lives; a field with several is their disjunction. */
struct lang_loc {
	uint8_t guard; /* enum lang_guard */
	uint8_t rel;   /* 1: DPF_BASE_REL after the guard's IHL shift */
	uint8_t abs;   /* 1: offset from the frame start, not from L */
	int16_t off;   /* from L, or from the frame start when abs */
};

struct lang_field {
	const char *name;
	uint8_t takes;   /* enum lang_vk */
	uint8_t bits;    /* LV_NUM: 8, 12, 16 or 32 */
	uint8_t raw;     /* 1: u8/u16/u32[N], offset given in the source */
	uint8_t advance; /* bytes L grows by after this term (vlan.id) */
	uint8_t nloc;
	struct lang_loc loc[4];
};

/* Protocol words: eth vlan arp ip ip6 tcp udp icmp icmp6. */
enum lang_word {
	LW_ETH, LW_VLAN, LW_ARP, LW_IP, LW_IP6, LW_TCP, LW_UDP, LW_ICMP,
	LW_ICMP6,
};

const struct lang_field *lang_field_find(const char *s, size_t n);
/* enum lang_word, or -1. */
int lang_word_find(const char *s, size_t n);

/* A field as written: the table entry plus the raw offset. */
struct lang_fref {
	const struct lang_field *f;
	uint16_t raw_off;
	struct lang_tok tok;
	char disp[24]; /* "tcp.dport", "u16[12]" */
};

/* Fill fr->disp from fr->f and fr->raw_off. */
void lang_fref_name(struct lang_fref *fr);
/* The mask of "FIELD & MASK": integer fields only, nonzero, within the
 * field's width.  0, or -1 with the error reported. */
int lang_field_check_mask(struct lang_ctx *cx, const struct lang_fref *fr,
                          const struct lang_tok *amp,
                          const struct lang_tok *mtok, uint32_t mask);
/* One value against the field: the right kind, within the width, and no
 * bit outside the mask when masked.  0, or -1 with the error reported. */
int lang_field_check_value(struct lang_ctx *cx, const struct lang_fref *fr,
                           const struct lang_value *v, int masked,
                           uint32_t mask, const struct lang_tok *mtok);

/* ---- AST (parse.c) ---- */

enum lang_nk { LN_AND, LN_OR, LN_WORD, LN_CMP };

struct lang_node {
	uint8_t kind;        /* enum lang_nk */
	struct lang_pos pos; /* the first operator, the word or the field */
	union {
		struct {
			struct lang_node **kids;
			uint32_t nkids;
		} list;       /* LN_AND, LN_OR: two or more */
		int word;     /* LN_WORD: enum lang_word */
		struct {
			struct lang_fref fr;
			uint8_t masked;
			uint32_t mask;
			struct lang_value *vals; /* == V: one; in {...}: many */
			uint32_t nvals;
		} cmp;        /* LN_CMP */
	} u;
};

struct lang_decl {
	struct lang_tok name;
	uint32_t priority;
	struct lang_tok handler; /* TK_STRING, or kind TK_EOF when none */
	struct lang_tok program; /* TK_IDENT, or kind TK_EOF when none */
	struct lang_node *root;
};

struct lang_parser {
	struct lang_ctx *cx;
	struct lang_lex lx;
	struct lang_tok tok; /* current (lookahead) token */
	unsigned depth;      /* parenthesis nesting */
};

void lang_parse_init(struct lang_parser *ps, struct lang_ctx *cx,
                     const char *src, size_t len);
/* Parse the next declaration into arena memory: 1 parsed, 0 end of input,
 * -1 error. */
int lang_parse_decl(struct lang_parser *ps, struct lang_decl *d);

/* ---- expansion (expand.c) ---- */

/* Expand a filter's AST into canonical, satisfiable, distinct paths whose
 * memory comes from `host`.  0, or -1 with the error reported (at the
 * node that exceeded a limit, or at the name when nothing can match). */
int lang_expand(struct lang_ctx *cx, const struct lang_decl *d,
                const struct dpf_host *host, struct dpf_path **paths,
                uint32_t *npaths);

#define LANG_L0 14       /* link payload offset of an untagged frame */
#define LANG_MAX_DEPTH 200 /* parenthesis nesting */

#endif
