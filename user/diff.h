/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * What changed between two deduped snapshots of one boot: which tasks, fds
 * and sharing groups appeared, disappeared or changed (`kcmptrace diff`).
 *
 * Ids are per snapshot and say nothing across two of them, so everything
 * is matched by identity: a task by (tid, start), an fd by the identity of
 * the task its fd table is named by and its number, a sharing group by the
 * set of its holders (diff.c tells the rules).  A table is named by the
 * first of its holders, by (tid, start), that both snapshots have (else by
 * its first holder): which task a collector read it through does not
 * matter.  The result points into both snapshots, which must outlive it.
 */
#ifndef KT_DIFF_H
#define KT_DIFF_H

#include <stdint.h>
#include <stdio.h>
#include "snapshot.h"

enum kt_diff_op {
	KT_DIFF_APPEARED,    /* only in B */
	KT_DIFF_DISAPPEARED, /* only in A */
	KT_DIFF_CHANGED,     /* in both, different */
};

/* kt_diff_task.what: the task fields that differ */
#define KT_DT_COMM (1u << 0)
#define KT_DT_PPID (1u << 1)
#define KT_DT_NS(ns) (1u << (2 + (ns))) /* enum kt_ns */

/* kt_diff_fd.what: what differs about the file behind the fd */
#define KT_DF_TYPE (1u << 0)
#define KT_DF_DEV (1u << 1)
#define KT_DF_INO (1u << 2)
#define KT_DF_PATH (1u << 3)
#define KT_DF_FLAGS (1u << 4)

struct kt_diff_task {
	enum kt_diff_op op;
	uint32_t what;		     /* KT_DT_*, for KT_DIFF_CHANGED */
	const struct kt_task *a, *b; /* NULL on the side where it is not */
};

/* A task (fd -1) or one fd of the fd table the task names. */
struct kt_diff_holder {
	uint32_t tid;
	int32_t fd;
	uint64_t start;
	const struct kt_task *task; /* in B, or in A for holders only A has */
};

struct kt_diff_fd {
	enum kt_diff_op op;
	uint32_t what;		   /* KT_DF_*, for KT_DIFF_CHANGED */
	struct kt_diff_holder who; /* its table's naming task (B's if B has it) and number */
	const struct kt_fd *a, *b; /* NULL on the side where it is not */
};

/* A run of kt_diff.holders, sorted by (tid, start, fd). */
struct kt_diff_span {
	uint32_t first, n;
};

struct kt_diff_group {
	enum kt_diff_op op;
	int kind;		  /* enum kt_kind */
	const struct kt_fd *file; /* KT_FILE: an fd of the object (in A if disappeared, else B) */
	struct kt_diff_span holders; /* the group in B, or in A if disappeared */
	struct kt_diff_span added;   /* changed: holders the A groups it overlaps lack */
	struct kt_diff_span removed; /* changed: holders of those A groups not in it */
	uint32_t from;		     /* changed: how many A groups it overlaps (>1: a merge) */
};

struct kt_diff {
	const struct kt_snapshot *a, *b;
	struct kt_diff_task *tasks; /* by (tid, start) */
	size_t ntasks;
	struct kt_diff_fd *fds; /* by (tid, start, fd) */
	size_t nfds;
	struct kt_diff_group *groups; /* by kind, then smallest holder */
	size_t ngroups;
	struct kt_diff_holder *holders;
	size_t nholders, holders_cap;
};

/*
 * Compare @a (before) with @b (after): O(n log n) in the tasks and fds,
 * plus the size of the answer.  0 or -ENOMEM.
 */
int diff_compute(struct kt_diff *d, const struct kt_snapshot *a, const struct kt_snapshot *b);
void diff_free(struct kt_diff *d);
/* Entries in all: 0 when the snapshots agree. */
size_t diff_count(const struct kt_diff *d);

const char *diff_op_name(enum kt_diff_op op); /* "appeared", ... */
/* Name of one KT_DT_* or KT_DF_* bit: "comm", "ns.net", "path", ... */
const char *diff_task_field_name(uint32_t bit);
const char *diff_fd_field_name(uint32_t bit);

/*
 * Readable: a header line naming @name_a and @name_b, then sections
 * "Tasks", "Fds" and "Shared KIND" of "+" (appeared), "-" (disappeared)
 * and "~" (changed) lines, then a count line; just "no differences" when
 * there are none.  0 or a negative errno.
 */
int diff_write_text(FILE *out, const struct kt_diff *d, const char *name_a, const char *name_b);

/*
 * One JSON document, one line:
 *   {"schema": "kcmptrace-diff", "version": 1,
 *    "a": {"name", "backend", "taken_at_ns"}, "b": {...},
 *    "differences": N,
 *    "tasks": [{"op", "tid", "start", "changed": [field...], "a": TASK, "b": TASK}],
 *    "fds": [{"op", "tid", "start", "fd", "changed": [field...], "a": FILE, "b": FILE}],
 *    "shared": {"file": [GROUP...], "vm": [...], ... one array per kind}}
 * "op" is "appeared", "disappeared" or "changed"; "changed" only with that
 * op; "a" and "b" are there for the sides the entry exists on.
 *   TASK:  {"tgid", "ppid", "comm", "ns": {"pid", "mnt", ...}}
 *   FILE:  {"type", "path" (if known), "flags", "dev", "ino"}
 *   GROUP: {"op", "holders": [H...], plus for changed "added": [H...],
 *           "removed": [H...], "from": N; for file also "type" and "path"}
 *   H:     {"tid", "start"} for the task kinds, {"tid", "start", "fd"} for file.
 * Field names are the snapshot schema's (docs/snapshot-schema.md).
 */
int diff_write_json(FILE *out, const struct kt_diff *d, const char *name_a, const char *name_b);

#endif
