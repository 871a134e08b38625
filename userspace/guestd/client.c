// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The guest daemon's client (guestd.h): requests and their answers over
 * the daemon's UNIX socket, host events queued until the application
 * takes them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guestd_wire.h"
#include "vsock-shm/guestd.h"

/* Events kept while the application does not take them. */
#define EVENTS_MAX	256

struct vshm_guestd {
	int fd;
	uint32_t seq;
	uint64_t features;
	uint32_t code, detail;	/* last ERROR of the host */
	int broken;		/* the daemon went away or spoke nonsense */
	struct vshm_guestd_event ev[EVENTS_MAX];
	unsigned int ev_head, ev_len;
	unsigned int ev_lost;	/* dropped when the queue was full */
	char failure[GUESTD_TEXT];
};

static void fail(struct vshm_guestd *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct vshm_guestd *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->failure, sizeof(d->failure), fmt, ap);
	va_end(ap);
}

static void queue_event(struct vshm_guestd *d, const struct guestd_msg *m)
{
	struct vshm_guestd_event *e;

	if (d->ev_len == EVENTS_MAX) {
		d->ev_lost++;
		return;
	}
	e = &d->ev[(d->ev_head + d->ev_len) % EVENTS_MAX];
	*e = (struct vshm_guestd_event){
		.type = m->event,
		.region = m->region,
		.reason = m->reason,
		.bits = m->bits,
	};
	d->ev_len++;
}

static int send_msg(struct vshm_guestd *d, struct guestd_msg *m, int memfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	m->magic = GUESTD_MAGIC;
	m->version = GUESTD_VERSION;
	m->seq = ++d->seq;
	if (memfd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &memfd, sizeof(int));
	}
	do
		n = sendmsg(d->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		fail(d, "cannot send to the daemon: %s", strerror(errno));
		d->broken = 1;
		return -ENOTCONN;
	}
	return 0;
}

/*
 * Reads one message from the daemon: 1 read, 0 nothing there (nonblocking
 * only), or a negative errno. An event is queued and reported as read.
 */
static int recv_msg(struct vshm_guestd *d, struct guestd_msg *m, int flags)
{
	ssize_t n;

	do
		n = recv(d->fd, m, sizeof(*m), flags);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		fail(d, "the daemon closed the connection");
		d->broken = 1;
		return -ENOTCONN;
	}
	if ((size_t)n != sizeof(*m) || m->magic != GUESTD_MAGIC ||
	    m->version != GUESTD_VERSION ||
	    (m->op != GUESTD_REPLY && m->op != GUESTD_EVENT)) {
		fail(d, "the daemon sent a message of another version or size (%zd bytes)",
		     n);
		d->broken = 1;
		return -EPROTO;
	}
	if (m->op == GUESTD_EVENT)
		queue_event(d, m);
	return 1;
}

/* Sends a request and waits for its answer; events meanwhile are queued. */
static int call(struct vshm_guestd *d, struct guestd_msg *m, int memfd)
{
	uint32_t seq;
	int ret;

	if (d->broken) {
		fail(d, "the connection to the daemon is broken");
		return -ENOTCONN;
	}
	d->failure[0] = '\0';
	ret = send_msg(d, m, memfd);
	if (ret)
		return ret;
	seq = m->seq;
	for (;;) {
		ret = recv_msg(d, m, 0);
		if (ret < 0)
			return ret;
		if (m->op == GUESTD_REPLY && m->seq == seq)
			break;
		if (m->op == GUESTD_REPLY) {
			fail(d, "the daemon answered request %u, not %u",
			     m->seq, seq);
			d->broken = 1;
			return -EPROTO;
		}
	}
	m->text[GUESTD_TEXT - 1] = '\0';
	if (m->err) {
		snprintf(d->failure, sizeof(d->failure), "%s",
			 m->text[0] ? m->text : strerror(-m->err));
		if (m->code) {
			d->code = m->code;
			d->detail = m->detail;
		}
	}
	return m->err;
}

static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct vshm_guestd *vshm_guestd_connect(const char *path, unsigned int cid,
					unsigned int port, int wait_ms)
{
	struct guestd_msg m = { .op = GUESTD_CONNECT };
	struct vshm_guestd *d;
	int fd, ret;

	if (wait_ms < 0) {
		errno = EINVAL;
		return NULL;
	}
	fd = open_socket(path ? path : VSHM_GUESTD_PATH);
	if (fd < 0) {
		/* No daemon at all, or a socket file we may not open. */
		errno = -fd;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	d->fd = fd;
	m.cid = cid;
	m.port = port;
	m.wait_ms = wait_ms;
	ret = call(d, &m, -1);
	if (ret) {
		close(fd);
		free(d);
		errno = -ret;
		return NULL;
	}
	d->features = m.features;
	return d;
}

int vshm_guestd_share(struct vshm_guestd *d, int memfd, uint64_t offset,
		      uint64_t size, unsigned int access, uint64_t cookie,
		      uint32_t *region, uint64_t *grant)
{
	struct guestd_msg m = { .op = GUESTD_SHARE };
	int ret;

	if (!d || !region || memfd < 0)
		return -EINVAL;
	m.offset = offset;
	m.size = size;
	m.access = access;
	m.cookie = cookie;
	ret = call(d, &m, memfd);
	if (ret)
		return ret;
	*region = m.region;
	if (grant)
		*grant = m.grant;
	return 0;
}

int vshm_guestd_free(struct vshm_guestd *d, uint32_t region)
{
	struct guestd_msg m = { .op = GUESTD_FREE, .region = region };

	if (!d)
		return -EINVAL;
	return call(d, &m, -1);
}

int vshm_guestd_notify(struct vshm_guestd *d, uint32_t region, uint32_t bits)
{
	struct guestd_msg m = {
		.op = GUESTD_NOTIFY, .region = region, .bits = bits,
	};

	if (!d || !bits)
		return -EINVAL;
	return call(d, &m, -1);
}

uint64_t vshm_guestd_features(const struct vshm_guestd *d)
{
	return d ? d->features : 0;
}

int vshm_guestd_fd(const struct vshm_guestd *d)
{
	return d ? d->fd : -1;
}

int vshm_guestd_next_event(struct vshm_guestd *d, struct vshm_guestd_event *ev)
{
	struct guestd_msg m;
	int ret;

	if (!d || !ev)
		return -EINVAL;
	while (!d->ev_len && !d->broken) {
		ret = recv_msg(d, &m, MSG_DONTWAIT);
		if (ret <= 0)
			return ret;
		if (m.op == GUESTD_REPLY) {
			/* Nobody asked: the daemon is confused. */
			fail(d, "the daemon answered no request (seq %u)", m.seq);
			d->broken = 1;
			return -EPROTO;
		}
	}
	if (!d->ev_len)
		return -ENOTCONN;
	*ev = d->ev[d->ev_head];
	d->ev_head = (d->ev_head + 1) % EVENTS_MAX;
	d->ev_len--;
	return 1;
}

int vshm_guestd_last_error(const struct vshm_guestd *d, uint32_t *code,
			   uint32_t *detail)
{
	if (!d || !d->code)
		return -ENOENT;
	if (code)
		*code = d->code;
	if (detail)
		*detail = d->detail;
	return 0;
}

const char *vshm_guestd_last_failure(const struct vshm_guestd *d)
{
	return d ? d->failure : "";
}

int vshm_guestd_close(struct vshm_guestd *d)
{
	int ret;

	if (!d)
		return -EINVAL;
	ret = close(d->fd) ? -errno : 0;
	free(d);
	return ret;
}
