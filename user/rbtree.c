// SPDX-License-Identifier: LGPL-2.1
/* Red-black tree balancing (CLRS, with parent pointers). */
#include "rbtree.h"

static void rotate_left(struct rb_node *x, struct rb_root *root)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		rb_set_parent(y->left, x);
	rb_set_parent(y, rb_parent(x));
	if (!rb_parent(x))
		root->node = y;
	else if (x == rb_parent(x)->left)
		rb_parent(x)->left = y;
	else
		rb_parent(x)->right = y;
	y->left = x;
	rb_set_parent(x, y);
}

static void rotate_right(struct rb_node *x, struct rb_root *root)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		rb_set_parent(y->right, x);
	rb_set_parent(y, rb_parent(x));
	if (!rb_parent(x))
		root->node = y;
	else if (x == rb_parent(x)->right)
		rb_parent(x)->right = y;
	else
		rb_parent(x)->left = y;
	y->right = x;
	rb_set_parent(x, y);
}

static bool is_red(const struct rb_node *n)
{
	return n && rb_red(n);
}

void rb_insert_color(struct rb_node *z, struct rb_root *root)
{
	while (is_red(rb_parent(z))) {
		struct rb_node *p = rb_parent(z), *g = rb_parent(p);
		bool left = p == g->left;
		struct rb_node *u = left ? g->right : g->left;

		if (is_red(u)) {
			rb_set_red(p, false);
			rb_set_red(u, false);
			rb_set_red(g, true);
			z = g;
			continue;
		}
		if (z == (left ? p->right : p->left)) {
			z = p;
			if (left)
				rotate_left(z, root);
			else
				rotate_right(z, root);
			p = rb_parent(z);
		}
		rb_set_red(p, false);
		rb_set_red(g, true);
		if (left)
			rotate_right(g, root);
		else
			rotate_left(g, root);
	}
	rb_set_red(root->node, false);
}

static void transplant(struct rb_node *u, struct rb_node *v, struct rb_root *root)
{
	if (!rb_parent(u))
		root->node = v;
	else if (u == rb_parent(u)->left)
		rb_parent(u)->left = v;
	else
		rb_parent(u)->right = v;
	if (v)
		rb_set_parent(v, rb_parent(u));
}

static struct rb_node *leftmost(struct rb_node *n)
{
	while (n && n->left)
		n = n->left;
	return n;
}

static void erase_fixup(struct rb_node *x, struct rb_node *xp, struct rb_root *root)
{
	while (x != root->node && !is_red(x)) {
		bool left = x == xp->left;
		struct rb_node *w = left ? xp->right : xp->left;

		if (is_red(w)) {
			rb_set_red(w, false);
			rb_set_red(xp, true);
			if (left)
				rotate_left(xp, root);
			else
				rotate_right(xp, root);
			w = left ? xp->right : xp->left;
		}
		if (!is_red(w->left) && !is_red(w->right)) {
			rb_set_red(w, true);
			x = xp;
			xp = rb_parent(x);
			continue;
		}
		if (left && !is_red(w->right)) {
			rb_set_red(w->left, false);
			rb_set_red(w, true);
			rotate_right(w, root);
			w = xp->right;
		} else if (!left && !is_red(w->left)) {
			rb_set_red(w->right, false);
			rb_set_red(w, true);
			rotate_left(w, root);
			w = xp->left;
		}
		rb_set_red(w, rb_red(xp));
		rb_set_red(xp, false);
		if (left) {
			if (w->right)
				rb_set_red(w->right, false);
			rotate_left(xp, root);
		} else {
			if (w->left)
				rb_set_red(w->left, false);
			rotate_right(xp, root);
		}
		x = root->node;
		break;
	}
	if (x)
		rb_set_red(x, false);
}

void rb_erase(struct rb_node *z, struct rb_root *root)
{
	struct rb_node *x, *xp;
	bool removed_red = rb_red(z);

	if (!z->left) {
		x = z->right;
		xp = rb_parent(z);
		transplant(z, x, root);
	} else if (!z->right) {
		x = z->left;
		xp = rb_parent(z);
		transplant(z, x, root);
	} else {
		struct rb_node *y = leftmost(z->right);

		removed_red = rb_red(y);
		x = y->right;
		if (rb_parent(y) == z) {
			xp = y;
		} else {
			xp = rb_parent(y);
			transplant(y, y->right, root);
			y->right = z->right;
			rb_set_parent(y->right, y);
		}
		transplant(z, y, root);
		y->left = z->left;
		rb_set_parent(y->left, y);
		rb_set_red(y, rb_red(z));
	}
	if (!removed_red)
		erase_fixup(x, xp, root);
}

struct rb_node *rb_first(const struct rb_root *root)
{
	return leftmost(root->node);
}

struct rb_node *rb_next(const struct rb_node *n)
{
	if (n->right)
		return leftmost(n->right);
	while (rb_parent(n) && n == rb_parent(n)->right)
		n = rb_parent(n);
	return rb_parent(n);
}

void rb_replace_node(struct rb_node *victim, struct rb_node *heir, struct rb_root *root)
{
	struct rb_node *parent = rb_parent(victim);

	*heir = *victim;
	if (victim->left)
		rb_set_parent(victim->left, heir);
	if (victim->right)
		rb_set_parent(victim->right, heir);
	if (!parent)
		root->node = heir;
	else if (parent->left == victim)
		parent->left = heir;
	else
		parent->right = heir;
}
