// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpus of the fuzz targets: mkcorpus <dir> creates
 * <dir>/wire/, <dir>/proto/ and <dir>/session/ with small valid and invalid
 * messages (wire, proto) and message sequences (session, in the format of
 * session_fmt.h), all made with the proto encoders (and the module's
 * rewrite functions for HPA_LIST and REFUSED), invalid ones by changing one
 * field of a valid one. Run once ("make -C fuzz corpus"); the output is
 * kept in the repository. Deterministic: the same files every run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "extent.h"
#include "proto.h"
#include "fuzz.h"
#include "session_fmt.h"

#define RW	(VSHM_ACCESS_READ | VSHM_ACCESS_WRITE)
#define LIMIT	VSHM_PHYS_LIMIT

static const char *root;
static uint8_t buf[VSHM_MAX_MSG + 64];
static struct vshm_run runs[VSHM_MAX_EXT_PER_MSG];
static unsigned int nfiles;
static size_t nbytes;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void mkdir_p(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		die(path);
}

static void put_file(const char *target, const char *name, const void *p,
		     size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	f = fopen(path, "wb");
	if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f))
		die(path);
	nfiles++;
	nbytes += len;
}

static size_t must(ssize_t len, const char *what)
{
	if (len <= 0) {
		fprintf(stderr, "mkcorpus: cannot encode %s: %zd\n", what, len);
		exit(1);
	}
	return (size_t)len;
}

/* ---- single messages: wire and proto ---- */

/* Where a message goes: both targets, or the wire target only. */
static int wire_only;

static void emit(const char *name, const void *p, size_t len)
{
	put_file("wire", name, p, len);
	if (!wire_only)
		put_file("proto", name, p, len);
}

static size_t alloc(uint32_t region, uint64_t size, uint32_t ps,
		    uint32_t access)
{
	return must(vshm_encode_alloc(buf, sizeof(buf), region, size, ps,
				      access), "ALLOC");
}

static size_t gpa(uint32_t region, uint32_t first, uint32_t total, size_t n)
{
	return must(vshm_encode_gpa_list(buf, sizeof(buf), region, first,
					 total, runs, n), "GPA_LIST");
}

static void run(size_t i, uint64_t addr, uint32_t npages)
{
	runs[i].addr = addr;
	runs[i].npages = npages;
}

/* Emits buf[0..len) with one little-endian field changed. */
static void emit_mod(const char *name, size_t len, size_t off, int width,
		     uint64_t val)
{
	uint8_t save[8];

	memcpy(save, buf + off, 8);
	if (width == 1)
		buf[off] = (uint8_t)val;
	else if (width == 2)
		fz_put_le16(buf + off, (uint16_t)val);
	else if (width == 4)
		fz_put_le32(buf + off, (uint32_t)val);
	else
		fz_put_le64(buf + off, val);
	emit(name, buf, len);
	memcpy(buf + off, save, 8);
}

static void guest_messages(void)
{
	size_t len, i;

	/* FREE */
	len = must(vshm_encode_free(buf, sizeof(buf), 1), "FREE");
	emit("free", buf, len);
	emit("trunc-15", buf, 15);
	emit("empty", buf, 0);
	emit_mod("bad-magic", len, 0, 4, 0x4d485357);
	emit_mod("bad-version", len, 4, 1, 2);
	emit_mod("bad-type-0", len, 5, 1, 0);
	emit_mod("bad-type-11", len, 5, 1, 11);
	emit_mod("bad-len", len, 8, 4, 17);
	emit_mod("bad-flags", len, 6, 2, 1);
	emit_mod("free-region-0", len, 12, 4, 0);
	buf[16] = 0;
	fz_put_le32(buf + 8, 17);
	emit("free-len-17", buf, 17);

	/* ALLOC */
	len = alloc(1, 4096, VSHM_PAGE_SIZE, RW);
	emit("alloc-4k-1page", buf, len);
	emit_mod("alloc-pad", len, 36, 4, 1);
	emit_mod("alloc-page-size-8k", len, 24, 4, 8192);
	emit_mod("alloc-size-0", len, 16, 8, 0);
	emit_mod("alloc-nr-pages-wrong", len, 32, 4, 2);
	emit_mod("alloc-access-0", len, 28, 4, 0);
	emit_mod("alloc-access-4", len, 28, 4, 4);
	emit_mod("alloc-len-48", len, 8, 4, 48);
	len = alloc(7, 1 << 20, VSHM_PAGE_SIZE, VSHM_ACCESS_READ);
	emit("alloc-1m-read", buf, len);
	len = alloc(2, 4 << 20, VSHM_HUGE_PAGE_SIZE, RW);
	emit("alloc-2m-pages", buf, len);
	emit_mod("alloc-2m-unaligned", len, 16, 8, (4 << 20) + 4096);
	len = alloc(0xffffffff, 0xffffffffULL * 4096, VSHM_PAGE_SIZE,
		    VSHM_ACCESS_WRITE);
	emit("alloc-max-pages", buf, len);
	emit_mod("alloc-pages-wrap", len, 16, 8, 0x100000000ULL * 4096);

	/* GPA_LIST */
	run(0, 0x100000, 1);
	len = gpa(1, 0, 1, 1);
	emit("gpa-1ext", buf, len);
	emit_mod("gpa-grant", len, 16, 8, 5);
	emit_mod("gpa-status", len, 24, 4, 1);
	emit_mod("gpa-pad", len, 44, 4, 1);
	emit_mod("gpa-chunk-flags-2", len, 42, 2, 3);
	emit_mod("gpa-nr-ext-0", len, 40, 2, 0);
	emit_mod("gpa-nr-ext-2", len, 40, 2, 2);
	emit_mod("gpa-nr-pages-0", len, 32, 4, 0);
	emit_mod("gpa-total-0", len, 36, 4, 0);
	emit_mod("gpa-past-total", len, 28, 4, 1);
	emit_mod("gpa-last-missing", len, 42, 2, 0);
	emit_mod("gpa-ext-pad", len, 60, 4, 1);
	emit_mod("gpa-ext-npages-0", len, 56, 4, 0);
	emit_mod("gpa-ext-unaligned", len, 48, 8, 0x100800);
	emit_mod("gpa-ext-at-limit", len, 48, 8, LIMIT);
	emit_mod("gpa-sum-wrong", len, 56, 4, 2);
	emit("gpa-trunc-47", buf, 47);

	run(0, 0x200000, 2);
	run(1, 0x100000, 1);
	run(2, 0x40000000, 512);
	len = gpa(3, 0, 515, 3);
	emit("gpa-3ext-huge", buf, len);
	emit_mod("gpa-dup-same-addr", len, 64, 8, 0x200000);
	emit_mod("gpa-dup-overlap", len, 64, 8, 0x201000);
	emit_mod("gpa-touching", len, 64, 8, 0x1ff000);

	run(0, 0x300000, 4);
	len = gpa(4, 0, 10, 1);
	emit("gpa-chunk0", buf, len);
	emit_mod("gpa-chunk0-last-set", len, 42, 2, 1);
	run(0, 0x500000, 6);
	len = gpa(4, 4, 10, 1);
	emit("gpa-chunk1-last", buf, len);

	run(0, LIMIT - 4096, 1);
	len = gpa(5, 0, 1, 1);
	emit("gpa-top-page", buf, len);
	emit_mod("gpa-crosses-limit", len, 56, 4, 2);
	emit_mod("gpa-first-wraps", len, 28, 4, 0xffffffff);

	for (i = 0; i < 64; i++)
		run(i, 0x10000000 - i * 0x4000, (uint32_t)(i % 3) + 1);
	len = gpa(6, 0, 128, 64);
	emit("gpa-64ext-descending", buf, len);
	emit_mod("gpa-64ext-dup-last", len, 48 + 63 * 16, 8, 0x10000000);

	/* The largest list: 4093 extents, 65536 bytes (wire only). */
	for (i = 0; i < VSHM_MAX_EXT_PER_MSG; i++)
		run(i, (uint64_t)(VSHM_MAX_EXT_PER_MSG - i) * 0x3000, 1);
	len = gpa(8, 0, VSHM_MAX_EXT_PER_MSG, VSHM_MAX_EXT_PER_MSG);
	wire_only = 1;
	emit("gpa-4093ext-max", buf, len);
	wire_only = 0;
}

static void host_messages(void)
{
	size_t len;

	len = must(vshm_encode_alloc_ok(buf, sizeof(buf), 1), "ALLOC_OK");
	emit("alloc-ok", buf, len);
	emit_mod("alloc-ok-region-0", len, 12, 4, 0);
	len = must(vshm_encode_freed(buf, sizeof(buf), 1), "FREED");
	emit("freed", buf, len);

	len = must(vshm_encode_mapped(buf, sizeof(buf), 3, 0x77, 515), "MAPPED");
	emit("mapped", buf, len);
	emit_mod("mapped-grant-0", len, 16, 8, 0);
	emit_mod("mapped-nr-0", len, 24, 4, 0);
	emit_mod("mapped-pad", len, 28, 4, 1);

	len = must(vshm_encode_error(buf, sizeof(buf), 0, VSHM_E_MAGIC,
				     VSHM_NO_INDEX, 0), "ERROR");
	emit("error-region-0", buf, len);
	len = must(vshm_encode_error(buf, sizeof(buf), 5, VSHM_E_DUP, 2,
				     VSHM_MSG_GPA_LIST), "ERROR");
	emit("error-dup", buf, len);
	emit_mod("error-code-0", len, 16, 4, 0);
	emit_mod("error-pad", len, 31, 1, 1);
	emit_mod("error-code-99", len, 16, 4, 99);

	len = must(vshm_encode_chunk_ok(buf, sizeof(buf), 4, 0, 4), "CHUNK_OK");
	emit("chunk-ok", buf, len);
	emit_mod("chunk-ok-nr-0", len, 20, 4, 0);
	emit_mod("chunk-ok-wraps", len, 16, 4, 0xfffffffd);
	emit_mod("chunk-ok-pad", len, 24, 8, 1);

	/* HPA_LIST: the module's rewrite of a GPA_LIST. */
	run(0, 0x200000, 2);
	run(1, 0x100000, 1);
	len = gpa(3, 0, 3, 2);
	vshm_wire_ext_set_addr(buf + 48, 0, 0x7654000);
	vshm_wire_ext_set_addr(buf + 48, 1, 0x7654000);
	vshm_wire_mark_hpa(buf, 0x1234);
	emit("hpa-list", buf, len);
	emit_mod("hpa-grant-0", len, 16, 8, 0);
	emit_mod("hpa-status", len, 24, 4, 1);
	emit_mod("hpa-run-crosses-limit", len, 48, 8, LIMIT - 4096);
	emit_mod("hpa-at-limit", len, 48, 8, LIMIT);

	/* REFUSED: the module's mark on a GPA_LIST. */
	run(0, 0x100000, 1);
	len = gpa(9, 0, 1, 1);
	if (vshm_wire_mark_refused(buf, len, VSHM_E_NOTMAPPABLE, 0))
		die("mark_refused");
	emit("refused", buf, len);
	emit_mod("refused-status-0", len, 24, 4, 0);
	emit_mod("refused-detail-high", len, 20, 4, 1);
	emit_mod("refused-region-0", len, 12, 4, 0);
	emit_mod("refused-garbage-tail", len, 56, 4, 0);

	/* The features (docs/protocol.md, section 12). */
	len = must(vshm_encode_hello(buf, sizeof(buf), 0xffffffffU,
				     VSHM_FEAT_MASK), "HELLO");
	emit("hello", buf, len);
	emit_mod("hello-later-feature", len, 16, 8, 1ULL << 40);
	emit_mod("hello-pad", len, 24, 8, 1);
	len = must(vshm_encode_hello_ok(buf, sizeof(buf), 0xffffffffU,
					VSHM_FEAT_REVOKED), "HELLO_OK");
	emit("hello-ok", buf, len);
	emit_mod("hello-ok-unknown-feature", len, 16, 8, 1ULL << 40);
	len = must(vshm_encode_alloc_cookie(buf, sizeof(buf), 5, 8192, 4096,
					    VSHM_ACCESS_READ, 0x1122334455ULL),
		   "ALLOC cookie");
	emit("alloc-cookie", buf, len);
	len = must(vshm_encode_revoked(buf, sizeof(buf), 3, 0x1234,
				       VSHM_REVOKE_MEMMAP), "REVOKED");
	emit("revoked", buf, len);
	emit_mod("revoked-reason-0", len, 24, 4, 0);
	emit_mod("revoked-grant-0", len, 16, 8, 0);
	emit_mod("revoked-pad", len, 28, 4, 1);
	len = must(vshm_encode_notify(buf, sizeof(buf), 3, 1), "NOTIFY");
	emit("notify", buf, len);
	emit_mod("notify-bits-0", len, 16, 4, 0);
	emit_mod("notify-pad", len, 20, 4, 1);
	emit_mod("notify-region-0", len, 12, 4, 0);
}

/* ---- sequences: session ---- */

static uint8_t seq[8192];
static size_t seq_len;

static void sq_begin(uint8_t cfg)
{
	seq[0] = cfg;
	seq_len = 1;
}

static void sq_bytes(const void *p, size_t n)
{
	if (seq_len + n > sizeof(seq)) {
		fprintf(stderr, "mkcorpus: sequence too long\n");
		exit(1);
	}
	memcpy(seq + seq_len, p, n);
	seq_len += n;
}

static void sq_u8(uint8_t v)
{
	sq_bytes(&v, 1);
}

static void sq_u16(uint16_t v)
{
	uint8_t b[2];

	fz_put_le16(b, v);
	sq_bytes(b, 2);
}

/* A raw record of buf[0..len), the mapper and application as given. */
static void sq_raw(size_t len, int map, int app)
{
	sq_u8(SF_OP(SF_RAW0, map, app));
	sq_u16((uint16_t)len);
	sq_bytes(buf, len);
}

static void sq_alloc(uint32_t region, uint32_t pages)
{
	sq_raw(alloc(region, (uint64_t)pages * 4096, VSHM_PAGE_SIZE, RW), 0, 0);
}

static void sq_free(uint32_t region)
{
	sq_raw(must(vshm_encode_free(buf, sizeof(buf), region), "FREE"), 0, 0);
}

/* One chunk of one-page runs, translated by a module with grant. */
static void sq_hpa(uint32_t region, uint32_t first, uint32_t n,
		   uint32_t total, uint64_t grant, int map, int app)
{
	size_t len, i;

	for (i = 0; i < n; i++)
		run(i, 0x100000 + (first + i) * 0x2000ULL, 1);
	len = gpa(region, first, total, n);
	for (i = 0; i < n; i++)
		vshm_wire_ext_set_addr(buf + 48, (uint32_t)i,
				       0x80000000ULL + i * 0x5000);
	vshm_wire_mark_hpa(buf, grant);
	sq_raw(len, map, app);
}

static void sq_end(const char *name)
{
	put_file("session", name, seq, seq_len);
}

static void sessions(void)
{
	uint64_t pages[100];
	struct vshm_chunk chunks[32];
	ssize_t nr, nc, i;
	size_t len;

	sq_begin(0);
	sq_alloc(1, 3);
	sq_hpa(1, 0, 3, 3, 0x77, 0, 0);
	sq_free(1);
	sq_end("share-free");

	sq_begin(SF_CFG_ON_MAPPED);
	sq_alloc(2, 10);
	sq_hpa(2, 0, 4, 10, 0x99, 0, 0);
	sq_hpa(2, 4, 6, 10, 0x99, 0, 0);
	sq_free(2);
	sq_alloc(2, 1);
	sq_hpa(2, 0, 1, 1, 0x9a, 0, 0);
	sq_end("two-chunks-realloc");

	/* A 100-page region in 4 KiB frames, split by vshm_split(). */
	for (i = 0; i < 100; i++)
		pages[i] = 0x1000000 + (uint64_t)(i % 7 ? i : 200 - i) * 4096;
	nr = vshm_coalesce(pages, 100, runs, VSHM_MAX_EXT_PER_MSG);
	nc = vshm_split(runs, (size_t)nr, 48 + 16 * 5, chunks, 32);
	if (nr <= 0 || nc <= 0)
		die("split");
	sq_begin(SF_CFG_ON_MAPPED);
	sq_alloc(3, 100);
	for (i = 0; i < nc; i++) {
		len = must(vshm_encode_chunk(buf, sizeof(buf), 3, 100, runs,
					     &chunks[i]), "chunk");
		vshm_wire_mark_hpa(buf, 0xabcdef);
		sq_raw(len, 0, 0);
	}
	sq_free(3);
	sq_end("split-chunks");

	sq_begin(0);
	sq_alloc(4, 10);
	sq_hpa(4, 4, 6, 10, 0x5, 0, 0);		/* out of order */
	sq_hpa(4, 0, 4, 10, 0x5, 0, 0);		/* failed: NOREGION */
	sq_free(4);
	sq_end("chunk-order");

	sq_begin(0);
	sq_alloc(5, 10);
	sq_hpa(5, 0, 4, 10, 0x5, 0, 0);
	sq_hpa(5, 4, 6, 10, 0x6, 0, 0);		/* another grant */
	sq_free(5);
	sq_end("grant-mismatch");

	sq_begin(0);
	sq_alloc(6, 10);
	sq_hpa(6, 0, 4, 8, 0x5, 0, 0);		/* total != ALLOC */
	sq_hpa(7, 0, 1, 1, 0x5, 0, 0);		/* unknown region */
	sq_end("count-noregion");

	sq_begin(0);
	sq_alloc(8, 1);
	run(0, 0x100000, 1);
	len = gpa(8, 0, 1, 1);
	sq_raw(len, 0, 0);			/* untranslated: NOPOLICY */
	vshm_wire_mark_refused(buf, len, VSHM_E_PIN, 0);
	sq_raw(len, 0, 0);			/* REFUSED, region failed */
	sq_free(8);
	len = gpa(8, 0, 1, 1);
	fz_put_le32(buf + 12, 0);
	vshm_wire_mark_refused(buf, len, VSHM_E_FRAG, VSHM_NO_INDEX);
	sq_raw(len, 0, 0);			/* REFUSED region 0: close */
	sq_alloc(8, 1);				/* a new connection */
	sq_end("nopolicy-refused-close");

	sq_begin(2 | SF_CFG_MAX_SIZE);
	sq_alloc(1, 65);
	sq_alloc(1, 64);
	sq_alloc(1, 64);			/* EXISTS */
	sq_alloc(2, 1);
	sq_alloc(3, 1);				/* QUOTA */
	sq_free(9);				/* NOREGION */
	sq_free(2);
	sq_alloc(3, 1);
	sq_end("quota-exists");

	sq_begin(0);
	sq_raw(must(vshm_encode_mapped(buf, sizeof(buf), 1, 5, 1), "M"), 0, 0);
	sq_raw(must(vshm_encode_alloc_ok(buf, sizeof(buf), 1), "A"), 0, 0);
	sq_raw(must(vshm_encode_chunk_ok(buf, sizeof(buf), 1, 0, 1), "C"), 0, 0);
	sq_raw(must(vshm_encode_error(buf, sizeof(buf), 0, 1, 0, 0), "E"), 0, 0);
	sq_raw(must(vshm_encode_freed(buf, sizeof(buf), 1), "F"), 0, 0);
	sq_end("host-types-from-guest");

	sq_begin(0);
	len = alloc(1, 4096, VSHM_PAGE_SIZE, RW);
	sq_raw(15, 0, 0);			/* TRUNC: close */
	buf[0] ^= 1;
	sq_raw(len, 0, 0);			/* MAGIC: close */
	buf[0] ^= 1;
	buf[6] = 1;
	sq_raw(len, 0, 0);			/* flags: ERROR, no close */
	sq_raw(0, 0, 0);
	sq_end("malformed");

	sq_begin(SF_CFG_ON_MAPPED);
	sq_alloc(1, 2);
	sq_hpa(1, 0, 2, 2, 0x11, SF_MAP_ENOMEM, 0);
	sq_free(1);
	sq_alloc(1, 2);
	sq_hpa(1, 0, 2, 2, 0x11, SF_MAP_WRONG_SIZE, 0);
	sq_free(1);
	sq_alloc(1, 2);
	sq_hpa(1, 0, 2, 2, 0x11, 0, SF_APP_DENIED);
	sq_free(1);
	sq_alloc(1, 2);
	sq_hpa(1, 0, 2, 2, 0x11, 0, SF_APP_EIO);
	sq_hpa(1, 0, 2, 2, 0x11, 0, 0);		/* failed: NOREGION */
	sq_free(1);
	sq_end("map-failures");

	sq_begin(0);
	sq_alloc(1, 1);
	sq_hpa(1, 0, 1, 1, 0x11, 0, 0);
	sq_hpa(1, 0, 1, 1, 0x11, 0, 0);		/* mapped: NOREGION, unmap */
	sq_alloc(2, 1);
	sq_hpa(2, 0, 1, 1, 0x12, 0, 0);
	sq_raw(must(vshm_encode_free(buf, sizeof(buf), 2), "F"), 0,
	       SF_APP_UNMAP_FAILS);
	sq_alloc(3, 1);
	sq_hpa(3, 0, 1, 1, 0x13, 0, 0);		/* dropped at the end */
	sq_end("mapped-then-chunk-unmap-fails");

	/* Structured records. */
	sq_begin(SF_CFG_ON_MAPPED);
	sq_u8(SF_OP(SF_ALLOC, 0, 0));
	sq_u8(1);
	sq_u16(9);				/* 10 pages */
	sq_u8(SF_OP(SF_HPA, 0, 0));
	sq_u8(1);
	sq_u16(0);
	sq_u16(4);
	sq_u16(10);
	sq_u8(0x21);
	sq_u8(SF_OP(SF_HPA, 0, 0));
	sq_u8(1);
	sq_u16(4);
	sq_u16(6);
	sq_u16(10);
	sq_u8(0x21);
	sq_u8(SF_OP(SF_FREE, 0, 0));
	sq_u8(1);
	sq_u8(SF_OP(SF_ALLOC, 0, 0));
	sq_u8(2);
	sq_u16(0);
	sq_u8(SF_OP(SF_REFUSED, 0, 0));
	sq_u8(2);
	sq_u8(VSHM_E_QUOTA);
	sq_u8(SF_OP(SF_FREE, 0, 0));
	sq_u8(2);
	sq_u8(SF_OP(SF_REFUSED, 0, 0));
	sq_u8(0);
	sq_u8(0);
	sq_end("structured");

	/* Many live regions, some mapped, dropped at the end. */
	sq_begin(0);
	for (i = 1; i <= 24; i++) {
		sq_alloc((uint32_t)i, (uint32_t)i);
		if (i % 2)
			sq_hpa((uint32_t)i, 0, (uint32_t)i, (uint32_t)i,
			       0x1000 + i, 0, 0);
	}
	for (i = 1; i <= 24; i += 3)
		sq_free((uint32_t)i);
	sq_end("many-regions");

	/* A list message that fails decoding fails its region. */
	sq_begin(0);
	sq_alloc(1, 2);
	run(0, 0x100000, 2);
	len = gpa(1, 0, 2, 1);
	vshm_wire_mark_hpa(buf, 0x42);
	buf[60] = 1;				/* extent pad */
	sq_raw(len, 0, 0);
	buf[60] = 0;
	fz_put_le64(buf + 16, 0);		/* grant 0 */
	sq_raw(len, 0, 0);
	sq_free(1);
	sq_end("bad-list-fails-region");

	/* An untranslated GPA_LIST with overlapping runs: DUP, index 1. */
	sq_begin(0);
	sq_alloc(1, 3);
	run(0, 0x100000, 2);
	run(1, 0x102000, 1);
	len = gpa(1, 0, 3, 2);
	fz_put_le64(buf + 64, 0x101000);	/* overlaps run 0 */
	sq_raw(len, 0, 0);
	sq_free(1);
	sq_alloc(1, 3);
	sq_end("gpa-dup");

	/* HPA_LIST of region 0: the connection closes. */
	sq_begin(0);
	sq_alloc(1, 1);
	sq_hpa(1, 0, 1, 1, 0x11, 0, 0);
	fz_put_le32(buf + 12, 0);
	sq_raw(VSHM_GPA_LIST_SIZE(1), 0, 0);
	sq_free(1);
	sq_end("hpa-region-0-close");

	/* A guest ERROR with a region: TYPE, no close; version 2: close. */
	sq_begin(0);
	sq_raw(must(vshm_encode_error(buf, sizeof(buf), 4, VSHM_E_BUSY, 0, 1),
		    "E"), 0, 0);
	len = must(vshm_encode_free(buf, sizeof(buf), 4), "F");
	buf[4] = 2;
	sq_raw(len, 0, 0);
	sq_free(4);
	sq_end("guest-error-version");

	/* Bad ALLOC parameters and a bad FREE length: ERROR, no close. */
	sq_begin(0);
	len = alloc(5, 8192, VSHM_PAGE_SIZE, RW);
	fz_put_le32(buf + 28, 8);
	sq_raw(len, 0, 0);
	len = must(vshm_encode_free(buf, sizeof(buf), 5), "F");
	buf[16] = 0;
	fz_put_le32(buf + 8, 17);
	sq_raw(17, 0, 0);
	sq_alloc(5, 2);
	sq_end("bad-alloc-bad-free");

	/* 2 MiB pages, at the size quota exactly. */
	sq_begin(1 | SF_CFG_MAX_SIZE | SF_CFG_ON_MAPPED);
	sq_raw(alloc(9, 64 * 4096, VSHM_PAGE_SIZE, VSHM_ACCESS_READ), 0, 0);
	sq_hpa(9, 0, 64, 64, 0x909, 0, 0);
	sq_raw(alloc(10, VSHM_HUGE_PAGE_SIZE, VSHM_HUGE_PAGE_SIZE, RW), 0, 0);
	sq_free(9);
	sq_raw(alloc(10, VSHM_HUGE_PAGE_SIZE, VSHM_HUGE_PAGE_SIZE, RW), 0, 0);
	sq_end("quota-size-huge");

	/* Mapper errors, one each. */
	sq_begin(0);
	sq_alloc(1, 1);
	sq_hpa(1, 0, 1, 1, 0x1, SF_MAP_EBUSY, 0);
	sq_alloc(2, 1);
	sq_hpa(2, 0, 1, 1, 0x2, SF_MAP_EPERM, 0);
	sq_free(1);
	sq_free(2);
	sq_end("map-ebusy-eperm");

	/* A mapped region that a REFUSED fails: unmapped, unmap fails. */
	sq_begin(SF_CFG_ON_MAPPED);
	sq_alloc(1, 2);
	sq_hpa(1, 0, 2, 2, 0x1, 0, 0);
	run(0, 0x100000, 1);
	len = gpa(1, 0, 1, 1);
	vshm_wire_mark_refused(buf, len, VSHM_E_DUP, 0);
	sq_raw(len, 0, SF_APP_UNMAP_FAILS);
	sq_free(1);
	sq_end("refused-mapped-unmap-fails");

	/* Three regions uploading at once, chunks interleaved. */
	sq_begin(0);
	sq_alloc(1, 6);
	sq_alloc(2, 6);
	sq_alloc(3, 6);
	for (i = 0; i < 3; i++) {
		sq_hpa(1, (uint32_t)i * 2, 2, 6, 0x10, 0, 0);
		sq_hpa(2, (uint32_t)i * 2, 2, 6, 0x20, 0, 0);
		sq_hpa(3, (uint32_t)i * 2, 2, 6, 0x30, 0, 0);
	}
	sq_free(2);
	sq_end("interleaved");

	/* Region ids at the edges; GPA_LIST for an unknown region. */
	sq_begin(0);
	sq_alloc(0xffffffff, 1);
	sq_hpa(0xffffffff, 0, 1, 1, 0xffffffffffffffffULL, 0, 0);
	run(0, 0x100000, 1);
	sq_raw(gpa(77, 0, 1, 1), 0, 0);
	sq_free(0xffffffff);
	sq_end("edge-ids");

	/* A last chunk that starts too late; a first chunk with LAST set. */
	sq_begin(0);
	sq_alloc(1, 4);
	sq_hpa(1, 0, 1, 4, 0x1, 0, 0);
	sq_hpa(1, 2, 2, 4, 0x1, 0, 0);
	sq_alloc(2, 4);
	sq_hpa(2, 0, 4, 4, 0x2, 0, 0);
	sq_end("late-last");

	/* Structured records: every mapper and application mode. */
	sq_begin(SF_CFG_ON_MAPPED | 3);
	for (i = 0; i < 8; i++) {
		sq_u8(SF_OP(SF_ALLOC, 0, 0));
		sq_u8((uint8_t)(i + 1));
		sq_u16(1);
		sq_u8(SF_OP(SF_HPA, (int)i, (int)(i & 3)));
		sq_u8((uint8_t)(i + 1));
		sq_u16(0);
		sq_u16(2);
		sq_u16(2);
		sq_u8((uint8_t)(0x40 + i));
		sq_u8(SF_OP(SF_FREE, 0, (int)(i & 3)));
		sq_u8((uint8_t)(i + 1));
	}
	sq_end("structured-modes");

	/* Structured: region 0 in each kind, a grant of 0. */
	sq_begin(0);
	sq_u8(SF_OP(SF_ALLOC, 0, 0));
	sq_u8(0);
	sq_u16(0);
	sq_u8(SF_OP(SF_ALLOC, 0, 0));
	sq_u8(3);
	sq_u16(0);
	sq_u8(SF_OP(SF_HPA, 0, 0));
	sq_u8(3);
	sq_u16(0);
	sq_u16(1);
	sq_u16(1);
	sq_u8(0);
	sq_u8(SF_OP(SF_FREE, 0, 0));
	sq_u8(0);
	sq_u8(SF_OP(SF_FREE, 0, 0));
	sq_u8(3);
	sq_end("structured-zero");

	/* After a close, the same ids are free again. */
	sq_begin(0);
	sq_alloc(1, 1);
	sq_hpa(1, 0, 1, 1, 0x1, 0, 0);
	sq_alloc(2, 1);
	sq_raw(must(vshm_encode_free(buf, sizeof(buf), 1), "F"), 0, 0);
	buf[0] = 0;
	sq_raw(16, 0, 0);			/* MAGIC: close */
	sq_alloc(2, 1);
	sq_hpa(2, 0, 1, 1, 0x2, 0, 0);
	sq_end("close-reuse");

	/* An ALLOC that claims more than the buffer holds, then garbage. */
	sq_begin(0);
	len = alloc(1, 4096, VSHM_PAGE_SIZE, RW);
	fz_put_le32(buf + 8, 65536);
	sq_raw(len, 0, 0);
	memset(buf, 0xff, 64);
	sq_raw(64, 0, 0);
	sq_end("len-claims-more");

	/* Features: HELLO first, a cookie, doorbells (section 12). */
	sq_begin(SF_CFG_ON_MAPPED);
	sq_raw(must(vshm_encode_hello(buf, sizeof(buf), 1, VSHM_FEAT_MASK),
		    "HELLO"), 0, 0);
	len = must(vshm_encode_alloc_cookie(buf, sizeof(buf), 2, 3 * 4096,
					    VSHM_PAGE_SIZE, RW, 0xc00c1e),
		   "ALLOC cookie");
	sq_raw(len, 0, 0);
	sq_hpa(2, 0, 3, 3, 0x42, 0, 0);
	sq_raw(must(vshm_encode_notify(buf, sizeof(buf), 2, 5), "NOTIFY"), 0, 0);
	sq_raw(must(vshm_encode_hello(buf, sizeof(buf), 1, 1), "HELLO"), 0, 0);
	sq_free(2);
	sq_end("feat-hello-cookie-notify");

	/* A cookie nobody agreed to, and a NOTIFY before any region. */
	sq_begin(0);
	sq_raw(must(vshm_encode_notify(buf, sizeof(buf), 9, 1), "NOTIFY"), 0, 0);
	sq_raw(must(vshm_encode_alloc_cookie(buf, sizeof(buf), 3, 4096,
					     VSHM_PAGE_SIZE, RW, 7),
		    "ALLOC cookie"), 0, 0);
	sq_alloc(3, 1);
	sq_hpa(3, 0, 1, 1, 0x43, 0, 0);
	sq_free(3);
	sq_end("feat-none-agreed");

	/* A host without doorbells (configuration bit 6: not NOTIFY). */
	sq_begin(SF_CFG_FEAT_OFF(VSHM_FEAT_NOTIFY));
	sq_raw(must(vshm_encode_hello(buf, sizeof(buf), 4, VSHM_FEAT_MASK),
		    "HELLO"), 0, 0);
	sq_alloc(4, 2);
	sq_hpa(4, 0, 2, 2, 0x44, 0, 0);
	sq_raw(must(vshm_encode_notify(buf, sizeof(buf), 4, 2), "NOTIFY"), 0, 0);
	sq_end("feat-host-without-notify");
}

int main(int argc, char **argv)
{
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus <dir>\n");
		return 2;
	}
	root = argv[1];
	mkdir_p(root);
	snprintf(path, sizeof(path), "%s/wire", root);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/proto", root);
	mkdir_p(path);
	snprintf(path, sizeof(path), "%s/session", root);
	mkdir_p(path);

	guest_messages();
	host_messages();
	sessions();
	printf("mkcorpus: %u files, %zu bytes in %s\n", nfiles, nbytes, root);
	return 0;
}
