/*
 * linux_run.c - the Linux side of the handler differential test.
 *
 *   ash_linux_run OBJ TRACE.pcap [--prog NAME] [--set NAME=VALUE]...
 *
 * Opens OBJ with libbpf, applies --set to .rodata/.data variables before
 * load, loads the XDP program into the running kernel, pins itself to CPU
 * 0 (per-CPU values are CPU 0's) and runs every frame of TRACE through
 * BPF_PROG_TEST_RUN in order.  Output, the format of `dpf ash run
 * --jsonl`, one JSON object per line, no spaces:
 *   {"i":N,"action":"pass|drop|tx|aborted|redirect","len":L,"data":"HEX"}
 * per frame (data..data_end after the run; metadata left out), then
 *   {"maps":{NAME:{KEYHEX:VALUEHEX,...},...}}
 * with every array entry and every hash entry (keys sorted bytewise) in
 * the object's map order; global data as ".data"/".bss", no .rodata, no
 * ring buffers.  Frames outside 14..3520 bytes are skipped (Linux refuses
 * runts; DPF never gives a handler more than 3520 bytes).
 *
 * The trace is read here (libpcap's <pcap/bpf.h> clashes with libbpf's
 * headers): classic pcap, either byte order, micro- or nanoseconds.
 *
 * Exit: 0, 1 on bad input or a load failure (libbpf's log on stderr), 2
 * usage, 77 "skipped" when the bpf() syscall is missing or not permitted.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#define MAX_DATA 3520
#define MAX_SETS 32

struct set {
	const char *name;
	const char *value;
};

static int quiet_print(enum libbpf_print_level level, const char *fmt,
                       va_list ap)
{
	if (level == LIBBPF_DEBUG || level == LIBBPF_INFO)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void print_hex(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int is_xdp(const struct bpf_program *p)
{
	const char *s = bpf_program__section_name(p);
	return strcmp(s, "xdp") == 0 || strncmp(s, "xdp/", 4) == 0;
}

/* Apply one NAME=VALUE to the initial value of .rodata or .data. */
static int apply_set(struct bpf_object *obj, const struct set *s)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s->value, &end, 0);

	if (errno || *end || !*s->value) {
		fprintf(stderr, "ash_linux_run: bad value '%s'\n", s->value);
		return -1;
	}
	if (!btf)
		goto unknown;
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		const char *dot = strchr(name, '.');
		if (!bpf_map__is_internal(map) || !dot ||
		    (strcmp(dot, ".rodata") && strcmp(dot, ".data")))
			continue;
		const struct btf_type *t =
			btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
		if (!t || !btf_is_datasec(t))
			continue;
		const struct btf_var_secinfo *vs = btf_var_secinfos(t);
		for (int i = 0; i < btf_vlen(t); i++, vs++) {
			const struct btf_type *var = btf__type_by_id(btf, vs->type);
			if (strcmp(btf__name_by_offset(btf, var->name_off), s->name))
				continue;
			size_t sz;
			const void *init = bpf_map__initial_value(map, &sz);
			if (!init || vs->offset + vs->size > sz)
				return -1;
			unsigned char *copy = malloc(sz);
			if (!copy)
				return -1;
			memcpy(copy, init, sz);
			for (unsigned k = 0; k < vs->size && k < 8; k++)
				copy[vs->offset + k] = (unsigned char)(v >> (8 * k));
			int err = bpf_map__set_initial_value(map, copy, sz);
			free(copy);
			return err;
		}
	}
unknown:
	fprintf(stderr, "ash_linux_run: no variable '%s'\n", s->name);
	return -1;
}

/* A whole classic pcap file in memory. */
struct trace {
	unsigned char *buf;
	size_t len, pos;
	int swap;
};

static uint32_t rd32(const struct trace *t, size_t off)
{
	const unsigned char *p = t->buf + off;
	return t->swap ? (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]
	               : (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0];
}

static int trace_open(struct trace *t, const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0;

	memset(t, 0, sizeof *t);
	if (!f)
		return -1;
	for (;;) {
		if (t->len == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			unsigned char *nb = realloc(t->buf, cap);
			if (!nb)
				break;
			t->buf = nb;
		}
		size_t n = fread(t->buf + t->len, 1, cap - t->len, f);
		if (n == 0)
			break;
		t->len += n;
	}
	fclose(f);
	if (t->len < 24)
		return -1; /* the caller frees t->buf */
	uint32_t magic = rd32(t, 0);
	if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
		t->swap = 1;
		magic = rd32(t, 0);
		if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d)
			return -1;
	}
	if (rd32(t, 20) != 1) /* LINKTYPE_ETHERNET */
		return -1;
	t->pos = 24;
	return 0;
}

/* The next frame: 1, 0 at the end, -1 when truncated. */
static int trace_next(struct trace *t, const unsigned char **pkt,
                      uint32_t *caplen)
{
	if (t->pos == t->len)
		return 0;
	if (t->len - t->pos < 16)
		return -1;
	*caplen = rd32(t, t->pos + 8);
	if (*caplen > t->len - t->pos - 16)
		return -1;
	*pkt = t->buf + t->pos + 16;
	t->pos += 16 + (size_t)*caplen;
	return 1;
}

static int cmp_key(const void *a, const void *b, void *n)
{
	return memcmp(a, b, *(size_t *)n);
}

/* Print one map as "NAME":{...}; per-CPU values are CPU 0's. */
static int dump_map(struct bpf_map *map, const char *name, int ncpu)
{
	enum bpf_map_type type = bpf_map__type(map);
	int percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	             type == BPF_MAP_TYPE_PERCPU_HASH;
	size_t ks = bpf_map__key_size(map), vs = bpf_map__value_size(map);
	size_t vbuf = percpu ? ((vs + 7) / 8 * 8) * (size_t)ncpu : vs;
	unsigned char *val = calloc(1, vbuf), *keys = NULL;
	size_t nkeys = 0, cap = 0;
	int fd = bpf_map__fd(map);

	if (!val)
		return -1;
	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		nkeys = bpf_map__max_entries(map);
		keys = malloc(nkeys * 4 + 1);
		for (size_t i = 0; keys && i < nkeys; i++)
			for (int b = 0; b < 4; b++)
				keys[i * 4 + b] = (unsigned char)(i >> (8 * b));
		ks = 4;
	} else {
		unsigned char *prev = NULL, *next = malloc(ks);
		while (next && bpf_map_get_next_key(fd, prev, next) == 0) {
			if (nkeys == cap) {
				cap = cap ? 2 * cap : 64;
				keys = realloc(keys, cap * ks);
				if (!keys)
					break;
			}
			memcpy(keys + nkeys * ks, next, ks);
			prev = keys + nkeys * ks;
			nkeys++;
		}
		free(next);
		if (keys)
			qsort_r(keys, nkeys, ks, cmp_key, &ks);
	}
	if (!keys && nkeys) {
		free(val);
		return -1;
	}
	printf("\"%s\":{", name);
	for (size_t i = 0, first = 1; i < nkeys; i++) {
		if (bpf_map_lookup_elem(fd, keys + i * ks, val))
			continue;
		printf(first ? "\"" : ",\"");
		first = 0;
		print_hex(keys + i * ks, ks);
		printf("\":\"");
		print_hex(val, vs);
		printf("\"");
	}
	printf("}");
	free(keys);
	free(val);
	return 0;
}

static const char *action_name(int r)
{
	switch (r) {
	case XDP_DROP: return "drop";
	case XDP_PASS: return "pass";
	case XDP_TX: return "tx";
	case XDP_REDIRECT: return "redirect";
	default: return "aborted";
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: ash_linux_run OBJ TRACE.pcap [--prog NAME] "
	        "[--set NAME=VALUE]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *objpath = NULL, *tracepath = NULL, *progname = NULL;
	struct set sets[MAX_SETS];
	char *setbuf[MAX_SETS];
	int nsets = 0, rc = 1;
	struct trace tr = { 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--prog") == 0 && i + 1 < argc) {
			progname = argv[++i];
		} else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || nsets == MAX_SETS) {
				rc = usage();
				goto out_sets;
			}
			setbuf[nsets] = strndup(argv[i], (size_t)(eq - argv[i]));
			sets[nsets].name = setbuf[nsets];
			sets[nsets].value = eq + 1;
			nsets++;
		} else if (argv[i][0] == '-') {
			rc = usage();
			goto out_sets;
		} else if (!objpath) {
			objpath = argv[i];
		} else if (!tracepath) {
			tracepath = argv[i];
		} else {
			rc = usage();
			goto out_sets;
		}
	}
	if (!objpath || !tracepath) {
		rc = usage();
		goto out_sets;
	}
	libbpf_set_print(quiet_print);

	struct bpf_object *obj = bpf_object__open_file(objpath, NULL);
	if (!obj) {
		fprintf(stderr, "ash_linux_run: %s: cannot open: %s\n", objpath,
		        strerror(errno));
		goto out_sets;
	}
	struct bpf_program *prog = NULL, *p;
	bpf_object__for_each_program(p, obj) {
		int want = progname ? strcmp(bpf_program__name(p), progname) == 0
		                    : is_xdp(p) && !prog;
		if (want)
			prog = p;
	}
	if (!prog) {
		fprintf(stderr, "ash_linux_run: %s: no XDP program%s%s\n",
		        objpath, progname ? " named " : "",
		        progname ? progname : "");
		goto out;
	}
	bpf_object__for_each_program(p, obj)
		bpf_program__set_autoload(p, p == prog);
	for (int i = 0; i < nsets; i++)
		if (apply_set(obj, &sets[i]))
			goto out;

	/* Is bpf() there at all, and allowed? */
	{
		int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);
		if (fd < 0 && (errno == EPERM || errno == ENOSYS ||
		               errno == EACCES)) {
			fprintf(stderr, "ash_linux_run: skipped: bpf(): %s\n",
			        strerror(errno));
			rc = 77;
			goto out;
		}
		if (fd >= 0)
			close(fd);
	}
	if (bpf_object__load(obj)) {
		int e = errno;
		if (e == EPERM || e == ENOSYS) {
			fprintf(stderr, "ash_linux_run: skipped: load: %s\n",
			        strerror(e));
			rc = 77;
			goto out;
		}
		fprintf(stderr, "ash_linux_run: %s: load failed: %s\n", objpath,
		        strerror(e));
		goto out;
	}

	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof cpus, &cpus)) {
		fprintf(stderr, "ash_linux_run: cannot run on CPU 0: %s\n",
		        strerror(errno));
		goto out;
	}

	if (trace_open(&tr, tracepath)) {
		fprintf(stderr, "ash_linux_run: %s: not an Ethernet pcap\n",
		        tracepath);
		goto out;
	}
	int pfd = bpf_program__fd(prog);
	static unsigned char out[8192];
	const unsigned char *pkt;
	uint32_t caplen;
	int got;
	for (long i = 0; (got = trace_next(&tr, &pkt, &caplen)) == 1; i++) {
		if (caplen < 14 || caplen > MAX_DATA)
			continue;
		struct xdp_md ctx_in = { .data_end = caplen }, ctx_out = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, o,
			.data_in = pkt, .data_size_in = caplen,
			.data_out = out, .data_size_out = sizeof out,
			.ctx_in = &ctx_in, .ctx_size_in = sizeof ctx_in,
			.ctx_out = &ctx_out, .ctx_size_out = sizeof ctx_out,
			.repeat = 1);
		if (bpf_prog_test_run_opts(pfd, &o)) {
			fprintf(stderr, "ash_linux_run: frame %ld: test run: %s\n",
			        i, strerror(errno));
			goto out;
		}
		uint32_t meta = ctx_out.data, len = ctx_out.data_end - meta;
		if (meta > o.data_size_out || len > o.data_size_out - meta) {
			fprintf(stderr, "ash_linux_run: frame %ld: odd output\n", i);
			goto out;
		}
		printf("{\"i\":%ld,\"action\":\"%s\",\"len\":%u,\"data\":\"", i,
		       action_name((int)o.retval), len);
		print_hex(out + meta, len);
		printf("\"}\n");
	}
	if (got == -1) {
		fprintf(stderr, "ash_linux_run: %s: truncated\n", tracepath);
		goto out;
	}

	int ncpu = libbpf_num_possible_cpus();
	struct bpf_map *map;
	int first = 1;
	printf("{\"maps\":{");
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		if (bpf_map__is_internal(map)) {
			name = strchr(name, '.');
			if (!name || strncmp(name, ".rodata", 7) == 0 ||
			    strcmp(name, ".kconfig") == 0)
				continue;
		}
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
			continue;
		if (!first)
			printf(",");
		first = 0;
		if (dump_map(map, name, ncpu))
			goto out;
	}
	printf("}}\n");
	rc = 0;
out:
	free(tr.buf);
	bpf_object__close(obj);
out_sets:
	for (int i = 0; i < nsets; i++)
		free(setbuf[i]);
	return rc;
}
