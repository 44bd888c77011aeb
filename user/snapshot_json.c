// SPDX-License-Identifier: LGPL-2.1
/*
 * Reading a snapshot document back (docs/snapshot-schema.md).
 *
 * yajl's event parser rather than its tree: a tree of 100k fds costs
 * hundreds of megabytes, and events come with the byte offset that every
 * message must name.  Each open object or array is a frame whose kind
 * says which fields it may hold; values are type-checked against the field
 * and stored as they arrive.  Cross-references (an fd's task) wait for the
 * end, since JSON leaves key order free (`jq -S` puts "fds" first).
 *
 * After the first error, parsing goes on only to find "schema" and
 * "version" if they are still unseen, so that a document of another
 * version is named as such whatever its layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>
#include "export.h"
#include "snapshot_json.h"

enum jtype {
	J_NULL = 1 << 0,
	J_BOOL = 1 << 1,
	J_INT = 1 << 2,
	J_DBL = 1 << 3,
	J_STR = 1 << 4,
	J_OBJ = 1 << 5,
	J_ARR = 1 << 6,
};

struct jval {
	unsigned type;
	long long i; /* J_INT, J_BOOL */
	double d;
	const char *s;
	size_t len;
};

enum frame_kind {
	F_ROOT,
	F_TASKS,
	F_TASK,
	F_IDS,
	F_NS,
	F_FDS,
	F_FD,
	F_STATS,
	F_PHASES,
	F_KINDS,
	F_KIND,
	F_SKIP, /* a value whose content is not read */
};

struct field {
	const char *name;
	unsigned types;
	unsigned char child; /* frame of an object or array value */
	bool optional;
};

#define FIELD(n, t)                   \
	{                             \
		.name = n, .types = t \
	}
#define NESTED(n, t, c)                           \
	{                                         \
		.name = n, .types = t, .child = c \
	}
#define OPTIONAL(n, t, c)                                           \
	{                                                           \
		.name = n, .types = t, .child = c, .optional = true \
	}

enum {
	R_SCHEMA,
	R_VERSION,
	R_BACKEND,
	R_GENID,
	R_TARGET,
	R_TAKEN_AT,
	R_TASKS,
	R_FDS,
	R_SHARED,
	R_LOST,
	R_STATS
};
static const struct field root_fields[] = {
	[R_SCHEMA] = FIELD("schema", J_STR),
	[R_VERSION] = FIELD("version", J_INT),
	[R_BACKEND] = FIELD("backend", J_STR),
	[R_GENID] = FIELD("genid", J_STR),
	[R_TARGET] = FIELD("target", J_STR),
	[R_TAKEN_AT] = FIELD("taken_at_ns", J_INT),
	[R_TASKS] = NESTED("tasks", J_ARR, F_TASKS),
	[R_FDS] = NESTED("fds", J_ARR, F_FDS),
	/* derived from the ids: recomputed by whoever needs it */
	[R_SHARED] = NESTED("shared", J_OBJ, F_SKIP),
	[R_LOST] = FIELD("lost_events", J_INT),
	[R_STATS] = OPTIONAL("stats", J_OBJ, F_STATS),
};

enum {
	T_TID,
	T_TGID,
	T_PPID,
	T_START,
	T_COMM,
	T_KTHREAD,
	T_EXITING,
	T_IDS,
	T_NS
};
static const struct field task_fields[] = {
	[T_TID] = FIELD("tid", J_INT),		[T_TGID] = FIELD("tgid", J_INT),
	[T_PPID] = FIELD("ppid", J_INT),	[T_START] = FIELD("start", J_INT),
	[T_COMM] = FIELD("comm", J_STR),	[T_KTHREAD] = FIELD("kthread", J_BOOL),
	[T_EXITING] = FIELD("exiting", J_BOOL), [T_IDS] = NESTED("ids", J_OBJ, F_IDS),
	[T_NS] = NESTED("ns", J_OBJ, F_NS),
};

enum {
	D_TID,
	D_FILES,
	D_FD,
	D_FILE,
	D_TYPE,
	D_PATH,
	D_FLAGS,
	D_POS,
	D_DEV,
	D_INO
};
static const struct field fd_fields[] = {
	[D_TID] = FIELD("tid", J_INT),	   [D_FILES] = FIELD("files", J_INT),
	[D_FD] = FIELD("fd", J_INT),	   [D_FILE] = FIELD("file", J_INT),
	[D_TYPE] = FIELD("type", J_STR),   [D_PATH] = OPTIONAL("path", J_STR, 0),
	[D_FLAGS] = FIELD("flags", J_INT), [D_POS] = FIELD("pos", J_INT),
	[D_DEV] = FIELD("dev", J_INT),	   [D_INO] = FIELD("ino", J_INT),
};

enum {
	S_TASKS,
	S_FDS,
	S_DROPPED_TASKS,
	S_DROPPED_FDS,
	S_INACCESSIBLE,
	S_PHASES,
	S_KINDS
};
static const struct field stats_fields[] = {
	[S_TASKS] = FIELD("tasks", J_INT),
	[S_FDS] = FIELD("fds", J_INT),
	[S_DROPPED_TASKS] = FIELD("dropped_tasks", J_INT),
	[S_DROPPED_FDS] = FIELD("dropped_fds", J_INT),
	[S_INACCESSIBLE] = FIELD("inaccessible_tasks", J_INT),
	[S_PHASES] = NESTED("phase_ms", J_OBJ, F_PHASES),
	[S_KINDS] = NESTED("kinds", J_OBJ, F_KINDS),
};

enum {
	K_ENTRIES,
	K_COLLISIONS,
	K_KCMP_CALLS,
	K_ERRORS
};
static const struct field kind_fields[] = {
	[K_ENTRIES] = FIELD("entries", J_INT),
	[K_COLLISIONS] = FIELD("collisions", J_INT),
	[K_KCMP_CALLS] = FIELD("kcmp_calls", J_INT),
	[K_ERRORS] = FIELD("errors", J_INT),
};

static const char *ids_name(int i)
{
	return kt_kind_name(KT_VM + i);
}

static const char *const phase_names[KT_NR_PHASES] = {
	[KT_PHASE_LOAD] = "load",
	[KT_PHASE_TASKS] = "tasks",
	[KT_PHASE_FDS] = "fds",
	[KT_PHASE_DEDUPE] = "dedupe",
};

const char *snapshot_json_phase_name(int phase)
{
	return phase >= 0 && phase < KT_NR_PHASES ? phase_names[phase] : "?";
}

/*
 * What a frame may hold: named fields, or (for the objects keyed by kind,
 * namespace or phase) names from util.c's tables, all of one type.
 */
struct frame_def {
	const struct field *fields;
	int nfields;
	const char *(*name)(int i);
	unsigned types;	     /* of every named value, or of array elements */
	unsigned char child; /* their frame */
};

#define FIELDS(f) .fields = f, .nfields = sizeof(f) / sizeof(f[0])
static const struct frame_def frame_defs[] = {
	[F_ROOT] = { FIELDS(root_fields) },
	[F_TASKS] = { .types = J_OBJ, .child = F_TASK },
	[F_TASK] = { FIELDS(task_fields) },
	[F_IDS] = { .nfields = KT_NR_KINDS - KT_VM, .name = ids_name, .types = J_INT | J_NULL },
	[F_NS] = { .nfields = KT_NR_NS, .name = kt_ns_name, .types = J_INT },
	[F_FDS] = { .types = J_OBJ, .child = F_FD },
	[F_FD] = { FIELDS(fd_fields) },
	[F_STATS] = { FIELDS(stats_fields) },
	[F_PHASES] = { .nfields = KT_NR_PHASES,
		       .name = snapshot_json_phase_name,
		       .types = J_INT | J_DBL },
	[F_KINDS] = { .nfields = KT_NR_KINDS,
		      .name = kt_kind_name,
		      .types = J_OBJ,
		      .child = F_KIND },
	[F_KIND] = { FIELDS(kind_fields) },
};

static bool is_array(int kind)
{
	return kind == F_TASKS || kind == F_FDS;
}

static const char *field_name(const struct frame_def *d, int i)
{
	return d->fields ? d->fields[i].name : d->name(i);
}

static unsigned field_types(const struct frame_def *d, int i)
{
	return d->fields ? d->fields[i].types : d->types;
}

static int field_child(const struct frame_def *d, int i)
{
	return d->fields ? d->fields[i].child : d->child;
}

static uint32_t required_mask(const struct frame_def *d)
{
	uint32_t mask = 0;

	for (int i = 0; i < d->nfields; i++)
		if (!d->fields || !d->fields[i].optional)
			mask |= 1u << i;
	return mask;
}

struct frame {
	unsigned char kind;
	signed char key;    /* field whose value comes next; -1: none, or one not read */
	unsigned char sub;  /* F_KIND: which kind */
	unsigned char next; /* field likely to come next */
	uint32_t seen;
	size_t count; /* arrays: elements so far */
};

#define MAX_FRAMES 8

struct reader {
	struct kt_snapshot *s;
	yajl_handle h;
	const char *buf, *name;
	size_t len;
	char *err;
	size_t err_len;
	int r;		/* first error */
	bool scan_only; /* after an error: looking for schema and version only */
	bool finishing; /* in yajl_complete_parse: offsets are the buffer's end */
	size_t depth;	/* open containers */
	size_t skip;	/* nesting inside a value not read */
	struct frame st[MAX_FRAMES];
	int nframes;
	int root_key; /* scan mode: R_SCHEMA, R_VERSION or -1 */
	bool schema_seen, schema_bad, version_seen;
	long long version;

	struct kt_task task; /* being read */
	struct kt_fd_rec fd;
	uint32_t fd_id, fd_files;
	char *path;
	size_t path_len, path_cap;
	uint32_t *files; /* per fd in document order: its "files" */
	size_t files_cap;
};

static const char *type_name(unsigned type)
{
	switch (type) {
	case J_NULL: return "null";
	case J_BOOL: return "a boolean";
	case J_INT: return "an integer";
	case J_DBL: return "a fractional number";
	case J_STR: return "a string";
	case J_OBJ: return "an object";
	default: return "an array";
	}
}

/* What a field wants, in words; null goes without saying. */
static const char *types_name(unsigned types)
{
	types &= ~J_NULL;
	return types == (J_INT | J_DBL) ? "a number" : type_name(types);
}

static size_t offset_now(const struct reader *rd)
{
	return rd->finishing ? rd->len : yajl_get_bytes_consumed(rd->h);
}

/* "tasks[3].ids.vm", from the frames open now. */
static void format_path(const struct reader *rd, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < rd->nframes && n < len; i++) {
		const struct frame *f = &rd->st[i];

		if (is_array(f->kind) && f->count)
			n += (size_t)snprintf(buf + n, len - n, "[%zu]", f->count - 1);
		else if (!is_array(f->kind) && f->key >= 0)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "." : "",
					      field_name(&frame_defs[f->kind], f->key));
	}
}

static void set_err(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct reader *rd, const char *fmt, ...)
{
	va_list ap;

	if (!rd->err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(rd->err, rd->err_len, fmt, ap);
	va_end(ap);
}

/* "A.json: line 1, column 35 (byte 34): " */
static void format_position(const struct reader *rd, size_t off, char *buf, size_t len)
{
	size_t line = 1, col = 1;

	for (size_t i = 0; i < off && i < rd->len; i++) {
		col++;
		if (rd->buf[i] == '\n') {
			line++;
			col = 1;
		}
	}
	snprintf(buf, len, "%s: line %zu, column %zu (byte %zu): ", rd->name, line, col, off);
}

/* Only the first error is told; later ones follow from it. */
static bool first_error(struct reader *rd, int err)
{
	if (rd->r)
		return false;
	rd->r = err;
	rd->scan_only = err != -ENOMEM && (!rd->version_seen || !rd->schema_seen);
	return true;
}

static bool fail(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct reader *rd, const char *fmt, ...)
{
	char pos[256], path[128], msg[256];
	va_list ap;

	if (!first_error(rd, -EINVAL))
		return false;
	format_position(rd, offset_now(rd), pos, sizeof(pos));
	format_path(rd, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(rd, "%s%s%s%s", pos, path, *path ? ": " : "", msg);
	return false;
}

static bool fail_nomem(struct reader *rd)
{
	if (first_error(rd, -ENOMEM))
		set_err(rd, "%s: out of memory", rd->name);
	return false;
}

static bool in_range(struct reader *rd, const struct jval *v, long long lo, long long hi)
{
	if (v->i >= lo && v->i <= hi)
		return true;
	return fail(rd, "%lld is out of range (%lld..%lld)", v->i, lo, hi);
}

static bool get_u32(struct reader *rd, const struct jval *v, long long lo, uint32_t *out)
{
	if (!in_range(rd, v, lo, UINT32_MAX))
		return false;
	*out = (uint32_t)v->i;
	return true;
}

/* Counters and times: the JSON integer range, which is signed. */
static bool get_u64(struct reader *rd, const struct jval *v, uint64_t *out)
{
	if (!in_range(rd, v, 0, LLONG_MAX))
		return false;
	if (out)
		*out = (uint64_t)v->i;
	return true;
}

static bool str_is(const struct jval *v, const char *str)
{
	return v->len == strlen(str) && !memcmp(v->s, str, v->len);
}

static bool no_nul(struct reader *rd, const struct jval *v)
{
	return !memchr(v->s, '\0', v->len) || fail(rd, "contains a NUL character");
}

/* The schema test comes first: another program's JSON is not a bad snapshot. */
static void note_schema(struct reader *rd, const struct jval *v)
{
	rd->schema_seen = true;
	rd->schema_bad = !str_is(v, KT_SCHEMA_NAME);
	if (rd->schema_bad)
		first_error(rd, -EINVAL);
}

static void note_version(struct reader *rd, const struct jval *v)
{
	rd->version_seen = true;
	rd->version = v->i;
	if (v->i != KT_SCHEMA_VERSION)
		first_error(rd, -EINVAL);
}

/* Static storage, so the snapshot does not own it. */
static const char *backend_name(const struct jval *v)
{
	static const char *const known[] = { "bpf", "procfs", "daemon", "live" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (str_is(v, known[i]))
			return known[i];
	return "json";
}

static bool set_root(struct reader *rd, int key, const struct jval *v)
{
	struct kt_snapshot *s = rd->s;

	switch (key) {
	case R_SCHEMA: note_schema(rd, v); break;
	case R_VERSION: note_version(rd, v); break;
	case R_BACKEND: s->backend = backend_name(v); break;
	case R_GENID:
		if (!str_is(v, "addr") && !str_is(v, "criu"))
			return fail(rd, "unknown gen_id scheme \"%.*s\"", (int)v->len, v->s);
		s->genid = str_is(v, "criu") ? KT_GENID_CRIU : KT_GENID_ADDR;
		break;
	case R_TARGET: snprintf(s->target, sizeof(s->target), "%.*s", (int)v->len, v->s); break;
	case R_TAKEN_AT: return get_u64(rd, v, &s->taken_at_ns);
	case R_LOST: return get_u64(rd, v, &s->lost_events);
	}
	return true;
}

static bool set_task(struct reader *rd, int key, const struct jval *v)
{
	struct kt_task_rec *r = &rd->task.rec;

	switch (key) {
	case T_TID: return get_u32(rd, v, 1, &r->tid);
	case T_TGID: return get_u32(rd, v, 1, &r->tgid);
	case T_PPID: return get_u32(rd, v, 0, &r->ppid);
	case T_START:
		if (!get_u64(rd, v, NULL))
			return false;
		r->start_ticks = (unsigned long long)v->i;
		return true;
	case T_COMM:
		if (v->len >= KT_COMM_LEN)
			return fail(rd, "longer than %d bytes", KT_COMM_LEN - 1);
		if (!no_nul(rd, v))
			return false;
		memcpy(r->comm, v->s, v->len);
		return true;
	case T_KTHREAD: r->flags |= v->i ? KT_TASK_KTHREAD : 0; return true;
	case T_EXITING: r->flags |= v->i ? KT_TASK_EXITING : 0; return true;
	}
	return true;
}

static bool set_id(struct reader *rd, int key, const struct jval *v)
{
	int kind = KT_VM + key;

	if (v->type == J_NULL) {
		rd->task.rec.absent |= 1u << kind;
		return true;
	}
	return get_u32(rd, v, 1, &rd->task.id[kind]);
}

static bool set_ftype(struct reader *rd, const struct jval *v)
{
	for (int t = 0; t < KT_FT_NR; t++) {
		if (str_is(v, kt_ftype_name(t))) {
			rd->fd.ftype = (unsigned short)t;
			return true;
		}
	}
	return fail(rd, "unknown file type \"%.*s\"", (int)v->len, v->s);
}

static bool set_path(struct reader *rd, const struct jval *v)
{
	if (v->len > USHRT_MAX)
		return fail(rd, "longer than %u bytes", USHRT_MAX);
	if (!no_nul(rd, v))
		return false;
	if (v->len > rd->path_cap) {
		char *p = realloc(rd->path, v->len);

		if (!p)
			return fail_nomem(rd);
		rd->path = p;
		rd->path_cap = v->len;
	}
	memcpy(rd->path, v->s, v->len);
	rd->path_len = v->len;
	return true;
}

static bool set_fd(struct reader *rd, int key, const struct jval *v)
{
	struct kt_fd_rec *r = &rd->fd;

	switch (key) {
	case D_TID: return get_u32(rd, v, 1, &r->tid);
	case D_FILES: return get_u32(rd, v, 1, &rd->fd_files);
	case D_FD:
		if (!in_range(rd, v, 0, INT_MAX))
			return false;
		r->fd = (int)v->i;
		return true;
	case D_FILE: return get_u32(rd, v, 1, &rd->fd_id);
	case D_TYPE: return set_ftype(rd, v);
	case D_PATH: return set_path(rd, v);
	case D_FLAGS: return get_u32(rd, v, 0, &r->flags);
	case D_POS: r->pos = v->i; return true;
	case D_DEV: return get_u32(rd, v, 0, &r->dev);
	case D_INO:
		if (!get_u64(rd, v, NULL))
			return false;
		r->ino = (unsigned long long)v->i;
		return true;
	}
	return true;
}

/* Milliseconds, as written with six decimals, back to nanoseconds. */
static bool set_phase(struct reader *rd, int key, const struct jval *v)
{
	double ms = v->type == J_INT ? (double)v->i : v->d;

	if (!(ms >= 0 && ms < 1e13))
		return fail(rd, "%g is out of range", ms);
	rd->s->phase_ns[key] = (uint64_t)(ms * 1e6 + 0.5);
	return true;
}

static bool set_kind_stat(struct reader *rd, int kind, int key, const struct jval *v)
{
	struct kid_stats *st = &rd->s->kind_stats[kind];
	uint64_t *const out[] = {
		[K_ENTRIES] = &st->entries,
		[K_COLLISIONS] = &st->collisions,
		[K_KCMP_CALLS] = &st->kcmp_calls,
		[K_ERRORS] = &st->errors,
	};

	return get_u64(rd, v, out[key]);
}

static bool set_value(struct reader *rd, struct frame *f, const struct jval *v)
{
	switch (f->kind) {
	case F_ROOT: return set_root(rd, f->key, v);
	case F_TASK: return set_task(rd, f->key, v);
	case F_IDS: return set_id(rd, f->key, v);
	case F_NS: return get_u32(rd, v, 0, &rd->task.rec.ns[f->key]);
	case F_FD: return set_fd(rd, f->key, v);
	case F_STATS:
		/* "tasks" and "fds" are counts of the arrays: nothing to keep */
		return get_u64(rd, v,
			       f->key == S_DROPPED_TASKS  ? &rd->s->dropped_tasks
			       : f->key == S_DROPPED_FDS  ? &rd->s->dropped_fds
			       : f->key == S_INACCESSIBLE ? &rd->s->inaccessible_tasks
							  : NULL);
	case F_PHASES: return set_phase(rd, f->key, v);
	case F_KIND: return set_kind_stat(rd, f->sub, f->key, v);
	}
	return true;
}

static bool end_task(struct reader *rd)
{
	struct kt_task *t;

	rd->task.rec.rec_type = KT_REC_TASK;
	rd->task.rec.absent |= 1u << KT_FILE; /* as the backends mark it */
	if (rd->task.rec.tid == rd->task.rec.tgid)
		rd->task.rec.flags |= KT_TASK_LEADER;
	t = snapshot_add_task(rd->s, &rd->task.rec);
	if (!t)
		return fail_nomem(rd);
	memcpy(t->id, rd->task.id, sizeof(t->id));
	return true;
}

static bool end_fd(struct reader *rd)
{
	struct kt_snapshot *s = rd->s;
	struct kt_fd *f;

	if (s->nfds + 1 > rd->files_cap) {
		size_t cap = rd->files_cap ? rd->files_cap * 2 : 1024;
		uint32_t *p = realloc(rd->files, cap * sizeof(*p));

		if (!p)
			return fail_nomem(rd);
		rd->files = p;
		rd->files_cap = cap;
	}
	rd->fd.rec_type = KT_REC_FD;
	f = snapshot_add_fd(s, &rd->fd, rd->path, rd->path_len);
	if (!f)
		return fail_nomem(rd);
	f->id = rd->fd_id;
	rd->files[s->nfds - 1] = rd->fd_files;
	return true;
}

static bool push(struct reader *rd, int kind, int parent_key)
{
	struct frame *f;

	if (rd->nframes == MAX_FRAMES)
		return fail(rd, "nested too deeply"); /* the frame table is wrong */
	f = &rd->st[rd->nframes++];
	memset(f, 0, sizeof(*f));
	f->kind = (unsigned char)kind;
	f->key = -1;
	f->sub = (unsigned char)parent_key;
	if (kind == F_TASK)
		memset(&rd->task, 0, sizeof(rd->task));
	if (kind == F_FD) {
		memset(&rd->fd, 0, sizeof(rd->fd));
		rd->fd_id = rd->fd_files = 0;
		rd->path_len = 0;
	}
	return true;
}

static bool close_frame(struct reader *rd)
{
	struct frame *f = &rd->st[rd->nframes - 1];
	const struct frame_def *d = &frame_defs[f->kind];
	uint32_t missing = required_mask(d) & ~f->seen;
	bool ok = true;

	if (missing)
		return fail(rd, "missing \"%s\"", field_name(d, __builtin_ctz(missing)));
	if (f->kind == F_TASK)
		ok = end_task(rd);
	else if (f->kind == F_FD)
		ok = end_fd(rd);
	rd->nframes--;
	if (rd->nframes)
		rd->st[rd->nframes - 1].key = -1;
	return ok;
}

/* A parse that met an error goes on only to look for schema and version. */
static int cb_ret(const struct reader *rd)
{
	return !rd->r || rd->scan_only;
}

static void scan_value(struct reader *rd, const struct jval *v)
{
	if (rd->depth != 1)
		return;
	if (rd->root_key == R_SCHEMA && v->type == J_STR && !rd->schema_seen)
		note_schema(rd, v);
	if (rd->root_key == R_VERSION && v->type == J_INT && !rd->version_seen)
		note_version(rd, v);
	rd->root_key = -1;
}

static int on_value(struct reader *rd, const struct jval *v)
{
	struct frame *f;
	unsigned types;

	if (rd->scan_only) {
		scan_value(rd, v);
		return 1;
	}
	if (rd->skip)
		return 1;
	if (!rd->nframes) {
		fail(rd, "expected an object, not %s", type_name(v->type));
		return cb_ret(rd);
	}
	f = &rd->st[rd->nframes - 1];
	if (is_array(f->kind)) {
		f->count++;
		fail(rd, "expected an object, not %s", type_name(v->type));
		return cb_ret(rd);
	}
	if (f->key < 0)
		return 1;
	types = field_types(&frame_defs[f->kind], f->key);
	if (!(types & v->type))
		fail(rd, "expected %s, not %s", types_name(types), type_name(v->type));
	else if (set_value(rd, f, v))
		f->key = -1;
	return cb_ret(rd);
}

static int on_open(struct reader *rd, unsigned type)
{
	const struct frame_def *d;
	struct frame *f;
	int child;

	rd->depth++;
	if (rd->scan_only) {
		rd->root_key = -1;
		return 1;
	}
	if (rd->skip) {
		rd->skip++;
		return 1;
	}
	if (!rd->nframes) {
		if (type != J_OBJ)
			fail(rd, "expected an object, not %s", type_name(type));
		else
			push(rd, F_ROOT, -1);
		return cb_ret(rd);
	}
	f = &rd->st[rd->nframes - 1];
	d = &frame_defs[f->kind];
	if (is_array(f->kind)) {
		f->count++;
		child = d->child;
		if (!(d->types & type))
			fail(rd, "expected %s, not %s", types_name(d->types), type_name(type));
	} else if (f->key < 0) {
		child = F_SKIP;
	} else {
		child = field_child(d, f->key);
		if (!(field_types(d, f->key) & type))
			fail(rd, "expected %s, not %s", types_name(field_types(d, f->key)),
			     type_name(type));
	}
	if (rd->r)
		return cb_ret(rd);
	if (child == F_SKIP)
		rd->skip = 1;
	else
		push(rd, child, f->key);
	return cb_ret(rd);
}

static int on_close(struct reader *rd)
{
	rd->depth--;
	if (rd->scan_only)
		return 1;
	if (rd->skip) {
		if (!--rd->skip)
			rd->st[rd->nframes - 1].key = -1;
		return 1;
	}
	close_frame(rd);
	return cb_ret(rd);
}

/* Starting at @from, where the writer's order puts the next key. */
static int lookup_field(const struct frame_def *d, int from, const unsigned char *key, size_t len)
{
	for (int n = 0; n < d->nfields; n++) {
		int i = (from + n) % d->nfields;
		const char *name = field_name(d, i);

		if (strlen(name) == len && !memcmp(name, key, len))
			return i;
	}
	return -1;
}

/* Members this version does not know are passed over. */
static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct reader *rd = ctx;
	struct frame *f;
	int i;

	if (rd->scan_only) {
		if (rd->depth == 1)
			rd->root_key = lookup_field(&frame_defs[F_ROOT], 0, key, len);
		return 1;
	}
	if (rd->skip)
		return 1;
	f = &rd->st[rd->nframes - 1];
	i = lookup_field(&frame_defs[f->kind], f->next, key, len);
	f->key = (signed char)i;
	f->next = (unsigned char)(i + 1);
	if (i >= 0 && (f->seen & (1u << i)))
		fail(rd, "duplicate key");
	else if (i >= 0)
		f->seen |= 1u << i;
	return cb_ret(rd);
}

static int cb_null(void *ctx)
{
	return on_value(ctx, &(struct jval){ .type = J_NULL });
}

static int cb_boolean(void *ctx, int b)
{
	return on_value(ctx, &(struct jval){ .type = J_BOOL, .i = b });
}

static int cb_integer(void *ctx, long long i)
{
	return on_value(ctx, &(struct jval){ .type = J_INT, .i = i });
}

static int cb_double(void *ctx, double d)
{
	return on_value(ctx, &(struct jval){ .type = J_DBL, .d = d });
}

static int cb_string(void *ctx, const unsigned char *str, size_t len)
{
	return on_value(ctx, &(struct jval){ .type = J_STR, .s = (const char *)str, .len = len });
}

static int cb_start_map(void *ctx)
{
	return on_open(ctx, J_OBJ);
}

static int cb_start_array(void *ctx)
{
	return on_open(ctx, J_ARR);
}

static int cb_end(void *ctx)
{
	return on_close(ctx);
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_integer = cb_integer,
	.yajl_double = cb_double,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

static bool fail_ref(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail_ref(struct reader *rd, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!first_error(rd, -EINVAL))
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(rd, "%s: %s", rd->name, msg);
	return false;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Index of the task with this tid in @by_tid (tid << 32 | index, sorted). */
static long find_tid(const uint64_t *by_tid, size_t n, uint32_t tid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t t = (uint32_t)(by_tid[mid] >> 32);

		if (t == tid)
			return (long)(uint32_t)by_tid[mid];
		if (t < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Every fd names a task of the document, with that task's fd table; and
 * each table's fds come through one task, as a snapshot keeps them.
 * Checked before snapshot_index() sorts, so messages can give fds[i].
 */
static bool check_fd_tasks(struct reader *rd, const uint64_t *by_tid, uint64_t *tables)
{
	const struct kt_snapshot *s = rd->s;

	for (size_t i = 0; i < s->nfds; i++) {
		uint32_t tid = s->fds[i].rec.tid;
		long t = find_tid(by_tid, s->ntasks, tid);

		if (t < 0)
			return fail_ref(rd, "fds[%zu]: tid %u is not in \"tasks\"", i, tid);
		if (s->tasks[t].id[KT_FILES] != rd->files[i])
			return fail_ref(rd, "fds[%zu]: files %u, but task %u has files %u", i,
					rd->files[i], tid, s->tasks[t].id[KT_FILES]);
		tables[i] = (uint64_t)rd->files[i] << 32 | tid;
	}
	qsort(tables, s->nfds, sizeof(*tables), u64_cmp);
	for (size_t i = 1; i < s->nfds; i++)
		if (tables[i] >> 32 == tables[i - 1] >> 32 && tables[i] != tables[i - 1])
			return fail_ref(rd, "fds: files %u is read through both tid %u and tid %u",
					(uint32_t)(tables[i] >> 32), (uint32_t)tables[i - 1],
					(uint32_t)tables[i]);
	return true;
}

static bool check_refs(struct reader *rd)
{
	const struct kt_snapshot *s = rd->s;
	uint64_t *by_tid = malloc((s->ntasks + 1) * sizeof(*by_tid));
	uint64_t *tables = malloc((s->nfds + 1) * sizeof(*tables));
	bool ok = by_tid && tables;

	if (!ok)
		fail_nomem(rd);
	for (size_t i = 0; ok && i < s->ntasks; i++)
		by_tid[i] = (uint64_t)s->tasks[i].rec.tid << 32 | i;
	if (ok)
		qsort(by_tid, s->ntasks, sizeof(*by_tid), u64_cmp);
	for (size_t i = 1; ok && i < s->ntasks; i++)
		if (by_tid[i] >> 32 == by_tid[i - 1] >> 32)
			ok = fail_ref(rd, "tasks: tid %u appears twice",
				      (uint32_t)(by_tid[i] >> 32));
	if (ok)
		ok = check_fd_tasks(rd, by_tid, tables);
	free(by_tid);
	free(tables);
	return ok;
}

/* After snapshot_index(): what a collected snapshot would also have. */
static bool finish_index(struct reader *rd)
{
	struct kt_snapshot *s = rd->s;

	for (size_t i = 0; i < s->nfds; i++) {
		struct kt_fd *f = &s->fds[i];

		if (i && f->rec.tid == f[-1].rec.tid && f->rec.fd == f[-1].rec.fd)
			return fail_ref(rd, "fds: fd %d of tid %u appears twice", f->rec.fd,
					f->rec.tid);
		f->rec.tgid = s->tasks[f->task].rec.tgid;
	}
	for (size_t i = 0; i < s->ntasks; i++)
		s->tasks[i].reader = s->tasks[i].nfds > 0;
	return true;
}

static void parse_error(struct reader *rd)
{
	unsigned char *msg = yajl_get_error(rd->h, 0, NULL, 0);
	char pos[256];
	size_t n;

	if (!first_error(rd, -EINVAL))
		goto out;
	if (!msg) {
		fail_nomem(rd);
		return;
	}
	n = strlen((char *)msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	format_position(rd, offset_now(rd), pos, sizeof(pos));
	set_err(rd, "%s%s", pos, msg);
out:
	if (msg)
		yajl_free_error(rd->h, msg);
}

static void run_parser(struct reader *rd)
{
	yajl_status st;

	rd->h = yajl_alloc(&callbacks, NULL, rd);
	if (!rd->h) {
		fail_nomem(rd);
		return;
	}
	st = yajl_parse(rd->h, (const unsigned char *)rd->buf, rd->len);
	if (st == yajl_status_ok) {
		rd->finishing = true;
		st = yajl_complete_parse(rd->h);
	}
	if (st == yajl_status_error)
		parse_error(rd);
	yajl_free(rd->h);
}

/* Another program's JSON, or another version, matters more than its details. */
static void blame_schema(struct reader *rd)
{
	if (rd->schema_bad)
		set_err(rd, "%s: not a kcmptrace snapshot (\"schema\" is not \"%s\")", rd->name,
			KT_SCHEMA_NAME);
	else if (rd->version_seen && rd->version != KT_SCHEMA_VERSION)
		set_err(rd, "%s: unsupported snapshot version %lld", rd->name, rd->version);
}

int snapshot_json_parse(const char *buf, size_t len, const char *name, struct kt_snapshot *s,
			char *err, size_t err_len)
{
	struct reader rd = {
		.s = s,
		.buf = buf,
		.len = len,
		.name = name ? name : "snapshot",
		.err = err,
		.err_len = err ? err_len : 0,
		.root_key = -1,
	};

	set_err(&rd, "%s", "");
	snapshot_init(s, "json", KT_GENID_ADDR);
	run_parser(&rd);
	if (rd.r == -EINVAL)
		blame_schema(&rd);
	if (!rd.r && check_refs(&rd)) {
		int r = snapshot_index(s);

		if (r)
			fail_nomem(&rd);
		else
			finish_index(&rd);
	}
	free(rd.path);
	free(rd.files);
	if (rd.r)
		snapshot_free(s);
	return rd.r;
}

static int read_all(int fd, char **out, size_t *out_len)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int snapshot_json_read(const char *path, struct kt_snapshot *s, char *err, size_t err_len)
{
	bool std_in = !strcmp(path, "-");
	const char *name = std_in ? "<stdin>" : path;
	int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *buf = NULL;
	int r;

	snapshot_init(s, "json", KT_GENID_ADDR);
	r = fd < 0 ? -errno : read_all(fd, &buf, &len);
	if (fd >= 0 && !std_in)
		close(fd);
	if (r) {
		if (err && err_len)
			snprintf(err, err_len, "%s: %s", name, strerror(-r));
		snapshot_free(s);
		return r;
	}
	r = snapshot_json_parse(buf, len, name, s, err, err_len);
	free(buf);
	return r;
}
