// SPDX-License-Identifier: LGPL-2.1
/* `kcmptrace snapshot`: take a cold snapshot and write it out. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "daemon.h"
#include "snapshot_json.h"
#include "commands.h"
#include "export.h"
#include "outfile.h"
#include "util.h"

enum out_format {
	FMT_TABLE,
	FMT_JSON,
	FMT_DOT
};

struct snap_args {
	struct kt_target target;
	struct kt_backend_opts bopts;
	enum out_format format;
	bool backend_procfs;
	bool stats;
	const char *out_path;
	const char *from; /* a daemon's socket */
	bool freeze;
};

static void usage(FILE *f)
{
	fputs("Usage: kcmptrace snapshot [TARGET] [OPTIONS]\n"
	      "Show which processes share which kernel objects, from one snapshot.\n\n" TARGET_USAGE
	      "      --kthreads           include kernel threads\n\n"
	      "Options:\n"
	      "  -b, --backend bpf|procfs how to read the kernel (default bpf; procfs is\n"
	      "                           used, with a note, when BPF cannot load)\n"
	      "  -g, --genid addr|criu    gen_id scheme (default addr; procfs is always criu)\n"
	      "      --no-paths           do not resolve fd paths\n"
	      "  -j, --json               JSON (schema in docs/snapshot-schema.md)\n"
	      "  -d, --dot                Graphviz DOT\n"
	      "  -s, --stats              counts, kcmp calls, collisions, time per phase\n"
	      "  -o, --output FILE        write atomically to FILE (mode 0600)\n"
	      "      --from SOCKET        ask a running 'kcmptrace daemon' (warm, verified)\n"
	      "      --freeze             with --from: take it with the target's cgroup frozen\n"
	      "  -v, --verbose            say more on stderr\n"
	      "  -h, --help\n",
	      f);
}

enum {
	OPT_KTHREADS = 256,
	OPT_NO_PATHS,
	OPT_FROM,
	OPT_FREEZE
};

static const struct option long_opts[] = { TARGET_LONG_OPTIONS,
					   { "kthreads", no_argument, NULL, OPT_KTHREADS },
					   { "backend", required_argument, NULL, 'b' },
					   { "genid", required_argument, NULL, 'g' },
					   { "no-paths", no_argument, NULL, OPT_NO_PATHS },
					   { "json", no_argument, NULL, 'j' },
					   { "dot", no_argument, NULL, 'd' },
					   { "stats", no_argument, NULL, 's' },
					   { "output", required_argument, NULL, 'o' },
					   { "from", required_argument, NULL, OPT_FROM },
					   { "freeze", no_argument, NULL, OPT_FREEZE },
					   { "verbose", no_argument, NULL, 'v' },
					   { "help", no_argument, NULL, 'h' },
					   {} };

static int parse_args(int argc, char **argv, struct snap_args *a)
{
	int opt, r;

	a->bopts.want_paths = true;
	a->bopts.genid = KT_GENID_ADDR;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:t:c:C:b:g:jdso:vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 't':
		case 'c':
		case 'C':
			r = target_set_from_opt(&a->target, opt, optarg);
			if (r)
				return r;
			break;
		case OPT_KTHREADS: a->target.kthreads = true; break;
		case 'b':
			if (strcmp(optarg, "bpf") && strcmp(optarg, "procfs")) {
				kt_err("unknown backend '%s' (bpf or procfs)", optarg);
				return KT_EXIT_USAGE;
			}
			a->backend_procfs = !strcmp(optarg, "procfs");
			break;
		case 'g':
			if (strcmp(optarg, "addr") && strcmp(optarg, "criu")) {
				kt_err("unknown gen_id scheme '%s' (addr or criu)", optarg);
				return KT_EXIT_USAGE;
			}
			a->bopts.genid = strcmp(optarg, "criu") ? KT_GENID_ADDR : KT_GENID_CRIU;
			break;
		case OPT_NO_PATHS: a->bopts.want_paths = false; break;
		case 'j': a->format = FMT_JSON; break;
		case 'd': a->format = FMT_DOT; break;
		case 's': a->stats = true; break;
		case 'o': a->out_path = optarg; break;
		case OPT_FROM: a->from = optarg; break;
		case OPT_FREEZE: a->freeze = true; break;
		case 'v': kt_verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return KT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		kt_err("unexpected argument '%s'", argv[optind]);
		return KT_EXIT_USAGE;
	}
	if (a->freeze && !a->from) {
		kt_err("--freeze goes with --from (a daemon freezes its target)");
		return KT_EXIT_USAGE;
	}
	if (a->from && a->target.mode != KT_TARGET_ALL) {
		kt_err("--from takes the daemon's target; give no target");
		return KT_EXIT_USAGE;
	}
	return 0;
}

static int write_out(const struct kt_snapshot *s, const struct snap_args *a, FILE *f)
{
	char desc[512];
	struct kt_export_opts eo = { .target_desc = desc, .stats = a->stats };

	/* a daemon's answer says what it traces */
	if (s->target[0])
		snprintf(desc, sizeof(desc), "%s", s->target);
	else
		target_describe(&a->target, desc, sizeof(desc));
	switch (a->format) {
	case FMT_JSON: return export_json(f, s, &eo);
	case FMT_DOT: return export_dot(f, s, &eo);
	default: return export_table(f, s, &eo);
	}
}

static int exit_code_for(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES: return KT_EXIT_PERM;
	case -ESRCH:
	case -ENOENT: return KT_EXIT_NOTARGET;
	}
	return KT_EXIT_ERROR;
}

/* The answer is JSON already: with --json it goes out as it came (verification included). */
static int write_answer(const struct snap_args *a, const char *buf, size_t len)
{
	struct kt_outfile out;
	int r = outfile_open(&out, a->out_path);

	if (r)
		return r;
	if (fwrite(buf, 1, len, out.f) != len) {
		outfile_abort(&out);
		return -EIO;
	}
	return outfile_commit(&out);
}

static bool complete_document(const char *raw, size_t len)
{
	static const char head[] = "{\"schema\":\"" KT_SCHEMA_NAME "\",";

	return len > sizeof(head) && !memcmp(raw, head, sizeof(head) - 1) && raw[len - 2] == '}' &&
	       raw[len - 1] == '\n';
}

static int ask_daemon(struct snap_args *a, struct kt_snapshot *s, char **raw, size_t *len)
{
	char err[512];
	int r = daemon_request(a->from, a->freeze ? "snapshot freeze" : "snapshot", raw, len);

	if (r) {
		kt_err("cannot ask the daemon at %s: %s", a->from, strerror(-r));
		return r == -EACCES ? KT_EXIT_PERM : KT_EXIT_ERROR;
	}
	if (*len < 200 && strstr(*raw, "\"error\"")) {
		(*raw)[*len - 1] = '\0';
		kt_err("the daemon says: %s", *raw);
		return strstr(*raw, "permission") ? KT_EXIT_PERM : KT_EXIT_ERROR;
	}
	/*
	 * JSON is passed on as the daemon wrote it (through the same writer
	 * as ours): parsing 100k fds would cost ten times the request.  What
	 * can go wrong on the way, a cut-off answer, shows at its ends.
	 */
	if (a->format == FMT_JSON) {
		if (!complete_document(*raw, *len)) {
			kt_err("%s: the daemon's answer is not a complete snapshot", a->from);
			return KT_EXIT_ERROR;
		}
		return 0;
	}
	r = snapshot_json_parse(*raw, *len, a->from, s, err, sizeof(err));
	if (r) {
		kt_err("%s", err);
		return KT_EXIT_ERROR;
	}
	return 0;
}

static int snapshot_from_daemon(struct snap_args *a)
{
	struct kt_snapshot s;
	struct kt_outfile out;
	char *raw = NULL;
	size_t len = 0;
	int r;

	snapshot_init(&s, "daemon", KT_GENID_ADDR);
	r = ask_daemon(a, &s, &raw, &len);
	if (r) {
		snapshot_free(&s);
		free(raw);
		return r;
	}
	if (a->format == FMT_JSON) {
		r = write_answer(a, raw, len);
	} else {
		r = outfile_open(&out, a->out_path);
		if (!r) {
			r = write_out(&s, a, out.f);
			if (r)
				outfile_abort(&out);
			else
				r = outfile_commit(&out);
		}
	}
	if (r)
		kt_err("cannot write %s: %s", a->out_path ? a->out_path : "stdout", strerror(-r));
	free(raw);
	snapshot_free(&s);
	return r ? KT_EXIT_ERROR : 0;
}

int cmd_snapshot(int argc, char **argv)
{
	struct snap_args a = { 0 };
	struct kt_snapshot s;
	struct kt_outfile out;
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r;
	/* the daemon decides who may ask (SO_PEERCRED) */
	if (a.from)
		return snapshot_from_daemon(&a);
	if (geteuid() != 0 && !getenv("KCMPTRACE_ALLOW_UNPRIVILEGED")) {
		kt_err("must run as root (BPF and kcmp of other users' processes need it)");
		return KT_EXIT_PERM;
	}
	r = snapshot_take(&s, &a.target, &a.bopts,
			  a.backend_procfs ? KT_BACKEND_PROCFS : KT_BACKEND_BPF,
			  !getenv("KCMPTRACE_NO_FALLBACK"));
	if (r) {
		kt_err("snapshot failed: %s%s", strerror(-r),
		       r == -EPERM ? " (no ptrace access to a target task)" : "");
		snapshot_free(&s);
		return exit_code_for(r);
	}
	r = outfile_open(&out, a.out_path);
	if (r) {
		kt_err("cannot write %s: %s", a.out_path, strerror(-r));
		snapshot_free(&s);
		return KT_EXIT_ERROR;
	}
	r = write_out(&s, &a, out.f);
	if (r) {
		outfile_abort(&out);
		kt_err("cannot write output: %s", strerror(-r));
		snapshot_free(&s);
		return KT_EXIT_ERROR;
	}
	r = outfile_commit(&out);
	if (r)
		kt_err("cannot write %s: %s", a.out_path ? a.out_path : "stdout", strerror(-r));
	if (!r && a.stats && a.format == FMT_DOT)
		export_stats(stderr, &s); /* DOT has no place for them */
	snapshot_free(&s);
	return r ? KT_EXIT_ERROR : 0;
}
