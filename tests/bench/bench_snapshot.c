// SPDX-License-Identifier: LGPL-2.1
/*
 * Cold snapshot benchmark: prints a table, asserts nothing.
 *
 * Workloads: N processes x M fds with a realistic sharing mix (each child
 * inherits a few of its parent's fds - stdio, logs, pipes, sockets - and
 * opens the rest itself), and one process with 10k fds half shared with a
 * child.  Every backend runs in a child of its own so peak RSS is its own;
 * each figure is the median of several runs.
 *
 *   bench_snapshot [PROCS FDS_PER_PROC SHARED_PER_PROC RUNS]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "backend.h"
#include "export.h"

struct result {
	double ms;
	uint64_t kcmp, collisions, fds;
	long rss_kb;
};

static int open_mixed(int i)
{
	int sv[2];

	switch (i % 8) {
	case 0: return eventfd(0, 0);
	case 1: return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ? -1 : sv[0];
	case 2: return open("/dev/null", O_RDONLY);
	default: return open("/etc/hostname", O_RDONLY);
	}
}

static void park(void)
{
	for (;;)
		pause();
}

/* The root opens @shared fds, then forks @procs children that keep them and open the rest. */
static pid_t start_pool(int procs, int fds, int shared)
{
	int ready[2];
	pid_t root;
	char c;

	if (pipe(ready))
		return -1;
	root = fork();
	if (root)
		goto wait_ready;
	setpgid(0, 0);
	for (int i = 0; i < shared; i++)
		open_mixed(i);
	for (int p = 0; p < procs - 1; p++) {
		if (fork() == 0) {
			for (int i = shared; i < fds; i++)
				open_mixed(i);
			c = 'r';
			if (write(ready[1], &c, 1) != 1)
				_exit(1);
			park();
		}
	}
	for (int i = shared; i < fds; i++)
		open_mixed(i);
	c = 'r';
	if (write(ready[1], &c, 1) != 1)
		_exit(1);
	park();
wait_ready:
	for (int p = 0; p < procs; p++)
		if (read(ready[0], &c, 1) != 1)
			return -1;
	close(ready[0]);
	close(ready[1]);
	return root;
}

/* One process with @fds fds, and a child that shares half of them. */
static pid_t start_big(int fds)
{
	return start_pool(2, fds, fds / 2);
}

static struct result measure_once(pid_t root, enum kt_backend b, int genid, bool json)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_backend_opts o = { .genid = genid, .want_paths = true };
	struct kt_export_opts eo = { .target_desc = "bench" };
	struct result res = { 0 };
	int p[2];
	pid_t pid;

	if (pipe(p))
		return res;
	pid = fork();
	if (pid == 0) {
		struct kt_snapshot s;
		uint64_t t0 = kt_now_ns();
		int r = snapshot_take(&s, &t, &o, b, false);

		if (!r && json) {
			FILE *f = fopen("/dev/null", "w");

			r = export_json(f, &s, &eo);
			fclose(f);
		}
		res.ms = (double)(kt_now_ns() - t0) / 1e6;
		for (int k = 0; k < KT_NR_KINDS; k++) {
			res.kcmp += s.kind_stats[k].kcmp_calls;
			res.collisions += s.kind_stats[k].collisions;
		}
		for (size_t i = 0; i < s.nfds; i++)
			res.fds += s.fds[i].id != 0;
		if (r)
			res.ms = -1;
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != sizeof(res))
		res.ms = -1;
	close(p[0]);
	{
		struct rusage ru;
		int status;

		wait4(pid, &status, 0, &ru);
		res.rss_kb = ru.ru_maxrss;
	}
	return res;
}

static int cmp_double(const void *a, const void *b)
{
	double x = ((const struct result *)a)->ms, y = ((const struct result *)b)->ms;

	return x < y ? -1 : x > y;
}

static struct result measure(pid_t root, enum kt_backend b, int genid, bool json, int runs)
{
	struct result r[16];

	for (int i = 0; i < runs; i++)
		r[i] = measure_once(root, b, genid, json);
	qsort(r, (size_t)runs, sizeof(r[0]), cmp_double);
	return r[runs / 2];
}

static void row(const char *workload, const char *name, struct result r)
{
	printf("| %-16s | %-22s | %9.1f | %7.3f | %9llu | %10llu | %7.1f |\n", workload, name, r.ms,
	       r.fds ? r.ms * 1000.0 / (double)r.fds : 0.0, (unsigned long long)r.kcmp,
	       (unsigned long long)r.collisions, (double)r.rss_kb / 1024.0);
}

static void bench(const char *workload, pid_t root, int runs)
{
	struct result bpf = measure(root, KT_BACKEND_BPF, KT_GENID_ADDR, false, runs);
	struct result bpf_json = measure(root, KT_BACKEND_BPF, KT_GENID_ADDR, true, runs);
	struct result criu = measure(root, KT_BACKEND_BPF, KT_GENID_CRIU, false, runs);
	struct result procfs = measure(root, KT_BACKEND_PROCFS, KT_GENID_CRIU, false, runs);

	row(workload, "bpf, addr gen_id", bpf);
	row(workload, "bpf, addr, + JSON out", bpf_json);
	row(workload, "bpf, criu gen_id", criu);
	row(workload, "procfs (baseline)", procfs);
	printf("| %-16s | bpf vs procfs: %.1fx faster; kcmp calls addr/criu: %.2f%*s|\n", workload,
	       procfs.ms / bpf.ms, criu.kcmp ? (double)bpf.kcmp / (double)criu.kcmp : 0.0, 27, "");
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 1000, fds = argc > 2 ? atoi(argv[2]) : 100;
	int shared = argc > 3 ? atoi(argv[3]) : 20, runs = argc > 4 ? atoi(argv[4]) : 5;
	struct rlimit rl = { 65536, 65536 };
	char name[64];
	pid_t pool, big;

	if (runs < 1 || runs > 15 || procs < 1 || fds < shared)
		return fprintf(stderr, "bench_snapshot: bad arguments\n"), 2;
	setrlimit(RLIMIT_NOFILE, &rl);
	printf("Cold snapshot, median of %d runs; time is end to end (load, scan, dedupe).\n\n",
	       runs);
	printf("| %-16s | %-22s | %9s | %7s | %9s | %10s | %7s |\n", "workload", "backend",
	       "wall ms", "us/fd", "kcmp", "collisions", "RSS MB");
	printf("|------------------|------------------------|-----------|---------|-----------|----"
	       "--------|---------|\n");
	snprintf(name, sizeof(name), "%dx%d (%d shared)", procs, fds, shared);
	pool = start_pool(procs, fds, shared);
	if (pool > 0) {
		bench(name, pool, runs);
		kill(-pool, SIGKILL);
		waitpid(pool, NULL, 0);
	}
	big = start_big(10000);
	if (big > 0) {
		bench("1 x 10k fds", big, runs);
		kill(-big, SIGKILL);
		waitpid(big, NULL, 0);
	}
	return 0;
}
