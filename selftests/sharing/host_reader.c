// SPDX-License-Identifier: GPL-2.0
/*
 * host_reader: a host server (the server library, vshm_server.h) whose
 * application reads every region it maps, from a thread of its own, for as
 * long as it can: the server's side of a guest that goes away while
 * shared (a reboot, a panic, QEMU's system_reset). One line per event on
 * stdout, for the sharing suite to read:
 *
 *	mapped REGION CID
 *	reader REGION SIGBUS|SIGSEGV READS	(the reader's first fault)
 *	ended REGION CID REASON			(on_ended)
 *
 * Like vshm-server, it checks the guest's pattern and marks every page
 * before MAPPED (vshm-guest checks the marks). While a reader runs, the
 * server's thread waits for it to fault before it serves anything more:
 * so the reader meets the module's revocation (SIGBUS), never the
 * library's inaccessible reservation that follows the connection's end
 * (SIGSEGV), whatever the one CPU of the lab's L1 runs first. A reader that
 * never faults is a grant that was never revoked: the suite times out.
 * Exits 0 after COUNT regions ended.
 *
 *   host_reader PORT COUNT
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"
#include "vshm_server.h"

#define MAX_READERS	16

struct reader {
	pthread_t thread;
	bool running;
	volatile bool faulted;		/* it met its first fault */
	bool ended;			/* its region ended (on_ended) */
	uint32_t region;
	volatile uint64_t *words;
	uint64_t nr_words;
};

static struct reader readers[MAX_READERS];
static unsigned int ended, count;
static __thread sigjmp_buf fault_jb;
static __thread volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jb, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads the region word by word, round and round, until a fault. */
static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	volatile uint64_t sum = 0, reads = 0;
	int sig;

	sig = sigsetjmp(fault_jb, 1);
	if (sig) {
		printf("reader %u %s %llu\n", rd->region,
		       sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
		       (unsigned long long)reads);
		fflush(stdout);
		rd->faulted = true;
		return NULL;
	}
	fault_armed = 1;
	for (;;) {
		sum += rd->words[reads % rd->nr_words];
		reads++;
	}
	return NULL;
}

static int on_mapped(void *arg, const struct vshm_session_region *r)
{
	struct reader *rd = NULL;
	unsigned int i;

	(void)arg;
	for (i = 0; i < MAX_READERS && !rd; i++)
		if (!readers[i].running)
			rd = &readers[i];
	if (vshm_pattern_check(r->ptr, r->size, VSHM_PATTERN_DEFAULT_SEED, r->id,
			       NULL)) {
		printf("pattern %u %u bad\n", r->id, r->peer_cid);
		return VSHM_E_DENIED;
	}
	vshm_pattern_mark(r->ptr, r->size, VSHM_PATTERN_DEFAULT_SEED, r->id);
	printf("mapped %u %u\n", r->id, r->peer_cid);
	fflush(stdout);
	if (!rd)
		return 0;
	rd->region = r->id;
	rd->faulted = false;
	rd->words = r->ptr;
	rd->nr_words = r->size / sizeof(uint64_t);
	rd->running = !pthread_create(&rd->thread, NULL, reader_main, rd);
	return 0;
}

static int on_ended(void *arg, const struct vshm_session_region *r,
		    enum vshm_end_reason why)
{
	unsigned int i;

	(void)arg;
	printf("ended %u %u %s\n", r->id, r->peer_cid, vshm_end_reason_name(why));
	fflush(stdout);
	ended++;
	for (i = 0; i < MAX_READERS; i++)
		if (readers[i].running && (void *)readers[i].words == r->addr)
			readers[i].ended = true;
	/* Held until its reader is done with it (main()). */
	return r->addr ? VSHM_HOLD : 0;
}

/* Does a reader still read (no fault yet)? */
static bool reader_busy(void)
{
	unsigned int i;

	for (i = 0; i < MAX_READERS; i++)
		if (readers[i].running && !readers[i].faulted)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct sigaction act = { .sa_handler = on_fault, .sa_flags = SA_NODEFER };
	struct vshm_server_cfg cfg = {
		.on_mapped = on_mapped,
		.on_ended = on_ended,
	};
	struct vshm_server *s;
	unsigned int i;

	if (argc != 3 || !(cfg.port = (unsigned int)strtoul(argv[1], NULL, 0)) ||
	    !(count = (unsigned int)strtoul(argv[2], NULL, 0))) {
		fprintf(stderr, "usage: host_reader PORT COUNT\n");
		return 2;
	}
	if (sigaction(SIGBUS, &act, NULL) || sigaction(SIGSEGV, &act, NULL))
		return 1;
	s = vshm_server_new(&cfg);
	if (!s) {
		fprintf(stderr, "host_reader: %s\n", strerror(errno));
		return 1;
	}
	while (ended < count) {
		if (reader_busy()) {
			usleep(20000);
			continue;
		}
		if (vshm_server_poll(s, 1000) < 0 && errno != EINTR)
			break;
		/*
		 * A region that ended is inaccessible: its reader faults if it
		 * has not yet. Only then is its range given back.
		 */
		for (i = 0; i < MAX_READERS; i++) {
			if (!readers[i].running || !readers[i].ended)
				continue;
			pthread_join(readers[i].thread, NULL);
			readers[i].running = false;
			readers[i].ended = false;
			vshm_server_release(s, (void *)readers[i].words);
		}
	}
	vshm_server_free(s);
	for (i = 0; i < MAX_READERS; i++)
		if (readers[i].running)
			pthread_join(readers[i].thread, NULL);
	return ended >= count ? 0 : 1;
}
