// SPDX-License-Identifier: LGPL-2.1
/*
 * Live tracing: the tracer attaches to a workload before it builds its
 * sharing; at quiescence the live state must equal a fresh cold snapshot
 * and the kernel's kcmp truth.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/* ---- fds held back: opened into an unshared table, not yet reported ---- */

static int held_fd = -1, held_thread_cmd[2], held_thread_done[2];

static void reply(int ready, int v)
{
	if (write(ready, &v, sizeof(v)) != sizeof(v))
		_exit(1);
}

/* A grandchild that lives as long as its parent. */
static int fork_parked(void)
{
	pid_t pid = fork();

	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	return pid;
}

/*
 * A second thread on the table: told 'f', it forks; told 'x', it closes
 * the main thread's fd, opens another into the same slot and makes one
 * more fd syscall, so that what it opened is reported.
 */
static void *second_thread(void *arg)
{
	char c;
	int v;

	while (read(held_thread_cmd[0], &c, 1) == 1) {
		if (c == 'f') {
			v = fork_parked();
		} else {
			close(held_fd);
			v = open("/dev/zero", O_RDONLY);
			close(open("/dev/null", O_RDONLY));
		}
		if (write(held_thread_done[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
	}
	return arg;
}

/* A seccomp filter with a listener (on getppid, which nobody calls): a supervisor could add fds. */
static int listen_getppid(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &prog);
}

static void spin(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

/* Each command byte does one thing and answers with an int (an fd, a pid or 0). */
static void held_child(int cmd, int ready)
{
	pthread_t th;
	char c;
	int v;

	while (read(cmd, &c, 1) == 1) {
		v = 0;
		switch (c) {
		case 'w': /* an fd syscall, so that the next may hold its fd back */
			close(open("/dev/null", O_RDONLY));
			break;
		case 'o': v = held_fd = open("/dev/null", O_RDONLY); break;
		case 'c': v = close(held_fd); break;
		case 'l':
			for (int i = 0; i < 2000; i++)
				close(open("/dev/null", O_RDONLY));
			break;
		case 'r': /* pairs with the fd open a while, for a scan to read it, until told */
			reply(ready, 0);
			v = -1;
			for (struct pollfd p = { .fd = cmd, .events = POLLIN }; !poll(&p, 1, 0);) {
				v = open("/dev/null", O_RDONLY);
				spin(20000);
				close(v);
			}
			if (read(cmd, &c, 1) != 1)
				_exit(1);
			break;
		case 'f': v = fork_parked(); break;
		case 'S': v = listen_getppid(); break;
		case 't':
			if (pipe(held_thread_cmd) || pipe(held_thread_done) ||
			    pthread_create(&th, NULL, second_thread, NULL))
				_exit(1);
			break;
		case 'F':
		case 'X':
			c = c == 'F' ? 'f' : 'x';
			if (write(held_thread_cmd[1], &c, 1) != 1 ||
			    read(held_thread_done[0], &v, sizeof(v)) != sizeof(v))
				_exit(1);
			break;
		}
		reply(ready, v);
	}
	_exit(0);
}

/* Send @c to the child, read its answer into @v; false (and a failed check) if none. */
static bool held_ask(int cmd, int ready, char c, int *v, const char *g)
{
	char name[64];
	int dummy;

	snprintf(name, sizeof(name), "%s/child_answers_%c", g, c);
	return CHECK(write(cmd, &c, 1) == 1 &&
			     read(ready, v ? v : &dummy, sizeof(int)) == sizeof(int),
		     name, "no answer");
}

struct held_env {
	struct kt_tracer tr;
	int cmd, ready;
	pid_t pid;
};

static bool held_start(struct held_env *e, const char *g)
{
	char name[64];

	e->pid = start_child(&e->cmd, &e->ready, held_child);
	snprintf(name, sizeof(name), "%s/child", g);
	if (!CHECK(e->pid > 0, name, "no child"))
		return false;
	if (start_tracer(&e->tr, e->pid, 16 << 20)) {
		stop_child(e->pid, e->cmd, e->ready);
		return false;
	}
	return true;
}

static void held_stop(struct held_env *e)
{
	tracer_stop(&e->tr);
	stop_child(e->pid, e->cmd, e->ready);
}

/* The child makes one fd syscall, then opens an fd it may hold back: its number in @fd. */
static bool held_open(struct held_env *e, int *fd, const char *g)
{
	return held_ask(e->cmd, e->ready, 'w', NULL, g) && held_ask(e->cmd, e->ready, 'o', fd, g);
}

static bool has_fd(struct kt_tracer *tr, pid_t pid, int fd)
{
	return live_fd_get(&tr->st, (uint32_t)pid, fd) != NULL;
}

/*
 * The events the tracer applies for the child's 2000 open+close pairs,
 * after one fd syscall and a settle (so that the next may hold back); -1
 * if the child or the tracer failed.
 */
static int64_t pair_events(struct held_env *e, const char *g)
{
	char name[64];
	uint64_t events;

	snprintf(name, sizeof(name), "%s/settle", g);
	if (!held_ask(e->cmd, e->ready, 'w', NULL, g) || !CHECK(!quiesce(&e->tr), name, "failed"))
		return -1;
	events = e->tr.c.events;
	snprintf(name, sizeof(name), "%s/settle_after", g);
	if (!held_ask(e->cmd, e->ready, 'l', NULL, g) || !CHECK(!quiesce(&e->tr), name, "failed"))
		return -1;
	return (int64_t)(e->tr.c.events - events);
}

/* Open+close pairs in an unshared table cost no event, and leave the state true. */
static void test_held_pairs(void)
{
	struct held_env e;
	int64_t n;

	if (!held_start(&e, "held_pairs"))
		return;
	if ((n = pair_events(&e, "held_pairs")) >= 0) {
		CHECK(n < 100, "held_pairs/not_reported", "%lld events for 2000 open+close pairs",
		      (long long)n);
		compare_with_cold(&e.tr, e.pid, "held_pairs", NULL);
	}
	held_stop(&e);
}

/* Under a seccomp filter with a listener nothing is held back: each fd syscall is reported. */
static void test_held_seccomp(void)
{
	struct held_env e;
	int listener = -1;
	int64_t n;

	if (!held_start(&e, "held_seccomp"))
		return;
	if (held_ask(e.cmd, e.ready, 'S', &listener, "held_seccomp") &&
	    CHECK(listener >= 0, "held_seccomp/listener", "seccomp: no listener fd") &&
	    (n = pair_events(&e, "held_seccomp")) >= 0) {
		CHECK(n >= 4000, "held_seccomp/all_reported",
		      "%lld events for 2000 open+close pairs", (long long)n);
		compare_with_cold(&e.tr, e.pid, "held_seccomp", NULL);
	}
	held_stop(&e);
}

/* An fd held back and kept open is in the state once the tracer settles. */
static void test_held_flushed(void)
{
	struct held_env e;
	int fd;

	if (!held_start(&e, "held_flush"))
		return;
	if (held_open(&e, &fd, "held_flush") &&
	    CHECK(!quiesce(&e.tr), "held_flush/settle", "failed")) {
		CHECK(has_fd(&e.tr, e.pid, fd), "held_flush/open_fd_in_state", "fd %d missing", fd);
		compare_with_cold(&e.tr, e.pid, "held_flush", NULL);
		if (held_ask(e.cmd, e.ready, 'c', NULL, "held_flush") &&
		    CHECK(!quiesce(&e.tr), "held_flush/settle_closed", "failed"))
			CHECK(!has_fd(&e.tr, e.pid, fd), "held_flush/closed_fd_gone",
			      "fd %d still there", fd);
	}
	held_stop(&e);
}

/* A scan that read a held-back fd: its close must be reported, not dropped. */
static void test_held_scanned(void)
{
	struct held_env e;
	int fd;

	if (!held_start(&e, "held_scan"))
		return;
	if (held_open(&e, &fd, "held_scan") &&
	    CHECK(!tracer_rescan(&e.tr, (uint32_t)e.pid), "held_scan/rescan", "failed")) {
		CHECK(has_fd(&e.tr, e.pid, fd), "held_scan/scan_read_it", "fd %d missing", fd);
		if (held_ask(e.cmd, e.ready, 'c', NULL, "held_scan") &&
		    CHECK(!quiesce(&e.tr), "held_scan/settle", "failed")) {
			CHECK(!has_fd(&e.tr, e.pid, fd), "held_scan/close_reported",
			      "fd %d still there", fd);
			compare_with_cold(&e.tr, e.pid, "held_scan", NULL);
		}
	}
	held_stop(&e);
}

/*
 * Scans while the child opens and closes, the last one just before it
 * stops: whatever fd that scan read, its close must be reported.
 */
static void test_held_scan_race(void)
{
	struct held_env e;
	int stale = 0, rounds = 0, fd = -1;

	if (!held_start(&e, "held_race"))
		return;
	if (!held_ask(e.cmd, e.ready, 'w', NULL, "held_race"))
		goto out;
	for (; rounds < 30; rounds++) {
		/* no poll meanwhile: its flush would report what the scans are to catch */
		if (!held_ask(e.cmd, e.ready, 'r', NULL, "held_race"))
			break;
		for (int i = 0; i < 10; i++)
			if (tracer_rescan(&e.tr, (uint32_t)e.pid))
				break;
		if (!held_ask(e.cmd, e.ready, 's', &fd, "held_race") || quiesce(&e.tr))
			break;
		stale += fd >= 0 && has_fd(&e.tr, e.pid, fd);
	}
	CHECK(rounds == 30, "held_race/rounds", "stopped after %d", rounds);
	CHECK(!stale, "held_race/closed_fds_gone", "fd %d stale after %d of %d rounds", fd, stale,
	      rounds);
	compare_with_cold(&e.tr, e.pid, "held_race", NULL);
out:
	held_stop(&e);
}

/* A fork copies the table with the fd held back in it: the child has it too. */
static void test_held_fork(void)
{
	struct held_env e;
	int fd, child;

	if (!held_start(&e, "held_fork"))
		return;
	if (held_open(&e, &fd, "held_fork") && held_ask(e.cmd, e.ready, 'f', &child, "held_fork") &&
	    CHECK(!quiesce(&e.tr), "held_fork/settle", "failed")) {
		CHECK(has_fd(&e.tr, child, fd), "held_fork/child_has_it", "fd %d missing", fd);
		compare_with_cold(&e.tr, e.pid, "held_fork", NULL);
	}
	held_stop(&e);
}

/*
 * The main thread opens fd N, a second thread closes it and opens another
 * file into slot N, the main thread closes N: that close must be reported.
 * @order: the commands, with the thread made before the open or after it.
 */
static void held_with_thread(const char *g, const char *order)
{
	struct held_env e;
	int fd = -1, v;
	char name[64];
	bool ok;

	if (!held_start(&e, g))
		return;
	ok = true;
	for (const char *c = order; *c && ok; c++)
		if ((ok = held_ask(e.cmd, e.ready, *c, &v, g)) && *c == 'o')
			fd = v;
	snprintf(name, sizeof(name), "%s/settle", g);
	if (ok && CHECK(!quiesce(&e.tr), name, "failed")) {
		snprintf(name, sizeof(name), "%s/closed_fd_gone", g);
		CHECK(fd >= 0 && !has_fd(&e.tr, e.pid, fd), name, "fd %d still there", fd);
		compare_with_cold(&e.tr, e.pid, g, NULL);
	}
	held_stop(&e);
}

/* A table with two threads holds nothing back. */
static void test_held_shared_table(void)
{
	held_with_thread("held_thread", "twoXc");
}

/* A thread made while the table's one user holds an fd back: the clone reports it. */
static void test_held_then_thread(void)
{
	held_with_thread("held_clone", "wotXc");
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
		{ "held_pairs", test_held_pairs },
		{ "held_seccomp", test_held_seccomp },
		{ "held_flush", test_held_flushed },
		{ "held_scan", test_held_scanned },
		{ "held_race", test_held_scan_race },
		{ "held_fork", test_held_fork },
		{ "held_thread", test_held_shared_table },
		{ "held_clone", test_held_then_thread },
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
