/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * The kernel's own answer, for tests: holders sorted with kcmp(2) as the
 * comparator, equal neighbours grouped.  A snapshot is right when its ids
 * and these groups are the same partition.
 */
#ifndef KT_TRUTH_H
#define KT_TRUTH_H

#include <stddef.h>
#include <sys/types.h>
#include "snapshot.h"

/* 0 if the snapshot's ids of @kind match kcmp's grouping; else -1 and @why. */
int truth_check_kind(const struct kt_snapshot *s, int kind, char *why, size_t len);

/*
 * Absent objects: a task's io/sysvsem is absent iff kcmp says it equals
 * that of @sentinel, a fresh child known to have none.
 */
int truth_check_absent(const struct kt_snapshot *s, int kind, pid_t sentinel, char *why,
		       size_t len);

/* Every fd table read holds exactly the fds /proc lists for it. */
int truth_check_fd_tables(const struct kt_snapshot *s, char *why, size_t len);

/* Two snapshots of the same quiet tasks agree on holders and grouping. */
int truth_same_partition(const struct kt_snapshot *a, const struct kt_snapshot *b, int kind,
			 char *why, size_t len);

/* A child with no io_context and no SysV undo list; kill it when done. */
pid_t truth_sentinel(void);

#endif
