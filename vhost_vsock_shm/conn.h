/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connections of a device, each with its host socket; their grants end
 * with them (conn.c).
 */
#ifndef _VHOST_VSOCK_SHM_CONN_H
#define _VHOST_VSOCK_SHM_CONN_H

#include <linux/list.h>
#include <linux/types.h>

struct sock;
struct virtio_transport;
struct vsock_shm_dev;

/*
 * One vsock connection of a device that carries vsock-shm messages, and
 * the host socket it was made with (held): its grants are that socket's.
 */
struct vsock_shm_conn {
	struct hlist_node node;		/* in vsock_shm_dev.conns */
	struct sock *sk;		/* the host end (sock_hold) */
	u32 guest_port;
	u32 host_port;
	bool mid_msg;			/* last packet had no EOM */
	bool shared;			/* a grant was made on it */
	struct list_head grants;	/* vsock_shm_grant.conn_node */
};

struct vsock_shm_conn *vsock_shm_conn_find(struct vsock_shm_dev *sd,
					   u32 guest_port, u32 host_port,
					   bool create);
void vsock_shm_conn_close(struct vsock_shm_dev *sd, u32 guest_port,
			  u32 host_port, struct sock *sk);
void vsock_shm_conn_close_all(struct vsock_shm_dev *sd, bool reset);
void vsock_shm_conn_reap(struct vsock_shm_dev *sd);
void vsock_shm_conn_set_transport(struct virtio_transport *t);
/* Does the holder of the host end see host-physical addresses? */
bool vsock_shm_conn_shows_hpa(struct vsock_shm_conn *c);

#endif /* _VHOST_VSOCK_SHM_CONN_H */
