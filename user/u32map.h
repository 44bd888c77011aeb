/* SPDX-License-Identifier: LGPL-2.1 */
/* A small open-addressing hash map from u32 keys (tids) to pointers. */
#ifndef KT_U32MAP_H
#define KT_U32MAP_H

#include <stddef.h>
#include <stdint.h>

struct u32map {
	uint32_t *keys;
	void **vals; /* NULL: empty slot */
	size_t cap;  /* power of two */
	size_t len;
	size_t tombs;
};

void *u32map_get(const struct u32map *m, uint32_t key);
/* Insert or replace; returns 0 or -ENOMEM. @val must not be NULL. */
int u32map_put(struct u32map *m, uint32_t key, void *val);
void *u32map_del(struct u32map *m, uint32_t key);
void u32map_free(struct u32map *m);

/* Iterate: for (size_t i = 0; u32map_next(m, &i, &k, &v);) */
int u32map_next(const struct u32map *m, size_t *pos, uint32_t *key, void **val);

#endif
