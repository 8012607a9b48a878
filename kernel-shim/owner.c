/*
 * owner.c - owners, their capabilities, and each owner's stand-in
 * application.
 *
 * An owner is created by KSH_OP_OWNER and never destroyed; owner ids run
 * 1..KSH_MAX_OWNERS (0 is nobody: no filter installed through the control
 * channel has it).  Its capability is a 64-bit secret: SipHash-2-4 of a
 * counter under a key drawn at boot from the host's seed= (command line)
 * and RDRAND, whichever there are.  A capability is never 0, and knowing
 * any number of them tells nothing of the others.  With neither source
 * the key comes from constants and the TSC alone: guessable, and the
 * kernel says so on the console.
 *
 * The admission credential (owner 0, ksh_proto.h) is the command line's
 * admit=, compared like a capability; without admit= it matches nothing.
 * Owner creation spends a token of a bucket (param.h) that the TSC
 * refills; each owner, and the admission credential, remember the last
 * request seq accepted under them (ctl.c checks and advances them).
 *
 * Rings: ring 0 is taken from the pool (ring.c) at creation, the others
 * by ksh_owner_rings (RINGS), up to KSH_RINGS; they are never given back.
 *
 * The stand-in application is what a real application will later be: it
 * drains the owner's packet rings, ring 0 first, `drain` frames per poll
 * of the RX ring in all (0: all; KSH_DRAIN_NONE: none, the application is
 * paused), counting each frame as consumed and, when `echo` is set,
 * transmitting it back unchanged (counted as echoed when the NIC took
 * it; the cycles from the frame's t_seen to the transmit are a
 * KSH_LAT_RING sample).  It runs in the kernel right after the RX batch,
 * with no scheduling, no system call and no copy out of the ring: a real
 * application's ring path can only be slower.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

/* SipHash-2-4 of one 64-bit word under key: a pseudorandom function, so
 * capabilities seen reveal nothing of the key or of other capabilities. */
static uint64_t siphash64(const uint64_t key[2], uint64_t m)
{
	uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ull,
	                 key[1] ^ 0x646f72616e646f6dull,
	                 key[0] ^ 0x6c7967656e657261ull,
	                 key[1] ^ 0x7465646279746573ull};
	const uint64_t last = 8ull << 56; /* message length 8, no tail bytes */
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
	v[3] ^= last;
	sipround(v);
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t draw_cap(struct ksh *k)
{
	for (;;) {
		uint64_t v = siphash64(k->cap_key, k->cap_count++);
		if (v)
			return v;
	}
}

void ksh_owners_init(struct ksh *k, const uint8_t *seed, const uint8_t *admit)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	int have_rdrand = (r[2] >> 30) & 1;
	uint64_t key[2] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull};
	int strong = 0;
	if (seed) {
		uint64_t s0, s1;
		memcpy(&s0, seed, 8);
		memcpy(&s1, seed + 8, 8);
		key[0] ^= s0;
		key[1] ^= s1;
		strong = 1;
	}
	for (int w = 0; w < 2 && have_rdrand; w++) {
		uint64_t x = 0;
		int ok = 0;
		for (int i = 0; i < 10 && !ok; i++)
			ok = rdrand64(&x);
		key[w] ^= x;
		strong |= ok;
	}
	/* the TSC only spreads keys apart; it is no secret */
	k->cap_key[0] = siphash64(key, rdtsc());
	k->cap_key[1] = siphash64(key, ~k->cap_key[0]);
	k->cap_count = 0;
	k->cap_weak = !strong;
	k->admit_set = admit != NULL;
	k->admit = 0;
	if (admit)
		memcpy(&k->admit, admit, 8);
	k->admit_seq = 0;
	k->owner_tokens = KSH_OWNER_BURST;
	k->owner_refill_tsc = rdtsc();
	k->nowners = 0;
	ksh_ring_pool_reset();
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		k->owners[i].live = 0;
		k->owners[i].stage_len = k->owners[i].stage_total = 0;
		memset(k->owners[i].ring, 0, sizeof k->owners[i].ring);
		k->owners[i].nrings = 0;
		k->owners[i].redirect_missing = 0;
		k->owners[i].ash_begun = 0;
		k->owners[i].ash_mem = k->owners[i].ash_code = 0;
	}
	/* handlers' bpf_get_prandom_u32: a PRF output the capabilities never
	 * use (their counter stays far below), so it reveals nothing of them */
	k->ash_rand = siphash64(k->cap_key, ~0ull) | 1;
	ksh_ash_init(k);
}

uint32_t ksh_owner_new(struct ksh *k, uint64_t *cap)
{
	if (k->nowners >= KSH_MAX_OWNERS)
		return 0;
	struct ksh_owner *o = &k->owners[k->nowners];
	/* the pool holds a ring 0 for every owner (ring.c asserts it) */
	o->ring[0] = ksh_ring_take();
	if (!o->ring[0])
		return 0;
	k->nowners++;
	o->nrings = 1;
	k->st.rings++;
	o->live = 1;
	o->cap = draw_cap(k);
	o->last_seq = 0;
	o->echo = 0;
	o->drain = 0;
	o->stage_len = o->stage_total = 0;
	*cap = o->cap;
	return k->nowners;
}

int32_t ksh_owner_rings(struct ksh *k, struct ksh_owner *o, uint32_t want)
{
	if (want > KSH_RINGS)
		return KSH_EINVAL;
	if (want > o->nrings && ksh_ring_pool_free() < want - o->nrings)
		return KSH_ENOSPC;
	while (o->nrings < want) {
		o->ring[o->nrings++] = ksh_ring_take();
		k->st.rings++;
	}
	return KSH_OK;
}

void ksh_owner_rings_read(const struct ksh_owner *o, struct ksh_rings *out)
{
	memset(out, 0, sizeof *out);
	out->nrings = o->nrings;
	out->pool_free = ksh_ring_pool_free();
	out->redirect_missing = o->redirect_missing;
	for (uint32_t i = 0; i < o->nrings; i++) {
		out->ring[i] = o->ring[i]->cnt;
		out->ring[i].queued = ksh_ring_count(o->ring[i]);
	}
}

struct ksh_owner *ksh_owner_get(struct ksh *k, uint32_t owner)
{
	if (owner == 0 || owner > k->nowners)
		return NULL;
	struct ksh_owner *o = &k->owners[owner - 1];
	return o->live ? o : NULL;
}

struct ksh_owner *ksh_owner_auth(struct ksh *k, uint32_t owner, uint64_t cap)
{
	struct ksh_owner *o = ksh_owner_get(k, owner);
	/* compare without an early exit on the first differing bit */
	return o && ((o->cap ^ cap) == 0) ? o : NULL;
}

int ksh_admit_ok(const struct ksh *k, uint64_t cap)
{
	return k->admit_set && ((k->admit ^ cap) == 0);
}

int ksh_owner_budget(struct ksh *k)
{
	uint64_t period = k->tsc_hz / 1000 * KSH_OWNER_REFILL_MS;
	if (period) {
		uint64_t now = rdtsc();
		uint64_t back = (now - k->owner_refill_tsc) / period;
		if (back && k->owner_tokens < KSH_OWNER_BURST) {
			uint64_t room = KSH_OWNER_BURST - k->owner_tokens;
			k->owner_tokens += (uint32_t)(back < room ? back : room);
			k->owner_refill_tsc += back * period;
		}
		if (k->owner_tokens == KSH_OWNER_BURST)
			k->owner_refill_tsc = now; /* a full bucket saves nothing up */
	}
	if (!k->owner_tokens)
		return 0;
	k->owner_tokens--;
	return 1;
}

/* The stand-in application on one ring: at most take frames; returns
 * what is left of take. */
static uint32_t app_ring(struct ksh *k, struct ksh_owner *o,
                         struct ksh_ring *r, uint32_t take)
{
	const uint8_t *f;
	uint32_t len;
	for (; take && ksh_ring_peek(r, &f, &len); take--) {
		k->st.consumed++;
		r->cnt.consumed++;
		if (o->echo && ksh_tx(k, f, len) == 0) {
			k->st.echoed++;
			r->cnt.echoed++;
			uint64_t seen = ksh_ring_seen(r);
			if (seen)
				ksh_lat_add(k, KSH_LAT_RING, k->tx_tsc - seen);
		}
		ksh_ring_pop(r);
	}
	return take;
}

void ksh_apps_run(struct ksh *k)
{
	for (uint32_t i = 0; i < k->nowners; i++) {
		struct ksh_owner *o = &k->owners[i];
		uint32_t take = o->drain == KSH_DRAIN_NONE ? 0
		                : o->drain                ? o->drain
		                                          : KSH_RING_SLOTS * KSH_RINGS;
		for (uint32_t r = 0; r < o->nrings && take; r++)
			take = app_ring(k, o, o->ring[r], take);
	}
}
