/*
 * install_scale.c - how installing N filters scales with N.
 *
 *   install_scale [N...]   CPU seconds to install N filters of each shape
 *                          into a fresh engine (default 5000 10000 30000
 *                          65536), one table row per N
 *   install_scale --check  the same at 10,000 and 40,000, median of five,
 *                          and exit 1 when some shape grows by more than
 *                          11x (linear: 4x; quadratic: 16x)
 *
 * Shapes (every filter is installed; an insert that fails is an error):
 *   fields   filter fI priority I { u8[I] == 1 }       distinct fields
 *   masked   filter fI priority I { u8[I] & 0x7f == 1 }
 *   flows    filter fI { u32[26] == I and u16[34] == I % 7 }
 *   twopath  filter fI priority I { u8[I] == 1 or u16[I] == 1 }
 * (an engine holds DPF_MAX_FILTERS filters, so N is at most that, and
 * twopath installs 2N paths).
 *
 * CPU time of the process, not wall time, so other load on the machine
 * matters less; freed memory is kept from the kernel (mallopt), so runs
 * after the first are not dominated by page faults.  A build with DPF_DEBUG_CHECKS checks the whole trie
 * after every insert, which is quadratic by design: --check skips there
 * (exit 77).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpf/dpf.h"

enum { FIELDS, MASKED, FLOWS, TWOPATH, NSHAPES };
static const char *const shape_name[NSHAPES] = {"fields", "masked", "flows",
                                                "twopath"};

static struct dpf_atom cmp(uint16_t off, uint8_t width, uint32_t mask,
                           uint32_t value)
{
	struct dpf_atom a = {DPF_ATOM_CMP, DPF_BASE_PKT, width, 0, off, mask, value};
	return a;
}

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seconds of CPU to install n filters of a shape; -1 on a refusal. */
static double install(int shape, uint32_t n)
{
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	if (!e) {
		fprintf(stderr, "install_scale: out of memory\n");
		exit(2);
	}
	double t0 = cpu_now();
	for (uint32_t i = 0; i < n; i++) {
		struct dpf_atom a[2];
		struct dpf_path p[2] = {{1, &a[0]}, {1, &a[1]}};
		struct dpf_filter f;
		memset(&f, 0, sizeof f);
		snprintf(f.name, sizeof f.name, "f%u", i);
		f.priority = i % (DPF_PRIO_MAX + 1);
		f.npaths = 1;
		f.paths = p;
		switch (shape) {
		case FIELDS:
			a[0] = cmp((uint16_t)i, 1, 0xff, 1);
			break;
		case MASKED:
			a[0] = cmp((uint16_t)i, 1, 0x7f, 1);
			break;
		case FLOWS:
			f.priority = 0;
			a[0] = cmp(26, 4, 0xffffffffu, i);
			a[1] = cmp(34, 2, 0xffff, i % 7);
			p[0].natoms = 2;
			break;
		default:
			a[0] = cmp((uint16_t)i, 1, 0xff, 1);
			a[1] = cmp((uint16_t)i, 2, 0xffff, 1);
			f.npaths = 2;
			break;
		}
		struct dpf_diag d;
		int rc = dpf_insert(e, &f, NULL, &d);
		if (rc != DPF_OK) {
			fprintf(stderr, "install_scale: %s, filter %u: %s\n",
			        shape_name[shape], i, d.msg);
			dpf_engine_free(e);
			return -1;
		}
	}
	double t = cpu_now() - t0;
	dpf_engine_free(e);
	return t;
}

/* Median of five runs. */
static double median_of(int shape, uint32_t n)
{
	double t[5];
	for (int r = 0; r < 5; r++) {
		if ((t[r] = install(shape, n)) < 0)
			return -1;
		for (int k = r; k > 0 && t[k] < t[k - 1]; k--) {
			double x = t[k];
			t[k] = t[k - 1];
			t[k - 1] = x;
		}
	}
	return t[2];
}

static int check(void)
{
#ifdef DPF_DEBUG_CHECKS
	printf("install_scale: skipped: this build checks the whole trie after "
	       "every insert (DPF_DEBUG_CHECKS)\n");
	return 77;
#endif
	const uint32_t lo = 10000, hi = 40000;
	int bad = 0;
	printf("%-8s %12s %12s %7s\n", "shape", "10000 (s)", "40000 (s)", "ratio");
	for (int s = 0; s < NSHAPES; s++) {
		/* The larger run first, unmeasured: the allocator then holds the
		 * memory both sizes need (main() keeps it from going back to the
		 * kernel), so page faults weigh on neither size. */
		if (install(s, hi) < 0)
			return 1;
		double a = median_of(s, lo), b = median_of(s, hi);
		if (a < 0 || b < 0)
			return 1;
		/* Below a millisecond the clock's grain dominates: count it as
		 * one millisecond, which only makes the ratio smaller when the
		 * times are tiny, and tiny times at 40,000 are not quadratic. */
		double ratio = (b < 1e-3 ? 1e-3 : b) / (a < 1e-3 ? 1e-3 : a);
		printf("%-8s %12.4f %12.4f %7.2f%s\n", shape_name[s], a, b, ratio,
		       ratio > 11 ? "  (above 11: superlinear)" : "");
		bad |= ratio > 11;
	}
	return bad;
}

int main(int argc, char **argv)
{
	/* Freed memory stays with the allocator: every run after the first
	 * measures the engine, not the kernel's page faults. */
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (argc == 2 && strcmp(argv[1], "--check") == 0)
		return check();
	uint32_t def[] = {5000, 10000, 30000, DPF_MAX_FILTERS};
	uint32_t ns[16];
	int nn = 0;
	for (int i = 1; i < argc && nn < 16; i++) {
		char *end;
		unsigned long v = strtoul(argv[i], &end, 10);
		if (*end || v == 0 || v > DPF_MAX_FILTERS) {
			fprintf(stderr, "usage: install_scale [--check | N...] "
			                "(1 <= N <= %d)\n", DPF_MAX_FILTERS);
			return 2;
		}
		ns[nn++] = (uint32_t)v;
	}
	if (nn == 0)
		for (; nn < 4; nn++)
			ns[nn] = def[nn];
	printf("%-8s", "N");
	for (int s = 0; s < NSHAPES; s++)
		printf(" %10s", shape_name[s]);
	printf("   (CPU seconds to install)\n");
	for (int i = 0; i < nn; i++) {
		printf("%-8u", ns[i]);
		for (int s = 0; s < NSHAPES; s++) {
			double t = install(s, ns[i]);
			if (t < 0)
				return 1;
			printf(" %10.4f", t);
		}
		putchar('\n');
	}
	return 0;
}
