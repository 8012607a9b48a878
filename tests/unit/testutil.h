/*
 * testutil.h - helpers shared by the unit tests.
 */
#ifndef DPF_TESTUTIL_H
#define DPF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dpf/dpf.h"

/* Parse DPF text (file name "test.dpf"); aborts the test on error. */
struct dpf_prog *tu_parse(const char *src);
/* Read a whole file into a malloc'd NUL-terminated buffer; NULL on error. */
char *tu_read_file(const char *path, size_t *len);
/* Deterministic PRNG (xorshift64*). */
uint64_t tu_rand(uint64_t *state);

/* Run a command: argv[0] is the program path; stdin from in_path
 * (/dev/null when NULL); stdout and stderr collected.  status is the exit
 * status, 128+N for signal N, -1 when it ran past timeout_s (killed). */
struct tu_run {
	int status;
	char *out, *err;
	size_t outlen;
};
struct tu_run tu_exec(const char *const *argv, const char *in_path,
                      int timeout_s);
void tu_run_free(struct tu_run *r);

#endif
