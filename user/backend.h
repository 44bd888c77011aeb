/* SPDX-License-Identifier: LGPL-2.1 */
/* Snapshot backends: fill a kt_snapshot with records (not yet deduped). */
#ifndef KT_BACKEND_H
#define KT_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include "snapshot.h"
#include "target.h"

struct kt_backend_opts {
	int genid;	 /* enum kt_genid_scheme */
	bool want_paths; /* resolve fd paths */
};

/*
 * BPF iterators.  Returns 0, or -ENOTSUP (with @why filled) when BPF cannot
 * be used here so the caller can fall back, or another negative errno.
 */
int bpf_snapshot(struct kt_snapshot *s, const struct kt_target *t, const struct kt_backend_opts *o,
		 char *why, size_t why_len);

/* /proc and kcmp only, as CRIU does it; always CRIU-style gen_ids. */
int procfs_snapshot(struct kt_snapshot *s, const struct kt_target *t,
		    const struct kt_backend_opts *o);

/*
 * A loaded snapshot program, for callers that scan more than once (the
 * live tracer's rescans).  @key must be the tracer's, so gen_ids agree.
 */
struct kt_scanner;
int scanner_open(struct kt_scanner **sc, const struct kt_target *t, const struct kt_backend_opts *o,
		 const uint64_t key[2], char *why, size_t why_len);
/*
 * Append records of the target, or of one process (@pid) or thread (@tid).
 * With @fds, every task's table was held by it from before its fds were
 * read to after: tasks that exited meanwhile are left out.
 */
int scanner_scan(struct kt_scanner *sc, struct kt_snapshot *s, uint32_t pid, uint32_t tid,
		 bool fds);
/* Task records count their table's open fds (kt_task_rec.open_fds) from now on, or not. */
void scanner_count_fds(struct kt_scanner *sc, bool on);
/* A pid-list target's set grows with forks: add a process to the scanner's. */
int scanner_add_pid(struct kt_scanner *sc, uint32_t tgid);
void scanner_close(struct kt_scanner *sc);

enum kt_backend {
	KT_BACKEND_BPF,
	KT_BACKEND_PROCFS
};

/*
 * Collect, index and dedupe: a complete snapshot.  With @fallback, a BPF
 * backend that cannot load gives way to procfs with one line on stderr.
 * Returns 0 or a negative errno.
 */
int snapshot_take(struct kt_snapshot *s, const struct kt_target *t, const struct kt_backend_opts *o,
		  enum kt_backend backend, bool fallback);

/* Fill a random 128-bit gen_id key. */
int genid_random_key(uint64_t key[2]);

#endif
