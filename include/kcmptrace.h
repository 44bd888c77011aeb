/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records that cross the kernel boundary: written by the BPF programs in
 * bpf/, read by the loader in user/.  Both sides include this file, so it
 * uses only fixed-width types and no libc.
 *
 * No field ever carries a kernel address: objects are named by gen_id, a
 * keyed hash of the address computed in the kernel (see bpf/genid.bpf.h).
 */
#ifndef KCMPTRACE_H
#define KCMPTRACE_H

#define KT_COMM_LEN 16
#define KT_PATH_MAX 256

/*
 * Object kinds.  The numbering is kcmp(2)'s own (KCMP_FILE .. KCMP_SYSVSEM),
 * so a kind is also the kcmp type that compares two objects of that kind.
 */
enum kt_kind {
	KT_FILE = 0,
	KT_VM = 1,
	KT_FILES = 2,
	KT_FS = 3,
	KT_SIGHAND = 4,
	KT_IO = 5,
	KT_SYSVSEM = 6,
	KT_NR_KINDS = 7,
};

enum kt_ns {
	KT_NS_PID,
	KT_NS_MNT,
	KT_NS_NET,
	KT_NS_IPC,
	KT_NS_UTS,
	KT_NS_USER,
	KT_NS_CGROUP,
	KT_NS_TIME,
	KT_NR_NS,
};

/* How gen_ids are made: a keyed hash of the object's address, or CRIU's. */
enum kt_genid_scheme {
	KT_GENID_ADDR = 0,
	KT_GENID_CRIU = 1,
};

/* Which tasks a program looks at; checked in the kernel. */
enum kt_target_mode {
	KT_TARGET_ALL = 0,
	KT_TARGET_PIDS = 1,   /* tgid in the target_pids map */
	KT_TARGET_TREE = 2,   /* tgid is target_tgid or descends from it */
	KT_TARGET_CGROUP = 3, /* in cgroup v2 target_cgroup_id or below */
	KT_TARGET_PIDNS = 4,  /* in pid namespace target_pidns_inum or below */
};

/* kt_task_rec.flags */
#define KT_TASK_KTHREAD (1u << 0)
#define KT_TASK_EXITING (1u << 1)
#define KT_TASK_LEADER (1u << 2)

/* File types, from the inode mode and, for pseudo files, the superblock. */
enum kt_ftype {
	KT_FT_UNKNOWN = 0,
	KT_FT_REG,
	KT_FT_DIR,
	KT_FT_CHR,
	KT_FT_BLK,
	KT_FT_FIFO,
	KT_FT_SOCK,
	KT_FT_LNK,
	KT_FT_ANON,  /* anon_inodefs: eventfd, epoll, signalfd, timerfd, ... */
	KT_FT_PIDFD, /* pidfs */
	KT_FT_MEMFD, /* shmem-backed memfd */
	KT_FT_NR,
};

/*
 * The file type an inode mode says (stat(2)'s S_IF* values, written out:
 * the BPF side has no <sys/stat.h>).  Both backends use it, so they agree.
 */
static inline unsigned short kt_mode_ftype(unsigned int mode)
{
	switch (mode & 0170000) {
	case 0100000: return KT_FT_REG;
	case 0040000: return KT_FT_DIR;
	case 0020000: return KT_FT_CHR;
	case 0060000: return KT_FT_BLK;
	case 0010000: return KT_FT_FIFO;
	case 0140000: return KT_FT_SOCK;
	case 0120000: return KT_FT_LNK;
	}
	return KT_FT_UNKNOWN;
}

enum kt_rec_type {
	KT_REC_TASK = 1,
	KT_REC_FD = 2,
};

/* One task (thread), as seen by iter/task or a fork/exec event. */
struct kt_task_rec {
	unsigned int rec_type; /* KT_REC_TASK */
	unsigned int tgid;
	unsigned int tid;
	unsigned int ppid;
	unsigned long long start_ticks; /* clock ticks since boot, as /proc/PID/stat field 22 */
	unsigned long long gen[KT_NR_KINDS]; /* gen[KT_FILE] unused */
	unsigned int absent;		     /* bit k: object of kind k is absent (NULL) */
	unsigned int flags;		     /* KT_TASK_* */
	unsigned int ns[KT_NR_NS];	     /* namespace inode numbers, 0 if unknown */
	char comm[KT_COMM_LEN];
	/*
	 * Slots in use in its fd table, counted from the kernel's bitmap when
	 * the reader asked (the live tracer's checks); else 0.
	 */
	unsigned int open_fds;
	unsigned int pad;
};

/*
 * One fd of one fd table, as seen by iter/task_file or an fd event.  A
 * path of path_len bytes (no NUL) follows the record in the iterator stream.
 */
struct kt_fd_rec {
	unsigned int rec_type; /* KT_REC_FD */
	unsigned int tgid;
	unsigned int tid; /* task whose table was read */
	int fd;
	unsigned long long gen;
	unsigned long long ino;
	long long pos;
	unsigned int dev;   /* userspace encoding, as st_dev */
	unsigned int flags; /* f_flags */
	unsigned int mode;  /* i_mode */
	unsigned short ftype;
	unsigned short path_len;
};

/* ---- live tracing: ring-buffer events (bpf/trace.bpf.c) ---- */

/* What the tracer does at sys_exit of a syscall; userspace fills the table. */
enum kt_sys_action {
	KT_ACT_NONE = 0,
	KT_ACT_FD_RET,	   /* the return value is an fd: report its slot */
	KT_ACT_FD_RET_POS, /* the same where 0 means success, not fd 0 (bpf, seccomp) */
	KT_ACT_FD_RET_ANY, /* an fd, or not one (io_uring_setup's ring index): never held back */
	KT_ACT_DUP,	   /* dup2, dup3: the new fd returned, its source the first argument */
	KT_ACT_DUP_NEW,	   /* dup: the same, and the new fd is in a slot that was free */
	KT_ACT_FCNTL,	   /* F_DUPFD and F_DUPFD_CLOEXEC return an fd */
	KT_ACT_PAIR_ARG0,  /* int[2] at the first argument (pipe, pipe2) */
	KT_ACT_PAIR_ARG3,  /* int[2] at the fourth argument (socketpair) */
	KT_ACT_CLOSE,	   /* the slot of the first argument */
	KT_ACT_CLOSE_RANGE,
	KT_ACT_UNSHARE, /* task objects may have changed */
	KT_ACT_RECVMSG, /* SCM_RIGHTS in the control message */
	KT_ACT_RECVMMSG,
	KT_ACT_CLONE, /* CLONE_PIDFD: the pidfd at the third argument */
	KT_ACT_CLONE3,
	KT_ACT_IOCTL,  /* some ioctls return fds; seccomp's ADDFD installs elsewhere */
	KT_ACT_RESCAN, /* effect not readable at exit (io_uring_enter): rescan the table */
	KT_ACT_TASK,   /* may create a task object lazily (ioprio_set, semop SEM_UNDO) */
	KT_ACT_NR,
};

#define KT_MAX_SYSCALLS 512

enum kt_ev_type {
	KT_EV_TASK = 1, /* a task appeared or its objects changed */
	KT_EV_EXIT,	/* a task exited */
	KT_EV_FD,	/* an fd slot's state after a syscall */
	KT_EV_RESCAN,	/* re-read a task's fd table (or every table) */
};

/* Why a task event was sent. */
enum kt_task_cause {
	KT_CAUSE_FORK = 1,
	KT_CAUSE_EXEC,
	KT_CAUSE_UNSHARE,
	KT_CAUSE_CLOSE_RANGE,
	KT_CAUSE_REFRESH, /* an io context or SysV undo list appeared lazily */
};

struct kt_ev_hdr {
	unsigned int type;	  /* enum kt_ev_type */
	unsigned int cause;	  /* enum kt_task_cause, or the syscall number */
	unsigned long long ts_ns; /* kernel tick time in ns (see tick_ns() in trace.bpf.c) */
};

struct kt_ev_task {
	struct kt_ev_hdr hdr;
	unsigned long long clone_flags; /* KT_CAUSE_FORK */
	unsigned int parent_tid;	/* KT_CAUSE_FORK: who forked */
	unsigned int old_tid;		/* KT_CAUSE_EXEC: tid before a thread's exec */
	unsigned int syscall_nr;	/* KT_CAUSE_REFRESH, UNSHARE: the syscall, if any */
	unsigned int pad;
	struct kt_task_rec rec;
};

struct kt_ev_exit {
	struct kt_ev_hdr hdr;
	unsigned int tgid;
	unsigned int tid;
	unsigned int group_dead;
	unsigned int pad;
};

/*
 * The state of one fd slot, read after the event was reserved: the last
 * event for a slot in buffer order is therefore its final state, whatever
 * order racing threads reached sys_exit in.
 */
struct kt_ev_fd {
	struct kt_ev_hdr hdr;
	unsigned int empty; /* the slot holds no file */
	/*
	 * A slot of the same table that held the same file at sys_exit, or
	 * -1: a dup's source, compared in the kernel by pointer as kcmp(2)
	 * compares, so userspace need not ask kcmp again.
	 */
	int same_as;
	struct kt_fd_rec rec; /* tgid, tid and fd always set */
};

#define KT_RESCAN_ALL 0 /* kt_ev_rescan.tid: every tracked table */

struct kt_ev_rescan {
	struct kt_ev_hdr hdr;
	unsigned int tgid;
	unsigned int tid;
};

#endif /* KCMPTRACE_H */
