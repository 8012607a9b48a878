/*
 * fuzz_ash_elf.c - libFuzzer harness: handler objects as `dpf ash` reads
 * them.  The input is an ELF object given to the loader (ash_load_elf:
 * libelf and libbpf's open, the loader's own relocations, BTF, line info);
 * what it accepts goes through the image's binary form and back and then
 * through the verifier.
 *
 * Checks: no crash, leak or read out of bounds on any bytes; an accepted
 * object yields an image that writes, reads back and writes again to the
 * same bytes; every refusal says why.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "verifier/vfy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct dpf_host *host = dpf_host_libc();
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	if (ash_load_elf(data, size, NULL, NULL, 0, &img, &d) != 0) {
		if (!d.msg[0])
			abort(); /* a refusal without a reason */
		return 0;
	}
	long n = ash_image_write(img, NULL, 0);
	if (n <= 0)
		abort();
	uint8_t *a = malloc((size_t)n), *b = malloc((size_t)n);
	if (!a || !b || ash_image_write(img, a, (size_t)n) != n)
		abort();
	struct ash_image *back = NULL;
	if (ash_image_read(host, a, (size_t)n, &back, &d) != 0) {
		/* the loader made an image the reader refuses */
		fprintf(stderr, "image refused: %s\n", d.msg);
		abort();
	}
	if (ash_image_write(back, b, (size_t)n) != n || memcmp(a, b, (size_t)n))
		abort();
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, 200000};
	struct vfy_ash_result res;
	if (vfy_ash(back, &o, host, &res, &d) == 0)
		vfy_ash_free(&res);
	ash_image_free(host, back);
	ash_image_free(host, img);
	free(a);
	free(b);
	return 0;
}
