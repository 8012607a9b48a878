/*
 * common.c - traces, timing helpers and the TCP-flow workload shared by
 * the measuring programs (common.h).
 */
#include "bench/common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli/frame.h"
#include "dpf/lang/lang.h"

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void trace_alloc(struct trace *t, uint32_t n)
{
	t->n = n;
	t->data = xmalloc((size_t)n * BENCH_SLOT);
	t->off = xmalloc(n * sizeof *t->off);
	t->len = xmalloc(n * sizeof *t->len);
}

void trace_put(struct trace *t, uint32_t i, const uint8_t *frame, size_t len)
{
	if (len > BENCH_SLOT)
		len = BENCH_SLOT;
	memcpy(t->data + (size_t)i * BENCH_SLOT, frame, len);
	t->off[i] = i * BENCH_SLOT;
	t->len[i] = (uint32_t)len;
}

void trace_free(struct trace *t)
{
	free(t->data);
	free(t->off);
	free(t->len);
	memset(t, 0, sizeof *t);
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct stat3 stat3_of(double *v, uint32_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	struct stat3 s = {v[n / 2], v[0], v[n - 1]};
	return s;
}

struct lat lat_of(uint64_t *ns, uint32_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	struct lat l = {ns[n / 2] / 1000.0, ns[(uint32_t)(n * 0.99)] / 1000.0};
	return l;
}

struct dpf_prog *parse_or_die(const char *name, const char *src, size_t len)
{
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	if (dpf_lang_parse(name, src, len, &prog, &d) != 0)
		die("%s", d.msg);
	return prog;
}

void install(struct dpf_engine *e, const struct dpf_prog *prog, int32_t *ids)
{
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		struct dpf_diag d;
		int id;
		if (dpf_insert(e, &prog->filters[i], &id, &d) != 0)
			die("%s", d.msg);
		if (ids)
			ids[i] = id;
	}
}

void machine_line(char *buf, size_t cap)
{
	char line[256], model[160] = "unknown CPU";
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10)) {
			char *p = strchr(line, ':');
			if (p) {
				snprintf(model, sizeof model, "%s", p + 2);
				model[strcspn(model, "\n")] = 0;
			}
			break;
		}
	if (f)
		fclose(f);
	struct utsname u;
	if (uname(&u) != 0)
		strcpy(u.release, "?");
	snprintf(buf, cap, "%s, %ld CPUs; Linux %s; gcc %s", model,
	         sysconf(_SC_NPROCESSORS_ONLN), u.release, __VERSION__);
}

/* ---- flows ---- */

uint32_t flow_dst(uint32_t k)
{
	return 0x0a000001u + k;
}

uint16_t flow_port(uint32_t k)
{
	return (uint16_t)(1024 + k % 60000);
}

char *flow_src(uint32_t n, uint32_t first, size_t *len)
{
	char *src = xmalloc((size_t)n * 96 + 64), *p = src;
	*p = 0;
	for (uint32_t k = first; k < first + n; k++) {
		uint32_t d = flow_dst(k);
		p += sprintf(p,
		             "filter f%u { ip.dst == %u.%u.%u.%u and tcp.dport == %u }\n",
		             k, d >> 24, d >> 16 & 255, d >> 8 & 255, d & 255,
		             flow_port(k));
	}
	*len = (size_t)(p - src);
	return src;
}

void flow_trace(struct trace *t, uint32_t nflows, uint32_t npk, uint64_t seed)
{
	struct cli_rng r = {seed};
	trace_alloc(t, npk);
	uint8_t buf[CLI_FRAME_MAX];
	for (uint32_t i = 0; i < npk; i++) {
		struct cli_frame_spec s;
		memset(&s, 0, sizeof s);
		uint32_t kind = cli_rng_below(&r, 100);
		uint32_t k = cli_rng_below(&r, nflows);
		uint32_t dst = flow_dst(k);
		s.proto = CLI_P_TCP;
		s.dport = flow_port(k);
		if (kind >= 90 && kind < 95)
			dst = 0xc0000200u + cli_rng_below(&r, 256); /* 192.0.2.x */
		else if (kind >= 95 && kind < 98)
			s.proto = CLI_P_UDP;
		s.src[0] = 10;
		s.src[1] = 9;
		s.src[3] = (uint8_t)i;
		for (int b = 0; b < 4; b++)
			s.dst[b] = (uint8_t)(dst >> (24 - 8 * b));
		s.sport = (uint16_t)(30000 + cli_rng_below(&r, 30000));
		s.paylen = cli_rng_below(&r, 40);
		size_t len;
		if (kind >= 98)
			len = noise_arp(buf);
		else
			len = cli_frame_build(buf, &s, &r, NULL);
		trace_put(t, i, buf, len);
	}
}

struct hw_ent {
	uint64_t key; /* dst << 16 | dport; 0: empty (dst is never 0) */
	int32_t id;
};

static uint32_t hw_hash(uint64_t key, uint32_t mask)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

void hw_flows_build(struct hw_flows *h, uint32_t n, const int32_t *ids)
{
	uint32_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	h->t = xcalloc(cap, sizeof *h->t);
	h->mask = cap - 1;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t key = (uint64_t)flow_dst(k) << 16 | flow_port(k);
		uint32_t i = hw_hash(key, h->mask);
		while (h->t[i].key)
			i = (i + 1) & h->mask;
		h->t[i].key = key;
		h->t[i].id = ids[k];
	}
}

void hw_flows_free(struct hw_flows *h)
{
	free(h->t);
	h->t = NULL;
}

__attribute__((noinline)) int hw_flows_classify(const void *hw,
                                                const uint8_t *p, size_t len)
{
	const struct hw_flows *h = hw;
	if (len < 34 || be16(p + 12) != 0x0800 || (be16(p + 20) & 0x1fff) ||
	    p[23] != 6)
		return DPF_NOMATCH;
	size_t l4 = 14 + 4 * (size_t)(p[14] & 15);
	if (l4 + 4 > len)
		return DPF_NOMATCH;
	uint64_t key = (uint64_t)be32(p + 30) << 16 | be16(p + l4 + 2);
	for (uint32_t i = hw_hash(key, h->mask);; i = (i + 1) & h->mask) {
		if (h->t[i].key == key)
			return h->t[i].id;
		if (!h->t[i].key)
			return DPF_NOMATCH;
	}
}

void bench_pass(enum bench_engine which, const struct dpf_engine *e,
                dpf_exec_fn fn, hand_fn hf, const void *hw,
                const struct trace *t, int32_t *res)
{
	const uint8_t *d = t->data;
	const uint32_t *off = t->off, *len = t->len;
	uint32_t n = t->n;
	if (which == BENCH_INTERP)
		for (uint32_t i = 0; i < n; i++)
			res[i] = dpf_classify_interp(e, d + off[i], len[i]);
	else if (which == BENCH_X86)
		for (uint32_t i = 0; i < n; i++)
			res[i] = fn(d + off[i], len[i]);
	else
		for (uint32_t i = 0; i < n; i++)
			res[i] = hf(hw, d + off[i], len[i]);
}

struct stat3 bench_time(enum bench_engine which, const struct dpf_engine *e,
                        dpf_exec_fn fn, hand_fn hf, const void *hw,
                        const struct trace *t, int32_t *res, uint32_t passes)
{
	double *v = xmalloc(passes * sizeof *v);
	bench_pass(which, e, fn, hf, hw, t, res); /* warm-up */
	for (uint32_t k = 0; k < passes; k++) {
		uint64_t t0 = now_ns();
		bench_pass(which, e, fn, hf, hw, t, res);
		v[k] = (double)(now_ns() - t0) / t->n;
	}
	struct stat3 s = stat3_of(v, passes);
	free(v);
	return s;
}

size_t noise_arp(uint8_t *buf)
{
	static const uint8_t sha[6] = {2, 0, 0, 0, 0, 1}, tha[6] = {0};
	static const uint8_t spa[4] = {10, 9, 0, 1}, tpa[4] = {10, 0, 0, 1};
	return cli_frame_arp(buf, 1, sha, spa, tha, tpa);
}
