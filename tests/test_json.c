// SPDX-License-Identifier: LGPL-2.1
/*
 * JSON snapshots: real snapshots of the workloads survive export_json()
 * and the reader field for field, and writing what was read reproduces
 * the document byte for byte.  Broken documents (truncated anywhere,
 * another schema or version, wrong types, garbage, random damage) are
 * refused with one line naming the file and where, and never crash.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "backend.h"
#include "check.h"
#include "export.h"
#include "snapshot_json.h"
#include "workload.h"

#define DOC_NAME "T.json"

static char name_buf[256];

static const char *tname(const char *a, const char *b)
{
	snprintf(name_buf, sizeof(name_buf), "%s/%s", a, b);
	return name_buf;
}

static int take(struct kt_snapshot *s, pid_t root, int genid, bool paths)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_backend_opts o = { .genid = genid, .want_paths = paths };

	return snapshot_take(s, &t, &o, KT_BACKEND_BPF, false);
}

/* The whole document in memory; NULL on failure. */
static char *to_json(const struct kt_snapshot *s, const char *target, bool stats, size_t *len)
{
	struct kt_export_opts o = { .target_desc = target, .stats = stats };
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int r;

	if (!f)
		return NULL;
	r = export_json(f, s, &o);
	if (fclose(f) || r) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- field-for-field comparison ---- */

static bool fd_exported(const struct kt_snapshot *s, const struct kt_fd *f)
{
	return f->id && !f->dropped && f->task < s->ntasks && !s->tasks[f->task].dropped;
}

#define MISMATCH(...) (snprintf(why, len, __VA_ARGS__), false)

static bool same_task(const struct kt_task *o, const struct kt_task *p, char *why, size_t len)
{
	const uint32_t flags = KT_TASK_KTHREAD | KT_TASK_EXITING | KT_TASK_LEADER;

	if (o->rec.tid != p->rec.tid || o->rec.tgid != p->rec.tgid || o->rec.ppid != p->rec.ppid ||
	    o->rec.start_ticks != p->rec.start_ticks)
		return MISMATCH("task %u: identity %u/%u/%u/%llu read as %u/%u/%u/%llu", o->rec.tid,
				o->rec.tid, o->rec.tgid, o->rec.ppid, o->rec.start_ticks,
				p->rec.tid, p->rec.tgid, p->rec.ppid, p->rec.start_ticks);
	if (strncmp(o->rec.comm, p->rec.comm, KT_COMM_LEN))
		return MISMATCH("task %u: comm '%s' read as '%s'", o->rec.tid, o->rec.comm,
				p->rec.comm);
	if ((o->rec.flags & flags) != (p->rec.flags & flags))
		return MISMATCH("task %u: flags %#x read as %#x", o->rec.tid, o->rec.flags & flags,
				p->rec.flags & flags);
	for (int n = 0; n < KT_NR_NS; n++)
		if (o->rec.ns[n] != p->rec.ns[n])
			return MISMATCH("task %u: ns.%s %u read as %u", o->rec.tid, kt_ns_name(n),
					o->rec.ns[n], p->rec.ns[n]);
	for (int k = KT_VM; k < KT_NR_KINDS; k++) {
		if (o->id[k] != p->id[k])
			return MISMATCH("task %u: %s id %u read as %u", o->rec.tid, kt_kind_name(k),
					o->id[k], p->id[k]);
		if (!!(p->rec.absent & (1u << k)) != !o->id[k])
			return MISMATCH("task %u: %s absent bit %d with id %u", o->rec.tid,
					kt_kind_name(k), !!(p->rec.absent & (1u << k)), o->id[k]);
	}
	if (p->reader != (p->nfds > 0))
		return MISMATCH("task %u: reader %d with %u fds", p->rec.tid, p->reader, p->nfds);
	return true;
}

static bool same_fd(const struct kt_snapshot *so, const struct kt_fd *o,
		    const struct kt_snapshot *sp, const struct kt_fd *p, char *why, size_t len)
{
	const struct kt_task *to = &so->tasks[o->task], *tp = &sp->tasks[p->task];

	if (to->rec.tid != tp->rec.tid || p->rec.tid != tp->rec.tid || o->rec.fd != p->rec.fd)
		return MISMATCH("fd %u/%d read as %u/%d (task %u)", to->rec.tid, o->rec.fd,
				p->rec.tid, p->rec.fd, tp->rec.tid);
	if (o->rec.tgid != p->rec.tgid || to->id[KT_FILES] != tp->id[KT_FILES])
		return MISMATCH("fd %u/%d: tgid %u files %u read as %u, %u", to->rec.tid, o->rec.fd,
				o->rec.tgid, to->id[KT_FILES], p->rec.tgid, tp->id[KT_FILES]);
	if (o->id != p->id || o->rec.ftype != p->rec.ftype || o->rec.flags != p->rec.flags ||
	    o->rec.pos != p->rec.pos || o->rec.dev != p->rec.dev || o->rec.ino != p->rec.ino)
		return MISMATCH("fd %u/%d: file %u type %u flags %#x pos %lld dev %u ino %llu "
				"read as %u %u %#x %lld %u %llu",
				to->rec.tid, o->rec.fd, o->id, o->rec.ftype, o->rec.flags,
				o->rec.pos, o->rec.dev, o->rec.ino, p->id, p->rec.ftype,
				p->rec.flags, p->rec.pos, p->rec.dev, p->rec.ino);
	if (strcmp(snapshot_path(so, o), snapshot_path(sp, p)) ||
	    o->rec.path_len != p->rec.path_len)
		return MISMATCH("fd %u/%d: path '%s' (%u) read as '%s' (%u)", to->rec.tid,
				o->rec.fd, snapshot_path(so, o), o->rec.path_len,
				snapshot_path(sp, p), p->rec.path_len);
	return true;
}

static bool same_header(const struct kt_snapshot *o, const struct kt_snapshot *p,
			const char *target, bool stats, char *why, size_t len)
{
	if (strcmp(o->backend, p->backend) || o->genid != p->genid || strcmp(target, p->target))
		return MISMATCH("backend %s genid %d target '%s' read as %s %d '%s'", o->backend,
				o->genid, target, p->backend, p->genid, p->target);
	if (o->taken_at_ns != p->taken_at_ns || o->lost_events != p->lost_events)
		return MISMATCH(
			"taken_at_ns %llu lost %llu read as %llu %llu",
			(unsigned long long)o->taken_at_ns, (unsigned long long)o->lost_events,
			(unsigned long long)p->taken_at_ns, (unsigned long long)p->lost_events);
	if (!stats)
		return true;
	if (o->dropped_tasks != p->dropped_tasks || o->dropped_fds != p->dropped_fds ||
	    o->inaccessible_tasks != p->inaccessible_tasks)
		return MISMATCH("dropped/inaccessible counts differ");
	for (int i = 0; i < KT_NR_PHASES; i++)
		if (o->phase_ns[i] != p->phase_ns[i])
			return MISMATCH("phase %s: %llu ns read as %llu",
					snapshot_json_phase_name(i),
					(unsigned long long)o->phase_ns[i],
					(unsigned long long)p->phase_ns[i]);
	for (int k = 0; k < KT_NR_KINDS; k++)
		if (memcmp(&o->kind_stats[k], &p->kind_stats[k], sizeof(o->kind_stats[k])))
			return MISMATCH("kind %s: statistics differ", kt_kind_name(k));
	return true;
}

static bool same_tasks(const struct kt_snapshot *o, const struct kt_snapshot *p, char *why,
		       size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < o->ntasks; i++) {
		if (o->tasks[i].dropped)
			continue;
		if (j == p->ntasks)
			return MISMATCH("task %u missing", o->tasks[i].rec.tid);
		if (!same_task(&o->tasks[i], &p->tasks[j++], why, len))
			return false;
	}
	if (j != p->ntasks)
		return MISMATCH("%zu tasks read, %zu written", p->ntasks, j);
	return true;
}

static bool same_fds(const struct kt_snapshot *o, const struct kt_snapshot *p, char *why,
		     size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < o->nfds; i++) {
		if (!fd_exported(o, &o->fds[i]))
			continue;
		if (j == p->nfds)
			return MISMATCH("fd %d of %u missing", o->fds[i].rec.fd, o->fds[i].rec.tid);
		if (!same_fd(o, &o->fds[i], p, &p->fds[j++], why, len))
			return false;
	}
	if (j != p->nfds)
		return MISMATCH("%zu fds read, %zu written", p->nfds, j);
	return true;
}

/* A holder by what it is, not where it is stored. */
static uint64_t member_key(const struct kt_snapshot *s, int kind, uint32_t m)
{
	if (kind == KT_FILE)
		return (uint64_t)s->tasks[s->fds[m].task].rec.tid << 32 |
		       (uint32_t)s->fds[m].rec.fd;
	return (uint64_t)s->tasks[m].rec.tid << 32;
}

static bool same_groups(const struct kt_snapshot *o, const struct kt_snapshot *p, char *why,
			size_t len)
{
	struct kt_groups go, gp;
	bool ok = true;

	if (groups_build(&go, o))
		return MISMATCH("groups_build failed");
	if (groups_build(&gp, p)) {
		groups_free(&go);
		return MISMATCH("groups_build failed");
	}
	if (go.ngroups != gp.ngroups)
		ok = MISMATCH("%zu groups, %zu read back", go.ngroups, gp.ngroups);
	for (size_t i = 0; ok && i < go.ngroups; i++) {
		const struct kt_group *a = &go.groups[i], *b = &gp.groups[i];

		if (a->kind != b->kind || a->id != b->id || a->nmembers != b->nmembers ||
		    a->nprocs != b->nprocs) {
			ok = MISMATCH(
				"group %zu: %s %u (%u holders, %u procs) read as %s %u (%u, %u)", i,
				kt_kind_name(a->kind), a->id, a->nmembers, a->nprocs,
				kt_kind_name(b->kind), b->id, b->nmembers, b->nprocs);
			break;
		}
		for (uint32_t m = 0; ok && m < a->nmembers; m++)
			if (member_key(o, a->kind, go.members[a->first + m]) !=
			    member_key(p, b->kind, gp.members[b->first + m]))
				ok = MISMATCH("group %s %u: holder %u differs",
					      kt_kind_name(a->kind), a->id, m);
	}
	groups_free(&go);
	groups_free(&gp);
	return ok;
}

/* Read back, compare everything, and write it again. */
static void round_trip(const char *sc, const char *variant, const struct kt_snapshot *s, bool stats)
{
	char what[96], why[512] = "", err[512] = "";
	const char *target = "process tree of a workload \"quoted\" \\ and \t tab";
	struct kt_snapshot p;
	size_t len = 0, len2 = 0;
	char *doc = to_json(s, target, stats, &len), *again;
	int r;

	snprintf(what, sizeof(what), "%s/%s", sc, variant);
	if (!CHECK(doc != NULL, tname(what, "export"), "export_json failed"))
		return;
	r = snapshot_json_parse(doc, len, DOC_NAME, &p, err, sizeof(err));
	if (CHECK(r == 0, tname(what, "parse"), "%s", err)) {
		CHECK(same_header(s, &p, target, stats, why, sizeof(why)),
		      tname(what, "header_equal"), "%s", why);
		CHECK(same_tasks(s, &p, why, sizeof(why)), tname(what, "tasks_equal"), "%s", why);
		CHECK(same_fds(s, &p, why, sizeof(why)), tname(what, "fds_equal"), "%s", why);
		CHECK(same_groups(s, &p, why, sizeof(why)), tname(what, "groups_equal"), "%s", why);
		again = to_json(&p, p.target, stats, &len2);
		CHECK(again && len2 == len && !memcmp(doc, again, len),
		      tname(what, "rewrite_byte_identical"), "%zu bytes, rewritten %zu", len, len2);
		free(again);
		snapshot_free(&p);
	}
	free(doc);
}

/* ---- refusals ---- */

/* One line, the file named first, and where: "line L, column C (byte B)". */
static bool positioned(const char *err, long *byte)
{
	long line, col;
	const char *p = strstr(err, ": line ");

	*byte = -1;
	if (strncmp(err, DOC_NAME ": ", strlen(DOC_NAME) + 2) || strchr(err, '\n') || !p)
		return false;
	return sscanf(p, ": line %ld, column %ld (byte %ld)", &line, &col, byte) == 3 &&
	       line >= 1 && col >= 1 && *byte >= 0;
}

/* Cross-reference errors name the element ("fds[3]", "tasks") instead. */
static bool names_element(const char *err)
{
	return !strncmp(err, DOC_NAME ": ", strlen(DOC_NAME) + 2) && !strchr(err, '\n') &&
	       (strstr(err, ": fds[") || strstr(err, ": fds:") || strstr(err, ": tasks:"));
}

/* Parse @len bytes of @doc: -EINVAL expected, with a sane message and an empty snapshot. */
static int refuse(const char *doc, size_t len, char *err, size_t err_len)
{
	struct kt_snapshot s;
	int r;

	memset(&s, 0xa5, sizeof(s));
	err[0] = '\0';
	r = snapshot_json_parse(doc, len, DOC_NAME, &s, err, err_len);
	if (r == 0) {
		snapshot_free(&s);
		return 0;
	}
	if (s.ntasks || s.nfds || s.tasks || s.fds)
		return -100; /* an error must leave nothing behind */
	return r;
}

static void truncations(const char *doc, size_t len, const char *sc)
{
	/* every offset of a small document; of a large one, its ends and some hundred */
	size_t tried = 0, bad = 0, step = len > 40000 ? len / 300 : 1;
	char err[512], first[700] = "";
	long byte;

	/* without its newline the document is still whole: every shorter cut is not */
	for (size_t cut = 0; cut + 1 < len; cut += (cut < 400 || cut + 40 >= len) ? 1 : step) {
		if (cut + 40 < len && cut + step + 40 > len)
			cut = len - 40; /* the last bytes one by one */
		int r = refuse(doc, cut, err, sizeof(err));

		tried++;
		if (r == -EINVAL && positioned(err, &byte) && (size_t)byte <= cut)
			continue;
		if (!bad++)
			snprintf(first, sizeof(first), "cut at %zu: r=%d '%s'", cut, r, err);
	}
	CHECK(bad == 0 && tried > 100, tname(sc, "truncated_everywhere_refused"),
	      "%zu of %zu cuts wrong, first: %s", bad, tried, first);
	CHECK(refuse(doc, len - 1, err, sizeof(err)) == 0, tname(sc, "without_newline_accepted"),
	      "%s", err);
}

/* @doc with its first @nth occurrence of @needle replaced; caller frees. */
static char *replace(const char *doc, const char *needle, const char *with, int nth)
{
	const char *p = doc;
	char *out;

	for (; p && nth >= 0; nth--)
		if ((p = strstr(p, needle)) && nth)
			p += strlen(needle);
	if (!p)
		return NULL;
	out = malloc(strlen(doc) + strlen(with) + 1);
	if (!out)
		return NULL;
	memcpy(out, doc, (size_t)(p - doc));
	strcpy(out + (p - doc), with);
	strcat(out, p + strlen(needle));
	return out;
}

/* Where the value of the first "key": after @from ends. */
static const char *value_end(const char *v)
{
	int depth = 0;
	bool str = false;

	for (const char *p = v; *p; p++) {
		if (str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				str = false;
			if (!str && !depth)
				return p + 1;
			continue;
		}
		if (*p == '"')
			str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (!depth)
				return p;
			if (!--depth)
				return p + 1;
		} else if (*p == ',' && !depth)
			return p;
	}
	return NULL;
}

/* @doc with the value of the first "@key": inside @within (or anywhere) set to @value. */
static char *set_value(const char *doc, const char *within, const char *key, const char *value)
{
	char k[64], *out;
	const char *start = within ? strstr(doc, within) : doc, *v, *end;

	snprintf(k, sizeof(k), "\"%s\":", key);
	v = start ? strstr(start, k) : NULL;
	if (!v)
		return NULL;
	v += strlen(k);
	end = value_end(v);
	if (!end)
		return NULL;
	out = malloc(strlen(doc) + strlen(value) + 1);
	if (!out)
		return NULL;
	memcpy(out, doc, (size_t)(v - doc));
	strcpy(out + (v - doc), value);
	strcat(out, end);
	return out;
}

struct bad_value {
	const char *within, *key, *value;
	const char *says; /* in the message */
};

static const struct bad_value bad_values[] = {
	{ "\"tasks\":[", "tid", "\"1\"", "tasks[0].tid: expected an integer, not a string" },
	{ "\"tasks\":[", "tid", "0", "tasks[0].tid: 0 is out of range" },
	{ "\"tasks\":[", "comm", "42", "tasks[0].comm: expected a string, not an integer" },
	{ "\"tasks\":[", "comm", "\"a-comm-of-16-byt\"", "tasks[0].comm: longer than 15 bytes" },
	{ "\"tasks\":[", "start", "true", "tasks[0].start: expected an integer, not a boolean" },
	{ "\"tasks\":[", "start", "-5", "tasks[0].start: -5 is out of range" },
	{ "\"tasks\":[", "kthread", "0", "tasks[0].kthread: expected a boolean" },
	{ "\"tasks\":[", "ids", "[]", "tasks[0].ids: expected an object, not an array" },
	{ "\"tasks\":[", "vm", "\"1\"", "tasks[0].ids.vm: expected an integer" },
	{ "\"tasks\":[", "vm", "0", "tasks[0].ids.vm: 0 is out of range" },
	{ "\"tasks\":[", "ns", "null", "tasks[0].ns: expected an object, not null" },
	{ "\"tasks\":[", "net", "4294967296", "tasks[0].ns.net: 4294967296 is out of range" },
	{ "\"fds\":[", "fd", "-7", "fds[0].fd: -7 is out of range (0..2147483647)" },
	{ "\"fds\":[", "fd", "2147483648", "fds[0].fd: 2147483648 is out of range" },
	{ "\"fds\":[", "type", "\"bogus\"", "fds[0].type: unknown file type \"bogus\"" },
	{ "\"fds\":[", "ino", "1.5", "fds[0].ino: expected an integer, not a fractional number" },
	{ "\"fds\":[", "file", "{}", "fds[0].file: expected an integer, not an object" },
	{ "\"fds\":[", "flags", "-1", "fds[0].flags: -1 is out of range" },
	{ NULL, "tasks", "{}", "tasks: expected an array, not an object" },
	{ NULL, "fds", "[1]", "fds[0]: expected an object, not an integer" },
	{ NULL, "taken_at_ns", "\"now\"", "taken_at_ns: expected an integer, not a string" },
	{ NULL, "genid", "\"md5\"", "genid: unknown gen_id scheme \"md5\"" },
	{ NULL, "target", "[\"x\"]", "target: expected a string, not an array" },
	{ NULL, "lost_events", "-1", "lost_events: -1 is out of range" },
};

static void wrong_values(const char *doc, const char *sc)
{
	char err[512], what[64];
	long byte;

	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		const struct bad_value *b = &bad_values[i];
		char *bad = set_value(doc, b->within, b->key, b->value);
		int r;

		snprintf(what, sizeof(what), "wrong_value/%s=%s", b->key, b->value);
		if (!bad) {
			CHECK(false, tname(sc, what), "no \"%s\" to change", b->key);
			continue;
		}
		r = refuse(bad, strlen(bad), err, sizeof(err));
		CHECK(r == -EINVAL && positioned(err, &byte) && strstr(err, b->says),
		      tname(sc, what), "r=%d '%s', want '%s'", r, err, b->says);
		free(bad);
	}
}

struct edit {
	const char *name, *needle, *with;
	int nth;
	const char *says;
	bool position; /* line/column given; else the element is named */
};

static const struct edit edits[] = {
	{ "missing_member", "\"lost_events\":0", "\"lost_evnts\":0", 0, "missing \"lost_events\"",
	  true },
	{ "duplicate_key", "\"backend\":", "\"target\":\"x\",\"backend\":", 0, "duplicate key",
	  true },
	{ "trailing_garbage", "}\n", "} x\n", -1, "trailing garbage", true },
	{ "comment", "{\"schema\"", "{/* hi */\"schema\"", 0, "", true },
	{ "second_document", "}\n", "}{}\n", -1, "trailing garbage", true },
	{ "nul_in_comm", "\"comm\":\"", "\"comm\":\"\\u0000", 0, "contains a NUL", true },
	{ "invalid_utf8", "\"comm\":\"", "\"comm\":\"\xc3\x28", 0, "invalid", true },
	{ "fd_of_unknown_task", "\"fds\":[{\"tid\":", "\"fds\":[{\"tid\":4000000000,\"x\":", 0,
	  "fds[0]: tid 4000000000 is not in \"tasks\"", false },
};

/* The last occurrence when nth is -1. */
static char *edit_doc(const char *doc, const struct edit *e)
{
	int n = e->nth;

	if (n < 0) {
		n = 0;
		for (const char *p = strstr(doc, e->needle); p && (p = strstr(p + 1, e->needle));)
			n++;
	}
	return replace(doc, e->needle, e->with, n);
}

static void edited(const char *doc, const char *sc)
{
	char err[512], what[64];
	long byte;

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const struct edit *e = &edits[i];
		char *bad = edit_doc(doc, e);
		int r;

		snprintf(what, sizeof(what), "malformed/%s", e->name);
		if (!bad) {
			CHECK(false, tname(sc, what), "nothing to edit");
			continue;
		}
		/* "fds[0]: tid ... is not": the id it refers to is the one edited */
		r = refuse(bad, strlen(bad), err, sizeof(err));
		CHECK(r == -EINVAL && (e->position ? positioned(err, &byte) : names_element(err)) &&
			      strstr(err, e->says),
		      tname(sc, what), "r=%d '%s', want '%s'", r, err, e->says);
		free(bad);
	}
}

/* Another schema or version is named as such wherever its members are. */
static void schema_and_version(const char *doc, const char *sc)
{
	char err[512];
	char *bad, *moved, *broken;
	int r;

	bad = replace(doc, "\"kcmptrace-snapshot\"", "\"kcmptrace-snapshoX\"", 0);
	r = refuse(bad, strlen(bad), err, sizeof(err));
	CHECK(r == -EINVAL && !strcmp(err, DOC_NAME ": not a kcmptrace snapshot (\"schema\" is not "
						    "\"kcmptrace-snapshot\")"),
	      tname(sc, "wrong_schema"), "r=%d '%s'", r, err);
	free(bad);

	bad = replace(doc, "\"version\":1,", "\"version\":2,", 0);
	r = refuse(bad, strlen(bad), err, sizeof(err));
	CHECK(r == -EINVAL && !strcmp(err, DOC_NAME ": unsupported snapshot version 2"),
	      tname(sc, "wrong_version"), "r=%d '%s'", r, err);
	free(bad);

	/* version last, after content this version would refuse anyway */
	moved = replace(doc, "\"version\":1,", "", 0);
	broken = moved ? replace(moved, "}\n", ",\"version\":7}\n", 0) : NULL;
	free(moved);
	moved = broken ? set_value(broken, "\"fds\":[", "fd", "\"x\"") : NULL;
	r = moved ? refuse(moved, strlen(moved), err, sizeof(err)) : 0;
	CHECK(r == -EINVAL && !strcmp(err, DOC_NAME ": unsupported snapshot version 7"),
	      tname(sc, "wrong_version_last_wins_over_errors"), "r=%d '%s'", r, err);
	free(broken);
	free(moved);

	bad = replace(doc, "\"version\":1,", "\"version\":\"1\",", 0);
	r = refuse(bad, strlen(bad), err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "version: expected an integer, not a string"),
	      tname(sc, "version_as_string"), "r=%d '%s'", r, err);
	free(bad);

	bad = replace(doc, "\"schema\":\"kcmptrace-snapshot\",", "", 0);
	r = refuse(bad, strlen(bad), err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, "missing \"schema\""), tname(sc, "no_schema"),
	      "r=%d '%s'", r, err);
	free(bad);
}

static const char *const garbage[] = {
	"",
	" ",
	"\n",
	"null",
	"42",
	"\"kcmptrace-snapshot\"",
	"[]",
	"[{\"schema\":\"kcmptrace-snapshot\",\"version\":1}]",
	"{}",
	"{",
	"}",
	"{\"schema\":",
	"{\"schema\":\"kcmptrace-snapshot\",\"version\":1}",
	"{\"schema\":\"kcmptrace-snapshot\",\"version\":1,\"tasks\":[7]}",
	"{\"schema\":\"kcmptrace-snapshot\",\"version\":1,\"tasks\":[[[[[[[[[[[[[[]]]]]]]]]]]]]]}",
	"\xff\xfe\x00\x01",
	"<html><body>502 Bad Gateway</body></html>",
	"{'schema': 'kcmptrace-snapshot'}",
	"{\"schema\":\"kcmptrace-snapshot\",\"version\":1e0}",
	"{\"schema\":\"kcmptrace-snapshot\",\"version\":99999999999999999999999}",
};

static void garbage_in(void)
{
	char err[512], what[64];
	long byte;

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		int r = refuse(garbage[i], strlen(garbage[i]) + (i == 15 ? 2 : 0), err,
			       sizeof(err));

		snprintf(what, sizeof(what), "garbage/%zu", i);
		CHECK(r == -EINVAL && (positioned(err, &byte) || names_element(err)), what,
		      "r=%d '%s'", r, err);
	}
}

/* Deep nesting in a member this version skips, and in one it reads. */
static void deep(void)
{
	size_t n = 100000, len = 0;
	char *doc = malloc(2 * n + 200), err[512];
	long byte;
	int r;

	len += (size_t)sprintf(doc, "{\"schema\":\"kcmptrace-snapshot\",\"version\":1,\"zz\":");
	memset(doc + len, '[', n);
	len += n;
	memset(doc + len, ']', n);
	len += n;
	doc[len++] = '}';
	r = refuse(doc, len, err, sizeof(err));
	CHECK(r == -EINVAL && positioned(err, &byte), "garbage/deep_unknown_member", "r=%d '%s'", r,
	      err);
	len = (size_t)sprintf(doc, "{\"tasks\":");
	memset(doc + len, '[', n);
	len += n;
	r = refuse(doc, len, err, sizeof(err));
	CHECK(r == -EINVAL && positioned(err, &byte), "garbage/deep_tasks", "r=%d '%s'", r, err);
	free(doc);
}

/* Random damage: whatever the outcome, no crash and a sane message. */
static void fuzz(const char *doc, size_t len, const char *sc)
{
	static const char alphabet[] = "{}[]\",:0123456789-.eEtrufalsn \\\x80\xff";
	char *buf = malloc(len), err[512], first[700] = "";
	size_t bad = 0, refused = 0, rounds = len > 100000 ? 100 : 3000;
	unsigned seed = 12345;
	long byte;

	for (size_t i = 0; i < rounds; i++) {
		size_t n = len, edits = 1 + rand_r(&seed) % 4;
		int r;

		memcpy(buf, doc, len);
		for (size_t e = 0; e < edits; e++)
			buf[(size_t)rand_r(&seed) % len] =
				alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
		if (i % 3 == 0)
			n = (size_t)rand_r(&seed) % len;
		r = refuse(buf, n, err, sizeof(err));
		if (!r)
			continue;
		refused++;
		if (r == -EINVAL && (positioned(err, &byte) || names_element(err) ||
				     strstr(err, "unsupported snapshot version") ||
				     strstr(err, "not a kcmptrace snapshot")))
			continue;
		if (!bad++)
			snprintf(first, sizeof(first), "r=%d '%s'", r, err);
	}
	CHECK(bad == 0 && refused > rounds / 2, tname(sc, "random_damage"),
	      "%zu bad messages of %zu refusals, first: %s", bad, refused, first);
	free(buf);
}

static void refusals(const struct kt_snapshot *s, const char *sc)
{
	size_t len;
	char *doc = to_json(s, "refusals", true, &len);

	if (!CHECK(doc != NULL, tname(sc, "export_for_refusals"), "export failed"))
		return;
	truncations(doc, len, sc);
	wrong_values(doc, sc);
	edited(doc, sc);
	schema_and_version(doc, sc);
	fuzz(doc, len, sc);
	free(doc);
}

static void read_errors(void)
{
	struct kt_snapshot s;
	char err[512];
	int r = snapshot_json_read("/nonexistent/kcmptrace.json", &s, err, sizeof(err));

	CHECK(r == -ENOENT &&
		      !strcmp(err, "/nonexistent/kcmptrace.json: No such file or directory"),
	      "read/missing_file", "r=%d '%s'", r, err);
	r = snapshot_json_read("/", &s, err, sizeof(err));
	CHECK(r == -EISDIR && strstr(err, "/: "), "read/directory", "r=%d '%s'", r, err);
}

static const struct {
	const char *name;
	int genid;
	bool paths, stats;
} variants[] = {
	{ "bpf", KT_GENID_ADDR, true, true },
	{ "bpf-criu-nopaths", KT_GENID_CRIU, false, false },
};

int main(int argc, char **argv)
{
	for (int i = 0; i < wl_nr_scenarios; i++) {
		const struct wl_scenario *sc = &wl_scenarios[i];
		char what[96];
		struct wl w;

		if (argc > 1 && !strstr(sc->name, argv[1]))
			continue;
		if (!CHECK(!wl_start(&w, sc->name, sc->fn), tname(sc->name, "workload_started"),
			   "could not build the workload"))
			continue;
		for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
			struct kt_snapshot s;
			int r = take(&s, w.root, variants[v].genid, variants[v].paths);

			snprintf(what, sizeof(what), "%s/%s", sc->name, variants[v].name);
			if (!CHECK_CAPABLE(r == 0, tname(what, "snapshot"), strerror(-r)))
				continue;
			round_trip(sc->name, variants[v].name, &s, variants[v].stats);
			/* the refusals need one document of each size, not every one */
			if (v == 0 && (!strcmp(sc->name, "dup") || !strcmp(sc->name, "many_fds")))
				refusals(&s, sc->name);
			snapshot_free(&s);
		}
		wl_stop(&w);
	}
	garbage_in();
	deep();
	read_errors();
	return check_exit();
}
