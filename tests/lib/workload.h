/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Workloads whose sharing is built on purpose.  Each runs in its own
 * process group under a root process; the root builds the sharing (with
 * children, clones and threads), reports ready, and everything stays
 * blocked until wl_stop() kills the group.
 */
#ifndef KT_WORKLOAD_H
#define KT_WORKLOAD_H

#include <stdbool.h>
#include <sys/types.h>

struct wl {
	const char *name;
	pid_t root;
	int ctl;   /* a byte on it: go; closing it lets the root go away */
	int ready; /* paused workloads report ready on it */
};

/* A scenario builds its sharing inside the root process; 0 on success. */
typedef int (*wl_scenario_fn)(void);

struct wl_scenario {
	const char *name;
	wl_scenario_fn fn;
};

extern const struct wl_scenario wl_scenarios[];
extern const int wl_nr_scenarios;

int wl_start(struct wl *w, const char *name, wl_scenario_fn fn);
/* Start the root but hold the scenario until wl_go(): to trace it from birth. */
int wl_start_paused(struct wl *w, const char *name, wl_scenario_fn fn);
int wl_go(struct wl *w);

/* Churn: forks, execs, exits and fd traffic, ending in a known quiet state. */
int wl_churn(void);
/* A storm of fd syscalls, to overflow a small ring buffer. */
int wl_fd_storm(void);
void wl_stop(struct wl *w);

/* Inside a scenario: run @fn in a child made by clone(@flags), wait until it is set up. */
pid_t wl_spawn(unsigned long flags, int (*fn)(void *), void *arg);
/* A child made by clone(@flags | SIGCHLD) that exits at once, reaped; 0 or -1. */
int wl_clone_exit(unsigned long flags);
/* Inside a scenario: block forever (until the group is killed). */
void wl_park(void) __attribute__((noreturn));
/* A scratch file path for this workload. */
const char *wl_file(const char *tag);

#endif
