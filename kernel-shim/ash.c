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
 *   - Maps: the owner reads (by key, or key after key, values in pieces
 *     by offset) and writes (whole values, bpf's flags) the maps of its
 *     handlers through ash/maps.c, after its filter and the map index,
 *     key and value sizes are checked (ksh_proto.h "Maps").
 *   - CPU budget: ksh_ash_hook times each run of a handler (the program
 *     alone: not the frame's copy, nor a TX's transmission) and charges
 *     its owner; past the owner's budget for the window (param.h)
 *     the handler that ran is revoked (its verdict on that frame stands),
 *     the owner's window restarts, and a notice is queued for it and sent
 *     to it at once (ksh_proto.h "CPU budget and notices").
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

/* The budget at per_ms cycles per ms (param.h's rate at most). */
static void set_budget(struct ksh *k, uint64_t per_ms)
{
	uint64_t most = k->tsc_hz / 1000 * KSH_ASH_CPU_PCT / 100;
	if (per_ms > most)
		per_ms = most;
	k->ash_cpu_window = k->tsc_hz / 1000 * KSH_ASH_CPU_WINDOW_MS;
	k->ash_cpu_budget = per_ms * KSH_ASH_CPU_WINDOW_MS;
}

void ksh_ash_init(struct ksh *k)
{
	env_k = k;
	set_budget(k, ~0ull);
	for (uint32_t i = 0; i < KSH_MAX_OWNERS; i++) {
		struct ksh_owner *o = &k->owners[i];
		o->ash_host.alloc = own_alloc;
		o->ash_host.free = own_free;
		o->ash_host.relax = own_relax;
		o->ash_host.ctx = o;
		o->ash_jit.map = own_map;
		o->ash_jit.unmap = own_unmap;
		o->ash_jit.ctx = o;
		o->cpu_start = o->cpu_used = 0;
		o->notice_head = o->notice_n = o->notice_seq = 0;
		o->notice_lost = 0;
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

static int hook(struct ksh *k, int filter, const uint8_t **frame,
                uint32_t *len, uint64_t *spent)
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
	uint64_t t0 = rdtsc();
	int rc = ash_run_xdp(h->prog, &x, ASH_ENGINE_X86, &res);
	*spent = rdtsc() - t0;
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

/* ---- the CPU budget: revocation and notices ---- */

void ksh_ash_cpu_arg(struct ksh *k, const char *val)
{
	uint64_t v = 0;
	int digits = 0;
	for (; *val >= '0' && *val <= '9' && digits < 19; val++, digits++)
		v = v * 10 + (uint64_t)(*val - '0');
	if (!digits || (*val && *val != ' ')) {
		ksh_printf("ksh: ash_cpu= wants decimal cycles per ms: ignored\n");
		return;
	}
	set_budget(k, v ? v : 1); /* 0 would be no budget at all */
	ksh_printf("ksh: handler CPU budget: %lu cycles per owner every %u ms\n",
	           k->ash_cpu_budget, KSH_ASH_CPU_WINDOW_MS);
}

/* Queue a notice for o (counted when the queue is full) and send it. */
static void tell(struct ksh *k, struct ksh_owner *o,
                 const struct ksh_ash_notice *n)
{
	if (o->notice_n < KSH_ASH_NOTICES) {
		o->notice[(o->notice_head + o->notice_n) % KSH_ASH_NOTICES] = *n;
		o->notice_n++;
	} else {
		o->notice_lost++;
		k->st.ash_notices_lost++;
	}
	struct {
		struct ksh_ash_notices h;
		struct ksh_ash_notice n;
	} __attribute__((packed)) body;
	body.h.n = 1;
	body.h.left = o->notice_n;
	body.h.lost = o->notice_lost;
	body.n = *n;
	ksh_ctl_notice(k, o->mac, &body, sizeof body);
}

/* h's owner went past its budget with h's run of `spent` cycles. */
static void revoke(struct ksh *k, struct ksh_owner *o, struct ksh_ash *h,
                   uint64_t spent)
{
	struct ksh_ash_notice n;
	memset(&n, 0, sizeof n);
	n.seq = ++o->notice_seq;
	n.reason = KSH_NOTICE_CPU;
	n.filter = h->filter;
	size_t l = 0;
	while (l + 1 < sizeof n.prog && h->img->prog[l]) {
		n.prog[l] = h->img->prog[l];
		l++;
	}
	n.used_cycles = o->cpu_used;
	n.budget_cycles = k->ash_cpu_budget;
	n.window_cycles = k->ash_cpu_window;
	n.run_cycles = spent;
	n.cnt = h->cnt;
	ksh_printf("ksh: handler '%s' on filter %d of owner %u revoked: %lu "
	           "cycles in its window, budget %lu\n",
	           n.prog, h->filter, h->owner, o->cpu_used, k->ash_cpu_budget);
	k->st.ash_revoked++;
	unbind(k, h);
	o->cpu_used = 0;
	o->cpu_start = rdtsc();
	tell(k, o, &n);
}

/* Charge `spent` cycles of filter's handler to its owner. */
static void charge(struct ksh *k, int filter, uint64_t spent)
{
	struct ksh_ash *h = handler_of(k, filter);
	struct ksh_owner *o = h ? ksh_owner_get(k, h->owner) : NULL;
	if (!o || !k->ash_cpu_budget)
		return;
	uint64_t now = rdtsc();
	if (now - o->cpu_start >= k->ash_cpu_window) {
		o->cpu_start = now;
		o->cpu_used = 0;
	}
	o->cpu_used += spent;
	if (o->cpu_used > k->ash_cpu_budget)
		revoke(k, o, h, spent);
}

int ksh_ash_hook(struct ksh *k, int filter, const uint8_t **frame,
                 uint32_t *len)
{
	uint64_t spent = 0;
	int v = hook(k, filter, frame, len, &spent);
	if (v != KSH_ASH_NONE)
		charge(k, filter, spent);
	return v;
}

void ksh_ash_notices(struct ksh *k, struct ksh_owner *o, uint8_t *out,
                     uint32_t cap, uint32_t *outlen)
{
	(void)k;
	struct ksh_ash_notices h;
	uint32_t at = (uint32_t)sizeof h;
	h.n = 0;
	while (o->notice_n && at + sizeof(struct ksh_ash_notice) <= cap) {
		memcpy(out + at, &o->notice[o->notice_head],
		       sizeof(struct ksh_ash_notice));
		at += (uint32_t)sizeof(struct ksh_ash_notice);
		o->notice_head = (o->notice_head + 1) % KSH_ASH_NOTICES;
		o->notice_n--;
		h.n++;
	}
	h.left = o->notice_n;
	h.lost = o->notice_lost;
	memcpy(out, &h, sizeof h);
	*outlen = at;
}

/* ---- maps, read and written by the owner ---- */

static uint8_t map_val[ASH_MAX_VALUE]; /* one value, read or written */

/* The map `map` of o's handler on filter: its definition, or NULL with
 * the request refused in *st and why. */
static const struct ash_map_def *owned_map(struct ksh *k, struct ksh_owner *o,
                                           int32_t filter, uint32_t map,
                                           struct ksh_ash **hp, int32_t *st,
                                           char *why)
{
	*st = own_filter(k, o, filter, why);
	if (*st != KSH_OK)
		return NULL;
	struct ksh_ash *h = handler_of(k, filter);
	if (!h) {
		say(why, "filter %d has no handler", filter);
		*st = KSH_ENOENT;
		return NULL;
	}
	uint32_t nmaps = ash_map_count(h->prog);
	if (map >= nmaps) {
		say(why, "no map %u: the handler of filter %d has %u", map, filter,
		    nmaps);
		*st = KSH_EINVAL;
		return NULL;
	}
	const struct ash_map_def *d = ash_map_def(h->prog, map);
	if (d->type == ASH_MAP_RINGBUF) {
		say(why, "map %u '%s' is a ring buffer: its records have no keys",
		    map, d->name);
		*st = KSH_EINVAL;
		return NULL;
	}
	*hp = h;
	return d;
}

int32_t ksh_ash_map_read(struct ksh *k, struct ksh_owner *o,
                         const struct ksh_ash_map_read *q, const uint8_t *key,
                         uint8_t *out, uint32_t cap, uint32_t *outlen,
                         char *why)
{
	struct ksh_ash *h = NULL;
	int32_t st;
	const struct ash_map_def *d =
		owned_map(k, o, q->filter, q->map, &h, &st, why);
	if (!d)
		return st;
	if (q->how > KSH_MAP_NEXT) {
		say(why, "map read of kind %u (0 lookup, 1 first, 2 next)", q->how);
		return KSH_EINVAL;
	}
	uint32_t want = q->how == KSH_MAP_FIRST ? 0 : d->key_size;
	if (q->key_len != want) {
		say(why, "map %u '%s' %s a key of %u bytes, not %u", q->map,
		    d->name, q->how == KSH_MAP_FIRST ? "reads first without"
		                                      : "takes",
		    want, q->key_len);
		return KSH_EINVAL;
	}
	if (q->offset && q->offset >= d->value_size) {
		say(why, "offset %u is past map %u '%s''s values of %u bytes",
		    q->offset, q->map, d->name, d->value_size);
		return KSH_EINVAL;
	}
	struct ksh_ash_map_value v;
	memset(&v, 0, sizeof v);
	uint8_t *kout = out + sizeof v;
	const uint8_t *kin = key;
	if (q->how != KSH_MAP_LOOKUP) {
		if (ash_map_next_key(h->prog, q->map,
		                     q->how == KSH_MAP_NEXT ? key : NULL,
		                     kout) != 0)
			goto done;
		kin = kout;
	} else {
		memcpy(kout, key, d->key_size);
	}
	if (ash_map_lookup(h->prog, q->map, kin, map_val) != 0)
		goto done;
	v.found = 1;
	v.key_len = d->key_size;
	v.value_size = d->value_size;
	v.offset = q->offset;
	uint32_t room = cap - (uint32_t)sizeof v - d->key_size;
	v.n = d->value_size - q->offset < room ? d->value_size - q->offset : room;
	memcpy(kout + d->key_size, map_val + q->offset, v.n);
done:
	memcpy(out, &v, sizeof v);
	*outlen = (uint32_t)sizeof v + (v.found ? v.key_len + v.n : 0);
	return KSH_OK;
}

int32_t ksh_ash_map_write(struct ksh *k, struct ksh_owner *o,
                          const struct ksh_ash_map_write *w,
                          const uint8_t *kv, char *why)
{
	struct ksh_ash *h = NULL;
	int32_t st;
	const struct ash_map_def *d =
		owned_map(k, o, w->filter, w->map, &h, &st, why);
	if (!d)
		return st;
	uint32_t fit = KSH_PAYLOAD_MAX - (uint32_t)sizeof *w - d->key_size;
	if (d->value_size > fit) {
		say(why, "map %u '%s''s values of %u bytes do not fit one frame "
		         "with their key (%u at most): not writable here",
		    w->map, d->name, d->value_size, fit);
		return KSH_EINVAL;
	}
	if (w->key_len != d->key_size || w->value_len != d->value_size) {
		say(why, "map %u '%s' takes keys of %u bytes and values of %u, "
		         "not %u and %u",
		    w->map, d->name, d->key_size, d->value_size, w->key_len,
		    w->value_len);
		return KSH_EINVAL;
	}
	if (d->kind == ASH_MAPK_RODATA) {
		say(why, "map %u '%s' is .rodata: frozen at load", w->map, d->name);
		return KSH_EINVAL;
	}
	if (w->flags > KSH_MAP_EXIST) {
		say(why, "map write flags %lu (0 any, 1 noexist, 2 exist)",
		    w->flags);
		return KSH_EINVAL;
	}
	memcpy(map_val, kv + w->key_len, w->value_len);
	switch (ash_map_update(h->prog, w->map, kv, map_val, w->flags)) {
	case 0:
		return KSH_OK;
	case DPF_EEXIST:
		say(why, "map %u '%s': the key exists (NOEXIST)", w->map, d->name);
		return KSH_ESTATE;
	case DPF_ENOENT:
		say(why, "map %u '%s': no such key (EXIST)", w->map, d->name);
		return KSH_ENOENT;
	case DPF_ELIMIT:
		say(why, "map %u '%s' is full (%u entries)", w->map, d->name,
		    d->max_entries);
		return KSH_ENOSPC;
	default:
		say(why, "map %u '%s': index past its %u entries", w->map, d->name,
		    d->max_entries);
		return KSH_EINVAL;
	}
}
