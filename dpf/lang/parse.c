/*
 * parse.c - recursive-descent parser: tokens -> one filter declaration.
 *
 * Grammar (v1):
 *   program := decl*
 *   decl    := 'filter' NAME clause* '{' expr '}'
 *   clause  := 'priority' NUMBER | 'handler' STRING ['program' NAME]
 *              (each clause at most once)
 *   expr    := conj ('or' conj)*
 *   conj    := prim ('and' prim)*
 *   prim    := '(' expr ')' | WORD | field cmp | '(' field '&' MASK ')' rhs
 *   field   := FIELDNAME | ('u8' | 'u16' | 'u32') '[' NUMBER ']'
 *   cmp     := ['&' MASK] rhs
 *   rhs     := '==' value | 'in' '{' value (',' value)* '}'
 *   value   := VALUE ['/' NUMBER]
 * `and` binds tighter than `or`.  "(f & m) == v" and "f & m == v" mean the
 * same, as in tcpdump.  A '(' followed by a field is ambiguous between the
 * two forms until the token after the mask: ')' closes the masked field,
 * anything else continues a parenthesised expression.
 *
 * Values and masks are checked against the field here, so errors point at
 * the token the user wrote; expand.c only has limits left to report.
 * Chains of `and`/`or` become one n-ary node, so a long `or` list costs
 * linear time.  Nesting is limited to LANG_MAX_DEPTH parentheses.
 */
#include "dpf/lang/lang_int.h"

#include <stdio.h>
#include <string.h>

void lang_parse_init(struct lang_parser *ps, struct lang_ctx *cx,
                     const char *src, size_t len)
{
	ps->cx = cx;
	ps->depth = 0;
	lang_lex_init(&ps->lx, cx, src, len);
	ps->tok = lang_lex_next(&ps->lx);
}

static void advance(struct lang_parser *ps)
{
	ps->tok = lang_lex_next(&ps->lx);
}

/* Report "unsupported operator" for operators v1 refuses; 1 if it did. */
static int refuse_operator(struct lang_parser *ps, const struct lang_tok *t)
{
	char q[16];
	const char *why;
	if (lang_tok_is(t, "not"))
		why = "negation is not supported in v1";
	else if (t->kind != TK_BADOP)
		return 0;
	else if (t->n == 2 && t->s[0] == '&')
		why = "use 'and'";
	else if (t->n == 2 && t->s[0] == '|')
		why = "use 'or'";
	else if (t->n == 1 && t->s[0] == '!')
		why = "negation is not supported in v1";
	else if (t->n == 1 && t->s[0] == '=')
		why = "use '=='";
	else if (t->n == 1 && t->s[0] == '|')
		why = "only '&' masks are supported";
	else
		why = "only '==' and 'in' are supported in v1";
	lang_quote(q, sizeof q, t->s, t->n);
	lang_error(ps->cx, t->pos, "unsupported operator %s: %s", q, why);
	return 1;
}

/* "expected WHAT, found TOKEN" at the current token. */
static void expected(struct lang_parser *ps, const char *what)
{
	const struct lang_tok *t = &ps->tok;
	char q[64];
	if (t->kind == TK_ERR || refuse_operator(ps, t))
		return;
	if (t->kind == TK_EOF) {
		lang_error(ps->cx, t->pos, "expected %s, found end of file", what);
		return;
	}
	lang_quote(q, sizeof q, t->s, t->n);
	lang_error(ps->cx, t->pos, "expected %s, found %s", what, q);
}

/* ---- growable arrays in the arena (doubling; old blocks are waste) ---- */

/* arr with room for element n: arr itself, a doubled copy, or NULL. */
static void *grow(struct lang_ctx *cx, void *arr, uint32_t n, uint32_t *cap,
                  size_t size)
{
	if (n < *cap)
		return arr;
	uint32_t nc = *cap ? 2 * *cap : 4;
	void *na = lang_alloc(cx, (size_t)nc * size);
	if (!na)
		return NULL;
	if (n)
		memcpy(na, arr, (size_t)n * size);
	*cap = nc;
	return na;
}

static struct lang_node *new_node(struct lang_parser *ps, int kind,
                                  struct lang_pos pos)
{
	struct lang_node *n = lang_alloc(ps->cx, sizeof *n);
	if (n) {
		n->kind = (uint8_t)kind;
		n->pos = pos;
	}
	return n;
}

/* ---- fields, values, comparisons ---- */

/* The current token names a field: read it (with "[N]" for raw fields). */
static int parse_fref(struct lang_parser *ps, const struct lang_field *f,
                      struct lang_fref *fr)
{
	memset(fr, 0, sizeof *fr);
	fr->f = f;
	fr->tok = ps->tok;
	advance(ps);
	if (f->raw) {
		uint32_t off;
		if (ps->tok.kind != TK_LBRACK) {
			char what[32];
			snprintf(what, sizeof what, "'[' after '%s'", f->name);
			expected(ps, what);
			return -1;
		}
		advance(ps);
		if (lang_number(ps->cx, &ps->tok, &off) < 0)
			return -1;
		if (off > DPF_MAX_OFFSET) {
			lang_error(ps->cx, ps->tok.pos,
			           "offset %.*s too large (max %d)", (int)ps->tok.n,
			           ps->tok.s, DPF_MAX_OFFSET);
			return -1;
		}
		fr->raw_off = (uint16_t)off;
		advance(ps);
		if (ps->tok.kind != TK_RBRACK) {
			expected(ps, "']'");
			return -1;
		}
		advance(ps);
	}
	lang_fref_name(fr);
	return 0;
}

/* "& MASK" with the current token at '&'; *mtok gets the mask token. */
static int parse_mask(struct lang_parser *ps, const struct lang_fref *fr,
                      uint32_t *mask, struct lang_tok *mtok)
{
	struct lang_tok amp = ps->tok;
	advance(ps);
	*mtok = ps->tok;
	if (mtok->kind == TK_VALUE &&
	    (memchr(mtok->s, '.', mtok->n) || memchr(mtok->s, ':', mtok->n))) {
		char q[64];
		lang_quote(q, sizeof q, mtok->s, mtok->n);
		lang_error(ps->cx, mtok->pos, "mask must be a number, found %s", q);
		return -1;
	}
	if (mtok->kind != TK_VALUE) {
		expected(ps, "a mask");
		return -1;
	}
	if (lang_number(ps->cx, mtok, mask) < 0 ||
	    lang_field_check_mask(ps->cx, fr, &amp, mtok, *mask) < 0)
		return -1;
	advance(ps);
	return 0;
}

/* VALUE ['/' N], checked against the comparison's field and mask. */
static int parse_value(struct lang_parser *ps, const struct lang_node *n,
                       const struct lang_tok *mtok, struct lang_value *v)
{
	const struct lang_fref *fr = &n->u.cmp.fr;
	if (lang_value_parse(ps->cx, &ps->tok, fr->f->takes, v) < 0 ||
	    lang_field_check_value(ps->cx, fr, v, n->u.cmp.masked, n->u.cmp.mask,
	                           mtok) < 0)
		return -1;
	advance(ps);
	if (ps->tok.kind == TK_SLASH) {
		struct lang_tok slash = ps->tok;
		advance(ps);
		if (lang_value_prefix(ps->cx, v, &slash, &ps->tok) < 0)
			return -1;
		advance(ps);
	}
	return 0;
}

/* The comparison proper: '==' value | 'in' '{' value (',' value)* '}'. */
static struct lang_node *parse_rhs(struct lang_parser *ps,
                                   struct lang_node *n,
                                   const struct lang_tok *mtok)
{
	uint32_t cap = 0;
	if (ps->tok.kind == TK_EQ) {
		advance(ps);
		n->u.cmp.vals = lang_alloc(ps->cx, sizeof *n->u.cmp.vals);
		if (!n->u.cmp.vals || parse_value(ps, n, mtok, n->u.cmp.vals) < 0)
			return NULL;
		n->u.cmp.nvals = 1;
		return n;
	}
	if (!lang_tok_is(&ps->tok, "in")) {
		char what[64];
		snprintf(what, sizeof what, "'==' or 'in' after '%s'",
		         n->u.cmp.fr.disp);
		expected(ps, what);
		return NULL;
	}
	advance(ps);
	if (ps->tok.kind != TK_LBRACE) {
		expected(ps, "'{' after 'in'");
		return NULL;
	}
	struct lang_tok lb = ps->tok;
	advance(ps);
	if (ps->tok.kind == TK_RBRACE) {
		lang_error(ps->cx, lb.pos, "empty set: 'in' needs at least one value");
		return NULL;
	}
	for (;;) {
		struct lang_value *vals = grow(ps->cx, n->u.cmp.vals,
		                               n->u.cmp.nvals, &cap, sizeof *vals);
		if (!vals)
			return NULL;
		n->u.cmp.vals = vals;
		if (parse_value(ps, n, mtok, &vals[n->u.cmp.nvals]) < 0)
			return NULL;
		n->u.cmp.nvals++;
		if (ps->tok.kind == TK_COMMA) {
			advance(ps);
		} else if (ps->tok.kind == TK_RBRACE) {
			advance(ps);
			return n;
		} else {
			expected(ps, "',' or '}'");
			return NULL;
		}
	}
}

/* ---- expressions ---- */

/* "FIELD ['&' MASK] rhs" or, just after a '(', "FIELD '&' MASK ')' rhs";
 * *closed is set when the term consumed that ')'. */
static struct lang_node *field_prim(struct lang_parser *ps,
                                    const struct lang_field *f, int in_paren,
                                    int *closed)
{
	struct lang_fref fr;
	struct lang_tok mtok;
	memset(&mtok, 0, sizeof mtok);
	*closed = 0;
	if (parse_fref(ps, f, &fr) < 0)
		return NULL;
	struct lang_node *n = new_node(ps, LN_CMP, fr.tok.pos);
	if (!n)
		return NULL;
	n->u.cmp.fr = fr;
	if (ps->tok.kind == TK_AMP) {
		if (parse_mask(ps, &fr, &n->u.cmp.mask, &mtok) < 0)
			return NULL;
		n->u.cmp.masked = 1;
		if (in_paren && ps->tok.kind == TK_RPAREN) {
			advance(ps);
			*closed = 1;
		}
	}
	return parse_rhs(ps, n, &mtok);
}

static struct lang_node *parse_expr(struct lang_parser *ps,
                                    struct lang_node *first);

static struct lang_node *parse_prim(struct lang_parser *ps)
{
	struct lang_tok t = ps->tok;
	char q[64];
	if (t.kind == TK_LPAREN) {
		struct lang_node *e;
		if (++ps->depth > LANG_MAX_DEPTH) {
			lang_error(ps->cx, t.pos,
			           "expression nested too deeply (limit %d)",
			           LANG_MAX_DEPTH);
			return NULL;
		}
		advance(ps);
		const struct lang_field *f = ps->tok.kind == TK_IDENT
			? lang_field_find(ps->tok.s, ps->tok.n) : NULL;
		if (f) {
			int closed;
			struct lang_node *first = field_prim(ps, f, 1, &closed);
			if (!first)
				return NULL;
			if (closed) {
				ps->depth--;
				return first;
			}
			e = parse_expr(ps, first);
		} else {
			e = parse_expr(ps, NULL);
		}
		if (!e)
			return NULL;
		if (ps->tok.kind != TK_RPAREN) {
			char what[64];
			snprintf(what, sizeof what, "')' to close '(' at %u:%u",
			         t.pos.line, t.pos.col);
			expected(ps, what);
			return NULL;
		}
		advance(ps);
		ps->depth--;
		return e;
	}
	if (t.kind == TK_IDENT) {
		if (refuse_operator(ps, &t))
			return NULL;
		int w = lang_word_find(t.s, t.n);
		if (w >= 0) {
			struct lang_node *n = new_node(ps, LN_WORD, t.pos);
			if (!n)
				return NULL;
			n->u.word = w;
			advance(ps);
			if (ps->tok.kind == TK_EQ || ps->tok.kind == TK_AMP ||
			    lang_tok_is(&ps->tok, "in")) {
				lang_quote(q, sizeof q, t.s, t.n);
				lang_error(ps->cx, t.pos,
				           "%s is a protocol word, not a field", q);
				return NULL;
			}
			return n;
		}
		const struct lang_field *f = lang_field_find(t.s, t.n);
		if (f) {
			int closed;
			return field_prim(ps, f, 0, &closed);
		}
		lang_quote(q, sizeof q, t.s, t.n);
		lang_error(ps->cx, t.pos, "unknown %s %s",
		           memchr(t.s, '.', t.n) ? "field" : "word", q);
		return NULL;
	}
	expected(ps, "a protocol word, a field or '('");
	return NULL;
}

/* Append kid to the n-ary node being built at *cap (0: none yet, so
 * make one at `op` holding `left`); returns the node, NULL on error. */
static struct lang_node *nary(struct lang_parser *ps, int kind,
                              struct lang_node *left, struct lang_pos op,
                              struct lang_node *kid, uint32_t *cap)
{
	struct lang_node *n = left, **kids;
	if (!left || !kid)
		return NULL;
	if (*cap == 0) {
		n = new_node(ps, kind, op);
		if (!n || !(kids = grow(ps->cx, NULL, 0, cap, sizeof *kids)))
			return NULL;
		n->u.list.kids = kids;
		n->u.list.kids[n->u.list.nkids++] = left;
	}
	kids = grow(ps->cx, n->u.list.kids, n->u.list.nkids, cap, sizeof *kids);
	if (!kids)
		return NULL;
	n->u.list.kids = kids;
	n->u.list.kids[n->u.list.nkids++] = kid;
	return n;
}

/* conj := prim ('and' prim)*, the first prim given when `first` is set. */
static struct lang_node *parse_conj(struct lang_parser *ps,
                                    struct lang_node *first)
{
	struct lang_node *n = first ? first : parse_prim(ps);
	uint32_t cap = 0;
	while (n && lang_tok_is(&ps->tok, "and")) {
		struct lang_pos op = ps->tok.pos;
		advance(ps);
		n = nary(ps, LN_AND, n, op, parse_prim(ps), &cap);
	}
	return n;
}

/* expr := conj ('or' conj)* */
static struct lang_node *parse_expr(struct lang_parser *ps,
                                    struct lang_node *first)
{
	struct lang_node *n = parse_conj(ps, first);
	uint32_t cap = 0;
	while (n && lang_tok_is(&ps->tok, "or")) {
		struct lang_pos op = ps->tok.pos;
		advance(ps);
		n = nary(ps, LN_OR, n, op, parse_conj(ps, NULL), &cap);
	}
	return n;
}

int lang_parse_decl(struct lang_parser *ps, struct lang_decl *d)
{
	struct lang_ctx *cx = ps->cx;
	memset(d, 0, sizeof *d);
	if (ps->tok.kind == TK_EOF)
		return 0;
	if (!lang_tok_is(&ps->tok, "filter")) {
		expected(ps, "'filter'");
		return -1;
	}
	advance(ps);
	if (ps->tok.kind != TK_IDENT) {
		expected(ps, "a filter name");
		return -1;
	}
	d->name = ps->tok;
	d->handler.kind = TK_EOF;
	d->program.kind = TK_EOF;
	advance(ps);
	int have_prio = 0;
	for (;;) {
		if (lang_tok_is(&ps->tok, "priority")) {
			if (have_prio) {
				lang_error(cx, ps->tok.pos, "second 'priority' clause");
				return -1;
			}
			have_prio = 1;
			advance(ps);
			uint32_t prio;
			if (lang_number(cx, &ps->tok, &prio) < 0)
				return -1;
			if (prio > DPF_PRIO_MAX) {
				lang_error(cx, ps->tok.pos,
				           "priority %.*s out of range (0..%d)",
				           (int)ps->tok.n, ps->tok.s, DPF_PRIO_MAX);
				return -1;
			}
			d->priority = prio;
			advance(ps);
		} else if (lang_tok_is(&ps->tok, "handler")) {
			if (d->handler.kind != TK_EOF) {
				lang_error(cx, ps->tok.pos, "second 'handler' clause");
				return -1;
			}
			advance(ps);
			if (ps->tok.kind != TK_STRING) {
				expected(ps, "the handler's object file as a string "
				             "(\"handler.o\")");
				return -1;
			}
			if (ps->tok.n <= 2) {
				lang_error(cx, ps->tok.pos, "empty handler file name");
				return -1;
			}
			d->handler = ps->tok;
			advance(ps);
			if (lang_tok_is(&ps->tok, "program")) {
				advance(ps);
				if (ps->tok.kind != TK_IDENT) {
					expected(ps, "a program name");
					return -1;
				}
				d->program = ps->tok;
				advance(ps);
			}
		} else
			break;
	}
	if (ps->tok.kind != TK_LBRACE) {
		expected(ps, have_prio && d->handler.kind != TK_EOF
		                 ? "'{'"
		                 : have_prio ? "'handler' or '{'"
		                 : d->handler.kind != TK_EOF ? "'priority' or '{'"
		                 : "'priority', 'handler' or '{'");
		return -1;
	}
	struct lang_tok lb = ps->tok;
	advance(ps);
	if (ps->tok.kind == TK_RBRACE) {
		expected(ps, "an expression");
		return -1;
	}
	if (ps->tok.kind == TK_EOF) {
		lang_error(cx, lb.pos, "unterminated block: '{' has no matching '}'");
		return -1;
	}
	d->root = parse_expr(ps, NULL);
	if (!d->root)
		return -1;
	if (ps->tok.kind == TK_RBRACE) {
		advance(ps);
		return cx->rc ? -1 : 1;
	}
	if (ps->tok.kind == TK_EOF || lang_tok_is(&ps->tok, "filter")) {
		lang_error(cx, lb.pos, "unterminated block: '{' has no matching '}'");
		return -1;
	}
	expected(ps, "'and', 'or' or '}'");
	return -1;
}
