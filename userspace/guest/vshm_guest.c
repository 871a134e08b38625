// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * vsock-shm guest library. See <vsock-shm/guest.h> (the API), vshm_guest.h
 * (what only the tests use) and docs/protocol.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/magic.h>
#include <linux/vm_sockets.h>

#include "extent.h"
#include "pagemap.h"
#include "privport.h"
#include "vshm_guest.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif

#define PAGEMAP_PATH		"/proc/self/pagemap"
#define HUGE_SYSFS		"/sys/kernel/mm/hugepages/hugepages-2048kB/"
/* io_uring takes at most 1 GiB per registered buffer. */
#define PIN_IOV_MAX		(1UL << 30)
/* A received host message is 32 bytes at most; more is a bad message. */
#define REPLY_BUF		64
/* The region id of HELLO (any nonzero id: no region exists yet). */
#define HELLO_REGION		1
/* connect_wait: first and longest pause between two attempts. */
#define RETRY_FIRST_MS		10
#define RETRY_MAX_MS		250

/* Where a region's memory comes from, and what its end does to it. */
enum region_kind {
	KIND_ANON,	/* the library's mapping: unpin, munmap */
	KIND_BUF,	/* the application's buffer: unpin only */
	KIND_MEMFD,	/* the library's mapping of a memfd: unpin, munmap */
};

struct vshm_region {
	struct vshm_guest *g;
	struct vshm_region *next;	/* in g->regions */
	uint32_t id;
	enum region_kind kind;
	void *ptr;			/* MAP_FAILED if not mapped */
	size_t size;
	uint32_t page_size;
	int ring_fd;			/* io_uring holding the pins, or -1 */
	struct vshm_run *runs;
	size_t nr_runs;
	bool orphan;			/* share failed, host did not confirm */
	uint64_t cookie;
	uint32_t revoked;		/* enum vshm_revoke_reason, 0: mapped */
	struct vshm_region_stats st;
};

/*
 * Threads: everything here belongs to the thread using the connection,
 * except what vshm_region_notify() touches from any thread: fd (sends
 * under send_lock), features (set before the connection is handed out)
 * and broken (atomic). list_lock is held while a GPA_LIST chunk waits for
 * its answer: a doorbell waits for that (docs/protocol.md 12.4: it would
 * take credit the next chunk needs). Order: list_lock, then send_lock.
 */
struct vshm_guest {
	int fd;
	int pagemap_fd;			/* opened on first use, or -1 */
	int timeout_ms;
	size_t max_msg;
	atomic_bool broken;
	uint64_t features;		/* agreed: VSHM_FEAT_* */
	pthread_mutex_t send_lock;	/* one message per send, whole */
	pthread_mutex_t list_lock;	/* a chunk waits for its answer */
	uint32_t next_id;
	struct vshm_region *regions;	/* every region holding pages */
	uint8_t *buf;			/* VSHM_MAX_MSG bytes, for sending */
	bool have_error;
	uint32_t err_code;
	uint32_t err_detail;
	/* Events read but not handed out yet, oldest first. */
	struct vshm_guest_event *events;
	size_t nr_events, cap_events;
	uint64_t events_dropped;	/* for unknown regions, or no room */
	vshm_guest_event_fn event_fn;
	void *event_arg;
	char failure[512];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

__attribute__((format(printf, 2, 3)))
static void set_failure(struct vshm_guest *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->failure, sizeof(g->failure), fmt, ap);
	va_end(ap);
}

/* Connection */

static struct vshm_guest *guest_new(int fd)
{
	struct vshm_guest *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->buf = malloc(VSHM_MAX_MSG);
	if (!g->buf) {
		free(g);
		return NULL;
	}
	if (pthread_mutex_init(&g->send_lock, NULL)) {
		free(g->buf);
		free(g);
		return NULL;
	}
	if (pthread_mutex_init(&g->list_lock, NULL)) {
		pthread_mutex_destroy(&g->send_lock);
		free(g->buf);
		free(g);
		return NULL;
	}
	g->fd = fd;
	g->pagemap_fd = -1;
	g->timeout_ms = VSHM_GUEST_DEFAULT_TIMEOUT_MS;
	g->max_msg = VSHM_MAX_MSG;
	g->next_id = 1;
	return g;
}

struct vshm_guest *vshm_guest_from_fd(int fd)
{
	struct vshm_guest *g;

	if (fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	g = guest_new(fd);
	if (!g) {
		close(fd);
		errno = ENOMEM;
	}
	return g;
}

int vshm_guest_set_timeout(struct vshm_guest *g, int timeout_ms)
{
	if (!g || timeout_ms <= 0)
		return -EINVAL;
	g->timeout_ms = timeout_ms;
	return 0;
}

int vshm_guest_set_max_msg(struct vshm_guest *g, size_t max_msg)
{
	if (!g || !vshm_runs_per_msg(max_msg) || max_msg == 0)
		return -EINVAL;
	g->max_msg = max_msg;
	return 0;
}

int vshm_guest_last_error(const struct vshm_guest *g, uint32_t *code,
			  uint32_t *detail)
{
	if (!g || !g->have_error)
		return -ENOENT;
	if (code)
		*code = g->err_code;
	if (detail)
		*detail = g->err_detail;
	return 0;
}

const char *vshm_guest_last_failure(const struct vshm_guest *g)
{
	return g ? g->failure : "";
}

/* Messages */

int vshm_guest_send_raw(struct vshm_guest *g, const void *msg, size_t len)
{
	ssize_t n;
	int err;

	if (!g || (!msg && len))
		return -EINVAL;
	/* A doorbell from another thread must not split a message. */
	pthread_mutex_lock(&g->send_lock);
	do {
		n = send(g->fd, msg, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	err = n < 0 ? errno : 0;
	pthread_mutex_unlock(&g->send_lock);
	if (n < 0)
		return -err;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Waits until fd is readable or the deadline (ns) passes. */
static int wait_readable(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		uint64_t now = now_ns();
		int ms, n;

		if (now >= deadline)
			return -ETIMEDOUT;
		ms = (int)((deadline - now + 999999) / 1000000);
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static uint64_t deadline_in(int timeout_ms)
{
	return now_ns() + (uint64_t)timeout_ms * 1000000ULL;
}

/*
 * One message, waiting until the deadline (ns; 0: not at all, -EAGAIN if
 * none is there); *trunc says whether it was longer than cap.
 */
static int recv_msg(struct vshm_guest *g, void *buf, size_t cap,
		    uint64_t deadline, bool *trunc)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int ret;

	for (;;) {
		if (deadline) {
			ret = wait_readable(g->fd, deadline);
			if (ret)
				return ret;
		}
		n = recvmsg(g->fd, &mh, MSG_DONTWAIT);
		if (n > 0)
			break;
		if (n == 0)
			return -ECONNRESET;
		if (errno == EAGAIN && !deadline)
			return -EAGAIN;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
	*trunc = mh.msg_flags & MSG_TRUNC;
	return (int)n;
}

int vshm_guest_recv_raw(struct vshm_guest *g, void *buf, size_t cap,
			int timeout_ms)
{
	bool trunc;

	if (!g || !buf || !cap)
		return -EINVAL;
	return recv_msg(g, buf, cap, deadline_in(timeout_ms < 0 ?
			g->timeout_ms : timeout_ms), &trunc);
}

/* The connection can no longer be trusted to be in step with the host. */
static int broken(struct vshm_guest *g, int err)
{
	g->broken = true;
	return err;
}

static void record_error(struct vshm_guest *g, const struct vshm_msg *m,
			 const char *what);

/* Events */

static struct vshm_region *find_region(const struct vshm_guest *g,
				       uint32_t id)
{
	struct vshm_region *r;

	for (r = g->regions; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Appends ev; drops it (counted) if no memory is left for it. */
static void queue_event(struct vshm_guest *g, const struct vshm_guest_event *ev)
{
	if (g->nr_events == g->cap_events) {
		size_t cap = g->cap_events ? 2 * g->cap_events : 8;
		struct vshm_guest_event *e;

		e = realloc(g->events, cap * sizeof(*e));
		if (!e) {
			g->events_dropped++;
			return;
		}
		g->events = e;
		g->cap_events = cap;
	}
	g->events[g->nr_events++] = *ev;
}

/*
 * REVOKED of a region the guest holds: marks it, queues the event once.
 * One for an unknown region (freed meanwhile), or for another grant than
 * the one MAPPED named, is stale: dropped.
 */
static void take_revoked(struct vshm_guest *g, const struct vshm_msg *m)
{
	struct vshm_region *r = find_region(g, m->region);
	struct vshm_guest_event ev = {
		.type = VSHM_GUEST_EV_REVOKED,
		.region = m->region,
		.reason = m->revoked.reason,
		.grant = m->revoked.grant,
	};

	if (!r || r->revoked ||
	    (r->st.grant && r->st.grant != m->revoked.grant)) {
		g->events_dropped++;
		return;
	}
	r->revoked = m->revoked.reason;
	ev.r = r;
	queue_event(g, &ev);
}

/*
 * NOTIFY: a doorbell of a region the guest holds. NOTIFYs of a region that
 * wait undelivered are merged (their bits ORed): the queue never holds
 * more than two events per region. One the guest cannot use (a region not
 * mapped: unknown, still uploading or revoked; no VSHM_FEAT_NOTIFY) is
 * dropped, as the protocol says (12.4).
 */
static void take_notify(struct vshm_guest *g, const struct vshm_msg *m)
{
	struct vshm_region *r = find_region(g, m->region);
	struct vshm_guest_event ev = {
		.type = VSHM_GUEST_EV_NOTIFY,
		.region = m->region,
		.bits = m->notify.bits,
	};
	size_t i;

	if (!r || !r->st.grant || r->revoked ||
	    !(g->features & VSHM_FEAT_NOTIFY)) {
		g->events_dropped++;
		return;
	}
	for (i = 0; i < g->nr_events; i++) {
		if (g->events[i].type == VSHM_GUEST_EV_NOTIFY &&
		    g->events[i].region == m->region) {
			g->events[i].bits |= m->notify.bits;
			return;
		}
	}
	ev.r = r;
	queue_event(g, &ev);
}

/* Queues m if it is an event (REVOKED, NOTIFY): never an answer. */
static bool take_event(struct vshm_guest *g, const struct vshm_msg *m)
{
	if (m->type == VSHM_MSG_REVOKED)
		take_revoked(g, m);
	else if (m->type == VSHM_MSG_NOTIFY)
		take_notify(g, m);
	else
		return false;
	return true;
}

/* r ends: queued events keep its id but no longer point at it. */
static void forget_region_events(struct vshm_guest *g,
				 const struct vshm_region *r)
{
	size_t i;

	for (i = 0; i < g->nr_events; i++)
		if (g->events[i].r == r)
			g->events[i].r = NULL;
}

static void pop_event(struct vshm_guest *g, struct vshm_guest_event *ev)
{
	*ev = g->events[0];
	g->nr_events--;
	memmove(g->events, g->events + 1, g->nr_events * sizeof(*g->events));
}

/*
 * Reads every message there is now, without waiting; queues the events.
 * Anything else is out of step (no request is outstanding): the
 * connection is broken. Returns 0 or a negative errno.
 */
static int read_ready(struct vshm_guest *g)
{
	uint8_t msg[REPLY_BUF];
	struct vshm_msg m;
	bool trunc = false;
	int n, ret;

	if (g->broken)
		return -ENOTCONN;
	for (;;) {
		n = recv_msg(g, msg, sizeof(msg), 0, &trunc);
		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			set_failure(g, "reading events: %s", n == -ECONNRESET ?
				    "the host closed the connection" :
				    strerror(-n));
			return broken(g, n);
		}
		ret = trunc ? VSHM_E_LEN : vshm_decode(msg, (size_t)n, &m);
		if (ret) {
			set_failure(g, "invalid message from the host: %s",
				    vshm_err_name(ret));
			return broken(g, -EBADMSG);
		}
		if (take_event(g, &m))
			continue;
		if (m.type == VSHM_MSG_ERROR) {
			record_error(g, &m, "nothing (unsolicited)");
			return broken(g, -EPROTO);
		}
		set_failure(g, "%s of region %u while no request was outstanding",
			    vshm_msg_type_name(m.type), m.region);
		return broken(g, -EBADMSG);
	}
}

int vshm_guest_set_event_cb(struct vshm_guest *g, vshm_guest_event_fn fn,
			    void *arg)
{
	if (!g)
		return -EINVAL;
	g->event_fn = fn;
	g->event_arg = fn ? arg : NULL;
	return 0;
}

int vshm_guest_fd(const struct vshm_guest *g)
{
	return g ? g->fd : -EINVAL;
}

int vshm_guest_dispatch(struct vshm_guest *g)
{
	struct vshm_guest_event ev;
	int ret, n = 0;

	if (!g)
		return -EINVAL;
	ret = read_ready(g);
	if (!g->event_fn)
		return ret ? ret : (int)g->nr_events;
	/* One at a time: the callback may call the library (and queue). */
	while (g->event_fn && g->nr_events) {
		pop_event(g, &ev);
		g->event_fn(g, &ev, g->event_arg);
		n++;
	}
	return ret ? ret : n;
}

int vshm_guest_next_event(struct vshm_guest *g, struct vshm_guest_event *ev)
{
	int ret;

	if (!g || !ev)
		return -EINVAL;
	ret = read_ready(g);
	if (g->nr_events) {
		pop_event(g, ev);
		return 1;
	}
	return ret;
}

static void record_error(struct vshm_guest *g, const struct vshm_msg *m,
			 const char *what)
{
	g->have_error = true;
	g->err_code = m->error.code;
	g->err_detail = m->error.detail;
	if (m->error.code == VSHM_E_MEMLOCK) {
		set_failure(g, "host answered %s of region %u with ERROR %s (%u): "
			    "the region does not fit the VM's RLIMIT_MEMLOCK, "
			    "%llu KiB (its VMM's memory lock limit, which "
			    "vsock-shm charges for shared pages: raise it, "
			    "with libvirt <memtune><hard_limit> or "
			    "<memoryBacking><locked/>)", what, m->region,
			    vshm_err_name((int)m->error.code), m->error.code,
			    (unsigned long long)m->error.detail * 4);
		return;
	}
	/* VSHM_NO_INDEX: no extent, nothing to say (not 4294967295). */
	if (m->error.detail == VSHM_NO_INDEX)
		set_failure(g, "host answered %s of region %u with ERROR %s (%u)",
			    what, m->region, vshm_err_name((int)m->error.code),
			    m->error.code);
	else
		set_failure(g, "host answered %s of region %u with ERROR %s (%u), %s %u",
			    what, m->region, vshm_err_name((int)m->error.code),
			    m->error.code,
			    m->error.orig_type == VSHM_MSG_GPA_LIST ?
			    "extent" : "detail", m->error.detail);
}

/* Checks a decoded answer to a message of region about `what`. */
static int check_reply(struct vshm_guest *g, const struct vshm_msg *m,
		       uint32_t region, uint8_t want, const char *what)
{
	if (m->type == VSHM_MSG_ERROR && m->region == 0) {
		record_error(g, m, what);
		return broken(g, -EPROTO);
	}
	if (m->type == VSHM_MSG_ERROR && m->region == region) {
		record_error(g, m, what);
		return -EPROTO;
	}
	if (m->type != want || m->region != region) {
		set_failure(g, "waiting for %s of region %u after %s, got %s of region %u",
			    vshm_msg_type_name(want), region, what,
			    vshm_msg_type_name(m->type), m->region);
		return broken(g, -EBADMSG);
	}
	return 0;
}

/*
 * Waits for the answer to `what` of region: the next message that is not
 * an event (events are queued). Returns 0 with *m decoded, or a negative
 * errno (the connection is broken).
 */
static int wait_answer(struct vshm_guest *g, uint32_t region,
		       const char *what, struct vshm_msg *m)
{
	uint64_t deadline = deadline_in(g->timeout_ms);
	uint8_t reply[REPLY_BUF];
	bool trunc = false;
	int ret, n;

	for (;;) {
		n = recv_msg(g, reply, sizeof(reply), deadline, &trunc);
		if (n < 0) {
			set_failure(g, "waiting for the answer to %s of region %u: %s",
				    what, region, n == -ETIMEDOUT ?
				    "timed out" : strerror(-n));
			return broken(g, n);
		}
		ret = trunc ? VSHM_E_LEN : vshm_decode(reply, (size_t)n, m);
		if (ret) {
			set_failure(g, "invalid answer to %s of region %u: %s",
				    what, region, vshm_err_name(ret));
			return broken(g, -EBADMSG);
		}
		if (!take_event(g, m))
			return 0;
	}
}

/*
 * Sends len bytes of g->buf (a message of region about `what`), waits for
 * the answer and checks it is `want` (or an ERROR for region). Returns 0,
 * -EPROTO (ERROR, recorded) or a negative errno (connection broken).
 */
static int transact(struct vshm_guest *g, size_t len, uint32_t region,
		    uint8_t want, const char *what, struct vshm_msg *m)
{
	int ret;

	ret = vshm_guest_send_raw(g, g->buf, len);
	if (ret) {
		set_failure(g, "sending %s of region %u: %s", what, region,
			    strerror(-ret));
		return broken(g, ret);
	}
	ret = wait_answer(g, region, what, m);
	return ret ? ret : check_reply(g, m, region, want, what);
}

static void guest_free(struct vshm_guest *g);

/* Connecting */

static int set_connect_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	return setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			  sizeof(tv));
}

/* One attempt: a connected socket, or a negative errno. */
static int connect_once(const struct sockaddr *sa, socklen_t len,
			int timeout_ms)
{
	int fd, err;

	fd = socket(sa->sa_family, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sa->sa_family == AF_VSOCK) {
		/*
		 * The host shares only from privileged ports by default.
		 * Without CAP_NET_BIND_SERVICE the connection still works (a
		 * policy may accept unprivileged ports; otherwise shares get
		 * VSHM_E_PORT).
		 */
		err = vshm_bind_privileged(fd);
		if (err && err != -EACCES) {
			close(fd);
			return err;
		}
		if (set_connect_timeout(fd, timeout_ms)) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	if (connect(fd, sa, len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Connects, trying again while nobody listens yet (ECONNREFUSED; a vsock
 * transport may say ECONNRESET) until wait_ms have passed.
 */
static int connect_retry(const struct sockaddr *sa, socklen_t len,
			 int timeout_ms, int wait_ms)
{
	uint64_t deadline = deadline_in(wait_ms);
	unsigned int pause = RETRY_FIRST_MS;
	int fd;

	for (;;) {
		uint64_t now;

		fd = connect_once(sa, len, timeout_ms);
		if (fd >= 0 || (fd != -ECONNREFUSED && fd != -ECONNRESET))
			return fd;
		now = now_ns();
		if (now >= deadline)
			return fd;
		if ((uint64_t)pause * 1000000ULL > deadline - now)
			pause = (unsigned int)((deadline - now) / 1000000ULL) + 1;
		sleep_ms(pause);
		pause = pause * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause * 2;
	}
}

/*
 * HELLO: offers features, waits for HELLO_OK (a subset) or for an older
 * host's ERROR(VSHM_E_TYPE) (no features). Returns 0 or a negative errno.
 */
static int negotiate(struct vshm_guest *g, uint64_t offer)
{
	struct vshm_msg m;
	ssize_t len;
	int ret;

	len = vshm_encode_hello(g->buf, VSHM_MAX_MSG, HELLO_REGION, offer);
	if (len < 0)
		return (int)len;
	ret = vshm_guest_send_raw(g, g->buf, (size_t)len);
	if (ret) {
		set_failure(g, "sending HELLO: %s", strerror(-ret));
		return broken(g, ret);
	}
	ret = wait_answer(g, HELLO_REGION, "HELLO", &m);
	if (ret)
		return ret;
	if (m.type == VSHM_MSG_ERROR && m.region == HELLO_REGION &&
	    m.error.code == VSHM_E_TYPE) {
		/* An older host: version 1 without features. */
		g->features = 0;
		return 0;
	}
	ret = check_reply(g, &m, HELLO_REGION, VSHM_MSG_HELLO_OK, "HELLO");
	if (ret)
		return ret;
	if (m.hello.features & ~offer) {
		set_failure(g, "HELLO_OK accepts features %#llx, more than the %#llx offered",
			    (unsigned long long)m.hello.features,
			    (unsigned long long)offer);
		return broken(g, -EBADMSG);
	}
	g->features = m.hello.features;
	return 0;
}

static int opts_ok(const struct vshm_guest_opts *o)
{
	size_t i;

	if (!o || o->timeout_ms < 0 || o->connect_wait_ms < 0 ||
	    (o->flags & ~VSHM_GUEST_PLAIN) || o->reserved0 ||
	    (o->features & ~VSHM_FEAT_MASK))
		return -EINVAL;
	for (i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
		if (o->reserved[i])
			return -EINVAL;
	return 0;
}

/* A connection on fd as o says: timeout, then HELLO (owns fd). */
static struct vshm_guest *guest_start(int fd, const struct vshm_guest_opts *o)
{
	struct vshm_guest *g = vshm_guest_from_fd(fd);
	int ret;

	if (!g)
		return NULL;
	if (o->timeout_ms)
		g->timeout_ms = o->timeout_ms;
	if (o->flags & VSHM_GUEST_PLAIN)
		return g;
	ret = negotiate(g, o->features ? o->features : VSHM_FEAT_MASK);
	if (ret) {
		/* Nothing was shared: closing at once is enough. */
		close(g->fd);
		guest_free(g);
		errno = -ret;
		return NULL;
	}
	return g;
}

struct vshm_guest *vshm_guest_start_fd(int fd, const struct vshm_guest_opts *o)
{
	int ret = opts_ok(o);

	if (ret) {
		if (fd >= 0)
			close(fd);
		errno = -ret;
		return NULL;
	}
	return guest_start(fd, o);
}

struct vshm_guest *vshm_guest_connect_addr(const struct sockaddr *sa,
					   socklen_t len,
					   const struct vshm_guest_opts *o)
{
	int fd, ret = opts_ok(o);

	if (ret || !sa) {
		errno = ret ? -ret : EINVAL;
		return NULL;
	}
	fd = connect_retry(sa, len, o->timeout_ms ? o->timeout_ms :
			   VSHM_GUEST_DEFAULT_TIMEOUT_MS, o->connect_wait_ms);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	return guest_start(fd, o);
}

struct vshm_guest *vshm_guest_connect_opts(const struct vshm_guest_opts *o)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
	};

	if (!o || !o->port) {
		errno = EINVAL;
		return NULL;
	}
	sa.svm_cid = o->cid;
	sa.svm_port = o->port;
	return vshm_guest_connect_addr((struct sockaddr *)&sa, sizeof(sa), o);
}

struct vshm_guest *vshm_guest_connect(unsigned int cid, unsigned int port)
{
	struct vshm_guest_opts o = { .cid = cid, .port = port };
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};

	return vshm_guest_connect_addr((struct sockaddr *)&sa, sizeof(sa), &o);
}

uint64_t vshm_guest_features(const struct vshm_guest *g)
{
	return g ? g->features : 0;
}

/* Local memory: map, pin, read addresses */

static int read_long(const char *path, long *val)
{
	char text[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	text[n] = '\0';
	*val = strtol(text, NULL, 10);
	return 0;
}

/*
 * Says why a mapping of 2 MiB pages failed with ENOMEM: how many pages it
 * needs, how many are free, how to reserve more. Changes nothing.
 */
static void huge_hint(struct vshm_guest *g, const char *what, size_t size)
{
	long nr = -1, free_pages = -1, resv = 0;
	long need = (long)(size / VSHM_HUGE_PAGE_SIZE);

	read_long(HUGE_SYSFS "nr_hugepages", &nr);
	read_long(HUGE_SYSFS "free_hugepages", &free_pages);
	read_long(HUGE_SYSFS "resv_hugepages", &resv);
	if (nr < 0 || free_pages < 0) {
		set_failure(g, "%s: not enough free 2 MiB huge pages (needs %ld; "
			    "the kernel has no 2 MiB pool: %s)", what, need,
			    HUGE_SYSFS);
		return;
	}
	set_failure(g, "%s: not enough free 2 MiB huge pages: needs %ld, %ld "
		    "free and unreserved of %ld in the pool; reserve more as "
		    "root (the library changes no system setting): "
		    "echo %ld > /proc/sys/vm/nr_hugepages (or sysctl "
		    "vm.nr_hugepages, hugepages= at boot)", what, need,
		    free_pages - resv, nr, nr + need - (free_pages - resv));
}

static void *mmap_anon(size_t size, bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;

	if (huge)
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
	return mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
}

/* Maps the region's memory: anonymous, or the memfd's range. */
static int map_region(struct vshm_region *r, bool huge, int memfd,
		      uint64_t offset)
{
	bool is_memfd = r->kind == KIND_MEMFD;
	char what[96];

	if (is_memfd)
		r->ptr = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_POPULATE, memfd, (off_t)offset);
	else
		r->ptr = mmap_anon(r->size, huge);
	if (r->ptr == MAP_FAILED) {
		int err = errno;

		if (is_memfd)
			snprintf(what, sizeof(what), "mmap of %zu bytes at offset %llu of memfd %d",
				 r->size, (unsigned long long)offset, memfd);
		else
			snprintf(what, sizeof(what), "mmap of %zu bytes%s",
				 r->size, huge ? " of 2 MiB pages" : "");
		if (err == ENOMEM && huge)
			huge_hint(r->g, what, r->size);
		else
			set_failure(r->g, "%s failed: %s%s", what,
				    strerror(err), is_memfd && err == EPERM ?
				    " (is it sealed against writes?)" : "");
		return -err;
	}
	if (madvise(r->ptr, r->size, MADV_DONTFORK)) {
		set_failure(r->g, "madvise(MADV_DONTFORK): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Writes every 4 KiB page, so each has its own frame before pinning. */
static void touch_pages(void *ptr, size_t size)
{
	volatile uint8_t *p = ptr;
	size_t off;

	for (off = 0; off < size; off += VSHM_PAGE_SIZE)
		p[off] = p[off];
}

static int io_uring_setup_raw(unsigned int entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int io_uring_register_raw(int fd, unsigned int op, const void *arg,
				 unsigned int nr)
{
	return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

/* Registers the region as io_uring fixed buffers: FOLL_LONGTERM pins. */
static int pin_region(struct vshm_region *r)
{
	size_t nr = (r->size + PIN_IOV_MAX - 1) / PIN_IOV_MAX, i;
	struct io_uring_params p;
	struct iovec *iov;
	int ret = 0;

	iov = calloc(nr, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (i = 0; i < nr; i++) {
		iov[i].iov_base = (char *)r->ptr + i * PIN_IOV_MAX;
		iov[i].iov_len = i + 1 < nr ? PIN_IOV_MAX :
					      r->size - i * PIN_IOV_MAX;
	}
	memset(&p, 0, sizeof(p));
	r->ring_fd = io_uring_setup_raw(1, &p);
	if (r->ring_fd < 0) {
		ret = -errno;
		set_failure(r->g, "io_uring_setup: %s", strerror(errno));
	} else if (io_uring_register_raw(r->ring_fd, IORING_REGISTER_BUFFERS,
					 iov, (unsigned int)nr)) {
		ret = -errno;
		set_failure(r->g, "pinning %zu bytes (io_uring_register BUFFERS, %zu iovecs): %s%s",
			    r->size, nr, strerror(errno),
			    r->kind == KIND_BUF && (errno == EFAULT ||
						    errno == EOPNOTSUPP) ?
			    " (a buffer must be anonymous, tmpfs/memfd or "
			    "hugetlbfs memory, mapped writable: the kernel "
			    "refuses long-term pins of page-cache file pages)" :
			    "");
		close(r->ring_fd);
		r->ring_fd = -1;
	}
	free(iov);
	return ret;
}

static void unpin_region(struct vshm_region *r)
{
	if (r->ring_fd < 0)
		return;
	io_uring_register_raw(r->ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
	close(r->ring_fd);
	r->ring_fd = -1;
}

static int open_pagemap(struct vshm_guest *g)
{
	if (g->pagemap_fd >= 0)
		return 0;
	g->pagemap_fd = open(PAGEMAP_PATH, O_RDONLY | O_CLOEXEC);
	if (g->pagemap_fd < 0) {
		set_failure(g, "open %s: %s", PAGEMAP_PATH, strerror(errno));
		return -errno;
	}
	return 0;
}

static int read_gpas(const struct vshm_region *r, uint64_t *out)
{
	struct vshm_guest *g = r->g;
	int ret = open_pagemap(g);

	if (ret)
		return ret;
	ret = vshm_pagemap_read(g->pagemap_fd, r->ptr,
				r->size / VSHM_PAGE_SIZE, out);
	if (ret)
		set_failure(g, "reading the physical addresses of region %u: %s%s",
			    r->id, strerror(-ret), ret == -EPERM ?
			    " (needs CAP_SYS_ADMIN)" : "");
	return ret;
}

/* Reads the GPAs and coalesces them into r->runs. */
static int read_extents(struct vshm_region *r)
{
	size_t npages = r->size / VSHM_PAGE_SIZE;
	uint64_t *phys = malloc(npages * sizeof(*phys));
	ssize_t n = -ENOMEM;

	if (!phys)
		return -ENOMEM;
	n = read_gpas(r, phys);
	if (!n)
		n = vshm_coalesce(phys, npages, NULL, 0);
	if (n > 0) {
		r->runs = malloc((size_t)n * sizeof(*r->runs));
		n = r->runs ? vshm_coalesce(phys, npages, r->runs, (size_t)n) :
			      -ENOMEM;
	}
	free(phys);
	if (n < 0)
		return (int)n;
	r->nr_runs = (size_t)n;
	return 0;
}

int vshm_region_gpas(const struct vshm_region *r, uint64_t *out, size_t n)
{
	if (!r || !out)
		return -EINVAL;
	if (n < r->size / VSHM_PAGE_SIZE)
		return -ENOSPC;
	return read_gpas(r, out);
}

/* Regions */

static uint32_t alloc_id(struct vshm_guest *g)
{
	uint32_t id;

	do {
		id = g->next_id++;
	} while (!id || find_region(g, id));
	return id;
}

static struct vshm_region *region_new(struct vshm_guest *g,
				      enum region_kind kind, size_t size,
				      uint32_t page_size)
{
	struct vshm_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->g = g;
	r->kind = kind;
	r->id = alloc_id(g);
	r->ptr = MAP_FAILED;
	r->size = size;
	r->page_size = page_size;
	r->ring_fd = -1;
	r->st.region = r->id;
	r->st.size = size;
	r->st.page_size = page_size;
	r->st.nr_pages = (uint32_t)(size / VSHM_PAGE_SIZE);
	r->next = g->regions;
	g->regions = r;
	return r;
}

/* Unpins, unmaps, unlinks and frees r: only once the host let go. */
static void release_local(struct vshm_region *r)
{
	struct vshm_region **pp;

	unpin_region(r);
	/* An application's buffer stays as it is: only the pins go. */
	if (r->ptr != MAP_FAILED && r->kind != KIND_BUF)
		munmap(r->ptr, r->size);
	forget_region_events(r->g, r);
	for (pp = &r->g->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	free(r->runs);
	free(r);
}

/* Everything before the first message: memory, fill, pins, extents. */
static int prepare_local(struct vshm_region *r, const struct vshm_share_args *a)
{
	uint64_t t;
	int ret;

	if (r->kind == KIND_BUF) {
		r->ptr = a->addr;
	} else {
		ret = map_region(r, r->page_size == VSHM_HUGE_PAGE_SIZE,
				 a->memfd, a->offset);
		if (ret)
			return ret;
	}
	/*
	 * The library's fresh anonymous memory: its own frame for every page.
	 * Not the application's memory (a write, even of the same value,
	 * could undo another thread's); the pin faults what is missing in.
	 */
	if (r->kind == KIND_ANON)
		touch_pages(r->ptr, r->size);
	if (a->fill) {
		ret = a->fill(r->ptr, r->size, r->id, a->fill_arg);
		if (ret) {
			set_failure(r->g, "filling region %u failed: %s", r->id,
				    strerror(-ret));
			return ret;
		}
	}
	t = now_ns();
	ret = pin_region(r);
	r->st.pin_ns = now_ns() - t;
	if (ret)
		return ret;
	t = now_ns();
	ret = read_extents(r);
	r->st.pagemap_ns = now_ns() - t;
	r->st.nr_extents = (uint32_t)r->nr_runs;
	return ret;
}

static int send_alloc(struct vshm_region *r, unsigned int access)
{
	struct vshm_guest *g = r->g;
	struct vshm_msg m;
	ssize_t len;

	/* With the feature agreed, every ALLOC carries a cookie, 0 or not. */
	if (g->features & VSHM_FEAT_COOKIE)
		len = vshm_encode_alloc_cookie(g->buf, VSHM_MAX_MSG, r->id,
					       r->size, r->page_size, access,
					       r->cookie);
	else
		len = vshm_encode_alloc(g->buf, VSHM_MAX_MSG, r->id, r->size,
					r->page_size, access);
	if (len < 0)
		return (int)len;
	return transact(g, (size_t)len, r->id, VSHM_MSG_ALLOC_OK, "ALLOC",
			&m);
}

/* An answer to a chunk must echo it (CHUNK_OK) or cover the region. */
static int check_chunk_reply(struct vshm_region *r,
			     const struct vshm_chunk *c,
			     const struct vshm_msg *m)
{
	bool ok;

	if (c->last) {
		ok = m->mapped.nr_pages == r->st.nr_pages;
		r->st.grant = m->mapped.grant;
	} else {
		ok = m->chunk_ok.first_page == c->first_page &&
		     m->chunk_ok.nr_pages == c->nr_pages;
	}
	if (ok)
		return 0;
	set_failure(r->g, "%s of region %u does not match the chunk at page %u",
		    vshm_msg_type_name(m->type), r->id, c->first_page);
	return broken(r->g, -EBADMSG);
}

static int send_chunk(struct vshm_region *r, const struct vshm_chunk *c)
{
	struct vshm_guest *g = r->g;
	struct vshm_msg m;
	ssize_t len;
	int ret;

	len = vshm_encode_chunk(g->buf, VSHM_MAX_MSG, r->id, r->st.nr_pages,
				r->runs, c);
	if (len < 0) {
		set_failure(g, "encoding a GPA_LIST of region %u: %s", r->id,
			    strerror((int)-len));
		return (int)len;
	}
	pthread_mutex_lock(&g->list_lock);
	ret = transact(g, (size_t)len, r->id,
		       c->last ? VSHM_MSG_MAPPED : VSHM_MSG_CHUNK_OK,
		       "GPA_LIST", &m);
	pthread_mutex_unlock(&g->list_lock);
	return ret ? ret : check_chunk_reply(r, c, &m);
}

/* Stop-and-wait: one chunk, one answer. */
static int send_chunks(struct vshm_region *r)
{
	ssize_t n = vshm_split(r->runs, r->nr_runs, r->g->max_msg, NULL, 0);
	struct vshm_chunk *chunks;
	ssize_t i;
	int ret = 0;

	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	chunks = calloc((size_t)n, sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	n = vshm_split(r->runs, r->nr_runs, r->g->max_msg, chunks, (size_t)n);
	for (i = 0; i < n && !ret; i++) {
		ret = send_chunk(r, &chunks[i]);
		r->st.nr_chunks = (uint32_t)i + 1;
	}
	free(chunks);
	return ret;
}

/*
 * Asks the host to drop r (FREE) and waits for FREED. Returns 0 or the
 * error; a host ERROR is recorded but does not replace an earlier one.
 */
static int free_remote(struct vshm_region *r)
{
	struct vshm_guest *g = r->g;
	struct vshm_msg m;
	ssize_t len;

	if (g->broken)
		return -ENOTCONN;
	len = vshm_encode_free(g->buf, VSHM_MAX_MSG, r->id);
	if (len < 0)
		return (int)len;
	return transact(g, (size_t)len, r->id, VSHM_MSG_FREED, "FREE", &m);
}

/*
 * The share failed after ALLOC_OK: the host keeps the region (and the
 * module its grant) until FREE. Release locally only once FREED says so;
 * otherwise keep the pages pinned until vshm_guest_close().
 */
static void abandon_remote(struct vshm_region *r)
{
	struct vshm_guest *g = r->g;
	bool had = g->have_error;
	uint32_t code = g->err_code, detail = g->err_detail;
	char failure[sizeof(g->failure)];

	memcpy(failure, g->failure, sizeof(failure));
	if (free_remote(r))
		r->orphan = true;
	/* Report the first failure, not the clean-up's. */
	g->have_error = had;
	g->err_code = code;
	g->err_detail = detail;
	memcpy(g->failure, failure, sizeof(failure));
	if (!r->orphan)
		release_local(r);
}

static int share_remote(struct vshm_region *r, unsigned int access)
{
	uint64_t t = now_ns();
	int ret = send_alloc(r, access);

	if (ret) {
		/* An ERROR to ALLOC: the host has nothing of this region. */
		if (ret == -EPROTO && !r->g->broken)
			release_local(r);
		else
			r->orphan = true;
		return ret;
	}
	ret = send_chunks(r);
	if (ret) {
		abandon_remote(r);
		return ret;
	}
	r->st.share_ns = now_ns() - t;
	return 0;
}

/*
 * Checks a memfd: tmpfs (memfd_create, shm) or hugetlbfs (2 MiB pages),
 * and the range within the file. Sets *page_size.
 */
static int memfd_ok(struct vshm_guest *g, const struct vshm_share_args *a,
		    uint32_t *page_size)
{
	struct statfs sfs;
	struct stat st;

	if (a->memfd < 0 || fstat(a->memfd, &st) || fstatfs(a->memfd, &sfs)) {
		set_failure(g, "memfd %d: %s", a->memfd,
			    a->memfd < 0 ? "not a file descriptor" :
			    strerror(errno));
		return -EBADF;
	}
	if ((unsigned long)sfs.f_type == (unsigned long)HUGETLBFS_MAGIC) {
		if (st.st_blksize != VSHM_HUGE_PAGE_SIZE) {
			set_failure(g, "memfd %d has huge pages of %ld KiB: only 2 MiB ones can be shared",
				    a->memfd, (long)st.st_blksize / 1024);
			return -EOPNOTSUPP;
		}
		*page_size = VSHM_HUGE_PAGE_SIZE;
	} else if ((unsigned long)sfs.f_type == (unsigned long)TMPFS_MAGIC) {
		if (a->flags & VSHM_SHARE_HUGE) {
			set_failure(g, "VSHM_SHARE_HUGE, but memfd %d is not a hugetlb one (MFD_HUGETLB)",
				    a->memfd);
			return -EINVAL;
		}
		*page_size = VSHM_PAGE_SIZE;
	} else {
		set_failure(g, "fd %d is not a memfd, tmpfs or hugetlbfs file (file system type %#lx): the kernel refuses long-term pins of page-cache file pages",
			    a->memfd, (unsigned long)sfs.f_type);
		return -EOPNOTSUPP;
	}
	if (a->offset % *page_size || a->size % *page_size) {
		set_failure(g, "offset %llu and size %zu of memfd %d must be multiples of its page size, %u",
			    (unsigned long long)a->offset, a->size, a->memfd,
			    *page_size);
		return -EINVAL;
	}
	if (a->offset > (uint64_t)st.st_size ||
	    a->size > (uint64_t)st.st_size - a->offset) {
		set_failure(g, "offset %llu + size %zu is beyond the end of memfd %d (%lld bytes: ftruncate it first)",
			    (unsigned long long)a->offset, a->size, a->memfd,
			    (long long)st.st_size);
		return -EINVAL;
	}
	return 0;
}

#define SHARE_FLAGS	(VSHM_SHARE_HUGE | VSHM_SHARE_BUF | VSHM_SHARE_MEMFD)

/* Checks args; sets the region's kind and page size. */
static int share_args_ok(struct vshm_guest *g, const struct vshm_share_args *a,
			 enum region_kind *kind, uint32_t *page_size)
{
	size_t i;

	if (!g)
		return -EINVAL;
	*kind = a->flags & VSHM_SHARE_BUF ? KIND_BUF :
		a->flags & VSHM_SHARE_MEMFD ? KIND_MEMFD : KIND_ANON;
	*page_size = a->flags & VSHM_SHARE_HUGE ? VSHM_HUGE_PAGE_SIZE :
						  VSHM_PAGE_SIZE;
	if (!a->size || (a->flags & ~SHARE_FLAGS) ||
	    (a->flags & VSHM_SHARE_BUF && a->flags & VSHM_SHARE_MEMFD) ||
	    !a->access || (a->access & ~VSHM_ACCESS_MASK) ||
	    a->size / VSHM_PAGE_SIZE > UINT32_MAX || a->reserved0 ||
	    (*kind != KIND_MEMFD && a->offset) ||
	    (*kind == KIND_BUF && !a->addr)) {
		set_failure(g, "invalid share arguments: size %zu flags %#x access %#x",
			    a->size, a->flags, a->access);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(a->reserved) / sizeof(a->reserved[0]); i++) {
		if (a->reserved[i]) {
			set_failure(g, "invalid share arguments: reserved[%zu] is not 0",
				    i);
			return -EINVAL;
		}
	}
	if (g->broken) {
		/* Keep g->failure: it names what broke the connection. */
		return -ENOTCONN;
	}
	if (a->cookie && !(g->features & VSHM_FEAT_COOKIE)) {
		set_failure(g, "cookie %#llx: the host did not agree on cookies (VSHM_FEAT_COOKIE; an older host, or a plain connection), it could not see it",
			    (unsigned long long)a->cookie);
		return -EOPNOTSUPP;
	}
	if (*kind == KIND_MEMFD)
		return memfd_ok(g, a, page_size);
	if (a->size % *page_size ||
	    (*kind == KIND_BUF && (uintptr_t)a->addr % *page_size)) {
		set_failure(g, "%s%s and size %zu must be multiples of %u%s",
			    *kind == KIND_BUF ? "buffer address " : "",
			    *kind == KIND_BUF ? "" : "size", a->size,
			    *page_size, *page_size == VSHM_HUGE_PAGE_SIZE ?
			    " (VSHM_SHARE_HUGE)" : "");
		return -EINVAL;
	}
	return 0;
}

struct vshm_region *vshm_share_ex(struct vshm_guest *g,
				  const struct vshm_share_args *args)
{
	enum region_kind kind;
	uint32_t page_size;
	struct vshm_region *r;
	int ret;

	if (!g || !args) {
		errno = EINVAL;
		return NULL;
	}
	if (!g->broken)
		g->failure[0] = '\0';
	ret = share_args_ok(g, args, &kind, &page_size);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	r = region_new(g, kind, args->size, page_size);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->cookie = args->cookie;
	ret = prepare_local(r, args);
	if (ret) {
		release_local(r);
		errno = -ret;
		return NULL;
	}
	ret = share_remote(r, args->access);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	return r;
}

struct vshm_region *vshm_share_fill(struct vshm_guest *g, size_t size,
				    unsigned int flags, unsigned int access,
				    vshm_fill_fn fill, void *arg)
{
	struct vshm_share_args a = {
		.size = size,
		.flags = flags,
		.access = access,
		.fill = fill,
		.fill_arg = arg,
	};

	/* Library memory only: the others need vshm_share_ex()'s fields. */
	if (flags & (VSHM_SHARE_BUF | VSHM_SHARE_MEMFD)) {
		if (g)
			set_failure(g, "VSHM_SHARE_BUF and VSHM_SHARE_MEMFD need vshm_share_ex()");
		errno = EINVAL;
		return NULL;
	}
	return vshm_share_ex(g, &a);
}

struct vshm_region *vshm_share(struct vshm_guest *g, size_t size,
			       unsigned int flags, unsigned int access)
{
	return vshm_share_fill(g, size, flags, access, NULL, NULL);
}

struct vshm_region *vshm_share_buf(struct vshm_guest *g, void *addr,
				   size_t size, unsigned int access)
{
	struct vshm_share_args a = {
		.size = size,
		.flags = VSHM_SHARE_BUF,
		.access = access,
		.addr = addr,
	};

	return vshm_share_ex(g, &a);
}

struct vshm_region *vshm_share_memfd(struct vshm_guest *g, int memfd,
				     uint64_t offset, size_t size,
				     unsigned int access)
{
	struct vshm_share_args a = {
		.size = size,
		.flags = VSHM_SHARE_MEMFD,
		.access = access,
		.memfd = memfd,
		.offset = offset,
	};

	return vshm_share_ex(g, &a);
}

int vshm_free(struct vshm_region *r)
{
	int ret;

	if (!r || r->orphan)
		return -EINVAL;
	ret = free_remote(r);
	if (ret)
		return ret;
	release_local(r);
	return 0;
}

void *vshm_region_ptr(const struct vshm_region *r)
{
	return r ? r->ptr : NULL;
}

size_t vshm_region_size(const struct vshm_region *r)
{
	return r ? r->size : 0;
}

uint32_t vshm_region_id(const struct vshm_region *r)
{
	return r ? r->id : 0;
}

const struct vshm_region_stats *vshm_region_stats(const struct vshm_region *r)
{
	return r ? &r->st : NULL;
}

uint64_t vshm_region_cookie(const struct vshm_region *r)
{
	return r ? r->cookie : 0;
}

unsigned int vshm_region_revoked(const struct vshm_region *r)
{
	return r ? r->revoked : 0;
}

int vshm_region_notify(struct vshm_region *r, uint32_t bits)
{
	uint8_t msg[VSHM_NOTIFY_SIZE];
	struct vshm_guest *g;
	ssize_t len;
	int ret;

	if (!r || !bits)
		return -EINVAL;
	g = r->g;
	/* Any thread: touch only what the lock or atomics cover. */
	if (!(g->features & VSHM_FEAT_NOTIFY))
		return -EOPNOTSUPP;
	if (g->broken)
		return -ENOTCONN;
	len = vshm_encode_notify(msg, sizeof(msg), r->id, bits);
	if (len < 0)
		return (int)len;
	/* Never while a chunk waits for its answer (protocol 12.4). */
	pthread_mutex_lock(&g->list_lock);
	ret = vshm_guest_send_raw(g, msg, (size_t)len);
	pthread_mutex_unlock(&g->list_lock);
	return ret;
}

const struct vshm_run *vshm_region_extents(const struct vshm_region *r,
					   size_t *n)
{
	if (!r)
		return NULL;
	if (n)
		*n = r->nr_runs;
	return r->runs;
}

/* Close */

/* close() waits for the host to acknowledge the end of the connection. */
static int close_lingering(int fd, int timeout_ms)
{
	struct linger lg = {
		.l_onoff = 1,
		.l_linger = (timeout_ms + 999) / 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return close(fd) ? -errno : 0;
}

/* Releases every region, then g (its socket is closed already). */
static void guest_free(struct vshm_guest *g)
{
	while (g->regions)
		release_local(g->regions);
	if (g->pagemap_fd >= 0)
		close(g->pagemap_fd);
	pthread_mutex_destroy(&g->send_lock);
	pthread_mutex_destroy(&g->list_lock);
	free(g->events);
	free(g->buf);
	free(g);
}

int vshm_guest_close(struct vshm_guest *g)
{
	int ret;

	if (!g)
		return -EINVAL;
	ret = close_lingering(g->fd, g->timeout_ms);
	/* The module dropped every grant of the connection: unpin. */
	guest_free(g);
	return ret;
}
