/* SPDX-License-Identifier: LGPL-2.1 */
/* Subcommands; each returns a process exit code (enum kt_exit). */
#ifndef KT_COMMANDS_H
#define KT_COMMANDS_H

int cmd_snapshot(int argc, char **argv);
int cmd_trace(int argc, char **argv);

#endif
