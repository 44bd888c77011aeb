// SPDX-License-Identifier: LGPL-2.1
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "truth.h"

struct holder {
	pid_t pid;
	int idx;
	uint32_t id;  /* the snapshot's id */
	uint64_t key; /* tid << 32 | fd, to match holders across snapshots */
};

static int kcmp_raw(pid_t a, pid_t b, int type, int ia, int ib)
{
	long r = syscall(SYS_kcmp, a, b, type, (unsigned long)ia, (unsigned long)ib);

	return r < 0 ? -errno : (int)r;
}

static int sort_err;

static int by_kcmp(const void *x, const void *y, void *kind)
{
	const struct holder *a = x, *b = y;
	int r = kcmp_raw(a->pid, b->pid, *(int *)kind, a->idx, b->idx);

	if (r < 0 || r == 3)
		sort_err = r < 0 ? r : -EINVAL;
	return r == 1 ? -1 : r == 2 ? 1 : 0;
}

static size_t collect(const struct kt_snapshot *s, int kind, struct holder **out)
{
	size_t n = 0, cap = kind == KT_FILE ? s->nfds : s->ntasks;
	struct holder *h = calloc(cap + 1, sizeof(*h));

	if (kind == KT_FILE) {
		for (size_t i = 0; i < s->nfds; i++) {
			const struct kt_fd *f = &s->fds[i];
			uint32_t tid = s->tasks[f->task].rec.tid;

			if (f->id)
				h[n++] = (struct holder){ (pid_t)tid, f->rec.fd, f->id,
							  (uint64_t)tid << 32 |
								  (uint32_t)f->rec.fd };
		}
	} else {
		for (size_t i = 0; i < s->ntasks; i++) {
			const struct kt_task *t = &s->tasks[i];

			if (!t->dropped && !(t->rec.absent & (1u << kind)))
				h[n++] = (struct holder){ (pid_t)t->rec.tid, 0, t->id[kind],
							  (uint64_t)t->rec.tid << 32 };
		}
	}
	*out = h;
	return n;
}

static uint32_t max_id(const struct holder *h, size_t n)
{
	uint32_t m = 0;

	for (size_t i = 0; i < n; i++)
		m = h[i].id > m ? h[i].id : m;
	return m;
}

int truth_check_kind(const struct kt_snapshot *s, int kind, char *why, size_t len)
{
	struct holder *h;
	size_t n = collect(s, kind, &h);
	uint32_t ids = max_id(h, n), group = 0;
	uint32_t *group_of_id = calloc(ids + 2, sizeof(uint32_t));
	uint32_t *id_of_group = calloc(n + 2, sizeof(uint32_t));
	int r = 0;

	sort_err = 0;
	qsort_r(h, n, sizeof(*h), by_kcmp, &kind);
	for (size_t i = 0; i < n && !r && !sort_err; i++) {
		if (!i || kcmp_raw(h[i - 1].pid, h[i].pid, kind, h[i - 1].idx, h[i].idx) != 0)
			group++;
		if (!h[i].id) {
			snprintf(why, len, "%s: holder %d/%d present but has no id",
				 kt_kind_name(kind), h[i].pid, h[i].idx);
			r = -1;
		} else if (group_of_id[h[i].id] && group_of_id[h[i].id] != group) {
			snprintf(why, len, "%s: id %u given to objects kcmp tells apart (%d/%d)",
				 kt_kind_name(kind), h[i].id, h[i].pid, h[i].idx);
			r = -1;
		} else if (id_of_group[group] && id_of_group[group] != h[i].id) {
			snprintf(why, len, "%s: one object (kcmp) has ids %u and %u (%d/%d)",
				 kt_kind_name(kind), id_of_group[group], h[i].id, h[i].pid,
				 h[i].idx);
			r = -1;
		}
		group_of_id[h[i].id] = group;
		id_of_group[group] = h[i].id;
	}
	if (!r && sort_err) {
		snprintf(why, len, "%s: kcmp failed: %s", kt_kind_name(kind), strerror(-sort_err));
		r = -1;
	}
	free(group_of_id);
	free(id_of_group);
	free(h);
	return r;
}

int truth_check_absent(const struct kt_snapshot *s, int kind, pid_t sentinel, char *why, size_t len)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct kt_task *t = &s->tasks[i];
		bool absent = t->rec.absent & (1u << kind);
		int r;

		if (t->dropped)
			continue;
		r = kcmp_raw((pid_t)t->rec.tid, sentinel, kind, 0, 0);
		if (r < 0) {
			snprintf(why, len, "%s: kcmp of %u failed: %s", kt_kind_name(kind),
				 t->rec.tid, strerror(-r));
			return -1;
		}
		if (absent != (r == 0) || absent != (t->id[kind] == 0)) {
			snprintf(why, len, "%s of task %u: snapshot says %s (id %u), kcmp says %s",
				 kt_kind_name(kind), t->rec.tid, absent ? "absent" : "present",
				 t->id[kind], r == 0 ? "absent" : "present");
			return -1;
		}
	}
	return 0;
}

static long count_proc_fds(uint32_t tgid, uint32_t tid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/fd", tgid, tid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

int truth_check_fd_tables(const struct kt_snapshot *s, char *why, size_t len)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct kt_task *t = &s->tasks[i];
		long want, have = 0;

		if (!t->reader)
			continue;
		want = count_proc_fds(t->rec.tgid, t->rec.tid);
		for (uint32_t k = 0; k < t->nfds; k++)
			have += s->fds[t->first_fd + k].id != 0;
		if (want != have) {
			int extra = -1;

			for (uint32_t k = 0; k < t->nfds && extra < 0; k++) {
				char p[64];
				const struct kt_fd *f = &s->fds[t->first_fd + k];

				snprintf(p, sizeof(p), "/proc/%u/task/%u/fd/%d", t->rec.tgid,
					 t->rec.tid, f->rec.fd);
				if (f->id && access(p, F_OK))
					extra = f->rec.fd;
			}
			snprintf(why, len, "fd table read through %u: %ld fds, /proc lists %ld%s%d",
				 t->rec.tid, have, want, extra >= 0 ? "; not in /proc: fd " : "",
				 extra);
			return -1;
		}
	}
	return 0;
}

static int by_key(const void *x, const void *y)
{
	const struct holder *a = x, *b = y;

	return a->key < b->key ? -1 : a->key > b->key;
}

int truth_same_partition(const struct kt_snapshot *a, const struct kt_snapshot *b, int kind,
			 char *why, size_t len)
{
	struct holder *ha, *hb;
	size_t na = collect(a, kind, &ha), nb = collect(b, kind, &hb);
	uint32_t *map_ab = calloc(max_id(ha, na) + 2, sizeof(uint32_t));
	uint32_t *map_ba = calloc(max_id(hb, nb) + 2, sizeof(uint32_t));
	int r = 0;

	qsort(ha, na, sizeof(*ha), by_key);
	qsort(hb, nb, sizeof(*hb), by_key);
	if (na != nb) {
		snprintf(why, len, "%s: %zu holders in %s, %zu in %s", kt_kind_name(kind), na,
			 a->backend, nb, b->backend);
		r = -1;
	}
	for (size_t i = 0; i < na && !r; i++) {
		uint32_t x = ha[i].id, y = hb[i].id;

		if (ha[i].key != hb[i].key) {
			snprintf(why, len, "%s: holder %d/%d in %s, %d/%d in %s",
				 kt_kind_name(kind), ha[i].pid, ha[i].idx, a->backend, hb[i].pid,
				 hb[i].idx, b->backend);
			r = -1;
		} else if ((map_ab[x] && map_ab[x] != y) || (map_ba[y] && map_ba[y] != x)) {
			snprintf(why, len, "%s: %s and %s group holder %d/%d differently",
				 kt_kind_name(kind), a->backend, b->backend, ha[i].pid, ha[i].idx);
			r = -1;
		}
		map_ab[x] = y;
		map_ba[y] = x;
	}
	free(map_ab);
	free(map_ba);
	free(ha);
	free(hb);
	return r;
}

pid_t truth_sentinel(void)
{
	pid_t pid = fork();

	if (!pid) {
		for (;;)
			pause();
	}
	return pid;
}
