/*
 * ash.h - public interface of the handler runtime: program images, maps,
 * the XDP frame model and the interpreter.
 *
 * An application-specific safe handler (ASH) is an XDP program compiled by
 * clang for the bpf target.  The hosted loader (loader.h) turns its ELF
 * object into a program image: a self-contained, versioned description
 * (relocated instructions, map table, initial global data, line table)
 * that the verifier (verifier/vfy.h, vfy_ash) checks and every engine
 * runs.  The image, not the ELF, is what crosses into the kernel.
 *
 * Freestanding C, like the DPF core: memory comes from a struct dpf_host
 * and the host environment (clock, randomness, trace output) from struct
 * ash_env.  Everything here builds hosted and inside kernel-shim.
 *
 * Life of a handler
 *   img = ash_image_read(bytes) or the loader
 *   vfy_ash(img, opts, &vres, diag)          refuse, or facts per insn
 *   ash_prog_new(img, &vres, env, &prog)      maps created and initialised
 *   ash_run_xdp(prog, &frame, engine, &res)   per frame, maps keep state
 *   ash_prog_free(prog)
 *
 * Frame model (as Linux's BPF_PROG_TEST_RUN for XDP on a 4 KiB page)
 *   A frame lives in a buffer of ASH_FRAME_SIZE bytes.  Its data starts
 *   ASH_HEADROOM bytes in; data_meta starts equal to data.  The data may
 *   grow (bpf_xdp_adjust_tail) up to ASH_FRAME_SIZE - ASH_TAILROOM, and
 *   data_meta/data may move down (adjust_meta, adjust_head) no lower than
 *   ASH_XDP_FRAME_HDR; the data never shrinks below 14 bytes (ETH_HLEN).
 *   Frames longer than ASH_MAX_DATA are not given to handlers.
 *
 * Actions (the program's return value): ASH_XDP_ABORTED, DROP, PASS, TX,
 * REDIRECT.  For DPF, PASS declines (normal delivery), DROP consumes, TX
 * sends the modified frame back out, REDIRECT delivers to ring
 * redirect_index of the same owner, and ABORTED or any run-time failure
 * delivers the frame normally and counts the abort: a handler never loses
 * a frame.
 */
#ifndef DPF_ASH_H
#define DPF_ASH_H

#include <stddef.h>
#include <stdint.h>

#include "dpf/dpf.h"

/* ---- limits (documented; the image reader and verifier enforce them) */
#define ASH_NAME_MAX 63          /* bytes in a program, section or map name */
#define ASH_MAX_INSNS 65536      /* instruction slots in one program */
#define ASH_MAX_MAPS 64          /* maps (global data included) */
#define ASH_MAX_KEY 512          /* bytes in a map key */
#define ASH_MAX_VALUE 65536      /* bytes in a map value */
#define ASH_MAX_ENTRIES 1048576  /* entries in one map */
#define ASH_MAX_MAP_BYTES (64u << 20) /* memory of one map */
#define ASH_MAX_DATA_BYTES (16u << 20) /* initial global data in an image */
#define ASH_MAX_LINES 65536      /* line-table entries */
#define ASH_MAX_STR (1u << 20)   /* string table bytes */
#define ASH_STACK 512            /* stack bytes for a call chain, as Linux */
#define ASH_MAX_CALL_DEPTH 8     /* frames: the program and 7 subprograms */
#define ASH_MAX_PROCESSED 1000000 /* default verifier budget (--max-insns) */

/* ---- frame model ---- */
#define ASH_FRAME_SIZE 4096
#define ASH_HEADROOM 256
#define ASH_TAILROOM 320         /* SKB_DATA_ALIGN(sizeof skb_shared_info) */
#define ASH_XDP_FRAME_HDR 40     /* sizeof(struct xdp_frame) */
#define ASH_MAX_DATA (ASH_FRAME_SIZE - ASH_HEADROOM - ASH_TAILROOM) /* 3520 */
#define ASH_ETH_HLEN 14

enum {
	ASH_XDP_ABORTED = 0,
	ASH_XDP_DROP = 1,
	ASH_XDP_PASS = 2,
	ASH_XDP_TX = 3,
	ASH_XDP_REDIRECT = 4,
};

/* struct xdp_md as the program sees it: 32-bit fields at these offsets.
 * Only loads are allowed; data, data_end and data_meta yield pointers. */
enum {
	ASH_CTX_DATA = 0,
	ASH_CTX_DATA_END = 4,
	ASH_CTX_DATA_META = 8,
	ASH_CTX_IFINDEX = 12,
	ASH_CTX_RXQ = 16,
	ASH_CTX_EGRESS_IFINDEX = 20,
	ASH_CTX_SIZE = 24,
};

/* ---- instructions (ops.def has the table and the layout) ---- */
struct ash_insn {
	uint8_t code;
	uint8_t dst : 4;
	uint8_t src : 4;
	int16_t off;
	int32_t imm;
};

enum ash_op_kind {
	ASH_K_INVALID = 0,
	ASH_K_ALU32_K, ASH_K_ALU32_X, ASH_K_ALU64_K, ASH_K_ALU64_X,
	ASH_K_NEG32, ASH_K_NEG64, ASH_K_END,
	ASH_K_JMP_K, ASH_K_JMP_X, ASH_K_JMP32_K, ASH_K_JMP32_X,
	ASH_K_JA, ASH_K_JA32, ASH_K_CALL, ASH_K_CALLX, ASH_K_EXIT,
	ASH_K_LDDW, ASH_K_LDX, ASH_K_LDXSX, ASH_K_ST, ASH_K_STX, ASH_K_ATOMIC,
};

/* Field values the table's comments name. */
#define ASH_OP(code) ((code) & 0xf0)      /* ALU/JMP operation */
#define ASH_SIZE(code) ((code) & 0x18)    /* load/store size */
enum { ASH_SZ_W = 0x00, ASH_SZ_H = 0x08, ASH_SZ_B = 0x10, ASH_SZ_DW = 0x18 };
enum {
	ASH_PSEUDO_MAP_FD = 1, ASH_PSEUDO_MAP_VALUE = 2, ASH_PSEUDO_FUNC = 4,
	ASH_PSEUDO_MAP_IDX = 5, ASH_PSEUDO_MAP_IDX_VALUE = 6,
};
enum { ASH_PSEUDO_CALL = 1 }; /* call src: subprogram, not helper */
enum {
	ASH_ATOMIC_ADD = 0x00, ASH_ATOMIC_OR = 0x40, ASH_ATOMIC_AND = 0x50,
	ASH_ATOMIC_XOR = 0xa0, ASH_ATOMIC_FETCH = 0x01,
	ASH_ATOMIC_XCHG = 0xe1, ASH_ATOMIC_CMPXCHG = 0xf1,
};

/* Kind of an opcode byte, ASH_K_INVALID when ops.def does not list it. */
enum ash_op_kind ash_op_kind(uint8_t code);
/* Mnemonic of an opcode byte, "?" when invalid. */
const char *ash_op_name(uint8_t code);

/* ---- helpers (helpers.def has the table) ---- */
enum ash_arg {
	ASH_ARG_NONE = 0, ASH_ARG_ANY, ASH_ARG_MAP, ASH_ARG_MAP_KEY,
	ASH_ARG_MAP_VALUE, ASH_ARG_CTX, ASH_ARG_MEM, ASH_ARG_MEM_OR_NULL,
	ASH_ARG_UNINIT_MEM, ASH_ARG_SIZE, ASH_ARG_SIZE_OR_ZERO,
	ASH_ARG_ALLOC_SIZE, ASH_ARG_RINGBUF_REC, ASH_ARG_FUNC,
	ASH_ARG_STACK_OR_NULL,
};
enum ash_ret {
	ASH_RET_INT = 0, ASH_RET_VOID, ASH_RET_MAP_VALUE_OR_NULL,
	ASH_RET_RINGBUF_REC_OR_NULL,
};
enum { ASH_HF_PKT = 1, ASH_HF_XDP = 2 };

struct ash_helper_proto {
	uint32_t id;
	const char *name; /* without "bpf_" */
	uint8_t ret;      /* enum ash_ret */
	uint8_t args[5];  /* enum ash_arg */
	uint8_t flags;    /* ASH_HF_* */
};

/* The prototype of helper id, or NULL when the runtime has no such
 * helper. */
const struct ash_helper_proto *ash_helper(uint32_t id);

enum {
	ASH_H_MAP_LOOKUP = 1, ASH_H_MAP_UPDATE = 2, ASH_H_MAP_DELETE = 3,
	ASH_H_KTIME = 5, ASH_H_TRACE_PRINTK = 6, ASH_H_PRANDOM = 7,
	ASH_H_CPU = 8, ASH_H_REDIRECT = 23, ASH_H_CSUM_DIFF = 28,
	ASH_H_ADJUST_HEAD = 44, ASH_H_ADJUST_META = 54, ASH_H_ADJUST_TAIL = 65,
	ASH_H_RINGBUF_OUTPUT = 130, ASH_H_RINGBUF_RESERVE = 131,
	ASH_H_RINGBUF_SUBMIT = 132, ASH_H_RINGBUF_DISCARD = 133,
	ASH_H_LOOP = 181, ASH_H_LOAD_BYTES = 189, ASH_H_STORE_BYTES = 190,
};

/* map_update_elem flags, as Linux */
enum { ASH_ANY = 0, ASH_NOEXIST = 1, ASH_EXIST = 2 };

/* ---- maps ---- */
enum ash_map_type { /* Linux's numbers */
	ASH_MAP_HASH = 1,
	ASH_MAP_ARRAY = 2,
	ASH_MAP_PERCPU_HASH = 5,
	ASH_MAP_PERCPU_ARRAY = 6,
	ASH_MAP_LRU_HASH = 9,
	ASH_MAP_RINGBUF = 27,
};
/* What a map is for: a map the program declares, or a global-data
 * section libbpf would turn into a one-entry array map. */
enum ash_map_kind {
	ASH_MAPK_USER = 0,
	ASH_MAPK_DATA = 1,   /* .data */
	ASH_MAPK_BSS = 2,    /* .bss */
	ASH_MAPK_RODATA = 3, /* .rodata (read-only to the program) */
};

struct ash_map_def {
	char name[ASH_NAME_MAX + 1];
	uint32_t type;        /* enum ash_map_type */
	uint32_t kind;        /* enum ash_map_kind */
	uint32_t key_size;    /* ARRAY kinds: 4; RINGBUF: 0 */
	uint32_t value_size;  /* RINGBUF: 0 */
	uint32_t max_entries; /* RINGBUF: data bytes, a power of 2 >= 4096 */
	uint32_t flags;       /* map_flags, informational */
	uint32_t init_off;    /* initial value of entry 0 (global data): */
	uint32_t init_len;    /*   bytes [init_off, +init_len) of image data */
};

/* ---- program image ---- */
struct ash_line {
	uint32_t insn; /* first instruction slot the line covers */
	uint32_t line; /* source line, 1-based */
	uint32_t col;  /* source column, 0 when unknown */
	uint32_t file; /* string-table offset of the file name */
	uint32_t text; /* string-table offset of the source line's text */
};

#define ASH_IMAGE_VERSION 1

struct ash_image {
	char prog[ASH_NAME_MAX + 1];    /* program (function) name */
	char section[ASH_NAME_MAX + 1]; /* ELF section, e.g. "xdp" */
	uint32_t ninsns;
	struct ash_insn *insns;         /* relocated; map refs by index */
	uint32_t nmaps;
	struct ash_map_def *maps;
	uint32_t ndata;
	uint8_t *data;                  /* initial global data */
	uint32_t nlines;
	struct ash_line *lines;         /* sorted by insn */
	uint32_t nstr;
	char *strtab;                   /* NUL-terminated strings */
};

/* Free an image whose arrays were allocated from host (the reader's and
 * the loader's are).  NULL is fine. */
void ash_image_free(const struct dpf_host *host, struct ash_image *img);

/* Binary form (image.c documents the layout).  ash_image_write returns
 * the byte count or a negative DPF_E* code; with buf NULL it only
 * computes the size.  ash_image_read checks the framing and every limit,
 * refusing with "at byte N: ..."; it does not verify the program. */
long ash_image_write(const struct ash_image *img, uint8_t *buf, size_t cap);
int ash_image_read(const struct dpf_host *host, const uint8_t *buf,
                   size_t len, struct ash_image **out, struct dpf_diag *diag);
/* The rules a map definition must satisfy (types, sizes, global data):
 * 0, or DPF_EINVAL with the broken rule in buf.  The image reader and the
 * loader both apply them. */
int ash_map_def_check(const struct ash_map_def *m, uint32_t ndata, char *buf,
                      size_t cap);
/* 1 when buf starts with the image magic. */
int ash_image_is(const uint8_t *buf, size_t len);

/* The line-table entry covering insn, or NULL. */
const struct ash_line *ash_image_line(const struct ash_image *img,
                                      uint32_t insn);

/* ---- runtime ---- */
struct vfy_ash_result; /* verifier/vfy.h */

struct ash_env {
	const struct dpf_host *host;
	uint64_t (*ktime_ns)(void *ctx);      /* NULL: returns 0 */
	uint32_t (*prandom)(void *ctx);       /* NULL: a fixed xorshift */
	void (*trace)(void *ctx, const char *text); /* trace_printk; NULL: dropped */
	void *ctx;
	uint32_t ifindex;                     /* ctx->ingress_ifindex */
	uint32_t rxq;                         /* ctx->rx_queue_index */
};

struct ash_prog;

/* Create the program's maps (global data initialised from the image) and
 * take a reference to img and vres, which must outlive the program.  vres
 * must come from vfy_ash() on this image.  0 or DPF_ENOMEM/DPF_ELIMIT. */
int ash_prog_new(const struct ash_image *img,
                 const struct vfy_ash_result *vres, const struct ash_env *env,
                 struct ash_prog **out, struct dpf_diag *diag);
void ash_prog_free(struct ash_prog *p);

/* A frame in its buffer.  Offsets are from buf. */
struct ash_xdp {
	uint8_t *buf; /* ASH_FRAME_SIZE bytes */
	uint32_t data, data_end, data_meta;
};

/* Put len bytes of pkt into buf as a fresh frame: zeroed headroom,
 * data_meta == data == ASH_HEADROOM.  len must be <= ASH_MAX_DATA. */
void ash_xdp_init(struct ash_xdp *x, uint8_t *buf, const uint8_t *pkt,
                  uint32_t len);

enum ash_engine {
	ASH_ENGINE_INTERP = 0,  /* trusts the verifier */
	ASH_ENGINE_CHECKED = 1, /* checks every access against real bounds */
	ASH_ENGINE_X86 = 2,     /* native code from ash_prog_jit(); the
	                           interpreter when there is none */
};

/* Compile p to x86-64 (jit/ash_x86.c) into code memory from mem, for
 * ASH_ENGINE_X86.  0, or a negative DPF_E* code with the reason in diag:
 * runs with ASH_ENGINE_X86 then use the interpreter.  Idempotent. */
struct jit_mem;
int ash_prog_jit(struct ash_prog *p, const struct jit_mem *mem,
                 struct dpf_diag *diag);
/* 1 when ASH_ENGINE_X86 runs native code for p. */
int ash_prog_jitted(const struct ash_prog *p);
/* The native code of p (jit.h, for listings), or NULL before
 * ash_prog_jit() succeeded. */
struct jit_ash;
const struct jit_ash *ash_prog_native(const struct ash_prog *p);

enum ash_fault {
	ASH_FAULT_NONE = 0,
	ASH_FAULT_ESCAPE,  /* checked mode: an access out of real bounds */
	ASH_FAULT_BUDGET,  /* ran past the verifier's worst case (a bug) */
	ASH_FAULT_HELPER,  /* a helper found its arguments invalid */
};

struct ash_result {
	uint64_t r0;             /* the program's return value */
	int action;              /* ASH_XDP_*; ABORTED on a fault */
	uint32_t redirect_index; /* REDIRECT: the bpf_redirect() argument */
	int fault;               /* enum ash_fault */
	uint32_t fault_insn;     /* where */
	uint64_t insns;          /* instructions executed */
	char msg[160];           /* the fault: "verifier escape at 12: ..." */
};

/* Run the XDP program on x (which it may change).  Returns 0, or -1 on a
 * fault (res says what; action is then ASH_XDP_ABORTED).  A return value
 * outside 0..4 is ABORTED too, as in Linux. */
int ash_run_xdp(struct ash_prog *p, struct ash_xdp *x, enum ash_engine eng,
                struct ash_result *res);

/* Raw-memory mode (`dpf ash exec`, the conformance contract): r1 = mem,
 * r2 = len, r0 returned as is.  The image must have been verified with
 * VFY_ASH_CTX_MEM and the same len. */
int ash_run_mem(struct ash_prog *p, uint8_t *mem, uint32_t len,
                enum ash_engine eng, struct ash_result *res);

/* ---- maps from outside the program (maps.c) ----
 * Index i is the image's map index.  Values of per-CPU maps are those of
 * CPU 0 (the runtime runs every handler on CPU 0). */
uint32_t ash_map_count(const struct ash_prog *p);
const struct ash_map_def *ash_map_def(const struct ash_prog *p, uint32_t i);
/* Copy the value of key into value (value_size bytes): 0 or DPF_ENOENT. */
int ash_map_lookup(struct ash_prog *p, uint32_t i, const void *key,
                   void *value);
/* flags ASH_ANY/NOEXIST/EXIST: 0, DPF_EEXIST, DPF_ENOENT, DPF_ELIMIT
 * (full), DPF_EINVAL (array index out of range, or a ring buffer). */
int ash_map_update(struct ash_prog *p, uint32_t i, const void *key,
                   const void *value, uint64_t flags);
int ash_map_delete(struct ash_prog *p, uint32_t i, const void *key);
/* Iterate keys: key NULL gives the first; 0 with next filled, or
 * DPF_ENOENT after the last.  Arrays go in index order; hashes in an
 * unspecified order (callers sort). */
int ash_map_next_key(struct ash_prog *p, uint32_t i, const void *key,
                     void *next);
/* Ring buffers: hand each submitted record, oldest first, to fn and
 * release it.  Returns the number of records consumed. */
uint32_t ash_ringbuf_drain(struct ash_prog *p, uint32_t i,
                           void (*fn)(void *ctx, const void *rec,
                                      uint32_t len),
                           void *ctx);

#endif
