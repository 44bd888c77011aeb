// SPDX-License-Identifier: LGPL-2.1
/*
 * One line per sharing change: who now shares what with whom, and how it
 * came to be.  JSON lines use the snapshot schema's names.
 */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include "line_buf.h"
#include "trace_output.h"
#include "util.h"

#define MAX_HOLDERS_SHOWN 6

static const char *comm_of(struct kt_tracer *tr, uint32_t tid)
{
	struct live_task *t = live_task_get(&tr->st, tid);

	return t ? t->rec.comm : "?";
}

static uint32_t tgid_of(struct kt_tracer *tr, uint32_t tid)
{
	struct live_task *t = live_task_get(&tr->st, tid);

	return t ? t->rec.tgid : tid;
}

static struct live_fd *any_fd(struct live_obj *obj)
{
	return obj && obj->holders ? live_hold_fd(obj->holders) : NULL;
}

/* ---- lines ---- */

static void line_holders(struct line_buf *b, struct kt_tracer *tr, struct live_obj *obj)
{
	int n = 0;

	for (struct live_hold *h = obj->holders; h; h = h->next, n++) {
		struct live_fd *fd = live_hold_fd(h);

		if (n == MAX_HOLDERS_SHOWN) {
			lb_lit(b, " +");
			lb_u64(b, obj->nholders - MAX_HOLDERS_SHOWN, 0);
			lb_lit(b, " more");
			break;
		}
		if (n)
			lb_lit(b, ", ");
		lb_u64(b, tgid_of(tr, fd->table->key_tid), 0);
		lb_lit(b, " fd ");
		lb_int(b, fd->fd);
	}
}

static void line_kinds(struct line_buf *b, uint32_t kinds)
{
	const char *sep = "";

	for (int k = KT_VM; k < KT_NR_KINDS; k++)
		if (kinds & (1u << k)) {
			lb_str(b, sep);
			lb_str(b, kt_kind_name(k));
			sep = ",";
		}
}

/* Kinds of object the child holds in common with its parent. */
static uint32_t shared_with_parent(struct kt_tracer *tr, const struct kt_change *ch)
{
	struct live_task *c = live_task_get(&tr->st, ch->tid);
	struct live_task *p = live_task_get(&tr->st, ch->parent_tid);
	uint32_t kinds = 0;

	for (int k = KT_VM; c && p && k < KT_NR_KINDS; k++)
		if (c->hold[k].obj && c->hold[k].obj == p->hold[k].obj)
			kinds |= 1u << k;
	return kinds;
}

/* "path [type]" of the file @obj */
static void line_file(struct line_buf *b, struct live_obj *obj)
{
	struct live_fd *fd = any_fd(obj);

	lb_str(b, tracer_fd_path(fd));
	lb_lit(b, " [");
	lb_str(b, kt_ftype_name(obj->ftype));
	lb_lit(b, "]");
}

/* Seconds since the start, as %+11.6f would print them. */
static void line_time(struct line_buf *b, int64_t d)
{
	uint64_t a = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	char tmp[24], ts[48], *p = ts;
	const char *sec = lb_digits(tmp, a / 1000000000);
	size_t n = strlen(sec);

	*p++ = d < 0 ? '-' : '+';
	memcpy(p, sec, n);
	p += n;
	*p++ = '.';
	memcpy(p, lb_digits(tmp, 1000000 + a % 1000000000 / 1000) + 1, 7); /* 6 digits and NUL */
	lb_str_right(b, ts, 11);
}

static void line_fd(struct line_buf *b, struct kt_tracer *tr, const struct kt_change *ch)
{
	bool shared = ch->now && ch->now->nholders >= 2;

	lb_lit(b, " fd ");
	lb_int(b, ch->fd);
	if (shared) {
		lb_lit(b, ": ");
		line_file(b, ch->now);
		lb_lit(b, " shared by ");
		line_holders(b, tr, ch->now);
	}
	if (ch->was) {
		lb_str(b, shared ? "; " : ": ");
		line_file(b, ch->was);
		lb_lit(b, " still held by ");
		line_holders(b, tr, ch->was);
	}
}

static void report_line(struct trace_output *o, struct kt_tracer *tr, const struct kt_change *ch)
{
	struct line_buf b = { .len = 0 };
	uint32_t kinds;

	line_time(&b, (int64_t)(ch->ts_ns - o->t0_ns));
	lb_lit(&b, " ");
	lb_str_left(&b, ch->cause, 13);
	lb_lit(&b, " ");
	lb_u64(&b, ch->tgid, 7);
	lb_lit(&b, " ");
	lb_str_left(&b, comm_of(tr, ch->tid), 15);
	switch (ch->type) {
	case KT_CH_FORK:
		lb_lit(&b, " from ");
		lb_u64(&b, tgid_of(tr, ch->parent_tid), 0);
		if (ch->tid != ch->tgid) {
			lb_lit(&b, " (thread ");
			lb_u64(&b, ch->tid, 0);
			lb_lit(&b, ")");
		}
		kinds = shared_with_parent(tr, ch);
		lb_str(&b, kinds ? ": shares " : ": copies, shares no task object");
		line_kinds(&b, kinds);
		break;
	case KT_CH_EXEC:
		if (ch->count) {
			lb_lit(&b, ": ");
			lb_u64(&b, ch->count, 0);
			lb_lit(&b, " close-on-exec fds closed");
		}
		break;
	case KT_CH_TASK:
		lb_lit(&b, ": own ");
		line_kinds(&b, ch->kinds);
		break;
	case KT_CH_FD: line_fd(&b, tr, ch); break;
	case KT_CH_LOST:
		lb_lit(&b, ": ");
		lb_u64(&b, ch->count, 0);
		lb_lit(&b, " events lost; the processes they touched were rescanned");
		break;
	case KT_CH_EXIT: break;
	}
	lb_lit(&b, "\n");
	lb_write(&b, o->out);
}

/* ---- JSON lines ---- */

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_kv_int(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

static void gen_file(yajl_gen g, struct kt_tracer *tr, const char *key, struct live_obj *obj)
{
	struct live_fd *fd = any_fd(obj);

	gen_str(g, key);
	yajl_gen_map_open(g);
	gen_kv_int(g, "id", live_obj_id(&fd->hold));
	gen_str(g, "type");
	gen_str(g, kt_ftype_name(fd->hold.obj->ftype));
	gen_str(g, "path");
	gen_str(g, tracer_fd_path(fd));
	gen_str(g, "holders");
	yajl_gen_array_open(g);
	for (struct live_hold *h = obj->holders; h; h = h->next) {
		struct live_fd *hf = live_hold_fd(h);

		yajl_gen_map_open(g);
		gen_kv_int(g, "tgid", tgid_of(tr, hf->table->key_tid));
		gen_kv_int(g, "tid", hf->table->key_tid);
		gen_kv_int(g, "fd", hf->fd);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

static void gen_kinds(yajl_gen g, const char *key, uint32_t kinds)
{
	gen_str(g, key);
	yajl_gen_array_open(g);
	for (int k = KT_VM; k < KT_NR_KINDS; k++)
		if (kinds & (1u << k))
			gen_str(g, kt_kind_name(k));
	yajl_gen_array_close(g);
}

static const char *const change_names[] = {
	[KT_CH_FORK] = "fork", [KT_CH_EXEC] = "exec", [KT_CH_EXIT] = "exit",
	[KT_CH_TASK] = "task", [KT_CH_FD] = "fd",     [KT_CH_LOST] = "lost",
};

static void emit_json(struct trace_output *o, yajl_gen g)
{
	const unsigned char *buf;
	size_t len;

	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, o->out);
	fputc('\n', o->out);
	yajl_gen_free(g);
}

static void report_json(struct trace_output *o, struct kt_tracer *tr, const struct kt_change *ch)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	gen_str(g, "event");
	gen_str(g, change_names[ch->type]);
	gen_str(g, "cause");
	gen_str(g, ch->cause);
	gen_str(g, "time");
	yajl_gen_double(g, (double)(int64_t)(ch->ts_ns - o->t0_ns) / 1e9);
	gen_kv_int(g, "tgid", ch->tgid);
	gen_kv_int(g, "tid", ch->tid);
	gen_str(g, "comm");
	gen_str(g, comm_of(tr, ch->tid));
	switch (ch->type) {
	case KT_CH_FORK:
		gen_kv_int(g, "parent_tid", ch->parent_tid);
		gen_kv_int(g, "clone_flags", (long long)ch->clone_flags);
		gen_kinds(g, "shares", shared_with_parent(tr, ch));
		break;
	case KT_CH_TASK: gen_kinds(g, "own", ch->kinds); break;
	case KT_CH_FD:
		gen_kv_int(g, "fd", ch->fd);
		if (ch->now && ch->now->nholders >= 2)
			gen_file(g, tr, "file", ch->now);
		if (ch->was)
			gen_file(g, tr, "released", ch->was);
		break;
	case KT_CH_EXEC:
	case KT_CH_LOST: gen_kv_int(g, "count", (long long)ch->count); break;
	case KT_CH_EXIT: break;
	}
	yajl_gen_map_close(g);
	emit_json(o, g);
}

void trace_output_report(struct kt_tracer *tr, const struct kt_change *ch, void *arg)
{
	struct trace_output *o = arg;

	if (o->json)
		report_json(o, tr, ch);
	else
		report_line(o, tr, ch);
}

void trace_output_summary(struct trace_output *o, struct kt_tracer *tr)
{
	struct kid_stats k = live_stats(&tr->st);

	if (!o->json) {
		fprintf(o->out,
			"summary: %zu tasks, %llu fds, %llu events, %llu lost events, %llu "
			"rescans, "
			"%llu kcmp calls\n",
			tr->st.tasks.len, (unsigned long long)tr->st.nfds,
			(unsigned long long)tr->c.events, (unsigned long long)tr->c.lost,
			(unsigned long long)tr->c.rescans, (unsigned long long)k.kcmp_calls);
		return;
	}
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	gen_str(g, "event");
	gen_str(g, "summary");
	gen_kv_int(g, "tasks", (long long)tr->st.tasks.len);
	gen_kv_int(g, "fds", (long long)tr->st.nfds);
	gen_kv_int(g, "events", (long long)tr->c.events);
	gen_kv_int(g, "lost_events", (long long)tr->c.lost);
	gen_kv_int(g, "rescans", (long long)tr->c.rescans);
	gen_kv_int(g, "kcmp_calls", (long long)k.kcmp_calls);
	yajl_gen_map_close(g);
	emit_json(o, g);
}

void trace_output_ready(struct trace_output *o, struct kt_tracer *tr, const char *target)
{
	kt_err("tracing %s: %zu tasks, %llu fds", target, tr->st.tasks.len,
	       (unsigned long long)tr->st.nfds);
}
