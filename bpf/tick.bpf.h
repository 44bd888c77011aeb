/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Event times: the kernel tick in ns.  Reading the precise clock costs an
 * fd event more than the rest of its work in a VM (a paravirt clock
 * read); throttling wakeups needs no better, and userspace maps tick time
 * to CLOCK_MONOTONIC with the pair seed_target() in trace.bpf.c records.
 * Without the kernel's config (CONFIG_HZ unknown) the precise clock it is.
 */
#ifndef TICK_BPF_H
#define TICK_BPF_H

extern int CONFIG_HZ __kconfig __weak;

static __always_inline __u64 tick_ns(void)
{
	if (CONFIG_HZ <= 0)
		return bpf_ktime_get_ns();
	return bpf_jiffies64() * (1000000000ULL / (__u64)CONFIG_HZ);
}

#endif
