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
 * KSH_HIST_SUB linear steps) for every classified frame.  Latency
 * (ksh_proto.h KSH_LAT_*): for a frame a handler ran on, t_seen to the
 * hook's return (KSH_LAT_HOOK) and, when it transmitted, t_seen to its
 * TDT write (KSH_LAT_ASH, ksh_tx keeps that TSC); a frame put on a ring
 * keeps t_seen in its slot for the application's echo (KSH_LAT_RING,
 * owner.c).
 *
 * Rings: a frame goes to its owner's ring 0, or to the ring a handler's
 * bpf_redirect(i, 0) named (ash.c leaves i in k->redirect_ring); a ring
 * the owner does not have means ring 0, counted in redirect_missing.
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
	k->tx_tsc = rdtsc(); /* the frame is on the NIC's transmit ring */
	ksh_lat_add(k, KSH_LAT_TDT, k->nic.tdt_cycles);
	k->st.tx_frames++;
	return 0;
}

/* ---- latency (ksh_proto.h: KSH_LAT_*) ---- */

void ksh_lat_add(struct ksh *k, uint32_t path, uint64_t c)
{
	struct ksh_lat_hist *h = &k->lat[path];
	uint64_t i = 0;
	if (c) {
		uint32_t b = 63 - (uint32_t)__builtin_clzll(c);
		uint64_t sub = b >= 4 ? (c >> (b - 4)) & (KSH_LAT_SUB - 1)
		                      : ((c - (1ull << b)) * KSH_LAT_SUB) >> b;
		i = (uint64_t)b * KSH_LAT_SUB + sub;
		if (i >= KSH_LAT_BUCKETS)
			i = KSH_LAT_BUCKETS - 1;
	}
	h->count[i]++;
	if (!k->st.lat_samples[path] || c < h->min)
		h->min = c;
	if (c > h->max)
		h->max = c;
	h->sum += c;
	k->st.lat_samples[path]++;
}

int32_t ksh_lat_read(const struct ksh *k, uint32_t path, uint32_t first,
                     struct ksh_lat *rep, uint32_t *counts, uint32_t max)
{
	if (path >= KSH_LAT_PATHS)
		return KSH_EINVAL;
	const struct ksh_lat_hist *h = &k->lat[path];
	memset(rep, 0, sizeof *rep);
	rep->path = path;
	rep->nbuckets = KSH_LAT_BUCKETS;
	rep->first = first;
	rep->samples = k->st.lat_samples[path];
	rep->cycles_sum = h->sum;
	rep->min = h->min;
	rep->max = h->max;
	uint32_t n = first < KSH_LAT_BUCKETS ? KSH_LAT_BUCKETS - first : 0;
	rep->n = n < max ? n : max;
	for (uint32_t i = 0; i < rep->n; i++)
		counts[i] = h->count[first + i];
	return KSH_OK;
}

void ksh_paths_reset(struct ksh *k)
{
	memset(k->lat, 0, sizeof k->lat);
	memset(k->st.lat_samples, 0, sizeof k->st.lat_samples);
	k->st.rings = 0;
	for (uint32_t i = 0; i < k->nowners; i++) {
		struct ksh_owner *o = &k->owners[i];
		o->redirect_missing = 0;
		for (uint32_t r = 0; r < o->nrings; r++)
			memset(&o->ring[r]->cnt, 0, sizeof o->ring[r]->cnt);
		k->st.rings += o->nrings;
	}
}

/* The ring a frame of o goes to: ring 0, or the one a handler's REDIRECT
 * named (ring 0 when o has no such ring, counted). */
static struct ksh_ring *ring_for(struct ksh *k, struct ksh_owner *o)
{
	uint64_t want = k->redirect_ring;
	if (want == KSH_REDIRECT_NONE)
		return o->ring[0];
	if (want < o->nrings) {
		o->ring[want]->cnt.redirected++;
		return o->ring[want];
	}
	o->redirect_missing++;
	k->st.redirect_missing++;
	return o->ring[0];
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
	uint64_t runs = k->st.ash_runs, sent = k->st.ash_tx;
	k->redirect_ring = KSH_REDIRECT_NONE;
	int act = ksh_ash_hook(k, id, &frame, &len);
	if (k->st.ash_runs != runs) {
		uint64_t now = rdtsc();
		ksh_lat_add(k, KSH_LAT_HOOK, now - t_seen);
		if (k->st.ash_tx != sent)
			ksh_lat_add(k, KSH_LAT_ASH, k->tx_tsc - t_seen);
	}
	if (act == KSH_ASH_CONSUMED) {
		k->st.handled++;
		return;
	}
	if (len > KSH_FRAME_BYTES) {
		k->st.refused++;
		return;
	}
	struct ksh_ring *r = ring_for(k, o);
	if (ksh_ring_put_seen(r, frame, len, t_seen) != 0) {
		k->st.dropped++;
		r->cnt.dropped++;
	} else {
		k->st.delivered++;
		r->cnt.delivered++;
	}
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
