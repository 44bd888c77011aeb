// SPDX-License-Identifier: LGPL-2.1
/*
 * kcmptrace diff against known answers.
 *
 * - Every workload compared with itself, with a second snapshot of it,
 *   with its JSON round trip and with its ids renumbered: no differences.
 * - A subject process makes one change at a time (opens, closes and dups
 *   fds, replaces one, changes its flags, forks, exits, execs, unshares
 *   its fd table, starts a thread, renames itself, unshares a namespace)
 *   between two snapshots, and the diff must be exactly the entries that
 *   change makes: nothing missing, nothing more.  Each answer is checked
 *   on the cold snapshots, on their JSON round trips, mixed, reversed
 *   (B to A gives the mirror image) and through the JSON output.
 * - Hand-built snapshots for what the kernel never does on request
 *   (groups that merge or split, a recycled tid), the field rules, the
 *   text format, and the time for 100k fds.
 *
 * A diff is compared as sorted lines with roles for tids: "S" is the
 * subject, "C" its child, "T" its thread; hand-built snapshots use tids.
 *   task + C                     fd ~ S:3 ino,path
 *   file + S:3 S:5               files - S C
 *   file ~ S:0 S:1 C:0 | added C:0 | removed - | from 1
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <yajl/yajl_tree.h>
#include "backend.h"
#include "check.h"
#include "diff.h"
#include "export.h"
#include "snapshot_json.h"
#include "workload.h"

static char name_buf[256];

static const char *tname(const char *a, const char *b)
{
	snprintf(name_buf, sizeof(name_buf), "%s/%s", a, b);
	return name_buf;
}

/* ---- lines ---- */

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lines_add(struct lines *l, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			abort();
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	l->v[l->n++] = s;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_kind(const char *word)
{
	for (int k = 0; k < KT_NR_KINDS; k++)
		if (!strcmp(word, kt_kind_name(k)))
			return true;
	return false;
}

/* Words of @s split at spaces; @s is modified. */
static size_t split(char *s, char **w, size_t max)
{
	size_t n = 0;

	for (char *p = strtok(s, " "); p && n < max; p = strtok(NULL, " "))
		w[n++] = p;
	return n;
}

struct group_line {
	char kind[16], op;
	char *h[256], *add[256], *rm[256];
	size_t nh, nadd, nrm;
	unsigned from;
	char buf[4096];
};

/* "KIND OP H... [| added H...|- | removed H...|- | from N]" */
static bool parse_group(const char *line, struct group_line *g)
{
	char *w[800];
	size_t n, i = 2;
	char **dst;
	size_t *dn;

	memset(g, 0, sizeof(*g));
	snprintf(g->buf, sizeof(g->buf), "%s", line);
	n = split(g->buf, w, 800);
	if (n < 2 || !is_kind(w[0]))
		return false;
	snprintf(g->kind, sizeof(g->kind), "%s", w[0]);
	g->op = w[1][0];
	dst = g->h;
	dn = &g->nh;
	for (; i < n; i++) {
		if (!strcmp(w[i], "|"))
			continue;
		if (!strcmp(w[i], "added")) {
			dst = g->add;
			dn = &g->nadd;
		} else if (!strcmp(w[i], "removed")) {
			dst = g->rm;
			dn = &g->nrm;
		} else if (!strcmp(w[i], "from") && i + 1 < n) {
			g->from = (unsigned)atoi(w[++i]);
		} else if (strcmp(w[i], "-") && *dn < 256) {
			dst[(*dn)++] = w[i];
		}
	}
	return true;
}

static void join(char *out, size_t len, char **w, size_t n)
{
	size_t o = 0;

	if (n)
		qsort(w, n, sizeof(*w), str_cmp);
	out[0] = '\0';
	if (!n)
		snprintf(out, len, "-");
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "", w[i]);
}

static char *format_group(const struct group_line *g0)
{
	struct group_line g = *g0;
	char h[2048], a[2048], r[2048], *out;

	join(h, sizeof(h), g.h, g.nh);
	if (g.op != '~') {
		if (asprintf(&out, "%s %c %s", g.kind, g.op, h) < 0)
			abort();
		return out;
	}
	join(a, sizeof(a), g.add, g.nadd);
	join(r, sizeof(r), g.rm, g.nrm);
	if (asprintf(&out, "%s ~ %s | added %s | removed %s | from %u", g.kind, h, a, r, g.from) <
	    0)
		abort();
	return out;
}

/* Holder lists sorted, so expectations may be written in any order. */
static char *normalize(const char *line)
{
	struct group_line *g = malloc(sizeof(*g));
	char *out;

	if (g && parse_group(line, g))
		out = format_group(g);
	else
		out = strdup(line);
	free(g);
	return out;
}

static bool has(char **w, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w[i], s))
			return true;
	return false;
}

/* The same change seen from B to A. */
static char *mirror(const char *line)
{
	struct group_line *g = malloc(sizeof(*g)), *m = malloc(sizeof(*m));
	char *out;

	if (!g || !m)
		abort();
	if (!parse_group(line, g)) {
		out = strdup(line);
		if (out[0] && (strstr(out, " + ") || strstr(out, " - "))) {
			char *p = strstr(out, " + ") ? strstr(out, " + ") : strstr(out, " - ");

			p[1] = p[1] == '+' ? '-' : '+';
		}
		free(g);
		free(m);
		return out;
	}
	*m = *g;
	if (g->op != '~') {
		m->op = g->op == '+' ? '-' : '+';
	} else {
		/* B's group is A's holders less the added plus the removed */
		m->nh = 0;
		for (size_t i = 0; i < g->nh; i++)
			if (!has(g->add, g->nadd, g->h[i]))
				m->h[m->nh++] = g->h[i];
		for (size_t i = 0; i < g->nrm; i++)
			m->h[m->nh++] = g->rm[i];
		memcpy(m->add, g->rm, sizeof(m->add));
		m->nadd = g->nrm;
		memcpy(m->rm, g->add, sizeof(m->rm));
		m->nrm = g->nadd;
	}
	/* the pointers point into g's buffer, which m copied: rebase them */
	for (size_t i = 0; i < m->nh; i++)
		m->h[i] = m->buf + (m->h[i] - g->buf);
	for (size_t i = 0; i < m->nadd; i++)
		m->add[i] = m->buf + (m->add[i] - g->buf);
	for (size_t i = 0; i < m->nrm; i++)
		m->rm[i] = m->buf + (m->rm[i] - g->buf);
	out = format_group(m);
	free(g);
	free(m);
	return out;
}

static void lines_from(struct lines *out, const char *const *expect, bool mirrored)
{
	for (size_t i = 0; expect[i]; i++) {
		char *m = mirrored ? mirror(expect[i]) : strdup(expect[i]);

		lines_add(out, "%s", m);
		free(m);
	}
}

/* Equal as sets of normalized lines; else what is missing and what is not expected. */
static bool same_lines(const struct lines *got0, const struct lines *want0, char *why, size_t len)
{
	struct lines got = { 0 }, want = { 0 };
	size_t i = 0, j = 0, o = 0;
	bool ok = true;

	for (size_t k = 0; k < got0->n; k++) {
		char *s = normalize(got0->v[k]);

		lines_add(&got, "%s", s);
		free(s);
	}
	for (size_t k = 0; k < want0->n; k++) {
		char *s = normalize(want0->v[k]);

		lines_add(&want, "%s", s);
		free(s);
	}
	if (got.n)
		qsort(got.v, got.n, sizeof(char *), str_cmp);
	if (want.n)
		qsort(want.v, want.n, sizeof(char *), str_cmp);
	why[0] = '\0';
	while (i < got.n || j < want.n) {
		int c = i == got.n ? 1 : j == want.n ? -1 : strcmp(got.v[i], want.v[j]);

		if (!c) {
			i++;
			j++;
			continue;
		}
		ok = false;
		if (o < len)
			o += (size_t)snprintf(why + o, len - o, "%s '%s'; ",
					      c < 0 ? "unexpected" : "missing",
					      c < 0 ? got.v[i] : want.v[j]);
		if (c < 0)
			i++;
		else
			j++;
	}
	lines_free(&got);
	lines_free(&want);
	return ok;
}

/* ---- a diff as lines ---- */

#define MAX_ROLES 4

/* Tids as roles (S, C, T), or as numbers ("6", "6@2000" if not the usual start). */
struct roles {
	uint32_t tid[MAX_ROLES];
	uint64_t start[MAX_ROLES];
	char name[MAX_ROLES];
	int n;
};

#define SYN_START(tid) (1000ull + (tid))

static void role_add(struct roles *r, char name, uint32_t tid, const struct kt_snapshot *s)
{
	long i;

	r->name[r->n] = name;
	r->tid[r->n] = tid;
	r->start[r->n] = 0;
	if (s->by_tid && (i = snapshot_find_tid(s, tid)) >= 0)
		r->start[r->n] = s->tasks[i].rec.start_ticks;
	r->n++;
}

static const char *who(const struct roles *r, uint32_t tid, uint64_t start, int fd)
{
	static char buf[8][64];
	static int next;
	char *b = buf[next++ & 7], base[48];

	if (!r) {
		if (start == SYN_START(tid))
			snprintf(base, sizeof(base), "%u", tid);
		else
			snprintf(base, sizeof(base), "%u@%llu", tid, (unsigned long long)start);
	} else {
		snprintf(base, sizeof(base), "#%u", tid);
		for (int i = 0; i < r->n; i++)
			if (r->tid[i] == tid)
				snprintf(base, sizeof(base), "%c%s", r->name[i],
					 r->start[i] == start ? "" : "@bad-start");
	}
	if (fd >= 0)
		snprintf(b, 64, "%s:%d", base, fd);
	else
		snprintf(b, 64, "%s", base);
	return b;
}

static const char op_sign[] = {
	[KT_DIFF_APPEARED] = '+', [KT_DIFF_DISAPPEARED] = '-', [KT_DIFF_CHANGED] = '~'
};

static void fields(char *out, size_t len, uint32_t what, const char *(*name)(uint32_t))
{
	size_t o = 0;

	out[0] = '\0';
	for (uint32_t bits = what; bits && o < len; bits &= bits - 1)
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : " ", name(bits & -bits));
}

static void span_words(char *out, size_t len, const struct kt_diff *d,
		       const struct kt_diff_span *sp, const struct roles *r)
{
	size_t o = 0;

	snprintf(out, len, "-");
	for (uint32_t i = 0; i < sp->n && o < len; i++) {
		const struct kt_diff_holder *h = &d->holders[sp->first + i];
		bool sane = h->task && h->task->rec.tid == h->tid &&
			    h->task->rec.start_ticks == h->start;

		o += (size_t)snprintf(out + o, len - o, "%s%s%s", i ? " " : "",
				      who(r, h->tid, h->start, h->fd), sane ? "" : "!task");
	}
}

static void diff_lines(const struct kt_diff *d, const struct roles *r, struct lines *out)
{
	char f[256], h[4096], a[4096], m[4096];

	for (size_t i = 0; i < d->ntasks; i++) {
		const struct kt_diff_task *e = &d->tasks[i];
		const struct kt_task *t = e->b ? e->b : e->a;

		fields(f, sizeof(f), e->op == KT_DIFF_CHANGED ? e->what : 0, diff_task_field_name);
		lines_add(out, "task %c %s%s", op_sign[e->op],
			  who(r, t->rec.tid, t->rec.start_ticks, -1), f);
	}
	for (size_t i = 0; i < d->nfds; i++) {
		const struct kt_diff_fd *e = &d->fds[i];

		fields(f, sizeof(f), e->op == KT_DIFF_CHANGED ? e->what : 0, diff_fd_field_name);
		lines_add(out, "fd %c %s%s", op_sign[e->op],
			  who(r, e->who.tid, e->who.start, e->who.fd), f);
	}
	for (size_t i = 0; i < d->ngroups; i++) {
		const struct kt_diff_group *g = &d->groups[i];

		span_words(h, sizeof(h), d, &g->holders, r);
		if (g->op != KT_DIFF_CHANGED) {
			lines_add(out, "%s %c %s", kt_kind_name(g->kind), op_sign[g->op], h);
			continue;
		}
		span_words(a, sizeof(a), d, &g->added, r);
		span_words(m, sizeof(m), d, &g->removed, r);
		lines_add(out, "%s ~ %s | added %s | removed %s | from %u", kt_kind_name(g->kind),
			  h, a, m, g->from);
	}
}

/* ---- the same from the JSON output ---- */

static yajl_val get(yajl_val v, const char *key, yajl_type type)
{
	const char *path[] = { key, NULL };

	return yajl_tree_get(v, path, type);
}

static const char *jstr(yajl_val v)
{
	const char *s = v ? YAJL_GET_STRING(v) : NULL;

	return s ? s : "";
}

static char json_op(yajl_val e)
{
	const char *s = jstr(get(e, "op", yajl_t_string));

	return !strcmp(s, "appeared")	   ? '+'
	       : !strcmp(s, "disappeared") ? '-'
	       : !strcmp(s, "changed")	   ? '~'
					   : '?';
}

static const char *json_who(yajl_val h, const struct roles *r, bool with_fd)
{
	yajl_val tid = get(h, "tid", yajl_t_number), start = get(h, "start", yajl_t_number);
	yajl_val fd = get(h, "fd", yajl_t_number);

	if (!tid || !start || (with_fd && !fd))
		return "?json";
	return who(r, (uint32_t)YAJL_GET_INTEGER(tid), (uint64_t)YAJL_GET_INTEGER(start),
		   with_fd ? (int)YAJL_GET_INTEGER(fd) : -1);
}

static void json_fields(char *out, size_t len, yajl_val e)
{
	yajl_val ch = get(e, "changed", yajl_t_array);
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; ch && i < YAJL_GET_ARRAY(ch)->len && o < len; i++) {
		yajl_val s = YAJL_GET_ARRAY(ch)->values[i];

		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? "," : " ",
				      YAJL_IS_STRING(s) ? jstr(s) : "?");
	}
}

static void json_words(char *out, size_t len, yajl_val arr, const struct roles *r, bool fds)
{
	size_t o = 0;

	snprintf(out, len, arr ? "-" : "?missing");
	for (size_t i = 0; arr && i < YAJL_GET_ARRAY(arr)->len && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "",
				      json_who(YAJL_GET_ARRAY(arr)->values[i], r, fds));
}

static bool json_lines(const char *doc, const struct roles *r, struct lines *out, char *why,
		       size_t len)
{
	char err[256], f[256], h[4096], a[4096], m[4096];
	yajl_val root = yajl_tree_parse(doc, err, sizeof(err));
	yajl_val tasks, fds, shared, v;
	size_t n = 0;
	bool ok = false;

	if (!root) {
		snprintf(why, len, "not JSON: %s", err);
		return false;
	}
	tasks = get(root, "tasks", yajl_t_array);
	fds = get(root, "fds", yajl_t_array);
	shared = get(root, "shared", yajl_t_object);
	v = get(root, "schema", yajl_t_string);
	if (strcmp(jstr(v), "kcmptrace-diff") || !tasks || !fds || !shared) {
		snprintf(why, len, "no schema, tasks, fds or shared");
		goto out;
	}
	for (size_t i = 0; i < YAJL_GET_ARRAY(tasks)->len; i++, n++) {
		yajl_val e = YAJL_GET_ARRAY(tasks)->values[i];

		json_fields(f, sizeof(f), e);
		lines_add(out, "task %c %s%s", json_op(e), json_who(e, r, false), f);
	}
	for (size_t i = 0; i < YAJL_GET_ARRAY(fds)->len; i++, n++) {
		yajl_val e = YAJL_GET_ARRAY(fds)->values[i];

		json_fields(f, sizeof(f), e);
		lines_add(out, "fd %c %s%s", json_op(e), json_who(e, r, true), f);
	}
	if (YAJL_GET_OBJECT(shared)->len != KT_NR_KINDS) {
		snprintf(why, len, "shared has %zu kinds", YAJL_GET_OBJECT(shared)->len);
		goto out;
	}
	for (int k = 0; k < KT_NR_KINDS; k++) {
		yajl_val arr = get(shared, kt_kind_name(k), yajl_t_array);

		for (size_t i = 0; arr && i < YAJL_GET_ARRAY(arr)->len; i++, n++) {
			yajl_val g = YAJL_GET_ARRAY(arr)->values[i], from;
			char op = json_op(g);

			json_words(h, sizeof(h), get(g, "holders", yajl_t_array), r, k == KT_FILE);
			if (k == KT_FILE && !get(g, "type", yajl_t_string))
				strcat(h, " ?no-type");
			if (op != '~') {
				lines_add(out, "%s %c %s", kt_kind_name(k), op, h);
				continue;
			}
			json_words(a, sizeof(a), get(g, "added", yajl_t_array), r, k == KT_FILE);
			json_words(m, sizeof(m), get(g, "removed", yajl_t_array), r, k == KT_FILE);
			from = get(g, "from", yajl_t_number);
			lines_add(out, "%s ~ %s | added %s | removed %s | from %lld",
				  kt_kind_name(k), h, a, m, from ? YAJL_GET_INTEGER(from) : -1);
		}
	}
	v = get(root, "differences", yajl_t_number);
	ok = v && (size_t)YAJL_GET_INTEGER(v) == n;
	if (!ok)
		snprintf(why, len, "\"differences\" is not the %zu entries", n);
out:
	yajl_tree_free(root);
	return ok;
}

static char *diff_json(const struct kt_diff *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (diff_write_json(f, d, "A", "B")) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static char *diff_text(const struct kt_diff *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (diff_write_text(f, d, "A", "B")) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/*
 * The diff of @a to @b must be exactly @expect (mirrored: its image from
 * B to A), as computed and as written in JSON; and the text must agree on
 * the count.
 */
static void expect_diff(const char *name, const struct kt_snapshot *a, const struct kt_snapshot *b,
			const struct roles *r, const char *const *expect, bool mirrored,
			bool check_output)
{
	struct lines got = { 0 }, want = { 0 }, from_json = { 0 };
	char why[2048], what[160];
	struct kt_diff d;
	int rc = diff_compute(&d, a, b);

	if (rc) {
		snprintf(what, sizeof(what), "%s/computed", name);
		CHECK(rc == 0, what, "diff_compute: %s", strerror(-rc));
		return;
	}
	lines_from(&want, expect, mirrored);
	diff_lines(&d, r, &got);
	CHECK(same_lines(&got, &want, why, sizeof(why)) && diff_count(&d) == want.n, name, "%s",
	      why);
	if (check_output) {
		char *doc = diff_json(&d), *text = diff_text(&d), count[64];

		snprintf(what, sizeof(what), "%s/json_output", name);
		CHECK(doc && json_lines(doc, r, &from_json, why, sizeof(why)) &&
			      same_lines(&from_json, &want, why, sizeof(why)),
		      what, "%s", doc ? why : "no output");
		snprintf(what, sizeof(what), "%s/text_output", name);
		snprintf(count, sizeof(count), "\n%zu differences: ", want.n);
		CHECK(text && (want.n ? !strncmp(text, "--- A (", 7) && strstr(text, "\n+++ B (") &&
						strstr(text, count)
				      : !strcmp(text, "no differences\n")),
		      what, "%s", text ? text : "no output");
		free(doc);
		free(text);
	}
	lines_free(&got);
	lines_free(&want);
	lines_free(&from_json);
	diff_free(&d);
}

static const char *const nothing[] = { NULL };

/* JSON out and back in, as `kcmptrace diff` reads it. */
static int json_copy(const struct kt_snapshot *s, struct kt_snapshot *out)
{
	struct kt_export_opts o = { .target_desc = "copy" };
	char *buf = NULL, err[512];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (!f)
		return -ENOMEM;
	r = export_json(f, s, &o);
	fclose(f);
	if (!r)
		r = snapshot_json_parse(buf, len, "copy", out, err, sizeof(err));
	if (r)
		printf("# json_copy: %s\n", err);
	free(buf);
	return r;
}

/* Every id mapped to another number: a diff must not notice. */
static void renumber_ids(struct kt_snapshot *s)
{
	for (size_t i = 0; i < s->ntasks; i++)
		for (int k = KT_VM; k < KT_NR_KINDS; k++)
			if (s->tasks[i].id[k])
				s->tasks[i].id[k] = 3000000000u - s->tasks[i].id[k] * 7;
	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].id)
			s->fds[i].id = 4000000000u - s->fds[i].id * 3;
}

static int take(struct kt_snapshot *s, pid_t root)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_backend_opts o = { .genid = KT_GENID_ADDR, .want_paths = true };

	return snapshot_take(s, &t, &o, KT_BACKEND_BPF, false);
}

/* ---- every workload against itself ---- */

static void same_workload(const struct wl_scenario *sc)
{
	struct kt_snapshot a, a2, j;
	struct wl w;
	int r;

	if (!CHECK(!wl_start(&w, sc->name, sc->fn), tname(sc->name, "workload_started"),
		   "could not build the workload"))
		return;
	r = take(&a, w.root);
	if (!CHECK_CAPABLE(r == 0, tname(sc->name, "snapshot"), strerror(-r)))
		goto out;
	expect_diff(tname(sc->name, "itself"), &a, &a, NULL, nothing, false, true);
	r = json_copy(&a, &j);
	if (CHECK(r == 0, tname(sc->name, "json_copy"), "%s", strerror(-r))) {
		expect_diff(tname(sc->name, "vs_json_round_trip"), &a, &j, NULL, nothing, false,
			    false);
		expect_diff(tname(sc->name, "json_round_trip_vs_cold"), &j, &a, NULL, nothing,
			    false, false);
		renumber_ids(&j);
		expect_diff(tname(sc->name, "vs_renumbered_ids"), &a, &j, NULL, nothing, false,
			    false);
		snapshot_free(&j);
	}
	r = take(&a2, w.root);
	if (CHECK(r == 0, tname(sc->name, "second_snapshot"), "%s", strerror(-r))) {
		/* a quiet workload: other ids, other readers maybe, the same sharing */
		expect_diff(tname(sc->name, "vs_second_snapshot"), &a, &a2, NULL, nothing, false,
			    false);
		snapshot_free(&a2);
	}
	snapshot_free(&a);
out:
	wl_stop(&w);
}

/* ---- the subject: one change at a time ---- */

#define SUBJ_CMD 10
#define SUBJ_REP 11

static char subj_dir[64];
static pid_t subj_child;
static uint32_t subj_thread;

static const char *subj_file(const char *tag)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ & 3];

	snprintf(p, sizeof(path[0]), "%s/%s", subj_dir, tag);
	return p;
}

static void reply(char status, uint32_t val)
{
	char buf[5] = { status };

	memcpy(buf + 1, &val, sizeof(val));
	if (write(SUBJ_REP, buf, sizeof(buf)) != sizeof(buf))
		_exit(1);
}

static void *park_thread(void *arg)
{
	__atomic_store_n(&subj_thread, (uint32_t)gettid(), __ATOMIC_SEQ_CST);
	wl_park();
}

static sigset_t usr1;

static int unshare_on_signal(void *arg)
{
	int sig;

	sigwait(&usr1, &sig);
	reply(unshare(CLONE_FILES) ? 'e' : 'k', 0);
	wl_park();
}

static bool read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The exec is over and the new program is asleep: its fds are final. */
static bool asleep_after_exec(pid_t pid)
{
	char path[64], buf[256];

	for (int i = 0; i < 5000; i++) {
		long nr;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (read_small(path, buf, sizeof(buf)) && !strcmp(buf, "sleep\n")) {
			snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
			if (read_small(path, buf, sizeof(buf)) && sscanf(buf, "%ld", &nr) == 1 &&
			    (nr == SYS_clock_nanosleep
#ifdef SYS_nanosleep
			     || nr == SYS_nanosleep
#endif
#ifdef SYS_pause
			     || nr == SYS_pause /* coreutils' "sleep infinity" */
#endif
			     ))
				return true;
		}
		usleep(1000);
	}
	return false;
}

static char clone_stack[64 * 1024] __attribute__((aligned(16)));

/*
 * fds: 0-2 /dev/null (one open file), 3 "a", 4 "b" (close-on-exec),
 * 10 commands in, 11 answers out (both close-on-exec).
 */
static bool subject_fds(int cmd, int rep)
{
	int hc = fcntl(cmd, F_DUPFD_CLOEXEC, 200), hr = fcntl(rep, F_DUPFD_CLOEXEC, 200);
	int hi = hc > hr ? hc : hr;

	if (hc < 0 || hr < 0)
		return false;
	close_range(0, 199, 0);
	for (int fd = 200; fd < hi; fd++)
		if (fd != hc)
			close(fd);
	close_range((unsigned)hi + 1, ~0u, 0);
	return open("/dev/null", O_RDWR) == 0 && dup2(0, 1) == 1 && dup2(0, 2) == 2 &&
	       dup3(hc, SUBJ_CMD, O_CLOEXEC) == SUBJ_CMD &&
	       dup3(hr, SUBJ_REP, O_CLOEXEC) == SUBJ_REP && !close(hc) && !close(hr) &&
	       open(subj_file("a"), O_RDWR) == 3 && open(subj_file("b"), O_RDWR | O_CLOEXEC) == 4;
}

static bool subject_step(char c, uint32_t *val, bool *quiet)
{
	pthread_t t;
	int fd;

	switch (c) {
	case 'o': /* open a new file */ return open(subj_file("c"), O_RDWR) == 5;
	case 'x': /* close one */ return !close(4);
	case 'd': /* dup one: two fds, one open file */ return dup(3) == 5;
	case 'r': /* another file in place of fd 3 */
		fd = open(subj_file("c"), O_RDWR);
		return fd == 5 && dup2(5, 3) == 3 && !close(5);
	case 'n': /* new status flags on fd 3 */ return !fcntl(3, F_SETFL, O_NONBLOCK);
	case 'f': /* fork a child that waits */
		subj_child = fork();
		if (!subj_child)
			for (;;)
				pause();
		*val = (uint32_t)subj_child;
		return subj_child > 0;
	case 'k': /* the child exits and is reaped */
		return !kill(subj_child, SIGKILL) && waitpid(subj_child, NULL, 0) == subj_child;
	case 'F': /* fork a child that execs on SIGUSR1 */
		subj_child = fork();
		if (!subj_child) {
			int sig;

			sigwait(&usr1, &sig);
			execl("/bin/sleep", "sleep", "infinity", (char *)NULL);
			_exit(127);
		}
		*val = (uint32_t)subj_child;
		return subj_child > 0;
	case 'E': return !kill(subj_child, SIGUSR1) && asleep_after_exec(subj_child);
	case 'U': /* a child on our fd table, which unshares it on SIGUSR1 */
		subj_child = clone(unshare_on_signal, clone_stack + sizeof(clone_stack),
				   CLONE_FILES | SIGCHLD, NULL);
		*val = (uint32_t)subj_child;
		return subj_child > 0;
	case 'u': /* the child answers once it has its own table */
		*quiet = true;
		return !kill(subj_child, SIGUSR1);
	case 't':
		if (pthread_create(&t, NULL, park_thread, NULL))
			return false;
		while (!__atomic_load_n(&subj_thread, __ATOMIC_SEQ_CST))
			sched_yield();
		*val = subj_thread;
		return true;
	case 'p': return !prctl(PR_SET_NAME, "kt-renamed");
	case 's': return !unshare(CLONE_NEWUTS);
	}
	return false;
}

static void subject_main(int cmd, int rep)
{
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL); /* children inherit it: sigwait gets it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!subject_fds(cmd, rep) || prctl(PR_SET_NAME, "kt-subject"))
		_exit(1);
	reply('k', 0);
	for (;;) {
		uint32_t val = 0;
		bool quiet = false, ok;
		char c;

		if (read(SUBJ_CMD, &c, 1) != 1)
			_exit(0);
		ok = subject_step(c, &val, &quiet);
		if (!quiet || !ok)
			reply(ok ? 'k' : 'e', val);
	}
}

struct subject {
	pid_t pid;
	int cmd, rep;
};

static int subject_do(struct subject *sj, char c, uint32_t *val)
{
	char buf[5];

	if (write(sj->cmd, &c, 1) != 1 || read(sj->rep, buf, sizeof(buf)) != sizeof(buf) ||
	    buf[0] != 'k')
		return -1;
	if (val)
		memcpy(val, buf + 1, sizeof(*val));
	return 0;
}

static int subject_start(struct subject *sj)
{
	int c[2], r[2];
	char buf[5];

	if (pipe2(c, O_CLOEXEC) || pipe2(r, O_CLOEXEC))
		return -1;
	fflush(stdout);
	sj->pid = fork();
	if (sj->pid < 0)
		return -1;
	if (!sj->pid) {
		setpgid(0, 0);
		subject_main(c[0], r[1]);
	}
	setpgid(sj->pid, sj->pid);
	close(c[0]);
	close(r[1]);
	sj->cmd = c[1];
	sj->rep = r[0];
	return read(sj->rep, buf, sizeof(buf)) == sizeof(buf) && buf[0] == 'k' ? 0 : -1;
}

static void subject_stop(struct subject *sj)
{
	kill(-sj->pid, SIGKILL);
	close(sj->cmd);
	close(sj->rep);
	waitpid(sj->pid, NULL, 0);
}

struct step {
	char cmd;
	const char *const expect[16];
};

struct change {
	const char *name;
	const char *setup; /* commands before the first snapshot */
	struct step steps[2];
	bool back_to_start; /* the last snapshot equals the first */
};

#define FORK_FDS                                                                              \
	"fd + C:0", "fd + C:1", "fd + C:2", "fd + C:3", "fd + C:4", "fd + C:10", "fd + C:11", \
		"file ~ S:0 S:1 S:2 C:0 C:1 C:2 | added C:0 C:1 C:2 | removed - | from 1",    \
		"file + S:3 C:3", "file + S:4 C:4", "file + S:10 C:10", "file + S:11 C:11"

static const struct change changes[] = {
	{ .name = "open_file", .setup = "", .steps = { { 'o', { "fd + S:5" } } } },
	{ .name = "close_fd", .setup = "", .steps = { { 'x', { "fd - S:4" } } } },
	{ .name = "dup_shares_a_file",
	  .setup = "",
	  .steps = { { 'd', { "fd + S:5", "file + S:3 S:5" } } } },
	{ .name = "replace_fd", .setup = "", .steps = { { 'r', { "fd ~ S:3 ino,path" } } } },
	{ .name = "set_flags", .setup = "", .steps = { { 'n', { "fd ~ S:3 flags" } } } },
	{ .name = "fork_and_exit",
	  .setup = "",
	  .steps = { { 'f', { "task + C", FORK_FDS } },
		     { 'k',
		       { "task - C", "fd - C:0", "fd - C:1", "fd - C:2", "fd - C:3", "fd - C:4",
			 "fd - C:10", "fd - C:11",
			 "file ~ S:0 S:1 S:2 | added - | removed C:0 C:1 C:2 | from 1",
			 "file - S:3 C:3", "file - S:4 C:4", "file - S:10 C:10",
			 "file - S:11 C:11" } } },
	  .back_to_start = true },
	/* exec closes the close-on-exec fds: 4, 10 and 11 */
	{ .name = "exec",
	  .setup = "F",
	  .steps = { { 'E',
		       { "task ~ C comm", "fd - C:4", "fd - C:10", "fd - C:11", "file - S:4 C:4",
			 "file - S:10 C:10", "file - S:11 C:11" } } } },
	/* the child's copy of the table: its fds appear, still sharing the files */
	{ .name = "unshare_fd_table",
	  .setup = "U",
	  .steps = { { 'u', { FORK_FDS, "files - S C" } } } },
	/* pthread_create passes CLONE_SYSVSEM, which gives the process an undo list to share */
	{ .name = "thread",
	  .setup = "",
	  .steps = { { 't',
		       { "task + T", "vm + S T", "files + S T", "fs + S T", "sighand + S T",
			 "sysvsem + S T" } } } },
	{ .name = "rename", .setup = "", .steps = { { 'p', { "task ~ S comm" } } } },
	{ .name = "unshare_uts", .setup = "", .steps = { { 's', { "task ~ S ns.uts" } } } },
};

static void check_step(const char *name, const struct kt_snapshot *a, const struct kt_snapshot *b,
		       const struct roles *r, const char *const *expect)
{
	struct kt_snapshot ja, jb;
	char what[160];

	expect_diff(name, a, b, r, expect, false, true);
	snprintf(what, sizeof(what), "%s/reversed", name);
	expect_diff(what, b, a, r, expect, true, true);
	snprintf(what, sizeof(what), "%s/a_itself", name);
	expect_diff(what, a, a, r, nothing, false, false);
	if (json_copy(a, &ja))
		return;
	if (!json_copy(b, &jb)) {
		snprintf(what, sizeof(what), "%s/json_round_trips", name);
		expect_diff(what, &ja, &jb, r, expect, false, false);
		snprintf(what, sizeof(what), "%s/cold_vs_json", name);
		expect_diff(what, a, &jb, r, expect, false, false);
		snprintf(what, sizeof(what), "%s/json_vs_cold_reversed", name);
		expect_diff(what, &jb, a, r, expect, true, false);
		snapshot_free(&jb);
	}
	snapshot_free(&ja);
}

static void run_change(const struct change *ch)
{
	struct kt_snapshot snaps[3];
	struct subject sj;
	struct roles r = { 0 };
	uint32_t child = 0, thread = 0, val;
	int nsnaps = 0, nsteps = ch->steps[1].cmd ? 2 : 1;
	char what[128];

	if (!CHECK(!subject_start(&sj), tname(ch->name, "subject_started"), "no subject"))
		return;
	for (const char *c = ch->setup; *c; c++) {
		if (!CHECK(!subject_do(&sj, *c, &val), tname(ch->name, "setup"), "command %c", *c))
			goto out;
		child = val ? val : child;
	}
	if (!CHECK_CAPABLE(!take(&snaps[nsnaps], sj.pid), tname(ch->name, "snapshot"), "BPF"))
		goto out;
	nsnaps++;
	for (int s = 0; s < nsteps; s++) {
		const struct step *st = &ch->steps[s];

		val = 0;
		snprintf(what, sizeof(what), "%s/step_%c", ch->name, st->cmd);
		if (!CHECK(!subject_do(&sj, st->cmd, &val), what, "the subject failed"))
			goto out;
		if (st->cmd == 't')
			thread = val;
		else if (val)
			child = val;
		if (!CHECK(!take(&snaps[nsnaps], sj.pid), tname(what, "snapshot"),
			   "snapshot failed"))
			goto out;
		nsnaps++;
		/* roles from whichever snapshot has the task */
		memset(&r, 0, sizeof(r));
		role_add(&r, 'S', (uint32_t)sj.pid, &snaps[nsnaps - 1]);
		if (child)
			role_add(&r, 'C', child,
				 snapshot_find_tid(&snaps[nsnaps - 1], child) >= 0
					 ? &snaps[nsnaps - 1]
					 : &snaps[nsnaps - 2]);
		if (thread)
			role_add(&r, 'T', thread, &snaps[nsnaps - 1]);
		snprintf(what, sizeof(what), "%s%s%c", ch->name, nsteps > 1 ? "/" : "",
			 nsteps > 1 ? st->cmd : '\0');
		check_step(what, &snaps[nsnaps - 2], &snaps[nsnaps - 1], &r, st->expect);
	}
	if (ch->back_to_start)
		expect_diff(tname(ch->name, "first_vs_last"), &snaps[0], &snaps[nsnaps - 1], &r,
			    nothing, false, true);
out:
	for (int i = 0; i < nsnaps; i++)
		snapshot_free(&snaps[i]);
	subject_stop(&sj);
}

static bool make_subject_files(void)
{
	snprintf(subj_dir, sizeof(subj_dir), "/tmp/kcmptrace-diff.XXXXXX");
	if (!mkdtemp(subj_dir))
		return false;
	for (const char *t = "abc"; *t; t++) {
		char tag[2] = { *t, 0 };
		int fd = open(subj_file(tag), O_RDWR | O_CREAT | O_EXCL, 0600);

		if (fd < 0 || write(fd, tag, 1) != 1)
			return false;
		close(fd);
	}
	return true;
}

static void remove_subject_files(void)
{
	for (const char *t = "abc"; *t; t++) {
		char tag[2] = { *t, 0 };

		unlink(subj_file(tag));
	}
	rmdir(subj_dir);
}

/* ---- hand-built snapshots ---- */

struct syn_task {
	uint32_t tid, tgid;
	uint64_t start; /* 0: SYN_START(tid) */
	uint32_t vm, files, fs, sighand;
	const char *comm;
};

struct syn_fd {
	uint32_t tid;
	int fd;
	uint32_t file;
	const char *path;
	unsigned flags, ftype, dev;
	unsigned long long ino; /* 0: from the fd number */
	long long pos;
};

/* Every task is its own object of each kind unless the table says otherwise (id 0). */
static void syn_build(struct kt_snapshot *s, const struct syn_task *t, const struct syn_fd *f)
{
	snapshot_init(s, "json", KT_GENID_ADDR);
	snprintf(s->target, sizeof(s->target), "syn");
	for (; t && t->tid; t++) {
		struct kt_task_rec rec = { .rec_type = KT_REC_TASK,
					   .tid = t->tid,
					   .tgid = t->tgid ? t->tgid : t->tid,
					   .ppid = 1,
					   .start_ticks = t->start ? t->start : SYN_START(t->tid) };
		struct kt_task *k;

		snprintf(rec.comm, sizeof(rec.comm), "%s", t->comm ? t->comm : "t");
		if (!t->comm)
			snprintf(rec.comm, sizeof(rec.comm), "t%u", t->tid);
		rec.absent = 1u << KT_FILE | 1u << KT_IO | 1u << KT_SYSVSEM;
		for (int n = 0; n < KT_NR_NS; n++)
			rec.ns[n] = 4026531830u + (unsigned)n;
		k = snapshot_add_task(s, &rec);
		k->id[KT_VM] = t->vm ? t->vm : 1000 + t->tid;
		k->id[KT_FILES] = t->files ? t->files : 1000 + t->tid;
		k->id[KT_FS] = t->fs ? t->fs : 1000 + t->tid;
		k->id[KT_SIGHAND] = t->sighand ? t->sighand : 1000 + t->tid;
	}
	for (; f && f->tid; f++) {
		struct kt_fd_rec rec = { .rec_type = KT_REC_FD,
					 .tid = f->tid,
					 .fd = f->fd,
					 .ino = f->ino ? f->ino : 500 + (unsigned)f->fd,
					 .pos = f->pos,
					 .dev = f->dev ? f->dev : 8,
					 .flags = f->flags,
					 .ftype = (unsigned short)(f->ftype ? f->ftype
									    : KT_FT_REG) };
		const char *path = f->path ? f->path : "/syn";

		snapshot_add_fd(s, &rec, path, strlen(path))->id = f->file;
	}
	if (snapshot_index(s))
		abort();
	for (size_t i = 0; i < s->ntasks; i++)
		s->tasks[i].reader = s->tasks[i].nfds > 0;
	for (size_t i = 0; i < s->nfds; i++)
		s->fds[i].rec.tgid = s->tasks[s->fds[i].task].rec.tgid;
}

/* Designated, so that what is left out is zero without a word. */
/* clang-format off */
#define T(id, ...) { .tid = (id), __VA_ARGS__ }
#define FD(t, n, f, ...) { .tid = (t), .fd = (n), .file = (f), __VA_ARGS__ }
/* clang-format on */

struct syn_case {
	const char *name;
	struct syn_task a[8], b[8];
	struct syn_fd fa[8], fb[8];
	const char *const expect[8];
};

static const struct syn_case syn_cases[] = {
	{ "merge",
	  { T(1, .vm = 1), T(2, .vm = 1), T(3, .vm = 2), T(4, .vm = 2) },
	  { T(1, .vm = 7), T(2, .vm = 7), T(3, .vm = 7), T(4, .vm = 7) },
	  {},
	  {},
	  { "vm ~ 1 2 3 4 | added - | removed - | from 2" } },
	{ "split",
	  { T(1, .fs = 1), T(2, .fs = 1), T(3, .fs = 1), T(4, .fs = 1) },
	  { T(1, .fs = 5), T(2, .fs = 5), T(3, .fs = 9), T(4, .fs = 9) },
	  {},
	  {},
	  { "fs ~ 1 2 | added - | removed 3 4 | from 1",
	    "fs ~ 3 4 | added - | removed 1 2 | from 1" } },
	{ "grow_and_shrink",
	  { T(1, .sighand = 1), T(2, .sighand = 1), T(3, .sighand = 1), T(4) },
	  { T(1), T(2, .sighand = 3), T(3, .sighand = 3), T(4), T(5, .sighand = 3) },
	  {},
	  {},
	  { "task + 5", "sighand ~ 2 3 5 | added 5 | removed 1 | from 1" } },
	{ "ids_renumbered",
	  { T(1, .vm = 1, .files = 1), T(2, .vm = 1, .files = 1), T(3, .vm = 2) },
	  { T(1, .vm = 90, .files = 4), T(2, .vm = 90, .files = 4), T(3, .vm = 91) },
	  { FD(1, 0, 1), FD(1, 1, 1), FD(3, 0, 2) },
	  { FD(1, 0, 77), FD(1, 1, 77), FD(3, 0, 78) },
	  {} },
	/* the tid came back with another start time: another task */
	{ "tid_reused",
	  { T(1, .vm = 1), T(6, .vm = 1) },
	  { T(1, .vm = 1), T(6, .start = 9000, .vm = 1) },
	  {},
	  {},
	  { "task - 6", "task + 6@9000", "vm ~ 1 6@9000 | added 6@9000 | removed 6 | from 1" } },
	/* the table was read through 10, then through 11: the same fds */
	{ "table_reader_exited",
	  { T(10, .files = 1), T(11, .tgid = 10, .files = 1) },
	  { T(11, .tgid = 10, .files = 1) },
	  { FD(10, 0, 1), FD(10, 1, 1), FD(10, 2, 2) },
	  { FD(11, 0, 5), FD(11, 1, 5), FD(11, 2, 6) },
	  { "task - 10", "files - 10 11" } },
	{ "fd_fields",
	  { T(20) },
	  { T(20) },
	  { FD(20, 0, 1, .path = "/p"), FD(20, 1, 2, .flags = 2), FD(20, 2, 3, .pos = 10),
	    FD(20, 3, 4), FD(20, 4, 5), FD(20, 5, 6, .path = "/q") },
	  { FD(20, 0, 1, .path = "/p2"), FD(20, 1, 2, .flags = 02002), FD(20, 2, 3, .pos = 99999),
	    FD(20, 3, 4, .ftype = KT_FT_FIFO), FD(20, 4, 5, .dev = 9),
	    FD(20, 5, 6, .path = "/q2", .ino = 1) },
	  { "fd ~ 20:0 path", "fd ~ 20:1 flags", "fd ~ 20:3 type", "fd ~ 20:4 dev",
	    "fd ~ 20:5 ino,path" } },
	{ "from_nothing",
	  {},
	  { T(1, .vm = 3), T(2, .vm = 3) },
	  {},
	  { FD(1, 4, 1), FD(2, 4, 1) },
	  { "task + 1", "task + 2", "vm + 1 2", "fd + 1:4", "fd + 2:4", "file + 1:4 2:4" } },
};

static void syn_task_fields(void)
{
	static const struct syn_task t[] = { T(30), T(31), {} };
	struct kt_snapshot a, b;

	syn_build(&a, t, NULL);
	syn_build(&b, t, NULL);
	snprintf(b.tasks[0].rec.comm, KT_COMM_LEN, "other");
	b.tasks[0].rec.ppid = 77;
	b.tasks[1].rec.ns[KT_NS_NET]++;
	b.tasks[1].rec.ns[KT_NS_TIME]++;
	expect_diff(
		"syn/task_fields", &a, &b, NULL,
		(const char *const[]){ "task ~ 30 comm,ppid", "task ~ 31 ns.net,ns.time", NULL },
		false, true);
	snapshot_free(&a);
	snapshot_free(&b);
}

/* Dropped tasks and fds are not in the snapshot, so not in a diff. */
static void syn_dropped(void)
{
	static const struct syn_task ta[] = { T(40, .vm = 1), T(41, .vm = 1), {} };
	static const struct syn_task tb[] = { T(40, .vm = 1), {} };
	static const struct syn_fd fa[] = { FD(40, 0, 1), FD(40, 1, 1), FD(41, 3, 2), {} };
	static const struct syn_fd fb[] = { FD(40, 0, 1), {} };
	struct kt_snapshot a, b;

	syn_build(&a, ta, fa);
	syn_build(&b, tb, fb);
	a.tasks[1].dropped = true;
	a.fds[1].dropped = true;
	expect_diff("syn/dropped_left_out", &a, &b, NULL, nothing, false, true);
	snapshot_free(&a);
	snapshot_free(&b);
}

/* The readable form, exactly, and a name that would break a line. */
static void syn_text(void)
{
	static const struct syn_task ta[] = { T(1, .sighand = 1), T(2, .sighand = 1), {} };
	static const struct syn_task tb[] = {
		T(1, .sighand = 1), T(2, .sighand = 1), T(3, .sighand = 1, .comm = "bad\nname"), {}
	};
	static const struct syn_fd fa[] = { FD(1, 7, 1, .path = "/x"), {} };
	static const struct syn_fd fb[] = { FD(1, 7, 1, .path = "/x"),
					    FD(3, 7, 1, .path = "/x"),
					    {} };
	static const char want[] = "--- A (backend json, target syn)\n"
				   "+++ B (backend json, target syn)\n"
				   "\n"
				   "Tasks:\n"
				   "  + 3 bad\\x0aname: tgid 3, ppid 1\n"
				   "\n"
				   "Fds:\n"
				   "  + 3 bad\\x0aname fd 7: /x [reg]\n"
				   "\n"
				   "Shared file:\n"
				   "  + /x [reg]: 1 t1 fd 7, 3 bad\\x0aname fd 7\n"
				   "\n"
				   "Shared sighand:\n"
				   "  ~ 1 t1, 2 t2, 3 bad\\x0aname\n"
				   "      added: 3 bad\\x0aname\n"
				   "\n"
				   "4 differences: 1 tasks, 1 fds, 2 sharing groups\n";
	struct kt_snapshot a, b;
	struct kt_diff d;
	char *text;

	syn_build(&a, ta, fa);
	syn_build(&b, tb, fb);
	if (!CHECK(!diff_compute(&d, &a, &b), "syn/text/computed", "diff_compute failed"))
		return;
	text = diff_text(&d);
	CHECK(text && !strcmp(text, want), "syn/text", "got:\n%s", text ? text : "nothing");
	free(text);
	diff_free(&d);
	snapshot_free(&a);
	snapshot_free(&b);
}

static void syn_one(const struct syn_case *c)
{
	struct kt_snapshot a, b, ja, jb;
	char what[96];

	syn_build(&a, c->a, c->fa);
	syn_build(&b, c->b, c->fb);
	snprintf(what, sizeof(what), "syn/%s", c->name);
	expect_diff(what, &a, &b, NULL, c->expect, false, true);
	/* a split's mirror is a merge: the mirror rule holds for from 1 only */
	if (strcmp(c->name, "merge") && strcmp(c->name, "split")) {
		snprintf(what, sizeof(what), "syn/%s/reversed", c->name);
		expect_diff(what, &b, &a, NULL, c->expect, true, true);
	}
	if (!json_copy(&a, &ja)) {
		if (!json_copy(&b, &jb)) {
			snprintf(what, sizeof(what), "syn/%s/json_round_trips", c->name);
			expect_diff(what, &ja, &jb, NULL, c->expect, false, false);
			snapshot_free(&jb);
		}
		snapshot_free(&ja);
	}
	snapshot_free(&a);
	snapshot_free(&b);
}

static void syn_merge_split_reversed(void)
{
	struct kt_snapshot a, b;

	syn_build(&a, syn_cases[0].a, NULL);
	syn_build(&b, syn_cases[0].b, NULL);
	expect_diff("syn/merge/reversed_is_a_split", &b, &a, NULL,
		    (const char *const[]){ "vm ~ 1 2 | added - | removed 3 4 | from 1",
					   "vm ~ 3 4 | added - | removed 1 2 | from 1", NULL },
		    false, true);
	snapshot_free(&a);
	snapshot_free(&b);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 100k fds in 1000 processes, each file shared by two of them; B loses 100
 * processes, gains 100 and changes a fd in every tenth.  The answer is
 * known, and it must come fast.
 */
static void syn_large(void)
{
	const uint32_t nproc = 1000, per = 100;
	struct kt_snapshot a, b;
	struct kt_diff d;
	size_t want_tasks = 200, want_fds = 100 * per * 2 + 90;
	double t0, t_same, t_diff;
	int r;

	for (int side = 0; side < 2; side++) {
		struct kt_snapshot *s = side ? &b : &a;

		snapshot_init(s, "json", KT_GENID_ADDR);
		for (uint32_t p = 0; p < nproc; p++) {
			/* B: processes 0..99 are gone, 1000..1099 new */
			uint32_t tid = 100 + (side && p < 100 ? p + nproc : p);
			struct kt_task_rec rec = { .rec_type = KT_REC_TASK,
						   .tid = tid,
						   .tgid = tid,
						   .start_ticks = SYN_START(tid) };
			struct kt_task *t;

			snprintf(rec.comm, sizeof(rec.comm), "p%u", tid);
			rec.absent = 1u << KT_FILE | 1u << KT_IO | 1u << KT_SYSVSEM;
			t = snapshot_add_task(s, &rec);
			for (int k = KT_VM; k <= KT_SIGHAND; k++)
				t->id[k] = tid * 3 + (side ? 7 : 0);
			for (uint32_t f = 0; f < per; f++) {
				struct kt_fd_rec fr = { .rec_type = KT_REC_FD,
							.tid = tid,
							.fd = (int)f,
							.ftype = KT_FT_REG,
							.dev = 8,
							.ino = (tid / 2) * per + f };
				char path[32];
				int n = snprintf(path, sizeof(path), "/f%llu", fr.ino);

				/* every tenth process has fd 5 on something else in B */
				if (side && tid % 10 == 0 && f == 5)
					fr.ino += 1000000000;
				snapshot_add_fd(s, &fr, path, (size_t)n)->id =
					(uint32_t)((tid / 2) * per + f + 1 + (side ? 11 : 0));
			}
		}
		if (snapshot_index(s))
			abort();
		for (size_t i = 0; i < s->ntasks; i++)
			s->tasks[i].reader = true;
	}
	t0 = now_s();
	r = diff_compute(&d, &a, &a);
	t_same = now_s() - t0;
	CHECK(r == 0 && diff_count(&d) == 0, "syn/large/itself", "r=%d count %zu", r,
	      r ? 0 : diff_count(&d));
	if (!r)
		diff_free(&d);
	t0 = now_s();
	r = diff_compute(&d, &a, &b);
	t_diff = now_s() - t0;
	if (CHECK(r == 0, "syn/large/computed", "%s", strerror(-r))) {
		/* 90 of the remaining 900 processes have fd 5 changed (ino, path) */
		/* 50 pairs gone and 50 new, 100 shared files each; fd 5 changed its inode only */
		CHECK(d.ntasks == want_tasks && d.nfds == want_fds && d.ngroups == 2 * 50 * per,
		      "syn/large/answer", "%zu tasks, %zu fds, %zu groups; want %zu, %zu, %u",
		      d.ntasks, d.nfds, d.ngroups, want_tasks, want_fds, 2 * 50 * per);
		diff_free(&d);
	}
	printf("# 100k fds: itself %.3f s, changed %.3f s\n", t_same, t_diff);
	CHECK(t_same < 2 && t_diff < 2, "syn/large/fast", "%.3f s and %.3f s for 100k fds", t_same,
	      t_diff);
	snapshot_free(&a);
	snapshot_free(&b);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;

	for (size_t i = 0; i < sizeof(syn_cases) / sizeof(syn_cases[0]); i++)
		syn_one(&syn_cases[i]);
	syn_merge_split_reversed();
	syn_task_fields();
	syn_dropped();
	syn_text();
	syn_large();
	if (!CHECK(make_subject_files(), "subject_files", "%s", strerror(errno)))
		return check_exit();
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (!filter || strstr(changes[i].name, filter))
			run_change(&changes[i]);
	remove_subject_files();
	for (int i = 0; i < wl_nr_scenarios; i++)
		if (!filter || strstr(wl_scenarios[i].name, filter))
			same_workload(&wl_scenarios[i]);
	return check_exit();
}
