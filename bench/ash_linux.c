/*
 * ash_linux.c - handler objects in the running kernel for bench_ash
 * (ash_linux.h has the interface).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench/ash_linux.h"

struct lnx_prog {
	struct bpf_object *obj;
	int fd;
};

static int quiet_print(enum libbpf_print_level level, const char *fmt,
                       va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

struct lnx_prog *lnx_load(const char *path, char *err, size_t cap)
{
	libbpf_set_print(quiet_print);
	struct lnx_prog *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	p->obj = bpf_object__open_file(path, NULL);
	if (!p->obj) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		free(p);
		return NULL;
	}
	int rc = bpf_object__load(p->obj);
	if (rc) {
		snprintf(err, cap, "bpf(): %s", strerror(-rc));
		bpf_object__close(p->obj);
		free(p);
		return NULL;
	}
	struct bpf_program *prog = bpf_object__next_program(p->obj, NULL);
	p->fd = prog ? bpf_program__fd(prog) : -1;
	if (p->fd < 0) {
		snprintf(err, cap, "%s: no program", path);
		lnx_free(p);
		return NULL;
	}
	return p;
}

void lnx_free(struct lnx_prog *p)
{
	if (!p)
		return;
	bpf_object__close(p->obj);
	free(p);
}

int lnx_run(struct lnx_prog *p, const uint8_t *pkt, uint32_t len,
            uint32_t repeat, uint32_t *ns, uint32_t *action)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
	            .repeat = (int)repeat);
	if (bpf_prog_test_run_opts(p->fd, &o) != 0)
		return -errno;
	*ns = o.duration;
	*action = o.retval;
	return 0;
}

int lnx_jit_enabled(void)
{
	FILE *f = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}
