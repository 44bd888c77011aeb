// SPDX-License-Identifier: LGPL-2.1
/* One complete cold snapshot: collect with a backend, index, dedupe. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "backend.h"
#include "util.h"

static int collect(struct kt_snapshot *s, const struct kt_target *t,
		   const struct kt_backend_opts *o, enum kt_backend backend, bool fallback)
{
	char why[256] = "";
	int r;

	if (backend == KT_BACKEND_BPF) {
		snapshot_init(s, "bpf", o->genid);
		r = bpf_snapshot(s, t, o, why, sizeof(why));
		if (r != -ENOTSUP)
			return r;
		if (!fallback) {
			kt_err("BPF backend unavailable: %s", why);
			return -EPERM;
		}
		kt_err("BPF backend unavailable (%s); using the procfs backend", why);
		snapshot_free(s);
	}
	snapshot_init(s, "procfs", KT_GENID_CRIU);
	return procfs_snapshot(s, t, o);
}

int snapshot_take(struct kt_snapshot *s, const struct kt_target *t, const struct kt_backend_opts *o,
		  enum kt_backend backend, bool fallback)
{
	struct timespec now;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	r = collect(s, t, o, backend, fallback);
	if (!r)
		r = snapshot_index(s);
	if (!r)
		r = snapshot_dedupe(s, NULL, NULL);
	s->taken_at_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	return r;
}
