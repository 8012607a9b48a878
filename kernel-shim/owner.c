/*
 * owner.c - owners, their capabilities, and each owner's stand-in
 * application.
 *
 * An owner is created by KSH_OP_OWNER and never destroyed; owner ids run
 * 1..KSH_MAX_OWNERS (0 is nobody: no filter installed through the control
 * channel has it).  Its capability is a 64-bit secret drawn from RDRAND
 * when the CPU has it, else from a generator that mixes the TSC into a
 * splitmix64 state at every draw; a capability is never 0.
 *
 * The stand-in application is what a real application will later be: it
 * drains the owner's packet ring, `drain` frames per poll of the RX ring
 * (0: all), counting each frame as consumed and, when `echo` is set,
 * transmitting it back unchanged (counted as echoed when the NIC took it).
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t draw_cap(struct ksh *k)
{
	uint64_t v = 0;
	for (;;) {
		int ok = 0;
		if (k->have_rdrand)
			for (int i = 0; i < 10 && !ok; i++)
				ok = rdrand64(&v);
		if (!ok) {
			k->cap_state ^= rdtsc();
			v = splitmix(&k->cap_state);
		}
		if (v)
			return v;
	}
}

void ksh_owners_init(struct ksh *k)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	k->have_rdrand = (r[2] >> 30) & 1;
	k->cap_state = rdtsc() ^ 0x6a09e667f3bcc908ull;
	k->nowners = 0;
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		k->owners[i].live = 0;
		ksh_ring_init(&k->owners[i].ring);
	}
}

uint32_t ksh_owner_new(struct ksh *k, uint64_t *cap)
{
	if (k->nowners >= KSH_MAX_OWNERS)
		return 0;
	struct ksh_owner *o = &k->owners[k->nowners++];
	o->live = 1;
	o->cap = draw_cap(k);
	o->echo = 0;
	o->drain = 0;
	ksh_ring_init(&o->ring);
	*cap = o->cap;
	return k->nowners;
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

void ksh_apps_run(struct ksh *k)
{
	for (uint32_t i = 0; i < k->nowners; i++) {
		struct ksh_owner *o = &k->owners[i];
		uint32_t take = o->drain ? o->drain : KSH_RING_SLOTS;
		const uint8_t *f;
		uint32_t len;
		while (take-- && ksh_ring_peek(&o->ring, &f, &len)) {
			k->st.consumed++;
			if (o->echo && ksh_tx(k, f, len) == 0)
				k->st.echoed++;
			ksh_ring_pop(&o->ring);
		}
	}
}
