/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * What a run looks at: the whole machine, a pid list, a process tree, a
 * cgroup v2 subtree, or every task of a pid namespace (a container).
 */
#ifndef KT_TARGET_H
#define KT_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kcmptrace.h"

#define KT_MAX_PIDS 4096

struct kt_target {
	int mode;		    /* enum kt_target_mode */
	uint32_t pids[KT_MAX_PIDS]; /* KT_TARGET_PIDS: tgids */
	size_t npids;
	uint32_t tgid;		    /* KT_TARGET_TREE: root; KT_TARGET_PIDNS: the pid given */
	char cgroup_path[PATH_MAX]; /* KT_TARGET_CGROUP: path relative to the cgroup2 root, "/..." */
	char cgroup_dir[PATH_MAX];  /* the same, as a directory on this machine */
	uint64_t cgroup_id;
	uint32_t cgroup_level;
	uint32_t pidns_inum; /* KT_TARGET_PIDNS */
	uint32_t pidns_level;
	bool kthreads; /* include kernel threads */
};

/* The getopt_long entries of the options above: -p, -t, -c, -C. */
#define TARGET_LONG_OPTIONS                                                                \
	{ "pid", required_argument, NULL, 'p' }, { "tree", required_argument, NULL, 't' }, \
		{ "cgroup", required_argument, NULL, 'c' },                                \
	{                                                                                  \
		"container", required_argument, NULL, 'C'                                  \
	}

#define TARGET_USAGE                                                       \
	"Target (default: the whole machine):\n"                           \
	"  -p, --pid PID[,PID...]   these processes\n"                     \
	"  -t, --tree PID           PID and all its descendants\n"         \
	"  -c, --cgroup PATH        a cgroup v2 and everything below it\n" \
	"  -C, --container PID      every task in PID's pid namespace\n"

/* Where the cgroup v2 hierarchy is mounted (hybrid hosts mount it aside). */
int cgroup2_mount(char *buf, size_t len);

/* -p, -t, -c or -C: one target per run.  0 or a KT_EXIT_* code. */
int target_set_from_opt(struct kt_target *t, int opt, const char *arg);

/* Parsers for the CLI; each returns 0 or a KT_EXIT_* code after one error line. */
int target_set_pids(struct kt_target *t, const char *list);
int target_set_tree(struct kt_target *t, const char *pid);
int target_set_cgroup(struct kt_target *t, const char *path);
int target_set_container(struct kt_target *t, const char *pid);

/* "machine", "pids 1,2", "tree 42", "cgroup /x", "container 42 (pidns 4026531836)" */
void target_describe(const struct kt_target *t, char *buf, size_t len);

/*
 * For backends that filter in userspace (procfs).  @ppid_of maps a tgid to
 * its parent's tgid (0 if unknown) so trees can be walked.
 */
bool target_match_pids(const struct kt_target *t, uint32_t tgid);
bool target_match_cgroup(const struct kt_target *t, uint32_t tgid);
bool target_match_pidns(const struct kt_target *t, uint32_t tid);

#endif
