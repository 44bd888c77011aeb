/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Target filtering in the kernel, so that tasks outside the target cost one
 * check and produce no record.
 */
#ifndef TARGET_BPF_H
#define TARGET_BPF_H

#include "kcmptrace.h"

#define KT_MAX_TREE_DEPTH 64

const volatile __u32 target_mode = KT_TARGET_ALL;
const volatile __u32 target_tgid = 0;	   /* KT_TARGET_TREE */
const volatile __u64 target_cgroup_id = 0; /* KT_TARGET_CGROUP */
const volatile __u32 target_cgroup_level = 0;
const volatile __u32 target_pidns_inum = 0; /* KT_TARGET_PIDNS */
const volatile __u32 target_pidns_level = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* a handful of pids, not 4096 slots */
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} target_pids SEC(".maps");

static __always_inline bool in_tree(struct task_struct *t)
{
	for (int i = 0; i < KT_MAX_TREE_DEPTH && t; i++) {
		__u32 tgid = BPF_CORE_READ(t, tgid);

		if (tgid == target_tgid)
			return true;
		if (tgid <= 1)
			return false;
		t = BPF_CORE_READ(t, real_parent);
	}
	return false;
}

static __always_inline bool in_cgroup(struct task_struct *t)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp);
	struct cgroup *anc = NULL;

	if (!cg || BPF_CORE_READ(cg, level) < (int)target_cgroup_level)
		return false;
	bpf_core_read(&anc, sizeof(anc), &cg->ancestors[target_cgroup_level]);
	return anc && BPF_CORE_READ(anc, kn, id) == target_cgroup_id;
}

static __always_inline bool in_pidns(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	struct pid_namespace *ns = NULL;

	if (!pid || BPF_CORE_READ(pid, level) < target_pidns_level)
		return false;
	bpf_core_read(&ns, sizeof(ns), &pid->numbers[target_pidns_level].ns);
	return ns && BPF_CORE_READ(ns, ns.inum) == target_pidns_inum;
}

static __always_inline bool task_in_target(struct task_struct *t)
{
	__u32 tgid;

	switch (target_mode) {
	case KT_TARGET_ALL: return true;
	case KT_TARGET_PIDS:
		tgid = BPF_CORE_READ(t, tgid);
		return bpf_map_lookup_elem(&target_pids, &tgid) != NULL;
	case KT_TARGET_TREE: return in_tree(t);
	case KT_TARGET_CGROUP: return in_cgroup(t);
	case KT_TARGET_PIDNS: return in_pidns(t);
	}
	return false;
}

#endif
