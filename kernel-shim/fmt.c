/*
 * fmt.c - the kernel's printf formatting, into a sink: the console
 * (serial.c) or a bounded buffer (ksh_snprintf).  No I/O here, so the
 * control channel's code can be built and fuzzed on the host.
 *
 * Formats: %s %c %d %i %u %x %X %p %%, length modifiers l, ll, z, flags
 * '0' and '-', a width (digits or '*').
 */
#include "kernel-shim/ksh.h"

static void put(struct ksh_sink *s, char c)
{
	if (s->putc)
		s->putc(c);
	else if (s->n + 1 < s->cap)
		s->buf[s->n] = c;
	s->n++;
}

static void put_num(struct ksh_sink *s, uint64_t v, int neg, unsigned base,
                    int upper, int width, int zero, int left)
{
	char tmp[24];
	int n = 0;
	const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		tmp[n++] = dig[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (!left && !zero)
		for (; width > len; width--)
			put(s, ' ');
	if (neg)
		put(s, '-');
	if (!left && zero)
		for (; width > len; width--)
			put(s, '0');
	while (n)
		put(s, tmp[--n]);
	if (left)
		for (; width > len; width--)
			put(s, ' ');
}

void ksh_format(struct ksh_sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		int zero = 0, left = 0, width = 0, lng = 0;
		for (fmt++; *fmt == '0' || *fmt == '-'; fmt++)
			*fmt == '0' ? (zero = 1) : (left = 1);
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = 1;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			put_num(s, m, v < 0, 10, 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(s, v, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, zero,
			        left);
			break;
		}
		case 'p':
			put(s, '0');
			put(s, 'x');
			put_num(s, (uint64_t)(uintptr_t)va_arg(ap, void *), 0, 16, 0, width,
			        zero, left);
			break;
		case 'c':
			put(s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int n = 0;
			if (!str)
				str = "(null)";
			while (str[n])
				n++;
			if (!left)
				for (; width > n; width--)
					put(s, ' ');
			for (int i = 0; i < n; i++)
				put(s, str[i]);
			for (; width > n; width--)
				put(s, ' ');
			break;
		}
		case '%':
			put(s, '%');
			break;
		case 0:
			return;
		default:
			put(s, '%');
			put(s, *fmt);
		}
	}
}

int ksh_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct ksh_sink s = {0, buf, cap, 0};
	ksh_format(&s, fmt, ap);
	if (cap)
		buf[s.n < cap ? s.n : cap - 1] = 0;
	return (int)(s.n < cap ? s.n : (cap ? cap - 1 : 0));
}

int ksh_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = ksh_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}
