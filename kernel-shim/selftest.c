/*
 * selftest.c - in-kernel checks run by `-append selftest`, and deliberate
 * exceptions run by `-append fault=KIND`, so the kernel can be tested
 * without a NIC or the host side.
 *
 * ksh_selftest checks, in order: page frames, the heap, the JIT's double
 * mapping (same bytes at both views, RW+NX and RX, code runs from RX,
 * freed ranges reused), the owner ring, the histogram, then DPF: a small
 * filter set built as IR, written with dpf_ir_write and read back with
 * dpf_ir_read, inserted with the x86 back end attached, and classified for
 * built-in packets at every length from 0 to full (JIT == interpreter ==
 * naive reference, and the expected filter at full length), also after a
 * delete; and an engine whose back end gets no code memory keeps
 * classifying by interpreter.  It prints one line per failed check and
 * exits KSH_EXIT_SELFTEST_OK or _FAIL.
 *
 * ksh_fault kinds: ud (invalid opcode, vector 6), de (divide error, 0),
 * gp (non-canonical address, 13), null (read of address 0, 14), wx (write
 * to the JIT's executable view, 14), nx (call into the JIT's writable
 * view, 14), stack (overflow into the guard page: the #PF cannot be
 * delivered on that stack, so a #DF, vector 8, on its own stack).  Each
 * must end in the IDT handler's exit.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                      \
		if (!(cond)) {                                                        \
			failures++;                                                       \
			ksh_printf("selftest: FAIL %s:%d: ", __FILE__, __LINE__);         \
			ksh_printf(__VA_ARGS__);                                          \
			ksh_printf("\n");                                                 \
		}                                                                     \
	} while (0)

static void test_frames(void)
{
	uint64_t before = ksh_frames_free();
	void *a = ksh_frame_alloc(), *b = ksh_frame_alloc();
	CHECK(a && b && a != b, "two frames");
	CHECK(ksh_frames_free() == before - 2, "frames accounted");
	ksh_frame_free(a);
	ksh_frame_free(b);
	CHECK(ksh_frames_free() == before, "frames returned");
}

static void test_heap(void)
{
	const struct dpf_host *h = ksh_heap();
	uint64_t base = ksh_heap_used();
	static uint8_t *p[64];
	for (int i = 0; i < 64; i++) {
		size_t n = (size_t)(1 + i * 97);
		p[i] = h->alloc(h->ctx, n);
		CHECK(p[i], "alloc %zu", n);
		if (p[i])
			memset(p[i], i, n);
	}
	for (int i = 0; i < 64; i++) {
		size_t n = (size_t)(1 + i * 97);
		for (size_t j = 0; p[i] && j < n; j++)
			if (p[i][j] != (uint8_t)i) {
				CHECK(0, "block %d overwritten at %zu", i, j);
				break;
			}
	}
	for (int i = 0; i < 64; i++)
		h->free(h->ctx, p[i], (size_t)(1 + i * 97));
	CHECK(ksh_heap_used() == base, "heap back to %lu, is %lu", base,
	      ksh_heap_used());
	void *big = h->alloc(h->ctx, KSH_HEAP_MAX_BLOCK + 1);
	CHECK(!big, "oversized allocation refused");
}

static void test_jit_mem(void)
{
	const struct jit_mem *m = ksh_jit_mem();
	void *rw = NULL, *rx = NULL;
	CHECK(m->map(m->ctx, 8192, &rw, &rx) == 0, "jit map");
	if (!rw || !rx)
		return;
	uint64_t w = ksh_pte((uint64_t)(uintptr_t)rw);
	uint64_t x = ksh_pte((uint64_t)(uintptr_t)rx);
	CHECK((w & KSH_PTE_W) && (w & KSH_PTE_NX), "rw view is RW+NX: %lx", w);
	CHECK(!(x & KSH_PTE_W) && !(x & KSH_PTE_NX), "rx view is RX: %lx", x);
	CHECK((w & 0x000ffffffffff000ull) == (x & 0x000ffffffffff000ull),
	      "both views of one frame");
	/* mov eax, 42; ret */
	static const uint8_t code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};
	memcpy((uint8_t *)rw + 4096, code, sizeof code);
	CHECK(memcmp((uint8_t *)rx + 4096, code, sizeof code) == 0,
	      "written at rw, seen at rx");
	int (*fn)(void);
	void *at = (uint8_t *)rx + 4096;
	memcpy(&fn, &at, sizeof fn);
	CHECK(fn() == 42, "code runs from the rx view");
	uint64_t before = ksh_frames_free();
	m->unmap(m->ctx, 8192, rw, rx);
	CHECK(ksh_frames_free() == before + 2, "unmap frees the frames");
	CHECK(ksh_pte((uint64_t)(uintptr_t)rx) == 0, "unmapped");

	/* freed ranges are reused: a hole in the middle, then the end */
	void *rw1 = NULL, *rx1 = NULL, *rw2 = NULL, *rx2 = NULL, *rw3 = NULL,
	     *rx3 = NULL;
	if (m->map(m->ctx, 8192, &rw1, &rx1) != 0 ||
	    m->map(m->ctx, 4096, &rw2, &rx2) != 0) {
		CHECK(0, "two maps");
		return;
	}
	m->unmap(m->ctx, 8192, rw1, rx1);
	CHECK(m->map(m->ctx, 4096, &rw3, &rx3) == 0 && rw3 == rw1 && rx3 == rx1,
	      "a hole is reused");
	m->unmap(m->ctx, 4096, rw3, rx3);
	m->unmap(m->ctx, 4096, rw2, rx2);
	CHECK(ksh_frames_free() == before + 2, "every frame back");
}

static void test_ring(void)
{
	static struct ksh_ring r;
	uint8_t f[64];
	ksh_ring_init(&r);
	for (uint32_t i = 0; i < KSH_RING_SLOTS; i++) {
		f[0] = (uint8_t)i;
		CHECK(ksh_ring_put(&r, f, 60) == 0, "put %u", i);
	}
	CHECK(ksh_ring_put(&r, f, 60) != 0, "full ring refuses");
	CHECK(ksh_ring_put(&r, f, KSH_FRAME_BYTES + 1) != 0, "long frame refused");
	for (uint32_t i = 0; i < KSH_RING_SLOTS; i++) {
		const uint8_t *g;
		uint32_t len;
		CHECK(ksh_ring_peek(&r, &g, &len) && len == 60 && g[0] == (uint8_t)i,
		      "frame %u in order", i);
		ksh_ring_pop(&r);
	}
	CHECK(ksh_ring_count(&r) == 0, "ring empty");
}

static void test_hist(void)
{
	static struct ksh_stats st;
	static const struct {
		uint64_t c;
		uint32_t b;
	} cases[] = {{0, 0}, {1, 0}, {2, 4}, {3, 6}, {4, 8}, {7, 11},
	             {1000, 39}, {1ull << 40, KSH_HIST_BUCKETS - 1}};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&st, 0, sizeof st);
		ksh_hist_add(&st, cases[i].c);
		CHECK(st.hist[cases[i].b] == 1, "%lu cycles in bucket %u", cases[i].c,
		      cases[i].b);
	}
}

/* ---- DPF with the x86 back end ---- */

#define A_CMP(off, w, m, v) {DPF_ATOM_CMP, DPF_BASE_PKT, w, 0, off, m, v}
#define A_REL(off, w, m, v) {DPF_ATOM_CMP, DPF_BASE_REL, w, 0, off, m, v}
#define A_IHL {DPF_ATOM_SHIFT, DPF_BASE_PKT, 1, 2, 14, 0x0f, 0}

static struct dpf_atom at_arp[] = {A_CMP(12, 2, 0xffff, 0x0806)};
static struct dpf_atom at_ip[] = {A_CMP(12, 2, 0xffff, 0x0800)};
static struct dpf_atom at_tcp80[] = {
	A_CMP(12, 2, 0xffff, 0x0800), A_CMP(23, 1, 0xff, 6),
	A_CMP(20, 2, 0x1fff, 0), A_IHL, A_REL(16, 2, 0xffff, 80)};
static struct dpf_atom at_udp53[] = {
	A_CMP(12, 2, 0xffff, 0x0800), A_CMP(23, 1, 0xff, 17),
	A_CMP(20, 2, 0x1fff, 0), A_IHL, A_REL(16, 2, 0xffff, 53)};
static struct dpf_path p_arp = {1, at_arp}, p_ip = {1, at_ip},
                       p_tcp80 = {5, at_tcp80}, p_udp53 = {5, at_udp53};

enum { F_ARP, F_IP, F_TCP80, F_UDP53, NF };
static struct dpf_filter filters[NF] = {
	{"arp", 0, 0, 1, &p_arp, 0, 0},
	{"ip", 0, 0, 1, &p_ip, 0, 0},
	{"tcp80", 10, 0, 1, &p_tcp80, 0, 0},
	{"udp53", 10, 0, 1, &p_udp53, 0, 0},
};

/* An Ethernet + IPv4 frame: proto, IHL (words), destination port. */
static uint32_t mk_ip(uint8_t *f, uint8_t proto, uint8_t ihl, uint16_t dport)
{
	memset(f, 0, 128);
	memset(f, 0xff, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	f[14] = (uint8_t)(0x40 | ihl);
	f[23] = proto;
	uint32_t l4 = 14 + ihl * 4u;
	f[l4 + 2] = (uint8_t)(dport >> 8);
	f[l4 + 3] = (uint8_t)dport;
	return l4 + (proto == 6 ? 20 : 8);
}

static int engine_agrees(struct dpf_engine *e, const uint8_t *pkt,
                         uint32_t len, int expect)
{
	int ok = 1;
	for (uint32_t l = 0; l <= len; l++) {
		int a = dpf_classify(e, pkt, l);
		int b = dpf_classify_interp(e, pkt, l);
		int c = dpf_classify_naive(e, pkt, l);
		if (a != b || b != c) {
			CHECK(0, "length %u: jit %d interp %d naive %d", l, a, b, c);
			ok = 0;
			break;
		}
	}
	int got = dpf_classify(e, pkt, len);
	CHECK(got == expect, "full length %u: got %d, expected %d", len, got,
	      expect);
	return ok;
}

static void test_dpf(struct ksh *k)
{
	struct dpf_prog prog = {NF, filters};
	static uint8_t ir[4096];
	struct dpf_diag d;
	long n = dpf_ir_write(&prog, ir, sizeof ir);
	CHECK(n > 0, "dpf_ir_write: %ld", n);
	if (n <= 0)
		return;
	struct dpf_prog *rd = NULL;
	int rc = dpf_ir_read(ksh_heap(), ir, (size_t)n, &rd, &d);
	CHECK(rc == 0 && rd && rd->nfilters == NF, "dpf_ir_read: %s", d.msg);
	if (rc != 0)
		return;
	/* a corrupted byte stream is refused with a reason, not a crash */
	ir[n / 2] ^= 0xff;
	struct dpf_prog *bad = NULL;
	if (dpf_ir_read(ksh_heap(), ir, (size_t)n / 2, &bad, &d) == 0)
		CHECK(0, "truncated IR accepted");

	int ids[NF];
	for (int i = 0; i < NF; i++) {
		rc = dpf_insert(k->engine, &rd->filters[i], &ids[i], &d);
		CHECK(rc == 0, "insert %s: %s", rd->filters[i].name, d.msg);
		if (rc != 0)
			ids[i] = -2;
	}
	dpf_prog_free(ksh_heap(), rd);
	struct jit_stats js;
	CHECK(jit_status(k->engine, &js, &d) == 1, "x86 code runs: %s", d.msg);
	CHECK(dpf_exec(k->engine) != NULL, "dpf_exec gives the JIT's function");

	static uint8_t pkt[128];
	uint32_t len;
	len = mk_ip(pkt, 6, 5, 80);
	engine_agrees(k->engine, pkt, len, ids[F_TCP80]);
	len = mk_ip(pkt, 6, 6, 80);
	engine_agrees(k->engine, pkt, len, ids[F_TCP80]);
	len = mk_ip(pkt, 17, 5, 53);
	engine_agrees(k->engine, pkt, len, ids[F_UDP53]);
	len = mk_ip(pkt, 6, 5, 22);
	engine_agrees(k->engine, pkt, len, ids[F_IP]);
	len = mk_ip(pkt, 6, 5, 80);
	pkt[20] = 0x00, pkt[21] = 0x10; /* a later fragment */
	engine_agrees(k->engine, pkt, len, ids[F_IP]);
	len = mk_ip(pkt, 17, 5, 53);
	pkt[12] = 0x08, pkt[13] = 0x06; /* ARP */
	engine_agrees(k->engine, pkt, 42, ids[F_ARP]);
	pkt[12] = 0x86, pkt[13] = 0xdd; /* IPv6: nothing */
	engine_agrees(k->engine, pkt, 54, DPF_NOMATCH);

	CHECK(dpf_delete(k->engine, ids[F_TCP80]) == 0, "delete tcp80");
	len = mk_ip(pkt, 6, 5, 80);
	engine_agrees(k->engine, pkt, len, ids[F_IP]);
	CHECK(jit_status(k->engine, NULL, NULL) == 1, "x86 code after delete");
	ksh_printf("selftest: dpf: %u filters, %u units, %lu code bytes\n",
	           dpf_count(k->engine), js.units, js.code_bytes);
}

/* A back end that cannot get code memory leaves the interpreter working. */
static int no_map(void *ctx, size_t size, void **rw, void **rx)
{
	return -1;
}

static void no_unmap(void *ctx, size_t size, void *rw, void *rx)
{
}

static void test_jit_fallback(void)
{
	static const struct jit_mem none = {no_map, no_unmap, NULL};
	struct dpf_diag d;
	struct dpf_engine *e = dpf_engine_new(ksh_heap());
	CHECK(e != NULL, "second engine");
	if (!e)
		return;
	int id = -1;
	CHECK(dpf_insert(e, &filters[F_TCP80], &id, &d) == 0, "insert: %s", d.msg);
	CHECK(jit_attach(e, &none, 0, &d) != 0, "attach without code memory fails");
	CHECK(jit_status(e, NULL, NULL) == 0, "jit_status says interpreter");
	CHECK(dpf_exec(e) == NULL, "no native function");
	static uint8_t pkt[128];
	uint32_t len = mk_ip(pkt, 6, 5, 80);
	engine_agrees(e, pkt, len, id);
	dpf_engine_free(e);
}

void ksh_selftest(struct ksh *k)
{
	test_frames();
	test_heap();
	test_jit_mem();
	test_ring();
	test_hist();
	test_dpf(k);
	test_jit_fallback();
	if (failures) {
		ksh_printf("selftest: %d FAILED\n", failures);
		ksh_exit(KSH_EXIT_SELFTEST_FAIL);
	}
	ksh_printf("selftest: ok\n");
	ksh_exit(KSH_EXIT_SELFTEST_OK);
}

/* Deep enough to run off any stack; the frame's bytes keep it from being
 * turned into a loop. */
static uint64_t recurse(uint64_t n)
{
	volatile uint8_t frame[256];
	frame[n & 255] = (uint8_t)n;
	if (n == 0)
		return frame[0];
	return recurse(n - 1) + frame[(n + 1) & 255];
}
/* 1 when the command-line value at v (ended by a space or NUL) is w. */
static int is_word(const char *v, const char *w)
{
	while (*w && *v == *w)
		v++, w++;
	return !*w && (*v == 0 || *v == ' ');
}


void ksh_fault(const char *kind)
{
	const struct jit_mem *m = ksh_jit_mem();
	void *rw = NULL, *rx = NULL;
	ksh_printf("ksh: deliberate fault '%s'\n", kind);
	if (is_word(kind, "ud")) {
		__asm__ volatile("ud2");
	} else if (is_word(kind, "de")) {
		__asm__ volatile("xor %%ecx, %%ecx; div %%ecx" ::: "eax", "ecx", "edx");
	} else if (is_word(kind, "gp")) {
		*(volatile uint64_t *)(uintptr_t)0x8000000000000000ull = 1;
	} else if (is_word(kind, "stack")) {
		ksh_printf("ksh: %lu\n", recurse(1ull << 40));
	} else if (is_word(kind, "null")) {
		(void)*(volatile uint64_t *)(uintptr_t)0;
	} else if (is_word(kind, "wx") || is_word(kind, "nx")) {
		if (m->map(m->ctx, 4096, &rw, &rx) != 0)
			ksh_panic("fault: no JIT memory");
		*(volatile uint8_t *)rw = 0xc3; /* ret: fine through rw */
		if (kind[0] == 'w') {
			*(volatile uint8_t *)rx = 0xc3;
		} else {
			void (*fn)(void);
			memcpy(&fn, &rw, sizeof fn);
			fn();
		}
	} else {
		ksh_panic("unknown fault kind '%s'", kind);
	}
	ksh_panic("fault '%s' did not fault", kind);
}
