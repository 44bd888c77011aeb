// SPDX-License-Identifier: LGPL-2.1
/* Live sharing state; see live.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "live.h"

#define MAX_RETRIES 64
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void live_init(struct live_state *st)
{
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < KT_NR_KINDS; k++)
		kid_tree_init(&st->tree[k], k, NULL, NULL);
}

static struct live_task *hold_task(struct live_hold *h, int kind)
{
	return container_of(h - kind, struct live_task, hold[0]);
}

static struct kid_key hold_key(struct live_hold *h, int kind)
{
	if (kind == KT_FILE) {
		struct live_fd *f = container_of(h, struct live_fd, hold);

		return (struct kid_key){ f->rec.gen, (pid_t)f->table->key_tid, f->rec.fd };
	}
	return (struct kid_key){ hold_task(h, kind)->rec.gen[kind],
				 (pid_t)hold_task(h, kind)->rec.tid, 0 };
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

static struct live_obj *obj_new(int kind, struct kid_entry *e, pid_t key_tid)
{
	struct live_obj *obj = calloc(1, sizeof(*obj));

	if (!obj)
		return NULL;
	obj->kind = (uint8_t)kind;
	obj->e = e;
	e->priv = obj;
	if (kind == KT_FILES) {
		obj->table = calloc(1, sizeof(*obj->table));
		if (!obj->table) {
			free(obj);
			return NULL;
		}
		obj->table->obj = obj;
		obj->table->key_tid = (uint32_t)key_tid;
	}
	return obj;
}

/* The holder the entry is keyed by is gone: key it by a live one, or drop it. */
static void repair(struct live_state *st, int kind, struct kid_entry *e)
{
	struct live_obj *obj = e->priv;

	if (kid_holder_alive(kind, &e->key))
		return;
	for (struct live_hold *h = obj->holders; h; h = h->next) {
		struct kid_key k = hold_key(h, kind);

		if ((k.pid != e->key.pid || k.idx != e->key.idx) && kid_holder_alive(kind, &k)) {
			kid_rekey(e, k.pid, k.idx);
			return;
		}
	}
	kid_remove(&st->tree[kind], e);
	obj->e = NULL;
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

/* Link @h to the object its key names.  -ESRCH: the holder itself is gone. */
static int attach(struct live_state *st, int kind, struct live_hold *h)
{
	struct kid_key key = hold_key(h, kind);
	struct kid_entry *e;
	struct live_obj *obj;
	bool is_new;

	for (int tries = 0; tries < MAX_RETRIES; tries++) {
		int r = kid_lookup_or_insert(&st->tree[kind], &key, &e, &is_new);

		if (r == 0) {
			obj = is_new ? obj_new(kind, e, key.pid) : e->priv;
			if (!obj) {
				kid_remove(&st->tree[kind], e);
				return -ENOMEM;
			}
			hold_known(st, kind, obj, h);
			return 0;
		}
		if (r != -ESRCH && r != -EBADF && r != -EPERM && r != -EACCES)
			return r;
		if (!kid_holder_alive(kind, &key))
			return -ESRCH;
		repair(st, kind, st->tree[kind].failed);
	}
	return -EAGAIN;
}

static void detach(struct live_state *st, int kind, struct live_hold *h);

static void fd_free(struct live_state *st, struct live_fd *f)
{
	if (f->hold.obj)
		detach(st, KT_FILE, &f->hold);
	free(f);
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
		struct kid_entry *e = f && f->hold.obj ? f->hold.obj->e : NULL;

		if (e && (uint32_t)e->key.pid == old && e->key.idx == (int)i)
			kid_rekey(e, (pid_t)new_tid, (int)i);
	}
}

static void detach(struct live_state *st, int kind, struct live_hold *h)
{
	struct live_obj *obj = h->obj;
	struct kid_key key = hold_key(h, kind);

	note_holders_change(st, kind, obj);
	unlink_hold(h);
	if (!obj->nholders) {
		if (obj->e)
			kid_remove(&st->tree[kind], obj->e);
		if (obj->table)
			table_free(st, obj->table);
		free(obj->path);
		free(obj);
		return;
	}
	if (obj->table && obj->table->key_tid == (uint32_t)key.pid)
		table_rekey(obj->table, (uint32_t)hold_key(obj->holders, kind).pid);
	if (obj->e && obj->e->key.pid == key.pid && obj->e->key.idx == key.idx) {
		struct kid_key k = hold_key(obj->holders, kind);

		kid_rekey(obj->e, k.pid, k.idx);
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
	return t->hold[kind].obj && t->hold[kind].obj->e && !(rec->absent & (1u << kind)) &&
	       old->gen[kind] == rec->gen[kind];
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
		r = attach(st, k, &t->hold[k]);
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

/* @same: the object the slot's file is known to be (NULL: ask the kcmp tree) */
static int fill_slot(struct live_state *st, struct live_table *t, const struct kt_fd_rec *rec,
		     const char *path, struct live_obj *same)
{
	struct live_fd *f;
	int r;

	if ((uint32_t)rec->fd >= t->nslots && grow_slots(t, (uint32_t)rec->fd))
		return -ENOMEM;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	live_frag_stale(&t->json, rec->fd);
	f->rec = *rec;
	f->table = t;
	st->nfds++;
	if (same) {
		hold_known(st, KT_FILE, same, &f->hold);
		r = 0;
	} else {
		r = attach(st, KT_FILE, &f->hold);
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
	return src && src->rec.gen == rec->gen && src->hold.obj->e ? src->hold.obj : NULL;
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
		if (cur && cur->rec.gen == f->rec.gen) {
			/* the same held object (see unchanged()): refresh what moves */
			if (memcmp(&cur->rec, &f->rec, sizeof(f->rec))) {
				cur->rec = f->rec;
				live_frag_stale(&t->json, f->rec.fd);
			}
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

int live_fd_set_path(struct live_fd *f, const char *path)
{
	struct live_obj *obj = f->hold.obj;

	if (!obj || obj->path)
		return 0;
	obj->path = strdup(path);
	if (!obj->path)
		return -ENOMEM;
	/* every fd of the file shows it: their JSON is stale */
	for (struct live_hold *h = obj->holders; h; h = h->next) {
		struct live_fd *g = container_of(h, struct live_fd, hold);

		live_frag_stale(&g->table->json, g->rec.fd);
	}
	return 0;
}

uint32_t live_obj_id(const struct live_hold *h)
{
	return h->obj && h->obj->e ? h->obj->e->id : 0;
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

static uint32_t export_id(struct live_obj *obj, uint32_t *next)
{
	if (!obj->export_id)
		obj->export_id = ++*next;
	return obj->export_id;
}

static int export_table_fds(const struct live_task *t, struct kt_snapshot *s, uint32_t *next_file)
{
	struct live_table *tab = t->hold[KT_FILES].obj->table;

	for (uint32_t i = 0; i < tab->nslots; i++) {
		struct live_fd *f = tab->slot[i];
		struct kt_fd_rec rec;
		struct kt_fd *out;

		if (!f)
			continue;
		rec = f->rec;
		rec.tid = t->rec.tid;
		rec.tgid = t->rec.tgid;
		out = snapshot_add_fd(s, &rec, live_fd_path(f) ? live_fd_path(f) : "",
				      live_fd_path(f) ? strlen(live_fd_path(f)) : 0);
		if (!out)
			return -ENOMEM;
		out->id = export_id(f->hold.obj, next_file);
	}
	return 0;
}

static void reset_export_ids(const struct live_state *st)
{
	size_t pos = 0;
	uint32_t tid;
	void *v;

	while (u32map_next(&st->tasks, &pos, &tid, &v)) {
		struct live_task *t = v;

		for (int k = KT_VM; k < KT_NR_KINDS; k++)
			if (t->hold[k].obj)
				t->hold[k].obj->export_id = 0;
		if (t->hold[KT_FILES].obj) {
			struct live_table *tab = t->hold[KT_FILES].obj->table;

			for (uint32_t i = 0; i < tab->nslots; i++)
				if (tab->slot[i])
					tab->slot[i]->hold.obj->export_id = 0;
		}
	}
}

int live_to_snapshot(const struct live_state *st, struct kt_snapshot *s)
{
	uint32_t next[KT_NR_KINDS] = { 0 }, tid;
	size_t pos = 0;
	void *v;
	int r = 0;

	reset_export_ids(st);
	while (!r && u32map_next(&st->tasks, &pos, &tid, &v)) {
		struct live_task *t = v;
		struct kt_task *out = snapshot_add_task(s, &t->rec);

		if (!out)
			return -ENOMEM;
		for (int k = KT_VM; k < KT_NR_KINDS; k++)
			out->id[k] = t->hold[k].obj ? export_id(t->hold[k].obj, &next[k]) : 0;
		if (t->hold[KT_FILES].obj && table_reader(t->hold[KT_FILES].obj) == t)
			r = export_table_fds(t, s, &next[KT_FILE]);
	}
	if (!r)
		r = snapshot_index(s);
	for (size_t i = 0; i < s->ntasks; i++)
		s->tasks[i].reader = s->tasks[i].nfds > 0;
	for (int k = 0; k < KT_NR_KINDS; k++)
		s->kind_stats[k] = st->tree[k].stats;
	return r ? r : snapshot_renumber(s);
}
