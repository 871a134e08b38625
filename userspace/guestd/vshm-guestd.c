// SPDX-License-Identifier: GPL-2.0
/*
 * vshm-guestd: the guest daemon that shares memory for unprivileged guest
 * applications (docs/guestd.md, <vsock-shm/guestd.h>).
 *
 *   vshm-guestd [-s PATH] [-g GROUP] [-t MS] [-r REGIONS] [-b BYTES]
 *               [-c CLIENTS] [-1]
 *
 * Runs as root in the guest. Listens on a UNIX SOCK_SEQPACKET socket
 * (PATH, default /run/vsock-shm/guestd.sock, mode 0660, group GROUP) and
 * serves each client in a thread of its own: root, or a process whose
 * primary or supplementary groups hold GROUP (default: root only). A client
 * names a host server (cid:port) once; the daemon connects to it from a
 * privileged port through the guest library, then shares ranges of the
 * memfds the client passes, frees them, rings doorbells, and forwards the
 * host's events. When the client goes away, everything it shared is freed.
 * -1 serves one client, then exits (tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "guestd_check.h"
#include "guestd_wire.h"
#include "vsock-shm/guest.h"
#include "vsock-shm/guestd.h"

#define MAX_GROUPS	256

static const char *sock_path = VSHM_GUESTD_PATH;
static gid_t allowed_gid;
static int any_group;		/* no -g: root only */
static int timeout_ms = VSHM_GUEST_DEFAULT_TIMEOUT_MS;
static unsigned int max_regions = 64;
static uint64_t max_bytes = 1ULL << 30;
static int one_client;
static unsigned int max_clients = 64;
/* Clients being served; each holds a host connection and a guest port. */
static unsigned int nr_clients;
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
/* The guest library's privileged-port binding is not thread-safe. */
static pthread_mutex_t connect_lock = PTHREAD_MUTEX_INITIALIZER;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vshm-guestd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct held {
	uint32_t id;
	uint64_t size;
	struct vshm_region *r;
};

struct client {
	int fd;
	pid_t pid;
	uid_t uid;
	int denied;		/* a negative errno: answered, then closed */
	int counted;		/* in nr_clients */
	struct vshm_guest *g;
	struct held *held;	/* max_regions entries */
	unsigned int nr_held;
	uint64_t bytes;
};

static int reply(struct client *c, struct guestd_msg *m, int err,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int reply(struct client *c, struct guestd_msg *m, int err,
		 const char *fmt, ...)
{
	va_list ap;

	m->op = GUESTD_REPLY;
	m->err = err;
	m->text[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(m->text, sizeof(m->text), fmt, ap);
		va_end(ap);
	}
	if (send(c->fd, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
		return -errno;
	return 0;
}

static void send_event(struct client *c, uint32_t type, uint32_t region,
		       uint32_t reason, uint32_t bits)
{
	struct guestd_msg m = {
		.magic = GUESTD_MAGIC, .version = GUESTD_VERSION,
		.op = GUESTD_EVENT, .event = type, .region = region,
		.reason = reason, .bits = bits,
	};

	send(c->fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The guest library's events, forwarded to the client. */
static void on_event(struct vshm_guest *g, const struct vshm_guest_event *ev,
		     void *arg)
{
	struct client *c = arg;

	(void)g;
	if (ev->type == VSHM_GUEST_EV_REVOKED)
		send_event(c, VSHM_GUESTD_EV_REVOKED, ev->region, ev->reason, 0);
	else if (ev->type == VSHM_GUEST_EV_NOTIFY)
		send_event(c, VSHM_GUESTD_EV_NOTIFY, ev->region, 0, ev->bits);
}

/* Is the peer root, or in the group this daemon serves? */
static int peer_allowed(int fd, struct client *c)
{
	gid_t groups[MAX_GROUPS];
	socklen_t len = sizeof(struct ucred);
	struct ucred cred;
	size_t i, n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	c->pid = cred.pid;
	c->uid = cred.uid;
	if (cred.uid == 0)
		return 0;
	if (any_group)
		return -EACCES;
	if (cred.gid == allowed_gid)
		return 0;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return -errno;
	n = len / sizeof(gid_t);
	for (i = 0; i < n; i++)
		if (groups[i] == allowed_gid)
			return 0;
	return -EACCES;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static int do_connect(struct client *c, struct guestd_msg *m)
{
	struct vshm_guest_opts o = {
		.cid = m->cid,
		.port = m->port,
		.timeout_ms = timeout_ms,
	};
	struct timespec t0;
	int err;

	if (m->wait_ms < 0)
		return reply(c, m, -EINVAL, "wait_ms below 0");
	/*
	 * Each attempt under the lock (the port binding is not thread-safe),
	 * the waits between them outside it: a client waiting for its
	 * server holds up no other.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pthread_mutex_lock(&connect_lock);
		c->g = vshm_guest_connect_opts(&o);
		err = c->g ? 0 : -errno;
		pthread_mutex_unlock(&connect_lock);
		if (c->g || (err != -ECONNREFUSED && err != -ECONNRESET) ||
		    elapsed_ms(&t0) >= m->wait_ms)
			break;
		usleep(100000);
	}
	if (!c->g)
		return reply(c, m, err, "cannot connect to the host server at %u:%u: %s",
			     m->cid, m->port, strerror(-err));
	vshm_guest_set_event_cb(c->g, on_event, c);
	m->features = vshm_guest_features(c->g);
	logf_("uid %u pid %d: connected to %u:%u (features %#llx)",
	      (unsigned int)c->uid, (int)c->pid, m->cid, m->port,
	      (unsigned long long)m->features);
	return reply(c, m, 0, NULL);
}

static struct held *find_held(struct client *c, uint32_t id)
{
	unsigned int i;

	for (i = 0; i < c->nr_held; i++)
		if (c->held[i].id == id)
			return &c->held[i];
	return NULL;
}

/*
 * Shares the checked range of a client's memfd on the client's connection:
 * the guest library maps it and pins it.
 */
static struct vshm_region *guestd_share(struct vshm_guest *g, int memfd,
					const struct guestd_range *rg,
					unsigned int access, uint64_t cookie)
{
	struct vshm_share_args a = {
		.flags = VSHM_SHARE_MEMFD,
		.memfd = memfd,
		.offset = rg->offset,
		.size = rg->size,
		.access = access,
		.cookie = cookie,
	};

	return vshm_share_ex(g, &a);
}

static int do_share(struct client *c, struct guestd_msg *m, int memfd)
{
	struct guestd_range rg;
	struct vshm_region *r;
	char why[GUESTD_TEXT];
	uint32_t code, detail;
	int err;

	if (memfd < 0)
		return reply(c, m, -EINVAL, "no memfd came with the request");
	if (c->nr_held == max_regions)
		return reply(c, m, -ENOSPC, "this client shares %u regions already (-r)",
			     max_regions);
	if (m->size > max_bytes - c->bytes)
		return reply(c, m, -EDQUOT, "this client may share %llu bytes in all (-b); it shares %llu",
			     (unsigned long long)max_bytes,
			     (unsigned long long)c->bytes);
	err = guestd_check_memfd(memfd, m->offset, m->size, m->access, &rg,
				 why, sizeof(why));
	if (err)
		return reply(c, m, err, "%s", why);
	r = guestd_share(c->g, memfd, &rg, m->access, m->cookie);
	if (!r) {
		err = -errno;
		m->code = 0;
		if (!vshm_guest_last_error(c->g, &code, &detail)) {
			m->code = code;
			m->detail = detail;
		}
		return reply(c, m, err, "%s", vshm_guest_last_failure(c->g));
	}
	c->held[c->nr_held++] = (struct held){
		.id = vshm_region_id(r), .size = m->size, .r = r,
	};
	c->bytes += m->size;
	m->region = vshm_region_id(r);
	m->grant = vshm_region_stats(r)->grant;
	logf_("uid %u pid %d: shared region %u (%llu bytes)",
	      (unsigned int)c->uid, (int)c->pid, m->region,
	      (unsigned long long)m->size);
	return reply(c, m, 0, NULL);
}

static int do_free(struct client *c, struct guestd_msg *m)
{
	struct held *h = find_held(c, m->region);
	int err;

	if (!h)
		return reply(c, m, -ENOENT, "region %u is not one of this client's",
			     m->region);
	err = vshm_free(h->r);
	if (err)
		return reply(c, m, err, "%s", vshm_guest_last_failure(c->g));
	c->bytes -= h->size;
	*h = c->held[--c->nr_held];
	return reply(c, m, 0, NULL);
}

static int do_notify(struct client *c, struct guestd_msg *m)
{
	struct held *h = find_held(c, m->region);
	int err;

	if (!h)
		return reply(c, m, -ENOENT, "region %u is not one of this client's",
			     m->region);
	err = vshm_region_notify(h->r, m->bits);
	return reply(c, m, err, err ? "%s" : NULL, strerror(-err));
}

/*
 * Reads one request, with the memfd a SHARE carries. Returns 1, 0 when the
 * client went away, or a negative errno.
 */
static int read_request(struct client *c, struct guestd_msg *m, int *memfd)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	*memfd = -1;
	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfd, i;
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			if (*memfd < 0)
				*memfd = fd;
			else
				close(fd);	/* one per request */
		}
	}
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    m->magic != GUESTD_MAGIC || m->version != GUESTD_VERSION)
		return -EPROTO;
	return 1;
}

static int handle(struct client *c, struct guestd_msg *m, int memfd)
{
	if (c->denied == -EUSERS) {
		reply(c, m, c->denied, "the daemon serves %u clients already (-c)",
		      max_clients);
		return c->denied;
	}
	if (c->denied) {
		reply(c, m, c->denied, "uid %u is neither root nor in the group vshm-guestd serves",
		      (unsigned int)c->uid);
		return c->denied;
	}
	if (m->op == GUESTD_CONNECT) {
		if (c->g)
			return reply(c, m, -EISCONN, "connected already");
		return do_connect(c, m);
	}
	if (!c->g)
		return reply(c, m, -ENOTCONN, "connect first");
	switch (m->op) {
	case GUESTD_SHARE:
		return do_share(c, m, memfd);
	case GUESTD_FREE:
		return do_free(c, m);
	case GUESTD_NOTIFY:
		return do_notify(c, m);
	default:
		return reply(c, m, -EOPNOTSUPP, "unknown request %u", m->op);
	}
}

/* A refused client: its first request, if it comes soon, gets why. */
static void refuse(struct client *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	struct guestd_msg m;
	int memfd = -1;

	if (poll(&p, 1, 2000) == 1 && read_request(c, &m, &memfd) > 0)
		handle(c, &m, memfd);
	if (memfd >= 0)
		close(memfd);
}

static void *serve(void *arg)
{
	struct client *c = arg;
	struct guestd_msg m;
	int memfd, ret;

	for (;;) {
		if (c->denied) {
			refuse(c);
			break;
		}
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = c->g ? vshm_guest_fd(c->g) : -1, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents && vshm_guest_dispatch(c->g) < 0 &&
		    !(p[0].revents & POLLIN)) {
			logf_("uid %u pid %d: the host connection failed: %s",
			      (unsigned int)c->uid, (int)c->pid,
			      vshm_guest_last_failure(c->g));
			break;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ret = read_request(c, &m, &memfd);
		if (ret == -EAGAIN)
			continue;
		if (ret <= 0) {
			if (ret < 0)
				logf_("uid %u pid %d: bad request: %s",
				      (unsigned int)c->uid, (int)c->pid,
				      strerror(-ret));
			break;
		}
		ret = handle(c, &m, memfd);
		if (memfd >= 0)
			close(memfd);
		/* Events that came while the host was asked. */
		if (c->g)
			vshm_guest_dispatch(c->g);
		if (ret)
			break;
	}
	if (c->g)
		vshm_guest_close(c->g);	/* frees all it shared */
	close(c->fd);
	if (c->counted) {
		pthread_mutex_lock(&clients_lock);
		nr_clients--;
		pthread_mutex_unlock(&clients_lock);
	}
	free(c->held);
	free(c);
	return NULL;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		logf_("%s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	/* Its directory and the ones above, as mkdir -p. */
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (slash = dir + 1; ; slash++) {
			char c = *slash;

			if (c != '/' && c != '\0')
				continue;
			*slash = '\0';
			if (mkdir(dir, 0755) && errno != EEXIST) {
				logf_("%s: %s", dir, strerror(errno));
				return -1;
			}
			*slash = c;
			if (!c)
				break;
		}
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chown(path, 0, any_group ? 0 : allowed_gid) || chmod(path, 0660) ||
	    listen(fd, 16)) {
		logf_("%s: %s", path, strerror(errno));
		return -1;
	}
	return fd;
}

static int parse_group(const char *s)
{
	struct group *gr;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!errno && *s && !*end) {
		allowed_gid = (gid_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -1;
	allowed_gid = gr->gr_gid;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vshm-guestd [-s PATH] [-g GROUP] [-t MS] [-r REGIONS] [-b BYTES] [-c CLIENTS] [-1]\n"
		"  -s PATH     socket (default %s)\n"
		"  -g GROUP    also serve members of GROUP (name or number; default: root only)\n"
		"  -t MS       the host's answer timeout (default %d)\n"
		"  -r REGIONS  regions one client may share at once (default 64)\n"
		"  -b BYTES    bytes one client may share at once (default 1 GiB)\n"
		"  -c CLIENTS  clients served at once (default 64; each holds a guest port below 1024)\n"
		"  -1          serve one client, then exit\n",
		VSHM_GUESTD_PATH, VSHM_GUEST_DEFAULT_TIMEOUT_MS);
}

int main(int argc, char **argv)
{
	int lfd, opt, full;

	any_group = 1;
	while ((opt = getopt(argc, argv, "s:g:t:r:b:c:1h")) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'g':
			if (parse_group(optarg)) {
				logf_("-g %s: no such group", optarg);
				return 1;
			}
			any_group = 0;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 'r':
			max_regions = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'b':
			max_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			max_clients = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case '1':
			one_client = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (timeout_ms <= 0 || !max_regions || !max_bytes || !max_clients) {
		usage(stderr);
		return 1;
	}
	if (geteuid()) {
		logf_("must run as root (it reads physical addresses)");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_on(sock_path);
	if (lfd < 0)
		return 1;
	logf_("listening on %s", sock_path);
	for (;;) {
		struct client *c;
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		int err;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			logf_("accept: %s", strerror(errno));
			return 1;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->held = calloc(max_regions, sizeof(*c->held));
		if (!c || !c->held) {
			if (c)
				free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		pthread_mutex_lock(&clients_lock);
		full = nr_clients >= max_clients;
		if (!full)
			nr_clients++;
		pthread_mutex_unlock(&clients_lock);
		err = full ? -EUSERS : peer_allowed(fd, c);
		c->counted = !full;
		if (full)
			logf_("a client refused: %u clients served already (-c)",
			      max_clients);
		else if (err)
			logf_("uid %u pid %d refused: %s", (unsigned int)c->uid,
			      (int)c->pid, strerror(-err));
		/* Its first request gets the refusal, then it ends. */
		c->denied = err;
		if (one_client) {
			serve(c);
			return 0;
		}
		if (pthread_create(&t, NULL, serve, c)) {
			logf_("cannot start a thread for a client: %s",
			      strerror(errno));
			if (c->counted) {
				pthread_mutex_lock(&clients_lock);
				nr_clients--;
				pthread_mutex_unlock(&clients_lock);
			}
			close(fd);
			free(c->held);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}
