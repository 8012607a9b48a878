/*
 * test_ash_cli.c - `dpf ash` and handlers in `dpf check`/`dpf replay`,
 * driven as a user drives them: the built binary, the example handlers
 * (ash/examples, compiled by the build) and a generated trace (ash_trace).
 *
 * Covered: usage and exit statuses; `ash check` on every example; refused
 * objects; the hostile suite (the C programs in tests/ash/hostile, each refused by the
 * verifier with the exact text of tests/ash/hostile/NAME.err: position,
 * message and source line); `ash run` (jsonl shape, the checked engine
 * equal to the interpreter on every example, --tx); `ash exec`; handler
 * clauses in check and replay; `ash compile`: the shape of every
 * example's --emit=asm listing (each slot's header once, in order, its
 * x86 code under it, source lines that are the example's), --emit=insns
 * against tests/golden/ash/udp_echo.insns, --emit=image run like the
 * object, usage errors and the terminal refusal.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define DPF_BIN DPF_BINARY_DIR "/cli/dpf"
#define EXAMPLES DPF_BINARY_DIR "/ash/examples"
#define HOSTILE_OBJ DPF_BINARY_DIR "/tests/ash/hostile"
#define HOSTILE_SRC DPF_SOURCE_DIR "/tests/ash/hostile"
#define TRACE_GEN DPF_BINARY_DIR "/tests/ash/ash_trace"

static char scratch[64];

static void setup(void)
{
	snprintf(scratch, sizeof scratch, "/tmp/dpf_ash_XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
	cr_assert_eq(system(cmd), 0);
}

static const char *in_scratch(const char *name)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, sizeof buf[0], "%s/%s", scratch, name);
	return b;
}

/* dpf ARGS... (NULL-terminated), stdin from /dev/null */
static struct tu_run dpf(const char *arg, ...)
{
	const char *argv[32];
	int n = 0;
	va_list ap;
	argv[n++] = DPF_BIN;
	va_start(ap, arg);
	for (const char *a = arg; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return tu_exec(argv, NULL, 120);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static const char *trace(int seed)
{
	const char *p = in_scratch(seed == 1 ? "t1.pcap" : "t2.pcap");
	char s[16];
	snprintf(s, sizeof s, "%d", seed);
	const char *argv[] = {TRACE_GEN, p, "--seed", s, NULL};
	struct tu_run r = tu_exec(argv, NULL, 60);
	cr_assert_eq(r.status, 0, "ash_trace: %s", r.err);
	tu_run_free(&r);
	return p;
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);
	for (const char *l = s; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
		if (strncmp(l, prefix, pl) == 0)
			n++;
	return n;
}

/* Every example object, sorted. */
static int list_objs(const char *dir, char names[][64], int cap)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "%s not built", dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < cap) {
		size_t l = strlen(e->d_name);
		if (l > 2 && l < 64 && strcmp(e->d_name + l - 2, ".o") == 0)
			memcpy(names[n++], e->d_name, l + 1);
	}
	closedir(d);
	qsort(names, (size_t)n, 64, (int (*)(const void *, const void *))strcmp);
	return n;
}

TestSuite(ash_cli, .init = setup, .fini = teardown, .timeout = 300);

Test(ash_cli, usage)
{
	struct tu_run r = dpf("ash", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no subcommand"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "usage: dpf ash check", 20) == 0, "%s", r.out);
	tu_run_free(&r);
	r = dpf("help", "ash", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "dpf ash exec"));
	tu_run_free(&r);
	r = dpf("ash", "frob", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown subcommand 'frob'"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "check", NULL);
	cr_assert_eq(r.status, 2);
	tu_run_free(&r);
	r = dpf("ash", "run", EXAMPLES "/udp_echo.o", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "no capture given"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "run", EXAMPLES "/udp_echo.o", "-r", "x", "--engine=jit",
	        NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown engine 'jit'"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "check", "--jsonl", EXAMPLES "/udp_echo.o", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--jsonl' does not apply"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "run", EXAMPLES "/udp_echo.o", "-r", "x", "--set", "novalue",
	        NULL);
	cr_assert_eq(r.status, 2);
	tu_run_free(&r);
}

Test(ash_cli, check_examples)
{
	char names[64][64];
	int n = list_objs(EXAMPLES, names, 64);
	cr_assert_geq(n, 10, "only %d examples", n);
	for (int i = 0; i < n; i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/%.63s", EXAMPLES, names[i]);
		struct tu_run r = dpf("ash", "check", path, NULL);
		cr_assert_eq(r.status, 0, "%s: %s", names[i], r.err);
		cr_assert_str_empty(r.err);
		char want[300];
		snprintf(want, sizeof want, "%s: ", path);
		cr_assert(strncmp(r.out, want, strlen(want)) == 0, "%s", r.out);
		unsigned insns, stack;
		unsigned long long worst;
		const char *p = strstr(r.out + strlen(want), ": ");
		cr_assert_not_null(p, "%s", r.out);
		cr_assert_eq(sscanf(p, ": %u insns, verified, worst case %llu "
		                       "insns, stack %u bytes",
		                    &insns, &worst, &stack),
		             3, "%s", r.out);
		cr_assert(insns > 0 && worst >= 1 && stack <= 512, "%s", r.out);
		tu_run_free(&r);
	}
}

Test(ash_cli, bad_objects)
{
	write_file(in_scratch("text.o"), "not an object\n");
	struct tu_run r = dpf("ash", "check", in_scratch("text.o"), NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, in_scratch("text.o"), strlen(in_scratch("text.o"))) == 0,
	          "%s", r.err);
	cr_assert(strstr(r.err, ": error: "), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "check", in_scratch("missing.o"), NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "No such file"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "run", in_scratch("text.o"), "-r", trace(1), NULL);
	cr_assert_eq(r.status, 1);
	tu_run_free(&r);
}

/* Each hostile program is refused, with exactly the expected text. */
Test(ash_cli, hostile)
{
	char names[64][64];
	int n = list_objs(HOSTILE_OBJ, names, 64);
	cr_assert_geq(n, 14, "only %d hostile objects", n);
	for (int i = 0; i < n; i++) {
		char obj[256], golden[256], name[64];
		snprintf(name, sizeof name, "%.*s", (int)strlen(names[i]) - 2,
		         names[i]);
		snprintf(obj, sizeof obj, "%s/%.63s", HOSTILE_OBJ, names[i]);
		snprintf(golden, sizeof golden, "%s/%s.err", HOSTILE_SRC, name);
		/* run from the object's directory so messages name it alone */
		const char *argv[] = {DPF_BIN, "ash", "check", names[i], NULL};
		char cwd[512];
		cr_assert_not_null(getcwd(cwd, sizeof cwd));
		cr_assert_eq(chdir(HOSTILE_OBJ), 0);
		struct tu_run r = tu_exec(argv, NULL, 120);
		cr_assert_eq(chdir(cwd), 0);
		char *want = tu_read_file(golden, NULL);
		cr_assert_not_null(want, "missing %s; dpf said:\n%s", golden, r.err);
		cr_expect_eq(r.status, 1, "%s: exit %d", name, r.status);
		cr_expect_str_eq(r.err, want, "%s:\nwant: %sgot:  %s", name, want,
		                 r.err);
		cr_expect_str_empty(r.out, "%s", name);
		free(want);
		tu_run_free(&r);
	}
}

/* The checked engine gives the interpreter's answers on every example
 * (and finds no access out of bounds). */
Test(ash_cli, checked_equals_interp)
{
	char names[64][64];
	int n = list_objs(EXAMPLES, names, 64);
	const char *t = trace(2);
	for (int i = 0; i < n; i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/%.63s", EXAMPLES, names[i]);
		struct tu_run a = dpf("ash", "run", path, "-r", t, "--jsonl",
		                      "--engine=interp", NULL);
		struct tu_run b = dpf("ash", "run", path, "-r", t, "--jsonl",
		                      "--engine=checked", NULL);
		struct tu_run c = dpf("ash", "run", path, "-r", t, "--jsonl",
		                      "--engine=x86", NULL);
		cr_assert_eq(a.status, 0, "%s: %s", names[i], a.err);
		cr_assert_eq(b.status, 0, "%s: %s", names[i], b.err);
		cr_assert_eq(c.status, 0, "%s: %s", names[i], c.err);
		cr_assert_str_eq(c.err, "", "%s: the JIT refused", names[i]);
		cr_assert_str_eq(a.out, b.out, "%s", names[i]);
		cr_assert_str_eq(a.out, c.out, "%s: x86", names[i]);
		cr_assert_geq(count_lines(a.out, "{\"i\":"), 500, "%s", names[i]);
		cr_assert_eq(count_lines(a.out, "{\"maps\":"), 1, "%s", names[i]);
		tu_run_free(&a);
		tu_run_free(&b);
		tu_run_free(&c);
	}
}

static size_t pcap_count(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	cr_assert_not_null(p, "%s", err);
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t n = 0;
	while (pcap_next_ex(p, &h, &d) == 1)
		n++;
	pcap_close(p);
	return n;
}

Test(ash_cli, run_echo)
{
	const char *t = trace(1);
	struct tu_run r = dpf("ash", "run", EXAMPLES "/udp_echo.o", "-r", t,
	                      "--jsonl", "--tx", in_scratch("tx.pcap"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	size_t ntx = 0;
	for (const char *p = r.out; (p = strstr(p, "\"action\":\"tx\"")); p++)
		ntx++;
	cr_assert_gt(ntx, 0, "no echo in the trace");
	cr_assert_eq(pcap_count(in_scratch("tx.pcap")), ntx);
	tu_run_free(&r);

	r = dpf("ash", "run", EXAMPLES "/udp_echo.o", "-r", t, "--repeat", "3",
	        NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, " tx, "), "%s", r.out);
	cr_assert(strstr(r.out, "(median of 3 passes)"), "%s", r.out);
	tu_run_free(&r);
}

static struct tu_run exec_hex(const char *prog, const char *mem,
                              const char *engine)
{
	write_file(in_scratch("prog.hex"), prog);
	const char *argv[] = {DPF_BIN, "ash", "exec", engine, mem, NULL};
	return tu_exec(argv, in_scratch("prog.hex"), 60);
}

Test(ash_cli, exec)
{
	/* r0 = r2 (the length); r0 += *(u8 *)(r1 + 1); exit */
	const char *p = "bf 20 00 00 00 00 00 00\n"
	                "71 13 01 00 00 00 00 00\n"
	                "0f 30 00 00 00 00 00 00\n"
	                "95 00 00 00 00 00 00 00\n";
	struct tu_run r = exec_hex(p, "0a0b0c", "--engine=interp");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "e\n");
	tu_run_free(&r);
	r = exec_hex(p, "0a0b0c", "--engine=checked");
	cr_assert_str_eq(r.out, "e\n", "%s", r.err);
	tu_run_free(&r);
	/* the same program on one byte of memory reads past it: refused */
	r = exec_hex(p, "0a", "--engine=interp");
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, "<stdin>:exec:1: error: ", 23) == 0, "%s", r.err);
	tu_run_free(&r);
	r = exec_hex("95 00 00 00 00 00 00", NULL, "--engine=interp");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "the program is 7 bytes"), "%s", r.err);
	tu_run_free(&r);
	r = exec_hex("zz", NULL, "--engine=interp");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "not a hex digit"), "%s", r.err);
	tu_run_free(&r);
}

Test(ash_cli, handler_in_filters)
{
	char text[1024];
	snprintf(text, sizeof text,
	         "filter echo priority 5 handler \"%s/udp_echo.o\" { udp.dport == 7 }\n"
	         "filter rest { udp }\n",
	         EXAMPLES);
	write_file(in_scratch("echo.dpf"), text);
	struct tu_run r = dpf("check", in_scratch("echo.dpf"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "2 filters, ") && strstr(r.out, "1 handler verified"),
	          "%s", r.out);
	tu_run_free(&r);

	const char *t = trace(1);
	r = dpf("replay", "-r", t, in_scratch("echo.dpf"), "--json", "--tx",
	        in_scratch("tx.pcap"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	unsigned long long m, pass, drop, tx, ab, red;
	const char *p = strstr(r.out, "{\"name\":\"echo\",\"matches\":");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_eq(sscanf(p, "{\"name\":\"echo\",\"matches\":%llu", &m), 1);
	p = strstr(p, "\"actions\":");
	cr_assert_not_null(p, "%s", r.out);
	cr_assert_eq(sscanf(p, "\"actions\":{\"pass\":%llu,\"drop\":%llu,\"tx\":%llu,"
	                       "\"aborted\":%llu,\"redirect\":%llu}",
	                    &pass, &drop, &tx, &ab, &red),
	             5, "%s", p);
	cr_assert_eq(pass + drop + tx + ab + red, m);
	cr_assert_gt(tx, 0);
	cr_assert_eq(pcap_count(in_scratch("tx.pcap")), tx);
	tu_run_free(&r);

	/* a refused handler is reported at its clause */
	snprintf(text, sizeof text,
	         "filter bad handler \"%s/map_null.o\" { udp }\n", HOSTILE_OBJ);
	write_file(in_scratch("bad.dpf"), text);
	r = dpf("check", in_scratch("bad.dpf"), NULL);
	cr_assert_eq(r.status, 1);
	char want[512];
	snprintf(want, sizeof want,
	         "%s:1:20: error: handler \"%s/map_null.o\" of filter 'bad' is "
	         "refused:\n%s/map_null.o:xdp:",
	         in_scratch("bad.dpf"), HOSTILE_OBJ, HOSTILE_OBJ);
	cr_assert(strncmp(r.err, want, strlen(want)) == 0, "%s", r.err);
	tu_run_free(&r);
	r = dpf("replay", "-r", t, in_scratch("bad.dpf"), NULL);
	cr_assert_eq(r.status, 1);
	tu_run_free(&r);

	/* a missing handler file */
	write_file(in_scratch("gone.dpf"),
	           "filter gone handler \"nothere.o\" { udp }\n");
	r = dpf("check", in_scratch("gone.dpf"), NULL);
	cr_assert_eq(r.status, 1);
	snprintf(want, sizeof want,
	         "%s:1:21: error: handler \"nothere.o\" of filter 'gone' is "
	         "refused:\n%s: error: No such file or directory\n",
	         in_scratch("gone.dpf"), in_scratch("nothere.o"));
	cr_assert_str_eq(r.err, want);
	tu_run_free(&r);
}

/* ---- ash compile ---- */

#define GOLDEN_ASH DPF_SOURCE_DIR "/tests/golden/ash"
#define EXAMPLES_SRC DPF_SOURCE_DIR "/ash/examples"

/* The next line of *p (without its newline) into line; 0 at the end. */
static int next_line(const char **p, char *line, size_t cap)
{
	if (!**p)
		return 0;
	size_t n = strcspn(*p, "\n");
	snprintf(line, cap, "%.*s", (int)(n < cap ? n : cap - 1), *p);
	*p += n + ((*p)[n] == '\n');
	return 1;
}

/* Line n (1-based) of text, leading blanks skipped, into line. */
static int source_line(const char *text, unsigned n, char *line, size_t cap)
{
	const char *p = text;
	for (unsigned i = 1; i < n && p; i++)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t l = strcspn(p, "\n");
	snprintf(line, cap, "%.*s", (int)(l < cap ? l : cap - 1), p);
	return 1;
}

/* Check one listing: "PROG (section S): N insns, ..." first, then every
 * slot's header "I: ..." exactly once, in order; with code (asm), each
 * slot but the empty ones has "  +" lines under it; each "; FILE.c:LINE:
 * TEXT" line is line LINE of the example's source.  Returns the headers,
 * one a line (malloc'd). */
static char *check_listing(const char *name, const char *out, int code,
                           const char *src)
{
	const char *p = out;
	char line[512];
	cr_assert(next_line(&p, line, sizeof line), "%s: empty", name);
	const char *q = strstr(line, "): ");
	unsigned n = 0;
	cr_assert(q && sscanf(q, "): %u insns", &n) == 1, "%s: %s", name, line);
	size_t cap = 600 * (size_t)n + 1, len = 0;
	char *heads = malloc(cap);
	cr_assert_not_null(heads);
	heads[0] = 0;
	unsigned next = 0, srclines = 0;
	int in_slot = 0, empty_ok = 0;
	long xs = 0; /* x86 lines under the current slot */
	char cur[512] = "";
	while (next_line(&p, line, sizeof line)) {
		size_t dl = strspn(line, "0123456789");
		if (dl && line[dl] == ':' && line[dl + 1] == ' ') {
			if (in_slot && code)
				cr_assert(xs > 0 || empty_ok, "%s: no code under '%s'",
				          name, cur);
			unsigned i;
			cr_assert_eq(sscanf(line, "%u: ", &i), 1, "%s: %s", name,
			             line);
			cr_assert_eq(i, next, "%s: header %u where %u was due: %s",
			             name, i, next, line);
			next++;
			const char *t = strstr(line, ": ") + 2;
			/* rsh/arsh rX, 32 after lsh rX, 32: one extension,
			 * in the lsh's slot (jit.h, jit_ash_offsets) */
			char fused[64] = "";
			const char *ct = strstr(cur, ": ");
			if (ct && strncmp(ct + 2, "lsh ", 4) == 0 &&
			    strstr(ct, ", 32") && strchr(ct + 6, ','))
				snprintf(fused, sizeof fused, "rsh %.*s, 32",
				         (int)(strchr(ct + 6, ',') - (ct + 6)),
				         ct + 6);
			empty_ok = strcmp(t, "(lddw, second slot)") == 0 ||
			           strncmp(t, "le64 ", 5) == 0 ||
			           (*fused && (strcmp(t, fused) == 0 ||
			                       (t[0] == 'a' &&
			                        strcmp(t + 1, fused) == 0)));
			snprintf(cur, sizeof cur, "%s", line);
			in_slot = 1;
			xs = 0;
			len += (size_t)snprintf(heads + len, cap - len, "%s\n",
			                        line);
			cr_assert_lt(len, cap);
		} else if (strncmp(line, "  +", 3) == 0) {
			cr_assert(code, "%s: code in an insns listing: %s", name,
			          line);
			xs++;
		} else if (strncmp(line, "; function ", 11) == 0 ||
		           strncmp(line, "; subprogram ", 13) == 0) {
			if (in_slot && code)
				cr_assert(xs > 0 || empty_ok,
				          "%s: no code under '%s'", name, cur);
			in_slot = 0; /* the prologue's code follows */
		} else if (line[0] == ';' && strstr(line, ".c:")) {
			unsigned ln;
			const char *c = strstr(line, ".c:");
			cr_assert_eq(sscanf(c, ".c:%u:", &ln), 1, "%s", line);
			const char *t = strchr(c + 3, ':') + 1;
			if (*t == ' ')
				t++;
			char want[512];
			cr_assert(source_line(src, ln, want, sizeof want),
			          "%s: no line %u", name, ln);
			cr_assert_str_eq(t, want, "%s: %s", name, line);
			srclines++;
		}
	}
	if (in_slot && code)
		cr_assert(xs > 0 || empty_ok, "%s: no code under '%s'", name, cur);
	cr_assert_eq(next, n, "%s: %u headers for %u insns", name, next, n);
	cr_assert_gt(srclines, 0, "%s: no source lines", name);
	return heads;
}

Test(ash_cli, compile_examples)
{
	char names[64][64];
	int n = list_objs(EXAMPLES, names, 64);
	cr_assert_geq(n, 10);
	for (int i = 0; i < n; i++) {
		char path[256], src[256];
		snprintf(path, sizeof path, "%s/%.63s", EXAMPLES, names[i]);
		snprintf(src, sizeof src, "%s/%.*s.c", EXAMPLES_SRC,
		         (int)strlen(names[i]) - 2, names[i]);
		char *text = tu_read_file(src, NULL);
		cr_assert_not_null(text, "%s", src);
		struct tu_run a = dpf("ash", "compile", path, NULL);
		cr_assert_eq(a.status, 0, "%s: %s", names[i], a.err);
		cr_assert_str_empty(a.err, "%s", names[i]);
		cr_assert(strstr(a.out, "\n; entry: ") &&
		          strstr(a.out, "\n; function ") &&
		          strstr(a.out, ": prologue\n") &&
		          strstr(a.out, "\n; epilogue\n"),
		          "%s: labels missing", names[i]);
		cr_assert_null(strstr(a.out, "not decoded"), "%s", names[i]);
		cr_assert(strstr(a.out, " code bytes\n\n") == NULL &&
		          strstr(a.out, "\n\n") && strstr(a.out, " code bytes\n"),
		          "%s: summary", names[i]);
		char *ha = check_listing(names[i], a.out, 1, text);
		struct tu_run b = dpf("ash", "compile", path, "--emit=insns",
		                      NULL);
		cr_assert_eq(b.status, 0, "%s: %s", names[i], b.err);
		char *hb = check_listing(names[i], b.out, 0, text);
		cr_assert_str_eq(ha, hb, "%s: asm and insns headers differ",
		                 names[i]);
		free(ha);
		free(hb);
		free(text);
		tu_run_free(&a);
		tu_run_free(&b);
	}
	/* subprograms are labelled */
	struct tu_run r = dpf("ash", "compile", EXAMPLES "/subprogs.o", NULL);
	cr_assert(strstr(r.out, "\n; subprogram at insn "), "%s", r.out);
	tu_run_free(&r);
}

Test(ash_cli, compile_insns_golden)
{
	struct tu_run r = dpf("ash", "compile", EXAMPLES "/udp_echo.o",
	                      "--emit=insns", NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	char *want = tu_read_file(GOLDEN_ASH "/udp_echo.insns", NULL);
	cr_assert_not_null(want);
	cr_assert_str_eq(r.out, want);
	tu_run_free(&r);
	/* -o writes the same */
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", "--emit=insns", "-o",
	        in_scratch("u.insns"), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_empty(r.out);
	char *got = tu_read_file(in_scratch("u.insns"), NULL);
	cr_assert_str_eq(got, want);
	free(got);
	free(want);
	tu_run_free(&r);
}

/* An image written by compile runs exactly as its object, and lists the
 * same. */
Test(ash_cli, compile_image_round_trip)
{
	const char *t = trace(1);
	const char *objs[] = {"udp_echo", "counters", "global_data", "subprogs"};
	for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
		char obj[256], img[256];
		snprintf(obj, sizeof obj, "%s/%s.o", EXAMPLES, objs[i]);
		snprintf(img, sizeof img, "%s/%s.img", scratch, objs[i]);
		struct tu_run c = dpf("ash", "compile", obj, "--emit=image", "-o",
		                      img, NULL);
		cr_assert_eq(c.status, 0, "%s: %s", objs[i], c.err);
		cr_assert_str_empty(c.out);
		tu_run_free(&c);
		struct tu_run a = dpf("ash", "run", obj, "-r", t, "--jsonl", NULL);
		struct tu_run b = dpf("ash", "run", img, "-r", t, "--jsonl", NULL);
		cr_assert_eq(a.status, 0, "%s: %s", objs[i], a.err);
		cr_assert_eq(b.status, 0, "%s: %s", objs[i], b.err);
		cr_assert_str_eq(a.out, b.out, "%s", objs[i]);
		cr_assert_geq(count_lines(a.out, "{\"i\":"), 500);
		tu_run_free(&a);
		tu_run_free(&b);
		a = dpf("ash", "compile", obj, "--emit=insns", NULL);
		b = dpf("ash", "compile", img, "--emit=insns", NULL);
		cr_assert_eq(b.status, 0, "%s: %s", objs[i], b.err);
		cr_assert_str_eq(a.out, b.out, "%s", objs[i]);
		tu_run_free(&a);
		tu_run_free(&b);
		/* to standard output when it is no terminal */
		c = dpf("ash", "compile", obj, "--emit=image", NULL);
		size_t len;
		char *bytes = tu_read_file(img, &len);
		cr_assert_eq(c.outlen, len, "%s", objs[i]);
		cr_assert(memcmp(c.out, bytes, len) == 0, "%s", objs[i]);
		free(bytes);
		tu_run_free(&c);
	}
}

/* --set is applied before the image is written: the image of a knob set
 * runs as the object run with the same --set, not as the default. */
Test(ash_cli, compile_image_with_set)
{
	const char *t = trace(1);
	const char *img = in_scratch("gd.img");
	struct tu_run c = dpf("ash", "compile", EXAMPLES "/global_data.o",
	                      "--emit=image", "--set", "drop_enabled=0", "-o",
	                      img, NULL);
	cr_assert_eq(c.status, 0, "%s", c.err);
	tu_run_free(&c);
	struct tu_run a = dpf("ash", "run", EXAMPLES "/global_data.o", "-r", t,
	                      "--jsonl", "--set", "drop_enabled=0", NULL);
	struct tu_run b = dpf("ash", "run", img, "-r", t, "--jsonl", NULL);
	struct tu_run d = dpf("ash", "run", EXAMPLES "/global_data.o", "-r", t,
	                      "--jsonl", NULL);
	cr_assert_eq(a.status, 0, "%s", a.err);
	cr_assert_eq(b.status, 0, "%s", b.err);
	cr_assert_str_eq(a.out, b.out);
	cr_assert_str_neq(b.out, d.out, "the knob changed nothing");
	tu_run_free(&a);
	tu_run_free(&b);
	tu_run_free(&d);
	/* an image takes no --set */
	c = dpf("ash", "compile", img, "--emit=insns", "--set", "port=7", NULL);
	cr_assert_eq(c.status, 1);
	cr_assert(strstr(c.err, "--set applies to ELF objects"), "%s", c.err);
	tu_run_free(&c);
}

Test(ash_cli, compile_errors)
{
	struct tu_run r = dpf("ash", "compile", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "give exactly one object"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", EXAMPLES "/counters.o",
	        NULL);
	cr_assert_eq(r.status, 2);
	tu_run_free(&r);
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", "--emit=llvm", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown --emit kind 'llvm'"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", "-r", "x", NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--read' does not apply"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "run", EXAMPLES "/udp_echo.o", "-r", "x", "--emit=asm",
	        NULL);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--emit' does not apply"), "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "--help", NULL);
	cr_assert(strstr(r.out, "dpf ash compile OBJ [--emit=asm|image|insns]"),
	          "%s", r.out);
	tu_run_free(&r);

	/* bad objects and refusals: exit 1, the usual messages, no output */
	write_file(in_scratch("text.o"), "not an object\n");
	r = dpf("ash", "compile", in_scratch("text.o"), "-o", in_scratch("o.s"),
	        NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, ": error: "), "%s", r.err);
	cr_assert_neq(access(in_scratch("o.s"), F_OK), 0);
	tu_run_free(&r);
	const char *argv[] = {DPF_BIN, "ash", "compile", "map_null.o",
	                      "--emit=insns", NULL};
	char cwd[512];
	cr_assert_not_null(getcwd(cwd, sizeof cwd));
	cr_assert_eq(chdir(HOSTILE_OBJ), 0);
	r = tu_exec(argv, NULL, 60);
	cr_assert_eq(chdir(cwd), 0);
	char *want = tu_read_file(HOSTILE_SRC "/map_null.err", NULL);
	cr_assert_not_null(want);
	cr_assert_eq(r.status, 1);
	cr_assert_str_eq(r.err, want);
	cr_assert_str_empty(r.out);
	free(want);
	tu_run_free(&r);
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", "--max-insns", "5",
	        NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strncmp(r.err, EXAMPLES "/udp_echo.o:xdp:", 
	                  strlen(EXAMPLES "/udp_echo.o:xdp:")) == 0, "%s", r.err);
	tu_run_free(&r);
	r = dpf("ash", "compile", EXAMPLES "/udp_echo.o", "--program", "nope",
	        NULL);
	cr_assert_eq(r.status, 1);
	tu_run_free(&r);
}

/* --emit=image never goes to a terminal. */
Test(ash_cli, compile_image_never_to_a_terminal)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
		cr_skip_test("no pseudo-terminal available");
	int s = open(ptsname(m), O_RDWR | O_NOCTTY);
	cr_assert_geq(s, 0);
	const char *err = in_scratch("tty.err");
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (e < 0 || in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(s, 1);
		dup2(e, 2);
		execl(DPF_BIN, "dpf", "ash", "compile", EXAMPLES "/udp_echo.o",
		      "--emit=image", (char *)NULL);
		_exit(127);
	}
	close(s);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	close(m);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 2);
	char *text = tu_read_file(err, NULL);
	cr_assert_str_eq(text, "dpf ash compile: refusing to write a program "
	                       "image to a terminal; use -o OUT or redirect "
	                       "standard output\n");
	free(text);
}
