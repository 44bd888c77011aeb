// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Live tracing: follow the target's tasks through fork, exec, unshare and
 * exit, and report every fd slot that an fd syscall changed.  Filtering is
 * all in the kernel: a syscall outside the table costs one array read, a
 * task outside the target one more lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "kcmptrace.h"
#include "genid.bpf.h"
#include "target.bpf.h"
#include "records.bpf.h"
#include "tick.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CLONE_PIDFD 0x00001000
#define CLONE_SYSVSEM 0x00040000
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define MAX_SLOTS_PER_EVENT 16
#define MAX_MMSG_CHECKED 8
#define MMSGHDR_SIZE 64 /* struct mmsghdr on 64-bit */
#define EBADF 9

/* Syscall number -> enum kt_sys_action, from the loader's <sys/syscall.h>. */
const volatile __u8 sys_action[KT_MAX_SYSCALLS] = {};
/* SECCOMP_IOCTL_NOTIF_ADDFD: installs an fd in another task. */
const volatile __u32 seccomp_addfd_cmd = 0;

/* Counters read by userspace; written with atomics. */
__u64 lost_events = 0;
__u64 dirty_overflow = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader */
} events SEC(".maps");

/*
 * The target set for pid-list and tree targets: tgids, following forks.
 * Userspace lists it; the programs consult it only at fork and seeding.
 * Not preallocated: it holds the target's processes, not 65536 slots.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

/*
 * What each task (thread) of the target carries, in task storage: a
 * pointer chase from the task, cheaper than hashing a tgid.  For pid-list
 * and tree targets, that a task has it is what marks it as the target's,
 * and the mark goes with the task.
 *
 * An fd a task opens into a table only it uses is held back here rather
 * than reported (see hold_back()): most fds are closed by the same task a
 * few syscalls later, and then neither the open nor the close has to be.
 */
#define PENDING_NONE (~0ULL)
#define EPOCH_NONE 0xffffffffU /* odd: never a quiet epoch */

struct task_state {
	__u64 pending;	   /* fd | syscall nr << 32: opened, not reported; or PENDING_NONE */
	__s32 pending_src; /* the pending fd's dup source, or -1 */
	__u32 epoch;	   /* scan_seq at this task's last fd syscall */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_state SEC(".maps");

/*
 * Odd while the loader reads fd tables (a cold scan or a rescan), bumped
 * before and after each: the loader's side of the race hold_back() closes.
 */
__u32 scan_seq = 0;
/* Set when an fd is held back; the loader clears it before flushing. */
__u32 pending_maybe = 0;

static __always_inline struct task_state *new_task_state(struct task_struct *t)
{
	struct task_state init = { .pending = PENDING_NONE,
				   .pending_src = -1,
				   .epoch = EPOCH_NONE };

	return bpf_task_storage_get(&task_state, t, &init, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

/* Processes whose events were lost: userspace rescans them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} dirty SEC(".maps");

/*
 * The io context and SysV undo list last reported for a task: both appear
 * lazily (ioprio_set, semop with SEM_UNDO, clone with CLONE_SYSVSEM
 * allocating the parent's), and semop is too frequent to report each time.
 */
struct lazy_objs {
	__u64 io;
	__u64 undo;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lazy_objs);
} reported SEC(".maps");

/* @t: a trusted task pointer (the current task, or a tracepoint's). */
static __always_inline bool is_tracked(struct task_struct *t)
{
	switch (target_mode) {
	case KT_TARGET_ALL: return !(t->flags & PF_KTHREAD);
	case KT_TARGET_PIDS:
	case KT_TARGET_TREE: return bpf_task_storage_get(&task_state, t, 0, 0) != NULL;
	default: return task_in_target(t);
	}
}

static __always_inline void mark_tracked(struct task_struct *t, __u32 tgid)
{
	__u8 one = 1;

	bpf_map_update_elem(&tracked, &tgid, &one, BPF_ANY);
	new_task_state(t);
}

/* the tick/monotonic pair for userspace (tick.bpf.h) */
__u64 calib_tick_ns = 0;
__u64 calib_mono_ns = 0;

static __always_inline void note_lost(__u32 tgid)
{
	__u8 one = 1;

	__sync_fetch_and_add(&lost_events, 1);
	if (bpf_map_update_elem(&dirty, &tgid, &one, BPF_ANY))
		__sync_fetch_and_add(&dirty_overflow, 1);
}

static __always_inline void *reserve(__u32 size, __u32 type, __u32 cause, __u32 tgid)
{
	struct kt_ev_hdr *h = bpf_ringbuf_reserve(&events, size, 0);

	if (!h) {
		note_lost(tgid);
		return NULL;
	}
	h->type = type;
	h->cause = cause;
	h->ts_ns = tick_ns();
	return h;
}

/*
 * Waking the reader raises an interrupt on this CPU and wakes a thread on
 * another: in a VM, 25-30 us of this task's CPU time per wakeup, several
 * times what the event costs.  With the default (wake when the reader has
 * caught up), a reader that keeps up is woken for every event, which made
 * an open+close four times slower when traced.  So wake it at most once
 * per wakeup_interval_ns (set by the loader from the buffer's size), and
 * forced: the default wakes only a reader that has read every earlier
 * record, which after one record without a wakeup it never has.  The
 * reader applies what is in the buffer at the end of every poll, woken or
 * not: an event that no wakeup follows waits at most for the poll's
 * timeout (100 ms for kcmptrace trace and the daemon), and settling reads
 * the buffer directly.
 */
const volatile __u64 wakeup_interval_ns = 1000000;
__u64 last_wakeup_ns = 0;

static __always_inline void submit(void *e)
{
	__u64 ts = ((struct kt_ev_hdr *)e)->ts_ns;

	if (ts - last_wakeup_ns < wakeup_interval_ns) {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		return;
	}
	last_wakeup_ns = ts; /* racy across CPUs: at worst one more wakeup */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/*
 * @t is the current task, a trusted BTF pointer: the fields on the way to
 * the fd array are plain loads, where BPF_CORE_READ() made a probe-read
 * call of each.  The array holds pointers, which the verifier does not
 * index; the slot is read as the first word of a kernel type that starts
 * with an unsigned long (struct rlimit), a plain load that faults safely,
 * where a probe-read call cost more than the rest of the lookup.
 */
static __always_inline __u64 slot_file(struct task_struct *t, int fd)
{
	struct files_struct *files = t->files;
	struct fdtable *fdt = files ? files->fdt : NULL;
	__u64 arr;

	if (!fdt || fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return 0;
	arr = (__u64)(unsigned long)fdt->fd;
	return core_cast((void *)(arr + (__u64)fd * sizeof(void *)), struct rlimit)->rlim_cur;
}

/* @src: a slot that may hold the same file (a dup's source), or -1 */
static __always_inline void emit_slot_src(struct task_struct *t, __u32 tgid, __u32 nr, int fd,
					  int src)
{
	struct kt_ev_fd *e = reserve(sizeof(*e), KT_EV_FD, nr, tgid);
	__u64 f;

	if (!e)
		return;
	/* read after reserving: see struct kt_ev_fd */
	f = slot_file(t, fd);
	e->same_as = f && src >= 0 && src != fd && slot_file(t, src) == f ? src : -1;
	if (f) {
		fill_fd_rec(&e->rec, tgid, t->pid, fd, core_cast((void *)f, struct file), f);
		e->empty = 0;
	} else {
		__builtin_memset(&e->rec, 0, sizeof(e->rec));
		e->rec.rec_type = KT_REC_FD;
		e->rec.tgid = tgid;
		e->rec.tid = t->pid;
		e->rec.fd = fd;
		e->empty = 1;
	}
	submit(e);
}

static __always_inline void emit_slot(struct task_struct *t, __u32 tgid, __u32 nr, int fd)
{
	emit_slot_src(t, tgid, nr, fd, -1);
}

/*
 * Holding an fd back (not reporting its open) is safe only if whatever
 * could have seen it also sees its close reported.  Three things could:
 *  - another task using the table (a thread, a CLONE_FILES child, a
 *    seccomp supervisor): so only a task alone() with its table holds fds
 *    back, and it reports what it holds before it clones (trace_newtask)
 *    or execs (trace_exec);
 *  - the loader's flush (flush_held), which takes the fd with the same
 *    exchange as here, so that exactly one side reports it; the loader
 *    counts the pass as a scan (below), since it reads the slot later;
 *  - a scan by the loader, which may read the fd at any point from its
 *    install in the syscall to its removal in the close.  A scan bumps
 *    scan_seq before its first read and after its last.  A task holds an
 *    fd back, or drops it at its close, only if scan_seq was even and the
 *    same at its previous fd syscall's exit, at the open's and at the
 *    close's: the install comes after the first, the removal before the
 *    last, so a scan that read the fd in between changed scan_seq or held
 *    it odd at one of them.  Each side orders its write before its read
 *    with a full barrier: the exchange on pending here, the syscalls
 *    around a scan in the loader.
 */
static __always_inline bool quiet(struct task_state *st, bool alone)
{
	__u32 seq = scan_seq;
	bool q = alone && !(seq & 1) && st->epoch == seq;

	st->epoch = alone ? seq : EPOCH_NONE;
	return q;
}

#define MAX_FILTERS_CHECKED 8

/*
 * A seccomp supervisor can put a file in any slot of this task's table and
 * make its syscall return that slot (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD
 * and SEND), replacing what was there: no fd is held back under a filter
 * that has a listener.
 */
static __always_inline bool seccomp_listened(struct task_struct *t)
{
	struct seccomp_filter *f = t->seccomp.filter;

	for (int i = 0; i < MAX_FILTERS_CHECKED && f; i++) {
		if (f->notif)
			return true;
		f = f->prev;
	}
	return f != NULL; /* more filters than we look at: assume so */
}

/*
 * Nobody else can install into or copy the table: one user (new users come
 * only from its clones, which are fd syscalls too), no seccomp supervisor.
 * Asked at every fd syscall, so that a pair is dropped only if it held
 * from the exit before the open to the close's: another user could have
 * replaced the slot between the open's install and its exit, and gone.
 */
static __always_inline bool alone(struct task_struct *t)
{
	struct files_struct *files = t->files;

	return files && files->count.counter == 1 && !seccomp_listened(t);
}

/* fcntl's commands that return a new fd */
static __always_inline bool fcntl_dupfd(struct pt_regs *regs)
{
	return regs->si == F_DUPFD || regs->si == F_DUPFD_CLOEXEC;
}

/* The fd a syscall put in a slot that was free (nothing there to report), or -1. */
static __always_inline int fresh_fd(__u8 act, struct pt_regs *regs, long ret, int *src)
{
	*src = -1;
	switch (act) {
	case KT_ACT_FD_RET: return (int)ret;
	case KT_ACT_DUP_NEW: *src = (int)regs->di; return (int)ret;
	case KT_ACT_FCNTL:
		if (!fcntl_dupfd(regs))
			return -1;
		*src = (int)regs->di;
		return (int)ret;
	}
	return -1;
}

/* Report the fd @t holds back, if any. */
static __always_inline struct task_state *report_held(struct task_struct *t)
{
	struct task_state *st = bpf_task_storage_get(&task_state, t, 0, 0);
	__u64 held;

	if (!st)
		return NULL;
	held = __sync_lock_test_and_set(&st->pending, PENDING_NONE);
	if (held != PENDING_NONE)
		emit_slot_src(t, t->tgid, held >> 32, (int)held, st->pending_src);
	return st;
}

/* The current task clones or execs: its table is about to be shown, or to gain users. */
static __always_inline void report_held_current(struct task_struct *t)
{
	struct task_state *st = report_held(t);

	if (st)
		st->epoch = EPOCH_NONE;
}

/*
 * At every fd syscall of a task with state: report what it held back,
 * unless this is its close; hold back what this one opened, if it may.
 * True when the syscall needs no report of its own.
 */
static __always_inline bool hold_back(struct task_struct *t, struct task_state *st, __u32 tgid,
				      __u32 nr, __u8 act, struct pt_regs *regs, long ret)
{
	__u64 held = __sync_lock_test_and_set(&st->pending, PENDING_NONE);
	bool q = quiet(st, alone(t));
	int fd, src;

	if (held != PENDING_NONE) {
		if (q && act == KT_ACT_CLOSE && (int)held == (int)regs->di)
			return true; /* opened and closed unseen */
		emit_slot_src(t, tgid, held >> 32, (int)held, st->pending_src);
	}
	fd = fresh_fd(act, regs, ret, &src);
	if (!q || fd < 0)
		return false;
	st->pending_src = src;
	__sync_lock_test_and_set(&st->pending, (__u64)nr << 32 | (__u32)fd);
	/* read after the exchange: see flush_held() in tracer.c */
	if (!pending_maybe)
		pending_maybe = 1;
	return true;
}

static __always_inline void emit_rescan(__u32 tgid, __u32 tid, __u32 nr)
{
	struct kt_ev_rescan *e = reserve(sizeof(*e), KT_EV_RESCAN, nr, tgid);

	if (!e)
		return;
	e->tgid = tgid;
	e->tid = tid;
	submit(e);
}

static __always_inline void emit_task(struct task_struct *t, __u32 cause, __u64 flags,
				      __u32 parent_tid, __u32 old_tid, __u32 nr)
{
	__u32 tgid = BPF_CORE_READ(t, tgid);
	struct kt_ev_task *e = reserve(sizeof(*e), KT_EV_TASK, cause, tgid);

	if (!e)
		return;
	e->clone_flags = flags;
	e->parent_tid = parent_tid;
	e->old_tid = old_tid;
	e->syscall_nr = nr;
	e->pad = 0;
	fill_task_rec(&e->rec, t);
	submit(e);
}

static __always_inline void refresh_lazy(struct task_struct *t, __u32 nr)
{
	struct lazy_objs now = {
		.io = (__u64)(unsigned long)BPF_CORE_READ(t, io_context),
		.undo = (__u64)(unsigned long)BPF_CORE_READ(t, sysvsem.undo_list),
	};
	struct lazy_objs *seen = bpf_task_storage_get(&reported, t, 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);

	/* compare hashes, not addresses: even this map holds none */
	now.io = now.io ? genid_hash((void *)now.io) : 0;
	now.undo = now.undo ? genid_hash((void *)now.undo) : 0;
	if (seen && seen->io == now.io && seen->undo == now.undo)
		return;
	if (seen)
		*seen = now;
	emit_task(t, KT_CAUSE_REFRESH, 0, 0, 0, nr);
}

static __always_inline void emit_pair(struct task_struct *t, __u32 tgid, __u32 nr, const void *uptr)
{
	int fds[2];

	if (bpf_probe_read_user(fds, sizeof(fds), uptr)) {
		emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
		return;
	}
	emit_slot(t, tgid, nr, fds[0]);
	emit_slot(t, tgid, nr, fds[1]);
}

static __always_inline void on_close_range(struct task_struct *t, __u32 tgid, __u32 nr,
					   unsigned int first, unsigned int last,
					   unsigned int flags)
{
	if (flags & CLOSE_RANGE_UNSHARE) {
		/* a new table: the task record says so, userspace rescans it */
		emit_task(t, KT_CAUSE_CLOSE_RANGE, 0, 0, 0, nr);
		return;
	}
	if (flags & CLOSE_RANGE_CLOEXEC)
		return;
	if (last - first >= MAX_SLOTS_PER_EVENT) {
		emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
		return;
	}
	for (unsigned int i = 0; i < MAX_SLOTS_PER_EVENT; i++) {
		if (first + i > last)
			break;
		emit_slot(t, tgid, nr, (int)(first + i));
	}
}

/* SCM_RIGHTS: report the received fds, or rescan when the message is complex. */
static __always_inline void on_recvmsg(struct task_struct *t, __u32 tgid, __u32 nr,
				       struct user_msghdr *umsg)
{
	struct user_msghdr m;
	struct cmsghdr c;
	__u64 n, clen;

	if (bpf_probe_read_user(&m, sizeof(m), umsg))
		goto rescan;
	if (!m.msg_controllen)
		return;
	if (m.msg_controllen < sizeof(c) || bpf_probe_read_user(&c, sizeof(c), m.msg_control))
		goto rescan;
	clen = (c.cmsg_len + 7) & ~7ULL;
	if (c.cmsg_level != SOL_SOCKET || c.cmsg_type != SCM_RIGHTS) {
		if (m.msg_controllen > clen)
			goto rescan; /* another control message may follow */
		return;
	}
	n = (c.cmsg_len - sizeof(c)) / sizeof(int);
	if (n > MAX_SLOTS_PER_EVENT || m.msg_controllen > clen)
		goto rescan;
	for (__u32 i = 0; i < MAX_SLOTS_PER_EVENT; i++) {
		int fd;

		if (i >= n)
			break;
		if (bpf_probe_read_user(&fd, sizeof(fd),
					(char *)m.msg_control + sizeof(c) + i * sizeof(int)))
			goto rescan;
		emit_slot(t, tgid, nr, fd);
	}
	return;
rescan:
	emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
}

static __always_inline void on_recvmmsg(struct task_struct *t, __u32 tgid, __u32 nr, char *vec,
					long got)
{
	for (int i = 0; i < MAX_MMSG_CHECKED; i++) {
		__u64 clen = 0;

		if (i >= got)
			return;
		bpf_probe_read_user(&clen, sizeof(clen),
				    vec + i * MMSGHDR_SIZE +
					    offsetof(struct user_msghdr, msg_controllen));
		if (clen)
			break;
		if (i == MAX_MMSG_CHECKED - 1 && got == MAX_MMSG_CHECKED)
			return;
	}
	emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
}

static __always_inline void on_clone3(struct task_struct *t, __u32 tgid, __u32 nr, void *uargs)
{
	struct {
		__u64 flags;
		__u64 pidfd;
	} a;
	int fd;

	if (bpf_probe_read_user(&a, sizeof(a), uargs) || !(a.flags & CLONE_PIDFD))
		return;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)a.pidfd))
		emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
	else
		emit_slot(t, tgid, nr, fd);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(trace_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t;
	struct task_state *st;
	unsigned long nr = regs->orig_ax;
	__u32 tgid;
	__u8 act;

	if (nr >= KT_MAX_SYSCALLS)
		return 0;
	act = sys_action[nr];
	/* a close that failed other than EBADF (EIO, EINTR) closed the fd all the same */
	if (act == KT_ACT_NONE || (ret < 0 && (act != KT_ACT_CLOSE || ret == -EBADF)))
		return 0;
	t = bpf_get_current_task_btf();
	if (target_mode == KT_TARGET_PIDS || target_mode == KT_TARGET_TREE) {
		st = bpf_task_storage_get(&task_state, t, 0, 0); /* the mark itself */
		if (!st)
			return 0;
	} else {
		if (!is_tracked(t))
			return 0;
		st = new_task_state(t);
	}
	tgid = t->tgid;
	if (st && hold_back(t, st, tgid, nr, act, regs, ret))
		return 0;
	switch (act) {
	case KT_ACT_FD_RET:
	case KT_ACT_FD_RET_ANY: emit_slot(t, tgid, nr, (int)ret); break;
	case KT_ACT_FD_RET_POS:
		if (ret > 0)
			emit_slot(t, tgid, nr, (int)ret);
		break;
	case KT_ACT_DUP:
	case KT_ACT_DUP_NEW: emit_slot_src(t, tgid, nr, (int)ret, (int)regs->di); break;
	case KT_ACT_FCNTL:
		if (fcntl_dupfd(regs))
			emit_slot_src(t, tgid, nr, (int)ret, (int)regs->di);
		break;
	case KT_ACT_PAIR_ARG0: emit_pair(t, tgid, nr, (void *)regs->di); break;
	case KT_ACT_PAIR_ARG3: emit_pair(t, tgid, nr, (void *)regs->r10); break;
	case KT_ACT_CLOSE: emit_slot(t, tgid, nr, (int)regs->di); break;
	case KT_ACT_CLOSE_RANGE: on_close_range(t, tgid, nr, regs->di, regs->si, regs->dx); break;
	case KT_ACT_UNSHARE: emit_task(t, KT_CAUSE_UNSHARE, regs->di, 0, 0, nr); break;
	case KT_ACT_TASK: refresh_lazy(t, nr); break;
	case KT_ACT_RECVMSG: on_recvmsg(t, tgid, nr, (void *)regs->si); break;
	case KT_ACT_RECVMMSG:
		if (ret > 0)
			on_recvmmsg(t, tgid, nr, (void *)regs->si, ret);
		break;
	case KT_ACT_CLONE:
		/* ret 0 is the child; the parent's pidfd is at parent_tid */
		if (ret > 0 && (regs->di & CLONE_PIDFD)) {
			int fd;

			if (bpf_probe_read_user(&fd, sizeof(fd), (void *)regs->dx))
				emit_rescan(tgid, BPF_CORE_READ(t, pid), nr);
			else
				emit_slot(t, tgid, nr, fd);
		}
		break;
	case KT_ACT_CLONE3:
		if (ret > 0)
			on_clone3(t, tgid, nr, (void *)regs->di);
		break;
	case KT_ACT_IOCTL:
		if (seccomp_addfd_cmd && regs->si == seccomp_addfd_cmd)
			emit_rescan(tgid, KT_RESCAN_ALL, nr); /* the fd went to another task */
		else if (ret > 0)
			emit_slot(t, tgid, nr, (int)ret); /* reads the slot's truth either way */
		break;
	case KT_ACT_RESCAN: emit_rescan(tgid, BPF_CORE_READ(t, pid), nr); break;
	}
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(trace_newtask, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *parent = bpf_get_current_task_btf();
	__u32 ptgid = parent->tgid;

	if (task->flags & PF_KTHREAD)
		return 0;
	if (target_mode == KT_TARGET_PIDS || target_mode == KT_TARGET_TREE) {
		/*
		 * A thread of a target process not yet seeded, or a fork from a
		 * tree member not yet seeded, still belongs to the target.
		 */
		if (!is_tracked(parent) && !bpf_map_lookup_elem(&tracked, &ptgid) &&
		    !(target_mode == KT_TARGET_TREE && in_tree(task)))
			return 0;
		mark_tracked(task, task->tgid);
	} else if (!is_tracked(task)) {
		return 0;
	}
	report_held_current(parent); /* the child's table is a copy of it, or it */
	emit_task(task, KT_CAUSE_FORK, clone_flags, parent->pid, 0, 0);
	/* a shared undo list is allocated for the parent at clone time */
	if (clone_flags & CLONE_SYSVSEM)
		refresh_lazy(parent, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(trace_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!is_tracked(p))
		return 0;
	report_held_current(p); /* exec kept it or closed it: the slot says which */
	emit_task(p, KT_CAUSE_EXEC, 0, 0, (__u32)old_pid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(trace_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = p->tgid;
	struct kt_ev_exit *e;

	if (!is_tracked(p))
		return 0;
	e = reserve(sizeof(*e), KT_EV_EXIT, 0, tgid);
	if (e) {
		e->tgid = tgid;
		e->tid = p->pid;
		e->group_dead = group_dead;
		e->pad = 0;
		submit(e);
	}
	if (group_dead)
		bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/*
 * Run once by the loader, after attaching and before the cold scan: marks
 * every task (thread) of the target, so that from here on the programs
 * above see it; forks in between are marked by trace_newtask.  For a
 * pid-list target the loader has put the tgids in tracked; a tree target
 * is found here.  Also records one tick/monotonic pair for userspace.
 */
SEC("iter/task")
int seed_target(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	__u32 tgid;

	if (ctx->meta->seq_num == 0) {
		calib_tick_ns = tick_ns();
		calib_mono_ns = bpf_ktime_get_ns();
	}
	if (!t || (t->flags & PF_KTHREAD))
		return 0;
	tgid = t->tgid;
	if ((target_mode == KT_TARGET_PIDS && bpf_map_lookup_elem(&tracked, &tgid)) ||
	    (target_mode == KT_TARGET_TREE && in_tree(t)))
		mark_tracked(t, tgid);
	return 0;
}

/*
 * Run by the loader before it reads the buffer, when pending_maybe says a
 * task may hold an fd back: reports it, so that a task that opened an fd
 * and then made no fd syscall for a while is not behind for long.
 */
SEC("iter/task")
int flush_held(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;

	if (t && !(t->flags & PF_EXITING))
		report_held(t);
	return 0;
}
