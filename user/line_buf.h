/* SPDX-License-Identifier: LGPL-2.1 */
/*
 * A change line built in a buffer and written with one fwrite.  Under an
 * fd storm the tracer writes a line per event, and printf's format
 * parsing was 70% of its CPU; these appends are what the lines need
 * (strings, padded fields, decimal integers) and nothing more.
 */
#ifndef KT_LINE_BUF_H
#define KT_LINE_BUF_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LINE_BUF_SIZE 2048 /* two paths of KT_PATH_MAX and six holders fit */

struct line_buf {
	size_t len;
	char buf[LINE_BUF_SIZE];
};

static inline void lb_mem(struct line_buf *b, const char *s, size_t n)
{
	if (n > sizeof(b->buf) - b->len)
		n = sizeof(b->buf) - b->len; /* cut, never overrun */
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

static inline void lb_str(struct line_buf *b, const char *s)
{
	lb_mem(b, s, strlen(s));
}

/* A string literal: its length is known at compile time. */
#define lb_lit(b, s) lb_mem((b), "" s, sizeof(s) - 1)

static inline void lb_spaces(struct line_buf *b, size_t n)
{
	while (n-- && b->len < sizeof(b->buf))
		b->buf[b->len++] = ' ';
}

/* %-Ns */
static inline void lb_str_left(struct line_buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	lb_mem(b, s, n);
	lb_spaces(b, n < width ? width - n : 0);
}

/* %Ns */
static inline void lb_str_right(struct line_buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	lb_spaces(b, n < width ? width - n : 0);
	lb_mem(b, s, n);
}

/* Decimal digits of @v into the end of @tmp; returns where they start. */
static inline char *lb_digits(char tmp[24], uint64_t v)
{
	char *p = tmp + 23;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

/* %*llu: @width 0 for no padding */
static inline void lb_u64(struct line_buf *b, uint64_t v, size_t width)
{
	char tmp[24];

	lb_str_right(b, lb_digits(tmp, v), width);
}

/* %d */
static inline void lb_int(struct line_buf *b, int64_t v)
{
	if (v < 0)
		lb_mem(b, "-", 1);
	lb_u64(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 0);
}

static inline void lb_write(struct line_buf *b, FILE *f)
{
	fwrite(b->buf, 1, b->len, f);
	b->len = 0;
}

#endif
