// SPDX-License-Identifier: LGPL-2.1
/*
 * Sharing groups: for each kind, the objects held by two or more holders.
 *
 * Holders are bucketed by id with a counting sort, which is linear and
 * keeps each bucket in index order for free.  Ids from dedupe are dense,
 * but a snapshot read from a file may carry any ids, so sparse ones are
 * sorted by comparison instead of sizing a bucket array by the largest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "export.h"
#include "util.h"

/* Buckets per holder beyond which ids count as sparse. */
#define DENSE_FACTOR 4
#define DENSE_SLACK 1024

struct builder {
	const struct kt_snapshot *s;
	struct kt_groups *g;
	size_t groups_cap, members_cap;
	uint32_t *sorted;  /* holder indexes of one kind, by (id, index) */
	uint32_t *scratch; /* tgids of one group */
	size_t nsorted;
};

static uint32_t holder_id(const struct kt_snapshot *s, int kind, size_t i)
{
	if (kind == KT_FILE) {
		const struct kt_fd *f = &s->fds[i];

		if (f->dropped || f->task >= s->ntasks || s->tasks[f->task].dropped)
			return 0;
		return f->id;
	}
	return s->tasks[i].dropped ? 0 : s->tasks[i].id[kind];
}

static uint32_t holder_tgid(const struct kt_snapshot *s, int kind, uint32_t i)
{
	if (kind == KT_FILE)
		i = s->fds[i].task;
	return s->tasks[i].rec.tgid;
}

static int sort_dense(struct builder *b, int kind, size_t n, uint32_t max_id)
{
	uint32_t *start = calloc((size_t)max_id + 1, sizeof(*start)), sum = 0;

	if (!start)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		start[holder_id(b->s, kind, i)]++;
	for (size_t id = 1; id <= max_id; id++) {
		uint32_t count = start[id];

		start[id] = sum;
		sum += count;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t id = holder_id(b->s, kind, i);

		if (id)
			b->sorted[start[id]++] = (uint32_t)i;
	}
	b->nsorted = sum;
	free(start);
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int sort_sparse(struct builder *b, int kind, size_t n, size_t nholders)
{
	uint64_t *keys = malloc(nholders * sizeof(*keys));
	size_t k = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t id = holder_id(b->s, kind, i);

		if (id)
			keys[k++] = (uint64_t)id << 32 | i;
	}
	qsort(keys, k, sizeof(*keys), u64_cmp);
	for (size_t i = 0; i < k; i++)
		b->sorted[i] = (uint32_t)keys[i];
	b->nsorted = k;
	free(keys);
	return 0;
}

static int tgid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Tasks are ordered by tgid, so a task group's tgids arrive sorted; an fd
 * group's follow the readers' tids, which threads of different processes
 * can interleave.
 */
static uint32_t count_procs(struct builder *b, int kind, const uint32_t *members, uint32_t n)
{
	bool sorted = true;
	uint32_t procs = 1;

	for (uint32_t m = 0; m < n; m++) {
		b->scratch[m] = holder_tgid(b->s, kind, members[m]);
		if (m && b->scratch[m] < b->scratch[m - 1])
			sorted = false;
	}
	if (!sorted)
		qsort(b->scratch, n, sizeof(*b->scratch), tgid_cmp);
	for (uint32_t m = 1; m < n; m++)
		procs += b->scratch[m] != b->scratch[m - 1];
	return procs;
}

static int add_group(struct builder *b, int kind, const uint32_t *members, uint32_t n)
{
	struct kt_groups *g = b->g;
	struct kt_group *grp;

	if (kt_grow((void **)&g->groups, &b->groups_cap, g->ngroups + 1, sizeof(*g->groups)) ||
	    kt_grow((void **)&g->members, &b->members_cap, g->nmembers + n, sizeof(*g->members)))
		return -ENOMEM;
	grp = &g->groups[g->ngroups++];
	grp->kind = kind;
	grp->id = holder_id(b->s, kind, members[0]);
	grp->first = (uint32_t)g->nmembers;
	grp->nmembers = n;
	grp->nprocs = count_procs(b, kind, members, n);
	memcpy(g->members + g->nmembers, members, n * sizeof(*members));
	g->nmembers += n;
	return 0;
}

static int build_kind(struct builder *b, int kind)
{
	size_t n = kind == KT_FILE ? b->s->nfds : b->s->ntasks, nholders = 0;
	uint32_t max_id = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		uint32_t id = holder_id(b->s, kind, i);

		nholders += id != 0;
		if (id > max_id)
			max_id = id;
	}
	if (nholders < 2)
		return 0;
	if (max_id <= nholders * DENSE_FACTOR + DENSE_SLACK)
		r = sort_dense(b, kind, n, max_id);
	else
		r = sort_sparse(b, kind, n, nholders);
	for (size_t i = 0; i < b->nsorted && !r;) {
		uint32_t id = holder_id(b->s, kind, b->sorted[i]);
		size_t j = i + 1;

		while (j < b->nsorted && holder_id(b->s, kind, b->sorted[j]) == id)
			j++;
		if (j - i >= 2)
			r = add_group(b, kind, b->sorted + i, (uint32_t)(j - i));
		i = j;
	}
	return r;
}

int groups_build(struct kt_groups *g, const struct kt_snapshot *s)
{
	size_t most = s->nfds > s->ntasks ? s->nfds : s->ntasks;
	struct builder b = { .s = s, .g = g };
	int r = 0;

	memset(g, 0, sizeof(*g));
	b.sorted = malloc((most + 1) * sizeof(*b.sorted));
	b.scratch = malloc((most + 1) * sizeof(*b.scratch));
	if (!b.sorted || !b.scratch)
		r = -ENOMEM;
	for (int kind = KT_FILE; kind < KT_NR_KINDS && !r; kind++)
		r = build_kind(&b, kind);
	free(b.sorted);
	free(b.scratch);
	if (r)
		groups_free(g);
	return r;
}

void groups_free(struct kt_groups *g)
{
	free(g->groups);
	free(g->members);
	memset(g, 0, sizeof(*g));
}
