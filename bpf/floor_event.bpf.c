// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A diagnostic for tests/bench/bench_trace.c: the floor (bpf/floor.bpf.c)
 * plus the least an event costs.  On a hit of the same one-lookup filter
 * the sys_exit program reserves a record the size of the tracer's fd event
 * in a ring buffer, stamps it with the tracer's clock (tick.bpf.h) and
 * submits it, waking the reader as the tracer does with its default
 * buffer (at most every 10 ms), and reads
 * nothing else.  What the tracer costs above this is its own logic; what
 * this costs above the floor is the price of reporting anything per
 * syscall at all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "kcmptrace.h"
#include "tick.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define WAKEUP_INTERVAL_NS 10000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} floor_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

__u64 last_wakeup_ns = 0;

static __always_inline bool hit(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&floor_pids, &tgid) != NULL;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_event_sys_exit, struct pt_regs *regs, long ret)
{
	struct kt_ev_hdr *h;

	if (!hit())
		return 0;
	h = bpf_ringbuf_reserve(&events, sizeof(struct kt_ev_fd), 0);
	if (!h)
		return 0;
	h->type = KT_EV_FD;
	h->cause = 0;
	h->ts_ns = tick_ns();
	if (h->ts_ns - last_wakeup_ns < WAKEUP_INTERVAL_NS) {
		bpf_ringbuf_submit(h, BPF_RB_NO_WAKEUP);
		return 0;
	}
	last_wakeup_ns = h->ts_ns;
	bpf_ringbuf_submit(h, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(floor_event_newtask, struct task_struct *task, u64 clone_flags)
{
	return hit();
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_event_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return hit();
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_event_exit, struct task_struct *p, bool group_dead)
{
	return hit();
}
