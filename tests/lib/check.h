/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Named assertions in the style of selftests/bpf: every check prints
 * "ok - NAME" or "not ok - NAME: why", and tests/run.sh adds them up.
 * A binary's exit status is non-zero if any check failed.
 */
#ifndef KT_CHECK_H
#define KT_CHECK_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_passed, check_failed;

/* CHECK(cond, "name", "fmt for failure", ...) */
#define CHECK(cond, name, ...)                                    \
	({                                                        \
		bool _ok = (cond);                                \
		if (_ok) {                                        \
			check_passed++;                           \
			printf("ok - %s\n", (name));              \
		} else {                                          \
			check_failed++;                           \
			printf("not ok - %s: ", (name));          \
			printf(__VA_ARGS__);                      \
			printf(" (%s:%d)\n", __FILE__, __LINE__); \
		}                                                 \
		fflush(stdout);                                   \
		_ok;                                              \
	})

#define CHECK_EQ(a, b, name) \
	CHECK((a) == (b), name, "%s = %lld, want %s = %lld", #a, (long long)(a), #b, (long long)(b))

/* Use where a capability the test needs is missing: a failure under CI. */
#define CHECK_CAPABLE(cond, name, what) CHECK(cond, name, "missing capability: %s", what)

static inline int check_exit(void)
{
	printf("# %s: %d passed, %d failed\n", program_invocation_short_name, check_passed,
	       check_failed);
	return check_failed ? 1 : 0;
}

#endif
