// SPDX-License-Identifier: LGPL-2.1
/*
 * Cold snapshot from /proc and kcmp(2) only, the way CRIU collects: one
 * pass over /proc/PID/task/TID for task records, then one over the fd
 * tables (/proc/.../fd and fdinfo) for fd records.  No BPF, no privileges
 * beyond ptrace access to the target.
 *
 * The records mirror bpf/records.bpf.h field by field, so that the two
 * backends can be compared.  What /proc cannot show is recovered with
 * kcmp: a NULL io_context or SysV undo list compares equal to a sentinel
 * child that has neither.  gen_ids are always CRIU's: 0 for task objects,
 * dev ^ ino ^ pos for files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include "backend.h"

#define PF_EXITING 0x00000004
#define PF_WQ_WORKER 0x00000020
#define PF_KTHREAD 0x00200000

#define ANON_INODE_FS_MAGIC 0x09041934
#define PID_FS_MAGIC 0x50494446

#define MAX_TREE_DEPTH 64 /* KT_MAX_TREE_DEPTH in bpf/target.bpf.h */

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13

/* /proc/PID/ns entries, in enum kt_ns order. */
static const char *const ns_names[KT_NR_NS] = {
	[KT_NS_PID] = "pid",	   [KT_NS_MNT] = "mnt",	  [KT_NS_NET] = "net",
	[KT_NS_IPC] = "ipc",	   [KT_NS_UTS] = "uts",	  [KT_NS_USER] = "user",
	[KT_NS_CGROUP] = "cgroup", [KT_NS_TIME] = "time",
};

/* A child with no io_context and no SysV undo list, for kcmp to compare with. */
struct sentinel {
	pid_t pid;
	int wfd; /* the write end of the pipe it reads: closing it ends the child */
};

struct ppid_ent {
	uint32_t tgid, ppid;
};

struct walk {
	struct kt_snapshot *s;
	const struct kt_target *t;
	const struct kt_backend_opts *o;
	int proc; /* /proc */
	bool root;
	struct sentinel sentinel;
	/* superblocks of anon_inodefs and pidfs, as st_dev, to type pseudo files */
	bool anon_known, pidfs_known;
	unsigned int anon_dev, pidfs_dev;
	/* KT_TARGET_TREE: every process's parent, sorted by tgid */
	struct ppid_ent *ppids;
	size_t nppids, ppids_cap;
};

/* The fields of /proc/PID/task/TID/stat a task record needs. */
struct task_stat {
	char state;
	uint32_t ppid;
	uint32_t flags;
	unsigned long long start_ticks;
	char comm[KT_COMM_LEN];
};

static long kcmp_tasks(uint32_t a, uint32_t b, int type)
{
	return syscall(SYS_kcmp, (pid_t)a, (pid_t)b, type, 0UL, 0UL);
}

/* ---- errors: the system moves while we read it ---- */

static bool no_access(int err)
{
	return err == EACCES || err == EPERM;
}

/*
 * What a failure on one task or fd means: out of memory, or no access
 * while not root, ends the snapshot; anything else (ENOENT, ESRCH: it went
 * away) leaves that task or fd out.
 */
static int fatal(const struct walk *w, int err)
{
	if (err == ENOMEM)
		return -ENOMEM;
	if (no_access(err) && !w->root)
		return -EPERM;
	return 0;
}

/* Root can still be refused (an LSM, a foreign user namespace): count it. */
static int skip_task(struct walk *w, int err)
{
	int r = fatal(w, err);

	if (!r && no_access(err))
		w->s->inaccessible_tasks++;
	return r;
}

/* ---- small readers ---- */

static bool parse_id(const char *name, uint32_t *id)
{
	unsigned long v = 0;

	if (!*name)
		return false;
	for (; *name; name++) {
		if (*name < '0' || *name > '9' || v > 0x7fffffff)
			return false;
		v = v * 10 + (unsigned long)(*name - '0');
	}
	*id = (uint32_t)v;
	return v <= 0x7fffffff;
}

/* Read up to @len - 1 bytes of a /proc file at once; NUL-terminated. */
static int read_small(int dirfd, const char *path, char *buf, size_t len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	if (n == 0)
		return -ESRCH; /* a task reaped after the open reads as empty */
	buf[n] = '\0';
	return 0;
}

/* Fields 3 (state), 4 (ppid), 9 (flags) and 22 (starttime) of a stat line. */
static int parse_stat_fields(char *fields, struct task_stat *ts)
{
	char *save = NULL, *tok = strtok_r(fields, " ", &save);
	int field;

	for (field = 3; tok && field <= 22; field++, tok = strtok_r(NULL, " ", &save)) {
		if (field == 3)
			ts->state = tok[0];
		else if (field == 4)
			ts->ppid = (uint32_t)strtoul(tok, NULL, 10);
		else if (field == 9)
			ts->flags = (uint32_t)strtoul(tok, NULL, 10);
		else if (field == 22)
			ts->start_ticks = strtoull(tok, NULL, 10);
	}
	return field == 23 ? 0 : -EIO;
}

/*
 * /proc shows a workqueue worker as its comm ("kworker/0:1H", "kworker/u8:3")
 * followed by '-' or '+' and what it last ran: cut that off.  A rescuer
 * ("kworker/R-name") has no ':' and no suffix.
 */
static void strip_wq_desc(char *comm)
{
	char *p = strchr(comm, ':');

	if (strncmp(comm, "kworker/", 8) || !p)
		return;
	for (p++; *p >= '0' && *p <= '9'; p++)
		;
	if (*p == 'H')
		p++;
	if (*p == '-' || *p == '+')
		*p = '\0';
}

/*
 * comm may hold spaces and parentheses: it ends at the last ')'.  For
 * kernel threads /proc shows more than task->comm, which BPF reads: keep
 * 15 bytes, as task->comm does, and drop a worker's description.
 */
static int parse_stat(char *buf, struct task_stat *ts)
{
	char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	size_t len;
	int r;

	if (!open || !close || close < open)
		return -EIO;
	len = (size_t)(close - open - 1);
	if (len > KT_COMM_LEN - 1)
		len = KT_COMM_LEN - 1;
	memcpy(ts->comm, open + 1, len);
	ts->comm[len] = '\0';
	r = parse_stat_fields(close + 1, ts);
	if (!r && (ts->flags & PF_WQ_WORKER))
		strip_wq_desc(ts->comm);
	return r;
}

static int read_stat(int dirfd, const char *path, struct task_stat *ts)
{
	char buf[1024];
	int r = read_small(dirfd, path, buf, sizeof(buf));

	return r ? r : parse_stat(buf, ts);
}

typedef int (*id_fn)(void *ctx, int dirfd, const char *name, uint32_t id);

/*
 * Call @fn for each numeric entry of @base/@path (pids, tids, fds).
 * Returns 0, the first negative value @fn returns, or a positive errno if
 * the directory cannot be opened, for the caller to judge.
 */
static int for_each_id(int base, const char *path, id_fn fn, void *ctx)
{
	int fd = openat(base, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return errno;
	d = fdopendir(fd);
	if (!d) {
		r = errno;
		close(fd);
		return r;
	}
	while (r >= 0 && (e = readdir(d))) {
		uint32_t id;

		if (parse_id(e->d_name, &id))
			r = fn(ctx, dirfd(d), e->d_name, id);
	}
	closedir(d);
	return r < 0 ? r : 0;
}

/* ---- the sentinel ---- */

static pid_t fork_blocker(int rfd, int wfd)
{
	pid_t pid = fork();
	char c;

	if (pid == 0) {
		close(wfd);
		/* EOF comes when the snapshot ends, or when its process dies */
		while (read(rfd, &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	return pid;
}

/*
 * fork() gives the child an io_context of its own when the parent's
 * carries an I/O priority (run under ionice).  Clear the calling thread's
 * class for the fork so the sentinel has none, then put it back.
 */
static pid_t fork_sentinel(int rfd, int wfd)
{
	long prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	bool reset = prio > 0 && (prio >> IOPRIO_CLASS_SHIFT) != 0;
	pid_t pid;
	int err;

	if (reset && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, 0) < 0)
		reset = false;
	pid = fork_blocker(rfd, wfd);
	err = errno;
	if (reset)
		syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio);
	errno = err;
	return pid;
}

static int sentinel_start(struct sentinel *st)
{
	int p[2], err;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	st->pid = fork_sentinel(p[0], p[1]);
	err = errno;
	close(p[0]);
	if (st->pid < 0) {
		close(p[1]);
		st->pid = 0;
		return -err;
	}
	st->wfd = p[1];
	return 0;
}

static void sentinel_stop(struct sentinel *st)
{
	if (st->pid <= 0)
		return;
	close(st->wfd);
	kill(st->pid, SIGKILL);
	while (waitpid(st->pid, NULL, 0) < 0 && errno == EINTR)
		;
	st->pid = 0;
}

/*
 * kcmp calls two NULL pointers equal: a task that compares equal to the
 * sentinel has no io_context (no SysV undo list).  ESRCH: it went away.
 */
static int probe_absent(const struct walk *w, struct kt_task_rec *rec)
{
	static const int kinds[] = { KT_IO, KT_SYSVSEM };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		long r = kcmp_tasks(rec->tid, (uint32_t)w->sentinel.pid, kinds[i]);

		if (r < 0)
			return -errno;
		if (r == 0)
			rec->absent |= 1u << kinds[i];
	}
	return 0;
}

/* ---- file types ---- */

/* st_dev of @fd's superblock if that superblock has @magic; closes @fd. */
static bool pseudo_dev(int fd, long magic, unsigned int *dev)
{
	struct statfs sf;
	struct stat st;
	bool ok;

	if (fd < 0)
		return false;
	ok = !fstatfs(fd, &sf) && sf.f_type == magic && !fstat(fd, &st);
	if (ok)
		*dev = (unsigned int)st.st_dev;
	close(fd);
	return ok;
}

/*
 * The BPF side types pseudo files by superblock magic.  anon_inodefs and
 * pidfs are single superblocks, so learning their st_dev once from files
 * of our own makes the check free per fd.  Before pidfs (Linux 6.9)
 * pidfds live on anon_inodefs, and the check finds them there, as BPF does.
 */
static void learn_pseudo_fs(struct walk *w)
{
	w->anon_known = pseudo_dev(eventfd(0, EFD_CLOEXEC), ANON_INODE_FS_MAGIC, &w->anon_dev) ||
			pseudo_dev(epoll_create1(EPOLL_CLOEXEC), ANON_INODE_FS_MAGIC, &w->anon_dev);
	w->pidfs_known = pseudo_dev((int)syscall(SYS_pidfd_open, getpid(), 0), PID_FS_MAGIC,
				    &w->pidfs_dev);
}

/* Superblock magic of the file an fd link names, or 0. */
static long fs_magic(int fddir, const char *name)
{
	int fd = openat(fddir, name, O_PATH | O_CLOEXEC);
	struct statfs sf;
	long magic = 0;

	if (fd < 0)
		return 0;
	if (!fstatfs(fd, &sf))
		magic = (long)sf.f_type;
	close(fd);
	return magic;
}

/*
 * As file_type() in bpf/records.bpf.h.  stat(2) shows anon_inodefs and
 * pidfs files without a file type, so only such a file needs its magic
 * read, and only if we could not learn where those filesystems are.
 */
static unsigned short file_type(const struct walk *w, unsigned int dev, unsigned int mode,
				int fddir, const char *name)
{
	long magic;

	if (w->anon_known && dev == w->anon_dev)
		return KT_FT_ANON;
	if (w->pidfs_known && dev == w->pidfs_dev)
		return KT_FT_PIDFD;
	if ((mode & S_IFMT) || (w->anon_known && w->pidfs_known))
		return kt_mode_ftype(mode);
	magic = fs_magic(fddir, name);
	if (magic == ANON_INODE_FS_MAGIC)
		return KT_FT_ANON;
	return magic == PID_FS_MAGIC ? KT_FT_PIDFD : KT_FT_UNKNOWN;
}

/* ---- fds ---- */

struct table_ctx {
	struct walk *w;
	const struct kt_task_rec *task;
	int infodir; /* /proc/TGID/task/TID/fdinfo */
};

/*
 * fdinfo's flags add O_CLOEXEC from the fd table; f_flags, which the BPF
 * side reports, never holds it (open and the pseudo-file allocators
 * strip it).
 */
static int read_fdinfo(int infodir, const char *name, struct kt_fd_rec *rec)
{
	char buf[256];
	long long pos;
	unsigned int flags;
	int r = read_small(infodir, name, buf, sizeof(buf));

	if (r)
		return r;
	if (sscanf(buf, "pos: %lld flags: %o", &pos, &flags) != 2)
		return -EIO;
	rec->pos = pos;
	rec->flags = flags & ~(unsigned int)O_CLOEXEC;
	return 0;
}

/*
 * One fd, as fill_fd_rec does it.  statx follows the fd's link to the open
 * file's inode; AT_STATX_DONT_SYNC keeps a hung FUSE or NFS server from
 * stalling the snapshot (inode number, type and device need no refresh).
 */
static int read_fd(void *arg, int fddir, const char *name, uint32_t fd)
{
	struct table_ctx *c = arg;
	struct kt_fd_rec rec = { .rec_type = KT_REC_FD };
	char path[KT_PATH_MAX];
	ssize_t len = 0;
	struct statx stx;
	int r;

	if (statx(fddir, name, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MODE | STATX_INO, &stx))
		return fatal(c->w, errno);
	r = read_fdinfo(c->infodir, name, &rec);
	if (r)
		return fatal(c->w, -r);
	if (c->w->o->want_paths) {
		len = readlinkat(fddir, name, path, KT_PATH_MAX - 1);
		if (len < 0)
			return fatal(c->w, errno);
	}
	rec.tgid = c->task->tgid;
	rec.tid = c->task->tid;
	rec.fd = (int)fd;
	rec.ino = stx.stx_ino;
	rec.dev = (unsigned int)makedev(stx.stx_dev_major, stx.stx_dev_minor);
	rec.mode = stx.stx_mode;
	rec.ftype = file_type(c->w, rec.dev, rec.mode, fddir, name);
	/* pidfs keeps S_IFREG in i_mode, which the BPF side reads, but hides it from stat */
	if (rec.ftype == KT_FT_PIDFD && !(rec.mode & S_IFMT))
		rec.mode |= S_IFREG;
	/* CRIU's MAKE_FD_GENID */
	rec.gen = (uint32_t)rec.dev ^ (uint32_t)rec.ino ^ (uint32_t)rec.pos;
	return snapshot_add_fd(c->w->s, &rec, path, (size_t)len) ? 0 : -ENOMEM;
}

static int read_table(struct walk *w, const struct kt_task_rec *task)
{
	struct table_ctx c = { .w = w, .task = task };
	char path[64];
	int r;

	snprintf(path, sizeof(path), "%u/task/%u/fdinfo", task->tgid, task->tid);
	c.infodir = openat(w->proc, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c.infodir < 0)
		return fatal(w, errno);
	snprintf(path, sizeof(path), "%u/task/%u/fd", task->tgid, task->tid);
	r = for_each_id(w->proc, path, read_fd, &c);
	close(c.infodir);
	return r > 0 ? fatal(w, r) : r;
}

/*
 * CRIU reads fds per fd table: the leader's, and a thread's only when it
 * has a table of its own (unshare(CLONE_FILES)).  kcmp tells, as the BPF
 * task_file iterator's files == group_leader->files does.
 */
static int owns_table(const struct kt_task_rec *task)
{
	long r;

	if (task->tid == task->tgid)
		return 1;
	r = kcmp_tasks(task->tgid, task->tid, KT_FILES);
	return r < 0 ? -errno : r != 0;
}

static int walk_fds(struct walk *w, size_t first)
{
	for (size_t i = first; i < w->s->ntasks; i++) {
		const struct kt_task_rec *task = &w->s->tasks[i].rec;
		int r;

		if (task->absent & (1u << KT_FILES))
			continue; /* a zombie: its table is gone */
		r = owns_table(task);
		if (r > 0)
			r = read_table(w, task);
		else if (r < 0)
			r = fatal(w, -r);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- tasks ---- */

/* As the BPF iterators: an exiting task has dropped or is dropping its objects. */
static bool task_wanted(const struct walk *w, const struct task_stat *ts)
{
	if ((ts->flags & PF_KTHREAD) && !w->t->kthreads)
		return false;
	return !(ts->flags & PF_EXITING);
}

/* As fill_task_rec(), for what /proc shows directly. */
static void fill_task(struct kt_task_rec *rec, uint32_t tgid, uint32_t tid,
		      const struct task_stat *ts)
{
	memset(rec, 0, sizeof(*rec));
	rec->rec_type = KT_REC_TASK;
	rec->tgid = tgid;
	rec->tid = tid;
	rec->ppid = ts->ppid;
	rec->start_ticks = ts->start_ticks;
	memcpy(rec->comm, ts->comm, sizeof(rec->comm));
	if (ts->flags & PF_KTHREAD)
		rec->flags |= KT_TASK_KTHREAD;
	if (ts->flags & PF_EXITING)
		rec->flags |= KT_TASK_EXITING;
	if (tid == tgid)
		rec->flags |= KT_TASK_LEADER;
	rec->absent = 1u << KT_FILE; /* a task is not a file */
	if (ts->flags & PF_KTHREAD)
		rec->absent |= 1u << KT_VM;
	/* a zombie has released its mm, fd table and fs_struct */
	if (ts->state == 'Z' || ts->state == 'X')
		rec->absent |= 1u << KT_VM | 1u << KT_FILES | 1u << KT_FS;
}

/* Namespace inode numbers; 0 for any we cannot read, as BPF's for a NULL. */
static void read_namespaces(int taskfd, struct kt_task_rec *rec)
{
	int nsfd = openat(taskfd, "ns", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	if (nsfd < 0)
		return;
	for (int i = 0; i < KT_NR_NS; i++)
		if (!fstatat(nsfd, ns_names[i], &st, 0))
			rec->ns[i] = (unsigned int)st.st_ino;
	close(nsfd);
}

static int read_task(struct walk *w, uint32_t tgid, uint32_t tid)
{
	struct kt_task_rec rec;
	struct task_stat ts;
	char path[48];
	int taskfd, r;

	snprintf(path, sizeof(path), "%u/task/%u", tgid, tid);
	taskfd = openat(w->proc, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (taskfd < 0)
		return skip_task(w, errno);
	r = read_stat(taskfd, "stat", &ts);
	if (!r && !task_wanted(w, &ts)) {
		close(taskfd);
		return 0;
	}
	if (!r) {
		fill_task(&rec, tgid, tid, &ts);
		read_namespaces(taskfd, &rec);
		r = probe_absent(w, &rec);
	}
	close(taskfd);
	if (r)
		return skip_task(w, -r);
	return snapshot_add_task(w->s, &rec) ? 0 : -ENOMEM;
}

struct threads_ctx {
	struct walk *w;
	uint32_t tgid;
};

static int thread_entry(void *arg, int dirfd, const char *name, uint32_t tid)
{
	struct threads_ctx *c = arg;

	/* a container's tasks are those in its pid namespace: a per-thread test */
	if (c->w->t->mode == KT_TARGET_PIDNS && !target_match_pidns(c->w->t, tid))
		return 0;
	return read_task(c->w, c->tgid, tid);
}

static uint32_t ppid_of(const struct walk *w, uint32_t tgid)
{
	size_t lo = 0, hi = w->nppids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->ppids[mid].tgid == tgid)
			return w->ppids[mid].ppid;
		if (w->ppids[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* As in_tree() in bpf/target.bpf.h: the process itself, then its ancestors. */
static bool in_tree(const struct walk *w, uint32_t tgid)
{
	for (int i = 0; i < MAX_TREE_DEPTH && tgid; i++) {
		if (tgid == w->t->tgid)
			return true;
		if (tgid <= 1)
			return false;
		tgid = ppid_of(w, tgid);
	}
	return false;
}

static bool process_wanted(const struct walk *w, uint32_t tgid)
{
	if (tgid == (uint32_t)w->sentinel.pid)
		return false; /* ours, and not part of anything the user asked about */
	switch (w->t->mode) {
	case KT_TARGET_PIDS: return target_match_pids(w->t, tgid);
	case KT_TARGET_TREE: return in_tree(w, tgid);
	case KT_TARGET_CGROUP: return target_match_cgroup(w->t, tgid);
	}
	return true; /* KT_TARGET_ALL; KT_TARGET_PIDNS filters per thread */
}

static int process_entry(void *arg, int dirfd, const char *name, uint32_t tgid)
{
	struct threads_ctx c = { .w = arg, .tgid = tgid };
	char path[32];
	int r;

	if (!process_wanted(c.w, tgid))
		return 0;
	snprintf(path, sizeof(path), "%u/task", tgid);
	r = for_each_id(dirfd, path, thread_entry, &c);
	return r > 0 ? skip_task(c.w, r) : r;
}

static int ppid_entry(void *arg, int dirfd, const char *name, uint32_t tgid)
{
	struct walk *w = arg;
	struct task_stat ts;
	char path[32];

	snprintf(path, sizeof(path), "%u/stat", tgid);
	if (read_stat(dirfd, path, &ts))
		return 0; /* gone: it has no descendants left to find */
	if (w->nppids == w->ppids_cap) {
		size_t cap = w->ppids_cap ? 2 * w->ppids_cap : 1024;
		struct ppid_ent *p = realloc(w->ppids, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->ppids = p;
		w->ppids_cap = cap;
	}
	w->ppids[w->nppids++] = (struct ppid_ent){ tgid, ts.ppid };
	return 0;
}

static int by_tgid(const void *a, const void *b)
{
	const struct ppid_ent *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* Trees are walked upwards, so first read every process's parent. */
static int build_ppid_map(struct walk *w)
{
	int r = for_each_id(w->proc, ".", ppid_entry, w);

	if (!r)
		qsort(w->ppids, w->nppids, sizeof(*w->ppids), by_tgid);
	return r > 0 ? -r : r;
}

static int walk_tasks(struct walk *w)
{
	int r = 0;

	if (w->t->mode == KT_TARGET_TREE)
		r = build_ppid_map(w);
	if (!r)
		r = for_each_id(w->proc, ".", process_entry, w);
	return r > 0 ? -r : r;
}

/* ---- entry point ---- */

static int collect(struct walk *w)
{
	size_t first = w->s->ntasks;
	uint64_t t0 = kt_now_ns();
	int r;

	learn_pseudo_fs(w);
	r = sentinel_start(&w->sentinel);
	if (!r)
		r = walk_tasks(w);
	w->s->phase_ns[KT_PHASE_TASKS] += kt_now_ns() - t0;
	if (r)
		return r;
	t0 = kt_now_ns();
	r = walk_fds(w, first);
	w->s->phase_ns[KT_PHASE_FDS] += kt_now_ns() - t0;
	return r;
}

int procfs_snapshot(struct kt_snapshot *s, const struct kt_target *t,
		    const struct kt_backend_opts *o)
{
	struct walk w = { .s = s, .t = t, .o = o, .root = geteuid() == 0 };
	int r;

	w.proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.proc < 0)
		return -errno;
	r = collect(&w);
	sentinel_stop(&w.sentinel);
	free(w.ppids);
	close(w.proc);
	return r;
}
