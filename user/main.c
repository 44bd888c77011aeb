// SPDX-License-Identifier: LGPL-2.1
/* kcmptrace: which processes share which kernel objects. */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("Usage: kcmptrace COMMAND [OPTIONS]\n\n"
	      "Commands:\n"
	      "  snapshot   one cold snapshot of who shares what (the default)\n"
	      "  trace      keep it current while the target runs; a line per change\n"
	      "  daemon     keep it warm and serve verified snapshots on a Unix socket\n"
	      "  diff       what appeared, disappeared or changed between two JSON snapshots\n\n"
	      "Run 'kcmptrace COMMAND --help' for a command's options.\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return 0;
		}
		return cmd_snapshot(argc, argv);
	}
	if (!strcmp(argv[1], "snapshot"))
		return cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "trace"))
		return cmd_trace(argc - 1, argv + 1);
	if (!strcmp(argv[1], "daemon"))
		return cmd_daemon(argc - 1, argv + 1);
	if (!strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	kt_err("unknown command '%s' (try --help)", argv[1]);
	return KT_EXIT_USAGE;
}
