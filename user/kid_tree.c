// SPDX-License-Identifier: LGPL-2.1
/* Two-level kcmp trees; see include/kid_tree.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "kid_tree.h"

/* One gen_id: the root of a subtree of the distinct objects carrying it. */
struct kid_gen {
	struct rb_node node;
	uint64_t gen;
	struct rb_root sub;
	struct kid_entry *unordered; /* objects kcmp could not order */
};

/*
 * Entries and gen nodes come from one free-list pool: a snapshot inserts
 * hundreds of thousands of them and frees them all at once.
 */
#define POOL_CHUNK 4096

union kid_slot {
	struct kid_entry entry;
	struct kid_gen gen;
	union kid_slot *next_free;
};

struct kid_pool_chunk {
	struct kid_pool_chunk *next;
	union kid_slot slots[POOL_CHUNK];
};

struct kid_pool {
	struct kid_pool_chunk *chunks;
	union kid_slot *free;
	size_t used; /* slots handed out of the newest chunk */
};

static void *pool_get(struct kid_tree *t)
{
	struct kid_pool *p = t->pool;
	union kid_slot *s;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		p->used = POOL_CHUNK;
		t->pool = p;
	}
	if (p->free) {
		s = p->free;
		p->free = s->next_free;
		return memset(s, 0, sizeof(*s));
	}
	if (p->used == POOL_CHUNK) {
		struct kid_pool_chunk *c = malloc(sizeof(*c));

		if (!c)
			return NULL;
		c->next = p->chunks;
		p->chunks = c;
		p->used = 0;
	}
	s = &p->chunks->slots[p->used++];
	return memset(s, 0, sizeof(*s));
}

static void pool_put(struct kid_tree *t, void *ptr)
{
	union kid_slot *s = ptr;

	s->next_free = t->pool->free;
	t->pool->free = s;
}

void kid_tree_init(struct kid_tree *t, int type, kid_cmp_fn cmp, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->gens = RB_ROOT;
	t->type = type;
	t->cmp = cmp ? cmp : kid_kcmp;
	t->cmp_arg = arg;
	t->next_id = 1;
}

void kid_tree_destroy(struct kid_tree *t)
{
	struct kid_pool_chunk *c, *next;

	if (t->pool) {
		for (c = t->pool->chunks; c; c = next) {
			next = c->next;
			free(c);
		}
		free(t->pool);
	}
	t->pool = NULL;
	t->gens = RB_ROOT;
}

static int gen_cmp(const void *key, const struct rb_node *n)
{
	uint64_t a = *(const uint64_t *)key, b = rb_entry(n, struct kid_gen, node)->gen;

	return a < b ? -1 : a > b;
}

static bool gen_less(const struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct kid_gen, node)->gen < rb_entry(b, struct kid_gen, node)->gen;
}

static int compare(struct kid_tree *t, const struct kid_key *a, const struct kid_entry *e)
{
	int r;

	t->stats.kcmp_calls++;
	r = t->cmp(t->type, a, &e->key, t->cmp_arg);
	if (r >= 0 && r <= KID_UNORDERED)
		return r;
	t->stats.errors++;
	t->failed = (struct kid_entry *)e;
	return r < 0 ? r : -EINVAL;
}

/* Equality only: for objects kcmp cannot order, every one is a candidate. */
static int scan_for_equal(struct kid_tree *t, struct kid_gen *g, const struct kid_key *key,
			  bool whole_subtree, struct kid_entry **found)
{
	struct rb_node *n;
	struct kid_entry *e;
	int r;

	*found = NULL;
	if (whole_subtree) {
		rb_for_each(n, &g->sub)
		{
			e = rb_entry(n, struct kid_entry, sub_node);
			r = compare(t, key, e);
			if (r < 0)
				return r;
			if (r == KID_EQ) {
				*found = e;
				return 0;
			}
		}
	}
	for (e = g->unordered; e; e = e->next_unordered) {
		r = compare(t, key, e);
		if (r < 0)
			return r;
		if (r == KID_EQ) {
			*found = e;
			return 0;
		}
	}
	return 0;
}

static struct kid_entry *new_entry(struct kid_tree *t, struct kid_gen *g, const struct kid_key *key)
{
	struct kid_entry *e = pool_get(t);

	if (!e)
		return NULL;
	e->gen = g;
	e->key = *key;
	e->id = t->next_id++;
	t->stats.entries++;
	return e;
}

static int insert_new_gen(struct kid_tree *t, const struct kid_key *key, struct kid_entry **out)
{
	struct kid_gen *g = pool_get(t);
	struct kid_entry *e;

	if (!g)
		return -ENOMEM;
	e = new_entry(t, g, key);
	if (!e) {
		pool_put(t, g);
		return -ENOMEM;
	}
	g->gen = key->gen;
	g->sub = RB_ROOT;
	/*
	 * The first entry is linked into the subtree by the ordinary rbtree
	 * procedure; CRIU once special-cased it and looped forever on the
	 * first collision.
	 */
	rb_link_node(&e->sub_node, NULL, &g->sub.node);
	rb_insert_color(&e->sub_node, &g->sub);
	rb_add(&g->node, &t->gens, gen_less);
	*out = e;
	return 0;
}

int kid_lookup_or_insert(struct kid_tree *t, const struct kid_key *key, struct kid_entry **out,
			 bool *is_new)
{
	struct rb_node *gn = rb_find(&key->gen, &t->gens, gen_cmp);
	struct rb_node **link, *parent = NULL;
	struct kid_entry *e, *found;
	struct kid_gen *g;
	bool unordered = false;
	int r;

	*is_new = false;
	t->failed = NULL;
	if (!gn) {
		r = insert_new_gen(t, key, out);
		*is_new = r == 0;
		return r;
	}
	g = rb_entry(gn, struct kid_gen, node);
	link = &g->sub.node;
	while (*link) {
		e = rb_entry(*link, struct kid_entry, sub_node);
		r = compare(t, key, e);
		if (r < 0)
			return r;
		if (r == KID_EQ) {
			*out = e;
			return 0;
		}
		if (r == KID_UNORDERED) {
			unordered = true;
			break;
		}
		parent = *link;
		link = r == KID_LT ? &parent->left : &parent->right;
	}
	/* The ordered walk proved nothing if kcmp refused an order on the way. */
	r = scan_for_equal(t, g, key, unordered, &found);
	if (r < 0)
		return r;
	if (found) {
		*out = found;
		return 0;
	}
	e = new_entry(t, g, key);
	if (!e)
		return -ENOMEM;
	t->stats.collisions++;
	if (unordered) {
		e->unordered = true;
		e->next_unordered = g->unordered;
		g->unordered = e;
	} else {
		rb_link_node(&e->sub_node, parent, link);
		rb_insert_color(&e->sub_node, &g->sub);
	}
	*out = e;
	*is_new = true;
	return 0;
}

void kid_remove(struct kid_tree *t, struct kid_entry *e)
{
	struct kid_gen *g = e->gen;

	if (t->failed == e)
		t->failed = NULL;
	if (e->unordered) {
		struct kid_entry **pp = &g->unordered;

		while (*pp != e)
			pp = &(*pp)->next_unordered;
		*pp = e->next_unordered;
	} else {
		rb_erase(&e->sub_node, &g->sub);
	}
	t->stats.entries--;
	pool_put(t, e);
	if (!g->sub.node && !g->unordered) {
		rb_erase(&g->node, &t->gens);
		pool_put(t, g);
	}
}

void kid_rekey(struct kid_entry *e, pid_t pid, int idx)
{
	e->key.pid = pid;
	e->key.idx = idx;
}

int kid_kcmp(int type, const struct kid_key *a, const struct kid_key *b, void *arg)
{
	long r = syscall(SYS_kcmp, a->pid, b->pid, type, (unsigned long)a->idx,
			 (unsigned long)b->idx);

	return r < 0 ? -errno : (int)r;
}

bool kid_holder_alive(int type, const struct kid_key *key)
{
	return kid_kcmp(type, key, key, NULL) == KID_EQ;
}
