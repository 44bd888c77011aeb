// SPDX-License-Identifier: LGPL-2.1
/* Red-black tree balancing (CLRS, with parent pointers). */
#include "rbtree.h"

static void rotate_left(struct rb_node *x, struct rb_root *root)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	if (!x->parent)
		root->node = y;
	else if (x == x->parent->left)
		x->parent->left = y;
	else
		x->parent->right = y;
	y->left = x;
	x->parent = y;
}

static void rotate_right(struct rb_node *x, struct rb_root *root)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	if (!x->parent)
		root->node = y;
	else if (x == x->parent->right)
		x->parent->right = y;
	else
		x->parent->left = y;
	y->right = x;
	x->parent = y;
}

static bool is_red(const struct rb_node *n)
{
	return n && n->red;
}

void rb_insert_color(struct rb_node *z, struct rb_root *root)
{
	while (is_red(z->parent)) {
		struct rb_node *p = z->parent, *g = p->parent;
		bool left = p == g->left;
		struct rb_node *u = left ? g->right : g->left;

		if (is_red(u)) {
			p->red = false;
			u->red = false;
			g->red = true;
			z = g;
			continue;
		}
		if (z == (left ? p->right : p->left)) {
			z = p;
			if (left)
				rotate_left(z, root);
			else
				rotate_right(z, root);
			p = z->parent;
		}
		p->red = false;
		g->red = true;
		if (left)
			rotate_right(g, root);
		else
			rotate_left(g, root);
	}
	root->node->red = false;
}

static void transplant(struct rb_node *u, struct rb_node *v, struct rb_root *root)
{
	if (!u->parent)
		root->node = v;
	else if (u == u->parent->left)
		u->parent->left = v;
	else
		u->parent->right = v;
	if (v)
		v->parent = u->parent;
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
			w->red = false;
			xp->red = true;
			if (left)
				rotate_left(xp, root);
			else
				rotate_right(xp, root);
			w = left ? xp->right : xp->left;
		}
		if (!is_red(w->left) && !is_red(w->right)) {
			w->red = true;
			x = xp;
			xp = x->parent;
			continue;
		}
		if (left && !is_red(w->right)) {
			w->left->red = false;
			w->red = true;
			rotate_right(w, root);
			w = xp->right;
		} else if (!left && !is_red(w->left)) {
			w->right->red = false;
			w->red = true;
			rotate_left(w, root);
			w = xp->left;
		}
		w->red = xp->red;
		xp->red = false;
		if (left) {
			if (w->right)
				w->right->red = false;
			rotate_left(xp, root);
		} else {
			if (w->left)
				w->left->red = false;
			rotate_right(xp, root);
		}
		x = root->node;
		break;
	}
	if (x)
		x->red = false;
}

void rb_erase(struct rb_node *z, struct rb_root *root)
{
	struct rb_node *x, *xp;
	bool removed_red = z->red;

	if (!z->left) {
		x = z->right;
		xp = z->parent;
		transplant(z, x, root);
	} else if (!z->right) {
		x = z->left;
		xp = z->parent;
		transplant(z, x, root);
	} else {
		struct rb_node *y = leftmost(z->right);

		removed_red = y->red;
		x = y->right;
		if (y->parent == z) {
			xp = y;
		} else {
			xp = y->parent;
			transplant(y, y->right, root);
			y->right = z->right;
			y->right->parent = y;
		}
		transplant(z, y, root);
		y->left = z->left;
		y->left->parent = y;
		y->red = z->red;
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
	while (n->parent && n == n->parent->right)
		n = n->parent;
	return n->parent;
}
