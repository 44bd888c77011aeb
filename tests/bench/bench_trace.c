// SPDX-License-Identifier: LGPL-2.1
/*
 * Live tracing benchmark: prints a table, asserts nothing.
 *
 * Each workload runs in a fresh worker process under these conditions:
 *   untraced  no BPF program of ours attached
 *   floor     bpf/floor.bpf.c: the tracer's four hooks, one hash lookup each
 *   floor+ev  bpf/floor_event.bpf.c: the floor, plus an empty event the
 *             size of an fd event per syscall (a diagnostic: what any
 *             per-syscall report costs; not for the build)
 *   traced    the real tracer (user/tracer.h) with the worker's tree as its
 *             target, drained by a thread as `kcmptrace trace` drains it:
 *             tracer_poll() with a 100 ms timeout, change lines formatted
 *             into /dev/null.  Its userspace work runs on the other core.
 *   outside   the same tracer targeting an idle process instead
 * Conditions are interleaved within each repetition (their order rotated)
 * and every figure is the median over repetitions, so the drift of a noisy
 * VM hits all conditions alike.  Loading, attaching, the cold scan and
 * detaching are outside the timed part; applying the workload's events is
 * inside it only as far as it competes for the CPU.
 *
 * Then: event loss at 100k fd events/s with the default ring buffer, and
 * memory per tracked fd with a 100k-fd target.
 *
 *   bench_trace [--quick] [--only open,dup,shared,fork,build,loss,memory]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"
#include "floor_event.skel.h"
#include "trace.skel.h"
#include "trace_output.h"
#include "tracer.h"

#define MAX_REPS 9
#define MAX_FD_LOOP_ITERS 60000 /* 120k events: below what the default buffer holds */
#define MEM_FDS 100000
#define LOSS_RATE 100000 /* fd events per second */

/* The targets. */
#define TARGET_OVERHEAD 1.3
#define TARGET_BUILD_SLOWDOWN 1.03
#define TARGET_BYTES_PER_FD 200.0

enum cond {
	C_UNTRACED,
	C_FLOOR,
	C_FLOOR_EV,
	C_TRACED,
	C_OUTSIDE,
	NCOND
};
static const char *const cond_name[NCOND] = { "untraced", "floor", "floor+ev", "traced",
					      "outside" };

enum wl_kind {
	W_OPEN,
	W_DUP,
	W_FORK,
	W_BUILD,
	W_PACED,
	W_DUP_SHARED
};
static const char *const wl_name[] = { "open+close /dev/null", "dup+close",
				       "fork+_exit+wait",      "build: make -j2 cc -O0",
				       "paced open+close",     "dup+close 2 threads" };

static bool quick;
static int reps;
static char build_dir[PATH_MAX]; /* a copy of the sources and the generated makefile */
static int build_files;
static int runs_total, runs_foreign; /* runs with someone else's tracing programs attached */

/* ---- time and medians ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* Half the range over the median, in percent: how noisy one condition was. */
static double spread(const double *v, int n)
{
	double lo = v[0], hi = v[0], m = median(v, n);

	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	return m > 0 ? (hi - lo) * 50.0 / m : 0;
}

/*
 * BPF links of tracing kinds that are not ours (called while we hold none):
 * another tracer on the machine makes every condition, "untraced" too, pay
 * for its hooks.
 */
static int foreign_tracing_links(void)
{
	__u32 id = 0;
	int n = 0;

	while (!bpf_link_get_next_id(id, &id)) {
		struct bpf_link_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    (info.type == BPF_LINK_TYPE_RAW_TRACEPOINT ||
		     info.type == BPF_LINK_TYPE_TRACING || info.type == BPF_LINK_TYPE_PERF_EVENT ||
		     info.type == BPF_LINK_TYPE_KPROBE_MULTI))
			n++;
		close(fd);
	}
	return n;
}

/* ---- workers: a child that waits for "go", runs a workload and reports ---- */

struct wresult {
	uint64_t ns;	 /* wall */
	uint64_t cpu_ns; /* CPU: see measure_cpu() */
	uint64_t iters;
};

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

static uint64_t rusage_ns(const struct rusage *ru)
{
	return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000ull;
}

/*
 * Workloads are timed by the CPU time they take, not the wall clock: the
 * BPF programs run in the context of the task that made the syscall, so
 * its CPU time holds all of their cost, while other tenants of a busy
 * machine preempting it do not count (on this shared VM they swung wall
 * times by +-30% and more).  The fd loops count the worker's own CPU
 * time; fork counts the worker's and its reaped children's; the build
 * counts make's whole reaped tree (wait4).  What the tracer costs on the
 * other core is its drain thread's CPU time, reported beside.
 */
static uint64_t measure_cpu(enum wl_kind k)
{
	struct rusage self, children;
	struct timespec ts;

	if (k != W_FORK) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		return ts_ns(&ts);
	}
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return rusage_ns(&self) + rusage_ns(&children);
}

struct worker {
	pid_t pid;
	int go;	 /* write a byte: start */
	int res; /* a struct wresult, then EOF */
};

static void loop_open(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			close(fd);
	}
}

static void loop_dup(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int fd = dup(0);

		if (fd >= 0)
			close(fd);
	}
}

static void *idle_thread(void *arg)
{
	pause();
	return arg;
}

/*
 * A second thread on the fd table, doing nothing: the tracer holds no fd
 * back in a shared table, so every fd syscall of the loop is reported (the
 * diagnostic dup+close row, and the events of the loss measurement).
 */
static void share_table(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, idle_thread, NULL))
		_exit(1);
}

static void loop_fork(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
	}
}

/* open+close pairs at @pairs_per_s (2 fd events each) for @dur_ns, paced by the vDSO clock. */
static uint64_t loop_paced(uint64_t pairs_per_s, uint64_t dur_ns)
{
	uint64_t t0 = now_ns(), period = 1000000000ull / pairs_per_s, i;

	for (i = 0;; i++) {
		uint64_t due = t0 + i * period, t;

		while ((t = now_ns()) < due)
			;
		if (t - t0 >= dur_ns)
			break;
		loop_open(1);
	}
	return i;
}

static void run_build(void)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, 1);
	dup2(null, 2);
	execlp("make", "make", "-s", "-j2", "-C", build_dir, "-f", "bench.mk", (char *)NULL);
	_exit(127);
}

static int worker_start(struct worker *w, enum wl_kind k, uint64_t iters)
{
	int go[2], res[2];
	char c;

	memset(w, 0, sizeof(*w));
	if (pipe(go))
		return -errno;
	if (pipe(res)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	w->pid = fork();
	if (w->pid < 0) {
		close(go[0]);
		close(go[1]);
		close(res[0]);
		close(res[1]);
		return -errno;
	}
	if (w->pid == 0) {
		struct wresult r = { 0 };
		uint64_t t0, c0;

		close(go[1]);
		close(res[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		if (k == W_BUILD) {
			close(res[1]);
			run_build();
		}
		if (k == W_DUP_SHARED || k == W_PACED)
			share_table();
		t0 = now_ns();
		c0 = measure_cpu(k);
		switch (k) {
		case W_OPEN: loop_open(iters); break;
		case W_DUP:
		case W_DUP_SHARED: loop_dup(iters); break;
		case W_FORK: loop_fork(iters); break;
		case W_PACED: iters = loop_paced(LOSS_RATE / 2, iters); break;
		default: break;
		}
		r.cpu_ns = measure_cpu(k) - c0;
		r.ns = now_ns() - t0;
		r.iters = iters;
		_exit(write(res[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(go[0]);
	close(res[1]);
	w->go = go[1];
	w->res = res[0];
	return 0;
}

/* Let it go and wait for it; the build is measured here (wait4), the loops measure themselves. */
static int worker_run(struct worker *w, enum wl_kind k, struct wresult *r)
{
	uint64_t t0 = now_ns();
	struct rusage ru;
	int status = 0;
	char c = 'g';
	ssize_t n = 0;

	memset(r, 0, sizeof(*r));
	if (write(w->go, &c, 1) == 1)
		n = read(w->res, r, sizeof(*r));
	if (wait4(w->pid, &status, 0, &ru) < 0)
		status = -1;
	if (k == W_BUILD) {
		r->ns = now_ns() - t0;
		r->cpu_ns = rusage_ns(&ru); /* make and everything it reaped */
		r->iters = 1;
	}
	close(w->go);
	close(w->res);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || (k != W_BUILD && n != sizeof(*r)))
		return -EIO;
	return 0;
}

/* ---- conditions ---- */

struct session {
	enum cond c;
	struct floor_bpf *floor;
	struct floor_event_bpf *fev;
	struct ring_buffer *fev_rb;
	struct kt_tracer tr;
	bool tracing;
	struct trace_output out;
	pthread_t thread;
	bool has_thread;
	int stop;
	int poll_err;
	uint64_t thread_cpu_ns;	     /* the drain thread's CPU time */
	pid_t idle;		     /* C_OUTSIDE: the process the tracer targets instead */
	uint64_t prog_ns, prog_runs; /* our programs' run time (BPF stats) */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts_ns(&ts);
}

/* As cmd_trace's trace_loop: poll, apply, print changes. */
static void *drain_tracer(void *arg)
{
	struct session *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		int r = tracer_poll(&s->tr, 100);

		fflush(s->out.out);
		if (r) {
			s->poll_err = r;
			break;
		}
	}
	s->thread_cpu_ns = thread_cpu_ns();
	return NULL;
}

static int discard(void *ctx, void *data, size_t size)
{
	return 0;
}

static void *drain_floor_event(void *arg)
{
	struct session *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		ring_buffer__poll(s->fev_rb, 100);
		ring_buffer__consume(s->fev_rb);
	}
	s->thread_cpu_ns = thread_cpu_ns();
	return NULL;
}

static pid_t start_idle(void)
{
	pid_t p = fork();

	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static int tracer_begin(struct kt_tracer *tr, pid_t root, struct trace_output *out)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_tracer_opts o = { .ringbuf_bytes = KT_DEFAULT_RINGBUF, .want_paths = true };
	char why[256] = "";
	int r;

	memset(tr, 0, sizeof(*tr));
	if (out) {
		tr->report = trace_output_report;
		tr->report_arg = out;
	}
	r = tracer_start(tr, &t, &o, why, sizeof(why));
	if (r)
		fprintf(stderr, "bench_trace: tracer_start: %s\n", *why ? why : strerror(-r));
	return r;
}

static int floor_add(struct bpf_map *m, pid_t worker)
{
	uint32_t tgid = (uint32_t)worker;
	uint8_t one = 1;

	return bpf_map__update_elem(m, &tgid, sizeof(tgid), &one, sizeof(one), BPF_ANY);
}

static int session_begin(struct session *s, enum cond c, pid_t worker)
{
	int r = 0;

	memset(s, 0, sizeof(*s));
	s->c = c;
	switch (c) {
	case C_UNTRACED: return 0;
	case C_FLOOR:
		s->floor = floor_bpf__open_and_load();
		if (!s->floor)
			return -errno;
		r = floor_add(s->floor->maps.floor_pids, worker);
		return r ? r : floor_bpf__attach(s->floor);
	case C_FLOOR_EV:
		s->fev = floor_event_bpf__open_and_load();
		if (!s->fev)
			return -errno;
		r = floor_add(s->fev->maps.floor_pids, worker);
		if (!r)
			r = floor_event_bpf__attach(s->fev);
		if (!r) {
			s->fev_rb = ring_buffer__new(bpf_map__fd(s->fev->maps.events), discard,
						     NULL, NULL);
			r = s->fev_rb ? 0 : -errno;
		}
		if (!r)
			r = -pthread_create(&s->thread, NULL, drain_floor_event, s);
		s->has_thread = !r;
		return r;
	case C_OUTSIDE:
		s->idle = start_idle();
		if (s->idle < 0)
			return -errno;
		break;
	default: break;
	}
	s->out.out = fopen("/dev/null", "w");
	s->out.t0_ns = now_ns();
	if (!s->out.out)
		return -errno;
	s->tracing = true;
	r = tracer_begin(&s->tr, c == C_OUTSIDE ? s->idle : worker, &s->out);
	if (!r)
		r = -pthread_create(&s->thread, NULL, drain_tracer, s);
	s->has_thread = !r;
	return r;
}

/* Run time of the programs of @obj: nonzero only while BPF stats are enabled. */
static void prog_stats(struct session *s, struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj)
	{
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		s->prog_ns += info.run_time_ns;
		s->prog_runs += info.run_cnt;
	}
}

static void session_end(struct session *s)
{
	if (s->has_thread) {
		__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
		pthread_join(s->thread, NULL);
	}
	if (s->floor) {
		prog_stats(s, s->floor->obj);
		floor_bpf__destroy(s->floor);
	}
	ring_buffer__free(s->fev_rb);
	if (s->fev) {
		prog_stats(s, s->fev->obj);
		floor_event_bpf__destroy(s->fev);
	}
	if (s->tracing) {
		/* all of the workload's events are counted */
		if (s->has_thread && !s->poll_err)
			s->poll_err = tracer_settle(&s->tr);
		if (s->tr.skel)
			prog_stats(s, s->tr.skel->obj);
		tracer_stop(&s->tr);
	}
	if (s->out.out)
		fclose(s->out.out);
	if (s->idle > 0) {
		kill(s->idle, SIGKILL);
		waitpid(s->idle, NULL, 0);
	}
}

/* ---- one measurement ---- */

struct sample {
	double per_iter_ns; /* CPU time */
	uint64_t iters, ns, cpu_ns, events, lost, rescans, tracer_cpu_ns;
	uint64_t prog_ns, prog_runs;
};

static int measure(enum wl_kind k, enum cond c, uint64_t iters, struct sample *out)
{
	struct worker w = { 0 };
	struct session s;
	struct wresult res;
	int r;

	memset(out, 0, sizeof(*out));
	runs_total++;
	runs_foreign += foreign_tracing_links() > 0;
	r = worker_start(&w, k, iters);
	if (r)
		return r;
	r = session_begin(&s, c, w.pid);
	if (r) {
		fprintf(stderr, "bench_trace: cannot set up '%s': %s\n", cond_name[c],
			strerror(-r));
		kill(w.pid, SIGKILL);
		close(w.go);
		close(w.res);
		waitpid(w.pid, NULL, 0);
	} else {
		r = worker_run(&w, k, &res);
	}
	session_end(&s);
	if (!r && s.poll_err)
		r = s.poll_err;
	if (r)
		return r;
	out->iters = res.iters;
	out->ns = res.ns;
	out->cpu_ns = res.cpu_ns;
	out->per_iter_ns = res.iters ? (double)res.cpu_ns / (double)res.iters : 0;
	out->events = s.tr.c.events;
	out->lost = s.tr.c.lost;
	out->rescans = s.tr.c.rescans;
	out->tracer_cpu_ns = s.thread_cpu_ns;
	out->prog_ns = s.prog_ns;
	out->prog_runs = s.prog_runs;
	return 0;
}

/* ---- the build workload: a copy of user's .c files, compiled -O0 by a generated makefile ---- */

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n = 0;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return in < 0 || out < 0 || n < 0 ? -1 : 0;
}

/* Copy *.c / *.h of @dir into the build dir; count the .c files. */
static int copy_dir(const char *dir, const char *ext_c, int *nc)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char from[PATH_MAX + 300], to[PATH_MAX + 300];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 3 || e->d_name[l - 2] != '.' ||
		    (e->d_name[l - 1] != 'h' && !(ext_c && e->d_name[l - 1] == 'c')))
			continue;
		snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", build_dir, e->d_name);
		if (copy_file(from, to))
			continue;
		if (nc && e->d_name[l - 1] == 'c')
			(*nc)++;
	}
	closedir(d);
	return 0;
}

/* A makefile for the .c files that compile: one rule each, objects in o/. */
static int write_makefile(bool only_built)
{
	char path[PATH_MAX + 32], obj[PATH_MAX + 300];
	DIR *d = opendir(build_dir);
	struct dirent *e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/bench.mk", build_dir);
	f = fopen(path, "w");
	if (!f || !d) {
		if (f)
			fclose(f);
		if (d)
			closedir(d);
		return -1;
	}
	fprintf(f, "CFLAGS := -O0 -std=gnu11 -D_GNU_SOURCE -I.\nOBJS :=");
	build_files = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 3 || strcmp(e->d_name + l - 2, ".c"))
			continue;
		snprintf(obj, sizeof(obj), "%s/o/%.*s.o", build_dir, (int)(l - 2), e->d_name);
		if (only_built && access(obj, F_OK))
			continue; /* did not compile (someone is editing it): leave it out */
		fprintf(f, " o/%.*s.o", (int)(l - 2), e->d_name);
		build_files++;
	}
	closedir(d);
	fprintf(f, "\nall: $(OBJS)\no/%%.o: %%.c\n\tcc $(CFLAGS) -c $< -o $@\n");
	return fclose(f) ? -1 : 0;
}

static void clean_objects(void)
{
	char cmd[2 * PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/o' && mkdir '%s/o'", build_dir, build_dir);
	if (system(cmd))
		fprintf(stderr, "bench_trace: cannot clean %s/o\n", build_dir);
}

/* The generated headers (skeletons) live next to this program's build dir. */
static int setup_build(void)
{
	char exe[PATH_MAX], gen[PATH_MAX + 16], cmd[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	int nc = 0;

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(gen, sizeof(gen), "%s/..", exe); /* OUT/bench/bench_trace -> OUT */
	snprintf(build_dir, sizeof(build_dir), "/tmp/kcmptrace-bench-build.XXXXXX");
	if (!mkdtemp(build_dir))
		return -1;
	if (copy_dir("user", "c", &nc) || copy_dir("include", NULL, NULL) ||
	    copy_dir(gen, NULL, NULL) || !nc) {
		fprintf(stderr, "bench_trace: run me from the source tree (no user/*.c here)\n");
		return -1;
	}
	/* a first build: warms the caches and finds the files that compile */
	if (write_makefile(false))
		return -1;
	clean_objects();
	snprintf(cmd, sizeof(cmd), "make -s -k -j2 -C '%s' -f bench.mk >/dev/null 2>&1", build_dir);
	if (system(cmd)) {
		/* some file did not compile: the rest is still a build */
	}
	return write_makefile(true);
}

static void remove_build(void)
{
	char cmd[PATH_MAX + 32];

	if (!build_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", build_dir);
	if (system(cmd))
		fprintf(stderr, "bench_trace: cannot remove %s\n", build_dir);
}

/* ---- the comparison tables ---- */

struct wl_result {
	enum wl_kind k;
	bool ok;
	uint64_t iters;
	double t[NCOND][MAX_REPS];    /* CPU ns per iteration */
	double wall[NCOND][MAX_REPS]; /* wall ns per iteration */
	double with_tracer[MAX_REPS]; /* traced, plus the drain thread's CPU */
	double tracer_pct[MAX_REPS];  /* the drain thread's CPU over the traced workload's */
	double med[NCOND], med_wall[NCOND];
	double slowdown; /* median over repetitions of with_tracer / untraced */
	double events_per_iter;
	uint64_t lost;
	int reps;
};

static bool applies(enum wl_kind k, enum cond c)
{
	return !(k == W_BUILD && c == C_FLOOR_EV);
}

static void run_workload(struct wl_result *res, enum wl_kind k, double run_s, int nreps)
{
	struct sample s;
	uint64_t iters = 1;

	memset(res, 0, sizeof(*res));
	res->k = k;
	if (k != W_BUILD) {
		/* calibrate untraced: each run about @run_s of CPU */
		uint64_t probe = k == W_FORK ? 200 : 20000;

		if (measure(k, C_UNTRACED, probe, &s))
			return;
		iters = (uint64_t)(run_s * 1e9 / s.per_iter_ns);
		iters = iters < 100 ? 100 : iters;
		if (k != W_FORK && iters > MAX_FD_LOOP_ITERS)
			iters = MAX_FD_LOOP_ITERS;
	}
	res->iters = iters;
	res->reps = nreps;
	for (int rep = 0; rep < nreps; rep++) {
		for (int j = 0; j < NCOND; j++) {
			enum cond c = (enum cond)((rep + j) % NCOND);

			if (!applies(k, c))
				continue;
			if (k == W_BUILD)
				clean_objects();
			if (measure(k, c, iters, &s)) {
				fprintf(stderr, "bench_trace: %s under %s failed\n", wl_name[k],
					cond_name[c]);
				return;
			}
			res->t[c][rep] = s.per_iter_ns;
			res->wall[c][rep] = (double)s.ns / (double)s.iters;
			if (c != C_TRACED)
				continue;
			res->events_per_iter += (double)s.events / (double)s.iters / nreps;
			res->lost += s.lost;
			res->with_tracer[rep] = (double)(s.cpu_ns + s.tracer_cpu_ns) /
						(double)s.iters;
			res->tracer_pct[rep] =
				s.cpu_ns ? (double)s.tracer_cpu_ns * 100.0 / (double)s.cpu_ns : 0;
		}
	}
	for (int c = 0; c < NCOND; c++) {
		res->med[c] = applies(k, c) ? median(res->t[c], nreps) : 0;
		res->med_wall[c] = applies(k, c) ? median(res->wall[c], nreps) : 0;
	}
	for (int rep = 0; rep < nreps; rep++)
		res->with_tracer[rep] /= res->t[C_UNTRACED][rep];
	res->slowdown = median(res->with_tracer, nreps);
	res->ok = true;
}

static const char *pass(bool ok)
{
	return ok ? "PASS" : "MISS";
}

static void fmt_time(char *buf, size_t len, double ns)
{
	double a = ns < 0 ? -ns : ns;

	if (a >= 1e6)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else if (a >= 1e4)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else
		snprintf(buf, len, "%.0f ns", ns);
}

static void print_times(const struct wl_result *r, int n)
{
	printf("CPU time per iteration (see measure_cpu(): the worker's for the fd loops, with\n"
	       "its children for fork, make's whole tree for the build): median of the runs,\n"
	       "+- half their range in %%.  ev/iter: events the tracer applied per iteration;\n"
	       "lost: events it lost, all runs; tracer: its drain thread's CPU time (on the\n"
	       "other core) over the traced workload's CPU time.\n\n");
	printf("| %-26s | %5s | %-15s | %-15s | %-15s | %-15s | %-15s | %7s | %4s | %6s |\n",
	       "workload", "iters", "untraced", "floor", "floor+ev", "traced", "outside", "ev/iter",
	       "lost", "tracer");
	printf("| %-26s | %5s | %-15s | %-15s | %-15s | %-15s | %-15s | %7s | %4s | %6s |\n",
	       "(runs)", "/run", "", "", "(diagnostic)", "", "", "", "", "cpu");
	printf("|----------------------------|-------|-----------------|-----------------|"
	       "-----------------|-----------------|-----------------|---------|------|--------|"
	       "\n");
	for (int i = 0; i < n; i++) {
		char name[40], cell[NCOND][40], t[24], cpu[16];

		snprintf(name, sizeof(name), "%s (%d)", wl_name[r[i].k], r[i].reps);
		if (!r[i].ok) {
			printf("| %-26s | failed: see stderr\n", name);
			continue;
		}
		for (int c = 0; c < NCOND; c++) {
			if (!applies(r[i].k, c)) {
				snprintf(cell[c], sizeof(cell[c]), "-");
				continue;
			}
			fmt_time(t, sizeof(t), r[i].med[c]);
			snprintf(cell[c], sizeof(cell[c]), "%s +-%.0f", t,
				 spread(r[i].t[c], r[i].reps));
		}
		snprintf(cpu, sizeof(cpu), "%.0f%%", median(r[i].tracer_pct, r[i].reps));
		printf("| %-26s | %5llu | %-15s | %-15s | %-15s | %-15s | %-15s | %7.2f | %4llu | "
		       "%6s |\n",
		       name, (unsigned long long)r[i].iters, cell[0], cell[1], cell[2], cell[3],
		       cell[4], r[i].events_per_iter, (unsigned long long)r[i].lost, cpu);
	}
	printf("\n");
}

/*
 * How far the build's slowdown could be off, in %: the half range of the
 * paired ratios, or of the traced or untraced runs themselves if larger
 * (a few pairs can agree by chance while single builds vary by 10%).
 */
static double build_noise(const struct wl_result *r)
{
	double n = spread(r->with_tracer, r->reps), u = spread(r->t[C_UNTRACED], r->reps);
	double t = spread(r->t[C_TRACED], r->reps);

	return n > u ? (n > t ? n : t) : (u > t ? u : t);
}

static void print_ratios(const struct wl_result *r, int n)
{
	printf("Ratios of the medians (u = untraced, f = floor, e = floor+ev, t = traced, tr =\n"
	       "the tracer's drain thread, o = outside):\n"
	       "  overhead ratio (t-u)/(f-u): what the tracer adds per iteration over what the\n"
	       "    bare hooks add.  Target <= %.1f.\n"
	       "  time ratio t/f: the plain ratio of the times.  Target <= %.1f.\n"
	       "  event-only (e-u)/(f-u): the overhead ratio of a tracer that does nothing but\n"
	       "    emit an empty event per syscall (a diagnostic, not a target).\n"
	       "  (t+tr)/u: the traced workload's CPU with the tracer's own, over untraced in\n"
	       "    the same repetition (median of those pairs): on a 2-core machine the build\n"
	       "    keeps busy, the slowdown.  The build's target: <= %.2f.\n"
	       "  noise: f-u, or the distance to the target, is within the runs' half range:\n"
	       "    the timing cannot decide.\n"
	       "  dup+close 2 threads: the dup+close loop with an idle second thread on its fd\n"
	       "    table, where the tracer reports every fd syscall (a diagnostic, no "
	       "target).\n\n",
	       TARGET_OVERHEAD, TARGET_OVERHEAD, TARGET_BUILD_SLOWDOWN);
	printf("| %-22s | %-9s | %-9s | %-14s | %-10s | %-10s | %-6s | %-12s | %-5s |\n",
	       "workload", "f-u", "t-u", "overhead ratio", "time ratio", "event-only", "t/u",
	       "(t+tr)/u", "o/u");
	printf("|------------------------|-----------|-----------|----------------|------------|"
	       "------------|--------|--------------|-------|\n");
	for (int i = 0; i < n; i++) {
		const double *m = r[i].med;
		double fo = m[C_FLOOR] - m[C_UNTRACED], to = m[C_TRACED] - m[C_UNTRACED];
		double eo = m[C_FLOOR_EV] - m[C_UNTRACED], trat = m[C_TRACED] / m[C_FLOOR];
		double slow = r[i].slowdown, slow_hr = build_noise(&r[i]) * slow / 100;
		double nu = spread(r[i].t[C_UNTRACED], r[i].reps) * m[C_UNTRACED] / 100;
		double nf = spread(r[i].t[C_FLOOR], r[i].reps) * m[C_FLOOR] / 100;
		bool build = r[i].k == W_BUILD, resolved = fo > (nu > nf ? nu : nf);
		bool judged = !build && r[i].k != W_DUP_SHARED;
		char a[24], b[24], c1[32], c2[32], c3[32], c4[32];

		if (!r[i].ok)
			continue;
		fmt_time(a, sizeof(a), fo);
		fmt_time(b, sizeof(b), to);
		if (resolved)
			snprintf(c1, sizeof(c1), "%6.2f %s", to / fo,
				 judged ? pass(to / fo <= TARGET_OVERHEAD) : "");
		else
			snprintf(c1, sizeof(c1), "%s", fo > 0 ? "noise" : "noise: f<=u");
		snprintf(c2, sizeof(c2), "%5.2f %s", trat,
			 judged ? pass(trat <= TARGET_OVERHEAD) : "");
		if (build || !resolved)
			snprintf(c3, sizeof(c3), "-");
		else
			snprintf(c3, sizeof(c3), "%6.2f", eo / fo);
		if (!build)
			snprintf(c4, sizeof(c4), "%6.3f", slow);
		else if (slow + slow_hr <= TARGET_BUILD_SLOWDOWN ||
			 slow - slow_hr > TARGET_BUILD_SLOWDOWN)
			snprintf(c4, sizeof(c4), "%6.3f %s", slow,
				 pass(slow <= TARGET_BUILD_SLOWDOWN));
		else
			snprintf(c4, sizeof(c4), "%6.3f noise", slow);
		printf("| %-22s | %9s | %9s | %-14s | %-10s | %-10s | %6.3f | %-12s | %5.3f |\n",
		       wl_name[r[i].k], a, b, c1, c2, c3, m[C_TRACED] / m[C_UNTRACED], c4,
		       m[C_OUTSIDE] / m[C_UNTRACED]);
	}
	for (int i = 0; i < n; i++) {
		const double *w = r[i].med_wall;
		char t[4][24];

		if (!r[i].ok || r[i].k != W_BUILD)
			continue;
		fmt_time(t[0], sizeof(t[0]), w[C_UNTRACED]);
		fmt_time(t[1], sizeof(t[1]), w[C_FLOOR]);
		fmt_time(t[2], sizeof(t[2]), w[C_TRACED]);
		fmt_time(t[3], sizeof(t[3]), w[C_OUTSIDE]);
		printf("\n(t+tr)/u of the build: median of the pairs %.3f, their half range "
		       "%.1f%%,\n"
		       "single builds' %.1f%% (untraced) and %.1f%% (traced).\n",
		       r[i].slowdown, spread(r[i].with_tracer, r[i].reps),
		       spread(r[i].t[C_UNTRACED], r[i].reps), spread(r[i].t[C_TRACED], r[i].reps));
		printf("By the wall clock (medians, +- half the range in %%), the build took:\n");
		printf("  untraced %s +-%.0f, floor %s +-%.0f, traced %s +-%.0f, outside %s "
		       "+-%.0f;\n"
		       "  traced/untraced %.3f.\n",
		       t[0], spread(r[i].wall[C_UNTRACED], r[i].reps), t[1],
		       spread(r[i].wall[C_FLOOR], r[i].reps), t[2],
		       spread(r[i].wall[C_TRACED], r[i].reps), t[3],
		       spread(r[i].wall[C_OUTSIDE], r[i].reps), w[C_TRACED] / w[C_UNTRACED]);
	}
	printf("\n");
}

/*
 * The build's slowdown is a few percent at most, below what its timing
 * resolves on a busy machine.  The run time of the BPF programs themselves
 * (kernel BPF stats, enabled only for these two builds) and the drain
 * thread's CPU are exact, and bound it from below: what they leave out
 * is the hook's own path (the syscall-exit tracepoint, the trampoline),
 * which the floor pays too.
 */
static struct sample build_stats[NCOND];

static void bench_build_stats(void)
{
	struct sample *s = build_stats;
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0) {
		fprintf(stderr, "bench_trace: BPF stats unavailable: %s\n", strerror(errno));
		return;
	}
	for (int c = C_FLOOR; c <= C_TRACED; c++) {
		memset(&s[c], 0, sizeof(s[c]));
		if (c == C_FLOOR_EV)
			continue;
		clean_objects();
		if (measure(W_BUILD, (enum cond)c, 1, &s[c]))
			memset(&s[c], 0, sizeof(s[c]));
	}
	close(fd);
}

static void print_build_stats(void)
{
	const struct sample *s = build_stats;

	if (!s[C_TRACED].cpu_ns || !s[C_FLOOR].cpu_ns)
		return;
	printf("The build's costs measured exactly, one more build each with BPF stats on\n"
	       "(program run time, all tasks of the machine; the hook's own path not included):\n"
	       "  floor:  programs ran %llu times, %.1f ms = %.2f%% of the build's %.0f ms CPU\n"
	       "  traced: programs ran %llu times, %.1f ms, + drain thread %.1f ms = %.2f%% of "
	       "%.0f ms\n\n",
	       (unsigned long long)s[C_FLOOR].prog_runs, (double)s[C_FLOOR].prog_ns / 1e6,
	       (double)s[C_FLOOR].prog_ns * 100 / (double)s[C_FLOOR].cpu_ns,
	       (double)s[C_FLOOR].cpu_ns / 1e6, (unsigned long long)s[C_TRACED].prog_runs,
	       (double)s[C_TRACED].prog_ns / 1e6, (double)s[C_TRACED].tracer_cpu_ns / 1e6,
	       (double)(s[C_TRACED].prog_ns + s[C_TRACED].tracer_cpu_ns) * 100 /
		       (double)s[C_TRACED].cpu_ns,
	       (double)s[C_TRACED].cpu_ns / 1e6);
}

/* ---- lost events at 100k events/s ---- */

static void bench_loss(double secs)
{
	struct sample s;
	double rate;
	int r = measure(W_PACED, C_TRACED, (uint64_t)(secs * 1e9), &s);

	printf("Lost events: a paced generator inside the target, %d fd events/s (open+close\n"
	       "pairs paced by clock_gettime, a second thread on the table so that none is\n"
	       "held back) for %.1f s, default %s ring buffer.\n\n",
	       LOSS_RATE, secs, KT_DEFAULT_RINGBUF_STR);
	if (r) {
		printf("  failed: %s\n\n", strerror(-r));
		return;
	}
	rate = s.ns ? 2.0 * (double)s.iters * 1e9 / (double)s.ns : 0;
	printf("| %-17s | %-11s | %-13s | %-13s | %-10s | %-27s |\n", "achieved events/s",
	       "events seen", "lost (kernel)", "rescan repair", "tracer cpu",
	       "target: 0 lost, >=95k ev/s");
	printf("|-------------------|-------------|---------------|---------------|------------|"
	       "-----------------------------|\n");
	printf("| %17.0f | %11llu | %13llu | %-13s | %9.0f%% | %-27s |\n\n", rate,
	       (unsigned long long)s.events, (unsigned long long)s.lost,
	       s.lost ? "yes" : "none needed",
	       s.ns ? (double)s.tracer_cpu_ns * 100 / (double)s.ns : 0,
	       pass(!s.lost && rate >= 0.95 * LOSS_RATE));
}

/* ---- memory per tracked fd ---- */

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

struct map_mem {
	char name[BPF_OBJ_NAME_LEN];
	uint32_t id;
	uint64_t memlock;
};

/* memlock of every BPF map this process holds, from /proc/self/fdinfo. */
static int map_memlock(struct map_mem *maps, int max)
{
	DIR *d = opendir("/proc/self/fdinfo");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) && n < max) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		char path[300], line[256];
		uint64_t memlock = 0;
		bool map = false;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned type;

			if (sscanf(line, "map_type: %u", &type) == 1)
				map = true;
			sscanf(line, "memlock: %lu", &memlock);
		}
		fclose(f);
		if (!map || bpf_obj_get_info_by_fd(atoi(e->d_name), &info, &len))
			continue;
		snprintf(maps[n].name, sizeof(maps[n].name), "%s", info.name);
		maps[n].id = info.id;
		maps[n].memlock = memlock;
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static bool map_was_there(const struct map_mem *before, int nb, uint32_t id)
{
	for (int i = 0; i < nb; i++)
		if (before[i].id == id)
			return true;
	return false;
}

static int cmp_mem(const void *a, const void *b)
{
	uint64_t x = ((const struct map_mem *)a)->memlock, y = ((const struct map_mem *)b)->memlock;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Open @n more fds: /dev/null, or unix socket pairs (every fd its own path). */
static void open_fds(int n, bool sockets)
{
	int sv[2];

	for (int i = 0; i < n; i++) {
		if (sockets && i + 1 < n && !socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			i++;
		else if (open("/dev/null", O_RDONLY) < 0)
			break;
	}
}

/*
 * @n fds in as few processes as the hard RLIMIT_NOFILE allows (raising it
 * needs CAP_SYS_RESOURCE): a root and its children, parked until the group
 * is killed.
 */
static pid_t start_fd_holders(int n, bool sockets, int *nprocs)
{
	struct rlimit rl;
	int ready[2], per;
	pid_t root;
	char c = 'r';

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		getrlimit(RLIMIT_NOFILE, &rl);
	per = (int)rl.rlim_max - 64;
	if (per < 1)
		return -1;
	*nprocs = (n + per - 1) / per;
	if (pipe(ready))
		return -1;
	root = fork();
	if (root == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		setpgid(0, 0);
		close(ready[0]);
		/* children first, so nobody inherits anybody's fds; process p opens share p */
		int me = 0;

		for (int p = 1; p < *nprocs && !me; p++)
			if (fork() == 0)
				me = p;
		open_fds(me * per + per <= n ? per : n - me * per, sockets);
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	for (int p = 0; root > 0 && p < *nprocs; p++)
		if (read(ready[0], &c, 1) != 1) {
			kill(-root, SIGKILL);
			waitpid(root, NULL, 0);
			root = -1;
		}
	close(ready[0]);
	return root;
}

struct mem_row {
	uint64_t tracked;
	int nprocs;
	size_t user;   /* bytes */
	uint64_t kern; /* bytes */
	uint64_t ring; /* bytes, of kern */
	struct map_mem ours[64];
	int nours;
};

/* The tracer on @nfds fds held by a process group: its heap and its maps. */
static int measure_memory(int nfds, bool sockets, struct mem_row *m)
{
	struct map_mem before[64], after[64];
	struct kt_tracer tr;
	size_t heap_full, heap_empty;
	int nb, na, r;
	pid_t holders;

	memset(m, 0, sizeof(*m));
	holders = start_fd_holders(nfds, sockets, &m->nprocs);
	if (holders < 0)
		return -EMFILE;
	nb = map_memlock(before, 64);
	r = tracer_begin(&tr, holders, NULL);
	if (!r)
		r = tracer_settle(&tr);
	if (!r) {
		na = map_memlock(after, 64);
		for (int i = 0; i < na; i++)
			if (!map_was_there(before, nb, after[i].id)) {
				m->ours[m->nours++] = after[i];
				m->kern += after[i].memlock;
				if (!strcmp(after[i].name, "events"))
					m->ring += after[i].memlock;
			}
		qsort(m->ours, (size_t)m->nours, sizeof(m->ours[0]), cmp_mem);
		m->tracked = tr.st.nfds;
		heap_full = heap_bytes();
		live_free(&tr.st);
		live_init(&tr.st);
		heap_empty = heap_bytes();
		m->user = heap_full - heap_empty;
	}
	tracer_stop(&tr);
	kill(-holders, SIGKILL);
	waitpid(holders, NULL, 0);
	return r ? r : m->tracked ? 0 : -ENOENT;
}

static void print_mem_row(const char *what, const struct mem_row *m)
{
	double user_b = (double)m->user / (double)m->tracked;
	double kern_b = (double)m->kern / (double)m->tracked;

	printf("| %-22s | %9llu (%3d) | %7.1f MiB %5.0f B/fd | %7.1f MiB %5.0f B/fd | %7.1f MiB "
	       "%5.0f "
	       "B/fd | %-11s |\n",
	       what, (unsigned long long)m->tracked, m->nprocs, (double)m->user / 1048576.0, user_b,
	       (double)m->kern / 1048576.0, kern_b, (double)(m->user + m->kern) / 1048576.0,
	       user_b + kern_b, pass(user_b + kern_b <= TARGET_BYTES_PER_FD));
}

static void bench_memory(int nfds)
{
	static const struct {
		const char *what;
		bool sockets;
	} rows[] = { { "/dev/null (one path)", false }, { "socket pairs", true } };
	struct mem_row m[2];
	int r;

	printf("Memory per tracked fd: the tracer on %d fds kept with their paths as `kcmptrace\n"
	       "trace` keeps them: each its own open of /dev/null (one path for all), or unix\n"
	       "socket pairs (a path each, which the kernel makes from the inode number).\n"
	       "userspace: the heap its live state holds (mallinfo2, measured by freeing it);\n"
	       "kernel: memlock of the BPF maps the tracer created (/proc/self/fdinfo).\n\n",
	       nfds);
	printf("| %-22s | %-15s | %-21s | %-21s | %-21s | %-11s |\n", "fds", "tracked (procs)",
	       "userspace live state", "kernel maps", "total", "<= 200 B/fd");
	printf("|------------------------|-----------------|-----------------------|"
	       "-----------------------|-----------------------|-------------|\n");
	for (int i = 0; i < 2; i++) {
		r = measure_memory(nfds, rows[i].sockets, &m[i]);
		if (r)
			printf("| %-22s | failed: %s\n", rows[i].what, strerror(-r));
		else
			print_mem_row(rows[i].what, &m[i]);
	}
	if (!m[0].tracked)
		return;
	printf("  The kernel maps do not grow with fds: a fixed %.1f MiB, of which the ring\n"
	       "  buffer (-B, default %s) is %.1f MiB.  Largest:",
	       (double)m[0].kern / 1048576.0, KT_DEFAULT_RINGBUF_STR,
	       (double)m[0].ring / 1048576.0);
	for (int i = 0; i < m[0].nours && i < 5; i++)
		printf("%s %s %.2f MiB", i ? "," : "", m[0].ours[i].name,
		       (double)m[0].ours[i].memlock / 1048576.0);
	printf(".\n\n");
}

/* ---- main ---- */

static void header(void)
{
	struct utsname u;
	char model[128] = "?", line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	double load[3] = { 0 };

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	uname(&u);
	getloadavg(load, 3);
	printf("kcmptrace live-tracing benchmark%s\n", quick ? " (--quick)" : "");
	printf("machine: Linux %s %s, nproc %ld, %s; load average %.2f at start\n", u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN), model, load[0]);
	printf("targets: traced overhead within %.1fx of the floor's; build slowdown <= %.0f%%;\n"
	       "         no lost events at %dk events/s with the default %s ring buffer;\n"
	       "         <= %.0f bytes per tracked fd\n\n",
	       TARGET_OVERHEAD, (TARGET_BUILD_SLOWDOWN - 1) * 100, LOSS_RATE / 1000,
	       KT_DEFAULT_RINGBUF_STR, TARGET_BYTES_PER_FD);
}

static bool want(const char *only, const char *part)
{
	return !only || strstr(only, part);
}

int main(int argc, char **argv)
{
	struct wl_result res[5]; /* open, dup, shared, fork, build */
	const char *only = NULL;
	uint64_t t0 = now_ns();
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_trace [--quick] "
					"[--only open,dup,shared,fork,build,loss,memory]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_trace: must run as root\n");
		return 1;
	}
	reps = quick ? 3 : 5;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	header();
	if (want(only, "open"))
		run_workload(&res[n++], W_OPEN, quick ? 0.05 : 0.1, reps);
	if (want(only, "dup"))
		run_workload(&res[n++], W_DUP, quick ? 0.05 : 0.1, reps);
	if (want(only, "shared"))
		run_workload(&res[n++], W_DUP_SHARED, quick ? 0.05 : 0.1, reps);
	if (want(only, "fork"))
		run_workload(&res[n++], W_FORK, quick ? 0.05 : 0.1, reps);
	if (want(only, "build")) {
		if (!setup_build()) {
			printf("(build: %d files of user/*.c, copied to %s)\n\n", build_files,
			       build_dir);
			run_workload(&res[n++], W_BUILD, 0, quick ? 3 : 7);
			bench_build_stats();
		} else {
			fprintf(stderr, "bench_trace: cannot set up the build workload\n");
		}
		remove_build();
	}
	if (n) {
		print_times(res, n);
		print_ratios(res, n);
		print_build_stats();
	}
	if (want(only, "loss"))
		bench_loss(quick ? 1.0 : 2.0);
	if (want(only, "memory"))
		bench_memory(MEM_FDS);
	if (runs_foreign)
		printf("WARNING: in %d of %d runs another tracer had BPF tracing links attached "
		       "on\n"
		       "this machine: every condition, untraced included, paid for its hooks.\n\n",
		       runs_foreign, runs_total);
	printf("total bench time %.0f s\n", (double)(now_ns() - t0) / 1e9);
	return 0;
}
