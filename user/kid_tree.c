// SPDX-License-Identifier: LGPL-2.1
/* Two-level kcmp trees; see include/kid_tree.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "kid_tree.h"
#include "pool.h"

/*
 * Entries for kid_lookup_or_insert() come from a pool: a snapshot inserts
 * hundreds of thousands of them and frees them all at once.
 */
static struct kid_entry *entry_get(struct kid_tree *t)
{
	if (!t->pool) {
		t->pool = malloc(sizeof(*t->pool));
		if (!t->pool)
			return NULL;
		pool_init(t->pool, sizeof(struct kid_entry));
	}
	return pool_get(t->pool);
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
	if (t->pool) {
		pool_destroy(t->pool);
		free(t->pool);
	}
	t->pool = NULL;
	t->gens = RB_ROOT;
}

static struct kid_entry *node_entry(const struct rb_node *n)
{
	return rb_entry(n, struct kid_entry, node);
}

static int gen_cmp(const void *key, const struct rb_node *n)
{
	uint64_t a = *(const uint64_t *)key, b = node_entry(n)->key.gen;

	return a < b ? -1 : a > b;
}

static bool gen_less(const struct rb_node *a, const struct rb_node *b)
{
	return node_entry(a)->key.gen < node_entry(b)->key.gen;
}

static struct kid_entry *find_head(const struct kid_tree *t, uint64_t gen)
{
	struct rb_node *n = rb_find(&gen, &t->gens, gen_cmp);

	return n ? node_entry(n) : NULL;
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
static int scan_for_equal(struct kid_tree *t, struct kid_entry *head, const struct kid_key *key,
			  bool whole_subtree, struct kid_entry **found)
{
	struct rb_node *n;
	struct kid_entry *e;
	int r;

	*found = NULL;
	if (whole_subtree) {
		rb_for_each(n, &head->sub)
		{
			e = node_entry(n);
			r = compare(t, key, e);
			if (r < 0)
				return r;
			if (r == KID_EQ) {
				*found = e;
				return 0;
			}
		}
	}
	for (e = head->list; e; e = e->list) {
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

static void add_entry(struct kid_tree *t, struct kid_entry *n, enum kid_place place)
{
	n->place = (uint8_t)place;
	n->id = t->next_id++;
	t->stats.entries++;
	if (place != KID_HEAD)
		t->stats.collisions++;
}

static void add_head(struct kid_tree *t, struct kid_entry *n)
{
	n->sub = RB_ROOT;
	n->list = NULL;
	rb_add(&n->node, &t->gens, gen_less);
	add_entry(t, n, KID_HEAD);
}

/*
 * Under an existing gen_id: the head first, then down its subtree.  An
 * unordered answer anywhere means the ordered walk proved nothing, so the
 * whole subtree is scanned; the list always is.
 */
static int find_or_add_under(struct kid_tree *t, struct kid_entry *head, struct kid_entry *n,
			     struct kid_entry **out)
{
	struct rb_node **link = &head->sub.node, *parent = NULL;
	struct kid_entry *found;
	int r = compare(t, &n->key, head);
	bool unordered = r == KID_UNORDERED;

	if (r < 0)
		return r;
	*out = head;
	if (r == KID_EQ)
		return 0;
	while (!unordered && *link) {
		struct kid_entry *e = node_entry(*link);

		r = compare(t, &n->key, e);
		if (r < 0)
			return r;
		if (r == KID_EQ) {
			*out = e;
			return 0;
		}
		unordered = r == KID_UNORDERED;
		parent = *link;
		link = r == KID_LT ? &parent->left : &parent->right;
	}
	r = scan_for_equal(t, head, &n->key, unordered, &found);
	if (r < 0)
		return r;
	if (found) {
		*out = found;
		return 0;
	}
	n->sub = RB_ROOT;
	if (unordered) {
		n->list = head->list;
		head->list = n;
		add_entry(t, n, KID_LIST);
	} else {
		n->list = NULL;
		rb_link_node(&n->node, parent, link);
		rb_insert_color(&n->node, &head->sub);
		add_entry(t, n, KID_SUB);
	}
	*out = n;
	return 0;
}

int kid_find_or_add(struct kid_tree *t, struct kid_entry *n, struct kid_entry **out)
{
	struct kid_entry *head = find_head(t, n->key.gen);

	t->failed = NULL;
	if (head)
		return find_or_add_under(t, head, n, out);
	add_head(t, n);
	*out = n;
	return 0;
}

/* The head leaves: one of its objects takes its place in the gen_id tree. */
static void replace_head(struct kid_tree *t, struct kid_entry *head)
{
	struct kid_entry *heir = NULL;

	if (head->sub.node) {
		heir = node_entry(rb_first(&head->sub));
		rb_erase(&heir->node, &head->sub);
		heir->sub = head->sub;
		heir->list = head->list;
	} else if (head->list) {
		heir = head->list; /* its list link is the rest of the list */
	}
	if (!heir) {
		rb_erase(&head->node, &t->gens);
		return;
	}
	heir->place = KID_HEAD;
	rb_replace_node(&head->node, &heir->node, &t->gens);
}

void kid_erase(struct kid_tree *t, struct kid_entry *e)
{
	struct kid_entry *head, **pp;

	if (t->failed == e)
		t->failed = NULL;
	switch (e->place) {
	case KID_OUT: return;
	case KID_HEAD: replace_head(t, e); break;
	case KID_SUB:
		head = find_head(t, e->key.gen);
		rb_erase(&e->node, &head->sub);
		break;
	case KID_LIST:
		head = find_head(t, e->key.gen);
		for (pp = &head->list; *pp != e; pp = &(*pp)->list)
			;
		*pp = e->list;
		break;
	}
	e->place = KID_OUT;
	e->sub = RB_ROOT;
	e->list = NULL;
	t->stats.entries--;
}

int kid_lookup_or_insert(struct kid_tree *t, const struct kid_key *key, struct kid_entry **out,
			 bool *is_new)
{
	struct kid_entry *n = entry_get(t);
	int r;

	*is_new = false;
	if (!n)
		return -ENOMEM;
	n->key = *key;
	r = kid_find_or_add(t, n, out);
	*is_new = r == 0 && *out == n;
	if (!*is_new)
		pool_put(t->pool, n);
	return r;
}

void kid_remove(struct kid_tree *t, struct kid_entry *e)
{
	kid_erase(t, e);
	pool_put(t->pool, e);
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
