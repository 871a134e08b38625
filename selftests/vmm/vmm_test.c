// SPDX-License-Identifier: GPL-2.0
/*
 * vmm_test: vhost_vsock_shm driven by a VMM of our own (vring_vm.c): a KVM
 * VM without vCPUs whose "guest" is this program, speaking virtio-vsock on
 * the device's virtqueues itself. That lets a test do what no real guest
 * can: change the VM's memslots or the device's memory table under a live
 * grant, hand the module fragmented or impossible lists, or kill the VMM
 * at a chosen moment, and look at the pins and at the server's mapping.
 *
 * Each test forks a host server (a small one, below) that listens on
 * AF_VSOCK SOCK_SEQPACKET and answers the protocol as vshm-server does,
 * mapping grants through /dev/vsock-shm-mapper. The test talks to it over a
 * control socket to make it touch its mapping (SIGBUS or data) and reads
 * what it saw from shared memory. After each test the host's pins are back
 * where they were: /proc/vmstat nr_foll_pin_acquired - nr_foll_pin_released
 * and the module's pages_pinned = pages_unpinned.
 *
 * Runs as root in L1 with vhost_vsock_shm, vsock_shm_mapper and the default
 * policy loaded (selftests/vmm/run.sh). The mem_table tests swap to the
 * iotlb policy with $VSHM_CTL (vsock-shmctl) and back to default.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/vm_sockets.h>

#include "pattern.h"
#include "proto.h"
#include "vring_vm.h"
#include "kselftest_harness.h"

#define STATS_PATH	"/sys/kernel/debug/vhost_vsock_shm/stats"
#define GRANTS_PATH	"/sys/kernel/debug/vhost_vsock_shm/grants"
#define MAPPER_PATH	"/dev/vsock-shm-mapper"

#define PAGE		4096ULL
#define SEED		VSHM_PATTERN_DEFAULT_SEED
#define REGION		7
#define PORT_BASE	7300
#define RECV_MS		15000	/* TCG is slow */
#define REVOKE_MS	5000	/* "within a few seconds" */
#define TEST_SECS	180

/* GPAs outside slots 0 and 1 that tests put extra slots at. */
#define SLOT2_GPA	(48 * VM_MIB)
#define SLOT3_GPA	(64 * VM_MIB)
#define MOVED_GPA	(96 * VM_MIB)
#define NOWHERE_GPA	(128 * VM_MIB)
#define EXTRA_SIZE	VM_MIB

/* ---- host state: pins, module counters, grants ---- */

static long vmstat(const char *key)
{
	char name[64];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	fclose(f);
	return found;
}

/*
 * FOLL_PIN pins held on the whole host now. The counters are per CPU with
 * a deferred fold into /proc/vmstat: fold them first, or a reading is off
 * by up to a per-CPU threshold.
 */
static long host_pins(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			fprintf(stderr, "# stat_refresh: %s\n", strerror(errno));
		close(fd);
	}
	return vmstat("nr_foll_pin_acquired") - vmstat("nr_foll_pin_released");
}

/* A counter of the module's stats file, or -1 if it has none of that name. */
static long long mod_stat(const char *key)
{
	char name[96];
	long long v, found = -1;
	FILE *f = fopen(STATS_PATH, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%95s %lld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	fclose(f);
	return found;
}

/* Is grant @id in the module's table of live grants? */
static bool grant_listed(uint64_t id)
{
	unsigned long long gid;
	char line[256];
	bool found = false;
	FILE *f = fopen(GRANTS_PATH, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llu", &gid) == 1 && gid == id)
			found = true;
	fclose(f);
	return found;
}

static bool pins_at(long base)
{
	return host_pins() == base &&
	       mod_stat("pages_pinned") == mod_stat("pages_unpinned");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls @cond every 20 ms for up to @ms; returns its last value. */
#define WAIT_FOR(cond, ms) ({						\
	int64_t __end = now_ms() + (ms);				\
	bool __ok;							\
	while (!(__ok = (cond)) && now_ms() < __end)			\
		usleep(20000);						\
	__ok;								\
})

/* ---- the host server, in a child process ---- */

enum { CTL_PROBE = 1, CTL_WRITER_START, CTL_QUIT };
enum { PROBE_DATA, PROBE_SIGBUS, PROBE_NOMAP };
enum { WRITER_NONE, WRITER_RUNNING, WRITER_SIGBUS, WRITER_STOPPED };

struct ctl_req {
	int op;
	uint64_t arg;
};

struct ctl_rep {
	int status;
	uint64_t value;
};

/* What the server saw, in memory shared with the test. */
struct srv_shared {
	volatile int ready;		/* listening */
	volatile int conns;		/* connections accepted */
	volatile int conn_ended;	/* the last one ended */
	volatile int refused;		/* REFUSED lists received */
	volatile int refused_code;	/* status of the last one */
	volatile uint32_t refused_detail; /* its extent index */
	volatile int mapped;		/* the region is mapped now */
	volatile uint64_t grant;	/* of the last HPA_LIST */
	volatile int map_errno;		/* of a failed MAP_GRANT or mmap */
	volatile int pattern_bad;	/* the guest's pattern did not check */
	volatile int frees;		/* FREE received */
	volatile int free_probe;	/* PROBE_* of the mapping at FREE */
	volatile int unexpected;	/* messages it did not expect */
	volatile long writes;		/* writer loop iterations */
	volatile int writer;		/* WRITER_* */
};

struct server {
	pid_t pid;
	int ctl;			/* test's end of the control socket */
	struct srv_shared *sh;
};

/* Server-side state, in the child only. */
struct srv {
	struct srv_shared *sh;
	int ls, conn, ctl, mapper;
	unsigned char *map;
	uint64_t map_size;
	uint64_t grant;
	uint32_t region;
	pthread_t writer;
	bool writer_joinable;
	volatile int writer_stop;
	unsigned char buf[VSHM_MAX_MSG];
};

static __thread sigjmp_buf fault_jb;
static __thread volatile sig_atomic_t fault_armed;

/* SIGBUS on a revoked mapping: back to the thread that armed it. */
static void on_sigbus(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jb, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads the u64 at @off of the mapping: PROBE_DATA with *v, or PROBE_*. */
static int srv_probe(struct srv *s, uint64_t off, uint64_t *v)
{
	volatile uint64_t *p;

	if (!s->map || off + 8 > s->map_size)
		return PROBE_NOMAP;
	p = (volatile uint64_t *)(s->map + off);
	if (sigsetjmp(fault_jb, 1))
		return PROBE_SIGBUS;
	fault_armed = 1;
	*v = *p;
	fault_armed = 0;
	return PROBE_DATA;
}

/* Writes through the mapping until revoked (SIGBUS) or told to stop. */
static void *srv_writer(void *arg)
{
	struct srv *s = arg;
	uint64_t pages = s->map_size / PAGE;
	volatile uint64_t i = 0;

	if (sigsetjmp(fault_jb, 1)) {
		s->sh->writer = WRITER_SIGBUS;
		return NULL;
	}
	fault_armed = 1;
	while (!__atomic_load_n(&s->writer_stop, __ATOMIC_ACQUIRE)) {
		*(volatile uint64_t *)(s->map + (i % pages) * PAGE + 8) = i;
		i = i + 1;
		s->sh->writes = (long)i;
	}
	fault_armed = 0;
	s->sh->writer = WRITER_STOPPED;
	return NULL;
}

static void srv_writer_stop(struct srv *s)
{
	if (!s->writer_joinable)
		return;
	__atomic_store_n(&s->writer_stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->writer, NULL);
	s->writer_joinable = false;
	if (s->sh->writer == WRITER_RUNNING)
		s->sh->writer = WRITER_STOPPED;
}

static void srv_unmap(struct srv *s)
{
	struct vshm_unmap_req u = { .grant = s->grant };

	srv_writer_stop(s);
	if (s->map)
		munmap(s->map, s->map_size);
	s->map = NULL;
	s->sh->mapped = 0;
	if (s->grant)
		ioctl(s->mapper, VSHM_IOC_UNMAP_GRANT, &u);
	s->grant = 0;
}

static void srv_reply(struct srv *s, ssize_t n)
{
	if (n > 0 && s->conn >= 0)
		send(s->conn, s->buf, (size_t)n, 0);
}

/* The last chunk: map the grant, check the guest's pattern, mark ours. */
static void srv_map(struct srv *s, const struct vshm_msg *m)
{
	struct vshm_map_req req = { .sock_fd = s->conn, .grant = m->list.grant };
	struct vshm_pattern_bad bad;
	void *p;

	if (ioctl(s->mapper, VSHM_IOC_MAP_GRANT, &req)) {
		s->sh->map_errno = errno;
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), m->region,
					       VSHM_E_INTERNAL, VSHM_NO_INDEX,
					       VSHM_MSG_GPA_LIST));
		return;
	}
	s->grant = m->list.grant;
	p = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED, s->mapper,
		 (off_t)req.offset);
	if (p == MAP_FAILED) {
		s->sh->map_errno = errno;
		srv_unmap(s);
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), m->region,
					       VSHM_E_INTERNAL, VSHM_NO_INDEX,
					       VSHM_MSG_GPA_LIST));
		return;
	}
	s->map = p;
	s->map_size = req.size;
	s->region = m->region;
	s->sh->grant = m->list.grant;
	s->sh->mapped = 1;
	if (vshm_pattern_check(p, req.size, SEED, m->region, &bad)) {
		s->sh->pattern_bad = 1;
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), m->region,
					       VSHM_E_DENIED, VSHM_NO_INDEX,
					       VSHM_MSG_GPA_LIST));
		return;
	}
	vshm_pattern_mark(p, req.size, SEED, m->region);
	srv_reply(s, vshm_encode_mapped(s->buf, sizeof(s->buf), m->region,
					m->list.grant, req.nr_pages));
}

/* FREE: the module revoked before we read it; the mapping must fault. */
static void srv_free(struct srv *s, uint32_t region)
{
	uint64_t v;

	s->sh->frees++;
	srv_writer_stop(s);
	s->sh->free_probe = srv_probe(s, 0, &v);
	srv_unmap(s);
	srv_reply(s, vshm_encode_freed(s->buf, sizeof(s->buf), region));
}

/* One message from the guest (through the module), one answer. */
static void srv_message(struct srv *s, size_t n)
{
	struct vshm_msg m;
	int err = vshm_decode(s->buf, n, &m);

	if (err) {
		s->sh->unexpected++;
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), 0,
					       (uint32_t)err, VSHM_NO_INDEX, m.type));
		return;
	}
	switch (m.type) {
	case VSHM_MSG_ALLOC:
		srv_reply(s, vshm_encode_alloc_ok(s->buf, sizeof(s->buf), m.region));
		break;
	case VSHM_MSG_HPA_LIST:
		s->sh->grant = m.list.grant;
		if (!m.list.last)
			srv_reply(s, vshm_encode_chunk_ok(s->buf, sizeof(s->buf),
							  m.region, m.list.first_page,
							  m.list.nr_pages));
		else
			srv_map(s, &m);
		break;
	case VSHM_MSG_REFUSED:
		s->sh->refused_code = (int)m.list.status;
		s->sh->refused_detail = m.list.detail;
		s->sh->refused++;
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), m.region,
					       m.list.status, m.list.detail,
					       VSHM_MSG_GPA_LIST));
		break;
	case VSHM_MSG_GPA_LIST:
		/* Untranslated: no policy took it. */
		s->sh->unexpected++;
		srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), m.region,
					       VSHM_E_NOPOLICY, VSHM_NO_INDEX,
					       VSHM_MSG_GPA_LIST));
		break;
	case VSHM_MSG_FREE:
		srv_free(s, m.region);
		break;
	default:
		s->sh->unexpected++;
		break;
	}
}

/*
 * The connection ended (the guest's RST or SHUTDOWN, or the VM went away).
 * Unlike vshm-server we keep the mapping: the test probes it afterwards.
 */
static void srv_conn_end(struct srv *s)
{
	srv_writer_stop(s);
	close(s->conn);
	s->conn = -1;
	s->sh->conn_ended = 1;
}

/* A request of the test; returns false on CTL_QUIT or a closed socket. */
static bool srv_control(struct srv *s)
{
	struct ctl_req req;
	struct ctl_rep rep = { 0 };

	if (recv(s->ctl, &req, sizeof(req), 0) != sizeof(req))
		return false;
	switch (req.op) {
	case CTL_PROBE:
		rep.status = srv_probe(s, req.arg, &rep.value);
		break;
	case CTL_WRITER_START:
		rep.status = -EINVAL;
		if (s->map && s->sh->writer == WRITER_NONE) {
			s->sh->writer = WRITER_RUNNING;
			s->writer_stop = 0;
			rep.status = -pthread_create(&s->writer, NULL, srv_writer, s);
			if (rep.status)
				s->sh->writer = WRITER_NONE;
			else
				s->writer_joinable = true;
		}
		break;
	default:
		return false;
	}
	return send(s->ctl, &rep, sizeof(rep), 0) == sizeof(rep);
}

static void srv_loop(struct srv *s)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->ctl, .events = POLLIN },
			{ .fd = s->conn >= 0 ? s->conn : s->ls, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents && !srv_control(s))
			return;
		if (!pfd[1].revents)
			continue;
		if (s->conn < 0) {
			s->conn = accept4(s->ls, NULL, NULL, SOCK_CLOEXEC);
			if (s->conn >= 0) {
				s->sh->conns++;
				s->sh->conn_ended = 0;
			}
			continue;
		}
		n = recv(s->conn, s->buf, sizeof(s->buf), 0);
		if (n <= 0)
			srv_conn_end(s);
		else
			srv_message(s, (size_t)n);
	}
}

static void __attribute__((noreturn))
srv_main(struct srv_shared *sh, int ctl, uint32_t port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port,
	};
	struct sigaction act = { .sa_handler = on_sigbus, .sa_flags = SA_NODEFER };
	static struct srv s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGBUS, &act, NULL);
	s.sh = sh;
	s.ctl = ctl;
	s.conn = -1;
	s.mapper = open(MAPPER_PATH, O_RDWR | O_CLOEXEC);
	s.ls = socket(AF_VSOCK, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s.mapper < 0 || s.ls < 0 ||
	    bind(s.ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(s.ls, 4)) {
		perror("# server: setup");
		_exit(1);
	}
	sh->ready = 1;
	srv_loop(&s);
	srv_unmap(&s);
	_exit(0);
}

static int server_start(struct server *srv, uint32_t port)
{
	int sv[2];

	srv->sh = mmap(NULL, sizeof(*srv->sh), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv->sh == MAP_FAILED)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL);
	srv->pid = fork();
	if (srv->pid < 0)
		return -errno;
	if (srv->pid == 0) {
		close(sv[0]);
		srv_main(srv->sh, sv[1], port);
	}
	close(sv[1]);
	srv->ctl = sv[0];
	return WAIT_FOR(srv->sh->ready, 5000) ? 0 : -ETIMEDOUT;
}

static int server_call(struct server *srv, int op, uint64_t arg,
		       struct ctl_rep *rep)
{
	struct ctl_req req = { .op = op, .arg = arg };
	struct pollfd pfd = { .fd = srv->ctl, .events = POLLIN };

	if (send(srv->ctl, &req, sizeof(req), 0) != sizeof(req))
		return -EPIPE;
	if (poll(&pfd, 1, RECV_MS) != 1)
		return -ETIMEDOUT;
	return recv(srv->ctl, rep, sizeof(*rep), 0) == sizeof(*rep) ? 0 : -EPIPE;
}

/* The server reads the u64 at byte @off of its mapping: PROBE_*. */
static int server_probe(struct server *srv, uint64_t off, uint64_t *v)
{
	struct ctl_rep rep;

	if (server_call(srv, CTL_PROBE, off, &rep))
		return -1;
	*v = rep.value;
	return rep.status;
}

static void server_stop(struct server *srv)
{
	struct ctl_req req = { .op = CTL_QUIT };

	if (srv->pid > 0) {
		if (send(srv->ctl, &req, sizeof(req), 0) != sizeof(req) ||
		    !WAIT_FOR(waitpid(srv->pid, NULL, WNOHANG) == srv->pid, 5000)) {
			kill(srv->pid, SIGKILL);
			waitpid(srv->pid, NULL, 0);
		}
	}
	srv->pid = 0;
	if (srv->ctl > 0)
		close(srv->ctl);
	srv->ctl = -1;
}

/* ---- the guest's side of the protocol ---- */

/* A region as the guest shares it: runs of GPAs, in page order. */
struct share {
	uint32_t region;
	unsigned int n;
	struct vshm_run runs[4];
	uint32_t total;
};

static uint32_t share_pages(const struct share *sh)
{
	uint32_t total = 0;
	unsigned int i;

	for (i = 0; i < sh->n; i++)
		total += sh->runs[i].npages;
	return total;
}

/* Host address of byte @off of the region, through the VM's memslots. */
static uint64_t *share_word(struct vring_vm *vm, const struct share *sh,
			    uint64_t off)
{
	uint64_t base = 0;
	unsigned int i;

	for (i = 0; i < sh->n; i++) {
		uint64_t len = sh->runs[i].npages * PAGE;

		if (off < base + len)
			return vm_gpa_to_hva(vm, sh->runs[i].addr + off - base);
		base += len;
	}
	return NULL;
}

/* The guest's pattern, word by word (the region is not contiguous). */
static int share_fill(struct vring_vm *vm, const struct share *sh)
{
	uint64_t off, size = share_pages(sh) * PAGE;

	for (off = 0; off < size; off += 8) {
		uint64_t *w = share_word(vm, sh, off);

		if (!w)
			return -EFAULT;
		*w = vshm_pattern_word(SEED, sh->region, off);
	}
	return 0;
}

/* After MAPPED: the server complemented the first word of every page. */
static int share_check_marked(struct vring_vm *vm, const struct share *sh)
{
	uint64_t off, size = share_pages(sh) * PAGE;

	for (off = 0; off < size; off += 8) {
		uint64_t want = vshm_pattern_word(SEED, sh->region, off);
		uint64_t *w = share_word(vm, sh, off);

		if (off % PAGE == 0)
			want = ~want;
		if (!w || *w != want) {
			fprintf(stderr, "# guest: word at %#llx is %#llx, want %#llx\n",
				(unsigned long long)off,
				w ? (unsigned long long)*w : 0ULL,
				(unsigned long long)want);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Receives one message and decodes it; 0 or -errno / positive vshm_err. */
static int guest_recv(struct vring_vm *vm, struct vshm_msg *m)
{
	static unsigned char buf[VSHM_MAX_MSG];
	ssize_t n = vm_recv(vm, buf, sizeof(buf), RECV_MS);

	if (n < 0)
		return (int)n;
	return vshm_decode(buf, (size_t)n, m);
}

/* ALLOC and its ALLOC_OK. */
static int guest_alloc(struct vring_vm *vm, const struct share *sh)
{
	unsigned char buf[64];
	struct vshm_msg m;
	ssize_t n;
	int ret;

	n = vshm_encode_alloc(buf, sizeof(buf), sh->region,
			      share_pages(sh) * PAGE, VSHM_PAGE_SIZE,
			      VSHM_ACCESS_READ | VSHM_ACCESS_WRITE);
	if (n < 0)
		return (int)n;
	ret = vm_send(vm, buf, (size_t)n);
	if (!ret)
		ret = guest_recv(vm, &m);
	if (!ret && (m.type != VSHM_MSG_ALLOC_OK || m.region != sh->region))
		ret = -EPROTO;
	return ret;
}

/*
 * Shares @sh in one GPA_LIST (split over two packets after its first
 * extent if @split) and returns the answer in *ans.
 */
static int guest_share(struct vring_vm *vm, const struct share *sh,
		       bool split, struct vshm_msg *ans)
{
	static unsigned char buf[VSHM_MAX_MSG];
	ssize_t n;
	int ret;

	ret = guest_alloc(vm, sh);
	if (ret)
		return ret;
	n = vshm_encode_gpa_list(buf, sizeof(buf), sh->region, 0, share_pages(sh),
				 sh->runs, sh->n);
	if (n < 0)
		return (int)n;
	if (split)
		ret = vm_send_split(vm, buf, (size_t)n, VSHM_GPA_LIST_SIZE(1));
	else
		ret = vm_send(vm, buf, (size_t)n);
	return ret ? ret : guest_recv(vm, ans);
}

/* FREE; returns the type of the answer, or -errno. */
static int guest_free(struct vring_vm *vm, uint32_t region)
{
	unsigned char buf[64];
	struct vshm_msg m;
	ssize_t n;
	int ret;

	n = vshm_encode_free(buf, sizeof(buf), region);
	if (n < 0)
		return (int)n;
	ret = vm_send(vm, buf, (size_t)n);
	if (!ret)
		ret = guest_recv(vm, &m);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	return m.type;
}

/* The region most tests share: 64 pages of slot 1 in two extents. */
static void two_extents(struct share *sh)
{
	*sh = (struct share){
		.region = REGION,
		.n = 2,
		.runs = {
			{ VM_SLOT1_GPA + 64 * 1024, 32 },
			{ VM_SLOT1_GPA + 1 * VM_MIB, 32 },
		},
	};
}

/* A region of @npages at @gpa. */
static void one_extent(struct share *sh, uint64_t gpa, uint32_t npages)
{
	*sh = (struct share){
		.region = REGION, .n = 1, .runs = { { gpa, npages } },
	};
}

/* Guest CID: unique among the devices that may be open at once. */
static uint64_t test_cid(void)
{
	return 0x10000 + (uint64_t)getpid();
}

static void *map_extra(void)
{
	void *p = mmap(NULL, EXTRA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x11, EXTRA_SIZE);
	return p;
}

static int run_ctl(const char *what)
{
	const char *ctl = getenv("VSHM_CTL");
	char cmd[512];

	if (!ctl)
		return -ENOENT;
	snprintf(cmd, sizeof(cmd), "%s %s > /dev/null", ctl, what);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* ---- the fixture ---- */

FIXTURE(vmm) {
	long base_pins;
	uint32_t port;
	struct server srv;
	struct vring_vm vm;
	bool vm_up;
	pid_t vmm_pid;		/* vmm_killed_revokes: the VMM child */
	bool iotlb;		/* the iotlb policy was swapped in */
	struct share sh;
	uint64_t grant;
};

FIXTURE_SETUP(vmm)
{
	self->srv.ctl = -1;
	self->base_pins = host_pins();
	ASSERT_LE(0, self->base_pins);
	ASSERT_EQ(mod_stat("pages_pinned"), mod_stat("pages_unpinned")) {
		TH_LOG("pages still pinned from an earlier test");
	}
	self->port = PORT_BASE + (uint32_t)getpid() % 1000;
	/* The server first: it must not inherit the VM's fds. */
	ASSERT_EQ(0, server_start(&self->srv, self->port));
}

FIXTURE_TEARDOWN(vmm)
{
	if (self->vm_up)
		vm_destroy(&self->vm);
	self->vm_up = false;
	if (self->vmm_pid > 0) {
		kill(self->vmm_pid, SIGKILL);
		waitpid(self->vmm_pid, NULL, 0);
	}
	server_stop(&self->srv);
	if (self->iotlb && run_ctl("policy swap default"))
		TH_LOG("could not swap the default policy back");
}

/*
 * Creates the VM (this process is its VMM) with its RAM from @backing and
 * connects to the server.
 */
static int start_vm_backed(FIXTURE_DATA(vmm) *self,
			   enum vm_ram_backing backing)
{
	int ret = vm_create_backed(&self->vm, test_cid(), backing);

	if (ret) {
		fprintf(stderr, "# VM RAM: %s%s\n", strerror(-ret),
			backing == VM_RAM_HUGETLB ?
			" (needs 16 free 2 MiB pages: vm.nr_hugepages)" : "");
		return ret;
	}
	self->vm_up = true;
	return vm_connect(&self->vm, self->port, RECV_MS);
}

static int start_vm(FIXTURE_DATA(vmm) *self)
{
	return start_vm_backed(self, VM_RAM_ANON);
}

/* Shares @self->sh and expects MAPPED with the server's marks. */
static int share_mapped(FIXTURE_DATA(vmm) *self)
{
	struct vshm_msg m;
	int ret;

	ret = share_fill(&self->vm, &self->sh);
	if (!ret)
		ret = guest_share(&self->vm, &self->sh, false, &m);
	if (ret)
		return ret;
	if (m.type != VSHM_MSG_MAPPED) {
		fprintf(stderr, "# guest: answer %s, code %s\n",
			vshm_msg_type_name(m.type),
			m.type == VSHM_MSG_ERROR ? vshm_err_name(m.error.code) : "-");
		return -EPROTO;
	}
	if (m.mapped.nr_pages != share_pages(&self->sh) || !m.mapped.grant)
		return -EPROTO;
	self->grant = m.mapped.grant;
	return share_check_marked(&self->vm, &self->sh);
}

/* Shares @sh and returns the ERROR code it was answered with, or -errno. */
static int share_refused(FIXTURE_DATA(vmm) *self, bool split)
{
	struct vshm_msg m;
	int ret;

	ret = guest_share(&self->vm, &self->sh, split, &m);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	if (m.type != VSHM_MSG_ERROR)
		return -EPROTO;
	return (int)m.error.code;
}

/* The server's view of page 0's first word: marked by it, or SIGBUS. */
static int probe_first(FIXTURE_DATA(vmm) *self)
{
	uint64_t v = 0;
	int r = server_probe(&self->srv, 0, &v);

	if (r == PROBE_DATA && v != ~vshm_pattern_word(SEED, self->sh.region, 0))
		return -EBADMSG;	/* stale or foreign data */
	return r;
}

/* Revoked, the way a guest's FREE revokes: gone, SIGBUS, pins back. */
static void expect_revoked(struct __test_metadata *_metadata,
			   FIXTURE_DATA(vmm) *self, long long revoked0)
{
	ASSERT_TRUE(WAIT_FOR(!grant_listed(self->grant), REVOKE_MS)) {
		TH_LOG("grant %llu still live after %d ms",
		       (unsigned long long)self->grant, REVOKE_MS);
	}
	/* The id goes first; the count when the revocation is done. */
	EXPECT_TRUE(WAIT_FOR(mod_stat("grants_revoked") > revoked0, REVOKE_MS)) {
		TH_LOG("grants_revoked still %lld", revoked0);
	}
	EXPECT_EQ(PROBE_SIGBUS, probe_first(self));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS)) {
		TH_LOG("pins %ld, base %ld", host_pins(), self->base_pins);
	}
}

/* The grant outlived a recheck: listed, mapped, sees the guest's writes. */
static void expect_kept(struct __test_metadata *_metadata,
			FIXTURE_DATA(vmm) *self, long long revoked0,
			long long rechecked0)
{
	uint64_t *w, v = 0;

	ASSERT_LE(0, rechecked0) {
		TH_LOG("the module has no grants_rechecked counter");
	}
	ASSERT_TRUE(WAIT_FOR(mod_stat("grants_rechecked") > rechecked0, REVOKE_MS)) {
		TH_LOG("no grant rechecked within %d ms", REVOKE_MS);
	}
	usleep(500 * 1000);	/* let a revocation that is due happen */
	ASSERT_TRUE(grant_listed(self->grant));
	EXPECT_EQ(revoked0, mod_stat("grants_revoked"));
	/* The guest writes page 1; the server reads it through the grant. */
	w = share_word(&self->vm, &self->sh, PAGE + 64);
	ASSERT_NE(NULL, w);
	*w = 0xfeedface12345678ULL;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ASSERT_EQ(PROBE_DATA, server_probe(&self->srv, PAGE + 64, &v));
	EXPECT_EQ(0xfeedface12345678ULL, v);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* Shares @self->sh, then deletes slot 1 under it: revoked like a FREE. */
static void share_then_delete_slot1(struct __test_metadata *_metadata,
				    FIXTURE_DATA(vmm) *self)
{
	long long revoked0;

	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, vm_delete_slot(&self->vm, 1));
	expect_revoked(_metadata, self, revoked0);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* ---- the tests ---- */

/* The VMM itself: many small round trips wrap both rings several times. */
TEST_F_TIMEOUT(vmm, vring_round_trips, TEST_SECS)
{
	struct share sh;
	unsigned int i;

	ASSERT_EQ(0, start_vm(self));
	for (i = 0; i < 300; i++) {
		one_extent(&sh, VM_SLOT1_GPA, 1);
		sh.region = i + 1;
		ASSERT_EQ(0, guest_alloc(&self->vm, &sh)) {
			TH_LOG("round trip %u", i);
		}
	}
	/* Every byte of the 300 ALLOC_OKs consumed, and nothing else. */
	EXPECT_EQ(300U * VSHM_HDR_SIZE, self->vm.conn.fwd_cnt);
	EXPECT_EQ(0, self->srv.sh->unexpected);
	EXPECT_EQ(0, vm_shutdown(&self->vm, RECV_MS));
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));
}

/* 64 pages of slot 1 in two extents: mapped, both patterns, freed. */
TEST_F_TIMEOUT(vmm, share_and_free, TEST_SECS)
{
	long long pinned0 = mod_stat("pages_pinned");

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(0, self->srv.sh->pattern_bad);
	EXPECT_TRUE(grant_listed(self->grant));
	EXPECT_EQ(64, mod_stat("pages_pinned") - pinned0);
	EXPECT_EQ(host_pins(), self->base_pins + 64);
	EXPECT_EQ(PROBE_DATA, probe_first(self));

	ASSERT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	/* The module revoked before the server read the FREE. */
	EXPECT_EQ(PROBE_SIGBUS, self->srv.sh->free_probe);
	EXPECT_FALSE(grant_listed(self->grant));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/*
 * Guest RAM the way production hosts back it: a shared memfd
 * (memory-backend-memfd,share=on) or 2 MiB hugetlb pages (hugetlb=on).
 * The extent crosses a 2 MiB boundary, so its pages come from two huge
 * pages (or two folios); mapped, both patterns, freed, pins back.
 */
static void share_backed(struct __test_metadata *_metadata,
			 FIXTURE_DATA(vmm) *self, enum vm_ram_backing backing)
{
	long long pinned0 = mod_stat("pages_pinned");

	ASSERT_EQ(0, start_vm_backed(self, backing));
	one_extent(&self->sh, VM_SLOT1_GPA + 2 * VM_MIB - 64 * PAGE, 128);
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(0, self->srv.sh->pattern_bad);
	EXPECT_EQ(128, mod_stat("pages_pinned") - pinned0);
	EXPECT_EQ(host_pins(), self->base_pins + 128);
	EXPECT_EQ(PROBE_DATA, probe_first(self));
	ASSERT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_EQ(PROBE_SIGBUS, self->srv.sh->free_probe);
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

TEST_F_TIMEOUT(vmm, share_from_memfd_ram, TEST_SECS)
{
	share_backed(_metadata, self, VM_RAM_MEMFD);
}

TEST_F_TIMEOUT(vmm, share_from_hugetlb_ram, TEST_SECS)
{
	share_backed(_metadata, self, VM_RAM_HUGETLB);
}

/* Deleting a hugetlb memslot under a grant: revoked, huge pages unpinned. */
TEST_F_TIMEOUT(vmm, hugetlb_memslot_deleted_revokes, TEST_SECS)
{
	ASSERT_EQ(0, start_vm_backed(self, VM_RAM_HUGETLB));
	one_extent(&self->sh, VM_SLOT1_GPA + 2 * VM_MIB - 64 * PAGE, 128);
	share_then_delete_slot1(_metadata, self);
}

/* A GPA_LIST in two packets is refused whole: VSHM_E_FRAG, no pin. */
TEST_F_TIMEOUT(vmm, fragmented_gpa_list_refused, TEST_SECS)
{
	long long pinned0 = mod_stat("pages_pinned");

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_fill(&self->vm, &self->sh));
	EXPECT_EQ(VSHM_E_FRAG, share_refused(self, true));
	EXPECT_EQ(1, self->srv.sh->refused);
	EXPECT_EQ(VSHM_E_FRAG, self->srv.sh->refused_code);
	EXPECT_EQ(pinned0, mod_stat("pages_pinned"));
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * A message's continuation that looks like a GPA_LIST is never taken for
 * one: 16 bytes of something else, then, in the same message, a valid
 * list. The module leaves it alone; the server gets one message that is not
 * vsock-shm's and answers with a connection error.
 */
TEST_F_TIMEOUT(vmm, continuation_never_parsed_as_message, TEST_SECS)
{
	static unsigned char buf[16 + VSHM_MAX_MSG];
	long long seen0 = mod_stat("lists_seen");
	struct vshm_msg m;
	ssize_t n;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_fill(&self->vm, &self->sh));
	ASSERT_EQ(0, guest_alloc(&self->vm, &self->sh));
	memset(buf, 0xa5, 16);
	n = vshm_encode_gpa_list(buf + 16, sizeof(buf) - 16, self->sh.region, 0,
				 share_pages(&self->sh), self->sh.runs, self->sh.n);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, vm_send_split(&self->vm, buf, (size_t)n + 16, 16));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_EQ(VSHM_MSG_ERROR, m.type);
	EXPECT_EQ((uint32_t)VSHM_E_MAGIC, m.error.code);
	EXPECT_EQ(seen0, mod_stat("lists_seen"));
	EXPECT_EQ(0, self->srv.sh->refused);
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * A later chunk of a region, fragmented: refused, and the region ends with
 * it (the pages of its first chunk are unpinned without a FREE).
 */
TEST_F_TIMEOUT(vmm, fragmented_later_chunk_ends_region, TEST_SECS)
{
	static unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t n;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_fill(&self->vm, &self->sh));
	ASSERT_EQ(0, guest_alloc(&self->vm, &self->sh));
	n = vshm_encode_gpa_list(buf, sizeof(buf), self->sh.region, 0, 64,
				 &self->sh.runs[0], 1);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, vm_send(&self->vm, buf, (size_t)n));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	ASSERT_EQ(VSHM_MSG_CHUNK_OK, m.type);
	EXPECT_EQ(host_pins(), self->base_pins + 32);

	n = vshm_encode_gpa_list(buf, sizeof(buf), self->sh.region, 32, 64,
				 &self->sh.runs[1], 1);
	ASSERT_LT(0, n);
	/* The list header goes whole in the first packet, its extent after. */
	ASSERT_EQ(0, vm_send_split(&self->vm, buf, (size_t)n,
				   sizeof(struct vshm_gpa_list)));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_EQ(VSHM_MSG_ERROR, m.type);
	EXPECT_EQ((uint32_t)VSHM_E_FRAG, m.error.code);
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS)) {
		TH_LOG("the first chunk's pages are still pinned: pins %ld, base %ld",
		       host_pins(), self->base_pins);
	}
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * GPAs in a KVM_MEM_READONLY slot cannot be shared writable; the refusal
 * names the extent (the second one here).
 */
TEST_F_TIMEOUT(vmm, gpa_in_readonly_memslot_refused, TEST_SECS)
{
	void *mem = map_extra();

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, start_vm(self));
	ASSERT_EQ(0, vm_set_slot(&self->vm, 2, SLOT2_GPA, EXTRA_SIZE, mem,
				 KVM_MEM_READONLY));
	self->sh = (struct share){
		.region = REGION, .n = 2,
		.runs = { { VM_SLOT1_GPA, 4 }, { SLOT2_GPA + 8 * PAGE, 16 } },
	};
	EXPECT_EQ(VSHM_E_RDONLY, share_refused(self, false));
	EXPECT_EQ(VSHM_E_RDONLY, self->srv.sh->refused_code);
	EXPECT_EQ(1U, self->srv.sh->refused_detail);
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* A GPA no memslot covers. */
TEST_F_TIMEOUT(vmm, gpa_outside_memslots_refused, TEST_SECS)
{
	ASSERT_EQ(0, start_vm(self));
	one_extent(&self->sh, NOWHERE_GPA, 8);
	EXPECT_EQ(VSHM_E_NOTMAPPABLE, share_refused(self, false));
	EXPECT_EQ(VSHM_E_NOTMAPPABLE, self->srv.sh->refused_code);
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	/* This time the guest ends the connection with RST. */
	EXPECT_EQ(0, vm_reset(&self->vm));
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));
}

/* A memslot whose host memory is gone: translated, but cannot be pinned. */
TEST_F_TIMEOUT(vmm, memslot_hole_unpinnable, TEST_SECS)
{
	long long pinned0 = mod_stat("pages_pinned");
	void *mem = map_extra();

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, start_vm(self));
	ASSERT_EQ(0, vm_set_slot(&self->vm, 2, SLOT2_GPA, EXTRA_SIZE, mem, 0));
	ASSERT_EQ(0, munmap(mem, EXTRA_SIZE));
	one_extent(&self->sh, SLOT2_GPA, 16);
	EXPECT_EQ(VSHM_E_PIN, share_refused(self, false));
	EXPECT_EQ(VSHM_E_PIN, self->srv.sh->refused_code);
	EXPECT_EQ(pinned0, mod_stat("pages_pinned"));
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* Deleting the memslot under a mapped grant revokes it. */
TEST_F_TIMEOUT(vmm, memslot_deleted_revokes, TEST_SECS)
{
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	share_then_delete_slot1(_metadata, self);
}

/* Moving it to another GPA revokes it too: the GPAs no longer mean it. */
TEST_F_TIMEOUT(vmm, memslot_moved_revokes, TEST_SECS)
{
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, vm_move_slot(&self->vm, 1, MOVED_GPA));
	expect_revoked(_metadata, self, revoked0);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}


/*
 * Migration: the VMM turns on vhost's dirty log (VHOST_SET_LOG_BASE, then
 * VHOST_F_LOG_ALL). The server's writes would bypass it, so the grant is
 * revoked and, once unmapped, its pages are marked in the log (exactly
 * those); a share is refused with VSHM_E_BUSY while logging is on, and
 * works again once it is off (migration cancelled).
 */
#define LOG_PAGES	(VM_RAM_SIZE / PAGE)

static bool log_bit(const uint64_t *log, uint64_t gfn)
{
	return log[gfn / 64] & (1ULL << (gfn % 64));
}

TEST_F_TIMEOUT(vmm, dirty_log_revokes_and_marks_pages, TEST_SECS)
{
	static uint64_t log[LOG_PAGES / 64];
	long long revoked0, logged0, pinned0;
	unsigned int i, marked = 0, want = 0;
	uint64_t gfn;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	logged0 = mod_stat("pages_logged_dirty");
	ASSERT_LE(0, logged0) {
		TH_LOG("the module has no pages_logged_dirty counter");
	}
	ASSERT_EQ(0, vm_set_dirty_log(&self->vm, log));
	expect_revoked(_metadata, self, revoked0);
	/* The marks come after the unpin, and the count after the marks. */
	EXPECT_TRUE(WAIT_FOR(mod_stat("pages_logged_dirty") - logged0 >= 64,
			     REVOKE_MS));
	EXPECT_EQ(64, mod_stat("pages_logged_dirty") - logged0);
	for (gfn = 0; gfn < LOG_PAGES; gfn++)
		marked += log_bit(log, gfn);
	for (i = 0; i < self->sh.n; i++)
		for (gfn = self->sh.runs[i].addr / PAGE;
		     gfn < self->sh.runs[i].addr / PAGE + self->sh.runs[i].npages;
		     gfn++)
			want += log_bit(log, gfn);
	EXPECT_EQ(64U, want);
	EXPECT_EQ(64U, marked);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));

	/* While the log is on: BUSY, nothing pinned. */
	pinned0 = mod_stat("pages_pinned");
	EXPECT_EQ(VSHM_E_BUSY, share_refused(self, false));
	EXPECT_EQ(pinned0, mod_stat("pages_pinned"));
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));

	/* Migration cancelled: sharing works again. */
	ASSERT_EQ(0, vm_set_dirty_log(&self->vm, NULL));
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(PROBE_DATA, probe_first(self));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/*
 * A dirty log the module cannot write (the VMM gave a page it mapped
 * PROT_NONE): the grant is revoked all the same, nothing is marked, and the
 * module says so; sharing waits for the log to go off as before.
 */
TEST_F_TIMEOUT(vmm, dirty_log_unwritable_still_revokes, TEST_SECS)
{
	long long revoked0, logged0;
	void *log;

	log = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, log);
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	revoked0 = mod_stat("grants_revoked");
	logged0 = mod_stat("pages_logged_dirty");
	ASSERT_EQ(0, vm_set_dirty_log(&self->vm, log));
	expect_revoked(_metadata, self, revoked0);
	EXPECT_EQ(logged0, mod_stat("pages_logged_dirty"));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_EQ(VSHM_E_BUSY, share_refused(self, false));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	ASSERT_EQ(0, vm_set_dirty_log(&self->vm, NULL));
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
	munmap(log, PAGE);
}
/* A slot added and deleted elsewhere leaves the grant alone. */
TEST_F_TIMEOUT(vmm, unrelated_memslot_change_keeps_grant, TEST_SECS)
{
	long long revoked0, rechecked0;
	void *mem = map_extra();

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	revoked0 = mod_stat("grants_revoked");
	rechecked0 = mod_stat("grants_rechecked");
	ASSERT_EQ(0, vm_set_slot(&self->vm, 3, SLOT3_GPA, EXTRA_SIZE, mem, 0));
	ASSERT_EQ(0, vm_delete_slot(&self->vm, 3));
	expect_kept(_metadata, self, revoked0, rechecked0);
	munmap(mem, EXTRA_SIZE);
}

/* With the iotlb policy: a memory table without slot 1 revokes. */
TEST_F_TIMEOUT(vmm, mem_table_replaced_revokes, TEST_SECS)
{
	struct vm_mem_region r[2];
	long long revoked0;

	ASSERT_EQ(0, run_ctl("policy swap iotlb")) {
		TH_LOG("cannot swap in the iotlb policy (VSHM_CTL=%s)",
		       getenv("VSHM_CTL") ?: "unset");
	}
	self->iotlb = true;
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	vm_default_mem_table(&self->vm, r);
	ASSERT_EQ(0, vm_set_mem_table(&self->vm, r, 1));	/* slot 0 only */
	expect_revoked(_metadata, self, revoked0);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* With the iotlb policy: the same memory table again keeps the grant. */
TEST_F_TIMEOUT(vmm, mem_table_same_keeps_grant, TEST_SECS)
{
	struct vm_mem_region r[2];
	long long revoked0, rechecked0;

	ASSERT_EQ(0, run_ctl("policy swap iotlb"));
	self->iotlb = true;
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	revoked0 = mod_stat("grants_revoked");
	rechecked0 = mod_stat("grants_rechecked");
	ASSERT_EQ(0, vm_set_mem_table(&self->vm, r, vm_default_mem_table(&self->vm, r)));
	expect_kept(_metadata, self, revoked0, rechecked0);
}

/* The VMM child: VM, share, tell the grant id, wait to be killed. */
static void __attribute__((noreturn))
vmm_child(FIXTURE_DATA(vmm) *self, int wfd)
{
	uint64_t grant = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	two_extents(&self->sh);
	if (!start_vm(self) && !share_mapped(self))
		grant = self->grant;
	if (write(wfd, &grant, sizeof(grant)) != sizeof(grant) || !grant)
		_exit(1);
	for (;;)
		pause();
}

/* The VMM is SIGKILLed while the server has the region mapped. */
TEST_F_TIMEOUT(vmm, vmm_killed_revokes, TEST_SECS)
{
	long long revoked0, released0;
	struct pollfd pfd;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fflush(NULL);
	self->vmm_pid = fork();
	ASSERT_LE(0, self->vmm_pid);
	if (self->vmm_pid == 0) {
		close(p[0]);
		vmm_child(self, p[1]);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 2 * RECV_MS));
	ASSERT_EQ((ssize_t)sizeof(self->grant), read(p[0], &self->grant, sizeof(self->grant)));
	close(p[0]);
	ASSERT_NE((uint64_t)0, self->grant);
	two_extents(&self->sh);
	ASSERT_TRUE(grant_listed(self->grant));
	ASSERT_EQ(PROBE_DATA, probe_first(self));

	revoked0 = mod_stat("grants_revoked");
	released0 = mod_stat("devs_released");
	ASSERT_EQ(0, kill(self->vmm_pid, SIGKILL));
	ASSERT_EQ(self->vmm_pid, waitpid(self->vmm_pid, NULL, 0));
	self->vmm_pid = 0;
	EXPECT_TRUE(WAIT_FOR(mod_stat("devs_released") > released0, REVOKE_MS));
	expect_revoked(_metadata, self, revoked0);
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));
}

/* The server writes through its mapping in a loop while the guest frees. */
TEST_F_TIMEOUT(vmm, free_while_server_writes, TEST_SECS)
{
	struct ctl_rep rep;
	int ret;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(0, server_call(&self->srv, CTL_WRITER_START, 0, &rep));
	ASSERT_EQ(0, rep.status);
	ASSERT_TRUE(WAIT_FOR(self->srv.sh->writes > 10000, REVOKE_MS));

	ret = guest_free(&self->vm, self->sh.region);
	/* FREED, or the connection ended: both are an answer. */
	EXPECT_TRUE(ret == VSHM_MSG_FREED || ret == -ECONNRESET) {
		TH_LOG("FREE answered %d", ret);
	}
	ASSERT_TRUE(WAIT_FOR(self->srv.sh->writer == WRITER_SIGBUS ||
			     self->srv.sh->writer == WRITER_STOPPED, REVOKE_MS));
	TH_LOG("writer ended by %s after %ld writes",
	       self->srv.sh->writer == WRITER_SIGBUS ? "SIGBUS" : "FREE",
	       self->srv.sh->writes);
	/* Whichever came first, the mapping was revoked before FREE arrived. */
	if (ret == VSHM_MSG_FREED) {
		EXPECT_EQ(PROBE_SIGBUS, self->srv.sh->free_probe);
	} else {
		EXPECT_EQ(PROBE_SIGBUS, probe_first(self));
	}
	EXPECT_FALSE(grant_listed(self->grant));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

TEST_HARNESS_MAIN
