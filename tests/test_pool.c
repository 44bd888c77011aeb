// SPDX-License-Identifier: LGPL-2.1
/* pool.c: zeroed, aligned, distinct objects across chunks; freed ones reused. */
#include <stdint.h>
#include "pool.h"
#include "check.h"

#define N 5000 /* several 64 KiB chunks of 40-byte objects */
#define SIZE 37

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static unsigned char *obj[N], *sorted[N];
	struct pool p;
	int dirty = 0, misaligned = 0, overlap = 0, reused = 0;

	pool_init(&p, SIZE);
	CHECK(p.size >= SIZE && p.size % 8 == 0, "pool_size_rounded", "size %zu", p.size);
	for (int i = 0; i < N; i++) {
		obj[i] = pool_get(&p);
		if (!obj[i])
			break;
		for (int b = 0; b < SIZE; b++)
			dirty += obj[i][b] != 0;
		misaligned += (uintptr_t)obj[i] % 8 != 0;
		memset(obj[i], 0xa5, SIZE);
	}
	CHECK(obj[N - 1] && !dirty && !misaligned, "pool_get_zeroed_aligned",
	      "%d dirty bytes, %d misaligned", dirty, misaligned);
	memcpy(sorted, obj, sizeof(obj));
	qsort(sorted, N, sizeof(sorted[0]), cmp_ptr);
	for (int i = 1; i < N; i++)
		overlap += sorted[i] - sorted[i - 1] < (long)p.size;
	CHECK(!overlap, "pool_objects_disjoint", "%d overlapping objects", overlap);
	for (int i = 0; i < N; i += 2)
		pool_put(&p, obj[i]);
	for (int i = 0; i < N; i += 2) {
		unsigned char *o = pool_get(&p);

		reused += o && o[0] == 0 && o[SIZE - 1] == 0 &&
			  bsearch(&o, sorted, N, sizeof(sorted[0]), cmp_ptr);
	}
	CHECK_EQ(reused, N / 2, "pool_put_objects_reused_zeroed");
	pool_destroy(&p);
	CHECK(!p.chunks && !p.free && p.size >= SIZE, "pool_destroy_resets", "pool not reset");
	return check_exit();
}
