// SPDX-License-Identifier: LGPL-2.1
/* `kcmptrace daemon`: keep a target's sharing warm and serve snapshots on a socket. */
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "daemon.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("Usage: kcmptrace daemon TARGET --socket PATH [OPTIONS]\n"
	      "Trace the target and serve verified snapshots of its sharing on a Unix\n"
	      "socket (mode 0600; 0660 with --group).  Ask with\n"
	      "'kcmptrace snapshot --from PATH'.\n\n" TARGET_USAGE "\nOptions:\n"
	      "  -S, --socket PATH         where to listen (required)\n"
	      "  -G, --group NAME          members of this group may ask too (else root only)\n"
	      "  -F, --freeze              take every snapshot with the target's cgroup frozen\n"
	      "  -B, --buffer-size BYTES   ring buffer size (default " KT_DEFAULT_RINGBUF_STR ")\n"
	      "  -v, --verbose\n"
	      "  -h, --help\n",
	      f);
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = { TARGET_LONG_OPTIONS,
					      { "socket", required_argument, NULL, 'S' },
					      { "group", required_argument, NULL, 'G' },
					      { "freeze", no_argument, NULL, 'F' },
					      { "buffer-size", required_argument, NULL, 'B' },
					      { "verbose", no_argument, NULL, 'v' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	struct kt_daemon_opts o = { .topts = { .ringbuf_bytes = KT_DEFAULT_RINGBUF,
					       .want_paths = true } };
	struct kt_target t = { 0 };
	struct group *gr;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:t:c:C:S:G:FB:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 't':
		case 'c':
		case 'C':
			r = target_set_from_opt(&t, opt, optarg);
			if (r)
				return r;
			break;
		case 'S': o.socket_path = optarg; break;
		case 'G':
			gr = getgrnam(optarg);
			if (!gr) {
				kt_err("no such group: %s", optarg);
				return KT_EXIT_USAGE;
			}
			o.has_group = true;
			o.group = gr->gr_gid;
			break;
		case 'F': o.freeze = true; break;
		case 'B':
			if (parse_ringbuf_size(optarg, &o.topts.ringbuf_bytes)) {
				kt_err("bad buffer size '%s' (a power of two from 4K to 1G)",
				       optarg);
				return KT_EXIT_USAGE;
			}
			break;
		case 'v': kt_verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return KT_EXIT_USAGE;
		}
	}
	if (optind < argc || !o.socket_path) {
		kt_err(optind < argc ? "unexpected argument" : "--socket PATH is required");
		return KT_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		kt_err("must run as root (tracing needs BPF and kcmp of other users' processes)");
		return KT_EXIT_PERM;
	}
	return daemon_run(&t, &o);
}
