// SPDX-License-Identifier: LGPL-2.1
/*
 * Syscall numbers come from this build's <sys/syscall.h>, so the table is
 * right for the architecture it was built for.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/syscall.h>
#include "syscalls.h"

#if defined(__x86_64__) && !defined(SYS_open_tree_attr)
#define SYS_open_tree_attr 467 /* Linux 6.15; newer than this libc's headers */
#endif

struct sys_entry {
	const char *name;
	long nr;
	uint8_t action;
};

#define S(name, act)                            \
	{                                       \
#name, SYS_##name, KT_ACT_##act \
	}

static const struct sys_entry table[] = {
#ifdef SYS_open
	S(open, FD_RET),
	S(creat, FD_RET),
	S(dup2, DUP),
	S(pipe, PAIR_ARG0),
	S(eventfd, FD_RET),
	S(epoll_create, FD_RET),
	S(signalfd, FD_RET),
	S(inotify_init, FD_RET),
#endif
	S(openat, FD_RET),
	S(openat2, FD_RET),
	S(dup, DUP_NEW),
	S(dup3, DUP),
	S(fcntl, FCNTL),
	S(pipe2, PAIR_ARG0),
	S(socket, FD_RET),
	S(socketpair, PAIR_ARG3),
	S(accept, FD_RET),
	S(accept4, FD_RET),
	S(eventfd2, FD_RET),
	S(epoll_create1, FD_RET),
	S(signalfd4, FD_RET),
	S(timerfd_create, FD_RET),
	S(inotify_init1, FD_RET),
	S(fanotify_init, FD_RET),
	S(memfd_create, FD_RET),
	S(pidfd_open, FD_RET),
	S(pidfd_getfd, FD_RET),
	S(userfaultfd, FD_RET),
	S(perf_event_open, FD_RET),
	S(bpf, FD_RET_POS),
	S(io_uring_setup, FD_RET_ANY),
	S(open_by_handle_at, FD_RET),
	S(open_tree, FD_RET),
	S(fsopen, FD_RET),
	S(fsmount, FD_RET),
	S(fspick, FD_RET),
	S(mq_open, FD_RET),
	S(seccomp, FD_RET_POS),
	S(recvmsg, RECVMSG),
	S(recvmmsg, RECVMMSG),
	S(clone, CLONE),
	S(clone3, CLONE3),
	S(close, CLOSE),
	S(close_range, CLOSE_RANGE),
	S(unshare, UNSHARE),
	S(ioctl, IOCTL),
	S(io_uring_enter, RESCAN),
	S(ioprio_set, TASK),
	S(semop, TASK),
	S(semtimedop, TASK),
#ifdef SYS_memfd_secret
	S(memfd_secret, FD_RET),
#endif
#ifdef SYS_landlock_create_ruleset
	S(landlock_create_ruleset, FD_RET),
#endif
#ifdef SYS_open_tree_attr
	S(open_tree_attr, FD_RET),
#endif
};

void syscalls_fill_actions(uint8_t *action)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].nr >= 0 && table[i].nr < KT_MAX_SYSCALLS)
			action[table[i].nr] = table[i].action;
}

/* Named once per event of a busy trace: an index, not a walk of the table. */
const char *syscall_name(unsigned int nr)
{
	static const char *by_nr[KT_MAX_SYSCALLS];
	static bool indexed;
	static char buf[16];

	if (!indexed) {
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			if (table[i].nr >= 0 && table[i].nr < KT_MAX_SYSCALLS)
				by_nr[table[i].nr] = table[i].name;
		indexed = true;
	}
	if (nr < KT_MAX_SYSCALLS && by_nr[nr])
		return by_nr[nr];
	snprintf(buf, sizeof(buf), "sys_%u", nr);
	return buf;
}
