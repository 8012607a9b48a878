/*
 * util.c - small services for the commands: option parsing, strict number
 * parsing, whole-file reading, mkdir -p and JSON string output.
 *
 * The option parser is table driven (struct cli_opt) and keeps its state
 * in the caller's struct cli_parser; it never prints, so each command
 * decides how to report a bad command line (cli_usage_error).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cli/cli.h"

int cli_usage_error(const char *cmd, void (*usage)(FILE *), const char *fmt,
                    ...)
{
	va_list ap;
	fprintf(stderr, "dpf %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	usage(stderr);
	return CLI_USAGE;
}

void cli_opt_init(struct cli_parser *p, const char *cmd, int argc,
                  char **argv)
{
	memset(p, 0, sizeof *p);
	p->cmd = cmd;
	p->argc = argc;
	p->argv = argv;
	p->i = 1;
}

static int opt_fail(struct cli_parser *p, const char *fmt, const char *a,
                    size_t n)
{
	char name[64];
	if (n >= sizeof name)
		n = sizeof name - 1;
	memcpy(name, a, n);
	name[n] = 0;
	snprintf(p->err, sizeof p->err, fmt, name);
	return CLI_OPT_ERROR;
}

/* The value of an option that takes one: attached, or the next argument. */
static int opt_value(struct cli_parser *p, const struct cli_opt *o,
                     const char *attached, const char **val, const char *a,
                     size_t n)
{
	if (attached) {
		*val = attached;
		return o->id;
	}
	if (p->i >= p->argc)
		return opt_fail(p, "option '%s' needs a value", a, n);
	*val = p->argv[p->i++];
	return o->id;
}

int cli_opt_next(struct cli_parser *p, const struct cli_opt *opts,
                 const char **val)
{
	*val = NULL;
	for (;;) {
		if (p->i >= p->argc)
			return CLI_OPT_END;
		const char *a = p->argv[p->i++];
		if (p->operands || a[0] != '-' || a[1] == 0) {
			*val = a;
			return CLI_OPT_OPERAND;
		}
		if (strcmp(a, "--") == 0) {
			p->operands = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			for (const struct cli_opt *o = opts; o->id >= 0; o++) {
				if (!o->lng || strlen(o->lng) != n ||
				    memcmp(o->lng, name, n) != 0)
					continue;
				if (!o->has_arg) {
					if (eq)
						return opt_fail(p, "option '%s' takes no value", a,
						                n + 2);
					return o->id;
				}
				return opt_value(p, o, eq ? eq + 1 : NULL, val, a, n + 2);
			}
			return opt_fail(p, "unknown option '%s'", a, n + 2);
		}
		for (const struct cli_opt *o = opts; o->id >= 0; o++) {
			if (o->shrt != a[1])
				continue;
			if (!o->has_arg) {
				if (a[2])
					break;
				return o->id;
			}
			return opt_value(p, o, a[2] ? a + 2 : NULL, val, a, 2);
		}
		return opt_fail(p, "unknown option '%s'", a, strlen(a));
	}
}

int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return -1;
	/* strtoull's base 0 reads a leading 0 as octal: refuse "010". */
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return -1;
	*out = v;
	return 0;
}

int cli_parse_pct(const char *s, uint32_t *bp)
{
	uint32_t whole = 0, frac = 0;
	const char *c = s;
	int digits = 0;
	while (*c >= '0' && *c <= '9' && digits < 4) {
		whole = whole * 10 + (uint32_t)(*c++ - '0');
		digits++;
	}
	if (!digits)
		return -1;
	if (*c == '.') {
		c++;
		int fd = 0;
		while (*c >= '0' && *c <= '9' && fd < 2) {
			frac = frac * 10 + (uint32_t)(*c++ - '0');
			fd++;
		}
		if (!fd)
			return -1;
		if (fd == 1)
			frac *= 10;
	}
	if (*c)
		return -1;
	uint32_t v = whole * 100 + frac;
	if (v > 10000)
		return -1;
	*bp = v;
	return 0;
}

int cli_read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return errno;
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap + 1);
	int err = 0;
	for (;;) {
		if (!b) {
			err = ENOMEM;
			break;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (n < cap) {
			if (ferror(f))
				err = errno ? errno : EIO;
			break;
		}
		cap *= 2;
		uint8_t *nb = realloc(b, cap + 1);
		if (!nb)
			free(b);
		b = nb;
	}
	fclose(f);
	if (err) {
		free(b);
		return err;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

int cli_out_close(FILE *out, const char *outname, int rc)
{
	if (outname && out) {
		if (fclose(out) != 0 && rc == 0) {
			fprintf(stderr, "%s: error: %s\n", outname, strerror(errno));
			rc = -1;
		}
		if (rc != 0)
			remove(outname);
	} else if (!outname && fflush(out) != 0 && rc == 0) {
		fprintf(stderr, "standard output: error: %s\n", strerror(errno));
		rc = -1;
	}
	return rc;
}

int cli_mkdir_p(const char *path)
{
	size_t n = strlen(path);
	char *p = malloc(n + 1);
	if (!p)
		return ENOMEM;
	memcpy(p, path, n + 1);
	int err = 0;
	/* Create each prefix that ends before a '/', then the whole path. */
	for (size_t i = 1; i <= n && !err; i++) {
		if (i < n && p[i] != '/')
			continue;
		char c = p[i];
		p[i] = 0;
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			err = errno;
		p[i] = c;
	}
	struct stat st;
	if (!err && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
		err = ENOTDIR;
	free(p);
	return err;
}

void cli_json_string(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				fputs("\\u00", f);
				putc(hex[c >> 4], f);
				putc(hex[c & 15], f);
			} else {
				putc(c, f);
			}
		}
	}
	putc('"', f);
}

void cli_write_stdio(void *ctx, const char *text)
{
	fputs(text, (FILE *)ctx);
}
