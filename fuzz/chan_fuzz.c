// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the host side of a channel (userspace/lib/chan.c,
 * <vsock-shm/chan.h>) under a hostile guest. The input lays out a region
 * (with vshm_chan_format(), or a raw header the guest wrote), then is a
 * sequence of operations: the guest scribbling on the region (words
 * anywhere, producer and consumer indices, record headers, doorbell
 * events, the header after attach), an honest guest sending and receiving
 * through its own handle, and the host receiving, peeking, sending,
 * waiting, kicking, re-attaching and looking up bulk buffers.
 *
 * Checked (FUZZ_CHECK; ASan and UBSan errors are crashes too; the region
 * is an exact-size heap block):
 * - attach accepts a layout exactly when a model of docs/channels.md,
 *   written here from the document, does;
 * - the host writes only its own lines (G2H consumer, H2G producer) and its
 *   own ring's data area, never the guest's lines, the header, the guest's
 *   ring or the bulk area;
 * - every answer is one the API documents; a received message fits the
 *   buffer and the largest message; peeked and reserved pointers lie inside
 *   their ring; bulk pointers inside the bulk area, exactly when in bounds;
 * - once a call said -EPROTO, the channel is broken and every call says so;
 * - while the guest has only been honest (no scribbling but on the header,
 *   which the host must have copied at attach), nothing is -EPROTO and
 *   every message arrives intact, in order, both ways.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vsock_shm_chan.h"
#include "vsock-shm/chan.h"
#include "fuzz.h"

#define MAX_OPS		512
#define QLEN		256	/* > most records a 512-byte ring holds */

/* Operations (op byte % 16). */
enum {
	OP_W32,		/* guest: a word anywhere */
	OP_PROD,	/* guest: G2H producer index near the host's cons */
	OP_REC,		/* guest: a record header at or after the host's cons */
	OP_GSEND,	/* guest: honest send */
	OP_HRECV,
	OP_HPEEK,
	OP_HSEND,	/* reserve + commit */
	OP_HWAIT,
	OP_CONS,	/* guest: H2G consumer index near the host's prod */
	OP_GRECV,	/* guest: honest receive */
	OP_BULK,
	OP_EVENTS,	/* guest: doorbell events, anything */
	OP_KICK,
	OP_REATTACH,	/* host: detach, attach again */
	OP_GWAIT,	/* guest: honest prepare_wait */
	OP_HDR,		/* guest: a header byte, after attach */
};

/* A layout as the model reads it. */
struct layout {
	uint64_t total, boff, bsize;
	uint64_t doff[2];
	uint32_t dsize[2];
};

/* A FIFO of (seq, len) of the messages in flight, one per direction. */
struct queue {
	uint64_t seq[QLEN];
	uint32_t len[QLEN];
	unsigned int head, tail;
	uint64_t next;
};

static struct {
	uint8_t *mem;
	size_t size;
	struct vshm_chan *g, *h;
	struct layout lay;		/* as the host attached it */
	uint8_t *shadow;
	bool clean;			/* the guest has been honest */
	bool hdr_dirty;			/* the header changed after format */
	bool h_broken;
	uint32_t hcons;			/* what the host last wrote as G2H cons */
	struct queue g2h, h2g;
	int notify_calls;
	bool trace;			/* CHAN_FUZZ_TRACE=1: each operation */
} st;

#define TRACE(...)							\
	do {								\
		if (st.trace)						\
			fprintf(stderr, __VA_ARGS__);			\
	} while (0)

static bool pow2_in(uint64_t s)
{
	return s >= 64 && s <= (1U << 30) && !(s & (s - 1));
}

static bool inside(uint64_t off, uint64_t len, uint64_t total)
{
	return off % 64 == 0 && off >= 640 && off <= total &&
	       len <= total - off;
}

static bool disjoint(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return !al || !bl || a + al <= b || b + bl <= a;
}

/*
 * docs/channels.md, "Attaching": does a side attach to this region? Reads
 * the raw bytes with the fuzz helpers, never the library's structures.
 */
static bool model_accepts(const uint8_t *m, size_t size, int side,
			  struct layout *l)
{
	uint32_t own_prod, own_cons, peer_cons, tx_size;
	int i, tx;

	if (size < 640)
		return false;
	if (fz_le32(m) != 0x48435356 || fz_le16(m + 4) != 1 ||
	    fz_le16(m + 6) != 640 || fz_le32(m + 8) || fz_le32(m + 12))
		return false;
	l->total = fz_le64(m + 16);
	l->boff = fz_le64(m + 24);
	l->bsize = fz_le64(m + 32);
	for (i = 0; i < 2; i++) {
		l->doff[i] = fz_le64(m + 40 + 16 * i);
		l->dsize[i] = fz_le32(m + 48 + 16 * i);
		if (fz_le32(m + 52 + 16 * i))
			return false;
	}
	for (i = 72; i < 128; i++)
		if (m[i])
			return false;
	if (l->total > size)
		return false;
	for (i = 0; i < 2; i++)
		if (!pow2_in(l->dsize[i]) ||
		    !inside(l->doff[i], l->dsize[i], l->total))
			return false;
	if (l->bsize ? !inside(l->boff, l->bsize, l->total) : l->boff != 0)
		return false;
	if (!disjoint(l->doff[0], l->dsize[0], l->doff[1], l->dsize[1]) ||
	    !disjoint(l->doff[0], l->dsize[0], l->boff, l->bsize) ||
	    !disjoint(l->doff[1], l->dsize[1], l->boff, l->bsize))
		return false;
	/* Own indices (read once): aligned; the own ring at most full. */
	tx = side == VSHM_CHAN_SIDE_GUEST ? 0 : 1;
	own_prod = fz_le32(m + (tx ? 0x180 : 0x80));
	peer_cons = fz_le32(m + (tx ? 0x200 : 0x100));
	own_cons = fz_le32(m + (tx ? 0x100 : 0x200));
	tx_size = l->dsize[tx];
	return !((own_prod | peer_cons | own_cons) % 8) &&
	       (uint32_t)(own_prod - peer_cons) <= tx_size;
}

static void pattern(uint8_t *b, uint32_t len, uint64_t seq)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(seq * 7 + i * 13) ^ (uint8_t)len;
}

static void q_push(struct queue *q, uint32_t len)
{
	FUZZ_CHECK(q->tail - q->head < QLEN);
	q->seq[q->tail % QLEN] = q->next++;
	q->len[q->tail % QLEN] = len;
	q->tail++;
}

/* A message received while clean: the oldest in flight, intact. */
static void q_check(struct queue *q, const uint8_t *b, size_t len)
{
	static uint8_t want[65536];
	unsigned int i = q->head % QLEN;

	FUZZ_CHECK(q->head != q->tail);
	FUZZ_CHECK(len == q->len[i]);
	pattern(want, q->len[i], q->seq[i]);
	FUZZ_CHECK(!memcmp(b, want, len));
	q->head++;
}

static int bell(void *arg, unsigned int ev)
{
	(void)arg;
	FUZZ_CHECK(ev && !(ev & ~(VSHM_CHAN_EV_DATA | VSHM_CHAN_EV_SPACE)));
	st.notify_calls++;
	return st.notify_calls % 5 == 0 ? -EIO : 0;
}

/* The host's own bytes: its two lines and its ring's data area. */
static bool host_may_write(size_t off)
{
	const struct layout *l = &st.lay;

	if (off >= 0x100 && off < 0x200)
		return true;
	return off >= l->doff[1] && off < l->doff[1] + l->dsize[1];
}

static void before_host(void)
{
	memcpy(st.shadow, st.mem, st.size);
}

static void after_host(int ret)
{
	size_t i;

	for (i = 0; i < st.size; i++)
		if (st.mem[i] != st.shadow[i])
			FUZZ_CHECK(host_may_write(i));
	/* Only a message consumed moves the consumer index. */
	if (ret < 0)
		FUZZ_CHECK(!memcmp(st.mem + 0x100, st.shadow + 0x100, 4));
	if (ret == -EPROTO)
		st.h_broken = true;
	FUZZ_CHECK(!!vshm_chan_broken(st.h) == st.h_broken);
	if (st.clean)
		FUZZ_CHECK(!st.h_broken);
}

static bool attach_host(void)
{
	struct layout l;
	bool want = model_accepts(st.mem, st.size, VSHM_CHAN_SIDE_HOST, &l);

	errno = 0;
	st.h = vshm_chan_attach(st.mem, st.size, VSHM_CHAN_SIDE_HOST);
	FUZZ_CHECK(!!st.h == want);
	if (!st.h) {
		FUZZ_CHECK(errno == EPROTO);
		return false;
	}
	st.lay = l;
	st.h_broken = false;
	st.hcons = fz_le32(st.mem + 0x100);
	vshm_chan_set_notify(st.h, bell, NULL);
	return true;
}

static void check_broken_sticks(void)
{
	const void *m;
	size_t len;
	void *buf;

	FUZZ_CHECK(vshm_chan_recv(st.h, NULL, 0) == -EPROTO);
	FUZZ_CHECK(vshm_chan_peek(st.h, &m, &len) == -EPROTO);
	FUZZ_CHECK(vshm_chan_reserve(st.h, 0, &buf) == -EPROTO);
	FUZZ_CHECK(vshm_chan_prepare_wait(st.h, VSHM_CHAN_EV_DATA) == -EPROTO);
}

/*
 * The host consumed a message of len bytes: its consumer index moved from
 * old past one record of that length, which never crosses the end of the
 * area, after at most one padding record up to the end.
 */
static void check_consumed(uint32_t old, size_t len)
{
	uint32_t size = st.lay.dsize[0], pos = old & (size - 1);
	uint32_t moved, rec;

	st.hcons = fz_le32(st.mem + 0x100);
	moved = rec = st.hcons - old;

	FUZZ_CHECK(moved && moved <= size);
	if (moved > size - pos)
		rec = moved - (size - pos);	/* after padding to the end */
	FUZZ_CHECK(pos || rec == moved);
	FUZZ_CHECK(rec == VSHM_CHAN_REC_SIZE(len));
}

static void host_recv(struct fz_reader *r)
{
	static uint8_t b[1024];
	size_t cap = fz_u16(r) % sizeof(b);
	uint32_t max = VSHM_CHAN_MAX_MSG(st.lay.dsize[0]);
	ssize_t n;

	uint32_t old = st.hcons;

	before_host();
	n = vshm_chan_recv(st.h, b, cap);
	after_host((int)n);
	FUZZ_CHECK(n == -EAGAIN || n == -EPROTO || n == -EMSGSIZE ||
		   (n >= 0 && (size_t)n <= cap && n <= max));
	TRACE("  host recv(cap %zu): %zd\n", cap, n);
	if (n >= 0)
		check_consumed(old, (size_t)n);

	if (!st.clean)
		return;
	if (n >= 0)
		q_check(&st.g2h, b, (size_t)n);
	else if (n == -EAGAIN)
		FUZZ_CHECK(st.g2h.head == st.g2h.tail);
	else if (n == -EMSGSIZE)
		FUZZ_CHECK(st.g2h.head != st.g2h.tail &&
			   st.g2h.len[st.g2h.head % QLEN] > cap);
}

static void host_peek(struct fz_reader *r)
{
	const uint8_t *lo = st.mem + st.lay.doff[0];
	const uint8_t *hi = lo + st.lay.dsize[0];
	uint8_t consume = fz_u8(r);
	static uint8_t b[65536];
	const void *m;
	size_t len;
	int err;

	before_host();
	err = vshm_chan_peek(st.h, &m, &len);
	after_host(err);
	TRACE("  host peek: %d, len %zu\n", err, err ? 0 : len);
	FUZZ_CHECK(err == 0 || err == -EAGAIN || err == -EPROTO);
	if (err) {
		if (st.clean && err == -EAGAIN)
			FUZZ_CHECK(st.g2h.head == st.g2h.tail);
		return;
	}
	FUZZ_CHECK((const uint8_t *)m >= lo + VSHM_CHAN_REC_HDR &&
		   (const uint8_t *)m <= hi && len <= (size_t)(hi - (const uint8_t *)m));
	FUZZ_CHECK(len <= VSHM_CHAN_MAX_MSG(st.lay.dsize[0]));
	memcpy(b, m, len);
	if (!(consume & 1))
		return;
	{
		uint32_t old = st.hcons;

		before_host();
		err = vshm_chan_consume(st.h);
		after_host(err);
		FUZZ_CHECK(err == 0);
		check_consumed(old, len);
	}
	if (st.clean)
		q_check(&st.g2h, b, len);
}

static void host_send(struct fz_reader *r)
{
	uint8_t *lo = st.mem + st.lay.doff[1];
	uint8_t *hi = lo + st.lay.dsize[1];
	size_t max = vshm_chan_max_msg(st.h);
	size_t len = fz_u16(r) % (max + 2);
	size_t shrink = fz_u8(r);
	void *buf;
	int err;

	FUZZ_CHECK(max == VSHM_CHAN_MAX_MSG(st.lay.dsize[1]));
	before_host();
	err = vshm_chan_reserve(st.h, len, &buf);
	after_host(err);
	FUZZ_CHECK(err == 0 || err == -EAGAIN || err == -EPROTO ||
		   err == -EMSGSIZE);
	FUZZ_CHECK((err == -EMSGSIZE) == (len > max && !st.h_broken));
	if (err)
		return;
	FUZZ_CHECK((uint8_t *)buf >= lo + VSHM_CHAN_REC_HDR &&
		   (uint8_t *)buf <= hi && len <= (size_t)(hi - (uint8_t *)buf));
	len -= shrink % (len + 1);
	pattern(buf, (uint32_t)len, st.h2g.next);
	before_host();
	err = vshm_chan_commit(st.h, len);
	after_host(err);
	FUZZ_CHECK(err == 0);
	if (st.clean)
		q_push(&st.h2g, (uint32_t)len);
}

static void guest_send(struct fz_reader *r)
{
	static uint8_t b[65536];
	size_t max = vshm_chan_max_msg(st.g);
	size_t len = fz_u16(r) % (max + 1);
	int err;

	pattern(b, (uint32_t)len, st.g2h.next);
	err = vshm_chan_send(st.g, b, len);
	if (st.clean)
		FUZZ_CHECK(err == 0 || err == -EAGAIN);
	if (!err && st.clean)
		q_push(&st.g2h, (uint32_t)len);
}

static void guest_recv(void)
{
	static uint8_t b[65536];
	ssize_t n = vshm_chan_recv(st.g, b, sizeof(b));

	if (!st.clean)
		return;
	FUZZ_CHECK(n >= 0 || n == -EAGAIN);
	if (n >= 0)
		q_check(&st.h2g, b, (size_t)n);
	else
		FUZZ_CHECK(st.h2g.head == st.h2g.tail);
}

static void host_bulk(struct fz_reader *r)
{
	uint8_t sel = fz_u8(r);
	uint64_t off = sel & 1 ? fz_u64(r) : fz_u16(r);
	uint64_t len = sel & 2 ? fz_u64(r) : fz_u16(r);
	size_t size;
	uint8_t *base = vshm_chan_bulk(st.h, &size);
	uint8_t *p = vshm_chan_bulk_ptr(st.h, off, len);
	bool in = st.lay.bsize && off <= st.lay.bsize &&
		  len <= st.lay.bsize - off;

	FUZZ_CHECK(size == st.lay.bsize);
	FUZZ_CHECK(base == (st.lay.bsize ? st.mem + st.lay.boff : NULL));
	FUZZ_CHECK(!!p == in);
	if (p) {
		FUZZ_CHECK(p == base + off);
		if (len) {
			volatile uint8_t last = p[len - 1];	/* ASan: inside */

			(void)last;
		}
	}
}

/* Guest writes: all but the header's make the guest dishonest. */
static void poke32(size_t off, uint32_t v)
{
	fz_put_le32(st.mem + off, v);
	if (off < 128)
		st.hdr_dirty = true;
	else
		st.clean = false;
}

static void run_ops(struct fz_reader *r)
{
	int n;

	for (n = 0; n < MAX_OPS && r->left; n++) {
		uint8_t op = fz_u8(r) % 16;
		uint32_t v, pos;
		int err;

		TRACE("op %d: %d (g2h prod %u cons %u, h2g prod %u cons %u, "
		      "host cons %u%s)\n", n, op, fz_le32(st.mem + 0x80),
		      fz_le32(st.mem + 0x100), fz_le32(st.mem + 0x180),
		      fz_le32(st.mem + 0x200), st.hcons,
		      st.clean ? ", clean" : "");

		if (st.h_broken) {
			check_broken_sticks();
			return;
		}
		switch (op) {
		case OP_W32:
			v = fz_u16(r);
			poke32((v % (st.size / 4)) * 4, fz_u32(r));
			break;
		case OP_PROD:
			v = st.hcons + 8 * (uint32_t)(int8_t)fz_u8(r);
			poke32(0x80, v);
			break;
		case OP_REC:
			/* At the host's cons, or a little after. */
			pos = (st.hcons + fz_u8(r) * 8U) & (st.lay.dsize[0] - 1);
			v = fz_u8(r);
			/* Lengths near the limits, or anything. */
			poke32(st.lay.doff[0] + pos,
			       v & 0x80 ? fz_u32(r) : v & 0x40 ? v & 63U :
			       VSHM_CHAN_MAX_MSG(st.lay.dsize[0]) + (v & 15) - 8);
			poke32(st.lay.doff[0] + pos + 4, fz_u8(r) % 4);
			break;
		case OP_GSEND:
			guest_send(r);
			break;
		case OP_HRECV:
			host_recv(r);
			break;
		case OP_HPEEK:
			host_peek(r);
			break;
		case OP_HSEND:
			host_send(r);
			break;
		case OP_HWAIT:
			before_host();
			err = vshm_chan_prepare_wait(st.h, 1 + fz_u8(r) % 3);
			after_host(err);
			FUZZ_CHECK(err == -EPROTO || (err >= 0 && err <= 3));
			break;
		case OP_CONS:
			v = fz_le32(st.mem + 0x180) - 8 * (uint32_t)(int8_t)fz_u8(r);
			poke32(0x200, v);
			break;
		case OP_GRECV:
			guest_recv();
			break;
		case OP_BULK:
			host_bulk(r);
			break;
		case OP_EVENTS:
			/* Doorbell fields: at worst a doorbell too many. */
			v = fz_u32(r);
			fz_put_le32(st.mem + 0x84, v);		/* G2H space_event */
			fz_put_le32(st.mem + 0x88, fz_u8(r) % 3);
			fz_put_le32(st.mem + 0x204, v);		/* H2G data_event */
			fz_put_le32(st.mem + 0x208, fz_u8(r) % 3);
			break;
		case OP_KICK:
			before_host();
			err = vshm_chan_kick(st.h);
			after_host(err);
			FUZZ_CHECK(err == 0 || err == -EIO);
			break;
		case OP_REATTACH:
			before_host();
			vshm_chan_detach(st.h);
			st.h = NULL;
			if (!attach_host()) {
				/* An honest guest's channel re-attaches. */
				FUZZ_CHECK(!st.clean || st.hdr_dirty);
				return;
			}
			after_host(0);
			break;
		case OP_GWAIT:
			vshm_chan_prepare_wait(st.g, 1 + fz_u8(r) % 3);
			break;
		case OP_HDR:
			v = fz_u8(r) % 128;
			st.mem[v] = fz_u8(r);
			st.hdr_dirty = true;
			break;
		}
	}
	if (st.h_broken)
		check_broken_sticks();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_reader r = { data, size };
	uint8_t cfg = fz_u8(&r);
	struct vshm_chan_params p = {
		.g2h_size = 64U << (cfg & 3),
		.h2g_size = 64U << ((cfg >> 2) & 3),
		.bulk_size = cfg & 0x10 ? 192 : 0,
	};
	struct layout gl;
	bool gwant;
	uint32_t start = 0;
	ssize_t n;

	memset(&st, 0, sizeof(st));
	st.clean = true;
	st.trace = getenv("CHAN_FUZZ_TRACE") != NULL;
	if (cfg & 0x20) {
		/* The guest wrote the header: 128 bytes, then a size. */
		uint8_t hdr[128];
		size_t i;

		for (i = 0; i < sizeof(hdr); i++)
			hdr[i] = fz_u8(&r);
		st.size = 64 * (size_t)(fz_u8(&r) + 1);
		st.mem = aligned_alloc(64, st.size);
		FUZZ_CHECK(st.mem);
		memset(st.mem, 0, st.size);
		memcpy(st.mem, hdr, st.size < 128 ? st.size : 128);
		st.hdr_dirty = true;
	} else {
		st.size = vshm_chan_layout_size(&p);
		FUZZ_CHECK(st.size && st.size % 64 == 0);
		st.mem = aligned_alloc(64, st.size);
		FUZZ_CHECK(st.mem);
		n = vshm_chan_format(st.mem, st.size, &p);
		FUZZ_CHECK(n == (ssize_t)st.size);
	}
	if (cfg & 0x40 && st.size >= 640) {
		/* Indices near 2^32 (or anywhere: misaligned is refused). */
		start = fz_u32(&r);
		fz_put_le32(st.mem + 0x80, start);
		fz_put_le32(st.mem + 0x100, start);
		fz_put_le32(st.mem + 0x180, start);
		fz_put_le32(st.mem + 0x200, start);
	}
	st.shadow = malloc(st.size);
	FUZZ_CHECK(st.shadow);

	gwant = model_accepts(st.mem, st.size, VSHM_CHAN_SIDE_GUEST, &gl);
	st.g = vshm_chan_attach(st.mem, st.size, VSHM_CHAN_SIDE_GUEST);
	FUZZ_CHECK(!!st.g == gwant);
	if (!(cfg & 0x20))
		FUZZ_CHECK(st.g || start % 8);
	if (st.g) {
		before_host();
		if (attach_host()) {
			after_host(0);
			run_ops(&r);
		}
	} else {
		FUZZ_CHECK(errno == EPROTO);
	}
	vshm_chan_detach(st.h);
	vshm_chan_detach(st.g);
	free(st.shadow);
	free(st.mem);
	return 0;
}
