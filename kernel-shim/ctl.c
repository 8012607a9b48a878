/*
 * ctl.c - the kernel side of the control protocol (ksh_proto.h).
 *
 * Contract: every control frame without KSH_REPLY gets exactly one reply,
 * sent to the MAC address it came from, with the request's op | KSH_REPLY
 * and seq (op KSH_OP_NONE | KSH_REPLY and seq 0 when the header is
 * truncated), and a payload that starts with int32 status; a frame with
 * KSH_REPLY gets none (counted in ctl_ignored).  A refused request changes
 * nothing but, once its credential checked, its seq; its reply carries the
 * reason as text, and the refusal is counted by reason (ksh_stats ctl_*).
 * Nothing a frame contains can stop the kernel from serving the next one.
 *
 * Credentials (ksh_proto.h): every op but HELLO begins its payload with a
 * struct ksh_cred, checked by authenticate() against what the op accepts
 * (an owner's capability, the admission credential, or either) and then
 * against the credential's last accepted seq (replays).  OWNER, RESET and
 * EXIT take the admission credential only; IR, INSERT, DELETE and CONFIG
 * an owner's capability only; COUNTERS and STATS either, and COUNTERS for
 * an owner shows only that owner's filters (ASH_* an owner's only).
 * OWNER also spends a token of
 * the creation budget (owner.c, param.h).
 *
 * LAT (latency histograms, global) takes either credential, RINGS an
 * owner's capability; RESET zeroes both's figures.
 *
 * Handlers: ASH_BEGIN, ASH_CHUNK, ASH_COMMIT, ASH_DETACH, ASH_COUNTERS,
 * ASH_MAP_READ, ASH_MAP_WRITE and ASH_NOTICES take an owner's capability
 * only; ash.c checks that the filter is the owner's and does the rest
 * (here: that the key and value bytes the header announces are there).
 * An owner's accepted request records its source MAC, where its
 * unsolicited notices go (ksh_ctl_notice).  Deleting a filter detaches its handler;
 * RESET zeroes the handlers' counters too.
 *
 * Filters: an owner's KSH_OP_IR chunks fill its own stage (in order,
 * offset 0 restarts it; no other owner can write or install it); its
 * KSH_OP_INSERT reads the staged IR with dpf_ir_read (which verifies
 * every filter), checks secure binding against every filter of another
 * owner (every filter of another owner that dpf_paths_overlap relates to
 * a new path, found through the trie with dpf_overlapping; the other
 * owner's capability must be among the grants), then inserts the filters
 * one by one; if one is refused, those already inserted are deleted
 * again, so a set goes in whole or not at all.  The owner's stage is
 * emptied by every INSERT that authenticates, whatever its outcome.
 */
#include "kernel-shim/cpu.h"
#include "kernel-shim/ksh.h"

#define HDR_OFF 14
#define PAY_OFF (HDR_OFF + (uint32_t)sizeof(struct ksh_hdr))

/* A request being answered. */
struct req {
	const uint8_t *frame; /* for the sender's MAC */
	uint8_t op;
	uint32_t seq;
	const uint8_t *p; /* payload */
	uint32_t n;
};

/* A reply frame of op | KSH_REPLY and seq to dst. */
static void send_to(struct ksh *k, const uint8_t *dst, uint8_t op,
                    uint32_t seq, int32_t status, const void *body,
                    uint32_t blen)
{
	uint8_t f[KSH_FRAME_MAX];
	if (blen > KSH_PAYLOAD_MAX - 4)
		blen = KSH_PAYLOAD_MAX - 4;
	memcpy(f, dst, 6);
	memcpy(f + 6, k->nic.mac, 6);
	f[12] = KSH_ETHERTYPE >> 8;
	f[13] = KSH_ETHERTYPE & 0xff;
	struct ksh_hdr h = {KSH_VERSION, (uint8_t)(op | KSH_REPLY),
	                    (uint16_t)(4 + blen), seq};
	memcpy(f + HDR_OFF, &h, sizeof h);
	memcpy(f + PAY_OFF, &status, 4);
	if (blen)
		memcpy(f + PAY_OFF + 4, body, blen);
	if (ksh_tx(k, f, PAY_OFF + 4 + blen) != 0)
		ksh_printf("ksh: ctl: reply to op %u seq %u not sent\n", op, seq);
}

static void send_reply(struct ksh *k, const struct req *r, int32_t status,
                       const void *body, uint32_t blen)
{
	send_to(k, r->frame + 6, r->op, r->seq, status, body, blen);
}

void ksh_ctl_notice(struct ksh *k, const uint8_t mac[6], const void *body,
                    uint32_t blen)
{
	send_to(k, mac, KSH_OP_ASH_NOTICES, 0, KSH_OK, body, blen);
}

/* Count a refusal by its reason (ksh_proto.h: ctl_*); forged: a wrong
 * credential (KSH_EPERM). */
static void tally(struct ksh *k, int32_t status, int forged)
{
	struct ksh_stats *st = &k->st;
	if (forged)
		st->ctl_forged++;
	else if (status == KSH_EMALFORMED)
		st->ctl_malformed++;
	else if (status == KSH_EREPLAY)
		st->ctl_replayed++;
	else if (status == KSH_ERATE)
		st->ctl_throttled++;
	else
		st->ctl_refused++;
}

static void vrefuse(struct ksh *k, const struct req *r, int32_t status,
                    int forged, const char *fmt, va_list ap)
{
	char why[KSH_REASON_MAX + 1];
	int n = ksh_vsnprintf(why, sizeof why, fmt, ap);
	tally(k, status, forged);
	send_reply(k, r, status, why, (uint32_t)n);
}

__attribute__((format(printf, 4, 5))) static void
refuse(struct ksh *k, const struct req *r, int32_t status, const char *fmt,
       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(k, r, status, 0, fmt, ap);
	va_end(ap);
}

/* A wrong credential: KSH_EPERM, counted in ctl_forged. */
__attribute__((format(printf, 3, 4))) static void
deny(struct ksh *k, const struct req *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(k, r, KSH_EPERM, 1, fmt, ap);
	va_end(ap);
}

static void ok(struct ksh *k, const struct req *r, const void *body,
               uint32_t blen)
{
	send_reply(k, r, KSH_OK, body, blen);
}

/* 1 when the payload holds at least `need` bytes, else refused. */
static int need(struct ksh *k, const struct req *r, uint32_t need_bytes,
                const char *what)
{
	if (r->n >= need_bytes)
		return 1;
	refuse(k, r, KSH_EMALFORMED, "%s: payload of %u bytes, need %u", what,
	       r->n, need_bytes);
	return 0;
}

static const char *const op_names[KSH_NOPS] = {
	"NONE",     "HELLO", "OWNER", "IR",   "INSERT", "DELETE",
	"COUNTERS", "STATS", "RESET", "EXIT", "CONFIG", "ASH_BEGIN",
	"ASH_CHUNK", "ASH_COMMIT", "ASH_DETACH", "ASH_COUNTERS",
	"ASH_MAP_READ", "ASH_MAP_WRITE", "ASH_NOTICES",
	[KSH_OP_LAT] = "LAT", [KSH_OP_RINGS] = "RINGS",
};

/* What a credential may be, for authenticate(). */
enum { AS_OWNER = 1, AS_ADMIN = 2 };

/* Check the request's credential against what its op accepts (`as`),
 * then its seq against the last one accepted under that credential.  1
 * with the seq consumed and *o the owner (NULL for the admission
 * credential); else the request is refused and 0.  A wrong credential
 * changes nothing, its seq included, so it cannot lock the owner out. */
static int authenticate(struct ksh *k, const struct req *r,
                        const struct ksh_cred *c, int as,
                        struct ksh_owner **o)
{
	const char *op = op_names[r->op];
	uint32_t *last;
	*o = NULL;
	if (c->owner == KSH_OWNER_ADMIN) {
		if (!(as & AS_ADMIN)) {
			deny(k, r, "%s needs an owner's capability", op);
			return 0;
		}
		if (!ksh_admit_ok(k, c->cap)) {
			deny(k, r, "bad admission credential");
			return 0;
		}
		last = &k->admit_seq;
	} else {
		if (!(as & AS_OWNER)) {
			deny(k, r, "%s needs the admission credential", op);
			return 0;
		}
		*o = ksh_owner_auth(k, c->owner, c->cap);
		if (!*o) {
			deny(k, r, "bad capability for owner %u", c->owner);
			return 0;
		}
		last = &(*o)->last_seq;
	}
	if (r->seq <= *last) {
		if (*o)
			refuse(k, r, KSH_EREPLAY,
			       "seq %u replayed: %u was the last accepted for owner %u",
			       r->seq, *last, c->owner);
		else
			refuse(k, r, KSH_EREPLAY,
			       "seq %u replayed: %u was the last accepted for the "
			       "admission credential",
			       r->seq, *last);
		return 0;
	}
	*last = r->seq;
	if (*o)
		memcpy((*o)->mac, r->frame + 6, 6);
	return 1;
}

/* The payload's leading credential checked: 1, or 0 with the request
 * refused. */
static int auth_payload(struct ksh *k, const struct req *r, int as,
                        struct ksh_owner **o, struct ksh_cred *c)
{
	if (!need(k, r, sizeof *c, op_names[r->op]))
		return 0;
	memcpy(c, r->p, sizeof *c);
	return authenticate(k, r, c, as, o);
}

static struct ksh_owner *auth(struct ksh *k, const struct req *r,
                              const struct ksh_cred *c)
{
	struct ksh_owner *o;
	return authenticate(k, r, c, AS_OWNER, &o) ? o : NULL;
}

static void op_hello(struct ksh *k, const struct req *r)
{
	struct ksh_hello h;
	memcpy(h.mac, k->nic.mac, 6);
	h.nic = k->nic.device;
	h.tsc_hz = k->tsc_hz;
	h.boot_cycles = k->boot_cycles;
	h.max_filters = KSH_MAX_FILTERS;
	h.max_owners = KSH_MAX_OWNERS;
	ok(k, r, &h, sizeof h);
}

static void op_owner(struct ksh *k, const struct req *r)
{
	struct ksh_owner *who;
	struct ksh_cred c;
	if (!auth_payload(k, r, AS_ADMIN, &who, &c))
		return;
	if (k->nowners >= KSH_MAX_OWNERS) {
		refuse(k, r, KSH_ENOSPC, "no more owners (%u)", KSH_MAX_OWNERS);
		return;
	}
	if (!ksh_owner_budget(k)) {
		refuse(k, r, KSH_ERATE,
		       "owner creation past its budget (%u, one more every %u ms)",
		       KSH_OWNER_BURST, KSH_OWNER_REFILL_MS);
		return;
	}
	struct ksh_owner_reply o;
	uint64_t cap = 0;
	o.owner = ksh_owner_new(k, &cap);
	o.cap = cap;
	if (!o.owner) {
		refuse(k, r, KSH_ENOSPC, "no more owners (%u)", KSH_MAX_OWNERS);
		return;
	}
	ok(k, r, &o, sizeof o);
}

static void op_ir(struct ksh *k, const struct req *r)
{
	struct ksh_ir_chunk c;
	if (!need(k, r, sizeof c, "IR"))
		return;
	memcpy(&c, r->p, sizeof c);
	uint32_t bytes = r->n - (uint32_t)sizeof c;
	struct ksh_owner *o = auth(k, r, &c.who);
	if (!o)
		return;
	if (c.total > KSH_IR_MAX) {
		refuse(k, r, KSH_ENOSPC, "IR of %u bytes exceeds the stage of %u",
		       c.total, KSH_IR_MAX);
		return;
	}
	if (c.total == 0) {
		refuse(k, r, KSH_EINVAL, "IR total of 0 bytes");
		return;
	}
	if (c.offset != 0 &&
	    (o->stage_total == 0 || c.offset != o->stage_len ||
	     c.total != o->stage_total)) {
		refuse(k, r, KSH_ESTATE,
		       "IR chunk at offset %u of %u, expected offset %u of %u",
		       c.offset, c.total, o->stage_len, o->stage_total);
		return;
	}
	if ((uint64_t)c.offset + bytes > c.total) {
		refuse(k, r, KSH_EINVAL, "IR chunk of %u bytes at %u runs past %u",
		       bytes, c.offset, c.total);
		return;
	}
	if (c.offset == 0) {
		o->stage_total = c.total;
		o->stage_len = 0;
	}
	memcpy(o->stage + c.offset, r->p + sizeof c, bytes);
	o->stage_len += bytes;
	ok(k, r, NULL, 0);
}

/* 1 when the grants hold a valid capability of owner `owner`. */
static int granted(struct ksh *k, const uint8_t *grants, uint32_t ngrants,
                   uint32_t owner)
{
	for (uint32_t i = 0; i < ngrants; i++) {
		struct ksh_cred c;
		memcpy(&c, grants + i * sizeof c, sizeof c);
		if (c.owner == owner && ksh_owner_auth(k, c.owner, c.cap))
			return 1;
	}
	return 0;
}

/* The binding check's view of one new path: the smallest id of a filter
 * of another owner, without a grant, that the path overlaps. */
struct bind {
	struct ksh *k;
	const uint8_t *grants;
	uint32_t ngrants, who;
	int32_t worst; /* smallest offending id, or -1 */
	/* grants already judged, per owner: at most KSH_MAX_OWNERS owners */
	uint32_t seen_owner[KSH_MAX_OWNERS], nseen;
	uint8_t seen_ok[KSH_MAX_OWNERS];
};

static int bind_visit(void *ctx, int id)
{
	struct bind *b = ctx;
	const struct dpf_filter *g = dpf_filter_get(b->k->engine, id);
	if (!g || g->owner == b->who || (b->worst >= 0 && id >= b->worst))
		return 0;
	uint32_t i = 0;
	while (i < b->nseen && b->seen_owner[i] != g->owner)
		i++;
	int ok;
	if (i < b->nseen) {
		ok = b->seen_ok[i];
	} else {
		ok = granted(b->k, b->grants, b->ngrants, g->owner);
		if (b->nseen < KSH_MAX_OWNERS) {
			b->seen_owner[b->nseen] = g->owner;
			b->seen_ok[b->nseen++] = (uint8_t)ok;
		}
	}
	if (!ok)
		b->worst = id;
	return 0;
}

/* Secure binding: 0, or -1 with the request refused.  Paths are canonical
 * (op_insert); a path that can never match overlaps nothing.  The first
 * new path (in order) that overlaps a path of another owner's filter
 * without a grant is refused, naming the smallest such filter id; the
 * filters overlapping a path are found through the trie
 * (dpf_overlapping), not by comparing every installed path. */
static int check_binding(struct ksh *k, const struct req *r,
                         const struct dpf_prog *prog, uint32_t who,
                         const uint8_t *grants, uint32_t ngrants)
{
	struct bind b;
	memset(&b, 0, sizeof b);
	b.k = k;
	b.grants = grants;
	b.ngrants = ngrants;
	b.who = who;
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		const struct dpf_filter *f = &prog->filters[i];
		for (uint32_t p = 0; p < f->npaths; p++) {
			if (dpf_path_canon(&f->paths[p]))
				continue;
			b.worst = -1;
			dpf_overlapping(k->engine, &f->paths[p], bind_visit, &b);
			if (b.worst < 0)
				continue;
			const struct dpf_filter *g = dpf_filter_get(k->engine, b.worst);
			refuse(k, r, KSH_EPERM,
			       "filter '%s' could take packets of filter '%s' "
			       "of owner %u: no grant from that owner",
			       f->name, g->name, g->owner);
			return -1;
		}
	}
	return 0;
}

static int32_t status_of(int rc)
{
	switch (rc) {
	case DPF_ENOMEM:
	case DPF_ELIMIT:
		return KSH_ENOSPC;
	default:
		return KSH_EINVAL;
	}
}

static void op_insert(struct ksh *k, const struct req *r)
{
	struct ksh_insert in;
	if (!need(k, r, sizeof in, "INSERT"))
		return;
	memcpy(&in, r->p, sizeof in);
	struct ksh_owner *o = auth(k, r, &in.who);
	if (!o)
		return;
	uint32_t staged = o->stage_len, total = o->stage_total;
	o->stage_len = o->stage_total = 0; /* emptied whatever happens */
	if ((uint64_t)in.ngrants * sizeof(struct ksh_cred) > r->n - sizeof in) {
		refuse(k, r, KSH_EMALFORMED, "INSERT: %u grants do not fit in %u bytes",
		       in.ngrants, r->n);
		return;
	}
	const uint8_t *grants = r->p + sizeof in;
	if (total == 0 || staged != total) {
		refuse(k, r, KSH_ESTATE, "INSERT: %u of %u IR bytes staged", staged,
		       total);
		return;
	}

	struct dpf_prog *prog = NULL;
	struct dpf_diag d;
	d.msg[0] = 0;
	int rc = dpf_ir_read(ksh_heap(), o->stage, staged, &prog, &d);
	if (rc != 0) {
		refuse(k, r, status_of(rc), "IR refused: %s", d.msg);
		return;
	}
	if (prog->nfilters > KSH_MAX_FILTERS - k->nfilters) {
		refuse(k, r, KSH_ENOSPC, "%u filters do not fit: %u of %u installed",
		       prog->nfilters, k->nfilters, KSH_MAX_FILTERS);
		dpf_prog_free(ksh_heap(), prog);
		return;
	}
	for (uint32_t i = 0; i < prog->nfilters; i++) {
		struct dpf_filter *f = &prog->filters[i];
		f->owner = in.who.owner;
	}
	if (check_binding(k, r, prog, in.who.owner, grants, in.ngrants) != 0) {
		dpf_prog_free(ksh_heap(), prog);
		return;
	}

	struct {
		uint32_t n;
		int32_t id[(KSH_PAYLOAD_MAX - 8) / 4];
	} rep;
	const uint32_t fit = sizeof rep.id / sizeof rep.id[0];
	/* the ids of this set, to undo a partial insertion */
	static int32_t ids[KSH_MAX_FILTERS];
	uint32_t done = 0;
	for (; done < prog->nfilters; done++) {
		int id = -1;
		rc = dpf_insert(k->engine, &prog->filters[done], &id, &d);
		if (rc == 0 && (uint32_t)id >= KSH_MAX_FILTER_IDS) {
			dpf_delete(k->engine, id);
			rc = DPF_ELIMIT;
			ksh_snprintf(d.msg, sizeof d.msg, "filter id %d past the %u counted",
			             id, KSH_MAX_FILTER_IDS);
		}
		if (rc != 0)
			break;
		ids[done] = id;
	}
	if (done < prog->nfilters) {
		for (uint32_t i = 0; i < done; i++)
			dpf_delete(k->engine, ids[i]);
		refuse(k, r, status_of(rc), "filter '%s' refused: %s",
		       prog->filters[done].name, d.msg);
		dpf_prog_free(ksh_heap(), prog);
		return;
	}
	for (uint32_t i = 0; i < done; i++) {
		k->owner_of[ids[i]] = in.who.owner;
		k->matches[ids[i]] = 0;
		if (i < fit)
			rep.id[i] = ids[i];
	}
	k->nfilters += done;
	rep.n = done;
	dpf_prog_free(ksh_heap(), prog);
	ok(k, r, &rep, 4 + 4 * (done < fit ? done : fit));
}

static void op_delete(struct ksh *k, const struct req *r)
{
	struct ksh_delete del;
	if (!need(k, r, sizeof del, "DELETE"))
		return;
	memcpy(&del, r->p, sizeof del);
	if (!auth(k, r, &del.who))
		return;
	const struct dpf_filter *g =
		del.id >= 0 ? dpf_filter_get(k->engine, del.id) : NULL;
	if (!g || (uint32_t)del.id >= KSH_MAX_FILTER_IDS) {
		refuse(k, r, KSH_ENOENT, "no filter %d", del.id);
		return;
	}
	if (g->owner != del.who.owner) {
		refuse(k, r, KSH_EPERM, "filter %d belongs to owner %u", del.id,
		       g->owner);
		return;
	}
	/* DPF_ENOMEM still removes the filter from classification */
	(void)dpf_delete(k->engine, del.id);
	ksh_ash_filter_gone(k, del.id);
	k->owner_of[del.id] = 0;
	k->nfilters--;
	ok(k, r, NULL, 0);
}

static void op_counters(struct ksh *k, const struct req *r)
{
	struct ksh_counters_req q;
	if (!need(k, r, sizeof q, "COUNTERS"))
		return;
	memcpy(&q, r->p, sizeof q);
	struct ksh_owner *o;
	if (!authenticate(k, r, &q.who, AS_OWNER | AS_ADMIN, &o))
		return;
	struct {
		struct ksh_counters c;
		uint64_t m[(KSH_PAYLOAD_MAX - 4 - sizeof(struct ksh_counters)) / 8];
	} __attribute__((packed)) rep;
	const uint32_t fit = sizeof rep.m / sizeof rep.m[0];
	uint32_t lim = (uint32_t)dpf_id_limit(k->engine);
	rep.c.id_limit = lim;
	rep.c.first = q.first;
	rep.c.n = q.first < lim ? lim - q.first : 0;
	if (rep.c.n > fit)
		rep.c.n = fit;
	for (uint32_t i = 0; i < rep.c.n; i++) {
		uint32_t id = q.first + i;
		rep.m[i] = id < KSH_MAX_FILTER_IDS &&
		                   (!o || k->owner_of[id] == q.who.owner)
		               ? k->matches[id]
		               : 0;
	}
	ok(k, r, &rep, (uint32_t)sizeof rep.c + 8 * rep.c.n);
}

static void op_stats(struct ksh *k, const struct req *r)
{
	struct ksh_owner *o;
	struct ksh_cred c;
	if (!auth_payload(k, r, AS_OWNER | AS_ADMIN, &o, &c))
		return;
	k->st.nic_missed = ksh_nic_missed(&k->nic);
	k->st.tsc_hz = k->tsc_hz;
	k->st.jit_attached = (uint32_t)jit_status(k->engine, NULL, NULL);
	k->st.filters = dpf_count(k->engine);
	ok(k, r, &k->st, sizeof k->st);
}

static void op_reset(struct ksh *k, const struct req *r)
{
	struct ksh_owner *o;
	struct ksh_cred c;
	if (!auth_payload(k, r, AS_ADMIN, &o, &c))
		return;
	memset(&k->st, 0, sizeof k->st);
	memset(k->matches, 0, sizeof k->matches);
	ksh_ash_reset(k);
	ksh_paths_reset(k);
	(void)ksh_nic_missed(&k->nic);
	k->nic.missed = 0;
	ok(k, r, NULL, 0);
}

static void op_config(struct ksh *k, const struct req *r)
{
	struct ksh_config c;
	if (!need(k, r, sizeof c, "CONFIG"))
		return;
	memcpy(&c, r->p, sizeof c);
	struct ksh_owner *o = auth(k, r, &c.who);
	if (!o)
		return;
	o->echo = c.echo != 0;
	o->drain = c.drain;
	ok(k, r, NULL, 0);
}

/* The handler requests (ash.c does the work): an owner's capability. */
static void answer(struct ksh *k, const struct req *r, int32_t st,
                   const char *why, const void *body, uint32_t blen)
{
	if (st == KSH_OK)
		ok(k, r, body, blen);
	else
		refuse(k, r, st, "%s", why);
}

static void op_ash_begin(struct ksh *k, const struct req *r)
{
	struct ksh_ash_begin b;
	if (!need(k, r, sizeof b, "ASH_BEGIN"))
		return;
	memcpy(&b, r->p, sizeof b);
	struct ksh_owner *o = auth(k, r, &b.who);
	if (!o)
		return;
	char why[KSH_REASON_MAX + 1];
	answer(k, r, ksh_ash_begin(k, o, &b, why), why, NULL, 0);
}

static void op_ash_chunk(struct ksh *k, const struct req *r)
{
	struct ksh_ash_chunk c;
	if (!need(k, r, sizeof c, "ASH_CHUNK"))
		return;
	memcpy(&c, r->p, sizeof c);
	struct ksh_owner *o = auth(k, r, &c.who);
	if (!o)
		return;
	char why[KSH_REASON_MAX + 1];
	answer(k, r,
	       ksh_ash_chunk(k, o, c.offset, r->p + sizeof c,
	                     r->n - (uint32_t)sizeof c, why),
	       why, NULL, 0);
}

static void op_ash_commit(struct ksh *k, const struct req *r)
{
	struct ksh_cred c;
	if (!need(k, r, sizeof c, "ASH_COMMIT"))
		return;
	memcpy(&c, r->p, sizeof c);
	struct ksh_owner *o = auth(k, r, &c);
	if (!o)
		return;
	char why[KSH_REASON_MAX + 1];
	struct ksh_ash_commit_reply rep;
	memset(&rep, 0, sizeof rep);
	answer(k, r, ksh_ash_commit(k, o, &rep, why), why, &rep, sizeof rep);
}

static void op_ash_detach(struct ksh *k, const struct req *r)
{
	struct ksh_ash_ref a;
	if (!need(k, r, sizeof a, "ASH_DETACH"))
		return;
	memcpy(&a, r->p, sizeof a);
	struct ksh_owner *o = auth(k, r, &a.who);
	if (!o)
		return;
	char why[KSH_REASON_MAX + 1];
	answer(k, r, ksh_ash_detach(k, o, a.filter, why), why, NULL, 0);
}

static void op_ash_counters(struct ksh *k, const struct req *r)
{
	struct ksh_ash_ref a;
	if (!need(k, r, sizeof a, "ASH_COUNTERS"))
		return;
	memcpy(&a, r->p, sizeof a);
	struct ksh_owner *o = auth(k, r, &a.who);
	if (!o)
		return;
	char why[KSH_REASON_MAX + 1];
	struct ksh_ash_counters rep;
	memset(&rep, 0, sizeof rep);
	answer(k, r, ksh_ash_counters(k, o, a.filter, &rep, why), why, &rep,
	       sizeof rep);
}

/* Latency histograms (demux.c): any credential, global figures. */
static void op_lat(struct ksh *k, const struct req *r)
{
	struct ksh_lat_req q;
	if (!need(k, r, sizeof q, "LAT"))
		return;
	memcpy(&q, r->p, sizeof q);
	struct ksh_owner *o;
	if (!authenticate(k, r, &q.who, AS_OWNER | AS_ADMIN, &o))
		return;
	struct {
		struct ksh_lat h;
		uint32_t c[(KSH_PAYLOAD_MAX - 4 - sizeof(struct ksh_lat)) / 4];
	} __attribute__((packed)) rep;
	uint32_t c[sizeof rep.c / 4];
	if (ksh_lat_read(k, q.path, q.first, &rep.h, c, sizeof c / 4) != KSH_OK) {
		refuse(k, r, KSH_EINVAL, "no latency path %u (0..%u)", q.path,
		       KSH_LAT_PATHS - 1);
		return;
	}
	memcpy(rep.c, c, 4 * rep.h.n);
	ok(k, r, &rep, (uint32_t)sizeof rep.h + 4 * rep.h.n);
}

/* An owner's rings (owner.c): more of them, and their counters. */
static void op_rings(struct ksh *k, const struct req *r)
{
	struct ksh_rings_req q;
	if (!need(k, r, sizeof q, "RINGS"))
		return;
	memcpy(&q, r->p, sizeof q);
	struct ksh_owner *o = auth(k, r, &q.who);
	if (!o)
		return;
	int32_t st = ksh_owner_rings(k, o, q.want);
	if (st == KSH_EINVAL) {
		refuse(k, r, st, "%u rings wanted: an owner has at most %u", q.want,
		       KSH_RINGS);
		return;
	}
	if (st != KSH_OK) {
		refuse(k, r, st, "%u rings wanted, owner %u has %u: %u left in the "
		                 "pool",
		       q.want, q.who.owner, o->nrings, ksh_ring_pool_free());
		return;
	}
	struct ksh_rings rep;
	ksh_owner_rings_read(o, &rep);
	ok(k, r, &rep, sizeof rep);
}

static void op_ash_map_read(struct ksh *k, const struct req *r)
{
	struct ksh_ash_map_read q;
	if (!need(k, r, sizeof q, "ASH_MAP_READ"))
		return;
	memcpy(&q, r->p, sizeof q);
	struct ksh_owner *o = auth(k, r, &q.who);
	if (!o)
		return;
	if (q.key_len != r->n - sizeof q) {
		refuse(k, r, KSH_EMALFORMED,
		       "ASH_MAP_READ: key of %u bytes announced, %u follow",
		       q.key_len, r->n - (uint32_t)sizeof q);
		return;
	}
	char why[KSH_REASON_MAX + 1];
	static uint8_t body[KSH_PAYLOAD_MAX - 4];
	uint32_t blen = 0;
	int32_t st = ksh_ash_map_read(k, o, &q, r->p + sizeof q, body,
	                              sizeof body, &blen, why);
	answer(k, r, st, why, body, blen);
}

static void op_ash_map_write(struct ksh *k, const struct req *r)
{
	struct ksh_ash_map_write w;
	if (!need(k, r, sizeof w, "ASH_MAP_WRITE"))
		return;
	memcpy(&w, r->p, sizeof w);
	struct ksh_owner *o = auth(k, r, &w.who);
	if (!o)
		return;
	if ((uint64_t)w.key_len + w.value_len != r->n - sizeof w) {
		refuse(k, r, KSH_EMALFORMED,
		       "ASH_MAP_WRITE: key of %u and value of %u bytes announced, "
		       "%u follow",
		       w.key_len, w.value_len, r->n - (uint32_t)sizeof w);
		return;
	}
	char why[KSH_REASON_MAX + 1];
	answer(k, r, ksh_ash_map_write(k, o, &w, r->p + sizeof w, why), why,
	       NULL, 0);
}

static void op_ash_notices(struct ksh *k, const struct req *r)
{
	struct ksh_cred c;
	if (!need(k, r, sizeof c, "ASH_NOTICES"))
		return;
	memcpy(&c, r->p, sizeof c);
	struct ksh_owner *o = auth(k, r, &c);
	if (!o)
		return;
	static uint8_t body[KSH_PAYLOAD_MAX - 4];
	uint32_t blen = 0;
	ksh_ash_notices(k, o, body, sizeof body, &blen);
	ok(k, r, body, blen);
}

static void op_exit(struct ksh *k, const struct req *r)
{
	struct ksh_exit x;
	if (!need(k, r, sizeof x, "EXIT"))
		return;
	memcpy(&x, r->p, sizeof x);
	struct ksh_owner *o;
	if (!authenticate(k, r, &x.who, AS_ADMIN, &o))
		return;
	ok(k, r, NULL, 0);
	for (uint64_t i = 0; i < 100000000ull && !ksh_nic_tx_idle(&k->nic); i++)
		cpu_relax();
	const struct ksh_stats *st = &k->st;
	ksh_printf("ksh: rx %lu (ctl %lu, data %lu: delivered %lu dropped %lu "
	           "unmatched %lu refused %lu) tx %lu consumed %lu echoed %lu\n",
	           st->rx_frames, st->ctl_frames, st->data_frames, st->delivered,
	           st->dropped, st->unmatched, st->refused, st->tx_frames,
	           st->consumed, st->echoed);
	ksh_printf("ksh: exit %u\n", x.code);
	ksh_exit(x.code);
}

void ksh_ctl_frame(struct ksh *k, const uint8_t *frame, uint32_t len)
{
	struct req r = {frame, KSH_OP_NONE, 0, NULL, 0};
	if (len < PAY_OFF) {
		refuse(k, &r, KSH_EMALFORMED, "truncated header: frame of %u bytes",
		       len);
		return;
	}
	struct ksh_hdr h;
	memcpy(&h, frame + HDR_OFF, sizeof h);
	if (h.op & KSH_REPLY) {
		/* never answered: two ends cannot keep each other busy */
		k->st.ctl_ignored++;
		return;
	}
	r.op = h.op;
	r.seq = h.seq;
	if (h.version != KSH_VERSION) {
		refuse(k, &r, KSH_EMALFORMED, "version %u, expected %u", h.version,
		       KSH_VERSION);
		return;
	}
	if (h.len > len - PAY_OFF) {
		refuse(k, &r, KSH_EMALFORMED,
		       "payload of %u bytes runs past the frame end (%u bytes)", h.len,
		       len);
		return;
	}
	r.p = frame + PAY_OFF;
	r.n = h.len;
	switch (h.op) {
	case KSH_OP_HELLO:
		op_hello(k, &r);
		break;
	case KSH_OP_OWNER:
		op_owner(k, &r);
		break;
	case KSH_OP_IR:
		op_ir(k, &r);
		break;
	case KSH_OP_INSERT:
		op_insert(k, &r);
		break;
	case KSH_OP_DELETE:
		op_delete(k, &r);
		break;
	case KSH_OP_COUNTERS:
		op_counters(k, &r);
		break;
	case KSH_OP_STATS:
		op_stats(k, &r);
		break;
	case KSH_OP_RESET:
		op_reset(k, &r);
		break;
	case KSH_OP_EXIT:
		op_exit(k, &r);
		break;
	case KSH_OP_CONFIG:
		op_config(k, &r);
		break;
	case KSH_OP_ASH_BEGIN:
		op_ash_begin(k, &r);
		break;
	case KSH_OP_ASH_CHUNK:
		op_ash_chunk(k, &r);
		break;
	case KSH_OP_ASH_COMMIT:
		op_ash_commit(k, &r);
		break;
	case KSH_OP_ASH_DETACH:
		op_ash_detach(k, &r);
		break;
	case KSH_OP_ASH_COUNTERS:
		op_ash_counters(k, &r);
		break;
	case KSH_OP_LAT:
		op_lat(k, &r);
		break;
	case KSH_OP_RINGS:
		op_rings(k, &r);
		break;
	case KSH_OP_ASH_MAP_READ:
		op_ash_map_read(k, &r);
		break;
	case KSH_OP_ASH_MAP_WRITE:
		op_ash_map_write(k, &r);
		break;
	case KSH_OP_ASH_NOTICES:
		op_ash_notices(k, &r);
		break;
	default:
		refuse(k, &r, KSH_EMALFORMED, "unknown op %u", h.op);
	}
}
