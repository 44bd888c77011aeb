// SPDX-License-Identifier: LGPL-2.1
/*
 * What changed between two snapshots (`kcmptrace diff`); see diff.h.
 *
 * Ids are per snapshot, so nothing is matched by id:
 *
 * - A task is (tid, start): a recycled tid with another start time is
 *   another task.  It changed if its comm, ppid or a namespace differs.
 * - An fd is (tid, start, fd) of the task that names its fd table: the
 *   first holder of the table, by (tid, start), that the other snapshot
 *   has too, else its first holder.  Tables shared by several tasks are
 *   listed once, under whichever holder the collector read them through;
 *   naming them by a holder both sides know keeps a table whose first
 *   thread exited from looking like a new table with new fds.  An fd
 *   changed if its file's type, device, inode, path or flags differ; the
 *   offset moves by itself and is not compared.
 * - A sharing group (an object with two or more holders, per kind) is its
 *   set of holders: tasks, or fds named as above.  A group of B with the
 *   holder set of a group of A is unchanged.  Otherwise a group of B that
 *   overlaps no group of A appeared, one that overlaps some changed: its
 *   "added" holders are in none of those A groups, its "removed" holders
 *   are in one of them but not in it, and "from" counts them (two or more:
 *   groups merged).  A group of A that no group of B overlaps disappeared.
 *   A group of A split between several groups of B shows in each of them.
 *
 * Tasks and fds are sorted by identity and merged; group holders are
 * related through the matched tasks and fds, with a per-holder group index,
 * so no step compares every holder with every group: O(n log n) plus the
 * size of the answer.  The answer is linear in the holders except where a
 * group of A splits into many groups of B, each listing the holders the
 * others took as removed (k pieces of a group of m: about k * m holders).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "export.h"
#include "json_writer.h"
#include "util.h"

struct tkey {
	uint32_t tid;
	uint32_t idx;
	uint64_t start;
};

struct fkey {
	uint32_t tid;
	int32_t fd;
	uint64_t start;
	uint32_t idx;
};

/* One snapshot, indexed for the comparison. */
struct side {
	const struct kt_snapshot *s;
	struct tkey *tasks; /* live tasks by (tid, start) */
	size_t ntasks;
	struct fkey *fds; /* exported fds by (tid, start, fd) of their naming task */
	size_t nfds;
	int32_t *task_other; /* per task index: the same task in the other snapshot, or -1 */
	int32_t *fd_other;   /* per fd index: the same fd in the other snapshot, or -1 */
	uint32_t *namer;     /* per task index: the task that names its fd table */
	int32_t *group_of;   /* per holder index, for one kind: its group, or -1 */
	struct kt_groups g;
	size_t kind_first[KT_NR_KINDS + 1]; /* kind k's groups: [kind_first[k], kind_first[k + 1]) */
};

struct builder {
	struct kt_diff *d;
	struct side a, b;
	size_t tasks_cap, fds_cap, groups_cap;
	uint32_t *stamp;   /* per A group of a kind: the B group that last looked at it, + 1 */
	uint32_t *overlap; /* per A group of a kind: overlapped by a B group */
	uint32_t *list;	   /* the A groups one B group overlaps */
};

static bool task_live(const struct kt_snapshot *s, size_t i)
{
	return !s->tasks[i].dropped;
}

/* The fds a snapshot stands for: those export_json() writes. */
static bool fd_live(const struct kt_snapshot *s, size_t i)
{
	const struct kt_fd *f = &s->fds[i];

	return f->id && !f->dropped && f->task < s->ntasks && !s->tasks[f->task].dropped;
}

static int tkey_cmp(const void *x, const void *y)
{
	const struct tkey *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

/* By identity: (tid, start) of the naming task, then the fd number. */
static int fkey_id_cmp(const struct fkey *a, const struct fkey *b)
{
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->fd < b->fd ? -1 : a->fd > b->fd;
}

static int fkey_cmp(const void *x, const void *y)
{
	const struct fkey *a = x, *b = y;
	int c = fkey_id_cmp(a, b);

	/* ties only if a table came through two readers: the first one wins */
	return c ? c : a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int side_init(struct side *sd, const struct kt_snapshot *s)
{
	size_t nt = s->ntasks + 1, nf = s->nfds + 1, most = nt > nf ? nt : nf;

	memset(sd, 0, sizeof(*sd));
	sd->s = s;
	sd->tasks = malloc(nt * sizeof(*sd->tasks));
	sd->fds = malloc(nf * sizeof(*sd->fds));
	sd->task_other = malloc(nt * sizeof(*sd->task_other));
	sd->fd_other = malloc(nf * sizeof(*sd->fd_other));
	sd->namer = malloc(nt * sizeof(*sd->namer));
	sd->group_of = malloc(most * sizeof(*sd->group_of));
	if (!sd->tasks || !sd->fds || !sd->task_other || !sd->fd_other || !sd->namer ||
	    !sd->group_of)
		return -ENOMEM;
	for (size_t i = 0; i < s->ntasks; i++) {
		sd->task_other[i] = -1;
		sd->namer[i] = (uint32_t)i;
		if (task_live(s, i))
			sd->tasks[sd->ntasks++] =
				(struct tkey){ .tid = s->tasks[i].rec.tid,
					       .idx = (uint32_t)i,
					       .start = s->tasks[i].rec.start_ticks };
	}
	for (size_t i = 0; i < s->nfds; i++)
		sd->fd_other[i] = -1;
	qsort(sd->tasks, sd->ntasks, sizeof(*sd->tasks), tkey_cmp);
	return 0;
}

static void side_free(struct side *sd)
{
	free(sd->tasks);
	free(sd->fds);
	free(sd->task_other);
	free(sd->fd_other);
	free(sd->namer);
	free(sd->group_of);
	groups_free(&sd->g);
}

static int add_task(struct builder *b, enum kt_diff_op op, uint32_t what, const struct kt_task *ta,
		    const struct kt_task *tb)
{
	struct kt_diff *d = b->d;

	if (kt_grow((void **)&d->tasks, &b->tasks_cap, d->ntasks + 1, sizeof(*d->tasks)))
		return -ENOMEM;
	d->tasks[d->ntasks++] = (struct kt_diff_task){ .op = op, .what = what, .a = ta, .b = tb };
	return 0;
}

static uint32_t task_changes(const struct kt_task *a, const struct kt_task *b)
{
	uint32_t what = 0;

	if (strncmp(a->rec.comm, b->rec.comm, KT_COMM_LEN))
		what |= KT_DT_COMM;
	if (a->rec.ppid != b->rec.ppid)
		what |= KT_DT_PPID;
	for (int n = 0; n < KT_NR_NS; n++)
		if (a->rec.ns[n] != b->rec.ns[n])
			what |= KT_DT_NS(n);
	return what;
}

/* Merge the two sorted task lists: matches, and the task entries. */
static int match_tasks(struct builder *b)
{
	const struct kt_snapshot *sa = b->a.s, *sb = b->b.s;
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < b->a.ntasks || j < b->b.ntasks)) {
		int c = i == b->a.ntasks   ? 1
			: j == b->b.ntasks ? -1
					   : tkey_cmp(&b->a.tasks[i], &b->b.tasks[j]);
		const struct kt_task *ta = c <= 0 ? &sa->tasks[b->a.tasks[i].idx] : NULL;
		const struct kt_task *tb = c >= 0 ? &sb->tasks[b->b.tasks[j].idx] : NULL;

		if (c < 0) {
			r = add_task(b, KT_DIFF_DISAPPEARED, 0, ta, NULL);
			i++;
		} else if (c > 0) {
			r = add_task(b, KT_DIFF_APPEARED, 0, NULL, tb);
			j++;
		} else {
			uint32_t what = task_changes(ta, tb);

			b->a.task_other[b->a.tasks[i].idx] = (int32_t)b->b.tasks[j].idx;
			b->b.task_other[b->b.tasks[j].idx] = (int32_t)b->a.tasks[i].idx;
			if (what)
				r = add_task(b, KT_DIFF_CHANGED, what, ta, tb);
			i++;
			j++;
		}
	}
	return r;
}

struct table_key {
	uint32_t files;
	uint32_t pos; /* in sd->tasks: (tid, start) order */
};

static int table_key_cmp(const void *x, const void *y)
{
	const struct table_key *a = x, *b = y;

	if (a->files != b->files)
		return a->files < b->files ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* Which task names each fd table: see the top of the file. */
static int find_namers(struct side *sd)
{
	const struct kt_snapshot *s = sd->s;
	struct table_key *keys = malloc((sd->ntasks + 1) * sizeof(*keys));
	size_t n = 0;

	if (!keys)
		return -ENOMEM;
	for (size_t p = 0; p < sd->ntasks; p++) {
		uint32_t files = s->tasks[sd->tasks[p].idx].id[KT_FILES];

		if (files)
			keys[n++] = (struct table_key){ .files = files, .pos = (uint32_t)p };
	}
	qsort(keys, n, sizeof(*keys), table_key_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i, pick = i;

		while (j < n && keys[j].files == keys[i].files)
			j++;
		for (size_t k = i; k < j; k++) {
			if (sd->task_other[sd->tasks[keys[k].pos].idx] >= 0) {
				pick = k;
				break;
			}
		}
		for (size_t k = i; k < j; k++)
			sd->namer[sd->tasks[keys[k].pos].idx] = sd->tasks[keys[pick].pos].idx;
		i = j;
	}
	free(keys);
	return 0;
}

static void sort_fds(struct side *sd)
{
	const struct kt_snapshot *s = sd->s;
	size_t n = 0;

	for (size_t i = 0; i < s->nfds; i++) {
		const struct kt_task *t;

		if (!fd_live(s, i))
			continue;
		t = &s->tasks[sd->namer[s->fds[i].task]];
		sd->fds[n++] = (struct fkey){ .tid = t->rec.tid,
					      .fd = s->fds[i].rec.fd,
					      .start = t->rec.start_ticks,
					      .idx = (uint32_t)i };
	}
	qsort(sd->fds, n, sizeof(*sd->fds), fkey_cmp);
	sd->nfds = 0;
	for (size_t i = 0; i < n; i++)
		if (!sd->nfds || fkey_id_cmp(&sd->fds[sd->nfds - 1], &sd->fds[i]))
			sd->fds[sd->nfds++] = sd->fds[i];
}

static struct kt_diff_holder fd_holder(const struct side *sd, uint32_t fd_idx)
{
	const struct kt_snapshot *s = sd->s;
	const struct kt_task *t = &s->tasks[sd->namer[s->fds[fd_idx].task]];

	return (struct kt_diff_holder){ .tid = t->rec.tid,
					.fd = s->fds[fd_idx].rec.fd,
					.start = t->rec.start_ticks,
					.task = t };
}

/*
 * A holder as diff.h names it: from @sd, but with B's task if B has it
 * (@other is the side it would be in, NULL when @sd is B).
 */
static struct kt_diff_holder holder(const struct side *sd, const struct side *other, int kind,
				    uint32_t h)
{
	struct kt_diff_holder out;
	const struct kt_task *t;
	int32_t o;

	if (kind == KT_FILE) {
		out = fd_holder(sd, h);
		o = sd->task_other[sd->namer[sd->s->fds[h].task]];
	} else {
		t = &sd->s->tasks[h];
		out = (struct kt_diff_holder){
			.tid = t->rec.tid, .fd = -1, .start = t->rec.start_ticks, .task = t
		};
		o = sd->task_other[h];
	}
	if (other && o >= 0)
		out.task = &other->s->tasks[o];
	return out;
}

static uint32_t fd_changes(const struct kt_snapshot *sa, const struct kt_fd *a,
			   const struct kt_snapshot *sb, const struct kt_fd *b)
{
	uint32_t what = 0;

	if (a->rec.ftype != b->rec.ftype)
		what |= KT_DF_TYPE;
	if (a->rec.dev != b->rec.dev)
		what |= KT_DF_DEV;
	if (a->rec.ino != b->rec.ino)
		what |= KT_DF_INO;
	if (strcmp(snapshot_path(sa, a), snapshot_path(sb, b)))
		what |= KT_DF_PATH;
	if (a->rec.flags != b->rec.flags)
		what |= KT_DF_FLAGS;
	return what;
}

static int add_fd(struct builder *b, enum kt_diff_op op, uint32_t what, struct kt_diff_holder who,
		  const struct kt_fd *fa, const struct kt_fd *fb)
{
	struct kt_diff *d = b->d;

	if (kt_grow((void **)&d->fds, &b->fds_cap, d->nfds + 1, sizeof(*d->fds)))
		return -ENOMEM;
	d->fds[d->nfds++] =
		(struct kt_diff_fd){ .op = op, .what = what, .who = who, .a = fa, .b = fb };
	return 0;
}

static int match_fds(struct builder *b)
{
	const struct kt_snapshot *sa = b->a.s, *sb = b->b.s;
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < b->a.nfds || j < b->b.nfds)) {
		const struct fkey *ka = i < b->a.nfds ? &b->a.fds[i] : NULL;
		const struct fkey *kb = j < b->b.nfds ? &b->b.fds[j] : NULL;
		int c = !ka ? 1 : !kb ? -1 : fkey_id_cmp(ka, kb);

		if (c < 0) {
			r = add_fd(b, KT_DIFF_DISAPPEARED, 0,
				   holder(&b->a, &b->b, KT_FILE, ka->idx), &sa->fds[ka->idx], NULL);
			i++;
		} else if (c > 0) {
			r = add_fd(b, KT_DIFF_APPEARED, 0, fd_holder(&b->b, kb->idx), NULL,
				   &sb->fds[kb->idx]);
			j++;
		} else {
			const struct kt_fd *fa = &sa->fds[ka->idx], *fb = &sb->fds[kb->idx];
			uint32_t what = fd_changes(sa, fa, sb, fb);

			b->a.fd_other[ka->idx] = (int32_t)kb->idx;
			b->b.fd_other[kb->idx] = (int32_t)ka->idx;
			if (what)
				r = add_fd(b, KT_DIFF_CHANGED, what, fd_holder(&b->b, kb->idx), fa,
					   fb);
			i++;
			j++;
		}
	}
	return r;
}

static int side_groups(struct side *sd)
{
	int r = groups_build(&sd->g, sd->s);
	size_t i = 0;

	if (r)
		return r;
	for (int k = 0; k < KT_NR_KINDS; k++) {
		sd->kind_first[k] = i;
		while (i < sd->g.ngroups && sd->g.groups[i].kind == k)
			i++;
	}
	sd->kind_first[KT_NR_KINDS] = i;
	return 0;
}

/* group_of[] for one kind: each holder's group among that kind's, or -1. */
static void index_holders(struct side *sd, int kind)
{
	size_t n = kind == KT_FILE ? sd->s->nfds : sd->s->ntasks;

	for (size_t i = 0; i < n; i++)
		sd->group_of[i] = -1;
	for (size_t gi = sd->kind_first[kind]; gi < sd->kind_first[kind + 1]; gi++) {
		const struct kt_group *grp = &sd->g.groups[gi];

		for (uint32_t m = 0; m < grp->nmembers; m++)
			sd->group_of[sd->g.members[grp->first + m]] =
				(int32_t)(gi - sd->kind_first[kind]);
	}
}

static const struct kt_group *kind_group(const struct side *sd, int kind, size_t local)
{
	return &sd->g.groups[sd->kind_first[kind] + local];
}

static uint32_t member(const struct side *sd, const struct kt_group *grp, uint32_t m)
{
	return sd->g.members[grp->first + m];
}

/* The group that holder @h of @from is in on the other side, or -1. */
static int32_t partner_group(const struct side *from, const struct side *to, int kind, uint32_t h)
{
	int32_t o = kind == KT_FILE ? from->fd_other[h] : from->task_other[h];

	return o < 0 ? -1 : to->group_of[o];
}

static int push_holder(struct builder *b, struct kt_diff_holder h)
{
	struct kt_diff *d = b->d;

	if (kt_grow((void **)&d->holders, &d->holders_cap, d->nholders + 1, sizeof(*d->holders)))
		return -ENOMEM;
	d->holders[d->nholders++] = h;
	return 0;
}

static int push_group_holders(struct builder *b, const struct side *sd, const struct side *other,
			      int kind, const struct kt_group *grp, struct kt_diff_span *span)
{
	span->first = (uint32_t)b->d->nholders;
	for (uint32_t m = 0; m < grp->nmembers; m++)
		if (push_holder(b, holder(sd, other, kind, member(sd, grp, m))))
			return -ENOMEM;
	span->n = grp->nmembers;
	return 0;
}

static struct kt_diff_group *new_group(struct builder *b, enum kt_diff_op op, int kind)
{
	struct kt_diff *d = b->d;
	struct kt_diff_group *g;

	if (kt_grow((void **)&d->groups, &b->groups_cap, d->ngroups + 1, sizeof(*d->groups)))
		return NULL;
	g = &d->groups[d->ngroups++];
	memset(g, 0, sizeof(*g));
	g->op = op;
	g->kind = kind;
	return g;
}

/* Group @gb (local index) of B overlaps the @nlist A groups in b->list. */
static int changed_group(struct builder *b, int kind, size_t gb, size_t nlist)
{
	const struct kt_group *grp = kind_group(&b->b, kind, gb);
	struct kt_diff_group *g = new_group(b, KT_DIFF_CHANGED, kind);
	int r;

	if (!g)
		return -ENOMEM;
	g->from = (uint32_t)nlist;
	if (kind == KT_FILE)
		g->file = &b->b.s->fds[member(&b->b, grp, 0)];
	/* only the holders grow from here on: g stays put */
	r = push_group_holders(b, &b->b, NULL, kind, grp, &g->holders);
	g->added.first = (uint32_t)b->d->nholders;
	for (uint32_t m = 0; m < grp->nmembers && !r; m++) {
		uint32_t h = member(&b->b, grp, m);

		if (partner_group(&b->b, &b->a, kind, h) < 0) {
			r = push_holder(b, holder(&b->b, NULL, kind, h));
			g->added.n++;
		}
	}
	g->removed.first = (uint32_t)b->d->nholders;
	for (size_t l = 0; l < nlist && !r; l++) {
		const struct kt_group *ga = kind_group(&b->a, kind, b->list[l]);

		for (uint32_t m = 0; m < ga->nmembers && !r; m++) {
			uint32_t h = member(&b->a, ga, m);

			if (partner_group(&b->a, &b->b, kind, h) != (int32_t)gb) {
				r = push_holder(b, holder(&b->a, &b->b, kind, h));
				g->removed.n++;
			}
		}
	}
	return r;
}

static int diff_kind(struct builder *b, int kind)
{
	size_t na = b->a.kind_first[kind + 1] - b->a.kind_first[kind];
	size_t nb = b->b.kind_first[kind + 1] - b->b.kind_first[kind];
	int r = 0;

	index_holders(&b->a, kind);
	index_holders(&b->b, kind);
	memset(b->stamp, 0, na * sizeof(*b->stamp));
	memset(b->overlap, 0, na * sizeof(*b->overlap));
	for (size_t gb = 0; gb < nb && !r; gb++) {
		const struct kt_group *grp = kind_group(&b->b, kind, gb);
		size_t nlist = 0, fresh = 0;

		for (uint32_t m = 0; m < grp->nmembers; m++) {
			int32_t ga = partner_group(&b->b, &b->a, kind, member(&b->b, grp, m));

			if (ga < 0) {
				fresh++;
			} else if (b->stamp[ga] != gb + 1) {
				b->stamp[ga] = (uint32_t)(gb + 1);
				b->overlap[ga] = 1;
				b->list[nlist++] = (uint32_t)ga;
			}
		}
		if (!nlist) {
			struct kt_diff_group *g = new_group(b, KT_DIFF_APPEARED, kind);

			if (!g)
				return -ENOMEM;
			if (kind == KT_FILE)
				g->file = &b->b.s->fds[member(&b->b, grp, 0)];
			r = push_group_holders(b, &b->b, NULL, kind, grp, &g->holders);
		} else if (nlist > 1 || fresh ||
			   kind_group(&b->a, kind, b->list[0])->nmembers != grp->nmembers) {
			r = changed_group(b, kind, gb, nlist);
		}
		/* else: every holder in one A group of the same size, the same set */
	}
	for (size_t ga = 0; ga < na && !r; ga++) {
		const struct kt_group *grp = kind_group(&b->a, kind, ga);
		struct kt_diff_group *g;

		if (b->overlap[ga])
			continue;
		g = new_group(b, KT_DIFF_DISAPPEARED, kind);
		if (!g)
			return -ENOMEM;
		if (kind == KT_FILE)
			g->file = &b->a.s->fds[member(&b->a, grp, 0)];
		r = push_group_holders(b, &b->a, &b->b, kind, grp, &g->holders);
	}
	return r;
}

static int holder_cmp(const void *x, const void *y)
{
	const struct kt_diff_holder *a = x, *b = y;

	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (a->start != b->start)
		return a->start < b->start ? -1 : 1;
	return a->fd < b->fd ? -1 : a->fd > b->fd;
}

static void sort_span(struct kt_diff *d, const struct kt_diff_span *sp)
{
	if (sp->n > 1)
		qsort(d->holders + sp->first, sp->n, sizeof(*d->holders), holder_cmp);
}

static int group_cmp(const void *x, const void *y, void *arg)
{
	const struct kt_diff_group *a = x, *b = y;
	const struct kt_diff *d = arg;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	c = holder_cmp(&d->holders[a->holders.first], &d->holders[b->holders.first]);
	if (c)
		return c;
	return a->op < b->op ? -1 : a->op > b->op;
}

static int diff_groups(struct builder *b)
{
	struct kt_diff *d = b->d;
	int r = side_groups(&b->a);
	size_t most;

	if (!r)
		r = side_groups(&b->b);
	if (r)
		return r;
	most = b->a.g.ngroups + 1;
	b->stamp = malloc(most * sizeof(*b->stamp));
	b->overlap = malloc(most * sizeof(*b->overlap));
	b->list = malloc(most * sizeof(*b->list));
	if (!b->stamp || !b->overlap || !b->list)
		return -ENOMEM;
	for (int k = 0; k < KT_NR_KINDS && !r; k++)
		r = diff_kind(b, k);
	if (r)
		return r;
	for (size_t i = 0; i < d->ngroups; i++) {
		sort_span(d, &d->groups[i].holders);
		sort_span(d, &d->groups[i].added);
		sort_span(d, &d->groups[i].removed);
	}
	if (d->ngroups > 1)
		qsort_r(d->groups, d->ngroups, sizeof(*d->groups), group_cmp, d);
	return 0;
}

int diff_compute(struct kt_diff *d, const struct kt_snapshot *a, const struct kt_snapshot *b)
{
	struct builder bd = { .d = d };
	int r;

	memset(d, 0, sizeof(*d));
	d->a = a;
	d->b = b;
	r = side_init(&bd.a, a);
	if (!r)
		r = side_init(&bd.b, b);
	if (!r)
		r = match_tasks(&bd);
	if (!r)
		r = find_namers(&bd.a);
	if (!r)
		r = find_namers(&bd.b);
	if (!r) {
		sort_fds(&bd.a);
		sort_fds(&bd.b);
		r = match_fds(&bd);
	}
	if (!r)
		r = diff_groups(&bd);
	side_free(&bd.a);
	side_free(&bd.b);
	free(bd.stamp);
	free(bd.overlap);
	free(bd.list);
	if (r)
		diff_free(d);
	return r;
}

void diff_free(struct kt_diff *d)
{
	free(d->tasks);
	free(d->fds);
	free(d->groups);
	free(d->holders);
	memset(d, 0, sizeof(*d));
}

size_t diff_count(const struct kt_diff *d)
{
	return d->ntasks + d->nfds + d->ngroups;
}

const char *diff_op_name(enum kt_diff_op op)
{
	switch (op) {
	case KT_DIFF_APPEARED: return "appeared";
	case KT_DIFF_DISAPPEARED: return "disappeared";
	case KT_DIFF_CHANGED: return "changed";
	}
	return "?";
}

static const char *const task_fields[2 + KT_NR_NS] = {
	"comm",	  "ppid",   "ns.pid",  "ns.mnt",    "ns.net",
	"ns.ipc", "ns.uts", "ns.user", "ns.cgroup", "ns.time",
};

static const char *const fd_fields[] = { "type", "dev", "ino", "path", "flags" };

static const char *bit_name(uint32_t bit, const char *const *names, int n)
{
	if (!bit || (bit & (bit - 1)))
		return "?";
	int i = __builtin_ctz(bit);

	return i < n ? names[i] : "?";
}

const char *diff_task_field_name(uint32_t bit)
{
	return bit_name(bit, task_fields, 2 + KT_NR_NS);
}

const char *diff_fd_field_name(uint32_t bit)
{
	return bit_name(bit, fd_fields, (int)(sizeof(fd_fields) / sizeof(fd_fields[0])));
}

/* ---- readable ---- */

static const char op_sign[] = {
	[KT_DIFF_APPEARED] = '+', [KT_DIFF_DISAPPEARED] = '-', [KT_DIFF_CHANGED] = '~'
};

/* Kernel names are bytes: control characters would break the lines. */
static void put_name(FILE *out, const char *str, size_t max)
{
	for (size_t i = 0; i < max && str[i]; i++) {
		unsigned char c = (unsigned char)str[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void put_task(FILE *out, uint32_t tid, const struct kt_task *t)
{
	fprintf(out, "%u ", tid);
	put_name(out, t->rec.comm, KT_COMM_LEN);
}

static void put_holder(FILE *out, const struct kt_diff_holder *h)
{
	put_task(out, h->tid, h->task);
	if (h->fd >= 0)
		fprintf(out, " fd %d", h->fd);
}

static void put_holders(FILE *out, const struct kt_diff *d, const struct kt_diff_span *sp)
{
	for (uint32_t i = 0; i < sp->n; i++) {
		if (i)
			fputs(", ", out);
		put_holder(out, &d->holders[sp->first + i]);
	}
}

static void put_file(FILE *out, const struct kt_snapshot *s, const struct kt_fd *f)
{
	const char *path = snapshot_path(s, f);

	if (*path)
		put_name(out, path, SIZE_MAX);
	else
		fputc('?', out);
	fprintf(out, " [%s]", kt_ftype_name(f->rec.ftype));
}

static void text_task(FILE *out, const struct kt_diff_task *e)
{
	const struct kt_task *t = e->b ? e->b : e->a;

	fprintf(out, "  %c ", op_sign[e->op]);
	put_task(out, t->rec.tid, t);
	if (e->op != KT_DIFF_CHANGED) {
		fprintf(out, ": tgid %u, ppid %u\n", t->rec.tgid, t->rec.ppid);
		return;
	}
	fputc(':', out);
	for (uint32_t bits = e->what, n = 0; bits; bits &= bits - 1, n++) {
		uint32_t bit = bits & -bits;

		fprintf(out, "%s %s ", n ? "," : "", diff_task_field_name(bit));
		if (bit == KT_DT_COMM) {
			put_name(out, e->a->rec.comm, KT_COMM_LEN);
			fputs(" -> ", out);
			put_name(out, e->b->rec.comm, KT_COMM_LEN);
		} else if (bit == KT_DT_PPID) {
			fprintf(out, "%u -> %u", e->a->rec.ppid, e->b->rec.ppid);
		} else {
			int ns = __builtin_ctz(bit) - 2;

			fprintf(out, "%u -> %u", e->a->rec.ns[ns], e->b->rec.ns[ns]);
		}
	}
	fputc('\n', out);
}

static void text_fd(FILE *out, const struct kt_diff *d, const struct kt_diff_fd *e)
{
	fprintf(out, "  %c ", op_sign[e->op]);
	put_holder(out, &e->who);
	fputs(": ", out);
	if (e->op != KT_DIFF_CHANGED) {
		put_file(out, e->b ? d->b : d->a, e->b ? e->b : e->a);
		fputc('\n', out);
		return;
	}
	for (uint32_t bits = e->what, n = 0; bits; bits &= bits - 1, n++) {
		uint32_t bit = bits & -bits;

		fprintf(out, "%s%s ", n ? ", " : "", diff_fd_field_name(bit));
		switch (bit) {
		case KT_DF_TYPE:
			fprintf(out, "%s -> %s", kt_ftype_name(e->a->rec.ftype),
				kt_ftype_name(e->b->rec.ftype));
			break;
		case KT_DF_DEV: fprintf(out, "%u -> %u", e->a->rec.dev, e->b->rec.dev); break;
		case KT_DF_INO: fprintf(out, "%llu -> %llu", e->a->rec.ino, e->b->rec.ino); break;
		case KT_DF_PATH:
			put_name(out, *snapshot_path(d->a, e->a) ? snapshot_path(d->a, e->a) : "?",
				 SIZE_MAX);
			fputs(" -> ", out);
			put_name(out, *snapshot_path(d->b, e->b) ? snapshot_path(d->b, e->b) : "?",
				 SIZE_MAX);
			break;
		default: fprintf(out, "0%o -> 0%o", e->a->rec.flags, e->b->rec.flags);
		}
	}
	fputc('\n', out);
}

static void text_group(FILE *out, const struct kt_diff *d, const struct kt_diff_group *g)
{
	fprintf(out, "  %c ", op_sign[g->op]);
	if (g->kind == KT_FILE) {
		put_file(out, g->op == KT_DIFF_DISAPPEARED ? d->a : d->b, g->file);
		fputs(": ", out);
	}
	put_holders(out, d, &g->holders);
	if (g->op == KT_DIFF_CHANGED && g->from > 1)
		fprintf(out, " (from %u groups)", g->from);
	fputc('\n', out);
	if (g->op != KT_DIFF_CHANGED)
		return;
	if (g->added.n) {
		fputs("      added: ", out);
		put_holders(out, d, &g->added);
		fputc('\n', out);
	}
	if (g->removed.n) {
		fputs("      removed: ", out);
		put_holders(out, d, &g->removed);
		fputc('\n', out);
	}
}

static void text_side(FILE *out, const char *mark, const char *name, const struct kt_snapshot *s)
{
	fprintf(out, "%s ", mark);
	put_name(out, name, SIZE_MAX);
	fprintf(out, " (backend %s, target ", s->backend ? s->backend : "?");
	put_name(out, s->target[0] ? s->target : "?", sizeof(s->target));
	fputs(")\n", out);
}

int diff_write_text(FILE *out, const struct kt_diff *d, const char *name_a, const char *name_b)
{
	if (!diff_count(d)) {
		fputs("no differences\n", out);
		return ferror(out) ? -EIO : 0;
	}
	text_side(out, "---", name_a, d->a);
	text_side(out, "+++", name_b, d->b);
	if (d->ntasks)
		fputs("\nTasks:\n", out);
	for (size_t i = 0; i < d->ntasks; i++)
		text_task(out, &d->tasks[i]);
	if (d->nfds)
		fputs("\nFds:\n", out);
	for (size_t i = 0; i < d->nfds; i++)
		text_fd(out, d, &d->fds[i]);
	for (size_t i = 0; i < d->ngroups; i++) {
		if (!i || d->groups[i].kind != d->groups[i - 1].kind)
			fprintf(out, "\nShared %s:\n", kt_kind_name(d->groups[i].kind));
		text_group(out, d, &d->groups[i]);
	}
	fprintf(out, "\n%zu differences: %zu tasks, %zu fds, %zu sharing groups\n", diff_count(d),
		d->ntasks, d->nfds, d->ngroups);
	return ferror(out) ? -EIO : 0;
}

/* ---- JSON ---- */

static void json_side(struct jw *w, const char *key, const char *name, const struct kt_snapshot *s)
{
	const char *backend = s->backend ? s->backend : "";

	jw_open(w, key, false);
	jw_key(w, "name");
	jw_str(w, name, strlen(name));
	jw_key(w, "backend");
	jw_str(w, backend, strlen(backend));
	jw_key(w, "taken_at_ns");
	jw_u64(w, s->taken_at_ns);
	jw_close(w, false);
}

static void json_task(struct jw *w, const char *key, const struct kt_task *t)
{
	jw_open(w, key, false);
	jw_key(w, "tgid");
	jw_int(w, t->rec.tgid);
	jw_key(w, "ppid");
	jw_int(w, t->rec.ppid);
	jw_key(w, "comm");
	jw_str(w, t->rec.comm, strnlen(t->rec.comm, KT_COMM_LEN));
	jw_open(w, "ns", false);
	for (int n = 0; n < KT_NR_NS; n++) {
		jw_key(w, kt_ns_name(n));
		jw_int(w, t->rec.ns[n]);
	}
	jw_close(w, false);
	jw_close(w, false);
}

static void json_type_path(struct jw *w, const struct kt_snapshot *s, const struct kt_fd *f)
{
	const char *path = snapshot_path(s, f);

	jw_key(w, "type");
	jw_lit(w, kt_ftype_name(f->rec.ftype));
	if (*path) {
		jw_key(w, "path");
		jw_str(w, path, strlen(path));
	}
}

static void json_file(struct jw *w, const char *key, const struct kt_snapshot *s,
		      const struct kt_fd *f)
{
	jw_open(w, key, false);
	json_type_path(w, s, f);
	jw_key(w, "flags");
	jw_int(w, f->rec.flags);
	jw_key(w, "dev");
	jw_int(w, f->rec.dev);
	jw_key(w, "ino");
	jw_u64(w, f->rec.ino);
	jw_close(w, false);
}

static void json_changed(struct jw *w, uint32_t what, const char *(*name)(uint32_t))
{
	jw_open(w, "changed", true);
	for (uint32_t bits = what; bits; bits &= bits - 1)
		jw_lit(w, name(bits & -bits));
	jw_close(w, true);
}

static void json_holder_fields(struct jw *w, const struct kt_diff_holder *h)
{
	jw_key(w, "tid");
	jw_int(w, h->tid);
	jw_key(w, "start");
	jw_u64(w, h->start);
	if (h->fd >= 0) {
		jw_key(w, "fd");
		jw_int(w, h->fd);
	}
}

static void json_holders(struct jw *w, const char *key, const struct kt_diff *d,
			 const struct kt_diff_span *sp)
{
	jw_open(w, key, true);
	for (uint32_t i = 0; i < sp->n && !w->err; i++) {
		jw_open(w, NULL, false);
		json_holder_fields(w, &d->holders[sp->first + i]);
		jw_close(w, false);
	}
	jw_close(w, true);
}

static void json_tasks(struct jw *w, const struct kt_diff *d)
{
	jw_open(w, "tasks", true);
	for (size_t i = 0; i < d->ntasks && !w->err; i++) {
		const struct kt_diff_task *e = &d->tasks[i];
		const struct kt_task *t = e->b ? e->b : e->a;

		jw_open(w, NULL, false);
		jw_key(w, "op");
		jw_lit(w, diff_op_name(e->op));
		jw_key(w, "tid");
		jw_int(w, t->rec.tid);
		jw_key(w, "start");
		jw_u64(w, t->rec.start_ticks);
		if (e->op == KT_DIFF_CHANGED)
			json_changed(w, e->what, diff_task_field_name);
		if (e->a)
			json_task(w, "a", e->a);
		if (e->b)
			json_task(w, "b", e->b);
		jw_close(w, false);
	}
	jw_close(w, true);
}

static void json_fds(struct jw *w, const struct kt_diff *d)
{
	jw_open(w, "fds", true);
	for (size_t i = 0; i < d->nfds && !w->err; i++) {
		const struct kt_diff_fd *e = &d->fds[i];

		jw_open(w, NULL, false);
		jw_key(w, "op");
		jw_lit(w, diff_op_name(e->op));
		json_holder_fields(w, &e->who);
		if (e->op == KT_DIFF_CHANGED)
			json_changed(w, e->what, diff_fd_field_name);
		if (e->a)
			json_file(w, "a", d->a, e->a);
		if (e->b)
			json_file(w, "b", d->b, e->b);
		jw_close(w, false);
	}
	jw_close(w, true);
}

static void json_group(struct jw *w, const struct kt_diff *d, const struct kt_diff_group *g)
{
	jw_open(w, NULL, false);
	jw_key(w, "op");
	jw_lit(w, diff_op_name(g->op));
	if (g->kind == KT_FILE)
		json_type_path(w, g->op == KT_DIFF_DISAPPEARED ? d->a : d->b, g->file);
	json_holders(w, "holders", d, &g->holders);
	if (g->op == KT_DIFF_CHANGED) {
		json_holders(w, "added", d, &g->added);
		json_holders(w, "removed", d, &g->removed);
		jw_key(w, "from");
		jw_int(w, g->from);
	}
	jw_close(w, false);
}

int diff_write_json(FILE *out, const struct kt_diff *d, const char *name_a, const char *name_b)
{
	struct jw w;
	size_t i = 0;
	int r = jw_init(&w, out);

	if (r)
		return r;
	jw_open(&w, NULL, false);
	jw_key(&w, "schema");
	jw_lit(&w, "kcmptrace-diff");
	jw_key(&w, "version");
	jw_int(&w, 1);
	json_side(&w, "a", name_a, d->a);
	json_side(&w, "b", name_b, d->b);
	jw_key(&w, "differences");
	jw_u64(&w, diff_count(d));
	json_tasks(&w, d);
	json_fds(&w, d);
	jw_open(&w, "shared", false);
	/* groups are in kind order: each kind's are one run */
	for (int k = 0; k < KT_NR_KINDS; k++) {
		jw_open(&w, kt_kind_name(k), true);
		for (; i < d->ngroups && d->groups[i].kind == k && !w.err; i++)
			json_group(&w, d, &d->groups[i]);
		jw_close(&w, true);
	}
	jw_close(&w, false);
	jw_close(&w, false);
	return jw_finish(&w);
}
