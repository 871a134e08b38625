// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * vsock-shm channels: two single-producer single-consumer rings and a bulk
 * area in a shared region. See <vsock-shm/chan.h> (the API), the layout in
 * vsock_shm_chan.h and docs/channels.md.
 *
 * The peer may be hostile (a guest can rewrite every byte of the region at
 * any time). So:
 *  - the header is read once, at attach, into the handle;
 *  - each side keeps its own indices in the handle and only writes them to
 *    the region, never reads them back (except once, at attach);
 *  - each index the peer writes is read once per use (an acquire load) and
 *    checked against what it can be: a producer index never moves back nor
 *    past a full ring, a consumer index never moves back nor past what was
 *    published, both 8-byte aligned;
 *  - each record header is read once into locals and checked (length,
 *    flags, fits the area and what was published) before a byte of payload
 *    is touched; the payload is copied out by recv;
 *  - an impossible value breaks the channel: -EPROTO from then on.
 * Nothing loops on what the peer wrote: a receive skips at most one padding
 * record.
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vsock_shm_chan.h"
#include "vsock-shm/chan.h"

_Static_assert(sizeof(struct vshm_chan_hdr) == 128, "header size");
_Static_assert(sizeof(struct vshm_chan_prod) == VSHM_CHAN_LINE_SIZE,
	       "producer line size");
_Static_assert(sizeof(struct vshm_chan_cons) == VSHM_CHAN_LINE_SIZE,
	       "consumer line size");
_Static_assert(sizeof(struct vshm_chan_ctrl) == VSHM_CHAN_HDR_SIZE,
	       "control block size");
_Static_assert(sizeof(struct vshm_chan_rec) == VSHM_CHAN_REC_HDR,
	       "record header size");
_Static_assert(VSHM_CHAN_MIN_RING == VSHM_CHAN_RING_MIN &&
	       VSHM_CHAN_MAX_RING == VSHM_CHAN_RING_MAX, "ring limits");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) &&
	       ATOMIC_INT_LOCK_FREE == 2, "lock-free 32-bit atomics");

#define CACHE_LINE	64
/* Areas the format lays out are aligned to this (or their size if less). */
#define FORMAT_ALIGN	4096U

/* Single-writer counter: no read-modify-write needed, no data race. */
typedef _Atomic uint64_t counter_t;

static inline void count(counter_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t counted(const counter_t *c)
{
	return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

/* Shared little-endian 32-bit words, through C11 atomics. */
static inline _Atomic uint32_t *aw(__le32 *p)
{
	return (_Atomic uint32_t *)(void *)p;
}

static inline uint32_t ld_acquire(__le32 *p)
{
	return le32toh(atomic_load_explicit(aw(p), memory_order_acquire));
}

static inline uint32_t ld_relaxed(__le32 *p)
{
	return le32toh(atomic_load_explicit(aw(p), memory_order_relaxed));
}

static inline void st_release(__le32 *p, uint32_t v)
{
	atomic_store_explicit(aw(p), htole32(v), memory_order_release);
}

static inline void st_relaxed(__le32 *p, uint32_t v)
{
	atomic_store_explicit(aw(p), htole32(v), memory_order_relaxed);
}

/* One ring as the handle sees it (from the header copied at attach). */
struct ring {
	uint8_t *data;
	uint32_t size;
	uint32_t mask;
	uint32_t max_msg;
	struct vshm_chan_prod *p;	/* producer line */
	struct vshm_chan_cons *k;	/* consumer line */
};

/* Did moving an index from old by n bytes pass ev? */
static inline bool passed(uint32_t ev, uint32_t now, uint32_t n)
{
	return (uint32_t)(now - ev - 1) < n;
}

struct vshm_chan {
	/* Sending side: used by the sending thread only. */
	struct {
		struct ring r;
		uint32_t prod;		/* ours */
		uint32_t cons;		/* the peer's, last valid value read */
		bool armed;		/* space_armed is 1 in the region */
		bool reserved;		/* a reservation is pending */
		uint32_t res_pad;	/* its padding record's bytes (or 0) */
		uint32_t res_len;	/* its length */
		counter_t msgs, bytes, full, notify, notify_failed, waits;
	} tx __attribute__((aligned(CACHE_LINE)));

	/* Receiving side: used by the receiving thread only. */
	struct {
		struct ring r;
		uint32_t cons;		/* ours */
		uint32_t prod;		/* the peer's, last valid value read */
		bool armed;		/* data_armed is 1 in the region */
		bool peeked;		/* a peek is pending */
		uint32_t peek_total;	/* bytes consume() moves past */
		uint32_t peek_len;
		counter_t msgs, bytes, notify, notify_failed, waits;
	} rx __attribute__((aligned(CACHE_LINE)));

	/* Set once, at attach, or by either thread. */
	struct {
		_Atomic int broken;
		_Atomic unsigned int kick;	/* VSHM_CHAN_EV_* to ring again */
		vshm_chan_notify_fn fn;
		void *arg;
		uint8_t *bulk;
		uint64_t bulk_size;
		enum vshm_chan_side side;
	} __attribute__((aligned(CACHE_LINE)));
};

static int broken(struct vshm_chan *c)
{
	atomic_store_explicit(&c->broken, 1, memory_order_relaxed);
	return -EPROTO;
}

static inline bool is_broken(const struct vshm_chan *c)
{
	return atomic_load_explicit((_Atomic int *)&c->broken,
				    memory_order_relaxed);
}

static void ring(struct vshm_chan *c, unsigned int ev, counter_t *ok,
		 counter_t *failed)
{
	vshm_chan_notify_fn fn = c->fn;

	if (!fn)
		return;
	if (fn(c->arg, ev) < 0) {
		count(failed, 1);
		atomic_fetch_or(&c->kick, ev);
	} else {
		count(ok, 1);
	}
}

/* --- layout ------------------------------------------------------------- */

static bool ring_size_ok(uint64_t s)
{
	return s >= VSHM_CHAN_RING_MIN && s <= VSHM_CHAN_RING_MAX &&
	       !(s & (s - 1));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Offsets of the format's layout; total size, or 0 if p is invalid. */
static uint64_t plan(const struct vshm_chan_params *p, uint64_t off[3])
{
	uint64_t at = VSHM_CHAN_HDR_SIZE;
	uint32_t sz[2];
	int i;

	if (!p || p->reserved[0] || p->reserved[1] ||
	    !ring_size_ok(p->g2h_size) || !ring_size_ok(p->h2g_size) ||
	    p->bulk_size > (1ULL << 48))
		return 0;
	sz[VSHM_CHAN_G2H] = p->g2h_size;
	sz[VSHM_CHAN_H2G] = p->h2g_size;
	for (i = 0; i < 2; i++) {
		at = align_up(at, sz[i] < FORMAT_ALIGN ? sz[i] : FORMAT_ALIGN);
		off[i] = at;
		at += sz[i];
	}
	off[2] = 0;
	if (p->bulk_size) {
		at = align_up(at, FORMAT_ALIGN);
		off[2] = at;
		at += p->bulk_size;
	}
	return at;
}

size_t vshm_chan_layout_size(const struct vshm_chan_params *p)
{
	uint64_t off[3];
	uint64_t n = plan(p, off);

	return n > SIZE_MAX ? 0 : (size_t)n;
}

ssize_t vshm_chan_format(void *mem, size_t size,
			 const struct vshm_chan_params *p)
{
	struct vshm_chan_ctrl *ctl = mem;
	struct vshm_chan_hdr *h;
	uint64_t off[3], total;
	int i;

	total = plan(p, off);
	if (!mem || !total || (uintptr_t)mem % VSHM_CHAN_ALIGN)
		return -EINVAL;
	if (total > size)
		return -ENOSPC;

	memset(mem, 0, total);
	h = &ctl->hdr;
	h->version = htole16(VSHM_CHAN_VERSION);
	h->hdr_size = htole16(VSHM_CHAN_HDR_SIZE);
	h->total_size = htole64(total);
	h->bulk_off = htole64(off[2]);
	h->bulk_size = htole64(p->bulk_size);
	for (i = 0; i < 2; i++)
		h->ring[i].data_off = htole64(off[i]);
	h->ring[VSHM_CHAN_G2H].data_size = htole32(p->g2h_size);
	h->ring[VSHM_CHAN_H2G].data_size = htole32(p->h2g_size);
	/* The magic last: a reader that sees it sees the rest. */
	st_release(&h->magic, VSHM_CHAN_MAGIC);
	return (ssize_t)total;
}

/* An area [off, off + len) inside [lo, total), aligned. */
static bool area_ok(uint64_t off, uint64_t len, uint64_t lo, uint64_t total)
{
	return !(off % VSHM_CHAN_ALIGN) && off >= lo && off <= total &&
	       len <= total - off;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

static void ring_init(struct ring *r, uint8_t *base, uint64_t off,
		      uint32_t size, struct vshm_chan_prod *p,
		      struct vshm_chan_cons *k)
{
	r->data = base + off;
	r->size = size;
	r->mask = size - 1;
	r->max_msg = VSHM_CHAN_MAX_MSG(size);
	r->p = p;
	r->k = k;
}

struct vshm_chan *vshm_chan_attach(void *mem, size_t size,
				   enum vshm_chan_side side)
{
	struct vshm_chan_ctrl *ctl = mem;
	struct vshm_chan_hdr h;
	struct vshm_chan *c;
	uint64_t total, doff[2], boff, bsize, hsize;
	uint32_t dsize[2];
	int i, tx, rx;

	if (!mem || (uintptr_t)mem % VSHM_CHAN_ALIGN ||
	    (side != VSHM_CHAN_SIDE_GUEST && side != VSHM_CHAN_SIDE_HOST)) {
		errno = EINVAL;
		return NULL;
	}
	if (size < VSHM_CHAN_HDR_SIZE) {
		errno = EPROTO;
		return NULL;
	}

	/* One read of the header; everything below uses this copy. */
	h.magic = htole32(ld_acquire(&ctl->hdr.magic));
	memcpy((uint8_t *)&h + sizeof(h.magic),
	       (const uint8_t *)&ctl->hdr + sizeof(h.magic),
	       sizeof(h) - sizeof(h.magic));

	total = le64toh(h.total_size);
	hsize = le16toh(h.hdr_size);
	boff = le64toh(h.bulk_off);
	bsize = le64toh(h.bulk_size);
	for (i = 0; i < 2; i++) {
		doff[i] = le64toh(h.ring[i].data_off);
		dsize[i] = le32toh(h.ring[i].data_size);
	}

	if (le32toh(h.magic) != VSHM_CHAN_MAGIC ||
	    le16toh(h.version) != VSHM_CHAN_VERSION ||
	    hsize != VSHM_CHAN_HDR_SIZE || h.flags || h.pad0 ||
	    h.ring[0].pad || h.ring[1].pad || total > size)
		goto bad;
	for (i = 0; i < 7; i++)
		if (h.reserved[i])
			goto bad;
	for (i = 0; i < 2; i++)
		if (!ring_size_ok(dsize[i]) ||
		    !area_ok(doff[i], dsize[i], hsize, total))
			goto bad;
	if (bsize ? !area_ok(boff, bsize, hsize, total) : boff != 0)
		goto bad;
	if (overlap(doff[0], dsize[0], doff[1], dsize[1]) ||
	    overlap(doff[0], dsize[0], boff, bsize) ||
	    overlap(doff[1], dsize[1], boff, bsize))
		goto bad;

	c = aligned_alloc(CACHE_LINE, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	c->side = side;
	c->bulk = bsize ? (uint8_t *)mem + boff : NULL;
	c->bulk_size = bsize;

	tx = side == VSHM_CHAN_SIDE_GUEST ? VSHM_CHAN_G2H : VSHM_CHAN_H2G;
	rx = !tx;
	ring_init(&c->tx.r, mem, doff[tx], dsize[tx],
		  tx == VSHM_CHAN_G2H ? &ctl->g2h_prod : &ctl->h2g_prod,
		  tx == VSHM_CHAN_G2H ? &ctl->g2h_cons : &ctl->h2g_cons);
	ring_init(&c->rx.r, mem, doff[rx], dsize[rx],
		  rx == VSHM_CHAN_G2H ? &ctl->g2h_prod : &ctl->h2g_prod,
		  rx == VSHM_CHAN_G2H ? &ctl->g2h_cons : &ctl->h2g_cons);

	/*
	 * Our own indices: read once here (a fresh layout has them at 0; a
	 * re-attach continues), then only written. The peer's are checked
	 * against them.
	 */
	c->tx.prod = ld_acquire(&c->tx.r.p->prod);
	c->tx.cons = ld_acquire(&c->tx.r.k->cons);
	c->rx.cons = ld_acquire(&c->rx.r.k->cons);
	c->rx.prod = c->rx.cons;
	if ((c->tx.prod | c->tx.cons | c->rx.cons) % VSHM_CHAN_REC_ALIGN ||
	    c->tx.prod - c->tx.cons > c->tx.r.size) {
		free(c);
		goto bad;
	}
	return c;

bad:
	errno = EPROTO;
	return NULL;
}

void vshm_chan_detach(struct vshm_chan *c)
{
	free(c);
}

void vshm_chan_set_notify(struct vshm_chan *c, vshm_chan_notify_fn fn,
			  void *arg)
{
	if (!c)
		return;
	c->fn = fn;
	c->arg = arg;
}

size_t vshm_chan_max_msg(const struct vshm_chan *c)
{
	return c ? c->tx.r.max_msg : 0;
}

int vshm_chan_broken(const struct vshm_chan *c)
{
	return c && is_broken(c);
}

/* --- sending ------------------------------------------------------------ */

/*
 * Reads the peer's consumer index: it may only have moved forward, up to
 * what we published. 0 or -EPROTO.
 */
static int tx_refresh(struct vshm_chan *c)
{
	uint32_t k = ld_acquire(&c->tx.r.k->cons);

	if (k % VSHM_CHAN_REC_ALIGN ||
	    (uint32_t)(k - c->tx.cons) > (uint32_t)(c->tx.prod - c->tx.cons))
		return broken(c);
	c->tx.cons = k;
	return 0;
}

int vshm_chan_reserve(struct vshm_chan *c, size_t len, void **buf)
{
	struct ring *r;
	uint32_t pos, tail, need, pad, total;
	int err;

	if (!c || !buf)
		return -EINVAL;
	if (is_broken(c))
		return -EPROTO;
	r = &c->tx.r;
	c->tx.reserved = false;
	if (len > r->max_msg)
		return -EMSGSIZE;

	pos = c->tx.prod & r->mask;
	tail = r->size - pos;
	need = VSHM_CHAN_REC_SIZE((uint32_t)len);
	pad = need > tail ? tail : 0;
	total = pad + need;
	if (total > r->size - (c->tx.prod - c->tx.cons)) {
		err = tx_refresh(c);
		if (err)
			return err;
		if (total > r->size - (c->tx.prod - c->tx.cons)) {
			count(&c->tx.full, 1);
			return -EAGAIN;
		}
	}
	if (c->tx.armed) {
		st_relaxed(&r->p->space_armed, 0);
		c->tx.armed = false;
	}
	c->tx.reserved = true;
	c->tx.res_pad = pad;
	c->tx.res_len = (uint32_t)len;
	*buf = r->data + ((pos + pad) & r->mask) + VSHM_CHAN_REC_HDR;
	return 0;
}

int vshm_chan_commit(struct vshm_chan *c, size_t len)
{
	struct vshm_chan_rec *rec;
	struct ring *r;
	uint32_t pos, total, ev;

	if (!c)
		return -EINVAL;
	if (is_broken(c))
		return -EPROTO;
	if (!c->tx.reserved || len > c->tx.res_len)
		return -EINVAL;
	r = &c->tx.r;
	pos = c->tx.prod & r->mask;
	if (c->tx.res_pad) {
		rec = (struct vshm_chan_rec *)(r->data + pos);
		st_relaxed(&rec->len, c->tx.res_pad - VSHM_CHAN_REC_HDR);
		st_relaxed(&rec->flags, VSHM_CHAN_REC_PAD);
		pos = 0;
	}
	rec = (struct vshm_chan_rec *)(r->data + pos);
	st_relaxed(&rec->len, (uint32_t)len);
	st_relaxed(&rec->flags, 0);

	total = c->tx.res_pad + VSHM_CHAN_REC_SIZE((uint32_t)len);
	c->tx.prod += total;
	c->tx.reserved = false;
	st_release(&r->p->prod, c->tx.prod);
	count(&c->tx.msgs, 1);
	count(&c->tx.bytes, len);

	/* Publish, then look whether the consumer sleeps (its prepare_wait). */
	atomic_thread_fence(memory_order_seq_cst);
	if (ld_relaxed(&r->k->data_armed) == 1) {
		ev = ld_relaxed(&r->k->data_event);
		if (passed(ev, c->tx.prod, total))
			ring(c, VSHM_CHAN_EV_DATA, &c->tx.notify,
			     &c->tx.notify_failed);
	}
	return 0;
}

int vshm_chan_send(struct vshm_chan *c, const void *msg, size_t len)
{
	void *buf;
	int err;

	if (!msg && len)
		return -EINVAL;
	err = vshm_chan_reserve(c, len, &buf);
	if (err)
		return err;
	if (len)
		memcpy(buf, msg, len);
	return vshm_chan_commit(c, len);
}

/* --- receiving ---------------------------------------------------------- */

/*
 * Reads the peer's producer index: it may only have moved forward, never
 * past a full ring. 0 or -EPROTO.
 */
static int rx_refresh(struct vshm_chan *c)
{
	uint32_t p = ld_acquire(&c->rx.r.p->prod);
	uint32_t avail = p - c->rx.cons;

	if (p % VSHM_CHAN_REC_ALIGN || avail > c->rx.r.size ||
	    avail < (uint32_t)(c->rx.prod - c->rx.cons))
		return broken(c);
	c->rx.prod = p;
	return 0;
}

/*
 * The next record: its payload's position in the data area and length,
 * and the bytes to move past it (with a padding record before it).
 * 0, -EAGAIN or -EPROTO.
 */
static int rx_next(struct vshm_chan *c, uint32_t *at, uint32_t *len,
		   uint32_t *total)
{
	struct ring *r = &c->rx.r;
	struct vshm_chan_rec *rec;
	uint32_t avail, pos, skip = 0, l, f, sz;
	int err;

	if (is_broken(c))
		return -EPROTO;
	if (c->rx.prod == c->rx.cons) {
		err = rx_refresh(c);
		if (err)
			return err;
		if (c->rx.prod == c->rx.cons)
			return -EAGAIN;
	}
	avail = c->rx.prod - c->rx.cons;
	pos = c->rx.cons & r->mask;

	/* Each field once, into locals; all checks on the locals. */
	rec = (struct vshm_chan_rec *)(r->data + pos);
	l = ld_relaxed(&rec->len);
	f = ld_relaxed(&rec->flags);
	if (f == VSHM_CHAN_REC_PAD) {
		/* Padding to the end, published with the record after it. */
		skip = r->size - pos;
		if (pos == 0 || l != skip - VSHM_CHAN_REC_HDR || avail <= skip)
			return broken(c);
		avail -= skip;
		pos = 0;
		rec = (struct vshm_chan_rec *)r->data;
		l = ld_relaxed(&rec->len);
		f = ld_relaxed(&rec->flags);
	}
	if (f != 0 || l > r->max_msg)
		return broken(c);
	sz = VSHM_CHAN_REC_SIZE(l);
	if (sz > r->size - pos || sz > avail)
		return broken(c);
	*at = pos + VSHM_CHAN_REC_HDR;
	*len = l;
	*total = skip + sz;
	return 0;
}

/* Moves past a received record; rings SPACE if the producer waits. */
static void rx_advance(struct vshm_chan *c, uint32_t total, uint32_t len)
{
	struct ring *r = &c->rx.r;
	uint32_t ev;

	c->rx.cons += total;
	c->rx.peeked = false;
	st_release(&r->k->cons, c->rx.cons);
	if (c->rx.armed) {
		st_relaxed(&r->k->data_armed, 0);
		c->rx.armed = false;
	}
	count(&c->rx.msgs, 1);
	count(&c->rx.bytes, len);

	atomic_thread_fence(memory_order_seq_cst);
	if (ld_relaxed(&r->p->space_armed) == 1) {
		ev = ld_relaxed(&r->p->space_event);
		if (passed(ev, c->rx.cons, total))
			ring(c, VSHM_CHAN_EV_SPACE, &c->rx.notify,
			     &c->rx.notify_failed);
	}
}

ssize_t vshm_chan_recv(struct vshm_chan *c, void *buf, size_t cap)
{
	uint32_t at, len, total;
	int err;

	if (!c || (!buf && cap))
		return -EINVAL;
	err = rx_next(c, &at, &len, &total);
	if (err)
		return err;
	if (len > cap)
		return -EMSGSIZE;
	if (len)
		memcpy(buf, c->rx.r.data + at, len);
	rx_advance(c, total, len);
	return len;
}

int vshm_chan_peek(struct vshm_chan *c, const void **msg, size_t *len)
{
	uint32_t at, l, total;
	int err;

	if (!c || !msg || !len)
		return -EINVAL;
	c->rx.peeked = false;
	err = rx_next(c, &at, &l, &total);
	if (err)
		return err;
	c->rx.peeked = true;
	c->rx.peek_total = total;
	c->rx.peek_len = l;
	*msg = c->rx.r.data + at;
	*len = l;
	return 0;
}

int vshm_chan_consume(struct vshm_chan *c)
{
	if (!c)
		return -EINVAL;
	if (is_broken(c))
		return -EPROTO;
	if (!c->rx.peeked)
		return -EINVAL;
	rx_advance(c, c->rx.peek_total, c->rx.peek_len);
	return 0;
}

/* --- waiting ------------------------------------------------------------ */

int vshm_chan_prepare_wait(struct vshm_chan *c, unsigned int events)
{
	unsigned int ready = 0;
	uint32_t seen;
	int err;

	if (!c || !events ||
	    (events & ~(VSHM_CHAN_EV_DATA | VSHM_CHAN_EV_SPACE)))
		return -EINVAL;
	if (is_broken(c))
		return -EPROTO;

	if (events & VSHM_CHAN_EV_DATA) {
		if (c->rx.prod != c->rx.cons) {
			ready |= VSHM_CHAN_EV_DATA;
		} else {
			st_relaxed(&c->rx.r.k->data_event, c->rx.cons);
			st_relaxed(&c->rx.r.k->data_armed, 1);
			c->rx.armed = true;
			count(&c->rx.waits, 1);
			/* Armed, then look again: see the producer's commit. */
			atomic_thread_fence(memory_order_seq_cst);
			err = rx_refresh(c);
			if (err)
				return err;
			if (c->rx.prod != c->rx.cons)
				ready |= VSHM_CHAN_EV_DATA;
		}
	}
	if (events & VSHM_CHAN_EV_SPACE) {
		seen = c->tx.cons;
		st_relaxed(&c->tx.r.p->space_event, seen);
		st_relaxed(&c->tx.r.p->space_armed, 1);
		c->tx.armed = true;
		count(&c->tx.waits, 1);
		atomic_thread_fence(memory_order_seq_cst);
		err = tx_refresh(c);
		if (err)
			return err;
		if (c->tx.cons != seen)
			ready |= VSHM_CHAN_EV_SPACE;
	}
	return (int)ready;
}

int vshm_chan_kick(struct vshm_chan *c)
{
	unsigned int ev;
	int err;

	if (!c)
		return -EINVAL;
	ev = atomic_exchange(&c->kick, 0);
	if (!ev || !c->fn)
		return 0;
	err = c->fn(c->arg, ev);
	if (err < 0) {
		atomic_fetch_or(&c->kick, ev);
		return err;
	}
	return 0;
}

/* --- bulk and counters --------------------------------------------------- */

void *vshm_chan_bulk(const struct vshm_chan *c, size_t *size)
{
	if (size)
		*size = c ? (size_t)c->bulk_size : 0;
	return c ? c->bulk : NULL;
}

void *vshm_chan_bulk_ptr(const struct vshm_chan *c, uint64_t off,
			 uint64_t len)
{
	if (!c || !c->bulk || off > c->bulk_size || len > c->bulk_size - off)
		return NULL;
	return c->bulk + off;
}

void vshm_chan_get_stats(const struct vshm_chan *c, struct vshm_chan_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!c)
		return;
	st->tx_msgs = counted(&c->tx.msgs);
	st->tx_bytes = counted(&c->tx.bytes);
	st->rx_msgs = counted(&c->rx.msgs);
	st->rx_bytes = counted(&c->rx.bytes);
	st->tx_full = counted(&c->tx.full);
	st->notify_sent = counted(&c->tx.notify) + counted(&c->rx.notify);
	st->notify_failed = counted(&c->tx.notify_failed) +
			    counted(&c->rx.notify_failed);
	st->waits = counted(&c->tx.waits) + counted(&c->rx.waits);
}
