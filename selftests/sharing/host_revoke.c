// SPDX-License-Identifier: GPL-2.0
/*
 * host_revoke: a minimal host server that checks revocation from the
 * server's side. It serves one guest connection on PORT: answers ALLOC,
 * CHUNK and the last GPA list, maps the grant through the mapper, checks
 * that a raw offset and another process's socket are refused, replies
 * MAPPED, and when the guest's FREE arrives (the module has revoked the
 * grant by then) touches the mapping again: it must get SIGBUS, never the
 * old data. TAP on stdout.
 *
 *   host_revoke PORT
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "proto.h"

static int test_nr, failed;
static sigjmp_buf jb;

static void tap(int ok, const char *name, const char *why)
{
	printf("%sok %d %s%s%s\n", ok ? "" : "not ", ++test_nr, name,
	       why ? " # " : "", why ? why : "");
	fflush(stdout);
	if (!ok)
		failed++;
}

static void on_sigbus(int sig)
{
	siglongjmp(jb, sig);
}

/* Reads the first byte of p; returns it, or -1 if that raised SIGBUS. */
static int probe(volatile const unsigned char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int v;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(jb, 1))
		v = -1;
	else
		v = *p;
	sigaction(SIGBUS, &old, NULL);
	return v;
}

static int reply(int c, unsigned char *buf, ssize_t n)
{
	return n > 0 && send(c, buf, (size_t)n, 0) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	static unsigned char buf[VSHM_MAX_MSG];
	struct vshm_map_req req = { 0 };
	unsigned char *p = MAP_FAILED;
	struct vshm_msg m;
	int ls, c, mfd, other;
	uint64_t grant = 0;
	ssize_t n;
	void *q;

	if (argc != 2) {
		fprintf(stderr, "usage: host_revoke PORT\n");
		return 1;
	}
	sa.svm_port = (unsigned int)strtoul(argv[1], NULL, 0);
	mfd = open("/dev/vsock-shm-mapper", O_RDWR | O_CLOEXEC);
	ls = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
	if (mfd < 0 || ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 1)) {
		perror("host_revoke: setup");
		return 1;
	}
	printf("# host_revoke: listening on %u\n", sa.svm_port);
	fflush(stdout);
	c = accept(ls, NULL, NULL);
	if (c < 0) {
		perror("host_revoke: accept");
		return 1;
	}
	while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
		if (vshm_decode(buf, (size_t)n, &m)) {
			tap(0, "messages_decode", "undecodable message");
			break;
		}
		if (m.type == VSHM_MSG_ALLOC) {
			if (reply(c, buf, vshm_encode_alloc_ok(buf, sizeof(buf), m.region)))
				break;
		} else if (m.type == VSHM_MSG_HPA_LIST && !m.list.last) {
			if (reply(c, buf, vshm_encode_chunk_ok(buf, sizeof(buf), m.region,
							       m.list.first_page,
							       m.list.nr_pages)))
				break;
		} else if (m.type == VSHM_MSG_HPA_LIST) {
			grant = m.list.grant;
			/* Another socket is not the grant's connection. */
			other = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
			req.sock_fd = other;
			req.grant = grant;
			tap(ioctl(mfd, VSHM_IOC_MAP_GRANT, &req) == -1 &&
			    errno == EACCES, "map_refused_for_other_socket", NULL);
			close(other);
			/* Offsets of grants this file was not given. */
			q = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd,
				 (off_t)(grant + 1) << 31);
			tap(q == MAP_FAILED && errno == EACCES,
			    "mmap_refused_without_authorization", NULL);

			req.sock_fd = c;
			if (ioctl(mfd, VSHM_IOC_MAP_GRANT, &req)) {
				tap(0, "map_grant", strerror(errno));
				break;
			}
			tap(1, "map_grant", NULL);
			q = mmap(NULL, req.size + 4096, PROT_READ, MAP_SHARED, mfd,
				 (off_t)req.offset);
			tap(q == MAP_FAILED && errno == EINVAL,
			    "mmap_past_grant_refused", NULL);
			q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, mfd,
				 (off_t)req.offset);
			tap(q == MAP_FAILED && errno == EINVAL,
			    "private_mapping_refused", NULL);
			p = mmap(NULL, req.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				 mfd, (off_t)req.offset);
			if (p == MAP_FAILED) {
				tap(0, "mmap_grant", strerror(errno));
				break;
			}
			tap(probe(p) >= 0, "mapping_readable", NULL);
			p[8] = 0x5a;
			if (reply(c, buf, vshm_encode_mapped(buf, sizeof(buf), m.region,
							     grant, req.nr_pages)))
				break;
		} else if (m.type == VSHM_MSG_FREE) {
			/* The module revoked the grant before we read FREE. */
			tap(p != MAP_FAILED && probe(p) == -1,
			    "access_after_free_is_sigbus", NULL);
			req.sock_fd = c;
			tap(ioctl(mfd, VSHM_IOC_MAP_GRANT, &req) == -1 &&
			    errno == ENOENT, "revoked_grant_not_mappable", NULL);
			if (p != MAP_FAILED)
				munmap(p, req.size);
			reply(c, buf, vshm_encode_freed(buf, sizeof(buf), m.region));
			break;
		} else {
			tap(0, "expected_message", vshm_msg_type_name(m.type));
			break;
		}
	}
	close(c);
	close(ls);
	close(mfd);
	printf("1..%d\n", test_nr);
	return failed || !test_nr ? 1 : 0;
}
