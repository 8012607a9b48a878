/*
 * ash.c - THE HOOK POINT for application-specific safe handlers (ASHs).
 *
 * ksh_demux() calls ksh_ash_hook() for every data frame that matched a
 * filter of a live owner, after the verdict and before the frame is put on
 * the owner's packet ring.  A handler bound to that filter will run here:
 * it may consume the frame (return KSH_ASH_HANDLED: the frame counts as
 * delivered and goes on no ring) or decline (KSH_ASH_PASS: normal
 * delivery).  A handler that faults or runs over budget will be aborted
 * and its frame delivered normally, so this function never loses a frame.
 *
 * No handler runtime exists yet: every frame takes the normal path.
 */
#include "kernel-shim/ksh.h"

int ksh_ash_hook(struct ksh *k, uint32_t owner, int filter,
                 const uint8_t *frame, uint32_t len)
{
	return KSH_ASH_PASS;
}
