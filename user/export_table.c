// SPDX-License-Identifier: LGPL-2.1
/*
 * The readable default output: for each kind, the groups of holders that
 * share one object.  Sharing among the threads of one process is the norm
 * for task-level objects, so those groups show only when they span
 * processes; threads that broke away from their process (unshare) are
 * listed on their own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "export.h"
#include "snapshot_json.h"

static const char *const kind_titles[KT_NR_KINDS] = {
	[KT_FILE] = "open files",
	[KT_VM] = "address spaces (vm)",
	[KT_FILES] = "fd tables (files)",
	[KT_FS] = "fs (cwd, root, umask)",
	[KT_SIGHAND] = "signal handler tables (sighand)",
	[KT_IO] = "io contexts",
	[KT_SYSVSEM] = "SysV semaphore undo lists",
};

static size_t count_procs(const struct kt_snapshot *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ntasks; i++)
		if (!s->tasks[i].dropped && s->tasks[i].rec.tid == s->tasks[i].rec.tgid)
			n++;
	return n;
}

static size_t count_live(const struct kt_snapshot *s, bool fds)
{
	size_t n = 0;

	if (fds) {
		for (size_t i = 0; i < s->nfds; i++)
			n += s->fds[i].id != 0;
		return n;
	}
	for (size_t i = 0; i < s->ntasks; i++)
		n += !s->tasks[i].dropped;
	return n;
}

static void print_fd_group(FILE *out, const struct kt_snapshot *s, const struct kt_groups *g,
			   const struct kt_group *grp)
{
	const struct kt_fd *first = &s->fds[g->members[grp->first]];
	const char *path = snapshot_path(s, first);

	fprintf(out, "  file %-6u %s [%s]\n", grp->id, *path ? path : "?",
		kt_ftype_name(first->rec.ftype));
	for (uint32_t m = 0; m < grp->nmembers; m++) {
		const struct kt_fd *f = &s->fds[g->members[grp->first + m]];
		const struct kt_task *t = &s->tasks[f->task];

		fprintf(out, "      %7u %-16s fd %d\n", t->rec.tgid, t->rec.comm, f->rec.fd);
	}
}

/* Members grouped by process: "1201 bash (threads 1201,1205)". */
static void print_task_group(FILE *out, const struct kt_snapshot *s, const struct kt_groups *g,
			     const struct kt_group *grp)
{
	fprintf(out, "  %-5s %-6u", kt_kind_name(grp->kind), grp->id);
	for (uint32_t m = 0; m < grp->nmembers;) {
		const struct kt_task *t = &s->tasks[g->members[grp->first + m]];
		uint32_t tgid = t->rec.tgid, n = 0;

		while (m + n < grp->nmembers &&
		       s->tasks[g->members[grp->first + m + n]].rec.tgid == tgid)
			n++;
		fprintf(out, "\n      %7u %-16s", tgid, t->rec.comm);
		if (n > 1)
			fprintf(out, " (%u threads)", n);
		m += n;
	}
	fputc('\n', out);
}

static void print_kind(FILE *out, const struct kt_snapshot *s, const struct kt_groups *g, int kind)
{
	size_t shown = 0;

	for (size_t i = 0; i < g->ngroups; i++) {
		const struct kt_group *grp = &g->groups[i];

		if (grp->kind != kind || (kind != KT_FILE && grp->nprocs < 2))
			continue;
		if (!shown++)
			fprintf(out, "\nShared %s:\n", kind_titles[kind]);
		if (kind == KT_FILE)
			print_fd_group(out, s, g, grp);
		else
			print_task_group(out, s, g, grp);
	}
}

/* Threads whose object differs from their process leader's. */
static void print_split_threads(FILE *out, const struct kt_snapshot *s)
{
	size_t shown = 0, leader = 0;

	for (size_t i = 0; i < s->ntasks; i++) {
		const struct kt_task *t = &s->tasks[i];

		if (t->rec.tid == t->rec.tgid) {
			leader = i;
			continue;
		}
		if (t->dropped || s->tasks[leader].rec.tgid != t->rec.tgid)
			continue;
		for (int k = KT_VM; k < KT_NR_KINDS; k++) {
			if (t->id[k] == s->tasks[leader].id[k])
				continue;
			if (!shown++)
				fprintf(out, "\nThreads with objects of their own:\n");
			fprintf(out, "  %7u %-16s thread %u: %s %u (process has %u)\n", t->rec.tgid,
				s->tasks[leader].rec.comm, t->rec.tid, kt_kind_name(k), t->id[k],
				s->tasks[leader].id[k]);
		}
	}
}

int export_stats(FILE *out, const struct kt_snapshot *s)
{
	uint64_t total = 0;

	fprintf(out,
		"\nStats: %zu tasks, %zu fds; left out: %llu vanished tasks, %llu closed fds, "
		"%llu tasks without ptrace access\n",
		count_live(s, false), count_live(s, true), (unsigned long long)s->dropped_tasks,
		(unsigned long long)s->dropped_fds, (unsigned long long)s->inaccessible_tasks);
	fprintf(out, "  %-8s %10s %10s %10s %7s\n", "kind", "objects", "collisions", "kcmp_calls",
		"errors");
	for (int k = 0; k < KT_NR_KINDS; k++) {
		const struct kid_stats *st = &s->kind_stats[k];

		fprintf(out, "  %-8s %10llu %10llu %10llu %7llu\n", kt_kind_name(k),
			(unsigned long long)st->entries, (unsigned long long)st->collisions,
			(unsigned long long)st->kcmp_calls, (unsigned long long)st->errors);
	}
	fprintf(out, "  time:");
	for (int p = 0; p < KT_NR_PHASES; p++) {
		fprintf(out, " %s %.3f ms", snapshot_json_phase_name(p),
			(double)s->phase_ns[p] / 1e6);
		total += s->phase_ns[p];
	}
	fprintf(out, ", total %.3f ms\n", (double)total / 1e6);
	return ferror(out) ? -EIO : 0;
}

int export_table(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o)
{
	struct kt_groups g;
	int r = groups_build(&g, s);

	if (r)
		return r;
	fprintf(out,
		"kcmptrace: %zu processes, %zu tasks, %zu fds; target %s; backend %s, gen_id %s\n",
		count_procs(s), count_live(s, false), count_live(s, true), o->target_desc,
		s->backend, s->genid == KT_GENID_CRIU ? "criu" : "addr");
	if (s->lost_events)
		fprintf(out, "warning: %llu events were lost and repaired by rescanning\n",
			(unsigned long long)s->lost_events);
	for (int k = 0; k < KT_NR_KINDS; k++)
		print_kind(out, s, &g, k);
	print_split_threads(out, s);
	groups_free(&g);
	if (o->stats)
		return export_stats(out, s);
	return ferror(out) ? -EIO : 0;
}
