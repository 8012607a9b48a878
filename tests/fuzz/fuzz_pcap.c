/*
 * fuzz_pcap.c - libFuzzer harness: capture files, as `dpf replay` reads
 * them (cli_trace_read: pcap and pcapng through libpcap), then every
 * packet read classified by the interpreter, the naive classifier and the
 * x86 back end on the bundled filter set (examples/demo.dpf's kind of
 * set, built in), at every length.
 *
 * Checks: no crash, leak or read out of bounds on any input; what is read
 * is self-consistent (each packet's bytes lie inside the data held, the
 * byte total is the sum of the captured lengths, a damaged capture says
 * why); the engines agree on every packet read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/trace.h"
#include "dpf/dpf.h"
#include "dpf/lang/lang.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char filters[] =
	"filter http priority 20 { ip.dst == 10.0.0.1 and tcp.dport == 80 }\n"
	"filter farm priority 10 { ip.dst == 10.0.0.0/24 and tcp }\n"
	"filter dns { udp.dport in {53, 5353} or udp.sport == 53 }\n"
	"filter v6 { ip6.dst == 2001:db8::/32 and tcp.dport == 443 }\n"
	"filter arp { arp }\n"
	"filter vlan { vlan.id == 7 and ip }\n";

static struct dpf_engine *engine(void)
{
	static struct dpf_engine *e;
	if (e)
		return e;
	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	if (dpf_lang_parse("fuzz.dpf", filters, sizeof filters - 1, &prog, &d))
		fz_fail("built-in filters: %s", d.msg);
	e = fz_engine(dpf_host_libc());
	for (uint32_t i = 0; i < prog->nfilters; i++)
		if (dpf_insert(e, &prog->filters[i], NULL, &d))
			fz_fail("built-in filter %u: %s", i, d.msg);
	dpf_prog_free(dpf_host_libc(), prog);
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0) {
		fd = memfd_create("fuzz_pcap", 0);
		if (fd < 0)
			abort();
	}
	struct dpf_engine *e = engine();
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct cli_trace t;
	if (cli_trace_read(path, &t) != 0)
		return 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < t.n; i++) {
		const struct cli_pkt *p = &t.pkts[i];
		if (p->off > t.used || p->caplen > t.used - p->off)
			fz_fail("packet %zu lies outside the data held", i);
		if (p->caplen > t.maxcap)
			fz_fail("packet %zu longer than maxcap", i);
		bytes += p->caplen;
		fz_compare(e, cli_trace_bytes(&t, i), p->caplen);
	}
	if (bytes != t.bytes)
		fz_fail("byte total %llu, packets sum to %llu",
		        (unsigned long long)t.bytes, (unsigned long long)bytes);
	if (t.damaged && !t.err[0])
		fz_fail("damaged capture without a reason");
	cli_trace_free(&t);
	return 0;
}
