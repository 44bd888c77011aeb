// SPDX-License-Identifier: LGPL-2.1
/*
 * Graphviz: processes are nodes; every object shared across processes is a
 * node of its own, joined to its holders, one shape per kind.
 */
#include <errno.h>
#include <stdio.h>
#include "export.h"

static const char *const kind_shapes[KT_NR_KINDS] = {
	[KT_FILE] = "note",	  [KT_VM] = "box3d",	[KT_FILES] = "folder",	    [KT_FS] = "tab",
	[KT_SIGHAND] = "octagon", [KT_IO] = "cylinder", [KT_SYSVSEM] = "component",
};

static void put_escaped(FILE *out, const char *str)
{
	for (; *str; str++) {
		if (*str == '"' || *str == '\\')
			fputc('\\', out);
		if ((unsigned char)*str >= 0x20)
			fputc(*str, out);
	}
}

static void put_processes(FILE *out, const struct kt_snapshot *s)
{
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct kt_task *t = &s->tasks[i];

		if (t->dropped || t->rec.tid != t->rec.tgid)
			continue;
		fprintf(out, "  p%u [shape=ellipse, label=\"%u\\n", t->rec.tgid, t->rec.tgid);
		put_escaped(out, t->rec.comm);
		fputs("\"];\n", out);
	}
}

static uint32_t member_tgid(const struct kt_snapshot *s, const struct kt_groups *g,
			    const struct kt_group *grp, uint32_t m)
{
	uint32_t idx = g->members[grp->first + m];

	if (grp->kind == KT_FILE)
		idx = s->fds[idx].task;
	return s->tasks[idx].rec.tgid;
}

static void put_group(FILE *out, const struct kt_snapshot *s, const struct kt_groups *g,
		      const struct kt_group *grp)
{
	const char *kind = kt_kind_name(grp->kind);
	uint32_t last = 0;

	fprintf(out, "  %s%u [shape=%s, label=\"%s %u", kind, grp->id, kind_shapes[grp->kind], kind,
		grp->id);
	if (grp->kind == KT_FILE) {
		fputs("\\n", out);
		put_escaped(out, snapshot_path(s, &s->fds[g->members[grp->first]]));
	}
	fputs("\"];\n", out);
	/* members are sorted, so one edge per process is a comparison with the last */
	for (uint32_t m = 0; m < grp->nmembers; m++) {
		uint32_t tgid = member_tgid(s, g, grp, m);

		if (tgid == last)
			continue;
		fprintf(out, "  p%u -- %s%u;\n", tgid, kind, grp->id);
		last = tgid;
	}
}

int export_dot(FILE *out, const struct kt_snapshot *s, const struct kt_export_opts *o)
{
	struct kt_groups g;
	int r = groups_build(&g, s);

	if (r)
		return r;
	fputs("graph kcmptrace {\n  graph [overlap=false, label=\"kcmptrace: ", out);
	put_escaped(out, o->target_desc);
	fputs("\"];\n", out);
	put_processes(out, s);
	for (size_t i = 0; i < g.ngroups; i++)
		if (g.groups[i].nprocs >= 2)
			put_group(out, s, &g, &g.groups[i]);
	fputs("}\n", out);
	groups_free(&g);
	return ferror(out) ? -EIO : 0;
}
