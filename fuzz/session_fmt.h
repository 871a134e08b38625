/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The input format of session_fuzz (read by session_fuzz.c, written by
 * mkcorpus.c). All integers little-endian.
 *
 *   byte 0      configuration of the session:
 *                 bits 0-1  max_regions: 0 no limit, else 1..3
 *                 bit  2    max_region_size 64 pages (else no limit)
 *                 bit  3    an on_mapped callback is installed
 *                 bits 4-6  features the host does NOT support
 *                           (VSHM_FEAT_* << 4; 0: it supports them all)
 *   then records, until the input ends:
 *   op          one byte:
 *                 bits 0-2  kind (SF_*), what follows and what is fed
 *                 bits 3-5  the fake mapper's map() for this message (SF_MAP_*)
 *                 bits 6-7  the application and unmap() (SF_APP_*)
 *
 * Kinds:
 *   SF_RAW0..3  u16 n, then n bytes (fewer if the input ends): fed as is
 *   SF_ALLOC    u8 region, u16 pages - 1: ALLOC, 4 KiB pages, READ|WRITE
 *   SF_HPA      u8 region, u16 first_page, u16 npages, u16 total_pages,
 *               u8 grant: a one-run GPA_LIST marked HPA_LIST by
 *               vshm_wire_mark_hpa(grant) (not fed if it cannot be encoded)
 *   SF_FREE     u8 region: FREE
 *   SF_REFUSED  u8 region, u8 code: a one-run GPA_LIST of one page, marked
 *               REFUSED by vshm_wire_mark_refused(code, VSHM_NO_INDEX)
 */
#ifndef VSHM_SESSION_FMT_H
#define VSHM_SESSION_FMT_H

#define SF_CFG_MAX_REGIONS	0x03
#define SF_CFG_MAX_SIZE		0x04
#define SF_CFG_ON_MAPPED	0x08
#define SF_MAX_SIZE_PAGES	64
#define SF_CFG_FEAT_SHIFT	4
#define SF_CFG_FEAT_OFF(f)	((f) << SF_CFG_FEAT_SHIFT)

#define SF_KIND(op)		((op) & 7)
#define SF_RAW0			0	/* 0..3 */
#define SF_ALLOC		4
#define SF_HPA			5
#define SF_FREE			6
#define SF_REFUSED		7

#define SF_MAP(op)		(((op) >> 3) & 7)
#define SF_MAP_OK		0	/* 0..1: map() succeeds */
#define SF_MAP_EDQUOT		2
#define SF_MAP_EIO		3
#define SF_MAP_ENOMEM		4
#define SF_MAP_EBUSY		5
#define SF_MAP_WRONG_SIZE	6	/* succeeds, one page too many */
#define SF_MAP_EPERM		7

#define SF_APP(op)		(((op) >> 6) & 3)
#define SF_APP_OK		0	/* accepts */
#define SF_APP_UNMAP_FAILS	1	/* accepts; unmap() returns -EIO */
#define SF_APP_DENIED		2	/* refuses with VSHM_E_DENIED */
#define SF_APP_EIO		3	/* returns -EIO */

#define SF_OP(kind, map, app)	((kind) | (map) << 3 | (app) << 6)

/* At most this many messages are fed per input. */
#define SF_MAX_FEEDS		512

#endif /* VSHM_SESSION_FMT_H */
