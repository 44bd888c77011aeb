// SPDX-License-Identifier: LGPL-2.1
/*
 * Cold snapshot through BPF iterators (bpf/snapshot.bpf.c): one pass of
 * iter/task for task records, one of iter/task_file for fd records, and
 * iter/task again to confirm every table read (see confirm_tables()).  All
 * filtering and gen_id hashing happens in the kernel; this side only reads
 * the record stream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include "backend.h"
#include "snapshot.lskel.h"
#include "util.h"

#define READ_CHUNK (1u << 20)

int genid_random_key(uint64_t key[2])
{
	return getrandom(key, 2 * sizeof(key[0]), 0) == 2 * sizeof(key[0]) ? 0 : -errno;
}

typedef int (*record_fn)(struct kt_snapshot *s, const char *p, size_t avail, size_t *used);

static int task_record(struct kt_snapshot *s, const char *p, size_t avail, size_t *used)
{
	struct kt_task_rec r;

	if (avail < sizeof(r))
		return 0;
	memcpy(&r, p, sizeof(r));
	if (r.rec_type != KT_REC_TASK)
		return -EPROTO;
	*used = sizeof(r);
	return snapshot_add_task(s, &r) ? 0 : -ENOMEM;
}

static int fd_record(struct kt_snapshot *s, const char *p, size_t avail, size_t *used)
{
	struct kt_fd_rec r;

	if (avail < sizeof(r))
		return 0;
	memcpy(&r, p, sizeof(r));
	if (r.rec_type != KT_REC_FD || r.path_len >= KT_PATH_MAX)
		return -EPROTO;
	if (avail < sizeof(r) + r.path_len)
		return 0;
	*used = sizeof(r) + r.path_len;
	return snapshot_add_fd(s, &r, p + sizeof(r), r.path_len) ? 0 : -ENOMEM;
}

/* Read an iterator to its end, handing complete records to @fn. */
static int drain_iter(int link_fd, struct kt_snapshot *s, record_fn fn)
{
	char *buf = malloc(READ_CHUNK);
	size_t have = 0;
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	fd = bpf_iter_create(link_fd);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (;;) {
		ssize_t n = read(fd, buf + have, READ_CHUNK - have);
		size_t off = 0, used;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue; /* the kernel asks us to come back: large tables */
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (;;) {
			used = 0;
			r = fn(s, buf + off, have - off, &used);
			if (r < 0 || !used)
				break;
			off += used;
		}
		if (r < 0)
			break;
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (!r && have)
		r = -EPROTO; /* a truncated record */
	close(fd);
	free(buf);
	return r;
}

struct kt_scanner {
	struct snapshot_bpf *skel;
	struct kt_target target;
};

static void set_rodata(struct snapshot_bpf *skel, const struct kt_target *t,
		       const struct kt_backend_opts *o, const uint64_t key[2])
{
	skel->rodata->genid_key0 = key[0];
	skel->rodata->genid_key1 = key[1];
	skel->rodata->genid_scheme = (uint32_t)o->genid;
	skel->rodata->want_paths = o->want_paths;
	skel->rodata->skip_kthreads = !t->kthreads;
	skel->rodata->target_mode = (uint32_t)t->mode;
	skel->rodata->target_tgid = t->tgid;
	skel->rodata->target_cgroup_id = t->cgroup_id;
	skel->rodata->target_cgroup_level = t->cgroup_level;
	skel->rodata->target_pidns_inum = t->pidns_inum;
	skel->rodata->target_pidns_level = t->pidns_level;
}

static int fill_target_pids(struct snapshot_bpf *skel, const struct kt_target *t)
{
	uint8_t one = 1;

	if (t->mode != KT_TARGET_PIDS)
		return 0;
	for (size_t i = 0; i < t->npids; i++)
		if (bpf_map_update_elem(skel->maps.target_pids.map_fd, &t->pids[i], &one, BPF_ANY))
			return -errno;
	return 0;
}

int scanner_open(struct kt_scanner **out, const struct kt_target *t,
		 const struct kt_backend_opts *o, const uint64_t key[2], char *why, size_t why_len)
{
	struct kt_scanner *sc = calloc(1, sizeof(*sc));
	int r;

	if (!sc)
		return -ENOMEM;
	sc->target = *t;
	sc->skel = snapshot_bpf__open();
	if (!sc->skel) {
		snprintf(why, why_len, "cannot open BPF object: %s", strerror(errno));
		free(sc);
		return -ENOTSUP;
	}
	set_rodata(sc->skel, t, o, key);
	r = snapshot_bpf__load(sc->skel);
	if (r) {
		r = r < 0 ? r : -EINVAL;
		snprintf(why, why_len, "cannot load BPF programs: %s", strerror(-r));
		scanner_close(sc);
		return -ENOTSUP;
	}
	r = fill_target_pids(sc->skel, t);
	if (r) {
		scanner_close(sc);
		return r;
	}
	*out = sc;
	return 0;
}

int scanner_add_pid(struct kt_scanner *sc, uint32_t tgid)
{
	uint8_t one = 1;

	return bpf_map_update_elem(sc->skel->maps.target_pids.map_fd, &tgid, &one, BPF_ANY) ? -errno
											    : 0;
}

void scanner_count_fds(struct kt_scanner *sc, bool on)
{
	sc->skel->bss->count_fds = on;
}

void scanner_close(struct kt_scanner *sc)
{
	if (!sc)
		return;
	snapshot_bpf__destroy(sc->skel);
	free(sc);
}

/* Narrow the iterator to one thread (tid) or one process (pid), if asked. */
static int attach_scan(int prog_fd, uint32_t pid, uint32_t tid)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	union bpf_iter_link_info info;
	int fd;

	if (pid || tid) {
		memset(&info, 0, sizeof(info));
		info.task.pid = tid ? 0 : pid;
		info.task.tid = tid;
		opts.iter_info = &info;
		opts.iter_info_len = sizeof(info);
	}
	fd = bpf_link_create(prog_fd, 0, BPF_TRACE_ITER, &opts);
	return fd < 0 ? -errno : fd;
}

static int run_scan(int prog_fd, uint32_t pid, uint32_t tid, struct kt_snapshot *s, record_fn fn)
{
	int link = attach_scan(prog_fd, pid, tid), r;

	if (link < 0)
		return link;
	r = drain_iter(link, s, fn);
	close(link);
	return r;
}

static int scan_once(struct kt_scanner *sc, struct kt_snapshot *s, uint32_t pid, uint32_t tid,
		     bool fds)
{
	uint64_t t0 = kt_now_ns();
	int r;

	r = run_scan(sc->skel->progs.snapshot_tasks.prog_fd, pid, tid, s, task_record);
	s->phase_ns[KT_PHASE_TASKS] += kt_now_ns() - t0;
	if (!r && fds) {
		t0 = kt_now_ns();
		r = run_scan(sc->skel->progs.snapshot_files.prog_fd, pid, tid, s, fd_record);
		s->phase_ns[KT_PHASE_FDS] += kt_now_ns() - t0;
	}
	return r;
}

static bool same_table(const struct kt_task_rec *a, const struct kt_task_rec *b)
{
	uint32_t bit = 1u << KT_FILES;

	return (a->absent & bit) == (b->absent & bit) &&
	       ((a->absent & bit) || a->gen[KT_FILES] == b->gen[KT_FILES]);
}

/* Take task @i and its fds out of @s (not yet indexed: fds know their task by tid). */
static void drop_task(struct kt_snapshot *s, size_t i, size_t first_fd)
{
	uint32_t tid = s->tasks[i].rec.tid;
	size_t n = first_fd;

	for (size_t k = first_fd; k < s->nfds; k++)
		if (s->fds[k].rec.tid != tid)
			s->fds[n++] = s->fds[k];
	s->nfds = n;
	s->tasks[i] = s->tasks[--s->ntasks];
	s->dropped_tasks++;
}

/*
 * The fd pass runs after the task pass, and exit_files() empties a task's
 * table under the iterator: a task that began exiting in between shows
 * part of its table, or none, under the gen_id of a table others still
 * hold whole.  A table read counts only if its task still holds it after
 * the fd pass, as a third pass (tasks again) tells.  Exiting tasks leave
 * the scan, as the task pass would have left them out a moment later.
 * Returns how many live tasks changed tables meanwhile (exec, unshare),
 * or a negative errno; with @final, those leave the scan too.
 */
static int confirm_tables(struct kt_scanner *sc, struct kt_snapshot *s, size_t first_task,
			  size_t first_fd, uint32_t pid, uint32_t tid, bool final)
{
	struct kt_snapshot now;
	int r, changed = 0;

	snapshot_init(&now, "bpf", s->genid);
	r = run_scan(sc->skel->progs.snapshot_tasks.prog_fd, pid, tid, &now, task_record);
	if (!r)
		r = snapshot_index(&now);
	for (size_t i = first_task; !r && i < s->ntasks;) {
		long c = snapshot_find_tid(&now, s->tasks[i].rec.tid);

		if (c >= 0 && same_table(&s->tasks[i].rec, &now.tasks[c].rec)) {
			i++;
			continue;
		}
		if (c >= 0 && !final) {
			changed++;
			i++;
			continue;
		}
		drop_task(s, i, first_fd); /* task @i is now another: look again */
	}
	snapshot_free(&now);
	return r ? r : changed;
}

#define SCAN_TRIES 4

int scanner_scan(struct kt_scanner *sc, struct kt_snapshot *s, uint32_t pid, uint32_t tid, bool fds)
{
	size_t ntasks = s->ntasks, nfds = s->nfds, strings_len = s->strings_len;
	int r;

	/* a narrowed rescan may name a task that joined the target after load */
	sc->skel->bss->unfiltered = pid || tid;
	for (int try = 1;; try++) {
		r = scan_once(sc, s, pid, tid, fds);
		if (r || !fds)
			return r;
		r = confirm_tables(sc, s, ntasks, nfds, pid, tid, try == SCAN_TRIES);
		if (r <= 0)
			return r;
		/* a table changed hands under the fd pass: read it all again */
		s->ntasks = ntasks;
		s->nfds = nfds;
		s->strings_len = strings_len;
	}
}

int bpf_snapshot(struct kt_snapshot *s, const struct kt_target *t, const struct kt_backend_opts *o,
		 char *why, size_t why_len)
{
	struct kt_scanner *sc = NULL;
	uint64_t key[2], t0 = kt_now_ns();
	uint32_t pid = 0;
	int r;

	r = genid_random_key(key);
	if (r)
		return r;
	r = scanner_open(&sc, t, o, key, why, why_len);
	memset(key, 0, sizeof(key));
	s->phase_ns[KT_PHASE_LOAD] = kt_now_ns() - t0;
	if (r)
		return r;
	/* where one process is wanted, the kernel walks only that process */
	if (t->mode == KT_TARGET_PIDS && t->npids == 1)
		pid = t->pids[0];
	r = scanner_scan(sc, s, pid, 0, true);
	sc->skel->bss->unfiltered = false;
	scanner_close(sc);
	if (r == -EPERM || r == -EACCES) {
		snprintf(why, why_len, "cannot run BPF iterators: %s", strerror(-r));
		return -ENOTSUP;
	}
	return r;
}
