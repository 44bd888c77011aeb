// SPDX-License-Identifier: LGPL-2.1
/* Parsing and validating targets; matching them for userspace backends. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/nsfs.h>
#include "target.h"
#include "util.h"

static int parse_pid(const char *s, uint32_t *pid)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > 0x3fffffff || !isdigit((unsigned char)*s))
		return -1;
	*pid = (uint32_t)v;
	return 0;
}

/* "Tgid:" of a pid or tid, so a thread id names its process. */
static int tgid_of(uint32_t pid, uint32_t *tgid)
{
	char path[64], line[256];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %u", tgid) == 1) {
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

static int existing_tgid(const char *arg, uint32_t *tgid)
{
	uint32_t pid;

	if (parse_pid(arg, &pid)) {
		kt_err("not a pid: '%s'", arg);
		return KT_EXIT_USAGE;
	}
	if (tgid_of(pid, tgid)) {
		kt_err("no such process: %u", pid);
		return KT_EXIT_NOTARGET;
	}
	return 0;
}

int target_set_pids(struct kt_target *t, const char *list)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return KT_EXIT_ERROR;
	t->mode = KT_TARGET_PIDS;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save)) {
		uint32_t tgid;

		if (t->npids == KT_MAX_PIDS) {
			kt_err("too many pids (at most %d)", KT_MAX_PIDS);
			r = KT_EXIT_USAGE;
			break;
		}
		r = existing_tgid(tok, &tgid);
		if (!r)
			t->pids[t->npids++] = tgid;
	}
	free(copy);
	if (!r && !t->npids) {
		kt_err("empty pid list");
		r = KT_EXIT_USAGE;
	}
	return r;
}

int target_set_tree(struct kt_target *t, const char *pid)
{
	t->mode = KT_TARGET_TREE;
	return existing_tgid(pid, &t->tgid);
}

/* The cgroup2 mount point, from mountinfo (hybrid hosts mount it aside). */
int cgroup2_mount(char *buf, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strlen(mnt) < len) {
			strcpy(buf, mnt);
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

int target_set_cgroup(struct kt_target *t, const char *path)
{
	char root[PATH_MAX], full[2 * PATH_MAX], real[PATH_MAX];
	size_t rl;
	struct stat st;
	const char *p;

	t->mode = KT_TARGET_CGROUP;
	if (cgroup2_mount(root, sizeof(root))) {
		kt_err("no cgroup v2 hierarchy is mounted");
		return KT_EXIT_NOTARGET;
	}
	rl = strlen(root);
	/* an absolute path under the mount, or a cgroup path as /proc/PID/cgroup shows */
	if (!strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "%s/%s", root, path[0] == '/' ? path + 1 : path);
	if (!realpath(full, real) || stat(real, &st) || !S_ISDIR(st.st_mode) ||
	    strncmp(real, root, rl) || (real[rl] && real[rl] != '/')) {
		kt_err("no such cgroup: %s", path);
		return KT_EXIT_NOTARGET;
	}
	snprintf(t->cgroup_path, sizeof(t->cgroup_path), "%s", real[rl] ? real + rl : "/");
	snprintf(t->cgroup_dir, sizeof(t->cgroup_dir), "%s", real);
	t->cgroup_id = st.st_ino; /* a cgroup's id is its kernfs inode number */
	t->cgroup_level = 0;
	for (p = t->cgroup_path; *p; p++)
		if (*p == '/' && p[1])
			t->cgroup_level++;
	return 0;
}

static int pidns_level_of(uint32_t pid, uint32_t *level)
{
	char path[64], line[512];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		*level = 0;
		for (char *p = line + 6; *p; p++)
			if (*p == '\t' && isdigit((unsigned char)p[1]))
				(*level)++;
		*level = *level ? *level - 1 : 0;
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int target_set_container(struct kt_target *t, const char *pid)
{
	char path[64];
	struct stat st;
	int r;

	t->mode = KT_TARGET_PIDNS;
	r = existing_tgid(pid, &t->tgid);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/proc/%u/ns/pid", t->tgid);
	if (stat(path, &st) || pidns_level_of(t->tgid, &t->pidns_level)) {
		kt_err("cannot read the pid namespace of %u: %s", t->tgid, strerror(errno));
		return KT_EXIT_NOTARGET;
	}
	t->pidns_inum = (uint32_t)st.st_ino;
	return 0;
}

int target_set_from_opt(struct kt_target *t, int opt, const char *arg)
{
	if (t->mode != KT_TARGET_ALL) {
		kt_err("give one target only");
		return KT_EXIT_USAGE;
	}
	switch (opt) {
	case 'p': return target_set_pids(t, arg);
	case 't': return target_set_tree(t, arg);
	case 'c': return target_set_cgroup(t, arg);
	default: return target_set_container(t, arg);
	}
}

void target_describe(const struct kt_target *t, char *buf, size_t len)
{
	size_t off;

	switch (t->mode) {
	case KT_TARGET_PIDS:
		off = (size_t)snprintf(buf, len, "pids ");
		for (size_t i = 0; i < t->npids && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "," : "",
						t->pids[i]);
		break;
	case KT_TARGET_TREE: snprintf(buf, len, "tree %u", t->tgid); break;
	case KT_TARGET_CGROUP: snprintf(buf, len, "cgroup %s", t->cgroup_path); break;
	case KT_TARGET_PIDNS:
		snprintf(buf, len, "container %u (pidns %u)", t->tgid, t->pidns_inum);
		break;
	default: snprintf(buf, len, "machine");
	}
}

bool target_match_pids(const struct kt_target *t, uint32_t tgid)
{
	for (size_t i = 0; i < t->npids; i++)
		if (t->pids[i] == tgid)
			return true;
	return false;
}

bool target_match_cgroup(const struct kt_target *t, uint32_t tgid)
{
	char path[64], line[PATH_MAX + 8];
	size_t cl = strlen(t->cgroup_path);
	bool match = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", tgid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *cg;

		if (strncmp(line, "0::", 3))
			continue;
		cg = line + 3;
		cg[strcspn(cg, "\n")] = '\0';
		match = !strcmp(t->cgroup_path, "/") ||
			(!strncmp(cg, t->cgroup_path, cl) && (cg[cl] == '/' || !cg[cl]));
		break;
	}
	fclose(f);
	return match;
}

/* In the target pid namespace or one below it: walk up with NS_GET_PARENT. */
bool target_match_pidns(const struct kt_target *t, uint32_t tid)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/ns/pid", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while (!fstat(fd, &st)) {
		int parent;

		if ((uint32_t)st.st_ino == t->pidns_inum) {
			close(fd);
			return true;
		}
		parent = ioctl(fd, NS_GET_PARENT);
		close(fd);
		if (parent < 0)
			return false;
		fd = parent;
	}
	close(fd);
	return false;
}
