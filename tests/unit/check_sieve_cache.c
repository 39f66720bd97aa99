/* Unit tests for sieve/cache.c and its use at delivery (sieve/deliver.c):
 * a script compiled once and run from the cache, a changed or deactivated
 * script taking effect at the next delivery, the bounds, and threads
 * replacing and dropping entries that others are running. */
#include <pthread.h>
#include <string.h>

#include "sieve/cache.h"
#include "sieve/deliver.h"
#include "store/sieve_store.h"
#include "tests/unit/store_test.h"

static const char MSG[] = "From: alice@example.com\r\nTo: a@example.org\r\n"
			  "Subject: hello\r\n\r\nbody\r\n";

/* Where one delivery of MSG to a@example.org goes: the folder of its one
 * copy ("" for the INBOX), or NULL when the user has no script. */
static char *
plan_folder(struct store *st, int64_t user_id)
{
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	ck_assert_int_eq(blob_put(st, MSG, strlen(MSG), hash, &error), STORE_OK);
	struct store_copy base;
	memset(&base, 0, sizeof base);
	base.user_id = user_id;
	base.blob = hash;
	base.size = strlen(MSG);
	struct sieve_deliver_input in = {
		.user_id = user_id,
		.user = "a@example.org",
		.sender = "alice@example.com",
		.blob = hash,
		.size = strlen(MSG),
		.base = &base,
	};
	struct sieve_delivery d;
	int ret = sieve_deliver_plan(st, &in, &d);
	ck_assert_int_ge(ret, 0);
	if (ret == 0)
		return NULL;
	ck_assert_uint_eq(d.n_copies, 1);
	char *folder = xstrdup(d.copies[0].mailbox != NULL ? d.copies[0].mailbox : "");
	sieve_delivery_clear(&d);
	return folder;
}

static void
put_script(struct store *st, int64_t user_id, const char *text)
{
	const char *error = NULL;
	ck_assert_int_eq(store_sieve_put(st, user_id, "rules", text, strlen(text), &error),
			 STORE_OK);
}

static void
ck_folder(struct store *st, int64_t user_id, const char *want)
{
	char *got = plan_folder(st, user_id);
	if (want == NULL) {
		ck_assert_ptr_null(got);
		return;
	}
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_changed_script)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct store_user u;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	struct sieve_cache_stats s0, s;
	sieve_cache_clear();
	sieve_cache_stats(&s0);

	put_script(st, u.id, "require \"fileinto\"; fileinto \"One\";");
	ck_assert_int_eq(store_sieve_activate(st, u.id, "rules", &error), STORE_OK);
	ck_folder(st, u.id, "One");
	ck_folder(st, u.id, "One");
	ck_folder(st, u.id, "One");
	/* compiled once, then run from the cache */
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.misses - s0.misses, 1);
	ck_assert_uint_eq(s.hits - s0.hits, 2);
	ck_assert_uint_eq(s.entries, 1);

	/* changed behind the daemon's back (the CLI is another process: no
	 * one tells the cache): the next delivery runs the new text */
	put_script(st, u.id, "require \"fileinto\"; fileinto \"Two\";");
	ck_folder(st, u.id, "Two");
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.misses - s0.misses, 2);
	ck_assert_uint_eq(s.entries, 1);	/* the old form went */
	ck_folder(st, u.id, "Two");

	/* a script that does not compile (stored past the checks): the
	 * message stays in the INBOX and a note tells the user; nothing kept */
	test_sql(dir, "UPDATE sieve_scripts SET script = 'fileinto \"X\";'");
	char hash[SHA256_HEX_LEN + 1];
	ck_assert_int_eq(blob_put(st, MSG, strlen(MSG), hash, &error), STORE_OK);
	struct store_copy base = { .user_id = u.id, .blob = hash, .size = strlen(MSG) };
	struct sieve_deliver_input in = { .user_id = u.id, .user = "a@example.org",
					  .sender = "", .blob = hash, .size = strlen(MSG),
					  .base = &base };
	struct sieve_delivery d;
	ck_assert_int_eq(sieve_deliver_plan(st, &in, &d), 1);
	ck_assert_uint_eq(d.n_copies, 2);
	ck_assert_ptr_null(d.copies[0].mailbox);
	ck_assert_str_eq(d.copies[1].mailbox, "INBOX");
	sieve_delivery_clear(&d);
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 0);

	/* deactivated: no script runs at once */
	put_script(st, u.id, "require \"fileinto\"; fileinto \"Three\";");
	ck_folder(st, u.id, "Three");
	ck_assert_int_eq(store_sieve_activate(st, u.id, NULL, &error), STORE_OK);
	ck_folder(st, u.id, NULL);
	/* the daemon's writers drop the user's entries */
	sieve_cache_forget_user(u.id);
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 0);

	/* another user's script of the same text is another entry */
	struct store_user b;
	ck_assert_int_eq(store_user_get(st, "b@example.org", &b, &error), STORE_OK);
	ck_assert_int_eq(store_sieve_activate(st, u.id, "rules", &error), STORE_OK);
	put_script(st, b.id, "require \"fileinto\"; fileinto \"Three\";");
	ck_assert_int_eq(store_sieve_activate(st, b.id, "rules", &error), STORE_OK);
	ck_folder(st, u.id, "Three");
	ck_folder(st, b.id, "Three");
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 2);
	sieve_cache_forget_user(b.id);
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 1);

	store_user_clear(&b);
	store_user_clear(&u);
	store_close(&st);
	sieve_cache_clear();
	free(dir);
}
END_TEST

/* (id, version) names one text: every change of the text, by the store
 * or by plain SQL, and every new script (even one that gets the id of a
 * deleted one) has a version never seen before; renaming, activating and
 * deactivating leave it. */
START_TEST(test_versions)
{
	char *dir;
	const char *error = NULL;
	struct store *st = test_store_fixture(&dir);
	struct store_user u;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	int64_t id, v, id2, v2;
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id, &v, &error), STORE_NOTFOUND);
	put_script(st, u.id, "keep;");
	ck_assert_int_eq(store_sieve_activate(st, u.id, "rules", &error), STORE_OK);
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id, &v, &error), STORE_OK);
	ck_assert_int_gt(v, 0);
	/* what delivery reads on a miss is the same row and version */
	char *name = NULL, *text = NULL;
	ck_assert_int_eq(store_sieve_active(st, u.id, &id2, &v2, &name, &text, &error), STORE_OK);
	ck_assert_int_eq(id2, id);
	ck_assert_int_eq(v2, v);
	ck_assert_str_eq(name, "rules");
	ck_assert_str_eq(text, "keep;");
	free(name);
	free(text);

	put_script(st, u.id, "discard;");
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id2, &v2, &error), STORE_OK);
	ck_assert_int_eq(id2, id);
	ck_assert_int_gt(v2, v);
	v = v2;
	test_sql(dir, "UPDATE sieve_scripts SET script = 'keep;'");
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id2, &v2, &error), STORE_OK);
	ck_assert_int_gt(v2, v);
	v = v2;
	ck_assert_int_eq(store_sieve_rename(st, u.id, "rules", "other", &error), STORE_OK);
	ck_assert_int_eq(store_sieve_activate(st, u.id, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id2, &v2, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_sieve_activate(st, u.id, "other", &error), STORE_OK);
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id2, &v2, &error), STORE_OK);
	ck_assert_int_eq(v2, v);

	/* deleted, and a new script in its place (SQLite gives the largest
	 * id again): same id, new version */
	ck_assert_int_eq(store_sieve_activate(st, u.id, NULL, &error), STORE_OK);
	ck_assert_int_eq(store_sieve_delete(st, u.id, "other", &error), STORE_OK);
	put_script(st, u.id, "keep;");
	ck_assert_int_eq(store_sieve_activate(st, u.id, "rules", &error), STORE_OK);
	ck_assert_int_eq(store_sieve_active_version(st, u.id, &id2, &v2, &error), STORE_OK);
	ck_assert_int_gt(v2, v);

	store_user_clear(&u);
	store_close(&st);
	free(dir);
}
END_TEST

/* Takes script id with text from the cache and gives it back; whether it
 * was a hit. */
static bool
touch(int64_t id, const char *text)
{
	struct sieve_cache_stats a, b;
	struct buf errors = BUF_INIT;
	const struct sieve_script *script = NULL;
	struct sieve_cache_ref *ref = NULL;
	sieve_cache_stats(&a);
	ck_assert_int_eq(sieve_cache_get(id, 0, id, text, strlen(text), &script, &ref, &errors), 0);
	ck_assert_ptr_nonnull(script);
	sieve_cache_release(&ref);
	ck_assert_ptr_null(ref);
	sieve_cache_stats(&b);
	buf_free(&errors);
	return b.hits > a.hits;
}

START_TEST(test_bounded)
{
	const char *text = "require \"fileinto\"; fileinto \"A\";";
	struct sieve_cache_stats s;
	sieve_cache_clear();
	for (int64_t id = 1; id <= SIEVE_CACHE_ENTRIES + 40; id++)
		ck_assert(!touch(id, text));
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, SIEVE_CACHE_ENTRIES);
	/* the least recently used went first */
	ck_assert(touch(SIEVE_CACHE_ENTRIES + 40, text));
	ck_assert(touch(41, text));
	ck_assert(!touch(40, text));
	ck_assert(!touch(1, text));
	/* a use keeps an entry: 41, used lately, stays while newer ones
	 * push out those used before it */
	for (int64_t id = 1000; id < 1000 + SIEVE_CACHE_ENTRIES - 3; id++)
		touch(id, text);
	ck_assert(touch(41, text));
	ck_assert(!touch(42, text));

	/* bounded by the text too: scripts of a megabyte (a comment) */
	sieve_cache_clear();
	size_t big = SIEVE_SCRIPT_MAX - 16;
	char *t = xmalloc(big + 1);
	memset(t, 'x', big);
	memcpy(t, "# ", 2);
	memcpy(t + big - 10, "\nkeep;\n", 7);
	t[big - 3] = 0;
	size_t n = SIEVE_CACHE_TEXT_MAX / strlen(t) + 4;
	for (size_t i = 0; i < n; i++)
		touch((int64_t)(5000 + i), t);
	sieve_cache_stats(&s);
	ck_assert_uint_le(s.text_bytes, SIEVE_CACHE_TEXT_MAX);
	ck_assert_uint_eq(s.entries, SIEVE_CACHE_TEXT_MAX / strlen(t));
	free(t);
	sieve_cache_clear();
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert_uint_eq(s.text_bytes, 0);
}
END_TEST

START_TEST(test_dropped_in_use)
{
	const char *text = "require \"imap4flags\"; addflag \"x\";";
	struct buf errors = BUF_INIT;
	const struct sieve_script *s1, *s2;
	struct sieve_cache_ref *r1 = NULL, *r2 = NULL;
	sieve_cache_clear();
	ck_assert_int_eq(sieve_cache_get(7, 1, 70, text, strlen(text), &s1, &r1, &errors), 0);
	ck_assert_int_eq(sieve_cache_get(7, 1, 70, text, strlen(text), &s2, &r2, &errors), 0);
	ck_assert_ptr_eq(s1, s2);	/* one compiled form, shared */
	sieve_cache_forget_user(70);
	/* still usable by its holders (ASan: no use after free) */
	ck_assert_str_eq(sieve_script_requires(s1), "imap4flags");
	sieve_cache_release(&r1);
	ck_assert_str_eq(sieve_script_requires(s2), "imap4flags");
	sieve_cache_release(&r2);
	sieve_cache_release(&r2);	/* NULL: nothing */
	/* a script that does not compile: errors, nothing kept */
	ck_assert_int_eq(sieve_cache_get(8, 1, 70, "fileinto \"x\";", 13, &s1, &r1, &errors), -1);
	ck_assert_ptr_nonnull(strstr(buf_cstr(&errors), "line 1: error"));
	struct sieve_cache_stats s;
	sieve_cache_stats(&s);
	ck_assert_uint_eq(s.entries, 0);
	buf_free(&errors);
}
END_TEST

/* Threads take scripts 1..4 in one of two versions (requiring another
 * extension each), while one of them keeps dropping entries: each must
 * run the compiled form of the text it asked for. */
#define THREADS 6
#define ROUNDS 3000

static const char *const VERSIONS[2] = {
	"require \"fileinto\"; fileinto \"A\";",
	"require \"imap4flags\"; addflag \"B\";",
};

static void *
cache_thread(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg, seed = k * 2654435761u + 1;
	long bad = 0;
	struct buf errors = BUF_INIT;
	for (int i = 0; i < ROUNDS; i++) {
		seed = seed * 1103515245u + 12345u;
		int64_t id = 1 + (seed >> 16) % 4;
		unsigned v = (seed >> 8) & 1;
		const struct sieve_script *script;
		struct sieve_cache_ref *ref = NULL;
		if (sieve_cache_get(id, v + 1, 100, VERSIONS[v], strlen(VERSIONS[v]), &script, &ref,
				    &errors) < 0) {
			bad++;
			continue;
		}
		if (strcmp(sieve_script_requires(script), v == 0 ? "fileinto" : "imap4flags") != 0)
			bad++;
		sieve_cache_release(&ref);
		if (k == 0 && i % 7 == 0)
			sieve_cache_forget_user(100);
	}
	buf_free(&errors);
	return (void *)bad;
}

START_TEST(test_threads)
{
	pthread_t t[THREADS];
	struct sieve_cache_stats s0, s;
	sieve_cache_clear();
	sieve_cache_stats(&s0);
	for (uintptr_t k = 0; k < THREADS; k++)
		ck_assert_int_eq(pthread_create(&t[k], NULL, cache_thread, (void *)k), 0);
	long bad = 0;
	for (int k = 0; k < THREADS; k++) {
		void *r;
		pthread_join(t[k], &r);
		bad += (long)r;
	}
	ck_assert_int_eq(bad, 0);
	sieve_cache_stats(&s);
	ck_assert_uint_le(s.entries, 4);
	ck_assert_uint_eq(s.hits - s0.hits + s.misses - s0.misses, (uint64_t)THREADS * ROUNDS);
	ck_assert_uint_gt(s.hits - s0.hits, 0);
	sieve_cache_clear();
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("sieve_cache");
	TCase *tc = tcase_create("cache");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_changed_script);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_dropped_in_use);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}
