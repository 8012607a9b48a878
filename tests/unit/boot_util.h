/*
 * boot_util.h - running the built `dpf` for the boot tests (test_boot.c,
 * test_boot_e2e.c): a scratch directory per test, a child with extra
 * environment variables, stdout and stderr captured, a deadline.
 *
 * Header-only (static functions) so each test binary takes what it uses.
 */
#ifndef DPF_TEST_BOOT_UTIL_H
#define DPF_TEST_BOOT_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define BU_DPF DPF_BINARY_DIR "/cli/dpf"
/* each test binary uses some of these */
#define BU_FN static __attribute__((unused))

struct bu_run {
	int status; /* exit status; 128+N for signal N; -1 timed out */
	char *out, *err;
	double secs; /* wall time */
};

static char bu_scratch[256];

BU_FN int bu_rm(const char *p, const struct stat *st, int flag,
                struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

BU_FN void bu_scratch_init(void)
{
	snprintf(bu_scratch, sizeof bu_scratch, "/tmp/dpf_boot_XXXXXX");
	cr_assert_not_null(mkdtemp(bu_scratch));
}

BU_FN void bu_scratch_fini(void)
{
	if (bu_scratch[0])
		nftw(bu_scratch, bu_rm, 16, FTW_DEPTH | FTW_PHYS);
	bu_scratch[0] = 0;
}

BU_FN const char *bu_path(const char *name)
{
	static char buf[8][512];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof buf[0], "%s/%s", bu_scratch, name);
	return b;
}

BU_FN void bu_write(const char *name, const char *text, int mode)
{
	const char *p = bu_path(name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "cannot create %s", p);
	fputs(text, f);
	fclose(f);
	chmod(p, (mode_t)mode);
}

BU_FN double bu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run dpf with argv (NULL-ended, without "dpf") and env ("NAME=VALUE"
 * strings, NULL-ended; may be NULL) in the scratch directory; send it
 * signal sig after sig_after_s seconds (sig 0: none); kill it after
 * timeout_s. */
BU_FN struct bu_run bu_dpf_signal(const char *const *env,
                                  const char *const *args, int timeout_s,
                                  double sig_after_s, int sig)
{
	const char *argv[64];
	int n = 0;
	argv[n++] = "dpf";
	for (; *args && n < 63; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	char out[600], err[600];
	snprintf(out, sizeof out, "%s/.run.out", bu_scratch);
	snprintf(err, sizeof err, "%s/.run.err", bu_scratch);
	double t0 = bu_now();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (o < 0 || e < 0 || in < 0 || chdir(bu_scratch) != 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		for (; env && *env; env++)
			putenv((char *)*env);
		execv(BU_DPF, (char *const *)argv);
		_exit(127);
	}
	struct timespec nap = {0, 2000000};
	int st = 0;
	struct bu_run r;
	r.status = -1;
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (sig && bu_now() - t0 > sig_after_s) {
			kill(pid, sig);
			sig = 0;
		}
		if (bu_now() - t0 > timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		nanosleep(&nap, NULL);
	}
	r.secs = bu_now() - t0;
	r.out = tu_read_file(out, NULL);
	r.err = tu_read_file(err, NULL);
	if (!r.out)
		r.out = calloc(1, 1);
	if (!r.err)
		r.err = calloc(1, 1);
	return r;
}

BU_FN struct bu_run bu_dpf(const char *const *env,
                           const char *const *args, int timeout_s)
{
	return bu_dpf_signal(env, args, timeout_s, 0, 0);
}

BU_FN void bu_free(struct bu_run *r)
{
	free(r->out);
	free(r->err);
}

/* The `"filters":[...]` part of a JSON line (malloc'd), for comparing
 * boot with replay. */
BU_FN char *bu_json_part(const char *json, const char *key)
{
	const char *s = strstr(json, key);
	cr_assert_not_null(s, "no %s in %s", key, json);
	const char *e = s + strlen(key);
	int depth = 0;
	for (; *e; e++) {
		if (*e == '[' || *e == '{')
			depth++;
		else if (*e == ']' || *e == '}') {
			if (depth == 0)
				break;
			if (--depth == 0) {
				e++;
				break;
			}
		} else if (*e == ',' && depth == 0)
			break;
	}
	return strndup(s, (size_t)(e - s));
}

/* dpf boot's and dpf replay's JSON agree on packets, bytes, unmatched and
 * every filter's matches. */
BU_FN void bu_assert_same_counts(const char *boot, const char *replay)
{
	static const char *const keys[] = {"\"packets\":", "\"bytes\":",
	                                   "\"unmatched\":", "\"filters\":"};
	for (size_t i = 0; i < 4; i++) {
		char *x = bu_json_part(boot, keys[i]);
		char *y = bu_json_part(replay, keys[i]);
		cr_assert_str_eq(x, y, "boot %s\nreplay %s", boot, replay);
		free(x);
		free(y);
	}
}

#endif
