// SPDX-License-Identifier: LGPL-2.1
/* The live tracer; see tracer.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <linux/seccomp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "syscalls.h"
#include "trace.skel.h"
#include "tracer.h"
#include "export.h"
#include "util.h"

static void report(struct kt_tracer *tr, struct kt_change *ch)
{
	/* as new as the newest event: the one being applied, or before a rescan's */
	if (!ch->ts_ns)
		ch->ts_ns = tr->last_event_ns;
	if (tr->report)
		tr->report(tr, ch, tr->report_arg);
}

static void want_rescan(struct kt_tracer *tr, uint32_t tid, const char *why)
{
	if (!u32map_get(&tr->pending, tid))
		u32map_put(&tr->pending, tid, (void *)why);
}

/* ---- applying events ---- */

static uint32_t changed_kinds(const struct live_task *t, const uint32_t before[KT_NR_KINDS])
{
	uint32_t kinds = 0;

	for (int k = KT_VM; k < KT_NR_KINDS; k++)
		if (live_obj_id(&t->hold[k]) != before[k])
			kinds |= 1u << k;
	return kinds;
}

static void on_task(struct kt_tracer *tr, const struct kt_ev_task *e)
{
	struct kt_change ch = { .tgid = e->rec.tgid, .tid = e->rec.tid };
	uint32_t before[KT_NR_KINDS] = { 0 };
	struct live_task *t;
	bool new_table;

	if (e->hdr.cause == KT_CAUSE_EXEC && e->old_tid && e->old_tid != e->rec.tid)
		live_task_remove(&tr->st, e->old_tid); /* a thread's exec took the leader's tid */
	t = live_task_get(&tr->st, e->rec.tid);
	for (int k = KT_VM; t && k < KT_NR_KINDS; k++)
		before[k] = live_obj_id(&t->hold[k]);
	if (live_task_update(&tr->st, &e->rec, &new_table)) {
		tr->c.dropped++;
		return;
	}
	t = live_task_get(&tr->st, e->rec.tid);
	switch (e->hdr.cause) {
	case KT_CAUSE_FORK:
		ch.type = KT_CH_FORK;
		ch.cause = "fork";
		ch.parent_tid = e->parent_tid;
		ch.clone_flags = e->clone_flags;
		if (new_table)
			want_rescan(tr, e->rec.tid, "fork");
		break;
	case KT_CAUSE_EXEC:
		/* close-on-exec fds are gone, and the table may be new: read it again */
		ch.type = KT_CH_EXEC;
		ch.cause = "exec";
		want_rescan(tr, e->rec.tid, "exec");
		break;
	default:
		ch.type = KT_CH_TASK;
		ch.cause = e->syscall_nr ? syscall_name(e->syscall_nr) : "clone";
		ch.kinds = changed_kinds(t, before);
		if (new_table)
			want_rescan(tr, e->rec.tid, ch.cause);
		if (!ch.kinds)
			return;
	}
	report(tr, &ch);
}

static void on_exit_ev(struct kt_tracer *tr, const struct kt_ev_exit *e)
{
	struct kt_change ch = {
		.type = KT_CH_EXIT, .cause = "exit", .tgid = e->tgid, .tid = e->tid
	};

	if (!live_task_get(&tr->st, e->tid))
		return;
	if (e->group_dead || e->tid == e->tgid)
		report(tr, &ch);
	live_task_remove(&tr->st, e->tid);
	u32map_del(&tr->pending, e->tid);
}

static void on_fd(struct kt_tracer *tr, const struct kt_ev_fd *e)
{
	struct kt_change ch = { .type = KT_CH_FD,
				.cause = syscall_name(e->hdr.cause),
				.tgid = e->rec.tgid,
				.tid = e->rec.tid,
				.fd = e->rec.fd };
	struct live_fd *old = live_fd_get(&tr->st, e->rec.tid, e->rec.fd), *now;
	struct live_obj *was = old ? old->hold.obj : NULL;
	bool was_shared = was && was->nholders >= 2;
	int r;

	r = live_fd_set_same(&tr->st, e->rec.tid, e->rec.fd, e->empty ? NULL : &e->rec, NULL,
			     e->same_as);
	if (r == -ESRCH) {
		/* a task we have no record of yet: read it whole */
		want_rescan(tr, e->rec.tid, "unknown task");
		return;
	}
	if (r) {
		tr->c.dropped++;
		return;
	}
	now = live_fd_get(&tr->st, e->rec.tid, e->rec.fd);
	ch.now = now ? now->hold.obj : NULL;
	if (ch.now == was)
		return; /* the same object: nothing changed hands */
	ch.was = was_shared ? was : NULL;
	if ((ch.now && ch.now->nholders >= 2) || ch.was)
		report(tr, &ch);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct kt_tracer *tr = ctx;
	const struct kt_ev_hdr *h = data;

	tr->c.events++;
	/* kernel tick time to CLOCK_MONOTONIC (see tick_ns() in bpf/trace.bpf.c) */
	tr->last_event_ns = h->ts_ns + tr->tick_to_mono_ns;
	switch (h->type) {
	case KT_EV_TASK:
		if (size >= sizeof(struct kt_ev_task))
			on_task(tr, data);
		break;
	case KT_EV_EXIT:
		if (size >= sizeof(struct kt_ev_exit))
			on_exit_ev(tr, data);
		break;
	case KT_EV_FD:
		if (size >= sizeof(struct kt_ev_fd))
			on_fd(tr, data);
		break;
	case KT_EV_RESCAN: {
		const struct kt_ev_rescan *e = data;

		if (e->tid == KT_RESCAN_ALL)
			tr->pending_all = true;
		else
			want_rescan(tr, e->tid, syscall_name(h->cause));
		break;
	}
	}
	return 0;
}

/* ---- rescans ---- */

/*
 * Whether @scan read task @i's fd table.  The fd iterator skips a thread
 * that shares its leader's table (unless it was asked for by tid): the
 * leader's fds stand for it, and its own empty list must not clear them.
 */
static bool table_was_read(const struct kt_snapshot *scan, size_t i)
{
	const struct kt_task *t = &scan->tasks[i];
	long l;

	if (t->nfds || t->rec.tid == t->rec.tgid)
		return true;
	l = snapshot_find_tid(scan, t->rec.tgid);
	return l < 0 || (scan->tasks[l].rec.absent & (1u << KT_FILES)) ||
	       scan->tasks[l].rec.gen[KT_FILES] != t->rec.gen[KT_FILES];
}

/* Bring the tasks and tables of @scan into the state; @tgid: its tasks not in @scan are gone. */
static int apply_scan(struct kt_tracer *tr, struct kt_snapshot *scan, uint32_t tgid, bool all)
{
	size_t pos = 0, n = 0;
	uint32_t tid, *gone;
	void *v;
	int r = snapshot_index(scan);

	gone = calloc(tr->st.tasks.len + 1, sizeof(*gone));
	if (r || !gone) {
		free(gone);
		return r ? r : -ENOMEM;
	}
	while (u32map_next(&tr->st.tasks, &pos, &tid, &v)) {
		const struct live_task *t = v;

		if ((all || t->rec.tgid == tgid) && snapshot_find_tid(scan, tid) < 0)
			gone[n++] = tid;
	}
	for (size_t i = 0; i < n; i++)
		live_task_remove(&tr->st, gone[i]);
	free(gone);
	for (size_t i = 0; i < scan->ntasks && !r; i++) {
		bool new_table;

		r = live_task_update(&tr->st, &scan->tasks[i].rec, &new_table);
		if (r == -ESRCH)
			r = 0;
	}
	for (size_t i = 0; i < scan->ntasks && !r; i++)
		if (table_was_read(scan, i) &&
		    (scan->tasks[i].nfds || live_task_get(&tr->st, scan->tasks[i].rec.tid))) {
			r = live_table_replace(&tr->st, scan->tasks[i].rec.tid, scan);
			if (r == -ESRCH)
				r = 0;
		}
	return r;
}

/*
 * scan_seq is odd while we read fd tables: a task that opens and closes an
 * fd meanwhile reports both (hold_back() in bpf/trace.bpf.c).  The scan's
 * syscalls order these writes before and after its reads.
 */
static void scan_bracket(struct kt_tracer *tr)
{
	__atomic_fetch_add(&tr->skel->bss->scan_seq, 1, __ATOMIC_SEQ_CST);
}

/*
 * A pid-filtered task_file iterator skips threads that share the leader's
 * table, so a table read for a process covers all its threads.
 */
static int rescan(struct kt_tracer *tr, uint32_t pid, uint32_t tid, bool all)
{
	struct kt_snapshot scan;
	int r;

	snapshot_init(&scan, "bpf", KT_GENID_ADDR);
	scan_bracket(tr);
	r = scanner_scan(tr->scanner, &scan, pid, tid, true);
	scan_bracket(tr);
	if (!r && tid) {
		/* one thread: the scan names it, or it is gone */
		if (!scan.ntasks)
			live_task_remove(&tr->st, tid);
		else
			r = apply_scan(tr, &scan, UINT32_MAX, false);
	} else if (!r) {
		r = apply_scan(tr, &scan, pid, all);
	}
	snapshot_free(&scan);
	tr->c.rescans++;
	return r;
}

int tracer_rescan(struct kt_tracer *tr, uint32_t pid)
{
	return rescan(tr, pid, 0, false);
}

/* For pid-list and tree targets the kernel's tracked map is the target. */
static int resync_tracked(struct kt_tracer *tr)
{
	int fd = bpf_map__fd(tr->skel->maps.tracked), r = 0;
	uint32_t key, next, *tgids = NULL;
	size_t n = 0, cap = 0;
	bool first = true;

	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		if (n == cap) {
			uint32_t *p = realloc(tgids, (cap = cap ? cap * 2 : 256) * sizeof(*p));

			if (!p) {
				free(tgids);
				return -ENOMEM;
			}
			tgids = p;
		}
		tgids[n++] = next;
		key = next;
		first = false;
	}
	for (size_t i = 0; i < n && !r; i++)
		r = rescan(tr, tgids[i], 0, false);
	free(tgids);
	return r;
}

static int resync_all(struct kt_tracer *tr)
{
	tr->c.resyncs++;
	if (tr->target.mode == KT_TARGET_PIDS || tr->target.mode == KT_TARGET_TREE)
		return resync_tracked(tr);
	return rescan(tr, 0, 0, true);
}

/* Rescan the processes whose events the kernel could not deliver. */
static int repair_lost(struct kt_tracer *tr)
{
	uint64_t lost = __atomic_load_n(&tr->skel->bss->lost_events, __ATOMIC_RELAXED);
	uint64_t overflow = __atomic_load_n(&tr->skel->bss->dirty_overflow, __ATOMIC_RELAXED);
	int fd = bpf_map__fd(tr->skel->maps.dirty), r = 0;
	struct kt_change ch = { .type = KT_CH_LOST, .cause = "lost" };
	uint32_t key;

	if (lost == tr->lost_seen)
		return 0;
	ch.count = lost - tr->lost_seen;
	tr->c.lost += ch.count;
	tr->lost_seen = lost;
	while (!r && !bpf_map_get_next_key(fd, NULL, &key)) {
		bpf_map_delete_elem(fd, &key);
		r = rescan(tr, key, 0, false);
	}
	if (!r && overflow != tr->overflow_seen) {
		tr->overflow_seen = overflow;
		r = resync_all(tr);
	}
	report(tr, &ch);
	return r;
}

/* Pending entries that name processes (tgids): rescan each whole. */
static int run_pending_processes(struct kt_tracer *tr)
{
	uint32_t tgid;
	void *why;
	size_t pos = 0;
	int r = 0;

	while (!r && u32map_next(&tr->pending, &pos, &tgid, &why))
		r = rescan(tr, tgid, 0, false);
	u32map_free(&tr->pending);
	return r;
}

static int run_pending(struct kt_tracer *tr)
{
	uint32_t tid;
	void *why;
	size_t pos = 0;
	int r = 0;

	if (tr->pending_all) {
		tr->pending_all = false;
		u32map_free(&tr->pending);
		return resync_all(tr);
	}
	while (!r && u32map_next(&tr->pending, &pos, &tid, &why)) {
		struct live_task *t = live_task_get(&tr->st, tid);
		uint32_t before = 0;

		if (t && t->hold[KT_FILES].obj)
			before = t->hold[KT_FILES].obj->table->nfds;
		/* an unknown task is read with its whole process */
		r = t ? rescan(tr, 0, tid, false) : rescan(tr, tid, 0, false);
		t = live_task_get(&tr->st, tid);
		if (!r && t && !strcmp(why, "exec")) {
			struct kt_change ch = { .type = KT_CH_EXEC,
						.cause = "exec-closed",
						.tgid = t->rec.tgid,
						.tid = tid };
			uint32_t after = t->hold[KT_FILES].obj ? t->hold[KT_FILES].obj->table->nfds
							       : 0;

			ch.count = before > after ? before - after : 0;
			if (ch.count)
				report(tr, &ch);
		}
	}
	u32map_free(&tr->pending);
	return r;
}

/* ---- start, poll, stop ---- */

/* One pass of a task iterator program, for what it does in the kernel. */
static int run_iter(struct bpf_link *link)
{
	char buf[64];
	int fd = bpf_iter_create(bpf_link__fd(link)), r = 0;

	if (fd < 0)
		return -errno;
	while ((r = (int)read(fd, buf, sizeof(buf))) > 0)
		;
	if (r < 0)
		r = -errno;
	close(fd);
	return r;
}

/*
 * Mark the target's tasks in the kernel (seed_target() in bpf/trace.bpf.c)
 * and take the tick/monotonic pair event times are mapped with.  Runs
 * after attaching, so that forks meanwhile are marked by the kernel.
 */
static int seed_tracked(struct kt_tracer *tr)
{
	struct bpf_link *link = bpf_program__attach_iter(tr->skel->progs.seed_target, NULL);
	int r;

	if (!link)
		return -errno;
	r = run_iter(link);
	bpf_link__destroy(link);
	tr->tick_to_mono_ns = tr->skel->bss->calib_mono_ns - tr->skel->bss->calib_tick_ns;
	return r;
}

/*
 * Have every task that holds an fd back report it (flush_held() in
 * bpf/trace.bpf.c), so that what the buffer holds next is the state of
 * now.  Only when one may: the kernel sets pending_maybe after holding an
 * fd, and reads it after a full barrier; clearing it before the pass means
 * a task that holds one meanwhile is either seen by this pass or sets it
 * again.  The pass visits every task on the machine, so between settles
 * it runs at most every FLUSH_INTERVAL_NS: an fd opened and kept is shown
 * that much later.
 */
#define FLUSH_INTERVAL_NS 100000000ull

static int flush_held(struct kt_tracer *tr, bool now)
{
	uint64_t t = kt_now_ns();
	int r;

	if (!__atomic_load_n(&tr->skel->bss->pending_maybe, __ATOMIC_RELAXED) ||
	    (!now && t < tr->next_flush_ns))
		return 0;
	tr->next_flush_ns = t + FLUSH_INTERVAL_NS;
	__atomic_store_n(&tr->skel->bss->pending_maybe, 0, __ATOMIC_SEQ_CST);
	/*
	 * A scan too: the pass takes a task's fd before it reads the slot,
	 * and meanwhile the task may close it and open another there.
	 */
	scan_bracket(tr);
	r = run_iter(tr->flush_link);
	scan_bracket(tr);
	return r;
}

/* A pid-list target is in the kernel before attaching: no fork of it is missed. */
static int seed_pids(struct kt_tracer *tr)
{
	int fd = bpf_map__fd(tr->skel->maps.tracked);
	uint8_t one = 1;

	for (size_t i = 0; i < tr->target.npids; i++)
		if (bpf_map_update_elem(fd, &tr->target.pids[i], &one, BPF_ANY))
			return -errno;
	return 0;
}

static int cold_scan(struct kt_tracer *tr)
{
	if (tr->target.mode == KT_TARGET_PIDS) {
		int r = 0;

		for (size_t i = 0; i < tr->target.npids && !r; i++)
			r = rescan(tr, tr->target.pids[i], 0, false);
		return r;
	}
	return rescan(tr, 0, 0, true);
}

/*
 * How long the kernel side may go without waking us (submit() in
 * bpf/trace.bpf.c).  A wakeup costs the traced task 25-30 us in a VM, so
 * at most 100 a second; but a smaller buffer must be read sooner: events
 * at 100 MB/s (a million a second, more than we can apply) fill at most a
 * quarter of it in between.
 */
#define MAX_WAKEUP_INTERVAL_NS 10000000ull

static uint64_t wakeup_interval_ns(size_t ringbuf_bytes)
{
	uint64_t ns = (uint64_t)ringbuf_bytes * 5 / 2; /* a quarter at 0.1 bytes/ns */

	return ns < MAX_WAKEUP_INTERVAL_NS ? ns : MAX_WAKEUP_INTERVAL_NS;
}

static int load(struct kt_tracer *tr, const struct kt_target *t, const struct kt_tracer_opts *o,
		const uint64_t key[2], char *why, size_t why_len)
{
	struct trace_bpf *skel = trace_bpf__open();
	int r;

	if (!skel) {
		snprintf(why, why_len, "cannot open the trace BPF object: %s", strerror(errno));
		return -ENOTSUP;
	}
	tr->skel = skel;
	skel->rodata->genid_key0 = key[0];
	skel->rodata->genid_key1 = key[1];
	skel->rodata->target_mode = (uint32_t)t->mode;
	skel->rodata->target_tgid = t->tgid;
	skel->rodata->target_cgroup_id = t->cgroup_id;
	skel->rodata->target_cgroup_level = t->cgroup_level;
	skel->rodata->target_pidns_inum = t->pidns_inum;
	skel->rodata->target_pidns_level = t->pidns_level;
	skel->rodata->seccomp_addfd_cmd = (uint32_t)SECCOMP_IOCTL_NOTIF_ADDFD;
	syscalls_fill_actions((uint8_t *)skel->rodata->sys_action);
	skel->rodata->wakeup_interval_ns = wakeup_interval_ns(o->ringbuf_bytes);
	tr->pace_ns = skel->rodata->wakeup_interval_ns;
	/* run by seed_tracked() and flush_held() */
	bpf_program__set_autoattach(skel->progs.seed_target, false);
	bpf_program__set_autoattach(skel->progs.flush_held, false);
	r = bpf_map__set_max_entries(skel->maps.events, (uint32_t)o->ringbuf_bytes);
	/* only pid-list and tree targets keep a tgid set: a 1 MiB hash otherwise idle */
	if (!r && t->mode != KT_TARGET_PIDS && t->mode != KT_TARGET_TREE)
		r = bpf_map__set_max_entries(skel->maps.tracked, 1);
	if (!r)
		r = trace_bpf__load(skel);
	if (r) {
		snprintf(why, why_len, "cannot load the trace BPF programs: %s", strerror(-r));
		return -ENOTSUP;
	}
	return 0;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return kt_verbose && level != LIBBPF_DEBUG ? vfprintf(stderr, fmt, ap) : 0;
}

int tracer_start(struct kt_tracer *tr, const struct kt_target *t, const struct kt_tracer_opts *o,
		 char *why, size_t why_len)
{
	struct kt_backend_opts bo = { .genid = KT_GENID_ADDR, .want_paths = o->want_paths };
	uint64_t key[2];
	int r;

	tr->target = *t;
	tr->last_event_ns = kt_now_ns(); /* no event yet: as old as the trace */
	live_init(&tr->st);
	libbpf_set_print(silent_print);
	r = genid_random_key(key);
	if (!r)
		r = load(tr, t, o, key, why, why_len);
	if (!r)
		r = scanner_open(&tr->scanner, t, &bo, key, why, why_len);
	memset(key, 0, sizeof(key));
	if (!r && t->mode == KT_TARGET_PIDS)
		r = seed_pids(tr);
	/* attach before seeding and scanning: what changes meanwhile is in the buffer */
	if (!r && trace_bpf__attach(tr->skel)) {
		r = -errno;
		snprintf(why, why_len, "cannot attach the trace programs: %s", strerror(-r));
		r = -ENOTSUP;
	}
	if (!r)
		r = seed_tracked(tr);
	if (!r && !(tr->flush_link = bpf_program__attach_iter(tr->skel->progs.flush_held, NULL)))
		r = -errno;
	if (!r) {
		tr->rb = ring_buffer__new(bpf_map__fd(tr->skel->maps.events), on_event, tr, NULL);
		if (!tr->rb)
			r = -errno;
	}
	if (!r)
		r = cold_scan(tr);
	return r;
}

/*
 * The buffer's fd is readable whenever the buffer holds a record, so under
 * load it always is, and a reader that waits on it reads record by record
 * as they come, on the other core, pulling the producer's cache lines
 * across with every one.  That made a traced dup+close 40% slower than
 * the same events left in the buffer.  So after a busy drain the next
 * waits out the same interval the kernel side wakes us at: a busy target
 * is read in batches, a quiet one still at once.
 */
#define BUSY_DRAIN 32 /* events */

int tracer_pace_ms(const struct kt_tracer *tr)
{
	uint64_t now = kt_now_ns();

	if (tr->next_drain_ns <= now)
		return 0;
	return (int)((tr->next_drain_ns - now + 999999) / 1000000);
}

/* Sleep @ms, at most @timeout_ms; a signal ends it early, as it ends a poll. */
static void pace(int ms, int timeout_ms)
{
	struct timespec ts;

	if (ms > timeout_ms)
		ms = timeout_ms;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

int tracer_poll(struct kt_tracer *tr, int timeout_ms)
{
	uint64_t before = tr->c.events;
	int r = 0, ms = tracer_pace_ms(tr);

	if (ms)
		pace(ms, timeout_ms);
	else
		r = ring_buffer__poll(tr->rb, timeout_ms);
	if (r < 0 && r != -EINTR)
		return r;
	/*
	 * The kernel side wakes us at most every few milliseconds (see submit()
	 * in bpf/trace.bpf.c): what came after the last wakeup is read here.
	 */
	r = flush_held(tr, false);
	if (!r)
		r = ring_buffer__consume(tr->rb);
	if (r < 0)
		return r;
	tr->next_drain_ns = tr->c.events - before >= BUSY_DRAIN ? kt_now_ns() + tr->pace_ns : 0;
	r = repair_lost(tr);
	if (!r)
		r = run_pending(tr);
	return r;
}

int tracer_settle(struct kt_tracer *tr)
{
	int r;

	r = flush_held(tr, true);
	if (r)
		return r;
	/* rescans can be answered by more events: go until the buffer is empty */
	do {
		r = ring_buffer__consume(tr->rb);
		if (r < 0)
			return r;
		r = tracer_poll(tr, 0);
	} while (!r && ring_buffer__consume(tr->rb) > 0);
	return r;
}

/* ---- verification of warm state ---- */

#define KCMP_SAMPLE 64

/* For pid-list targets, the scanner filters by its own map: give it the grown set. */
static int sync_scanner_targets(struct kt_tracer *tr)
{
	int from = bpf_map__fd(tr->skel->maps.tracked);
	uint32_t key, next;
	bool first = true;

	if (tr->target.mode != KT_TARGET_PIDS)
		return 0;
	while (!bpf_map_get_next_key(from, first ? NULL : &key, &next)) {
		int r = scanner_add_pid(tr->scanner, next);

		if (r)
			return r;
		key = next;
		first = false;
	}
	return 0;
}

/*
 * The same objects, and as many fds in its table as the kernel's bitmap
 * has: an fd lost or left over in the state shows as a count that differs.
 */
static bool same_task(const struct live_task *t, const struct kt_task_rec *r)
{
	const struct live_obj *files = t->hold[KT_FILES].obj;

	for (int k = KT_VM; k < KT_NR_KINDS; k++) {
		bool absent = r->absent & (1u << k);

		if (absent != !t->hold[k].obj || (!absent && t->rec.gen[k] != r->gen[k]))
			return false;
	}
	return !files || files->table->nfds == r->open_fds;
}

/* Every task of the target against a task scan taken now. */
static int verify_tasks(struct kt_tracer *tr, struct kt_verification *v)
{
	struct kt_snapshot scan;
	uint32_t tid;
	void *val;
	size_t pos = 0;
	int r;

	snapshot_init(&scan, "bpf", KT_GENID_ADDR);
	r = sync_scanner_targets(tr);
	scanner_count_fds(tr->scanner, true);
	if (!r)
		r = scanner_scan(tr->scanner, &scan, 0, 0, false);
	scanner_count_fds(tr->scanner, false);
	if (!r)
		r = snapshot_index(&scan);
	for (size_t i = 0; !r && i < scan.ntasks; i++) {
		const struct live_task *t = live_task_get(&tr->st, scan.tasks[i].rec.tid);

		v->checked_tasks++;
		if (!t || !same_task(t, &scan.tasks[i].rec)) {
			v->repaired++;
			want_rescan(tr, scan.tasks[i].rec.tgid, "verify");
		}
	}
	while (!r && u32map_next(&tr->st.tasks, &pos, &tid, &val))
		if (snapshot_find_tid(&scan, tid) < 0) {
			v->repaired++;
			want_rescan(tr, ((struct live_task *)val)->rec.tgid, "verify");
		}
	snapshot_free(&scan);
	return r;
}

/* Confirm a spread sample of shared fd holders with kcmp. */
static void verify_sample(struct kt_tracer *tr, struct kt_verification *v)
{
	size_t pos = 0, seen = 0;
	uint32_t tid;
	void *val;

	while (v->kcmp_checks < KCMP_SAMPLE && u32map_next(&tr->st.tasks, &pos, &tid, &val)) {
		struct live_task *t = val;
		struct live_table *tab = t->hold[KT_FILES].obj ? t->hold[KT_FILES].obj->table
							       : NULL;

		if (!tab || tab->key_tid != tid)
			continue;
		for (uint32_t i = 0; i < tab->nslots && v->kcmp_checks < KCMP_SAMPLE; i++) {
			struct live_fd *f = tab->slot[i];
			struct kid_entry *e = f ? &f->hold.obj->e : NULL;
			struct kid_key k = { 0, (pid_t)tid, (int)i };

			/* every 7th shared holder: spread over the tables, bounded in cost */
			if (!e || !kid_in_tree(e) || f->hold.obj->nholders < 2 || seen++ % 7)
				continue;
			v->kcmp_checks++;
			if (kid_kcmp(KT_FILE, &k, &e->key, NULL) != KID_EQ) {
				v->repaired++;
				want_rescan(tr, t->rec.tgid, "verify");
			}
		}
	}
}

int tracer_verify(struct kt_tracer *tr, struct kt_verification *v)
{
	uint64_t now;
	int r = tracer_settle(tr);

	v->method = "settled events, task scan with fd counts, kcmp sample";
	if (!r)
		r = verify_tasks(tr, v);
	if (!r)
		verify_sample(tr, v);
	/* what disagreed is read again: rescans by tgid cover its threads and tables */
	if (!r && v->repaired)
		r = run_pending_processes(tr);
	if (!r)
		r = tracer_settle(tr);
	now = kt_now_ns();
	v->newest_event_age_ns = tr->last_event_ns && now > tr->last_event_ns
					 ? now - tr->last_event_ns
					 : 0;
	return r;
}

bool tracer_target_gone(const struct kt_tracer *tr)
{
	struct stat st;

	switch (tr->target.mode) {
	case KT_TARGET_ALL: return false;
	case KT_TARGET_CGROUP:
		/* an empty cgroup can fill again; a removed one cannot */
		return !tr->st.tasks.len && stat(tr->target.cgroup_dir, &st) != 0;
	default: return tr->st.tasks.len == 0;
	}
}

void tracer_stop(struct kt_tracer *tr)
{
	ring_buffer__free(tr->rb);
	bpf_link__destroy(tr->flush_link);
	trace_bpf__destroy(tr->skel);
	scanner_close(tr->scanner);
	live_free(&tr->st);
	u32map_free(&tr->pending);
	tr->rb = NULL;
	tr->flush_link = NULL;
	tr->skel = NULL;
	tr->scanner = NULL;
}

/*
 * The events lag: by now the fd may be closed, or reused for another file.
 * Take the link only if the file behind it, read after it, is @f's.
 */
static bool read_fd_link(const struct live_fd *f, char *buf, size_t len)
{
	const struct live_obj *obj = f->hold.obj;
	char proc[64];
	struct stat st;
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/%u/fd/%d", f->table->key_tid, f->fd);
	n = readlink(proc, buf, len - 1);
	if (n <= 0 || stat(proc, &st) || (uint32_t)st.st_dev != obj->dev || st.st_ino != obj->ino)
		return false;
	buf[n] = '\0';
	return true;
}

const char *tracer_fd_path(struct live_fd *f)
{
	char buf[KT_PATH_MAX];
	bool found;

	if (live_fd_path(f))
		return live_fd_path(f);
	/* through any of the file's fds (@f among them): @f may be closed by now */
	found = false;
	for (struct live_hold *h = f->hold.obj->holders; h && !found; h = h->next)
		found = read_fd_link(live_hold_fd(h), buf, sizeof(buf));
	if (!found)
		return "?";
	live_fd_set_path(f, buf);
	return live_fd_path(f) ? live_fd_path(f) : "?";
}
