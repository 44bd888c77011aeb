/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * Reading a snapshot back from the JSON that export_json() writes
 * (docs/snapshot-schema.md), for `kcmptrace diff` and daemon clients.
 *
 * The result is indexed (snapshot_index()) and carries the ids of the
 * file; it has no gen_ids, so it can be compared and exported but not
 * deduped again.  Every task in it is live and every task with fds is the
 * reader of its fd table.
 */
#ifndef KT_SNAPSHOT_JSON_H
#define KT_SNAPSHOT_JSON_H

#include <stddef.h>
#include "snapshot.h"

#define KT_SCHEMA_NAME "kcmptrace-snapshot"

/* The keys of "stats"."phase_ms", by enum kt_phase. */
const char *snapshot_json_phase_name(int phase);

/*
 * Parse a whole snapshot document of @len bytes; @name labels messages.
 * Returns 0, or a negative errno with *@s empty and a one-line message in
 * @err: -EINVAL for malformed, truncated or unsupported input (naming the
 * position: line, column and byte offset), -ENOMEM.
 */
int snapshot_json_parse(const char *buf, size_t len, const char *name, struct kt_snapshot *s,
			char *err, size_t err_len);

/*
 * Read and parse the file at @path ("-": standard input).  Besides
 * snapshot_json_parse()'s errors, the open or read errno (-ENOENT,
 * -EACCES, ...).
 */
int snapshot_json_read(const char *path, struct kt_snapshot *s, char *err, size_t err_len);

#endif
