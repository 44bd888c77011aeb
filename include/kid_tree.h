/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * kcmp trees: dedupe kernel objects the way CRIU does.
 *
 * A red-black tree keyed by gen_id, a cheap id that differs whenever two
 * objects differ.  Each gen_id node roots a subtree of the distinct objects
 * that share that gen_id, ordered by kcmp(2), so kcmp runs only when gen_ids
 * are equal.  Every distinct object gets an abstract id: dense, in
 * first-seen order, never 0.
 *
 * The comparator is injectable so tests can force gen_id collisions and
 * errors; kid_kcmp() is the real one.
 */
#ifndef KID_TREE_H
#define KID_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "rbtree.h"

/* A holder of an object: kcmp(pid, other, type, idx, other_idx) reaches it. */
struct kid_key {
	uint64_t gen;
	pid_t pid;
	int idx; /* the fd for KCMP_FILE, else 0 */
};

/* What a comparator returns, or a negative errno. */
enum kid_order {
	KID_EQ = 0,
	KID_LT = 1,	   /* a sorts before b (kcmp's 1) */
	KID_GT = 2,	   /* kcmp's 2 */
	KID_UNORDERED = 3, /* different, but no order (kcmp's 3) */
};

typedef int (*kid_cmp_fn)(int type, const struct kid_key *a, const struct kid_key *b, void *arg);

struct kid_stats {
	uint64_t entries;    /* distinct objects in the tree */
	uint64_t collisions; /* objects inserted under an existing gen_id */
	uint64_t kcmp_calls; /* comparator calls */
	uint64_t errors;     /* comparator failures reported to the caller */
};

/* Where an entry is in its tree. */
enum kid_place {
	KID_OUT = 0, /* in no tree */
	KID_HEAD,    /* the first of its gen_id: a node of the gen_id tree */
	KID_SUB,     /* in its head's subtree, ordered by kcmp */
	KID_LIST,    /* on its head's list of objects kcmp could not order */
};

/*
 * One distinct object, embedded in whatever the caller keeps about it
 * (or taken from the tree's pool by kid_lookup_or_insert()).  The first
 * object of a gen_id is itself the gen_id node, as in CRIU, and carries
 * the others: with gen_ids nearly unique, a tree of 100k objects is 100k
 * nodes of 64 bytes, not 100k gen nodes plus 100k entries.
 */
struct kid_entry {
	struct rb_node node;	/* HEAD: in the gen_id tree; SUB: in the head's subtree */
	struct rb_root sub;	/* HEAD: the other objects of its gen_id, by kcmp */
	struct kid_entry *list; /* HEAD: the first object kcmp could not order; LIST: the next */
	struct kid_key key;
	uint32_t id;
	uint8_t place;	/* enum kid_place */
	uint8_t tag[3]; /* the caller's: packs into what would be padding */
};

static inline bool kid_in_tree(const struct kid_entry *e)
{
	return e->place != KID_OUT;
}

struct pool;

struct kid_tree {
	struct rb_root gens;
	int type; /* kcmp type: KCMP_FILE .. KCMP_SYSVSEM */
	kid_cmp_fn cmp;
	void *cmp_arg;
	uint32_t next_id;
	struct kid_stats stats;
	struct pool *pool; /* kid_lookup_or_insert()'s entries */
	/*
	 * After a comparator error: the entry that was being compared with.
	 * Either its holder or the caller's went away; the caller can tell
	 * with kid_holder_alive() and kid_rekey()/kid_remove() this one.
	 */
	struct kid_entry *failed;
};

void kid_tree_init(struct kid_tree *t, int type, kid_cmp_fn cmp, void *arg);
void kid_tree_destroy(struct kid_tree *t);

/*
 * Find the object @n->key names, or add @n as a new object (it gets the
 * next id).  On success returns 0 and sets *@out: @n itself if it was
 * added.  A comparator error is returned as a negative errno with the tree
 * unchanged: -ESRCH (task gone), -EBADF (fd closed), -EPERM.
 */
int kid_find_or_add(struct kid_tree *t, struct kid_entry *n, struct kid_entry **out);

/*
 * Take an object out of the tree (its last holder went away).  It keeps
 * its id, which is never given to another object of this tree.
 */
void kid_erase(struct kid_tree *t, struct kid_entry *e);

/*
 * The same with entries from the tree's own pool, for callers that keep
 * nothing else per object: -ENOMEM if no entry could be allocated.
 */
int kid_lookup_or_insert(struct kid_tree *t, const struct kid_key *key, struct kid_entry **out,
			 bool *is_new);
void kid_remove(struct kid_tree *t, struct kid_entry *e);

/*
 * Name the same object through another holder, for when the holder in the
 * key goes away but the object lives on.  The gen_id must not change.
 */
void kid_rekey(struct kid_entry *e, pid_t pid, int idx);

/* Is the holder a key names still there?  kcmp of the key with itself. */
bool kid_holder_alive(int type, const struct kid_key *key);

/* The real comparator: kcmp(2). */
int kid_kcmp(int type, const struct kid_key *a, const struct kid_key *b, void *arg);

#endif
