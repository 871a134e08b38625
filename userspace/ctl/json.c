// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny JSON writer on stdout: nested objects and arrays, strings (escaped),
 * unsigned numbers, booleans and null. Compact by default, indented with -p.
 */
#include <stdio.h>

#include "ctl.h"

#define JSON_MAX_DEPTH	16

static int depth;
static bool has_items[JSON_MAX_DEPTH];

static void indent(void)
{
	int i;

	if (!ctl.pretty)
		return;
	putchar('\n');
	for (i = 0; i < depth; i++)
		fputs("  ", stdout);
}

static void put_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				printf("\\u%04x", *p);
			else
				putchar(*p);
		}
	}
	putchar('"');
}

/* Separator, indentation and member name before a value. */
static void member(const char *key)
{
	if (depth > 0 && depth <= JSON_MAX_DEPTH) {
		if (has_items[depth - 1])
			putchar(',');
		has_items[depth - 1] = true;
		indent();
	}
	if (key) {
		put_string(key);
		fputs(ctl.pretty ? ": " : ":", stdout);
	}
}

static void open_value(const char *key, char c)
{
	member(key);
	putchar(c);
	if (depth < JSON_MAX_DEPTH)
		has_items[depth] = false;
	depth++;
}

static void close_value(char c)
{
	depth--;
	if (depth < JSON_MAX_DEPTH && has_items[depth])
		indent();
	putchar(c);
	if (!depth) {
		putchar('\n');
		fflush(stdout);
	}
}

static void scalar_done(void)
{
	if (!depth) {
		putchar('\n');
		fflush(stdout);
	}
}

void json_obj_begin(const char *key)
{
	open_value(key, '{');
}

void json_obj_end(void)
{
	close_value('}');
}

void json_arr_begin(const char *key)
{
	open_value(key, '[');
}

void json_arr_end(void)
{
	close_value(']');
}

void json_str(const char *key, const char *s)
{
	member(key);
	put_string(s);
	scalar_done();
}

void json_u64(const char *key, __u64 v)
{
	member(key);
	printf("%llu", (unsigned long long)v);
	scalar_done();
}

void json_bool(const char *key, bool v)
{
	member(key);
	fputs(v ? "true" : "false", stdout);
	scalar_done();
}

void json_null(const char *key)
{
	member(key);
	fputs("null", stdout);
	scalar_done();
}
