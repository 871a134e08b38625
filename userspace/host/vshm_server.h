/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vsock-shm host server library: listens on an AF_VSOCK SOCK_SEQPACKET
 * port, runs one protocol session (session.h) per connection in a poll
 * loop, and maps the guests' regions through the mapper device
 * (/dev/vsock-shm-mapper). Runs as root on the host.
 *
 * The application sees each region when it is mapped (on_mapped, before
 * the guest gets MAPPED) and when the guest freed it (on_freed). The
 * mapping is revoked by the host module when the guest frees the region or
 * the connection ends: accesses after that get SIGBUS, so an application
 * that reads a region outside on_mapped must be ready for it.
 */
#ifndef VSHM_SERVER_H
#define VSHM_SERVER_H

#include <stdint.h>

#include "session.h"

#define VSHM_MAPPER_PATH		"/dev/vsock-shm-mapper"
#define VSHM_SERVER_DEFAULT_CONNS	64
#define VSHM_SERVER_DEFAULT_MAX_SIZE	(4ULL << 30)
#define VSHM_SERVER_DEFAULT_REGIONS	4096
#define VSHM_SERVER_DEFAULT_SOCK_BUF	(256ULL << 10)
/* A receive buffer below this could split a 64 KiB chunk (protocol 9.1). */
#define VSHM_SERVER_MIN_SOCK_BUF	(2ULL * VSHM_MAX_MSG)

struct vshm_server_cfg {
	unsigned int port;		/* vsock port to listen on */
	unsigned int max_conns;		/* 0: VSHM_SERVER_DEFAULT_CONNS */
	uint64_t max_region_size;	/* 0: VSHM_SERVER_DEFAULT_MAX_SIZE */
	uint32_t max_regions;		/* per connection; 0: default */
	uint64_t sock_buf;		/* SO_VM_SOCKETS_BUFFER_SIZE; 0: 256 KiB */
	const char *mapper_path;	/* NULL: VSHM_MAPPER_PATH */
	vshm_on_mapped_fn on_mapped;	/* may be NULL */
	void (*on_freed)(void *arg, const struct vshm_session_region *r);
	void (*log)(void *arg, const char *line);	/* NULL: stderr */
	void *arg;
};

struct vshm_server_stats {
	uint64_t conns_accepted;
	uint64_t conns_refused;		/* over max_conns */
	uint32_t conns_open;
	uint64_t regions_mapped;
	uint64_t regions_freed;		/* FREED sent */
	uint64_t regions_dropped;	/* live at disconnect */
	uint64_t errors_sent;
	uint64_t unmap_errors;
};

struct vshm_server;

/*
 * Opens the mapper and listens on cfg->port (any CID). NULL with errno on
 * failure; the reason is also logged.
 */
struct vshm_server *vshm_server_new(const struct vshm_server_cfg *cfg);

/*
 * The same, serving listen_fd (an already listening SOCK_SEQPACKET socket
 * of any family; the unit tests use AF_UNIX) instead of opening the vsock
 * port; cfg->port is then ignored. s owns listen_fd, also on error.
 */
struct vshm_server *vshm_server_new_on_fd(const struct vshm_server_cfg *cfg,
					  int listen_fd);

/* Waits up to timeout_ms (-1: forever) and serves what is ready. */
int vshm_server_poll(struct vshm_server *s, int timeout_ms);

/* Serves until vshm_server_stop(). Returns 0 or a negative errno. */
int vshm_server_run(struct vshm_server *s);

/* Makes vshm_server_run() return; async-signal-safe. */
void vshm_server_stop(struct vshm_server *s);

void vshm_server_get_stats(const struct vshm_server *s,
			   struct vshm_server_stats *st);

/* Closes every connection (unmapping its regions), then frees s. */
void vshm_server_free(struct vshm_server *s);

#endif /* VSHM_SERVER_H */
