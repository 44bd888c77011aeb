// SPDX-License-Identifier: LGPL-2.1
/*
 * Give every object in a snapshot its id, with one kcmp tree per kind.
 *
 * The system keeps moving while we compare: a task can exit or close an fd
 * between being read and being kcmp'd.  A failed comparison is resolved by
 * finding whose holder went away: if it is the new one, it is dropped; if
 * it is the tree entry's, the entry is re-keyed to another live holder of
 * the same object (or removed when none is left) and the insert retried.
 * A task kcmp may not look at (EPERM: no ptrace access, as for a sandbox's
 * init) is left out and counted, since its sharing cannot be confirmed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "snapshot.h"

#define MAX_RETRIES 64

/* Holders of each id, so a stale entry can be re-keyed to a live one. */
struct holders {
	uint32_t *head; /* by id: first holder + 1, 0 = none */
	uint32_t *next; /* by holder: next holder + 1 */
	size_t heads_cap;
};

struct dedupe {
	struct kt_snapshot *s;
	struct kid_tree tree;
	struct holders h;
	int kind;
};

static struct kid_key holder_key(const struct dedupe *d, uint32_t i)
{
	struct kid_key k;

	if (d->kind == KT_FILE) {
		const struct kt_fd *f = &d->s->fds[i];

		k.gen = f->rec.gen;
		k.pid = (pid_t)d->s->tasks[f->task].rec.tid;
		k.idx = f->rec.fd;
	} else {
		const struct kt_task *t = &d->s->tasks[i];

		k.gen = t->rec.gen[d->kind];
		k.pid = (pid_t)t->rec.tid;
		k.idx = 0;
	}
	return k;
}

static bool holder_dropped(const struct dedupe *d, uint32_t i)
{
	if (d->kind == KT_FILE)
		return d->s->fds[i].dropped || d->s->tasks[d->s->fds[i].task].dropped;
	return d->s->tasks[i].dropped;
}

static void drop_holder(struct dedupe *d, uint32_t i, int err)
{
	if (err == -EPERM || err == -EACCES) {
		if (d->kind == KT_FILE)
			i = d->s->fds[i].task;
		if (!d->s->tasks[i].dropped)
			d->s->inaccessible_tasks++;
		d->s->tasks[i].dropped = true;
		return;
	}
	if (d->kind == KT_FILE && err == -EBADF) {
		d->s->fds[i].dropped = true;
		d->s->dropped_fds++;
		return;
	}
	if (d->kind == KT_FILE)
		i = d->s->fds[i].task;
	if (!d->s->tasks[i].dropped)
		d->s->dropped_tasks++;
	d->s->tasks[i].dropped = true;
}

static int holders_add(struct holders *h, uint32_t id, uint32_t holder)
{
	if (id >= h->heads_cap) {
		size_t cap = h->heads_cap ? h->heads_cap * 2 : 1024;
		uint32_t *p;

		while (cap <= id)
			cap *= 2;
		p = realloc(h->head, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + h->heads_cap, 0, (cap - h->heads_cap) * sizeof(*p));
		h->head = p;
		h->heads_cap = cap;
	}
	h->next[holder] = h->head[id];
	h->head[id] = holder + 1;
	return 0;
}

/* The tree entry's holder is gone: name the object through another one. */
static void repair_entry(struct dedupe *d, struct kid_entry *e)
{
	int err = kid_kcmp(d->tree.type, &e->key, &e->key, NULL);

	if (err == KID_EQ)
		return; /* it is back to answering: a retry will tell */
	for (uint32_t h = d->h.head[e->id]; h; h = d->h.next[h - 1]) {
		struct kid_key k = holder_key(d, h - 1);

		if (k.pid == e->key.pid && k.idx == e->key.idx)
			drop_holder(d, h - 1, err);
		else if (!holder_dropped(d, h - 1) && kid_holder_alive(d->tree.type, &k)) {
			kid_rekey(e, k.pid, k.idx);
			return;
		}
	}
	kid_remove(&d->tree, e);
}

/* Returns the id (0 if the holder was dropped) or a negative errno. */
static long insert_holder(struct dedupe *d, uint32_t i)
{
	struct kid_key key = holder_key(d, i);
	struct kid_entry *e;
	bool is_new;
	int r;

	for (int tries = 0; tries < MAX_RETRIES; tries++) {
		int self;

		r = kid_lookup_or_insert(&d->tree, &key, &e, &is_new);
		if (r == 0) {
			r = holders_add(&d->h, e->id, i);
			return r < 0 ? r : (long)e->id;
		}
		if (r != -ESRCH && r != -EBADF && r != -EPERM && r != -EACCES)
			return r;
		/* whose holder failed: the new one (compare it with itself) or the entry's */
		self = kid_kcmp(d->tree.type, &key, &key, NULL);
		if (self != KID_EQ) {
			drop_holder(d, i, self < 0 ? self : r);
			return 0;
		}
		repair_entry(d, d->tree.failed);
	}
	return -EAGAIN;
}

static int dedupe_tasks(struct kt_snapshot *s, int kind, kid_cmp_fn cmp, void *arg)
{
	struct dedupe d = { .s = s, .kind = kind };
	int r = 0;

	d.h.next = calloc(s->ntasks + 1, sizeof(uint32_t));
	if (!d.h.next)
		return -ENOMEM;
	kid_tree_init(&d.tree, kind, cmp, arg);
	for (uint32_t i = 0; i < s->ntasks && r >= 0; i++) {
		struct kt_task *t = &s->tasks[i];
		long id = 0;

		if (!t->dropped && !(t->rec.absent & (1u << kind)))
			id = insert_holder(&d, i);
		if (id < 0)
			r = (int)id;
		else
			t->id[kind] = (uint32_t)id;
	}
	s->kind_stats[kind] = d.tree.stats;
	kid_tree_destroy(&d.tree);
	free(d.h.head);
	free(d.h.next);
	return r;
}

/*
 * One reader per fd table: tasks sharing a table (threads, CLONE_FILES)
 * would otherwise insert its fds once each.
 */
static int choose_readers(struct kt_snapshot *s)
{
	uint8_t *seen = calloc(s->ntasks + 2, 1);

	if (!seen)
		return -ENOMEM;
	for (size_t i = 0; i < s->ntasks; i++) {
		struct kt_task *t = &s->tasks[i];
		uint32_t files = t->id[KT_FILES];

		t->reader = !t->dropped && files && t->nfds && !seen[files];
		if (t->reader)
			seen[files] = 1;
	}
	free(seen);
	return 0;
}

static int dedupe_fds(struct kt_snapshot *s, kid_cmp_fn cmp, void *arg)
{
	struct dedupe d = { .s = s, .kind = KT_FILE };
	int r = 0;

	d.h.next = calloc(s->nfds + 1, sizeof(uint32_t));
	if (!d.h.next)
		return -ENOMEM;
	kid_tree_init(&d.tree, KT_FILE, cmp, arg);
	for (uint32_t i = 0; i < s->nfds && r >= 0; i++) {
		struct kt_fd *f = &s->fds[i];
		long id;

		if (f->dropped || !s->tasks[f->task].reader || s->tasks[f->task].dropped)
			continue;
		id = insert_holder(&d, i);
		if (id < 0)
			r = (int)id;
		else
			f->id = (uint32_t)id;
	}
	for (uint32_t i = 0; i < s->nfds; i++) {
		struct kt_fd *f = &s->fds[i];

		if (f->dropped || s->tasks[f->task].dropped || !s->tasks[f->task].reader)
			f->id = 0;
	}
	s->kind_stats[KT_FILE] = d.tree.stats;
	kid_tree_destroy(&d.tree);
	free(d.h.head);
	free(d.h.next);
	return r;
}

int snapshot_dedupe(struct kt_snapshot *s, kid_cmp_fn cmp, void *cmp_arg)
{
	uint64_t t0 = kt_now_ns();
	int r = 0;

	for (int kind = KT_VM; kind < KT_NR_KINDS && r >= 0; kind++)
		r = dedupe_tasks(s, kind, cmp, cmp_arg);
	/* a task dropped by a later kind must not keep ids of earlier ones */
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].dropped)
			memset(s->tasks[i].id, 0, sizeof(s->tasks[i].id));
	if (r >= 0)
		r = choose_readers(s);
	if (r >= 0)
		r = dedupe_fds(s, cmp, cmp_arg);
	/* tasks dropped while their fds were compared lose their other ids too */
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].dropped)
			memset(s->tasks[i].id, 0, sizeof(s->tasks[i].id));
	if (r >= 0)
		r = snapshot_renumber(s); /* removals during repairs leave holes */
	s->phase_ns[KT_PHASE_DEDUPE] += kt_now_ns() - t0;
	return r;
}
