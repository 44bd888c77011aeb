/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * A sharing snapshot: tasks and fds as the backends read them, and after
 * snapshot_dedupe() the abstract object id of every task-level object and
 * every open file description.
 *
 * Fds belong to fd tables, not tasks: each distinct table's fds are kept
 * once, under the first task seen holding it (its "reader").
 */
#ifndef KT_SNAPSHOT_H
#define KT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kcmptrace.h"
#include "kid_tree.h"

struct kt_task {
	struct kt_task_rec rec;
	uint32_t id[KT_NR_KINDS]; /* object id per kind; 0: absent. id[KT_FILE] unused */
	uint32_t first_fd;	  /* this task's table's fds, if it is the reader */
	uint32_t nfds;
	bool reader;  /* the task whose fds stand for its fd table */
	bool dropped; /* vanished while the snapshot was taken */
};

struct kt_fd {
	struct kt_fd_rec rec;
	uint32_t path_off; /* into kt_snapshot.strings; 0 = no path */
	uint32_t task;	   /* index of the reading task */
	uint32_t id;	   /* open file description id; 0 until deduped */
	bool dropped;
};

enum kt_phase {
	KT_PHASE_LOAD,	 /* open, load and attach BPF, or nothing for procfs */
	KT_PHASE_TASKS,	 /* read tasks */
	KT_PHASE_FDS,	 /* read fds */
	KT_PHASE_DEDUPE, /* kcmp trees */
	KT_NR_PHASES,
};

struct kt_snapshot {
	struct kt_task *tasks;
	size_t ntasks, tasks_cap;
	struct kt_fd *fds;
	size_t nfds, fds_cap;
	char *strings; /* path arena; offset 0 is the empty string */
	size_t strings_len, strings_cap;
	uint32_t *by_tid; /* task indexes sorted by tid, from snapshot_index() */

	const char *backend;  /* "bpf" | "procfs" | "live" | "daemon" | "json" */
	char target[256];     /* as described when taken; from a file, as read */
	int genid;	      /* enum kt_genid_scheme */
	uint64_t taken_at_ns; /* CLOCK_REALTIME */
	struct kid_stats kind_stats[KT_NR_KINDS];
	uint64_t phase_ns[KT_NR_PHASES];
	uint64_t dropped_tasks, dropped_fds;
	uint64_t inaccessible_tasks; /* no ptrace access: left out */
	uint64_t lost_events;	     /* live/daemon only */
};

void snapshot_init(struct kt_snapshot *s, const char *backend, int genid);
void snapshot_free(struct kt_snapshot *s);
/* Append; return NULL on ENOMEM. */
struct kt_task *snapshot_add_task(struct kt_snapshot *s, const struct kt_task_rec *rec);
struct kt_fd *snapshot_add_fd(struct kt_snapshot *s, const struct kt_fd_rec *rec, const char *path,
			      size_t path_len);
const char *snapshot_path(const struct kt_snapshot *s, const struct kt_fd *fd);
/* Index of the task with this tid, or -1.  Needs snapshot_index() first. */
long snapshot_find_tid(const struct kt_snapshot *s, uint32_t tid);
/* Sort tasks by tid and group fds by reader; call after collection. */
int snapshot_index(struct kt_snapshot *s);

/*
 * Give every object an id with one kcmp tree per kind.  Tasks and fds that
 * vanish meanwhile (ESRCH, EBADF) are dropped and counted; other failures
 * return a negative errno (-EPERM: no ptrace access).
 */
int snapshot_dedupe(struct kt_snapshot *s, kid_cmp_fn cmp, void *cmp_arg);

/* Make every kind's ids dense, 1.. in order of first appearance. */
int snapshot_renumber(struct kt_snapshot *s);

uint64_t kt_now_ns(void);
const char *kt_kind_name(int kind);
const char *kt_ns_name(int ns);
const char *kt_ftype_name(int ftype);

#endif
