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
	KT_TARGET_PIDS = 1,      /* tgid in the target_pids map */
	KT_TARGET_TREE = 2,      /* tgid is target_tgid or descends from it */
	KT_TARGET_CGROUP = 3,    /* in cgroup v2 target_cgroup_id or below */
	KT_TARGET_PIDNS = 4,     /* in pid namespace target_pidns_inum or below */
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
	unsigned int absent;                 /* bit k: object of kind k is absent (NULL) */
	unsigned int flags;                  /* KT_TASK_* */
	unsigned int ns[KT_NR_NS];           /* namespace inode numbers, 0 if unknown */
	char comm[KT_COMM_LEN];
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
	unsigned int dev; /* userspace encoding, as st_dev */
	unsigned int flags; /* f_flags */
	unsigned int mode;  /* i_mode */
	unsigned short ftype;
	unsigned short path_len;
};

#endif /* KCMPTRACE_H */
