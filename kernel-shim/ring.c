/*
 * ring.c - an owner's packet ring: KSH_RING_SLOTS frames of at most
 * KSH_FRAME_BYTES, copied in by the demultiplexer and taken out in order
 * by the owner's application.
 *
 * head and tail run free (unsigned wrap); tail - head is the number of
 * frames queued, never more than KSH_RING_SLOTS.  A put on a full ring
 * fails and the caller counts the drop: nothing is overwritten.
 */
#include "kernel-shim/ksh.h"

_Static_assert((KSH_RING_SLOTS & (KSH_RING_SLOTS - 1)) == 0,
               "KSH_RING_SLOTS must be a power of two");

void ksh_ring_init(struct ksh_ring *r)
{
	r->head = r->tail = 0;
}

uint32_t ksh_ring_count(const struct ksh_ring *r)
{
	return r->tail - r->head;
}

int ksh_ring_put(struct ksh_ring *r, const uint8_t *frame, uint32_t len)
{
	if (len > KSH_FRAME_BYTES || ksh_ring_count(r) >= KSH_RING_SLOTS)
		return -1;
	uint32_t s = r->tail & (KSH_RING_SLOTS - 1);
	memcpy(r->buf[s], frame, len);
	r->len[s] = (uint16_t)len;
	r->tail++;
	return 0;
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

void ksh_ring_pop(struct ksh_ring *r)
{
	if (r->tail != r->head)
		r->head++;
}
