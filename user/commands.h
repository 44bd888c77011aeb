/* SPDX-License-Identifier: LGPL-2.1 */
/* Subcommands; each returns a process exit code (enum kt_exit). */
#ifndef KT_COMMANDS_H
#define KT_COMMANDS_H

#include <stddef.h>

int cmd_snapshot(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_diff(int argc, char **argv);

/* "16M", "4096": a ring buffer size, a power of two from 4K to 1G; 0 or -1. */
int parse_ringbuf_size(const char *s, size_t *out);

#endif
