/*
 * ash_trace.c - a deterministic Ethernet trace for the handler examples.
 *
 *   ash_trace OUT.pcap [--seed N] [--count N]
 *
 * Writes COUNT (default 600) frames, linktype 1, timestamps i
 * microseconds, from a xorshift generator seeded with N (default 1): UDP
 * to ports 7 and 9 and others (payloads random, all zero or all 0xff),
 * TCP with and without SYN (and SYN to port 0), ICMP echo requests with
 * correct checksums, 802.1Q-tagged IPv4, IPv6, ARP, runts of 14..60
 * bytes, frames up to 1514 bytes, TTLs 1..255, and a pool of flows that
 * repeats so flow tables fill and LRU tables evict.  Same arguments, same
 * bytes.  The frames come from bench/ash_gen.c, which bench_ash shares.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "bench/ash_gen.h"

int main(int argc, char **argv)
{
	const char *out = NULL;
	uint64_t seed = 1;
	long count = 600;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
			count = strtol(argv[++i], NULL, 0);
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			out = NULL, i = argc;
	}
	if (!out || count < 0) {
		fprintf(stderr, "usage: ash_trace OUT.pcap [--seed N] "
		        "[--count N]\n");
		return 2;
	}
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pd ? pcap_dump_open(pd, out) : NULL;
	if (!d) {
		fprintf(stderr, "ash_trace: %s: %s\n", out,
		        pd ? pcap_geterr(pd) : "pcap_open_dead failed");
		return 1;
	}

	struct agen g;
	agen_init(&g, seed);
	static uint8_t b[AGEN_FRAME_MAX];
	for (long i = 0; i < count; i++) {
		size_t len = agen_next(&g, b);
		struct pcap_pkthdr h = {
			.ts = { .tv_sec = i / 1000000, .tv_usec = i % 1000000 },
			.caplen = (uint32_t)len,
			.len = (uint32_t)len,
		};
		pcap_dump((u_char *)d, &h, b);
	}
	pcap_dump_close(d);
	pcap_close(pd);
	return 0;
}
