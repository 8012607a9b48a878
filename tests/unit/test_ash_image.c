/*
 * test_ash_image.c - the program image's binary form (ash/image.c): what
 * carries a handler into the kernel.
 *
 * Covered: every example handler survives ELF -> image -> bytes -> image
 * -> bytes with identical bytes and an identical image; the image read
 * back verifies and runs exactly as the one the loader made; every
 * truncation and a sweep of single-byte corruptions are either refused
 * with "at byte N: ..." (N inside the image) or read as a valid image;
 * and the specific refusals have their exact text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "ash/ash.h"
#include "ash/loader.h"
#include "verifier/vfy.h"

#define EXAMPLES DPF_BINARY_DIR "/ash/examples"

static const char *const examples[] = {
	"udp_echo", "icmp_echo", "counters", "flow_table", "lru_flows",
	"vlan_pop", "truncate", "meta", "subprogs", "bounded_loop",
	"bpf_loop", "load_store", "ringbuf", "global_data", "redirect",
};
#define NEX (sizeof examples / sizeof examples[0])

static struct ash_image *load(const char *name)
{
	size_t len;
	char path[512];
	snprintf(path, sizeof path, "%s/%s.o", EXAMPLES, name);
	char *buf = tu_read_file(path, &len);
	cr_assert_not_null(buf, "%s not built", name);
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_load_elf((uint8_t *)buf, len, NULL, NULL, 0, &img, &d),
	             0, "%s: %s", name, d.msg);
	free(buf);
	return img;
}

static uint8_t *to_bytes(const struct ash_image *img, size_t *n)
{
	long len = ash_image_write(img, NULL, 0);
	cr_assert_gt(len, 0);
	uint8_t *b = malloc((size_t)len);
	cr_assert_eq(ash_image_write(img, b, (size_t)len), len);
	*n = (size_t)len;
	return b;
}

static void same_image(const struct ash_image *a, const struct ash_image *b)
{
	cr_assert_str_eq(a->prog, b->prog);
	cr_assert_str_eq(a->section, b->section);
	cr_assert_eq(a->ninsns, b->ninsns);
	cr_assert_eq(memcmp(a->insns, b->insns, a->ninsns * sizeof *a->insns), 0);
	cr_assert_eq(a->nmaps, b->nmaps);
	cr_assert(a->nmaps == 0 ||
	          memcmp(a->maps, b->maps, a->nmaps * sizeof *a->maps) == 0);
	cr_assert_eq(a->ndata, b->ndata);
	cr_assert(a->ndata == 0 || memcmp(a->data, b->data, a->ndata) == 0);
	cr_assert_eq(a->nlines, b->nlines);
	cr_assert(a->nlines == 0 ||
	          memcmp(a->lines, b->lines, a->nlines * sizeof *a->lines) == 0);
	cr_assert_eq(a->nstr, b->nstr);
	cr_assert(a->nstr == 0 || memcmp(a->strtab, b->strtab, a->nstr) == 0);
}

/* A frame every example has something to do with: UDP to port 7. */
static const uint8_t frame[] = {
	0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
	0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x30, 0x39, 0, 7, 0, 12, 0, 0, 'e', 'c', 'h', 'o',
};

static void run_once(const struct ash_image *img, struct ash_result *r,
                     uint8_t *out, uint32_t *outlen)
{
	const struct dpf_host *host = dpf_host_libc();
	struct vfy_ash_opts o = {VFY_ASH_CTX_XDP, 0, 0};
	struct vfy_ash_result vres;
	struct dpf_diag d = {{0}};
	cr_assert_eq(vfy_ash(img, &o, host, &vres, &d), 0, "%s", d.msg);
	struct ash_env env = {host, NULL, NULL, NULL, NULL, 1, 0};
	struct ash_prog *p;
	cr_assert_eq(ash_prog_new(img, &vres, &env, &p, &d), 0, "%s", d.msg);
	static uint8_t buf[ASH_FRAME_SIZE];
	struct ash_xdp x;
	ash_xdp_init(&x, buf, frame, sizeof frame);
	ash_run_xdp(p, &x, ASH_ENGINE_CHECKED, r);
	*outlen = x.data_end - x.data;
	memcpy(out, buf + x.data, *outlen);
	ash_prog_free(p);
	vfy_ash_free(&vres);
}

Test(ash_image, round_trip)
{
	const struct dpf_host *host = dpf_host_libc();
	for (size_t i = 0; i < NEX; i++) {
		struct ash_image *img = load(examples[i]), *back = NULL;
		size_t n, m;
		uint8_t *a = to_bytes(img, &n);
		struct dpf_diag d = {{0}};
		cr_assert_eq(ash_image_read(host, a, n, &back, &d), 0, "%s: %s",
		             examples[i], d.msg);
		same_image(img, back);
		uint8_t *b = to_bytes(back, &m);
		cr_assert_eq(n, m);
		cr_assert_eq(memcmp(a, b, n), 0, "%s", examples[i]);
		/* the image read back behaves as the loader's */
		struct ash_result r1, r2;
		uint8_t o1[ASH_MAX_DATA], o2[ASH_MAX_DATA];
		uint32_t l1, l2;
		run_once(img, &r1, o1, &l1);
		run_once(back, &r2, o2, &l2);
		cr_assert_eq(r1.action, r2.action, "%s", examples[i]);
		cr_assert_eq(r1.fault, ASH_FAULT_NONE, "%s: %s", examples[i], r1.msg);
		cr_assert_eq(l1, l2);
		cr_assert_eq(memcmp(o1, o2, l1), 0);
		free(a);
		free(b);
		ash_image_free(host, img);
		ash_image_free(host, back);
	}
}

/* Read bytes: either a valid image or a refusal at a byte inside it. */
static void read_any(const uint8_t *b, size_t n)
{
	const struct dpf_host *host = dpf_host_libc();
	struct ash_image *img = (struct ash_image *)1;
	struct dpf_diag d = {{0}};
	int rc = ash_image_read(host, b, n, &img, &d);
	if (rc == 0) {
		cr_assert_not_null(img);
		ash_image_free(host, img);
		return;
	}
	cr_assert_eq(rc, DPF_EINVAL);
	cr_assert_null(img);
	unsigned long at;
	cr_assert_eq(sscanf(d.msg, "at byte %lu: ", &at), 1, "%s", d.msg);
	cr_assert_leq(at, n, "%s (of %zu)", d.msg, n);
}

Test(ash_image, truncations_and_corruptions)
{
	struct ash_image *img = load("ringbuf");
	size_t n;
	uint8_t *a = to_bytes(img, &n);
	for (size_t k = 0; k < n; k++)
		read_any(a, k);
	uint64_t seed = 7;
	uint8_t *c = malloc(n);
	for (int t = 0; t < 20000; t++) {
		memcpy(c, a, n);
		size_t at = (size_t)(tu_rand(&seed) % n);
		c[at] ^= (uint8_t)(1u << (tu_rand(&seed) % 8));
		read_any(c, n);
	}
	free(c);
	free(a);
	ash_image_free(dpf_host_libc(), img);
}

static void refused(const uint8_t *b, size_t n, const char *msg)
{
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_image_read(dpf_host_libc(), b, n, &img, &d), DPF_EINVAL);
	cr_assert_str_eq(d.msg, msg);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

Test(ash_image, refusals)
{
	struct ash_image *img = load("counters");
	size_t n;
	char want[160];
	uint8_t *a = to_bytes(img, &n), *c = malloc(n + 8);
	refused(a, 10, "at byte 10: truncated header (an image has at least 176 "
	               "bytes)");
	memcpy(c, a, n);
	c[0] = 'X';
	refused(c, n, "at byte 0: not a program image (no ASHI magic)");
	memcpy(c, a, n);
	put32(c + 4, 2);
	refused(c, n, "at byte 4: image version 2, this runtime reads 1");
	memcpy(c, a, n);
	c[n] = 0;
	snprintf(want, sizeof want,
	         "at byte 8: total length %zu, but %zu bytes given", n, n + 1);
	refused(c, n + 1, want);
	memcpy(c, a, n);
	c[16 + 3] = 0x01; /* program name "cou\x01ters" */
	refused(c, n, "at byte 19: program name has byte 0x01");
	memcpy(c, a, n);
	put32(c + 144, 0);
	refused(c, n, "at byte 144: instruction count not in 1..65536");
	/* the first map's type */
	size_t map0 = 176 + (size_t)img->ninsns * 8;
	memcpy(c, a, n);
	put32(c + map0 + 64, 23);
	snprintf(want, sizeof want, "at byte %zu: map '%s' has unknown type 23",
	         map0, img->maps[0].name);
	refused(c, n, want);
	free(a);
	free(c);
	ash_image_free(dpf_host_libc(), img);
}
