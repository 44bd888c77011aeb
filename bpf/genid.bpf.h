/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gen_id: a keyed hash of a kernel object's address (SipHash-1-3 of one
 * 64-bit word), or CRIU's dev ^ ino ^ pos for files.
 *
 * The address itself never leaves the kernel.  The key is random per run
 * (written into .rodata by the loader), so gen_ids from different runs
 * cannot be joined and say nothing about the kernel's memory layout.
 */
#ifndef GENID_BPF_H
#define GENID_BPF_H

#include "kcmptrace.h"

const volatile __u64 genid_key0 = 0;
const volatile __u64 genid_key1 = 0;
const volatile __u32 genid_scheme = KT_GENID_ADDR;

#define ROTL64(x, b) (__u64)(((x) << (b)) | ((x) >> (64 - (b))))
/* one SipHash half-round per line, as the paper writes it */
/* clang-format off */
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32); \
		v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;                       \
		v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;                       \
		v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32); \
	} while (0)
/* clang-format on */

static __always_inline __u64 genid_hash_u64(__u64 m)
{
	__u64 v0 = genid_key0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = genid_key1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = genid_key0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = genid_key1 ^ 0x7465646279746573ULL;
	const __u64 b = 8ULL << 56;

	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * The verifier forbids arithmetic on trusted pointers (a task_file
 * iterator's file); reading the pointer's value back from the stack turns
 * it into a plain scalar.  A pointer that already is one (read with
 * bpf_probe_read_kernel()) goes to genid_hash_u64() and saves the call.
 */
static __always_inline __u64 genid_hash(const void *obj)
{
	__u64 m = 0;

	bpf_probe_read_kernel(&m, sizeof(m), &obj);
	return genid_hash_u64(m);
}

/* A task-level object's gen_id.  CRIU uses one constant for all of them. */
static __always_inline __u64 genid_task_obj(const void *obj)
{
	return genid_scheme == KT_GENID_CRIU ? 0 : genid_hash(obj);
}

/* CRIU's MAKE_FD_GENID: 32 bits of dev ^ ino ^ pos. */
static __always_inline __u64 genid_criu_file(__u32 dev, __u64 ino, __s64 pos)
{
	return (__u32)dev ^ (__u32)ino ^ (__u32)pos;
}

#endif
