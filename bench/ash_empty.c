/*
 * ash_empty.c - the empty handler: bench_ash's measure of what calling a
 * handler costs (DPF's engines, in cycles) and of the per-run overhead
 * of BPF_PROG_TEST_RUN, subtracted from the Linux column.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
