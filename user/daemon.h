/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * The warm daemon: live tracing, served over a Unix socket.  One request
 * per connection, one line: "snapshot", "snapshot freeze", "stats" or
 * "health"; the answer is one JSON document.
 */
#ifndef KT_DAEMON_H
#define KT_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>
#include "snapshot.h"
#include "tracer.h"

struct kt_daemon_opts {
	const char *socket_path;
	bool has_group; /* members of this group may ask too */
	gid_t group;
	bool freeze; /* freeze the target's cgroup for every snapshot */
	struct kt_tracer_opts topts;
};

/* Serve until SIGINT/SIGTERM or the target exits; returns an exit code. */
int daemon_run(const struct kt_target *t, const struct kt_daemon_opts *o);
/* Ask a daemon: the raw answer (malloc'd, NUL-terminated past *len) or a negative errno. */
int daemon_request(const char *socket_path, const char *request, char **out, size_t *len);

#endif
