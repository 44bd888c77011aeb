// SPDX-License-Identifier: LGPL-2.1
/* Live sharing state; see live.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "live.h"

#define MAX_RETRIES 64

/* Stands for a path the kernel makes from the inode number (live_fd_path()). */
static const char path_by_ino[] = "";
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void live_init(struct live_state *st)
{
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < KT_NR_KINDS; k++)
		kid_tree_init(&st->tree[k], k, NULL, NULL);
	pool_init(&st->objs, sizeof(struct live_obj));
	pool_init(&st->fds, sizeof(struct live_fd));
}

static struct live_task *hold_task(struct live_hold *h, int kind)
{
	return container_of(h - kind, struct live_task, hold[0]);
}

static struct kid_key fd_key(const struct live_fd *f, uint64_t gen)
{
	return (struct kid_key){ gen, (pid_t)f->table->key_tid, f->fd };
}

static struct kid_key task_key(const struct live_task *t, int kind)
{
	return (struct kid_key){ t->rec.gen[kind], (pid_t)t->rec.tid, 0 };
}

/* How @h, linked to its object, names it to kcmp. */
static struct kid_key hold_key(struct live_hold *h, int kind)
{
	if (kind == KT_FILE)
		return fd_key(live_hold_fd(h), h->obj->e.key.gen);
	return task_key(hold_task(h, kind), kind);
}

static struct live_obj *entry_obj(struct kid_entry *e)
{
	return container_of(e, struct live_obj, e);
}

static void link_hold(struct live_obj *obj, struct live_hold *h)
{
	h->obj = obj;
	h->prev = NULL;
	h->next = obj->holders;
	if (obj->holders)
		obj->holders->prev = h;
	obj->holders = h;
	obj->nholders++;
}

static void unlink_hold(struct live_hold *h)
{
	struct live_obj *obj = h->obj;

	if (h->prev)
		h->prev->next = h->next;
	else
		obj->holders = h->next;
	if (h->next)
		h->next->prev = h->prev;
	obj->nholders--;
	h->obj = NULL;
	h->prev = h->next = NULL;
}

/* A new object's own parts: an fd table has one. */
static int obj_init(struct live_state *st, int kind, struct live_obj *obj)
{
	if (kind != KT_FILES)
		return 0;
	obj->table = calloc(1, sizeof(*obj->table));
	if (!obj->table)
		return -ENOMEM;
	obj->table->obj = obj;
	obj->table->st = st;
	obj->table->key_tid = (uint32_t)obj->e.key.pid;
	return 0;
}

/* The holder the entry is keyed by is gone: key it by a live one, or drop it. */
static void repair(struct live_state *st, int kind, struct kid_entry *e)
{
	struct live_obj *obj = entry_obj(e);

	if (kid_holder_alive(kind, &e->key))
		return;
	for (struct live_hold *h = obj->holders; h; h = h->next) {
		struct kid_key k = hold_key(h, kind);

		if ((k.pid != e->key.pid || k.idx != e->key.idx) && kid_holder_alive(kind, &k)) {
			kid_rekey(e, k.pid, k.idx);
			return;
		}
	}
	kid_erase(&st->tree[kind], e);
	st->id_epoch++;
	st->shared_version++;
}

/*
 * Sharing changes when a shared object gains or loses a holder, or a task
 * changes hands (it may be the reader that names a table's fds); an
 * unshared fd opened and closed again leaves it as it was.
 */
static void note_holders_change(struct live_state *st, int kind, const struct live_obj *obj)
{
	if (kind != KT_FILE || obj->nholders >= 2)
		st->shared_version++;
}

static void hold_known(struct live_state *st, int kind, struct live_obj *obj, struct live_hold *h)
{
	link_hold(obj, h);
	note_holders_change(st, kind, obj);
}

/*
 * Link @h to the object @key names, a new one if the tree has none.
 * -ESRCH: the holder itself is gone.
 */
static int attach(struct live_state *st, int kind, struct live_hold *h, const struct kid_key *key)
{
	struct live_obj *n = pool_get(&st->objs);
	struct kid_entry *e;
	int r = -EAGAIN;

	if (!n)
		return -ENOMEM;
	n->e.key = *key;
	for (int tries = 0; tries < MAX_RETRIES; tries++) {
		r = kid_find_or_add(&st->tree[kind], &n->e, &e);
		if (r == 0)
			break;
		if (r != -ESRCH && r != -EBADF && r != -EPERM && r != -EACCES)
			break;
		if (!kid_holder_alive(kind, key)) {
			r = -ESRCH;
			break;
		}
		repair(st, kind, st->tree[kind].failed);
		r = -EAGAIN;
	}
	if (!r && e == &n->e && (r = obj_init(st, kind, n)))
		kid_erase(&st->tree[kind], e);
	if (r || e != &n->e)
		pool_put(&st->objs, n);
	if (!r)
		hold_known(st, kind, entry_obj(e), h);
	return r;
}

static void detach(struct live_state *st, int kind, struct live_hold *h);

static void fd_free(struct live_state *st, struct live_fd *f)
{
	if (f->hold.obj)
		detach(st, KT_FILE, &f->hold);
	pool_put(&st->fds, f);
	st->nfds--;
}

static void table_free(struct live_state *st, struct live_table *t)
{
	for (uint32_t i = 0; i < t->nslots; i++)
		if (t->slot[i])
			fd_free(st, t->slot[i]);
	free(t->slot);
	for (uint32_t i = 0; i < t->json.npieces; i++)
		free(t->json.pieces[i].buf);
	free(t->json.pieces);
	free(t);
}

/* The table's key holder left: name its fds to kcmp through another holder. */
static void table_rekey(struct live_table *t, uint32_t new_tid)
{
	uint32_t old = t->key_tid;

	t->key_tid = new_tid;
	for (uint32_t i = 0; i < t->nslots; i++) {
		struct live_fd *f = t->slot[i];
		struct kid_entry *e = f ? &f->hold.obj->e : NULL;

		if (e && kid_in_tree(e) && (uint32_t)e->key.pid == old && e->key.idx == (int)i)
			kid_rekey(e, (pid_t)new_tid, (int)i);
	}
}

static void obj_free(struct live_state *st, int kind, struct live_obj *obj)
{
	kid_erase(&st->tree[kind], &obj->e);
	if (kind == KT_FILES)
		table_free(st, obj->table);
	else if (kind == KT_FILE && obj->path && obj->path != path_by_ino)
		path_unintern(&st->paths, obj->path);
	pool_put(&st->objs, obj);
}

static void detach(struct live_state *st, int kind, struct live_hold *h)
{
	struct live_obj *obj = h->obj;
	struct kid_key key = hold_key(h, kind);

	note_holders_change(st, kind, obj);
	unlink_hold(h);
	if (!obj->nholders) {
		obj_free(st, kind, obj);
		return;
	}
	if (kind == KT_FILES && obj->table->key_tid == (uint32_t)key.pid)
		table_rekey(obj->table, (uint32_t)hold_key(obj->holders, kind).pid);
	if (kid_in_tree(&obj->e) && obj->e.key.pid == key.pid && obj->e.key.idx == key.idx) {
		struct kid_key k = hold_key(obj->holders, kind);

		kid_rekey(&obj->e, k.pid, k.idx);
	}
}

struct live_task *live_task_get(const struct live_state *st, uint32_t tid)
{
	return u32map_get(&st->tasks, tid);
}

void live_task_remove(struct live_state *st, uint32_t tid)
{
	struct live_task *t = u32map_del(&st->tasks, tid);

	if (!t)
		return;
	for (int k = KT_VM; k < KT_NR_KINDS; k++)
		if (t->hold[k].obj)
			detach(st, k, &t->hold[k]);
	free(t);
}

/*
 * While a task holds an object its address cannot be reused, so an
 * unchanged gen_id of a held object is the same object: no kcmp needed.
 */
static bool unchanged(const struct live_task *t, const struct kt_task_rec *old,
		      const struct kt_task_rec *rec, int kind)
{
	return t->hold[kind].obj && kid_in_tree(&t->hold[kind].obj->e) &&
	       !(rec->absent & (1u << kind)) && old->gen[kind] == rec->gen[kind];
}

int live_task_update(struct live_state *st, const struct kt_task_rec *rec, bool *new_table)
{
	struct live_task *t = live_task_get(st, rec->tid);
	struct kt_task_rec old;
	int r = 0;

	*new_table = false;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t || u32map_put(&st->tasks, rec->tid, t)) {
			free(t);
			return -ENOMEM;
		}
	}
	old = t->rec;
	t->rec = *rec;
	for (int k = KT_VM; k < KT_NR_KINDS && !r; k++) {
		if (unchanged(t, &old, rec, k))
			continue;
		if (t->hold[k].obj)
			detach(st, k, &t->hold[k]);
		if (rec->absent & (1u << k))
			continue;
		struct kid_key key = task_key(t, k);

		r = attach(st, k, &t->hold[k], &key);
		if (!r && k == KT_FILES && t->hold[k].obj->nholders == 1)
			*new_table = true;
	}
	if (r)
		live_task_remove(st, rec->tid);
	return r;
}

static struct live_table *table_of(const struct live_state *st, uint32_t tid)
{
	struct live_task *t = live_task_get(st, tid);

	return t && t->hold[KT_FILES].obj ? t->hold[KT_FILES].obj->table : NULL;
}

struct live_fd *live_fd_get(const struct live_state *st, uint32_t tid, int fd)
{
	struct live_table *t = table_of(st, tid);

	return t && fd >= 0 && (uint32_t)fd < t->nslots ? t->slot[fd] : NULL;
}

static int grow_slots(struct live_table *t, uint32_t fd)
{
	uint32_t n = t->nslots ? t->nslots : 64;
	struct live_fd **p;

	while (n <= fd)
		n *= 2;
	p = realloc(t->slot, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + t->nslots, 0, (n - t->nslots) * sizeof(*p));
	t->slot = p;
	t->nslots = n;
	return 0;
}

static void clear_slot(struct live_state *st, struct live_table *t, int fd)
{
	if ((uint32_t)fd < t->nslots && t->slot[fd]) {
		live_frag_stale(&t->json, fd);
		fd_free(st, t->slot[fd]);
		t->slot[fd] = NULL;
		t->nfds--;
	}
}

/* The daemon's JSON of every fd of the file @obj is stale. */
static void obj_pieces_stale(const struct live_obj *obj)
{
	for (struct live_hold *h = obj->holders; h; h = h->next)
		live_frag_stale(&live_hold_fd(h)->table->json, live_hold_fd(h)->fd);
}

/* The file's description as @rec has it; every fd of it shows the change. */
static void obj_set_info(struct live_obj *obj, const struct kt_fd_rec *rec)
{
	if (obj->ino == rec->ino && obj->pos == rec->pos && obj->dev == rec->dev &&
	    obj->flags == rec->flags && obj->mode == rec->mode && obj->ftype == rec->ftype)
		return;
	obj->ino = rec->ino;
	obj->pos = rec->pos;
	obj->dev = rec->dev;
	obj->flags = rec->flags;
	obj->mode = (uint16_t)rec->mode;
	obj->ftype = rec->ftype;
	obj_pieces_stale(obj);
}

void live_fd_rec(const struct live_fd *f, struct kt_fd_rec *rec)
{
	const struct live_obj *obj = f->hold.obj;

	memset(rec, 0, sizeof(*rec));
	rec->rec_type = KT_REC_FD;
	rec->tid = f->table->key_tid;
	rec->fd = f->fd;
	rec->gen = obj->e.key.gen;
	rec->ino = obj->ino;
	rec->pos = obj->pos;
	rec->dev = obj->dev;
	rec->flags = obj->flags;
	rec->mode = obj->mode;
	rec->ftype = obj->ftype;
}

/* @same: the object the slot's file is known to be (NULL: ask the kcmp tree) */
static int fill_slot(struct live_state *st, struct live_table *t, const struct kt_fd_rec *rec,
		     const char *path, struct live_obj *same)
{
	struct live_fd *f;
	int r;

	if ((uint32_t)rec->fd >= t->nslots && grow_slots(t, (uint32_t)rec->fd))
		return -ENOMEM;
	f = pool_get(&st->fds);
	if (!f)
		return -ENOMEM;
	live_frag_stale(&t->json, rec->fd);
	f->fd = rec->fd;
	f->table = t;
	st->nfds++;
	if (same) {
		hold_known(st, KT_FILE, same, &f->hold);
		r = 0;
	} else {
		struct kid_key key = fd_key(f, rec->gen);

		r = attach(st, KT_FILE, &f->hold, &key);
	}
	if (r) {
		fd_free(st, f);
		if (r != -ESRCH)
			return r;
		st->dropped++; /* closed again before we got here: a later event says so */
		return 0;
	}
	t->slot[rec->fd] = f;
	t->nfds++;
	obj_set_info(f->hold.obj, rec);
	return path && *path ? live_fd_set_path(f, path) : 0;
}

int live_fd_set(struct live_state *st, uint32_t tid, int fd, const struct kt_fd_rec *rec,
		const char *path)
{
	return live_fd_set_same(st, tid, fd, rec, path, -1);
}

/*
 * Our record of slot @same_as names the object the kernel found there
 * only if it has the same gen_id: the kernel's slot held the file whose
 * address hashes to it, and an object we hold keeps its address.
 */
static struct live_obj *known_same(struct live_table *t, const struct kt_fd_rec *rec, int same_as)
{
	struct live_fd *src;

	if (same_as < 0 || same_as == rec->fd || (uint32_t)same_as >= t->nslots)
		return NULL;
	src = t->slot[same_as];
	return src && src->hold.obj->e.key.gen == rec->gen && kid_in_tree(&src->hold.obj->e)
		       ? src->hold.obj
		       : NULL;
}

int live_fd_set_same(struct live_state *st, uint32_t tid, int fd, const struct kt_fd_rec *rec,
		     const char *path, int same_as)
{
	struct live_table *t = table_of(st, tid);
	struct live_obj *same;

	if (!t || fd < 0)
		return -ESRCH;
	same = rec ? known_same(t, rec, same_as) : NULL;
	clear_slot(st, t, fd);
	return rec ? fill_slot(st, t, rec, path, same) : 0;
}

int live_table_replace(struct live_state *st, uint32_t tid, const struct kt_snapshot *scan)
{
	struct live_table *t = table_of(st, tid);
	long ti = snapshot_find_tid(scan, tid);
	uint32_t old_n;
	uint8_t *keep;
	int r = 0;

	if (!t)
		return -ESRCH;
	old_n = t->nslots;
	keep = calloc(old_n + 1, 1);
	if (!keep)
		return -ENOMEM;
	for (uint32_t k = 0; ti >= 0 && k < scan->tasks[ti].nfds && !r; k++) {
		const struct kt_fd *f = &scan->fds[scan->tasks[ti].first_fd + k];
		struct live_fd *cur = live_fd_get(st, tid, f->rec.fd);

		if ((uint32_t)f->rec.fd < old_n)
			keep[f->rec.fd] = 1;
		if (cur && cur->hold.obj->e.key.gen == f->rec.gen) {
			/* the same held object (see unchanged()): refresh what moves */
			obj_set_info(cur->hold.obj, &f->rec);
			if (!live_fd_path(cur) && f->path_off)
				r = live_fd_set_path(cur, snapshot_path(scan, f));
			continue;
		}
		r = live_fd_set(st, tid, f->rec.fd, &f->rec, snapshot_path(scan, f));
	}
	/* slots past old_n were all filled from the scan just now */
	for (uint32_t i = 0; !r && i < old_n; i++)
		if (t->slot[i] && !keep[i])
			clear_slot(st, t, (int)i);
	free(keep);
	return r;
}

static bool by_ino_path(const struct live_obj *obj, char *buf, size_t len)
{
	const char *prefix = obj->ftype == KT_FT_SOCK	? "socket"
			     : obj->ftype == KT_FT_FIFO ? "pipe"
							: NULL;

	return prefix && snprintf(buf, len, "%s:[%llu]", prefix, (unsigned long long)obj->ino) > 0;
}

const char *live_fd_path(const struct live_fd *f)
{
	static __thread char buf[48];
	const struct live_obj *obj = f->hold.obj;

	if (!obj || obj->path != path_by_ino)
		return obj ? obj->path : NULL;
	return by_ino_path(obj, buf, sizeof(buf)) ? buf : NULL;
}

int live_fd_set_path(struct live_fd *f, const char *path)
{
	struct live_obj *obj = f->hold.obj;
	char made[48];

	if (!obj || obj->path)
		return 0;
	if (by_ino_path(obj, made, sizeof(made)) && !strcmp(made, path))
		obj->path = path_by_ino; /* every socket and pipe has its own: nothing to share */
	else
		obj->path = path_intern(&f->table->st->paths, path);
	if (!obj->path)
		return -ENOMEM;
	obj_pieces_stale(obj); /* every fd of the file shows it */
	return 0;
}

uint32_t live_obj_id(const struct live_hold *h)
{
	return live_obj_tree_id(h->obj);
}

struct kid_stats live_stats(const struct live_state *st)
{
	struct kid_stats sum = { 0 };

	for (int k = 0; k < KT_NR_KINDS; k++) {
		sum.entries += st->tree[k].stats.entries;
		sum.collisions += st->tree[k].stats.collisions;
		sum.kcmp_calls += st->tree[k].stats.kcmp_calls;
		sum.errors += st->tree[k].stats.errors;
	}
	return sum;
}

void live_free(struct live_state *st)
{
	uint32_t tid;
	void *v;
	size_t pos = 0;
	uint32_t *tids = calloc(st->tasks.len + 1, sizeof(*tids));
	size_t n = 0;

	while (tids && u32map_next(&st->tasks, &pos, &tid, &v))
		tids[n++] = tid;
	for (size_t i = 0; i < n; i++)
		live_task_remove(st, tids[i]);
	free(tids);
	u32map_free(&st->tasks);
	for (int k = 0; k < KT_NR_KINDS; k++)
		kid_tree_destroy(&st->tree[k]);
	pool_destroy(&st->objs);
	pool_destroy(&st->fds);
	path_intern_free(&st->paths);
}

/* ---- export ---- */

/* The holder a snapshot would read a table through: the first in task order. */
static const struct live_task *table_reader(const struct live_obj *files)
{
	const struct live_task *best = NULL;

	for (struct live_hold *h = files->holders; h; h = h->next) {
		const struct live_task *t = hold_task(h, KT_FILES);
		bool leader = t->rec.tid == t->rec.tgid;

		if (!best || t->rec.tgid < best->rec.tgid ||
		    (t->rec.tgid == best->rec.tgid &&
		     (leader || (best->rec.tid != best->rec.tgid && t->rec.tid < best->rec.tid))))
			best = t;
	}
	return best;
}

/* Dense export ids by tree id: ids of objects gone since are never reused. */
struct export_ids {
	struct u32map by_tree_id[KT_NR_KINDS];
	uint32_t next[KT_NR_KINDS];
	int err;
};

static uint32_t export_id(struct export_ids *x, int kind, const struct live_obj *obj)
{
	void *v = u32map_get(&x->by_tree_id[kind], obj->e.id);
	uint32_t id;

	if (v)
		return (uint32_t)(uintptr_t)v;
	id = ++x->next[kind];
	if (u32map_put(&x->by_tree_id[kind], obj->e.id, (void *)(uintptr_t)id))
		x->err = -ENOMEM;
	return id;
}

static int export_table_fds(const struct live_task *t, struct kt_snapshot *s, struct export_ids *x)
{
	struct live_table *tab = t->hold[KT_FILES].obj->table;

	for (uint32_t i = 0; i < tab->nslots; i++) {
		struct live_fd *f = tab->slot[i];
		struct kt_fd_rec rec;
		struct kt_fd *out;

		if (!f)
			continue;
		live_fd_rec(f, &rec);
		rec.tid = t->rec.tid;
		rec.tgid = t->rec.tgid;
		out = snapshot_add_fd(s, &rec, live_fd_path(f) ? live_fd_path(f) : "",
				      live_fd_path(f) ? strlen(live_fd_path(f)) : 0);
		if (!out)
			return -ENOMEM;
		out->id = export_id(x, KT_FILE, f->hold.obj);
	}
	return x->err;
}

int live_to_snapshot(const struct live_state *st, struct kt_snapshot *s)
{
	struct export_ids x = { 0 };
	uint32_t tid;
	size_t pos = 0;
	void *v;
	int r = 0;

	while (!r && u32map_next(&st->tasks, &pos, &tid, &v)) {
		struct live_task *t = v;
		struct kt_task *out = snapshot_add_task(s, &t->rec);

		if (!out) {
			r = -ENOMEM;
			break;
		}
		for (int k = KT_VM; k < KT_NR_KINDS; k++)
			out->id[k] = t->hold[k].obj ? export_id(&x, k, t->hold[k].obj) : 0;
		r = x.err;
		if (!r && t->hold[KT_FILES].obj && table_reader(t->hold[KT_FILES].obj) == t)
			r = export_table_fds(t, s, &x);
	}
	for (int k = 0; k < KT_NR_KINDS; k++)
		u32map_free(&x.by_tree_id[k]);
	if (!r)
		r = snapshot_index(s);
	for (size_t i = 0; !r && i < s->ntasks; i++)
		s->tasks[i].reader = s->tasks[i].nfds > 0;
	for (int k = 0; k < KT_NR_KINDS; k++)
		s->kind_stats[k] = st->tree[k].stats;
	return r ? r : snapshot_renumber(s);
}
