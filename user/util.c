// SPDX-License-Identifier: LGPL-2.1
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kcmptrace.h"
#include "snapshot.h"
#include "util.h"

int kt_verbose;

void kt_err(const char *fmt, ...)
{
	va_list ap;

	fputs("kcmptrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void kt_debug(const char *fmt, ...)
{
	va_list ap;

	if (!kt_verbose)
		return;
	fputs("kcmptrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t kt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *const kind_names[KT_NR_KINDS] = {
	[KT_FILE] = "file",	  [KT_VM] = "vm", [KT_FILES] = "files",	    [KT_FS] = "fs",
	[KT_SIGHAND] = "sighand", [KT_IO] = "io", [KT_SYSVSEM] = "sysvsem",
};

static const char *const ns_names[KT_NR_NS] = {
	[KT_NS_PID] = "pid",	   [KT_NS_MNT] = "mnt",	  [KT_NS_NET] = "net",
	[KT_NS_IPC] = "ipc",	   [KT_NS_UTS] = "uts",	  [KT_NS_USER] = "user",
	[KT_NS_CGROUP] = "cgroup", [KT_NS_TIME] = "time",
};

static const char *const ftype_names[KT_FT_NR] = {
	[KT_FT_UNKNOWN] = "unknown", [KT_FT_REG] = "reg",     [KT_FT_DIR] = "dir",
	[KT_FT_CHR] = "chr",	     [KT_FT_BLK] = "blk",     [KT_FT_FIFO] = "fifo",
	[KT_FT_SOCK] = "sock",	     [KT_FT_LNK] = "lnk",     [KT_FT_ANON] = "anon",
	[KT_FT_PIDFD] = "pidfd",     [KT_FT_MEMFD] = "memfd",
};

const char *kt_kind_name(int kind)
{
	return kind >= 0 && kind < KT_NR_KINDS ? kind_names[kind] : "?";
}

const char *kt_ns_name(int ns)
{
	return ns >= 0 && ns < KT_NR_NS ? ns_names[ns] : "?";
}

const char *kt_ftype_name(int ftype)
{
	return ftype >= 0 && ftype < KT_FT_NR ? ftype_names[ftype] : "unknown";
}

int kt_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
