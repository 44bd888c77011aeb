/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Live sharing state: the same kcmp trees as a snapshot, kept current one
 * change at a time.  Every object knows its holders, so when the holder
 * its tree entry is keyed by goes away the entry is re-keyed to another
 * holder, or removed with the last one.
 */
#ifndef KT_LIVE_H
#define KT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kcmptrace.h"
#include "kid_tree.h"
#include "snapshot.h"
#include "path_intern.h"
#include "pool.h"
#include "u32map.h"

struct live_obj;
struct live_table;
struct live_state;

/* One holder's membership in an object's holder list. */
struct live_hold {
	struct live_hold *prev, *next;
	struct live_obj *obj;
};

/*
 * A distinct kernel object.  Its kcmp-tree entry is embedded: the object
 * is in tree[kind] while a live holder can name it to kcmp, and keeps its
 * id after.  A file's description (what a snapshot says of it besides
 * its fd) is kept here once, as of the latest event or scan of any of
 * its fds: the fds of one open file share their position and flags.
 */
struct live_obj {
	struct kid_entry e;
	struct live_hold *holders;
	uint32_t nholders;
	uint32_t dev; /* KT_FILE: as kt_fd_rec */
	uint64_t ino;
	int64_t pos;
	uint32_t flags;
	uint16_t mode, ftype;
	union {
		struct live_table *table; /* KT_FILES: the fd table */
		const char *path;	  /* KT_FILE: interned (st->paths), or see live_fd_path() */
	};
};

/* The object's tree id, 0 once no live holder can name it. */
static inline uint32_t live_obj_tree_id(const struct live_obj *obj)
{
	return obj && kid_in_tree(&obj->e) ? obj->e.id : 0;
}

struct live_task {
	struct kt_task_rec rec;
	struct live_hold hold[KT_NR_KINDS]; /* [KT_FILE] unused */
};

/* One fd: the slot of a table that holds a file object. */
struct live_fd {
	struct live_hold hold;
	struct live_table *table;
	int fd;
};

/* The fd a file's holder link belongs to. */
static inline struct live_fd *live_hold_fd(const struct live_hold *h)
{
	return (struct live_fd *)((char *)h - offsetof(struct live_fd, hold));
}

/*
 * The path of the file an fd names (one per open file), NULL while not
 * known.  A socket's or pipe's, which the kernel makes from the inode
 * number, is not kept but made again, in a buffer the next call reuses.
 */
const char *live_fd_path(const struct live_fd *f);

/* The fd as a snapshot record (tid and tgid: the table's key holder's tid, 0). */
void live_fd_rec(const struct live_fd *f, struct kt_fd_rec *rec);

/*
 * A table's fds as JSON, kept between daemon answers (live_json.c) in
 * pieces of LIVE_PIECE_SLOTS slots, so that one busy fd remakes one piece.
 * The pieces hold while they were made for the same reader, table id and
 * id epoch; each is remade when an fd in its range changes.
 */
#define LIVE_PIECE_SLOTS 256

struct live_piece {
	char *buf; /* "{...},{...}": the members of the fds array */
	size_t len;
	bool valid;
};

struct live_frag {
	struct live_piece *pieces; /* [i] covers slots i * LIVE_PIECE_SLOTS... */
	uint32_t npieces;
	uint32_t tid, files_id;
	uint64_t epoch;
	bool valid;    /* tid, files_id and epoch say what the pieces were made for */
	uint64_t seen; /* scratch for the writer */
};

static inline void live_frag_stale(struct live_frag *fr, int fd)
{
	uint32_t i = (uint32_t)fd / LIVE_PIECE_SLOTS;

	if (i < fr->npieces)
		fr->pieces[i].valid = false;
}

struct live_table {
	struct live_fd **slot; /* by fd number */
	uint32_t nslots;
	uint32_t nfds;
	uint32_t key_tid; /* the holder whose tid names this table's fds to kcmp */
	struct live_obj *obj;
	struct live_state *st;
	struct live_frag json;
};

struct live_state {
	struct kid_tree tree[KT_NR_KINDS];
	struct pool objs; /* struct live_obj */
	struct pool fds;  /* struct live_fd */
	struct path_intern paths;
	struct u32map tasks; /* tid -> struct live_task */
	uint64_t nfds;
	uint64_t dropped;	 /* changes for holders that were gone before we saw them */
	uint64_t shared_version; /* bumped by changes to objects with >= 2 holders */
	uint64_t id_epoch;	 /* bumped when an object loses its id while held */
};

void live_init(struct live_state *st);
void live_free(struct live_state *st);

/*
 * Add or refresh a task.  *@new_table is set when the task now holds an fd
 * table nobody else in the state holds: the caller must fill it (rescan).
 * Returns 0, -ESRCH if the task is already gone, or another negative errno.
 */
int live_task_update(struct live_state *st, const struct kt_task_rec *rec, bool *new_table);
void live_task_remove(struct live_state *st, uint32_t tid);
struct live_task *live_task_get(const struct live_state *st, uint32_t tid);

/*
 * Set fd slot @fd of @tid's table to @rec (with @path, may be NULL), or
 * clear it (@rec NULL).  -ESRCH: no such task in the state.
 */
int live_fd_set(struct live_state *st, uint32_t tid, int fd, const struct kt_fd_rec *rec,
		const char *path);
/*
 * The same, where the kernel found slot @same_as of the table holding the
 * same file (a dup's source; -1: none): if our record of @same_as agrees,
 * the fd joins that object without a kcmp.
 */
int live_fd_set_same(struct live_state *st, uint32_t tid, int fd, const struct kt_fd_rec *rec,
		     const char *path, int same_as);
struct live_fd *live_fd_get(const struct live_state *st, uint32_t tid, int fd);

/* Make @tid's table exactly the fds of @scan that were read through @tid. */
int live_table_replace(struct live_state *st, uint32_t tid, const struct kt_snapshot *scan);

/* Give @f's file its path (interned), if it has none yet; -ENOMEM. */
int live_fd_set_path(struct live_fd *f, const char *path);

/* The id of the object a holder names, 0 if absent. */
uint32_t live_obj_id(const struct live_hold *h);

/* A deduped snapshot of the state (ids renumbered densely). */
int live_to_snapshot(const struct live_state *st, struct kt_snapshot *s);

/* kcmp calls and collisions over all trees. */
struct kid_stats live_stats(const struct live_state *st);

#endif
