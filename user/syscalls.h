/* SPDX-License-Identifier: LGPL-2.1 */
/* The syscalls that create, replace or destroy fds, and what to do at their exit. */
#ifndef KT_SYSCALLS_H
#define KT_SYSCALLS_H

#include <stdint.h>
#include "kcmptrace.h"

/* Fill @action[nr] (KT_MAX_SYSCALLS entries) for this architecture. */
void syscalls_fill_actions(uint8_t *action);
/* "dup2", or "sys_123" for one outside the table. */
const char *syscall_name(unsigned int nr);

#endif
