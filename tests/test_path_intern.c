// SPDX-License-Identifier: LGPL-2.1
/* path_intern.c: one counted copy per distinct path, through table growth. */
#include <stdint.h>
#include "path_intern.h"
#include "check.h"

#define NPATHS 5000

static void name_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "/proc/%d/fd/%d", i % 97, i);
}

int main(void)
{
	static const char *copy[NPATHS], *again[NPATHS];
	struct path_intern pi = { 0 };
	char buf[64];
	int bad = 0;

	for (int i = 0; i < NPATHS; i++) {
		name_of(buf, sizeof(buf), i);
		copy[i] = path_intern(&pi, buf);
	}
	CHECK_EQ(pi.len, NPATHS, "intern_distinct_counted");
	for (int i = 0; i < NPATHS; i++) {
		name_of(buf, sizeof(buf), i);
		again[i] = path_intern(&pi, buf);
		bad += !copy[i] || again[i] != copy[i] || strcmp(copy[i], buf) || copy[i] == buf;
	}
	CHECK(!bad && pi.len == NPATHS, "intern_same_path_same_copy", "%d paths differ", bad);
	for (int i = 0; i < NPATHS; i++)
		path_unintern(&pi, copy[i]);
	CHECK_EQ(pi.len, NPATHS, "unintern_keeps_counted_copy");
	bad = 0;
	for (int i = 0; i < NPATHS; i += 2)
		path_unintern(&pi, again[i]);
	for (int i = 1; i < NPATHS; i += 2) {
		name_of(buf, sizeof(buf), i);
		bad += strcmp(again[i], buf) != 0;
	}
	CHECK(!bad && pi.len == NPATHS / 2, "unintern_last_frees_only_it",
	      "%d survivors changed, %zu left", bad, pi.len);
	for (int i = 1; i < NPATHS; i += 2)
		path_unintern(&pi, again[i]);
	CHECK_EQ(pi.len, 0, "unintern_all_empties");
	const char *empty = path_intern(&pi, "");

	CHECK(empty && !*empty && pi.len == 1, "intern_empty_path", "len %zu", pi.len);
	if (empty)
		path_unintern(&pi, empty);
	CHECK_EQ(pi.len, 0, "unintern_empty_path");
	path_intern_free(&pi);
	return check_exit();
}
