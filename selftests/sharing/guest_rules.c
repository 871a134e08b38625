// SPDX-License-Identifier: GPL-2.0
/*
 * guest_rules: one test per validation rule of the sharing path, run in an
 * L2 guest against vshm-server on the host with a policy loaded. Each case
 * opens its own connection, sends a request that breaks one rule and checks
 * that the host answers with the ERROR code the protocol defines for it.
 * TAP on stdout.
 *
 *   guest_rules PORT [--no-policy | --quota | --ram-end ADDR]
 *
 * The shares that must succeed carry the pattern vshm-server checks. *
 * With --no-policy (no policy loaded on the host) the single case checks
 * that a valid GPA_LIST is answered VSHM_E_NOPOLICY; with --quota (the host
 * set max_pages_per_vm to 4) that 8 pages are refused VSHM_E_QUOTA.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "extent.h"
#include "pagemap.h"
#include "pattern.h"
#include "privport.h"
#include "proto.h"

#define HOST_CID	2
#define TIMEOUT_MS	20000

static unsigned int port;
static uint64_t ram_end = 0x10000000;	/* the guest's RAM size: -m */
static int test_nr;
static int failed;

/* Page-aligned memory of this process and the GPA of each of its pages. */
static unsigned char *mem;
static uint64_t gpa[8];

static int vconnect(void)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port,
	};
	int s = socket(AF_VSOCK, SOCK_SEQPACKET, 0);

	/* Root shares from a privileged port, as the guest library does. */
	if (s < 0 || vshm_bind_privileged(s) ||
	    connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "guest_rules: connect %u:%u: %s\n", HOST_CID,
			port, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/* Receives one message; returns its decoded type, or -1. */
static int vrecv(int s, struct vshm_msg *m, unsigned char *buf, size_t cap)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		return -1;
	n = recv(s, buf, cap, 0);
	if (n <= 0 || vshm_decode(buf, (size_t)n, m))
		return -1;
	return m->type;
}

static int vsend(int s, const void *buf, size_t len)
{
	return send(s, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void report(const char *name, int ok, const char *why)
{
	printf("%sok %d %s # %s\n", ok ? "" : "not ", ++test_nr, name, why);
	fflush(stdout);
	if (!ok)
		failed++;
}

/* got < 0: no ERROR reply at all. */
static void report_code(const char *name, int got, uint32_t expected)
{
	char why[160];

	snprintf(why, sizeof(why), "got %s, expected %s",
		 got < 0 ? "no ERROR reply" : vshm_err_name(got),
		 vshm_err_name((int)expected));
	report(name, got == (int)expected, why);
}

/* ALLOC of npages 4 KiB pages for region; 0 when ALLOC_OK came back. */
static int alloc_region(int s, uint32_t region, uint32_t npages)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t n = vshm_encode_alloc(buf, sizeof(buf), region,
				      (uint64_t)npages * 4096, 4096,
				      VSHM_ACCESS_READ | VSHM_ACCESS_WRITE);

	if (n < 0 || vsend(s, buf, (size_t)n))
		return -1;
	return vrecv(s, &m, buf, sizeof(buf)) == VSHM_MSG_ALLOC_OK ? 0 : -1;
}

/* A valid one-chunk GPA_LIST of the given runs, to be broken by a case. */
static ssize_t list_of(unsigned char *buf, uint32_t region,
		       const struct vshm_run *runs, size_t n)
{
	uint32_t total = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total += runs[i].npages;
	return vshm_encode_gpa_list(buf, VSHM_MAX_MSG, region, 0, total, runs, n);
}

static void le32_at(unsigned char *p, uint32_t v) { put_unaligned_le32(v, p); }
static void le64_at(unsigned char *p, uint64_t v) { put_unaligned_le64(v, p); }

/*
 * Sends msg (len bytes) on a fresh connection, after an ALLOC for region 1
 * of npages pages when npages != 0, and checks the ERROR code.
 */
static void expect_error(const char *name, const unsigned char *msg,
			 size_t len, uint32_t npages, uint32_t code)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	int s = vconnect(), t;

	if (s < 0 || (npages && alloc_region(s, 1, npages)) || vsend(s, msg, len)) {
		report(name, 0, "no connection or ALLOC refused");
		goto out;
	}
	t = vrecv(s, &m, buf, sizeof(buf));
	if (t != VSHM_MSG_ERROR)
		report_code(name, -1, code);
	else
		report_code(name, (int)m.error.code, code);
out:
	if (s >= 0)
		close(s);
}

static void run_list_case(const char *name, const struct vshm_run *runs,
			  size_t n, uint32_t code)
{
	unsigned char buf[VSHM_MAX_MSG];
	ssize_t len = list_of(buf, 1, runs, n);
	uint32_t total = 0;
	size_t i;

	for (i = 0; i < n; i++)
		total += runs[i].npages;
	if (len < 0) {
		report(name, 0, "cannot encode");
		return;
	}
	expect_error(name, buf, (size_t)len, total, code);
}

static void case_dup_across_regions(void)
{
	const char *name = "page_in_two_live_regions";
	struct vshm_run r = { gpa[0], 1 };
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t len;
	int s = vconnect(), t;

	vshm_pattern_fill(mem, 4096, VSHM_PATTERN_DEFAULT_SEED, 1);
	if (s < 0 || alloc_region(s, 1, 1)) {
		report(name, 0, "setup failed");
		goto out;
	}
	len = list_of(buf, 1, &r, 1);
	if (len < 0 || vsend(s, buf, (size_t)len) ||
	    vrecv(s, &m, buf, sizeof(buf)) != VSHM_MSG_MAPPED) {
		report(name, 0, "first region not mapped");
		goto out;
	}
	if (alloc_region(s, 2, 1)) {
		report(name, 0, "second ALLOC refused");
		goto out;
	}
	len = list_of(buf, 2, &r, 1);
	t = (len < 0 || vsend(s, buf, (size_t)len)) ? -1 :
		vrecv(s, &m, buf, sizeof(buf));
	if (t != VSHM_MSG_ERROR)
		report_code(name, -1, VSHM_E_DUP);
	else
		report_code(name, (int)m.error.code, VSHM_E_DUP);
	len = vshm_encode_free(buf, sizeof(buf), 1);
	if (len < 0 || vsend(s, buf, (size_t)len) ||
	    vrecv(s, &m, buf, sizeof(buf)) != VSHM_MSG_FREED)
		report("free_after_refusal", 0, "no FREED");
	else
		report("free_after_refusal", 1, "FREED");
out:
	if (s >= 0)
		close(s);
}

static void case_free_rules(void)
{
	unsigned char buf[VSHM_MAX_MSG];
	ssize_t len = vshm_encode_free(buf, sizeof(buf), 77);

	expect_error("free_of_unknown_region", buf, (size_t)len, 0,
		     VSHM_E_NOREGION);
}

/* The host runs this with max_pages_per_vm = 4: 8 pages are over it. */
static void case_quota(void)
{
	struct vshm_run runs[8];
	size_t n;
	int i;

	for (i = 0; i < 8; i++)
		runs[i] = (struct vshm_run){ gpa[i], 1 };
	n = (size_t)vshm_coalesce(gpa, 8, runs, 8);
	run_list_case("over_vm_page_quota", runs, n, VSHM_E_QUOTA);
}

static void case_valid_share(void)
{
	const char *name = "valid_share_and_free";
	struct vshm_run r = { gpa[1], 1 };
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t len;
	int s = vconnect(), ok = 0;

	vshm_pattern_fill(mem + 4096, 4096, VSHM_PATTERN_DEFAULT_SEED, 5);
	if (s >= 0 && !alloc_region(s, 5, 1)) {
		len = list_of(buf, 5, &r, 1);
		if (len > 0 && !vsend(s, buf, (size_t)len) &&
		    vrecv(s, &m, buf, sizeof(buf)) == VSHM_MSG_MAPPED) {
			len = vshm_encode_free(buf, sizeof(buf), 5);
			ok = len > 0 && !vsend(s, buf, (size_t)len) &&
			     vrecv(s, &m, buf, sizeof(buf)) == VSHM_MSG_FREED;
			/* A second FREE of the same region: double free. */
			if (ok) {
				len = vshm_encode_free(buf, sizeof(buf), 5);
				ok = !vsend(s, buf, (size_t)len) &&
				     vrecv(s, &m, buf, sizeof(buf)) == VSHM_MSG_ERROR &&
				     m.error.code == VSHM_E_NOREGION;
			}
		}
	}
	report(name, ok, "MAPPED, FREED, then double free refused");
	if (s >= 0)
		close(s);
}

/* A message alone on a fresh connection (no ALLOC first). */
static void expect_alone(const char *name, const unsigned char *msg,
			 size_t len, uint32_t code)
{
	expect_error(name, msg, len, 0, code);
}

static ssize_t alloc_msg(unsigned char *buf, uint32_t region, uint64_t size,
			 uint32_t page_size, uint32_t access)
{
	/* Encoded valid, then patched: the encoder refuses bad values. */
	ssize_t len = vshm_encode_alloc(buf, VSHM_MAX_MSG, region, 4096, 4096,
					VSHM_ACCESS_READ);

	if (len > 0) {
		le64_at(buf + 16, size);
		le32_at(buf + 24, page_size);
		le32_at(buf + 28, access);
		le32_at(buf + 32, (uint32_t)(size / 4096));
	}
	return len;
}

/* A sequence on one connection: chunk answers inside a live region. */
static void case_chunk_sequence(void)
{
	struct vshm_run r0 = { gpa[6], 1 }, r1 = { gpa[7], 1 };
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t len;
	int s = vconnect(), t;

	/* Region 3: 2 pages in two chunks; the first gets CHUNK_OK. */
	vshm_pattern_fill(mem + 6 * 4096, 2 * 4096, VSHM_PATTERN_DEFAULT_SEED, 3);
	if (s < 0 || alloc_region(s, 3, 2)) {
		report("chunk_repeated_in_live_region", 0, "setup failed");
		goto out;
	}
	len = vshm_encode_gpa_list(buf, sizeof(buf), 3, 0, 2, &r0, 1);
	t = (len < 0 || vsend(s, buf, (size_t)len)) ? -1 :
		vrecv(s, &m, buf, sizeof(buf));
	report("first_chunk_answered_chunk_ok", t == VSHM_MSG_CHUNK_OK,
	       t == VSHM_MSG_CHUNK_OK ? "CHUNK_OK" : "no CHUNK_OK");
	/* The same chunk again: its region already has a grant. */
	len = vshm_encode_gpa_list(buf, sizeof(buf), 3, 0, 2, &r1, 1);
	t = (len < 0 || vsend(s, buf, (size_t)len)) ? -1 :
		vrecv(s, &m, buf, sizeof(buf));
	report_code("chunk_repeated_in_live_region",
		    t == VSHM_MSG_ERROR ? (int)m.error.code : -1, VSHM_E_EXISTS);
	len = vshm_encode_free(buf, sizeof(buf), 3);
	t = (len < 0 || vsend(s, buf, (size_t)len)) ? -1 :
		vrecv(s, &m, buf, sizeof(buf));
	report("failed_region_can_be_freed", t == VSHM_MSG_FREED,
	       t == VSHM_MSG_FREED ? "FREED" : "no FREED");
out:
	if (s >= 0)
		close(s);
}

/* Region 1 live on connection A; connection B frees "region 1". */
static void case_free_from_other_connection(void)
{
	const char *name = "free_from_another_connection";
	struct vshm_run r = { gpa[0], 1 };
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_msg m;
	ssize_t len;
	int a = vconnect(), b = vconnect(), t;

	vshm_pattern_fill(mem, 4096, VSHM_PATTERN_DEFAULT_SEED, 1);
	if (a < 0 || b < 0 || alloc_region(a, 1, 1)) {
		report(name, 0, "setup failed");
		goto out;
	}
	len = list_of(buf, 1, &r, 1);
	if (len < 0 || vsend(a, buf, (size_t)len) ||
	    vrecv(a, &m, buf, sizeof(buf)) != VSHM_MSG_MAPPED) {
		report(name, 0, "region not mapped on A");
		goto out;
	}
	len = vshm_encode_free(buf, sizeof(buf), 1);
	t = (len < 0 || vsend(b, buf, (size_t)len)) ? -1 :
		vrecv(b, &m, buf, sizeof(buf));
	report_code(name, t == VSHM_MSG_ERROR ? (int)m.error.code : -1,
		    VSHM_E_NOREGION);
	len = vshm_encode_free(buf, sizeof(buf), 1);
	t = (len < 0 || vsend(a, buf, (size_t)len)) ? -1 :
		vrecv(a, &m, buf, sizeof(buf));
	report("owner_still_frees_its_region", t == VSHM_MSG_FREED,
	       t == VSHM_MSG_FREED ? "FREED on A" : "no FREED on A");
out:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

/* Many small share/free cycles back to back on one connection. */
static void case_storm(void)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_run r = { gpa[5], 1 };
	struct vshm_msg m;
	int s = vconnect(), i, ok = 0;
	ssize_t len;

	for (i = 0; s >= 0 && i < 200; i++) {
		uint32_t region = 100 + (uint32_t)i;

		vshm_pattern_fill(mem + 5 * 4096, 4096, VSHM_PATTERN_DEFAULT_SEED,
				  region);
		if (alloc_region(s, region, 1))
			break;
		len = list_of(buf, region, &r, 1);
		if (len < 0 || vsend(s, buf, (size_t)len) ||
		    vrecv(s, &m, buf, sizeof(buf)) != VSHM_MSG_MAPPED)
			break;
		len = vshm_encode_free(buf, sizeof(buf), region);
		if (len < 0 || vsend(s, buf, (size_t)len) ||
		    vrecv(s, &m, buf, sizeof(buf)) != VSHM_MSG_FREED)
			break;
		ok++;
	}
	report("storm_of_200_small_requests", ok == 200,
	       ok == 200 ? "all answered" : "a request went unanswered");
	if (s >= 0)
		close(s);
}

/* A guest that sends and never reads: the host must cut it off. */
static void case_never_reads(void)
{
	unsigned char buf[VSHM_MAX_MSG];
	ssize_t len = vshm_encode_free(buf, sizeof(buf), 77);
	int s = vconnect(), i, cut = 0;
	struct timeval tv = { .tv_sec = 2 };

	if (s >= 0)
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (i = 0; s >= 0 && i < 100000 && !cut; i++)
		cut = send(s, buf, (size_t)len, 0) != len;
	report("guest_that_never_reads_is_cut_off", cut,
	       cut ? "the host stopped taking requests" :
	       "100000 requests went unanswered and unrefused");
	if (s >= 0)
		close(s);
	/* The host still serves a well-behaved connection. */
	s = vconnect();
	report("host_serves_others_after_cut_off", s >= 0 && !alloc_region(s, 9, 1),
	       "ALLOC on a new connection");
	if (s >= 0)
		close(s);
}

static void run_catalogue(void)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_run r = { gpa[4], 1 };
	ssize_t len;

	len = list_of(buf, 1, &r, 1);
	buf[0] ^= 0xff;
	expect_error("bad_magic", buf, (size_t)len, 1, VSHM_E_MAGIC);

	len = list_of(buf, 1, &r, 1);
	expect_alone("truncated_header", buf, 8, VSHM_E_TRUNC);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 8, 40);
	expect_error("truncated_list", buf, 40, 1, VSHM_E_LEN);

	len = list_of(buf, 1, &r, 1);
	buf[6] = 1;
	expect_error("nonzero_header_flags", buf, (size_t)len, 1, VSHM_E_RESERVED);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 12, 0);
	expect_error("region_zero", buf, (size_t)len, 1, VSHM_E_REGION);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 60, 1);
	expect_error("extent_pad_nonzero", buf, (size_t)len, 1, VSHM_E_RESERVED);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 56, 0);
	expect_error("extent_of_zero_pages", buf, (size_t)len, 1, VSHM_E_COUNT);

	len = list_of(buf, 1, &r, 1);
	le64_at(buf + 48, (1ULL << 52) - 4096);
	le32_at(buf + 56, 2);
	le32_at(buf + 32, 2);
	le32_at(buf + 36, 2);
	expect_error("extent_past_physical_limit", buf, (size_t)len, 2, VSHM_E_RANGE);

	len = list_of(buf, 1, &r, 1);
	buf[42] = 0;	/* LAST clear on the final chunk */
	expect_error("last_flag_missing", buf, (size_t)len, 1, VSHM_E_ORDER);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 36, 2);	/* LAST set, but a page is still to come */
	expect_error("last_flag_too_early", buf, (size_t)len, 2, VSHM_E_ORDER);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 28, 1);	/* pages 1..1 of a 1-page region */
	expect_error("chunk_past_region_end", buf, (size_t)len, 1, VSHM_E_COUNT);

	len = alloc_msg(buf, 1, 0, 4096, VSHM_ACCESS_READ);
	expect_alone("alloc_of_zero_bytes", buf, (size_t)len, VSHM_E_ALLOC);
	len = alloc_msg(buf, 1, 65536, 8192, VSHM_ACCESS_READ);
	expect_alone("alloc_bad_page_size", buf, (size_t)len, VSHM_E_ALLOC);
	len = alloc_msg(buf, 1, 65536, 4096, 0x10);
	expect_alone("alloc_unknown_access", buf, (size_t)len, VSHM_E_ALLOC);
	len = alloc_msg(buf, 1, 1ULL << 40, 4096, VSHM_ACCESS_READ);
	expect_alone("alloc_enormous", buf, (size_t)len, VSHM_E_QUOTA);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 36, 0x7fffffff);	/* total far past every limit */
	le32_at(buf + 32, 1);
	buf[42] = 0;
	expect_error("list_of_enormous_region", buf, (size_t)len, 1, VSHM_E_QUOTA);

	case_chunk_sequence();
	case_free_from_other_connection();
	case_storm();
	case_never_reads();
}

/* The guest physical range of the guest kernel's text, from /proc/iomem. */
static int kernel_text(uint64_t *start, uint64_t *end)
{
	unsigned long long a, b;
	char line[256];
	int found = -1;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return -1;
	while (found && fgets(line, sizeof(line), f))
		if (strstr(line, ": Kernel code") &&
		    sscanf(line, " %llx-%llx", &a, &b) == 2 && b > a) {
			*start = a;
			*end = b;
			found = 0;
		}
	fclose(f);
	return found;
}

/*
 * Sends a GPA list of @n runs as an unprivileged process (uid 65534, no
 * capabilities: it cannot bind a port below 1024), on a connection of its
 * own. Returns the ERROR code it was answered with, -VSHM_MSG_MAPPED if it
 * was mapped, or another negative value if it got no answer.
 */
static int unprivileged_share(const struct vshm_run *r, size_t n,
			      uint32_t npages)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK, .svm_cid = HOST_CID, .svm_port = port,
	};
	struct vshm_msg m;
	int st, pfd[2];
	int code = -1;
	pid_t pid;
	ssize_t len;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		int s = -1, bound;

		close(pfd[0]);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		s = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
		/* It cannot take a privileged port: the host sees 1024+. */
		bound = vshm_bind_privileged(s);
		if (s < 0 || bound != -EACCES ||
		    connect(s, (struct sockaddr *)&sa, sizeof(sa)) ||
		    alloc_region(s, 1, npages))
			_exit(3);
		len = list_of(buf, 1, r, n);
		if (len < 0 || vsend(s, buf, (size_t)len))
			_exit(4);
		if (vrecv(s, &m, buf, sizeof(buf)) == VSHM_MSG_ERROR)
			code = (int)m.error.code;
		else
			code = -(int)m.type;
		if (write(pfd[1], &code, sizeof(code)) != sizeof(code))
			_exit(5);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &code, sizeof(code)) != sizeof(code))
		code = -1000;
	if (pid > 0)
		waitpid(pid, &st, 0);
	close(pfd[0]);
	return code;
}

/*
 * An unprivileged guest process names the guest kernel's text in a GPA
 * list: payloads are opaque to the guest kernel, so only the host can stop
 * it, by the guest port. Expected: VSHM_E_PORT.
 */
static void case_unprivileged_port(void)
{
	const char *name = "unprivileged_guest_process_refused";
	uint64_t start, end;
	struct vshm_run r;
	int code;

	if (kernel_text(&start, &end) || !start) {
		report(name, 0, "no Kernel code in /proc/iomem");
		return;
	}
	r = (struct vshm_run){ start & ~4095ULL, 16 };
	code = unprivileged_share(&r, 1, 16);
	if (code == -VSHM_MSG_MAPPED)
		report(name, 0, "the guest kernel's text was MAPPED for uid 65534");
	else if (code <= -1000 || code == -1)
		report(name, 0, "the unprivileged process failed before its answer");
	else
		report_code(name, code, VSHM_E_PORT);
}

/*
 * With the policy's unprivileged-ports on, the same process shares (pages
 * its root parent found the GPAs of, with the guest's pattern): MAPPED.
 */
static void case_unprivileged_allowed(void)
{
	const char *name = "unprivileged_port_shares_when_the_policy_allows";
	struct vshm_run r[4];
	int i, code;

	vshm_pattern_fill(mem, 4 * 4096, VSHM_PATTERN_DEFAULT_SEED, 1);
	for (i = 0; i < 4; i++)
		r[i] = (struct vshm_run){ gpa[i], 1 };
	code = unprivileged_share(r, 4, 4);
	report(name, code == -VSHM_MSG_MAPPED,
	       code == -VSHM_MSG_MAPPED ? "MAPPED" :
	       code >= 0 ? vshm_err_name(code) : "no answer");
}

static void run_all(void)
{
	unsigned char buf[VSHM_MAX_MSG];
	struct vshm_run r;
	struct vshm_run two[2];
	ssize_t len;

	case_valid_share();

	r = (struct vshm_run){ 0xfd00000000ULL, 1 };	/* beyond every memslot */
	run_list_case("gpa_outside_memslots", &r, 1, VSHM_E_NOTMAPPABLE);
	r = (struct vshm_run){ 0xfee00000ULL, 1 };	/* local APIC */
	run_list_case("gpa_in_apic_mmio_hole", &r, 1, VSHM_E_NOTMAPPABLE);
	r = (struct vshm_run){ ram_end - 4096, 2 };	/* past RAM's end */
	run_list_case("extent_past_end_of_ram", &r, 1, VSHM_E_NOTMAPPABLE);
	r = (struct vshm_run){ 0xfffff000ULL, 1 };	/* BIOS ROM */
	run_list_case("gpa_in_readonly_memslot", &r, 1, VSHM_E_RDONLY);

	two[0] = (struct vshm_run){ gpa[2], 1 };
	two[1] = (struct vshm_run){ gpa[2], 1 };
	len = -1;
	{
		/* The encoder refuses overlaps: build it valid, then patch. */
		struct vshm_run ok2[2] = { { gpa[2], 1 }, { gpa[3], 1 } };

		len = list_of(buf, 1, ok2, 2);
		if (len > 0)
			le64_at(buf + 48 + 16, two[1].addr);
		if (len > 0)
			expect_error("page_twice_in_one_list", buf, (size_t)len, 2,
				     VSHM_E_DUP);
	}

	r = (struct vshm_run){ gpa[4], 1 };
	len = list_of(buf, 1, &r, 1);
	le64_at(buf + 48, gpa[4] + 0x123);
	expect_error("unaligned_gpa", buf, (size_t)len, 1, VSHM_E_ALIGN);

	len = list_of(buf, 1, &r, 1);
	buf[4] = 9;
	expect_error("unknown_version", buf, (size_t)len, 1, VSHM_E_VERSION);

	len = list_of(buf, 1, &r, 1);
	buf[5] = 77;
	expect_error("unknown_type", buf, (size_t)len, 1, VSHM_E_TYPE);

	len = list_of(buf, 1, &r, 1);
	buf[5] = VSHM_MSG_HPA_LIST;
	expect_error("guest_sends_hpa_list", buf, (size_t)len, 1, VSHM_E_TYPE);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 8, (uint32_t)len + 16);
	expect_error("header_len_disagrees", buf, (size_t)len, 1, VSHM_E_LEN);

	len = list_of(buf, 1, &r, 1);
	buf[40] = 0;
	buf[41] = 0;
	expect_error("zero_extents", buf, (size_t)len, 1, VSHM_E_COUNT);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 32, 2);	/* nr_pages says 2, the extent has 1 */
	le32_at(buf + 36, 2);
	expect_error("page_count_disagrees", buf, (size_t)len, 2, VSHM_E_LEN);

	len = list_of(buf, 1, &r, 1);
	le32_at(buf + 28, 5);	/* a chunk of a region that has none yet */
	le32_at(buf + 36, 6);
	expect_error("chunk_out_of_order", buf, (size_t)len, 6, VSHM_E_NOREGION);

	r = (struct vshm_run){ gpa[5], 1 };
	len = list_of(buf, 1, &r, 1);
	le64_at(buf + 16, 1234);	/* the guest may not choose the grant */
	expect_error("guest_sets_grant", buf, (size_t)len, 1, VSHM_E_RESERVED);

	case_dup_across_regions();
	case_free_rules();
	case_unprivileged_port();
	run_catalogue();
}

static void run_no_policy(void)
{
	struct vshm_run r = { gpa[6], 1 };

	run_list_case("no_policy_loaded", &r, 1, VSHM_E_NOPOLICY);
}

int main(int argc, char **argv)
{
	int fd, i;

	if (argc < 2 || !(port = (unsigned int)strtoul(argv[1], NULL, 0))) {
		fprintf(stderr, "usage: guest_rules PORT [--no-policy | --quota | --unprivileged-allowed | --ram-end ADDR]\n");
		return 1;
	}
	mem = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED || mlock(mem, 8 * 4096)) {
		perror("guest_rules: mmap");
		return 1;
	}
	for (i = 0; i < 8; i++)
		mem[i * 4096] = (unsigned char)i;
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0 || vshm_pagemap_read(fd, mem, 8, gpa)) {
		perror("guest_rules: pagemap");
		return 1;
	}
	close(fd);

	if (argc > 3 && !strcmp(argv[2], "--ram-end"))
		ram_end = strtoull(argv[3], NULL, 0);
	if (argc > 2 && !strcmp(argv[2], "--no-policy"))
		run_no_policy();
	else if (argc > 2 && !strcmp(argv[2], "--unprivileged-allowed"))
		case_unprivileged_allowed();
	else if (argc > 2 && !strcmp(argv[2], "--quota"))
		case_quota();
	else
		run_all();
	printf("1..%d\n", test_nr);
	return failed ? 1 : 0;
}
