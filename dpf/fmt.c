/*
 * fmt.c - a freestanding subset of snprintf for diagnostics and dumps.
 *
 * Interface: dpf_fmt(buf, cap, fmt, ...) formats %s %c %d %u %x %X %%,
 * with the 'l' and 'z' length modifiers, the '0' and '-' flags and a field
 * width (digits or '*').  Like snprintf it always NUL-terminates when cap > 0 and returns
 * the length the whole text would have had.
 */
#include <stdarg.h>

#include "dpf/dpf.h"

struct sink {
	char *buf;
	size_t cap, len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void putnum(struct sink *s, unsigned long v, int neg, unsigned base,
                   int upper, int width, int zero, int left)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (neg && zero)
		put(s, '-');
	if (!left)
		for (; width > len; width--)
			put(s, zero ? '0' : ' ');
	if (neg && !zero)
		put(s, '-');
	while (n)
		put(s, tmp[--n]);
	if (left)
		for (; width > len; width--)
			put(s, ' ');
}

int dpf_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	struct sink s = {buf, cap, 0};
	va_list ap;
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&s, *p);
			continue;
		}
		p++;
		int zero = 0, left = 0, width = 0, lng = 0;
		for (;; p++) {
			if (*p == '0')
				zero = 1;
			else if (*p == '-')
				left = 1;
			else
				break;
		}
		if (*p == '*') {
			width = va_arg(ap, int);
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		if (*p == 'l' || *p == 'z') {
			lng = 1;
			p++;
		}
		if (left)
			zero = 0;
		switch (*p) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = 0;
			while (str[n])
				n++;
			if (!left)
				for (; width > n; width--)
					put(&s, ' ');
			for (int i = 0; i < n; i++)
				put(&s, str[i]);
			if (left)
				for (; width > n; width--)
					put(&s, ' ');
			break;
		}
		case 'c':
			put(&s, (char)va_arg(ap, int));
			break;
		case 'd': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
			putnum(&s, u, v < 0, 10, 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			unsigned long v = lng ? va_arg(ap, unsigned long)
			                      : va_arg(ap, unsigned);
			putnum(&s, v, 0, *p == 'u' ? 10 : 16, *p == 'X', width, zero,
			       left);
			break;
		}
		case '%':
			put(&s, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&s, '%');
			put(&s, *p);
			break;
		}
	}
	va_end(ap);
	if (cap)
		buf[s.len < cap ? s.len : cap - 1] = 0;
	return (int)s.len;
}
