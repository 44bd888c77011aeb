// SPDX-License-Identifier: LGPL-2.1
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "outfile.h"

/*
 * A device or a pipe (-o /dev/null, -o /dev/stdout) is written in place:
 * renaming a file over it would replace the device node.
 */
static int open_direct(struct kt_outfile *o, const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	o->direct = true;
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int r = -errno;

		close(fd);
		return r;
	}
	return 0;
}

int outfile_open(struct kt_outfile *o, const char *path)
{
	char real[PATH_MAX];
	struct stat st;
	int fd;

	memset(o, 0, sizeof(*o));
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		return open_direct(o, path);
	/* through a symlink: replace the file it names, not the link */
	if (realpath(path, real))
		path = real;
	if ((size_t)snprintf(o->tmp, sizeof(o->tmp), "%s.XXXXXX", path) >= sizeof(o->tmp))
		return -ENAMETOOLONG;
	snprintf(o->path, sizeof(o->path), "%s", path);
	fd = mkostemp(o->tmp, O_CLOEXEC); /* mkostemp creates with mode 0600 */
	if (fd < 0)
		return -errno;
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int r = -errno;

		close(fd);
		unlink(o->tmp);
		return r;
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 20);
	return 0;
}

int outfile_commit(struct kt_outfile *o)
{
	int r = 0;

	if (o->f == stdout)
		return fflush(stdout) ? -errno : 0;
	if (o->direct) {
		r = fclose(o->f) ? -errno : 0;
		o->f = NULL;
		return r;
	}
	if (fflush(o->f) || fsync(fileno(o->f)))
		r = -errno;
	if (fclose(o->f) && !r)
		r = -errno;
	o->f = NULL;
	if (!r && rename(o->tmp, o->path))
		r = -errno;
	if (r)
		unlink(o->tmp);
	return r;
}

void outfile_abort(struct kt_outfile *o)
{
	if (!o->f || o->f == stdout)
		return;
	fclose(o->f);
	o->f = NULL;
	if (!o->direct)
		unlink(o->tmp);
}
