/*
 * main.c - ksh_main, the first C code: bring the machine up, then poll.
 *
 * Order: serial console; the multiboot info (memory size and command line
 * are copied out before anything can overwrite them); IDT (from here on a
 * CPU exception is reported); page tables and frames; TSC rate; the DPF
 * engine with the x86 back end attached; then, by command line:
 *   selftest   in-kernel checks, exit KSH_EXIT_SELFTEST_OK or _FAIL
 *   fault=K    a deliberate exception (selftest.c), exit KSH_EXIT_TRAP+vec
 *   (nothing)  the network path: find the NIC, then the main loop;
 *   seed=HEX   32 hex digits of host entropy for the owners' capability
 *              key (owner.c); `dpf boot` always passes one.
 *   admit=HEX  16 hex digits: the admission credential (ksh_proto.h), a
 *              fresh secret `dpf boot` draws for each boot.  Without it
 *              no owner can be created and EXIT and RESET are refused.
 *   ash_cpu=N  lowers the handlers' CPU budget to N cycles per ms (ash.c).
 *
 * Main loop, forever: take the completed RX descriptors in order, at most
 * KSH_RX_BATCH per round (so the applications run between batches even
 * while frames keep arriving: a request answered within a round can
 * bring the next one before the round ends), hand each frame to ksh_rx_frame (control or
 * data) and recycle its descriptor (descriptors go back to the NIC in
 * batches, and all of them before the applications run); then let every
 * owner's stand-in application drain its ring.  The only ways out are
 * KSH_OP_EXIT and a fault.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define MB_BOOT_MAGIC 0x2BADB002u

void ksh_main(uint32_t mbi, uint32_t magic);

static struct ksh kernel;
static char cmdline[KSH_CMDLINE_MAX];

/* 1 when the command line holds the word (or word=value: *val set). */
static int cmd_has(const char *word, const char **val)
{
	size_t wl = 0;
	while (word[wl])
		wl++;
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		const char *s = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - s) >= wl && memcmp(s, word, wl) == 0 &&
		    (s + wl == p || s[wl] == '=')) {
			if (val)
				*val = s + wl == p ? "" : s + wl + 1;
			return 1;
		}
	}
	return 0;
}

static void copy_cmdline(const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < sizeof cmdline; i++)
		cmdline[i] = src[i];
	cmdline[i] = 0;
	/* a value ends at the next space */
	for (i = 0; cmdline[i]; i++)
		if (cmdline[i] == '\t' || cmdline[i] == '\n')
			cmdline[i] = ' ';
}

/* word=<2 * n hex digits>: n bytes of the host's (seed=: entropy for
 * the capability key; admit=: the admission credential).  1 with out
 * filled, 0 when absent or malformed. */
static int cmd_hex(const char *word, uint8_t *out, int n)
{
	const char *v;
	if (!cmd_has(word, &v))
		return 0;
	for (int i = 0; i < 2 * n; i++) {
		char c = v[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return 0;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | d : d << 4);
	}
	return v[2 * n] == 0 || v[2 * n] == ' ';
}

/* The command line as the console shows it: the values of seed= and
 * admit= (secrets) replaced by '*'. */
static void redacted(char *out)
{
	size_t i = 0;
	int hide = 0;
	for (; cmdline[i]; i++) {
		char c = cmdline[i];
		if (c == ' ')
			hide = 0;
		out[i] = hide ? '*' : c;
		if (c == '=' && (i == 4 || (i > 4 && cmdline[i - 5] == ' ')) &&
		    memcmp(cmdline + i - 4, "seed", 4) == 0)
			hide = 1;
		if (c == '=' && (i == 5 || (i > 5 && cmdline[i - 6] == ' ')) &&
		    memcmp(cmdline + i - 5, "admit", 5) == 0)
			hide = 1;
	}
	out[i] = 0;
}

/* An RDT write since the last call (*w counts them): its cycles are a
 * KSH_LAT_RDT sample. */
static void rdt_sample(struct ksh *k, uint32_t *w)
{
	if (k->nic.rdt_writes != *w) {
		*w = k->nic.rdt_writes;
		ksh_lat_add(k, KSH_LAT_RDT, k->nic.rdt_cycles);
	}
}

static void net_loop(struct ksh *k)
{
	static const uint16_t nics[] = {0x100e, 0x10d3};
	struct ksh_pci_dev d;
	if (ksh_pci_find(0x8086, nics, 2, &d) != 0)
		ksh_panic("no e1000 (8086:100e) or e1000e (8086:10d3) NIC");
	if (ksh_nic_init(&k->nic, &d) != 0)
		ksh_panic("NIC %04x: BAR 0 at %lx unusable", d.device, d.bar0);
	const uint8_t *m = k->nic.mac;
	ksh_printf("ksh: nic %04x at %02x:%02x.%u bar0 %lx mac "
	           "%02x:%02x:%02x:%02x:%02x:%02x\n",
	           d.device, d.bus, d.dev, d.fn, d.bar0, m[0], m[1], m[2], m[3],
	           m[4], m[5]);
	uint8_t seed[16], admit[8];
	int seeded = cmd_hex("seed", seed, 16);
	int admitted = cmd_hex("admit", admit, 8);
	ksh_owners_init(k, seeded ? seed : NULL, admitted ? admit : NULL);
	const char *cpu;
	if (cmd_has("ash_cpu", &cpu))
		ksh_ash_cpu_arg(k, cpu);
	if (k->cap_weak)
		ksh_printf("ksh: warning: no RDRAND and no seed= on the command "
		           "line: capabilities can be guessed\n");
	if (!admitted)
		ksh_printf("ksh: warning: no admit= (16 hex digits) on the command "
		           "line: OWNER, RESET and EXIT will be refused\n");
	k->st.tsc_hz = k->tsc_hz;
	k->boot_cycles = rdtsc() - k->tsc_c_entry;
	ksh_printf("ksh: ready: boot %lu cycles (%lu us)\n", k->boot_cycles,
	           k->boot_cycles * 1000000 / k->tsc_hz);
	uint32_t rdt_writes = k->nic.rdt_writes;
	for (;;) {
		const uint8_t *f;
		uint32_t len;
		int bad;
		for (uint32_t i = 0; i < KSH_RX_BATCH &&
		                     ksh_nic_rx_peek(&k->nic, &f, &len, &bad);
		     i++) {
			uint64_t t = rdtsc();
			ksh_rx_frame(k, f, len, bad, t);
			ksh_nic_rx_done(&k->nic);
			rdt_sample(k, &rdt_writes);
		}
		ksh_nic_rx_return(&k->nic);
		rdt_sample(k, &rdt_writes);
		ksh_apps_run(k);
	}
}

void ksh_main(uint32_t mbi, uint32_t magic)
{
	struct ksh *k = &kernel;
	k->tsc_c_entry = rdtsc();
	ksh_serial_init();
	if (magic != MB_BOOT_MAGIC)
		ksh_panic("not booted by multiboot (magic %x)", magic);
	const uint32_t *info = (const uint32_t *)(uintptr_t)mbi;
	if (!(info[0] & 1))
		ksh_panic("multiboot info has no memory size");
	uint64_t mem_top = (1ull << 20) + (uint64_t)info[2] * 1024;
	copy_cmdline(info[0] & 4 ? (const char *)(uintptr_t)info[4] : "");
	ksh_idt_init();
	ksh_mm_init(mem_top);
	k->tsc_hz = ksh_tsc_calibrate();
	char shown[KSH_CMDLINE_MAX];
	redacted(shown);
	ksh_printf("ksh: kernel-shim: %lu MiB, tsc %lu kHz, cmdline '%s'\n",
	           mem_top >> 20, k->tsc_hz / 1000, shown);

	const char *val;
	if (cmd_has("fault", &val))
		ksh_fault(val);

	struct dpf_diag d;
	k->engine = dpf_engine_new(ksh_heap());
	if (!k->engine)
		ksh_panic("dpf_engine_new failed");
	if (jit_attach(k->engine, ksh_jit_mem(), 0, &d) != 0)
		ksh_printf("ksh: x86 back end not attached (%s): interpreter\n",
		           d.msg);

	if (cmd_has("selftest", NULL))
		ksh_selftest(k);
	net_loop(k);
}
