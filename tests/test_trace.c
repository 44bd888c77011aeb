// SPDX-License-Identifier: LGPL-2.1
/*
 * Live tracing: the tracer attaches to a workload before it builds its
 * sharing; at quiescence the live state must equal a fresh cold snapshot
 * and the kernel's kcmp truth.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "backend.h"
#include "check.h"
#include "live_json.h"
#include "snapshot_json.h"
#include "tracer.h"
#include "truth.h"
#include "workload.h"

static pid_t sentinel;
static char name_buf[256];

static const char *tname(const char *sc, const char *what)
{
	snprintf(name_buf, sizeof(name_buf), "%s/live/%s", sc, what);
	return name_buf;
}

static int start_tracer_mode(struct kt_tracer *tr, pid_t root, size_t ringbuf,
			     enum kt_target_mode mode)
{
	struct kt_target t = { .mode = mode, .tgid = (uint32_t)root, .npids = 1 };
	struct kt_tracer_opts o = { .ringbuf_bytes = ringbuf, .want_paths = true };
	char why[256] = "";
	int r;

	t.pids[0] = (uint32_t)root;
	memset(tr, 0, sizeof(*tr));
	r = tracer_start(tr, &t, &o, why, sizeof(why));
	CHECK_CAPABLE(r == 0, "tracer_start", why);
	return r;
}

static int start_tracer(struct kt_tracer *tr, pid_t root, size_t ringbuf)
{
	return start_tracer_mode(tr, root, ringbuf, KT_TARGET_TREE);
}

static int cold(struct kt_snapshot *s, pid_t root)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_backend_opts o = { .genid = KT_GENID_ADDR, .want_paths = true };

	return snapshot_take(s, &t, &o, KT_BACKEND_BPF, false);
}

/* Fds of distinct tables: a cold snapshot also keeps aliases it does not count. */
static size_t held_fds(const struct kt_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nfds; i++)
		n += s->fds[i].id != 0;
	return n;
}

/*
 * The daemon's document, written from the pieces kept since before the
 * scenario ran (each must have been noticed as stale), read back: the same
 * sharing as the live state, and the same bytes as a write from nothing.
 */
static void resolve_path(struct live_fd *f)
{
	tracer_fd_path(f);
}

/* Held fds with a known path. */
static size_t fds_with_path(const struct kt_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nfds; i++)
		n += s->fds[i].id && *snapshot_path(s, &s->fds[i]);
	return n;
}

/* Fds of @a whose path differs from the same (tid, fd) of @b; the first named in @why. */
static size_t paths_differ(const struct kt_snapshot *a, const struct kt_snapshot *b, char *why,
			   size_t len)
{
	size_t bad = 0;

	for (size_t i = 0; i < a->nfds; i++) {
		const struct kt_fd *x = &a->fds[i];

		for (size_t j = 0; x->id && j < b->nfds; j++) {
			const struct kt_fd *y = &b->fds[j];

			if (!y->id || y->rec.tid != x->rec.tid || y->rec.fd != x->rec.fd)
				continue;
			if (strcmp(snapshot_path(a, x), snapshot_path(b, y)) && !bad++)
				snprintf(why, len, "tid %u fd %d: \"%s\", cold \"%s\"", x->rec.tid,
					 x->rec.fd, snapshot_path(a, x), snapshot_path(b, y));
			break;
		}
	}
	return bad;
}

static void check_daemon_json(struct kt_tracer *tr, struct live_json_cache *cache,
			      const struct kt_snapshot *live, const struct kt_snapshot *cold_snap,
			      const char *sc)
{
	struct live_json_doc doc = { .target_desc = "test",
				     .taken_at_ns = 1,
				     .resolve_path = resolve_path };
	struct live_json_cache fresh = { 0 };
	char *warm = NULL, *cold = NULL, why[512] = "", what[64];
	size_t warm_len = 0, cold_len = 0;
	struct kt_snapshot back;
	int r = live_json_write(&tr->st, cache, &doc, &warm, &warm_len);

	if (!r) {
		live_json_forget(&tr->st, &fresh);
		r = live_json_write(&tr->st, &fresh, &doc, &cold, &cold_len);
	}
	if (CHECK(r == 0, tname(sc, "daemon_json_written"), "%s", strerror(-r))) {
		CHECK(warm_len == cold_len && !memcmp(warm, cold, warm_len),
		      tname(sc, "daemon_json_cache_current"), "%zu vs %zu bytes", warm_len,
		      cold_len);
		r = snapshot_json_parse(warm, warm_len, "daemon", &back, why, sizeof(why));
		if (CHECK(r == 0, tname(sc, "daemon_json_parses"), "%s", why)) {
			CHECK(back.ntasks == live->ntasks && held_fds(&back) == held_fds(live),
			      tname(sc, "daemon_json_counts"), "%zu tasks %zu fds, live %zu %zu",
			      back.ntasks, held_fds(&back), live->ntasks, held_fds(live));
			/* fds that came by events get their path read when first written */
			CHECK(!cold_snap || fds_with_path(&back) == fds_with_path(cold_snap),
			      tname(sc, "daemon_json_paths"), "%zu fds with a path, cold %zu",
			      fds_with_path(&back), cold_snap ? fds_with_path(cold_snap) : 0);
			CHECK(!cold_snap || !paths_differ(&back, cold_snap, why, sizeof(why)),
			      tname(sc, "daemon_json_same_paths"), "%s", why);
			for (int k = 0; k < KT_NR_KINDS; k++) {
				snprintf(what, sizeof(what), "daemon_json_same_%s",
					 kt_kind_name(k));
				CHECK(!truth_same_partition(live, &back, k, why, sizeof(why)),
				      tname(sc, what), "%s", why);
			}
			snapshot_free(&back);
		}
	}
	free(warm);
	free(cold);
	live_json_cache_free(&fresh);
}

/*
 * Quiescence is no event for 50 ms: a workload can say it is ready before
 * the kernel has reported all it did (an exec's tracepoint fires after the
 * close-on-exec fds are closed, which is what the workload waits for).
 */
static int quiesce(struct kt_tracer *tr)
{
	for (int i = 0; i < 300; i++) {
		int r = tracer_poll(tr, 10);

		if (r < 0)
			return r;
		if (kt_now_ns() - tr->last_event_ns > 50 * 1000000ull)
			break;
	}
	return tracer_settle(tr);
}

/* The live state against a fresh cold snapshot and against kcmp. */
static void compare_with_cold(struct kt_tracer *tr, pid_t root, const char *sc,
			      struct live_json_cache *cache)
{
	struct kt_snapshot live, fresh;
	char why[512] = "", what[64];
	bool cold_ok;
	int r;

	snapshot_init(&live, "live", KT_GENID_ADDR);
	r = quiesce(tr);
	if (!r)
		r = live_to_snapshot(&tr->st, &live);
	if (!CHECK(r == 0, tname(sc, "settle"), "%s", strerror(-r)))
		return;
	r = cold(&fresh, root);
	cold_ok = r == 0;
	if (CHECK(r == 0, tname(sc, "cold_snapshot"), "%s", strerror(-r))) {
		CHECK(live.ntasks == fresh.ntasks && held_fds(&live) == held_fds(&fresh),
		      tname(sc, "same_counts"), "live %zu tasks %zu fds, cold %zu tasks %zu fds",
		      live.ntasks, held_fds(&live), fresh.ntasks, held_fds(&fresh));
		for (int k = 0; k < KT_NR_KINDS; k++) {
			snprintf(what, sizeof(what), "same_as_cold_%s", kt_kind_name(k));
			CHECK(!truth_same_partition(&fresh, &live, k, why, sizeof(why)),
			      tname(sc, what), "%s", why);
		}
	}
	for (int k = 0; k < KT_NR_KINDS; k++) {
		snprintf(what, sizeof(what), "kcmp_truth_%s", kt_kind_name(k));
		CHECK(!truth_check_kind(&live, k, why, sizeof(why)), tname(sc, what), "%s", why);
	}
	CHECK(!truth_check_absent(&live, KT_IO, sentinel, why, sizeof(why)), tname(sc, "absent_io"),
	      "%s", why);
	CHECK(!truth_check_fd_tables(&live, why, sizeof(why)), tname(sc, "fd_tables_complete"),
	      "%s", why);
	if (cache)
		check_daemon_json(tr, cache, &live, cold_ok ? &fresh : NULL, sc);
	if (cold_ok)
		snapshot_free(&fresh);
	snapshot_free(&live);
}

static void run_scenario(const struct wl_scenario *sc)
{
	struct kt_tracer tr;
	struct wl w;

	if (!CHECK(!wl_start_paused(&w, sc->name, sc->fn), tname(sc->name, "workload"),
		   "could not start"))
		return;
	if (!start_tracer(&tr, w.root, 16 << 20)) {
		struct live_json_doc doc = { .target_desc = "test" };
		struct live_json_cache cache = { 0 };
		char *before = NULL;
		size_t len;

		/* pieces of the state before the scenario, for the daemon check */
		live_json_write(&tr.st, &cache, &doc, &before, &len);
		free(before);
		CHECK(!wl_go(&w), tname(sc->name, "built"), "the scenario failed");
		compare_with_cold(&tr, w.root, sc->name, &cache);
		live_json_cache_free(&cache);
	}
	tracer_stop(&tr);
	wl_stop(&w);
}

/* A 4 KiB ring buffer under an fd storm: loss is seen, and repaired. */
static void test_loss(void)
{
	struct kt_tracer tr;
	struct wl w;

	if (wl_start_paused(&w, "storm", wl_fd_storm))
		return;
	if (!start_tracer(&tr, w.root, 4096)) {
		CHECK(!wl_go(&w), "storm/built", "the storm failed");
		CHECK(!tracer_settle(&tr), "storm/settle", "settle failed");
		CHECK(tr.c.lost > 0, "storm/loss_detected", "no event lost with a 4 KiB buffer");
		CHECK(tr.c.rescans > 1, "storm/rescanned", "%llu rescans",
		      (unsigned long long)tr.c.rescans);
		compare_with_cold(&tr, w.root, "storm", NULL);
	}
	tracer_stop(&tr);
	wl_stop(&w);
}

/* Processes outside the target are never tracked, however busy. */
static void test_outside_untracked(void)
{
	struct kt_tracer tr;
	struct wl target, other;
	size_t pos = 0, outside = 0;
	uint32_t tid;
	void *v;

	if (wl_start(&target, "target", wl_scenarios[0].fn))
		return;
	if (!start_tracer(&tr, target.root, 16 << 20)) {
		CHECK(!wl_start(&other, "outside", wl_churn), "outside/built", "churn failed");
		tracer_settle(&tr);
		while (u32map_next(&tr.st.tasks, &pos, &tid, &v))
			outside += getpgid((pid_t)tid) != target.root;
		CHECK(outside == 0 && tr.st.tasks.len > 0, "outside/untracked",
		      "%zu of %zu tracked tasks are outside the target", outside, tr.st.tasks.len);
		wl_stop(&other);
		compare_with_cold(&tr, target.root, "outside", NULL);
	}
	tracer_stop(&tr);
	wl_stop(&target);
}

/* The whole target exiting ends the trace. */
static void test_target_vanishes(void)
{
	struct kt_tracer tr;
	struct wl w;
	bool gone = false;

	if (wl_start(&w, "vanish", wl_scenarios[0].fn))
		return;
	if (!start_tracer(&tr, w.root, 16 << 20)) {
		CHECK(!tracer_target_gone(&tr), "vanish/present", "gone before it went");
		wl_stop(&w);
		for (int i = 0; i < 100 && !gone; i++) {
			tracer_poll(&tr, 10);
			gone = tracer_target_gone(&tr);
		}
		CHECK(gone, "vanish/target_gone", "%zu tasks left", tr.st.tasks.len);
	}
	tracer_stop(&tr);
}

/* A process told by a byte on @cmd to run @fn, answering on @ready. */
static pid_t start_child(int *cmd_w, int *ready_r, void (*fn)(int cmd, int ready))
{
	int cmd[2], ready[2];
	pid_t pid;

	if (pipe2(cmd, O_CLOEXEC) || pipe2(ready, O_CLOEXEC))
		return -1;
	pid = fork();
	if (!pid) {
		close(cmd[1]);
		close(ready[0]);
		fn(cmd[0], ready[1]);
		_exit(0);
	}
	close(cmd[0]);
	close(ready[1]);
	*cmd_w = cmd[1];
	*ready_r = ready[0];
	return pid;
}

static void stop_child(pid_t pid, int cmd_w, int ready_r)
{
	close(cmd_w);
	close(ready_r);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A child with 1000 fds; each byte on @cmd makes it change one piece's worth. */
static void pieces_child(int cmd, int ready)
{
	char c;

	for (int i = 0; i < 1000; i++)
		if (open("/dev/null", O_RDONLY) < 0)
			_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	while (read(cmd, &c, 1) == 1) {
		/* close one fd in the third piece, share another into the fourth */
		if (c == '1' && (close(600) || dup2(10, 900) != 900))
			_exit(1);
		if (write(ready, "r", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* The daemon's kept JSON pieces of a large table after a change in two of them. */
static void test_json_pieces(void)
{
	struct kt_tracer tr;
	struct kt_snapshot live;
	struct live_json_cache cache = { 0 };
	struct live_json_doc doc = { .target_desc = "test" };
	char *out = NULL, c;
	size_t len;
	int cmd, ready;
	pid_t pid = start_child(&cmd, &ready, pieces_child);

	if (pid < 0)
		return;
	if (CHECK(read(ready, &c, 1) == 1, "pieces/child_ready", "no child") &&
	    !start_tracer(&tr, pid, 16 << 20)) {
		CHECK(!live_json_write(&tr.st, &cache, &doc, &out, &len) && cache.pieces_made >= 4,
		      "pieces/made", "%llu pieces", (unsigned long long)cache.pieces_made);
		free(out);
		if (CHECK(write(cmd, "1", 1) == 1 && read(ready, &c, 1) == 1,
			  "pieces/child_changed", "no answer")) {
			uint64_t made = cache.pieces_made;

			snapshot_init(&live, "live", KT_GENID_ADDR);
			if (CHECK(!quiesce(&tr) && !live_to_snapshot(&tr.st, &live),
				  "pieces/settle", "failed")) {
				check_daemon_json(&tr, &cache, &live, NULL, "pieces");
				/* check_daemon_json wrote once from the cache: two pieces remade */
				CHECK(cache.pieces_made - made == 2, "pieces/only_changed_remade",
				      "%llu remade",
				      (unsigned long long)(cache.pieces_made - made));
			}
			snapshot_free(&live);
		}
		tracer_stop(&tr);
	}
	live_json_cache_free(&cache);
	stop_child(pid, cmd, ready);
}

static void dups_child(int cmd, int ready)
{
	char c;
	int fd;

	if (read(cmd, &c, 1) != 1 || (fd = open("/dev/null", O_RDONLY)) < 0)
		_exit(1);
	for (int i = 0; i < 20; i++)
		if (dup(fd) < 0)
			_exit(1);
	if (dup2(fd, 200) != 200 || fcntl(fd, F_DUPFD, 300) < 0 ||
	    dup3(fd, 400, O_CLOEXEC) != 400 || write(ready, "r", 1) != 1)
		_exit(1);
	pause();
}

/* dups_child under a tracer, not yet told to dup; its pid, or -1 with nothing left running. */
static pid_t traced_dups_child(struct kt_tracer *tr, int *cmd, int *ready, const char *g)
{
	char name[64];
	pid_t pid = start_child(cmd, ready, dups_child);

	snprintf(name, sizeof(name), "%s/child", g);
	if (!CHECK(pid > 0, name, "no child"))
		return -1;
	if (start_tracer(tr, pid, 16 << 20)) {
		stop_child(pid, *cmd, *ready);
		return -1;
	}
	return pid;
}

/*
 * dup, dup2, dup3 and F_DUPFD: the kernel saw the new fd hold its source's
 * file, so the fds join their source's object without a kcmp, and the
 * result is still the kernel's truth.
 */
static void test_dups_without_kcmp(void)
{
	struct kt_tracer tr;
	int cmd, ready;
	pid_t pid = traced_dups_child(&tr, &cmd, &ready, "dups");
	char c;

	if (pid < 0)
		return;
	uint64_t before = live_stats(&tr.st).kcmp_calls;
	struct live_fd *src;

	if (CHECK(write(cmd, "1", 1) == 1 && read(ready, &c, 1) == 1, "dups/child_done",
		  "no answer") &&
	    CHECK(!quiesce(&tr), "dups/settle", "failed")) {
		src = live_fd_get(&tr.st, (uint32_t)pid, 400);
		CHECK(src && src->hold.obj->nholders == 24, "dups/one_object",
		      "fd 400's file has %u holders, want 24", src ? src->hold.obj->nholders : 0);
		CHECK(live_stats(&tr.st).kcmp_calls == before, "dups/no_kcmp", "%llu kcmp calls",
		      (unsigned long long)(live_stats(&tr.st).kcmp_calls - before));
		compare_with_cold(&tr, pid, "dups", NULL);
	}
	tracer_stop(&tr);
	stop_child(pid, cmd, ready);
}

static int thread_cmd = -1, thread_ready = -1;

/* Opens a pipe and a dup of it when told: a thread older than the trace. */
static void *opener_thread(void *arg)
{
	int p[2];
	char c;

	if (read(thread_cmd, &c, 1) != 1 || pipe(p) || dup(p[0]) < 0 ||
	    write(thread_ready, "r", 1) != 1)
		_exit(1);
	return arg;
}

static void threads_child(int cmd, int ready)
{
	pthread_t th;

	thread_cmd = cmd;
	thread_ready = ready;
	if (pthread_create(&th, NULL, opener_thread, NULL) || write(ready, "s", 1) != 1)
		_exit(1);
	pthread_join(th, NULL);
	pause();
}

/*
 * A pid-list target's threads that existed before the trace are tracked
 * from the start: the kernel marks every thread of the target at seeding.
 */
static void test_old_thread_tracked(void)
{
	struct kt_tracer tr;
	int cmd, ready;
	pid_t pid = start_child(&cmd, &ready, threads_child);
	char c;

	if (!CHECK(pid > 0 && read(ready, &c, 1) == 1, "old_thread/child", "no child") ||
	    start_tracer_mode(&tr, pid, 16 << 20, KT_TARGET_PIDS)) {
		if (pid > 0)
			stop_child(pid, cmd, ready);
		return;
	}
	uint64_t rescans = tr.c.rescans;
	struct live_task *t;

	if (CHECK(write(cmd, "1", 1) == 1 && read(ready, &c, 1) == 1, "old_thread/opened",
		  "no answer") &&
	    CHECK(!quiesce(&tr), "old_thread/settle", "failed")) {
		t = live_task_get(&tr.st, (uint32_t)pid);
		CHECK(t && t->hold[KT_FILES].obj && t->hold[KT_FILES].obj->table->nfds >= 3 + 3,
		      "old_thread/fds_seen", "%u fds in the table",
		      t && t->hold[KT_FILES].obj ? t->hold[KT_FILES].obj->table->nfds : 0);
		/* by events: a rescan would have found them without tracking the thread */
		CHECK(tr.c.rescans == rescans, "old_thread/by_events", "%llu rescans",
		      (unsigned long long)(tr.c.rescans - rescans));
		compare_with_cold(&tr, pid, "old_thread", NULL);
	}
	tracer_stop(&tr);
	stop_child(pid, cmd, ready);
}

/* Break the state with @fn; tracer_verify() must find it and read the table again. */
static void verify_finds(struct kt_tracer *tr, pid_t pid, const char *what,
			 int (*fn)(struct kt_tracer *tr, pid_t pid))
{
	struct kt_verification v = { 0 };
	char name[64];
	int r = fn(tr, pid);

	snprintf(name, sizeof(name), "verify/%s/state_broken", what);
	if (!CHECK(!r, name, "%s", strerror(-r)))
		return;
	r = tracer_verify(tr, &v);
	snprintf(name, sizeof(name), "verify/%s/found", what);
	CHECK(!r && v.repaired >= 1, name, "repaired %llu: %s", (unsigned long long)v.repaired,
	      strerror(-r));
	snprintf(name, sizeof(name), "verify/%s", what);
	compare_with_cold(tr, pid, name, NULL);
	memset(&v, 0, sizeof(v));
	r = tracer_verify(tr, &v);
	snprintf(name, sizeof(name), "verify/%s/then_nothing_to_repair", what);
	CHECK(!r && v.repaired == 0, name, "repaired %llu", (unsigned long long)v.repaired);
}

static int lose_fd(struct kt_tracer *tr, pid_t pid)
{
	return live_fd_set(&tr->st, (uint32_t)pid, 200, NULL, NULL);
}

/* An fd the child never had, holding fd 400's file (as a dup event says: no kcmp). */
static int add_phantom_fd(struct kt_tracer *tr, pid_t pid)
{
	struct live_fd *f = live_fd_get(&tr->st, (uint32_t)pid, 400);
	struct kt_fd_rec rec;

	if (!f)
		return -ENOENT;
	live_fd_rec(f, &rec);
	rec.fd = 900;
	return live_fd_set_same(&tr->st, (uint32_t)pid, 900, &rec, NULL, 400);
}

/*
 * Gens alone do not show a table whose fds the state lost or invented:
 * the check behind every daemon answer counts each table's fds too.
 */
static void test_verify_repairs(void)
{
	struct kt_tracer tr;
	int cmd, ready;
	pid_t pid = traced_dups_child(&tr, &cmd, &ready, "verify");
	char c;

	if (pid < 0)
		return;
	if (CHECK(write(cmd, "1", 1) == 1 && read(ready, &c, 1) == 1, "verify/child_done",
		  "no answer") &&
	    CHECK(!quiesce(&tr), "verify/settle", "failed")) {
		verify_finds(&tr, pid, "lost_fd", lose_fd);
		verify_finds(&tr, pid, "phantom_fd", add_phantom_fd);
	}
	tracer_stop(&tr);
	stop_child(pid, cmd, ready);
}

int main(int argc, char **argv)
{
	/* by name, for ./tests/run.sh build FILTER */
	static const struct {
		const char *name;
		void (*run)(void);
	} tests[] = {
		{ "storm", test_loss },
		{ "outside", test_outside_untracked },
		{ "vanish", test_target_vanishes },
		{ "pieces", test_json_pieces },
		{ "dups", test_dups_without_kcmp },
		{ "old_thread", test_old_thread_tracked },
		{ "verify", test_verify_repairs },
	};

	sentinel = truth_sentinel();
	for (int i = 0; i < wl_nr_scenarios; i++)
		if (argc < 2 || strstr(wl_scenarios[i].name, argv[1]))
			run_scenario(&wl_scenarios[i]);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (argc < 2 || strstr(tests[i].name, argv[1]))
			tests[i].run();
	kill(sentinel, SIGKILL);
	waitpid(sentinel, NULL, 0);
	return check_exit();
}
