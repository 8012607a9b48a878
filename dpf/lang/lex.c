/*
 * lex.c - the tokenizer of the filter language.
 *
 * Interface: lang_lex_init(), then lang_lex_next() until TK_EOF or TK_ERR.
 * Tokens point into the source (no copies) and carry the 1-based line and
 * byte column of their first byte.
 *
 * Values are lexed as one run of [0-9A-Za-z.:] so that "10.0.0.1",
 * "fe80::1", "00:11:22:33:44:55" and "0x0800" each arrive as one token and
 * malformed ones ("0x1g", "10.0.0.") are reported whole by value.c.  A run
 * that starts with a letter is a value only when its hex digits are
 * followed by ':' (an IPv6 or MAC address such as "fe80::1"); otherwise it
 * is an identifier.  The identifier set includes '.' and '-' so field
 * names ("tcp.dport") and filter names ("web-1.a") are single tokens.
 *
 * Operators the language refuses in v1 (!= < <= > >= ! && || = |) are
 * lexed as TK_BADOP so the parser can name them in its error.
 *
 * Strings ("udp_echo.o", for handler clauses) are printable bytes between
 * double quotes on one line, without escapes; the token keeps its quotes.
 */
#include "dpf/lang/lang_int.h"

#include <string.h>

void lang_lex_init(struct lang_lex *lx, struct lang_ctx *cx, const char *src,
                   size_t len)
{
	lx->cx = cx;
	lx->src = src;
	lx->len = len;
	lx->i = 0;
	lx->line = 1;
	lx->line_start = 0;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_ident(int c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '-';
}

static int is_value(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '.' || c == ':';
}

int lang_tok_is(const struct lang_tok *t, const char *word)
{
	size_t n = strlen(word);
	return t->kind == TK_IDENT && t->n == n && memcmp(t->s, word, n) == 0;
}

/* Skip blanks, newlines and comments. */
static void skip_space(struct lang_lex *lx)
{
	while (lx->i < lx->len) {
		char c = lx->src[lx->i];
		if (c == '\n') {
			lx->i++;
			lx->line++;
			lx->line_start = lx->i;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' ||
		           c == '\v') {
			lx->i++;
		} else if (c == '#') {
			while (lx->i < lx->len && lx->src[lx->i] != '\n')
				lx->i++;
		} else {
			break;
		}
	}
}

struct lang_tok lang_lex_next(struct lang_lex *lx)
{
	skip_space(lx);
	struct lang_tok t;
	size_t start = lx->i;
	t.s = lx->src + start;
	t.pos.line = lx->line;
	t.pos.col = (uint32_t)(start - lx->line_start + 1);
	t.n = 0;
	if (start >= lx->len) {
		t.kind = TK_EOF;
		return t;
	}

	const char *s = lx->src;
	size_t len = lx->len, i = start;
	char c = s[i];
	char d = i + 1 < len ? s[i + 1] : 0;
	uint8_t kind;

	if (is_alpha(c)) {
		size_t h = i;
		while (h < len && is_hex(s[h]))
			h++;
		if (h > i && h < len && s[h] == ':') {
			while (i < len && is_value(s[i]))
				i++;
			kind = TK_VALUE;
		} else {
			while (i < len && is_ident(s[i]))
				i++;
			kind = TK_IDENT;
		}
	} else if (is_digit(c) || c == ':') {
		while (i < len && is_value(s[i]))
			i++;
		kind = TK_VALUE;
	} else if (c == '"') {
		i++;
		while (i < len && s[i] != '"' && s[i] != '\n') {
			unsigned char b = (unsigned char)s[i];
			if (b < 0x20 || b > 0x7e) {
				struct lang_pos at = {t.pos.line,
				                      t.pos.col + (uint32_t)(i - start)};
				char q[16];
				lang_quote(q, sizeof q, s + i, 1);
				lang_error(lx->cx, at, "invalid character %s in a string",
				           q);
				t.kind = TK_ERR;
				t.n = 1;
				return t;
			}
			i++;
		}
		if (i >= len || s[i] != '"') {
			lang_error(lx->cx, t.pos, "unterminated string: '\"' has no "
			                          "closing '\"' on its line");
			t.kind = TK_ERR;
			t.n = 1;
			return t;
		}
		i++;
		kind = TK_STRING;
	} else {
		i++;
		switch (c) {
		case '{': kind = TK_LBRACE; break;
		case '}': kind = TK_RBRACE; break;
		case '(': kind = TK_LPAREN; break;
		case ')': kind = TK_RPAREN; break;
		case '[': kind = TK_LBRACK; break;
		case ']': kind = TK_RBRACK; break;
		case ',': kind = TK_COMMA; break;
		case '/': kind = TK_SLASH; break;
		case '&':
			kind = TK_AMP;
			if (d == '&') {
				kind = TK_BADOP;
				i++;
			}
			break;
		case '=':
			kind = d == '=' ? TK_EQ : TK_BADOP;
			if (d == '=')
				i++;
			break;
		case '!':
		case '<':
		case '>':
			kind = TK_BADOP;
			if (d == '=')
				i++;
			break;
		case '|':
			kind = TK_BADOP;
			if (d == '|')
				i++;
			break;
		default: {
			char q[16];
			lang_quote(q, sizeof q, s + start, 1);
			lang_error(lx->cx, t.pos, "invalid character %s", q);
			t.kind = TK_ERR;
			t.n = 1;
			return t;
		}
		}
	}
	lx->i = i;
	t.kind = kind;
	t.n = (uint32_t)(i - start);
	return t;
}
