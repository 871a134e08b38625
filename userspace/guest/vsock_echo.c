// SPDX-License-Identifier: GPL-2.0
/*
 * vsock_echo: the smallest AF_VSOCK round trip, used by the lab to prove
 * the guest-to-host path through the host module.
 *
 *   vsock_echo server PORT            echo every connection's bytes back
 *   vsock_echo client CID PORT COUNT  send COUNT messages, check the echoes
 *   vsock_echo sink PORT              read one connection to its end, report
 *   vsock_echo blast CID PORT MIB     send MIB MiB as fast as possible
 *
 * Exit status: 0 on success, 1 on any error (named on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static int parse_u32(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int full_io(int fd, void *buf, size_t len, int do_write)
{
	char *p = buf;

	while (len) {
		ssize_t n = do_write ? write(fd, p, len) : read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int serve(unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 8)) {
		fprintf(stderr, "vsock_echo: listen on port %u: %s\n", port,
			strerror(errno));
		return 1;
	}
	printf("vsock_echo: listening on port %u\n", port);
	fflush(stdout);
	for (;;) {
		char buf[4096];
		ssize_t n;
		int c = accept(ls, NULL, NULL);

		if (c < 0) {
			fprintf(stderr, "vsock_echo: accept: %s\n", strerror(errno));
			return 1;
		}
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (full_io(c, buf, (size_t)n, 1))
				break;
		close(c);
	}
}

static int client(unsigned int cid, unsigned int port, unsigned int count)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	struct timespec t0, t1;
	char out[64], in[64];
	unsigned int i;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "vsock_echo: connect to %u:%u: %s\n", cid, port,
			strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < count; i++) {
		int len = snprintf(out, sizeof(out), "round trip %u\n", i);

		if (full_io(s, out, (size_t)len, 1) ||
		    full_io(s, in, (size_t)len, 0)) {
			fprintf(stderr, "vsock_echo: message %u: %s\n", i,
				errno ? strerror(errno) : "connection closed");
			return 1;
		}
		if (memcmp(in, out, (size_t)len)) {
			fprintf(stderr, "vsock_echo: message %u came back changed\n", i);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("vsock_echo: %u round trips to %u:%u ok, %.1f us each\n", count,
	       cid, port,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) /
	       1e3 / (count ? count : 1));
	close(s);
	return 0;
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Reads one connection until EOF; prints bytes and the time from accept. */
static int sink(unsigned int port)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = port,
	};
	static char buf[1 << 16];
	unsigned long long total = 0;
	struct timespec t0;
	ssize_t n;
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0), c;

	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(ls, 1) || (c = accept(ls, NULL, NULL)) < 0) {
		fprintf(stderr, "vsock_echo: sink on port %u: %s\n", port,
			strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((n = read(c, buf, sizeof(buf))) > 0)
		total += (unsigned long long)n;
	printf("vsock_echo: sink bytes=%llu ms=%.3f\n", total, elapsed_ms(&t0));
	close(c);
	close(ls);
	return n < 0;
}

static int blast(unsigned int cid, unsigned int port, unsigned int mib)
{
	struct sockaddr_vm sa = {
		.svm_family = AF_VSOCK,
		.svm_cid = cid,
		.svm_port = port,
	};
	static char buf[1 << 16];
	unsigned long long left = (unsigned long long)mib << 20;
	struct timespec t0;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "vsock_echo: connect to %u:%u: %s\n", cid, port,
			strerror(errno));
		return 1;
	}
	memset(buf, 0x5a, sizeof(buf));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (left) {
		size_t len = left < sizeof(buf) ? (size_t)left : sizeof(buf);

		if (full_io(s, buf, len, 1)) {
			fprintf(stderr, "vsock_echo: blast: %s\n", strerror(errno));
			return 1;
		}
		left -= len;
	}
	close(s);
	printf("vsock_echo: blast mib=%u ms=%.3f\n", mib, elapsed_ms(&t0));
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int cid, port, count;

	if (argc == 3 && !strcmp(argv[1], "server") && !parse_u32(argv[2], &port))
		return serve(port);
	if (argc == 3 && !strcmp(argv[1], "sink") && !parse_u32(argv[2], &port))
		return sink(port);
	if (argc == 5 && !strcmp(argv[1], "blast") &&
	    !parse_u32(argv[2], &cid) && !parse_u32(argv[3], &port) &&
	    !parse_u32(argv[4], &count))
		return blast(cid, port, count);
	if (argc == 5 && !strcmp(argv[1], "client") &&
	    !parse_u32(argv[2], &cid) && !parse_u32(argv[3], &port) &&
	    !parse_u32(argv[4], &count))
		return client(cid, port, count);
	fprintf(stderr, "usage: vsock_echo server PORT\n"
		"       vsock_echo client CID PORT COUNT\n"
		"       vsock_echo sink PORT\n"
		"       vsock_echo blast CID PORT MIB\n");
	return 1;
}
