// SPDX-License-Identifier: LGPL-2.1
#include <errno.h>
#include <stdlib.h>
#include "u32map.h"

/* Deleted slots keep their key with this value so probes continue past them. */
static char tomb_marker;
#define TOMB ((void *)&tomb_marker)

static size_t slot_of(uint32_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B1u) & (uint32_t)(cap - 1));
}

static long find(const struct u32map *m, uint32_t key)
{
	if (!m->cap)
		return -1;
	for (size_t i = slot_of(key, m->cap), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		if (!m->vals[i])
			return -1;
		if (m->vals[i] != TOMB && m->keys[i] == key)
			return (long)i;
	}
	return -1;
}

void *u32map_get(const struct u32map *m, uint32_t key)
{
	long i = find(m, key);

	return i < 0 ? NULL : m->vals[i];
}

static int rehash(struct u32map *m, size_t cap)
{
	struct u32map n = { calloc(cap, sizeof(uint32_t)), calloc(cap, sizeof(void *)), cap, 0, 0 };

	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i] && m->vals[i] != TOMB)
			u32map_put(&n, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	*m = n;
	return 0;
}

int u32map_put(struct u32map *m, uint32_t key, void *val)
{
	long i = find(m, key);
	size_t j;

	if (i >= 0) {
		m->vals[i] = val;
		return 0;
	}
	if ((m->len + m->tombs + 1) * 4 >= m->cap * 3) {
		size_t cap = m->cap ? m->cap : 64;

		while ((m->len + 1) * 2 >= cap)
			cap *= 2;
		if (rehash(m, cap))
			return -ENOMEM;
	}
	for (j = slot_of(key, m->cap); m->vals[j] && m->vals[j] != TOMB; j = (j + 1) & (m->cap - 1))
		;
	if (m->vals[j] == TOMB)
		m->tombs--;
	m->keys[j] = key;
	m->vals[j] = val;
	m->len++;
	return 0;
}

void *u32map_del(struct u32map *m, uint32_t key)
{
	long i = find(m, key);
	void *v;

	if (i < 0)
		return NULL;
	v = m->vals[i];
	m->vals[i] = TOMB;
	m->len--;
	m->tombs++;
	return v;
}

void u32map_free(struct u32map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct u32map){ 0 };
}

int u32map_next(const struct u32map *m, size_t *pos, uint32_t *key, void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->vals[*pos] && m->vals[*pos] != TOMB) {
			*key = m->keys[*pos];
			*val = m->vals[(*pos)++];
			return 1;
		}
	}
	return 0;
}
