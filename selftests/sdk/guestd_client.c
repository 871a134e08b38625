// SPDX-License-Identifier: GPL-2.0
/*
 * An unprivileged guest application sharing through vshm-guestd, for the
 * sdk suite (selftests/sdk/guest-guestd.sh runs it in L2, as root, which it
 * leaves at once). Prints TAP lines ("ok N guestd/NAME") for its cases.
 *
 *   guestd_client member PORT     uid 1000, gid 1000, groups 2000: shares
 *                                 memfds (4 KiB and hugetlb), the refusals
 *   guestd_client outsider PORT   uid 1001, gid 1001, no group: refused
 *   guestd_client full PORT PATH  a member, against a daemon at PATH that
 *                                 serves one client at a time (-c 1)
 *
 * The host's vshm-server checks the guest's pattern (pattern.h) in each
 * region and marks it; the pattern depends on the region's id, which the
 * daemon's guest library numbers from 1 on each new connection, so the
 * memfds are filled for ids 1, 2, ... in the order they are shared. That
 * the marks show in the application's own mapping proves the host wrote
 * into the application's memfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pattern.h"
#include "vsock-shm/guestd.h"

#define SEED	VSHM_PATTERN_DEFAULT_SEED
#define SIZE	(256 << 10)
#define HUGE	(2 << 20)

static int n;

static void tap(int ok, const char *name, const char *why)
{
	printf("%sok %d guestd/%s", ok ? "" : "not ", ++n, name);
	if (!ok && why && *why)
		printf(" # %s", why);
	printf("\n");
	fflush(stdout);
}

static void drop(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
	if (setgroups(ngroups, groups) || setgid(gid) || setuid(uid)) {
		perror("guestd_client: dropping privileges");
		exit(2);
	}
}

/* A memfd of size bytes, mapped, filled for region id. */
static int make_memfd(unsigned int flags, size_t size, uint32_t id,
		      void **map)
{
	int fd = memfd_create("guestd-test", MFD_CLOEXEC | flags);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*map == MAP_FAILED)
		return -1;
	if (id)
		vshm_pattern_fill(*map, size, SEED, id);
	return fd;
}

static int member(unsigned int port)
{
	static const gid_t groups[] = { 2000 };
	struct vshm_guestd_event ev;
	struct vshm_pattern_bad bad;
	struct vshm_guestd *d;
	uint32_t region = 0, region2 = 0;
	uint64_t grant = 0;
	char proc[64];
	void *map, *hmap, *other;
	int fd, hfd, ofd, ro, ret;

	drop(1000, 1000, groups, 1);
	d = vshm_guestd_connect(NULL, 2, port, 20000);
	tap(d != NULL, "member_connects", strerror(errno));
	if (!d)
		return 1;
	tap((vshm_guestd_features(d) & VSHM_FEAT_MASK) == VSHM_FEAT_MASK,
	    "features_agreed", "not every feature");

	fd = make_memfd(MFD_ALLOW_SEALING, SIZE, 1, &map);
	ret = vshm_guestd_share(d, fd, 0, SIZE,
				VSHM_ACCESS_READ | VSHM_ACCESS_WRITE,
				0x5eed, &region, &grant);
	tap(ret == 0 && region == 1 && grant, "memfd_shared",
	    vshm_guestd_last_failure(d));
	/* vshm-server checked the pattern and marked every page. */
	tap(vshm_pattern_check_marked(map, SIZE, SEED, 1, &bad) == 0,
	    "host_wrote_into_the_memfd", "no mark from the host");
	tap(ftruncate(fd, 4096) != 0 && errno == EPERM,
	    "memfd_cannot_shrink_while_shared", "it shrank");
	tap(vshm_guestd_notify(d, region, 1) == 0, "doorbell_rings",
	    vshm_guestd_last_failure(d));

	/* Refusals, each with its reason. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ro = open(proc, O_RDONLY);
	ret = vshm_guestd_share(d, ro, 0, SIZE, VSHM_ACCESS_READ, 0,
				&region2, NULL);
	tap(ret == -EACCES && strstr(vshm_guestd_last_failure(d), "writing"),
	    "read_only_fd_refused", vshm_guestd_last_failure(d));
	close(ro);
	ofd = make_memfd(0, SIZE, 0, &other);	/* no MFD_ALLOW_SEALING */
	ret = vshm_guestd_share(d, ofd, 0, SIZE, VSHM_ACCESS_READ, 0,
				&region2, NULL);
	tap(ret == -EPERM && strstr(vshm_guestd_last_failure(d),
				    "MFD_ALLOW_SEALING"),
	    "unsealable_memfd_refused", vshm_guestd_last_failure(d));
	ret = vshm_guestd_share(d, fd, 4096, SIZE, VSHM_ACCESS_READ, 0,
				&region2, NULL);
	tap(ret == -EINVAL, "range_past_the_end_refused",
	    vshm_guestd_last_failure(d));
	ro = open("/dev/zero", O_RDWR);
	ret = vshm_guestd_share(d, ro, 0, 4096, VSHM_ACCESS_READ, 0,
				&region2, NULL);
	tap(ret == -EINVAL && strstr(vshm_guestd_last_failure(d), "memfd"),
	    "not_a_memfd_refused", vshm_guestd_last_failure(d));
	close(ro);
	ret = vshm_guestd_free(d, region + 100);
	tap(ret == -ENOENT, "free_of_another_region_refused",
	    vshm_guestd_last_failure(d));

	/* A hugetlb memfd: 2 MiB pages the admin reserved. */
	hfd = make_memfd(MFD_ALLOW_SEALING | MFD_HUGETLB, HUGE, 2, &hmap);
	ret = hfd < 0 ? -errno : vshm_guestd_share(d, hfd, 0, HUGE,
						   VSHM_ACCESS_READ |
						   VSHM_ACCESS_WRITE, 0,
						   &region2, NULL);
	tap(ret == 0 && region2 == 2, "hugetlb_memfd_shared",
	    hfd < 0 ? strerror(errno) : vshm_guestd_last_failure(d));
	tap(ret == 0 && vshm_pattern_check_marked(hmap, HUGE, SEED, 2,
						  &bad) == 0,
	    "host_wrote_into_the_hugetlb_memfd", "no mark from the host");

	tap(vshm_guestd_free(d, region) == 0, "memfd_freed",
	    vshm_guestd_last_failure(d));
	/* The application's own mapping stays: it is its memory. */
	tap(vshm_pattern_check_marked(map, SIZE, SEED, 1, &bad) == 0,
	    "own_mapping_kept_after_free", "changed");
	tap(vshm_guestd_next_event(d, &ev) >= 0, "events_readable",
	    "the daemon went away");
	/* The hugetlb region is left for close to free. */
	tap(vshm_guestd_close(d) == 0, "close_frees_the_rest", NULL);
	return 0;
}

static int outsider(unsigned int port)
{
	struct vshm_guestd *d;

	drop(1001, 1001, NULL, 0);
	d = vshm_guestd_connect(NULL, 2, port, 0);
	tap(!d && errno == EACCES, "outsider_refused",
	    d ? "it was served" : strerror(errno));
	if (d)
		vshm_guestd_close(d);
	return 0;
}

/* A daemon with -c 1: a second client is refused until the first leaves. */
static int full(unsigned int port, const char *path)
{
	static const gid_t groups[] = { 2000 };
	struct vshm_guestd *a, *b;

	drop(1000, 1000, groups, 1);
	a = vshm_guestd_connect(path, 2, port, 20000);
	tap(a != NULL, "first_client_served", strerror(errno));
	b = vshm_guestd_connect(path, 2, port, 0);
	tap(!b && errno == EUSERS, "second_client_refused_while_full",
	    b ? "it was served" : strerror(errno));
	if (b)
		vshm_guestd_close(b);
	if (a)
		vshm_guestd_close(a);
	/* The daemon counts the first one out once it saw it leave. */
	for (int i = 0; i < 50; i++) {
		b = vshm_guestd_connect(path, 2, port, 0);
		if (b || errno != EUSERS)
			break;
		usleep(100000);
	}
	tap(b != NULL, "served_again_once_the_first_left", strerror(errno));
	if (b)
		vshm_guestd_close(b);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int port;

	if (argc == 4 && !strcmp(argv[1], "full"))
		return full((unsigned int)strtoul(argv[2], NULL, 0), argv[3]);
	if (argc != 3) {
		fprintf(stderr, "usage: guestd_client member|outsider PORT | full PORT PATH\n");
		return 2;
	}
	port = (unsigned int)strtoul(argv[2], NULL, 0);
	if (!strcmp(argv[1], "member"))
		return member(port);
	if (!strcmp(argv[1], "outsider"))
		return outsider(port);
	fprintf(stderr, "guestd_client: %s: member or outsider\n", argv[1]);
	return 2;
}
