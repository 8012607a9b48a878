/*
 * corpus_oracle.c - check DPF against libpcap on real captures.
 *
 * Interface:
 *   corpus_oracle [-f FILTERS.dpf] [-d PCAP_DIR] [--dpf PATH] [-q]
 *   FILTERS.dpf (default tests/corpus/filters.dpf) holds filters that
 *   tcpdump can also express; each is preceded by a comment line
 *   "# tcpdump: EXPR" with the equivalent libpcap expression.  PCAP_DIR
 *   defaults to ../shared/corpus/pcap beside the source tree.  With --dpf,
 *   the `dpf replay --json --repeat 1` of that binary is checked as well.
 *   One line per capture is printed (-q: only for captures that fail),
 *   then a table of filters and a final "corpus: ..." line.
 *   Exit status: 0 all agree, 1 a disagreement, 2 a usage or setup error,
 *   77 the capture directory does not exist (the test is skipped).
 *
 * For every Ethernet capture (others are skipped and listed by name), each
 * packet is run through every filter's libpcap program (pcap_compile with
 * optimisation on pcap_open_dead(DLT_EN10MB), bpf_filter on the captured
 * bytes with the wire length), and DPF's rule picks at most one winner:
 * the highest priority, then the highest specificity.  A filter's
 * specificity is known only as the range [min, max] of
 * dpf_path_specificity over its paths, so two matching filters of equal
 * priority whose ranges overlap cannot be ordered: the oracle says so and
 * fails, and the filter set must be written to avoid it.  The winner is
 * compared per packet with dpf_classify and dpf_classify_naive on an
 * engine holding the same filters, and per capture with the per-filter
 * counts `dpf replay --json` prints.
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dpf/dpf.h"
#include "dpf/lang/lang.h"

#ifndef DPF_SOURCE_DIR
#define DPF_SOURCE_DIR "."
#endif

#define MAX_REPORTED 12   /* mismatching packets printed in full */
#define REPLAY_TIMEOUT 60 /* seconds for one `dpf replay` */

struct oracle_filter {
	const struct dpf_filter *f; /* from the parsed program */
	char *expr;                 /* the tcpdump expression */
	struct bpf_program bpf;
	uint32_t spec_lo, spec_hi;  /* specificity range over the paths */
	int id;                     /* engine id */
	unsigned long cap_matches;  /* per capture: packets it wins */
	unsigned long tot_bpf;      /* whole run: packets libpcap accepts */
	unsigned long tot_wins;     /* whole run: packets it wins */
};

struct oracle {
	const char *filters_path;
	const char *pcap_dir;
	const char *dpf_cli;
	int quiet; /* print only the captures that fail */

	struct dpf_prog *prog;
	struct oracle_filter *of;
	unsigned nf;
	struct dpf_engine *engine;
	int *id_to_filter; /* engine id -> index in of[] */
	int id_limit;
	unsigned char *hit; /* per filter: libpcap accepted this packet */

	/* totals */
	unsigned long captures, packets, mismatches, undecided;
	unsigned long replay_bad, reported;
	unsigned long cap_unmatched;
	char **skipped_link;
	unsigned nskipped_link;
	char **unreadable;
	unsigned nunreadable;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fprintf(stderr, "corpus_oracle: out of memory\n");
		exit(2);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p) {
		fprintf(stderr, "corpus_oracle: out of memory\n");
		exit(2);
	}
	return p;
}

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, 4096, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

/*
 * Attach each "# tcpdump: EXPR" comment to the filter that follows it: the
 * comment must lie after the previous filter's name and before this one's.
 */
static int attach_exprs(struct oracle *o, char *text)
{
	uint32_t line = 1;
	char *p = text;

	while (*p) {
		char *eol = strchr(p, '\n');
		char *s = p;
		if (eol)
			*eol = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#') {
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
			if (strncmp(s, "tcpdump:", 8) == 0) {
				s += 8;
				while (*s == ' ' || *s == '\t')
					s++;
				char *end = s + strlen(s);
				while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
				                   end[-1] == '\r'))
					*--end = '\0';
				/* The first filter declared after this line. */
				int owner = -1;
				for (unsigned i = 0; i < o->nf; i++) {
					uint32_t fl = o->of[i].f->line;
					if (fl > line &&
					    (owner < 0 || fl < o->of[owner].f->line))
						owner = (int)i;
				}
				if (owner < 0) {
					fprintf(stderr, "%s:%u: tcpdump comment after the last "
					        "filter\n", o->filters_path, line);
					return -1;
				}
				if (o->of[owner].expr) {
					fprintf(stderr, "%s:%u: second tcpdump comment for "
					        "filter '%s'\n", o->filters_path, line,
					        o->of[owner].f->name);
					return -1;
				}
				o->of[owner].expr = xstrdup(s);
			}
		}
		if (!eol)
			break;
		p = eol + 1;
		line++;
	}
	for (unsigned i = 0; i < o->nf; i++) {
		if (!o->of[i].expr) {
			fprintf(stderr, "%s:%u: filter '%s' has no '# tcpdump:' "
			        "comment before it\n", o->filters_path,
			        o->of[i].f->line, o->of[i].f->name);
			return -1;
		}
	}
	return 0;
}

/* Parse the filter file, compile the tcpdump side, build the engine. */
static int load_filters(struct oracle *o)
{
	struct dpf_diag d;
	char *text;

	memset(&d, 0, sizeof d);
	if (dpf_lang_parse_file(o->filters_path, &o->prog, &d) != 0) {
		fprintf(stderr, "%s\n", d.msg);
		return -1;
	}
	o->nf = o->prog->nfilters;
	if (o->nf == 0) {
		fprintf(stderr, "%s: no filters\n", o->filters_path);
		return -1;
	}
	o->of = xcalloc(o->nf, sizeof *o->of);
	o->hit = xcalloc(o->nf, 1);
	for (unsigned i = 0; i < o->nf; i++) {
		struct oracle_filter *x = &o->of[i];
		x->f = &o->prog->filters[i];
		x->spec_lo = UINT32_MAX;
		for (uint32_t j = 0; j < x->f->npaths; j++) {
			uint32_t s = dpf_path_specificity(&x->f->paths[j]);
			if (s < x->spec_lo)
				x->spec_lo = s;
			if (s > x->spec_hi)
				x->spec_hi = s;
		}
	}

	text = read_text(o->filters_path);
	if (!text) {
		fprintf(stderr, "%s: %s\n", o->filters_path, strerror(errno));
		return -1;
	}
	int rc = attach_exprs(o, text);
	free(text);
	if (rc != 0)
		return -1;

	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 262144);
	if (!dead) {
		fprintf(stderr, "pcap_open_dead failed\n");
		return -1;
	}
	for (unsigned i = 0; i < o->nf; i++) {
		struct oracle_filter *x = &o->of[i];
		if (pcap_compile(dead, &x->bpf, x->expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			fprintf(stderr, "%s:%u: filter '%s': libpcap refuses '%s': %s\n",
			        o->filters_path, x->f->line, x->f->name, x->expr,
			        pcap_geterr(dead));
			pcap_close(dead);
			return -1;
		}
	}
	pcap_close(dead);

	o->engine = dpf_engine_new(dpf_host_libc());
	if (!o->engine) {
		fprintf(stderr, "dpf_engine_new failed\n");
		return -1;
	}
	for (unsigned i = 0; i < o->nf; i++) {
		memset(&d, 0, sizeof d);
		if (dpf_insert(o->engine, o->of[i].f, &o->of[i].id, &d) != 0) {
			fprintf(stderr, "%s:%u: filter '%s' refused by the engine: %s\n",
			        o->filters_path, o->of[i].f->line, o->of[i].f->name,
			        d.msg);
			return -1;
		}
	}
	o->id_limit = dpf_id_limit(o->engine);
	o->id_to_filter = xcalloc((size_t)o->id_limit, sizeof(int));
	for (int id = 0; id < o->id_limit; id++)
		o->id_to_filter[id] = -1;
	for (unsigned i = 0; i < o->nf; i++)
		o->id_to_filter[o->of[i].id] = (int)i;
	return 0;
}

static const char *winner_name(const struct oracle *o, int idx)
{
	return idx < 0 ? "(none)" : o->of[idx].f->name;
}

/* Engine id to filter index; anything unknown is a failure by itself. */
static int id_index(const struct oracle *o, int id)
{
	if (id == DPF_NOMATCH)
		return -1;
	if (id < 0 || id >= o->id_limit || o->id_to_filter[id] < 0)
		return -2;
	return o->id_to_filter[id];
}

static void hexdump(const uint8_t *p, uint32_t len)
{
	uint32_t n = len < 64 ? len : 64;
	for (uint32_t i = 0; i < n; i++)
		printf("%s%02x%s", (i % 16 == 0) ? "      " : " ", p[i],
		       (i % 16 == 15 || i + 1 == n) ? "\n" : "");
}

static void print_hits(const struct oracle *o)
{
	printf("      libpcap accepts:");
	int any = 0;
	for (unsigned i = 0; i < o->nf; i++) {
		if (o->hit[i]) {
			printf(" %s(p%u,s%u-%u)", o->of[i].f->name, o->of[i].f->priority,
			       o->of[i].spec_lo, o->of[i].spec_hi);
			any = 1;
		}
	}
	printf("%s\n", any ? "" : " nothing");
}

/*
 * DPF's rule over the filters libpcap accepted.  Returns the winning index,
 * -1 for none, or -2 when equal-priority candidates have overlapping
 * specificity ranges and so cannot be ordered.
 */
static int oracle_winner(const struct oracle *o)
{
	int top = -1;
	uint32_t prio = 0;

	for (unsigned i = 0; i < o->nf; i++)
		if (o->hit[i] && (top < 0 || o->of[i].f->priority > prio)) {
			top = (int)i;
			prio = o->of[i].f->priority;
		}
	if (top < 0)
		return -1;
	/* Among the top priority, the highest lower bound must beat every
	 * other candidate's upper bound. */
	int cand = -1;
	for (unsigned i = 0; i < o->nf; i++)
		if (o->hit[i] && o->of[i].f->priority == prio &&
		    (cand < 0 || o->of[i].spec_lo > o->of[cand].spec_lo))
			cand = (int)i;
	for (unsigned i = 0; i < o->nf; i++)
		if (o->hit[i] && (int)i != cand && o->of[i].f->priority == prio &&
		    o->of[i].spec_hi >= o->of[cand].spec_lo)
			return -2;
	return cand;
}

/* ---- `dpf replay --json` ---- */

/* Run argv, collect stdout (stderr passes through); returns the wait
 * status, or -1 when the program could not be run. */
static int run_capture(char *const argv[], char **out)
{
	int fd[2];
	size_t len = 0, cap = 4096;
	char *buf = xcalloc(cap, 1);
	pid_t pid;
	int status;

	*out = buf;
	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		alarm(REPLAY_TIMEOUT);
		execv(argv[0], argv);
		fprintf(stderr, "corpus_oracle: cannot run %s: %s\n", argv[0],
		        strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		if (len + 1024 + 1 > cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, "corpus_oracle: out of memory\n");
				exit(2);
			}
			buf = nb;
			*out = buf;
		}
		ssize_t n = read(fd[0], buf + len, 1024);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* The number after "key": at or after p; -1 when absent. */
static long json_number(const char *p, const char *key, const char **after)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *k = strstr(p, pat);
	if (!k)
		return -1;
	k += strlen(pat);
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	if (*k++ != ':')
		return -1;
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	char *end;
	long v = strtol(k, &end, 10);
	if (end == k)
		return -1;
	if (after)
		*after = end;
	return v;
}

/*
 * Compare one replay's JSON with the oracle's counts for the capture.
 * Shape: {"packets":N,...,"unmatched":U,...,"filters":[{"name":"x",
 * "matches":K},...],...}.  Names are [A-Za-z0-9_.-], so no escapes.
 */
static int check_replay(struct oracle *o, const char *path, const char *name,
                        unsigned long npackets)
{
	char *argv[] = {(char *)o->dpf_cli, "replay", "--json", "--repeat", "1",
	                "-r", (char *)path, (char *)o->filters_path, NULL};
	char *out = NULL;
	int bad = 0;
	int st = run_capture(argv, &out);

	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (st >= 0 && WIFSIGNALED(st))
			printf("    replay %s: killed by signal %d\n", name,
			       WTERMSIG(st));
		else
			printf("    replay %s: exit status %d\n", name,
			       st < 0 ? -1 : WEXITSTATUS(st));
		free(out);
		return 1;
	}
	long pk = json_number(out, "packets", NULL);
	long um = json_number(out, "unmatched", NULL);
	if (pk < 0 || (unsigned long)pk != npackets) {
		printf("    replay %s: packets %ld, oracle read %lu\n", name, pk,
		       npackets);
		bad = 1;
	}
	if (um < 0 || (unsigned long)um != o->cap_unmatched) {
		printf("    replay %s: unmatched %ld, oracle %lu\n", name, um,
		       o->cap_unmatched);
		bad = 1;
	}
	const char *arr = strstr(out, "\"filters\"");
	unsigned seen = 0;
	if (!arr) {
		printf("    replay %s: no \"filters\" in its output\n", name);
		bad = 1;
	}
	while (arr) {
		const char *nk = strstr(arr, "\"name\"");
		const char *close = strchr(arr, ']');
		if (!nk || (close && close < nk))
			break;
		const char *q = strchr(nk + 6, '"');
		if (!q)
			break;
		const char *qe = strchr(q + 1, '"');
		if (!qe)
			break;
		const char *after;
		long m = json_number(qe, "matches", &after);
		int idx = -1;
		for (unsigned i = 0; i < o->nf; i++)
			if (strlen(o->of[i].f->name) == (size_t)(qe - q - 1) &&
			    strncmp(o->of[i].f->name, q + 1, (size_t)(qe - q - 1)) == 0)
				idx = (int)i;
		if (idx < 0) {
			printf("    replay %s: unknown filter %.*s\n", name,
			       (int)(qe - q - 1), q + 1);
			bad = 1;
		} else {
			seen++;
			if (m < 0 || (unsigned long)m != o->of[idx].cap_matches) {
				printf("    replay %s: filter %s matches %ld, oracle %lu\n",
				       name, o->of[idx].f->name, m,
				       o->of[idx].cap_matches);
				bad = 1;
			}
		}
		if (m < 0)
			break;
		arr = after;
	}
	if (arr && seen != o->nf) {
		printf("    replay %s: reports %u filters of %u\n", name, seen, o->nf);
		bad = 1;
	}
	free(out);
	return bad;
}

/* ---- captures ---- */

static void add_name(char ***list, unsigned *n, const char *s)
{
	char **nl = realloc(*list, (*n + 1) * sizeof **list);
	if (!nl) {
		fprintf(stderr, "corpus_oracle: out of memory\n");
		exit(2);
	}
	*list = nl;
	nl[(*n)++] = xstrdup(s);
}

static void run_capture_file(struct oracle *o, const char *path,
                             const char *name)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_open_offline(path, errbuf);
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long n = 0, mism = 0, undec = 0;
	char note[512];
	int rc;

	if (!p) {
		snprintf(note, sizeof note, "%s (%s)", name, errbuf);
		add_name(&o->unreadable, &o->nunreadable, note);
		return;
	}
	int dlt = pcap_datalink(p);
	if (dlt != DLT_EN10MB) {
		const char *dn = pcap_datalink_val_to_name(dlt);
		snprintf(note, sizeof note, "%s (%s)", name, dn ? dn : "unknown");
		add_name(&o->skipped_link, &o->nskipped_link, note);
		pcap_close(p);
		return;
	}

	o->captures++;
	o->cap_unmatched = 0;
	for (unsigned i = 0; i < o->nf; i++)
		o->of[i].cap_matches = 0;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		n++;
		for (unsigned i = 0; i < o->nf; i++) {
			o->hit[i] = bpf_filter(o->of[i].bpf.bf_insns, data, h->len,
			                       h->caplen) != 0;
			o->of[i].tot_bpf += o->hit[i];
		}
		int want = oracle_winner(o);
		if (want == -2) {
			undec++;
			if (o->reported++ < MAX_REPORTED) {
				printf("    UNDECIDABLE %s packet %lu: equal-priority "
				       "filters with overlapping specificity both match\n",
				       name, n);
				print_hits(o);
			}
			continue;
		}
		if (want >= 0) {
			o->of[want].cap_matches++;
			o->of[want].tot_wins++;
		} else {
			o->cap_unmatched++;
		}
		int t = id_index(o, dpf_classify(o->engine, data, h->caplen));
		int nv = id_index(o, dpf_classify_naive(o->engine, data, h->caplen));
		if (t != want || nv != want) {
			mism++;
			if (o->reported++ < MAX_REPORTED) {
				printf("    MISMATCH %s packet %lu (caplen %u, len %u): "
				       "oracle %s, dpf_classify %s, dpf_classify_naive %s\n",
				       name, n, h->caplen, h->len, winner_name(o, want),
				       t == -2 ? "(bad id)" : winner_name(o, t),
				       nv == -2 ? "(bad id)" : winner_name(o, nv));
				print_hits(o);
				hexdump(data, h->caplen);
			}
		}
	}
	if (rc == -1)
		printf("    note %s: read stopped after %lu packets: %s\n", name, n,
		       pcap_geterr(p));
	pcap_close(p);

	int rbad = 0;
	if (o->dpf_cli && undec == 0)
		rbad = check_replay(o, path, name, n);
	o->packets += n;
	o->mismatches += mism;
	o->undecided += undec;
	o->replay_bad += (unsigned long)rbad;
	if (!o->quiet || mism || undec || rbad)
		printf("  %-4s %s: %lu packets, %lu mismatches%s%s\n",
		       (mism || undec || rbad) ? "FAIL" : "ok", name, n, mism,
		       undec ? ", undecidable packets" : "",
		       rbad ? ", replay disagrees" : "");
}

/* A titled, comma-separated list wrapped at about 100 columns. */
static void print_list(const char *title, char **names, unsigned n)
{
	size_t col = 0;

	if (!n)
		return;
	printf("\n%s, %u:\n", title, n);
	for (unsigned i = 0; i < n; i++) {
		size_t w = strlen(names[i]) + 2;
		if (col && col + w > 100) {
			printf(",\n");
			col = 0;
		} else if (col) {
			printf(", ");
		}
		if (!col) {
			printf("  ");
			col = 2;
		}
		printf("%s", names[i]);
		col += w;
	}
	printf("\n");
}

static int only_files(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void usage(void)
{
	fprintf(stderr, "usage: corpus_oracle [-f FILTERS.dpf] [-d PCAP_DIR] "
	        "[--dpf PATH] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct oracle o;
	struct dirent **ents;
	struct stat st;
	int n;

	memset(&o, 0, sizeof o);
	o.filters_path = DPF_SOURCE_DIR "/tests/corpus/filters.dpf";
	o.pcap_dir = DPF_SOURCE_DIR "/../shared/corpus/pcap";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			o.filters_path = argv[++i];
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			o.pcap_dir = argv[++i];
		else if (strcmp(argv[i], "--dpf") == 0 && i + 1 < argc)
			o.dpf_cli = argv[++i];
		else if (strcmp(argv[i], "-q") == 0)
			o.quiet = 1;
		else
			usage();
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (stat(o.pcap_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("SKIP corpus: ../shared/corpus/pcap not found (%s)\n",
		       o.pcap_dir);
		return 77;
	}
	if (load_filters(&o) != 0)
		return 2;
	printf("corpus: %u filters from %s; captures in %s\n", o.nf,
	       o.filters_path, o.pcap_dir);

	n = scandir(o.pcap_dir, &ents, only_files, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", o.pcap_dir, strerror(errno));
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", o.pcap_dir, ents[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			run_capture_file(&o, path, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);

	printf("\n  %-22s %5s %9s %9s %9s  %s\n", "filter", "prio", "spec",
	       "libpcap", "wins", "tcpdump");
	for (unsigned i = 0; i < o.nf; i++) {
		const struct oracle_filter *x = &o.of[i];
		char spec[24];
		snprintf(spec, sizeof spec, "%u-%u", x->spec_lo, x->spec_hi);
		printf("  %-22s %5u %9s %9lu %9lu  %s\n", x->f->name, x->f->priority,
		       spec, x->tot_bpf, x->tot_wins, x->expr);
	}
	print_list("skipped (link type not Ethernet)", o.skipped_link,
	           o.nskipped_link);
	print_list("skipped (libpcap cannot open)", o.unreadable, o.nunreadable);
	if (!o.dpf_cli)
		printf("\nnote: no --dpf given, `dpf replay` not checked\n");
	if (o.undecided)
		printf("\n%lu packets matched equal-priority filters with "
		       "overlapping specificity: the oracle cannot order them; "
		       "change the filter set\n", o.undecided);

	int fail = o.mismatches || o.undecided || o.replay_bad;
	printf("\ncorpus: %lu captures x %u filters, %lu packets, %lu mismatches",
	       o.captures, o.nf, o.packets, o.mismatches);
	if (o.undecided)
		printf(", %lu undecidable", o.undecided);
	if (o.dpf_cli)
		printf(", %lu replay disagreements", o.replay_bad);
	printf("; %u skipped (link type)", o.nskipped_link);
	if (o.nunreadable)
		printf(", %u skipped (unreadable)", o.nunreadable);
	printf("\n");

	for (unsigned i = 0; i < o.nf; i++) {
		pcap_freecode(&o.of[i].bpf);
		free(o.of[i].expr);
	}
	for (unsigned i = 0; i < o.nskipped_link; i++)
		free(o.skipped_link[i]);
	for (unsigned i = 0; i < o.nunreadable; i++)
		free(o.unreadable[i]);
	free(o.skipped_link);
	free(o.unreadable);
	free(o.of);
	free(o.hit);
	free(o.id_to_filter);
	dpf_engine_free(o.engine);
	dpf_prog_free(dpf_host_libc(), o.prog);
	return fail ? 1 : 0;
}
