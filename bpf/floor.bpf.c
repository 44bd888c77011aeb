// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for tests/bench/bench_trace.c: programs on exactly the hooks
 * bpf/trace.bpf.c uses, each doing one hash-map lookup of the current tgid
 * and nothing else.  What the tracer costs above this is what its own work
 * costs; what this costs above no program at all is the price of the hooks
 * (the syscall-exit tracepoint path, the BPF trampoline), which no tracer
 * on these hooks can avoid.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} floor_pids SEC(".maps");

/* The return value of a tp_btf program is ignored: the lookup is all it does. */
static __always_inline int lookup_current(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&floor_pids, &tgid) != NULL;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return lookup_current();
}

SEC("tp_btf/task_newtask")
int BPF_PROG(floor_newtask, struct task_struct *task, u64 clone_flags)
{
	return lookup_current();
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return lookup_current();
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *p, bool group_dead)
{
	return lookup_current();
}
