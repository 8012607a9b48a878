/* unknown_helper.c - calls a helper the runtime does not offer. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int unknown_helper(struct xdp_md *ctx)
{
	return bpf_get_current_pid_tgid() == 0 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
