// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Cold snapshot: iter/task emits one kt_task_rec per target task (thread),
 * iter/task_file one kt_fd_rec (+ path) per fd of each distinct fd table.
 * Records go straight into the iterator's seq_file; userspace read()s them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "kcmptrace.h"
#include "genid.bpf.h"
#include "target.bpf.h"
#include "records.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile bool want_paths = true;
const volatile bool skip_kthreads = true;

/*
 * Set by the live tracer for rescans: the iterator is already narrowed to
 * one task (link_info), which may have joined the target after load.
 */
bool unfiltered = false;

/* Set by the live tracer's checks: count each task's open fds (kt_task_rec.open_fds). */
bool count_fds = false;

static __always_inline bool wanted(struct task_struct *t)
{
	__u32 flags = BPF_CORE_READ(t, flags);

	if (skip_kthreads && (flags & PF_KTHREAD))
		return false;
	/* a task that began exiting has dropped or is dropping its objects */
	if (flags & PF_EXITING)
		return false;
	return unfiltered || task_in_target(t);
}

/*
 * iter/task_file visits a task's fds one after another: decide once per
 * task, not per fd (a tree target walks the task's ancestry).  Per CPU, and
 * keyed by the task, so concurrent iterators cannot mix their answers.
 */
struct wanted_cache {
	__u32 tid; /* 0: empty; tids are unique among live tasks */
	bool wanted;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wanted_cache);
} task_cache SEC(".maps");

static __always_inline bool wanted_cached(struct task_struct *t, bool first)
{
	__u32 zero = 0;
	struct wanted_cache *c = bpf_map_lookup_elem(&task_cache, &zero);
	__u32 tid = t->pid;

	if (!c)
		return wanted(t);
	/* a new run may filter differently (unfiltered): start afresh */
	if (first || c->tid != tid || !tid) {
		c->wanted = wanted(t);
		c->tid = tid;
	}
	return c->wanted;
}

struct count_ctx {
	__u64 words; /* the open_fds bitmap's address */
	__u32 n;
};

static long count_word(__u64 i, struct count_ctx *c)
{
	/* a plain fault-safe load, as slot_file() in trace.bpf.c reads a slot */
	__u64 w = core_cast((void *)(c->words + i * sizeof(__u64)), struct rlimit)->rlim_cur;

	c->n += __builtin_popcountll(w);
	return 0;
}

/*
 * The kernel keeps no count of a table's fds, only the bitmap of slots in
 * use; a slot reserved but not yet filled counts too, which only a task
 * inside an fd syscall has.
 */
static __always_inline __u32 open_fds(struct task_struct *t)
{
	struct files_struct *files = t->files;
	struct fdtable *fdt = files ? files->fdt : NULL;
	struct count_ctx c = { 0, 0 };

	if (!fdt)
		return 0;
	c.words = (__u64)(unsigned long)fdt->open_fds;
	bpf_loop(fdt->max_fds / 64, count_word, &c, 0);
	return c.n;
}

SEC("iter/task")
int snapshot_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct kt_task_rec r;

	if (!t || !wanted(t))
		return 0;
	fill_task_rec(&r, t);
	if (count_fds)
		r.open_fds = open_fds(t);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

SEC("iter/task_file")
int snapshot_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *t = ctx->task;
	struct file *f = ctx->file;
	struct {
		struct kt_fd_rec rec;
		char path[KT_PATH_MAX];
	} out;
	__u32 len = 0;
	long n;

	if (!t || !f || !wanted_cached(t, ctx->meta->seq_num == 0))
		return 0;
	fill_fd_rec(&out.rec, t->tgid, t->pid, ctx->fd, f, 0);
	if (want_paths) {
		n = bpf_d_path((struct path *)&f->f_path, out.path, sizeof(out.path));
		if (n > 1)
			len = (n - 1) & (KT_PATH_MAX - 1);
	}
	out.rec.path_len = len;
	bpf_seq_write(ctx->meta->seq, &out, sizeof(out.rec) + len);
	return 0;
}
