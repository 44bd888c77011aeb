/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Interned paths: one copy of each distinct path, counted.  A target's
 * fds name few distinct paths (a thousand processes may each hold
 * /dev/null and the same log file), and the live state keeps one per
 * open file.
 */
#ifndef KT_PATH_INTERN_H
#define KT_PATH_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct interned_path;

struct path_intern {
	struct interned_path **bucket;
	size_t nbuckets; /* power of two, or 0 */
	size_t len;	 /* distinct paths */
};

/* @s's copy, counted once more; NULL: out of memory. */
const char *path_intern(struct path_intern *pi, const char *s);
/* Uncount a copy path_intern() returned; the last one frees it. */
void path_unintern(struct path_intern *pi, const char *s);
/* Every copy must have been uncounted. */
void path_intern_free(struct path_intern *pi);

#endif
