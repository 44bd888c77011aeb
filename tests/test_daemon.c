// SPDX-License-Identifier: LGPL-2.1
/*
 * `kcmptrace daemon` as its clients meet it: many at once, under churn,
 * vanishing mid-answer, refused, freezing the target's cgroup, and the
 * daemon's exit.  At quiescence every answer must parse, equal a cold
 * snapshot and the kernel's kcmp truth.
 *
 *   test_daemon [FILTER]   FILTER picks sections or scenarios by name
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <yajl/yajl_tree.h>
#include "backend.h"
#include "check.h"
#include "daemon.h"
#include "snapshot_json.h"
#include "target.h"
#include "truth.h"
#include "util.h"
#include "workload.h"

#define NCLIENTS 8    /* concurrent clients */
#define NREQUESTS 4   /* requests each, at quiescence */
#define CHURN_MS 2500 /* how long clients ask while the target churns */
#define NCHURNERS 3

static const char *kt_bin;
static const char *filter;
static char tmp[64];
static pid_t sentinel;
static char name_buf[256];

static const char *tname(const char *group, const char *what)
{
	snprintf(name_buf, sizeof(name_buf), "daemon/%s/%s", group, what);
	return name_buf;
}

static bool wanted(const char *name)
{
	return !filter || strstr(name, filter);
}

static uint64_t now_ms(void)
{
	return kt_now_ns() / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static bool under_ci(void)
{
	const char *ci = getenv("CI");

	return ci && *ci && strcmp(ci, "false") && strcmp(ci, "0");
}

/* ---- files ---- */

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int count_lines(const char *path)
{
	char buf[8192];
	int n = 0;

	if (read_file(path, buf, sizeof(buf)))
		return -1;
	for (char *p = buf; *p; p++)
		n += *p == '\n';
	return n;
}

static bool file_has(const char *path, const char *needle)
{
	static char buf[1 << 16];

	return !read_file(path, buf, sizeof(buf)) && strstr(buf, needle);
}

/* ---- a daemon process ---- */

struct kd {
	pid_t pid;
	char sock[108];
	char log[PATH_MAX];
	char tail[512]; /* the end of its log, for failure messages */
};

static const char *kd_tail(struct kd *d)
{
	char buf[4096];
	size_t n;

	if (read_file(d->log, buf, sizeof(buf)))
		return "(no log)";
	n = strlen(buf);
	snprintf(d->tail, sizeof(d->tail), "%.400s", n > 400 ? buf + n - 400 : buf);
	for (char *p = d->tail; *p; p++)
		if (*p == '\n')
			*p = '|';
	return d->tail;
}

static int ask(const char *sock, const char *req, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	return daemon_request(sock, req, out, len);
}

static bool healthy(const char *sock)
{
	char *raw;
	size_t len;
	bool ok = !ask(sock, "health", &raw, &len) && strstr(raw, "\"status\":\"ok\"");

	free(raw);
	return ok;
}

/* Wait up to @ms for the daemon to exit; its wait status, or -1 if it did not. */
static int kd_wait(struct kd *d, long ms)
{
	for (long i = 0; d->pid > 0 && i <= ms; i += 10) {
		int status = 0;
		pid_t r = waitpid(d->pid, &status, WNOHANG);

		if (r == d->pid || (r < 0 && errno == ECHILD)) {
			d->pid = -1;
			return r < 0 ? -1 : status;
		}
		sleep_ms(10);
	}
	return -1;
}

/* `kcmptrace daemon ARGS --socket TMP/NAME.sock`, stderr to TMP/NAME.log; 0 once it answers. */
static int kd_start(struct kd *d, const char *name, const char *env, const char *const args[])
{
	const char *argv[32];
	int n = 0;

	snprintf(d->sock, sizeof(d->sock), "%s/%s.sock", tmp, name);
	snprintf(d->log, sizeof(d->log), "%s/%s.log", tmp, name);
	argv[n++] = kt_bin;
	argv[n++] = "daemon";
	for (int i = 0; args[i] && n < 28; i++)
		argv[n++] = args[i];
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (!d->pid) {
		int log = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(log, 2);
		close_range(3, ~0u, 0);
		if (env)
			putenv((char *)env);
		execv(kt_bin, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int status;

		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = -1;
			return -1;
		}
		if (!access(d->sock, F_OK) && healthy(d->sock))
			return 0;
		sleep_ms(10);
	}
	kill(d->pid, SIGKILL);
	kd_wait(d, 2000);
	return -1;
}

/* SIGTERM (or @sig) and wait: the wait status, -1 if it had to be killed. */
static int kd_stop(struct kd *d, int sig)
{
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	status = kd_wait(d, 5000);
	if (status == -1 && d->pid > 0) {
		kill(d->pid, SIGKILL);
		kd_wait(d, 2000);
	}
	return status;
}

static bool kd_alive(struct kd *d)
{
	if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) != 0)
		d->pid = -1;
	return d->pid > 0;
}

/* A number in the daemon's answer to @req ("stats", "health"), or -1. */
static long long kd_num(struct kd *d, const char *req, const char *key)
{
	char *raw, pat[64], *p;
	size_t len;
	long long v = -1;

	if (ask(d->sock, req, &raw, &len))
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(raw, pat);
	if (p)
		v = strtoll(p + strlen(pat), NULL, 10);
	free(raw);
	return v;
}

static long long kd_stat(struct kd *d, const char *key)
{
	return kd_num(d, "stats", key);
}

static bool kd_stat_reaches(struct kd *d, const char *key, long long want, long ms)
{
	for (long i = 0; i <= ms; i += 10) {
		if (kd_stat(d, key) >= want)
			return true;
		sleep_ms(10);
	}
	return false;
}

/*
 * Quiescence as the daemon sees it: no event from the target for @quiet_ms.
 * A workload reports ready a moment early: an exec'd child has closed its
 * O_CLOEXEC fds (what the workload waits for) before its exec event fires
 * and before the dynamic loader has opened and closed its libraries.
 */
static bool kd_quiet(struct kd *d, long quiet_ms, long timeout_ms)
{
	for (long i = 0; i <= timeout_ms; i += 10) {
		if (kd_num(d, "health", "newest_event_age_ms") >= quiet_ms)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* ---- answers ---- */

struct fresh {
	bool present;
	char method[128];
	double age_ms;
	long long checked_tasks, kcmp_checks, repaired;
	int frozen; /* -1: missing */
};

static yajl_val member(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };

	return obj ? yajl_tree_get(obj, path, yajl_t_any) : NULL;
}

/*
 * The "verification" object, parsed on its own: a tree of a whole answer
 * of 10k fds costs more than the daemon takes to write it.  The document
 * has passed the strict reader by now, and the object is flat, so its text
 * runs from the last `"verification":{` (a key: in a string the quotes
 * would be escaped) to the next '}'.
 */
static yajl_val verification(const char *raw, size_t len)
{
	static const char key[] = "\"verification\":{";
	const char *p = NULL, *end;
	char text[1024], err[128];

	for (size_t i = len >= sizeof(key) ? len - sizeof(key) + 1 : 0; i-- > 0;)
		if (raw[i] == '"' && !memcmp(raw + i, key, sizeof(key) - 1)) {
			p = raw + i + sizeof(key) - 2;
			break;
		}
	end = p ? memchr(p, '}', len - (size_t)(p - raw)) : NULL;
	if (!end || (size_t)(end - p) + 2 > sizeof(text))
		return NULL;
	memcpy(text, p, (size_t)(end - p) + 1);
	text[end - p + 1] = '\0';
	return yajl_tree_parse(text, err, sizeof(err));
}

/* One line, a snapshot as the reader sees it, and its "verification" member. */
static int parse_answer(const char *raw, size_t len, struct kt_snapshot *s, struct fresh *f,
			char *why, size_t wl)
{
	char err[512];
	yajl_val root, v, x;

	memset(f, 0, sizeof(*f));
	f->frozen = -1;
	if (!len || raw[len - 1] != '\n' || memchr(raw, '\n', len) != raw + len - 1) {
		snprintf(why, wl, "not one line ending in a newline (%zu bytes)", len);
		return -1;
	}
	if (snapshot_json_parse(raw, len, "answer", s, err, sizeof(err))) {
		snprintf(why, wl, "%s", err);
		return -1;
	}
	root = verification(raw, len);
	v = root;
	if (v && YAJL_IS_OBJECT(v)) {
		f->present = true;
		x = member(v, "method");
		if (x && YAJL_IS_STRING(x))
			snprintf(f->method, sizeof(f->method), "%s", YAJL_GET_STRING(x));
		x = member(v, "newest_event_age_ms");
		f->age_ms = x && YAJL_IS_NUMBER(x) ? YAJL_GET_DOUBLE(x) : -1;
		x = member(v, "checked_tasks");
		f->checked_tasks = x && YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
		x = member(v, "kcmp_checks");
		f->kcmp_checks = x && YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
		x = member(v, "repaired");
		f->repaired = x && YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
		x = member(v, "frozen");
		f->frozen = x && YAJL_IS_TRUE(x) ? 1 : x && YAJL_IS_FALSE(x) ? 0 : -1;
	}
	yajl_tree_free(root);
	return 0;
}

/* The freshness block is there and says something sane. */
static int check_fresh(const struct fresh *f, const struct kt_snapshot *s, bool frozen,
		       double max_age_ms, char *why, size_t wl)
{
	if (!f->present)
		snprintf(why, wl, "no \"verification\" member");
	else if (!f->method[0])
		snprintf(why, wl, "verification.method missing or empty");
	else if (f->age_ms < 0 || f->age_ms > max_age_ms)
		snprintf(why, wl, "newest_event_age_ms %.3f not in 0..%.0f", f->age_ms, max_age_ms);
	else if (f->checked_tasks < (long long)(s->ntasks ? 1 : 0))
		snprintf(why, wl, "checked_tasks %lld for %zu tasks", f->checked_tasks, s->ntasks);
	else if (f->kcmp_checks < 0 || f->repaired < 0)
		snprintf(why, wl, "kcmp_checks %lld, repaired %lld", f->kcmp_checks, f->repaired);
	else if (f->frozen != frozen)
		snprintf(why, wl, "frozen is %d, want %d", f->frozen, frozen);
	else
		return 0;
	return -1;
}

/* Fds of distinct tables: a cold snapshot also keeps aliases it does not count. */
static size_t held_fds(const struct kt_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nfds; i++)
		n += s->fds[i].id != 0;
	return n;
}

static size_t live_tasks(const struct kt_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ntasks; i++)
		n += !s->tasks[i].dropped;
	return n;
}

/* Same tasks, same fds, same grouping of every kind as @ref. */
static int same_as(const struct kt_snapshot *ref, const struct kt_snapshot *s, char *why, size_t wl)
{
	if (live_tasks(ref) != live_tasks(s) || held_fds(ref) != held_fds(s)) {
		snprintf(why, wl, "%zu tasks %zu fds, want %zu tasks %zu fds", live_tasks(s),
			 held_fds(s), live_tasks(ref), held_fds(ref));
		return -1;
	}
	for (int k = 0; k < KT_NR_KINDS; k++)
		if (truth_same_partition(ref, s, k, why, wl))
			return -1;
	return 0;
}

/* The kernel's own grouping, absent objects and complete fd tables. */
static int kcmp_truth(const struct kt_snapshot *s, char *why, size_t wl)
{
	for (int k = 0; k < KT_NR_KINDS; k++)
		if (truth_check_kind(s, k, why, wl))
			return -1;
	if (truth_check_absent(s, KT_IO, sentinel, why, wl) ||
	    truth_check_absent(s, KT_SYSVSEM, sentinel, why, wl))
		return -1;
	return truth_check_fd_tables(s, why, wl);
}

static int cold(struct kt_snapshot *s, const struct kt_target *t)
{
	struct kt_backend_opts o = { .genid = KT_GENID_ADDR, .want_paths = true };

	return snapshot_take(s, t, &o, KT_BACKEND_BPF, false);
}

/* ---- many clients at once ---- */

struct batch {
	const char *sock, *req;
	int n;
	char **raw;
	size_t *len;
	int *err;
};

static void *batch_thread(void *p)
{
	struct batch *b = p;

	for (int i = 0; i < b->n; i++)
		b->err[i] = ask(b->sock, b->req, &b->raw[i], &b->len[i]);
	return NULL;
}

struct answers {
	int n;
	char *raw[NCLIENTS * NREQUESTS];
	size_t len[NCLIENTS * NREQUESTS];
	int err[NCLIENTS * NREQUESTS];
};

/* @clients threads, each asking @per times, all at once. */
static void ask_many(const char *sock, const char *req, int clients, int per, struct answers *a)
{
	pthread_t th[NCLIENTS];
	struct batch b[NCLIENTS];

	a->n = clients * per;
	for (int i = 0; i < clients; i++) {
		b[i] = (struct batch){
			sock, req, per, a->raw + i * per, a->len + i * per, a->err + i * per
		};
		pthread_create(&th[i], NULL, batch_thread, &b[i]);
	}
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
}

static void answers_free(struct answers *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->raw[i]);
	a->n = 0;
}

/* A wrong answer stays next to the daemon's log for a look. */
static void keep_answer(const char *group, const char *raw, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.json", tmp, group);
	for (char *p = path + strlen(tmp) + 1; *p; p++)
		if (*p == '/')
			*p = '-';
	f = fopen(path, "we");
	if (f) {
		fwrite(raw, 1, len, f);
		fclose(f);
		printf("# answer kept in %s\n", path);
	}
}

/*
 * Every answer parses, carries its freshness and equals @ref (a cold
 * snapshot); the first and @ref each equal kcmp's truth.  Equal partitions
 * being transitive, every answer then equals the truth.
 */
static void check_answers(struct answers *a, const struct kt_target *t, const char *group,
			  bool frozen)
{
	char why[512] = "", first[600] = "";
	int parsed = 0, fresh = 0, same = 0, r;
	struct kt_snapshot ref, s;
	struct fresh f;

	r = cold(&ref, t);
	if (!CHECK(r == 0, tname(group, "cold_snapshot"), "%s", strerror(-r)))
		return;
	CHECK(!kcmp_truth(&ref, why, sizeof(why)), tname(group, "cold_is_kcmp_truth"), "%s", why);
	for (int i = 0; i < a->n; i++) {
		if (a->err[i]) {
			if (!*first)
				snprintf(first, sizeof(first), "answer %d: %s", i,
					 strerror(-a->err[i]));
			continue;
		}
		if (parse_answer(a->raw[i], a->len[i], &s, &f, why, sizeof(why))) {
			if (!*first)
				snprintf(first, sizeof(first), "answer %d: %s", i, why);
			continue;
		}
		parsed++;
		if (!check_fresh(&f, &s, frozen, 60000, why, sizeof(why)))
			fresh++;
		else if (!*first)
			snprintf(first, sizeof(first), "answer %d: %s", i, why);
		if (!same_as(&ref, &s, why, sizeof(why))) {
			same++;
		} else if (!*first) {
			snprintf(first, sizeof(first), "answer %d vs cold: %s", i, why);
			keep_answer(group, a->raw[i], a->len[i]); /* for whoever reads the log */
		}
		if (i == 0 && !CHECK(!kcmp_truth(&s, why, sizeof(why)),
				     tname(group, "answer_is_kcmp_truth"), "%s", why))
			keep_answer(group, a->raw[i], a->len[i]);
		snapshot_free(&s);
	}
	CHECK(parsed == a->n, tname(group, "answers_parse"), "%d of %d: %s", parsed, a->n, first);
	CHECK(fresh == parsed, tname(group, "answers_carry_freshness"), "%d of %d: %s", fresh,
	      parsed, first);
	CHECK(same == parsed && parsed, tname(group, "answers_equal_cold"), "%d of %d: %s", same,
	      parsed, first);
	snapshot_free(&ref);
}

static const struct wl_scenario *scenario(const char *name)
{
	for (int i = 0; i < wl_nr_scenarios; i++)
		if (!strcmp(wl_scenarios[i].name, name))
			return &wl_scenarios[i];
	return NULL;
}

static void tree_target(struct kt_target *t, pid_t root)
{
	memset(t, 0, sizeof(*t));
	t->mode = KT_TARGET_TREE;
	t->tgid = (uint32_t)root;
}

/*
 * The daemon traces a scenario from before it is built (events), or starts
 * on it built (its cold scan); 8 clients then ask at once.
 */
static void test_concurrent(const struct wl_scenario *sc, bool from_birth)
{
	char group[96], root[16];
	struct answers a = { 0 };
	struct kt_target t;
	struct kd d;
	struct wl w;
	int r;

	snprintf(group, sizeof(group), "concurrent/%s/%s", sc->name,
		 from_birth ? "from_birth" : "started_late");
	r = from_birth ? wl_start_paused(&w, sc->name, sc->fn) : wl_start(&w, sc->name, sc->fn);
	if (!CHECK(!r, tname(group, "workload"), "could not start"))
		return;
	snprintf(root, sizeof(root), "%d", w.root);
	if (CHECK_CAPABLE(!kd_start(&d, sc->name, NULL, (const char *[]){ "--tree", root, NULL }),
			  tname(group, "daemon_started"), kd_tail(&d))) {
		if (!from_birth ||
		    CHECK(!wl_go(&w), tname(group, "built"), "the scenario failed")) {
			CHECK(kd_quiet(&d, 100, 5000), tname(group, "quiet"), "events keep coming");
			tree_target(&t, w.root);
			ask_many(d.sock, "snapshot", NCLIENTS, NREQUESTS, &a);
			check_answers(&a, &t, group, false);
			answers_free(&a);
			CHECK(kd_stat(&d, "served") >= NCLIENTS * NREQUESTS &&
				      kd_stat(&d, "clients_gone") == 0,
			      tname(group, "stats_count_them"), "served %lld, clients_gone %lld",
			      kd_stat(&d, "served"), kd_stat(&d, "clients_gone"));
		}
		CHECK(kd_stop(&d, SIGTERM) == 0, tname(group, "sigterm_exit_0"), "%s", kd_tail(&d));
	}
	wl_stop(&w);
}

/* ---- under churn ---- */

struct churn_ctl {
	atomic_int stop, running, quiet;
	atomic_long loops;
};

static struct churn_ctl *cc;

/* Zeroed, and shared with the workload's processes forked from here on. */
static bool churn_ctl_map(const char *g)
{
	cc = mmap(NULL, sizeof(*cc), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return CHECK(cc != MAP_FAILED, tname(g, "shared_memory"), "%s", strerror(errno));
}

static void *short_thread(void *arg)
{
	int fd = eventfd(0, 0);

	if (fd >= 0)
		close(fd);
	return NULL;
}

static int files_child(void *arg)
{
	/* shares the churner's table: its fd comes and goes there */
	int fd = open("/dev/null", O_RDONLY);

	if (fd >= 0)
		close(fd);
	return 0;
}

/* fork/exec/exit, threads, a CLONE_FILES child and fd traffic, until told to stop. */
static void churn_loop(int id)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));

	atomic_fetch_add(&cc->running, 1);
	for (unsigned long n = 0; !atomic_load(&cc->stop); n++) {
		int fd = open("/dev/null", O_RDONLY), d = fd >= 0 ? dup(fd) : -1, p[2];
		pid_t c;

		if (fd >= 0 && dup2(fd, 300 + id) >= 0)
			close(300 + id);
		if (!pipe(p)) {
			close(p[0]);
			close(p[1]);
		}
		c = fork();
		if (!c) {
			int e = eventfd(0, 0);

			if (e >= 0)
				close(e);
			if (n % 2)
				execl("/bin/true", "true", (char *)NULL);
			_exit(0);
		}
		if (c > 0)
			waitpid(c, NULL, 0);
		if (n % 8 == 0) {
			pthread_t t;

			if (!pthread_create(&t, NULL, short_thread, NULL))
				pthread_join(t, NULL);
		}
		if (n % 4 == 1) {
			c = clone(files_child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
			if (c > 0)
				waitpid(c, NULL, 0);
		}
		if (d >= 0)
			close(d);
		if (fd >= 0)
			close(fd);
		atomic_fetch_add(&cc->loops, 1);
	}
	/* everything the loop opened is closed: from here on, quiet */
	atomic_fetch_add(&cc->quiet, 1);
	wl_park();
}

/* wl_churn's settled sharing, plus churners that never settle until told. */
static int sc_live_churn(void)
{
	if (wl_churn())
		return -1;
	for (int i = 0; i < NCHURNERS; i++) {
		pid_t p = fork();

		if (p < 0)
			return -1;
		if (!p)
			churn_loop(i);
	}
	while (atomic_load(&cc->running) < NCHURNERS)
		sleep_ms(1);
	return 0;
}

struct churn_client {
	const char *sock;
	uint64_t until_ms;
	uint32_t root;
	int snapshots, healths, bad;
	double max_age_ms;
	uint64_t max_wait_ms, sum_wait_ms;
	char why[600];
};

static void churn_bad(struct churn_client *c, const char *fmt, const char *detail)
{
	if (!c->bad++)
		snprintf(c->why, sizeof(c->why), fmt, detail);
}

static void *churn_client_thread(void *p)
{
	struct churn_client *c = p;
	char why[512];

	/* three requests at least, however slow: snapshot, health, snapshot */
	for (int i = 0; i < 3 || now_ms() < c->until_ms; i++) {
		bool health = i % 4 == 1;
		struct kt_snapshot s;
		struct fresh f;
		char *raw;
		size_t len;
		uint64_t t0 = now_ms(), waited;
		int r = ask(c->sock, health ? "health" : "snapshot", &raw, &len);

		waited = now_ms() - t0;
		c->sum_wait_ms += waited;
		c->max_wait_ms = waited > c->max_wait_ms ? waited : c->max_wait_ms;

		if (r) {
			churn_bad(c, "request failed: %s", strerror(-r));
		} else if (health) {
			c->healths++;
			if (!strstr(raw, "\"status\":\"ok\""))
				churn_bad(c, "health: %s", raw);
		} else if (parse_answer(raw, len, &s, &f, why, sizeof(why))) {
			churn_bad(c, "%s", why);
		} else {
			c->snapshots++;
			if (check_fresh(&f, &s, false, 5000, why, sizeof(why)))
				churn_bad(c, "%s", why);
			else if (snapshot_find_tid(&s, c->root) < 0)
				churn_bad(c, "%s", "the root of the tree is missing");
			if (f.age_ms > c->max_age_ms)
				c->max_age_ms = f.age_ms;
			snapshot_free(&s);
		}
		free(raw);
	}
	return NULL;
}

static void test_churn(void)
{
	const char *g = "churn";
	struct churn_client cl[NCLIENTS];
	pthread_t th[NCLIENTS];
	int snapshots = 0, healths = 0, bad = 0, tries, r;
	int least_snapshots = INT_MAX, least_healths = INT_MAX;
	uint64_t max_wait = 0, sum_wait = 0;
	double max_age = 0;
	struct answers a = { 0 };
	struct kt_snapshot s;
	struct kt_target t;
	struct fresh f;
	char root[16], why[512] = "", *raw;
	const char *first = "";
	long loops0, loops1;
	size_t len;
	struct kd d;
	struct wl w;

	if (!churn_ctl_map(g))
		return;
	if (!CHECK(!wl_start(&w, "live_churn", sc_live_churn), tname(g, "workload"),
		   "could not start"))
		goto out;
	/* the daemon's cold scan runs while the target churns */
	snprintf(root, sizeof(root), "%d", w.root);
	if (!CHECK_CAPABLE(!kd_start(&d, "churn", NULL, (const char *[]){ "--tree", root, NULL }),
			   tname(g, "daemon_started"), kd_tail(&d)))
		goto stop_wl;
	loops0 = atomic_load(&cc->loops);
	for (int i = 0; i < NCLIENTS; i++) {
		cl[i] = (struct churn_client){ .sock = d.sock,
					       .until_ms = now_ms() + CHURN_MS,
					       .root = (uint32_t)w.root };
		pthread_create(&th[i], NULL, churn_client_thread, &cl[i]);
	}
	for (int i = 0; i < NCLIENTS; i++) {
		pthread_join(th[i], NULL);
		snapshots += cl[i].snapshots;
		healths += cl[i].healths;
		bad += cl[i].bad;
		max_age = cl[i].max_age_ms > max_age ? cl[i].max_age_ms : max_age;
		max_wait = cl[i].max_wait_ms > max_wait ? cl[i].max_wait_ms : max_wait;
		sum_wait += cl[i].sum_wait_ms;
		if (cl[i].snapshots < least_snapshots)
			least_snapshots = cl[i].snapshots;
		if (cl[i].healths < least_healths)
			least_healths = cl[i].healths;
		if (cl[i].bad && !*first)
			first = cl[i].why;
	}
	loops1 = atomic_load(&cc->loops);
	printf("# churn: %d snapshots, %d health answers, %ld churn loops; waits %.1f ms on "
	       "average, %llu at most; newest event at most %.1f ms old; daemon: %lld events, "
	       "%lld lost, %lld rescans\n",
	       snapshots, healths, loops1 - loops0,
	       snapshots + healths ? (double)sum_wait / (snapshots + healths) : 0.0,
	       (unsigned long long)max_wait, max_age, kd_stat(&d, "events"),
	       kd_stat(&d, "lost_events"), kd_stat(&d, "rescans"));
	CHECK(loops1 - loops0 >= 10, tname(g, "target_churned"), "%ld churn loops while asked",
	      loops1 - loops0);
	CHECK(bad == 0, tname(g, "answers_well_formed"), "%d bad: %s", bad, first);
	/* one poll loop serves everyone: no client may starve */
	CHECK(least_snapshots >= 2 && least_healths >= 1, tname(g, "every_client_answered"),
	      "a client got %d snapshots, one %d health answers", least_snapshots, least_healths);
	/* past the daemon's 10 s client timeout a client would have been dropped */
	CHECK(max_wait < 8000, tname(g, "no_long_wait"), "a client waited %llu ms",
	      (unsigned long long)max_wait);
	CHECK(max_age < 1000, tname(g, "fresh_while_churning"),
	      "newest event %.1f ms old while the target churns", max_age);

	/* quiescence: every churner closes what it opened and parks */
	atomic_store(&cc->stop, 1);
	for (tries = 0; tries < 500 && atomic_load(&cc->quiet) < NCHURNERS; tries++)
		sleep_ms(10);
	if (CHECK(atomic_load(&cc->quiet) == NCHURNERS, tname(g, "quiesced"), "%d of %d churners",
		  atomic_load(&cc->quiet), NCHURNERS)) {
		CHECK(kd_quiet(&d, 100, 5000), tname(g, "quiet"), "events keep coming");
		tree_target(&t, w.root);
		ask_many(d.sock, "snapshot", NCLIENTS, 2, &a);
		check_answers(&a, &t, "churn/quiescent", false);
		answers_free(&a);
		/* nothing happens in the target now: the newest event ages, nothing needs repair */
		sleep_ms(300);
		r = ask(d.sock, "snapshot", &raw, &len);
		if (r)
			snprintf(why, sizeof(why), "%s; daemon log: %s", strerror(-r), kd_tail(&d));
		if (CHECK(!r && !parse_answer(raw, len, &s, &f, why, sizeof(why)),
			  tname(g, "quiet_answer"), "%s", why)) {
			CHECK(f.age_ms >= 250 && f.age_ms < 60000, tname(g, "event_age_grows"),
			      "newest event %.1f ms old, 300 ms after the last", f.age_ms);
			CHECK(f.repaired == 0, tname(g, "quiet_state_needs_no_repair"),
			      "%lld entries repaired", f.repaired);
			CHECK(f.checked_tasks == (long long)s.ntasks,
			      tname(g, "checked_every_task"), "checked %lld of %zu tasks",
			      f.checked_tasks, s.ntasks);
			snapshot_free(&s);
		}
		free(raw);
	}
	CHECK(kd_stat(&d, "lost_events") >= 0 && kd_stat(&d, "events") > 0,
	      tname(g, "stats_count_events"), "events %lld", kd_stat(&d, "events"));
	CHECK(kd_stop(&d, SIGTERM) == 0, tname(g, "sigterm_exit_0"), "%s", kd_tail(&d));
stop_wl:
	wl_stop(&w);
out:
	munmap(cc, sizeof(*cc));
}

/* ---- a table's sharers exit while the daemon reads them ---- */

#define SHARER_FDS 300

/* Holds SHARER_FDS fds; clones sharers of its table that exit at once, until told. */
static int sc_sharer_exits(void)
{
	pid_t p = fork();

	if (p)
		return p < 0;
	for (int i = 0; i < SHARER_FDS; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			_exit(1);
	atomic_fetch_add(&cc->running, 1);
	while (!atomic_load(&cc->stop)) {
		wl_clone_exit(CLONE_FILES);
		atomic_fetch_add(&cc->loops, 1);
	}
	atomic_fetch_add(&cc->quiet, 1);
	wl_park();
}

/*
 * A sharer that exits while the daemon rescans it (to check a snapshot
 * request's answer) has no fds left to show: that must not empty the
 * table the process that stays still holds whole.
 */
static void test_sharer_exits(void)
{
	const char *g = "sharer_exits";
	struct answers a = { 0 };
	struct kt_snapshot s;
	struct kt_target t;
	struct fresh f;
	char root[16], why[512] = "", *raw;
	size_t len;
	uint64_t until;
	int asked = 0;
	struct kd d;
	struct wl w;

	if (!churn_ctl_map(g))
		return;
	if (!CHECK(!wl_start(&w, g, sc_sharer_exits), tname(g, "workload"), "could not start"))
		goto out;
	for (int i = 0; i < 500 && !atomic_load(&cc->running); i++)
		sleep_ms(10);
	snprintf(root, sizeof(root), "%d", w.root);
	if (!CHECK_CAPABLE(!kd_start(&d, g, NULL, (const char *[]){ "--tree", root, NULL }),
			   tname(g, "daemon_started"), kd_tail(&d)))
		goto stop_wl;
	/* every answer checks the state against a task scan, rescanning what differs */
	until = now_ms() + 1500;
	while (now_ms() < until) {
		if (!ask(d.sock, "snapshot", &raw, &len))
			asked++;
		free(raw);
	}
	atomic_store(&cc->stop, 1);
	for (int i = 0; i < 500 && !atomic_load(&cc->quiet); i++)
		sleep_ms(10);
	printf("# %s: %d answers while %ld sharers came and went; daemon: %lld rescans\n", g, asked,
	       atomic_load(&cc->loops), kd_stat(&d, "rescans"));
	CHECK(asked > 0 && atomic_load(&cc->quiet), tname(g, "churned"), "%d answers", asked);
	CHECK(kd_quiet(&d, 100, 5000), tname(g, "quiet"), "events keep coming");
	/* the check behind the answer finds nothing to read again: the state was right */
	if (!ask(d.sock, "snapshot", &raw, &len) &&
	    !parse_answer(raw, len, &s, &f, why, sizeof(why))) {
		CHECK(f.repaired == 0, tname(g, "quiet_state_needs_no_repair"),
		      "%lld entries repaired", f.repaired);
		snapshot_free(&s);
	} else {
		CHECK(false, tname(g, "quiet_answer"), "%s", why);
	}
	free(raw);
	tree_target(&t, w.root);
	ask_many(d.sock, "snapshot", NCLIENTS, 1, &a);
	check_answers(&a, &t, "sharer_exits/quiescent", false);
	answers_free(&a);
	CHECK(kd_stop(&d, SIGTERM) == 0, tname(g, "sigterm_exit_0"), "%s", kd_tail(&d));
stop_wl:
	wl_stop(&w);
out:
	munmap(cc, sizeof(*cc));
}

/* ---- clients that go away ---- */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_str(int fd, const char *s)
{
	return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s) ? 0 : -1;
}

/* An answer bigger than the socket buffers: many_fds. */
static void test_disconnects(void)
{
	const char *g = "disconnect";
	const struct wl_scenario *sc = scenario("many_fds");
	int idle, stalled, half, gone = 0, fd;
	struct answers a = { 0 };
	struct kt_target t;
	char root[16], buf[16], *raw;
	size_t len = 0;
	struct kd d;
	struct wl w;

	if (!CHECK(sc && !wl_start(&w, sc->name, sc->fn), tname(g, "workload"), "could not start"))
		return;
	snprintf(root, sizeof(root), "%d", w.root);
	if (!CHECK_CAPABLE(
		    !kd_start(&d, "disconnect", NULL, (const char *[]){ "--tree", root, NULL }),
		    tname(g, "daemon_started"), kd_tail(&d)))
		goto out;
	if (!ask(d.sock, "snapshot", &raw, &len))
		free(raw);
	CHECK(len > 512 * 1024, tname(g, "answer_outgrows_socket_buffer"), "%zu bytes", len);

	/* ask and leave at once; ask, read a little and leave */
	for (int i = 0; i < 8; i++) {
		fd = connect_to(d.sock);
		if (fd < 0 || send_str(fd, "snapshot\n")) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (i % 2 && recv(fd, buf, sizeof(buf), 0) > 0)
			gone++;
		else if (!(i % 2))
			gone++;
		close(fd);
	}
	CHECK(gone == 8, tname(g, "clients_left"), "%d of 8 asked and left", gone);
	/* and some that stay without reading or without asking */
	idle = connect_to(d.sock);
	stalled = connect_to(d.sock);
	half = connect_to(d.sock);
	CHECK(idle >= 0 && stalled >= 0 && half >= 0 && !send_str(stalled, "snapshot\n") &&
		      !send_str(half, "snap"),
	      tname(g, "stalled_clients"), "could not connect");

	CHECK(kd_stat_reaches(&d, "clients_gone", 8, 5000), tname(g, "daemon_saw_them_go"),
	      "clients_gone %lld", kd_stat(&d, "clients_gone"));
	CHECK(healthy(d.sock), tname(g, "health_ok"), "%s", kd_tail(&d));
	CHECK(kd_quiet(&d, 100, 5000), tname(g, "quiet"), "events keep coming");
	tree_target(&t, w.root);
	ask_many(d.sock, "snapshot", 4, 2, &a);
	check_answers(&a, &t, "disconnect/others", false);
	answers_free(&a);
	CHECK(kd_alive(&d), tname(g, "daemon_running"), "%s", kd_tail(&d));
	close(idle);
	close(stalled);
	close(half);
	CHECK(healthy(d.sock) && kd_alive(&d), tname(g, "still_ok_after_stalled_left"), "%s",
	      kd_tail(&d));
	CHECK(kd_stop(&d, SIGTERM) == 0, tname(g, "sigterm_exit_0"), "%s", kd_tail(&d));
out:
	wl_stop(&w);
}

/* ---- who may ask ---- */

struct run {
	int status;
	char out[PATH_MAX], err[PATH_MAX];
};

/* Run @argv with stdout and stderr to files; the exit code, or -1. */
static int run_argv(struct run *r, const char *tag, const char *const argv[])
{
	pid_t pid;
	int status;

	snprintf(r->out, sizeof(r->out), "%s/%s.out", tmp, tag);
	snprintf(r->err, sizeof(r->err), "%s/%s.err", tmp, tag);
	pid = fork();
	if (!pid) {
		int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		close_range(3, ~0u, 0);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return r->status = -1;
	return r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_refused(struct run *r, const char *g, const char *what, const char *says)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_exit_4", what);
	CHECK(r->status == KT_EXIT_PERM, tname(g, name), "exit %d", r->status);
	snprintf(name, sizeof(name), "%s_one_line", what);
	CHECK(count_lines(r->err) == 1, tname(g, name), "%d lines on stderr", count_lines(r->err));
	snprintf(name, sizeof(name), "%s_says_why", what);
	CHECK(file_has(r->err, says), tname(g, name), "no \"%s\" on stderr", says);
	snprintf(name, sizeof(name), "%s_no_stdout", what);
	CHECK(count_lines(r->out) == 0, tname(g, name), "output on stdout");
}

/* A group nobody is not in, to hand out with --group. */
static const struct group *spare_group(void)
{
	static const char *const names[] = { "kcmptrace", "daemon", "adm", "sys", "bin", "users" };
	const struct passwd *nobody = getpwnam("nobody");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct group *gr = getgrnam(names[i]);

		if (gr && gr->gr_gid != 0 && (!nobody || gr->gr_gid != nobody->pw_gid))
			return gr;
	}
	return NULL;
}

static void test_privileges(void)
{
	const char *g = "privileges";
	const struct group *gr = spare_group();
	char gname[64] = "";
	gid_t gid = gr ? gr->gr_gid : 0;
	const char *asnobody[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
				   kt_bin,    "snapshot",	"--from",	   NULL,
				   NULL };
	char root[16], groups_opt[64], regid_opt[64];
	struct stat st;
	struct run r;
	struct kd d;
	struct wl w;

	/* getgrnam() reuses its buffer: keep what we need of the group */
	if (gr)
		snprintf(gname, sizeof(gname), "%s", gr->gr_name);
	if (!CHECK(!wl_start(&w, "privileges", scenario("fork_inherit")->fn), tname(g, "workload"),
		   "could not start"))
		return;
	if (!CHECK(getpwnam("nobody") && getgrnam("nogroup"), tname(g, "nobody_exists"),
		   "no user nobody or group nogroup"))
		goto out;
	snprintf(root, sizeof(root), "%d", w.root);
	if (!CHECK_CAPABLE(!kd_start(&d, "private", NULL, (const char *[]){ "--tree", root, NULL }),
			   tname(g, "daemon_started"), kd_tail(&d)))
		goto out;
	CHECK(!stat(d.sock, &st) && (st.st_mode & 0777) == 0600 && st.st_uid == 0,
	      tname(g, "socket_0600_root"), "mode %o uid %u", st.st_mode & 0777, st.st_uid);
	/* the socket's mode turns nobody away before the daemon sees it */
	asnobody[7] = d.sock;
	run_argv(&r, "nobody-0600", asnobody);
	check_refused(&r, g, "mode_0600", "Permission denied");
	/* with the mode opened up, the daemon itself refuses by SO_PEERCRED */
	chmod(d.sock, 0666);
	run_argv(&r, "nobody-0666", asnobody);
	check_refused(&r, g, "peercred", "permission denied");
	CHECK(file_has(d.log, "refused a client") && file_has(d.log, "uid 65534"),
	      tname(g, "daemon_logs_refusal"), "log: %s", kd_tail(&d));
	CHECK(kd_stat(&d, "refused") == 1 && healthy(d.sock) && kd_alive(&d),
	      tname(g, "daemon_unharmed"), "refused %lld", kd_stat(&d, "refused"));
	run_argv(&r, "root-0666", (const char *[]){ kt_bin, "snapshot", "--from", d.sock, NULL });
	CHECK(r.status == 0 && count_lines(r.out) > 0, tname(g, "root_accepted"), "exit %d",
	      r.status);
	CHECK(kd_stop(&d, SIGTERM) == 0, tname(g, "sigterm_exit_0"), "%s", kd_tail(&d));

	if (!CHECK(gid != 0, tname(g, "spare_group"), "no group to try --group with"))
		goto out;
	snprintf(groups_opt, sizeof(groups_opt), "--groups=%u", (unsigned)gid);
	snprintf(regid_opt, sizeof(regid_opt), "--regid=%u", (unsigned)gid);
	if (!CHECK(!kd_start(&d, "group", NULL,
			     (const char *[]){ "--tree", root, "--group", gname, NULL }),
		   tname(g, "group_daemon_started"), "%s", kd_tail(&d)))
		goto out;
	CHECK(!stat(d.sock, &st) && (st.st_mode & 0777) == 0660 && st.st_gid == gid,
	      tname(g, "group_socket_0660"), "mode %o gid %u", st.st_mode & 0777, st.st_gid);
	/* a supplementary member, then a member by primary gid: both may ask */
	run_argv(&r, "member-supp",
		 (const char *[]){ "setpriv", "--reuid=nobody", "--regid=nogroup", groups_opt,
				   kt_bin, "snapshot", "--from", d.sock, "--json", NULL });
	CHECK(r.status == 0 && file_has(r.out, "\"verification\""),
	      tname(g, "supplementary_member_accepted"), "exit %d", r.status);
	run_argv(&r, "member-primary",
		 (const char *[]){ "setpriv", "--reuid=nobody", regid_opt, "--clear-groups", kt_bin,
				   "snapshot", "--from", d.sock, NULL });
	CHECK(r.status == 0 && count_lines(r.out) > 0, tname(g, "primary_member_accepted"),
	      "exit %d", r.status);
	asnobody[7] = d.sock;
	run_argv(&r, "nonmember-0660", asnobody);
	check_refused(&r, g, "nonmember", "Permission denied");
	chmod(d.sock, 0666);
	run_argv(&r, "nonmember-0666", asnobody);
	check_refused(&r, g, "nonmember_peercred", "permission denied");
	CHECK(kd_stat(&d, "refused") == 1, tname(g, "group_daemon_refused_one"), "refused %lld",
	      kd_stat(&d, "refused"));
	CHECK(kd_stop(&d, SIGTERM) == 0, tname(g, "group_sigterm_exit_0"), "%s", kd_tail(&d));
out:
	wl_stop(&w);
}

/* ---- freezing ---- */

static char cg_root[PATH_MAX], cg_dir[PATH_MAX + 192], cg_rel[128];

static bool thawed(char *why, size_t wl)
{
	char path[sizeof(cg_dir) + 32], freeze[16] = "", events[256] = "";

	snprintf(path, sizeof(path), "%s/cgroup.freeze", cg_dir);
	read_file(path, freeze, sizeof(freeze));
	snprintf(path, sizeof(path), "%s/cgroup.events", cg_dir);
	read_file(path, events, sizeof(events));
	if (!strcmp(freeze, "0\n") && strstr(events, "frozen 0\n"))
		return true;
	snprintf(why, wl, "cgroup.freeze %.2s, cgroup.events: %s", freeze, events);
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return false;
}

/*
 * Whether cgroup.events changed since the last call.  Thawed before and
 * after, a change means it was frozen in between.  Notifications come from
 * a kernel work item, and inotify merges a freeze and a thaw left unread
 * into one event: wait a little for at least one.
 */
static bool events_changed(int ino, long wait_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	for (long i = 0; ino >= 0 && i <= wait_ms && !changed; i += 5) {
		changed = read(ino, buf, sizeof(buf)) > 0;
		if (!changed && wait_ms)
			sleep_ms(5);
	}
	return changed;
}

static void cg_cleanup(void)
{
	char path[sizeof(cg_dir) + 32], pids[4096], *p, *end;

	if (!cg_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/cgroup.freeze", cg_dir);
	write_file(path, "0");
	/* whatever is left goes back to the root before the directory goes */
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	if (!read_file(path, pids, sizeof(pids))) {
		char to[PATH_MAX + 32];

		snprintf(to, sizeof(to), "%s/cgroup.procs", cg_root);
		for (p = pids; *p; p = end) {
			char one[16];
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			snprintf(one, sizeof(one), "%ld", pid);
			write_file(to, one);
		}
	}
	for (int i = 0; i < 100 && rmdir(cg_dir) && errno == EBUSY; i++)
		sleep_ms(10);
}

static void check_thawed(const char *g, const char *what)
{
	char why[512] = "";

	CHECK(thawed(why, sizeof(why)), tname(g, what), "%s", why);
}

static void test_freeze(void)
{
	const char *g = "freeze";
	const char *wl_name = "threads_unshare";
	char path[sizeof(cg_dir) + 32], pid[16], why[512] = "", out[PATH_MAX], *raw;
	struct answers a = { 0 };
	struct kt_snapshot s;
	struct kt_target t;
	struct kd d, fail, tree;
	struct fresh f;
	struct run r;
	struct wl w;
	int ino = -1, fd;
	long long served;
	size_t len;

	if (!CHECK_CAPABLE(!cgroup2_mount(cg_root, sizeof(cg_root)), tname(g, "cgroup2_mounted"),
			   "a cgroup v2 mount"))
		return;
	snprintf(cg_rel, sizeof(cg_rel), "kcmptrace-test-%d", getpid());
	snprintf(cg_dir, sizeof(cg_dir), "%s/%s", cg_root, cg_rel);
	if (!CHECK_CAPABLE(!mkdir(cg_dir, 0755), tname(g, "cgroup_created"), strerror(errno))) {
		cg_dir[0] = '\0';
		return;
	}
	/* the whole workload is born in the fresh cgroup */
	if (!CHECK(!wl_start_paused(&w, wl_name, scenario(wl_name)->fn), tname(g, "workload"),
		   "could not start"))
		goto out;
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	snprintf(pid, sizeof(pid), "%d", w.root);
	if (!CHECK(!write_file(path, pid) && !wl_go(&w), tname(g, "workload_in_cgroup"),
		   "could not move %s into %s", pid, cg_dir))
		goto stop_wl;
	memset(&t, 0, sizeof(t));
	if (!CHECK(!target_set_cgroup(&t, cg_rel), tname(g, "target"), "cgroup %s", cg_rel))
		goto stop_wl;
	if (!CHECK_CAPABLE(
		    !kd_start(&d, "freeze", NULL, (const char *[]){ "--cgroup", cg_rel, NULL }),
		    tname(g, "daemon_started"), kd_tail(&d)))
		goto stop_wl;
	snprintf(path, sizeof(path), "%s/cgroup.events", cg_dir);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino >= 0)
		inotify_add_watch(ino, path, IN_MODIFY);

	/* 1. a frozen snapshot: taken frozen, thawed after, and right */
	CHECK(kd_quiet(&d, 100, 5000), tname(g, "quiet"), "events keep coming");
	events_changed(ino, 0);
	a.n = 1;
	a.err[0] = ask(d.sock, "snapshot freeze", &a.raw[0], &a.len[0]);
	check_thawed(g, "thawed_after_snapshot");
	CHECK(events_changed(ino, 500), tname(g, "was_frozen"), "cgroup.events never changed");
	check_answers(&a, &t, "freeze/frozen_answer", true);
	answers_free(&a);

	/* 2. the same through the command line, into a file */
	snprintf(out, sizeof(out), "%s/frozen.json", tmp);
	run_argv(&r, "cli-freeze",
		 (const char *[]){ kt_bin, "snapshot", "--from", d.sock, "--freeze", "--json", "-o",
				   out, NULL });
	CHECK(r.status == 0, tname(g, "cli_exit_0"), "exit %d", r.status);
	if (CHECK(!snapshot_json_read(out, &s, why, sizeof(why)), tname(g, "cli_file_parses"), "%s",
		  why))
		snapshot_free(&s);
	CHECK(file_has(out, "\"frozen\":true"), tname(g, "cli_file_says_frozen"), "no frozen:true");
	check_thawed(g, "thawed_after_cli");

	/* 3. without freeze: not frozen, and says so */
	if (CHECK(!ask(d.sock, "snapshot", &raw, &len) &&
			  !parse_answer(raw, len, &s, &f, why, sizeof(why)),
		  tname(g, "plain_answer"), "%s", why)) {
		CHECK(f.frozen == 0, tname(g, "plain_not_frozen"), "frozen %d", f.frozen);
		snapshot_free(&s);
	}
	free(raw);

	/* 4. a client that hangs up while its frozen snapshot is taken */
	for (int i = 0; i < 2; i++) {
		served = kd_stat(&d, "served");
		fd = connect_to(d.sock);
		if (fd >= 0 && !send_str(fd, "snapshot freeze\n") && i)
			sleep_ms(2);
		if (fd >= 0)
			close(fd);
		CHECK(kd_stat_reaches(&d, "served", served + 1, 5000),
		      tname(g, i ? "gone_client_2ms_served" : "gone_client_served"),
		      "served %lld, was %lld", kd_stat(&d, "served"), served);
		check_thawed(g, i ? "thawed_after_gone_client_2ms" : "thawed_after_gone_client");
	}
	CHECK(healthy(d.sock) && kd_alive(&d), tname(g, "daemon_unharmed"), "%s", kd_tail(&d));

	/* 5. an error while frozen (the daemon's test hook) still thaws */
	if (CHECK(!kd_start(&fail, "freeze-fail", "KCMPTRACE_TEST_FAIL_FROZEN=1",
			    (const char *[]){ "--cgroup", cg_rel, NULL }),
		  tname(g, "failing_daemon_started"), "%s", kd_tail(&fail))) {
		events_changed(ino, 0);
		CHECK(!ask(fail.sock, "snapshot freeze", &raw, &len) && strstr(raw, "\"error\"") &&
			      strstr(raw, "snapshot failed"),
		      tname(g, "error_answer"), "answer: %.200s", raw ? raw : "(none)");
		free(raw);
		check_thawed(g, "thawed_after_error");
		CHECK(events_changed(ino, 500), tname(g, "error_was_frozen"),
		      "cgroup.events never changed");
		run_argv(&r, "cli-freeze-fail",
			 (const char *[]){ kt_bin, "snapshot", "--from", fail.sock, "--freeze",
					   NULL });
		CHECK(r.status == KT_EXIT_ERROR && count_lines(r.err) == 1 &&
			      count_lines(r.out) == 0,
		      tname(g, "cli_error_exit_1_one_line"), "exit %d, %d lines on stderr",
		      r.status, count_lines(r.err));
		check_thawed(g, "thawed_after_cli_error");
		/* only frozen requests fail */
		if (CHECK(!ask(fail.sock, "snapshot", &raw, &len) &&
				  !parse_answer(raw, len, &s, &f, why, sizeof(why)),
			  tname(g, "failing_daemon_plain_ok"), "%s", why))
			snapshot_free(&s);
		free(raw);
		CHECK(kd_stop(&fail, SIGTERM) == 0, tname(g, "failing_sigterm_exit_0"), "%s",
		      kd_tail(&fail));
	}

	/* 6. a target in our own cgroup cannot be frozen: said, never done */
	snprintf(pid, sizeof(pid), "%d", sentinel);
	if (CHECK(!kd_start(&tree, "freeze-self", NULL, (const char *[]){ "--tree", pid, NULL }),
		  tname(g, "own_cgroup_daemon_started"), "%s", kd_tail(&tree))) {
		CHECK(!ask(tree.sock, "snapshot freeze", &raw, &len) && strstr(raw, "\"error\""),
		      tname(g, "own_cgroup_refused"), "answer: %.200s", raw ? raw : "(none)");
		free(raw);
		kd_stop(&tree, SIGTERM);
	}
	run_argv(&r, "daemon-freeze-self",
		 (const char *[]){ kt_bin, "daemon", "--tree", pid, "--freeze", "--socket",
				   "/nonexistent/kcmptrace.sock", NULL });
	CHECK(r.status == KT_EXIT_USAGE && file_has(r.err, "cannot freeze"),
	      tname(g, "daemon_freeze_own_cgroup_exit_2"), "exit %d", r.status);

	check_thawed(g, "thawed_at_the_end");
	/* the workload gone and its cgroup removed, the daemon ends by itself */
	wl_stop(&w);
	cg_cleanup();
	r.status = kd_wait(&d, 5000);
	CHECK(r.status == 0 && file_has(d.log, "the target has exited"),
	      tname(g, "cgroup_removed_ends_daemon"), "status %d: %s", r.status, kd_tail(&d));
	kd_stop(&d, SIGTERM);
stop_wl:
	wl_stop(&w);
out:
	if (ino >= 0)
		close(ino);
	cg_cleanup();
	CHECK(access(cg_dir, F_OK) && errno == ENOENT, tname(g, "cgroup_removed"), "%s is left",
	      cg_dir);
	cg_dir[0] = '\0';
}

/* ---- the daemon's own life ---- */

/* The BPF program and link ids the process holds, from its fdinfo. */
static int bpf_ids(pid_t pid, const char *key, uint32_t *ids, int max)
{
	char path[PATH_MAX], buf[4096];
	struct dirent *e;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)) && n < max) {
		char *p;

		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, e->d_name);
		if (e->d_name[0] == '.' || read_file(path, buf, sizeof(buf)))
			continue;
		p = strstr(buf, key);
		if (!p)
			continue;
		uint32_t id = (uint32_t)strtoul(p + strlen(key), NULL, 10);
		bool seen = false;

		for (int i = 0; i < n; i++)
			seen |= ids[i] == id;
		if (!seen)
			ids[n++] = id;
	}
	closedir(dir);
	return n;
}

/* How many of @ids still name a loaded program (or link): none once freed. */
static int still_loaded(const uint32_t *ids, int n, bool links)
{
	int left = 0;

	for (int tries = 0; tries < 100; tries++) {
		left = 0;
		for (int i = 0; i < n; i++) {
			int fd = links ? bpf_link_get_fd_by_id(ids[i])
				       : bpf_prog_get_fd_by_id(ids[i]);

			if (fd >= 0) {
				left++;
				close(fd);
			}
		}
		if (!left)
			break;
		sleep_ms(20); /* freed after an RCU grace period */
	}
	return left;
}

static void test_lifecycle(void)
{
	const char *g = "lifecycle";
	uint32_t progs[64], links[64];
	int nprogs, nlinks, status, fd;
	char root[16], plain[PATH_MAX + 16], content[64] = "";
	struct run r;
	struct kd d, other;
	struct wl w;

	if (!CHECK(!wl_start(&w, "lifecycle", scenario("dup")->fn), tname(g, "workload"),
		   "could not start"))
		return;
	snprintf(root, sizeof(root), "%d", w.root);
	if (!CHECK_CAPABLE(!kd_start(&d, "life", NULL, (const char *[]){ "--tree", root, NULL }),
			   tname(g, "daemon_started"), kd_tail(&d)))
		goto out;
	nprogs = bpf_ids(d.pid, "prog_id:", progs, 64);
	nlinks = bpf_ids(d.pid, "link_id:", links, 64);
	CHECK(nprogs > 0 && nlinks > 0, tname(g, "holds_bpf"), "%d programs, %d links", nprogs,
	      nlinks);

	/* a second daemon on a served socket goes away and leaves it be */
	run_argv(&r, "second",
		 (const char *[]){ kt_bin, "daemon", "--tree", root, "--socket", d.sock, NULL });
	CHECK(r.status == KT_EXIT_ERROR && count_lines(r.err) == 1 &&
		      file_has(r.err, "already serving"),
	      tname(g, "socket_in_use_exit_1"), "exit %d", r.status);
	CHECK(healthy(d.sock), tname(g, "socket_in_use_first_unharmed"), "%s", kd_tail(&d));
	/* a file that is not a socket is never replaced */
	snprintf(plain, sizeof(plain), "%s/not-a-socket", tmp);
	fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, "precious\n", 9) != 9)
			content[0] = '\0';
		close(fd);
	}
	run_argv(&r, "not-a-socket",
		 (const char *[]){ kt_bin, "daemon", "--tree", root, "--socket", plain, NULL });
	read_file(plain, content, sizeof(content));
	CHECK(r.status == KT_EXIT_ERROR && !strcmp(content, "precious\n") &&
		      file_has(r.err, "not a socket"),
	      tname(g, "never_deletes_a_file"), "exit %d, the file now holds \"%s\"", r.status,
	      content);

	/* SIGTERM: exit 0, socket gone, no program or link left */
	status = kd_stop(&d, SIGTERM);
	CHECK(status == 0, tname(g, "sigterm_exit_0"), "status %d: %s", status, kd_tail(&d));
	CHECK(access(d.sock, F_OK) && errno == ENOENT, tname(g, "socket_removed"), "%s is left",
	      d.sock);
	CHECK(file_has(d.log, "served"), tname(g, "says_goodbye"), "log: %s", kd_tail(&d));
	CHECK(still_loaded(progs, nprogs, false) == 0, tname(g, "no_program_left"),
	      "%d of %d programs still loaded", still_loaded(progs, nprogs, false), nprogs);
	CHECK(still_loaded(links, nlinks, true) == 0, tname(g, "no_link_left"),
	      "%d of %d links still there", still_loaded(links, nlinks, true), nlinks);

	/* the target going away ends the daemon too */
	if (CHECK(!kd_start(&other, "life-target", NULL, (const char *[]){ "--tree", root, NULL }),
		  tname(g, "second_daemon_started"), "%s", kd_tail(&other))) {
		wl_stop(&w);
		status = kd_wait(&other, 5000);
		CHECK(status == 0, tname(g, "target_exit_ends_daemon"), "status %d: %s", status,
		      kd_tail(&other));
		CHECK(file_has(other.log, "the target has exited"), tname(g, "says_target_exited"),
		      "log: %s", kd_tail(&other));
		CHECK(access(other.sock, F_OK) && errno == ENOENT,
		      tname(g, "socket_removed_at_target_exit"), "%s is left", other.sock);
		kd_stop(&other, SIGKILL);
	}
out:
	wl_stop(&w);
}

/* ---- */

/* Logs stay for a look when something failed. */
static void rm_tmp(void)
{
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *dir;

	if (check_failed) {
		printf("# daemon logs kept in %s\n", tmp);
		return;
	}
	dir = opendir(tmp);

	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(tmp);
}

/* Time per section, on a comment line: the whole must stay well under a minute. */
static void took(const char *what)
{
	static uint64_t last;
	uint64_t now = now_ms();

	if (last)
		printf("# %s: %.2f s\n", what, (now - last) / 1000.0);
	last = now;
}

int main(int argc, char **argv)
{
	uint64_t t0 = now_ms();

	kt_bin = getenv("KCMPTRACE") ? getenv("KCMPTRACE") : "./build/kcmptrace";
	filter = argc > 1 ? argv[1] : NULL;
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0 && !under_ci()) {
		printf("# skipped: the daemon needs root (BPF, kcmp, cgroup writes)\n");
		return 0;
	}
	if (!CHECK_CAPABLE(geteuid() == 0, "daemon/root", "root (BPF, kcmp, cgroup writes)") ||
	    !CHECK(access(kt_bin, X_OK) == 0, "daemon/binary", "%s: %s", kt_bin, strerror(errno)))
		return check_exit();
	snprintf(tmp, sizeof(tmp), "/tmp/kcmptrace-daemon.XXXXXX");
	if (!CHECK(mkdtemp(tmp) && !chmod(tmp, 0755), "daemon/tmpdir", "%s", strerror(errno)))
		return check_exit();
	sentinel = truth_sentinel();
	took(NULL);
	for (int i = 0; i < wl_nr_scenarios; i++)
		if (wanted("concurrent") || wanted(wl_scenarios[i].name)) {
			test_concurrent(&wl_scenarios[i], true);
			/* test_churn starts its daemon late on this one, churning */
			if (strcmp(wl_scenarios[i].name, "churn"))
				test_concurrent(&wl_scenarios[i], false);
			took(wl_scenarios[i].name);
		}
	if (wanted("churn")) {
		test_churn();
		took("churn");
	}
	if (wanted("sharer_exits")) {
		test_sharer_exits();
		took("sharer_exits");
	}
	if (wanted("disconnect")) {
		test_disconnects();
		took("disconnect");
	}
	if (wanted("privileges")) {
		test_privileges();
		took("privileges");
	}
	if (wanted("freeze")) {
		test_freeze();
		took("freeze");
	}
	if (wanted("lifecycle")) {
		test_lifecycle();
		took("lifecycle");
	}
	kill(sentinel, SIGKILL);
	waitpid(sentinel, NULL, 0);
	rm_tmp();
	printf("# %.1f s\n", (now_ms() - t0) / 1000.0);
	return check_exit();
}
