// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * vsock-shm host server library. See <vsock-shm/server.h> (the API) and
 * vshm_server.h (what only the tests use).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vshm_server.h"

/*
 * A connection slot. fd, id and features change under the server's lock
 * (vshm_server_notify() reads them from any thread); the rest is the
 * server thread's.
 */
struct conn {
	int fd;				/* -1: free slot */
	uint32_t cid;
	uint32_t port;
	uint64_t id;			/* unique, never reused */
	uint64_t features;		/* agreed (HELLO_OK sent) */
	struct vshm_session *sess;
	struct vshm_server *srv;
};

/*
 * An address range the server owns: a region's mapping (MAPPED), then,
 * once unmapped, the PROT_NONE reservation left in its place (RESERVED)
 * until the region's end was reported, or until the application gives it
 * back (HELD: on_ended answered VSHM_HOLD).
 */
enum range_state { RANGE_MAPPED, RANGE_RESERVED, RANGE_HELD };

struct range {
	void *addr;
	size_t size;
	enum range_state state;
	uint64_t grant;
	/* Set once MAPPED went out: vshm_server_notify() may ring it. */
	bool announced;
	uint64_t conn_id;
	uint32_t region;
	struct range *next;
};

/* What an epoll event is about (epoll_event.data.u64). */
#define TAG_LISTEN	0
#define TAG_EVENTS	1
#define TAG_CONN	2		/* + the slot's index */

struct vshm_server {
	struct vshm_server_cfg cfg;
	int listen_fd;
	int mapper_fd;
	int epfd;			/* listener, connections, events */
	int events_fd;			/* revocation events: mapper_fd */
	bool events_on;			/* events_fd is watched */
	struct conn *conns;		/* cfg.max_conns slots */
	uint8_t *buf;			/* VSHM_MAX_MSG + 1 */
	uint64_t next_conn_id;
	volatile sig_atomic_t stop;
	/* regions_held, notifies_out: under lock */
	struct vshm_server_stats st;
	/*
	 * ranges, st.regions_held, st.notifies_out, and each conn's fd, id
	 * and features: vshm_server_release() and vshm_server_notify() may
	 * run in any thread. Never held while a callback runs.
	 */
	pthread_mutex_t lock;
	struct range *ranges;
};

/*
 * 0.2 added fields in the place of reserved entries: the structures keep
 * their size (the offsets of the older fields do not depend on what
 * follows them; test_server.c checks them against the 0.1 layout).
 */
static_assert(sizeof(struct vshm_server_cfg) ==
	      offsetof(struct vshm_server_cfg, on_revoked) +
	      8 * sizeof(uint64_t), "vshm_server_cfg changed size");
static_assert(offsetof(struct vshm_server_cfg, reserved) ==
	      offsetof(struct vshm_server_cfg, on_revoked) +
	      4 * sizeof(uint64_t), "vshm_server_cfg: a union is not 8 bytes");
static_assert(sizeof(struct vshm_server_stats) ==
	      offsetof(struct vshm_server_stats, revocations) +
	      8 * sizeof(uint64_t), "vshm_server_stats changed size");

static const struct vshm_mapper_ops mapper_ops;

__attribute__((format(printf, 2, 3)))
static void srv_log(const struct vshm_server *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->cfg.log)
		s->cfg.log(s->cfg.arg, line);
	else
		fprintf(stderr, "vshm-server: %s\n", line);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Address ranges. Callers hold s->lock. */

static struct range **range_find(struct vshm_server *s, const void *addr,
				 enum range_state state)
{
	struct range **pp;

	for (pp = &s->ranges; *pp; pp = &(*pp)->next)
		if ((*pp)->addr == addr && (*pp)->state == state)
			return pp;
	return NULL;
}

/* Unlinks *pp and returns it. */
static struct range *range_unlink(struct range **pp)
{
	struct range *rg = *pp;

	*pp = rg->next;
	return rg;
}

/* The mapper */

static int mapper_map(void *ctx, uint64_t grant, int sock_fd, void **ptr,
		      struct vshm_map_info *info)
{
	struct vshm_server *s = ctx;
	struct vshm_map_req req = { .sock_fd = sock_fd, .grant = grant };
	struct vshm_unmap_req ureq = { .grant = grant };
	uint64_t t = now_ns();
	uint32_t asked = info->access;
	int prot = PROT_READ, err;
	struct range *rg;
	void *p;

	/* Tracked from the start: unmap must not fail for want of memory. */
	rg = calloc(1, sizeof(*rg));
	if (!rg)
		return -ENOMEM;
	if (ioctl(s->mapper_fd, VSHM_IOC_MAP_GRANT, &req)) {
		err = errno;
		free(rg);
		return -err;
	}
	/*
	 * The guest's ALLOC says what the server may do; the module grants
	 * read and write whatever it asked (it does not see the ALLOC).
	 */
	req.access &= asked;
	if (req.access & VSHM_ACCESS_WRITE)
		prot |= PROT_WRITE;
	p = mmap(NULL, req.size, prot, MAP_SHARED, s->mapper_fd,
		 (off_t)req.offset);
	if (p == MAP_FAILED) {
		err = errno;
		ioctl(s->mapper_fd, VSHM_IOC_UNMAP_GRANT, &ureq);
		free(rg);
		return -err;
	}
	rg->addr = p;
	rg->size = req.size;
	rg->state = RANGE_MAPPED;
	rg->grant = grant;
	pthread_mutex_lock(&s->lock);
	rg->next = s->ranges;
	s->ranges = rg;
	pthread_mutex_unlock(&s->lock);
	*ptr = p;
	info->size = req.size;
	info->nr_pages = req.nr_pages;
	info->access = req.access;
	info->pin_ns = req.pin_ns;
	info->nr_runs = req.nr_runs;
	info->map_ns = now_ns() - t;
	return 0;
}

/*
 * The mapping goes, but not its address range: it is replaced in place (one
 * mmap, no moment when the range is free) by an inaccessible reservation,
 * so that a stale pointer gets SIGSEGV and no other mapping lands there
 * until mapper_release() or vshm_server_release(). Then the grant goes.
 */
static int mapper_unmap(void *ctx, uint64_t grant, void *ptr, size_t size)
{
	struct vshm_server *s = ctx;
	struct vshm_unmap_req req = { .grant = grant };
	struct range **pp, *gone = NULL;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	pp = range_find(s, ptr, RANGE_MAPPED);
	if (pp && mmap(ptr, size, PROT_NONE, MAP_FIXED | MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) != MAP_FAILED) {
		(*pp)->state = RANGE_RESERVED;
	} else {
		/* No reservation: at least the mapping must go. */
		ret = pp ? -errno : -ENOENT;
		if (pp)
			gone = range_unlink(pp);
		munmap(ptr, size);
	}
	pthread_mutex_unlock(&s->lock);
	free(gone);
	if (ioctl(s->mapper_fd, VSHM_IOC_UNMAP_GRANT, &req) && !ret)
		ret = -errno;
	return ret;
}

/* The region's end was reported and the range is not held: give it back. */
static void mapper_release(void *ctx, void *ptr, size_t size)
{
	struct vshm_server *s = ctx;
	struct range **pp, *rg = NULL;

	(void)size;
	pthread_mutex_lock(&s->lock);
	pp = range_find(s, ptr, RANGE_RESERVED);
	if (pp) {
		rg = range_unlink(pp);
		if (munmap(rg->addr, rg->size))
			s->st.unmap_errors++;
	}
	pthread_mutex_unlock(&s->lock);
	free(rg);
}

static const struct vshm_mapper_ops mapper_ops = {
	.map = mapper_map,
	.unmap = mapper_unmap,
	.release = mapper_release,
};

/* on_ended answered VSHM_HOLD: true if there is a range to hold. */
static bool hold_range(struct vshm_server *s, void *addr)
{
	struct range **pp;

	pthread_mutex_lock(&s->lock);
	pp = range_find(s, addr, RANGE_RESERVED);
	if (pp) {
		(*pp)->state = RANGE_HELD;
		s->st.regions_held++;
	}
	pthread_mutex_unlock(&s->lock);
	return pp != NULL;
}

int vshm_server_release(struct vshm_server *s, void *addr)
{
	struct range **pp, *rg = NULL;
	int ret = -ENOENT;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	pp = range_find(s, addr, RANGE_HELD);
	if (pp) {
		rg = range_unlink(pp);
		s->st.regions_held--;
		ret = munmap(rg->addr, rg->size) ? -errno : 0;
	}
	pthread_mutex_unlock(&s->lock);
	free(rg);
	return ret;
}

/* vshm_server_free(): every range left is given back. */
static void release_all(struct vshm_server *s)
{
	struct range *rg;

	pthread_mutex_lock(&s->lock);
	while (s->ranges) {
		rg = range_unlink(&s->ranges);
		munmap(rg->addr, rg->size);
		free(rg);
	}
	s->st.regions_held = 0;
	pthread_mutex_unlock(&s->lock);
}

/* Setup */

static bool is_vsock(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return !getsockname(fd, (struct sockaddr *)&ss, &len) &&
	       ss.ss_family == AF_VSOCK;
}

/* Room for several 64 KiB messages: see VSHM_SERVER_MIN_SOCK_BUF. */
static int set_buffer_size(int fd, uint64_t size)
{
	if (!is_vsock(fd))
		return 0;
	return setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size,
			  sizeof(size)) ? -errno : 0;
}

static int open_listener(struct vshm_server *s)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = s->cfg.port,
	};
	int fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0) {
		err = errno;
		srv_log(s, "socket(AF_VSOCK, SOCK_SEQPACKET): %s", strerror(err));
		return -err;
	}
	if (set_buffer_size(fd, s->cfg.sock_buf) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, (int)s->cfg.max_conns)) {
		err = errno;
		srv_log(s, "listening on vsock port %u: %s", s->cfg.port,
		     strerror(err));
		close(fd);
		return -err;
	}
	s->listen_fd = fd;
	return 0;
}

static int open_mapper(struct vshm_server *s)
{
	/* Non-blocking: its revocation events are read until EAGAIN. */
	s->mapper_fd = open(s->cfg.mapper_path, O_RDWR | O_CLOEXEC |
			    O_NONBLOCK);
	if (s->mapper_fd < 0) {
		int err = errno;

		srv_log(s, "cannot open %s: %s%s", s->cfg.mapper_path,
		     strerror(err), err == ENOENT ?
		     " (is the vsock_shm_mapper module loaded?)" : "");
		return -err;
	}
	s->events_fd = s->mapper_fd;
	return 0;
}

static int epoll_add(struct vshm_server *s, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/*
 * Watches the revocation events of events_fd. A mapper that cannot be
 * polled (a module older than the events, or a test's /dev/zero) has none:
 * revocations are then seen through SIGBUS only.
 */
static void watch_events(struct vshm_server *s)
{
	int ret = epoll_add(s, s->events_fd, TAG_EVENTS);

	s->events_on = !ret;
	if (ret == -EPERM)
		srv_log(s, "%s gives no revocation events (older module?): revocations show as SIGBUS only",
			s->cfg.mapper_path);
	else if (ret)
		srv_log(s, "cannot watch %s: %s", s->cfg.mapper_path,
			strerror(-ret));
}

static void cfg_defaults(struct vshm_server_cfg *c)
{
	if (!c->max_conns)
		c->max_conns = VSHM_SERVER_DEFAULT_CONNS;
	if (!c->max_region_size)
		c->max_region_size = VSHM_SERVER_DEFAULT_MAX_SIZE;
	if (!c->max_regions)
		c->max_regions = VSHM_SERVER_DEFAULT_REGIONS;
	if (!c->sock_buf)
		c->sock_buf = VSHM_SERVER_DEFAULT_SOCK_BUF;
	if (c->sock_buf < VSHM_SERVER_MIN_SOCK_BUF)
		c->sock_buf = VSHM_SERVER_MIN_SOCK_BUF;
	if (!c->mapper_path)
		c->mapper_path = VSHM_MAPPER_PATH;
}

static struct vshm_server *server_alloc(const struct vshm_server_cfg *cfg)
{
	struct vshm_server *s = calloc(1, sizeof(*s));
	unsigned int i;

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->cfg = *cfg;
	cfg_defaults(&s->cfg);
	s->listen_fd = -1;
	s->mapper_fd = -1;
	s->events_fd = -1;
	s->next_conn_id = 1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->conns = calloc(s->cfg.max_conns, sizeof(*s->conns));
	s->buf = malloc(VSHM_MAX_MSG + 1);
	if (s->epfd < 0 || !s->conns || !s->buf) {
		vshm_server_free(s);
		return NULL;
	}
	for (i = 0; i < s->cfg.max_conns; i++)
		s->conns[i].fd = -1;
	return s;
}

/* The listener joins the epoll set, non-blocking: accept never waits. */
static int watch_listener(struct vshm_server *s)
{
	int fl = fcntl(s->listen_fd, F_GETFL);
	int ret;

	if (fl < 0 || fcntl(s->listen_fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	ret = epoll_add(s, s->listen_fd, TAG_LISTEN);
	if (ret)
		srv_log(s, "epoll: %s", strerror(-ret));
	return ret;
}

static struct vshm_server *server_new(const struct vshm_server_cfg *cfg,
				      int listen_fd)
{
	struct vshm_server *s = server_alloc(cfg);
	int ret;

	if (!s) {
		if (listen_fd >= 0)
			close(listen_fd);
		errno = ENOMEM;
		return NULL;
	}
	s->listen_fd = listen_fd;
	ret = open_mapper(s);
	if (!ret && listen_fd < 0)
		ret = open_listener(s);
	if (!ret)
		ret = watch_listener(s);
	if (ret) {
		vshm_server_free(s);
		errno = -ret;
		return NULL;
	}
	watch_events(s);
	return s;
}

/* Fields of later versions (cfg->reserved) must not be set. */
static bool cfg_reserved_zero(const struct vshm_server_cfg *cfg)
{
	size_t i;

	for (i = 0; i < sizeof(cfg->reserved) / sizeof(cfg->reserved[0]); i++)
		if (cfg->reserved[i])
			return false;
	return true;
}

struct vshm_server *vshm_server_new(const struct vshm_server_cfg *cfg)
{
	if (!cfg || !cfg->port || !cfg_reserved_zero(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	return server_new(cfg, -1);
}

struct vshm_server *vshm_server_new_on_fd(const struct vshm_server_cfg *cfg,
					  int listen_fd)
{
	if (!cfg || listen_fd < 0 || !cfg_reserved_zero(cfg)) {
		if (listen_fd >= 0)
			close(listen_fd);
		errno = EINVAL;
		return NULL;
	}
	return server_new(cfg, listen_fd);
}

int vshm_server_set_events_fd(struct vshm_server *s, int fd)
{
	if (!s || fd < 0)
		return -EINVAL;
	if (s->events_on)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->events_fd, NULL);
	if (s->events_fd >= 0 && s->events_fd != s->mapper_fd)
		close(s->events_fd);
	s->events_fd = fd;
	s->events_on = false;
	watch_events(s);
	return s->events_on ? 0 : -EPERM;
}

/* Connections */

static void conn_info(const struct conn *c, struct vshm_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = c->id;
	ci->peer_cid = c->cid;
	ci->peer_port = c->port;
	ci->features = c->features;
}

static int srv_on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct vshm_server *s = ((struct conn *)arg)->srv;

	return s->cfg.on_mapped ? s->cfg.on_mapped(s->cfg.arg, r) : 0;
}

/*
 * A region ended (session.c calls this before it releases the range):
 * on_freed, then on_ended; VSHM_HOLD only if there is a range to hold.
 */
static int srv_on_ended(void *arg, const struct vshm_session_region *r,
			enum vshm_end_reason why)
{
	struct vshm_server *s = ((struct conn *)arg)->srv;
	int hold = 0;

	if (why == VSHM_END_FREED && s->cfg.on_freed)
		s->cfg.on_freed(s->cfg.arg, r);
	if (s->cfg.on_ended)
		hold = s->cfg.on_ended(s->cfg.arg, r, why);
	return hold && r->addr && hold_range(s, r->addr) ? VSHM_HOLD : 0;
}

static void srv_on_revoked(void *arg, const struct vshm_session_region *r,
			   enum vshm_revoke_reason reason)
{
	struct vshm_server *s = ((struct conn *)arg)->srv;

	if (s->cfg.on_revoked)
		s->cfg.on_revoked(s->cfg.arg, r, reason);
}

static void srv_on_notify(void *arg, const struct vshm_session_region *r,
			  uint32_t bits)
{
	struct vshm_server *s = ((struct conn *)arg)->srv;

	s->cfg.on_notify(s->cfg.arg, r, bits);
}

static void drain_events(struct vshm_server *s);

/* Ends the connection: every region left is reported with reason. */
static void conn_close(struct vshm_server *s, struct conn *c,
		       enum vshm_end_reason reason, const char *why)
{
	unsigned int errs = 0, n;
	struct vshm_conn_info ci;
	int fd = c->fd;

	/* The guest's close revoked its grants: on_revoked comes first. */
	if (reason == VSHM_END_CLOSED || reason == VSHM_END_RESET)
		drain_events(s);
	n = vshm_session_end(c->sess, reason, &errs);
	s->st.regions_dropped += n;
	s->st.unmap_errors += errs;
	srv_log(s, "cid %u port %u conn %llu: connection closed (%s), %u live region%s dropped%s",
	     c->cid, c->port, (unsigned long long)c->id, why, n,
	     n == 1 ? "" : "s", errs ? ", some unmaps failed" : "");
	vshm_session_free(c->sess);
	c->sess = NULL;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_lock(&s->lock);
	close(fd);
	c->fd = -1;
	pthread_mutex_unlock(&s->lock);
	s->st.conns_open--;
	if (s->cfg.on_disconnect) {
		conn_info(c, &ci);
		s->cfg.on_disconnect(s->cfg.arg, &ci, reason);
	}
}

static struct conn *free_slot(struct vshm_server *s)
{
	unsigned int i;

	for (i = 0; i < s->cfg.max_conns; i++)
		if (s->conns[i].fd < 0)
			return &s->conns[i];
	return NULL;
}

static int conn_open(struct vshm_server *s, struct conn *c, int fd,
		     const struct sockaddr_vm *sa, uint64_t id)
{
	struct vshm_session_cfg sc = {
		.sock_fd = fd,
		.peer_cid = sa->svm_cid,
		.peer_port = sa->svm_port,
		.conn_id = id,
		.features = VSHM_FEAT_REVOKED | VSHM_FEAT_COOKIE |
			    VSHM_FEAT_NOTIFY,
		.max_region_size = s->cfg.max_region_size,
		.max_regions = s->cfg.max_regions,
		.ops = &mapper_ops,
		.ops_ctx = s,
		.on_mapped = srv_on_mapped,
		.on_ended = srv_on_ended,
		.on_revoked = srv_on_revoked,
		.on_notify = s->cfg.on_notify ? srv_on_notify : NULL,
		.arg = c,
	};
	int ret = set_buffer_size(fd, s->cfg.sock_buf);

	if (ret) {
		srv_log(s, "cid %u: SO_VM_SOCKETS_BUFFER_SIZE: %s", sa->svm_cid,
		     strerror(-ret));
		return ret;
	}
	c->srv = s;
	c->sess = vshm_session_new(&sc);
	if (!c->sess)
		return -errno;
	ret = epoll_add(s, fd, TAG_CONN + (uint64_t)(c - s->conns));
	if (ret) {
		srv_log(s, "cid %u: epoll: %s", sa->svm_cid, strerror(-ret));
		vshm_session_free(c->sess);
		c->sess = NULL;
		return ret;
	}
	c->cid = sa->svm_cid;
	c->port = sa->svm_port;
	pthread_mutex_lock(&s->lock);
	c->fd = fd;
	c->id = id;
	c->features = 0;
	pthread_mutex_unlock(&s->lock);
	s->st.conns_open++;
	return 0;
}

/* The peer's vsock address; zeros for other families. */
static void peer_addr(const struct sockaddr_storage *ss,
		      struct sockaddr_vm *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (ss->ss_family == AF_VSOCK)
		memcpy(sa, ss, sizeof(*sa));
}

/* on_connect: 0 to serve the connection. */
static int ask_on_connect(struct vshm_server *s, const struct sockaddr_vm *sa,
			  uint64_t id)
{
	struct vshm_conn_info ci = {
		.id = id, .peer_cid = sa->svm_cid, .peer_port = sa->svm_port,
	};

	return s->cfg.on_connect ? s->cfg.on_connect(s->cfg.arg, &ci) : 0;
}

static void accept_one(struct vshm_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct sockaddr_vm sa;
	const char *why = NULL;
	struct conn *c;
	uint64_t id;
	int fd;

	memset(&ss, 0, sizeof(ss));
	fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
		     SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			srv_log(s, "accept: %s", strerror(errno));
		return;
	}
	peer_addr(&ss, &sa);
	id = s->next_conn_id++;
	c = free_slot(s);
	if (!c)
		why = "too many connections";
	else if (ask_on_connect(s, &sa, id))
		why = "on_connect said no";
	else if (conn_open(s, c, fd, &sa, id))
		why = "cannot set it up";
	if (why) {
		s->st.conns_refused++;
		srv_log(s, "cid %u port %u: connection refused: %s",
			sa.svm_cid, sa.svm_port, why);
		close(fd);
		return;
	}
	s->st.conns_accepted++;
	srv_log(s, "cid %u port %u conn %llu: connected", c->cid, c->port,
		(unsigned long long)c->id);
}

/* Logs what the session did with a message. */
static void report(struct vshm_server *s, const struct conn *c,
		   const struct vshm_session_out *out)
{
	const struct vshm_msg *err_msg = NULL;
	struct vshm_msg m;

	if (out->reply_type == VSHM_MSG_ERROR &&
	    !vshm_decode(out->reply, out->reply_len, &m))
		err_msg = &m;
	if (err_msg)
		srv_log(s, "cid %u region %u: ERROR %s to %s (detail %d)%s",
		     c->cid, err_msg->region,
		     vshm_err_name((int)err_msg->error.code),
		     vshm_msg_type_name(err_msg->error.orig_type),
		     err_msg->error.detail == VSHM_NO_INDEX ? -1 :
		     (int)err_msg->error.detail,
		     out->actions & VSHM_SESS_CLOSE ? ", closing" : "");
	if (out->actions & VSHM_SESS_HELLO)
		srv_log(s, "cid %u port %u conn %llu: features %#llx agreed",
			c->cid, c->port, (unsigned long long)c->id,
			(unsigned long long)vshm_session_features(c->sess));
	if (out->map_err)
		srv_log(s, "cid %u region %u: mapping grant %llu failed: %s",
		     c->cid, out->region.id,
		     (unsigned long long)out->region.grant,
		     strerror(-out->map_err));
	if (out->unmap_err)
		srv_log(s, "cid %u region %u: unmapping grant %llu: %s", c->cid,
		     out->region.id, (unsigned long long)out->region.grant,
		     strerror(-out->unmap_err));
}

static void account(struct vshm_server *s, const struct vshm_session_out *out)
{
	if (out->reply_type == VSHM_MSG_ERROR)
		s->st.errors_sent++;
	if (out->unmap_err)
		s->st.unmap_errors++;
	if (out->actions & VSHM_SESS_MAPPED)
		s->st.regions_mapped++;
	/* on_freed and on_ended already ran (srv_on_ended). */
	if (out->actions & VSHM_SESS_FREED)
		s->st.regions_freed++;
	if (out->actions & VSHM_SESS_NOTIFY)
		s->st.notifies_in++;
	if (out->actions & VSHM_SESS_DROPPED)
		s->st.notifies_dropped++;
}

/*
 * Sends without blocking: a guest that keeps to stop-and-wait always has
 * room for an answer, one that does not loses its connection.
 */
static int send_msg(int fd, const void *msg, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* MAPPED went out: the guest may be rung for the region from now on. */
static void announce(struct vshm_server *s, const struct conn *c,
		     const struct vshm_session_region *r)
{
	struct range **pp;

	pthread_mutex_lock(&s->lock);
	pp = range_find(s, r->addr, RANGE_MAPPED);
	if (pp) {
		(*pp)->announced = true;
		(*pp)->conn_id = c->id;
		(*pp)->region = r->id;
	}
	pthread_mutex_unlock(&s->lock);
}

/* Is this message a FREE? (Its grant's revocation is read before it.) */
static bool is_free(const uint8_t *msg, size_t len)
{
	return len >= VSHM_HDR_SIZE &&
	       msg[offsetof(struct vshm_hdr, type)] == VSHM_MSG_FREE;
}

/* One message from c: feed it, answer it. */
static void serve_conn(struct vshm_server *s, struct conn *c)
{
	struct vshm_session_out out;
	ssize_t n;
	int ret;

	n = recv(c->fd, s->buf, VSHM_MAX_MSG + 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(s, c, VSHM_END_RESET, strerror(errno));
		return;
	}
	if (n == 0) {
		conn_close(s, c, VSHM_END_CLOSED, "end of stream");
		return;
	}
	if (is_free(s->buf, (size_t)n))
		drain_events(s);
	vshm_session_feed(c->sess, s->buf, (size_t)n, &out);
	if (out.actions & VSHM_SESS_HELLO) {
		pthread_mutex_lock(&s->lock);
		c->features = vshm_session_features(c->sess);
		pthread_mutex_unlock(&s->lock);
	}
	report(s, c, &out);
	account(s, &out);
	if (!out.reply_len)
		return;		/* a NOTIFY: never answered */
	ret = send_msg(c->fd, out.reply, out.reply_len);
	if (ret) {
		conn_close(s, c, VSHM_END_RESET, ret == -EAGAIN ?
			   "guest does not read its answers" : strerror(-ret));
		return;
	}
	if (out.actions & VSHM_SESS_MAPPED)
		announce(s, c, &out.region);
	if (out.actions & VSHM_SESS_CLOSE)
		conn_close(s, c, VSHM_END_PROTOCOL, "protocol error");
}

/* Revocation events */

/* The mapper revoked grant: the region of some connection that maps it. */
static void revoked(struct vshm_server *s, uint64_t grant, uint32_t reason)
{
	struct vshm_session_out out;
	unsigned int i;
	struct conn *c;
	int ret;

	for (i = 0; i < s->cfg.max_conns; i++) {
		c = &s->conns[i];
		if (c->fd < 0 || vshm_session_revoke(c->sess, grant, reason,
						     &out) != 1)
			continue;
		s->st.revocations++;
		if (out.unmap_err)
			s->st.unmap_errors++;
		report(s, c, &out);
		ret = out.reply_len ? send_msg(c->fd, out.reply, out.reply_len) : 0;
		if (out.reply_len && !ret)
			s->st.revoked_sent++;
		srv_log(s, "cid %u port %u conn %llu region %u: grant %llu revoked (%s)%s%s",
			c->cid, c->port, (unsigned long long)c->id,
			out.region.id, (unsigned long long)grant,
			vshm_revoke_reason_name(reason),
			!out.reply_len ? "" : ret ? ", REVOKED not sent: " :
			", guest told", ret ? strerror(-ret) : "");
		return;
	}
}

/*
 * Reads every pending revocation event (whole events only; the mapper
 * gives nothing else).
 */
static void drain_events(struct vshm_server *s)
{
	struct vshm_revoke_event ev[32];
	ssize_t n, i;

	while (s->events_on) {
		n = read(s->events_fd, ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			srv_log(s, "revocation events of %s: %s: no longer read",
				s->cfg.mapper_path,
				n ? strerror(errno) : "end of file");
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->events_fd, NULL);
			s->events_on = false;
			return;
		}
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++)
			revoked(s, ev[i].grant, ev[i].reason);
		if ((size_t)n < sizeof(ev))
			return;
	}
}

/* The loop */

#define MAX_EVENTS	64

/* Waits up to timeout_ms, then serves what is ready. */
static int serve_ready(struct vshm_server *s, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	bool listener = false;
	int n, i;

	n = epoll_wait(s->epfd, ev, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* Revocations first: on_revoked before what the guest sent next. */
	for (i = 0; i < n; i++)
		if (ev[i].data.u64 == TAG_EVENTS)
			drain_events(s);
	for (i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		struct conn *c;

		if (tag == TAG_LISTEN) {
			listener = true;
			continue;
		}
		if (tag < TAG_CONN || tag - TAG_CONN >= s->cfg.max_conns)
			continue;
		c = &s->conns[tag - TAG_CONN];
		if (c->fd >= 0)
			serve_conn(s, c);
	}
	if (listener)
		accept_one(s);
	return 0;
}

int vshm_server_poll(struct vshm_server *s, int timeout_ms)
{
	return serve_ready(s, timeout_ms);
}

int vshm_server_dispatch(struct vshm_server *s)
{
	return s ? serve_ready(s, 0) : -EINVAL;
}

int vshm_server_fd(const struct vshm_server *s)
{
	return s ? s->epfd : -EINVAL;
}

int vshm_server_run(struct vshm_server *s)
{
	int ret = 0;

	while (!s->stop && !ret)
		ret = vshm_server_poll(s, 1000);
	if (ret)
		srv_log(s, "epoll_wait: %s", strerror(-ret));
	return ret;
}

void vshm_server_stop(struct vshm_server *s)
{
	s->stop = 1;
}

/* Under s->lock: the open connection id, or NULL. */
static struct conn *conn_by_id(struct vshm_server *s, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < s->cfg.max_conns; i++)
		if (s->conns[i].fd >= 0 && s->conns[i].id == id)
			return &s->conns[i];
	return NULL;
}

/* Under s->lock: is region of connection id mapped and announced? */
static bool region_ringable(struct vshm_server *s, uint64_t id,
			    uint32_t region)
{
	struct range *rg;

	for (rg = s->ranges; rg; rg = rg->next)
		if (rg->state == RANGE_MAPPED && rg->announced &&
		    rg->conn_id == id && rg->region == region)
			return true;
	return false;
}

int vshm_server_notify(struct vshm_server *s, uint64_t conn_id,
		       uint32_t region, uint32_t bits)
{
	uint8_t msg[VSHM_NOTIFY_SIZE];
	struct conn *c;
	ssize_t len;
	int ret;

	if (!s || !bits || !region)
		return -EINVAL;
	len = vshm_encode_notify(msg, sizeof(msg), region, bits);
	if (len < 0)
		return (int)len;
	pthread_mutex_lock(&s->lock);
	c = conn_by_id(s, conn_id);
	if (!c)
		ret = -ENOENT;
	else if (!(c->features & VSHM_FEAT_NOTIFY))
		ret = -EOPNOTSUPP;
	else if (!region_ringable(s, conn_id, region))
		ret = -ENOENT;
	else
		ret = send_msg(c->fd, msg, (size_t)len);
	if (!ret)
		s->st.notifies_out++;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

void vshm_server_get_stats(const struct vshm_server *s,
			   struct vshm_server_stats *st)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&s->lock;

	pthread_mutex_lock(lock);
	*st = s->st;
	pthread_mutex_unlock(lock);
}

void vshm_server_free(struct vshm_server *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; s->conns && i < s->cfg.max_conns; i++)
		if (s->conns[i].fd >= 0)
			conn_close(s, &s->conns[i], VSHM_END_SHUTDOWN,
				   "server exit");
	release_all(s);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->events_fd >= 0 && s->events_fd != s->mapper_fd)
		close(s->events_fd);
	if (s->mapper_fd >= 0)
		close(s->mapper_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	pthread_mutex_destroy(&s->lock);
	free(s->conns);
	free(s->buf);
	free(s);
}
