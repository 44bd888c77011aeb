// SPDX-License-Identifier: LGPL-2.1
/* Snapshot storage: growable arrays of tasks and fds and a path arena. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "snapshot.h"
#include "util.h"

void snapshot_init(struct kt_snapshot *s, const char *backend, int genid)
{
	memset(s, 0, sizeof(*s));
	s->backend = backend;
	s->genid = genid;
	s->taken_at_ns = 0;
}

void snapshot_free(struct kt_snapshot *s)
{
	free(s->tasks);
	free(s->fds);
	free(s->strings);
	free(s->by_tid);
	memset(s, 0, sizeof(*s));
}

struct kt_task *snapshot_add_task(struct kt_snapshot *s, const struct kt_task_rec *rec)
{
	struct kt_task *t;

	if (kt_grow((void **)&s->tasks, &s->tasks_cap, s->ntasks + 1, sizeof(*t)))
		return NULL;
	t = &s->tasks[s->ntasks++];
	memset(t, 0, sizeof(*t));
	t->rec = *rec;
	t->rec.comm[KT_COMM_LEN - 1] = '\0';
	return t;
}

static long add_string(struct kt_snapshot *s, const char *str, size_t len)
{
	size_t off;

	if (!len)
		return 0;
	if (!s->strings_len) {
		if (kt_grow((void **)&s->strings, &s->strings_cap, 1 << 16, 1))
			return -ENOMEM;
		s->strings[0] = '\0';
		s->strings_len = 1;
	}
	if (kt_grow((void **)&s->strings, &s->strings_cap, s->strings_len + len + 1, 1))
		return -ENOMEM;
	off = s->strings_len;
	memcpy(s->strings + off, str, len);
	s->strings[off + len] = '\0';
	s->strings_len += len + 1;
	return (long)off;
}

struct kt_fd *snapshot_add_fd(struct kt_snapshot *s, const struct kt_fd_rec *rec, const char *path,
			      size_t path_len)
{
	struct kt_fd *f;
	long off = add_string(s, path, path_len);

	if (off < 0 || kt_grow((void **)&s->fds, &s->fds_cap, s->nfds + 1, sizeof(*f)))
		return NULL;
	f = &s->fds[s->nfds++];
	memset(f, 0, sizeof(*f));
	f->rec = *rec;
	f->rec.path_len = (unsigned short)path_len;
	f->path_off = (uint32_t)off;
	return f;
}

const char *snapshot_path(const struct kt_snapshot *s, const struct kt_fd *fd)
{
	return fd->path_off ? s->strings + fd->path_off : "";
}

static int task_cmp(const void *a, const void *b)
{
	const struct kt_task *x = a, *y = b;

	if (x->rec.tgid != y->rec.tgid)
		return x->rec.tgid < y->rec.tgid ? -1 : 1;
	/* the leader first, then its threads by tid */
	if ((x->rec.tid == x->rec.tgid) != (y->rec.tid == y->rec.tgid))
		return x->rec.tid == x->rec.tgid ? -1 : 1;
	return x->rec.tid < y->rec.tid ? -1 : x->rec.tid > y->rec.tid;
}

static int fd_cmp(const void *a, const void *b)
{
	const struct kt_fd *x = a, *y = b;

	if (x->rec.tid != y->rec.tid)
		return x->rec.tid < y->rec.tid ? -1 : 1;
	return x->rec.fd < y->rec.fd ? -1 : x->rec.fd > y->rec.fd;
}

/* qsort_r: snapshots are indexed on several threads at once (clients, tests) */
static int by_tid_cmp(const void *a, const void *b, void *tasks)
{
	const struct kt_task *t = tasks;
	uint32_t x = t[*(const uint32_t *)a].rec.tid;
	uint32_t y = t[*(const uint32_t *)b].rec.tid;

	return x < y ? -1 : x > y;
}

long snapshot_find_tid(const struct kt_snapshot *s, uint32_t tid)
{
	size_t lo = 0, hi = s->ntasks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t t = s->tasks[s->by_tid[mid]].rec.tid;

		if (t == tid)
			return s->by_tid[mid];
		if (t < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int snapshot_index(struct kt_snapshot *s)
{
	uint32_t *idx = realloc(s->by_tid, (s->ntasks + 1) * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	s->by_tid = idx;
	if (s->ntasks)
		qsort(s->tasks, s->ntasks, sizeof(*s->tasks), task_cmp);
	if (s->nfds)
		qsort(s->fds, s->nfds, sizeof(*s->fds), fd_cmp);
	for (size_t i = 0; i < s->ntasks; i++)
		idx[i] = (uint32_t)i;
	if (s->ntasks)
		qsort_r(idx, s->ntasks, sizeof(*idx), by_tid_cmp, s->tasks);
	/* attach each run of fds to the task whose table was read */
	for (size_t i = 0; i < s->nfds;) {
		uint32_t tid = s->fds[i].rec.tid;
		long t = snapshot_find_tid(s, tid);
		size_t j = i;

		while (j < s->nfds && s->fds[j].rec.tid == tid)
			j++;
		for (size_t k = i; k < j; k++) {
			s->fds[k].task = t < 0 ? UINT32_MAX : (uint32_t)t;
			s->fds[k].dropped = t < 0; /* table of a task not in the snapshot */
		}
		if (t >= 0) {
			s->tasks[t].first_fd = (uint32_t)i;
			s->tasks[t].nfds = (uint32_t)(j - i);
		} else {
			s->dropped_fds += j - i;
		}
		i = j;
	}
	return 0;
}

/* Renumber one kind's ids densely, in order of first appearance. */
static int renumber(uint32_t *ids, size_t n, size_t stride)
{
	uint32_t max = 0, next = 1, *map;

	for (size_t i = 0; i < n; i++) {
		uint32_t id = *(uint32_t *)((char *)ids + i * stride);

		max = id > max ? id : max;
	}
	map = calloc((size_t)max + 1, sizeof(*map));
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t *id = (uint32_t *)((char *)ids + i * stride);

		if (!*id)
			continue;
		if (!map[*id])
			map[*id] = next++;
		*id = map[*id];
	}
	free(map);
	return 0;
}

int snapshot_renumber(struct kt_snapshot *s)
{
	int r = 0;

	if (!s->ntasks)
		return 0;
	for (int k = KT_VM; k < KT_NR_KINDS && !r; k++)
		r = renumber(&s->tasks[0].id[k], s->ntasks, sizeof(struct kt_task));
	if (!r && s->nfds)
		r = renumber(&s->fds[0].id, s->nfds, sizeof(struct kt_fd));
	return r;
}
