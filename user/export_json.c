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
#include "export.h"
#include "json_writer.h"
#include "snapshot_json.h"

/* The fds in the document: those of live readers that got an id. */
static bool fd_exported(const struct kt_snapshot *s, const struct kt_fd *f)
{
	return f->id && !f->dropped && f->task < s->ntasks && !s->tasks[f->task].dropped;
}

void json_put_task(struct jw *w, const struct kt_task_rec *r, const uint32_t *ids)
{
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
		jw_id(w, ids[k]);
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
			json_put_task(w, &s->tasks[i].rec, s->tasks[i].id);
	jw_close(w, true);
}

void json_put_fd(struct jw *w, uint32_t tid, uint32_t files_id, uint32_t file_id,
		 const struct kt_fd_rec *rec, const char *path)
{
	jw_open(w, NULL, false);
	jw_key(w, "tid");
	jw_int(w, tid);
	jw_key(w, "files");
	jw_int(w, files_id);
	jw_key(w, "fd");
	jw_int(w, rec->fd);
	jw_key(w, "file");
	jw_int(w, file_id);
	jw_key(w, "type");
	jw_lit(w, kt_ftype_name(rec->ftype));
	if (path && *path) {
		jw_key(w, "path");
		jw_str(w, path, strlen(path));
	}
	jw_key(w, "flags");
	jw_int(w, rec->flags);
	jw_key(w, "pos");
	jw_int(w, rec->pos);
	jw_key(w, "dev");
	jw_int(w, rec->dev);
	jw_key(w, "ino");
	jw_u64(w, rec->ino);
	jw_close(w, false);
}

static void put_fd(struct jw *w, const struct kt_snapshot *s, const struct kt_fd *f)
{
	const struct kt_task *t = &s->tasks[f->task];

	json_put_fd(w, t->rec.tid, t->id[KT_FILES], f->id, &f->rec, snapshot_path(s, f));
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

void json_put_header(struct jw *w, const char *backend, int genid, const char *target,
		     uint64_t taken_at_ns)
{
	jw_key(w, "schema");
	jw_lit(w, KT_SCHEMA_NAME);
	jw_key(w, "version");
	jw_int(w, KT_SCHEMA_VERSION);
	jw_key(w, "backend");
	jw_str(w, backend ? backend : "", backend ? strlen(backend) : 0);
	jw_key(w, "genid");
	jw_lit(w, genid == KT_GENID_CRIU ? "criu" : "addr");
	jw_key(w, "target");
	jw_str(w, target ? target : "", target ? strlen(target) : 0);
	jw_key(w, "taken_at_ns");
	jw_u64(w, taken_at_ns);
}

void json_put_verification(struct jw *w, const struct kt_verification *v)
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
	json_put_header(&w, s->backend, s->genid, o->target_desc, s->taken_at_ns);
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
		json_put_verification(&w, o->verification);
	jw_close(&w, false);
	return jw_finish(&w);
}
