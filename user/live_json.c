// SPDX-License-Identifier: LGPL-2.1
/* The daemon's JSON writer; see live_json.h.  Schema: docs/snapshot-schema.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "json_writer.h"
#include "live_json.h"
#include "util.h"

/* The tables in document order, each with the task it is read through. */
struct table_ref {
	struct live_table *tab;
	uint32_t tid, files_id;
};

struct order {
	struct live_task **tasks;
	size_t ntasks;
	struct table_ref *tables;
	size_t ntables;
};

/* A holder in a sharing group: sorted by object id, then document order. */
struct member {
	uint32_t id, pos, tid;
	int32_t fd;
};

/* Process by process, the leader first: the order a cold snapshot reads tasks in. */
static int task_cmp(const void *a, const void *b)
{
	const struct live_task *x = *(struct live_task *const *)a,
			       *y = *(struct live_task *const *)b;
	bool xl = x->rec.tid == x->rec.tgid, yl = y->rec.tid == y->rec.tgid;

	if (x->rec.tgid != y->rec.tgid)
		return x->rec.tgid < y->rec.tgid ? -1 : 1;
	if (xl != yl)
		return xl ? -1 : 1;
	return (x->rec.tid > y->rec.tid) - (x->rec.tid < y->rec.tid);
}

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* Tasks sorted; each table once, read through the first task holding it. */
static int order_build(struct order *o, const struct live_state *st, uint64_t serial)
{
	size_t pos = 0;
	uint32_t tid;
	void *v;

	memset(o, 0, sizeof(*o));
	o->tasks = malloc((st->tasks.len + 1) * sizeof(*o->tasks));
	o->tables = malloc((st->tasks.len + 1) * sizeof(*o->tables));
	if (!o->tasks || !o->tables)
		return -ENOMEM;
	while (u32map_next(&st->tasks, &pos, &tid, &v))
		o->tasks[o->ntasks++] = v;
	qsort(o->tasks, o->ntasks, sizeof(*o->tasks), task_cmp);
	for (size_t i = 0; i < o->ntasks; i++) {
		struct live_obj *files = o->tasks[i]->hold[KT_FILES].obj;

		if (!live_obj_tree_id(files) || files->table->json.seen == serial)
			continue;
		files->table->json.seen = serial;
		o->tables[o->ntables++] = (struct table_ref){ files->table, o->tasks[i]->rec.tid,
							      live_obj_tree_id(files) };
	}
	return 0;
}

static void order_free(struct order *o)
{
	free(o->tasks);
	free(o->tables);
}

/* A generator's output, with its first @skip_head and last @skip_tail bytes cut. */
static char *take_inner(struct jw *w, size_t skip_head, size_t skip_tail, size_t *len, int *err)
{
	char *buf = jw_take(w, len, err);

	if (!buf)
		return NULL;
	if (*len < skip_head + skip_tail) {
		free(buf);
		*err = -EINVAL;
		return NULL;
	}
	*len -= skip_head + skip_tail;
	memmove(buf, buf + skip_head, *len);
	return buf;
}

/* Slots [@first, @end) of the table as the members of an array: "{...},{...}". */
static int piece_make(struct live_piece *p, struct live_table *tab, const struct table_ref *ref,
		      uint32_t first, uint32_t end, void (*resolve_path)(struct live_fd *f))
{
	struct jw w;
	int r = jw_init(&w, NULL);
	char *buf;
	size_t len;

	if (r)
		return r;
	jw_open(&w, NULL, true);
	for (uint32_t i = first; i < end; i++) {
		struct live_fd *f = tab->slot[i];
		uint32_t id = f ? live_obj_tree_id(f->hold.obj) : 0;
		struct kt_fd_rec rec;

		if (!id)
			continue;
		if (!live_fd_path(f) && resolve_path)
			resolve_path(f); /* once: the piece is made after it */
		live_fd_rec(f, &rec);
		json_put_fd(&w, ref->tid, ref->files_id, id, &rec, live_fd_path(f));
	}
	jw_close(&w, true);
	buf = take_inner(&w, 1, 1, &len, &r);
	if (!buf)
		return r;
	free(p->buf);
	*p = (struct live_piece){ .buf = buf, .len = len, .valid = true };
	return 0;
}

/* Bring the table's pieces up to date; counts what was remade and what kept. */
static int table_pieces(struct live_table *tab, const struct table_ref *ref, uint64_t epoch,
			struct live_json_cache *c, void (*resolve_path)(struct live_fd *f))
{
	struct live_frag *fr = &tab->json;
	uint32_t need = (tab->nslots + LIVE_PIECE_SLOTS - 1) / LIVE_PIECE_SLOTS;
	int r = 0;

	if (need > fr->npieces) {
		struct live_piece *p = realloc(fr->pieces, need * sizeof(*p));

		if (!p)
			return -ENOMEM;
		memset(p + fr->npieces, 0, (need - fr->npieces) * sizeof(*p));
		fr->pieces = p;
		fr->npieces = need;
	}
	/* another reader, table id or id epoch: every piece names it */
	if (!fr->valid || fr->tid != ref->tid || fr->files_id != ref->files_id ||
	    fr->epoch != epoch) {
		for (uint32_t i = 0; i < fr->npieces; i++)
			fr->pieces[i].valid = false;
		fr->tid = ref->tid;
		fr->files_id = ref->files_id;
		fr->epoch = epoch;
		fr->valid = true;
	}
	for (uint32_t i = 0; i < fr->npieces && !r; i++) {
		uint32_t first = i * LIVE_PIECE_SLOTS, end = first + LIVE_PIECE_SLOTS;

		if (fr->pieces[i].valid) {
			c->pieces_kept++;
			continue;
		}
		r = piece_make(&fr->pieces[i], tab, ref, first,
			       end < tab->nslots ? end : tab->nslots, resolve_path);
		c->pieces_made++;
	}
	if (r)
		fr->valid = false;
	return r;
}

/* The objects with two or more of the @n holders in @m, by id; fd < 0: task holders. */
static void put_groups(struct jw *w, int kind, struct member *m, size_t n)
{
	if (n) /* qsort() wants a real array, even of none */
		qsort(m, n, sizeof(*m), member_cmp);
	jw_open(w, kt_kind_name(kind), true);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && m[j].id == m[i].id; j++)
			;
		if (j - i < 2)
			continue;
		jw_open(w, NULL, false);
		jw_key(w, "id");
		jw_int(w, m[i].id);
		jw_open(w, kind == KT_FILE ? "holders" : "tids", true);
		for (size_t k = i; k < j; k++) {
			if (kind != KT_FILE) {
				jw_int(w, m[k].tid);
				continue;
			}
			jw_open(w, NULL, false);
			jw_key(w, "tid");
			jw_int(w, m[k].tid);
			jw_key(w, "fd");
			jw_int(w, m[k].fd);
			jw_close(w, false);
		}
		jw_close(w, true);
		jw_close(w, false);
	}
	jw_close(w, true);
}

static void put_task_groups(struct jw *w, const struct order *o, int kind, struct member *m)
{
	size_t n = 0;

	for (size_t i = 0; i < o->ntasks; i++) {
		const struct live_obj *obj = o->tasks[i]->hold[kind].obj;

		if (obj && obj->nholders >= 2 && live_obj_tree_id(obj))
			m[n++] = (struct member){ live_obj_tree_id(obj), (uint32_t)i,
						  o->tasks[i]->rec.tid, -1 };
	}
	put_groups(w, kind, m, n);
}

static int put_file_groups(struct jw *w, const struct order *o)
{
	size_t n = 0, cap = 0;
	struct member *m = NULL;

	for (size_t t = 0; t < o->ntables; t++) {
		const struct live_table *tab = o->tables[t].tab;

		for (uint32_t i = 0; i < tab->nslots; i++) {
			const struct live_fd *f = tab->slot[i];

			if (!f || f->hold.obj->nholders < 2 || !live_obj_tree_id(f->hold.obj))
				continue;
			if (kt_grow((void **)&m, &cap, n + 1, sizeof(*m))) {
				free(m);
				return -ENOMEM;
			}
			m[n++] = (struct member){ live_obj_tree_id(f->hold.obj), (uint32_t)t,
						  o->tables[t].tid, (int32_t)i };
		}
	}
	put_groups(w, KT_FILE, m, n);
	free(m);
	return 0;
}

/* {"file": [...], "vm": [...], ...}: kept until the state changes. */
static int shared_member(struct live_json_cache *c, const struct live_state *st,
			 const struct order *o)
{
	struct member *m;
	struct jw w;
	int r;

	if (c->shared && c->version == st->shared_version)
		return 0;
	m = malloc((o->ntasks + 1) * sizeof(*m));
	r = m ? jw_init(&w, NULL) : -ENOMEM;
	if (r) {
		free(m);
		return r;
	}
	jw_open(&w, NULL, false);
	r = put_file_groups(&w, o);
	if (r)
		jw_fail(&w, r);
	for (int k = KT_VM; k < KT_NR_KINDS; k++)
		put_task_groups(&w, o, k, m);
	jw_close(&w, false);
	free(m);
	free(c->shared);
	c->shared = jw_take(&w, &c->shared_len, &r);
	c->version = st->shared_version;
	return c->shared ? 0 : r;
}

/* {"schema": ..., "taken_at_ns": N, "tasks": [...]  (the object left open) */
static char *head_piece(const struct live_json_doc *doc, const struct order *o, size_t *len,
			int *err)
{
	uint32_t ids[KT_NR_KINDS] = { 0 };
	struct jw w;

	*err = jw_init(&w, NULL);
	if (*err)
		return NULL;
	jw_open(&w, NULL, false);
	json_put_header(&w, "daemon", KT_GENID_ADDR, doc->target_desc, doc->taken_at_ns);
	jw_open(&w, "tasks", true);
	for (size_t i = 0; i < o->ntasks; i++) {
		for (int k = KT_VM; k < KT_NR_KINDS; k++)
			ids[k] = live_obj_tree_id(o->tasks[i]->hold[k].obj);
		json_put_task(&w, &o->tasks[i]->rec, ids);
	}
	jw_close(&w, true);
	return jw_take(&w, len, err);
}

/* ,"lost_events": N, "verification": {...}}  */
static char *tail_piece(const struct live_json_doc *doc, size_t *len, int *err)
{
	struct jw w;
	char *buf;

	*err = jw_init(&w, NULL);
	if (*err)
		return NULL;
	jw_open(&w, NULL, false);
	jw_key(&w, "lost_events");
	jw_u64(&w, doc->lost_events);
	if (doc->verification)
		json_put_verification(&w, doc->verification);
	jw_close(&w, false);
	buf = jw_take(&w, len, err);
	if (buf)
		buf[0] = ','; /* continues the document's object */
	return buf;
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static int assemble(const struct order *o, const struct live_json_cache *c, const char *head,
		    size_t head_len, const char *tail, size_t tail_len, char **out, size_t *len)
{
	static const char fds_open[] = ",\"fds\":[", fds_close[] = "],\"shared\":";
	bool first = true;
	size_t total = head_len + sizeof(fds_open) + sizeof(fds_close) + c->shared_len + tail_len +
		       1;
	char *p;

	for (size_t t = 0; t < o->ntables; t++)
		for (uint32_t i = 0; i < o->tables[t].tab->json.npieces; i++)
			total += o->tables[t].tab->json.pieces[i].len + 1;
	*out = p = malloc(total);
	if (!p)
		return -ENOMEM;
	p = put(p, head, head_len);
	p = put(p, fds_open, sizeof(fds_open) - 1);
	for (size_t t = 0; t < o->ntables; t++) {
		const struct live_frag *fr = &o->tables[t].tab->json;

		for (uint32_t i = 0; i < fr->npieces; i++) {
			if (!fr->pieces[i].len)
				continue;
			if (!first)
				*p++ = ',';
			first = false;
			p = put(p, fr->pieces[i].buf, fr->pieces[i].len);
		}
	}
	p = put(p, fds_close, sizeof(fds_close) - 1);
	p = put(p, c->shared, c->shared_len);
	p = put(p, tail, tail_len);
	*p++ = '\n';
	*len = (size_t)(p - *out);
	return 0;
}

int live_json_write(struct live_state *st, struct live_json_cache *c,
		    const struct live_json_doc *doc, char **out, size_t *len)
{
	char *head = NULL, *tail = NULL;
	size_t head_len = 0, tail_len = 0;
	struct order o;
	int r = order_build(&o, st, ++c->serial);

	for (size_t t = 0; !r && t < o.ntables; t++)
		r = table_pieces(o.tables[t].tab, &o.tables[t], st->id_epoch, c, doc->resolve_path);
	if (!r)
		r = shared_member(c, st, &o);
	if (!r)
		head = head_piece(doc, &o, &head_len, &r);
	if (!r)
		tail = tail_piece(doc, &tail_len, &r);
	if (!r)
		r = assemble(&o, c, head, head_len, tail, tail_len, out, len);
	free(head);
	free(tail);
	order_free(&o);
	return r;
}

void live_json_cache_free(struct live_json_cache *c)
{
	free(c->shared);
	memset(c, 0, sizeof(*c));
}

void live_json_forget(struct live_state *st, struct live_json_cache *c)
{
	size_t pos = 0;
	uint32_t tid;
	void *v;

	while (u32map_next(&st->tasks, &pos, &tid, &v)) {
		struct live_obj *files = ((struct live_task *)v)->hold[KT_FILES].obj;

		if (files)
			files->table->json.valid = false;
	}
	free(c->shared);
	c->shared = NULL;
}
