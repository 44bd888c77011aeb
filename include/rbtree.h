/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Intrusive red-black tree in the style of the kernel's <linux/rbtree.h>:
 * the node lives inside the caller's struct, and lookups take comparison
 * callbacks (rb_find / rb_add) instead of a key type.
 */
#ifndef KT_RBTREE_H
#define KT_RBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The colour rides in the parent pointer's low bit: 24 bytes, not 32. */
struct rb_node {
	uintptr_t parent_red;
	struct rb_node *left, *right;
};

static inline struct rb_node *rb_parent(const struct rb_node *n)
{
	return (struct rb_node *)(n->parent_red & ~(uintptr_t)1);
}

static inline bool rb_red(const struct rb_node *n)
{
	return n->parent_red & 1;
}

static inline void rb_set_parent(struct rb_node *n, struct rb_node *parent)
{
	n->parent_red = (uintptr_t)parent | (n->parent_red & 1);
}

static inline void rb_set_red(struct rb_node *n, bool red)
{
	n->parent_red = (n->parent_red & ~(uintptr_t)1) | red;
}

struct rb_root {
	struct rb_node *node;
};

#define RB_ROOT ((struct rb_root){ NULL })
#define rb_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Link @node as the child at @link of @parent; then rb_insert_color(). */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent, struct rb_node **link)
{
	node->parent_red = (uintptr_t)parent | 1;
	node->left = node->right = NULL;
	*link = node;
}

void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
/* Put @heir where @victim is, colour and all: only for a key that sorts the same. */
void rb_replace_node(struct rb_node *victim, struct rb_node *heir, struct rb_root *root);
struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);

/* @cmp(key, node) < 0: key sorts before node. */
static inline struct rb_node *rb_find(const void *key, const struct rb_root *root,
				      int (*cmp)(const void *key, const struct rb_node *))
{
	struct rb_node *n = root->node;

	while (n) {
		int c = cmp(key, n);

		if (c < 0)
			n = n->left;
		else if (c > 0)
			n = n->right;
		else
			return n;
	}
	return NULL;
}

/* Insert @node; equal keys go right.  @less(a, b): a sorts before b. */
static inline void rb_add(struct rb_node *node, struct rb_root *root,
			  bool (*less)(const struct rb_node *, const struct rb_node *))
{
	struct rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = less(node, parent) ? &parent->left : &parent->right;
	}
	rb_link_node(node, parent, link);
	rb_insert_color(node, root);
}

/* Visit every node in order; @n must not be erased inside the loop. */
#define rb_for_each(n, root) for ((n) = rb_first(root); (n); (n) = rb_next(n))

#endif
