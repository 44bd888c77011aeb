// SPDX-License-Identifier: LGPL-2.1
/*
 * kid_tree.c with an injected comparator over a fake object model, then
 * kid_kcmp() against the kernel.
 *
 * Every fake holder (pid, idx) names a hidden object number.  The fake
 * comparator orders objects by a scrambled "address" the way kcmp(2) orders
 * kernel pointers, and can be told to refuse an order (KID_UNORDERED), to
 * fail for dead holders (-ESRCH, -EBADF, -EPERM) or to return garbage.  It
 * counts its calls independently of the tree's stats.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/kcmp.h>
#include "kid_tree.h"
#include "check.h"

/* Failure messages name entries by id: no output carries an address. */
#define ID(e) ((e) ? (e)->id : 0u)

#define FAKE_TYPE 4 /* any kcmp type: the fake checks only that it is passed on */
#define PID_BASE 1000
#define PER_PID 64 /* holder h is (PID_BASE + h / PER_PID, h % PER_PID) */
#define MAX_HOLDERS 40000
#define MAX_OBJS 4096

struct fake {
	int obj[MAX_HOLDERS];	/* holder -> object number */
	int err[MAX_HOLDERS];	/* holder -> errno its kcmp fails with; 0: alive */
	int unordered_pair_mod; /* pairs with pair_hash % mod == 0 have no order */
	int unordered_obj_mod;	/* objects with obj % mod == 0 have no order */
	int force_ret;		/* != 0: return this for every call */
	uint64_t calls;
	uint64_t cross_gen; /* calls across gen_ids: the tree must never make one */
	uint64_t bad_args;  /* wrong type, arg or holder */
	struct kid_key last_b;
};

static struct fake fake;

/* xorshift64*: the same sequence under every libc. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() >> 33) % n;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void reset_fake(uint64_t seed)
{
	memset(&fake, 0, sizeof(fake));
	rng_state = seed ? seed : 1;
}

static struct kid_key hkey(int h, uint64_t gen)
{
	return (struct kid_key){ .gen = gen, .pid = PID_BASE + h / PER_PID, .idx = h % PER_PID };
}

static int holder_of(const struct kid_key *k)
{
	return (k->pid - PID_BASE) * PER_PID + k->idx;
}

/* Where the "kernel" keeps the object: kcmp orders by it, not by number. */
static uint32_t addr_of(int obj)
{
	return (uint32_t)obj * 2654435761u;
}

static bool unorderable(int oa, int ob)
{
	int lo = oa < ob ? oa : ob, hi = oa < ob ? ob : oa;

	if (fake.unordered_obj_mod &&
	    (oa % fake.unordered_obj_mod == 0 || ob % fake.unordered_obj_mod == 0))
		return true;
	return fake.unordered_pair_mod &&
	       mix((uint64_t)lo << 32 | (uint32_t)hi) % fake.unordered_pair_mod == 0;
}

static int fake_cmp(int type, const struct kid_key *a, const struct kid_key *b, void *arg)
{
	int ha = holder_of(a), hb = holder_of(b), oa, ob;

	fake.calls++;
	fake.last_b = *b;
	if (type != FAKE_TYPE || arg != &fake || ha < 0 || ha >= MAX_HOLDERS || hb < 0 ||
	    hb >= MAX_HOLDERS) {
		fake.bad_args++;
		return -EFAULT;
	}
	if (a->gen != b->gen)
		fake.cross_gen++;
	if (fake.err[ha])
		return -fake.err[ha];
	if (fake.err[hb])
		return -fake.err[hb];
	if (fake.force_ret)
		return fake.force_ret;
	oa = fake.obj[ha];
	ob = fake.obj[hb];
	if (oa == ob)
		return KID_EQ;
	if (unorderable(oa, ob))
		return KID_UNORDERED;
	return addr_of(oa) < addr_of(ob) ? KID_LT : KID_GT;
}

static void tree_init(struct kid_tree *t)
{
	kid_tree_init(t, FAKE_TYPE, fake_cmp, &fake);
}

static int lookup(struct kid_tree *t, int h, uint64_t gen, struct kid_entry **e, bool *is_new)
{
	struct kid_key k = hkey(h, gen);

	return kid_lookup_or_insert(t, &k, e, is_new);
}

/* Look @h up, expecting success; the entry, or NULL. */
static struct kid_entry *must_lookup(struct kid_tree *t, int h, uint64_t gen, bool *is_new)
{
	struct kid_entry *e = NULL;
	bool dummy;

	if (lookup(t, h, gen, &e, is_new ? is_new : &dummy))
		return NULL;
	return e;
}

/* Aggregates a loop's failures into one named check, keeping the first. */
struct fails {
	int n;
	char first[256];
};

static void __attribute__((format(printf, 2, 3))) note(struct fails *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n++)
		return;
	va_start(ap, fmt);
	vsnprintf(f->first, sizeof(f->first), fmt, ap);
	va_end(ap);
}

#define CHECK_FAILS(f, name) CHECK((f).n == 0, name, "%d failures, first: %s", (f).n, (f).first)

static void check_stats_agree(struct kid_tree *t, const char *name)
{
	CHECK(t->stats.kcmp_calls == fake.calls && !fake.cross_gen && !fake.bad_args, name,
	      "kcmp_calls %llu, comparator saw %llu calls, %llu across gens, %llu bad",
	      (unsigned long long)t->stats.kcmp_calls, (unsigned long long)fake.calls,
	      (unsigned long long)fake.cross_gen, (unsigned long long)fake.bad_args);
}

/*
 * The CRIU bug: the first insertion into a gen's subtree looped forever.
 * Object A heads gen 5, object B becomes the root of its subtree, object C
 * goes @side of B, then A is looked up again: both links of the subtree
 * root get exercised.
 */
static void first_subtree_case(int obj_c, bool left, const char *side)
{
	struct kid_entry *a, *b, *c, *a2;
	bool new_a = false, new_b = false, new_c = false, new_a2 = true;
	struct kid_tree t;
	char name[96];

	reset_fake(1);
	fake.obj[0] = fake.obj[3] = 5;
	fake.obj[1] = 1;
	fake.obj[2] = obj_c;
	tree_init(&t);
	a = must_lookup(&t, 0, 5, &new_a);
	b = must_lookup(&t, 1, 5, &new_b);
	c = must_lookup(&t, 2, 5, &new_c);
	a2 = must_lookup(&t, 3, 5, &new_a2);
	snprintf(name, sizeof(name), "first_subtree_%s_terminates", side);
	if (!CHECK(a && b && c && a2, name, "a lookup failed"))
		return;
	snprintf(name, sizeof(name), "first_subtree_%s_distinct_ids", side);
	CHECK(a->id == 1 && b->id == 2 && c->id == 3 && new_a && new_b && new_c, name,
	      "ids %u %u %u new %d %d %d", a->id, b->id, c->id, new_a, new_b, new_c);
	snprintf(name, sizeof(name), "first_subtree_%s_linked", side);
	CHECK(a->place == KID_HEAD && b->place == KID_SUB && c->place == KID_SUB &&
		      a->sub.node == &b->node && !rb_parent(&b->node) &&
		      (left ? b->node.left : b->node.right) == &c->node &&
		      rb_parent(&c->node) == &b->node,
	      name, "B is not the subtree's root or C not its %s child", side);
	snprintf(name, sizeof(name), "first_subtree_%s_same_object_found", side);
	CHECK(a2 == a && a2->id == 1 && !new_a2, name, "fourth key got id %u new %d", a2->id,
	      new_a2);
	snprintf(name, sizeof(name), "first_subtree_%s_stats", side);
	CHECK(t.stats.entries == 3 && t.stats.collisions == 2 && t.stats.kcmp_calls == 4, name,
	      "entries %llu collisions %llu kcmp_calls %llu", (unsigned long long)t.stats.entries,
	      (unsigned long long)t.stats.collisions, (unsigned long long)t.stats.kcmp_calls);
	snprintf(name, sizeof(name), "first_subtree_%s_kcmp_calls_counted", side);
	check_stats_agree(&t, name);
	kid_tree_destroy(&t);
}

static void test_first_subtree_insertion(void)
{
	/* addr_of() puts object 2 below object 1 and object 3 above it. */
	first_subtree_case(2, true, "left");
	first_subtree_case(3, false, "right");
}

/* Ids are 1, 2, 3... in the order objects are first seen, gen or no gen. */
static void test_dense_ids(void)
{
	static const int objs[] = { 7, 3, 7, 1, 3, 9, 9, 0, 1, 12, 5, 0, 7 };
	static const uint32_t want[] = { 1, 2, 1, 3, 2, 4, 4, 5, 3, 6, 7, 5, 1 };
	struct kid_tree t;
	struct fails f = { 0 };
	size_t i;

	reset_fake(1);
	tree_init(&t);
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		struct kid_entry *e;
		bool is_new;

		fake.obj[i] = objs[i];
		/* Gens 0 and 1: some objects collide, some do not. */
		e = must_lookup(&t, i, objs[i] % 4 == 1, &is_new);
		if (!e)
			note(&f, "key %zu: lookup failed", i);
		else if (e->id != want[i] || e->id == 0)
			note(&f, "key %zu (object %d): id %u, want %u", i, objs[i], e->id, want[i]);
	}
	CHECK_FAILS(f, "ids_dense_first_seen_never_zero");
	CHECK_EQ(t.stats.entries, 7, "ids_dense_entries");
	check_stats_agree(&t, "ids_dense_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

enum gen_mode {
	GEN_MOD7,
	GEN_ZERO,
	GEN_HASHED,
	GEN_UNIQUE
};

static uint64_t gen_of(enum gen_mode m, int obj)
{
	switch (m) {
	case GEN_MOD7: return obj % 7;
	case GEN_ZERO: return 0; /* what CRIU uses for task objects: kcmp does everything */
	case GEN_HASHED:
		/* Shared by unrelated objects; high bits test 64-bit compares. */
		return (mix(obj) % 61) << 40 | 0xabc;
	case GEN_UNIQUE: return (uint64_t)addr_of(obj) << 32 | (uint32_t)obj;
	}
	return 0;
}

struct model_run {
	const char *name;
	int nkeys, nobjs;
	enum gen_mode mode;
	int unordered_pair_mod, unordered_obj_mod;
	uint64_t seed;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int distinct_gens(const struct model_run *m, const uint32_t *id_of)
{
	static uint64_t gens[MAX_OBJS];
	int i, n = 0, d = 0;

	for (i = 0; i < m->nobjs; i++)
		if (id_of[i])
			gens[n++] = gen_of(m->mode, i);
	qsort(gens, n, sizeof(gens[0]), cmp_u64);
	for (i = 0; i < n; i++)
		d += i == 0 || gens[i] != gens[i - 1];
	return d;
}

/* One key against the model: same id iff same object, new ids dense. */
static void model_step(struct kid_tree *t, const struct model_run *m, int h, uint32_t *id_of,
		       int *distinct, struct fails *f)
{
	int o = fake.obj[h], r;
	uint64_t gen = gen_of(m->mode, o);
	struct kid_entry *e = NULL;
	bool is_new;

	r = lookup(t, h, gen, &e, &is_new);
	if (r) {
		note(f, "holder %d: returned %d", h, r);
		return;
	}
	if (!id_of[o]) {
		if (!is_new || e->id != (uint32_t)*distinct + 1)
			note(f, "holder %d: new object %d got id %u new %d, want %d", h, o, e->id,
			     is_new, *distinct + 1);
		id_of[o] = e->id;
		++*distinct;
	} else if (is_new || e->id != id_of[o]) {
		note(f, "holder %d: object %d got id %u new %d, want %u", h, o, e->id, is_new,
		     id_of[o]);
	}
	if (fake.obj[holder_of(&e->key)] != o || e->key.gen != gen)
		note(f, "holder %d: entry names object %d", h, fake.obj[holder_of(&e->key)]);
}

static void run_model(const struct model_run *m)
{
	static uint32_t id_of[MAX_OBJS];
	struct fails f = { 0 }, again = { 0 };
	int h, distinct = 0, ngens;
	uint64_t calls_before;
	struct kid_tree t;
	char name[128];

	reset_fake(m->seed);
	fake.unordered_pair_mod = m->unordered_pair_mod;
	fake.unordered_obj_mod = m->unordered_obj_mod;
	for (h = 0; h < m->nkeys; h++)
		fake.obj[h] = rnd_below(m->nobjs);
	memset(id_of, 0, sizeof(id_of));
	tree_init(&t);
	for (h = 0; h < m->nkeys; h++)
		model_step(&t, m, h, id_of, &distinct, &f);
	snprintf(name, sizeof(name), "%s_ids_match_objects", m->name);
	CHECK_FAILS(f, name);

	ngens = distinct_gens(m, id_of);
	snprintf(name, sizeof(name), "%s_stats", m->name);
	CHECK(t.stats.entries == (uint64_t)distinct &&
		      t.stats.collisions == (uint64_t)(distinct - ngens) && !t.stats.errors,
	      name, "entries %llu collisions %llu errors %llu; want %d objects, %d gens",
	      (unsigned long long)t.stats.entries, (unsigned long long)t.stats.collisions,
	      (unsigned long long)t.stats.errors, distinct, ngens);
	snprintf(name, sizeof(name), "%s_kcmp_calls_counted", m->name);
	check_stats_agree(&t, name);
	if (m->mode == GEN_UNIQUE) {
		/* One compare per repeat lookup, none for a first sighting. */
		snprintf(name, sizeof(name), "%s_kcmp_only_on_gen_match", m->name);
		CHECK_EQ(t.stats.kcmp_calls, (uint64_t)(m->nkeys - distinct), name);
	}

	/* Ids are stable: everything again, backwards, finds the same ids. */
	calls_before = fake.calls;
	for (h = m->nkeys - 1; h >= 0; h--)
		model_step(&t, m, h, id_of, &distinct, &again);
	snprintf(name, sizeof(name), "%s_ids_stable", m->name);
	CHECK(!again.n && t.stats.entries == (uint64_t)distinct, name,
	      "%d failures (first: %s), entries %llu", again.n, again.first,
	      (unsigned long long)t.stats.entries);
	snprintf(name, sizeof(name), "%s_relookup_kcmp_calls_counted", m->name);
	CHECK(t.stats.kcmp_calls == fake.calls && fake.calls >= calls_before, name,
	      "kcmp_calls %llu, comparator saw %llu", (unsigned long long)t.stats.kcmp_calls,
	      (unsigned long long)fake.calls);
	kid_tree_destroy(&t);
}

static void test_model_runs(void)
{
	static const struct model_run runs[] = {
		{ "model_gen_mod7", 20000, 3000, GEN_MOD7, 0, 0, 1 },
		{ "model_gen_zero", 20000, 3000, GEN_ZERO, 0, 0, 2 },
		{ "model_gen_hashed", 20000, 3000, GEN_HASHED, 0, 0, 3 },
		{ "model_gen_unique", 20000, 3000, GEN_UNIQUE, 0, 0, 4 },
		{ "model_few_objects", 5000, 20, GEN_ZERO, 0, 0, 5 },
		/* KID_UNORDERED: equality must still be exact. */
		{ "unordered_pairs_sparse", 8000, 1500, GEN_ZERO, 50, 0, 6 },
		{ "unordered_pairs_dense", 3000, 400, GEN_ZERO, 3, 0, 7 },
		{ "unordered_objects_mod7", 20000, 3000, GEN_MOD7, 0, 10, 8 },
		{ "unordered_objects_zero", 5000, 800, GEN_ZERO, 0, 4, 9 },
		{ "unordered_all", 2000, 300, GEN_ZERO, 1, 0, 10 },
	};
	size_t i;

	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		run_model(&runs[i]);
}

/*
 * An unordered answer must not steer the walk like KID_LT or KID_GT: the
 * newcomer goes on the unordered list and the head's subtree stays empty.
 */
static void test_unordered_not_less(void)
{
	struct kid_entry *a, *b, *a2, *b2, *c;
	struct kid_tree t;
	bool is_new;

	reset_fake(1);
	fake.unordered_pair_mod = 1; /* every pair of different objects */
	fake.obj[0] = 10;
	fake.obj[1] = 11;
	fake.obj[2] = 10;
	fake.obj[3] = 11;
	fake.obj[4] = 12;
	tree_init(&t);
	a = must_lookup(&t, 0, 0, NULL);
	b = must_lookup(&t, 1, 0, &is_new);
	CHECK(a && b && is_new && b->id == 2, "unordered_insert_new", "second object not new");
	if (!a || !b)
		return;
	CHECK(b->place == KID_LIST && a->place == KID_HEAD && a->list == b && !a->sub.node,
	      "unordered_not_linked_as_less_or_greater", "b's place %d, a's %d, a has a subtree %d",
	      b->place, a->place, a->sub.node != NULL);
	a2 = must_lookup(&t, 2, 0, &is_new);
	CHECK(a2 == a && !is_new, "unordered_equal_found_in_subtree", "got %u", a2 ? a2->id : 0);
	b2 = must_lookup(&t, 3, 0, &is_new);
	CHECK(b2 == b && !is_new, "unordered_equal_found_in_list", "got %u", b2 ? b2->id : 0);
	c = must_lookup(&t, 4, 0, &is_new);
	CHECK(c && is_new && c->id == 3 && t.stats.entries == 3, "unordered_third_object_new",
	      "got %u new %d", c ? c->id : 0, is_new);
	check_stats_agree(&t, "unordered_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

/*
 * A small tree for the error cases: objects 0-3 under gen 5, object 4
 * under gen 9, inserted through holders 0-4.  Holder h names object h % 10,
 * so holders 10-14 and 20-24 reach the same objects.  @unordered_obj is
 * passed to the fake (10: object 0 is unorderable).
 */
struct small {
	struct kid_tree t;
	struct kid_entry *e[5];
	uint32_t next_id;
};

static uint64_t small_gen(int h)
{
	return h % 10 == 4 ? 9 : 5;
}

static void small_build(struct small *s, int unordered_obj)
{
	int h;

	reset_fake(1);
	for (h = 0; h < 100; h++)
		fake.obj[h] = h % 10;
	fake.unordered_obj_mod = unordered_obj;
	tree_init(&s->t);
	for (h = 0; h < 5; h++)
		s->e[h] = must_lookup(&s->t, h, small_gen(h), NULL);
	s->next_id = s->t.next_id;
}

static bool small_is_entry(const struct small *s, const struct kid_entry *e)
{
	int i;

	for (i = 0; i < 5; i++)
		if (e && e == s->e[i])
			return true;
	return false;
}

/* Everything inserted still resolves, through holder @h + 10, to its id. */
static bool small_unchanged(struct small *s, int skip)
{
	int h;

	if (s->t.stats.entries != 5 || s->t.next_id != s->next_id)
		return false;
	for (h = 0; h < 5; h++) {
		struct kid_entry *e;
		bool is_new;

		if (h == skip)
			continue;
		e = must_lookup(&s->t, h + 10, small_gen(h), &is_new);
		if (e != s->e[h] || is_new)
			return false;
	}
	return true;
}

/*
 * A failed lookup: the errno comes back, is_new stays false, t->failed is
 * the entry the comparator was last handed, and the failure is counted.
 */
static void check_failed_lookup(struct small *s, int h, int want, const char *name)
{
	uint64_t errors = s->t.stats.errors;
	struct kid_entry *e = NULL;
	bool is_new = true;
	int r = lookup(&s->t, h, small_gen(h), &e, &is_new);
	struct kid_entry *f = s->t.failed;

	CHECK(r == want && !is_new && small_is_entry(s, f) && f->key.pid == fake.last_b.pid &&
		      f->key.idx == fake.last_b.idx && s->t.stats.errors == errors + 1,
	      name, "r %d want %d, is_new %d, failed id %u (holder %d, last compared %d)", r, want,
	      is_new, ID(f), f ? holder_of(&f->key) : -1, holder_of(&fake.last_b));
}

/* The caller's own holder is dead: fail, leave the tree alone, then recover. */
static void test_error_caller_dead(int err, const char *tag)
{
	struct small s;
	struct kid_entry *e;
	bool is_new;
	char name[96];

	small_build(&s, 0);
	fake.err[25] = err; /* holder 25: object 5, a new one under gen 5 */
	snprintf(name, sizeof(name), "error_%s_caller_returned", tag);
	check_failed_lookup(&s, 25, -err, name);
	snprintf(name, sizeof(name), "error_%s_caller_tree_unchanged", tag);
	CHECK(small_unchanged(&s, -1), name, "entries or ids changed after a failure");

	fake.err[25] = 0;
	e = must_lookup(&s.t, 25, small_gen(25), &is_new);
	snprintf(name, sizeof(name), "error_%s_caller_retry_inserts", tag);
	CHECK(e && is_new && e->id == s.next_id && !s.t.failed, name,
	      "id %u new %d, want id %u: a failure must not burn an id", e ? e->id : 0, is_new,
	      s.next_id);
	snprintf(name, sizeof(name), "error_%s_caller_kcmp_calls_counted", tag);
	check_stats_agree(&s.t, name);
	kid_tree_destroy(&s.t);
}

/*
 * An entry's holder is dead: a lookup of its object through another holder
 * must reach it, so it fails naming it; kid_rekey() to a live holder fixes it.
 */
static void test_error_entry_dead(int err, const char *tag)
{
	struct small s;
	struct kid_entry *e;
	bool is_new;
	char name[96];

	small_build(&s, 0);
	fake.err[1] = err;
	snprintf(name, sizeof(name), "error_%s_entry_returned", tag);
	check_failed_lookup(&s, 11, -err, name);
	snprintf(name, sizeof(name), "error_%s_entry_failed_is_dead_one", tag);
	CHECK(s.t.failed == s.e[1], name, "failed id %u, want id %u", ID(s.t.failed), ID(s.e[1]));
	snprintf(name, sizeof(name), "error_%s_entry_other_gen_unaffected", tag);
	e = must_lookup(&s.t, 14, 9, &is_new);
	CHECK(e == s.e[4] && !is_new, name, "gen 9 lookup got id %u", ID(e));

	kid_rekey(s.e[1], PID_BASE, 21); /* holder 21: object 1 too */
	snprintf(name, sizeof(name), "error_%s_entry_rekeyed_found", tag);
	e = must_lookup(&s.t, 11, 5, &is_new);
	CHECK(e == s.e[1] && !is_new && e->id == 2 && !s.t.failed, name,
	      "after rekey got id %u new %d", ID(e), is_new);
	snprintf(name, sizeof(name), "error_%s_entry_tree_unchanged", tag);
	CHECK(small_unchanged(&s, 1), name, "entries or ids changed after a failure");
	snprintf(name, sizeof(name), "error_%s_entry_kcmp_calls_counted", tag);
	check_stats_agree(&s.t, name);
	kid_tree_destroy(&s.t);
}

/* A comparator answer outside 0..3 is -EINVAL, not an order. */
static void test_error_out_of_range(int ret)
{
	struct small s;
	char name[64];

	small_build(&s, 0);
	fake.force_ret = ret;
	snprintf(name, sizeof(name), "error_out_of_range_%d_einval", ret);
	check_failed_lookup(&s, 25, -EINVAL, name);
	fake.force_ret = 0;
	snprintf(name, sizeof(name), "error_out_of_range_%d_tree_unchanged", ret);
	CHECK(small_unchanged(&s, -1), name, "entries or ids changed after a failure");
	kid_tree_destroy(&s.t);
}

/*
 * A failure in the scan of the unordered list: object 0 is unorderable and
 * heads gen 5, so objects 1-3 sit on the list behind it.
 */
static void test_error_in_list_scan(void)
{
	struct small s;

	small_build(&s, 10);
	CHECK(s.e[1]->place == KID_LIST && s.e[2]->place == KID_LIST && s.e[0]->place == KID_HEAD,
	      "error_scan_setup_unordered", "objects 1, 2 not on the unordered list");
	fake.err[2] = EBADF;
	check_failed_lookup(&s, 25, -EBADF, "error_in_unordered_list_scan");
	CHECK(s.t.failed == s.e[2], "error_in_unordered_list_scan_failed_entry",
	      "failed id %u want id %u", ID(s.t.failed), ID(s.e[2]));
	fake.err[2] = 0;
	CHECK(small_unchanged(&s, -1), "error_in_unordered_list_scan_tree_unchanged",
	      "entries or ids changed after a failure");
	kid_tree_destroy(&s.t);
}

/*
 * A failure in the whole-subtree scan that follows an unordered answer:
 * two ordered entries, then an unorderable newcomer.
 */
static void test_error_in_subtree_scan(void)
{
	struct kid_entry *e1, *e2, *x = NULL;
	struct kid_tree t;
	bool is_new;
	int r;

	reset_fake(1);
	fake.unordered_obj_mod = 10;
	fake.obj[0] = 1;
	fake.obj[1] = fake.obj[3] = 2;
	fake.obj[2] = 10;
	tree_init(&t);
	e1 = must_lookup(&t, 0, 0, NULL);
	e2 = must_lookup(&t, 1, 0, NULL);
	fake.err[1] = EPERM;
	r = lookup(&t, 2, 0, &x, &is_new);
	CHECK(r == -EPERM && t.failed == e2 && t.stats.entries == 2, "error_in_subtree_scan",
	      "r %d failed id %u want id %u entries %llu", r, ID(t.failed), ID(e2),
	      (unsigned long long)t.stats.entries);
	fake.err[1] = 0;
	x = must_lookup(&t, 3, 0, &is_new);
	CHECK(x == e2 && !is_new && e1 && e1->id == 1, "error_in_subtree_scan_recovers",
	      "got id %u", ID(x));
	check_stats_agree(&t, "error_in_scans_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

/* Without a gen collision there is no kcmp, so no holder can fail it. */
static void test_no_kcmp_without_collision(void)
{
	struct small s;
	struct kid_entry *e;
	bool is_new;

	small_build(&s, 0);
	fake.err[7] = ESRCH;
	e = must_lookup(&s.t, 7, 77, &is_new);
	CHECK(e && is_new && fake.calls == s.t.stats.kcmp_calls, "no_kcmp_for_new_gen",
	      "lookup under an unseen gen called the comparator or failed");
	kid_tree_destroy(&s.t);
}

static void test_errors(void)
{
	static const struct {
		int err;
		const char *tag;
	} errs[] = { { ESRCH, "esrch" }, { EBADF, "ebadf" }, { EPERM, "eperm" } };
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		test_error_caller_dead(errs[i].err, errs[i].tag);
		test_error_entry_dead(errs[i].err, errs[i].tag);
	}
	test_error_out_of_range(7);
	test_error_out_of_range(4);
	test_error_in_list_scan();
	test_error_in_subtree_scan();
	test_no_kcmp_without_collision();
}

/* The only entry of a gen: the gen goes too, so reinsertion needs no kcmp. */
static void test_remove_only_entry(void)
{
	struct kid_entry *e;
	struct kid_tree t;
	uint64_t calls;
	bool is_new;

	reset_fake(1);
	fake.obj[0] = fake.obj[10] = 0;
	fake.obj[1] = 1;
	tree_init(&t);
	e = must_lookup(&t, 0, 1, NULL);
	must_lookup(&t, 1, 2, NULL);
	kid_remove(&t, e);
	calls = fake.calls;
	e = must_lookup(&t, 10, 1, &is_new);
	CHECK(e && is_new && e->id == 3 && t.stats.entries == 2 && fake.calls == calls,
	      "remove_only_entry_of_gen", "reinsert got id %u new %d, %llu kcmp calls",
	      e ? e->id : 0, is_new, (unsigned long long)(fake.calls - calls));
	check_stats_agree(&t, "remove_only_entry_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

/* Entries on the unordered list, and the subtree emptied under it. */
static void test_remove_unordered(void)
{
	struct kid_entry *a, *b, *c, *d, *e;
	struct kid_tree t;
	bool is_new;
	uint64_t calls;
	int h;

	reset_fake(1);
	fake.unordered_pair_mod = 1;
	for (h = 0; h < 40; h++)
		fake.obj[h] = h % 10; /* holders h and h + 10 name one object */
	tree_init(&t);
	a = must_lookup(&t, 0, 0, NULL); /* the subtree */
	b = must_lookup(&t, 1, 0, NULL); /* the list: c, b */
	c = must_lookup(&t, 2, 0, NULL);
	kid_remove(&t, b);
	e = must_lookup(&t, 12, 0, &is_new);
	CHECK(e == c && !is_new, "remove_unordered_tail_keeps_rest", "c not found");
	e = must_lookup(&t, 10, 0, &is_new);
	CHECK(e == a && !is_new, "remove_unordered_keeps_subtree", "a not found");
	b = must_lookup(&t, 11, 0, &is_new);
	CHECK(b && is_new && b->id == 4, "remove_unordered_reinsert_new_id", "got id %u",
	      b ? b->id : 0);

	kid_remove(&t, a); /* the subtree is now empty, the list not */
	e = must_lookup(&t, 22, 0, &is_new);
	CHECK(e == c && !is_new, "remove_subtree_root_keeps_list", "c not found");
	d = must_lookup(&t, 3, 0, &is_new);
	CHECK(d && is_new && d->id == 5 && t.stats.entries == 3, "remove_subtree_root_then_insert",
	      "got id %u new %d", d ? d->id : 0, is_new);
	e = must_lookup(&t, 21, 0, &is_new);
	CHECK(e == b && !is_new, "remove_subtree_root_list_still_found", "b not found");

	kid_remove(&t, b);
	kid_remove(&t, c);
	kid_remove(&t, d);
	calls = fake.calls;
	e = must_lookup(&t, 30, 0, &is_new);
	CHECK(e && is_new && e->id == 6 && fake.calls == calls && t.stats.entries == 1,
	      "remove_all_drops_gen", "id %u, %llu kcmp calls", e ? e->id : 0,
	      (unsigned long long)(fake.calls - calls));
	check_stats_agree(&t, "remove_unordered_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

/*
 * Random lookups and removals against a model: live objects keep their ids,
 * removed ones come back with fresh ids, never a reused one.
 */
static void churn_step(struct kid_tree *t, uint32_t *id_of, struct kid_entry **entry_of,
		       uint32_t *max_id, int *live, struct fails *f)
{
	int h = rnd_below(MAX_HOLDERS / 8), o = fake.obj[h];
	struct kid_entry *e = NULL;
	bool is_new;
	int r = lookup(t, h, o % 5, &e, &is_new);

	if (r) {
		note(f, "holder %d: returned %d", h, r);
		return;
	}
	if (!id_of[o]) {
		if (!is_new || e->id != *max_id + 1)
			note(f, "object %d: id %u new %d, want new id %u", o, e->id, is_new,
			     *max_id + 1);
		id_of[o] = *max_id = e->id;
		entry_of[o] = e;
		++*live;
	} else if (is_new || e != entry_of[o] || e->id != id_of[o]) {
		note(f, "object %d: id %u new %d, want %u", o, e->id, is_new, id_of[o]);
	}
	if (rnd_below(4) == 0) {
		kid_remove(t, e);
		id_of[o] = 0;
		--*live;
	}
}

static void test_remove_churn(int unordered_obj_mod, const char *name)
{
	static uint32_t id_of[MAX_OBJS];
	static struct kid_entry *entry_of[MAX_OBJS];
	struct fails f = { 0 };
	uint32_t max_id = 0;
	char name_calls[96];
	struct kid_tree t;
	int i, live = 0;

	reset_fake(11);
	fake.unordered_obj_mod = unordered_obj_mod;
	for (i = 0; i < MAX_HOLDERS / 8; i++)
		fake.obj[i] = rnd_below(600);
	memset(id_of, 0, sizeof(id_of));
	tree_init(&t);
	for (i = 0; i < 30000 && f.n == 0; i++) {
		churn_step(&t, id_of, entry_of, &max_id, &live, &f);
		if (t.stats.entries != (uint64_t)live)
			note(&f, "step %d: entries %llu, model %d", i,
			     (unsigned long long)t.stats.entries, live);
	}
	CHECK_FAILS(f, name);
	snprintf(name_calls, sizeof(name_calls), "%s_kcmp_calls_counted", name);
	check_stats_agree(&t, name_calls);
	kid_tree_destroy(&t);
}

/* A middle entry of a big subtree, and its root, removed in turn. */
static void test_remove_from_subtree(void)
{
	struct kid_entry *e[50];
	struct fails f = { 0 };
	struct kid_tree t;
	bool is_new;
	int i;

	reset_fake(1);
	for (i = 0; i < 100; i++)
		fake.obj[i] = i % 50;
	tree_init(&t);
	for (i = 0; i < 50; i++)
		e[i] = must_lookup(&t, i, 0, NULL);
	int heads = 0;

	for (i = 0; i < 50; i += 3) /* entry 0 was the first: the gen's head */
		kid_remove(&t, e[i]);
	for (i = 1; i < 50; i++)
		heads += i % 3 && e[i]->place == KID_HEAD;
	CHECK(heads == 1, "remove_head_hands_gen_on", "%d heads among the remaining entries",
	      heads);
	for (i = 0; i < 50; i++) {
		struct kid_entry *x = must_lookup(&t, i + 50, 0, &is_new);

		if (i % 3 && (x != e[i] || is_new))
			note(&f, "object %d: lost after removals", i);
		if (i % 3 == 0 && (!x || !is_new || x->id != 51 + (uint32_t)i / 3))
			note(&f, "object %d: reinsert got id %u new %d", i, x ? x->id : 0, is_new);
	}
	CHECK_FAILS(f, "remove_from_subtree");
	CHECK_EQ(t.stats.entries, 50, "remove_from_subtree_entries");
	kid_tree_destroy(&t);
}

/* A rekeyed entry is found through either holder, and the old one may die. */
static void test_rekey(void)
{
	struct kid_entry *e, *x;
	struct kid_tree t;
	bool is_new;
	int h;

	reset_fake(1);
	for (h = 0; h < 40; h++)
		fake.obj[h] = h % 20;
	tree_init(&t);
	for (h = 0; h < 20; h++)
		must_lookup(&t, h, 0, NULL);
	e = must_lookup(&t, 7, 0, NULL);
	kid_rekey(e, PID_BASE, 27);
	CHECK(e->key.pid == PID_BASE && e->key.idx == 27 && e->key.gen == 0 && e->id == 8,
	      "rekey_changes_holder_only", "key (%d, %d) gen %llu id %u", e->key.pid, e->key.idx,
	      (unsigned long long)e->key.gen, e->id);
	x = must_lookup(&t, 7, 0, &is_new);
	CHECK(x == e && !is_new, "rekey_found_through_old_holder", "got id %u", ID(x));
	x = must_lookup(&t, 27, 0, &is_new);
	CHECK(x == e && !is_new, "rekey_found_through_new_holder", "got id %u", ID(x));

	fake.err[7] = ESRCH; /* the old holder goes away: nothing compares with it */
	for (h = 20; h < 40; h++) {
		x = must_lookup(&t, h, 0, &is_new);
		if (!x || is_new || x->id != (uint32_t)h - 19)
			break;
	}
	CHECK(h == 40 && !t.stats.errors, "rekey_old_holder_may_die",
	      "holder %d failed after the old holder died", h);
	check_stats_agree(&t, "rekey_kcmp_calls_counted");
	kid_tree_destroy(&t);
}

/* A destroyed tree can be set up again and owns nothing from before. */
static void test_destroy_reinit(void)
{
	struct kid_tree t;
	struct kid_entry *e;
	bool is_new;
	int i;

	reset_fake(1);
	for (i = 0; i < 10000; i++)
		fake.obj[i] = i;
	tree_init(&t);
	for (i = 0; i < 10000; i++) /* more than one pool chunk */
		must_lookup(&t, i, i % 3, NULL);
	kid_tree_destroy(&t);
	tree_init(&t);
	e = must_lookup(&t, 5, 2, &is_new);
	CHECK(e && is_new && e->id == 1 && t.stats.entries == 1, "destroy_then_reinit", "got id %u",
	      e ? e->id : 0);
	kid_tree_destroy(&t);
}

/* kid_kcmp() on fds of this process and of a child. */
static bool test_kcmp_pairs(int a, int b, int c)
{
	pid_t me = getpid();
	struct kid_key ka = { 0, me, a }, kb = { 0, me, b }, kc = { 0, me, c };
	struct kid_key kgone = { 0, INT_MAX, a }, kclosed = { 0, me, dup(a) };
	int r = kid_kcmp(KCMP_FILE, &ka, &kc, NULL), ab, ba;

	if (!CHECK_CAPABLE(r != -ENOSYS && r != -EPERM && r != -EACCES, "kcmp_available",
			   "kcmp(2) (CONFIG_CHECKPOINT_RESTORE, seccomp)"))
		return false;
	close(kclosed.idx);
	CHECK(r == KID_EQ, "kcmp_dup_equal", "kcmp of a dup returned %d", r);
	CHECK_EQ(kid_kcmp(KCMP_FILE, &ka, &ka, NULL), KID_EQ, "kcmp_self_equal");
	ab = kid_kcmp(KCMP_FILE, &ka, &kb, NULL);
	ba = kid_kcmp(KCMP_FILE, &kb, &ka, NULL);
	CHECK((ab == KID_LT && ba == KID_GT) || (ab == KID_GT && ba == KID_LT),
	      "kcmp_separate_opens_ordered", "kcmp(a, b) %d, kcmp(b, a) %d", ab, ba);
	CHECK_EQ(kid_kcmp(KCMP_FILE, &ka, &kclosed, NULL), -EBADF, "kcmp_closed_fd_ebadf");
	CHECK_EQ(kid_kcmp(KCMP_FILE, &kclosed, &ka, NULL), -EBADF, "kcmp_closed_fd_first_ebadf");
	CHECK_EQ(kid_kcmp(KCMP_FILE, &kgone, &ka, NULL), -ESRCH, "kcmp_no_such_pid_esrch");
	CHECK(kid_holder_alive(KCMP_FILE, &ka), "holder_alive_open_fd", "open fd reported dead");
	CHECK(!kid_holder_alive(KCMP_FILE, &kclosed), "holder_dead_closed_fd",
	      "closed fd reported alive");
	CHECK(!kid_holder_alive(KCMP_FILE, &kgone), "holder_dead_no_such_pid",
	      "missing pid reported alive");
	return true;
}

/* A child shares our open file; once reaped, its pid is -ESRCH. */
static void test_kcmp_child(int a)
{
	struct kid_key ka = { 0, getpid(), a }, kchild = { 0, 0, a };
	int p[2], r;
	char ch;

	if (pipe(p))
		return;
	kchild.pid = fork();
	if (kchild.pid == 0) {
		close(p[1]);
		_exit(read(p[0], &ch, 1) < 0);
	}
	close(p[0]);
	r = kid_kcmp(KCMP_FILE, &ka, &kchild, NULL);
	CHECK(r == KID_EQ && kid_holder_alive(KCMP_FILE, &kchild), "kcmp_child_shares_file",
	      "kcmp with the child's inherited fd returned %d", r);
	close(p[1]);
	waitpid(kchild.pid, NULL, 0);
	r = kid_kcmp(KCMP_FILE, &ka, &kchild, NULL);
	CHECK(r == -ESRCH && !kid_holder_alive(KCMP_FILE, &kchild), "kcmp_reaped_child_esrch",
	      "kcmp with a reaped child returned %d", r);
}

#define NFDS 200
#define NOPENS 40

static int open_object(int i)
{
	switch (i % 3) {
	case 0: return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case 1: return open("/dev/zero", O_RDONLY | O_CLOEXEC);
	}
	return memfd_create("kid_tree_test", MFD_CLOEXEC);
}

/* Pairwise kcmp truth: equal exactly for dups of one open, else ordered. */
static void check_kcmp_truth(const int *fds, const int *base)
{
	struct fails f = { 0 };
	pid_t me = getpid();
	int i, j;

	for (i = 0; i < NFDS; i++) {
		for (j = 0; j < NFDS; j++) {
			struct kid_key a = { 0, me, fds[i] }, b = { 0, me, fds[j] };
			int r = kid_kcmp(KCMP_FILE, &a, &b, NULL);
			int want = base[i] == base[j] ? KID_EQ : -1;

			if (want == KID_EQ ? r != KID_EQ : r != KID_LT && r != KID_GT)
				note(&f, "fds %d, %d: kcmp %d", fds[i], fds[j], r);
		}
	}
	CHECK_FAILS(f, "kcmp_truth_pairwise");
}

/*
 * The workflow kid_tree.h describes: an entry's fd is closed while a dup
 * keeps the file open; a lookup through the dup fails naming the entry,
 * kid_holder_alive() says why, and kid_rekey() to the dup recovers it.
 */
static void check_real_rekey(struct kid_tree *t, int *fds, const int *base,
			     struct kid_entry **entry_of)
{
	struct kid_entry *e = NULL, *x = NULL;
	struct kid_key k = { 0, getpid(), -1 };
	bool is_new = true;
	int i, r;

	for (i = 0; i < NFDS && !e; i++)
		if (fds[i] != entry_of[base[i]]->key.idx)
			e = entry_of[base[i]], k.idx = fds[i];
	if (!CHECK(e, "kcmp_rekey_setup", "no open has two fds"))
		return;
	for (i = 0; i < NFDS; i++)
		if (fds[i] == e->key.idx)
			fds[i] = -1;
	close(e->key.idx);
	r = kid_lookup_or_insert(t, &k, &x, &is_new);
	CHECK(r == -EBADF && t->failed == e && !is_new, "kcmp_closed_entry_fd_fails",
	      "r %d, failed id %u want id %u", r, ID(t->failed), ID(e));
	CHECK(t->failed && !kid_holder_alive(KCMP_FILE, &t->failed->key),
	      "kcmp_closed_entry_holder_dead", "kid_holder_alive says the closed fd lives");
	kid_rekey(e, getpid(), k.idx);
	r = kid_lookup_or_insert(t, &k, &x, &is_new);
	CHECK(r == 0 && x == e && !is_new && t->stats.entries == NOPENS, "kcmp_rekeyed_entry_found",
	      "r %d, got id %u want id %u, new %d", r, ID(x), ID(e), is_new);
}

/* Real kid_tree over 200 fds, dups of 40 opens, all under gen 0. */
static void check_real_tree(int *fds, const int *base)
{
	uint32_t id_of[NOPENS] = { 0 };
	struct kid_entry *entry_of[NOPENS] = { NULL };
	int order[NFDS], i, n = 0;
	struct fails f = { 0 };
	struct kid_tree t;

	for (i = 0; i < NFDS; i++)
		order[i] = i;
	for (i = NFDS - 1; i > 0; i--) {
		int j = rnd_below(i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	kid_tree_init(&t, KCMP_FILE, kid_kcmp, NULL);
	for (i = 0; i < NFDS; i++) {
		struct kid_key k = { 0, getpid(), fds[order[i]] };
		int b = base[order[i]], r;
		struct kid_entry *e;
		bool is_new;

		r = kid_lookup_or_insert(&t, &k, &e, &is_new);
		if (r)
			note(&f, "fd %d: returned %d", k.idx, r);
		else if (is_new != !id_of[b] || (id_of[b] && e->id != id_of[b]) ||
			 (!id_of[b] && e->id != (uint32_t)++n))
			note(&f, "fd %d (open %d): id %u new %d", k.idx, b, e->id, is_new);
		else if (is_new)
			id_of[b] = e->id, entry_of[b] = e;
	}
	CHECK_FAILS(f, "kcmp_tree_ids_match_kernel");
	CHECK(t.stats.entries == NOPENS && t.stats.collisions == NOPENS - 1 && !t.stats.errors,
	      "kcmp_tree_stats", "entries %llu collisions %llu errors %llu",
	      (unsigned long long)t.stats.entries, (unsigned long long)t.stats.collisions,
	      (unsigned long long)t.stats.errors);
	if (!f.n)
		check_real_rekey(&t, fds, base, entry_of);
	kid_tree_destroy(&t);
}

static void test_kcmp_real(void)
{
	int a = open_object(0), b = open_object(0), c = dup(a);
	int fds[NFDS], base[NFDS], i;

	if (!CHECK(a >= 0 && b >= 0 && c >= 0, "kcmp_open_files", "open: %s", strerror(errno)))
		return;
	if (!test_kcmp_pairs(a, b, c))
		goto out;
	test_kcmp_child(a);
	rng_state = 99;
	for (i = 0; i < NFDS; i++) {
		base[i] = i < NOPENS ? i : base[rnd_below(i)];
		fds[i] = i < NOPENS ? open_object(i) : dup(fds[base[i]]);
		if (fds[i] < 0)
			break;
	}
	if (!CHECK(i == NFDS, "kcmp_open_200_fds", "fd %d: %s", i, strerror(errno)))
		goto close;
	check_kcmp_truth(fds, base);
	check_real_tree(fds, base);
close:
	while (i--)
		if (fds[i] >= 0)
			close(fds[i]);
out:
	close(a);
	close(b);
	close(c);
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - kid_tree_timeout: a tree operation did not return\n";

	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	/* The CRIU bug was an infinite loop: fail instead of hanging. */
	signal(SIGALRM, on_alarm);
	alarm(30);

	test_first_subtree_insertion();
	test_dense_ids();
	test_model_runs();
	test_unordered_not_less();
	test_errors();
	test_remove_only_entry();
	test_remove_unordered();
	test_remove_from_subtree();
	test_remove_churn(0, "remove_churn_ordered");
	test_remove_churn(10, "remove_churn_unordered");
	test_rekey();
	test_destroy_reinit();
	test_kcmp_real();
	return check_exit();
}
