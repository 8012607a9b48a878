/*
 * test_cli.c - the `dpf` command, driven as a user drives it: each test
 * spawns the built binary in a scratch directory and checks its exit
 * status, stdout and stderr.
 *
 * Covered: usage and exit statuses of every command; check on good and bad
 * files (exact error text); compile --emit=ir/trie against golden dumps and
 * the binary IR round trip; the shape of compile --emit=asm listings
 * (every byte of every unit listed once, notes naming filters); gen +
 * replay against the generator's own ground truth over several seeds and
 * packet mixes; -w splitting; streaming from pipes, FIFOs and standard
 * input; progress on a terminal; every accepted link type against
 * libpcap, packet by packet, and the refused ones; damaged captures;
 * --version; the README's example run and its shown output checked; and
 * every capture of ../shared/corpus/pcap (skipped, by name, when that
 * corpus is absent).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define DPF_BIN DPF_BINARY_DIR "/cli/dpf"
#define GOLDEN DPF_SOURCE_DIR "/tests/golden/cli"
#define DEMO DPF_SOURCE_DIR "/examples/demo.dpf"
#define CORPUS DPF_SOURCE_DIR "/../shared/corpus/pcap"
#define TIMEOUT_S 60

/* ---- running the binary ---- */

struct run {
	int status; /* exit status; 128+N for signal N; -1 timed out */
	char *out, *err;
	size_t outlen;
};

static char scratch[256];

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void scratch_init(void)
{
	snprintf(scratch, sizeof scratch, "/tmp/dpf_cli_XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
}

static void scratch_fini(void)
{
	if (scratch[0])
		nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	scratch[0] = 0;
}

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "%s/%s", scratch, name);
	return b;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(path_in(name), "w");
	cr_assert_not_null(f, "cannot create %s", name);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
	size_t n = 0;
	char *s = tu_read_file(path, &n);
	if (!s) {
		s = calloc(1, 1);
		n = 0;
	}
	if (len)
		*len = n;
	return s;
}

/* Start argv in the scratch directory, stdout and stderr to files named
 * after tag (stdout to out_fd, stderr to err_fd instead when >= 0), stdin
 * from in_fd (/dev/null when < 0). */
static pid_t spawn_io(const char *const *argv, const char *tag, int out_fd,
                      int in_fd, int err_fd)
{
	char out[600], err[600];
	snprintf(out, sizeof out, "%s/.%s.out", scratch, tag);
	snprintf(err, sizeof err, "%s/.%s.err", scratch, tag);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int o = out_fd >= 0 ? out_fd
		                    : open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = err_fd >= 0 ? err_fd
		                    : open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
		if (o < 0 || e < 0 || in < 0 || chdir(scratch) != 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(DPF_BIN, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static pid_t spawn(const char *const *argv, const char *tag, int tty_fd)
{
	return spawn_io(argv, tag, tty_fd, -1, -1);
}

/* Wait for pid with a deadline; kill it when the deadline passes. */
static int reap(pid_t pid, int timeout_s)
{
	struct timespec nap = {0, 2000000};
	long waited_ms = 0;
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (waited_ms > (long)timeout_s * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		nanosleep(&nap, NULL);
		waited_ms += 2;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static struct run collect(const char *tag, int status)
{
	char out[600], err[600];
	struct run r;
	snprintf(out, sizeof out, "%s/.%s.out", scratch, tag);
	snprintf(err, sizeof err, "%s/.%s.err", scratch, tag);
	r.status = status;
	r.out = slurp(out, &r.outlen);
	r.err = slurp(err, NULL);
	return r;
}

/* dpf ARGS... (NULL-terminated). */
static struct run dpf(const char *arg, ...)
{
	const char *argv[64];
	int n = 0;
	va_list ap;
	argv[n++] = "dpf";
	va_start(ap, arg);
	for (const char *a = arg; a && n < 63; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	pid_t pid = spawn(argv, "run", -1);
	return collect("run", reap(pid, TIMEOUT_S));
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static char *golden(const char *name)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", GOLDEN, name);
	char *s = tu_read_file(p, NULL);
	cr_assert_not_null(s, "missing golden file %s", p);
	return s;
}

static void copy_golden(const char *name)
{
	char *s = golden(name);
	write_text(name, s);
	free(s);
}

/* ---- usage and exit statuses ---- */

TestSuite(cli_usage, .init = scratch_init, .fini = scratch_fini);

Test(cli_usage, global_help)
{
	struct run r = dpf("--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "usage: dpf COMMAND", 18) == 0, "%s", r.out);
	cr_assert_str_empty(r.err);
	for (const char *const *c = (const char *const[]){"check", "compile",
	                                                   "replay", "gen", NULL};
	     *c; c++)
		cr_assert_not_null(strstr(r.out, *c));
	run_free(&r);

	r = dpf("help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "usage: dpf COMMAND", 18) == 0);
	run_free(&r);
}

Test(cli_usage, version)
{
	struct run r = dpf("--version", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	unsigned a, b, c;
	cr_assert(sscanf(r.out, "dpf %u.%u.%u\n", &a, &b, &c) == 3, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\nclassifier engines: x86 (x86-64 code "
	                                 "generator), interp, naive\n"));
	cr_assert_not_null(strstr(r.out, "\nhandler engines: x86"));
	cr_assert_not_null(strstr(r.out, "\nLLVM 19."), "%s", r.out);
	char want[160];
	snprintf(want, sizeof want, "\n%s\n", pcap_lib_version());
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\nlibbpf v"), "%s", r.out);
	/* the build tree's kernel, as dpf boot would take it */
	cr_assert_not_null(strstr(r.out, "\nkernel image: "), "%s", r.out);
	run_free(&r);
	r = dpf("--version", "x", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strncmp(r.err, "dpf: --version takes no arguments\n", 34) == 0);
	run_free(&r);
}

Test(cli_usage, no_command)
{
	struct run r = dpf(NULL);
	cr_assert_eq(r.status, 2);
	cr_assert_str_empty(r.out);
	cr_assert(strncmp(r.err, "dpf: no command given\n", 22) == 0, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "usage: dpf"));
	run_free(&r);
}

Test(cli_usage, unknown_command_and_option)
{
	struct run r = dpf("frobnicate", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strncmp(r.err, "dpf: unknown command 'frobnicate'\n", 34) == 0,
	          "%s", r.err);
	cr_assert_not_null(strstr(r.err, "usage: dpf"));
	cr_assert_str_empty(r.out);
	run_free(&r);

	r = dpf("--frob", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strncmp(r.err, "dpf: unknown option '--frob'\n", 29) == 0);
	run_free(&r);

	r = dpf("help", "frobnicate", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strncmp(r.err, "dpf help: unknown command 'frobnicate'", 38) ==
	          0);
	run_free(&r);
}

Test(cli_usage, per_command_help_and_bad_option)
{
	static const char *const cmds[] = {"check", "compile", "replay", "gen"};
	for (size_t i = 0; i < 4; i++) {
		char want[64];
		snprintf(want, sizeof want, "usage: dpf %s ", cmds[i]);
		struct run h = dpf("help", cmds[i], NULL);
		cr_assert_eq(h.status, 0, "help %s", cmds[i]);
		cr_assert(strncmp(h.out, want, strlen(want)) == 0, "%s", h.out);
		cr_assert_not_null(strstr(h.out, "Exit status"));

		struct run d = dpf(cmds[i], "--help", NULL);
		cr_assert_eq(d.status, 0);
		cr_assert_str_eq(d.out, h.out);
		run_free(&d);
		d = dpf(cmds[i], "-h", NULL);
		cr_assert_eq(d.status, 0);
		cr_assert_str_eq(d.out, h.out);
		run_free(&d);

		struct run b = dpf(cmds[i], "--bogus", NULL);
		cr_assert_eq(b.status, 2, "%s --bogus", cmds[i]);
		char msg[80];
		snprintf(msg, sizeof msg, "dpf %s: unknown option '--bogus'\n\n",
		         cmds[i]);
		cr_assert(strncmp(b.err, msg, strlen(msg)) == 0, "%s", b.err);
		cr_assert_not_null(strstr(b.err, want));
		cr_assert_str_empty(b.out);
		run_free(&b);
		run_free(&h);
	}
}

Test(cli_usage, missing_and_bad_arguments)
{
	static const struct {
		const char *argv[8];
		const char *msg;
	} cases[] = {
		{{"check"}, "dpf check: no filter file given\n"},
		{{"compile"}, "dpf compile: no filter file given\n"},
		{{"compile", "a.dpf", "b.dpf"},
		 "dpf compile: give exactly one filter file\n"},
		{{"compile", "a.dpf", "--emit=wasm"},
		 "dpf compile: unknown --emit kind 'wasm'\n"},
		{{"compile", "a.dpf", "--emit"},
		 "dpf compile: option '--emit' needs a value\n"},
		{{"compile", "a.dpf", "--engine=jit"},
		 "dpf compile: unknown engine 'jit'\n"},
		{{"replay", "a.dpf"},
		 "dpf replay: no capture given (-r TRACE or -i IFACE)\n"},
		{{"replay", "-r", "t.pcap", "-i", "lo", "a.dpf"},
		 "dpf replay: give -r TRACE or -i IFACE, not both\n"},
		{{"replay", "-r", "t.pcap", "a.dpf", "--duration", "5"},
		 "dpf replay: --duration is for live captures (-i IFACE)\n"},
		{{"replay", "-i", "lo", "a.dpf", "-c", "0"},
		 "dpf replay: -c wants a whole number from 1 up, not '0'\n"},
		{{"replay", "-r", "t.pcap"}, "dpf replay: no filter file given\n"},
		{{"replay", "-r", "t.pcap", "a.dpf", "--repeat", "0"},
		 "dpf replay: --repeat wants a whole number from 1 to 1000000, not "
		 "'0'\n"},
		{{"replay", "-r", "t.pcap", "a.dpf", "--engine=jit"},
		 "dpf replay: unknown engine 'jit'\n"},
		{{"replay", "-r", "t.pcap", "a.dpf", "--json=1"},
		 "dpf replay: option '--json' takes no value\n"},
		{{"gen"}, "dpf gen: no output given (-o TRACE.pcap)\n"},
		{{"gen", "-o", "t.pcap", "--flows", "0"},
		 "dpf gen: --flows wants a whole number from 1 to 100000, not '0'\n"},
		{{"gen", "-o", "t.pcap", "--flows", "100001"},
		 "dpf gen: --flows wants a whole number from 1 to 100000, not "
		 "'100001'\n"},
		{{"gen", "-o", "t.pcap", "--ipv6", "101"},
		 "dpf gen: --ipv6 wants a percentage from 0 to 100, not '101'\n"},
		{{"gen", "-o", "t.pcap", "--noise", "60", "--near-miss", "50"},
		 "dpf gen: --noise, --near-miss, --truncate, --fragments and "
		 "--options add up to more than 100\n"},
		{{"gen", "-o", "t.pcap", "extra"},
		 "dpf gen: unexpected argument 'extra'\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *const *a = cases[i].argv;
		struct run r = dpf(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
		cr_assert_eq(r.status, 2, "case %zu", i);
		cr_assert(strncmp(r.err, cases[i].msg, strlen(cases[i].msg)) == 0,
		          "case %zu: got\n%s\nwant\n%s", i, r.err, cases[i].msg);
		cr_assert_not_null(strstr(r.err, "usage: dpf"), "case %zu", i);
		cr_assert_str_empty(r.out, "case %zu", i);
		run_free(&r);
	}
}

Test(cli_usage, no_llvm_back_end)
{
	static const char *const opts[] = {"--emit=llvm", "--emit=obj",
	                                   "--engine=llvm"};
	copy_golden("small.dpf");
	for (size_t i = 0; i < 3; i++) {
		char msg[128];
		snprintf(msg, sizeof msg,
		         "dpf compile: %s is not available: this build has no LLVM "
		         "back end\n",
		         opts[i]);
		struct run r = dpf("compile", "small.dpf", opts[i], NULL);
		cr_assert_eq(r.status, 2, "%s", opts[i]);
		cr_assert_str_eq(r.err, msg);
		cr_assert_str_empty(r.out);
		run_free(&r);
	}
	struct run r = dpf("replay", "-r", "t.pcap", "small.dpf", "--engine=llvm",
	                   NULL);
	cr_assert_eq(r.status, 2);
	cr_assert_str_eq(r.err, "dpf replay: --engine=llvm is not available: "
	                        "this build has no LLVM back end\n");
	run_free(&r);
}

/* ---- check ---- */

TestSuite(cli_check, .init = scratch_init, .fini = scratch_fini);

Test(cli_check, good_files)
{
	copy_golden("small.dpf");
	write_text("one.dpf", "filter web { tcp.dport == 80 }\n");
	struct run r = dpf("check", "small.dpf", "one.dpf", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "small.dpf: 4 filters, 7 paths\n"
	                        "one.dpf: 1 filter, 2 paths\n");
	cr_assert_str_empty(r.err);
	run_free(&r);
}

Test(cli_check, demo_file_is_good)
{
	struct run r = dpf("check", DEMO, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	run_free(&r);
}

Test(cli_check, errors_with_positions)
{
	static const struct {
		const char *src, *err;
	} cases[] = {
		{"filter a {\n  ip.dst == 10.0.0.1 and\n}\n",
		 "bad.dpf:3:1: error: expected a protocol word, a field or '(', found "
		 "'}'\n"},
		{"filter a { tcp.dport != 80 }\n",
		 "bad.dpf:1:22: error: unsupported operator '!=': only '==' and "
		 "'in' are supported in v1\n"},
		{"filter a { udp.dport == 70000 }\n",
		 "bad.dpf:1:25: error: value 70000 too large for 16-bit field "
		 "'udp.dport'\n"},
		{"filter web { tcp.dport == 80 }\n"
		 "filter www { tcp.dport == 80 }\n",
		 "bad.dpf:2:8: error: filter 'www' duplicates filter 'web' (a path "
		 "of both is the same, at priority 0)\n"},
		{"filter a { arp }\n"
		 "filter src { ip.src == 10.0.0.1 }\n"
		 "filter dst { ip.dst == 10.0.0.2 }\n"
		 "filter b { ip.src == 10.0.0.3 }\n"
		 "filter c priority 1 { ip.dst == 10.0.0.4 }\n"
		 "filter d { ip.dst == 10.0.0.5 }\n",
		 "bad.dpf:3:8: error: filter 'dst' is ambiguous with filter 'src': a "
		 "packet can match both at priority 0 with 48 bits compared\n"
		 "bad.dpf:6:8: error: filter 'd' is ambiguous with filter 'src': a "
		 "packet can match both at priority 0 with 48 bits compared\n"},
		{"filter a { tcp.dport == 80 }\n"
		 "filter a { tcp.dport == 81 }\n",
		 "bad.dpf:2:8: error: duplicate filter name 'a' (first defined at "
		 "1:8)\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_text("bad.dpf", cases[i].src);
		struct run r = dpf("check", "bad.dpf", NULL);
		cr_assert_eq(r.status, 1, "case %zu", i);
		cr_assert_str_eq(r.err, cases[i].err, "case %zu", i);
		cr_assert_str_empty(r.out);
		run_free(&r);
	}
}

Test(cli_check, missing_file_and_mixed)
{
	write_text("one.dpf", "filter web { tcp.dport == 80 }\n");
	struct run r = dpf("check", "nope.dpf", "one.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nope.dpf: error: No such file or directory\n");
	cr_assert_str_eq(r.out, "one.dpf: 1 filter, 2 paths\n");
	run_free(&r);
}

/* ---- compile ---- */

TestSuite(cli_compile, .init = scratch_init, .fini = scratch_fini);

Test(cli_compile, golden_ir_and_trie)
{
	copy_golden("small.dpf");
	char *ir = golden("small.ir.txt"), *trie = golden("small.trie.txt");
	struct run r = dpf("compile", "small.dpf", "--emit=ir", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, ir);
	run_free(&r);

	r = dpf("compile", "small.dpf", NULL); /* ir is the default */
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, ir);
	run_free(&r);

	r = dpf("compile", "small.dpf", "--emit", "trie", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, trie);
	run_free(&r);

	r = dpf("compile", "small.dpf", "--emit=trie", "-o", "out.txt", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_str_empty(r.out);
	char *got = slurp(path_in("out.txt"), NULL);
	cr_assert_str_eq(got, trie);
	free(got);
	run_free(&r);
	free(ir);
	free(trie);
}

Test(cli_compile, irbin_round_trip)
{
	copy_golden("small.dpf");
	char *ir = golden("small.ir.txt"), *trie = golden("small.trie.txt");
	struct run r = dpf("compile", "small.dpf", "--emit=irbin", "-o",
	                   "small.irbin", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	size_t n;
	char *bin = slurp(path_in("small.irbin"), &n);
	cr_assert_gt(n, 16);
	cr_assert(memcmp(bin, "DPFI", 4) == 0);

	/* A redirect is fine too, and gives the same bytes. */
	r = dpf("compile", "small.dpf", "--emit=irbin", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(r.outlen, n);
	cr_assert(memcmp(r.out, bin, n) == 0);
	run_free(&r);

	r = dpf("compile", "small.irbin", "--emit=ir", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, ir);
	run_free(&r);
	r = dpf("compile", "small.irbin", "--emit=trie", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, trie);
	run_free(&r);
	r = dpf("check", "small.irbin", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "small.irbin: 4 filters, 7 paths\n");
	run_free(&r);

	/* Cut short: refused with the byte offset, exit 1. */
	FILE *f = fopen(path_in("cut.irbin"), "wb");
	fwrite(bin, 1, n - 3, f);
	fclose(f);
	r = dpf("compile", "cut.irbin", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "cut.irbin: error: at byte ", 26) == 0, "%s",
	          r.err);
	cr_assert_str_empty(r.out);
	run_free(&r);
	free(bin);
	free(ir);
	free(trie);
}

Test(cli_compile, irbin_never_to_a_terminal)
{
	copy_golden("small.dpf");
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
		cr_skip_test("no pseudo-terminal available");
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	cr_assert_geq(s, 0);
	const char *argv[] = {"dpf", "compile", "small.dpf", "--emit=irbin", NULL};
	pid_t pid = spawn(argv, "tty", s);
	close(s);
	struct run r = collect("tty", reap(pid, TIMEOUT_S));
	close(m);
	cr_assert_eq(r.status, 2);
	cr_assert_str_eq(r.err, "dpf compile: refusing to write binary IR to a "
	                        "terminal; use -o OUT or redirect standard "
	                        "output\n");
	run_free(&r);
}

Test(cli_compile, bad_input)
{
	write_text("bad.dpf", "filter a { tcp.dport == }\n");
	struct run r = dpf("compile", "bad.dpf", "--emit=trie", "-o", "o.txt",
	                   NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "bad.dpf:1:25: error: ", 21) == 0, "%s", r.err);
	cr_assert_neq(access(path_in("o.txt"), F_OK), 0);
	run_free(&r);

	write_text("amb.dpf", "filter a { tcp.dport == 80 }\n"
	                      "filter b { tcp.dport == 80 }\n");
	r = dpf("compile", "amb.dpf", "--emit=ir", NULL);
	cr_assert_eq(r.status, 0); /* IR needs no engine */
	run_free(&r);
	r = dpf("compile", "amb.dpf", "--emit=trie", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "amb.dpf:2:8: error: filter 'b' duplicates filter "
	                        "'a' (a path of both is the same, at priority "
	                        "0)\n");
	run_free(&r);

	r = dpf("compile", "nope.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nope.dpf: error: No such file or directory\n");
	run_free(&r);
}

/* ---- compile --emit=asm ---- */

/* What an --emit=asm listing holds, found while checking its shape. */
struct asm_info {
	unsigned units, insns, notes;
	unsigned push, ret, call; /* instructions with these mnemonics */
};

/* The next line of *p as a NUL-terminated copy in buf; 0 at the end. */
static int next_line(const char **p, char *buf, size_t size)
{
	if (!**p)
		return 0;
	size_t n = strcspn(*p, "\n");
	cr_assert_lt(n, size, "line too long: %.60s", *p);
	memcpy(buf, *p, n);
	buf[n] = 0;
	*p += n + ((*p)[n] == '\n');
	return 1;
}

/* Check the shape of a listing: unit headers numbered from 0; each unit's
 * instruction lines cover its bytes once, in order, every one decoded;
 * the summary agrees with them and says `filters`. */
static struct asm_info check_asm(const char *out, unsigned filters)
{
	struct asm_info a = {0};
	unsigned long long size = 0, at = 0, total = 0, bytes = 0;
	int summary = 0;
	char line[512];
	for (const char *p = out; next_line(&p, line, sizeof line);) {
		unsigned n, sf;
		unsigned long long addr, sb;
		cr_assert(!summary, "text after the summary: %s", line);
		if (line[0] == 0)
			continue;
		if (strncmp(line, "; ", 2) == 0) {
			cr_assert_gt(a.units, 0, "note before any unit: %s", line);
			a.notes++;
			continue;
		}
		if (sscanf(line, "unit %u at 0x%llx (%llu bytes)", &n, &addr,
		           &size) == 3) {
			cr_assert_eq(at, total, "unit %u listed %llu bytes", a.units,
			             at);
			cr_assert_eq(n, a.units, "%s", line);
			cr_assert_gt(size, 0, "%s", line);
			a.units++;
			at = 0;
			total = size;
			bytes += size;
			continue;
		}
		if (strncmp(line, "  +", 3) == 0) {
			char *q;
			unsigned long long off = strtoull(line + 3, &q, 16);
			cr_assert_gt(a.units, 0, "%s", line);
			cr_assert_eq(off, at, "%s", line);
			cr_assert(q[0] == ' ' && q[1] == ' ', "%s", line);
			q += 2;
			unsigned nb = 0;
			/* "xx " per byte; padding (a space at least) follows. */
			while (isxdigit((unsigned char)q[0]) &&
			       isxdigit((unsigned char)q[1]) && q[2] == ' ') {
				nb++;
				q += 3;
			}
			cr_assert(nb >= 1 && nb <= 15, "%s", line);
			while (*q == ' ')
				q++;
			size_t m = strcspn(q, " ");
			cr_assert_gt(m, 0, "no instruction: %s", line);
			cr_assert(strncmp(q, ".byte", m) != 0, "not decoded: %s", line);
			a.push += m == 4 && strncmp(q, "push", 4) == 0;
			a.ret += m == 3 && strncmp(q, "ret", 3) == 0;
			a.call += m == 4 && strncmp(q, "call", 4) == 0;
			a.insns++;
			at += nb;
			cr_assert_leq(at, total, "past the unit's end: %s", line);
			continue;
		}
		int k = 0;
		cr_assert(sscanf(line, "%u unit%n", &n, &k) == 1 && k > 0,
		          "unexpected line: %s", line);
		const char *rest = line + k + (line[k] == 's');
		cr_assert(sscanf(rest, ", %llu code bytes, %u filter", &sb, &sf) == 2,
		          "unexpected line: %s", line);
		cr_assert_eq(sb, bytes, "%s", line);
		cr_assert_eq(at, total, "last unit listed %llu bytes", at);
		cr_assert_eq(n, a.units, "%s", line);
		cr_assert_eq(sf, filters, "%s", line);
		cr_assert(strstr(line, "not decoded") == NULL, "%s", line);
		summary = 1;
	}
	cr_assert(summary, "no summary line");
	cr_assert_gt(a.units, 0);
	return a;
}

/* 1 when some note line of out contains text. */
static int has_note(const char *out, const char *text)
{
	char line[512];
	for (const char *p = out; next_line(&p, line, sizeof line);)
		if (strncmp(line, "; ", 2) == 0 && strstr(line, text))
			return 1;
	return 0;
}

Test(cli_compile, asm_demo)
{
	struct run r = dpf("compile", DEMO, "--emit=asm", NULL);
	cr_assert_eq(r.status, 0, "exit status %d: %s", r.status, r.err);
	cr_assert_str_empty(r.err);
	cr_assert(strncmp(r.out, "unit 0 at 0x", 12) == 0, "%s", r.out);
	struct asm_info a = check_asm(r.out, 12);
	cr_assert_gt(a.push, 0);
	cr_assert_gt(a.ret, 0);
	cr_assert(has_note(r.out, "entry: classify("));
	cr_assert(has_note(r.out, "hash dispatch") || has_note(r.out, "chain"));
	/* Filters by name, after their engine id. */
	cr_assert(has_note(r.out, "filter #0 (http)"), "%s", r.out);
	cr_assert(has_note(r.out, "(vlan117_web)"));
	run_free(&r);

	/* --engine=x86 is the only native engine: accepted, same listing
	 * (but for the addresses) and -o works as for the other kinds. */
	r = dpf("compile", DEMO, "--engine=x86", "--emit=asm", "-o", "demo.s",
	        NULL);
	cr_assert_eq(r.status, 0, "exit status %d: %s", r.status, r.err);
	cr_assert_str_empty(r.out);
	char *got = slurp(path_in("demo.s"), NULL);
	struct asm_info b = check_asm(got, 12);
	cr_assert_eq(b.insns, a.insns);
	cr_assert_eq(b.notes, a.notes);
	free(got);
	run_free(&r);
}

/* filter fI { ip.dst == 10.0.0.I and tcp.dport PORTS } for I = 1..20 */
static void write_flows(const char *file, const char *ports)
{
	char text[4096];
	size_t n = 0;
	for (int i = 1; i <= 20; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
		                      "filter f%d { ip.dst == 10.0.0.%d and "
		                      "tcp.dport %s }\n",
		                      i, i, ports);
	write_text(file, text);
}

Test(cli_compile, asm_hash_dispatch_and_units)
{
	/* 20 flows: one hash dispatch on ip.dst. */
	write_flows("flows.dpf", "== 80");
	struct run r = dpf("compile", "flows.dpf", "--emit=asm", NULL);
	cr_assert_eq(r.status, 0, "exit status %d: %s", r.status, r.err);
	check_asm(r.out, 20);
	cr_assert(has_note(r.out, "fused dispatch, 20 entries"), "%s", r.out);
	cr_assert(has_note(r.out, "shape 0: 2 steps, 20 records"), "%s", r.out);
	run_free(&r);

	/* With two ports each, the flows are still one shape: (dst, port) is
	 * one fused key, 40 records, one unit and no calls. */
	write_flows("flows2.dpf", "in {80, 8080}");
	r = dpf("compile", "flows2.dpf", "--emit=asm", NULL);
	cr_assert_eq(r.status, 0, "exit status %d: %s", r.status, r.err);
	struct asm_info a = check_asm(r.out, 20);
	cr_assert(has_note(r.out, "fused dispatch, 20 entries"), "%s", r.out);
	cr_assert(has_note(r.out, "shape 0: 2 steps, 40 records"), "%s", r.out);
	cr_assert_eq(a.units, 1, "%s", r.out);
	cr_assert_eq(a.call, 0, "%s", r.out);
	run_free(&r);
}

Test(cli_compile, asm_bad_input)
{
	write_text("amb.dpf", "filter a { tcp.dport == 80 }\n"
	                      "filter b { tcp.dport == 80 }\n");
	struct run r = dpf("compile", "amb.dpf", "--emit=asm", "-o", "o.s", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "amb.dpf:2:8: error: filter 'b' duplicates filter "
	                        "'a' (a path of both is the same, at priority "
	                        "0)\n");
	cr_assert_neq(access(path_in("o.s"), F_OK), 0);
	run_free(&r);
}

/* ---- gen and replay ---- */

TestSuite(cli_replay, .init = scratch_init, .fini = scratch_fini);

/* Pull "key":NUMBER out of a JSON line. */
static unsigned long long json_num(const char *s, const char *key)
{
	char k[64];
	snprintf(k, sizeof k, "\"%s\":", key);
	const char *p = strstr(s, k);
	cr_assert_not_null(p, "no %s in %s", key, s);
	return strtoull(p + strlen(k), NULL, 10);
}

/* The "filters":[...] part of a JSON line, as a new string. */
static char *json_filters(const char *s)
{
	const char *p = strstr(s, "\"filters\":[");
	cr_assert_not_null(p);
	const char *e = strchr(p, ']');
	cr_assert_not_null(e);
	return strndup(p, (size_t)(e - p + 1));
}

/* Check the exact shape of replay --json output. */
static void check_json_shape(const char *s, const char *engine)
{
	const char *p = s;
	unsigned long long a, b, c;
	int n = 0;
	cr_assert(sscanf(p,
	                 "{\"packets\":%llu,\"bytes\":%llu,\"unmatched\":%llu,%n",
	                 &a, &b, &c, &n) == 3 &&
	              n > 0,
	          "bad start: %s", s);
	p += n;
	char want[64];
	snprintf(want, sizeof want, "\"engine\":\"%s\",\"filters\":[", engine);
	cr_assert(strncmp(p, want, strlen(want)) == 0, "%s", s);
	p += strlen(want);
	while (*p == '{') {
		n = 0;
		char name[80];
		cr_assert(sscanf(p,
		                 "{\"name\":\"%79[A-Za-z0-9_.-]\",\"matches\":%llu}%n",
		                 name, &a, &n) == 2 &&
		              n > 0,
		          "bad filter entry at %s", p);
		p += n;
		if (*p == ',')
			p++;
	}
	cr_assert(strncmp(p, "],\"ns_per_packet\":", 18) == 0, "%s", s);
	p += 18;
	double x;
	n = 0;
	cr_assert(sscanf(p, "%lf}\n%n", &x, &n) == 1 && n > 0, "%s", s);
	cr_assert_eq(p[n], 0, "trailing text: %s", p + n);
	const char *dot = strchr(p, '.');
	cr_assert(dot && dot[1] >= '0' && dot[1] <= '9' && dot[2] == '}',
	          "ns_per_packet wants one decimal: %s", s);
}

/* gen with extra options, then replay --json; compare to --expect. */
static void gen_and_compare(const char *seed, const char *const *extra,
                            const char *engine)
{
	const char *argv[40] = {"dpf", "gen", "-o", "t.pcap", "-f", "t.dpf",
	                        "--expect", "t.json", "--seed", seed};
	int n = 10;
	for (; extra && *extra; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	struct run g = collect("gen", reap(spawn(argv, "gen", -1), TIMEOUT_S));
	cr_assert_eq(g.status, 0, "gen seed %s: %s", seed, g.err);
	run_free(&g);

	char eng[32];
	snprintf(eng, sizeof eng, "--engine=%s", engine);
	struct run r = dpf("replay", "-r", "t.pcap", "t.dpf", "--json",
	                   "--repeat", "1", eng, NULL);
	cr_assert_eq(r.status, 0, "seed %s: %s", seed, r.err);
	check_json_shape(r.out, engine);
	char *want = slurp(path_in("t.json"), NULL);
	cr_assert_eq(json_num(r.out, "packets"), json_num(want, "packets"));
	cr_assert_eq(json_num(r.out, "unmatched"), json_num(want, "unmatched"),
	             "seed %s: unmatched %llu, ground truth %llu", seed,
	             json_num(r.out, "unmatched"), json_num(want, "unmatched"));
	char *gf = json_filters(r.out), *wf = json_filters(want);
	cr_assert_str_eq(gf, wf, "seed %s", seed);
	free(gf);
	free(wf);
	free(want);
	run_free(&r);
}

Test(cli_replay, matches_ground_truth_defaults)
{
	gen_and_compare("1", (const char *const[]){"--packets", "4000", NULL},
	                "interp");
	gen_and_compare("2", (const char *const[]){"--packets", "2000", NULL},
	                "naive");
}

Test(cli_replay, matches_ground_truth_hard_mixes)
{
	static const char *const mixes[][24] = {
		{"--packets", "3000", "--flows", "40", "--ipv6", "50", "--vlan", "30",
		 "--options", "20", "--fragments", "20", "--near-miss", "20",
		 "--truncate", "10", "--noise", "20", NULL},
		{"--packets", "2000", "--flows", "1", NULL},
		{"--packets", "2000", "--flows", "9", "--ipv6", "100", "--udp", "50",
		 "--near-miss", "30", "--truncate", "30", NULL},
		{"--packets", "2000", "--flows", "300", "--udp", "100", "--vlan",
		 "100", "--fragments", "40", "--options", "40", NULL},
		{"--packets", "1500", "--flows", "5", "--ipv6", "0", "--vlan", "0",
		 "--noise", "0", "--near-miss", "50", "--truncate", "50",
		 "--fragments", "0", "--options", "0", NULL},
	};
	static const char *const seeds[] = {"7", "11", "12345", "99", "3"};
	for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
		gen_and_compare(seeds[i], mixes[i], "interp");
		gen_and_compare(seeds[i], mixes[i], "x86");
	}
}

Test(cli_replay, gen_is_deterministic)
{
	struct run r = dpf("gen", "-o", "a.pcap", "-f", "a.dpf", "--packets",
	                   "500", "--seed", "42", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "a.pcap: 500 packets over 16 flows, ", 35) == 0,
	          "%s", r.out);
	run_free(&r);
	r = dpf("gen", "-o", "b.pcap", "-f", "b.dpf", "--packets", "500",
	        "--seed", "42", NULL);
	run_free(&r);
	r = dpf("gen", "-o", "c.pcap", "--packets", "500", "--seed", "43", NULL);
	run_free(&r);
	size_t na, nb, nc;
	char *a = slurp(path_in("a.pcap"), &na), *b = slurp(path_in("b.pcap"), &nb),
	     *c = slurp(path_in("c.pcap"), &nc);
	cr_assert_eq(na, nb);
	cr_assert(memcmp(a, b, na) == 0);
	cr_assert(na != nc || memcmp(a, c, na) != 0);
	free(a);
	free(b);
	free(c);
	char *fa = slurp(path_in("a.dpf"), NULL);
	char *fb = slurp(path_in("b.dpf"), NULL);
	cr_assert_str_eq(fa, fb);
	cr_assert_not_null(strstr(fa, "filter flow0 { ip.dst == 10.0.0.1 and "
	                              "tcp.dport == 80 }\n"));
	cr_assert_not_null(strstr(fa, "filter flow2 { ip.dst == 10.0.0.3 and "
	                              "udp.dport == 1026 }\n"));
	cr_assert_not_null(strstr(fa, "filter flow3 { ip6.dst == 2001:db8::4 and "
	                              "tcp.dport == 1027 }\n"));
	cr_assert_not_null(strstr(fa, "filter flow7 { vlan.id == 107 and ip6.dst "
	                              "== 2001:db8::8 and tcp.dport == 1031 }\n"));
	free(fa);
	free(fb);
}

Test(cli_replay, gen_output_errors)
{
	struct run r = dpf("gen", "-o", "nodir/t.pcap", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nodir/t.pcap: error: No such file or directory\n");
	cr_assert_str_empty(r.out);
	run_free(&r);
	r = dpf("gen", "-o", "t.pcap", "-f", "nodir/t.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nodir/t.dpf: error: No such file or directory\n");
	run_free(&r);
	r = dpf("gen", "-o", "t.pcap", "--expect", "nodir/t.json", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err,
	                 "nodir/t.json: error: No such file or directory\n");
	run_free(&r);
}

Test(cli_replay, table_output)
{
	struct run r = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "1000", "--flows", "3", NULL);
	cr_assert_eq(r.status, 0);
	run_free(&r);
	write_text("p.dpf", "filter web priority 7 { ip.dst == 10.0.0.1 }\n"
	                    "filter arp { arp }\n");
	r = dpf("replay", "-r", "t.pcap", "p.dpf", "--repeat", "2", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	cr_assert(strncmp(r.out, "filter       priority       matches  % packets\n"
	                         "web                 7  ",
	                  70) == 0,
	          "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\narp                 0  "));
	cr_assert_not_null(strstr(r.out, "\n(unmatched)            "));
	cr_assert_not_null(strstr(r.out, "\n\n1000 packets, "));
	cr_assert_not_null(strstr(r.out, " bytes captured, 2 filters\n"
	                                 "engine x86: "));
	cr_assert_not_null(strstr(r.out, " ns/packet (median of 2 passes over "
	                                 "1000 packets held in memory)\n"),
	                   "%s", r.out);
	run_free(&r);
	/* Timing passes are asked for: by default the one pass is timed. */
	r = dpf("replay", "-r", "t.pcap", "p.dpf", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, " ns/packet (one pass, as read)\n"),
	                   "%s", r.out);
	run_free(&r);
	write_text("one.dpf", "filter web { ip.dst == 10.0.0.1 }\n");
	r = dpf("replay", "-r", "t.pcap", "one.dpf", "--repeat", "1", NULL);
	cr_assert_not_null(strstr(r.out, " bytes captured, 1 filter\nengine x86: "),
	                   "%s", r.out);
	cr_assert_not_null(strstr(r.out, "(median of 1 pass over 1000 packets "),
	                   "%s", r.out);
	run_free(&r);
}

Test(cli_replay, empty_capture)
{
	struct run r = dpf("gen", "-o", "e.pcap", "-f", "e.dpf", "--packets", "0",
	                   NULL);
	cr_assert_eq(r.status, 0);
	run_free(&r);
	r = dpf("replay", "-r", "e.pcap", "e.dpf", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json_shape(r.out, "x86");
	cr_assert(strncmp(r.out, "{\"packets\":0,\"bytes\":0,\"unmatched\":0,",
	                  37) == 0);
	cr_assert_not_null(strstr(r.out, "],\"ns_per_packet\":0.0}\n"));
	run_free(&r);
}

/* Count the packets of a pcap file; checks the link type. */
static long count_pcap(const char *path, int *linktype)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, eb);
	cr_assert_not_null(p, "%s: %s", path, eb);
	*linktype = pcap_datalink(p);
	struct pcap_pkthdr *h;
	const u_char *d;
	long n = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &d)) == 1)
		n++;
	cr_assert_eq(rc, PCAP_ERROR_BREAK, "%s: %s", path, pcap_geterr(p));
	pcap_close(p);
	return n;
}

Test(cli_replay, write_split_files)
{
	struct run r = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "1500", "--flows", "6", "--seed", "5", NULL);
	cr_assert_eq(r.status, 0);
	run_free(&r);
	r = dpf("replay", "-r", "t.pcap", "t.dpf", "--json", "--repeat", "1",
	        "-w", "split/out", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	long total = 0;
	int lt;
	for (int k = 0; k < 6; k++) {
		char name[64], file[64];
		snprintf(name, sizeof name, "\"name\":\"flow%d\",\"matches\":", k);
		const char *p = strstr(r.out, name);
		cr_assert_not_null(p);
		long want = strtol(p + strlen(name), NULL, 10);
		snprintf(file, sizeof file, "split/out/flow%d.pcap", k);
		long got = count_pcap(path_in(file), &lt);
		cr_assert_eq(got, want, "flow%d: %ld in file, %ld counted", k, got,
		             want);
		cr_assert_eq(lt, DLT_EN10MB);
		total += got;
	}
	long un = count_pcap(path_in("split/out/unmatched.pcap"), &lt);
	cr_assert_eq(un, (long)json_num(r.out, "unmatched"));
	cr_assert_eq(total + un, 1500);
	run_free(&r);

	/* Splitting the unmatched file again keeps every byte of it. */
	write_text("none.dpf", "filter never { u8[0] == 0xab and u8[1] == 0xcd "
	                       "and u8[2] == 0xef and u8[3] == 0x01 }\n");
	r = dpf("replay", "-r", "split/out/unmatched.pcap", "none.dpf", "-w",
	        "again", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	size_t n1, n2;
	char *a = slurp(path_in("split/out/unmatched.pcap"), &n1);
	char *b = slurp(path_in("again/unmatched.pcap"), &n2);
	cr_assert_eq(n1, n2);
	cr_assert(memcmp(a, b, n1) == 0);
	free(a);
	free(b);
}

Test(cli_replay, unsupported_link_type)
{
	pcap_t *dead = pcap_open_dead(DLT_IEEE802_11, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path_in("wlan.pcap"));
	cr_assert_not_null(d);
	static const u_char pkt[24] = {0x08};
	struct pcap_pkthdr h = {{1, 0}, sizeof pkt, sizeof pkt};
	pcap_dump((u_char *)d, &h, pkt);
	pcap_dump_close(d);
	pcap_close(dead);
	write_text("a.dpf", "filter a { tcp }\n");
	struct run r = dpf("replay", "-r", "wlan.pcap", "a.dpf", NULL);
	cr_assert_eq(r.status, 1);
	char want[300];
	snprintf(want, sizeof want,
	         "wlan.pcap: link type %s (%d) is not supported: dpf replays "
	         "EN10MB, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6 "
	         "captures\n",
	         pcap_datalink_val_to_name(DLT_IEEE802_11), DLT_IEEE802_11);
	cr_assert_str_eq(r.err, want);
	cr_assert_str_empty(r.out);
	run_free(&r);
}

Test(cli_replay, damaged_captures)
{
	struct run r = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "100", "--seed", "8", NULL);
	cr_assert_eq(r.status, 0);
	run_free(&r);
	size_t n;
	char *whole = slurp(path_in("t.pcap"), &n);
	/* Cut inside the last record's data. */
	FILE *f = fopen(path_in("cut.pcap"), "wb");
	fwrite(whole, 1, n - 10, f);
	fclose(f);
	r = dpf("replay", "-r", "cut.pcap", "t.dpf", "--json", "--repeat", "1",
	        "-w", "w", NULL);
	cr_assert_eq(r.status, 1);
	check_json_shape(r.out, "x86");
	cr_assert_eq(json_num(r.out, "packets"), 99);
	cr_assert(strncmp(r.err, "cut.pcap: capture damaged after 99 packets: ",
	                  44) == 0,
	          "%s", r.err);
	/* What was read is still split, all 99 packets of it. */
	int lt;
	long split = count_pcap(path_in("w/unmatched.pcap"), &lt);
	for (int k = 0; k < 16; k++) {
		char name[32];
		snprintf(name, sizeof name, "w/flow%d.pcap", k);
		split += count_pcap(path_in(name), &lt);
	}
	cr_assert_eq(split, 99);
	run_free(&r);

	/* Cut inside the file header. */
	f = fopen(path_in("hdr.pcap"), "wb");
	fwrite(whole, 1, 10, f);
	fclose(f);
	r = dpf("replay", "-r", "hdr.pcap", "t.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "hdr.pcap: error: ", 17) == 0, "%s", r.err);
	cr_assert_str_empty(r.out);
	run_free(&r);

	/* A record claiming a huge length. */
	memcpy(whole + 24 + 8, "\xff\xff\xff\x7f", 4);
	f = fopen(path_in("huge.pcap"), "wb");
	fwrite(whole, 1, n, f);
	fclose(f);
	r = dpf("replay", "-r", "huge.pcap", "t.dpf", "--json", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "huge.pcap: capture damaged after 0 packets: ",
	                  44) == 0,
	          "%s", r.err);
	run_free(&r);

	/* Not a capture at all, and no file. */
	r = dpf("replay", "-r", "t.dpf", "t.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "t.dpf: error: ", 14) == 0, "%s", r.err);
	run_free(&r);
	r = dpf("replay", "-r", "nope.pcap", "t.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nope.pcap: error: No such file or directory\n");
	run_free(&r);
	free(whole);
}

Test(cli_replay, filter_errors)
{
	struct run r = dpf("gen", "-o", "t.pcap", "--packets", "10", NULL);
	run_free(&r);
	write_text("amb.dpf", "filter a { tcp.dport == 80 }\n"
	                      "filter b { tcp.dport == 80 }\n");
	r = dpf("replay", "-r", "t.pcap", "amb.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "amb.dpf:2:8: error: filter 'b' duplicates filter "
	                        "'a' (a path of both is the same, at priority "
	                        "0)\n");
	cr_assert_str_empty(r.out);
	run_free(&r);
	write_text("u.dpf", "filter arp { arp }\nfilter unmatched { ip }\n");
	r = dpf("replay", "-r", "t.pcap", "u.dpf", "-w", "d", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "u.dpf:2:8: error: filter name 'unmatched' "
	                        "clashes with the unmatched packets' file in -w "
	                        "d\n");
	run_free(&r);
}

Test(cli_replay, demo_exercises_every_filter)
{
	struct run r = dpf("gen", "--flows", "64", "--packets", "20000", "-o",
	                   "d.pcap", "-f", "d.dpf", NULL);
	cr_assert_eq(r.status, 0);
	run_free(&r);
	r = dpf("replay", "-r", "d.pcap", DEMO, "--json", "--repeat", "1", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	check_json_shape(r.out, "x86");
	for (const char *p = strstr(r.out, "\"name\":"); p;
	     p = strstr(p + 1, "\"name\":")) {
		const char *m = strstr(p, "\"matches\":");
		cr_assert_gt(strtoull(m + 10, NULL, 10), 0, "unused demo filter: %.40s",
		             p);
	}
	run_free(&r);
}

/* ---- the shared corpus of real captures ---- */

/* Replay every capture i with i % 4 == part; none may crash or hang. */
static void corpus_part(int part)
{
	DIR *d = opendir(CORPUS);
	if (!d)
		cr_skip_test("corpus_replay_%d skipped: %s not found", part, CORPUS);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	cr_assert_gt(n, 0);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if ((int)(i % 4) != part)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", CORPUS, names[i]);
		struct run r = dpf("replay", "-r", path, DEMO, "--json", "--repeat",
		                   "1", NULL);
		cr_assert(r.status == 0 || r.status == 1, "%s: status %d\n%s",
		          names[i], r.status, r.err);
		if (r.status == 0) {
			check_json_shape(r.out, "x86");
			cr_assert_str_empty(r.err, "%s", names[i]);
		} else {
			cr_assert_str_not_empty(r.err, "%s: exit 1 without a message",
			                        names[i]);
			cr_assert(strncmp(r.err, path, strlen(path)) == 0, "%s: %s",
			          names[i], r.err);
		}
		seen++;
		run_free(&r);
	}
	cr_assert_gt(seen, 0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

TestSuite(cli_corpus, .init = scratch_init, .fini = scratch_fini,
          .timeout = 240);

Test(cli_corpus, replay_part0) { corpus_part(0); }
Test(cli_corpus, replay_part1) { corpus_part(1); }
Test(cli_corpus, replay_part2) { corpus_part(2); }
Test(cli_corpus, replay_part3) { corpus_part(3); }

/* A full standard output is an error, even when the command flushed its
 * output itself before returning. */
Test(cli_replay, write_error_on_standard_output_is_reported)
{
	int full = open("/dev/full", O_WRONLY);
	if (full < 0)
		cr_skip_test("cli_replay::write_error_on_standard_output_is_reported "
		             "skipped: no /dev/full");
	struct run g = dpf("gen", "--flows", "4", "--packets", "50", "-o",
	                   "w.pcap", "-f", "w.dpf", NULL);
	cr_assert_eq(g.status, 0, "%s", g.err);
	run_free(&g);
	const char *argv[] = {"dpf", "replay", "-r", "w.pcap", "w.dpf", "--json",
	                      NULL};
	struct run r = collect("full", reap(spawn(argv, "full", full), TIMEOUT_S));
	close(full);
	cr_assert_eq(r.status, 1, "%s", r.err);
	cr_assert_str_eq(r.err, "dpf: standard output: No space left on device\n");
	run_free(&r);
}

/* ---- streaming input ---- */

/* dpf replay -r SRC t.dpf --json -w DIR with stdin from in_fd; the
 * parent writes the bytes of file to feed_fd (when >= 0) meanwhile, or
 * opens fifo for writing and writes them there. */
static struct run replay_fed(const char *src, const char *dir, int in_fd,
                             int feed_fd, const char *fifo, const char *file)
{
	const char *argv[] = {"dpf", "replay", "-r", src, "t.dpf", "--json",
	                      "-w", dir, NULL};
	pid_t pid = spawn_io(argv, "fed", -1, in_fd, -1);
	if (in_fd >= 0)
		close(in_fd);
	if (fifo)
		feed_fd = open(path_in(fifo), O_WRONLY);
	if (feed_fd >= 0) {
		size_t n;
		char *b = slurp(path_in(file), &n);
		for (size_t off = 0; off < n;) {
			ssize_t w = write(feed_fd, b + off, n - off);
			cr_assert(w > 0, "feeding %s: %s", src, strerror(errno));
			off += (size_t)w;
		}
		free(b);
		close(feed_fd);
	}
	return collect("fed", reap(pid, TIMEOUT_S));
}

static void same_counts(const char *a, const char *b)
{
	cr_assert_eq(json_num(a, "packets"), json_num(b, "packets"));
	cr_assert_eq(json_num(a, "bytes"), json_num(b, "bytes"));
	cr_assert_eq(json_num(a, "unmatched"), json_num(b, "unmatched"));
	char *fa = json_filters(a), *fb = json_filters(b);
	cr_assert_str_eq(fa, fb);
	free(fa);
	free(fb);
}

static void same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(path_in(a), &na), *y = slurp(path_in(b), &nb);
	cr_assert(na > 24 && na == nb && memcmp(x, y, na) == 0, "%s != %s", a, b);
	free(x);
	free(y);
}

/* A pipe on standard input ("-" and /dev/stdin), a FIFO and a redirected
 * file count and split exactly as the file itself, in micro- and
 * nanosecond pcap (gen writes microseconds; -w of a nanosecond input
 * keeps nanoseconds). */
Test(cli_replay, streams_pipes_fifos_and_stdin)
{
	struct run g = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "5000", "--seed", "9", NULL);
	cr_assert_eq(g.status, 0, "%s", g.err);
	run_free(&g);
	struct run ref = dpf("replay", "-r", "t.pcap", "t.dpf", "--json", "-w",
	                     "ref", NULL);
	cr_assert_eq(ref.status, 0, "%s", ref.err);
	cr_assert_eq(json_num(ref.out, "packets"), 5000);

	int fds[2];
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	struct run r = replay_fed("-", "a", fds[0], fds[1], NULL, "t.pcap");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.err);
	same_counts(r.out, ref.out);
	same_file("a/unmatched.pcap", "ref/unmatched.pcap");
	same_file("a/flow3.pcap", "ref/flow3.pcap");
	run_free(&r);

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	r = replay_fed("/dev/stdin", "b", fds[0], fds[1], NULL, "t.pcap");
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_counts(r.out, ref.out);
	same_file("b/flow0.pcap", "ref/flow0.pcap");
	run_free(&r);

	cr_assert_eq(mkfifo(path_in("ff"), 0600), 0);
	r = replay_fed("ff", "c", -1, -1, "ff", "t.pcap");
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_counts(r.out, ref.out);
	same_file("c/unmatched.pcap", "ref/unmatched.pcap");
	run_free(&r);

	int in = open(path_in("t.pcap"), O_RDONLY | O_CLOEXEC);
	cr_assert(in >= 0);
	r = replay_fed("-", "d", in, -1, NULL, NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_counts(r.out, ref.out);
	run_free(&r);

	/* A nanosecond capture through a pipe, split again: every byte. */
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	r = replay_fed("-", "e", fds[0], fds[1], NULL, "c/unmatched.pcap");
	cr_assert_eq(r.status, 0, "%s", r.err);
	same_file("e/unmatched.pcap", "c/unmatched.pcap");
	run_free(&r);

	/* gen -o - feeds the same bytes as the file. */
	const char *gargv[] = {"dpf", "gen", "-o", "-", "--packets", "5000",
	                       "--seed", "9", NULL};
	int out = open(path_in("g.pcap"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(out >= 0);
	g = collect("gen", reap(spawn_io(gargv, "gen", out, -1, -1), TIMEOUT_S));
	close(out);
	cr_assert_eq(g.status, 0, "%s", g.err);
	cr_assert(strncmp(g.err, "-: 5000 packets over 16 flows, ", 31) == 0,
	          "%s", g.err);
	run_free(&g);
	same_file("g.pcap", "t.pcap");

	/* A pipe cut inside a record is a damaged capture, reported after
	 * the packets read. */
	size_t n;
	char *whole = slurp(path_in("t.pcap"), &n);
	FILE *f = fopen(path_in("cut.pcap"), "wb");
	fwrite(whole, 1, n - 10, f);
	fclose(f);
	free(whole);
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	r = replay_fed("-", "cut", fds[0], fds[1], NULL, "cut.pcap");
	cr_assert_eq(r.status, 1);
	cr_assert_eq(json_num(r.out, "packets"), 4999);
	cr_assert(strncmp(r.err, "-: capture damaged after 4999 packets: ", 39) ==
	              0,
	          "%s", r.err);
	run_free(&r);
	run_free(&ref);
}

/* Outputs that cannot be created fail the command before any output. */
Test(cli_replay, unwritable_outputs_fail_first)
{
	struct run g = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "100", NULL);
	cr_assert_eq(g.status, 0);
	run_free(&g);
	write_text("plain", "x\n");
	struct run r = dpf("replay", "-r", "t.pcap", "t.dpf", "-w", "plain/sub",
	                   NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "plain/sub: error: Not a directory\n");
	cr_assert_str_empty(r.out);
	run_free(&r);
	r = dpf("replay", "-r", "t.pcap", "t.dpf", "--json", "--tx",
	        "nodir/tx.pcap", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, "nodir/tx.pcap: error: No such file or "
	                        "directory\n");
	cr_assert_str_empty(r.out);
	run_free(&r);
}

/* Progress goes to standard error when it is a terminal, and nowhere
 * else (every other test sees an empty stderr). */
Test(cli_replay, progress_on_a_terminal)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
		cr_skip_test("cli_replay::progress_on_a_terminal skipped: no "
		             "pseudo-terminal");
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	cr_assert(sl >= 0);
	struct run g = dpf("gen", "-o", "t.pcap", "-f", "t.dpf", "--packets",
	                   "20000", NULL);
	cr_assert_eq(g.status, 0);
	run_free(&g);
	cr_assert_eq(mkfifo(path_in("ff"), 0600), 0);
	const char *argv[] = {"dpf", "replay", "-r", "ff", "t.dpf", "--json",
	                      NULL};
	pid_t pid = spawn_io(argv, "tty", -1, -1, sl);
	close(sl);
	int w = open(path_in("ff"), O_WRONLY);
	size_t n;
	char *b = slurp(path_in("t.pcap"), &n);
	/* half, a pause longer than the progress interval, the rest */
	cr_assert_eq(write(w, b, n / 2), (ssize_t)(n / 2));
	struct timespec nap = {0, 600000000};
	nanosleep(&nap, NULL);
	cr_assert_eq(write(w, b + n / 2, n - n / 2), (ssize_t)(n - n / 2));
	close(w);
	free(b);
	struct run r = collect("tty", reap(pid, TIMEOUT_S));
	cr_assert_eq(r.status, 0);
	char tty[4096];
	ssize_t got = read(m, tty, sizeof tty - 1);
	close(m);
	cr_assert_gt(got, 0);
	tty[got] = 0;
	cr_assert_not_null(strstr(tty, "dpf replay: ff: "), "%s", tty);
	cr_assert_not_null(strstr(tty, " packets/s"), "%s", tty);
	/* the line is cleared at the end */
	cr_assert_not_null(strstr(tty, "\r\033[K"), "%s", tty);
	cr_assert_eq(json_num(r.out, "packets"), 20000);
	run_free(&r);
}

/* ---- link types, against libpcap ---- */

#define LT_SLL2 276
#define LT_IPV4 228
#define LT_IPV6 229

/* Network-layer packets: IPv4 TCP/UDP (with options, a later fragment),
 * IPv6 TCP/UDP, ARP; proto is the EtherType each is. */
struct l3 {
	uint16_t type;
	uint8_t b[80];
	uint32_t n;
};

static uint32_t mk_ip4(uint8_t *b, uint8_t proto, uint32_t src, uint16_t dport,
                       int opts, int later_frag)
{
	uint32_t ihl = opts ? 24 : 20;
	memset(b, 0, 60);
	b[0] = (uint8_t)(0x40 | ihl / 4);
	b[3] = 60;
	if (later_frag)
		b[7] = 0x10;
	b[8] = 64;
	b[9] = proto;
	b[12] = (uint8_t)(src >> 24);
	b[13] = (uint8_t)(src >> 16);
	b[14] = (uint8_t)(src >> 8);
	b[15] = (uint8_t)src;
	b[16] = 10, b[19] = 1;
	b[ihl] = 0x30, b[ihl + 1] = 0x39;
	b[ihl + 2] = (uint8_t)(dport >> 8), b[ihl + 3] = (uint8_t)dport;
	return 60;
}

static uint32_t mk_ip6(uint8_t *b, uint8_t nxt, uint8_t dlast, uint16_t dport)
{
	memset(b, 0, 72);
	b[0] = 0x60;
	b[5] = 32;
	b[6] = nxt;
	b[7] = 64;
	b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8;
	b[39] = dlast;
	b[40] = 0x30, b[41] = 0x39;
	b[42] = (uint8_t)(dport >> 8), b[43] = (uint8_t)dport;
	return 72;
}

static size_t l3_set(struct l3 *v)
{
	size_t n = 0;
	v[n].type = 0x0800, v[n].n = mk_ip4(v[n].b, 6, 0x0a010203, 80, 0, 0), n++;
	v[n].type = 0x0800, v[n].n = mk_ip4(v[n].b, 17, 0x0a020304, 53, 0, 0), n++;
	v[n].type = 0x0800, v[n].n = mk_ip4(v[n].b, 6, 0xc0000201, 80, 1, 0), n++;
	v[n].type = 0x0800, v[n].n = mk_ip4(v[n].b, 6, 0x0a010203, 80, 0, 1), n++;
	v[n].type = 0x86dd, v[n].n = mk_ip6(v[n].b, 6, 1, 80), n++;
	v[n].type = 0x86dd, v[n].n = mk_ip6(v[n].b, 17, 2, 53), n++;
	v[n].type = 0x0806, v[n].n = 28;
	memset(v[n].b, 0, 28);
	v[n].b[1] = 1, v[n].b[2] = 8, v[n].b[4] = 6, v[n].b[5] = 4, v[n].b[7] = 1;
	n++;
	return n;
}

/* The link header of lt before a packet of EtherType type; its length. */
static uint32_t link_hdr(int lt, uint16_t type, int variant, uint8_t *h)
{
	uint32_t af = type == 0x0800 ? 2 : type == 0x86dd ? 30 - 2 * variant : 7;
	if (variant == 2)
		af = 99; /* no family at all */
	switch (lt) {
	case DLT_EN10MB:
		memset(h, 0x11, 12);
		if (variant == 1) { /* 802.1Q-tagged */
			h[12] = 0x81, h[13] = 0, h[14] = 0, h[15] = 7;
			h[16] = (uint8_t)(type >> 8), h[17] = (uint8_t)type;
			return 18;
		}
		h[12] = (uint8_t)(type >> 8), h[13] = (uint8_t)type;
		return 14;
	case DLT_LINUX_SLL:
		memset(h, 0, 16);
		h[3] = 1, h[5] = 6;
		h[14] = (uint8_t)(type >> 8), h[15] = (uint8_t)type;
		if (variant == 2)
			h[14] = 0, h[15] = 4; /* 802.2 LLC */
		return 16;
	case LT_SLL2:
		memset(h, 0, 20);
		h[0] = (uint8_t)(type >> 8), h[1] = (uint8_t)type;
		if (variant == 2)
			h[0] = 0, h[1] = 4;
		h[9] = 1, h[11] = 6;
		return 20;
	case DLT_NULL:
		memcpy(h, &af, 4);
		return 4;
	case DLT_LOOP:
		h[0] = (uint8_t)(af >> 24), h[1] = (uint8_t)(af >> 16);
		h[2] = (uint8_t)(af >> 8), h[3] = (uint8_t)af;
		return 4;
	}
	return 0; /* RAW, IPV4, IPV6 */
}

/* Write NAME of link type lt: every packet of the set under each header
 * variant, whole and cut at several lengths; packet i has timestamp i.
 * Returns the packet count. */
static long write_link_capture(const char *name, int lt)
{
	struct l3 v[16];
	size_t nv = l3_set(v);
	pcap_t *dead = pcap_open_dead(lt, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path_in(name));
	cr_assert_not_null(d, "%s", pcap_geterr(dead));
	long n = 0;
	for (int variant = 0; variant < 3; variant++)
		for (size_t i = 0; i < nv; i++) {
			uint8_t pkt[128];
			uint32_t hl = link_hdr(lt, v[i].type, variant, pkt);
			memcpy(pkt + hl, v[i].b, v[i].n);
			uint32_t len = hl + v[i].n;
			static const int cuts[] = {-1, 0, 1, 2, 3, 13, 15, 23, 43};
			for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
				uint32_t cap = cuts[c] < 0 ? len
				             : (uint32_t)cuts[c] < len ? (uint32_t)cuts[c]
				                                       : len;
				struct pcap_pkthdr h = {{n, 0}, cap, len};
				pcap_dump((u_char *)d, &h, pkt);
				n++;
			}
		}
	pcap_dump_close(d);
	pcap_close(dead);
	return n;
}

/* The timestamps (packet numbers) of a pcap file, as a 0/1 map. */
static void packets_in(const char *path, char *seen, long n)
{
	char eb[PCAP_ERRBUF_SIZE];
	memset(seen, 0, (size_t)n);
	pcap_t *p = pcap_open_offline(path, eb);
	cr_assert_not_null(p, "%s: %s", path, eb);
	struct pcap_pkthdr *h;
	const u_char *d;
	while (pcap_next_ex(p, &h, &d) == 1) {
		cr_assert(h->ts.tv_sec >= 0 && h->ts.tv_sec < n);
		seen[h->ts.tv_sec] = 1;
	}
	pcap_close(p);
}

Test(cli_replay, link_types_match_libpcap, .timeout = 300)
{
	static const int lts[] = {DLT_EN10MB, DLT_LINUX_SLL, LT_SLL2, DLT_NULL,
	                          DLT_LOOP,   DLT_RAW,       LT_IPV4, LT_IPV6};
	static const char *const exprs[][2] = {
		{"ip", "ip"},
		{"ip6", "ip6"},
		{"arp", "arp"},
		{"tcp", "tcp"},
		{"udp", "udp"},
		{"tcp.dport == 80", "tcp dst port 80"},
		{"udp.dport == 53 and ip", "udp dst port 53 and ip"},
		{"ip.src == 10.1.0.0/16", "ip src net 10.1.0.0/16"},
		{"ip6.dst == 2001:db8::2", "ip6 dst host 2001:db8::2"},
		{"ip.proto == 6 or ip6", "ip proto 6 or ip6"},
		{"vlan and tcp.dport == 80", "vlan and tcp dst port 80"},
		{"u8[14] == 0x45", "ether[14] == 0x45"},
	};
	int compared = 0;
	for (size_t l = 0; l < sizeof lts / sizeof lts[0]; l++) {
		char cap[64];
		snprintf(cap, sizeof cap, "lt%d.pcap", lts[l]);
		long n = write_link_capture(cap, lts[l]);
		char eb[PCAP_ERRBUF_SIZE];
		pcap_t *p = pcap_open_offline(path_in(cap), eb);
		cr_assert_not_null(p, "%s", eb);
		char *want = malloc((size_t)n), *got = malloc((size_t)n);
		for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
			/* raw offsets are the synthetic frame's: Ethernet only */
			if (lts[l] != DLT_EN10MB && strncmp(exprs[e][0], "u8", 2) == 0)
				continue;
			struct bpf_program prog;
			if (pcap_compile(p, &prog, exprs[e][1], 1,
			                 PCAP_NETMASK_UNKNOWN) != 0)
				continue; /* libpcap has no such test on lt (vlan) */
			/* libpcap's verdict on every packet */
			pcap_t *q = pcap_open_offline(path_in(cap), eb);
			struct pcap_pkthdr *h;
			const u_char *d;
			long i = 0;
			while (pcap_next_ex(q, &h, &d) == 1)
				want[i++] = bpf_filter(prog.bf_insns, d, h->len, h->caplen) != 0;
			cr_assert_eq(i, n);
			pcap_close(q);
			pcap_freecode(&prog);
			char text[160], dir[32], out[64];
			snprintf(text, sizeof text, "filter f { %s }\n", exprs[e][0]);
			write_text("f.dpf", text);
			snprintf(dir, sizeof dir, "o%zu_%zu", l, e);
			struct run r = dpf("replay", "-r", cap, "f.dpf", "-w", dir,
			                   "--json", NULL);
			cr_assert_eq(r.status, 0, "%s on %s: %s", exprs[e][0], cap,
			             r.err);
			snprintf(out, sizeof out, "%s/f.pcap", dir);
			packets_in(path_in(out), got, n);
			for (long k = 0; k < n; k++)
				cr_assert_eq(got[k], want[k],
				             "link type %d, '%s' vs tcpdump '%s': packet "
				             "%ld: dpf %d, libpcap %d",
				             lts[l], exprs[e][0], exprs[e][1], k, got[k],
				             want[k]);
			/* -w keeps the input's link type */
			int lt;
			count_pcap(path_in(out), &lt);
			cr_assert_eq(lt, lts[l]);
			run_free(&r);
			compared++;
		}
		free(want);
		free(got);
		pcap_close(p);
	}
	cr_assert_geq(compared, 70, "only %d comparisons", compared);
}

/* Filters that read Ethernet addresses mean nothing without Ethernet. */
Test(cli_replay, link_layer_fields_refused_without_ethernet)
{
	write_link_capture("sll.pcap", DLT_LINUX_SLL);
	write_text("e.dpf", "filter ok { tcp }\n"
	                    "filter mac { eth.src == 0:1:2:3:4:5 }\n"
	                    "filter raw priority 3 { u8[0] == 1 }\n");
	struct run r = dpf("replay", "-r", "sll.pcap", "e.dpf", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err,
	                 "e.dpf:2:8: error: filter 'mac' reads Ethernet addresses "
	                 "(eth.dst, eth.src, eth.addr or a raw offset below 12), "
	                 "which sll.pcap has none of: its link type is LINUX_SLL "
	                 "(113)\n"
	                 "e.dpf:3:8: error: filter 'raw' reads Ethernet addresses "
	                 "(eth.dst, eth.src, eth.addr or a raw offset below 12), "
	                 "which sll.pcap has none of: its link type is LINUX_SLL "
	                 "(113)\n");
	cr_assert_str_empty(r.out);
	run_free(&r);
	/* The same file on Ethernet is fine. */
	write_link_capture("eth.pcap", DLT_EN10MB);
	r = dpf("replay", "-r", "eth.pcap", "e.dpf", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
}

/* BSD loopback: IPv6 is the BSD, FreeBSD and Darwin families, whichever
 * byte order the capture was written in. */
Test(cli_replay, loopback_ipv6_families)
{
	pcap_t *dead = pcap_open_dead(DLT_NULL, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, path_in("null.pcap"));
	uint8_t pkt[80];
	static const uint32_t fams[] = {10, 24, 28, 30, 2, 23};
	for (int i = 0; i < 6; i++) {
		memcpy(pkt, &fams[i], 4);
		uint32_t n = 4 + mk_ip6(pkt + 4, 6, 1, 80);
		struct pcap_pkthdr h = {{i, 0}, n, n};
		pcap_dump((u_char *)d, &h, pkt);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	write_text("6.dpf", "filter v6 { ip6 and tcp.dport == 80 }\n");
	struct run r = dpf("replay", "-r", "null.pcap", "6.dpf", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(json_num(r.out, "matches"), 3, "%s", r.out);
	run_free(&r);
	/* The same packets written on a machine of the other byte order. */
	size_t n;
	uint8_t *b = (uint8_t *)slurp(path_in("null.pcap"), &n);
	uint8_t *c = malloc(n);
	static const int hdr_words[] = {0, 8, 12, 16, 20}; /* 4-byte fields */
	memcpy(c, b, n);
	for (int k = 0; k < 5; k++)
		for (int j = 0; j < 4; j++)
			c[hdr_words[k] + j] = b[hdr_words[k] + 3 - j];
	c[4] = b[5], c[5] = b[4], c[6] = b[7], c[7] = b[6];
	for (size_t off = 24; off + 16 <= n;) {
		uint32_t cl;
		memcpy(&cl, b + off + 8, 4);
		for (int k = 0; k < 16; k += 4)
			for (int j = 0; j < 4; j++)
				c[off + k + j] = b[off + k + 3 - j];
		for (int j = 0; j < 4; j++) /* the family, as that machine had it */
			c[off + 16 + j] = b[off + 16 + 3 - j];
		off += 16 + cl;
	}
	FILE *f = fopen(path_in("swapped.pcap"), "wb");
	fwrite(c, 1, n, f);
	fclose(f);
	free(b);
	free(c);
	r = dpf("replay", "-r", "swapped.pcap", "6.dpf", "--json", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(json_num(r.out, "packets"), 6, "%s", r.out);
	cr_assert_eq(json_num(r.out, "matches"), 3, "%s", r.out);
	run_free(&r);
}

/* ---- the README's example, run ---- */

/* text matches pat, where "…" in pat stands for any run of characters. */
static int glob_match(const char *pat, const char *text)
{
	static const char ell[] = "\xe2\x80\xa6";
	const char *star = strstr(pat, ell);
	if (!star)
		return strcmp(pat, text) == 0;
	size_t head = (size_t)(star - pat);
	if (strncmp(pat, text, head) != 0)
		return 0;
	for (const char *t = text + head;; t++) {
		if (glob_match(star + 3, t))
			return 1;
		if (!*t)
			return 0;
	}
}

/* Does some line of out match pat? */
static int some_line(const char *out, const char *pat)
{
	char line[8192];
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n < sizeof line) {
			memcpy(line, p, n);
			line[n] = 0;
			if (glob_match(pat, line))
				return 1;
		}
		p += n + (nl != NULL);
	}
	return 0;
}

/* Every command of README.md's "## Example" block runs (from a directory
 * where build/ and examples/ are this tree's) and exits 0, and every
 * output line shown under it is a line it prints, "…" standing for what
 * varies from run to run. */
TestSuite(cli_docs, .init = scratch_init, .fini = scratch_fini);

Test(cli_docs, readme_example, .timeout = 400)
{
	char *readme = tu_read_file(DPF_SOURCE_DIR "/README.md", NULL);
	cr_assert_not_null(readme);
	char *blk = strstr(readme, "\n## Example\n");
	cr_assert_not_null(blk, "README.md has no example section");
	blk = strstr(blk, "\n```\n");
	cr_assert_not_null(blk, "README.md has no example block");
	blk += strlen("\n```\n");
	char *end = strstr(blk, "\n```\n");
	cr_assert_not_null(end);
	end[1] = 0;
	cr_assert_eq(symlink(DPF_BINARY_DIR, path_in("build")), 0);
	cr_assert_eq(symlink(DPF_SOURCE_DIR "/examples", path_in("examples")), 0);
	struct run r = {0, NULL, NULL, 0};
	int commands = 0, shown = 0;
	char cmd[1024] = "";
	for (char *line = blk, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = 0;
		if (strncmp(line, "$ ", 2) != 0) {
			cr_assert(commands > 0, "output before any command: %s", line);
			cr_assert(some_line(r.out, line) || some_line(r.err, line),
			          "README example: '%s' does not print\n%s\nbut\n%s%s",
			          cmd, line, r.out, r.err);
			shown++;
			continue;
		}
		run_free(&r);
		snprintf(cmd, sizeof cmd, "%s", line + 2);
		char *hash = strstr(cmd, "  #");
		if (hash)
			*hash = 0;
		const char *argv[32];
		int n = 0;
		char words[1024];
		snprintf(words, sizeof words, "%s", cmd);
		for (char *w = strtok(words, " "); w && n < 31; w = strtok(NULL, " "))
			argv[n++] = w;
		argv[n] = NULL;
		cr_assert(n >= 2 && strcmp(argv[0], "build/cli/dpf") == 0, "%s", cmd);
		r = collect("doc", reap(spawn(argv, "doc", -1), 300));
		if (r.status == 1 && strstr(r.err, "QEMU not found"))
			cr_skip_test("cli_docs::readme_example: '%s' skipped after %d "
			             "commands: %s",
			             cmd, commands, r.err);
		cr_assert_eq(r.status, 0, "README example '%s' exits %d:\n%s", cmd,
		             r.status, r.err);
		commands++;
	}
	run_free(&r);
	cr_assert_geq(commands, 5);
	cr_assert_geq(shown, 3);
	free(readme);
}

/* ---- live capture, on a veth pair the test creates ---- */

static char veth_a[16], veth_b[16];

static void veth_fini(void)
{
	if (veth_a[0]) {
		char cmd[64];
		snprintf(cmd, sizeof cmd, "ip link del %s >/dev/null 2>&1", veth_a);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot delete %s\n", veth_a);
	}
	veth_a[0] = 0;
	scratch_fini();
}

/* Wait until the err file of tag says the capture is on. */
static void wait_listening(const char *tag, pid_t pid)
{
	char p[600];
	snprintf(p, sizeof p, "%s/.%s.err", scratch, tag);
	for (int i = 0; i < 3000; i++) {
		char *e = slurp(p, NULL);
		int on = strstr(e, "dpf replay: listening on ") != NULL;
		free(e);
		if (on)
			return;
		cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "dpf ended early");
		struct timespec nap = {0, 10000000};
		nanosleep(&nap, NULL);
	}
	cr_assert_fail("dpf never started capturing");
}

/* An IPv4 UDP frame to port dport, its source port seq. */
static void send_udp(int s, int ifindex, uint16_t dport, uint16_t seq)
{
	uint8_t f[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1,
	                 0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17};
	f[26] = 10, f[29] = 1, f[30] = 10, f[33] = 2;
	f[34] = (uint8_t)(seq >> 8), f[35] = (uint8_t)seq;
	f[36] = (uint8_t)(dport >> 8), f[37] = (uint8_t)dport;
	f[39] = 26;
	struct sockaddr_ll to;
	memset(&to, 0, sizeof to);
	to.sll_family = AF_PACKET;
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6);
	cr_assert_eq(sendto(s, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to),
	             (ssize_t)sizeof f, "send: %s", strerror(errno));
}

TestSuite(cli_live, .init = scratch_init, .fini = veth_fini);

Test(cli_live, veth_count_signal_duration, .timeout = 180)
{
	if (geteuid() != 0)
		cr_skip_test("cli_live::veth_count_signal_duration skipped: creating "
		             "a veth pair needs root");
	snprintf(veth_a, sizeof veth_a, "dpfa%d", (int)(getpid() % 100000));
	snprintf(veth_b, sizeof veth_b, "dpfb%d", (int)(getpid() % 100000));
	char cmd[256];
	snprintf(cmd, sizeof cmd,
	         "ip link add %s type veth peer name %s >/dev/null 2>&1", veth_a,
	         veth_b);
	if (system(cmd) != 0) {
		veth_a[0] = 0;
		cr_skip_test("cli_live::veth_count_signal_duration skipped: no veth "
		             "pairs here (ip link add ... type veth failed)");
	}
	/* no IPv6 (router solicitations, MLD): the test's frames alone */
	for (int k = 0; k < 2; k++) {
		char p[128];
		snprintf(p, sizeof p, "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		         k ? veth_b : veth_a);
		FILE *f = fopen(p, "w");
		if (f) {
			fputs("1\n", f);
			fclose(f);
		}
	}
	snprintf(cmd, sizeof cmd, "ip link set %s up && ip link set %s up",
	         veth_a, veth_b);
	cr_assert_eq(system(cmd), 0);
	int s = socket(AF_PACKET, SOCK_RAW, 0);
	cr_assert(s >= 0, "%s", strerror(errno));
	int ifa = (int)if_nametoindex(veth_a);
	cr_assert_gt(ifa, 0);
	write_text("l.dpf", "filter hit { udp.dport == 9999 }\n"
	                    "filter other { udp }\n");

	/* -c 5 of 8 sent; the split file holds the frames as sent */
	const char *a1[] = {"dpf", "replay", "-i", veth_b, "l.dpf", "-c", "5",
	                    "--json", "-w", "w", NULL};
	pid_t pid = spawn(a1, "live1", -1);
	wait_listening("live1", pid);
	for (uint16_t i = 0; i < 8; i++)
		send_udp(s, ifa, i % 4 == 3 ? 7 : 9999, i);
	struct run r = collect("live1", reap(pid, 60));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_eq(json_num(r.out, "packets"), 5, "%s", r.out);
	cr_assert_eq(json_num(r.out, "unmatched"), 0, "%s", r.out);
	static const char kh[] = "\"name\":\"hit\",\"matches\":",
	                  ko[] = "\"name\":\"other\",\"matches\":";
	const char *hit = strstr(r.out, kh), *oth = strstr(r.out, ko);
	cr_assert(hit && oth);
	cr_assert_eq(strtoull(hit + strlen(kh), NULL, 10), 4, "%s", r.out);
	cr_assert_eq(strtoull(oth + strlen(ko), NULL, 10), 1, "%s", r.out);
	int lt;
	cr_assert_eq(count_pcap(path_in("w/hit.pcap"), &lt), 4);
	cr_assert_eq(lt, DLT_EN10MB);
	run_free(&r);

	/* SIGINT ends it with the report of what was taken */
	const char *a2[] = {"dpf", "replay", "-i", veth_b, "l.dpf", "--json",
	                    NULL};
	pid = spawn(a2, "live2", -1);
	wait_listening("live2", pid);
	for (uint16_t i = 0; i < 3; i++)
		send_udp(s, ifa, 9999, i);
	struct timespec nap = {0, 300000000};
	nanosleep(&nap, NULL);
	kill(pid, SIGINT);
	r = collect("live2", reap(pid, 60));
	cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
	cr_assert_eq(json_num(r.out, "packets"), 3, "%s", r.out);
	run_free(&r);

	/* --duration ends it on its own, packets or not */
	const char *a3[] = {"dpf", "replay", "-i", veth_b, "l.dpf",
	                    "--duration", "1", NULL};
	pid = spawn(a3, "live3", -1);
	r = collect("live3", reap(pid, 30));
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "\n0 packets, 0 bytes captured, "
	                                 "2 filters\n"),
	                   "%s", r.out);
	run_free(&r);
	close(s);
}

/* --all-matches counts what each filter matches alone: libpcap's count
 * for the same expression; the demultiplexing counts are unchanged. */
Test(cli_replay, all_matches_as_independent_filters)
{
	struct run g = dpf("gen", "-o", "t.pcap", "--packets", "4000", "--vlan",
	                   "30", "--fragments", "20", "--truncate", "10",
	                   "--noise", "20", "--seed", "4", NULL);
	cr_assert_eq(g.status, 0, "%s", g.err);
	run_free(&g);
	static const char *const ex[][3] = {
		{"web", "priority 5 { tcp.dport == 80 }", "tcp dst port 80"},
		{"tcp", "{ tcp }", "tcp"},
		{"ip4", "{ ip }", "ip"},
		{"udp", "{ udp }", "udp"},
	};
	char text[512] = "";
	for (int k = 0; k < 4; k++) {
		size_t n = strlen(text);
		snprintf(text + n, sizeof text - n, "filter %s %s\n", ex[k][0],
		         ex[k][1]);
	}
	write_text("ov.dpf", text);
	struct run plain = dpf("replay", "-r", "t.pcap", "ov.dpf", "--json", NULL);
	struct run r = dpf("replay", "-r", "t.pcap", "ov.dpf", "--json",
	                   "--all-matches", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	for (int k = 0; k < 4; k++) {
		char eb[PCAP_ERRBUF_SIZE];
		pcap_t *p = pcap_open_offline(path_in("t.pcap"), eb);
		struct bpf_program prog;
		cr_assert_eq(pcap_compile(p, &prog, ex[k][2], 1, PCAP_NETMASK_UNKNOWN),
		             0);
		struct pcap_pkthdr *h;
		const u_char *d;
		unsigned long long want = 0;
		while (pcap_next_ex(p, &h, &d) == 1)
			want += bpf_filter(prog.bf_insns, d, h->len, h->caplen) != 0;
		pcap_freecode(&prog);
		pcap_close(p);
		char key[80];
		snprintf(key, sizeof key, "\"name\":\"%s\",\"matches\":", ex[k][0]);
		const char *e = strstr(r.out, key), *e0 = strstr(plain.out, key);
		cr_assert(e && e0, "%s", r.out);
		unsigned long long m = strtoull(e + strlen(key), NULL, 10);
		cr_assert_eq(m, strtoull(e0 + strlen(key), NULL, 10));
		const char *a = strstr(e, ",\"all_matches\":");
		cr_assert_not_null(a);
		unsigned long long all = strtoull(a + 15, NULL, 10);
		cr_assert_eq(all, want, "%s: all_matches %llu, libpcap '%s' %llu",
		             ex[k][0], all, ex[k][2], want);
		cr_assert_geq(all, m);
	}
	cr_assert_lt(json_num(r.out, "matches"), 4000);
	run_free(&r);
	run_free(&plain);
	r = dpf("replay", "-r", "t.pcap", "ov.dpf", "--all-matches", NULL);
	cr_assert(strncmp(r.out, "filter       priority       matches  % packets"
	                         "   all matches\n",
	                  61) == 0,
	          "%s", r.out);
	run_free(&r);
}
