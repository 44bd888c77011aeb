// SPDX-License-Identifier: LGPL-2.1
/* Interned paths; see path_intern.h. */
#include <stdlib.h>
#include <string.h>
#include "path_intern.h"

struct interned_path {
	struct interned_path *next;
	uint32_t refs;
	uint32_t hash;
	char s[];
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* FNV-1a: paths are short, and this map is not exposed to chosen input. */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int grow(struct path_intern *pi)
{
	size_t n = pi->nbuckets ? pi->nbuckets * 2 : 64;
	struct interned_path **b = calloc(n, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < pi->nbuckets; i++) {
		struct interned_path *p = pi->bucket[i], *next;

		for (; p; p = next) {
			next = p->next;
			p->next = b[p->hash & (n - 1)];
			b[p->hash & (n - 1)] = p;
		}
	}
	free(pi->bucket);
	pi->bucket = b;
	pi->nbuckets = n;
	return 0;
}

const char *path_intern(struct path_intern *pi, const char *s)
{
	uint32_t h = hash_str(s);
	struct interned_path *p, **head;
	size_t len;

	for (p = pi->nbuckets ? pi->bucket[h & (pi->nbuckets - 1)] : NULL; p; p = p->next)
		if (p->hash == h && !strcmp(p->s, s)) {
			p->refs++;
			return p->s;
		}
	if (pi->len >= pi->nbuckets && grow(pi))
		return NULL;
	len = strlen(s);
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return NULL;
	memcpy(p->s, s, len + 1);
	p->refs = 1;
	p->hash = h;
	head = &pi->bucket[h & (pi->nbuckets - 1)];
	p->next = *head;
	*head = p;
	pi->len++;
	return p->s;
}

void path_unintern(struct path_intern *pi, const char *s)
{
	struct interned_path *p = container_of(s, struct interned_path, s), **pp;

	if (--p->refs)
		return;
	for (pp = &pi->bucket[p->hash & (pi->nbuckets - 1)]; *pp != p; pp = &(*pp)->next)
		;
	*pp = p->next;
	pi->len--;
	free(p);
}

void path_intern_free(struct path_intern *pi)
{
	free(pi->bucket);
	memset(pi, 0, sizeof(*pi));
}
