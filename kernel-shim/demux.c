/*
 * demux.c - what happens to each received frame.
 *
 * A frame of EtherType KSH_ETHERTYPE that arrived whole goes to the
 * control channel (ctl.c).  Every other frame is a data frame: it is
 * classified by the engine (the JIT's code while attached, else the
 * interpreter) and accounted exactly once:
 *
 *     data_frames == delivered + handled + dropped + unmatched + refused
 *
 *   unmatched  no filter matched;
 *   refused    the NIC flagged it (errors, not one whole frame), or it
 *              matched a filter whose owner is not live, or it (or what
 *              the filter's handler made of it) is too long for a ring
 *              slot;
 *   delivered  put on the owner's packet ring (as received, or as the
 *              filter's handler left it: ash.c);
 *   handled    consumed by the filter's handler (XDP_DROP, or XDP_TX
 *              transmitted);
 *   dropped    the owner's ring was full.
 * and rx_frames == ctl_frames + data_frames.
 *
 * Timing: t_seen is the TSC when the main loop saw the descriptor's DD
 * bit; the cycles from there to the verdict are added to demux_cycles_sum
 * and to the histogram (ksh_proto.h: floor(log2) buckets, each split into
 * KSH_HIST_SUB linear steps) for every classified frame.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

void ksh_hist_add(struct ksh_stats *st, uint64_t c)
{
	uint32_t b = 0;
	if (c == 0) {
		st->hist[0]++;
		return;
	}
	while (b < 63 && (c >> (b + 1)))
		b++;
	uint64_t sub = ((c - (1ull << b)) * KSH_HIST_SUB) >> b;
	uint64_t i = (uint64_t)b * KSH_HIST_SUB + sub;
	if (i >= KSH_HIST_BUCKETS)
		i = KSH_HIST_BUCKETS - 1;
	st->hist[i]++;
}

int ksh_tx(struct ksh *k, const uint8_t *frame, uint32_t len)
{
	if (ksh_nic_tx(&k->nic, frame, len) != 0)
		return -1;
	k->st.tx_frames++;
	return 0;
}

void ksh_demux(struct ksh *k, const uint8_t *frame, uint32_t len, int bad,
               uint64_t t_seen)
{
	k->st.data_frames++;
	k->st.data_bytes += len;
	if (bad) {
		k->st.refused++;
		return;
	}
	int id = dpf_classify(k->engine, frame, len);
	uint64_t c = rdtsc() - t_seen;
	k->st.demux_cycles_sum += c;
	k->st.demux_samples++;
	ksh_hist_add(&k->st, c);
	if (id < 0) {
		k->st.unmatched++;
		return;
	}
	uint32_t owner = 0;
	if ((uint32_t)id < KSH_MAX_FILTER_IDS) {
		k->matches[id]++;
		owner = k->owner_of[id];
	}
	struct ksh_owner *o = ksh_owner_get(k, owner);
	if (!o || len > KSH_FRAME_BYTES) {
		k->st.refused++;
		return;
	}
	/* ---- hook point: an application-specific handler (ash.c) ---- */
	if (ksh_ash_hook(k, id, &frame, &len) == KSH_ASH_CONSUMED) {
		k->st.handled++;
		return;
	}
	if (len > KSH_FRAME_BYTES) {
		k->st.refused++;
		return;
	}
	if (ksh_ring_put(&o->ring, frame, len) != 0)
		k->st.dropped++;
	else
		k->st.delivered++;
}

void ksh_rx_frame(struct ksh *k, const uint8_t *frame, uint32_t len, int bad,
                  uint64_t t_seen)
{
	k->st.rx_frames++;
	k->st.rx_bytes += len;
	if (!bad && len >= 14 && frame[12] == (KSH_ETHERTYPE >> 8) &&
	    frame[13] == (KSH_ETHERTYPE & 0xff)) {
		k->st.ctl_frames++;
		ksh_ctl_frame(k, frame, len);
		return;
	}
	ksh_demux(k, frame, len, bad, t_seen);
}
