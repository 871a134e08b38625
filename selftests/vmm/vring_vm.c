// SPDX-License-Identifier: GPL-2.0
/*
 * vring_vm: a VMM without vCPUs that drives /dev/vhost-vsock as the guest's
 * virtio-vsock driver would, from user space. See vring_vm.h.
 *
 * Guest RAM is this process's memory, so "the guest" writes descriptors,
 * rings and packets straight into it; vhost reads and writes the same
 * memory from its worker through the VMM's mm. Notifications go through
 * eventfds: we write the kick eventfd after publishing buffers, vhost
 * signals the call eventfd after using them. No ring feature is negotiated
 * (no event index, no indirect descriptors): every packet is one
 * descriptor, and vhost signals every used buffer.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "vring_vm.h"

#define VQ_RX			0
#define VQ_TX			1
#define VQ_NUM			VM_VQ_NUM

/*
 * Layout of slot 0. Each virtqueue: descriptor table at its base, avail
 * ring 4 KiB above, used ring 8 KiB above (both well aligned and far
 * larger than 64 entries need).
 */
#define RX_VQ_GPA		0x000000ULL
#define TX_VQ_GPA		0x010000ULL
#define VQ_AVAIL_OFF		0x1000
#define VQ_USED_OFF		0x2000
#define RX_BUF_GPA		0x100000ULL
#define RX_BUF_SIZE		8192U
#define TX_BUF_GPA		0x200000ULL
#define TX_BUF_SIZE		0x11000U	/* header + 64 KiB payload */

#define HDR_SIZE		sizeof(struct virtio_vsock_hdr)
#define SHUTDOWN_BOTH		(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)
#define CREDIT_WAIT_MS		5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until @deadline, at least 0. */
static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

void *vm_gpa_to_hva(struct vring_vm *vm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < VM_MAX_SLOTS; i++) {
		struct vm_slot *s = &vm->slots[i];

		if (s->used && gpa >= s->gpa && gpa - s->gpa < s->size)
			return (unsigned char *)s->hva + (gpa - s->gpa);
	}
	return NULL;
}

/* Guest RAM of slot 0 by GPA: the rings and buffers never move. */
static void *ram_at(struct vring_vm *vm, uint64_t gpa)
{
	return vm->ram + gpa;
}

/* ---- memslots and the vhost memory table ---- */

static int set_region(struct vring_vm *vm, unsigned int slot, uint32_t flags,
		      uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	return xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

int vm_set_slot(struct vring_vm *vm, unsigned int slot, uint64_t gpa,
		uint64_t size, void *hva, uint32_t flags)
{
	int ret;

	if (slot >= VM_MAX_SLOTS || !size)
		return -EINVAL;
	ret = set_region(vm, slot, flags, gpa, size, hva);
	if (ret)
		return ret;
	vm->slots[slot] = (struct vm_slot){
		.used = true, .flags = flags, .gpa = gpa, .size = size, .hva = hva,
	};
	return 0;
}

/* A memory_size of 0 deletes the slot. */
int vm_delete_slot(struct vring_vm *vm, unsigned int slot)
{
	struct vm_slot *s;
	int ret;

	if (slot >= VM_MAX_SLOTS || !vm->slots[slot].used)
		return -ENOENT;
	s = &vm->slots[slot];
	ret = set_region(vm, slot, s->flags, s->gpa, 0, s->hva);
	if (!ret)
		s->used = false;
	return ret;
}

/* Same slot, size, flags and host memory at another GPA: KVM's move. */
int vm_move_slot(struct vring_vm *vm, unsigned int slot, uint64_t new_gpa)
{
	struct vm_slot *s;
	int ret;

	if (slot >= VM_MAX_SLOTS || !vm->slots[slot].used)
		return -ENOENT;
	s = &vm->slots[slot];
	ret = set_region(vm, slot, s->flags, new_gpa, s->size, s->hva);
	if (!ret)
		s->gpa = new_gpa;
	return ret;
}

int vm_set_mem_table(struct vring_vm *vm, const struct vm_mem_region *r,
		     unsigned int n)
{
	struct vhost_memory *mem;
	unsigned int i;
	int ret;

	mem = calloc(1, sizeof(*mem) + n * sizeof(mem->regions[0]));
	if (!mem)
		return -ENOMEM;
	mem->nregions = n;
	for (i = 0; i < n; i++) {
		mem->regions[i].guest_phys_addr = r[i].gpa;
		mem->regions[i].memory_size = r[i].size;
		mem->regions[i].userspace_addr = (uint64_t)(uintptr_t)r[i].hva;
	}
	ret = xioctl(vm->vhost_fd, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return ret;
}

int vm_set_dirty_log(struct vring_vm *vm, void *log)
{
	uint64_t base = (uintptr_t)log, features = vm->features;
	int ret;

	if (log) {
		ret = xioctl(vm->vhost_fd, VHOST_SET_LOG_BASE, &base);
		if (ret)
			return ret;
		features |= 1ULL << VHOST_F_LOG_ALL;
	}
	return xioctl(vm->vhost_fd, VHOST_SET_FEATURES, &features);
}

unsigned int vm_default_mem_table(struct vring_vm *vm, struct vm_mem_region r[2])
{
	r[0] = (struct vm_mem_region){ VM_SLOT0_GPA, VM_SLOT0_SIZE, vm->ram };
	r[1] = (struct vm_mem_region){ VM_SLOT1_GPA, VM_SLOT1_SIZE,
				       vm->ram + VM_SLOT0_SIZE };
	return 2;
}

/* ---- virtqueues ---- */

static void vq_layout(struct vring_vm *vm, struct vm_vq *vq, unsigned int index,
		      uint64_t gpa, uint64_t buf_gpa, uint32_t buf_size)
{
	vq->index = index;
	vq->num = VQ_NUM;
	vq->gpa = gpa;
	vq->desc = ram_at(vm, gpa);
	vq->avail = ram_at(vm, gpa + VQ_AVAIL_OFF);
	vq->used = ram_at(vm, gpa + VQ_USED_OFF);
	vq->buf_gpa = buf_gpa;
	vq->buf_size = buf_size;
	vq->avail_idx = 0;
	vq->used_idx = 0;
	vq->kick_fd = -1;
	vq->call_fd = -1;
}

/* Tells vhost where the ring is and which eventfds to use. */
static int vq_setup(struct vring_vm *vm, struct vm_vq *vq)
{
	struct vhost_vring_state num = { .index = vq->index, .num = vq->num };
	struct vhost_vring_state base = { .index = vq->index, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = vq->index,
		.desc_user_addr = (uint64_t)(uintptr_t)vq->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)vq->avail,
		.used_user_addr = (uint64_t)(uintptr_t)vq->used,
	};
	struct vhost_vring_file kick = { .index = vq->index };
	struct vhost_vring_file call = { .index = vq->index };
	int ret;

	vq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->kick_fd < 0 || vq->call_fd < 0)
		return -errno;
	kick.fd = vq->kick_fd;
	call.fd = vq->call_fd;
	ret = xioctl(vm->vhost_fd, VHOST_SET_VRING_NUM, &num);
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_SET_VRING_BASE, &base);
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_SET_VRING_ADDR, &addr);
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_SET_VRING_KICK, &kick);
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_SET_VRING_CALL, &call);
	return ret;
}

static void vq_kick(struct vm_vq *vq)
{
	uint64_t one = 1;

	if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
		return;	/* the counter is saturated: vhost is woken anyway */
}

/* Makes descriptor @id available to the device (not yet published). */
static void vq_add(struct vm_vq *vq, uint16_t id)
{
	vq->avail->ring[vq->avail_idx % vq->num] = htole16(id);
	vq->avail_idx++;
}

/* Publishes what vq_add() added: ring entries before the index. */
static void vq_publish(struct vm_vq *vq)
{
	__atomic_store_n(&vq->avail->idx, htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
	vq_kick(vq);
}

/* The device's used index, read before the entries it covers. */
static uint16_t vq_used_idx(struct vm_vq *vq)
{
	return le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
}

static void drain_eventfd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

/* RX: every buffer device-writable, all of them available. */
static void rx_fill(struct vm_vq *vq)
{
	uint16_t i;

	for (i = 0; i < vq->num; i++) {
		vq->desc[i].addr = htole64(vq->buf_gpa + (uint64_t)i * vq->buf_size);
		vq->desc[i].len = htole32(vq->buf_size);
		vq->desc[i].flags = htole16(VRING_DESC_F_WRITE);
		vq->desc[i].next = 0;
		vq_add(vq, i);
	}
}

/* ---- the vsock connection: sending ---- */

/*
 * Queues one packet on TX. vhost uses TX buffers in order, so descriptor
 * avail_idx % num is free once fewer than num packets are in flight.
 */
static int tx_pkt(struct vring_vm *vm, uint16_t op, uint32_t flags,
		  const void *payload, uint32_t len)
{
	struct vm_vq *vq = &vm->vq[VQ_TX];
	struct vm_conn *c = &vm->conn;
	int64_t deadline = now_ms() + CREDIT_WAIT_MS;
	struct virtio_vsock_hdr *hdr;
	uint64_t gpa;
	uint16_t id;

	if (len > VM_MAX_PAYLOAD)
		return -EMSGSIZE;
	/*
	 * Wait on TX completions only: this also runs from RX processing
	 * (answers to SHUTDOWN and CREDIT_REQUEST), which must not recurse.
	 */
	while ((uint16_t)(vq->avail_idx - vq_used_idx(vq)) >= vq->num) {
		struct pollfd pfd = { .fd = vq->call_fd, .events = POLLIN };

		if (!ms_left(deadline))
			return -ETIMEDOUT;
		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			return -errno;
		drain_eventfd(vq->call_fd);
	}
	id = vq->avail_idx % vq->num;
	gpa = vq->buf_gpa + (uint64_t)id * vq->buf_size;
	hdr = ram_at(vm, gpa);
	memset(hdr, 0, HDR_SIZE);
	hdr->src_cid = htole64(vm->cid);
	hdr->dst_cid = htole64(VM_HOST_CID);
	hdr->src_port = htole32(c->local_port);
	hdr->dst_port = htole32(c->peer_port);
	hdr->len = htole32(len);
	hdr->type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	hdr->op = htole16(op);
	hdr->flags = htole32(flags);
	hdr->buf_alloc = htole32(VM_BUF_ALLOC);
	hdr->fwd_cnt = htole32(c->fwd_cnt);
	if (len)
		memcpy((unsigned char *)hdr + HDR_SIZE, payload, len);
	vq->desc[id].addr = htole64(gpa);
	vq->desc[id].len = htole32(HDR_SIZE + len);
	vq->desc[id].flags = 0;
	vq->desc[id].next = 0;
	c->fwd_cnt_sent = c->fwd_cnt;
	vq_add(vq, id);
	vq_publish(vq);
	return 0;
}

/* What the host can still take from us: its buffer minus bytes in flight. */
static uint32_t peer_credit(const struct vm_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Waits until the host's credit covers @len bytes, asking it for credit. */
static int wait_credit(struct vring_vm *vm, uint32_t len)
{
	int64_t deadline = now_ms() + CREDIT_WAIT_MS;
	bool asked = false;
	int ret;

	while (peer_credit(&vm->conn) < len) {
		if (vm->conn.state != VM_CONN_CONNECTED)
			return -ECONNRESET;
		if (!ms_left(deadline))
			return -ETIMEDOUT;
		if (!asked) {
			ret = tx_pkt(vm, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
			if (ret)
				return ret;
			asked = true;
		}
		ret = vm_poll(vm, ms_left(deadline) < 100 ? ms_left(deadline) : 100);
		if (ret)
			return ret;
	}
	return 0;
}

static int send_rw(struct vring_vm *vm, const void *buf, uint32_t len,
		   uint32_t flags)
{
	int ret = tx_pkt(vm, VIRTIO_VSOCK_OP_RW, flags, buf, len);

	if (!ret)
		vm->conn.tx_cnt += len;
	return ret;
}

int vm_send(struct vring_vm *vm, const void *buf, size_t len)
{
	int ret;

	if (!len || len > VM_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (vm->conn.state != VM_CONN_CONNECTED)
		return -ENOTCONN;
	ret = wait_credit(vm, (uint32_t)len);
	if (ret)
		return ret;
	return send_rw(vm, buf, (uint32_t)len,
		       VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
}

int vm_send_split(struct vring_vm *vm, const void *buf, size_t len,
		  size_t first)
{
	const unsigned char *p = buf;
	int ret;

	if (!first || first >= len || len - first > VM_MAX_PAYLOAD ||
	    first > VM_MAX_PAYLOAD)
		return -EINVAL;
	if (vm->conn.state != VM_CONN_CONNECTED)
		return -ENOTCONN;
	ret = wait_credit(vm, (uint32_t)len);
	if (ret)
		return ret;
	ret = send_rw(vm, p, (uint32_t)first, 0);
	if (ret)
		return ret;
	return send_rw(vm, p + first, (uint32_t)(len - first),
		       VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
}

/* ---- the vsock connection: receiving ---- */

static void conn_free_msgs(struct vm_conn *c)
{
	struct vm_msg *m;

	while ((m = c->head)) {
		c->head = m->next;
		free(m);
	}
	c->tail = NULL;
	free(c->part);
	c->part = NULL;
	c->part_len = 0;
}

/* Appends an OP_RW payload; a packet with EOM completes the message. */
static void conn_rw(struct vm_conn *c, const unsigned char *data, uint32_t len,
		    uint32_t flags)
{
	struct vm_msg *m;

	if (c->part_len + len > VM_BUF_ALLOC)
		len = 0;	/* the host broke our credit: drop the excess */
	if (len) {
		unsigned char *p = realloc(c->part, c->part_len + len);

		if (!p)
			return;
		c->part = p;
		memcpy(c->part + c->part_len, data, len);
		c->part_len += len;
	}
	if (!(flags & VIRTIO_VSOCK_SEQ_EOM))
		return;
	m = malloc(sizeof(*m) + c->part_len);
	if (!m)
		return;
	m->next = NULL;
	m->len = c->part_len;
	m->flags = flags;
	if (c->part_len)
		memcpy(m->data, c->part, c->part_len);
	free(c->part);
	c->part = NULL;
	c->part_len = 0;
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
}

/* One packet the device wrote into an RX buffer. */
static void rx_pkt(struct vring_vm *vm, const unsigned char *buf, uint32_t used_len)
{
	const struct virtio_vsock_hdr *hdr = (const void *)buf;
	struct vm_conn *c = &vm->conn;
	uint32_t len, flags;
	uint16_t op;

	if (used_len < HDR_SIZE)
		return;
	len = le32toh(hdr->len);
	if (len > used_len - HDR_SIZE)
		return;
	if (le64toh(hdr->dst_cid) != vm->cid || le64toh(hdr->src_cid) != VM_HOST_CID)
		return;
	/* Only our connection exists; anything else is stale. */
	if (c->state == VM_CONN_CLOSED || le32toh(hdr->dst_port) != c->local_port ||
	    le32toh(hdr->src_port) != c->peer_port)
		return;
	op = le16toh(hdr->op);
	flags = le32toh(hdr->flags);
	c->peer_buf_alloc = le32toh(hdr->buf_alloc);
	c->peer_fwd_cnt = le32toh(hdr->fwd_cnt);

	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state == VM_CONN_CONNECTING)
			c->state = VM_CONN_CONNECTED;
		break;
	case VIRTIO_VSOCK_OP_RST:
		c->state = VM_CONN_CLOSED;
		c->reset = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->peer_shutdown |= flags & SHUTDOWN_BOTH;
		/* Both directions shut: acknowledge with RST, as Linux does. */
		if (c->peer_shutdown == SHUTDOWN_BOTH) {
			tx_pkt(vm, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
			c->state = VM_CONN_CLOSED;
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state == VM_CONN_CONNECTED)
			conn_rw(c, buf + HDR_SIZE, len, flags);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		tx_pkt(vm, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	default:
		/* CREDIT_UPDATE: the credit fields above were all of it. */
		break;
	}
}

/*
 * Consumes every used RX buffer, then gives them all back to the device
 * (or keeps them while RX buffers are withheld).
 */
static bool rx_process(struct vring_vm *vm)
{
	struct vm_vq *vq = &vm->vq[VQ_RX];
	uint16_t end = vq_used_idx(vq);
	bool any = false;

	while (vq->used_idx != end) {
		struct vring_used_elem *e = &vq->used->ring[vq->used_idx % vq->num];
		uint32_t id = le32toh(e->id), len = le32toh(e->len);

		if (id < vq->num)
			rx_pkt(vm, ram_at(vm, vq->buf_gpa + (uint64_t)id * vq->buf_size),
			       len < vq->buf_size ? len : vq->buf_size);
		if (!vm->rx_withhold)
			vq_add(vq, (uint16_t)(id % vq->num));
		else if (vm->nr_rx_held < VM_VQ_NUM)
			vm->rx_held[vm->nr_rx_held++] = (uint16_t)(id % vq->num);
		vq->used_idx++;
		any = true;
		if (vq->used_idx == end)
			end = vq_used_idx(vq);
	}
	if (any && !vm->rx_withhold)
		vq_publish(vq);
	return any;
}

int vm_poll(struct vring_vm *vm, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = vm->vq[VQ_RX].call_fd, .events = POLLIN },
		{ .fd = vm->vq[VQ_TX].call_fd, .events = POLLIN },
	};

	drain_eventfd(pfd[0].fd);
	drain_eventfd(pfd[1].fd);
	/* The device signals after it used buffers: nothing is missed. */
	if (rx_process(vm) || !timeout_ms)
		return 0;
	if (poll(pfd, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	drain_eventfd(pfd[0].fd);
	drain_eventfd(pfd[1].fd);
	rx_process(vm);
	return 0;
}

void vm_rx_withhold(struct vring_vm *vm, bool on)
{
	struct vm_vq *vq = &vm->vq[VQ_RX];
	unsigned int i;

	vm->rx_withhold = on;
	if (on || !vm->nr_rx_held)
		return;
	for (i = 0; i < vm->nr_rx_held; i++)
		vq_add(vq, vm->rx_held[i]);
	vm->nr_rx_held = 0;
	vq_publish(vq);
}

unsigned int vm_rx_avail(struct vring_vm *vm)
{
	struct vm_vq *vq = &vm->vq[VQ_RX];

	return (uint16_t)(vq->avail_idx - vq_used_idx(vq));
}

int vm_rx_exhaust(struct vring_vm *vm, int timeout_ms)
{
	struct vm_vq *vq = &vm->vq[VQ_RX];
	int64_t deadline = now_ms() + timeout_ms;
	uint16_t used;
	int ret;

	vm_rx_withhold(vm, true);
	while (vm_rx_avail(vm)) {
		if (!ms_left(deadline))
			return -ETIMEDOUT;
		used = vq_used_idx(vq);
		ret = tx_pkt(vm, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
		if (ret)
			return ret;
		/* Its CREDIT_UPDATE takes one more buffer. */
		while (vq_used_idx(vq) == used && ms_left(deadline)) {
			ret = vm_poll(vm, 10);
			if (ret)
				return ret;
		}
	}
	return vm_poll(vm, 0);
}

/* Tells the host how much we consumed once it is a good part of the buffer. */
static void maybe_credit_update(struct vring_vm *vm)
{
	struct vm_conn *c = &vm->conn;

	if (c->state == VM_CONN_CONNECTED &&
	    c->fwd_cnt - c->fwd_cnt_sent >= VM_BUF_ALLOC / 4)
		tx_pkt(vm, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
}

ssize_t vm_recv(struct vring_vm *vm, void *buf, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vm_conn *c = &vm->conn;
	struct vm_msg *m;
	size_t n;
	int ret;

	for (;;) {
		m = c->head;
		if (m) {
			c->head = m->next;
			if (!c->head)
				c->tail = NULL;
			n = m->len < cap ? m->len : cap;
			memcpy(buf, m->data, n);
			c->fwd_cnt += (uint32_t)m->len;
			free(m);
			maybe_credit_update(vm);
			return (ssize_t)n;
		}
		if (c->state != VM_CONN_CONNECTED)
			return -ECONNRESET;
		if (!ms_left(deadline))
			return -ETIMEDOUT;
		ret = vm_poll(vm, ms_left(deadline));
		if (ret)
			return ret;
	}
}

int vm_connect_start(struct vring_vm *vm, uint32_t port)
{
	static uint32_t seq;
	struct vm_conn *c = &vm->conn;

	conn_free_msgs(c);
	memset(c, 0, sizeof(*c));
	/*
	 * A fresh local port per connection: the module keys on the pair.
	 * Privileged (< 1024), as a guest's root process would share from.
	 */
	c->local_port = vm->local_port ?:
			512 + ((uint32_t)getpid() * 64 + seq++) % 512;
	c->peer_port = port;
	c->state = VM_CONN_CONNECTING;
	return tx_pkt(vm, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
}

int vm_connect(struct vring_vm *vm, uint32_t port, int timeout_ms)
{
	struct vm_conn *c = &vm->conn;
	int64_t deadline = now_ms() + timeout_ms;
	int ret;

	ret = vm_connect_start(vm, port);
	if (ret)
		return ret;
	while (c->state == VM_CONN_CONNECTING) {
		if (!ms_left(deadline)) {
			tx_pkt(vm, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
			c->state = VM_CONN_CLOSED;
			return -ETIMEDOUT;
		}
		ret = vm_poll(vm, ms_left(deadline));
		if (ret)
			return ret;
	}
	return c->state == VM_CONN_CONNECTED ? 0 : -ECONNREFUSED;
}

int vm_shutdown(struct vring_vm *vm, int timeout_ms)
{
	struct vm_conn *c = &vm->conn;
	int64_t deadline = now_ms() + timeout_ms;
	int ret;

	if (c->state != VM_CONN_CONNECTED)
		return -ENOTCONN;
	ret = tx_pkt(vm, VIRTIO_VSOCK_OP_SHUTDOWN, SHUTDOWN_BOTH, NULL, 0);
	if (ret)
		return ret;
	/* The host answers our SHUTDOWN with RST once it saw it. */
	while (c->state == VM_CONN_CONNECTED && ms_left(deadline)) {
		ret = vm_poll(vm, ms_left(deadline));
		if (ret)
			return ret;
	}
	ret = c->state == VM_CONN_CLOSED ? 0 : -ETIMEDOUT;
	c->state = VM_CONN_CLOSED;
	return ret;
}

int vm_reset(struct vring_vm *vm)
{
	struct vm_conn *c = &vm->conn;
	int ret;

	if (c->state == VM_CONN_CLOSED)
		return -ENOTCONN;
	ret = tx_pkt(vm, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	c->state = VM_CONN_CLOSED;
	return ret;
}

/* ---- the VM ---- */

/*
 * The VM's RAM, VM_RAM_SIZE bytes, as @vm->backing asks. A memfd is closed
 * once mapped: the mapping keeps its pages, as QEMU's does.
 */
static int ram_map(struct vring_vm *vm)
{
	unsigned int mfd_flags = MFD_CLOEXEC;
	int fd, ret = 0;
	void *p;

	if (vm->backing == VM_RAM_ANON) {
		p = mmap(NULL, VM_RAM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		vm->ram = p;
		return 0;
	}
	if (vm->backing == VM_RAM_HUGETLB)
		mfd_flags |= MFD_HUGETLB;	/* the default size: 2 MiB on x86 */
	fd = memfd_create("vring_vm-ram", mfd_flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, VM_RAM_SIZE)) {
		ret = -errno;
		goto out_close;
	}
	/* MAP_POPULATE: a hugetlb pool too small fails here, not in a test. */
	p = mmap(NULL, VM_RAM_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto out_close;
	}
	vm->ram = p;
out_close:
	close(fd);
	return ret;
}

/* KVM: the VM and its two memslots over one mapping of its RAM. */
static int kvm_setup(struct vring_vm *vm)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENOTSUP;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	ret = ram_map(vm);
	if (ret)
		return ret;
	ret = vm_set_slot(vm, 0, VM_SLOT0_GPA, VM_SLOT0_SIZE, vm->ram, 0);
	if (!ret)
		ret = vm_set_slot(vm, 1, VM_SLOT1_GPA, VM_SLOT1_SIZE,
				  vm->ram + VM_SLOT0_SIZE, 0);
	return ret;
}

/*
 * vhost-vsock, in the order QEMU uses. SET_OWNER comes after the KVM VM
 * fd is open: that is when the module binds the device to the VM.
 */
static int vhost_setup(struct vring_vm *vm)
{
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) |
			(1ULL << VIRTIO_VSOCK_F_SEQPACKET);
	struct vm_mem_region r[2];
	uint64_t features;
	int ret, run = 1;

	vm->vhost_fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
	if (vm->vhost_fd < 0)
		return -errno;
	ret = xioctl(vm->vhost_fd, VHOST_SET_OWNER, NULL);
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_GET_FEATURES, &features);
	if (ret)
		return ret;
	if ((features & want) != want)
		return -ENOTSUP;
	vm->features = want;
	ret = xioctl(vm->vhost_fd, VHOST_SET_FEATURES, &want);
	if (!ret)
		ret = vm_set_mem_table(vm, r, vm_default_mem_table(vm, r));
	if (!ret)
		ret = xioctl(vm->vhost_fd, VHOST_VSOCK_SET_GUEST_CID, &vm->cid);
	if (ret)
		return ret;

	vq_layout(vm, &vm->vq[VQ_RX], VQ_RX, RX_VQ_GPA, RX_BUF_GPA, RX_BUF_SIZE);
	vq_layout(vm, &vm->vq[VQ_TX], VQ_TX, TX_VQ_GPA, TX_BUF_GPA, TX_BUF_SIZE);
	ret = vq_setup(vm, &vm->vq[VQ_RX]);
	if (!ret)
		ret = vq_setup(vm, &vm->vq[VQ_TX]);
	if (ret)
		return ret;
	rx_fill(&vm->vq[VQ_RX]);
	__atomic_store_n(&vm->vq[VQ_RX].avail->idx, htole16(vm->vq[VQ_RX].avail_idx),
			 __ATOMIC_RELEASE);
	ret = xioctl(vm->vhost_fd, VHOST_VSOCK_SET_RUNNING, &run);
	if (ret)
		return ret;
	vm->running = true;
	vq_kick(&vm->vq[VQ_RX]);
	return 0;
}

int vm_create(struct vring_vm *vm, uint64_t cid)
{
	return vm_create_backed(vm, cid, VM_RAM_ANON);
}

int vm_create_backed(struct vring_vm *vm, uint64_t cid,
		     enum vm_ram_backing backing)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->vhost_fd = -1;
	vm->vq[VQ_RX].kick_fd = vm->vq[VQ_RX].call_fd = -1;
	vm->vq[VQ_TX].kick_fd = vm->vq[VQ_TX].call_fd = -1;
	vm->cid = cid;
	vm->backing = backing;
	ret = kvm_setup(vm);
	if (!ret)
		ret = vhost_setup(vm);
	if (ret)
		vm_destroy(vm);
	return ret;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vm_destroy(struct vring_vm *vm)
{
	unsigned int i;

	/* The device first: its release revokes grants on the VM's pages. */
	close_fd(&vm->vhost_fd);
	for (i = 0; i < 2; i++) {
		close_fd(&vm->vq[i].kick_fd);
		close_fd(&vm->vq[i].call_fd);
	}
	close_fd(&vm->vm_fd);
	close_fd(&vm->kvm_fd);
	if (vm->ram)
		munmap(vm->ram, VM_RAM_SIZE);
	vm->ram = NULL;
	conn_free_msgs(&vm->conn);
	vm->conn.state = VM_CONN_CLOSED;
	vm->running = false;
}
