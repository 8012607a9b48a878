/*
 * xdp.c - the XDP frame model (ash.h) and the helpers that move its
 * bounds, with Linux's limits (net/core/filter.c):
 *
 *   buf                                                     ASH_FRAME_SIZE
 *   |  xdp_frame | headroom | meta | data ...... | free | tailroom      |
 *   0            40         ^meta  ^data         ^data_end  4096 - 320
 *
 *   adjust_head(off)  data += off, metadata moved along; refused
 *                     (-EINVAL) unless 40 + metalen <= data and
 *                     data <= data_end - 14
 *   adjust_meta(off)  data_meta += off; -EINVAL unless 40 <= meta <= data;
 *                     -EACCES unless data - meta is a multiple of 4 and
 *                     at most 32
 *   adjust_tail(off)  data_end += off; -EINVAL unless data_end <=
 *                     4096 - 320 and data_end >= data + 14; growth is
 *                     zero-filled
 *   load/store_bytes  -EFAULT when offset or len exceeds 0xffff, -EINVAL
 *                     when offset + len passes data_end
 * Offsets are signed 32-bit (Linux's int), computed without overflow.
 */
#include "ash/ash_int.h"

void ash_xdp_init(struct ash_xdp *x, uint8_t *buf, const uint8_t *pkt,
                  uint32_t len)
{
	if (len > ASH_MAX_DATA)
		len = ASH_MAX_DATA;
	ash_memset(buf, 0, ASH_HEADROOM);
	ash_memcpy(buf + ASH_HEADROOM, pkt, len);
	x->buf = buf;
	x->data = x->data_meta = ASH_HEADROOM;
	x->data_end = ASH_HEADROOM + len;
}

int64_t ash_xdp_adjust_head(struct ash_xdp *x, int32_t off)
{
	int64_t metalen = (int64_t)x->data - x->data_meta;
	int64_t data = (int64_t)x->data + off;
	if (data < ASH_XDP_FRAME_HDR + metalen ||
	    data > (int64_t)x->data_end - ASH_ETH_HLEN)
		return -ASH_EINVAL;
	if (metalen)
		ash_memmove(x->buf + x->data_meta + off, x->buf + x->data_meta,
		            (size_t)metalen);
	x->data_meta = (uint32_t)((int64_t)x->data_meta + off);
	x->data = (uint32_t)data;
	return 0;
}

int64_t ash_xdp_adjust_meta(struct ash_xdp *x, int32_t off)
{
	int64_t meta = (int64_t)x->data_meta + off;
	if (meta < ASH_XDP_FRAME_HDR || meta > (int64_t)x->data)
		return -ASH_EINVAL;
	int64_t metalen = (int64_t)x->data - meta;
	if ((metalen & 3) || metalen > 32)
		return -ASH_EACCES;
	x->data_meta = (uint32_t)meta;
	return 0;
}

int64_t ash_xdp_adjust_tail(struct ash_xdp *x, int32_t off)
{
	int64_t end = (int64_t)x->data_end + off;
	if (end > ASH_FRAME_SIZE - ASH_TAILROOM)
		return -ASH_EINVAL;
	if (end < (int64_t)x->data + ASH_ETH_HLEN)
		return -ASH_EINVAL;
	if (off > 0)
		ash_memset(x->buf + x->data_end, 0, (size_t)off);
	x->data_end = (uint32_t)end;
	return 0;
}

int64_t ash_xdp_pointer(struct ash_xdp *x, uint32_t off, uint32_t len,
                        uint8_t **ptr)
{
	if (off > 0xffff || len > 0xffff)
		return -ASH_EFAULT;
	if ((uint64_t)off + len > (uint64_t)x->data_end - x->data)
		return -ASH_EINVAL;
	*ptr = x->buf + x->data + off;
	return 0;
}
