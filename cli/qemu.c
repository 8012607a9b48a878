/*
 * qemu.c - locating QEMU and the kernel-shim image; the QEMU command line
 * of `dpf boot` (see qemu.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/qemu.h"

/* Names the kernel-shim build may give its image, most likely first. */
static const char *const kernel_names[] = {
	"kernel.elf", "kernel", "kernel.bin", "kernel-shim.elf", "ksh.elf",
	"kernel32.elf",
};

int cli_nic_parse(const char *s)
{
	if (strcmp(s, "e1000e") == 0)
		return CLI_NIC_E1000E;
	if (strcmp(s, "e1000") == 0)
		return CLI_NIC_E1000;
	return -1;
}

const char *cli_nic_name(enum cli_nic nic)
{
	return nic == CLI_NIC_E1000 ? "e1000" : "e1000e";
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_exec(const char *p)
{
	return is_file(p) && access(p, X_OK) == 0;
}

/* Look NAME up on PATH (or take it as a path when it has a slash). */
static int which(const char *name, char *out, size_t cap)
{
	if (strchr(name, '/')) {
		if (!is_exec(name) || strlen(name) >= cap)
			return -1;
		strcpy(out, name);
		return 0;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	/* every entry, empty ones (the current directory) included, a
	 * trailing one too */
	for (;;) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		int w = n ? snprintf(out, cap, "%.*s/%s", (int)n, path, name)
		          : snprintf(out, cap, "./%s", name);
		if (w > 0 && (size_t)w < cap && is_exec(out))
			return 0;
		if (!end)
			return -1;
		path = end + 1;
	}
}

int cli_qemu_find(char *out, size_t cap, char *err, size_t errcap)
{
	const char *env = getenv("DPF_QEMU");
	if (env && *env) {
		if (which(env, out, cap) == 0)
			return 0;
		snprintf(err, errcap,
		         "QEMU not found: DPF_QEMU is '%s', which is not an "
		         "executable file",
		         env);
		return -1;
	}
	if (which(CLI_QEMU_DEFAULT, out, cap) == 0)
		return 0;
	snprintf(err, errcap,
	         "QEMU not found: no %s on PATH (install qemu-system-x86 or set "
	         "DPF_QEMU)",
	         CLI_QEMU_DEFAULT);
	return -1;
}

int cli_kernel_find(const char *opt, char *out, size_t cap, char *err,
                    size_t errcap)
{
	const char *given = opt && *opt ? opt : getenv("DPF_KERNEL");
	if (given && *given) {
		if (is_file(given) && strlen(given) < cap) {
			strcpy(out, given);
			return 0;
		}
		snprintf(err, errcap, "no kernel at %s%s", given,
		         opt && *opt ? "" : " (from DPF_KERNEL)");
		return -1;
	}
	/* <dir of the running dpf>/../kernel-shim/NAME (the build tree),
	 * then <dir of the running dpf>/../lib/dpf/kernel.elf (installed) */
	char exe[PATH_MAX], dir[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errcap,
		         "cannot tell where dpf runs from (/proc/self/exe: %s); "
		         "give --kernel PATH",
		         strerror(errno));
		return -1;
	}
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(dir, sizeof dir, "%s/../kernel-shim", exe);
	char canon[PATH_MAX];
	const char *base = realpath(dir, canon) ? canon : dir;
	for (size_t i = 0; i < sizeof kernel_names / sizeof kernel_names[0];
	     i++) {
		int w = snprintf(out, cap, "%s/%s", base, kernel_names[i]);
		if (w > 0 && (size_t)w < cap && is_file(out))
			return 0;
	}
	char inst[PATH_MAX + 32], icanon[PATH_MAX];
	snprintf(inst, sizeof inst, "%s/../" CLI_KERNEL_INSTALLED, exe);
	const char *ip = realpath(inst, icanon) ? icanon : inst;
	int w = snprintf(out, cap, "%s", ip);
	if (w > 0 && (size_t)w < cap && is_file(out))
		return 0;
	snprintf(err, errcap,
	         "no kernel at %s/%s nor %s (build it with make build, or give "
	         "--kernel PATH or DPF_KERNEL)",
	         base, kernel_names[0], ip);
	return -1;
}

int cli_qemu_argv(const struct cli_qemu_cfg *cfg, char **argv, char *store,
                  size_t storecap)
{
	int n = 0;
	size_t used = 0;
	/* composed arguments live in store, one after the other */
#define COMPOSE(...)                                                         \
	do {                                                                     \
		int w_ = snprintf(store + used, storecap - used, __VA_ARGS__);       \
		argv[n++] = store + used;                                            \
		used += (w_ > 0 && (size_t)w_ < storecap - used) ? (size_t)w_ + 1    \
		                                                 : storecap - used;  \
	} while (0)
	argv[n++] = (char *)cfg->qemu;
	argv[n++] = "-accel";
	argv[n++] = "tcg";
	if (cfg->cpu) {
		argv[n++] = "-cpu";
		argv[n++] = (char *)cfg->cpu;
	}
	argv[n++] = "-kernel";
	argv[n++] = (char *)cfg->kernel;
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-nodefaults";
	argv[n++] = "-no-reboot";
	argv[n++] = "-device";
	argv[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	argv[n++] = "-serial";
	COMPOSE("file:%s", cfg->log);
	argv[n++] = "-netdev";
	COMPOSE("dgram,id=n0,local.type=fd,local.str=%d", cfg->fd);
	argv[n++] = "-device";
	const uint8_t *m = cfg->mac;
	COMPOSE("%s,netdev=n0,mac=%02x:%02x:%02x:%02x:%02x:%02x",
	        cli_nic_name(cfg->nic), m[0], m[1], m[2], m[3], m[4], m[5]);
	/* -append "seed=HEX admit=HEX ash_cpu=N", each word when it is not
	 * all zero */
	char words[128];
	size_t wl = 0;
	uint8_t any = 0, anya = 0;
	for (int i = 0; i < 16; i++)
		any |= cfg->seed[i];
	for (int i = 0; i < 8; i++)
		anya |= cfg->admit[i];
	words[0] = 0;
	if (any) {
		wl += (size_t)snprintf(words + wl, sizeof words - wl, "seed=");
		for (int i = 0; i < 16; i++)
			wl += (size_t)snprintf(words + wl, sizeof words - wl, "%02x",
			                       cfg->seed[i]);
	}
	if (anya) {
		wl += (size_t)snprintf(words + wl, sizeof words - wl, "%sadmit=",
		                       wl ? " " : "");
		for (int i = 0; i < 8; i++)
			wl += (size_t)snprintf(words + wl, sizeof words - wl, "%02x",
			                       cfg->admit[i]);
	}
	if (cfg->ash_cpu)
		wl += (size_t)snprintf(words + wl, sizeof words - wl,
		                       "%sash_cpu=%llu", wl ? " " : "",
		                       (unsigned long long)cfg->ash_cpu);
	if (wl) {
		argv[n++] = "-append";
		COMPOSE("%s", words);
	}
#undef COMPOSE
	argv[n] = NULL;
	return n;
}
