/*
 * testutil.c - helpers shared by the unit tests.
 */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dpf/lang/lang.h"

struct dpf_prog *tu_parse(const char *src)
{
	struct dpf_prog *p = NULL;
	struct dpf_diag d = {{0}};
	int rc = dpf_lang_parse("test.dpf", src, strlen(src), &p, &d);
	if (rc != 0)
		cr_assert_fail("parse failed: %s\n--- source ---\n%s", d.msg, src);
	return p;
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

uint64_t tu_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Read everything from fd into a NUL-terminated buffer. */
static char *drain_fd(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap + 1);
			cr_assert_not_null(b);
		}
		ssize_t k = read(fd, b + n, cap - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	b[n] = 0;
	if (len)
		*len = n;
	return b;
}

struct tu_run tu_exec(const char *const *argv, const char *in_path,
                      int timeout_s)
{
	char outp[] = "/tmp/dpf_tu_out_XXXXXX", errp[] = "/tmp/dpf_tu_err_XXXXXX";
	int o = mkstemp(outp), e = mkstemp(errp);
	cr_assert(o >= 0 && e >= 0);
	unlink(outp);
	unlink(errp);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
		if (in < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	struct timespec nap = {0, 1000000};
	long waited_ms = 0;
	int st, status;
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (waited_ms > (long)timeout_s * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			status = -1;
			break;
		}
		nanosleep(&nap, NULL);
		waited_ms++;
	}
	struct tu_run r;
	r.status = status;
	lseek(o, 0, SEEK_SET);
	lseek(e, 0, SEEK_SET);
	r.out = drain_fd(o, &r.outlen);
	r.err = drain_fd(e, NULL);
	close(o);
	close(e);
	return r;
}

void tu_run_free(struct tu_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}
