/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unit test helper: what /proc/self/maps says about an address.
 */
#ifndef UNIT_MAPS_H
#define UNIT_MAPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Copies the permissions ("rw-s", "---p", ...) of the mapping holding addr
 * into perms (5 bytes); "" when nothing is mapped there. Returns perms.
 */
static inline char *maps_perms(const void *addr, char perms[5])
{
	uintptr_t a = (uintptr_t)addr;
	unsigned long lo, hi;
	char line[512], p[5];
	FILE *f = fopen("/proc/self/maps", "r");

	perms[0] = '\0';
	if (!f)
		return perms;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3)
			continue;
		if (a >= lo && a < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
	return perms;
}

/* The range [addr, addr + size) is one inaccessible reservation. */
static inline int maps_reserved(const void *addr, size_t size)
{
	char a[5], b[5];

	maps_perms(addr, a);
	maps_perms((const char *)addr + size - 1, b);
	return !strcmp(a, "---p") && !strcmp(b, "---p");
}

/* [a, a + size) and [b, b + size) overlap. */
static inline int ranges_overlap(const void *a, const void *b, size_t size)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	return x < y + size && y < x + size;
}

#endif /* UNIT_MAPS_H */
