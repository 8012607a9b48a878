/*
 * ash.c - application-specific safe handlers (ASHs) in the kernel: the
 * transfer of an owner's handler image, its verification and compilation
 * by the kernel itself, its binding to one of the owner's filters, and
 * the hook that runs it on every frame that filter matches.
 *
 * Contract (the wire side is in ksh_proto.h, the limits in param.h):
 *   - An image is taken only from its owner, in order, whole and with the
 *     right CRC-32; then ash_image_read decodes it, vfy_ash (the kernel's
 *     own copy of the verifier: the host's verdict is never trusted)
 *     checks it, its proven worst case must fit KSH_ASH_INSN_BUDGET,
 *     ash_prog_new creates its maps, and ash_prog_jit compiles it into the
 *     kernel's W^X code memory (a JIT refusal keeps the interpreter).  Any
 *     refusal leaves nothing behind: every allocation is undone.
 *   - Memory: each owner has a struct dpf_host that allocates from the
 *     kernel heap and charges the owner's handler memory (the decoded
 *     image, the verifier's working memory while it runs, its facts, the
 *     maps) against KSH_ASH_MEM_QUOTA, and a struct jit_mem over the
 *     kernel's code memory that charges KSH_ASH_CODE_QUOTA.  A request
 *     that would pass a quota fails as out of memory and is refused with
 *     KSH_ENOSPC; detaching gives everything back.
 *   - ksh_ash_hook() runs the filter's handler (x86 code, or the
 *     interpreter) on a copy of the frame in a frame buffer laid out as
 *     ash/ash.h's frame model, and says what demux.c must do: nothing
 *     (no handler), nothing more (consumed: DROP, or TX transmitted now),
 *     or deliver a frame to the owner's ring (PASS: the handler's frame;
 *     REDIRECT: the handler's frame, to the ring its bpf_redirect index
 *     names, left in k->redirect_ring; ABORTED or
 *     a fault: the frame as received; TX the NIC refused: the handler's
 *     frame, counted in tx_failed).  No frame is lost.
 *   - Environment the handlers see: bpf_ktime_get_ns is the TSC scaled by
 *     its measured rate; bpf_get_prandom_u32 a xorshift64* seeded by
 *     owner.c (from the capability key's PRF, at an input capabilities
 *     never use); bpf_trace_printk output is dropped;
 *     ingress ifindex 1, rx queue 0.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

_Static_assert(KSH_ASH_MAX < 256, "ksh.h: ash_of holds 1 + a slot in a byte");

/* ---- per-owner memory, charged against the quotas ---- */

static void *own_alloc(void *ctx, size_t size)
{
	struct ksh_owner *o = ctx;
	if (size > KSH_ASH_MEM_QUOTA || o->ash_mem + size > KSH_ASH_MEM_QUOTA)
		return NULL;
	void *p = ksh_heap()->alloc(NULL, size);
	if (p)
		o->ash_mem += size;
	return p;
}

static void own_free(void *ctx, void *ptr, size_t size)
{
	struct ksh_owner *o = ctx;
	if (!ptr)
		return;
	ksh_heap()->free(NULL, ptr, size);
	o->ash_mem -= size <= o->ash_mem ? size : o->ash_mem;
}

static void own_relax(void *ctx)
{
	(void)ctx;
	cpu_relax();
}

static int own_map(void *ctx, size_t size, void **rw, void **rx)
{
	struct ksh_owner *o = ctx;
	const struct jit_mem *m = ksh_jit_mem();
	if (!m || size > KSH_ASH_CODE_QUOTA ||
	    o->ash_code + size > KSH_ASH_CODE_QUOTA)
		return -1;
	if (m->map(m->ctx, size, rw, rx) != 0)
		return -1;
	o->ash_code += size;
	return 0;
}

static void own_unmap(void *ctx, size_t size, void *rw, void *rx)
{
	struct ksh_owner *o = ctx;
	const struct jit_mem *m = ksh_jit_mem();
	m->unmap(m->ctx, size, rw, rx);
	o->ash_code -= size <= o->ash_code ? size : o->ash_code;
}

/* ---- the environment handlers see ---- */

static struct ksh *env_k; /* the kernel, for the environment's hooks */

static uint64_t env_ktime(void *ctx)
{
	(void)ctx;
	uint64_t hz = env_k ? env_k->tsc_hz : 0, t = rdtsc();
	if (!hz)
		return 0;
	return t / hz * 1000000000ull + t % hz * 1000000000ull / hz;
}

static uint32_t env_prandom(void *ctx)
{
	(void)ctx;
	uint64_t x = env_k->ash_rand;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	env_k->ash_rand = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

void ksh_ash_init(struct ksh *k)
{
	env_k = k;
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		struct ksh_owner *o = &k->owners[i];
		o->ash_host.alloc = own_alloc;
		o->ash_host.free = own_free;
		o->ash_host.relax = own_relax;
		o->ash_host.ctx = o;
		o->ash_jit.map = own_map;
		o->ash_jit.unmap = own_unmap;
		o->ash_jit.ctx = o;
	}
}

/* ---- binding ---- */

static struct ksh_ash *handler_of(struct ksh *k, int filter)
{
	if (filter < 0 || (uint32_t)filter >= KSH_MAX_FILTER_IDS ||
	    !k->ash_of[filter])
		return NULL;
	return &k->ash[k->ash_of[filter] - 1];
}

/* Free whatever of h exists (a half-built handler too). */
static void release(struct ksh_owner *o, struct ksh_ash *h)
{
	if (h->prog)
		ash_prog_free(h->prog);
	if (h->vres.facts)
		vfy_ash_free(&h->vres);
	if (h->img)
		ash_image_free(&o->ash_host, h->img);
	memset(h, 0, sizeof *h);
}

static void unbind(struct ksh *k, struct ksh_ash *h)
{
	struct ksh_owner *o = ksh_owner_get(k, h->owner);
	k->ash_of[h->filter] = 0;
	k->st.ash_handlers--;
	release(o, h);
}

void ksh_ash_filter_gone(struct ksh *k, int filter)
{
	struct ksh_ash *h = handler_of(k, filter);
	if (h)
		unbind(k, h);
}

void ksh_ash_reset(struct ksh *k)
{
	for (uint32_t i = 0; i < KSH_ASH_MAX; i++) {
		struct ksh_ash_counters *c = &k->ash[i].cnt;
		int32_t f = c->filter;
		uint32_t j = c->jitted;
		memset(c, 0, sizeof *c);
		c->filter = f;
		c->jitted = j;
	}
	k->st.ash_handlers = 0;
	for (uint32_t i = 0; i < KSH_ASH_MAX; i++)
		k->st.ash_handlers += k->ash[i].live;
}

__attribute__((format(printf, 2, 3))) static void
say(char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ksh_vsnprintf(why, KSH_REASON_MAX + 1, fmt, ap);
	va_end(ap);
}

/* The filter must be installed and o's: KSH_OK, or a refusal. */
static int32_t own_filter(struct ksh *k, struct ksh_owner *o, int32_t filter,
                          char *why)
{
	uint32_t me = (uint32_t)(o - k->owners) + 1;
	if (filter < 0 || (uint32_t)filter >= KSH_MAX_FILTER_IDS ||
	    !dpf_filter_get(k->engine, filter)) {
		say(why, "no filter %d", filter);
		return KSH_ENOENT;
	}
	if (k->owner_of[filter] != me) {
		say(why, "filter %d belongs to owner %u, not %u", filter,
		     k->owner_of[filter], me);
		return KSH_EPERM;
	}
	return KSH_OK;
}

int32_t ksh_ash_begin(struct ksh *k, struct ksh_owner *o,
                      const struct ksh_ash_begin *b, char *why)
{
	int32_t st = own_filter(k, o, b->filter, why);
	if (st != KSH_OK)
		return st;
	if (b->total == 0) {
		say(why, "handler image of 0 bytes");
		return KSH_EINVAL;
	}
	if (b->total > KSH_ASH_IMAGE_MAX) {
		say(why, "handler image of %u bytes exceeds the limit of %u",
		     b->total, KSH_ASH_IMAGE_MAX);
		return KSH_ENOSPC;
	}
	o->ash_begun = 1;
	o->ash_len = 0;
	o->ash_total = b->total;
	o->ash_crc = b->crc32;
	o->ash_filter = b->filter;
	return KSH_OK;
}

int32_t ksh_ash_chunk(struct ksh *k, struct ksh_owner *o, uint32_t offset,
                      const uint8_t *bytes, uint32_t n, char *why)
{
	(void)k;
	if (!o->ash_begun) {
		say(why, "handler image chunk at offset %u without ASH_BEGIN",
		     offset);
		return KSH_ESTATE;
	}
	if (offset != o->ash_len) {
		say(why, "handler image chunk at offset %u, expected offset %u of %u",
		     offset, o->ash_len, o->ash_total);
		return KSH_ESTATE;
	}
	if ((uint64_t)offset + n > o->ash_total) {
		say(why, "handler image chunk of %u bytes at %u runs past %u", n,
		     offset, o->ash_total);
		return KSH_EINVAL;
	}
	memcpy(o->ash_buf + offset, bytes, n);
	o->ash_len += n;
	return KSH_OK;
}

/* A refusal caused by an allocation: the quota, or the heap itself. */
static int32_t no_memory(struct ksh_owner *o, const char *what, char *why)
{
	say(why, "%s: out of memory (the owner's handlers hold %lu of %u bytes, "
	          "code %lu of %u)",
	     what, o->ash_mem, KSH_ASH_MEM_QUOTA, o->ash_code, KSH_ASH_CODE_QUOTA);
	return KSH_ENOSPC;
}

int32_t ksh_ash_commit(struct ksh *k, struct ksh_owner *o,
                       struct ksh_ash_commit_reply *rep, char *why)
{
	uint32_t begun = o->ash_begun, len = o->ash_len, total = o->ash_total;
	int32_t filter = o->ash_filter;
	o->ash_begun = 0; /* the transfer ends whatever happens */
	o->ash_len = o->ash_total = 0;
	if (!begun) {
		say(why, "ASH_COMMIT without ASH_BEGIN");
		return KSH_ESTATE;
	}
	if (len != total) {
		say(why, "handler image incomplete: %u of %u bytes received", len,
		     total);
		return KSH_ESTATE;
	}
	uint32_t crc = ksh_crc32(o->ash_buf, len);
	if (crc != o->ash_crc) {
		say(why, "handler image damaged: CRC-32 %08x, expected %08x", crc,
		     o->ash_crc);
		return KSH_EINVAL;
	}
	int32_t st = own_filter(k, o, filter, why);
	if (st != KSH_OK)
		return st == KSH_ENOENT ? KSH_ESTATE : st;
	if (handler_of(k, filter)) {
		say(why, "filter %d already has a handler: detach it first", filter);
		return KSH_ESTATE;
	}
	struct ksh_ash *h = NULL;
	for (uint32_t i = 0; i < KSH_ASH_MAX && !h; i++)
		if (!k->ash[i].live)
			h = &k->ash[i];
	if (!h) {
		say(why, "every handler slot (%u) is taken", KSH_ASH_MAX);
		return KSH_ENOSPC;
	}
	memset(h, 0, sizeof *h);
	struct dpf_diag d;
	d.msg[0] = 0;
	int rc = ash_image_read(&o->ash_host, o->ash_buf, len, &h->img, &d);
	if (rc == DPF_ENOMEM) {
		release(o, h);
		return no_memory(o, "handler image", why);
	}
	if (rc != 0) {
		release(o, h);
		say(why, "handler image refused: %s", d.msg);
		return KSH_EINVAL;
	}
	struct vfy_ash_opts vo = {VFY_ASH_CTX_XDP, 0, 0};
	d.msg[0] = 0;
	rc = vfy_ash(h->img, &vo, &o->ash_host, &h->vres, &d);
	if (rc == DPF_ENOMEM) {
		memset(&h->vres, 0, sizeof h->vres);
		release(o, h);
		return no_memory(o, "verifier", why);
	}
	if (rc != 0) {
		uint32_t at = h->vres.err_insn;
		memset(&h->vres, 0, sizeof h->vres);
		release(o, h);
		say(why, "verifier refused at insn %u: %s", at, d.msg);
		return KSH_EINVAL;
	}
	if (h->vres.worst_insns > KSH_ASH_INSN_BUDGET) {
		uint64_t w = h->vres.worst_insns;
		release(o, h);
		say(why, "handler may run %lu instructions per frame; the kernel's "
		          "budget is %u",
		     w, KSH_ASH_INSN_BUDGET);
		return KSH_EINVAL;
	}
	struct ash_env env;
	memset(&env, 0, sizeof env);
	env.host = &o->ash_host;
	env.ktime_ns = env_ktime;
	env.prandom = env_prandom;
	env.ifindex = 1;
	d.msg[0] = 0;
	rc = ash_prog_new(h->img, &h->vres, &env, &h->prog, &d);
	if (rc != 0) {
		h->prog = NULL;
		release(o, h);
		if (rc == DPF_ENOMEM)
			return no_memory(o, "handler maps", why);
		say(why, "handler maps refused: %s", d.msg);
		return rc == DPF_ELIMIT ? KSH_ENOSPC : KSH_EINVAL;
	}
	d.msg[0] = 0;
	if (ash_prog_jit(h->prog, &o->ash_jit, &d) != 0)
		ksh_printf("ksh: handler of filter %d: x86 JIT refused (%s): "
		           "interpreter\n",
		           filter, d.msg);
	h->live = 1;
	h->owner = (uint32_t)(o - k->owners) + 1;
	h->filter = filter;
	h->cnt.filter = filter;
	h->cnt.jitted = (uint32_t)ash_prog_jitted(h->prog);
	k->ash_of[filter] = (uint8_t)(h - k->ash + 1);
	k->st.ash_handlers++;
	ksh_printf("ksh: handler '%s' bound to filter %d of owner %u (%s, at "
	           "most %lu insns per frame)\n",
	           h->img->prog, filter, h->owner,
	           h->cnt.jitted ? "x86" : "interpreter", h->vres.worst_insns);
	rep->filter = filter;
	rep->jitted = h->cnt.jitted;
	rep->worst_insns = h->vres.worst_insns;
	rep->mem_bytes = o->ash_mem;
	rep->code_bytes = o->ash_code;
	return KSH_OK;
}

int32_t ksh_ash_detach(struct ksh *k, struct ksh_owner *o, int32_t filter,
                       char *why)
{
	int32_t st = own_filter(k, o, filter, why);
	if (st != KSH_OK)
		return st;
	struct ksh_ash *h = handler_of(k, filter);
	if (!h) {
		say(why, "filter %d has no handler", filter);
		return KSH_ENOENT;
	}
	unbind(k, h);
	return KSH_OK;
}

int32_t ksh_ash_counters(struct ksh *k, struct ksh_owner *o, int32_t filter,
                         struct ksh_ash_counters *rep, char *why)
{
	int32_t st = own_filter(k, o, filter, why);
	if (st != KSH_OK)
		return st;
	struct ksh_ash *h = handler_of(k, filter);
	if (!h) {
		say(why, "filter %d has no handler", filter);
		return KSH_ENOENT;
	}
	*rep = h->cnt;
	return KSH_OK;
}

/* ---- the hook: every frame a filter with a handler matches ---- */

static uint8_t frame_buf[ASH_FRAME_SIZE] __attribute__((aligned(64)));

int ksh_ash_hook(struct ksh *k, int filter, const uint8_t **frame,
                 uint32_t *len)
{
	struct ksh_ash *h = handler_of(k, filter);
	if (!h)
		return KSH_ASH_NONE;
	struct ksh_ash_counters *c = &h->cnt;
	if (*len < ASH_ETH_HLEN || *len > ASH_MAX_DATA) {
		c->pass++;
		return KSH_ASH_NONE;
	}
	struct ash_xdp x;
	struct ash_result res;
	ash_xdp_init(&x, frame_buf, *frame, *len);
	c->runs++;
	k->st.ash_runs++;
	int rc = ash_run_xdp(h->prog, &x, ASH_ENGINE_X86, &res);
	c->insns += res.insns;
	int act = rc == 0 ? res.action : ASH_XDP_ABORTED;
	const uint8_t *out = x.buf + x.data;
	uint32_t n = x.data_end - x.data;
	switch (act) {
	case ASH_XDP_DROP:
		c->drop++;
		return KSH_ASH_CONSUMED;
	case ASH_XDP_TX:
		c->tx++;
		if (ksh_tx(k, out, n) == 0) {
			k->st.ash_tx++;
			return KSH_ASH_CONSUMED;
		}
		c->tx_failed++;
		break;
	case ASH_XDP_PASS:
		c->pass++;
		break;
	case ASH_XDP_REDIRECT:
		c->redirect++;
		k->redirect_ring = res.redirect_index; /* demux.c picks the ring */
		break;
	default:
		c->aborted++;
		if (rc != 0)
			c->faults++;
		return KSH_ASH_DELIVER; /* the frame as received */
	}
	*frame = out;
	*len = n;
	return KSH_ASH_DELIVER;
}
