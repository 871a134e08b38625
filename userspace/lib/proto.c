// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * vsock-shm wire protocol v1 for user space: encoders and decoder.
 */
#include <errno.h>
#include <string.h>

#include "proto.h"

static void put_hdr(void *buf, uint8_t type, uint32_t len, uint32_t region)
{
	struct vshm_hdr h = {
		.magic = cpu_to_le32(VSHM_MAGIC),
		.version = VSHM_VERSION,
		.type = type,
		.flags = 0,
		.len = cpu_to_le32(len),
		.region = cpu_to_le32(region),
	};

	memcpy(buf, &h, sizeof(h));
}

/* The encoders' last step: the message must pass the decoder's rules. */
static ssize_t finish(const void *buf, size_t len)
{
	struct vshm_msg m;

	return vshm_decode(buf, len, &m) ? -EINVAL : (ssize_t)len;
}

static ssize_t prepare(void *buf, size_t cap, size_t len)
{
	if (!buf)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	memset(buf, 0, len);
	return 0;
}

static ssize_t encode_hdr_only(void *buf, size_t cap, uint8_t type,
			       uint32_t region)
{
	ssize_t ret = prepare(buf, cap, VSHM_HDR_SIZE);

	if (ret)
		return ret;
	put_hdr(buf, type, VSHM_HDR_SIZE, region);
	return finish(buf, VSHM_HDR_SIZE);
}

ssize_t vshm_encode_alloc(void *buf, size_t cap, uint32_t region,
			  uint64_t size, uint32_t page_size, uint32_t access)
{
	struct vshm_alloc m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.size = cpu_to_le64(size);
	m.page_size = cpu_to_le32(page_size);
	m.access = cpu_to_le32(access);
	/* A size too large for 32-bit page counts must not wrap into a
	 * valid-looking nr_pages: store a value the check rejects.
	 */
	if (size / VSHM_PAGE_SIZE > UINT32_MAX)
		m.nr_pages = 0;
	else
		m.nr_pages = cpu_to_le32((uint32_t)(size / VSHM_PAGE_SIZE));
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_ALLOC, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_alloc_cookie(void *buf, size_t cap, uint32_t region,
				 uint64_t size, uint32_t page_size,
				 uint32_t access, uint64_t cookie)
{
	struct vshm_alloc_cookie m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	ret = vshm_encode_alloc(&m, sizeof(m.alloc), region, size, page_size,
				access);
	if (ret < 0)
		return ret;
	m.cookie = cpu_to_le64(cookie);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_ALLOC, sizeof(m), region);
	return finish(buf, sizeof(m));
}

static ssize_t encode_hello(void *buf, size_t cap, uint8_t type,
			    uint32_t region, uint64_t features)
{
	struct vshm_hello m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.features = cpu_to_le64(features);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, type, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_hello(void *buf, size_t cap, uint32_t region,
			  uint64_t features)
{
	return encode_hello(buf, cap, VSHM_MSG_HELLO, region, features);
}

ssize_t vshm_encode_hello_ok(void *buf, size_t cap, uint32_t region,
			     uint64_t features)
{
	return encode_hello(buf, cap, VSHM_MSG_HELLO_OK, region, features);
}

ssize_t vshm_encode_revoked(void *buf, size_t cap, uint32_t region,
			    uint64_t grant, uint32_t reason)
{
	struct vshm_revoked m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.grant = cpu_to_le64(grant);
	m.reason = cpu_to_le32(reason);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_REVOKED, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_notify(void *buf, size_t cap, uint32_t region,
			   uint32_t bits)
{
	struct vshm_notify m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.bits = cpu_to_le32(bits);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_NOTIFY, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_alloc_ok(void *buf, size_t cap, uint32_t region)
{
	return encode_hdr_only(buf, cap, VSHM_MSG_ALLOC_OK, region);
}

ssize_t vshm_encode_free(void *buf, size_t cap, uint32_t region)
{
	return encode_hdr_only(buf, cap, VSHM_MSG_FREE, region);
}

ssize_t vshm_encode_freed(void *buf, size_t cap, uint32_t region)
{
	return encode_hdr_only(buf, cap, VSHM_MSG_FREED, region);
}

ssize_t vshm_encode_gpa_list(void *buf, size_t cap, uint32_t region,
			     uint32_t first_page, uint32_t total_pages,
			     const struct vshm_run *runs, size_t n)
{
	struct vshm_gpa_list m;
	uint64_t nr_pages = 0;
	size_t i, len;
	ssize_t ret;

	if (!runs || n == 0 || n > VSHM_MAX_EXT_PER_MSG)
		return -EINVAL;
	for (i = 0; i < n; i++)
		nr_pages += runs[i].npages;
	if (nr_pages > UINT32_MAX)
		return -EINVAL;

	len = VSHM_GPA_LIST_SIZE(n);
	ret = prepare(buf, cap, len);
	if (ret)
		return ret;

	memset(&m, 0, sizeof(m));
	m.first_page = cpu_to_le32(first_page);
	m.nr_pages = cpu_to_le32((uint32_t)nr_pages);
	m.total_pages = cpu_to_le32(total_pages);
	m.nr_ext = cpu_to_le16((uint16_t)n);
	if ((uint64_t)first_page + nr_pages == total_pages)
		m.chunk_flags = cpu_to_le16(VSHM_CHUNK_LAST);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_GPA_LIST, (uint32_t)len, region);

	for (i = 0; i < n; i++) {
		struct vshm_extent e = {
			.addr = cpu_to_le64(runs[i].addr),
			.npages = cpu_to_le32(runs[i].npages),
			.pad = 0,
		};

		memcpy((char *)buf + VSHM_GPA_LIST_SIZE(i), &e, sizeof(e));
	}
	return finish(buf, len);
}

ssize_t vshm_encode_mapped(void *buf, size_t cap, uint32_t region,
			   uint64_t grant, uint32_t nr_pages)
{
	struct vshm_mapped m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.grant = cpu_to_le64(grant);
	m.nr_pages = cpu_to_le32(nr_pages);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_MAPPED, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_error(void *buf, size_t cap, uint32_t region,
			  uint32_t code, uint32_t detail, uint8_t orig_type)
{
	struct vshm_error m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.code = cpu_to_le32(code);
	m.detail = cpu_to_le32(detail);
	m.orig_type = orig_type;
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_ERROR, sizeof(m), region);
	return finish(buf, sizeof(m));
}

ssize_t vshm_encode_chunk_ok(void *buf, size_t cap, uint32_t region,
			     uint32_t first_page, uint32_t nr_pages)
{
	struct vshm_chunk_ok m;
	ssize_t ret = prepare(buf, cap, sizeof(m));

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.first_page = cpu_to_le32(first_page);
	m.nr_pages = cpu_to_le32(nr_pages);
	memcpy(buf, &m, sizeof(m));
	put_hdr(buf, VSHM_MSG_CHUNK_OK, sizeof(m), region);
	return finish(buf, sizeof(m));
}

static void copy_info(struct vshm_msg *out, const struct vshm_wire_info *wi)
{
	memset(out, 0, sizeof(*out));
	out->type = wi->type;
	out->region = wi->region;
	out->len = wi->len;
	out->bad_index = wi->bad_index;

	switch (wi->type) {
	case VSHM_MSG_ALLOC:
		out->alloc.size = wi->size;
		out->alloc.page_size = wi->page_size;
		out->alloc.access = wi->access;
		out->alloc.nr_pages = wi->nr_pages;
		out->alloc.has_cookie = wi->len == VSHM_ALLOC_COOKIE_SIZE;
		out->alloc.cookie = wi->cookie;
		break;
	case VSHM_MSG_HELLO:
	case VSHM_MSG_HELLO_OK:
		out->hello.features = wi->features;
		break;
	case VSHM_MSG_REVOKED:
		out->revoked.grant = wi->grant;
		out->revoked.reason = wi->reason;
		break;
	case VSHM_MSG_NOTIFY:
		out->notify.bits = wi->bits;
		break;
	case VSHM_MSG_GPA_LIST:
	case VSHM_MSG_HPA_LIST:
	case VSHM_MSG_REFUSED:
		out->list.grant = wi->type == VSHM_MSG_HPA_LIST ? wi->grant : 0;
		out->list.status = wi->status;
		out->list.detail = wi->detail;
		out->list.first_page = wi->first_page;
		out->list.nr_pages = wi->nr_pages;
		out->list.total_pages = wi->total_pages;
		out->list.nr_ext = wi->nr_ext;
		out->list.last = wi->last;
		out->list.ext = wi->ext;
		break;
	case VSHM_MSG_MAPPED:
		out->mapped.grant = wi->grant;
		out->mapped.nr_pages = wi->nr_pages;
		break;
	case VSHM_MSG_ERROR:
		out->error.code = wi->code;
		out->error.detail = wi->detail;
		out->error.orig_type = wi->orig_type;
		break;
	case VSHM_MSG_CHUNK_OK:
		out->chunk_ok.first_page = wi->first_page;
		out->chunk_ok.nr_pages = wi->nr_pages;
		break;
	default:
		break;
	}
}

int vshm_decode(const void *buf, size_t len, struct vshm_msg *out)
{
	struct vshm_wire_info wi;
	const uint8_t *b = buf;
	int ret;

	if (!buf || !out)
		return -EINVAL;

	/* NOTIFY goes both ways; both checks treat it alike. */
	if (len >= VSHM_HDR_SIZE &&
	    (b[offsetof(struct vshm_hdr, type)] == VSHM_MSG_ALLOC ||
	     b[offsetof(struct vshm_hdr, type)] == VSHM_MSG_GPA_LIST ||
	     b[offsetof(struct vshm_hdr, type)] == VSHM_MSG_FREE ||
	     b[offsetof(struct vshm_hdr, type)] == VSHM_MSG_HELLO ||
	     b[offsetof(struct vshm_hdr, type)] == VSHM_MSG_NOTIFY)) {
		ret = vshm_wire_check(buf, len, &wi);
		if (!ret && wi.type == VSHM_MSG_GPA_LIST) {
			uint32_t scratch[VSHM_MAX_EXT_PER_MSG];

			ret = vshm_wire_check_dup(wi.ext, wi.nr_ext, scratch);
			if (ret == VSHM_E_DUP)
				wi.bad_index = scratch[0];
		}
	} else {
		ret = vshm_wire_check_host(buf, len, &wi);
	}
	copy_info(out, &wi);
	return ret;
}

struct vshm_run vshm_msg_run(const struct vshm_msg *msg, uint32_t i)
{
	struct vshm_run r = { 0, 0 };
	u64 addr;
	u32 npages;

	if ((msg->type != VSHM_MSG_GPA_LIST && msg->type != VSHM_MSG_HPA_LIST) ||
	    !msg->list.ext || i >= msg->list.nr_ext)
		return r;
	vshm_wire_ext_get(msg->list.ext, i, &addr, &npages);
	r.addr = addr;
	r.npages = npages;
	return r;
}

const char *vshm_msg_type_name(unsigned int type)
{
	static const char *const names[] = {
		[VSHM_MSG_ALLOC] = "ALLOC",
		[VSHM_MSG_ALLOC_OK] = "ALLOC_OK",
		[VSHM_MSG_GPA_LIST] = "GPA_LIST",
		[VSHM_MSG_HPA_LIST] = "HPA_LIST",
		[VSHM_MSG_REFUSED] = "REFUSED",
		[VSHM_MSG_MAPPED] = "MAPPED",
		[VSHM_MSG_FREE] = "FREE",
		[VSHM_MSG_FREED] = "FREED",
		[VSHM_MSG_ERROR] = "ERROR",
		[VSHM_MSG_CHUNK_OK] = "CHUNK_OK",
		[VSHM_MSG_HELLO] = "HELLO",
		[VSHM_MSG_HELLO_OK] = "HELLO_OK",
		[VSHM_MSG_REVOKED] = "REVOKED",
		[VSHM_MSG_NOTIFY] = "NOTIFY",
	};

	if (type >= ARRAY_SIZE(names) || !names[type])
		return "UNKNOWN";
	return names[type];
}
