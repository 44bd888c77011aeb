// SPDX-License-Identifier: LGPL-2.1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgroup_freeze.h"
#include "snapshot.h"
#include "util.h"

#define FREEZE_TIMEOUT_NS (5ull * 1000000000ull)

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[PATH_MAX + 32];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static bool frozen(const char *dir)
{
	char path[PATH_MAX + 32], line[128];
	bool is = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "frozen 1\n"))
			is = true;
	fclose(f);
	return is;
}

int cgroup_freeze(const char *dir)
{
	uint64_t end = kt_now_ns() + FREEZE_TIMEOUT_NS;
	int r = write_file(dir, "cgroup.freeze", "1");

	while (!r && !frozen(dir)) {
		struct timespec ts = { 0, 1000000 };

		if (kt_now_ns() > end)
			r = -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	if (r)
		cgroup_thaw(dir);
	return r;
}

int cgroup_thaw(const char *dir)
{
	return write_file(dir, "cgroup.freeze", "0");
}

/* "0::/path" of a process, made a directory under the cgroup2 mount. */
static int cgroup_of(uint32_t pid, const char *root, char *dir, size_t len)
{
	char path[64], line[PATH_MAX + 8];
	int r = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(dir, len, "%s%s", root, line + 3);
			r = 0;
		}
	fclose(f);
	return r;
}

int freeze_dir_for(const struct kt_target *t, char *dir, size_t len, char *why, size_t why_len)
{
	char self[PATH_MAX], root[PATH_MAX];
	size_t dl;

	if (t->mode == KT_TARGET_CGROUP) {
		snprintf(dir, len, "%s", t->cgroup_dir);
	} else if (t->mode == KT_TARGET_ALL) {
		snprintf(why, why_len,
			 "--freeze needs a target: the whole machine cannot be frozen");
		return -EINVAL;
	} else {
		uint32_t pid = t->mode == KT_TARGET_PIDS ? t->pids[0] : t->tgid;

		if (cgroup2_mount(root, sizeof(root)) || cgroup_of(pid, root, dir, len)) {
			snprintf(why, why_len, "cannot find the cgroup v2 of process %u", pid);
			return -ENOENT;
		}
	}
	/* never freeze ourselves: the snapshot would wait forever */
	if (!cgroup2_mount(root, sizeof(root)) &&
	    !cgroup_of((uint32_t)getpid(), root, self, sizeof(self))) {
		dl = strlen(dir);
		if (!strncmp(self, dir, dl) && (self[dl] == '/' || !self[dl])) {
			snprintf(why, why_len, "cgroup %s holds kcmptrace itself; run it elsewhere",
				 dir);
			return -EINVAL;
		}
	}
	return 0;
}
