/*
 * dpf.h - public interface of the DPF core: filter IR, engine, classification.
 *
 * The core is freestanding C11: it uses <stdint.h>, <stddef.h>,
 * <stdatomic.h> and nothing else from libc.  Memory comes from a host
 * allocator (struct dpf_host); hosted programs use dpf_host_libc().
 *
 * Filter IR
 *   An atom is (kind, base, offset, width, mask, value).
 *     CMP   : true when the big-endian load of `width` bytes at base+offset,
 *             ANDed with `mask`, equals `value`.  value & ~mask == 0.
 *     SHIFT : sets the current base to B + ((load(B+offset, width) & mask)
 *             << shift), where B is the atom's own base.  A packet-based
 *             SHIFT thus names one position however often it is repeated
 *             (IPv4's IHL), and a relative SHIFT walks a header chain.
 *   `base` is DPF_BASE_PKT (the packet start) or DPF_BASE_REL (the current
 *   base: where the last SHIFT left it; the packet start before any).
 *   A load whose bytes lie past the packet length fails the atom, and with it
 *   the path.  A path is a conjunction of atoms; a filter is a disjunction of
 *   paths with a name, a priority and an owner.
 *
 * Semantics
 *   A packet goes to at most one filter: the matching filter with the
 *   highest priority; among equal priorities the most specific match (the
 *   most header bits compared by the matching path).  Two filters whose
 *   paths could match a common packet with equal priority and equal
 *   specificity are ambiguous, and the engine refuses the later one.
 *
 * Concurrency
 *   One writer at a time (insert/delete are serialised by the caller).
 *   Readers classify concurrently with the writer: each reader thread owns
 *   a struct dpf_reader and brackets classification with dpf_read_begin/end.
 *   Readers never block and never see a partial update; the writer frees
 *   what it unlinked only after every reader has left the old version.
 *   Single-threaded use may call dpf_classify without a reader.
 */
#ifndef DPF_DPF_H
#define DPF_DPF_H

#include <stddef.h>
#include <stdint.h>

/* Documented limits; the IR reader, validator and engine enforce them. */
#define DPF_NAME_MAX 63         /* bytes in a filter name, [A-Za-z0-9_.-] */
#define DPF_MAX_ATOMS 64        /* atoms in one path */
#define DPF_MAX_SHIFTS 8        /* SHIFT atoms in one path */
#define DPF_MAX_PATHS 65536     /* paths in one filter */
#define DPF_MAX_FILTERS 65536   /* filters in one program or engine */
#define DPF_MAX_OFFSET 65535    /* atom offset */
#define DPF_MAX_SHIFT_K 8       /* SHIFT left-shift count */
#define DPF_PRIO_MAX 65535      /* priorities run 0..DPF_PRIO_MAX, high wins */
#define DPF_MAX_READERS 64      /* concurrent registered readers per engine */

/* Return codes: 0 or one of these. */
enum {
	DPF_OK = 0,
	DPF_EINVAL = -1,  /* malformed input; the diagnostic says what */
	DPF_ENOMEM = -2,  /* the host allocator failed; nothing changed */
	DPF_EAMBIG = -3,  /* ambiguous with, or duplicate of, a filter */
	DPF_EEXIST = -4,  /* a filter of that name is installed */
	DPF_ENOENT = -5,  /* no such filter */
	DPF_ELIMIT = -6,  /* a documented limit would be exceeded */
};

#define DPF_NOMATCH (-1) /* dpf_classify: no filter matches */

enum dpf_atom_kind { DPF_ATOM_CMP = 0, DPF_ATOM_SHIFT = 1 };
enum dpf_atom_base { DPF_BASE_PKT = 0, DPF_BASE_REL = 1 };

struct dpf_atom {
	uint8_t kind;    /* enum dpf_atom_kind */
	uint8_t base;    /* enum dpf_atom_base */
	uint8_t width;   /* 1, 2 or 4 (CMP); 1 or 2 (SHIFT) */
	uint8_t shift;   /* SHIFT: left shift 0..DPF_MAX_SHIFT_K; CMP: 0 */
	uint16_t offset; /* from the base */
	uint32_t mask;   /* nonzero, fits in width */
	uint32_t value;  /* CMP: compared value, value & ~mask == 0; SHIFT: 0 */
};

struct dpf_path {
	uint32_t natoms;
	struct dpf_atom *atoms;
};

struct dpf_filter {
	char name[DPF_NAME_MAX + 1];
	uint32_t priority;
	uint32_t owner;
	uint32_t npaths;
	struct dpf_path *paths;
	uint32_t line, col; /* source position of the name, 0 when none */
};

struct dpf_prog {
	uint32_t nfilters;
	struct dpf_filter *filters;
};

/* A diagnostic: one line of text, filled on error. */
struct dpf_diag {
	char msg[320];
};

/* Host services.  alloc returns NULL on failure; free gets the size that
 * was allocated; relax is called while the writer waits for readers (may
 * be NULL). */
struct dpf_host {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr, size_t size);
	void (*relax)(void *ctx);
	void *ctx;
};

/* Output sink for dumps: called with NUL-terminated chunks. */
typedef void (*dpf_write_fn)(void *ctx, const char *text);

/* ---- IR helpers (ir.c) ---- */

/* The IR rules and limits are checked by the verifier: verifier/vfy.h. */

/* Put a path in canonical order: packet-relative CMP atoms first sorted by
 * (offset, width, mask, value), then each SHIFT followed by the sorted
 * atoms that depend on it; DPF_BASE_REL atoms before any shift become
 * DPF_BASE_PKT; identical atoms are removed.  Returns 1 when the path can
 * never match (two atoms disagree on a bit), else 0. */
int dpf_path_canon(struct dpf_path *p);

/* Header bits a path compares: the union of CMP masks per byte, summed. */
uint32_t dpf_path_specificity(const struct dpf_path *p);

/* 1 when two canonical paths could both match one packet. Conservative:
 * atoms it cannot relate (different shift bases) never rule a packet out. */
int dpf_paths_overlap(const struct dpf_path *a, const struct dpf_path *b);

/* 1 when the path matches the packet (the naive reference semantics). */
int dpf_path_match(const struct dpf_path *p, const uint8_t *pkt, size_t len);

/* Free a program whose parts were all allocated from `host`. */
void dpf_prog_free(const struct dpf_host *host, struct dpf_prog *prog);

/* Readable IR dump (what `dpf compile --emit=ir` prints). */
void dpf_prog_dump(const struct dpf_prog *prog, dpf_write_fn out, void *ctx);
void dpf_atom_format(const struct dpf_atom *a, char *buf, size_t cap);

/* ---- binary IR (ir_io.c) ---- */

/* Serialise; returns the byte count, or a negative code.  With buf NULL
 * only the size is computed. */
long dpf_ir_write(const struct dpf_prog *prog, uint8_t *buf, size_t cap);
/* Parse and validate; on success *out is a program allocated from host.
 * Every malformation is refused with "at byte N: ..." and nothing leaks. */
int dpf_ir_read(const struct dpf_host *host, const uint8_t *buf, size_t len,
                struct dpf_prog **out, struct dpf_diag *diag);

/* ---- engine (trie.c, interp.c, naive.c, rcu.c) ---- */

struct dpf_engine;
struct dpf_reader;

struct dpf_engine *dpf_engine_new(const struct dpf_host *host);
void dpf_engine_free(struct dpf_engine *e);

/* Validate, canonicalise and merge a filter into the trie.  On success
 * *id (may be NULL) gets the filter's id (>= 0), stable until deleted.
 * Refusals: DPF_EINVAL (invalid IR), DPF_EEXIST (name taken), DPF_EAMBIG
 * (names the other filter), DPF_ELIMIT, DPF_ENOMEM. Nothing changes on
 * failure. */
int dpf_insert(struct dpf_engine *e, const struct dpf_filter *f, int *id,
               struct dpf_diag *diag);
/* Remove a filter: DPF_OK, DPF_ENOENT, or DPF_ENOMEM when the filter is
 * gone from classification but some trie memory stays in use (its id is
 * then never reused). */
int dpf_delete(struct dpf_engine *e, int id);

/* Id of the installed filter of that name, or DPF_ENOENT. */
int dpf_lookup(const struct dpf_engine *e, const char *name);
/* The installed filter (canonical paths), or NULL. Writer-side only. */
const struct dpf_filter *dpf_filter_get(const struct dpf_engine *e, int id);
/* One past the largest id ever handed out. */
int dpf_id_limit(const struct dpf_engine *e);
/* Call fn(ctx, id) for the installed filters with a path that
 * dpf_paths_overlap() relates to canonical path p (once per such path),
 * walking only the trie nodes p can share a packet with.  Stops at the
 * first nonzero return of fn and returns it; 0 when all were called.
 * Writer-side only. */
int dpf_overlapping(const struct dpf_engine *e, const struct dpf_path *p,
                    int (*fn)(void *ctx, int id), void *ctx);
uint32_t dpf_count(const struct dpf_engine *e);

/* Classify: filter id or DPF_NOMATCH.  Runs the code of the attached back
 * end (jit/jit.h) while it is current, else the trie interpreter; both
 * give the same answer.  Never reads pkt[len] or beyond.  Concurrent with
 * updates only inside dpf_read_begin/dpf_read_end. */
int dpf_classify(const struct dpf_engine *e, const uint8_t *pkt, size_t len);
/* Always the trie interpreter (the oracle back ends are tested against). */
int dpf_classify_interp(const struct dpf_engine *e, const uint8_t *pkt,
                        size_t len);

/* Native classifier a back end generated: same contract as dpf_classify. */
typedef int (*dpf_exec_fn)(const uint8_t *pkt, size_t len);
/* What dpf_classify runs now: the back end's function, or NULL for the
 * interpreter (no back end, or its code generation failed). */
dpf_exec_fn dpf_exec(const struct dpf_engine *e);
/* Reference: every installed filter evaluated alone, semantics applied. */
int dpf_classify_naive(const struct dpf_engine *e, const uint8_t *pkt,
                       size_t len);

struct dpf_reader *dpf_reader_new(struct dpf_engine *e);
void dpf_reader_free(struct dpf_reader *r);
void dpf_read_begin(struct dpf_reader *r);
void dpf_read_end(struct dpf_reader *r);

/* Check every trie invariant; returns 0, or -1 with the broken invariant
 * in diag.  Debug builds run it after every update and abort on failure. */
int dpf_check(const struct dpf_engine *e, struct dpf_diag *diag);

/* Readable trie dump (what `dpf compile --emit=trie` prints). */
void dpf_trie_dump(const struct dpf_engine *e, dpf_write_fn out, void *ctx);

/* Trie statistics, for tests and dumps. */
struct dpf_stats {
	uint32_t nodes, groups, tables, entries, terminals, retired;
};
void dpf_stats_get(const struct dpf_engine *e, struct dpf_stats *st);

/* ---- formatting (fmt.c), freestanding snprintf subset:
 * %s %c %d %u %x %X %ld %lu %lx %zu %%, with '0'/'-' flags and width
 * (digits or '*'). ---- */
int dpf_fmt(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- hosted only (host_libc.c) ---- */
const struct dpf_host *dpf_host_libc(void);

#endif
