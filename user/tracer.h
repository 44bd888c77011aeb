/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * The live tracer: a cold scan, then ring-buffer events applied to a
 * live_state, with rescans where an effect cannot be read at syscall exit
 * and after lost events.
 */
#ifndef KT_TRACER_H
#define KT_TRACER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "backend.h"
#include "live.h"
#include "target.h"

struct trace_bpf;
struct ring_buffer;
struct kt_tracer;

/* What the tracer saw happen; handed to the reporter as it is applied. */
enum kt_change_type {
	KT_CH_FORK,
	KT_CH_EXEC,
	KT_CH_EXIT,
	KT_CH_TASK, /* unshare / close_range(UNSHARE): task objects changed */
	KT_CH_FD,   /* an fd slot now names a shared object, or stopped naming one */
	KT_CH_LOST, /* events were lost and repaired */
};

struct kt_change {
	enum kt_change_type type;
	const char *cause;
	uint64_t ts_ns;
	uint32_t tgid, tid;
	/* KT_CH_FORK */
	uint32_t parent_tid;
	uint64_t clone_flags;
	/* KT_CH_FD */
	int fd;
	struct live_obj *now; /* the object the slot names now, or NULL */
	struct live_obj *was; /* a shared object the slot stopped naming, still held */
	/* KT_CH_EXEC / KT_CH_LOST */
	uint64_t count;
	/* KT_CH_TASK: kinds whose object changed (bit per kind) */
	uint32_t kinds;
};

typedef void (*kt_report_fn)(struct kt_tracer *tr, const struct kt_change *ch, void *arg);

struct kt_tracer_counters {
	uint64_t events, lost, rescans, resyncs, dropped;
};

struct kt_tracer {
	struct kt_target target;
	struct trace_bpf *skel;
	struct bpf_link *flush_link; /* flush_held() in bpf/trace.bpf.c */
	struct kt_scanner *scanner;
	struct ring_buffer *rb;
	struct live_state st;
	struct kt_tracer_counters c;
	kt_report_fn report;
	void *report_arg;
	/* rescans asked for while applying a batch of events */
	struct u32map pending; /* tid -> reason (a static string) */
	bool pending_all;
	uint64_t lost_seen, overflow_seen;
	uint64_t last_event_ns;	  /* CLOCK_MONOTONIC stamp of the newest event applied */
	uint64_t tick_to_mono_ns; /* added to an event's tick time (modulo 2^64) */
	uint64_t pace_ns;	  /* after a busy drain, wait this long for the next */
	uint64_t next_drain_ns;	  /* CLOCK_MONOTONIC; 0: read as soon as there is data */
	uint64_t next_flush_ns;	  /* CLOCK_MONOTONIC: held-back fds reported at the latest */
	volatile sig_atomic_t stop;
};

/*
 * The default ring buffer (-B).  At the reader's 100 MB/s budget (see
 * wakeup_interval_ns() in tracer.c) it holds a quarter of it for 2.6 ms of
 * events, and 100k events/s for over 100 ms of a stalled reader; it is
 * most of the tracer's kernel memory, which does not grow with fds.
 */
#define KT_DEFAULT_RINGBUF (1u << 20)
#define KT_DEFAULT_RINGBUF_STR "1M"

struct kt_tracer_opts {
	size_t ringbuf_bytes; /* power of two, >= page size */
	bool want_paths;
};

/* Load, attach, seed the target and take the cold scan. Errors as snapshot_take. */
int tracer_start(struct kt_tracer *tr, const struct kt_target *t, const struct kt_tracer_opts *o,
		 char *why, size_t why_len);
/*
 * Milliseconds until the buffer should be read again (0: as soon as it is
 * readable).  A caller that polls the buffer's fd itself leaves it out of
 * its poll set until then.
 */
int tracer_pace_ms(const struct kt_tracer *tr);
/* Wait up to @timeout_ms for events and apply them, with the rescans they ask for. */
int tracer_poll(struct kt_tracer *tr, int timeout_ms);
/* Apply everything already in the buffer: the state is then as of now. */
int tracer_settle(struct kt_tracer *tr);
/* Read process @pid again from the kernel, as a lost event has it read. */
int tracer_rescan(struct kt_tracer *tr, uint32_t pid);
/*
 * Before serving warm state: settle, compare every task record with a fresh
 * task scan, confirm a sample of shared holders with kcmp, and rescan what
 * disagrees.  Fills the counters of @v (method, checks, repairs, age).
 */
struct kt_verification;
int tracer_verify(struct kt_tracer *tr, struct kt_verification *v);

/* The target has no task left (for targets that cannot come back). */
bool tracer_target_gone(const struct kt_tracer *tr);
void tracer_stop(struct kt_tracer *tr);

/* Path of a tracked fd: from a scan, else read from /proc through any open fd of its file. */
const char *tracer_fd_path(struct live_fd *f);

#endif
