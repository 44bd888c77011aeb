/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Fixed-size objects carved from 64 KiB chunks, with a free list.  The live
 * state holds one record per fd and one per open file: malloc would add
 * 8-16 bytes of header to each and round it up, a fifth of their size.
 * Chunks go back to malloc only when the pool is destroyed.
 */
#ifndef KT_POOL_H
#define KT_POOL_H

#include <stddef.h>

struct pool_chunk;

struct pool {
	size_t size; /* of one object, at least a pointer */
	size_t per_chunk;
	size_t used; /* objects handed out of the newest chunk */
	struct pool_chunk *chunks;
	void *free;
};

void pool_init(struct pool *p, size_t size);
/* A zeroed object, or NULL. */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *obj);
void pool_destroy(struct pool *p);

#endif
