/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * The daemon's JSON writer: a snapshot document straight from the live
 * state, without building a kt_snapshot, re-encoding only what changed.
 *
 * Every fd table keeps its fds as JSON (live_frag) in pieces of 256 slots,
 * each remade only when one of its fds changes; the "shared" member is
 * remade only when an object with two or more holders changes hands.  An
 * answer is then the header, the tasks (few, written fresh), the pieces
 * copied in and the shared member: for 100k quiet fds a memcpy of the
 * document instead of 100k objects through the generator.
 *
 * Ids are those of the kcmp trees, stable while an object lives: unique in
 * the document as the schema asks, but not dense and not in first-seen
 * order (docs/snapshot-schema.md allows that for the "daemon" backend).
 */
#ifndef KT_LIVE_JSON_H
#define KT_LIVE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "live.h"

struct live_json_cache {
	uint64_t version; /* live_state.shared_version the shared member was made for */
	char *shared;
	size_t shared_len;
	uint64_t serial;		   /* answers written */
	uint64_t pieces_kept, pieces_made; /* of tables' JSON, over all answers */
};

struct live_json_doc {
	const char *target_desc;
	uint64_t taken_at_ns;
	uint64_t lost_events;
	const struct kt_verification *verification; /* NULL: none */
	/* Resolve the path of an fd that has none yet (an event brought it); may be NULL. */
	void (*resolve_path)(struct live_fd *f);
};

void live_json_cache_free(struct live_json_cache *c);
/* Forget every kept piece: the next write makes all of them anew. */
void live_json_forget(struct live_state *st, struct live_json_cache *c);

/* The whole document, newline-terminated, in *@out (caller frees).  0 or -errno. */
int live_json_write(struct live_state *st, struct live_json_cache *c,
		    const struct live_json_doc *doc, char **out, size_t *len);

#endif
