// SPDX-License-Identifier: LGPL-2.1
/* JSON through yajl's generator; see json_writer.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "json_writer.h"

/* yajl hands over every token separately: batch them into fewer writes */
#define JW_BUF_SIZE (64 * 1024)

void jw_fail(struct jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void jw_flush(struct jw *w)
{
	if (!w->err && w->len && fwrite(w->buf, 1, w->len, w->out) != w->len)
		jw_fail(w, -EIO);
	w->len = 0;
}

/* Memory mode: room for @more bytes, doubling. */
static bool jw_grow(struct jw *w, size_t more)
{
	size_t cap = w->cap;
	char *nb;

	while (cap - w->len < more)
		cap *= 2;
	nb = realloc(w->buf, cap);
	if (!nb) {
		jw_fail(w, -ENOMEM);
		return false;
	}
	w->buf = nb;
	w->cap = cap;
	return true;
}

static void jw_print(void *ctx, const char *str, size_t len)
{
	struct jw *w = ctx;

	if (len == 1 && w->len < w->cap) {
		w->buf[w->len++] = *str; /* the separators, most calls */
		return;
	}
	if (w->err)
		return;
	if (w->len + len > w->cap) {
		if (!w->out) {
			if (!jw_grow(w, len))
				return;
		} else {
			jw_flush(w);
			if (len > w->cap) {
				if (fwrite(str, 1, len, w->out) != len)
					jw_fail(w, -EIO);
				return;
			}
		}
	}
	memcpy(w->buf + w->len, str, len);
	w->len += len;
}

static void jw_check(struct jw *w, yajl_gen_status st)
{
	/* only misuse of the generator fails, which would be a bug here */
	if (st != yajl_gen_status_ok)
		jw_fail(w, -EINVAL);
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	/* no overlong forms, surrogates or code points past U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Linux names are bytes, JSON strings are Unicode: a byte that is not part
 * of valid UTF-8 (as in a comm cut mid-character) becomes '?', which keeps
 * the length, so a comm still fits its 16 bytes when read back.
 */
void jw_str(struct jw *w, const char *str, size_t len)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t i = 0, n;

	while (i < len && (n = utf8_len(p + i, len - i)))
		i += n;
	if (i < len) {
		if (len > w->scratch_cap) {
			char *nb = realloc(w->scratch, len);

			if (!nb) {
				jw_fail(w, -ENOMEM);
				return;
			}
			w->scratch = nb;
			w->scratch_cap = len;
		}
		memcpy(w->scratch, str, i);
		while (i < len) {
			n = utf8_len(p + i, len - i);
			if (!n) {
				w->scratch[i++] = '?';
				continue;
			}
			memcpy(w->scratch + i, str + i, n);
			i += n;
		}
		p = (const unsigned char *)w->scratch;
	}
	jw_check(w, yajl_gen_string(w->g, p, len));
}

/* A key or a value from our own ASCII tables. */
void jw_lit(struct jw *w, const char *str)
{
	jw_check(w, yajl_gen_string(w->g, (const unsigned char *)str, strlen(str)));
}

void jw_key(struct jw *w, const char *key)
{
	jw_lit(w, key);
}

/*
 * yajl_gen_integer() goes through sprintf, a fifth of the time of a large
 * export; the digits are simple enough to make here.
 */
void jw_int(struct jw *w, long long v)
{
	char num[24], *p = num + sizeof(num);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	jw_check(w, yajl_gen_number(w->g, p, (size_t)(num + sizeof(num) - p)));
}

/* JSON readers (yajl among them) take integers as signed 64-bit. */
void jw_u64(struct jw *w, uint64_t v)
{
	if (v > LLONG_MAX)
		jw_fail(w, -ERANGE);
	else
		jw_int(w, (long long)v);
}

/* An object id; 0 is no object. */
void jw_id(struct jw *w, uint32_t id)
{
	if (id)
		jw_int(w, id);
	else
		jw_check(w, yajl_gen_null(w->g));
}

void jw_bool(struct jw *w, bool v)
{
	jw_check(w, yajl_gen_bool(w->g, v));
}

/* Milliseconds with every nanosecond, written exactly (no binary fraction). */
void jw_ms(struct jw *w, uint64_t ns)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%llu.%06llu", (unsigned long long)(ns / 1000000),
			 (unsigned long long)(ns % 1000000));

	jw_check(w, yajl_gen_number(w->g, num, (size_t)n));
}

void jw_open(struct jw *w, const char *key, bool array)
{
	if (key)
		jw_key(w, key);
	jw_check(w, array ? yajl_gen_array_open(w->g) : yajl_gen_map_open(w->g));
}

void jw_close(struct jw *w, bool array)
{
	jw_check(w, array ? yajl_gen_array_close(w->g) : yajl_gen_map_close(w->g));
}

int jw_init(struct jw *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->cap = JW_BUF_SIZE;
	w->buf = malloc(w->cap);
	w->g = yajl_gen_alloc(NULL);
	if (!w->buf || !w->g || !yajl_gen_config(w->g, yajl_gen_print_callback, jw_print, w)) {
		if (w->g)
			yajl_gen_free(w->g);
		free(w->buf);
		return -ENOMEM;
	}
	return 0;
}

static void jw_release(struct jw *w)
{
	yajl_gen_free(w->g);
	free(w->scratch);
	w->g = NULL;
	w->scratch = NULL;
}

int jw_finish(struct jw *w)
{
	jw_print(w, "\n", 1);
	jw_flush(w);
	/* a full disk shows only when stdio writes its buffer out */
	if (fflush(w->out) || ferror(w->out))
		jw_fail(w, -EIO);
	jw_release(w);
	free(w->buf);
	return w->err;
}

char *jw_take(struct jw *w, size_t *len, int *err)
{
	char *buf = w->buf;

	jw_release(w);
	*err = w->err;
	*len = w->len;
	if (w->err) {
		free(buf);
		return NULL;
	}
	return buf;
}
