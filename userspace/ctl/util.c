// SPDX-License-Identifier: GPL-2.0
/*
 * Failure messages ("vsock-shmctl: <what failed>: <why>" on stderr) and the
 * parsing of numeric arguments.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static char what[256] = "";

void ctl_set_what(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
}

static void vmsg(const char *fmt, va_list ap)
{
	fputs(CTL_NAME ": ", stderr);
	if (what[0])
		fprintf(stderr, "%s: ", what);
	vfprintf(stderr, fmt, ap);
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

int fail_errno(int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	if ((err == EPERM || err == EACCES) && geteuid())
		fputs(": not permitted (run as root)\n", stderr);
	else
		fprintf(stderr, ": %s\n", strerror(err));
	return -1;
}

void note(const char *fmt, ...)
{
	va_list ap;

	fputs(CTL_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const char *help, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '" CTL_NAME " %s')\n", help);
	return -1;
}

bool is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help") || !strcmp(arg, "help");
}

int parse_u64(const char *s, __u64 *v)
{
	unsigned long long x;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = x;
	return 0;
}

int parse_u32(const char *s, __u32 *v)
{
	__u64 x;

	if (parse_u64(s, &x) || x > 0xffffffffull)
		return -1;
	*v = (__u32)x;
	return 0;
}

int parse_pair(const char *s, __u32 *a, __u64 *b, bool none_ok, bool *none)
{
	const char *colon = strchr(s, ':');
	char first[16];
	size_t len;

	if (!colon)
		return -1;
	len = (size_t)(colon - s);
	if (!len || len >= sizeof(first))
		return -1;
	memcpy(first, s, len);
	first[len] = '\0';
	if (parse_u32(first, a))
		return -1;
	if (none)
		*none = false;
	if (none_ok && !strcmp(colon + 1, "none")) {
		*none = true;
		*b = 0;
		return 0;
	}
	return parse_u64(colon + 1, b);
}
