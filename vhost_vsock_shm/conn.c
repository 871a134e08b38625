// SPDX-License-Identifier: GPL-2.0
/*
 * Connections: the SOCK_SEQPACKET connections of a device that carry
 * vsock-shm messages, each tracked with its host socket (held), whose
 * grants end with it (grant.c).
 *
 * A connection is tracked from its first data packet, only if its host end
 * exists on this module's transport. It ends, and its grants are revoked,
 * when the hooks see RST or SHUTDOWN in either direction or a new REQUEST
 * with its ports, when the host socket is closed (the transport's release
 * queues vsock_shm_conn_reap() on the device's vhost worker, so a guest
 * that withholds its RX buffers loses its grants all the same), and when
 * the device stops, changes CID or is released (vsock_shm_conn_close_all()).
 *
 * Locking: the table is under vsock_shm_dev.lock; a connection's socket
 * lock nests inside it. Connections end in the vhost worker, or at release
 * once the worker is idle.
 */
#include <linux/hashtable.h>
#include <linux/capability.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/virtio_vsock.h>
#include <net/af_vsock.h>

#include "conn.h"
#include "grant.h"
#include "shm.h"

static unsigned int max_conns_per_vm = 256;
module_param(max_conns_per_vm, uint, 0644);
MODULE_PARM_DESC(max_conns_per_vm, "tracked SOCK_SEQPACKET connections per VM");

/* This module's transport: connection resets go through it. */
static struct virtio_transport *vsock_shm_transport;

void vsock_shm_conn_set_transport(struct virtio_transport *t)
{
	vsock_shm_transport = t;
}

static u32 conn_key(u32 guest_port, u32 host_port)
{
	return guest_port ^ (host_port * 0x9e3779b1U);
}

/*
 * The host end of connection (cid, guest_port) -> host_port on this
 * module's transport, held; NULL if the host has no such socket.
 */
static struct sock *conn_host_sock(u32 cid, u32 guest_port, u32 host_port)
{
	struct sockaddr_vm guest, host;
	struct sock *sk;

	vsock_addr_init(&guest, cid, guest_port);
	vsock_addr_init(&host, VMADDR_CID_HOST, host_port);
	sk = vsock_find_connected_socket(&guest, &host);
	if (sk && vsock_sk(sk)->transport != &vsock_shm_transport->transport) {
		sock_put(sk);
		sk = NULL;
	}
	return sk;
}

/*
 * Called with sd->lock held. A new connection is tracked only with its host
 * socket: without one there is nothing its grants could belong to.
 */
struct vsock_shm_conn *vsock_shm_conn_find(struct vsock_shm_dev *sd,
					   u32 guest_port, u32 host_port,
					   bool create)
{
	struct vsock_shm_conn *c;
	struct sock *sk;

	lockdep_assert_held(&sd->lock);
	hash_for_each_possible(sd->conns, c, node, conn_key(guest_port, host_port))
		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
	if (!create || sd->nr_conns >= max_conns_per_vm)
		return NULL;
	sk = conn_host_sock(sd->cid, guest_port, host_port);
	if (!sk)
		return NULL;
	c = kzalloc(sizeof(*c), GFP_KERNEL_ACCOUNT);
	if (!c) {
		sock_put(sk);
		return NULL;
	}
	c->sk = sk;
	c->guest_port = guest_port;
	c->host_port = host_port;
	INIT_LIST_HEAD(&c->grants);
	hash_add(sd->conns, &c->node, conn_key(guest_port, host_port));
	WRITE_ONCE(sd->nr_conns, sd->nr_conns + 1);
	return c;
}

/*
 * Called with sd->lock held: moves @c off the device onto @gone and its
 * grants onto @dead.
 */
static void conn_unlink(struct vsock_shm_dev *sd, struct vsock_shm_conn *c,
			struct hlist_head *gone, struct list_head *dead)
{
	list_splice_init(&c->grants, dead);
	hash_del(&c->node);
	hlist_add_head(&c->node, gone);
	WRITE_ONCE(sd->nr_conns, sd->nr_conns - 1);
}

/*
 * Ends the host end of @c as the guest's RST would: its reader sees the
 * connection end. Goes through the transport's own receive path, so the
 * socket is closed exactly as by a packet. Called with no lock held.
 */
static void conn_reset(struct vsock_shm_conn *c)
{
	struct vsock_sock *vsk = vsock_sk(c->sk);
	struct virtio_vsock_hdr *hdr;
	struct sk_buff *skb;

	/* Without memory the server's connection stays open: nothing shared. */
	skb = virtio_vsock_alloc_skb(VIRTIO_VSOCK_SKB_HEADROOM, GFP_KERNEL);
	if (!skb)
		return;
	hdr = virtio_vsock_hdr(skb);
	memset(hdr, 0, sizeof(*hdr));
	hdr->src_cid = cpu_to_le64(vsk->remote_addr.svm_cid);
	hdr->src_port = cpu_to_le32(vsk->remote_addr.svm_port);
	hdr->dst_cid = cpu_to_le64(VMADDR_CID_HOST);
	hdr->dst_port = cpu_to_le32(vsk->local_addr.svm_port);
	hdr->type = cpu_to_le16(c->sk->sk_type == SOCK_SEQPACKET ?
				VIRTIO_VSOCK_TYPE_SEQPACKET :
				VIRTIO_VSOCK_TYPE_STREAM);
	hdr->op = cpu_to_le16(VIRTIO_VSOCK_OP_RST);
	virtio_transport_recv_pkt(vsock_shm_transport, skb);
}

/*
 * Frees the connections on @gone (their grants already revoked); with
 * @reset, the host end of each that held a grant is reset first.
 */
static void conns_free(struct hlist_head *gone, bool reset)
{
	struct vsock_shm_conn *c;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(c, tmp, gone, node) {
		hlist_del(&c->node);
		if (reset && c->shared)
			conn_reset(c);
		sock_put(c->sk);
		kfree(c);
	}
}

/*
 * Ends connection guest_port -> host_port, if tracked, and revokes its
 * grants (VSHM_REVOKE_CLOSED). With @sk (the host socket a packet of the
 * host came from), only if it is that socket's: a late RST of an older
 * connection on the same ports ends nothing else.
 */
void vsock_shm_conn_close(struct vsock_shm_dev *sd, u32 guest_port,
			  u32 host_port, struct sock *sk)
{
	struct vsock_shm_conn *c;
	HLIST_HEAD(gone);
	LIST_HEAD(dead);

	mutex_lock(&sd->lock);
	c = vsock_shm_conn_find(sd, guest_port, host_port, false);
	if (c && (!sk || sk == c->sk))
		conn_unlink(sd, c, &gone, &dead);
	mutex_unlock(&sd->lock);
	vsock_shm_grants_revoke(sd, &dead, VSHM_REVOKE_CLOSED);
	conns_free(&gone, false);
}

/*
 * Ends the connections of @sd that @ends says (every one for NULL) and
 * revokes their grants for @reason; with @reset, as for conns_free().
 */
static void conns_end(struct vsock_shm_dev *sd,
		      bool (*ends)(struct vsock_shm_conn *c), bool reset,
		      u32 reason)
{
	struct vsock_shm_conn *c;
	struct hlist_node *tmp;
	HLIST_HEAD(gone);
	LIST_HEAD(dead);
	int bkt;

	mutex_lock(&sd->lock);
	hash_for_each_safe(sd->conns, bkt, tmp, c, node)
		if (!ends || ends(c))
			conn_unlink(sd, c, &gone, &dead);
	mutex_unlock(&sd->lock);
	vsock_shm_grants_revoke(sd, &dead, reason);
	conns_free(&gone, reset);
}

/*
 * Ends every connection of @sd and revokes its grants (VSHM_REVOKE_DEVICE):
 * the device stopped, changed its CID or is going away. With @reset, the
 * host end of each that shared is reset: its guest can no longer be heard
 * on it.
 */
void vsock_shm_conn_close_all(struct vsock_shm_dev *sd, bool reset)
{
	conns_end(sd, NULL, reset, VSHM_REVOKE_DEVICE);
}

/* Was the host end of @c closed by its holder? */
static bool conn_sock_released(struct vsock_shm_conn *c)
{
	bool released;

	/* A release holds the socket lock until the socket is orphaned. */
	lock_sock(c->sk);
	released = sock_flag(c->sk, SOCK_DEAD);
	release_sock(c->sk);
	return released;
}

/*
 * Ends the connections whose host socket was closed, whether or not the
 * guest heard of it (it may withhold its RX buffers). In the vhost worker,
 * after the transport's release of one of this device's sockets.
 */
void vsock_shm_conn_reap(struct vsock_shm_dev *sd)
{
	conns_end(sd, conn_sock_released, false, VSHM_REVOKE_CLOSED);
}

/*
 * Does the process that holds the host end of @c see host-physical
 * addresses? As /proc/PID/pagemap shows PFNs: only with CAP_SYS_ADMIN (in
 * the initial user namespace) of the socket's opener. A socket no process
 * has accepted yet shows none. The mapping works the same without them.
 */
bool vsock_shm_conn_shows_hpa(struct vsock_shm_conn *c)
{
	struct socket *sock;
	bool show = false;

	read_lock_bh(&c->sk->sk_callback_lock);
	sock = c->sk->sk_socket;
	if (sock && sock->file)
		show = file_ns_capable(sock->file, &init_user_ns, CAP_SYS_ADMIN);
	read_unlock_bh(&c->sk->sk_callback_lock);
	return show;
}
