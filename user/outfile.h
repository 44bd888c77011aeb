/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Atomic output files: written to a temporary file beside the target with
 * mode 0600 and renamed over it only when complete, so a failed run leaves
 * nothing half-written behind.  A path that is not a regular file (a
 * device, a pipe) is written in place.
 */
#ifndef KT_OUTFILE_H
#define KT_OUTFILE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

struct kt_outfile {
	FILE *f;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	bool direct; /* written in place: no temporary, no rename */
};

/* path NULL or "-": stdout. Returns 0 or -errno. */
int outfile_open(struct kt_outfile *o, const char *path);
/* Flush, fsync and rename into place; on failure removes the temporary. */
int outfile_commit(struct kt_outfile *o);
/* Throw away what was written. */
void outfile_abort(struct kt_outfile *o);

#endif
