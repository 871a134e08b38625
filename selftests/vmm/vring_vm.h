/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vring_vm: a VMM without vCPUs that plays the guest's side of virtio-vsock
 * itself, for the vmm selftests.
 *
 * It creates a KVM VM whose RAM is an anonymous mapping of this process,
 * registered as two writable memslots:
 *
 *	slot 0: GPA 0 .. 16 MiB    the virtqueues and the packet buffers
 *	slot 1: GPA 16 .. 32 MiB   free for shared regions
 *
 * then opens /dev/vhost-vsock, makes this process its owner (the module
 * binds the device to the KVM VM fd it finds open in the owner), gives it
 * the same two regions as its memory table and drives the RX (0) and TX (1)
 * split virtqueues from user space: "guest" packets are written into guest
 * RAM, the device is kicked through eventfds and signals back through
 * eventfds. On top sits a minimal virtio-vsock SOCK_SEQPACKET client: one
 * connection to the host (CID 2), credit-based flow control both ways.
 *
 * Every function returns 0 (or a length) on success and a negative errno
 * on failure.
 */
#ifndef VRING_VM_H
#define VRING_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VM_MIB			(1024ULL * 1024)
#define VM_SLOT0_GPA		0ULL
#define VM_SLOT0_SIZE		(16 * VM_MIB)
#define VM_SLOT1_GPA		(16 * VM_MIB)
#define VM_SLOT1_SIZE		(16 * VM_MIB)
#define VM_RAM_SIZE		(VM_SLOT0_SIZE + VM_SLOT1_SIZE)

#define VM_MAX_SLOTS		8
#define VM_HOST_CID		2
/* Descriptors in each virtqueue: RX buffers the device can have at once. */
#define VM_VQ_NUM		64
/* Receive buffer we advertise to the host (its credit for us). */
#define VM_BUF_ALLOC		(256 * 1024)
/* Largest payload of one packet, and so of one message we send. */
#define VM_MAX_PAYLOAD		65536

/* One KVM memslot as the VM last set it. */
struct vm_slot {
	bool used;
	uint32_t flags;		/* KVM_MEM_* */
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

/* One region of a vhost memory table. */
struct vm_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

/* A split virtqueue in guest RAM, and our side's indexes. */
struct vm_vq {
	unsigned int index;	/* 0 RX, 1 TX */
	unsigned int num;
	uint64_t gpa;		/* descriptor table; avail and used follow */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t buf_gpa;	/* buffer i at buf_gpa + i * buf_size */
	uint32_t buf_size;
	uint16_t avail_idx;	/* next avail->idx we publish */
	uint16_t used_idx;	/* used entries we consumed */
	int kick_fd;
	int call_fd;
};

/* A complete SOCK_SEQPACKET message received from the host. */
struct vm_msg {
	struct vm_msg *next;
	size_t len;
	uint32_t flags;		/* of the message's last packet */
	unsigned char data[];
};

enum vm_conn_state {
	VM_CONN_CLOSED,
	VM_CONN_CONNECTING,
	VM_CONN_CONNECTED,
};

/* The one vsock connection of the VM. */
struct vm_conn {
	enum vm_conn_state state;
	uint32_t local_port;
	uint32_t peer_port;
	bool reset;		/* the host sent RST */
	uint32_t peer_shutdown;	/* VIRTIO_VSOCK_SHUTDOWN_* the host sent */
	/* Our receive side. */
	uint32_t fwd_cnt;	/* bytes the application consumed */
	uint32_t fwd_cnt_sent;	/* fwd_cnt the host last heard of */
	unsigned char *part;	/* message being reassembled */
	size_t part_len;
	struct vm_msg *head, *tail;	/* complete messages */
	/* The host's receive side. */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;	/* payload bytes we sent */
};

/* What the VM's RAM is: how QEMU backs guests with -object memory-backend-*. */
enum vm_ram_backing {
	VM_RAM_ANON,		/* private anonymous memory (QEMU's default) */
	VM_RAM_MEMFD,		/* a shared memfd (memory-backend-memfd, share=on) */
	VM_RAM_HUGETLB,		/* a hugetlb memfd of 2 MiB pages (hugetlb=on) */
};

struct vring_vm {
	int kvm_fd;
	int vm_fd;
	int vhost_fd;
	uint64_t cid;
	unsigned char *ram;	/* VM_RAM_SIZE bytes: slots 0 and 1 */
	enum vm_ram_backing backing;
	uint64_t features;	/* acked with VHOST_SET_FEATURES */
	struct vm_slot slots[VM_MAX_SLOTS];
	struct vm_vq vq[2];
	struct vm_conn conn;
	bool running;
	uint32_t local_port;	/* if nonzero, vm_connect() connects from it */
	/* vm_rx_withhold(): used RX buffers kept from the device. */
	bool rx_withhold;
	unsigned int nr_rx_held;
	uint16_t rx_held[VM_VQ_NUM];
};

/* Creates and starts the VM with guest CID @cid, its RAM anonymous. */
int vm_create(struct vring_vm *vm, uint64_t cid);
/* The same with RAM from @backing (hugetlb needs 16 free 2 MiB pages). */
int vm_create_backed(struct vring_vm *vm, uint64_t cid,
		     enum vm_ram_backing backing);
/* Closes everything; the device's release revokes what it still holds. */
void vm_destroy(struct vring_vm *vm);

/* Host address of @gpa through the current memslots, or NULL. */
void *vm_gpa_to_hva(struct vring_vm *vm, uint64_t gpa);

/* Memslots (KVM_SET_USER_MEMORY_REGION). */
int vm_set_slot(struct vring_vm *vm, unsigned int slot, uint64_t gpa,
		uint64_t size, void *hva, uint32_t flags);
int vm_delete_slot(struct vring_vm *vm, unsigned int slot);
int vm_move_slot(struct vring_vm *vm, unsigned int slot, uint64_t new_gpa);

/* VHOST_SET_MEM_TABLE with @n regions; vm_default_mem_table() fills 2. */
int vm_set_mem_table(struct vring_vm *vm, const struct vm_mem_region *r,
		     unsigned int n);
/*
 * Dirty logging as QEMU turns it on to migrate: VHOST_SET_LOG_BASE @log
 * (one bit per 4 KiB guest page, bit N of the bitmap for GPA N * 4 KiB),
 * then VHOST_F_LOG_ALL. With @log NULL: the features without it again.
 */
int vm_set_dirty_log(struct vring_vm *vm, void *log);
unsigned int vm_default_mem_table(struct vring_vm *vm,
				  struct vm_mem_region r[2]);

/*
 * SOCK_SEQPACKET client over the VM's vsock device. The local port is
 * @vm->local_port if set, else a fresh one per connection.
 */
int vm_connect(struct vring_vm *vm, uint32_t port, int timeout_ms);
/*
 * Only the connection REQUEST: the host's RESPONSE, if it comes, completes
 * the connection in a later vm_poll().
 */
int vm_connect_start(struct vring_vm *vm, uint32_t port);
/* One message as one OP_RW packet with EOM | EOR. */
int vm_send(struct vring_vm *vm, const void *buf, size_t len);
/* One message as two OP_RW packets: @first bytes without EOM, the rest with. */
int vm_send_split(struct vring_vm *vm, const void *buf, size_t len,
		  size_t first);
/*
 * Next complete message, waiting up to @timeout_ms. Returns its length
 * (truncated to @cap), -ETIMEDOUT, or -ECONNRESET once the host ended the
 * connection and no message is left.
 */
ssize_t vm_recv(struct vring_vm *vm, void *buf, size_t cap, int timeout_ms);
/* OP_SHUTDOWN (both directions), then wait up to @timeout_ms for RST. */
int vm_shutdown(struct vring_vm *vm, int timeout_ms);
/* OP_RST: the connection ends at once. */
int vm_reset(struct vring_vm *vm);
/* Processes whatever the device did, waiting up to @timeout_ms for it. */
int vm_poll(struct vring_vm *vm, int timeout_ms);
/*
 * With @on, the RX buffers the device fills are still read, but no longer
 * given back to it: once it has none left, what the host sends stays
 * queued in the device and never reaches the guest's ring. Off: every
 * buffer kept is given back.
 */
void vm_rx_withhold(struct vring_vm *vm, bool on);
/* RX buffers the device has and has not used yet. */
unsigned int vm_rx_avail(struct vring_vm *vm);
/*
 * Withholds RX buffers and makes the host use up the device's last ones
 * (one CREDIT_REQUEST at a time, each answered with a CREDIT_UPDATE).
 */
int vm_rx_exhaust(struct vring_vm *vm, int timeout_ms);

#endif /* VRING_VM_H */
