/* SPDX-License-Identifier: LGPL-2.1 */
/* Freezing a cgroup v2 for a consistent cut, as a checkpointer would. */
#ifndef KT_CGROUP_FREEZE_H
#define KT_CGROUP_FREEZE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "target.h"

/* The cgroup directory to freeze for @t; refuses one that holds this process. */
int freeze_dir_for(const struct kt_target *t, char *dir, size_t len, char *why, size_t why_len);
/* Freeze and wait until the kernel reports the cgroup frozen (bounded). */
int cgroup_freeze(const char *dir);
/* Thaw; safe to call whether or not the freeze completed. */
int cgroup_thaw(const char *dir);

#endif
