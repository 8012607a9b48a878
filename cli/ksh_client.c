/*
 * ksh_client.c - the host end of the kernel-shim control channel (see
 * ksh_client.h): QEMU as a child process, a datagram socketpair as the
 * guest's wire, requests matched to replies by seq, every wait bounded.
 *
 * QEMU runs in a process group of its own and gets PR_SET_PDEATHSIG, so
 * it dies with dpf even when dpf is killed; every other path ends in
 * cli_ksh_free, which kills the group and reaps QEMU.  The serial log
 * and QEMU's stderr live in a private temporary directory that
 * cli_ksh_free removes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/ksh_client.h"

#define SLICE_MS 50        /* poll slice between checks on QEMU */
#define HELLO_EVERY_MS 50 /* repeat HELLO while the guest boots */
#define RBUF_MAX 65536

const uint8_t cli_ksh_host_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const uint8_t cli_ksh_guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct cli_ksh {
	pid_t pid;
	int reaped;  /* 1: waitpid collected QEMU, wstatus holds its status */
	int wstatus;
	int fd;      /* our end of the socketpair */
	char dir[64], log[96], qerr[96];
	uint8_t mac[6];
	uint32_t seq;      /* the next request's: one counter for every
	                    * credential, so each one's seqs increase */
	uint64_t admit;    /* the guest's admission credential */
	unsigned timeout_ms;
	uint64_t t_spawn;
	cli_ksh_frame_fn fn;
	void *ctx;
	cli_ksh_notice_fn notice_fn;
	void *notice_ctx;
	uint64_t stray;
	uint32_t hello_lo, hello_hi; /* seqs of the boot-time HELLOs */
	int hellos;                  /* 1: late replies to them are ignored */
	char err[320];
	uint8_t rbuf[RBUF_MAX];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

/* ---- frames ---- */

size_t cli_ksh_encode(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6],
                      uint8_t op, uint32_t seq, const void *payload,
                      size_t len)
{
	if (len > KSH_PAYLOAD_MAX)
		len = KSH_PAYLOAD_MAX;
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = KSH_ETHERTYPE >> 8;
	buf[13] = KSH_ETHERTYPE & 0xff;
	struct ksh_hdr h = {KSH_VERSION, op, (uint16_t)len, seq};
	/* both ends are little-endian x86-64: the packed struct is the wire
	 * format */
	memcpy(buf + 14, &h, sizeof h);
	if (len)
		memcpy(buf + 14 + sizeof h, payload, len);
	size_t n = 14 + sizeof h + len;
	if (n < CLI_KSH_MIN_FRAME) {
		memset(buf + n, 0, CLI_KSH_MIN_FRAME - n);
		n = CLI_KSH_MIN_FRAME;
	}
	return n;
}

int cli_ksh_decode(const uint8_t *frame, size_t len, struct ksh_hdr *h,
                   const uint8_t **payload)
{
	if (len < 14 || frame[12] != (KSH_ETHERTYPE >> 8) ||
	    frame[13] != (KSH_ETHERTYPE & 0xff))
		return 0;
	if (len < 14 + sizeof *h)
		return -1;
	memcpy(h, frame + 14, sizeof *h);
	if (h->version != KSH_VERSION || 14 + sizeof *h + h->len > len)
		return -1;
	*payload = frame + 14 + sizeof *h;
	return 1;
}

/* ---- the child ---- */

static void fail(struct cli_ksh *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct cli_ksh *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

/* 1 when QEMU has exited (and is reaped). */
static int exited(struct cli_ksh *c)
{
	if (c->reaped)
		return 1;
	int st;
	pid_t w = waitpid(c->pid, &st, WNOHANG);
	if (w == c->pid) {
		c->reaped = 1;
		c->wstatus = st;
		return 1;
	}
	return 0;
}

static void describe_exit(struct cli_ksh *c, const char *when)
{
	int st = c->wstatus;
	if (WIFEXITED(st))
		snprintf(c->err, sizeof c->err, "QEMU exited with status %d %s",
		         WEXITSTATUS(st), when);
	else if (WIFSIGNALED(st))
		snprintf(c->err, sizeof c->err, "QEMU was killed by signal %d %s",
		         WTERMSIG(st), when);
	else
		snprintf(c->err, sizeof c->err, "QEMU stopped %s", when);
}

int cli_ksh_spawn(const struct cli_ksh_opts *o, struct cli_ksh **out,
                  char *err, size_t errcap)
{
	*out = NULL;
	struct cli_ksh *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	c->fd = -1;
	c->pid = -1;
	c->seq = 1;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
	memcpy(c->mac, o->mac, 6);
	const char *tmp = getenv("TMPDIR");
	snprintf(c->dir, sizeof c->dir, "%s/dpf-boot-XXXXXX",
	         tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	if (!mkdtemp(c->dir)) {
		snprintf(err, errcap, "%s: error: %s", c->dir, strerror(errno));
		c->dir[0] = 0;
		goto bad;
	}
	snprintf(c->log, sizeof c->log, "%s/serial.log", c->dir);
	snprintf(c->qerr, sizeof c->qerr, "%s/qemu.err", c->dir);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
		snprintf(err, errcap, "socketpair: %s", strerror(errno));
		goto bad;
	}
	c->fd = sv[0];
	/* a larger receive queue on our side lets the guest transmit in
	 * bursts while we are busy sending */
	int big = 4 << 20;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	struct cli_qemu_cfg cfg = {o->qemu, o->kernel, o->nic, {0}, sv[1],
	                           c->log, {0}, o->cpu, {0}, o->ash_cpu};
	memcpy(cfg.mac, o->mac, 6);
	/* the guest's capabilities are keyed with our entropy (QEMU's
	 * default CPU has no RDRAND), and its admission credential is a
	 * fresh secret of ours (never 0: all zero means none passed) */
	while (c->admit == 0) {
		if (getrandom(cfg.seed, sizeof cfg.seed, 0) !=
		        (ssize_t)sizeof cfg.seed ||
		    getrandom(&c->admit, sizeof c->admit, 0) !=
		        (ssize_t)sizeof c->admit) {
			snprintf(err, errcap, "getrandom: %s", strerror(errno));
			close(sv[1]); /* sv[0] is c->fd: freed with c */
			goto bad;
		}
	}
	memcpy(cfg.admit, &c->admit, sizeof cfg.admit);
	char *argv[CLI_QEMU_ARGV_MAX + 1];
	char store[1024];
	cli_qemu_argv(&cfg, argv, store, sizeof store);
	/* the log exists from the start, so a tail can always be printed */
	int lfd = open(c->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (lfd >= 0)
		close(lfd);
	pid_t parent = getpid();
	c->t_spawn = now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errcap, "fork: %s", strerror(errno));
		close(sv[1]);
		goto bad;
	}
	if (pid == 0) {
		/* its own process group, so that killing it reaches whatever it
		 * started; and it dies with dpf */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int e = open(c->qerr, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int in = open("/dev/null", O_RDONLY);
		if (e < 0 || in < 0)
			_exit(127);
		dup2(in, 0);
		dup2(e, 1);
		dup2(e, 2);
		fcntl(sv[1], F_SETFD, 0); /* QEMU inherits the guest's end */
		execv(o->qemu, argv);
		dprintf(2, "cannot run %s: %s\n", o->qemu, strerror(errno));
		_exit(127);
	}
	c->pid = pid;
	setpgid(pid, pid); /* also here: whichever runs first */
	close(sv[1]);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	*out = c;
	return 0;
bad:
	cli_ksh_free(c);
	return -1;
}

void cli_ksh_free(struct cli_ksh *c)
{
	if (!c)
		return;
	if (c->pid > 0 && !exited(c)) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		int st;
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->dir[0]) {
		unlink(c->log);
		unlink(c->qerr);
		rmdir(c->dir);
	}
	free(c);
}

void cli_ksh_abandon(const struct cli_ksh *c)
{
	if (c->pid > 0)
		kill(-c->pid, SIGKILL);
	if (c->dir[0]) {
		unlink(c->log);
		unlink(c->qerr);
		rmdir(c->dir);
	}
}

void cli_ksh_on_notice(struct cli_ksh *c, cli_ksh_notice_fn fn, void *ctx)
{
	c->notice_fn = fn;
	c->notice_ctx = ctx;
}

void cli_ksh_on_frame(struct cli_ksh *c, cli_ksh_frame_fn fn, void *ctx)
{
	c->fn = fn;
	c->ctx = ctx;
}

const char *cli_ksh_error(const struct cli_ksh *c)
{
	return c->err;
}

uint64_t cli_ksh_stray(const struct cli_ksh *c)
{
	return c->stray;
}

struct ksh_cred cli_ksh_admin(const struct cli_ksh *c)
{
	struct ksh_cred a = {KSH_OWNER_ADMIN, c->admit};
	return a;
}

uint32_t cli_ksh_take_seq(struct cli_ksh *c)
{
	return c->seq++;
}

/* ---- waiting ---- */

/* What a wait is for: a reply whose seq lies in [lo, hi] (any seq when
 * any), and/or room to send. */
struct want {
	int out;
	int reply, any;
	uint32_t lo, hi;
	struct cli_ksh_reply *r;
	int got;
};

/* The notices of an ASH_NOTICES body, each to fn; how many there were,
 * or -1 when the body is inconsistent. */
static long notices(struct cli_ksh *c, const uint8_t *body, size_t len,
                    cli_ksh_notice_fn fn, void *ctx)
{
	struct ksh_ash_notices h;
	if (len < sizeof h) {
		c->stray++;
		return -1;
	}
	memcpy(&h, body, sizeof h);
	if (h.n > (len - sizeof h) / sizeof(struct ksh_ash_notice)) {
		c->stray++;
		return -1;
	}
	for (uint32_t i = 0; i < h.n; i++) {
		struct ksh_ash_notice n;
		memcpy(&n, body + sizeof h + i * sizeof n, sizeof n);
		n.prog[sizeof n.prog - 1] = 0;
		if (fn)
			fn(ctx, &n);
	}
	return h.left;
}

/* A frame from the guest: a reply we wait for, a stray one, or data. */
static void take(struct cli_ksh *c, const uint8_t *f, size_t n,
                 struct want *w)
{
	struct ksh_hdr h;
	const uint8_t *pl;
	int k = cli_ksh_decode(f, n, &h, &pl);
	if (k == 0) {
		if (c->fn)
			c->fn(c->ctx, f, n);
		return;
	}
	if (k < 0 || !(h.op & KSH_REPLY) || h.len < 4) {
		c->stray++;
		return;
	}
	/* HELLO is repeated while the guest boots: the guest may answer
	 * several of them after the first answer was taken.  Those answers
	 * are successes; a refusal with the same seq answers something else
	 * (a malformed frame a test sent). */
	int32_t status;
	memcpy(&status, pl, 4);
	if (h.op == (KSH_OP_ASH_NOTICES | KSH_REPLY) && h.seq == 0 &&
	    status == KSH_OK) {
		notices(c, pl + 4, h.len - 4u, c->notice_fn, c->notice_ctx);
		return;
	}
	if (c->hellos && h.op == (KSH_OP_HELLO | KSH_REPLY) && status == KSH_OK &&
	    h.seq >= c->hello_lo && h.seq <= c->hello_hi &&
	    !(w->reply && !w->any && w->lo == c->hello_lo)) {
		c->stray++;
		return;
	}
	if (!w->reply || w->got ||
	    (!w->any && (h.seq < w->lo || h.seq > w->hi))) {
		c->stray++;
		return;
	}
	struct cli_ksh_reply *r = w->r;
	memcpy(r->frame, f, n > sizeof r->frame ? sizeof r->frame : n);
	r->op = h.op;
	r->seq = h.seq;
	memcpy(&r->status, pl, 4);
	r->body = r->frame + (pl - f) + 4;
	r->len = h.len - 4u;
	if (r->body + r->len > r->frame + sizeof r->frame)
		r->len = 0;
	r->reason[0] = 0;
	if (r->status != 0) {
		size_t m = r->len < KSH_REASON_MAX ? r->len : KSH_REASON_MAX;
		memcpy(r->reason, r->body, m);
		r->reason[m] = 0;
	}
	w->got = 1;
}

/* Read everything the socket holds.  -1 on a socket error. */
static int drain(struct cli_ksh *c, struct want *w, int *progress)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf, sizeof c->rbuf, MSG_DONTWAIT);
		if (n > 0) {
			*progress = 1;
			take(c, c->rbuf, (size_t)n, w);
			continue;
		}
		if (n == 0)
			continue; /* an empty datagram: nothing to take */
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			continue;
		return -1;
	}
}

/* Poll until what w asks for holds, reading as we go.  Gives up after
 * ms milliseconds, or when QEMU exits.  Returns 0 or -1 (c->err). */
static int wait_for(struct cli_ksh *c, struct want *w, unsigned ms,
                    const char *what)
{
	uint64_t deadline = now_ms() + ms;
	for (;;) {
		int progress = 0;
		if (drain(c, w, &progress) != 0) {
			fail(c, "reading from the guest's NIC: %s", strerror(errno));
			return -1;
		}
		if (w->reply && w->got)
			return 0;
		struct pollfd p = {c->fd, (short)(POLLIN | (w->out ? POLLOUT : 0)),
		                   0};
		int left = (int)(deadline > now_ms() ? deadline - now_ms() : 0);
		int k = poll(&p, 1, left < SLICE_MS ? left : SLICE_MS);
		if (k < 0 && errno != EINTR) {
			fail(c, "poll: %s", strerror(errno));
			return -1;
		}
		if (k > 0 && w->out && (p.revents & POLLOUT))
			return 0;
		/* the deadline holds even for a guest that never stops sending */
		int readable = k > 0 && (p.revents & POLLIN);
		if (!readable && exited(c)) {
			/* what it sent before it died still counts */
			drain(c, w, &progress);
			if (w->reply && w->got)
				return 0;
			char when[200];
			snprintf(when, sizeof when, "while %s", what);
			describe_exit(c, when);
			return -1;
		}
		if (now_ms() >= deadline) {
			drain(c, w, &progress);
			if (w->reply && w->got)
				return 0;
			fail(c, "timed out after %u ms %s", ms, what);
			return -1;
		}
	}
}

int cli_ksh_send_raw(struct cli_ksh *c, const uint8_t *frame, size_t len)
{
	for (;;) {
		ssize_t n = send(c->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			fail(c, "short send to the guest's NIC (%zd bytes)", n);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
			if (exited(c)) {
				describe_exit(c, "while frames were being sent");
				return -1;
			}
			fail(c, "sending to the guest's NIC: %s", strerror(errno));
			return -1;
		}
		struct want w = {0};
		w.out = 1;
		if (wait_for(c, &w, c->timeout_ms,
		             "waiting for the guest to take a frame") != 0)
			return -1;
	}
}

int cli_ksh_send(struct cli_ksh *c, uint8_t op, const void *payload,
                 size_t len, uint32_t *seq)
{
	uint8_t f[KSH_FRAME_MAX];
	uint32_t s = c->seq++;
	size_t n = cli_ksh_encode(f, c->mac, cli_ksh_host_mac, op, s, payload,
	                          len);
	if (seq)
		*seq = s;
	return cli_ksh_send_raw(c, f, n);
}

static const char *op_name(uint8_t op)
{
	static const char *const names[] = {
		"NONE",     "HELLO", "OWNER", "IR",    "INSERT", "DELETE",
		"COUNTERS", "STATS", "RESET", "EXIT", "CONFIG", "ASH_BEGIN",
		"ASH_CHUNK", "ASH_COMMIT", "ASH_DETACH", "ASH_COUNTERS",
		"ASH_MAP_READ", "ASH_MAP_WRITE", "ASH_NOTICES",
		[KSH_OP_LAT] = "LAT", [KSH_OP_RINGS] = "RINGS",
	};
	op &= (uint8_t)~KSH_REPLY;
	return op < sizeof names / sizeof names[0] && names[op] ? names[op]
	                                                       : "unknown";
}

int cli_ksh_wait_reply(struct cli_ksh *c, uint32_t seq, uint8_t op,
                       struct cli_ksh_reply *r)
{
	struct want w = {0};
	w.reply = 1;
	w.lo = w.hi = seq;
	w.r = r;
	char what[64];
	snprintf(what, sizeof what, "waiting for the reply to %s (seq %u)",
	         op_name(op), (unsigned)seq);
	if (wait_for(c, &w, c->timeout_ms, what) != 0)
		return -1;
	uint8_t want = (uint8_t)(op | KSH_REPLY);
	if (r->op != want &&
	    !(r->op == (KSH_OP_NONE | KSH_REPLY) && r->status != 0)) {
		snprintf(c->err, sizeof c->err,
		         "the reply to %s (seq %u) came with op %s (0x%02x)",
		         op_name(op), (unsigned)seq, op_name(r->op),
		         (unsigned)r->op);
		return -1;
	}
	return 0;
}

int cli_ksh_next_reply(struct cli_ksh *c, struct cli_ksh_reply *r)
{
	struct want w = {0};
	w.reply = 1;
	w.any = 1;
	w.r = r;
	return wait_for(c, &w, c->timeout_ms, "waiting for a reply");
}

int cli_ksh_call(struct cli_ksh *c, uint8_t op, const void *payload,
                 size_t len, struct cli_ksh_reply *r)
{
	uint32_t seq;
	if (cli_ksh_send(c, op, payload, len, &seq) != 0)
		return -1;
	return cli_ksh_wait_reply(c, seq, op, r);
}

int cli_ksh_map_read(struct cli_ksh *c, struct ksh_cred who, int32_t filter,
                     uint32_t map, uint32_t how, const void *key,
                     uint32_t key_size, void *next_key, void *value,
                     uint32_t value_size, int *found,
                     struct cli_ksh_reply *r)
{
	uint8_t pl[KSH_PAYLOAD_MAX];
	struct ksh_ash_map_read q = {who, filter, map, how, 0,
	                             how == KSH_MAP_FIRST ? 0 : key_size};
	*found = 0;
	if (sizeof q + q.key_len > sizeof pl) {
		fail(c, "a map key of %u bytes does not fit a request", key_size);
		return -1;
	}
	do {
		memcpy(pl, &q, sizeof q);
		if (q.key_len)
			memcpy(pl + sizeof q, key, q.key_len);
		if (cli_ksh_call(c, KSH_OP_ASH_MAP_READ, pl, sizeof q + q.key_len,
		                 r) != 0)
			return -1;
		if (r->status != KSH_OK)
			return 0;
		struct ksh_ash_map_value v;
		if (r->len < sizeof v) {
			fail(c, "ASH_MAP_READ reply of %zu bytes", r->len);
			return -1;
		}
		memcpy(&v, r->body, sizeof v);
		if (!v.found)
			return 0;
		if (v.key_len != key_size || v.value_size != value_size ||
		    v.offset != q.offset || (v.n == 0 && value_size) ||
		    v.n > value_size - q.offset ||
		    r->len < sizeof v + key_size + v.n) {
			fail(c, "ASH_MAP_READ reply (key %u, value %u, offset %u, %u "
			        "bytes) does not answer map %u at offset %u",
			     v.key_len, v.value_size, v.offset, v.n, map, q.offset);
			return -1;
		}
		if (q.how != KSH_MAP_LOOKUP) {
			/* the rest of the value by the key just read */
			memcpy(next_key, r->body + sizeof v, key_size);
			key = next_key;
			q.how = KSH_MAP_LOOKUP;
			q.key_len = key_size;
		}
		memcpy((uint8_t *)value + q.offset, r->body + sizeof v + key_size,
		       v.n);
		q.offset += v.n;
	} while (q.offset < value_size);
	*found = 1;
	return 0;
}

int cli_ksh_map_write(struct cli_ksh *c, struct ksh_cred who, int32_t filter,
                      uint32_t map, const void *key, uint32_t key_size,
                      const void *value, uint32_t value_size, uint64_t flags,
                      struct cli_ksh_reply *r)
{
	uint8_t pl[KSH_PAYLOAD_MAX];
	struct ksh_ash_map_write w = {who, filter, map, flags, key_size,
	                              value_size};
	if (sizeof w + (uint64_t)key_size + value_size > sizeof pl) {
		fail(c, "a map key of %u and value of %u bytes do not fit a "
		        "request",
		     key_size, value_size);
		return -1;
	}
	memcpy(pl, &w, sizeof w);
	memcpy(pl + sizeof w, key, key_size);
	memcpy(pl + sizeof w + key_size, value, value_size);
	return cli_ksh_call(c, KSH_OP_ASH_MAP_WRITE, pl,
	                    sizeof w + key_size + value_size, r);
}

int cli_ksh_notices(struct cli_ksh *c, struct ksh_cred who,
                    cli_ksh_notice_fn fn, void *ctx, struct cli_ksh_reply *r)
{
	for (;;) {
		if (cli_ksh_call(c, KSH_OP_ASH_NOTICES, &who, sizeof who, r) != 0)
			return -1;
		if (r->status != KSH_OK) {
			fail(c, "the guest refused ASH_NOTICES: status %d: %s",
			     (int)r->status, r->reason);
			return -1;
		}
		long left = notices(c, r->body, r->len, fn, ctx);
		if (left < 0) {
			fail(c, "ASH_NOTICES reply of %zu bytes is inconsistent",
			     r->len);
			return -1;
		}
		if (left == 0)
			return 0;
	}
}

int cli_ksh_hello(struct cli_ksh *c, struct ksh_hello *h, uint64_t *boot_ns)
{
	struct cli_ksh_reply *r = malloc(sizeof *r);
	if (!r) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return -1;
	}
	uint64_t deadline = now_ms() + c->timeout_ms;
	uint32_t first = c->seq;
	int rc = -1;
	for (;;) {
		/* while the guest boots, its NIC may take nothing: a HELLO that
		 * does not fit is simply not sent this time */
		uint8_t f[KSH_FRAME_MAX];
		size_t n = cli_ksh_encode(f, c->mac, cli_ksh_host_mac,
		                          KSH_OP_HELLO, c->seq, NULL, 0);
		if (send(c->fd, f, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
			c->seq++;
		struct want w = {0};
		w.reply = 1;
		w.lo = first;
		w.hi = c->seq - 1;
		w.r = r;
		uint64_t now = now_ms();
		if (now >= deadline) {
			fail(c, "timed out after %u ms waiting for the guest to answer "
			        "HELLO",
			     c->timeout_ms);
			break;
		}
		unsigned slice = (unsigned)(deadline - now < HELLO_EVERY_MS
		                                ? deadline - now
		                                : HELLO_EVERY_MS);
		if (wait_for(c, &w, slice, "waiting for the guest to answer HELLO") ==
		    0) {
			if (boot_ns)
				*boot_ns = now_ns() - c->t_spawn;
			if (r->op != (KSH_OP_HELLO | KSH_REPLY) || r->status != 0 ||
			    r->len < sizeof *h) {
				snprintf(c->err, sizeof c->err,
				         "the guest answered HELLO with op 0x%02x, status "
				         "%d and %zu bytes",
				         (unsigned)r->op, (int)r->status, r->len);
				break;
			}
			memcpy(h, r->body, sizeof *h);
			c->hellos = 1;
			c->hello_lo = first;
			c->hello_hi = c->seq - 1;
			rc = 0;
			break;
		}
		if (c->reaped)
			break;
	}
	free(r);
	return rc;
}

int cli_ksh_pump(struct cli_ksh *c, unsigned ms, const uint64_t *until,
                 uint64_t want)
{
	uint64_t deadline = now_ms() + ms;
	struct want w = {0};
	for (;;) {
		int progress = 0;
		if (drain(c, &w, &progress) != 0) {
			fail(c, "reading from the guest's NIC: %s", strerror(errno));
			return -1;
		}
		if (until && *until >= want)
			return 0;
		uint64_t now = now_ms();
		if (now >= deadline)
			return 0;
		struct pollfd p = {c->fd, POLLIN, 0};
		int left = (int)(deadline - now);
		poll(&p, 1, left < SLICE_MS ? left : SLICE_MS);
		if (!(p.revents & POLLIN) && exited(c)) {
			describe_exit(c, "while its frames were being collected");
			return -1;
		}
	}
}

int cli_ksh_exit(struct cli_ksh *c, uint32_t code)
{
	struct ksh_exit req = {cli_ksh_admin(c), code};
	struct cli_ksh_reply *r = malloc(sizeof *r);
	if (!r) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return -1;
	}
	int replied = cli_ksh_call(c, KSH_OP_EXIT, &req, sizeof req, r) == 0;
	int32_t status = replied ? r->status : 0;
	free(r);
	if (replied && status != 0) {
		snprintf(c->err, sizeof c->err, "the guest refused EXIT: status %d",
		         (int)status);
		return -1;
	}
	if (!replied && !c->reaped)
		return -1; /* c->err says why */
	uint64_t deadline = now_ms() + c->timeout_ms;
	struct timespec nap = {0, 5000000};
	while (!exited(c)) {
		if (now_ms() >= deadline) {
			snprintf(c->err, sizeof c->err,
			         "QEMU still runs %u ms after EXIT",
			         (unsigned)c->timeout_ms);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	int want = (int)(((code << 1) | 1) & 0xff);
	if (!WIFEXITED(c->wstatus) || WEXITSTATUS(c->wstatus) != want) {
		describe_exit(c, "after EXIT");
		size_t l = strlen(c->err);
		snprintf(c->err + l, sizeof c->err - l, " (expected status %d)",
		         want);
		return -1;
	}
	return 0;
}

/* ---- logs ---- */

static void tail(FILE *f, const char *path, const char *title, int lines,
                 int quiet_if_empty)
{
	FILE *in = fopen(path, "rb");
	if (!in) {
		if (!quiet_if_empty)
			fprintf(f, "dpf boot: no %s (%s: %s)\n", title, path,
			        strerror(errno));
		return;
	}
	long size = fseek(in, 0, SEEK_END) == 0 ? ftell(in) : -1;
	if (size < 0)
		size = 0;
	long from = size > 65536 ? size - 65536 : 0;
	fseek(in, from, SEEK_SET);
	char *buf = malloc((size_t)(size - from) + 1);
	size_t n = buf ? fread(buf, 1, (size_t)(size - from), in) : 0;
	fclose(in);
	if (!buf)
		return;
	buf[n] = 0;
	if (n == 0) {
		if (!quiet_if_empty)
			fprintf(f, "dpf boot: the %s is empty\n", title);
		free(buf);
		return;
	}
	/* start of the last `lines` lines (a final newline ends, not starts,
	 * a line) */
	size_t start = n;
	int seen = 0;
	if (start && buf[start - 1] == '\n')
		start--;
	while (start > 0) {
		if (buf[start - 1] == '\n' && ++seen == lines)
			break;
		start--;
	}
	fprintf(f, "dpf boot: %s (last %d lines at most):\n", title, lines);
	fputs(buf + start, f);
	if (buf[n - 1] != '\n')
		fputc('\n', f);
	free(buf);
}

void cli_ksh_log_tail(const struct cli_ksh *c, FILE *f, int lines)
{
	tail(f, c->log, "serial console", lines, 0);
	tail(f, c->qerr, "QEMU's messages", lines, 1);
}

/* ---- latency and rings ---- */

/* A request whose reply must hold `want` bytes: 0 with r filled, 1
 * refused, -1 channel failure (c->err says which). */
static int request(struct cli_ksh *c, uint8_t op, const void *p, size_t len,
                   size_t want, struct cli_ksh_reply *r)
{
	if (cli_ksh_call(c, op, p, len, r) != 0)
		return -1;
	if (r->status != KSH_OK) {
		snprintf(c->err, sizeof c->err, "the guest refused %s: %s (%d)",
		         op_name(op), r->reason, (int)r->status);
		return 1;
	}
	if (r->len < want) {
		snprintf(c->err, sizeof c->err,
		         "the guest's reply to %s holds %zu bytes, not %zu",
		         op_name(op), r->len, want);
		return -1;
	}
	return 0;
}

int cli_ksh_lat(struct cli_ksh *c, struct ksh_cred who, uint32_t path,
                struct cli_ksh_lat *out)
{
	struct cli_ksh_reply *r = malloc(sizeof *r);
	if (!r) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return -1;
	}
	memset(out, 0, sizeof *out);
	out->path = path;
	int rc = 0;
	for (uint32_t first = 0; first < KSH_LAT_BUCKETS && rc == 0;) {
		struct ksh_lat_req q = {who, path, first};
		struct ksh_lat h;
		rc = request(c, KSH_OP_LAT, &q, sizeof q, sizeof h, r);
		if (rc != 0)
			break;
		memcpy(&h, r->body, sizeof h);
		if (h.path != path || h.first != first || h.n == 0 ||
		    h.nbuckets != KSH_LAT_BUCKETS || h.n > KSH_LAT_BUCKETS - first ||
		    (r->len - sizeof h) / 4 < h.n) {
			snprintf(c->err, sizeof c->err,
			         "the guest's LAT reply for path %u from bucket %u is "
			         "inconsistent (path %u, first %u, n %u of %u)",
			         (unsigned)path, (unsigned)first, (unsigned)h.path,
			         (unsigned)h.first, (unsigned)h.n,
			         (unsigned)h.nbuckets);
			rc = -1;
			break;
		}
		memcpy(out->count + first, r->body + sizeof h, 4 * (size_t)h.n);
		out->samples = h.samples;
		out->cycles_sum = h.cycles_sum;
		out->min = h.min;
		out->max = h.max;
		first += h.n;
	}
	free(r);
	return rc;
}

double cli_ksh_hist_quantile(const uint32_t *count, uint32_t n, uint32_t sub,
                             double q)
{
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += count[i];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	uint32_t i = 0;
	for (; i < n - 1; i++) {
		seen += count[i];
		if (seen >= rank)
			break;
	}
	uint32_t p = i / sub, s = i % sub;
	double base = (double)(1ull << p);
	return base + base * (double)s / sub;
}

double cli_ksh_lat_quantile(const struct cli_ksh_lat *l, double q)
{
	return cli_ksh_hist_quantile(l->count, KSH_LAT_BUCKETS, KSH_LAT_SUB, q);
}

int cli_ksh_rings(struct cli_ksh *c, struct ksh_cred who, uint32_t want,
                  struct ksh_rings *out)
{
	struct cli_ksh_reply *r = malloc(sizeof *r);
	if (!r) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return -1;
	}
	struct ksh_rings_req q = {who, want};
	int rc = request(c, KSH_OP_RINGS, &q, sizeof q, sizeof *out, r);
	if (rc == 0)
		memcpy(out, r->body, sizeof *out);
	free(r);
	return rc;
}
