/*
 * image.c - program images: freeing, line lookup, and the binary form.
 */
#include "ash/ash.h"

void ash_image_free(const struct dpf_host *host, struct ash_image *img)
{
	if (!img)
		return;
	if (img->insns)
		host->free(host->ctx, img->insns,
		           (size_t)img->ninsns * sizeof *img->insns);
	if (img->maps)
		host->free(host->ctx, img->maps,
		           (size_t)img->nmaps * sizeof *img->maps);
	if (img->data)
		host->free(host->ctx, img->data, img->ndata);
	if (img->lines)
		host->free(host->ctx, img->lines,
		           (size_t)img->nlines * sizeof *img->lines);
	if (img->strtab)
		host->free(host->ctx, img->strtab, img->nstr);
	host->free(host->ctx, img, sizeof *img);
}

const struct ash_line *ash_image_line(const struct ash_image *img,
                                      uint32_t insn)
{
	/* the last entry starting at or before insn */
	uint32_t lo = 0, hi = img->nlines;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (img->lines[mid].insn <= insn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &img->lines[lo - 1] : NULL;
}
