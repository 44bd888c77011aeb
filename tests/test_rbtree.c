// SPDX-License-Identifier: LGPL-2.1
/*
 * rbtree.c against a sorted-array model: random rb_add/rb_find/rb_erase
 * with fixed seeds, checking the red-black invariants as we go, plus an
 * exhaustive run over every insertion and erase order of a few nodes.
 */
#include <signal.h>
#include <stdint.h>
#include "rbtree.h"
#include "check.h"

#define MAX_ITEMS 4096
#define KEY_RANGE 1024 /* small enough that equal keys are common */
#define SORTED_ITEMS 1024

struct item {
	struct rb_node node;
	int key;
	unsigned int seq; /* insertion order: equal keys must stay in it */
	bool in_tree;
};

static struct item items[MAX_ITEMS];
static struct item *model[MAX_ITEMS]; /* sorted by (key, seq) */
static int nmodel;
static unsigned int next_seq;

/* xorshift64*: the same sequence under every libc. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() >> 33) % n;
}

static bool item_less(const struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct item, node)->key < rb_entry(b, struct item, node)->key;
}

static int item_cmp(const void *key, const struct rb_node *n)
{
	int k = *(const int *)key, nk = rb_entry(n, struct item, node)->key;

	return k < nk ? -1 : k > nk;
}

static bool model_less(const struct item *a, const struct item *b)
{
	return a->key < b->key || (a->key == b->key && a->seq < b->seq);
}

/* First model slot whose item does not sort before @it. */
static int model_pos(const struct item *it)
{
	int lo = 0, hi = nmodel;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (model_less(model[mid], it))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool model_has_key(int key)
{
	int lo = 0, hi = nmodel;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (model[mid]->key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nmodel && model[lo]->key == key;
}

static void model_insert(struct item *it)
{
	int pos = model_pos(it);

	memmove(&model[pos + 1], &model[pos], (nmodel - pos) * sizeof(model[0]));
	model[pos] = it;
	nmodel++;
}

static void model_erase(struct item *it)
{
	int pos = model_pos(it);

	memmove(&model[pos], &model[pos + 1], (nmodel - pos - 1) * sizeof(model[0]));
	nmodel--;
}

/*
 * Black height of the subtree at @n, or -1 with *@why set if a red-black
 * or parent-pointer rule is broken below it.
 */
static int black_height(const struct rb_node *n, const struct rb_node *parent, int *count,
			const char **why)
{
	int l, r;

	if (!n)
		return 1;
	if (rb_parent(n) != parent) {
		*why = "parent pointer";
		return -1;
	}
	if (rb_red(n) && ((n->left && rb_red(n->left)) || (n->right && rb_red(n->right)))) {
		*why = "red node with red child";
		return -1;
	}
	(*count)++;
	l = black_height(n->left, n, count, why);
	if (l < 0)
		return -1;
	r = black_height(n->right, n, count, why);
	if (r < 0)
		return -1;
	if (l != r) {
		*why = "unequal black height";
		return -1;
	}
	return l + !rb_red(n);
}

/* Structure, then rb_first/rb_next order against the model.  NULL if fine. */
static const char *verify(const struct rb_root *root)
{
	const char *why = NULL;
	const struct rb_node *n;
	int count = 0, i = 0;

	if (root->node && rb_red(root->node))
		return "red root";
	if (black_height(root->node, NULL, &count, &why) < 0)
		return why;
	if (count != nmodel)
		return "node count differs from model";
	rb_for_each(n, root)
	{
		if (i >= nmodel || rb_entry(n, struct item, node) != model[i])
			return "in-order walk differs from model";
		i++;
	}
	return i == nmodel ? NULL : "in-order walk incomplete";
}

static void do_insert(struct rb_root *root, struct item *it)
{
	it->key = rnd_below(KEY_RANGE);
	it->seq = next_seq++;
	it->in_tree = true;
	rb_add(&it->node, root, item_less);
	model_insert(it);
}

static void do_erase(struct rb_root *root, struct item *it)
{
	rb_erase(&it->node, root);
	it->in_tree = false;
	model_erase(it);
}

/* rb_find() finds a node with the key exactly when the model has one. */
static const char *do_find(const struct rb_root *root)
{
	int key = rnd_below(KEY_RANGE);
	struct rb_node *n = rb_find(&key, root, item_cmp);

	if (!n)
		return model_has_key(key) ? "rb_find missed a present key" : NULL;
	if (rb_entry(n, struct item, node)->key != key)
		return "rb_find returned a node with another key";
	if (!rb_entry(n, struct item, node)->in_tree)
		return "rb_find returned an erased node";
	return NULL;
}

/* A random item not in the tree; the tree is not full. */
static struct item *free_item(void)
{
	int i = rnd_below(MAX_ITEMS);

	while (items[i].in_tree)
		i = (i + 1) % MAX_ITEMS;
	return &items[i];
}

/*
 * @ops random operations: a fifth are finds, and @insert_pct of the rest
 * insert.  Returns the first failure, or NULL.
 */
static const char *random_phase(struct rb_root *root, int ops, unsigned int insert_pct,
				int verify_every, int *at)
{
	const char *why;
	int i;

	for (i = 0; i < ops; i++) {
		*at = i;
		if (rnd_below(100) < 20) {
			why = do_find(root);
			if (why)
				return why;
		} else if (nmodel < MAX_ITEMS && (rnd_below(100) < insert_pct || nmodel == 0)) {
			do_insert(root, free_item());
		} else {
			do_erase(root, model[rnd_below(nmodel)]);
		}
		if (i % verify_every == 0) {
			why = verify(root);
			if (why)
				return why;
		}
	}
	return verify(root);
}

/* Forget the first @n items (the exhaustive runs use only a few). */
static void reset(struct rb_root *root, uint64_t seed, int n)
{
	*root = RB_ROOT;
	memset(items, 0, n * sizeof(items[0]));
	nmodel = 0;
	next_seq = 0;
	rng_state = seed;
}

/* Grow, churn, then shrink to empty: every phase of erase_fixup gets hit. */
static void test_random(uint64_t seed)
{
	struct rb_root root;
	const char *why;
	char name[64];
	int at = 0;

	reset(&root, seed, MAX_ITEMS);
	snprintf(name, sizeof(name), "rbtree_random_grow_seed%llu", (unsigned long long)seed);
	why = random_phase(&root, 20000, 85, 64, &at);
	CHECK(!why, name, "%s after op %d (size %d)", why, at, nmodel);
	snprintf(name, sizeof(name), "rbtree_random_grow_size_seed%llu", (unsigned long long)seed);
	CHECK(nmodel > MAX_ITEMS * 3 / 4, name, "tree only grew to %d", nmodel);

	snprintf(name, sizeof(name), "rbtree_random_churn_seed%llu", (unsigned long long)seed);
	why = random_phase(&root, 20000, 50, 64, &at);
	CHECK(!why, name, "%s after op %d (size %d)", why, at, nmodel);

	snprintf(name, sizeof(name), "rbtree_random_shrink_seed%llu", (unsigned long long)seed);
	why = random_phase(&root, 20000, 10, 64, &at);
	/* Drain what is left; a full verify is O(n), so not after every erase. */
	while (!why && nmodel) {
		do_erase(&root, model[rnd_below(nmodel)]);
		if (nmodel % 16 == 0)
			why = verify(&root);
	}
	CHECK(!why, name, "%s after op %d (size %d)", why, at, nmodel);
	snprintf(name, sizeof(name), "rbtree_random_empty_seed%llu", (unsigned long long)seed);
	CHECK(!root.node && !rb_first(&root), name, "root %s after erasing everything",
	      root.node ? "still has a node" : "has a first node");
}

/* Sorted input is the classic worst case for an unbalanced tree. */
static void test_sorted_inserts(bool descending)
{
	struct rb_root root;
	const char *why = NULL;
	int i;

	reset(&root, 1, MAX_ITEMS);
	for (i = 0; i < SORTED_ITEMS && !why; i++) {
		struct item *it = &items[i];

		it->key = descending ? SORTED_ITEMS - i : i;
		it->seq = next_seq++;
		it->in_tree = true;
		rb_add(&it->node, &root, item_less);
		model_insert(it);
		why = verify(&root);
	}
	CHECK(!why, descending ? "rbtree_descending_inserts" : "rbtree_ascending_inserts",
	      "%s at insert %d", why, i);
	/* Erase from the front: always rb_first(), so the tree drains leftward. */
	while (!why && nmodel) {
		do_erase(&root, rb_entry(rb_first(&root), struct item, node));
		why = verify(&root);
	}
	CHECK(!why, descending ? "rbtree_descending_drain" : "rbtree_ascending_drain",
	      "%s with %d left", why, nmodel);
}

static bool next_perm(int *p, int n)
{
	int i = n - 2, j = n - 1, t;

	while (i >= 0 && p[i] >= p[i + 1])
		i--;
	if (i < 0)
		return false;
	while (p[j] <= p[i])
		j--;
	t = p[i], p[i] = p[j], p[j] = t;
	for (i++, j = n - 1; i < j; i++, j--)
		t = p[i], p[i] = p[j], p[j] = t;
	return true;
}

/* One insertion order, then every erase order, verifying after each step. */
static const char *exhaustive_one(const int *ins, int n)
{
	int del[8], i;
	const char *why = NULL;

	for (i = 0; i < n; i++)
		del[i] = i;
	do {
		struct rb_root root;

		reset(&root, 1, n);
		for (i = 0; i < n && !why; i++) {
			struct item *it = &items[ins[i]];

			it->key = ins[i] / 2; /* pairs of equal keys */
			it->seq = next_seq++;
			it->in_tree = true;
			rb_add(&it->node, &root, item_less);
			model_insert(it);
			why = verify(&root);
		}
		for (i = 0; i < n && !why; i++) {
			do_erase(&root, &items[del[i]]);
			why = verify(&root);
		}
	} while (!why && next_perm(del, n));
	return why;
}

static void test_exhaustive(int n)
{
	int ins[8], i;
	const char *why = NULL;
	char name[64];

	for (i = 0; i < n; i++)
		ins[i] = i;
	do
		why = exhaustive_one(ins, n);
	while (!why && next_perm(ins, n));
	snprintf(name, sizeof(name), "rbtree_exhaustive_%d_nodes", n);
	CHECK(!why, name, "%s", why);
}

static void test_empty(void)
{
	struct rb_root root = RB_ROOT;
	int key = 3;

	CHECK(!rb_first(&root), "rbtree_empty_first", "rb_first of empty tree not NULL");
	CHECK(!rb_find(&key, &root, item_cmp), "rbtree_empty_find",
	      "rb_find in empty tree not NULL");
}

/* verify() itself must notice a broken tree, or the tests above prove nothing. */
static void test_verify_catches_breakage(void)
{
	struct rb_root root;
	struct rb_node *n;
	int i;

	reset(&root, 1, 3);
	for (i = 0; i < 3; i++) {
		items[i].key = i;
		items[i].seq = next_seq++;
		rb_add(&items[i].node, &root, item_less);
		model_insert(&items[i]);
	}
	CHECK(!verify(&root), "rbtree_verify_accepts_good", "%s", verify(&root));
	rb_set_red(root.node, true);
	CHECK(verify(&root), "rbtree_verify_catches_red_root", "not caught");
	rb_set_red(root.node, false);
	n = root.node->left;
	rb_set_red(n, !rb_red(n));
	CHECK(verify(&root), "rbtree_verify_catches_black_height", "not caught");
	rb_set_red(n, !rb_red(n));
	rb_set_parent(n, n);
	CHECK(verify(&root), "rbtree_verify_catches_parent", "not caught");
	rb_set_parent(n, root.node);
	model[0] = model[1];
	CHECK(verify(&root), "rbtree_verify_catches_order", "not caught");
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - rbtree_timeout: a tree operation did not return\n";

	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	/* A balancing bug tends to loop forever: fail instead of hanging. */
	signal(SIGALRM, on_alarm);
	alarm(30);

	test_verify_catches_breakage();
	test_empty();
	test_sorted_inserts(false);
	test_sorted_inserts(true);
	test_exhaustive(5);
	test_exhaustive(6);
	test_random(1);
	test_random(42);
	test_random(0x9e3779b97f4a7c15ULL);
	return check_exit();
}
