// SPDX-License-Identifier: LGPL-2.1
/*
 * Warm daemon vs cold snapshot benchmark: prints a table, asserts nothing.
 *
 * The target: 10 processes x 10,000 fds (100k fds).  A root opens fds
 * 0..4999 and forks 9 children; every process then opens its own
 * 5000..9999, so half of each table is inherited (shared open file
 * descriptions) and half is its own.  RLIMIT_NOFILE may not go past 20k
 * here, hence ten tables rather than one.  One child can churn on demand:
 * open+close of /dev/null at ~1000/s.
 *
 * Every row is the latency from asking to holding the complete JSON
 * snapshot (full document, paths resolved as the CLI resolves them):
 *   warm     `kcmptrace daemon --tree ROOT --socket S`, then
 *            daemon_request(S, "snapshot") round trips, the target quiet
 *            and then churning; and `kcmptrace snapshot --from S --json`
 *   cold     snapshot_take() + export_json() into an open_memstream buffer
 *            in this process (BPF, then procfs), and `kcmptrace snapshot
 *            --tree ROOT --json [-b procfs]`
 * CLI rows time fork+exec+wait with stdout on /dev/null (not `-o /dev/null`:
 * -o renames a temporary file over its path); one untimed run first, into
 * a pipe, counts and checks what the CLI writes.  The cold rows run before
 * the daemon starts, so its tracer does not tax them.
 *
 *   bench_daemon [--quick] [--kcmptrace PATH]
 *
 * The binary: --kcmptrace, else $KCMPTRACE, else ../kcmptrace beside this
 * program (OUT/bench/bench_daemon -> OUT/kcmptrace), else ./build/kcmptrace.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include "backend.h"
#include "daemon.h"
#include "export.h"
#include "snapshot_json.h"
#include "target.h"

#define PROCS 10
#define FDS_PER_PROC 10000
#define SHARED_PER_PROC 5000
#define CHURN_HZ 1000
#define REQUEST_GAP_MS 10 /* between warm requests, so churn lands between them */
#define MAX_REPS 32
#define HEALTH_TIMEOUT_MS 60000

/* The targets. */
#define TARGET_WARM_MS 25.0
#define TARGET_VS_BPF 2.0
#define TARGET_VS_PROCFS 30.0

static bool quick;
static const char *bin;

/* Everything that must go at the end, also on error or a signal. */
static struct {
	pid_t main;   /* only this process cleans up */
	pid_t root;   /* the target's process group */
	pid_t daemon; /* a process group of its own */
	pid_t cli;    /* a running CLI, a group of its own */
	int ctl;      /* write end: 'c' starts the churner, 's' stops it */
	char dir[64], sock[96], log[128];
	volatile unsigned long *churn_ops; /* shared with the churner */
} g = { .ctl = -1 };

/* ---- cleanup ---- */

/* Signal a process group, give it @grace_ms, then SIGKILL it; reap the leader. */
static void stop_group(pid_t *pid, int sig, int grace_ms)
{
	if (*pid <= 0)
		return;
	kill(-*pid, sig);
	for (int i = 0; i < grace_ms && waitpid(*pid, NULL, WNOHANG) == 0; i++)
		usleep(1000);
	kill(-*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static void cleanup(void)
{
	if (getpid() != g.main)
		return;
	stop_group(&g.cli, SIGKILL, 0);
	stop_group(&g.daemon, SIGTERM, 2000); /* it removes its socket on SIGTERM */
	stop_group(&g.root, SIGKILL, 0);
	if (g.sock[0])
		unlink(g.sock);
	if (g.log[0])
		unlink(g.log);
	if (g.dir[0])
		rmdir(g.dir);
	g.sock[0] = g.log[0] = g.dir[0] = '\0';
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

/* ---- time and statistics ---- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct series {
	double ms[MAX_REPS];
	int n;
	size_t bytes; /* per answer */
	bool failed;
};

static double median(const struct series *se)
{
	double v[MAX_REPS];

	if (!se->n)
		return -1;
	memcpy(v, se->ms, sizeof(double) * (size_t)se->n);
	qsort(v, (size_t)se->n, sizeof(double), cmp_dbl);
	return se->n % 2 ? v[se->n / 2] : (v[se->n / 2 - 1] + v[se->n / 2]) / 2;
}

/* Nearest rank: the smallest sample >= 90% of them. */
static double p90(const struct series *se)
{
	double v[MAX_REPS];

	if (!se->n)
		return -1;
	memcpy(v, se->ms, sizeof(double) * (size_t)se->n);
	qsort(v, (size_t)se->n, sizeof(double), cmp_dbl);
	return v[(9 * se->n + 9) / 10 - 1];
}

static double ms_since(uint64_t t0)
{
	return (double)(kt_now_ns() - t0) / 1e6;
}

/* ---- the target ---- */

/* One fd (two for a socketpair) of a realistic mix; the highest fd made, or -1. */
static int open_mixed(int i)
{
	int sv[2];

	switch (i % 8) {
	case 0: return eventfd(0, 0);
	case 1: return socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ? -1 : sv[1];
	case 2: return open("/dev/null", O_RDONLY);
	default: return open("/etc/hostname", O_RDONLY);
	}
}

/* Open until the table holds exactly 0..n-1 (it has no holes: fds come lowest first). */
static void fill_to(int n)
{
	for (int i = 0;; i++) {
		int fd = open_mixed(i);

		if (fd < 0)
			_exit(1);
		if (fd >= n - 1) {
			if (fd >= n)
				close(fd);
			return;
		}
	}
}

static void park(void)
{
	for (;;)
		pause();
}

/* Idle on @ctl until 'c', then open+close at CHURN_HZ until anything more arrives. */
static void churn(int ctl)
{
	char c;

	for (;;) {
		struct timespec next;

		if (read(ctl, &c, 1) != 1)
			park();
		if (c != 'c')
			continue;
		clock_gettime(CLOCK_MONOTONIC, &next);
		for (;;) {
			struct pollfd pfd = { .fd = ctl, .events = POLLIN };
			int fd = open("/dev/null", O_RDONLY);

			if (fd >= 0) {
				close(fd);
				(*g.churn_ops)++;
			}
			if (poll(&pfd, 1, 0) > 0)
				break;
			next.tv_nsec += 1000000000L / CHURN_HZ;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
}

static void report_ready(void)
{
	char c = 'r';

	if (write(3, &c, 1) != 1)
		_exit(1);
}

/*
 * The target's root, in a group of its own: stdio on /dev/null, fd 3 the
 * ready pipe, fd 4 the churn control, then shared fds up to
 * SHARED_PER_PROC; children inherit those and open their own.
 */
static void pool_root(int ready_w, int ctl_r)
{
	int null = open("/dev/null", O_RDWR);
	int rw = fcntl(ready_w, F_DUPFD, 100), cr = fcntl(ctl_r, F_DUPFD, 100);

	setpgid(0, 0);
	if (null < 0 || rw < 0 || cr < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(rw, 3) < 0 || dup2(cr, 4) < 0 || close_range(5, ~0U, 0))
		_exit(1);
	fill_to(SHARED_PER_PROC);
	for (int p = 0; p < PROCS - 1; p++) {
		pid_t pid = fork();

		if (pid < 0)
			_exit(1);
		if (pid == 0) {
			fill_to(FDS_PER_PROC);
			report_ready();
			if (p == 0)
				churn(4);
			park();
		}
	}
	fill_to(FDS_PER_PROC);
	report_ready();
	park();
}

static int start_target(void)
{
	int ready[2], ctl[2];
	char c;

	g.churn_ops = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g.churn_ops == MAP_FAILED || pipe(ready) || pipe2(ctl, O_CLOEXEC))
		return -1;
	g.root = fork();
	if (g.root < 0)
		return -1;
	if (g.root == 0)
		pool_root(ready[1], ctl[0]);
	setpgid(g.root, g.root);
	close(ready[1]);
	close(ctl[0]);
	g.ctl = ctl[1];
	for (int p = 0; p < PROCS; p++)
		if (read(ready[0], &c, 1) != 1) {
			close(ready[0]);
			return -1;
		}
	close(ready[0]);
	return 0;
}

/* Count the target's processes and fds in /proc, independently of kcmptrace. */
static void count_target(long *tasks, long *fds)
{
	DIR *d = opendir("/proc"), *fd_dir;
	struct dirent *e, *f;
	char path[64];

	*tasks = *fds = 0;
	while (d && (e = readdir(d))) {
		pid_t pid = atoi(e->d_name);

		if (pid <= 0 || getpgid(pid) != g.root)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fd_dir = opendir(path);
		if (!fd_dir)
			continue;
		(*tasks)++;
		while ((f = readdir(fd_dir)))
			*fds += f->d_name[0] != '.';
		closedir(fd_dir);
	}
	if (d)
		closedir(d);
}

/* ---- answers ---- */

static bool complete_document(const char *buf, size_t len)
{
	static const char head[] = "{\"schema\":\"" KT_SCHEMA_NAME "\",";

	return len > sizeof(head) && !memcmp(buf, head, sizeof(head) - 1) && buf[len - 2] == '}' &&
	       buf[len - 1] == '\n';
}

/* The answer's "verification" object, copied into @out ("?" if none). */
static void verification_of(const char *buf, size_t len, char *out, size_t out_len)
{
	const char key[] = "\"verification\":";
	size_t from = len > 4096 ? len - 4096 : 0;
	const char *v = memmem(buf + from, len - from, key, sizeof(key) - 1), *end;

	snprintf(out, out_len, "?");
	if (!v)
		return;
	end = memchr(v, '}', (size_t)(buf + len - v));
	if (end)
		snprintf(out, out_len, "%.*s", (int)(end + 1 - v), v);
}

/* ---- cold snapshots, in this process ---- */

struct cold_run {
	double ms, json_ms;
	uint64_t phase_ns[KT_NR_PHASES];
	size_t bytes;
	bool ok;
};

static struct cold_run cold_once(enum kt_backend b)
{
	static struct kt_target t; /* large: pids[] */
	struct kt_backend_opts o = { .genid = KT_GENID_ADDR, .want_paths = true }; /* as the CLI */
	struct kt_export_opts eo;
	struct cold_run res = { 0 };
	struct kt_snapshot s;
	char desc[512], *buf = NULL;
	size_t len = 0;
	uint64_t t0, t1;
	FILE *f;
	int r;

	memset(&t, 0, sizeof(t));
	t.mode = KT_TARGET_TREE;
	t.tgid = (uint32_t)g.root;
	target_describe(&t, desc, sizeof(desc));
	eo = (struct kt_export_opts){ .target_desc = desc };
	t0 = kt_now_ns();
	f = open_memstream(&buf, &len);
	r = f ? snapshot_take(&s, &t, &o, b, false) : -ENOMEM;
	t1 = kt_now_ns();
	if (!r)
		r = export_json(f, &s, &eo);
	if (f && fclose(f) && !r)
		r = -EIO;
	res.ms = ms_since(t0);
	res.json_ms = (double)(kt_now_ns() - t1) / 1e6;
	if (f && !r) {
		memcpy(res.phase_ns, s.phase_ns, sizeof(res.phase_ns));
		res.bytes = len;
		res.ok = complete_document(buf, len);
	}
	if (f)
		snapshot_free(&s);
	free(buf);
	if (r)
		fprintf(stderr, "bench_daemon: cold %s snapshot failed: %s\n",
			b == KT_BACKEND_BPF ? "bpf" : "procfs", strerror(-r));
	return res;
}

static int cmp_cold(const void *a, const void *b)
{
	return cmp_dbl(&((const struct cold_run *)a)->ms, &((const struct cold_run *)b)->ms);
}

/* Fills @se; @med gets the median run, for its phases. */
static void cold_series(enum kt_backend b, int reps, struct series *se, struct cold_run *med)
{
	struct cold_run runs[MAX_REPS];

	se->n = 0;
	for (int i = 0; i < reps; i++) {
		runs[i] = cold_once(b);
		if (!runs[i].ok) {
			se->failed = true;
			return;
		}
		se->ms[se->n++] = runs[i].ms;
		se->bytes = runs[i].bytes;
	}
	qsort(runs, (size_t)reps, sizeof(runs[0]), cmp_cold);
	*med = runs[reps / 2];
}

/* ---- the CLI ---- */

/*
 * fork+exec+wait of `kcmptrace ARGS`; ms, or -1.  With @bytes, stdout is a
 * pipe we drain and check; else /dev/null.
 */
static double run_cli(const char *const args[], size_t *bytes)
{
	char *argv[16];
	int p[2] = { -1, -1 }, status, n = 0;
	bool complete = true;
	uint64_t t0;
	pid_t pid;

	argv[n++] = (char *)bin;
	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (bytes && pipe2(p, O_CLOEXEC))
		return -1;
	t0 = kt_now_ns();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = bytes ? p[1] : open("/dev/null", O_WRONLY);
		int in = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (out < 0 || in < 0 || dup2(out, 1) < 0 || dup2(in, 0) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	setpgid(pid, pid);
	g.cli = pid;
	if (bytes) {
		static const char head[] = "{\"schema\":\"" KT_SCHEMA_NAME "\",";
		static char buf[1 << 16];
		char first[sizeof(head)] = "", last[2] = "";
		ssize_t got;

		close(p[1]);
		*bytes = 0;
		while ((got = read(p[0], buf, sizeof(buf))) != 0) {
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				break;
			for (ssize_t i = 0; i < got; i++, (*bytes)++) {
				if (*bytes < sizeof(head) - 1)
					first[*bytes] = buf[i];
				last[0] = last[1];
				last[1] = buf[i];
			}
		}
		close(p[0]);
		complete = !memcmp(first, head, sizeof(head) - 1) && last[0] == '}' &&
			   last[1] == '\n';
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	g.cli = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "bench_daemon: %s %s %s exited with %d\n", bin, argv[1], argv[2],
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	if (!complete) {
		fprintf(stderr, "bench_daemon: %s %s %s: output is not a complete snapshot\n", bin,
			argv[1], argv[2]);
		return -1;
	}
	return ms_since(t0);
}

/* One untimed run into a pipe (bytes, a complete document), then @reps timed ones. */
static void cli_series(const char *const args[], int reps, struct series *se)
{
	se->n = 0;
	if (run_cli(args, &se->bytes) < 0) {
		se->failed = true;
		return;
	}
	for (int i = 0; i < reps; i++) {
		double ms = run_cli(args, NULL);

		if (ms < 0) {
			se->failed = true;
			return;
		}
		se->ms[se->n++] = ms;
	}
}

/* ---- the daemon ---- */

static void print_log(void)
{
	char line[512];
	FILE *f = fopen(g.log, "r");

	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  daemon: %s", line);
	if (f)
		fclose(f);
}

/* Start it and wait until it answers health; ms from spawn to healthy, or -1. */
static double start_daemon(void)
{
	char tree[16];
	uint64_t t0 = kt_now_ns();
	int log = open(g.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (log < 0)
		return -1;
	snprintf(tree, sizeof(tree), "%d", (int)g.root);
	g.daemon = fork();
	if (g.daemon < 0) {
		close(log);
		return -1;
	}
	if (g.daemon == 0) {
		int in = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		if (in < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(127);
		execl(bin, bin, "daemon", "--tree", tree, "--socket", g.sock, (char *)NULL);
		_exit(127);
	}
	setpgid(g.daemon, g.daemon);
	close(log);
	while (ms_since(t0) < HEALTH_TIMEOUT_MS) {
		char *buf = NULL;
		size_t len;
		bool ok;

		if (waitpid(g.daemon, NULL, WNOHANG) == g.daemon) {
			g.daemon = 0;
			fprintf(stderr, "bench_daemon: the daemon exited before it was healthy\n");
			print_log();
			return -1;
		}
		if (daemon_request(g.sock, "health", &buf, &len) == 0) {
			ok = strstr(buf, "\"status\":\"ok\"") != NULL;
			free(buf);
			if (ok)
				return ms_since(t0);
		}
		sleep_ms(5);
	}
	fprintf(stderr, "bench_daemon: the daemon did not answer health in %d s\n",
		HEALTH_TIMEOUT_MS / 1000);
	print_log();
	return -1;
}

/* One snapshot round trip with daemon_request(); ms, or -1.  Keeps the last answer's check. */
static double warm_once(size_t *bytes, char *verif, size_t verif_len)
{
	char *buf = NULL;
	size_t len = 0;
	uint64_t t0 = kt_now_ns();
	int r = daemon_request(g.sock, "snapshot", &buf, &len);
	double ms = ms_since(t0);

	if (r) {
		fprintf(stderr, "bench_daemon: daemon_request: %s\n", strerror(-r));
		return -1;
	}
	if (!complete_document(buf, len)) {
		fprintf(stderr,
			"bench_daemon: the daemon's answer is not a complete snapshot: %.200s\n",
			buf);
		free(buf);
		return -1;
	}
	*bytes = len;
	if (verif)
		verification_of(buf, len, verif, verif_len);
	free(buf);
	return ms;
}

static void warm_series(int reps, struct series *se, char *verif, size_t verif_len)
{
	se->n = 0;
	for (int i = 0; i < reps; i++) {
		double ms;

		sleep_ms(REQUEST_GAP_MS);
		ms = warm_once(&se->bytes, verif, verif_len);
		if (ms < 0) {
			se->failed = true;
			return;
		}
		se->ms[se->n++] = ms;
	}
}

/* Where a round trip goes, as a client sees it: the protocol of daemon_request(). */
struct phases {
	struct series connect, ttfb, transfer;
};

static int raw_request(double *connect_ms, double *ttfb_ms, double *transfer_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t cap = 1 << 16, len = 0; /* grown as daemon_request() grows it */
	char *buf = malloc(cap);
	uint64_t t0 = kt_now_ns(), t1, t2 = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = -1;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g.sock);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, "snapshot\n", 9, MSG_NOSIGNAL) != 9)
		goto out;
	t1 = kt_now_ns();
	for (;;) {
		ssize_t got;

		if (len + 1 >= cap) {
			char *p = realloc(buf, cap *= 2);

			if (!p)
				goto out;
			buf = p;
		}
		got = recv(fd, buf + len, cap - len, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		if (!len)
			t2 = kt_now_ns();
		len += (size_t)got;
	}
	if (len && complete_document(buf, len)) {
		*connect_ms = (double)(t1 - t0) / 1e6;
		*ttfb_ms = (double)(t2 - t1) / 1e6;
		*transfer_ms = ms_since(t2);
		r = 0;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

static void phase_series(int reps, struct phases *ph)
{
	memset(ph, 0, sizeof(*ph));
	for (int i = 0; i < reps; i++) {
		double c, f, t;

		sleep_ms(REQUEST_GAP_MS);
		if (raw_request(&c, &f, &t))
			return;
		ph->connect.ms[ph->connect.n++] = c;
		ph->ttfb.ms[ph->ttfb.n++] = f;
		ph->transfer.ms[ph->transfer.n++] = t;
	}
}

static void health_series(int reps, struct series *se)
{
	se->n = 0;
	for (int i = 0; i < reps; i++) {
		char *buf = NULL;
		size_t len;
		uint64_t t0 = kt_now_ns();

		if (daemon_request(g.sock, "health", &buf, &len))
			return;
		se->ms[se->n++] = ms_since(t0);
		se->bytes = len;
		free(buf);
	}
}

/* Start (@on) or stop the churner; @on waits until it has been running a while. */
static int set_churn(bool on)
{
	char c = on ? 'c' : 's';

	if (write(g.ctl, &c, 1) != 1)
		return -1;
	if (on)
		sleep_ms(200);
	return 0;
}

/* Keys of the stats answer that look like timings (other than uptime). */
static bool has_timings(const char *stats)
{
	static const char *const ends[] = { "_ns\"", "_us\"", "_ms\"" };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		for (const char *p = strstr(stats, ends[i]); p; p = strstr(p + 1, ends[i]))
			if (!(p - stats >= 7 && !strncmp(p - 7, "\"uptime", 7)))
				return true;
	return false;
}

/* ---- measuring ---- */

struct results {
	long tasks, fds; /* counted in /proc */
	struct series warm, churned, warm_cli, first, health;
	struct series bpf, bpf_cli, procfs, procfs_cli;
	struct cold_run bpf_med, procfs_med;
	struct phases ph, ph_churn;
	char verif_quiet[512], verif_churn[512];
	double startup_ms, churn_rate;
	char *stats;
};

/* Cold first, before the daemon starts: no tracer of ours attached yet. */
static void measure_cold(struct results *r, int reps, int procfs_reps)
{
	char tree[16];

	snprintf(tree, sizeof(tree), "%d", (int)g.root);
	fprintf(stderr, "cold bpf, in process ...\n");
	cold_series(KT_BACKEND_BPF, reps, &r->bpf, &r->bpf_med);
	fprintf(stderr, "cold bpf, CLI ...\n");
	cli_series((const char *const[]){ "snapshot", "--tree", tree, "--json", NULL }, reps,
		   &r->bpf_cli);
	fprintf(stderr, "procfs, in process ...\n");
	cold_series(KT_BACKEND_PROCFS, procfs_reps, &r->procfs, &r->procfs_med);
	fprintf(stderr, "procfs, CLI ...\n");
	cli_series(
		(const char *const[]){ "snapshot", "--tree", tree, "-b", "procfs", "--json", NULL },
		procfs_reps, &r->procfs_cli);
}

static void measure_warm(struct results *r, int reps, int cli_reps)
{
	unsigned long ops0;
	size_t len;
	uint64_t t0;

	fprintf(stderr, "warm daemon ...\n");
	r->startup_ms = start_daemon();
	if (r->startup_ms < 0) {
		r->warm.failed = r->churned.failed = r->warm_cli.failed = true;
		return;
	}
	r->first.ms[0] = warm_once(&r->first.bytes, NULL, 0);
	r->first.n = r->first.ms[0] >= 0;
	warm_series(reps, &r->warm, r->verif_quiet, sizeof(r->verif_quiet));
	phase_series(reps, &r->ph);
	health_series(reps, &r->health);
	cli_series((const char *const[]){ "snapshot", "--from", g.sock, "--json", NULL }, cli_reps,
		   &r->warm_cli);

	fprintf(stderr, "warm daemon, churning target ...\n");
	if (set_churn(true)) {
		r->churned.failed = true;
		return;
	}
	ops0 = *g.churn_ops;
	t0 = kt_now_ns();
	warm_series(reps, &r->churned, r->verif_churn, sizeof(r->verif_churn));
	r->churn_rate = (double)(*g.churn_ops - ops0) / (ms_since(t0) / 1000.0);
	phase_series(reps, &r->ph_churn);
	set_churn(false);
	if (daemon_request(g.sock, "stats", &r->stats, &len))
		r->stats = NULL;
}

/* ---- report ---- */

static void row(const char *name, const struct series *se, long fds, double warm_ms)
{
	double med = median(se);

	if (se->failed || !se->n) {
		printf("| %-40s | %4s | %9s | %9s | %7s | %11s | %8s |\n", name, "-", "failed", "-",
		       "-", "-", "-");
		return;
	}
	printf("| %-40s | %4d | %9.1f | %9.1f | %7.3f | %11zu | ", name, se->n, med, p90(se),
	       med * 1000.0 / (double)fds, se->bytes);
	if (warm_ms > 0)
		printf("%7.1fx |\n", med / warm_ms);
	else
		printf("%8s |\n", "-");
}

static const char *pass(bool ok)
{
	return ok ? "PASS" : "MISS";
}

static double ratio(const struct series *slow, const struct series *fast)
{
	return slow->failed || fast->failed || !slow->n || !fast->n ? 0
								    : median(slow) / median(fast);
}

static void header(const struct results *r)
{
	struct utsname u;
	char model[128] = "?", line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	double load[1];

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	uname(&u);
	printf("kcmptrace warm daemon vs cold snapshot benchmark%s\n", quick ? " (--quick)" : "");
	printf("machine: Linux %s %s, nproc %ld, %s\n", u.release, u.machine,
	       sysconf(_SC_NPROCESSORS_ONLN), model);
	printf("binary:  %s\n", bin);
	if (getloadavg(load, 1) == 1)
		printf("load:    %.2f (1-min average at start; other work on the machine skews "
		       "every row)\n",
		       load[0]);
	printf("target:  %d processes x %d fds (%d inherited from the root, shared; %d own),\n"
	       "         counted in /proc: %ld tasks, %ld fds\n",
	       PROCS, FDS_PER_PROC, SHARED_PER_PROC, FDS_PER_PROC - SHARED_PER_PROC, r->tasks,
	       r->fds);
	printf("targets: warm <= %.0f ms; warm >= %.0fx faster than cold bpf; >= %.0fx faster than "
	       "procfs\n\n",
	       TARGET_WARM_MS, TARGET_VS_BPF, TARGET_VS_PROCFS);
}

static void report_table(const struct results *r)
{
	double wm = r->warm.failed ? -1 : median(&r->warm);
	char churn[64];

	snprintf(churn, sizeof(churn), "warm: daemon_request, churn %.0f/s", r->churn_rate);
	printf("Request to complete JSON snapshot in hand; ms = median, p90 nearest rank.\n\n");
	printf("| %-40s | %4s | %9s | %9s | %7s | %11s | %8s |\n", "path", "runs", "ms", "p90 ms",
	       "us/fd", "bytes", "vs warm");
	printf("|------------------------------------------|------|-----------|-----------|------"
	       "---|-------------|----------|\n");
	row("warm: daemon_request, quiet target", &r->warm, r->fds, wm);
	row(churn, &r->churned, r->fds, wm);
	row("warm: CLI --from (fork+exec)", &r->warm_cli, r->fds, wm);
	row("cold bpf: take+JSON in process", &r->bpf, r->fds, wm);
	row("cold bpf: CLI --tree (fork+exec)", &r->bpf_cli, r->fds, wm);
	row("procfs: take+JSON in process", &r->procfs, r->fds, wm);
	row("procfs: CLI -b procfs (fork+exec)", &r->procfs_cli, r->fds, wm);
}

static void report_targets(const struct results *r)
{
	double wm = median(&r->warm), b = ratio(&r->bpf, &r->warm), p = ratio(&r->procfs, &r->warm);

	printf("\nTargets (warm = daemon_request, quiet; cold = take+JSON in process):\n");
	if (r->warm.failed) {
		printf("  warm daemon failed: no verdicts\n");
		return;
	}
	printf("  warm <= %.0f ms:                    %7.1f ms   %s\n", TARGET_WARM_MS, wm,
	       pass(wm <= TARGET_WARM_MS));
	if (b > 0)
		printf("  warm >= %.0fx faster than cold bpf:  %7.1fx    %s\n", TARGET_VS_BPF, b,
		       pass(b >= TARGET_VS_BPF));
	if (p > 0)
		printf("  warm >= %.0fx faster than procfs:   %7.1fx    %s\n", TARGET_VS_PROCFS, p,
		       pass(p >= TARGET_VS_PROCFS));
	printf("  (CLI vs CLI: cold bpf %.1fx, procfs %.1fx slower than --from)\n",
	       ratio(&r->bpf_cli, &r->warm_cli), ratio(&r->procfs_cli, &r->warm_cli));
}

static void print_cold_phases(const char *name, const struct series *se, const struct cold_run *c)
{
	if (se->failed)
		return;
	printf("  %-8s load %.1f, tasks %.1f, fds %.1f, dedupe %.1f, JSON %.1f ms\n", name,
	       (double)c->phase_ns[KT_PHASE_LOAD] / 1e6, (double)c->phase_ns[KT_PHASE_TASKS] / 1e6,
	       (double)c->phase_ns[KT_PHASE_FDS] / 1e6, (double)c->phase_ns[KT_PHASE_DEDUPE] / 1e6,
	       c->json_ms);
}

static void report_breakdown(struct results *r)
{
	const struct phases *q = &r->ph, *c = &r->ph_churn;

	if (r->startup_ms >= 0) {
		printf("\nWhere the warm time goes (client side; median of %d):\n", q->ttfb.n);
		printf("  daemon start to healthy:  %8.1f ms (attach + cold scan)\n",
		       r->startup_ms);
		if (r->first.n)
			printf("  first snapshot request:   %8.1f ms\n", r->first.ms[0]);
		if (r->health.n)
			printf("  health round trip:        %8.3f ms (the floor)\n",
			       median(&r->health));
		printf("  %-24s %11s %11s\n", "", "quiet", "churning");
		if (q->ttfb.n && c->ttfb.n) {
			printf("  connect + send request:  %8.3f ms %8.3f ms\n",
			       median(&q->connect), median(&c->connect));
			printf("  request to first byte:   %8.1f ms %8.1f ms  daemon: verify, "
			       "serialize\n",
			       median(&q->ttfb), median(&c->ttfb));
			printf("  first to last byte:      %8.1f ms %8.1f ms  %.1f MB through the "
			       "socket\n",
			       median(&q->transfer), median(&c->transfer),
			       (double)r->warm.bytes / 1e6);
		}
		printf("  verification, quiet:    %s\n", r->verif_quiet);
		printf("  verification, churning: %s\n", r->verif_churn);
	}
	printf("\nCold, the median run (in process):\n");
	print_cold_phases("bpf", &r->bpf, &r->bpf_med);
	print_cold_phases("procfs", &r->procfs, &r->procfs_med);
	if (r->stats) {
		r->stats[strcspn(r->stats, "\n")] = '\0';
		printf("\nThe daemon's stats answer%s:\n  %s\n",
		       has_timings(r->stats) ? "" : " (no per-phase timings in it)", r->stats);
	}
}

/* ---- main ---- */

static const char *default_bin(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;

	if (n > 0) {
		path[n] = '\0';
		slash = strrchr(path, '/'); /* OUT/bench/bench_daemon -> OUT/kcmptrace */
		if (slash) {
			*slash = '\0';
			slash = strrchr(path, '/');
		}
		if (slash) {
			strcpy(slash, "/kcmptrace");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return "./build/kcmptrace";
}

static int setup(void)
{
	struct rlimit rl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	g.main = getpid();
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur <= FDS_PER_PROC) {
		fprintf(stderr, "bench_daemon: RLIMIT_NOFILE must exceed %d\n", FDS_PER_PROC);
		return -1;
	}
	snprintf(g.dir, sizeof(g.dir), "/tmp/bench_daemon.XXXXXX");
	if (!mkdtemp(g.dir)) {
		g.dir[0] = '\0';
		perror("bench_daemon: mkdtemp");
		return -1;
	}
	snprintf(g.sock, sizeof(g.sock), "%s/kt.sock", g.dir);
	snprintf(g.log, sizeof(g.log), "%s/daemon.log", g.dir);
	if (start_target()) {
		fprintf(stderr, "bench_daemon: cannot build the target\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct results r = { .verif_quiet = "?", .verif_churn = "?" };
	uint64_t t_start = kt_now_ns();
	double load[1] = { -1 };
	bool failed;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = true;
		} else if (!strcmp(argv[i], "--kcmptrace") && i + 1 < argc) {
			bin = argv[++i];
		} else {
			fprintf(stderr, "usage: bench_daemon [--quick] [--kcmptrace PATH]\n");
			return 2;
		}
	}
	if (!bin)
		bin = getenv("KCMPTRACE");
	if (!bin || !*bin)
		bin = default_bin();
	if (access(bin, X_OK)) {
		fprintf(stderr, "bench_daemon: no kcmptrace at %s (--kcmptrace or KCMPTRACE)\n",
			bin);
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_daemon: must run as root\n");
		return 1;
	}
	if (setup())
		return 1;
	count_target(&r.tasks, &r.fds);
	header(&r);

	measure_cold(&r, quick ? 3 : 7, quick ? 1 : 3);
	measure_warm(&r, quick ? 7 : 20, quick ? 3 : 10);
	cleanup();

	report_table(&r);
	report_targets(&r);
	report_breakdown(&r);
	free(r.stats);
	if (getloadavg(load, 1) == 1)
		printf("\ntotal bench time %.1f s; 1-min load average at the end %.2f\n",
		       ms_since(t_start) / 1000.0, load[0]);
	failed = r.warm.failed || r.churned.failed || r.warm_cli.failed || r.bpf.failed ||
		 r.bpf_cli.failed || r.procfs.failed || r.procfs_cli.failed;
	return failed;
}
