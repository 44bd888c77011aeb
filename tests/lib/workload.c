// SPDX-License-Identifier: LGPL-2.1
/* Workloads with known sharing; see workload.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "workload.h"

#define STACK_SIZE (256 * 1024)

void wl_park(void)
{
	for (;;)
		pause();
}

const char *wl_file(const char *tag)
{
	static char path[4][128];
	static int next;
	char *p = path[next++ & 3];

	snprintf(p, sizeof(path[0]), "/tmp/kcmptrace-wl-%d-%s", getpid(), tag);
	return p;
}

static int open_scratch(const char *tag, int flags)
{
	int fd = open(wl_file(tag), O_RDWR | O_CREAT | flags, 0600);

	if (fd >= 0)
		unlink(wl_file(tag)); /* nothing left behind; the fd keeps it */
	return fd;
}

struct spawn_arg {
	int (*fn)(void *);
	void *arg;
	int ready;
};

static int spawn_trampoline(void *p)
{
	struct spawn_arg *a = p;
	char c = a->fn(a->arg) ? 'e' : 'r';

	if (write(a->ready, &c, 1) != 1)
		_exit(1);
	wl_park();
}

static int exit_at_once(void *arg)
{
	_exit(0);
}

int wl_clone_exit(unsigned long flags)
{
	/* the child only calls _exit: with CLONE_VM, one stack serves every one of them */
	static char stack[16384] __attribute__((aligned(16)));
	pid_t c = clone(exit_at_once, stack + sizeof(stack), flags | SIGCHLD, NULL);

	return c > 0 && waitpid(c, NULL, 0) == c ? 0 : -1;
}

pid_t wl_spawn(unsigned long flags, int (*fn)(void *), void *arg)
{
	struct spawn_arg a = { fn, arg, -1 };
	int p[2];
	char c = 0;
	char *stack;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	a.ready = p[1];
	/* never freed: with CLONE_VM the child runs on it until the group dies */
	stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -1;
	pid = clone(spawn_trampoline, stack + STACK_SIZE, (int)(flags | SIGCHLD), &a);
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'r')
		pid = -1;
	close(p[0]);
	close(p[1]);
	return pid;
}

/* ---- scenarios ---- */

static int nothing(void *arg)
{
	return 0;
}

static int sc_fork_inherit(void)
{
	int p[2], fd = open_scratch("inherit", 0);

	if (fd < 0 || pipe(p))
		return -1;
	return wl_spawn(0, nothing, NULL) < 0 || wl_spawn(0, nothing, NULL) < 0;
}

static int sc_dup(void)
{
	int fd = open_scratch("dup", 0);

	if (fd < 0 || dup(fd) < 0 || dup2(fd, 100) < 0 || fcntl(fd, F_DUPFD_CLOEXEC, 200) < 0)
		return -1;
	return wl_spawn(0, nothing, NULL) < 0;
}

/* Two opens of one file at one offset: CRIU's gen_id can't tell them apart. */
static int sc_same_offset(void)
{
	int a = open(wl_file("twice"), O_RDWR | O_CREAT, 0600);
	int b = open(wl_file("twice"), O_RDWR);

	unlink(wl_file("twice"));
	if (a < 0 || b < 0 || dup(b) < 0)
		return -1;
	return wl_spawn(0, nothing, NULL) < 0;
}

static int open_one(void *arg)
{
	return open_scratch(arg, 0) < 0;
}

static int sc_clone_files(void)
{
	if (open_scratch("before", 0) < 0)
		return -1;
	/* the child's new fd appears in the root's table too */
	return wl_spawn(CLONE_FILES, open_one, "clone-files") < 0;
}

static int do_chdir(void *arg)
{
	return chdir(arg);
}

static int sc_clone_fs(void)
{
	if (wl_spawn(CLONE_FS, nothing, NULL) < 0)
		return -1;
	/* a plain child gets a copy: chdir in it must not move the root */
	return wl_spawn(0, do_chdir, "/tmp") < 0;
}

struct thread_job {
	int unshare_flags;
	int ready[2];
};

static void *thread_main(void *p)
{
	struct thread_job *j = p;
	char c = 'r';

	if (j->unshare_flags && unshare(j->unshare_flags))
		c = 'e';
	if (j->unshare_flags & CLONE_FILES && open_scratch("thread-own", 0) < 0)
		c = 'e';
	if (j->unshare_flags & CLONE_FS && chdir("/tmp"))
		c = 'e';
	if (write(j->ready[1], &c, 1) != 1)
		return NULL;
	wl_park();
}

static int start_thread(int unshare_flags)
{
	static struct thread_job jobs[8];
	static int n;
	struct thread_job *j = &jobs[n++ & 7];
	pthread_t t;
	char c = 0;

	j->unshare_flags = unshare_flags;
	if (pipe(j->ready) || pthread_create(&t, NULL, thread_main, j))
		return -1;
	if (read(j->ready[0], &c, 1) != 1 || c != 'r')
		return -1;
	return 0;
}

/* Threads share everything but what they unshare: one fs, one fd table. */
static int sc_threads_unshare(void)
{
	if (open_scratch("threads", 0) < 0)
		return -1;
	return start_thread(0) || start_thread(CLONE_FS) || start_thread(CLONE_FILES) ||
	       start_thread(0);
}

static int unshare_files(void *arg)
{
	return unshare(CLONE_FILES) || open_scratch("after-unshare", 0) < 0;
}

static int sc_unshare_files(void)
{
	if (open_scratch("shared-before", 0) < 0)
		return -1;
	return wl_spawn(CLONE_FILES, unshare_files, NULL) < 0 ||
	       wl_spawn(CLONE_FILES, nothing, NULL) < 0;
}

static int send_fd(int sock, int fd)
{
	char byte = 'f', cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int scm_sender(void *arg)
{
	int sock = *(int *)arg, fd = open_scratch("scm", 0);

	return fd < 0 || send_fd(sock, fd) || send_fd(sock, eventfd(0, 0));
}

static int scm_receiver(void *arg)
{
	int sock = *(int *)arg;

	return recv_fd(sock) < 0 || recv_fd(sock) < 0;
}

/* The file is opened after both forks: only SCM_RIGHTS can share it. */
static int sc_scm_rights(void)
{
	static int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	return wl_spawn(0, scm_sender, &sv[0]) < 0 || wl_spawn(0, scm_receiver, &sv[1]) < 0;
}

static int opener_fd;

static int open_and_publish(void *arg)
{
	opener_fd = open_scratch("getfd", 0);
	return opener_fd < 0;
}

static int getfd_from(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* opener_fd is the number the opener had: set in our copy before fork */
	return pidfd < 0 || syscall(SYS_pidfd_getfd, pidfd, opener_fd, 0) < 0;
}

static int sc_pidfd_getfd(void)
{
	static pid_t opener;

	/* CLONE_VM lets the opener publish its fd number to us */
	opener = wl_spawn(CLONE_VM, open_and_publish, NULL);
	if (opener < 0)
		return -1;
	return wl_spawn(0, getfd_from, &opener) < 0;
}

/* exec drops the O_CLOEXEC fds; the others stay shared with the parent. */
/* Wait (up to 5 s) until @pid is blocked in pause or a sleep (sleep infinity pauses). */
static int wait_asleep(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "re");
		long nr = -1;

		if (f && fgets(buf, sizeof(buf), f))
			nr = strtol(buf, NULL, 10);
		if (f)
			fclose(f);
		if (nr == SYS_pause || nr == SYS_nanosleep || nr == SYS_clock_nanosleep)
			return 0;
		usleep(10000);
	}
	return -1;
}

static int sc_exec_cloexec(void)
{
	int keep = open_scratch("keep", 0), drop = open_scratch("drop", O_CLOEXEC);
	int p[2];
	pid_t pid;
	char c;

	if (keep < 0 || drop < 0 || pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(p[0]);
		execl("/bin/sleep", "sleep", "infinity", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* EOF on the close-on-exec pipe: the exec has happened */
	if (read(p[0], &c, 1) != 0)
		return -1;
	/*
	 * ...but the new program's loader still opens and closes fds: done
	 * only once it sleeps, or a tracer is asked about it mid-start.
	 */
	return wait_asleep(pid);
}

static int open_anon_kinds(void)
{
	int sv[2], p[2];
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	return eventfd(0, 0) < 0 || epoll_create1(0) < 0 || memfd_create("kcmptrace-wl", 0) < 0 ||
	       socket(AF_UNIX, SOCK_DGRAM, 0) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ||
	       pipe(p) || open("/tmp", O_PATH) < 0 || signalfd(-1, &mask, 0) < 0 ||
	       timerfd_create(CLOCK_MONOTONIC, 0) < 0 || inotify_init1(0) < 0 ||
	       syscall(SYS_pidfd_open, getpid(), 0) < 0;
}

static int anon_child(void *arg)
{
	return open_anon_kinds();
}

/* Anonymous inodes: many distinct objects on one inode, some shared. */
static int sc_anon_kinds(void)
{
	if (open_anon_kinds() || open_anon_kinds())
		return -1;
	return wl_spawn(0, anon_child, NULL) < 0;
}

#define MANY_FDS 3000

static int half_close_reopen(void *arg)
{
	for (int fd = 3 + 1; fd < 3 + MANY_FDS; fd += 2) {
		close(fd);
		if (open("/dev/null", O_RDONLY) < 0)
			return -1;
	}
	return 0;
}

/* Thousands of fds, half of them still shared with a child. */
static int sc_many_fds(void)
{
	struct rlimit rl = { 16384, 16384 };
	int base;

	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	base = open_scratch("many", 0);
	for (int i = 1; i < MANY_FDS && base >= 0; i++) {
		int r;

		switch (i % 4) {
		case 0: r = dup(base); break;
		case 1: r = open("/dev/null", O_RDONLY); break;
		case 2: r = eventfd(0, 0); break;
		default: r = open("/tmp", O_PATH); break;
		}
		if (r < 0)
			return -1;
	}
	return base < 0 || wl_spawn(0, half_close_reopen, NULL) < 0;
}

static int sem_undo(void)
{
	int id = semget(IPC_PRIVATE, 1, 0600);
	struct sembuf op = { 0, 1, SEM_UNDO };

	if (id < 0)
		return -1;
	/* removed at once, so nothing outlives the test: the undo list stays attached */
	if (semop(id, &op, 1)) {
		semctl(id, 0, IPC_RMID);
		return -1;
	}
	return semctl(id, 0, IPC_RMID);
}

static int new_undo(void *arg)
{
	return sem_undo();
}

/* SysV undo lists and io contexts: shared by CLONE_SYSVSEM / CLONE_IO. */
static int sc_sysvsem_io(void)
{
	/* ioprio_set gives us an io_context; IOPRIO_CLASS_BE level 4 */
	if (syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 4) || sem_undo())
		return -1;
	return wl_spawn(CLONE_SYSVSEM | CLONE_IO, nothing, NULL) < 0 ||
	       wl_spawn(0, nothing, NULL) < 0 || wl_spawn(0, new_undo, NULL) < 0;
}

/* A process (not a thread) sharing mm and signal handlers with the root. */
static int sc_vm_sighand(void)
{
	return wl_spawn(CLONE_VM | CLONE_SIGHAND, nothing, NULL) < 0 ||
	       wl_spawn(CLONE_VM, nothing, NULL) < 0 || wl_spawn(0, nothing, NULL) < 0;
}

static int churn_child(void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < 200; i++) {
		int fd = open_scratch("churn", 0), d = dup(fd);

		close(fd);
		if (i % 3)
			close(d);
	}
	/* children that keep something: every third one forks a grandchild */
	if (n % 3 == 0 && wl_spawn(0, nothing, NULL) < 0)
		return -1;
	return 0;
}

static int run_and_reap(const char *prog)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid) {
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -1;
}

int wl_churn(void)
{
	static int ids[32];
	int keep = open_scratch("churn-root", 0);

	if (keep < 0)
		return -1;
	for (int i = 0; i < 32; i++) {
		ids[i] = i;
		/* short-lived: fork, fd traffic, exec, exit, reaped */
		if (run_and_reap("/bin/true"))
			return -1;
		if (i % 2 == 0 && wl_spawn(i % 4 ? 0 : CLONE_FILES, churn_child, &ids[i]) < 0)
			return -1;
	}
	for (int i = 0; i < 8; i++)
		if (start_thread(i % 2 ? CLONE_FS : 0))
			return -1;
	return 0;
}

#define STORM_OPS 200000

int wl_fd_storm(void)
{
	int keep = open_scratch("storm-keep", 0);

	for (int i = 0; i < STORM_OPS && keep >= 0; i++) {
		int fd = i % 2 ? dup(keep) : open("/dev/null", O_RDONLY);

		if (fd < 0)
			return -1;
		/* leave some behind so the final state is not just the start */
		if (i % 1000)
			close(fd);
	}
	return keep < 0;
}

const struct wl_scenario wl_scenarios[] = {
	{ "fork_inherit", sc_fork_inherit },
	{ "dup", sc_dup },
	{ "same_offset", sc_same_offset },
	{ "clone_files", sc_clone_files },
	{ "clone_fs", sc_clone_fs },
	{ "threads_unshare", sc_threads_unshare },
	{ "unshare_files", sc_unshare_files },
	{ "scm_rights", sc_scm_rights },
	{ "pidfd_getfd", sc_pidfd_getfd },
	{ "exec_cloexec", sc_exec_cloexec },
	{ "anon_kinds", sc_anon_kinds },
	{ "many_fds", sc_many_fds },
	{ "sysvsem_io", sc_sysvsem_io },
	{ "vm_sighand", sc_vm_sighand },
	{ "churn", wl_churn },
};
const int wl_nr_scenarios = sizeof(wl_scenarios) / sizeof(wl_scenarios[0]);

/* ---- running ---- */

static void root_main(wl_scenario_fn fn, int ready, int ctl, bool paused)
{
	char c;

	if (paused && read(ctl, &c, 1) != 1)
		_exit(1);
	c = fn() ? 'e' : 'r';
	/* the last syscall before parking: after it, the workload is quiet */
	if (write(ready, &c, 1) != 1)
		_exit(1);
	/* EOF on ctl: the test is done with us */
	while (read(ctl, &c, 1) > 0)
		;
	kill(0, SIGKILL);
	_exit(0);
}

static int wait_ready(struct wl *w)
{
	char c = 0;
	int r = read(w->ready, &c, 1) == 1 && c == 'r' ? 0 : -1;

	close(w->ready);
	w->ready = -1;
	if (r)
		wl_stop(w);
	return r;
}

static int start(struct wl *w, const char *name, wl_scenario_fn fn, bool paused)
{
	int ready[2], ctl[2];

	w->name = name;
	w->root = -1;
	w->ready = -1;
	if (pipe2(ready, O_CLOEXEC) || pipe2(ctl, O_CLOEXEC))
		return -1;
	w->root = fork();
	if (w->root < 0)
		return -1;
	if (!w->root) {
		setpgid(0, 0);
		close(ready[0]);
		close(ctl[1]);
		/*
		 * The scenario sees only its own fds: the test's stdio may be
		 * regular files (a CI log) that would join the sharing checked.
		 */
		int null = open("/dev/null", O_RDWR);

		for (int fd = 0; fd < 3 && null >= 0; fd++)
			if (fd != null)
				dup2(null, fd);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != ready[1] && fd != ctl[0])
				close(fd);
		/* keep the pipe ends out of the scenario's low fd numbers */
		int r = fcntl(ready[1], F_DUPFD_CLOEXEC, 900),
		    c = fcntl(ctl[0], F_DUPFD_CLOEXEC, 901);

		close(ready[1]);
		close(ctl[0]);
		root_main(fn, r, c, paused);
	}
	setpgid(w->root, w->root);
	close(ready[1]);
	close(ctl[0]);
	w->ctl = ctl[1];
	w->ready = ready[0];
	return paused ? 0 : wait_ready(w);
}

int wl_start(struct wl *w, const char *name, wl_scenario_fn fn)
{
	return start(w, name, fn, false);
}

int wl_start_paused(struct wl *w, const char *name, wl_scenario_fn fn)
{
	return start(w, name, fn, true);
}

int wl_go(struct wl *w)
{
	char c = 'g';

	if (write(w->ctl, &c, 1) != 1)
		return -1;
	return wait_ready(w);
}

void wl_stop(struct wl *w)
{
	if (w->root <= 0)
		return;
	kill(-w->root, SIGKILL);
	close(w->ctl);
	if (w->ready >= 0)
		close(w->ready);
	w->ready = -1;
	while (waitpid(w->root, NULL, 0) < 0 && errno == EINTR)
		;
	w->root = -1;
}
