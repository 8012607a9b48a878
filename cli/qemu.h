/*
 * qemu.h - finding QEMU and the kernel-shim image, and the QEMU command
 * line that `dpf boot` runs.
 *
 * Interface:
 *   cli_qemu_find() and cli_kernel_find() resolve the two programs
 *   (options first, then environment, then the defaults below) and say
 *   exactly what is missing when they fail.  cli_qemu_argv() builds the
 *   argument vector; it does no I/O, so tests check it as text.
 *
 * The guest gets one NIC whose backend is a datagram socket QEMU inherits
 * as file descriptor `fd`: one Ethernet frame per datagram, no loss (QEMU
 * stops reading the socket while the guest's RX ring is full).  The
 * serial console goes to a file; isa-debug-exit at port 0xf4 lets the
 * guest end QEMU with status (code << 1) | 1.
 */
#ifndef DPF_CLI_QEMU_H
#define DPF_CLI_QEMU_H

#include <stddef.h>
#include <stdint.h>

#define CLI_QEMU_DEFAULT "qemu-system-x86_64"
#define CLI_QEMU_ARGV_MAX 40

enum cli_nic { CLI_NIC_E1000E = 0, CLI_NIC_E1000 = 1 };

/* "e1000" / "e1000e" -> enum; -1 for anything else. */
int cli_nic_parse(const char *s);
const char *cli_nic_name(enum cli_nic nic);

/* QEMU: env DPF_QEMU (a path, or a name looked up on PATH), else
 * qemu-system-x86_64 on PATH.  Writes the path to out; returns 0, or -1
 * with the reason in err ("... (install qemu-system-x86 or set
 * DPF_QEMU)"). */
int cli_qemu_find(char *out, size_t cap, char *err, size_t errcap);

/* Where make install puts the kernel image, from the installed dpf's
 * directory's parent (the prefix). */
#define CLI_KERNEL_INSTALLED "lib/dpf/kernel.elf"

/* The kernel image: opt (--kernel) when given, else env DPF_KERNEL, else
 * the first of the build tree's kernel-shim images next to the running
 * dpf (<dir of dpf>/../kernel-shim/NAME), else the installed one
 * (<dir of dpf>/../lib/dpf/kernel.elf).  Returns 0, or -1 with
 * "no kernel at PATH nor PATH (...)" in err. */
int cli_kernel_find(const char *opt, char *out, size_t cap, char *err,
                    size_t errcap);

struct cli_qemu_cfg {
	const char *qemu, *kernel;
	enum cli_nic nic;
	uint8_t mac[6];  /* the guest NIC's address */
	int fd;          /* the guest's end of the socketpair, inherited */
	const char *log; /* serial console file */
	uint8_t seed[16]; /* host entropy for the guest's capabilities: passed
	                   * as -append seed=HEX; all zero: none passed */
	const char *cpu;  /* -cpu MODEL, or NULL for QEMU's default */
	uint8_t admit[8]; /* the guest's admission credential (ksh_proto.h),
	                   * passed after the seed as admit=HEX (16 digits,
	                   * the little-endian bytes of the credential); all
	                   * zero: none passed */
	uint64_t ash_cpu; /* the handlers' CPU budget, cycles per ms: passed
	                   * last as ash_cpu=N; 0: none passed */
};

/* Fill argv (at most CLI_QEMU_ARGV_MAX entries plus NULL) using store
 * (at least 512 bytes) for the composed arguments.  Returns the count. */
int cli_qemu_argv(const struct cli_qemu_cfg *cfg, char **argv, char *store,
                  size_t storecap);

#endif
