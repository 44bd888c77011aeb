// SPDX-License-Identifier: LGPL-2.1
/*
 * JSON output, schema in docs/snapshot-schema.md; snapshot_json.c reads it
 * back.  A machine with 100k fds makes a document of several megabytes, so
 * it is streamed through yajl's generator rather than built in memory.
 *
 * Only abstract ids are written: gen_ids are hashes of kernel addresses
 * and never leave the process.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include "export.h"
#include "snapshot_json.h"

/* yajl hands over every token separately: batch them into fewer fwrites */
#define JW_BUF_SIZE (64 * 1024)

struct jw {
	yajl_gen g;
	FILE *out;
	int err; /* first failure; later calls are harmless */
	size_t len;
	char *buf;
	char *scratch; /* a string with invalid UTF-8 replaced */
	size_t scratch_cap;
};

static void jw_fail(struct jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void jw_flush(struct jw *w)
{
	if (!w->err && w->len && fwrite(w->buf, 1, w->len, w->out) != w->len)
		jw_fail(w, -EIO);
	w->len = 0;
}

static void jw_print(void *ctx, const char *str, size_t len)
{
	struct jw *w = ctx;

	if (len == 1 && w->len < JW_BUF_SIZE) {
		w->buf[w->len++] = *str; /* the separators, most calls */
		return;
	}
	if (w->err)
		return;
	if (w->len + len > JW_BUF_SIZE) {
		jw_flush(w);
		if (len > JW_BUF_SIZE) {
			if (fwrite(str, 1, len, w->out) != len)
				jw_fail(w, -EIO);
			return;
		}
	}
	memcpy(w->buf + w->len, str, len);
	w->len += len;
}

static void jw_check(struct jw *w, yajl_gen_status st)
{
	/* only misuse of the generator fails, which would be a bug here */
	if (st != yajl_gen_status_ok)
		jw_fail(w, -EINVAL);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Linux names are bytes, JSON strings are Unicode: a byte that is not part
 * of valid UTF-8 (as in a comm cut mid-character) becomes '?', which keeps
 * the length, so a comm still fits its 16 bytes when read back.
 */
static void jw_str(struct jw *w, const char *str, size_t len)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t i = 0, n;

	while (i < len && (n = utf8_len(p + i, len - i)))
		i += n;
	if (i < len) {
		if (len > w->scratch_cap) {
			char *nb = realloc(w->scratch, len);

			if (!nb) {
				jw_fail(w, -ENOMEM);
				return;
			}
			w->scratch = nb;
			w->scratch_cap = len;
		}
		memcpy(w->scratch, str, i);
		while (i < len) {
			n = utf8_len(p + i, len - i);
			if (!n) {
				w->scratch[i++] = '?';
				continue;
			}
			memcpy(w->scratch + i, str + i, n);
			i += n;
		}
		p = (const unsigned char *)w->scratch;
	}
	jw_check(w, yajl_gen_string(w->g, p, len));
}

/* A key or a value from our own ASCII tables. */
static void jw_lit(struct jw *w, const char *str)
{
	jw_check(w, yajl_gen_string(w->g, (const unsigned char *)str, strlen(str)));
}

static void jw_key(struct jw *w, const char *key)
{
	jw_lit(w, key);
}

/*
 * yajl_gen_integer() goes through sprintf, a fifth of the time of a large
 * export; the digits are simple enough to make here.
 */
static void jw_int(struct jw *w, long long v)
{
	char num[24], *p = num + sizeof(num);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	jw_check(w, yajl_gen_number(w->g, p, (size_t)(num + sizeof(num) - p)));
}

/* JSON readers (yajl among them) take integers as signed 64-bit. */
static void jw_u64(struct jw *w, uint64_t v)
{
	if (v > LLONG_MAX)
		jw_fail(w, -ERANGE);
	else
		jw_int(w, (long long)v);
}

/* An object id; 0 is no object. */
static void jw_id(struct jw *w, uint32_t id)
{
	if (id)
		jw_int(w, id);
	else
		jw_check(w, yajl_gen_null(w->g));
}

static void jw_bool(struct jw *w, bool v)
{
	jw_check(w, yajl_gen_bool(w->g, v));
}

/* Milliseconds with every nanosecond, written exactly (no binary fraction). */
static void jw_ms(struct jw *w, uint64_t ns)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%llu.%06llu", (unsigned long long)(ns / 1000000),
			 (unsigned long long)(ns % 1000000));

	jw_check(w, yajl_gen_number(w->g, num, (size_t)n));
}

static void jw_open(struct jw *w, const char *key, bool array)
{
	if (key)
		jw_key(w, key);
	jw_check(w, array ? yajl_gen_array_open(w->g) : yajl_gen_map_open(w->g));
}

static void jw_close(struct jw *w, bool array)
{
	jw_check(w, array ? yajl_gen_array_close(w->g) : yajl_gen_map_close(w->g));
}

static int jw_init(struct jw *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->buf = malloc(JW_BUF_SIZE);
	w->g = yajl_gen_alloc(NULL);
	if (!w->buf || !w->g ||
	    !yajl_gen_config(w->g, yajl_gen_print_callback, jw_print, w)) {
		if (w->g)
			yajl_gen_free(w->g);
		free(w->buf);
		return -ENOMEM;
	}
	return 0;
}

static int jw_finish(struct jw *w)
{
	int r;

	jw_print(w, "\n", 1);
	jw_flush(w);
	/* a full disk shows only when stdio writes its buffer out */
	if (fflush(w->out) || ferror(w->out))
		jw_fail(w, -EIO);
	r = w->err;
	yajl_gen_free(w->g);
	free(w->buf);
	free(w->scratch);
	return r;
}

/* The fds in the document: those of live readers that got an id. */
static bool fd_exported(const struct kt_snapshot *s, const struct kt_fd *f)
{
	return f->id && !f->dropped && f->task < s->ntasks && !s->tasks[f->task].dropped;
}

static void put_task(struct jw *w, const struct kt_task *t)
{
	const struct kt_task_rec *r = &t->rec;

	jw_open(w, NULL, false);
	jw_key(w, "tid");
	jw_int(w, r->tid);
	jw_key(w, "tgid");
	jw_int(w, r->tgid);
	jw_key(w, "ppid");
	jw_int(w, r->ppid);
	jw_key(w, "start");
	jw_u64(w, r->start_ticks);
	jw_key(w, "comm");
	jw_str(w, r->comm, strnlen(r->comm, KT_COMM_LEN));
	jw_key(w, "kthread");
	jw_bool(w, r->flags & KT_TASK_KTHREAD);
	jw_key(w, "exiting");
	jw_bool(w, r->flags & KT_TASK_EXITING);
	jw_open(w, "ids", false);
	for (int k = KT_VM; k < KT_NR_KINDS; k++) {
		jw_key(w, kt_kind_name(k));
		jw_id(w, t->id[k]);
	}
	jw_close(w, false);
	jw_open(w, "ns", false);
	for (int n = 0; n < KT_NR_NS; n++) {
		jw_key(w, kt_ns_name(n));
		jw_int(w, r->ns[n]);
	}
	jw_close(w, false);
	jw_close(w, false);
}

static void put_tasks(struct jw *w, const struct kt_snapshot *s)
{
	jw_open(w, "tasks", true);
	for (size_t i = 0; i < s->ntasks && !w->err; i++)
		if (!s->tasks[i].dropped)
			put_task(w, &s->tasks[i]);
	jw_close(w, true);
}

static void put_fd(struct jw *w, const struct kt_snapshot *s, const struct kt_fd *f)
{
	const struct kt_task *t = &s->tasks[f->task];
	const char *path = snapshot_path(s, f);

	jw_open(w, NULL, false);
	jw_key(w, "tid");
	jw_int(w, t->rec.tid);
	jw_key(w, "files");
	jw_int(w, t->id[KT_FILES]);
	jw_key(w, "fd");
	jw_int(w, f->rec.fd);
	jw_key(w, "file");
	jw_int(w, f->id);
	jw_key(w, "type");
	jw_lit(w, kt_ftype_name(f->rec.ftype));
	if (*path) {
		jw_key(w, "path");
		jw_str(w, path, strlen(path));
	}
	jw_key(w, "flags");
	jw_int(w, f->rec.flags);
	jw_key(w, "pos");
	jw_int(w, f->rec.pos);
	jw_key(w, "dev");
	jw_int(w, f->rec.dev);
	jw_key(w, "ino");
	jw_u64(w, f->rec.ino);
	jw_close(w, false);
}

static void put_fds(struct jw *w, const struct kt_snapshot *s)
{
	jw_open(w, "fds", true);
	for (size_t i = 0; i < s->nfds && !w->err; i++)
		if (fd_exported(s, &s->fds[i]))
			put_fd(w, s, &s->fds[i]);
	jw_close(w, true);
}

static void put_group(struct jw *w, const struct kt_snapshot *s, const struct kt_groups *g,
		      const struct kt_group *grp)
{
	const uint32_t *members = g->members + grp->first;

	jw_open(w, NULL, false);
	jw_key(w, "id");
	jw_int(w, grp->id);
	jw_open(w, grp->kind == KT_FILE ? "holders" : "tids", true);
	for (uint32_t m = 0; m < grp->nmembers; m++) {
		if (grp->kind != KT_FILE) {
			jw_int(w, s->tasks[members[m]].rec.tid);
			continue;
		}
		jw_open(w, NULL, false);
		jw_key(w, "tid");
		jw_int(w, s->tasks[s->fds[members[m]].task].rec.tid);
		jw_key(w, "fd");
		jw_int(w, s->fds[members[m]].rec.fd);
		jw_close(w, false);
	}
	jw_close(w, true);
	jw_close(w, false);
}

static int put_shared(struct jw *w, const struct kt_snapshot *s)
{
	struct kt_groups g;
	size_t i = 0;
	int r = groups_build(&g, s);

	if (r)
		return r;
	jw_open(w, "shared", false);
	/* groups come in kind order, so each kind's are one run */
	for (int k = 0; k < KT_NR_KINDS; k++) {
		jw_open(w, kt_kind_name(k), true);
		for (; i < g.ngroups && g.groups[i].kind == k && !w->err; i++)
			put_group(w, s, &g, &g.groups[i]);
		jw_close(w, true);
	}
	jw_close(w, false);
	groups_free(&g);
	return 0;
}

static void put_kind_stats(struct jw *w, const struct kid_stats *st)
{
	jw_open(w, NULL, false);
	jw_key(w, "entries");
	jw_u64(w, st->entries);
	jw_key(w, "collisions");
	jw_u64(w, st->collisions);
	jw_key(w, "kcmp_calls");
	jw_u64(w, st->kcmp_calls);
	jw_key(w, "errors");
	jw_u64(w, st->errors);
	jw_close(w, false);
}

static void put_stats(struct jw *w, const struct kt_snapshot *s)
{
	size_t ntasks = 0, nfds = 0;

	for (size_t i = 0; i < s->ntasks; i++)
		ntasks += !s->tasks[i].dropped;
	for (size_t i = 0; i < s->nfds; i++)
		nfds += fd_exported(s, &s->fds[i]);
	jw_open(w, "stats", false);
	jw_key(w, "tasks");
	jw_u64(w, ntasks);
	jw_key(w, "fds");
	jw_u64(w, nfds);
	jw_key(w, "dropped_tasks");
	jw_u64(w, s->dropped_tasks);
	jw_key(w, "dropped_fds");
	jw_u64(w, s->dropped_fds);
	jw_key(w, "inaccessible_tasks");
	jw_u64(w, s->inaccessible_tasks);
	jw_open(w, "phase_ms", false);
	for (int p = 0; p < KT_NR_PHASES; p++) {
		jw_key(w, snapshot_json_phase_name(p));
		jw_ms(w, s->phase_ns[p]);
	}
	jw_close(w, false);
	jw_open(w, "kinds", false);
	for (int k = 0; k < KT_NR_KINDS; k++) {
		jw_key(w, kt_kind_name(k));
		put_kind_stats(w, &s->kind_stats[k]);
	}
	jw_close(w, false);
	jw_close(w, false);
}

static void put_header(struct jw *w, const struct kt_snapshot *s, const struct kt_export_opts *o)
{
	const char *backend = s->backend ? s->backend : "";
	const char *target = o->target_desc ? o->target_desc : "";

	jw_key(w, "schema");
	jw_lit(w, KT_SCHEMA_NAME);
	jw_key(w, "version");
	jw_int(w, KT_SCHEMA_VERSION);
	jw_key(w, "backend");
	jw_str(w, backend, strlen(backend));
	jw_key(w, "genid");
	jw_lit(w, s->genid == KT_GENID_CRIU ? "criu" : "addr");
	jw_key(w, "target");
	jw_str(w, target, strlen(target));
	jw_key(w, "taken_at_ns");
	jw_u64(w, s->taken_at_ns);
}

static void put_verification(struct jw *w, const struct kt_verification *v)
{
	jw_open(w, "verification", false);
	jw_key(w, "method");
	jw_str(w, v->method, strlen(v->method));
	jw_key(w, "newest_event_age_ms");
	jw_ms(w, v->newest_event_age_ns);
	jw_key(w, "checked_tasks");
	jw_u64(w, v->checked_tasks);
	jw_key(w, "kcmp_checks");
	jw_u64(w, v->kcmp_checks);
	jw_key(w, "repaired");
	jw_u64(w, v->repaired);
	jw_key(w, "frozen");
	jw_bool(w, v->frozen);
	jw_close(w, false);
}

int export_json(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o)
{
	struct jw w;
	int r = jw_init(&w, out);

	if (r)
		return r;
	jw_open(&w, NULL, false);
	put_header(&w, s, o);
	put_tasks(&w, s);
	put_fds(&w, s);
	r = put_shared(&w, s);
	if (r)
		jw_fail(&w, r);
	jw_key(&w, "lost_events");
	jw_u64(&w, s->lost_events);
	if (o->stats)
		put_stats(&w, s);
	if (o->verification)
		put_verification(&w, o->verification);
	jw_close(&w, false);
	return jw_finish(&w);
}
