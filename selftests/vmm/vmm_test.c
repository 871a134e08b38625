// SPDX-License-Identifier: GPL-2.0
/*
 * vmm_test: vhost_vsock_shm driven by a VMM of our own (vring_vm.c): a KVM
 * VM without vCPUs whose "guest" is this program, speaking virtio-vsock on
 * the device's virtqueues itself. That lets a test do what no real guest
 * can: change the VM's memslots or the device's memory table under a live
 * grant, hand the module fragmented or impossible lists or messages only
 * the host may write, stop or renumber the device, starve it of RX buffers,
 * or kill the VMM at a chosen moment, and look at the pins and at the
 * server's mapping.
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
 * iotlb policy with $VSHM_CTL (vsock-shmctl) and back to default; tests
 * that lower a module parameter put it back. "vmm_test -t NAME ..." runs
 * only the tests so named.
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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/vm_sockets.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pattern.h"
#include "proto.h"
#include "vring_vm.h"
#include "kselftest_harness.h"

#define STATS_PATH	"/sys/kernel/debug/vhost_vsock_shm/stats"
#define GRANTS_PATH	"/sys/kernel/debug/vhost_vsock_shm/grants"
#define MAPPER_PATH	"/dev/vsock-shm-mapper"
#define PARAMS_PATH	"/sys/module/vhost_vsock_shm/parameters/"

#define PAGE		4096ULL
#define SEED		VSHM_PATTERN_DEFAULT_SEED
#define REGION		7
#define PORT_BASE	7300
#define RECV_MS		15000	/* TCG is slow */
#define REVOKE_MS	5000	/* "within a few seconds" */
#define TEST_SECS	180
#define CLOSE_WAIT_MS	30000	/* the host's vsock close timeout is 8 s */

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

/* enum vshm_revoke_reason as the module's counters name it. */
static const char *const reason_names[] = {
	[VSHM_REVOKE_FREED] = "freed", [VSHM_REVOKE_CLOSED] = "closed",
	[VSHM_REVOKE_DEVICE] = "device", [VSHM_REVOKE_MEMMAP] = "memmap",
	[VSHM_REVOKE_MIGRATION] = "migration", [VSHM_REVOKE_REFUSED] = "refused",
};

static const char *reason_name(uint32_t reason)
{
	return reason && reason <= VSHM_REVOKE_MAX ? reason_names[reason] : "?";
}

/* The module's count of revocations for @reason, or -1. */
static long long revoked_for(uint32_t reason)
{
	char name[32];

	snprintf(name, sizeof(name), "revoked_%s", reason_name(reason));
	return mod_stat(name);
}

/* A module parameter, as read from sysfs without its newline. */
static int param_read(const char *name, char *val, size_t cap)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS_PATH "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, val, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	val[n] = 0;
	val[strcspn(val, "\n")] = 0;
	return 0;
}

static int param_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS_PATH "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * The module parameters tests change, as they were when vmm_test started
 * (main() reads them). Every test's setup and teardown put them back: a
 * test its timeout killed has no teardown.
 */
static struct {
	const char *name;
	char val[32];		/* "" if the module has no such parameter */
} params[] = {
	{ .name = "max_conns_per_vm" },
	{ .name = "max_pages_per_vm" },
};

static void params_save(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(params); i++)
		if (param_read(params[i].name, params[i].val, sizeof(params[i].val)))
			params[i].val[0] = 0;
}

/* Returns 0, or -errno of the first parameter it could not put back. */
static int params_restore(void)
{
	unsigned int i;
	char now[32];
	int err, ret = 0;

	for (i = 0; i < ARRAY_SIZE(params); i++) {
		if (!params[i].val[0] ||
		    (!param_read(params[i].name, now, sizeof(now)) &&
		     !strcmp(now, params[i].val)))
			continue;
		err = param_write(params[i].name, params[i].val);
		if (err && !ret)
			ret = err;
	}
	return ret;
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

enum {
	CTL_PROBE = 1, CTL_WRITER_START, CTL_QUIT,
	CTL_CLOSE_CONN,		/* close the connection's socket */
	CTL_MAP_GRANT,		/* MAP_GRANT of grant arg with the conn's socket */
	CTL_CHURN_START,	/* threads mapping, reading, unmapping the grant */
	CTL_DROP_CAP,		/* the server drops capability arg */
	CTL_EVENTS,		/* poll the mapper for arg ms, read its events */
	CTL_EVENTS_FAULT,	/* read the mapper's events into no memory */
	CTL_REMAP,		/* MAP_GRANT of grant arg again, on its own fd */
	CTL_UNMAP,		/* munmap and UNMAP_GRANT grant arg */
	CTL_POLL,		/* poll the mapper, no wait: its revents */
	CTL_READ_BLOCK,		/* read the mapper's events, blocking, no poll */
};
enum { PROBE_DATA, PROBE_SIGBUS, PROBE_NOMAP };
enum { WRITER_NONE, WRITER_RUNNING, WRITER_SIGBUS, WRITER_STOPPED };

#define SRV_MAPS	8	/* grants the server can have mapped at once */
#define SRV_REGIONS	16	/* region ids it counts messages of */
#define SRV_RAW		64	/* bytes kept of a message it cannot decode */
#define CHURN_THREADS	4	/* server threads that map, read and unmap */
#define SRV_EVENTS	8	/* revocation events one read takes at most */

struct ctl_req {
	int op;
	uint64_t arg;
};

struct ctl_rep {
	int status;
	uint64_t value;
};

/*
 * One look at the server's mapper file: poll, then a read if it said
 * POLLIN, then a nonblocking read that must find nothing more.
 */
struct srv_events {
	int done;			/* a look was taken */
	int poll;			/* poll's revents, or -errno */
	int n;				/* events read, or -errno */
	uint64_t grant[SRV_EVENTS];
	uint32_t reason[SRV_EVENTS];
	uint32_t pad[SRV_EVENTS];
	int after;			/* errno of the nonblocking read after
					 * it, or 0 if that read events too
					 */
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
	volatile int hpa_lists[SRV_REGIONS];	/* HPA_LISTs, per region id */
	volatile int maps[SRV_REGIONS];	/* grants mapped, per region id */
	volatile int errors;		/* ERRORs it answered */
	volatile uint32_t error_code;	/* the last one's code */
	volatile int undecoded;		/* messages vshm_decode() rejected */
	volatile uint32_t raw_len;	/* the last one's length, */
	volatile uint64_t raw_hash;	/* the hash of its bytes, */
	volatile unsigned char raw[SRV_RAW]; /* and its first bytes */
	volatile long hpa_ext;		/* extents of the HPA_LISTs received */
	volatile long hpa_nonzero;	/* of which with a nonzero address */
	volatile long churn_maps;	/* mmaps of the churning threads */
	volatile long churn_reads;	/* words they read and checked */
	volatile int churn_sigbus;	/* reads that got SIGBUS */
	volatile int churn_bad;		/* reads of anything but the marks */
	volatile uint64_t churn_bad_value; /* the last such word */
	volatile int churn_done;	/* threads ended (mmap refused) */
	volatile int churn_errno;	/* why the last one ended */
	struct srv_events ev;		/* the last CTL_EVENTS */
	struct srv_events free_ev;	/* at the last FREE of a mapped region */
};

struct server {
	pid_t pid;
	int ctl;			/* test's end of the control socket */
	struct srv_shared *sh;
};

/* One grant the server has mapped. */
struct srv_map {
	unsigned char *p;		/* NULL: a free entry */
	uint64_t size;
	uint64_t grant;
	uint32_t region;
};

/* Server-side state, in the child only. */
struct srv {
	struct srv_shared *sh;
	int ls, conn, ctl, mapper;
	struct srv_map maps[SRV_MAPS];
	struct srv_map *cur;		/* the last one mapped: probes, writer */
	pthread_t writer;
	bool writer_joinable;
	volatile int writer_stop;
	unsigned char buf[VSHM_MAX_MSG];
};

/* FNV-1a: the server's and the test's view of a message's bytes. */
static uint64_t bytes_hash(const void *buf, size_t n)
{
	const unsigned char *b = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

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

/* Reads the u64 at @off of mapping @m: PROBE_DATA with *v, or PROBE_*. */
static int srv_probe(const struct srv_map *m, uint64_t off, uint64_t *v)
{
	volatile uint64_t *p;

	if (!m || !m->p || off + 8 > m->size)
		return PROBE_NOMAP;
	p = (volatile uint64_t *)(m->p + off);
	if (sigsetjmp(fault_jb, 1))
		return PROBE_SIGBUS;
	fault_armed = 1;
	*v = *p;
	fault_armed = 0;
	return PROBE_DATA;
}

/* Writes through the last mapping until revoked (SIGBUS) or told to stop. */
static void *srv_writer(void *arg)
{
	struct srv *s = arg;
	unsigned char *map = s->cur->p;
	uint64_t pages = s->cur->size / PAGE;
	volatile uint64_t i = 0;

	if (sigsetjmp(fault_jb, 1)) {
		s->sh->writer = WRITER_SIGBUS;
		return NULL;
	}
	fault_armed = 1;
	while (!__atomic_load_n(&s->writer_stop, __ATOMIC_ACQUIRE)) {
		*(volatile uint64_t *)(map + (i % pages) * PAGE + 8) = i;
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

/* The mapping of @region, or NULL. */
static struct srv_map *srv_find(struct srv *s, uint32_t region)
{
	unsigned int i;

	for (i = 0; i < SRV_MAPS; i++)
		if (s->maps[i].grant && s->maps[i].region == region)
			return &s->maps[i];
	return NULL;
}

static void srv_unmap(struct srv *s, struct srv_map *m)
{
	struct vshm_unmap_req u = { .grant = m->grant };

	srv_writer_stop(s);
	if (m->p)
		munmap(m->p, m->size);
	if (m->grant)
		ioctl(s->mapper, VSHM_IOC_UNMAP_GRANT, &u);
	*m = (struct srv_map){ 0 };
	if (m == s->cur) {
		s->cur = NULL;
		s->sh->mapped = 0;
	}
}

static void srv_unmap_all(struct srv *s)
{
	unsigned int i;

	for (i = 0; i < SRV_MAPS; i++)
		srv_unmap(s, &s->maps[i]);
}

static void srv_reply(struct srv *s, ssize_t n)
{
	if (n > 0 && s->conn >= 0)
		send(s->conn, s->buf, (size_t)n, 0);
}

/* Answers ERROR and remembers its code. */
static void srv_error(struct srv *s, uint32_t region, uint32_t code,
		      uint32_t detail, uint8_t orig_type)
{
	s->sh->error_code = code;
	s->sh->errors++;
	srv_reply(s, vshm_encode_error(s->buf, sizeof(s->buf), region, code,
				       detail, orig_type));
}

/* The last chunk: map the grant, check the guest's pattern, mark ours. */
static void srv_map(struct srv *s, const struct vshm_msg *m)
{
	struct vshm_map_req req = { .sock_fd = s->conn, .grant = m->list.grant };
	struct vshm_pattern_bad bad;
	struct srv_map *map;
	unsigned int i;
	void *p;

	map = srv_find(s, m->region);
	if (map)
		srv_unmap(s, map);
	for (i = 0; i < SRV_MAPS && s->maps[i].grant; i++)
		;
	if (i == SRV_MAPS) {
		srv_error(s, m->region, VSHM_E_INTERNAL, VSHM_NO_INDEX,
			  VSHM_MSG_GPA_LIST);
		return;
	}
	map = &s->maps[i];
	if (ioctl(s->mapper, VSHM_IOC_MAP_GRANT, &req)) {
		s->sh->map_errno = errno;
		srv_error(s, m->region, VSHM_E_INTERNAL, VSHM_NO_INDEX,
			  VSHM_MSG_GPA_LIST);
		return;
	}
	map->grant = m->list.grant;
	map->region = m->region;
	p = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED, s->mapper,
		 (off_t)req.offset);
	if (p == MAP_FAILED) {
		s->sh->map_errno = errno;
		srv_unmap(s, map);
		srv_error(s, m->region, VSHM_E_INTERNAL, VSHM_NO_INDEX,
			  VSHM_MSG_GPA_LIST);
		return;
	}
	map->p = p;
	map->size = req.size;
	s->cur = map;
	s->sh->grant = m->list.grant;
	s->sh->mapped = 1;
	if (m->region < SRV_REGIONS)
		s->sh->maps[m->region]++;
	if (vshm_pattern_check(p, req.size, SEED, m->region, &bad)) {
		s->sh->pattern_bad = 1;
		srv_error(s, m->region, VSHM_E_DENIED, VSHM_NO_INDEX,
			  VSHM_MSG_GPA_LIST);
		return;
	}
	vshm_pattern_mark(p, req.size, SEED, m->region);
	srv_reply(s, vshm_encode_mapped(s->buf, sizeof(s->buf), m->region,
					m->list.grant, req.nr_pages));
}

/* srv_read_events(): no poll, a read that blocks until there is one. */
#define READ_NOW	(-2)

/*
 * Polls the mapper file for up to @ms, reads its events if it has some,
 * then reads again without blocking: what it saw goes into @ev. Returns
 * the events read, or -errno.
 */
static int srv_read_events(struct srv *s, int ms, struct srv_events *ev)
{
	struct vshm_revoke_event e[SRV_EVENTS];
	struct pollfd pfd = {
		.fd = s->mapper, .events = POLLIN | POLLRDNORM,
	};
	int flags, i, n = 0;
	ssize_t r;

	memset(ev, 0, sizeof(*ev));
	if (ms != READ_NOW)
		ev->poll = poll(&pfd, 1, ms) < 0 ? -errno : pfd.revents;
	if (ms == READ_NOW || (ev->poll > 0 && (ev->poll & POLLIN))) {
		r = read(s->mapper, e, sizeof(e));
		if (r < 0)
			n = -errno;
		else if (r % sizeof(e[0]))
			n = -EMSGSIZE;	/* not whole events */
		else
			n = (int)(r / sizeof(e[0]));
	}
	for (i = 0; i < n; i++) {
		ev->grant[i] = e[i].grant;
		ev->reason[i] = e[i].reason;
		ev->pad[i] = e[i].pad;
	}
	ev->n = n;
	flags = fcntl(s->mapper, F_GETFL);
	if (flags < 0 || fcntl(s->mapper, F_SETFL, flags | O_NONBLOCK)) {
		ev->after = errno;
	} else {
		r = read(s->mapper, e, sizeof(e));
		ev->after = r < 0 ? errno : 0;
		fcntl(s->mapper, F_SETFL, flags);
	}
	ev->done = 1;
	return n;
}

/* FREE: the module revoked before we read it; the mapping must fault. */
static void srv_free(struct srv *s, uint32_t region)
{
	struct srv_map *m = srv_find(s, region);
	uint64_t v;

	s->sh->frees++;
	srv_writer_stop(s);
	s->sh->free_probe = srv_probe(m, 0, &v);
	/* Its event was queued before the FREE reached us: no waiting. */
	if (m)
		srv_read_events(s, 0, &s->sh->free_ev);
	if (m)
		srv_unmap(s, m);
	srv_reply(s, vshm_encode_freed(s->buf, sizeof(s->buf), region));
}

/* A message that is not vsock-shm's (or no longer): keep what it was. */
static void srv_undecoded(struct srv *s, size_t n)
{
	size_t i;

	s->sh->undecoded++;
	s->sh->raw_len = (uint32_t)n;
	s->sh->raw_hash = bytes_hash(s->buf, n);
	for (i = 0; i < SRV_RAW; i++)
		s->sh->raw[i] = i < n ? s->buf[i] : 0;
}

/* One message from the guest (through the module), one answer. */
static void srv_message(struct srv *s, size_t n)
{
	struct vshm_msg m;
	int err = vshm_decode(s->buf, n, &m);
	uint32_t i;

	if (err) {
		s->sh->unexpected++;
		srv_undecoded(s, n);
		srv_error(s, 0, (uint32_t)err, VSHM_NO_INDEX, m.type);
		return;
	}
	switch (m.type) {
	case VSHM_MSG_ALLOC:
		srv_reply(s, vshm_encode_alloc_ok(s->buf, sizeof(s->buf), m.region));
		break;
	case VSHM_MSG_HPA_LIST:
		s->sh->grant = m.list.grant;
		for (i = 0; i < m.list.nr_ext; i++) {
			s->sh->hpa_ext++;
			if (vshm_msg_run(&m, i).addr)
				s->sh->hpa_nonzero++;
		}
		if (m.region < SRV_REGIONS)
			s->sh->hpa_lists[m.region]++;
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
		srv_error(s, m.region, m.list.status, m.list.detail,
			  VSHM_MSG_GPA_LIST);
		break;
	case VSHM_MSG_GPA_LIST:
		/* Untranslated: no policy took it. */
		s->sh->unexpected++;
		srv_error(s, m.region, VSHM_E_NOPOLICY, VSHM_NO_INDEX,
			  VSHM_MSG_GPA_LIST);
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

/*
 * Would the mapper let the connection's socket map grant @grant? Asked on
 * a file of its own: the server's authorizations stay as they were.
 */
static int srv_try_map(struct srv *s, uint64_t grant)
{
	struct vshm_map_req req = { .sock_fd = s->conn, .grant = grant };
	int fd, ret;

	if (s->conn < 0)
		return -ENOTCONN;
	fd = open(MAPPER_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, VSHM_IOC_MAP_GRANT, &req) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * A churning thread: maps the current grant afresh, reads the first word
 * of every page (the server's mark) and unmaps it, over and over, until
 * mmap is refused (the grant is revoked). Every word read must be the
 * mark; a fault must be SIGBUS. A word of a page freed under a mapping
 * (zeros, with init_on_free=1) counts as bad.
 */
static void *srv_churn(void *arg)
{
	struct srv *s = arg;
	struct srv_map m = *s->cur;
	off_t off = (off_t)(m.grant << 31);
	volatile uint64_t *w;
	uint64_t pg, want;
	void *p;

	for (;;) {
		p = mmap(NULL, m.size, PROT_READ, MAP_SHARED, s->mapper, off);
		if (p == MAP_FAILED)
			break;
		__atomic_add_fetch(&s->sh->churn_maps, 1, __ATOMIC_RELAXED);
		if (sigsetjmp(fault_jb, 1)) {
			__atomic_add_fetch(&s->sh->churn_sigbus, 1, __ATOMIC_RELAXED);
			munmap(p, m.size);
			continue;
		}
		fault_armed = 1;
		for (pg = 0; pg < m.size / PAGE; pg++) {
			w = (volatile uint64_t *)((unsigned char *)p + pg * PAGE);
			want = ~vshm_pattern_word(SEED, m.region, pg * PAGE);
			if (*w != want) {
				s->sh->churn_bad_value = *w;
				__atomic_add_fetch(&s->sh->churn_bad, 1, __ATOMIC_RELAXED);
			}
			__atomic_add_fetch(&s->sh->churn_reads, 1, __ATOMIC_RELAXED);
		}
		fault_armed = 0;
		munmap(p, m.size);
	}
	s->sh->churn_errno = errno;
	__atomic_add_fetch(&s->sh->churn_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int srv_churn_start(struct srv *s)
{
	pthread_t t;
	int i, ret;

	if (!s->cur)
		return -ENOENT;
	for (i = 0; i < CHURN_THREADS; i++) {
		ret = pthread_create(&t, NULL, srv_churn, s);
		if (ret)
			return -ret;
		pthread_detach(t);
	}
	return 0;
}

static int drop_cap(int cap);

/*
 * A read of the mapper's events into memory that is not there: EFAULT
 * (once an event is pending), or 0 if it read something. Returns -errno.
 */
static int srv_read_fault(struct srv *s)
{
	void *none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	ssize_t r;
	int err;

	if (none == MAP_FAILED)
		return -errno;
	r = read(s->mapper, none, sizeof(struct vshm_revoke_event));
	err = r < 0 ? -errno : 0;
	munmap(none, PAGE);
	return err;
}

/* The mapper file's poll(2) revents, at once, or -errno. */
static int srv_poll(struct srv *s)
{
	struct pollfd pfd = {
		.fd = s->mapper, .events = POLLIN | POLLRDNORM,
	};

	return poll(&pfd, 1, 0) < 0 ? -errno : pfd.revents;
}

/* MAP_GRANT of a grant this server's mapper file maps already. */
static int srv_remap(struct srv *s, uint64_t grant)
{
	struct vshm_map_req req = { .sock_fd = s->conn, .grant = grant };

	if (s->conn < 0)
		return -ENOTCONN;
	return ioctl(s->mapper, VSHM_IOC_MAP_GRANT, &req) ? -errno : 0;
}

/* A request of the test; returns false on CTL_QUIT or a closed socket. */
static bool srv_control(struct srv *s)
{
	struct ctl_req req;
	struct ctl_rep rep = { 0 };
	unsigned int i;

	if (recv(s->ctl, &req, sizeof(req), 0) != sizeof(req))
		return false;
	switch (req.op) {
	case CTL_PROBE:
		rep.status = srv_probe(s->cur, req.arg, &rep.value);
		break;
	case CTL_WRITER_START:
		rep.status = -EINVAL;
		if (s->cur && s->sh->writer == WRITER_NONE) {
			s->sh->writer = WRITER_RUNNING;
			s->writer_stop = 0;
			rep.status = -pthread_create(&s->writer, NULL, srv_writer, s);
			if (rep.status)
				s->sh->writer = WRITER_NONE;
			else
				s->writer_joinable = true;
		}
		break;
	case CTL_CLOSE_CONN:
		/* Like srv_conn_end(), but the host ends it: it stays mapped. */
		rep.status = -ENOTCONN;
		if (s->conn >= 0) {
			srv_writer_stop(s);
			close(s->conn);
			s->conn = -1;
			rep.status = 0;
		}
		break;
	case CTL_MAP_GRANT:
		rep.status = srv_try_map(s, req.arg);
		break;
	case CTL_CHURN_START:
		rep.status = srv_churn_start(s);
		break;
	case CTL_DROP_CAP:
		rep.status = drop_cap((int)req.arg);
		break;
	case CTL_EVENTS:
		rep.status = srv_read_events(s, (int)req.arg, &s->sh->ev);
		break;
	case CTL_READ_BLOCK:
		rep.status = srv_read_events(s, READ_NOW, &s->sh->ev);
		break;
	case CTL_POLL:
		rep.status = srv_poll(s);
		break;
	case CTL_EVENTS_FAULT:
		rep.status = srv_read_fault(s);
		break;
	case CTL_REMAP:
		rep.status = srv_remap(s, req.arg);
		break;
	case CTL_UNMAP:
		rep.status = -ENOENT;
		for (i = 0; i < SRV_MAPS; i++) {
			if (s->maps[i].grant == req.arg) {
				srv_unmap(s, &s->maps[i]);
				rep.status = 0;
			}
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
	srv_unmap_all(&s);
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

/* A request to the server, whose answer server_answer() waits for. */
static int server_ask(struct server *srv, int op, uint64_t arg)
{
	struct ctl_req req = { .op = op, .arg = arg };

	return send(srv->ctl, &req, sizeof(req), 0) == sizeof(req) ? 0 : -EPIPE;
}

static int server_answer(struct server *srv, struct ctl_rep *rep)
{
	struct pollfd pfd = { .fd = srv->ctl, .events = POLLIN };

	if (poll(&pfd, 1, RECV_MS) != 1)
		return -ETIMEDOUT;
	return recv(srv->ctl, rep, sizeof(*rep), 0) == sizeof(*rep) ? 0 : -EPIPE;
}

static int server_call(struct server *srv, int op, uint64_t arg,
		       struct ctl_rep *rep)
{
	return server_ask(srv, op, arg) ?: server_answer(srv, rep);
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

/* Runs of a region: one GPA_LIST of them fills most of 32 KiB and more. */
#define SHARE_MAX_RUNS	2048

/* A region as the guest shares it: runs of GPAs, in page order. */
struct share {
	uint32_t region;
	unsigned int n;
	struct vshm_run runs[SHARE_MAX_RUNS];
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

/*
 * Calls @fn on every page of the region, through the VM's memslots, with
 * the page's offset in the region; stops at the first nonzero return.
 */
static int share_each_page(struct vring_vm *vm, const struct share *sh,
			   int (*fn)(const struct share *sh, uint64_t *page,
				     uint64_t off))
{
	uint64_t off = 0, pg;
	unsigned int i;
	int ret;

	for (i = 0; i < sh->n; i++) {
		for (pg = 0; pg < sh->runs[i].npages; pg++, off += PAGE) {
			uint64_t *p = vm_gpa_to_hva(vm, sh->runs[i].addr + pg * PAGE);

			if (!p)
				return -EFAULT;
			ret = fn(sh, p, off);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int page_fill(const struct share *sh, uint64_t *page, uint64_t off)
{
	uint64_t w;

	for (w = 0; w < PAGE / 8; w++)
		page[w] = vshm_pattern_word(SEED, sh->region, off + w * 8);
	return 0;
}

/* The server complemented the first word of the page, nothing else. */
static int page_check_marked(const struct share *sh, uint64_t *page,
			     uint64_t off)
{
	uint64_t w, want;

	for (w = 0; w < PAGE / 8; w++) {
		want = vshm_pattern_word(SEED, sh->region, off + w * 8);
		if (!w)
			want = ~want;
		if (page[w] != want) {
			fprintf(stderr, "# guest: word at %#llx is %#llx, want %#llx\n",
				(unsigned long long)(off + w * 8),
				(unsigned long long)page[w],
				(unsigned long long)want);
			return -EBADMSG;
		}
	}
	return 0;
}

/* The guest's pattern (the region is not contiguous). */
static int share_fill(struct vring_vm *vm, const struct share *sh)
{
	return share_each_page(vm, sh, page_fill);
}

/* After MAPPED: the server complemented the first word of every page. */
static int share_check_marked(struct vring_vm *vm, const struct share *sh)
{
	return share_each_page(vm, sh, page_check_marked);
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

/*
 * The device's memory table as QEMU gives it for the VM's RAM (slots 0 and
 * 1) plus [gpa, gpa + size) at @hva: guest memory vhost may touch.
 */
static int mem_table_with(struct vring_vm *vm, uint64_t gpa, uint64_t size,
			  void *hva)
{
	struct vm_mem_region r[3];
	unsigned int n = vm_default_mem_table(vm, r);

	r[n++] = (struct vm_mem_region){ .gpa = gpa, .size = size, .hva = hva };
	return vm_set_mem_table(vm, r, n);
}

/* ---- the fixture ---- */

FIXTURE(vmm) {
	long base_pins;
	uint32_t port;
	struct server srv;
	struct vring_vm vm;
	bool vm_up;
	pid_t vmm_pid;		/* the VMM child of a test that forks one */
	bool iotlb;		/* the iotlb policy was swapped in */
	struct share sh;
	uint64_t grant;
	long long reasons0[VSHM_REVOKE_MAX + 1];	/* revoked_<reason> */
};

FIXTURE_SETUP(vmm)
{
	uint32_t i;

	self->srv.ctl = -1;
	ASSERT_EQ(0, params_restore());
	self->base_pins = host_pins();
	ASSERT_LE(0, self->base_pins);
	ASSERT_EQ(mod_stat("pages_pinned"), mod_stat("pages_unpinned")) {
		TH_LOG("pages still pinned from an earlier test");
	}
	for (i = 1; i <= VSHM_REVOKE_MAX; i++)
		self->reasons0[i] = revoked_for(i);
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
	if (params_restore())
		TH_LOG("could not put the module parameters back");
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

/*
 * A look at the server's mapper file after @grant was revoked for @reason:
 * poll said POLLIN, the read gave exactly that one event, and a
 * nonblocking read after it found nothing (EAGAIN).
 */
static void expect_event(struct __test_metadata *_metadata,
			 const struct srv_events *ev, uint64_t grant,
			 uint32_t reason)
{
	ASSERT_TRUE(ev->done) {
		TH_LOG("the server never read its mapper's events");
	}
	EXPECT_EQ(POLLIN | POLLRDNORM, ev->poll & (POLLIN | POLLRDNORM)) {
		TH_LOG("poll of the mapper: %d", ev->poll);
	}
	ASSERT_EQ(1, ev->n) {
		TH_LOG("read of the mapper: %d (events, or -errno)", ev->n);
	}
	EXPECT_EQ(grant, ev->grant[0]);
	EXPECT_EQ(reason, ev->reason[0]) {
		TH_LOG("grant %llu revoked as %s, not %s",
		       (unsigned long long)grant, reason_name(ev->reason[0]),
		       reason_name(reason));
	}
	EXPECT_EQ(0U, ev->pad[0]);
	EXPECT_EQ(EAGAIN, ev->after) {
		TH_LOG("a nonblocking read after it: %s",
		       ev->after ? strerror(ev->after) : "more events");
	}
}

/* The server finds the event of self->grant's revocation for @reason. */
static void expect_revoke_event(struct __test_metadata *_metadata,
				FIXTURE_DATA(vmm) *self, uint32_t reason)
{
	struct ctl_rep rep;

	ASSERT_EQ(0, server_call(&self->srv, CTL_EVENTS, REVOKE_MS, &rep));
	expect_event(_metadata, &self->srv.sh->ev, self->grant, reason);
}

/* The server's mapper has no event: poll times out after @ms, EAGAIN. */
static void expect_no_event(struct __test_metadata *_metadata,
			    FIXTURE_DATA(vmm) *self, int ms)
{
	const struct srv_events *ev = &self->srv.sh->ev;
	struct ctl_rep rep;

	ASSERT_EQ(0, server_call(&self->srv, CTL_EVENTS, (uint64_t)ms, &rep));
	EXPECT_EQ(0, ev->poll);
	EXPECT_EQ(0, ev->n) {
		TH_LOG("an event: grant %llu, %s",
		       (unsigned long long)ev->grant[0],
		       reason_name(ev->reason[0]));
	}
	EXPECT_EQ(EAGAIN, ev->after);
}

/*
 * Revoked, the way a guest's FREE revokes: gone, SIGBUS, pins back; the
 * server's mapper file tells it once, with @reason, and the module counted
 * it under that reason.
 */
static void expect_revoked(struct __test_metadata *_metadata,
			   FIXTURE_DATA(vmm) *self, long long revoked0,
			   uint32_t reason)
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
	expect_revoke_event(_metadata, self, reason);
	EXPECT_LT(self->reasons0[reason], revoked_for(reason)) {
		TH_LOG("revoked_%s still %lld", reason_name(reason),
		       self->reasons0[reason]);
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
	expect_no_event(_metadata, self, 0);
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
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
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
	/* The module revoked before the server read the FREE, and said so. */
	EXPECT_EQ(PROBE_SIGBUS, self->srv.sh->free_probe);
	expect_event(_metadata, &self->srv.sh->free_ev, self->grant,
		     VSHM_REVOKE_FREED);
	EXPECT_LT(self->reasons0[VSHM_REVOKE_FREED],
		  revoked_for(VSHM_REVOKE_FREED));
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
	expect_event(_metadata, &self->srv.sh->free_ev, self->grant,
		     VSHM_REVOKE_FREED);
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
	ASSERT_EQ(0, mem_table_with(&self->vm, SLOT2_GPA, EXTRA_SIZE, mem));
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
	ASSERT_EQ(0, mem_table_with(&self->vm, SLOT2_GPA, EXTRA_SIZE, mem));
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
/* The running kernel is at least major.minor (uname). */
static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/*
 * Moving the memslot under a mapped grant: before 6.7 KVM moves it and the
 * module revokes the grant; since 6.7 KVM refuses to move a memslot while
 * an external page-track notifier (the module's) is registered, and the
 * grant stays, still the guest's memory.
 */
TEST_F_TIMEOUT(vmm, memslot_moved_revokes, TEST_SECS)
{
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	if (kernel_at_least(6, 7)) {
		ASSERT_EQ(-EINVAL, vm_move_slot(&self->vm, 1, MOVED_GPA)) {
			TH_LOG("6.7 and later refuse to move a tracked memslot");
		}
		usleep(500 * 1000);
		EXPECT_TRUE(grant_listed(self->grant));
		EXPECT_EQ(PROBE_DATA, probe_first(self));
		EXPECT_EQ(revoked0, mod_stat("grants_revoked"));
		expect_no_event(_metadata, self, 0);
	} else {
		ASSERT_EQ(0, vm_move_slot(&self->vm, 1, MOVED_GPA));
		expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
	}
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}


/*
 * Since 6.5 vhost lets a VMM give each virtqueue a worker of its own
 * (VHOST_NEW_WORKER, VHOST_ATTACH_VRING_WORKER), but vhost-vsock does not
 * take those requests: its RX and TX virtqueues share the one worker made
 * at VHOST_SET_OWNER. The module relies on that (its works, the packet
 * hook and the host-to-guest path run in that one thread), so this fails
 * if a kernel ever lets a VMM split them. The requests' numbers are the
 * kernel's ABI (6.1's headers lack them).
 */
struct vmm_worker_state {
	unsigned int worker_id;
};

struct vmm_vring_worker {
	unsigned int index;
	unsigned int worker_id;
};

#define VMM_NEW_WORKER		_IOR(VHOST_VIRTIO, 0x8, struct vmm_worker_state)
#define VMM_ATTACH_VRING_WORKER	_IOW(VHOST_VIRTIO, 0x15, struct vmm_vring_worker)

TEST_F_TIMEOUT(vmm, worker_per_virtqueue_refused, TEST_SECS)
{
	struct vmm_worker_state ws = { 0 };
	struct vmm_vring_worker vw = { .index = 1 };

	int r, err;

	ASSERT_EQ(0, start_vm(self));
	r = ioctl(self->vm.vhost_fd, VMM_NEW_WORKER, &ws);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(ENOTTY, err) TH_LOG("VHOST_NEW_WORKER: %s", strerror(err));
	r = ioctl(self->vm.vhost_fd, VMM_ATTACH_VRING_WORKER, &vw);
	err = errno;
	EXPECT_EQ(-1, r);
	EXPECT_EQ(ENOTTY, err) TH_LOG("VHOST_ATTACH_VRING_WORKER: %s", strerror(err));
	/* The device still shares. */
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
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
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MIGRATION);
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
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MIGRATION);
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
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
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

/*
 * Runs the VMM in a child (vmm_child()), which shares two_extents(): on
 * return self->grant is its grant, mapped by the server.
 */
static void vmm_child_start(struct __test_metadata *_metadata,
			    FIXTURE_DATA(vmm) *self)
{
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
}

/* The VMM is SIGKILLed while the server has the region mapped. */
TEST_F_TIMEOUT(vmm, vmm_killed_revokes, TEST_SECS)
{
	long long revoked0, released0;

	vmm_child_start(_metadata, self);
	ASSERT_TRUE(grant_listed(self->grant));
	ASSERT_EQ(PROBE_DATA, probe_first(self));

	revoked0 = mod_stat("grants_revoked");
	released0 = mod_stat("devs_released");
	ASSERT_EQ(0, kill(self->vmm_pid, SIGKILL));
	ASSERT_EQ(self->vmm_pid, waitpid(self->vmm_pid, NULL, 0));
	self->vmm_pid = 0;
	EXPECT_TRUE(WAIT_FOR(mod_stat("devs_released") > released0, REVOKE_MS));
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_DEVICE);
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));
}

/* Sends @fd over the unix socket @sock (SCM_RIGHTS); 0 or -1. */
static int send_fd(int sock, int fd)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receives one fd sent by send_fd() on @sock within @ms; the fd or -1. */
static int recv_fd(int sock, int ms)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *cm;
	int fd = -1;

	if (poll(&pfd, 1, ms) != 1 || recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The VMM shares, hands its /dev/vhost-vsock fd to another process and
 * exits: the device lives on in that process. Since 6.4 the device's vhost
 * worker was a thread of the VMM and is gone with it, so work the module
 * queues never runs. The server then closes its connection: the grant is
 * revoked all the same (on 6.1 the worker, a kthread, is still there).
 */
TEST_F_TIMEOUT(vmm, owner_gone_device_still_open_revokes, TEST_SECS)
{
	long long revoked0;
	struct ctl_rep rep;
	int p[2], sv[2], vhost_fd = -1;
	uint64_t grant = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		close(sv[0]);
		two_extents(&self->sh);
		if (!start_vm(self) && !share_mapped(self) &&
		    !send_fd(sv[1], self->vm.vhost_fd))
			grant = self->grant;
		if (write(p[1], &grant, sizeof(grant)) != sizeof(grant))
			_exit(1);
		/* Exits without closing anything: the kernel does. */
		_exit(grant ? 0 : 1);
	}
	close(p[1]);
	close(sv[1]);
	self->vmm_pid = pid;
	vhost_fd = recv_fd(sv[0], 2 * RECV_MS);
	close(sv[0]);
	ASSERT_EQ((ssize_t)sizeof(grant), read(p[0], &grant, sizeof(grant)));
	close(p[0]);
	ASSERT_NE((uint64_t)0, grant) TH_LOG("the VMM child did not share");
	ASSERT_LE(0, vhost_fd) TH_LOG("no vhost-vsock fd from the VMM child");
	/* Reaped: every thread of the VMM, its vhost worker too, has exited. */
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	self->vmm_pid = 0;
	self->grant = grant;
	two_extents(&self->sh);

	/* The device is open: nothing ended the grant yet. */
	usleep(300 * 1000);
	ASSERT_TRUE(grant_listed(self->grant));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, server_call(&self->srv, CTL_CLOSE_CONN, 0, &rep));
	ASSERT_EQ(0, rep.status);
	/*
	 * 6.4 and later: the server's close finds the worker gone and ends
	 * the whole device; on 6.1 the worker ends the connection.
	 */
	expect_revoked(_metadata, self, revoked0,
		       kernel_at_least(6, 4) ? VSHM_REVOKE_DEVICE :
		       VSHM_REVOKE_CLOSED);
	close(vhost_fd);
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
		expect_event(_metadata, &self->srv.sh->free_ev, self->grant,
			     VSHM_REVOKE_FREED);
	} else {
		EXPECT_EQ(PROBE_SIGBUS, probe_first(self));
	}
	EXPECT_FALSE(grant_listed(self->grant));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* ---- guest-made host messages ---- */

#define FORGED_REGION	8

/*
 * A GPA_LIST the guest turned into an HPA_LIST itself: @sh's extents under
 * grant @grant, for region @region. Only the module may write one.
 */
static ssize_t forge_hpa_list(void *buf, size_t cap, const struct share *sh,
			      uint32_t region, uint64_t grant)
{
	ssize_t n = vshm_encode_gpa_list(buf, cap, region, 0, share_pages(sh),
					 sh->runs, sh->n);

	if (n > 0)
		vshm_wire_mark_hpa(buf, grant);
	return n;
}

/*
 * A guest-made HPA_LIST naming the grant of the guest's live region, its
 * first @first bytes in a packet of their own (too short to be marked
 * REFUSED), the rest in a second one. The server must not take it for the
 * module's: it answers an ERROR for a broken message, maps nothing, and no
 * grant is created.
 */
static void forged_hpa_list_split(struct __test_metadata *_metadata,
				  FIXTURE_DATA(vmm) *self, size_t first)
{
	static unsigned char buf[VSHM_MAX_MSG];
	long long created0;
	struct vshm_msg m;
	ssize_t n;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	created0 = mod_stat("grants_created");
	n = forge_hpa_list(buf, sizeof(buf), &self->sh, FORGED_REGION, self->grant);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, vm_send_split(&self->vm, buf, (size_t)n, first));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_TRUE(m.type == VSHM_MSG_ERROR &&
		    (m.error.code == VSHM_E_MAGIC || m.error.code == VSHM_E_FRAG)) {
		TH_LOG("answer %s, code %s", vshm_msg_type_name(m.type),
		       m.type == VSHM_MSG_ERROR ? vshm_err_name(m.error.code) : "-");
	}
	EXPECT_EQ(0, self->srv.sh->hpa_lists[FORGED_REGION]) {
		TH_LOG("the server took the guest's HPA_LIST for the module's");
	}
	EXPECT_EQ(0, self->srv.sh->maps[FORGED_REGION]) {
		TH_LOG("the server mapped grant %llu as region %d",
		       (unsigned long long)self->grant, FORGED_REGION);
	}
	EXPECT_EQ(created0, mod_stat("grants_created"));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, FORGED_REGION));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* 40 bytes: the header and part of the list's fixed part. */
TEST_F_TIMEOUT(vmm, forged_hpa_list_short_first_fragment, TEST_SECS)
{
	forged_hpa_list_split(_metadata, self, 40);
}

/* 8 bytes: not even the header. */
TEST_F_TIMEOUT(vmm, forged_hpa_list_8_byte_first_fragment, TEST_SECS)
{
	forged_hpa_list_split(_metadata, self, 8);
}

/* 2 bytes: only a prefix of the magic. */
TEST_F_TIMEOUT(vmm, forged_hpa_list_2_byte_first_fragment, TEST_SECS)
{
	forged_hpa_list_split(_metadata, self, 2);
}

/*
 * A connection the module does not track (max_conns_per_vm = 0) has no
 * known message boundaries: the module parses none of its packets, and
 * nothing of it reaches the server as the module's own. A message whose
 * continuation is a whole valid GPA_LIST arrives with its start unchanged
 * and its continuation untranslated (a packet that begins with the magic
 * could start a message, so the module neuters it); a guest-made
 * HPA_LIST in one packet arrives as REFUSED(VSHM_E_QUOTA); one too short
 * to be marked arrives with its magic broken.
 */
TEST_F_TIMEOUT(vmm, untracked_connection_never_parsed, TEST_SECS)
{
	static unsigned char buf[16 + VSHM_MAX_MSG];
	const uint32_t short_len = htole32(40);
	long long seen0, created0;
	struct vshm_msg m;
	uint32_t magic;
	ssize_t n;
	int i;

	ASSERT_EQ(0, param_write("max_conns_per_vm", "0"));
	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	seen0 = mod_stat("lists_seen");
	created0 = mod_stat("grants_created");

	/* 16 ordinary bytes, then, in the same message, a GPA_LIST. */
	memset(buf, 0xa5, 16);
	n = vshm_encode_gpa_list(buf + 16, sizeof(buf) - 16, self->sh.region, 0,
				 share_pages(&self->sh), self->sh.runs, self->sh.n);
	ASSERT_LT(0, n);
	n += 16;
	ASSERT_EQ(0, vm_send_split(&self->vm, buf, (size_t)n, 16));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_EQ(VSHM_MSG_ERROR, m.type);
	EXPECT_EQ((uint32_t)VSHM_E_MAGIC, m.error.code);
	EXPECT_EQ(seen0, mod_stat("lists_seen")) {
		TH_LOG("the module parsed the continuation as a message");
	}
	EXPECT_EQ((uint32_t)n, self->srv.sh->raw_len);
	EXPECT_EQ(0, memcmp((const void *)self->srv.sh->raw, buf, 16)) {
		TH_LOG("the start of the message reached the server changed");
	}
	EXPECT_NE(VSHM_MSG_HPA_LIST, self->srv.sh->raw[16 + 5]) {
		TH_LOG("the continuation was translated");
	}
	EXPECT_TRUE(pins_at(self->base_pins));

	/* A guest-made HPA_LIST, whole. */
	n = forge_hpa_list(buf, sizeof(buf), &self->sh, FORGED_REGION, 1);
	ASSERT_LT(0, n);
	ASSERT_EQ(0, vm_send(&self->vm, buf, (size_t)n));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_EQ(VSHM_MSG_ERROR, m.type);
	EXPECT_EQ((uint32_t)VSHM_E_QUOTA, m.error.code) {
		TH_LOG("answer code %s", vshm_err_name(m.error.code));
	}
	EXPECT_EQ(0, self->srv.sh->hpa_lists[FORGED_REGION]);

	/* The same cut to 40 bytes: too short to be marked REFUSED. */
	memcpy(buf + offsetof(struct vshm_hdr, len), &short_len, sizeof(short_len));
	ASSERT_EQ(0, vm_send(&self->vm, buf, 40));
	ASSERT_EQ(0, guest_recv(&self->vm, &m));
	EXPECT_EQ(VSHM_MSG_ERROR, m.type);
	EXPECT_EQ(40U, self->srv.sh->raw_len);
	for (i = 3, magic = 0; i >= 0; i--)
		magic = magic << 8 | self->srv.sh->raw[i];
	EXPECT_NE((uint32_t)VSHM_MAGIC, magic) {
		TH_LOG("a guest-made list message reached the server with its magic");
	}
	EXPECT_EQ(0, self->srv.sh->hpa_lists[FORGED_REGION]);
	EXPECT_EQ(seen0, mod_stat("lists_seen"));
	EXPECT_EQ(created0, mod_stat("grants_created"));
	EXPECT_TRUE(pins_at(self->base_pins));
}

/* ---- limits ---- */

/*
 * QUOTA_REGIONS regions of QUOTA_REGION_PAGES pages each, in disjoint
 * ranges of slot 1: every region opened with a first chunk of one page
 * before any gets the rest, then the rest in two more chunks. A limit of
 * QUOTA_PAGES pages fits one region: the others must be refused, and the
 * VM must never have more pinned.
 */
#define QUOTA_PAGES		1024
#define QUOTA_REGIONS		4
#define QUOTA_REGION_PAGES	1000
#define QUOTA_CHUNKS		3

/* Chunk c of a region: its pages [quota_chunk[c], quota_chunk[c + 1]). */
static const uint32_t quota_chunk[QUOTA_CHUNKS + 1] = {
	0, 1, 500, QUOTA_REGION_PAGES,
};

struct quota_run {
	int err;		/* -errno or -EPROTO of a step that failed */
	uint8_t answer[QUOTA_REGIONS][QUOTA_CHUNKS]; /* its type; 0: not sent */
	uint32_t code[QUOTA_REGIONS];	/* the ERROR that ended the region */
	uint32_t detail[QUOTA_REGIONS];	/* and its detail */
	long most_mod;		/* most pages the module had pinned at once */
	long most_host;		/* most host pins above the baseline at once */
};

static void quota_region(struct share *sh, unsigned int r)
{
	one_extent(sh, VM_SLOT1_GPA + (uint64_t)r * QUOTA_REGION_PAGES * PAGE,
		   QUOTA_REGION_PAGES);
	sh->region = r + 1;
}

static long mod_pinned(void)
{
	return (long)(mod_stat("pages_pinned") - mod_stat("pages_unpinned"));
}

/* Chunk @c of region @r; its answer and the pins after it go into @q. */
static int quota_send(struct vring_vm *vm, struct quota_run *q, unsigned int r,
		      unsigned int c, long base_pins, long mod0)
{
	static unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	struct vshm_run run;
	struct share sh;
	ssize_t n;
	int ret;

	quota_region(&sh, r);
	run.addr = sh.runs[0].addr + quota_chunk[c] * PAGE;
	run.npages = quota_chunk[c + 1] - quota_chunk[c];
	n = vshm_encode_gpa_list(buf, sizeof(buf), sh.region, quota_chunk[c],
				 QUOTA_REGION_PAGES, &run, 1);
	if (n < 0)
		return (int)n;
	ret = vm_send(vm, buf, (size_t)n);
	if (!ret)
		ret = guest_recv(vm, &m);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	q->answer[r][c] = m.type;
	if (m.type == VSHM_MSG_ERROR) {
		q->code[r] = m.error.code;
		q->detail[r] = m.error.detail;
	}
	if (mod_pinned() - mod0 > q->most_mod)
		q->most_mod = mod_pinned() - mod0;
	if (host_pins() - base_pins > q->most_host)
		q->most_host = host_pins() - base_pins;
	return 0;
}

/* The whole run on @vm's connection, every region freed at the end. */
static void quota_run(struct vring_vm *vm, long base_pins, struct quota_run *q)
{
	long mod0 = mod_pinned();
	struct share sh;
	unsigned int r, c;
	int ret;

	memset(q, 0, sizeof(*q));
	for (r = 0; r < QUOTA_REGIONS && !q->err; r++) {
		quota_region(&sh, r);
		q->err = share_fill(vm, &sh);
		if (!q->err)
			q->err = guest_alloc(vm, &sh);
		if (!q->err)
			q->err = quota_send(vm, q, r, 0, base_pins, mod0);
	}
	for (c = 1; c < QUOTA_CHUNKS && !q->err; c++)
		for (r = 0; r < QUOTA_REGIONS && !q->err; r++)
			if (q->answer[r][c - 1] == VSHM_MSG_CHUNK_OK)
				q->err = quota_send(vm, q, r, c, base_pins, mod0);
	for (r = 0; r < QUOTA_REGIONS; r++) {
		ret = guest_free(vm, r + 1);
		if (ret != VSHM_MSG_FREED && !q->err)
			q->err = ret < 0 ? ret : -EPROTO;
	}
}

/*
 * @code: what a region beyond the limit gets (VSHM_E_QUOTA for the
 * module's page quota, VSHM_E_MEMLOCK for the VMM's RLIMIT_MEMLOCK) with
 * @detail (VSHM_NO_INDEX, or the limit in pages).
 */
static void quota_check(struct __test_metadata *_metadata,
			const struct quota_run *q, uint32_t code, uint32_t detail)
{
	unsigned int r;

	ASSERT_EQ(0, q->err) {
		TH_LOG("the run failed: %s", strerror(-q->err));
	}
	for (r = 0; r < QUOTA_REGIONS; r++)
		TH_LOG("region %u: %s %s %s, code %s", r + 1,
		       vshm_msg_type_name(q->answer[r][0]),
		       vshm_msg_type_name(q->answer[r][1]),
		       vshm_msg_type_name(q->answer[r][2]),
		       q->code[r] ? vshm_err_name(q->code[r]) : "-");
	EXPECT_GE((long)QUOTA_PAGES, q->most_mod) {
		TH_LOG("the module had %ld pages pinned for the VM at once",
		       q->most_mod);
	}
	EXPECT_GE((long)QUOTA_PAGES, q->most_host) {
		TH_LOG("the host had %ld more pages pinned at once", q->most_host);
	}
	EXPECT_EQ(VSHM_MSG_MAPPED, q->answer[0][QUOTA_CHUNKS - 1]);
	for (r = 1; r < QUOTA_REGIONS; r++) {
		EXPECT_EQ(code, q->code[r]) {
			TH_LOG("region %u, beyond the limit, was not refused with %s",
			       r + 1, vshm_err_name(code));
		}
		EXPECT_EQ(detail, q->detail[r]) {
			TH_LOG("region %u: detail %u, expected %u", r + 1,
			       q->detail[r], detail);
		}
	}
}

/* max_pages_per_vm: checked against the whole region at every chunk. */
TEST_F_TIMEOUT(vmm, quota_holds_at_every_chunk, TEST_SECS)
{
	char val[16];
	struct quota_run q;

	snprintf(val, sizeof(val), "%d", QUOTA_PAGES);
	ASSERT_EQ(0, param_write("max_pages_per_vm", val));
	ASSERT_EQ(0, start_vm(self));
	quota_run(&self->vm, self->base_pins, &q);
	quota_check(_metadata, &q, VSHM_E_QUOTA, VSHM_NO_INDEX);
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* Drops @cap from this process's capability sets (capset(2), no libcap). */
static int drop_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	d[CAP_TO_INDEX(cap)].permitted &= ~CAP_TO_MASK(cap);
	d[CAP_TO_INDEX(cap)].inheritable &= ~CAP_TO_MASK(cap);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * A VMM without CAP_IPC_LOCK and with an RLIMIT_MEMLOCK of QUOTA_PAGES
 * pages: the quota run, its result written to @wfd.
 */
static void __attribute__((noreturn))
memlock_vmm_child(FIXTURE_DATA(vmm) *self, int wfd)
{
	struct rlimit rl = { QUOTA_PAGES * PAGE, QUOTA_PAGES * PAGE };
	struct quota_run q = { 0 };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	q.err = drop_cap(CAP_IPC_LOCK);
	if (!q.err && setrlimit(RLIMIT_MEMLOCK, &rl))
		q.err = -errno;
	if (!q.err)
		q.err = start_vm(self);
	if (!q.err)
		quota_run(&self->vm, self->base_pins, &q);
	if (write(wfd, &q, sizeof(q)) != sizeof(q))
		_exit(1);
	_exit(0);
}

/*
 * The VMM's RLIMIT_MEMLOCK: the same, for that VM, refused with a code of
 * its own whose detail is the limit (libvirt's QEMU has 8 MiB by default:
 * docs/libvirt.md).
 */
TEST_F_TIMEOUT(vmm, quota_holds_at_every_chunk_memlock, TEST_SECS)
{
	struct quota_run q;
	struct pollfd pfd;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	fflush(NULL);
	self->vmm_pid = fork();
	ASSERT_LE(0, self->vmm_pid);
	if (self->vmm_pid == 0) {
		close(p[0]);
		memlock_vmm_child(self, p[1]);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, TEST_SECS * 1000 / 2));
	ASSERT_EQ((ssize_t)sizeof(q), read(p[0], &q, sizeof(q)));
	close(p[0]);
	ASSERT_EQ(self->vmm_pid, waitpid(self->vmm_pid, NULL, 0));
	self->vmm_pid = 0;
	/* The guest learns the limit: its text can name the numbers. */
	quota_check(_metadata, &q, VSHM_E_MEMLOCK, QUOTA_PAGES);
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* ---- grants end with the connection's host socket ---- */

/*
 * The VMM stops the device (VHOST_VSOCK_SET_RUNNING 0): its guest's
 * connections go, and their grants with them.
 */
TEST_F_TIMEOUT(vmm, set_running_0_revokes, TEST_SECS)
{
	long long revoked0;
	int run = 0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, ioctl(self->vm.vhost_fd, VHOST_VSOCK_SET_RUNNING, &run));
	self->vm.running = false;
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_DEVICE);
}

/* The guest's CID changes: the connections of the old one are gone. */
TEST_F_TIMEOUT(vmm, cid_change_revokes, TEST_SECS)
{
	uint64_t cid = test_cid() + 0x1000000;
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, ioctl(self->vm.vhost_fd, VHOST_VSOCK_SET_GUEST_CID, &cid));
	self->vm.cid = cid;
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_DEVICE);
}

/*
 * The server closes its socket while the guest gives the device no RX
 * buffer: the host's SHUTDOWN (and the RST of its close timeout) stay
 * queued in the device and never pass the hook that sees host packets.
 * The grant ends with the host's socket all the same.
 */
TEST_F_TIMEOUT(vmm, server_close_with_rx_withheld_revokes, TEST_SECS)
{
	struct ctl_rep rep;
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	ASSERT_EQ(0, vm_rx_exhaust(&self->vm, RECV_MS));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, server_call(&self->srv, CTL_CLOSE_CONN, 0, &rep));
	ASSERT_EQ(0, rep.status);
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_CLOSED);
	/* And the guest has still heard nothing of it. */
	EXPECT_EQ(0, vm_poll(&self->vm, 0));
	EXPECT_EQ(0U, self->vm.conn.peer_shutdown);
	EXPECT_FALSE(self->vm.conn.reset);
}

/*
 * A later connection from the same guest port to the same server port is
 * another connection: its socket does not authorize the grants of the
 * first. The first ends without the module seeing it (no RX buffer, the
 * server closes its socket); once the host dropped that socket (its close
 * timeout), the guest connects again from the same port and the server
 * asks the mapper for the old grant with its new socket.
 */
TEST_F_TIMEOUT(vmm, later_connection_same_ports_cannot_map_old_grant, TEST_SECS)
{
	struct ctl_rep rep;
	int64_t end;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(0, vm_rx_exhaust(&self->vm, RECV_MS));
	ASSERT_EQ(0, server_call(&self->srv, CTL_CLOSE_CONN, 0, &rep));
	ASSERT_EQ(0, rep.status);

	/* The host's RESPONSE stays queued too: the server's accept() tells. */
	self->vm.local_port = self->vm.conn.local_port;
	end = now_ms() + CLOSE_WAIT_MS;
	while (self->srv.sh->conns < 2 && now_ms() < end) {
		ASSERT_EQ(0, vm_connect_start(&self->vm, self->port));
		if (WAIT_FOR(self->srv.sh->conns >= 2, 1000))
			break;
	}
	ASSERT_EQ(2, self->srv.sh->conns) {
		TH_LOG("no new connection from port %u within %d ms",
		       self->vm.local_port, CLOSE_WAIT_MS);
	}
	ASSERT_EQ(0, server_call(&self->srv, CTL_MAP_GRANT, self->grant, &rep));
	EXPECT_TRUE(rep.status == -EACCES || rep.status == -ENOENT) {
		TH_LOG("MAP_GRANT of grant %llu with the new connection's socket: %s",
		       (unsigned long long)self->grant,
		       rep.status ? strerror(-rep.status) : "allowed");
	}
}

/* ---- the VMM's memory under a grant, and what may be shared ---- */

/*
 * A balloon or virtio-mem discard: the VMM drops the pages of the region's
 * first extent (MADV_DONTNEED) and the guest writes there again, into new
 * pages. The memslots do not change: the module's watch revokes the grant.
 */
TEST_F_TIMEOUT(vmm, vmm_discards_memory_revokes, TEST_SECS)
{
	long long revoked0, mem0 = mod_stat("grants_revoked_memory");
	uint64_t *w;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, madvise(vm_gpa_to_hva(&self->vm, self->sh.runs[0].addr),
			     self->sh.runs[0].npages * PAGE, MADV_DONTNEED));
	w = share_word(&self->vm, &self->sh, 0);
	ASSERT_NE(NULL, w);
	*w = 0x600d600d600d600dULL;
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
	EXPECT_TRUE(WAIT_FOR(mod_stat("grants_revoked_memory") > mem0, REVOKE_MS));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * Guest RAM in a shared memfd (QEMU's memory-backend-memfd): the VMM
 * punches a hole under the region (MADV_REMOVE is fallocate's
 * PUNCH_HOLE on the memfd) and the guest writes there again.
 */
TEST_F_TIMEOUT(vmm, memfd_hole_punched_revokes, TEST_SECS)
{
	long long revoked0;
	uint64_t *w;

	ASSERT_EQ(0, start_vm_backed(self, VM_RAM_MEMFD));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, madvise(vm_gpa_to_hva(&self->vm, self->sh.runs[0].addr),
			     self->sh.runs[0].npages * PAGE, MADV_REMOVE));
	w = share_word(&self->vm, &self->sh, 0);
	ASSERT_NE(NULL, w);
	*w = 0x600d600d600d600dULL;
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * One GPA_LIST of 2048 one-page extents, 32,816 bytes in one packet: since
 * 6.12.69 a guest packet that large reaches the module in pages rather than
 * linear. Either way it is translated, pinned and mapped whole.
 */
TEST_F_TIMEOUT(vmm, gpa_list_over_32k_mapped, TEST_SECS)
{
	unsigned int i;

	ASSERT_EQ(0, start_vm(self));
	self->sh.region = REGION;
	self->sh.n = SHARE_MAX_RUNS;
	for (i = 0; i < SHARE_MAX_RUNS; i++)
		self->sh.runs[i] = (struct vshm_run){
			VM_SLOT1_GPA + 2ULL * i * PAGE, 1,
		};
	ASSERT_LT(32768, (int)VSHM_GPA_LIST_SIZE(SHARE_MAX_RUNS));
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* The VMM maps other memory over the region (munmap + mmap at the address). */
TEST_F_TIMEOUT(vmm, vmm_remaps_memory_revokes, TEST_SECS)
{
	long long revoked0;
	void *hva, *p;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	hva = vm_gpa_to_hva(&self->vm, self->sh.runs[1].addr);
	ASSERT_NE(NULL, hva);
	p = mmap(hva, self->sh.runs[1].npages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(hva, p);
	memset(p, 0x22, self->sh.runs[1].npages * PAGE);
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_MEMMAP);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* An extra memslot of 16 pages at SLOT2_GPA, backed by @mem, with @flags. */
static void share_in_slot2(struct __test_metadata *_metadata,
			   FIXTURE_DATA(vmm) *self, void *mem, uint32_t flags,
			   bool in_mem_table, int code)
{
	long long pinned0 = mod_stat("pages_pinned");

	ASSERT_EQ(0, vm_set_slot(&self->vm, 2, SLOT2_GPA, EXTRA_SIZE, mem, flags));
	if (in_mem_table)
		ASSERT_EQ(0, mem_table_with(&self->vm, SLOT2_GPA, EXTRA_SIZE, mem));
	one_extent(&self->sh, SLOT2_GPA, 16);
	EXPECT_EQ(code, share_refused(self, false));
	EXPECT_EQ(code, self->srv.sh->refused_code);
	EXPECT_EQ(pinned0, mod_stat("pages_pinned"));
	EXPECT_TRUE(pins_at(self->base_pins));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/*
 * Memory the device's memory table does not cover (QEMU leaves out VGA
 * memory, for one, and sizes vhost's dirty log by that table): never
 * shared, so never marked past the end of the log.
 */
TEST_F_TIMEOUT(vmm, memslot_outside_mem_table_refused, TEST_SECS)
{
	void *mem = map_extra();

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, start_vm(self));
	share_in_slot2(_metadata, self, mem, 0, false, VSHM_E_NOTMAPPABLE);
}

/*
 * A memslot whose dirty pages KVM logs (a migration in progress): busy,
 * the guest tries again later; nothing is shared that the log could miss.
 */
TEST_F_TIMEOUT(vmm, logged_memslot_refused, TEST_SECS)
{
	void *mem = map_extra();

	ASSERT_NE(NULL, mem);
	ASSERT_EQ(0, start_vm(self));
	share_in_slot2(_metadata, self, mem, KVM_MEM_LOG_DIRTY_PAGES, true,
		       VSHM_E_BUSY);
}

/*
 * Guest RAM in a shared mapping of a file system's page cache (ramfs here:
 * not shmem, not hugetlb): a writable long-term pin of it would defeat
 * writeback, so nothing is pinned.
 */
TEST_F_TIMEOUT(vmm, file_backed_memslot_refused, TEST_SECS)
{
	char dir[] = "/tmp/vshm-ramfs-XXXXXX", path[64];
	void *mem = MAP_FAILED;
	int fd = -1;

	ASSERT_NE(NULL, mkdtemp(dir));
	ASSERT_EQ(0, mount("vshm", dir, "ramfs", 0, NULL));
	snprintf(path, sizeof(path), "%s/ram", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 && !ftruncate(fd, EXTRA_SIZE))
		mem = mmap(NULL, EXTRA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
	if (mem != MAP_FAILED) {
		memset(mem, 0x33, EXTRA_SIZE);
		if (!start_vm(self))
			share_in_slot2(_metadata, self, mem, 0, true, VSHM_E_PIN);
		else
			TH_LOG("no VM");
	}
	if (self->vm_up)
		vm_destroy(&self->vm);
	self->vm_up = false;
	if (mem != MAP_FAILED)
		munmap(mem, EXTRA_SIZE);
	if (fd >= 0)
		close(fd);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	ASSERT_NE(MAP_FAILED, mem);
}

/* A KVM VM fd made by a child process, passed to us: returns our fd. */
static int foreign_vm_fd(pid_t *pid)
{
	int sv[2], fd = -1;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL);
	*pid = fork();
	if (*pid == 0) {
		struct kvm_userspace_memory_region r = {
			.slot = 1, .guest_phys_addr = VM_SLOT1_GPA,
			.memory_size = VM_SLOT1_SIZE,
		};
		int kvm, vm;
		void *mem, *gap;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
		/*
		 * Away from where the parent maps its own guest RAM next, so
		 * that a translation through this VM cannot land in it.
		 */
		gap = mmap(NULL, 4 * VM_RAM_SIZE, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		mem = mmap(NULL, VM_SLOT1_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (vm < 0 || gap == MAP_FAILED || mem == MAP_FAILED)
			_exit(1);
		memset(mem, 0x5a, VM_SLOT1_SIZE);
		r.userspace_addr = (uintptr_t)mem;
		if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r))
			_exit(1);
		if (send_fd(sv[1], vm))
			_exit(1);
		for (;;)
			pause();
	}
	close(sv[1]);
	if (*pid > 0)
		fd = recv_fd(sv[0], 2 * RECV_MS);
	close(sv[0]);
	return fd;
}

/*
 * The VMM holds another VM's fd, passed to it, at a lower number than its
 * own: the device still serves the VM whose memory is the VMM's (the share
 * is mapped with the guest's own pattern), never the first KVM fd found.
 */
TEST_F_TIMEOUT(vmm, foreign_vm_fd_ignored, TEST_SECS)
{
	pid_t pid = -1;
	int fd = foreign_vm_fd(&pid);

	ASSERT_LE(0, fd) {
		TH_LOG("no VM fd from the child: %s", strerror(-fd));
	}
	self->vmm_pid = pid;	/* killed by the teardown */
	ASSERT_EQ(0, start_vm(self));
	ASSERT_LT(fd, self->vm.vm_fd);
	two_extents(&self->sh);
	EXPECT_EQ(0, share_mapped(self));
	EXPECT_EQ(0, self->srv.sh->pattern_bad);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
	close(fd);
}

/*
 * Server threads map the grant, read every page and unmap it, over and over,
 * while the VMM is killed (the device's release revokes the grant and the
 * VMM's memory is freed right after). L1 boots with init_on_free=1: a page
 * reached after its release reads zeros. Every read must give the server's
 * mark or SIGBUS, whatever a mapping was doing (being made, faulted in,
 * unmapped) when the revocation came.
 */
TEST_F_TIMEOUT(vmm, revocation_races_munmap, TEST_SECS)
{
	long long revoked0;
	struct ctl_rep rep;
	long reads;

	vmm_child_start(_metadata, self);
	ASSERT_EQ(PROBE_DATA, probe_first(self));

	ASSERT_EQ(0, server_call(&self->srv, CTL_CHURN_START, 0, &rep));
	ASSERT_EQ(0, rep.status);
	ASSERT_TRUE(WAIT_FOR(self->srv.sh->churn_maps > 50, REVOKE_MS));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, kill(self->vmm_pid, SIGKILL));
	ASSERT_EQ(self->vmm_pid, waitpid(self->vmm_pid, NULL, 0));
	self->vmm_pid = 0;
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_DEVICE);
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->churn_done == CHURN_THREADS, REVOKE_MS)) {
		TH_LOG("%d of %d threads still map the grant", CHURN_THREADS -
		       self->srv.sh->churn_done, CHURN_THREADS);
	}
	reads = self->srv.sh->churn_reads;
	TH_LOG("%ld maps, %ld reads, %d SIGBUS, last mmap refused: %s",
	       self->srv.sh->churn_maps, reads, self->srv.sh->churn_sigbus,
	       strerror(self->srv.sh->churn_errno));
	EXPECT_LT(50, reads);
	EXPECT_EQ(0, self->srv.sh->churn_bad) {
		TH_LOG("%d reads gave %#llx, not the mark: a page reached after its release",
		       self->srv.sh->churn_bad,
		       (unsigned long long)self->srv.sh->churn_bad_value);
	}
}

/*
 * The host-physical addresses of an HPA_LIST are for a server with
 * CAP_SYS_ADMIN, as /proc/PID/pagemap's PFNs are: one without gets zeros,
 * and maps the region all the same.
 */
TEST_F_TIMEOUT(vmm, hpa_hidden_without_cap_sys_admin, TEST_SECS)
{
	long ext0, nonzero0;
	struct ctl_rep rep;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_EQ(self->srv.sh->hpa_ext, self->srv.sh->hpa_nonzero) {
		TH_LOG("a server with CAP_SYS_ADMIN got zeros");
	}
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	ASSERT_EQ(0, vm_reset(&self->vm));
	ASSERT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));

	/* The next connection is accepted by a server without it. */
	ASSERT_EQ(0, server_call(&self->srv, CTL_DROP_CAP, CAP_SYS_ADMIN, &rep));
	ASSERT_EQ(0, rep.status);
	ext0 = self->srv.sh->hpa_ext;
	nonzero0 = self->srv.sh->hpa_nonzero;
	ASSERT_EQ(0, vm_connect(&self->vm, self->port, RECV_MS));
	ASSERT_EQ(0, share_mapped(self));
	EXPECT_LT(ext0, self->srv.sh->hpa_ext);
	EXPECT_EQ(nonzero0, self->srv.sh->hpa_nonzero) {
		TH_LOG("%ld host-physical addresses shown to a server without CAP_SYS_ADMIN",
		       self->srv.sh->hpa_nonzero - nonzero0);
	}
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* ---- the mapper's revocation events ---- */

/* The guest resets its connection (RST): the grant ends with it. */
TEST_F_TIMEOUT(vmm, guest_reset_revokes_closed, TEST_SECS)
{
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	ASSERT_EQ(0, vm_reset(&self->vm));
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_CLOSED);
	EXPECT_TRUE(WAIT_FOR(self->srv.sh->conn_ended, REVOKE_MS));
}

/*
 * Sends the last chunk of @sh again, for its region, mapped and complete:
 * refused (VSHM_E_ORDER), which ends the region. Returns the ERROR code
 * the guest is answered with, or -errno.
 */
static int send_stray_chunk(FIXTURE_DATA(vmm) *self, const struct share *sh)
{
	static unsigned char buf[VSHM_MAX_MSG];
	const struct vshm_run *last = &sh->runs[sh->n - 1];
	struct vshm_msg m;
	ssize_t n;
	int ret;

	n = vshm_encode_gpa_list(buf, sizeof(buf), sh->region,
				 share_pages(sh) - last->npages,
				 share_pages(sh), last, 1);
	if (n < 0)
		return (int)n;
	ret = vm_send(&self->vm, buf, (size_t)n);
	if (!ret)
		ret = guest_recv(&self->vm, &m);
	if (ret)
		return ret < 0 ? ret : -EPROTO;
	return m.type == VSHM_MSG_ERROR ? (int)m.error.code : -EPROTO;
}

/* A chunk that does not continue a mapped region ends it: REFUSED. */
TEST_F_TIMEOUT(vmm, stray_chunk_of_mapped_region_revokes, TEST_SECS)
{
	long long revoked0;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&self->sh);
	ASSERT_EQ(0, share_mapped(self));
	ASSERT_EQ(PROBE_DATA, probe_first(self));
	revoked0 = mod_stat("grants_revoked");
	EXPECT_EQ(VSHM_E_ORDER, send_stray_chunk(self, &self->sh));
	expect_revoked(_metadata, self, revoked0, VSHM_REVOKE_REFUSED);
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
}

/* Region @region of 16 pages, two extents of 8 from @gpa on, 1 MiB apart. */
static void two_small_extents(struct share *sh, uint32_t region, uint64_t gpa)
{
	*sh = (struct share){
		.region = region, .n = 2,
		.runs = { { gpa, 8 }, { gpa + VM_MIB, 8 } },
	};
}

/*
 * The mapper's read(2)/poll(2) contract on one file with three grants:
 * nothing pending, poll times out and a nonblocking read is EAGAIN; a
 * second MAP_GRANT of a grant still gives one event; a read into no memory
 * is EFAULT and loses nothing; a blocking read waits for the revocation;
 * UNMAP_GRANT drops an event not read yet.
 */
TEST_F_TIMEOUT(vmm, revocation_events_contract, TEST_SECS)
{
	struct share a, b, c;
	uint64_t ga, gb, gc;
	struct ctl_rep rep;

	ASSERT_EQ(0, start_vm(self));
	two_extents(&a);
	two_small_extents(&b, REGION + 2, VM_SLOT1_GPA + 4 * VM_MIB);
	two_small_extents(&c, REGION + 3, VM_SLOT1_GPA + 6 * VM_MIB);
	self->sh = b;
	ASSERT_EQ(0, share_mapped(self));
	gb = self->grant;
	self->sh = c;
	ASSERT_EQ(0, share_mapped(self));
	gc = self->grant;
	self->sh = a;
	ASSERT_EQ(0, share_mapped(self));
	ga = self->grant;

	expect_no_event(_metadata, self, 200);

	/* A: mapped twice on the file, refused into no memory first. */
	ASSERT_EQ(0, server_call(&self->srv, CTL_REMAP, ga, &rep));
	ASSERT_EQ(0, rep.status);
	EXPECT_EQ(VSHM_E_ORDER, send_stray_chunk(self, &a));
	ASSERT_TRUE(WAIT_FOR(!grant_listed(ga), REVOKE_MS));
	ASSERT_EQ(0, server_call(&self->srv, CTL_EVENTS_FAULT, 0, &rep));
	EXPECT_EQ(-EFAULT, rep.status);
	ASSERT_EQ(0, server_call(&self->srv, CTL_EVENTS, REVOKE_MS, &rep));
	expect_event(_metadata, &self->srv.sh->ev, ga, VSHM_REVOKE_REFUSED);

	/* B: the server blocks in read(2) before B is revoked. */
	ASSERT_EQ(0, server_ask(&self->srv, CTL_READ_BLOCK, 0));
	usleep(300 * 1000);
	EXPECT_EQ(VSHM_E_ORDER, send_stray_chunk(self, &b));
	ASSERT_EQ(0, server_answer(&self->srv, &rep));
	EXPECT_EQ(1, rep.status);
	EXPECT_EQ(1, self->srv.sh->ev.n);
	EXPECT_EQ(gb, self->srv.sh->ev.grant[0]);
	EXPECT_EQ((uint32_t)VSHM_REVOKE_REFUSED, self->srv.sh->ev.reason[0]);
	EXPECT_EQ(EAGAIN, self->srv.sh->ev.after);

	/* C: revoked, pending, then unmapped: its event goes too. */
	EXPECT_EQ(VSHM_E_ORDER, send_stray_chunk(self, &c));
	ASSERT_TRUE(WAIT_FOR(!grant_listed(gc), REVOKE_MS));
	ASSERT_EQ(0, server_call(&self->srv, CTL_POLL, 0, &rep));
	EXPECT_EQ(POLLIN | POLLRDNORM, rep.status);
	ASSERT_EQ(0, server_call(&self->srv, CTL_UNMAP, gc, &rep));
	ASSERT_EQ(0, rep.status);
	expect_no_event(_metadata, self, 200);

	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, a.region));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, b.region));
	EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, c.region));
	EXPECT_TRUE(WAIT_FOR(pins_at(self->base_pins), REVOKE_MS));
}

/* The results outside_hook.bpf.c keeps in its .data. */
struct outside_results {
	int calls;
	int translate_ret;
	int verdict_ret;
	int allow_ret;
};

/* $VMM_BPF, else outside_hook.bpf.o beside this program. */
static void outside_hook_path(char *path, size_t cap)
{
	const char *env = getenv("VMM_BPF");
	ssize_t n;
	char *slash;

	if (env) {
		snprintf(path, cap, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", path, cap - 32);
	path[n > 0 ? n : 0] = 0;
	slash = strrchr(path, '/');
	snprintf(slash ? slash + 1 : path, 32, "outside_hook.bpf.o");
}

/*
 * A BPF program on a function of the module that gets a packet's context
 * after its policies ran (fentry on vsock_shm_grant_chunk) calls every
 * kfunc with it: each is refused (-EPERM), and the share goes on as the
 * policy decided.
 */
TEST_F_TIMEOUT(vmm, kfuncs_refused_outside_the_hook, TEST_SECS)
{
	struct outside_results res = { 0 };
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	struct bpf_object *obj;
	struct bpf_map *data;
	char path[512];
	int zero = 0;

	outside_hook_path(path, sizeof(path));
	obj = bpf_object__open_file(path, NULL);
	ASSERT_NE(NULL, obj) {
		TH_LOG("%s: %s", path, strerror(errno));
	}
	ASSERT_EQ(0, bpf_object__load(obj)) {
		bpf_object__close(obj);
	}
	prog = bpf_object__find_program_by_name(obj, "outside_hook");
	data = bpf_object__find_map_by_name(obj, ".data");
	if (prog)
		link = bpf_program__attach(prog);
	EXPECT_NE(NULL, link);
	EXPECT_NE(NULL, data);

	if (link && data && !start_vm(self)) {
		two_extents(&self->sh);
		EXPECT_EQ(0, share_mapped(self));
		EXPECT_EQ(0, bpf_map_lookup_elem(bpf_map__fd(data), &zero, &res));
		EXPECT_LT(0, res.calls) {
			TH_LOG("the program never ran");
		}
		EXPECT_EQ(-EPERM, res.translate_ret);
		EXPECT_EQ(-EPERM, res.verdict_ret);
		EXPECT_EQ(-EPERM, res.allow_ret);
		EXPECT_EQ(VSHM_MSG_FREED, guest_free(&self->vm, self->sh.region));
	}
	bpf_link__destroy(link);
	bpf_object__close(obj);
}

/*
 * TEST_HARNESS_MAIN, plus "-t NAME" (repeatable): only the tests so named
 * run. The harness of 6.1 has no filter of its own (one older than its
 * constructor ordering is taken for it); later ones take "-t" themselves.
 */
#ifdef _CONSTRUCTOR_ORDER_BACKWARD
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

/* Is @name among the "-t NAME" arguments? NULL @name: is there any? */
static bool test_named(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "-t") && (!name || !strcmp(argv[i + 1], name)))
			return true;
	return false;
}

/* Keeps only the tests named with "-t". */
static void tests_filter(int argc, char **argv)
{
	struct __test_metadata *t, *next, **tail;
	struct __fixture_metadata *f;

	if (!test_named(argc, argv, NULL))
		return;
	for (f = __fixture_list; f; f = f->next) {
		tail = &f->tests;
		for (t = f->tests; t; t = next) {
			next = t->next;
			if (!test_named(argc, argv, t->name))
				continue;
			*tail = t;
			tail = &t->next;
		}
		*tail = NULL;
	}
}
#else
static void tests_filter(int argc, char **argv)
{
}
#endif

int main(int argc, char **argv)
{
	tests_filter(argc, argv);
	params_save();
	return test_harness_run(argc, argv);
}
