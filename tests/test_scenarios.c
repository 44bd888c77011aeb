// SPDX-License-Identifier: LGPL-2.1
/*
 * Cold snapshots of workloads whose sharing is built on purpose, checked
 * against the kernel's kcmp truth, across backends and gen_id schemes, and
 * against what each workload meant to build.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include "backend.h"
#include "check.h"
#include "truth.h"
#include "workload.h"

static pid_t sentinel;

struct variant {
	const char *name;
	enum kt_backend backend;
	int genid;
};

static const struct variant variants[] = {
	{ "bpf", KT_BACKEND_BPF, KT_GENID_ADDR },
	{ "bpf-criu", KT_BACKEND_BPF, KT_GENID_CRIU },
	{ "procfs", KT_BACKEND_PROCFS, KT_GENID_CRIU },
};
#define NR_VARIANTS (int)(sizeof(variants) / sizeof(variants[0]))

static char name_buf[256];

static const char *tname(const char *sc, const char *v, const char *what)
{
	snprintf(name_buf, sizeof(name_buf), "%s/%s/%s", sc, v, what);
	return name_buf;
}

static int take(struct kt_snapshot *s, pid_t root, const struct variant *v)
{
	struct kt_target t = { .mode = KT_TARGET_TREE, .tgid = (uint32_t)root };
	struct kt_backend_opts o = { .genid = v->genid, .want_paths = true };

	return snapshot_take(s, &t, &o, v->backend, false);
}

/* Every task of the workload's process group, and nothing else. */
static void check_task_set(const struct kt_snapshot *s, pid_t root, const char *sc, const char *v)
{
	size_t n = 0, bad = 0;

	for (size_t i = 0; i < s->ntasks; i++) {
		pid_t pgid = getpgid((pid_t)s->tasks[i].rec.tid);

		n++;
		bad += pgid != root;
	}
	CHECK(bad == 0 && n > 0, tname(sc, v, "task_set"), "%zu of %zu tasks outside the workload",
	      bad, n);
}

static void check_truth(const struct kt_snapshot *s, const char *sc, const char *v)
{
	char why[512] = "";
	char what[32];

	for (int k = 0; k < KT_NR_KINDS; k++) {
		snprintf(what, sizeof(what), "kcmp_truth_%s", kt_kind_name(k));
		CHECK(!truth_check_kind(s, k, why, sizeof(why)), tname(sc, v, what), "%s", why);
	}
	CHECK(!truth_check_absent(s, KT_IO, sentinel, why, sizeof(why)), tname(sc, v, "absent_io"),
	      "%s", why);
	CHECK(!truth_check_absent(s, KT_SYSVSEM, sentinel, why, sizeof(why)),
	      tname(sc, v, "absent_sysvsem"), "%s", why);
	CHECK(!truth_check_fd_tables(s, why, sizeof(why)), tname(sc, v, "fd_tables_complete"), "%s",
	      why);
	CHECK(s->dropped_tasks == 0 && s->dropped_fds == 0 && s->inaccessible_tasks == 0,
	      tname(sc, v, "nothing_dropped"), "dropped %llu tasks %llu fds",
	      (unsigned long long)s->dropped_tasks, (unsigned long long)s->dropped_fds);
}

/* ---- what each workload meant to build ---- */

/* The n-th process of the workload by pid: 0 is the root. */
static const struct kt_task *proc(const struct kt_snapshot *s, int n)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].rec.tid == s->tasks[i].rec.tgid && n-- == 0)
			return &s->tasks[i];
	return NULL;
}

static size_t nprocs(const struct kt_snapshot *s)
{
	size_t n = 0;

	while (proc(s, (int)n))
		n++;
	return n;
}

/* Largest number of distinct processes holding one open file. */
static uint32_t widest_file(const struct kt_snapshot *s, int ftype)
{
	uint32_t best = 0;

	for (size_t i = 0; i < s->nfds; i++) {
		uint32_t procs = 0, last = 0;

		if (!s->fds[i].id || (ftype >= 0 && s->fds[i].rec.ftype != ftype))
			continue;
		for (size_t j = 0; j < s->nfds; j++) {
			uint32_t tgid = s->tasks[s->fds[j].task].rec.tgid;

			if (s->fds[j].id == s->fds[i].id && tgid != last) {
				procs++;
				last = tgid;
			}
		}
		best = procs > best ? procs : best;
	}
	return best;
}

static uint32_t fds_of(const struct kt_snapshot *s, const struct kt_task *t)
{
	return t && t->reader ? t->nfds : 0;
}

static uint32_t reg_fds(const struct kt_snapshot *s, const struct kt_task *t)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < fds_of(s, t); k++)
		n += s->fds[t->first_fd + k].rec.ftype == KT_FT_REG;
	return n;
}

static uint32_t distinct_ids(const struct kt_snapshot *s, uint32_t tgid, int kind)
{
	uint32_t seen[64], n = 0;

	for (size_t i = 0; i < s->ntasks; i++) {
		uint32_t id = s->tasks[i].id[kind];
		bool dup = false;

		if (s->tasks[i].rec.tgid != tgid)
			continue;
		for (uint32_t k = 0; k < n; k++)
			dup |= seen[k] == id;
		if (!dup && n < 64)
			seen[n++] = id;
	}
	return n;
}

/* How many of @b's fds name an open file that @a holds too. */
static uint32_t shared_fds(const struct kt_snapshot *s, const struct kt_task *a,
			   const struct kt_task *b)
{
	uint8_t *held = calloc(s->nfds + 2, 1);
	uint32_t n = 0;

	if (!held || !a || !b)
		return free(held), 0;
	for (uint32_t k = 0; k < fds_of(s, a); k++)
		held[s->fds[a->first_fd + k].id] = 1;
	for (uint32_t k = 0; k < fds_of(s, b); k++)
		n += held[s->fds[b->first_fd + k].id];
	free(held);
	return n;
}

static bool same(const struct kt_task *a, const struct kt_task *b, int kind)
{
	return a && b && a->id[kind] && a->id[kind] == b->id[kind];
}

static void expect(const struct kt_snapshot *s, const char *sc)
{
	const struct kt_task *r = proc(s, 0), *c1 = proc(s, 1), *c2 = proc(s, 2);
	const char *v = "bpf";

	if (!strcmp(sc, "fork_inherit")) {
		CHECK(widest_file(s, KT_FT_REG) == 3, tname(sc, v, "file_held_by_3_procs"),
		      "widest %u", widest_file(s, KT_FT_REG));
		CHECK(widest_file(s, KT_FT_FIFO) == 3, tname(sc, v, "pipe_held_by_3_procs"),
		      "widest %u", widest_file(s, KT_FT_FIFO));
	} else if (!strcmp(sc, "dup")) {
		CHECK(widest_file(s, KT_FT_REG) == 2, tname(sc, v, "dups_shared_with_child"), "%u",
		      widest_file(s, KT_FT_REG));
		CHECK(s->kind_stats[KT_FILE].entries + 3 <= fds_of(s, r) + fds_of(s, c1),
		      tname(sc, v, "four_fds_one_file"), "entries %llu",
		      (unsigned long long)s->kind_stats[KT_FILE].entries);
	} else if (!strcmp(sc, "same_offset")) {
		bool found = false;

		for (size_t i = 0; i < s->nfds; i++)
			for (size_t j = i + 1; j < s->nfds; j++)
				found |= s->fds[i].id && s->fds[j].id &&
					 s->fds[i].rec.ino == s->fds[j].rec.ino &&
					 s->fds[i].rec.pos == s->fds[j].rec.pos &&
					 s->fds[i].rec.ino && s->fds[i].rec.ftype == KT_FT_REG &&
					 s->fds[i].id != s->fds[j].id;
		CHECK(found, tname(sc, v, "same_inode_offset_distinct"), "no such pair");
	} else if (!strcmp(sc, "clone_files")) {
		CHECK(same(r, c1, KT_FILES), tname(sc, v, "fd_table_shared"), "not shared");
		CHECK(!c1->reader && fds_of(s, r) >= 2, tname(sc, v, "one_reader"),
		      "reader %d fds %u", c1->reader, fds_of(s, r));
	} else if (!strcmp(sc, "clone_fs")) {
		CHECK(same(r, c1, KT_FS), tname(sc, v, "fs_shared"), "not shared");
		CHECK(!same(r, c2, KT_FS), tname(sc, v, "fs_copied"), "shared");
	} else if (!strcmp(sc, "threads_unshare")) {
		CHECK(distinct_ids(s, r->rec.tgid, KT_FS) == 2, tname(sc, v, "thread_own_fs"),
		      "%u fs", distinct_ids(s, r->rec.tgid, KT_FS));
		CHECK(distinct_ids(s, r->rec.tgid, KT_FILES) == 2, tname(sc, v, "thread_own_files"),
		      "%u", distinct_ids(s, r->rec.tgid, KT_FILES));
		CHECK(distinct_ids(s, r->rec.tgid, KT_VM) == 1, tname(sc, v, "threads_one_vm"),
		      "%u", distinct_ids(s, r->rec.tgid, KT_VM));
	} else if (!strcmp(sc, "unshare_files")) {
		CHECK(!same(r, c1, KT_FILES) && same(r, c2, KT_FILES),
		      tname(sc, v, "unshared_table_is_own"), "files ids %u %u %u", r->id[KT_FILES],
		      c1->id[KT_FILES], c2->id[KT_FILES]);
		CHECK(widest_file(s, KT_FT_REG) == 2, tname(sc, v, "copied_fds_still_shared"), "%u",
		      widest_file(s, KT_FT_REG));
	} else if (!strcmp(sc, "scm_rights") || !strcmp(sc, "pidfd_getfd")) {
		CHECK(widest_file(s, KT_FT_REG) == 2, tname(sc, v, "passed_file_shared"), "%u",
		      widest_file(s, KT_FT_REG));
	} else if (!strcmp(sc, "exec_cloexec")) {
		CHECK(c1 && !strcmp(c1->rec.comm, "sleep"), tname(sc, v, "child_execed"), "comm %s",
		      c1 ? c1->rec.comm : "?");
		/* the root holds "keep" and "drop"; the child only "keep", shared */
		CHECK(widest_file(s, KT_FT_REG) == 2 && reg_fds(s, r) == 2 && reg_fds(s, c1) == 1,
		      tname(sc, v, "cloexec_dropped"), "root %u regular fds, child %u",
		      reg_fds(s, r), reg_fds(s, c1));
	} else if (!strcmp(sc, "anon_kinds")) {
		CHECK(widest_file(s, KT_FT_ANON) == 2, tname(sc, v, "anon_shared_by_fork"), "%u",
		      widest_file(s, KT_FT_ANON));
		CHECK(widest_file(s, KT_FT_PIDFD) == 2, tname(sc, v, "pidfd_shared_by_fork"), "%u",
		      widest_file(s, KT_FT_PIDFD));
	} else if (!strcmp(sc, "many_fds")) {
		uint32_t shared = shared_fds(s, r, c1);

		CHECK(fds_of(s, r) >= 3000 && fds_of(s, c1) >= 3000,
		      tname(sc, v, "thousands_of_fds"), "%u and %u", fds_of(s, r), fds_of(s, c1));
		/* the child closed every other one of the 3000 and reopened /dev/null */
		CHECK(shared >= 1500 && shared <= 1510, tname(sc, v, "half_shared_with_child"),
		      "%u of the child's fds shared", shared);
	} else if (!strcmp(sc, "sysvsem_io")) {
		const struct kt_task *c3 = proc(s, 3);

		CHECK(same(r, c1, KT_IO) && same(r, c1, KT_SYSVSEM),
		      tname(sc, v, "clone_io_sysvsem"), "io %u/%u sem %u/%u", r->id[KT_IO],
		      c1->id[KT_IO], r->id[KT_SYSVSEM], c1->id[KT_SYSVSEM]);
		CHECK(c2->id[KT_IO] && !same(r, c2, KT_IO) && !c2->id[KT_SYSVSEM],
		      tname(sc, v, "fork_copies_io_drops_undo"), "io %u sem %u", c2->id[KT_IO],
		      c2->id[KT_SYSVSEM]);
		CHECK(c3 && c3->id[KT_SYSVSEM] && !same(r, c3, KT_SYSVSEM),
		      tname(sc, v, "own_undo_list"), "sem %u", c3 ? c3->id[KT_SYSVSEM] : 0);
	} else if (!strcmp(sc, "vm_sighand")) {
		CHECK(same(r, c1, KT_VM) && same(r, c1, KT_SIGHAND),
		      tname(sc, v, "vm_sighand_shared"), "vm %u/%u", r->id[KT_VM], c1->id[KT_VM]);
		CHECK(same(r, c2, KT_VM) && !same(r, c2, KT_SIGHAND), tname(sc, v, "vm_only"),
		      "sighand shared");
		CHECK(nprocs(s) == 4, tname(sc, v, "four_processes"), "%zu", nprocs(s));
	}
}

static void run_scenario(const struct wl_scenario *sc)
{
	struct kt_snapshot snaps[NR_VARIANTS];
	char why[512] = "";
	struct wl w;
	int r[NR_VARIANTS];

	if (!CHECK(!wl_start(&w, sc->name, sc->fn), tname(sc->name, "workload", "started"),
		   "could not build the workload"))
		return;
	for (int i = 0; i < NR_VARIANTS; i++) {
		r[i] = take(&snaps[i], w.root, &variants[i]);
		if (!CHECK(r[i] == 0, tname(sc->name, variants[i].name, "snapshot"), "%s",
			   strerror(-r[i])))
			continue;
		check_task_set(&snaps[i], w.root, sc->name, variants[i].name);
		check_truth(&snaps[i], sc->name, variants[i].name);
	}
	for (int i = 1; i < NR_VARIANTS; i++) {
		char what[64];

		if (r[0] || r[i])
			continue;
		for (int k = 0; k < KT_NR_KINDS; k++) {
			snprintf(what, sizeof(what), "same_as_bpf_%s", kt_kind_name(k));
			CHECK(!truth_same_partition(&snaps[0], &snaps[i], k, why, sizeof(why)),
			      tname(sc->name, variants[i].name, what), "%s", why);
		}
	}
	if (!r[0])
		expect(&snaps[0], sc->name);
	for (int i = 0; i < NR_VARIANTS; i++)
		if (!r[i])
			snapshot_free(&snaps[i]);
	wl_stop(&w);
}

/* ---- a table's sharer exits while it is read ---- */

#define RACE_FDS 300
#define RACE_MS 1500

/* Holds RACE_FDS fds and clones sharers of its table that exit at once, forever. */
static void clone_exit_loop(int ready)
{
	int null = open("/dev/null", O_RDONLY);

	for (int i = 0; i < RACE_FDS && null >= 0; i++)
		if (dup(null) < 0)
			_exit(1);
	if (null < 0 || write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	for (;;)
		wl_clone_exit(CLONE_VM | CLONE_FILES);
}

/* Tasks that hold @gen's table and read it with another count than @want. */
static int partial_tables(const struct kt_snapshot *s, uint64_t gen, uint32_t want, int *sharers)
{
	int bad = 0;

	for (size_t i = 0; i < s->ntasks; i++) {
		const struct kt_task *t = &s->tasks[i];

		if ((t->rec.absent & (1u << KT_FILES)) || t->rec.gen[KT_FILES] != gen ||
		    t->rec.tid != t->rec.tgid)
			continue;
		(*sharers)++;
		bad += t->nfds != want;
	}
	return bad;
}

/*
 * Back-to-back scans of a process whose CLONE_FILES children exit at
 * once: a child that was alive for the task pass and exiting for the fd
 * pass must not show up holding the table with part of its fds, or none.
 */
static void test_exit_during_scan(void)
{
	const char *g = "exit_during_scan";
	struct kt_target t = { .mode = KT_TARGET_TREE };
	struct kt_backend_opts o = { .genid = KT_GENID_ADDR, .want_paths = false };
	struct kt_scanner *sc = NULL;
	int p[2], scans = 0, caught = 0, bad = 0, r = 0;
	uint64_t key[2], until;
	char why[256] = "", c;
	pid_t pid;

	if (!CHECK(!pipe(p), tname(g, "bpf", "pipe"), "%s", strerror(errno)))
		return;
	pid = fork();
	if (!pid) {
		close(p[0]);
		clone_exit_loop(p[1]);
	}
	close(p[1]);
	if (!CHECK(pid > 0 && read(p[0], &c, 1) == 1, tname(g, "bpf", "workload"), "not ready"))
		goto out;
	t.tgid = (uint32_t)pid;
	r = genid_random_key(key);
	if (!r)
		r = scanner_open(&sc, &t, &o, key, why, sizeof(why));
	if (!CHECK_CAPABLE(!r, tname(g, "bpf", "scanner_open"), why))
		goto out;
	until = kt_now_ns() + RACE_MS * 1000000ull;
	while (!r && kt_now_ns() < until) {
		struct kt_snapshot s;
		long root;
		int sharers = 0;

		snapshot_init(&s, "bpf", KT_GENID_ADDR);
		r = scanner_scan(sc, &s, 0, 0, true);
		if (!r)
			r = snapshot_index(&s);
		root = r ? -1 : snapshot_find_tid(&s, (uint32_t)pid);
		if (root >= 0) {
			const struct kt_task *rt = &s.tasks[root];

			bad += partial_tables(&s, rt->rec.gen[KT_FILES], rt->nfds, &sharers);
			caught += sharers > 1;
		}
		scans++;
		snapshot_free(&s);
	}
	printf("# %s: %d scans, %d with a sharer alive\n", g, scans, caught);
	CHECK(!r, tname(g, "bpf", "scans"), "%s", strerror(-r));
	/* the race needs a sharer inside the scan at all */
	CHECK(caught > 0, tname(g, "bpf", "sharers_seen"), "none in %d scans", scans);
	CHECK(bad == 0, tname(g, "bpf", "no_partial_table"),
	      "%d tasks held the table with a part of its fds, in %d scans", bad, scans);
out:
	scanner_close(sc);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
}

int main(int argc, char **argv)
{
	sentinel = truth_sentinel();
	for (int i = 0; i < wl_nr_scenarios; i++)
		if (argc < 2 || strstr(wl_scenarios[i].name, argv[1]))
			run_scenario(&wl_scenarios[i]);
	if (argc < 2 || strstr("exit_during_scan", argv[1]))
		test_exit_during_scan();
	kill(sentinel, SIGKILL);
	waitpid(sentinel, NULL, 0);
	return check_exit();
}
