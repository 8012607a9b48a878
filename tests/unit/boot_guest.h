/*
 * boot_guest.h - driving a booted kernel-shim from a test through the
 * CLI's client (cli/ksh_client.h): boot it, make requests, create owners,
 * install filters and bind handler images.  Every failure of the guest
 * fails the test with the tail of its serial console.
 *
 * Header-only (static functions), like boot_util.h; needs the image
 * <build>/kernel-shim/kernel.elf (or $DPF_KERNEL) and QEMU: without
 * either the test FAILS, saying what is missing.
 */
#ifndef DPF_TEST_BOOT_GUEST_H
#define DPF_TEST_BOOT_GUEST_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ash/ash.h"
#include "ash/loader.h"
#include "boot_util.h"
#include "cli/ksh_client.h"
#include "cli/qemu.h"
#include "dpf/dpf.h"

#define BG_STEP_MS 20000
#define BG_CHUNK 1024

static struct cli_ksh_reply bg_reply;

BU_FN const char *bg_kernel(void)
{
	const char *k = getenv("DPF_KERNEL");
	return k && *k ? k : DPF_BINARY_DIR "/kernel-shim/kernel.elf";
}

BU_FN void bg_need_kernel(void)
{
	if (access(bg_kernel(), R_OK) != 0)
		cr_assert_fail("the kernel image %s is not built (cmake --build "
		               "build): the end-to-end boot tests cannot run",
		               bg_kernel());
}

BU_FN void bg_fail(struct cli_ksh *c, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	cli_ksh_log_tail(c, m, 40);
	fclose(m);
	cr_assert_fail("%s: %s\n%s", what, cli_ksh_error(c), buf);
}

/* A booted guest (e1000e) that answered HELLO. */
BU_FN struct cli_ksh *bg_boot(void)
{
	static char qemu[PATH_MAX];
	bg_need_kernel();
	char err[PATH_MAX + 200];
	if (cli_qemu_find(qemu, sizeof qemu, err, sizeof err) != 0)
		cr_assert_fail("%s: the end-to-end boot tests cannot run", err);
	struct cli_ksh_opts o = {qemu, bg_kernel(), CLI_NIC_E1000E, {0},
	                         BG_STEP_MS, NULL, 0};
	memcpy(o.mac, cli_ksh_guest_mac, 6);
	struct cli_ksh *c = NULL;
	cr_assert_eq(cli_ksh_spawn(&o, &c, err, sizeof err), 0, "%s", err);
	struct ksh_hello h;
	uint64_t ns;
	if (cli_ksh_hello(c, &h, &ns) != 0)
		bg_fail(c, "HELLO");
	return c;
}

/* A request; its status (the reply in bg_reply). */
BU_FN int32_t bg_call(struct cli_ksh *c, uint8_t op, const void *p, size_t len)
{
	if (cli_ksh_call(c, op, p, len, &bg_reply) != 0)
		bg_fail(c, "request");
	return bg_reply.status;
}

/* A new owner's credential. */
BU_FN struct ksh_cred bg_owner(struct cli_ksh *c)
{
	struct ksh_cred admin = cli_ksh_admin(c);
	cr_assert_eq(bg_call(c, KSH_OP_OWNER, &admin, sizeof admin), KSH_OK, "%s",
	             bg_reply.reason);
	struct ksh_owner_reply o;
	memcpy(&o, bg_reply.body, sizeof o);
	struct ksh_cred cr = {o.owner, o.cap};
	return cr;
}

/* Install one filter for who; returns its id. */
BU_FN int32_t bg_filter(struct cli_ksh *c, struct ksh_cred who,
                        const char *src)
{
	struct dpf_prog *p = tu_parse(src);
	uint8_t pl[KSH_PAYLOAD_MAX];
	long n = dpf_ir_write(p, NULL, 0);
	cr_assert(n > 0 && (size_t)n + sizeof(struct ksh_ir_chunk) <= sizeof pl);
	struct ksh_ir_chunk h = {who, 0, (uint32_t)n};
	memcpy(pl, &h, sizeof h);
	cr_assert_eq(dpf_ir_write(p, pl + sizeof h, (size_t)n), n);
	dpf_prog_free(dpf_host_libc(), p);
	cr_assert_eq(bg_call(c, KSH_OP_IR, pl, sizeof h + (size_t)n), KSH_OK,
	             "%s", bg_reply.reason);
	struct ksh_insert in = {who, 0};
	cr_assert_eq(bg_call(c, KSH_OP_INSERT, &in, sizeof in), KSH_OK, "%s",
	             bg_reply.reason);
	int32_t id;
	memcpy(&id, bg_reply.body + 4, 4);
	return id;
}

/* The program image of an object, as `dpf boot` sends it. */
BU_FN uint8_t *bg_image_of(const char *obj, size_t *len)
{
	size_t n;
	uint8_t *elf = (uint8_t *)tu_read_file(obj, &n);
	cr_assert_not_null(elf, "cannot read %s", obj);
	struct ash_image *img = NULL;
	struct dpf_diag d = {{0}};
	cr_assert_eq(ash_load_elf(elf, n, NULL, NULL, 0, &img, &d), 0, "%s: %s",
	             obj, d.msg);
	free(elf);
	long w = ash_image_write(img, NULL, 0);
	cr_assert_gt(w, 0);
	uint8_t *buf = malloc((size_t)w);
	cr_assert_eq(ash_image_write(img, buf, (size_t)w), w);
	ash_image_free(dpf_host_libc(), img);
	*len = (size_t)w;
	return buf;
}

/* A hand-made image of n instructions, no maps. */
BU_FN uint8_t *bg_image_made(const struct ash_insn *insns, uint32_t n,
                             size_t *len)
{
	struct ash_image img;
	memset(&img, 0, sizeof img);
	strcpy(img.prog, "made");
	strcpy(img.section, "xdp");
	img.ninsns = n;
	img.insns = (struct ash_insn *)insns;
	long w = ash_image_write(&img, NULL, 0);
	cr_assert_gt(w, 0);
	uint8_t *buf = malloc((size_t)w);
	cr_assert_eq(ash_image_write(&img, buf, (size_t)w), w);
	*len = (size_t)w;
	return buf;
}

/* Bind image img (n bytes) to who's filter id: BEGIN, CHUNKs, COMMIT,
 * each granted. */
BU_FN void bg_attach(struct cli_ksh *c, struct ksh_cred who, int32_t id,
                     const uint8_t *img, size_t n)
{
	struct ksh_ash_begin b = {who, id, (uint32_t)n,
	                          ksh_crc32(img, (uint32_t)n)};
	cr_assert_eq(bg_call(c, KSH_OP_ASH_BEGIN, &b, sizeof b), KSH_OK, "%s",
	             bg_reply.reason);
	uint8_t pl[KSH_PAYLOAD_MAX];
	for (size_t off = 0; off < n; off += BG_CHUNK) {
		size_t m = n - off < BG_CHUNK ? n - off : BG_CHUNK;
		struct ksh_ash_chunk h = {who, (uint32_t)off};
		memcpy(pl, &h, sizeof h);
		memcpy(pl + sizeof h, img + off, m);
		cr_assert_eq(bg_call(c, KSH_OP_ASH_CHUNK, pl, sizeof h + m), KSH_OK,
		             "%s", bg_reply.reason);
	}
	cr_assert_eq(bg_call(c, KSH_OP_ASH_COMMIT, &who, sizeof who), KSH_OK,
	             "%s", bg_reply.reason);
}

BU_FN struct ksh_stats bg_stats(struct cli_ksh *c, struct ksh_cred who)
{
	cr_assert_eq(bg_call(c, KSH_OP_STATS, &who, sizeof who), KSH_OK);
	struct ksh_stats st;
	cr_assert(bg_reply.len >= sizeof st);
	memcpy(&st, bg_reply.body, sizeof st);
	return st;
}

#endif
