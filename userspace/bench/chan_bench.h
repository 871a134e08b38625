/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chan-bench (guest) and chan-bench-server (host): what they agree on.
 * The figures of docs/performance.md ("Channels"): messages and bytes per
 * second through a vshm_chan against the same messages through a vsock
 * stream, and the doorbell round trip against a vsock ping-pong.
 *
 * Channel: one region (cookie CHAN_BENCH_COOKIE) with a guest->host ring
 * of CHAN_BENCH_RING bytes and a small host->guest one. A phase is a run
 * of messages of one size ended by a message of length 0; the host
 * answers it with a struct chan_bench_count on the host->guest ring.
 * Doorbells carry the channel's events as their bits; a NOTIFY with
 * CHAN_BENCH_PING is a ping the host rings straight back.
 *
 * Stream (port + 1): each connection starts with a struct
 * chan_bench_hello. SINK: the host reads to the end and answers with a
 * struct chan_bench_count. ECHO: the host writes every byte back.
 */
#ifndef CHAN_BENCH_H
#define CHAN_BENCH_H

#include <stdint.h>

#define CHAN_BENCH_COOKIE	0x6368616e62656e63ULL	/* "chanbenc" */
#define CHAN_BENCH_RING		(1U << 20)	/* guest->host ring */
#define CHAN_BENCH_RING_BACK	4096U		/* host->guest ring */
#define CHAN_BENCH_MAX_MSG	(256U << 10)	/* largest message size */
#define CHAN_BENCH_PING		0x100U		/* doorbell bit of a ping */
#define CHAN_BENCH_PING_SIZE	8		/* bytes of a stream ping */

#define CHAN_BENCH_SINK		1
#define CHAN_BENCH_ECHO		2

struct chan_bench_hello {
	uint32_t mode;		/* CHAN_BENCH_SINK or CHAN_BENCH_ECHO */
	uint32_t msg_size;
};

struct chan_bench_count {
	uint64_t msgs;		/* messages received (stream: 0) */
	uint64_t bytes;
};

#endif /* CHAN_BENCH_H */
