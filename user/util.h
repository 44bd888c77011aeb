/* SPDX-License-Identifier: LGPL-2.1 */
#ifndef KT_UTIL_H
#define KT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes: documented in the README. */
enum kt_exit {
	KT_EXIT_OK = 0,
	KT_EXIT_ERROR = 1,    /* runtime failure */
	KT_EXIT_USAGE = 2,    /* bad arguments or malformed input file */
	KT_EXIT_NOTARGET = 3, /* pid, cgroup or container does not exist */
	KT_EXIT_PERM = 4,     /* not privileged enough */
};

/* Print "kcmptrace: <msg>" as one line on stderr. */
/* Make room for @need elements of @elem bytes in *@arr, doubling *@cap: 0 or -ENOMEM. */
int kt_grow(void **arr, size_t *cap, size_t need, size_t elem);

void kt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int kt_verbose;
void kt_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
