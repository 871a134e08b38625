// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * vsock-shm guest library. See <vsock-shm/guest.h> (the API), vshm_guest.h
 * (what only the tests use) and docs/protocol.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
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
#define NR_HUGEPAGES_PATH	"/proc/sys/vm/nr_hugepages"
/* io_uring takes at most 1 GiB per registered buffer. */
#define PIN_IOV_MAX		(1UL << 30)
/* A received host message is 32 bytes at most; more is a bad message. */
#define REPLY_BUF		64

struct vshm_region {
	struct vshm_guest *g;
	struct vshm_region *next;	/* in g->regions */
	uint32_t id;
	void *ptr;			/* MAP_FAILED if not mapped */
	size_t size;
	uint32_t page_size;
	int ring_fd;			/* io_uring holding the pins, or -1 */
	struct vshm_run *runs;
	size_t nr_runs;
	bool orphan;			/* share failed, host did not confirm */
	struct vshm_region_stats st;
};

struct vshm_guest {
	int fd;
	int pagemap_fd;			/* opened on first use, or -1 */
	int timeout_ms;
	size_t max_msg;
	bool broken;
	uint32_t next_id;
	struct vshm_region *regions;	/* every region holding pages */
	uint8_t *buf;			/* VSHM_MAX_MSG bytes, for sending */
	bool have_error;
	uint32_t err_code;
	uint32_t err_detail;
	char failure[192];
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

static int set_connect_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	return setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv,
			  sizeof(tv));
}

struct vshm_guest *vshm_guest_connect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	int fd, err;

	fd = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	/*
	 * The host shares only from privileged ports by default. Without
	 * CAP_NET_BIND_SERVICE the connection still works (a policy may accept
	 * unprivileged ports; otherwise shares get VSHM_E_PORT).
	 */
	err = vshm_bind_privileged(fd);
	if (err && err != -EACCES) {
		close(fd);
		errno = -err;
		return NULL;
	}
	if (set_connect_timeout(fd, VSHM_GUEST_DEFAULT_TIMEOUT_MS) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		close(fd);
		errno = err;
		return NULL;
	}
	return vshm_guest_from_fd(fd);
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

	if (!g || (!msg && len))
		return -EINVAL;
	do {
		n = send(g->fd, msg, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
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

/* One message; *trunc says whether it was longer than cap. */
static int recv_msg(struct vshm_guest *g, void *buf, size_t cap,
		    int timeout_ms, bool *trunc)
{
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	ssize_t n;
	int ret;

	for (;;) {
		ret = wait_readable(g->fd, deadline);
		if (ret)
			return ret;
		n = recvmsg(g->fd, &mh, MSG_DONTWAIT);
		if (n > 0)
			break;
		if (n == 0)
			return -ECONNRESET;
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
	return recv_msg(g, buf, cap, timeout_ms < 0 ? g->timeout_ms :
			timeout_ms, &trunc);
}

/* The connection can no longer be trusted to be in step with the host. */
static int broken(struct vshm_guest *g, int err)
{
	g->broken = true;
	return err;
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
	set_failure(g, "host answered %s of region %u with ERROR %s (%u), detail %d",
		    what, m->region, vshm_err_name((int)m->error.code),
		    m->error.code, m->error.detail == VSHM_NO_INDEX ? -1 :
		    (int)m->error.detail);
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
 * Sends len bytes of g->buf (a message of region about `what`), waits for
 * the answer and checks it is `want` (or an ERROR for region). Returns 0,
 * -EPROTO (ERROR, recorded) or a negative errno (connection broken).
 */
static int transact(struct vshm_guest *g, size_t len, uint32_t region,
		    uint8_t want, const char *what, struct vshm_msg *m)
{
	uint8_t reply[REPLY_BUF];
	bool trunc = false;
	int ret, n;

	ret = vshm_guest_send_raw(g, g->buf, len);
	if (ret) {
		set_failure(g, "sending %s of region %u: %s", what, region,
			    strerror(-ret));
		return broken(g, ret);
	}
	n = recv_msg(g, reply, sizeof(reply), g->timeout_ms, &trunc);
	if (n < 0) {
		set_failure(g, "waiting for the answer to %s of region %u: %s",
			    what, region, n == -ETIMEDOUT ?
			    "timed out" : strerror(-n));
		return broken(g, n);
	}
	ret = trunc ? VSHM_E_LEN : vshm_decode(reply, (size_t)n, m);
	if (ret) {
		set_failure(g, "invalid answer to %s of region %u: %s", what,
			    region, vshm_err_name(ret));
		return broken(g, -EBADMSG);
	}
	return check_reply(g, m, region, want, what);
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

static int write_long(const char *path, long val)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", val);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, (size_t)len);
	n = n < 0 ? -errno : 0;
	close(fd);
	return (int)n;
}

/* Adds nr huge pages to the kernel's pool. */
static int raise_hugepages(struct vshm_guest *g, long nr)
{
	long cur = 0;
	int ret = read_long(NR_HUGEPAGES_PATH, &cur);

	if (!ret)
		ret = write_long(NR_HUGEPAGES_PATH, cur + nr);
	if (ret)
		set_failure(g, "cannot raise %s by %ld: %s", NR_HUGEPAGES_PATH,
			    nr, strerror(-ret));
	return ret;
}

static void *mmap_anon(size_t size, bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;

	if (huge)
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
	return mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
}

static int map_region(struct vshm_region *r, bool huge)
{
	r->ptr = mmap_anon(r->size, huge);
	if (r->ptr == MAP_FAILED && huge && errno == ENOMEM) {
		int ret = raise_hugepages(r->g,
					  (long)(r->size / VSHM_HUGE_PAGE_SIZE));

		if (ret)
			return ret;
		r->ptr = mmap_anon(r->size, huge);
	}
	if (r->ptr == MAP_FAILED) {
		int err = errno;

		set_failure(r->g, "mmap of %zu bytes%s failed: %s", r->size,
			    huge ? " of 2 MiB pages" : "", strerror(err));
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
		set_failure(r->g, "pinning %zu bytes (io_uring_register BUFFERS, %zu iovecs): %s",
			    r->size, nr, strerror(errno));
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

static bool id_in_use(const struct vshm_guest *g, uint32_t id)
{
	const struct vshm_region *r;

	for (r = g->regions; r; r = r->next)
		if (r->id == id)
			return true;
	return false;
}

static uint32_t alloc_id(struct vshm_guest *g)
{
	uint32_t id;

	do {
		id = g->next_id++;
	} while (!id || id_in_use(g, id));
	return id;
}

static struct vshm_region *region_new(struct vshm_guest *g, size_t size,
				      uint32_t page_size)
{
	struct vshm_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->g = g;
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
	if (r->ptr != MAP_FAILED)
		munmap(r->ptr, r->size);
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
static int prepare_local(struct vshm_region *r, unsigned int flags,
			 vshm_fill_fn fill, void *arg)
{
	uint64_t t;
	int ret;

	ret = map_region(r, flags & VSHM_SHARE_HUGE);
	if (ret)
		return ret;
	touch_pages(r->ptr, r->size);
	if (fill) {
		ret = fill(r->ptr, r->size, r->id, arg);
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
	ret = transact(g, (size_t)len, r->id,
		       c->last ? VSHM_MSG_MAPPED : VSHM_MSG_CHUNK_OK,
		       "GPA_LIST", &m);
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

static int share_args_ok(struct vshm_guest *g, size_t size,
			 unsigned int flags, unsigned int access)
{
	size_t unit = flags & VSHM_SHARE_HUGE ? VSHM_HUGE_PAGE_SIZE :
						VSHM_PAGE_SIZE;

	if (!g || !size || size % unit || (flags & ~VSHM_SHARE_HUGE) ||
	    !access || (access & ~VSHM_ACCESS_MASK) ||
	    size / VSHM_PAGE_SIZE > UINT32_MAX) {
		if (g)
			set_failure(g, "invalid share arguments: size %zu flags %#x access %#x",
				    size, flags, access);
		return -EINVAL;
	}
	if (g->broken) {
		/* Keep g->failure: it names what broke the connection. */
		return -ENOTCONN;
	}
	return 0;
}

struct vshm_region *vshm_share_fill(struct vshm_guest *g, size_t size,
				    unsigned int flags, unsigned int access,
				    vshm_fill_fn fill, void *arg)
{
	struct vshm_region *r;
	int ret = share_args_ok(g, size, flags, access);

	if (ret) {
		errno = -ret;
		return NULL;
	}
	g->failure[0] = '\0';
	r = region_new(g, size, flags & VSHM_SHARE_HUGE ?
			VSHM_HUGE_PAGE_SIZE : VSHM_PAGE_SIZE);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	ret = prepare_local(r, flags, fill, arg);
	if (ret) {
		release_local(r);
		errno = -ret;
		return NULL;
	}
	ret = share_remote(r, access);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	return r;
}

struct vshm_region *vshm_share(struct vshm_guest *g, size_t size,
			       unsigned int flags, unsigned int access)
{
	return vshm_share_fill(g, size, flags, access, NULL, NULL);
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

int vshm_guest_close(struct vshm_guest *g)
{
	int ret;

	if (!g)
		return -EINVAL;
	ret = close_lingering(g->fd, g->timeout_ms);
	/* The module dropped every grant of the connection: unpin. */
	while (g->regions)
		release_local(g->regions);
	if (g->pagemap_fd >= 0)
		close(g->pagemap_fd);
	free(g->buf);
	free(g);
	return ret;
}
