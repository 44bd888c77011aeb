// SPDX-License-Identifier: LGPL-2.1
/* Fixed-size object pools; see pool.h. */
#include <stdlib.h>
#include <string.h>
#include "pool.h"

#define CHUNK_BYTES (64 << 10)

struct pool_chunk {
	struct pool_chunk *next;
	_Alignas(16) unsigned char objs[];
};

void pool_init(struct pool *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	size = size < sizeof(void *) ? sizeof(void *) : size;
	p->size = (size + 7) & ~(size_t)7;
	p->per_chunk = (CHUNK_BYTES - sizeof(struct pool_chunk)) / p->size;
	p->used = p->per_chunk;
}

void *pool_get(struct pool *p)
{
	void *obj = p->free;

	if (obj) {
		p->free = *(void **)obj;
	} else {
		if (p->used == p->per_chunk) {
			struct pool_chunk *c = malloc(sizeof(*c) + p->per_chunk * p->size);

			if (!c)
				return NULL;
			c->next = p->chunks;
			p->chunks = c;
			p->used = 0;
		}
		obj = p->chunks->objs + p->used++ * p->size;
	}
	return memset(obj, 0, p->size);
}

void pool_put(struct pool *p, void *obj)
{
	*(void **)obj = p->free;
	p->free = obj;
}

void pool_destroy(struct pool *p)
{
	struct pool_chunk *c, *next;

	for (c = p->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	pool_init(p, p->size);
}
