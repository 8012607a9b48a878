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

#endif
