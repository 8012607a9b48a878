/*
 * ebpf.c - DPF filter IR to eBPF instructions, loaded and run with libbpf
 * (ebpf.h).
 *
 * Registers: r6 = data, r7 = data_end (from struct __sk_buff), r8 = the
 * current base, r2 the loaded field, r4 the pointer being checked.  Every
 * path starts by setting r8 to 0, so nothing is live where the failure
 * branches of the path before join it, and the verifier prunes there: its
 * work grows with the program, not with the number of branches.
 */
#include "bench/ebpf.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/common.h"

static void put(struct ebpf_code *c, uint8_t code, uint8_t dst, uint8_t src,
                int16_t off, int32_t imm)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->insn = realloc(c->insn, c->cap * sizeof(struct bpf_insn));
		if (!c->insn)
			die("out of memory");
	}
	struct bpf_insn *i = (struct bpf_insn *)c->insn + c->n++;
	memset(i, 0, sizeof *i);
	i->code = code;
	i->dst_reg = dst & 15;
	i->src_reg = src & 15;
	i->off = off;
	i->imm = imm;
}

static uint32_t swap_to_packet(uint32_t v, unsigned width)
{
	if (width == 2)
		return (v >> 8 & 0xff) | (v & 0xff) << 8;
	if (width == 4)
		return __builtin_bswap32(v);
	return v;
}

static uint8_t size_of(unsigned width)
{
	return width == 1 ? BPF_B : width == 2 ? BPF_H : BPF_W;
}

/* Branches to the end of the current path, patched once it is known. */
struct fix {
	uint32_t at[4 * DPF_MAX_ATOMS];
	uint32_t n;
};

static void jump_fail(struct ebpf_code *c, struct fix *f, uint8_t code,
                      uint8_t dst, uint8_t src, int32_t imm)
{
	f->at[f->n++] = c->n;
	put(c, code, dst, src, 0, imm);
}

/* r2 = the atom's bytes (raw, packet order), or fail the path. */
static void load(struct ebpf_code *c, struct fix *f, const struct dpf_atom *a)
{
	put(c, BPF_ALU64 | BPF_MOV | BPF_X, 4, 6, 0, 0);
	if (a->base == DPF_BASE_REL)
		put(c, BPF_ALU64 | BPF_ADD | BPF_X, 4, 8, 0, 0);
	put(c, BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, a->offset + a->width);
	jump_fail(c, f, BPF_JMP | BPF_JGT | BPF_X, 4, 7, 0);
	put(c, BPF_LDX | BPF_MEM | size_of(a->width), 2, 4,
	    (int16_t)-(int)a->width, 0);
}

static void gen_path(struct ebpf_code *c, const struct dpf_path *p,
                     int32_t ret)
{
	struct fix f = {.n = 0};
	put(c, BPF_ALU64 | BPF_MOV | BPF_K, 8, 0, 0, 0);
	for (uint32_t i = 0; i < p->natoms; i++) {
		const struct dpf_atom *a = &p->atoms[i];
		load(c, &f, a);
		if (a->kind == DPF_ATOM_CMP) {
			if (a->mask != (a->width == 4 ? 0xffffffffu
			                              : (1u << 8 * a->width) - 1))
				put(c, BPF_ALU | BPF_AND | BPF_K, 2, 0, 0,
				    (int32_t)swap_to_packet(a->mask, a->width));
			jump_fail(c, &f, BPF_JMP32 | BPF_JNE | BPF_K, 2, 0,
			          (int32_t)swap_to_packet(a->value, a->width));
			continue;
		}
		if (a->width == 2)
			put(c, BPF_ALU | BPF_END | BPF_TO_BE, 2, 0, 0, 16);
		put(c, BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, (int32_t)a->mask);
		if (a->shift)
			put(c, BPF_ALU | BPF_LSH | BPF_K, 2, 0, 0, a->shift);
		if (a->base == DPF_BASE_REL)
			put(c, BPF_ALU64 | BPF_ADD | BPF_X, 2, 8, 0, 0);
		put(c, BPF_ALU64 | BPF_MOV | BPF_X, 8, 2, 0, 0);
		jump_fail(c, &f, BPF_JMP | BPF_JGT | BPF_K, 8, 0, EBPF_BASE_MAX);
	}
	put(c, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, ret);
	put(c, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	for (uint32_t i = 0; i < f.n; i++) /* to the next path */
		((struct bpf_insn *)c->insn)[f.at[i]].off =
			(int16_t)(c->n - f.at[i] - 1);
}

static void prologue(struct ebpf_code *c)
{
	put(c, BPF_LDX | BPF_MEM | BPF_W, 6, 1, offsetof(struct __sk_buff, data), 0);
	put(c, BPF_LDX | BPF_MEM | BPF_W, 7, 1,
	    offsetof(struct __sk_buff, data_end), 0);
}

static void epilogue(struct ebpf_code *c)
{
	put(c, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	put(c, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

void ebpf_gen_filter(struct ebpf_code *c, const struct dpf_filter *f)
{
	c->n = 0;
	prologue(c);
	for (uint32_t p = 0; p < f->npaths; p++)
		gen_path(c, &f->paths[p], 1);
	epilogue(c);
}

struct rank {
	uint32_t prio, spec, filter, path;
};

static int by_rank(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->spec != y->spec)
		return x->spec > y->spec ? -1 : 1;
	if (x->filter != y->filter)
		return x->filter < y->filter ? -1 : 1;
	return x->path < y->path ? -1 : x->path > y->path;
}

/* Paths of every filter in DPF's order (priority, then specificity,
 * highest first); *n gets their number. */
static struct rank *ranked(const struct dpf_prog *prog, uint32_t *n)
{
	*n = 0;
	for (uint32_t i = 0; i < prog->nfilters; i++)
		*n += prog->filters[i].npaths;
	struct rank *r = xmalloc((*n ? *n : 1) * sizeof *r);
	uint32_t k = 0;
	for (uint32_t i = 0; i < prog->nfilters; i++)
		for (uint32_t p = 0; p < prog->filters[i].npaths; p++)
			r[k++] = (struct rank){
				prog->filters[i].priority,
				dpf_path_specificity(&prog->filters[i].paths[p]), i, p};
	qsort(r, *n, sizeof *r, by_rank);
	return r;
}

/* The end of a segment that is not the last: tail-call segment `next`
 * through the program array (r1 still holds the context); should the
 * call fail, no match. */
static void tail_call(struct ebpf_code *c, int map_fd, uint32_t next)
{
	put(c, BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, map_fd);
	put(c, 0, 0, 0, 0, 0); /* second half of the 64-bit immediate */
	put(c, BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, (int32_t)next);
	put(c, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call);
	epilogue(c);
}

/* Paths from *k on into c, while the segment stays under EBPF_SEG_INSNS;
 * the tail call or the final epilogue is added by the caller. */
static void gen_segment(struct ebpf_code *c, const struct dpf_prog *prog,
                        const struct rank *r, uint32_t n, uint32_t *k)
{
	c->n = 0;
	prologue(c);
	do {
		if (*k == n)
			break;
		gen_path(c, &prog->filters[r[*k].filter].paths[r[*k].path],
		         (int32_t)r[*k].filter + 1);
		(*k)++;
	} while (c->n < EBPF_SEG_INSNS);
}

int ebpf_load_all(struct ebpf_chain *ch, const struct dpf_prog *prog,
                  char *why, size_t cap)
{
	memset(ch, 0, sizeof *ch);
	ch->entry = ch->map = -1;
	uint32_t n, k = 0;
	struct rank *r = ranked(prog, &n);
	struct ebpf_code c = {0};
	ch->fds = xmalloc(EBPF_MAX_SEGS * sizeof *ch->fds);
	/* each segment generated once; the program array (sized for the
	 * longest chain) is made when a second segment is needed */
	for (uint32_t s = 0;; s++) {
		gen_segment(&c, prog, r, n, &k);
		int more = k < n;
		if (more && s + 1 == EBPF_MAX_SEGS) {
			snprintf(why, cap, "more than %u segments of %u instructions "
			         "needed; a chain of tail calls takes at most %u",
			         EBPF_MAX_SEGS, EBPF_SEG_INSNS, EBPF_MAX_SEGS);
			goto fail;
		}
		if (more && ch->map < 0) {
			LIBBPF_OPTS(bpf_map_create_opts, mo);
			ch->map = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "dpf_chain", 4,
			                         4, EBPF_MAX_SEGS, &mo);
			if (ch->map < 0) {
				snprintf(why, cap, "program array: %s", strerror(errno));
				goto fail;
			}
		}
		if (more)
			tail_call(&c, ch->map, s + 1);
		else
			epilogue(&c);
		ch->insns += c.n;
		char w[200];
		int fd = ebpf_load(&c, w, sizeof w);
		if (fd < 0) {
			snprintf(why, cap, "segment %u: %s", s + 1, w);
			goto fail;
		}
		ch->fds[ch->n++] = fd;
		if (ch->map >= 0 &&
		    bpf_map_update_elem(ch->map, &s, &fd, BPF_ANY) != 0) {
			snprintf(why, cap, "program array slot %u: %s", s,
			         strerror(errno));
			goto fail;
		}
		if (!more)
			break;
	}
	ch->entry = ch->fds[0];
	free(r);
	ebpf_code_free(&c);
	return ch->entry;
fail:
	ebpf_chain_close(ch);
	free(r);
	ebpf_code_free(&c);
	return -1;
}

void ebpf_chain_close(struct ebpf_chain *ch)
{
	for (uint32_t i = 0; i < ch->n; i++)
		close(ch->fds[i]);
	if (ch->map >= 0)
		close(ch->map);
	free(ch->fds);
	memset(ch, 0, sizeof *ch);
	ch->entry = ch->map = -1;
}

void ebpf_gen_empty(struct ebpf_code *c)
{
	c->n = 0;
	epilogue(c);
}

void ebpf_code_free(struct ebpf_code *c)
{
	free(c->insn);
	memset(c, 0, sizeof *c);
}

int ebpf_load(const struct ebpf_code *c, char *why, size_t cap)
{
	static char log[1 << 16];
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "dpf_bench", "GPL", c->insn,
	                       c->n, &o);
	if (fd >= 0)
		return fd;
	int err = errno;
	/* again with the verifier's log, to say why */
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_level = 1, .log_buf = log,
	            .log_size = sizeof log);
	log[0] = 0;
	int fd2 = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "dpf_bench", "GPL", c->insn,
	                        c->n, &lo);
	if (fd2 >= 0) { /* loaded the second time: use it */
		return fd2;
	}
	/* the last non-empty line of the log */
	size_t len = strlen(log);
	while (len && log[len - 1] == '\n')
		log[--len] = 0;
	char *last = strrchr(log, '\n');
	if (err == EFAULT && c->n > 32000) /* verified, then refused */
		snprintf(why, cap, "%s: the kernel refuses programs of more than "
		         "about 30,000 instructions once verified (this one has %u)",
		         strerror(err), c->n);
	else
		snprintf(why, cap, "%s (%u instructions)%s%s", strerror(err), c->n,
		         len ? ": " : "", last ? last + 1 : log);
	return -1;
}

int ebpf_run(int fd, const uint8_t *pkt, uint32_t len, uint32_t repeat,
             uint32_t *ret, uint32_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
	            .repeat = (int)repeat);
	if (bpf_prog_test_run_opts(fd, &o) != 0)
		return -errno;
	*ret = o.retval;
	*ns = o.duration;
	return 0;
}

static int silent(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l;
	(void)f;
	(void)ap;
	return 0;
}

const char *ebpf_version(void)
{
	return libbpf_version_string();
}

void ebpf_quiet(void)
{
	libbpf_set_print(silent);
}
