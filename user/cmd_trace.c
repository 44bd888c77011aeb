// SPDX-License-Identifier: LGPL-2.1
/* `kcmptrace trace`: keep the sharing of a running target current, and say what changes. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "export.h"
#include "outfile.h"
#include "trace_output.h"
#include "tracer.h"
#include "util.h"

struct trace_args {
	struct kt_target target;
	struct kt_tracer_opts topts;
	bool json, quiet;
	const char *snapshot_path;
	double duration; /* seconds, 0: until stopped */
};

static volatile sig_atomic_t stop_requested, snapshot_requested;

static void on_stop(int sig)
{
	stop_requested = sig;
}

static void on_usr1(int sig)
{
	snapshot_requested = 1;
}

static void usage(FILE *f)
{
	fputs("Usage: kcmptrace trace [TARGET] [OPTIONS]\n"
	      "Keep the target's sharing current as it forks, execs, exits, opens, dups,\n"
	      "passes and closes fds, and print a line per sharing change.\n\n" TARGET_USAGE
	      "\nOptions:\n"
	      "  -j, --json                JSON lines\n"
	      "  -q, --quiet               no change lines, only the summary\n"
	      "  -B, --buffer-size BYTES   ring buffer size (power of two; K, M suffixes;\n"
	      "                            default " KT_DEFAULT_RINGBUF_STR ")\n"
	      "      --snapshot-on-exit FILE  write a JSON snapshot of the live state at exit;\n"
	      "                            SIGUSR1 writes it at once\n"
	      "  -D, --duration SECONDS    stop after this long\n"
	      "  -v, --verbose\n"
	      "  -h, --help\n\n"
	      "SIGINT or SIGTERM ends the trace with a summary; so does the target exiting.\n",
	      f);
}

int parse_ringbuf_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end || v < 4096 || v > (1ull << 30) || (v & (v - 1)))
		return -1;
	*out = (size_t)v;
	return 0;
}

enum {
	OPT_SNAPSHOT_ON_EXIT = 256
};

static int parse_args(int argc, char **argv, struct trace_args *a)
{
	static const struct option opts[] = { TARGET_LONG_OPTIONS,
					      { "json", no_argument, NULL, 'j' },
					      { "quiet", no_argument, NULL, 'q' },
					      { "buffer-size", required_argument, NULL, 'B' },
					      { "snapshot-on-exit", required_argument, NULL,
						OPT_SNAPSHOT_ON_EXIT },
					      { "duration", required_argument, NULL, 'D' },
					      { "verbose", no_argument, NULL, 'v' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	int opt, r;
	char *end;

	a->topts.ringbuf_bytes = KT_DEFAULT_RINGBUF;
	a->topts.want_paths = true;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:t:c:C:jqB:D:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
		case 't':
		case 'c':
		case 'C':
			r = target_set_from_opt(&a->target, opt, optarg);
			if (r)
				return r;
			break;
		case 'j': a->json = true; break;
		case 'q': a->quiet = true; break;
		case 'B':
			if (parse_ringbuf_size(optarg, &a->topts.ringbuf_bytes)) {
				kt_err("bad buffer size '%s' (a power of two from 4K to 1G)",
				       optarg);
				return KT_EXIT_USAGE;
			}
			break;
		case OPT_SNAPSHOT_ON_EXIT: a->snapshot_path = optarg; break;
		case 'D':
			a->duration = strtod(optarg, &end);
			if (*end || a->duration <= 0) {
				kt_err("bad duration '%s'", optarg);
				return KT_EXIT_USAGE;
			}
			break;
		case 'v': kt_verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return KT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		kt_err("unexpected argument '%s'", argv[optind]);
		return KT_EXIT_USAGE;
	}
	return 0;
}

/* The live state as a snapshot: to the file if there is one, else as a table on stdout. */
static int write_snapshot(struct kt_tracer *tr, const struct trace_args *a, const char *desc)
{
	struct kt_export_opts eo = { .target_desc = desc };
	struct kt_snapshot s;
	struct kt_outfile out;
	struct timespec now;
	int r;

	snapshot_init(&s, "live", KT_GENID_ADDR);
	clock_gettime(CLOCK_REALTIME, &now);
	s.taken_at_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	s.lost_events = tr->c.lost;
	r = tracer_settle(tr);
	if (!r)
		r = live_to_snapshot(&tr->st, &s);
	if (!r)
		r = outfile_open(&out, a->snapshot_path);
	if (!r) {
		r = a->snapshot_path ? export_json(out.f, &s, &eo) : export_table(out.f, &s, &eo);
		if (r)
			outfile_abort(&out);
		else
			r = outfile_commit(&out);
	}
	if (r)
		kt_err("cannot write the snapshot: %s", strerror(-r));
	snapshot_free(&s);
	return r;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int trace_loop(struct kt_tracer *tr, const struct trace_args *a, const char *desc)
{
	uint64_t end = a->duration ? kt_now_ns() + (uint64_t)(a->duration * 1e9) : 0;
	int r = 0;

	while (!stop_requested && !r) {
		r = tracer_poll(tr, 100);
		fflush(stdout);
		if (snapshot_requested) {
			snapshot_requested = 0;
			r = write_snapshot(tr, a, desc);
		}
		if (tracer_target_gone(tr)) {
			kt_err("the target has exited");
			break;
		}
		if (end && kt_now_ns() >= end)
			break;
	}
	return r;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_args a = { 0 };
	struct trace_output o = { .out = stdout };
	struct kt_tracer tr = { 0 };
	char desc[512], why[256] = "";
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r;
	if (geteuid() != 0) {
		kt_err("must run as root (tracing needs BPF and kcmp of other users' processes)");
		return KT_EXIT_PERM;
	}
	target_describe(&a.target, desc, sizeof(desc));
	o.json = a.json;
	o.t0_ns = kt_now_ns();
	if (!a.quiet) {
		tr.report = trace_output_report;
		tr.report_arg = &o;
	}
	install_signals();
	r = tracer_start(&tr, &a.target, &a.topts, why, sizeof(why));
	if (r) {
		kt_err("cannot trace: %s", *why ? why : strerror(-r));
		tracer_stop(&tr);
		return r == -ENOTSUP || r == -EPERM ? KT_EXIT_PERM : KT_EXIT_ERROR;
	}
	trace_output_ready(&o, &tr, desc);
	r = trace_loop(&tr, &a, desc);
	if (!r)
		r = tracer_settle(&tr);
	if (!r && a.snapshot_path)
		r = write_snapshot(&tr, &a, desc);
	trace_output_summary(&o, &tr);
	tracer_stop(&tr);
	if (r)
		kt_err("trace failed: %s", strerror(-r));
	return r ? KT_EXIT_ERROR : 0;
}
