/*
 * ring.c - an owner's packet ring: KSH_RING_SLOTS frames of at most
 * KSH_FRAME_BYTES, copied in by the demultiplexer and taken out in order
 * by the owner's application; and the pool the rings come from.
 *
 * head and tail run free (unsigned wrap); tail - head is the number of
 * frames queued, never more than KSH_RING_SLOTS.  A put on a full ring
 * fails and the caller counts the drop: nothing is overwritten.  Each
 * slot keeps the TSC at which the main loop saw its frame (t_seen), so
 * that the application's reply can be timed from the frame's arrival
 * (ksh_proto.h, KSH_LAT_RING).
 *
 * Pool: KSH_RING_POOL rings (param.h), handed out in order by
 * ksh_ring_take (an owner's ring 0 at creation, its others on request)
 * and never given back, as owners are never destroyed (ksh_owners_init
 * empties the pool with every owner).
 */
#include "kernel-shim/ksh.h"

_Static_assert((KSH_RING_SLOTS & (KSH_RING_SLOTS - 1)) == 0,
               "KSH_RING_SLOTS must be a power of two");
_Static_assert(KSH_RINGS == KSH_RINGS_MAX,
               "ksh_proto.h's KSH_RINGS_MAX must equal param.h's KSH_RINGS");
_Static_assert(KSH_RING_POOL >= KSH_MAX_OWNERS,
               "every owner needs its ring 0 from the pool");

static struct ksh_ring pool[KSH_RING_POOL];
static uint32_t pool_used;

struct ksh_ring *ksh_ring_take(void)
{
	if (pool_used >= KSH_RING_POOL)
		return NULL;
	struct ksh_ring *r = &pool[pool_used++];
	ksh_ring_init(r);
	return r;
}

void ksh_ring_pool_reset(void)
{
	pool_used = 0;
}

uint32_t ksh_ring_pool_free(void)
{
	return KSH_RING_POOL - pool_used;
}

void ksh_ring_init(struct ksh_ring *r)
{
	r->head = r->tail = 0;
	memset(&r->cnt, 0, sizeof r->cnt);
}

uint32_t ksh_ring_count(const struct ksh_ring *r)
{
	return r->tail - r->head;
}

int ksh_ring_put_seen(struct ksh_ring *r, const uint8_t *frame, uint32_t len,
                      uint64_t t_seen)
{
	if (len > KSH_FRAME_BYTES || ksh_ring_count(r) >= KSH_RING_SLOTS)
		return -1;
	uint32_t s = r->tail & (KSH_RING_SLOTS - 1);
	memcpy(r->buf[s], frame, len);
	r->len[s] = (uint16_t)len;
	r->t_seen[s] = t_seen;
	r->tail++;
	return 0;
}

int ksh_ring_put(struct ksh_ring *r, const uint8_t *frame, uint32_t len)
{
	return ksh_ring_put_seen(r, frame, len, 0);
}

int ksh_ring_peek(const struct ksh_ring *r, const uint8_t **frame,
                  uint32_t *len)
{
	if (r->tail == r->head)
		return 0;
	uint32_t s = r->head & (KSH_RING_SLOTS - 1);
	*frame = r->buf[s];
	*len = r->len[s];
	return 1;
}

uint64_t ksh_ring_seen(const struct ksh_ring *r)
{
	return r->t_seen[r->head & (KSH_RING_SLOTS - 1)];
}

void ksh_ring_pop(struct ksh_ring *r)
{
	if (r->tail != r->head)
		r->head++;
}
