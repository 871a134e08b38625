// SPDX-License-Identifier: GPL-2.0
/*
 * Channels (userspace/lib/chan.c, <vsock-shm/chan.h>): the layout, both
 * sides in one process on a heap "region" of exact size (so that ASan sees
 * any access outside it), the doorbell rules, two threads streaming, and a
 * hostile guest rewriting what it may (and what it may not) under the host.
 */
#include <criterion/criterion.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "vsock_shm_chan.h"
#include "vsock-shm/chan.h"

#define CTL(mem)	((struct vshm_chan_ctrl *)(mem))

struct pair {
	uint8_t *mem;
	size_t size;
	struct vshm_chan *g, *h;	/* guest side, host side */
};

static void *region(size_t size)
{
	/* Exact size (a multiple of 64), 64-byte aligned: ASan sees overruns. */
	void *p = aligned_alloc(64, size);

	cr_assert(p);
	memset(p, 0xa5, size);
	return p;
}

static void pair_open(struct pair *pr, uint32_t g2h, uint32_t h2g,
		      uint64_t bulk)
{
	struct vshm_chan_params p = { .g2h_size = g2h, .h2g_size = h2g,
				      .bulk_size = bulk };
	size_t need = vshm_chan_layout_size(&p);
	ssize_t n;

	cr_assert(need >= VSHM_CHAN_HDR_SIZE + g2h + h2g + bulk);
	pr->size = (need + 63) & ~(size_t)63;
	pr->mem = region(pr->size);
	n = vshm_chan_format(pr->mem, pr->size, &p);
	cr_assert_eq(n, (ssize_t)need, "format: %zd", n);
	pr->g = vshm_chan_attach(pr->mem, pr->size, VSHM_CHAN_SIDE_GUEST);
	cr_assert(pr->g, "guest attach: %s", strerror(errno));
	pr->h = vshm_chan_attach(pr->mem, pr->size, VSHM_CHAN_SIDE_HOST);
	cr_assert(pr->h, "host attach: %s", strerror(errno));
}

static void pair_close(struct pair *pr)
{
	vshm_chan_detach(pr->g);
	vshm_chan_detach(pr->h);
	free(pr->mem);
}

/* Deterministic payload of message seq, length len. */
static void fill(uint8_t *b, size_t len, uint64_t seq)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL + len;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)x;
	}
}

static void expect_msg(struct vshm_chan *c, size_t len, uint64_t seq)
{
	uint8_t want[4096], got[4096];
	ssize_t n;

	cr_assert(len <= sizeof(want));
	fill(want, len, seq);
	n = vshm_chan_recv(c, got, sizeof(got));
	cr_assert_eq(n, (ssize_t)len, "message %llu: got %zd, want %zu",
		     (unsigned long long)seq, n, len);
	cr_assert(!memcmp(got, want, len), "message %llu differs",
		  (unsigned long long)seq);
}

static void send_msg(struct vshm_chan *c, size_t len, uint64_t seq)
{
	uint8_t b[4096];
	int err;

	cr_assert(len <= sizeof(b));
	fill(b, len, seq);
	err = vshm_chan_send(c, b, len);
	cr_assert_eq(err, 0, "send %llu (%zu bytes): %d",
		     (unsigned long long)seq, len, err);
}

/* --- format and attach ---------------------------------------------------- */

Test(chan_format, layout_and_header)
{
	struct vshm_chan_params p = { .g2h_size = 8192, .h2g_size = 256,
				      .bulk_size = 10000 };
	struct vshm_chan_hdr *h;
	size_t size = 64 * 1024;
	uint8_t *mem = region(size);
	ssize_t n;

	n = vshm_chan_format(mem, size, &p);
	cr_assert_eq(n, (ssize_t)vshm_chan_layout_size(&p));
	h = &CTL(mem)->hdr;
	cr_assert_eq(le32toh(h->magic), VSHM_CHAN_MAGIC);
	cr_assert_eq(le16toh(h->version), VSHM_CHAN_VERSION);
	cr_assert_eq(le16toh(h->hdr_size), VSHM_CHAN_HDR_SIZE);
	cr_assert_eq(le64toh(h->total_size), (uint64_t)n);
	/* The rings page aligned (or to their size), the bulk page aligned. */
	cr_assert_eq(le64toh(h->ring[VSHM_CHAN_G2H].data_off), 4096);
	cr_assert_eq(le32toh(h->ring[VSHM_CHAN_G2H].data_size), 8192);
	cr_assert_eq(le64toh(h->ring[VSHM_CHAN_H2G].data_off), 4096 + 8192);
	cr_assert_eq(le32toh(h->ring[VSHM_CHAN_H2G].data_size), 256);
	cr_assert_eq(le64toh(h->bulk_off), 16384);
	cr_assert_eq(le64toh(h->bulk_size), 10000);
	cr_assert_eq(n, 16384 + 10000);
	/* Indices and events zero, the bulk area zeroed. */
	cr_assert_eq(CTL(mem)->g2h_prod.prod, 0);
	cr_assert_eq(CTL(mem)->h2g_cons.data_armed, 0);
	cr_assert_eq(mem[16384 + 9999], 0);
	cr_assert_eq(mem[n], 0xa5, "format wrote past its layout");
	free(mem);
}

Test(chan_format, small_rings_packed)
{
	struct vshm_chan_params p = { .g2h_size = 64, .h2g_size = 128 };

	/* 640 -> 640 (64-aligned), 704 -> 768 (128-aligned), no bulk. */
	cr_assert_eq(vshm_chan_layout_size(&p), 768 + 128);
}

Test(chan_format, bad_params)
{
	struct vshm_chan_params p = { .g2h_size = 4096, .h2g_size = 4096 };
	size_t size = 16384;
	uint8_t *mem = region(size + 64);

	cr_assert_eq(vshm_chan_format(NULL, size, &p), -EINVAL);
	cr_assert_eq(vshm_chan_format(mem, size, NULL), -EINVAL);
	cr_assert_eq(vshm_chan_format(mem + 8, size, &p), -EINVAL);
	cr_assert_eq(vshm_chan_format(mem, 4096 + 4096, &p), -ENOSPC);
	p.g2h_size = 4000;
	cr_assert_eq(vshm_chan_format(mem, size, &p), -EINVAL);
	p.g2h_size = 32;
	cr_assert_eq(vshm_chan_format(mem, size, &p), -EINVAL);
	p.g2h_size = 1U << 31;
	cr_assert_eq(vshm_chan_format(mem, size, &p), -EINVAL);
	cr_assert_eq(vshm_chan_layout_size(&p), 0);
	p.g2h_size = 4096;
	p.reserved[1] = 1;
	cr_assert_eq(vshm_chan_format(mem, size, &p), -EINVAL);
	p.reserved[1] = 0;
	cr_assert_eq(vshm_chan_format(mem, size, &p), 4096 * 3);
	free(mem);
}

/* Attach to a copy of a good layout with one change; expect errno. */
static void attach_fails(void (*change)(uint8_t *mem), size_t size, int err)
{
	struct pair pr;
	struct vshm_chan *c;

	pair_open(&pr, 4096, 4096, 8192);
	change(pr.mem);
	errno = 0;
	c = vshm_chan_attach(pr.mem, size ? size : pr.size, VSHM_CHAN_SIDE_HOST);
	cr_assert_null(c);
	cr_assert_eq(errno, err, "errno %d, want %d", errno, err);
	pair_close(&pr);
}

static void nothing(uint8_t *m) { (void)m; }
static void bad_magic(uint8_t *m) { CTL(m)->hdr.magic ^= htole32(1); }
static void bad_version(uint8_t *m) { CTL(m)->hdr.version = htole16(2); }
static void bad_hdr_size(uint8_t *m) { CTL(m)->hdr.hdr_size = htole16(704); }
static void bad_flags(uint8_t *m) { CTL(m)->hdr.flags = htole32(1); }
static void bad_pad(uint8_t *m) { CTL(m)->hdr.ring[1].pad = htole32(1); }
static void bad_reserved(uint8_t *m) { CTL(m)->hdr.reserved[6] = 1; }
static void big_total(uint8_t *m)
{
	CTL(m)->hdr.total_size = htole64(le64toh(CTL(m)->hdr.total_size) + 64);
}
static void ring_not_pow2(uint8_t *m)
{
	CTL(m)->hdr.ring[0].data_size = htole32(4096 - 64);
}
static void ring_too_big(uint8_t *m)
{
	CTL(m)->hdr.ring[1].data_size = htole32(1U << 31);
}
static void ring_past_end(uint8_t *m)
{
	CTL(m)->hdr.ring[1].data_off = htole64(le64toh(CTL(m)->hdr.total_size) - 64);
}
static void ring_wraps_u64(uint8_t *m)
{
	CTL(m)->hdr.ring[1].data_off = htole64(UINT64_MAX - 63);
}
static void ring_in_header(uint8_t *m) { CTL(m)->hdr.ring[0].data_off = htole64(576); }
static void ring_misaligned(uint8_t *m)
{
	CTL(m)->hdr.ring[0].data_off = htole64(4096 + 8);
}
static void rings_overlap(uint8_t *m)
{
	CTL(m)->hdr.ring[1].data_off = htole64(4096 + 2048);
}
static void ring_on_bulk(uint8_t *m)
{
	CTL(m)->hdr.ring[1].data_off = CTL(m)->hdr.bulk_off;
}
static void bulk_past_end(uint8_t *m)
{
	CTL(m)->hdr.bulk_size = htole64(le64toh(CTL(m)->hdr.bulk_size) + 1);
}
static void bulk_off_no_size(uint8_t *m) { CTL(m)->hdr.bulk_size = 0; }
static void index_misaligned(uint8_t *m) { CTL(m)->h2g_prod.prod = htole32(4); }
static void index_past_full(uint8_t *m)
{
	CTL(m)->h2g_prod.prod = htole32(4096 + 8);	/* host's own, > ring */
}

Test(chan_attach, header_checks)
{
	attach_fails(bad_magic, 0, EPROTO);
	attach_fails(bad_version, 0, EPROTO);
	attach_fails(bad_hdr_size, 0, EPROTO);
	attach_fails(bad_flags, 0, EPROTO);
	attach_fails(bad_pad, 0, EPROTO);
	attach_fails(bad_reserved, 0, EPROTO);
	attach_fails(big_total, 0, EPROTO);
	attach_fails(ring_not_pow2, 0, EPROTO);
	attach_fails(ring_too_big, 0, EPROTO);
	attach_fails(ring_past_end, 0, EPROTO);
	attach_fails(ring_wraps_u64, 0, EPROTO);
	attach_fails(ring_in_header, 0, EPROTO);
	attach_fails(ring_misaligned, 0, EPROTO);
	attach_fails(rings_overlap, 0, EPROTO);
	attach_fails(ring_on_bulk, 0, EPROTO);
	attach_fails(bulk_past_end, 0, EPROTO);
	attach_fails(bulk_off_no_size, 0, EPROTO);
	attach_fails(index_misaligned, 0, EPROTO);
	attach_fails(index_past_full, 0, EPROTO);
	/* Mapped less than the layout says, or less than the header. */
	attach_fails(nothing, 4096 * 3, EPROTO);
	attach_fails(nothing, 576, EPROTO);
}

Test(chan_attach, bad_args)
{
	struct pair pr;

	pair_open(&pr, 256, 256, 0);
	errno = 0;
	cr_assert_null(vshm_chan_attach(NULL, pr.size, VSHM_CHAN_SIDE_HOST));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(vshm_chan_attach(pr.mem + 8, pr.size - 64,
					VSHM_CHAN_SIDE_HOST));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(vshm_chan_attach(pr.mem, pr.size, (enum vshm_chan_side)2));
	cr_assert_eq(errno, EINVAL);
	/* NULL handles: errors, no crash. */
	cr_assert_eq(vshm_chan_send(NULL, "x", 1), -EINVAL);
	cr_assert_eq(vshm_chan_recv(NULL, NULL, 0), -EINVAL);
	cr_assert_eq(vshm_chan_commit(NULL, 0), -EINVAL);
	cr_assert_eq(vshm_chan_consume(NULL), -EINVAL);
	cr_assert_eq(vshm_chan_prepare_wait(NULL, VSHM_CHAN_EV_DATA), -EINVAL);
	cr_assert_eq(vshm_chan_kick(NULL), -EINVAL);
	cr_assert_eq(vshm_chan_max_msg(NULL), 0);
	vshm_chan_detach(NULL);
	cr_assert_eq(vshm_chan_send(pr.g, NULL, 1), -EINVAL);
	cr_assert_eq(vshm_chan_recv(pr.h, NULL, 1), -EINVAL);
	pair_close(&pr);
}

/* --- messages ------------------------------------------------------------- */

Test(chan_msg, both_directions)
{
	struct pair pr;
	char buf[64];

	pair_open(&pr, 4096, 1024, 0);
	cr_assert_eq(vshm_chan_max_msg(pr.g), 2048 - 8);
	cr_assert_eq(vshm_chan_max_msg(pr.h), 512 - 8);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), -EAGAIN);
	cr_assert_eq(vshm_chan_recv(pr.g, buf, sizeof(buf)), -EAGAIN);
	cr_assert_eq(vshm_chan_send(pr.g, "ping", 4), 0);
	cr_assert_eq(vshm_chan_send(pr.h, "pong!", 5), 0);
	/* Each side receives only what the other sent. */
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 4);
	cr_assert(!memcmp(buf, "ping", 4));
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), -EAGAIN);
	cr_assert_eq(vshm_chan_recv(pr.g, buf, sizeof(buf)), 5);
	cr_assert(!memcmp(buf, "pong!", 5));
	cr_assert_eq(vshm_chan_recv(pr.g, buf, sizeof(buf)), -EAGAIN);
	pair_close(&pr);
}

Test(chan_msg, every_size)
{
	uint32_t rings[] = { 64, 256, 4096 };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		struct pair pr;
		size_t max, len, k;
		uint64_t seq = 0;

		pair_open(&pr, rings[i], rings[i], 0);
		max = vshm_chan_max_msg(pr.g);
		cr_assert_eq(max, rings[i] / 2 - 8);
		for (len = 0; len <= max; len++) {
			/* Fill with messages of this size, drain, compare. */
			size_t n = 0;
			uint8_t b[4096];

			for (;;) {
				int err;

				fill(b, len, seq + n);
				err = vshm_chan_send(pr.g, b, len);
				if (err == -EAGAIN)
					break;
				cr_assert_eq(err, 0);
				n++;
			}
			cr_assert(n >= 1, "size %zu: nothing fits", len);
			for (k = 0; k < n; k++)
				expect_msg(pr.h, len, seq + k);
			cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), -EAGAIN);
			seq += n;
		}
		cr_assert_eq(vshm_chan_send(pr.g, "", max + 1), -EMSGSIZE);
		pair_close(&pr);
	}
}

Test(chan_msg, zero_length_and_short_buffer)
{
	struct pair pr;
	char buf[8];

	pair_open(&pr, 256, 256, 0);
	cr_assert_eq(vshm_chan_send(pr.g, NULL, 0), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, NULL, 0), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, NULL, 0), -EAGAIN);
	cr_assert_eq(vshm_chan_send(pr.g, "0123456789", 10), 0);
	/* Too small: left in the ring. */
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), -EMSGSIZE);
	cr_assert_eq(vshm_chan_recv(pr.h, NULL, 0), -EMSGSIZE);
	{
		char big[16];

		cr_assert_eq(vshm_chan_recv(pr.h, big, sizeof(big)), 10);
		cr_assert(!memcmp(big, "0123456789", 10));
	}
	pair_close(&pr);
}

Test(chan_msg, full_and_empty)
{
	struct vshm_chan_stats st;
	struct pair pr;
	char buf[8];
	int i;

	pair_open(&pr, 256, 256, 0);
	/* 8-byte messages take 16 bytes: 16 fit, exactly. */
	for (i = 0; i < 16; i++)
		cr_assert_eq(vshm_chan_send(pr.g, "abcdefgh", 8), 0, "msg %d", i);
	cr_assert_eq(vshm_chan_send(pr.g, "abcdefgh", 8), -EAGAIN);
	cr_assert_eq(vshm_chan_send(pr.g, NULL, 0), -EAGAIN);
	vshm_chan_get_stats(pr.g, &st);
	cr_assert_eq(st.tx_full, 2);
	cr_assert_eq(st.tx_msgs, 16);
	cr_assert_eq(st.tx_bytes, 128);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 8);
	cr_assert_eq(vshm_chan_send(pr.g, "abcdefgh", 8), 0);
	cr_assert_eq(vshm_chan_send(pr.g, "abcdefgh", 8), -EAGAIN);
	for (i = 0; i < 16; i++)
		cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 8);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), -EAGAIN);
	vshm_chan_get_stats(pr.h, &st);
	cr_assert_eq(st.rx_msgs, 17);
	cr_assert_eq(st.rx_bytes, 136);
	cr_assert_eq(st.tx_msgs, 0);
	pair_close(&pr);
}

Test(chan_msg, padding_record)
{
	struct pair pr;
	uint8_t *ring;
	int i;

	pair_open(&pr, 256, 256, 0);
	ring = pr.mem + le64toh(CTL(pr.mem)->hdr.ring[VSHM_CHAN_G2H].data_off);
	/* Five 40-byte messages (48 each) up to 240; the sixth wraps. */
	for (i = 0; i < 5; i++)
		send_msg(pr.g, 40, i);
	cr_assert_eq(vshm_chan_send(pr.g, ring, 40), -EAGAIN);
	expect_msg(pr.h, 40, 0);
	send_msg(pr.g, 40, 5);		/* pad 16 at 240, record at 0 */
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_prod.prod), 240 + 16 + 48);
	cr_assert_eq(le32toh(((struct vshm_chan_rec *)(ring + 240))->flags),
		     VSHM_CHAN_REC_PAD);
	cr_assert_eq(le32toh(((struct vshm_chan_rec *)(ring + 240))->len), 8);
	cr_assert_eq(le32toh(((struct vshm_chan_rec *)ring)->len), 40);
	for (i = 1; i < 6; i++)
		expect_msg(pr.h, 40, i);
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_cons.cons), 304);
	pair_close(&pr);
}

/* A queue model: random sizes, random interleaving, random paths. */
static void stream_model(struct pair *pr, unsigned int seed, int rounds)
{
	uint64_t sent = 0, recvd = 0;
	size_t lens[4096];
	size_t max = vshm_chan_max_msg(pr->g);
	int i;

	srand(seed);
	for (i = 0; i < rounds; i++) {
		if (rand() % 2) {
			size_t len = (size_t)rand() % (max + 1);
			uint8_t b[4096];
			void *buf;
			int err;

			if (rand() % 2) {
				fill(b, len, sent);
				err = vshm_chan_send(pr->g, b, len);
			} else {
				err = vshm_chan_reserve(pr->g, len, &buf);
				if (!err) {
					cr_assert_eq((uintptr_t)buf % 8, 0);
					fill(buf, len, sent);
					err = vshm_chan_commit(pr->g, len);
				}
			}
			if (err == -EAGAIN)
				continue;
			cr_assert_eq(err, 0);
			lens[sent++ % 4096] = len;
		} else if (recvd < sent) {
			size_t len = lens[recvd % 4096];

			if (rand() % 2) {
				expect_msg(pr->h, len, recvd);
			} else {
				const void *m;
				size_t l;
				uint8_t want[4096];

				cr_assert_eq(vshm_chan_peek(pr->h, &m, &l), 0);
				cr_assert_eq(l, len);
				fill(want, len, recvd);
				cr_assert(!memcmp(m, want, len));
				cr_assert_eq(vshm_chan_consume(pr->h), 0);
			}
			recvd++;
		} else {
			cr_assert_eq(vshm_chan_recv(pr->h, NULL, 0), -EAGAIN);
		}
	}
	while (recvd < sent) {
		expect_msg(pr->h, lens[recvd % 4096], recvd);
		recvd++;
	}
	cr_assert(sent > (uint64_t)rounds / 4);
}

Test(chan_msg, wraparound_random)
{
	struct pair pr;

	pair_open(&pr, 256, 256, 0);
	stream_model(&pr, 1, 200000);
	pair_close(&pr);
	pair_open(&pr, 4096, 64, 0);
	stream_model(&pr, 2, 100000);
	pair_close(&pr);
}

/* Indices that pass 2^32 while streaming. */
Test(chan_msg, index_wraps_2_32)
{
	struct vshm_chan_params p = { .g2h_size = 256, .h2g_size = 256 };
	struct pair pr;
	uint32_t start = 0xffffff00U;

	pr.size = vshm_chan_layout_size(&p);
	pr.mem = region(pr.size);
	cr_assert_eq(vshm_chan_format(pr.mem, pr.size, &p), (ssize_t)pr.size);
	CTL(pr.mem)->g2h_prod.prod = htole32(start);
	CTL(pr.mem)->g2h_cons.cons = htole32(start);
	CTL(pr.mem)->h2g_prod.prod = htole32(start + 64);
	CTL(pr.mem)->h2g_cons.cons = htole32(start + 64);
	pr.g = vshm_chan_attach(pr.mem, pr.size, VSHM_CHAN_SIDE_GUEST);
	pr.h = vshm_chan_attach(pr.mem, pr.size, VSHM_CHAN_SIDE_HOST);
	cr_assert(pr.g && pr.h);
	stream_model(&pr, 3, 20000);
	cr_assert_lt(le32toh(CTL(pr.mem)->g2h_cons.cons), start, "did not wrap");
	pair_close(&pr);
}

/* --- zero copy ------------------------------------------------------------ */

Test(chan_zero_copy, reserve_commit_peek_consume)
{
	struct pair pr;
	const void *m, *m2;
	size_t len;
	void *buf;
	uint8_t *ring;

	pair_open(&pr, 256, 256, 0);
	ring = pr.mem + le64toh(CTL(pr.mem)->hdr.ring[VSHM_CHAN_G2H].data_off);
	cr_assert_eq(vshm_chan_commit(pr.g, 0), -EINVAL);	/* no reserve */
	cr_assert_eq(vshm_chan_reserve(pr.g, 121, &buf), -EMSGSIZE);
	cr_assert_eq(vshm_chan_reserve(pr.g, 100, &buf), 0);
	cr_assert_eq((uint8_t *)buf, ring + 8, "in the ring, after the header");
	memcpy(buf, "hello world", 11);
	/* Nothing visible before the commit. */
	cr_assert_eq(vshm_chan_peek(pr.h, &m, &len), -EAGAIN);
	cr_assert_eq(vshm_chan_commit(pr.g, 101), -EINVAL);	/* > reserved */
	cr_assert_eq(vshm_chan_commit(pr.g, 11), 0);		/* shorter */
	cr_assert_eq(vshm_chan_commit(pr.g, 11), -EINVAL);	/* once */
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_prod.prod), 24);

	cr_assert_eq(vshm_chan_consume(pr.h), -EINVAL);		/* no peek */
	cr_assert_eq(vshm_chan_peek(pr.h, &m, &len), 0);
	cr_assert_eq(len, 11);
	cr_assert_eq((const uint8_t *)m, ring + 8);
	cr_assert(!memcmp(m, "hello world", 11));
	cr_assert_eq(vshm_chan_peek(pr.h, &m2, &len), 0);	/* again: same */
	cr_assert_eq(m2, m);
	cr_assert_eq(vshm_chan_consume(pr.h), 0);
	cr_assert_eq(vshm_chan_consume(pr.h), -EINVAL);
	cr_assert_eq(vshm_chan_peek(pr.h, &m, &len), -EAGAIN);
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_cons.cons), 24);

	/* A reserve replaced by another: only the second is published. */
	cr_assert_eq(vshm_chan_reserve(pr.g, 8, &buf), 0);
	memcpy(buf, "AAAAAAAA", 8);
	cr_assert_eq(vshm_chan_reserve(pr.g, 4, &buf), 0);
	memcpy(buf, "BBBB", 4);
	cr_assert_eq(vshm_chan_commit(pr.g, 4), 0);
	cr_assert_eq(vshm_chan_peek(pr.h, &m, &len), 0);
	cr_assert_eq(len, 4);
	cr_assert(!memcmp(m, "BBBB", 4));
	pair_close(&pr);
}

/* --- doorbells ------------------------------------------------------------ */

struct bell {
	int calls;
	unsigned int last;
	int ret;
};

static int bell_fn(void *arg, unsigned int ev)
{
	struct bell *b = arg;

	b->calls++;
	b->last = ev;
	return b->ret;
}

Test(chan_notify, data_only_when_armed)
{
	struct bell gb = { 0 }, hb = { 0 };
	struct vshm_chan_stats st;
	struct pair pr;
	char buf[16];

	pair_open(&pr, 256, 256, 0);
	vshm_chan_set_notify(pr.g, bell_fn, &gb);
	vshm_chan_set_notify(pr.h, bell_fn, &hb);

	/* The host does not wait: no doorbell. */
	cr_assert_eq(vshm_chan_send(pr.g, "a", 1), 0);
	cr_assert_eq(gb.calls, 0);
	/* Data is there: prepare_wait says so and does not arm. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA),
		     VSHM_CHAN_EV_DATA);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 1);
	/* Empty: armed; the next message rings once, the one after not. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA), 0);
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_cons.data_armed), 1);
	cr_assert_eq(vshm_chan_send(pr.g, "b", 1), 0);
	cr_assert_eq(gb.calls, 1);
	cr_assert_eq(gb.last, VSHM_CHAN_EV_DATA);
	cr_assert_eq(vshm_chan_send(pr.g, "c", 1), 0);
	cr_assert_eq(gb.calls, 1);
	/* Receiving disarms: no doorbell while the host is busy. */
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 1);
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_cons.data_armed), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 1);
	cr_assert_eq(vshm_chan_send(pr.g, "d", 1), 0);
	cr_assert_eq(gb.calls, 1);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 1);
	/* Armed again: rings again. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA), 0);
	cr_assert_eq(vshm_chan_send(pr.g, "e", 1), 0);
	cr_assert_eq(gb.calls, 2);
	cr_assert_eq(hb.calls, 0, "the host never rang");
	vshm_chan_get_stats(pr.g, &st);
	cr_assert_eq(st.notify_sent, 2);
	vshm_chan_get_stats(pr.h, &st);
	cr_assert_eq(st.waits, 3, "armed 3 times (the first found data)");
	/* The other direction is independent. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, VSHM_CHAN_EV_DATA), 0);
	cr_assert_eq(vshm_chan_send(pr.h, "f", 1), 0);
	cr_assert_eq(hb.calls, 1);
	cr_assert_eq(hb.last, VSHM_CHAN_EV_DATA);
	cr_assert_eq(gb.calls, 2);
	pair_close(&pr);
}

Test(chan_notify, space_when_producer_waits)
{
	struct bell gb = { 0 }, hb = { 0 };
	struct pair pr;
	char buf[64];
	int n = 0;

	pair_open(&pr, 256, 256, 0);
	vshm_chan_set_notify(pr.g, bell_fn, &gb);
	vshm_chan_set_notify(pr.h, bell_fn, &hb);
	while (vshm_chan_send(pr.g, "0123456789abcdef", 16) == 0)
		n++;
	cr_assert_eq(n, 10);	/* 24 bytes each: 240 of 256 */
	/* Consuming without a waiting producer: no doorbell. */
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 16);
	cr_assert_eq(hb.calls, 0);
	/* Room freed since the last failed send: do not sleep. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, VSHM_CHAN_EV_SPACE),
		     VSHM_CHAN_EV_SPACE);
	cr_assert_eq(vshm_chan_send(pr.g, "0123456789abcdef", 16), 0);
	cr_assert_eq(vshm_chan_send(pr.g, "0123456789abcdef", 16), -EAGAIN);
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, VSHM_CHAN_EV_SPACE), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 16);
	cr_assert_eq(hb.calls, 1);
	cr_assert_eq(hb.last, VSHM_CHAN_EV_SPACE);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 16);
	cr_assert_eq(hb.calls, 1, "once per wait");
	/* A successful reserve disarms. */
	cr_assert_eq(vshm_chan_send(pr.g, "x", 1), 0);
	cr_assert_eq(le32toh(CTL(pr.mem)->g2h_prod.space_armed), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, buf, sizeof(buf)), 16);
	cr_assert_eq(hb.calls, 1);
	/* Both at once (room was freed since the last look); bad masks. */
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, VSHM_CHAN_EV_DATA |
					    VSHM_CHAN_EV_SPACE),
		     VSHM_CHAN_EV_SPACE);
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, VSHM_CHAN_EV_DATA |
					    VSHM_CHAN_EV_SPACE), 0);
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, 0), -EINVAL);
	cr_assert_eq(vshm_chan_prepare_wait(pr.g, 4), -EINVAL);
	cr_assert_eq(gb.calls, 0);
	pair_close(&pr);
}

Test(chan_notify, failed_doorbell_and_kick)
{
	struct bell gb = { .ret = -EIO };
	struct vshm_chan_stats st;
	struct pair pr;

	pair_open(&pr, 256, 256, 0);
	vshm_chan_set_notify(pr.g, bell_fn, &gb);
	cr_assert_eq(vshm_chan_kick(pr.g), 0);		/* nothing pending */
	cr_assert_eq(gb.calls, 0);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA), 0);
	/* The message is sent even if the doorbell fails. */
	cr_assert_eq(vshm_chan_send(pr.g, "a", 1), 0);
	cr_assert_eq(gb.calls, 1);
	vshm_chan_get_stats(pr.g, &st);
	cr_assert_eq(st.notify_failed, 1);
	cr_assert_eq(st.notify_sent, 0);
	cr_assert_eq(vshm_chan_kick(pr.g), -EIO);	/* still pending */
	cr_assert_eq(gb.calls, 2);
	gb.ret = 0;
	cr_assert_eq(vshm_chan_kick(pr.g), 0);
	cr_assert_eq(gb.calls, 3);
	cr_assert_eq(gb.last, VSHM_CHAN_EV_DATA);
	cr_assert_eq(vshm_chan_kick(pr.g), 0);
	cr_assert_eq(gb.calls, 3);
	/* Without a callback nothing is called. */
	vshm_chan_set_notify(pr.g, NULL, NULL);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA),
		     VSHM_CHAN_EV_DATA);
	pair_close(&pr);
}

/* --- two threads ---------------------------------------------------------- */

#define STREAM_MSGS	1000000		/* with a 4 KiB ring */
#define TINY_MSGS	200000		/* with a 256-byte ring */

struct side {
	struct vshm_chan *c;
	int wake;		/* eventfd this side sleeps on */
	uint64_t sum;		/* checksum of the payloads */
	uint64_t msgs;
	uint64_t sleeps;
	uint64_t count;		/* messages to stream */
};

static int ring_eventfd(void *arg, unsigned int ev)
{
	uint64_t one = 1;

	(void)ev;
	return write(*(int *)arg, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static void sleep_on(struct side *s, unsigned int ev)
{
	uint64_t v;
	int r = vshm_chan_prepare_wait(s->c, ev);

	cr_assert(r >= 0, "prepare_wait: %d", r);
	if (r == 0) {
		cr_assert_eq(read(s->wake, &v, sizeof(v)), (ssize_t)sizeof(v));
		s->sleeps++;
	}
}

static uint64_t mix(uint64_t sum, const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sum = (sum ^ b[i]) * 0x100000001b3ULL;
	return sum;
}

/* Message i: 8 bytes of i, then (i * 7) % 93 bytes of a pattern. */
static size_t make_msg(uint8_t *b, uint64_t i)
{
	size_t len = 8 + (i * 7) % 93, k;

	memcpy(b, &i, 8);
	for (k = 8; k < len; k++)
		b[k] = (uint8_t)(i + k * 31);
	return len;
}

static void *producer(void *arg)
{
	struct side *s = arg;
	uint8_t b[128];
	uint64_t i;

	for (i = 0; i < s->count; i++) {
		size_t len = make_msg(b, i);
		void *buf;
		int err;

		for (;;) {
			if (i % 2) {
				err = vshm_chan_send(s->c, b, len);
			} else {
				err = vshm_chan_reserve(s->c, len, &buf);
				if (!err) {
					memcpy(buf, b, len);
					err = vshm_chan_commit(s->c, len);
				}
			}
			if (err != -EAGAIN)
				break;
			sleep_on(s, VSHM_CHAN_EV_SPACE);
		}
		cr_assert_eq(err, 0);
		s->sum = mix(s->sum, b, len);
		s->msgs++;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct side *s = arg;
	uint8_t b[128], want[128];
	uint64_t i;

	for (i = 0; i < s->count; i++) {
		const void *m;
		size_t len;
		ssize_t n;

		for (;;) {
			if (i % 3) {
				n = vshm_chan_recv(s->c, b, sizeof(b));
			} else {
				n = vshm_chan_peek(s->c, &m, &len);
				if (!n) {
					memcpy(b, m, len);
					n = vshm_chan_consume(s->c);
					if (!n)
						n = (ssize_t)len;
				}
			}
			if (n != -EAGAIN)
				break;
			sleep_on(s, VSHM_CHAN_EV_DATA);
		}
		cr_assert_eq(n, (ssize_t)make_msg(want, i), "message %llu: %zd",
			     (unsigned long long)i, n);
		cr_assert(!memcmp(b, want, (size_t)n), "message %llu differs",
			  (unsigned long long)i);
		s->sum = mix(s->sum, b, (size_t)n);
		s->msgs++;
	}
	return NULL;
}

static void stream_threads(uint32_t ring_size, uint64_t count)
{
	struct side tx = { .count = count }, rx = { .count = count };
	struct vshm_chan_stats gs, hs;
	pthread_t pt, ct;
	struct pair pr;
	char b[8];

	pair_open(&pr, ring_size, ring_size, 0);
	tx.c = pr.g;
	rx.c = pr.h;
	tx.wake = eventfd(0, 0);
	rx.wake = eventfd(0, 0);
	cr_assert(tx.wake >= 0 && rx.wake >= 0);
	/* The guest's doorbell wakes the host, and the other way round. */
	vshm_chan_set_notify(pr.g, ring_eventfd, &rx.wake);
	vshm_chan_set_notify(pr.h, ring_eventfd, &tx.wake);

	cr_assert_eq(pthread_create(&ct, NULL, consumer, &rx), 0);
	cr_assert_eq(pthread_create(&pt, NULL, producer, &tx), 0);
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);

	cr_assert_eq(tx.msgs, count);
	cr_assert_eq(rx.msgs, count);
	cr_assert_eq(tx.sum, rx.sum, "checksums differ");
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), -EAGAIN);
	vshm_chan_get_stats(pr.g, &gs);
	vshm_chan_get_stats(pr.h, &hs);
	cr_assert_eq(gs.tx_msgs, count);
	cr_assert_eq(hs.rx_msgs, count);
	cr_assert_eq(gs.tx_bytes, hs.rx_bytes);
	/* At most one doorbell per wait armed. */
	cr_assert_leq(gs.notify_sent, hs.waits);
	cr_assert_leq(hs.notify_sent, gs.waits);
	cr_assert_eq(gs.notify_failed + hs.notify_failed, 0);
	cr_log_info("ring %u: %llu sleeps of the consumer, %llu of the producer, "
		    "%llu + %llu doorbells", ring_size,
		    (unsigned long long)rx.sleeps, (unsigned long long)tx.sleeps,
		    (unsigned long long)gs.notify_sent,
		    (unsigned long long)hs.notify_sent);
	close(tx.wake);
	close(rx.wake);
	pair_close(&pr);
}

Test(chan_threads, million_messages, .timeout = 120)
{
	stream_threads(4096, STREAM_MSGS);
}

Test(chan_threads, million_messages_tiny_ring, .timeout = 120)
{
	/* 256 bytes: full and empty all the time, doorbells both ways. */
	stream_threads(256, TINY_MSGS);
}

/* --- bulk ----------------------------------------------------------------- */

Test(chan_bulk, area_and_bounds)
{
	struct pair pr;
	size_t size;
	uint8_t *b;

	pair_open(&pr, 256, 256, 5000);
	b = vshm_chan_bulk(pr.h, &size);
	cr_assert_eq(size, 5000);
	cr_assert_eq(b, pr.mem + le64toh(CTL(pr.mem)->hdr.bulk_off));
	cr_assert_eq(vshm_chan_bulk(pr.g, NULL), b);
	cr_assert_eq(vshm_chan_bulk_ptr(pr.h, 0, 5000), b);
	cr_assert_eq(vshm_chan_bulk_ptr(pr.h, 4999, 1), b + 4999);
	cr_assert_eq(vshm_chan_bulk_ptr(pr.h, 5000, 0), b + 5000);
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, 5000, 1));
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, 5001, 0));
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, 1, 5000));
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, 1, UINT64_MAX));
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, UINT64_MAX, 2));
	/* A message names a bulk buffer; the other side finds the bytes. */
	{
		uint64_t ref[2] = { 1000, 11 };
		uint64_t got[2];
		uint8_t *p;

		memcpy(vshm_chan_bulk_ptr(pr.g, 1000, 11), "bulk buffer", 11);
		cr_assert_eq(vshm_chan_send(pr.g, ref, sizeof(ref)), 0);
		cr_assert_eq(vshm_chan_recv(pr.h, got, sizeof(got)), 16);
		p = vshm_chan_bulk_ptr(pr.h, got[0], got[1]);
		cr_assert(p && !memcmp(p, "bulk buffer", 11));
	}
	pair_close(&pr);

	pair_open(&pr, 256, 256, 0);
	cr_assert_null(vshm_chan_bulk(pr.h, &size));
	cr_assert_eq(size, 0);
	cr_assert_null(vshm_chan_bulk_ptr(pr.h, 0, 0));
	pair_close(&pr);
}

/* --- a hostile guest ------------------------------------------------------ */

static uint8_t *g2h_ring(struct pair *pr)
{
	return pr->mem + le64toh(CTL(pr->mem)->hdr.ring[VSHM_CHAN_G2H].data_off);
}

/* The guest writes a raw record at ring offset pos. */
static void raw_rec(struct pair *pr, uint32_t pos, uint32_t len,
		    uint32_t flags)
{
	struct vshm_chan_rec *r = (void *)(g2h_ring(pr) + pos);

	r->len = htole32(len);
	r->flags = htole32(flags);
}

static void set_g2h_prod(struct pair *pr, uint32_t v)
{
	CTL(pr->mem)->g2h_prod.prod = htole32(v);
}

/* The host's channel is broken: every call says -EPROTO. */
static void expect_broken(struct vshm_chan *h)
{
	const void *m;
	size_t len;
	void *buf;
	char b[8];

	cr_assert_eq(vshm_chan_broken(h), 1);
	cr_assert_eq(vshm_chan_recv(h, b, sizeof(b)), -EPROTO);
	cr_assert_eq(vshm_chan_peek(h, &m, &len), -EPROTO);
	cr_assert_eq(vshm_chan_consume(h), -EPROTO);
	cr_assert_eq(vshm_chan_send(h, "x", 1), -EPROTO);
	cr_assert_eq(vshm_chan_reserve(h, 1, &buf), -EPROTO);
	cr_assert_eq(vshm_chan_commit(h, 0), -EPROTO);
	cr_assert_eq(vshm_chan_prepare_wait(h, VSHM_CHAN_EV_DATA), -EPROTO);
}

/* One broken host receive: -EPROTO, then broken. */
static void host_recv_eproto(struct pair *pr, const char *what)
{
	char b[256];

	cr_assert_eq(vshm_chan_recv(pr->h, b, sizeof(b)), -EPROTO, "%s", what);
	expect_broken(pr->h);
}

Test(chan_hostile, producer_index)
{
	struct pair pr;
	char b[64];

	pair_open(&pr, 256, 256, 0);
	set_g2h_prod(&pr, 4);				/* unaligned */
	host_recv_eproto(&pr, "unaligned prod");
	pair_close(&pr);

	pair_open(&pr, 256, 256, 0);
	set_g2h_prod(&pr, 256 + 8);			/* more than full */
	host_recv_eproto(&pr, "prod past a full ring");
	pair_close(&pr);

	pair_open(&pr, 256, 256, 0);
	cr_assert_eq(vshm_chan_send(pr.g, "abc", 3), 0);
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), 3);
	set_g2h_prod(&pr, 8);				/* back */
	host_recv_eproto(&pr, "prod moved back");
	pair_close(&pr);

	/* Moved back but not below the host's cons: caught at the next read. */
	pair_open(&pr, 256, 256, 0);
	cr_assert_eq(vshm_chan_send(pr.g, "abc", 3), 0);
	cr_assert_eq(vshm_chan_send(pr.g, "def", 3), 0);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_DATA),
		     VSHM_CHAN_EV_DATA);			/* prod 32 seen */
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), 3);
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), 3);
	set_g2h_prod(&pr, 24);
	host_recv_eproto(&pr, "prod moved back below what was seen");
	pair_close(&pr);
}

Test(chan_hostile, records)
{
	struct pair pr;

	/* Longer than a message can be. */
	pair_open(&pr, 256, 256, 0);
	raw_rec(&pr, 0, 121, 0);
	set_g2h_prod(&pr, 136);
	host_recv_eproto(&pr, "len > max");
	pair_close(&pr);

	/* Huge length (overflow in a careless size computation). */
	pair_open(&pr, 256, 256, 0);
	raw_rec(&pr, 0, 0xfffffffcU, 0);
	set_g2h_prod(&pr, 16);
	host_recv_eproto(&pr, "len 2^32 - 4");
	pair_close(&pr);

	/* More than was published. */
	pair_open(&pr, 256, 256, 0);
	raw_rec(&pr, 0, 100, 0);
	set_g2h_prod(&pr, 16);
	host_recv_eproto(&pr, "record past prod");
	pair_close(&pr);

	/* Unknown flags. */
	pair_open(&pr, 256, 256, 0);
	raw_rec(&pr, 0, 4, 2);
	set_g2h_prod(&pr, 16);
	host_recv_eproto(&pr, "flags 2");
	pair_close(&pr);

	/* Padding at offset 0 (the whole ring). */
	pair_open(&pr, 256, 256, 0);
	raw_rec(&pr, 0, 248, VSHM_CHAN_REC_PAD);
	set_g2h_prod(&pr, 256);
	host_recv_eproto(&pr, "pad at 0");
	pair_close(&pr);
}

/* A guest whose indices start near the end of the ring (pos 192). */
static void pair_open_at(struct pair *pr, uint32_t start)
{
	struct vshm_chan_params p = { .g2h_size = 256, .h2g_size = 256 };

	pr->size = vshm_chan_layout_size(&p);
	pr->mem = region(pr->size);
	cr_assert_eq(vshm_chan_format(pr->mem, pr->size, &p), (ssize_t)pr->size);
	CTL(pr->mem)->g2h_prod.prod = htole32(start);
	CTL(pr->mem)->g2h_cons.cons = htole32(start);
	pr->g = vshm_chan_attach(pr->mem, pr->size, VSHM_CHAN_SIDE_GUEST);
	pr->h = vshm_chan_attach(pr->mem, pr->size, VSHM_CHAN_SIDE_HOST);
	cr_assert(pr->g && pr->h);
}

Test(chan_hostile, wrapping_records)
{
	struct pair pr;
	char b[256];

	/* A record that crosses the end of the area. */
	pair_open_at(&pr, 192);
	raw_rec(&pr, 192, 80, 0);		/* 88 bytes, 64 left */
	set_g2h_prod(&pr, 192 + 88);
	host_recv_eproto(&pr, "record crosses the end");
	pair_close(&pr);

	/* Padding of the wrong length. */
	pair_open_at(&pr, 192);
	raw_rec(&pr, 192, 48, VSHM_CHAN_REC_PAD);	/* should be 56 */
	raw_rec(&pr, 0, 8, 0);
	set_g2h_prod(&pr, 256 + 16);
	host_recv_eproto(&pr, "pad too short");
	pair_close(&pr);

	/* Padding published without the record after it. */
	pair_open_at(&pr, 192);
	raw_rec(&pr, 192, 56, VSHM_CHAN_REC_PAD);
	set_g2h_prod(&pr, 256);
	host_recv_eproto(&pr, "pad alone");
	pair_close(&pr);

	/* Two pads in a row. */
	pair_open_at(&pr, 192);
	raw_rec(&pr, 192, 56, VSHM_CHAN_REC_PAD);
	raw_rec(&pr, 0, 248, VSHM_CHAN_REC_PAD);
	set_g2h_prod(&pr, 256 + 64);
	host_recv_eproto(&pr, "pad after pad");
	pair_close(&pr);

	/* The right padding, by hand, is fine. */
	pair_open_at(&pr, 192);
	raw_rec(&pr, 192, 56, VSHM_CHAN_REC_PAD);
	raw_rec(&pr, 0, 3, 0);
	memcpy(g2h_ring(&pr) + 8, "abc", 3);
	set_g2h_prod(&pr, 256 + 16);
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), 3);
	cr_assert(!memcmp(b, "abc", 3));
	cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), -EAGAIN);
	pair_close(&pr);
}

Test(chan_hostile, consumer_index)
{
	struct pair pr;
	int n;

	/* The host sends; the guest's cons runs ahead of what was sent. */
	pair_open(&pr, 256, 256, 0);
	for (n = 0; vshm_chan_send(pr.h, "12345678", 8) == 0; n++)
		;
	cr_assert_eq(n, 16);
	CTL(pr.mem)->h2g_cons.cons = htole32(256 + 16);
	cr_assert_eq(vshm_chan_send(pr.h, "12345678", 8), -EPROTO);
	expect_broken(pr.h);
	pair_close(&pr);

	/* Unaligned. */
	pair_open(&pr, 256, 256, 0);
	CTL(pr.mem)->h2g_cons.cons = htole32(4);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_SPACE), -EPROTO);
	expect_broken(pr.h);
	pair_close(&pr);

	/* Moved back. */
	pair_open(&pr, 256, 256, 0);
	cr_assert_eq(vshm_chan_send(pr.h, "12345678", 8), 0);
	cr_assert_eq(vshm_chan_send(pr.h, "12345678", 8), 0);
	CTL(pr.mem)->h2g_cons.cons = htole32(32);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_SPACE),
		     VSHM_CHAN_EV_SPACE);
	CTL(pr.mem)->h2g_cons.cons = htole32(16);
	cr_assert_eq(vshm_chan_prepare_wait(pr.h, VSHM_CHAN_EV_SPACE), -EPROTO);
	expect_broken(pr.h);
	pair_close(&pr);
}

Test(chan_hostile, host_keeps_its_own_state)
{
	struct bell hb = { 0 };
	struct pair pr;
	char b[16];
	int i;

	pair_open(&pr, 256, 256, 0);
	vshm_chan_set_notify(pr.h, bell_fn, &hb);
	/* After attach, the header and the host's own lines are ignored. */
	memset(&CTL(pr.mem)->hdr, 0xff, sizeof(CTL(pr.mem)->hdr));
	for (i = 0; i < 100; i++) {
		cr_assert_eq(vshm_chan_send(pr.g, "guest", 5), 0);
		/* The guest scribbles over the host's lines. */
		CTL(pr.mem)->g2h_cons.cons = htole32(0xdeadbeef);
		CTL(pr.mem)->h2g_prod.prod = htole32(0x12345677);
		cr_assert_eq(vshm_chan_recv(pr.h, b, sizeof(b)), 5);
		cr_assert_eq(vshm_chan_send(pr.h, "host", 4), 0);
		/* The host wrote its own values back, from its own copy. */
		cr_assert_eq(le32toh(CTL(pr.mem)->g2h_cons.cons),
			     (uint32_t)(i + 1) * 16);
		cr_assert_eq(le32toh(CTL(pr.mem)->h2g_prod.prod),
			     (uint32_t)(i + 1) * 16);
		cr_assert_eq(vshm_chan_recv(pr.g, b, sizeof(b)), 4);
	}
	/* Garbage events: a doorbell at most, never anything else. */
	CTL(pr.mem)->h2g_cons.data_armed = htole32(7);	/* not 1: off */
	cr_assert_eq(vshm_chan_send(pr.h, "x", 1), 0);
	cr_assert_eq(hb.calls, 0);
	CTL(pr.mem)->h2g_cons.data_armed = htole32(1);
	CTL(pr.mem)->h2g_cons.data_event = htole32(0x77777777);
	cr_assert_eq(vshm_chan_send(pr.h, "x", 1), 0);
	cr_assert_eq(hb.calls, 0);
	CTL(pr.mem)->h2g_cons.data_event =
		CTL(pr.mem)->h2g_prod.prod;		/* the next one */
	cr_assert_eq(vshm_chan_send(pr.h, "x", 1), 0);
	cr_assert_eq(hb.calls, 1);
	cr_assert_eq(vshm_chan_broken(pr.h), 0);
	pair_close(&pr);
}

/*
 * Random garbage: the guest writes random words anywhere in the control
 * block and the rings while the host receives, peeks, sends and waits.
 * Every answer is one the API allows, every pointer is inside its ring,
 * and ASan sees no access outside the region (exact size on the heap).
 */
Test(chan_hostile, random_garbage, .timeout = 60)
{
	struct pair pr;
	uint64_t seed = 0x1234567;
	int round, broke = 0, got = 0;

	for (round = 0; round < 300; round++) {
		uint8_t *rx_lo, *rx_hi, *tx_lo, *tx_hi;
		int i;

		pair_open(&pr, 64U << (round % 4), 64U << (round % 3), 128);
		rx_lo = g2h_ring(&pr);
		rx_hi = rx_lo + le32toh(CTL(pr.mem)->hdr.ring[VSHM_CHAN_G2H].data_size);
		tx_lo = pr.mem + le64toh(CTL(pr.mem)->hdr.ring[VSHM_CHAN_H2G].data_off);
		tx_hi = tx_lo + le32toh(CTL(pr.mem)->hdr.ring[VSHM_CHAN_H2G].data_size);
		for (i = 0; i < 2000 && !vshm_chan_broken(pr.h); i++) {
			uint64_t r;
			uint8_t b[512];
			const void *m;
			size_t len, max;
			void *buf;
			ssize_t n;
			int err;

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			r = seed;
			/* Garbage (0, 1, 7) one time in 16: channels live a while. */
			switch (r % 16 < 8 && (r >> 60) ? 8 + r % 8 : r % 16) {
			case 0:	/* a guest word anywhere but the header */
				*(uint32_t *)(pr.mem + 128 +
					      ((r >> 8) % ((pr.size - 128) / 4)) * 4) =
					(uint32_t)(r >> 32);
				break;
			case 1:	/* a plausible producer index */
				set_g2h_prod(&pr, le32toh(CTL(pr.mem)->g2h_prod.prod) +
					     (uint32_t)((r >> 8) % 64) * 8);
				break;
			case 2: case 8: case 9: case 10: case 11:
				/* an honest message */
				fill(b, (r >> 8) % 64, r);
				vshm_chan_send(pr.g, b, (r >> 8) % 64);
				break;
			case 3: case 12: case 13:
				n = vshm_chan_recv(pr.h, b, (r >> 8) % 300);
				cr_assert(n == -EAGAIN || n == -EPROTO ||
					  n == -EMSGSIZE ||
					  (n >= 0 && (size_t)n <= (r >> 8) % 300),
					  "recv: %zd", n);
				got += n >= 0;
				break;
			case 4: case 14:
				err = vshm_chan_peek(pr.h, &m, &len);
				cr_assert(err == 0 || err == -EAGAIN ||
					  err == -EPROTO);
				if (err)
					break;
				cr_assert((const uint8_t *)m >= rx_lo + 8 &&
					  (const uint8_t *)m + len <= rx_hi);
				memcpy(b, m, len);	/* ASan checks */
				if (r & 0x100)
					cr_assert(vshm_chan_consume(pr.h) == 0);
				break;
			case 5: case 15:
				max = vshm_chan_max_msg(pr.h);
				len = (r >> 8) % (max + 2);
				err = vshm_chan_reserve(pr.h, len, &buf);
				cr_assert(err == 0 || err == -EAGAIN ||
					  err == -EPROTO || err == -EMSGSIZE);
				if (err)
					break;
				cr_assert((uint8_t *)buf >= tx_lo + 8 &&
					  (uint8_t *)buf + len <= tx_hi);
				memset(buf, 0x5a, len);
				cr_assert(vshm_chan_commit(pr.h, len) == 0);
				break;
			case 6:
				err = vshm_chan_prepare_wait(pr.h, 1 + (r >> 8) % 3);
				cr_assert(err >= 0 || err == -EPROTO);
				break;
			case 7:	/* the guest consumes what it likes */
				CTL(pr.mem)->h2g_cons.cons =
					htole32(le32toh(CTL(pr.mem)->h2g_cons.cons) +
						(uint32_t)((r >> 8) % 16) * 8);
				break;
			}
		}
		if (vshm_chan_broken(pr.h)) {
			broke++;
			expect_broken(pr.h);
		}
		pair_close(&pr);
	}
	cr_log_info("random_garbage: %d of 300 channels broken, %d messages", broke,
		    got);
	cr_assert(broke > 50, "the garbage broke only %d channels", broke);
	cr_assert(got > 1000, "only %d messages received", got);
}
