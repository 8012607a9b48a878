/*
 * boot_lat.c - `dpf boot`'s latency and ring figures (boot_lat.h): the
 * guest's per-path histograms (ksh_proto.h KSH_LAT_*) as median and p99,
 * and the owner's rings with their counters.
 *
 * A quantile is the lower bound of the histogram bucket holding it,
 * within 1/KSH_LAT_SUB (6%) of the sample; ns are cycles at the guest's
 * measured TSC rate.
 */
#include <string.h>

#include "cli/boot_lat.h"

static const char *const path_names[KSH_LAT_PATHS] = {"ash", "ring", "hook",
                                                      "tdt", "rdt"};

int boot_paths_read(struct cli_ksh *c, struct ksh_cred who,
                    struct boot_paths *p)
{
	memset(p, 0, sizeof *p);
	for (uint32_t i = 0; i < KSH_LAT_PATHS; i++)
		if (cli_ksh_lat(c, who, i, &p->lat[i]) != 0)
			return -1;
	return cli_ksh_rings(c, who, 0, &p->rings) != 0 ? -1 : 0;
}

static double ns_of(double cycles, uint64_t hz)
{
	return hz ? cycles * 1e9 / (double)hz : 0;
}

void boot_paths_json(FILE *f, const struct boot_paths *p, uint64_t hz)
{
	fputs("\"latency\":{", f);
	for (uint32_t i = 0; i < KSH_LAT_PATHS; i++) {
		const struct cli_ksh_lat *l = &p->lat[i];
		double med = cli_ksh_lat_quantile(l, 0.5);
		double p99 = cli_ksh_lat_quantile(l, 0.99);
		fprintf(f,
		        "%s\"%s\":{\"samples\":%llu,\"median_cycles\":%.0f,"
		        "\"p99_cycles\":%.0f,\"median_ns\":%.0f,\"p99_ns\":%.0f,"
		        "\"min_cycles\":%llu,\"max_cycles\":%llu}",
		        i ? "," : "", path_names[i], (unsigned long long)l->samples,
		        med, p99, ns_of(med, hz), ns_of(p99, hz),
		        (unsigned long long)l->min, (unsigned long long)l->max);
	}
	fputs("},\"rings\":[", f);
	const struct ksh_rings *r = &p->rings;
	for (uint32_t i = 0; i < r->nrings && i < KSH_RINGS_MAX; i++) {
		const struct ksh_ring_counters *k = &r->ring[i];
		fprintf(f,
		        "%s{\"ring\":%u,\"delivered\":%llu,\"dropped\":%llu,"
		        "\"redirected\":%llu,\"consumed\":%llu,\"echoed\":%llu,"
		        "\"queued\":%llu}",
		        i ? "," : "", (unsigned)i,
		        (unsigned long long)k->delivered,
		        (unsigned long long)k->dropped,
		        (unsigned long long)k->redirected,
		        (unsigned long long)k->consumed,
		        (unsigned long long)k->echoed, (unsigned long long)k->queued);
	}
	fprintf(f, "],\"redirect_missing\":%llu",
	        (unsigned long long)r->redirect_missing);
}

void boot_paths_text(FILE *f, const struct boot_paths *p, uint64_t hz)
{
	static const char *const what[KSH_LAT_PATHS] = {
		"handler TX (arrival to reply on the TX ring)",
		"ring echo (arrival to reply on the TX ring)",
		"demux + handler (arrival to verdict)",
		"TDT write (the emulated NIC's transmit)",
		"RDT write (RX descriptors handed back)"};
	for (uint32_t i = 0; i < KSH_LAT_PATHS; i++) {
		const struct cli_ksh_lat *l = &p->lat[i];
		if (!l->samples)
			continue;
		double med = cli_ksh_lat_quantile(l, 0.5);
		double p99 = cli_ksh_lat_quantile(l, 0.99);
		fprintf(f,
		        "latency %s: %llu frames, median %.0f cycles (%.0f ns), p99 "
		        "%.0f cycles (%.0f ns)\n",
		        what[i], (unsigned long long)l->samples, med, ns_of(med, hz),
		        p99, ns_of(p99, hz));
	}
	const struct ksh_rings *r = &p->rings;
	for (uint32_t i = 0; i < r->nrings && i < KSH_RINGS_MAX; i++) {
		const struct ksh_ring_counters *k = &r->ring[i];
		fprintf(f,
		        "ring %u: delivered %llu (redirected %llu), dropped %llu, "
		        "consumed %llu, echoed %llu, queued %llu\n",
		        (unsigned)i, (unsigned long long)k->delivered,
		        (unsigned long long)k->redirected,
		        (unsigned long long)k->dropped,
		        (unsigned long long)k->consumed,
		        (unsigned long long)k->echoed,
		        (unsigned long long)k->queued);
	}
	if (r->redirect_missing)
		fprintf(f, "redirects to a ring the owner has not: %llu (to ring 0)\n",
		        (unsigned long long)r->redirect_missing);
}
