/*
 * bench_dilp.c - what integrated layer processing saves: copying a
 * payload and checksumming it in one pass (dpf_ash_copy's kernels,
 * ash/dilp.c) against the same work in two passes.  A measuring program,
 * never a timed test (bench/README.md).
 *
 *   bench_dilp [--quick] [--repeat R] [--csv FILE]
 *
 * For payloads of 64, 512, 1460 and 9000 bytes, per copy:
 *   fused     ash_dilp_select(DPF_COPY_CSUM): the specialised kernel
 *   two-pass  the host's memcpy, then ash_dilp_csum over the source:
 *             the same accumulator code as the kernel, run as a second
 *             pass (so the comparison is of passes, not of loop
 *             quality).  The source, not the fresh copy: a load
 *             straddling memcpy's still-buffered stores would stall on
 *             store forwarding and flatter the fused kernel
 *   generic   ash_dilp_generic with DPF_COPY_CSUM: the run-time loop the
 *             interpreter calls
 *   memcpy    the copy alone, for scale
 * and the ratio two-pass / fused.  Payload bytes are random (three
 * seeds); each copy takes the next of NBUF source and destination
 * buffers, at misalignments 0..7 cycling independently, so the working
 * set is 2 * NBUF * (size + 8) bytes (printed; in L1 or L2 for every
 * size here, where the second pass is cheapest: out of cache the
 * two-pass cost grows further).  Each pass times about 4 MB of copies
 * (2 MB quick) with CLOCK_MONOTONIC after an untimed warm-up of an
 * eighth of that; the methods' passes are interleaved; two tables: the
 * median over passes and seeds, and the fastest pass (on a shared
 * machine the one least disturbed by other load).
 *
 * Before timing, every method's bytes and checksum are compared on every
 * buffer (fused, generic and the two-pass reference must agree): a
 * disagreement is printed and makes the exit status 1.
 *
 * --quick: one seed, 3 passes, a tenth of the copies; `make bench-quick`
 * runs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/dilp.h"
#include "bench/common.h"

#define NBUF 8
#define NSIZES 4
#define NMETH 4

static const uint32_t sizes[NSIZES] = {64, 512, 1460, 9000};
static const char *const meth_name[NMETH] = {"fused", "two-pass", "generic",
                                             "memcpy"};

struct opts {
	int quick;
	uint32_t repeat;
	const char *csv;
};

struct bufs {
	uint8_t *src[NBUF], *dst[NBUF];
	uint32_t soff[NBUF], doff[NBUF];
};

static volatile uint64_t sink;

static void usage(void)
{
	fputs("usage: bench_dilp [--quick] [--repeat R] [--csv FILE]\n",
	      stderr);
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	o->quick = 0;
	o->repeat = 0;
	o->csv = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			o->quick = 1;
		} else if (!strcmp(a, "--repeat") && v) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n == 0 || n > 1000)
				usage();
			o->repeat = (uint32_t)n;
			i++;
		} else if (!strcmp(a, "--csv") && v) {
			o->csv = v;
			i++;
		} else {
			usage();
		}
	}
	if (!o->repeat)
		o->repeat = o->quick ? 3 : 15;
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void bufs_fill(struct bufs *b, uint32_t size, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	for (int i = 0; i < NBUF; i++) {
		b->src[i] = xmalloc(size + 64);
		b->dst[i] = xmalloc(size + 64);
		/* the offsets below vary the alignment (malloc gives 16) */
		b->soff[i] = (uint32_t)((i * 3) % 8);
		b->doff[i] = (uint32_t)((i * 5 + 1) % 8);
		for (uint32_t k = 0; k < size + 64; k++)
			b->src[i][k] = (uint8_t)xs(&s);
		memset(b->dst[i], 0, size + 64);
	}
	b->soff[0] = b->doff[0] = 0; /* one aligned pair */
}

static void bufs_free(struct bufs *b)
{
	for (int i = 0; i < NBUF; i++) {
		free(b->src[i]);
		free(b->dst[i]);
	}
}

/* One copy with method m of buffer pair i; returns the checksum. */
static inline uint64_t one(int m, const struct bufs *b, int i, uint32_t size,
                           ash_dilp_fn fused)
{
	uint8_t *d = b->dst[i] + b->doff[i];
	const uint8_t *s = b->src[i] + b->soff[i];
	switch (m) {
	case 0:
		return fused(d, s, size, DPF_COPY_CSUM);
	case 1:
		memcpy(d, s, size);
		return ash_dilp_csum(s, size);
	case 2:
		return ash_dilp_generic(d, s, size, DPF_COPY_CSUM);
	default:
		memcpy(d, s, size);
		return d[0];
	}
}

/* Every method on every buffer: the same bytes and checksums. */
static int check(const struct bufs *b, uint32_t size, ash_dilp_fn fused)
{
	int bad = 0;
	uint8_t *ref = xmalloc(size + 1);
	for (int i = 0; i < NBUF; i++) {
		const uint8_t *s = b->src[i] + b->soff[i];
		memcpy(ref, s, size);
		uint64_t want = ash_dilp_csum(ref, size);
		for (int m = 0; m < 3; m++) {
			memset(b->dst[i], 0, size + 64);
			uint64_t got = one(m, b, i, size, fused);
			if (got != want ||
			    memcmp(b->dst[i] + b->doff[i], ref, size)) {
				fprintf(stderr, "bench_dilp: %s, %u bytes, buffer "
				        "%d: checksum 0x%llx, want 0x%llx%s\n",
				        meth_name[m], size, i,
				        (unsigned long long)got,
				        (unsigned long long)want,
				        got == want ? ", the bytes differ" : "");
				bad++;
			}
		}
	}
	free(ref);
	return bad;
}

/* ns per copy of one timed pass of method m, after an untimed eighth of
 * it: wide vector units may run at a reduced rate for tens of
 * microseconds after scalar code (the generic pass), which would
 * otherwise be charged to whichever method follows. */
static double pass(int m, const struct bufs *b, uint32_t size, uint32_t iter,
                   ash_dilp_fn fused)
{
	uint64_t acc = 0;
	for (uint32_t k = 0; k < iter / 8 + 1; k++)
		acc += one(m, b, (int)(k % NBUF), size, fused);
	uint64_t t0 = now_ns();
	for (uint32_t k = 0; k < iter; k++)
		acc += one(m, b, (int)(k % NBUF), size, fused);
	uint64_t t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / iter;
}

struct row {
	uint32_t size;
	double ns[NMETH], lo[NMETH];
	double ws_kib;
};

static void table(const char *title, const struct row *rows, int fastest)
{
	printf("\n%s\n", title);
	printf("%6s %9s %10s %8s %10s %8s %10s %8s %10s %8s %10s\n", "bytes",
	       "work-set", "fused", "GB/s", "two-pass", "GB/s", "generic",
	       "GB/s", "memcpy", "GB/s", "two/fused");
	for (int z = 0; z < NSIZES; z++) {
		const struct row *r = &rows[z];
		const double *ns = fastest ? r->lo : r->ns;
		char ws[32];
		snprintf(ws, sizeof ws, "%.1fK", r->ws_kib);
		printf("%6u %9s", r->size, ws);
		for (int m = 0; m < NMETH; m++)
			printf(" %10.1f %8.2f", ns[m], r->size / ns[m]);
		printf(" %10.2f\n", ns[1] / ns[0]);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	ash_dilp_fn fused = ash_dilp_select(DPF_COPY_CSUM);
	if (!fused)
		die("bench_dilp: no kernel for DPF_COPY_CSUM");
	uint32_t nseeds = o.quick ? 1 : 3;
	struct row rows[NSIZES];
	int bad = 0;
	char machine[512];
	machine_line(machine, sizeof machine);
	for (int z = 0; z < NSIZES; z++) {
		uint32_t size = sizes[z];
		/* about 4 MB copied per pass (2 MB quick): short passes,
		 * so that the fastest is one no other process disturbed */
		uint32_t iter = (o.quick ? 2000000u : 4000000u) / size;
		if (iter < 200)
			iter = 200;
		uint32_t n = nseeds * o.repeat;
		double *v[NMETH];
		for (int m = 0; m < NMETH; m++)
			v[m] = xcalloc(n, sizeof(double));
		for (uint32_t sd = 0; sd < nseeds; sd++) {
			struct bufs b;
			bufs_fill(&b, size, sd + 1);
			bad += check(&b, size, fused);
			for (int m = 0; m < NMETH; m++) /* warm-up */
				pass(m, &b, size, iter / 4 + 1, fused);
			for (uint32_t r = 0; r < o.repeat; r++)
				for (int m = 0; m < NMETH; m++)
					v[m][sd * o.repeat + r] =
						pass(m, &b, size, iter, fused);
			bufs_free(&b);
		}
		rows[z].size = size;
		rows[z].ws_kib = 2.0 * NBUF * (size + 8) / 1024.0;
		for (int m = 0; m < NMETH; m++) {
			struct stat3 st = stat3_of(v[m], n);
			rows[z].ns[m] = st.med;
			rows[z].lo[m] = st.min;
			free(v[m]);
		}
	}

	printf("bench_dilp: copy + Internet checksum, ns per copy and GB/s; "
	       "%u passes x %u seeds; %s\n", o.repeat, nseeds, machine);
	table("median of the passes", rows, 0);
	table("the fastest pass (least disturbed by other load)", rows, 1);
	printf("\nfused = the kernel specialised for DPF_COPY_CSUM; two-pass "
	       "= memcpy, then the same\nchecksum loop over the source; "
	       "generic = the interpreter's run-time loop;\nwork-set = the "
	       "source and destination buffers cycled through (L1/L2).\n");
	if (o.csv) {
		FILE *f = fopen(o.csv, "w");
		if (!f)
			die("bench_dilp: %s: %s", o.csv, strerror(errno));
		fprintf(f, "# bench_dilp: ns per copy (median; _min the fastest "
		        "pass); %s\n", machine);
		fputs("bytes,workset_bytes,fused,two_pass,generic,memcpy,"
		      "fused_gbps,two_pass_gbps,generic_gbps,memcpy_gbps,"
		      "two_pass_over_fused,fused_min,two_pass_min,generic_min,"
		      "memcpy_min,two_pass_over_fused_min\n", f);
		for (int z = 0; z < NSIZES; z++) {
			const struct row *r = &rows[z];
			fprintf(f, "%u,%u", r->size, 2u * NBUF * (r->size + 8));
			for (int m = 0; m < NMETH; m++)
				fprintf(f, ",%.2f", r->ns[m]);
			for (int m = 0; m < NMETH; m++)
				fprintf(f, ",%.3f", r->size / r->ns[m]);
			fprintf(f, ",%.3f", r->ns[1] / r->ns[0]);
			for (int m = 0; m < NMETH; m++)
				fprintf(f, ",%.2f", r->lo[m]);
			fprintf(f, ",%.3f\n", r->lo[1] / r->lo[0]);
		}
		fclose(f);
	}
	if (bad)
		fprintf(stderr, "bench_dilp: %d disagreements\n", bad);
	return bad ? 1 : 0;
}
