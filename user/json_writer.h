/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * A thin layer over yajl's generator for every JSON kcmptrace writes: one
 * output buffer for yajl's many small tokens, names made valid UTF-8,
 * integers without sprintf, and errors kept until the end.  The output goes
 * to a FILE (flushed in 64 KiB pieces) or into a growing memory buffer,
 * which the daemon keeps as reusable pieces of its answers.
 */
#ifndef KT_JSON_WRITER_H
#define KT_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <yajl/yajl_gen.h>

struct jw {
	yajl_gen g;
	FILE *out; /* NULL: collect in buf */
	int err;   /* first failure; later calls are harmless */
	size_t len, cap;
	char *buf;
	char *scratch; /* a string with invalid UTF-8 replaced */
	size_t scratch_cap;
};

/* 0 or -ENOMEM.  @out NULL collects the document in memory (jw_take). */
int jw_init(struct jw *w, FILE *out);
/* FILE mode: end the line, flush; returns the first error. */
int jw_finish(struct jw *w);
/* Memory mode: the bytes written (caller frees), or NULL and *@err set. */
char *jw_take(struct jw *w, size_t *len, int *err);

void jw_fail(struct jw *w, int err);
void jw_str(struct jw *w, const char *str, size_t len);
void jw_lit(struct jw *w, const char *str); /* our own ASCII */
void jw_key(struct jw *w, const char *key);
void jw_int(struct jw *w, long long v);
void jw_u64(struct jw *w, uint64_t v);
void jw_id(struct jw *w, uint32_t id); /* 0: null (absent) */
void jw_bool(struct jw *w, bool v);
void jw_ms(struct jw *w, uint64_t ns); /* milliseconds, every nanosecond kept */
void jw_open(struct jw *w, const char *key, bool array);
void jw_close(struct jw *w, bool array);

#endif
