// SPDX-License-Identifier: LGPL-2.1
/*
 * `kcmptrace diff A.json B.json`: what appeared, disappeared or changed
 * between two snapshots.  Exit codes as diff(1)'s: 0 the same, 1
 * different, 2 trouble.  Reading files needs no privileges.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "diff.h"
#include "outfile.h"
#include "snapshot_json.h"
#include "util.h"

enum {
	DIFF_SAME = 0,
	DIFF_DIFFERENT = 1,
	DIFF_TROUBLE = 2,
};

struct diff_args {
	bool json;
	const char *out_path;
	const char *path[2];
};

static void usage(FILE *f)
{
	fputs("Usage: kcmptrace diff [OPTIONS] A.json B.json\n"
	      "Show which tasks, fds and sharing groups appeared, disappeared or changed\n"
	      "from snapshot A to snapshot B (both from 'kcmptrace snapshot --json';\n"
	      "'-' reads one of them from standard input).\n\n"
	      "Tasks match by tid and start time, fds by their fd table's task and number,\n"
	      "sharing groups by their holders; ids are never compared across snapshots.\n\n"
	      "Options:\n"
	      "  -j, --json               JSON (one document, schema \"kcmptrace-diff\")\n"
	      "  -o, --output FILE        write atomically to FILE (mode 0600)\n"
	      "  -h, --help\n\n"
	      "Exit status: 0 no differences, 1 differences, 2 trouble (bad arguments,\n"
	      "unreadable, malformed, truncated or unsupported input).\n",
	      f);
}

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

static int parse_args(int argc, char **argv, struct diff_args *a)
{
	int opt;

	optind = 1;
	opterr = 0; /* one line of our own, not getopt's and the usage */
	while ((opt = getopt_long(argc, argv, ":jo:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'j': a->json = true; break;
		case 'o': a->out_path = optarg; break;
		case 'h': usage(stdout); exit(DIFF_SAME);
		case ':':
			kt_err("option '%s' needs an argument", argv[optind - 1]);
			return DIFF_TROUBLE;
		default:
			/* a long option names itself; a short one may sit in a cluster */
			if (optopt && strncmp(argv[optind - 1], "--", 2))
				kt_err("bad option '-%c' (try 'kcmptrace diff --help')", optopt);
			else
				kt_err("bad option '%s' (try 'kcmptrace diff --help')",
				       argv[optind - 1]);
			return DIFF_TROUBLE;
		}
	}
	if (argc - optind < 2) {
		kt_err("diff needs two snapshot files (try --help)");
		return DIFF_TROUBLE;
	}
	if (argc - optind > 2) {
		kt_err("unexpected argument '%s'", argv[optind + 2]);
		return DIFF_TROUBLE;
	}
	a->path[0] = argv[optind];
	a->path[1] = argv[optind + 1];
	if (!strcmp(a->path[0], "-") && !strcmp(a->path[1], "-")) {
		kt_err("only one of the snapshots can come from standard input");
		return DIFF_TROUBLE;
	}
	return 0;
}

/* The reader's message names the file and, for bad content, the position. */
static int read_snapshot(const char *path, struct kt_snapshot *s)
{
	char err[512];
	int r = snapshot_json_read(path, s, err, sizeof(err));

	if (r)
		kt_err("%s", err[0] ? err : strerror(-r));
	return r;
}

static const char *display_name(const char *path)
{
	return strcmp(path, "-") ? path : "<stdin>";
}

static int write_diff(const struct diff_args *a, const struct kt_diff *d)
{
	const char *na = display_name(a->path[0]), *nb = display_name(a->path[1]);
	struct kt_outfile out;
	int r = outfile_open(&out, a->out_path);

	if (r)
		return r;
	r = a->json ? diff_write_json(out.f, d, na, nb) : diff_write_text(out.f, d, na, nb);
	if (r) {
		outfile_abort(&out);
		return r;
	}
	return outfile_commit(&out);
}

int cmd_diff(int argc, char **argv)
{
	struct diff_args a = { 0 };
	struct kt_snapshot s[2];
	struct kt_diff d;
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r;
	if (read_snapshot(a.path[0], &s[0]))
		return DIFF_TROUBLE;
	if (read_snapshot(a.path[1], &s[1])) {
		snapshot_free(&s[0]);
		return DIFF_TROUBLE;
	}
	r = diff_compute(&d, &s[0], &s[1]);
	if (r) {
		kt_err("cannot compare the snapshots: %s", strerror(-r));
	} else {
		r = write_diff(&a, &d);
		if (r)
			kt_err("cannot write %s: %s", a.out_path ? a.out_path : "stdout",
			       strerror(-r));
	}
	if (!r)
		r = diff_count(&d) ? DIFF_DIFFERENT : DIFF_SAME;
	else
		r = DIFF_TROUBLE;
	diff_free(&d);
	snapshot_free(&s[0]);
	snapshot_free(&s[1]);
	return r;
}
