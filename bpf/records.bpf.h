/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Filling kt_task_rec and kt_fd_rec from kernel objects.  Shared by the
 * snapshot iterators and the live tracer so that both name every object
 * with the same gen_id.
 */
#ifndef RECORDS_BPF_H
#define RECORDS_BPF_H

#include "kcmptrace.h"
#include "genid.bpf.h"

#define PF_KTHREAD 0x00200000
#define PF_EXITING 0x00000004
#define NSEC_PER_TICK 10000000ULL /* USER_HZ = 100, as /proc reports */

#define ANON_INODE_FS_MAGIC 0x09041934
#define SOCKFS_MAGIC 0x534F434B
#define PIPEFS_MAGIC 0x50495045
#define PID_FS_MAGIC 0x50494446

static __always_inline void set_gen(struct kt_task_rec *r, int kind, const void *obj)
{
	if (obj)
		r->gen[kind] = genid_task_obj(obj);
	else
		r->absent |= 1u << kind;
}

static __always_inline __u32 ns_inum(const void *ns_common_ptr)
{
	const struct ns_common *ns = ns_common_ptr;

	return ns ? BPF_CORE_READ(ns, inum) : 0;
}

static __always_inline void fill_namespaces(struct kt_task_rec *r, struct task_struct *t)
{
	struct nsproxy *nsp = BPF_CORE_READ(t, nsproxy);
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	struct pid_namespace *pidns = NULL;

	if (pid) {
		__u32 level = BPF_CORE_READ(pid, level);

		bpf_core_read(&pidns, sizeof(pidns), &pid->numbers[level & 31].ns);
		if (pidns)
			r->ns[KT_NS_PID] = BPF_CORE_READ(pidns, ns.inum);
	}
	r->ns[KT_NS_USER] = BPF_CORE_READ(t, real_cred, user_ns, ns.inum);
	if (!nsp)
		return;
	r->ns[KT_NS_MNT] = ns_inum(&BPF_CORE_READ(nsp, mnt_ns)->ns);
	r->ns[KT_NS_NET] = ns_inum(&BPF_CORE_READ(nsp, net_ns)->ns);
	r->ns[KT_NS_IPC] = ns_inum(&BPF_CORE_READ(nsp, ipc_ns)->ns);
	r->ns[KT_NS_UTS] = ns_inum(&BPF_CORE_READ(nsp, uts_ns)->ns);
	r->ns[KT_NS_CGROUP] = ns_inum(&BPF_CORE_READ(nsp, cgroup_ns)->ns);
	r->ns[KT_NS_TIME] = ns_inum(&BPF_CORE_READ(nsp, time_ns)->ns);
}

static __always_inline void fill_task_rec(struct kt_task_rec *r, struct task_struct *t)
{
	__u32 pflags = BPF_CORE_READ(t, flags);

	__builtin_memset(r, 0, sizeof(*r));
	r->rec_type = KT_REC_TASK;
	r->tgid = BPF_CORE_READ(t, tgid);
	r->tid = BPF_CORE_READ(t, pid);
	r->ppid = BPF_CORE_READ(t, real_parent, tgid);
	r->start_ticks = BPF_CORE_READ(t, start_boottime) / NSEC_PER_TICK;
	if (pflags & PF_KTHREAD)
		r->flags |= KT_TASK_KTHREAD;
	if (pflags & PF_EXITING)
		r->flags |= KT_TASK_EXITING;
	if (r->tgid == r->tid)
		r->flags |= KT_TASK_LEADER;
	set_gen(r, KT_VM, BPF_CORE_READ(t, mm));
	set_gen(r, KT_FILES, BPF_CORE_READ(t, files));
	set_gen(r, KT_FS, BPF_CORE_READ(t, fs));
	set_gen(r, KT_SIGHAND, BPF_CORE_READ(t, sighand));
	set_gen(r, KT_IO, BPF_CORE_READ(t, io_context));
	set_gen(r, KT_SYSVSEM, BPF_CORE_READ(t, sysvsem.undo_list));
	r->absent |= 1u << KT_FILE; /* a task is not a file */
	fill_namespaces(r, t);
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), &t->comm);
}

static __always_inline __u16 file_type(__u32 mode, unsigned long magic)
{
	switch (magic) {
	case ANON_INODE_FS_MAGIC: return KT_FT_ANON;
	case PID_FS_MAGIC: return KT_FT_PIDFD;
	}
	return kt_mode_ftype(mode);
}

/* The kernel's dev_t (20-bit minor) in the encoding stat(2) returns. */
static __always_inline __u32 user_dev(__u32 kdev)
{
	__u32 major = kdev >> 20, minor = kdev & 0xfffff;

	return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/*
 * @f must be a BTF-typed pointer (an iterator's, or one from core_cast()):
 * its fields are then plain loads, several times cheaper than probe-read
 * helper calls, which is most of an fd's cost in a snapshot.  @addr is
 * @f's address as a number if the caller has it, else 0.
 */
static __always_inline void fill_fd_rec(struct kt_fd_rec *r, __u32 tgid, __u32 tid, int fd,
					struct file *f, __u64 addr)
{
	struct inode *inode = f->f_inode;
	struct super_block *sb = inode->i_sb;

	r->rec_type = KT_REC_FD;
	r->tgid = tgid;
	r->tid = tid;
	r->fd = fd;
	r->ino = inode->i_ino;
	r->dev = user_dev(sb->s_dev);
	r->mode = inode->i_mode;
	r->pos = f->f_pos;
	r->flags = f->f_flags;
	r->ftype = file_type(r->mode, sb->s_magic);
	r->path_len = 0;
	if (genid_scheme == KT_GENID_CRIU)
		r->gen = genid_criu_file(r->dev, r->ino, r->pos);
	else
		r->gen = addr ? genid_hash_u64(addr) : genid_hash(f);
}

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* A kernel pointer read as a number, made BTF-typed again for plain loads. */
#define core_cast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

#endif
