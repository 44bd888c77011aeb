/* SPDX-License-Identifier: LGPL-2.1 */
/* Writers of a deduped snapshot: readable table, JSON, Graphviz DOT. */
#ifndef KT_EXPORT_H
#define KT_EXPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "snapshot.h"

#define KT_SCHEMA_VERSION 1

/* How a warm snapshot was checked before it was served (daemon). */
struct kt_verification {
	const char *method;
	uint64_t newest_event_age_ns; /* since the newest event applied */
	uint64_t checked_tasks;	      /* task records compared with a fresh task scan */
	uint64_t kcmp_checks;	      /* sampled shared holders confirmed with kcmp */
	uint64_t repaired;	      /* entries found stale and rescanned before serving */
	bool frozen;		      /* taken with the target's cgroup frozen */
};

struct kt_export_opts {
	const char *target_desc;		    /* from target_describe() */
	bool stats;				    /* include timing and kcmp statistics */
	const struct kt_verification *verification; /* JSON only; NULL: none */
};

int export_table(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o);
int export_json(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o);
int export_dot(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o);
/*
 * Pieces of the JSON document, for writers that assemble it from cached
 * parts (the daemon); @ids is per kind, 0 for absent.
 */
struct jw;
void json_put_header(struct jw *w, const char *backend, int genid, const char *target,
		     uint64_t taken_at_ns);
void json_put_task(struct jw *w, const struct kt_task_rec *r, const uint32_t *ids);
void json_put_fd(struct jw *w, uint32_t tid, uint32_t files_id, uint32_t file_id,
		 const struct kt_fd_rec *rec, const char *path);
void json_put_verification(struct jw *w, const struct kt_verification *v);
/* --stats on its own: a few lines of counts and times. */
int export_stats(FILE *out, const struct kt_snapshot *s);

/*
 * Sharing groups, the common ground of every writer: for each kind, the
 * objects held by two or more holders.  A holder of a task-level object is
 * a task; of a file, an fd of a table (named by its reader task).
 */
struct kt_group {
	int kind;
	uint32_t id;
	uint32_t first; /* into kt_groups.members */
	uint32_t nmembers;
	uint32_t nprocs; /* distinct tgids among the members */
};

struct kt_groups {
	struct kt_group *groups;
	size_t ngroups;
	uint32_t *members; /* task indexes, or fd indexes for KT_FILE */
	size_t nmembers;
};

/* Every object with >= 2 holders, kinds in kcmp order, ids ascending. */
int groups_build(struct kt_groups *g, const struct kt_snapshot *s);
void groups_free(struct kt_groups *g);

#endif
